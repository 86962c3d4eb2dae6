package change

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/pipec/pipec/targets"
)

func obj(kind, name string, v map[string]any) targets.Object {
	return targets.Object{Target: "t", APIVersion: "v1", Kind: kind, Namespace: "ns", Name: name, Dir: "ci", Value: v}
}

func TestCompare(t *testing.T) {
	old := []targets.Object{
		obj("Pipeline", "p", map[string]any{"spec": map[string]any{
			"tasks": []any{
				map[string]any{"name": "build", "retries": 1},
				map[string]any{"name": "test"},
			},
			"labels": map[string]any{"app.kubernetes.io/name": "x"},
			"args":   []any{"a", "b"},
		}}),
		obj("ConfigMap", "gone", map[string]any{}),
		obj("ConfigMap", "same", map[string]any{"data": map[string]any{"k": "v"}}),
	}
	new := []targets.Object{
		obj("Pipeline", "p", map[string]any{"spec": map[string]any{
			"tasks": []any{
				map[string]any{"name": "lint"},
				map[string]any{"name": "build", "retries": 2},
				map[string]any{"name": "test"},
			},
			"labels": map[string]any{"app.kubernetes.io/name": "y"},
			"args":   []any{"a", "b", "c"},
		}}),
		obj("ConfigMap", "same", map[string]any{"data": map[string]any{"k": "v"}}),
		obj("Secret", "added", map[string]any{}),
	}
	got, err := Compare(old, new)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Kind: Removed, Unit: "ci", Target: "t", APIKind: "ConfigMap", Namespace: "ns", Name: "gone"},
		{Kind: Changed, Unit: "ci", Target: "t", APIKind: "Pipeline", Namespace: "ns", Name: "p", Fields: []Field{
			// A list of strings that changes length is one change.
			{Path: "spec.args", Old: `["a","b"]`, New: `["a","b","c"]`},
			// Keys that are not identifiers are quoted.
			{Path: `spec.labels."app.kubernetes.io/name"`, Old: `"x"`, New: `"y"`},
			// Named elements are matched by name: an insertion is one
			// added element, not a shift of every later one.
			{Path: "spec.tasks[name=build].retries", Old: "1", New: "2"},
			{Path: "spec.tasks[name=lint]", New: `{"name":"lint"}`},
		}},
		{Kind: Added, Unit: "ci", Target: "t", APIKind: "Secret", Namespace: "ns", Name: "added"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	var buf bytes.Buffer
	WriteText(&buf, got)
	wantText := `ci:
  - ConfigMap ns/gone (t)
  ~ Pipeline ns/p (t)
      spec.args: ["a","b"] -> ["a","b","c"]
      spec.labels."app.kubernetes.io/name": "x" -> "y"
      spec.tasks[name=build].retries: 1 -> 2
      spec.tasks[name=lint]: (none) -> {"name":"lint"}
  + Secret ns/added (t)
pipec: 1 added, 1 removed, 1 changed
`
	if buf.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), wantText)
	}
}
