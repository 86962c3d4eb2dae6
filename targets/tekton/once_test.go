package tekton_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	validation "github.com/tektoncd/pipeline/pkg/apis/validate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/internal/testing/targettest"
)

// TestValidationReadsOnlyTheName holds what the Tekton target's
// validation-once rests on: of an object's metadata, Tekton's validation
// reads only the name, through validate.ObjectMetadata, so two objects with
// the same spec get the same findings apart from that check. It runs
// Tekton's whole validation on every Task and Pipeline the build cases
// generate, and on each again with a broken spec, under other metadata
// (another name, an invalid one, other labels, annotations, namespace).
func TestValidationReadsOnlyTheName(t *testing.T) {
	files, _ := filepath.Glob("testdata/build/*.txtar")
	checked := 0
	for _, file := range files {
		res, err := targettest.Build(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range res.Objects {
			var variants []object
			switch v := o.Value.(type) {
			case *v1.Pipeline:
				broken := v.DeepCopy()
				broken.Spec.Tasks = append(broken.Spec.Tasks, v1.PipelineTask{Name: "Bad_Name", Params: v1.Params{{Name: "x", Value: *v1.NewStructuredValues("$(params.nope)")}}})
				variants = []object{v, broken}
			case *v1.Task:
				broken := v.DeepCopy()
				broken.Spec.Steps = append(broken.Spec.Steps, v1.Step{Name: "b", Image: "i", Script: "echo $(params.nope)", Command: []string{"sh"}})
				variants = []object{v, broken}
			}
			for _, obj := range variants {
				want := specErrors(t, obj)
				for _, meta := range otherMetadata {
					other := obj.DeepCopyObject().(object)
					meta(other.GetObjectMeta())
					if got := specErrors(t, other); got != want {
						t.Errorf("%s: %s %s: with other metadata, Tekton's validation says\n%s\nwant, as for the object itself,\n%s", file, o.Kind, o.Name, got, want)
					}
				}
				checked++
			}
		}
	}
	if checked < 40 {
		t.Fatalf("checked %d objects; the build cases should give more", checked)
	}
}

type object interface {
	apis.Validatable
	apis.Defaultable
	metav1.ObjectMetaAccessor
	runtime.Object
}

// otherMetadata changes an object's metadata in ways a stamped-out object
// differs from another.
var otherMetadata = []func(m metav1.Object){
	func(m metav1.Object) { m.SetName("another-name") },
	func(m metav1.Object) { m.SetName("Not a DNS name!") },
	func(m metav1.Object) { m.SetName(strings.Repeat("x", 64)) },
	func(m metav1.Object) {
		m.SetNamespace("elsewhere")
		m.SetLabels(map[string]string{"bad key/!": "bad value!", "app": "x"})
		m.SetAnnotations(map[string]string{"tekton.dev/pipeline": "other", "x": strings.Repeat("y", 300000)})
		m.SetGenerateName("gen-")
	},
}

// specErrors is Tekton's whole validation of a copy of obj, without what
// validate.ObjectMetadata says of its metadata, as sorted lines.
func specErrors(t *testing.T, obj object) string {
	t.Helper()
	c := obj.DeepCopyObject().(object)
	ctx := apis.WithinCreate(context.Background())
	c.SetDefaults(ctx)
	meta := map[string]bool{}
	for _, e := range validation.ObjectMetadata(c.GetObjectMeta()).ViaField("metadata").WrappedErrors() {
		meta[fmt.Sprint(e.Message, e.Paths)] = true
	}
	var lines []string
	for _, e := range c.Validate(ctx).WrappedErrors() {
		if k := fmt.Sprint(e.Message, e.Paths); !meta[k] {
			lines = append(lines, k)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
