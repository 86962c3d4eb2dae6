package compiler

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/internal/testing/benchgen"
)

// BenchmarkPolicies measures policy evaluation alone (the built-in
// baseline and restricted packs, every check) over a configuration of 1,000
// triggered pipelines, which compiles to about 5,000 objects.
func BenchmarkPolicies(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipec.cue"), []byte(benchgen.Pipelines(1000, true)+`
environments: ci: {namespace: "ci", podSecurity: "baseline", policy: ["restricted"], quota: requests: {cpu: "64", memory: "256Gi"}, network: kubernetesAPI: {cidrs: ["10.96.0.1/32"], ports: [443]}}
`), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := loadConfig(dir, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	res, err := Build(context.Background(), Options{Dir: dir})
	if err != nil || res.Diagnostics.HasErrors() {
		b.Fatalf("%v %v", err, res.Diagnostics)
	}
	x := newExplainer(l, "")
	unified := l.user.Unify(x.root)
	b.ReportMetric(float64(len(res.Objects)), "objects")
	b.ResetTimer()
	for b.Loop() {
		findings, _, err := evaluatePolicies(l.packDef, unified.LookupPath(cue.ParsePath("policy")), res.Plan, res.Objects, nil, "2026-11-22", nil, runtime.GOMAXPROCS(0))
		if err != nil {
			b.Fatal(err)
		}
		if len(findings) == 0 {
			b.Fatal("no findings: the generated steps run with writable root filesystems, which restricted reports")
		}
	}
}
