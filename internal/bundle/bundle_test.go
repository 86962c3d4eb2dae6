package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type entry struct {
	hdr  tar.Header
	data string
}

func archive(t *testing.T, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.data))
		}
		h.Mode = 0o644
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// TestTarOfDot reads what "tar -C dir ." writes: every name starts with
// "./", and the first entry is "./" itself.
func TestTarOfDot(t *testing.T) {
	b, err := Read(bytes.NewReader(archive(t, false,
		entry{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir}},
		entry{hdr: tar.Header{Name: "./ci/", Typeflag: tar.TypeDir}},
		entry{hdr: tar.Header{Name: "./ci/pipec.cue"}, data: "package ci\n"},
	)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 1 || string(b.Files["ci/pipec.cue"]) != "package ci\n" {
		t.Fatalf("files %v", b.Files)
	}
	if tarPath, err := exec.LookPath("tar"); err == nil {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "src", "ci"), 0o755)
		os.WriteFile(filepath.Join(dir, "src", "ci", "pipec.cue"), []byte("package ci\n"), 0o644)
		out, err := exec.Command(tarPath, "-C", filepath.Join(dir, "src"), "-czf", "-", ".").Output()
		if err != nil {
			t.Fatal(err)
		}
		b, err := Read(bytes.NewReader(out), Limits{})
		if err != nil || len(b.Files) != 1 || b.Format != TarGz {
			t.Fatalf("tar -C dir -cz .: %v %v", b, err)
		}
	}
	for _, bad := range []string{"../x.cue", "/etc/x.cue", "a/../../x.cue", "."} {
		_, err := Read(bytes.NewReader(archive(t, false, entry{hdr: tar.Header{Name: bad}, data: "package x\n"})), Limits{})
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%q: %v, want a FormatError", bad, err)
		}
	}
}

// TestExpansionBounded sends archives that expand past the limit in the
// ways tar allows: a large file that is not CUE, an entry whose data tar
// skips (a declared size on an entry pipec does not read), and PAX headers,
// which tar reads on its own. Each is refused with a LimitError, having
// decompressed no more than the limit plus the per-entry overhead.
func TestExpansionBounded(t *testing.T) {
	lim := Limits{MaxTotalBytes: 1 << 20, MaxFiles: 8}
	zeros := strings.Repeat("\x00", 4<<20)
	pax := strings.Repeat("p", 900<<10)
	cue := entry{hdr: tar.Header{Name: "pipec.cue"}, data: "package ci\n"}
	for name, tc := range map[string][]entry{
		"large file":    {cue, {hdr: tar.Header{Name: "blob.bin"}, data: zeros}},
		"skipped entry": {cue, {hdr: tar.Header{Name: "fifo", Typeflag: 'Z', Size: int64(len(zeros))}, data: zeros}},
		"PAX headers": {cue,
			{hdr: tar.Header{Name: "a.txt", PAXRecords: map[string]string{"comment": pax}, Format: tar.FormatPAX}},
			{hdr: tar.Header{Name: "b.txt", PAXRecords: map[string]string{"comment": pax}, Format: tar.FormatPAX}},
			{hdr: tar.Header{Name: "c.txt", PAXRecords: map[string]string{"comment": pax}, Format: tar.FormatPAX}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			upload := archive(t, true, tc...)
			counted, err := readCounted(upload, lim)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("%v, want a LimitError", err)
			}
			if max := lim.MaxTotalBytes + int64(len(tc)+2)*tarEntryOverhead; counted.n > max {
				t.Errorf("decompressed %d bytes before refusing, more than %d", counted.n, max)
			}
			if _, err := Read(bytes.NewReader(upload), lim); !errors.As(err, &le) {
				t.Errorf("Read: %v, want a LimitError", err)
			}
		})
	}
	// Within the limits, the same shapes are read.
	if _, err := Read(bytes.NewReader(archive(t, true, cue, entry{hdr: tar.Header{Name: "a.txt", PAXRecords: map[string]string{"comment": "short"}, Format: tar.FormatPAX}})), lim); err != nil {
		t.Fatal(err)
	}
}

// TestHeadersCountAgainstTheLimit: PAX and GNU long names count against
// the expanded limit as the entries' data does, however many entries the
// archive may have: three names of 900 KiB pass a 1 MiB limit.
func TestHeadersCountAgainstTheLimit(t *testing.T) {
	lim := Limits{MaxTotalBytes: 1 << 20} // and the default 5000 entries
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		es := []entry{{hdr: tar.Header{Name: "pipec.cue"}, data: "package ci\n"}}
		for i := range 3 {
			es = append(es, entry{hdr: tar.Header{Name: fmt.Sprintf("%d%s.txt", i, strings.Repeat("n", 900<<10)), Format: format}})
		}
		upload := archive(t, true, es...)
		counted, err := readCounted(upload, lim)
		var le *LimitError
		if !errors.As(err, &le) {
			t.Errorf("%s: %v, want a LimitError", format, err)
		}
		if max := lim.MaxTotalBytes + 8*tarEntryOverhead; counted.n > max {
			t.Errorf("%s: decompressed %d bytes before refusing, more than %d", format, counted.n, max)
		}
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestTxtarMarkersCountedFirst: a txtar upload of nothing but file markers
// is refused before it is parsed into hundreds of thousands of files.
func TestTxtarMarkersCountedFirst(t *testing.T) {
	data := bytes.Repeat([]byte("-- a.cue --\n"), 600000) // 7 MB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(data), Limits{MaxTotalBytes: 16 << 20})
	runtime.ReadMemStats(&after)
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "more than 5000 files") {
		t.Fatalf("err = %v, want a LimitError about the files", err)
	}
	// Reading the 7 MB costs its copy; parsing it, ten times that. The
	// race detector's own allocations are counted too.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20<<20 && !raceEnabled {
		t.Errorf("refusing it allocated %d MiB", alloc>>20)
	}
	// Markers are counted as txtar reads them: "--" alone and a marker
	// without its closing dashes are not files.
	if n := txtarMarkers([]byte("-- a.cue --\r\nx\n-- b.cue --\n--\n-- c.cue\n-- d --")); n != 3 {
		t.Errorf("txtarMarkers = %d, want 3", n)
	}
}

// readCounted reads a gzipped tar upload with readTar, counting the bytes
// decompressed.
func readCounted(upload []byte, lim Limits) (*countingReader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(upload))
	if err != nil {
		return nil, err
	}
	counted := &countingReader{r: zr}
	_, err = readTar(counted, lim.withDefaults())
	return counted, err
}
