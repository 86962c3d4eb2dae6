package policies

import (
	"slices"

	"cuelang.org/go/cue/ast"
)

// What a check reads of the input, found in its CUE source, so that a
// pack can be evaluated over the parts of the input its checks read,
// a few checks at a time, rather than over all of it at once: encoded in
// CUE, the input takes 13 times its size in JSON, the largest part of a
// large build's memory.
//
// The analysis is conservative: where it cannot tell, a check reads all
// of the input. It follows every identifier of the check to what it
// names (a field, a let, an alias), through any number of helpers, and
// reads input only through `input.<list>`: a comprehension over a list
// reads the fields its variable is selected by (`for s in input.steps if
// s.privileged`), and any other use of the list or of an element (passed
// whole, indexed, unified) reads all of the list. A reference to input
// itself, to what holds it (the pack), to `self`, or to a name the
// package's files do not declare reads everything; a name declared more
// than once is all of its declarations.

// reads is what a check reads: nil reads everything, else the input's
// fields by JSON name, each with the item fields read (nil: all of them).
type reads map[string]fieldSet

// checkReads is what a check reads and, when it reads a list one item at
// a time, that list: its violations are a single comprehension over
// `input.<list>` (`violations: [for s in input.steps ...]`, no index)
// and nothing else of the check reads that list, nor refers to what holds
// the comprehension. Its violations over the whole list are then its
// violations over consecutive runs of the list's items, one after the
// other, whatever else of the input it reads.
type checkReads struct {
	reads reads
	items string
}

// fieldSet is a set of field names; nil stands for all fields.
type fieldSet map[string]bool

// add reads the fields fs of list l.
func (r reads) add(l string, fs fieldSet) {
	old, ok := r[l]
	switch {
	case !ok:
		r[l] = fs.clone()
	case old == nil:
	case fs == nil:
		r[l] = nil
	default:
		for f := range fs {
			old[f] = true
		}
	}
}

func (fs fieldSet) clone() fieldSet {
	if fs == nil {
		return nil
	}
	out := make(fieldSet, len(fs))
	for f := range fs {
		out[f] = true
	}
	return out
}

// packReads finds what each check of a pack reads, in the files of the
// pack's package, which must declare the pack in a single struct
// (`pack: {input: _, checks: {<name>: {...}}}`). It returns nil, reading
// everything, for any other shape.
func packReads(files []*ast.File) map[string]checkReads {
	var packs []*ast.Field
	for _, f := range files {
		for _, d := range f.Decls {
			switch x := d.(type) {
			case *ast.Package, *ast.ImportDecl:
			case *ast.Field:
				if labelName(x.Label) == "pack" {
					packs = append(packs, x)
				}
			default:
				if !plain([]ast.Decl{d}) {
					return nil // an embedding or a comprehension may add to the pack
				}
			}
		}
	}
	if len(packs) != 1 {
		return nil
	}
	body, ok := packs[0].Value.(*ast.StructLit)
	if !ok {
		return nil
	}
	var input ast.Node
	var checks *ast.StructLit
	if !plain(body.Elts) {
		return nil // an embedding, a comprehension or a pattern may add to checks or input
	}
	for _, d := range body.Elts {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		switch labelName(fd.Label) {
		case "input":
			if id, ok := fd.Value.(*ast.Ident); input != nil || !ok || id.Name != "_" {
				return nil // declared twice, or with a type whose defaults a part would see
			}
			input = fd.Value
		case "checks":
			if checks != nil {
				return nil
			}
			if checks, ok = fd.Value.(*ast.StructLit); !ok {
				return nil
			}
		}
	}
	if input == nil || checks == nil {
		return nil
	}
	a := &analysis{input: input, files: files, binders: map[*ast.Ident]fieldSet{}}
	for _, f := range files {
		a.bind(f)
	}
	out := map[string]checkReads{}
	for _, d := range checks.Elts {
		fd, ok := d.(*ast.Field)
		name := ""
		if ok {
			name = labelName(fd.Label)
		}
		if name == "" {
			return nil // a comprehension, an embedding or a computed name
		}
		if _, dup := out[name]; dup {
			return nil
		}
		out[name] = checkReads{reads: a.check(fd.Value, nil), items: a.itemwise(fd.Value)}
	}
	return out
}

// itemwise is the list the check whose value is v reads one item at a
// time (see checkReads), or "".
func (a *analysis) itemwise(v ast.Node) string {
	st, ok := v.(*ast.StructLit)
	if !ok || !plain(st.Elts) {
		return ""
	}
	var violations *ast.Field
	for _, d := range st.Elts {
		if fd, ok := d.(*ast.Field); ok && labelName(fd.Label) == "violations" {
			if violations != nil {
				return "" // declared twice
			}
			violations = fd
		}
	}
	if violations == nil {
		return ""
	}
	list, ok := violations.Value.(*ast.ListLit)
	if !ok || len(list.Elts) != 1 {
		return ""
	}
	comp, ok := list.Elts[0].(*ast.Comprehension)
	if !ok {
		return ""
	}
	outer, ok := comp.Clauses[0].(*ast.ForClause)
	if !ok || outer.Key != nil {
		return "" // an index counts from the start of the whole list
	}
	l := a.listOf(outer.Source)
	if l == "" {
		return ""
	}
	// What the check reads but through the outer clause.
	if r := a.check(v, outer); r == nil {
		return ""
	} else if _, ok := r[l]; ok {
		return ""
	}
	return l
}

// plain reports whether the declarations of a struct are fields with
// names, lets and attributes only, so that a name declared in it refers
// to the fields of that name there and nothing else adds to them.
func plain(decls []ast.Decl) bool {
	for _, d := range decls {
		switch x := d.(type) {
		case *ast.Field:
			if labelName(x.Label) == "" {
				return false
			}
		case *ast.LetClause, *ast.Attribute, *ast.CommentGroup:
		default:
			return false
		}
	}
	return true
}

// labelName is the name of a field's label, "" when it is computed.
func labelName(l ast.Label) string {
	if a, ok := l.(*ast.Alias); ok {
		l = a.Expr.(ast.Label)
	}
	name, _, err := ast.LabelName(l)
	if err != nil {
		return ""
	}
	return name
}

type analysis struct {
	// input is the value of the pack's input field, which identifiers
	// naming input resolve to.
	input ast.Node
	// files are the package's files, whose top-level fields a name may
	// refer to.
	files []*ast.File
	// binders are the variables of comprehensions over an input list,
	// with the fields they are selected by (nil: used otherwise).
	binders map[*ast.Ident]fieldSet
}

// bind records the variables of comprehensions over an input list
// (`for x in input.<list>`) and the fields each is selected by.
func (a *analysis) bind(f *ast.File) {
	ast.Walk(f, func(n ast.Node) bool {
		if fc, ok := n.(*ast.ForClause); ok && fc.Value != nil && a.listOf(fc.Source) != "" {
			a.binders[fc.Value] = fieldSet{}
		}
		return true
	}, nil)
	ast.Walk(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				if fs, ok := a.binders[binderOf(id)]; ok {
					if name := labelName(x.Sel); name != "" && fs != nil {
						fs[name] = true
					} else {
						a.binders[binderOf(id)] = nil
					}
					return false
				}
			}
		case *ast.Ident:
			if b := binderOf(x); b != nil && b != x {
				if _, ok := a.binders[b]; ok {
					a.binders[b] = nil // the element used whole
				}
			}
		}
		return true
	}, nil)
}

// binderOf is the variable of a comprehension that id names, or nil.
func binderOf(id *ast.Ident) *ast.Ident {
	switch id.Scope.(type) {
	case *ast.ForClause:
		b, _ := id.Node.(*ast.Ident)
		return b
	}
	return nil
}

// listOf is l when e is `input.<l>`, else "".
func (a *analysis) listOf(e ast.Expr) string {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok || id.Node != a.input {
		return ""
	}
	return labelName(sel.Sel)
}

// check is what the check whose value is v reads; but the source of the
// comprehension clause outer, when it is not nil, and then everything
// when the check refers to what holds that clause (its violations, the
// check itself).
func (a *analysis) check(v ast.Node, outer *ast.ForClause) reads {
	r := reads{}
	seen := map[ast.Node]bool{}
	all := false
	var visit func(n ast.Node)
	ref := func(x *ast.Ident) {
		switch sc := x.Scope.(type) {
		case *ast.ForClause:
			return // a comprehension's variable: its source is read where it is declared
		case *ast.LetClause:
			visit(sc.Expr)
			return
		}
		switch {
		case x.Node == a.input:
			all = true // input itself, not one of its lists
		case x.Node == nil:
			// Unresolved: a name another file of the package declares
			// (which CUE looks up before its predeclared names), else a
			// predeclared name; self, or anything else, reads everything.
			found := false
			for _, d := range a.topLevel() {
				if fd, ok := d.(*ast.Field); ok && labelName(fd.Label) == x.Name {
					if contains(fd, a.input) {
						all = true // the pack
						return
					}
					visit(fd)
					found = true
				}
			}
			if !found && !predeclared[x.Name] {
				all = true
			}
		case contains(x.Node, a.input):
			all = true // the pack, or a struct holding input
		case outer != nil && contains(x.Node, outer):
			all = true
		default:
			if _, ok := x.Node.(*ast.ImportSpec); ok {
				return // a package cannot name this pack's input
			}
			decls, ok := a.scope(x.Scope)
			if !ok {
				visit(x.Node)
				return
			}
			// A field declared more than once is all of its declarations,
			// the name resolving to one of them, and whatever an
			// embedding, a comprehension or a computed name may add. An
			// alias of a field (X=f, f~X) names all of f.
			name := x.Name
			if fd, ok := x.Node.(*ast.Field); ok {
				name = labelName(fd.Label)
			}
			for _, d := range decls {
				switch fd := d.(type) {
				case *ast.Field:
					if n := labelName(fd.Label); n == name || n == "" {
						visit(fd)
					}
				case *ast.LetClause, *ast.Attribute, *ast.CommentGroup:
				default:
					visit(d)
				}
			}
			visit(x.Node)
		}
	}
	var before func(n ast.Node) bool
	walk := func(n ast.Node) {
		if n != nil {
			ast.Walk(n, before, nil)
		}
	}
	label := func(l ast.Label) {
		if al, ok := l.(*ast.Alias); ok {
			l, _ = al.Expr.(ast.Label)
		}
		switch l.(type) {
		case *ast.Ident, *ast.BasicLit, nil:
		default:
			walk(l) // a computed name or a pattern
		}
	}
	before = func(n ast.Node) bool {
		if all {
			return false
		}
		switch x := n.(type) {
		case *ast.Field:
			label(x.Label)
			walk(x.Value)
			return false
		case *ast.ForClause:
			if x == outer {
				return false
			}
			if l := a.listOf(x.Source); l != "" {
				r.add(l, a.binders[x.Value])
			} else {
				walk(x.Source)
			}
			return false
		case *ast.LetClause:
			walk(x.Expr)
			return false
		case *ast.Alias:
			walk(x.Expr)
			return false
		case *ast.SelectorExpr:
			if l := a.listOf(x); l != "" {
				r.add(l, nil)
			} else {
				walk(x.X)
			}
			return false
		case *ast.Attribute, *ast.ImportDecl, *ast.ImportSpec:
			return false
		case *ast.Ident:
			ref(x)
		}
		return true
	}
	visit = func(n ast.Node) {
		if n == nil || seen[n] || all {
			return
		}
		seen[n] = true
		walk(n)
	}
	visit(v)
	if all {
		return nil
	}
	return r
}

// scope is the declarations of the struct or file a name was found in:
// for a file, those of every file of the package.
func (a *analysis) scope(n ast.Node) ([]ast.Decl, bool) {
	switch x := n.(type) {
	case *ast.StructLit:
		return x.Elts, true
	case *ast.File:
		return a.topLevel(), true
	}
	return nil, false
}

// topLevel is the declarations of the package's files but their package
// clauses and imports.
func (a *analysis) topLevel() []ast.Decl {
	var decls []ast.Decl
	for _, f := range a.files {
		for _, d := range f.Decls {
			switch d.(type) {
			case *ast.Package, *ast.ImportDecl:
			default:
				decls = append(decls, d)
			}
		}
	}
	return decls
}

// contains reports whether the syntax tree n holds node x.
func contains(n, x ast.Node) bool {
	found := false
	ast.Walk(n, func(m ast.Node) bool {
		if m == x {
			found = true
		}
		return !found
	}, nil)
	return found
}

// predeclared are CUE's predeclared identifiers but self, which names
// the enclosing struct.
var predeclared = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"_", "string", "bytes", "bool", "int", "float", "number", "error", "len", "close",
		"and", "or", "div", "mod", "quo", "rem", "matchIf", "matchN", "null", "true", "false",
		"rune", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32", "uint64", "uint128",
		"float32", "float64"} {
		m[n] = true
		if !slices.Contains([]string{"_", "null", "true", "false", "matchIf", "matchN"}, n) {
			m["__"+n] = true
		}
	}
	m["__matchIf"], m["__matchN"] = true, true
	return m
}()
