package render

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSON parses one JSON value into generic values, as encoding/json
// decodes into an any: map[string]any, []any, string, bool and nil; with
// exact, a number is an int64 when it is an integer that fits, and a
// float64 otherwise (encoding/json with UseNumber, then numbers); without,
// a float64. Rendering decodes every object json.Marshal wrote, and
// encoding/json's reflection-driven decoder was a third of rendering's CPU.
// TestParseJSON and FuzzParseJSON hold it to encoding/json.
func parseJSON(data []byte, exact bool) (any, error) {
	p := parser{data: data, exact: exact}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.data) {
		return nil, p.fail("data after the value")
	}
	return v, nil
}

// maxParseDepth is encoding/json's limit on nesting: objects and arrays
// in one another.
const maxParseDepth = 10000

type parser struct {
	data  []byte
	i     int
	exact bool
}

func (p *parser) fail(what string) error {
	return errors.New("invalid JSON at offset " + strconv.Itoa(p.i) + ": " + what)
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.data) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.fail("unexpected character")
}

func (p *parser) literal(s string) error {
	if len(p.data)-p.i < len(s) || string(p.data[p.i:p.i+len(s)]) != s {
		return p.fail("invalid literal")
	}
	p.i += len(s)
	return nil
}

// object parses an object inside depth others (or arrays).
func (p *parser) object(depth int) (any, error) {
	m := map[string]any{}
	if empty, err := p.open('}', depth); err != nil || empty {
		return m, err
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, p.fail("expected a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if more, err := p.more('}'); err != nil || !more {
			return m, err
		}
	}
}

// array parses an array inside depth others (or objects).
func (p *parser) array(depth int) (any, error) {
	l := []any{}
	if empty, err := p.open(']', depth); err != nil || empty {
		return l, err
	}
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		if more, err := p.more(']'); err != nil || !more {
			return l, err
		}
	}
}

// open consumes the opening bracket of an object or array inside depth
// others and reports whether it is empty (its closing bracket, end, taken
// too).
func (p *parser) open(end byte, depth int) (empty bool, err error) {
	if depth+1 > maxParseDepth {
		return false, p.fail("nested too deep")
	}
	p.i++
	p.space()
	if p.i < len(p.data) && p.data[p.i] == end {
		p.i++
		return true, nil
	}
	return false, nil
}

// more consumes what follows an element of an object or array: a comma
// (more elements) or its closing bracket, end.
func (p *parser) more(end byte) (bool, error) {
	p.space()
	if p.i >= len(p.data) {
		return false, p.fail("unexpected end")
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		return true, nil
	case end:
		p.i++
		return false, nil
	}
	return false, p.fail("expected ',' or '" + string(end) + "'")
}

// number scans a number with JSON's grammar and converts it.
func (p *parser) number() (any, error) {
	start := p.i
	d := p.data
	if p.i < len(d) && d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case p.i < len(d) && d[p.i] >= '1' && d[p.i] <= '9':
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
		}
	default:
		return nil, p.fail("invalid number")
	}
	integer := true
	if p.i < len(d) && d[p.i] == '.' {
		integer = false
		p.i++
		if p.i >= len(d) || d[p.i] < '0' || d[p.i] > '9' {
			return nil, p.fail("invalid number")
		}
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if p.i >= len(d) || d[p.i] < '0' || d[p.i] > '9' {
			return nil, p.fail("invalid number")
		}
		for p.i < len(d) && d[p.i] >= '0' && d[p.i] <= '9' {
			p.i++
		}
	}
	s := string(d[start:p.i])
	if p.exact && integer {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, errors.New("number " + s + " does not fit a float64")
	}
	return f, nil
}

// str scans a string and unquotes it as encoding/json does: invalid UTF-8
// and lone surrogates become U+FFFD.
func (p *parser) str() (string, error) {
	p.i++ // "
	start := p.i
	d := p.data
	// The common case: no escape, ASCII or valid UTF-8.
	for p.i < len(d) {
		c := d[p.i]
		if c == '"' {
			s := string(d[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			p.i++
			continue
		}
		r, size := utf8.DecodeRune(d[p.i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		p.i += size
	}
	b := make([]byte, p.i-start, p.i-start+16)
	copy(b, d[start:p.i])
	for p.i < len(d) {
		c := d[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c == '\\':
			p.i++
			if p.i >= len(d) {
				return "", p.fail("unexpected end")
			}
			switch e := d[p.i]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				b = append(b, unescape[e])
				p.i++
			case 'u':
				p.i++
				r, ok := p.hex4()
				if !ok {
					return "", p.fail("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair, or U+FFFD for a lone one.
					if p.i+1 < len(d) && d[p.i] == '\\' && d[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						r2, ok := p.hex4()
						if ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								b = utf8.AppendRune(b, dec)
								continue
							}
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", p.fail("invalid escape")
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(d[p.i:])
			p.i += size
			b = utf8.AppendRune(b, r) // U+FFFD for invalid UTF-8
		}
	}
	return "", p.fail("unterminated string")
}

// unescape are the characters of JSON's one-letter escapes.
var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads the four hex digits of a \u escape.
func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	p.i += 4
	return r, true
}
