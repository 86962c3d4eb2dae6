package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Pos is a position in a CUE source file. The zero Pos is unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.File != "" && p.Line > 0 }

// String formats the position as file:line:col.
func (p Pos) String() string {
	if !p.IsValid() {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Path is a field path in CUE syntax, such as
// pipelines."go-service".tasks.lint.steps[0].image.
type Path string

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// Field returns p extended by a field label, quoted where CUE needs it.
func (p Path) Field(name string) Path {
	label := name
	if !identRE.MatchString(name) || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "#") {
		label = strconv.Quote(name)
	}
	if p == "" {
		return Path(label)
	}
	return Path(string(p) + "." + label)
}

// Index returns p extended by a list index.
func (p Path) Index(i int) Path {
	return Path(fmt.Sprintf("%s[%d]", p, i))
}

// Parent returns the path without its last element, or "" at the root.
func (p Path) Parent() Path {
	s := string(p)
	if strings.HasSuffix(s, "]") {
		if i := strings.LastIndexByte(s, '['); i >= 0 {
			return Path(s[:i])
		}
	}
	// Walk back over the last label, skipping dots inside quotes.
	inQuote := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			if i == 0 || s[i-1] != '\\' {
				inQuote = !inQuote
			}
		case '.':
			if !inQuote {
				return Path(s[:i])
			}
		}
	}
	return ""
}

// SourceMap records where in the CUE sources each field path was written.
// It is either a table (NewSourceMap) or looks paths up when first asked
// (LazySourceMap), so that a build with nothing to report never reads
// them. The zero SourceMap knows no position. It is safe for concurrent
// use.
type SourceMap struct{ s *sources }

type sources struct {
	mu    sync.Mutex
	known map[Path]Pos
	find  func(Path) Pos
}

// NewSourceMap returns a SourceMap of the given positions.
func NewSourceMap(known map[Path]Pos) SourceMap {
	return SourceMap{&sources{known: known}}
}

// LazySourceMap returns a SourceMap that asks find for the position of a
// path the first time it is needed; find returns the zero Pos for a path
// it does not know.
func LazySourceMap(find func(Path) Pos) SourceMap {
	return SourceMap{&sources{known: map[Path]Pos{}, find: find}}
}

// Lookup returns the position of path, or of its nearest ancestor that has
// one.
func (m SourceMap) Lookup(p Path) Pos {
	if m.s == nil {
		return Pos{}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for {
		if pos := m.s.at(p); pos.IsValid() {
			return pos
		}
		if p == "" {
			return Pos{}
		}
		p = p.Parent()
	}
}

// Has reports whether the user wrote path itself (not only an ancestor).
func (m SourceMap) Has(p Path) bool {
	if m.s == nil {
		return false
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return m.s.at(p).IsValid()
}

// at is the position of exactly p; s.mu is held.
func (s *sources) at(p Path) Pos {
	pos, ok := s.known[p]
	if !ok && s.find != nil {
		pos = s.find(p)
		s.known[p] = pos
	}
	return pos
}
