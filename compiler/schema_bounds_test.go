package compiler

import (
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/pipec/pipec/schema"
)

// TestSchemaBoundsSayWhatIsExpected: a field whose value is bounded (>=0,
// <=100, #Int32, ...) carries @pipec(expected=...), so that a value out of
// range is explained in words ("a weight from 0 to 100") rather than with
// CUE's bound ("expected a value matching <=100").
func TestSchemaBoundsSayWhatIsExpected(t *testing.T) {
	files, err := schema.Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		f, err := parser.ParseFile(name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Walk(f, func(n ast.Node) bool {
			fld, ok := n.(*ast.Field)
			if !ok {
				return true
			}
			label, _, _ := ast.LabelName(fld.Label)
			if label == "#Int32" || label == "#Int64" {
				return false // the bounds themselves, used by fields that say more
			}
			if !bounded(fld.Value) {
				return true
			}
			for _, a := range fld.Attrs {
				if k, body := a.Split(); k == attrKey && strings.Contains(body, "expected=") {
					return true
				}
			}
			t.Errorf("%s: field %s is bounded but has no @pipec(expected=...)", fld.Pos(), label)
			return true
		}, nil)
	}
}

// bounded reports whether the expression x has a bound of its own (not
// inside a struct or list it builds, whose fields are checked on their
// own; a list's elements are the list field's).
func bounded(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.UnaryExpr:
		switch x.Op {
		case token.GEQ, token.GTR, token.LEQ, token.LSS:
			return true
		}
		return bounded(x.X)
	case *ast.BinaryExpr:
		return bounded(x.X) || bounded(x.Y)
	case *ast.ParenExpr:
		return bounded(x.X)
	case *ast.Ident:
		return x.Name == "#Int32" || x.Name == "#Int64"
	case *ast.ListLit:
		for _, e := range x.Elts {
			if e, ok := e.(*ast.Ellipsis); ok && e.Type != nil && bounded(e.Type) {
				return true
			}
		}
	}
	return false
}
