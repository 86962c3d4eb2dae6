// Package change compares two sets of generated objects semantically: which
// objects were added, removed or changed, and for a changed object which
// fields, grouped by delivery unit (ci, environments/<env>, argocd) and
// target. It is what `pipec diff` prints in pull-request comments.
package change

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
)

// Kind of change.
type Kind string

// Kinds.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Field is one changed field of an object.
type Field struct {
	// Path is the field's path, such as spec.maxReplicas or
	// spec.tasks[name=test].retries.
	Path string `json:"path"`
	// Old and New are the values, as JSON; empty when the field is absent.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// Change is one object that differs.
type Change struct {
	Kind      Kind    `json:"change"`
	Unit      string  `json:"unit"`
	Target    string  `json:"target"`
	APIKind   string  `json:"kind"`
	Namespace string  `json:"namespace,omitempty"`
	Name      string  `json:"name"`
	Fields    []Field `json:"fields,omitempty"`
	// Notices are what a reviewer must not miss: a supply-chain gate or
	// an admission policy that goes away, or an image an admission policy
	// now admits unsigned (gates.go).
	Notices []string `json:"notices,omitempty"`
	// unsignedAdded are the patterns an admission policy admits unsigned
	// that it did not (admission.go).
	unsignedAdded []string
}

func (c Change) object() string {
	if c.Namespace == "" {
		return c.APIKind + " " + c.Name
	}
	return c.APIKind + " " + c.Namespace + "/" + c.Name
}

type id struct{ apiVersion, kind, namespace, name string }

func idOf(o targets.Object) id { return id{o.APIVersion, o.Kind, o.Namespace, o.Name} }

// Compare returns the changes from old to new, sorted by unit, target,
// kind, namespace and name.
func Compare(old, new []targets.Object) ([]Change, error) {
	before := map[id]targets.Object{}
	for _, o := range old {
		before[idOf(o)] = o
	}
	var out []Change
	seen := map[id]bool{}
	for _, n := range new {
		k := idOf(n)
		seen[k] = true
		c := Change{Unit: unit(n), Target: n.Target, APIKind: n.Kind, Namespace: n.Namespace, Name: n.Name}
		o, ok := before[k]
		if !ok {
			c.Kind = Added
			out = append(out, c)
			continue
		}
		ov, err := render.Normalize(o.Value)
		if err != nil {
			return nil, err
		}
		nv, err := render.Normalize(n.Value)
		if err != nil {
			return nil, err
		}
		var fields []Field
		diff("", ov, nv, &fields)
		if len(fields) > 0 {
			c.Kind, c.Fields = Changed, fields
			if n.Kind == "ClusterPolicy" {
				c.unsignedAdded = unsignedAdded(ov, nv)
			}
			out = append(out, c)
		}
	}
	for _, o := range old {
		if !seen[idOf(o)] {
			out = append(out, Change{Kind: Removed, Unit: unit(o), Target: o.Target, APIKind: o.Kind, Namespace: o.Namespace, Name: o.Name})
		}
	}
	for i := range out {
		out[i].Notices = notices(out[i])
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Target, b.Target), cmp.Compare(a.APIKind, b.APIKind),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

func unit(o targets.Object) string { return cmp.Or(o.Dir, ".") }

// diff appends the differences between a and b under path.
func diff(path string, a, b any, out *[]Field) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			diff(join(path, k), av[k], bv[k], out)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		// Lists of named things (tasks, steps, params) are matched by
		// name, so an insertion shows as one added element.
		if an, bn := byName(av), byName(bv); an != nil && bn != nil {
			names := slices.Sorted(maps.Keys(an))
			for k := range bn {
				if _, ok := an[k]; !ok {
					names = append(names, k)
				}
			}
			slices.Sort(names)
			names = slices.Compact(names)
			for _, n := range names {
				diff(fmt.Sprintf("%s[name=%s]", path, n), an[n], bn[n], out)
			}
			return
		}
		if len(av) == len(bv) {
			for i := range av {
				diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], out)
			}
			return
		}
	}
	if a == nil && b == nil {
		return
	}
	ja, jb := jsonOf(a), jsonOf(b)
	if ja != jb {
		*out = append(*out, Field{Path: path, Old: ja, New: jb})
	}
}

// byName indexes a list whose elements are all objects with distinct
// names; nil otherwise.
func byName(l []any) map[string]any {
	if len(l) == 0 {
		return nil
	}
	m := map[string]any{}
	for _, e := range l {
		o, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := o["name"].(string)
		if !ok || m[n] != nil {
			return nil
		}
		m[n] = o
	}
	return m
}

func join(path, k string) string {
	if !isIdent(k) {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '-')) {
			return false
		}
	}
	return s != ""
}

func jsonOf(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Counts counts changes by kind.
func Counts(cs []Change) (added, removed, changed int) {
	for _, c := range cs {
		switch c.Kind {
		case Added:
			added++
		case Removed:
			removed++
		default:
			changed++
		}
	}
	return
}

// maxValue bounds a value printed in a diff; longer ones are cut.
const maxValue = 120

func short(s string) string {
	if s == "" {
		return "(none)"
	}
	if len(s) > maxValue {
		return s[:maxValue-3] + "..."
	}
	return s
}

// WriteText writes the changes as text, grouped by unit.
func WriteText(w io.Writer, cs []Change) error {
	unit := ""
	for _, c := range cs {
		if c.Unit != unit {
			unit = c.Unit
			fmt.Fprintf(w, "%s:\n", unit)
		}
		sign := map[Kind]string{Added: "+", Removed: "-", Changed: "~"}[c.Kind]
		fmt.Fprintf(w, "  %s %s (%s)\n", sign, c.object(), c.Target)
		for _, n := range c.Notices {
			fmt.Fprintf(w, "      ! %s\n", n)
		}
		for _, f := range c.Fields {
			fmt.Fprintf(w, "      %s: %s -> %s\n", f.Path, short(f.Old), short(f.New))
		}
	}
	a, r, ch := Counts(cs)
	_, err := fmt.Fprintf(w, "pipec: %d added, %d removed, %d changed\n", a, r, ch)
	if n := countNotices(cs); n > 0 && err == nil {
		_, err = fmt.Fprintf(w, "pipec: %d supply-chain notice(s) (!): a gate or an admission policy goes away or is weakened\n", n)
	}
	return err
}

func countNotices(cs []Change) int {
	n := 0
	for _, c := range cs {
		n += len(c.Notices)
	}
	return n
}

// WriteMarkdown writes the changes as Markdown for a pull-request comment.
func WriteMarkdown(w io.Writer, cs []Change) error {
	a, r, ch := Counts(cs)
	fmt.Fprintf(w, "### pipec: %d added, %d removed, %d changed\n", a, r, ch)
	if n := countNotices(cs); n > 0 {
		fmt.Fprintf(w, "\n:warning: **%d supply-chain notice(s)**: a gate or an admission policy goes away or is weakened.\n", n)
	}
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "\nNo change to the generated resources.")
		return err
	}
	unit := ""
	for _, c := range cs {
		if c.Unit != unit {
			unit = c.Unit
			fmt.Fprintf(w, "\n#### `%s`\n\n", unit)
		}
		verb := map[Kind]string{Added: "**added**", Removed: "**removed**", Changed: "changed"}[c.Kind]
		fmt.Fprintf(w, "- %s `%s` (%s)\n", verb, c.object(), c.Target)
		for _, n := range c.Notices {
			fmt.Fprintf(w, "  - :warning: **%s**\n", mdEscape(n))
		}
		for _, f := range c.Fields {
			fmt.Fprintf(w, "  - `%s`: `%s` → `%s`\n", f.Path, mdEscape(short(f.Old)), mdEscape(short(f.New)))
		}
	}
	return nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "`", "'") }
