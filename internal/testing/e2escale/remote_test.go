package e2escale

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/triggers"
)

// TestRemoteTasksAndSidecarsRun runs what pipec compiles for remote tasks,
// StepActions and a task with a sidecar and an emptyDir volume on the
// simulated cluster, with Tekton's own controller and resolvers: a
// pipeline whose task comes through the cluster resolver (a Task pipec
// generated into another namespace), one whose task comes from a Tekton
// bundle pushed to an OCI registry on loopback, pinned by digest (the
// bundles resolver pulls it), one whose step runs a StepAction through
// the cluster resolver, one with a sidecar and a volume, and a remote
// pipeline (pipelines.<name>.ref) the cluster resolver fetches, whose run
// is the one pipec's TriggerTemplate would create. Each PipelineRun must
// reach Succeeded; the namespace enforces Pod Security "restricted", as
// pipec's environments do by default.
func TestRemoteTasksAndSidecarsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The tasks the resolvers hand out are pipec's own output: a library
	// built into the namespace the cluster resolver reads.
	// The shared pipeline runs its task through the cluster resolver too:
	// a task it names runs in the PipelineRun's namespace.
	library, _ := build(t, `package lib
namespace: "tekton-tasks"
tasks: "shared-lint": steps: [{name: "lint", image: "docker.io/library/golang:1.25.11", script: "go vet ./..."}]
tasks: "bundled-build": steps: [{name: "build", image: "docker.io/library/golang:1.25.11", script: "go build ./..."}]
pipelines: "shared-pipeline": {
	timeout: "10m"
	tasks: lint: ref: {resolver: "cluster", params: {name: "shared-lint", namespace: "tekton-tasks", kind: "task"}}
}
`)
	tasks := map[string]*unstructured.Unstructured{}
	var sharedPipeline *unstructured.Unstructured
	for _, o := range library {
		switch o.GetKind() {
		case "Task":
			tasks[o.GetName()] = o
		case "Pipeline":
			sharedPipeline = o
		}
	}

	// A Tekton bundle: one gzipped tar layer holding the Task, annotated
	// as `tkn bundle push` annotates it.
	reg := ocimem.New()
	bundle := pushBundle(t, ctx, reg, "tasks", tasks["bundled-build"])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ociserver.New(reg, nil)}
	go srv.Serve(ln)
	defer srv.Close()
	bundleRef := fmt.Sprintf("%s/tasks@%s", ln.Addr(), bundle)

	objs, plan := build(t, fmt.Sprintf(`package ci
namespace: "remote-ci"
environments: ci: {
	namespace: "remote-ci"
	quota: requests: {cpu: "8", memory: "16Gi"}
	network: kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}
}
pipelines: {
	"from-cluster": {
		timeout: "10m"
		tasks: lint: ref: {resolver: "cluster", params: {name: "shared-lint", namespace: "tekton-tasks", kind: "task"}}
	}
	"from-bundle": {
		timeout: "10m"
		tasks: build: ref: {resolver: "bundles", params: {bundle: %q, name: "bundled-build", kind: "task"}}
	}
	"step-action": {
		timeout: "10m"
		tasks: clone: steps: [{
			name: "clone"
			ref: {resolver: "cluster", params: {name: "git-clone", namespace: "tekton-tasks", kind: "stepaction"}}
			params: URL: "https://github.com/acme/app.git"
		}]
	}
	"remote-pipeline": {
		timeout: "10m"
		ref: {resolver: "cluster", params: {name: "shared-pipeline", namespace: "tekton-tasks", kind: "pipeline"}}
		on: push: branches: ["main"]
	}
	"with-sidecar": {
		timeout: "10m"
		tasks: it: {
			volumes: data: emptyDir: medium: "Memory"
			sidecars: [{
				name:  "postgres"
				image: "docker.io/library/postgres:17.2"
				env: POSTGRES_HOST_AUTH_METHOD: "trust"
				volumeMounts: [{name: "data", mountPath: "/var/lib/postgresql/data"}]
				readinessProbe: exec: command: ["pg_isready"]
			}]
			steps: [{
				name:   "test"
				image:  "docker.io/library/golang:1.25.11"
				script: "go test ./..."
				volumeMounts: [{name: "data", mountPath: "/data", readOnly: true}]
			}]
		}
	}
}
triggers: webhookSecret: {name: "github-webhook", key: "secret"}
`, bundleRef))

	c := startWithNode(ctx, t, 2*time.Second, "tekton-controller", "tekton-resolvers")
	defer c.Stop()
	if err := c.ensureNamespace(ctx, "tekton-tasks"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*unstructured.Unstructured{tasks["shared-lint"], sharedPipeline} {
		if err := c.Create(ctx, o, false); err != nil {
			t.Fatal(err)
		}
	}
	// A StepAction, as the catalog's git-clone now is one.
	stepAction := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tekton.dev/v1beta1", "kind": "StepAction",
		"metadata": map[string]any{"name": "git-clone", "namespace": "tekton-tasks"},
		"spec": map[string]any{
			"params": []any{map[string]any{"name": "URL", "type": "string"}},
			"image":  "docker.io/alpine/git:v2.47.1",
			// Tekton runs the step with this security context, not the
			// one pipec would give it: the namespace enforces
			// "restricted".
			"securityContext": map[string]any{
				"runAsNonRoot": true, "runAsUser": int64(65532), "allowPrivilegeEscalation": false,
				"capabilities":   map[string]any{"drop": []any{"ALL"}},
				"seccompProfile": map[string]any{"type": "RuntimeDefault"},
			},
			"env":    []any{map[string]any{"name": "URL", "value": "$(params.URL)"}},
			"script": "git clone \"$URL\" /tmp/src",
		},
	}}
	if err := c.Create(ctx, stepAction, false); err != nil {
		t.Fatal(err)
	}
	// The remote pipeline's trigger is not fired here: its run is
	// created below, as its TriggerTemplate would create it.
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return strings.HasPrefix(o.GetAPIVersion(), "triggers.tekton.dev/")
	})
	if err := c.applyAll(ctx, objs); err != nil {
		t.Fatal(err)
	}
	runs := schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "pipelineruns"}
	// The remote pipeline's run is the one its TriggerTemplate creates,
	// without the event's labels: a pipelineRef with the cluster resolver.
	remote := triggers.PipelineRun(plan, plan.Pipeline("remote-pipeline"))
	remote.Labels, remote.Annotations, remote.GenerateName = nil, nil, ""
	remote.Name, remote.Namespace = "remote-pipeline-1", "remote-ci"
	if remote.Spec.PipelineRef == nil || remote.Spec.PipelineRef.Resolver != "cluster" {
		t.Fatalf("the remote pipeline's run: pipelineRef %+v", remote.Spec.PipelineRef)
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(remote)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &unstructured.Unstructured{Object: raw}, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"from-cluster", "from-bundle", "step-action", "with-sidecar"} {
		pr := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
			"metadata": map[string]any{"name": p + "-1", "namespace": "remote-ci"},
			"spec": map[string]any{
				"pipelineRef":     map[string]any{"name": p},
				"taskRunTemplate": map[string]any{"serviceAccountName": p + "-pipeline"},
				"timeouts":        map[string]any{"pipeline": "10m"},
			},
		}}
		if err := c.Create(ctx, pr, false); err != nil {
			t.Fatal(err)
		}
	}
	status := map[string]string{}
	err = kubetest.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		done := true
		for _, p := range []string{"from-cluster", "from-bundle", "step-action", "with-sidecar", "remote-pipeline"} {
			pr, err := c.Dynamic().Resource(runs).Namespace("remote-ci").Get(ctx, p+"-1", metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			st, reason := kubetest.Condition(pr, "Succeeded")
			msg := ""
			if conds, _, _ := unstructured.NestedSlice(pr.Object, "status", "conditions"); len(conds) > 0 {
				msg, _ = conds[0].(map[string]any)["message"].(string)
			}
			status[p] = fmt.Sprintf("%s %s %s", st, reason, msg)
			if st == "False" {
				return false, fmt.Errorf("PipelineRun %s failed: %s: %s", p, reason, msg)
			}
			done = done && st == "True"
		}
		return done, nil
	})
	if err != nil {
		// Each TaskRun's condition says why.
		trs := schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "taskruns"}
		if l, lerr := c.Dynamic().Resource(trs).Namespace("remote-ci").List(context.Background(), metav1.ListOptions{}); lerr == nil {
			for _, tr := range l.Items {
				conds, _, _ := unstructured.NestedSlice(tr.Object, "status", "conditions")
				t.Logf("TaskRun %s: %v", tr.GetName(), conds)
			}
		}
		t.Fatalf("%v\nstatus: %v", err, status)
	}
	// The sidecar ran beside the step, with the volume, as pipec wrote it.
	trs, err := c.Kube.CoreV1().Pods("remote-ci").List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=with-sidecar-1"})
	if err != nil || len(trs.Items) != 1 {
		t.Fatalf("pods of with-sidecar-1: %v, %v", trs, err)
	}
	pod := trs.Items[0]
	var names []string
	for _, ct := range pod.Spec.Containers {
		names = append(names, ct.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "sidecar-postgres") || !strings.Contains(strings.Join(names, ","), "step-test") {
		t.Errorf("containers %v, want step-test and sidecar-postgres", names)
	}
	vol := false
	for _, v := range pod.Spec.Volumes {
		vol = vol || v.Name == "data" && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory
	}
	if !vol {
		t.Errorf("the pod has no emptyDir volume data: %v", pod.Spec.Volumes)
	}
	t.Logf("succeeded: %v", status)
}

// startWithNode starts the simulated cluster with one node for the runs'
// pods, managed by KWOK, each TaskRun's pod taking taskDuration; when the
// test fails, the tails of the logs of programs are logged. The caller
// stops it.
func startWithNode(ctx context.Context, t *testing.T, taskDuration time.Duration, logs ...string) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := Start(ctx, StartOptions{Dir: dir, Log: testLog{t}, TaskDuration: taskDuration})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range logs {
				data, _ := os.ReadFile(dir + "/" + name + ".log")
				t.Logf("%s.log (tail):\n%s", name, tail(string(data), 4000))
			}
		}
	})
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-0", Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	node.Status.Capacity = node.Status.Allocatable
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		c.Stop()
		t.Fatal(err)
	}
	return c
}

// build compiles a configuration and returns its objects and plan; it
// must have no errors.
func build(t *testing.T, src string) ([]*unstructured.Unstructured, *model.Plan) {
	t.Helper()
	objs, res, err := kubetest.Build(context.Background(), compiler.Options{Dir: "/cfg", BaseDir: "/cfg", Overlay: map[string][]byte{"/cfg/pipec.cue": []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	return objs, res.Plan
}

// pushBundle pushes task to repo as a Tekton bundle and returns the
// manifest's digest.
func pushBundle(t *testing.T, ctx context.Context, reg ociregistry.Interface, repo string, task *unstructured.Unstructured) ociregistry.Digest {
	t.Helper()
	data, err := json.Marshal(task.Object)
	if err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	gz := gzip.NewWriter(&tarball)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: task.GetName(), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	gz.Close()
	push := func(mediaType string, b []byte) ociregistry.Descriptor {
		d := ociregistry.Descriptor{MediaType: mediaType, Digest: ociregistry.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(b))), Size: int64(len(b))}
		if _, err := reg.PushBlob(ctx, repo, d, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	config := push("application/vnd.oci.image.config.v1+json", []byte("{}"))
	layer := push("application/vnd.oci.image.layer.v1.tar+gzip", tarball.Bytes())
	layer.Annotations = map[string]string{
		"dev.tekton.image.apiVersion": "v1", "dev.tekton.image.kind": "task", "dev.tekton.image.name": task.GetName(),
	}
	manifest, err := json.Marshal(ociregistry.Manifest{
		Versioned: struct {
			SchemaVersion int `json:"schemaVersion"`
		}{SchemaVersion: 2},
		MediaType: "application/vnd.oci.image.manifest.v1+json", Config: config, Layers: []ociregistry.Descriptor{layer},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.PushManifest(ctx, repo, "v1", manifest, "application/vnd.oci.image.manifest.v1+json")
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
