package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/pipec/pipec/compiler"
)

// progress shows a build's stage on stderr while it runs, when stderr is a
// terminal and the run is not in CI: a line that appears only after
// progressDelay (a pre-commit run never flickers) and is erased at the end.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	stage compiler.Stage
	shown bool
	done  chan struct{}
	wg    sync.WaitGroup
}

const progressDelay = 400 * time.Millisecond

// isInteractive reports whether w is a terminal outside CI.
func isInteractive(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	return os.Getenv("CI") == "" && os.Getenv("PIPEC_NO_PROGRESS") == ""
}

type progressKey struct{}

// withProgress makes builds under ctx show progress on w when w is an
// interactive terminal.
func withProgress(ctx context.Context, w io.Writer) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if !isInteractive(w) {
		return ctx
	}
	return context.WithValue(ctx, progressKey{}, w)
}

// buildWithProgress runs compiler.Build, showing its stages if ctx asks for
// it; the line is gone before Build returns.
func buildWithProgress(ctx context.Context, opts compiler.Options) (*compiler.Result, error) {
	w, _ := ctx.Value(progressKey{}).(io.Writer)
	p := startProgress(w)
	defer p.Stop()
	opts.Progress = p.hook()
	defer saveMemo(ctx)
	return compiler.Build(ctx, opts)
}

// startProgress returns a progress display writing to w, or nil when w is
// nil.
func startProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, start: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go p.loop(100 * time.Millisecond)
	return p
}

// Set records the current stage; it is compiler.Options.Progress.
func (p *progress) Set(s compiler.Stage) {
	p.mu.Lock()
	p.stage = s
	p.mu.Unlock()
}

func (p *progress) loop(tick time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			if now.Sub(p.start) < progressDelay {
				continue
			}
			p.mu.Lock()
			fmt.Fprintf(p.w, "\r\033[Kpipec: %s... %.1fs", p.stage, now.Sub(p.start).Seconds())
			p.shown = true
			p.mu.Unlock()
		}
	}
}

// Stop erases the line, if one was shown. Safe on nil.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// hook returns the compiler callback, nil when p is nil.
func (p *progress) hook() func(compiler.Stage) {
	if p == nil {
		return nil
	}
	return p.Set
}
