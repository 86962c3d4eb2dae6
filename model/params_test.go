package model

import (
	"slices"
	"testing"
)

// TestPipelineStepImages: every value that reaches an image's parameters
// is tried, at the value that introduces it; values known only at run
// time are not.
func TestPipelineStepImages(t *testing.T) {
	str := func(s string) Value { return Value{Type: TypeString, String: s} }
	step := &Step{Image: "golang:$(params.version)"}
	def := &TaskDef{Params: []*Param{{Name: "version", Type: TypeString, Default: &Value{Type: TypeString, String: "1.24"}, Path: "tasks.go.params.version"}}}
	p := &Pipeline{
		Params: []*Param{{Name: "go-version", Type: TypeString, Default: &Value{Type: TypeString, String: "1.25"}, Path: "pipelines.b.params.go-version"}},
		On: &On{Params: []*Arg{
			{Name: "go-version", Value: str("latest"), Path: "pipelines.b.on.params.go-version"},
			{Name: "go-version", Value: str("$(event.tag)"), Path: "pipelines.b.on.params.go-version-event"},
		}},
	}
	task := &PipelineTask{Params: []*Arg{{Name: "version", Value: str("$(params.go-version)"), Path: "pipelines.b.tasks.t.params.version"}}}
	got := PipelineStepImages(p, task, def, step)
	want := []ImageCandidate{
		{Image: "golang:1.25", Path: "pipelines.b.params.go-version.default"},
		{Image: "golang:latest", Path: "pipelines.b.on.params.go-version"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("passed through a pipeline parameter: got %v, want %v", got, want)
	}

	// An embedded task reads the pipeline's parameter directly.
	inline := &TaskDef{Params: []*Param{}}
	task = &PipelineTask{Inline: inline}
	got = PipelineStepImages(p, task, inline, &Step{Image: "golang:$(params.go-version)"})
	if !slices.Equal(got, want) {
		t.Errorf("propagated to an embedded task: got %v, want %v", got, want)
	}

	// A value passed from a result is known at run time only.
	task = &PipelineTask{Params: []*Arg{{Name: "version", Value: str("$(tasks.a.results.v)"), Path: "x"}}}
	if got := PipelineStepImages(p, task, def, step); len(got) != 0 {
		t.Errorf("a result: got %v, want none (the task's default is checked with the task)", got)
	}
}
