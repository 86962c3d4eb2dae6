package e2escale

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/triggers"
)

// Options configure a scale run.
type Options struct {
	// Config is the directory of the pipec configuration to compile and
	// run; it needs a GitHub EventListener, a node pool and an autoscaler.
	Config string
	// Runs is the number of PipelineRuns to start: Runs / (push triggers)
	// signed push deliveries go to the EventListener.
	Runs int
	// Senders deliver webhooks concurrently (default 16).
	Senders int
	// Coschedule overrides the configuration's scaling.tektonCoschedule:
	// Tekton's coschedule feature flag in the simulated cluster.
	Coschedule string
	// TaskDuration is how long each TaskRun's pod runs (default 10s).
	TaskDuration time.Duration
	// Timeout bounds the wait for every run to finish (default 20m);
	// ScaleInTimeout the wait for nodes and replicas to come back down
	// after that (default 10m).
	Timeout, ScaleInTimeout time.Duration
	// Dir holds the cluster's data and logs.
	Dir string
	// Log receives progress lines.
	Log io.Writer `json:"-"`
}

// Result is what a scale run measured.
type Result struct {
	Options    Options
	Namespace  string
	Pool       string
	Autoscaler string
	// Deliveries sent, and how many the EventListener accepted (202).
	Deliveries, Accepted int
	// Dropped are the runs the EventListener did not start for deliveries
	// it accepted, by the reason its log gives for the delivery's event (an
	// error creating the run, an interceptor that stopped it): such a run
	// is lost, as the sink has answered 202 and does not retry.
	Dropped map[string]int
	// Runs are the PipelineRuns started; Succeeded, Failed and Unfinished
	// partition them.
	Runs, Succeeded, Failed, Unfinished int
	// FailureReasons counts the failed runs by reason.
	FailureReasons map[string]int
	// QueueTime: from a run's creation to its first pod running; Total:
	// from the first delivery to the run's end.
	QueueP50, QueueP95, QueueMax time.Duration
	RunP50, RunP95               time.Duration // first pod to done
	// RunMin is the shortest run, first pod to done: a run that never
	// waited for a node or the quota, what the simulator takes as a run's
	// duration.
	RunMin                       time.Duration
	TotalP50, TotalP95, TotalMax time.Duration
	// LastDone is when the last run finished, from the first delivery.
	LastDone time.Duration
	// QuotaWaitedTaskRuns waited at least once for the namespace quota.
	QuotaWaitedTaskRuns int
	// RunsWithQuotaWait are the runs with such a TaskRun.
	RunsWithQuotaWait int
	PeakRunningRuns   int
	PeakWaitingRuns   int
	PeakPendingPods   int
	PeakRunningPods   int
	PeakAssistantPods int
	// Nodes of the pool: before the burst, at the peak, ever created, and
	// at the end; ScaledOutAfter is when the first new node appeared,
	// ScaledInAfter when the pool was back to BaselineNodes (-1: never).
	BaselineNodes, PeakNodes, NodesCreated, FinalNodes int
	ScaledOutAfter, ScaledInAfter                      time.Duration
	// Replicas of the autoscaled Deployment.
	MinReplicas, PeakReplicas, FinalReplicas int32
	// Samples is the timeline, one a second, from the first delivery.
	Samples []Sample
	// Plan is the compiled configuration, for the comparison with the
	// simulator.
	Plan *model.Plan `json:"-"`
}

func (o *Options) defaults() {
	if o.Senders <= 0 {
		o.Senders = 16
	}
	if o.TaskDuration <= 0 {
		o.TaskDuration = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Minute
	}
	if o.ScaleInTimeout <= 0 {
		o.ScaleInTimeout = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Run compiles the configuration, starts the cluster, applies what pipec
// generated, fires the burst and measures it until the runs are done and
// the pool has scaled back in.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "e2escale: "+format+"\n", a...) }

	objs, res, err := kubetest.Build(ctx, compiler.Options{Dir: o.Config})
	if err != nil {
		return nil, err
	}
	if o.Coschedule != "" {
		res.Plan.Scaling.TektonCoschedule = o.Coschedule
	}
	sc, err := scenarioOf(res.Plan, objs)
	if err != nil {
		return nil, err
	}
	if n := len(sc.pushTriggers); o.Runs <= 0 || o.Runs%n != 0 {
		return nil, fmt.Errorf("%d runs: each push starts %d PipelineRuns (one per push trigger), so runs must be a positive multiple of %d", o.Runs, n, n)
	}
	logf("%s: %d objects; EventListener %s/%s, pool %s, autoscaler %s; Tekton coschedule %s", o.Config, len(objs), sc.ns, sc.listener, sc.pool.GetName(), sc.hpa.GetName(), res.Plan.Scaling.TektonCoschedule)

	t0 := time.Now()
	c, err := Start(ctx, StartOptions{Dir: o.Dir, Log: o.Log, TaskDuration: o.TaskDuration, Coschedule: res.Plan.Scaling.TektonCoschedule})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	logf("cluster up in %.1fs", time.Since(t0).Seconds())

	if err := c.applyAll(ctx, objs); err != nil {
		return nil, err
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret)
	webhookSecret := hex.EncodeToString(secret)
	if _, err := c.Kube.CoreV1().Secrets(sc.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: sc.secretName, Namespace: sc.ns},
		StringData: map[string]string{sc.secretKey: webhookSecret},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := c.Kube.AppsV1().Deployments(sc.ns).Create(ctx, sc.target(), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("the autoscaler's Deployment: %w", err)
	}
	url, err := c.StartEventListener(ctx, sc.ns, sc.listener, sc.listenerSA)
	if err != nil {
		return nil, err
	}
	logf("applied; EventListener sink at %s", url)

	obs := newObserver(sc.ns, sc.pool.GetName(), sc.hpa.GetName())
	octx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	obs.run(octx, c)

	// The baseline: the autoscaled Deployment at its minimum, on the pool.
	err = kubetest.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		d, err := c.Kube.AppsV1().Deployments(sc.ns).Get(ctx, sc.hpa.targetName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := obs.sample()
		return d.Status.ReadyReplicas >= sc.minReplicas && s.Replicas >= sc.minReplicas && s.Nodes > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the autoscaled Deployment %s never became ready on pool %s: %w", sc.hpa.targetName, sc.pool.GetName(), err)
	}
	r := &Result{Options: o, Namespace: sc.ns, Pool: sc.pool.GetName(), Autoscaler: sc.hpa.GetName(), MinReplicas: sc.minReplicas, Plan: res.Plan}
	r.BaselineNodes = obs.sample().Nodes
	logf("baseline: %d pool node(s), %d replica(s); firing %d runs", r.BaselineNodes, sc.minReplicas, o.Runs)

	obs.start = time.Now()
	var samples []Sample
	var smu sync.Mutex
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			s := obs.sample()
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	r.Deliveries = o.Runs / len(sc.pushTriggers)
	events, err := deliver(ctx, url, webhookSecret, r.Deliveries, o.Senders)
	if err != nil {
		stopSampling()
		return nil, err
	}
	r.Accepted = len(events)
	logf("%d/%d deliveries accepted in %.1fs", r.Accepted, r.Deliveries, time.Since(obs.start).Seconds())

	deadline := time.Now().Add(o.Timeout)
	lastLog := time.Now()
	created, lastCreated := 0, time.Now()
	for time.Now().Before(deadline) {
		s := obs.sample()
		if s.Created >= o.Runs && s.Done >= s.Created {
			break
		}
		if s.Created != created {
			created, lastCreated = s.Created, time.Now()
		}
		// The sink creates runs as it takes deliveries, whatever the
		// cluster does with them: when it has created none for a minute and
		// every run it created is done, the rest were dropped.
		if s.Done >= s.Created && time.Since(lastCreated) > time.Minute {
			logf("%4.0fs: %d of %d runs created, all done, none created for a minute: the EventListener dropped the rest", s.At.Seconds(), s.Created, o.Runs)
			break
		}
		if time.Since(lastLog) > 15*time.Second {
			logf("%4.0fs: %d created, %d done, %d pending pods, %d running pods, %d nodes, %d replicas, %d TaskRuns waiting for quota",
				s.At.Seconds(), s.Created, s.Done, s.PendingPods, s.RunningPods, s.Nodes, s.Replicas, s.QuotaWaiting)
			lastLog = time.Now()
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			stopSampling()
			return nil, err
		}
	}
	r.LastDone = obs.lastDone()
	logf("runs finished after %.0fs; waiting for the pool to scale in", r.LastDone.Seconds())
	deadline = time.Now().Add(o.ScaleInTimeout)
	for time.Now().Before(deadline) {
		s := obs.sample()
		if s.Nodes <= r.BaselineNodes && s.Replicas <= sc.minReplicas {
			break
		}
		if time.Since(lastLog) > 15*time.Second {
			logf("%4.0fs: %d nodes, %d replicas", s.At.Seconds(), s.Nodes, s.Replicas)
			lastLog = time.Now()
		}
		if err := sleep(ctx, time.Second); err != nil {
			stopSampling()
			return nil, err
		}
	}
	_ = sleep(ctx, 2*time.Second)
	stopSampling()
	<-sampled
	r.Samples = samples
	obs.summarize(r)
	r.Dropped = dropped(filepath.Join(o.Dir, "eventlistener-"+sc.listener+".log"), events, obs.byEvent(), sc.pushTriggers)
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// dropped accounts for the runs missing from the events the EventListener
// accepted, each of which should have started one run per push trigger.
// runs are the runs seen, by event. The reasons come from the sink's JSON
// log, read for the event: the last error, or interceptor that stopped it,
// of a trigger group (which stops all its triggers) or of a push trigger
// without a run for the event. A group that turns the delivery away by
// its event type (another provider's, or pull requests') is not a reason:
// it holds no trigger for a GitHub push. A missing run the log says
// nothing about is counted as such.
func dropped(logFile string, events []string, runs map[string][]runRecord, pushTriggers []string) map[string]int {
	out := map[string]int{}
	noReason := "no reason in the EventListener's log"
	data, err := os.ReadFile(logFile)
	if err != nil {
		noReason = "the EventListener's log could not be read: " + err.Error()
	}
	type line struct {
		Severity, Message string
		Event             string `json:"/triggers-eventid"`
		Trigger           string `json:"/trigger"`
	}
	logged := map[string]map[string]string{} // event, trigger ("": a group): message
	for _, l := range bytes.Split(data, []byte("\n")) {
		var e line
		if json.Unmarshal(l, &e) != nil || e.Event == "" {
			continue
		}
		stopped := strings.HasPrefix(e.Message, "interceptor stopped trigger processing")
		switch {
		case !strings.EqualFold(e.Severity, "ERROR") && !stopped,
			e.Trigger != "" && !slices.Contains(pushTriggers, e.Trigger),
			e.Trigger == "" && strings.Contains(e.Message, "desc = event type ") && strings.HasSuffix(e.Message, " is not allowed"):
			continue
		}
		msg := e.Message
		if i := strings.Index(msg, "\": "); i >= 0 && strings.HasPrefix(msg, "couldn't create resource") {
			msg = "couldn't create the run: " + msg[i+3:]
		}
		if logged[e.Event] == nil {
			logged[e.Event] = map[string]string{}
		}
		logged[e.Event][e.Trigger] = msg
	}
	for _, ev := range events {
		missing := len(pushTriggers) - len(runs[ev])
		if missing <= 0 {
			continue
		}
		if msg, ok := logged[ev][""]; ok {
			out[msg] += missing
			continue
		}
		for _, t := range pushTriggers {
			msg, ok := logged[ev][t]
			if ok && missing > 0 && !slices.ContainsFunc(runs[ev], func(r runRecord) bool { return r.Trigger == t }) {
				out[msg]++
				missing--
			}
		}
		if missing > 0 {
			out[noReason] += missing
		}
	}
	return out
}

// applyAll creates the generated objects: namespaces first, then the
// rest, each with strict field validation.
func (c *Cluster) applyAll(ctx context.Context, objs []*unstructured.Unstructured) error {
	var errs []error
	for _, pass := range []bool{true, false} {
		for _, o := range objs {
			if (o.GetKind() == "Namespace") != pass {
				continue
			}
			if err := c.Create(ctx, o, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// scenario is what the run needs to know of the compiled configuration.
type scenario struct {
	ns, listener, listenerSA string
	secretName, secretKey    string
	// pushTriggers are the Triggers that start a run on a GitHub push.
	pushTriggers []string
	pool         *unstructured.Unstructured
	hpa          hpaInfo
	minReplicas  int32
	requests     corev1.ResourceList
}

type hpaInfo struct {
	*unstructured.Unstructured
	targetName string
}

func scenarioOf(plan *model.Plan, objs []*unstructured.Unstructured) (*scenario, error) {
	sc := &scenario{}
	for _, o := range objs {
		switch o.GetKind() {
		case "EventListener":
			if sc.listener != "" {
				return nil, errors.New("the configuration has more than one EventListener")
			}
			sc.ns, sc.listener = o.GetNamespace(), o.GetName()
			sc.listenerSA, _, _ = unstructured.NestedString(o.Object, "spec", "serviceAccountName")
			groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "triggerGroups")
			for _, g := range groups {
				ics, _, _ := unstructured.NestedSlice(g.(map[string]any), "interceptors")
				for _, ic := range ics {
					m, _ := ic.(map[string]any)
					if name, _, _ := unstructured.NestedString(m, "ref", "name"); name != "github" {
						continue
					}
					params, _ := m["params"].([]any)
					for _, p := range params {
						if pm, _ := p.(map[string]any); pm["name"] == "secretRef" {
							v, _ := pm["value"].(map[string]any)
							sc.secretName, _ = v["secretName"].(string)
							sc.secretKey, _ = v["secretKey"].(string)
						}
					}
				}
			}
		case "NodePool":
			sc.pool = o
		case "HorizontalPodAutoscaler":
			if sc.hpa.Unstructured == nil || o.GetNamespace() == sc.ns {
				sc.hpa.Unstructured = o
				sc.hpa.targetName, _, _ = unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
			}
		}
	}
	// A branch push starts a run of each pipeline with a GitHub push
	// trigger (the harness sends GitHub deliveries).
	for _, p := range plan.Pipelines {
		if p.On != nil && p.On.Push != nil && triggers.Provider(plan, p) == model.GitHub {
			sc.pushTriggers = append(sc.pushTriggers, triggers.TriggerName(p, model.EventPush))
		}
	}
	switch {
	case sc.listener == "":
		return nil, errors.New("the configuration has no EventListener")
	case len(sc.pushTriggers) == 0 || sc.secretName == "":
		return nil, errors.New("the configuration has no GitHub push trigger with a webhook secret")
	case sc.pool == nil:
		return nil, errors.New("the configuration has no node pool")
	case sc.hpa.Unstructured == nil:
		return nil, errors.New("the configuration has no autoscaler")
	}
	for _, a := range plan.Scaling.Autoscalers {
		if a.Name != sc.hpa.GetName() {
			continue
		}
		sc.minReplicas = a.MinReplicas
		sc.requests = corev1.ResourceList{}
		for k, v := range a.PodRequests {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, err
			}
			sc.requests[corev1.ResourceName(k)] = q
		}
	}
	if sc.minReplicas == 0 {
		sc.minReplicas = 1
	}
	return sc, nil
}

// target is the Deployment the autoscaler scales (pipec scales it; the
// team deploys it): on the pool's nodes, with the requests the
// configuration declares, fit for Pod Security "restricted".
func (sc *scenario) target() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": sc.hpa.targetName}
	nodeSelector, _, _ := unstructured.NestedStringMap(sc.pool.Object, "spec", "template", "metadata", "labels")
	var tolerations []corev1.Toleration
	taints, _, _ := unstructured.NestedSlice(sc.pool.Object, "spec", "template", "spec", "taints")
	for _, t := range taints {
		m, _ := t.(map[string]any)
		k, _ := m["key"].(string)
		v, _ := m["value"].(string)
		e, _ := m["effect"].(string)
		tolerations = append(tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpEqual, Value: v, Effect: corev1.TaintEffect(e)})
	}
	no := false
	yes := true
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: sc.hpa.targetName, Namespace: sc.ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &sc.minReplicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: nodeSelector,
					Tolerations:  tolerations,
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name:      "server",
						Image:     "sim.local/build-cache@sha256:" + strings.Repeat("0", 64),
						Resources: corev1.ResourceRequirements{Requests: sc.requests, Limits: corev1.ResourceList{corev1.ResourceMemory: sc.requests[corev1.ResourceMemory]}},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
				},
			},
		},
	}
}

// deliver sends n signed GitHub push deliveries for main, from senders
// goroutines, and returns the event IDs of those the EventListener
// accepted.
func deliver(ctx context.Context, url, secret string, n, senders int) ([]string, error) {
	jobs := make(chan int)
	var mu sync.Mutex
	var events []string
	var firstErr error
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				event, err := deliverOne(ctx, client, url, secret, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					events = append(events, event)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(events) == 0 && firstErr != nil {
		return nil, fmt.Errorf("no delivery accepted: %w", firstErr)
	}
	return events, nil
}

func deliverOne(ctx context.Context, client *http.Client, url, secret string, i int) (string, error) {
	sha := fmt.Sprintf("%040x", i+1)
	body, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": sha, "deleted": false, "created": false,
		"repository": map[string]any{"full_name": "acme/monorepo", "clone_url": "https://github.com/acme/monorepo.git",
			"default_branch": "main"},
		"sender":      map[string]any{"login": "dev"},
		"pusher":      map[string]any{"name": "dev"},
		"head_commit": map[string]any{"id": sha, "message": fmt.Sprintf("change %d", i)},
	})
	return deliverGitHub(ctx, client, url, secret, "push", i, body)
}

// deliverGitHub posts body to url as GitHub delivers event number i,
// signed with secret (X-Hub-Signature-256), and returns the event ID the
// sink gave it; an error unless the sink accepted it (202).
func deliverGitHub(ctx context.Context, client *http.Client, url, secret, event string, i int, body []byte) (string, error) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("%s delivery %d: %s: %s", event, i, resp.Status, bytes.TrimSpace(msg))
	}
	var accepted struct {
		EventID string `json:"eventID"`
	}
	if err := json.Unmarshal(msg, &accepted); err != nil || accepted.EventID == "" {
		return "", fmt.Errorf("%s delivery %d: accepted, but the answer names no event ID: %s", event, i, bytes.TrimSpace(msg))
	}
	return accepted.EventID, nil
}

// summarize fills in the result's figures from what the observer saw.
func (o *observer) summarize(r *Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.FailureReasons = map[string]int{}
	r.Runs, r.Succeeded, r.Failed, r.Unfinished, r.RunsWithQuotaWait = 0, 0, 0, 0, 0
	r.PeakRunningRuns, r.PeakWaitingRuns, r.PeakPendingPods, r.PeakRunningPods, r.PeakNodes, r.PeakReplicas, r.PeakAssistantPods = 0, 0, 0, 0, 0, 0, 0
	r.ScaledOutAfter, r.ScaledInAfter = -1, -1
	var queue, run, total []time.Duration
	for _, rr := range o.runs {
		r.Runs++
		switch {
		case rr.Done.IsZero():
			r.Unfinished++
			continue
		case rr.Status == "True":
			r.Succeeded++
		default:
			r.Failed++
			r.FailureReasons[rr.Reason]++
		}
		if rr.QuotaWaits {
			r.RunsWithQuotaWait++
		}
		total = append(total, rr.Done.Sub(o.start))
		if !rr.FirstPod.IsZero() {
			queue = append(queue, rr.FirstPod.Sub(rr.Created))
			run = append(run, rr.Done.Sub(rr.FirstPod))
		}
	}
	r.QuotaWaitedTaskRuns = len(o.quotaTRs)
	r.QueueP50, r.QueueP95, r.QueueMax = percentiles(queue)
	r.RunP50, r.RunP95, _ = percentiles(run)
	if len(run) > 0 {
		r.RunMin = run[0] // sorted by percentiles
	}
	r.TotalP50, r.TotalP95, r.TotalMax = percentiles(total)
	r.NodesCreated = len(o.allNodes) - r.BaselineNodes
	for _, s := range r.Samples {
		r.PeakRunningRuns = max(r.PeakRunningRuns, s.Running)
		r.PeakWaitingRuns = max(r.PeakWaitingRuns, s.Waiting)
		r.PeakPendingPods = max(r.PeakPendingPods, s.PendingPods)
		r.PeakRunningPods = max(r.PeakRunningPods, s.RunningPods)
		r.PeakAssistantPods = max(r.PeakAssistantPods, s.AssistantPods)
		r.PeakNodes = max(r.PeakNodes, s.Nodes)
		r.PeakReplicas = max(r.PeakReplicas, s.Replicas)
		if r.ScaledOutAfter < 0 && s.Nodes > r.BaselineNodes {
			r.ScaledOutAfter = s.At
		}
	}
	if n := len(r.Samples); n > 0 {
		last := r.Samples[n-1]
		r.FinalNodes, r.FinalReplicas = last.Nodes, last.Replicas
		if last.Nodes <= r.BaselineNodes && r.PeakNodes > r.BaselineNodes {
			for i := n - 1; i >= 0 && r.Samples[i].Nodes <= r.BaselineNodes; i-- {
				r.ScaledInAfter = r.Samples[i].At
			}
		}
	}
}

// percentiles returns the median, 95th percentile and maximum.
func percentiles(ds []time.Duration) (p50, p95, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.5), at(0.95), ds[len(ds)-1]
}
