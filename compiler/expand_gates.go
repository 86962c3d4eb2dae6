package compiler

import (
	"slices"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/tekton"
)

// expandGates adds to each pipeline with gates the gate tasks
// (targets/tekton's GateTasks) after its build task, and makes every other
// task that reads the build task's results (the deploy tasks of
// image.fromPipeline among them) or runs after it run after the gates: nothing uses an
// image before it passed them. A pipeline whose build task cannot be
// found is left for the checks to report.
func expandGates(plan *model.Plan) {
	for _, p := range plan.Pipelines {
		if p.Gates == nil {
			continue
		}
		if s := p.Gates.Sign; s != nil && s.Keyless != nil && s.Keyless.Subject == "" && plan.Namespace != "" {
			s.Keyless.Subject = model.ServiceAccountIdentity(plan.Namespace, p.ServiceAccount())
		}
		build := plan.GateBuild(p)
		if build == "" {
			continue
		}
		gates := tekton.GateTasks(plan, p, build)
		if len(gates) == 0 {
			continue
		}
		names := make([]string, len(gates))
		for i, g := range gates {
			names[i] = g.Name
		}
		// Every task that reads the build's results or runs after it
		// waits on the gates too; the tasks that depend on those wait on
		// them in turn. Finally tasks reading the build's results are
		// refused by the checks (they run whatever the gates found).
		for _, t := range p.Tasks {
			if t.Name != build && (readsResults(t, build) || slices.Contains(t.After, build)) {
				for _, n := range names {
					if !slices.Contains(t.After, n) {
						t.After = append(t.After, n)
					}
				}
			}
		}
		p.Tasks = append(p.Tasks, gates...)
	}
}

// readsResults reports whether a task's params, when expressions or matrix
// read a result of the task named build.
func readsResults(t *model.PipelineTask, build string) bool {
	var vals []string
	for _, a := range t.Params {
		vals = append(vals, a.Value.String)
		vals = append(vals, a.Value.Array...)
		for _, v := range a.Value.Object {
			vals = append(vals, v)
		}
	}
	for _, w := range t.When {
		vals = append(vals, w.Input, w.CEL)
		vals = append(vals, w.Values...)
	}
	for _, v := range vals {
		for _, r := range findRefs(v) {
			if r.Kind == "tasks" && len(r.Parts) > 0 && r.Parts[0] == build {
				return true
			}
		}
	}
	return false
}
