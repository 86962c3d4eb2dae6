// Package e2e holds pipec's end-to-end tests against a real kube-apiserver
// (see internal/kubetest): every example's output must be accepted by the
// API server with the controllers' CRDs installed.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/kubetest"
	"github.com/pipec/pipec/internal/render"
)

var server *kubetest.Server

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pipec-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := kubetest.Start(ctx, dir, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the API server: %v\n", err)
		return 1
	}
	defer func() {
		s.Stop()
		os.RemoveAll(dir)
	}()
	tekton, err := kubetest.ModuleDir("github.com/tektoncd/pipeline")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	crds, err := filepath.Glob(filepath.Join(tekton, "config", "300-crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		fmt.Fprintf(os.Stderr, "e2e: no Tekton CRDs in %s: %v\n", tekton, err)
		return 1
	}
	if err := s.InstallCRDs(ctx, crds...); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: installing Tekton CRDs: %v\n", err)
		return 1
	}
	server = s
	return m.Run()
}

// examples lists the example directories.
func examples(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../../examples/*/*.cue")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, f := range dirs {
		set[filepath.Dir(f)] = true
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	if len(out) < 3 {
		t.Fatalf("found %d examples, want at least 3", len(out))
	}
	return out
}

// TestExamplesAcceptedByAPIServer compiles every example and creates each
// generated object on the API server (server-side dry run, strict field
// validation) in its namespace.
func TestExamplesAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, dir := range examples(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := compiler.Build(ctx, compiler.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if res.Diagnostics.HasErrors() {
				t.Fatalf("example has findings:\n%v", res.Diagnostics)
			}
			var buf bytes.Buffer
			if err := render.Stream(&buf, res.Objects, render.YAML); err != nil {
				t.Fatal(err)
			}
			objs, err := kubetest.DecodeYAML(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != len(res.Objects) {
				t.Fatalf("decoded %d objects, generated %d", len(objs), len(res.Objects))
			}
			for _, o := range objs {
				if ns := o.GetNamespace(); ns != "" {
					ensureNamespace(t, ns)
				}
			}
			for _, o := range objs {
				if err := server.Create(ctx, o, true); err != nil {
					t.Errorf("API server rejected %s", err)
				}
			}
		})
	}
}

var namespaces = map[string]bool{}

func ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	if namespaces[ns] {
		return
	}
	if err := server.CreateNamespace(context.Background(), ns, nil); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	namespaces[ns] = true
}

// TestAPIServerRejectsInvalidObjects shows the harness can fail: objects the
// API server must refuse are refused.
func TestAPIServerRejectsInvalidObjects(t *testing.T) {
	ensureNamespace(t, "negative")
	cases := map[string]string{
		"invalid name": `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: Not_A_Name, namespace: negative}
spec: {tasks: [{name: a, taskRef: {name: x}}]}
`,
		"unknown top-level field": `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t, namespace: negative}
spec: {steps: [{name: s, image: "busybox:1.36"}]}
bogus: true
`,
		"unknown namespace": `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t, namespace: does-not-exist}
spec: {steps: [{name: s, image: "busybox:1.36"}]}
`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			err := server.ApplyYAML(context.Background(), []byte(doc), true)
			if err == nil {
				t.Fatal("the API server accepted an invalid object")
			}
			t.Logf("rejected as expected: %v", err)
		})
	}
}
