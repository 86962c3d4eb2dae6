// Package monitoring is pipec's monitoring target: ServiceMonitors for the
// Tekton controller and the EventListener (Prometheus Operator), a
// PrometheusRule with the CI system's alerts (failing runs, first of all on
// the branches pipelines build on every commit, queued runs, autoscalers
// pinned at their maximum, node pools at their limit, releases aborted by
// their analysis), and a Grafana dashboard shipped as a ConfigMap.
package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/triggers"
)

// Name of the target.
const Name = "monitoring"

// APIVersion of the Prometheus Operator objects.
const APIVersion = "monitoring.coreos.com/v1"

// TektonMetrics are the metrics the Tekton Pipelines controller exports
// (tektoncd/pipeline v1.10.0), which autoscalers may scale on once
// monitoring scrapes them.
var TektonMetrics = []string{
	"tekton_pipelines_controller_pipelinerun_duration_seconds",
	"tekton_pipelines_controller_pipelinerun_total",
	"tekton_pipelines_controller_running_pipelineruns",
	"tekton_pipelines_controller_running_taskruns",
	"tekton_pipelines_controller_running_taskruns_throttled_by_node",
	"tekton_pipelines_controller_running_taskruns_throttled_by_quota",
	"tekton_pipelines_controller_taskrun_duration_seconds",
	"tekton_pipelines_controller_taskrun_total",
	"tekton_pipelines_controller_taskruns_pod_latency_milliseconds",
}

// ListenerMetrics are the EventListener's metrics.
var ListenerMetrics = []string{
	"eventlistener_event_received_count",
	"eventlistener_http_duration_seconds",
	"eventlistener_triggered_resources",
}

// Target is the monitoring target.
type Target struct{}

// New returns the monitoring target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: the settings and dashboards, then what
// Prometheus scrapes, then the alerts on it.
func (Target) Kinds() []string {
	return []string{"ConfigMap", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
}

// Generate implements targets.Target.
func (Target) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	m := plan.Monitoring
	if m == nil || plan.Namespace == "" {
		return nil, nil
	}
	labels := map[string]any{}
	for k, v := range targets.Labels(m.PrometheusLabels) {
		labels[k] = v
	}
	obj := func(kind, name, ns string, spec map[string]any) targets.Object {
		return targets.New(Name, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": APIVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels},
			"spec":     spec,
		}}, m.Path, targets.CIDir)
	}
	objs := []targets.Object{
		obj("ServiceMonitor", "pipec-tekton-pipelines", m.TektonNamespace, map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{
				"app.kubernetes.io/name": "controller", "app.kubernetes.io/part-of": "tekton-pipelines",
			}},
			"namespaceSelector": map[string]any{"matchNames": []any{m.TektonNamespace}},
			"endpoints":         []any{map[string]any{"port": "http-metrics", "interval": "30s"}},
		}),
	}
	if hasTriggers(plan) {
		objs = append(objs, obj("ServiceMonitor", "pipec-listener", plan.Namespace, map[string]any{
			"selector":  map[string]any{"matchLabels": map[string]any{"eventlistener": triggers.ListenerName}},
			"endpoints": []any{map[string]any{"port": "http-metrics", "interval": "30s"}},
		}))
	}
	objs = append(objs, obj("PrometheusRule", "pipec-ci", plan.Namespace, map[string]any{"groups": alertGroups(plan, m)}))
	objs = append(objs, pipelineRunMetrics(plan, m)...)
	objs = append(objs, tektonObservability(plan, m))
	if m.Dashboard {
		cm := &corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "pipec-ci-dashboard", Namespace: plan.Namespace, Labels: targets.Labels(map[string]string{
				"grafana_dashboard": "1",
			})},
			Data: map[string]string{"pipec-ci.json": dashboard(plan)},
		}
		objs = append(objs, targets.New(Name, cm, m.Path, targets.CIDir))
	}
	return objs, nil
}

// TektonObservability are the settings of Tekton's config-observability
// ConfigMap that the alerts, dashboard and autoscalers rely on: failed
// runs by pipeline, running runs and throttled TaskRuns by namespace.
var TektonObservability = map[string]string{
	"metrics.pipelinerun.level":                 "pipeline",
	"metrics.running-pipelinerun.level":         "namespace",
	"metrics.taskrun.throttle.enable-namespace": "true",
}

// tektonObservability documents the config-observability settings
// monitoring needs, as a ConfigMap an operator merges into Tekton's (pipec
// does not own Tekton's ConfigMap, so it does not overwrite it).
func tektonObservability(plan *model.Plan, m *model.Monitoring) targets.Object {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(TektonObservability)) {
		fmt.Fprintf(&b, "%s: %q\n", k, TektonObservability[k])
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "pipec-tekton-observability", Namespace: plan.Namespace, Labels: targets.Labels(nil)},
		Data: map[string]string{
			"config-observability.yaml": b.String(),
			"README": "Settings pipec's alerts, dashboard and autoscalers rely on, generated by pipec from monitoring.\n" +
				"Merge config-observability.yaml into the data of ConfigMap config-observability in " + m.TektonNamespace + ":\n" +
				"failed runs are counted per pipeline, running PipelineRuns and throttled TaskRuns per namespace.\n",
		},
	}
	return targets.New(Name, cm, m.Path, targets.CIDir)
}

// KSMConfigKey is the key of the kube-state-metrics configuration in the
// ConfigMap pipelineRunMetrics emits.
const KSMConfigKey = "custom-resource-state.yaml"

// ksmConfig is kube-state-metrics' custom resource state configuration
// for PipelineRuns: each run's Succeeded condition and completion time,
// labelled with its pipeline and the kind of event that started it.
const ksmConfig = `kind: CustomResourceStateMetrics
spec:
  resources:
  - groupVersionKind:
      group: tekton.dev
      version: v1
      kind: PipelineRun
    metricNamePrefix: pipec
    labelsFromPath:
      namespace: [metadata, namespace]
      pipelinerun: [metadata, name]
      pipeline: [metadata, labels, tekton.dev/pipeline]
      trigger: [metadata, labels, pipec.dev/trigger]
    metrics:
    - name: pipelinerun_status
      help: The Succeeded condition of a PipelineRun (True, False or Unknown).
      each:
        type: stateset
        stateSet:
          labelName: status
          path: [status, conditions, "[type=Succeeded]", status]
          list: ["True", "False", "Unknown"]
    - name: pipelinerun_completion_time
      help: When a PipelineRun completed, in seconds since the epoch; 0 while it runs.
      each:
        type: gauge
        gauge:
          path: [status, completionTime]
          nilIsZero: true
`

// pipelineRunMetrics configures kube-state-metrics to export PipelineRuns
// and lets its service account read them.
func pipelineRunMetrics(plan *model.Plan, m *model.Monitoring) []targets.Object {
	name := "pipec-pipelinerun-metrics-" + plan.Namespace
	labels := targets.Labels(nil)
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "pipec-pipelinerun-metrics", Namespace: plan.Namespace, Labels: labels},
		Data: map[string]string{
			KSMConfigKey: ksmConfig,
			"README": "kube-state-metrics custom resource state metrics for PipelineRuns, generated by pipec from monitoring.\n" +
				"Pass " + KSMConfigKey + " to kube-state-metrics with --custom-resource-state-config-file (kube-prometheus-stack:\n" +
				"kube-state-metrics.customResourceState.enabled=true and its config set to this file's content), and add\n" +
				"pipelineruns to --resources if that flag is set. The alert PipecMainBranchRunFailed reads these metrics.\n" +
				"The ClusterRole " + name + " lets the service account " + m.KubeStateMetrics.Namespace + "/" + m.KubeStateMetrics.Name + " list and watch PipelineRuns.\n",
		},
	}
	cr := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"tekton.dev"}, Resources: []string{"pipelineruns"}, Verbs: []string{"list", "watch"}}},
	}
	crb := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: m.KubeStateMetrics.Name, Namespace: m.KubeStateMetrics.Namespace}},
	}
	return []targets.Object{
		targets.New(Name, cm, m.Path, targets.CIDir),
		targets.New(Name, cr, m.Path, targets.CIDir),
		targets.New(Name, crb, m.Path, targets.CIDir),
	}
}

func hasTriggers(plan *model.Plan) bool {
	return slices.ContainsFunc(plan.Pipelines, func(p *model.Pipeline) bool { return p.On != nil })
}

// mainBranchPipelines are the pipelines that run on every push to a branch
// without path filters: their failures are the ones that break the branch
// everybody builds on. The names are quoted for a PromQL regular
// expression (a pipeline name may have dots).
func mainBranchPipelines(plan *model.Plan) (main, other []string) {
	for _, p := range plan.Pipelines {
		if p.On != nil && p.On.Push != nil && len(p.On.Push.Paths) == 0 {
			main = append(main, regexp.QuoteMeta(p.Name))
		} else {
			other = append(other, regexp.QuoteMeta(p.Name))
		}
	}
	return main, other
}

// MainBranchFailedExpr is true for each of the pipelines whose latest
// completed push-started run failed: pull-request and tag runs are not
// counted, and a later successful push run clears it.
func MainBranchFailedExpr(ns string, pipelines []string) string {
	sel := fmt.Sprintf(`namespace=%q, trigger="push", pipeline=~%q`, ns, strings.Join(pipelines, "|"))
	return fmt.Sprintf(`(pipec_pipelinerun_completion_time{%s} == on (namespace, pipeline) group_left () max by (namespace, pipeline) (pipec_pipelinerun_completion_time{%s})) and on (namespace, pipelinerun) (pipec_pipelinerun_status{status="False"} == 1)`, sel, sel)
}

func rule(alert, expr, forDur, severity, summary, description string) map[string]any {
	r := map[string]any{
		"alert": alert, "expr": expr,
		"labels":      map[string]any{"severity": severity},
		"annotations": map[string]any{"summary": summary, "description": description},
	}
	if forDur != "" {
		r["for"] = forDur
	}
	return r
}

func alertGroups(plan *model.Plan, m *model.Monitoring) []any {
	ns := plan.Namespace
	main, other := mainBranchPipelines(plan)
	failed := func(pipelines []string) string {
		return fmt.Sprintf(`sum by (namespace, pipeline) (increase(tekton_pipelines_controller_pipelinerun_duration_seconds_count{namespace=%q, status="failed", pipeline=~%q}[%s])) > 0`,
			ns, strings.Join(pipelines, "|"), m.FailedRunsWindow)
	}
	var rules []any
	if len(main) > 0 {
		rules = append(rules, rule("PipecMainBranchRunFailed", MainBranchFailedExpr(ns, main), "", "critical",
			"The last run of {{ $labels.pipeline }} on a push failed",
			"{{ $labels.pipelinerun }} in {{ $labels.namespace }}, started by a push to a branch {{ $labels.pipeline }} builds on every commit, failed, and no later push run has finished: fix or revert first. (Reads the PipelineRun metrics kube-state-metrics exports with the configuration in ConfigMap pipec-pipelinerun-metrics.)"))
	}
	if len(other) > 0 {
		rules = append(rules, rule("PipecRunFailed", failed(other), "", "warning",
			"Pipeline runs failed: {{ $labels.pipeline }}",
			"Runs of {{ $labels.pipeline }} in {{ $labels.namespace }} failed within the last "+m.FailedRunsWindow+". (Needs Tekton's metrics.pipelinerun.level: pipeline; see ConfigMap pipec-tekton-observability.)"))
	}
	rules = append(rules, rule("PipecRunsQueued",
		fmt.Sprintf(`sum(kube_pod_status_phase{namespace=%q, phase="Pending"}) > 0 or sum(tekton_pipelines_controller_running_taskruns_throttled_by_quota{namespace=%q}) > 0 or sum(tekton_pipelines_controller_running_taskruns_throttled_by_node{namespace=%q}) > 0`, ns, ns, ns),
		m.QueueTime, "warning",
		"Pipeline runs have been waiting for "+m.QueueTime,
		"Pods of pipeline runs in "+ns+" are pending, or TaskRuns are throttled by the quota or by nodes. Check the node pool's limits and the namespace quota (pipec simulate shows the effect of changing them)."))
	for _, a := range plan.Scaling.Autoscalers {
		env := plan.Environment(a.Environment)
		if env == nil {
			continue
		}
		sel := fmt.Sprintf(`namespace=%q, horizontalpodautoscaler=%q`, env.Namespace, a.Name)
		rules = append(rules, rule("PipecAutoscalerAtMax",
			fmt.Sprintf(`kube_horizontalpodautoscaler_status_current_replicas{%s} >= kube_horizontalpodautoscaler_spec_max_replicas{%s}`, sel, sel),
			m.AutoscalerAtMax, "warning",
			"Autoscaler "+a.Name+" is pinned at its maximum",
			fmt.Sprintf("%s has run at maxReplicas (%d) for %s: the load needs more than it may scale to.", a.Name, a.MaxReplicas, m.AutoscalerAtMax)))
	}
	if nss := rolloutNamespaces(plan); len(nss) > 0 {
		rules = append(rules, rule("PipecRolloutAborted",
			fmt.Sprintf(`max by (namespace, name) (rollout_info{namespace=~%q, phase="Abort"}) == 1`, strings.Join(nss, "|")),
			"", "warning",
			"Release of {{ $labels.name }} in {{ $labels.namespace }} was aborted",
			"The Argo Rollouts controller aborted the release of {{ $labels.name }} in {{ $labels.namespace }}: an objective or test of its analysis failed, and the stable version serves all traffic again. `kubectl argo rollouts get rollout {{ $labels.name }} -n {{ $labels.namespace }}` shows which; fix and release again, or retry. (Reads the Argo Rollouts controller's metrics, which Prometheus must scrape.)"))
	}
	for _, p := range plan.Scaling.NodePools {
		rules = append(rules, rule("PipecNodePoolNearLimit",
			fmt.Sprintf(`karpenter_nodepools_usage{nodepool=%q, resource_type="cpu"} / karpenter_nodepools_limit{nodepool=%q, resource_type="cpu"} > %g`, p.Name, p.Name, m.NodePoolUsage),
			"10m", "warning",
			"Node pool "+p.Name+" is near its CPU limit",
			fmt.Sprintf("Node pool %s uses more than %g%% of its CPU limit (%s); new runs will wait for capacity.", p.Name, m.NodePoolUsage*100, p.Limits["cpu"])))
	}
	return []any{map[string]any{"name": "pipec.ci", "rules": rules}}
}

// rolloutNamespaces are the namespaces of the environments apps are
// released to as canary or blue-green, sorted, each once.
func rolloutNamespaces(plan *model.Plan) []string {
	var out []string
	for _, a := range plan.Apps {
		for _, d := range a.Deployments {
			if env := plan.Environment(d.Environment); env != nil && d.RolledOut() && !slices.Contains(out, env.Namespace) {
				out = append(out, env.Namespace)
			}
		}
	}
	slices.Sort(out)
	return out
}

// dashboard is a Grafana dashboard (JSON model) of the CI system.
func dashboard(plan *model.Plan) string {
	ns := plan.Namespace
	panel := func(id int, title string, x, y int, exprs ...[2]string) map[string]any {
		var targets []any
		for i, e := range exprs {
			targets = append(targets, map[string]any{"refId": string(rune('A' + i)), "expr": e[0], "legendFormat": e[1]})
		}
		return map[string]any{
			"id": id, "type": "timeseries", "title": title, "datasource": map[string]any{"type": "prometheus", "uid": "${datasource}"},
			"gridPos": map[string]any{"x": x, "y": y, "w": 12, "h": 8}, "targets": targets,
		}
	}
	d := map[string]any{
		"title": "pipec CI: " + ns, "uid": "pipec-" + ns, "schemaVersion": 39, "refresh": "1m",
		"time":       map[string]any{"from": "now-24h", "to": "now"},
		"templating": map[string]any{"list": []any{map[string]any{"name": "datasource", "type": "datasource", "query": "prometheus"}}},
		"panels": []any{
			panel(1, "Pipeline run duration (p50, p95)", 0, 0,
				[2]string{fmt.Sprintf(`histogram_quantile(0.5, sum by (le, pipeline) (rate(tekton_pipelines_controller_pipelinerun_duration_seconds_bucket{namespace=%q}[1h])))`, ns), "p50 {{pipeline}}"},
				[2]string{fmt.Sprintf(`histogram_quantile(0.95, sum by (le, pipeline) (rate(tekton_pipelines_controller_pipelinerun_duration_seconds_bucket{namespace=%q}[1h])))`, ns), "p95 {{pipeline}}"}),
			panel(2, "Success rate", 12, 0,
				[2]string{fmt.Sprintf(`sum by (pipeline) (increase(tekton_pipelines_controller_pipelinerun_duration_seconds_count{namespace=%q, status="success"}[1h])) / sum by (pipeline) (increase(tekton_pipelines_controller_pipelinerun_duration_seconds_count{namespace=%q}[1h]))`, ns, ns), "{{pipeline}}"}),
			panel(3, "Queue: pending pods and throttled TaskRuns", 0, 8,
				[2]string{fmt.Sprintf(`sum(kube_pod_status_phase{namespace=%q, phase="Pending"})`, ns), "pending pods"},
				[2]string{fmt.Sprintf(`sum(tekton_pipelines_controller_running_taskruns_throttled_by_quota{namespace=%q})`, ns), "throttled by quota"},
				[2]string{fmt.Sprintf(`sum(tekton_pipelines_controller_running_taskruns_throttled_by_node{namespace=%q})`, ns), "throttled by node"}),
			panel(4, "Autoscaler replicas", 12, 8,
				[2]string{`kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler=~".+"}`, "{{horizontalpodautoscaler}}"},
				[2]string{`kube_horizontalpodautoscaler_spec_max_replicas{horizontalpodautoscaler=~".+"}`, "max {{horizontalpodautoscaler}}"}),
			panel(5, "Node pools: nodes and CPU in use", 0, 16,
				[2]string{`karpenter_nodepools_usage{resource_type="nodes"}`, "nodes {{nodepool}}"},
				[2]string{`karpenter_nodepools_usage{resource_type="cpu"}`, "cpu {{nodepool}}"}),
			panel(6, "Running pipeline runs", 12, 16,
				[2]string{fmt.Sprintf(`sum(tekton_pipelines_controller_running_pipelineruns{namespace=%q})`, ns), "running"}),
			panel(7, "Queue time: how long TaskRun pods waited to be scheduled (s)", 0, 24,
				[2]string{fmt.Sprintf(`quantile(0.5, max_over_time(tekton_pipelines_controller_taskruns_pod_latency_milliseconds{namespace=%q}[15m])) / 1000`, ns), "p50"},
				[2]string{fmt.Sprintf(`quantile(0.95, max_over_time(tekton_pipelines_controller_taskruns_pod_latency_milliseconds{namespace=%q}[15m])) / 1000`, ns), "p95"},
				[2]string{fmt.Sprintf(`max(max_over_time(tekton_pipelines_controller_taskruns_pod_latency_milliseconds{namespace=%q}[15m])) / 1000`, ns), "max"}),
		},
	}
	if nss := rolloutNamespaces(plan); len(nss) > 0 {
		d["panels"] = append(d["panels"].([]any), panel(8, "Releases aborted by their analysis", 12, 24,
			[2]string{fmt.Sprintf(`max by (namespace, name) (rollout_info{namespace=~%q, phase="Abort"})`, strings.Join(nss, "|")), "{{namespace}}/{{name}}"}))
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}
