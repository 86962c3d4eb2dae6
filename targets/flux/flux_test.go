package flux_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/flux"
)

// TestTenantsStayInTheirNamespace holds what lets Flux run with
// --no-cross-namespace-refs=true and --default-service-account: every app
// object is in its environment's namespace, refers to a source there, is
// reconciled as its team's ServiceAccount there and applies into that
// namespace only; only pipec's own Kustomizations, in Flux's namespace,
// run as the controller. The example and every build case are checked.
func TestTenantsStayInTheirNamespace(t *testing.T) {
	var results []*compiler.Result
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/flux-shop"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("examples/flux-shop: %v %v", err, res.Diagnostics)
	}
	results = append(results, res)
	cases, _ := filepath.Glob("testdata/build/*.txtar")
	for _, c := range cases {
		res, err := targettest.Build(c)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	apps := 0
	for _, res := range results {
		for _, o := range res.Objects {
			if o.Target != flux.Name {
				continue
			}
			switch v := o.Value.(type) {
			case *kustomizev1.Kustomization:
				if v.Namespace == "flux-system" {
					if v.Spec.ServiceAccountName != flux.PlatformServiceAccount || o.Dir != flux.Dir {
						t.Errorf("platform Kustomization %s: account %q, directory %s", v.Name, v.Spec.ServiceAccountName, o.Dir)
					}
					continue
				}
				apps++
				tenant(t, o, v.Namespace, v.Spec.SourceRef.Namespace, v.Spec.ServiceAccountName, v.Spec.TargetNamespace, v.Labels)
			case *helmv2.HelmRelease:
				apps++
				tenant(t, o, v.Namespace, v.Spec.Chart.Spec.SourceRef.Namespace, v.Spec.ServiceAccountName, v.Spec.TargetNamespace, v.Labels)
				if v.Spec.StorageNamespace != v.Namespace {
					t.Errorf("HelmRelease %s/%s keeps its release in %q", v.Namespace, v.Name, v.Spec.StorageNamespace)
				}
			case *sourcev1.GitRepository:
				if v.Spec.Reference == nil {
					t.Errorf("GitRepository %s/%s follows Flux's default branch (master), not the revision asked for", v.Namespace, v.Name)
				}
			}
		}
	}
	if apps < 5 {
		t.Fatalf("only %d app Kustomizations and HelmReleases: the test checks too little", apps)
	}
}

func tenant(t *testing.T, o targets.Object, ns, sourceNS, sa, targetNS string, labels map[string]string) {
	t.Helper()
	env, _ := targets.DirEnv(o.Dir)
	if o.Dir != targets.EnvDir(env) || labels[targets.LabelEnvironment] != env {
		t.Errorf("%s %s/%s is delivered from %s, not its environment's directory", o.Kind, ns, o.Name, o.Dir)
	}
	if sourceNS != "" && sourceNS != ns {
		t.Errorf("%s %s/%s reads a source in %s", o.Kind, ns, o.Name, sourceNS)
	}
	if sa != flux.TenantAccount(labels[flux.LabelTeam]) {
		t.Errorf("%s %s/%s is reconciled as %q, not its team's ServiceAccount", o.Kind, ns, o.Name, sa)
	}
	if targetNS != ns {
		t.Errorf("%s %s/%s applies into %q", o.Kind, ns, o.Name, targetNS)
	}
}

// TestHelmValues holds HelmValues to how `helm --set` (Helm's strvals,
// which Argo CD's parameters go through) types values.
func TestHelmValues(t *testing.T) {
	got := flux.HelmValues(map[string]string{
		"image.repository": "ghcr.io/acme/api", "image.tag": "1.4.0", "service.port": "8080",
		"enabled": "true", "off": "FALSE", "zero": "0", "empty": "", "zone": "0123", "nothing": "null", "ratio": "0.5", "big": "-12",
	})
	want := map[string]any{
		"image":   map[string]any{"repository": "ghcr.io/acme/api", "tag": "1.4.0"},
		"service": map[string]any{"port": int64(8080)},
		"enabled": true, "off": false, "zero": int64(0), "empty": "", "zone": "0123", "nothing": nil, "ratio": "0.5", "big": int64(-12),
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("HelmValues:\n got %s\nwant %s", g, w)
	}
}
