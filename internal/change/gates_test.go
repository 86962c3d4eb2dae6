package change

import (
	"slices"
	"strings"
	"testing"

	"github.com/pipec/pipec/targets"
)

// TestGateNotices: removing a gate task, turning the scan non-fatal and
// removing an admission policy or rule are notices; removing an ordinary
// task, or adding a gate, is not.
func TestGateNotices(t *testing.T) {
	gate := func(name, kind string) map[string]any {
		return map[string]any{"name": name, "taskSpec": map[string]any{"metadata": map[string]any{"labels": map[string]any{labelGate: kind}}}}
	}
	pipeline := func(tasks ...any) map[string]any { return map[string]any{"spec": map[string]any{"tasks": tasks}} }
	policy := func(rules ...string) map[string]any {
		var rs []any
		for _, r := range rules {
			rs = append(rs, map[string]any{"name": r})
		}
		return map[string]any{"spec": map[string]any{"rules": rs}}
	}
	keyless := func(subject string) map[string]any {
		return map[string]any{"spec": map[string]any{"rules": []any{map[string]any{"name": "signed-by-api", "verifyImages": []any{map[string]any{
			"attestors": []any{map[string]any{"entries": []any{map[string]any{"keyless": map[string]any{"subject": subject}}}}},
		}}}}}}
	}
	admits := func(unsigned ...any) map[string]any {
		conds := []any{map[string]any{"key": "k", "operator": "AnyNotIn", "value": []any{"ghcr.io/acme/api:*"}}}
		if unsigned != nil {
			conds = append(conds, map[string]any{"key": "k", "operator": "AnyNotIn", "value": unsigned})
		}
		return map[string]any{"spec": map[string]any{"rules": []any{map[string]any{"name": "only-admitted-images", "validate": map[string]any{
			"foreach": []any{map[string]any{"deny": map[string]any{"conditions": map[string]any{"all": conds}}}},
		}}}}}
	}
	build := map[string]any{"name": "build"}
	withThreshold := func(t map[string]any, v string) map[string]any {
		t["taskSpec"].(map[string]any)["steps"] = []any{map[string]any{"name": "trivy", "env": []any{map[string]any{"name": "THRESHOLD", "value": v}}}}
		return t
	}
	scan := gate("scan-image", "scan")
	scanContinue := gate("scan-image", "scan")
	scanContinue["onError"] = "continue"
	cases := []struct {
		name     string
		old, new []any
		want     []string
	}{
		{"gate removed", []any{pipeline(build, scan, gate("sign-image", "sign"))}, []any{pipeline(build, scan)}, []string{"supply-chain gate removed: sign (task sign-image)"}},
		{"gate added", []any{pipeline(build)}, []any{pipeline(build, scan)}, nil},
		{"task removed", []any{pipeline(build, map[string]any{"name": "lint"})}, []any{pipeline(build)}, nil},
		{"scan non-fatal", []any{pipeline(build, scan)}, []any{pipeline(build, scanContinue)}, []string{"the vulnerability scan no longer fails the run (onError: continue)"}},
		{"threshold raised", []any{pipeline(build, withThreshold(gate("scan-image", "scan"), "medium"))}, []any{pipeline(build, withThreshold(gate("scan-image", "scan"), "critical"))}, []string{"the vulnerability scan fails on fewer findings (failOn medium -> critical)"}},
		{"threshold lowered", []any{pipeline(build, withThreshold(gate("scan-image", "scan"), "critical"))}, []any{pipeline(build, withThreshold(gate("scan-image", "scan"), "high"))}, nil},
		{"keyless subject changed", []any{keyless("https://kubernetes.io/namespaces/ci/serviceaccounts/api-pipeline")}, []any{keyless("*")}, []string{"admission policy prod: who may sign, or which images are verified, changed (subject)"}},
		{"rule removed", []any{policy("signed-by-api", "signed-by-web")}, []any{policy("signed-by-api")}, []string{"admission rule signed-by-web removed: its images are no longer verified"}},
		{"policy removed", []any{policy("signed-by-api")}, nil, []string{"admission policy prod removed: the images of its environment are no longer verified"}},
		{"first unsigned image admitted", []any{admits()}, []any{admits("docker.io/library/redis:*")}, []string{"admission policy prod now admits unsigned docker.io/library/redis:*: review what may run there"}},
		{"unsigned image added", []any{admits("docker.io/library/redis:*")}, []any{admits("docker.io/library/redis:*", "quay.io/*")}, []string{"admission policy prod now admits unsigned quay.io/*: review what may run there"}},
		{"unsigned image replaced", []any{admits("docker.io/library/redis:*")}, []any{admits("docker.io/library/nginx:*")}, []string{"admission policy prod now admits unsigned docker.io/library/nginx:*: review what may run there"}},
		{"unsigned image removed", []any{admits("docker.io/library/redis:*", "quay.io/*")}, []any{admits("quay.io/*")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind := "Pipeline"
			if c.name == "rule removed" || c.name == "policy removed" || c.name == "keyless subject changed" || strings.Contains(c.name, "unsigned") {
				kind = "ClusterPolicy"
			}
			old := obj(kind, "prod", c.old[0].(map[string]any))
			news := []targets.Object(nil)
			if c.new != nil {
				news = append(news, obj(kind, "prod", c.new[0].(map[string]any)))
			}
			cs, err := Compare(append([]targets.Object(nil), old), news)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range cs {
				got = append(got, ch.Notices...)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("notices = %q, want %q", got, c.want)
			}
		})
	}
}
