package model

import (
	"slices"
	"strings"
)

// TriggerParam is the pipeline parameter that says what started a run of a
// pipeline whose gates sign or attest: the TriggerTemplates pipec generates
// set it to a literal per trigger kind (push, tag, pull-request; no webhook
// value reaches it), and manual runs get its default, ManualRun. The sign
// and SBOM gate tasks, and the deploy tasks after them, run only when it is
// one of SigningRuns: a pull (merge) request's image is built and scanned,
// never signed. pipec reserves the name in gated pipelines.
const TriggerParam = "pipec-trigger"

// ManualRun is TriggerParam's default: a run someone with the RBAC to
// create PipelineRuns in the CI namespace started (tkn pipeline start).
const ManualRun = "manual"

// SigningRuns are the values of TriggerParam whose runs sign: pushes, tags
// and manual runs. Anything else (pull-request, or an empty value from a
// template that does not set it) skips signing.
var SigningRuns = []string{EventPush, EventTag, ManualRun}

// SignsReviewedOnly reports whether the pipeline's gates add tasks that
// only reviewed runs execute (sign, SBOM), and so the TriggerParam.
func (g *Gates) SignsReviewedOnly() bool {
	return g != nil && (g.Sign != nil || g.SBOM != nil)
}

// SigningRunsOnly is the when expression that guards the tasks only runs
// of reviewed code execute.
func SigningRunsOnly(path Path) *When {
	return &When{Input: "$(params." + TriggerParam + ")", Operator: "in", Values: slices.Clone(SigningRuns), Path: path}
}

// SkippedOnPullRequests reports whether a task of pipeline p never runs in
// a run a pull (merge) request started: one of its when expressions
// requires TriggerParam to be a value a pull request's run never has. Only
// in a pipeline whose gates declare TriggerParam, which its templates set.
func (p *Pipeline) SkippedOnPullRequests(t *PipelineTask) bool {
	if !p.Gates.SignsReviewedOnly() {
		return false
	}
	for _, w := range t.When {
		if w.CEL != "" || w.Input != "$(params."+TriggerParam+")" {
			continue
		}
		switch w.Operator {
		case "in":
			// Literal values only: a variable might be pull-request.
			if !slices.ContainsFunc(w.Values, func(v string) bool { return v == EventPullRequest || strings.Contains(v, "$(") }) {
				return true
			}
		case "notin":
			if slices.Contains(w.Values, EventPullRequest) {
				return true
			}
		}
	}
	return false
}

// SkippedBy returns the tasks (finally ones too) of p that a run with the
// given parameters skips by their when expressions, as Tekton evaluates
// them before the run starts: those whose input is a parameter (the run's
// value, or its default) and whose values are literals. A when expression
// that reads a result or is CEL is not evaluated, so its task is not
// listed.
func (p *Pipeline) SkippedBy(params map[string]string) []string {
	value := func(s string) (string, bool) {
		if !strings.Contains(s, "$(") {
			return s, true
		}
		name, ok := strings.CutPrefix(s, "$(params.")
		if !ok || !strings.HasSuffix(name, ")") || strings.ContainsAny(name[:len(name)-1], "$()[]") {
			return "", false
		}
		name = name[:len(name)-1]
		if v, ok := params[name]; ok {
			return v, true
		}
		if x := p.Param(name); x != nil && x.Default != nil && x.Default.Type == TypeString {
			return x.Default.String, true
		}
		return "", false
	}
	var out []string
	for _, t := range append(slices.Clone(p.Tasks), p.Finally...) {
		for _, w := range t.When {
			in, ok := value(w.Input)
			if w.CEL != "" || !ok || slices.ContainsFunc(w.Values, func(v string) bool { return strings.Contains(v, "$(") }) {
				continue
			}
			if slices.Contains(w.Values, in) != (w.Operator == "in") {
				out = append(out, t.Name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
