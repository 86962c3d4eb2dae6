package policies

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"

	"github.com/pipec/pipec/internal/panics"
	"github.com/pipec/pipec/model"
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
			helpers := `
	_pipelines: [for p in input.pipelines {p.path}]
	_twice: [for s in input.steps {s.path}]
	_twice: [for i in input.images {i.path}]
	_grown: {x: [...string], if true {x: [for p in input.params {p.path}]}}
	H=_h: {a: [for s in input.steps {s.path}]}
	_h: {b: [for i in input.images {i.path}]}
	let _l = input.steps
`
			got := thisCheck(t, "strings", helpers, "violations: ["+tc.src+"]")
			if s := readsString(got.reads); s != tc.want {
				t.Errorf("reads %s; want %s", s, tc.want)
			}
		})
	}
}

// thisCheck analyses a pack of two checks, with the pack-level
// declarations helpers and the import imp: other, which reads the paths
// of volumes one at a time, and this, of body check; it returns what this
// reads.
func thisCheck(t *testing.T, imp, helpers, check string) checkReads {
	t.Helper()
	src := "package p\n\nimport \"" + imp + "\"\n\n_f: {x: _, out: true}\n\npack: {\n\tinput: _\n" + helpers +
		"\tchecks: {\n\t\tother: violations: [for v in input.volumes {path: v.path}]\n\t\tthis: {\n" + check + "\n\t\t}\n\t}\n}\n"
	f, err := parser.ParseFile("p.cue", src)
	if err != nil {
		t.Fatal(err)
	}
	got := packReads([]*ast.File{f})
	if got == nil {
		t.Fatal("the pack was not analysed")
	}
	if s := readsString(got["other"].reads); s != "volumes:path" || got["other"].items != "volumes" {
		t.Errorf("the other check reads %s, %q one item at a time; want volumes:path, volumes", s, got["other"].items)
	}
	return got["this"]
}

// TestPackItems holds the analysis of which checks read a list one item
// at a time to its rules: their violations are one comprehension over
// the list, without an index, and nothing else of the check reads the
// list or refers to the comprehension's surroundings.
func TestPackItems(t *testing.T) {
	for _, tc := range []struct {
		name, check, want string
	}{
		{"one item at a time", `violations: [for s in input.steps if s.privileged {path: s.path}]`, "steps"},
		{"an item's own list", `violations: [for s in input.steps for e in s.env if e.value != "" {path: e.path}]`, "steps"},
		{"another list, whole", `violations: [for s in input.steps for i in input.images if i.image == s.image {path: i.path}]`, "steps"},
		{"a setting", `violations: [for i in input.images if len(input.settings.allowedRegistries) > 0 {path: i.path}]`, "images"},
		{"a helper over another list", `violations: [for s in input.steps if list.Contains(_images, s.image) {path: s.path}]`, "steps"},
		{"an item whole", `violations: [for s in input.steps if (_f & {x: s}).out {path: s.path}]`, "steps"},
		{"a constant of the check", `_allowed: ["CHOWN"], violations: [for s in input.steps if list.Contains(_allowed, s.name) {path: s.path}]`, "steps"},
		{"an index", `violations: [for i, s in input.steps if i > 0 {path: s.path}]`, ""},
		{"the list again", `violations: [for s in input.steps for t in input.steps if s.name == t.name {path: s.path}]`, ""},
		{"its length", `violations: [for s in input.steps if len(input.steps) > 1 {path: s.path}]`, ""},
		{"a helper over the list", `violations: [for s in input.steps if list.Contains(_names, s.name) {path: s.path}]`, ""},
		{"a field of the check over the list", `_n: len(input.steps), violations: [for s in input.steps if _n > 1 {path: s.path}]`, ""},
		{"its own violations", `_n: len(violations), violations: [for s in input.steps if _n >= 0 {path: s.path}]`, ""},
		{"the check itself", `C=violations: [for s in input.steps if len(C) >= 0 {path: s.path}]`, ""},
		{"the checks, this one among them", `violations: [for s in input.steps if len(checks.other.violations) == 0 {path: s.path}]`, ""},
		{"two comprehensions", `violations: [for s in input.steps {path: s.path}, for i in input.images {path: i.path}]`, ""},
		{"an open list", `violations: [for s in input.steps {path: s.path}, ...]`, ""},
		{"concatenated", `violations: list.Concat([[for s in input.steps {path: s.path}], []])`, ""},
		{"an if first", `violations: [if true for s in input.steps {path: s.path}]`, ""},
		{"another list first", `violations: [for _ in [1] let l = input.steps for s in l {path: s.path}]`, ""},
		{"a helper's list", `violations: [for p in _pipelines {path: p}]`, ""},
		{"violations twice", "violations: [for s in input.steps {path: s.path}]\nviolations: [...]", ""},
		{"input itself", `violations: [for s in input.steps if len(input) > 0 {path: s.path}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			helpers := `
	_images: [for i in input.images {i.image}]
	_names: [for s in input.steps {s.name}]
	_pipelines: [for p in input.pipelines {p.path}]
`
			if got := thisCheck(t, "list", helpers, tc.check); got.items != tc.want {
				t.Errorf("reads %q one item at a time; want %q", got.items, tc.want)
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
		if a, b := readsString(got["a"].reads), readsString(got["b"].reads); a != want[0] || b != want[1] {
			t.Errorf("with\n%s\nchecks a and b read %q and %q; want %q and %q", other, a, b, want[0], want[1])
		}
		if c := readsString(got["c"].reads); c != "steps:path" {
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
	// The checks a large configuration's input cannot be split for (one
	// batch holds all of what they read): a check that joins this list
	// raises the memory of large builds.
	var whole []string
	for _, name := range Builtin {
		for _, g := range packs[name].split {
			if g.items == "" {
				whole = append(whole, name+"/"+g.checks[0].Name)
			}
		}
	}
	slices.Sort(whole)
	if want := []string{"baseline/namespace-system", "restricted/allowed-registries", "restricted/capabilities-restricted"}; !slices.Equal(whole, want) {
		t.Errorf("checks that read their lists whole: %v; want %v", whole, want)
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

// serialPacks returns the built-in packs for a test that evaluates them
// without goroutines, and skips it in the race run, which covers Run
// through TestCheckExamples.
func serialPacks(t *testing.T) map[string]*Pack {
	t.Helper()
	if raceEnabled {
		t.Skip("no goroutine here; the race run covers Run through TestCheckExamples")
	}
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	return packs
}

// TestPartsOnFailingInputs holds each built-in pack, part by part, to its
// evaluation over the whole input on the good input and on each check's
// failing input (policies_test.go), with the parts in batches and each
// part on its own; no part may fail.
func TestPartsOnFailingInputs(t *testing.T) {
	packs := serialPacks(t)
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
	for _, batch := range [][2]int{{minBatch, 0}, {-1, 0}, {-1, 1}} {
		t.Run(fmt.Sprintf("minBatch=%d,runItems=%d", batch[0], batch[1]), func(t *testing.T) {
			SetMinBatch(t, batch[0])
			SetRunItems(t, batch[1])
			for _, id := range ids {
				in := goodInput()
				if id != "" {
					mutations[id](in)
				}
				for c, vs := range partsMatchWhole(t, packs, id, in) {
					if c.ID == id && len(vs) == 0 {
						t.Errorf("%s: the failing input passes", id)
					}
				}
			}
		})
	}
}

// TestBatchesSplitRuns: a part larger than the limit that reads a list
// one item at a time is split into runs of about the same size, in order,
// covering the list; the other parts are not split, and no batch but a
// part that cannot be split is much larger than the limit.
func TestBatchesSplitRuns(t *testing.T) {
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	in := goodInput()
	step := in.Steps[0]
	in.Steps = nil
	for i := range 1000 {
		s := step
		s.Path = fmt.Sprintf("tasks.t%d.steps[0]", i)
		s.Env = []EnvVar{{Path: s.Path + ".env.A", Name: "A", Value: "a"}, {Path: s.Path + ".env.B", Name: "B", Value: "b"}}
		in.Steps = append(in.Steps, s)
	}
	SetMinBatch(t, 2000)
	all := in.sizes()
	batches := in.batches(packs["baseline"].split)
	covered := map[string]int{}
	for _, b := range batches {
		if b.items == "" {
			continue
		}
		if len(b.checks) != 1 {
			t.Fatalf("a run of items holds %d checks", len(b.checks))
		}
		name := b.checks[0].Name
		if b.from != covered[name] || b.to <= b.from {
			t.Errorf("check %s: a run of items %d to %d after %d", name, b.from, b.to, covered[name])
		}
		covered[name] = b.to
		if n := size(all, b.reads) * (b.to - b.from) / len(in.Steps); n > 2000 {
			t.Errorf("check %s: a run of %d values", name, n)
		}
	}
	for _, name := range []string{"privileged", "secret-env-literal", "step-resources"} {
		if covered[name] != len(in.Steps) {
			t.Errorf("check %s: runs cover %d steps of %d", name, covered[name], len(in.Steps))
		}
	}
	if _, ok := covered["namespace-system"]; ok {
		t.Error("namespace-system, which reads its list whole, was split")
	}
}

// TestRunsOnRepeatedItems holds each built-in pack, in runs of two items
// and each part on its own, to its evaluation over the whole input on the
// good input and on each check's failing input with every item of every
// list repeated five times: every run holds its items only, so a check
// finds each repeated item once per item, as over the whole list.
func TestRunsOnRepeatedItems(t *testing.T) {
	packs := serialPacks(t)
	SetMinBatch(t, -1)
	SetRunItems(t, 2)
	ids := append(slices.Sorted(maps.Keys(failing)), "")
	for _, id := range ids {
		in := goodInput()
		if id != "" {
			failing[id](in)
		}
		repeatItems(in, 5)
		partsMatchWhole(t, packs, id, in)
	}
}

// partsMatchWhole evaluates each built-in pack over in part by part, as
// the test has set the batches, and over the whole input, and reports
// every check whose violations differ; it returns those over the whole
// input.
func partsMatchWhole(t *testing.T, packs map[string]*Pack, label string, in *Input) map[*Check][]Violation {
	t.Helper()
	out := map[*Check][]Violation{}
	for _, name := range Builtin {
		p := packs[name]
		parts, err := p.EvaluateParts(in)
		if err != nil {
			t.Fatalf("%s: pack %s part by part: %v", label, name, err)
		}
		whole, err := p.EvaluateWhole(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Checks {
			if !reflect.DeepEqual(parts[c], whole[c]) {
				t.Errorf("%s: check %s part by part finds %d: %v; over the whole input %d: %v", label, c.ID, len(parts[c]), parts[c], len(whole[c]), whole[c])
			}
			out[c] = whole[c]
		}
	}
	return out
}

// repeatItems repeats every item of every list of in n times.
func repeatItems(in *Input, n int) {
	v := reflect.ValueOf(in).Elem()
	for _, i := range jsonFields(v.Type()) {
		f := v.FieldByIndex(i)
		if f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Struct {
			continue
		}
		out := reflect.MakeSlice(f.Type(), 0, f.Len()*n)
		for k := range f.Len() {
			for range n {
				out = reflect.Append(out, f.Index(k))
			}
		}
		f.Set(out)
	}
}

// TestEncodePartRun: a run of items is encoded with those items only,
// whether the check reads some of their fields or all of them.
func TestEncodePartRun(t *testing.T) {
	in := goodInput()
	repeatItems(in, 10)
	for _, fs := range []fieldSet{{"name": true}, nil} {
		v, err := in.encodePart(cuecontext.New(), part{reads: reads{"steps": fs}, items: "steps", from: 2, to: 5})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := v.LookupPath(cue.ParsePath("steps")).Len().Int64(); err != nil || n != 3 {
			t.Errorf("fields %v: a run of steps 2 to 5 is encoded with %d steps (%v); want 3", fs, n, err)
		}
	}
}

// TestBorrow: a pack in use is lent as a copy in a CUE context of its own
// (a CUE context is not safe for concurrent use), the pack itself again
// once given back, and copies are kept for the next use; a pack that
// cannot be copied is not lent twice.
func TestBorrow(t *testing.T) {
	packs, err := BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	p := packs["baseline"]
	a := p.borrow()
	b := p.borrow()
	if a != p || b == nil || b == p || b.v.Context() == p.v.Context() {
		t.Fatalf("borrowed %p and %p of %p: want the pack, then a copy in another context", a, b, p)
	}
	if b.Name != p.Name || len(b.Checks) != len(p.Checks) || b.split == nil {
		t.Errorf("the copy is not the pack: %s, %d checks", b.Name, len(b.Checks))
	}
	p.giveBack(b)
	if c := p.borrow(); c != b {
		t.Errorf("a copy given back is not lent again")
	}
	p.giveBack(a)
	if c := p.borrow(); c != p {
		t.Errorf("the pack given back is not lent again")
	} else {
		p.giveBack(c)
	}
	custom := &Pack{Name: "custom", v: p.v}
	if c := custom.borrow(); c != custom || custom.borrow() != nil {
		t.Errorf("a pack that cannot be copied is lent twice")
	}
}

// TestRunWorkerPanic: a panic in a worker of Run goes on in Run's caller
// with the worker's stack (Build reports it as an internal error, with
// that stack under PIPEC_DEBUG).
func TestRunWorkerPanic(t *testing.T) {
	var c Check
	broken := &Pack{Name: "broken", Checks: []*Check{&c}, split: []part{{checks: []*Check{&c}, reads: reads{"steps": nil}}}}
	defer func() {
		p, ok := recover().(panics.Recovered)
		if !ok {
			t.Fatalf("Run's panic is %#v; want a panics.Recovered", p)
		}
		if !strings.Contains(string(p.Stack), "evaluateBatch") {
			t.Errorf("the stack is not the worker's:\n%s", p.Stack)
		}
	}()
	Run(map[string]*Pack{"broken": broken}, Assignment{"": {"broken"}}, goodInput(), model.NewSourceMap(nil), 2)
	t.Fatal("Run returned")
}
