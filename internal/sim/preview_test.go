package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/pipec/pipec/compiler"
)

// TestPreviewsShop sizes the shop example's previews against values of the
// Poisson distribution worked out independently: 5 pull requests a day
// open 48h is a mean of 10 open; P(N > 16) = 0.0270, P(N > 8) = 0.6672,
// the 99th percentile is 18; a 2 CPU / 4Gi preview on 4 CPU / 16Gi nodes
// fills half a node.
func TestPreviewsShop(t *testing.T) {
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/shop"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("%v %v", err, res.Diagnostics)
	}
	r, err := Previews(res.Plan, "", PreviewLoad{PerDay: 5, Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	if r.PoolHolds != 16 || r.MaxOpen != 8 || r.P99Open != 18 {
		t.Errorf("pool holds %d, maxOpen %d, p99 %d; want 16, 8, 18", r.PoolHolds, r.MaxOpen, r.P99Open)
	}
	near("mean open", r.MeanOpen, 10, 1e-9)
	near("P(open > pool)", r.OverPool, 0.0270, 5e-4)
	near("P(open > maxOpen)", r.OverMaxOpen, 0.6672, 5e-4)
	near("nodes per preview", r.NodesPerPreview, 0.5, 1e-9)
	// E[min(N, 16)] for Poisson(10) is 9.9453: nearly all run.
	near("node-hours a day", r.NodeHoursPerDay, 9.9453*0.5*24, 0.01)
	if _, err := Previews(res.Plan, "nope", PreviewLoad{PerDay: 5, Lifetime: time.Hour}); err == nil {
		t.Error("an unknown preview is accepted")
	}
	for _, bad := range []string{"", "30", "x/day", "-1/day", "3/week"} {
		if _, err := ParsePreviewRate(bad); err == nil {
			t.Errorf("rate %q accepted", bad)
		}
	}
	if v, err := ParsePreviewRate("2/h"); err != nil || v != 48 {
		t.Errorf("2/h = %v %v, want 48 a day", v, err)
	}
}
