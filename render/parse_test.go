package render

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// decodeStd is what parseJSON replaced: encoding/json's decoder into an
// any (with UseNumber and numbers when exact), the whole input one value.
func decodeStd(data []byte, exact bool) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	if exact {
		d.UseNumber()
	}
	var m any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if len(bytes.TrimLeft(data[d.InputOffset():], " \t\r\n")) > 0 {
		return nil, errTrailing
	}
	if exact {
		return numbers(m)
	}
	return m, nil
}

var errTrailing = errorString("data after the value")

type errorString string

func (e errorString) Error() string { return string(e) }

// numbers replaces the json.Numbers in v by int64 or float64.
func numbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		return x.Float64()
	case map[string]any:
		for k, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// TestParseJSON holds parseJSON to encoding/json on what json.Marshal
// writes and on the JSON it never writes but a parser must take.
func TestParseJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.0`, `1e2`, `-1.5E-3`, `9223372036854775807`, `9223372036854775808`,
		`-9223372036854775808`, `-9223372036854775809`, `123456789012345678901234567890`, `1e308`, `true`, `false`, `null`,
		`{"a":1,"b":[1,2,{"c":null}],"d":"x"}`, `{"a":1,"a":2}`, ` { "a" : [ 1 , 2 ] } `,
		`"\u003chtml\u003e \u0026 \u2028\u2029"`, `"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`,
		`"\ud83dx"`, `"\ud83d\u0041"`, "\"\xff\xfe\"", "\"a\xc3\"", "\"é ü 日本\"", "\"\x7f\"",
		// Invalid: both refuse.
		``, `{`, `[1,]`, `{"a"}`, `{"a":}`, `01`, `1.`, `.5`, `1e`, `-`, `"\x"`, `"\u12"`, "\"\n\"", `tru`, `nul`, `[1 2]`, `{"a":1,}`,
		`1 2`, `{} x`, `1e400`,
	}
	for _, c := range cases {
		for _, exact := range []bool{false, true} {
			compareParse(t, []byte(c), exact)
		}
	}
	// encoding/json's nesting limit: 10,000 objects or arrays in one
	// another, a scalar inside not counted.
	for _, n := range []int{9999, 10000, 10001} {
		compareParse(t, []byte(strings.Repeat("[", n)+strings.Repeat("]", n)), true)
		compareParse(t, []byte(strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n)), true)
		compareParse(t, []byte(strings.Repeat(`[{"a":`, n/2)+"[]"+strings.Repeat("}]", n/2)), true)
	}
	big := map[string]any{"s": strings.Repeat("x\n\"é\u2028", 1000), "n": []any{math.MaxInt64, -1.25, 1e21, 0.1}, "m": map[string]any{"<>&": true}}
	raw, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	compareParse(t, raw, true)
	compareParse(t, raw, false)
}

func compareParse(t *testing.T, data []byte, exact bool) {
	t.Helper()
	want, werr := decodeStd(data, exact)
	got, gerr := parseJSON(data, exact)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q (exact %v): encoding/json says %v, parseJSON %v", data, exact, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q (exact %v): encoding/json gives %#v, parseJSON %#v", data, exact, want, got)
	}
}

// FuzzParseJSON compares parseJSON with encoding/json on any input.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",null,true,{"c":-1.5e3}]}`, `"\ud83d\ude00\u00e9"`, "\"\xff\"", `[1e400]`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareParse(t, data, true)
		compareParse(t, data, false)
	})
}
