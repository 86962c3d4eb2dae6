package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"

	"github.com/pipec/pipec/diag"
)

type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string         `xml:"name,attr"`
		ClassName string         `xml:"classname,attr"`
		Failures  []junitFailure `xml:"failure,omitempty"`
		Skipped   *junitSkipped  `xml:"skipped,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

// writeJUnit writes one test case per check (failing with its deny and warn
// findings) and one per configuration rule that found something, so CI
// test views list what passed as well as what failed.
func (r *Report) writeJUnit(w io.Writer) error {
	byID := map[string][]diag.Diagnostic{}
	for _, f := range r.Findings {
		byID[ruleID(f)] = append(byID[ruleID(f)], f)
	}
	suite := junitSuite{Name: "pipec " + r.Target}
	ids := []string{}
	for _, c := range r.Checks {
		ids = append(ids, c.ID)
	}
	for id := range byID {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		tc := junitCase{Name: id, ClassName: "pipec"}
		for _, f := range byID[id] {
			if f.Severity == diag.Info {
				continue
			}
			tc.Failures = append(tc.Failures, junitFailure{
				Message: message(f), Type: f.Severity.Level(),
				Text: fmt.Sprintf("%s\n%s", f.Pos, message(f)),
			})
		}
		if len(tc.Failures) > 0 {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	out := junitSuites{Name: "pipec", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
