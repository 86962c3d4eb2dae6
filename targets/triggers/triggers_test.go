package triggers

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
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
// both providers, all event kinds and every way to take forks, in Tekton
// Triggers' CEL environment.
func TestFiltersCompile(t *testing.T) {
	on := &model.On{
		Push:        &model.BranchFilter{Branches: []string{"main", "release/*"}, Paths: []string{"src/", "**/*.go", "go.mod"}},
		Tags:        []string{"v*", "stable"},
		PullRequest: &model.PullRequestFilter{Forks: model.ForksUntrusted, Branches: []string{"main"}, Events: []string{"opened", "synchronize", "reopened", "closed", "merged", "ready_for_review"}, Paths: []string{"src/"}},
		Filter:      "body.repository.private == false || header.match('X-Test', 'yes')",
	}
	trusted := *on
	trusted.PullRequest = &model.PullRequestFilter{Forks: model.ForksTrusted, Branches: []string{"main"}, Events: []string{"opened"}}
	for _, provider := range []string{model.GitHub, model.GitLab} {
		filters := map[string]Filter{
			"fork pull-request":    ForkFilter(provider, on),
			"trusted pull-request": FilterFor(provider, model.EventPullRequest, &trusted),
		}
		for _, kind := range Kinds(on) {
			filters[kind] = FilterFor(provider, kind, on)
		}
		for kind, f := range filters {
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
	plan := &model.Plan{Namespace: "ci"}
	tt := triggerTemplate(plan, p.Name, PipelineRun(plan, p))
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

// TestDeletedFork runs pull requests whose head repository is gone through
// both pull request triggers: GitHub sends a null head repository, which
// the origin condition and its negation both fail to evaluate on, so
// neither trigger starts a run with or without credentials.
func TestDeletedFork(t *testing.T) {
	body, err := os.ReadFile("testdata/webhooks/github-pull-request-fork.json")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		t.Fatal(err)
	}
	payload["pull_request"].(map[string]any)["head"].(map[string]any)["repo"] = nil
	body, _ = json.Marshal(payload)

	plan := &model.Plan{
		Namespace: "ci",
		Triggers:  model.Triggers{Provider: model.GitHub, WebhookSecret: &model.KeyRef{Name: "hook", Key: "secret"}, Replicas: 1, ServiceType: "ClusterIP"},
		Pipelines: []*model.Pipeline{{Name: "check", On: &model.On{PullRequest: &model.PullRequestFilter{
			Branches: []string{"main"}, Events: []string{"opened"}, Forks: model.ForksUntrusted,
		}}}},
	}
	objs, diags := New().Generate(context.Background(), plan)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d := Delivery{Header: http.Header{"X-Github-Event": {"pull_request"}}, Body: body,
		Secret: func(string, string) ([]byte, error) { return []byte(SimulationSecret()), nil }}
	Sign(model.GitHub, &d, []byte(SimulationSecret()))
	outcomes, err := Simulate(context.Background(), objs, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 2 {
		t.Fatalf("%d outcomes, want the pull request and fork triggers'", len(outcomes))
	}
	for _, o := range outcomes {
		if o.Started || !strings.Contains(o.Reason, "failed to evaluate") {
			t.Errorf("%s: started %v (%s); want the filter to fail to evaluate", o.Trigger, o.Started, o.Reason)
		}
	}
}
