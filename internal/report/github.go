package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pipec/pipec/diag"
)

// escapeData and escapeProperty escape GitHub workflow command values.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeGitHub writes workflow commands that annotate the CUE lines of a
// pull request: ::error file=x.cue,line=N,col=M,title=ID::message.
func (r *Report) writeGitHub(w io.Writer) error {
	for _, f := range r.Findings {
		cmd := "notice"
		switch f.Severity {
		case diag.Error:
			cmd = "error"
		case diag.Warning:
			cmd = "warning"
		}
		var props []string
		if f.Pos.IsValid() {
			props = append(props,
				"file="+escapeProperty(filepath.ToSlash(f.Pos.File)),
				fmt.Sprintf("line=%d", f.Pos.Line),
				fmt.Sprintf("col=%d", f.Pos.Col))
		}
		props = append(props, "title="+escapeProperty(ruleID(f)))
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(message(f))); err != nil {
			return err
		}
	}
	return nil
}
