package argo_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/targets/argo"
)

// TestPlatformSyncsServerSide: Argo CD applies pipec's own output (each
// environment's directory and ci/) server-side, since some of its objects
// grow with the services past what a client-side apply can annotate (the
// admission ClusterPolicies and the EventListener, in those directories
// here); app teams' Applications keep Argo CD's default.
func TestPlatformSyncsServerSide(t *testing.T) {
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: filepath.Join("..", "..", "examples", "shop")})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatal(err, res.Diagnostics)
	}
	synced := map[string]bool{} // the directories platform Applications sync
	platform, teams := 0, 0
	for _, o := range res.Objects {
		a, ok := o.Value.(*argo.Application)
		if !ok {
			continue
		}
		ssa := slices.Contains(a.Spec.SyncPolicy.SyncOptions, argo.SyncServerSide)
		if a.Spec.Project != argo.PlatformProject {
			teams++
			if ssa {
				t.Errorf("team Application %s syncs server-side", a.Name)
			}
			continue
		}
		platform++
		if !ssa {
			t.Errorf("platform Application %s syncs client-side: %v", a.Name, a.Spec.SyncPolicy.SyncOptions)
		}
		synced[filepath.Base(a.Spec.Source.Path)] = true
	}
	if platform == 0 || teams == 0 {
		t.Fatalf("%d platform and %d team Applications: the example tests nothing", platform, teams)
	}
	for _, kind := range []string{"ClusterPolicy", "EventListener"} {
		found := false
		for _, o := range res.Objects {
			if o.Kind == kind {
				found = true
				if dir := filepath.Base(o.Dir); !synced[dir] {
					t.Errorf("%s %s is in %s, which no platform Application syncs", kind, o.Name, o.Dir)
				}
			}
		}
		if !found {
			t.Errorf("the example has no %s", kind)
		}
	}
}
