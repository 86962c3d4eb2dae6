// Package e2e holds pipec's end-to-end tests against a real kube-apiserver
// (see internal/testing/kubetest): every example's output must be accepted by the
// API server with the controllers' CRDs installed, and the namespaces pipec
// generates must enforce what they promise.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/scaffold"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/internal/testing/targettest"
)

// Controllers whose CRDs the tests install. Tekton and Argo CD come from
// the main module's dependencies; Argo Rollouts, Karpenter, the
// Prometheus Operator, Kyverno (the admission target's ClusterPolicy) and
// Flux (kubetest.FluxModules) are only needed for their CRDs and are
// downloaded at a pinned version and checksum.
var downloaded = []struct{ path, version, sum, glob string }{
	{"github.com/argoproj/argo-rollouts", "v1.8.3", "h1:blbtQva4IK9r6gFh+dWkCrLnFdPOWiv9ubQYu36qeaA=", "manifests/crds/*-crd.yaml"},
	{"sigs.k8s.io/karpenter", "v1.14.1", "h1:GjqvOHLjl2+OXM0ti5VEZSQuvcitB0pETd8zdChXEtI=", "pkg/apis/crds/karpenter.sh_*.yaml"},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=",
		"example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml"},
	{"github.com/kyverno/kyverno", "v1.15.2", "h1:1eDivq33TEgHwZkPl/4Id+9p+x6/3ieg1WzBGjmHWk0=", "config/crds/kyverno/kyverno.io_clusterpolicies.yaml"},
}

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
	// pipec binaries the tests run keep their result cache here, not in
	// the user's.
	os.Setenv("PIPEC_CACHE_DIR", filepath.Join(dir, "pipec-cache"))
	s, err := kubetest.Start(ctx, dir, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the API server: %v\n", err)
		return 1
	}
	defer func() {
		s.Stop()
		os.RemoveAll(dir)
	}()
	crds, err := crdFiles()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if err := s.InstallCRDs(ctx, crds...); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: installing CRDs: %v\n", err)
		return 1
	}
	for _, ns := range []string{"argocd", "flux-system"} {
		if err := s.CreateNamespace(ctx, ns, nil); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
	}
	server = s
	return m.Run()
}

// crdFiles lists the CRDs of Tekton Pipelines, Tekton Triggers, Argo CD,
// Argo Rollouts, Karpenter and the Prometheus Operator, from their modules.
func crdFiles() ([]string, error) {
	var files []string
	for _, mod := range []struct{ path, glob string }{
		{"github.com/tektoncd/pipeline", "config/300-crds/*.yaml"},
		{"github.com/argoproj/argo-cd/v3", "manifests/crds/*-crd.yaml"},
		{"github.com/tektoncd/triggers", "config/300-*.yaml"},
	} {
		dir, err := kubetest.ModuleDir(mod.path)
		if err != nil {
			return nil, err
		}
		fs, err := filepath.Glob(filepath.Join(dir, mod.glob))
		if err != nil || len(fs) == 0 {
			return nil, fmt.Errorf("no CRDs at %s/%s", dir, mod.glob)
		}
		files = append(files, fs...)
	}
	for _, m := range kubetest.FluxModules {
		downloaded = append(downloaded, struct{ path, version, sum, glob string }{m.Path, m.Version, m.Sum, m.Glob})
	}
	for _, mod := range downloaded {
		dir, err := kubetest.DownloadModule(mod.path, mod.version, mod.sum)
		if err != nil {
			return nil, err
		}
		for _, glob := range expandBraces(mod.glob) {
			fs, err := filepath.Glob(filepath.Join(dir, glob))
			if err != nil || len(fs) == 0 {
				return nil, fmt.Errorf("no CRDs at %s/%s", dir, glob)
			}
			files = append(files, fs...)
		}
	}
	return files, nil
}

// expandBraces expands one {a,b} group in a glob, which filepath.Glob
// does not.
func expandBraces(glob string) []string {
	i, j := strings.Index(glob, "{"), strings.Index(glob, "}")
	if i < 0 || j < i {
		return []string{glob}
	}
	var out []string
	for _, alt := range strings.Split(glob[i+1:j], ",") {
		out = append(out, glob[:i]+alt+glob[j+1:])
	}
	return out
}

// examples lists the example directories.
// initTemplates writes every pipec init template into a directory of its
// own and returns the directories.
func initTemplates(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, name := range scaffold.Names() {
		files, err := scaffold.Render(scaffold.Options{Template: name, Name: "init-" + name, Namespace: "ci-init", Forge: "github", Registry: "ghcr.io/acme"})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "init-"+name)
		for f, data := range files {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

func examples(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../../../examples/*/*.cue")
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
	if len(out) < 4 {
		t.Fatalf("found %d examples, want at least 4", len(out))
	}
	return out
}

// objectsOf compiles an example and decodes its YAML output, as a user
// would apply it.
func objectsOf(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, _, err := kubetest.Build(context.Background(), compiler.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestExamplesAcceptedByAPIServer compiles every example and creates each
// generated object on the API server with strict field validation: the
// namespaces for real (so later tests can use them), everything else with a
// server-side dry run.
func TestExamplesAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, dir := range append(examples(t), initTemplates(t)...) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Logf("accepted without warnings: %v", createAll(ctx, t, objectsOf(t, dir)))
		})
	}
}

// TestBuildCasesAcceptedByAPIServer creates, with a strict server-side dry
// run, the objects of every target's build case that builds without
// errors: the cases hold the shapes the examples do not (remote tasks,
// matrix includes, every trigger kind, ...).
func TestBuildCasesAcceptedByAPIServer(t *testing.T) {
	ctx := context.Background()
	cases, err := filepath.Glob("../../../targets/*/testdata/build/*.txtar")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no build cases: %v", err)
	}
	for _, file := range cases {
		name := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(file)))) + "/" + strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			res, err := targettest.Build(file)
			if err != nil {
				t.Fatal(err)
			}
			if res.Diagnostics.HasErrors() {
				t.Skip("the case is about a finding")
			}
			objs, err := kubetest.Objects(res.Objects)
			if err != nil {
				t.Fatal(err)
			}
			// The cases' own Namespace objects are not created: the
			// examples' namespaces, which later tests use, keep theirs.
			createAll(ctx, t, slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Namespace" }))
		})
	}
}

// createAll creates the namespaces among objs for real (so later tests can
// use them) and the namespaces the others name, then every other object
// with a strict server-side dry run, failing on a rejection or a warning.
// It returns how many objects of each kind there were.
func createAll(ctx context.Context, t *testing.T, objs []*unstructured.Unstructured) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetKind() == "Namespace" {
			ensureNamespace(t, o)
		}
	}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && o.GetKind() != "Namespace" {
			ensureNamespaceNamed(t, ns)
		}
	}
	server.TakeWarnings()
	for _, o := range objs {
		if o.GetKind() == "Namespace" || previewRail(o) {
			continue
		}
		if err := server.Create(ctx, o, true); err != nil {
			t.Errorf("API server rejected %s", err)
		}
	}
	for _, w := range server.TakeWarnings() {
		t.Errorf("API server warning: %s", w)
	}
	return kinds
}

var namespaces = map[string]bool{}

func ensureNamespace(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	if namespaces[o.GetName()] {
		return
	}
	if err := server.Create(context.Background(), o, false); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	namespaces[o.GetName()] = true
}

func ensureNamespaceNamed(t *testing.T, name string) {
	t.Helper()
	ensureNamespace(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}})
}

// TestRestrictedNamespaceRejectsPrivilegedPod applies the shop example's
// dev namespace (Pod Security "restricted") and shows admission at work: a
// privileged pod is rejected, a pod with pipec's default step security
// context is admitted.
func TestRestrictedNamespaceRejectsPrivilegedPod(t *testing.T) {
	var ns *unstructured.Unstructured
	for _, o := range objectsOf(t, "../../../examples/shop") {
		if o.GetKind() == "Namespace" && o.GetName() == "shop-dev" {
			ns = o
		}
	}
	if ns == nil {
		t.Fatal("the shop example has no shop-dev namespace")
	}
	if got := ns.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Fatalf("shop-dev enforces %q, want restricted", got)
	}
	ensureNamespace(t, ns)
	ctx := context.Background()
	// No controller-manager runs, so create the ServiceAccount admission
	// expects.
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": "shop-dev"}}}
	if err := server.Create(ctx, sa, false); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	pod := func(name string, securityContext map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": "shop-dev"},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "c", "image": "busybox:1.36", "securityContext": securityContext,
				"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]any{"memory": "32Mi"}},
			}}},
		}}
	}
	err := server.Create(ctx, pod("privileged", map[string]any{"privileged": true}), true)
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity \"restricted:latest\"") {
		t.Fatalf("privileged pod: got %v, want a PodSecurity rejection", err)
	}
	t.Logf("rejected as expected: %v", err)
	// pipec's default step security context.
	if err := server.Create(ctx, pod("restricted", map[string]any{
		"runAsNonRoot": true, "runAsUser": int64(65532), "runAsGroup": int64(65532), "allowPrivilegeEscalation": false,
		"capabilities":   map[string]any{"drop": []any{"ALL"}},
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}), true); err != nil {
		t.Fatalf("a pod with pipec's default security context was rejected: %v", err)
	}
}

// TestAPIServerRejectsInvalidObjects shows the harness can fail: objects the
// API server must refuse are refused.
func TestAPIServerRejectsInvalidObjects(t *testing.T) {
	ensureNamespaceNamed(t, "negative")
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
		"Application without destination": `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a, namespace: argocd}
spec: {project: p, source: {repoURL: "https://example.com/r.git"}}
`,
		"Rollout with unknown strategy field": `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r, namespace: negative}
spec: {strategy: {canary: {stepz: []}}}
`,
		"invalid NetworkPolicy CIDR": `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: negative}
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: "not-a-cidr"}}]}]}
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
