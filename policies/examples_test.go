package policies_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/cuecontext"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/policies"
)

// exampleHeader starts every configuration an example is vetted in. The
// pipelines run in environment ci, whose Pod Security level admits any
// step, so that the packs see what the namespace's admission would let
// through. The environments of the places, and what belongs to none, use
// the pack of the check (PACK); an environment a fragment adds gets the
// default packs.
const exampleHeader = `package ci

namespace: *"ci" | _
policy: default: ["PACK"]
environments: ci: {
	namespace:   "ci"
	policy: ["PACK"]
	podSecurity: "privileged"
	quota: requests: {cpu: "8", memory: "16Gi"}
	network: kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}
}
`

// examplePlaces are the configurations the fragments of each #Place go
// in, at @@, on a line of its own, in the braces that open the place. A
// field a fragment may set has a default here. "input" has none: its
// fragments are the packs' input.
var examplePlaces = map[string]string{
	"config": `
environments: dev: {namespace: "shop-dev", policy: ["PACK"], quota: requests: {cpu: "4", memory: "8Gi"}}
environments: prod: {namespace: "shop-prod", production: true, policy: ["PACK"], quota: requests: {cpu: "8", memory: "16Gi"}}
teams: shop: {}
apps: api: {
	team:     *"shop" | _
	replicas: 2
	source: repoURL: "https://github.com/acme/api.git"
	image: {repository: "ghcr.io/acme/api", digest: DIGEST}
	environments: dev: {}
}
triggers: webhookSecret: {name: "webhook", key: "secret"}
pipelines: build: {
	timeout: "30m"
	on: push: {}
	tasks: build: steps: [{name: "build", image: IMAGE, script: "true"}]
}

@@
`,
	"pipeline": `
triggers: webhookSecret: {name: "webhook", key: "secret"}
pipelines: build: {tasks: build: steps: *[{name: "build", image: IMAGE, script: "true"}] | _
	@@
}
`,
	"task": `
pipelines: build: {timeout: "30m", tasks: build: uses: "build"}
tasks: build: {steps: *[{name: "build", image: IMAGE, script: "true"}] | _
	@@
}
`,
	"step": `
pipelines: build: {timeout: "30m", tasks: build: uses: "build"}
tasks: build: steps: [{name: "build", image: *IMAGE | _, script: *"true" | _
	@@
}]
`,
	"permission": `
environments: dev: {namespace: "shop-dev", policy: ["PACK"], quota: requests: {cpu: "4", memory: "8Gi"}}
pipelines: deploy: {
	timeout: "30m"
	tasks: deploy: steps: [{name: "deploy", image: IMAGE, script: "true"}]
	permissions: [{environment: "dev", apiGroups: *["apps"] | _, resources: *["deployments"] | _, verbs: *["get"] | _
		@@
	}]
}
`,
	"autoscaler": `
environments: prod: {namespace: "shop-prod", production: true, policy: ["PACK"], quota: requests: {cpu: "8", memory: "16Gi"}}
teams: shop: {}
apps: api: {team: "shop", source: repoURL: "https://github.com/acme/api.git", image: {repository: "ghcr.io/acme/api", digest: DIGEST}, environments: prod: {}}
pipelines: build: {timeout: "30m", tasks: build: steps: [{name: "build", image: IMAGE, script: "true"}]}
scaling: autoscalers: api: {
	environment: "prod"
	target: name: "api"
	selector: "app.kubernetes.io/name": "api"
	maxReplicas: 10
	metrics: cpu: utilization: 70
	@@
}
`,
	"input": "",
}

// reportedElsewhere are the checks whose failing example is reported at a
// value the base configuration declares rather than one in the fragment
// or where its place opens, and why.
var reportedElsewhere = map[string]string{
	"pipec/baseline/argocd-default-project":      "at the app's Application, apps.api.environments.dev",
	"pipec/baseline/argocd-destination-wildcard": "at the team's AppProject, teams.shop",
}

const exampleDigest = "sha256:9d75f0d7c398df565d7ac04c6819b62d6d8f9560f5eb4672596ecd8f7e96ae91"

// exampleConfig is the configuration a fragment is vetted in, where the
// fragment is in it (from start to end), and the line its place opens on,
// that of the brace around the hole (none at the top level).
func exampleConfig(place, pack, fragment string) (config string, start, end int, open [2]int) {
	body := strings.NewReplacer("IMAGE", `"ghcr.io/acme/busybox:1.36@`+exampleDigest+`"`, "DIGEST", `"`+exampleDigest+`"`).Replace(examplePlaces[place])
	text := strings.ReplaceAll(exampleHeader+body, "PACK", pack)
	hole := strings.Index(text, "@@")
	lineStart := strings.LastIndexByte(text[:hole], '\n') + 1
	indent := text[lineStart:hole]
	depth := 0
	for i := hole - 1; i >= 0 && open[1] == 0; i-- {
		switch {
		case text[i] == '}':
			depth++
		case text[i] == '{' && depth > 0:
			depth--
		case text[i] == '{':
			open[0] = strings.LastIndexByte(text[:i], '\n') + 1
			open[1] = open[0] + strings.IndexByte(text[open[0]:], '\n')
		}
	}
	fragment = strings.ReplaceAll(fragment, "\n", "\n"+indent)
	return text[:hole] + fragment + text[hole+2:], hole, hole + len(fragment), open
}

// offset is the byte offset of a line and column (from 1, columns in
// bytes) in s, or -1.
func offset(s string, line, col int) int {
	off := 0
	for range line - 1 {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off + col - 1
}

// vetExample vets a configuration as `pipec vet` does.
func vetExample(t *testing.T, config string) *compiler.Result {
	t.Helper()
	res, err := compiler.Build(context.Background(), compiler.Options{
		Dir: "/example", BaseDir: "/example", Policies: true, Today: "2026-11-22",
		Overlay: map[string][]byte{"/example/pipec.cue": []byte(config)},
	})
	if err != nil {
		t.Fatalf("cannot evaluate:\n%s\n%v", config, err)
	}
	return res
}

// evaluateInput evaluates check c over the input a fragment gives, every
// list it leaves out empty.
func evaluateInput(t *testing.T, c *policies.Check, fragment string) []policies.Violation {
	t.Helper()
	in := fragmentInput(t, fragment)
	packs, err := policies.BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	res, err := packs[c.Pack].Evaluate(in)
	if err != nil {
		t.Fatalf("%s: %v", fragment, err)
	}
	return res[c]
}

// fragmentInput is the input a fragment of it gives, every list it leaves
// out empty.
func fragmentInput(t *testing.T, fragment string) *policies.Input {
	t.Helper()
	data, err := cuecontext.New().CompileString(fragment).MarshalJSON()
	if err != nil {
		t.Fatalf("%s: %v", fragment, err)
	}
	var in policies.Input
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: not a piece of the input: %v", fragment, err)
	}
	emptyLists(reflect.ValueOf(&in).Elem())
	return &in
}

// emptyLists makes every nil slice in v empty, as pipec's input has them.
func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				emptyLists(v.Field(i))
			}
		}
	}
}

// configErrors are the errors of the configuration itself, not of a pack.
func configErrors(ds diag.List) diag.List {
	var out diag.List
	for _, d := range ds {
		if d.Severity == diag.Error && d.Configuration() {
			out = append(out, d)
		}
	}
	return out
}

// TestCheckExamples runs every built-in check's examples, as `pipec
// explain` shows them. Each fragment goes in the configuration of its
// place (examples.in), which uses the check's pack, and is vetted as
// `pipec vet` does: the passing one must build without errors and not be
// reported by the check; the failing one must be reported by the check,
// in the fragment (or where its place opens), or, when the example says
// pipec refuses it, be an error of the configuration in the fragment.
// Fragments in the packs' input are evaluated by the check directly.
// The subtests run one at a time: a built-in pack's CUE context is not
// safe for concurrent use, and all of them take about a second and a half.
func TestCheckExamples(t *testing.T) {
	packs, err := policies.BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(examplePlaces)), slices.Sorted(maps.Keys(policies.Places)); !slices.Equal(got, want) {
		t.Fatalf("the test has configurations for places %v; policies.Places has %v", got, want)
	}
	var checks []*policies.Check
	for _, p := range packs {
		checks = append(checks, p.Checks...)
	}
	slices.SortFunc(checks, func(a, b *policies.Check) int { return strings.Compare(a.ID, b.ID) })
	for _, c := range checks {
		t.Run(strings.TrimPrefix(c.ID, "pipec/"), func(t *testing.T) {
			ex := c.Examples
			if strings.TrimSpace(ex.Pass) == "" || strings.TrimSpace(ex.Fail) == "" {
				t.Fatal("the check needs examples.pass and examples.fail")
			}
			if _, ok := examplePlaces[ex.In]; !ok {
				t.Fatalf("examples.in is %q; expected one of %v", ex.In, slices.Sorted(maps.Keys(examplePlaces)))
			}
			if ex.In == "input" {
				if ex.Refused {
					t.Fatal("examples.refused is for fragments of a configuration, not of the input")
				}
				if vs := evaluateInput(t, c, ex.Pass); len(vs) > 0 {
					t.Errorf("the passing example fails the check: %v", vs)
				}
				if vs := evaluateInput(t, c, ex.Fail); len(vs) == 0 {
					t.Errorf("the failing example passes the check")
				}
				return
			}

			config, _, _, _ := exampleConfig(ex.In, c.Pack, ex.Pass)
			res := vetExample(t, config)
			if errs := configErrors(res.Diagnostics); len(errs) > 0 {
				t.Errorf("the passing example is not a valid configuration:\n%s\n%v", config, errs)
			} else if res.Policy == nil || !slices.Contains(res.Policy.Checks, c) {
				t.Errorf("the check did not run on the passing example:\n%s", config)
			}
			for _, d := range res.Diagnostics {
				if d.ID == c.ID {
					t.Errorf("the passing example fails the check:\n%s\n%v", config, d)
				}
			}

			config, start, end, open := exampleConfig(ex.In, c.Pack, ex.Fail)
			res = vetExample(t, config)
			inFragment := func(d diag.Diagnostic) bool {
				off := offset(config, d.Pos.Line, d.Pos.Col)
				return off >= start && off < end || off >= open[0] && off < open[1]
			}
			errs := configErrors(res.Diagnostics)
			if ex.Refused {
				if len(errs) == 0 {
					t.Fatalf("examples.refused is set, but pipec accepts the failing example:\n%s\n%v", config, res.Diagnostics)
				}
				if !slices.ContainsFunc(errs, inFragment) {
					t.Errorf("pipec refuses the failing example, but not at the fragment:\n%s\n%v", config, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("the failing example is not a valid configuration (if pipec refuses it on purpose, set examples.refused):\n%s\n%v", config, errs)
			}
			var found []diag.Diagnostic
			for _, d := range res.Diagnostics {
				if d.ID == c.ID {
					found = append(found, d)
				}
			}
			switch {
			case len(found) == 0:
				t.Errorf("the failing example passes the check:\n%s\n%v", config, res.Diagnostics)
			case reportedElsewhere[c.ID] == "" && !slices.ContainsFunc(found, inFragment):
				t.Errorf("the check reports the failing example elsewhere than in the fragment:\n%s\n%v", config, found)
			case reportedElsewhere[c.ID] != "" && slices.ContainsFunc(found, inFragment):
				t.Errorf("the check reports the failing example in the fragment now: remove it from reportedElsewhere")
			}
		})
	}
}
