// Package flux is pipec's Flux target, for the environments delivered with
// Flux (delivery.engine "flux"): the GitRepository of pipec's own output and
// a Kustomization per environment that applies its directory (namespace,
// guard rails, RBAC, rollouts, and the app objects below), one for the CI
// resources and one that keeps the Flux directory itself in sync; per team
// and environment a ServiceAccount whose permissions bound what the team's
// objects may change; per app and environment a GitRepository for the
// app's source and a Kustomization (kustomize and directory sources) or a
// HelmRelease (helm sources), reconciled as the team's ServiceAccount,
// inside the environment's namespace, after its guard rails. Objects are
// built from Flux's own API types (source-controller, kustomize-controller
// and helm-controller API modules).
package flux

import (
	"context"
	"encoding/json"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Name of the target.
const Name = "flux"

// Dir is the delivery directory of the Flux objects that live in Flux's
// namespace: applied once by hand (`kubectl apply -f manifests/flux/`),
// then kept in sync by the Kustomization PlatformKustomization.
const Dir = "flux"

// Names of the objects in Flux's namespace.
const (
	// GitOpsSource is the GitRepository of pipec's own output.
	GitOpsSource = "pipec"
	// PlatformKustomization applies the Flux directory.
	PlatformKustomization = "pipec-flux"
	// CIKustomization applies the CI directory.
	CIKustomization = "pipec-ci"
	// PlatformServiceAccount is the kustomize-controller's own
	// ServiceAccount: pipec's output creates namespaces and guard rails,
	// which only the platform may.
	PlatformServiceAccount = "kustomize-controller"
)

// Labels and annotations on generated objects (as the Argo CD target's).
const (
	LabelApp       = "pipec.dev/app"
	LabelTeam      = "pipec.dev/team"
	AnnotationFrom = "pipec.dev/promoted-from"
	// AnnotationManual marks a deployment a person promotes: it is
	// suspended, and resumed to apply what git holds.
	AnnotationManual = "pipec.dev/promotion-approval"
)

// ComponentDir is where, inside an app's source path, the deploy task of
// image.fromPipeline commits the kustomize Component that pins the built
// digest for the app's first environment (ComponentDir/<app>-<env>).
const ComponentDir = ".pipec"

// Target is the Flux target.
type Target struct{}

// New returns the Flux target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: sources before what reads them.
func (Target) Kinds() []string {
	return []string{"GitRepository", "Kustomization", "HelmRelease"}
}

// Generate implements targets.Target.
func (Target) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	envs := plan.FluxEnvironments()
	ciByFlux := plan.Delivery.Engine == model.EngineFlux && plan.Namespace != "" && len(plan.Pipelines)+len(plan.Tasks) > 0
	if len(envs) == 0 && !ciByFlux {
		return nil, nil
	}
	g := &generator{plan: plan, gitops: plan.ArgoCD.GitOps}
	if g.gitops != nil {
		g.platform(envs, ciByFlux)
	}
	for _, t := range plan.Teams {
		for _, name := range t.Environments {
			if env := plan.Environment(name); env != nil && env.FluxDelivered() {
				g.tenant(t, env)
			}
		}
	}
	for _, a := range plan.Apps {
		for _, dep := range a.Deployments {
			if env := plan.Environment(dep.Environment); env != nil && env.FluxDelivered() {
				g.app(a, dep, env)
			}
		}
	}
	return g.objs, g.diags
}

type generator struct {
	plan   *model.Plan
	gitops *model.GitOps
	objs   []targets.Object
	diags  diag.List
}

func (g *generator) add(v targets.Meta, src model.Path, dir string) {
	g.objs = append(g.objs, targets.New(Name, v, src, dir))
}

func duration(s string) metav1.Duration {
	d, _ := time.ParseDuration(s) // the schema admits only durations
	return metav1.Duration{Duration: d}
}

func (g *generator) interval() metav1.Duration { return duration(g.plan.Flux.Interval) }

func (g *generator) timeout() *metav1.Duration {
	d := duration(g.plan.Flux.Timeout)
	return &d
}

func objectMeta(name, ns string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: targets.Labels(labels)}
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
var versionRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$`)

// DefaultBranch is the branch a target revision of HEAD (the remote's
// default branch, to Argo CD) becomes: source-controller cannot follow a
// remote's HEAD (ref.name "HEAD" resolves to no commit, seen on the real
// controller in internal/testing/e2eflux), and without a ref it takes
// "master".
const DefaultBranch = "main"

// gitRef maps an Argo CD target revision to a GitRepository reference:
// HEAD is DefaultBranch, a full commit hash a commit, refs/… a reference,
// a version a tag, anything else a branch.
func gitRef(rev string) *sourcev1.GitRepositoryRef {
	switch {
	case rev == "" || rev == "HEAD":
		return &sourcev1.GitRepositoryRef{Branch: DefaultBranch}
	case commitRE.MatchString(rev):
		return &sourcev1.GitRepositoryRef{Commit: rev}
	case strings.HasPrefix(rev, "refs/"):
		return &sourcev1.GitRepositoryRef{Name: rev}
	case versionRE.MatchString(rev):
		return &sourcev1.GitRepositoryRef{Tag: rev}
	}
	return &sourcev1.GitRepositoryRef{Branch: rev}
}

func (g *generator) gitRepository(name, ns, url, rev string, labels map[string]string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: objectMeta(name, ns, labels),
		Spec: sourcev1.GitRepositorySpec{
			URL: url, Reference: gitRef(rev), Interval: g.interval(), Timeout: g.timeout(),
		},
	}
}

// platform emits the objects in Flux's namespace: the GitOps repository,
// a Kustomization per environment, the CI one and the Flux directory's own.
func (g *generator) platform(envs []*model.Environment, ci bool) {
	ns := g.plan.Flux.Namespace
	g.add(g.gitRepository(GitOpsSource, ns, g.gitops.RepoURL, g.gitops.TargetRevision, nil), "argocd.gitops", Dir)
	ks := func(name, dir string, src model.Path, health []meta.NamespacedObjectKindReference) {
		k := &kustomizev1.Kustomization{
			TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
			ObjectMeta: objectMeta(name, ns, nil),
			Spec: kustomizev1.KustomizationSpec{
				SourceRef:          kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: GitOpsSource},
				Path:               strings.TrimSuffix(g.gitops.Path, "/") + "/" + dir,
				Prune:              true,
				Interval:           g.interval(),
				Timeout:            g.timeout(),
				ServiceAccountName: PlatformServiceAccount,
				// The environment's directory holds the app objects, which
				// wait for this one: waiting for them would never end.
				HealthChecks: health,
			},
		}
		g.add(k, src, Dir)
	}
	ks(PlatformKustomization, Dir, "argocd.gitops", nil)
	for _, env := range envs {
		ks(EnvKustomization(env), targets.EnvDir(env.Name), env.Path,
			[]meta.NamespacedObjectKindReference{{APIVersion: "v1", Kind: "Namespace", Name: env.Namespace}})
	}
	if ci {
		ks(CIKustomization, targets.CIDir, "namespace", nil)
	}
}

// EnvKustomization is the name of the Kustomization of an environment's
// directory, in Flux's namespace.
func EnvKustomization(env *model.Environment) string { return "env-" + env.Name }

// TenantAccount is the ServiceAccount a team's objects are reconciled as
// in each of its environments.
func TenantAccount(team string) string { return "flux-" + team }

// tenantRules are what a team's objects may change in its environments:
// workloads and their configuration, never the guard rails (quotas, limit
// ranges, network policies) nor the namespace, and nothing outside it.
// Roles and RoleBindings stay writable, as under a team's AppProject: apps
// ship them for their own ServiceAccounts. Kubernetes' escalation checks
// bound what a binding may grant to this Role's rights in this namespace,
// but not to whom: the team may hand them to another subject. Bounding
// the subjects needs an admission policy, which pipec does not emit yet.
var tenantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims", "pods"}, Verbs: verbsWrite},
	{APIGroups: []string{""}, Resources: []string{"events", "endpoints"}, Verbs: verbsRead},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}, Verbs: verbsWrite},
	{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: verbsRead},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: verbsWrite},
	{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: verbsWrite},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: verbsWrite},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: verbsWrite},
	{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: verbsWrite},
	{APIGroups: []string{"argoproj.io"}, Resources: []string{"rollouts", "analysistemplates"}, Verbs: verbsRead},
}

var (
	verbsWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	verbsRead  = []string{"get", "list", "watch"}
)

// AnnotationPrune set to PruneDisabled keeps an object Flux applied when it
// leaves git.
const (
	AnnotationPrune = "kustomize.toolkit.fluxcd.io/prune"
	PruneDisabled   = "disabled"
)

// tenant emits a team's ServiceAccount in an environment and what it may
// do there. They are never pruned: when a team's last app leaves an
// environment, its Kustomization's finalizer deletes what the app deployed
// as this account, which must still hold its rights then (seen on the real
// controller in internal/testing/e2eflux: pruned together, the deletion is
// forbidden and the app's objects stay).
func (g *generator) tenant(t *model.Team, env *model.Environment) {
	name := TenantAccount(t.Name)
	labels := map[string]string{LabelTeam: t.Name, targets.LabelEnvironment: env.Name}
	dir := targets.EnvDir(env.Name)
	meta := func() metav1.ObjectMeta {
		m := objectMeta(name, env.Namespace, labels)
		m.Annotations = map[string]string{AnnotationPrune: PruneDisabled}
		return m
	}
	g.add(&corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta(),
		AutomountServiceAccountToken: ptr(false),
	}, t.Path, dir)
	g.add(&rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(),
		Rules:      tenantRules,
	}, t.Path, dir)
	g.add(&rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: env.Namespace}},
	}, t.Path, dir)
}

// app emits an app's source and its Kustomization or HelmRelease in an
// environment. They live in the environment's namespace, in its
// directory: the environment's Kustomization applies them with its
// namespace and guard rails, and they refer to nothing outside it.
func (g *generator) app(a *model.App, dep *model.Deployment, env *model.Environment) {
	labels := map[string]string{LabelApp: a.Name, LabelTeam: a.Team, targets.LabelEnvironment: env.Name}
	dir := targets.EnvDir(env.Name)
	src := g.gitRepository(a.Name, env.Namespace, a.Source.RepoURL, dep.TargetRevision, labels)
	g.add(src, dep.Path, dir)
	om := objectMeta(a.Name, env.Namespace, labels)
	if env.Promotion != nil {
		om.Annotations = map[string]string{AnnotationFrom: a.Name + "-" + env.Promotion.From}
	}
	if !dep.Sync.Automated {
		if om.Annotations == nil {
			om.Annotations = map[string]string{}
		}
		om.Annotations[AnnotationManual] = "manual"
	}
	if a.Source.Type == "helm" {
		g.add(g.helmRelease(a, dep, env, om), dep.Path, dir)
		return
	}
	spec := kustomizev1.KustomizationSpec{
		SourceRef:          kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: a.Name},
		Path:               sourcePath(dep.SourcePath),
		Prune:              dep.Sync.Prune,
		Suspend:            !dep.Sync.Automated,
		Interval:           g.interval(),
		RetryInterval:      &metav1.Duration{Duration: time.Minute},
		Timeout:            g.timeout(),
		Wait:               true,
		ServiceAccountName: TenantAccount(a.Team),
		TargetNamespace:    env.Namespace,
	}
	if g.gitops != nil {
		spec.DependsOn = []kustomizev1.DependencyReference{{Name: EnvKustomization(env), Namespace: g.plan.Flux.Namespace}}
	}
	if a.Source.Type == "kustomize" {
		if i := dep.Image; i != nil && (i.Digest != "" || i.Tag != "") {
			spec.Images = []kustomize.Image{{Name: i.Repository, NewTag: i.Tag, Digest: i.Digest}}
		}
		if r := dep.Strategy.Rolling; r != nil && (r.MaxSurge != "" || r.MaxUnavailable != "") {
			spec.Patches = []kustomize.Patch{{
				Target: &kustomize.Selector{Group: "apps", Version: "v1", Kind: "Deployment"},
				Patch:  targets.RollingPatch(r.MaxSurge, r.MaxUnavailable),
			}}
		}
		if a.Image != nil && a.Image.FromPipeline != nil && g.plan.FirstDeployment(a) == dep {
			spec.Components = []string{ComponentDir + "/" + a.Name + "-" + env.Name}
			spec.IgnoreMissingComponents = true
		}
	}
	g.add(&kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: om,
		Spec:       spec,
	}, dep.Path, dir)
}

// sourcePath is an app's path as Flux takes it: relative to the source's
// root.
func sourcePath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return "./"
	}
	return "./" + p
}

func (g *generator) helmRelease(a *model.App, dep *model.Deployment, env *model.Environment, om metav1.ObjectMeta) *helmv2.HelmRelease {
	chart := strings.Trim(dep.SourcePath, "/")
	if chart == "" {
		chart = "."
	}
	spec := helmv2.HelmReleaseSpec{
		Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart:     "./" + strings.TrimPrefix(chart, "./"),
			SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: a.Name},
			// Argo CD renders the chart as the commit has it.
			ReconcileStrategy: "Revision",
		}},
		Interval:           g.interval(),
		Suspend:            !dep.Sync.Automated,
		TargetNamespace:    env.Namespace,
		StorageNamespace:   env.Namespace,
		Timeout:            g.timeout(),
		MaxHistory:         ptr(10),
		ServiceAccountName: TenantAccount(a.Team),
		DriftDetection:     &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled},
		Install:            &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: 5}},
		Upgrade:            &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: 5, RemediateLastFailure: ptr(true)}},
	}
	if h := dep.Helm; h != nil {
		spec.ReleaseName = h.ReleaseName
		spec.Chart.Spec.ValuesFiles = valuesFiles(chart, h.ValueFiles)
		params := map[string]string{}
		for k, v := range h.Parameters {
			if strings.ContainsAny(k, `[]\,`) {
				d := g.diags.Errorf(g.plan.Sources, a.Path.Field("source").Field("helm").Field("parameters"), "Helm parameter %q uses list or escape syntax, which pipec cannot turn into Flux values", k)
				d.Expected = "dotted keys such as \"service.port\""
				d.Hint = "set lists and keys with dots in a values file (helm.valueFiles)"
				continue
			}
			params[k] = v
		}
		if dep.Image != nil {
			params[h.RepositoryKey] = dep.Image.Repository
			if dep.Image.Digest != "" {
				params[h.DigestKey] = dep.Image.Digest
			}
			if dep.Image.Tag != "" {
				params[h.TagKey] = dep.Image.Tag
			}
		}
		for _, k := range slices.Sorted(maps.Keys(params)) {
			// Helm's --set (and Argo CD's parameters) lets the later of "a"
			// and "a.b" replace the other: one of the user's values would
			// be dropped without a word.
			for _, under := range slices.Sorted(maps.Keys(params)) {
				if strings.HasPrefix(under, k+".") {
					d := g.diags.Errorf(g.plan.Sources, a.Path.Field("source").Field("helm").Field("parameters"), "Helm parameters %q and %q both set %s: one value would replace the other", k, under, k)
					d.Expected = "a value at a key, or keys beneath it, not both"
					d.Hint = "drop one of them; an image key (helm.repositoryKey, tagKey, digestKey) counts as a parameter"
					break
				}
			}
		}
		if len(params) > 0 {
			raw, _ := json.Marshal(HelmValues(params))
			spec.Values = &apiextensionsv1.JSON{Raw: raw}
		}
	}
	return &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: om,
		Spec:       spec,
	}
}

// valuesFiles are Argo CD's value files of a chart as Flux takes them:
// relative to the source's root, not the chart, and after the chart's own
// values.yaml unless listed. Helm (and Argo CD) merge value files over the
// chart's defaults; source-controller (v1.7.0, internal/helm/chart/
// builder_local.go, OverwriteChartDefaultValues) replaces the defaults with
// the merged files, which would drop every default the files do not set.
func valuesFiles(chart string, files []string) []string {
	if len(files) == 0 {
		return nil
	}
	defaults := "./" + path.Join(chart, "values.yaml")
	var out []string
	for _, f := range files {
		out = append(out, "./"+path.Join(chart, f))
	}
	if !slices.Contains(out, defaults) {
		out = append([]string{defaults}, out...)
	}
	return out
}

// HelmValues turns Argo CD's Helm parameters (dotted keys, values as
// `helm --set` takes them) into the values tree: "true" and "false" are
// booleans, "null" is null, whole numbers without a leading zero are
// integers, anything else a string, as Helm's strvals types them.
func HelmValues(params map[string]string) map[string]any {
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = typedValue(params[k])
	}
	return out
}

func typedValue(v string) any {
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	case strings.EqualFold(v, "null"):
		return nil
	case v == "0":
		return int64(0)
	case v == "" || v[0] == '0':
		return v
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}

func ptr[T any](v T) *T { return &v }
