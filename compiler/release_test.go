package compiler

import (
	"context"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestConfigurationReleased: when the policy packs run, nothing holds the
// configuration's CUE any more (its CUE context is collected) unless it
// declares a pack of its own; a finding's position builds it again.
func TestConfigurationReleased(t *testing.T) {
	var contexts, collected atomic.Int64
	loadedHook = func(l *loaded) {
		contexts.Add(1)
		runtime.AddCleanup(l.ctx, func(n *atomic.Int64) { n.Add(1) }, &collected)
	}
	t.Cleanup(func() { loadedHook = nil })
	dir, err := filepath.Abs("../examples/shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		extra    string
		released bool
	}{
		{"built-in packs", "package shop\n", true},
		{"a pack of its own", `package shop

policy: packs: acme: {
	name:    "acme"
	extends: []
	input:   _
	checks: "nothing": {
		severity: "info", category: "test", standard: "test", title: "Nothing", why: "A test.", fix: "None."
		examples: {pass: "", fail: ""}
		violations: []
	}
}
`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overlay := map[string][]byte{filepath.Join(dir, "extra.cue"): []byte(tc.extra)}
			contexts.Store(0)
			collected.Store(0)
			var atPolicies int64 = -1
			opts := Options{Dir: dir, Overlay: overlay, Policies: true, Today: "2026-11-22", Progress: func(s Stage) {
				if s == StagePolicy {
					// Cleanups run after a collection, on a goroutine of
					// their own: give them the time to.
					for i := 0; i < 20 && collected.Load() < contexts.Load(); i++ {
						runtime.GC()
						time.Sleep(time.Millisecond)
					}
					atPolicies = collected.Load()
				}
			}}
			res, err := Build(context.Background(), opts)
			if err != nil || res.Diagnostics.HasErrors() {
				t.Fatalf("%v %v", err, res.Diagnostics)
			}
			if contexts.Load() == 0 {
				t.Fatal("no configuration loaded")
			}
			// The helper's context is collected at the end of the check
			// stage in any case; the build's own, only when released.
			if got := atPolicies == contexts.Load(); got != tc.released {
				t.Errorf("%d of %d loaded contexts collected when the packs run; want all: %t", atPolicies, contexts.Load(), tc.released)
			}
			runtime.KeepAlive(res)
		})
	}
}
