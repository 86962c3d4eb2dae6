package render_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
)

// TestPendingWritesWhatRenderWrites: objects rendered ahead (Start) are
// written byte for byte as Stream and WriteDir write them, in both
// formats, kustomization files (filled in when written) and preview tests
// (not streamed) included.
func TestPendingWritesWhatRenderWrites(t *testing.T) {
	empty := t.TempDir() // no object at all
	if err := os.WriteFile(filepath.Join(empty, "c.cue"), []byte("package c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ex := range []string{"shop", "flux-shop", empty} {
		res, err := compiler.Build(context.Background(), compiler.Options{Dir: filepath.Join("..", "examples", ex)})
		if ex == empty {
			res, err = compiler.Build(context.Background(), compiler.Options{Dir: empty})
		}
		if err != nil || res.Diagnostics.HasErrors() {
			t.Fatal(err, res.Diagnostics)
		}
		for _, f := range []render.Format{render.YAML, render.JSON} {
			var want, got bytes.Buffer
			if err := render.Stream(&want, res.Objects, f); err != nil {
				t.Fatal(err)
			}
			if err := render.Start(res.Objects, f).Stream(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s, %s: the pending stream differs from Stream's (%d bytes against %d)", ex, f, got.Len(), want.Len())
			}
			wantDir, gotDir := t.TempDir(), t.TempDir()
			if _, err := render.WriteDir(wantDir, res.Objects, f); err != nil {
				t.Fatal(err)
			}
			if _, err := render.Start(res.Objects, f).WriteDir(gotDir); err != nil {
				t.Fatal(err)
			}
			wantFiles, gotFiles := readTree(t, wantDir), readTree(t, gotDir)
			if len(wantFiles) != len(gotFiles) {
				t.Fatalf("%s, %s: %d files written, want %d", ex, f, len(gotFiles), len(wantFiles))
			}
			kustomizations := 0
			for name, data := range wantFiles {
				if !bytes.Equal(gotFiles[name], data) {
					t.Errorf("%s, %s: %s differs", ex, f, name)
				}
				if filepath.Base(name) == "kustomization.yaml" {
					kustomizations++
				}
			}
			if kustomizations == 0 && ex == "shop" {
				t.Errorf("%s: no kustomization file written (its preview tests have one); the case tests nothing", ex)
			}
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
