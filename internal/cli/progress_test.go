package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipec/pipec/compiler"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressShowsSlowStagesAndErasesThem(t *testing.T) {
	var buf syncBuffer
	p := startProgress(&buf)
	p.Set(compiler.StageGenerate)
	time.Sleep(progressDelay + 300*time.Millisecond)
	p.Stop()
	out := buf.String()
	if !strings.Contains(out, "\r\033[Kpipec: generating and validating... ") {
		t.Errorf("no progress line in %q", out)
	}
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the line is not erased at the end: %q", out)
	}
}

func TestProgressStaysQuietWhenFast(t *testing.T) {
	var buf syncBuffer
	p := startProgress(&buf)
	p.Set(compiler.StageLoad)
	p.Stop()
	if buf.String() != "" {
		t.Errorf("a fast run printed %q", buf.String())
	}
}

func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	if ctx := withProgress(context.Background(), &buf); ctx.Value(progressKey{}) != nil {
		t.Error("progress for a writer that is not a terminal")
	}
	var p *progress
	p.Stop() // nil-safe
	if p.hook() != nil {
		t.Error("a nil progress has a hook")
	}
}
