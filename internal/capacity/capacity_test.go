package capacity

import (
	"slices"
	"testing"

	"github.com/pipec/pipec/model"
)

func step(cpu, mem string) *model.Step {
	return &model.Step{Resources: model.Resources{Requests: map[string]string{"cpu": cpu, "memory": mem}}}
}

func task(name string, cpu string, deps ...string) *model.PipelineTask {
	return &model.PipelineTask{Name: name, Deps: deps, Inline: &model.TaskDef{Steps: []*model.Step{step(cpu, "1Gi"), step("100m", "128Mi")}}}
}

func TestRunPeakDiamond(t *testing.T) {
	// clone -> (lint, test) -> build: lint and test run together.
	p := &model.Pipeline{Tasks: []*model.PipelineTask{
		task("clone", "100m"),
		task("lint", "1", "clone"),
		task("test", "2", "clone"),
		task("build", "2500m", "lint", "test"),
	}}
	pk := RunPeak(&model.Plan{}, p)
	if want := []string{"lint", "test"}; !slices.Equal(pk.Tasks, want) {
		t.Fatalf("peak tasks = %v, want %v", pk.Tasks, want)
	}
	if pk.Pods != 2 || pk.Requests.CPU != 3200 {
		t.Errorf("peak = %d pods, %dm CPU; want 2 pods, 3200m", pk.Pods, pk.Requests.CPU)
	}
}

func TestRunPeakTransitive(t *testing.T) {
	// a -> b -> c, and d independent: c never overlaps a, but d overlaps
	// anything; the heaviest is the heaviest chain member plus d.
	p := &model.Pipeline{Tasks: []*model.PipelineTask{
		task("a", "4"), task("d", "1"), task("b", "1", "a"), task("c", "3", "b"),
	}}
	pk := RunPeak(&model.Plan{}, p)
	if want := []string{"a", "d"}; !slices.Equal(pk.Tasks, want) {
		t.Fatalf("peak tasks = %v, want %v", pk.Tasks, want)
	}
}

func TestRunPeakMatrixAndFinally(t *testing.T) {
	m := task("test", "1")
	m.Matrix = &model.Matrix{Params: []*model.Arg{
		{Name: "os", Value: model.Value{Type: model.TypeArray, Array: []string{"linux", "darwin"}}},
		{Name: "go", Value: model.Value{Type: model.TypeArray, Array: []string{"1.25", "1.26", "1.27"}}},
	}, Include: []*model.MatrixInclude{{Name: "race"}}}
	if got := FanOut(m); got != 7 {
		t.Fatalf("FanOut = %d, want 7", got)
	}
	p := &model.Pipeline{Tasks: []*model.PipelineTask{m}, Finally: []*model.PipelineTask{task("notify", "100m"), task("report", "100m")}}
	pk := RunPeak(&model.Plan{}, p)
	if pk.Pods != 7 || pk.Requests.CPU != 7*1100 {
		t.Errorf("peak = %d pods, %dm; want 7 pods, 7700m", pk.Pods, pk.Requests.CPU)
	}
	p.Tasks[0].Matrix = nil
	p.Finally = append(p.Finally, task("cleanup", "1"))
	if pk := RunPeak(&model.Plan{}, p); pk.Pods != 3 {
		t.Errorf("finally peak = %+v, want the 3 finally tasks", pk)
	}
}

func TestRunPeakUsesLibraryTasks(t *testing.T) {
	plan := &model.Plan{Tasks: []*model.TaskDef{{Name: "build", Steps: []*model.Step{step("2", "4Gi")}}}}
	p := &model.Pipeline{Tasks: []*model.PipelineTask{{Name: "b", Uses: "build"}}}
	if pk := RunPeak(plan, p); pk.Requests != (Resources{CPU: 2000, Memory: 4 << 30}) {
		t.Errorf("peak = %+v", pk.Requests)
	}
}

func TestRunPeakWidePipelineIsFast(t *testing.T) {
	var tasks []*model.PipelineTask
	for i := range 24 {
		tasks = append(tasks, task(string(rune('a'+i)), "1"))
	}
	if pk := RunPeak(&model.Plan{}, &model.Pipeline{Tasks: tasks}); pk.Pods != 24 {
		t.Errorf("peak pods = %d, want 24", pk.Pods)
	}
}

func TestParseAndFormat(t *testing.T) {
	r := Parse(map[string]string{"cpu": "1500m", "memory": "2Gi"})
	if r.String() != "cpu 1500m, memory 2Gi" {
		t.Errorf("String = %q", r.String())
	}
	if !r.Fits(Resources{CPU: 2000}) || r.Fits(Resources{CPU: 1000}) {
		t.Error("Fits is wrong")
	}
}

// A task's pod requests what its steps and sidecars request; a remote
// task's, one step of the defaults.
func TestTaskPodCountsSidecarsAndRemoteTasks(t *testing.T) {
	sc := step("500m", "512Mi")
	sc.Sidecar = true
	plan := &model.Plan{
		Tasks:        []*model.TaskDef{{Name: "it", Steps: []*model.Step{step("1", "1Gi")}, Sidecars: []*model.Step{sc}}},
		StepDefaults: model.StepDefaults{Resources: model.Resources{Requests: map[string]string{"cpu": "100m", "memory": "128Mi"}}},
	}
	if r := TaskPod(plan, &model.PipelineTask{Name: "a", Uses: "it"}); r != (Resources{CPU: 1500, Memory: 1536 << 20}) {
		t.Errorf("with a sidecar: %+v", r)
	}
	remote := &model.PipelineTask{Name: "b", Ref: &model.Ref{Resolver: "hub"}}
	if r := TaskPod(plan, remote); r != (Resources{CPU: 100, Memory: 128 << 20}) {
		t.Errorf("remote: %+v", r)
	}
}

// A remote pipeline's run counts as one pod of one step of the defaults,
// as a remote task does: its tasks only Tekton sees.
func TestRunPeakRemotePipeline(t *testing.T) {
	plan := &model.Plan{StepDefaults: model.StepDefaults{Resources: model.Resources{Requests: map[string]string{"cpu": "100m", "memory": "128Mi"}}}}
	pk := RunPeak(plan, &model.Pipeline{Name: "p", Ref: &model.Ref{Resolver: "cluster"}})
	if pk.Pods != 1 || pk.Requests != (Resources{CPU: 100, Memory: 128 << 20}) || len(pk.Tasks) != 1 || pk.Tasks[0] != RemotePipelineTask {
		t.Errorf("remote pipeline: %+v", pk)
	}
}
