package report

import (
	"errors"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
)

// Exit codes, shared by the CLI and the HTTP service.
const (
	// ExitOK: the configuration is valid (warnings allowed).
	ExitOK = 0
	// ExitFindings: the configuration has errors, or policy findings at or
	// above the threshold.
	ExitFindings = 1
	// ExitEval: the configuration could not be evaluated (CUE syntax or
	// load error, missing directory).
	ExitEval = 2
)

// FromBuild makes the report of a compiler.Build outcome and derives the
// exit code its findings call for: ExitEval if the configuration could not
// be evaluated, ExitFindings for configuration errors or policy findings at
// or above threshold, else ExitOK. An error that is not a
// *compiler.EvalError is returned as is.
func FromBuild(res *compiler.Result, err error, threshold diag.Severity) (*Report, int, error) {
	rep := &Report{}
	var ee *compiler.EvalError
	switch {
	case errors.As(err, &ee):
		rep.Findings = ee.Diagnostics
		rep.NotEvaluated = true
		return rep, ExitEval, nil
	case err != nil:
		return nil, ExitEval, err
	}
	rep.Findings = res.Diagnostics
	if res.Policy != nil {
		rep.Checks, rep.Waivers, rep.Suppressed = res.Policy.Checks, res.Policy.Waivers, res.Policy.Suppressed
	}
	// Configuration errors always fail; warnings and policy findings fail
	// at or above the threshold (--fail-on warn fails on a configuration
	// warning too).
	code := ExitOK
	for _, f := range res.Diagnostics {
		if f.Severity >= threshold || f.Configuration() && f.Severity == diag.Error {
			code = ExitFindings
		}
	}
	return rep, code, nil
}

// ParseFailOn parses a --fail-on value: deny, warn or never.
func ParseFailOn(s string) (diag.Severity, error) {
	switch s {
	case "deny", "":
		return diag.Error, nil
	case "warn":
		return diag.Warning, nil
	case "never":
		return diag.Error + 1, nil
	}
	return 0, errors.New("unknown fail-on " + `"` + s + `"` + "; expected deny, warn or never")
}
