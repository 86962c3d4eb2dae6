// Package sim simulates how pipec's autoscaling configuration behaves under
// a load of pipeline runs: the HorizontalPodAutoscaler algorithm as the
// Kubernetes controller implements it (replica calculation with its 10%
// tolerance, stabilization windows, behavior policies, min and max), pod
// scheduling onto nodes by requests, and node provisioning and
// consolidation in the way of Karpenter, with delays. It is a model, not a
// cluster: what it leaves out is documented on each type.
package sim

import (
	"math"
	"time"
)

// Tolerance is the HPA controller's default tolerance: a metric within 10%
// of its target changes nothing (--horizontal-pod-autoscaler-tolerance).
const Tolerance = 0.1

// SyncPeriod is how often the HPA controller evaluates an autoscaler
// (--horizontal-pod-autoscaler-sync-period).
const SyncPeriod = 15 * time.Second

// PolicyType is Pods or Percent.
type PolicyType string

// Policy types.
const (
	Pods    PolicyType = "Pods"
	Percent PolicyType = "Percent"
)

// Policy limits how much replicas may change within a period.
type Policy struct {
	Type   PolicyType
	Value  int32
	Period time.Duration
}

// SelectPolicy picks among policies: Max (the most change), Min, Disabled.
type SelectPolicy string

// Select policies.
const (
	SelectMax      SelectPolicy = "Max"
	SelectMin      SelectPolicy = "Min"
	SelectDisabled SelectPolicy = "Disabled"
)

// Rules are one direction of an HPA's behavior.
type Rules struct {
	StabilizationWindow time.Duration
	SelectPolicy        SelectPolicy
	Policies            []Policy
}

// DefaultScaleUp and DefaultScaleDown are Kubernetes' defaults for an HPA
// without behavior.
var (
	DefaultScaleUp = Rules{
		SelectPolicy: SelectMax,
		Policies:     []Policy{{Type: Pods, Value: 4, Period: 15 * time.Second}, {Type: Percent, Value: 100, Period: 15 * time.Second}},
	}
	DefaultScaleDown = Rules{
		StabilizationWindow: 300 * time.Second,
		SelectPolicy:        SelectMax,
		Policies:            []Policy{{Type: Percent, Value: 100, Period: 15 * time.Second}},
	}
)

// MetricKind is how a metric is compared with its target.
type MetricKind int

// Metric kinds.
const (
	// Utilization: percent of the pods' requests (resource metrics).
	Utilization MetricKind = iota
	// AverageValue: the metric's total divided by the replicas (pods and
	// external metrics with an average value target).
	AverageValue
	// Value: the metric's total against the target (external metrics
	// with a value target).
	Value
)

// Metric is one metric an HPA scales on.
type Metric struct {
	Name   string
	Kind   MetricKind
	Target float64
}

// HPA is one HorizontalPodAutoscaler being simulated.
type HPA struct {
	Min, Max  int32
	Metrics   []Metric
	ScaleUp   Rules
	ScaleDown Rules

	replicas        int32
	recommendations []recommendation
	upEvents        []event
	downEvents      []event
}

type recommendation struct {
	at       time.Time
	replicas int32
}

type event struct {
	at     time.Time
	change int32
}

// NewHPA starts an HPA at its minimum.
func NewHPA(min, max int32, metrics []Metric, up, down Rules) *HPA {
	return &HPA{Min: min, Max: max, Metrics: metrics, ScaleUp: up, ScaleDown: down, replicas: max32(min, 1)}
}

// Replicas is the current replica count.
func (h *HPA) Replicas() int32 { return h.replicas }

// Proposal is the replica count one metric calls for, as the replica
// calculator computes it: no change within the tolerance, else the ratio of
// metric to target applied to the current replicas (Utilization, Value),
// or the metric's total divided by the per-replica target (AverageValue).
// value is the average utilization in percent, or the metric's total.
func Proposal(m Metric, value float64, current int32) int32 {
	switch m.Kind {
	case Utilization, Value:
		ratio := value / m.Target
		if math.Abs(1-ratio) <= Tolerance {
			return current
		}
		return int32(math.Ceil(ratio * float64(current)))
	default:
		ratio := value / (m.Target * float64(current))
		if math.Abs(1-ratio) <= Tolerance {
			return current
		}
		return int32(math.Ceil(value / m.Target))
	}
}

// Step runs one evaluation of the HPA at now, given each metric's value
// (see Proposal), and returns the new replica count: the largest proposal,
// stabilized, limited by the behavior policies, and clamped to min and max.
func (h *HPA) Step(now time.Time, values []float64) int32 {
	current := h.replicas
	desired := int32(0)
	for i, m := range h.Metrics {
		desired = max(desired, Proposal(m, values[i], current))
	}
	if len(h.Metrics) == 0 {
		desired = current
	}
	desired = h.stabilize(now, desired, current)
	desired = h.limitRate(now, desired, current)
	if desired != current {
		if desired > current {
			h.upEvents = append(h.upEvents, event{now, desired - current})
		} else {
			h.downEvents = append(h.downEvents, event{now, current - desired})
		}
	}
	h.replicas = desired
	return desired
}

// stabilize applies the stabilization windows: scaling up goes no further
// than the smallest recommendation within the up window, scaling down no
// further than the largest within the down window
// (stabilizeRecommendationWithBehaviors).
func (h *HPA) stabilize(now time.Time, desired, current int32) int32 {
	up, down := desired, desired
	upCutoff := now.Add(-h.ScaleUp.StabilizationWindow)
	downCutoff := now.Add(-h.ScaleDown.StabilizationWindow)
	keep := h.recommendations[:0]
	longest := max(h.ScaleUp.StabilizationWindow, h.ScaleDown.StabilizationWindow)
	for _, r := range h.recommendations {
		if r.at.After(upCutoff) {
			up = min(up, r.replicas)
		}
		if r.at.After(downCutoff) {
			down = max(down, r.replicas)
		}
		if r.at.After(now.Add(-longest)) {
			keep = append(keep, r)
		}
	}
	h.recommendations = append(keep, recommendation{now, desired})
	rec := current
	if rec < up {
		rec = up
	}
	if rec > down {
		rec = down
	}
	return rec
}

// changeInPeriod sums the replica changes of events within period before
// now (getReplicasChangePerPeriod).
func changeInPeriod(now time.Time, period time.Duration, events []event) int32 {
	var sum int32
	cutoff := now.Add(-period)
	for _, e := range events {
		if e.at.After(cutoff) {
			sum += e.change
		}
	}
	return sum
}

// limitRate applies the behavior policies and min/max
// (convertDesiredReplicasWithBehaviorRate).
func (h *HPA) limitRate(now time.Time, desired, current int32) int32 {
	switch {
	case desired > current:
		limit := h.scaleUpLimit(now, current)
		if limit < current {
			limit = current
		}
		limit = min(limit, h.Max)
		return min(desired, limit)
	case desired < current:
		limit := h.scaleDownLimit(now, current)
		if limit > current {
			limit = current
		}
		limit = max(limit, h.Min)
		return max(desired, limit)
	}
	return min(max(desired, h.Min), h.Max)
}

func (h *HPA) scaleUpLimit(now time.Time, current int32) int32 {
	r := h.ScaleUp
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	pick, result := max32, int32(math.MinInt32)
	if r.SelectPolicy == SelectMin {
		pick, result = min32, math.MaxInt32
	}
	for _, p := range r.Policies {
		start := current - changeInPeriod(now, p.Period, h.upEvents) + changeInPeriod(now, p.Period, h.downEvents)
		var proposed int32
		if p.Type == Pods {
			proposed = start + p.Value
		} else {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

func (h *HPA) scaleDownLimit(now time.Time, current int32) int32 {
	r := h.ScaleDown
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	// Max means the policy allowing the most change: the lowest limit.
	pick, result := min32, int32(math.MaxInt32)
	if r.SelectPolicy == SelectMin {
		pick, result = max32, math.MinInt32
	}
	for _, p := range r.Policies {
		start := current - changeInPeriod(now, p.Period, h.upEvents) + changeInPeriod(now, p.Period, h.downEvents)
		var proposed int32
		if p.Type == Pods {
			proposed = start - p.Value
		} else {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func max32(a, b int32) int32 { return max(a, b) }
func min32(a, b int32) int32 { return min(a, b) }
