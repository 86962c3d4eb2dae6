package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
)

// node is a CUE value together with its model path.
type node struct {
	v    cue.Value
	path model.Path
	// reads is nil except in the decode coverage test, which attaches one
	// to the root to learn which schema fields decode reads.
	reads *readLog
	// texts, when set, collects every string decode reads, at its path,
	// for the policy packs' secret detection.
	texts *textLog
}

// textLog collects the strings of one decode.
type textLog struct{ all []policies.Text }

// readLog records the schema pattern path of every field decode reads:
// struct fields by name, the entries of a map (fields) as "*" and the
// elements of a list as "[]". Patterns rather than model paths, so that
// what decode reads of any pipeline or step compares with the schema's
// fields, which are the same for all of them.
type readLog struct {
	// at is the pattern path of the node that holds this readLog.
	at string
	// seen is shared by every node of one decode.
	seen map[string]bool
}

// newReadLog returns an empty log for a root node.
func newReadLog() *readLog { return &readLog{seen: map[string]bool{}} }

// read records that the child seg of the node was read and returns the
// child's log. Without a log it returns nil, so that a build pays only
// this nil check.
func (r *readLog) read(seg string) *readLog {
	if r == nil {
		return nil
	}
	c := &readLog{at: seg, seen: r.seen}
	if r.at != "" {
		c.at = r.at + "." + seg
	}
	r.seen[c.at] = true
	return c
}

func (n node) field(name string) node {
	return node{v: n.v.LookupPath(cue.MakePath(cue.Str(name))), path: n.path.Field(name), reads: n.reads.read(name), texts: n.texts}
}

func (n node) exists() bool { return n.v.Exists() }

// nonEmpty reports whether n is a struct with a field.
func (n node) nonEmpty() bool {
	it, err := n.v.Fields()
	return err == nil && it.Next()
}

func (n node) str() string {
	s, _ := n.v.String()
	if n.texts != nil && s != "" {
		n.texts.all = append(n.texts.all, policies.Text{Path: n.path, Value: s})
	}
	return s
}

func (n node) boolean() bool {
	b, _ := n.v.Bool()
	return b
}

func (n node) int() int64 {
	i, _ := n.v.Int64()
	return i
}

// strs decodes a list of strings.
func (n node) strs() []string {
	if !n.exists() {
		return nil
	}
	var out []string
	n.list(func(_ int, c node) { out = append(out, c.str()) })
	return out
}

// fields calls fn for each regular field, in name order.
func (n node) fields(fn func(name string, c node)) {
	if !n.exists() {
		return
	}
	it, err := n.v.Fields()
	if err != nil {
		return
	}
	type kv struct {
		name string
		v    cue.Value
	}
	var all []kv
	for it.Next() {
		all = append(all, kv{it.Selector().Unquoted(), it.Value()})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.name, b.name) })
	for _, f := range all {
		fn(f.name, node{v: f.v, path: n.path.Field(f.name), reads: n.reads.read("*"), texts: n.texts})
	}
}

// list calls fn for each element of a list.
func (n node) list(fn func(i int, c node)) {
	if !n.exists() {
		return
	}
	it, err := n.v.List()
	if err != nil {
		return
	}
	for i := 0; it.Next(); i++ {
		fn(i, node{v: it.Value(), path: n.path.Index(i), reads: n.reads.read("[]"), texts: n.texts})
	}
}

// stringMap decodes a struct of strings.
func (n node) stringMap() map[string]string {
	m := map[string]string{}
	n.fields(func(name string, c node) { m[name] = c.str() })
	if len(m) == 0 {
		return nil
	}
	return m
}

// value decodes a #ParamValue.
func (n node) value() model.Value {
	switch n.v.IncompleteKind() {
	case cue.ListKind:
		return model.Value{Type: model.TypeArray, Array: n.strs()}
	case cue.StructKind:
		m := n.stringMap()
		if m == nil {
			m = map[string]string{}
		}
		return model.Value{Type: model.TypeObject, Object: m}
	}
	return model.Value{Type: model.TypeString, String: n.str()}
}

// decoder turns the unified configuration into a model.Plan.
type decoder struct {
	defaults stepDefaults
	// diags are structural mistakes the schema cannot express well.
	diags diag.List
	src   model.SourceMap
	// syncOverrides holds each deployment's explicit sync settings
	// (automated, prune, selfHeal) until environments are known.
	syncOverrides map[*model.Deployment][3]*bool
	// inHelper is set in a helper's context, where decode reports no
	// finding but sets needsMain (see decoder.report).
	inHelper, needsMain bool
}

type stepDefaults struct {
	resources model.Resources
	security  model.SecurityContext
}

func decodePlan(t tree, src model.SourceMap) (*model.Plan, diag.List) {
	d := &decoder{src: src, syncOverrides: map[*model.Deployment][3]*bool{}}
	def := t.field("defaults").field("step")
	d.defaults.resources = decodeResources(def.field("resources"))
	d.defaults.security = decodeSecurity(def.field("securityContext"))

	plan := &model.Plan{Namespace: t.field("namespace").str()}
	plan.Tasks = decodeEntries(t, d, "tasks", (*decoder).taskDef)
	plan.Pipelines = decodeEntries(t, d, "pipelines", (*decoder).pipeline)
	plan.ArgoCD = d.argocd(t.field("argocd"))
	plan.Triggers = d.triggers(t.field("triggers"))
	plan.Policy = d.policy(t.field("policy"))
	plan.Monitoring = d.monitoring(t.field("monitoring"))
	an := t.field("analysis")
	plan.Analysis = model.AnalysisSettings{PrometheusAddress: an.field("prometheus").field("address").str(), Path: an.path}
	ff := t.field("tekton").field("featureFlags")
	plan.TektonFlags = model.TektonFlags{ParamEnum: ff.field("enable-param-enum").boolean(), CELWhen: ff.field("enable-cel-in-whenexpression").boolean(), Path: ff.path}
	plan.Environments = decodeEntries(t, d, "environments", (*decoder).environment)
	plan.Teams = decodeEntries(t, d, "teams", (*decoder).team)
	plan.Apps = decodeEntries(t, d, "apps", (*decoder).app)
	decodeDelivery(t, plan)
	plan.Previews = decodeEntries(t, d, "previews", (*decoder).preview)
	plan.Scaling = d.scaling(t.field("scaling"), plan.Environments)
	d.resolveDelivery(plan)
	resolvePreviews(plan)
	plan.StepDefaults = model.StepDefaults{Resources: d.defaults.resources, SecurityContext: d.defaults.security}
	plan.Sources = src
	return plan, d.diags
}

func (d *decoder) pipeline(name string, n node) *model.Pipeline {
	p := &model.Pipeline{
		Name:        name,
		Description: n.field("description").str(),
		DisplayName: n.field("displayName").str(),
		Labels:      n.field("labels").stringMap(),
		Annotations: n.field("annotations").stringMap(),
		Params:      decodeParams(n.field("params")),
		Timeout:     n.field("timeout").str(),
		Permissions: d.permissions(n.field("permissions")),
		On:          d.on(n.field("on")),
		Gates:       gates(n.field("gates")),
		Path:        n.path,
	}
	n.field("workspaces").fields(func(name string, c node) {
		p.Workspaces = append(p.Workspaces, &model.Workspace{
			Name: name, Description: c.field("description").str(), Optional: c.field("optional").boolean(), Path: c.path,
		})
	})
	if r := n.field("ref"); r.exists() {
		p.Ref = decodeRef(r, false)
	}
	n.field("tasks").fields(func(name string, c node) {
		p.Tasks = append(p.Tasks, d.pipelineTask(name, c, false))
	})
	n.field("finally").fields(func(name string, c node) {
		p.Finally = append(p.Finally, d.pipelineTask(name, c, true))
	})
	n.field("results").fields(func(name string, c node) {
		p.Results = append(p.Results, &model.PipelineResult{
			Name: name, Type: model.ParamType(c.field("type").str()), Description: c.field("description").str(),
			Value: c.field("value").value(), Path: c.path,
		})
	})
	return p
}

func decodeParams(n node) []*model.Param {
	var out []*model.Param
	n.fields(func(name string, c node) {
		p := &model.Param{Name: name, Type: model.ParamType(c.field("type").str()), Description: c.field("description").str(), Path: c.path}
		if dv := c.field("default"); dv.exists() {
			v := dv.value()
			p.Default = &v
		}
		c.field("properties").fields(func(k string, _ node) { p.Properties = append(p.Properties, k) })
		p.Enum = c.field("enum").strs()
		out = append(out, p)
	})
	return out
}

func (d *decoder) taskDef(name string, n node) *model.TaskDef {
	t := &model.TaskDef{
		Name:        name,
		Description: n.field("description").str(),
		DisplayName: n.field("displayName").str(),
		Labels:      n.field("labels").stringMap(),
		Annotations: n.field("annotations").stringMap(),
		Params:      decodeParams(n.field("params")),
		Path:        n.path,
	}
	n.field("workspaces").fields(func(name string, c node) {
		t.Workspaces = append(t.Workspaces, &model.Workspace{
			Name: name, Description: c.field("description").str(), Optional: c.field("optional").boolean(),
			ReadOnly: c.field("readOnly").boolean(), MountPath: c.field("mountPath").str(), Path: c.path,
		})
	})
	t.Results = decodeResults(n.field("results"), true)
	tmpl := d.template(n.field("stepTemplate"))
	n.field("steps").list(func(_ int, c node) { t.Steps = append(t.Steps, d.step(c, tmpl)) })
	d.pod(t, n)
	return t
}

// pod decodes what a task's pod has besides steps: volumes and sidecars.
func (d *decoder) pod(t *model.TaskDef, n node) {
	n.field("volumes").fields(func(name string, c node) {
		src, _ := c.plain().(map[string]any)
		t.Volumes = append(t.Volumes, &model.Volume{Name: name, Source: src, Path: c.path})
	})
	n.field("sidecars").list(func(_ int, c node) { t.Sidecars = append(t.Sidecars, d.sidecar(c)) })
}

// plain decodes a value as it is, for a Kubernetes type to read: structs
// as maps, lists as slices, strings, whole numbers as int64, booleans.
func (n node) plain() any {
	switch n.v.Kind() {
	case cue.StructKind:
		m := map[string]any{}
		n.fields(func(name string, c node) { m[name] = c.plain() })
		return m
	case cue.ListKind:
		l := []any{}
		n.list(func(_ int, c node) { l = append(l, c.plain()) })
		return l
	case cue.IntKind:
		if i, err := n.v.Int64(); err == nil {
			return i
		}
		// Past int64 only where the schema takes a quantity (sizeLimit):
		// kept exactly, for the check to report it as written.
		return n.quantity()
	case cue.BoolKind:
		return n.boolean()
	}
	return n.str()
}

// decodeResults decodes a task's results, or a step's (which have no
// value: a step writes its own).
func decodeResults(n node, task bool) []*model.Result {
	var out []*model.Result
	n.fields(func(name string, c node) {
		r := &model.Result{Name: name, Type: model.ParamType(c.field("type").str()), Description: c.field("description").str(), Path: c.path}
		if task {
			r.Value = c.field("value").str()
		}
		c.field("properties").fields(func(k string, _ node) { r.Properties = append(r.Properties, k) })
		out = append(out, r)
	})
	return out
}

func (d *decoder) pipelineTask(name string, n node, finally bool) *model.PipelineTask {
	t := &model.PipelineTask{
		Name:        name,
		Description: n.field("description").str(),
		DisplayName: n.field("displayName").str(),
		Uses:        n.field("uses").str(),
		Retries:     int(n.field("retries").int()),
		Timeout:     n.field("timeout").str(),
		Finally:     finally,
		Path:        n.path,
	}
	n.field("params").fields(func(name string, c node) {
		t.Params = append(t.Params, &model.Arg{Name: name, Value: c.value(), Path: c.path})
	})
	n.field("workspaces").fields(func(name string, c node) {
		b := &model.WorkspaceBinding{Name: name, Path: c.path}
		if c.v.IncompleteKind() == cue.StructKind {
			b.From = c.field("from").str()
			b.SubPath = c.field("subPath").str()
			b.ReadOnly = c.field("readOnly").boolean()
			b.MountPath = c.field("mountPath").str()
		} else {
			b.From = c.str()
		}
		t.Workspaces = append(t.Workspaces, b)
	})
	// Finally tasks have no after: they run once all tasks are done.
	if !finally {
		t.After = n.field("after").strs()
		t.OnError = n.field("onError").str()
	}
	t.When = decodeWhen(n.field("when"))
	if m := n.field("matrix"); m.exists() {
		t.Matrix = &model.Matrix{Path: m.path}
		m.field("params").fields(func(name string, c node) {
			t.Matrix.Params = append(t.Matrix.Params, &model.Arg{Name: name, Value: c.value(), Path: c.path})
		})
		m.field("include").fields(func(name string, c node) {
			inc := &model.MatrixInclude{Name: name, Path: c.path}
			c.fields(func(pn string, pv node) {
				inc.Params = append(inc.Params, &model.Arg{Name: pn, Value: pv.value(), Path: pv.path})
			})
			t.Matrix.Include = append(t.Matrix.Include, inc)
		})
	}
	if r := n.field("ref"); r.exists() {
		t.Ref = decodeRef(r, false)
	}
	if steps := n.field("steps"); steps.exists() {
		inline := &model.TaskDef{Name: name, Path: n.path}
		tmpl := d.template(n.field("stepTemplate"))
		steps.list(func(_ int, c node) { inline.Steps = append(inline.Steps, d.step(c, tmpl)) })
		inline.Results = decodeResults(n.field("results"), true)
		inline.Labels, inline.Annotations = n.field("labels").stringMap(), n.field("annotations").stringMap()
		d.pod(inline, n)
		t.Inline = inline
	} else {
		d.notInline(name, n, t)
	}
	return t
}

// notInline reports, on a pipeline task that runs a library or remote
// task, what only an inline task declares: that task's definition does.
func (d *decoder) notInline(name string, n node, t *model.PipelineTask) {
	runs, remote := fmt.Sprintf("library task %q", t.Uses), t.Ref != nil
	switch {
	case remote:
		runs = "a remote task"
	case t.Uses == "":
		return // the checks say what the task lacks
	}
	// refuse reports what at declares, which belongs in the library
	// task's field.
	refuse := func(at model.Path, what, field, remoteFix string) {
		e := d.report(ruleTask, at, "task %q declares %s but runs %s", name, what, runs)
		if remote {
			e.Expected = fmt.Sprintf("no %s: the remote task's definition declares them", what)
			e.Hint = "remove " + what + remoteFix
			return
		}
		e.Expected = what + " declared in the library task's definition"
		e.Hint = fmt.Sprintf("move the %s to tasks.%s.%s", what, t.Uses, field)
	}
	if n.field("results").nonEmpty() {
		refuse(n.path.Field("results"), "results", "results", "; other tasks may read any result the remote task writes")
	}
	for _, f := range []string{"labels", "annotations"} {
		if n.field(f).nonEmpty() {
			refuse(n.path.Field(f), f, f, "")
		}
	}
	for _, b := range t.Workspaces {
		for _, f := range []struct {
			name string
			set  bool
		}{{"readOnly", b.ReadOnly}, {"mountPath", b.MountPath != ""}} {
			if f.set {
				refuse(b.Path.Field(f.name), f.name+" of workspace "+strconv.Quote(b.Name), "workspaces."+b.Name+"."+f.name, "")
			}
		}
	}
}

func (d *decoder) step(n node, tmpl *stepTemplate) *model.Step {
	if r := n.field("ref"); r.exists() {
		// What a StepAction brings (image, env, workingDir, mounts) the
		// template does not add to: Tekton refuses them beside a ref.
		tmpl = templateForRef(tmpl)
	}
	s := d.container(n, tmpl)
	if r := n.field("ref"); r.exists() {
		s.Ref = decodeRef(r, true)
		n.field("params").fields(func(name string, c node) {
			s.Params = append(s.Params, &model.Arg{Name: name, Value: c.value(), Path: c.path})
		})
	}
	s.DisplayName = n.field("displayName").str()
	s.When = decodeWhen(n.field("when"))
	s.Results = decodeResults(n.field("results"), false)
	s.Timeout = n.field("timeout").str()
	s.OnError = n.field("onError").str()
	return s
}

// sidecar decodes a #Sidecar: a container like a step, with a readiness
// probe instead of a timeout and onError.
func (d *decoder) sidecar(n node) *model.Step {
	s := d.container(n, nil)
	s.Sidecar = true
	if p := n.field("readinessProbe"); p.exists() {
		s.ReadinessProbe, _ = p.plain().(map[string]any)
	}
	return s
}

// container decodes what steps and sidecars share.
func (d *decoder) container(n node, tmpl *stepTemplate) *model.Step {
	s := &model.Step{
		Name:       n.field("name").str(),
		Image:      n.field("image").str(),
		Script:     n.field("script").str(),
		Command:    n.field("command").strs(),
		Args:       n.field("args").strs(),
		WorkingDir: n.field("workingDir").str(),
		Path:       n.path,
	}
	s.Env = decodeEnv(n.field("env"))
	s.EnvFrom = decodeEnvFrom(n.field("envFrom"))
	s.ImagePullPolicy = n.field("imagePullPolicy").str()
	s.VolumeMounts = decodeMounts(n.field("volumeMounts"))
	resources, security := decodeResources(n.field("resources")), decodeSecurity(n.field("securityContext"))
	if tmpl != nil {
		// The task's stepTemplate is under the step's own fields, as
		// Tekton merges them (env by name, mounts by path); pipec's
		// defaults go under both, once.
		resources = mergeResources(tmpl.resources, resources)
		security = overlaySecurity(tmpl.security, security)
		if s.WorkingDir == "" {
			s.WorkingDir = tmpl.workingDir
		}
		for _, e := range tmpl.env {
			if !slices.ContainsFunc(s.Env, func(x *model.EnvVar) bool { return x.Name == e.Name }) {
				s.Env = append(s.Env, e)
			}
		}
		for _, m := range tmpl.mounts {
			if !slices.ContainsFunc(s.VolumeMounts, func(x *model.VolumeMount) bool { return x.MountPath == m.MountPath }) {
				s.VolumeMounts = append(s.VolumeMounts, m)
			}
		}
	}
	s.Env = orderEnv(s.Env)
	d.aliasContainer(n.path, tmpl)
	if security.RunAsUser != nil && *security.RunAsUser == 0 && security.RunAsNonRoot == nil {
		// runAsNonRoot: false is runAsUser: 0's consequence (mergeSecurity).
		sc := n.path.Field("securityContext")
		d.src.Alias(sc.Field("runAsNonRoot"), sc.Field("runAsUser"))
	}
	s.Resources = mergeResources(d.defaults.resources, resources)
	s.SecurityContext = mergeSecurity(d.defaults.security, security)
	return s
}

// overlaySecurity sets over base the fields own sets, and nothing else:
// how Tekton lays a step's security context over its template's.
// mergeSecurity adds the consequences of pipec's defaults to it.
func overlaySecurity(base, own model.SecurityContext) model.SecurityContext {
	out := base
	for _, f := range []struct{ dst, src **bool }{
		{&out.RunAsNonRoot, &own.RunAsNonRoot}, {&out.AllowPrivilegeEscalation, &own.AllowPrivilegeEscalation},
		{&out.Privileged, &own.Privileged}, {&out.ReadOnlyRootFilesystem, &own.ReadOnlyRootFilesystem},
	} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	if own.RunAsUser != nil {
		out.RunAsUser = own.RunAsUser
	}
	if own.RunAsGroup != nil {
		out.RunAsGroup = own.RunAsGroup
	}
	if own.SeccompProfile != "" {
		out.SeccompProfile, out.SeccompLocalhostProfile = own.SeccompProfile, own.SeccompLocalhostProfile
	}
	if own.SeccompLocalhostProfile != "" {
		out.SeccompLocalhostProfile = own.SeccompLocalhostProfile
	}
	if own.CapabilitiesAdd != nil {
		out.CapabilitiesAdd = own.CapabilitiesAdd
	}
	if own.CapabilitiesDrop != nil {
		out.CapabilitiesDrop = own.CapabilitiesDrop
	}
	return out
}

func decodeWhen(n node) []*model.When {
	var out []*model.When
	n.list(func(_ int, c node) {
		out = append(out, &model.When{
			Input: c.field("input").str(), Operator: c.field("operator").str(), Values: c.field("values").strs(), CEL: c.field("cel").str(), Path: c.path,
		})
	})
	return out
}

// decodeRef decodes a #TaskRef, or a #StepRef (which may name a
// StepAction instead of a resolver).
func decodeRef(r node, step bool) *model.Ref {
	ref := &model.Ref{Resolver: r.field("resolver").str(), Path: r.path}
	if step {
		ref.Name = r.field("name").str()
	}
	r.field("params").fields(func(name string, c node) {
		ref.Params = append(ref.Params, &model.Arg{Name: name, Value: model.Value{Type: model.TypeString, String: c.str()}, Path: c.path})
	})
	return ref
}

// templateForRef is the part of a step template a step that runs a
// StepAction takes: its resources and security context.
func templateForRef(t *stepTemplate) *stepTemplate {
	if t == nil {
		return nil
	}
	return &stepTemplate{resources: t.resources, security: t.security, path: t.path, onlySecurity: true}
}

// stepTemplate is a task's stepTemplate: what each of its steps starts
// from, over pipec's defaults.
type stepTemplate struct {
	resources  model.Resources
	security   model.SecurityContext
	env        []*model.EnvVar
	workingDir string
	mounts     []*model.VolumeMount
	// path is the stepTemplate's; onlySecurity says a step takes only
	// its resources and securityContext.
	path         model.Path
	onlySecurity bool
}

// template decodes a task's stepTemplate; nil when it has none.
func (d *decoder) template(n node) *stepTemplate {
	if !n.exists() {
		return nil
	}
	return &stepTemplate{
		resources: decodeResources(n.field("resources")), security: decodeSecurity(n.field("securityContext")),
		env: decodeEnv(n.field("env")), workingDir: n.field("workingDir").str(), mounts: decodeMounts(n.field("volumeMounts")),
		path: n.path,
	}
}

// stepDefaultsPath is where pipec's defaults for every step are written.
var stepDefaultsPath = model.Path("defaults").Field("step")

// aliasContainer tells the source map where a container's settings it
// does not write itself come from: its task's stepTemplate, then
// defaults.step (resources and securityContext), so that a finding about
// one is reported where it was written.
func (d *decoder) aliasContainer(p model.Path, tmpl *stepTemplate) {
	// Aliases of a field come before those of the step as a whole: the
	// template's resources and securityContext are named for each.
	for _, f := range []string{"resources", "securityContext"} {
		if tmpl != nil {
			d.src.Alias(p.Field(f), tmpl.path.Field(f))
		}
		d.src.Alias(p.Field(f), stepDefaultsPath.Field(f))
	}
	if tmpl != nil && !tmpl.onlySecurity {
		d.src.Alias(p, tmpl.path) // workingDir and the rest
	}
}

func decodeEnv(n node) []*model.EnvVar {
	var out []*model.EnvVar
	n.fields(func(name string, c node) {
		e := &model.EnvVar{Name: name, Path: c.path}
		switch {
		case c.field("secret").exists():
			e.SecretRef = &model.KeyRef{Name: c.field("secret").field("name").str(), Key: c.field("secret").field("key").str()}
		case c.field("configMap").exists():
			e.ConfigMapRef = &model.KeyRef{Name: c.field("configMap").field("name").str(), Key: c.field("configMap").field("key").str()}
		case c.field("field").exists():
			e.FieldPath = c.field("field").str()
		default:
			e.Value = c.str()
		}
		out = append(out, e)
	})
	return out
}

func decodeEnvFrom(n node) []*model.EnvFrom {
	var out []*model.EnvFrom
	n.list(func(_ int, c node) {
		out = append(out, &model.EnvFrom{Secret: c.field("secret").str(), ConfigMap: c.field("configMap").str(), Prefix: c.field("prefix").str(), Path: c.path})
	})
	return out
}

func decodeMounts(n node) []*model.VolumeMount {
	var out []*model.VolumeMount
	n.list(func(_ int, c node) {
		out = append(out, &model.VolumeMount{
			Name: c.field("name").str(), MountPath: c.field("mountPath").str(), SubPath: c.field("subPath").str(),
			ReadOnly: c.field("readOnly").boolean(), Path: c.path,
		})
	})
	return out
}

// quantity decodes a #Quantity, which may be written as an int.
func (n node) quantity() string {
	if n.v.Kind() == cue.IntKind {
		// Beyond int64 too, for the check to report it as it was written.
		if i, err := n.v.Int(nil); err == nil {
			return i.String()
		}
	}
	return n.str()
}

func decodeResources(n node) model.Resources {
	r := model.Resources{}
	dec := func(m node) map[string]string {
		var out map[string]string
		m.fields(func(name string, c node) {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = c.quantity()
		})
		return out
	}
	r.Requests = dec(n.field("requests"))
	r.Limits = dec(n.field("limits"))
	return r
}

func mergeResources(def, own model.Resources) model.Resources {
	merge := func(a, b map[string]string) map[string]string {
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
	return model.Resources{Requests: merge(def.Requests, own.Requests), Limits: merge(def.Limits, own.Limits)}
}

func decodeSecurity(n node) model.SecurityContext {
	var s model.SecurityContext
	optBool := func(name string) *bool {
		if f := n.field(name); f.exists() {
			b := f.boolean()
			return &b
		}
		return nil
	}
	optInt := func(name string) *int64 {
		if f := n.field(name); f.exists() {
			i := f.int()
			return &i
		}
		return nil
	}
	s.RunAsNonRoot = optBool("runAsNonRoot")
	s.RunAsUser = optInt("runAsUser")
	s.RunAsGroup = optInt("runAsGroup")
	s.AllowPrivilegeEscalation = optBool("allowPrivilegeEscalation")
	s.Privileged = optBool("privileged")
	s.ReadOnlyRootFilesystem = optBool("readOnlyRootFilesystem")
	s.SeccompProfile = n.field("seccompProfile").str()
	s.SeccompLocalhostProfile = n.field("seccompLocalhostProfile").str()
	caps := n.field("capabilities")
	if add := caps.field("add"); add.exists() {
		s.CapabilitiesAdd = add.strs()
		if s.CapabilitiesAdd == nil {
			s.CapabilitiesAdd = []string{}
		}
	}
	if drop := caps.field("drop"); drop.exists() {
		s.CapabilitiesDrop = drop.strs()
		if s.CapabilitiesDrop == nil {
			s.CapabilitiesDrop = []string{}
		}
	}
	return s
}

// mergeSecurity overlays a step's own settings on the defaults, field by
// field.
func mergeSecurity(def, own model.SecurityContext) model.SecurityContext {
	out := overlaySecurity(def, own)
	// Running as root contradicts the runAsNonRoot default.
	if own.RunAsUser != nil && *own.RunAsUser == 0 && own.RunAsNonRoot == nil {
		f := false
		out.RunAsNonRoot = &f
	}
	// Kubernetes rejects allowPrivilegeEscalation: false together with
	// privileged or CAP_SYS_ADMIN; a step that asks for those without
	// saying otherwise does not inherit the default.
	if own.AllowPrivilegeEscalation == nil &&
		((own.Privileged != nil && *own.Privileged) || slices.Contains(own.CapabilitiesAdd, "SYS_ADMIN") || slices.Contains(own.CapabilitiesAdd, "CAP_SYS_ADMIN")) {
		out.AllowPrivilegeEscalation = nil
	}
	return out
}

func (d *decoder) policy(n node) model.Policy {
	p := model.Policy{
		Default:           n.field("default").strs(),
		AllowedRegistries: n.field("allowedRegistries").strs(),
		Path:              n.path,
	}
	n.field("packs").fields(func(name string, _ node) { p.Packs = append(p.Packs, name) })
	n.field("waivers").list(func(_ int, c node) {
		p.Waivers = append(p.Waivers, &model.Waiver{
			Check: c.field("check").str(), Scope: model.Path(c.field("path").str()), Reason: c.field("reason").str(),
			Expires: c.field("expires").str(), Path: c.path,
		})
	})
	return p
}
