package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipec/pipec/internal/capacity"
	"github.com/pipec/pipec/model"
)

// PreviewLoad is how many pull requests get a preview a day and how long
// each stays open.
type PreviewLoad struct {
	PerDay   float64
	Lifetime time.Duration
}

// ParsePreviewRate reads "30/day" or "4/h": pull requests that get a
// preview.
func ParsePreviewRate(s string) (float64, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if !ok || err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: expected a rate such as \"30/day\" or \"4/h\"", s)
	}
	switch strings.TrimSpace(unit) {
	case "day", "d":
		return v, nil
	case "h", "hour":
		return v * 24, nil
	}
	return 0, fmt.Errorf("%q: expected a rate per day or per hour, such as \"30/day\" or \"4/h\"", s)
}

// PreviewReport answers how many previews a pool holds and what they cost.
//
// The model: pull requests arrive as a Poisson process and each preview
// lives Lifetime on average (any distribution), so the number open at once
// is Poisson with mean PerDay × Lifetime (the M/G/∞ queue); a preview
// occupies its quota's requests (what the scheduler and Karpenter count),
// nodes are billed for those requests, bin-packing waste aside.
type PreviewReport struct {
	Preview string
	Pool    string
	Load    PreviewLoad
	// Quota is one preview's quota requests.
	Quota capacity.Resources
	// NodeShape is the pool's node size; zero when it has none.
	NodeShape capacity.Resources
	// PoolHolds is how many previews the pool's limits hold at their
	// quota, -1 when the pool has no limits; MaxOpen is the declared
	// bound the capacity check holds.
	PoolHolds int64
	MaxOpen   int
	// MeanOpen and P99Open are the mean and 99th percentile of the
	// previews open at once.
	MeanOpen float64
	P99Open  int
	// OverMaxOpen and OverPool are the shares of time more previews are
	// open than maxOpen, and than the pool holds.
	OverMaxOpen, OverPool float64
	// NodesPerPreview is the nodes one preview's quota fills;
	// NodeHoursPerDay what the previews running (at most what the pool
	// holds) cost a day.
	NodesPerPreview float64
	NodeHoursPerDay float64
}

// Previews computes the report of the named preview (the only one when
// name is empty) under load.
func Previews(plan *model.Plan, name string, load PreviewLoad) (*PreviewReport, error) {
	if len(plan.Previews) == 0 {
		return nil, fmt.Errorf("the configuration declares no previews")
	}
	var p *model.Preview
	if name == "" {
		if len(plan.Previews) > 1 {
			return nil, fmt.Errorf("several previews: name one with --preview (%s)", names(plan.Previews, func(p *model.Preview) string { return p.Name }))
		}
		p = plan.Previews[0]
	} else if p = plan.Preview(name); p == nil {
		return nil, fmt.Errorf("no preview %q (%s)", name, names(plan.Previews, func(p *model.Preview) string { return p.Name }))
	}
	if p.Quota == nil {
		return nil, fmt.Errorf("preview %q has no quota to size it by", p.Name)
	}
	if load.PerDay <= 0 || load.Lifetime <= 0 {
		return nil, fmt.Errorf("the rate and the lifetime of previews must be positive")
	}
	r := &PreviewReport{Preview: p.Name, Pool: p.NodePool, Load: load, Quota: capacity.Parse(p.Quota.Requests), MaxOpen: p.MaxOpen, PoolHolds: -1}
	if i := slices.IndexFunc(plan.Scaling.NodePools, func(n *model.NodePool) bool { return n.Name == p.NodePool }); i >= 0 {
		pool := plan.Scaling.NodePools[i]
		r.PoolHolds = capacity.HowMany(r.Quota, capacity.Parse(pool.Limits))
		r.NodeShape = capacity.Parse(pool.NodeShape)
	}
	mean := load.PerDay * load.Lifetime.Hours() / 24
	r.MeanOpen = mean
	r.P99Open = poissonQuantile(mean, 0.99)
	r.OverMaxOpen = poissonTail(mean, p.MaxOpen)
	// Nothing stops a preview past maxOpen (the capacity check assumes
	// it); the pool's limits stop Karpenter, and the previews past them
	// wait without nodes.
	running := mean
	if r.PoolHolds >= 0 {
		r.OverPool = poissonTail(mean, int(r.PoolHolds))
		running = poissonMeanCapped(mean, int(r.PoolHolds))
	}
	if r.NodeShape.CPU > 0 && r.NodeShape.Memory > 0 {
		r.NodesPerPreview = math.Max(float64(r.Quota.CPU)/float64(r.NodeShape.CPU), float64(r.Quota.Memory)/float64(r.NodeShape.Memory))
		r.NodeHoursPerDay = running * r.NodesPerPreview * 24
	}
	return r, nil
}

// poissonPMF calls fn with P(N = k) for k = 0, 1, ... until fn returns
// false, computed in log space (means of thousands do not underflow).
func poissonPMF(mean float64, fn func(k int, p float64) bool) {
	for k := 0; ; k++ {
		lg, _ := math.Lgamma(float64(k + 1))
		p := math.Exp(float64(k)*math.Log(mean) - mean - lg)
		if mean == 0 {
			p = map[bool]float64{true: 1, false: 0}[k == 0]
		}
		if !fn(k, p) {
			return
		}
	}
}

// poissonTail is P(N > n).
func poissonTail(mean float64, n int) float64 {
	cdf := 0.0
	poissonPMF(mean, func(k int, p float64) bool {
		cdf += p
		return k < n
	})
	return math.Max(0, 1-cdf)
}

// poissonQuantile is the least n with P(N <= n) >= q.
func poissonQuantile(mean, q float64) int {
	cdf, n := 0.0, 0
	poissonPMF(mean, func(k int, p float64) bool {
		cdf += p
		n = k
		return cdf < q && k < 1_000_000
	})
	return n
}

// poissonMeanCapped is E[min(N, c)].
func poissonMeanCapped(mean float64, c int) float64 {
	sum, cdf := 0.0, 0.0
	poissonPMF(mean, func(k int, p float64) bool {
		if k >= c {
			return false
		}
		sum += float64(k) * p
		cdf += p
		return true
	})
	return sum + float64(c)*math.Max(0, 1-cdf)
}

// WriteText writes the report for people.
func (r *PreviewReport) WriteText(w io.Writer) error {
	pct := func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
	var b strings.Builder
	fmt.Fprintf(&b, "previews %s: %.1f pull requests a day, each open %s on average\n", r.Preview, r.Load.PerDay, r.Load.Lifetime)
	fmt.Fprintf(&b, "  one preview:      quota requests %s\n", r.Quota)
	if r.PoolHolds >= 0 {
		fmt.Fprintf(&b, "  node pool %s:  holds %d previews at their quota (maxOpen %d)\n", r.Pool, r.PoolHolds, r.MaxOpen)
	} else {
		fmt.Fprintf(&b, "  no node pool limits: maxOpen %d bounds the previews\n", r.MaxOpen)
	}
	fmt.Fprintf(&b, "  open at once:     %.1f on average, %d at the 99th percentile\n", r.MeanOpen, r.P99Open)
	fmt.Fprintf(&b, "  more than maxOpen (what the capacity check assumes) open: %s of the time", pct(r.OverMaxOpen))
	if r.PoolHolds >= 0 {
		fmt.Fprintf(&b, "; more than the pool holds: %s (their pods wait)", pct(r.OverPool))
	}
	b.WriteString("\n")
	if r.NodesPerPreview > 0 {
		fmt.Fprintf(&b, "  cost: %.2f nodes per preview, %.1f node-hours a day\n", r.NodesPerPreview, r.NodeHoursPerDay)
	}
	b.WriteString("  (open previews are Poisson: pull requests arrive at random, lifetimes any distribution; nodes billed for quota requests, packing waste aside)\n")
	_, err := io.WriteString(w, b.String())
	return err
}
