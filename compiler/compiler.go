// Package compiler is pipec's library entry point: it loads a CUE
// configuration, unifies it with the embedded schema, checks it, decodes it
// into a model.Plan and runs the targets over it. It works without the CLI;
// the CLI is a thin consumer of Build.
package compiler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/panics"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/admission"
	"github.com/pipec/pipec/targets/argo"
	"github.com/pipec/pipec/targets/flux"
	"github.com/pipec/pipec/targets/kube"
	"github.com/pipec/pipec/targets/monitoring"
	"github.com/pipec/pipec/targets/scaling"
	"github.com/pipec/pipec/targets/tekton"
	"github.com/pipec/pipec/targets/triggers"
)

// Options configure a build.
type Options struct {
	// Dir holds the configuration's CUE package. Default ".".
	Dir string
	// Overlay provides file contents by absolute file name, read instead
	// of the disk (editors, tests, fuzzing).
	Overlay map[string][]byte
	// Targets to run; nil means all built-in targets.
	Targets []targets.Target
	// BaseDir is the directory file names in findings are relative to;
	// default the current directory.
	BaseDir string
	// Policies turns on policy checking with the packs the configuration
	// selects.
	Policies bool
	// Today is the date waivers are checked against, YYYY-MM-DD; default
	// today (UTC).
	Today string
	// Progress, when set, is told each stage as it starts, for progress
	// displays. It must not block.
	Progress func(Stage)
	// Generated, when set, is called once with the generated objects as
	// the result holds them, before the policy packs check them: a
	// caller may start work on them (rendering) in other goroutines
	// while the packs run, and must not change them. It is not called
	// when the build stops before. The objects are only valid to use
	// when the result is.
	Generated func([]targets.Object)
	// Env, when not nil, is the whole environment CUE module resolution
	// sees (CUE_REGISTRY, CUE_CACHE_DIR, CUE_CONFIG_DIR), instead of the
	// process's: a service sets CUE_REGISTRY=none so that a configuration
	// cannot make it fetch modules.
	Env []string
	// CPUs bounds what the compiler itself runs side by side: a second
	// CUE context for the large sections (from 2; it loads the
	// configuration a second time), the checks, and the policy packs of
	// different CUE contexts. Tekton's validation and the generated CEL
	// use GOMAXPROCS whatever it says. 0 is GOMAXPROCS; a service running
	// builds side by side sets 1.
	CPUs int
}

// cpus is o.CPUs, or GOMAXPROCS when unset.
func (o Options) cpus() int {
	if o.CPUs > 0 {
		return o.CPUs
	}
	return runtime.GOMAXPROCS(0)
}

// Stage is a stage of a build.
type Stage string

// Stages, in order.
const (
	StageLoad     Stage = "loading the configuration"
	StageCheck    Stage = "checking"
	StageGenerate Stage = "generating and validating"
	StagePolicy   Stage = "evaluating policies"
)

func (o Options) stage(s Stage) {
	if o.Progress != nil {
		o.Progress(s)
	}
}

// Result is the outcome of a build that could evaluate the configuration.
type Result struct {
	// Plan is the checked model; nil if the configuration did not unify
	// with the schema.
	Plan *model.Plan
	// Objects are the generated objects in a stable order; nil when
	// Diagnostics has errors.
	Objects []targets.Object
	// Diagnostics are the findings, sorted.
	Diagnostics diag.List
	// Policy is set when policies were checked.
	Policy *PolicyReport
}

// EvalError means the configuration could not be evaluated at all: the
// directory is missing, a file has a syntax error, an import cannot be
// resolved. Its diagnostics are positioned where possible.
type EvalError struct {
	Diagnostics diag.List
}

func (e *EvalError) Error() string { return e.Diagnostics.Error() }

// DefaultTargets are the built-in targets.
func DefaultTargets() []targets.Target {
	return []targets.Target{tekton.New(), triggers.New(), kube.New(), argo.New(), flux.New(), scaling.New(), monitoring.New(), admission.New()}
}

// Build loads, checks and compiles the configuration in opts.Dir. It returns
// an *EvalError when the configuration cannot be evaluated; findings about a
// configuration that evaluates are in Result.Diagnostics.
func Build(ctx context.Context, opts Options) (res *Result, err error) {
	// The CUE evaluator is third-party code: never let a panic in it reach
	// the user as a stack trace.
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			if p, ok := r.(panics.Recovered); ok { // from a goroutine of the build
				r, stack = p.Value, p.Stack
			}
			res = nil
			err = &EvalError{Diagnostics: diag.List{{
				Severity: diag.Error, ID: ruleInternal.ID,
				Message: fmt.Sprintf("internal error while evaluating the configuration: %v", r),
				Hint:    "please report this with the input that caused it; set PIPEC_DEBUG=1 for details",
				Source:  "pipec",
			}}}
			if os.Getenv("PIPEC_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "%s\n", stack)
			}
		}
	}()

	dir := cmp.Or(opts.Dir, ".")
	base := opts.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}

	if opts.Policies {
		// Compile the built-in policy packs (once per process) on another
		// CPU while the configuration loads.
		go policies.BuiltinPacks()
	}
	opts.stage(StageLoad)
	// A second context for the large sections (see helper), loading
	// beside this one for a large configuration. Build returns once it
	// has loaded, whatever comes of it.
	h := startHelper(opts.cpus(), dir, opts.Overlay, opts.Env)
	defer func() { h.wait() }()
	l, err := loadConfig(dir, opts.Overlay, opts.Env)
	if err != nil {
		x := &explainer{baseDir: base, l: &loaded{}}
		ds := x.explainLoad(err)
		if len(ds) == 0 {
			ds = diag.List{{Severity: diag.Error, Message: err.Error(), Source: "pipec"}}
		}
		for i := range ds {
			if !ds[i].Pos.IsValid() || strings.Contains(filepath.ToSlash(ds[i].Pos.File), "cue.mod/") {
				ds[i].ID = ruleLoad.ID // about the directory or module, not a value
			}
		}
		return nil, &EvalError{Diagnostics: withRules(ds, ruleLoad).Sort()}
	}
	h = h.neededBy(opts.cpus(), l.user, dir, opts.Overlay, opts.Env)
	x := newExplainer(l, base)

	opts.stage(StageCheck)
	src, waivers := userSources(x)
	texts := func() *textLog {
		if opts.Policies {
			return &textLog{}
		}
		return nil
	}
	// Part by part first; the whole configuration at once when a part
	// does not validate, for its errors.
	log := texts()
	plan, diags, policy, ok := decodeParts(l.user, x.root, log, src, h)
	if h != nil {
		// The helper's copy of the configuration is garbage now: collect
		// it, so that the collector's next goals follow the plan's size
		// rather than the check stage's two copies (at 1,000 services, a
		// peak 80 to 150 MiB lower, for one collection).
		h.wait()
		h = nil
		runtime.GC()
	}
	if !ok {
		unified := l.user.Unify(x.root)
		if err := validateConcrete(unified); err != nil {
			return &Result{Diagnostics: withRules(x.explain(err), ruleInternal).Sort()}, nil
		}
		log = texts()
		whole := wholeTree{node{v: unified, texts: log}}
		plan, diags = decodePlan(whole, src)
		policy = whole.field("policy").v
	}
	plan.Policy.Waivers = append(plan.Policy.Waivers, waivers...)
	normalize(plan)
	diags = append(diags, check(plan, opts.cpus())...)
	res = &Result{Plan: plan}
	if diags.HasErrors() {
		// A waiver of one of these errors is refused now, not after the
		// fix: it would not have helped.
		refused, _ := errorWaivers(plan)
		res.Diagnostics = withRules(append(diags, refused...), ruleInternal).Sort()
		return res, nil
	}
	tgts := opts.Targets
	if tgts == nil {
		tgts = DefaultTargets()
	}
	opts.stage(StageGenerate)
	for _, t := range tgts {
		objs, ds := t.Generate(ctx, plan)
		for i := range ds {
			if ds[i].ID == "" && (ds[i].Source == "" || ds[i].Source == "pipec") {
				ds[i].Source = t.Name() // a target's own finding
			}
		}
		res.Objects = append(res.Objects, objs...)
		diags = append(diags, ds...)
	}
	diags = append(diags, duplicateObjects(res.Objects, plan.Sources)...)
	if diags.HasErrors() {
		refused, _ := errorWaivers(plan)
		res.Diagnostics = withRules(append(diags, refused...), ruleInternal).Sort()
		res.Objects = nil
		return res, nil
	}
	targets.Sort(res.Objects, tgts)
	if opts.Generated != nil {
		opts.Generated(res.Objects)
	}
	if opts.Policies {
		today := opts.Today
		if today == "" {
			today = time.Now().UTC().Format(time.DateOnly)
		}
		packDef := l.packDef
		if len(plan.Policy.Packs) == 0 {
			// Only positions need the configuration's CUE from here,
			// and only for findings: let it go (release).
			x.release()
			policy, packDef = cue.Value{}, cue.Value{}
		}
		opts.stage(StagePolicy)
		// The configuration's warnings and notes go through the waivers
		// with the policy findings.
		findings, rep, err := evaluatePolicies(packDef, policy, plan, res.Objects, log.all, today, withRules(diags, ruleInternal), opts.cpus())
		if err != nil {
			return nil, &EvalError{Diagnostics: diag.List{{Severity: diag.Error, ID: rulePack.ID, Message: "policy evaluation failed: " + err.Error(),
				Hint: "a policy pack reads a field pipec's input does not have, or is not valid CUE; see `pipec explain` and the pack's source", Source: "policy"}}}
		}
		diags = findings
		res.Policy = rep
	}
	res.Diagnostics = withRules(diags, ruleInternal).Sort()
	return res, nil
}

// userFields walks the user's value (not the unified one, whose positions
// may be the schema's) once: it records the position of every field the
// user wrote that CUE gives at once, and the waivers their @waive
// attributes declare. The others (a struct the user's syntax unifies with
// a schema definition) are looked up when a finding needs them.
func userFields(x *explainer) (model.SourceMap, []*model.Waiver) {
	src := map[model.Path]model.Pos{}
	var waivers []*model.Waiver
	var walk func(v cue.Value, p model.Path)
	walk = func(v cue.Value, p model.Path) {
		if pos := valuePos(v); pos.IsValid() && !x.l.isSchemaFile(pos.Filename()) {
			src[p] = x.pos(pos)
		}
		if w := attributeWaiver(v, p); w != nil {
			waivers = append(waivers, w)
		}
		switch v.IncompleteKind() {
		case cue.StructKind:
			it, err := v.Fields()
			if err != nil {
				return
			}
			for it.Next() {
				walk(it.Value(), p.Field(it.Selector().Unquoted()))
			}
		case cue.ListKind:
			it, err := v.List()
			if err != nil {
				return
			}
			for i := 0; it.Next(); i++ {
				walk(it.Value(), p.Index(i))
			}
		}
	}
	walk(x.user, "")
	return model.PartialSourceMap(src, x.findUserPos), waivers
}

// userSources is userFields when a file has a @waive attribute. Otherwise
// there are no waivers to collect and no walk is needed: a position is
// looked up when a finding needs it, so a build with nothing to report
// never evaluates the configuration apart from the schema (a fifth of a
// large build's evaluation).
func userSources(x *explainer) (model.SourceMap, []*model.Waiver) {
	if x.l.waives {
		return userFields(x)
	}
	return model.LazySourceMap(x.findUserPos), nil
}

// findUserPos is the position of the user's value at p (valueUserPos).
func (x *explainer) findUserPos(p model.Path) model.Pos {
	if !x.reload() {
		return model.Pos{}
	}
	if v := x.user.LookupPath(cue.ParsePath(string(p))); v.Exists() {
		return x.pos(x.valueUserPos(v))
	}
	return model.Pos{}
}

// valueUserPos is where the user wrote v (valuePos), or NoPos when only the
// schema did. A value the user's syntax unifies with a schema definition,
// such as a step's securityContext inside `schema.#TaskDef & {...}`, has
// a conjunct of each: CUE's position for it may be the schema's, so the
// user's own conjunct is looked for.
func (x *explainer) valueUserPos(v cue.Value) token.Pos {
	user := func(p token.Pos) bool { return p.IsValid() && !x.l.isSchemaFile(p.Filename()) }
	if p := valuePos(v); user(p) {
		return p
	}
	if op, conjuncts := v.Expr(); op == cue.AndOp {
		for _, c := range conjuncts {
			if p := valuePos(c); user(p) {
				return p
			}
		}
	}
	return token.NoPos
}

// valuePos is where a field's value is written: for a scalar
// (replicas: 1, image: "..."), the value itself rather than the label, as
// findings point at the offending value; for a struct or list, where the
// field starts.
func valuePos(v cue.Value) token.Pos {
	if f, ok := v.Source().(*ast.Field); ok && isScalar(f.Value) {
		if p := f.Value.Pos(); p.IsValid() {
			return p
		}
	}
	return v.Pos()
}

// isScalar reports whether e is a literal scalar: a string, number, bool
// or null, possibly signed.
func isScalar(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "true" || e.Name == "false" || e.Name == "null"
	case *ast.UnaryExpr:
		return isScalar(e.X)
	}
	return false
}

// IsEvalError reports whether err means the configuration could not be
// evaluated.
func IsEvalError(err error) bool {
	var e *EvalError
	return errors.As(err, &e)
}
