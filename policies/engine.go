package policies

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/cueload"
	"github.com/pipec/pipec/internal/panics"
	"github.com/pipec/pipec/model"
)

// Check is a check's metadata.
type Check struct {
	// ID is pipec/<pack>/<check>.
	ID       string `json:"id"`
	Pack     string `json:"pack"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Category string `json:"category"`
	Standard string `json:"standard"`
	Title    string `json:"title"`
	Why      string `json:"why"`
	Fix      string `json:"fix"`
	Examples struct {
		// In is where the fragments go, a #Place of the policy package
		// (Places); "" when the pack does not say.
		In   string `json:"in,omitempty"`
		Pass string `json:"pass"`
		Fail string `json:"fail"`
		// Refused says pipec itself refuses the failing fragment, before
		// any pack runs.
		Refused bool `json:"refused,omitempty"`
	} `json:"examples"`
}

// Pack is a loaded policy pack.
type Pack struct {
	Name        string
	Description string
	Extends     []string
	Checks      []*Check
	// Source says where it came from: "builtin" or the CUE path of the
	// configuration field holding it.
	Source string
	v      cue.Value
	// usesObjects reports whether the pack reads input.objects, the
	// rendered objects, which are most of the input's size.
	usesObjects bool
	// split are the pack's checks in parts, each evaluated over the part
	// of the input it reads (parts); nil when the pack's source was not
	// analysed, and every check reads all of the input.
	split []part
	// build builds the pack's value again in a new CUE context, for a
	// copy that evaluates batches beside the pack; nil when it cannot.
	build func() (cue.Value, error)
	mu    sync.Mutex
	lent  bool    // the pack itself is in use (borrow)
	spare []*Pack // copies not in use
}

// Places says where the example fragments of each #Place of the policy
// package go, as `pipec explain` tells it.
var Places = map[string]string{
	"config":     "at the top level of a configuration",
	"pipeline":   "in a pipeline",
	"task":       "in a task",
	"step":       "in a step",
	"permission": "in a permission of a pipeline",
	"autoscaler": "in an autoscaler",
	"input":      "in the input pipec gives policy packs",
}

// ExampleHeadings are the headings of the check's passing and failing
// examples: where they go and, for the failing one, what stops it when
// the check never sees it.
func (c *Check) ExampleHeadings() (pass, fail string) {
	pass, fail = "Passes", "Fails"
	where, ok := Places[c.Examples.In]
	if !ok {
		return pass, fail
	}
	failWhere := where
	switch {
	case c.Examples.In == "input":
		failWhere += "; no configuration makes pipec generate this"
	case c.Examples.Refused:
		failWhere += "; pipec itself refuses this, before any policy pack runs"
	}
	return pass + " (" + where + ")", fail + " (" + failWhere + ")"
}

// CheckID is the stable id of a check.
func CheckID(pack, check string) string { return "pipec/" + pack + "/" + check }

var builtin = sync.OnceValues(loadBuiltin)

// BuiltinPacks returns the built-in packs, loaded once per process.
func BuiltinPacks() (map[string]*Pack, error) {
	return builtin()
}

// loadBuiltin loads the embedded policy package and the built-in packs.
func loadBuiltin() (map[string]*Pack, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	root := "/pipec-policies"
	ov := map[string]load.Source{
		path.Join(root, "cue.mod/module.cue"): load.FromString(cueload.ModuleFile(Module)),
	}
	files.AddTo(ov, root)
	args := []string{"."}
	for _, name := range Builtin {
		args = append(args, "./"+name)
	}
	insts := load.Instances(args, &load.Config{Dir: root, ModuleRoot: root, Overlay: ov})
	for _, inst := range insts {
		if inst.Err != nil {
			return nil, fmt.Errorf("built-in policies: %w", inst.Err)
		}
	}
	// Each pack in a CUE context of its own, so that packs evaluate side
	// by side (Run).
	packs := map[string]*Pack{}
	for i, name := range Builtin {
		vals, err := cuecontext.New().BuildInstances([]*build.Instance{insts[0], insts[i+1]})
		if err != nil {
			return nil, fmt.Errorf("built-in policies: %w", err)
		}
		p, err := LoadPack(vals[1].LookupPath(packPath), vals[0].LookupPath(PackDefPath), "builtin")
		if err != nil {
			return nil, fmt.Errorf("built-in pack %s: %w", name, err)
		}
		p.analyse(insts[i+1].Files)
		pair := []*build.Instance{insts[0], insts[i+1]}
		p.build = func() (cue.Value, error) {
			vals, err := cuecontext.New().BuildInstances(pair)
			if err != nil {
				return cue.Value{}, err
			}
			return vals[1].LookupPath(packPath), nil
		}
		packs[name] = p
	}
	return packs, nil
}

// LoadPack checks a pack value against def (#Pack of the policy package,
// from the same CUE context) and reads its checks.
func LoadPack(v, def cue.Value, source string) (*Pack, error) {
	if !v.Exists() {
		return nil, fmt.Errorf("no pack value")
	}
	// Check the pack against #Pack, but evaluate the pack as written:
	// unifying every input with #Input again costs more than the checks.
	checked := v.Unify(def)
	if err := checked.Validate(); err != nil {
		return nil, err
	}
	p := &Pack{Source: source, v: v}
	v = checked
	var err error
	if p.Name, err = v.LookupPath(cue.ParsePath("name")).String(); err != nil {
		return nil, fmt.Errorf("the pack has no name: %w", err)
	}
	p.Description, _ = v.LookupPath(cue.ParsePath("description")).String()
	_ = v.LookupPath(cue.ParsePath("extends")).Decode(&p.Extends)
	it, err := v.LookupPath(cue.ParsePath("checks")).Fields()
	if err != nil {
		return nil, fmt.Errorf("pack %s has no checks: %w", p.Name, err)
	}
	for it.Next() {
		c := &Check{Pack: p.Name, Name: it.Selector().Unquoted()}
		cv := it.Value()
		for field, dst := range map[string]*string{
			"severity": &c.Severity, "category": &c.Category, "standard": &c.Standard, "title": &c.Title,
			"why": &c.Why, "fix": &c.Fix, "examples.pass": &c.Examples.Pass, "examples.fail": &c.Examples.Fail,
		} {
			s, err := cv.LookupPath(cue.ParsePath(field)).String()
			if err != nil {
				return nil, fmt.Errorf("check %s of pack %s: %s: %w", c.Name, p.Name, field, err)
			}
			*dst = s
		}
		if in := cv.LookupPath(cue.ParsePath("examples.in")); in.Exists() {
			if c.Examples.In, err = in.String(); err != nil {
				return nil, fmt.Errorf("check %s of pack %s: examples.in: %w", c.Name, p.Name, err)
			}
		}
		if r := cv.LookupPath(cue.ParsePath("examples.refused")); r.Exists() {
			if c.Examples.Refused, err = r.Bool(); err != nil {
				return nil, fmt.Errorf("check %s of pack %s: examples.refused: %w", c.Name, p.Name, err)
			}
		}
		if _, ok := diag.ParseLevel(c.Severity); !ok {
			return nil, fmt.Errorf("check %s of pack %s: severity %q; expected deny, warn or info", c.Name, p.Name, c.Severity)
		}
		c.ID = CheckID(p.Name, c.Name)
		p.Checks = append(p.Checks, c)
	}
	sort.Slice(p.Checks, func(i, j int) bool { return p.Checks[i].Name < p.Checks[j].Name })
	p.usesObjects = p.readsObjects()
	return p, nil
}

// readsObjects finds out whether any check reads input.objects: it
// evaluates the checks over an empty input without objects and sees which
// fail.
func (p *Pack) readsObjects() bool {
	empty := &Input{}
	empty.fillEmpty()
	data, err := json.Marshal(empty)
	if err != nil {
		return true
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return true
	}
	delete(m, "objects")
	data, _ = json.Marshal(m)
	v := p.v.FillPath(inputPath, p.v.Context().CompileBytes(data))
	for _, c := range p.Checks {
		var vs []Violation
		if err := v.LookupPath(violationsPath(c.Name)).Decode(&vs); err != nil {
			return true
		}
	}
	return false
}

// analyse finds what each check reads in files, the pack's package, and
// splits the pack's checks into parts by what they read.
func (p *Pack) analyse(files []*ast.File) {
	byCheck := packReads(files)
	if byCheck == nil {
		return
	}
	p.split = p.parts(byCheck)
	for _, g := range p.split {
		if _, ok := g.reads["objects"]; ok || g.reads == nil {
			p.usesObjects = true
		}
	}
}

// Violation is one finding of a check, as the pack reports it.
type Violation struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Evaluate runs the pack's checks over in.
func (p *Pack) Evaluate(in *Input) (map[*Check][]Violation, error) {
	q := p.borrow()
	if q == nil {
		return nil, p.inUse()
	}
	defer p.giveBack(q)
	j := newPackJob(p, in, "")
	for i := range j.batches {
		j.evaluateBatch(q, i)
	}
	j.finish(q, map[string]cue.Value{})
	return j.res, j.err
}

// borrow returns the pack itself or, while it is in use, a copy of it in
// a CUE context of its own (a CUE context is not safe for concurrent
// use), for giveBack once done; nil when the pack is in use and cannot be
// copied (a custom pack, or the copy failed to build). Copies are kept
// for the next use.
func (p *Pack) borrow() *Pack {
	p.mu.Lock()
	if !p.lent {
		p.lent = true
		p.mu.Unlock()
		return p
	}
	if n := len(p.spare); n > 0 {
		q := p.spare[n-1]
		p.spare = p.spare[:n-1]
		p.mu.Unlock()
		return q
	}
	p.mu.Unlock()
	if p.build == nil {
		return nil
	}
	v, err := p.build()
	if err != nil {
		return nil
	}
	return &Pack{Name: p.Name, Checks: p.Checks, Source: p.Source, v: v, usesObjects: p.usesObjects, split: p.split}
}

// inUse is the error of an evaluation that could borrow neither the pack
// nor a copy of it.
func (p *Pack) inUse() error {
	return fmt.Errorf("policy pack %s is in use and cannot be copied", p.Name)
}

// giveBack ends the use of q, which borrow returned.
func (p *Pack) giveBack(q *Pack) {
	p.mu.Lock()
	if q == p {
		p.lent = false
	} else {
		p.spare = append(p.spare, q)
	}
	p.mu.Unlock()
}

// compile turns the input into a CUE value in the pack's context, leaving
// out the rendered objects when the pack does not read them.
func (p *Pack) compile(in *Input) (cue.Value, error) {
	if p.usesObjects {
		if err := in.loadObjects(); err != nil {
			return cue.Value{}, err
		}
	} else {
		c := *in
		c.Objects = []Object{}
		in = &c
	}
	return p.v.Context().Encode(in), nil
}

func (p *Pack) evaluate(iv cue.Value) (map[*Check][]Violation, error) {
	out := map[*Check][]Violation{}
	return out, p.evaluateChecks(iv, p.Checks, out)
}

// evaluateChecks evaluates the pack over the compiled input iv and adds
// the violations of checks to out.
func (p *Pack) evaluateChecks(iv cue.Value, checks []*Check, out map[*Check][]Violation) error {
	if err := iv.Err(); err != nil {
		return err
	}
	v := p.v.FillPath(inputPath, iv)
	for _, c := range checks {
		var vs []Violation
		if err := v.LookupPath(violationsPath(c.Name)).Decode(&vs); err != nil {
			return fmt.Errorf("check %s: %w", c.ID, err)
		}
		out[c] = append(out[c], vs...) // a check split into runs of items adds to it
	}
	return nil
}

// Assignment says which packs check which environments; "" stands for what
// belongs to no environment.
type Assignment map[string][]string

// Expand resolves extends: every pack an environment uses, with the packs
// they extend, deduplicated and sorted.
func Expand(names []string, packs map[string]*Pack) ([]string, error) {
	seen := map[string]bool{}
	var visit func(n string, chain []string) error
	visit = func(n string, chain []string) error {
		if slices.Contains(chain, n) {
			return fmt.Errorf("pack %s extends itself through %s", n, strings.Join(chain, " -> "))
		}
		p, ok := packs[n]
		if !ok {
			return fmt.Errorf("unknown policy pack %q", n)
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		for _, e := range p.Extends {
			if err := visit(e, append(chain, n)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Run evaluates the packs over the environments assigned to them and
// returns the findings, positioned through src, sorted and deduplicated,
// on up to cpus CPUs.
func Run(packs map[string]*Pack, assign Assignment, in *Input, src model.SourceMap, cpus int) (diag.List, error) {
	envsOf := map[string]map[string]bool{}
	for env, names := range assign {
		expanded, err := Expand(names, packs)
		if err != nil {
			return nil, err
		}
		for _, n := range expanded {
			if envsOf[n] == nil {
				envsOf[n] = map[string]bool{}
			}
			envsOf[n][env] = true
		}
	}
	names := make([]string, 0, len(envsOf))
	for n := range envsOf {
		names = append(names, n)
	}
	slices.Sort(names)
	var out diag.List
	seen := map[string]bool{}
	// Packs that check the same environments share their part of the
	// input. The batches of the built-in packs evaluate side by side, on
	// up to cpus CPUs, each worker with the pack or a copy of it in a CUE
	// context of its own (borrow); other packs, all of a CUE context's
	// one after the other, sharing the input they compile.
	filtered := map[string]*Input{}
	jobs := make([]packJob, len(names))
	byContext := map[*cue.Context][]int{}
	var contexts []*cue.Context
	for i, n := range names {
		p := packs[n]
		envs := strings.Join(sortedSet(envsOf[n]), ",")
		fin, ok := filtered[envs]
		if !ok {
			fin = in.Filter(envsOf[n])
			filtered[envs] = fin
		}
		if p.usesObjects {
			if err := fin.loadObjects(); err != nil {
				return nil, err
			}
		}
		jobs[i] = newPackJob(p, fin, envs)
		ctx := p.v.Context()
		if byContext[ctx] == nil {
			contexts = append(contexts, ctx)
		}
		byContext[ctx] = append(byContext[ctx], i)
	}
	// The tasks: each batch of the analysed packs that copies can
	// evaluate, on any CPU; the other packs, all of a context's one after
	// the other.
	var tasks []func(w *worker)
	var batched []int
	for _, ctx := range contexts {
		own := byContext[ctx]
		if !slices.ContainsFunc(own, func(i int) bool { return jobs[i].batches == nil || jobs[i].p.build == nil }) {
			for _, i := range own {
				for b := range jobs[i].batches {
					tasks = append(tasks, func(w *worker) { jobs[i].evaluateBatch(w.pack(jobs[i].p), b) })
				}
			}
			batched = append(batched, own...)
			continue
		}
		tasks = append(tasks, func(w *worker) {
			compiled := map[string]cue.Value{}
			for _, i := range own {
				q := w.pack(jobs[i].p)
				for b := range jobs[i].batches {
					jobs[i].evaluateBatch(q, b)
				}
				jobs[i].finish(q, compiled)
			}
		})
	}
	workers := make([]worker, max(1, min(cpus, len(tasks))))
	var next atomic.Int64
	var wg sync.WaitGroup
	for k := range workers {
		w := &workers[k]
		wg.Go(func() {
			defer func() {
				// A copy whose evaluation stopped half way is not used again.
				if w.panic = panics.Recover(recover()); w.panic == nil {
					w.giveBack()
				}
			}()
			for t := next.Add(1) - 1; t < int64(len(tasks)); t = next.Add(1) - 1 {
				tasks[t](w)
			}
		})
	}
	wg.Wait()
	for _, w := range workers {
		if w.panic != nil {
			panic(w.panic) // where the caller recovers it, with the worker's stack
		}
	}
	for _, i := range batched {
		p := jobs[i].p
		q := p.borrow()
		jobs[i].finish(q, map[string]cue.Value{})
		if q != nil {
			p.giveBack(q)
		}
	}
	for i, n := range names {
		res, err := jobs[i].res, jobs[i].err
		if err != nil {
			return nil, fmt.Errorf("policy pack %s: %w", n, err)
		}
		for _, c := range packs[n].Checks {
			sev, _ := diag.ParseLevel(c.Severity)
			for _, v := range res[c] {
				key := c.ID + "\x00" + v.Path + "\x00" + v.Message
				if seen[key] {
					continue
				}
				seen[key] = true
				path := model.Path(v.Path)
				out = append(out, diag.Diagnostic{
					Severity: sev, Pos: src.Lookup(path), Path: path, Message: v.Message, Hint: c.Fix,
					Source: "policy", ID: c.ID, Category: c.Category, Standard: c.Standard,
				})
			}
		}
	}
	return out.Sort(), nil
}

// worker evaluates tasks of Run on one CPU, with the packs or copies of
// them it borrowed, for its own use until it stops.
type worker struct {
	copies map[*Pack]*Pack
	panic  any
}

// pack is the worker's p or copy of p (nil: neither could be had; the
// evaluation fails, and is done again after).
func (w *worker) pack(p *Pack) *Pack {
	q, ok := w.copies[p]
	if !ok {
		q = p.borrow()
		if w.copies == nil {
			w.copies = map[*Pack]*Pack{}
		}
		w.copies[p] = q
	}
	return q
}

func (w *worker) giveBack() {
	for p, q := range w.copies {
		if q != nil {
			p.giveBack(q)
		}
	}
}

// packJob is the evaluation of a pack over the input of its
// environments: batch by batch when its source was analysed, each batch
// over the part of the input it reads, on a copy of the pack or the pack
// itself; else, or when a batch fails, over all of the input.
type packJob struct {
	p       *Pack
	in      *Input
	envs    string
	batches []part
	results []map[*Check][]Violation // of each batch
	errs    []error
	res     map[*Check][]Violation
	err     error
}

func newPackJob(p *Pack, in *Input, envs string) packJob {
	j := packJob{p: p, in: in, envs: envs}
	if p.split != nil {
		j.batches = in.batches(p.split)
		j.results = make([]map[*Check][]Violation, len(j.batches))
		j.errs = make([]error, len(j.batches))
	}
	return j
}

// evaluateBatch evaluates batch i with q, the job's pack or a copy of it
// (nil: neither could be had).
func (j *packJob) evaluateBatch(q *Pack, i int) {
	if q == nil {
		j.errs[i] = j.p.inUse()
		return
	}
	iv, err := j.in.encodePart(q.v.Context(), j.batches[i])
	if err != nil {
		j.errs[i] = err
		return
	}
	out := map[*Check][]Violation{}
	j.errs[i] = q.evaluateChecks(iv, j.batches[i].checks, out)
	j.results[i] = out
}

// finish puts the batches' results together, in order, once q (the
// pack or a copy of it; nil: neither could be had) has evaluated again
// any batch that failed on a worker. When a batch fails again, or the
// pack was not analysed, it evaluates the pack over all of the input (for
// the error a pack that reads all of the input would give). compiled
// holds the inputs compiled in q's context, by pack kind and
// environments.
func (j *packJob) finish(q *Pack, compiled map[string]cue.Value) {
	if q == nil {
		j.err = j.p.inUse()
		return
	}
	failed := false
	for i, err := range j.errs {
		if err != nil {
			if j.evaluateBatch(q, i); j.errs[i] != nil {
				failed = true
			}
		}
	}
	if j.batches != nil && !failed {
		j.res = map[*Check][]Violation{}
		for _, out := range j.results {
			for c, vs := range out {
				j.res[c] = append(j.res[c], vs...)
			}
		}
		j.results = nil
		return
	}
	j.results = nil
	key := fmt.Sprintf("%t/%s", q.usesObjects, j.envs)
	iv, ok := compiled[key]
	if !ok {
		if iv, j.err = q.compile(j.in); j.err != nil {
			return
		}
		compiled[key] = iv
	}
	j.res, j.err = q.evaluate(iv)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
