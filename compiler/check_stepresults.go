package compiler

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

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
		// in is where the string is: step results are substituted in a
		// later step's env, command, args and when, and a script is
		// validated by Tekton against the step's own results.
		const (
			other = iota
			script
			substituted
		)
		check := func(p model.Path, v string, in int) {
			for _, r := range findRefs(v) {
				switch {
				case r.Kind == "step" && len(r.Parts) >= 2 && r.Parts[0] == "results" && s.Ref == nil:
					if !slices.ContainsFunc(s.Results, func(x *model.Result) bool { return x.Name == r.Parts[1] }) {
						c.unknownRef(p, r, "result", r.Parts[1], resultNames(s.Results), fmt.Sprintf("step %q", s.Name),
							fmt.Sprintf("declare it in the step's results: results: %s: {}", r.Parts[1]))
					}
				case r.Kind == "results" && len(s.Results) > 0 && in == script && len(r.Parts) > 0 &&
					!slices.ContainsFunc(s.Results, func(x *model.Result) bool { return x.Name == r.Parts[0] }):
					// Tekton's validation reads a script's $(results...) as
					// the step's own once the step declares results.
					d := c.report(ruleStepResult, p, "%s names a task result in the script of step %q, which declares results of its own", r.Raw, s.Name)
					d.Expected = "in a step with results, $(results.<name>.path) names one of them: " + diag.OneOf(resultNames(s.Results))
					d.Hint = fmt.Sprintf("take the task result from the step's: results: %s: value: \"$(steps.%s.results.<name>)\", or write it in another step", r.Parts[0], s.Name)
				case r.Kind == "steps" && len(r.Parts) >= 3 && r.Parts[1] == "results":
					if in != substituted {
						d := c.report(ruleStepResult, p, "%s reads a step result where Tekton does not substitute it", r.Raw)
						d.Expected = "step results only in a later step's env, command, args and when"
						d.Hint = fmt.Sprintf("pass it through env: env: RESULT: %q, and read $RESULT in the script", r.Raw)
						continue
					}
					c.checkStepResultRef(p, r, t, before, s)
				}
			}
		}
		check(s.Path.Field("image"), s.Image, other)
		check(s.Path.Field("script"), s.Script, script)
		check(s.Path.Field("workingDir"), s.WorkingDir, other)
		for i, a := range s.Command {
			check(s.Path.Field("command").Index(i), a, substituted)
		}
		for i, a := range s.Args {
			check(s.Path.Field("args").Index(i), a, substituted)
		}
		for _, e := range s.Env {
			check(e.Path, e.Value, substituted)
		}
		for _, a := range s.Params {
			eachString(a.Value, a.Path, func(p model.Path, v string) { check(p, v, substituted) })
		}
		for _, w := range s.When {
			check(w.Path.Field("input"), w.Input, substituted)
			for i, v := range w.Values {
				check(w.Path.Field("values").Index(i), v, substituted)
			}
		}
		before = append(before, s)
	}
	// Sidecars run beside the steps: Tekton substitutes no step result in
	// them.
	for _, s := range t.Sidecars {
		strs := map[model.Path]string{s.Path.Field("image"): s.Image, s.Path.Field("script"): s.Script, s.Path.Field("workingDir"): s.WorkingDir}
		for i, a := range s.Command {
			strs[s.Path.Field("command").Index(i)] = a
		}
		for i, a := range s.Args {
			strs[s.Path.Field("args").Index(i)] = a
		}
		for _, e := range s.Env {
			strs[e.Path] = e.Value
		}
		for _, p := range slices.Sorted(maps.Keys(strs)) {
			for _, r := range findRefs(strs[p]) {
				if (r.Kind == "steps" || r.Kind == "step") && slices.Contains(r.Parts, "results") {
					d := c.report(ruleStepResult, p, "%s: sidecar %q reads a step result, which Tekton substitutes only in steps", r.Raw, s.Name)
					d.Expected = "step results in a later step's env, command, args or when"
					d.Hint = "a sidecar starts before the steps; share data through a volume both mount"
				}
			}
		}
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

func resultNames(rs []*model.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}
