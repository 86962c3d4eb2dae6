package compiler

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/distribution/reference"
	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/panics"
	"github.com/pipec/pipec/model"
)

// maxMatrixCombinations is Tekton's default limit on the runs one matrix
// fans out to (feature flag default-max-matrix-combinations-count).
const maxMatrixCombinations = 256

var (
	dnsLabelRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	paramNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.-]*$`)
	resultNameRE = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	envNameRE    = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
)

// checker runs pipec's semantic checks on a decoded plan.
type checker struct {
	plan *model.Plan
	src  model.SourceMap
	out  diag.List
	// generatedCEL are the CEL expressions checkOn collected, for
	// checkTriggers to compile at once.
	generatedCEL []generatedCEL
	// byName and appsFrom index the plan's pipelines by name and its
	// apps by the pipeline their image comes from, on first use: a
	// lookup per pipeline or app was the square of the services.
	byName   map[string]*model.Pipeline
	appsFrom map[string][]*model.App
}

// pipeline is the plan's pipeline name, or nil.
func (c *checker) pipeline(name string) *model.Pipeline {
	if c.byName == nil {
		c.byName = make(map[string]*model.Pipeline, len(c.plan.Pipelines))
		for _, p := range c.plan.Pipelines {
			if _, dup := c.byName[p.Name]; !dup {
				c.byName[p.Name] = p // the first, as Plan.Pipeline
			}
		}
	}
	return c.byName[name]
}

// appsFromPipeline are the apps whose image comes from pipeline name
// (image.fromPipeline), in the plan's order.
func (c *checker) appsFromPipeline(name string) []*model.App {
	if c.appsFrom == nil {
		c.appsFrom = map[string][]*model.App{}
		for _, a := range c.plan.Apps {
			if a.Image != nil && a.Image.FromPipeline != nil {
				c.appsFrom[a.Image.FromPipeline.Pipeline] = append(c.appsFrom[a.Image.FromPipeline.Pipeline], a)
			}
		}
	}
	return c.appsFrom[name]
}

// checks are pipec's semantic checks, each over the whole normalized plan.
// A check reads the plan and reports; it never changes the plan
// (normalize does, before them).
var checks = []func(*checker){
	(*checker).checkTasks,
	(*checker).checkPipelines,
	(*checker).checkEnvironments,
	(*checker).checkPromotion,
	(*checker).checkTeams,
	(*checker).checkApps,
	(*checker).checkQuotaFit,
	(*checker).checkPipelinePermissions,
	(*checker).checkPodSecurity,
	(*checker).checkTriggers,
	(*checker).checkListenerResources,
	(*checker).checkScaling,
	(*checker).checkGates,
	(*checker).checkGateRuns,
	(*checker).checkGateEgress,
	(*checker).checkAdmission,
	(*checker).checkFlux,
	(*checker).checkPreviews,
}

// check runs the checks on a normalized plan, on up to cpus CPUs: each
// check reports to a list of its own, and the lists are joined in the
// order of checks, as when they run one after the other. (The plan's
// SourceMap, which positions findings, is safe for concurrent use.)
func check(plan *model.Plan, cpus int) diag.List {
	outs := make([]diag.List, len(checks))
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Value
	for range max(1, min(cpus, len(checks))) {
		wg.Go(func() {
			// A check's panic goes on in the caller, whose recovery
			// reports it (Build).
			defer func() {
				if r := panics.Recover(recover()); r != nil {
					panicked.CompareAndSwap(nil, r)
					next.Store(int64(len(checks)))
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(checks) {
					return
				}
				c := &checker{plan: plan, src: plan.Sources}
				checks[i](c)
				outs[i] = c.out
			}
		})
	}
	wg.Wait()
	if p := panicked.Load(); p != nil {
		panic(p)
	}
	return slices.Concat(outs...)
}

// checkTasks checks the task library.
func (c *checker) checkTasks() {
	for _, t := range c.plan.Tasks {
		c.checkName(t.Path, t.Name, "task")
		c.checkTaskDef(t, t.Path)
	}
}

// checkPipelines checks each pipeline and its tasks.
func (c *checker) checkPipelines() {
	for _, p := range c.plan.Pipelines {
		c.checkPipeline(p)
	}
}

// report adds a finding of rule r at path.
func (c *checker) report(r diag.Rule, path model.Path, format string, args ...any) *diag.Diagnostic {
	return c.out.Report(r, c.src, path, format, args...)
}

func (c *checker) checkName(path model.Path, name, what string) {
	if len(name) > 63 || !dnsLabelRE.MatchString(name) {
		d := c.report(ruleName, path, "invalid %s name %q", what, name)
		d.Expected = "a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
		d.Hint = fmt.Sprintf("rename it, for example to %q", suggestLabel(name))
	}
}

// suggestLabel derives a valid DNS label from name.
func suggestLabel(name string) string {
	s := labelChars(name)
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if s == "" {
		s = "task"
	}
	return s
}

// labelChars is name in a DNS label's characters: lower case, '-' for
// anything but a letter or digit, none at either end.
func labelChars(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// scope is what variable references inside a task's steps may name.
type scope struct {
	params     []string
	results    []string
	workspaces []string
}

func (c *checker) checkTaskDef(t *model.TaskDef, path model.Path) {
	c.checkTaskDefIn(t, path, scope{})
}

// checkTaskDefIn checks a task whose references may also name what sc
// holds: an inline task sees its pipeline's params and workspaces, which
// Tekton propagates to embedded task specs.
func (c *checker) checkTaskDefIn(t *model.TaskDef, path model.Path, sc scope) {
	c.checkMetadata(path, t.Labels, t.Annotations)
	for _, p := range t.Params {
		c.checkParamDecl(p)
		sc.params = append(sc.params, p.Name)
	}
	for _, s := range t.Containers() {
		if s.Ref != nil {
			continue // a StepAction's image is the StepAction's
		}
		// An image made from parameters (golang:$(params.version)) must be
		// pinned with their defaults too, checked at the default.
		for _, img := range model.StepImages(s, t, nil) {
			c.checkImage(img.Path, img.Image)
		}
	}
	for _, r := range t.Results {
		c.checkResultName(r.Path, r.Name)
		sc.results = append(sc.results, r.Name)
	}
	for _, w := range t.Workspaces {
		sc.workspaces = append(sc.workspaces, w.Name)
	}
	c.checkSteps(t, path, sc)
}

// checkWhen checks a when expression: input and values, or (with Tekton's
// flag) a CEL expression; check checks the references in each string.
func (c *checker) checkWhen(w *model.When, check func(model.Path, string)) {
	if w.CEL != "" {
		check(w.Path.Field("cel"), w.CEL)
		if !c.plan.TektonFlags.CELWhen {
			c.flagOff(w.Path.Field("cel"), "a CEL when expression", "enable-cel-in-whenexpression")
		}
		// As Tekton compiles it: references are substituted before, so
		// they must sit in CEL strings ('$(params.x)').
		if env, err := cel.NewEnv(); err == nil {
			if _, iss := env.Compile(w.CEL); iss != nil && iss.Err() != nil {
				d := c.report(ruleWhen, w.Path.Field("cel"), "the CEL expression does not compile: %s", celMessage(iss.Err()))
				d.Expected = `a boolean CEL expression, references quoted as strings: "'$(params.branch)' == 'main'"`
			}
		}
		if w.Input != "" || len(w.Values) > 0 {
			d := c.report(ruleWhen, w.Path, "when expression sets both cel and input or values")
			d.Expected = "cel alone, or input, operator and values"
			d.Hint = "Tekton refuses both in one expression: split it in two"
		}
		return
	}
	if w.Input == "" {
		d := c.report(ruleWhen, w.Path, "when expression has no input")
		d.Expected = `input, operator and values: {input: "$(params.branch)", operator: "in", values: ["main"]}, or cel`
		return
	}
	check(w.Path.Field("input"), w.Input)
	for i, v := range w.Values {
		check(w.Path.Field("values").Index(i), v)
	}
	if len(w.Values) == 0 {
		d := c.report(ruleWhen, w.Path.Field("values"), "when expression has no values")
		d.Expected = "at least one value to compare the input with"
	}
}

// flagOff reports a field at path that needs a Tekton feature flag the
// configuration does not say the cluster turns on.
func (c *checker) flagOff(path model.Path, what, flag string) {
	d := c.report(ruleTektonFlag, path, "%s needs Tekton's %s feature flag, which the configuration does not turn on", what, flag)
	d.Expected = fmt.Sprintf("tekton: featureFlags: %q: true, once the cluster's feature-flags ConfigMap (namespace tekton-pipelines) sets it", flag)
	d.Hint = "Tekton refuses the object while the flag is off; turn it on in the cluster first"
}

// checkEnum checks a value given to a parameter that lists its values
// (of whose, such as ` of task "test"`): a literal must be one of them; a
// reference is resolved when the run starts, where Tekton checks it.
func (c *checker) checkEnum(path model.Path, p *model.Param, v model.Value, whose string) {
	if len(p.Enum) == 0 || v.Type != model.TypeString || strings.Contains(v.String, "$(") || slices.Contains(p.Enum, v.String) {
		return
	}
	d := c.report(ruleParam, path, "%q is not in the enum of parameter %q%s", v.String, p.Name, whose)
	d.Expected = "one of its enum values: " + diag.OneOf(p.Enum)
	if s := diag.Suggest(v.String, p.Enum); s != "" {
		d.Hint = fmt.Sprintf("did you mean %q?", s)
	} else if whose == "" {
		d.Hint = "Tekton refuses a default outside the enum"
	} else {
		d.Hint = "Tekton fails the run that passes it"
	}
}

// checkEnumSubset checks a pipeline parameter passed to a task parameter
// that lists its values: Tekton runs the pipeline only if the pipeline
// parameter lists values too, all of them the task's.
func (c *checker) checkEnumSubset(pl *model.Pipeline, a *model.Arg, p *model.Param, def *model.TaskDef) {
	if len(p.Enum) == 0 || a.Value.Type != model.TypeString {
		return
	}
	var names []string
	for _, r := range findRefs(a.Value.String) {
		if r.Kind == "params" && len(r.Parts) > 0 {
			names = append(names, r.Parts[0])
		}
	}
	if len(names) != 1 { // a compound value: Tekton checks the value at run time
		return
	}
	from := pl.Param(names[0])
	if from == nil || from.Type != model.TypeString {
		return
	}
	var outside []string
	for _, v := range from.Enum {
		if !slices.Contains(p.Enum, v) {
			outside = append(outside, v)
		}
	}
	switch {
	case len(from.Enum) == 0:
		d := c.report(ruleParam, a.Path, "pipeline parameter %q, which takes any value, is passed to parameter %q of task %q, which takes only its enum", from.Name, p.Name, def.Name)
		d.Expected = fmt.Sprintf("an enum on pipeline parameter %q within the task's: %s", from.Name, diag.OneOf(p.Enum))
		d.Hint = fmt.Sprintf("Tekton refuses to run the pipeline otherwise: add enum: [...] to pipelines.%s.params.%s", pl.Name, from.Name)
	case len(outside) > 0:
		d := c.report(ruleParam, a.Path, "pipeline parameter %q may be %s, which parameter %q of task %q does not take", from.Name, diag.OneOf(outside), p.Name, def.Name)
		d.Expected = fmt.Sprintf("the pipeline parameter's enum within the task's: %s", diag.OneOf(p.Enum))
		d.Hint = "Tekton refuses to run the pipeline otherwise: narrow the pipeline parameter's enum, or widen the task's"
	}
}

// checkMetadata checks the labels and annotations at path (the object's)
// as the API server would.
func (c *checker) checkMetadata(path model.Path, labels, annotations map[string]string) {
	for _, m := range []struct {
		field string
		kv    map[string]string
	}{{"labels", labels}, {"annotations", annotations}} {
		size := 0
		for _, k := range sortedKeys(m.kv) {
			v := m.kv[k]
			size += len(k) + len(v)
			at := path.Field(m.field).Field(k)
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				d := c.report(ruleMetadata, at, "invalid %s key %q: %s", strings.TrimSuffix(m.field, "s"), k, strings.Join(errs, "; "))
				d.Expected = `a qualified name: [prefix/]name, such as "app.kubernetes.io/component"`
			}
			if m.field == "labels" {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					d := c.report(ruleMetadata, at, "invalid label value %q: %s", v, strings.Join(errs, "; "))
					d.Expected = "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty"
					d.Hint = "put free text in an annotation instead"
				}
			}
		}
		if m.field == "annotations" && size > totalAnnotationSize {
			d := c.report(ruleMetadata, path.Field(m.field), "annotations take %d bytes, more than Kubernetes' %d", size, totalAnnotationSize)
			d.Hint = "keep large data in a ConfigMap and name it in an annotation"
		}
	}
}

// totalAnnotationSize is Kubernetes' limit on an object's annotations,
// keys and values together.
const totalAnnotationSize = 256 * 1024

func (c *checker) checkParamDecl(p *model.Param) {
	if len(p.Enum) > 0 {
		if !c.plan.TektonFlags.ParamEnum {
			c.flagOff(p.Path.Field("enum"), "a parameter's enum", "enable-param-enum")
		}
		if p.Default != nil {
			c.checkEnum(p.Path.Field("default"), p, *p.Default, "")
		}
	}
	if !paramNameRE.MatchString(p.Name) {
		d := c.report(ruleName, p.Path, "invalid parameter name %q", p.Name)
		d.Expected = "letters, digits, '_', '-' and '.', starting with a letter or '_'"
	}
	if p.Default != nil && p.Default.Type != p.Type {
		d := c.report(ruleParamType, p.Path.Field("default"), "default is %s but the parameter is of type %s", article(p.Default.Type), p.Type)
		d.Expected = "a default of type " + string(p.Type)
		d.Hint = fmt.Sprintf("set type: %q or change the default", p.Default.Type)
	}
}

func article(t model.ParamType) string {
	if t == model.TypeArray || t == model.TypeObject {
		return "an " + string(t)
	}
	return "a " + string(t)
}

func (c *checker) checkResultName(path model.Path, name string) {
	if !resultNameRE.MatchString(name) {
		d := c.report(ruleName, path, "invalid result name %q", name)
		d.Expected = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	}
}

func (c *checker) checkSteps(t *model.TaskDef, path model.Path, sc scope) {
	if len(t.Steps) == 0 {
		d := c.report(ruleTask, path.Field("steps"), "task %q has no steps", t.Name)
		d.Expected = "at least one step"
		d.Hint = `add a step: steps: [{name: "run", image: "...", script: "..."}]`
		return
	}
	seen := map[string]model.Path{}
	for _, s := range t.Containers() {
		what := "step"
		if s.Sidecar {
			what = "sidecar"
		}
		if prev, dup := seen[what+"/"+s.Name]; dup {
			d := c.report(ruleDuplicate, s.Path.Field("name"), "duplicate %s name %q", what, s.Name)
			d.Expected = what + " names unique within the task"
			d.Hint = fmt.Sprintf("rename one of them; the other is at %s", c.src.Lookup(prev))
		} else {
			seen[what+"/"+s.Name] = s.Path
		}
		c.checkName(s.Path.Field("name"), s.Name, what)
		switch {
		case s.Ref != nil:
			c.checkStepRef(t, s, sc)
		case s.Image == "":
			d := c.report(ruleTask, s.Path, "%s %q has no image", what, s.Name)
			d.Expected = `image: "<image>:<tag>", or ref: {...} for a step that runs a StepAction`
		default:
			c.checkImage(s.Path.Field("image"), s.Image)
		}
		if s.Script != "" && len(s.Command) > 0 {
			d := c.report(ruleTask, s.Path, "%s %q sets both script and command", what, s.Name)
			d.Expected = "either script, or command with args"
			d.Hint = "move the command into the script, or drop the script"
		}
		if s.Timeout != "" {
			c.checkDuration(s.Path.Field("timeout"), s.Timeout)
		}
		c.checkResources(s)
		c.checkSeccomp(s)
		c.checkMounts(t, s, what)
		c.checkEnvSources(s)
		for _, e := range s.Env {
			if !envNameRE.MatchString(e.Name) {
				d := c.report(ruleName, e.Path, "invalid environment variable name %q", e.Name)
				d.Expected = "letters, digits, '_', '-' and '.', not starting with a digit"
			}
			if e.SecretRef != nil && (e.SecretRef.Name == "" || e.SecretRef.Key == "") ||
				e.ConfigMapRef != nil && (e.ConfigMapRef.Name == "" || e.ConfigMapRef.Key == "") {
				d := c.report(ruleEnv, e.Path, "reference of %s needs a name and a key", e.Name)
				d.Expected = `{secret: {name: "<secret>", key: "<key>"}}`
			}
		}
		// Variable references inside the step.
		check := func(p model.Path, s string) { c.checkTaskRefs(p, s, t.Name, sc) }
		eachContainerString(s, func(p model.Path, v string, _ stringField) { check(p, v) })
		for _, w := range s.When {
			c.checkWhen(w, check)
		}
	}
	c.checkStepResults(t)
	c.checkVolumes(t)
}

// stringField says where in a container a string is, as step results
// care: Tekton substitutes them in env, command and args, validates a
// script against the step's own results, and substitutes them nowhere
// else.
type stringField int

const (
	otherField stringField = iota
	scriptField
	substitutedField
)

// eachContainerString calls fn with each string of a step or sidecar that
// may hold variable references: its image, script, workingDir, command,
// args and env values.
func eachContainerString(s *model.Step, fn func(model.Path, string, stringField)) {
	fn(s.Path.Field("image"), s.Image, otherField)
	fn(s.Path.Field("script"), s.Script, scriptField)
	fn(s.Path.Field("workingDir"), s.WorkingDir, otherField)
	for i, a := range s.Command {
		fn(s.Path.Field("command").Index(i), a, substitutedField)
	}
	for i, a := range s.Args {
		fn(s.Path.Field("args").Index(i), a, substitutedField)
	}
	for _, e := range s.Env {
		fn(e.Path, e.Value, substitutedField)
	}
}

// checkTaskRefs checks the variable references in a string inside a task.
func (c *checker) checkTaskRefs(path model.Path, s, task string, sc scope) {
	for _, r := range findRefs(s) {
		switch r.Kind {
		case "params", "inputs":
			parts := r.Parts
			if r.Kind == "inputs" {
				// $(inputs.params.x), the v1alpha1 spelling Tekton still
				// substitutes.
				if len(parts) < 2 || parts[0] != "params" {
					continue
				}
				parts = parts[1:]
			}
			name, ok := paramName(parts, func(n string) bool { return slices.Contains(sc.params, n) })
			if !ok {
				c.unknownRef(path, r, "parameter", name, sc.params, fmt.Sprintf("task %q", task),
					"declare it in the task's params, or pass it from the pipeline task's params")
			}
		case "results":
			if len(r.Parts) == 0 || !slices.Contains(sc.results, r.Parts[0]) {
				c.unknownRef(path, r, "result", first(r.Parts), sc.results, fmt.Sprintf("task %q", task), "declare it in the task's results")
			}
		case "workspaces":
			if len(r.Parts) == 0 || !slices.Contains(sc.workspaces, r.Parts[0]) {
				c.unknownRef(path, r, "workspace", first(r.Parts), sc.workspaces, fmt.Sprintf("task %q", task), "declare it in the task's workspaces, or bind it in the pipeline task's workspaces")
			}
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (c *checker) unknownRef(path model.Path, r ref, what, name string, declared []string, where, fix string) {
	d := c.report(ruleReference, path, "%s refers to unknown %s %q of %s", r.Raw, what, name, where)
	d.Expected = fmt.Sprintf("a declared %s: %s", what, diag.OneOf(declared))
	if s := diag.Suggest(name, declared); s != "" {
		d.Hint = fmt.Sprintf("did you mean %q?", s)
	} else {
		d.Hint = fix
	}
}

func (c *checker) checkImage(path model.Path, image string) {
	if strings.Contains(image, "$(") {
		return // resolved at run time from a parameter
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		d := c.report(ruleImage, path, "invalid image reference %q: %v", image, err)
		d.Expected = "an image reference such as golang:1.23 or ghcr.io/org/tool@sha256:<digest>"
		return
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	switch {
	case !tagged && !digested:
		d := c.report(ruleImage, path, "image %q has neither a tag nor a digest", image)
		d.Expected = "an immutable reference: a version tag or, better, a digest"
		d.Hint = fmt.Sprintf("pin it, for example %s:<version> or %s@sha256:<digest>", image, image)
	case tagged && !digested && named.(reference.Tagged).Tag() == "latest":
		d := c.report(ruleImage, path, "image %q uses the mutable tag \"latest\"", image)
		d.Expected = "a version tag or a digest"
		d.Hint = fmt.Sprintf("pin a version, for example %s:<version>, or a digest", reference.FamiliarName(named))
	}
}

func (c *checker) checkResources(s *model.Step) {
	base := s.Path.Field("resources")
	parsed := map[string]map[string]resource.Quantity{}
	for kind, m := range map[string]map[string]string{"requests": s.Resources.Requests, "limits": s.Resources.Limits} {
		parsed[kind] = map[string]resource.Quantity{}
		for _, name := range sortedKeys(m) {
			if q, ok := c.quantity(base.Field(kind).Field(name), m[name], " for "+kind+" "+name); ok {
				parsed[kind][name] = q
			}
		}
	}
	for _, name := range sortedKeys(parsed["requests"]) {
		// An extended resource (nvidia.com/gpu) is not overcommitted:
		// Kubernetes wants its limit, and a request equal to it.
		if !strings.Contains(name, "/") {
			continue
		}
		if q := parsed["requests"][name]; q.MilliValue()%1000 != 0 {
			d := c.report(ruleResources, base.Field("requests").Field(name), "extended resource %s is requested at %s", name, q.String())
			d.Expected = "a whole number: Kubernetes does not divide extended resources"
		}
		if lim, ok := parsed["limits"][name]; !ok {
			d := c.report(ruleResources, base.Field("requests").Field(name), "extended resource %s is requested without a limit", name)
			d.Expected = "a limit equal to the request: Kubernetes does not overcommit extended resources"
			d.Hint = fmt.Sprintf("set resources.limits.%q (the request may then be left out)", name)
		} else if req := parsed["requests"][name]; req.Cmp(lim) != 0 {
			d := c.report(ruleResources, base.Field("requests").Field(name), "extended resource %s is requested at %s but limited to %s", name, req.String(), lim.String())
			d.Expected = "a request equal to the limit: Kubernetes does not overcommit extended resources"
			d.Hint = "drop the request, or make it equal to the limit"
		}
	}
	for _, name := range sortedKeys(parsed["limits"]) {
		lim := parsed["limits"][name]
		if strings.Contains(name, "/") && lim.MilliValue()%1000 != 0 {
			d := c.report(ruleResources, base.Field("limits").Field(name), "extended resource %s is limited to %s", name, lim.String())
			d.Expected = "a whole number: Kubernetes does not divide extended resources"
		}
		if req, ok := parsed["requests"][name]; ok && req.Cmp(lim) > 0 && !strings.Contains(name, "/") {
			// At the request, unless only the limit is the user's (a
			// defaults.step limit below the schema's default request).
			at := base.Field("requests").Field(name)
			if !c.src.Written(at) && c.src.Written(base.Field("limits").Field(name)) {
				at = base.Field("limits").Field(name)
			}
			d := c.report(ruleResources, at, "%s request %s is above its limit %s", name, req.String(), lim.String())
			d.Expected = "requests no larger than limits"
			d.Hint = fmt.Sprintf("lower resources.requests.%s or raise resources.limits.%s", name, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkSeccomp checks a step's seccomp profile as Kubernetes validates it:
// a Localhost profile names its file, relative to the kubelet's seccomp
// directory and inside it; no other type has a file.
func (c *checker) checkSeccomp(s *model.Step) {
	sc := s.SecurityContext
	path := s.Path.Field("securityContext")
	switch {
	case sc.SeccompProfile == "Localhost" && sc.SeccompLocalhostProfile == "":
		d := c.report(ruleSeccomp, path.Field("seccompProfile"), "step %q uses a Localhost seccomp profile without naming its file", s.Name)
		d.Expected = `seccompLocalhostProfile: the profile's file, relative to the kubelet's seccomp directory, such as "profiles/build.json"`
		d.Hint = "Kubernetes refuses a Localhost profile without localhostProfile; or use seccompProfile: \"RuntimeDefault\""
	case sc.SeccompLocalhostProfile != "" && sc.SeccompProfile != "Localhost":
		d := c.report(ruleSeccomp, path.Field("seccompLocalhostProfile"), "step %q names a seccomp profile file, but its seccompProfile is %q", s.Name, cmp.Or(sc.SeccompProfile, "RuntimeDefault"))
		d.Expected = `seccompProfile: "Localhost" with a seccompLocalhostProfile, or neither`
	case sc.SeccompLocalhostProfile != "" && !localDescendingPath(sc.SeccompLocalhostProfile):
		d := c.report(ruleSeccomp, path.Field("seccompLocalhostProfile"), "seccomp profile file %q leaves the kubelet's seccomp directory", sc.SeccompLocalhostProfile)
		d.Expected = `a relative path without "..", such as "profiles/build.json"`
	}
}

// localDescendingPath reports whether p stays below the directory it is
// relative to, as Kubernetes' ValidateLocalDescendingPath requires: not
// absolute, no ".." element.
func localDescendingPath(p string) bool {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "\\") {
		return false
	}
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if e == ".." {
			return false
		}
	}
	return true
}
