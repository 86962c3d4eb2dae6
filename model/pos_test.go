package model

import "testing"

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
