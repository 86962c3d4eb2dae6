package compiler

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/argo"
)

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// envNames are the declared environments' names, in name order (what
// findings list as the environments one could have meant).
func (c *checker) envNames() []string {
	var names []string
	for _, e := range envsByName(c.plan) {
		names = append(names, e.Name)
	}
	return names
}

// checkEnvironments checks each environment's namespace and guard rails.
func (c *checker) checkEnvironments() {
	p := c.plan
	seenNS := map[string]string{}
	for _, e := range envsByName(p) {
		c.checkName(e.Path, e.Name, "environment")
		c.checkMetadata(e.Path, e.Labels, nil)
		if !dnsLabelRE.MatchString(e.Namespace) || len(e.Namespace) > 63 {
			d := c.report(ruleName, e.Path.Field("namespace"), "invalid namespace %q", e.Namespace)
			d.Expected = "a DNS label: lower-case letters, digits and '-'"
		}
		if e.Namespace == "default" || strings.HasPrefix(e.Namespace, "kube-") {
			d := c.report(ruleNamespace, e.Path.Field("namespace"), "environment %q uses the system namespace %q", e.Name, e.Namespace)
			d.Expected = "a namespace of its own"
			d.Hint = "workloads do not belong in default or kube-* namespaces; pick a new name"
		}
		key := e.Cluster + "/" + e.Namespace
		if other, dup := seenNS[key]; dup {
			d := c.report(ruleNamespace, e.Path.Field("namespace"), "environments %q and %q share namespace %q on %s", other, e.Name, e.Namespace, e.Cluster)
			d.Expected = "one environment per namespace and cluster"
		}
		seenNS[key] = e.Name
		if e.Quota == nil {
			d := c.report(ruleQuota, e.Path, "environment %q has no quota", e.Name)
			d.Expected = `quota: {requests: {cpu: "8", memory: "16Gi"}, pods: 50}`
			d.Hint = "every environment needs a ResourceQuota so one team cannot starve the cluster"
		} else {
			c.checkQuantities(e.Quota.Path.Field("requests"), e.Quota.Requests)
			c.checkQuantities(e.Quota.Path.Field("limits"), e.Quota.Limits)
			if e.Quota.Storage != "" {
				c.checkQuantities(e.Quota.Path, map[string]string{"storage": e.Quota.Storage})
			}
		}
		c.checkLimitRange(e)
		if !e.Network.DefaultDeny {
			d := c.report(ruleNetwork, e.Network.Path.Field("defaultDeny"), "environment %q turns off the default-deny network policy", e.Name)
			d.Expected = "defaultDeny: true, with explicit allows under network.egress and network.ingress"
			d.Hint = "allow what the environment needs instead of allowing everything"
		}
		for _, r := range append(slices.Clone(e.Network.Egress), e.Network.KubernetesAPI) {
			if r == nil {
				continue
			}
			if len(r.CIDRs) == 0 {
				d := c.report(ruleNetwork, r.Path.Field("cidrs"), "egress rule %q allows no CIDRs", r.Name)
				d.Expected = `cidrs: ["140.82.112.0/20"]`
			}
			for i, cidr := range r.CIDRs {
				if _, _, err := net.ParseCIDR(cidr); err != nil {
					d := c.report(ruleNetwork, r.Path.Field("cidrs").Index(i), "invalid CIDR %q", cidr)
					d.Expected = `a CIDR such as "10.0.0.0/8" or "140.82.112.3/32"`
				}
			}
		}
		for _, r := range e.Network.Ingress {
			if len(r.FromNamespaces) == 0 {
				d := c.report(ruleNetwork, r.Path.Field("fromNamespaces"), "ingress rule %q admits traffic from no namespace", r.Name)
				d.Expected = `fromNamespaces: ["ingress-nginx"]`
				d.Hint = "an empty list selects nothing, and Kubernetes refuses the selector; remove the rule or name the namespaces"
			}
		}
		c.checkSyncWindows(e)
	}
	if len(p.Environments) > 0 && p.Namespace != "" && len(p.Pipelines) > 0 && p.EnvironmentForNamespace(p.Namespace) == nil {
		d := c.report(ruleCINS, "namespace", "pipelines run in namespace %q, which is not an environment: no quota, limit range or network policy protects it", p.Namespace)
		d.Hint = fmt.Sprintf(`declare it: environments: ci: {namespace: %q, quota: {...}}`, p.Namespace)
	}
}

// checkPromotion checks that each environment is promoted from another
// declared one, and that promotions form no cycle.
func (c *checker) checkPromotion() {
	p := c.plan
	for _, e := range envsByName(p) {
		if e.Promotion == nil {
			continue
		}
		switch from := e.Promotion.From; {
		case from == e.Name:
			d := c.report(rulePromotion, e.Promotion.Path.Field("from"), "environment %q is promoted from itself", e.Name)
			d.Hint = "name the environment before it, such as staging for prod"
		case p.Environment(from) == nil:
			c.unknownName(e.Promotion.Path.Field("from"), "environment", from, c.envNames())
		}
	}
	_, cycles := promotionOrder(p)
	for _, cy := range cycles {
		d := c.report(rulePromotion, cy.env.Promotion.Path.Field("from"), "promotion cycle: %s", strings.Join(cy.chain, " -> "))
		d.Expected = "a promotion order without cycles, such as dev -> staging -> prod"
		d.Hint = "remove promotion.from from the first environment of the chain"
	}
}

// checkTeams checks each team's environments and roles.
func (c *checker) checkTeams() {
	p := c.plan
	for _, t := range p.Teams {
		c.checkName(t.Path, t.Name, "team")
		for i, env := range t.Environments {
			if t.ExplicitEnvironments && p.Environment(env) == nil {
				c.unknownName(t.Path.Field("environments").Index(i), "environment", env, c.envNames())
			}
		}
		for _, gk := range t.ClusterResources {
			if !namespacedKinds[gk.Group][gk.Kind] {
				continue
			}
			d := c.report(ruleClusterNS, gk.Path, "kind %q of group %q is namespaced: listing it in the clusterResources of team %q has no effect", gk.Kind, gk.Group, t.Name)
			d.Expected = "cluster-scoped kinds, such as {group: \"\", kind: \"Namespace\"} or {group: \"rbac.authorization.k8s.io\", kind: \"ClusterRole\"}"
			d.Hint = "remove it: pipec's AppProject has no namespace resource whitelist, so the team's apps may create " + gk.Kind + " in their environments' namespaces without an entry (all namespaced kinds but those the platform team owns)"
		}
		for _, r := range t.Roles {
			if len(r.Groups) == 0 {
				d := c.report(ruleRBAC, r.Path.Field("groups"), "role %q of team %q has no groups", r.Name, t.Name)
				d.Expected = "the SSO groups that hold the role"
			}
		}
	}
}

// checkApps checks each app, its deployments and where its image comes
// from.
func (c *checker) checkApps() {
	teamNames := make([]string, len(c.plan.Teams))
	for i, t := range c.plan.Teams {
		teamNames[i] = t.Name
	}
	for _, a := range c.plan.Apps {
		c.checkApp(a, teamNames, c.envNames())
	}
}

// checkPipelinePermissions checks what pipelines may do in environments.
func (c *checker) checkPipelinePermissions() {
	for _, pl := range c.plan.Pipelines {
		c.checkPermissions(pl, c.envNames())
	}
}

func (c *checker) unknownName(path model.Path, what, name string, declared []string) {
	d := c.report(ruleReference, path, "unknown %s %q", what, name)
	d.Expected = fmt.Sprintf("a declared %s: %s", what, diag.OneOf(declared))
	if s := diag.Suggest(name, declared); s != "" {
		d.Hint = fmt.Sprintf("did you mean %q?", s)
	} else {
		d.Hint = fmt.Sprintf("declare it under %ss", what)
	}
}

func (c *checker) checkQuantities(path model.Path, m map[string]string) map[string]resource.Quantity {
	out := map[string]resource.Quantity{}
	for _, k := range sortedKeys(m) {
		if q, ok := c.quantity(path.Field(k), m[k], ""); ok {
			out[k] = q
		}
	}
	return out
}

// quantity parses a resource quantity, reporting one that does not parse
// or is negative (which Kubernetes refuses in requests, limits and
// quotas); what names it in the message ("for requests cpu").
func (c *checker) quantity(path model.Path, s, what string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		d := c.report(ruleQuantity, path, "invalid quantity %q%s", s, what)
		d.Expected = `a resource quantity such as "500m", "2" or "512Mi"`
		return q, false
	}
	if q.Sign() < 0 {
		d := c.report(ruleQuantity, path, "negative quantity %q%s", s, what)
		d.Expected = `a quantity of zero or more, such as "500m", "2" or "512Mi"`
		return q, false
	}
	if quantityOutOfRange(q, s) {
		d := c.report(ruleQuantity, path, "quantity %q%s is out of range: a Kubernetes quantity holds at most 2^63-1 (9223372036854775807)", s, what)
		d.Expected = `a quantity of at most 9223372036854775807, such as "500m", "2" or "512Mi"`
		d.Hint = "Kubernetes caps a larger quantity, or overflows where it computes with it (scheduling, quota); write the amount meant"
		return q, false
	}
	return q, true
}

func (c *checker) checkLimitRange(e *model.Environment) {
	l := e.Limits
	req := c.checkQuantities(l.Path.Field("defaultRequest"), l.DefaultRequest)
	def := c.checkQuantities(l.Path.Field("default"), l.Default)
	mx := c.checkQuantities(l.Path.Field("max"), l.Max)
	for _, k := range sortedKeys(def) {
		limit := def[k]
		if r, ok := req[k]; ok && r.Cmp(limit) > 0 {
			d := c.report(ruleResources, l.Path.Field("defaultRequest").Field(k), "default %s request %s is above the default limit %s", k, r.String(), limit.String())
			d.Expected = "defaultRequest no larger than default"
		}
		if m, ok := mx[k]; ok && limit.Cmp(m) > 0 {
			d := c.report(ruleResources, l.Path.Field("default").Field(k), "default %s limit %s is above the maximum %s", k, limit.String(), m.String())
			d.Expected = "default no larger than max"
		}
	}
}

// checkSyncWindows checks the schedules and time zones of sync windows; the
// rest is checked by Argo CD's own validation in the argo target.
func (c *checker) checkSyncWindows(e *model.Environment) {
	for _, w := range e.SyncWindows {
		if w.Duration != "" {
			c.checkDuration(w.Path.Field("duration"), w.Duration)
		}
		if err := argo.ParseSchedule(w.Schedule); err != nil {
			d := c.report(ruleSchedule, w.Path.Field("schedule"), "invalid cron schedule %q: %v", w.Schedule, err)
			d.Expected = `five fields: minute hour day-of-month month day-of-week, such as "0 9 * * 1-5"`
		}
		c.checkTimeZone(w.Path.Field("timeZone"), w.TimeZone)
	}
}

// checkTimeZone requires an IANA time zone Argo CD (and Go, whose zone
// database pipec embeds) knows.
func (c *checker) checkTimeZone(path model.Path, tz string) {
	if tz == "" {
		return
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		d := c.report(ruleSchedule, path, "unknown time zone %q", tz)
		d.Expected = `an IANA time zone such as "UTC", "Europe/Berlin" or "America/New_York"`
		if s := diag.Suggest(tz, knownZones); s != "" {
			d.Hint = fmt.Sprintf("did you mean %q?", s)
		}
	}
}

// knownZones are time zones offered as suggestions for a misspelt one.
var knownZones = []string{
	"UTC", "Europe/Amsterdam", "Europe/Berlin", "Europe/Dublin", "Europe/Helsinki", "Europe/Lisbon", "Europe/London", "Europe/Madrid",
	"Europe/Paris", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Europe/Zurich", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "America/Toronto", "Asia/Kolkata", "Asia/Shanghai",
	"Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
}

func (c *checker) checkApp(a *model.App, teamNames, envNames []string) {
	p := c.plan
	c.checkName(a.Path, a.Name, "app")
	team := (*model.Team)(nil)
	for _, t := range p.Teams {
		if t.Name == a.Team {
			team = t
		}
	}
	if team == nil {
		c.unknownName(a.Path.Field("team"), "team", a.Team, teamNames)
	}
	if len(a.Deployments) == 0 {
		d := c.report(ruleApp, a.Path, "app %q is not deployed to any environment", a.Name)
		d.Expected = fmt.Sprintf("environments: %s: {}", firstOr(envNames, "dev"))
	}
	if team != nil && team.ExplicitSourceRepos && !argo.SourcePermitted(team.SourceRepos, a.Source.RepoURL) {
		d := c.report(ruleApp, a.Path.Field("source").Field("repoURL"), "app %q deploys from %s, which team %q may not deploy from", a.Name, a.Source.RepoURL, team.Name)
		d.Expected = "one of the team's sourceRepos: " + diag.OneOf(team.SourceRepos)
		d.Hint = fmt.Sprintf("add the repository to teams.%s.sourceRepos", team.Name)
	}
	if a.Source.Type != "helm" && a.Source.Helm != nil {
		d := c.report(ruleApp, a.Path.Field("source").Field("helm"), "app %q sets helm settings on a %s source", a.Name, a.Source.Type)
		d.Hint = `set source.type: "helm", or remove source.helm`
	}
	seen := map[string]bool{}
	for _, dep := range a.Deployments {
		env := p.Environment(dep.Environment)
		if env == nil {
			c.unknownName(dep.Path, "environment", dep.Environment, envNames)
			continue
		}
		if team != nil && team.ExplicitEnvironments && !slices.Contains(team.Environments, dep.Environment) {
			where := fmt.Sprintf("the destinations of team %q's AppProject", team.Name)
			if env.FluxDelivered() {
				where = fmt.Sprintf("the environments team %q's Flux ServiceAccounts have rights in", team.Name)
			}
			d := c.report(ruleApp, dep.Path, "app %q deploys to %q, outside %s", a.Name, dep.Environment, where)
			d.Expected = "one of the team's environments: " + diag.OneOf(team.Environments)
			d.Hint = fmt.Sprintf("add %q to teams.%s.environments, or deploy elsewhere", dep.Environment, team.Name)
		}
		c.checkImageRef(a, dep)
		c.checkStrategy(a, dep)
		c.checkAnalysis(a, dep, env, seen)
		for _, k := range sortedKeys(dep.Requests) {
			if q, err := resource.ParseQuantity(dep.Requests[k]); err == nil && q.Sign() >= 0 && !quantityOutOfRange(q, dep.Requests[k]) {
				continue // valid: no finding, so no position to look up
			}
			// At the value: the environment's, or the app's it inherits.
			at := dep.Path.Field("resources").Field("requests").Field(k)
			if !c.src.Has(at) {
				at = a.Path.Field("resources").Field("requests").Field(k)
			}
			c.quantity(at, dep.Requests[k], "")
		}
	}
	if a.Image != nil && a.Image.FromPipeline != nil {
		c.checkFromPipeline(a)
	}
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// checkImageRef requires an immutable image: a digest, or a tag other than
// latest, unless the digest comes from a pipeline.
func (c *checker) checkImageRef(a *model.App, dep *model.Deployment) {
	img := dep.Image
	if img == nil {
		return
	}
	if a.Source.Type == "directory" {
		d := c.report(ruleApp, img.Path, "app %q sets an image, but a directory source cannot override images", a.Name)
		d.Hint = `use source.type: "kustomize" or "helm", or pin the image in the manifests`
		return
	}
	switch {
	case img.Digest != "" && !digestRE.MatchString(img.Digest):
		d := c.report(ruleImage, img.Path.Field("digest"), "invalid image digest %q", img.Digest)
		d.Expected = "sha256: followed by 64 lower-case hex digits"
	case img.Digest == "" && img.Tag == "latest":
		d := c.report(ruleImage, img.Path.Field("tag"), "app %q in %q uses the mutable tag \"latest\"", a.Name, dep.Environment)
		d.Expected = "a digest (sha256:...) or a version tag"
		d.Hint = "pin a version or a digest so every environment runs exactly what was tested"
	case img.Digest == "" && img.Tag == "" && img.FromPipeline == nil:
		d := c.report(ruleImage, dep.Path, "app %q has no immutable image in %q: neither a digest nor a tag", a.Name, dep.Environment)
		d.Expected = `image: digest: "sha256:..." (or a version tag), or image: fromPipeline: {...}`
	}
	if strings.ContainsAny(img.Repository, "@:") && !strings.Contains(img.Repository, "://") {
		if i := strings.LastIndex(img.Repository, "/"); strings.ContainsAny(img.Repository[i+1:], "@:") {
			d := c.report(ruleImage, img.Path.Field("repository"), "image repository %q includes a tag or digest", img.Repository)
			d.Expected = "the repository only, such as ghcr.io/acme/api"
			d.Hint = "put the tag in image.tag or the digest in image.digest"
		}
	}
}

func (c *checker) checkStrategy(a *model.App, dep *model.Deployment) {
	s := dep.Strategy
	if s.Rolling != nil && (s.Rolling.MaxSurge != "" || s.Rolling.MaxUnavailable != "") && a.Source.Type != "kustomize" {
		d := c.report(ruleRollout, s.Path.Field("rolling"), "rolling update parameters need a kustomize source; app %q has a %s source", a.Name, a.Source.Type)
		d.Hint = "set the Deployment's strategy in the chart's values or the manifests"
	}
	if r := s.Rolling; r != nil && r.MaxSurge != "" && r.MaxUnavailable != "" {
		// One left out is the manifest's, or Kubernetes' default of 25%.
		c.checkSurgeAndUnavailable(s.Path.Field("rolling"), r.MaxSurge, r.MaxUnavailable, fmt.Sprintf("the rolling update of app %q", a.Name))
	}
	if cn := s.Canary; cn != nil {
		c.checkSurgeAndUnavailable(s.Path.Field("canary"), cn.MaxSurge, cn.MaxUnavailable, fmt.Sprintf("the canary of app %q", a.Name))
		if len(cn.Steps) == 0 {
			d := c.report(ruleRollout, s.Path.Field("canary").Field("steps"), "canary of app %q has no steps", a.Name)
			d.Expected = `steps such as [{setWeight: 20}, {pause: {duration: "5m"}}, {setWeight: 50}, {pause: {}}]`
		}
		last := int32(-1)
		for i, st := range cn.Steps {
			if st.SetWeight != nil {
				if *st.SetWeight < last {
					d := c.report(ruleRollout, s.Path.Field("canary").Field("steps").Index(i), "canary weight goes down from %d to %d", last, *st.SetWeight)
					d.Expected = "weights that only increase"
				}
				last = *st.SetWeight
			}
			if st.Pause != nil && st.Pause.Duration != "" {
				c.checkDuration(s.Path.Field("canary").Field("steps").Index(i).Field("pause").Field("duration"), st.Pause.Duration)
			}
		}
	}
}

// checkFromPipeline checks that an app's image digest can come from the
// named pipeline result.
func (c *checker) checkFromPipeline(a *model.App) {
	fp := a.Image.FromPipeline
	pl := c.pipeline(fp.Pipeline)
	if pl == nil {
		names := make([]string, len(c.plan.Pipelines))
		for i, x := range c.plan.Pipelines {
			names[i] = x.Name
		}
		c.unknownName(fp.Path.Field("pipeline"), "pipeline", fp.Pipeline, names)
		return
	}
	if !slices.ContainsFunc(pl.Results, func(r *model.PipelineResult) bool { return r.Name == fp.Result }) {
		names := make([]string, len(pl.Results))
		for i, r := range pl.Results {
			names[i] = r.Name
		}
		d := c.report(ruleReference, fp.Path.Field("result"), "pipeline %q has no result %q", pl.Name, fp.Result)
		d.Expected = "a result of the pipeline: " + diag.OneOf(names)
		d.Hint = fmt.Sprintf(`declare it: pipelines.%s.results: %q: value: "$(tasks.<build>.results.IMAGE_DIGEST)"`, pl.Name, fp.Result)
	}
	if a.Source.Type != "kustomize" {
		d := c.report(ruleApp, fp.Path, "fromPipeline needs a kustomize source; app %q has a %s source", a.Name, a.Source.Type)
		d.Hint = "the digest is written as an Argo CD kustomize image override"
	}
	if !dnsSubdomainRE.MatchString(fp.GitCredentials) {
		d := c.report(ruleName, fp.Path.Field("gitCredentials"), "invalid Secret name %q", fp.GitCredentials)
		d.Expected = "the name of a Secret holding a .git-credentials key"
	}
}

var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// checkQuotaFit checks that the worst case of every app deployed to an
// environment fits the environment's quota: all replicas plus the surge of a
// rollout (a blue-green rollout runs two full sets).
func (c *checker) checkQuotaFit() {
	for _, env := range c.plan.Environments {
		if env.Quota == nil {
			continue
		}
		totals := map[string]resource.Quantity{}
		var pods int64
		var parts []string
		// add counts n pods, each requesting req.
		add := func(n int64, req map[string]string) {
			pods += n
			for _, k := range sortedKeys(req) {
				q, err := resource.ParseQuantity(req[k])
				if err != nil {
					continue
				}
				q.Mul(n)
				t := totals[k]
				t.Add(q)
				totals[k] = t
			}
		}
		for _, a := range c.plan.Apps {
			for _, dep := range a.Deployments {
				if dep.Environment != env.Name {
					continue
				}
				replicas, scaled := dep.Replicas, ""
				if as := c.plan.AppAutoscaler(a.Name, env.Name); as != nil {
					replicas, scaled = int64(as.MaxReplicas), fmt.Sprintf(" (autoscaler %s at maxReplicas)", as.Name)
				}
				n := worstCasePods(dep, replicas)
				add(n, dep.Requests)
				parts = append(parts, fmt.Sprintf("%s: %d pods x %s%s", a.Name, n, formatRequests(dep.Requests), scaled))
			}
		}
		// Autoscaled workloads at their maximum.
		for _, a := range c.plan.Scaling.Autoscalers {
			if a.Environment != env.Name || !a.Listener && c.plan.AppDeployment(a.TargetName, env.Name) != nil {
				continue // apps' autoscalers are counted with the apps
			}
			req := a.PodRequests
			if a.Listener {
				req = c.plan.Triggers.Resources.Requests
			}
			n := int64(a.MaxReplicas)
			add(n, req)
			parts = append(parts, fmt.Sprintf("autoscaler %s: maxReplicas %d x %s", a.Name, n, formatRequests(req)))
		}
		for _, k := range sortedKeys(env.Quota.Requests) {
			limit, err := resource.ParseQuantity(env.Quota.Requests[k])
			if err != nil || limit.Sign() < 0 || quantityOutOfRange(limit, env.Quota.Requests[k]) {
				continue // reported as a quantity
			}
			if t, ok := totals[k]; ok && t.Cmp(limit) > 0 {
				d := c.report(ruleQuota, env.Quota.Path.Field("requests").Field(k), "the workloads of %q request up to %s of %s, above the quota of %s", env.Name, t.String(), k, limit.String())
				d.Expected = fmt.Sprintf("a quota of at least %s (%s)", t.String(), strings.Join(parts, "; "))
				d.Hint = "raise the quota, or lower the replicas (maxReplicas of autoscalers) or requests in this environment"
			}
		}
		if env.Quota.Pods != nil && pods > *env.Quota.Pods {
			d := c.report(ruleQuota, env.Quota.Path.Field("pods"), "the workloads of %q run up to %d pods, above the quota of %d", env.Name, pods, *env.Quota.Pods)
			d.Expected = fmt.Sprintf("pods: %d or more (%s)", pods, strings.Join(parts, "; "))
		}
	}
}

func formatRequests(m map[string]string) string {
	var s []string
	for _, k := range sortedKeys(m) {
		s = append(s, k+" "+m[k])
	}
	return strings.Join(s, ", ")
}

// worstCasePods is the most pods a deployment of r replicas runs at once,
// mid-rollout.
func worstCasePods(dep *model.Deployment, r int64) int64 {
	switch {
	case dep.Strategy.BlueGreen != nil:
		return 2 * r
	case dep.Strategy.Canary != nil:
		return r + surge(dep.Strategy.Canary.MaxSurge, r)
	case dep.Strategy.Rolling != nil:
		return r + surge(dep.Strategy.Rolling.MaxSurge, r)
	}
	return r
}

// surge evaluates a maxSurge value ("25%" or "2") against replicas, rounding
// up as Kubernetes does; unset means Kubernetes' default of 25%.
func surge(v string, replicas int64) int64 {
	if v == "" {
		v = "25%"
	}
	if strings.HasSuffix(v, "%") {
		var pct int64
		if _, err := fmt.Sscanf(v, "%d%%", &pct); err != nil {
			return 0
		}
		return (replicas*pct + 99) / 100
	}
	var n int64
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil {
		return 0
	}
	return n
}

// checkPermissions checks a pipeline's RBAC rules: declared environment on
// the CI cluster, no wildcards, and a CI namespace to hold its
// ServiceAccount.
func (c *checker) checkPermissions(pl *model.Pipeline, envNames []string) {
	for _, perm := range pl.Permissions {
		env := c.plan.Environment(perm.Environment)
		if env == nil {
			c.unknownName(perm.Path.Field("environment"), "environment", perm.Environment, envNames)
			continue
		}
		if c.plan.Namespace == "" {
			d := c.report(rulePerms, perm.Path, "pipeline %q has permissions but the configuration sets no namespace for its ServiceAccount", pl.Name)
			d.Expected = `namespace: "ci"`
		}
		if env.Cluster != model.InCluster {
			d := c.report(rulePerms, perm.Path.Field("environment"), "pipeline %q needs permissions in %q, on another cluster (%s)", pl.Name, env.Name, env.Cluster)
			d.Expected = "an environment on the cluster the pipelines run on"
			d.Hint = "deploy to other clusters through Argo CD (apps), not from pipelines"
		}
		for field, vals := range map[string][]string{"apiGroups": perm.APIGroups, "resources": perm.Resources, "resourceNames": perm.ResourceNames} {
			for i, v := range vals {
				if strings.Contains(v, "*") {
					d := c.report(rulePerms, perm.Path.Field(field).Index(i), "wildcard %q in the permissions of pipeline %q", v, pl.Name)
					d.Expected = "explicit names: least privilege"
					d.Hint = "list exactly what the pipeline needs"
				}
			}
		}
		if len(perm.Resources) == 0 || len(perm.Verbs) == 0 {
			d := c.report(rulePerms, perm.Path, "permission of pipeline %q grants nothing", pl.Name)
			d.Expected = `resources: ["deployments"], verbs: ["get", "patch"]`
		}
	}
	if len(pl.Permissions) > 0 && c.plan.Namespace != "" {
		ci := c.plan.EnvironmentForNamespace(c.plan.Namespace)
		if ci != nil && ci.Network.KubernetesAPI == nil {
			d := c.report(ruleNetwork, ci.Network.Path, "pipeline %q uses the Kubernetes API, but environment %q (where pipelines run) does not say where it is", pl.Name, ci.Name)
			d.Expected = `network: kubernetesAPI: {cidrs: ["<API server IP>/32"], ports: [443]}`
			d.Hint = "the default-deny policy would block the pipeline's API calls"
		}
	}
}

// namespacedKinds are well-known namespaced kinds of Kubernetes' own API
// groups, by group then kind: a cluster-resource whitelist has no effect
// on them. Kinds not listed (those of CRDs, which may be either) pass.
var namespacedKinds = map[string]map[string]bool{
	"": kindSet("Binding", "ConfigMap", "Endpoints", "Event", "LimitRange", "PersistentVolumeClaim", "Pod",
		"PodTemplate", "ReplicationController", "ResourceQuota", "Secret", "Service", "ServiceAccount"),
	"apps":                      kindSet("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
	"autoscaling":               kindSet("HorizontalPodAutoscaler"),
	"batch":                     kindSet("CronJob", "Job"),
	"coordination.k8s.io":       kindSet("Lease"),
	"discovery.k8s.io":          kindSet("EndpointSlice"),
	"events.k8s.io":             kindSet("Event"),
	"networking.k8s.io":         kindSet("Ingress", "NetworkPolicy"),
	"policy":                    kindSet("PodDisruptionBudget"),
	"rbac.authorization.k8s.io": kindSet("Role", "RoleBinding"),
}

func kindSet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
