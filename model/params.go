package model

import (
	"regexp"
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
	for _, name := range names {
		try := func(value string, path Path) {
			if strings.Contains(value, "$(") {
				return
			}
			values := map[string]string{}
			for k, v := range defaults {
				values[k] = v
			}
			values[name] = value
			if img := ExpandParams(s.Image, values); len(ParamRefs(img)) == 0 {
				out = append(out, ImageCandidate{Image: img, Path: path})
			}
		}
		if v, ok := defaults[name]; ok {
			try(v, defaultPath[name])
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
