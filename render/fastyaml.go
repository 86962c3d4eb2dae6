package render

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v2"
)

// blockYAML writes v, a decoded object (maps with string keys, lists,
// strings, int64, bools and nulls), as go.yaml.in/yaml/v2 would in block
// style, or reports false when v holds something it leaves to the YAML
// library: a float, a string the library writes on several lines (a
// script, in literal style) at the top level, a string it writes
// double-quoted and may break, a key it does not write as a simple key.
//
// It lays out the blocks and leaves every decision of the YAML library to
// the library itself: how a string is written (plain, single- or
// double-quoted) is the library's own rendering of that string as a
// document, which is the same in any block context for a string written on
// one line; the order of a map's keys is the library's own order of that
// set of keys. Both are remembered for the life of the process, since
// objects repeat their keys and many values. The library's emitter was a
// fifth of a large build's CPU. TestBlockYAML and FuzzBlockYAML hold
// blockYAML to the library.
func blockYAML(buf *bytes.Buffer, v any) bool {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		return blockMap(buf, m, 0, false)
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		return blockList(buf, l, 0, false)
	}
	col := 0
	if !inline(buf, v, &col, -1) {
		return false
	}
	buf.WriteByte('\n')
	return true
}

// lineWidth is the library's preferred line width: past it, it breaks a
// string at a space.
const lineWidth = 80

// blockMap writes the keys of m at column indent; with first, the first
// key goes on the current line (after a list's "- ").
func blockMap(buf *bytes.Buffer, m map[string]any, indent int, first bool) bool {
	keys, ok := keyOrder(m)
	if !ok {
		return false
	}
	for i, k := range keys {
		if i > 0 || !first {
			writeIndent(buf, indent)
		}
		col := indent
		f := scalar(k)
		// The library writes a key longer than 128 characters, or with a
		// line break, as a complex key ("? "); another key, as a value.
		if !f.ok || len(k) > 128 || len(f.form) > 128 || strings.ContainsAny(k, "\r\n") || !fits(f.form, col) {
			return false
		}
		buf.WriteString(f.form)
		buf.WriteByte(':')
		col += len(f.form) + 1
		switch x := m[k].(type) {
		case map[string]any:
			if len(x) == 0 {
				buf.WriteString(" {}\n")
				continue
			}
			buf.WriteByte('\n')
			if !blockMap(buf, x, indent+2, false) {
				return false
			}
		case []any:
			if len(x) == 0 {
				buf.WriteString(" []\n")
				continue
			}
			// A list in a map is not indented.
			buf.WriteByte('\n')
			if !blockList(buf, x, indent, false) {
				return false
			}
		default:
			buf.WriteByte(' ')
			col++
			if !inline(buf, x, &col, indent+2) {
				return false
			}
			buf.WriteByte('\n')
		}
	}
	return true
}

// blockList writes the items of l at column indent, each after "- "; with
// first, the first item goes on the current line (after an outer "- ").
func blockList(buf *bytes.Buffer, l []any, indent int, first bool) bool {
	for i, e := range l {
		if i > 0 || !first {
			writeIndent(buf, indent)
		}
		buf.WriteString("- ")
		switch x := e.(type) {
		case map[string]any:
			if len(x) == 0 {
				buf.WriteString("{}\n")
				continue
			}
			if !blockMap(buf, x, indent+2, true) {
				return false
			}
		case []any:
			if len(x) == 0 {
				buf.WriteString("[]\n")
				continue
			}
			if !blockList(buf, x, indent+2, true) {
				return false
			}
		default:
			col := indent + 2
			if !inline(buf, x, &col, indent+2) {
				return false
			}
			buf.WriteByte('\n')
		}
	}
	return true
}

func writeIndent(buf *bytes.Buffer, n int) {
	for range n {
		buf.WriteByte(' ')
	}
}

// inline writes a scalar starting at column *col. A plain or
// single-quoted string that runs past lineWidth is broken at its spaces
// as the library breaks it, continued at column cont, and a string in
// literal style has its lines at column cont; cont < 0 leaves these to
// the library.
func inline(buf *bytes.Buffer, v any, col *int, cont int) bool {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case string:
		f := scalar(x)
		switch {
		case f.ok && fits(f.form, *col):
			buf.WriteString(f.form)
			*col += len(f.form)
		case f.plain && cont >= 0:
			*col = fold(buf, x, *col, cont)
		case f.quoted && cont >= 0:
			*col = foldQuoted(buf, f.form, *col, cont)
		case f.header != "" && cont >= 0:
			buf.WriteString(f.header)
			for _, l := range f.body {
				buf.WriteByte('\n')
				if l != "" {
					writeIndent(buf, cont)
					buf.WriteString(l)
				}
			}
		default:
			return false
		}
	default: // floats, and anything else, are the library's
		return false
	}
	return true
}

// fold writes the plain string s from column col, broken as the library
// breaks a plain scalar: at a space that follows a non-space and precedes
// one, once the column is past lineWidth, the space giving way to a new
// line continued at column cont. It returns the column after s.
func fold(buf *bytes.Buffer, s string, col, cont int) int {
	return breakAt(buf, s, col, cont, 0, len(s)-1)
}

// foldQuoted writes form, a string in single quotes, from column col,
// broken as the library breaks a single-quoted scalar: as fold does, but
// never at the string's first or last character (form[1] and
// form[len(form)-2]; a doubled quote is two characters both ways).
func foldQuoted(buf *bytes.Buffer, form string, col, cont int) int {
	return breakAt(buf, form, col, cont, 2, len(form)-2)
}

// breakAt writes s from column col, breaking it as fold does at the
// spaces s[i] with lo <= i < hi.
func breakAt(buf *bytes.Buffer, s string, col, cont, lo, hi int) int {
	spaces := false
	for i := range len(s) {
		if s[i] != ' ' {
			buf.WriteByte(s[i])
			col++
			spaces = false
			continue
		}
		if !spaces && col > lineWidth && i >= lo && i < hi && s[i+1] != ' ' {
			buf.WriteByte('\n')
			writeIndent(buf, cont)
			col = cont
		} else {
			buf.WriteByte(' ')
			col++
		}
		spaces = true
	}
	return col
}

// fits reports whether the library writes form, starting at column col,
// on one line: it breaks only at a space, and only past lineWidth.
func fits(form string, col int) bool {
	return col+len(form) <= lineWidth || !strings.Contains(form, " ")
}

// scalars remembers how the library writes a string (scalarForm). It and
// orders hold at most maxRemembered entries each, so that a long-lived
// process (a pipec serve worker) does not grow with every string it is
// sent.
var (
	scalars, orders   sync.Map // string -> scalarForm; string -> []int
	nScalars, nOrders atomic.Int64
)

const maxRemembered = 1 << 17

type scalarForm struct {
	// form is how the library writes the string on one line; ok is false
	// when it takes more than one.
	form string
	ok   bool
	// plain says the library writes the string as it is, unquoted,
	// broken at spaces when it runs past the line width.
	plain bool
	// quoted says the library writes the string in single quotes,
	// broken at spaces when it runs past the line width; form is then
	// its one-line form, even when ok is false.
	quoted bool
	// header and body are the string in literal style ("|", "|-",
	// "|2+", ...): its lines, each to be indented past the parent's
	// column, or "" for a line the library leaves empty.
	header string
	body   []string
}

// scalar is how the library writes s, as a document on its own. The
// library chooses a string's style from the string alone (and from the
// context: flow or block, key or value, which block layouts do not change
// for a string on one line), so the form is the same anywhere in a block
// document. A plain string too long for one line comes back broken at
// spaces; put together again, it tells that the string is plain. Non-ASCII
// strings are left to the library, whose line width counts characters, not
// bytes.
func scalar(s string) scalarForm {
	if f, ok := scalars.Load(s); ok {
		return f.(scalarForm)
	}
	var f scalarForm
	if ascii(s) && len(s) <= 1<<16 {
		if b, err := yaml.Marshal(s); err == nil {
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			quoted := "'" + strings.ReplaceAll(s, "'", "''") + "'"
			switch {
			case len(lines) == 1:
				f = scalarForm{form: lines[0], ok: true, plain: lines[0] == s, quoted: lines[0] == quoted && !strings.ContainsAny(s, "\r\n")}
			case strings.HasPrefix(lines[0], "'") && !strings.ContainsAny(s, "\r\n"):
				if unbroken(lines) == quoted {
					f = scalarForm{form: quoted, quoted: true}
				}
			case strings.HasPrefix(lines[0], "|"):
				// At the top level the lines are indented by two; in a
				// block, by two past the parent's column.
				body := lines[1:]
				for i, l := range body {
					if !strings.HasPrefix(l, "  ") && l != "" {
						body = nil
						break
					}
					body[i] = strings.TrimPrefix(l, "  ")
				}
				if body != nil {
					f.header, f.body = lines[0], body
				}
			case lines[0] != "" && !strings.ContainsAny(lines[0][:1], `'"|>`):
				f.plain = unbroken(lines) == s
			}
		}
	}
	if nScalars.Add(1) <= maxRemembered {
		scalars.Store(s, f)
	}
	return f
}

// unbroken is the one-line string the library broke into lines at
// spaces: each break gives way to the space again.
func unbroken(lines []string) string {
	for i := range lines[1:] {
		lines[i+1] = strings.TrimLeft(lines[i+1], " ")
	}
	return strings.Join(lines, " ")
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// keyOrder returns m's keys in the library's order. Letters sort as bytes
// do there; other characters (digits, which it compares as numbers, and
// punctuation, which it puts before letters) do not, so for a set of keys
// with any, the order is the library's own, by marshalling the keys.
func keyOrder(m map[string]any) ([]string, bool) {
	keys := make([]string, 0, len(m))
	letters := true
	for k := range m {
		keys = append(keys, k)
		for i := range len(k) {
			if c := k[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				letters = false
				break
			}
		}
	}
	slices.Sort(keys)
	if letters || len(keys) < 2 {
		return keys, true
	}
	sig := strings.Join(keys, "\x00")
	if o, ok := orders.Load(sig); ok {
		return permute(keys, o.([]int)), o.([]int) != nil
	}
	order := libraryOrder(keys)
	if nOrders.Add(1) <= maxRemembered {
		orders.Store(sig, order) // by the keys in byte order, joined with NUL
	}
	return permute(keys, order), order != nil
}

// libraryOrder asks the library to write a map of keys to their positions
// and reads the positions back in the order it wrote them; nil if a key
// takes more than one line, or if the library's order depends on the
// order in which it meets the keys: its comparison is not a total order
// when keys that read as numbers ("9", "10") meet others ("1Gi"), so such
// a map, written by the library, comes out in a different order from one
// run to the next.
func libraryOrder(keys []string) []int {
	order := libraryOrderOnce(keys)
	for range 3 {
		if again := libraryOrderOnce(keys); !slices.Equal(again, order) {
			return nil
		}
	}
	return order
}

func libraryOrderOnce(keys []string) []int {
	m := make(map[string]int, len(keys))
	for i, k := range keys {
		m[k] = i
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(keys) {
		return nil
	}
	order := make([]int, len(lines))
	for i, line := range lines {
		j := strings.LastIndex(line, ": ")
		if j < 0 {
			return nil
		}
		n, err := strconv.Atoi(line[j+2:])
		if err != nil || n < 0 || n >= len(keys) {
			return nil
		}
		order[i] = n
	}
	return order
}

func permute(keys []string, order []int) []string {
	if order == nil {
		return nil
	}
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = keys[n]
	}
	return out
}
