package compiler_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
)

// EnvUpdateGolden rewrites the golden files instead of comparing with them:
// PIPEC_UPDATE_GOLDEN=1 go test ./compiler; then review the diff.
const EnvUpdateGolden = "PIPEC_UPDATE_GOLDEN"

// exampleDirs lists the bundled examples.
func exampleDirs(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir("../examples")
	if err != nil {
		tb.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join("../examples", e.Name()))
		}
	}
	if len(dirs) < 3 {
		tb.Fatalf("found %d examples, want at least 3", len(dirs))
	}
	return dirs
}

func buildYAML(tb testing.TB, dir string) []byte {
	tb.Helper()
	// As pipec build does: with the policy packs, whose waivers apply.
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir, Policies: true, Today: "2026-12-05"})
	if err != nil {
		tb.Fatalf("%s: %v", dir, err)
	}
	if len(res.Diagnostics) > 0 {
		tb.Fatalf("%s has findings:\n%v", dir, res.Diagnostics)
	}
	var buf bytes.Buffer
	if err := render.Stream(&buf, res.Objects, render.YAML); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// goldenExamples are the examples whose whole output is kept as a golden
// file, end to end: the README's example and the one that uses every
// target. What each target generates is held by its own build cases
// (targets/*/testdata/build), so a change to one target does not churn
// these.
var goldenExamples = []string{"go-service", "shop"}

// TestGolden compares the compiled output of the golden examples with
// their files in testdata/golden, and requires every other example to
// build without findings.
func TestGolden(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			got := buildYAML(t, dir)
			if !slices.Contains(goldenExamples, name) {
				return
			}
			golden := filepath.Join("testdata", "golden", name+".yaml")
			if os.Getenv(EnvUpdateGolden) != "" {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with %s=1 to create it)", err, EnvUpdateGolden)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output of %s differs from %s; if the change is intended, rerun with %s=1 and review the diff\n%s",
					dir, golden, EnvUpdateGolden, firstDiff(want, got))
			}
		})
	}
}

// TestDeterministic builds each example several times, from two working
// directories, and requires byte-identical output.
func TestDeterministic(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		first := buildYAML(t, dir)
		for range 3 {
			if again := buildYAML(t, dir); !bytes.Equal(first, again) {
				t.Fatalf("%s: output changed between runs\n%s", dir, firstDiff(first, again))
			}
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Chdir(t.TempDir())
		if other := buildYAML(t, abs); !bytes.Equal(first, other) {
			t.Fatalf("%s: output depends on the working directory\n%s", dir, firstDiff(first, other))
		}
		t.Chdir(filepath.Join(abs, "..", "..", "compiler"))
	}
}

// firstDiff shows the first differing line of two outputs.
func firstDiff(want, got []byte) string {
	wl := bytes.Split(want, []byte("\n"))
	gl := bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}
