package compiler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// checkAnalysis checks an app's objectives and tests in one environment
// and the analysis its strategy runs: each objective is exactly one kind;
// every query, its placeholders filled in, parses with Prometheus' parser,
// reads only metrics the app declares and returns what Argo Rollouts
// reads (an instant vector or a scalar); every name a strategy gives is an
// objective or test of the app there; and a canary's background analysis
// can fail within each timed pause it guards. Findings about what the app
// declares once are reported once.
func (c *checker) checkAnalysis(a *model.App, dep *model.Deployment, env *model.Environment, seen map[string]bool) {
	report := func(r diag.Rule, path model.Path, format string, args ...any) *diag.Diagnostic {
		msg := fmt.Sprintf(format, args...)
		if seen[string(path)+"\x00"+msg] {
			return &diag.Diagnostic{}
		}
		seen[string(path)+"\x00"+msg] = true
		return c.report(r, path, "%s", msg)
	}
	for _, o := range dep.Objectives {
		kinds := 0
		for _, set := range []bool{o.SuccessRate != nil, o.Latency != nil, o.Query != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			d := report(ruleAnalysis, o.Path, "objective %q of app %q sets %d of successRate, latency and query", o.Name, a.Name, kinds)
			d.Expected = "exactly one of successRate: {atLeast: 0.99}, latency: {atMost: \"300ms\"} or query: {promql: \"...\", successCondition: \"...\"}"
			continue
		}
		// An objective the app declares is checked once, not once per
		// environment.
		if key := "durations\x00" + string(o.Path); !seen[key] {
			seen[key] = true
			before := len(c.out)
			for _, f := range []struct{ field, value string }{{"window", o.Window}, {"interval", o.Interval}, {"initialDelay", o.InitialDelay}} {
				if f.value != "" {
					c.checkDuration(o.Path.Field(f.field), f.value)
				}
			}
			if o.Latency != nil {
				c.checkDuration(o.Path.Field("latency").Field("atMost"), o.Latency.AtMost)
			}
			seen["bad-durations\x00"+string(o.Path)] = len(c.out) > before
		}
		if seen["bad-durations\x00"+string(o.Path)] {
			continue // a duration the query holds is wrong, reported
		}
		at := a.Metrics.Path.Field("selector")
		if o.Query != nil {
			at = o.Path.Field("query").Field("promql")
			if bad := model.UnknownPlaceholders(o.Query.PromQL, model.Placeholders...); len(bad) > 0 {
				d := report(ruleAnalysis, at, "objective %q of app %q uses the unknown placeholder $(%s)", o.Name, a.Name, bad[0])
				d.Expected = "placeholders $(" + strings.Join(model.Placeholders, "), $(") + ")"
				continue
			}
		}
		if bad := model.UnknownPlaceholders(a.Metrics.Selector, "app", "environment", "namespace"); len(bad) > 0 {
			d := report(ruleAnalysis, a.Metrics.Path.Field("selector"), "the metrics selector of app %q uses the unknown placeholder $(%s)", a.Name, bad[0])
			d.Expected = "placeholders $(app), $(namespace), $(environment)"
			continue
		}
		q := model.ObjectiveQuery(a, env.Name, env.Namespace, o)
		expr, err := parser.ParseExpr(q.PromQL)
		if err != nil {
			d := report(ruleAnalysis, at, "Prometheus cannot parse the query of objective %q of app %q: %s", o.Name, a.Name, promError(err))
			d.Expected = "a PromQL expression"
			d.Hint = "the query, as pipec fills it in for " + env.Name + ": " + q.PromQL
			continue
		}
		if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
			d := report(ruleAnalysis, at, "the query of objective %q of app %q returns a %s", o.Name, a.Name, t)
			d.Expected = "an instant vector or a scalar, which Argo Rollouts' conditions read as result"
			d.Hint = "wrap a range selector in a function such as rate(...[5m])"
			continue
		}
		if o.Query != nil {
			for _, f := range []struct{ field, cond string }{{"successCondition", o.Query.SuccessCondition}, {"failureCondition", o.Query.FailureCondition}} {
				if f.cond == "" {
					continue
				}
				if err := conditionError(f.cond, expr.Type()); err != nil {
					d := report(ruleAnalysis, o.Path.Field("query").Field(f.field), "the Argo Rollouts controller cannot evaluate the %s of objective %q of app %q: %v", f.field, o.Name, a.Name, err)
					d.Expected = fmt.Sprintf("a condition on result, a %s, such as %q", resultKind(expr.Type()), exampleCondition(expr.Type()))
				}
			}
		}
		declared := a.Metrics.Declared()
		for _, m := range metricNames(expr) {
			if !slices.Contains(declared, m) {
				d := report(ruleAnalysis, at, "objective %q of app %q reads metric %q, which the app does not declare", o.Name, a.Name, m)
				d.Expected = "a metric the app exports: " + diag.OneOf(declared)
				if s := diag.Suggest(m, declared); s != "" {
					d.Hint = fmt.Sprintf("did you mean %q? Or add %q to apps.%s.metrics.produces", s, m, a.Name)
				} else {
					d.Hint = fmt.Sprintf("add %q to apps.%s.metrics.produces", m, a.Name)
				}
			}
		}
	}
	for _, t := range dep.Tests {
		if key := "timeout\x00" + string(t.Path); !seen[key] {
			seen[key] = true
			c.checkDuration(t.Path.Field("timeout"), t.Timeout)
		}
	}
	c.checkAnalysisNames(a, dep, report)
	c.checkAnalysisFits(a, dep, report)
}

func resultKind(t parser.ValueType) string {
	if t == parser.ValueTypeScalar {
		return "number (the query returns a scalar)"
	}
	return "list of numbers (the query returns an instant vector)"
}

func exampleCondition(t parser.ValueType) string {
	if t == parser.ValueTypeScalar {
		return "result < 5"
	}
	return "len(result) > 0 && result[0] < 5"
}

// promError is a parse error of Prometheus without its position prefix
// when there is one error.
func promError(err error) string {
	var pe parser.ParseErrors
	if errors.As(err, &pe) && len(pe) > 0 {
		return pe[0].Error()
	}
	return err.Error()
}

// metricNames are the metric names the query's selectors read.
func metricNames(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" && m.Type.String() == "=" {
					name = m.Value
				}
			}
		}
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
		return nil
	})
	return out
}

func (c *checker) checkAnalysisNames(a *model.App, dep *model.Deployment, report func(diag.Rule, model.Path, string, ...any) *diag.Diagnostic) {
	var names []string
	for _, o := range dep.Objectives {
		names = append(names, o.Name)
	}
	for _, t := range dep.Tests {
		names = append(names, t.Name)
	}
	check := func(path model.Path, list []string) {
		for i, n := range list {
			if dep.Objective(n) != nil || dep.Test(n) != nil {
				continue
			}
			d := report(ruleAnalysis, path.Index(i), "app %q has no objective or test %q in %q", a.Name, n, dep.Environment)
			if len(names) == 0 {
				d.Expected = "the name of an objective or test of the app; it declares none"
			} else {
				d.Expected = "an objective or test of the app: " + diag.OneOf(names)
			}
			if s := diag.Suggest(n, names); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = fmt.Sprintf("declare it under apps.%s.objectives or apps.%s.tests; pipec emits its AnalysisTemplate", a.Name, a.Name)
			}
		}
	}
	s := dep.Strategy
	switch {
	case s.Canary != nil:
		check(s.Path.Field("canary").Field("analysis").Field("templates"), s.Canary.Analysis)
		for i, st := range s.Canary.Steps {
			check(s.Path.Field("canary").Field("steps").Index(i).Field("analysis").Field("templates"), st.Analysis)
		}
	case s.BlueGreen != nil:
		check(s.Path.Field("blueGreen").Field("prePromotionAnalysis").Field("templates"), s.BlueGreen.PrePromotionAnalysis)
		check(s.Path.Field("blueGreen").Field("postPromotionAnalysis").Field("templates"), s.BlueGreen.PostPromotionAnalysis)
	}
}

// checkAnalysisFits requires a canary's background analysis to be able to
// fail within every timed pause it guards: otherwise the canary moves on to
// a larger weight (or to 100%) before a bad release can be aborted. A
// blue-green release's post-promotion analysis must end within
// scaleDownDelaySeconds: the controller cancels it when it scales the
// previous version down.
func (c *checker) checkAnalysisFits(a *model.App, dep *model.Deployment, report func(diag.Rule, model.Path, string, ...any) *diag.Diagnostic) {
	an := dep.ResolveAnalyses()
	if b := dep.Strategy.BlueGreen; b != nil {
		sd := time.Duration(b.ScaleDownDelaySeconds) * time.Second
		for _, n := range an.PostPromotion {
			o := dep.Objective(n)
			if o == nil {
				continue
			}
			t := dep.ObjectiveTiming(o, an)
			if t.Count == 0 || t.Duration() <= sd {
				continue
			}
			d := report(ruleAnalysis, dep.Strategy.Path.Field("blueGreen").Field("scaleDownDelaySeconds"),
				"the post-promotion analysis of objective %q ends %s after promotion, but the previous version is scaled down and the analysis cancelled after scaleDownDelaySeconds (%d): a failure could no longer switch back",
				o.Name, model.FormatDuration(t.Duration()), b.ScaleDownDelaySeconds)
			d.Expected = fmt.Sprintf("scaleDownDelaySeconds of at least %d", int64((t.Duration()+time.Second-1)/time.Second))
			d.Hint = fmt.Sprintf("raise scaleDownDelaySeconds, or shorten %s (or its count, initialDelay)", o.Path.Field("interval"))
		}
		return
	}
	cn := dep.Strategy.Canary
	if cn == nil {
		return
	}
	start := an.StartingStep
	if an.Inserted >= 0 && an.Inserted < start {
		start--
	}
	for _, n := range an.Background {
		o := dep.Objective(n)
		if o == nil {
			continue
		}
		t := dep.ObjectiveTiming(o, an)
		need := t.TimeToFail()
		for i := start; i < len(cn.Steps); i++ {
			st := cn.Steps[i]
			if st.Pause == nil || st.Pause.Duration == "" {
				continue
			}
			p, err := time.ParseDuration(st.Pause.Duration)
			if err != nil || p >= need {
				continue
			}
			d := report(ruleAnalysis, dep.Strategy.Path.Field("canary").Field("steps").Index(i).Field("pause").Field("duration"),
				"the pause of %s ends before objective %q can fail: it measures every %s and aborts on failure %d, %s after it starts",
				st.Pause.Duration, o.Name, model.FormatDuration(t.Interval), t.FailureLimit+1, model.FormatDuration(need))
			d.Expected = fmt.Sprintf("a pause of at least %s", model.FormatDuration(need))
			d.Hint = fmt.Sprintf("lengthen the pause, or shorten %s (or its failureLimit, initialDelay)", o.Path.Field("interval"))
		}
	}
}
