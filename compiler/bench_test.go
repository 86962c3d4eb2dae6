package compiler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/benchgen"
)

// BenchmarkBuild measures a whole build (load, unify, check, generate,
// Tekton validation) of each example: what a pre-commit hook pays.
func BenchmarkBuild(b *testing.B) {
	for _, dir := range exampleDirs(b) {
		b.Run(filepath.Base(dir), func(b *testing.B) {
			benchBuild(b, dir, 0)
		})
	}
}

// BenchmarkBuildGenerated measures a generated configuration of 200
// pipelines (5 tasks each, with a shared task library), the size of a large
// organisation's monorepo.
func BenchmarkBuildGenerated(b *testing.B) {
	for _, n := range []int{200} {
		b.Run(fmt.Sprintf("pipelines=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pipec.cue"), []byte(benchgen.Pipelines(n, false)), 0o644); err != nil {
				b.Fatal(err)
			}
			benchBuild(b, dir, n)
		})
	}
}

// BenchmarkBuildTeams measures whole builds of the teams shape
// (benchgen.Teams: a file per team, services stamped by comprehensions) at
// two sizes, per service: ms/service and B/service must stay level from
// the small size to the large one. When unification of the whole
// configuration at once came back, the large size cost 3x per service
// what the small one did; compare with benchstat before and after a
// change to the compiler's unification or decoding.
func BenchmarkBuildTeams(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			benchServices(b, benchgen.Teams(n), n)
		})
	}
}

// BenchmarkBuildMonorepo measures a whole build of the monorepo shape
// (benchgen.Monorepo: each service's pipeline written out, the pipelines
// differing only in their names), per service. Tekton validates their one
// spec once (targets.Once): validating every pipeline again doubled the
// allocations and cost a quarter of the time.
func BenchmarkBuildMonorepo(b *testing.B) {
	const n = 500
	b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
		benchServices(b, map[string]string{"pipec.cue": benchgen.Monorepo(n)}, n)
	})
}

// benchServices builds the configuration of files, of n services, and
// reports ms/service and B/service.
func benchServices(b *testing.B, files map[string]string, n int) {
	dir := b.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	benchBuild(b, dir, n)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/per, "ms/service")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/per, "B/service")
}

// benchBuild builds dir as pipec build does, the policy packs included,
// and fails on any finding: a benchmark of a refused configuration
// measures a build that stops early, and bench/run.sh builds the same
// inputs with the CLI.
func benchBuild(b *testing.B, dir string, wantPipelines int) {
	b.ReportAllocs()
	for b.Loop() {
		res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir, Policies: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Diagnostics) > 0 {
			b.Fatalf("findings:\n%v", res.Diagnostics)
		}
		if wantPipelines > 0 && len(res.Plan.Pipelines) != wantPipelines {
			b.Fatalf("built %d pipelines, want %d", len(res.Plan.Pipelines), wantPipelines)
		}
	}
}

// EnvWriteGenerated names a file to write the generated 200-pipeline
// configuration to (hack/bench.sh times the pipec binary on it).
const EnvWriteGenerated = "PIPEC_WRITE_GENERATED"

// TestGeneratedConfig keeps the benchmark input honest: it must build
// without findings. With PIPEC_WRITE_GENERATED=<file> it also writes it out.
func TestGeneratedConfig(t *testing.T) {
	cfg := benchgen.Pipelines(200, false)
	if out := os.Getenv(EnvWriteGenerated); out != "" {
		if err := os.WriteFile(out, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if testing.Short() {
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipec.cue"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) > 0 || len(res.Plan.Pipelines) != 200 {
		t.Fatalf("%d pipelines, findings:\n%v", len(res.Plan.Pipelines), res.Diagnostics)
	}
}

// TestGeneratedShapes keeps bench/run.sh's inputs honest: both shapes build
// with the policy packs and without a finding (a refused configuration
// would time a build that stops early).
func TestGeneratedShapes(t *testing.T) {
	if testing.Short() {
		return
	}
	for name, files := range map[string]map[string]string{
		"teams":    benchgen.Teams(2 * benchgen.TeamSize),
		"monorepo": {"pipec.cue": benchgen.Monorepo(3)},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, text := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := compiler.Build(context.Background(), compiler.Options{Dir: dir, Policies: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Diagnostics) > 0 || len(res.Objects) == 0 {
				t.Fatalf("%d objects, findings:\n%v", len(res.Objects), res.Diagnostics)
			}
		})
	}
}
