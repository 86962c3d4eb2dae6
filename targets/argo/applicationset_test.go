package argo_test

import (
	"reflect"
	"testing"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/targets/argo"
)

// TestEveryApplicationSetFieldMatchesUpstream: each field of pipec's
// ApplicationSet types, set, has the name and shape Argo CD's own types
// give it.
func TestEveryApplicationSetFieldMatchesUpstream(t *testing.T) {
	requeue := int64(120)
	token := &argo.SecretRef{SecretName: "forge", Key: "token"}
	tmpl := argo.ApplicationSetTemplate{
		ApplicationSetTemplateMeta: argo.ApplicationSetTemplateMeta{
			Name: "p-pr-{{ .number }}", Namespace: "argocd", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{"c": "d"}, Finalizers: []string{argo.ForegroundPropagationPolicyFinalizer},
		},
		Spec: argo.ApplicationSpec{
			Project:     "p",
			Source:      &argo.ApplicationSource{RepoURL: "https://example.com/r.git", Path: "p", TargetRevision: "{{ .head_sha }}", Directory: &argo.ApplicationSourceDirectory{}},
			Destination: argo.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: "p-pr-{{ .number }}"},
			SyncPolicy: &argo.SyncPolicy{
				SyncOptions:              []string{"CreateNamespace=true"},
				ManagedNamespaceMetadata: &argo.ManagedNamespaceMetadata{Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"}},
			},
		},
	}
	set := &argo.ApplicationSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: argo.APIVersion, Kind: "ApplicationSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "argocd"},
		Spec: argo.ApplicationSetSpec{
			GoTemplate:        true,
			GoTemplateOptions: []string{"missingkey=error"},
			SyncPolicy:        &argo.ApplicationSetSyncPolicy{PreserveResourcesOnDeletion: true, ApplicationsSync: "create-delete"},
			Generators: []argo.ApplicationSetGenerator{
				{PullRequest: &argo.PullRequestGenerator{
					Github:              &argo.PullRequestGeneratorGithub{Owner: "acme", Repo: "r", API: "https://github.example.com/api/v3/", TokenRef: token, Labels: []string{"preview"}},
					RequeueAfterSeconds: &requeue,
				}},
				{Matrix: &argo.MatrixGenerator{Generators: []argo.ApplicationSetNestedGenerator{
					{PullRequest: &argo.PullRequestGenerator{GitLab: &argo.PullRequestGeneratorGitLab{Project: "acme/r", API: "https://gitlab.example.com/", TokenRef: token, Labels: []string{"preview"}, PullRequestState: "opened"}}},
					{Git: &argo.GitGenerator{RepoURL: "https://example.com/gitops.git", Revision: "HEAD", Files: []argo.GitFileGeneratorItem{{Path: "previews/p/pr-{{ .number }}/a.json"}}}},
				}}},
			},
			Template: tmpl,
		},
	}
	sameAsUpstream(t, set, &v1alpha1.ApplicationSet{}, dropZeroGeneratorTemplates)
}

// dropZeroGeneratorTemplates removes from an ApplicationSet, as Argo CD's
// type writes it, the template of each generator that is the zero
// template: encoding/json cannot omit the struct (template,omitempty), so
// Argo CD writes {"spec": {"destination": {}, "project": ""}} for a
// generator that overrides nothing, which the controller merges as
// nothing. Any other generator template stays, and fails the comparison.
func dropZeroGeneratorTemplates(v any) {
	var walk func(gens any)
	walk = func(gens any) {
		list, _ := gens.([]any)
		for _, g := range list {
			gm, _ := g.(map[string]any)
			for _, kind := range gm {
				km, _ := kind.(map[string]any)
				if km == nil {
					continue
				}
				if reflect.DeepEqual(km["template"], map[string]any{"spec": map[string]any{"destination": map[string]any{}, "project": ""}}) {
					delete(km, "template")
				}
				walk(km["generators"])
			}
		}
	}
	spec, _ := v.(map[string]any)["spec"].(map[string]any)
	walk(spec["generators"])
}

// TestSameRepository: a git URL is the forge repository whatever its
// scheme, host, case or .git suffix, and no other repository is.
func TestSameRepository(t *testing.T) {
	for _, c := range []struct {
		url, repo string
		want      bool
	}{
		{"https://github.com/acme/cart.git", "acme/cart", true},
		{"https://github.com/Acme/Cart", "acme/cart", true},
		{"git@github.com:acme/cart.git", "acme/cart", true},
		{"https://gitlab.example.com/acme/group/cart.git", "acme/group/cart", true},
		{"https://github.com/acme/cart-ui.git", "acme/cart", false},
		{"https://github.com/notacme/cart.git", "acme/cart", false},
		{"https://github.com/acme/catalog.git", "acme/cart", false},
	} {
		if got := argo.SameRepository(c.url, c.repo); got != c.want {
			t.Errorf("SameRepository(%q, %q) = %v, want %v", c.url, c.repo, got, c.want)
		}
	}
}
