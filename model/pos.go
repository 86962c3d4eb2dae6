package model

import (
	"fmt"
	"slices"
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

// Field returns p extended by a field label, quoted where CUE needs it.
func (p Path) Field(name string) Path {
	label := name
	if !plainLabel(name) {
		label = strconv.Quote(name)
	}
	if p == "" {
		return Path(label)
	}
	return Path(string(p) + "." + label)
}

// plainLabel reports whether name is written unquoted in a path: an
// identifier (letters, digits, _ and $, not starting with a digit) that is
// not hidden (a leading _). (A regular expression here was a tenth of
// decoding: every field decode reads makes a path.)
func plainLabel(name string) bool {
	if name == "" || name[0] == '_' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
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
// It is a table (NewSourceMap), looks paths up when first asked
// (LazySourceMap), or both (PartialSourceMap), so that a build with
// nothing to report never reads them. A value the user did not write where a finding names it, but that
// came from elsewhere (defaults.step, a task's stepTemplate, an app's
// settings for its environments), is found where it came from through
// the aliases Alias records. The zero SourceMap knows no position. It is
// safe for concurrent use.
type SourceMap struct{ s *sources }

type sources struct {
	mu    sync.Mutex
	known map[Path]Pos
	find  func(Path) Pos
	// aliases are, by path, where the values at and below it come from
	// when not written there, in order of precedence.
	aliases map[Path][]Path
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

// PartialSourceMap returns a SourceMap of the given positions that asks
// find, as LazySourceMap does, for a path they do not have.
func PartialSourceMap(known map[Path]Pos, find func(Path) Pos) SourceMap {
	return SourceMap{&sources{known: known, find: find}}
}

// Alias records that the values at and below p that are not written at p
// are those at the same place below from: a step's securityContext.
// privileged, say, that the step does not set, is defaults.step's. An
// alias recorded before another for the same p takes precedence (a task's
// stepTemplate before defaults.step).
func (m SourceMap) Alias(p, from Path) {
	if m.s == nil || p == from {
		return
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.aliases == nil {
		m.s.aliases = map[Path][]Path{}
	}
	if !slices.Contains(m.s.aliases[p], from) {
		m.s.aliases[p] = append(m.s.aliases[p], from)
	}
}

// Lookup returns the position of path: where it was written, else where
// its value came from (Alias), else the position of its nearest ancestor
// that has one.
func (m SourceMap) Lookup(p Path) Pos {
	_, pos := m.Resolve(p)
	return pos
}

// Resolve is Lookup that also returns the path whose position it is: p,
// an ancestor of p, or a path an alias of p (or of an ancestor) leads to.
// The deepest position wins: at each depth, from p up, the value written
// at the path itself, then at the places its aliases lead to, in order.
func (m SourceMap) Resolve(p Path) (Path, Pos) {
	if m.s == nil {
		return "", Pos{}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	for {
		if pos := m.s.at(p); pos.IsValid() {
			return p, pos
		}
		if q, pos := m.s.aliased(p, 0); pos.IsValid() {
			return q, pos
		}
		if p == "" {
			return "", Pos{}
		}
		p = p.Parent()
	}
}

// aliased is the position of exactly p through the aliases of p or of its
// ancestors, followed up to a few times (a step's alias leads to its
// task's stepTemplate, which has none); s.mu is held.
func (s *sources) aliased(p Path, depth int) (Path, Pos) {
	if len(s.aliases) == 0 || depth > 4 {
		return "", Pos{}
	}
	for a, rest := p, Path(""); ; {
		for _, from := range s.aliases[a] {
			q := from + rest
			if pos := s.at(q); pos.IsValid() {
				return q, pos
			}
			if q, pos := s.aliased(q, depth+1); pos.IsValid() {
				return q, pos
			}
		}
		if a == "" {
			return "", Pos{}
		}
		parent := a.Parent()
		rest = a[len(parent):] + rest
		a = parent
	}
}

// Written reports whether the value at path is written somewhere, at the
// path itself or where an alias leads (not only at an ancestor).
func (m SourceMap) Written(p Path) bool {
	if m.s == nil {
		return false
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.at(p).IsValid() {
		return true
	}
	_, pos := m.s.aliased(p, 0)
	return pos.IsValid()
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
