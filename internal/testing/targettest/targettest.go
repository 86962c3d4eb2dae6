// Package targettest runs a target's build cases: txtar archives that hold
// a configuration (its .cue files), the objects that one target generates
// from it (want/objects.yaml, rendered as `pipec build` renders them) and
// the build's findings (want/findings). A change to one target changes
// that target's cases only.
//
// PIPEC_UPDATE_GOLDEN=1 rewrites the want/ files from what the build
// gives; review the diff.
package targettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
)

// EnvUpdate rewrites the expected files instead of comparing with them.
const EnvUpdate = "PIPEC_UPDATE_GOLDEN"

const (
	wantObjects  = "want/objects.yaml"
	wantFindings = "want/findings"
)

// Build compiles the configuration of the case in file, with every target.
func Build(file string) (*compiler.Result, error) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	return build(a)
}

func build(a *txtar.Archive) (*compiler.Result, error) {
	const root = "/case"
	overlay := map[string][]byte{}
	for _, f := range a.Files {
		if !strings.HasPrefix(f.Name, "want/") {
			overlay[filepath.Join(root, filepath.FromSlash(f.Name))] = f.Data
		}
	}
	if len(overlay) == 0 {
		return nil, errors.New("the case has no configuration")
	}
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: root, BaseDir: root, Overlay: overlay})
	if err != nil {
		return nil, fmt.Errorf("the configuration does not evaluate: %w", err)
	}
	return res, nil
}

// Run runs every case in dir (*.txtar) for the target named target.
func Run(t *testing.T, dir, target string) {
	t.Helper()
	cases, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases in %s", dir)
	}
	for _, file := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) { runCase(t, file, target) })
	}
}

func runCase(t *testing.T, file, target string) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(a)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var objs []targets.Object
	for _, o := range res.Objects {
		if o.Target == target {
			objs = append(objs, o)
		}
	}
	var got bytes.Buffer
	if err := render.Stream(&got, objs, render.YAML); err != nil {
		t.Fatal(err)
	}
	var findings bytes.Buffer
	for _, d := range res.Diagnostics {
		findings.WriteString(d.String() + "\n")
	}
	if res.Diagnostics.HasErrors() && len(objs) > 0 {
		t.Fatalf("%s: objects and errors together", file)
	}
	if len(objs) == 0 && len(res.Diagnostics) == 0 {
		t.Fatalf("%s: target %s generates nothing from it, and there are no findings: the case tests nothing", file, target)
	}

	want := map[string][]byte{wantObjects: got.Bytes(), wantFindings: findings.Bytes()}
	if os.Getenv(EnvUpdate) != "" {
		var files []txtar.File
		for _, f := range a.Files {
			if !strings.HasPrefix(f.Name, "want/") {
				files = append(files, f)
			}
		}
		for _, name := range []string{wantObjects, wantFindings} {
			if len(want[name]) > 0 {
				files = append(files, txtar.File{Name: name, Data: want[name]})
			}
		}
		a.Files = files
		if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have := map[string][]byte{}
	for _, f := range a.Files {
		have[f.Name] = f.Data
	}
	for _, name := range []string{wantObjects, wantFindings} {
		if !bytes.Equal(have[name], want[name]) {
			t.Errorf("%s: %s differs (rerun with %s=1 and review the diff if the change is intended)\n--- want\n%s\n--- got\n%s",
				file, name, EnvUpdate, have[name], want[name])
		}
	}
}
