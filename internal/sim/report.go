package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints each result's timeline, then a summary with one column
// per result, so tuning choices read side by side.
func WriteText(w io.Writer, results []Result, scenarios []Scenario) error {
	var b strings.Builder
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "== %s\n", r.Scenario)
		if i < len(scenarios) {
			if about := scenarios[i].About(); about != "" {
				fmt.Fprintf(&b, "%s\n", about)
			}
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "time\tarrived\trejected\twaiting\tqueue wait\trunning\tover quota\tpending pods\treplicas\tnodes\tlaunching\tcores used\t")
		for _, s := range r.Timeline {
			wait := "-"
			if s.WaitingRuns > 0 {
				wait = FormatDuration(s.QueueWait)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", FormatDuration(s.At), s.Arrived, s.Rejected, s.WaitingRuns, wait, s.RunningRuns,
				s.OverQuota, s.PendingPods, s.Replicas, s.Nodes, s.LaunchingNode, usage(s.UsedCPU, s.TotalCPU))
		}
		tw.Flush()
	}
	b.WriteString("\n== summary\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(name string, f func(Result) string) {
		fmt.Fprintf(tw, "%s", name)
		for _, r := range results {
			fmt.Fprintf(tw, "\t%s", f(r))
		}
		fmt.Fprintln(tw, "\t")
	}
	row("", func(r Result) string { return r.Scenario })
	row("runs", func(r Result) string { return fmt.Sprint(r.Runs) })
	row("completed", func(r Result) string { return fmt.Sprint(r.Completed) })
	row("rejected by quota", func(r Result) string { return fmt.Sprint(r.Rejected) })
	row("never started", func(r Result) string { return fmt.Sprint(r.Starved) })
	// Waits are of the runs that started; with none, there is no wait
	// to show.
	wait := func(d func(Result) time.Duration) func(Result) string {
		return func(r Result) string {
			if r.Runs-r.Rejected-r.Starved <= 0 {
				return "-"
			}
			return FormatDuration(d(r))
		}
	}
	row("queue wait p50", wait(func(r Result) time.Duration { return r.WaitP50 }))
	row("queue wait p95", wait(func(r Result) time.Duration { return r.WaitP95 }))
	row("queue wait max", wait(func(r Result) time.Duration { return r.WaitMax }))
	row("peak nodes", func(r Result) string { return fmt.Sprint(r.PeakNodes) })
	row("node-hours", func(r Result) string { return fmt.Sprintf("%.1f", r.NodeHours) })
	row("peak replicas", func(r Result) string { return fmt.Sprint(r.PeakReplicas) })
	row("replica-hours", func(r Result) string { return fmt.Sprintf("%.1f", r.ReplicaHours) })
	row("time at max replicas", func(r Result) string { return FormatDuration(r.AtMax) })
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func usage(used, total int64) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f/%g", float64(used)/1000, float64(total)/1000)
}

// jsonResult is a result as JSON: durations in seconds.
type jsonResult struct {
	Scenario       string       `json:"scenario"`
	About          string       `json:"about,omitempty"`
	Runs           int          `json:"runs"`
	Completed      int          `json:"completed"`
	Rejected       int          `json:"rejected"`
	NeverStarted   int          `json:"neverStarted"`
	WaitP50Seconds float64      `json:"queueWaitP50Seconds"`
	WaitP95Seconds float64      `json:"queueWaitP95Seconds"`
	WaitMaxSeconds float64      `json:"queueWaitMaxSeconds"`
	PeakNodes      int          `json:"peakNodes"`
	NodeHours      float64      `json:"nodeHours"`
	PeakReplicas   int32        `json:"peakReplicas"`
	ReplicaHours   float64      `json:"replicaHours"`
	AtMaxSeconds   float64      `json:"atMaxReplicasSeconds"`
	Timeline       []jsonSample `json:"timeline"`
}

type jsonSample struct {
	AtSeconds     float64 `json:"atSeconds"`
	Arrived       int     `json:"arrived"`
	Rejected      int     `json:"rejected"`
	Waiting       int     `json:"waiting"`
	Running       int     `json:"running"`
	QueueWait     float64 `json:"queueWaitSeconds"`
	OverQuota     int     `json:"overQuotaPods"`
	PendingPods   int     `json:"pendingPods"`
	Replicas      int32   `json:"replicas"`
	Nodes         int     `json:"nodes"`
	LaunchingNode int     `json:"launchingNodes"`
	UsedMilliCPU  int64   `json:"usedMilliCPU"`
	TotalMilliCPU int64   `json:"totalMilliCPU"`
}

// SchemaVersion of the JSON report.
const SchemaVersion = "pipec.dev/simulation/v1"

// WriteJSON prints the results as one JSON document.
func WriteJSON(w io.Writer, results []Result, scenarios []Scenario) error {
	out := struct {
		Schema  string       `json:"schemaVersion"`
		Results []jsonResult `json:"results"`
	}{Schema: SchemaVersion, Results: []jsonResult{}}
	secs := func(d time.Duration) float64 { return d.Seconds() }
	for i, r := range results {
		j := jsonResult{Scenario: r.Scenario, Runs: r.Runs, Completed: r.Completed, Rejected: r.Rejected, NeverStarted: r.Starved,
			WaitP50Seconds: secs(r.WaitP50), WaitP95Seconds: secs(r.WaitP95), WaitMaxSeconds: secs(r.WaitMax),
			PeakNodes: r.PeakNodes, NodeHours: float64(int64(r.NodeHours*100+0.5)) / 100, PeakReplicas: r.PeakReplicas, ReplicaHours: float64(int64(r.ReplicaHours*100+0.5)) / 100, AtMaxSeconds: secs(r.AtMax),
			Timeline: []jsonSample{}}
		if i < len(scenarios) {
			j.About = scenarios[i].About()
		}
		for _, s := range r.Timeline {
			j.Timeline = append(j.Timeline, jsonSample{AtSeconds: secs(s.At), Arrived: s.Arrived, Rejected: s.Rejected, Waiting: s.WaitingRuns, Running: s.RunningRuns, QueueWait: secs(s.QueueWait),
				OverQuota: s.OverQuota, PendingPods: s.PendingPods, Replicas: s.Replicas, Nodes: s.Nodes, LaunchingNode: s.LaunchingNode, UsedMilliCPU: s.UsedCPU, TotalMilliCPU: s.TotalCPU})
		}
		out.Results = append(out.Results, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
