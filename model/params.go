package model

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// paramRefRE matches a reference to a string parameter: $(params.name) or
// $(params["name"]).
var paramRefRE = regexp.MustCompile(`\$\(params(?:\.([A-Za-z0-9_-]+)|\[["']([^"']+)["']\])\)`)

// ParamRefs returns the names of the string parameters s refers to, in
// order, each once.
func ParamRefs(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range paramRefRE.FindAllStringSubmatch(s, -1) {
		name := m[1] + m[2]
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// ExpandParams replaces the references to the parameters in values with
// their values, as Tekton does at run time; others stay.
func ExpandParams(s string, values map[string]string) string {
	return paramRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := paramRefRE.FindStringSubmatch(ref)
		if v, ok := values[m[1]+m[2]]; ok {
			return v
		}
		return ref
	})
}

// ImageCandidate is an image a step may run once its parameters are
// resolved, and the value that decides it.
type ImageCandidate struct {
	Image string
	// Path is where the deciding value is written: a parameter's default,
	// or a value a pipeline passes.
	Path Path
}

// StepImages returns the images a step whose image refers to parameters
// may run: each referenced parameter in turn set to its default and to
// each value passed to it (args, from a pipeline task that runs the task;
// each value of a matrix), the others to their defaults. Values that are themselves
// references are left out: they are resolved where they are written.
func StepImages(s *Step, def *TaskDef, args []*Arg) []ImageCandidate {
	return stepImages(s, def, args, nil)
}

// stepImages is StepImages where base gives the value each parameter the
// task is passed takes while the others vary (its defaults those it is
// not).
func stepImages(s *Step, def *TaskDef, args []*Arg, base map[string]string) []ImageCandidate {
	names := ParamRefs(s.Image)
	if len(names) == 0 {
		return nil
	}
	defaults := map[string]string{}
	defaultPath := map[string]Path{}
	for _, p := range def.Params {
		if p.Default != nil && p.Default.Type == TypeString {
			defaults[p.Name] = p.Default.String
			defaultPath[p.Name] = p.Path.Field("default")
		}
	}
	var out []ImageCandidate
	seen := map[ImageCandidate]bool{}
	for _, name := range names {
		try := func(value string, path Path) {
			if strings.Contains(value, "$(") {
				return
			}
			values := map[string]string{}
			for k, v := range defaults {
				values[k] = v
			}
			for k, v := range base {
				values[k] = v
			}
			values[name] = value
			img := ExpandParams(s.Image, values)
			if c := (ImageCandidate{Image: img, Path: path}); len(ParamRefs(img)) == 0 && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		// A default counts unless the task is always passed a value.
		if _, passed := base[name]; !passed {
			if v, ok := defaults[name]; ok {
				try(v, defaultPath[name])
			}
		}
		for _, a := range args {
			if a.Name != name {
				continue
			}
			switch a.Value.Type {
			case TypeString:
				try(a.Value.String, a.Path)
			case TypeArray: // a matrix fans out over the values
				for i, v := range a.Value.Array {
					try(v, a.Path.Index(i))
				}
			}
		}
	}
	return out
}

// PipelineStepImages returns the images step s of def may run as task t
// of pipeline p: StepImages with every value that reaches the parameters
// its image is made from. A value t passes that refers to pipeline
// parameters is tried with each value they take: their defaults and what
// the pipeline's trigger sets them to (on.params); an embedded task reads
// the pipeline's parameters it does not declare itself, which Tekton
// propagates, with the same values. Each candidate's Path is the value
// that introduces it. Values known only when the pipeline runs (an event's
// $(event.x), a task result) are left out: nothing can be said of them
// before.
func PipelineStepImages(p *Pipeline, t *PipelineTask, def *TaskDef, s *Step) []ImageCandidate {
	if len(ParamRefs(s.Image)) == 0 {
		return nil
	}
	// What each pipeline parameter may be: its default first, then each
	// literal the trigger sets it to.
	type valueAt struct {
		value string
		path  Path
	}
	pipelineValues := func(name string) []valueAt {
		var vs []valueAt
		if prm := p.Param(name); prm != nil && prm.Default != nil && prm.Default.Type == TypeString {
			vs = append(vs, valueAt{prm.Default.String, prm.Path.Field("default")})
		}
		if p.On != nil {
			for _, a := range p.On.Params {
				if a.Name == name && a.Value.Type == TypeString && !strings.Contains(a.Value.String, "$(") {
					vs = append(vs, valueAt{a.Value.String, a.Path})
				}
			}
		}
		return vs
	}
	pipelineDefaults := map[string]string{}
	for _, prm := range p.Params {
		if prm.Default != nil && prm.Default.Type == TypeString {
			pipelineDefaults[prm.Name] = prm.Default.String
		}
	}
	// resolve gives the values a value written at path may take: itself,
	// or, where it refers to pipeline parameters, each of theirs in turn
	// (the others at their defaults), at the value that decides it.
	resolve := func(value string, path Path) []valueAt {
		refs := ParamRefs(value)
		if len(refs) == 0 {
			return []valueAt{{value, path}}
		}
		var out []valueAt
		for _, r := range refs {
			for _, v := range pipelineValues(r) {
				values := maps.Clone(pipelineDefaults)
				values[r] = v.value
				out = append(out, valueAt{ExpandParams(value, values), v.path})
			}
		}
		return out
	}
	var args []*Arg
	base := map[string]string{}
	add := func(name, value string, path Path, first bool) {
		for i, v := range resolve(value, path) {
			args = append(args, &Arg{Name: name, Value: Value{Type: TypeString, String: v.value}, Path: v.path})
			if _, ok := base[name]; first && i == 0 && !ok {
				base[name] = v.value
			}
		}
	}
	passed := slices.Clone(t.Params)
	if t.Matrix != nil {
		passed = append(passed, t.Matrix.Params...)
		for _, inc := range t.Matrix.Include {
			passed = append(passed, inc.Params...)
		}
	}
	for _, a := range passed {
		switch a.Value.Type {
		case TypeString:
			add(a.Name, a.Value.String, a.Path, true)
		case TypeArray: // a matrix fans out over the values
			for i, v := range a.Value.Array {
				add(a.Name, v, a.Path.Index(i), i == 0)
			}
		}
	}
	// An embedded task reads the pipeline's parameters it does not
	// declare.
	if t.Inline != nil {
		for _, name := range ParamRefs(s.Image) {
			if slices.ContainsFunc(def.Params, func(x *Param) bool { return x.Name == name }) {
				continue
			}
			for i, v := range pipelineValues(name) {
				args = append(args, &Arg{Name: name, Value: Value{Type: TypeString, String: v.value}, Path: v.path})
				if i == 0 {
					base[name] = v.value
				}
			}
		}
	}
	return stepImages(s, def, args, base)
}
