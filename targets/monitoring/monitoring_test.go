package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	corev1 "k8s.io/api/core/v1"
)

// TestMetricNamesExistUpstream checks that the metric names autoscalers and
// alerts may use are the ones the pinned Tekton Pipelines and Triggers
// sources register.
func TestMetricNamesExistUpstream(t *testing.T) {
	for _, tc := range []struct {
		module, dir, prefix string
		names               []string
	}{
		{"github.com/tektoncd/pipeline", "pkg", "", TektonMetrics},
		// Triggers registers names without the "eventlistener_" its
		// exporter's namespace adds.
		{"github.com/tektoncd/triggers", "pkg/sink", "eventlistener_", ListenerMetrics},
	} {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", tc.module).Output()
		if err != nil {
			t.Fatalf("go list -m %s: %v", tc.module, err)
		}
		var src strings.Builder
		root := filepath.Join(strings.TrimSpace(string(out)), tc.dir)
		err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			src.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range tc.names {
			if !strings.Contains(src.String(), `"`+strings.TrimPrefix(name, tc.prefix)+`"`) {
				t.Errorf("%s does not register metric %q", tc.module, name)
			}
		}
	}
}

// TestTektonObservabilityIsWhatTektonReads parses the settings pipec asks
// for with Tekton's own config-observability parser.
func TestTektonObservabilityIsWhatTektonReads(t *testing.T) {
	cfg, err := config.NewMetricsFromConfigMap(&corev1.ConfigMap{Data: TektonObservability})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PipelinerunLevel != config.PipelinerunLevelAtPipeline || cfg.RunningPipelinerunLevel != config.PipelinerunLevelAtNS || !cfg.ThrottleWithNamespace {
		t.Errorf("Tekton reads %+v; want failed runs by pipeline, running runs by namespace, throttled TaskRuns by namespace", cfg)
	}
}
