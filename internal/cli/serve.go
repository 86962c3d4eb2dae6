package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/internal/bundle"
	"github.com/pipec/pipec/internal/server"
)

type serveOptions struct {
	cfg             server.Config
	inProcess       bool
	workerMemorySet bool
	logFormat       string
	hooks           webhookOptions
}

func newServeCmd(stderr io.Writer) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run pipec as an HTTP service for pull-request bots and GitOps tooling",
		Long: `serve runs pipec as an HTTP service.

  POST /v1/build   compile a bundle; 200 with the manifests (?format=yaml|json),
                   or 422 with the findings report when the configuration fails
  POST /v1/vet     check a bundle; the findings report (?report=json|sarif|text|
                   github|junit), 200 when it passes, 422 when it does not
  GET  /healthz    liveness;  GET /readyz  readiness (503 while shutting down)
  GET  /metrics    Prometheus metrics

A bundle is the request body: a tar archive, optionally gzip-compressed, or a
txtar file. Only its .cue files are read, in memory; nothing is written to
disk or executed, and no CUE module is fetched unless --cue-registry allows
its registry. Query parameters: dir (the configuration directory inside
the bundle, default "."), fail-on (deny, warn or never) and date, as in vet.
Every answer carries Pipec-Exit-Code (the CLI's exit code) and
Pipec-Findings headers.

With --github-webhook-secret-file or --gitlab-webhook-secret-file, it also
takes push and pull/merge request webhooks, vets the commit and reports a
commit status (see docs/service.md).

Each build runs in a worker process of its own (pipec serve-worker), which
decompresses the bundle and builds it, limited to --worker-memory and
killed at --build-timeout, so that no upload can hold a build slot or the
server's memory past its deadline. The uploads the server holds are
bounded by --max-upload-memory.

On SIGTERM or SIGINT it answers 503 on /readyz, keeps serving for
--shutdown-delay, stops accepting connections and waits for the requests in
flight and the webhook checks; builds still running shortly before
--shutdown-timeout are stopped (503), so that it exits within it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.workerMemorySet = cmd.Flags().Changed("worker-memory")
			return runServe(cmd.Context(), opts, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.cfg.Addr, "addr", ":8080", "listen `ADDRESS`")
	f.Int64Var(&opts.cfg.MaxBundleBytes, "max-bundle-bytes", 8<<20, "largest request body, in bytes")
	f.Int64Var(&opts.cfg.Limits.MaxTotalBytes, "max-expanded-bytes", bundle.DefaultMaxTotalBytes, "largest uncompressed bundle, in bytes")
	f.Int64Var(&opts.cfg.Limits.MaxFileBytes, "max-file-bytes", bundle.DefaultMaxFileBytes, "largest CUE file in a bundle, in bytes")
	f.IntVar(&opts.cfg.Limits.MaxFiles, "max-files", bundle.DefaultMaxFiles, "most entries in a bundle")
	f.IntVar(&opts.cfg.MaxConcurrent, "max-concurrent", 0, "builds at once (default GOMAXPROCS)")
	f.IntVar(&opts.cfg.MaxQueue, "max-queue", 0, "requests that may wait for a build slot before 503 (default 4 x --max-concurrent)")
	f.Int64Var(&opts.cfg.MaxUploadMemory, "max-upload-memory", 0, "bytes of uploads (and webhook downloads) held in memory at once; past it, uploads get 503 (default (--max-concurrent + --max-queue) x --max-bundle-bytes)")
	f.Int64Var(&opts.cfg.MaxResponseBytes, "max-response-bytes", 64<<20, "largest output of one build (manifests and report), in bytes; a larger one gets 422")
	f.DurationVar(&opts.cfg.BuildTimeout, "build-timeout", 30*time.Second, "time a request may wait for a slot and build")
	f.DurationVar(&opts.cfg.ShutdownTimeout, "shutdown-timeout", 25*time.Second, "time the whole shutdown may take, from the signal to the last request and webhook check")
	f.DurationVar(&opts.cfg.ShutdownDelay, "shutdown-delay", 0, "time to keep serving after the signal with /readyz answering 503, so that load balancers stop sending first (part of --shutdown-timeout)")
	f.StringVar(&opts.cfg.Registry, "cue-registry", "none", "the CUE_REGISTRY bundles' module dependencies are fetched with, such as `acme.com/policies=ghcr.io/acme/cue,none`; none fetches nothing")
	f.StringVar(&opts.cfg.ModuleCache, "module-cache", "", "CUE module cache directory for what --cue-registry allows (default: a temporary directory per build, removed after it)")
	f.Int64Var(&opts.cfg.WorkerMemory, "worker-memory", 2<<30, "the memory (data segment) of one build's worker process, in bytes (default: in a container with PIPEC_MEMORY_LIMIT, its share of it, else 2 GiB)")
	f.BoolVar(&opts.inProcess, "in-process", false, "build in the server's own process: a build past --build-timeout runs on and no memory limit holds (for debugging)")
	f.StringVar(&opts.cfg.TokenFile, "api-token-file", "", "a file holding the bearer token POST /v1/build and /v1/vet require (read on every request); none: no authentication")
	f.StringVar(&opts.logFormat, "log-format", "json", "log format on stderr: json or text")
	opts.hooks.register(f)
	return cmd
}

// newServeWorkerCmd is the hidden command serve runs each build in.
func newServeWorkerCmd(stdin io.Reader, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    "serve-worker",
		Short:  "Run one build for pipec serve (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !server.IsWorker() {
				return usageError("serve-worker is started by pipec serve")
			}
			if err := server.RunWorker(stdin, stdout); err != nil {
				return &exitError{code: ExitEval, msg: err.Error()}
			}
			return nil
		},
	}
}

func runServe(ctx context.Context, opts serveOptions, stderr io.Writer) error {
	var h slog.Handler
	switch opts.logFormat {
	case "json":
		h = slog.NewJSONHandler(stderr, nil)
	case "text":
		h = slog.NewTextHandler(stderr, nil)
	default:
		return usageError("unknown --log-format %q; expected json or text", opts.logFormat)
	}
	log := slog.New(h)
	// pipec's one-shot commands collect less often than Go's default
	// (tuneGC); a long-running service collects at the default pace, within
	// the container's memory. GOGC and GOMEMLIMIT, when set, win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// PIPEC_MEMORY_LIMIT is the container's memory limit in bytes (the
		// chart sets it from the downward API); keep 10% headroom.
		limit := int64(math.MaxInt64)
		if v, err := strconv.ParseInt(os.Getenv("PIPEC_MEMORY_LIMIT"), 10, 64); err == nil && v > 0 {
			limit = v / 10 * 9
		}
		debug.SetMemoryLimit(limit)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts.cfg.Version = versionString()
	opts.cfg.Log = log
	if !opts.inProcess {
		exe, err := os.Executable()
		if err != nil {
			return &exitError{code: ExitEval, msg: fmt.Sprintf("finding pipec's own executable for the build workers: %v (or use --in-process)", err)}
		}
		opts.cfg.Worker = []string{exe, "serve-worker"}
	}
	if !opts.workerMemorySet {
		// In a container, the workers share its memory: each gets its
		// part of what the server (128 MiB) leaves.
		if v, err := strconv.ParseInt(os.Getenv("PIPEC_MEMORY_LIMIT"), 10, 64); err == nil && v > 0 {
			n := int64(cmp.Or(opts.cfg.MaxConcurrent, runtime.GOMAXPROCS(0)))
			opts.cfg.WorkerMemory = max(256<<20, (v-128<<20)/n)
		}
	}
	s := server.New(opts.cfg)
	if err := opts.hooks.mount(s, log); err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	defer s.Close()
	// Serve waits for the webhook checks in progress, and stops them in
	// time to report it.
	if err := s.ListenAndServe(ctx); err != nil {
		return &exitError{code: ExitEval, msg: fmt.Sprintf("serve: %v", err)}
	}
	log.Info("stopped")
	return nil
}
