package compiler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExplainCUEErrors covers the kinds of CUE error whose finding the
// err_* scripts of internal/cli do not assert in full: each is told apart
// by what CUE's API says (an error type, a Msg format, a parser hook), not
// by the text of the message.
func TestExplainCUEErrors(t *testing.T) {
	const module = "module: \"example.com/app@v0\"\nlanguage: version: \"v0.9.0\"\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{{
		name:  "syntax error",
		files: map[string]string{"pipec.cue": "package ci\n\npipelines: p: {\n"},
		want:  []string{"pipec.cue:3:17: deny pipec/config/cue: expected '}', found 'EOF'; hint: " + hintSyntax},
	}, {
		name:  "unresolved reference",
		files: map[string]string{"pipec.cue": "package ci\n\npipelines: p: tasks: t: steps: [_step]\n"},
		want:  []string{`pipec.cue:3:33: pipelines.p.tasks.t.steps: deny pipec/config/cue: reference "_step" not found; hint: ` + hintRefs},
	}, {
		name: "import cycle",
		files: map[string]string{
			"cue.mod/module.cue": module,
			"pipec.cue":          "package ci\n\nimport \"example.com/app/a\"\n\nx: a.y\n",
			"a/a.cue":            "package a\n\nimport \"example.com/app/b\"\n\ny: b.y\n",
			"b/b.cue":            "package b\n\nimport \"example.com/app/a\"\n\ny: a.y\n",
		},
		want: []string{"pipec.cue:3:8: deny pipec/config/cue: import failed: package import cycle not allowed; hint: " + hintRefs},
	}, {
		// CUE_REGISTRY=none: no registry serves the dependency, offline.
		name: "module fetch failure",
		files: map[string]string{
			"cue.mod/module.cue": module + "deps: \"example.com/pack@v0\": v: \"v0.1.0\"\n",
			"pipec.cue":          "package ci\n\nimport \"example.com/pack\"\n\nx: pack.y\n",
		},
		want: []string{`pipec.cue:3:8: "example.com/app@v0": deny pipec/config/cue: import failed: cannot find package "example.com/pack": cannot fetch example.com/pack@v0.1.0: module not found; hint: ` + hintModule},
	}, {
		name: "non-concrete operand",
		files: map[string]string{"pipec.cue": `package ci

_tag: string
pipelines: app: tasks: a: steps: [{name: "s", image: "busybox:" + _tag, script: "true"}]
`},
		want: []string{`pipec.cue:4:54: pipelines.app.tasks.a.steps[0].image: deny pipec/config/cue: required field "image" is missing or not concrete; expected an image reference with a tag or digest, such as golang:1.23 or ghcr.io/org/tool@sha256:<digest>; hint: add image: <value>`},
	}, {
		name: "mismatched types without help",
		files: map[string]string{"pipec.cue": `package ci

pipelines: app: tasks: a: steps: [{name: "s", image: "busybox:1.36", script: 3}]
`},
		want: []string{"pipec.cue:3:78: pipelines.app.tasks.a.steps[0].script: deny pipec/config/cue: invalid value 3 (int); expected a value of type string"},
	}, {
		// Every bound of the schema has help (TestSchemaBoundsSayWhatIsExpected):
		// this one is the configuration's own.
		name: "out of bound without help",
		files: map[string]string{"pipec.cue": `package ci

triggers: listener: ingressFrom: cidrs: [string & =~"^10\\."]
triggers: listener: ingressFrom: cidrs: ["192.168.0.0/16"]
`},
		want: []string{`pipec.cue:3:51: triggers.listener.ingressFrom.cidrs[0]: deny pipec/config/cue: invalid value "192.168.0.0/16" (out of bound =~"^10\\."); expected a value matching =~"^10\\."`},
	}, {
		name: "out of bound with the schema's help",
		files: map[string]string{"pipec.cue": `package ci

scaling: maxConcurrentRuns: 0
`},
		want: []string{"pipec.cue:3:29: scaling.maxConcurrentRuns: deny pipec/config/cue: invalid value 0 (int); expected a number of runs from 1 to 2147483647"},
	}, {
		// Values that read like CUE's messages are conflicts all the same.
		name: "values that read like messages",
		files: map[string]string{"pipec.cue": `package ci

pipelines: app: tasks: a: steps: [{name: "incomplete value", image: "field not allowed", script: "true"}]
pipelines: app: tasks: a: steps: [{name: "s", image: "busybox:1.36"}]
`},
		want: []string{
			`pipec.cue:3:42: pipelines.app.tasks.a.steps[0].name: deny pipec/config/cue: conflicting values "s" and "incomplete value"; expected a step name such as "test"; hint: the field is also set at pipec.cue:4:42; make the values agree`,
			`pipec.cue:3:69: pipelines.app.tasks.a.steps[0].image: deny pipec/config/cue: conflicting values "busybox:1.36" and "field not allowed"; expected an image reference with a tag or digest, such as golang:1.23 or ghcr.io/org/tool@sha256:<digest>; hint: pin a version or a digest; ` + "`latest`" + ` and untagged images are not allowed`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CUE_REGISTRY", "none")
			t.Setenv("CUE_CACHE_DIR", t.TempDir())
			dir := t.TempDir()
			for name, src := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Build(context.Background(), Options{Dir: dir, BaseDir: dir})
			var ee *EvalError
			switch {
			case errors.As(err, &ee):
				res = &Result{Diagnostics: ee.Diagnostics}
			case err != nil:
				t.Fatal(err)
			}
			var got []string
			for _, d := range res.Diagnostics {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
