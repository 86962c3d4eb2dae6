package tekton_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/tekton"
)

var (
	splitGates        = tekton.SplitGates
	accepts           = tekton.Accepts
	canonicalLiterals = tekton.CanonicalLiterals
)

const LabelGate = tekton.LabelGate

// TestSplitGatesAgreesWithTekton holds what validating a pipeline's gate
// tasks on their own rests on (splitGates): whenever the parts all pass,
// Tekton's whole validation of the pipeline passes too. It splits every
// gated Pipeline the build cases generate, and each again with its gate
// tasks or the tasks around them broken in the ways a split could hide
// (a gate spec reading what only the pipeline declares, another task's
// result, a result the gate does not have, a missing parameter, a bad
// workspace binding, a bad step), and compares with Tekton's validation
// of the whole. The generated pipelines must also take the fast path.
func TestSplitGatesAgreesWithTekton(t *testing.T) {
	ctx := context.Background()
	files, _ := filepath.Glob("testdata/build/*gates*.txtar")
	examples, _ := filepath.Glob("../../examples/*")
	split := 0
	for _, file := range append(files, examples...) {
		var objs []targets.Object
		if strings.HasSuffix(file, ".txtar") {
			res, err := targettest.Build(file)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			objs = res.Objects
		} else {
			res, err := compiler.Build(ctx, compiler.Options{Dir: file})
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			objs = res.Objects
		}
		for _, o := range objs {
			p, ok := o.Value.(*v1.Pipeline)
			if !ok {
				continue
			}
			rest, gates := splitGates(p)
			if rest == nil {
				continue
			}
			split++
			if !partsAccepted(ctx, rest, gates) {
				t.Errorf("%s: pipeline %s: its parts do not pass on their own, so its validation takes the slow path", file, p.Name)
			}
			for name, mutate := range gateMutations {
				m := p.DeepCopy()
				if !mutate(m) {
					continue
				}
				whole := accepts(ctx, m)
				rest, gates := splitGates(m)
				if rest == nil {
					continue
				}
				if parts := partsAccepted(ctx, rest, gates); parts && !whole {
					t.Errorf("%s: pipeline %s %s: its parts pass on their own, but Tekton refuses the whole pipeline", file, p.Name, name)
				}
			}
		}
	}
	if split < 6 {
		t.Fatalf("split %d gated pipelines, want at least 6: the build cases and examples lost their gates", split)
	}
}

func partsAccepted(ctx context.Context, rest *v1.Pipeline, gates []*v1.Pipeline) bool {
	if !accepts(ctx, rest) {
		return false
	}
	for _, g := range gates {
		if !accepts(ctx, g) {
			return false
		}
	}
	return true
}

// gateMutations break a gated pipeline; each reports whether it applied.
var gateMutations = map[string]func(*v1.Pipeline) bool{
	"gate step reads an undeclared parameter": onGate(func(pt *v1.PipelineTask) {
		pt.TaskSpec.Steps[0].Script = "echo $(params.nope)"
	}),
	"gate step reads a pipeline parameter": func(p *v1.Pipeline) bool {
		if len(p.Spec.Params) == 0 {
			return false
		}
		return onGate(func(pt *v1.PipelineTask) {
			pt.TaskSpec.Steps[0].Script = "echo $(params." + p.Spec.Params[0].Name + ")"
		})(p)
	},
	"gate step reads another task's result": onGate(func(pt *v1.PipelineTask) {
		pt.TaskSpec.Steps[0].Script = "echo $(tasks.build.results.IMAGE_DIGEST)"
	}),
	"gate step reads a context variable": onGate(func(pt *v1.PipelineTask) {
		pt.TaskSpec.Steps[0].Script = "echo $(context.pipelineRun.nope)"
	}),
	"a task reads a result the gate does not have": func(p *v1.Pipeline) bool {
		for _, pt := range p.Spec.Tasks {
			if pt.TaskSpec != nil && pt.TaskSpec.Metadata.Labels[LabelGate] != "" {
				p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
					Name: "reader", TaskRef: &v1.TaskRef{Name: "reader"},
					Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("$(tasks." + pt.Name + ".results.nope)")}},
				})
				return true
			}
		}
		return false
	},
	"a pipeline result reads a result the gate does not have": func(p *v1.Pipeline) bool {
		var name string
		onGate(func(pt *v1.PipelineTask) { name = pt.Name })(p)
		p.Spec.Results = append(p.Spec.Results, v1.PipelineResult{Name: "nope", Value: *v1.NewStructuredValues("$(tasks." + name + ".results.nope)")})
		return name != ""
	},
	"gate parameter missing": onGate(func(pt *v1.PipelineTask) { pt.Params = pt.Params[:len(pt.Params)-1] }),
	"gate parameter undeclared": onGate(func(pt *v1.PipelineTask) {
		pt.Params = append(pt.Params, v1.Param{Name: "extra", Value: *v1.NewStructuredValues("x")})
	}),
	"gate workspace bound to nothing": onGate(func(pt *v1.PipelineTask) {
		pt.Workspaces = append(pt.Workspaces, v1.WorkspacePipelineTaskBinding{Name: "source", Workspace: "nope"})
	}),
	"gate step badly named": onGate(func(pt *v1.PipelineTask) { pt.TaskSpec.Steps[0].Name = "Bad_Name" }),
	"gate steps share a name": onGate(func(pt *v1.PipelineTask) {
		pt.TaskSpec.Steps = append(pt.TaskSpec.Steps, pt.TaskSpec.Steps[0])
	}),
	"gate result badly named": onGate(func(pt *v1.PipelineTask) {
		pt.TaskSpec.Results = append(pt.TaskSpec.Results, v1.TaskResult{Name: "Bad Name"})
	}),
	"gate task runs after a task that does not exist": onGate(func(pt *v1.PipelineTask) {
		pt.RunAfter = append(pt.RunAfter, "nope")
	}),
	"gate task's kind is wrong": onGate(func(pt *v1.PipelineTask) { pt.TaskSpec.Kind = "Pipeline" }),
}

// onGate returns a mutation of the first gate task of a pipeline.
func onGate(f func(*v1.PipelineTask)) func(*v1.Pipeline) bool {
	return func(p *v1.Pipeline) bool {
		for i := range p.Spec.Tasks {
			if pt := &p.Spec.Tasks[i]; pt.TaskSpec != nil && pt.TaskSpec.Metadata.Labels[LabelGate] != "" {
				f(pt)
				return true
			}
		}
		return false
	}
}

// TestGatesValidatedOnce holds the point of splitGates: pipelines that
// differ but whose gates are set up alike get their gate specs validated
// once.
func TestGatesValidatedOnce(t *testing.T) {
	res, err := targettest.Build("testdata/build/gates_trivy_key.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var p *v1.Pipeline
	for _, o := range res.Objects {
		if q, ok := o.Value.(*v1.Pipeline); ok && q.Spec.Tasks != nil {
			if rest, _ := splitGates(q); rest != nil {
				p = q
				break
			}
		}
	}
	if p == nil {
		t.Fatal("no gated pipeline")
	}
	_, gates := splitGates(p)
	once := targets.NewOnce(context.Background())
	validated := 0
	for i := range 3 {
		q := p.DeepCopy()
		q.Spec.Description = strings.Repeat("x", i) // the pipelines differ
		_, gs := splitGates(q)
		for _, g := range gs {
			once.Validate("k gate", &g.Spec, func() diag.List { validated++; return nil }, func() diag.List { return nil })
		}
	}
	if validated != len(gates) {
		t.Errorf("validated %d gate specs for 3 pipelines of %d gates, want %d", validated, len(gates), len(gates))
	}
}

// TestCanonicalLiteralsAgreeWithTekton holds what validating pipelines by
// their canonical form rests on (canonicalLiterals): Tekton's validation
// accepts a pipeline exactly when it accepts its canonical form, and
// refuses both at the same paths. It checks every Pipeline the build cases and the examples
// generate, and each again broken in ways that involve the literals a
// canonical form replaces.
func TestCanonicalLiteralsAgreeWithTekton(t *testing.T) {
	ctx := context.Background()
	files, _ := filepath.Glob("testdata/build/*.txtar")
	examples, _ := filepath.Glob("../../examples/*")
	changed := 0
	for _, file := range append(files, examples...) {
		for _, p := range pipelinesOf(t, file) {
			for name, mutate := range literalMutations {
				m := p.DeepCopy()
				if !mutate(m) {
					continue
				}
				c := m.DeepCopy()
				if !canonicalLiterals(&c.Spec) {
					continue
				}
				changed++
				if got, want := errorPaths(ctx, c), errorPaths(ctx, m); got != want {
					t.Errorf("%s: pipeline %s %s: Tekton's validation of the canonical form says\n%s\nwant, as of the pipeline,\n%s", file, p.Name, name, got, want)
				}
			}
		}
	}
	if changed < 50 {
		t.Fatalf("compared %d canonical forms, want at least 50", changed)
	}
}

func pipelinesOf(t *testing.T, file string) []*v1.Pipeline {
	t.Helper()
	var objs []targets.Object
	if strings.HasSuffix(file, ".txtar") {
		res, err := targettest.Build(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objs = res.Objects
	} else {
		res, err := compiler.Build(context.Background(), compiler.Options{Dir: file})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objs = res.Objects
	}
	var out []*v1.Pipeline
	for _, o := range objs {
		if p, ok := o.Value.(*v1.Pipeline); ok {
			out = append(out, p)
		}
	}
	return out
}

// errorPaths are the paths of Tekton's validation errors (their messages
// may quote the value; a pipeline whose canonical form has errors is
// validated whole, for the findings to report).
func errorPaths(ctx context.Context, p *v1.Pipeline) string {
	fe := targets.DefaultAndValidate(apis.WithinCreate(ctx), p.DeepCopy())
	if fe == nil {
		return "accepted"
	}
	var out []string
	for _, e := range fe.WrappedErrors() {
		out = append(out, strings.Join(e.Paths, ","))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// literalMutations change a pipeline; each reports whether it applied.
var literalMutations = map[string]func(*v1.Pipeline) bool{
	"as generated": func(*v1.Pipeline) bool { return true },
	"with a literal description, subpath and parameter": func(p *v1.Pipeline) bool {
		p.Spec.Description = "a (literal) description"
		p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
			Name: "literal", TaskRef: &v1.TaskRef{Name: "t"}, Description: "literal",
			Params:     v1.Params{{Name: "x", Value: *v1.NewStructuredValues("(params.nope)")}, {Name: "y", Value: *v1.NewStructuredValues("")}},
			Workspaces: []v1.WorkspacePipelineTaskBinding{{Name: "w", Workspace: "nope", SubPath: "a/b"}},
		})
		return true
	},
	"with an unknown variable beside a literal": func(p *v1.Pipeline) bool {
		p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
			Name: "unknown", TaskRef: &v1.TaskRef{Name: "t"},
			Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("literal")}, {Name: "y", Value: *v1.NewStructuredValues("$(params.nope)")}},
		})
		return true
	},
	"with a bad task name and a literal": func(p *v1.Pipeline) bool {
		p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
			Name: "Bad_Name", TaskRef: &v1.TaskRef{Name: "t"},
			Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("literal")}},
		})
		return true
	},
	"with a literal for a parameter given twice": func(p *v1.Pipeline) bool {
		p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
			Name: "twice", TaskRef: &v1.TaskRef{Name: "t"},
			Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("a")}, {Name: "x", Value: *v1.NewStructuredValues("b")}},
		})
		return true
	},
	"with a literal subpath of an undeclared workspace": func(p *v1.Pipeline) bool {
		for i := range p.Spec.Tasks {
			if len(p.Spec.Tasks[i].Workspaces) > 0 {
				p.Spec.Tasks[i].Workspaces[0].Workspace = "nope"
				p.Spec.Tasks[i].Workspaces[0].SubPath = "dir"
				return true
			}
		}
		return false
	},
	"with literal text before variables": func(p *v1.Pipeline) bool {
		p.Spec.Params = append(p.Spec.Params, v1.ParamSpec{Name: "arr", Type: v1.ParamTypeArray})
		p.Spec.Tasks = append(p.Spec.Tasks, v1.PipelineTask{
			Name: "prefixed", TaskRef: &v1.TaskRef{Name: "t"},
			Params: v1.Params{
				{Name: "a", Value: *v1.NewStructuredValues("repo:$(params.nope)")},
				{Name: "b", Value: *v1.NewStructuredValues("a$(params.arr[*])")},
				{Name: "c", Value: *v1.NewStructuredValues("$(params.arr[*])")},
				{Name: "d", Value: *v1.NewStructuredValues("x$(params.arr)")},
				{Name: "e", Value: *v1.NewStructuredValues("pre $(context.pipelineRun.nope) $")},
			},
		})
		return true
	},
	"with a literal in a finally task": func(p *v1.Pipeline) bool {
		p.Spec.Finally = append(p.Spec.Finally, v1.PipelineTask{
			Name: "final", TaskRef: &v1.TaskRef{Name: "t"},
			Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("literal")}, {Name: "y", Value: *v1.NewStructuredValues("$(tasks.nope.results.r)")}},
		})
		return true
	},
}
