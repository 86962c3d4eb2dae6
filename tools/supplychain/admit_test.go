package supplychain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	kyvernov1 "github.com/kyverno/kyverno/api/kyverno/v1"
	"github.com/kyverno/kyverno/ext/wildcard"
	kconfig "github.com/kyverno/kyverno/pkg/config"
	kcosign "github.com/kyverno/kyverno/pkg/cosign"
	"github.com/kyverno/kyverno/pkg/images"
	"github.com/kyverno/kyverno/pkg/registryclient"
	imageutils "github.com/kyverno/kyverno/pkg/utils/image"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"sigs.k8s.io/yaml"
)

// config is a pipeline whose sign gate admits its images into prod,
// verified with the public key the test generates, without a
// transparency log (there is none offline).
const config = `package ci

namespace: "ci"

environments: prod: {namespace: "acme-prod", quota: {requests: {cpu: "1", memory: "1Gi"}, pods: 10}}

pipelines: api: {
	timeout: "1h"
	tasks: build: {
		results: {IMAGE_URL: {}, IMAGE_DIGEST: {}}
		steps: [{name: "build", image: "gcr.io/kaniko-project/executor:v1.23.2@sha256:9e69fd4330ec887829c780f5126dd80edc663df6def362cd22e79bcdf00ac53f"}]
	}
	gates: {
		image: %q
		sign: {
			key: secret: "cosign-key"
			publicKey: %q
			rekor: ""
			admit: ["prod"]
		}
	}
}
`

// TestKyvernoAdmitsWhatCosignSigned signs an image in a loopback registry
// with cosign, generates the prod policy with pipec, and verifies three
// images under it with Kyverno's cosign verifier: signed with the key
// (admitted), unsigned and signed with another key (refused).
func TestKyvernoAdmitsWhatCosignSigned(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/acme/api"

	pw := func(bool) ([]byte, error) { return []byte("test"), nil }
	keys, err := cosign.GenerateKeyPair(pw)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cosign.GenerateKeyPair(pw)
	if err != nil {
		t.Fatal(err)
	}
	signed, unsigned, foreign := push(t, repo), push(t, repo), push(t, repo)
	sign(t, signed, keys)
	sign(t, foreign, other)

	policy := generate(t, repo, string(keys.PublicBytes))
	for _, c := range []struct {
		name  string
		image name.Digest
		admit bool
	}{{"signed", signed, true}, {"unsigned", unsigned, false}, {"other key", foreign, false}} {
		t.Run(c.name, func(t *testing.T) {
			err := verify(ctx, policy, c.image.String())
			if c.admit && err != nil {
				t.Fatalf("refused %s: %v", c.image, err)
			}
			if !c.admit && err == nil {
				t.Fatalf("admitted %s", c.image)
			}
			t.Logf("%s: %v", c.name, err)
		})
	}
}

// push pushes a random image and returns it by digest.
func push(t *testing.T, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(d.String())
}

// sign signs the image as cosign sign --key does: the simple-signing
// payload for the digest, signed with the private key, attached as a
// signature in the registry.
func sign(t *testing.T, ref name.Digest, keys *cosign.KeysBytes) {
	t.Helper()
	sv, err := cosign.LoadPrivateKey(keys.PrivateBytes, keys.Password())
	if err != nil {
		t.Fatal(err)
	}
	pl, err := (&payload.Cosign{Image: ref}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		t.Fatal(err)
	}
	se, err := ociremote.SignedEntity(ref)
	if err != nil {
		t.Fatal(err)
	}
	se, err = mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteSignatures(ref.Context(), se); err != nil {
		t.Fatal(err)
	}
}

// generate builds pipec from the main module, compiles the configuration
// with the repository and public key, and returns prod's ClusterPolicy.
func generate(t *testing.T, repo, publicKey string) *kyvernov1.ClusterPolicy {
	t.Helper()
	return generateFrom(t, fmt.Sprintf(config, repo, publicKey))
}

// generateFrom compiles a configuration and returns prod's ClusterPolicy.
func generateFrom(t *testing.T, cue string) *kyvernov1.ClusterPolicy {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "pipec")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pipec")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build pipec: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "pipec.cue"), []byte(cue), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "build", "--no-cache", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pipec build: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(out, "environments", "prod", "clusterpolicy-pipec-signed-images-prod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p kyvernov1.ClusterPolicy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("the policy does not decode into Kyverno's types: %v", err)
	}
	return &p
}

// verify checks an image against the policy's verifyImages rules as
// Kyverno's engine does for a key attestor (its internal
// buildCosignVerifier: the entry's key, Rekor and CT log settings, the
// signature algorithm defaulting to sha256), with Kyverno's cosign
// verifier and registry client. An image no rule matches is an error
// here: the test's images all should.
func verify(ctx context.Context, p *kyvernov1.ClusterPolicy, image string) error {
	rc, err := registryclient.New(registryclient.WithAllowInsecureRegistry())
	if err != nil {
		return err
	}
	matched := false
	for _, r := range p.Spec.Rules {
		for _, vi := range r.VerifyImages {
			if !matchesAny(vi.ImageReferences, image) {
				continue
			}
			matched = true
			for _, set := range vi.Attestors {
				for _, e := range set.Entries {
					if e.Keys == nil {
						return fmt.Errorf("rule %s: only key attestors are tested", r.Name)
					}
					opts := images.Options{
						ImageRef: image, Client: rc, Key: e.Keys.PublicKeys,
						SignatureAlgorithm: e.Keys.SignatureAlgorithm,
					}
					if opts.SignatureAlgorithm == "" {
						opts.SignatureAlgorithm = "sha256"
					}
					if e.Keys.Rekor != nil {
						opts.IgnoreTlog, opts.RekorURL = e.Keys.Rekor.IgnoreTlog, e.Keys.Rekor.URL
					}
					if e.Keys.CTLog != nil {
						opts.IgnoreSCT = e.Keys.CTLog.IgnoreSCT
					}
					if _, err := kcosign.NewVerifier().VerifySignature(ctx, opts); err != nil {
						return err
					}
				}
			}
		}
	}
	if !matched {
		return fmt.Errorf("no rule matches %s", image)
	}
	return nil
}

func matchesAny(patterns []string, image string) bool {
	for _, p := range patterns {
		if wildcard.Match(p, image) {
			return true
		}
	}
	return false
}

// TestImageReferencesMatchKyverno checks the policy's imageReferences
// against the images of pods as Kyverno renders them before matching (its
// GetImageInfo with the default configuration: docker.io added when no
// registry is written, the path as written): every way of writing a gated
// Docker Hub repository's image is matched, another repository's is not.
func TestImageReferencesMatchKyverno(t *testing.T) {
	const kms = "gcpkms://projects/acme/locations/global/keyRings/ci/cryptoKeys/cosign"
	for _, c := range []struct {
		gated       string
		match, miss []string
	}{
		{"acme/api", []string{"acme/api:v1", "docker.io/acme/api:v1", "acme/api@sha256:9d75f0d7c398df565d7ac04c6819b62d6d8f9560f5eb4672596ecd8f7e96ae91"}, []string{"acme/api-evil:v1", "ghcr.io/acme/api:v1"}},
		{"docker.io/library/nginx", []string{"nginx:1.27", "library/nginx:1.27", "docker.io/nginx:1.27", "docker.io/library/nginx:1.27"}, []string{"acme/nginx:1.27"}},
		{"nginx", []string{"nginx:1.27", "docker.io/library/nginx:1.27"}, []string{"nginx-evil:1"}},
		{"ghcr.io/acme/api", []string{"ghcr.io/acme/api:v1"}, []string{"acme/api:v1"}},
	} {
		t.Run(c.gated, func(t *testing.T) {
			p := generateFrom(t, fmt.Sprintf(kmsConfig, c.gated, kms))
			refs := verifiedReferences(t, p)
			cfg := kconfig.NewDefaultConfiguration(false)
			for _, img := range append(slices.Clone(c.match), c.miss...) {
				info, err := imageutils.GetImageInfo(img, cfg)
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Contains(c.match, img)
				if got := matchesAny(refs, info.String()); got != want {
					t.Errorf("%s (Kyverno: %s) matched %v by %v, want %v", img, info, got, refs, want)
				}
			}
		})
	}
}

// kmsConfig is a pipeline signing the repository with a KMS key and
// admitting it into prod.
const kmsConfig = `package ci

namespace: "ci"

environments: prod: {namespace: "acme-prod", quota: {requests: {cpu: "1", memory: "1Gi"}, pods: 10}}

pipelines: api: {
	timeout: "1h"
	tasks: build: {
		results: {IMAGE_URL: {}, IMAGE_DIGEST: {}}
		steps: [{name: "build", image: "gcr.io/kaniko-project/executor:v1.23.2@sha256:9e69fd4330ec887829c780f5126dd80edc663df6def362cd22e79bcdf00ac53f"}]
	}
	gates: {image: %q, sign: {key: %q, admit: ["prod"]}}
}
`

// verifiedReferences returns the imageReferences of the policy's one
// verifyImages rule, and checks that the rule refusing what the
// environment does not admit lets through, as gated, exactly those
// patterns (its first deny condition): an image it lets through as gated
// is one a verifyImages rule verifies.
func verifiedReferences(t *testing.T, p *kyvernov1.ClusterPolicy) []string {
	t.Helper()
	var refs, gated []string
	for _, r := range p.Spec.Rules {
		for _, vi := range r.VerifyImages {
			refs = append(refs, vi.ImageReferences...)
		}
		if r.Validation != nil {
			for _, fe := range r.Validation.ForEachValidation {
				var deny struct {
					Conditions struct {
						All []struct {
							Value []string `json:"value"`
						} `json:"all"`
					} `json:"conditions"`
				}
				raw, err := json.Marshal(fe.Deny)
				if err == nil {
					err = json.Unmarshal(raw, &deny)
				}
				if err != nil || len(deny.Conditions.All) == 0 {
					t.Fatalf("rule %s: deny conditions %s: %v", r.Name, raw, err)
				}
				gated = deny.Conditions.All[0].Value
			}
		}
	}
	if len(refs) == 0 || !slices.Equal(slices.Sorted(slices.Values(refs)), gated) {
		t.Fatalf("verifyImages references %v, gated patterns of the validate rule %v", refs, gated)
	}
	return refs
}
