// Package targets defines what a pipec target is: a generator that turns a
// checked model.Plan into the Kubernetes objects one family of controllers
// reads (Tekton, Argo CD, ...), validated by that family's own rules.
package targets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Object is one generated Kubernetes object.
type Object struct {
	// Target names the target that generated the object ("tekton").
	Target     string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Value is the typed API object; it marshals to the object's JSON.
	Value any
	// Source is the CUE path the object was generated from.
	Source model.Path
	// Dir is the directory, relative to an output directory, the object's
	// file goes in: its delivery unit (CIDir, EnvDir(env), ArgoCDDir).
	Dir string
}

// Target generates objects from a plan. Findings are positioned at the CUE
// source through plan.Sources. A target sees the plain Go model, never CUE.
type Target interface {
	// Name names the target ("tekton"); it is each Object's Target.
	Name() string
	// Kinds lists the kinds of its own API that the target generates, in
	// the order they must be applied (see Sort); Foundation kinds need not
	// be listed.
	Kinds() []string
	Generate(ctx context.Context, plan *model.Plan) ([]Object, diag.List)
}

// DefaultAndValidate applies an upstream object's own defaults, then runs
// its own validation, as the project's admission webhook does. Pass a copy:
// o is changed.
func DefaultAndValidate(ctx context.Context, o interface {
	apis.Defaultable
	apis.Validatable
}) *apis.FieldError {
	o.SetDefaults(ctx)
	return o.Validate(ctx)
}

// Memo remembers the objects that passed their upstream validation, so
// that a later run skips validating an object that did not change. Keys
// are hashes of the object; a memo must only hold keys made by the same
// pipec binary.
type Memo interface {
	Accepted(key string) bool
	Accept(key string)
}

type memoKey struct{}

// WithMemo returns ctx carrying m for ValidateOnce.
func WithMemo(ctx context.Context, m Memo) context.Context {
	return context.WithValue(ctx, memoKey{}, m)
}

// ValidateOnce returns validate(), unless ctx carries a Memo that accepted
// the same object (the same kind and JSON) before. A validation with no
// findings at all is remembered; one with findings, even warnings, is run
// again every time, so its findings are never lost. validate must depend on
// nothing but obj and pipec's binary: a validation that reads settings from
// ctx (such as Tekton feature flags) needs them in kind.
func ValidateOnce(ctx context.Context, kind string, obj any, validate func() diag.List) diag.List {
	m, _ := ctx.Value(memoKey{}).(Memo)
	if m == nil {
		return validate()
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return validate()
	}
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(raw)
	key := hex.EncodeToString(h.Sum(nil))
	if m.Accepted(key) {
		return nil
	}
	ds := validate()
	if len(ds) == 0 {
		m.Accept(key)
	}
	return ds
}
