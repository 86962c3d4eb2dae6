// Package report turns findings into the formats CI systems read: text,
// JSON (with a schema version), SARIF 2.1.0 (with rule metadata), GitHub
// workflow annotations, JUnit XML and a Markdown summary. Every format
// carries the same findings; none of them decides the exit code.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/policies"
)

// SchemaVersion versions the JSON report.
const SchemaVersion = "pipec.dev/report/v1"

// Report is everything a run found.
type Report struct {
	// Tool and Version name the producer.
	Tool    string
	Version string
	// Target is the configuration directory.
	Target   string
	Findings diag.List
	// Checks are the policy checks that ran (for rule metadata).
	Checks     []*policies.Check
	Waivers    []policies.WaiverStatus
	Suppressed []policies.Suppressed
	// NotEvaluated says the configuration could not be evaluated (a
	// syntax or load error): Findings say why, and there is no verdict.
	NotEvaluated bool
}

// Counts counts findings by level.
type Counts struct {
	Deny int `json:"deny"`
	Warn int `json:"warn"`
	Info int `json:"info"`
}

// Counts counts the findings by level.
func (r *Report) Counts() Counts {
	var c Counts
	for _, f := range r.Findings {
		switch f.Severity {
		case diag.Error:
			c.Deny++
		case diag.Warning:
			c.Warn++
		default:
			c.Info++
		}
	}
	return c
}

// Format is an output format.
type Format string

// Formats.
const (
	Text     Format = "text"
	JSON     Format = "json"
	SARIF    Format = "sarif"
	GitHub   Format = "github"
	JUnit    Format = "junit"
	Markdown Format = "markdown"
)

// Formats lists the formats.
var Formats = []Format{Text, JSON, SARIF, GitHub, JUnit, Markdown}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(s))
	if slices.Contains(Formats, f) {
		return f, nil
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q; expected %s or %s", s, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// Write writes the report in format f.
func (r *Report) Write(w io.Writer, f Format) error {
	switch f {
	case JSON:
		return r.writeJSON(w)
	case SARIF:
		return r.writeSARIF(w)
	case GitHub:
		return r.writeGitHub(w)
	case JUnit:
		return r.writeJUnit(w)
	case Markdown:
		return r.writeMarkdown(w)
	}
	return r.writeText(w)
}

// ruleID is the id a finding is reported under: its check, or
// pipec/config/<checker> for configuration errors.
func ruleID(f diag.Diagnostic) string {
	if f.ID != "" {
		return f.ID
	}
	src := f.Source
	if src == "" {
		src = "pipec"
	}
	return diag.ConfigPrefix + src
}

func (r *Report) writeText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	for _, s := range r.Waivers {
		scope := ""
		if s.Scope != "" {
			scope = " at " + s.Scope
		}
		fmt.Fprintf(w, "%s: waiver %s%s (%s, until %s): %s, %d suppressed\n", s.Where, s.Check, scope, s.Reason, s.Expires, s.Status, s.Suppressed)
	}
	if len(r.Findings)+len(r.Waivers) == 0 {
		return nil // a clean run is silent
	}
	if r.NotEvaluated {
		_, err := fmt.Fprintf(w, "pipec: could not evaluate the configuration (%s)\n", plural(len(r.Findings), "error"))
		return err
	}
	c := r.Counts()
	_, err := fmt.Fprintf(w, "pipec: %d deny, %d warn, %d info, %d waived\n", c.Deny, c.Warn, c.Info, len(r.Suppressed))
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
