// Package argo is pipec's Argo CD target: an AppProject per team (restricted
// source repositories and destinations, no cluster resources unless listed,
// no quota, limit range or network policy management, roles, production sync
// windows), an Application per (app, environment) with the environment's
// sync policy, Argo Rollouts objects for canary and blue-green apps, and,
// when pipec's own output is committed to git, the Applications that deliver
// it, and for preview environments the ApplicationSets (pull request
// generator) that create one per pull request. Objects are built from Argo CD's own Go types and checked with its own
// project validation.
package argo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Name of the target.
const Name = "argo"

// API versions.
const (
	APIVersion         = "argoproj.io/v1alpha1"
	RolloutsAPIVersion = "argoproj.io/v1alpha1"
)

// PlatformProject is the AppProject of the Applications that deliver pipec's
// own output (namespaces, quotas, policies, RBAC, rollouts, CI resources).
const PlatformProject = "pipec-platform"

// Labels on generated Applications.
const (
	LabelApp         = "pipec.dev/app"
	LabelTeam        = "pipec.dev/team"
	AnnotationFrom   = "pipec.dev/promoted-from"
	AnnotationManual = "pipec.dev/promotion-approval"
)

// Sync waves of the Argo CD objects: projects, then the platform
// Applications, then workloads in promotion order.
const (
	waveProject  = -2
	wavePlatform = -1
)

// Target is the Argo CD target.
type Target struct{}

// New returns the Argo CD target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: projects before the Applications in
// them, and those before the Rollouts they deploy.
func (Target) Kinds() []string {
	return []string{"AppProject", "Application", "ApplicationSet", "AnalysisTemplate", "Rollout"}
}

// Generate implements targets.Target.
func (Target) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var objs []targets.Object
	var diags diag.List
	for _, t := range plan.Teams {
		if !argoTeam(plan, t) {
			continue // Flux delivers all its environments
		}
		proj := teamProject(plan, t)
		if err := validateProject(proj); err != nil {
			diags = append(diags, diag.Diagnostic{
				Severity: diag.Error, Pos: plan.Sources.Lookup(t.Path), Path: t.Path, Source: Name,
				Message: "Argo CD's validation rejects the AppProject: " + err.Error(),
				Hint:    "fix the team's roles, environments, source repositories or the sync windows of its environments",
			})
		}
		objs = append(objs, targets.New(Name, proj, t.Path, targets.ArgoCDDir))
	}
	for _, a := range plan.Apps {
		for _, dep := range a.Deployments {
			env := plan.Environment(dep.Environment)
			if env == nil {
				continue
			}
			// Argo Rollouts objects are plain manifests of the
			// environment's directory, whichever engine applies it.
			if r := rollout(a, dep, env, plan.AppAutoscaler(a.Name, env.Name) != nil); r != nil {
				objs = append(objs, analysisTemplates(plan, a, dep, env)...)
				objs = append(objs, targets.New(Name, r, dep.Strategy.Path, targets.EnvDir(env.Name)))
			}
			if !argoEnv(env) {
				continue // targets/flux delivers it
			}
			app := application(plan, a, dep, env)
			if len(app.Name) > 63 {
				d := diags.Errorf(plan.Sources, dep.Path, "Application name %q is longer than 63 characters", app.Name)
				d.Expected = "app and environment names that together fit a Kubernetes label value"
				d.Hint = "Argo CD tracks resources with a label holding the Application name; shorten the app or environment name"
			}
			objs = append(objs, targets.New(Name, app, dep.Path, targets.ArgoCDDir))
		}
	}
	if g := plan.ArgoCD.GitOps; g != nil && (slices.ContainsFunc(plan.Environments, argoEnv) || (plan.Namespace != "" && argoCI(plan))) {
		objs = append(objs, platform(plan, g)...)
	}
	pobjs, pdiags := previews(plan)
	return append(objs, pobjs...), append(diags, pdiags...)
}

func objectMeta(name, ns string, wave int, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: targets.Labels(labels), Annotations: targets.SyncWave(wave)}
}

// appMeta is objectMeta for an Application: deleting it deletes what it
// deployed, dependents first.
func appMeta(name, ns string, wave int, labels map[string]string) metav1.ObjectMeta {
	m := objectMeta(name, ns, wave, labels)
	m.Finalizers = []string{ForegroundPropagationPolicyFinalizer}
	return m
}

// protected are the namespaced kinds app teams may not manage: the platform
// team owns them.
var protected = []metav1.GroupKind{
	{Group: "", Kind: "LimitRange"},
	{Group: "", Kind: "ResourceQuota"},
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
}

func teamProject(plan *model.Plan, t *model.Team) *AppProject {
	spec := AppProjectSpec{
		Description:                t.Description,
		SourceRepos:                t.SourceRepos,
		NamespaceResourceBlacklist: protected,
		OrphanedResources:          &OrphanedResourcesMonitorSettings{Warn: ptr(true)},
	}
	for _, name := range t.Environments {
		if env := plan.Environment(name); env != nil && argoEnv(env) {
			spec.Destinations = append(spec.Destinations, ApplicationDestination{Server: env.Cluster, Namespace: env.Namespace})
			spec.SyncWindows = append(spec.SyncWindows, syncWindows(env)...)
		}
	}
	for _, gk := range t.ClusterResources {
		spec.ClusterResourceWhitelist = append(spec.ClusterResourceWhitelist, ClusterResourceRestrictionItem{Group: gk.Group, Kind: gk.Kind})
	}
	for _, r := range t.Roles {
		role := ProjectRole{Name: r.Name, Description: r.Description, Groups: r.Groups}
		for _, act := range r.Actions {
			if act == "action" {
				// Argo CD names resource actions action/<group>/<kind>/<name>
				// and refuses a bare "action".
				act = "action/*"
			}
			role.Policies = append(role.Policies, fmt.Sprintf("p, proj:%s:%s, applications, %s, %s/*, allow", t.Name, r.Name, act, t.Name))
		}
		spec.Roles = append(spec.Roles, role)
	}
	return &AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "AppProject"},
		ObjectMeta: objectMeta(t.Name, plan.ArgoCD.Namespace, waveProject, map[string]string{LabelTeam: t.Name}),
		Spec:       spec,
	}
}

// syncWindows are the windows of an environment; production environments
// without their own get weekday working hours, with manual syncs allowed.
func syncWindows(env *model.Environment) []*SyncWindow {
	ws := env.SyncWindows
	if ws == nil && env.Production {
		ws = []*model.SyncWindow{{Kind: "allow", Schedule: "0 9 * * 1-5", Duration: "8h", TimeZone: "UTC", ManualSync: true}}
	}
	var out []*SyncWindow
	for _, w := range ws {
		out = append(out, &SyncWindow{
			Kind: w.Kind, Schedule: w.Schedule, Duration: w.Duration, TimeZone: w.TimeZone, ManualSync: w.ManualSync,
			Namespaces: []string{env.Namespace}, Clusters: []string{env.Cluster},
		})
	}
	return out
}

func application(plan *model.Plan, a *model.App, dep *model.Deployment, env *model.Environment) *Application {
	src := &ApplicationSource{RepoURL: a.Source.RepoURL, Path: dep.SourcePath, TargetRevision: dep.TargetRevision}
	switch a.Source.Type {
	case "kustomize":
		k := &ApplicationSourceKustomize{}
		if dep.Image != nil && (dep.Image.Digest != "" || dep.Image.Tag != "") {
			k.Images = []string{dep.Image.Ref()}
		}
		if r := dep.Strategy.Rolling; r != nil && (r.MaxSurge != "" || r.MaxUnavailable != "") {
			k.Patches = []KustomizePatch{{
				Target: &KustomizeSelector{Group: "apps", Version: "v1", Kind: "Deployment"},
				Patch:  targets.RollingPatch(r.MaxSurge, r.MaxUnavailable),
			}}
		}
		if len(k.Images)+len(k.Patches) > 0 {
			src.Kustomize = k
		}
	case "helm":
		h := &ApplicationSourceHelm{}
		if dep.Helm != nil {
			h.ReleaseName = dep.Helm.ReleaseName
			h.ValueFiles = dep.Helm.ValueFiles
			params := map[string]string{}
			for k, v := range dep.Helm.Parameters {
				params[k] = v
			}
			if dep.Image != nil {
				params[dep.Helm.RepositoryKey] = dep.Image.Repository
				if dep.Image.Digest != "" {
					params[dep.Helm.DigestKey] = dep.Image.Digest
				}
				if dep.Image.Tag != "" {
					params[dep.Helm.TagKey] = dep.Image.Tag
				}
			}
			for _, k := range sortedKeys(params) {
				h.Parameters = append(h.Parameters, HelmParameter{Name: k, Value: params[k]})
			}
		}
		src.Helm = h
	case "directory":
		src.Directory = &ApplicationSourceDirectory{}
	}
	policy := &SyncPolicy{
		SyncOptions: []string{"CreateNamespace=false", "PruneLast=true"},
		Retry:       &RetryStrategy{Limit: 5, Backoff: &Backoff{Duration: "10s", Factor: ptr(int64(2)), MaxDuration: "5m"}},
	}
	if dep.Sync.Automated {
		policy.Automated = &SyncPolicyAutomated{Prune: dep.Sync.Prune, SelfHeal: dep.Sync.SelfHeal}
	}
	name := a.Name + "-" + env.Name
	meta := appMeta(name, plan.ArgoCD.Namespace, env.Order, map[string]string{
		LabelApp: a.Name, LabelTeam: a.Team, targets.LabelEnvironment: env.Name,
	})
	if env.Promotion != nil {
		meta.Annotations[AnnotationFrom] = a.Name + "-" + env.Promotion.From
		if env.Promotion.Manual {
			meta.Annotations[AnnotationManual] = "manual"
		}
	}
	app := &Application{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Application"},
		ObjectMeta: meta,
		Spec: ApplicationSpec{
			Project:              a.Team,
			Source:               src,
			Destination:          ApplicationDestination{Server: env.Cluster, Namespace: env.Namespace},
			SyncPolicy:           policy,
			RevisionHistoryLimit: ptr(int64(10)),
		},
	}
	if dep.RolledOut() || plan.AppAutoscaler(a.Name, env.Name) != nil {
		// The Rollout scales the Deployment it takes over to zero, or an
		// autoscaler sets its replicas; that is not drift, and a sync must
		// not reset it.
		app.Spec.IgnoreDifferences = []ResourceIgnoreDifferences{{Group: "apps", Kind: "Deployment", Name: a.Name, JSONPointers: []string{"/spec/replicas"}}}
		policy.SyncOptions = append(policy.SyncOptions, "RespectIgnoreDifferences=true")
	}
	return app
}

// rollout is the Argo Rollouts object of a canary or blue-green app. It
// takes over the app's Deployment (workloadRef), so the app's manifests stay
// as they are. An autoscaled Rollout leaves replicas to its autoscaler.
func rollout(a *model.App, dep *model.Deployment, env *model.Environment, autoscaled bool) *unstructured.Unstructured {
	var strategy map[string]any
	switch {
	case dep.Strategy.Canary != nil:
		c := dep.Strategy.Canary
		an := dep.ResolveAnalyses()
		canary := map[string]any{}
		var steps []any
		for _, s := range an.Steps {
			switch {
			case s.SetWeight != nil:
				steps = append(steps, map[string]any{"setWeight": *s.SetWeight})
			case s.Pause != nil:
				p := map[string]any{}
				if s.Pause.Duration != "" {
					p["duration"] = s.Pause.Duration
				}
				steps = append(steps, map[string]any{"pause": p})
			case len(s.Analysis) > 0:
				steps = append(steps, map[string]any{"analysis": analysis(a, s.Analysis)})
			}
		}
		canary["steps"] = steps
		if len(an.Background) > 0 {
			bg := analysis(a, an.Background)
			if an.StartingStep > 0 {
				bg["startingStep"] = an.StartingStep
			}
			canary["analysis"] = bg
		}
		setIf(canary, "stableService", c.StableService)
		setIf(canary, "canaryService", c.CanaryService)
		if c.MaxSurge != "" {
			canary["maxSurge"] = targets.IntOrString(c.MaxSurge)
		}
		if c.MaxUnavailable != "" {
			canary["maxUnavailable"] = targets.IntOrString(c.MaxUnavailable)
		}
		strategy = map[string]any{"canary": canary}
	case dep.Strategy.BlueGreen != nil:
		b := dep.Strategy.BlueGreen
		an := dep.ResolveAnalyses()
		bg := map[string]any{
			"activeService":         b.ActiveService,
			"autoPromotionEnabled":  b.AutoPromotionEnabled,
			"scaleDownDelaySeconds": b.ScaleDownDelaySeconds,
		}
		setIf(bg, "previewService", b.PreviewService)
		if len(an.PrePromotion) > 0 {
			bg["prePromotionAnalysis"] = analysis(a, an.PrePromotion)
		}
		if len(an.PostPromotion) > 0 {
			bg["postPromotionAnalysis"] = analysis(a, an.PostPromotion)
		}
		strategy = map[string]any{"blueGreen": bg}
	default:
		return nil
	}
	r := map[string]any{
		"apiVersion": RolloutsAPIVersion,
		"kind":       "Rollout",
		"metadata": map[string]any{
			"name":      a.Name,
			"namespace": env.Namespace,
			"labels": map[string]any{
				targets.LabelManagedBy: targets.ManagedBy, LabelApp: a.Name, targets.LabelEnvironment: env.Name,
			},
			"annotations": map[string]any{targets.AnnotationSyncWave: strconv.Itoa(targets.WaveWorkload)},
		},
		"spec": map[string]any{
			"replicas":             dep.Replicas,
			"revisionHistoryLimit": 10,
			"workloadRef": map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "name": a.Name, "scaleDown": "onsuccess",
			},
			"strategy": strategy,
		},
	}
	if autoscaled {
		delete(r["spec"].(map[string]any), "replicas")
	}
	return &unstructured.Unstructured{Object: r}
}

// analysis refers to the AnalysisTemplates of an app's objectives and
// tests.
func analysis(a *model.App, names []string) map[string]any {
	var ts []any
	for _, n := range names {
		ts = append(ts, map[string]any{"templateName": TemplateName(a.Name, n)})
	}
	return map[string]any{"templates": ts}
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// SyncServerSide is the sync option that makes Argo CD apply an
// Application's objects server-side. pipec's own output is synced so: some
// of its objects grow with the number of services (an environment's
// admission ClusterPolicy lists every gated repository, 776 KB at 5,000
// services; the EventListener's trigger groups every Trigger, 302 KB), and
// a client-side apply copies each object into its
// last-applied-configuration annotation, which the API server refuses
// past 256 KiB.
const SyncServerSide = "ServerSideApply=true"

// platform returns the Applications that deliver pipec's own output from
// the GitOps repository: one per environment, one for the CI resources, in
// a project of their own that may manage namespaces, quotas and policies.
func platform(plan *model.Plan, g *model.GitOps) []targets.Object {
	proj := &AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "AppProject"},
		ObjectMeta: objectMeta(PlatformProject, plan.ArgoCD.Namespace, waveProject, nil),
		Spec: AppProjectSpec{
			Description:              "pipec's own output: namespaces, quotas, limit ranges, network policies, RBAC, rollouts and CI resources",
			SourceRepos:              []string{g.RepoURL},
			ClusterResourceWhitelist: []ClusterResourceRestrictionItem{{Group: "", Kind: "Namespace"}},
		},
	}
	var objs []targets.Object
	app := func(name, path string, dest ApplicationDestination, src model.Path) {
		if !slices.Contains(proj.Spec.Destinations, dest) {
			proj.Spec.Destinations = append(proj.Spec.Destinations, dest)
		}
		a := &Application{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Application"},
			ObjectMeta: appMeta(name, plan.ArgoCD.Namespace, wavePlatform, nil),
			Spec: ApplicationSpec{
				Project:     PlatformProject,
				Source:      &ApplicationSource{RepoURL: g.RepoURL, Path: strings.TrimSuffix(g.Path, "/") + "/" + path, TargetRevision: g.TargetRevision},
				Destination: dest,
				SyncPolicy: &SyncPolicy{
					Automated:   &SyncPolicyAutomated{Prune: true, SelfHeal: true},
					SyncOptions: []string{"PruneLast=true", SyncServerSide},
					Retry:       &RetryStrategy{Limit: 5, Backoff: &Backoff{Duration: "10s", Factor: ptr(int64(2)), MaxDuration: "5m"}},
				},
				RevisionHistoryLimit: ptr(int64(10)),
			},
		}
		objs = append(objs, targets.New(Name, a, src, targets.ArgoCDDir))
	}
	for _, env := range plan.Environments {
		if !argoEnv(env) {
			continue
		}
		app("env-"+env.Name, targets.EnvDir(env.Name), ApplicationDestination{Server: env.Cluster, Namespace: env.Namespace}, env.Path)
	}
	if plan.Namespace != "" && len(plan.Pipelines)+len(plan.Tasks) > 0 && argoCI(plan) {
		app("pipec-ci", targets.CIDir, ApplicationDestination{Server: model.InCluster, Namespace: plan.Namespace}, "namespace")
		proj.Spec.ClusterResourceWhitelist = append(proj.Spec.ClusterResourceWhitelist, ciClusterResources(plan)...)
		if m := plan.Monitoring; m != nil && m.TektonNamespace != plan.Namespace {
			// The Tekton controller's ServiceMonitor lives beside it.
			proj.Spec.Destinations = append(proj.Spec.Destinations, ApplicationDestination{Server: model.InCluster, Namespace: m.TektonNamespace})
		}
		if len(plan.ChainsConfig()) > 0 {
			// The sign gates' keys of Tekton Chains' configuration.
			proj.Spec.Destinations = append(proj.Spec.Destinations, ApplicationDestination{Server: model.InCluster, Namespace: "tekton-chains"})
		}
	}
	if len(plan.Admissions()) > 0 {
		// The environments' admission policies (targets/admission).
		proj.Spec.ClusterResourceWhitelist = append(proj.Spec.ClusterResourceWhitelist, ClusterResourceRestrictionItem{Group: "kyverno.io", Kind: "ClusterPolicy"})
	}
	return append([]targets.Object{targets.New(Name, proj, "argocd", targets.ArgoCDDir)}, objs...)
}

// ciClusterResources are the cluster-scoped kinds in the CI directory: the
// ClusterRoles and bindings of the EventListener (it reads cluster
// interceptors and bindings) and of kube-state-metrics (it reads
// PipelineRuns for monitoring), and the node pools pipeline runs land on.
func ciClusterResources(plan *model.Plan) []ClusterResourceRestrictionItem {
	var out []ClusterResourceRestrictionItem
	if plan.Monitoring != nil || slices.ContainsFunc(plan.Pipelines, func(p *model.Pipeline) bool { return p.On != nil }) {
		out = append(out,
			ClusterResourceRestrictionItem{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
			ClusterResourceRestrictionItem{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"})
	}
	if len(plan.Scaling.NodePools) > 0 {
		out = append(out, ClusterResourceRestrictionItem{Group: "karpenter.sh", Kind: "NodePool"})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// argoEnv reports whether Argo CD delivers the environment (Flux delivers
// the others: targets/flux).
func argoEnv(env *model.Environment) bool { return !env.FluxDelivered() }

// argoCI reports whether Argo CD delivers the CI resources.
func argoCI(plan *model.Plan) bool { return plan.Delivery.Engine != model.EngineFlux }

// argoTeam reports whether Argo CD delivers any of a team's environments.
func argoTeam(plan *model.Plan, t *model.Team) bool {
	return slices.ContainsFunc(t.Environments, func(name string) bool {
		env := plan.Environment(name)
		return env != nil && argoEnv(env)
	})
}
