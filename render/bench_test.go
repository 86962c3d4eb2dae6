package render_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/benchgen"
	"github.com/pipec/pipec/render"
)

// BenchmarkStream renders the objects of bench/run.sh's generated
// inputs (a 200-service monorepo, 100 services in teams) as the YAML
// stream `pipec build` prints.
func BenchmarkStream(b *testing.B) {
	for _, shape := range []struct {
		name  string
		files map[string]string
	}{
		{"monorepo-200", map[string]string{"pipec.cue": benchgen.Monorepo(200)}},
		{"teams-100", benchgen.Teams(100)},
	} {
		b.Run(shape.name, func(b *testing.B) {
			dir := b.TempDir()
			for name, data := range shape.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir})
			if err != nil || res.Diagnostics.HasErrors() {
				b.Fatal(err, res.Diagnostics)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := render.Stream(io.Discard, res.Objects, render.YAML); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
