package compiler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pipec/pipec/compiler"
)

// FuzzBuild feeds arbitrary bytes to the whole pipeline (load, unify,
// check, Tekton generation and validation) as a configuration file. It must
// never panic; findings and evaluation errors are fine. The corpus is seeded
// with every example file.
//
//	go test ./compiler -run '^$' -fuzz FuzzBuild -fuzztime 60s
func FuzzBuild(f *testing.F) {
	seeds, err := filepath.Glob("../examples/*/*.cue")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("package ci\npipelines: a: tasks: b: steps: [{name: \"s\", image: \"busybox:1.36\", script: \"$(params.\"}]"))
	f.Add([]byte("package ci\npipelines: a: tasks: {b: after: [\"b\"], c: matrix: include: x: y: \"$(tasks.b.results.z[*])\"}"))
	dir := f.TempDir()
	file := filepath.Join(dir, "pipec.cue")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := compiler.Build(context.Background(), compiler.Options{
			Dir:     dir,
			Overlay: map[string][]byte{file: data},
		})
		if err == nil && res == nil {
			t.Fatal("Build returned neither a result nor an error")
		}
		if err != nil && !compiler.IsEvalError(err) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if res != nil {
			for _, d := range res.Diagnostics {
				if d.Message == "" {
					t.Fatalf("finding without a message: %+v", d)
				}
			}
		}
	})
}
