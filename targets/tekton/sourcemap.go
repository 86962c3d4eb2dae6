package tekton

import (
	"fmt"
	"strings"

	"github.com/pipec/pipec/model"
)

// sourceMap maps field paths of a generated object, in the form Tekton's
// validation reports them ("spec.tasks[0].taskSpec.steps[1].image"), to the
// CUE paths they were generated from.
type sourceMap struct {
	root model.Path
	m    map[string]model.Path
}

func newSourceMap(root model.Path) *sourceMap {
	return &sourceMap{root: root, m: map[string]model.Path{"": root, "metadata": root, "spec": root}}
}

func (s *sourceMap) set(field string, p model.Path) { s.m[field] = p }

// setList records a list element under both its index and, as Tekton also
// reports some fields by key, its name.
func (s *sourceMap) setList(field string, i int, name string, p model.Path) {
	s.m[fmt.Sprintf("%s[%d]", field, i)] = p
	if name != "" {
		// Some Tekton checks report below an element by its name:
		// results[0].out.properties.
		s.m[fmt.Sprintf("%s[%d].%s", field, i, name)] = p
		s.setKey(field, name, p)
	}
}

func (s *sourceMap) setKey(field, name string, p model.Path) {
	s.m[fmt.Sprintf("%s[%s]", field, name)] = p
	s.m[field+"."+name] = p
}

// lookup returns the CUE path of the longest recorded prefix of field. For
// the part of field below that prefix it appends the same names, so that a
// step's "image" maps to the step's image field.
func (s *sourceMap) lookup(field string) model.Path {
	rest := ""
	for f := field; ; {
		if p, ok := s.m[f]; ok {
			return appendRest(p, rest)
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			return s.root
		}
		if f[i] == '.' {
			rest = f[i+1:] + suffixDot(rest)
		} else {
			rest = "" // below an unmapped list element: stay at the parent
		}
		f = f[:i]
	}
}

func suffixDot(rest string) string {
	if rest == "" {
		return ""
	}
	return "." + rest
}

// cueNames maps Tekton field names to pipec's where they differ, and the
// names Tekton's validation reports in lower case (a workspace's
// "mountpath") to the field's.
var cueNames = map[string]string{
	"computeResources": "resources",
	"runAfter":         "after",
	"taskRef":          "uses",
	"mountpath":        "mountPath",
}

func appendRest(p model.Path, rest string) model.Path {
	if rest == "" {
		return p
	}
	for _, part := range strings.Split(rest, ".") {
		if strings.ContainsAny(part, "[]") {
			break
		}
		if n, ok := cueNames[part]; ok {
			part = n
		}
		p = p.Field(part)
	}
	return p
}
