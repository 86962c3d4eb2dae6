package cache

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pipec/pipec/render"
)

// MaxMemo bounds the validation memo; the oldest keys go first.
const MaxMemo = 50000

// Memo is the set of generated objects that passed their upstream
// validation (targets.Memo), kept in one file per pipec binary in the cache
// directory. A run that changed one pipeline of many validates only
// that one. It is safe for concurrent use.
type Memo struct {
	path  string
	mu    sync.Mutex
	keys  map[string]bool
	order []string
	added bool
}

// OpenMemo loads the memo of the running pipec binary, or returns nil when
// the cache is off or the binary cannot be identified.
func OpenMemo() *Memo {
	c := Open()
	if c == nil {
		return nil
	}
	id := NewKey().Add("pipec validation memo v1")
	if err := id.AddExecutable(); err != nil {
		return nil
	}
	m := &Memo{path: filepath.Join(c.dir, "validated", id.String()[:32]), keys: map[string]bool{}}
	if data, err := os.ReadFile(m.path); err == nil {
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			if k := s.Text(); k != "" && !m.keys[k] {
				m.keys[k] = true
				m.order = append(m.order, k)
			}
		}
	}
	return m
}

// Accepted implements targets.Memo.
func (m *Memo) Accepted(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[key]
}

// Accept implements targets.Memo.
func (m *Memo) Accept(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.keys[key] {
		m.keys[key] = true
		m.order = append(m.order, key)
		m.added = true
	}
}

// Save writes the memo atomically if it grew, keeping the newest MaxMemo
// keys, and removes the memos of other pipec binaries.
func (m *Memo) Save() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.added {
		return nil
	}
	keys := m.order
	if len(keys) > MaxMemo {
		keys = keys[len(keys)-MaxMemo:]
	}
	dir := filepath.Dir(m.path)
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if p := filepath.Join(dir, e.Name()); p != m.path && !strings.HasPrefix(e.Name(), ".") {
				os.Remove(p)
			}
		}
	}
	if err := render.WriteFile(m.path, []byte(strings.Join(keys, "\n")+"\n")); err != nil {
		return err
	}
	m.added = false
	return nil
}
