package render

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// tricky are strings the YAML library writes in every style it has, and
// keys it orders otherwise than bytes do.
var tricky = []string{
	"", "a", "A", "_a", "a_b", "a-b", "a.b", "a/b", "a1", "a10", "a9", "a09", "a009", "0", "00", "007", "10", "9", "1.5", "-1", "+1",
	"1e3", "0x1F", "0o17", "1:20", "1_000", ".inf", "-.inf", ".nan", "~", "null", "Null", "true", "True", "yes", "no", "on", "off", "y", "n", "Y", "N", "<<",
	"2024-01-01", "2024-01-01T10:00:00Z", "app.kubernetes.io/name", "pipec.dev/source", "$(params.url)", "$(params.pkgs[*])", "image@sha256:00ff",
	"a: b", "a:b", "a :b", "a #b", "a#b", "#a", "- a", "-a", "? a", "?a", ": a", ",a", "a,b", "[a]", "{a}", "a]", "*a", "&a", "!a", "|a", ">a", "%a", "@a", "`a",
	"'a'", `"a"`, "it's", " a", "a ", "a  b", "a\tb", "a\rb", "\r", "a\nb", "a\n", "\na", "a\n\n", "  a\nb", "---", "...", "--- a", "a\x01", "héllo", "\u2028",
	strings.Repeat("word ", 20), strings.Repeat("x", 100), strings.Repeat("w ", 38) + "end", "100m", "1Gi", "500Mi", "30m", "0.5", "1.0",
	"header.match('X-GitHub-Event', 'pull_request') && body.action in ['opened', 'synchronize', 'reopened'] && body.pull_request.base.ref == 'main'",
	strings.Repeat("ab  cd ", 20) + "x", strings.Repeat("a b", 60), strings.Repeat("k: v ", 30) + "x", strings.Repeat("x ", 100) + "- y", "a" + strings.Repeat(" ", 90) + "b",
	strings.Repeat("verylongwordwithoutspaces", 5) + " " + strings.Repeat("another", 12) + " end",
	"The vulnerabilities left after the ignore file, per severity: critical=N high=N medium=N low=N.",
	"it's: " + strings.Repeat("don't ", 20) + "'", strings.Repeat("a: ", 30) + " ", " " + strings.Repeat("x: y  ", 20), "'" + strings.Repeat("q' ", 40),
	strings.Repeat("a: b", 25) + " x", "k: " + strings.Repeat("y", 76) + " z", "k: " + strings.Repeat("y", 77) + " z", "k: " + strings.Repeat("y", 78) + "  z",
	"#!/bin/sh\nset -eu\n\ngo test ./...\n", "echo a\n  indented\n\n\n", "line with trailing space \nnext", "a\tb\nc", "- x\n- y\n", "|\n>\n", "\n\n",
	"a\n" + strings.Repeat("long line ", 12) + "\nend",
}

func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(10); {
	case depth > 0 && n < 3:
		m := map[string]any{}
		for range r.IntN(5) {
			m[tricky[r.IntN(len(tricky))]] = randomValue(r, depth-1)
		}
		return m
	case depth > 0 && n < 5:
		var l []any
		for range r.IntN(4) {
			l = append(l, randomValue(r, depth-1))
		}
		if l == nil {
			l = []any{}
		}
		return l
	case n == 5:
		return int64(r.IntN(2000) - 1000)
	case n == 6:
		return []any{nil, true, false}[r.IntN(3)]
	case n == 7 && r.IntN(8) == 0:
		return 1.5
	}
	return tricky[r.IntN(len(tricky))]
}

// TestBlockYAML: whatever blockYAML writes is what the YAML library
// writes, on random documents of maps, lists and scalars made of the
// strings and keys the library writes in every style and order; and most
// documents of that kind are blockYAML's to write.
func TestBlockYAML(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	const n = 20000
	for i := range n {
		v := randomValue(r, 5)
		want, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if !blockYAML(&buf, v) {
			continue
		}
		fast++
		if got := buf.String(); got != string(want) && !libraryMayWrite(v, got) {
			t.Fatalf("document %d: blockYAML wrote\n%s\nthe library\n%s", i, got, want)
		}
	}
	if fast < n/10 {
		t.Errorf("blockYAML wrote %d of %d documents; the rest fell back to the library", fast, n)
	}
	t.Logf("blockYAML wrote %d of %d documents", fast, n)
}

// FuzzBlockYAML: for any keys, values and nesting, blockYAML writes what
// the YAML library writes, or leaves it to the library.
func FuzzBlockYAML(f *testing.F) {
	f.Add("a10\x00a9\x00_x\x00B", "v", uint8(3))
	f.Add("app.kubernetes.io/name\x00app.kubernetes.io/part-of", "$(params.x)", uint8(1))
	f.Add("description\x00name", "it's: "+strings.Repeat("don't ", 20)+" x", uint8(3))
	f.Fuzz(func(t *testing.T, keys, value string, shape uint8) {
		m := map[string]any{}
		for _, k := range strings.Split(keys, "\x00") {
			m[k] = value
		}
		var v any = m
		if shape&1 != 0 {
			v = []any{m, value, []any{value, m}}
		}
		if shape&2 != 0 {
			v = map[string]any{value: v, "list": []any{[]any{v}}}
		}
		want, err := yaml.Marshal(v)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if blockYAML(&buf, v) && buf.String() != string(want) && !libraryMayWrite(v, buf.String()) {
			t.Fatalf("blockYAML wrote\n%s\nthe library\n%s", buf.String(), want)
		}
	})
}

// libraryMayWrite reports whether the library writes v as got in some
// run: it orders some sets of keys (numbers among strings) by the order
// in which it meets them, which Go's map iteration changes.
func libraryMayWrite(v any, got string) bool {
	for range 200 {
		if b, _ := yaml.Marshal(v); string(b) == got {
			return true
		}
	}
	return false
}

// TestBlockYAMLBreaksQuoted: blockYAML writes itself, as the library
// does, the long single-quoted strings Tekton objects carry (descriptions
// with ": " or "=" in them), at any depth: they sent every Pipeline to the
// library, half of rendering's CPU.
func TestBlockYAMLBreaksQuoted(t *testing.T) {
	for _, s := range []string{
		"The vulnerabilities left after the ignore file, per severity: critical=N high=N medium=N low=N.",
		"What started the run: push, tag or pull-request (set by pipec's TriggerTemplates), or manual. Only push, tag and manual runs sign and attest the image (generated by pipec from gates).",
		"it's: " + strings.Repeat("don't ", 30) + "'",
		strings.Repeat("a: b  ", 30),
		"k: v",
	} {
		for depth := range 6 {
			var v any = s
			for d := range depth {
				if d%2 == 0 {
					v = map[string]any{"description": v, "name": "x"}
				} else {
					v = []any{v}
				}
			}
			var buf bytes.Buffer
			if !blockYAML(&buf, map[string]any{"spec": v}) {
				t.Fatalf("blockYAML left %q at depth %d to the library", s, depth)
			}
			want, _ := yaml.Marshal(map[string]any{"spec": v})
			if buf.String() != string(want) {
				t.Fatalf("blockYAML wrote\n%s\nthe library\n%s", buf.String(), want)
			}
		}
	}
}
