package report

import (
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
)

// SARIF 2.1.0, the parts pipec fills.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		Help                 sarifText      `json:"help"`
		DefaultConfiguration sarifRuleLevel `json:"defaultConfiguration"`
		Properties           map[string]any `json:"properties,omitempty"`
	}
	sarifRuleLevel struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID       string             `json:"ruleId"`
		RuleIndex    int                `json:"ruleIndex"`
		Level        string             `json:"level"`
		Message      sarifText          `json:"message"`
		Locations    []sarifLocation    `json:"locations,omitempty"`
		Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	sarifLogical struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
	}
)

func sarifLevel(s diag.Severity) string {
	switch s {
	case diag.Error:
		return "error"
	case diag.Warning:
		return "warning"
	}
	return "note"
}

func (r *Report) writeSARIF(w io.Writer) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "pipec", Version: r.Version, InformationURI: "https://pipec.dev"}}, Results: []sarifResult{}}
	index := map[string]int{}
	addRule := func(rule sarifRule) {
		if _, ok := index[rule.ID]; ok {
			return
		}
		index[rule.ID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
	}
	for _, c := range r.Checks {
		sev, _ := diag.ParseLevel(c.Severity)
		addRule(sarifRule{
			ID: c.ID, Name: ruleName(c.Name), ShortDescription: sarifText{c.Title}, FullDescription: sarifText{c.Why},
			Help:                 sarifText{c.Fix + "\n\nPasses:\n" + c.Examples.Pass + "\n\nFails:\n" + c.Examples.Fail},
			DefaultConfiguration: sarifRuleLevel{sarifLevel(sev)},
			Properties:           map[string]any{"category": c.Category, "standard": c.Standard, "tags": []string{c.Category, c.Standard}},
		})
	}
	all := append(slices.Clone(r.Findings), suppressedFindings(r)...)
	for _, f := range all {
		id := ruleID(f)
		if _, ok := index[id]; !ok {
			desc, help := f.Message, "See the finding's message and hint."
			if rule, ok := compiler.RuleOf(id); ok {
				desc, help = rule.Title+".", rule.Fix
			}
			addRule(sarifRule{ID: id, Name: ruleName(id[strings.LastIndex(id, "/")+1:]), ShortDescription: sarifText{desc}, FullDescription: sarifText{desc},
				Help: sarifText{help}, DefaultConfiguration: sarifRuleLevel{sarifLevel(f.Severity)}})
		}
	}
	for i, f := range all {
		res := sarifResult{RuleID: ruleID(f), RuleIndex: index[ruleID(f)], Level: sarifLevel(f.Severity), Message: sarifText{message(f)}}
		loc := sarifLocation{}
		if f.Pos.IsValid() {
			loc.PhysicalLocation = &sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: filepath.ToSlash(f.Pos.File)},
				Region:           sarifRegion{StartLine: f.Pos.Line, StartColumn: f.Pos.Col},
			}
		}
		if f.Path != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: string(f.Path), Kind: "member"}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		}
		if i >= len(r.Findings) {
			res.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: r.Suppressed[i-len(r.Findings)].Waiver.Reason}}
		}
		run.Results = append(run.Results, res)
	}
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []sarifRule{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func suppressedFindings(r *Report) diag.List {
	out := make(diag.List, len(r.Suppressed))
	for i, s := range r.Suppressed {
		out[i] = s.Finding
	}
	return out
}

// message is a finding's text with what was expected and the hint.
func message(f diag.Diagnostic) string {
	m := f.Message
	if f.Path != "" {
		m = string(f.Path) + ": " + m
	}
	if f.Expected != "" {
		m += "; expected " + f.Expected
	}
	if f.Hint != "" {
		m += "; hint: " + f.Hint
	}
	return m
}

// ruleName turns "run-as-non-root" into "RunAsNonRoot", as SARIF names go.
func ruleName(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' || r == '/' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
