package integrations

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestContainerImage builds the Dockerfile with podman, offline, and runs
// the image the way the README and the Helm chart do: as its non-root
// user, with a read-only root file system, no capabilities and no network.
// `pipec version` and `pipec vet` work (a bad configuration exits 1 with
// the finding at its CUE line), there is no shell in the image, and the
// default command serves the HTTP API.
//
// The Dockerfile's builder, golang:1.26.8-bookworm, cannot be pulled here
// (no registry but Debian's, npm's and the Go module proxy are reachable):
// the test makes the same thing from Debian bookworm (debootstrap) and the
// Go this machine has, and the build's modules come from the module cache
// through the Dockerfile's GOPROXY argument.
func TestContainerImage(t *testing.T) {
	podman := clientBin(t, "podman")
	clientBin(t, "runc")
	if os.Geteuid() != 0 {
		t.Fatal("the image test runs podman as root")
	}
	conf, err := filepath.Abs("testdata/containers.conf")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_CONF", conf)
	src := source(t)
	pod := func(args ...string) (string, error) {
		cmd := exec.Command(podman, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return string(out), fmt.Errorf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out), nil
	}

	builder := builderImage(t, pod)
	image := "localhost/pipec-tests/pipec:" + src.Rev[:12]
	// No intermediate images are kept (--layers=false): the Dockerfile's
	// cache mounts keep rebuilds quick, and a machine running the tests
	// does not fill up with them.
	defer func() { _, _ = pod("rmi", "-f", image) }()
	{
		gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Fatal(err)
		}
		proxy := filepath.Join(strings.TrimSpace(string(gomodcache)), "cache", "download")
		start := time.Now()
		out, err := pod("build", "--layers=false", "--network", "none", "--volume", proxy+":/goproxy:ro",
			"--build-arg", "GO_IMAGE="+builder, "--build-arg", "GOPROXY=file:///goproxy", "--build-arg", "VERSION=v0.1.0-test",
			"-t", image, src.Export(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("podman build took %s\n%s", time.Since(start).Round(time.Second), lastLines(out, 5))
	}

	// What the image says of itself.
	out, err := pod("image", "inspect", "--format", "{{json .Config}}", image)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		User       string
		Entrypoint []string
		Cmd        []string
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "65532:65532" || strings.Join(cfg.Entrypoint, " ") != "/usr/local/bin/pipec" || strings.Join(cfg.Cmd, " ") != "serve --addr=:8080" {
		t.Errorf("image config: user %q, entrypoint %v, cmd %v", cfg.User, cfg.Entrypoint, cfg.Cmd)
	}

	// Locked down as a restricted pod runs it: non-root, read-only root
	// file system with no writable /tmp, no capabilities, no network.
	locked := []string{"run", "--rm", "--read-only", "--read-only-tmpfs=false", "--cap-drop=ALL",
		"--security-opt=no-new-privileges", "--network=none"}
	if out, err := pod(append(locked, image, "version")...); err != nil || !strings.HasPrefix(out, "pipec v0.1.0-test\n") {
		t.Errorf("pipec version in the image: %v\n%s", err, out)
	}
	if _, err := pod(append(locked, "--entrypoint", "/bin/sh", image, "-c", "true")...); err == nil {
		t.Error("the image has a shell")
	}

	// The README's command, in a checkout with the configuration in ci/.
	cmdLine := regexp.MustCompile(`(?m)^\s*docker run (.*) pipec vet ci$`).FindStringSubmatch(readmeBlock(t, "**Container image**", "sh"))
	if cmdLine == nil {
		t.Fatal("the README's container image example has no `docker run ... pipec vet ci`")
	}
	checkout := t.TempDir()
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(checkout, "ci"))
	readme := strings.Fields(strings.ReplaceAll(cmdLine[1], `"$PWD`, `"`+checkout))
	for i, f := range readme {
		readme[i] = strings.Trim(f, `"`)
	}
	vet := append(append(append(locked[:len(locked):len(locked)], readme...), image), "vet", "ci")
	if out, err := pod(vet...); err != nil {
		t.Errorf("pipec vet in the image, on a good configuration: %v\n%s", err, out)
	}
	appendFile(t, filepath.Join(checkout, "ci"), "pipec.cue", badConfig)
	line := badLine(t, filepath.Join(checkout, "ci"))
	cmd := exec.Command(podman, vet...)
	outb, err := cmd.CombinedOutput()
	want := fmt.Sprintf("ci/pipec.cue:%d:48: pipelines.\"go-service\".tasks.lint.timeout: deny pipec/config/cue: invalid value \"ten minutes\"", line)
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(outb), want) {
		t.Errorf("pipec vet in the image, on a bad configuration: %v (want exit 1 and %s)\n%s", err, want, outb)
	}

	// The default command: the HTTP API, with a writable /tmp as the Helm
	// chart mounts one.
	port := freePort(t)
	name := "pipec-tests-serve-" + src.Rev[:12]
	_, _ = pod("rm", "-f", name)
	if _, err := pod("run", "-d", "--name", name, "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,size=64m",
		"--cap-drop=ALL", "--security-opt=no-new-privileges", "--network=host", image, "serve", fmt.Sprintf("--addr=127.0.0.1:%d", port)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if logs, err := pod("logs", name); err == nil {
			t.Logf("pipec serve's log:\n%s", lastLines(logs, 10))
		}
		_, _ = pod("rm", "-f", "-t", "5", name)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pipec serve in the image did not become ready: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	resp, err := http.Post(base+"/v1/vet?report=text", "application/gzip", bytes.NewReader(tarGz(t, filepath.Join(root(t), "examples", "go-service"))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST /v1/vet of a good configuration: %s", resp.Status)
	}
}

// builderImage returns a local image that stands in for the Dockerfile's
// golang:<version>-bookworm: Debian bookworm (debootstrap, minbase, with
// ca-certificates and git, as the golang image has) and this machine's Go
// in /usr/local/go, with the golang image's environment. Made once per
// machine.
func builderImage(t *testing.T, pod func(...string) (string, error)) string {
	t.Helper()
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	name := "localhost/pipec-tests/golang:" + goVersion + "-bookworm"
	if _, err := pod("image", "exists", name); err == nil {
		return name
	}
	debootstrap := clientBin(t, "debootstrap")
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	start := time.Now()
	if out, err := exec.Command(debootstrap, "--variant=minbase", "--include=ca-certificates,git", "bookworm", rootfs, debianMirror()).CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, lastLines(string(out), 20))
	}
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("cp", "-a", goroot, filepath.Join(rootfs, "usr", "local", "go")).CombinedOutput(); err != nil {
		t.Fatalf("copying Go: %v\n%s", err, out)
	}
	archive := exec.Command("tar", "-C", rootfs, "-c", ".")
	imp := exec.Command("podman", "import",
		"--change", "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", "ENV GOLANG_VERSION="+goVersion, "--change", "ENV GOTOOLCHAIN=local", "--change", "ENV GOPATH=/go",
		"--change", "WORKDIR /go", "--change", `CMD ["bash"]`, "-", name)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	if err := imp.Wait(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, impOut.String())
	}
	t.Logf("made %s in %s", name, time.Since(start).Round(time.Second))
	return name
}

// debianMirror is the Debian mirror apt uses here.
func debianMirror() string {
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := regexp.MustCompile(`(?m)^(?:URIs:\s*|deb\s+)(\S+/debian)/?\s*$`).FindStringSubmatch(string(data)); m != nil {
			return m[1]
		}
		if m := regexp.MustCompile(`(?m)^(?:URIs:|deb)\s+(\S+/debian)\b`).FindStringSubmatch(string(data)); m != nil {
			return m[1]
		}
	}
	return "http://deb.debian.org/debian"
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tarGz packs the files of dir, as `tar czf - -C dir .` does.
func tarGz(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
