// Package capacity works out what pipeline runs and autoscaled workloads
// ask of a cluster: the requests of a task's pod, a task's matrix fan-out,
// and the peak a pipeline run reaches when every task that can run at the
// same time does. The compiler's capacity checks and `pipec simulate` share
// it.
package capacity

import (
	"fmt"
	"math/bits"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/pipec/pipec/model"
)

// Resources are CPU in millicores and memory in bytes.
type Resources struct {
	CPU    int64
	Memory int64
}

// Parse reads "cpu" and "memory" quantities; unparsable or missing ones
// count as zero (the compiler reports them elsewhere).
func Parse(m map[string]string) Resources {
	var r Resources
	if q, err := resource.ParseQuantity(m["cpu"]); err == nil {
		r.CPU = q.MilliValue()
	}
	if q, err := resource.ParseQuantity(m["memory"]); err == nil {
		r.Memory = q.Value()
	}
	return r
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPU: r.CPU + o.CPU, Memory: r.Memory + o.Memory}
}

// Mul returns n × r.
func (r Resources) Mul(n int64) Resources { return Resources{CPU: r.CPU * n, Memory: r.Memory * n} }

// Fits reports whether r fits within limit in both dimensions; a zero
// dimension of limit is unlimited.
func (r Resources) Fits(limit Resources) bool {
	return (limit.CPU == 0 || r.CPU <= limit.CPU) && (limit.Memory == 0 || r.Memory <= limit.Memory)
}

// String formats r as Kubernetes quantities: "cpu 2500m, memory 6Gi".
func (r Resources) String() string {
	return fmt.Sprintf("cpu %s, memory %s", CPU(r.CPU), Memory(r.Memory))
}

// CPU formats millicores as a quantity.
func CPU(m int64) string { return resource.NewMilliQuantity(m, resource.DecimalSI).String() }

// Memory formats bytes as a quantity.
func Memory(b int64) string { return resource.NewQuantity(b, resource.BinarySI).String() }

// TaskPod is what a pod of pipeline task t requests: the sum of its
// steps' and sidecars' requests (Tekton runs them in one pod). A remote task's steps only
// Tekton sees: it counts as one step with the defaults (defaults.step).
func TaskPod(plan *model.Plan, t *model.PipelineTask) Resources {
	if t.Ref != nil {
		return Parse(plan.StepDefaults.Resources.Requests)
	}
	var r Resources
	def := plan.Definition(t)
	if def == nil {
		return r
	}
	for _, s := range def.Containers() {
		r = r.Add(Parse(s.Resources.Requests))
	}
	return r
}

// FanOut is how many pods one pipeline task runs at once: the number of
// matrix combinations (each include adds one), or 1.
func FanOut(t *model.PipelineTask) int64 {
	m := t.Matrix
	if m == nil {
		return 1
	}
	var n int64
	if len(m.Params) > 0 {
		n = 1
		for _, a := range m.Params {
			n *= int64(max(1, len(a.Value.Array)))
		}
	}
	return max(1, n+int64(len(m.Include)))
}

// Peak is the most a pipeline run asks for at once.
type Peak struct {
	Pods     int64
	Requests Resources
	// Tasks are the pipeline tasks that run together at the peak.
	Tasks []string
}

// RemotePipelineTask stands for the tasks of a remote pipeline in a Peak.
const RemotePipelineTask = "remote pipeline: one step of defaults.step"

// maxExact bounds the tasks for which RunPeak searches exactly; beyond it,
// it assumes all tasks may overlap.
const maxExact = 24

// RunPeak is the peak of one run of p: the heaviest set of tasks no two of
// which depend on each other (directly or through others), weighted by CPU
// requests; or the finally tasks, which all run together after the rest.
//
// A remote pipeline's tasks only Tekton sees: a run counts as one pod of
// one step with the defaults (defaults.step), as a remote task does.
func RunPeak(plan *model.Plan, p *model.Pipeline) Peak {
	if p.Ref != nil {
		return Peak{Pods: 1, Requests: Parse(plan.StepDefaults.Resources.Requests), Tasks: []string{RemotePipelineTask}}
	}
	best := antichainPeak(plan, p.Tasks)
	var fin Peak
	for _, t := range p.Finally {
		fin = fin.with(plan, t)
	}
	if fin.Requests.CPU > best.Requests.CPU || (fin.Requests.CPU == best.Requests.CPU && fin.Pods > best.Pods) {
		return fin
	}
	return best
}

func (pk Peak) with(plan *model.Plan, t *model.PipelineTask) Peak {
	n := FanOut(t)
	pk.Pods += n
	pk.Requests = pk.Requests.Add(TaskPod(plan, t).Mul(n))
	pk.Tasks = append(pk.Tasks, t.Name)
	return pk
}

// antichainPeak finds the heaviest antichain of the task graph by a search
// over tasks in order, pruned by the tasks' transitive dependencies.
func antichainPeak(plan *model.Plan, tasks []*model.PipelineTask) Peak {
	n := len(tasks)
	if n == 0 {
		return Peak{}
	}
	if n > maxExact {
		var all Peak
		for _, t := range tasks {
			all = all.with(plan, t)
		}
		return all
	}
	index := map[string]int{}
	for i, t := range tasks {
		index[t.Name] = i
	}
	// related[i]: tasks that i depends on or that depend on i.
	anc := make([]uint32, n)
	for i, t := range tasks { // dependencies come first in p.Tasks
		for _, d := range t.Deps {
			if j, ok := index[d]; ok {
				anc[i] |= 1<<j | anc[j]
			}
		}
	}
	related := make([]uint32, n)
	for i := range n {
		related[i] |= anc[i]
		for j := range n {
			if anc[j]&(1<<i) != 0 {
				related[i] |= 1 << j
			}
		}
	}
	weight := make([]Resources, n)
	pods := make([]int64, n)
	for i, t := range tasks {
		pods[i] = FanOut(t)
		weight[i] = TaskPod(plan, t).Mul(pods[i])
	}
	var bestSet uint32
	var best Resources
	var bestPods int64
	var search func(i int, set, blocked uint32, sum Resources, np int64)
	search = func(i int, set, blocked uint32, sum Resources, np int64) {
		if i == n {
			if sum.CPU > best.CPU || (sum.CPU == best.CPU && (sum.Memory > best.Memory || (sum.Memory == best.Memory && np > bestPods))) {
				best, bestSet, bestPods = sum, set, np
			}
			return
		}
		if blocked&(1<<i) == 0 {
			search(i+1, set|1<<i, blocked|related[i], sum.Add(weight[i]), np+pods[i])
		}
		// Skipping i is only worth it if some later task is blocked by it
		// or i could be replaced; a cheap bound keeps the search small.
		if related[i]>>(i+1) != 0 || blocked&(1<<i) != 0 {
			search(i+1, set, blocked, sum, np)
		}
	}
	search(0, 0, 0, Resources{}, 0)
	pk := Peak{Pods: bestPods, Requests: best}
	for set := bestSet; set != 0; set &= set - 1 {
		pk.Tasks = append(pk.Tasks, tasks[bits.TrailingZeros32(set)].Name)
	}
	return pk
}

// HowMany is how many r fit within limit: the fewest over the dimensions
// both set; -1 when no dimension bounds it.
func HowMany(r, limit Resources) int64 {
	n := int64(-1)
	for _, d := range [][2]int64{{r.CPU, limit.CPU}, {r.Memory, limit.Memory}} {
		if d[0] > 0 && d[1] > 0 && (n < 0 || d[1]/d[0] < n) {
			n = d[1] / d[0]
		}
	}
	return n
}
