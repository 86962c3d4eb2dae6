package compiler

import (
	"github.com/pipec/pipec/model"
)

// checkPipelineRef checks a pipeline Tekton resolves when a run starts:
// it declares no tasks, finally tasks or results of its own (the remote
// pipeline has them), and its reference is checked as a task's is, for a
// pipeline. The pipeline itself only Tekton sees; that is said once.
func (c *checker) checkPipelineRef(ps pipelineScope) {
	p := ps.p
	errs := len(c.out)
	for _, f := range []struct {
		name string
		set  bool
	}{{"tasks", len(p.Tasks) > 0}, {"finally", len(p.Finally) > 0}, {"results", len(p.Results) > 0}} {
		if !f.set {
			continue
		}
		d := c.report(rulePipeline, p.Path.Field(f.name), "pipeline %q is resolved remotely (ref) and declares %s", p.Name, f.name)
		d.Expected = "a pipeline with ref, or one with tasks, not both"
		d.Hint = "the remote pipeline brings its own tasks, finally tasks and results; remove " + f.name + ", or remove ref to declare the pipeline here"
	}
	c.checkRef(p.Ref, "pipeline", func(path model.Path, s string) {
		c.checkPipelineStringRefs(ps, nil, path, s)
	})
	c.checkRefKindSet(p.Ref, "pipeline")
	if len(c.out) > errs {
		return // the note is for a reference that is right
	}
	d := c.report(ruleRemoteInfo, p.Ref.Path, "pipeline %q is resolved by Tekton's %s resolver when a run starts: pipec checks the reference and the params and workspaces declared here, not the pipeline (its tasks, params, workspaces, results and steps)", p.Name, p.Ref.Resolver)
	d.Hint = "declare under params and workspaces what the remote pipeline takes, for triggers to set; capacity checks count a run as one pod with defaults.step resources"
}
