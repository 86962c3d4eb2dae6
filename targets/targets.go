// Package targets defines what a pipec target is: a generator that turns a
// checked model.Plan into the Kubernetes objects one family of controllers
// reads (Tekton, Argo CD, ...), validated by that family's own rules.
package targets

import (
	"context"

	"knative.dev/pkg/apis"

	"github.com/pipec/pipec/internal/diag"
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
	// file goes in: its delivery unit ("ci", "environments/prod",
	// "argocd").
	Dir string
}

// Target generates objects from a plan. Findings are positioned at the CUE
// source through plan.Sources.
type Target interface {
	Name() string
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
