// Package diag holds pipec's findings about a configuration: what is wrong,
// where in the CUE sources, what was expected and how to fix it. Findings are
// data; callers derive exit codes and output formats from them.
package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pipec/pipec/model"
)

// Severity orders findings.
type Severity int

// Severities, from least to most severe. For policy findings they read
// info, warn and deny.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "info"
}

// Level names the severity as policy packs do: deny, warn or info.
func (s Severity) Level() string {
	switch s {
	case Error:
		return "deny"
	case Warning:
		return "warn"
	}
	return "info"
}

// ParseLevel parses deny, warn or info.
func ParseLevel(s string) (Severity, bool) {
	switch s {
	case "deny":
		return Error, true
	case "warn":
		return Warning, true
	case "info":
		return Info, true
	}
	return 0, false
}

// Diagnostic is one finding about the configuration.
type Diagnostic struct {
	Severity Severity
	// Pos is where in the CUE sources the offending value was written.
	Pos model.Pos
	// Path is the CUE field path of the offending value.
	Path model.Path
	// Message says what is wrong.
	Message string
	// Expected says what would have been valid.
	Expected string
	// Hint says how to fix it.
	Hint string
	// Source names the checker: "cue", "pipec", "tekton", ...
	Source string
	// ID is the stable id of the policy check that found it
	// (pipec/<pack>/<check>); empty for configuration errors.
	ID string
	// Category and Standard classify policy findings: "pod-security",
	// "PSS restricted", ...
	Category string
	Standard string
}

// String formats d as "file:line:col: path: message; expected ...; hint: ...".
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Pos.IsValid() {
		b.WriteString(d.Pos.String())
		b.WriteString(": ")
	}
	if d.Path != "" {
		b.WriteString(string(d.Path))
		b.WriteString(": ")
	}
	switch {
	case d.ID != "":
		b.WriteString(d.Severity.Level())
		b.WriteString(" ")
		b.WriteString(d.ID)
		b.WriteString(": ")
	case d.Severity == Warning:
		b.WriteString("warning: ")
	case d.Severity == Info:
		b.WriteString("info: ")
	}
	b.WriteString(d.Message)
	if d.Expected != "" {
		b.WriteString("; expected ")
		b.WriteString(d.Expected)
	}
	if d.Hint != "" {
		b.WriteString("; hint: ")
		b.WriteString(d.Hint)
	}
	return b.String()
}

// List is a set of findings.
type List []Diagnostic

// Add appends a finding.
func (l *List) Add(d Diagnostic) { *l = append(*l, d) }

// Errorf appends an error finding at path, positioned by src.
func (l *List) Errorf(src model.SourceMap, path model.Path, format string, args ...any) *Diagnostic {
	*l = append(*l, Diagnostic{Severity: Error, Pos: src.Lookup(path), Path: path, Message: fmt.Sprintf(format, args...), Source: "pipec"})
	return &(*l)[len(*l)-1]
}

// Warnf appends a warning at path, positioned by src.
func (l *List) Warnf(src model.SourceMap, path model.Path, format string, args ...any) *Diagnostic {
	d := l.Errorf(src, path, format, args...)
	d.Severity = Warning
	return d
}

// Infof appends a note at path, positioned by src: something a user
// should know that is not wrong.
func (l *List) Infof(src model.SourceMap, path model.Path, format string, args ...any) *Diagnostic {
	d := l.Errorf(src, path, format, args...)
	d.Severity = Info
	return d
}

// Report appends a finding of rule r at path, positioned by src.
func (l *List) Report(r Rule, src model.SourceMap, path model.Path, format string, args ...any) *Diagnostic {
	d := l.Errorf(src, path, format, args...)
	d.Severity, d.ID = r.Severity, r.ID
	return d
}

// HasErrors reports whether any finding is an error.
func (l List) HasErrors() bool {
	return slices.ContainsFunc(l, func(d Diagnostic) bool { return d.Severity == Error })
}

// Sort orders findings by file, line, column, path and message, and drops
// exact duplicates, so output is stable.
func (l List) Sort() List {
	slices.SortStableFunc(l, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(l)
}

// Error makes a List usable as an error; it prints one finding per line.
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Id prefixes of findings about the configuration itself, as opposed to
// policy checks and waivers: pipec's rules, and targets pipec does not
// ship.
const (
	ConfigPrefix = "pipec/config/"
	TargetPrefix = "pipec/target/"
)

// Configuration reports whether d is about the configuration itself (its
// errors always fail a run), not a policy check's or a waiver's finding.
func (d Diagnostic) Configuration() bool {
	return d.ID == "" || strings.HasPrefix(d.ID, ConfigPrefix) || strings.HasPrefix(d.ID, TargetPrefix)
}

// Rule is a class of configuration finding that is not a policy check:
// one of pipec's own semantic checks, or the schema or an upstream
// validator. Its ID (pipec/config/<name>) is stable: reports, filters and
// waivers use it, and `pipec explain` describes it.
type Rule struct {
	ID       string
	Severity Severity
	// Title says what the rule is about; Fix how to comply.
	Title string
	Fix   string
}
