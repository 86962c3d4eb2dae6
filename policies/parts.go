package policies

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue"
)

// part is a few checks of a pack evaluated together, over the part of
// the input they read.
type part struct {
	checks []*Check
	// reads is what they read together; nil: all of the input.
	reads reads
	// items is the list a part of one check reads one item at a time
	// (checkReads), "" for other parts. Such a part may be split into
	// runs of the list's items, each a part holding the items from
	// (inclusive) to (exclusive); to is 0 for all of them.
	items    string
	from, to int
}

// parts are the checks of a pack, each over what it reads, and those
// that read all of the input together.
func (p *Pack) parts(byCheck map[string]checkReads) []part {
	var all []*Check
	var out []part
	for _, c := range p.Checks {
		if r := byCheck[c.Name]; r.reads != nil {
			out = append(out, part{checks: []*Check{c}, reads: r.reads, items: r.items})
		} else {
			all = append(all, c)
		}
	}
	if len(all) > 0 {
		out = append(out, part{checks: all})
	}
	return out
}

// minBatch is the size, in values, below which parts are evaluated
// together: some 20 MiB of CUE. Tests set it to -1 to evaluate each part
// on its own; runItems to split every part that can be split into runs
// of that many items.
var (
	minBatch = 50_000
	runItems = 0
)

// batches puts the parts together into as few batches as it can, none
// reading more of in than minBatch values or the largest part that cannot
// be split (first fit, largest first); a larger part that can be split
// is split into runs of items, each a batch of its own. A pack is
// evaluated as a whole, every check in it, so a batch is the unit of
// work; a batch's input is in CUE only while it is evaluated (Run: one per
// CPU).
func (in *Input) batches(parts []part) []part {
	all := in.sizes()
	sizes := make([]int, len(parts))
	fixed := make([]int, len(parts)) // what a run of items reads but its items
	order := make([]int, len(parts))
	for i, g := range parts {
		sizes[i], order[i] = size(all, g.reads), i
		fixed[i] = sizes[i]
		if g.items != "" {
			fixed[i] -= size(all, reads{g.items: g.reads[g.items]})
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return sizes[b] - sizes[a] })
	limit := minBatch
	if limit >= 0 {
		limit = max(limit, slices.Max(append(fixed, 0)))
	}
	var out []part
	for _, i := range order {
		g := parts[i]
		if runs := in.runs(g, sizes[i], fixed[i], limit); runs != nil {
			out = append(out, runs...)
			continue
		}
		j := -1
		if g.reads != nil {
			j = slices.IndexFunc(out, func(b part) bool {
				return b.reads != nil && b.items == "" && size(all, union(b.reads, g.reads)) <= limit
			})
		}
		if j < 0 {
			out = append(out, part{reads: g.reads})
			j = len(out) - 1
		} else {
			out[j].reads = union(out[j].reads, g.reads)
		}
		out[j].checks = append(out[j].checks, g.checks...)
	}
	return out
}

// runs splits g, of size values of which fixed are not its items, into
// runs of its items of about the same size, none larger than limit (of
// runItems items, when set); nil when it is not split.
func (in *Input) runs(g part, size, fixed, limit int) []part {
	if g.items == "" {
		return nil
	}
	n := in.items(g.items)
	if n == 0 {
		return nil // empty, or not a list: nothing to split
	}
	per := runItems
	if per <= 0 {
		if limit < 0 || size <= limit {
			return nil
		}
		// As many items as fit in the items' share of the limit (half
		// of it at least, when what else the check reads comes close to
		// it), then as many in each run as the number of runs needs.
		per = max(1, max(limit-fixed, limit/2)*n/max(size-fixed, 1))
		k := (n + per - 1) / per
		per = (n + k - 1) / k
	}
	if n <= per {
		return nil
	}
	var out []part
	for from := 0; from < n; from += per {
		r := g
		r.from, r.to = from, min(from+per, n)
		out = append(out, r)
	}
	return out
}

// items is the number of items of the list l of in.
func (in *Input) items(l string) int {
	v := reflect.ValueOf(in).Elem()
	if i, ok := jsonFields(v.Type())[l]; ok {
		if f := v.FieldByIndex(i); f.Kind() == reflect.Slice {
			return f.Len()
		}
	}
	return 0
}

// union is what a and b read together.
func union(a, b reads) reads {
	if a == nil || b == nil {
		return nil
	}
	out := reads{}
	for l, fs := range a {
		out.add(l, fs)
	}
	for l, fs := range b {
		out.add(l, fs)
	}
	return out
}

// sizes estimates the number of values each field of in takes in CUE,
// by list and item field ("" for a field that is not a list of items):
// the field in each item, and the items of its lists.
func (in *Input) sizes() map[string]map[string]int {
	v := reflect.ValueOf(in).Elem()
	out := map[string]map[string]int{}
	for name, i := range jsonFields(v.Type()) {
		f := v.FieldByIndex(i)
		counts := map[string]int{}
		out[name] = counts
		if f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Struct {
			counts[""] = 1
			continue
		}
		idx := jsonFields(f.Type().Elem())
		for field, j := range idx {
			n := f.Len()
			if ft := f.Type().Elem().FieldByIndex(j).Type; ft.Kind() == reflect.Slice {
				w := 1
				if t := ft.Elem(); t.Kind() == reflect.Struct {
					w = len(jsonFields(t))
				}
				for k := range f.Len() {
					n += f.Index(k).FieldByIndex(j).Len() * w
				}
			}
			counts[field] = n
		}
	}
	return out
}

// size is the number of values of the part of in that r reads, by sizes.
func size(sizes map[string]map[string]int, r reads) int {
	n := 0
	for l, counts := range sizes {
		fs, ok := r[l]
		if !ok && r != nil {
			continue
		}
		for f, c := range counts {
			if fs == nil || fs[f] || f == "" {
				n += c
			}
		}
	}
	return n
}

// encodePart encodes the part of in that g reads (all of it when it
// reads everything), as Encode encodes all of it: the same fields, absent
// where nil; of the list g.items, the run of items g holds.
func (in *Input) encodePart(ctx *cue.Context, g part) (cue.Value, error) {
	r := g.reads
	if _, ok := r["objects"]; ok || r == nil {
		if err := in.loadObjects(); err != nil {
			return cue.Value{}, err
		}
	}
	if r == nil {
		return ctx.Encode(in), nil
	}
	v := reflect.ValueOf(in).Elem()
	m := map[string]any{}
	for _, l := range slices.Sorted(maps.Keys(r)) {
		i, ok := jsonFields(v.Type())[l]
		if !ok {
			continue // not in the input: the check finds it missing
		}
		f := v.FieldByIndex(i)
		if isNil(f) {
			continue
		}
		if l == g.items && g.to > 0 && f.Kind() == reflect.Slice {
			f = f.Slice(g.from, g.to)
		}
		fs := r[l]
		if fs == nil || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Struct {
			m[l] = f.Interface()
			continue
		}
		items := make([]map[string]any, f.Len())
		idx := jsonFields(f.Type().Elem())
		for k := range items {
			item := f.Index(k)
			im := make(map[string]any, len(fs))
			for name := range fs {
				j, ok := idx[name]
				if !ok {
					continue
				}
				if x := item.FieldByIndex(j); !isNil(x) {
					im[name] = x.Interface()
				}
			}
			items[k] = im
		}
		m[l] = items
	}
	return ctx.Encode(m), nil
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// jsonFields indexes a struct type's fields by JSON name, those of its
// embedded structs included, as encoding/json and CUE's Encode see them.
func jsonFields(t reflect.Type) map[string][]int {
	if m, ok := fieldIndex.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Index
	}
	fieldIndex.Store(t, m)
	return m
}

var fieldIndex sync.Map
