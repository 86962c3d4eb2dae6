package e2escale

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
)

func TestScenarioOfTheBurstExample(t *testing.T) {
	objs, res, err := kubetest.Build(context.Background(), compiler.Options{Dir: "../../../examples/burst"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarioOf(res.Plan, objs)
	if err != nil {
		t.Fatal(err)
	}
	if sc.ns != "burst-ci" || sc.listener != "pipec-listener" || sc.listenerSA != "pipec-listener" {
		t.Errorf("listener %s/%s (sa %s)", sc.ns, sc.listener, sc.listenerSA)
	}
	if !slices.Equal(sc.pushTriggers, []string{"api-push", "web-push"}) || sc.secretName != "github-webhook" || sc.secretKey != "secret" {
		t.Errorf("push triggers %v, secret %s/%s", sc.pushTriggers, sc.secretName, sc.secretKey)
	}
	if sc.pool.GetName() != "ci" || sc.hpa.GetName() != "build-cache" || sc.hpa.targetName != "build-cache" || sc.minReplicas != 1 {
		t.Errorf("pool %s, hpa %s -> %s, min %d", sc.pool.GetName(), sc.hpa.GetName(), sc.hpa.targetName, sc.minReplicas)
	}
	d := sc.target()
	spec := d.Spec.Template.Spec
	if spec.NodeSelector["pipec.dev/pool"] != "ci" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "pipec.dev/ci" {
		t.Errorf("the Deployment does not land on the pool: %v %v", spec.NodeSelector, spec.Tolerations)
	}
	if got := spec.Containers[0].Resources.Requests.Cpu().String(); got != "500m" {
		t.Errorf("requests.cpu %s, want the autoscaler's podRequests 500m", got)
	}
	// Without an EventListener there is nothing to fire at.
	var noListener = objs[:0:0]
	for _, o := range objs {
		if o.GetKind() != "EventListener" {
			noListener = append(noListener, o)
		}
	}
	if _, err := scenarioOf(res.Plan, noListener); err == nil || !strings.Contains(err.Error(), "no EventListener") {
		t.Errorf("without an EventListener: %v", err)
	}
}

func TestKWOKConfig(t *testing.T) {
	objs, err := kubetest.DecodeYAML([]byte(kwokConfig(1500 * time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, o := range objs {
		if o.GetKind() == "Stage" {
			stages = append(stages, o.GetName())
		}
	}
	if strings.Join(stages, ",") != "pod-ready,pod-complete-taskrun,pod-delete" {
		t.Errorf("stages %v", stages)
	}
	if !strings.Contains(kwokConfig(1500*time.Millisecond), "durationMilliseconds: 1500") {
		t.Error("the task duration is not the stage's delay")
	}
}

func TestSummarizeAndCheck(t *testing.T) {
	t0 := time.Now()
	o := newObserver("ci", "pool", "hpa")
	o.start = t0
	for i, d := range []time.Duration{10, 20, 30, 40} {
		o.runs[string(rune('a'+i))] = &runRecord{Created: t0, FirstPod: t0.Add(d * time.Second), Done: t0.Add((d + 60) * time.Second), Status: "True"}
	}
	o.runs["failed"] = &runRecord{Created: t0, Done: t0.Add(time.Second), Status: "False", Reason: "CouldntGetPipeline"}
	o.runs["stuck"] = &runRecord{Created: t0}
	o.allNodes = map[string]bool{"n0": true, "n1": true, "n2": true}
	r := &Result{Options: Options{Runs: 6, Timeout: time.Minute, ScaleInTimeout: time.Minute}, Deliveries: 3, Accepted: 3, BaselineNodes: 1,
		Samples: []Sample{{At: 0, Nodes: 1}, {At: time.Second, Nodes: 3}, {At: 2 * time.Second, Nodes: 2}, {At: 3 * time.Second, Nodes: 1}}}
	o.summarize(r)
	if r.Succeeded != 4 || r.Failed != 1 || r.Unfinished != 1 || r.FailureReasons["CouldntGetPipeline"] != 1 {
		t.Errorf("succeeded %d failed %d unfinished %d reasons %v", r.Succeeded, r.Failed, r.Unfinished, r.FailureReasons)
	}
	if r.QueueP50 != 30*time.Second || r.QueueMax != 40*time.Second || r.RunP50 != time.Minute {
		t.Errorf("queue p50 %s max %s, run p50 %s", r.QueueP50, r.QueueMax, r.RunP50)
	}
	if r.PeakNodes != 3 || r.NodesCreated != 2 || r.ScaledOutAfter != time.Second || r.ScaledInAfter != 3*time.Second || r.FinalNodes != 1 {
		t.Errorf("nodes peak %d created %d out %s in %s final %d", r.PeakNodes, r.NodesCreated, r.ScaledOutAfter, r.ScaledInAfter, r.FinalNodes)
	}
	rep := &Report{Result: r}
	errs := rep.Check()
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"1 PipelineRuns failed", "1 PipelineRuns had not finished"} {
		if !strings.Contains(got, want) {
			t.Errorf("Check() = %q, want it to say %q", got, want)
		}
	}
	if strings.Contains(got, "scale") {
		t.Errorf("the pool scaled out and back, but Check() says %q", got)
	}
	r.Samples = r.Samples[:2]
	o.summarize(r)
	if got := rep.Check(); len(got) != 3 || !strings.Contains(got[2].Error(), "did not scale back in") {
		t.Errorf("a pool left at 3 nodes: %v", got)
	}
}

// TestDropped holds the accounting of the runs the EventListener did not
// start, on log lines in the sink's format (Triggers v0.35.0, debug level).
func TestDropped(t *testing.T) {
	line := func(severity, msg, event, trigger string) string {
		fields := map[string]string{"severity": severity, "logger": "eventlistener", "message": msg, "/triggers-eventid": event}
		if trigger != "-" {
			fields["/triggergroup"] = "github"
		}
		if trigger != "" && trigger != "-" {
			fields["/trigger"] = trigger
		}
		b, _ := json.Marshal(fields)
		return string(b)
	}
	const (
		stopped  = "interceptor stopped trigger processing: rpc error: code = FailedPrecondition desc = "
		prFilter = stopped + "expression header.match('X-GitHub-Event', 'pull_request') did not return true"
		secret   = stopped + "error getting secret: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline"
		forged   = stopped + "payload signature check failed"
		create   = `couldn't create resource with group version kind "tekton.dev/v1, Resource=pipelineruns": Internal error occurred: resource quota evaluation timed out`
		timeout  = `Post "https://localhost:8443/github": net/http: timeout awaiting response headers`
		params   = "failed to resolve params: no field named branch"
	)
	logLines := []string{
		line("ERROR", "Failed to create the metrics exporter", "", "-"), // no event: not a delivery's
		`not JSON`,
		// Verbatim from a run: the group stopped (the trigger group's
		// interceptor logs through the event's logger: no group, no
		// trigger), the event ID twice.
		`{"severity":"DEBUG","timestamp":"2026-12-05T17:28:55.307203671Z","logger":"eventlistener","caller":"sink/sink.go:331","message":"` +
			forged + `","eventlistener":"pipec-listener","namespace":"burst-ci","/triggers-eventid":"forged","eventlistenerUID":"287847b6-739b-4c96-a4ff-d96c620d9688","/triggers-eventid":"forged"}`,
	}
	events := []string{"ok", "group", "forged", "create", "silent", "push-stopped", "group-error", "other-group", "blamed"}
	for _, e := range events {
		logLines = append(logLines, line("DEBUG", prFilter, e, "api-pull-request"), line("DEBUG", prFilter, e, "web-pull-request"))
	}
	logLines = append(logLines,
		line("DEBUG", secret, "group", "-"),
		line("ERROR", "problem creating obj: &fmt.wrapError{msg:\"couldn't create resource\"}", "create", "web-push"),
		line("ERROR", create, "create", "web-push"),
		line("DEBUG", stopped+"an unrelated trigger", "silent", "docs-pull-request"),
		line("DEBUG", stopped+"expression body.ref == 'refs/heads/main' did not return true", "push-stopped", "api-push"),
		line("ERROR", params, "push-stopped", "web-push"),
		line("ERROR", timeout, "group-error", ""),
		line("DEBUG", secret, "other-group", "-"),
		line("DEBUG", stopped+"event type push is not allowed", "other-group", "-"), // a pull-request group's
		line("DEBUG", stopped+"event type  is not allowed", "other-group", "-"),     // a GitLab group's
		line("ERROR", create, "blamed", "api-push"),                                 // yet its run exists
	)
	file := filepath.Join(t.TempDir(), "eventlistener.log")
	if err := os.WriteFile(file, []byte(strings.Join(logLines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(trigger string) runRecord { return runRecord{Trigger: trigger} }
	runs := map[string][]runRecord{
		"ok":     {run("api-push"), run("web-push")},
		"create": {run("api-push")},
		"silent": {run("web-push")},
		"blamed": {run("api-push")},
	}
	got := dropped(file, events, runs, []string{"api-push", "web-push"})
	want := map[string]int{
		secret:  4, // group, other-group
		forged:  2,
		timeout: 2,
		"couldn't create the run: Internal error occurred: resource quota evaluation timed out": 1,
		stopped + "expression body.ref == 'refs/heads/main' did not return true":                1,
		params:                                 1,
		"no reason in the EventListener's log": 2, // silent, blamed
	}
	if !maps.Equal(got, want) {
		t.Errorf("dropped =\n%v\nwant\n%v", got, want)
	}
	if got := dropped(filepath.Join(t.TempDir(), "missing.log"), []string{"a"}, nil, []string{"api-push"}); len(got) != 1 || !strings.Contains(strings.Join(slices.Collect(maps.Keys(got)), ""), "could not be read") {
		t.Errorf("without a log: %v", got)
	}

	r := &Report{Result: &Result{Options: Options{Runs: 10}, Deliveries: 5, Accepted: 5, Runs: 6, Dropped: map[string]int{secret: 4}, BaselineNodes: 1, PeakNodes: 2, FinalNodes: 1}}
	var msgs []string
	for _, err := range r.Check() {
		msgs = append(msgs, err.Error())
	}
	for _, w := range []string{"did not start 4 of their runs: " + secret, "6 PipelineRuns were created, want 10"} {
		if !strings.Contains(strings.Join(msgs, "\n"), w) {
			t.Errorf("Check() = %q, want it to say %q", msgs, w)
		}
	}
}
