// Package targets defines what a pipec target is: a generator that turns a
// checked model.Plan into the Kubernetes objects one family of controllers
// reads (Tekton, Argo CD, ...), validated by that family's own rules.
package targets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

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

// Memo remembers the specs that passed their upstream validation, so that
// a later run skips validating an object that did not change. Keys are
// hashes of the kind and spec; a memo must only hold keys made by the same
// pipec binary.
type Memo interface {
	Accepted(key string) bool
	Accept(key string)
}

type memoKey struct{}

// WithMemo returns ctx carrying m for Once.
func WithMemo(ctx context.Context, m Memo) context.Context {
	return context.WithValue(ctx, memoKey{}, m)
}

// Once validates the objects of one build once per distinct spec.
// Stamped-out objects (a pipeline per service from one template) often
// differ only in their names: their specs are validated once, and each
// object's name on its own. It is safe for concurrent use.
type Once struct {
	memo Memo // ctx's, or nil
	mu   sync.Mutex
	seen map[string]*onceEntry
}

type onceEntry struct {
	done     chan struct{}
	accepted bool
}

// NewOnce returns a Once for one build, backed by ctx's Memo if it carries
// one.
func NewOnce(ctx context.Context) *Once {
	m, _ := ctx.Value(memoKey{}).(Memo)
	return &Once{memo: m, seen: map[string]*onceEntry{}}
}

// Validate returns full(), the object's whole upstream validation, unless
// an object of the same kind and spec passed it before, in this build or,
// through the Memo, in an earlier run; then it returns name(), the part of
// the validation that reads the object's metadata. spec must hold all
// that the validation reads apart from what name checks, and kind the
// settings it reads from ctx (such as Tekton feature flags). A validation
// with findings, even warnings, is never remembered: every object with that
// spec is validated in full, so each finding is at its own object's source.
func (o *Once) Validate(kind string, spec any, full, name func() diag.List) diag.List {
	raw, err := json.Marshal(spec)
	if err != nil {
		return full()
	}
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(raw)
	key := hex.EncodeToString(h.Sum(nil))
	if o.memo != nil && o.memo.Accepted(key) {
		return name()
	}
	o.mu.Lock()
	e, validating := o.seen[key]
	if !validating {
		e = &onceEntry{done: make(chan struct{})}
		o.seen[key] = e
	}
	o.mu.Unlock()
	if validating {
		<-e.done
		if e.accepted {
			return name()
		}
		return full()
	}
	ds := full()
	e.accepted = len(ds) == 0
	close(e.done)
	if e.accepted && o.memo != nil {
		o.memo.Accept(key)
	}
	return ds
}
