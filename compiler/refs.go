package compiler

import (
	"regexp"
	"strings"
)

// ref is a Tekton variable reference such as $(params.url) or
// $(tasks.build.results.IMAGE_DIGEST), split into its parts.
type ref struct {
	// Raw is the whole reference, "$(...)".
	Raw string
	// Kind is the first element: params, tasks, results, workspaces,
	// context, steps, ...
	Kind string
	// Parts are the remaining elements; a bracketed name ["a.b"] is one
	// part.
	Parts []string
}

var refRE = regexp.MustCompile(`\$\(([^()]*)\)`)

// findRefs returns the variable references in s.
func findRefs(s string) []ref {
	if !strings.Contains(s, "$(") {
		return nil
	}
	var out []ref
	for _, m := range refRE.FindAllStringSubmatch(s, -1) {
		parts := splitRef(strings.TrimSpace(m[1]))
		if len(parts) == 0 {
			continue
		}
		out = append(out, ref{Raw: m[0], Kind: parts[0], Parts: parts[1:]})
	}
	return out
}

// splitRef splits "params.a.b", `params["a.b"]` and "params.a[*]" into
// parts: ["params","a","b"], ["params","a.b"], ["params","a"].
func splitRef(s string) []string {
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				cur.WriteString(s[i:])
				i = len(s)
				continue
			}
			inner := s[i+1 : i+end]
			i += end
			if inner == "*" || isDigits(inner) {
				continue
			}
			parts = append(parts, strings.Trim(inner, `"'`))
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return parts
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// paramName returns the declared parameter a params reference names. Param
// names may contain dots, so the longest declared prefix wins; if none is
// declared, the first part is returned with ok false.
func paramName(parts []string, declared func(string) bool) (string, bool) {
	if len(parts) == 0 {
		return "", false
	}
	for n := len(parts); n >= 1; n-- {
		name := strings.Join(parts[:n], ".")
		if declared(name) {
			return name, true
		}
	}
	return parts[0], false
}
