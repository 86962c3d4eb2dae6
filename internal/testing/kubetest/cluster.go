package kubetest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Poll calls f every 200 ms until it reports done, fails, or timeout
// passes.
func Poll(ctx context.Context, timeout time.Duration, f func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, f)
}

// StartControllers starts kube-controller-manager, running controllers
// (its --controllers value) with the extra flags, and kube-scheduler, both
// from the directory bin, and waits until the controller manager has
// created the default namespace's service account.
func (s *Server) StartControllers(ctx context.Context, log io.Writer, bin, controllers string, extra ...string) error {
	kubeconfig, err := s.Kubeconfig()
	if err != nil {
		return err
	}
	p, err := FreePorts(2)
	if err != nil {
		return err
	}
	kc := "--kubeconfig=" + kubeconfig
	auth := []string{kc, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--authentication-skip-lookup", "--bind-address=127.0.0.1", "--leader-elect=false"}
	args := append(append([]string{}, auth...), "--secure-port="+strconv.Itoa(p[0]),
		"--use-service-account-credentials=false", "--controllers="+controllers,
		"--service-account-private-key-file="+filepath.Join(s.Dir, "sa.key"),
		"--root-ca-file="+filepath.Join(s.Dir, "certs", "apiserver.crt"),
		"--cluster-signing-cert-file=",
		"--kube-api-qps=200", "--kube-api-burst=400")
	if err := s.StartProcess(log, "kube-controller-manager", filepath.Join(bin, "kube-controller-manager"), nil, append(args, extra...)...); err != nil {
		return err
	}
	if err := s.StartProcess(log, "kube-scheduler", filepath.Join(bin, "kube-scheduler"), nil,
		append(auth, "--secure-port="+strconv.Itoa(p[1]))...); err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	return Poll(ctx, 90*time.Second, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// StartKWOK starts KWOK from the directory bin with config, written into
// the server's directory.
func (s *Server) StartKWOK(log io.Writer, bin, config string) error {
	kubeconfig, err := s.Kubeconfig()
	if err != nil {
		return err
	}
	cfg := filepath.Join(s.Dir, "kwok.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return err
	}
	p, err := FreePorts(1)
	if err != nil {
		return err
	}
	return s.StartProcess(log, "kwok", filepath.Join(bin, "kwok"), []string{"KUBE_FEATURE_WatchListClient=false"},
		"--kubeconfig="+kubeconfig, "--config="+cfg, "--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:"+strconv.Itoa(p[0]))
}

// KWOKConfig is a KWOK configuration that manages the nodes annotated
// kwok.x-k8s.io/node=fake and moves pods through their lifecycle: a
// scheduled pod becomes Running and Ready (its init containers completed),
// the stages given next end the pods they select, and a pod being deleted
// goes at once. Nodes keep KWOK's default stages.
func KWOKConfig(stages ...string) string {
	out := kwokPodReady
	for _, st := range stages {
		out += "---\n" + st
	}
	return out + kwokPodDelete
}

const kwokPodReady = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  cidr: 10.244.0.1/16
  nodeIP: 10.99.0.1
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
    - {key: '.status.podIP', operator: DoesNotExist}
    - {key: '.spec.nodeName', operator: Exists}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
      - {lastTransitionTime: {{ $now | Quote }}, status: "True", type: PodScheduled}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        started: true
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state: {terminated: {exitCode: 0, finishedAt: {{ $now | Quote }}, reason: Completed, startedAt: {{ $now | Quote }}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`

const kwokPodDelete = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-delete}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: '.metadata.deletionTimestamp', operator: Exists}
  next:
    finalizers: {empty: true}
    delete: true
`
