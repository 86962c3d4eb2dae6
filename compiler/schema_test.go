package compiler

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/encoding/jsonschema"
)

// TestConfigJSONSchemaAcceptsTheExamples extracts the generated JSON
// Schema back into CUE with CUE's own JSON Schema decoder and validates
// every example's configuration, as an editor would, against it; a
// configuration with a typo must fail.
func TestConfigJSONSchemaAcceptsTheExamples(t *testing.T) {
	data, err := ConfigJSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	ctx := cuecontext.New()
	js := ctx.CompileBytes(data)
	f, err := jsonschema.Extract(js, &jsonschema.Config{Strict: false})
	if err != nil {
		t.Fatalf("CUE cannot read the JSON Schema back: %v", err)
	}
	sch := ctx.BuildFile(f)
	if sch.Err() != nil {
		t.Fatal(sch.Err())
	}
	for _, ex := range []string{"go-service", "monorepo", "polyglot", "shop"} {
		l, err := loadConfig(filepath.Join("..", "examples", ex), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(l.user)
		if err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if err := sch.Unify(ctx.CompileBytes(b)).Validate(cue.Concrete(true)); err != nil {
			t.Errorf("%s does not validate against the JSON Schema: %v", ex, err)
		}
	}
	for _, typo := range []string{
		`{pipelinez: {}}`,
		`{pipelines: p: tasks: a: {stepz: []}}`,
		`{pipelines: p: tasks: a: {uses: "x", aftr: ["b"]}}`,
	} {
		if err := sch.Unify(ctx.CompileString(typo)).Validate(); err == nil {
			t.Errorf("the JSON Schema accepts %s", typo)
		}
	}
}
