package diag

import (
	"testing"

	"github.com/pipec/pipec/model"
)

func TestSuggest(t *testing.T) {
	tests := []struct {
		s     string
		cands []string
		want  string
	}{
		{"scrpt", []string{"script", "steps", "image"}, "script"},
		{"pipeline", []string{"pipelines", "tasks"}, "pipelines"},
		{"lnt", []string{"lint", "test"}, "lint"},
		{"zzzzzz", []string{"lint", "test"}, ""},
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.s, tt.cands); got != tt.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tt.s, tt.cands, got, tt.want)
		}
	}
}

func TestDiagnosticString(t *testing.T) {
	d := Diagnostic{
		Severity: Error, Pos: model.Pos{File: "pipec.cue", Line: 3, Col: 7}, Path: "pipelines.a.timeout",
		Message: `invalid duration "10 minutes"`, Expected: `a duration such as "10m"`, Hint: "use Go duration syntax",
	}
	want := `pipec.cue:3:7: pipelines.a.timeout: invalid duration "10 minutes"; expected a duration such as "10m"; hint: use Go duration syntax`
	if got := d.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	w := Diagnostic{Severity: Warning, Message: "m"}
	if got := w.String(); got != "warning: m" {
		t.Errorf("warning String() = %q", got)
	}
}

func TestSortDedup(t *testing.T) {
	l := List{
		{Pos: model.Pos{File: "b.cue", Line: 1, Col: 1}, Message: "x"},
		{Pos: model.Pos{File: "a.cue", Line: 2, Col: 1}, Message: "y"},
		{Pos: model.Pos{File: "a.cue", Line: 2, Col: 1}, Message: "y"},
		{Pos: model.Pos{File: "a.cue", Line: 1, Col: 5}, Message: "z"},
	}.Sort()
	if len(l) != 3 || l[0].Message != "z" || l[1].Message != "y" || l[2].Message != "x" {
		t.Fatalf("Sort() = %v", l)
	}
	if l.HasErrors() {
		t.Fatal("warnings reported as errors")
	}
	l[0].Severity = Error
	if !l.HasErrors() {
		t.Fatal("error not found")
	}
}
