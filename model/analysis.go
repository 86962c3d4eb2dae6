package model

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AnalysisSettings are the settings every app's analysis shares.
type AnalysisSettings struct {
	PrometheusAddress string
	Path              Path
}

// AppMetrics describes an app's series in Prometheus.
type AppMetrics struct {
	Selector string
	Requests string
	Duration string
	Produces []string
	Path     Path
}

// Declared are the metric names the app exports: its requests counter,
// its duration histogram's series, and what it produces besides.
func (m AppMetrics) Declared() []string {
	out := []string{m.Requests}
	for _, s := range []string{"", "_bucket", "_count", "_sum"} {
		out = append(out, m.Duration+s)
	}
	return append(out, m.Produces...)
}

// Objective is what a release must hold, measured by Prometheus; exactly
// one of SuccessRate, Latency and Query is set (the checks report
// otherwise).
type Objective struct {
	Name        string
	SuccessRate *float64
	Latency     *Latency
	Query       *RawQuery
	Window      string
	// Empty or nil when not set: the target picks the defaults.
	Interval          string
	InitialDelay      string
	Count             *int64
	FailureLimit      *int64
	InconclusiveLimit *int64
	Path              Path
}

// Latency is a quantile of request durations that must stay at most AtMost.
type Latency struct {
	Quantile float64
	AtMost   string
}

// RawQuery is a PromQL query with its Argo Rollouts conditions.
type RawQuery struct {
	PromQL           string
	SuccessCondition string
	FailureCondition string
}

// TestJob is a test the analysis runs as a Job.
type TestJob struct {
	Name    string
	Image   string
	Command []string
	Args    []string
	Env     map[string]string
	Timeout string
	Retries int64
	Path    Path
}

// Objective returns the deployment's objective with the given name, or nil.
func (d *Deployment) Objective(name string) *Objective {
	for _, o := range d.Objectives {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Test returns the deployment's test with the given name, or nil.
func (d *Deployment) Test(name string) *TestJob {
	for _, t := range d.Tests {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Placeholders are what an objective's query and an app's selector may
// hold, filled in per deployment.
var Placeholders = []string{"app", "environment", "namespace", "selector", "window"}

var placeholderRE = regexp.MustCompile(`\$\(([^)]*)\)`)

// UnknownPlaceholders returns the $(name) placeholders of s that are not
// in allowed.
func UnknownPlaceholders(s string, allowed ...string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		ok := false
		for _, a := range allowed {
			ok = ok || m[1] == a
		}
		if !ok {
			out = append(out, m[1])
		}
	}
	return out
}

// Query is an objective's PromQL and conditions as the Argo Rollouts
// controller gets them: the ready-made shapes built from the app's
// metrics, placeholders filled in for the deployment's namespace.
type Query struct {
	PromQL           string
	SuccessCondition string
	FailureCondition string
}

// ObjectiveQuery builds the query of an objective of app a in namespace ns
// of environment env.
func ObjectiveQuery(a *App, env, ns string, o *Objective) Query {
	fill := strings.NewReplacer("$(app)", a.Name, "$(namespace)", ns, "$(environment)", env, "$(window)", o.Window)
	sel := fill.Replace(a.Metrics.Selector)
	fill = strings.NewReplacer("$(app)", a.Name, "$(namespace)", ns, "$(environment)", env, "$(window)", o.Window, "$(selector)", sel)
	// with joins the selector with one more matcher.
	with := func(m string) string {
		if strings.TrimSpace(sel) == "" {
			return m
		}
		return sel + ", " + m
	}
	// No data (no requests yet) is neither a success nor a failure: the
	// measurement is inconclusive.
	cond := func(op, v string) string { return "len(result) > 0 && result[0] " + op + " " + v }
	switch {
	case o.SuccessRate != nil:
		v := strconv.FormatFloat(*o.SuccessRate, 'f', -1, 64)
		return Query{
			PromQL: fmt.Sprintf(`sum(rate(%s{%s}[%s])) / sum(rate(%s{%s}[%s]))`,
				a.Metrics.Requests, with(`code!~"5.."`), o.Window, a.Metrics.Requests, sel, o.Window),
			SuccessCondition: cond(">=", v), FailureCondition: cond("<", v),
		}
	case o.Latency != nil:
		d, _ := time.ParseDuration(o.Latency.AtMost)
		v := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		q := strconv.FormatFloat(o.Latency.Quantile, 'f', -1, 64)
		return Query{
			PromQL: fmt.Sprintf(`histogram_quantile(%s, sum by (le) (rate(%s_bucket{%s}[%s])))`,
				q, a.Metrics.Duration, sel, o.Window),
			SuccessCondition: cond("<=", v), FailureCondition: cond(">", v),
		}
	case o.Query != nil:
		return Query{PromQL: fill.Replace(o.Query.PromQL), SuccessCondition: o.Query.SuccessCondition, FailureCondition: o.Query.FailureCondition}
	}
	return Query{}
}

// Analyses are the analyses a deployment's strategy runs, each with the
// objective and test names it names, after the defaults: a canary that
// names none of its app's objectives watches them all in the background,
// from the step after its first weight, and runs the tests it names
// nowhere in a step after that weight; a blue-green release runs unnamed
// tests before promotion and unnamed objectives after.
type Analyses struct {
	// Background, with the step it starts at.
	Background   []string
	StartingStep int
	// Steps are the canary's steps with their analysis names, in order;
	// an inserted step has Inserted set.
	Steps []CanaryStep
	// Inserted is the index in Steps of the step pipec inserted, or -1.
	Inserted      int
	PrePromotion  []string
	PostPromotion []string
}

// Used returns the names of the objectives and tests the analyses run.
func (an Analyses) Used() map[string]bool {
	used := map[string]bool{}
	for _, list := range [][]string{an.Background, an.PrePromotion, an.PostPromotion} {
		for _, n := range list {
			used[n] = true
		}
	}
	for _, st := range an.Steps {
		for _, n := range st.Analysis {
			used[n] = true
		}
	}
	return used
}

// RunTests returns the tests a deployment's releases run as Jobs in its
// environment's namespace: those its canary or blue-green strategy's
// analyses run; none for a rolling update (no Rollout, no analysis).
func (d *Deployment) RunTests() []*TestJob {
	if d.Strategy.Canary == nil && d.Strategy.BlueGreen == nil {
		return nil
	}
	used := d.ResolveAnalyses().Used()
	var out []*TestJob
	for _, t := range d.Tests {
		if used[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

// ResolveAnalyses applies the defaults to a deployment's strategy.
func (d *Deployment) ResolveAnalyses() Analyses {
	out := Analyses{Inserted: -1}
	named := map[string]bool{}
	var objectives, tests []string
	for _, o := range d.Objectives {
		objectives = append(objectives, o.Name)
	}
	for _, t := range d.Tests {
		tests = append(tests, t.Name)
	}
	unnamed := func(names []string) []string {
		var out []string
		for _, n := range names {
			if !named[n] {
				out = append(out, n)
			}
		}
		return out
	}
	switch s := d.Strategy; {
	case s.Canary != nil:
		c := s.Canary
		for _, n := range c.Analysis {
			named[n] = true
		}
		for _, st := range c.Steps {
			for _, n := range st.Analysis {
				named[n] = true
			}
		}
		first := -1
		for i, st := range c.Steps {
			if st.SetWeight != nil && *st.SetWeight > 0 {
				first = i
				break
			}
		}
		out.Steps = append(out.Steps, c.Steps...)
		if t := unnamed(tests); len(t) > 0 && first >= 0 {
			out.Steps = append(out.Steps[:first+1], append([]CanaryStep{{Analysis: t}}, out.Steps[first+1:]...)...)
			out.Inserted = first + 1
		}
		out.Background = c.Analysis
		if len(c.Analysis) == 0 {
			out.Background = unnamed(objectives)
		}
		if len(out.Background) > 0 && first >= 0 {
			out.StartingStep = first + 1
		}
	case s.BlueGreen != nil:
		b := s.BlueGreen
		for _, n := range append(append([]string{}, b.PrePromotionAnalysis...), b.PostPromotionAnalysis...) {
			named[n] = true
		}
		out.PrePromotion = b.PrePromotionAnalysis
		if len(out.PrePromotion) == 0 {
			out.PrePromotion = unnamed(tests)
		}
		out.PostPromotion = b.PostPromotionAnalysis
		if len(out.PostPromotion) == 0 {
			out.PostPromotion = unnamed(objectives)
		}
	}
	return out
}

// Default analysis settings.
const (
	DefaultFailureLimit      = 1
	DefaultInconclusiveLimit = 1
	DefaultCount             = 3
	DefaultInterval          = time.Minute
)

// Timing is when an objective's measurements are taken.
type Timing struct {
	Interval          time.Duration
	InitialDelay      time.Duration
	Count             int64 // 0: until the rollout is done
	FailureLimit      int64
	InconclusiveLimit int64
}

// Duration is how long after the analysis starts its last measurement is
// taken, for an analysis of a bounded count.
func (t Timing) Duration() time.Duration {
	return t.InitialDelay + time.Duration(max(t.Count-1, 0))*t.Interval
}

// TimeToFail is how long after the analysis starts the measurement that
// exceeds the failure limit is taken, at the earliest.
func (t Timing) TimeToFail() time.Duration {
	return t.InitialDelay + time.Duration(t.FailureLimit)*t.Interval
}

// ObjectiveTiming returns an objective's timing in a deployment: what it
// sets, else the defaults. The interval is a third of the shortest timed
// pause that background analysis guards (whole seconds, at least 1s, at
// most 1m); after a blue-green promotion, scaleDownDelaySeconds over the
// count (the measurements must end before the previous version goes);
// else 1m. The count is unlimited when the objective only runs in the
// background, else 3.
func (d *Deployment) ObjectiveTiming(o *Objective, an Analyses) Timing {
	t := Timing{FailureLimit: DefaultFailureLimit, InconclusiveLimit: DefaultInconclusiveLimit, Interval: DefaultInterval}
	inBackground, blocking := false, false
	for _, n := range an.Background {
		inBackground = inBackground || n == o.Name
	}
	for _, st := range an.Steps {
		for _, n := range st.Analysis {
			blocking = blocking || n == o.Name
		}
	}
	for _, n := range append(append([]string{}, an.PrePromotion...), an.PostPromotion...) {
		blocking = blocking || n == o.Name
	}
	if blocking {
		t.Count = DefaultCount
	}
	if inBackground {
		if p := ShortestPause(an.Steps[min(an.StartingStep, len(an.Steps)):]); p > 0 {
			t.Interval = min(max((p/3).Truncate(time.Second), time.Second), DefaultInterval)
		}
	}
	if v, err := time.ParseDuration(o.InitialDelay); err == nil && o.InitialDelay != "" {
		t.InitialDelay = v
	}
	if o.Count != nil {
		t.Count = *o.Count
	}
	if b := d.Strategy.BlueGreen; b != nil && slices.Contains(an.PostPromotion, o.Name) && t.Count > 0 {
		// The controller cancels post-promotion analysis when the
		// previous version is scaled down, scaleDownDelaySeconds after
		// promotion: all the measurements must fit before.
		sd := time.Duration(b.ScaleDownDelaySeconds)*time.Second - t.InitialDelay
		if t.Count > 1 && sd > 0 {
			t.Interval = min(max((sd/time.Duration(t.Count)).Truncate(time.Second), time.Second), DefaultInterval)
		}
	}
	if v, err := time.ParseDuration(o.Interval); err == nil && o.Interval != "" {
		t.Interval = v
	}
	if o.FailureLimit != nil {
		t.FailureLimit = *o.FailureLimit
	}
	if o.InconclusiveLimit != nil {
		t.InconclusiveLimit = *o.InconclusiveLimit
	}
	return t
}

// FormatDuration writes d as Argo Rollouts' examples write durations:
// "30s", "1m", "2h", else Go's form.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// ShortestPause is the shortest timed pause among steps, or 0.
func ShortestPause(steps []CanaryStep) time.Duration {
	var p time.Duration
	for _, st := range steps {
		if st.Pause == nil || st.Pause.Duration == "" {
			continue
		}
		if v, err := time.ParseDuration(st.Pause.Duration); err == nil && v > 0 && (p == 0 || v < p) {
			p = v
		}
	}
	return p
}
