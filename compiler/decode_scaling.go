package compiler

import (
	"cmp"
	"github.com/pipec/pipec/model"
)

func decodeRules(n node) model.ScalingRules {
	r := model.ScalingRules{StabilizationWindow: n.field("stabilizationWindow").str(), SelectPolicy: n.field("selectPolicy").str()}
	n.field("policies").list(func(_ int, c node) {
		r.Policies = append(r.Policies, model.ScalingPolicy{Type: c.field("type").str(), Value: int32(c.field("value").int()), Period: c.field("period").str()})
	})
	return r
}

func (d *decoder) scaling(n node, envs []*model.Environment) model.Scaling {
	s := model.Scaling{Path: n.path, MaxConcurrentRuns: int(n.field("maxConcurrentRuns").int()),
		TektonCoschedule: cmp.Or(n.field("tektonCoschedule").str(), "workspaces")}
	production := map[string]bool{}
	for _, e := range envs {
		production[e.Name] = e.Production
	}
	n.field("autoscalers").fields(func(name string, c node) {
		a := &model.Autoscaler{
			Name:        name,
			Environment: c.field("environment").str(),
			Listener:    c.field("listener").boolean(),
			TargetKind:  c.field("target").field("kind").str(),
			TargetName:  c.field("target").field("name").str(),
			Selector:    c.field("selector").stringMap(),
			NodePool:    c.field("nodePool").str(),
			MaxReplicas: int32(c.field("maxReplicas").int()),
			PodRequests: c.field("podRequests").quantities(),
			CPU:         int32(c.field("metrics").field("cpu").field("utilization").int()),
			Memory:      int32(c.field("metrics").field("memory").field("utilization").int()),
			ScaleUp:     decodeRules(c.field("behavior").field("scaleUp")),
			ScaleDown:   decodeRules(c.field("behavior").field("scaleDown")),
			Path:        c.path,
		}
		if m := c.field("minReplicas"); m.exists() {
			a.MinReplicas = int32(m.int())
		} else if production[a.Environment] {
			a.MinReplicas = 2
		} else {
			a.MinReplicas = 1
		}
		c.field("metrics").field("pods").fields(func(mn string, m node) {
			a.Pods = append(a.Pods, &model.MetricTarget{Name: mn, AverageValue: m.field("averageValue").quantity(), Path: m.path})
		})
		c.field("metrics").field("external").fields(func(mn string, m node) {
			t := &model.MetricTarget{Name: mn, Selector: m.field("selector").stringMap(), Path: m.path}
			if v := m.field("averageValue"); v.exists() {
				t.AverageValue = v.quantity()
			}
			if v := m.field("value"); v.exists() {
				t.Value = v.quantity()
			}
			a.External = append(a.External, t)
		})
		b := c.field("disruptionBudget")
		if v := b.field("maxUnavailable"); v.exists() {
			a.MaxUnavailable = v.intOrString()
		}
		if v := b.field("minAvailable"); v.exists() {
			a.MinAvailable = v.intOrString()
		}
		if a.MaxUnavailable == "" && a.MinAvailable == "" {
			a.MaxUnavailable = "1"
		}
		s.Autoscalers = append(s.Autoscalers, a)
	})
	n.field("nodePools").fields(func(name string, c node) {
		p := &model.NodePool{
			Name:                name,
			NodeClassGroup:      c.field("nodeClass").field("group").str(),
			NodeClassKind:       c.field("nodeClass").field("kind").str(),
			NodeClassName:       c.field("nodeClass").field("name").str(),
			Architectures:       c.field("architectures").strs(),
			CapacityTypes:       c.field("capacityTypes").strs(),
			InstanceFamilies:    c.field("instanceFamilies").strs(),
			InstanceSizes:       c.field("instanceSizes").strs(),
			Limits:              c.field("limits").quantities(),
			ConsolidationPolicy: c.field("disruption").field("consolidationPolicy").str(),
			ConsolidateAfter:    c.field("disruption").field("consolidateAfter").str(),
			ExpireAfter:         c.field("expireAfter").str(),
			Taint:               c.field("taint").boolean(),
			Weight:              int32(c.field("weight").int()),
			NodeShape:           c.field("nodeShape").quantities(),
			ProvisioningDelay:   c.field("provisioningDelay").str(),
			Pipelines:           c.field("pipelines").strs(),
			Path:                c.path,
		}
		c.field("requirements").list(func(_ int, r node) {
			p.Requirements = append(p.Requirements, model.Requirement{Key: r.field("key").str(), Operator: r.field("operator").str(), Values: r.field("values").strs()})
		})
		c.field("disruption").field("budgets").list(func(_ int, b node) {
			p.Budgets = append(p.Budgets, model.Budget{Nodes: b.field("nodes").str(), Schedule: b.field("schedule").str(), Duration: b.field("duration").str(), Reasons: b.field("reasons").strs()})
		})
		s.NodePools = append(s.NodePools, p)
	})
	if ca := n.field("clusterAutoscaler"); ca.exists() {
		c := &model.ClusterAutoscaler{
			ScaleDownUnneededTime:  ca.field("scaleDownUnneededTime").str(),
			ScaleDownDelayAfterAdd: ca.field("scaleDownDelayAfterAdd").str(),
			MaxNodeProvisionTime:   ca.field("maxNodeProvisionTime").str(),
			Expander:               ca.field("expander").str(),
			Path:                   ca.path,
		}
		c.ScaleDownUtilizationThreshold, _ = ca.field("scaleDownUtilizationThreshold").v.Float64()
		ca.field("nodeGroups").fields(func(name string, g node) {
			c.NodeGroups = append(c.NodeGroups, model.NodeGroup{Name: name, Min: int(g.field("min").int()), Max: int(g.field("max").int())})
		})
		s.ClusterAutoscaler = c
	}
	return s
}

func (d *decoder) monitoring(n node) *model.Monitoring {
	if !n.exists() {
		return nil
	}
	m := &model.Monitoring{
		PrometheusLabels:    n.field("prometheusLabels").stringMap(),
		TektonNamespace:     n.field("tektonNamespace").str(),
		PrometheusNamespace: n.field("prometheusNamespace").str(),
		QueueTime:           n.field("alerts").field("queueTime").str(),
		FailedRunsWindow:    n.field("alerts").field("failedRunsWindow").str(),
		AutoscalerAtMax:     n.field("alerts").field("autoscalerAtMax").str(),
		Dashboard:           n.field("dashboard").boolean(),
		Metrics:             n.field("metrics").strs(),
		Path:                n.path,
	}
	m.NodePoolUsage, _ = n.field("alerts").field("nodePoolUsage").v.Float64()
	ksm := n.field("kubeStateMetrics")
	m.KubeStateMetrics = model.ServiceAccountRef{Name: ksm.field("serviceAccount").str(), Namespace: m.PrometheusNamespace}
	if ns := ksm.field("namespace"); ns.exists() {
		m.KubeStateMetrics.Namespace = ns.str()
	}
	return m
}
