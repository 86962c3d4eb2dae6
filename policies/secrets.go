package policies

import (
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/pipec/pipec/model"
)

// Text is a string of the configuration, at its CUE path, as decoded:
// every string that can reach a generated object.
type Text struct {
	Path  model.Path
	Value string
}

// Secret is a string of the configuration that holds a credential.
type Secret struct {
	Item
	// Kind says what was found: "a GitHub token", "credentials in a
	// URL", ...
	Kind string `json:"kind"`
}

// tokenFormats are credentials recognisable by their form alone.
var tokenFormats = []struct {
	kind string
	re   *regexp.Regexp
	// in are strings one of which a match holds: the regular expression
	// runs only on a text that has one (most texts have none).
	in []string
}{
	{"a GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`), []string{"gh", "github_pat_"}},
	{"a GitLab token", regexp.MustCompile(`\bgl(pat|dt|rt|ptt|ft|cbt|imt|agent|soat|oas)-[A-Za-z0-9_-]{20,}`), []string{"gl"}},
	{"an AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`), []string{"AKIA", "ASIA", "ABIA", "ACCA"}},
	{"a Slack token", regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`), []string{"xox"}},
	{"a Stripe secret key", regexp.MustCompile(`\b[rs]k_live_[A-Za-z0-9]{20,}`), []string{"k_live_"}},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), []string{"AIza"}},
	{"an npm token", regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`), []string{"npm_"}},
	{"a Docker Hub token", regexp.MustCompile(`\bdckr_pat_[A-Za-z0-9_-]{20,}`), []string{"dckr_pat_"}},
	{"a PyPI token", regexp.MustCompile(`\bpypi-AgE[A-Za-z0-9_-]{50,}`), []string{"pypi-AgE"}},
	{"a private key", regexp.MustCompile(`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`), []string{"PRIVATE KEY"}},
	{"a JSON web token", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`), []string{"eyJ"}},
}

// urlCredentials is a URL with a user and a password: scheme://user:pass@.
var urlCredentials = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'"]+:([^/\s@'"]+)@`)

// secretName matches names of things that hold credentials.
var secretName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|credential|auth)`)

// notASecretName are names that say the value is where a credential is,
// not the credential: a path, a file, a directory, a name, a URL.
var notASecretName = regexp.MustCompile(`(?i)(path|file|dir|directory|name|ref|url|uri|endpoint|host|user(name)?|type|kind|key_?id|mode|header|secret_?name|id)$`)

// assignment is NAME=value or NAME: value inside a longer string (an
// argument, a script line), where NAME says the value is a credential.
var assignment = regexp.MustCompile(`(?i)\b([A-Z0-9_.-]*(passw(or)?d|passwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key)[A-Z0-9_.-]*)\s*[=:]\s*['"]?([^\s'"$;&|]+)`)

// FindSecrets returns the texts that hold a credential: a known token
// format, credentials in a URL, a credential assigned to a name that says
// so, or a random-looking value under such a name. Variable references,
// paths and names are not credentials.
func FindSecrets(texts []Text, envOf func(model.Path) string) []Secret {
	byPath := make(map[model.Path]string, len(texts))
	for _, t := range texts {
		byPath[t.Path] = t.Value
	}
	var out []Secret
	// Stamped-out configurations repeat most of their strings.
	type key struct{ value, name string }
	seen := map[key]string{}
	for _, t := range texts {
		name := lastName(t.Path)
		// {name: ..., value: ...} pairs (Helm parameters, params passed
		// as a list): the value's name is its sibling's.
		if p, ok := strings.CutSuffix(string(t.Path), ".value"); ok {
			if n, ok := byPath[model.Path(p+".name")]; ok {
				name = n
			}
		}
		// A step's environment variable under a secret-like name is the
		// secret-env-literal check's: only a recognisable credential in
		// its value is reported here too.
		if strings.Contains(string(t.Path), ".env.") {
			name = ""
		}
		k := key{t.Value, name}
		kind, ok := seen[k]
		if !ok {
			kind = secretIn(t.Value, name)
			seen[k] = kind
		}
		if kind != "" {
			out = append(out, Secret{Item: item(t.Path, envOf(t.Path)), Kind: kind})
		}
	}
	return out
}

func secretIn(v, name string) string {
	if len(v) < 8 {
		return ""
	}
	for _, f := range tokenFormats {
		if slices.ContainsFunc(f.in, func(lit string) bool { return strings.Contains(v, lit) }) && f.re.MatchString(v) {
			return f.kind
		}
	}
	if strings.Contains(v, "://") && strings.Contains(v, "@") {
		for _, m := range urlCredentials.FindAllStringSubmatch(v, -1) {
			if literal(m[1]) {
				return "credentials in a URL"
			}
		}
	}
	if !strings.ContainsAny(v, "=:") {
		return secretUnder(v, name)
	}
	for _, m := range assignment.FindAllStringSubmatch(v, -1) {
		if literal(m[4]) && len(m[4]) >= 8 && !notASecretName.MatchString(m[1]) && !looksLikePath(m[4]) {
			return "a credential assigned to " + m[1]
		}
	}
	return secretUnder(v, name)
}

// secretUnder is a random-looking value v under a name that says it is a
// credential.
func secretUnder(v, name string) string {
	if secretName.MatchString(name) && !notASecretName.MatchString(name) &&
		literal(v) && !looksLikePath(v) && !strings.ContainsAny(v, " \n") && len(v) >= 16 && entropy(v) >= 3.5 {
		return "a random-looking value under the name " + name
	}
	return ""
}

// literal reports whether s is a value rather than a reference to one:
// Tekton's $(...), a shell's $VAR or ${VAR}, a template's {{ }}.
func literal(s string) bool {
	return s != "" && !strings.Contains(s, "$") && !strings.Contains(s, "{{") && strings.Trim(s, "*xX.<>-_") != ""
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "~/")
}

// lastName is the last field name of a path: the env var, the parameter,
// the annotation.
func lastName(p model.Path) string {
	s := string(p)
	if i := strings.LastIndexAny(s, ".]"); i >= 0 {
		s = s[i+1:]
	}
	return strings.Trim(s, `"`)
}

// entropy is the Shannon entropy of s in bits per character.
func entropy(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}
