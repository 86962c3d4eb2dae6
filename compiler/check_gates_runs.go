package compiler

import (
	"fmt"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of which runs of a gated pipeline sign.
var (
	ruleGateTrigger = rule("gate-trigger-param", diag.Error,
		"A pipeline whose gates sign or attest declares, or has its trigger set, the parameter pipec-trigger: pipec reserves it to say what started a run, so that only pushes, tags and manual runs sign",
		`rename the parameter (params: "my-trigger": {} instead of "pipec-trigger"), and remove pipec-trigger from on.params: the TriggerTemplates set it themselves, to "push", "tag" or "pull-request"; a manual run gets "manual" and signs`)
)

// checkGateRuns checks what decides which runs of a gated pipeline sign:
// the parameter model.TriggerParam is pipec's, set by the TriggerTemplates
// from the Trigger's literal kind, and nobody else's.
func (c *checker) checkGateRuns() {
	for _, p := range c.plan.Pipelines {
		if !p.Gates.SignsReviewedOnly() {
			continue
		}
		if x := p.Param(model.TriggerParam); x != nil && x.Path != p.Gates.Path {
			d := c.report(ruleGateTrigger, x.Path, "pipeline %q declares parameter %q, which pipec reserves in a pipeline whose gates sign or attest", p.Name, model.TriggerParam)
			d.Expected = "a parameter of another name"
			d.Hint = fmt.Sprintf("pipec declares %q itself (default %q) and its TriggerTemplates set it to push, tag or pull-request: the sign and SBOM gates run for %s runs only; rename yours", model.TriggerParam, model.ManualRun, diag.OneOf(model.SigningRuns))
		}
		if p.On == nil {
			continue
		}
		for _, a := range p.On.Params {
			if a.Name == model.TriggerParam {
				d := c.report(ruleGateTrigger, a.Path, "the trigger of pipeline %q sets parameter %q, which pipec sets itself to what started the run", p.Name, model.TriggerParam)
				d.Expected = "no " + model.TriggerParam + " in on.params"
				d.Hint = "remove it: no trigger value may decide whether a run signs; pushes and tags sign, pull (merge) requests never do"
			}
		}
	}
}
