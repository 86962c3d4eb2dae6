package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// tunable is a setting --compare can vary.
type tunable struct {
	doc string
	set func(s *Scenario, v string) error
}

func durationSetter(field func(s *Scenario) *time.Duration, allowNever bool) func(*Scenario, string) error {
	return func(s *Scenario, v string) error {
		if allowNever && v == "Never" {
			*field(s) = -1
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration; expected one such as \"300s\" or \"5m\"", v)
		}
		*field(s) = d
		return nil
	}
}

func hpaSetter(field func(h *HPA) *time.Duration) func(*Scenario, string) error {
	return func(s *Scenario, v string) error {
		if s.Autoscaled == nil {
			return fmt.Errorf("no autoscaler is simulated; choose one with --autoscaler")
		}
		h := *s.Autoscaled.HPA
		a := *s.Autoscaled
		a.HPA = &h
		s.Autoscaled = &a
		return durationSetter(func(*Scenario) *time.Duration { return field(&h) }, false)(s, v)
	}
}

func replicasSetter(field func(h *HPA) *int32) func(*Scenario, string) error {
	return func(s *Scenario, v string) error {
		if s.Autoscaled == nil {
			return fmt.Errorf("no autoscaler is simulated; choose one with --autoscaler")
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a replica count; expected a whole number of at least 1", v)
		}
		h := *s.Autoscaled.HPA
		*field(&h) = int32(n)
		a := *s.Autoscaled
		a.HPA = &h
		s.Autoscaled = &a
		return nil
	}
}

func quantitySetter(field func(s *Scenario) *int64, milli bool) func(*Scenario, string) error {
	return func(s *Scenario, v string) error {
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return fmt.Errorf("%q is not a quantity above 0; expected one such as \"64\" or \"256Gi\"", v)
		}
		if milli {
			*field(s) = q.MilliValue()
		} else {
			*field(s) = q.Value()
		}
		return nil
	}
}

var tunables = map[string]tunable{
	"scaleUp.stabilizationWindow":   {"the autoscaler's scale-up stabilization window", hpaSetter(func(h *HPA) *time.Duration { return &h.ScaleUp.StabilizationWindow })},
	"scaleDown.stabilizationWindow": {"the autoscaler's scale-down stabilization window", hpaSetter(func(h *HPA) *time.Duration { return &h.ScaleDown.StabilizationWindow })},
	"minReplicas":                   {"the autoscaler's minimum", replicasSetter(func(h *HPA) *int32 { return &h.Min })},
	"maxReplicas":                   {"the autoscaler's maximum", replicasSetter(func(h *HPA) *int32 { return &h.Max })},
	"pool.consolidateAfter":         {"how long an empty node lives (or Never)", durationSetter(func(s *Scenario) *time.Duration { return &s.Pool.ConsolidateAfter }, true)},
	"pool.provisioningDelay":        {"how long a new node takes to be ready", durationSetter(func(s *Scenario) *time.Duration { return &s.Pool.ProvisionDelay }, false)},
	"pool.limits.cpu":               {"the pool's CPU limit", quantitySetter(func(s *Scenario) *int64 { return &s.Pool.Limit.CPU }, true)},
	"pool.limits.memory":            {"the pool's memory limit", quantitySetter(func(s *Scenario) *int64 { return &s.Pool.Limit.Memory }, false)},
	"pool.nodeShape.cpu":            {"the CPU of one node", quantitySetter(func(s *Scenario) *int64 { return &s.Pool.Node.CPU }, true)},
	"pool.nodeShape.memory":         {"the memory of one node", quantitySetter(func(s *Scenario) *int64 { return &s.Pool.Node.Memory }, false)},
	"runDuration":                   {"how long a run's pods run", durationSetter(func(s *Scenario) *time.Duration { return &s.Workload.RunDuration }, false)},
	"quota.pipelineRuns": {"concurrent PipelineRuns the namespace admits", func(s *Scenario, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a count; expected a whole number (0: unlimited)", v)
		}
		s.Quota.PipelineRuns = n
		return nil
	}},
}

// Tunables lists the settings Vary accepts, with what each is.
func Tunables() []string {
	keys := make([]string, 0, len(tunables))
	for k := range tunables {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + ": " + tunables[k].doc
	}
	return out
}

// Vary returns one scenario per value of a setting, from a spec such as
// "scaleDown.stabilizationWindow=60s,300s"; each is named key=value.
func Vary(base Scenario, spec string) ([]Scenario, error) {
	key, values, ok := strings.Cut(spec, "=")
	key = strings.TrimSpace(key)
	t, known := tunables[key]
	if !ok || !known || strings.TrimSpace(values) == "" {
		keys := make([]string, 0, len(tunables))
		for k := range tunables {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, fmt.Errorf("invalid comparison %q; expected <setting>=<value>,<value> with a setting from %s", spec, strings.Join(keys, ", "))
	}
	var out []Scenario
	for _, v := range strings.Split(values, ",") {
		v = strings.TrimSpace(v)
		s := base
		if err := t.set(&s, v); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if s.Autoscaled != nil && s.Autoscaled.HPA.Min > s.Autoscaled.HPA.Max {
			return nil, fmt.Errorf("%s=%s: minReplicas %d above maxReplicas %d", key, v, s.Autoscaled.HPA.Min, s.Autoscaled.HPA.Max)
		}
		s.Name = key + "=" + v
		out = append(out, s)
	}
	return out, nil
}
