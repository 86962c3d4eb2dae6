package compiler

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/cueload"
	"github.com/pipec/pipec/policies"
	"github.com/pipec/pipec/schema"
)

// syntheticModule is the module pipec provides, through the overlay, when
// a configuration directory has no cue.mod of its own.
const syntheticModule = "pipec.local/config@v0"

// loaded is a configuration loaded and built, before unification.
type loaded struct {
	ctx    *cue.Context
	user   cue.Value
	schema cue.Value
	// packDef is #Pack, which custom policy packs are checked against.
	packDef cue.Value
	// schemaDir and policyDir are the absolute directories under which
	// the embedded files appear; positions inside them are not the user's.
	schemaDir string
	policyDir string
	// waives says whether a file of the configuration or of a package it
	// imports has a @waive attribute.
	waives bool
	// insts are the configuration, the schema and the policy definitions,
	// as loaded: built again (rebuild) for positions once released.
	insts []*build.Instance
}

// rebuild builds the configuration again, from the files as loaded, in a
// new CUE context: the same values at the same positions.
func (l *loaded) rebuild() (*loaded, error) {
	ctx := cuecontext.New()
	vals, err := ctx.BuildInstances(l.insts)
	if err != nil {
		return nil, err
	}
	out := *l
	out.ctx, out.user, out.schema, out.packDef = ctx, vals[0], vals[1], vals[2].LookupPath(policies.PackDefPath)
	return &out, nil
}

// released is l without its CUE values, which rebuild makes again.
func (l *loaded) released() *loaded {
	return &loaded{schemaDir: l.schemaDir, policyDir: l.policyDir, waives: l.waives, insts: l.insts}
}

// loadedHook, when set (by tests), is given every configuration
// loadConfig loads.
var loadedHook func(*loaded)

// loadConfig reads the CUE package in dir, with pipec's schema importable as
// schema.ImportPath, and builds it together with the schema.
func loadConfig(dir string, overlay map[string][]byte, env []string) (*loaded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); (err != nil || !st.IsDir()) && !hasCUEFiles(abs, overlay) {
		return nil, fmt.Errorf("%s is not a directory; pass the directory that holds the configuration's .cue files", dir)
	}
	if !hasCUEFiles(abs, overlay) {
		return nil, fmt.Errorf("no CUE files in %s; pass the directory that holds the configuration's .cue files", dir)
	}
	root, hasModule := findModuleRoot(abs, overlay)
	ov := make(map[string]load.Source, len(overlay)+8)
	for name, data := range overlay {
		ov[name] = load.FromBytes(data)
	}
	if !hasModule {
		root = abs
		ov[filepath.Join(root, "cue.mod", "module.cue")] = load.FromString(cueload.ModuleFile(syntheticModule))
	}
	// The schema, and the policy definitions and built-in packs, importable
	// as pipec.dev/schema and pipec.dev/policy[/<pack>].
	schemaFiles, err := schema.Files()
	if err != nil {
		return nil, err
	}
	schemaDir := filepath.Join(root, "cue.mod", "pkg", filepath.FromSlash(schema.ImportPath))
	schemaFiles.AddTo(ov, schemaDir)
	policyFiles, err := policies.Files()
	if err != nil {
		return nil, err
	}
	policyDir := filepath.Join(root, "cue.mod", "pkg", filepath.FromSlash(policies.ImportPath))
	policyFiles.AddTo(ov, policyDir)

	cfg := &load.Config{
		Dir:        abs,
		ModuleRoot: root,
		Overlay:    ov,
		ParseFile:  parseFile,
		Env:        env,
	}
	insts := load.Instances([]string{".", schema.ImportPath, policies.ImportPath}, cfg)
	// An error that stops loading as a whole (cue.mod/module.cue that does
	// not parse, two packages in the directory) comes back as one instance
	// holding it.
	for _, inst := range insts {
		var mpe *load.MultiplePackageError
		if errors.As(inst.Err, &mpe) {
			return nil, packagesError(dir, abs, mpe, overlay)
		}
		if inst.Err != nil {
			if hasModule {
				return nil, moduleFileError(inst.Err, filepath.Join(root, "cue.mod", "module.cue"), overlay)
			}
			return nil, inst.Err
		}
	}
	if len(insts) != 3 {
		return nil, fmt.Errorf("loaded %d CUE instances instead of the configuration, pipec's schema and its policy definitions", len(insts))
	}
	if len(insts[0].Files) == 0 {
		return nil, fmt.Errorf("no CUE files in %s; pass the directory that holds the configuration's .cue files", dir)
	}
	// A file without a package clause is left out of the package: what it
	// says would silently not count. (Files named _* or .*, and those
	// excluded by @if tags, are left out on purpose.)
	var orphans cueerrors.Error
	for _, f := range insts[0].IgnoredFiles {
		base := filepath.Base(f.Filename)
		if f.Encoding != build.CUE || strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
			continue
		}
		if pf, err := parser.ParseFile(f.Filename, f.Source, parser.PackageClauseOnly); err == nil && pf.PackageName() == "" {
			orphans = cueerrors.Append(orphans, cueerrors.Newf(token.NoPos, "%s has no package clause, so it is not part of package %s; add `package %s` at its top",
				base, insts[0].PkgName, insts[0].PkgName))
		}
	}
	if orphans != nil {
		return nil, orphans
	}
	// CUE reads invalid UTF-8 as U+FFFD, changing a value without a word:
	// refuse it where it is, in the file as written.
	for _, f := range insts[0].BuildFiles {
		src, ok := overlay[f.Filename]
		if !ok {
			if src, err = os.ReadFile(f.Filename); err != nil {
				continue
			}
		}
		if err := validUTF8(f.Filename, src); err != nil {
			return nil, err
		}
	}
	l := &loaded{schemaDir: schemaDir, policyDir: policyDir, insts: []*build.Instance{insts[0], insts[1], insts[2]},
		waives: hasAttribute(insts[0], "waive", map[*build.Instance]bool{})}
	if l, err = l.rebuild(); err == nil && loadedHook != nil {
		loadedHook(l)
	}
	return l, err
}

// hasAttribute reports whether a file of inst or of an instance it imports
// has an attribute named name. pipec's own schema and policy packages have
// none and are skipped.
func hasAttribute(inst *build.Instance, name string, seen map[*build.Instance]bool) bool {
	if seen[inst] || inst.ImportPath == schema.ImportPath || strings.HasPrefix(inst.ImportPath, policies.ImportPath) {
		return false
	}
	seen[inst] = true
	found := false
	for _, f := range inst.Files {
		ast.Walk(f, func(n ast.Node) bool {
			if a, ok := n.(*ast.Attribute); ok && a.Name() == name {
				found = true
			}
			return !found
		}, nil)
		if found {
			return true
		}
	}
	for _, imp := range inst.Imports {
		if hasAttribute(imp, name, seen) {
			return true
		}
	}
	return false
}

// hasCUEFiles reports whether dir (or the overlay) holds .cue files.
func hasCUEFiles(dir string, overlay map[string][]byte) bool {
	for name := range overlay {
		if filepath.Dir(name) == dir && filepath.Ext(name) == ".cue" {
			return true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && filepath.Ext(e.Name()) == ".cue" {
			return true
		}
	}
	return false
}

// ModuleRoot returns the root of the CUE module that dir belongs to: the
// nearest directory at or above it that holds cue.mod/module.cue.
func ModuleRoot(dir string) (string, bool) { return findModuleRoot(dir, nil) }

// findModuleRoot returns the nearest directory at or above dir that holds
// cue.mod/module.cue, on disk or in the overlay.
func findModuleRoot(dir string, overlay map[string][]byte) (string, bool) {
	for d := dir; ; {
		mod := filepath.Join(d, "cue.mod", "module.cue")
		if _, ok := overlay[mod]; ok {
			return d, true
		}
		if _, err := os.Stat(mod); err == nil {
			return d, true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

// isSchemaFile reports whether a file name belongs to the embedded schema.
func (l *loaded) isSchemaFile(name string) bool {
	if name == "" {
		return true
	}
	return l.schemaDir != "" && strings.HasPrefix(name, l.schemaDir+string(filepath.Separator)) ||
		l.policyDir != "" && strings.HasPrefix(name, l.policyDir+string(filepath.Separator))
}

// validUTF8 reports the first byte of a file that is not UTF-8, at its
// position.
func validUTF8(name string, b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	off := 0
	for off < len(b) {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		off += n
	}
	tf := token.NewFile(name, -1, len(b))
	tf.SetLinesForContent(b)
	return cueerrors.Newf(tf.Pos(off, token.NoRelPos), "the file is not valid UTF-8 (byte 0x%02x); save it as UTF-8", b[off])
}

// packagesError explains files of several packages in the configuration's
// directory: at the package clause of each file that is not of the
// directory's package (the one most of its files are of), naming the
// directory and the files of each.
func packagesError(dir, abs string, mpe *load.MultiplePackageError, overlay map[string][]byte) error {
	pkgDir := mpe.Dir // relative to the loader's directory
	if !filepath.IsAbs(pkgDir) {
		pkgDir = filepath.Join(abs, pkgDir)
	}
	type clause struct {
		file string
		pos  token.Pos
	}
	byPkg := map[string][]clause{}
	var names []string
	add := func(name string, src []byte) {
		base := filepath.Base(name)
		if filepath.Ext(base) != ".cue" || strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
			return
		}
		f, err := parser.ParseFile(name, src, parser.PackageClauseOnly)
		if err != nil {
			return
		}
		pkg := f.PackageName()
		if pkg == "" || pkg == "_" {
			return
		}
		pos := token.NoPos
		for _, d := range f.Decls {
			if p, ok := d.(*ast.Package); ok {
				pos = p.Name.Pos()
			}
		}
		if byPkg[pkg] == nil {
			names = append(names, pkg)
		}
		byPkg[pkg] = append(byPkg[pkg], clause{base, pos})
	}
	seen := map[string]bool{}
	for name, src := range overlay {
		if filepath.Dir(name) == pkgDir {
			seen[name] = true
			add(name, src)
		}
	}
	entries, _ := os.ReadDir(pkgDir)
	for _, e := range entries {
		name := filepath.Join(pkgDir, e.Name())
		if e.IsDir() || seen[name] {
			continue
		}
		if src, err := os.ReadFile(name); err == nil {
			add(name, src)
		}
	}
	if len(names) < 2 {
		return mpe
	}
	// The directory's package is the one most of its files are of, the
	// first cue/load found on a tie.
	main := mpe.Packages[0]
	if byPkg[main] == nil {
		main = names[0]
	}
	for _, n := range names {
		if len(byPkg[n]) > len(byPkg[main]) {
			main = n
		}
	}
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == main })
	slices.Sort(others)
	files := func(pkg string) string {
		var fs []string
		for _, c := range byPkg[pkg] {
			fs = append(fs, c.file)
		}
		slices.Sort(fs)
		if len(fs) > 4 {
			return fmt.Sprintf("%s and %d more", strings.Join(fs[:3], ", "), len(fs)-3)
		}
		return strings.Join(fs, ", ")
	}
	where := "directory " + dir
	if filepath.Clean(dir) == "." {
		where = fmt.Sprintf("the current directory (%s)", filepath.Base(abs))
	}
	var out cueerrors.Error
	for _, pkg := range others {
		for _, c := range byPkg[pkg] {
			e := cueerrors.Newf(c.pos, "%s is in package %s, but %s holds package %s (%s): a directory is one package", c.file, pkg, where, main, files(main))
			out = cueerrors.Append(out, loadError{cueError: e, rule: ruleLoad,
				expected: fmt.Sprintf("package %s, as the other .cue files of the directory", main),
				hint:     fmt.Sprintf("write `package %s` at the top of %s, or move %s to a directory of its own (and import it, if the configuration uses it)", main, c.file, c.file)})
		}
	}
	return out
}

// loadError is an error of loading that says what was expected and how to
// fix it, under a rule of its own.
type loadError struct {
	cueError
	rule           diag.Rule
	expected, hint string
}

// moduleFileError gives an error about cue.mod/module.cue that has no
// position (mod/modfile reports what it checks after parsing as plain
// errors) the position of the value it is about: the language version, or
// the module path; other errors it returns as they are.
func moduleFileError(err error, name string, overlay map[string][]byte) error {
	if len(cueerrors.Positions(err)) > 0 || len(cueerrors.Errors(err)) != 1 {
		return err
	}
	msg := strings.TrimSpace(err.Error())
	if !strings.Contains(msg, "module.cue") {
		return err
	}
	// "invalid module file /abs/cue.mod/module.cue: empty module path"
	msg = strings.Replace(msg, "invalid module file "+name+": ", "invalid module file: ", 1)
	src, ok := overlay[name]
	if !ok {
		var rerr error
		if src, rerr = os.ReadFile(name); rerr != nil {
			return err
		}
	}
	f, perr := parser.ParseFile(name, src)
	if perr != nil {
		return err
	}
	pos := token.NoPos
	if len(f.Decls) > 0 {
		pos = f.Decls[0].Pos()
	}
	want := []string{"module"}
	if strings.Contains(msg, "language version") {
		want = []string{"language", "version"}
	}
	if p := fieldPos(f.Decls, want); p.IsValid() {
		pos = p
	}
	if !pos.IsValid() {
		return err
	}
	return loadError{cueError: cueerrors.Newf(pos, "%s", msg), rule: ruleLoad, hint: moduleHint(msg)}
}

// fieldPos finds the value of the field at path among decls (path
// `language: version: "v0.9.0"` or `language: {version: ...}`).
func fieldPos(decls []ast.Decl, path []string) token.Pos {
	for _, d := range decls {
		f, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		if name, _, err := ast.LabelName(f.Label); err != nil || name != path[0] {
			continue
		}
		if len(path) == 1 {
			return f.Value.Pos()
		}
		if st, ok := f.Value.(*ast.StructLit); ok {
			if p := fieldPos(st.Elts, path[1:]); p.IsValid() {
				return p
			}
		}
	}
	return token.NoPos
}
