package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
)

// Build compiles a configuration that must have no errors and decodes its
// objects, as a user would apply them.
func Build(ctx context.Context, opts compiler.Options) ([]*unstructured.Unstructured, *compiler.Result, error) {
	res, err := compiler.Build(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if res.Diagnostics.HasErrors() {
		return nil, nil, fmt.Errorf("%s has findings:\n%v", opts.Dir, res.Diagnostics)
	}
	objs, err := Objects(res.Objects)
	if err != nil {
		return nil, nil, err
	}
	return objs, res, nil
}

// DecodeYAML splits a multi-document YAML (or JSON) stream into objects,
// skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Objects renders generated objects as pipec prints them (YAML) and
// decodes them back, as kubectl would read pipec's output.
func Objects(objs []targets.Object) ([]*unstructured.Unstructured, error) {
	objs = targets.Streamed(objs)
	var buf bytes.Buffer
	if err := render.Stream(&buf, objs, render.YAML); err != nil {
		return nil, err
	}
	out, err := DecodeYAML(buf.Bytes())
	if err != nil {
		return nil, err
	}
	if len(out) != len(objs) {
		return nil, fmt.Errorf("decoded %d objects, generated %d", len(out), len(objs))
	}
	return out, nil
}

// Condition returns the status and reason of the condition of type typ in
// an object's status, or empty strings.
func Condition(o *unstructured.Unstructured, typ string) (status, reason string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			return s, r
		}
	}
	return "", ""
}
