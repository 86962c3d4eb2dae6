package argo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets/argo"
)

// sameAsUpstream decodes obj's JSON into Argo CD's own type, rejecting any
// field Argo CD does not have, and requires the same object back, after
// fixes applied to what Argo CD's type gives back.
func sameAsUpstream(t *testing.T, obj any, upstream any, fixes ...func(any)) {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(upstream); err != nil {
		t.Fatalf("Argo CD's type refuses pipec's JSON: %v\n%s", err, raw)
	}
	got, err := render.Normalize(obj)
	if err != nil {
		t.Fatal(err)
	}
	want, err := render.Normalize(upstream)
	if err != nil {
		t.Fatal(err)
	}
	for _, fix := range fixes {
		fix(want)
	}
	if !reflect.DeepEqual(got, want) {
		w, _ := json.Marshal(want)
		t.Fatalf("Argo CD's type gives other JSON back:\npipec:    %s\nArgo CD:  %s", raw, w)
	}
}

// TestObjectsMatchUpstream: every AppProject, Application and
// ApplicationSet pipec
// generates for every example is one Argo CD's own types read and write
// back unchanged.
func TestObjectsMatchUpstream(t *testing.T) {
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		dir := filepath.Join("../../examples", e.Name())
		res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir})
		if err != nil || res.Diagnostics.HasErrors() {
			t.Fatalf("%s: %v %v", dir, err, res.Diagnostics)
		}
		for _, o := range res.Objects {
			switch v := o.Value.(type) {
			case *argo.AppProject:
				counts["AppProject"]++
				sameAsUpstream(t, v, &v1alpha1.AppProject{})
			case *argo.ApplicationSet:
				counts["ApplicationSet"]++
				sameAsUpstream(t, v, &v1alpha1.ApplicationSet{}, dropZeroGeneratorTemplates)
			case *argo.Application:
				counts["Application"]++
				sameAsUpstream(t, v, &v1alpha1.Application{})
				if v.Spec.Source != nil {
					for _, k := range []string{"helm", "kustomize", "directory"} {
						if raw, _ := json.Marshal(v.Spec.Source); bytes.Contains(raw, []byte(`"`+k+`"`)) {
							counts[k]++
						}
					}
				}
			}
		}
	}
	// The examples must cover both kinds of objects and the sources with
	// options (a directory source is in TestEveryFieldMatchesUpstream).
	for _, k := range []string{"AppProject", "Application", "ApplicationSet", "helm", "kustomize"} {
		if counts[k] == 0 {
			t.Errorf("no example generates a %s: the check does not cover it", k)
		}
	}
	t.Logf("checked %v", counts)
}

// TestEveryFieldMatchesUpstream: each field of pipec's Argo CD types, set,
// has the name and shape Argo CD's own types give it.
func TestEveryFieldMatchesUpstream(t *testing.T) {
	yes, two := true, int64(2)
	proj := &argo.AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: argo.APIVersion, Kind: "AppProject"},
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "argocd", Labels: map[string]string{"a": "b"}},
		Spec: argo.AppProjectSpec{
			SourceRepos:                []string{"https://example.com/r.git"},
			Destinations:               []argo.ApplicationDestination{{Server: "https://kubernetes.default.svc", Namespace: "ns"}},
			Description:                "d",
			Roles:                      []argo.ProjectRole{{Name: "dev", Description: "d", Policies: []string{"p, proj:team:dev, applications, get, team/*, allow"}, Groups: []string{"g"}}},
			ClusterResourceWhitelist:   []argo.ClusterResourceRestrictionItem{{Group: "", Kind: "Namespace"}},
			NamespaceResourceBlacklist: []metav1.GroupKind{{Group: "", Kind: "ResourceQuota"}},
			OrphanedResources:          &argo.OrphanedResourcesMonitorSettings{Warn: &yes},
			SyncWindows:                []*argo.SyncWindow{{Kind: "allow", Schedule: "0 9 * * 1-5", Duration: "8h", Applications: []string{"a"}, Namespaces: []string{"ns"}, Clusters: []string{"c"}, ManualSync: true, TimeZone: "UTC"}},
		},
	}
	sameAsUpstream(t, proj, &v1alpha1.AppProject{})
	app := &argo.Application{
		TypeMeta:   metav1.TypeMeta{APIVersion: argo.APIVersion, Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "argocd", Finalizers: []string{argo.ForegroundPropagationPolicyFinalizer}},
		Spec: argo.ApplicationSpec{
			Source: &argo.ApplicationSource{
				RepoURL: "https://example.com/r.git", Path: "p", TargetRevision: "main",
				Helm:      &argo.ApplicationSourceHelm{ValueFiles: []string{"v.yaml"}, Parameters: []argo.HelmParameter{{Name: "n", Value: "v"}}, ReleaseName: "r"},
				Kustomize: &argo.ApplicationSourceKustomize{Images: []string{"img@sha256:0"}, Patches: []argo.KustomizePatch{{Patch: "{}", Target: &argo.KustomizeSelector{Group: "apps", Version: "v1", Kind: "Deployment"}}}},
				Directory: &argo.ApplicationSourceDirectory{},
			},
			Destination: argo.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "ns"},
			Project:     "team",
			SyncPolicy: &argo.SyncPolicy{
				Automated:   &argo.SyncPolicyAutomated{Prune: true, SelfHeal: true},
				SyncOptions: []string{"PruneLast=true"},
				Retry:       &argo.RetryStrategy{Limit: 5, Backoff: &argo.Backoff{Duration: "10s", Factor: &two, MaxDuration: "5m"}},
			},
			IgnoreDifferences:    []argo.ResourceIgnoreDifferences{{Group: "apps", Kind: "Deployment", Name: "a", JSONPointers: []string{"/spec/replicas"}}},
			RevisionHistoryLimit: &two,
		},
	}
	sameAsUpstream(t, app, &v1alpha1.Application{})
	if argo.ForegroundPropagationPolicyFinalizer != v1alpha1.ForegroundPropagationPolicyFinalizer {
		t.Errorf("finalizer %q, Argo CD's is %q", argo.ForegroundPropagationPolicyFinalizer, v1alpha1.ForegroundPropagationPolicyFinalizer)
	}
}

// TestSourcePermittedMatchesUpstream holds SourcePermitted to Argo CD's
// AppProject.IsSourcePermitted.
func TestSourcePermittedMatchesUpstream(t *testing.T) {
	repos := []string{
		"https://github.com/acme/cart.git", "https://github.com/acme/cart", "https://GitHub.com/Acme/Cart.git",
		"git@github.com:acme/cart.git", "ssh://git@github.com/acme/cart.git", "https://github.com/acme/other.git",
		"https://github.com/acme/team/cart.git", "https://gitlab.example.com/acme/cart.git", "",
	}
	patterns := [][]string{
		{"*"}, {"https://github.com/acme/*"}, {"https://github.com/acme/*.git"}, {"https://github.com/**"},
		{"https://github.com/acme/cart.git"}, {"git@github.com:acme/*"}, {"*", "!https://github.com/acme/other*"},
		{"!https://github.com/acme/other.git"}, {"https://github.com/acme/cart", "https://gitlab.example.com/*/*"},
		{"https://github.com/ACME/CART"}, {}, {"https://*.com/acme/cart"},
	}
	for _, p := range patterns {
		proj := v1alpha1.AppProject{Spec: v1alpha1.AppProjectSpec{SourceRepos: p}}
		for _, r := range repos {
			want := proj.IsSourcePermitted(v1alpha1.ApplicationSource{RepoURL: r})
			if got := argo.SourcePermitted(p, r); got != want {
				t.Errorf("sourceRepos %q, repo %q: pipec says %v, Argo CD %v", p, r, got, want)
			}
		}
	}
}
