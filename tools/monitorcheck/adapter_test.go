package monitorcheck

import (
	"context"
	"testing"
	"time"

	pmodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/promqltest"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	prom "sigs.k8s.io/prometheus-adapter/pkg/client"
	"sigs.k8s.io/prometheus-adapter/pkg/config"
	"sigs.k8s.io/prometheus-adapter/pkg/naming"

	"github.com/pipec/pipec/targets/scaling"
)

// TestAdapterServesExternalMetrics runs the shop's Prometheus Adapter
// rules through the adapter's own naming and query code: the series Tekton
// exports is exposed under the name the HPA asks for, and the query the
// adapter sends Prometheus for the HPA's namespace and selector sums only
// that namespace's series.
func TestAdapterServesExternalMetrics(t *testing.T) {
	objs := build(t, "shop")
	var cfgYAML string
	var hpa map[string]any
	for _, o := range objs {
		switch {
		case o.Kind == "ConfigMap" && o.Name == "pipec-prometheus-adapter":
			cfgYAML = o.Value.(*corev1.ConfigMap).Data[scaling.AdapterConfigKey]
		case o.Kind == "HorizontalPodAutoscaler" && o.Name == "go-proxy":
			hpa = asMap(t, o)
		}
	}
	if cfgYAML == "" || hpa == nil {
		t.Fatal("the shop has no adapter configuration or no go-proxy autoscaler")
	}
	cfg, err := config.FromYAML([]byte(cfgYAML))
	if err != nil {
		t.Fatalf("the adapter rejects the configuration: %v", err)
	}
	mapper := apimeta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, apimeta.RESTScopeRoot)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, apimeta.RESTScopeNamespace)
	namers, err := naming.NamersFromConfig(cfg.ExternalRules, mapper)
	if err != nil {
		t.Fatalf("the adapter rejects the external rules: %v", err)
	}

	metric := hpa["spec"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["external"].(map[string]any)["metric"].(map[string]any)
	name := metric["name"].(string)
	sel := labels.Set{}
	for k, v := range metric["selector"].(map[string]any)["matchLabels"].(map[string]any) {
		sel[k] = v.(string)
	}
	series := prom.Series{Name: name, Labels: pmodel.LabelSet{"namespace": "shop-ci"}}
	var namer naming.MetricNamer
	for _, n := range namers {
		if len(n.FilterSeries([]prom.Series{series})) == 1 {
			if got, err := n.MetricNameForSeries(series); err == nil && got == name {
				namer = n
			}
		}
	}
	if namer == nil {
		t.Fatalf("no rule exposes %s under that name", name)
	}
	storage := promqltest.LoadedStorage(t, `load 1m
  tekton_pipelines_controller_running_pipelineruns{namespace="shop-ci"} 7+0x10
  tekton_pipelines_controller_running_pipelineruns{namespace="other-ci"} 100+0x10
`)
	defer storage.Close()
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	// With the HPA's selector, and with none: the adapter itself keeps
	// to the HPA's namespace.
	for _, selector := range []labels.Selector{labels.SelectorFromSet(sel), labels.Everything()} {
		query, err := namer.QueryForExternalSeries(name, "shop-ci", selector)
		if err != nil {
			t.Fatal(err)
		}
		q, err := engine.NewInstantQuery(context.Background(), storage, nil, string(query), time.Unix(5*60, 0))
		if err != nil {
			t.Fatalf("Prometheus rejects the adapter's query %s: %v", query, err)
		}
		vec, err := q.Exec(context.Background()).Vector()
		if err != nil {
			t.Fatal(err)
		}
		if len(vec) != 1 || vec[0].F != 7 {
			t.Errorf("the adapter's query %s gives %v; want 7, the shop-ci runs only", query, vec)
		}
	}
}
