package targets

import (
	"context"
	"testing"

	"github.com/pipec/pipec/diag"
)

type setMemo map[string]bool

func (m setMemo) Accepted(k string) bool { return m[k] }
func (m setMemo) Accept(k string)        { m[k] = true }

func TestValidateOnce(t *testing.T) {
	calls := 0
	ok := func() diag.List { calls++; return nil }
	bad := func() diag.List { calls++; return diag.List{{Severity: diag.Warning, Message: "w"}} }
	obj := map[string]any{"spec": map[string]any{"a": 1}}

	// Without a memo, every call validates.
	ValidateOnce(context.Background(), "v1 Task", obj, ok)
	ValidateOnce(context.Background(), "v1 Task", obj, ok)
	if calls != 2 {
		t.Fatalf("without a memo: %d validations, want 2", calls)
	}

	memo := setMemo{}
	ctx := WithMemo(context.Background(), memo)
	calls = 0
	for range 3 {
		if ds := ValidateOnce(ctx, "v1 Task", obj, ok); ds != nil {
			t.Fatalf("accepted object: %v", ds)
		}
	}
	if calls != 1 {
		t.Fatalf("unchanged accepted object: %d validations, want 1", calls)
	}
	// Another kind or a changed object is validated again.
	ValidateOnce(ctx, "v1 Pipeline", obj, ok)
	changed := map[string]any{"spec": map[string]any{"a": 2}}
	ValidateOnce(ctx, "v1 Task", changed, ok)
	if calls != 3 {
		t.Fatalf("other kind and changed object: %d validations, want 3", calls)
	}
	// Findings, even warnings, are never remembered.
	calls = 0
	rejected := map[string]any{"spec": map[string]any{"a": 3}}
	for range 2 {
		if ds := ValidateOnce(ctx, "v1 Task", rejected, bad); len(ds) != 1 {
			t.Fatalf("findings lost: %v", ds)
		}
	}
	if calls != 2 {
		t.Fatalf("object with findings: %d validations, want 2", calls)
	}
	if len(memo) != 3 {
		t.Fatalf("memo holds %d keys, want 3", len(memo))
	}
}
