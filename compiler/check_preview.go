package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/capacity"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/argo"
)

// Rules of preview environments.
var (
	rulePreview          = rule("preview", diag.Error, "A preview environment that cannot be built as declared: an unknown team, environment, app, node pool or pipeline, no GitOps repository, no quota, an app the pull request's build cannot reach, or a test pipeline its runs cannot start", "name what the configuration declares; a built app needs a kustomize or helm source and a pipeline that runs on pull requests, declares pr-number and has the digest result; a test pipeline declares pr-number, head-sha and preview-namespace and every test param")
	rulePreviewName      = rule("preview-name", diag.Error, "A preview whose generated names (<preview>-pr-<number>[-<app>|-test]) outgrow Kubernetes' 63 characters for the largest pull request number, or whose name is no DNS label", "shorten the preview's or the app's name: the pull request number can take 19 digits")
	rulePreviewIsolation = rule("preview-isolation", diag.Error, "A preview that production could be reached from or by: it inherits from a production environment, its namespace pattern covers a declared environment's namespace, its network policy does not deny by default or lets production namespaces in, or its build or test pipeline holds permissions in production", "inherit from a non-production environment with default deny; keep production namespaces out of its ingress and production permissions off the pipelines pull requests run")
	rulePreviewCapacity  = rule("preview-capacity", diag.Error, "A preview's apps do not fit its quota, or the most previews open at once, at their quota, do not fit the node pool they land on", "raise the preview quota to hold its apps; lower maxOpen or the quota, or raise the node pool's limits")
)

// checkPreviews checks the preview environments.
func (c *checker) checkPreviews() {
	for _, p := range c.plan.Previews {
		if q := p.Quota; q != nil && q.Path == p.Path.Field("quota") {
			c.checkQuantities(q.Path.Field("requests"), q.Requests)
			c.checkQuantities(q.Path.Field("limits"), q.Limits)
			if q.Storage != "" {
				c.checkQuantities(q.Path, map[string]string{"storage": q.Storage})
			}
		}
		c.checkPreviewNames(p)
		c.checkPreviewRefs(p)
		c.checkPreviewIsolation(p)
		c.checkPreviewCapacity(p)
		c.checkPreviewTest(p)
	}
}

// checkPreviewTest checks a preview's integration-test pipeline: it exists,
// has tasks of its own (pipec adds it the status task), declares the
// parameters its runs get, and holds no production permissions.
func (c *checker) checkPreviewTest(p *model.Preview) {
	t := p.Test
	if t == nil {
		return
	}
	if n := p.TestApplication(strings.Repeat("9", model.PreviewNumberDigits)); len(n) > 63 && dnsLabelRE.MatchString(p.Name) {
		d := c.report(rulePreviewName, t.Path, "the test Application and PipelineRun of pull request %s would be %q, %d characters", strings.Repeat("9", model.PreviewNumberDigits), n, len(n))
		d.Expected = fmt.Sprintf("a preview name of at most %d characters", 63-len(n)+len(p.Name))
		d.Hint = "shorten the preview's name: pull request numbers can take 19 digits"
	}
	for _, e := range c.plan.Environments {
		if e.Namespace == c.plan.Namespace && e.Cluster == model.InCluster && e.Network.DefaultDeny && e.Network.KubernetesAPI == nil {
			d := c.report(rulePreview, t.Path, "the test's wait Job runs in the CI namespace %q, where environment %q lets no pod reach the Kubernetes API", e.Namespace, e.Name)
			d.Expected = `network: kubernetesAPI: {cidrs: [...], ports: [443]} on environment ` + e.Name
			d.Hint = "the wait Job reads the preview's Applications through the API before the tests start"
		}
	}
	pl := c.pipeline(t.Pipeline)
	if pl == nil {
		d := c.report(rulePreview, t.Path.Field("pipeline"), "unknown pipeline %q", t.Pipeline)
		d.Expected = "the name of a pipeline under pipelines"
		return
	}
	if pl.Ref != nil {
		d := c.report(rulePreview, t.Path.Field("pipeline"), "pipeline %q is resolved remotely; pipec cannot add it the task that posts the commit status", t.Pipeline)
		d.Expected = "a pipeline with tasks of its own"
	}
	reserved := []string{model.PreviewTestNumberParam, model.PreviewTestHeadSHAParam, model.PreviewTestNamespaceParam}
	for _, name := range reserved {
		if x := pl.Param(name); x == nil || x.Type != model.TypeString {
			d := c.report(rulePreview, t.Path.Field("pipeline"), "pipeline %q does not declare the string parameter %s its preview runs get", t.Pipeline, name)
			d.Expected = fmt.Sprintf(`params: %q: {type: "string", default: ""}`, name)
			d.Hint = "declare pr-number, head-sha and preview-namespace: the test run gets the pull request's number, head commit and preview namespace"
		}
	}
	for _, name := range sortedKeys(t.Params) {
		at := t.Path.Field("params").Field(name)
		if slices.Contains(reserved, name) {
			d := c.report(rulePreview, at, "parameter %s is set by pipec for each pull request", name)
			d.Hint = "remove it from test.params"
			continue
		}
		if x := pl.Param(name); x == nil || x.Type != model.TypeString {
			d := c.report(rulePreview, at, "pipeline %q declares no string parameter %q", t.Pipeline, name)
			d.Expected = "the name of a string parameter of the pipeline: " + strings.Join(stringParamNames(pl), ", ")
		}
	}
	for _, perm := range pl.Permissions {
		if e := c.plan.Environment(perm.Environment); e != nil && e.Production {
			d := c.report(rulePreviewIsolation, perm.Path, "pipeline %q, which tests preview %q, holds permissions in production environment %q", pl.Name, p.Name, e.Name)
			d.Hint = "the tests of a pull request's preview get no production credentials: use a pipeline of their own"
		}
	}
}

func stringParamNames(pl *model.Pipeline) []string {
	var names []string
	for _, x := range pl.Params {
		if x.Type == model.TypeString {
			names = append(names, x.Name)
		}
	}
	return names
}

func (c *checker) checkPreviewNames(p *model.Preview) {
	if !dnsLabelRE.MatchString(p.Name) {
		d := c.report(rulePreviewName, p.Path, "invalid preview name %q", p.Name)
		d.Expected = "a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
		d.Hint = fmt.Sprintf("rename it, for example to %q", suggestLabel(p.Name))
		return
	}
	longest := strings.Repeat("9", model.PreviewNumberDigits)
	if n := argo.PreviewApplicationName(p, longest, ""); len(n) > 63 {
		d := c.report(rulePreviewName, p.Path, "the namespace of pull request %s would be %q, %d characters", longest, n, len(n))
		d.Expected = fmt.Sprintf("a preview name of at most %d characters", 63-len(n)+len(p.Name))
		d.Hint = "shorten the preview's name: namespaces and Application names are at most 63 characters, and pull request numbers can take 19 digits"
	}
	for _, pa := range p.Apps {
		if n := argo.PreviewApplicationName(p, longest, pa.App); len(n) > 63 {
			d := c.report(rulePreviewName, pa.Path, "the Application of %s for pull request %s would be %q, %d characters", pa.App, longest, n, len(n))
			d.Expected = "preview and app names that fit 63 characters with a 19-digit pull request number"
			d.Hint = "shorten the preview's name: Argo CD tracks resources with a label holding the Application's name"
		}
	}
}

func (c *checker) checkPreviewRefs(p *model.Preview) {
	plan := c.plan
	if plan.ArgoCD.GitOps == nil {
		d := c.report(rulePreview, p.Path, "preview %q needs the GitOps repository: its guard rails and the digests its pull requests build are committed there", p.Name)
		d.Expected = `argocd: gitops: repoURL: "https://..."`
		d.Hint = "set argocd.gitops and commit `pipec build -o` output there"
	}
	if !slices.ContainsFunc(plan.Teams, func(t *model.Team) bool { return t.Name == p.Team }) {
		d := c.report(rulePreview, p.Path.Field("team"), "unknown team %q", p.Team)
		d.Expected = "the name of a team under teams"
	}
	env := plan.Environment(p.Environment)
	if env == nil {
		d := c.report(rulePreview, p.Path.Field("environment"), "unknown environment %q", p.Environment)
		d.Expected = "the name of a non-production environment under environments"
	}
	if p.Quota == nil && env != nil {
		d := c.report(rulePreview, p.Path, "preview %q has no quota, nor has environment %q", p.Name, p.Environment)
		d.Expected = "quota: {requests: {cpu: ..., memory: ...}}"
		d.Hint = "give the preview a quota: the capacity check holds maxOpen times it to the node pool"
	}
	if p.NodePool != "" && !slices.ContainsFunc(plan.Scaling.NodePools, func(n *model.NodePool) bool { return n.Name == p.NodePool }) {
		d := c.report(rulePreview, p.Path.Field("nodePool"), "unknown node pool %q", p.NodePool)
		d.Expected = "the name of a node pool under scaling.nodePools"
	}
	if len(p.Apps) == 0 {
		d := c.report(rulePreview, p.Path.Field("apps"), "preview %q deploys no app", p.Name)
		d.Expected = `apps: {<app>: build: {pipeline: "...", gitCredentials: "..."}}`
	}
	built := false
	for _, pa := range p.Apps {
		a := plan.App(pa.App)
		if a == nil {
			d := c.report(rulePreview, pa.Path, "unknown app %q", pa.App)
			d.Expected = "the name of an app under apps"
			continue
		}
		if a.Team != p.Team {
			d := c.report(rulePreview, pa.Path, "app %q belongs to team %q, not to the preview's team %q", pa.App, a.Team, p.Team)
			d.Hint = "a preview deploys its team's apps, in its team's project"
		}
		if pa.Build == nil {
			if env != nil && plan.AppDeployment(a.Name, env.Name) == nil {
				d := c.report(rulePreview, pa.Path, "app %q is not deployed to environment %q, whose version a preview would run", pa.App, env.Name)
				d.Hint = "deploy it there, or give it build: the pipeline that builds it for pull requests"
			}
			continue
		}
		built = true
		c.checkPreviewBuild(p, a, pa.Build)
	}
	if len(p.Apps) > 0 && !built {
		d := c.report(rulePreview, p.Path.Field("apps"), "no app of preview %q is built by the pull request", p.Name)
		d.Hint = "give the app the pull request changes build: the pipeline that builds it"
	}
}

func (c *checker) checkPreviewBuild(p *model.Preview, a *model.App, b *model.PreviewBuild) {
	if a.Source.Type != "kustomize" && a.Source.Type != "helm" {
		d := c.report(rulePreview, b.Path, "app %q has a %s source, which cannot take the image the pull request built", a.Name, a.Source.Type)
		d.Expected = "a kustomize or helm source"
	}
	if a.Image == nil {
		d := c.report(rulePreview, b.Path, "app %q declares no image repository for the digest the pull request builds", a.Name)
		d.Expected = `image: repository: "ghcr.io/..."`
	}
	pl := c.pipeline(b.Pipeline)
	if pl == nil {
		d := c.report(rulePreview, b.Path.Field("pipeline"), "unknown pipeline %q", b.Pipeline)
		d.Expected = "the name of a pipeline that runs on pull requests"
		return
	}
	if pl.On == nil || pl.On.PullRequest == nil {
		d := c.report(rulePreview, b.Path.Field("pipeline"), "pipeline %q does not run on pull requests", b.Pipeline)
		d.Expected = "a pipeline with on: pullRequest"
		d.Hint = "add on: pullRequest: {} to the pipeline"
	}
	if pl.Param(PRNumberParam) == nil {
		d := c.report(rulePreview, b.Path.Field("pipeline"), "pipeline %q does not declare the %s parameter the preview's record is named by", b.Pipeline, PRNumberParam)
		d.Expected = fmt.Sprintf(`params: %q: default: ""`, PRNumberParam)
		d.Hint = "declare it: Triggers sets it from the pull request's webhook"
	}
	i := slices.IndexFunc(pl.Results, func(r *model.PipelineResult) bool { return r.Name == b.Result })
	if i < 0 || pl.Results[i].Value.Type != model.TypeString {
		d := c.report(rulePreview, b.Path.Field("result"), "pipeline %q has no string result %q with the image digest", b.Pipeline, b.Result)
		d.Expected = "the name of a string result of the pipeline"
	}
}

func (c *checker) checkPreviewIsolation(p *model.Preview) {
	plan := c.plan
	env := plan.Environment(p.Environment)
	if env == nil {
		return
	}
	if env.Production {
		d := c.report(rulePreviewIsolation, p.Path.Field("environment"), "preview %q inherits from production environment %q", p.Name, env.Name)
		d.Expected = "a non-production environment"
		d.Hint = "previews run code nobody has reviewed yet: inherit from dev or a staging environment"
	}
	for _, e := range plan.Environments {
		if e.Cluster == env.Cluster && strings.HasPrefix(e.Namespace, p.Name+"-pr-") {
			d := c.report(rulePreviewIsolation, p.Path, "the previews' namespaces %s cover environment %q's namespace %q: their projects could deploy there", p.NamespacePattern(), e.Name, e.Namespace)
			d.Hint = "rename the preview or the environment's namespace"
		}
	}
	if !env.Network.DefaultDeny {
		d := c.report(rulePreviewIsolation, env.Network.Path.Field("defaultDeny"), "preview %q inherits network policies without default deny from environment %q", p.Name, env.Name)
		d.Expected = "defaultDeny: true"
		d.Hint = "previews must reach only what the environment allows"
	}
	production := map[string]string{}
	for _, e := range plan.Environments {
		if e.Production {
			production[e.Namespace] = e.Name
		}
	}
	for _, r := range env.Network.Ingress {
		for _, ns := range r.FromNamespaces {
			if name, ok := production[ns]; ok {
				d := c.report(rulePreviewIsolation, r.Path, "preview %q lets production namespace %q (environment %q) in", p.Name, ns, name)
				d.Hint = "previews share no traffic with production: drop the namespace from the environment's ingress, or inherit from another environment"
			}
		}
	}
	for _, pa := range p.Apps {
		if pa.Build == nil {
			continue
		}
		pl := plan.Pipeline(pa.Build.Pipeline)
		if pl == nil {
			continue
		}
		for _, perm := range pl.Permissions {
			if e := plan.Environment(perm.Environment); e != nil && e.Production {
				d := c.report(rulePreviewIsolation, perm.Path, "pipeline %q, which pull requests run for preview %q, holds permissions in production environment %q", pl.Name, p.Name, e.Name)
				d.Hint = "a pull request's code must not get production credentials: move the production step to a pipeline pull requests do not run"
			}
		}
	}
}

func (c *checker) checkPreviewCapacity(p *model.Preview) {
	if p.Quota == nil {
		return
	}
	// The apps at their replicas in the environment a preview inherits
	// from must fit one preview's quota.
	var apps capacity.Resources
	for _, pa := range p.Apps {
		if dep := c.plan.AppDeployment(pa.App, p.Environment); dep != nil {
			apps = apps.Add(capacity.Parse(dep.Requests).Mul(dep.Replicas))
		}
	}
	if quota := capacity.Parse(p.Quota.Requests); !apps.Fits(quota) {
		d := c.report(rulePreviewCapacity, p.Quota.Path, "the apps of preview %q request %s at their replicas in %s; its quota allows %s", p.Name, apps, p.Environment, quota)
		d.Expected = "a preview quota that holds its apps"
		d.Hint = "raise the preview's quota requests, or deploy fewer apps in it"
	}
	if p.NodePool == "" {
		return
	}
	i := slices.IndexFunc(c.plan.Scaling.NodePools, func(n *model.NodePool) bool { return n.Name == p.NodePool })
	if i < 0 {
		return
	}
	pool := c.plan.Scaling.NodePools[i]
	limit := capacity.Parse(pool.Limits)
	need := capacity.Parse(p.Quota.Requests).Mul(int64(p.MaxOpen))
	if len(pool.Limits) > 0 && !need.Fits(limit) {
		d := c.report(rulePreviewCapacity, p.Path.Field("maxOpen"), "%d previews at their quota request %s; node pool %q holds %s", p.MaxOpen, need, pool.Name, limit)
		d.Expected = fmt.Sprintf("maxOpen times the quota within the pool's limits: at most %d previews", capacity.HowMany(capacity.Parse(p.Quota.Requests), limit))
		d.Hint = "lower maxOpen or the preview quota, or raise the node pool's limits"
	}
}
