package triggers

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pipec/pipec/model"
)

func TestGlobRE(t *testing.T) {
	tests := []struct {
		glob  string
		match []string
		miss  []string
	}{
		{"main", []string{"main"}, []string{"mainline", "x/main"}},
		{"release/*", []string{"release/1.2"}, []string{"release/1.2/hotfix", "release"}},
		{"v*", []string{"v1.2.0", "v"}, []string{"x-v1"}},
		{"services/api/**", []string{"services/api/main.go", "services/api/a/b/c.go"}, []string{"services/apix/main.go"}},
		{"**/*.go", []string{"main.go", "a/b/c.go"}, []string{"README.md", "a/b.go.txt"}},
		{"docs/?.md", []string{"docs/a.md"}, []string{"docs/ab.md"}},
		{"a.b", []string{"a.b"}, []string{"axb"}},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(globRE(tt.glob))
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%q should match %q (%s)", tt.glob, s, re)
			}
		}
		for _, s := range tt.miss {
			if re.MatchString(s) {
				t.Errorf("%q should not match %q (%s)", tt.glob, s, re)
			}
		}
	}
}

// TestFiltersCompile compiles every filter and overlay pipec generates, for
// both providers and all event kinds, in Tekton Triggers' CEL environment.
func TestFiltersCompile(t *testing.T) {
	on := &model.On{
		Push:        &model.BranchFilter{Branches: []string{"main", "release/*"}, Paths: []string{"src/", "**/*.go", "go.mod"}},
		Tags:        []string{"v*", "stable"},
		PullRequest: &model.PullRequestFilter{Branches: []string{"main"}, Events: []string{"opened", "synchronize", "reopened", "closed", "merged", "ready_for_review"}, Paths: []string{"src/"}},
		Filter:      "body.repository.private == false || header.match('X-Test', 'yes')",
	}
	for _, provider := range []string{model.GitHub, model.GitLab} {
		for _, kind := range Kinds(on) {
			f := FilterFor(provider, kind, on)
			if err := CompileCEL(f.Expression, true); err != nil {
				t.Errorf("%s %s filter %q: %v", provider, kind, f.Expression, err)
			}
			for _, o := range f.Overlays {
				if err := CompileCEL(o.Expression, false); err != nil {
					t.Errorf("%s %s overlay %q: %v", provider, kind, o.Expression, err)
				}
			}
		}
	}
	if err := CompileCEL("body.x +", true); err == nil {
		t.Error("a broken expression compiled")
	}
}

// TestBindingsFitTemplate checks by construction what Triggers checks only
// when a webhook arrives: every binding parameter is a template parameter,
// and every template reference is declared.
func TestBindingsFitTemplate(t *testing.T) {
	fields := map[string]bool{EventKindParam: true}
	for _, f := range model.EventFields {
		fields[f] = true
	}
	for provider, kinds := range Events {
		for kind, ev := range kinds {
			for name := range ev.Bindings {
				if !fields[name] {
					t.Errorf("%s %s binds %q, which the template does not declare", provider, kind, name)
				}
			}
			for _, want := range []string{"url", "revision", "repository", "author"} {
				if _, ok := ev.Bindings[want]; !ok {
					t.Errorf("%s %s does not bind %q", provider, kind, want)
				}
			}
		}
	}
	p := &model.Pipeline{Name: "p", On: &model.On{Push: &model.BranchFilter{Branches: []string{"main"}}}, Params: []*model.Param{{Name: "git-url"}, {Name: "pr-number"}}}
	tt := triggerTemplate(&model.Plan{Namespace: "ci"}, p)
	raw := string(tt.Spec.ResourceTemplates[0].Raw)
	for _, m := range regexp.MustCompile(`\$\(tt\.params\.([a-z-]+)\)`).FindAllStringSubmatch(raw, -1) {
		if !fields[m[1]] {
			t.Errorf("the PipelineRun uses $(tt.params.%s), which the template does not declare", m[1])
		}
	}
	if !strings.Contains(raw, `"value":"$(tt.params.url)"`) || !strings.Contains(raw, `"value":"$(tt.params.pr-number)"`) {
		t.Errorf("well-known parameters are not set from the event: %s", raw)
	}
}
