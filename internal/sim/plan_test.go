package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pipec/pipec/compiler"
)

func shopScenario(t *testing.T, set Setup) Scenario {
	t.Helper()
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/shop"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("building the shop example: %v %v", err, res.Diagnostics)
	}
	sc, err := FromPlan(res.Plan, set)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestFromPlanShop(t *testing.T) {
	arrivals, _ := ParseBurst("100 runs in 10m")
	sc := shopScenario(t, Setup{Arrivals: arrivals})
	// The services' pipelines run clone, test, build one after the other:
	// the peak is the build task (kaniko 1 CPU, 2Gi, plus a 100m step).
	if sc.Workload.PodsPerRun != 1 || sc.Workload.Requests != (Resources{CPU: 1100, Memory: 2176 << 20}) {
		t.Errorf("workload = %d pods of %+v", sc.Workload.PodsPerRun, sc.Workload.Requests)
	}
	if sc.Pool.Node != (Resources{CPU: 8000, Memory: 32 << 30}) || sc.Pool.Limit != (Resources{CPU: 64000, Memory: 256 << 30}) {
		t.Errorf("pool = %+v", sc.Pool)
	}
	if sc.Pool.ConsolidateAfter != 2*time.Minute || !sc.Pool.WhenUnderutilized || sc.Pool.Budget != 0.2 {
		t.Errorf("pool disruption = %+v", sc.Pool)
	}
	if sc.Quota.PipelineRuns != 30 || sc.Quota.Requests.CPU != 24000 {
		t.Errorf("quota = %+v", sc.Quota)
	}
	a := sc.Autoscaled
	if a == nil || !a.OnPool || a.HPA.Min != 2 || a.HPA.Max != 6 || len(a.HPA.Metrics) != 1 || a.HPA.Metrics[0].Kind != AverageValue || a.HPA.Metrics[0].Target != 5 {
		t.Fatalf("autoscaled = %+v", a)
	}
	if a.HPA.ScaleDown.StabilizationWindow != 5*time.Minute {
		t.Errorf("scale-down window = %v, want the schema's default of 300s", a.HPA.ScaleDown.StabilizationWindow)
	}
	if sc.Duration != time.Hour || sc.Every != 3*time.Minute {
		t.Errorf("duration %v every %v", sc.Duration, sc.Every)
	}
	// The listener instead: CPU utilization, off the pool.
	sc = shopScenario(t, Setup{Arrivals: arrivals, Autoscaler: "listener"})
	if a := sc.Autoscaled; a.OnPool || a.HPA.Metrics[0].Kind != Utilization || a.Requests.CPU != 50 {
		t.Errorf("listener = %+v", a)
	}
	if sc := shopScenario(t, Setup{Arrivals: arrivals, Autoscaler: "none"}); sc.Autoscaled != nil {
		t.Error("--autoscaler none still simulates one")
	}
}

func TestFromPlanErrors(t *testing.T) {
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/shop"})
	if err != nil {
		t.Fatal(err)
	}
	arrivals := []time.Duration{0}
	for _, tc := range []struct {
		set  Setup
		want string
	}{
		{Setup{}, "no runs arrive"},
		{Setup{Arrivals: arrivals, Pipeline: "deploy"}, `unknown pipeline "deploy"; expected one of "cart", "cart-preview-tests", "catalog", "checkout", "smoke-dev"`},
		{Setup{Arrivals: arrivals, Pool: "gpu"}, `unknown node pool "gpu"; expected one of "ci"`},
		{Setup{Arrivals: arrivals, Autoscaler: "web"}, `unknown autoscaler "web"`},
	} {
		if _, err := FromPlan(res.Plan, tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromPlan(%+v) = %v, want %q", tc.set, err, tc.want)
		}
	}
}

func TestVary(t *testing.T) {
	base := scenario()
	out, err := Vary(base, "scaleDown.stabilizationWindow=60s, 300s")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "scaleDown.stabilizationWindow=60s" || out[0].Autoscaled.HPA.ScaleDown.StabilizationWindow != time.Minute ||
		out[1].Autoscaled.HPA.ScaleDown.StabilizationWindow != 5*time.Minute {
		t.Fatalf("Vary = %+v", out)
	}
	if base.Autoscaled.HPA.ScaleDown.StabilizationWindow != DefaultScaleDown.StabilizationWindow {
		t.Error("Vary changed the base scenario's autoscaler")
	}
	for spec, want := range map[string]string{
		"pool.limits.cpu=32,64":       "",
		"pool.consolidateAfter=Never": "",
		"quota.pipelineRuns=10":       "",
		"minReplicas=20":              "minReplicas 20 above maxReplicas 10",
		"replicas=3":                  "invalid comparison",
		"maxReplicas=":                "invalid comparison",
		"runDuration=soon":            `"soon" is not a duration`,
		"pool.nodeShape.cpu=0":        `"0" is not a quantity above 0`,
	} {
		_, err := Vary(base, spec)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("Vary(%q) = %v, want %q", spec, err, want)
		}
	}
}

// A varied setting changes both what is simulated and how the scenario
// describes itself; keeping empty nodes 30 minutes costs node-hours.
func TestVaryConsolidateAfterShop(t *testing.T) {
	arrivals, _ := ParseBurst("40 runs in 5m")
	out, err := Vary(shopScenario(t, Setup{Arrivals: arrivals}), "pool.consolidateAfter=2m,30m")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out[1].About(), "consolidated after 30m00s") {
		t.Errorf("About() of the varied scenario:\n%s", out[1].About())
	}
	short, long := Run(out[0]), Run(out[1])
	if long.NodeHours <= short.NodeHours {
		t.Errorf("node-hours with consolidateAfter 30m = %.2f, 2m = %.2f; want more with 30m", long.NodeHours, short.NodeHours)
	}
	// With 30m, the last runs end at about 20m: nodes stay until about 50m.
	for _, s := range long.Timeline {
		if s.At > 22*time.Minute && s.At < 45*time.Minute && s.Nodes < 2 {
			t.Errorf("at %v: %d nodes; want the pool to keep them for consolidateAfter", s.At, s.Nodes)
		}
	}
}

func TestParseBurst(t *testing.T) {
	a, err := ParseBurst("500 runs in 10m")
	if err != nil || len(a) != 500 || a[0] != 0 || a[499] >= 10*time.Minute || a[250] != 5*time.Minute {
		t.Fatalf("ParseBurst = %d arrivals, %v", len(a), err)
	}
	if a, err := ParseBurst("20 runs"); err != nil || len(a) != 20 || a[19] != 0 {
		t.Errorf("all at once: %v %v", a, err)
	}
	for _, bad := range []string{"", "many runs", "0 runs in 1m", "5 runs in soon"} {
		if _, err := ParseBurst(bad); err == nil {
			t.Errorf("ParseBurst(%q) accepted", bad)
		}
	}
}

func TestReadTrace(t *testing.T) {
	a, err := ReadTrace(strings.NewReader("offset,count\n# comment\n\n0,2\n90s,1\n2.5,3\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 0, 90 * time.Second, 2500 * time.Millisecond, 2500 * time.Millisecond, 2500 * time.Millisecond}
	if len(a) != len(want) {
		t.Fatalf("ReadTrace = %v", a)
	}
	for i := range want {
		if a[i] != want[i] {
			t.Fatalf("ReadTrace = %v, want %v", a, want)
		}
	}
	for in, msg := range map[string]string{
		"":                "no runs",
		"0s,1\nlater,2\n": `t.csv:2: invalid offset "later"`,
		"0s,many\n":       `t.csv:1: invalid count "many"`,
		"-5s,1\n":         `negative offset`,
	} {
		if _, err := ReadTrace(strings.NewReader(in), "t.csv"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ReadTrace(%q) = %v, want %q", in, err, msg)
		}
	}
}
