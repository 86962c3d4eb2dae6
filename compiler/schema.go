package compiler

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/encoding/jsonschema"

	"github.com/pipec/pipec/internal/cueload"
	"github.com/pipec/pipec/schema"
)

// SchemaFiles returns the embedded schema's CUE files by name, in name
// order.
func SchemaFiles() (map[string][]byte, []string, error) {
	files, err := schema.Files()
	if err != nil {
		return nil, nil, err
	}
	return files, slices.Sorted(maps.Keys(files)), nil
}

// ConfigJSONSchema returns #Config, the root of a configuration, as a JSON
// Schema (draft 2020-12) for editors and other tools.
func ConfigJSONSchema() ([]byte, error) {
	v, err := schemaPackage()
	if err != nil {
		return nil, err
	}
	expr, err := jsonschema.Generate(v.LookupPath(schema.RootPath), nil)
	if err != nil {
		return nil, fmt.Errorf("generating the JSON Schema: %w", err)
	}
	ctx := v.Context()
	js := ctx.BuildExpr(expr)
	if js.Err() != nil {
		src, _ := format.Node(expr)
		return nil, fmt.Errorf("generated JSON Schema does not evaluate: %w\n%s", js.Err(), src)
	}
	var out map[string]any
	if err := js.Decode(&out); err != nil {
		return nil, err
	}
	defs, _ := out["$defs"].(map[string]any)
	inlineClosedRefs(out, defs)
	return json.MarshalIndent(out, "", "  ")
}

// schemaPackage is the embedded schema on its own, evaluated once. Its
// context is not safe for concurrent use: Validate holds schemaMu.
var schemaPackage = sync.OnceValues(func() (cue.Value, error) {
	files, err := schema.Files()
	if err != nil {
		return cue.Value{}, err
	}
	root := "/pipec-schema"
	ov := map[string]load.Source{
		filepath.Join(root, "cue.mod", "module.cue"): load.FromString(cueload.ModuleFile(schema.Module)),
	}
	files.AddTo(ov, root)
	insts := load.Instances([]string{"."}, &load.Config{Dir: root, ModuleRoot: root, Overlay: ov})
	if insts[0].Err != nil {
		return cue.Value{}, insts[0].Err
	}
	v := cuecontext.New().BuildInstance(insts[0])
	return v, v.Err()
})

var schemaMu sync.Mutex

// Validate checks a Go value (maps, slices, strings, numbers, booleans)
// against a definition of pipec's schema, such as "#Volume": nil when it
// fits, else the first reason it does not, with the path inside the
// value.
func Validate(definition string, x any) error {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	v, err := schemaPackage()
	if err != nil {
		return err
	}
	u := v.LookupPath(cue.ParsePath(definition)).Unify(v.Context().Encode(x))
	if err := u.Validate(cue.Concrete(true)); err != nil {
		errs := cueerrors.Errors(err)
		e := errs[0]
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if p := strings.Join(e.Path(), "."); p != "" {
			msg = p + ": " + msg
		}
		return errors.New(msg)
	}
	return nil
}

// inlineClosedRefs works around how CUE's generator translates a closed
// struct that embeds another: {"$ref": X, "properties": ...,
// "additionalProperties": false}. In JSON Schema additionalProperties does
// not see the properties X declares, so every field of X would be refused.
// The properties (and required fields) of X are merged into the object
// instead, and the $ref dropped.
func inlineClosedRefs(v any, defs map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		for _, sub := range v {
			inlineClosedRefs(sub, defs)
		}
		ref, ok := v["$ref"].(string)
		if !ok || v["additionalProperties"] != false {
			return
		}
		target, ok := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		if !ok {
			return
		}
		inlineClosedRefs(target, defs)
		props, _ := v["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		tp, _ := target["properties"].(map[string]any)
		for k, p := range tp {
			if _, own := props[k]; !own {
				props[k] = p
			}
		}
		v["properties"] = props
		if tr, ok := target["required"].([]any); ok {
			req, _ := v["required"].([]any)
			v["required"] = append(req, tr...)
		}
		delete(v, "$ref")
	case []any:
		for _, sub := range v {
			inlineClosedRefs(sub, defs)
		}
	}
}
