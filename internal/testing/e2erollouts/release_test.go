package e2erollouts

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/model"
)

var (
	rolloutsGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	analysisRunsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// config is the configuration the scenarios release: one canary app
// watched by a success-rate objective in two environments (a healthy
// release, with a smoke test that passes, and a bad one), and a blue-green
// app whose pre-promotion smoke test fails.
// Every analysis setting is pipec's default, from the pauses.
const config = `package releases

_env: quota: requests: {cpu: "8", memory: "16Gi"}
environments: {
	good:      _env & {namespace: "release-good"}
	bad:       _env & {namespace: "release-bad"}
	bluegreen: _env & {namespace: "release-bluegreen"}
}

teams: shop: {}

analysis: prometheus: address: "PROMETHEUS"

apps: checkout: {
	team: "shop"
	source: repoURL: "https://github.com/acme/checkout.git"
	image: {repository: "ghcr.io/acme/checkout", tag: "1.0.0"}
	replicas: 2
	objectives: "success-rate": {
		successRate: atLeast: 0.99
		window: "1m"
	}
	environments: {
		good: {
			// A smoke test that passes, run as a step after the first weight.
			tests: smoke: image: "ghcr.io/acme/checkout-smoke:1.0.0"
			strategy: canary: steps: [{setWeight: 50}, {pause: duration: "9s"}]
		}
		bad: strategy: canary: steps: [{setWeight: 50}, {pause: duration: "30s"}, {setWeight: 100}]
	}
}

apps: search: {
	team: "shop"
	source: repoURL: "https://github.com/acme/search.git"
	image: {repository: "ghcr.io/acme/search", tag: "1.0.0"}
	replicas: 2
	tests: smoke: {image: "FAILING", timeout: "1m"}
	strategy: blueGreen: {activeService: "search", previewService: "search-preview"}
	environments: bluegreen: {}
}
`

// TestReleasesRollBackByThemselves runs what pipec generates on the real
// Argo Rollouts controller: a healthy canary reaches 100%; a canary whose
// success rate falls below its objective is aborted and the stable version
// serves again, about when the configuration predicts; a blue-green
// release whose pre-promotion test Job fails is never promoted.
func TestReleasesRollBackByThemselves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	prom, err := StartPrometheus()
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Stop()
	src := strings.NewReplacer("PROMETHEUS", prom.URL, "FAILING", FailingImage).Replace(config)
	objs, res, err := kubetest.Build(ctx, compiler.Options{Dir: "/cfg", BaseDir: "/cfg", Overlay: map[string][]byte{"/cfg/pipec.cue": []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := Start(ctx, Options{Dir: dir, Log: testLog{t}, JobDuration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(dir + "/rollouts-controller.log")
			t.Logf("rollouts-controller.log (tail):\n%s", tail(string(data), 6000))
		}
	}()
	// The namespaces, the AnalysisTemplates and the Rollouts pipec
	// generates; the apps' own manifests (a Deployment the Rollout takes
	// over, the blue-green Services) are the test's.
	for _, kind := range []string{"Namespace", "AnalysisTemplate", "Rollout"} {
		for _, o := range objs {
			if o.GetKind() != kind {
				continue
			}
			if kind == "Rollout" {
				if err := c.appManifests(ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Create(ctx, o, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	stable := map[string]string{}
	for _, ns := range []string{"release-good", "release-bad", "release-bluegreen"} {
		r, err := c.waitRollout(ctx, ns, rolloutName(ns), 90*time.Second, func(r *unstructured.Unstructured) bool {
			return phase(r) == "Healthy" && str(r, "status", "stableRS") != ""
		})
		if err != nil {
			t.Fatalf("%s: the first version never became healthy: %v", ns, err)
		}
		stable[ns] = str(r, "status", "stableRS")
	}
	plan := res.Plan
	t.Run("group", func(t *testing.T) {
		t.Run("healthy canary reaches 100%", func(t *testing.T) {
			t.Parallel()
			ns := "release-good"
			prom.Set(ns, 1)
			first := stable[ns]
			t0 := time.Now()
			c.release(ctx, t, ns, "checkout")
			r, err := c.waitRollout(ctx, ns, "checkout", 2*time.Minute, func(r *unstructured.Unstructured) bool {
				s := str(r, "status", "stableRS")
				return phase(r) == "Healthy" && s != first && s == str(r, "status", "currentPodHash")
			})
			if err != nil {
				t.Fatalf("the canary did not complete: %v", err)
			}
			runs, _ := c.Dynamic().Resource(analysisRunsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
			var phases []string
			smoke := false
			for _, ar := range runs.Items {
				phases = append(phases, ar.GetName()+"="+str(&ar, "status", "phase"))
				smoke = smoke || (strings.Contains(ar.GetName(), "-2-1") && str(&ar, "status", "phase") == "Successful")
			}
			if !smoke {
				t.Errorf("no successful smoke test step: analysis runs %v", phases)
			}
			t.Logf("healthy canary: 100%% in %s (steps: 50%%, the smoke test Job, a 9s pause); %d queries, every one 1.0; analysis runs %v; rollout %s", time.Since(t0).Round(100*time.Millisecond), len(prom.Queries(ns)), phases, phase(r))
			c.requireVersion(ctx, t, ns, "checkout", "2.0.0")
		})
		t.Run("bad canary is aborted back to stable", func(t *testing.T) {
			t.Parallel()
			ns := "release-bad"
			prom.Set(ns, 0.5)
			dep := deployment(plan, "checkout", "bad")
			an := dep.ResolveAnalyses()
			timing := dep.ObjectiveTiming(dep.Objective("success-rate"), an)
			t0 := time.Now()
			c.release(ctx, t, ns, "checkout")
			r, err := c.waitRollout(ctx, ns, "checkout", 2*time.Minute, func(r *unstructured.Unstructured) bool {
				abort, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
				return abort
			})
			if err != nil {
				t.Fatalf("the canary was not aborted: %v", err)
			}
			toAbort := time.Since(t0)
			if str(r, "status", "stableRS") == str(r, "status", "currentPodHash") {
				t.Fatalf("the aborted version became stable")
			}
			if err := c.waitVersion(ctx, ns, "checkout", "1.0.0", 2*time.Minute); err != nil {
				t.Fatalf("the stable version does not serve alone again: %v", err)
			}
			toStable := time.Since(t0)
			qs := prom.Queries(ns)
			t.Logf("bad canary: aborted %s after the release (configuration: the analysis measures every %s from step %d and fails on measurement %d, %s after it starts), every pod back on the stable version %s after the release; %d queries; rollout %s: %s",
				toAbort.Round(100*time.Millisecond), model.FormatDuration(timing.Interval), an.StartingStep, timing.FailureLimit+1, model.FormatDuration(timing.TimeToFail()),
				toStable.Round(100*time.Millisecond), len(qs), phase(r), str(r, "status", "message"))
			if budget := timing.TimeToFail() + 20*time.Second; toAbort > budget {
				t.Errorf("the abort took %s, more than the configuration's %s with 20s for the controller", toAbort, timing.TimeToFail())
			}
			c.requireAbortedSeries(ctx, t, ns, "checkout")
		})
		t.Run("blue-green with a failing pre-promotion test is never promoted", func(t *testing.T) {
			t.Parallel()
			ns := "release-bluegreen"
			svc, err := c.Kube.CoreV1().Services(ns).Get(ctx, "search", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			stableHash := svc.Spec.Selector["rollouts-pod-template-hash"]
			t0 := time.Now()
			c.release(ctx, t, ns, "search")
			promoted := false
			r, err := c.waitRollout(ctx, ns, "search", 2*time.Minute, func(r *unstructured.Unstructured) bool {
				if a := str(r, "status", "blueGreen", "activeSelector"); a != "" && a != stableHash {
					promoted = true
				}
				abort, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
				return abort || promoted
			})
			if err != nil {
				t.Fatalf("the release was not aborted: %v", err)
			}
			if promoted {
				t.Fatalf("the release was promoted: activeSelector %s", str(r, "status", "blueGreen", "activeSelector"))
			}
			toAbort := time.Since(t0)
			// It stays unpromoted, and the active Service keeps selecting
			// the stable version.
			time.Sleep(5 * time.Second)
			svc, err = c.Kube.CoreV1().Services(ns).Get(ctx, "search", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.Spec.Selector["rollouts-pod-template-hash"]; got != stableHash {
				t.Fatalf("the active Service selects %s, not the stable %s", got, stableHash)
			}
			c.requireAbortedSeries(ctx, t, ns, "search")
			runs, _ := c.Dynamic().Resource(analysisRunsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
			var phases []string
			for _, ar := range runs.Items {
				phases = append(phases, ar.GetName()+"="+str(&ar, "status", "phase"))
			}
			t.Logf("blue-green: pre-promotion test failed, aborted %s after the release, never promoted; analysis runs %v; rollout %s: %s",
				toAbort.Round(100*time.Millisecond), phases, phase(r), str(r, "status", "message"))
		})
	})
}

func rolloutName(ns string) string {
	if ns == "release-bluegreen" {
		return "search"
	}
	return "checkout"
}

// appManifests creates what the app's own manifests hold for the Rollout:
// the Deployment it takes over (at zero replicas: the Rollout runs the
// pods) and, for blue-green, the active and preview Services.
func (c *Cluster) appManifests(ctx context.Context, r *unstructured.Unstructured) error {
	ns, name := r.GetNamespace(), r.GetName()
	labels := map[string]string{"app": name}
	sc := &corev1.SecurityContext{
		RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), AllowPrivilegeEscalation: ptr(false),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(0)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name, Image: "ghcr.io/acme/" + name + ":1.0.0", SecurityContext: sc,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := c.Kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return err
	}
	bg, _, _ := unstructured.NestedMap(r.Object, "spec", "strategy", "blueGreen")
	for _, k := range []string{"activeService", "previewService"} {
		s, _ := bg[k].(string)
		if s == "" {
			continue
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := c.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// release updates the app's Deployment to version 2.0.0, as a new commit
// of the app's manifests would.
func (c *Cluster) release(ctx context.Context, t *testing.T, ns, name string) {
	t.Helper()
	d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/" + name + ":2.0.0"
	if _, err := c.Kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitRollout polls the Rollout until done returns true.
func (c *Cluster) waitRollout(ctx context.Context, ns, name string, timeout time.Duration, done func(*unstructured.Unstructured) bool) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	err := kubetest.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		r, err := c.Dynamic().Resource(rolloutsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = r
		return done(r), nil
	})
	if err != nil && last != nil {
		st, _, _ := unstructured.NestedMap(last.Object, "status")
		return last, fmt.Errorf("%w; last status: %v", err, st)
	}
	return last, err
}

// waitVersion waits until every pod of the app runs version v and as many
// are ready as the Rollout wants.
func (c *Cluster) waitVersion(ctx context.Context, ns, name, v string, timeout time.Duration) error {
	var last string
	err := kubetest.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, nil
		}
		ready, other := 0, 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				other++
				continue
			}
			if !strings.HasSuffix(p.Spec.Containers[0].Image, ":"+v) {
				other++
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		last = fmt.Sprintf("%d ready on %s, %d others", ready, v, other)
		return other == 0 && ready >= 2, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, last)
	}
	return nil
}

func (c *Cluster) requireVersion(ctx context.Context, t *testing.T, ns, name, v string) {
	t.Helper()
	if err := c.waitVersion(ctx, ns, name, v, time.Minute); err != nil {
		t.Fatalf("not every pod runs %s: %v", v, err)
	}
}

// requireAbortedSeries requires the controller to export the series the
// PipecRolloutAborted alert (targets/monitoring) reads for the Rollout:
// rollout_info{namespace, name, phase="Abort"} 1.
func (c *Cluster) requireAbortedSeries(ctx context.Context, t *testing.T, ns, name string) {
	t.Helper()
	var found bool
	var last string
	_ = kubetest.Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(c.Metrics)
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "rollout_info{") && strings.Contains(line, `namespace="`+ns+`"`) && strings.Contains(line, `name="`+name+`"`) {
				last = line
				found = strings.Contains(line, `phase="Abort"`) && strings.HasSuffix(line, " 1")
			}
		}
		return found, nil
	})
	if !found {
		t.Errorf("the controller does not export rollout_info{namespace=%q, name=%q, phase=\"Abort\"} 1 for the alert; last: %s", ns, name, last)
	}
}

// deployment is an app's deployment in an environment.
func deployment(plan *model.Plan, app, env string) *model.Deployment {
	for _, a := range plan.Apps {
		for _, d := range a.Deployments {
			if a.Name == app && d.Environment == env {
				return d
			}
		}
	}
	panic("no deployment of " + app + " in " + env)
}

func phase(r *unstructured.Unstructured) string { return str(r, "status", "phase") }

func str(r *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(r.Object, fields...)
	return s
}

func ptr[T any](v T) *T { return &v }

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
