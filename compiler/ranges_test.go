package compiler

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pipec/pipec/model"
)

// TestDurationRanges holds every field of the schema that takes a
// #Duration to a range check: the schema checks only their form, so a
// field without one would let a duration past what Go's time.Duration
// holds into the objects. testdata/ranges/durations sets each past it.
func TestDurationRanges(t *testing.T) {
	fields := schemaRefs(t, "#Duration")
	if len(fields) == 0 {
		t.Fatal("no field of the schema takes a #Duration")
	}
	res, err := Build(context.Background(), Options{Dir: "testdata/ranges/durations"})
	if err != nil {
		t.Fatal(err)
	}
	index := regexp.MustCompile(`\[[0-9]+\]`)
	var reported []string
	for _, d := range res.Diagnostics {
		if d.ID != ruleDuration.ID {
			t.Errorf("finding of another rule: %s", d)
			continue
		}
		reported = append(reported, index.ReplaceAllString(string(d.Path), ".[]"))
	}
	for _, f := range fields {
		if !slices.ContainsFunc(reported, func(r string) bool { return patternsMatch(f, r) }) {
			t.Errorf("%s takes a duration, but none past time.Duration's range is reported there: set one in testdata/ranges/durations, and check its range (checkDuration)", f)
		}
	}
	if t.Failed() {
		t.Logf("reported:\n\t%s", strings.Join(reported, "\n\t"))
	}
}

// TestDurationBounds checks the edges: the longest duration each reader
// takes passes, one unit more is out of range, and says so.
func TestDurationBounds(t *testing.T) {
	for _, tc := range []struct {
		check func(*checker, model.Path, string)
		in    string
		want  string // "" for no finding
	}{
		{(*checker).checkDuration, "2562047h47m16s", ""},
		{(*checker).checkDuration, "2562047h47m16.854775807s", ""},
		{(*checker).checkDuration, "2562047h47m16.854775808s", "out of range"},
		{(*checker).checkDuration, "9999999999h", "out of range"},
		{(*checker).checkDuration, "0s", "invalid duration"},
		{(*checker).checkKarpenterDuration, "Never", ""},
		{(*checker).checkKarpenterDuration, "2562047h47m16s", ""},
		{(*checker).checkKarpenterDuration, "2562047h47m17s", "out of range"},
		{(*checker).checkKarpenterDuration, "1.5h", "not a Karpenter duration"},
		{(*checker).checkBudgetDuration, "2562047h47m", ""},
		{(*checker).checkBudgetDuration, "153722867m", ""},
		{(*checker).checkBudgetDuration, "2562047h48m", "out of range"},
		{(*checker).checkBudgetDuration, "2562048h", "out of range"},
		{(*checker).checkBudgetDuration, "10m30s", "not a budget duration"},
		{(*checker).checkPromDuration, "106751d23h47m16s", ""},
		{(*checker).checkPromDuration, "292y", ""},
		{(*checker).checkPromDuration, "293y", "out of range"},
		{(*checker).checkPromDuration, "30m1h", "not a Prometheus duration"},
	} {
		c := &checker{plan: &model.Plan{}}
		tc.check(c, "x", tc.in)
		switch {
		case tc.want == "" && len(c.out) > 0:
			t.Errorf("%q: unexpected finding %s", tc.in, c.out[0].Message)
		case tc.want != "" && (len(c.out) != 1 || !strings.Contains(c.out[0].Message, tc.want)):
			t.Errorf("%q: got %v, want one finding saying %q", tc.in, c.out, tc.want)
		}
	}
}

// TestQuantityRanges holds every field of the schema that takes a
// #Quantity to the quantity check (form, sign and range): the schema
// takes any string or whole number there. testdata/ranges/quantities sets
// each past 2^63-1.
func TestQuantityRanges(t *testing.T) {
	fields := schemaRefs(t, "#Quantity")
	res, err := Build(context.Background(), Options{Dir: "testdata/ranges/quantities"})
	if err != nil {
		t.Fatal(err)
	}
	index := regexp.MustCompile(`\[[0-9]+\]`)
	var reported []string
	for _, d := range res.Diagnostics {
		if d.ID != ruleQuantity.ID || !strings.Contains(d.Message, "out of range") {
			continue
		}
		p := index.ReplaceAllString(string(d.Path), ".[]")
		reported = append(reported, strings.ReplaceAll(p, `"`, ""))
	}
	for _, f := range fields {
		if strings.HasPrefix(f, "defaults.step.") || strings.Contains(f, ".stepTemplate.") {
			continue // decode merges them into each step, checked there
		}
		if !slices.ContainsFunc(reported, func(r string) bool { return patternsMatch(f, r) }) {
			t.Errorf("%s takes a quantity, but none past 2^63-1 is reported there: set one in testdata/ranges/quantities, and check it (checker.quantity)", f)
		}
	}
	if t.Failed() {
		t.Logf("reported:\n\t%s", strings.Join(reported, "\n\t"))
	}
}
