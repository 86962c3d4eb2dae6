package compiler

import (
	"fmt"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/triggers"
)

// checkTriggers checks the pipelines' `on`: events, filters (compiled in
// Tekton Triggers' CEL environment), and that the parameters and workspaces
// of the generated runs agree with the pipeline: every required parameter
// and workspace provided, nothing unknown.
func (c *checker) checkTriggers() {
	p := c.plan
	anyOn := false
	for _, pl := range p.Pipelines {
		if pl.On != nil {
			anyOn = true
			c.checkOn(pl)
		}
	}
	c.compileGeneratedCEL()
	if !anyOn {
		return
	}
	// Report at the user's triggers block, or at the first `on` that
	// needs it.
	at := p.Triggers.Path
	if !c.src.Has(at) {
		for _, pl := range p.Pipelines {
			if pl.On != nil {
				at = pl.On.Path
				break
			}
		}
	}
	if p.Triggers.WebhookSecret == nil {
		d := c.report(ruleTrigSetup, at, "pipelines have `on` but triggers.webhookSecret is not set")
		d.Expected = `triggers: webhookSecret: {name: "<secret>", key: "<key>"}`
		d.Hint = "the EventListener only accepts webhooks that prove they know this secret; create the Secret, never write its value into CUE"
	}
	if p.Namespace == "" {
		d := c.report(ruleTrigSetup, at, "pipelines have `on` but the configuration sets no namespace for the EventListener")
		d.Expected = `namespace: "ci"`
	}
	for _, k := range []*model.KeyRef{p.Triggers.WebhookSecret, p.Triggers.GitHubToken} {
		if k != nil && (!dnsSubdomainRE.MatchString(k.Name) || k.Key == "") {
			d := c.report(ruleTrigSetup, p.Triggers.Path, "invalid Secret reference %q/%q", k.Name, k.Key)
			d.Expected = "the name of an existing Secret and one of its keys"
		}
	}
	for i, cidr := range p.Triggers.IngressCIDRs {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			d := c.report(ruleNetwork, p.Triggers.Path.Field("listener").Field("ingressFrom").Field("cidrs").Index(i), "invalid CIDR %q", cidr)
			d.Expected = `a CIDR such as "192.30.252.0/22"`
		}
	}
	// In a CI namespace that denies traffic by default, the listener's
	// network policy needs somewhere to let webhooks in from, and the
	// listener needs the Kubernetes API to create runs.
	if ci := p.EnvironmentForNamespace(p.Namespace); ci != nil && ci.Network.DefaultDeny {
		if ci.Network.KubernetesAPI == nil {
			d := c.report(ruleNetwork, ci.Network.Path, "the EventListener in %q needs the Kubernetes API to create PipelineRuns, but environment %q denies egress to it", p.Namespace, ci.Name)
			d.Expected = `network: kubernetesAPI: {cidrs: ["<API server address>/32"], ports: [443]}`
			d.Hint = "kubectl get endpoints kubernetes -n default shows the address"
		}
		if len(p.Triggers.IngressNamespaces)+len(p.Triggers.IngressCIDRs) == 0 {
			d := c.report(ruleNetwork, p.Triggers.Path.Field("listener").Field("ingressFrom"), "no webhook can reach the EventListener: environment %q denies ingress and triggers.listener.ingressFrom allows nothing", ci.Name)
			d.Expected = `ingressFrom: namespaces: ["ingress-nginx"], or the provider's CIDRs`
		}
	}
}

func (c *checker) checkOn(pl *model.Pipeline) {
	on := pl.On
	provider := triggers.Provider(c.plan, pl)
	kinds := triggers.Kinds(on)
	if len(kinds) == 0 {
		d := c.report(ruleTrigger, on.Path, "pipeline %q has `on` without any event", pl.Name)
		d.Expected = `push: branches: ["main"], tags: ["v*"] or pullRequest: branches: ["main"]`
	}
	if on.Push != nil {
		c.checkPatterns(on.Push.Path.Field("branches"), on.Push.Branches)
		c.checkPatterns(on.Push.Path.Field("paths"), on.Push.Paths)
		if len(on.Push.Branches) == 0 {
			d := c.report(ruleTrigger, on.Push.Path.Field("branches"), "push trigger of pipeline %q lists no branches", pl.Name)
			d.Expected = `branches such as ["main"]`
		}
	}
	c.checkPatterns(on.Path.Field("tags"), on.Tags)
	if pr := on.PullRequest; pr != nil {
		c.checkPatterns(pr.Path.Field("branches"), pr.Branches)
		c.checkPatterns(pr.Path.Field("paths"), pr.Paths)
		if len(pr.Events) == 0 {
			d := c.report(ruleTrigger, pr.Path.Field("events"), "pull request trigger of pipeline %q lists no events", pl.Name)
			d.Expected = `events such as ["opened", "synchronize", "reopened"]`
		}
		if len(pr.Paths) > 0 && provider == model.GitLab {
			d := c.report(ruleTrigger, pr.Path.Field("paths"), "path filters on GitLab merge requests are not supported")
			d.Expected = "no paths on pullRequest with provider gitlab"
			d.Hint = "Tekton Triggers' GitLab interceptor cannot list a merge request's files; filter pushes by path instead, or run the pipeline on every merge request"
		}
		if len(pr.Paths) > 0 && provider == model.GitHub && c.plan.Triggers.GitHubToken == nil {
			d := c.report(ruleTrigger, pr.Path.Field("paths"), "path filters on GitHub pull requests need triggers.githubToken")
			d.Expected = `triggers: githubToken: {name: "<secret>", key: "token"}`
			d.Hint = "Tekton Triggers' GitHub interceptor lists the pull request's files through the GitHub API; without a token it is rate-limited and cannot read private repositories"
		}
		if slices.Contains(pr.Events, "ready_for_review") && provider == model.GitLab {
			d := c.report(ruleReady, pr.Path.Field("events"), "GitLab reports ready-for-review as an update that clears the draft flag; pipec matches that")
			d.Hint = "check with `pipec trigger test` on a recorded payload"
		}
	}
	if on.Filter != "" {
		if err := triggers.CompileCEL(on.Filter, true); err != nil {
			d := c.report(ruleFilter, on.Path.Field("filter"), "the CEL filter does not compile: %s", celMessage(err))
			d.Expected = "a boolean CEL expression over body, header, extensions and requestURL"
			d.Hint = "Tekton Triggers' CEL environment (strings, encoders, sets, lists, math extensions and its own functions) is what runs it"
		}
		// A misspelt payload field is null at run time: the filter never
		// matches, and nothing says why.
		known := triggers.PayloadFields[provider]
		for _, f := range triggers.BodyFields(on.Filter) {
			if !slices.Contains(known, f) {
				d := c.report(ruleFilterFld, on.Path.Field("filter"), "the CEL filter reads body.%s, which %s's webhook payloads do not have", f, provider)
				d.Expected = "a field of " + provider + "'s push, tag and pull or merge request payloads"
				if s := diag.Suggest(f, known); s != "" {
					d.Hint = fmt.Sprintf("did you mean body.%s?", s)
				}
			}
		}
	}
	var filters []triggers.Filter
	for _, kind := range kinds {
		filters = append(filters, triggers.FilterFor(provider, kind, on))
	}
	if pl.ForkRuns() {
		filters = append(filters, triggers.ForkFilter(provider, on))
	}
	if on.Filter == "" {
		for _, f := range filters {
			for _, expr := range append([]string{f.Expression}, overlayExprs(f)...) {
				c.generatedCEL = append(c.generatedCEL, generatedCEL{on.Path, expr})
			}
		}
	}
	if on.Timeout != "" {
		c.checkDuration(on.Path.Field("timeout"), on.Timeout)
	}
	for i, t := range on.PodTemplate.Tolerations {
		if t.Operator == "Exists" && t.Value != "" {
			d := c.report(ruleTrigger, on.Path.Field("podTemplate").Field("tolerations").Index(i), "toleration with operator Exists sets a value")
			d.Expected = "no value with Exists, or operator Equal"
		}
	}
	c.checkRunParams(pl)
	c.checkRunWorkspaces(pl)
	c.checkForks(pl)
}

// checkForks checks a pipeline whose runs for pull requests from forks are
// untrusted. Those runs drop Secret workspaces and permissions, but a
// step's env comes with its task: a step that reads a Secret would hand it
// to whoever wrote the pull request. The fork trigger and template need
// names of their own, too.
func (c *checker) checkForks(pl *model.Pipeline) {
	if !pl.ForkRuns() {
		return
	}
	if name := triggers.ForkTriggerName(pl); len(name) > 63 {
		d := c.report(ruleTrigger, pl.Path, "the Trigger for pull requests from forks, %q, is longer than 63 characters", name)
		d.Expected = fmt.Sprintf("a pipeline name of at most %d characters", 63-len(name)+len(pl.Name))
		d.Hint = `shorten the pipeline's name, or set on: pullRequest: forks: "ignore"`
	}
	if other := c.pipeline(triggers.ForkTemplateName(pl)); other != nil && other.On != nil {
		d := c.report(ruleTrigger, pl.On.PullRequest.Path.Field("forks"), "the TriggerTemplate for pull requests from forks of pipeline %q would be named %q, as pipeline %q's is", pl.Name, other.Name, other.Name)
		d.Expected = "pipeline names that do not differ only by a -fork suffix"
		d.Hint = fmt.Sprintf("rename pipeline %q", other.Name)
	}
	if pl.Ref != nil {
		d := c.report(ruleForkRemote, pl.Ref.Path, "pipeline %q is resolved remotely and runs for pull requests from forks, and pipec cannot see whether its tasks read Secrets", pl.Name)
		d.Expected = "a pipeline whose steps pipec can check in the runs of pull requests from forks"
		d.Hint = "a Secret a step reads through env reaches the fork's run whatever its ServiceAccount; declare the pipeline's tasks here so that pipec checks them, or set forks: \"ignore\""
	}
	seen := map[model.Path]bool{}
	for _, t := range append(slices.Clone(pl.Tasks), pl.Finally...) {
		if t.Ref != nil {
			d := c.report(ruleForkRemote, t.Ref.Path, "pipeline %q runs remote task %q for pull requests from forks, and pipec cannot see whether its steps read Secrets", pl.Name, t.Name)
			d.Expected = "tasks whose steps pipec can check in the runs of pull requests from forks"
			d.Hint = "a Secret a step reads through env reaches the fork's run whatever its ServiceAccount; import the task into the library so that pipec checks it, or set forks: \"ignore\""
			continue
		}
		if pl.SkippedOnPullRequests(t) {
			// The sign and SBOM gates (and tasks guarded as they are)
			// never run for a pull request: the fork run has no pod
			// that mounts their key.
			continue
		}
		def := c.plan.Definition(t)
		if def == nil || seen[def.Path] {
			continue
		}
		seen[def.Path] = true
		for _, v := range def.Volumes {
			if g := pl.Gates; g != nil && def == t.Inline && t.Name == model.GateScanTask && v.Name == "registry-credentials" {
				d := c.report(ruleForkCreds, g.Path.Field("registryCredentials"), "the scan gate of pipeline %q pulls the image with Secret %q, and pull requests from forks run it: fork runs must not see the repository's registry credentials",
					pl.Name, g.RegistryCredentials)
				d.Expected = "no gates.registryCredentials in a pipeline that runs pull requests from forks, or forks: \"ignore\""
				d.Hint = fmt.Sprintf(`a fork's run has no push credentials either (its Secret workspaces are emptyDirs), so its build cannot push the image the scan pulls: test forks' pull requests in a pipeline without gates (build and test, no push), and set pipelines.%s.on.pullRequest.forks: "ignore"; a fork run of a gated pipeline works only with a registry that its build pushes to and the scan pulls from without credentials`, pl.Name)
				continue
			}
			for _, cred := range v.Credentials() {
				d := c.report(ruleForkCreds, v.Path, "volume %q of task %q mounts %s, and pipeline %q runs it for pull requests from forks: fork runs must not see credentials",
					v.Name, def.Name, cred, pl.Name)
				d.Expected = "no credential in the volumes of the tasks a pull request from a fork runs"
				d.Hint = fmt.Sprintf(`bind the credential through a run workspace (on.workspaces), which fork runs get as an emptyDir, or set pipelines.%s.on.pullRequest.forks: "ignore"`, pl.Name)
			}
		}
		for _, s := range def.Containers() {
			what := "step"
			if s.Sidecar {
				what = "sidecar"
			}
			for _, f := range s.EnvFrom {
				if f.Secret == "" {
					continue
				}
				d := c.report(ruleForkCreds, f.Path, "%s %q of task %q reads every key of Secret %q, and pipeline %q runs it for pull requests from forks: fork runs must not see Secrets",
					what, s.Name, def.Name, f.Secret, pl.Name)
				d.Expected = "no Secret in the env of the steps a pull request from a fork runs"
				d.Hint = fmt.Sprintf(`move the step to a pipeline that pull requests from forks do not start, or set pipelines.%s.on.pullRequest.forks: "ignore"`, pl.Name)
			}
			for _, e := range s.Env {
				if e.SecretRef == nil {
					continue
				}
				d := c.report(ruleForkCreds, e.Path, "%s %q of task %q reads Secret %q into %s, and pipeline %q runs it for pull requests from forks: fork runs must not see Secrets",
					what, s.Name, def.Name, e.SecretRef.Name, e.Name, pl.Name)
				d.Expected = "no Secret in the env of the steps a pull request from a fork runs"
				d.Hint = fmt.Sprintf(`move the step to a pipeline that pull requests from forks do not start, or set pipelines.%s.on.pullRequest.forks: "ignore"`, pl.Name)
			}
		}
	}
}

func overlayExprs(f triggers.Filter) []string {
	var out []string
	for _, o := range f.Overlays {
		out = append(out, o.Expression)
	}
	return out
}

// checkPatterns checks branch, tag and path globs.
func (c *checker) checkPatterns(path model.Path, patterns []string) {
	for i, p := range patterns {
		if p == "" || strings.ContainsAny(p, " \t\n") {
			d := c.report(ruleTrigger, path.Index(i), "invalid pattern %q", p)
			d.Expected = `a name or glob without spaces, such as "main", "release/*" or "services/api/**"`
		}
	}
}

var eventRefRE = regexp.MustCompile(`\$\(event\.([^)]*)\)`)

// checkRunParams checks the parameters the trigger sets against the
// pipeline's: known names, known event fields, every required one set.
func (c *checker) checkRunParams(pl *model.Pipeline) {
	declared := make([]string, len(pl.Params))
	for i, p := range pl.Params {
		declared[i] = p.Name
	}
	for _, a := range pl.On.Params {
		if pl.Param(a.Name) == nil {
			d := c.report(ruleTrigParam, a.Path, "the trigger sets parameter %q, which pipeline %q does not declare", a.Name, pl.Name)
			d.Expected = "a parameter of the pipeline: " + diag.OneOf(declared)
			if s := diag.Suggest(a.Name, declared); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = fmt.Sprintf("declare it under pipelines.%s.params, or remove it", pl.Name)
			}
		} else if t := pl.Param(a.Name).Type; t != model.TypeString {
			d := c.report(ruleTrigParam, a.Path, "parameter %q of pipeline %q is of type %s; triggers pass strings", a.Name, pl.Name, t)
			d.Expected = "a string parameter"
		} else {
			c.checkEnum(a.Path, pl.Param(a.Name), a.Value, fmt.Sprintf(" of pipeline %q", pl.Name))
		}
		for _, m := range eventRefRE.FindAllStringSubmatch(a.Value.String, -1) {
			if !slices.Contains(model.EventFields, m[1]) {
				d := c.report(ruleTrigParam, a.Path, "unknown event field %q in %s", m[1], m[0])
				d.Expected = "one of " + diag.OneOf(model.EventFields)
				if s := diag.Suggest(m[1], model.EventFields); s != "" {
					d.Hint = fmt.Sprintf("did you mean $(event.%s)?", s)
				}
			}
		}
		for _, r := range findRefs(a.Value.String) {
			if r.Kind != "event" {
				d := c.report(ruleTrigParam, a.Path, "%s cannot be used in a trigger parameter", r.Raw)
				d.Expected = "a literal, or an event value such as $(event.revision)"
			}
		}
	}
	set := map[string]bool{}
	for _, a := range triggers.RunParams(pl) {
		set[a.Name] = true
	}
	for _, p := range pl.Params {
		if p.Default == nil && !set[p.Name] {
			d := c.report(ruleTrigParam, pl.On.Path, "runs started by the trigger would not set required parameter %q of pipeline %q", p.Name, pl.Name)
			d.Expected = fmt.Sprintf(`on: params: %q: "$(event.<field>)" or a literal`, p.Name)
			d.Hint = "set it from the event, or give the parameter a default; Tekton would only reject the run when a webhook arrives"
		}
	}
	if pl.Ref == nil {
		return
	}
	// Tekton fills $(params.x) in a remote pipeline's resolver params from
	// the run's params alone: the pipeline, and its defaults, are what it
	// fetches.
	for _, a := range pl.Ref.Params {
		eachString(a.Value, a.Path, func(path model.Path, s string) {
			for _, r := range findRefs(s) {
				if r.Kind == "params" && len(r.Parts) > 0 && pl.Param(r.Parts[0]) != nil && !set[r.Parts[0]] {
					d := c.report(ruleTrigParam, path, "%s is not set by the runs the trigger starts, so the %s resolver gets the text as it is", r.Raw, pl.Ref.Resolver)
					d.Expected = fmt.Sprintf(`a value the trigger sets: on: params: %q: "$(event.<field>)" or a literal`, r.Parts[0])
					d.Hint = "Tekton substitutes a resolver's params from the run's params only: the pipeline's default is not known before the pipeline is fetched"
				}
			}
		})
	}
}

// checkRunWorkspaces checks the workspaces the trigger provides.
func (c *checker) checkRunWorkspaces(pl *model.Pipeline) {
	names := make([]string, len(pl.Workspaces))
	for i, w := range pl.Workspaces {
		names[i] = w.Name
	}
	for _, w := range pl.On.Workspaces {
		if !slices.Contains(names, w.Name) {
			d := c.report(ruleWorkspace, w.Path, "the trigger provides workspace %q, which pipeline %q does not declare", w.Name, pl.Name)
			d.Expected = "a workspace of the pipeline: " + diag.OneOf(names)
			if s := diag.Suggest(w.Name, names); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			}
		}
		if v := w.VolumeClaimTemplate; v != nil {
			c.checkQuantities(w.Path.Field("volumeClaimTemplate"), map[string]string{"storage": v.Storage})
		}
		for _, name := range []string{w.Secret, w.ConfigMap} {
			if name != "" && !dnsSubdomainRE.MatchString(name) {
				d := c.report(ruleName, w.Path, "invalid name %q", name)
				d.Expected = "the name of an existing Secret or ConfigMap"
			}
		}
	}
}

var celPosRE = regexp.MustCompile(`^ERROR: <input>:(\d+):(\d+): `)

// celMessage shortens a cel-go error to its first line, with the column.
func celMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if m := celPosRE.FindStringSubmatch(msg); m != nil {
		msg = strings.TrimPrefix(msg, m[0]) + " (column " + m[2] + " of the expression)"
	}
	return msg
}

// generatedCEL is a CEL expression pipec generated for the `on` at path.
type generatedCEL struct {
	path model.Path
	expr string
}

// compileGeneratedCEL compiles the expressions pipec generated, on all
// CPUs (at 2,000 pipelines, 6,000 of them took a second on one), and
// reports any that Tekton Triggers' CEL environment would refuse: that is
// pipec's bug, never the user's.
func (c *checker) compileGeneratedCEL() {
	// Pipelines share most expressions (a pull request filter without
	// paths, the overlays): each distinct one is compiled once.
	var exprs []string
	seen := map[string]bool{}
	for _, g := range c.generatedCEL {
		if !seen[g.expr] {
			seen[g.expr] = true
			exprs = append(exprs, g.expr)
		}
	}
	errs := make([]error, len(exprs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(errs)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(errs); i = int(next.Add(1) - 1) {
				errs[i] = triggers.CompileCEL(exprs[i], false)
			}
		})
	}
	wg.Wait()
	failed := map[string]error{}
	for i, err := range errs {
		if err != nil {
			failed[exprs[i]] = err
		}
	}
	for _, g := range c.generatedCEL {
		if err := failed[g.expr]; err != nil {
			d := c.report(ruleInternal, g.path, "internal error: the generated CEL expression %q does not compile: %v", g.expr, err)
			d.Hint = "please report this"
		}
	}
	c.generatedCEL = nil
}
