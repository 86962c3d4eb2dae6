package policies

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// TestPackReads holds the analysis of what a check reads to its rules: a
// comprehension over a list reads the fields its variable is selected
// by; anything it cannot follow reads all of the list, or all of the
// input.
func TestPackReads(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		// want is each list read and its fields, "*" for all of them;
		// "ALL" for all of the input.
		want string
	}{
		{"fields", `for s in input.steps if s.privileged {path: s.path, m: "\(s.name)"}`, "steps:name,path,privileged"},
		{"nested field", `for s in input.steps if s.requests.cpu == "" {path: s.path}`, "steps:path,requests"},
		{"list of an item", `for s in input.steps for c in s.capabilitiesAdd {path: s.path, c: c}`, "steps:capabilitiesAdd,path"},
		{"two lists", `for s in input.steps for i in input.images if i.image == s.image {path: i.path}`, "images:image,path steps:image"},
		{"item whole", `for a in input.autoscalers if (_f & {x: a}).out {path: a.path}`, "autoscalers:*"},
		{"item indexed", `for a in input.autoscalers if a["name"] == "x" {path: "p"}`, "autoscalers:*"},
		{"item's fields iterated", `for a in input.autoscalers for k, v in a {path: k}`, "autoscalers:*"},
		{"list whole", `if len(input.steps) > 0 {path: "x"}`, "steps:*"},
		{"list indexed", `if input.steps[0].name == "x" {path: "x"}`, "steps:*"},
		{"let", `for _ in [1] let l = input.steps for s in l {path: s.path}`, "steps:*"},
		{"struct let", `for s in _l {path: s.path}`, "steps:*"},
		{"through a helper", `for p in _pipelines {path: p}`, "pipelines:path"},
		{"setting", `for i in input.images if len(input.settings.allowedRegistries) > 0 {path: i.path}`, "images:path settings:*"},
		{"another check", `checks.other.violations`, "volumes:path"},
		{"input itself", `for k, l in input {path: k}`, "ALL"},
		{"input passed", `(_f & {x: input}).out`, "ALL"},
		{"the pack", `for s in pack.input.steps {path: s.path}`, "ALL"},
		{"self", `for s in self.x {path: s}`, "ALL"},
		{"undeclared", `for s in elsewhere.steps {path: s}`, "ALL"},
		{"import", `for s in input.steps if strings.HasPrefix(s.image, "x") {path: s.path}`, "steps:image,path"},
		{"a helper declared twice", `for n in _twice {path: n}`, "images:path steps:path"},
		{"a helper with a comprehension", `for n in _grown.x {path: n}`, "params:path"},
		{"an alias of a helper declared twice", `for n in H.b {path: n}`, "images:path steps:path"},
		{"a let of an alias", `for _ in [1] let l = H.b for n in l {path: n}`, "images:path steps:path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := `package p

import "strings"

_f: {x: _, out: true}

pack: {
	input: _
	_pipelines: [for p in input.pipelines {p.path}]
	_twice: [for s in input.steps {s.path}]
	_twice: [for i in input.images {i.path}]
	_grown: {x: [...string], if true {x: [for p in input.params {p.path}]}}
	H=_h: {a: [for s in input.steps {s.path}]}
	_h: {b: [for i in input.images {i.path}]}
	let _l = input.steps
	checks: {
		other: violations: [for v in input.volumes {path: v.path}]
		this: violations: [` + tc.src + `]
	}
}
`
			f, err := parser.ParseFile("p.cue", src)
			if err != nil {
				t.Fatal(err)
			}
			got := packReads([]*ast.File{f})
			if got == nil {
				t.Fatal("the pack was not analysed")
			}
			if s := readsString(got["this"]); s != tc.want {
				t.Errorf("reads %s; want %s", s, tc.want)
			}
			if s := readsString(got["other"]); s != "volumes:path" {
				t.Errorf("the other check reads %s; want volumes:path", s)
			}
		})
	}
}

// TestPackReadsShape: a pack the analysis cannot follow is not analysed,
// and its checks read all of the input.
func TestPackReadsShape(t *testing.T) {
	for name, src := range map[string]string{
		"checks by comprehension":    `pack: {input: _, checks: {for n in ["a"] {(n): violations: []}}}`,
		"pack in two places":         "pack: {input: _, checks: a: violations: []}\npack: checks: b: violations: []",
		"no input":                   `pack: {checks: a: violations: []}`,
		"pack not a struct":          `pack: _p & {input: _, checks: a: violations: []}`,
		"an embedding":               `pack: {input: _, checks: a: violations: [], {checks: b: violations: []}}`,
		"a comprehension":            `pack: {input: _, checks: a: violations: [], if true {checks: b: violations: []}}`,
		"a pattern":                  `pack: {input: _, checks: a: violations: [], [=~"^checks$"]: b: violations: []}`,
		"a computed name":            `pack: {input: _, checks: a: violations: [], ("checks"): b: violations: []}`,
		"a typed input":              `pack: {input: {steps: *[] | [...]}, checks: a: violations: []}`,
		"input declared twice":       `pack: {input: _, input: _, checks: a: violations: []}`,
		"a file-level embedding":     "pack: {input: _, checks: a: violations: []}\n{pack: checks: b: violations: []}",
		"a file-level comprehension": "pack: {input: _, checks: a: violations: []}\nif true {pack: checks: b: violations: []}",
	} {
		f, err := parser.ParseFile("p.cue", "package p\n"+src)
		if err != nil {
			t.Fatal(err)
		}
		if got := packReads([]*ast.File{f}); got != nil {
			t.Errorf("%s: analysed: %v", name, got)
		}
	}
}

// TestPackReadsFiles: a name another file of the package declares is all
// of its declarations there, even one spelled like a predeclared name.
func TestPackReadsFiles(t *testing.T) {
	pack := `package p

pack: {
	input: _
	checks: {
		a: violations: [for n in _other {path: n}]
		b: violations: [for n in number {path: n}]
		c: violations: [for s in input.steps {path: s.path}]
	}
}
`
	for other, want := range map[string][2]string{
		"package p\n_other: [\"x\"]\nnumber: [\"y\"]\n":                              {"", ""},
		"package p\n_other: [for s in pack.input.steps {s.path}]\nnumber: [\"y\"]\n": {"ALL", ""},
		"package p\n_other: [\"x\"]\nnumber: [for s in pack.input.steps {s.path}]\n": {"", "ALL"},
	} {
		var files []*ast.File
		for i, src := range []string{pack, other} {
			f, err := parser.ParseFile(fmt.Sprintf("f%d.cue", i), src)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		got := packReads(files)
		if got == nil {
			t.Fatal("the pack was not analysed")
		}
		if a, b := readsString(got["a"]), readsString(got["b"]); a != want[0] || b != want[1] {
			t.Errorf("with\n%s\nchecks a and b read %q and %q; want %q and %q", other, a, b, want[0], want[1])
		}
		if c := readsString(got["c"]); c != "steps:path" {
			t.Errorf("check c reads %q", c)
		}
	}
}

func readsString(r reads) string {
	if r == nil {
		return "ALL"
	}
	var out []string
	for _, l := range slices.Sorted(maps.Keys(r)) {
		fs := "*"
		if r[l] != nil {
			fs = strings.Join(slices.Sorted(maps.Keys(r[l])), ",")
		}
		out = append(out, l+":"+fs)
	}
	return strings.Join(out, " ")
}

// TestBuiltinPacksAnalysed: the built-in packs are evaluated part by
// part, and none of their checks reads all of the input.
func TestBuiltinPacksAnalysed(t *testing.T) {
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Builtin {
		p := packs[name]
		if p.split == nil {
			t.Fatalf("pack %s was not analysed", name)
		}
		var checks []*Check
		for _, g := range p.split {
			if g.reads == nil {
				t.Errorf("pack %s: checks %v read all of the input", name, g.checks)
			}
			checks = append(checks, g.checks...)
		}
		if got := len(checks); got != len(p.Checks) || !reflect.DeepEqual(sortedChecks(checks), sortedChecks(p.Checks)) {
			t.Errorf("pack %s: the parts hold %d checks; the pack has %d", name, got, len(p.Checks))
		}
	}
}

func sortedChecks(cs []*Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// TestPartsOnFailingInputs holds each built-in pack, part by part, to its
// evaluation over the whole input on the good input and on each check's
// failing input (policies_test.go), with the parts in batches and each
// part on its own; no part may fail.
func TestPartsOnFailingInputs(t *testing.T) {
	if raceEnabled {
		t.Skip("no goroutine here; the race run covers Run through TestCheckExamples")
	}
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	// The checks' other branches, which the failing inputs do not take.
	more := map[string]func(in *Input){
		"a task bundle from another registry": func(in *Input) { in.Settings.AllowedRegistries = []string{"quay.io/"} },
		"a pipeline bundle from another registry": func(in *Input) {
			in.Settings.AllowedRegistries, in.RemoteTasks[0].Task = []string{"quay.io/"}, ""
		},
	}
	mutations := maps.Clone(failing)
	maps.Copy(mutations, more)
	ids := append(slices.Sorted(maps.Keys(mutations)), "")
	for _, batch := range []int{minBatch, -1} {
		t.Run(fmt.Sprintf("minBatch=%d", batch), func(t *testing.T) {
			SetMinBatch(t, batch)
			for _, id := range ids {
				in := goodInput()
				if id != "" {
					mutations[id](in)
				}
				for _, name := range Builtin {
					p := packs[name]
					parts, err := p.EvaluateParts(in)
					if err != nil {
						t.Fatalf("%s: pack %s part by part: %v", id, name, err)
					}
					whole, err := p.EvaluateWhole(in)
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range p.Checks {
						if !reflect.DeepEqual(parts[c], whole[c]) {
							t.Errorf("%s: check %s part by part finds %v; over the whole input %v", id, c.ID, parts[c], whole[c])
						}
						if c.ID == id && len(whole[c]) == 0 {
							t.Errorf("%s: the failing input passes", id)
						}
					}
				}
			}
		})
	}
}
