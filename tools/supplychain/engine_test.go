package supplychain

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	kyvernov1 "github.com/kyverno/kyverno/api/kyverno/v1"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/processor"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/store"
	kconfig "github.com/kyverno/kyverno/pkg/config"
	"github.com/kyverno/kyverno/pkg/engine"
	"github.com/kyverno/kyverno/pkg/engine/adapters"
	"github.com/kyverno/kyverno/pkg/engine/factories"
	"github.com/kyverno/kyverno/pkg/engine/jmespath"
	"github.com/kyverno/kyverno/pkg/imageverifycache"
	"github.com/kyverno/kyverno/pkg/registryclient"
	engineutils "github.com/kyverno/kyverno/pkg/utils/engine"
	policyvalidation "github.com/kyverno/kyverno/pkg/validation/policy"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// allowConfig is config (a pipeline whose sign gate admits its images
// into prod) with prod's allow-list and an app of the gated image whose
// blue-green release runs a test Job (an image pipec places in prod's
// namespace).
const allowConfig = config + `
environments: prod: admission: allow: ["docker.io/library/nginx", "quay.io/prometheus/*"]

teams: acme: environments: ["prod"]

apps: api: {
	team: "acme"
	source: repoURL: "https://github.com/acme/api.git"
	image: {repository: %q, digest: %q}
	tests: smoke: image: %q
	environments: prod: strategy: blueGreen: activeService: "api"
}
`

// smokeImage is the app's test image, which pipec runs in prod's
// namespace as an analysis Job.
const smokeImage = "ghcr.io/acme/api-smoke:1.0.0@sha256:3b6c6f5f0b8e1a2d4c7e9f1a3b5d7e9f0a2c4e6f8a1b3d5f7e9a0c2e4f6a8b1d"

// TestKyvernoEngineAdmitsOnlyWhatTheEnvironmentAdmits runs Kyverno's own
// policy processing, the code of `kyverno apply` (its PolicyProcessor:
// the engine's mutation, image verification, with the annotation patches
// the webhook writes, then validation, autogen included), on the prod
// ClusterPolicy pipec generated, against Pods and a Deployment in prod's
// namespace; whether the request is refused is Kyverno's webhook decision
// (engineutils.BlockRequest with the policy's failurePolicy). The gated
// image is signed with cosign in a registry on loopback.
func TestKyvernoEngineAdmitsOnlyWhatTheEnvironmentAdmits(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/api"
	keys, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte("test"), nil })
	if err != nil {
		t.Fatal(err)
	}
	signed, unsigned := push(t, repo), push(t, repo)
	sign(t, signed, keys)

	policy := generateFrom(t, fmt.Sprintf(allowConfig, repo, string(keys.PublicBytes), repo, signed.DigestStr(), smokeImage))
	if _, err := policyvalidation.Validate(policy, nil, nil, true, "", ""); err != nil {
		t.Fatalf("Kyverno's policy validation refuses the policy: %v", err)
	}

	type containers map[string][]string
	for _, c := range []struct {
		name  string
		kind  string
		pod   containers
		admit bool
	}{
		{"signed gated image and allow-listed images", "Pod", containers{"containers": {signed.String(), "nginx:1.27", "quay.io/prometheus/node-exporter:v1.8.2"}}, true},
		{"allow-listed image written in full", "Pod", containers{"containers": {"docker.io/library/nginx:1.27"}}, true},
		{"test Job image pipec places", "Pod", containers{"containers": {smokeImage}}, true},
		{"unsigned gated image", "Pod", containers{"containers": {unsigned.String()}}, false},
		{"third-party image", "Pod", containers{"containers": {signed.String(), "docker.io/library/redis:7"}}, false},
		{"third-party image in short form", "Pod", containers{"containers": {signed.String(), "redis:7"}}, false},
		{"third-party image in an init container", "Pod", containers{"initContainers": {"redis:7"}, "containers": {signed.String()}}, false},
		{"third-party image in an ephemeral container", "Pod", containers{"ephemeralContainers": {"busybox:1.36"}, "containers": {"nginx:1.27"}}, false},
		{"another tag of the test image", "Pod", containers{"containers": {"ghcr.io/acme/api-smoke:1.0.1"}}, false},
		{"a repository beside an allowed path", "Pod", containers{"containers": {"quay.io/prometheus-evil/x:1"}}, false},
		{"third-party image in a Deployment (autogen)", "Deployment", containers{"containers": {"redis:7"}}, false},
		{"allow-listed image in a Deployment (autogen)", "Deployment", containers{"containers": {"nginx:1.27"}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := map[string]any{}
			for field, imgs := range c.pod {
				var list []any
				for i, img := range imgs {
					list = append(list, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
				}
				spec[field] = list
			}
			obj := map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": "p", "namespace": "acme-prod"},
				"spec":     spec,
			}
			if c.kind == "Deployment" {
				obj = map[string]any{
					"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": "d", "namespace": "acme-prod"},
					"spec": map[string]any{
						"selector": map[string]any{"matchLabels": map[string]any{"app": "d"}},
						"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "d"}}, "spec": spec},
					},
				}
			}
			refused, msg := apply(t, policy, unstructured.Unstructured{Object: obj})
			if refused == c.admit {
				t.Fatalf("admitted %v, want %v: %s", !refused, c.admit, msg)
			}
			t.Logf("refused=%v %s", refused, msg)
		})
	}
}

// TestKyvernoEngineRefusesDebugContainers: `kubectl debug` adds an
// ephemeral container through the pods/ephemeralcontainers subresource
// (an UPDATE), which Kyverno's webhook receives for every policy matching
// Pods and its engine matches to kind Pod: the image is refused unless
// the environment admits it.
func TestKyvernoEngineRefusesDebugContainers(t *testing.T) {
	policy := generateFrom(t, fmt.Sprintf(allowConfig, "ghcr.io/acme/api", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGQGN68p/zcLwzJKdczuHHWj23Nez\ntsjNvn8HQ2lGHPC4yENUzWRUQiBXPVi/dBlZu3FaT77QhzKBFDPTb1aOMA==\n-----END PUBLIC KEY-----\n",
		"ghcr.io/acme/api", "sha256:9a8b7c6d5e4f30211f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffee", smokeImage))
	cfg := kconfig.NewDefaultConfiguration(false)
	jp := jmespath.New(cfg)
	eng := engine.NewEngine(cfg, kconfig.NewDefaultMetricsConfiguration(), jp, nil,
		factories.DefaultRegistryClientFactory(adapters.RegistryClient(registryclient.NewOrDie()), nil),
		imageverifycache.DisabledImageVerifyCache(), factories.DefaultContextLoaderFactory(nil), nil, nil)
	pod := func(debug string) unstructured.Unstructured {
		spec := map[string]any{"containers": []any{map[string]any{"name": "app", "image": "nginx:1.27"}}}
		if debug != "" {
			spec["ephemeralContainers"] = []any{map[string]any{"name": "debugger", "image": debug}}
		}
		return unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "acme-prod"}, "spec": spec,
		}}
	}
	for _, c := range []struct {
		image string
		admit bool
	}{{"busybox:1.36", false}, {"quay.io/prometheus/busybox:latest", true}} {
		pc, err := engine.NewPolicyContext(jp, pod(c.image), kyvernov1.Update, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		old := pod("")
		if err := pc.JSONContext().AddOldResource(old.Object); err != nil {
			t.Fatal(err)
		}
		pc = pc.WithOldResource(old).WithPolicy(policy).WithResourceKind(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, "ephemeralcontainers")
		resp := eng.Validate(context.Background(), pc)
		refused := engineutils.BlockRequest(resp, *policy.Spec.FailurePolicy)
		var msgs []string
		for _, r := range resp.PolicyResponse.Rules {
			msgs = append(msgs, fmt.Sprintf("%s: %s %s", r.Name(), r.Status(), r.Message()))
		}
		if refused == c.admit || len(msgs) == 0 {
			t.Errorf("kubectl debug with %s: admitted %v, want %v (%s)", c.image, !refused, c.admit, strings.Join(msgs, "; "))
		}
		t.Logf("kubectl debug with %s: refused=%v %s", c.image, refused, strings.Join(msgs, "; "))
	}
}

// apply runs `kyverno apply`'s policy processor on the resource and
// returns whether Kyverno's webhook would refuse it, with the messages of
// the rules that did not pass.
func apply(t *testing.T, policy *kyvernov1.ClusterPolicy, resource unstructured.Unstructured) (bool, string) {
	t.Helper()
	var s store.Store
	s.SetLocal(true)
	s.SetRegistryAccess(true)
	p := processor.PolicyProcessor{
		Store:    &s,
		Policies: []kyvernov1.PolicyInterface{policy},
		Resource: resource,
		Rc:       &processor.ResultCounts{},
		Out:      io.Discard,
	}
	responses, err := p.ApplyPoliciesOnResource()
	if err != nil {
		t.Fatalf("kyverno apply: %v", err)
	}
	refused := false
	var msgs []string
	for _, r := range responses {
		if engineutils.BlockRequest(r, *policy.Spec.FailurePolicy) {
			refused = true
		}
		for _, rr := range r.PolicyResponse.Rules {
			msgs = append(msgs, fmt.Sprintf("%s: %s %s", rr.Name(), rr.Status(), rr.Message()))
		}
	}
	return refused, strings.Join(msgs, "; ")
}

// TestImageNormalizeIsKyvernos holds the cases model.NormalizeImage is
// tested on (pipec's checks render pods' images with it, to tell which
// would be refused) to Kyverno's own image_normalize, which the policy's
// rule calls: the same file, the same answers.
func TestImageNormalizeIsKyvernos(t *testing.T) {
	data, err := os.ReadFile("../../model/testdata/kyverno-image-normalize.txt")
	if err != nil {
		t.Fatal(err)
	}
	jp := jmespath.New(kconfig.NewDefaultConfiguration(false))
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		image, want, ok := strings.Cut(line, "\t")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		got, err := jp.Search(fmt.Sprintf("image_normalize('%s')", image), nil)
		if err != nil {
			t.Errorf("image_normalize(%q): %v", image, err)
			continue
		}
		if got != want {
			t.Errorf("image_normalize(%q) = %v, want %v", image, got, want)
		}
	}
	if n < 10 {
		t.Fatalf("%d cases", n)
	}
}
