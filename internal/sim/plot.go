package sim

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// series are the lines a chart draws from a timeline.
var series = []struct {
	name  string
	color string
	value func(Sample) float64
}{
	{"waiting runs", "#d62728", func(s Sample) float64 { return float64(s.WaitingRuns) }},
	{"running runs", "#2ca02c", func(s Sample) float64 { return float64(s.RunningRuns) }},
	{"pending pods", "#ff7f0e", func(s Sample) float64 { return float64(s.PendingPods) }},
	{"HPA replicas", "#1f77b4", func(s Sample) float64 { return float64(s.Replicas) }},
	{"pods over quota", "#8c564b", func(s Sample) float64 { return float64(s.OverQuota) }},
	{"nodes", "#9467bd", func(s Sample) float64 { return float64(s.Nodes + s.LaunchingNode) }},
}

// PlotSVG draws each result as a panel of lines over time, one panel under
// the other on the same scales, so tuning choices can be compared.
func PlotSVG(w io.Writer, results []Result) error {
	const width, panelH, left, right, top, bottom = 960, 260, 60, 170, 30, 40
	maxY, maxT := 1.0, time.Duration(1)
	for _, r := range results {
		for _, s := range points(r) {
			for _, sr := range series {
				maxY = max(maxY, sr.value(s))
			}
			maxT = max(maxT, s.At)
		}
	}
	maxY = niceCeil(maxY)
	height := len(results) * (panelH + top + bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	plotW := float64(width - left - right)
	for i, r := range results {
		y0 := i*(panelH+top+bottom) + top
		x := func(t time.Duration) float64 { return float64(left) + plotW*float64(t)/float64(maxT) }
		y := func(v float64) float64 { return float64(y0+panelH) - float64(panelH)*v/maxY }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", left, y0-10, escape(r.Scenario))
		// Axes and grid.
		for k := 0; k <= 4; k++ {
			v := maxY * float64(k) / 4
			fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, float64(left)+plotW, y(v), y(v))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
		}
		step := timeStep(maxT)
		for t := time.Duration(0); t <= maxT; t += step {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>`, x(t), x(t), y0+panelH, y0+panelH+4)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(t), y0+panelH+18, FormatDuration(t))
		}
		for j, sr := range series {
			var pts []string
			for _, s := range points(r) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), y(sr.value(s))))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", sr.color, strings.Join(pts, " "))
			ly := y0 + 14 + j*18
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`+"\n",
				width-right+10, width-right+30, ly, ly, sr.color, width-right+36, ly+4, sr.name)
		}
		for k, line := range []string{
			"p95 queue wait " + FormatDuration(r.WaitP95),
			fmt.Sprintf("peak %d nodes", r.PeakNodes),
			fmt.Sprintf("%.1f node-hours", r.NodeHours),
			fmt.Sprintf("%d rejected", r.Rejected),
		} {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", width-right+10, y0+24+(len(series)+k)*18, line)
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// points are the samples a chart draws: the fine series, else the
// timeline.
func points(r Result) []Sample {
	if len(r.Series) > 0 {
		return r.Series
	}
	return r.Timeline
}

// timeStep is a round tick interval giving at most 8 ticks up to maxT.
func timeStep(maxT time.Duration) time.Duration {
	for _, m := range []time.Duration{1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440} {
		if step := m * time.Minute; maxT/step <= 8 {
			return step
		}
	}
	return maxT / 8
}

func niceCeil(v float64) float64 {
	for _, step := range []float64{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000} {
		if v <= step*4 {
			return step * 4
		}
	}
	return v
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
