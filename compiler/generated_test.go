package compiler

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/targets"
)

// TestGeneratedBeforePolicies: Options.Generated is told the objects the
// result holds, once, before the policy packs run (a caller renders them
// meanwhile); a build that stops before generating never tells it.
func TestGeneratedBeforePolicies(t *testing.T) {
	var got [][]targets.Object
	var stages []Stage
	opts := Options{
		Dir: filepath.Join("..", "examples", "shop"), Policies: true,
		Progress:  func(s Stage) { stages = append(stages, s) },
		Generated: func(objs []targets.Object) { got = append(got, objs); stages = append(stages, "generated") },
	}
	res, err := Build(context.Background(), opts)
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatal(err, res.Diagnostics)
	}
	if len(got) != 1 || len(got[0]) != len(res.Objects) || len(res.Objects) == 0 || &got[0][0] != &res.Objects[0] {
		t.Fatalf("Generated was told %d times; want once, with the result's %d objects", len(got), len(res.Objects))
	}
	if i := slices.Index(stages, "generated"); i < 0 || slices.Index(stages, StagePolicy) != i+1 {
		t.Errorf("stages %v: want Generated right before %s", stages, StagePolicy)
	}

	got = nil
	opts.Dir = t.TempDir()
	opts.Overlay = map[string][]byte{filepath.Join(opts.Dir, "c.cue"): []byte("package c\nnamespace: 1\n")}
	res, err = Build(context.Background(), opts)
	if err != nil || !res.Diagnostics.HasErrors() {
		t.Fatalf("a wrong namespace built: %v %v", err, res)
	}
	if got != nil {
		t.Errorf("Generated was told of objects of a build that stopped with errors")
	}

	// Nor one whose generated objects are refused (two of one identity).
	opts.Overlay = map[string][]byte{filepath.Join(opts.Dir, "c.cue"): []byte(`package c
environments: {
	"b-dev": {namespace: "shop-b-dev", quota: {requests: {cpu: "4", memory: "8Gi"}, pods: 20}}
	dev: {namespace: "shop-dev", quota: {requests: {cpu: "4", memory: "8Gi"}, pods: 20}}
}
teams: shop: {}
apps: {
	a: {team: "shop", source: repoURL: "https://github.com/acme/a.git", environments: "b-dev": {}}
	"a-b": {team: "shop", source: repoURL: "https://github.com/acme/ab.git", environments: dev: {}}
}
argocd: gitops: repoURL: "https://github.com/acme/shop-platform.git"
`)}
	res, err = Build(context.Background(), opts)
	if err != nil || !slices.ContainsFunc(res.Diagnostics, func(d diag.Diagnostic) bool { return d.ID == "pipec/config/duplicate-name" }) {
		t.Fatalf("two Applications a-b-dev built: %v %v", err, res.Diagnostics)
	}
	if got != nil {
		t.Errorf("Generated was told of objects refused after generation")
	}
}
