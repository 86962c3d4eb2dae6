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
	m := SourceMap{
		"pipelines.app":          {File: "a.cue", Line: 3, Col: 1},
		"pipelines.app.tasks.x":  {File: "a.cue", Line: 5, Col: 2},
		"pipelines.app.tasks.y":  {},
		`pipelines."my-app".foo`: {File: "b.cue", Line: 9, Col: 4},
	}
	tests := map[Path]Pos{
		"pipelines.app.tasks.x.steps[0].image": {File: "a.cue", Line: 5, Col: 2},
		"pipelines.app.tasks.y":                {File: "a.cue", Line: 3, Col: 1}, // invalid entries are skipped
		`pipelines."my-app".foo.bar`:           {File: "b.cue", Line: 9, Col: 4},
		"tasks.z":                              {},
	}
	for p, want := range tests {
		if got := m.Lookup(p); got != want {
			t.Errorf("Lookup(%s) = %v, want %v", p, got, want)
		}
	}
}
