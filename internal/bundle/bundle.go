// Package bundle reads an uploaded configuration — a tar archive (optionally
// gzip-compressed) or a txtar file — into memory, within limits, so that the
// compiler can load it through its overlay without anything being written
// to disk. Only CUE files are kept; nothing in a bundle is ever executed.
package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// Limits bound what a bundle may hold. Zero fields take the defaults.
type Limits struct {
	// MaxFiles is the most entries (of any kind) an archive may hold.
	MaxFiles int
	// MaxFileBytes is the largest one CUE file may be.
	MaxFileBytes int64
	// MaxTotalBytes bounds the uncompressed size of all entries together,
	// CUE or not, so that a small compressed upload cannot expand without
	// bound.
	MaxTotalBytes int64
}

// Default limits.
const (
	DefaultMaxFiles      = 5000
	DefaultMaxFileBytes  = 1 << 20
	DefaultMaxTotalBytes = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	return l
}

// Format is how a bundle is encoded.
type Format string

// Formats, detected from the content.
const (
	Tar   Format = "tar"
	TarGz Format = "tar.gz"
	Txtar Format = "txtar"
)

// Bundle is the CUE files of an upload, by slash-separated path relative to
// the bundle's root.
type Bundle struct {
	Format Format
	Files  map[string][]byte
	// Skipped counts entries that were not kept: files that are not CUE,
	// symbolic links and other special entries.
	Skipped int
}

// LimitError means the bundle exceeds a limit; a server answers 413.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// FormatError means the bundle is malformed or unsafe; a server answers 400.
type FormatError struct {
	Msg string
	// Err is the read error behind it, if any.
	Err error
}

func (e *FormatError) Error() string { return e.Msg }

func (e *FormatError) Unwrap() error { return e.Err }

// Read reads a bundle, detecting its format: gzip and tar by their magic
// numbers, anything else as txtar.
func Read(r io.Reader, lim Limits) (*Bundle, error) {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 512)
	head, _ := br.Peek(512)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("reading the gzip stream: %v", err), Err: err}
		}
		defer zr.Close()
		b, err := readTar(zr, lim)
		if b != nil {
			b.Format = TarGz
		}
		return b, err
	case isTar(head):
		return readTar(br, lim)
	}
	return readTxtar(br, lim)
}

// isTar reports whether a header block looks like a tar header (ustar or
// GNU magic at offset 257).
func isTar(head []byte) bool {
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// tarEntryOverhead is what a tar stream holds per entry besides its data
// and its PAX or GNU long names and records: its header block, a PAX or
// GNU header's own block and padding, and the padding of its data. The
// PAX and GNU data themselves count against MaxTotalBytes, as the
// entries' data does.
const tarEntryOverhead = 2 << 10

// streamLimit stops a read past n bytes with a LimitError. It is what
// bounds decompression: tar skips the data of entries it is not asked for
// (directories, links, declared sizes) by reading through them, reads
// PAX and GNU headers on its own, and gzip expands a few megabytes into
// gigabytes.
type streamLimit struct {
	r   io.Reader
	n   int64
	lim Limits
}

func (s *streamLimit) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, totalError(s.lim)
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	n, err := s.r.Read(p)
	s.n -= int64(n)
	return n, err
}

func readTar(r io.Reader, lim Limits) (*Bundle, error) {
	b := &Bundle{Format: Tar, Files: map[string][]byte{}}
	// Every byte of the stream counts: the entries' data and headers
	// within MaxTotalBytes, and the fixed overhead of each entry read
	// (and of the end of the archive), granted as the entries come.
	stream := &streamLimit{r: r, n: lim.MaxTotalBytes + 2*tarEntryOverhead, lim: lim}
	tr := tar.NewReader(stream)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		stream.n += tarEntryOverhead
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LimitError
		if errors.As(err, &le) {
			return nil, le
		}
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("reading the tar archive: %v", err), Err: err}
		}
		if n >= lim.MaxFiles {
			return nil, &LimitError{Msg: fmt.Sprintf("the archive has more than %d entries", lim.MaxFiles)}
		}
		// Whatever the entry, its declared size is what skipping or
		// reading it costs.
		if h.Size > lim.MaxTotalBytes-total {
			return nil, totalError(lim)
		}
		if h.Typeflag == tar.TypeDir && strings.Trim(h.Name, "./") == "" {
			continue // the root itself, as "tar -C dir ." writes it
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !isCUE(name) {
			if h.Typeflag == tar.TypeReg {
				// Read and discard, so that the total limit counts it.
				m, err := io.Copy(io.Discard, io.LimitReader(tr, lim.MaxTotalBytes-total+1))
				total += m
				if err != nil {
					return nil, readError(name, err)
				}
				if total > lim.MaxTotalBytes {
					return nil, totalError(lim)
				}
			}
			if h.Typeflag != tar.TypeDir {
				b.Skipped++
			}
			continue
		}
		if h.Size > lim.MaxFileBytes {
			return nil, fileError(name, h.Size, lim)
		}
		data, err := io.ReadAll(io.LimitReader(tr, lim.MaxFileBytes+1))
		if err != nil {
			return nil, readError(name, err)
		}
		if int64(len(data)) > lim.MaxFileBytes {
			return nil, fileError(name, int64(len(data)), lim)
		}
		total += int64(len(data))
		if total > lim.MaxTotalBytes {
			return nil, totalError(lim)
		}
		if err := b.add(name, data); err != nil {
			return nil, err
		}
	}
	return b.done()
}

func readTxtar(r io.Reader, lim Limits) (*Bundle, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxTotalBytes+1))
	if err != nil {
		return nil, &FormatError{Msg: fmt.Sprintf("reading the bundle: %v", err), Err: err}
	}
	if int64(len(data)) > lim.MaxTotalBytes {
		return nil, totalError(lim)
	}
	// Count the file markers before parsing: a small upload of nothing
	// but markers would otherwise become a million parsed files.
	if n := txtarMarkers(data); n > lim.MaxFiles {
		return nil, &LimitError{Msg: fmt.Sprintf("the txtar file has more than %d files", lim.MaxFiles)}
	}
	ar := txtar.Parse(data)
	if len(ar.Files) == 0 {
		return nil, &FormatError{Msg: "the bundle is neither a tar archive (optionally gzip-compressed) nor a txtar file with at least one \"-- name.cue --\" section"}
	}
	if len(ar.Files) > lim.MaxFiles {
		return nil, &LimitError{Msg: fmt.Sprintf("the txtar file has more than %d files", lim.MaxFiles)}
	}
	b := &Bundle{Format: Txtar, Files: map[string][]byte{}}
	for _, f := range ar.Files {
		name, err := cleanName(f.Name)
		if err != nil {
			return nil, err
		}
		if !isCUE(name) {
			b.Skipped++
			continue
		}
		if int64(len(f.Data)) > lim.MaxFileBytes {
			return nil, fileError(name, int64(len(f.Data)), lim)
		}
		if err := b.add(name, f.Data); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// txtarMarkers counts the lines of data that are txtar file markers
// ("-- name --").
func txtarMarkers(data []byte) int {
	n := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if bytes.HasPrefix(line, []byte("-- ")) && bytes.HasSuffix(bytes.TrimRight(line, "\r"), []byte(" --")) {
			n++
		}
	}
	return n
}

func (b *Bundle) add(name string, data []byte) error {
	if _, dup := b.Files[name]; dup {
		return &FormatError{Msg: fmt.Sprintf("%s appears twice in the bundle", name)}
	}
	b.Files[name] = data
	return nil
}

func (b *Bundle) done() (*Bundle, error) {
	if len(b.Files) == 0 {
		return nil, &FormatError{Msg: fmt.Sprintf("the %s bundle holds no .cue files", b.Format)}
	}
	return b, nil
}

// cleanName turns an entry name into a clean relative slash path, refusing
// absolute paths and paths that leave the bundle.
func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(strings.ReplaceAll(name, "\\", "/"), "./")
	if n == "" || strings.HasPrefix(n, "/") || !filepath.IsLocal(filepath.FromSlash(n)) {
		return "", &FormatError{Msg: fmt.Sprintf("entry %q is not a relative path inside the bundle", name)}
	}
	return path.Clean(n), nil
}

// readError is a failed read of an entry: past the bundle's limit, or a
// malformed archive.
func readError(name string, err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	return &FormatError{Msg: fmt.Sprintf("reading %s: %v", name, err), Err: err}
}

func isCUE(name string) bool { return path.Ext(name) == ".cue" }

func fileError(name string, size int64, lim Limits) error {
	return &LimitError{Msg: fmt.Sprintf("%s is %d bytes; one file may be at most %d", name, size, lim.MaxFileBytes)}
}

func totalError(lim Limits) error {
	return &LimitError{Msg: fmt.Sprintf("the bundle expands to more than %d bytes", lim.MaxTotalBytes)}
}

// Root returns the directory every file of the bundle is under when the
// archive has one top-level directory (as GitHub and GitLab archives
// do), else "".
func (b *Bundle) Root() string {
	var root string
	for name := range b.Files {
		top, _, ok := strings.Cut(name, "/")
		if !ok || root != "" && top != root {
			return ""
		}
		root = top
	}
	return root
}

// Overlay maps every file to its absolute name under root, for
// compiler.Options.Overlay.
func (b *Bundle) Overlay(root string) map[string][]byte {
	ov := make(map[string][]byte, len(b.Files))
	for name, data := range b.Files {
		ov[filepath.Join(root, filepath.FromSlash(name))] = data
	}
	return ov
}
