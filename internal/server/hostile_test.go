package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipec/pipec/render"
)

// TestUploadMemoryBounded: uploads are read before they wait for a slot,
// so the slots do not bound them; MaxUploadMemory does. Clients that
// send most of a large body and wait hold what they sent; past the bound
// uploads get 503 at once instead of the server growing by a body per
// connection, and the budget is whole again when they are gone.
func TestUploadMemoryBounded(t *testing.T) {
	s := New(Config{MaxBundleBytes: 256 << 10, MaxUploadMemory: 1 << 20})
	base := start(t, s)
	host := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	for range 8 { // 8 x 200 KiB > 1 MiB
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /v1/vet HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 250<<10)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(make([]byte, 200<<10))
	}
	refused := func() bool {
		return !strings.Contains(get(t, base+"/metrics"), `pipec_builds_rejected_total{reason="uploads"} 0`)
	}
	for deadline := time.Now().Add(10 * time.Second); !refused(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("with %d KiB of uploads held, none was refused", s.uploads.Load()>>10)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); s.uploads.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still held after the clients went away", s.uploads.Load())
		}
	}
	// The server records the most it held, each time it takes more.
	if p := s.uploadsPeak.Load(); p > 1<<20 {
		t.Errorf("uploads held %d KiB at the peak, past the 1 MiB bound", p>>10)
	}
	if resp, body := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n")); resp.StatusCode != http.StatusOK {
		t.Errorf("after the uploads: %s %s", resp.Status, body)
	}
}

// TestReadArchiveWaitsForRoom: a webhook's download is held against the
// same budget as uploads, and waits for room rather than failing.
func TestReadArchiveWaitsForRoom(t *testing.T) {
	s := New(Config{MaxUploadMemory: 64 << 10})
	first, release, err := s.ReadArchive(context.Background(), bytes.NewReader(make([]byte, 40<<10)), -1, 1<<20)
	if err != nil || len(first) != 40<<10 {
		t.Fatalf("%d bytes, %v", len(first), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := s.ReadArchive(ctx, bytes.NewReader(make([]byte, 40<<10)), -1, 1<<20); err == nil || !strings.Contains(err.Error(), "max-upload-memory") {
		t.Errorf("a second archive past the budget: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, release, err := s.ReadArchive(context.Background(), bytes.NewReader(make([]byte, 40<<10)), -1, 1<<20)
		if err == nil {
			release()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	release()
	if err := <-done; err != nil {
		t.Errorf("once the first was released: %v", err)
	}
	if _, _, err := s.ReadArchive(context.Background(), bytes.NewReader(make([]byte, 2<<10)), -1, 1<<10); err == nil {
		t.Error("an archive past its limit was read")
	}
	if held := s.uploads.Load(); held != 0 {
		t.Errorf("%d bytes held at the end", held)
	}
}

// TestWorkerReadsTheBundle: with workers, the server passes the upload on
// as it came; the worker decompresses it within its own limits. A 100 KB
// upload that expands to 48 MiB of CUE does not make the server allocate
// the 48 MiB (and copy them to the worker).
func TestWorkerReadsTheBundle(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's own allocations")
	}
	s := New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1})
	base := start(t, s)
	comment := append([]byte("package ci\n\n//"), bytes.Repeat([]byte("x"), 12<<10)...)
	var es []entry
	for i := range 4000 {
		es = append(es, entry{name: fmt.Sprintf("f%d.cue", i), data: comment})
	}
	body := tarball(t, true, es...)
	if resp, b := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n")); resp.StatusCode != 200 { // start the worker
		t.Fatalf("%s %s", resp.Status, b)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, b := post(t, base+"/v1/vet", body)
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %.300s", resp.Status, b)
	}
	t.Logf("a %d KB upload of 48 MiB of CUE: the server allocated %d MiB", len(body)>>10, (after.TotalAlloc-before.TotalAlloc)>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
		t.Errorf("the server allocated %d MiB for it", alloc>>20)
	}
}

// crashAfterAllocating is a worker that takes memory and then crashes
// without saying why, as Go's runtime may when its limit refuses it more
// (a SIGSEGV in the collector, seen with list.Range(0, 1e9, 1)).
func crashAfterAllocating() {
	mem := allocate()
	os.Stderr.WriteString("SIGSEGV: segmentation violation\n")
	runtime.KeepAlive(mem)
	os.Exit(2)
}

// TestWorkerCrashNearItsLimit: a worker that dies with most of its memory
// in use ran out of it: the client gets the memory limit's 503, not a 500
// about a failed worker.
func TestWorkerCrashNearItsLimit(t *testing.T) {
	base := start(t, New(Config{Worker: []string{os.Args[0], "crash-after-allocating"}, WorkerMemory: 256 << 20}))
	resp, body := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "needed more than the server's 256 MiB") {
		t.Errorf("%s %s; want 503 about the memory limit", resp.Status, body)
	}
}

// backgroundChecks stands for the webhook handler: work that goes on after
// the answer, which shutdown waits for.
type backgroundChecks struct {
	wg   sync.WaitGroup
	errs chan error
}

func (b *backgroundChecks) ServeHTTP(http.ResponseWriter, *http.Request) {}
func (b *backgroundChecks) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestShutdownStopsBuildsInTime: at the shutdown timeout, builds still
// running (a request's, a queued request's, a webhook check's) are
// stopped in time for their clients to hear 503 and the check to see an
// error, and Serve returns within ShutdownTimeout, with no worker left.
func TestShutdownStopsBuildsInTime(t *testing.T) {
	s := New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1, MaxQueue: 4, BuildTimeout: time.Minute, ShutdownTimeout: 3 * time.Second})
	checks := &backgroundChecks{errs: make(chan error, 1)}
	s.HandleWebhooks(checks)
	base, stop, served := serving(t, s)
	t.Cleanup(s.Close)
	answers := make(chan string, 2)
	ask := func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Post(base+"/v1/vet", "application/octet-stream", bytes.NewReader(bomb))
		if err != nil {
			answers <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	go ask()
	for deadline := time.Now().Add(20 * time.Second); len(s.slots) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bomb never started")
		}
	}
	go ask() // queued behind it
	checks.wg.Add(1)
	go func() { // a webhook check, queued as well
		defer checks.wg.Done()
		_, _, err := s.VetArchive(context.Background(), bomb, ".")
		checks.errs <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); s.waiting.Load() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the requests never queued")
		}
	}
	signalled := time.Now()
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Serve's own deadline is 3s; the margin is for a loaded machine's
	// scheduling, not for the shutdown's work.
	if d := time.Since(signalled); d > 4*time.Second {
		t.Errorf("shutdown took %s, past its 3s (and a second's margin)", d.Round(time.Millisecond))
	}
	for range 2 {
		if a := <-answers; !strings.HasPrefix(a, "503 ") || !strings.Contains(a, "shutting down") {
			t.Errorf("a request in progress at the shutdown timeout: %s", a)
		}
	}
	if err := <-checks.errs; err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("the webhook check: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if kids := children(t); len(kids) != 0 {
		t.Errorf("workers left: %v", kids)
	}
}

// allocate takes 192 MiB of memory, touched, as a worker's build might.
func allocate() [][]byte {
	mem := make([][]byte, 0, 64)
	for range 48 {
		b := make([]byte, 4<<20)
		for i := range b {
			b[i] = 1
		}
		mem = append(mem, b)
	}
	return mem
}

// allocateAndHang is a worker whose heap grows past its limit without the
// limit stopping it, as Go's heap does when it grows over address space
// reserved beforehand, which RLIMIT_DATA does not count.
func allocateAndHang() {
	mem := allocate()
	time.Sleep(time.Hour)
	runtime.KeepAlive(mem)
}

// TestWorkerMemoryWatched: the server watches a building worker's memory
// and kills it past WorkerMemory, whatever RLIMIT_DATA lets through: its
// client gets the memory limit's 503 at once, not at the deadline.
func TestWorkerMemoryWatched(t *testing.T) {
	base := start(t, New(Config{Worker: []string{os.Args[0], "allocate-and-hang"}, WorkerMemory: 128 << 20, BuildTimeout: 30 * time.Second}))
	started := time.Now()
	resp, body := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "needed more than the server's 128 MiB") {
		t.Errorf("%s %s; want 503 about the memory limit", resp.Status, body)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("answered after %s", d.Round(time.Millisecond))
	}
}

// TestWorkerAnswerBounded: a build whose output is past MaxResponseBytes
// gets 422 with a finding that says so, and a worker that sends more
// than that anyway is not read: the server's memory stays bounded. An
// answer the server holds counts against MaxUploadMemory until it is
// written.
func TestWorkerAnswerBounded(t *testing.T) {
	files := exampleFiles(t, "go-service")
	want := wantStream(t, "go-service", render.YAML)
	if len(want) <= 2<<10 {
		t.Fatalf("the example's manifests are %d bytes; the test needs more than 2 KiB", len(want))
	}
	s := New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1, MaxResponseBytes: 2 << 10})
	base := start(t, s)
	resp, body := post(t, base+"/v1/build", txtarOf(files))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "output is too large") || !strings.Contains(string(body), "--max-response-bytes") {
		t.Errorf("%s %.300s; want 422 saying the output is too large", resp.Status, body)
	}
	if held := s.uploads.Load(); held != 0 {
		t.Errorf("%d bytes held after the answer", held)
	}

	// With room, the answer is held against the budget, then given back.
	s = New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1})
	base = start(t, s)
	resp, body = post(t, base+"/v1/build", txtarOf(files))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("%s %.300s", resp.Status, body)
	}
	if peak := s.uploadsPeak.Load(); peak < int64(len(want)) {
		t.Errorf("at most %d bytes held, less than the %d of manifests answered", peak, len(want))
	}
	if held := s.uploads.Load(); held != 0 {
		t.Errorf("%d bytes held after the answer", held)
	}

	// A worker that answers a gigabyte, past the bound it was given.
	s = New(Config{Worker: []string{os.Args[0], "answer-too-much"}, MaxConcurrent: 1, MaxResponseBytes: 1 << 20})
	base = start(t, s)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, body = post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n"))
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "output is too large") {
		t.Errorf("%s %.300s; want 422 saying the output is too large", resp.Status, body)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 && !raceEnabled {
		t.Errorf("the server allocated %d MiB for it", alloc>>20)
	}
}

// answerTooMuch is a worker that answers more than the server's bound,
// as a worker whose bound failed would.
func answerTooMuch() {
	var req workRequest
	if err := gob.NewDecoder(os.Stdin).Decode(&req); err != nil {
		os.Exit(2)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], 1<<30)
	os.Stdout.Write(hdr[:])
	os.Stdout.Write(make([]byte, 64<<20))
	os.Exit(0)
}

// TestReadArchiveReservesAtOnce: a download reserves all its memory in
// one step, holding none while it waits: one larger than the whole
// budget is refused at once rather than waiting forever, one of unknown
// size past the budget is refused once the budget is read, and two that
// fit only one after the other do not each wait for the other.
func TestReadArchiveReservesAtOnce(t *testing.T) {
	s := New(Config{MaxUploadMemory: 64 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	started := time.Now()
	if _, _, err := s.ReadArchive(ctx, bytes.NewReader(make([]byte, 100<<10)), 100<<10, 1<<20); err == nil || !strings.Contains(err.Error(), "max-upload-memory") {
		t.Errorf("an archive larger than the budget: %v", err)
	}
	if _, _, err := s.ReadArchive(ctx, bytes.NewReader(make([]byte, 100<<10)), -1, 1<<20); err == nil || !strings.Contains(err.Error(), "max-upload-memory") {
		t.Errorf("an archive of unknown size larger than the budget: %v", err)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("refusing them took %s", d.Round(time.Millisecond))
	}
	if data, release, err := s.ReadArchive(ctx, bytes.NewReader(make([]byte, 10<<10)), -1, 1<<20); err != nil || len(data) != 10<<10 {
		t.Errorf("an archive of unknown size within the budget: %d bytes, %v", len(data), err)
	} else {
		if held := s.uploads.Load(); held != 10<<10 {
			t.Errorf("%d bytes held for a 10 KiB archive", held)
		}
		release()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, release, err := s.ReadArchive(ctx, &slowReader{n: 40 << 10}, 40<<10, 1<<20)
			if err == nil {
				time.Sleep(50 * time.Millisecond) // the check
				release()
			}
			errs <- err
		}()
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("two downloads that fit one after the other: %v", err)
		}
	}
	if held := s.uploads.Load(); held != 0 {
		t.Errorf("%d bytes held at the end", held)
	}
}

// slowReader yields n zero bytes, 1 KiB at a time, a millisecond apart.
type slowReader struct{ n int }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(time.Millisecond)
	m := min(len(p), r.n, 1<<10)
	clear(p[:m])
	r.n -= m
	return m, nil
}

// TestNoBuildAfterClose: once closed, the server starts no worker, so
// that none escapes Close.
func TestNoBuildAfterClose(t *testing.T) {
	s := New(Config{Worker: []string{os.Args[0]}, MaxConcurrent: 1})
	s.Close()
	if _, _, err := s.VetArchive(context.Background(), []byte("-- a.cue --\npackage ci\n"), "."); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("a build after Close: %v", err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("workers after Close: %v", kids)
	}
}

// TestShutdownStopsWaitingChecks: a webhook check still waiting for
// memory at the shutdown timeout is stopped through Stopping, in time to
// report it, and Serve returns in time.
func TestShutdownStopsWaitingChecks(t *testing.T) {
	s := New(Config{MaxUploadMemory: 64 << 10, ShutdownTimeout: 2 * time.Second})
	checks := &backgroundChecks{errs: make(chan error, 1)}
	s.HandleWebhooks(checks)
	_, stop, served := serving(t, s)
	_, release, err := s.ReadArchive(context.Background(), bytes.NewReader(make([]byte, 60<<10)), -1, 60<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	checks.wg.Add(1)
	go func() {
		defer checks.wg.Done()
		_, _, err := s.ReadArchive(s.Stopping(), bytes.NewReader(make([]byte, 60<<10)), 60<<10, 60<<10)
		checks.errs <- err
	}()
	time.Sleep(100 * time.Millisecond)
	signalled := time.Now()
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if d := time.Since(signalled); d > 3*time.Second {
		t.Errorf("shutdown took %s, past its 2s (and a second's margin)", d.Round(time.Millisecond))
	}
	if err := <-checks.errs; err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("the waiting check: %v", err)
	}
}

// TestWorkerCrashExplained: a worker that crashes with a panic is not
// taken for one out of memory, however much it used: its client gets 500
// and the server log has its stderr.
func TestWorkerCrashExplained(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory does not fit the worker's memory limit")
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	base := start(t, New(Config{Worker: []string{os.Args[0], "panic-after-allocating"}, WorkerMemory: 256 << 20, Log: log}))
	resp, body := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n"))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "the build worker failed") {
		t.Errorf("%s %s; want 500 about a failed worker", resp.Status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "panic: a bug in the build") {
		t.Errorf("the log lacks the worker's stderr:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// panicAfterAllocating is a worker that takes most of its memory, then
// panics for a reason of its own.
func panicAfterAllocating() {
	mem := allocate()
	os.Stderr.WriteString("panic: a bug in the build\n\ngoroutine 1 [running]:\n")
	runtime.KeepAlive(mem)
	os.Exit(2)
}

// TestWorkerCPULimited: a worker that spins past the CPU time it was
// given exits on its own, and its client hears why.
func TestWorkerCPULimited(t *testing.T) {
	base := start(t, New(Config{Worker: []string{os.Args[0], "spin"}, BuildTimeout: time.Minute}))
	resp, body := post(t, base+"/v1/vet", []byte("-- a.cue --\npackage ci\n"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "more CPU time") {
		t.Errorf("%s %s; want 503 about the CPU time limit", resp.Status, body)
	}
}

// spinPastCPULimit is a worker limited to about two seconds of CPU time
// that spins.
func spinPastCPULimit() {
	setLimits(0)
	limitCPU(time.Millisecond)
	for {
	}
}
