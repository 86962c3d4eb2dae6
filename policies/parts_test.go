package policies_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
)

// TestPartsMatchWhole holds the evaluation of the built-in packs part by
// part, each part over the fields of the input its checks read, to their
// evaluation over all of the input at once, on the input of every
// check's examples and of the bundled examples. A part may not fail (Run
// would fall back to the whole input, hiding a check the analysis got
// wrong), and every check but those whose failing configuration pipec
// refuses must find something in one of the inputs.
func TestPartsMatchWhole(t *testing.T) {
	if policies.RaceEnabled {
		t.Skip("no goroutine here; the race run covers Run through TestCheckExamples")
	}
	packs, err := policies.BuiltinPacks()
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]*policies.Input{}
	for _, name := range policies.Builtin {
		for _, c := range packs[name].Checks {
			for kind, fragment := range map[string]string{"pass": c.Examples.Pass, "fail": c.Examples.Fail} {
				label := c.ID + " " + kind
				if c.Examples.In == "input" {
					inputs[label] = fragmentInput(t, fragment)
					continue
				}
				// The fragment's text stands for the strings the compiler
				// hands the secret detector.
				config, _, _, _ := exampleConfig(c.Examples.In, c.Pack, fragment)
				if in := buildInput(t, compiler.Options{
					Dir: "/example", BaseDir: "/example", Today: "2026-11-22",
					Overlay: map[string][]byte{"/example/pipec.cue": []byte(config)},
				}, policies.Text{Path: "pipelines.build", Value: fragment}); in != nil {
					inputs[label] = in
				}
			}
		}
	}
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if in := buildInput(t, compiler.Options{Dir: dir}); in != nil {
				inputs[dir] = in
			}
		}
	}
	t.Run("side by side", func(t *testing.T) {
		compareRuns(t, packs, inputs)
	})
	for _, batch := range []string{"in batches", "each check on its own", "in runs of two items"} {
		t.Run(batch, func(t *testing.T) {
			switch batch {
			case "each check on its own":
				policies.SetMinBatch(t, -1)
			case "in runs of two items":
				policies.SetRunItems(t, 2)
			}
			comparePartsToWhole(t, packs, inputs)
		})
	}
}

// compareRuns holds Run with every batch a run of two items, on two
// CPUs (batches side by side, on copies of the packs), to Run with the
// batches as they come, on one.
func compareRuns(t *testing.T, packs map[string]*policies.Pack, inputs map[string]*policies.Input) {
	labels := slices.Sorted(maps.Keys(inputs))
	run := func(label string, cpus int) diag.List {
		in := inputs[label]
		assign := policies.Assignment{"": policies.Builtin}
		for _, e := range in.Environments {
			assign[e.Name] = policies.Builtin
		}
		ds, err := policies.Run(packs, assign, in, model.NewSourceMap(nil), cpus)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		return ds
	}
	want := map[string]diag.List{}
	for _, label := range labels {
		want[label] = run(label, 1)
	}
	policies.SetMinBatch(t, -1)
	policies.SetRunItems(t, 2)
	for _, label := range labels {
		if got := run(label, 2); !reflect.DeepEqual(got, want[label]) {
			t.Errorf("%s: side by side, in runs of two items, Run finds\n%v\none batch after the other\n%v", label, got, want[label])
		}
	}
}

// comparePartsToWhole evaluates every built-in pack over every input part
// by part and whole.
func comparePartsToWhole(t *testing.T, packs map[string]*policies.Pack, inputs map[string]*policies.Input) {
	found := map[string]int{}
	for _, label := range slices.Sorted(maps.Keys(inputs)) {
		in := inputs[label]
		for _, name := range policies.Builtin {
			p := packs[name]
			parts, err := p.EvaluateParts(in)
			if err != nil {
				t.Errorf("%s: pack %s part by part: %v", label, name, err)
				continue
			}
			whole, err := p.EvaluateWhole(in)
			if err != nil {
				t.Fatalf("%s: pack %s: %v", label, name, err)
			}
			for _, c := range p.Checks {
				if !reflect.DeepEqual(parts[c], whole[c]) {
					t.Errorf("%s: check %s part by part finds\n%v\nover the whole input\n%v", label, c.ID, parts[c], whole[c])
				}
				found[c.ID] += len(whole[c])
			}
		}
	}
	for _, name := range policies.Builtin {
		for _, c := range packs[name].Checks {
			// pipec itself refuses a configuration that would fail these.
			if found[c.ID] == 0 && !c.Examples.Refused {
				t.Errorf("check %s finds nothing in any input: the test does not compare it", c.ID)
			}
		}
	}
}

// buildInput is the packs' input for a configuration, nil when it does
// not build.
func buildInput(t *testing.T, opts compiler.Options, texts ...policies.Text) *policies.Input {
	t.Helper()
	res, err := compiler.Build(context.Background(), opts)
	if err != nil || res.Diagnostics.HasErrors() {
		return nil
	}
	in, err := policies.NewInput(res.Plan, res.Objects, texts, policies.Settings{AllowedRegistries: res.Plan.Policy.AllowedRegistries})
	if err != nil {
		t.Fatal(err)
	}
	return in
}
