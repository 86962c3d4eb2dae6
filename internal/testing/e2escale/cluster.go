// Package e2escale runs what pipec compiles on real control-plane
// components, with simulated nodes, and measures it under load: etcd and
// kube-apiserver (internal/testing/kubetest), kube-controller-manager and
// kube-scheduler, KWOK for nodes and pod lifecycles, the Tekton controller,
// webhook and remote resolvers, Tekton Triggers' EventListener sink and core interceptors,
// and Karpenter's KWOK provider, all built from the Go module proxy by
// hack/sim-tools.sh and run out of cluster on loopback. Small pieces that
// the simulation needs run in-process: a metrics API for the autoscaler
// controller and a volume provisioner.
//
// Run fires a burst of signed GitHub webhook deliveries at the
// EventListener and records what happens: queue time, time to Succeeded,
// pods, nodes added and consolidated, quota rejections, autoscaler
// replicas; Report compares that timeline with pipec simulate's.
package e2escale

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// Pinned modules whose CRDs and configuration the cluster installs; the
// Tekton and Triggers versions are those of pipec's go.mod, the same that
// hack/sim-tools.sh builds.
const (
	karpenterModule  = "sigs.k8s.io/karpenter"
	karpenterVersion = "v1.14.1"
	karpenterSum     = "h1:GjqvOHLjl2+OXM0ti5VEZSQuvcitB0pETd8zdChXEtI="
	promOpModule     = "github.com/prometheus-operator/prometheus-operator"
	promOpVersion    = "v0.85.0"
	promOpSum        = "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s="
	tektonModule     = "github.com/tektoncd/pipeline"
	triggersModule   = "github.com/tektoncd/triggers"

	// SystemNamespace is where Tekton and Triggers keep their configuration.
	SystemNamespace = "tekton-pipelines"
	// ResolversNamespace is where Tekton's remote resolvers keep theirs.
	ResolversNamespace = "tekton-pipelines-resolvers"
	// interceptorsPort is fixed by Triggers' cmd/interceptors.
	interceptorsPort = 8443
)

// Programs are the binaries the cluster runs, by name, as hack/sim-tools.sh
// builds them into the binary directory.
var Programs = []string{
	"kube-controller-manager", "kube-scheduler", "kwok", "tekton-controller", "tekton-webhook", "tekton-resolvers",
	"triggers-sink", "triggers-interceptors", "karpenter-kwok",
}

// Cluster is a running simulated cluster.
type Cluster struct {
	*kubetest.Server
	Kube       kubernetes.Interface
	kubeconfig string
	bin        string
	log        io.Writer
	// TaskDuration is how long KWOK lets each TaskRun pod run.
	TaskDuration time.Duration

	coschedule    string
	stopInProcess []func()
}

// StartOptions configure Start.
type StartOptions struct {
	// Dir holds the cluster's data and logs.
	Dir string
	// Log receives progress lines.
	Log io.Writer
	// Coschedule is Tekton's coschedule feature flag (default workspaces).
	Coschedule string
	// TaskDuration is how long each TaskRun pod runs (KWOK completes its
	// pod after that long).
	TaskDuration time.Duration
}

// Start starts the control plane and waits until every component serves.
func Start(ctx context.Context, o StartOptions) (*Cluster, error) {
	bin, err := kubetest.BinDir()
	if err != nil {
		return nil, err
	}
	for _, p := range Programs {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run hack/sim-tools.sh to build the simulated cluster's programs (about 12 minutes cold, once)", p, bin)
		}
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	s, err := kubetest.Start(ctx, o.Dir, log)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Server: s, bin: bin, log: log, TaskDuration: o.TaskDuration, coschedule: cmp.Or(o.Coschedule, "workspaces")}
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
		{"CRDs", c.installCRDs},
		{"controller-manager and scheduler", func(ctx context.Context) error {
			// The node-lifecycle controller stays on: it lifts the
			// not-ready taint from new nodes. The PV binder binds the
			// volumes the in-process provisioner creates.
			return c.StartControllers(ctx, c.log, c.bin, "*,-nodeipam,-cloud-node-lifecycle,-route,-service,-attachdetach,-persistentvolume-expander,-ephemeral-volume",
				"--horizontal-pod-autoscaler-sync-period=5s")
		}},
		{"KWOK", func(context.Context) error { return c.StartKWOK(c.log, c.bin, kwokConfig(c.TaskDuration)) }},
		{"metrics APIs and volume provisioner", c.startInProcess},
		{"Tekton", c.startTekton},
		{"Tekton resolvers", c.startResolvers},
		{"Triggers interceptors", c.startInterceptors},
		{"Karpenter", c.startKarpenter},
	}
	for _, st := range steps {
		t0 := time.Now()
		if err := st.fn(ctx); err != nil {
			return nil, fmt.Errorf("starting %s: %w (logs in %s)", st.name, err, o.Dir)
		}
		fmt.Fprintf(log, "e2escale: %s up in %.1fs\n", st.name, time.Since(t0).Seconds())
	}
	ok = true
	return c, nil
}

// Stop stops everything Start started.
func (c *Cluster) Stop() {
	// The aggregated metrics APIs go first: with their server gone,
	// discovery and namespace deletion in the API server stall.
	for _, n := range []string{"v1beta1.metrics.k8s.io", "v1beta1.external.metrics.k8s.io"} {
		_ = c.Dynamic().Resource(apiServices).Delete(context.Background(), n, metav1.DeleteOptions{})
	}
	for i := len(c.stopInProcess) - 1; i >= 0; i-- {
		c.stopInProcess[i]()
	}
	c.Server.Stop()
}

var apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

func (c *Cluster) program(name string) string { return filepath.Join(c.bin, name) }

func (c *Cluster) installCRDs(ctx context.Context) error {
	var files []string
	for _, m := range []struct{ path, glob string }{
		{tektonModule, "config/300-crds/*.yaml"},
		{triggersModule, "config/300-*.yaml"},
	} {
		dir, err := kubetest.ModuleDir(m.path)
		if err != nil {
			return err
		}
		fs, _ := filepath.Glob(filepath.Join(dir, m.glob))
		if len(fs) == 0 {
			return fmt.Errorf("no CRDs at %s/%s", dir, m.glob)
		}
		files = append(files, fs...)
	}
	kdir, err := kubetest.DownloadModule(karpenterModule, karpenterVersion, karpenterSum)
	if err != nil {
		return err
	}
	for _, g := range []string{"pkg/apis/crds/karpenter.sh_*.yaml", "kwok/apis/crds/*.yaml"} {
		fs, _ := filepath.Glob(filepath.Join(kdir, g))
		if len(fs) == 0 {
			return fmt.Errorf("no CRDs at %s/%s", kdir, g)
		}
		files = append(files, fs...)
	}
	// The monitoring objects pipec emits are applied too, though no
	// Prometheus runs.
	pdir, err := kubetest.DownloadModule(promOpModule, promOpVersion, promOpSum)
	if err != nil {
		return err
	}
	for _, k := range []string{"servicemonitors", "podmonitors", "prometheusrules"} {
		files = append(files, filepath.Join(pdir, "example/prometheus-operator-crd/monitoring.coreos.com_"+k+".yaml"))
	}
	return c.InstallCRDs(ctx, files...)
}

func (c *Cluster) startTekton(ctx context.Context) error {
	if err := c.ensureNamespace(ctx, SystemNamespace); err != nil {
		return err
	}
	pdir, err := kubetest.ModuleDir(tektonModule)
	if err != nil {
		return err
	}
	tdir, err := kubetest.ModuleDir(triggersModule)
	if err != nil {
		return err
	}
	var cms []string
	for _, g := range []string{filepath.Join(pdir, "config/config-*.yaml"), filepath.Join(tdir, "config/config-*.yaml")} {
		fs, _ := filepath.Glob(g)
		cms = append(cms, fs...)
	}
	err = c.createAll(ctx, cms, func(o *unstructured.Unstructured) bool {
		if o.GetKind() == "ConfigMap" && o.GetName() == "feature-flags" {
			// Tekton's own containers (init, affinity assistant) get a
			// security context that Pod Security "restricted" admits,
			// as the namespaces pipec generates enforce it.
			_ = unstructured.SetNestedField(o.Object, "true", "data", "set-security-context")
			_ = unstructured.SetNestedField(o.Object, c.coschedule, "data", "coschedule")
		}
		return true
	})
	if err != nil {
		return err
	}
	p, err := kubetest.FreePorts(7)
	if err != nil {
		return err
	}
	webhookPort := p[0]
	objs, err := kubetest.DecodeYAML([]byte(tektonWebhooks(webhookPort)))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Create(ctx, o, false); err != nil {
			return err
		}
	}
	common := []string{
		"SYSTEM_NAMESPACE=" + SystemNamespace, "KUBERNETES_MIN_VERSION=v1.28.0", "METRICS_DOMAIN=tekton.dev/pipeline",
		"CONFIG_LOGGING_NAME=config-logging", "CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags",
	}
	if err := c.StartProcess(c.log, "tekton-webhook", c.program("tekton-webhook"), append(common,
		"CONFIG_LEADERELECTION_NAME=config-leader-election-webhook",
		"WEBHOOK_PORT="+strconv.Itoa(webhookPort), "WEBHOOK_ADMISSION_CONTROLLER_NAME=webhook.pipeline.tekton.dev",
		"WEBHOOK_SERVICE_NAME=tekton-pipelines-webhook", "WEBHOOK_SECRET_NAME=webhook-certs",
		"PROBES_PORT="+strconv.Itoa(p[1]), "PROFILING_PORT="+strconv.Itoa(p[2]), "METRICS_PORT="+strconv.Itoa(p[3]),
	), "-kubeconfig="+c.kubeconfig, "-disable-ha"); err != nil {
		return err
	}
	// Step images are never pulled; the entrypoint, nop and other helper
	// images only need names.
	if err := c.StartProcess(c.log, "tekton-controller", c.program("tekton-controller"), append(common,
		"CONFIG_DEFAULTS_NAME=config-defaults", "CONFIG_LEADERELECTION_NAME=config-leader-election-controller",
		"CONFIG_SPIRE=config-spire",
		"PROBES_PORT="+strconv.Itoa(p[4]), "PROFILING_PORT="+strconv.Itoa(p[5]), "METRICS_PORT="+strconv.Itoa(p[6]),
	), "-kubeconfig="+c.kubeconfig, "-disable-ha", "-threads-per-controller=8", "-kube-api-qps=100", "-kube-api-burst=200",
		"-entrypoint-image=sim.local/tekton/entrypoint", "-nop-image=sim.local/tekton/nop",
		"-sidecarlogresults-image=sim.local/tekton/sidecarlogresults", "-workingdirinit-image=sim.local/tekton/workingdirinit",
		"-shell-image=sim.local/busybox", "-shell-image-win=sim.local/pwsh"); err != nil {
		return err
	}
	// The webhook serves when the API server accepts a Pipeline through it
	// (a dry run that the webhook defaults and validates).
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tekton.dev/v1", "kind": "Pipeline",
		"metadata": map[string]any{"name": "probe", "namespace": SystemNamespace},
		"spec": map[string]any{"tasks": []any{map[string]any{"name": "t", "taskSpec": map[string]any{
			"steps": []any{map[string]any{"name": "s", "image": "sim.local/x", "script": "true"}}}}}},
	}}
	var last error
	err = kubetest.Poll(ctx, 120*time.Second, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probe, true)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the Tekton webhook did not admit a Pipeline: %w (last: %v)", err, last)
	}
	return nil
}

// startResolvers runs Tekton's remote resolvers (bundles, cluster, git,
// http, hub) with the ConfigMaps of Tekton's release, as
// config/resolvers deploys them: the controller hands them the
// ResolutionRequests of taskRefs with a resolver.
func (c *Cluster) startResolvers(ctx context.Context) error {
	if err := c.ensureNamespace(ctx, ResolversNamespace); err != nil {
		return err
	}
	pdir, err := kubetest.ModuleDir(tektonModule)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(pdir, "config/resolvers/*.yaml"))
	err = c.createAll(ctx, files, func(o *unstructured.Unstructured) bool {
		// The release puts one of them (config-observability) in
		// Tekton's namespace, where the controller's already is.
		o.SetNamespace(ResolversNamespace)
		return o.GetKind() == "ConfigMap"
	})
	if err != nil {
		return err
	}
	p, err := kubetest.FreePorts(3)
	if err != nil {
		return err
	}
	return c.StartProcess(c.log, "tekton-resolvers", c.program("tekton-resolvers"), []string{
		"SYSTEM_NAMESPACE=" + ResolversNamespace, "KUBERNETES_MIN_VERSION=v1.28.0", "METRICS_DOMAIN=tekton.dev/resolution",
		"CONFIG_LOGGING_NAME=config-logging", "CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags", "CONFIG_LEADERELECTION_NAME=config-leader-election-resolvers",
		"TEKTON_HUB_API=", "ARTIFACT_HUB_API=https://artifacthub.io/",
		"PROBES_PORT=" + strconv.Itoa(p[0]), "PROFILING_PORT=" + strconv.Itoa(p[1]), "METRICS_PORT=" + strconv.Itoa(p[2]),
	}, "-kubeconfig="+c.kubeconfig) // it has no -disable-ha: it elects itself leader
}

// createAll creates the objects of the YAML files that keep (which may
// change them) returns true for; those that exist already are left.
func (c *Cluster) createAll(ctx context.Context, files []string, keep func(*unstructured.Unstructured) bool) error {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		objs, err := kubetest.DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range objs {
			if !keep(o) {
				continue
			}
			if err := c.Create(ctx, o, false); err != nil && !apierrors.IsAlreadyExists(errors.Unwrap(err)) {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) ensureNamespace(ctx context.Context, name string) error {
	err := c.CreateNamespace(ctx, name, nil)
	if err != nil && apierrors.IsAlreadyExists(errors.Unwrap(err)) {
		return nil
	}
	return err
}

func (c *Cluster) startKarpenter(ctx context.Context) error {
	if err := c.ensureNamespace(ctx, "karpenter"); err != nil {
		return err
	}
	nc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "karpenter.kwok.sh/v1alpha1", "kind": "KWOKNodeClass", "metadata": map[string]any{"name": "default"},
	}}
	if err := c.Create(ctx, nc, false); err != nil {
		return err
	}
	p, err := kubetest.FreePorts(2)
	if err != nil {
		return err
	}
	return c.StartProcess(c.log, "karpenter", c.program("karpenter-kwok"), []string{
		"KUBECONFIG=" + c.kubeconfig, "SYSTEM_NAMESPACE=karpenter", "KUBERNETES_MIN_VERSION=1.19.0-0",
		"DISABLE_WEBHOOK=true", "DISABLE_LEADER_ELECTION=true", "LOG_LEVEL=info",
		"METRICS_PORT=" + strconv.Itoa(p[0]), "HEALTH_PROBE_PORT=" + strconv.Itoa(p[1]),
		// Karpenter batches pending pods for up to 10s by default; a short
		// window keeps the timeline readable without changing decisions.
		"BATCH_MAX_DURATION=2s", "BATCH_IDLE_DURATION=500ms",
	})
}
