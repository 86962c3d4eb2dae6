// Package triggers is pipec's Tekton Triggers target: for the pipelines
// that have `on`, an EventListener (with its own ServiceAccount and
// least-privilege RBAC), a Trigger per (pipeline, event kind) with the
// provider's interceptor (webhook secret by reference, event types) and a
// CEL interceptor (branches, tags, paths, pull request actions and
// origin), shared TriggerBindings per (provider, event kind), and a
// TriggerTemplate per pipeline creating the PipelineRun; for pipelines
// that run pull requests from forks untrusted, a Trigger and a
// TriggerTemplate of their own for those, whose run has no credentials.
// Objects are built from Tekton Triggers' own Go types and checked with
// its own validation. The package also simulates an event offline
// (Simulate) with Triggers' own interceptors and binding code.
package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Name of the target.
const Name = "triggers"

// APIVersion of the generated Triggers objects.
const APIVersion = "triggers.tekton.dev/v1beta1"

// ListenerName is the name of the EventListener (and of its
// ServiceAccount and RBAC).
const ListenerName = model.ListenerName

// EventKindParam is the template parameter that says which kind of event
// started a run.
const EventKindParam = "event-kind"

// Labels and annotations on the PipelineRuns the template creates.
const (
	LabelTrigger      = "pipec.dev/trigger"
	LabelCommit       = "pipec.dev/commit"
	LabelPullRequest  = "pipec.dev/pull-request"
	AnnotationBranch  = "pipec.dev/branch"
	AnnotationTag     = "pipec.dev/tag"
	AnnotationAuthor  = "pipec.dev/author"
	AnnotationRepo    = "pipec.dev/repository"
	DefaultRunTimeout = "1h"
)

// Target is the Tekton Triggers target.
type Target struct{}

// New returns the Triggers target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: bindings and templates before the
// Triggers that name them, and those before the EventListener that lists
// them.
func (Target) Kinds() []string {
	return []string{"TriggerBinding", "TriggerTemplate", "Trigger", "EventListener"}
}

// Provider is the provider of a pipeline's events.
func Provider(plan *model.Plan, p *model.Pipeline) string {
	if p.On != nil && p.On.Provider != "" {
		return p.On.Provider
	}
	return plan.Triggers.Provider
}

func meta(plan *model.Plan, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: plan.Namespace,
		Labels: targets.Labels(nil),
	}
}

// Generate implements targets.Target.
func (Target) Generate(ctx context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var pipelines []*model.Pipeline
	for _, p := range plan.Pipelines {
		if p.On != nil {
			pipelines = append(pipelines, p)
		}
	}
	if len(pipelines) == 0 || plan.Triggers.WebhookSecret == nil {
		return nil, nil // nothing to listen for, or the checks reported it
	}
	var objs []targets.Object
	add := func(src model.Path, v targets.Meta) {
		objs = append(objs, targets.New(Name, v, src, targets.CIDir))
	}

	bindings := map[string]bool{}
	el := &triggersv1.EventListener{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "EventListener"},
		ObjectMeta: meta(plan, ListenerName),
		Spec: triggersv1.EventListenerSpec{
			ServiceAccountName: ListenerName,
			Resources:          listenerResources(plan.Triggers, plan.ListenerAutoscaled(), plan.ListenerPool()),
		},
	}
	for _, p := range pipelines {
		provider := Provider(plan, p)
		add(p.On.Path, triggerTemplate(plan, p.Name, PipelineRun(plan, p)))
		for _, kind := range Kinds(p.On) {
			bindings[provider+"/"+kind] = true
			name := p.Name + "-" + kind
			add(p.On.Path, trigger(plan, p, provider, kind, name, FilterFor(provider, kind, p.On), p.Name))
			el.Spec.Triggers = append(el.Spec.Triggers, triggersv1.EventListenerTrigger{TriggerRef: name})
		}
		if p.ForkRuns() {
			// Pull requests from forks get a trigger and a template of
			// their own, so that no run they start can have credentials.
			src := p.On.PullRequest.Path.Field("forks")
			add(src, triggerTemplate(plan, ForkTemplateName(p), ForkPipelineRun(plan, p)))
			name := ForkTriggerName(p)
			add(src, trigger(plan, p, provider, model.EventPullRequest, name, ForkFilter(provider, p.On), ForkTemplateName(p)))
			el.Spec.Triggers = append(el.Spec.Triggers, triggersv1.EventListenerTrigger{TriggerRef: name})
		}
	}
	for _, key := range sortedKeys(bindings) {
		provider, kind, _ := strings.Cut(key, "/")
		add(plan.Triggers.Path, binding(plan, provider, kind))
	}
	add(plan.Triggers.Path, el)
	for _, o := range listenerRBAC(plan) {
		add(plan.Triggers.Path, o)
	}

	var diags diag.List
	for _, o := range objs {
		diags = append(diags, validate(ctx, o, plan.Sources)...)
	}
	return objs, diags
}

func ptr[T any](v T) *T { return &v }

func jsonValue(v any) apiextensionsv1.JSON {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only pipec's own plain values are marshalled
	}
	return apiextensionsv1.JSON{Raw: b}
}

// ForkTriggerName is the name of the Trigger that starts a pipeline's runs
// for pull requests from forks.
func ForkTriggerName(p *model.Pipeline) string {
	return p.Name + "-" + model.EventPullRequest + "-fork"
}

// ForkTemplateName is the name of the TriggerTemplate of those runs.
func ForkTemplateName(p *model.Pipeline) string { return p.Name + "-fork" }

// trigger is one (pipeline, event kind) Trigger: the provider's
// interceptor, then CEL with filter f; it starts template's run.
func trigger(plan *model.Plan, p *model.Pipeline, provider, kind, name string, f Filter, template string) *triggersv1.Trigger {
	ev := Events[provider][kind]
	secret := plan.Triggers.WebhookSecret
	providerParams := []triggersv1.InterceptorParams{
		{Name: "secretRef", Value: jsonValue(triggersv1.SecretRef{SecretName: secret.Name, SecretKey: secret.Key})},
		{Name: "eventTypes", Value: jsonValue(ev.HeaderEvents)},
	}
	if provider == model.GitHub && hasPaths(p.On, kind) {
		acf := map[string]any{"enabled": true}
		if t := plan.Triggers.GitHubToken; t != nil {
			acf["personalAccessToken"] = triggersv1.SecretRef{SecretName: t.Name, SecretKey: t.Key}
		}
		providerParams = append(providerParams, triggersv1.InterceptorParams{Name: "addChangedFiles", Value: jsonValue(acf)})
	}
	celParams := []triggersv1.InterceptorParams{{Name: "filter", Value: jsonValue(f.Expression)}}
	if len(f.Overlays) > 0 {
		var ov []map[string]string
		for _, o := range f.Overlays {
			ov = append(ov, map[string]string{"key": o.Key, "expression": o.Expression})
		}
		celParams = append(celParams, triggersv1.InterceptorParams{Name: "overlays", Value: jsonValue(ov)})
	}
	return &triggersv1.Trigger{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Trigger"},
		ObjectMeta: meta(plan, name),
		Spec: triggersv1.TriggerSpec{
			Interceptors: []*triggersv1.TriggerInterceptor{
				{Name: ptr(provider), Ref: triggersv1.InterceptorRef{Name: provider, Kind: triggersv1.ClusterInterceptorKind}, Params: providerParams},
				{Name: ptr("filter"), Ref: triggersv1.InterceptorRef{Name: "cel", Kind: triggersv1.ClusterInterceptorKind}, Params: celParams},
			},
			Bindings: []*triggersv1.TriggerSpecBinding{
				{Ref: BindingName(provider, kind), Kind: triggersv1.NamespacedTriggerBindingKind},
				{Name: EventKindParam, Value: ptr(kind)},
			},
			Template: triggersv1.TriggerSpecTemplate{Ref: ptr(template)},
		},
	}
}

func hasPaths(on *model.On, kind string) bool {
	switch kind {
	case model.EventPush:
		return len(on.Push.Paths) > 0
	case model.EventPullRequest:
		return len(on.PullRequest.Paths) > 0
	}
	return false
}

// binding is the shared TriggerBinding of a (provider, kind).
func binding(plan *model.Plan, provider, kind string) *triggersv1.TriggerBinding {
	ev := Events[provider][kind]
	tb := &triggersv1.TriggerBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "TriggerBinding"},
		ObjectMeta: meta(plan, BindingName(provider, kind)),
	}
	for _, f := range sortedKeys(ev.Bindings) {
		tb.Spec.Params = append(tb.Spec.Params, triggersv1.Param{Name: f, Value: ev.Bindings[f]})
	}
	return tb
}

// fieldDescriptions document the template's parameters.
var fieldDescriptions = map[string]string{
	EventKindParam: "The kind of event: push, tag or pull-request.",
	"author":       "Who pushed, or opened the pull request.",
	"branch":       "The branch pushed to, or the pull request's source branch.",
	"pr-number":    "The pull (merge) request number; empty for pushes.",
	"repository":   "The repository's full name, such as acme/api.",
	"revision":     "The commit to build.",
	"tag":          "The tag pushed; empty otherwise.",
	"url":          "The repository's clone URL.",
}

// templateValue rewrites $(event.x) references into the template's
// $(tt.params.x).
func templateValue(s string) string {
	for _, f := range model.EventFields {
		s = strings.ReplaceAll(s, "$(event."+f+")", "$(tt.params."+f+")")
	}
	return s
}

// RunParams are the pipeline parameters each run of p sets: the declared
// ones, then defaults from the event for well-known names. Sorted.
func RunParams(p *model.Pipeline) []*model.Arg {
	args := slices.Clone(p.On.Params)
	for name, field := range model.DefaultEventParams {
		if p.Param(name) == nil || slices.ContainsFunc(args, func(a *model.Arg) bool { return a.Name == name }) {
			continue
		}
		args = append(args, &model.Arg{Name: name, Value: model.Value{Type: model.TypeString, String: "$(event." + field + ")"}, Path: p.On.Path})
	}
	slices.SortFunc(args, func(a, b *model.Arg) int { return strings.Compare(a.Name, b.Name) })
	return args
}

// RunWorkspaces are the workspaces each run provides: the declared ones,
// and a 1Gi volume claim template for every other required workspace.
func RunWorkspaces(p *model.Pipeline) []*model.RunWorkspace {
	ws := slices.Clone(p.On.Workspaces)
	for _, w := range p.Workspaces {
		if w.Optional || slices.ContainsFunc(ws, func(r *model.RunWorkspace) bool { return r.Name == w.Name }) {
			continue
		}
		ws = append(ws, &model.RunWorkspace{Name: w.Name, Path: p.On.Path, VolumeClaimTemplate: &model.VolumeClaimTemplate{Storage: "1Gi", AccessModes: []string{"ReadWriteOnce"}}})
	}
	slices.SortFunc(ws, func(a, b *model.RunWorkspace) int { return strings.Compare(a.Name, b.Name) })
	return ws
}

// triggerTemplate is a TriggerTemplate creating pr: every event field is a
// parameter (empty unless the event has it), and the PipelineRun uses them.
func triggerTemplate(plan *model.Plan, name string, pr *pipelinev1.PipelineRun) *triggersv1.TriggerTemplate {
	tt := &triggersv1.TriggerTemplate{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "TriggerTemplate"},
		ObjectMeta: meta(plan, name),
	}
	for _, f := range append([]string{EventKindParam}, model.EventFields...) {
		tt.Spec.Params = append(tt.Spec.Params, triggersv1.ParamSpec{Name: f, Default: ptr(""), Description: fieldDescriptions[f]})
	}
	slices.SortFunc(tt.Spec.Params, func(a, b triggersv1.ParamSpec) int { return strings.Compare(a.Name, b.Name) })
	raw, err := json.Marshal(pr)
	if err != nil {
		panic(err)
	}
	tt.Spec.ResourceTemplates = []triggersv1.TriggerResourceTemplate{{RawExtension: runtime.RawExtension{Raw: raw}}}
	return tt
}

// PipelineRun is the run a pipeline's template creates.
func PipelineRun(plan *model.Plan, p *model.Pipeline) *pipelinev1.PipelineRun {
	timeout := p.On.Timeout
	if timeout == "" {
		timeout = p.Timeout
	}
	if timeout == "" {
		timeout = DefaultRunTimeout
	}
	d, _ := time.ParseDuration(timeout)
	pr := &pipelinev1.PipelineRun{
		TypeMeta: metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: p.Name + "-",
			Labels: map[string]string{
				targets.LabelManagedBy: targets.ManagedBy,
				LabelTrigger:           "$(tt.params." + EventKindParam + ")",
				LabelCommit:            "$(tt.params.revision)",
				LabelPullRequest:       "$(tt.params.pr-number)",
			},
			Annotations: map[string]string{
				AnnotationBranch: "$(tt.params.branch)",
				AnnotationTag:    "$(tt.params.tag)",
				AnnotationAuthor: "$(tt.params.author)",
				AnnotationRepo:   "$(tt.params.repository)",
			},
		},
		Spec: pipelinev1.PipelineRunSpec{
			PipelineRef: &pipelinev1.PipelineRef{Name: p.Name},
			Timeouts:    &pipelinev1.TimeoutFields{Pipeline: &metav1.Duration{Duration: d}},
			TaskRunTemplate: pipelinev1.PipelineTaskRunTemplate{
				ServiceAccountName: p.ServiceAccount(),
				PodTemplate:        podTemplate(p.On.PodTemplate, plan.PoolFor(p.Name)),
			},
		},
	}
	if pool := plan.PoolFor(p.Name); pool != nil {
		// Tekton passes a run's annotations on to its pods: Karpenter
		// leaves their nodes alone until the step is done.
		pr.Annotations[model.DoNotDisrupt] = "true"
	}
	for _, a := range RunParams(p) {
		pr.Spec.Params = append(pr.Spec.Params, pipelinev1.Param{Name: a.Name, Value: *pipelinev1.NewStructuredValues(templateValue(a.Value.String))})
	}
	for _, w := range RunWorkspaces(p) {
		pr.Spec.Workspaces = append(pr.Spec.Workspaces, workspaceBinding(w))
	}
	return pr
}

// ForkPipelineRun is the run a pull request from a fork starts: the
// pipeline's run as the fork ServiceAccount (no token, no permissions),
// with an emptyDir for every workspace a Secret backs. Nothing else
// differs, so a fork's pull request is tested as a branch's would be.
func ForkPipelineRun(plan *model.Plan, p *model.Pipeline) *pipelinev1.PipelineRun {
	pr := PipelineRun(plan, p)
	pr.Spec.TaskRunTemplate.ServiceAccountName = p.ForkServiceAccount()
	for i, w := range pr.Spec.Workspaces {
		if w.Secret != nil {
			pr.Spec.Workspaces[i] = pipelinev1.WorkspaceBinding{Name: w.Name, EmptyDir: &corev1.EmptyDirVolumeSource{}}
		}
	}
	return pr
}

// podTemplate places a run's pods: the trigger's own node selector and
// tolerations, plus the node pool's label and taint when a pool takes the
// pipeline.
func podTemplate(t model.PodTemplate, pool *model.NodePool) *pod.PodTemplate {
	pt := &pod.PodTemplate{
		// Steps run as uid 65532 by default; fsGroup makes the run's
		// volumes writable for them.
		SecurityContext: &corev1.PodSecurityContext{
			FSGroup:        ptr(int64(65532)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		NodeSelector: t.NodeSelector,
	}
	for _, tol := range t.Tolerations {
		pt.Tolerations = append(pt.Tolerations, corev1.Toleration{
			Key: tol.Key, Operator: corev1.TolerationOperator(tol.Operator), Value: tol.Value, Effect: corev1.TaintEffect(tol.Effect),
		})
	}
	if pool != nil {
		pt.NodeSelector = maps.Clone(pt.NodeSelector)
		if pt.NodeSelector == nil {
			pt.NodeSelector = map[string]string{}
		}
		pt.NodeSelector[model.PoolLabel] = pool.Name
		if pool.Taint {
			pt.Tolerations = append(pt.Tolerations, corev1.Toleration{
				Key: model.PoolTaintKey, Operator: corev1.TolerationOpEqual, Value: pool.Name, Effect: corev1.TaintEffectNoSchedule,
			})
		}
	}
	return pt
}

func workspaceBinding(w *model.RunWorkspace) pipelinev1.WorkspaceBinding {
	b := pipelinev1.WorkspaceBinding{Name: w.Name}
	switch {
	case w.VolumeClaimTemplate != nil:
		v := w.VolumeClaimTemplate
		pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(v.Storage)}},
		}}
		for _, m := range v.AccessModes {
			pvc.Spec.AccessModes = append(pvc.Spec.AccessModes, corev1.PersistentVolumeAccessMode(m))
		}
		if v.StorageClassName != "" {
			pvc.Spec.StorageClassName = ptr(v.StorageClassName)
		}
		b.VolumeClaimTemplate = pvc
	case w.Secret != "":
		b.Secret = &corev1.SecretVolumeSource{SecretName: w.Secret}
	case w.ConfigMap != "":
		b.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: w.ConfigMap}}
	default:
		b.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	return b
}

// listenerResources are the EventListener's pod resources and replicas;
// with autoscaled set the replica count is left to the autoscaler (Tekton
// Triggers keeps the Deployment's replicas when the EventListener does
// not set them).
func listenerResources(t model.Triggers, autoscaled bool, pool *model.NodePool) triggersv1.Resources {
	replicas := ptr(t.Replicas)
	if autoscaled {
		replicas = nil
	}
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for k, v := range t.Resources.Requests {
		res.Requests[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	for k, v := range t.Resources.Limits {
		res.Limits[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Resources: res}}}
	if pool != nil {
		pt := podTemplate(model.PodTemplate{}, pool)
		podSpec.NodeSelector, podSpec.Tolerations = pt.NodeSelector, pt.Tolerations
	}
	return triggersv1.Resources{KubernetesResource: &triggersv1.KubernetesResource{
		Replicas:    replicas,
		ServiceType: corev1.ServiceType(t.ServiceType),
		WithPodSpec: duckv1.WithPodSpec{Template: duckv1.PodSpecable{Spec: podSpec}},
	}}
}

// listenerRBAC is the EventListener's ServiceAccount with least privilege:
// read its own Triggers objects in the namespace, create PipelineRuns,
// record events; read cluster interceptors and bindings cluster-wide. It
// reads no Secrets: the core interceptors check webhook secrets.
func listenerRBAC(plan *model.Plan) []targets.Meta {
	ns := plan.Namespace
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta(plan, ListenerName),
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(plan, ListenerName),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"triggers.tekton.dev"}, Resources: []string{"eventlisteners", "triggerbindings", "triggertemplates", "triggers", "interceptors"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"tekton.dev"}, Resources: []string{"pipelineruns"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(plan, ListenerName),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: ListenerName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: ListenerName, Namespace: ns}},
	}
	clusterName := ListenerName + "-" + ns
	cr := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: clusterName, Labels: targets.Labels(nil)},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"triggers.tekton.dev"}, Resources: []string{"clustertriggerbindings", "clusterinterceptors"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	crb := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: clusterName, Labels: targets.Labels(nil)},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: ListenerName, Namespace: ns}},
	}
	return []targets.Meta{sa, role, rb, cr, crb}
}

// validate runs Tekton Triggers' (and, for the template's PipelineRun,
// Tekton Pipelines') own defaulting and validation on a copy.
func validate(ctx context.Context, o targets.Object, src model.SourceMap) diag.List {
	path := o.Source
	ctx = apis.WithinCreate(ctx)
	var fe *apis.FieldError
	switch v := o.Value.(type) {
	case *triggersv1.EventListener:
		fe = targets.DefaultAndValidate(ctx, v.DeepCopy())
	case *triggersv1.Trigger:
		fe = targets.DefaultAndValidate(ctx, v.DeepCopy())
	case *triggersv1.TriggerBinding:
		fe = targets.DefaultAndValidate(ctx, v.DeepCopy())
	case *triggersv1.TriggerTemplate:
		fe = targets.DefaultAndValidate(ctx, v.DeepCopy())
		for _, rt := range v.Spec.ResourceTemplates {
			var pr pipelinev1.PipelineRun
			if err := json.Unmarshal(rt.Raw, &pr); err == nil {
				pr.Name = "run" // generateName is resolved at creation
				pr.SetDefaults(ctx)
				fe = fe.Also(pr.Validate(ctx).ViaField("spec.resourcetemplates[0]"))
			}
		}
	default:
		return nil
	}
	if fe == nil {
		return nil
	}
	var out diag.List
	for _, e := range fe.WrappedErrors() {
		if e.Level == apis.WarningLevel {
			continue
		}
		out = append(out, diag.Diagnostic{
			Severity: diag.Error, Pos: src.Lookup(path), Path: path, Source: Name,
			Message: fmt.Sprintf("Tekton Triggers' validation rejects the generated %s %s: %s (at %s)", o.Kind, o.Name, e.Message, strings.Join(e.Paths, ", ")),
			Hint:    strings.TrimSpace(e.Details),
		})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
