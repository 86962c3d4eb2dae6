package sim

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func burst(n int, over time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * over / time.Duration(n)
	}
	return out
}

func scenario() Scenario {
	return Scenario{
		Name: "burst",
		Pool: Pool{
			Node: Resources{CPU: 8000, Memory: 32 << 30}, Limit: Resources{CPU: 160000},
			ProvisionDelay: time.Minute, ConsolidateAfter: time.Minute, Budget: 0.1,
		},
		Workload: Workload{Arrivals: burst(100, 10*time.Minute), PodsPerRun: 3, Requests: Resources{CPU: 1000, Memory: 2 << 30}, RunDuration: 8 * time.Minute},
		Autoscaled: &Autoscaled{
			HPA:      NewHPA(2, 10, []Metric{{Kind: AverageValue, Target: 5}}, DefaultScaleUp, DefaultScaleDown),
			Requests: Resources{CPU: 250, Memory: 256 << 20}, OnPool: true,
		},
		Duration: 90 * time.Minute,
		Every:    time.Minute,
	}
}

func TestBurst(t *testing.T) {
	res := Run(scenario())
	if res.Runs != 100 || res.Completed != 100 || res.Rejected != 0 || res.Starved != 0 {
		t.Fatalf("runs %d, completed %d, rejected %d, starved %d", res.Runs, res.Completed, res.Rejected, res.Starved)
	}
	// Nodes take a minute to arrive: the first runs wait about that long.
	if res.WaitMax < time.Minute {
		t.Errorf("max queue wait %v, want at least the provisioning delay", res.WaitMax)
	}
	// The pool's limit: 160 CPUs of 8-CPU nodes.
	if res.PeakNodes > 20 {
		t.Errorf("peak nodes %d above the pool limit of 20", res.PeakNodes)
	}
	if res.PeakReplicas != 10 || res.AtMax == 0 {
		t.Errorf("peak replicas %d, at max %v; the burst should pin the HPA at 10", res.PeakReplicas, res.AtMax)
	}
	last := res.Timeline[len(res.Timeline)-1]
	if last.Nodes > 1 || last.Replicas != 2 {
		t.Errorf("after the burst: %d nodes, %d replicas; want the pool consolidated and the HPA at its minimum", last.Nodes, last.Replicas)
	}
	var longest time.Duration
	for _, s := range res.Series {
		if s.Replicas > 10 || (s.Replicas < 2 && s.At > 0) {
			t.Fatalf("replicas %d outside [2, 10] at %v", s.Replicas, s.At)
		}
		// The oldest waiting run has waited at most since the start, and
		// no longer than the longest wait of any run.
		if s.WaitingRuns == 0 && s.QueueWait != 0 || s.QueueWait > s.At || s.QueueWait > res.WaitMax {
			t.Fatalf("at %v: %d waiting, queue wait %v (max wait %v)", s.At, s.WaitingRuns, s.QueueWait, res.WaitMax)
		}
		longest = max(longest, s.QueueWait)
	}
	if longest < res.WaitMax-PlotPeriod(scenario().Duration) {
		t.Errorf("the timeline's longest queue wait %v is short of the longest run's wait %v", longest, res.WaitMax)
	}
}

// A tight node pool limit makes runs queue: waits grow, nothing is lost.
func TestPoolLimitQueues(t *testing.T) {
	s := scenario()
	s.Pool.Limit = Resources{CPU: 32000}
	res := Run(s)
	wide := Run(scenario())
	if res.PeakNodes > 4 {
		t.Errorf("peak nodes %d above the limit of 4", res.PeakNodes)
	}
	if res.WaitP95 <= wide.WaitP95 {
		t.Errorf("p95 wait with the tight limit %v, want more than %v", res.WaitP95, wide.WaitP95)
	}
	if res.Completed != 100 {
		t.Errorf("completed %d of 100", res.Completed)
	}
}

// The PipelineRun quota rejects runs beyond it.
func TestQuotaRejects(t *testing.T) {
	s := scenario()
	s.Quota.PipelineRuns = 20
	res := Run(s)
	if res.Rejected == 0 || res.Completed+res.Rejected != 100 {
		t.Errorf("rejected %d, completed %d", res.Rejected, res.Completed)
	}
}

// A longer scale-down stabilization window keeps replicas up longer.
func TestStabilizationComparison(t *testing.T) {
	short, long := scenario(), scenario()
	short.Autoscaled.HPA = NewHPA(2, 10, []Metric{{Kind: AverageValue, Target: 5}}, DefaultScaleUp, Rules{StabilizationWindow: 60 * time.Second, SelectPolicy: SelectMax, Policies: DefaultScaleDown.Policies})
	a, b := Run(short), Run(long)
	replicaMinutes := func(r Result) int {
		n := 0
		for _, s := range r.Timeline {
			n += int(s.Replicas)
		}
		return n
	}
	if replicaMinutes(a) >= replicaMinutes(b) {
		t.Errorf("60s window: %d replica-minutes, 300s window: %d; want fewer with the shorter window", replicaMinutes(a), replicaMinutes(b))
	}
}

func TestPlotSVGIsWellFormed(t *testing.T) {
	a, b := scenario(), scenario()
	b.Name = "a <tight> & small pool"
	b.Pool.Limit = Resources{CPU: 16000}
	var buf bytes.Buffer
	ra := Run(a)
	if err := PlotSVG(&buf, []Result{ra, Run(b)}); err != nil {
		t.Fatal(err)
	}
	// Lines are drawn from the fine series, not the table's rows.
	if want := int(a.Duration/PlotPeriod(a.Duration)) + 1; len(ra.Series) != want || len(ra.Series) <= len(ra.Timeline) {
		t.Errorf("%d points in the series and %d rows; want %d points", len(ra.Series), len(ra.Timeline), want)
	}
	if !bytes.Contains(buf.Bytes(), []byte(">30m00s</text>")) {
		t.Errorf("no tick at 30m00s on the time axis")
	}
	dec := xml.NewDecoder(&buf)
	lines, points := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
			for _, at := range se.Attr {
				if at.Name.Local == "points" {
					points = max(points, len(strings.Fields(at.Value)))
				}
			}
		}
	}
	if lines != 2*len(series) {
		t.Errorf("%d lines, want %d per panel", lines, len(series))
	}
	if points != len(ra.Series) {
		t.Errorf("lines of %d points, want %d", points, len(ra.Series))
	}
}

// BenchmarkRun simulates 500 runs over 10 minutes through two hours.
func BenchmarkRun(b *testing.B) {
	s := scenario()
	s.Workload.Arrivals = burst(500, 10*time.Minute)
	s.Pool.Limit = Resources{}
	s.Duration = 2 * time.Hour
	for b.Loop() {
		Run(s)
	}
}

// TestAffinityAssistantsDeadlock is what the end-to-end scale test showed
// on Tekton: when a burst starts as many runs as the pod quota has pods,
// their affinity assistants hold the whole quota and no TaskRun pod can be
// created, so no run ever finishes; without assistants the same burst
// drains.
func TestAffinityAssistantsDeadlock(t *testing.T) {
	arrivals := make([]time.Duration, 200)
	base := Scenario{
		Pool:     Pool{Node: Resources{CPU: 8000, Memory: 32 << 30}, ProvisionDelay: 5 * time.Second, ConsolidateAfter: 30 * time.Second},
		Workload: Workload{Arrivals: arrivals, PodsPerRun: 2, Requests: Resources{CPU: 500, Memory: 1 << 30}, RunDuration: time.Minute},
		Quota:    Quota{Pods: 60},
		Duration: time.Hour, Every: time.Minute,
	}
	free := Run(base)
	if free.Completed != 200 || free.Starved != 0 {
		t.Fatalf("without assistants: %d of 200 completed, %d starved", free.Completed, free.Starved)
	}
	base.Workload.Assistant = true
	stuck := Run(base)
	if stuck.Completed != 0 || stuck.Starved != 200 {
		t.Errorf("with assistants: %d of 200 completed, %d starved; want a deadlock", stuck.Completed, stuck.Starved)
	}
	// Fewer runs than the quota has room for drain, slower than without.
	base.Workload.Arrivals = arrivals[:40]
	few := Run(base)
	if few.Completed != 40 {
		t.Errorf("40 runs with assistants in a 60-pod quota: %d completed", few.Completed)
	}
}
