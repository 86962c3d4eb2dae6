package compiler

import (
	"cuelang.org/go/cue"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
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
	// fields are the top-level fields already unified; sections, the
	// keyed sections whose entries were.
	fields   map[string]node
	sections map[string]bool
	// helper, when set, shares the entries of the large sections
	// (decodeEntries).
	helper *helper
}

// decodeParts decodes the configuration user part by part (see partTree)
// and returns the plan, decode's findings and the unified policy field, or
// ok false when a part does not validate.
func decodeParts(user, schema cue.Value, texts *textLog, src model.SourceMap, h *helper) (plan *model.Plan, diags diag.List, policy cue.Value, ok bool) {
	// A part that did not validate may have been read before the next
	// one showed it: decode is written for valid values only, so a panic
	// here means the whole unification has the errors to report.
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	t := newPartTree(user, schema, texts)
	t.helper = h
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
	if !t.ok {
		return
	}
	all, ok := sectionEntries(t.user, section)
	if !ok {
		t.ok = false
		return
	}
	def := t.schema.LookupPath(cue.MakePath(cue.Str(section), cue.AnyString))
	base := model.Path("").Field(section)
	for _, e := range all {
		v := e.v.Unify(def)
		if t.validate(v, section); !t.ok {
			return
		}
		fn(e.name, node{v: v, path: base.Field(e.name), texts: t.texts})
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
