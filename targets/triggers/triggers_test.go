package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
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

// TestTriggerGroups checks that a provider's interceptor runs once per
// delivery, in a trigger group, for the Triggers it selects by name: the
// webhook secret and event type decide for all of them, each Trigger's
// filter decides on its own event kind, path filters get the changed files
// from their group, and a Trigger left behind by an earlier build starts
// nothing.
func TestTriggerGroups(t *testing.T) {
	plan := &model.Plan{
		Namespace: "ci",
		Triggers:  model.Triggers{Provider: model.GitHub, WebhookSecret: &model.KeyRef{Name: "hook", Key: "secret"}, Replicas: 1, ServiceType: "ClusterIP"},
		Pipelines: []*model.Pipeline{
			{Name: "api", On: &model.On{Push: &model.BranchFilter{Branches: []string{"main"}, Paths: []string{"internal/cart/"}}}},
			{Name: "web", On: &model.On{Push: &model.BranchFilter{Branches: []string{"main"}}, PullRequest: &model.PullRequestFilter{Branches: []string{"main"}, Events: []string{"opened"}, Forks: model.ForksIgnore}}},
		},
	}
	objs, diags := New().Generate(context.Background(), plan)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var el *triggersv1.EventListener
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *triggersv1.EventListener:
			el = v
		case *triggersv1.Trigger:
			for _, i := range v.Spec.Interceptors {
				if i.Ref.Name != "cel" {
					t.Errorf("Trigger %s runs the %s interceptor of its own", v.Name, i.Ref.Name)
				}
			}
		}
	}
	var groups []string
	for _, g := range el.Spec.TriggerGroups {
		groups = append(groups, fmt.Sprintf("%s%v", g.Name, g.TriggerSelector.LabelSelector.MatchExpressions[0].Values))
	}
	if want := "[github[web-pull-request web-push] github-changed-files[api-push]]"; fmt.Sprint(groups) != want || len(el.Spec.Triggers) != 0 {
		t.Errorf("trigger groups %v, triggers %v; want %s and none listed", groups, el.Spec.Triggers, want)
	}
	// A Trigger of an earlier build, still in the cluster.
	stale := objs[slices.IndexFunc(objs, func(o targets.Object) bool { return o.Name == "web-push" })]
	old := stale.Value.(*triggersv1.Trigger).DeepCopy()
	old.Name, old.Labels[LabelTriggerName] = "old-push", "old-push"
	objs = append(objs, targets.Object{Value: old})

	run := func(event, file string, secret string, files ...string) map[string]string {
		t.Helper()
		body, err := os.ReadFile("testdata/webhooks/" + file)
		if err != nil {
			t.Fatal(err)
		}
		d := Delivery{Header: http.Header{"X-Github-Event": {event}}, Body: body, ChangedFiles: files,
			Secret: func(string, string) ([]byte, error) { return []byte(SimulationSecret()), nil }}
		Sign(model.GitHub, &d, []byte(secret))
		outcomes, err := Simulate(context.Background(), objs, d)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, o := range outcomes {
			got[o.Trigger] = o.Reason
			if o.Started {
				got[o.Trigger] = "started"
			}
		}
		return got
	}
	check := func(got map[string]string, want map[string]string) {
		t.Helper()
		for name, reason := range want {
			if !strings.Contains(got[name], reason) {
				t.Errorf("%s: %q, want %q", name, got[name], reason)
			}
		}
		if len(got) != len(want) {
			t.Errorf("outcomes %v, want those of %d Triggers", got, len(want))
		}
	}
	check(run("push", "github-push-main.json", SimulationSecret()), map[string]string{
		"api-push": "started", "web-push": "started", "web-pull-request": "not a pull-request event (X-GitHub-Event: push)",
	})
	check(run("push", "github-push-main.json", "wrong secret"), map[string]string{
		"api-push": "github interceptor: ", "web-push": "github interceptor: ", "web-pull-request": "not a pull-request event",
	})
	check(run("issues", "github-push-main.json", SimulationSecret()), map[string]string{
		"api-push": "not a push event (X-GitHub-Event: issues)", "web-push": "not a push event", "web-pull-request": "not a pull-request event",
	})
	check(run("pull_request", "github-pull-request-opened.json", SimulationSecret(), "docs/README.md"), map[string]string{
		"api-push": "not a push event", "web-push": "not a push event", "web-pull-request": "started",
	})
}
