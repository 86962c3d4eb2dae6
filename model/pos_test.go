package model

import (
	"regexp"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	p := Path("").Field("pipelines").Field("go-service").Field("tasks").Field("lint").Field("steps").Index(0).Field("image")
	if want := `pipelines."go-service".tasks.lint.steps[0].image`; string(p) != want {
		t.Fatalf("path = %s, want %s", p, want)
	}
	parents := []Path{
		`pipelines."go-service".tasks.lint.steps[0]`,
		`pipelines."go-service".tasks.lint.steps`,
		`pipelines."go-service".tasks.lint`,
		`pipelines."go-service".tasks`,
		`pipelines."go-service"`,
		`pipelines`,
		``,
	}
	for _, want := range parents {
		p = p.Parent()
		if p != want {
			t.Fatalf("parent = %s, want %s", p, want)
		}
	}
	if got := Path("").Field("a.b").Parent(); got != "" {
		t.Errorf(`parent of "a.b" = %q, want ""`, got)
	}
	if got := Path("").Field("#def").Field("_hidden"); got != `"#def"."_hidden"` {
		t.Errorf("quoting = %s", got)
	}
}

func TestSourceMapLookup(t *testing.T) {
	table := map[Path]Pos{
		"pipelines.app":          {File: "a.cue", Line: 3, Col: 1},
		"pipelines.app.tasks.x":  {File: "a.cue", Line: 5, Col: 2},
		"pipelines.app.tasks.y":  {},
		`pipelines."my-app".foo`: {File: "b.cue", Line: 9, Col: 4},
	}
	asked := map[Path]int{}
	lazy := LazySourceMap(func(p Path) Pos { asked[p]++; return table[p] })
	tests := map[Path]Pos{
		"pipelines.app.tasks.x.steps[0].image": {File: "a.cue", Line: 5, Col: 2},
		"pipelines.app.tasks.y":                {File: "a.cue", Line: 3, Col: 1}, // invalid entries are skipped
		`pipelines."my-app".foo.bar`:           {File: "b.cue", Line: 9, Col: 4},
		"tasks.z":                              {},
	}
	for name, m := range map[string]SourceMap{"table": NewSourceMap(table), "lazy": lazy} {
		for range 2 {
			for p, want := range tests {
				if got := m.Lookup(p); got != want {
					t.Errorf("%s: Lookup(%s) = %v, want %v", name, p, got, want)
				}
			}
		}
	}
	// The lazy map asks once per path, and only for the paths it walks.
	for p, n := range asked {
		if n != 1 {
			t.Errorf("lazy: asked for %s %d times", p, n)
		}
	}
	if _, ok := asked["pipelines"]; ok {
		t.Error("lazy: asked beyond the nearest known ancestor")
	}
	for name, m := range map[string]SourceMap{"table": NewSourceMap(table), "lazy": lazy} {
		if !m.Has("pipelines.app") || m.Has("pipelines.app.tasks.y") || m.Has("pipelines.app.tasks.x.steps") {
			t.Errorf("%s: Has must be true for exactly the paths with a position", name)
		}
	}
	if got := (SourceMap{}).Lookup("a.b"); got.IsValid() {
		t.Errorf("zero SourceMap: %v", got)
	}
}

func TestSourceMapAlias(t *testing.T) {
	at := func(line int) Pos { return Pos{File: "a.cue", Line: line, Col: 1} }
	step := Path(`tasks.t.steps[0]`)
	m := NewSourceMap(map[Path]Pos{
		step:                                                  at(10),
		step + ".securityContext":                             at(11),
		step + ".securityContext.runAsUser":                   at(12),
		"tasks.t.stepTemplate":                                at(20),
		"tasks.t.stepTemplate.securityContext":                at(21),
		"tasks.t.stepTemplate.workingDir":                     at(23),
		"tasks.t.stepTemplate.securityContext.seccompProfile": at(22),
		"defaults.step.securityContext":                       at(30),
		"defaults.step.securityContext.privileged":            at(31),
		"defaults.step.securityContext.seccompProfile":        at(32),
		"defaults.step.securityContext.capabilities.add[1]":   at(33),
	})
	for _, f := range []string{"resources", "securityContext"} {
		m.Alias(step.Field(f), Path("tasks.t.stepTemplate").Field(f))
		m.Alias(step.Field(f), Path("defaults.step").Field(f))
	}
	m.Alias(step, "tasks.t.stepTemplate")
	m.Alias(step, "tasks.t.stepTemplate") // recorded once
	tests := []struct {
		path Path
		want Pos
		from Path
	}{
		// The step's own value, however deep the aliases go.
		{step + ".securityContext.runAsUser", at(12), step + ".securityContext.runAsUser"},
		// The template before the defaults, the defaults before the
		// step's enclosing securityContext.
		{step + ".securityContext.seccompProfile", at(22), "tasks.t.stepTemplate.securityContext.seccompProfile"},
		{step + ".securityContext.privileged", at(31), "defaults.step.securityContext.privileged"},
		{step + ".securityContext.capabilities.add[1]", at(33), "defaults.step.securityContext.capabilities.add[1]"},
		// Written nowhere: the nearest ancestor the step writes.
		{step + ".securityContext.runAsGroup", at(11), step + ".securityContext"},
		{step + ".workingDir", at(23), "tasks.t.stepTemplate.workingDir"},
		{step + ".image", at(10), step},
	}
	for _, tt := range tests {
		from, pos := m.Resolve(tt.path)
		if pos != tt.want || from != tt.from {
			t.Errorf("Resolve(%s) = %s %v, want %s %v", tt.path, from, pos, tt.from, tt.want)
		}
	}
	if !m.Written(step+".securityContext.privileged") || m.Written(step+".securityContext.runAsGroup") {
		t.Error("Written must hold for a value written through an alias, and not for one only an ancestor has")
	}
	var zero SourceMap
	zero.Alias("a", "b")
	if zero.Written("a") {
		t.Error("zero SourceMap: Written")
	}
}

// TestPlainLabel holds plainLabel to the rule it replaced: an identifier
// by the regular expression below, not hidden (_) nor a definition (#).
func TestPlainLabel(t *testing.T) {
	ident := regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	alphabet := []string{"", "a", "Z", "0", "9", "_", "$", "#", "-", ".", "é", " ", "\"", "x1"}
	var names []string
	for _, a := range alphabet {
		for _, b := range alphabet {
			for _, c := range alphabet {
				names = append(names, a+b+c)
			}
		}
	}
	names = append(names, "git-url", "svc-0001", "IMAGE_DIGEST", "$ref", "_hidden", "#Def", "go-version", "a.b", "日本")
	for _, n := range names {
		want := ident.MatchString(n) && !strings.HasPrefix(n, "_") && !strings.HasPrefix(n, "#")
		if got := plainLabel(n); got != want {
			t.Errorf("plainLabel(%q) = %v, want %v", n, got, want)
		}
	}
}
