package argo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestValidateProjectMatchesUpstream: validateProject accepts and rejects
// the same projects as Argo CD's own AppProject.ValidateProject, with the
// same message, one passing and one failing case per rule.
func TestValidateProjectMatchesUpstream(t *testing.T) {
	window := func(mod func(w *SyncWindow)) *SyncWindow {
		w := &SyncWindow{Kind: "allow", Schedule: "0 9 * * 1-5", Duration: "8h", Namespaces: []string{"ns"}, Clusters: []string{"c"}, TimeZone: "UTC", ManualSync: true}
		if mod != nil {
			mod(w)
		}
		return w
	}
	policy := func(act string) string { return "p, proj:team:dev, applications, " + act + ", team/*, allow" }
	role := func(name string, policies, groups []string) ProjectRole {
		return ProjectRole{Name: name, Policies: policies, Groups: groups}
	}
	dest := func(server, ns string) ApplicationDestination {
		return ApplicationDestination{Server: server, Namespace: ns}
	}
	cases := []struct {
		name  string
		spec  AppProjectSpec
		valid bool
	}{
		{"empty", AppProjectSpec{}, true},
		{"destinations", AppProjectSpec{Destinations: []ApplicationDestination{dest("https://a", "x"), dest("https://a", "y")}}, true},
		{"duplicate destination", AppProjectSpec{Destinations: []ApplicationDestination{dest("https://a", "x"), dest("https://a", "x")}}, false},
		{"negated server", AppProjectSpec{Destinations: []ApplicationDestination{dest("!*", "x")}}, false},
		{"negated namespace", AppProjectSpec{Destinations: []ApplicationDestination{dest("https://a", "!*")}}, false},
		{"source repos", AppProjectSpec{SourceRepos: []string{"https://a.git", "https://b.git"}}, true},
		{"duplicate source repo", AppProjectSpec{SourceRepos: []string{"https://a.git", "https://a.git"}}, false},
		{"negated source repo", AppProjectSpec{SourceRepos: []string{"!*"}}, false},
		{"roles", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{policy("get"), policy("sync"), policy("override"), policy("update"), policy("action/*")}, []string{"devs", `"a, b"`})}}, true},
		{"duplicate role", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, nil), role("dev", nil, nil)}}, false},
		{"role name with a space", AppProjectSpec{Roles: []ProjectRole{role("on call", nil, nil)}}, false},
		{"role name ending in a dash", AppProjectSpec{Roles: []ProjectRole{role("dev-", nil, nil)}}, false},
		{"duplicate policy", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{policy("get"), policy("get")}, nil)}}, false},
		{"bare action", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{policy("action")}, nil)}}, false},
		{"unknown action", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{policy("restart")}, nil)}}, false},
		{"other project's subject", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{"p, proj:other:dev, applications, get, team/*, allow"}, nil)}}, false},
		{"unknown resource", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{"p, proj:team:dev, secrets, get, team/*, allow"}, nil)}}, false},
		{"other project's object", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{"p, proj:team:dev, applications, get, other/*, allow"}, nil)}}, false},
		{"bad effect", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{"p, proj:team:dev, applications, get, team/*, maybe"}, nil)}}, false},
		{"five components", AppProjectSpec{Roles: []ProjectRole{role("dev", []string{"p, proj:team:dev, applications, get, team/*"}, nil)}}, false},
		{"duplicate group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{"g", "g"})}}, false},
		{"unquoted comma in a group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{"a, b"})}}, false},
		{"empty group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{" "})}}, false},
		{"tab in a group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{"a\tb"})}}, false},
		{"leading space in a group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{" ab"})}}, false},
		{"trailing space in a group", AppProjectSpec{Roles: []ProjectRole{role("dev", nil, []string{"ab "})}}, false},
		{"windows", AppProjectSpec{SyncWindows: []*SyncWindow{window(nil), window(func(w *SyncWindow) { w.Kind = "deny"; w.Schedule = "0 22 * * *" }), nil}}, true},
		{"windows differing only in manual sync", AppProjectSpec{SyncWindows: []*SyncWindow{window(nil), window(func(w *SyncWindow) { w.ManualSync = false })}}, false},
		{"windows differing in time zone", AppProjectSpec{SyncWindows: []*SyncWindow{window(nil), window(func(w *SyncWindow) { w.TimeZone = "Europe/Paris" })}}, true},
		{"unknown time zone falls back to UTC", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.TimeZone = "Mars/Olympus" })}}, true},
		{"window kind", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Kind = "block" })}}, false},
		{"window schedule out of range", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Schedule = "0 25 * * *" })}}, false},
		{"window schedule with seconds", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Schedule = "0 0 9 * * 1-5" })}}, false},
		{"window schedule descriptor", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Schedule = "@daily" })}}, false},
		{"window duration", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Duration = "8 hours" })}}, false},
		{"window without a target", AppProjectSpec{SyncWindows: []*SyncWindow{window(func(w *SyncWindow) { w.Namespaces, w.Clusters = nil, nil })}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &AppProject{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: c.spec}
			raw, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var up v1alpha1.AppProject
			if err := json.Unmarshal(raw, &up); err != nil {
				t.Fatal(err)
			}
			want := up.ValidateProject()
			got := validateProject(p)
			if (want == nil) != c.valid {
				t.Fatalf("the case is wrong: Argo CD says %v, the case says valid=%v", want, c.valid)
			}
			if (got == nil) != (want == nil) {
				t.Fatalf("validateProject: %v; Argo CD: %v", got, want)
			}
			if want != nil && !sameMessage(got.Error(), want.Error()) {
				t.Errorf("message %q; Argo CD's %q", got, want)
			}
		})
	}
}

// sameMessage compares a message with Argo CD's, which is a gRPC status
// ("rpc error: code = InvalidArgument desc = ...") and, for windows, names
// the window's hash.
func sameMessage(got, want string) bool {
	if i := strings.Index(want, " desc = "); i >= 0 {
		want = want[i+len(" desc = "):]
	}
	if i := strings.Index(want, " (hash="); i >= 0 {
		want = want[:i]
	}
	return got == want
}
