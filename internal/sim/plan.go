package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipec/pipec/internal/capacity"
	"github.com/pipec/pipec/model"
)

// Setup chooses what to simulate from a compiled plan. Empty fields take
// the defaults documented on each.
type Setup struct {
	// Pipeline whose runs arrive; default the heaviest pipeline on Pool.
	Pipeline string
	// Pool the runs land on; default the pipeline's pool, or the only pool.
	Pool string
	// Autoscaler to simulate; default the one on the pool, else one that
	// scales on a Tekton or EventListener metric; "none" for none.
	Autoscaler string
	// RunDuration is how long a run's pods run; default 10m.
	RunDuration time.Duration
	// Duration of the simulation; default until two run durations after
	// the last arrival, at least an hour.
	Duration time.Duration
	// Every is the period of the timeline's rows; default Duration/24
	// rounded to the minute, at least a minute.
	Every time.Duration
	// RunsPerReplica is how many active runs one replica of the autoscaled
	// component serves at 100% CPU or memory utilization; default 10.
	RunsPerReplica float64
	// Arrivals of runs, as offsets from the start.
	Arrivals []time.Duration
}

// FromPlan builds the scenario a setup describes. Its errors are the
// user's to fix: an unknown pipeline, pool or autoscaler, or a plan
// without a node pool.
func FromPlan(plan *model.Plan, set Setup) (Scenario, error) {
	var sc Scenario
	if len(plan.Scaling.NodePools) == 0 {
		return sc, fmt.Errorf("the configuration declares no node pool; expected scaling.nodePools with the pool pipeline runs land on")
	}
	if len(set.Arrivals) == 0 {
		return sc, fmt.Errorf("no runs arrive; expected a burst such as \"500 runs in 10m\" or a trace file")
	}
	pool, pl, err := choosePoolAndPipeline(plan, set)
	if err != nil {
		return sc, err
	}
	sc.Name = "as configured"
	sc.Pool = poolOf(pool)
	peak := capacity.RunPeak(plan, pl)
	pods := max(1, peak.Pods)
	sc.Workload = Workload{
		Arrivals:    set.Arrivals,
		PodsPerRun:  int(pods),
		Requests:    capacity.Resources{CPU: ceilDiv(peak.Requests.CPU, pods), Memory: ceilDiv(peak.Requests.Memory, pods)},
		RunDuration: cmp.Or(set.RunDuration, 10*time.Minute),
		Assistant:   plan.Scaling.AffinityAssistants() && pl.VolumePerRun(),
	}
	if ci := plan.EnvironmentForNamespace(plan.Namespace); ci != nil && ci.Quota != nil {
		q := ci.Quota
		sc.Quota.Requests = capacity.Parse(q.Requests)
		if q.Pods != nil {
			sc.Quota.Pods = int(*q.Pods)
		}
		if q.PipelineRuns != nil {
			sc.Quota.PipelineRuns = int(*q.PipelineRuns)
		}
	}
	if sc.Quota.PipelineRuns == 0 {
		sc.Quota.PipelineRuns = plan.Scaling.MaxConcurrentRuns
	}
	a, err := chooseAutoscaler(plan, set, pool)
	if err != nil {
		return sc, err
	}
	if a != nil {
		sc.Autoscaled, err = autoscaledOf(plan, a, pool, cmp.Or(set.RunsPerReplica, 10))
		if err != nil {
			return sc, err
		}
	}
	sc.Names = Names{Pipeline: pl.Name, PeakTasks: peak.Tasks, Pool: pool.Name}
	if a != nil {
		sc.Names.Autoscaler = a.Name
	}
	last := slices.Max(set.Arrivals)
	sc.Duration = cmp.Or(set.Duration, max(time.Hour, (last+2*sc.Workload.RunDuration).Round(time.Minute)))
	sc.Every = cmp.Or(set.Every, max(time.Minute, (sc.Duration/24).Round(time.Minute)))
	return sc, nil
}

func choosePoolAndPipeline(plan *model.Plan, set Setup) (*model.NodePool, *model.Pipeline, error) {
	var pool *model.NodePool
	if set.Pool != "" {
		i := slices.IndexFunc(plan.Scaling.NodePools, func(n *model.NodePool) bool { return n.Name == set.Pool })
		if i < 0 {
			return nil, nil, fmt.Errorf("unknown node pool %q; expected one of %s", set.Pool, names(plan.Scaling.NodePools, func(n *model.NodePool) string { return n.Name }))
		}
		pool = plan.Scaling.NodePools[i]
	}
	if set.Pipeline != "" {
		pl := plan.Pipeline(set.Pipeline)
		if pl == nil {
			return nil, nil, fmt.Errorf("unknown pipeline %q; expected one of %s", set.Pipeline, names(plan.Pipelines, func(p *model.Pipeline) string { return p.Name }))
		}
		if pool == nil {
			pool = plan.PoolFor(pl.Name)
		}
		if pool == nil {
			return nil, nil, fmt.Errorf("no node pool takes pipeline %q; expected it in a pool's pipelines, or --pool", pl.Name)
		}
		return pool, pl, nil
	}
	if pool == nil {
		// Pools that take no pipeline (a preview environments' pool,
		// say) run no pipeline runs.
		pools := slices.DeleteFunc(slices.Clone(plan.Scaling.NodePools), func(n *model.NodePool) bool { return len(n.Pipelines) == 0 })
		if len(pools) == 0 {
			pools = plan.Scaling.NodePools
		}
		if len(pools) > 1 {
			return nil, nil, fmt.Errorf("the configuration has %d node pools; choose one with --pool (%s)", len(pools), names(pools, func(n *model.NodePool) string { return n.Name }))
		}
		pool = pools[0]
	}
	var heaviest *model.Pipeline
	var peak capacity.Peak
	for _, pl := range plan.Pipelines {
		if plan.PoolFor(pl.Name) != pool {
			continue
		}
		if pk := capacity.RunPeak(plan, pl); heaviest == nil || pk.Requests.CPU > peak.Requests.CPU {
			heaviest, peak = pl, pk
		}
	}
	if heaviest == nil {
		return nil, nil, fmt.Errorf("node pool %q takes no pipeline; expected pipelines in its pipelines list", pool.Name)
	}
	return pool, heaviest, nil
}

func chooseAutoscaler(plan *model.Plan, set Setup, pool *model.NodePool) (*model.Autoscaler, error) {
	all := plan.Scaling.Autoscalers
	switch set.Autoscaler {
	case "none":
		return nil, nil
	case "":
	default:
		i := slices.IndexFunc(all, func(a *model.Autoscaler) bool { return a.Name == set.Autoscaler })
		if i < 0 {
			return nil, fmt.Errorf("unknown autoscaler %q; expected one of %s, or none", set.Autoscaler, names(all, func(a *model.Autoscaler) string { return a.Name }))
		}
		return all[i], nil
	}
	for _, a := range all {
		if a.NodePool == pool.Name {
			return a, nil
		}
	}
	for _, a := range all {
		for _, m := range append(slices.Clone(a.Pods), a.External...) {
			if strings.HasPrefix(m.Name, "tekton_") || strings.HasPrefix(m.Name, "eventlistener_") {
				return a, nil
			}
		}
	}
	for _, a := range all {
		if a.Listener {
			return a, nil
		}
	}
	return nil, nil
}

func poolOf(n *model.NodePool) Pool {
	p := Pool{
		Node:              capacity.Parse(n.NodeShape),
		Limit:             capacity.Parse(n.Limits),
		ProvisionDelay:    duration(n.ProvisioningDelay, time.Minute),
		ConsolidateAfter:  -1,
		WhenUnderutilized: n.ConsolidationPolicy == "WhenEmptyOrUnderutilized",
	}
	if n.ConsolidateAfter != "Never" {
		p.ConsolidateAfter = duration(n.ConsolidateAfter, 0)
	}
	// The budget in force at all times: the first without a schedule.
	for _, b := range n.Budgets {
		if b.Schedule != "" {
			continue
		}
		if pct, ok := strings.CutSuffix(b.Nodes, "%"); ok {
			v, _ := strconv.Atoi(pct)
			p.Budget = float64(v) / 100
			if v == 0 {
				p.BudgetNodes = -1
			}
		} else {
			v, _ := strconv.Atoi(b.Nodes)
			p.BudgetNodes = v
			if v == 0 {
				p.BudgetNodes = -1
			}
		}
		break
	}
	return p
}

func autoscaledOf(plan *model.Plan, a *model.Autoscaler, pool *model.NodePool, runsPerReplica float64) (*Autoscaled, error) {
	var metrics []Metric
	if a.CPU > 0 {
		metrics = append(metrics, Metric{Name: "cpu", Kind: Utilization, Target: float64(a.CPU)})
	}
	if a.Memory > 0 {
		metrics = append(metrics, Metric{Name: "memory", Kind: Utilization, Target: float64(a.Memory)})
	}
	for _, m := range append(slices.Clone(a.Pods), a.External...) {
		v, kind := m.AverageValue, AverageValue
		if v == "" {
			v, kind = m.Value, Value
		}
		target, err := strconv.ParseFloat(v, 64)
		if err != nil || target <= 0 {
			return nil, fmt.Errorf("autoscaler %q: the simulation needs a plain number as the target of metric %q, not %q", a.Name, m.Name, v)
		}
		metrics = append(metrics, Metric{Name: m.Name, Kind: kind, Target: target})
	}
	req := a.PodRequests
	if a.Listener {
		req = plan.Triggers.Resources.Requests
	}
	return &Autoscaled{
		HPA:            NewHPA(a.MinReplicas, a.MaxReplicas, metrics, rulesOf(a.ScaleUp), rulesOf(a.ScaleDown)),
		Requests:       capacity.Parse(req),
		RunsPerReplica: runsPerReplica,
		OnPool:         a.NodePool == pool.Name,
	}, nil
}

func rulesOf(r model.ScalingRules) Rules {
	out := Rules{StabilizationWindow: duration(r.StabilizationWindow, 0), SelectPolicy: SelectPolicy(r.SelectPolicy)}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, Policy{Type: PolicyType(p.Type), Value: p.Value, Period: duration(p.Period, 15*time.Second)})
	}
	return out
}

func duration(s string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return def
	}
	return d
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func names[T any](items []T, name func(T) string) string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = strconv.Quote(name(x))
	}
	return strings.Join(out, ", ")
}
