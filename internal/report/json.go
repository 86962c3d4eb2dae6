package report

import (
	"encoding/json"
	"io"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/policies"
)

type jsonFinding struct {
	ID       string `json:"id"`
	Level    string `json:"level"`
	Category string `json:"category,omitempty"`
	Standard string `json:"standard,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
	Expected string `json:"expected,omitempty"`
	Hint     string `json:"hint,omitempty"`
	// WaivedBy is the reason of the waiver that suppressed it.
	WaivedBy string `json:"waivedBy,omitempty"`
}

func toJSON(f diag.Diagnostic) jsonFinding {
	return jsonFinding{
		ID: ruleID(f), Level: f.Severity.Level(), Category: f.Category, Standard: f.Standard,
		File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Path: string(f.Path),
		Message: f.Message, Expected: f.Expected, Hint: f.Hint,
	}
}

func (r *Report) writeJSON(w io.Writer) error {
	out := struct {
		SchemaVersion string                  `json:"schemaVersion"`
		Tool          string                  `json:"tool"`
		Version       string                  `json:"version"`
		Target        string                  `json:"target"`
		Summary       Counts                  `json:"summary"`
		Findings      []jsonFinding           `json:"findings"`
		Suppressed    []jsonFinding           `json:"suppressed"`
		Waivers       []policies.WaiverStatus `json:"waivers"`
		Checks        []*policies.Check       `json:"checks"`
	}{
		SchemaVersion: SchemaVersion, Tool: r.Tool, Version: r.Version, Target: r.Target, Summary: r.Counts(),
		Findings: []jsonFinding{}, Suppressed: []jsonFinding{}, Waivers: r.Waivers, Checks: r.Checks,
	}
	if out.Waivers == nil {
		out.Waivers = []policies.WaiverStatus{}
	}
	if out.Checks == nil {
		out.Checks = []*policies.Check{}
	}
	for _, f := range r.Findings {
		out.Findings = append(out.Findings, toJSON(f))
	}
	for _, s := range r.Suppressed {
		j := toJSON(s.Finding)
		j.WaivedBy = s.Waiver.Reason
		out.Suppressed = append(out.Suppressed, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
