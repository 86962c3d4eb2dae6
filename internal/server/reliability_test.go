package server

import (
	"archive/tar"
	"bufio"
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
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pipec/pipec/internal/bundle"
)

// The reliability test's server runs in a process of its own (this test
// binary, started with envTestServer), as pipec serve does, so that its
// memory, its worker processes, its files and its shutdown are its own.
const envTestServer = "PIPEC_TEST_SERVER"

// testServer is the configuration of the reliability test's server.
type testServer struct {
	MaxConcurrent, MaxQueue                       int
	MaxBundleBytes, MaxExpandedBytes, WorkerBytes int64
	BuildTimeout, ShutdownTimeout, ShutdownDelay  time.Duration
}

// runTestServer is the main of the reliability test's server process: it
// serves on a loopback port, which it prints, until SIGTERM.
func runTestServer(conf string) int {
	var ts testServer
	if err := json.Unmarshal([]byte(conf), &ts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s := New(Config{
		Worker: []string{os.Args[0]}, WorkerMemory: ts.WorkerBytes,
		MaxConcurrent: ts.MaxConcurrent, MaxQueue: ts.MaxQueue, MaxBundleBytes: ts.MaxBundleBytes,
		Limits:       bundle.Limits{MaxTotalBytes: ts.MaxExpandedBytes},
		BuildTimeout: ts.BuildTimeout, ShutdownTimeout: ts.ShutdownTimeout, ShutdownDelay: ts.ShutdownDelay,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("listening %s\n", l.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = s.Serve(ctx, l)
	s.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// hostile is one hostile request and the answers it may get.
type hostile struct {
	class, name string
	body        []byte
	query       string // more query parameters
	status      []int
	// want is in the answer, if set.
	want string
}

// hostileBundles are the classes of pipec serve under hostile input
// (issue 20), sized for the test server's limits: CPU and memory bombs in
// CUE, tar and gzip bombs and unsafe entries, module fetches and
// embedded files from outside the bundle.
func hostileBundles(t *testing.T, maxExpanded int64) []hostile {
	cue := []byte("package ci\n")
	txt := func(files ...string) []byte {
		var b bytes.Buffer
		for i := 0; i < len(files); i += 2 {
			fmt.Fprintf(&b, "-- %s --\n%s\n", files[i], files[i+1])
		}
		return b.Bytes()
	}
	reg := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size}
	}
	// withCUE is a tar (or tar.gz) of the entries; the .cue files among
	// them hold "package ci", the other files zeros, and an entry that
	// declares more than a GiB ends the archive after its header.
	withCUE := func(gz bool, hdrs ...*tar.Header) []byte {
		var buf bytes.Buffer
		var w io.Writer = &buf
		zw := gzip.NewWriter(&buf)
		if gz {
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, h := range hdrs {
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			data := []byte(nil)
			if h.Typeflag == tar.TypeReg && strings.HasSuffix(h.Name, ".cue") {
				data = cue
				h.Size = int64(len(cue))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 1<<30 {
				tw.Flush()
				zw.Close()
				return buf.Bytes()
			}
			if data != nil {
				tw.Write(data)
			} else if h.Typeflag == tar.TypeReg && h.Size > 0 {
				io.CopyN(tw, zeros{}, h.Size)
			}
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	var paxNames, gnuNames []*tar.Header
	for i := range 64 {
		paxNames = append(paxNames, &tar.Header{Name: fmt.Sprintf("%d%s.txt", i, long('p', 500<<10)), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		gnuNames = append(gnuNames, &tar.Header{Name: fmt.Sprintf("%d%s.txt", i, long('g', 500<<10)), Typeflag: tar.TypeReg, Format: tar.FormatGNU})
	}
	var many []*tar.Header
	for i := range bundle.DefaultMaxFiles + 1 {
		many = append(many, &tar.Header{Name: fmt.Sprintf("d/%d", i), Typeflag: tar.TypeDir})
	}
	mod := "module: \"acme.com/ci@v0\"\nlanguage: version: \"v0.12.0\"\n"
	deps := mod
	imports := ""
	for i := range 50 {
		deps += fmt.Sprintf("deps: \"acme.com/m%d@v0\": v: \"v0.1.%d\"\n", i, i)
		imports += fmt.Sprintf("import \"acme.com/m%d\"\n", i)
	}
	const (
		ok, unprocessable, bad, tooLarge, busy = 200, 422, 400, 413, 503
	)
	return []hostile{
		// CPU and memory bombs in CUE: stopped at the deadline or the
		// worker's memory limit.
		{class: "cue", name: "comprehension 500x500", body: txt("bomb.cue", "package ci\n\nimport \"list\"\n\nx: {for a in list.Range(0,500,1) for b in list.Range(0,500,1) {\"\\(a)-\\(b)\": {v: a*b, w: \"\\(a)\"}}}"), status: []int{busy}},
		{class: "cue", name: "path 60,000 levels deep", body: gz(t, "deep.cue", "package ci\n\n"+strings.Repeat("a: ", 60000)+"1\n"), status: []int{busy, ok}},
		{class: "cue", name: "string doubled 40 times", body: txt("s.cue", "package ci\n\na0: \"xxxxxxxxxxxxxxxx\"\n"+doubling(40)), status: []int{busy}},
		{class: "cue", name: "list of a billion", body: txt("l.cue", "package ci\n\nimport \"list\"\n\nl: list.Range(0, 1000000000, 1)\n"), status: []int{busy}},
		{class: "cue", name: "list.Repeat 800 million", body: txt("l.cue", "package ci\n\nimport \"list\"\n\nl: list.Repeat([1,2,3,4,5,6,7,8], 100000000)\n"), status: []int{busy, unprocessable}},
		// Tar and gzip bombs, unsafe entries.
		{class: "tar", name: "PAX size of 10 GiB", body: withCUE(true, &tar.Header{Name: "x.bin", Typeflag: tar.TypeReg, Size: 10 << 30, Format: tar.FormatPAX}), status: []int{tooLarge}, want: "expands to more than"},
		{class: "tar", name: "PAX long names", body: withCUE(true, append(paxNames, reg("a.cue", 0))...), status: []int{tooLarge}, want: "expands to more than"},
		{class: "tar", name: "GNU long names", body: withCUE(true, append(gnuNames, reg("a.cue", 0))...), status: []int{tooLarge}, want: "expands to more than"},
		{class: "tar", name: "more entries than allowed", body: withCUE(true, append(many, reg("a.cue", 0))...), status: []int{tooLarge}, want: "more than 5000 entries"},
		{class: "tar", name: "gzip bomb", body: withCUE(true, reg("zero.bin", 8*maxExpanded), reg("a.cue", 0)), status: []int{tooLarge}, want: "expands to more than"},
		{class: "tar", name: "txtar of markers", body: bytes.Repeat([]byte("-- a.cue --\n"), 80000), status: []int{tooLarge}, want: "more than 5000 files"},
		{class: "tar", name: "tar -C dir . with ./ entries", body: withCUE(true, &tar.Header{Name: "./", Typeflag: tar.TypeDir}, &tar.Header{Name: "./ci/", Typeflag: tar.TypeDir}, reg("./ci/a.cue", 0)), query: "dir=ci", status: []int{ok}},
		{class: "tar", name: "links and devices", body: withCUE(false,
			&tar.Header{Name: "sym.cue", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
			&tar.Header{Name: "hard.cue", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"},
			&tar.Header{Name: "null.cue", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
			&tar.Header{Name: "disk", Typeflag: tar.TypeBlock, Devmajor: 8},
			&tar.Header{Name: "fifo.cue", Typeflag: tar.TypeFifo},
			reg("a.cue", 0)), status: []int{ok}},
		{class: "tar", name: "absolute path", body: withCUE(false, reg("/etc/a.cue", 0)), status: []int{bad}, want: "not a relative path"},
		{class: "tar", name: "parent directory", body: withCUE(false, reg("a/../../a.cue", 0)), status: []int{bad}, want: "not a relative path"},
		// Fetches and files from outside the bundle.
		{class: "modules", name: "50 module dependencies", body: txt("cue.mod/module.cue", deps, "a.cue", "package ci\n\n"+imports+"\nx: m0.y\n"), status: []int{unprocessable}, want: "this server fetches no CUE modules"},
		{class: "modules", name: "@embed outside the bundle", body: txt("cue.mod/module.cue", mod, "a.cue", "@extern(embed)\n\npackage ci\n\n_x: _ @embed(file=\"../../../../etc/passwd\", type=text)\n"), status: []int{unprocessable}, want: "cannot refer to parent directory"},
		{class: "modules", name: "@embed of an absolute path", body: txt("cue.mod/module.cue", mod, "a.cue", "@extern(embed)\n\npackage ci\n\n_x: _ @embed(glob=\"/etc/*\", type=text)\n"), status: []int{unprocessable}},
		// Last, one for each hostile client: CPU only, they run to the
		// deadline, and their slots must be free as soon as they answer.
		{class: "cue", name: "9 million iterations", body: txt("cpu.cue", "package ci\n\nimport \"list\"\n\n_x: [for a in list.Range(0,3000,1) for b in list.Range(0,3000,1) if a*b == -1 {a}]\n"), status: []int{busy}, want: "did not finish within"},
		{class: "cue", name: "9 million iterations, again", body: txt("cpu.cue", "package ci\n\nimport \"list\"\n\n_x: [for a in list.Range(0,3000,1) for b in list.Range(0,3000,1) if a*b == -1 {a}]\n"), status: []int{busy}, want: "did not finish within"},
	}
}

// largestBundle is CUE files that fill the expanded limit: the server must
// not hold them (the worker reads the upload), and the worker builds them
// within the deadline.
func largestBundle(maxExpanded int64) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	data := append([]byte("package ci\n\n//"), bytes.Repeat([]byte("x"), 60<<10)...)
	for i := range int(maxExpanded/int64(len(data))) - 1 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("big/f%d.cue", i), Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// doubling is n CUE fields, each the previous one twice.
func doubling(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: a%d+a%d\n", i+1, i, i)
	}
	return b.String()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReliabilityUnderHostileInput is issue 20's reliability test, on
// loopback, in about 15 s: a pipec server with worker processes, in a
// process of its own, gets every class of hostile input above from two
// clients at once (and a client that uploads slowly) while a third sends
// an ordinary bundle again and again. It proves that
//
//   - every hostile request is answered, with the status its class calls
//     for (a bomb with 503 at its limit, a bad bundle with 400 or 413), and
//     never with a 500, a panic or a stack trace, and holds no build slot
//     once answered (a worker not killed at its deadline would);
//   - ordinary builds keep answering, correctly, with a median latency
//     within three times their median before the attack (or 400 ms more,
//     whichever is larger: a floor for a loaded machine);
//   - /healthz and /readyz answer 200 throughout, and /readyz 503 once
//     shutdown begins, while the server still serves;
//   - the server process's peak resident memory stays under 144 MiB (it
//     idles at about 50 MiB; a flood of uploads takes it to about 110): the
//     bombs' memory is the workers', killed at their limits (which the
//     workers' own peaks are checked against), and a flood of
//     large uploads from connections that then wait is held within
//     --max-upload-memory;
//   - the server fetches nothing (a registry in its environment is never
//     asked) and leaves nothing in TMPDIR or HOME, and no worker process;
//   - on SIGTERM it stops the bomb still building (its client gets 503)
//     and exits within --shutdown-timeout.
func TestReliabilityUnderHostileInput(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory does not fit the workers' limits")
	}
	if testing.Short() {
		t.Skip("30 s")
	}
	conf := testServer{
		// Three slots for two hostile clients and an ordinary one: the
		// bound under test is that a hostile build costs one slot, for
		// at most the build timeout, and none of the server's memory.
		MaxConcurrent: 3, MaxQueue: 6,
		MaxBundleBytes: 2 << 20, MaxExpandedBytes: 16 << 20, WorkerBytes: 384 << 20,
		// A shutdown shorter than a build, so that the build in flight
		// at SIGTERM is the shutdown's to stop.
		BuildTimeout: 3 * time.Second, ShutdownTimeout: 2 * time.Second, ShutdownDelay: time.Second,
	}
	const maxServerMiB = 144
	var registryHits atomic.Int32
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		registryHits.Add(1)
		http.NotFound(w, r)
	}))
	defer registry.Close()

	home, tmp := t.TempDir(), t.TempDir()
	js, _ := json.Marshal(conf)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envTestServer+"="+string(js), "HOME="+home, "TMPDIR="+tmp,
		"CUE_REGISTRY="+strings.TrimPrefix(registry.URL, "http://")+"+insecure", "CUE_CACHE_DIR="+filepath.Join(home, ".cache", "cue"))
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("the server did not start: %q %v\n%s", line, err, stderr.Bytes())
	}
	base := "http://" + addr
	pid := fmt.Sprint(cmd.Process.Pid)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(path string, body []byte) (int, string, time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(base+path, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			return 0, "", time.Since(start), err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), time.Since(start), err
	}
	probe := func(path string) int {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Workers are the server's children; remember every one seen, to
	// check that none is left.
	workers := map[string]bool{}
	var workerMiB float64 // the largest peak resident memory of a worker
	var workersMu sync.Mutex
	sampleWorkers := func() {
		workersMu.Lock()
		defer workersMu.Unlock()
		for _, k := range childrenOf(pid) {
			workers[k] = true
			workerMiB = max(workerMiB, procMiB(k, "VmHWM"))
		}
	}

	// The usual latency of an ordinary build, before the attack.
	ordinary := tarball(t, true, entries(exampleFiles(t, "go-service"), "")...)
	var want string
	var usual []time.Duration
	for i := range 12 {
		code, body, d, err := send("/v1/build", ordinary)
		if err != nil || code != http.StatusOK {
			t.Fatalf("an ordinary build before the attack: %d %v %.300s\n%s", code, err, body, stderr.Bytes())
		}
		if i == 0 {
			want = body // the first starts the workers
			continue
		}
		if body != want {
			t.Fatal("ordinary builds differ")
		}
		usual = append(usual, d)
	}
	sampleWorkers()

	// The largest bundle the server takes builds, before the attack: under
	// it, the hostile clients' CPU (they run to the deadline) would decide
	// whether its 16 MiB are parsed within the deadline (about 1 s alone).
	if code, body, d, err := send("/v1/vet?report=text&dir=big", largestBundle(conf.MaxExpandedBytes)); err != nil || code != http.StatusOK {
		t.Errorf("the expanded limit in CUE: %d in %s %v %.300s; want 200", code, d.Round(time.Millisecond), err, body)
	}
	sampleWorkers()

	// The attack: two hostile clients, a slow one and an ordinary one,
	// with health and readiness probed throughout.
	attacks := hostileBundles(t, conf.MaxExpandedBytes)
	var (
		mu       sync.Mutex
		problems []string
		under    []time.Duration
	)
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	started := time.Now()
	next := make(chan hostile, len(attacks))
	for _, a := range attacks {
		next <- a
	}
	close(next)
	var attackers sync.WaitGroup
	for range 2 {
		attackers.Go(func() {
			for a := range next {
				code, body, d, err := send("/v1/vet?report=text&"+a.query, a.body)
				t.Logf("%-8s %-30s %3d in %6s: %.100s", a.class, a.name, code, d.Round(time.Millisecond), strings.Join(strings.Fields(body), " "))
				switch {
				case err != nil:
					report("%s: %v", a.name, err)
				case !slices.Contains(a.status, code) || !strings.Contains(body, a.want):
					report("%s: %d %.300s; want %v with %q", a.name, code, body, a.status, a.want)
				}
				for _, leak := range []string{"internal error", "goroutine ", "panic", bundleRoot} {
					if strings.Contains(body, leak) {
						report("%s: the answer shows %q: %.300s", a.name, leak, body)
					}
				}
				if d > conf.BuildTimeout+2*time.Second {
					report("%s: answered after %s", a.name, d.Round(time.Millisecond))
				}
			}
		})
	}
	done := make(chan struct{})
	var others sync.WaitGroup
	others.Go(func() { // a slow upload: a byte every 20 ms
		pr, pw := io.Pipe()
		go func() {
			defer pw.Close()
			for _, c := range txtarOf(map[string][]byte{"pipec.cue": []byte("package ci\n")}) {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				pw.Write([]byte{c})
			}
		}()
		if resp, err := client.Post(base+"/v1/vet", "text/plain", pr); err == nil {
			resp.Body.Close()
		}
	})
	others.Go(func() { // health and readiness tell the truth: live, ready
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if h, r := probe("/healthz"), probe("/readyz"); h != 200 || r != 200 {
				report("during the attack: /healthz %d, /readyz %d", h, r)
			}
			sampleWorkers()
		}
	})
	others.Go(func() { // ordinary builds
		for {
			select {
			case <-done:
				return
			default:
			}
			code, body, d, err := send("/v1/build", ordinary)
			if err != nil || code != http.StatusOK || body != want {
				report("an ordinary build during the attack: %d %v %.300s", code, err, body)
				continue
			}
			mu.Lock()
			under = append(under, d)
			mu.Unlock()
		}
	})
	attackers.Wait()
	close(done)
	others.Wait()
	t.Logf("%d hostile requests in %s", len(attacks), time.Since(started).Round(time.Millisecond))
	// Every hostile build has answered: none may still hold its slot (a
	// worker not killed at its deadline would, until its own watchdog).
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(m, []byte("\npipec_builds_in_flight 0\n")) {
			break
		}
		if time.Now().After(deadline) {
			report("builds still hold their slots a second after their answers")
			break
		}
	}

	// A flood of uploads, each most of the largest body allowed, from
	// connections that then wait: the server holds no more than its
	// upload memory (the others get 503), and gives it back when they go.
	var flood []net.Conn
	var wrote sync.WaitGroup
	for range 64 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
		wrote.Go(func() {
			fmt.Fprintf(c, "POST /v1/vet HTTP/1.1\r\nHost: pipec\r\nContent-Length: %d\r\n\r\n", conf.MaxBundleBytes)
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			c.Write(make([]byte, conf.MaxBundleBytes-64<<10))
		})
	}
	wrote.Wait()
	time.Sleep(300 * time.Millisecond) // the server reads what was sent
	for _, c := range flood {
		c.Close()
	}
	if code, body, _, err := send("/v1/build", ordinary); err != nil || code != http.StatusOK || body != want {
		report("an ordinary build after the flood of uploads: %d %v %.300s", code, err, body)
	}

	before, during := median(usual), median(under)
	t.Logf("ordinary builds: median %s before (%d), %s during the attack (%d)", before.Round(time.Millisecond), len(usual), during.Round(time.Millisecond), len(under))
	if len(under) < 5 {
		report("only %d ordinary builds answered during the attack", len(under))
	}
	if bound := max(3*before, before+400*time.Millisecond); during > bound {
		report("ordinary builds took %s (median) during the attack, past %s", during.Round(time.Millisecond), bound.Round(time.Millisecond))
	}

	// Shutdown: a bomb is building; after SIGTERM /readyz says 503 while
	// the server still serves, the bomb's client hears 503, and the
	// server is gone within its shutdown timeout.
	bombed := make(chan string, 1)
	go func() {
		code, body, _, err := send("/v1/vet", attacks[len(attacks)-1].body) // CPU only: it runs to the deadline
		bombed <- fmt.Sprintf("%d %s %v", code, strings.TrimSpace(body), err)
	}()
	time.Sleep(300 * time.Millisecond)
	sampleWorkers()
	hwm := procMiB(pid, "VmHWM")
	signalled := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	// The probes retry within the delay: on a loaded machine, the signal
	// may take a while to be handled, or a probe to be answered.
	var ready, healthy int
	for {
		ready, healthy = probe("/readyz"), probe("/healthz")
		if ready == 503 && healthy == 200 || time.Since(signalled) > conf.ShutdownDelay-100*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ready != 503 || healthy != 200 {
		report("during the shutdown delay: /readyz %d (want 503), /healthz %d (want 200)", ready, healthy)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			report("the server exited with %v: %s", err, stderr.Bytes())
		}
	case <-time.After(conf.ShutdownTimeout + 2*time.Second):
		report("the server did not exit within %s of SIGTERM", conf.ShutdownTimeout+2*time.Second)
	}
	took := time.Since(signalled)
	inFlight := <-bombed
	t.Logf("shutdown took %s; the bomb in flight: %.100s", took.Round(time.Millisecond), inFlight)
	if !strings.HasPrefix(inFlight, "503 ") || !strings.Contains(inFlight, "shutting down") {
		report("the bomb building at SIGTERM: %s; want 503, shutting down", inFlight)
	}
	if took > conf.ShutdownTimeout+time.Second { // the process's own exit, on a loaded machine
		report("shutdown took %s, past its %s", took.Round(time.Millisecond), conf.ShutdownTimeout)
	}

	t.Logf("server peak resident memory %.0f MiB; %d worker processes seen, the largest at %.0f MiB", hwm, len(workers), workerMiB)
	if hwm > maxServerMiB {
		report("the server's peak resident memory was %.0f MiB, past %d MiB", hwm, maxServerMiB)
	}
	// A worker's limit is on its private memory, watched every 10 ms;
	// its code is resident as well.
	if limit := float64(conf.WorkerBytes>>20) + 128; workerMiB > limit {
		report("a worker's peak resident memory was %.0f MiB, past its limit's %.0f MiB", workerMiB, limit)
	}
	time.Sleep(200 * time.Millisecond) // the kernel reaps killed workers
	for w := range workers {
		if b, err := os.ReadFile("/proc/" + w + "/cmdline"); err == nil && strings.HasPrefix(string(b), os.Args[0]) {
			report("worker %s is still running", w)
		}
	}
	if n := registryHits.Load(); n != 0 {
		report("the registry in the server's environment was asked %d times", n)
	}
	for _, dir := range []string{home, tmp} {
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			report("left in %s: %v", dir, left)
		}
	}
	if bytes.Contains(stderr.Bytes(), []byte("panic")) {
		report("the server's stderr: %s", stderr.Bytes())
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func gz(t *testing.T, name, data string) []byte {
	return tarball(t, true, entry{name: name, data: []byte(data)})
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// childrenOf lists the pids of a process's children.
func childrenOf(pid string) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == pid {
			kids = append(kids, filepath.Base(filepath.Dir(f)))
		}
	}
	return kids
}
