package argo_test

import (
	"testing"

	tektonv1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/model"
)

// TestPreviewTestRunNeverSigns: a preview's test run executes the pull
// request's code, so when its pipeline's gates sign, the run says it is a
// pull request's (pipec-trigger), and the sign task's when expression
// skips it; a test pipeline without gates gets no such parameter.
func TestPreviewTestRunNeverSigns(t *testing.T) {
	for file, want := range map[string]string{
		"testdata/build/preview_test_gated.txtar":  model.EventPullRequest,
		"testdata/build/preview_gitlab_helm.txtar": "",
	} {
		res, err := targettest.Build(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		runs := 0
		for _, o := range res.Objects {
			run, ok := o.Value.(*tektonv1.PipelineRun)
			if !ok {
				continue
			}
			runs++
			got := ""
			for _, p := range run.Spec.Params {
				if p.Name == model.TriggerParam {
					got = p.Value.StringVal
				}
			}
			if got != want {
				t.Errorf("%s: test PipelineRun %s sets %s to %q, want %q", file, run.Name, model.TriggerParam, got, want)
			}
		}
		if runs != 1 {
			t.Errorf("%s: %d test PipelineRuns, want 1", file, runs)
		}
	}
}
