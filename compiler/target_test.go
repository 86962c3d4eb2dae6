package compiler_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// inventory is a target written outside pipec's target packages, with the
// public API only: a ConfigMap per pipeline listing its tasks, and a
// finding for a pipeline without a description.
type inventory struct{}

func (inventory) Name() string    { return "inventory" }
func (inventory) Kinds() []string { return []string{"ConfigMap"} }

func (inventory) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var objs []targets.Object
	var ds diag.List
	for _, p := range plan.Pipelines {
		var tasks []string
		for _, t := range p.Tasks {
			tasks = append(tasks, t.Name)
		}
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "inventory-" + p.Name, Namespace: plan.Namespace, Labels: targets.Labels(nil)},
			Data:       map[string]string{"tasks": strings.Join(tasks, ",")},
		}
		objs = append(objs, targets.New("inventory", cm, p.Path, targets.CIDir))
		if p.Description == "" {
			d := ds.Errorf(plan.Sources, p.Path, "pipeline %s has no description", p.Name)
			d.Severity = diag.Warning
			d.Hint = "say what the pipeline is for"
		}
	}
	return objs, ds
}

func TestThirdPartyTarget(t *testing.T) {
	config := `package ci

namespace: "ci"

tasks: greet: steps: [{name: "hello", image: "busybox:1.36", script: "echo hello"}]

pipelines: app: tasks: {
	hello: uses: "greet"
	bye: {uses: "greet", after: ["hello"]}
}
`
	res, err := compiler.Build(context.Background(), compiler.Options{
		Dir:     "/config",
		BaseDir: "/config",
		Overlay: map[string][]byte{"/config/pipec.cue": []byte(config)},
		Targets: append(compiler.DefaultTargets(), inventory{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var inv *corev1.ConfigMap
	for _, o := range res.Objects {
		kinds = append(kinds, o.Target+"/"+o.Kind)
		if o.Target == "inventory" {
			inv = o.Value.(*corev1.ConfigMap)
		}
	}
	want := []string{"kube/ServiceAccount", "tekton/Task", "tekton/Pipeline", "inventory/ConfigMap"}
	if !slices.Equal(kinds, want) {
		t.Errorf("objects %v, want %v (in apply order)", kinds, want)
	}
	if inv == nil || inv.Data["tasks"] != "hello,bye" {
		t.Errorf("inventory ConfigMap: %+v", inv)
	}
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].String() != "pipec.cue:7:12: pipelines.app: warn pipec/target/inventory: pipeline app has no description; hint: say what the pipeline is for" {
		t.Errorf("findings: %v", res.Diagnostics)
	}
}
