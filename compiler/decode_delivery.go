package compiler

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
)

// intOrString decodes a field that may be an int or a string ("25%").
func (n node) intOrString() string {
	if !n.exists() {
		return ""
	}
	if i, err := n.v.Int64(); err == nil {
		return strconv.FormatInt(i, 10)
	}
	return n.str()
}

func (n node) optInt() *int64 {
	if !n.exists() {
		return nil
	}
	i := n.int()
	return &i
}

func (n node) quantities() map[string]string {
	var out map[string]string
	n.fields(func(name string, c node) {
		if out == nil {
			out = map[string]string{}
		}
		out[name] = c.quantity()
	})
	return out
}

func (d *decoder) argocd(n node) model.ArgoCD {
	a := model.ArgoCD{Namespace: n.field("namespace").str()}
	if g := n.field("gitops"); g.exists() {
		a.GitOps = &model.GitOps{
			RepoURL: g.field("repoURL").str(), Path: g.field("path").str(), TargetRevision: g.field("targetRevision").str(),
		}
	}
	return a
}

func (d *decoder) environment(name string, n node) *model.Environment {
	e := &model.Environment{
		Name:        name,
		Description: n.field("description").str(),
		Cluster:     n.field("cluster").str(),
		Namespace:   n.field("namespace").str(),
		Production:  n.field("production").boolean(),
		PodSecurity: n.field("podSecurity").str(),
		Labels:      n.field("labels").stringMap(),
		Engine:      environmentEngine(n),
		Admission:   environmentAdmission(n.field("admission")),
		Path:        n.path,
	}
	if p := n.field("promotion"); p.exists() {
		e.Promotion = &model.Promotion{From: p.field("from").str(), Manual: p.field("approval").str() == "manual", Path: p.path}
	}
	if q := n.field("quota"); q.exists() {
		e.Quota = decodeQuota(q)
	}
	l := n.field("limits")
	e.Limits = model.LimitRange{
		DefaultRequest: l.field("defaultRequest").quantities(),
		Default:        l.field("default").quantities(),
		Max:            l.field("max").quantities(),
		Path:           l.path,
	}
	net := n.field("network")
	e.Network = model.Network{
		DefaultDeny:   net.field("defaultDeny").boolean(),
		DNS:           net.field("dns").boolean(),
		SameNamespace: net.field("sameNamespace").boolean(),
		Path:          net.path,
	}
	net.field("egress").fields(func(name string, c node) {
		e.Network.Egress = append(e.Network.Egress, egressRule(name, c))
	})
	if k := net.field("kubernetesAPI"); k.exists() {
		e.Network.KubernetesAPI = egressRule("kubernetes-api", k)
	}
	net.field("ingress").fields(func(name string, c node) {
		r := &model.IngressRule{Name: name, FromNamespaces: c.field("fromNamespaces").strs(), Path: c.path}
		c.field("ports").list(func(_ int, p node) { r.Ports = append(r.Ports, int32(p.int())) })
		e.Network.Ingress = append(e.Network.Ingress, r)
	})
	if p := n.field("policy"); p.exists() {
		e.Policy = p.strs()
	} else if e.Production {
		e.Policy = slices.Clone(policies.ProductionDefault)
	} else {
		e.Policy = []string{"baseline"}
	}
	if w := n.field("syncWindows"); w.exists() {
		e.SyncWindows = []*model.SyncWindow{}
		w.list(func(_ int, c node) {
			e.SyncWindows = append(e.SyncWindows, &model.SyncWindow{
				Kind: c.field("kind").str(), Schedule: c.field("schedule").str(), Duration: c.field("duration").str(),
				TimeZone: c.field("timeZone").str(), ManualSync: c.field("manualSync").boolean(), Path: c.path,
			})
		})
	}
	return e
}

// decodeQuota decodes a #Quota.
func decodeQuota(q node) *model.Quota {
	out := &model.Quota{
		Requests:               q.field("requests").quantities(),
		Limits:                 q.field("limits").quantities(),
		Pods:                   q.field("pods").optInt(),
		PersistentVolumeClaims: q.field("persistentVolumeClaims").optInt(),
		Storage:                q.field("storage").quantity(),
		PipelineRuns:           q.field("pipelineRuns").optInt(),
		TaskRuns:               q.field("taskRuns").optInt(),
		Path:                   q.path,
	}
	if !q.field("storage").exists() {
		out.Storage = ""
	}
	return out
}

func egressRule(name string, n node) *model.EgressRule {
	r := &model.EgressRule{Name: name, CIDRs: n.field("cidrs").strs(), Protocol: n.field("protocol").str(), Hosts: n.field("hosts").strs(), Path: n.path}
	n.field("ports").list(func(_ int, p node) { r.Ports = append(r.Ports, int32(p.int())) })
	return r
}

func (d *decoder) team(name string, n node) *model.Team {
	t := &model.Team{
		Name:                 name,
		Description:          n.field("description").str(),
		Environments:         n.field("environments").strs(),
		SourceRepos:          n.field("sourceRepos").strs(),
		ExplicitEnvironments: n.field("environments").exists(),
		ExplicitSourceRepos:  n.field("sourceRepos").exists(),
		Path:                 n.path,
	}
	t.SourceRepoPaths = map[string]model.Path{}
	n.field("sourceRepos").list(func(_ int, c node) {
		if r := c.str(); t.SourceRepoPaths[r] == "" {
			t.SourceRepoPaths[r] = c.path
		}
	})
	n.field("clusterResources").list(func(_ int, c node) {
		t.ClusterResources = append(t.ClusterResources, model.GroupKind{Group: c.field("group").str(), Kind: c.field("kind").str(), Path: c.path})
	})
	n.field("roles").fields(func(name string, c node) {
		t.Roles = append(t.Roles, &model.TeamRole{
			Name: name, Description: c.field("description").str(), Groups: c.field("groups").strs(),
			Actions: c.field("actions").strs(), Path: c.path,
		})
	})
	return t
}

func (d *decoder) app(name string, n node) *model.App {
	src := n.field("source")
	a := &model.App{
		Name:        name,
		Team:        n.field("team").str(),
		Description: n.field("description").str(),
		Source: model.AppSource{
			RepoURL: src.field("repoURL").str(), Path: src.field("path").str(),
			TargetRevision: src.field("targetRevision").str(), Type: src.field("type").str(),
		},
		Path: n.path,
	}
	if h := src.field("helm"); h.exists() {
		a.Source.Helm = &model.Helm{
			ReleaseName:   h.field("releaseName").str(),
			ValueFiles:    h.field("valueFiles").strs(),
			Parameters:    h.field("parameters").stringMap(),
			RepositoryKey: h.field("imageKeys").field("repository").str(),
			TagKey:        h.field("imageKeys").field("tag").str(),
			DigestKey:     h.field("imageKeys").field("digest").str(),
		}
	}
	if im := n.field("image"); im.exists() {
		a.Image = &model.AppImage{
			Repository: im.field("repository").str(), Tag: im.field("tag").str(), Digest: im.field("digest").str(), Path: im.path,
		}
		if fp := im.field("fromPipeline"); fp.exists() {
			a.Image.FromPipeline = &model.ImageFromPipeline{
				Pipeline: fp.field("pipeline").str(), Result: fp.field("result").str(),
				GitCredentials: fp.field("gitCredentials").str(), Path: fp.path,
			}
		}
	}
	replicas := n.field("replicas").int()
	requests := n.field("resources").field("requests").quantities()
	strategy := decodeStrategy(n.field("strategy"))
	m := n.field("metrics")
	a.Metrics = model.AppMetrics{
		Selector: m.field("selector").str(), Requests: m.field("requests").str(), Duration: m.field("duration").str(),
		Produces: m.field("produces").strs(), Path: m.path,
	}
	objectives := decodeObjectives(n.field("objectives"), nil)
	tests := decodeTests(n.field("tests"), nil)
	n.field("environments").fields(func(env string, c node) {
		dep := &model.Deployment{
			App:            name,
			Environment:    env,
			TargetRevision: a.Source.TargetRevision,
			SourcePath:     a.Source.Path,
			Replicas:       replicas,
			Requests:       requests,
			Image:          a.Image,
			Helm:           a.Source.Helm,
			Strategy:       strategy,
			Objectives:     decodeObjectives(c.field("objectives"), objectives),
			Tests:          decodeTests(c.field("tests"), tests),
			Path:           c.path,
		}
		// What the environment does not set is the app's: a finding
		// about it is reported where the app sets it.
		d.src.Alias(c.path.Field("replicas"), n.path.Field("replicas"))
		d.src.Alias(c.path.Field("resources"), n.path.Field("resources"))
		if v := c.field("targetRevision"); v.exists() {
			dep.TargetRevision = v.str()
		}
		if v := c.field("path"); v.exists() {
			dep.SourcePath = v.str()
		}
		if v := c.field("replicas"); v.exists() {
			dep.Replicas = v.int()
		}
		if v := c.field("resources").field("requests"); v.exists() {
			dep.Requests = mergeMaps(requests, v.quantities())
		}
		if v := c.field("image"); v.exists() && a.Image != nil {
			img := *a.Image
			if t := v.field("tag"); t.exists() {
				img.Tag, img.Digest = t.str(), ""
			}
			if dg := v.field("digest"); dg.exists() {
				img.Digest = dg.str()
			}
			img.Path = v.path
			dep.Image = &img
		}
		if v := c.field("helm"); v.exists() && a.Source.Helm != nil {
			h := *a.Source.Helm
			if vf := v.field("valueFiles"); vf.exists() {
				h.ValueFiles = append(slices.Clone(h.ValueFiles), vf.strs()...)
			}
			h.Parameters = mergeMaps(h.Parameters, v.field("parameters").stringMap())
			dep.Helm = &h
		}
		if v := c.field("strategy"); v.exists() {
			dep.Strategy = decodeStrategy(v)
		}
		if v := c.field("sync"); v.exists() {
			automated, prune, selfHeal := syncOverride(v)
			d.syncOverrides[dep] = [3]*bool{automated, prune, selfHeal}
		}
		a.Deployments = append(a.Deployments, dep)
	})
	return a
}

// syncOverride returns the sync overrides of an app environment node.
func syncOverride(n node) (automated, prune, selfHeal *bool) {
	get := func(name string) *bool {
		if f := n.field(name); f.exists() {
			b := f.boolean()
			return &b
		}
		return nil
	}
	return get("automated"), get("prune"), get("selfHeal")
}

// decodeObjectives decodes objectives, keyed by name, over base: one of
// the same name replaces base's.
func decodeObjectives(n node, base []*model.Objective) []*model.Objective {
	byName := map[string]*model.Objective{}
	for _, o := range base {
		byName[o.Name] = o
	}
	n.fields(func(name string, c node) {
		o := &model.Objective{
			Name: name, Window: c.field("window").str(), Interval: c.field("interval").str(), InitialDelay: c.field("initialDelay").str(),
			Count: c.field("count").optInt(), FailureLimit: c.field("failureLimit").optInt(), InconclusiveLimit: c.field("inconclusiveLimit").optInt(),
			Path: c.path,
		}
		if sr := c.field("successRate"); sr.exists() {
			v := sr.field("atLeast").float()
			o.SuccessRate = &v
		}
		if l := c.field("latency"); l.exists() {
			o.Latency = &model.Latency{Quantile: l.field("quantile").float(), AtMost: l.field("atMost").str()}
		}
		if q := c.field("query"); q.exists() {
			o.Query = &model.RawQuery{PromQL: q.field("promql").str(), SuccessCondition: q.field("successCondition").str(), FailureCondition: q.field("failureCondition").str()}
		}
		byName[name] = o
	})
	return sortedByName(byName, func(o *model.Objective) string { return o.Name })
}

// decodeTests decodes test jobs, keyed by name, over base.
func decodeTests(n node, base []*model.TestJob) []*model.TestJob {
	byName := map[string]*model.TestJob{}
	for _, t := range base {
		byName[t.Name] = t
	}
	n.fields(func(name string, c node) {
		t := &model.TestJob{
			Name: name, Image: c.field("image").str(), Args: c.field("args").strs(), Env: c.field("env").stringMap(),
			Timeout: c.field("timeout").str(), Retries: c.field("retries").int(), Path: c.path,
		}
		if cmd := c.field("command"); cmd.exists() {
			t.Command = cmd.strs()
		}
		byName[name] = t
	})
	return sortedByName(byName, func(t *model.TestJob) string { return t.Name })
}

func sortedByName[T any](m map[string]T, name func(T) string) []T {
	if len(m) == 0 {
		return nil
	}
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}

func (n node) float() float64 {
	f, _ := n.v.Float64()
	return f
}

func decodeStrategy(n node) model.Strategy {
	s := model.Strategy{Path: n.path}
	switch {
	case n.field("canary").exists():
		c := n.field("canary")
		s.Canary = &model.Canary{
			Analysis:       c.field("analysis").field("templates").strs(),
			StableService:  c.field("stableService").str(),
			CanaryService:  c.field("canaryService").str(),
			MaxSurge:       c.field("maxSurge").intOrString(),
			MaxUnavailable: c.field("maxUnavailable").intOrString(),
		}
		c.field("steps").list(func(_ int, st node) {
			var step model.CanaryStep
			switch {
			case st.field("setWeight").exists():
				w := int32(st.field("setWeight").int())
				step.SetWeight = &w
			case st.field("pause").exists():
				step.Pause = &model.Pause{Duration: st.field("pause").field("duration").str()}
			case st.field("analysis").exists():
				step.Analysis = st.field("analysis").field("templates").strs()
			}
			s.Canary.Steps = append(s.Canary.Steps, step)
		})
	case n.field("blueGreen").exists():
		b := n.field("blueGreen")
		s.BlueGreen = &model.BlueGreen{
			ActiveService:         b.field("activeService").str(),
			PreviewService:        b.field("previewService").str(),
			AutoPromotionEnabled:  b.field("autoPromotionEnabled").boolean(),
			PrePromotionAnalysis:  b.field("prePromotionAnalysis").field("templates").strs(),
			PostPromotionAnalysis: b.field("postPromotionAnalysis").field("templates").strs(),
			ScaleDownDelaySeconds: int32(b.field("scaleDownDelaySeconds").int()),
		}
	default:
		r := n.field("rolling")
		s.Rolling = &model.Rolling{MaxSurge: r.field("maxSurge").intOrString(), MaxUnavailable: r.field("maxUnavailable").intOrString()}
	}
	return s
}

func mergeMaps(a, b map[string]string) map[string]string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (d *decoder) permissions(n node) []*model.Permission {
	var out []*model.Permission
	n.list(func(_ int, c node) {
		out = append(out, &model.Permission{
			Environment:   c.field("environment").str(),
			APIGroups:     c.field("apiGroups").strs(),
			Resources:     c.field("resources").strs(),
			Verbs:         c.field("verbs").strs(),
			ResourceNames: c.field("resourceNames").strs(),
			Path:          c.path,
		})
	})
	return out
}

// resolveDelivery fills in what depends on several parts of the
// configuration: each deployment's sync policy (the environment's default,
// then the app's overrides), and each team's environments and source
// repositories when the team does not declare them.
func (d *decoder) resolveDelivery(plan *model.Plan) {
	for _, a := range plan.Apps {
		for _, dep := range a.Deployments {
			env := plan.Environment(dep.Environment)
			manual := env != nil && (env.Production || (env.Promotion != nil && env.Promotion.Manual))
			dep.Sync = model.SyncPolicy{Automated: !manual, Prune: !manual, SelfHeal: !manual}
			if o, ok := d.syncOverrides[dep]; ok {
				if o[0] != nil {
					dep.Sync.Automated = *o[0]
				}
				if o[1] != nil {
					dep.Sync.Prune = *o[1]
				}
				if o[2] != nil {
					dep.Sync.SelfHeal = *o[2]
				}
			}
		}
	}
	for _, t := range plan.Teams {
		envs := map[string]bool{}
		repos := map[string]bool{}
		for _, a := range plan.Apps {
			if a.Team != t.Name {
				continue
			}
			repos[a.Source.RepoURL] = true
			if !t.ExplicitSourceRepos && t.SourceRepoPaths[a.Source.RepoURL] == "" {
				if t.SourceRepoPaths == nil {
					t.SourceRepoPaths = map[string]model.Path{}
				}
				t.SourceRepoPaths[a.Source.RepoURL] = a.Path.Field("source").Field("repoURL")
			}
			for _, dep := range a.Deployments {
				envs[dep.Environment] = true
			}
		}
		if !t.ExplicitEnvironments {
			t.Environments = sortedKeys(envs)
		}
		if !t.ExplicitSourceRepos {
			t.SourceRepos = sortedKeys(repos)
		}
		slices.Sort(t.Environments)
		slices.Sort(t.SourceRepos)
	}
}
