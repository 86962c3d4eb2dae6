package e2escale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/sim"
)

// Report is a scale run's result beside what pipec simulate predicts for
// the same load: the measured arrivals, and the measured run duration.
type Report struct {
	*Result
	Scenario  sim.Scenario
	Simulated sim.Result
	// Measured is the measured timeline in the simulator's terms, for the
	// chart.
	Measured sim.Result
}

// LoadResult reads a result.json that WriteFiles wrote, and compiles its
// configuration again for the comparison with the simulator: a run's
// figures can be compared again after a change to the simulator, without
// running the cluster.
func LoadResult(ctx context.Context, file string) (*Result, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	res, err := compiler.Build(ctx, compiler.Options{Dir: r.Options.Config})
	if err != nil {
		return nil, err
	}
	if res.Plan == nil {
		return nil, fmt.Errorf("%s does not compile:\n%v", r.Options.Config, res.Diagnostics)
	}
	if r.Options.Coschedule != "" {
		res.Plan.Scaling.TektonCoschedule = r.Options.Coschedule
	}
	r.Plan = res.Plan
	return &r, nil
}

// NewReport simulates the measured load with pipec simulate's model.
func NewReport(r *Result) (*Report, error) {
	var arrivals []time.Duration
	for _, s := range r.Samples {
		for range s.Created - len(arrivals) {
			arrivals = append(arrivals, s.At.Truncate(time.Second))
		}
	}
	if len(arrivals) == 0 {
		return nil, fmt.Errorf("no PipelineRun was created")
	}
	// The simulation runs as long as it needs to come back down (twice
	// the measured span), each run for the time an uncontended run took.
	end := r.Samples[len(r.Samples)-1].At
	sc, err := sim.FromPlan(r.Plan, sim.Setup{
		Pool: r.Pool, Autoscaler: r.Autoscaler,
		RunDuration: max(time.Second, r.RunMin), Arrivals: arrivals,
		Duration: (2 * end).Round(sim.Tick) + sim.Tick, Every: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("simulating the same load: %w", err)
	}
	rep := &Report{Result: r, Scenario: sc, Simulated: sim.Run(sc)}
	rep.Simulated.Scenario = "pipec simulate, same arrivals, run duration " + sim.FormatDuration(r.RunMin.Round(time.Second))
	rep.Measured = sim.Result{Scenario: fmt.Sprintf("measured: %d runs through the EventListener on kube-apiserver, Tekton, KWOK and Karpenter", r.Runs),
		Runs: r.Runs, PeakNodes: r.PeakNodes, PeakReplicas: r.PeakReplicas, WaitP50: r.QueueP50, WaitP95: r.QueueP95, WaitMax: r.QueueMax}
	for _, s := range r.Samples {
		rep.Measured.Series = append(rep.Measured.Series, sim.Sample{At: s.At, Arrived: s.Created, WaitingRuns: s.Waiting,
			RunningRuns: s.Running, PendingPods: s.PendingPods, Replicas: s.Replicas, Nodes: s.Nodes, OverQuota: s.QuotaWaiting})
	}
	rep.Measured.NodeHours = nodeHours(rep.Measured.Series)
	return rep, nil
}

func nodeHours(ss []sim.Sample) float64 {
	h := 0.0
	for i := 1; i < len(ss); i++ {
		h += float64(ss[i-1].Nodes) * (ss[i].At - ss[i-1].At).Hours()
	}
	return h
}

// Check returns what makes the run a failure: a delivery refused, a run
// an accepted delivery should have started missing, a run that did not
// succeed or never finished, a pool that did not scale out or did not
// come back.
func (r *Report) Check() []error {
	var errs []error
	if r.Accepted != r.Deliveries {
		errs = append(errs, fmt.Errorf("the EventListener accepted %d of %d deliveries", r.Accepted, r.Deliveries))
	}
	for _, msg := range slices.Sorted(maps.Keys(r.Dropped)) {
		errs = append(errs, fmt.Errorf("the EventListener accepted deliveries but did not start %d of their runs: %s", r.Dropped[msg], msg))
	}
	if want := r.Options.Runs; r.Runs != want {
		errs = append(errs, fmt.Errorf("%d PipelineRuns were created, want %d", r.Runs, want))
	}
	if r.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d PipelineRuns failed: %v", r.Failed, r.FailureReasons))
	}
	if r.Unfinished > 0 {
		errs = append(errs, fmt.Errorf("%d PipelineRuns had not finished when the test stopped waiting (after %s at most)", r.Unfinished, r.Options.Timeout))
	}
	if r.PeakNodes <= r.BaselineNodes {
		errs = append(errs, fmt.Errorf("the pool did not scale out: %d nodes before, at most %d during the burst", r.BaselineNodes, r.PeakNodes))
	}
	if r.FinalNodes > r.BaselineNodes {
		errs = append(errs, fmt.Errorf("the pool did not scale back in within %s: %d nodes, %d before the burst", r.Options.ScaleInTimeout, r.FinalNodes, r.BaselineNodes))
	}
	return errs
}

// WriteSummary writes the table of figures, measured beside simulated.
func (r *Report) WriteSummary(w io.Writer) error {
	var b bytes.Buffer
	sm := r.Simulated
	fmt.Fprintf(&b, "## pipec end-to-end scale run: %d PipelineRuns\n\n", r.Runs)
	fmt.Fprintf(&b, "Configuration %s, namespace %s, pool %s, autoscaler %s; each TaskRun pod runs %s; %d webhook deliveries from %d senders.\n\n",
		r.Options.Config, r.Namespace, r.Pool, r.Autoscaler, r.Options.TaskDuration, r.Deliveries, r.Options.Senders)
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	row := func(name, measured, simulated string) {
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t|\n", name, measured, simulated)
	}
	d := func(x time.Duration) string { return x.Round(100 * time.Millisecond).String() }
	row("figure", "measured", "pipec simulate")
	row("---", "---", "---")
	row("deliveries accepted", fmt.Sprintf("%d / %d", r.Accepted, r.Deliveries), "")
	lost := 0
	for _, n := range r.Dropped {
		lost += n
	}
	row("PipelineRuns the EventListener did not start", fmt.Sprint(lost), "")
	row("PipelineRuns succeeded", fmt.Sprintf("%d / %d", r.Succeeded, r.Runs), fmt.Sprintf("%d completed", sm.Completed))
	row("failed / unfinished", fmt.Sprintf("%d / %d", r.Failed, r.Unfinished), fmt.Sprintf("%d rejected, %d starved", sm.Rejected, sm.Starved))
	row("queue time p50 / p95 / max", fmt.Sprintf("%s / %s / %s", d(r.QueueP50), d(r.QueueP95), d(r.QueueMax)),
		fmt.Sprintf("%s / %s / %s", d(sm.WaitP50), d(sm.WaitP95), d(sm.WaitMax)))
	row("run time min / p50 / p95 (first pod to done)", fmt.Sprintf("%s / %s / %s", d(r.RunMin), d(r.RunP50), d(r.RunP95)), "(input: the measured minimum)")
	row("time to Succeeded p50 / p95 / max (from first delivery)", fmt.Sprintf("%s / %s / %s", d(r.TotalP50), d(r.TotalP95), d(r.TotalMax)), "")
	row("last run done", d(r.LastDone), "")
	row("peak runs waiting / running", fmt.Sprintf("%d / %d", r.PeakWaitingRuns, r.PeakRunningRuns), fmt.Sprintf("%d / %d", peak(sm, func(s sim.Sample) int { return s.WaitingRuns }), peak(sm, func(s sim.Sample) int { return s.RunningRuns })))
	row("peak TaskRun pods pending / running (affinity assistants)", fmt.Sprintf("%d / %d (%d)", r.PeakPendingPods, r.PeakRunningPods, r.PeakAssistantPods), fmt.Sprintf("%d / -", peak(sm, func(s sim.Sample) int { return s.PendingPods })))
	row("TaskRuns that waited for quota", fmt.Sprintf("%d (in %d runs)", r.QuotaWaitedTaskRuns, r.RunsWithQuotaWait), fmt.Sprintf("peak %d pods over quota", peak(sm, func(s sim.Sample) int { return s.OverQuota })))
	// The simulation starts from an empty pool; the measured run starts
	// once the autoscaled component's minimum is up, on BaselineNodes.
	row("pool nodes before / peak / after", fmt.Sprintf("%d / %d / %d", r.BaselineNodes, r.PeakNodes, r.FinalNodes),
		fmt.Sprintf("%d / %d / %d", r.BaselineNodes, sm.PeakNodes, lastNodes(sm)))
	row("nodes created for the burst", fmt.Sprint(r.NodesCreated), fmt.Sprint(max(0, sm.PeakNodes-r.BaselineNodes)))
	never := func(x time.Duration) string {
		if x < 0 {
			return "never"
		}
		return d(x)
	}
	row("first node added after", never(r.ScaledOutAfter), never(firstAbove(sm.Series, r.BaselineNodes)))
	row("back to the baseline after", never(r.ScaledInAfter), never(backTo(sm.Series, r.BaselineNodes)))
	row("node-hours", fmt.Sprintf("%.2f", r.Measured.NodeHours), fmt.Sprintf("%.2f", sm.NodeHours))
	row("autoscaler replicas min / peak / after", fmt.Sprintf("%d / %d / %d", r.MinReplicas, r.PeakReplicas, r.FinalReplicas),
		fmt.Sprintf("%d / %d / %d", r.MinReplicas, sm.PeakReplicas, lastReplicas(sm)))
	if err := tw.Flush(); err != nil {
		return err
	}
	table := b.String()
	for _, msg := range slices.Sorted(maps.Keys(r.Dropped)) {
		table += fmt.Sprintf("\nthe EventListener did not start %d PipelineRun(s): %s\n", r.Dropped[msg], msg)
	}
	if len(r.FailureReasons) > 0 {
		var rs []string
		for k, v := range r.FailureReasons {
			rs = append(rs, fmt.Sprintf("%s: %d", k, v))
		}
		sort.Strings(rs)
		table += "\nfailed runs by reason: " + strings.Join(rs, ", ") + "\n"
	}
	table += "\nsimulated: " + strings.ReplaceAll(r.Scenario.About(), "\n", "; ") + "\n"
	_, err := io.WriteString(w, table)
	return err
}

func peak(r sim.Result, f func(sim.Sample) int) int {
	m := 0
	for _, s := range r.Series {
		m = max(m, f(s))
	}
	return m
}

func lastNodes(r sim.Result) int {
	if len(r.Series) == 0 {
		return 0
	}
	return r.Series[len(r.Series)-1].Nodes
}

func lastReplicas(r sim.Result) int32 {
	if len(r.Series) == 0 {
		return 0
	}
	return r.Series[len(r.Series)-1].Replicas
}

// firstAbove is when nodes first exceeded base; -1 if never.
func firstAbove(ss []sim.Sample, base int) time.Duration {
	for _, s := range ss {
		if s.Nodes+s.LaunchingNode > base {
			return s.At
		}
	}
	return -1
}

// backTo is when nodes came back to base for good after exceeding it; -1
// if never.
func backTo(ss []sim.Sample, base int) time.Duration {
	at, above := time.Duration(-1), false
	for _, s := range ss {
		switch {
		case s.Nodes+s.LaunchingNode > base:
			above, at = true, -1
		case above && at < 0:
			at = s.At
		}
	}
	return at
}

// WriteFiles writes summary.md, timeline.svg (measured above simulated, on
// the same scales) and result.json into dir.
func (r *Report) WriteFiles(dir string) error {
	var sum bytes.Buffer
	if err := r.WriteSummary(&sum); err != nil {
		return err
	}
	sum.WriteString("\n![timeline](timeline.svg)\n")
	var svg bytes.Buffer
	if err := sim.PlotSVG(&svg, []sim.Result{r.Measured, r.Simulated}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r.Result, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"summary.md": sum.Bytes(), "timeline.svg": svg.Bytes(), "result.json": append(js, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
