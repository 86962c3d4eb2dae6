// Command e2e-scale runs pipec's end-to-end scale test (internal/testing/e2escale)
// and writes its report: hack/e2e-scale.sh is the way to call it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pipec/pipec/internal/testing/e2escale"
)

func main() {
	var o e2escale.Options
	out := flag.String("out", ".cache/e2e-scale", "directory for the report (summary.md, timeline.svg, result.json) and the cluster's logs")
	flag.StringVar(&o.Config, "config", "examples/burst", "the pipec configuration to compile and run")
	flag.IntVar(&o.Runs, "runs", 500, "PipelineRuns to start, through the EventListener")
	flag.IntVar(&o.Senders, "senders", 16, "concurrent webhook deliveries")
	flag.StringVar(&o.Coschedule, "coschedule", "", "Tekton's coschedule flag, instead of the configuration's scaling.tektonCoschedule")
	flag.DurationVar(&o.TaskDuration, "task-duration", 10*time.Second, "how long each TaskRun's pod runs")
	flag.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "how long the runs may take in all")
	flag.DurationVar(&o.ScaleInTimeout, "scale-in-timeout", 10*time.Minute, "how long the pool may take to scale back in")
	keep := flag.Bool("keep", false, "keep the cluster's data directory")
	report := flag.String("report", "", "instead of running, report again on a result.json an earlier run wrote (after a change to the simulator)")
	flag.Parse()
	var err error
	if *report != "" {
		err = reportAgain(*report, *out)
	} else {
		err = run(o, *out, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-scale:", err)
		os.Exit(1)
	}
}

func run(o e2escale.Options, out string, keep bool) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pipec-e2e-scale-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	o.Dir, o.Log = dir, os.Stderr
	os.Setenv("PIPEC_CACHE_DIR", filepath.Join(dir, "pipec-cache"))
	r, err := e2escale.Run(ctx, o)
	// The logs are worth keeping either way.
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	_ = os.MkdirAll(filepath.Join(out, "logs"), 0o755)
	for _, l := range logs {
		if b, rerr := os.ReadFile(l); rerr == nil {
			_ = os.WriteFile(filepath.Join(out, "logs", filepath.Base(l)), b, 0o644)
		}
	}
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, filepath.Join(out, "logs"))
	}
	return write(r, out)
}

func reportAgain(file, out string) error {
	r, err := e2escale.LoadResult(context.Background(), file)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return write(r, out)
}

// write writes the report's files and summary, and fails on its checks.
func write(r *e2escale.Result, out string) error {
	rep, err := e2escale.NewReport(r)
	if err != nil {
		return err
	}
	if err := rep.WriteFiles(out); err != nil {
		return err
	}
	if err := rep.WriteSummary(os.Stdout); err != nil {
		return err
	}
	if errs := rep.Check(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "e2e-scale: FAIL:", e)
		}
		return fmt.Errorf("%d check(s) failed", len(errs))
	}
	return nil
}
