package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/pipec/pipec/internal/cli"
	"github.com/pipec/pipec/internal/testing/kubetest"
)

const chartDir = "../../../charts/pipec"

// helm returns the path of the helm binary hack/tools.sh builds.
func helm(t *testing.T) string {
	t.Helper()
	dir, err := kubetest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("helm not found at %s: run hack/tools.sh to build it from tools/helm", p)
	}
	return p
}

func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// chartValueSets are the value files the chart is tested with: its
// defaults and every file in ci/ (the chart-testing convention).
func chartValueSets(t *testing.T) map[string]string {
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least three value sets in %s/ci, found %v", chartDir, files)
	}
	sets := map[string]string{"default": ""}
	for _, f := range files {
		sets[strings.TrimSuffix(filepath.Base(f), "-values.yaml")] = f
	}
	return sets
}

// TestChart lints and renders the chart for every value set, and creates
// everything it renders on the real API server in a namespace that
// enforces the restricted Pod Security Standard.
func TestChart(t *testing.T) {
	ctx := context.Background()
	for name, values := range chartValueSets(t) {
		t.Run(name, func(t *testing.T) {
			var vf []string
			if values != "" {
				vf = []string{"-f", values}
			}
			if out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, vf...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			ns := "chart-" + name
			out, err := runHelm(t, append([]string{"template", "pipec", chartDir, "--namespace", ns}, vf...)...)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := runHelm(t, append([]string{"template", "pipec", chartDir, "--namespace", ns}, vf...)...)
			if !bytes.Equal(out, again) {
				t.Error("helm template is not deterministic")
			}
			objs, err := kubetest.DecodeYAML(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := server.CreateNamespace(ctx, ns, map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
				"pod-security.kubernetes.io/warn":    "restricted",
				"pod-security.kubernetes.io/audit":   "restricted",
			}); err != nil {
				t.Fatal(err)
			}
			server.TakeWarnings()
			var kinds []string
			for _, o := range objs {
				if o.GetNamespace() != ns {
					t.Errorf("%s %s is in namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
				}
				if err := server.Create(ctx, o, false); err != nil {
					t.Errorf("the API server refused it: %v", err)
				}
				kinds = append(kinds, o.GetKind())
				if o.GetKind() == "Deployment" {
					checkServeArgs(t, o)
				}
			}
			if w := server.TakeWarnings(); len(w) > 0 {
				t.Errorf("the API server warned (Pod Security restricted, deprecated or unknown fields):\n%s", strings.Join(w, "\n"))
			}
			for _, want := range []string{"Deployment", "Service"} {
				if !slices.Contains(kinds, want) {
					t.Errorf("no %s rendered", want)
				}
			}
			t.Logf("%d objects accepted: %v", len(objs), kinds)
		})
	}
}

// checkServeArgs makes sure pipec serve accepts the arguments the chart
// passes it.
func checkServeArgs(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Run(append(args, "--help"), nil, &stdout, &stderr); code != 0 {
		t.Errorf("pipec %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
}

// TestChartRefusesBadValues checks that values.schema.json and the
// templates' own checks refuse mistakes with a message that names them.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"replicaCount=0"}, "replicaCount"},
		{[]string{"replicas=3"}, "additional properties 'replicas' not allowed"},
		{[]string{"image.digest=latest"}, "image.digest"},
		{[]string{"config.logFormat=xml"}, "config.logFormat"},
		{[]string{"config.buildTimeout=1m"}, "config.buildTimeout"},
		{[]string{"github.enabled=true"}, "github.enabled needs github.existingSecret"},
		{[]string{"gitlab.enabled=true", "gitlab.apiURL=gitlab.example.com"}, "gitlab.apiURL"},
		{[]string{"service.port=70000"}, "service.port"},
	} {
		t.Run(strings.Join(tc.set, ","), func(t *testing.T) {
			args := []string{"template", "pipec", chartDir}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := runHelm(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error about %q, got %v", tc.want, err)
			}
		})
	}
}

// TestChartREADMEDocumentsEveryValue keeps the chart README's table in step
// with values.yaml.
func TestChartREADMEDocumentsEveryValue(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllSubmatch(readme, -1) {
		documented[string(m[1])] = true
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 || documented[prefix] {
			keys = append(keys, prefix)
			return
		}
		for k, sub := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
		}
	}
	walk("", values)
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("values.yaml has %s, which the README's table does not document", k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("the README documents %s, which values.yaml does not have", k)
	}
}
