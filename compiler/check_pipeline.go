package compiler

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// pipelineScope is what references in a pipeline may name.
type pipelineScope struct {
	p       *model.Pipeline
	tasks   map[string]*model.PipelineTask
	finally map[string]*model.PipelineTask
}

func (c *checker) checkPipeline(p *model.Pipeline) {
	c.checkPipelineName(p)
	c.checkMetadata(p.Path, p.Labels, p.Annotations)
	for _, prm := range p.Params {
		c.checkParamDecl(prm)
	}
	if p.Timeout != "" {
		c.checkDuration(p.Path.Field("timeout"), p.Timeout)
	}
	ps := pipelineScope{p: p, tasks: map[string]*model.PipelineTask{}, finally: map[string]*model.PipelineTask{}}
	for _, t := range p.Tasks {
		ps.tasks[t.Name] = t
	}
	for _, t := range p.Finally {
		if _, dup := ps.tasks[t.Name]; dup {
			d := c.report(ruleDuplicate, t.Path, "task %q is declared both in tasks and in finally", t.Name)
			d.Expected = "task names unique within the pipeline"
			d.Hint = "rename one of them"
		}
		ps.finally[t.Name] = t
	}
	if p.Ref != nil {
		c.checkPipelineRef(ps)
		return
	}
	if len(p.Tasks) == 0 {
		d := c.report(rulePipeline, p.Path, "pipeline %q has no tasks", p.Name)
		d.Expected = "at least one task under tasks"
		d.Hint = `add one: tasks: build: {steps: [...]} or tasks: build: {uses: "<task>"}`
	}
	for _, t := range p.Tasks {
		c.checkPipelineTask(ps, t)
	}
	for _, t := range p.Finally {
		c.checkPipelineTask(ps, t)
	}
	for _, r := range p.Results {
		c.checkResultName(r.Path, r.Name)
		if r.Type != r.Value.Type {
			d := c.report(ruleParamType, r.Path.Field("value"), "result %q is of type %s but its value is %s", r.Name, r.Type, article(r.Value.Type))
			d.Expected = "a value of type " + string(r.Type)
		}
		c.checkPipelineValueRefs(ps, nil, r.Path.Field("value"), r.Value)
		if !hasTaskResultRef(r.Value) {
			d := c.report(ruleResult, r.Path.Field("value"), "pipeline result %q does not refer to any task result", r.Name)
			d.Expected = `a task result reference such as "$(tasks.build.results.IMAGE_DIGEST)"`
		}
	}
	if g := graphOf(p); g.cycle != nil {
		d := c.report(ruleDependency, ps.tasks[g.cycle[0]].Path, "dependency cycle: %s", strings.Join(g.cycle, " -> "))
		d.Expected = "tasks that form a directed acyclic graph"
		d.Hint = "remove one of the dependencies (after or a result reference) in the cycle"
	}
}

func hasTaskResultRef(v model.Value) bool {
	for _, s := range valueStrings(v) {
		for _, r := range findRefs(s) {
			if (r.Kind == "tasks" || r.Kind == "finally") && len(r.Parts) >= 3 && r.Parts[1] == "results" {
				return true
			}
		}
	}
	return false
}

// valueStrings lists the strings inside a parameter value.
func valueStrings(v model.Value) []string {
	switch v.Type {
	case model.TypeArray:
		return v.Array
	case model.TypeObject:
		out := make([]string, 0, len(v.Object))
		for _, k := range sortedKeys(v.Object) {
			out = append(out, v.Object[k])
		}
		return out
	}
	return []string{v.String}
}

func (c *checker) checkPipelineTask(ps pipelineScope, t *model.PipelineTask) {
	c.checkName(t.Path, t.Name, "pipeline task")
	var def *model.TaskDef
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"uses", t.Uses != ""}, {"steps", t.Inline != nil}, {"ref", t.Ref != nil}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch {
	case len(kinds) > 1:
		both := "both "
		if len(kinds) > 2 {
			both = ""
		}
		d := c.report(ruleTask, t.Path, "task %q sets %s%s and %s", t.Name, both, strings.Join(kinds[:len(kinds)-1], ", "), kinds[len(kinds)-1])
		d.Expected = "one of uses (a task from the library), steps (an inline task) or ref (a remote task)"
		d.Hint = "remove all but one of them"
		return
	case len(kinds) == 0:
		d := c.report(ruleTask, t.Path, "task %q has neither uses, steps nor ref", t.Name)
		d.Expected = "uses: \"<task>\", steps: [...] or ref: {resolver: ..., params: {...}}"
		d.Hint = fmt.Sprintf("library tasks are %s", diag.OneOf(taskNames(c.plan)))
		return
	case t.Uses != "":
		def = c.plan.Task(t.Uses)
		if def == nil {
			names := taskNames(c.plan)
			d := c.report(ruleReference, t.Path.Field("uses"), "task %q uses unknown task %q", t.Name, t.Uses)
			d.Expected = "a task of the top-level tasks library: " + diag.OneOf(names)
			if s := diag.Suggest(t.Uses, names); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = fmt.Sprintf("declare it under tasks: %q: {...}", t.Uses)
			}
			return
		}
	case t.Ref != nil:
		c.checkTaskRef(ps, t)
	}
	if t.Inline != nil {
		def = t.Inline
		// Tekton propagates the pipeline's params and workspaces to the
		// task specs embedded in it.
		var sc scope
		for _, p := range ps.p.Params {
			sc.params = append(sc.params, p.Name)
		}
		for _, w := range ps.p.Workspaces {
			sc.workspaces = append(sc.workspaces, w.Name)
		}
		c.checkTaskDefIn(def, t.Path, sc)
	}
	c.checkArgs(ps, t, def)
	c.checkWorkspaceBindings(ps, t, def)
	if t.Timeout != "" {
		c.checkDuration(t.Path.Field("timeout"), t.Timeout)
	}
	if t.OnError == "continue" && t.Retries > 0 {
		d := c.report(ruleTask, t.Path.Field("onError"), "task %q continues on error and also retries", t.Name)
		d.Expected = `onError: "continue" without retries, or retries without onError (Tekton refuses both together)`
		d.Hint = "drop retries: a task that may fail needs no retry"
	}
	for i, dep := range t.After {
		p := t.Path.Field("after").Index(i)
		switch {
		case dep == t.Name:
			d := c.report(ruleDependency, p, "task %q runs after itself", t.Name)
			d.Hint = "remove it from after"
		case ps.tasks[dep] == nil:
			names := sortedKeys(ps.tasks)
			d := c.report(ruleDependency, p, "task %q runs after unknown task %q", t.Name, dep)
			d.Expected = "a task of this pipeline: " + diag.OneOf(names)
			if ps.finally[dep] != nil {
				d.Hint = fmt.Sprintf("%q is a finally task; finally tasks run after all tasks anyway", dep)
			} else if s := diag.Suggest(dep, names); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			}
		}
	}
	for _, w := range t.When {
		c.checkWhen(w, func(p model.Path, s string) { c.checkPipelineStringRefs(ps, t, p, s) })
	}
}

func taskNames(plan *model.Plan) []string {
	names := make([]string, len(plan.Tasks))
	for i, t := range plan.Tasks {
		names[i] = t.Name
	}
	return names
}

// checkArgs checks the values passed to a task's parameters.
//
// Only a library task declares the parameters it takes: an inline task's
// are declared by what is passed, and a remote task's only Tekton sees
// (def is nil).
func (c *checker) checkArgs(ps pipelineScope, t *model.PipelineTask, def *model.TaskDef) {
	var declared []string
	if def != nil {
		for _, p := range def.Params {
			declared = append(declared, p.Name)
		}
	}
	passed := map[string]bool{}
	for _, a := range t.Params {
		passed[a.Name] = true
		c.checkPipelineValueRefs(ps, t, a.Path, a.Value)
		if t.Uses == "" {
			continue
		}
		p := paramOf(def, a.Name)
		if p == nil {
			d := c.report(ruleParam, a.Path, "task %q passes unknown parameter %q to task %q", t.Name, a.Name, def.Name)
			d.Expected = fmt.Sprintf("a parameter of task %q: %s", def.Name, diag.OneOf(declared))
			if s := diag.Suggest(a.Name, declared); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = "remove it, or declare it in the task's params"
			}
			continue
		}
		c.checkEnum(a.Path, p, a.Value, fmt.Sprintf(" of task %q", def.Name))
		c.checkEnumSubset(ps.p, a, p, def)
		if p.Type != a.Value.Type && !(p.Type != model.TypeString && wholeRef(a.Value)) {
			d := c.report(ruleParamType, a.Path, "parameter %q of task %q is of type %s but is given %s", a.Name, def.Name, p.Type, article(a.Value.Type))
			d.Expected = "a value of type " + string(p.Type)
		}
	}
	if t.Matrix != nil {
		c.checkMatrix(ps, t, def, passed)
	}
	if def == nil {
		return
	}
	c.checkImageArgs(ps, t, def)
	if t.Uses == "" {
		return
	}
	for _, p := range def.Params {
		if p.Default == nil && !passed[p.Name] {
			d := c.report(ruleParam, t.Path, "task %q does not pass required parameter %q of task %q", t.Name, p.Name, def.Name)
			d.Expected = fmt.Sprintf("params: %q: <value>", p.Name)
			d.Hint = "pass a value, or give the parameter a default in the task definition"
		}
	}
}

// checkImageArgs checks the images the steps of a pipeline task run once
// the parameters their image is made from are resolved: through the values
// the task is passed, the pipeline parameters those refer to (their
// defaults, and what the trigger sets them to), and, for an embedded task,
// the pipeline parameters it reads directly. Each is reported at the value
// that introduces it.
func (c *checker) checkImageArgs(ps pipelineScope, t *model.PipelineTask, def *model.TaskDef) {
	for _, s := range def.Containers() {
		for _, img := range model.PipelineStepImages(ps.p, t, def, s) {
			c.checkImage(img.Path, img.Image)
		}
	}
}

func paramOf(def *model.TaskDef, name string) *model.Param {
	for _, p := range def.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (c *checker) checkMatrix(ps pipelineScope, t *model.PipelineTask, def *model.TaskDef, passed map[string]bool) {
	m := t.Matrix
	combos := 1
	if len(m.Params) == 0 && len(m.Include) == 0 {
		d := c.report(ruleMatrix, m.Path, "matrix of task %q has no params and no include", t.Name)
		d.Expected = `matrix: params: {<param>: ["a", "b"]}`
	}
	for _, a := range m.Params {
		if passed[a.Name] {
			d := c.report(ruleMatrix, a.Path, "parameter %q is passed both in params and in matrix", a.Name)
			d.Expected = "each parameter in only one of them"
			d.Hint = "remove it from params"
		}
		if t.Uses != "" {
			if p := paramOf(def, a.Name); p == nil {
				d := c.report(ruleMatrix, a.Path, "matrix parameter %q is not a parameter of task %q", a.Name, def.Name)
				d.Expected = "a parameter of the task"
				if s := diag.Suggest(a.Name, paramNames(def)); s != "" {
					d.Hint = fmt.Sprintf("did you mean %q?", s)
				}
			} else if p.Type != model.TypeString {
				d := c.report(ruleMatrix, a.Path, "matrix parameter %q is of type %s in task %q", a.Name, p.Type, def.Name)
				d.Expected = "a string parameter: a matrix runs the task once per value"
			}
		}
		if wholeRef(a.Value) {
			// A whole array, from a parameter or a result: its length is
			// known when the pipeline runs.
			c.checkPipelineValueRefs(ps, t, a.Path, a.Value)
			continue
		}
		if a.Value.Type != model.TypeArray || len(a.Value.Array) == 0 {
			d := c.report(ruleMatrix, a.Path, "matrix parameter %q needs a non-empty list of values", a.Name)
			d.Expected = `a list such as ["linux", "darwin"], or a whole array reference such as "$(params.browsers[*])"`
			if a.Value.Type == model.TypeString && strings.HasPrefix(a.Value.String, "$(") && strings.HasSuffix(a.Value.String, ")") {
				d.Hint = fmt.Sprintf("for the whole array write %q", strings.TrimSuffix(a.Value.String, ")")+"[*])")
			}
			continue
		}
		c.checkPipelineValueRefs(ps, t, a.Path, a.Value)
		combos *= len(a.Value.Array)
	}
	if len(m.Params) == 0 {
		combos = 0
	}
	combos += len(m.Include)
	if combos > maxMatrixCombinations {
		d := c.report(ruleMatrix, m.Path, "matrix of task %q fans out to %d runs", t.Name, combos)
		d.Expected = fmt.Sprintf("at most %d combinations (Tekton's default limit)", maxMatrixCombinations)
		d.Hint = "split the task or reduce the values"
	}
	for _, inc := range m.Include {
		for _, a := range inc.Params {
			if passed[a.Name] {
				d := c.report(ruleMatrix, a.Path, "parameter %q is passed both in params and in matrix.include", a.Name)
				d.Hint = "remove it from params"
			}
			c.checkPipelineValueRefs(ps, t, a.Path, a.Value)
		}
	}
}

// wholeRef reports whether v is a string that is one whole array or
// object reference, $(params.x[*]) or $(tasks.t.results.r[*]), which
// Tekton substitutes with the whole value of that type.
func wholeRef(v model.Value) bool {
	if v.Type != model.TypeString {
		return false
	}
	refs := findRefs(v.String)
	return len(refs) == 1 && refs[0].Raw == v.String && strings.HasSuffix(v.String, "[*])")
}

func paramNames(def *model.TaskDef) []string {
	out := make([]string, len(def.Params))
	for i, p := range def.Params {
		out[i] = p.Name
	}
	return out
}

func (c *checker) checkWorkspaceBindings(ps pipelineScope, t *model.PipelineTask, def *model.TaskDef) {
	pws := make([]string, 0, len(ps.p.Workspaces))
	for _, w := range ps.p.Workspaces {
		pws = append(pws, w.Name)
	}
	bound := map[string]bool{}
	for _, b := range t.Workspaces {
		bound[b.Name] = true
		if !slices.Contains(pws, b.From) {
			d := c.report(ruleWorkspace, b.Path, "task %q binds workspace %q to unknown pipeline workspace %q", t.Name, b.Name, b.From)
			d.Expected = "a workspace of the pipeline: " + diag.OneOf(pws)
			if s := diag.Suggest(b.From, pws); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = fmt.Sprintf("declare it: pipelines.%s.workspaces: %q: {}", ps.p.Name, b.From)
			}
		}
		if t.Uses != "" && !slices.ContainsFunc(def.Workspaces, func(w *model.Workspace) bool { return w.Name == b.Name }) {
			names := make([]string, len(def.Workspaces))
			for i, w := range def.Workspaces {
				names[i] = w.Name
			}
			d := c.report(ruleWorkspace, b.Path, "task %q binds workspace %q, which task %q does not declare", t.Name, b.Name, def.Name)
			d.Expected = fmt.Sprintf("a workspace of task %q: %s", def.Name, diag.OneOf(names))
			if s := diag.Suggest(b.Name, names); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			}
		}
	}
	if t.Uses == "" {
		return
	}
	for _, w := range def.Workspaces {
		if !w.Optional && !bound[w.Name] {
			d := c.report(ruleWorkspace, t.Path, "task %q does not bind workspace %q that task %q requires", t.Name, w.Name, def.Name)
			d.Expected = fmt.Sprintf("workspaces: %q: \"<pipeline workspace>\"", w.Name)
			d.Hint = "bind it, or mark it optional in the task definition"
		}
	}
}

// checkPipelineValueRefs checks references inside a value passed in a
// pipeline (task params, matrix values, pipeline results).
func (c *checker) checkPipelineValueRefs(ps pipelineScope, t *model.PipelineTask, path model.Path, v model.Value) {
	eachString(v, path, func(p model.Path, s string) { c.checkPipelineStringRefs(ps, t, p, s) })
}

// checkPipelineStringRefs checks $(params.x) and $(tasks.t.results.r)
// references in a string of pipeline t (nil for pipeline results).
func (c *checker) checkPipelineStringRefs(ps pipelineScope, t *model.PipelineTask, path model.Path, s string) {
	for _, r := range findRefs(s) {
		switch r.Kind {
		case "params":
			declared := make([]string, 0, len(ps.p.Params))
			for _, p := range ps.p.Params {
				declared = append(declared, p.Name)
			}
			if name, ok := paramName(r.Parts, func(n string) bool { return ps.p.Param(n) != nil }); !ok {
				c.unknownRef(path, r, "parameter", name, declared, fmt.Sprintf("pipeline %q", ps.p.Name),
					fmt.Sprintf("declare it: pipelines.%s.params: %q: {}", ps.p.Name, name))
			}
		case "steps", "step":
			if slices.Contains(r.Parts, "results") {
				d := c.report(ruleStepResult, path, "%s reads a step result in a pipeline, which Tekton substitutes only inside the task", r.Raw)
				d.Expected = "a task result: $(tasks.<task>.results.<name>)"
				d.Hint = "declare a task result that takes the step's: results: <name>: value: \"$(steps.<step>.results.<name>)\""
			}
		case "finally":
			// $(finally.<task>.results.<name>): only pipeline results read
			// the results of finally tasks.
			if len(r.Parts) < 3 || r.Parts[1] != "results" {
				continue
			}
			name := r.Parts[0]
			producer := ps.finally[name]
			if t != nil {
				d := c.report(ruleResult, path, "%s: task %q reads a result of a finally task", r.Raw, t.Name)
				d.Expected = "results of finally tasks only in the pipeline's results"
				d.Hint = "finally tasks run after every other task; read the result in pipelines.<name>.results"
				continue
			}
			if producer == nil {
				c.unknownRef(path, r, "finally task", name, sortedKeys(ps.finally), fmt.Sprintf("pipeline %q", ps.p.Name), "")
				continue
			}
			if def := c.plan.Definition(producer); def != nil && def.Result(r.Parts[2]) == nil {
				c.unknownRef(path, ref{Raw: r.Raw}, "result", r.Parts[2], resultNames(def.Results), fmt.Sprintf("task %q", producer.Name),
					fmt.Sprintf("declare it in the results of task %q", def.Name))
			}
		case "tasks":
			if len(r.Parts) < 2 {
				continue
			}
			name := r.Parts[0]
			if name == "status" && len(r.Parts) == 1 {
				continue
			}
			if r.Parts[1] == "status" || r.Parts[1] == "reason" {
				if t != nil && !t.Finally {
					d := c.report(ruleResult, path, "%s can only be used in finally tasks", r.Raw)
					d.Hint = "move the task to finally"
				}
				if ps.tasks[name] == nil {
					c.unknownRef(path, r, "task", name, sortedKeys(ps.tasks), fmt.Sprintf("pipeline %q", ps.p.Name), "")
				}
				continue
			}
			if r.Parts[1] != "results" {
				continue
			}
			producer := ps.tasks[name]
			if producer == nil && (t == nil) {
				producer = ps.finally[name]
			}
			if producer == nil {
				names := sortedKeys(ps.tasks)
				hint := ""
				if ps.finally[name] != nil {
					hint = "results of finally tasks can only be used in pipeline results"
				}
				c.unknownRef(path, r, "task", name, names, fmt.Sprintf("pipeline %q", ps.p.Name), hint)
				continue
			}
			if t != nil && producer == t {
				d := c.report(ruleResult, path, "task %q uses its own result %s", t.Name, r.Raw)
				d.Hint = "a task cannot consume its own result; use $(results.<name>.path) inside its steps"
				continue
			}
			if len(r.Parts) < 3 {
				continue
			}
			def := c.plan.Definition(producer)
			if def == nil {
				continue
			}
			if def.Result(r.Parts[2]) == nil {
				c.unknownRef(path, ref{Raw: r.Raw}, "result", r.Parts[2], resultNames(def.Results), fmt.Sprintf("task %q", producer.Name),
					fmt.Sprintf("declare it in the results of task %q", def.Name))
			}
		}
	}
}

// resultDeps lists the tasks whose results t consumes.
func resultDeps(t *model.PipelineTask) []string {
	var strs []string
	for _, a := range t.Params {
		strs = append(strs, valueStrings(a.Value)...)
	}
	for _, w := range t.When {
		strs = append(strs, w.Input)
		strs = append(strs, w.Values...)
	}
	if t.Matrix != nil {
		for _, a := range t.Matrix.Params {
			strs = append(strs, valueStrings(a.Value)...)
		}
		for _, inc := range t.Matrix.Include {
			for _, a := range inc.Params {
				strs = append(strs, valueStrings(a.Value)...)
			}
		}
	}
	var out []string
	for _, s := range strs {
		for _, r := range findRefs(s) {
			if r.Kind == "tasks" && len(r.Parts) >= 2 && r.Parts[1] == "results" {
				out = append(out, r.Parts[0])
			}
		}
	}
	return out
}

// checkPipelineName checks a pipeline's name as Tekton does: a DNS-1123
// subdomain of at most 63 characters (so dots may separate DNS labels,
// as in Tekton's "demo.pipeline"). The names pipec derives from it stay
// valid: its ServiceAccounts ("<name>-pipeline", "<name>-fork"), Role
// and RoleBinding ("pipec-pipeline-<name>") are subdomains of at most 253
// characters; its TriggerTemplates and Triggers ("<name>", "<name>-fork",
// "<name>-<event>") are subdomains, whose length Tekton Triggers limits to
// 63 as it does the pipeline's; the pipeline label values
// (tekton.dev/pipeline, the Triggers' name label) allow dots.
func (c *checker) checkPipelineName(p *model.Pipeline) {
	if len(p.Name) <= 63 && len(validation.IsDNS1123Subdomain(p.Name)) == 0 {
		return
	}
	msg := fmt.Sprintf("invalid pipeline name %q", p.Name)
	if len(p.Name) > 63 {
		msg = fmt.Sprintf("pipeline name %q is %d characters long", p.Name, len(p.Name))
	}
	d := c.report(ruleName, p.Path, "%s", msg)
	d.Expected = "a DNS subdomain of at most 63 characters: lower-case letters, digits, '-' and '.', each '.'-separated part starting and ending with a letter or digit"
	d.Hint = fmt.Sprintf("rename it, for example to %q", suggestSubdomain(p.Name))
}

// suggestSubdomain derives a valid pipeline name (a DNS subdomain of at
// most 63 characters) from name, keeping its dots between parts.
func suggestSubdomain(name string) string {
	var parts []string
	for _, part := range strings.Split(name, ".") {
		if s := labelChars(part); s != "" {
			parts = append(parts, s)
		}
	}
	s := strings.Join(parts, ".")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-.")
	}
	if s == "" {
		s = "pipeline"
	}
	return s
}
