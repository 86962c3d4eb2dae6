package cli

import (
	"context"
	"errors"
	"strconv"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
)

// compile runs the compiler on dir. Findings that are errors come back as an
// *exitError (code 1, or 2 when the configuration could not be evaluated);
// warnings are returned with the result for the caller to print.
func compile(ctx context.Context, dir string) (*compiler.Result, error) {
	res, err := compiler.Build(ctx, compiler.Options{Dir: dir})
	var ee *compiler.EvalError
	if errors.As(err, &ee) {
		return nil, &exitError{code: ExitEval, diags: ee.Diagnostics}
	}
	if err != nil {
		return nil, &exitError{code: ExitEval, msg: err.Error()}
	}
	if res.Diagnostics.HasErrors() {
		return nil, &exitError{code: ExitFindings, diags: res.Diagnostics, msg: summary(res.Diagnostics)}
	}
	return res, nil
}

// summary counts the findings, for the last line of output.
func summary(ds diag.List) string {
	errs, warns := 0, 0
	for _, d := range ds {
		switch d.Severity {
		case diag.Error:
			errs++
		case diag.Warning:
			warns++
		}
	}
	return plural(errs, "error") + ", " + plural(warns, "warning")
}

func plural(n int, word string) string {
	s := strconv.Itoa(n) + " " + word
	if n != 1 {
		s += "s"
	}
	return s
}
