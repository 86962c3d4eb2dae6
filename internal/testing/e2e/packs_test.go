package e2e

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"

	"github.com/pipec/pipec/internal/cli"
	"github.com/pipec/pipec/internal/testing/kubetest"
)

// The custom pack a platform team publishes: an ordinary CUE module.
const packModule = `module: "example.com/packs/acme@v1"
language: version: "v0.9.0"
source: kind: "self"
`

const packFile = `// Package acme is ACME's platform policy pack.
package acme

pack: {
	name:        "acme"
	description: "ACME platform rules."
	extends: ["baseline"]
	input: _
	checks: "team-label": {
		severity: "deny"
		category: "conventions"
		standard: "ACME platform handbook 4.2"
		title:    "Pipelines say which team owns them"
		why:      "On-call needs to know whom to page when a pipeline breaks."
		fix:      "Add labels: team: \"<team>\" to the pipeline."
		examples: {
			pass: "pipelines: build: labels: team: \"payments\""
			fail: "pipelines: build: {}"
		}
		violations: [for o in input.objects if o.kind == "Pipeline" && o.object.metadata.labels.team == _|_ {path: o.path, message: "pipeline \(o.name) has no team label"}]
	}
}
`

// The application team's repository, which pins the pack.
const consumerModule = `module: "example.com/shop@v0"
language: version: "v0.9.0"
deps: "example.com/packs/acme@v1": v: "v1.0.0"
`

const consumerFile = `package ci

import acmepolicy "example.com/packs/acme"

namespace: "ci"

policy: {
	packs: acme: acmepolicy.pack
	default: ["acme"]
}

pipelines: build: {
	timeout: "10m"
	tasks: t: steps: [{name: "s", image: "busybox:1.36", script: "true"}]
}
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runPipec(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := cli.Run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCustomPackFromRegistry publishes a policy pack with `cue mod publish`
// to an OCI registry on loopback, builds a repository that pins it, then
// stops the registry and builds again from the module cache; with an empty
// cache and no registry the build fails with exit 2 and says why.
func TestCustomPackFromRegistry(t *testing.T) {
	cue := filepath.Join(filepath.Dir(mustAPIServer(t)), "cue")
	if _, err := os.Stat(cue); err != nil {
		t.Fatalf("cue not found at %s: run hack/tools.sh", cue)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ociserver.New(ocimem.New(), nil)}
	go srv.Serve(ln)
	stopped := false
	stop := func() {
		if !stopped {
			srv.Close()
			stopped = true
		}
	}
	defer stop()

	work := t.TempDir()
	cache := filepath.Join(work, "cue-cache")
	registry := ln.Addr().String() + "+insecure"
	t.Setenv("CUE_REGISTRY", registry)
	t.Setenv("CUE_CACHE_DIR", cache)

	// The platform team publishes v1.0.0 of its pack.
	packDir := filepath.Join(work, "pack")
	writeFiles(t, packDir, map[string]string{"cue.mod/module.cue": packModule, "acme.cue": packFile})
	pub := exec.Command(cue, "mod", "publish", "v1.0.0")
	pub.Dir = packDir
	pub.Env = append(os.Environ(), "CUE_REGISTRY="+registry, "CUE_CACHE_DIR="+cache)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("cue mod publish: %v\n%s", err, out)
	}

	// An application team's repository pins it and is checked by it.
	repo := filepath.Join(work, "shop")
	writeFiles(t, repo, map[string]string{"cue.mod/module.cue": consumerModule, "pipec.cue": consumerFile})
	t.Chdir(repo)
	code, _, stderr := runPipec("vet", ".")
	if code != 1 || !strings.Contains(stderr, "pipec.cue:12:12: pipelines.build: deny pipec/acme/team-label: pipeline build has no team label") {
		t.Fatalf("vet with the published pack: exit %d\n%s", code, stderr)
	}
	// The pack extends baseline, whose checks run too.
	if code, _, stderr := runPipec("explain", "pipec/baseline/privileged"); code != 0 {
		t.Fatalf("explain: %d %s", code, stderr)
	}

	// Fix the finding: the pack passes.
	writeFiles(t, repo, map[string]string{"pipec.cue": strings.Replace(consumerFile, `timeout: "10m"`, "timeout: \"10m\"\n\tlabels: team: \"payments\"", 1)})
	if code, _, stderr := runPipec("vet", "."); code != 0 {
		t.Fatalf("vet with the label: exit %d\n%s", code, stderr)
	}

	// The registry goes away: the module cache is enough.
	stop()
	if code, _, stderr := runPipec("vet", "."); code != 0 {
		t.Fatalf("vet offline from the cache: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := runPipec("build", "."); code != 0 || !strings.Contains(stdout, "team: payments") {
		t.Fatalf("build offline from the cache: exit %d\n%s", code, stderr)
	}

	// No registry and an empty cache: the pack cannot be fetched.
	t.Setenv("CUE_CACHE_DIR", filepath.Join(work, "empty-cache"))
	code, _, stderr = runPipec("vet", ".")
	if code != 2 || !strings.Contains(stderr, "example.com/packs/acme") || !strings.Contains(stderr, "CUE_REGISTRY") {
		t.Fatalf("vet without registry or cache: exit %d, want 2 with a clear message\n%s", code, stderr)
	}
	t.Logf("without registry or cache: %s", stderr)
}

func mustAPIServer(t *testing.T) string {
	t.Helper()
	p, err := kubetest.FindAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
