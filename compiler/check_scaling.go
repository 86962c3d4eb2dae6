package compiler

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/pipec/pipec/internal/capacity"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets/monitoring"
)

// Karpenter's own patterns for its durations and budgets (karpenter.sh/v1
// NodePool CRD), so a bad value is reported at the CUE line rather than
// by the API server.
var (
	karpenterDurationRE = regexp.MustCompile(`^(([0-9]+(s|m|h))+|Never)$`)
	budgetDurationRE    = regexp.MustCompile(`^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`)
	budgetNodesRE       = regexp.MustCompile(`^((100|[0-9]{1,2})%|[0-9]+)$`)
)

// checkScaling checks autoscalers, node pools and monitoring: references,
// bounds, metrics, and whether quotas and pool limits can hold the worst
// case.
func (c *checker) checkScaling() {
	p := c.plan
	envNames := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		envNames[i] = e.Name
	}
	poolNames := make([]string, len(p.Scaling.NodePools))
	for i, n := range p.Scaling.NodePools {
		poolNames[i] = n.Name
	}
	produced := c.producedMetrics()
	for _, a := range p.Scaling.Autoscalers {
		c.checkAutoscaler(a, envNames, poolNames, produced)
	}
	for _, n := range p.Scaling.NodePools {
		c.checkNodePool(n)
	}
	c.checkPoolAssignment()
	c.checkAffinityAssistants()
	if ca := p.Scaling.ClusterAutoscaler; ca != nil {
		for _, g := range ca.NodeGroups {
			if g.Min > g.Max {
				d := c.report(ruleAutoscaler, ca.Path.Field("nodeGroups").Field(g.Name).Field("min"), "node group %q has min %d above max %d", g.Name, g.Min, g.Max)
				d.Expected = fmt.Sprintf("min at most %d", g.Max)
			}
		}
		for _, f := range []struct{ name, v string }{
			{"scaleDownUnneededTime", ca.ScaleDownUnneededTime}, {"scaleDownDelayAfterAdd", ca.ScaleDownDelayAfterAdd}, {"maxNodeProvisionTime", ca.MaxNodeProvisionTime},
		} {
			c.checkDuration(ca.Path.Field(f.name), f.v)
		}
		if t := ca.ScaleDownUtilizationThreshold; t <= 0 || t > 1 {
			d := c.report(ruleAutoscaler, ca.Path.Field("scaleDownUtilizationThreshold"), "scale-down utilization threshold %g is out of range", t)
			d.Expected = "a fraction above 0 and at most 1, such as 0.5"
		}
	}
	if m := p.Monitoring; m != nil {
		for _, f := range []struct {
			path model.Path
			v    string
		}{
			{m.Path.Field("tektonNamespace"), m.TektonNamespace},
			{m.Path.Field("prometheusNamespace"), m.PrometheusNamespace},
			{m.Path.Field("kubeStateMetrics").Field("namespace"), m.KubeStateMetrics.Namespace},
		} {
			if !dnsLabelRE.MatchString(f.v) {
				d := c.report(ruleName, f.path, "invalid namespace %q", f.v)
				d.Expected = "a DNS label, such as \"monitoring\""
			}
		}
		if sa := m.KubeStateMetrics.Name; !dnsSubdomainRE.MatchString(sa) {
			d := c.report(ruleName, m.Path.Field("kubeStateMetrics").Field("serviceAccount"), "invalid service account name %q", sa)
			d.Expected = "a DNS subdomain, such as \"kube-state-metrics\""
		}
		for _, f := range []struct{ name, v string }{
			{"queueTime", m.QueueTime}, {"failedRunsWindow", m.FailedRunsWindow}, {"autoscalerAtMax", m.AutoscalerAtMax},
		} {
			c.checkPromDuration(m.Path.Field("alerts").Field(f.name), f.v)
		}
	}
}

// producedMetrics are the metric names something declared exports: the
// Tekton controller and the EventListener once monitoring scrapes them,
// and what monitoring.metrics names.
func (c *checker) producedMetrics() []string {
	m := c.plan.Monitoring
	if m == nil {
		return nil
	}
	out := slices.Clone(monitoring.TektonMetrics)
	if slices.ContainsFunc(c.plan.Pipelines, func(p *model.Pipeline) bool { return p.On != nil }) {
		out = append(out, monitoring.ListenerMetrics...)
	}
	out = append(out, m.Metrics...)
	slices.Sort(out)
	return out
}

func (c *checker) checkAutoscaler(a *model.Autoscaler, envNames, poolNames []string, produced []string) {
	p := c.plan
	c.checkName(a.Path, a.Name, "autoscaler")
	env := p.Environment(a.Environment)
	if env == nil {
		c.unknownName(a.Path.Field("environment"), "environment", a.Environment, envNames)
	}
	if a.NodePool != "" && !slices.Contains(poolNames, a.NodePool) {
		c.unknownName(a.Path.Field("nodePool"), "node pool", a.NodePool, poolNames)
	}
	switch {
	case a.Listener:
		if a.TargetName != "" {
			d := c.report(ruleAutoscaler, a.Path.Field("target"), "autoscaler %q targets both the listener and %s %q", a.Name, a.TargetKind, a.TargetName)
			d.Expected = "either listener: true or a target"
		}
		if !slices.ContainsFunc(p.Pipelines, func(pl *model.Pipeline) bool { return pl.On != nil }) || p.Triggers.WebhookSecret == nil {
			d := c.report(ruleAutoscaler, a.Path.Field("listener"), "autoscaler %q scales the EventListener, but there is none", a.Name)
			d.Expected = "pipelines with `on` triggers and triggers.webhookSecret"
			d.Hint = "declare triggers, or point the autoscaler at a target"
		}
		if env != nil && env.Namespace != p.Namespace {
			d := c.report(ruleAutoscaler, a.Path.Field("environment"), "the EventListener runs in the CI namespace %q, not in environment %q (%s)", p.Namespace, env.Name, env.Namespace)
			if ci := p.EnvironmentForNamespace(p.Namespace); ci != nil {
				d.Expected = fmt.Sprintf("environment: %q", ci.Name)
			} else {
				d.Expected = fmt.Sprintf("an environment with namespace %q", p.Namespace)
			}
		}
	case a.TargetName == "":
		d := c.report(ruleAutoscaler, a.Path, "autoscaler %q has no target", a.Name)
		d.Expected = `target: {kind: "Deployment", name: "..."}, or listener: true for the EventListener`
	default:
		if !dnsSubdomainRE.MatchString(a.TargetName) {
			d := c.report(ruleName, a.Path.Field("target").Field("name"), "invalid workload name %q", a.TargetName)
			d.Expected = "a DNS subdomain name"
		}
		if len(a.Selector) == 0 {
			d := c.report(ruleAutoscaler, a.Path, "autoscaler %q has no selector for its PodDisruptionBudget", a.Name)
			d.Expected = fmt.Sprintf(`selector: {"app.kubernetes.io/name": %q}, the labels of the workload's pods`, a.TargetName)
		}
		if dep := p.AppDeployment(a.TargetName, a.Environment); dep != nil {
			switch {
			case dep.RolledOut() && a.TargetKind != "Rollout":
				d := c.report(ruleAutoscaler, a.Path.Field("target").Field("kind"), "app %q runs in %q as an Argo Rollout, which owns its replicas; a %s autoscaler would fight it", a.TargetName, a.Environment, a.TargetKind)
				d.Expected = `kind: "Rollout"`
			case !dep.RolledOut() && a.TargetKind == "Rollout":
				d := c.report(ruleAutoscaler, a.Path.Field("target").Field("kind"), "app %q has no Argo Rollout in %q (its strategy is neither canary nor blueGreen)", a.TargetName, a.Environment)
				d.Expected = `kind: "Deployment"`
			}
		}
		if a.PodRequests == nil {
			d := c.report(ruleAutoscaler, a.Path, "autoscaler %q does not say what one pod of %s requests", a.Name, a.TargetName)
			d.Expected = `podRequests: {cpu: "250m", memory: "256Mi"}`
			d.Hint = "pipec needs them to check that maxReplicas pods fit the quota and the node pool"
		} else {
			c.checkQuantities(a.Path.Field("podRequests"), a.PodRequests)
		}
	}
	if a.MaxUnavailable != "" && a.MinAvailable != "" {
		d := c.report(ruleAutoscaler, a.Path.Field("disruptionBudget"), "the disruption budget of autoscaler %q sets both maxUnavailable and minAvailable", a.Name)
		d.Expected = "one of them, as a PodDisruptionBudget allows"
	}
	if a.MinReplicas > a.MaxReplicas {
		d := c.report(ruleAutoscaler, a.Path.Field("maxReplicas"), "autoscaler %q has maxReplicas %d below minReplicas %d", a.Name, a.MaxReplicas, a.MinReplicas)
		d.Expected = fmt.Sprintf("maxReplicas of at least %d", a.MinReplicas)
		if env != nil && env.Production {
			d.Hint = fmt.Sprintf("%q is a production environment, where minReplicas defaults to 2", env.Name)
		}
	}
	if a.CPU == 0 && a.Memory == 0 && len(a.Pods) == 0 && len(a.External) == 0 {
		d := c.report(ruleAutoscaler, a.Path.Field("metrics"), "autoscaler %q scales on no metric", a.Name)
		d.Expected = `a metric, such as metrics: cpu: utilization: 70`
	}
	for _, m := range append(slices.Clone(a.Pods), a.External...) {
		if !slices.Contains(produced, m.Name) {
			d := c.report(ruleAutoscaler, m.Path, "autoscaler %q scales on metric %q, which nothing declared produces", a.Name, m.Name)
			if len(produced) == 0 {
				d.Expected = "monitoring declared, so that Prometheus scrapes the Tekton controller and the EventListener"
				d.Hint = "add `monitoring: {}`, or list the metric in monitoring.metrics if an exporter outside pipec produces it"
			} else {
				d.Expected = "a metric that Tekton, the EventListener or monitoring.metrics produces"
				if s := suggestMetric(m.Name, produced); s != "" {
					d.Hint = fmt.Sprintf("did you mean %q?", s)
				} else {
					d.Hint = "list it in monitoring.metrics if an exporter outside pipec produces it"
				}
			}
		}
		for _, f := range []struct{ name, v string }{{"averageValue", m.AverageValue}, {"value", m.Value}} {
			if f.v != "" {
				c.quantity(m.Path.Field(f.name), f.v, "")
			}
		}
		if m.AverageValue == "" && m.Value == "" && slices.Contains(a.External, m) {
			d := c.report(ruleAutoscaler, m.Path, "external metric %q has no target", m.Name)
			d.Expected = `averageValue: "5" (per replica) or value: "20" (in total)`
		}
		if m.AverageValue != "" && m.Value != "" {
			d := c.report(ruleAutoscaler, m.Path, "external metric %q has both averageValue and value", m.Name)
			d.Expected = "one of them"
		}
	}
	for _, r := range []struct {
		name  string
		rules model.ScalingRules
	}{{"scaleUp", a.ScaleUp}, {"scaleDown", a.ScaleDown}} {
		path := a.Path.Field("behavior").Field(r.name)
		c.checkSeconds(path.Field("stabilizationWindow"), r.rules.StabilizationWindow, 0, 3600)
		for i, pol := range r.rules.Policies {
			c.checkSeconds(path.Field("policies").Index(i).Field("period"), pol.Period, 1, 1800)
		}
	}
}

// suggestMetric suggests a produced metric close to name.
func suggestMetric(name string, produced []string) string {
	for _, p := range produced {
		if strings.HasSuffix(p, name) || strings.HasSuffix(name, p) {
			return p
		}
	}
	return ""
}

// checkSeconds checks an HPA duration: whole seconds from minSeconds to
// maxSeconds, as autoscaling/v2 validation requires.
func (c *checker) checkSeconds(path model.Path, s string, minSeconds, maxSeconds int) {
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Second != 0 || d < time.Duration(minSeconds)*time.Second || d > time.Duration(maxSeconds)*time.Second {
		e := c.report(ruleDuration, path, "%q is not a whole number of seconds from %ds to %ds", s, minSeconds, maxSeconds)
		e.Expected = fmt.Sprintf("a duration such as \"%ds\" or \"5m\", as the autoscaling/v2 API allows", max(minSeconds, 15))
	}
}

func (c *checker) checkNodePool(n *model.NodePool) {
	c.checkName(n.Path, n.Name, "node pool")
	// sound says the sizes parse, are in range and above zero: the
	// capacity checks below compare with them, and would only repeat
	// what is wrong with them.
	sound := len(c.checkQuantities(n.Path.Field("limits"), n.Limits)) == len(n.Limits)
	sound = len(c.checkQuantities(n.Path.Field("nodeShape"), n.NodeShape)) == len(n.NodeShape) && sound
	c.checkDuration(n.Path.Field("provisioningDelay"), n.ProvisioningDelay)
	c.checkKarpenterDuration(n.Path.Field("disruption").Field("consolidateAfter"), n.ConsolidateAfter)
	c.checkKarpenterDuration(n.Path.Field("expireAfter"), n.ExpireAfter)
	for i, b := range n.Budgets {
		path := n.Path.Field("disruption").Field("budgets").Index(i)
		if !budgetNodesRE.MatchString(b.Nodes) {
			d := c.report(ruleNodePool, path.Field("nodes"), "invalid budget %q", b.Nodes)
			d.Expected = `a number of nodes such as "2", or a percentage such as "10%"`
		} else if _, err := strconv.ParseInt(b.Nodes, 10, 32); err != nil && !strings.HasSuffix(b.Nodes, "%") {
			// Karpenter reads a number of nodes with intstr.FromInt,
			// which cuts it down to 32 bits.
			d := c.report(ruleNodePool, path.Field("nodes"), "budget %q is out of range: Karpenter reads it as a 32-bit number", b.Nodes)
			d.Expected = `a number of nodes from 0 to 2147483647, or a percentage such as "10%"`
		}
		if (b.Schedule == "") != (b.Duration == "") {
			d := c.report(ruleNodePool, path, "a disruption budget needs both schedule and duration, or neither")
			d.Expected = `schedule: "0 9 * * 1-5", duration: "8h"`
		}
		// Karpenter parses budget schedules with robfig/cron's standard
		// parser: five fields in range, or a macro such as @daily.
		if _, err := cron.ParseStandard(b.Schedule); b.Schedule != "" && err != nil {
			d := c.report(ruleSchedule, path.Field("schedule"), "invalid cron schedule %q: %v", b.Schedule, err)
			d.Expected = `five fields: minute hour day-of-month month day-of-week, such as "0 9 * * 1-5", or a macro such as "@daily"`
		}
		if b.Duration != "" {
			c.checkBudgetDuration(path.Field("duration"), b.Duration)
		}
	}
	c.checkRequirements(n)
	for i, name := range n.Pipelines {
		if name != "*" && c.pipeline(name) == nil {
			names := make([]string, len(c.plan.Pipelines))
			for j, pl := range c.plan.Pipelines {
				names[j] = pl.Name
			}
			c.unknownName(n.Path.Field("pipelines").Index(i), "pipeline", name, names)
		}
	}
	for _, f := range []struct {
		field string
		m     map[string]string
		what  string
	}{
		{"nodeShape", n.NodeShape, "a node of size 0 holds no pod"},
		{"limits", n.Limits, "a limit of 0 lets the pool launch no node, so its pipeline runs never start"},
	} {
		for _, k := range sortedKeys(f.m) {
			if q, err := resource.ParseQuantity(f.m[k]); err == nil && q.Sign() == 0 {
				d := c.report(ruleNodePool, n.Path.Field(f.field).Field(k), "%s %s of node pool %q is %s: %s", f.field, k, n.Name, f.m[k], f.what)
				d.Expected = "a quantity above 0"
				sound = false
			}
		}
	}
	shape := capacity.Parse(n.NodeShape)
	limit := capacity.Parse(n.Limits)
	if !sound {
		c.checkPoolLimits(n, shape, limit, false)
		return
	}
	if !shape.Fits(limit) {
		d := c.report(ruleNodePool, n.Path.Field("limits"), "node pool %q cannot launch a single node: its limits (%s) are below one node (%s)", n.Name, limit, shape)
		d.Expected = fmt.Sprintf("limits of at least %s", shape)
	}
	for _, pl := range c.plan.Pipelines {
		if c.plan.PoolFor(pl.Name) != n {
			continue
		}
		for _, t := range append(slices.Clone(pl.Tasks), pl.Finally...) {
			req := capacity.TaskPod(c.plan, t)
			if !req.Fits(shape) {
				d := c.report(ruleNodePool, t.Path, "a pod of task %q of pipeline %q requests %s, more than a node of pool %q has (%s)", t.Name, pl.Name, req, n.Name, shape)
				d.Expected = fmt.Sprintf("steps whose requests add up to at most %s, or a larger nodeShape", shape)
				d.Hint = "the pod would stay pending for ever: lower the steps' requests or raise the pool's nodeShape"
			}
		}
	}
	c.checkPoolLimits(n, shape, limit, true)
}

// checkPoolAssignment reports pipelines that two pools claim.
func (c *checker) checkPoolAssignment() {
	for _, pl := range c.plan.Pipelines {
		var claims []*model.NodePool
		for _, n := range c.plan.Scaling.NodePools {
			if n.Takes(pl.Name) {
				claims = append(claims, n)
			}
		}
		if len(claims) > 1 {
			second := claims[1]
			d := c.report(ruleNodePool, second.Path.Field("pipelines"), "pipeline %q is taken by node pools %q and %q", pl.Name, claims[0].Name, second.Name)
			d.Expected = "each pipeline in at most one pool"
			d.Hint = "list the pipelines of each pool explicitly instead of \"*\""
		}
	}
}

// checkPoolLimits warns when the pool's limits cannot hold the worst case:
// every autoscaled workload on the pool at maxReplicas, plus as many
// concurrent runs as the CI namespace admits, each at its peak. Runs
// beyond the limits wait for capacity rather than fail, hence a warning.
// Without sound sizes (reported already) only the bound on runs is
// checked.
func (c *checker) checkPoolLimits(n *model.NodePool, shape, limit capacity.Resources, sound bool) {
	p := c.plan
	var worst capacity.Resources
	var parts []string
	for _, a := range p.Scaling.Autoscalers {
		if a.NodePool != n.Name {
			continue
		}
		req := capacity.Parse(a.PodRequests)
		if a.Listener {
			req = capacity.Parse(p.Triggers.Resources.Requests)
		}
		worst = worst.Add(req.Mul(int64(a.MaxReplicas)))
		parts = append(parts, fmt.Sprintf("autoscaler %s: %d × (%s)", a.Name, a.MaxReplicas, req))
	}
	var peak capacity.Peak
	var heaviest string
	for _, pl := range p.Pipelines {
		if p.PoolFor(pl.Name) != n {
			continue
		}
		if pk := capacity.RunPeak(p, pl); pk.Requests.CPU > peak.Requests.CPU || heaviest == "" {
			peak, heaviest = pk, pl.Name
		}
	}
	if heaviest != "" {
		runs, bound := c.concurrentRuns()
		if runs == 0 {
			d := c.report(ruleUnbounded, n.Path, "nothing bounds how many pipeline runs node pool %q must hold at once", n.Name)
			d.Expected = "quota.pipelineRuns on the CI environment, or scaling.maxConcurrentRuns"
			d.Hint = "without a bound a burst of webhooks queues on the pool's limits"
			return
		}
		runsReq := peak.Requests.Mul(int64(runs))
		if ci := p.EnvironmentForNamespace(p.Namespace); ci != nil && ci.Quota != nil {
			// The namespace's quota caps the runs' requests too.
			q := capacity.Parse(ci.Quota.Requests)
			if q.CPU > 0 && q.CPU < runsReq.CPU {
				runsReq.CPU = q.CPU
			}
			if q.Memory > 0 && q.Memory < runsReq.Memory {
				runsReq.Memory = q.Memory
			}
		}
		worst = worst.Add(runsReq)
		parts = append(parts, fmt.Sprintf("%d concurrent runs (%s) of %s at its peak (%s: %d pods, %s), capped by the CI quota: %s",
			runs, bound, heaviest, strings.Join(peak.Tasks, ", "), peak.Pods, peak.Requests, runsReq))
	}
	if sound && !worst.Fits(limit) {
		d := c.report(rulePoolCap, n.Path.Field("limits"), "node pool %q is limited to %s, but the worst case needs %s", n.Name, limit, worst)
		nodes := max(ceilDiv(worst.CPU, shape.CPU), ceilDiv(worst.Memory, shape.Memory))
		d.Expected = fmt.Sprintf("limits of at least %s (about %d nodes of %s): %s", worst, nodes, shape, strings.Join(parts, "; "))
		d.Hint = "raise the limits, or lower maxReplicas or the number of concurrent runs; `pipec simulate` shows the queueing this causes"
	}
}

// checkAffinityAssistants warns when a burst can deadlock the CI
// namespace: with Tekton's affinity assistant, every running PipelineRun
// with a volume workspace holds one pod of the namespace's pod quota from
// its start to its end, so when as many runs start as the quota has pods,
// the assistants take it all and no TaskRun pod can be created (runs only
// finish when their TaskRuns do). The end-to-end scale test found it: 500
// runs, a quota of 180 pods, 165 assistants running, 0 TaskRun pods.
func (c *checker) checkAffinityAssistants() {
	p := c.plan
	ci := p.EnvironmentForNamespace(p.Namespace)
	if !p.Scaling.AffinityAssistants() || ci == nil || ci.Quota == nil || ci.Quota.Pods == nil {
		return
	}
	var heaviest *model.Pipeline
	var peak capacity.Peak
	for _, pl := range p.Pipelines {
		if !pl.VolumePerRun() {
			continue
		}
		if pk := capacity.RunPeak(p, pl); heaviest == nil || pk.Pods > peak.Pods {
			heaviest, peak = pl, pk
		}
	}
	if heaviest == nil {
		return
	}
	pods := int(*ci.Quota.Pods)
	peakPods := int(max(1, peak.Pods))
	safe := pods - peakPods
	runs, bound := c.concurrentRuns()
	if runs > 0 && runs <= safe {
		return
	}
	admitted := "nothing bounds the number of PipelineRuns"
	if runs > 0 {
		admitted = fmt.Sprintf("%s admits %d", bound, runs)
	}
	d := c.report(ruleDeadlock, ci.Quota.Path.Field("pods"),
		"a burst of PipelineRuns can deadlock namespace %q: with Tekton's coschedule %q every running run of %s holds an affinity-assistant pod, the quota has %d pods, and %s; once the assistants hold the quota no TaskRun pod can start",
		ci.Namespace, p.Scaling.TektonCoschedule, heaviest.Name, pods, admitted)
	d.Expected = fmt.Sprintf("at most %d PipelineRuns (quota.pipelineRuns or scaling.maxConcurrentRuns), the pod quota less the %d pods of a run at its peak; or Tekton's coschedule \"disabled\" (scaling.tektonCoschedule)", safe, peakPods)
	d.Hint = "quota.pipelineRuns counts PipelineRuns that exist, finished or not, so prune finished runs; `pipec simulate` shows the deadlock"
}

// concurrentRuns is the bound on concurrent PipelineRuns, and where it
// comes from.
func (c *checker) concurrentRuns() (int, string) {
	if ci := c.plan.EnvironmentForNamespace(c.plan.Namespace); ci != nil && ci.Quota != nil && ci.Quota.PipelineRuns != nil {
		return int(*ci.Quota.PipelineRuns), fmt.Sprintf("quota.pipelineRuns of %s", ci.Name)
	}
	if n := c.plan.Scaling.MaxConcurrentRuns; n > 0 {
		return n, "scaling.maxConcurrentRuns"
	}
	return 0, ""
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// checkRequirements checks a node pool's requirements as the NodePool
// CRD's validation rules do: In needs values, and Gt and Lt compare with
// one whole number of zero or more.
func (c *checker) checkRequirements(n *model.NodePool) {
	for i, r := range n.Requirements {
		path := n.Path.Field("requirements").Index(i)
		switch r.Operator {
		case "In":
			if len(r.Values) == 0 {
				d := c.report(ruleNodePool, path.Field("values"), "requirement %q with operator In has no values", r.Key)
				d.Expected = "at least one value"
				d.Hint = "the NodePool CRD refuses it; use Exists to accept any value"
			}
		case "Gt", "Lt":
			if len(r.Values) != 1 {
				d := c.report(ruleNodePool, path.Field("values"), "requirement %q with operator %s has %d values", r.Key, r.Operator, len(r.Values))
				d.Expected = `one whole number of zero or more, such as values: ["4"]`
				continue
			}
			if v, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil || v < 0 {
				d := c.report(ruleNodePool, path.Field("values").Index(0), "requirement %q with operator %s compares with %q, not a whole number of zero or more", r.Key, r.Operator, r.Values[0])
				d.Expected = `a whole number from 0 to 9223372036854775807, such as "4"`
			}
		}
	}
}
