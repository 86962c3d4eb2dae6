package model

import (
	"testing"
	"time"
)

func weight(w int32) CanaryStep { return CanaryStep{SetWeight: &w} }
func pause(d string) CanaryStep { return CanaryStep{Pause: &Pause{Duration: d}} }

// TestResolveAnalysesAndTiming holds the defaults the README documents:
// what a strategy runs where it names nothing, and the interval, count and
// limits that fit its pauses or its scale-down delay.
func TestResolveAnalysesAndTiming(t *testing.T) {
	sr := &Objective{Name: "success-rate", Window: "5m"}
	lat := &Objective{Name: "latency", Window: "5m", Interval: "45s"}
	smoke := &TestJob{Name: "smoke"}
	canary := &Deployment{
		Objectives: []*Objective{lat, sr}, Tests: []*TestJob{smoke},
		Strategy: Strategy{Canary: &Canary{Steps: []CanaryStep{pause("1m"), weight(20), pause("90s"), weight(50), pause("10m")}}},
	}
	an := canary.ResolveAnalyses()
	if got := an.Background; len(got) != 2 || got[0] != "latency" || got[1] != "success-rate" {
		t.Errorf("background = %v, want every objective", got)
	}
	if an.StartingStep != 2 || an.Inserted != 2 || len(an.Steps) != 6 || an.Steps[2].Analysis[0] != "smoke" {
		t.Errorf("steps = %+v, starting %d, inserted %d: want the test right after the first weight and the analysis from there", an.Steps, an.StartingStep, an.Inserted)
	}
	// The pause before the first weight is not guarded: a third of 90s.
	tm := canary.ObjectiveTiming(sr, an)
	if tm.Interval != 30*time.Second || tm.Count != 0 || tm.FailureLimit != 1 || tm.InconclusiveLimit != 1 || tm.TimeToFail() != 30*time.Second {
		t.Errorf("background timing = %+v", tm)
	}
	if tm := canary.ObjectiveTiming(lat, an); tm.Interval != 45*time.Second {
		t.Errorf("an interval the objective sets is kept: %+v", tm)
	}

	bg := &Deployment{
		Objectives: []*Objective{sr}, Tests: []*TestJob{smoke},
		Strategy: Strategy{BlueGreen: &BlueGreen{ScaleDownDelaySeconds: 30}},
	}
	an = bg.ResolveAnalyses()
	if len(an.PrePromotion) != 1 || an.PrePromotion[0] != "smoke" || len(an.PostPromotion) != 1 || an.PostPromotion[0] != "success-rate" {
		t.Errorf("blue-green: pre %v, post %v; want the tests before promotion, the objectives after", an.PrePromotion, an.PostPromotion)
	}
	tm = bg.ObjectiveTiming(sr, an)
	if tm.Count != 3 || tm.Interval != 10*time.Second || tm.Duration() > 30*time.Second {
		t.Errorf("post-promotion timing = %+v: want 3 measurements within scaleDownDelaySeconds", tm)
	}
}

func TestObjectiveQuery(t *testing.T) {
	a := &App{Name: "checkout", Metrics: AppMetrics{Selector: `namespace="$(namespace)", app="$(app)"`, Requests: "http_requests_total", Duration: "http_request_duration_seconds"}}
	v := 0.99
	q := ObjectiveQuery(a, "prod", "shop-prod", &Objective{SuccessRate: &v, Window: "2m"})
	want := `sum(rate(http_requests_total{namespace="shop-prod", app="checkout", code!~"5.."}[2m])) / sum(rate(http_requests_total{namespace="shop-prod", app="checkout"}[2m]))`
	if q.PromQL != want || q.SuccessCondition != "len(result) > 0 && result[0] >= 0.99" || q.FailureCondition != "len(result) > 0 && result[0] < 0.99" {
		t.Errorf("success rate: %+v", q)
	}
	q = ObjectiveQuery(a, "prod", "shop-prod", &Objective{Query: &RawQuery{PromQL: `sum(increase(orders_failed_total{$(selector), env="$(environment)"}[$(window)]))`, SuccessCondition: "result[0] < 5"}, Window: "5m"})
	if want := `sum(increase(orders_failed_total{namespace="shop-prod", app="checkout", env="prod"}[5m]))`; q.PromQL != want {
		t.Errorf("raw query: %s, want %s", q.PromQL, want)
	}
	if bad := UnknownPlaceholders("$(app) $(selecter) $(window)", Placeholders...); len(bad) != 1 || bad[0] != "selecter" {
		t.Errorf("unknown placeholders: %v", bad)
	}
}
