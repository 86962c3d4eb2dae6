package compiler

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/schema"
)

// tree is the configuration unified with the schema, as decode reads it:
// its top-level fields, and the entries of its keyed sections (pipelines,
// apps and the like).
type tree interface {
	// field is the top-level field name.
	field(name string) node
	// entries calls fn for each entry of the keyed section, in name order.
	entries(section string, fn func(name string, n node))
}

// wholeTree is the configuration unified with #Config at once.
type wholeTree struct{ root node }

func (t wholeTree) field(name string) node { return t.root.field(name) }

func (t wholeTree) entries(section string, fn func(string, node)) {
	t.root.field(section).fields(fn)
}

// partTree unifies the configuration with #Config a part at a time, as
// decode reads it: each top-level field with its schema field, and each
// entry of a keyed section with the section's entry definition on its
// own. This is what keeps a build linear in the number of pipelines and
// apps: CUE's closedness checks of one big unified value cost more per
// field the more fields there are, and the unified value of a whole
// configuration is five times the size of the configuration's own (at
// 2,000 services, 490 MiB); one entry's is dropped once decoded.
//
// The result is the same as wholeTree's whenever that validates: the
// schema relates no part to another. When a part does not validate, or
// the configuration has a top-level field #Config does not, ok turns
// false and the caller builds with wholeTree instead, whose errors are the
// ones users see: this path never reports an error itself.
type partTree struct {
	user   cue.Value // the user's configuration, evaluated on its own
	schema cue.Value // #Config
	texts  *textLog
	ok     bool
	// twin, when set, loads the configuration and #Config again, in a CUE
	// context of their own, for a second CPU (see entriesTwin); eval is
	// held whenever another goroutine evaluates in user's context.
	twin func() (twin, error)
	eval *sync.Mutex
	// fields are the top-level fields already unified; sections, the
	// keyed sections whose entries were.
	fields   map[string]node
	sections map[string]bool
}

// decodeParts decodes the configuration user part by part (see partTree)
// and returns the plan, decode's findings and the unified policy field, or
// ok false when a part does not validate.
func decodeParts(t *partTree, src model.SourceMap) (plan *model.Plan, diags diag.List, policy cue.Value, ok bool) {
	// A part that did not validate may have been read before the next
	// one showed it: decode is written for valid values only, so a panic
	// here means the whole unification has the errors to report.
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	plan, diags = decodePlan(t, src)
	policy = t.field("policy").v
	return plan, diags, policy, t.done()
}

// newPartTree returns the part-wise tree of user, or ok false when a part
// cannot be taken on its own.
func newPartTree(user, schema cue.Value, texts *textLog) *partTree {
	t := &partTree{user: user, schema: schema, texts: texts, ok: user.Err() == nil, fields: map[string]node{}, sections: map[string]bool{}}
	if !t.ok {
		return t
	}
	// #Config is closed: a top-level field it does not have is an error
	// only the whole unification words well.
	it, err := user.Fields(cue.Optional(true))
	if err != nil {
		t.ok = false
		return t
	}
	for it.Next() {
		sel := it.Selector()
		if !sel.IsString() || sel.IsConstraint() || !schemaField(schema, sel.Unquoted()).Exists() {
			t.ok = false
			return t
		}
	}
	return t
}

// withTwin lets t unify large sections on two CPUs (entriesTwin): load
// loads the configuration again, in a CUE context of its own, the first
// time a section is large enough; eval is held while another goroutine
// evaluates in the configuration's context.
func (t *partTree) withTwin(eval *sync.Mutex, load func() (*loaded, error)) *partTree {
	t.eval = eval
	t.twin = sync.OnceValues(func() (twin, error) {
		l, err := load()
		if err != nil {
			return twin{}, err
		}
		return twin{l.user, l.schema.LookupPath(schema.RootPath)}, nil
	})
	return t
}

// twin is the configuration and #Config loaded again, in a CUE context of
// their own.
type twin struct{ user, schema cue.Value }

func (t *partTree) field(name string) node {
	if n, ok := t.fields[name]; ok {
		return n
	}
	// A field the configuration does not write is the schema's: its
	// defaults when the schema's field is regular, nothing when optional.
	p := cue.MakePath(cue.Str(name))
	v := t.schema.LookupPath(p)
	if u := t.user.LookupPath(p); u.Exists() {
		v = u.Unify(schemaField(t.schema, name))
	}
	if v.Exists() {
		t.validate(v, name)
	}
	n := node{v: v, path: model.Path("").Field(name), texts: t.texts}
	t.fields[name] = n
	return n
}

func (t *partTree) entries(section string, fn func(string, node)) {
	t.sections[section] = true
	sec := t.user.LookupPath(cue.MakePath(cue.Str(section)))
	if !sec.Exists() || !t.ok {
		return
	}
	// Optional and required entries the user left open are errors, or
	// nothing, only the whole unification settles.
	it, err := sec.Fields(cue.Optional(true))
	if err != nil {
		t.ok = false
		return
	}
	type entry struct {
		name string
		v    cue.Value
	}
	var all []entry
	for it.Next() {
		if !it.Selector().IsString() || it.Selector().IsConstraint() {
			t.ok = false
			return
		}
		all = append(all, entry{it.Selector().Unquoted(), it.Value()})
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.name, b.name) })
	def := t.schema.LookupPath(cue.MakePath(cue.Str(section), cue.AnyString))
	base := model.Path("").Field(section)
	if t.twin != nil && len(all) >= twinMin && runtime.GOMAXPROCS(0) > 1 {
		names := make([]string, len(all))
		vals := make([]cue.Value, len(all))
		for i, e := range all {
			names[i], vals[i] = e.name, e.v
		}
		t.entriesTwin(section, names, vals, def, func(i int, v cue.Value) {
			fn(names[i], node{v: v, path: base.Field(names[i]), texts: t.texts})
		})
		return
	}
	for _, e := range all {
		v := e.v.Unify(def)
		if t.validate(v, section); !t.ok {
			return
		}
		fn(e.name, node{v: v, path: base.Field(e.name), texts: t.texts})
	}
}

// twinMin is the fewest entries of a section for which entriesTwin is
// worth a second CUE context; twinChunk, how many entries a context unifies
// and validates before they are decoded. Tests lower them. The second
// context holds a second evaluation of the whole configuration: on the
// teams shape it costs a third more peak memory for 4 to 10% less time,
// which only large configurations, whose memory is furthest below four
// times cue export's, can spare (BenchmarkBuildTeams/services=1000).
var twinMin, twinChunk = 512, 16

// entriesTwin unifies and validates the entries of section on two CPUs,
// and decodes them in order. CUE evaluates one context on one goroutine at
// a time, so the configuration is loaded a second time into a context of
// its own (t.twin), on the second CPU: the entries are cut into chunks,
// and each context takes the next chunk when it is free. While one
// context's chunk is decoded (on the caller's goroutine, which alone runs
// fn), the other context unifies and validates the next; a context takes
// its next chunk only after its last one was decoded, so each context is
// used by one goroutine at a time and only two chunks' unified values are
// alive at once. The first context does not wait for the second to load
// (which costs what loading the configuration cost): it goes on alone
// until the second joins, and alone to the end if that load fails. The
// entries and their values are the same in both contexts: the same files,
// the same schema. If a part does not validate or a panic stops a chunk,
// ok turns false and the caller decodes the whole unification instead,
// as it does for any part that does not validate.
func (t *partTree) entriesTwin(section string, names []string, vals []cue.Value, def cue.Value, decode func(i int, v cue.Value)) {
	type result struct {
		vals []cue.Value
		ok   bool
		ctx  int // which context unified them
	}
	chunks := (len(names) + twinChunk - 1) / twinChunk
	done := make([]chan result, chunks)
	for k := range done {
		done[k] = make(chan result, 1)
	}
	var next atomic.Int64 // the next chunk to take
	// turn[c] hands context c back to its worker once its chunk is decoded.
	turn := [2]chan bool{make(chan bool, 1), make(chan bool, 1)}
	var stop atomic.Bool
	var wg sync.WaitGroup
	work := func(c int, entry func(i int) cue.Value, lock *sync.Mutex) {
		defer wg.Done()
		for {
			k := int(next.Add(1) - 1)
			if k >= chunks {
				return
			}
			r := result{ok: !stop.Load(), ctx: c}
			for i := k * twinChunk; r.ok && !stop.Load() && i < min((k+1)*twinChunk, len(names)); i++ {
				func() {
					defer func() {
						if recover() != nil {
							r.ok = false
						}
					}()
					if lock != nil {
						lock.Lock()
						defer lock.Unlock()
					}
					v := entry(i)
					if validateField(section, v) != nil {
						r.ok = false
						return
					}
					r.vals = append(r.vals, v)
				}()
			}
			r.ok = r.ok && len(r.vals) == min((k+1)*twinChunk, len(names))-k*twinChunk
			done[k] <- r
			if !<-turn[c] {
				return
			}
		}
	}
	wg.Add(2)
	go work(0, func(i int) cue.Value { return vals[i].Unify(def) }, t.eval)
	go func() {
		var user, def cue.Value
		loaded := func() (ok bool) {
			defer func() {
				if recover() != nil {
					ok = false
				}
			}()
			tw, err := t.twin()
			if err != nil {
				return false
			}
			user, def = tw.user, tw.schema.LookupPath(cue.MakePath(cue.Str(section), cue.AnyString))
			return true
		}()
		if !loaded || stop.Load() {
			wg.Done() // the first context takes every chunk
			return
		}
		sec := cue.MakePath(cue.Str(section))
		work(1, func(i int) cue.Value {
			return user.LookupPath(sec.Append(cue.Str(names[i]))).Unify(def)
		}, nil)
	}()
	defer func() {
		stop.Store(true)
		close(turn[0])
		close(turn[1])
		wg.Wait()
	}()
	for k := range chunks {
		r := <-done[k]
		if !r.ok {
			t.ok = false
			return
		}
		for j, v := range r.vals {
			decode(k*twinChunk+j, v)
		}
		turn[r.ctx] <- true
	}
}

// done validates the top-level fields the configuration writes and decode
// did not read, and reports whether every part validated.
func (t *partTree) done() bool {
	it, err := t.user.Fields()
	if err != nil {
		return false
	}
	for t.ok && it.Next() {
		name := it.Selector().Unquoted()
		if _, read := t.fields[name]; !read && !t.sections[name] {
			t.field(name)
		}
	}
	return t.ok
}

// validate turns ok false unless the top-level field name, or an entry of
// it, is valid as validateConcrete wants it.
func (t *partTree) validate(v cue.Value, name string) {
	if t.ok && validateField(name, v) != nil {
		t.ok = false
	}
}

// schemaField is #Config's field name, regular or optional.
func schemaField(schema cue.Value, name string) cue.Value {
	if v := schema.LookupPath(cue.MakePath(cue.Str(name))); v.Exists() {
		return v
	}
	return schema.LookupPath(cue.MakePath(cue.Str(name).Optional()))
}
