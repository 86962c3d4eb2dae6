package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// The replica calculation examples of the Kubernetes documentation
// (Horizontal Pod Autoscaling, "Algorithm details").
func TestProposalDocumentedExamples(t *testing.T) {
	m := Metric{Kind: Utilization, Target: 100}
	// "if the current metric value is 200m, and the desired value is
	// 100m, the number of replicas will be doubled"
	if got := Proposal(m, 200, 3); got != 6 {
		t.Errorf("200/100 with 3 replicas: %d, want 6", got)
	}
	// "If the current value is instead 50m, you'll halve the number of
	// replicas"
	if got := Proposal(m, 50, 6); got != 3 {
		t.Errorf("50/100 with 6 replicas: %d, want 3", got)
	}
	// "The control plane skips any scaling action if the ratio is
	// sufficiently close to 1.0 (within a configurable tolerance, 0.1 by
	// default)."
	for _, v := range []float64{90, 95, 105, 109} {
		if got := Proposal(m, v, 7); got != 7 {
			t.Errorf("%v/100 with 7 replicas: %d, want 7 (within tolerance)", v, got)
		}
	}
	if got := Proposal(m, 111, 10); got != 12 {
		t.Errorf("111/100 with 10 replicas: %d, want ceil(11.1)=12", got)
	}
	// desiredReplicas = ceil[currentReplicas * ( currentMetricValue / desiredMetricValue )]
	if got := Proposal(m, 130, 3); got != 4 {
		t.Errorf("130/100 with 3 replicas: %d, want ceil(3.9)=4", got)
	}
	// AverageValue: the total divided by the per-replica target.
	q := Metric{Kind: AverageValue, Target: 5}
	if got := Proposal(q, 42, 2); got != 9 {
		t.Errorf("42 queued, 5 per replica: %d, want 9", got)
	}
	if got := Proposal(q, 10.4, 2); got != 2 {
		t.Errorf("10.4 queued, 5 per replica, 2 replicas: %d, want 2 (within tolerance)", got)
	}
}

// "Scaling Policies" in the documentation: 80 replicas scaled down towards
// 10 with {Pods 4/60s, Percent 10/60s}: 8 at first, 10% while above 40,
// then 4 at a time.
func TestScaleDownPoliciesDocumentedExample(t *testing.T) {
	h := NewHPA(1, 100, []Metric{{Kind: AverageValue, Target: 1}}, DefaultScaleUp, Rules{
		SelectPolicy: SelectMax,
		Policies:     []Policy{{Type: Pods, Value: 4, Period: 60 * time.Second}, {Type: Percent, Value: 10, Period: 60 * time.Second}},
	})
	h.replicas = 80
	var got []int32
	for i := 0; i < 14; i++ {
		got = append(got, h.Step(t0.Add(time.Duration(i)*61*time.Second), []float64{10}))
	}
	want := []int32{72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10}
	if !slices.Equal(got, want) {
		t.Errorf("scale-down steps = %v\n want %v", got, want)
	}
	// Within one period the limit holds: 15s later nothing more moves.
	h2 := NewHPA(1, 100, []Metric{{Kind: AverageValue, Target: 1}}, DefaultScaleUp, h.ScaleDown)
	h2.replicas = 80
	h2.Step(t0, []float64{10})
	if r := h2.Step(t0.Add(15*time.Second), []float64{10}); r != 72 {
		t.Errorf("second step within the period: %d, want 72", r)
	}
}

// The default scale-up behavior: "4 pods or a 100% of the currently
// running replicas may at most be added every 15 seconds".
func TestDefaultScaleUp(t *testing.T) {
	h := NewHPA(1, 100, []Metric{{Kind: AverageValue, Target: 1}}, DefaultScaleUp, DefaultScaleDown)
	var got []int32
	for i := 0; i < 7; i++ {
		got = append(got, h.Step(t0.Add(time.Duration(i)*SyncPeriod), []float64{100}))
	}
	want := []int32{5, 10, 20, 40, 80, 100, 100}
	if !slices.Equal(got, want) {
		t.Errorf("scale-up steps = %v, want %v", got, want)
	}
}

// The default 300s scale-down stabilization window: the highest
// recommendation of the last five minutes wins.
func TestScaleDownStabilization(t *testing.T) {
	h := NewHPA(1, 20, []Metric{{Kind: AverageValue, Target: 1}}, DefaultScaleUp, DefaultScaleDown)
	now := t0
	for h.Replicas() < 10 {
		h.Step(now, []float64{10})
		now = now.Add(SyncPeriod)
	}
	last := now.Add(-SyncPeriod)
	for ; now.Before(last.Add(300 * time.Second)); now = now.Add(SyncPeriod) {
		if r := h.Step(now, []float64{1}); r != 10 {
			t.Fatalf("at +%v after the last high recommendation: %d replicas, want 10", now.Sub(last), r)
		}
	}
	if r := h.Step(now.Add(SyncPeriod), []float64{1}); r != 1 {
		t.Errorf("after the window: %d replicas, want 1", r)
	}
}

// Property: whatever the metrics, replicas stay within [min, max], and
// without scale-down stabilization or limits they follow the load.
func TestPropertyBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		minR, maxR := int32(1+r.IntN(3)), int32(5+r.IntN(40))
		h := NewHPA(minR, maxR, []Metric{{Kind: AverageValue, Target: float64(1 + r.IntN(5))}, {Kind: Utilization, Target: 60}},
			Rules{StabilizationWindow: time.Duration(r.IntN(120)) * time.Second, SelectPolicy: SelectMax, Policies: []Policy{{Type: Percent, Value: int32(10 + r.IntN(200)), Period: 15 * time.Second}}},
			Rules{StabilizationWindow: time.Duration(r.IntN(600)) * time.Second, SelectPolicy: SelectMin, Policies: []Policy{{Type: Pods, Value: int32(1 + r.IntN(5)), Period: 60 * time.Second}}})
		now := t0
		for step := 0; step < 300; step++ {
			got := h.Step(now, []float64{r.Float64() * 300, r.Float64() * 200})
			if got < minR || got > maxR {
				t.Fatalf("trial %d step %d: %d replicas outside [%d, %d]", trial, step, got, minR, maxR)
			}
			now = now.Add(SyncPeriod)
		}
	}
}

// Property: under constant load the HPA converges and then stays put.
func TestPropertyConverges(t *testing.T) {
	for _, load := range []float64{3, 17, 42, 250} {
		h := NewHPA(1, 50, []Metric{{Kind: AverageValue, Target: 5}}, DefaultScaleUp, DefaultScaleDown)
		now := t0
		var history []int32
		for i := 0; i < 120; i++ {
			history = append(history, h.Step(now, []float64{load}))
			now = now.Add(SyncPeriod)
		}
		final := history[len(history)-1]
		for _, r := range history[len(history)-40:] {
			if r != final {
				t.Fatalf("load %v: no steady state, last steps %v", load, history[len(history)-40:])
			}
		}
		want := min(int32(50), int32((load+4.999)/5))
		if final < want-1 || final > want {
			t.Errorf("load %v: settled at %d replicas, want about %d", load, final, want)
		}
	}
}

// Property: no scale-down happens within the stabilization window after a
// recommendation at least as high as the current replicas.
func TestPropertyScaleDownRespectsStabilization(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	window := 120 * time.Second
	h := NewHPA(1, 30, []Metric{{Kind: AverageValue, Target: 1}}, DefaultScaleUp, Rules{StabilizationWindow: window, SelectPolicy: SelectMax, Policies: DefaultScaleDown.Policies})
	now := t0
	type rec struct {
		at   time.Time
		want int32
	}
	var recs []rec
	prev := h.Replicas()
	for i := 0; i < 2000; i++ {
		load := float64(r.IntN(30))
		got := h.Step(now, []float64{load})
		recs = append(recs, rec{now, Proposal(h.Metrics[0], load, prev)})
		if got < prev {
			for _, x := range recs {
				if now.Sub(x.at) < window && x.want > got {
					t.Fatalf("step %d scaled down to %d although %v ago the recommendation was %d", i, got, now.Sub(x.at), x.want)
				}
			}
		}
		prev = got
		now = now.Add(SyncPeriod)
	}
}
