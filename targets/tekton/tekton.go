// Package tekton is pipec's Tekton target: it turns the pipelines and tasks
// of a model.Plan into tekton.dev/v1 Pipeline and Task objects, built from
// Tekton's own Go types and checked with Tekton's own validation, whose
// findings are mapped back to the CUE source.
package tekton

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	validation "github.com/tektoncd/pipeline/pkg/apis/validate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/selection"
	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Name of the target.
const Name = "tekton"

// APIVersion of the generated objects.
const APIVersion = "tekton.dev/v1"

// Labels and annotations pipec puts on what it generates.
const (
	AnnotationRunTimeout = "pipec.dev/run-timeout"
	// AnnotationServiceAccount names the ServiceAccount runs of the
	// pipeline use (pipec generates it, with only the permissions the
	// pipeline declares).
	AnnotationServiceAccount = "pipec.dev/service-account"
	AnnotationGeneratedFor   = "pipec.dev/source"
)

// Target is the Tekton target.
type Target struct{}

// New returns the Tekton target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: Tasks before the Pipelines that use
// them, and the keys of Tekton Chains' configuration (gates.go).
func (Target) Kinds() []string { return []string{"Task", "Pipeline", "ConfigMap"} }

// Generate implements targets.Target: one Task per library task, one
// Pipeline per pipeline, each validated by Tekton.
func (Target) Generate(ctx context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var objs []targets.Object
	var maps []*sourceMap
	for _, t := range plan.Tasks {
		sm := newSourceMap(t.Path)
		task := &v1.Task{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Task"},
			ObjectMeta: objectMeta(t.Name, plan.Namespace, t.Labels, t.Annotations),
			Spec:       taskSpec(t, "spec", sm),
		}
		objs = append(objs, targets.New(Name, task, t.Path, targets.CIDir))
		maps = append(maps, sm)
	}
	for _, p := range plan.Pipelines {
		if p.Ref != nil {
			continue // Tekton resolves it when a run starts
		}
		sm := newSourceMap(p.Path)
		pl := &v1.Pipeline{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "Pipeline"},
			ObjectMeta: objectMeta(p.Name, plan.Namespace, p.Labels, p.Annotations),
			Spec:       pipelineSpec(plan, p, sm),
		}
		if p.Timeout != "" {
			pl.Annotations[AnnotationRunTimeout] = p.Timeout
		}
		pl.Annotations[AnnotationServiceAccount] = p.ServiceAccount()
		objs = append(objs, targets.New(Name, pl, p.Path, targets.CIDir))
		maps = append(maps, sm)
	}
	findings := validateAll(withFlags(ctx, plan.TektonFlags), objs, maps, plan.Sources)
	if cm := chainsConfig(plan); cm != nil {
		objs = append(objs, *cm) // Tekton Chains' keys (gates.go)
	}
	return objs, findings
}

// withFlags gives Tekton's validation the feature flags the cluster turns
// on, over Tekton's defaults.
func withFlags(ctx context.Context, f model.TektonFlags) context.Context {
	cfg := *config.FromContextOrDefaults(ctx) // a fresh copy of the defaults, or the caller's
	cfg.FeatureFlags = cfg.FeatureFlags.DeepCopy()
	cfg.FeatureFlags.EnableParamEnum, cfg.FeatureFlags.EnableCELInWhenExpression = f.ParamEnum, f.CELWhen
	return config.ToContext(ctx, &cfg)
}

// validateAll validates the objects concurrently (Tekton's validation is
// CPU-bound and independent per object) and returns the findings in object
// order, so output stays deterministic.
func validateAll(ctx context.Context, objs []targets.Object, maps []*sourceMap, src model.SourceMap) diag.List {
	results := make([]diag.List, len(objs))
	once := targets.NewOnce(ctx)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				// Tekton's validation is third-party code: report a panic
				// as a finding at the object's source, never as a crash.
				if r := recover(); r != nil {
					results[i] = diag.List{{
						Severity: diag.Error, Pos: src.Lookup(objs[i].Source), Path: objs[i].Source, Source: Name,
						Message: fmt.Sprintf("Tekton's validation failed on the generated %s: %v", objs[i].Kind, r),
						Hint:    "please report this with the configuration that caused it",
					}}
				}
			}()
			// The flags decide what validation accepts: they are part of
			// what it validated.
			ff := config.FromContextOrDefaults(ctx).FeatureFlags
			kind := fmt.Sprintf("%s %s enum=%t cel=%t", objs[i].APIVersion, objs[i].Kind, ff.EnableParamEnum, ff.EnableCELInWhenExpression)
			full := func() diag.List { return validate(ctx, objs[i].Value.(apis.Validatable), maps[i], src) }
			spec, meta := specOf(objs[i].Value)
			if spec == nil {
				results[i] = full()
				return
			}
			name := func() diag.List {
				return findings(validation.ObjectMetadata(meta).ViaField("metadata"), maps[i], src)
			}
			if p, ok := objs[i].Value.(*v1.Pipeline); ok {
				// The pipeline without its gates' specs, each of which
				// passed, and with its literals in canonical form; any
				// finding sends the whole pipeline to Tekton, for the
				// findings to report.
				c, gates := splitGates(p)
				if c == nil {
					c = p.DeepCopy()
				}
				if canonicalLiterals(&c.Spec) || len(gates) > 0 {
					if !gatesAccepted(ctx, once, kind, gates) {
						results[i] = full()
						return
					}
					results[i] = once.Validate(kind, &c.Spec, func() diag.List {
						if !accepts(ctx, c) {
							return full()
						}
						return nil
					}, name)
					return
				}
			}
			results[i] = once.Validate(kind, spec, full, name)
		}()
	}
	wg.Wait()
	var out diag.List
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

func objectMeta(name, ns string, labels, annotations map[string]string) metav1.ObjectMeta {
	l := targets.Labels(labels)
	a := map[string]string{}
	for k, v := range annotations {
		a[k] = v
	}
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l, Annotations: a}
}

func paramSpecs(params []*model.Param, base string, sm *sourceMap) v1.ParamSpecs {
	var out v1.ParamSpecs
	for i, p := range params {
		sm.setList(base+".params", i, p.Name, p.Path)
		ps := v1.ParamSpec{Name: p.Name, Type: v1.ParamType(p.Type), Description: p.Description, Properties: properties(p.Properties), Enum: p.Enum}
		if p.Default != nil {
			ps.Default = paramValue(*p.Default)
		}
		out = append(out, ps)
	}
	return out
}

func paramValue(v model.Value) *v1.ParamValue {
	switch v.Type {
	case model.TypeArray:
		arr := v.Array
		if arr == nil {
			arr = []string{}
		}
		return &v1.ParamValue{Type: v1.ParamTypeArray, ArrayVal: arr}
	case model.TypeObject:
		return v1.NewObject(v.Object)
	}
	return &v1.ParamValue{Type: v1.ParamTypeString, StringVal: v.String}
}

func taskSpec(t *model.TaskDef, base string, sm *sourceMap) v1.TaskSpec {
	spec := v1.TaskSpec{
		Description: t.Description,
		DisplayName: t.DisplayName,
		Params:      paramSpecs(t.Params, base, sm),
	}
	for i, w := range t.Workspaces {
		sm.setList(base+".workspaces", i, w.Name, w.Path)
		spec.Workspaces = append(spec.Workspaces, v1.WorkspaceDeclaration{
			Name: w.Name, Description: w.Description, Optional: w.Optional, ReadOnly: w.ReadOnly, MountPath: w.MountPath,
		})
	}
	for i, r := range t.Results {
		sm.setList(base+".results", i, r.Name, r.Path)
		tr := v1.TaskResult{Name: r.Name, Type: v1.ResultsType(r.Type), Description: r.Description, Properties: properties(r.Properties)}
		if r.Value != "" {
			tr.Value = &v1.ResultValue{Type: v1.ParamTypeString, StringVal: r.Value}
		}
		spec.Results = append(spec.Results, tr)
	}
	sm.set(base+".steps", t.Path.Field("steps"))
	for i, s := range t.Steps {
		sm.setList(base+".steps", i, s.Name, s.Path)
		mounts(base+fmt.Sprintf(".steps[%d]", i), s, sm)
		for j, r := range s.Results {
			sm.setList(base+fmt.Sprintf(".steps[%d].results", i), j, r.Name, r.Path)
		}
		spec.Steps = append(spec.Steps, step(s))
	}
	for i, v := range t.Volumes {
		sm.setList(base+".volumes", i, v.Name, v.Path)
		// The compiler's checks convert every volume first (checkPod).
		vol, _ := targets.Volume(v)
		spec.Volumes = append(spec.Volumes, vol)
	}
	for i, s := range t.Sidecars {
		sm.setList(base+".sidecars", i, s.Name, s.Path)
		mounts(base+fmt.Sprintf(".sidecars[%d]", i), s, sm)
		spec.Sidecars = append(spec.Sidecars, sidecar(s))
	}
	return spec
}

// properties are an object param's or result's keys, each a string.
func properties(keys []string) map[string]v1.PropertySpec {
	if len(keys) == 0 {
		return nil
	}
	out := map[string]v1.PropertySpec{}
	for _, k := range keys {
		out[k] = v1.PropertySpec{Type: v1.ParamTypeString}
	}
	return out
}

// when is a when expression as Tekton spells it: a CEL expression, or
// input, operator and values.
func when(w *model.When) v1.WhenExpression {
	if w.CEL != "" {
		return v1.WhenExpression{CEL: w.CEL}
	}
	op := selection.In
	if w.Operator == "notin" {
		op = selection.NotIn
	}
	return v1.WhenExpression{Input: w.Input, Operator: op, Values: w.Values}
}

func mounts(base string, s *model.Step, sm *sourceMap) {
	for i, w := range s.When {
		sm.setList(base+".when", i, "", w.Path)
	}
	for i, m := range s.VolumeMounts {
		sm.setList(base+".volumeMounts", i, m.Name, m.Path)
	}
	for i, a := range s.Params {
		sm.setList(base+".params", i, a.Name, a.Path)
	}
	if s.Ref != nil {
		sm.set(base+".ref", s.Ref.Path)
		for i, a := range s.Ref.Params {
			sm.setList(base+".ref.params", i, a.Name, a.Path)
		}
	}
}

// sidecar is a step's container fields with a readiness probe.
func sidecar(s *model.Step) v1.Sidecar {
	st := step(s)
	probe, _ := targets.Probe(s.ReadinessProbe)
	return v1.Sidecar{
		Name: st.Name, Image: st.Image, Script: st.Script, Command: st.Command, Args: st.Args, WorkingDir: st.WorkingDir,
		Env: st.Env, EnvFrom: st.EnvFrom, ImagePullPolicy: st.ImagePullPolicy, ComputeResources: st.ComputeResources, SecurityContext: st.SecurityContext, VolumeMounts: st.VolumeMounts,
		ReadinessProbe: probe,
	}
}

func step(s *model.Step) v1.Step {
	st := v1.Step{
		Name:            s.Name,
		DisplayName:     s.DisplayName,
		Image:           s.Image,
		Script:          s.Script,
		Command:         s.Command,
		Args:            s.Args,
		WorkingDir:      s.WorkingDir,
		ImagePullPolicy: corev1.PullPolicy(s.ImagePullPolicy),
		OnError:         v1.OnErrorType(s.OnError),
		SecurityContext: securityContext(s.SecurityContext),
		VolumeMounts:    targets.VolumeMounts(s.VolumeMounts),
	}
	for _, w := range s.When {
		st.When = append(st.When, when(w))
	}
	for _, r := range s.Results {
		st.Results = append(st.Results, v1.StepResult{Name: r.Name, Type: v1.ResultsType(r.Type), Description: r.Description, Properties: properties(r.Properties)})
	}
	if r := s.Ref; r != nil {
		// Tekton replaces a step's security context with its
		// StepAction's: one written here would say what does not run.
		st.SecurityContext = nil
		st.Ref = &v1.Ref{Name: r.Name, ResolverRef: v1.ResolverRef{Resolver: v1.ResolverName(r.Resolver)}}
		for _, a := range r.Params {
			st.Ref.Params = append(st.Ref.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
		}
		for _, a := range s.Params {
			st.Params = append(st.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
		}
	}
	for _, e := range s.Env {
		ev := corev1.EnvVar{Name: e.Name, Value: e.Value}
		switch {
		case e.SecretRef != nil:
			ev.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: e.SecretRef.Name}, Key: e.SecretRef.Key,
			}}
		case e.ConfigMapRef != nil:
			ev.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: e.ConfigMapRef.Name}, Key: e.ConfigMapRef.Key,
			}}
		case e.FieldPath != "":
			ev.ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: e.FieldPath}}
		}
		st.Env = append(st.Env, ev)
	}
	for _, f := range s.EnvFrom {
		src := corev1.EnvFromSource{Prefix: f.Prefix}
		if f.Secret != "" {
			src.SecretRef = &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: f.Secret}}
		}
		if f.ConfigMap != "" {
			src.ConfigMapRef = &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: f.ConfigMap}}
		}
		st.EnvFrom = append(st.EnvFrom, src)
	}
	st.ComputeResources = corev1.ResourceRequirements{
		Requests: resourceList(s.Resources.Requests),
		Limits:   resourceList(s.Resources.Limits),
	}
	if s.Timeout != "" {
		st.Timeout = duration(s.Timeout)
	}
	return st
}

// resourceList converts quantities the compiler has already checked.
func resourceList(m map[string]string) corev1.ResourceList {
	if len(m) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for k, v := range m {
		if q, err := resource.ParseQuantity(v); err == nil {
			out[corev1.ResourceName(k)] = q
		}
	}
	return out
}

func duration(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil
	}
	return &metav1.Duration{Duration: d}
}

func securityContext(s model.SecurityContext) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		RunAsNonRoot:             s.RunAsNonRoot,
		RunAsUser:                s.RunAsUser,
		RunAsGroup:               s.RunAsGroup,
		AllowPrivilegeEscalation: s.AllowPrivilegeEscalation,
		Privileged:               s.Privileged,
		ReadOnlyRootFilesystem:   s.ReadOnlyRootFilesystem,
	}
	if s.SeccompProfile != "" {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileType(s.SeccompProfile)}
		if s.SeccompLocalhostProfile != "" {
			sc.SeccompProfile.LocalhostProfile = &s.SeccompLocalhostProfile
		}
	}
	if len(s.CapabilitiesAdd)+len(s.CapabilitiesDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, c := range s.CapabilitiesAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(c))
		}
		for _, c := range s.CapabilitiesDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(c))
		}
	}
	return sc
}

func pipelineSpec(plan *model.Plan, p *model.Pipeline, sm *sourceMap) v1.PipelineSpec {
	spec := v1.PipelineSpec{
		Description: p.Description,
		DisplayName: p.DisplayName,
		Params:      paramSpecs(p.Params, "spec", sm),
	}
	for i, w := range p.Workspaces {
		sm.setList("spec.workspaces", i, w.Name, w.Path)
		spec.Workspaces = append(spec.Workspaces, v1.PipelineWorkspaceDeclaration{Name: w.Name, Description: w.Description, Optional: w.Optional})
	}
	for i, t := range p.Tasks {
		spec.Tasks = append(spec.Tasks, pipelineTask(plan, t, fmt.Sprintf("spec.tasks[%d]", i), sm))
		sm.setKey("spec.tasks", t.Name, t.Path)
	}
	for i, t := range p.Finally {
		spec.Finally = append(spec.Finally, pipelineTask(plan, t, fmt.Sprintf("spec.finally[%d]", i), sm))
		sm.setKey("spec.finally", t.Name, t.Path)
	}
	for i, r := range p.Results {
		sm.setList("spec.results", i, r.Name, r.Path)
		spec.Results = append(spec.Results, v1.PipelineResult{
			Name: r.Name, Type: v1.ResultsType(r.Type), Description: r.Description, Value: *paramValue(r.Value),
		})
	}
	return spec
}

func pipelineTask(plan *model.Plan, t *model.PipelineTask, base string, sm *sourceMap) v1.PipelineTask {
	sm.set(base, t.Path)
	pt := v1.PipelineTask{
		Name:        t.Name,
		DisplayName: t.DisplayName,
		Description: t.Description,
		Retries:     t.Retries,
		RunAfter:    t.After,
		OnError:     v1.PipelineTaskOnErrorType(t.OnError),
	}
	sm.set(base+".onError", t.Path.Field("onError"))
	sm.set(base+".runAfter", t.Path.Field("after"))
	switch {
	case t.Inline != nil:
		pt.TaskSpec = &v1.EmbeddedTask{TaskSpec: taskSpec(t.Inline, base+".taskSpec", sm),
			Metadata: v1.PipelineTaskMetadata{Labels: t.Inline.Labels, Annotations: t.Inline.Annotations}}
	case t.Ref != nil:
		ref := &v1.TaskRef{ResolverRef: v1.ResolverRef{Resolver: v1.ResolverName(t.Ref.Resolver)}}
		sm.set(base+".taskRef", t.Ref.Path)
		for i, a := range t.Ref.Params {
			sm.setList(base+".taskRef.params", i, a.Name, a.Path)
			ref.Params = append(ref.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
		}
		pt.TaskRef = ref
	default:
		pt.TaskRef = &v1.TaskRef{Name: t.Uses}
		sm.set(base+".taskRef", t.Path.Field("uses"))
	}
	for i, a := range t.Params {
		sm.setList(base+".params", i, a.Name, a.Path)
		pt.Params = append(pt.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
	}
	for i, w := range t.Workspaces {
		sm.setList(base+".workspaces", i, w.Name, w.Path)
		pt.Workspaces = append(pt.Workspaces, v1.WorkspacePipelineTaskBinding{Name: w.Name, Workspace: w.From, SubPath: w.SubPath})
	}
	for i, w := range t.When {
		sm.setList(base+".when", i, "", w.Path)
		pt.When = append(pt.When, when(w))
	}
	if t.Matrix != nil {
		sm.set(base+".matrix", t.Matrix.Path)
		m := &v1.Matrix{}
		for i, a := range t.Matrix.Params {
			sm.setList(base+".matrix.params", i, a.Name, a.Path)
			m.Params = append(m.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
		}
		for i, inc := range t.Matrix.Include {
			sm.setList(base+".matrix.include", i, inc.Name, inc.Path)
			ip := v1.IncludeParams{Name: inc.Name}
			for _, a := range inc.Params {
				ip.Params = append(ip.Params, v1.Param{Name: a.Name, Value: *paramValue(a.Value)})
			}
			m.Include = append(m.Include, ip)
		}
		pt.Matrix = m
	}
	if t.Timeout != "" {
		pt.Timeout = duration(t.Timeout)
		sm.set(base+".timeout", t.Path.Field("timeout"))
	}
	return pt
}

// validate runs Tekton's own defaulting and validation, the same code its
// admission webhook runs, on a copy of obj and maps each finding to the CUE
// source.
func validate(ctx context.Context, obj interface {
	apis.Validatable
}, sm *sourceMap, src model.SourceMap) diag.List {
	ctx = apis.WithinCreate(ctx)
	var fe *apis.FieldError
	switch o := obj.(type) {
	case *v1.Pipeline:
		fe = targets.DefaultAndValidate(ctx, o.DeepCopy())
	case *v1.Task:
		fe = targets.DefaultAndValidate(ctx, o.DeepCopy())
	default:
		fe = obj.Validate(ctx)
	}
	return findings(fe, sm, src)
}

// specOf returns what Tekton's validation of obj reads apart from its
// metadata, and its metadata, of which it reads only the name
// (validation.ObjectMetadata; TestValidationReadsOnlyTheName holds this);
// nil for an object validated as a whole.
func specOf(obj any) (any, metav1.Object) {
	switch o := obj.(type) {
	case *v1.Pipeline:
		return &o.Spec, o
	case *v1.Task:
		return &o.Spec, o
	}
	return nil, nil
}

// findings maps Tekton's validation errors to the CUE source.
func findings(fe *apis.FieldError, sm *sourceMap, src model.SourceMap) diag.List {
	if fe == nil {
		return nil
	}
	var out diag.List
	for _, e := range fe.WrappedErrors() {
		if e.Level == apis.WarningLevel {
			continue
		}
		paths := e.Paths
		if len(paths) == 0 {
			paths = []string{""}
		}
		for _, p := range paths {
			path := sm.lookup(p)
			msg := e.Message
			if p != "" {
				msg = fmt.Sprintf("%s (at %s)", e.Message, p)
			}
			d := diag.Diagnostic{
				Severity: diag.Error,
				Pos:      src.Lookup(path),
				Path:     path,
				Message:  "Tekton's validation rejects this: " + msg,
				Hint:     strings.TrimSpace(e.Details),
				Source:   Name,
			}
			if d.Hint == "" {
				d.Hint = "fix the value at this position; the rule is Tekton's own (tektoncd/pipeline v1.10.0 validation)"
			}
			out = append(out, d)
		}
	}
	return out
}
