package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestMemo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	t.Setenv(EnvOff, "")
	stale := filepath.Join(dir, "validated", "another-binary")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("k0\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	m := OpenMemo()
	if m == nil || m.Accepted("k1") {
		t.Fatalf("fresh memo: %v", m)
	}
	m.Accept("k1")
	m.Accept("k2")
	m.Accept("k1")
	if !m.Accepted("k1") || !m.Accepted("k2") {
		t.Fatal("accepted keys not remembered")
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the memo of another binary was kept: %v", err)
	}

	again := OpenMemo()
	if !again.Accepted("k1") || !again.Accepted("k2") || again.Accepted("k0") {
		t.Fatalf("reopened memo: %v", again.keys)
	}
	if len(again.order) != 2 {
		t.Errorf("reopened memo holds %v, want k1 and k2 once each", again.order)
	}

	t.Setenv(EnvOff, "1")
	if OpenMemo() != nil {
		t.Error("memo with the cache off")
	}
}

func TestMemoBounded(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	t.Setenv(EnvOff, "")
	m := OpenMemo()
	for i := range MaxMemo + 10 {
		m.Accept(fmt.Sprintf("key%d", i))
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	again := OpenMemo()
	if len(again.order) != MaxMemo {
		t.Fatalf("%d keys after saving %d, want the newest %d", len(again.order), MaxMemo+10, MaxMemo)
	}
	if again.order[0] != m.order[10] {
		t.Errorf("oldest kept key %q, want %q", again.order[0], m.order[10])
	}
}

// TestMemoConcurrent: Tekton's validation runs on all CPUs and asks the
// memo from each (run it with -race).
func TestMemoConcurrent(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	t.Setenv(EnvOff, "")
	m := OpenMemo()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprintf("k%d", (g*200+i)%300)
				if !m.Accepted(k) {
					m.Accept(k)
				}
			}
		})
	}
	wg.Wait()
	for i := range 300 {
		if !m.Accepted(fmt.Sprintf("k%d", i)) {
			t.Fatalf("k%d not remembered", i)
		}
	}
	if len(m.order) != 300 {
		t.Errorf("%d keys recorded, want 300 each once", len(m.order))
	}
}
