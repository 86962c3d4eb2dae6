// Package kubetest runs a real Kubernetes API server for pipec's tests: etcd
// (Debian's etcd-server package) and a kube-apiserver built from
// k8s.io/kubernetes in the separate tools module (tools/kube). Tests use it
// to prove that the API server accepts every object pipec generates, with
// the controllers' CRDs installed and strict field validation on.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// EnvBinDir names the directory holding kube-apiserver; by default
// <repo>/.cache/bin, where hack/tools.sh builds it.
const EnvBinDir = "PIPEC_KUBE_BIN"

// Server is a running etcd + kube-apiserver pair.
type Server struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Dir holds the server's data, certificates and logs.
	Dir string

	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	procs    []*exec.Cmd
	warnings *warningRecorder
}

// warningRecorder keeps the warnings the API server returns (deprecated
// fields, questionable values), so tests can require there are none.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

// TakeWarnings returns the warnings received since the last call.
func (s *Server) TakeWarnings() []string {
	s.warnings.mu.Lock()
	defer s.warnings.mu.Unlock()
	out := s.warnings.msgs
	s.warnings.msgs = nil
	return out
}

// FindAPIServer returns the path of the kube-apiserver binary, or an error
// that says how to build it.
func FindAPIServer() (string, error) {
	dir := os.Getenv(EnvBinDir)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".cache", "bin")
	}
	p := filepath.Join(dir, "kube-apiserver")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kube-apiserver not found at %s: run hack/tools.sh to build it (about 4 minutes, once), or set %s", p, EnvBinDir)
	}
	return p, nil
}

// RepoRoot finds the pipec repository's root (the main module's) from the
// working directory.
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "tools", "kube")); err == nil {
				return d, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("cannot find the pipec repository root (a go.mod beside tools/kube)")
		}
		d = parent
	}
}

// Start starts etcd and kube-apiserver in a fresh directory under dir and
// waits until the API server is ready. Stop must be called.
func Start(ctx context.Context, dir string, log io.Writer) (*Server, error) {
	apiserver, err := FindAPIServer()
	if err != nil {
		return nil, err
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		return nil, errors.New("etcd not found in PATH: install Debian's etcd-server package (apt-get install etcd-server)")
	}
	s := &Server{Dir: dir, warnings: &warningRecorder{}}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()

	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := s.start(log, "etcd", etcd,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdClient, "--advertise-client-urls", etcdClient,
		"--listen-peer-urls", etcdPeer, "--initial-advertise-peer-urls", etcdPeer,
		"--initial-cluster", "default="+etcdPeer,
		"--unsafe-no-fsync",
	); err != nil {
		return nil, err
	}

	keyFile := filepath.Join(dir, "sa.key")
	pubFile := filepath.Join(dir, "sa.pub")
	if err := writeServiceAccountKeys(keyFile, pubFile); err != nil {
		return nil, err
	}
	const token = "pipec-test-admin-token"
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := s.start(log, "kube-apiserver", apiserver,
		"--etcd-servers", etcdClient,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pubFile,
		"--service-account-signing-key-file", keyFile,
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.0.0.0/24",
		// etcd 3.4 lacks what streaming watch lists need.
		"--feature-gates", "WatchList=false",
		"--enable-admission-plugins", "NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota,PodSecurity",
		// As on real clusters: privileged pods are possible, and Pod
		// Security admission decides per namespace.
		"--allow-privileged=true",
	); err != nil {
		return nil, err
	}

	s.Config = &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", ports[2]),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
		WarningHandler:  s.warnings,
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("kube-apiserver did not become ready: %w (logs in %s)", err, dir)
	}
	s.dyn, err = dynamic.NewForConfig(s.Config)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(s.Config)
	if err != nil {
		return nil, err
	}
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	ok = true
	return s, nil
}

func (s *Server) start(log io.Writer, name, bin string, args ...string) error {
	return s.StartProcess(log, name, bin, nil, args...)
}

// StartProcess starts a program that belongs with the server (a
// controller, a scheduler): its output goes to Dir/name.log, env is added
// to the environment, and Stop stops it, before the API server. Programs
// are stopped in the reverse order of their start.
func (s *Server) StartProcess(log io.Writer, name, bin string, env []string, args ...string) error {
	logFile, err := os.Create(filepath.Join(s.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so that stopping the test stops the whole tree.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	if log != nil {
		fmt.Fprintf(log, "kubetest: started %s (pid %d), log %s\n", name, cmd.Process.Pid, logFile.Name())
	}
	s.procs = append(s.procs, cmd)
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	client, err := rest.HTTPClientFor(s.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, p := range s.procs {
			if p.ProcessState != nil {
				return false, fmt.Errorf("%s exited", p.Path)
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Config.Host+"/readyz", nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Kubeconfig writes a kubeconfig file that reaches the server as a cluster
// admin, for the programs StartProcess runs, and returns its path.
func (s *Server) Kubeconfig() (string, error) {
	p := filepath.Join(s.Dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: pipec, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: pipec, context: {cluster: pipec, user: admin}}]
current-context: pipec
`, s.Config.Host, s.Config.BearerToken)
	return p, os.WriteFile(p, []byte(kc), 0o600)
}

// Dynamic is a dynamic client of the server, as a cluster admin.
func (s *Server) Dynamic() dynamic.Interface { return s.dyn }

// BinDir is the directory that holds kube-apiserver and the other programs
// hack/tools.sh and hack/sim-tools.sh build.
func BinDir() (string, error) {
	p, err := FindAPIServer()
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// Stop stops the programs StartProcess started, then the API server and
// etcd.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	s.procs = nil
}

// ApplyYAML creates every object of a multi-document YAML stream, in order.
// With dryRun the server runs admission and validation but stores nothing.
// Field validation is strict: unknown or duplicate fields are errors, not
// silently dropped.
func (s *Server) ApplyYAML(ctx context.Context, stream []byte, dryRun bool) error {
	objs, err := DecodeYAML(stream)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		if err := s.Create(ctx, o, dryRun); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Create creates one object with strict field validation.
func (s *Server) Create(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	ri, err := s.resource(o)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Create(ctx, o, opts); err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

// Get reads an object back.
func (s *Server) Get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := s.resource(o)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, o.GetName(), metav1.GetOptions{})
}

func (s *Server) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		// A CRD may have been installed since discovery was cached.
		s.mapper.Reset()
		m, err = s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return s.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
	}
	return s.dyn.Resource(m.Resource), nil
}

// InstallCRDs creates the CustomResourceDefinitions in the YAML files and
// waits until they are established. A conversion webhook is replaced by
// strategy None: tests run no webhook server, and pipec emits only storage
// versions.
func (s *Server) InstallCRDs(ctx context.Context, files ...string) error {
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if strategy, _, _ := unstructured.NestedString(o.Object, "spec", "conversion", "strategy"); strategy == "Webhook" {
				_ = unstructured.SetNestedField(o.Object, map[string]any{"strategy": "None"}, "spec", "conversion")
			}
			if err := s.Create(ctx, o, false); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			names = append(names, o.GetName())
		}
	}
	crd := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, n := range names {
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			o, err := s.dyn.Resource(crd).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			status, _ := Condition(o, "Established")
			return status == "True", nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", n, err)
		}
	}
	s.mapper.Reset()
	return nil
}

// CreateNamespace creates a namespace, optionally with labels.
func (s *Server) CreateNamespace(ctx context.Context, name string, labels map[string]string) error {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if labels != nil {
		o.SetLabels(labels)
	}
	return s.Create(ctx, o, false)
}

// FreePorts returns n loopback ports that are free now.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeServiceAccountKeys(keyFile, pubFile string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// ModuleDir returns the directory of a Go module the main module depends
// on, from the module cache (go list -m).
func ModuleDir(path string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go list -m %s: %s", path, bytes.TrimSpace(ee.Stderr))
		}
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache; run go mod download", path)
	}
	return dir, nil
}

// DownloadModule fetches a module version that the main module does not
// depend on (such as a controller whose CRDs the tests install) into the
// module cache and returns its directory. The module's checksum must equal
// sum, so a test never runs against unexpected content.
func DownloadModule(path, version, sum string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", path+"@"+version).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go mod download %s@%s: %s%s", path, version, bytes.TrimSpace(ee.Stderr), bytes.TrimSpace(out))
		}
		return "", err
	}
	var info struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
	}
	if info.Sum != sum {
		return "", fmt.Errorf("module %s@%s has checksum %s, want %s", path, version, info.Sum, sum)
	}
	return info.Dir, nil
}
