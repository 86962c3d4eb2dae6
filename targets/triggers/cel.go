package triggers

import (
	"context"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/decls"
	"github.com/google/cel-go/common/types"
	celext "github.com/google/cel-go/ext"
	triggerscel "github.com/tektoncd/triggers/pkg/interceptors/cel"
)

// celEnv is Tekton Triggers' CEL environment: the same libraries,
// extension functions and variables as its CEL interceptor (makeCelEnv in
// tektoncd/triggers pkg/interceptors/cel, v0.35.0).
// It is built once: a cel.Env is immutable and safe for concurrent use,
// and building it costs more than compiling the expressions pipec emits.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	mapStrDyn := types.NewMapType(types.StringType, types.DynType)
	return cel.NewEnv(
		triggerscel.Triggers(context.Background(), "default", nil),
		celext.Strings(),
		celext.Encoders(),
		celext.Sets(),
		celext.Lists(),
		celext.Math(),
		cel.VariableDecls(
			decls.NewVariable("body", mapStrDyn),
			decls.NewVariable("header", mapStrDyn),
			decls.NewVariable("extensions", mapStrDyn),
			decls.NewVariable("requestURL", types.StringType),
		))
})

// CompileCEL reports whether expr compiles in Tekton Triggers' CEL
// environment, and whether it is a boolean when filter is set.
func CompileCEL(expr string, filter bool) error {
	env, err := celEnv()
	if err != nil {
		return err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return iss.Err()
	}
	if filter && ast.OutputType() != types.BoolType && ast.OutputType() != types.DynType {
		return &typeError{got: ast.OutputType().String()}
	}
	return nil
}

type typeError struct{ got string }

func (e *typeError) Error() string { return "the expression is of type " + e.got + ", not bool" }
