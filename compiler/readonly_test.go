package compiler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestChecksReadOnly runs the checks over every bundled example and every
// configuration of the CLI scripts (most of them break a rule) and requires
// the normalized plan to be the same afterwards: checks report, normalize
// changes. The checks run side by side (check on several CPUs), as a
// build runs them: they must report what they report one after the other.
func TestChecksReadOnly(t *testing.T) {
	configs := testConfigs(t)
	checked := 0
	for name, files := range configs {
		dir := filepath.Join(t.TempDir(), "config")
		overlay := map[string][]byte{}
		for f, data := range files {
			overlay[filepath.Join(dir, f)] = data
		}
		l, err := loadConfig(dir, overlay, nil)
		if err != nil {
			continue // does not load; nothing to check
		}
		x := newExplainer(l, dir)
		unified := l.user.Unify(x.root)
		if validateConcrete(unified) != nil {
			continue
		}
		src, _ := userSources(x)
		plan, _ := decodePlan(wholeTree{node{v: unified}}, src)
		normalize(plan)
		before, err := json.Marshal(plan)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		side := check(plan, 4)
		after, _ := json.Marshal(plan)
		if string(before) != string(after) {
			t.Errorf("%s: the checks changed the plan", name)
		}
		// One after the other on one checker, as before they ran side by
		// side: a check that depended on what another left on the
		// checker would tell. Sorted, as a build reports them (a check
		// may report in a map's order).
		one := &checker{plan: plan, src: plan.Sources}
		for _, c := range checks {
			c(one)
		}
		if one, side := mustJSON(t, one.out.Sort()), mustJSON(t, side.Sort()); string(one) != string(side) {
			t.Errorf("%s: side by side, the checks report\n%s\none after the other\n%s", name, side, one)
		}
		checked++
	}
	if checked < len(configs)/2 {
		t.Fatalf("only %d of %d configurations reached the checks", checked, len(configs))
	}
	t.Logf("%d configurations checked", checked)
}

// testConfigs are the configurations of every bundled example and every CLI
// script, by name: their top-level CUE files.
func testConfigs(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	configs := map[string]map[string][]byte{}
	examples, _ := filepath.Glob("../examples/*/*.cue")
	for _, f := range examples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Base(filepath.Dir(f))
		if configs[dir] == nil {
			configs[dir] = map[string][]byte{}
		}
		configs[dir][filepath.Base(f)] = data
	}
	scripts, _ := filepath.Glob("../internal/cli/testdata/script/*.txtar")
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range a.Files {
			if filepath.Ext(f.Name) == ".cue" && !strings.Contains(f.Name, "/") {
				files[f.Name] = f.Data
			}
		}
		if len(files) > 0 {
			configs[filepath.Base(s)] = files
		}
	}
	return configs
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
