package tekton

import (
	"context"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/targets"
)

// Pipelines whose gates are set up alike embed the same gate task specs
// (gates.go), but the pipelines differ, so validating each pipeline once
// per distinct spec (targets.Once) would still read every gate spec again:
// Tekton's validation compiles a regular expression for every string it
// checks, and the gates' scripts made it 46% of a 100-service build.
//
// splitGates splits such a pipeline for validation into parts Tekton
// validates on their own: the pipeline with each gate task's spec replaced
// by a reference to it (a taskRef named after the task), and for each
// gate task a pipeline of that task alone, with its spec, its workspaces
// and a placeholder for each parameter. Each part is a pipeline Tekton
// validates as it would any other; a pipeline whose parts all pass passes
// whole (TestSplitGatesAgreesWithTekton), and any part with a finding
// sends the pipeline to Tekton's whole validation, whose findings are the
// ones reported. Only the tasks pipec generates (LabelGate) are split off:
// their specs declare every parameter they read and refer to no other
// task, which the parts would refuse.
func splitGates(p *v1.Pipeline) (rest *v1.Pipeline, gates []*v1.Pipeline) {
	for i, t := range p.Spec.Tasks {
		if t.TaskSpec == nil || t.TaskSpec.Metadata.Labels[LabelGate] == "" {
			continue
		}
		part := gatePart(t)
		if part == nil {
			continue
		}
		if rest == nil {
			rest = p.DeepCopy()
		}
		rest.Spec.Tasks[i].TaskSpec = nil
		rest.Spec.Tasks[i].TaskRef = &v1.TaskRef{Name: t.Name}
		gates = append(gates, part)
	}
	return rest, gates
}

// gatePart is the pipeline of t alone, or nil when a parameter of t is not
// a string.
func gatePart(t v1.PipelineTask) *v1.Pipeline {
	part := &v1.Pipeline{Spec: v1.PipelineSpec{Tasks: []v1.PipelineTask{{
		Name:       t.Name,
		TaskSpec:   t.TaskSpec,
		Workspaces: t.Workspaces,
	}}}}
	part.Name = "gate"
	for _, p := range t.Params {
		if p.Value.Type != v1.ParamTypeString {
			return nil
		}
		part.Spec.Tasks[0].Params = append(part.Spec.Tasks[0].Params, v1.Param{Name: p.Name, Value: *v1.NewStructuredValues("x")})
	}
	seen := map[string]bool{}
	for _, w := range t.Workspaces {
		if w.Workspace != "" && !seen[w.Workspace] {
			seen[w.Workspace] = true
			part.Spec.Workspaces = append(part.Spec.Workspaces, v1.PipelineWorkspaceDeclaration{Name: w.Workspace})
		}
	}
	return part
}

// accepts reports whether Tekton's defaulting and validation of p (a copy)
// find nothing, not even a warning: a part with any finding sends the
// pipeline to the whole validation, which reports it.
func accepts(ctx context.Context, p *v1.Pipeline) bool {
	return targets.DefaultAndValidate(apis.WithinCreate(ctx), p.DeepCopy()) == nil
}

// gatesAccepted validates each gate part once per distinct spec and
// reports whether all passed.
func gatesAccepted(ctx context.Context, once *targets.Once, kind string, gates []*v1.Pipeline) bool {
	rejected := diag.List{{Severity: diag.Error, Message: "rejected"}}
	for _, g := range gates {
		ds := once.Validate(kind+" gate", &g.Spec, func() diag.List {
			if accepts(ctx, g) {
				return nil
			}
			return rejected
		}, func() diag.List { return nil })
		if len(ds) > 0 {
			return false
		}
	}
	return true
}

// canonicalLiterals replaces, in spec, the literal text Tekton's
// validation reads only around variable references by one placeholder,
// and reports whether it changed anything: in the parameters of tasks
// referenced by name (whose parameters the validation cannot see),
// workspace subpaths and descriptions, a string without "$", or the text
// before a string's first "$". Pipelines stamped from one template differ
// mostly in such literals (a service's directory, its image's
// repository): their canonical forms are validated once (targets.Once).
// Tekton's validation refuses a canonical form exactly when it refuses the
// pipeline, at the same paths (TestCanonicalLiteralsAgreeWithTekton); a
// refused canonical form sends the pipeline to the whole validation, for
// the findings to report.
func canonicalLiterals(spec *v1.PipelineSpec) bool {
	changed := false
	set := func(s *string) {
		if c := canonical(*s); c != *s {
			*s, changed = c, true
		}
	}
	set(&spec.Description)
	for _, list := range [][]v1.PipelineTask{spec.Tasks, spec.Finally} {
		for i := range list {
			t := &list[i]
			set(&t.Description)
			for j := range t.Workspaces {
				set(&t.Workspaces[j].SubPath)
			}
			if t.TaskRef == nil || t.TaskSpec != nil {
				continue
			}
			for j := range t.Params {
				if t.Params[j].Value.Type == v1.ParamTypeString {
					set(&t.Params[j].Value.StringVal)
				}
			}
		}
	}
	return changed
}

// canonical is s with its text before the first "$", or all of it when it
// has none, replaced by placeholder; "" stays "".
func canonical(s string) string {
	i := strings.IndexByte(s, '$')
	switch {
	case s == "" || i == 0:
		return s
	case i < 0:
		return placeholder
	}
	return placeholder + s[i:]
}

// placeholder stands for literal text in canonicalLiterals.
const placeholder = "x"
