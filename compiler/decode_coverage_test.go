package compiler

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/pipec/pipec/schema"
)

// notDecoded are the schema fields decode does not read, each with where
// it is read instead. The test fails on an entry that is not in the schema
// or that decode reads, so that the list cannot go stale.
var notDecoded = map[string]string{
	// The schema allows one type for the properties of an object param or
	// result, "string"; decode keeps only the property names, and
	// paramSpecs and taskSpec in targets/tekton/tekton.go write that type
	// for every property.
	"tasks.*.params.*.properties.*.type":                         "targets/tekton paramSpecs",
	"pipelines.*.params.*.properties.*.type":                     "targets/tekton paramSpecs",
	"tasks.*.results.*.properties.*.type":                        "targets/tekton taskSpec",
	"pipelines.*.tasks.*.results.*.properties.*.type":            "targets/tekton taskSpec",
	"pipelines.*.finally.*.results.*.properties.*.type":          "targets/tekton taskSpec",
	"tasks.*.steps.[].results.*.properties.*.type":               "targets/tekton step",
	"pipelines.*.tasks.*.steps.[].results.*.properties.*.type":   "targets/tekton step",
	"pipelines.*.finally.*.steps.[].results.*.properties.*.type": "targets/tekton step",
}

// TestDecodeCoverage fails when a field of the schema is never read by
// decode, which would silently ignore what the user wrote, and when decode
// reads a field the schema does not have, which is a misspelt name.
func TestDecodeCoverage(t *testing.T) {
	// The examples show real use; the test configurations set the
	// optional fields and the alternatives the examples leave out.
	reads := newReadLog()
	for _, parent := range []string{"../examples", "testdata/decode"} {
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				decodeWithReads(t, filepath.Join(parent, e.Name()), reads)
			}
		}
	}
	fields := schemaPaths(t)
	seen := slices.Collect(maps.Keys(reads.seen))

	var unread, unknown, stale []string
	for _, f := range fields {
		read := slices.ContainsFunc(seen, func(r string) bool { return patternsMatch(f, r) })
		if _, ok := notDecoded[f]; ok {
			if read {
				stale = append(stale, f+" (decode reads it)")
			}
			continue
		}
		if !read {
			unread = append(unread, f)
		}
	}
	for _, r := range seen {
		if !slices.ContainsFunc(fields, func(f string) bool { return patternsMatch(f, r) }) {
			unknown = append(unknown, r)
		}
	}
	for f := range notDecoded {
		if !slices.Contains(fields, f) {
			stale = append(stale, f+" (not in the schema)")
		}
	}
	for _, l := range []struct {
		what  string
		paths []string
	}{
		{"schema fields decode never reads (decode them, or add them to notDecoded with where they are read)", unread},
		{"fields decode reads that the schema does not have (misspelt names?)", unknown},
		{"notDecoded entries to remove", stale},
	} {
		if len(l.paths) > 0 {
			slices.Sort(l.paths)
			t.Errorf("%s:\n\t%s", l.what, strings.Join(l.paths, "\n\t"))
		}
	}
}

// decodeWithReads decodes the configuration in dir as Build does, with
// reads attached.
func decodeWithReads(t *testing.T, dir string, reads *readLog) {
	t.Helper()
	l, err := loadConfig(dir, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	x := newExplainer(l, "")
	unified := l.user.Unify(x.root)
	if err := validateConcrete(unified); err != nil {
		t.Fatalf("%s: %v", dir, x.explain(err))
	}
	src, _ := userSources(x)
	decodePlan(wholeTree{node{v: unified, reads: reads}}, src)
}

// patternsMatch reports whether two pattern paths name the same field. A
// "*" matches any name: a map's entries are fields of any name, and
// decode reading every field of a struct reads its named ones.
func patternsMatch(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] && (as[i] == "[]" || bs[i] == "[]" || as[i] != "*" && bs[i] != "*") {
			return false
		}
	}
	return true
}

// schemaPaths returns the pattern paths of every field of #Config, read
// from the schema's source: regular, optional and required fields by
// name, `[string]: T` as "*", list elements as "[]", each disjunct and
// each side of a unification, and definitions where they are referred to.
func schemaPaths(t *testing.T) []string {
	t.Helper()
	w := walkSchema(t)
	return slices.Sorted(maps.Keys(w.paths))
}

// schemaRefs returns, for a definition, the pattern paths of the fields
// of #Config whose value refers to it (#Duration, say), directly or in a
// disjunction or unification.
func schemaRefs(t *testing.T, def string) []string {
	t.Helper()
	w := walkSchema(t)
	var out []string
	for p, defs := range w.refs {
		if defs[def] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// walkSchema walks #Config in the schema's source.
func walkSchema(t *testing.T) *schemaWalk {
	t.Helper()
	defs := map[string]ast.Expr{}
	names, err := fs.Glob(schema.FS, "*.cue")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(schema.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(name, data, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.Field); ok {
				if id, ok := fd.Label.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
					defs[id.Name] = fd.Value
				}
			}
		}
	}
	w := &schemaWalk{t: t, defs: defs, paths: map[string]bool{}, refs: map[string]map[string]bool{}, expanding: map[string]bool{}}
	w.expr(defs[schema.Root], nil)
	if len(w.paths) == 0 {
		t.Fatalf("found no fields under %s", schema.Root)
	}
	return w
}

type schemaWalk struct {
	t     *testing.T
	defs  map[string]ast.Expr
	paths map[string]bool
	// refs are the definitions each path's value refers to.
	refs map[string]map[string]bool
	// expanding are the definitions being walked, to stop at a
	// definition that refers to itself, whose paths would never end.
	expanding map[string]bool
}

// expr adds the fields of the value e at path p.
func (w *schemaWalk) expr(e ast.Expr, p []string) {
	switch e := e.(type) {
	case *ast.StructLit:
		for _, d := range e.Elts {
			w.decl(d, p)
		}
	case *ast.ListLit:
		for _, el := range e.Elts {
			if ell, ok := el.(*ast.Ellipsis); ok {
				if ell.Type != nil {
					w.field(ell.Type, p, "[]")
				}
				continue
			}
			w.field(el, p, "[]")
		}
	case *ast.BinaryExpr:
		if e.Op != token.AND && e.Op != token.OR {
			w.unsupported(e)
		}
		w.expr(e.X, p)
		w.expr(e.Y, p)
	case *ast.UnaryExpr:
		// A default (*x) is a value like the others; bounds (>=0, =~re)
		// have no fields.
		if e.Op == token.MUL {
			w.expr(e.X, p)
		}
	case *ast.ParenExpr:
		w.expr(e.X, p)
	case *ast.Ident:
		if !strings.HasPrefix(e.Name, "#") {
			return // a type such as string, or _
		}
		key := strings.Join(p, ".")
		if w.refs[key] == nil {
			w.refs[key] = map[string]bool{}
		}
		w.refs[key][e.Name] = true
		def, ok := w.defs[e.Name]
		if !ok {
			w.t.Fatalf("%s: unknown definition %s", e.Pos(), e.Name)
		}
		if w.expanding[e.Name] {
			return
		}
		w.expanding[e.Name] = true
		w.expr(def, p)
		delete(w.expanding, e.Name)
	case *ast.BasicLit, *ast.BottomLit:
	case *ast.SelectorExpr:
		// A validator from CUE's standard library (time.Duration): a
		// constraint on a value, with no fields.
	default:
		w.unsupported(e)
	}
}

// decl adds the fields a declaration of a struct at p declares.
func (w *schemaWalk) decl(d ast.Decl, p []string) {
	switch d := d.(type) {
	case *ast.Field:
		switch l := d.Label.(type) {
		case *ast.Ident:
			if !strings.HasPrefix(l.Name, "#") && !strings.HasPrefix(l.Name, "_") {
				w.field(d.Value, p, l.Name)
			}
		case *ast.BasicLit:
			name, err := literal.Unquote(l.Value)
			if err != nil {
				w.t.Fatalf("%s: %v", l.Pos(), err)
			}
			w.field(d.Value, p, name)
		case *ast.ListLit:
			w.field(d.Value, p, "*")
		default:
			w.unsupported(l)
		}
	case *ast.EmbedDecl:
		w.expr(d.Expr, p)
	case *ast.Attribute, *ast.CommentGroup:
	default:
		w.unsupported(d)
	}
}

// field adds the field seg of p, with value e, and its own fields.
func (w *schemaWalk) field(e ast.Expr, p []string, seg string) {
	fp := append(slices.Clip(p), seg)
	w.paths[strings.Join(fp, ".")] = true
	w.expr(e, fp)
}

// unsupported stops the test at schema syntax the walk does not know,
// which might declare fields it would miss.
func (w *schemaWalk) unsupported(n ast.Node) {
	w.t.Helper()
	w.t.Fatalf("%s: the decode coverage test cannot walk %T in the schema; extend schemaWalk", n.Pos(), n)
}
