package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/previewtest"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/argo"
)

// previewRail reports whether o is a guard rail of a preview: it has no
// namespace of its own, each pull request's Application applies it to the
// preview's namespace (TestPreviewsAcceptedByAPIServer creates it there).
func previewRail(o *unstructured.Unstructured) bool {
	return o.GetNamespace() == "" && o.GetLabels()[argo.LabelPreview] != ""
}

// TestPreviewsAcceptedByAPIServer does for pull requests #7 and the largest
// number what Argo CD does with the shop example's preview ApplicationSets:
// renders each one's Application with Argo CD's rendering code and creates
// it (strict, dry run), creates the preview's namespace with the
// guard-rails Application's managed namespace metadata, applies the guard
// rails in it (strict, dry run), and shows the namespace's Pod Security
// level at work: a privileged pod is rejected.
func TestPreviewsAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	res, err := compiler.Build(ctx, compiler.Options{Dir: "../../../examples/shop"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("%v %v", err, res.Diagnostics)
	}
	objs := objectsOf(t, "../../../examples/shop")
	var rails []*unstructured.Unstructured
	for _, o := range objs {
		if previewRail(o) {
			rails = append(rails, o)
		}
	}
	if len(rails) < 3 {
		t.Fatalf("%d guard rails, want a quota, a limit range and network policies", len(rails))
	}
	ensureNamespaceNamed(t, "argocd")
	ensureNamespaceNamed(t, "shop-ci")
	testFiles := previewTestFiles(t, res.Objects)
	for _, number := range []int64{7, 9223372036854775807} {
		pr := previewtest.PullRequest{Number: number, Branch: "feature/../x", TargetBranch: "main", HeadSHA: strings.Repeat("c", 40), Labels: []string{"preview"}}
		var namespace string
		tested := 0
		server.TakeWarnings()
		for _, o := range res.Objects {
			set, ok := o.Value.(*argo.ApplicationSet)
			if !ok {
				continue
			}
			r, err := previewtest.Render(set, previewtest.Params(pr), map[string]any{"digest": "sha256:" + strings.Repeat("1f", 32)})
			if err != nil {
				t.Fatal(err)
			}
			app := r.Application
			app.APIVersion, app.Kind = argo.APIVersion, "Application"
			raw, err := json.Marshal(app)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(raw); err != nil {
				t.Fatal(err)
			}
			unstructured.RemoveNestedField(u.Object, "status")
			unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
			if err := server.Create(ctx, u, true); err != nil {
				t.Errorf("API server rejected the Application %s renders for #%d: %v", set.Name, number, err)
			}
			if app.Labels[argo.LabelPreviewTest] == "true" {
				tested++
				docs, err := previewtest.Kustomize(app, testFiles)
				if err != nil {
					t.Fatalf("%s for #%d: %v", set.Name, number, err)
				}
				for _, d := range docs {
					h := &unstructured.Unstructured{}
					if err := sigsyaml.Unmarshal(d, &h.Object); err != nil {
						t.Fatal(err)
					}
					if err := server.Create(ctx, h, true); err != nil {
						t.Errorf("API server rejected the test Application's %s %s for #%d: %v", h.GetKind(), h.GetName(), number, err)
					}
				}
			}
			if m := app.Spec.SyncPolicy.ManagedNamespaceMetadata; m != nil {
				namespace = app.Spec.Destination.Namespace
				ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": namespace}}}
				ns.SetLabels(m.Labels)
				ns.SetAnnotations(m.Annotations)
				ensureNamespace(t, ns)
			}
		}
		if namespace == "" {
			t.Fatal("no guard-rails Application creates the preview's namespace")
		}
		if tested != 1 {
			t.Fatalf("%d test Applications for #%d, want 1", tested, number)
		}
		for _, o := range rails {
			o := o.DeepCopy()
			o.SetNamespace(namespace)
			if err := server.Create(ctx, o, true); err != nil {
				t.Errorf("API server rejected guard rail %s", err)
			}
		}
		for _, w := range server.TakeWarnings() {
			t.Errorf("API server warning: %s", w)
		}
		got, err := server.Get(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": namespace}}})
		if err != nil {
			t.Fatal(err)
		}
		if l := got.GetLabels()["pod-security.kubernetes.io/enforce"]; l != "restricted" {
			t.Fatalf("%s enforces %q, want dev's restricted", namespace, l)
		}
		sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": namespace}}}
		if err := server.Create(ctx, sa, false); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
		pod := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "privileged", "namespace": namespace},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "c", "image": "busybox:1.36", "securityContext": map[string]any{"privileged": true},
				"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]any{"memory": "32Mi"}},
			}}},
		}}
		if err := server.Create(ctx, pod, true); err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
			t.Fatalf("privileged pod in %s: got %v, want a PodSecurity rejection", namespace, err)
		}
		t.Logf("#%d: namespace %s, %d guard rails and the test hooks accepted, privileged pod rejected", number, namespace, len(rails))
	}
}

// previewTestFiles are the files of the shop preview's test directory as
// pipec writes them.
func previewTestFiles(t *testing.T, objs []targets.Object) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := render.WriteDir(dir, objs, render.YAML); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join(dir, targets.PreviewTestDir("shop")))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, targets.PreviewTestDir("shop"), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
