// Package server is pipec as an HTTP service, for pull-request bots and
// GitOps tooling: it compiles or vets an uploaded bundle of CUE files in
// memory and answers with the manifests or the findings in the same formats
// as the CLI. It bounds request sizes, concurrency and time (with
// Config.Worker, as pipec serve sets it, each build runs in a worker
// process of its own, killed at its deadline and limited in memory and
// CPU), exposes health and Prometheus metrics, and shuts down
// gracefully. Nothing from a bundle is written to disk or executed, and a
// bundle cannot make it fetch CUE modules unless the configuration allows
// a registry.
package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/bundle"
	"github.com/pipec/pipec/internal/report"
	"github.com/pipec/pipec/render"
)

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	// Addr is the listen address, default ":8080".
	Addr string
	// MaxBundleBytes bounds a request body (the compressed upload),
	// default 8 MiB.
	MaxBundleBytes int64
	// Limits bound the uncompressed bundle.
	Limits bundle.Limits
	// MaxConcurrent builds run at once, default GOMAXPROCS.
	MaxConcurrent int
	// MaxQueue requests may wait for a build slot; more are refused with
	// 503 at once. Default 4 x MaxConcurrent.
	MaxQueue int
	// MaxUploadMemory bounds the request bodies the server holds at once,
	// read or being read, in bytes: uploads are read before they wait
	// for a slot, so the slots do not bound them. A request that would
	// pass it gets 503. Default (MaxConcurrent + MaxQueue) x
	// MaxBundleBytes.
	MaxUploadMemory int64
	// MaxResponseBytes bounds what a build worker may answer (the
	// manifests and the report), default 64 MiB; a build whose output is
	// larger gets 422 with a finding that says so. An answer is held
	// against MaxUploadMemory until it is written.
	MaxResponseBytes int64
	// BuildTimeout bounds the wait for a slot plus the build, default 30s.
	BuildTimeout time.Duration
	// ShutdownTimeout bounds the whole shutdown, from the signal to the
	// end of the last request (webhook checks included), default 25s.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long the server keeps serving after the signal
	// while /readyz answers 503, so that load balancers stop sending
	// before the listener closes; part of ShutdownTimeout. Default 0.
	ShutdownDelay time.Duration
	// Registry is the CUE_REGISTRY a bundle's module dependencies are
	// fetched with, such as "acme.com/policies=ghcr.io/acme/cue,none" to
	// allow one prefix; default "none": a bundle cannot make the server
	// fetch anything.
	Registry string
	// ModuleCache is the CUE module cache (CUE_CACHE_DIR) for what
	// Registry allows; default a temporary directory per build, removed
	// after it.
	ModuleCache string
	// Worker, when set, is the command that runs one build in a process
	// of its own (pipec's hidden "serve-worker"), killed at the deadline
	// and limited to WorkerMemory; else builds run in this process and one
	// past its deadline runs on, holding its slot.
	Worker []string
	// WorkerMemory bounds a worker's data segment (its heap), default 2 GiB.
	WorkerMemory int64
	// TokenFile, when set, holds the bearer token /v1/build and /v1/vet
	// require (Authorization: Bearer <token>). It is read on every
	// request, so a rotated Secret takes effect without a restart.
	TokenFile string
	// Version is reported in findings reports.
	Version string
	// Log receives structured logs; default discards.
	Log *slog.Logger
	// Build compiles; default compiler.Build. Tests replace it.
	Build func(context.Context, compiler.Options) (*compiler.Result, error)
}

func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, ":8080")
	c.MaxBundleBytes = cmp.Or(c.MaxBundleBytes, 8<<20)
	c.MaxConcurrent = cmp.Or(c.MaxConcurrent, runtime.GOMAXPROCS(0))
	c.MaxQueue = cmp.Or(c.MaxQueue, 4*c.MaxConcurrent)
	c.MaxUploadMemory = cmp.Or(c.MaxUploadMemory, int64(c.MaxConcurrent+c.MaxQueue)*c.MaxBundleBytes)
	c.MaxResponseBytes = cmp.Or(c.MaxResponseBytes, 64<<20)
	c.BuildTimeout = cmp.Or(c.BuildTimeout, 30*time.Second)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 25*time.Second)
	c.Version = cmp.Or(c.Version, "(devel)")
	c.Registry = cmp.Or(c.Registry, "none")
	c.WorkerMemory = cmp.Or(c.WorkerMemory, 2<<30)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Build == nil {
		c.Build = compiler.Build
	}
	return c
}

// Server is pipec's HTTP service.
type Server struct {
	cfg      Config
	slots    chan struct{}
	workers  chan *worker // with Config.Worker: the slots' workers, nil until started
	buildsMu sync.Mutex
	builds   map[*time.Time]struct{} // the start of each build in progress
	busyMu   sync.Mutex
	busy     map[*worker]bool // workers building, for Close to stop
	closed   bool             // Close was called: no worker starts building
	waiting  atomic.Int64
	uploads  atomic.Int64 // bytes of request bodies, downloads and answers held
	// uploadsPeak is the most uploads ever held, for tests.
	uploadsPeak atomic.Int64
	roomMu      sync.Mutex
	room        chan struct{} // closed when uploads are given back
	draining    atomic.Bool
	stopOnce    sync.Once
	stopping    chan struct{}             // closed when shutdown stops the builds left
	stopBy      atomic.Pointer[time.Time] // when shutdown must be over
	// stopCtx is cancelled with stopping: webhook checks' contexts derive
	// from it, so that a check still downloading or waiting stops.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	metrics    *metrics
	mux        *http.ServeMux
	handler    http.Handler
	// background waits for work handlers do after answering (webhook
	// checks), at shutdown.
	background []func(context.Context) error
}

// New returns a Server.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent), builds: map[*time.Time]struct{}{}, stopping: make(chan struct{})}
	s.stopCtx, s.stopCancel = context.WithCancel(context.Background())
	if len(cfg.Worker) > 0 {
		// One worker per slot, started when first needed.
		s.workers = make(chan *worker, cfg.MaxConcurrent)
		for range cfg.MaxConcurrent {
			s.workers <- nil
		}
	}
	s.metrics = newMetrics()
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pipec_upload_memory_bytes",
		Help: "Bytes of uploads, webhook downloads and build answers held, within --max-upload-memory.",
	}, func() float64 { return float64(s.uploads.Load()) }))
	mux := http.NewServeMux()
	mux.Handle("POST /v1/build", s.metrics.instrument("build", s.authorize(s.serveConfig(true))))
	mux.Handle("POST /v1/vet", s.metrics.instrument("vet", s.authorize(s.serveConfig(false))))
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/build" || r.URL.Path == "/v1/vet" {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes POST with a bundle as the body", r.URL.Path))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s; the API is POST /v1/build and POST /v1/vet", r.Method, r.URL.Path))
	})
	s.mux = mux
	s.handler = s.logRequests(mux)
	return s
}

// Webhooks handles forge webhooks and does their work in the background,
// as webhook.Handler does.
type Webhooks interface {
	http.Handler
	// Wait waits for the work in progress, or until ctx is done.
	Wait(ctx context.Context) error
}

// HandleWebhooks mounts a webhook handler under /v1/webhooks/; Serve's
// shutdown waits for its work in progress. Call it before serving.
func (s *Server) HandleWebhooks(h Webhooks) {
	s.mux.Handle("/v1/webhooks/", s.metrics.instrument("webhook", h))
	s.background = append(s.background, h.Wait)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on l until ctx is cancelled, then reports not ready, keeps
// serving for ShutdownDelay, stops taking new connections and waits for the
// requests in flight and the webhook checks in progress. It returns within
// ShutdownTimeout of the signal: what is still building near the end is
// stopped (its client gets 503; a webhook check reports an error), so that
// there is time to answer.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.BuildTimeout,
		WriteTimeout:      s.cfg.BuildTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	s.cfg.Log.Info("serving", "addr", l.Addr().String(), "maxConcurrent", s.cfg.MaxConcurrent, "buildTimeout", s.cfg.BuildTimeout.String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	stopBy := time.Now().Add(s.cfg.ShutdownTimeout)
	s.stopBy.Store(&stopBy)
	s.cfg.Log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String(), "delay", s.cfg.ShutdownDelay.String())
	// Not ready, still serving: let the load balancers notice.
	time.Sleep(min(s.cfg.ShutdownDelay, s.cfg.ShutdownTimeout))
	// Wait for the requests and checks in progress until shortly before
	// the end; then stop their builds and let them answer.
	margin := min(time.Second, s.cfg.ShutdownTimeout/5)
	if !s.drain(hs, stopBy.Add(-margin)) {
		s.cfg.Log.Warn("stopping the builds still running at the shutdown timeout")
		s.stopBuilds()
		if !s.drain(hs, stopBy) {
			hs.Close()
			s.cfg.Log.Warn("requests still in progress at the shutdown timeout")
		}
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// drain waits until the requests in flight and the background work are
// over, or until the deadline; it reports whether they are over.
func (s *Server) drain(hs *http.Server, deadline time.Time) bool {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil && ctx.Err() != nil {
		return false
	}
	for _, wait := range s.background {
		if wait(ctx) != nil {
			return false
		}
	}
	return true
}

// stopBuilds ends the builds in progress (their clients get 503) and
// refuses new ones: the shutdown's time is up.
func (s *Server) stopBuilds() {
	s.stopOnce.Do(func() {
		s.busyMu.Lock()
		close(s.stopping)
		s.busyMu.Unlock()
		s.stopCancel()
	})
	s.Close()
}

// Stopping is a context that is cancelled when shutdown stops the work
// still in progress near ShutdownTimeout. Work the server's handlers do
// in the background, such as webhook checks, derives its contexts from
// it, so that a check still downloading or waiting for memory or a slot
// stops in time to report an error.
func (s *Server) Stopping() context.Context { return s.stopCtx }

// ShutdownDeadline is when a shutdown in progress must be over (the zero
// time before one starts): work that outlives Serve, such as webhook
// checks, gets what is left of ShutdownTimeout.
func (s *Server) ShutdownDeadline() time.Time {
	if t := s.stopBy.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// ListenAndServe listens on Config.Addr and serves until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, l)
}

// authorize requires the bearer token of TokenFile, when one is set.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.cfg.TokenFile == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want, err := os.ReadFile(s.cfg.TokenFile)
		token := bytes.TrimRight(want, "\r\n")
		if err != nil || len(token) == 0 {
			s.cfg.Log.Error("reading the API token", "file", s.cfg.TokenFile, "error", fmt.Sprint(err))
			writeError(w, http.StatusInternalServerError, "the server cannot read its API token")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pipec"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveHealth answers liveness: not live when a build has held its slot
// well past its deadline, which a killed worker never does; a wedged
// server is restarted rather than left answering 503.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if since, ok := s.oldestBuild(); ok && time.Since(since) > 2*s.cfg.BuildTimeout+30*time.Second {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("a build has held its slot for %s", time.Since(since).Round(time.Second)))
		return
	}
	io.WriteString(w, "ok\n")
}

// oldestBuild is when the longest-running build started.
func (s *Server) oldestBuild() (time.Time, bool) {
	s.buildsMu.Lock()
	defer s.buildsMu.Unlock()
	var oldest time.Time
	for t := range s.builds {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = *t
		}
	}
	return oldest, !oldest.IsZero()
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	io.WriteString(w, "ok\n")
}

// request is a parsed build or vet request.
type request struct {
	body      []byte // the upload, as sent
	release   func() // gives the body's bytes back to the upload budget
	manifests render.Format
	// format is what a worker renders: the manifests' format for build,
	// empty for vet.
	format    render.Format
	report    report.Format
	today     string
	threshold diag.Severity
	target    string
}

// The root under which a bundle's files appear to the compiler. It is
// never read from disk: the compiler reads the overlay.
const bundleRoot = "/pipec-bundle"

func (s *Server) parse(w http.ResponseWriter, r *http.Request, defaultReport report.Format) (*request, bool) {
	q := r.URL.Query()
	req := &request{}
	var err error
	if req.manifests, err = render.ParseFormat(cmp.Or(q.Get("format"), "yaml")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	if req.report, err = report.ParseFormat(cmp.Or(q.Get("report"), string(defaultReport))); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	sev, err := report.ParseFailOn(q.Get("fail-on"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	req.threshold = sev
	if d := q.Get("date"); d != "" {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid date %q; expected YYYY-MM-DD", d))
			return nil, false
		}
		req.today = d
	}
	dir := cmp.Or(q.Get("dir"), ".")
	if dir != "." && !filepath.IsLocal(filepath.FromSlash(dir)) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("dir %q must be a relative path inside the bundle", dir))
		return nil, false
	}
	req.target = path.Clean(dir)
	// The upload is read before a build slot is taken, so that a slow
	// client holds none; it is decompressed in the slot.
	req.body, req.release, err = s.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the bundle is larger than %d bytes (the server's --max-bundle-bytes)", s.cfg.MaxBundleBytes))
		case errors.Is(err, errUploads):
			s.metrics.rejected.WithLabelValues("uploads").Inc()
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("reading the bundle: %v", err))
		}
		return nil, false
	}
	return req, true
}

// errUploads means the server holds as many uploads as it may.
var errUploads = errors.New("the server is receiving too many uploads at once (--max-upload-memory); retry later")

// readBody reads a request body up to MaxBundleBytes within
// MaxUploadMemory, refusing at once (errUploads) when the server holds
// too much: a slow client holds what it has sent, no more.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body []byte, release func(), err error) {
	var held int64
	release = func() { s.releaseUploads(held); held = 0 }
	data, err := readChunks(http.MaxBytesReader(w, r.Body, s.cfg.MaxBundleBytes), s.cfg.MaxBundleBytes, func(n int64) error {
		if !s.tryReserve(n) {
			return errUploads
		}
		held += n
		return nil
	})
	if err != nil {
		release()
		return nil, func() {}, err
	}
	// The chunks' bytes, now in one piece, are what is held.
	s.releaseUploads(held - int64(len(data)))
	held = int64(len(data))
	return data, release, nil
}

// ReadArchive reads an archive of at most limit bytes from r, such as a
// webhook's download, within MaxUploadMemory like the API's uploads;
// size is its length when known (Content-Length), else -1. It reserves
// the memory for the whole archive at once (size, or limit capped at
// MaxUploadMemory), waiting for room as long as ctx allows, and holds no
// part of it while it waits: two downloads cannot each wait for what the
// other holds. An archive larger than MaxUploadMemory is refused at once.
// release gives the bytes back once the archive is no longer needed.
func (s *Server) ReadArchive(ctx context.Context, r io.Reader, size, limit int64) (data []byte, release func(), err error) {
	if size > limit {
		return nil, func() {}, fmt.Errorf("the archive is larger than %d bytes", limit)
	}
	budget := s.cfg.MaxUploadMemory
	if size > budget {
		return nil, func() {}, fmt.Errorf("the archive is %d bytes, more than the server holds for uploads (%d bytes, --max-upload-memory)", size, budget)
	}
	n := limit
	if size >= 0 {
		n = size
	}
	n = min(n, budget)
	if err := s.reserveWait(ctx, n); err != nil {
		return nil, func() {}, err
	}
	held := n
	release = func() { s.releaseUploads(held); held = 0 }
	data, err = readChunks(io.LimitReader(r, n+1), n, func(int64) error { return nil })
	switch {
	case err != nil:
	case int64(len(data)) <= n:
	case n == limit:
		err = fmt.Errorf("the archive is larger than %d bytes", limit)
	case size >= 0:
		err = fmt.Errorf("the archive is longer than its Content-Length, %d bytes", size)
	default:
		err = fmt.Errorf("the archive is larger than the server holds for uploads (%d bytes, --max-upload-memory)", budget)
	}
	if err != nil {
		release()
		return nil, func() {}, err
	}
	s.releaseUploads(held - int64(len(data)))
	held = int64(len(data))
	return data, release, nil
}

// tryReserve takes n bytes of MaxUploadMemory if they are free.
func (s *Server) tryReserve(n int64) bool {
	for {
		cur := s.uploads.Load()
		if cur+n > s.cfg.MaxUploadMemory {
			return false
		}
		if s.uploads.CompareAndSwap(cur, cur+n) {
			s.notePeak(cur + n)
			return true
		}
	}
}

// holdUploads counts n bytes the server holds already (a worker's answer)
// against MaxUploadMemory, even past it: uploads wait or are refused
// until they are given back.
func (s *Server) holdUploads(n int64) {
	s.notePeak(s.uploads.Add(n))
}

func (s *Server) notePeak(v int64) {
	for p := s.uploadsPeak.Load(); v > p && !s.uploadsPeak.CompareAndSwap(p, v); p = s.uploadsPeak.Load() {
	}
}

// releaseUploads gives n bytes back to MaxUploadMemory and wakes those
// waiting for room.
func (s *Server) releaseUploads(n int64) {
	if n == 0 {
		return
	}
	s.uploads.Add(-n)
	s.roomMu.Lock()
	if s.room != nil {
		close(s.room)
		s.room = nil
	}
	s.roomMu.Unlock()
}

// reserveWait takes n bytes of MaxUploadMemory, all at once, waiting for
// them as long as ctx allows.
func (s *Server) reserveWait(ctx context.Context, n int64) error {
	for {
		s.roomMu.Lock()
		if s.tryReserve(n) {
			s.roomMu.Unlock()
			return nil
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room := s.room
		s.roomMu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("waiting for memory to read the archive into (--max-upload-memory): %w", ctx.Err())
		}
	}
}

// readChunks reads r, which ends after at most limit+1 bytes, calling
// reserve before it allocates each chunk. It reads into chunks, each half
// as large as what came before, and joins them at the end, so that
// reading copies the data once.
func readChunks(r io.Reader, limit int64, reserve func(n int64) error) ([]byte, error) {
	var chunks [][]byte
	var size int64
	for {
		// The next chunk: half of what came before (at least 4 KiB),
		// within the most there may be, and a byte more to see whether
		// there is more.
		n := min(max(size/2, 4<<10), max(limit+1-size, 1))
		if err := reserve(n); err != nil {
			return nil, err
		}
		chunk := make([]byte, n)
		m, err := io.ReadFull(r, chunk)
		chunks, size = append(chunks, chunk[:m]), size+int64(m)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	whole := make([]byte, 0, size)
	for _, c := range chunks {
		whole = append(whole, c...)
	}
	return whole, nil
}

// forClients words a report's findings for the client rather than for a
// CLI user: file names relative to the bundle instead of the server's
// internal root, and hints about what this server does (no module
// fetches, no files but CUE).
func (s *Server) forClients(rep *report.Report) {
	bundlePaths := strings.NewReplacer(bundleRoot+"/", "", bundleRoot, "the bundle's root")
	for i := range rep.Findings {
		f := &rep.Findings[i]
		f.Message, f.Hint = bundlePaths.Replace(f.Message), bundlePaths.Replace(f.Hint)
		switch {
		case strings.HasPrefix(f.Message, "the bundle's root is not a directory"):
			f.Message = "the bundle's root holds no configuration"
			f.Hint = "pass dir=<the directory inside the bundle that holds the configuration's .cue files> as a query parameter"
		case strings.Contains(f.Hint, "CUE_REGISTRY") && s.cfg.Registry == "none":
			f.Hint = "this server fetches no CUE modules: put the module under cue.mod/pkg in the bundle, or ask its operator to allow the module's registry (pipec serve --cue-registry)"
		case strings.HasPrefix(f.Message, "@embed"):
			f.Hint = "pipec serve keeps only the bundle's .cue files: write the embedded data as CUE, or check the configuration with the pipec CLI"
		}
	}
}

func bundleSize(b *bundle.Bundle) int {
	n := 0
	for _, d := range b.Files {
		n += len(d)
	}
	return n
}

// outcome is a finished build.
type outcome struct {
	res  *compiler.Result
	rep  *report.Report
	code int
	// manifests are the objects a worker rendered, in the format asked.
	manifests []byte
	// bundleErr means the bundle could not be read: a *bundle.LimitError
	// or a *bundle.FormatError.
	bundleErr error
	// err means the build has no verdict: a worker was killed at the
	// deadline or by a limit (*errLimit), or failed.
	err error
	// held is what the worker's answer holds of MaxUploadMemory until
	// free is called.
	held int64
	s    *Server
}

// free gives the memory of a worker's answer back to MaxUploadMemory,
// once it is written. It may be called on nil and more than once.
func (o *outcome) free() {
	if o != nil && o.held != 0 {
		o.s.releaseUploads(o.held)
		o.held = 0
	}
}

// errBusy means no build slot could be had.
type errBusy struct {
	msg   string
	retry string
}

func (e *errBusy) Error() string { return e.msg }

// acquire takes a build slot, waiting until ctx is done, unless too many
// requests wait already. The caller releases it with <-s.slots.
func (s *Server) acquire(ctx context.Context) error {
	// A request that finds a free slot does not wait, so it does not count
	// against the queue: two arriving together on an idle server both get
	// served or queued, never one refused.
	select {
	case <-s.stopping:
		s.metrics.rejected.WithLabelValues("shutdown").Inc()
		return &errBusy{msg: "the server is shutting down", retry: "1"}
	default:
	}
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if s.waiting.Add(1) > int64(s.cfg.MaxQueue) {
		s.waiting.Add(-1)
		s.metrics.rejected.WithLabelValues("queue_full").Inc()
		return &errBusy{msg: fmt.Sprintf("too many requests waiting (%d building, %d queued); retry later", s.cfg.MaxConcurrent, s.cfg.MaxQueue), retry: "1"}
	}
	defer s.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-s.stopping:
		s.metrics.rejected.WithLabelValues("shutdown").Inc()
		return &errBusy{msg: "the server is shutting down", retry: "1"}
	case <-ctx.Done():
		s.metrics.rejected.WithLabelValues("timeout").Inc()
		return &errBusy{msg: fmt.Sprintf("no build slot within %s; the server is busy, retry later", s.cfg.BuildTimeout), retry: "5"}
	}
}

// job is one build: the archive as uploaded, read in the build slot (by
// the worker, with Config.Worker, within its limits), and where the
// configuration is in it.
type job struct {
	archive []byte
	dir     string
	// underTop: dir is relative to the archive's one top directory, if
	// it has one, as in forge archives.
	underTop  bool
	today     string
	threshold diag.Severity
	// format is what a worker renders the manifests in, if set.
	format render.Format
}

// readJob reads a job's bundle into the compiler's options; size is the
// CUE it holds, in bytes.
func readJob(archive []byte, lim bundle.Limits, dir string, underTop bool, today string) (opts compiler.Options, size int, err error) {
	b, err := bundle.Read(bytes.NewReader(archive), lim)
	if err != nil {
		return opts, 0, err
	}
	if underTop {
		dir = path.Join(b.Root(), dir)
	}
	return compiler.Options{
		Overlay:  b.Overlay(bundleRoot),
		Dir:      path.Join(bundleRoot, dir),
		BaseDir:  bundleRoot,
		Policies: true,
		Today:    today,
		// Builds run side by side, each bounded in CPU time and
		// memory: none loads its configuration twice.
		CPUs: 1,
	}, bundleSize(b), nil
}

// run builds with a slot already taken and releases it when the build
// ends.
func (s *Server) run(ctx context.Context, j job) *outcome {
	s.metrics.inFlight.Inc()
	start := time.Now()
	s.buildsMu.Lock()
	s.builds[&start] = struct{}{}
	s.buildsMu.Unlock()
	defer func() {
		s.buildsMu.Lock()
		delete(s.builds, &start)
		s.buildsMu.Unlock()
		<-s.slots
		s.metrics.inFlight.Dec()
	}()
	cache := s.cfg.ModuleCache
	switch {
	case cache != "":
	case s.cfg.Registry == "none":
		// Nothing is fetched, so nothing is cached: no directory at all
		// (the file system may well be read-only).
		cache = filepath.Join(string(filepath.Separator), "nonexistent", "pipec-no-module-cache")
	default:
		dir, err := os.MkdirTemp("", "pipec-modules-")
		if err != nil {
			s.cfg.Log.Error("creating a module cache for --cue-registry", "error", err.Error())
			return &outcome{err: errNoWorker}
		}
		defer os.RemoveAll(dir)
		cache = dir
	}
	// Only what the server's configuration says: no HOME, no logins, no
	// registry the bundle could name.
	env := []string{"CUE_REGISTRY=" + s.cfg.Registry, "CUE_CACHE_DIR=" + cache, "CUE_CONFIG_DIR=" + filepath.Join(cache, "config")}
	o := &outcome{}
	var target string
	var size int
	if len(s.cfg.Worker) > 0 {
		dl, _ := ctx.Deadline()
		res, err := s.runWorker(ctx, workRequest{
			Bundle: j.archive, Limits: s.cfg.Limits, Dir: j.dir, UnderTop: j.underTop, Today: j.today, Env: env,
			Threshold: j.threshold, Manifests: j.format, Deadline: dl,
		})
		var tl *errTooLarge
		switch {
		case errors.As(err, &tl):
			o.rep, o.code = tooLargeReport(tl), report.ExitEval
		case err != nil:
			return &outcome{err: err}
		case res.TooLarge > 0:
			o.rep, o.code = tooLargeReport(&errTooLarge{size: res.TooLarge, max: s.cfg.MaxResponseBytes}), report.ExitEval
		case res.BundleErr != "" && res.BundleLimit:
			return &outcome{bundleErr: &bundle.LimitError{Msg: res.BundleErr}}
		case res.BundleErr != "":
			return &outcome{bundleErr: &bundle.FormatError{Msg: res.BundleErr}}
		case res.Err != "":
			return &outcome{err: fmt.Errorf("rendering the manifests: %s", res.Err)}
		}
		if o.rep == nil {
			o.rep, o.code, o.manifests, target, size = res.Report, res.Code, res.Manifests, res.Dir, res.BundleBytes
			// The answer is in the server's memory until it is written:
			// it counts against the uploads' budget, as the upload did.
			o.s, o.held = s, res.size
			s.holdUploads(res.size)
		}
	} else {
		opts, n, err := readJob(j.archive, s.cfg.Limits, j.dir, j.underTop, j.today)
		if err != nil {
			return &outcome{bundleErr: err}
		}
		opts.Env = env
		res, err := s.cfg.Build(ctx, opts)
		o.res = res
		o.rep, o.code = verdict(res, err, j.threshold)
		target, size = strings.TrimPrefix(strings.TrimPrefix(opts.Dir, bundleRoot), "/"), n
	}
	s.metrics.bundleBytes.Observe(float64(size))
	o.rep.Tool, o.rep.Version, o.rep.Target = "pipec", s.cfg.Version, cmp.Or(target, ".")
	s.forClients(o.rep)
	s.metrics.observeBuild(time.Since(start), o.code, o.rep)
	return o
}

// tooLargeReport is the finding a build gets whose output the server
// does not take.
func tooLargeReport(e *errTooLarge) *report.Report {
	rep := internalReport(e)
	rep.Findings[0].Hint = "build the configuration with the pipec CLI, or ask the server's operator for a larger --max-response-bytes"
	return rep
}

// verdict is a build's report and exit code, as the CLI would give them.
func verdict(res *compiler.Result, err error, threshold diag.Severity) (*report.Report, int) {
	rep, code, err := report.FromBuild(res, err, threshold)
	if err != nil {
		return internalReport(err), report.ExitEval
	}
	return rep, code
}

// VetArchive checks the configuration in dir of an archive (relative to
// its top directory, if it has one, as forge archives have) under the
// server's concurrency bound, waiting for a slot as long as ctx allows; the
// archive is read in the slot, and the build gets BuildTimeout. Webhook
// handlers use it.
func (s *Server) VetArchive(ctx context.Context, archive []byte, dir string) (*report.Report, int, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	o := s.run(ctx, job{archive: archive, dir: dir, underTop: true, threshold: diag.Error})
	o.free() // the report is small next to the archive the check holds
	switch {
	case o.bundleErr != nil:
		return nil, 0, fmt.Errorf("reading the archive: %w", o.bundleErr)
	case o.err != nil:
		return nil, 0, o.err
	}
	return o.rep, o.code, nil
}

// build runs one build under the concurrency bound and the time limit. It
// answers the client itself (400, 413, 503) when it cannot.
func (s *Server) build(w http.ResponseWriter, r *http.Request, req *request) (*outcome, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.BuildTimeout)
	defer cancel()
	if err := s.acquire(ctx); err != nil {
		w.Header().Set("Retry-After", err.(*errBusy).retry)
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return nil, false
	}
	j := job{archive: req.body, dir: req.target, today: req.today, threshold: req.threshold, format: req.format}
	req.body = nil
	done := make(chan *outcome, 1)
	// The slot is held until the build really ends, even if the client
	// has gone or the time is up: concurrency stays bounded.
	go func() { done <- s.run(ctx, j) }()
	answered := false
	defer func() {
		if !answered {
			// The build's answer, if it comes, is not written.
			go func() { (<-done).free() }()
		}
	}()
	select {
	case o := <-done:
		answered = true
		var le *errLimit
		var tooBig *bundle.LimitError
		switch {
		case errors.As(o.bundleErr, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, o.bundleErr.Error())
			return nil, false
		case o.bundleErr != nil:
			writeError(w, http.StatusBadRequest, o.bundleErr.Error())
			return nil, false
		case errors.As(o.err, &le):
			s.metrics.rejected.WithLabelValues(le.label).Inc()
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, le.Error())
			return nil, false
		case o.err != nil:
			writeError(w, http.StatusInternalServerError, o.err.Error())
			return nil, false
		}
		return o, true
	case <-ctx.Done():
		s.metrics.rejected.WithLabelValues("timeout").Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the build did not finish within %s", s.cfg.BuildTimeout))
		return nil, false
	case <-s.stopping:
		s.metrics.rejected.WithLabelValues("shutdown").Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return nil, false
	}
}

// serveConfig answers POST /v1/build (withManifests) and POST /v1/vet.
// Build answers 200 with the manifests when the configuration passes;
// vet answers 200 with the findings report. Both answer 422 with the
// report when it does not pass.
func (s *Server) serveConfig(withManifests bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := s.parse(w, r, report.JSON)
		if !ok {
			return
		}
		defer req.release()
		if withManifests {
			req.format = req.manifests
		}
		o, ok := s.build(w, r, req)
		if !ok {
			return
		}
		defer o.free()
		if !withManifests || o.code != report.ExitOK {
			s.writeReport(w, o, req.report)
			return
		}
		buf := bytes.NewBuffer(o.manifests)
		if o.res != nil {
			if err := render.Stream(buf, o.res.Objects, req.manifests); err != nil {
				writeError(w, http.StatusInternalServerError, fmt.Sprintf("rendering the manifests: %v", err))
				return
			}
		}
		setVerdict(w.Header(), o)
		w.Header().Set("Content-Type", mediaType(req.manifests))
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
	}
}

func (s *Server) writeReport(w http.ResponseWriter, o *outcome, f report.Format) {
	var buf bytes.Buffer
	if err := o.rep.Write(&buf, f); err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("writing the report: %v", err))
		return
	}
	setVerdict(w.Header(), o)
	w.Header().Set("Content-Type", reportMediaType(f))
	status := http.StatusOK
	if o.code != report.ExitOK {
		status = http.StatusUnprocessableEntity
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// setVerdict sets the headers that carry the CLI's exit code and the
// finding counts, so a client can decide without parsing the body.
func setVerdict(h http.Header, o *outcome) {
	c := o.rep.Counts()
	h.Set("Pipec-Exit-Code", strconv.Itoa(o.code))
	h.Set("Pipec-Findings", fmt.Sprintf("deny=%d, warn=%d, info=%d", c.Deny, c.Warn, c.Info))
}

func mediaType(f render.Format) string {
	if f == render.JSON {
		return "application/json"
	}
	return "application/yaml"
}

func reportMediaType(f report.Format) string {
	switch f {
	case report.JSON, report.SARIF:
		return "application/json"
	case report.JUnit:
		return "application/xml"
	case report.Markdown:
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// apiError is the body of every error answer.
type apiError struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Status: status, Error: msg})
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Log.Error("panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(p))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error; see the server log")
				}
			}
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
				return
			}
			s.cfg.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"bytes", rec.bytes, "duration", time.Since(start).Round(time.Microsecond).String(), "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r)
	})
}
