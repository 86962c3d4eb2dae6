package compiler

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	"cuelang.org/go/mod/modregistry"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/cueload"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/schema"
)

// attrKey is the CUE attribute that carries error-message help in the schema.
const attrKey = "pipec"

// explainer turns CUE evaluation errors into diagnostics written for people:
// positioned at the user's source, naming the field path, what was expected
// (from the schema's @pipec attributes) and how to fix it.
type explainer struct {
	l       *loaded
	root    cue.Value // the #Config definition
	user    cue.Value // the user's value, not unified
	baseDir string    // file names are shown relative to it
	// depth is how deep explainDisjunct is into nested disjunctions.
	depth int
	// released says that l, root and user were let go (release), and
	// are built again when a position is looked up.
	released bool
}

// release lets the configuration's CUE values go: after the check stage
// only positions need them, and a build without findings looks none up.
// Their memory is a fifth to a quarter of a large build's live heap at
// the policy stage (170 MiB at 5,000 services); the first position looked
// up after builds the configuration again, from the files as loaded.
func (x *explainer) release() {
	x.l, x.root, x.user, x.released = x.l.released(), cue.Value{}, cue.Value{}, true
}

// reload builds the configuration again after release; it reports
// whether the values are there.
func (x *explainer) reload() bool {
	if !x.released {
		return true
	}
	l, err := x.l.rebuild()
	if err != nil {
		return false
	}
	*x = *newExplainer(l, x.baseDir)
	return true
}

func newExplainer(l *loaded, baseDir string) *explainer {
	return &explainer{l: l, root: l.schema.LookupPath(schema.RootPath), user: l.user, baseDir: baseDir}
}

// pos converts a CUE position, making the file name relative to baseDir.
func (x *explainer) pos(p token.Pos) model.Pos {
	if !p.IsValid() || p.File() == nil {
		return model.Pos{}
	}
	return model.Pos{File: relPath(x.baseDir, p.Filename()), Line: p.Line(), Col: p.Column()}
}

func relPath(base, name string) string {
	if base == "" {
		return name
	}
	if r, err := filepath.Rel(base, name); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return name
}

// userPos returns the first position of err that is in the user's files.
func (x *explainer) userPos(err error) (token.Pos, bool) {
	for _, p := range cueerrors.Positions(err) {
		if !x.l.isSchemaFile(p.Filename()) {
			return p, true
		}
	}
	return token.NoPos, false
}

// cuePath converts the label list of a CUE error to a model.Path.
func cuePath(labels []string) model.Path {
	var p model.Path
	for _, l := range labels {
		if n, err := strconv.Atoi(l); err == nil && n >= 0 {
			p = p.Index(n)
			continue
		}
		if uq, err := strconv.Unquote(l); err == nil {
			l = uq
		}
		p = p.Field(l)
	}
	return p
}

// schemaAt walks the schema along labels, through pattern constraints and
// list elements, and returns the schema value there.
func (x *explainer) schemaAt(labels []string) (cue.Value, bool) {
	v := x.root
	for _, l := range labels {
		if uq, err := strconv.Unquote(l); err == nil {
			l = uq
		}
		next, ok := schemaLookup(v, l, 0)
		if !ok {
			return cue.Value{}, false
		}
		v = next
	}
	return v, true
}

// schemaLookup looks label up in the schema value v: a field, a pattern
// constraint or a list element; else in the operands of the expression v
// is (a field of one branch of a disjunction: {canary: ...} of a strategy
// whose default is {rolling: ...}; an element of a list that is a
// conjunction with one: the policies of `#ScalingRules & {policies:
// *[<defaults>] | [...#ScalingPolicy]}`).
func schemaLookup(v cue.Value, l string, depth int) (cue.Value, bool) {
	_, notIndex := strconv.Atoi(l)
	for _, sel := range []cue.Selector{cue.Str(l), cue.Str(l).Optional()} {
		if n := v.LookupPath(cue.MakePath(sel)); n.Exists() {
			return n, true
		}
	}
	any := cue.AnyString
	if notIndex == nil {
		any = cue.AnyIndex
	}
	if n := v.LookupPath(cue.MakePath(any)); n.Exists() {
		return n, true
	}
	if depth > 4 {
		return cue.Value{}, false
	}
	if op, args := cue.Dereference(v).Expr(); op == cue.OrOp || op == cue.AndOp {
		for _, a := range args {
			if n, ok := schemaLookup(a, l, depth+1); ok {
				return n, true
			}
		}
	}
	return cue.Value{}, false
}

// help returns the expected/hint texts the schema attaches to a field, or,
// for a list element without its own, to the list.
func (x *explainer) help(labels []string) (expected, hint string) {
	expected, hint = x.fieldHelp(labels)
	if expected == "" && hint == "" && len(labels) > 0 {
		if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
			return x.fieldHelp(labels[:len(labels)-1])
		}
	}
	return expected, hint
}

func (x *explainer) fieldHelp(labels []string) (expected, hint string) {
	v, ok := x.schemaAt(labels)
	if !ok {
		return "", ""
	}
	a := v.Attribute(attrKey)
	if a.Err() != nil {
		// The help may sit on the definition the field refers to, such
		// as #ParamValue.
		root, path := v.ReferencePath()
		if !root.Exists() {
			return "", ""
		}
		if a = root.LookupPath(path).Attribute(attrKey); a.Err() != nil {
			return "", ""
		}
	}
	expected, _, _ = a.Lookup(0, "expected")
	hint, _, _ = a.Lookup(0, "hint")
	return expected, hint
}

// allowedFields lists the fields the schema allows at labels.
func (x *explainer) allowedFields(labels []string) []string {
	v, ok := x.schemaAt(labels)
	if !ok {
		return nil
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	var names []string
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	slices.Sort(names)
	return names
}

// userValue formats the user's own value at labels, for messages.
func (x *explainer) userValue(labels []string) (string, bool) {
	v := x.user.LookupPath(userPath(labels))
	if !v.Exists() || !v.IsConcrete() || v.Err() != nil {
		return "", false
	}
	s := fmt.Sprint(v)
	if strings.ContainsAny(s, "\n") || len(s) > 60 {
		switch v.Kind() {
		case cue.StructKind:
			return "a struct", true
		case cue.ListKind:
			return "a list", true
		}
		s = strings.ReplaceAll(s, "\n", " ")
		if len(s) > 60 {
			s = s[:57] + "..."
		}
	}
	return fmt.Sprintf("%s (%s)", s, v.Kind()), true
}

// Telling CUE errors apart.
//
// Evaluation errors: CUE's public API tells them apart only by the format
// their Msg() returns. cue.IsIncomplete is as true for an undefined field or
// a reference cycle as for a missing value; the *adt.Bottom behind a
// cue.Value's error, with its error code and close-check flag, is internal;
// cue/errors has no types for conflicts, bounds or closed structs. The
// formats below are constants of cuelang.org/go v0.17.1 (file named), which
// unlike the formatted text never contain the user's values; the err_*
// scripts of internal/cli and cueerr_test.go produce the common ones, so an
// upgrade of CUE that changes them fails a test.
//
// Load errors: a syntax error is told by where it comes from (parseFile), a
// package that cannot be loaded by its type (load.PackageError), a compile
// error, whose type is internal, by its format.
const (
	// internal/core/adt
	fmtNotAllowed   = "field not allowed"                                         // fields.go
	fmtIncomplete   = "incomplete value %v"                                       // validate.go
	fmtEmptyDisj    = "%d errors in empty disjunction:"                           // disjunct.go
	fmtConflict     = "conflicting values %s and %s"                              // errors.go
	fmtConflictKind = "conflicting values %s and %s (mismatched types %s and %s)" // errors.go
	fmtValueKind    = "conflicting value %s (mismatched types %s and %s)"         // eval.go
	fmtOutOfBound   = "invalid value %v (out of bound %s)"                        // expr.go
	fmtBoundKind    = "invalid value %s (type %s) for bound %s"                   // expr.go
	fmtValidator    = "invalid value %s (does not satisfy %s)"                    // expr.go
	// nonConcrete is in each of the formats (adt, internal/pkg, cue) for an
	// operand, argument or bound that is not concrete.
	nonConcrete = "non-concrete value"

	// internal/core/compile, whose errors have an internal type.
	fmtRefNotFound = "reference %q not found" // compile.go
	// A load.PackageError's; cue/load leaves its IsImportCycle false.
	fmtImportCycle = "package import cycle not allowed" // import.go
)

type errKind int

const (
	otherError   errKind = iota
	unknownField         // a field the schema does not allow
	incomplete           // a missing or non-concrete value
	conflict             // conflicting values or kinds, a bound or validator not met, no disjunct matched
)

func kindOf(e cueerrors.Error) errKind {
	format, _ := e.Msg()
	switch format {
	case fmtNotAllowed:
		return unknownField
	case fmtIncomplete:
		return incomplete
	case fmtEmptyDisj, fmtConflict, fmtConflictKind, fmtValueKind, fmtOutOfBound, fmtBoundKind, fmtValidator:
		return conflict
	}
	if strings.Contains(format, nonConcrete) {
		return incomplete
	}
	return otherError
}

const (
	hintSyntax = "this is a CUE syntax error: look for an unclosed brace, bracket or string before this position"
	hintRefs   = "check the spelling of the reference and that it is declared in this package or imported"
	hintModule = "a module (such as a policy pack) could not be fetched: check CUE_REGISTRY and that the registry is reachable, and the version pinned in cue.mod/module.cue; offline, pipec uses the module cache ($CUE_CACHE_DIR), which a first online run fills"
)

// loadHint returns the hint for an error from loading or building the
// configuration.
func loadHint(e cueerrors.Error) string {
	var pe *load.PackageError
	if errors.As(e, &pe) {
		if moduleUnavailable(pe) {
			return hintModule
		}
		if format, _ := pe.Msg(); pe.IsImportCycle || format == fmtImportCycle {
			return hintRefs
		}
	}
	if format, _ := e.Msg(); format == fmtRefNotFound {
		return hintRefs
	}
	// e itself, not errors.As: when an imported package has the syntax
	// error, e is "import failed", which gets no hint.
	if _, ok := e.(syntaxError); ok {
		return hintSyntax
	}
	return ""
}

// moduleUnavailable reports whether a package could not be found because
// its module could not be fetched or no module provides it. cue/load puts
// the module loader's error into the PackageError as text (errPkgf("%s",
// err.Error()) in absDirFromImportPath), out of reach even of
// errors.Is(err, modregistry.ErrNotFound): the text is all there is, and
// these are the phrases of internal/mod/modpkgload and mod/modregistry.
func moduleUnavailable(pe *load.PackageError) bool {
	text := pe.Message.Error()
	return strings.Contains(text, "cannot fetch ") ||
		strings.Contains(text, "cannot find module providing package ") ||
		strings.Contains(text, modregistry.ErrNotFound.Error())
}

// syntaxError marks an error of cue/parser, whose errors have no type of
// their own (cue/scanner reports to a callback that the parser turns into
// errors.Newf). The loader parses every CUE file with parseFile, its
// load.Config.ParseFile.
type syntaxError struct{ cueError }

// cueError names the embedded field so that it does not hide Error().
type cueError = cueerrors.Error

func parseFile(name string, src any, cfg parser.Config) (*ast.File, error) {
	f, err := parser.ParseFile(name, src, cfg)
	if err == nil {
		return f, nil
	}
	var marked cueerrors.Error
	for _, e := range cueerrors.Errors(err) {
		marked = cueerrors.Append(marked, syntaxError{e})
	}
	return f, marked
}

// explain converts a CUE error (possibly a list) into diagnostics, one per
// offending field path.
func (x *explainer) explain(err error) diag.List {
	type group struct {
		labels []string
		errs   []cueerrors.Error
	}
	var order []string
	groups := map[string]*group{}
	for _, e := range cueerrors.Errors(err) {
		labels := e.Path()
		key := strings.Join(labels, "\x00")
		g, ok := groups[key]
		if !ok {
			g = &group{labels: labels}
			groups[key] = g
			order = append(order, key)
		}
		g.errs = append(g.errs, e)
	}
	var out diag.List
	// A closed definition of the user's refuses every field the schema
	// adds, each an error of its own: one finding per entry says it.
	closed := map[string]*diag.Diagnostic{}
	more := map[*diag.Diagnostic][]string{}
	// disjOnly are the findings of a value that matched no branch of a
	// disjunction, and says only that.
	disjOnly := map[int]bool{}
	for _, key := range order {
		g := groups[key]
		if ds := x.explainDisjunct(g.labels, g.errs); ds != nil {
			out = append(out, ds...)
			continue
		}
		d := x.explainGroup(g.labels, g.errs)
		if strings.HasSuffix(d.Message, closedDefinition) {
			entry := strings.Join(g.labels[:min(2, len(g.labels))], ".")
			if first, ok := closed[entry]; ok {
				more[first] = append(more[first], string(d.Path))
				slices.Sort(more[first])
				continue
			}
			closed[entry] = &d
		}
		if !slices.ContainsFunc(g.errs, func(e cueerrors.Error) bool { f, _ := e.Msg(); return f != fmtEmptyDisj }) {
			disjOnly[len(out)] = true
		}
		out = append(out, d)
	}
	for i := range out {
		for first, paths := range more {
			if out[i].Path == first.Path && out[i].Message == first.Message {
				out[i].Hint += fmt.Sprintf("; it also refuses %d more of the schema's fields: %s", len(paths), strings.Join(paths, ", "))
			}
		}
	}
	// A value that matched no branch is said better by the finding of the
	// branch it meant, below it ({rolling: {maxSurge: -1}}).
	kept := out[:0]
	for i, d := range out {
		below := slices.ContainsFunc(out, func(o diag.Diagnostic) bool {
			return strings.HasPrefix(string(o.Path), string(d.Path)+".") || strings.HasPrefix(string(o.Path), string(d.Path)+"[")
		})
		if !disjOnly[i] || !below {
			kept = append(kept, d)
		}
	}
	return kept
}

// unsupported are fields of Tekton's that a user migrating writes, by the
// kind of object they are in (contextOf): what pipec says of each, and
// what to write instead.
var unsupported = map[string]struct{ what, instead string }{
	"task.taskRef":          {"pipec writes a pipeline task's taskRef as uses or ref", `uses: "<task>" for a task of the library, or ref: {resolver: "bundles", params: {...}} for a remote one`},
	"task.taskSpec":         {"pipec writes an embedded taskSpec as the task's own fields", "declare the steps (and params, results, volumes, sidecars) on the pipeline task: steps: [...]"},
	"task.runAfter":         {"pipec writes runAfter as after", `after: ["<task>"]`},
	"task.pipelineRef":      {"pipec does not support pipelines in pipelines yet", "start the other pipeline from the same trigger, or inline its tasks"},
	"task.pipelineSpec":     {"pipec does not support pipelines in pipelines yet", "inline the tasks in this pipeline"},
	"step.stdoutConfig":     {"pipec does not support stdoutConfig yet", "redirect in the script: > $(results.<name>.path)"},
	"step.stderrConfig":     {"pipec does not support stderrConfig yet", "redirect in the script: 2> $(results.<name>.path)"},
	"step.computeResources": {"pipec writes computeResources as resources", "resources: requests: {cpu: \"500m\", memory: \"512Mi\"}"},
	"step.ports":            {"pipec does not support container ports yet", "a sidecar is reached on localhost at the port it listens on; readinessProbe says when it is ready"},
	"step.livenessProbe":    {"pipec does not support liveness probes yet", "use readinessProbe, which Tekton waits for before the steps start"},
}

// contextOf names the kind of object whose allowed fields are these.
func contextOf(allowed []string) string {
	has := func(f string) bool { return slices.Contains(allowed, f) }
	switch {
	case has("uses") && has("after"), has("uses") && has("retries"):
		return "task"
	case has("image") && has("name"):
		return "step"
	case has("default") && has("type"):
		return "param"
	case has("input") && has("operator"):
		return "when"
	}
	return ""
}

// closedDefinition ends the message of a field the schema has that a
// closed definition of the user's refuses.
const closedDefinition = "is not allowed by a closed definition of the configuration, although pipec's schema has it"

// explainDisjunct explains a field that CUE calls not allowed because the
// value it is in matched no branch of a disjunction, when one branch has
// the field: the user meant that branch ({canary: ...} of a strategy), so
// its errors (a weight out of bound) are the ones to report. It returns nil
// when that is not the case.
func (x *explainer) explainDisjunct(labels []string, errs []cueerrors.Error) diag.List {
	if len(labels) == 0 || x.depth > 4 {
		return nil
	}
	for _, e := range errs {
		if kindOf(e) != unknownField {
			return nil // the group says more than "not allowed"
		}
	}
	if _, known := x.schemaAt(labels); !known {
		return nil // truly unknown
	}
	parentLabels := labels[:len(labels)-1]
	parent, ok := x.schemaAt(parentLabels)
	if !ok {
		return nil
	}
	op, branches := cue.Dereference(parent).Expr()
	if op != cue.OrOp {
		return nil
	}
	name := labels[len(labels)-1]
	if uq, err := strconv.Unquote(name); err == nil {
		name = uq
	}
	user := x.user.LookupPath(userPath(parentLabels))
	if !user.Exists() {
		return nil
	}
	for _, b := range branches {
		if !b.LookupPath(cue.MakePath(cue.Str(name))).Exists() && !b.LookupPath(cue.MakePath(cue.Str(name).Optional())).Exists() {
			continue
		}
		err := user.Unify(b).Validate(cue.Concrete(true))
		if err == nil {
			return nil
		}
		x.depth++
		ds := x.explain(err)
		x.depth--
		// The summary of an empty disjunction above a specific error says
		// less than it: keep the specific one.
		var out diag.List
		for _, d := range ds {
			covered := false
			for _, o := range ds {
				if o.Path != d.Path && strings.HasPrefix(string(o.Path), string(d.Path)) {
					covered = true
				}
			}
			if !covered {
				out = append(out, d)
			}
		}
		return out
	}
	return nil
}

// userPath is the CUE path of labels as errors name them.
func userPath(labels []string) cue.Path {
	sels := make([]cue.Selector, 0, len(labels))
	for _, l := range labels {
		if i, err := strconv.Atoi(l); err == nil {
			sels = append(sels, cue.Index(i))
			continue
		}
		if uq, err := strconv.Unquote(l); err == nil {
			l = uq
		}
		sels = append(sels, cue.Str(l))
	}
	return cue.MakePath(sels...)
}

func (x *explainer) explainGroup(labels []string, errs []cueerrors.Error) diag.Diagnostic {
	path := cuePath(labels)
	d := diag.Diagnostic{Severity: diag.Error, Path: path, Source: "cue"}

	// Position: the first user position of any error in the group, else
	// the position of the nearest enclosing user value.
	for _, e := range errs {
		if p, ok := x.userPos(e); ok {
			d.Pos = x.pos(p)
			break
		}
	}
	if !d.Pos.IsValid() {
		d.Pos = x.nearestUserPos(labels)
	}

	// Pick the most telling message: a specific one over "N errors in
	// empty disjunction".
	primary := errs[0]
	for _, e := range errs {
		if f, _ := e.Msg(); f != fmtEmptyDisj {
			primary = e
			break
		}
	}
	// "Not allowed" for a field one branch of a disjunction has is that
	// branch failing for another reason in the same group: say that one.
	if kindOf(primary) == unknownField {
		if _, known := x.schemaAt(labels); known {
			for _, e := range errs {
				if f, _ := e.Msg(); f != fmtEmptyDisj && kindOf(e) != unknownField {
					primary = e
					break
				}
			}
		}
	}
	format, args := primary.Msg()
	msg := fmt.Sprintf(format, args...)
	expected, hint := x.help(labels)

	switch kind := kindOf(primary); {
	case kind == unknownField && len(labels) > 0:
		// CUE may report the error below the field that is not allowed;
		// find the first label along the path the schema does not know.
		n, known := len(labels), true
		for i := range labels {
			if _, ok := x.schemaAt(labels[:i+1]); !ok {
				n, known = i+1, false
				break
			}
		}
		labels = labels[:n]
		d.Path = cuePath(labels)
		if p := x.nearestUserPos(labels); p.IsValid() {
			d.Pos = p
		}
		name := labels[n-1]
		if uq, err := strconv.Unquote(name); err == nil {
			name = uq
		}
		if known {
			// pipec's schema has the field: what refuses it is a closed
			// definition of the configuration's own, unified with the
			// schema's, which adds fields (defaults among them).
			d.Message = fmt.Sprintf("field %q %s", name, closedDefinition)
			d.Expected = "a template that lets the schema add its fields and defaults"
			d.Hint = "a CUE definition (#Name: {...}) is closed, so unified with pipec's schema it refuses every field it does not list itself; write the template as a hidden field (_name: {...}) instead, or build it on the schema's definition (#Name: schema.#Pipeline & {...})"
			if others := x.otherUserPositions(errs, d.Pos); len(others) > 0 {
				d.Hint += "; the definition is at " + strings.Join(others, ", ")
			}
			return d
		}
		allowed := x.allowedFields(labels[:n-1])
		d.Message = fmt.Sprintf("unknown field %q", name)
		if u, ok := unsupported[contextOf(allowed)+"."+name]; ok {
			// A field of Tekton's that pipec does not have, or spells
			// otherwise: say so, and what to write instead.
			d.Message = u.what
			d.Expected = "one of the fields " + diag.OneOf(allowed)
			d.Hint = "instead, " + u.instead
			return d
		}
		if len(allowed) > 0 {
			d.Expected = "one of the fields " + diag.OneOf(allowed)
			if s := diag.Suggest(name, allowed); s != "" {
				d.Hint = fmt.Sprintf("did you mean %q?", s)
			} else {
				d.Hint = "remove the field or check its spelling and nesting"
			}
		}
		return d
	case kind == incomplete:
		name := ""
		if len(labels) > 0 {
			name = labels[len(labels)-1]
		}
		d.Message = fmt.Sprintf("required field %q is missing or not concrete", name)
		d.Expected = expected
		if d.Expected == "" {
			if v, ok := x.schemaAt(labels); ok {
				d.Expected = "a value of type " + v.IncompleteKind().String()
			}
		}
		d.Hint = fmt.Sprintf("add %s: <value>", name)
		return d
	case kind == conflict:
		if got, ok := x.userValue(labels); ok {
			d.Message = "invalid value " + got
		} else {
			d.Message = msg
		}
		// Errors of other branches of a disjunction (a field "not
		// allowed" there) say nothing about this one.
		same := slices.DeleteFunc(slices.Clone(errs), func(e cueerrors.Error) bool { return kindOf(e) == unknownField })
		d.Expected = expected
		if d.Expected == "" {
			if v, ok := x.schemaAt(labels); ok && len(same) > 1 {
				d.Expected = "a value of type " + v.IncompleteKind().String()
			} else {
				d.Expected = describeConflict(format, args)
			}
		}
		d.Hint = hint
		// Two values that disagree: say where the other one is. (A value
		// out of a bound has no other value.)
		if others := x.otherUserPositions(same, d.Pos); d.Hint == "" && len(others) > 0 && format != fmtOutOfBound && format != fmtBoundKind && format != fmtValidator {
			d.Hint = "the field is also set at " + strings.Join(others, ", ") + "; make the values agree"
		}
		return d
	}
	d.Message = msg
	d.Expected = expected
	d.Hint = hint
	return d
}

// describeConflict derives an "expected" text from the arguments of a
// conflict's message when the schema has no @pipec help for the field: the
// kind wanted, if both kinds are single ones, or the bound.
func describeConflict(format string, args []any) string {
	switch format {
	case fmtConflictKind, fmtValueKind:
		got, ok1 := args[len(args)-2].(cue.Kind)
		want, ok2 := args[len(args)-1].(cue.Kind)
		if ok1 && ok2 && singleKind(got) && singleKind(want) {
			return "a value of type " + want.String()
		}
	case fmtOutOfBound:
		return fmt.Sprintf("a value matching %s", args[1])
	}
	return ""
}

// singleKind reports whether k is one kind, such as string or number, not a
// set such as (int|string).
func singleKind(k cue.Kind) bool { return k.Count() == 1 || k == cue.NumberKind }

// otherUserPositions lists the user positions of errs other than pos.
func (x *explainer) otherUserPositions(errs []cueerrors.Error, pos model.Pos) []string {
	var out []string
	for _, e := range errs {
		for _, p := range cueerrors.Positions(e) {
			if x.l.isSchemaFile(p.Filename()) {
				continue
			}
			if mp := x.pos(p); mp != pos && !slices.Contains(out, mp.String()) {
				out = append(out, mp.String())
			}
		}
	}
	return out
}

// nearestUserPos returns the position of the closest enclosing value written
// in a user file.
func (x *explainer) nearestUserPos(labels []string) model.Pos {
	for n := len(labels); n >= 0; n-- {
		sels := make([]cue.Selector, 0, n)
		for _, l := range labels[:n] {
			if i, err := strconv.Atoi(l); err == nil {
				sels = append(sels, cue.Index(i))
				continue
			}
			if uq, err := strconv.Unquote(l); err == nil {
				l = uq
			}
			sels = append(sels, cue.Str(l))
		}
		v := x.user.LookupPath(cue.MakePath(sels...))
		if !v.Exists() {
			continue
		}
		if p := v.Pos(); p.IsValid() && !x.l.isSchemaFile(p.Filename()) {
			return x.pos(p)
		}
	}
	return model.Pos{}
}

// explainLoad converts an error from loading or building the instance.
func (x *explainer) explainLoad(err error) diag.List {
	var ce cueerrors.Error
	if !errors.As(err, &ce) {
		return diag.List{{Severity: diag.Error, Message: err.Error(), Source: "pipec"}}
	}
	var out diag.List
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		d := diag.Diagnostic{Severity: diag.Error, Path: cuePath(e.Path()), Message: fmt.Sprintf(format, args...), Source: "cue"}
		if p, ok := x.userPos(e); ok {
			d.Pos = x.pos(p)
		}
		// "import failed" wraps the reason: say that instead.
		for u := cueerrors.Unwrap(e); d.Message == "import failed" && u != nil; u = cueerrors.Unwrap(u) {
			var ue cueerrors.Error
			if errors.As(u, &ue) {
				f, a := ue.Msg()
				if m := fmt.Sprintf(f, a...); m != "" && m != "import failed" {
					d.Message = "import failed: " + m
				}
			} else {
				d.Message = "import failed: " + u.Error()
			}
		}
		if d.Message == "" {
			// An error promoted from a plain one (the module file's
			// checks) keeps its text in the error it wraps.
			d.Message = strings.TrimSpace(e.Error())
		}
		if !strings.Contains(d.Message, " ") {
			// A bare label, such as "@embed": the reason is the error
			// it wraps.
			if u := cueerrors.Unwrap(e); u != nil {
				d.Message += ": " + strings.TrimSpace(u.Error())
			}
		}
		if moduleWrapped[d.Message] {
			// The module file's reason, such as an unterminated string,
			// is in the error it wraps.
			if u := cueerrors.Unwrap(e); u != nil {
				if us := cueerrors.Errors(u); len(us) > 0 {
					f, a := us[0].Msg()
					d.Message += ": " + fmt.Sprintf(f, a...)
				} else {
					d.Message += ": " + strings.TrimSpace(u.Error())
				}
			}
		}
		d.Hint = loadHint(e)
		if le, ok := e.(loadError); ok {
			d.ID, d.Expected, d.Hint = le.rule.ID, le.expected, le.hint
		}
		if d.Hint == "" && (strings.Contains(d.Message, "module.cue") || strings.Contains(d.Message, "module file")) {
			d.Hint = moduleHint(d.Message)
		}
		out = append(out, d)
	}
	return out
}

// joinCUE joins CUE errors into one error that cue/errors can list.
func joinCUE(errs []error) error {
	var list cueerrors.Error
	for _, e := range errs {
		list = cueerrors.Append(list, cueerrors.Promote(e, ""))
	}
	return list
}

// moduleWrapped are the messages of cue.mod/module.cue's errors that wrap
// their reason (mod/modfile's errors.Wrapf).
var moduleWrapped = map[string]bool{
	"invalid module file syntax":        true,
	"invalid module file value":         true,
	"invalid module file":               true,
	"cannot determine language version": true,
}

var tooNewRE = regexp.MustCompile(`too new for current language version "([^"]+)"`)

// moduleHint says how to fix cue.mod/module.cue, given the error's
// message (mod/modfile's texts).
func moduleHint(msg string) string {
	example := `module: "acme.example/ci@v0" and language: version: "` + cueload.LanguageVersion + `"`
	switch {
	case strings.Contains(msg, "syntax"):
		return hintSyntax + "; cue.mod/module.cue holds, for example, " + example
	case tooNewRE.MatchString(msg):
		return fmt.Sprintf(`pipec's CUE reads language versions up to %s: declare one of those in cue.mod/module.cue, such as language: version: %q`,
			tooNewRE.FindStringSubmatch(msg)[1], cueload.LanguageVersion)
	case strings.Contains(msg, "not valid semantic version"):
		return fmt.Sprintf(`write the language version as v<major>.<minor>.<patch>, such as language: version: %q`, cueload.LanguageVersion)
	case strings.Contains(msg, "no language version"):
		return fmt.Sprintf(`add language: version: %q to cue.mod/module.cue`, cueload.LanguageVersion)
	case strings.Contains(msg, "empty module path"):
		return `add the module's path to cue.mod/module.cue, with its major version, such as module: "acme.example/ci@v0"`
	}
	return "cue.mod/module.cue declares the module's path and its CUE language version, for example " + example
}
