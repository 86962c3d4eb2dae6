package compiler

import (
	"fmt"
	"slices"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of which runs of a gated pipeline sign.
var (
	ruleGateTrigger = rule("gate-trigger-param", diag.Error,
		"A pipeline whose gates sign or attest declares, or has its trigger set, the parameter pipec-trigger: pipec reserves it to say what started a run, so that only pushes, tags and manual runs sign",
		`rename the parameter (params: "my-trigger": {} instead of "pipec-trigger"), and remove pipec-trigger from on.params: the TriggerTemplates set it themselves, to "push", "tag" or "pull-request"; a manual run gets "manual" and signs`)
	ruleGatePRPermissions = rule("gate-pull-request-permissions", diag.Warning,
		"A pipeline whose gates sign runs pull requests as its own ServiceAccount, and its permissions in the CI namespace would let a pull request's code sign after all: start a run of its own (which signs as a manual run), read Secrets (the signing key), mint tokens (the keyless identity) or create pods (mounting the key)",
		`drop the permission from the pipeline (permissions: [{environment: "ci", resources: ["pipelineruns"], verbs: ["create"]}] is what to remove), move what needs it to a pipeline pull requests do not start, or waive it with the reason only reviewed people open pull requests`)
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
		for _, pr := range c.plan.Previews {
			if t := pr.Test; t != nil && t.Pipeline == p.Name {
				if _, ok := t.Params[model.TriggerParam]; ok {
					d := c.report(ruleGateTrigger, t.Path.Field("params").Field(model.TriggerParam), "the test of preview %q sets parameter %q of pipeline %q, which pipec sets itself", pr.Name, model.TriggerParam, p.Name)
					d.Expected = "no " + model.TriggerParam + " in test.params"
					d.Hint = "remove it: a preview's test runs a pull request's code, and pipec sets pull-request, so that it never signs"
				}
			}
		}
		if p.On == nil {
			continue
		}
		c.checkGatePRPermissions(p)
		for _, a := range p.On.Params {
			if a.Name == model.TriggerParam {
				d := c.report(ruleGateTrigger, a.Path, "the trigger of pipeline %q sets parameter %q, which pipec sets itself to what started the run", p.Name, model.TriggerParam)
				d.Expected = "no " + model.TriggerParam + " in on.params"
				d.Hint = "remove it: no trigger value may decide whether a run signs; pushes and tags sign, pull (merge) requests never do"
			}
		}
	}
}

// checkGatePRPermissions warns when a signing pipeline's pull request runs
// (as its own ServiceAccount: a branch of the repository, or forks
// "trusted") hold a permission in the CI namespace that gets around the
// skipped sign task.
func (c *checker) checkGatePRPermissions(p *model.Pipeline) {
	if p.On.PullRequest == nil || p.Gates.Sign == nil {
		return
	}
	ci := c.plan.EnvironmentForNamespace(c.plan.Namespace)
	if ci == nil {
		return
	}
	risky := []struct {
		group, resource, verb, what string
	}{
		{"tekton.dev", "pipelineruns", "create", "start a run that signs (its pipec-trigger is whatever the pull request's code says)"},
		{"tekton.dev", "taskruns", "create", "run the sign task itself"},
		{"", "secrets", "get", "read the signing key and the registry credentials"},
		{"", "secrets", "list", "read the signing key and the registry credentials"},
		{"", "serviceaccounts/token", "create", "mint a token for the keyless identity"},
		{"", "pods", "create", "start a pod that mounts the signing key"},
	}
	has := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	for _, perm := range p.Permissions {
		if perm.Environment != ci.Name {
			continue
		}
		for _, r := range risky {
			if has(perm.APIGroups, r.group) && has(perm.Resources, r.resource) && has(perm.Verbs, r.verb) {
				d := c.report(ruleGatePRPermissions, perm.Path, "pipeline %q signs only runs of reviewed code, but pull requests run it as %s, which may %s %s in %q: that lets a pull request's code %s",
					p.Name, p.ServiceAccount(), r.verb, r.resource, ci.Namespace, r.what)
				d.Expected = "no such permission in the CI namespace for a signing pipeline that pull requests run"
				d.Hint = "move it to a pipeline pull requests do not start, or waive this warning with the reason"
				break
			}
		}
	}
}
