package model

import (
	"slices"
	"testing"
)

func TestSkippedOnPullRequests(t *testing.T) {
	guard := SigningRunsOnly("")
	p := &Pipeline{Gates: &Gates{Sign: &Sign{}}}
	for _, c := range []struct {
		name string
		when []*When
		want bool
	}{
		{"pipec's guard", []*When{guard}, true},
		{"none", nil, false},
		{"in, with pull-request", []*When{{Input: guard.Input, Operator: "in", Values: []string{"push", EventPullRequest}}}, false},
		{"in, with a variable that may be pull-request", []*When{{Input: guard.Input, Operator: "in", Values: []string{"$(params.kind)"}}}, false},
		{"notin pull-request", []*When{{Input: guard.Input, Operator: "notin", Values: []string{EventPullRequest}}}, true},
		{"notin tag", []*When{{Input: guard.Input, Operator: "notin", Values: []string{EventTag}}}, false},
		{"another parameter", []*When{{Input: "$(params.other)", Operator: "in", Values: []string{"push"}}}, false},
		{"CEL", []*When{{CEL: "'$(params.pipec-trigger)' == 'push'"}}, false},
	} {
		if got := p.SkippedOnPullRequests(&PipelineTask{When: c.when}); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Without gates that sign, nothing declares or sets the parameter.
	if (&Pipeline{}).SkippedOnPullRequests(&PipelineTask{When: []*When{guard}}) {
		t.Error("a pipeline without gates skips a task on pull requests")
	}
}

func TestSkippedBy(t *testing.T) {
	def := Value{Type: TypeString, String: ManualRun}
	p := &Pipeline{
		Params: []*Param{{Name: TriggerParam, Type: TypeString, Default: &def}},
		Tasks: []*PipelineTask{
			{Name: "build"},
			{Name: "sign-image", When: []*When{SigningRunsOnly("")}},
			{Name: "preview", When: []*When{{Input: "$(params.pr-number)", Operator: "notin", Values: []string{""}}}},
			{Name: "by-result", When: []*When{{Input: "$(tasks.build.results.ok)", Operator: "in", Values: []string{"yes"}}}},
		},
	}
	for _, c := range []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{TriggerParam: EventPush, "pr-number": ""}, []string{"preview"}},
		{map[string]string{TriggerParam: EventPullRequest, "pr-number": "7"}, []string{"sign-image"}},
		// A manual run gets the default, and signs; pr-number has no
		// value and no default, so its when is not evaluated.
		{map[string]string{}, nil},
	} {
		if got := p.SkippedBy(c.params); !slices.Equal(got, c.want) {
			t.Errorf("params %v: skipped %v, want %v", c.params, got, c.want)
		}
	}
}
