package compiler_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/resolution/resolver/cluster"
	"github.com/tektoncd/pipeline/pkg/resolution/resolver/framework"
	"github.com/tektoncd/pipeline/pkg/resolution/resolver/http"
	"github.com/tektoncd/pipeline/pkg/resolution/resolver/hub"
	"sigs.k8s.io/yaml"

	"github.com/pipec/pipec/compiler"
)

// TestTaskRefMatchesUpstream holds pipec's check of remote task references
// to Tekton's own: the ValidateParams of the cluster, http and hub
// resolvers of Tekton v1.10.0, configured with the ConfigMaps of Tekton's
// release (read from the module). For every combination of parameters,
// present or absent, with valid and invalid values, a reference the
// resolver refuses must be refused by pipec; one pipec refuses must be
// refused by the resolver too, except where pipec is stricter on purpose
// (stricter says why). The bundles and git resolvers' packages are not
// linked here: bundles brings the cloud registries' credential helpers,
// and git a go-scm that does not build with the gitea SDK the other
// dependencies select.
func TestTaskRefMatchesUpstream(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tektoncd/pipeline").Output()
	if err != nil {
		t.Skipf("cannot find Tekton's module: %v", err)
	}
	config := func(name string) map[string]string {
		data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "config", "resolvers", name))
		if err != nil {
			t.Fatal(err)
		}
		var cm struct{ Data map[string]string }
		if err := yaml.Unmarshal(data, &cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data
	}
	type resolver struct {
		name     string
		config   string
		validate func(context.Context, []v1.Param) error
		// values each parameter takes in the cases; "" is absent.
		values map[string][]string
		// stricter says why pipec refuses a case the resolver accepts,
		// or "" when it should not.
		stricter func(p map[string]string) string
	}
	resolvers := []resolver{
		{
			name: "cluster", config: "cluster-resolver-config.yaml", validate: cluster.ValidateParams,
			values: map[string][]string{"kind": {"", "task", "pipeline", "bogus"}, "name": {"", "lint"}, "namespace": {"", "tekton-tasks"}},
			stricter: func(p map[string]string) string {
				switch {
				case p["kind"] == "pipeline":
					return "a pipeline task's ref resolves a task"
				case p["namespace"] == "":
					return "the release's default-namespace is empty, so the resolver looks in no namespace"
				}
				return ""
			},
		},
		{
			name: "http", config: "http-resolver-config.yaml", validate: http.ValidateParams,
			values: map[string][]string{
				"url":                  {"", "https://example.com/task.yaml", "ftp://example.com/task.yaml", "example.com/task.yaml"},
				"http-username":        {"", "bot"},
				"http-password-secret": {"", "creds"},
				"digest":               {"", "sha256:5b8e0c5b2bd2c0a3e4b19bb8b5e9f1c2d3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8", "md5:abc"},
			},
			stricter: func(p map[string]string) string {
				if p["digest"] == "md5:abc" {
					return "the resolver checks the digest's form only when it fetches"
				}
				return ""
			},
		},
		{
			name: "hub", config: "hubresolver-config.yaml",
			validate: func(ctx context.Context, ps []v1.Param) error {
				return hub.ValidateParams(ctx, ps, "https://api.hub.tekton.dev")
			},
			values: map[string][]string{
				"name": {"", "git-clone"}, "version": {"", "0.9", ">= 0.9"},
				"kind": {"", "task", "pipeline", "bogus"}, "type": {"", "artifact", "tekton", "bogus"},
			},
			stricter: func(p map[string]string) string {
				if p["kind"] == "pipeline" {
					return "a pipeline task's ref resolves a task"
				}
				return ""
			},
		},
	}
	cases := 0
	for _, r := range resolvers {
		ctx := framework.InjectResolverConfigToContext(context.Background(), config(r.config))
		var names []string
		for n := range r.values {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, p := range combinations(names, r.values) {
			cases++
			var ps []v1.Param
			var cue []string
			for _, n := range names {
				if v := p[n]; v != "" {
					ps = append(ps, v1.Param{Name: n, Value: *v1.NewStructuredValues(v)})
					cue = append(cue, fmt.Sprintf("%q: %q", n, v))
				}
			}
			upstream := r.validate(ctx, ps)
			findings := refFindings(t, r.name, strings.Join(cue, ", "))
			switch why := r.stricter(p); {
			case upstream != nil && len(findings) == 0:
				t.Errorf("%s %v: Tekton refuses it (%v), pipec accepts it", r.name, p, upstream)
			case upstream == nil && len(findings) > 0 && why == "":
				t.Errorf("%s %v: Tekton accepts it, pipec refuses it: %v", r.name, p, findings)
			case upstream == nil && len(findings) == 0 && why != "":
				t.Errorf("%s %v: pipec should refuse it (%s)", r.name, p, why)
			}
		}
	}
	t.Logf("%d references compared with Tekton's resolvers", cases)
}

// combinations lists every assignment of the values to the names.
func combinations(names []string, values map[string][]string) []map[string]string {
	out := []map[string]string{{}}
	for _, n := range names {
		var next []map[string]string
		for _, m := range out {
			for _, v := range values[n] {
				c := map[string]string{n: v}
				for k, x := range m {
					c[k] = x
				}
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

// refFindings builds a pipeline whose one task is a remote reference and
// returns the errors found at it.
func refFindings(t *testing.T, resolver, params string) []string {
	t.Helper()
	src := fmt.Sprintf("package ci\nnamespace: \"ci\"\npipelines: p: tasks: t: ref: {resolver: %q, params: {%s}}\n", resolver, params)
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "/ref", BaseDir: "/ref", Overlay: map[string][]byte{"/ref/pipec.cue": []byte(src)}})
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	var out []string
	for _, d := range res.Diagnostics {
		if d.Severity == 2 && strings.HasPrefix(string(d.Path), "pipelines.p.tasks.t") {
			out = append(out, d.Message)
		}
	}
	return out
}
