package compiler

import (
	"errors"
	"fmt"
	"math"

	"github.com/antonmedv/expr"
	"github.com/antonmedv/expr/file"
	"github.com/prometheus/prometheus/promql/parser"
)

// conditionError compiles an Argo Rollouts success or failure condition as
// the controller does (utils/evaluate.EvalCondition in argo-rollouts
// v1.8.3, with the same expression language at the same version), with
// `result` of the type the query returns: a list of floats for an instant
// vector, a float for a scalar. It then runs it on a sample result, which
// must give a boolean. It returns what the controller would report, or nil.
func conditionError(cond string, t parser.ValueType) error {
	var result any = []float64{1}
	if t == parser.ValueTypeScalar {
		result = 1.0
	}
	// The functions have the controller's signatures: isNil(result) and
	// default(result, fallback) take the result as their first argument.
	env := map[string]any{
		"result":  result,
		"asInt":   func(any) int64 { return 0 },
		"asFloat": func(any) float64 { return 0 },
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func(any) bool { return false },
		"default": func(_, fallback any) any { return result },
	}
	program, err := expr.Compile(cond, expr.Env(env))
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return errors.New(fe.Message)
		}
		return err
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return err
	}
	if _, ok := out.(bool); !ok {
		return fmt.Errorf("expected bool, but got %T", out)
	}
	return nil
}
