package sim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pipec/pipec/internal/capacity"
)

// Tick is the simulation's time step.
const Tick = 5 * time.Second

// Resources are CPU in millicores and memory in bytes.
type Resources = capacity.Resources

// fits reports whether r fits in free (zero free is full, not unlimited).
func fits(r, free Resources) bool { return r.CPU <= free.CPU && r.Memory <= free.Memory }

// Pool is a Karpenter node pool, reduced to what the simulation needs. New
// nodes all have the shape Node; a node becomes ready ProvisionDelay after
// launch; an empty node is removed after ConsolidateAfter (negative:
// never); with WhenUnderutilized, a node whose movable pods fit elsewhere is
// drained and removed too, ConsolidateAfter after a pod last started or
// stopped on it. Nodes running pipeline pods are never disrupted
// (pipec marks them karpenter.sh/do-not-disrupt). At most Budget of the
// nodes (a fraction, rounded up), or BudgetNodes nodes when positive, are
// disrupted at once; a negative BudgetNodes allows no disruption.
type Pool struct {
	Node              Resources
	Limit             Resources // zero: unlimited
	ProvisionDelay    time.Duration
	ConsolidateAfter  time.Duration
	WhenUnderutilized bool
	Budget            float64
	BudgetNodes       int
}

// Workload is the load: pipeline runs arriving over time.
type Workload struct {
	// Arrivals are offsets from the start at which a run arrives.
	Arrivals []time.Duration
	// PodsPerRun pods, each with Requests, run for RunDuration.
	PodsPerRun  int
	Requests    Resources
	RunDuration time.Duration
	// Assistant: each run also holds one pod from its start to its end
	// (Tekton's affinity assistant), which the pod quota counts and which
	// must exist before the run's pods are created. Its requests are
	// negligible.
	Assistant bool
}

// Quota is the CI namespace's quota; zero fields are unlimited.
type Quota struct {
	PipelineRuns int
	Pods         int
	Requests     Resources
}

// Autoscaled is the HPA-scaled component: its pods' requests, and how its
// metrics follow the load. Each metric's value is computed from the number
// of active (waiting or running) runs: AverageValue metrics see that
// number; Utilization metrics see 100% when each replica has RunsPerReplica
// active runs.
type Autoscaled struct {
	HPA            *HPA
	Requests       Resources
	RunsPerReplica float64
	OnPool         bool
}

// Scenario is one simulation.
type Scenario struct {
	Name string
	// Names of what is simulated, for About.
	Names    Names
	Pool     Pool
	Workload Workload
	Quota    Quota
	// Autoscaled may be nil.
	Autoscaled *Autoscaled
	Duration   time.Duration
	// Every is the period of the timeline's rows.
	Every time.Duration
}

// Sample is one row of the timeline.
type Sample struct {
	At          time.Duration
	Arrived     int
	Rejected    int
	WaitingRuns int
	RunningRuns int
	// QueueWait is how long the oldest waiting run has waited.
	QueueWait time.Duration
	// PendingPods are created and wait for a node; OverQuota pods wait for
	// the namespace quota before they can be created at all.
	PendingPods   int
	OverQuota     int
	Replicas      int32
	Nodes         int
	LaunchingNode int
	UsedCPU       int64
	TotalCPU      int64
}

// Result is a simulation's outcome.
type Result struct {
	Scenario string
	// Timeline has a sample every Scenario.Every, for tables.
	Timeline []Sample
	// Series has a sample every PlotPeriod of the duration, for charts.
	Series       []Sample
	Runs         int
	Rejected     int
	Completed    int
	WaitP50      time.Duration
	WaitP95      time.Duration
	WaitMax      time.Duration
	PeakNodes    int
	NodeHours    float64
	PeakReplicas int32
	// ReplicaHours is what the autoscaled component ran: replicas × time.
	ReplicaHours float64
	AtMax        time.Duration
	// Starved counts runs that never fully started.
	Starved int
}

type node struct {
	readyAt    time.Duration
	used       Resources
	pods       int
	runPods    int
	emptySince time.Duration
	// changedAt is when a pod last started or stopped on the node:
	// Karpenter consolidates a node only consolidateAfter after that.
	changedAt time.Duration
}

type pod struct {
	req     Resources
	run     *run
	node    *node
	created bool
	start   time.Duration
	movable bool
}

type run struct {
	arrived time.Duration
	pods    []*pod
	started time.Duration
	running bool
	done    bool
	// assistant: the run's affinity-assistant pod exists.
	assistant bool
}

// Run simulates the scenario. It does not change s: the autoscaler starts
// afresh at its minimum on every run.
func Run(s Scenario) Result {
	res := Result{Scenario: s.Name}
	if s.Autoscaled != nil {
		a := *s.Autoscaled
		h := a.HPA
		a.HPA = NewHPA(h.Min, h.Max, h.Metrics, h.ScaleUp, h.ScaleDown)
		s.Autoscaled = &a
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	arrivals := slices.Clone(s.Workload.Arrivals)
	slices.Sort(arrivals)
	var nodes []*node
	var runs []*run
	var pods []*pod    // pipeline pods, in creation order
	var hpaPods []*pod // the autoscaled component's pods
	var waits []time.Duration
	next := 0
	nextHPA := time.Duration(0)
	nextSample, nextPoint := time.Duration(0), time.Duration(0)
	plotEvery := PlotPeriod(s.Duration)
	active := 0 // runs accepted and not done
	// The namespace quota's usage: pods created and not yet finished.
	var qUsed Resources
	qCount := 0
	create := func(p *pod) {
		p.created = true
		qUsed = qUsed.Add(p.req)
		qCount++
	}
	release := func(p *pod) {
		if p.created {
			p.created = false
			qUsed = qUsed.Add(p.req.Mul(-1))
			qCount--
		}
	}

	for now := time.Duration(0); now <= s.Duration; now += Tick {
		// Arrivals: a run over the PipelineRun quota is rejected.
		for next < len(arrivals) && arrivals[next] <= now {
			next++
			res.Runs++
			if s.Quota.PipelineRuns > 0 && active >= s.Quota.PipelineRuns {
				res.Rejected++
				continue
			}
			r := &run{arrived: now}
			for i := 0; i < s.Workload.PodsPerRun; i++ {
				p := &pod{req: s.Workload.Requests, run: r}
				r.pods = append(r.pods, p)
				pods = append(pods, p)
			}
			runs = append(runs, r)
			active++
		}
		// Pods finish.
		for _, p := range pods {
			if p.node != nil && now-p.start >= s.Workload.RunDuration {
				p.node.used.CPU -= p.req.CPU
				p.node.used.Memory -= p.req.Memory
				p.node.pods--
				p.node.runPods--
				p.node.changedAt = now
				p.node = nil
				release(p)
				p.run = finishPod(p.run, p)
			}
		}
		pods = slices.DeleteFunc(pods, func(p *pod) bool { return p.run == nil })
		for _, r := range runs {
			if !r.done && r.running && len(r.pods) == 0 {
				r.done = true
				res.Completed++
				active--
				if r.assistant {
					r.assistant = false
					qCount--
				}
			}
		}
		// The HPA.
		if a := s.Autoscaled; a != nil && now >= nextHPA {
			nextHPA = now + SyncPeriod
			load := float64(active)
			values := make([]float64, len(a.HPA.Metrics))
			for i, m := range a.HPA.Metrics {
				if m.Kind == Utilization {
					values[i] = 100 * load / (float64(a.HPA.Replicas()) * math.Max(a.RunsPerReplica, 0.001))
				} else {
					values[i] = load
				}
			}
			want := int(a.HPA.Step(start.Add(now), values))
			for len(hpaPods) < want {
				p := &pod{req: a.Requests, movable: true}
				if !a.OnPool {
					create(p) // runs elsewhere, but counts in the quota
				}
				hpaPods = append(hpaPods, p)
			}
			for len(hpaPods) > want {
				p := hpaPods[len(hpaPods)-1]
				release(p)
				if p.node != nil {
					p.node.used.CPU -= p.req.CPU
					p.node.used.Memory -= p.req.Memory
					p.node.pods--
					p.node.changedAt = now
				}
				hpaPods = hpaPods[:len(hpaPods)-1]
			}
			res.PeakReplicas = max(res.PeakReplicas, int32(want))
		}
		if a := s.Autoscaled; a != nil {
			res.ReplicaHours += float64(a.HPA.Replicas()) * Tick.Hours()
			if a.HPA.Replicas() >= a.HPA.Max {
				res.AtMax += Tick
			}
		}
		// Affinity assistants, one per run in arrival order, within the
		// pod quota: Tekton creates a run's assistant when the run starts,
		// and its TaskRun pods only after that.
		if s.Workload.Assistant {
			for _, r := range runs {
				if !r.done && !r.assistant && (s.Quota.Pods == 0 || qCount+1 <= s.Quota.Pods) {
					r.assistant = true
					qCount++
				}
			}
		}
		// Pod creation within the namespace quota, then scheduling onto
		// ready nodes, first fit, in creation order.
		var pending []*pod
		schedulable := slices.Clone(pods)
		if a := s.Autoscaled; a != nil && a.OnPool {
			schedulable = append(hpaPods, schedulable...)
		}
		for _, p := range schedulable {
			if p.node != nil {
				continue
			}
			if !p.created {
				q := s.Quota
				if p.run != nil && s.Workload.Assistant && !p.run.assistant {
					pending = append(pending, p)
					continue
				}
				if q.Pods > 0 && qCount+1 > q.Pods || q.Requests.CPU > 0 && qUsed.CPU+p.req.CPU > q.Requests.CPU || q.Requests.Memory > 0 && qUsed.Memory+p.req.Memory > q.Requests.Memory {
					pending = append(pending, p)
					continue
				}
				create(p)
			}
			placed := false
			for _, n := range nodes {
				if n.readyAt <= now && fits(p.req, Resources{CPU: s.Pool.Node.CPU - n.used.CPU, Memory: s.Pool.Node.Memory - n.used.Memory}) {
					n.used.CPU += p.req.CPU
					n.used.Memory += p.req.Memory
					n.pods++
					n.changedAt = now
					if !p.movable {
						n.runPods++
					}
					p.node, p.start = n, now
					placed = true
					break
				}
			}
			if !placed {
				pending = append(pending, p)
			}
		}
		for _, r := range runs {
			if r.running || r.done {
				continue
			}
			all := true
			for _, p := range r.pods {
				if p.node == nil {
					all = false
					break
				}
			}
			if all {
				r.running, r.started = true, now
				waits = append(waits, now-r.arrived)
			}
		}
		// Provisioning: launch nodes for created pods that fit nowhere,
		// counting nodes already launching, within the pool's limits.
		var launching []Resources
		for _, n := range nodes {
			if n.readyAt > now {
				launching = append(launching, Resources{CPU: s.Pool.Node.CPU, Memory: s.Pool.Node.Memory})
			}
		}
		for _, p := range pending {
			if !p.created {
				continue
			}
			fit := false
			for i := range launching {
				if fits(p.req, launching[i]) {
					launching[i].CPU -= p.req.CPU
					launching[i].Memory -= p.req.Memory
					fit = true
					break
				}
			}
			if fit || !fits(p.req, s.Pool.Node) {
				continue
			}
			total := Resources{CPU: int64(len(nodes)+1) * s.Pool.Node.CPU, Memory: int64(len(nodes)+1) * s.Pool.Node.Memory}
			if s.Pool.Limit.CPU > 0 && total.CPU > s.Pool.Limit.CPU || s.Pool.Limit.Memory > 0 && total.Memory > s.Pool.Limit.Memory {
				continue
			}
			nodes = append(nodes, &node{readyAt: now + s.Pool.ProvisionDelay, emptySince: -1, changedAt: now + s.Pool.ProvisionDelay})
			launching = append(launching, Resources{CPU: s.Pool.Node.CPU - p.req.CPU, Memory: s.Pool.Node.Memory - p.req.Memory})
		}
		// Consolidation, within the disruption budget.
		budget := int(math.Ceil(s.Pool.Budget * float64(len(nodes))))
		switch {
		case s.Pool.BudgetNodes < 0:
			budget = 0
		case s.Pool.BudgetNodes > 0:
			budget = s.Pool.BudgetNodes
		case s.Pool.Budget <= 0:
			budget = len(nodes)
		}
		for _, n := range nodes {
			if n.readyAt > now {
				continue
			}
			if n.pods == 0 {
				if n.emptySince < 0 {
					n.emptySince = now
				}
			} else {
				n.emptySince = -1
			}
		}
		if s.Pool.ConsolidateAfter >= 0 {
			nodes = slices.DeleteFunc(nodes, func(n *node) bool {
				if budget > 0 && n.readyAt <= now && n.pods == 0 && n.emptySince >= 0 && now-n.emptySince >= s.Pool.ConsolidateAfter {
					budget--
					return true
				}
				return false
			})
			if s.Pool.WhenUnderutilized {
				nodes = consolidateUnderutilized(nodes, hpaPods, s.Pool, now, &budget)
			}
		}
		// Accounting.
		ready := 0
		var used int64
		for _, n := range nodes {
			if n.readyAt <= now {
				ready++
			}
			used += n.used.CPU
		}
		res.PeakNodes = max(res.PeakNodes, len(nodes))
		res.NodeHours += float64(len(nodes)) * Tick.Hours()
		if now >= nextSample || now >= nextPoint {
			waiting, running := 0, 0
			var oldest time.Duration
			for _, r := range runs {
				switch {
				case r.done:
				case r.running:
					running++
				default:
					waiting++
					oldest = max(oldest, now-r.arrived)
				}
			}
			var replicas int32
			if s.Autoscaled != nil {
				replicas = s.Autoscaled.HPA.Replicas()
			}
			overQuota := 0
			for _, p := range pending {
				if !p.created {
					overQuota++
				}
			}
			sample := Sample{
				At: now, Arrived: res.Runs, Rejected: res.Rejected, WaitingRuns: waiting, RunningRuns: running, QueueWait: oldest,
				PendingPods: len(pending) - overQuota, OverQuota: overQuota, Replicas: replicas, Nodes: ready, LaunchingNode: len(nodes) - ready,
				UsedCPU: used, TotalCPU: int64(ready) * s.Pool.Node.CPU,
			}
			if now >= nextSample {
				nextSample = now + s.Every
				res.Timeline = append(res.Timeline, sample)
			}
			if now >= nextPoint {
				nextPoint = now + plotEvery
				res.Series = append(res.Series, sample)
			}
		}
	}
	for _, r := range runs {
		if !r.running && !r.done {
			res.Starved++
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	if len(waits) > 0 {
		res.WaitP50 = waits[len(waits)*50/100]
		res.WaitP95 = waits[min(len(waits)-1, len(waits)*95/100)]
		res.WaitMax = waits[len(waits)-1]
	}
	return res
}

// finishPod removes a finished pod from its run; it returns nil so the pod
// is dropped from the pod list.
func finishPod(r *run, p *pod) *run {
	r.pods = slices.DeleteFunc(r.pods, func(x *pod) bool { return x == p })
	return nil
}

// consolidateUnderutilized removes nodes whose pods are all movable and fit
// on the other nodes' free capacity, once no pod has started or stopped on
// them for the pool's ConsolidateAfter.
func consolidateUnderutilized(nodes []*node, movable []*pod, pool Pool, now time.Duration, budget *int) []*node {
	for i := 0; i < len(nodes) && *budget > 0; i++ {
		n := nodes[i]
		if n.readyAt > now || n.pods == 0 || n.runPods > 0 || now-n.changedAt < pool.ConsolidateAfter {
			continue
		}
		var mine []*pod
		for _, p := range movable {
			if p.node == n {
				mine = append(mine, p)
			}
		}
		free := map[*node]Resources{}
		for _, o := range nodes {
			if o != n && o.readyAt <= now {
				free[o] = Resources{CPU: pool.Node.CPU - o.used.CPU, Memory: pool.Node.Memory - o.used.Memory}
			}
		}
		moves := map[*pod]*node{}
		for _, p := range mine {
			for _, o := range nodes {
				f, ok := free[o]
				if ok && fits(p.req, f) {
					free[o] = Resources{CPU: f.CPU - p.req.CPU, Memory: f.Memory - p.req.Memory}
					moves[p] = o
					break
				}
			}
		}
		if len(moves) != len(mine) {
			continue
		}
		for p, o := range moves {
			o.used.CPU += p.req.CPU
			o.used.Memory += p.req.Memory
			o.pods++
			o.changedAt = now
			p.node = o
		}
		nodes = append(nodes[:i], nodes[i+1:]...)
		*budget--
		i--
	}
	return nodes
}

// FormatDuration prints a duration compactly: 1h05m, 4m30s, 12s.
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// Names are the names of what a scenario simulates.
type Names struct {
	Pipeline   string
	PeakTasks  []string
	Pool       string
	Autoscaler string
}

// About says what a scenario simulates, for people, from its current
// settings (so a varied scenario describes itself).
func (s Scenario) About() string {
	if s.Names.Pool == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s: %d pod(s) per run at its peak (%s), %s each, for %s\n",
		s.Names.Pipeline, s.Workload.PodsPerRun, strings.Join(s.Names.PeakTasks, ", "), s.Workload.Requests, FormatDuration(s.Workload.RunDuration))
	if s.Workload.Assistant {
		b.WriteString("each run holds a Tekton affinity-assistant pod from start to end\n")
	}
	limits := "unlimited"
	if s.Pool.Limit != (Resources{}) {
		limits = s.Pool.Limit.String()
	}
	fmt.Fprintf(&b, "node pool %s: nodes of %s, limits %s, ready after %s, ", s.Names.Pool, s.Pool.Node, limits, FormatDuration(s.Pool.ProvisionDelay))
	switch {
	case s.Pool.ConsolidateAfter < 0:
		b.WriteString("never consolidated")
	case s.Pool.WhenUnderutilized:
		fmt.Fprintf(&b, "empty or underutilized nodes consolidated after %s", FormatDuration(s.Pool.ConsolidateAfter))
	default:
		fmt.Fprintf(&b, "empty nodes removed after %s", FormatDuration(s.Pool.ConsolidateAfter))
	}
	if a := s.Autoscaled; a != nil {
		fmt.Fprintf(&b, "\nautoscaler %s: %d to %d replicas of %s, scale-up window %s, scale-down window %s",
			s.Names.Autoscaler, a.HPA.Min, a.HPA.Max, a.Requests, FormatDuration(a.HPA.ScaleUp.StabilizationWindow), FormatDuration(a.HPA.ScaleDown.StabilizationWindow))
		if a.OnPool {
			b.WriteString(", on the pool")
		}
	}
	if s.Quota.PipelineRuns > 0 {
		fmt.Fprintf(&b, "\nat most %d concurrent runs; more are rejected", s.Quota.PipelineRuns)
	}
	return b.String()
}

// PlotPeriod is the period of a result's Series for a simulation of d:
// the HPA's sync period, or longer so a chart has at most about 600 points.
func PlotPeriod(d time.Duration) time.Duration {
	return max(SyncPeriod, (d / 600).Round(time.Second))
}
