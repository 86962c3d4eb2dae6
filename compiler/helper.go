package compiler

import (
	"cmp"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/panics"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/schema"
)

// A CUE context is not safe for concurrent use, and unifying the entries
// of the large sections (pipelines, apps) with their schema is most of a
// large build's check stage. A helper is a second CUE context holding the
// same configuration: the build's goroutine and the helper's take the
// entries of a section from a shared counter, each unifying and decoding
// in its own context, and the results are put back in name order, as
// decoded one after the other. Loading twice costs the load's CPU and
// memory a second time (at 1,000 services about 0.5 s and 50 MiB, on a CPU
// the load leaves idle, and dropped with the part tree). The helper loads
// beside the build's own load when the configuration's CUE is large
// (helperMinBytes), else after it when the configuration turns out to
// have many entries (helperMinEntries), and not at all for a small one: a
// build never returns before its helper's load has.
type helper struct {
	ready chan struct{} // closed once loaded
	// ok, user and schema (#Config) are set before ready is closed.
	ok     bool
	user   cue.Value
	schema cue.Value
	// only, set by tests, has the helper take every entry it can: the
	// build's goroutine takes only those left when the helper stops.
	only bool
	// decoded counts the entries the helper decoded.
	decoded atomic.Int64
}

// helperMinEntries is the number of entries of the shared sections from
// which a second context pays for its load; helperMinBytes, the size of
// the configuration's CUE files from which it is loaded beside the build's
// own load, before the entries are known (a tenth of the teams shape's
// 1,000 services; the bundled examples are below it).
const (
	helperMinEntries = 64
	helperMinBytes   = 64 << 10
)

// sharedSections are the keyed sections whose entries decodeEntries
// shares with a helper.
var sharedSections = []string{"tasks", "pipelines", "environments", "teams", "apps", "previews"}

// startHelper starts loading the configuration a second time, in the
// background, when there is a CPU for it and its CUE files are large; nil
// otherwise (neededBy may load it later).
func startHelper(cpus int, dir string, overlay map[string][]byte, env []string) *helper {
	if cpus < 2 || cueBytes(dir, overlay) < helperMinBytes {
		return nil
	}
	return loadHelper(dir, overlay, env)
}

// cueBytes is the size of the CUE files of the package directory dir.
func cueBytes(dir string, overlay map[string][]byte) int64 {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0
	}
	var n int64
	seen := map[string]bool{}
	for name, data := range overlay {
		if filepath.Dir(name) == abs && filepath.Ext(name) == ".cue" {
			n += int64(len(data))
			seen[filepath.Base(name)] = true
		}
	}
	entries, _ := os.ReadDir(abs)
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".cue" || seen[e.Name()] {
			continue
		}
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// loadHelper loads the configuration into a helper, in the background. It
// reads a copy of overlay, which stays the caller's.
func loadHelper(dir string, overlay map[string][]byte, env []string) *helper {
	h := &helper{ready: make(chan struct{})}
	overlay = maps.Clone(overlay)
	go func() {
		defer close(h.ready)
		defer func() {
			if recover() != nil {
				h.ok = false
			}
		}()
		l, err := loadConfig(dir, overlay, env)
		if err != nil || l.user.Err() != nil {
			return
		}
		h.user, h.schema, h.ok = l.user, l.schema.LookupPath(schema.RootPath), true
	}()
	return h
}

// neededBy returns the helper for user, the build's own configuration,
// when it has enough entries in the shared sections to pay for one: h, or
// one it starts loading now (see helper). Otherwise nil, once h (when
// not nil) has loaded.
func (h *helper) neededBy(cpus int, user cue.Value, dir string, overlay map[string][]byte, env []string) *helper {
	n := 0
	if cpus > 1 && user.Err() == nil {
		for _, s := range sharedSections {
			it, err := user.LookupPath(cue.MakePath(cue.Str(s))).Fields(cue.Optional(true))
			for err == nil && it.Next() {
				n++
			}
		}
	}
	switch {
	case n < helperMinEntries:
		h.wait()
		return nil
	case h == nil:
		return loadHelper(dir, overlay, env)
	}
	return h
}

// wait returns once h, when not nil, has loaded.
func (h *helper) wait() {
	if h != nil {
		<-h.ready
	}
}

// entry is an entry of a keyed section, before unification.
type entry struct {
	name string
	v    cue.Value
}

// sectionEntries returns the entries of section of user in name order, and
// false when one cannot be taken on its own (see partTree.entries).
func sectionEntries(user cue.Value, section string) ([]entry, bool) {
	sec := user.LookupPath(cue.MakePath(cue.Str(section)))
	if !sec.Exists() {
		return nil, true
	}
	// Optional and required entries the user left open are errors, or
	// nothing, only the whole unification settles.
	it, err := sec.Fields(cue.Optional(true))
	if err != nil {
		return nil, false
	}
	var all []entry
	for it.Next() {
		if !it.Selector().IsString() || it.Selector().IsConstraint() {
			return nil, false
		}
		all = append(all, entry{it.Selector().Unquoted(), it.Value()})
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.name, b.name) })
	return all, true
}

// decodeEntries decodes each entry of the keyed section with decode and
// returns the results in name order; with a helper, on two CUE contexts
// at once (see helper). decode gets a decoder of its own for each entry;
// its findings and sync overrides go to d in name order, as when the
// entries are decoded one after the other.
func decodeEntries[T any](t tree, d *decoder, section string, decode func(d *decoder, name string, n node) T) []T {
	var out []T
	pt, ok := t.(*partTree)
	if !ok || pt.helper == nil {
		t.entries(section, func(name string, n node) { out = append(out, decode(d, name, n)) })
		return out
	}
	pt.sections[section] = true
	if !pt.ok {
		return nil
	}
	all, ok := sectionEntries(pt.user, section)
	if !ok {
		pt.ok = false
		return nil
	}
	if len(all) == 0 {
		return nil
	}
	def := pt.schema.LookupPath(cue.MakePath(cue.Str(section), cue.AnyString))
	base := model.Path("").Field(section)

	type result struct {
		v     T
		d     *decoder
		texts *textLog
		// main: decode needs the build's own context (a finding's
		// position is looked up there); the entry is decoded again there.
		main bool
	}
	results := make([]result, len(all))
	var next atomic.Int64
	var failed atomic.Bool
	h := pt.helper
	// decodeOne decodes the entry name, unified as v, with a decoder of
	// its own.
	decodeOne := func(name string, v cue.Value, helper bool) result {
		r := result{d: d.forEntry(helper)}
		if pt.texts != nil {
			r.texts = &textLog{}
		}
		r.v = decode(r.d, name, node{v: v, path: base.Field(name), texts: r.texts})
		r.main = r.d.needsMain
		return r
	}
	// one unifies and decodes entries of ents in def's context until none
	// is left or one fails.
	one := func(ents []entry, def cue.Value, helper bool) {
		for !failed.Load() {
			i := int(next.Add(1) - 1)
			if i >= len(ents) {
				return
			}
			e := ents[i]
			v := e.v.Unify(def)
			if validateField(section, v) != nil {
				failed.Store(true)
				return
			}
			results[i] = decodeOne(e.name, v, helper)
			if helper {
				h.decoded.Add(1)
			}
		}
	}

	// The helper joins once loaded, unless the section is done by then.
	var mu sync.Mutex
	done := false
	var joined sync.WaitGroup
	helperDone := make(chan struct{})
	go func() {
		defer close(helperDone)
		<-h.ready
		mu.Lock()
		if done || !h.ok {
			mu.Unlock()
			return
		}
		joined.Add(1)
		mu.Unlock()
		defer joined.Done()
		// decode is written for valid values only; a panic means the
		// whole unification has the errors to report.
		defer func() {
			if recover() != nil {
				failed.Store(true)
			}
		}()
		ents, ok := sectionEntries(h.user, section)
		if !ok || !sameNames(ents, all) {
			return
		}
		one(ents, h.schema.LookupPath(cue.MakePath(cue.Str(section), cue.AnyString)), true)
	}()
	func() {
		// Stop the helper before a panic goes on to decodeParts.
		defer func() {
			if r := panics.Recover(recover()); r != nil {
				failed.Store(true)
				mu.Lock()
				done = true
				mu.Unlock()
				joined.Wait()
				panic(r)
			}
		}()
		if h.only {
			<-helperDone
		}
		one(all, def, false)
	}()
	mu.Lock()
	done = true
	mu.Unlock()
	joined.Wait()
	if failed.Load() {
		pt.ok = false
		return nil
	}
	out = make([]T, len(all))
	for i, r := range results {
		if r.main {
			r = decodeOne(all[i].name, all[i].v.Unify(def), false)
		}
		out[i] = r.v
		d.diags = append(d.diags, r.d.diags...)
		maps.Copy(d.syncOverrides, r.d.syncOverrides)
		if r.texts != nil {
			pt.texts.all = append(pt.texts.all, r.texts.all...)
		}
	}
	return out
}

// sameNames reports whether a and b name the same entries.
func sameNames(a, b []entry) bool {
	return slices.EqualFunc(a, b, func(x, y entry) bool { return x.name == y.name })
}

// forEntry returns a decoder for one entry of a section: d's defaults and
// sources, findings and sync overrides of its own. In a helper's context
// it reports no finding (their positions are looked up in the build's
// context) but sets needsMain.
func (d *decoder) forEntry(helper bool) *decoder {
	return &decoder{defaults: d.defaults, src: d.src, syncOverrides: map[*model.Deployment][3]*bool{}, inHelper: helper}
}

// report is diag.List.Report on d's findings; in a helper's context it
// only sets needsMain and returns a finding that goes nowhere.
func (d *decoder) report(r diag.Rule, at model.Path, format string, args ...any) *diag.Diagnostic {
	if d.inHelper {
		d.needsMain = true
		return &diag.Diagnostic{}
	}
	return d.diags.Report(r, d.src, at, format, args...)
}
