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

// BenchmarkStream renders the objects of the generated 200-service
// monorepo (bench/run.sh's input) as the YAML stream `pipec build` prints.
func BenchmarkStream(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipec.cue"), []byte(benchgen.Monorepo(200)), 0o644); err != nil {
		b.Fatal(err)
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
}
