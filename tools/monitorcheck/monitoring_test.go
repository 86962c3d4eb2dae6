package monitorcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"
	"k8s.io/kube-state-metrics/v2/pkg/customresourcestate"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/monitoring"
)

func init() {
	// kube-state-metrics logs through klog; keep the test output to
	// what fails.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

var examples = []string{"go-service", "monorepo", "polyglot", "shop"}

func build(t *testing.T, example string) []targets.Object {
	t.Helper()
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/" + example})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("building %s: %v %v", example, err, res.Diagnostics)
	}
	return res.Objects
}

// asMap turns a generated object into its JSON form.
func asMap(t *testing.T, o targets.Object) map[string]any {
	t.Helper()
	b, err := json.Marshal(o.Value)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExpressionsParse parses every alert and dashboard expression pipec
// emits with Prometheus' parser.
func TestExpressionsParse(t *testing.T) {
	exprs := 0
	for _, ex := range examples {
		for _, o := range build(t, ex) {
			switch {
			case o.Kind == "PrometheusRule":
				spec := asMap(t, o)["spec"].(map[string]any)
				for _, g := range spec["groups"].([]any) {
					for _, r := range g.(map[string]any)["rules"].([]any) {
						r := r.(map[string]any)
						if _, err := parser.ParseExpr(r["expr"].(string)); err != nil {
							t.Errorf("%s: alert %s: %v\n%s", ex, r["alert"], err, r["expr"])
						}
						exprs++
					}
				}
			case o.Kind == "ConfigMap" && o.Name == "pipec-ci-dashboard":
				cm := o.Value.(*corev1.ConfigMap)
				var d struct {
					Panels []struct {
						Title   string
						Targets []struct{ Expr string }
					}
				}
				if err := json.Unmarshal([]byte(cm.Data["pipec-ci.json"]), &d); err != nil {
					t.Fatalf("%s: dashboard: %v", ex, err)
				}
				for _, p := range d.Panels {
					for _, tg := range p.Targets {
						if _, err := parser.ParseExpr(tg.Expr); err != nil {
							t.Errorf("%s: panel %q: %v\n%s", ex, p.Title, err, tg.Expr)
						}
						exprs++
					}
				}
			}
		}
	}
	if exprs < 10 {
		t.Fatalf("only %d expressions found; the examples should have monitoring", exprs)
	}
}

// run is a PipelineRun as Tekton leaves it.
type run struct {
	name, pipeline, trigger string
	status                  string // Succeeded condition: True, False, Unknown
	completed               int64  // seconds since the epoch; 0 while running
}

func (r run) object() *unstructured.Unstructured {
	status := map[string]any{
		"startTime":  "2026-01-01T00:00:00Z",
		"conditions": []any{map[string]any{"type": "Succeeded", "status": r.status, "reason": "x"}},
	}
	if r.completed > 0 {
		status["completionTime"] = time.Unix(r.completed, 0).UTC().Format(time.RFC3339)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
		"metadata": map[string]any{
			"name": r.name, "namespace": "shop-ci",
			"labels": map[string]any{"tekton.dev/pipeline": r.pipeline, "pipec.dev/trigger": r.trigger},
		},
		"status": status,
	}}
}

// series runs kube-state-metrics' custom resource state metrics, as
// configured by the shop's ConfigMap, over runs; it returns the series in
// promqltest's load syntax.
func series(t *testing.T, runs []run) []string {
	t.Helper()
	var config string
	for _, o := range build(t, "shop") {
		if o.Kind == "ConfigMap" && o.Name == "pipec-pipelinerun-metrics" {
			config = o.Value.(*corev1.ConfigMap).Data[monitoring.KSMConfigKey]
		}
	}
	if config == "" {
		t.Fatal("the shop has no pipec-pipelinerun-metrics ConfigMap")
	}
	var m customresourcestate.Metrics
	if err := yaml.NewDecoder(strings.NewReader(config)).Decode(&m); err != nil {
		t.Fatalf("kube-state-metrics cannot decode the configuration: %v", err)
	}
	if len(m.Spec.Resources) != 1 {
		t.Fatalf("%d resources configured", len(m.Spec.Resources))
	}
	factory, err := customresourcestate.NewCustomResourceMetrics(m.Spec.Resources[0])
	if err != nil {
		t.Fatalf("kube-state-metrics rejects the configuration: %v", err)
	}
	var out []string
	for _, r := range runs {
		for _, g := range factory.MetricFamilyGenerators() {
			fam := g.Generate(r.object())
			for _, mt := range fam.Metrics {
				var labels []string
				for i, k := range mt.LabelKeys {
					labels = append(labels, fmt.Sprintf("%s=%q", k, mt.LabelValues[i]))
				}
				sort.Strings(labels)
				labels = slices.DeleteFunc(labels, func(l string) bool { return strings.HasPrefix(l, "customresource_") })
				out = append(out, fmt.Sprintf("%s{%s} %g", g.Name, strings.Join(labels, ","), mt.Value))
			}
		}
	}
	return out
}

func TestKubeStateMetricsSeries(t *testing.T) {
	got := series(t, []run{
		{"cart-1", "cart", "push", "False", 1000},
		{"cart-2", "cart", "pull-request", "Unknown", 0},
	})
	for _, want := range []string{
		`pipec_pipelinerun_status{namespace="shop-ci",pipeline="cart",pipelinerun="cart-1",status="False",trigger="push"} 1`,
		`pipec_pipelinerun_status{namespace="shop-ci",pipeline="cart",pipelinerun="cart-1",status="True",trigger="push"} 0`,
		`pipec_pipelinerun_completion_time{namespace="shop-ci",pipeline="cart",pipelinerun="cart-1",trigger="push"} 1000`,
		`pipec_pipelinerun_status{namespace="shop-ci",pipeline="cart",pipelinerun="cart-2",status="Unknown",trigger="pull-request"} 1`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	// A running PipelineRun has no completion time: 0, not an error.
	if want := `pipec_pipelinerun_completion_time{namespace="shop-ci",pipeline="cart",pipelinerun="cart-2",trigger="pull-request"} 0`; !slices.Contains(got, want) {
		t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
	}
}

// TestMainBranchAlert evaluates the shop's PipecMainBranchRunFailed
// expression with Prometheus' engine over the series kube-state-metrics
// exports for sets of PipelineRuns.
func TestMainBranchAlert(t *testing.T) {
	var expr string
	for _, o := range build(t, "shop") {
		if o.Kind == "PrometheusRule" {
			spec := asMap(t, o)["spec"].(map[string]any)
			for _, r := range spec["groups"].([]any)[0].(map[string]any)["rules"].([]any) {
				if r := r.(map[string]any); r["alert"] == "PipecMainBranchRunFailed" {
					expr = r["expr"].(string)
				}
			}
		}
	}
	if expr == "" {
		t.Fatal("the shop has no PipecMainBranchRunFailed alert")
	}
	for _, tc := range []struct {
		name string
		runs []run
		want []string // pipelineruns the alert fires for
	}{
		{"a failed push run fires", []run{
			{"cart-1", "cart", "push", "False", 1000},
			{"catalog-1", "catalog", "push", "True", 1000},
		}, []string{"cart-1"}},
		{"failed pull request runs do not", []run{
			{"cart-1", "cart", "push", "True", 1000},
			{"cart-2", "cart", "pull-request", "False", 2000},
		}, nil},
		{"a later successful push clears it", []run{
			{"cart-1", "cart", "push", "False", 1000},
			{"cart-2", "cart", "push", "True", 2000},
		}, nil},
		{"a run in progress does not clear it", []run{
			{"cart-1", "cart", "push", "False", 1000},
			{"cart-2", "cart", "push", "Unknown", 0},
		}, []string{"cart-1"}},
		{"a later failure is the one reported", []run{
			{"cart-1", "cart", "push", "True", 1000},
			{"cart-2", "cart", "push", "False", 2000},
			{"checkout-1", "checkout", "push", "False", 1500},
		}, []string{"cart-2", "checkout-1"}},
		{"pipelines not built on every push are not main-branch", []run{
			{"smoke-1", "smoke-dev", "push", "False", 1000},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var load strings.Builder
			load.WriteString("load 1m\n")
			for _, s := range series(t, tc.runs) {
				name, value, _ := strings.Cut(s, "} ")
				fmt.Fprintf(&load, "  %s} %s+0x10\n", name, value)
			}
			storage := promqltest.LoadedStorage(t, load.String())
			defer storage.Close()
			engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(5*60, 0))
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			var fired []string
			for _, s := range vec {
				fired = append(fired, s.Metric.Get("pipelinerun"))
			}
			sort.Strings(fired)
			if !slices.Equal(fired, tc.want) {
				t.Errorf("fires for %v, want %v\n%s", fired, tc.want, load.String())
			}
		})
	}
}
