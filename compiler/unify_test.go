package compiler

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pipec/pipec/internal/testing/benchgen"
)

// TestPartsMatchWhole holds the part-wise unification to the whole one, on
// every bundled example and CLI script configuration and on cases written
// to tell them apart: whenever the parts validate, the whole validates too
// and decodes to the same plan; when the whole does not validate, neither
// do the parts, so that the whole's errors are the ones reported.
func TestPartsMatchWhole(t *testing.T) {
	configs := testConfigs(t)
	const head = "package ci\n"
	cases := map[string]string{
		"unknown top-level field":     `pipelines: {}, pipeline: a: {}`,
		"top-level field optional":    `namespace?: "ci"`,
		"top-level field required":    `namespace!: string`,
		"entry optional":              `tasks: t?: steps: [{name: "s", image: "busybox:1.36"}]`,
		"entry required":              `tasks: t!: _`,
		"section not a struct":        `pipelines: 5`,
		"typo in an entry":            `tasks: t: {step: []}`,
		"typo through a template":     "_t: {stepz: []}\ntasks: t: _t",
		"section pattern":             "tasks: [string]: description: \"shared\"\ntasks: t: steps: [{name: \"s\", image: \"busybox:1.36\"}]",
		"reference to a default":      "apps: a: {team: \"t\", source: repoURL: \"https://x/y.git\"}\napps: b: {team: \"t\", source: repoURL: \"https://x/y.git\", replicas: apps.a.replicas}\nteams: t: {}",
		"reference across entries":    "tasks: a: steps: [{name: \"s\", image: \"busybox:1.36\"}]\ntasks: b: tasks.a",
		"conflict across entries":     "tasks: a: steps: [{name: \"s\", image: \"busybox:1.36\"}]\ntasks: b: tasks.a & {steps: [{name: \"t\", image: \"busybox:1.36\"}]}",
		"incomplete value":            `tasks: t: steps: [{name: string, image: "busybox:1.36"}]`,
		"policy packs left open":      `policy: packs: p: {input: _}`,
		"default only from schema":    `defaults: step: resources: requests: cpu: "200m"`,
		"hidden and definitions":      "_x: 1\n#D: {a: int}\nnamespace: \"ci\"",
		"error in a hidden field":     "_x: 1 & 2\nnamespace: \"ci\"",
		"error in a section's hidden": "tasks: _x: 1 & 2",
		"optional schema field set":   `monitoring: {}`,
	}
	for name, src := range cases {
		configs[name] = map[string][]byte{"pipec.cue": []byte(head + src)}
	}
	for name, text := range benchgen.Teams(60) {
		if configs["teams"] == nil {
			configs["teams"] = map[string][]byte{}
		}
		configs["teams"][name] = []byte(text)
	}
	// These must take the fast path: a build that falls back to the
	// whole unification is correct but slow, and nothing else would
	// notice.
	fast := map[string]bool{"teams": true, "shop": true, "go-service": true, "polyglot": true, "burst": true}
	both, whole := 0, 0
	for name, files := range configs {
		dir := filepath.Join(t.TempDir(), "config")
		overlay := map[string][]byte{}
		for f, data := range files {
			overlay[filepath.Join(dir, f)] = data
		}
		l, err := loadConfig(dir, overlay, nil)
		if err != nil {
			continue
		}
		x := newExplainer(l, dir)
		src, _ := userSources(x)
		parts := newPartTree(l.user, x.root, &textLog{})
		partPlan, partDiags := decodePlan(parts, src)
		partsOK := parts.done()

		// The same, shared with a helper that takes every entry it can:
		// the same plan, findings and texts, and the same fallback.
		h := loadHelper(dir, overlay, nil)
		h.wait()
		h.only = true
		shared := newPartTree(l.user, x.root, &textLog{})
		shared.helper = h
		sharedPlan, sharedDiags := decodePlan(shared, src)
		if sharedOK := shared.done(); sharedOK != partsOK {
			t.Errorf("%s: alone, the parts validate: %v; shared with a helper: %v", name, partsOK, sharedOK)
		} else if partsOK {
			if a, b := dump(t, sharedPlan, sharedDiags, shared.texts.all), dump(t, partPlan, partDiags, parts.texts.all); a != b {
				t.Errorf("%s: shared with a helper, the parts decode to\n%s\nalone to\n%s", name, a, b)
			}
		}

		unified := l.user.Unify(x.root)
		wholeOK := validateConcrete(unified) == nil
		if partsOK && !wholeOK {
			t.Errorf("%s: the parts validate, the whole does not: %v", name, validateConcrete(unified))
			continue
		}
		if !wholeOK {
			continue
		}
		whole++
		if !partsOK {
			if fast[name] {
				t.Errorf("%s: valid, but decoded whole, not part by part", name)
			}
			t.Logf("%s: valid, decoded whole", name)
			continue
		}
		both++
		wholeLog := &textLog{}
		wholePlan, wholeDiags := decodePlan(wholeTree{node{v: unified, texts: wholeLog}}, src)
		if a, b := dump(t, partPlan, partDiags, parts.texts.all), dump(t, wholePlan, wholeDiags, wholeLog.all); a != b {
			t.Errorf("%s: the parts decode to\n%s\nthe whole to\n%s", name, a, b)
		}
		if a, b := parts.field("policy").v, (wholeTree{node{v: unified}}).field("policy").v; fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: policy differs:\n%v\n%v", name, a, b)
		}
	}
	if both < whole*9/10 || both < 100 {
		t.Fatalf("the parts validated for %d of the %d configurations that validate whole", both, whole)
	}
	t.Logf("%d of %d valid configurations decoded part by part", both, whole)
}

func dump(t *testing.T, v ...any) string {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHelperSideBySide builds a configuration with a helper decoding beside
// the build's goroutine, as a build does (hack/test.sh runs it under
// -race): both decode entries, and the plan is the one decoded alone.
func TestHelperSideBySide(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	overlay := map[string][]byte{}
	for name, text := range benchgen.Teams(60) {
		overlay[filepath.Join(dir, name)] = []byte(text)
	}
	l, err := loadConfig(dir, overlay, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := newExplainer(l, dir)
	src, _ := userSources(x)
	alone := newPartTree(l.user, x.root, &textLog{})
	alonePlan, aloneDiags := decodePlan(alone, src)
	if !alone.done() {
		t.Fatal("the parts do not validate")
	}
	for range 3 {
		h := loadHelper(dir, overlay, nil)
		h.wait() // both start together
		shared := newPartTree(l.user, x.root, &textLog{})
		shared.helper = h
		plan, diags := decodePlan(shared, src)
		if !shared.done() {
			t.Fatal("shared with a helper, the parts do not validate")
		}
		if a, b := dump(t, plan, diags, shared.texts.all), dump(t, alonePlan, aloneDiags, alone.texts.all); a != b {
			t.Fatalf("shared with a helper, the parts decode to\n%s\nalone to\n%s", a, b)
		}
		entries := len(alonePlan.Pipelines) + len(alonePlan.Apps) + len(alonePlan.Teams) + len(alonePlan.Environments) + len(alonePlan.Tasks)
		if n := h.decoded.Load(); n > 0 && int(n) < entries {
			return // both decoded
		}
		t.Logf("the helper decoded %d of %d entries", h.decoded.Load(), entries)
	}
	t.Fatal("in three builds, the helper and the build's goroutine never both decoded entries")
}
