package report

import (
	"strings"
	"testing"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
)

func TestMarkdown(t *testing.T) {
	r := &Report{Tool: "pipec", Target: "ci", Findings: diag.List{
		{Severity: diag.Error, Pos: model.Pos{File: "ci/pipec.cue", Line: 6, Col: 2}, Path: "pipelines.app.tasks.t.steps[0].scrpt",
			Message: `unknown field "scrpt"`, Hint: `did you mean "script"?`, Source: "cue"},
		{Severity: diag.Warning, ID: "pipec/baseline/x", Message: "a | b\n<img src=x> *bold* [link](u) `code`"},
	}, Waivers: []policies.WaiverStatus{{Check: "pipec/baseline/y", Where: "ci/waivers.cue:3:4", Reason: "legacy | tool", Expires: "2027-01-01", Status: "active", Suppressed: 2}}}
	var b strings.Builder
	if err := r.Write(&b, Markdown); err != nil {
		t.Fatal(err)
	}
	want := "### pipec `ci`: 1 deny, 1 warn, 0 info\n\n" +
		"| Level | Where | Check | Finding |\n| --- | --- | --- | --- |\n" +
		"| :x: deny | `ci/pipec.cue:6:2` | `pipec/config/cue` | pipelines.app.tasks.t.steps\\[0\\].scrpt: unknown field \"scrpt\"; hint: did you mean \"script\"? |\n" +
		"| :warning: warn |  | `pipec/baseline/x` | a \\| b<br>&lt;img src=x&gt; \\*bold\\* \\[link\\](u) \\`code\\` |\n\n" +
		"| Waiver | Where | Reason | Until | Status |\n| --- | --- | --- | --- | --- |\n" +
		"| `pipec/baseline/y` | `ci/waivers.cue:3:4` | legacy \\| tool | 2027-01-01 | active, 2 suppressed |\n\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// Every table row has as many cells as its header, whatever the
	// message holds.
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "| :") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 5 {
			t.Errorf("row with a broken cell count: %s", line)
		}
	}

	b.Reset()
	if err := (&Report{Tool: "pipec", Target: "."}).Write(&b, Markdown); err != nil {
		t.Fatal(err)
	}
	if b.String() != "### pipec `.`: no findings\n\n" {
		t.Errorf("clean run: %q", b.String())
	}
}
