// Package scaffold writes a starting pipec configuration for a kind of
// repository (pipec init): a pipeline, a task library and digest-pinned
// images that build and vet clean.
package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"

	"cuelang.org/go/cue/format"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

//go:embed templates
var templates embed.FS

// Template describes one kind of repository.
type Template struct {
	Description, Lang, TestCommand string
}

// Templates are the kinds pipec init knows, by name.
var Templates = map[string]Template{
	"go":       {Description: "Test the Go module, then build and push its image.", Lang: "go", TestCommand: "go test -race -count=1 ./..."},
	"node":     {Description: "Test the Node.js package, then build and push its image.", Lang: "node", TestCommand: "npm ci --no-audit --no-fund && npm test"},
	"python":   {Description: "Test the Python package, then build and push its image.", Lang: "python", TestCommand: "python -m pip install --user -r requirements.txt && python -m pytest -q"},
	"image":    {Description: "Build the repository's Dockerfile and push the image."},
	"monorepo": {Description: "One pipeline per service of a monorepo; each runs only when its directory changed."},
}

// Names lists the templates, sorted.
func Names() []string {
	var ns []string
	for n := range Templates {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// Options are what a scaffold is made of.
type Options struct {
	// Template is a key of Templates.
	Template string
	// Name names the pipeline: a DNS label.
	Name string
	// Namespace is where the pipelines run; default "ci".
	Namespace string
	// Forge is github or gitlab.
	Forge string
	// Registry is the image repository prefix, such as ghcr.io/acme.
	Registry string
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// MaxName is the longest pipeline name a scaffold takes: the names of the
// objects generated from it ("<name>-pull-request", a Trigger) must stay
// within Kubernetes' 63 characters.
const MaxName = 50

// latinLetters are Latin letters that do not decompose into an ASCII
// letter and marks, with the ASCII they are written as.
var latinLetters = strings.NewReplacer(
	"ß", "ss", "ẞ", "ss", "æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe",
	"ø", "o", "Ø", "o", "đ", "d", "Đ", "d", "ð", "d", "Ð", "d",
	"ł", "l", "Ł", "l", "þ", "th", "Þ", "th", "ı", "i", "ħ", "h", "Ħ", "h",
)

// toASCII transliterates Latin letters with diacritics to ASCII: the
// letters of latinLetters, then the rest decomposed (NFD) with the
// combining marks dropped ("Ünïcode" is "Unicode"). Other letters are
// left as they are.
func toASCII(s string) string {
	s = latinLetters.Replace(s)
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if out, _, err := transform.String(t, s); err == nil {
		return out
	}
	return s
}

// NameFrom derives a pipeline name from a directory name: Latin letters
// with diacritics written in ASCII ("Ü" as "u", "ß" as "ss"), lower case,
// each run of characters a name cannot hold ('.', '_', spaces, other
// scripts' letters, ...) turned into one '-', no '-' at either end, at
// most MaxName characters. It returns "" when nothing usable is left
// ("..", "___").
func NameFrom(dir string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(toASCII(dir)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	name := b.String()
	if len(name) > MaxName {
		name = strings.TrimRight(name[:MaxName], "-")
	}
	return name
}

// Render returns the files of a scaffold by name, formatted.
func Render(o Options) (map[string][]byte, error) {
	t, ok := Templates[o.Template]
	if !ok {
		return nil, fmt.Errorf("unknown template %q; expected one of %v", o.Template, Names())
	}
	if !dnsLabel.MatchString(o.Name) || len(o.Name) > MaxName {
		return nil, fmt.Errorf("name %q is not a valid pipeline name; expected lower-case letters, digits and '-', at most %d characters", o.Name, MaxName)
	}
	if o.Namespace == "" {
		o.Namespace = "ci"
	}
	if !dnsLabel.MatchString(o.Namespace) {
		return nil, fmt.Errorf("namespace %q is not a valid namespace name", o.Namespace)
	}
	if o.Forge != "github" && o.Forge != "gitlab" {
		return nil, fmt.Errorf("unknown forge %q; expected github or gitlab", o.Forge)
	}
	out := map[string][]byte{}
	for file, src := range map[string]string{"pipec.cue": "pipeline.cue.tmpl", "tasks.cue": "tasks.cue.tmpl", "images.cue": "images.cue.tmpl"} {
		text, err := templates.ReadFile("templates/" + src)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(src).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, map[string]string{
			"Template": o.Template, "Name": o.Name, "Namespace": o.Namespace, "Forge": o.Forge, "Registry": o.Registry,
			"Description": t.Description, "Lang": t.Lang, "TestCommand": t.TestCommand,
		}); err != nil {
			return nil, err
		}
		formatted, err := format.Source(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("internal error: template %s does not format: %w\n%s", src, err, buf.Bytes())
		}
		out[file] = formatted
	}
	return out, nil
}
