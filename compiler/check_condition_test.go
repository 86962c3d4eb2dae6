package compiler

import (
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pipec/pipec/model"
)

// TestReadyMadeConditions compiles the conditions pipec writes for the
// ready-made objectives as the Argo Rollouts controller does, on the
// result their queries return.
func TestReadyMadeConditions(t *testing.T) {
	a := &model.App{Name: "checkout", Metrics: model.AppMetrics{Selector: `app="$(app)"`, Requests: "http_requests_total", Duration: "http_request_duration_seconds"}}
	v := 0.99
	for _, o := range []*model.Objective{
		{Name: "success-rate", SuccessRate: &v, Window: "5m"},
		{Name: "latency", Latency: &model.Latency{Quantile: 0.95, AtMost: "300ms"}, Window: "5m"},
	} {
		q := model.ObjectiveQuery(a, "prod", "shop-prod", o)
		expr, err := parser.ParseExpr(q.PromQL)
		if err != nil {
			t.Fatalf("%s: %v", o.Name, err)
		}
		for _, c := range []string{q.SuccessCondition, q.FailureCondition} {
			if err := conditionError(c, expr.Type()); err != nil {
				t.Errorf("%s: %q: %v", o.Name, c, err)
			}
		}
	}
	// Conditions written with the controller's functions, as its
	// documentation shows them (utils/evaluate in argo-rollouts v1.8.3).
	for _, c := range []string{
		"isNil(result) || result[0] < 5",
		"default(result, [0])[0] < 5",
		"!isNaN(result[0]) && !isInf(result[0]) && asInt(result[0]) < 5",
		"asFloat(result[0]) >= 0.99",
	} {
		if err := conditionError(c, parser.ValueTypeVector); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	if conditionError("isNil() || result[0] < 5", parser.ValueTypeVector) == nil {
		t.Error("isNil without the result compiles; the controller refuses it")
	}
	if conditionError("result[0] < 1", parser.ValueTypeScalar) == nil {
		t.Error("indexing a scalar result compiles")
	}
	if conditionError("result[0] + 1", parser.ValueTypeVector) == nil {
		t.Error("a condition that is not a boolean passes")
	}
}
