package compiler

import (
	"slices"
	"strings"

	"github.com/pipec/pipec/model"
)

// normalize is the one step between decoding and checking that changes the
// plan: it expands what the configuration implies and puts the plan in the
// order the checks and the targets read it. It reports nothing: what it
// cannot make sense of (a dependency cycle, a promotion from an unknown
// environment) it leaves as it is, and the checks, which never change the
// plan, report it.
func normalize(plan *model.Plan) {
	expandDeploys(plan)
	expandPreviews(plan)
	expandGates(plan)
	expandAutoscalers(plan)
	for _, p := range plan.Pipelines {
		for _, t := range append(slices.Clone(p.Tasks), p.Finally...) {
			if t.Inline != nil {
				completeInline(p, t)
			}
		}
		orderTasks(p)
	}
	for _, a := range plan.Apps {
		defaultHelmKeys(a)
	}
	orderEnvironments(plan)
}

// completeInline completes an inline task's definition: its params are the
// values passed to it (and its matrix params), its workspaces those bound.
func completeInline(p *model.Pipeline, t *model.PipelineTask) {
	def := t.Inline
	if def.Params != nil || def.Workspaces != nil {
		return // declared (a task pipec generates)
	}
	def.Params = []*model.Param{}
	for _, a := range t.Params {
		prm := &model.Param{Name: a.Name, Type: a.Value.Type, Path: a.Path, Properties: sortedKeys(a.Value.Object)}
		// A whole reference ($(params.x[*])) passes its parameter's type:
		// an array, or an object with its keys; a result's, an array.
		if wholeRef(a.Value) {
			prm.Type = model.TypeArray
			if refs := findRefs(a.Value.String); refs[0].Kind == "params" && len(refs[0].Parts) > 0 {
				if from := p.Param(refs[0].Parts[0]); from != nil {
					prm.Type, prm.Properties = from.Type, from.Properties
				}
			}
		}
		def.Params = append(def.Params, prm)
	}
	if t.Matrix != nil {
		seen := map[string]bool{}
		add := func(a *model.Arg) {
			if seen[a.Name] || slices.ContainsFunc(t.Params, func(x *model.Arg) bool { return x.Name == a.Name }) {
				return
			}
			seen[a.Name] = true
			def.Params = append(def.Params, &model.Param{Name: a.Name, Type: model.TypeString, Path: a.Path})
		}
		for _, a := range t.Matrix.Params {
			add(a)
		}
		for _, inc := range t.Matrix.Include {
			for _, a := range inc.Params {
				add(a)
			}
		}
		slices.SortFunc(def.Params, func(a, b *model.Param) int { return strings.Compare(a.Name, b.Name) })
	}
	def.Workspaces = []*model.Workspace{}
	for _, w := range t.Workspaces {
		def.Workspaces = append(def.Workspaces, &model.Workspace{Name: w.Name, ReadOnly: w.ReadOnly, MountPath: w.MountPath, Path: w.Path})
	}
}

// defaultHelmKeys gives a Helm app the values keys of the common chart
// layout (image.repository, image.tag, image.digest) unless it names its
// own.
func defaultHelmKeys(a *model.App) {
	if a.Source.Type != "helm" || a.Source.Helm != nil {
		return
	}
	a.Source.Helm = &model.Helm{RepositoryKey: "image.repository", TagKey: "image.tag", DigestKey: "image.digest"}
	for _, dep := range a.Deployments {
		if dep.Helm == nil {
			dep.Helm = a.Source.Helm
		}
	}
}

// orderTasks records each task's dependencies and, unless they form a
// cycle, sorts the pipeline's tasks by depth in the graph, then by name.
func orderTasks(p *model.Pipeline) {
	g := graphOf(p)
	for _, t := range p.Tasks {
		t.Deps = g.deps[t.Name]
	}
	if g.cycle == nil {
		p.Tasks = levelOrder(g.topo, g.deps)
	}
}

// taskGraph is a pipeline's task graph.
type taskGraph struct {
	// deps are each task's dependencies: after, and the tasks whose
	// results it reads, within the pipeline's tasks.
	deps map[string][]string
	// topo lists the tasks, dependencies first.
	topo []*model.PipelineTask
	// cycle is the first dependency cycle a search in name order finds,
	// its first task repeated at the end; nil if there is none.
	cycle []string
}

func graphOf(p *model.Pipeline) taskGraph {
	tasks := map[string]*model.PipelineTask{}
	for _, t := range p.Tasks {
		tasks[t.Name] = t
	}
	g := taskGraph{deps: map[string][]string{}}
	for _, t := range p.Tasks {
		set := map[string]bool{}
		for _, d := range append(slices.Clone(t.After), resultDeps(t)...) {
			if tasks[d] != nil && d != t.Name {
				set[d] = true
			}
		}
		g.deps[t.Name] = sortedKeys(set)
	}
	// Depth-first search in name order gives both the order and cycles.
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		switch state[name] {
		case done:
			return
		case visiting:
			if g.cycle == nil {
				i := slices.Index(stack, name)
				g.cycle = append(slices.Clone(stack[i:]), name)
			}
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, d := range g.deps[name] {
			visit(d)
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		g.topo = append(g.topo, tasks[name])
	}
	for _, n := range sortedKeys(tasks) {
		visit(n)
	}
	return g
}

// levelOrder arranges tasks by depth in the graph, then by name, which reads
// naturally in the generated Pipeline (clone, then lint and test, then
// build, ...).
func levelOrder(topo []*model.PipelineTask, deps map[string][]string) []*model.PipelineTask {
	level := map[string]int{}
	for _, t := range topo { // dependencies come first in topo
		l := 0
		for _, d := range deps[t.Name] {
			l = max(l, level[d]+1)
		}
		level[t.Name] = l
	}
	out := slices.Clone(topo)
	slices.SortStableFunc(out, func(a, b *model.PipelineTask) int {
		if la, lb := level[a.Name], level[b.Name]; la != lb {
			return la - lb
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// orderEnvironments sets each environment's Order, its depth in the
// promotion graph, and sorts the environments, and each app's deployments,
// by it.
func orderEnvironments(p *model.Plan) {
	order, _ := promotionOrder(p)
	for _, e := range p.Environments {
		e.Order = order[e.Name]
	}
	slices.SortStableFunc(p.Environments, func(a, b *model.Environment) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, a := range p.Apps {
		slices.SortStableFunc(a.Deployments, func(x, y *model.Deployment) int {
			ex, ey := p.Environment(x.Environment), p.Environment(y.Environment)
			if ex != nil && ey != nil && ex.Order != ey.Order {
				return ex.Order - ey.Order
			}
			return strings.Compare(x.Environment, y.Environment)
		})
	}
}

// promotionCycle is a promotion cycle, found when the search came back to
// env.
type promotionCycle struct {
	env   *model.Environment
	chain []string
}

// promotionOrder returns each environment's depth in the promotion graph
// (0 for one promoted from nothing, from an unknown environment, from
// itself, or within a cycle) and the cycles, searching environments in name
// order.
func promotionOrder(p *model.Plan) (map[string]int, []promotionCycle) {
	order := map[string]int{}
	var cycles []promotionCycle
	var visit func(e *model.Environment, seen []string) int
	visit = func(e *model.Environment, seen []string) int {
		if o, ok := order[e.Name]; ok {
			return o
		}
		if i := slices.Index(seen, e.Name); i >= 0 {
			chain := append(slices.Clone(seen[i:]), e.Name)
			slices.Reverse(chain)
			cycles = append(cycles, promotionCycle{env: e, chain: chain})
			order[e.Name] = 0
			return 0
		}
		o := 0
		if e.Promotion != nil {
			if from := p.Environment(e.Promotion.From); from != nil && from != e {
				o = visit(from, append(seen, e.Name)) + 1
			}
		}
		order[e.Name] = o
		return o
	}
	for _, e := range envsByName(p) {
		order[e.Name] = visit(e, nil)
	}
	return order, cycles
}

// envsByName returns the environments in name order, whatever order the
// plan holds them in.
func envsByName(p *model.Plan) []*model.Environment {
	return slices.SortedStableFunc(slices.Values(p.Environments), func(a, b *model.Environment) int {
		return strings.Compare(a.Name, b.Name)
	})
}
