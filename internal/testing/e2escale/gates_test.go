package e2escale

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// TestPullRequestRunsDoNotSign fires a push and a pull request webhook at
// Tekton Triggers' own EventListener sink, serving what pipec compiled for
// a key-signed gated pipeline, and lets Tekton's own controller run the
// PipelineRuns the sink creates: the push's run must run the build, the
// scan, the SBOM and the sign tasks; the pull request's run must run the
// build and the scan and skip the SBOM and sign tasks by their when
// expressions (no TaskRun, no pod), and both must succeed. The steps do
// not run (KWOK completes the pods, writing the build's IMAGE_DIGEST and
// IMAGE_URL results from the task's annotation).
func TestPullRequestRunsDoNotSign(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "gated-ci"
	digest := "sha256:" + strings.Repeat("ab", 32)
	results := fmt.Sprintf(`{"key":"IMAGE_DIGEST","value":%q,"type":1},{"key":"IMAGE_URL","value":"registry.gated-ci.svc:5000/app","type":1}`, digest)
	objs, _ := build(t, fmt.Sprintf(`package ci
namespace: %[1]q
environments: ci: {
	namespace: %[1]q
	quota: requests: {cpu: "16", memory: "32Gi"}
	network: kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}
}
triggers: {
	webhookSecret: {name: "github-webhook", key: "secret"}
	listener: ingressFrom: namespaces: ["ingress-nginx"]
}
pipelines: app: {
	timeout: "10m"
	params: {"git-url": {}, "git-revision": {}}
	tasks: build: {
		params: {url: "$(params.git-url)", rev: "$(params.git-revision)"}
		annotations: "sim.pipec.dev/results": %[2]q
		results: {IMAGE_URL: {}, IMAGE_DIGEST: {}}
		steps: [{name: "build", image: "docker.io/library/busybox:1.37.0", script: "echo building $(params.url) at $(params.rev)"}]
	}
	gates: {
		image: "registry.gated-ci.svc:5000/app"
		scan: {}
		sbom: {}
		sign: key: secret: "cosign-key"
	}
	on: {
		push: {}
		pullRequest: forks: "untrusted"
	}
}
`, ns, results))

	t0 := time.Now()
	c := startWithNode(ctx, t, time.Second, "tekton-controller", "eventlistener-pipec-listener")
	defer c.Stop()
	t.Logf("cluster up in %.1fs", time.Since(t0).Seconds())
	// Tekton Chains does not run here: its configuration stays out.
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetNamespace() == "tekton-chains" })
	if err := c.applyAll(ctx, objs); err != nil {
		t.Fatal(err)
	}
	const secret = "gated-webhook-secret"
	if _, err := c.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "github-webhook", Namespace: ns},
		StringData: map[string]string{"secret": secret},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url, err := c.StartEventListener(ctx, ns, "pipec-listener", "pipec-listener")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ event, payload string }{{"push", "github-push-main.json"}, {"pull_request", "github-pull-request-opened.json"}} {
		body, err := os.ReadFile("../../../targets/triggers/testdata/webhooks/" + d.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := deliverGitHub(ctx, http.DefaultClient, url, secret, d.event, len(d.event), body); err != nil {
			t.Fatal(err)
		}
	}

	runs := schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "pipelineruns"}
	byKind := map[string]*unstructured.Unstructured{}
	err = kubetest.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		l, err := c.Dynamic().Resource(runs).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		done := len(l.Items) == 2
		for i := range l.Items {
			pr := &l.Items[i]
			byKind[pr.GetLabels()["pipec.dev/trigger"]] = pr
			st, reason := kubetest.Condition(pr, "Succeeded")
			if st == "False" {
				return false, fmt.Errorf("PipelineRun %s (%s) failed: %s", pr.GetName(), pr.GetLabels()["pipec.dev/trigger"], reason)
			}
			done = done && st == "True"
		}
		return done, nil
	})
	if err != nil {
		t.Fatalf("%v; runs: %v", err, slices.Sorted(maps.Keys(byKind)))
	}
	trs := schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "taskruns"}
	for kind, want := range map[string][]string{
		"push":         {"build", "sbom-image", "scan-image", "sign-image"},
		"pull-request": {"build", "scan-image"},
	} {
		pr := byKind[kind]
		if pr == nil {
			t.Fatalf("no %s run: %v", kind, slices.Sorted(maps.Keys(byKind)))
		}
		params, _, _ := unstructured.NestedSlice(pr.Object, "spec", "params")
		if !slices.ContainsFunc(params, func(p any) bool {
			m, _ := p.(map[string]any)
			return m["name"] == "pipec-trigger" && m["value"] == kind
		}) {
			t.Errorf("%s run: params %v, want pipec-trigger=%s", kind, params, kind)
		}
		l, err := c.Dynamic().Resource(trs).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pr.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		for _, tr := range l.Items {
			ran = append(ran, tr.GetLabels()["tekton.dev/pipelineTask"])
		}
		slices.Sort(ran)
		if !slices.Equal(ran, want) {
			t.Errorf("%s run %s ran %v, want %v", kind, pr.GetName(), ran, want)
		}
		skipped, _, _ := unstructured.NestedSlice(pr.Object, "status", "skippedTasks")
		var names []string
		for _, s := range skipped {
			m, _ := s.(map[string]any)
			names = append(names, fmt.Sprint(m["name"], ": ", m["reason"]))
		}
		slices.Sort(names)
		t.Logf("%s run %s: ran %v, skipped %v", kind, pr.GetName(), ran, names)
		wantSkipped := []string(nil)
		if kind == "pull-request" {
			wantSkipped = []string{"sbom-image: When Expressions evaluated to false", "sign-image: When Expressions evaluated to false"}
		}
		if !slices.Equal(names, wantSkipped) {
			t.Errorf("%s run skipped %v, want %v", kind, names, wantSkipped)
		}
	}
	t.Logf("done in %.1fs", time.Since(t0).Seconds())
}
