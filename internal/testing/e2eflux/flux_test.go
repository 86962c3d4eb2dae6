//go:build e2eflux

// Package e2eflux runs Flux's source-controller and kustomize-controller
// (built from the Go module proxy by hack/sim-tools.sh, at the versions
// whose CRDs internal/testing/e2e installs) against kubetest's API server
// and git repositories served on loopback by git's own http-backend:
// `pipec build -o` output committed to one, an app's manifests to another.
// It shows an environment and an app reconciled as pipec compiles them,
// then pruned when the app leaves the configuration.
//
// The controllers take long to build (see hack/sim-tools.sh), so the test
// has a build tag of its own:
//
//	PIPEC_SIM_FLUX=1 hack/sim-tools.sh
//	go test -tags e2eflux ./internal/testing/e2eflux
package e2eflux

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/kubetest"
	"github.com/pipec/pipec/render"
)

// binDir is where the controllers are: PIPEC_FLUX_BIN, or the simulated
// cluster's programs' directory.
func binDir(t *testing.T) string {
	if d := os.Getenv("PIPEC_FLUX_BIN"); d != "" {
		return d
	}
	d, err := kubetest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const config = `package shop

delivery: engine: "flux"
flux: {interval: "2s", timeout: "1m"}

environments: dev: {namespace: "shop-dev", quota: requests: {cpu: "4", memory: "8Gi"}}

teams: shop: {}

apps: APPS

argocd: gitops: repoURL: "GITOPS"
`

const app = `{hello: {
	team: "shop"
	source: {repoURL: "APP", path: "deploy"}
	environments: dev: {}
}}`

func TestEnvironmentAndAppReconciledThenPruned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := binDir(t)
	for _, p := range []string{"source-controller", "kustomize-controller"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Fatalf("%s not found in %s: run hack/sim-tools.sh", p, bin)
		}
	}
	dir, err := os.MkdirTemp("", "pipec-e2eflux-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	}()
	git := newGitServer(t, dir)
	git.repo("platform")
	git.repo("app")
	git.commit("app", map[string]string{"deploy/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hello\n"})

	build := func(apps string) {
		t.Helper()
		cfg := strings.NewReplacer("APPS", apps, "GITOPS", git.url("platform")).Replace(config)
		cfg = strings.ReplaceAll(cfg, "APP\"", git.url("app")+"\"")
		src := filepath.Join(dir, "config")
		os.MkdirAll(src, 0o755)
		if err := os.WriteFile(filepath.Join(src, "pipec.cue"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := compiler.Build(ctx, compiler.Options{Dir: src})
		if err != nil || res.Diagnostics.HasErrors() {
			t.Fatalf("build: %v %v", err, res.Diagnostics)
		}
		out := filepath.Join(git.work("platform"), "manifests")
		if _, err := render.WriteDir(out, res.Objects, render.YAML); err != nil {
			t.Fatal(err)
		}
		git.commit("platform", nil)
	}
	build(strings.ReplaceAll(app, "APP\"", git.url("app")+"\""))

	os.MkdirAll(filepath.Join(dir, "cluster"), 0o755)
	s, err := kubetest.Start(ctx, filepath.Join(dir, "cluster"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, m := range kubetest.FluxModules {
		d, err := kubetest.DownloadModule(m.Path, m.Version, m.Sum)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(d, m.Glob))
		if err := s.InstallCRDs(ctx, files...); err != nil {
			t.Fatal(err)
		}
	}
	// What `flux install` sets up: the namespace, and the controller's
	// ServiceAccount pipec's own Kustomizations run as.
	if err := s.ApplyYAML(ctx, []byte(platformAccount), false); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := s.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	p, err := kubetest.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + kubeconfig, "RUNTIME_NAMESPACE=flux-system"}
	storage := fmt.Sprintf("127.0.0.1:%d", p[0])
	os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755)
	if err := s.StartProcess(os.Stderr, "source-controller", filepath.Join(bin, "source-controller"), env,
		"--storage-path="+filepath.Join(dir, "artifacts"), "--storage-addr="+storage, "--storage-adv-addr="+storage,
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", p[1]), fmt.Sprintf("--health-addr=127.0.0.1:%d", p[2])); err != nil {
		t.Fatal(err)
	}
	if err := s.StartProcess(os.Stderr, "kustomize-controller", filepath.Join(bin, "kustomize-controller"), env,
		"--no-cross-namespace-refs=true", "--default-service-account=default",
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", p[3]), fmt.Sprintf("--health-addr=127.0.0.1:%d", p[4])); err != nil {
		t.Fatal(err)
	}
	// Bootstrap as the README says: apply manifests/flux once.
	fluxDir, _ := filepath.Glob(filepath.Join(git.work("platform"), "manifests/flux/*.yaml"))
	for _, f := range fluxDir {
		data, _ := os.ReadFile(f)
		if err := s.ApplyYAML(ctx, data, false); err != nil {
			t.Fatal(err)
		}
	}

	cm := obj("v1", "ConfigMap", "shop-dev", "hello")
	t0 := time.Now()
	waitFor(ctx, t, s, "the environment's namespace and quota, and the app's ConfigMap", func() bool {
		return exists(ctx, s, obj("v1", "ResourceQuota", "shop-dev", "pipec-quota")) && exists(ctx, s, cm)
	})
	ks, _ := s.Get(ctx, obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "shop-dev", "hello"))
	st, reason := kubetest.Condition(ks, "Ready")
	t.Logf("reconciled in %.1fs; Kustomization shop-dev/hello Ready=%s (%s)", time.Since(t0).Seconds(), st, reason)

	// The app leaves the configuration: its Kustomization leaves the
	// environment's directory, the environment's Kustomization prunes it,
	// and its finalizer prunes what it applied.
	build("{}")
	t0 = time.Now()
	waitFor(ctx, t, s, "the app's ConfigMap pruned", func() bool { return !exists(ctx, s, cm) })
	t.Logf("pruned in %.1fs", time.Since(t0).Seconds())
}

const platformAccount = `apiVersion: v1
kind: Namespace
metadata: {name: flux-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kustomize-controller, namespace: flux-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: flux-kustomize-controller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: kustomize-controller, namespace: flux-system}]
`

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

func exists(ctx context.Context, s *kubetest.Server, o *unstructured.Unstructured) bool {
	_, err := s.Get(ctx, o)
	return err == nil || !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "not found")
}

func waitFor(ctx context.Context, t *testing.T, s *kubetest.Server, what string, ok func() bool) {
	t.Helper()
	if err := kubetest.Poll(ctx, 3*time.Minute, func(context.Context) (bool, error) { return ok(), nil }); err != nil {
		for _, k := range []struct{ apiVersion, kind, ns, name string }{
			{"source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "pipec"},
			{"source.toolkit.fluxcd.io/v1", "GitRepository", "shop-dev", "hello"},
			{"kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "env-dev"},
			{"kustomize.toolkit.fluxcd.io/v1", "Kustomization", "shop-dev", "hello"},
		} {
			if o, err := s.Get(ctx, obj(k.apiVersion, k.kind, k.ns, k.name)); err == nil {
				conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
				t.Logf("%s %s/%s: %v", k.kind, k.ns, k.name, conds)
			}
		}
		t.Fatalf("waiting for %s: %v (controller logs in %s)", what, err, s.Dir)
	}
}

// gitServer serves bare repositories with git's own smart HTTP backend.
type gitServer struct {
	t    *testing.T
	dir  string
	addr string
}

func newGitServer(t *testing.T, dir string) *gitServer {
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git: %v", err)
	}
	g := &gitServer{t: t, dir: dir}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = l.Addr().String()
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Join(dir, "git"), "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *gitServer) url(name string) string { return "http://" + g.addr + "/" + name + ".git" }

func (g *gitServer) work(name string) string { return filepath.Join(g.dir, "work", name) }

func (g *gitServer) run(dir string, args ...string) {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=pipec", "GIT_AUTHOR_EMAIL=pipec@example.invalid",
		"GIT_COMMITTER_NAME=pipec", "GIT_COMMITTER_EMAIL=pipec@example.invalid")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (g *gitServer) repo(name string) {
	bare := filepath.Join(g.dir, "git", name+".git")
	os.MkdirAll(bare, 0o755)
	g.run(bare, "init", "-q", "--bare", "-b", "main")
	os.MkdirAll(g.work(name), 0o755)
	g.run(g.work(name), "init", "-q", "-b", "main")
	g.run(g.work(name), "remote", "add", "origin", bare)
}

func (g *gitServer) commit(name string, files map[string]string) {
	for f, content := range files {
		p := filepath.Join(g.work(name), f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.run(g.work(name), "add", "-A")
	g.run(g.work(name), "commit", "-q", "--allow-empty", "-m", "change")
	g.run(g.work(name), "push", "-q", "origin", "main")
}
