package targets

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pipec/pipec/diag"
)

type setMemo map[string]bool

func (m setMemo) Accepted(k string) bool { return m[k] }
func (m setMemo) Accept(k string)        { m[k] = true }

func TestOnce(t *testing.T) {
	calls, names := 0, 0
	ok := func() diag.List { calls++; return nil }
	bad := func() diag.List { calls++; return diag.List{{Severity: diag.Warning, Message: "w"}} }
	name := func() diag.List { names++; return nil }
	spec := map[string]any{"a": 1}

	// Without a memo, a spec is validated in full once per build, and
	// each object's name on its own.
	for range 2 {
		calls, names = 0, 0
		once := NewOnce(context.Background())
		for range 3 {
			once.Validate("v1 Task", spec, ok, name)
		}
		if calls != 1 || names != 2 {
			t.Fatalf("one spec, three objects: %d full validations and %d name checks, want 1 and 2", calls, names)
		}
	}

	memo := setMemo{}
	ctx := WithMemo(context.Background(), memo)
	calls, names = 0, 0
	NewOnce(ctx).Validate("v1 Task", spec, ok, name)
	for range 3 {
		if ds := NewOnce(ctx).Validate("v1 Task", spec, ok, name); ds != nil {
			t.Fatalf("accepted spec: %v", ds)
		}
	}
	if calls != 1 || names != 3 {
		t.Fatalf("spec accepted in an earlier run: %d full validations and %d name checks, want 1 and 3", calls, names)
	}
	// Another kind or a changed spec is validated again.
	once := NewOnce(ctx)
	once.Validate("v1 Pipeline", spec, ok, name)
	once.Validate("v1 Task", map[string]any{"a": 2}, ok, name)
	if calls != 3 {
		t.Fatalf("other kind and changed spec: %d full validations, want 3", calls)
	}
	// Findings, even warnings, are never remembered: each object with
	// that spec gets them at its own source.
	calls = 0
	rejected := map[string]any{"a": 3}
	once = NewOnce(ctx)
	for range 2 {
		if ds := once.Validate("v1 Task", rejected, bad, name); len(ds) != 1 {
			t.Fatalf("findings lost: %v", ds)
		}
	}
	if calls != 2 {
		t.Fatalf("spec with findings: %d full validations, want 2", calls)
	}
	if len(memo) != 3 {
		t.Fatalf("memo holds %d keys, want 3", len(memo))
	}
}

// TestOnceConcurrent: objects with one spec validated at once wait for the
// first validation instead of repeating it.
func TestOnceConcurrent(t *testing.T) {
	var calls atomic.Int32
	once := NewOnce(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			once.Validate("v1 Task", "spec", func() diag.List { calls.Add(1); return nil }, func() diag.List { return nil })
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d full validations of one spec, want 1", n)
	}
}
