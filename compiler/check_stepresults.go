package compiler

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// stepResultValueRE is a task result's value: one step's result, whole.
var stepResultValueRE = regexp.MustCompile(`^\$\(steps\.([^.()]+)\.results\.([^.()\[\]]+)\)$`)

// checkStepResults checks the results steps declare and what reads them:
// $(step.results.<r>.path) in the step that writes r; $(steps.<s>.results.<r>)
// in the env, command, args or when of a later step (where Tekton
// substitutes it); and a task result's value.
func (c *checker) checkStepResults(t *model.TaskDef) {
	// The stepTemplate's env is merged into each step that does not set
	// the variable itself: its step results are checked once, for the
	// task, after the steps (checkTemplateStepResults).
	tmplPrefix := string(t.Path.Field("stepTemplate")) + "."
	var tmplEnv []*model.EnvVar
	var before []*model.Step
	for _, s := range t.Steps {
		for _, r := range s.Results {
			c.checkResultName(r.Path, r.Name)
		}
		if s.Ref != nil && len(s.Results) > 0 {
			d := c.report(ruleStepResult, s.Results[0].Path, "step %q declares results but runs a StepAction", s.Name)
			d.Expected = "no results on a step with ref: the StepAction declares them"
			d.Hint = "remove results; later steps may read any result the StepAction writes"
		}
		check := func(p model.Path, v string, in stringField) {
			for _, r := range findRefs(v) {
				switch {
				case r.Kind == "step" && len(r.Parts) >= 2 && r.Parts[0] == "results" && s.Ref == nil:
					if !slices.ContainsFunc(s.Results, func(x *model.Result) bool { return x.Name == r.Parts[1] }) {
						c.unknownRef(p, r, "result", r.Parts[1], resultNames(s.Results), fmt.Sprintf("step %q", s.Name),
							fmt.Sprintf("declare it in the step's results: results: %s: {}", r.Parts[1]))
					}
				case r.Kind == "results" && len(s.Results) > 0 && in == scriptField && len(r.Parts) > 0 &&
					!slices.ContainsFunc(s.Results, func(x *model.Result) bool { return x.Name == r.Parts[0] }):
					// Tekton's validation reads a script's $(results...) as
					// the step's own once the step declares results.
					d := c.report(ruleStepResult, p, "%s names a task result in the script of step %q, which declares results of its own", r.Raw, s.Name)
					d.Expected = "in a step with results, $(results.<name>.path) names one of them: " + diag.OneOf(resultNames(s.Results))
					d.Hint = fmt.Sprintf("take the task result from the step's: results: %s: value: \"$(steps.%s.results.<name>)\", or write it in another step", r.Parts[0], s.Name)
				case r.Kind == "steps" && len(r.Parts) >= 3 && r.Parts[1] == "results":
					if strings.HasPrefix(string(p), tmplPrefix) {
						continue // the template's: checkTemplateStepResults
					}
					if in != substitutedField {
						d := c.report(ruleStepResult, p, "%s reads a step result where Tekton does not substitute it", r.Raw)
						d.Expected = "step results only in a later step's env, command, args and when"
						d.Hint = fmt.Sprintf("pass it through env: env: RESULT: %q, and read $RESULT in the script", r.Raw)
						continue
					}
					c.checkStepResultRef(p, r, t, before, s)
				}
			}
		}
		eachContainerString(s, check)
		for _, e := range s.Env {
			if strings.HasPrefix(string(e.Path), tmplPrefix) && !slices.Contains(tmplEnv, e) {
				tmplEnv = append(tmplEnv, e)
			}
		}
		for _, a := range s.Params {
			eachString(a.Value, a.Path, func(p model.Path, v string) { check(p, v, substitutedField) })
		}
		for _, w := range s.When {
			check(w.Path.Field("input"), w.Input, substitutedField)
			for i, v := range w.Values {
				check(w.Path.Field("values").Index(i), v, substitutedField)
			}
		}
		before = append(before, s)
	}
	c.checkTemplateStepResults(t, tmplEnv)
	// Sidecars run beside the steps: Tekton substitutes no step result in
	// them.
	for _, s := range t.Sidecars {
		eachContainerString(s, func(p model.Path, v string, _ stringField) {
			for _, r := range findRefs(v) {
				if (r.Kind == "steps" || r.Kind == "step") && slices.Contains(r.Parts, "results") {
					d := c.report(ruleStepResult, p, "%s: sidecar %q reads a step result, which Tekton substitutes only in steps", r.Raw, s.Name)
					d.Expected = "step results in a later step's env, command, args or when"
					d.Hint = "a sidecar starts before the steps; share data through a volume both mount"
				}
			}
		})
	}
	for _, r := range t.Results {
		if r.Value == "" {
			continue
		}
		p := r.Path.Field("value")
		m := stepResultValueRE.FindStringSubmatch(r.Value)
		if m == nil {
			d := c.report(ruleStepResult, p, "result %q takes its value from %q, which is not a step result", r.Name, r.Value)
			d.Expected = `one step's result, whole: "$(steps.<step>.results.<name>)"`
			d.Hint = "or drop value and write the result to $(results." + r.Name + ".path) in a step"
			continue
		}
		c.checkStepResultRef(p, ref{Raw: r.Value, Kind: "steps", Parts: []string{m[1], "results", m[2]}}, t, t.Steps, nil)
	}
}

// checkStepResultRef checks $(steps.<s>.results.<r>): s is one of the
// steps run before, and declares r unless it runs a StepAction, whose
// results pipec cannot see.
func (c *checker) checkStepResultRef(p model.Path, r ref, t *model.TaskDef, before []*model.Step, in *model.Step) {
	name, result := r.Parts[0], r.Parts[2]
	i := slices.IndexFunc(before, func(x *model.Step) bool { return x.Name == name })
	if i < 0 {
		var names []string // the steps it may read, and those after
		for _, x := range t.Steps {
			if in == nil || x != in {
				names = append(names, x.Name)
			}
		}
		switch {
		case in != nil && in.Name == name:
			d := c.report(ruleStepResult, p, "%s reads a result of step %q in that step", r.Raw, name)
			d.Expected = "a result of a step that runs before"
			d.Hint = fmt.Sprintf("inside the step, use the file it writes: $(step.results.%s.path)", result)
		case slices.Contains(names, name):
			d := c.report(ruleStepResult, p, "%s reads a result of step %q, which runs after it", r.Raw, name)
			d.Expected = "a result of a step that runs before"
			d.Hint = "steps run in order: move the step that writes the result first"
		default:
			c.unknownRef(p, r, "step", name, names, fmt.Sprintf("task %q", t.Name), "name a step of the task")
		}
		return
	}
	s := before[i]
	if s.Ref != nil || slices.ContainsFunc(s.Results, func(x *model.Result) bool { return x.Name == result }) {
		return
	}
	c.unknownRef(p, r, "result", result, resultNames(s.Results), fmt.Sprintf("step %q", s.Name),
		fmt.Sprintf("declare it in the results of step %q", s.Name))
}

// checkTemplateStepResults checks the step results the env of a task's
// stepTemplate reads. Tekton merges the template into every step that
// does not set the variable itself, the step that writes the result and
// those before it included, where the reference cannot be resolved. Each
// is reported once, at the template, naming those steps: one finding per
// step would repeat one mistake, with hints (use $(step.results...) in
// the step, move the step first) that fit a step's own env, not a
// template.
func (c *checker) checkTemplateStepResults(t *model.TaskDef, env []*model.EnvVar) {
	var names []string
	for _, s := range t.Steps {
		names = append(names, s.Name)
	}
	for _, e := range env {
		for _, r := range findRefs(e.Value) {
			if r.Kind != "steps" || len(r.Parts) < 3 || r.Parts[1] != "results" {
				continue
			}
			name, result := r.Parts[0], r.Parts[2]
			w := slices.IndexFunc(t.Steps, func(x *model.Step) bool { return x.Name == name })
			if w < 0 {
				c.unknownRef(e.Path, r, "step", name, names, fmt.Sprintf("task %q", t.Name), "name a step of the task")
				continue
			}
			writer := t.Steps[w]
			var early []string // steps before the writer that get the variable
			for _, x := range t.Steps[:w] {
				if slices.Contains(x.Env, e) {
					early = append(early, x.Name)
				}
			}
			own := slices.Contains(writer.Env, e)
			if own || len(early) > 0 {
				var reach string
				switch {
				case own && len(early) > 0:
					reach = fmt.Sprintf("step %q, which writes the result, and %s, which %s before it", name, quoteAnd(early), runs(early))
				case own:
					reach = fmt.Sprintf("step %q, which writes the result", name)
				default:
					reach = fmt.Sprintf("%s, which %s before step %q that writes it", quoteAnd(early), runs(early), name)
				}
				d := c.report(ruleStepResult, e.Path, "%s is read in the task's stepTemplate, whose values reach every step, including %s", r.Raw, reach)
				d.Expected = "a result of a step that runs before each step that reads it"
				if w+1 < len(t.Steps) {
					d.Hint = fmt.Sprintf("set %s on the steps after %q instead of in stepTemplate: env: %s: %q", e.Name, name, e.Name, r.Raw)
				} else {
					d.Hint = fmt.Sprintf("remove it from stepTemplate: no step runs after %q to read it", name)
				}
			}
			if writer.Ref == nil && !slices.ContainsFunc(writer.Results, func(x *model.Result) bool { return x.Name == result }) {
				c.unknownRef(e.Path, r, "result", result, resultNames(writer.Results), fmt.Sprintf("step %q", name),
					fmt.Sprintf("declare it in the results of step %q", name))
			}
		}
	}
}

// quoteAnd formats names as `steps "a", "b" and "c"` (`step "a"` for one).
func quoteAnd(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "step " + q[0]
	}
	return "steps " + strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// runs is the verb "run" agreeing with a number of steps.
func runs(names []string) string {
	if len(names) == 1 {
		return "runs"
	}
	return "run"
}

func resultNames(rs []*model.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}
