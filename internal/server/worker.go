package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/bundle"
	"github.com/pipec/pipec/internal/report"
	"github.com/pipec/pipec/render"
)

// Builds run in worker processes when Config.Worker is set: CUE evaluation
// cannot be interrupted from inside, so a build that passes its deadline
// is stopped by killing its worker, and the slot is free at once. There is
// one worker per build slot; a worker builds one request after another
// (starting a process and loading pipec's schema for each build would
// cost more than a small build), and is replaced when it is killed, dies
// of its memory limit, or has built workerBuilds times.
//
// A worker limits its own data segment (setLimits) before it reads
// anything, and each build's CPU time (limitCPU), and exits on its own
// when a build runs far past its deadline or its server is gone
// (watchdog), so no worker outlives its purpose. It answers each build
// with a frame of bounded size (answer, readAnswer). The server also
// watches a building worker's memory (watchMemory), since the limit does
// not hold all of Go's heap, and lowers the priority of a build that runs
// long.

// workerBuilds is how many builds a worker runs before it is replaced, so
// that what one build leaves in the heap does not grow without bound.
const workerBuilds = 200

// envWorkerMemory carries the memory limit to a worker; its presence makes
// a process a worker.
const envWorkerMemory = "PIPEC_WORKER_MEMORY"

// workerProcs is a worker's GOMAXPROCS.
const workerProcs = 2

// IsWorker reports whether this process was started as a build worker.
func IsWorker() bool { return os.Getenv(envWorkerMemory) != "" }

// workRequest is what the server sends a worker on its stdin: the bundle
// as uploaded, which the worker reads within its own limits, so that the
// server holds no more than the upload.
type workRequest struct {
	Bundle []byte
	Limits bundle.Limits
	// Dir is the configuration's directory in the bundle; UnderTop, that
	// it is relative to the bundle's one top directory, if it has one.
	Dir      string
	UnderTop bool
	Today    string
	Env      []string
	// Threshold is the severity the build fails at.
	Threshold diag.Severity
	// Manifests is the format to render the objects in when the build
	// passes; empty for vet.
	Manifests render.Format
	// Deadline is when the server gives up on the build; the worker
	// exits on its own a little after it.
	Deadline time.Time
	// MaxResponse bounds the answer, encoded; a larger one is replaced
	// by TooLarge.
	MaxResponse int64
}

// workResult is what a worker answers on its stdout.
type workResult struct {
	Report    *report.Report
	Code      int
	Manifests []byte
	// Dir is the configuration's directory in the bundle, as built.
	Dir string
	// BundleBytes is the CUE the bundle holds.
	BundleBytes int
	// BundleErr says why the bundle could not be read; BundleLimit, that
	// it is past a limit (413) rather than malformed (400).
	BundleErr   string
	BundleLimit bool
	// Err is an error rendering the manifests.
	Err string
	// TooLarge is the size of an answer past MaxResponse, which the
	// worker did not send.
	TooLarge int64

	// size is the answer's size as received, which the server holds.
	size int64
}

// RunWorker is a worker process's main: it limits itself, then builds the
// requests it reads from r, answering each on w, until r ends.
func RunWorker(r io.Reader, w io.Writer) error {
	mem, _ := strconv.ParseUint(os.Getenv(envWorkerMemory), 10, 64)
	if err := setLimits(mem); err != nil {
		return fmt.Errorf("limiting the worker: %w", err)
	}
	// When the container runs out of memory, the kernel kills a worker
	// rather than the server.
	os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	var deadline sync.Mutex
	var current time.Time // zero while idle
	go watchdog(os.Getppid(), func() time.Time {
		deadline.Lock()
		defer deadline.Unlock()
		return current
	})
	// Load pipec's schema while no one waits.
	compiler.Build(context.Background(), compiler.Options{Dir: "/pipec-warmup", BaseDir: "/pipec-warmup",
		Overlay: map[string][]byte{"/pipec-warmup/pipec.cue": []byte("package warmup\n")}, Env: []string{"CUE_REGISTRY=none"}})
	dec := gob.NewDecoder(r)
	for {
		var req workRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a request: %w", err)
		}
		deadline.Lock()
		current = req.Deadline
		deadline.Unlock()
		limitCPU(time.Until(req.Deadline))
		out := build(req)
		limitCPU(0)
		deadline.Lock()
		current = time.Time{}
		deadline.Unlock()
		if err := answer(w, out, req.MaxResponse); err != nil {
			return fmt.Errorf("answering: %w", err)
		}
	}
}

// answer writes a result as a frame: its length (8 bytes, big-endian),
// then the result, gob-encoded on its own, so that the server can refuse
// a frame past its bound before reading it. An answer past max is
// replaced by one that says how large it was.
func answer(w io.Writer, out *workResult, max int64) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(out); err != nil {
		return err
	}
	if n := int64(buf.Len()); max > 0 && n > max {
		buf.Reset()
		if err := gob.NewEncoder(&buf).Encode(&workResult{TooLarge: n}); err != nil {
			return err
		}
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(buf.Len()))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := buf.WriteTo(w)
	return err
}

// errTooLarge means a worker's answer was past MaxResponseBytes.
type errTooLarge struct{ size, max int64 }

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("the build's output is too large: %d bytes, more than the server's %d (--max-response-bytes)", e.size, e.max)
}

// readAnswer reads a worker's answer, refusing one past max before it
// reads it.
func readAnswer(r io.Reader, max int64) (*workResult, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint64(hdr[:])
	if n > uint64(max) {
		return nil, &errTooLarge{size: int64(min(n, 1<<62)), max: max}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	res := new(workResult)
	if err := gob.NewDecoder(bytes.NewReader(buf)).Decode(res); err != nil {
		return nil, err
	}
	res.size = int64(n)
	return res, nil
}

// watchdog exits the process when its parent is gone, or when a build has
// run well past its deadline: the server kills a worker at the deadline,
// so either means no one will.
func watchdog(parent int, deadline func() time.Time) {
	for range time.Tick(500 * time.Millisecond) {
		d := deadline()
		if os.Getppid() != parent || !d.IsZero() && time.Now().After(d.Add(5*time.Second)) {
			os.Exit(3)
		}
	}
}

func build(req workRequest) *workResult {
	opts, size, err := readJob(req.Bundle, req.Limits, req.Dir, req.UnderTop, req.Today)
	req.Bundle = nil
	if err != nil {
		var le *bundle.LimitError
		return &workResult{BundleErr: err.Error(), BundleLimit: errors.As(err, &le)}
	}
	opts.Env = req.Env
	res, err := compiler.Build(context.Background(), opts)
	rep, code := verdict(res, err, req.Threshold)
	out := &workResult{Report: rep, Code: code, BundleBytes: size, Dir: strings.TrimPrefix(strings.TrimPrefix(opts.Dir, bundleRoot), "/")}
	if req.Manifests != "" && code == report.ExitOK {
		var buf bytes.Buffer
		if err := render.Stream(&buf, res.Objects, req.Manifests); err != nil {
			out.Err = err.Error()
		}
		out.Manifests = buf.Bytes()
	}
	return out
}

// worker is a running worker process.
type worker struct {
	cmd    *exec.Cmd
	in     *os.File // its stdin
	out    *os.File // its stdout
	enc    *gob.Encoder
	stderr *headBuffer
	builds int
	done   chan struct{} // closed when it has exited
	mu     sync.Mutex
	reason string // why the server killed it, if it did
}

// startWorker starts a worker process. It runs with nothing of the
// server's environment but its memory limit, the Go runtime's soft limit
// below it, and TMPDIR.
func (s *Server) startWorker() (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(s.cfg.Worker[0], s.cfg.Worker[1:]...)
	cmd.Env = []string{
		envWorkerMemory + "=" + strconv.FormatInt(s.cfg.WorkerMemory, 10),
		// The collector works harder near the limit rather than fail.
		"GOMEMLIMIT=" + strconv.FormatInt(s.cfg.WorkerMemory/10*7, 10),
		"TMPDIR=" + os.TempDir(),
		// A build uses at most two CPUs (CUE on one, the rest beside
		// it), as its CPU time limit (limitCPU: twice its time) assumes,
		// and one build cannot take every core of a large node.
		"GOMAXPROCS=" + strconv.Itoa(workerProcs),
	}
	w := &worker{cmd: cmd, in: inW, out: outR, stderr: &headBuffer{max: 4 << 10}, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, w.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting a build worker: %w", err)
	}
	w.enc = gob.NewEncoder(inW)
	go func() {
		cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

// Close stops the server's workers, killing those that build (their
// clients get 503). Builds after it are refused (503).
func (s *Server) Close() {
	if s.workers == nil {
		return
	}
	s.busyMu.Lock()
	s.closed = true
	for w := range s.busy {
		w.kill("the server is shutting down")
	}
	s.busyMu.Unlock()
	for range cap(s.workers) {
		if w := <-s.workers; w != nil {
			w.stop()
		}
	}
	for range cap(s.workers) {
		s.workers <- nil
	}
}

// kill ends a worker that builds, saying why to its client.
func (w *worker) kill(reason string) {
	w.mu.Lock()
	w.reason = reason
	w.mu.Unlock()
	w.cmd.Process.Kill()
}

func (w *worker) killedFor() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason
}

// stop ends a worker and waits until it has exited.
func (w *worker) stop() {
	w.in.Close()
	w.cmd.Process.Kill()
	<-w.done
	w.out.Close()
}

// errLimit means a build was stopped by a limit: its deadline or its
// worker's memory.
type errLimit struct {
	msg string
	// label is the reason pipec_builds_rejected_total counts it under.
	label string
}

func (e *errLimit) Error() string { return e.msg }

// runWorker builds in a worker process: the slot's own, or a new one if it
// has none or it has exited. The worker is killed when ctx is done or the
// server closes.
func (s *Server) runWorker(ctx context.Context, req workRequest) (*workResult, error) {
	w := <-s.workers
	if w != nil && w.exited() {
		w.stop()
		w = nil
	}
	if err := ctx.Err(); err != nil {
		s.workers <- w
		return nil, s.cancelled(ctx)
	}
	s.busyMu.Lock()
	closed := s.closed || isClosed(s.stopping)
	s.busyMu.Unlock()
	if w == nil && !closed {
		var err error
		if w, err = s.startWorker(); err != nil {
			s.workers <- nil
			s.cfg.Log.Error("starting a build worker", "error", err.Error())
			return nil, errNoWorker
		}
	}
	// Whether the server is stopping and registering the worker as
	// building are one step, under busyMu, as closing is: Close either
	// sees the worker and kills it, or the build does not start.
	s.busyMu.Lock()
	if w == nil || s.closed || isClosed(s.stopping) {
		s.busyMu.Unlock()
		if w != nil {
			w.stop() // Close may be over: no one else would stop it
		}
		s.workers <- nil
		return nil, &errLimit{msg: "the server is shutting down", label: "shutdown"}
	}
	if s.busy == nil {
		s.busy = map[*worker]bool{}
	}
	s.busy[w] = true
	s.busyMu.Unlock()
	building := w // w is replaced below; building is the one registered
	defer func() {
		s.busyMu.Lock()
		delete(s.busy, building)
		s.busyMu.Unlock()
	}()
	w.stderr.reset()
	req.MaxResponse = s.cfg.MaxResponseBytes
	type answer struct {
		res *workResult
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		var a answer
		if a.err = w.enc.Encode(&req); a.err == nil {
			a.res, a.err = readAnswer(w.out, s.cfg.MaxResponseBytes)
		}
		ch <- a
	}()
	// A build that runs long is likely a bomb: it goes on at a lower CPU
	// priority, so that ordinary builds stay fast meanwhile, and its
	// worker is replaced afterwards (a process cannot raise its priority
	// again).
	pid := w.cmd.Process.Pid // w is reassigned below; the timer must not read it
	slow := time.AfterFunc(max(s.cfg.BuildTimeout/10, 100*time.Millisecond), func() { lowerPriority(pid) })
	watched := make(chan struct{})
	defer close(watched)
	go s.watchMemory(w, watched)
	select {
	case a := <-ch:
		reniced := !slow.Stop()
		if a.err != nil {
			w.stop()
			s.workers <- s.replacement(w)
			var tl *errTooLarge
			if errors.As(a.err, &tl) {
				// The worker sent what it should have refused; what is
				// left of it in the pipe is not read.
				return nil, tl
			}
			return nil, s.workerError(w, a.err)
		}
		if w.builds++; w.builds >= workerBuilds || reniced {
			go w.stop()
			w = s.replacement(w)
		}
		s.workers <- w
		return a.res, nil
	case <-ctx.Done():
		slow.Stop()
		w.stop()
		<-ch
		s.workers <- s.replacement(w)
		return nil, s.cancelled(ctx)
	}
}

// errNoWorker is what a client hears when no worker could be started; the
// reason, which names the server's paths, goes to the log.
var errNoWorker = errors.New("the build worker could not start")

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// memoryPoll is how often the server looks at a building worker's memory.
const memoryPoll = 10 * time.Millisecond

// watchMemory kills a worker whose resident memory (what is not shared
// with other processes: its heap) passes WorkerMemory, until done is
// closed. RLIMIT_DATA alone does not hold Go's heap: Linux does not count
// memory mapped over an address range reserved beforehand, which is how
// Go's heap grows, against it. The build's client gets the memory limit's
// 503 (workerError takes a SIGKILL for the memory limit).
func (s *Server) watchMemory(w *worker, done <-chan struct{}) {
	t := time.NewTicker(memoryPoll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if privateRSS(w.cmd.Process.Pid) > s.cfg.WorkerMemory {
			w.cmd.Process.Kill()
			return
		}
	}
}

// replacement is the worker that takes the place of one that is gone or
// retired: started at once, so that it has loaded pipec's schema by the
// time the next build needs it (that build would otherwise wait for it,
// after a bomb was killed), unless the server is stopping or closed it.
func (s *Server) replacement(old *worker) *worker {
	if old.killedFor() != "" {
		return nil
	}
	select {
	case <-s.stopping:
		return nil
	default:
	}
	w, err := s.startWorker()
	if err != nil {
		return nil // the next build tries again, and says why
	}
	return w
}

// cancelled says why a build's context ended.
func (s *Server) cancelled(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &errLimit{msg: fmt.Sprintf("the build did not finish within %s", s.cfg.BuildTimeout), label: "timeout"}
	}
	return &errLimit{msg: "the build was cancelled: the client went away, or the server is shutting down", label: "cancelled"}
}

// exited reports whether the worker process has ended.
func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// cpuLimitMessage is what a worker says on stderr when it exits at its
// CPU time limit.
const cpuLimitMessage = "pipec serve-worker: the build passed its CPU time limit"

// workerError says why a worker stopped answering: the server closing, its
// CPU time limit, its memory limit (Go's runtime says so, or the kernel's
// OOM killer, whose SIGKILL the server did not send, or a crash near the
// limit), or a crash. The worker's stderr is logged in every case.
func (s *Server) workerError(w *worker, err error) error {
	msg := w.stderr.String()
	if r := w.killedFor(); r != "" {
		return &errLimit{msg: r, label: "shutdown"}
	}
	peak := peakRSS(w.cmd.ProcessState)
	s.cfg.Log.Error("build worker failed", "error", err.Error(), "exit", w.cmd.ProcessState.String(),
		"peakRSS", peak, "stderr", msg)
	if strings.Contains(msg, cpuLimitMessage) {
		return &errLimit{msg: fmt.Sprintf("the build used more CPU time than the server allows (twice %s)", s.cfg.BuildTimeout), label: "timeout"}
	}
	oom := strings.Contains(msg, "out of memory") || strings.Contains(msg, "cannot allocate memory")
	if ws, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		oom = true
	}
	// Go's runtime does not always say so when the limit refuses it
	// memory: it may crash anywhere (even in the collector, with
	// SIGSEGV). A worker that crashed with half its limit in use may have
	// run out of memory; but its peak is over its whole life (up to
	// workerBuilds builds), so a crash it explains (a panic, a fatal
	// error other than out of memory) is taken for what it says.
	if !oom && peak >= s.cfg.WorkerMemory/2 && !explainedCrash(msg) {
		oom = true
	}
	if oom {
		return &errLimit{msg: fmt.Sprintf("the build needed more than the server's %d MiB (--worker-memory)", s.cfg.WorkerMemory>>20), label: "memory"}
	}
	return fmt.Errorf("the build worker failed (%s); see the server log", w.cmd.ProcessState)
}

// explainedCrash reports whether a worker's stderr says why it crashed,
// with a panic or a fatal error, other than running out of memory.
func explainedCrash(stderr string) bool {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			if !strings.Contains(line, "out of memory") && !strings.Contains(line, "cannot allocate memory") {
				return true
			}
		}
	}
	return false
}

// headBuffer keeps the first max bytes written to it: where Go's runtime
// says why it died.
type headBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.max - len(h.buf); n > 0 {
		h.buf = append(h.buf, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) reset() {
	h.mu.Lock()
	h.buf = h.buf[:0]
	h.mu.Unlock()
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.buf)
}
