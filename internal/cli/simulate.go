package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/internal/sim"
	"github.com/pipec/pipec/render"
)

type simulateOptions struct {
	burst          string
	trace          string
	pipeline       string
	pool           string
	autoscaler     string
	runDuration    time.Duration
	duration       time.Duration
	every          time.Duration
	runsPerReplica float64
	compare        string
	plot           string
	output         string
	previews       string
	preview        string
	previewLife    time.Duration
}

func newSimulateCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var opts simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate [dir] (--burst \"500 runs in 10m\" | --trace FILE)",
		Short: "Replay a load of pipeline runs through the autoscaling configuration",
		Long: `simulate replays pipeline runs arriving over time through the compiled
scaling configuration of dir (default "."): the namespace quota, the
HorizontalPodAutoscaler algorithm as the Kubernetes controller implements
it (ratio of metric to target with 10% tolerance, stabilization windows,
behavior policies, min and max, every 15s), pods scheduled onto nodes by
their requests, and node pool provisioning and consolidation with their
delays and limits. It prints a timeline and a summary: queue wait
percentiles, peak nodes, node-hours, peak replicas.

The load is a generated burst (--burst "500 runs in 10m", spread evenly)
or a trace file (--trace, CSV lines "offset,count": "90s,12" means 12 runs
arrive 90 seconds in). Each run is modelled as its pipeline's peak: the
tasks that run at the same time, for --run-duration.

--compare varies one setting, to see the effect of tuning side by side:
  --compare scaleDown.stabilizationWindow=60s,300s
Settings:
  ` + strings.Join(sim.Tunables(), "\n  ") + `

--previews "30/day" answers instead how many preview environments the
node pool holds and what they cost: pull requests that get a preview
arrive at that rate and stay open --preview-lifetime on average; the
previews open at once are then Poisson distributed (mean rate x lifetime),
each occupies its quota's requests, and the report gives the mean and 99th
percentile open, how often more are open than maxOpen or the pool holds,
and node-hours a day.

Exit codes: 0 simulated, 1 configuration findings, 2 bad flags, load or
configuration.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSimulate(cmd, dirArg(args), opts, stdin, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.burst, "burst", "", "a generated load, such as \"500 runs in 10m\"")
	f.StringVar(&opts.trace, "trace", "", "a load trace: CSV \"offset,count\" lines, a `FILE` or - for stdin")
	f.StringVar(&opts.pipeline, "pipeline", "", "the pipeline whose runs arrive (default: the heaviest on the pool)")
	f.StringVar(&opts.pool, "pool", "", "the node pool (default: the pipeline's, or the only one)")
	f.StringVar(&opts.autoscaler, "autoscaler", "", "the autoscaler to simulate, or none (default: the one on the pool, else one scaling on Tekton metrics)")
	f.DurationVar(&opts.runDuration, "run-duration", 10*time.Minute, "how long a run's pods run")
	f.DurationVar(&opts.duration, "duration", 0, "how long to simulate (default: two run durations after the last arrival, at least 1h)")
	f.DurationVar(&opts.every, "every", 0, "period of the timeline's rows (default: a 24th of the duration)")
	f.Float64Var(&opts.runsPerReplica, "runs-per-replica", 10, "active runs one replica serves at 100% CPU or memory utilization")
	f.StringVar(&opts.compare, "compare", "", "vary a `SETTING=V1,V2` and compare")
	f.StringVar(&opts.plot, "plot", "", "write an SVG chart of the timeline to `FILE`")
	f.StringVar(&opts.output, "output", "text", "text or json")
	f.StringVar(&opts.previews, "previews", "", "size preview environments for pull requests at this `RATE`, such as \"30/day\"")
	f.StringVar(&opts.preview, "preview", "", "the preview to size (default: the only one)")
	f.DurationVar(&opts.previewLife, "preview-lifetime", 48*time.Hour, "how long a pull request's preview stays open on average")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runSimulate(cmd *cobra.Command, dir string, opts simulateOptions, stdin io.Reader, stdout io.Writer) error {
	if opts.output != "text" && opts.output != "json" {
		return usageError("unknown output %q; expected \"text\" or \"json\"", opts.output)
	}
	if opts.plot != "" && !strings.EqualFold(filepath.Ext(opts.plot), ".svg") {
		return usageError("--plot %s: pipec draws SVG; expected a file name ending in .svg", opts.plot)
	}
	if opts.runDuration <= 0 || opts.duration < 0 || opts.every < 0 || opts.runsPerReplica <= 0 {
		return usageError("--run-duration and --runs-per-replica must be positive, --duration and --every not negative")
	}
	if opts.previews != "" {
		return simulatePreviews(cmd, dir, opts, stdout)
	}
	arrivals, err := loadArrivals(opts, stdin)
	if err != nil {
		return err
	}
	res, err := compile(cmd.Context(), dir)
	if err != nil {
		return err
	}
	base, err := sim.FromPlan(res.Plan, sim.Setup{
		Pipeline: opts.pipeline, Pool: opts.pool, Autoscaler: opts.autoscaler,
		RunDuration: opts.runDuration, Duration: opts.duration, Every: opts.every,
		RunsPerReplica: opts.runsPerReplica, Arrivals: arrivals,
	})
	if err != nil {
		return usageError("%v", err)
	}
	scenarios := []sim.Scenario{base}
	if opts.compare != "" {
		if scenarios, err = sim.Vary(base, opts.compare); err != nil {
			return usageError("--compare: %v", err)
		}
	}
	results := make([]sim.Result, len(scenarios))
	for i, s := range scenarios {
		results[i] = sim.Run(s)
	}
	if opts.plot != "" {
		var svg bytes.Buffer
		if err := sim.PlotSVG(&svg, results); err != nil {
			return err
		}
		if err := render.WriteFile(opts.plot, svg.Bytes()); err != nil {
			return usageError("writing the plot: %v", err)
		}
	}
	if opts.output == "json" {
		return sim.WriteJSON(stdout, results, scenarios)
	}
	return sim.WriteText(stdout, results, scenarios)
}

func loadArrivals(opts simulateOptions, stdin io.Reader) ([]time.Duration, error) {
	switch {
	case opts.burst != "" && opts.trace != "":
		return nil, usageError("--burst and --trace are exclusive; give one load")
	case opts.burst != "":
		a, err := sim.ParseBurst(opts.burst)
		if err != nil {
			return nil, usageError("--burst: %v", err)
		}
		return a, nil
	case opts.trace == "-":
		a, err := sim.ReadTrace(stdin, "stdin")
		if err != nil {
			return nil, usageError("--trace: %v", err)
		}
		return a, nil
	case opts.trace != "":
		f, err := os.Open(opts.trace)
		if err != nil {
			return nil, usageError("--trace: %v", err)
		}
		defer f.Close()
		a, err := sim.ReadTrace(f, opts.trace)
		if err != nil {
			return nil, usageError("--trace: %v", err)
		}
		return a, nil
	}
	return nil, usageError("no load; expected --burst \"500 runs in 10m\" or --trace FILE")
}

// simulatePreviews sizes a preview environment (--previews).
func simulatePreviews(cmd *cobra.Command, dir string, opts simulateOptions, stdout io.Writer) error {
	if opts.burst != "" || opts.trace != "" {
		return usageError("--previews sizes preview environments; it takes no --burst or --trace")
	}
	rate, err := sim.ParsePreviewRate(opts.previews)
	if err != nil {
		return usageError("--previews: %v", err)
	}
	if opts.previewLife <= 0 {
		return usageError("--preview-lifetime must be positive")
	}
	res, err := compile(cmd.Context(), dir)
	if err != nil {
		return err
	}
	r, err := sim.Previews(res.Plan, opts.preview, sim.PreviewLoad{PerDay: rate, Lifetime: opts.previewLife})
	if err != nil {
		return usageError("%v", err)
	}
	if opts.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(stdout)
}
