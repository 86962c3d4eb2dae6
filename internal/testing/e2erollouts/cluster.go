// Package e2erollouts proves on the real Argo Rollouts controller that the
// analysis pipec generates rolls a bad release back by itself: etcd and
// kube-apiserver (internal/testing/kubetest), kube-controller-manager
// (ReplicaSets, Jobs) and kube-scheduler, KWOK for a node and pod
// lifecycles, and rollouts-controller, each built from the Go module proxy
// by hack/sim-tools.sh and run out of cluster on loopback. A
// Prometheus-compatible query endpoint runs in the test driver: the tests
// decide what each query returns.
package e2erollouts

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// The Argo Rollouts version whose controller hack/sim-tools.sh builds and
// whose CRDs the cluster installs (the same as internal/testing/e2e's).
const (
	RolloutsModule  = "github.com/argoproj/argo-rollouts"
	RolloutsVersion = "v1.8.3"
	RolloutsSum     = "h1:blbtQva4IK9r6gFh+dWkCrLnFdPOWiv9ubQYu36qeaA="
)

// Programs are the binaries the cluster runs, from the binary directory.
var Programs = []string{"kube-controller-manager", "kube-scheduler", "kwok", "rollouts-controller"}

// Cluster is a running cluster with the Argo Rollouts controller.
type Cluster struct {
	*kubetest.Server
	Kube       kubernetes.Interface
	kubeconfig string
	bin        string
	log        io.Writer
	// Healthz and Metrics are the rollouts controller's health and
	// Prometheus metrics endpoints.
	Healthz, Metrics string
}

// Options configure Start.
type Options struct {
	Dir string
	Log io.Writer
	// JobDuration is how long KWOK lets a Job's pod run before it ends.
	JobDuration time.Duration
}

// Start starts the control plane and the rollouts controller and waits
// until they serve.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	bin, err := kubetest.BinDir()
	if err != nil {
		return nil, err
	}
	for _, p := range Programs {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run hack/sim-tools.sh to build the simulated cluster's programs", p, bin)
		}
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if o.JobDuration == 0 {
		o.JobDuration = 2 * time.Second
	}
	s, err := kubetest.Start(ctx, o.Dir, log)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Server: s, bin: bin, log: log}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if c.kubeconfig, err = s.Kubeconfig(); err != nil {
		return nil, err
	}
	if c.Kube, err = kubernetes.NewForConfig(s.Config); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Argo Rollouts CRDs", c.installCRDs},
		{"controller-manager and scheduler", func(ctx context.Context) error {
			// What a rollout needs: ReplicaSets and their pods, Jobs (the
			// analysis Job provider), service accounts, garbage
			// collection, namespaces, and the node-lifecycle controller
			// that lifts the not-ready taint from the node.
			return c.StartControllers(ctx, c.log, c.bin, "replicaset,job,serviceaccount,serviceaccount-token,garbagecollector,namespace,nodelifecycle,endpoint,endpointslice")
		}},
		{"KWOK", func(ctx context.Context) error {
			if err := c.StartKWOK(c.log, c.bin, kwokConfig(o.JobDuration)); err != nil {
				return err
			}
			return c.createNode(ctx)
		}},
		{"rollouts-controller", c.startRollouts},
	}
	for _, st := range steps {
		t0 := time.Now()
		if err := st.fn(ctx); err != nil {
			return nil, fmt.Errorf("starting %s: %w (logs in %s)", st.name, err, o.Dir)
		}
		fmt.Fprintf(log, "e2erollouts: %s up in %.1fs\n", st.name, time.Since(t0).Seconds())
	}
	ok = true
	return c, nil
}

func (c *Cluster) program(name string) string { return filepath.Join(c.bin, name) }

func (c *Cluster) installCRDs(ctx context.Context) error {
	dir, err := kubetest.DownloadModule(RolloutsModule, RolloutsVersion, RolloutsSum)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "manifests/crds/*-crd.yaml"))
	if len(files) == 0 {
		return fmt.Errorf("no CRDs at %s/manifests/crds", dir)
	}
	return c.InstallCRDs(ctx, files...)
}

func (c *Cluster) startRollouts(ctx context.Context) error {
	p, err := kubetest.FreePorts(2)
	if err != nil {
		return err
	}
	c.Healthz = fmt.Sprintf("http://127.0.0.1:%d/healthz", p[0])
	c.Metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", p[1])
	if err := c.StartProcess(c.log, "rollouts-controller", c.program("rollouts-controller"), nil,
		"--kubeconfig="+c.kubeconfig, "--leader-elect=false",
		"--healthzPort="+strconv.Itoa(p[0]), "--metricsport="+strconv.Itoa(p[1]),
		"--loglevel=info", "--kloglevel=0",
		// Step through pauses quickly: resync is what re-evaluates a
		// rollout without an event.
		"--rollout-resync=5",
	); err != nil {
		return err
	}
	return kubetest.Poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(c.Healthz)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Stop stops everything Start started.
func (c *Cluster) Stop() { c.Server.Stop() }
