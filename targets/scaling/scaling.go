// Package scaling is pipec's scaling target: HorizontalPodAutoscalers
// (autoscaling/v2) with PodDisruptionBudgets for CI/CD components, Karpenter
// NodePools (karpenter.sh/v1) that pipeline runs land on, and, for clusters
// scaled by the cluster-autoscaler, a documented ConfigMap of its flags.
package scaling

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/triggers"
)

// Name of the target.
const Name = "scaling"

// Labels and taints pipec puts on node pools.
const (
	// ListenerDeployment is the Deployment Tekton Triggers makes for the
	// EventListener.
	ListenerDeployment = "el-" + triggers.ListenerName
)

// Target is the scaling target.
type Target struct{}

// New returns the scaling target.
func New() Target { return Target{} }

// Name implements targets.Target.
func (Target) Name() string { return Name }

// Kinds implements targets.Target: the settings autoscalers read, then
// the autoscalers, their disruption budgets and the node pools.
func (Target) Kinds() []string {
	return []string{"ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NodePool"}
}

// Generate implements targets.Target.
func (Target) Generate(_ context.Context, plan *model.Plan) ([]targets.Object, diag.List) {
	var objs []targets.Object
	for _, a := range plan.Scaling.Autoscalers {
		env := plan.Environment(a.Environment)
		if env == nil {
			continue
		}
		dir := targets.EnvDir(env.Name)
		if a.Listener && env.Namespace == plan.Namespace {
			dir = targets.CIDir
		}
		hpa, pdb := autoscaler(a, env.Namespace)
		objs = append(objs, targets.New(Name, hpa, a.Path, dir), targets.New(Name, pdb, a.Path, dir))
	}
	for _, p := range plan.Scaling.NodePools {
		objs = append(objs, targets.New(Name, nodePool(p), p.Path, targets.CIDir))
	}
	if cm := metricsAdapter(plan); cm != nil {
		objs = append(objs, targets.New(Name, cm, plan.Scaling.Path, targets.CIDir))
	}
	if ca := plan.Scaling.ClusterAutoscaler; ca != nil && plan.Namespace != "" {
		objs = append(objs, targets.New(Name, clusterAutoscaler(plan, ca), ca.Path, targets.CIDir))
	}
	return objs, nil
}

func meta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: targets.Labels(nil)}
}

func seconds(d string) *int32 {
	v, err := time.ParseDuration(d)
	if err != nil {
		return nil
	}
	s := int32(v.Seconds())
	return &s
}

func rules(r model.ScalingRules) *autoscalingv2.HPAScalingRules {
	sp := autoscalingv2.ScalingPolicySelect(r.SelectPolicy)
	out := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: seconds(r.StabilizationWindow), SelectPolicy: &sp}
	for _, p := range r.Policies {
		period := int32(0)
		if s := seconds(p.Period); s != nil {
			period = *s
		}
		out.Policies = append(out.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.HPAScalingPolicyType(p.Type), Value: p.Value, PeriodSeconds: period})
	}
	return out
}

// Selector is the pod selector of an autoscaler's workload.
func Selector(a *model.Autoscaler) map[string]string {
	if a.Listener {
		return map[string]string{"eventlistener": triggers.ListenerName}
	}
	return a.Selector
}

// targetAPIVersion is the API version of an autoscaler's target kind.
func targetAPIVersion(kind string) string {
	if kind == "Rollout" {
		return "argoproj.io/v1alpha1"
	}
	return "apps/v1"
}

func autoscaler(a *model.Autoscaler, ns string) (*autoscalingv2.HorizontalPodAutoscaler, *policyv1.PodDisruptionBudget) {
	kind, name := a.TargetKind, a.TargetName
	if a.Listener {
		kind, name = "Deployment", ListenerDeployment
	}
	min := a.MinReplicas
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: meta(a.Name, ns),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: targetAPIVersion(kind), Kind: kind, Name: name},
			MinReplicas:    &min,
			MaxReplicas:    a.MaxReplicas,
			Behavior:       &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(a.ScaleUp), ScaleDown: rules(a.ScaleDown)},
		},
	}
	for _, r := range []struct {
		name   corev1.ResourceName
		target int32
	}{{corev1.ResourceCPU, a.CPU}, {corev1.ResourceMemory, a.Memory}} {
		if r.target > 0 {
			t := r.target
			hpa.Spec.Metrics = append(hpa.Spec.Metrics, autoscalingv2.MetricSpec{
				Type:     autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{Name: r.name, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &t}},
			})
		}
	}
	for _, m := range a.Pods {
		q := resource.MustParse(m.AverageValue)
		hpa.Spec.Metrics = append(hpa.Spec.Metrics, autoscalingv2.MetricSpec{
			Type: autoscalingv2.PodsMetricSourceType,
			Pods: &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: m.Name}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}},
		})
	}
	for _, m := range a.External {
		ext := &autoscalingv2.ExternalMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: m.Name}}
		if len(m.Selector) > 0 {
			ext.Metric.Selector = &metav1.LabelSelector{MatchLabels: m.Selector}
		}
		if m.AverageValue != "" {
			q := resource.MustParse(m.AverageValue)
			ext.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}
		} else {
			q := resource.MustParse(m.Value)
			ext.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &q}
		}
		hpa.Spec.Metrics = append(hpa.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: ext})
	}
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: meta(a.Name, ns),
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: Selector(a)}},
	}
	if a.MinAvailable != "" {
		v := intOrString(a.MinAvailable)
		pdb.Spec.MinAvailable = &v
	} else {
		v := intOrString(a.MaxUnavailable)
		pdb.Spec.MaxUnavailable = &v
	}
	return hpa, pdb
}

func intOrString(s string) intstr.IntOrString {
	if n, err := strconv.Atoi(s); err == nil {
		return intstr.FromInt32(int32(n))
	}
	return intstr.FromString(s)
}

// nodePool is the Karpenter NodePool, as an unstructured object validated
// against Karpenter's CRD in the tests (its Go module needs a newer Go than
// pipec's).
func nodePool(p *model.NodePool) *unstructured.Unstructured {
	reqs := []any{
		map[string]any{"key": "kubernetes.io/arch", "operator": "In", "values": strs(p.Architectures)},
		map[string]any{"key": "karpenter.sh/capacity-type", "operator": "In", "values": strs(p.CapacityTypes)},
	}
	if len(p.InstanceFamilies) > 0 {
		reqs = append(reqs, map[string]any{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": strs(p.InstanceFamilies)})
	}
	if len(p.InstanceSizes) > 0 {
		reqs = append(reqs, map[string]any{"key": "karpenter.k8s.aws/instance-size", "operator": "In", "values": strs(p.InstanceSizes)})
	}
	for _, r := range p.Requirements {
		req := map[string]any{"key": r.Key, "operator": r.Operator}
		if len(r.Values) > 0 {
			req["values"] = strs(r.Values)
		}
		reqs = append(reqs, req)
	}
	nodeSpec := map[string]any{
		"nodeClassRef": map[string]any{"group": p.NodeClassGroup, "kind": p.NodeClassKind, "name": p.NodeClassName},
		"requirements": reqs,
		"expireAfter":  p.ExpireAfter,
	}
	if p.Taint {
		nodeSpec["taints"] = []any{map[string]any{"key": model.PoolTaintKey, "value": p.Name, "effect": "NoSchedule"}}
	}
	var budgets []any
	for _, b := range p.Budgets {
		m := map[string]any{"nodes": b.Nodes}
		if b.Schedule != "" {
			m["schedule"] = b.Schedule
		}
		if b.Duration != "" {
			m["duration"] = b.Duration
		}
		if len(b.Reasons) > 0 {
			m["reasons"] = strs(b.Reasons)
		}
		budgets = append(budgets, m)
	}
	limits := map[string]any{}
	for k, v := range p.Limits {
		limits[k] = v
	}
	spec := map[string]any{
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{model.PoolLabel: p.Name}},
			"spec":     nodeSpec,
		},
		"limits": limits,
		"disruption": map[string]any{
			"consolidationPolicy": p.ConsolidationPolicy,
			"consolidateAfter":    p.ConsolidateAfter,
			"budgets":             budgets,
		},
	}
	if p.Weight > 0 {
		spec["weight"] = p.Weight
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "karpenter.sh/v1",
		"kind":       "NodePool",
		"metadata":   map[string]any{"name": p.Name, "labels": map[string]any{targets.LabelManagedBy: targets.ManagedBy}},
		"spec":       spec,
	}}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// AdapterConfigKey is the key of the Prometheus Adapter configuration in
// the ConfigMap metricsAdapter emits.
const AdapterConfigKey = "config.yaml"

// metricsAdapter is the Prometheus Adapter configuration that serves the
// autoscalers' external and per-pod metrics from Prometheus: one rule per
// metric, associated with the namespace (and pod) of each series, as a
// ConfigMap an operator hands to the adapter. Nil when no autoscaler names
// such a metric.
func metricsAdapter(plan *model.Plan) *corev1.ConfigMap {
	external, pods := map[string]bool{}, map[string]bool{}
	for _, a := range plan.Scaling.Autoscalers {
		for _, m := range a.External {
			external[m.Name] = true
		}
		for _, m := range a.Pods {
			pods[m.Name] = true
		}
	}
	if len(external)+len(pods) == 0 || plan.Namespace == "" {
		return nil
	}
	const query = "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"
	var b strings.Builder
	b.WriteString("# Prometheus Adapter rules for the metrics pipec's autoscalers use, generated by pipec.\n")
	if len(pods) > 0 {
		b.WriteString("rules:\n")
		for _, name := range slices.Sorted(maps.Keys(pods)) {
			fmt.Fprintf(&b, "- seriesQuery: '{__name__=%q,namespace!=\"\",pod!=\"\"}'\n  resources:\n    overrides:\n      namespace: {resource: namespace}\n      pod: {resource: pod}\n  metricsQuery: %q\n", name, query)
		}
	}
	if len(external) > 0 {
		b.WriteString("externalRules:\n")
		for _, name := range slices.Sorted(maps.Keys(external)) {
			fmt.Fprintf(&b, "- seriesQuery: '{__name__=%q,namespace!=\"\"}'\n  resources:\n    overrides:\n      namespace: {resource: namespace}\n  metricsQuery: %q\n", name, query)
		}
	}
	readme := "Prometheus Adapter rules for the autoscalers' external and per-pod metrics, generated by pipec from scaling.autoscalers.\n" +
		"Merge " + AdapterConfigKey + " into the adapter's configuration (the prometheus-adapter chart: rules.custom and rules.external).\n" +
		"External metrics are namespaced: the adapter only counts series whose namespace label is the autoscaler's namespace.\n"
	if slices.ContainsFunc(append(slices.Sorted(maps.Keys(external)), slices.Sorted(maps.Keys(pods))...), func(n string) bool { return strings.HasPrefix(n, "tekton_pipelines_controller_running_") }) {
		readme += "Tekton labels tekton_pipelines_controller_running_pipelineruns with the namespace only when\n" +
			"tekton-pipelines/config-observability sets metrics.running-pipelinerun.level to namespace (or pipeline, pipelinerun).\n"
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta("pipec-prometheus-adapter", plan.Namespace),
		Data:       map[string]string{AdapterConfigKey: b.String(), "README": readme},
	}
}

// clusterAutoscaler documents the cluster-autoscaler flags the settings
// stand for, as a ConfigMap an operator copies into the autoscaler's
// arguments (or a Helm chart's extraArgs).
func clusterAutoscaler(plan *model.Plan, ca *model.ClusterAutoscaler) *corev1.ConfigMap {
	args := []string{
		"--scale-down-unneeded-time=" + ca.ScaleDownUnneededTime,
		"--scale-down-delay-after-add=" + ca.ScaleDownDelayAfterAdd,
		fmt.Sprintf("--scale-down-utilization-threshold=%g", ca.ScaleDownUtilizationThreshold),
		"--max-node-provision-time=" + ca.MaxNodeProvisionTime,
		"--expander=" + ca.Expander,
		"--balance-similar-node-groups=true",
	}
	groups := slices.Clone(ca.NodeGroups)
	slices.SortFunc(groups, func(a, b model.NodeGroup) int { return strings.Compare(a.Name, b.Name) })
	for _, g := range groups {
		args = append(args, fmt.Sprintf("--nodes=%d:%d:%s", g.Min, g.Max, g.Name))
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta("pipec-cluster-autoscaler", plan.Namespace),
		Data: map[string]string{
			"args": strings.Join(args, "\n") + "\n",
			"README": "Flags for the Kubernetes cluster-autoscaler, generated by pipec from scaling.clusterAutoscaler.\n" +
				"Add them to the cluster-autoscaler container's arguments (or the Helm chart's extraArgs).\n" +
				"--nodes=<min>:<max>:<node group> bounds each node group; the scale-down flags decide how soon idle CI nodes go.\n",
		},
	}
}
