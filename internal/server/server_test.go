package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/bundle"
	"github.com/pipec/pipec/render"
)

// start serves s on a loopback port until the test ends and returns its
// base URL.
func start(t testing.TB, s *Server) string {
	t.Helper()
	base, stop, served := serving(t, s)
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	return base
}

// serving serves s on a loopback port and returns its base URL, the
// signal that starts its shutdown, and what Serve returns then.
func serving(t testing.TB, s *Server) (base string, stop context.CancelFunc, served <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	return "http://" + l.Addr().String(), cancel, done
}

// exampleFiles reads an example's CUE files by relative path.
func exampleFiles(t testing.TB, name string) map[string][]byte {
	t.Helper()
	root := filepath.Join("..", "..", "examples", name)
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".cue" {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

type entry struct {
	name     string
	data     []byte
	typeflag byte
	size     int64 // header size when it differs from len(data)
}

func tarball(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: e.typeflag}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeSymlink {
			h.Linkname, h.Size = "/etc/passwd", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func entries(files map[string][]byte, prefix string) []entry {
	var es []entry
	for name, data := range files {
		es = append(es, entry{name: prefix + name, data: data})
	}
	return es
}

func txtarOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	for name, data := range files {
		fmt.Fprintf(&buf, "-- %s --\n%s", name, data)
		if !bytes.HasSuffix(data, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func post(t testing.TB, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// wantStream is what `pipec build` prints for an example.
func wantStream(t testing.TB, name string, f render.Format) []byte {
	t.Helper()
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: filepath.Join("..", "..", "examples", name), Policies: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := render.Stream(&buf, res.Objects, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// modes are the ways a server builds: in its own process, and in a worker
// process per build, as pipec serve does. Both answer the same.
var modes = []struct {
	name string
	cfg  Config
}{
	{"in-process", Config{}},
	{"worker", Config{Worker: []string{os.Args[0]}}},
}

func TestBuildAnswersWhatTheCLIPrints(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testBuildAnswers(t, m.cfg) })
	}
}

func testBuildAnswers(t *testing.T, cfg Config) {
	base := start(t, New(cfg))
	for _, ex := range []string{"go-service", "monorepo", "shop"} {
		files := exampleFiles(t, ex)
		for _, tc := range []struct {
			name   string
			body   []byte
			query  string
			format render.Format
		}{
			{"tar", tarball(t, false, entries(files, "")...), "", render.YAML},
			{"tar.gz", tarball(t, true, entries(files, "")...), "?format=json", render.JSON},
			{"txtar", txtarOf(files), "", render.YAML},
			{"forge archive", tarball(t, true, entries(files, "acme-app-0123abc/")...), "?dir=acme-app-0123abc", render.YAML},
		} {
			t.Run(ex+"/"+tc.name, func(t *testing.T) {
				resp, body := post(t, base+"/v1/build"+tc.query, tc.body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %s: %s", resp.Status, body)
				}
				if got := resp.Header.Get("Pipec-Exit-Code"); got != "0" {
					t.Errorf("Pipec-Exit-Code = %q, want 0", got)
				}
				if want := wantStream(t, ex, tc.format); !bytes.Equal(body, want) {
					t.Errorf("the manifests differ from the CLI's (%d bytes, want %d)", len(body), len(want))
				}
			})
		}
	}
}

const latestImage = `package ci

pipelines: app: tasks: a: steps: [{name: "s", image: "busybox:latest", script: "true"}]
`

func TestFindings(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testFindings(t, m.cfg) })
	}
}

func testFindings(t *testing.T, cfg Config) {
	base := start(t, New(cfg))
	bad := txtarOf(map[string][]byte{"pipec.cue": []byte(latestImage)})
	t.Run("build answers 422 with the report", func(t *testing.T) {
		resp, body := post(t, base+"/v1/build", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Pipec-Exit-Code") != "1" {
			t.Fatalf("status %s, exit code %q: %s", resp.Status, resp.Header.Get("Pipec-Exit-Code"), body)
		}
		var rep struct {
			Findings []struct {
				File, Path, Message string
				Line, Column        int
			}
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("the report is not JSON: %v\n%s", err, body)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].File != "pipec.cue" || rep.Findings[0].Line != 3 || !strings.Contains(rep.Findings[0].Message, `mutable tag "latest"`) {
			t.Errorf("findings = %+v, want one at pipec.cue:3 about the latest tag", rep.Findings)
		}
	})
	t.Run("vet in the CLI's text format", func(t *testing.T) {
		resp, body := post(t, base+"/v1/vet?report=text", bad)
		want := "pipec.cue:3:54: pipelines.app.tasks.a.steps[0].image: deny pipec/config/image: image \"busybox:latest\" uses the mutable tag"
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(string(body), want) {
			t.Fatalf("status %s: %s", resp.Status, body)
		}
		if got := resp.Header.Get("Pipec-Findings"); got != "deny=1, warn=0, info=0" {
			t.Errorf("Pipec-Findings = %q", got)
		}
	})
	t.Run("fail-on never does not pass configuration errors", func(t *testing.T) {
		resp, body := post(t, base+"/v1/vet?fail-on=never&report=sarif", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"version": "2.1.0"`)) {
			t.Fatalf("status %s: %s", resp.Status, body)
		}
	})
	t.Run("syntax error is exit code 2 at its position", func(t *testing.T) {
		resp, body := post(t, base+"/v1/vet?report=text", []byte("-- pipec.cue --\npackage ci\nfoo: \n"))
		if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Pipec-Exit-Code") != "2" || !strings.HasPrefix(string(body), "pipec.cue:3:1: ") && !strings.HasPrefix(string(body), "pipec.cue:2:") {
			t.Fatalf("status %s, exit %q: %s", resp.Status, resp.Header.Get("Pipec-Exit-Code"), body)
		}
	})
	t.Run("a directory the bundle does not have", func(t *testing.T) {
		resp, body := post(t, base+"/v1/vet?dir=nowhere&report=text", bad)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "nowhere") {
			t.Fatalf("status %s: %s", resp.Status, body)
		}
	})
}

func TestRefusesBadRequests(t *testing.T) {
	s := New(Config{MaxBundleBytes: 64 << 10, Limits: bundle.Limits{MaxFiles: 10, MaxTotalBytes: 256 << 10, MaxFileBytes: 32 << 10}})
	base := start(t, s)
	ok := []byte(latestImage)
	many := make([]entry, 11)
	for i := range many {
		many[i] = entry{name: fmt.Sprintf("f%d.cue", i), data: ok}
	}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		msg                string
	}{
		{"empty body", "POST", "/v1/build", nil, 400, "neither a tar archive"},
		{"not a bundle", "POST", "/v1/build", []byte("hello"), 400, "neither a tar archive"},
		{"truncated gzip", "POST", "/v1/build", tarball(t, true, entry{name: "pipec.cue", data: ok})[:30], 400, "reading the tar archive"},
		{"no CUE files", "POST", "/v1/build", tarball(t, false, entry{name: "README.md", data: []byte("hi")}), 400, "holds no .cue files"},
		{"path traversal", "POST", "/v1/build", tarball(t, false, entry{name: "../../etc/x.cue", data: ok}), 400, "not a relative path"},
		{"absolute path", "POST", "/v1/build", tarball(t, false, entry{name: "/x.cue", data: ok}), 400, "not a relative path"},
		{"txtar traversal", "POST", "/v1/vet", []byte("-- ../x.cue --\npackage x\n"), 400, "not a relative path"},
		{"body too large", "POST", "/v1/build", bytes.Repeat([]byte("x"), 65<<10), 413, "larger than 65536 bytes"},
		{"too many files", "POST", "/v1/build", tarball(t, false, many...), 413, "more than 10 entries"},
		{"file too large", "POST", "/v1/build", tarball(t, true, entry{name: "big.cue", data: bytes.Repeat([]byte(" "), 40<<10)}), 413, "at most 32768"},
		{"gzip bomb", "POST", "/v1/build", tarball(t, true, entry{name: "blob.bin", data: make([]byte, 1<<20)}), 413, "expands to more than"},
		{"bad format", "POST", "/v1/build?format=xml", ok, 400, "xml"},
		{"bad report", "POST", "/v1/vet?report=html", ok, 400, "html"},
		{"bad fail-on", "POST", "/v1/vet?fail-on=maybe", ok, 400, "maybe"},
		{"bad date", "POST", "/v1/vet?date=tomorrow", ok, 400, "YYYY-MM-DD"},
		{"dir outside", "POST", "/v1/vet?dir=../x", ok, 400, "relative path inside"},
		{"wrong method", "GET", "/v1/build", nil, 405, "takes POST"},
		{"unknown path", "POST", "/v2/build", ok, 404, "POST /v1/build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.msg) {
				t.Fatalf("got %s: %s; want %d with %q", resp.Status, body, tc.status, tc.msg)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q, want a JSON error", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestSkipsWhatIsNotCUE(t *testing.T) {
	b, err := bundle.Read(bytes.NewReader(tarball(t, false,
		entry{name: "repo/pipec.cue", data: []byte(latestImage)},
		entry{name: "repo/link.cue", typeflag: tar.TypeSymlink},
		entry{name: "repo/Makefile", data: []byte("all:\n\trm -rf /\n")},
	)), bundle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 1 || b.Skipped != 2 || b.Root() != "repo" {
		t.Errorf("files %v, skipped %d, root %q; want only repo/pipec.cue, 2 skipped, root repo", b.Files, b.Skipped, b.Root())
	}
}

func TestConcurrentClients(t *testing.T) {
	s := New(Config{MaxConcurrent: 2, MaxQueue: 16})
	base := start(t, s)
	body := tarball(t, true, entries(exampleFiles(t, "go-service"), "")...)
	want := wantStream(t, "go-service", render.YAML)
	const clients, each = 12, 3
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for range clients {
		wg.Go(func() {
			for range each {
				resp, err := http.Post(base+"/v1/build", "application/gzip", bytes.NewReader(body))
				if err != nil {
					errs <- err
					continue
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("status %s, %d bytes", resp.Status, len(got))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`pipec_http_requests_total{code="200",handler="build",method="post"} 36`,
		`pipec_build_duration_seconds_count{result="pass"} 36`,
		`pipec_builds_in_flight 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func TestMetricsAndHealth(t *testing.T) {
	base := start(t, New(Config{}))
	post(t, base+"/v1/vet", txtarOf(map[string][]byte{"pipec.cue": []byte(latestImage)}))
	post(t, base+"/v1/vet", []byte("garbage"))
	if got := get(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get(t, base+"/readyz"); got != "ok\n" {
		t.Errorf("/readyz = %q", got)
	}
	m := get(t, base+"/metrics")
	for _, want := range []string{
		`pipec_findings_total{severity="deny"} 1`,
		`pipec_build_duration_seconds_count{result="fail"} 1`,
		`pipec_http_requests_total{code="422",handler="vet",method="post"} 1`,
		`pipec_http_requests_total{code="400",handler="vet",method="post"} 1`,
		`pipec_http_request_duration_seconds_bucket{code="422",handler="vet",method="post",le="+Inf"} 1`,
		`pipec_bundle_bytes_count 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// blockingBuild is a Build that waits until released, to hold slots.
type blockingBuild struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingBuild) build(ctx context.Context, opts compiler.Options) (*compiler.Result, error) {
	b.started <- struct{}{}
	<-b.release
	return &compiler.Result{}, nil
}

func TestBusyServerAnswers503(t *testing.T) {
	bb := &blockingBuild{started: make(chan struct{}, 8), release: make(chan struct{})}
	s := New(Config{MaxConcurrent: 1, MaxQueue: 1, BuildTimeout: 300 * time.Millisecond, Build: bb.build})
	base := start(t, s)
	body := []byte(latestImage)
	body = txtarOf(map[string][]byte{"pipec.cue": body})

	type answer struct {
		status int
		body   string
	}
	first := make(chan answer, 1)
	go func() {
		resp, b := post(t, base+"/v1/build", body)
		first <- answer{resp.StatusCode, string(b)}
	}()
	<-bb.started // the one slot is taken

	// The build outlives the timeout: 503, and the slot stays taken.
	a := <-first
	if a.status != 503 || !strings.Contains(a.body, "did not finish within 300ms") {
		t.Fatalf("slow build: %d %s", a.status, a.body)
	}
	// A request that waits for the slot times out.
	resp, b := post(t, base+"/v1/vet", body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "no build slot within") {
		t.Fatalf("waiting request: %s %s", resp.Status, b)
	}
	// Once released, the server builds again.
	close(bb.release)
	resp, b = post(t, base+"/v1/vet", body)
	if resp.StatusCode != 200 {
		t.Fatalf("after release: %s %s", resp.Status, b)
	}
	m := get(t, base+"/metrics")
	if !strings.Contains(m, `pipec_builds_rejected_total{reason="timeout"} 2`) {
		t.Errorf("metrics: want 2 timeouts:\n%s", m)
	}
}

func TestQueueFull(t *testing.T) {
	bb := &blockingBuild{started: make(chan struct{}, 8), release: make(chan struct{})}
	s := New(Config{MaxConcurrent: 1, MaxQueue: 1, BuildTimeout: time.Minute, Build: bb.build})
	base := start(t, s)
	body := txtarOf(map[string][]byte{"pipec.cue": []byte(latestImage)})
	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 { // one builds, one queues
		wg.Go(func() {
			resp, _ := post(t, base+"/v1/vet", body)
			statuses <- resp.StatusCode
		})
	}
	<-bb.started
	// Wait until the second is queued.
	for deadline := time.Now().Add(10 * time.Second); s.waiting.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second request never queued")
		}
	}
	resp, b := post(t, base+"/v1/vet", body)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "too many requests waiting") {
		t.Fatalf("third request: %s %s", resp.Status, b)
	}
	close(bb.release)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 {
			t.Errorf("a queued request got %d, want 200", st)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	bb := &blockingBuild{started: make(chan struct{}, 1), release: make(chan struct{})}
	s := New(Config{Build: bb.build, ShutdownTimeout: 10 * time.Second})
	base, cancel, served := serving(t, s)
	status := make(chan int, 1)
	go func() {
		resp, _ := post(t, base+"/v1/vet", txtarOf(map[string][]byte{"pipec.cue": []byte(latestImage)}))
		status <- resp.StatusCode
	}()
	<-bb.started
	cancel()
	for deadline := time.Now().Add(10 * time.Second); !s.draining.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server did not start draining")
		}
	}
	rec := &recorder{header: http.Header{}}
	s.serveReady(rec, nil)
	if rec.status != 503 {
		t.Errorf("/readyz while draining = %d, want 503", rec.status)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the request in flight finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(bb.release)
	if st := <-status; st != 200 {
		t.Errorf("the request in flight got %d, want 200", st)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// TestNoModuleFetches sends a bundle whose module depends on a module of a
// registry the test serves: the server must not ask it for anything, nor
// write a module cache, and must say why the import fails.
func TestNoModuleFetches(t *testing.T) {
	var hits atomicCounter
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add()
		http.NotFound(w, r)
	}))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	t.Setenv("CUE_REGISTRY", host+"+insecure")
	home, tmp := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	t.Setenv("CUE_CACHE_DIR", filepath.Join(home, "cue-cache"))
	files := exampleFiles(t, "go-service")
	files["cue.mod/module.cue"] = []byte(`module: "acme.com/ci@v0"
language: version: "v0.12.0"
deps: "acme.com/evil@v0": v: "v0.1.0"
`)
	files["evil.cue"] = []byte("package ci\n\nimport \"acme.com/evil\"\n\n_x: evil.x\n")
	for _, m := range modes {
		url := start(t, New(m.cfg))
		resp, body := post(t, url+"/v1/vet", txtarOf(files))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "acme.com/evil") {
			t.Errorf("%s: %d %s; want 422 naming the module", m.name, resp.StatusCode, body)
		}
	}
	if n := hits.get(); n != 0 {
		t.Errorf("the registry was asked %d times", n)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the build wrote %v under HOME", entries)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *atomicCounter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestMain(m *testing.M) {
	if conf := os.Getenv(envTestServer); conf != "" && !IsWorker() {
		os.Exit(runTestServer(conf))
	}
	if IsWorker() && len(os.Args) > 1 && os.Args[1] == "allocate-and-hang" {
		allocateAndHang()
	}
	if IsWorker() && len(os.Args) > 1 {
		switch os.Args[1] {
		case "answer-too-much":
			answerTooMuch()
		case "panic-after-allocating":
			panicAfterAllocating()
		case "spin":
			spinPastCPULimit()
		}
	}
	if IsWorker() && len(os.Args) > 1 && os.Args[1] == "crash-after-allocating" {
		// A worker that dies as Go's runtime may when its memory limit
		// refuses it more: not saying so.
		crashAfterAllocating()
	}
	if IsWorker() {
		// The test binary is its own build worker, as pipec is.
		if err := RunWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// bomb is a small configuration whose evaluation takes minutes and
// gigabytes: four million list elements.
var bomb = []byte("-- bomb.cue --\npackage ci\n\nimport \"list\"\n\nx: [for a in list.Range(0, 2000, 1) for b in list.Range(0, 2000, 1) {\"\\(a)-\\(b)\": a * b}]\n")

// TestWorkersBoundBuilds sends builds that would hold a slot and the
// server's memory for minutes to a server with one slot: each is stopped at
// its limit (the deadline, the worker's memory), the slot is free at once
// for an ordinary build, and no worker process is left.
func TestWorkersBoundBuilds(t *testing.T) {
	files := exampleFiles(t, "go-service")
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		memory   int64
		wantText string
	}{
		// The deadline leaves an ordinary build room on a loaded machine
		// (go test runs packages in parallel); the bomb runs for minutes.
		{"deadline", 5 * time.Second, 4 << 30, "did not finish within 5s"},
		{"memory", time.Minute, 192 << 20, "needed more than the server's 192 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "memory" && raceEnabled {
				t.Skip("the race detector's shadow memory does not fit the limit")
			}
			s := New(Config{Worker: []string{os.Args[0]}, WorkerMemory: tc.memory, BuildTimeout: tc.timeout, MaxConcurrent: 1})
			url := start(t, s)
			start := time.Now()
			resp, body := post(t, url+"/v1/vet", bomb)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), tc.wantText) {
				t.Fatalf("%d %s; want 503 saying %q", resp.StatusCode, body, tc.wantText)
			}
			t.Logf("stopped after %s: %s", time.Since(start).Round(time.Millisecond), body)
			// The one slot is free: an ordinary build does not wait for it.
			resp, body = post(t, url+"/v1/build", txtarOf(files))
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, wantStream(t, "go-service", render.YAML)) {
				t.Fatalf("after the bomb: %d %.300s", resp.StatusCode, body)
			}
			if kids := children(t); len(kids) != 1 {
				t.Errorf("worker processes %v, want the slot's one", kids)
			}
			s.Close()
			if kids := children(t); len(kids) != 0 {
				t.Errorf("worker processes left after Close: %v", kids)
			}
		})
	}
}

// children lists the pids of this process's child processes.
func children(t testing.TB) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == fmt.Sprint(os.Getpid()) {
			kids = append(kids, filepath.Base(filepath.Dir(f)))
		}
	}
	return kids
}

// TestShutdownDelay: after the signal, the server keeps its listener open
// for ShutdownDelay and says it is not ready over HTTP, where a load
// balancer can see it, and still builds what it is sent; then it stops,
// within ShutdownTimeout in all.
func TestShutdownDelay(t *testing.T) {
	s := New(Config{ShutdownDelay: time.Second, ShutdownTimeout: 3 * time.Second})
	base, cancel, served := serving(t, s)
	if got := get(t, base+"/readyz"); got != "ok\n" {
		t.Fatalf("/readyz before the signal: %q", got)
	}
	signalled := time.Now()
	cancel()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("the listener closed before the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the delay = %d, want 503", resp.StatusCode)
	}
	if resp, _ := post(t, base+"/v1/build", txtarOf(exampleFiles(t, "go-service"))); resp.StatusCode != http.StatusOK {
		t.Errorf("a build during the delay: %s", resp.Status)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(signalled); d < time.Second || d > 3*time.Second {
		t.Errorf("shutdown took %s, want between the delay and the timeout", d)
	}
	if dl := s.ShutdownDeadline(); dl.Sub(signalled) > 3*time.Second+100*time.Millisecond {
		t.Errorf("ShutdownDeadline %s after the signal, want ShutdownTimeout", dl.Sub(signalled))
	}
}

// TestSlowUploadHoldsNoSlot: a client that sends its bundle slowly holds no
// build slot; an ordinary build on a one-slot server is answered meanwhile.
func TestSlowUploadHoldsNoSlot(t *testing.T) {
	base := start(t, New(Config{MaxConcurrent: 1, BuildTimeout: 20 * time.Second}))
	pr, pw := io.Pipe()
	slow := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/v1/vet", "application/x-tar", pr)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	body := txtarOf(exampleFiles(t, "go-service"))
	pw.Write(body[:10])
	time.Sleep(100 * time.Millisecond) // the slow request is in, reading
	resp, _ := post(t, base+"/v1/build", body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("an ordinary build while another upload trickles in: %s", resp.Status)
	}
	pw.Write(body[10:])
	pw.Close()
	if code := <-slow; code != http.StatusOK {
		t.Errorf("the slow upload: %d", code)
	}
}

// TestWorkerLifecycle: Close stops a build in progress (its client gets
// 503 at once); a worker that died while idle is replaced; a read-only
// TMPDIR does not stop builds.
func TestWorkerLifecycle(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	s := New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1, BuildTimeout: time.Minute})
	base := start(t, s)
	files := txtarOf(exampleFiles(t, "go-service"))
	if resp, body := post(t, base+"/v1/build", files); resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s", resp.Status, body)
	}
	kids := children(t)
	if len(kids) != 1 {
		t.Fatalf("workers %v, want one", kids)
	}
	pid, _ := strconv.Atoi(kids[0])
	syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	if resp, body := post(t, base+"/v1/build", files); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the idle worker died: %s %s", resp.Status, body)
	}
	answer := make(chan string, 1)
	go func() {
		resp, body := post(t, base+"/v1/vet", bomb)
		answer <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	time.Sleep(500 * time.Millisecond) // the bomb builds
	closed := time.Now()
	s.Close()
	if got := <-answer; !strings.HasPrefix(got, "503 ") || !strings.Contains(got, "shutting down") {
		t.Errorf("the build in progress at Close: %s", got)
	}
	if d := time.Since(closed); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("workers left after Close: %v", kids)
	}
}

// TestMessagesForClients: findings name the client's files, never the
// server's internal bundle root, and say what this server does where the
// CLI's hint would not help.
func TestMessagesForClients(t *testing.T) {
	for _, m := range modes {
		base := start(t, New(m.cfg))
		for _, tc := range []struct{ bundle, want string }{
			{"-- pipec.cue --\n@extern(embed)\npackage ci\n\nx: _ @embed(file=\"data.json\")\n",
				"pipec.cue:4:6: deny pipec/config/cue: @embed: open data.json: no such file or directory; hint: pipec serve keeps only the bundle's .cue files"},
			{"-- pipec.cue --\npackage ci\n\nimport \"acme.com/x\"\n\ny: x.z\n",
				"hint: this server fetches no CUE modules"},
			{"-- a/pipec.cue --\npackage ci\n", "the bundle's root holds no configuration; hint: pass dir="},
		} {
			_, body := post(t, base+"/v1/vet?report=text", []byte(tc.bundle))
			if !strings.Contains(string(body), tc.want) || strings.Contains(string(body), bundleRoot) {
				t.Errorf("%s: %s\nwant %q, and no %s", m.name, body, tc.want, bundleRoot)
			}
		}
		_, body := post(t, base+"/v1/vet?report=text&dir=nowhere", []byte("-- pipec.cue --\npackage ci\n"))
		if !strings.HasPrefix(string(body), "deny pipec/config/load: nowhere ") {
			t.Errorf("%s: %s", m.name, body)
		}
	}
}

// TestAPIToken: with a token file, /v1/build and /v1/vet need the bearer
// token (read on each request, so a rotated Secret applies at once);
// health, readiness and metrics do not.
func TestAPIToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("s3cret-token\n"), 0o600)
	base := start(t, New(Config{TokenFile: file}))
	body := txtarOf(exampleFiles(t, "go-service"))
	call := func(auth string) int {
		req, _ := http.NewRequest("POST", base+"/v1/vet", bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		return resp.StatusCode
	}
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "Basic s3cret-token": 401, "Bearer s3cret-token": 200} {
		if got := call(auth); got != want {
			t.Errorf("Authorization %q: %d, want %d", auth, got, want)
		}
	}
	os.WriteFile(file, []byte("rotated"), 0o600)
	if got := call("Bearer s3cret-token"); got != 401 {
		t.Errorf("the old token after rotation: %d", got)
	}
	if got := call("Bearer rotated"); got != 200 {
		t.Errorf("the rotated token: %d", got)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		get(t, base+p)
	}
}

// TestLivenessSeesWedgedSlots: /healthz fails once a build has held its
// slot far past its deadline, so that Kubernetes restarts a wedged server.
func TestLivenessSeesWedgedSlots(t *testing.T) {
	s := New(Config{BuildTimeout: time.Second})
	rec := &recorder{header: http.Header{}}
	s.serveHealth(rec, nil)
	if rec.status != 0 && rec.status != 200 {
		t.Fatalf("idle: %d", rec.status)
	}
	long := time.Now().Add(-time.Minute)
	s.builds = map[*time.Time]struct{}{&long: {}}
	rec = &recorder{header: http.Header{}}
	s.serveHealth(rec, nil)
	if rec.status != http.StatusServiceUnavailable {
		t.Errorf("a build a minute into a 1s timeout: %d, want 503", rec.status)
	}
	recent := time.Now()
	s.builds = map[*time.Time]struct{}{&recent: {}}
	rec = &recorder{header: http.Header{}}
	s.serveHealth(rec, nil)
	if rec.status == http.StatusServiceUnavailable {
		t.Error("a build in progress made the server not live")
	}
}
