package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTrim: the cache keeps the MaxEntries newest entries, counting only
// entries: the validation memo's directory and a half-written temporary
// file beside them are neither counted nor removed.
func TestTrim(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{dir: dir}
	old := time.Now().Add(-time.Hour)
	for i := range MaxEntries - 2 {
		p := filepath.Join(dir, fmt.Sprintf("k%03d.json", i))
		if err := os.WriteFile(p, []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
		mod := old.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "validated"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tmp := range []string{".k.json.tmp-1", ".k.json.tmp-2"} {
		if err := os.WriteFile(filepath.Join(dir, tmp), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One under the bound, with three other files in the directory.
	if err := c.Put("new", &Entry{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put("new2", &Entry{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k000.json")); err != nil {
		t.Fatalf("an entry was removed below the bound: %v", err)
	}
	// One over: the oldest goes, nothing else.
	if err := c.Put("newer", &Entry{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k000.json")); !os.IsNotExist(err) {
		t.Errorf("the oldest entry was kept: %v", err)
	}
	for _, keep := range []string{"k001.json", "new.json", "new2.json", "newer.json", "validated", ".k.json.tmp-1"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	if e, ok := c.Get("newer"); !ok || e == nil {
		t.Error("the newest entry is gone")
	}
}
