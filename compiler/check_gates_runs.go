package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of which runs of a gated pipeline sign.
var (
	ruleGateTrigger = rule("gate-trigger-param", diag.Error,
		"A pipeline whose gates sign or attest declares, or has its trigger set, the parameter pipec-trigger: pipec reserves it to say what started a run, so that only pushes, tags and manual runs sign",
		`rename the parameter (params: "my-trigger": {} instead of "pipec-trigger"), and remove pipec-trigger from on.params: the TriggerTemplates set it themselves, to "push", "tag" or "pull-request"; a manual run gets "manual" and signs`)
	ruleGateKMSPullRequests = rule("gate-kms-pull-requests", diag.Error,
		"A pipeline whose gates sign with a KMS key runs pull requests (or a preview's tests) as its own ServiceAccount: the cloud identity allowed to use the key (Workload Identity, IRSA, Pod Identity) belongs to every pod of that ServiceAccount, so the pull request's own build and test steps could sign with it",
		`sign with a Secret key or keyless, which only the sign task's pod gets, or run pull requests in a pipeline without a sign gate (forks: "untrusted" runs as the fork ServiceAccount, which has no cloud identity)`)
	ruleGateUnreviewedRefs = rule("gate-unreviewed-refs", diag.Warning,
		"A pipeline whose gates sign runs on pushes of tags, or of branches a pattern matches: whoever may push such a ref (anyone who may push a branch, unless repository rules protect it) has an unreviewed commit signed, which the admission policies then admit",
		`sign pushes of protected branches named exactly (push: branches: ["main"]); protect the tags and branch patterns that sign with repository rules (rulesets, protected tags), then waive this warning with that reason`)
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
		tests := c.plan.PreviewsTesting(p.Name)
		for _, pr := range tests {
			if _, set := pr.Test.Params[model.TriggerParam]; set {
				d := c.report(ruleGateTrigger, pr.Test.Path.Field("params").Field(model.TriggerParam), "the test of preview %q sets parameter %q of pipeline %q, which pipec sets itself", pr.Name, model.TriggerParam, p.Name)
				d.Expected = "no " + model.TriggerParam + " in test.params"
				d.Hint = "remove it: a preview's test runs a pull request's code, and pipec sets pull-request, so that it never signs"
			}
		}
		c.checkGateKMS(p, tests)
		if p.On == nil {
			continue
		}
		c.checkGatePRPermissions(p)
		c.checkGateRefs(p)
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
		{"", "secrets", "watch", "read the signing key and the registry credentials (a watch returns them)"},
		{"tekton.dev", "pipelines", "update", "rewrite the sign task's when expression"},
		{"tekton.dev", "pipelines", "patch", "rewrite the sign task's when expression"},
		{"tekton.dev", "tasks", "update", "rewrite a task the pipeline runs"},
		{"tekton.dev", "tasks", "patch", "rewrite a task the pipeline runs"},
		{"triggers.tekton.dev", "triggers", "create", "bind a trigger that says push"},
		{"triggers.tekton.dev", "triggers", "update", "bind a trigger that says push"},
		{"triggers.tekton.dev", "triggers", "patch", "bind a trigger that says push"},
		{"triggers.tekton.dev", "triggertemplates", "update", "rewrite what a trigger says started the run"},
		{"triggers.tekton.dev", "triggertemplates", "patch", "rewrite what a trigger says started the run"},
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

// checkGateKMS refuses a KMS signing key in a pipeline that pull requests'
// code runs as its own ServiceAccount: a pull request from a branch of the
// repository, or the previews whose tests run it.
func (c *checker) checkGateKMS(p *model.Pipeline, tests []*model.Preview) {
	s := p.Gates.Sign
	if s == nil || s.Key == nil || !s.Key.KMS() {
		return
	}
	var runs []string
	if p.On != nil && p.On.PullRequest != nil {
		runs = append(runs, "pull requests from branches of the repository")
	}
	for _, pr := range tests {
		runs = append(runs, fmt.Sprintf("the tests of preview %q", pr.Name))
	}
	if len(runs) == 0 {
		return
	}
	d := c.report(ruleGateKMSPullRequests, s.Key.Path, "pipeline %q signs with KMS key %s, and %s run as its ServiceAccount %s, whose cloud identity every pod of it has: their own steps could sign with the key", p.Name, s.Key.URI, strings.Join(runs, " and "), p.ServiceAccount())
	d.Expected = "a Secret key ({secret: \"cosign-key\"}) or keyless, or no pull request runs of this pipeline"
	d.Hint = "the sign task skips pull requests' runs, but a KMS key is not mounted: it is used by whoever runs as the ServiceAccount; sign with a key in a Secret, which only the sign task's pod mounts, or run pull requests in a pipeline without a sign gate"
}

// checkGateRefs warns when a signing pipeline runs on pushes of tags or
// of branch patterns: refs that whoever may push a branch can create,
// unless the repository protects them.
func (c *checker) checkGateRefs(p *model.Pipeline) {
	if p.Gates.Sign == nil {
		return
	}
	if push := p.On.Push; push != nil {
		for i, b := range push.Branches {
			if strings.ContainsAny(b, "*?[") {
				d := c.report(ruleGateUnreviewedRefs, push.Path.Field("branches").Index(i), "pipeline %q signs pushes of any branch matching %q: whoever may push such a branch has their commit signed unreviewed", p.Name, b)
				d.Expected = "branches named exactly, which repository rules protect"
				d.Hint = "name the protected branches (\"main\", \"release/1.x\"), or protect the pattern with a repository ruleset and waive this warning with that reason"
			}
		}
	}
	if len(p.On.Tags) > 0 {
		d := c.report(ruleGateUnreviewedRefs, p.On.Path.Field("tags"), "pipeline %q signs pushes of tags %s: whoever may push a tag has the commit it names signed, reviewed or not", p.Name, strings.Join(p.On.Tags, ", "))
		d.Expected = "tags that repository rules protect (only release managers create them)"
		d.Hint = "protect the tags with a ruleset or protected tags, then waive this warning with that reason"
	}
}
