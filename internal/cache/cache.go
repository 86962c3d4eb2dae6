// Package cache keeps the results of pipec runs by a hash of everything
// they depend on (pipec's binary, the arguments, the date, and every CUE
// file of the configuration's module), so that an unchanged configuration
// is answered without evaluating it again. Entries are written atomically
// and the cache is bounded; any failure only means a miss.
package cache

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
)

// EnvDir overrides the cache directory; EnvOff, when set, turns the cache
// off.
const (
	EnvDir = "PIPEC_CACHE_DIR"
	EnvOff = "PIPEC_NO_CACHE"
)

// MaxEntries bounds the cache; the oldest entries go first.
const MaxEntries = 256

// Cache is a directory of entries.
type Cache struct{ dir string }

// Open returns the user's cache: $PIPEC_CACHE_DIR, else pipec/ under the
// user cache directory. It returns nil when there is none or it is off.
func Open() *Cache {
	if os.Getenv(EnvOff) != "" {
		return nil
	}
	dir := os.Getenv(EnvDir)
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(base, "pipec", "results")
	}
	return &Cache{dir: dir}
}

// Entry is a cached run: what it printed and its exit code.
type Entry struct {
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
	Code   int    `json:"code"`
}

// Get returns the entry for key.
func (c *Cache) Get(key string) (*Entry, bool) {
	data, err := os.ReadFile(filepath.Join(c.dir, key+".json"))
	if err != nil {
		return nil, false
	}
	var e Entry
	if json.Unmarshal(data, &e) != nil {
		return nil, false
	}
	return &e, true
}

// Put stores an entry and trims the cache to MaxEntries.
func (c *Cache) Put(key string, e *Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := render.WriteFile(filepath.Join(c.dir, key+".json"), data); err != nil {
		return err
	}
	return c.trim()
}

func (c *Cache) trim() error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type aged struct {
		name string
		mod  int64
	}
	var files []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".json") {
			files = append(files, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	if len(files) <= MaxEntries {
		return nil
	}
	slices.SortFunc(files, func(a, b aged) int { return cmp.Compare(a.mod, b.mod) })
	for _, f := range files[:len(files)-MaxEntries] {
		os.Remove(filepath.Join(c.dir, f.name))
	}
	return nil
}

// Key hashes the parts of a run that decide its result.
type Key struct{ h hash.Hash }

// NewKey starts a key.
func NewKey() *Key { return &Key{h: sha256.New()} }

// Add adds strings, each length-prefixed so that no two lists collide.
func (k *Key) Add(parts ...string) *Key {
	for _, p := range parts {
		var n [8]byte
		for i, l := 0, len(p); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		k.h.Write(n[:])
		io.WriteString(k.h, p)
	}
	return k
}

// AddExecutable adds the running binary's identity (path, size and
// modification time), so that a rebuilt pipec never sees an old result.
func (k *Key) AddExecutable() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return err
	}
	k.Add(exe, st.ModTime().UTC().Format(time.RFC3339Nano), strconv.FormatInt(st.Size(), 10))
	return nil
}

// AddInputs adds every .cue file of the configuration in dir: those of the
// CUE module it belongs to (so that imported local packages count), or of
// dir when it has no module. Hidden directories, _-prefixed ones,
// node_modules and testdata are skipped, as CUE skips them.
func (k *Key) AddInputs(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	root, ok := compiler.ModuleRoot(abs)
	if !ok {
		root = abs
	}
	k.Add(abs, root)
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(name) != ".cue" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		k.Add(p, string(data))
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no CUE files")
	}
	return nil
}

// String returns the key in hex.
func (k *Key) String() string { return hex.EncodeToString(k.h.Sum(nil)) }
