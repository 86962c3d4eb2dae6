package scaling

import (
	"context"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/model"
)

func plan() *model.Plan {
	return &model.Plan{
		Namespace:    "ci",
		Environments: []*model.Environment{{Name: "ci", Namespace: "ci"}, {Name: "prod", Namespace: "prod", Production: true}},
		Scaling: model.Scaling{
			Autoscalers: []*model.Autoscaler{
				{Name: "hooks", Environment: "ci", Listener: true, MinReplicas: 2, MaxReplicas: 5, CPU: 70, MaxUnavailable: "1",
					ScaleDown: model.ScalingRules{StabilizationWindow: "300s", SelectPolicy: "Max", Policies: []model.ScalingPolicy{{Type: "Percent", Value: 50, Period: "1m"}}}},
				{Name: "api", Environment: "prod", TargetKind: "Deployment", TargetName: "api", Selector: map[string]string{"app": "api"}, MinReplicas: 2, MaxReplicas: 10,
					External: []*model.MetricTarget{{Name: "queue", AverageValue: "5", Selector: map[string]string{"queue": "jobs"}}}, MinAvailable: "50%"},
			},
			NodePools: []*model.NodePool{{Name: "ci", NodeClassGroup: "karpenter.k8s.aws", NodeClassKind: "EC2NodeClass", NodeClassName: "default",
				Architectures: []string{"arm64"}, CapacityTypes: []string{"spot"}, Limits: map[string]string{"cpu": "32", "memory": "128Gi"},
				ConsolidationPolicy: "WhenEmpty", ConsolidateAfter: "1m", ExpireAfter: "Never", Taint: true, Weight: 50, Budgets: []model.Budget{{Nodes: "10%"}}}},
			ClusterAutoscaler: &model.ClusterAutoscaler{NodeGroups: []model.NodeGroup{{Name: "ci-b", Min: 0, Max: 5}, {Name: "ci-a", Min: 1, Max: 10}},
				ScaleDownUnneededTime: "5m", ScaleDownDelayAfterAdd: "2m", ScaleDownUtilizationThreshold: 0.4, MaxNodeProvisionTime: "10m", Expander: "least-waste"},
		},
	}
}

func TestGenerate(t *testing.T) {
	objs, diags := New().Generate(context.Background(), plan())
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	byName := map[string]any{}
	for _, o := range objs {
		byName[o.Kind+"/"+o.Namespace+"/"+o.Name] = o.Value
	}
	hooks := byName["HorizontalPodAutoscaler/ci/hooks"].(*autoscalingv2.HorizontalPodAutoscaler)
	if ref := hooks.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != "el-pipec-listener" || ref.APIVersion != "apps/v1" {
		t.Errorf("listener HPA targets %+v, want the EventListener's Deployment", ref)
	}
	if m := hooks.Spec.Metrics[0]; m.Type != autoscalingv2.ResourceMetricSourceType || *m.Resource.Target.AverageUtilization != 70 {
		t.Errorf("listener metric = %+v", m)
	}
	if sd := hooks.Spec.Behavior.ScaleDown; *sd.StabilizationWindowSeconds != 300 || sd.Policies[0].PeriodSeconds != 60 {
		t.Errorf("scale-down behavior = %+v", sd)
	}
	pdb := byName["PodDisruptionBudget/ci/hooks"].(*policyv1.PodDisruptionBudget)
	if pdb.Spec.Selector.MatchLabels["eventlistener"] != "pipec-listener" || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("listener PDB = %+v", pdb.Spec)
	}
	api := byName["HorizontalPodAutoscaler/prod/api"].(*autoscalingv2.HorizontalPodAutoscaler)
	if m := api.Spec.Metrics[0]; m.External.Metric.Name != "queue" || m.External.Target.Type != autoscalingv2.AverageValueMetricType || m.External.Metric.Selector.MatchLabels["queue"] != "jobs" {
		t.Errorf("external metric = %+v", m.External)
	}
	if pdb := byName["PodDisruptionBudget/prod/api"].(*policyv1.PodDisruptionBudget); pdb.Spec.MinAvailable.String() != "50%" || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("api PDB = %+v", pdb.Spec)
	}
	pool := byName["NodePool//ci"].(*unstructured.Unstructured).Object
	tmpl := pool["spec"].(map[string]any)["template"].(map[string]any)
	spec := tmpl["spec"].(map[string]any)
	taint := spec["taints"].([]any)[0].(map[string]any)
	if taint["key"] != model.PoolTaintKey || taint["value"] != "ci" || taint["effect"] != "NoSchedule" {
		t.Errorf("taint = %v", taint)
	}
	if tmpl["metadata"].(map[string]any)["labels"].(map[string]any)[model.PoolLabel] != "ci" {
		t.Errorf("pool nodes are not labelled %s=ci", model.PoolLabel)
	}
	if pool["spec"].(map[string]any)["weight"] != int32(50) || spec["expireAfter"] != "Never" {
		t.Errorf("pool spec = %v", pool["spec"])
	}
	cm := byName["ConfigMap/ci/pipec-cluster-autoscaler"].(*corev1.ConfigMap)
	want := "--scale-down-unneeded-time=5m\n--scale-down-delay-after-add=2m\n--scale-down-utilization-threshold=0.4\n--max-node-provision-time=10m\n--expander=least-waste\n--balance-similar-node-groups=true\n--nodes=1:10:ci-a\n--nodes=0:5:ci-b\n"
	if cm.Data["args"] != want {
		t.Errorf("cluster-autoscaler args:\n%s\nwant:\n%s", cm.Data["args"], want)
	}
	if !strings.Contains(cm.Data["README"], "--nodes=<min>:<max>:<node group>") {
		t.Error("the ConfigMap does not document the flags")
	}
}
