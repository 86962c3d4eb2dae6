package compiler

import (
	"fmt"
	"slices"

	"cuelang.org/go/cue"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/policies"
	"github.com/pipec/pipec/targets"
)

// PolicyReport is what policy checking did besides findings.
type PolicyReport struct {
	// Checks are the checks of every pack in use, sorted by id.
	Checks []*policies.Check
	// Waivers say what each waiver did.
	Waivers []policies.WaiverStatus
	// Suppressed are the findings waivers suppressed.
	Suppressed []policies.Suppressed
}

// validateConcrete validates that every regular field of the configuration
// is concrete, except custom policy packs, whose `input` pipec fills later.
func validateConcrete(v cue.Value) error {
	it, err := v.Fields()
	if err != nil {
		return v.Validate(cue.Concrete(true))
	}
	var errs []error
	for it.Next() {
		if err := validateField(it.Selector().Unquoted(), it.Value()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return joinCUE(errs)
}

// validateField validates the configuration's top-level field name as
// validateConcrete does.
func validateField(name string, v cue.Value) error {
	if name != "policy" {
		return v.Validate(cue.Concrete(true))
	}
	it, err := v.Fields()
	if err != nil {
		return err
	}
	var errs []error
	for it.Next() {
		opts := []cue.Option{cue.Concrete(true)}
		if it.Selector().Unquoted() == "packs" {
			opts = nil
		}
		if err := it.Value().Validate(opts...); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return joinCUE(errs)
}

// attributeWaiver is the waiver an @waive(<check>, reason="...",
// expires="...") attribute on the user's field at p declares, or nil; it
// waives the check at and below the field.
func attributeWaiver(v cue.Value, p model.Path) *model.Waiver {
	a := v.Attribute("waive")
	if a.Err() != nil || p == "" {
		return nil
	}
	check, _ := a.String(0)
	reason, _, _ := a.Lookup(1, "reason")
	expires, _, _ := a.Lookup(1, "expires")
	return &model.Waiver{Check: check, Scope: p, Reason: reason, Expires: expires, Path: p, OnField: true}
}

// evaluatePolicies runs the packs the environments use over the compiled
// plan and objects and applies the waivers to their findings and to the
// configuration's (config: warnings and notes, as errors stop a build
// before).
func evaluatePolicies(packDef cue.Value, policy cue.Value, plan *model.Plan, objs []targets.Object, texts []policies.Text, today string, config diag.List, cpus int) (diag.List, *PolicyReport, error) {
	builtin, err := policies.BuiltinPacks()
	if err != nil {
		return nil, nil, err
	}
	packs := map[string]*policies.Pack{}
	for n, p := range builtin {
		packs[n] = p
	}
	var diags diag.List
	for _, name := range plan.Policy.Packs {
		path := plan.Policy.Path.Field("packs").Field(name)
		v := policy.LookupPath(cue.MakePath(cue.Str("packs"), cue.Str(name)))
		p, err := policies.LoadPack(v, packDef, string(path))
		if err != nil {
			d := diags.Report(rulePack, plan.Sources, path, "policy pack %q is not a valid pack: %v", name, err)
			d.Expected = "the `pack` value of a policy package: {name, checks: {<name>: {severity, category, standard, title, why, fix, examples, violations}}}"
			continue
		}
		if _, clash := packs[p.Name]; clash {
			d := diags.Report(rulePack, plan.Sources, path, "policy pack %q is named %q, like another pack", name, p.Name)
			d.Hint = "packs are named by their own name field; rename the pack"
			continue
		}
		if p.Name != name {
			d := diags.Report(rulePack, plan.Sources, path, "policy pack is registered as %q but names itself %q", name, p.Name)
			d.Expected = fmt.Sprintf("policy: packs: %q: ...", p.Name)
			continue
		}
		packs[p.Name] = p
	}
	names := make([]string, 0, len(packs))
	for n := range packs {
		names = append(names, n)
	}
	slices.Sort(names)

	assign := policies.Assignment{}
	checkNames := func(path model.Path, list []string) bool {
		ok := true
		for i, n := range list {
			if _, known := packs[n]; !known {
				c := &checker{plan: plan, src: plan.Sources}
				c.unknownName(path.Index(i), "policy pack", n, names)
				diags = append(diags, c.out...)
				ok = false
			}
		}
		return ok
	}
	if checkNames(plan.Policy.Path.Field("default"), plan.Policy.Default) {
		assign[""] = plan.Policy.Default
	}
	floor := productionFloor(plan.Policy.Default)
	var lowered diag.List
	var report []func()
	for _, e := range plan.Environments {
		if checkNames(e.Path.Field("policy"), e.Policy) {
			assign[e.Name] = e.Policy
			if !e.Production {
				continue
			}
			// Production's floor: the packs production runs by default
			// and those of policy.default check it whatever packs it
			// names (`policy: []` included); a finding it must live with
			// takes a waiver, with a reason and an expiry.
			runs, _ := policies.Expand(e.Policy, packs)
			var missing []string
			for _, n := range floor {
				if _, known := packs[n]; known && !slices.Contains(runs, n) {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				continue
			}
			missing = outermost(missing, packs)
			assign[e.Name] = append(slices.Clone(e.Policy), missing...)
			// Reported after the packs have run: a position may need the
			// configuration's CUE, which the build may have let go.
			report = append(report, func() {
				p := e.Path.Field("policy")
				if !plan.Sources.Has(p) {
					return
				}
				them := "it, so its checks apply"
				if len(missing) > 1 {
					them = "them, so their checks apply"
				}
				d := lowered.Report(ruleFloor, plan.Sources, p, "the policy of production environment %s leaves out %s: production always runs %s all the same",
					e.Name, quoteAll(missing), them)
				d.Expected = fmt.Sprintf("a policy that names %s, or no policy", quoteAll(outermost(floor, packs)))
				d.Hint = "production cannot lower its floor: to live with a finding of those packs, waive its check (policy: waivers, or @waive on the field) with a reason and an expiry"
			})
		}
	}
	if diags.HasErrors() {
		return diags, nil, nil
	}
	in, err := policies.NewInput(plan, objs, texts, policies.Settings{AllowedRegistries: plan.Policy.AllowedRegistries})
	if err != nil {
		return nil, nil, err
	}
	findings, err := policies.Run(packs, assign, in, plan.Sources, cpus)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range report {
		r()
	}
	rep := &PolicyReport{}
	known := map[string]bool{}
	used := map[string]bool{}
	for _, names := range assign {
		exp, _ := policies.Expand(names, packs)
		for _, n := range exp {
			used[n] = true
		}
	}
	for _, n := range names {
		if !used[n] {
			continue
		}
		for _, c := range packs[n].Checks {
			known[c.ID] = true
			rep.Checks = append(rep.Checks, c)
		}
	}
	// The compiler's warnings and notes can be waived; its errors cannot,
	// as the objects would be invalid.
	for _, r := range rules {
		if r.Severity < diag.Error {
			known[r.ID] = true
		}
	}
	refused, waivers := errorWaivers(plan)
	diags = append(diags, refused...)
	findings, rep.Waivers, rep.Suppressed = policies.ApplyWaivers(slices.Concat(config, lowered, findings), waivers, known, today, plan.Sources)
	return append(diags, findings...), rep, nil
}

// errorWaivers refuses the waivers of configuration errors, and returns
// the other waivers.
func errorWaivers(plan *model.Plan) (diag.List, []*model.Waiver) {
	var refused diag.List
	waivers := slices.DeleteFunc(slices.Clone(plan.Policy.Waivers), func(w *model.Waiver) bool {
		if !slices.ContainsFunc(rules, func(r diag.Rule) bool { return r.ID == w.Check && r.Severity == diag.Error }) {
			return false
		}
		at := policies.WaiverField(w, "check")
		refused = append(refused, diag.Diagnostic{Severity: diag.Error, Pos: plan.Sources.Lookup(at), Path: at, ID: policies.WaiverInvalid,
			Category: "waivers", Standard: "pipec", Source: "policy",
			Message:  fmt.Sprintf("waiver for %s, a configuration error, which cannot be waived", w.Check),
			Expected: "a waiver of a policy check, or of a configuration warning or note",
			Hint:     "fix the configuration instead: with the error, its objects would be invalid"})
		return true
	})
	return refused, waivers
}

// productionFloor are the packs every production environment runs,
// whatever its own policy names: those it runs when it names none
// (policies.ProductionDefault), those of policy.default, and the floor
// pack; sorted, each once.
func productionFloor(defaults []string) []string {
	floor := slices.Concat(policies.ProductionDefault, defaults, []string{policies.FloorPack})
	slices.Sort(floor)
	return slices.Compact(floor)
}

// outermost leaves out of names the packs that another of them extends:
// "restricted" says "baseline" too.
func outermost(names []string, packs map[string]*policies.Pack) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool {
		for _, o := range names {
			if o == n {
				continue
			}
			if exp, err := policies.Expand([]string{o}, packs); err == nil && slices.Contains(exp, n) {
				return true
			}
		}
		return false
	})
}
