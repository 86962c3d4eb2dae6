package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pipec/pipec/diag"
)

// writeMarkdown writes a summary for a pull-request comment or a CI job
// summary (GitHub's GITHUB_STEP_SUMMARY): a heading with the verdict and
// the counts, then one table row per finding and per waiver.
func (r *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	c := r.Counts()
	title := r.Tool
	if r.Target != "" {
		title += " " + mdCode(r.Target)
	}
	verdict := "no findings"
	if len(r.Findings) > 0 {
		verdict = fmt.Sprintf("%d deny, %d warn, %d info", c.Deny, c.Warn, c.Info)
	}
	fmt.Fprintf(&b, "### %s: %s", title, verdict)
	if len(r.Suppressed) > 0 {
		fmt.Fprintf(&b, ", %d waived", len(r.Suppressed))
	}
	b.WriteString("\n\n")
	if len(r.Findings) > 0 {
		b.WriteString("| Level | Where | Check | Finding |\n| --- | --- | --- | --- |\n")
		for _, f := range r.Findings {
			where := ""
			if f.Pos.IsValid() {
				where = mdCode(fmt.Sprintf("%s:%d:%d", filepath.ToSlash(f.Pos.File), f.Pos.Line, f.Pos.Col))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdLevel(f.Severity), where, mdCode(ruleID(f)), mdCell(message(f)))
		}
		b.WriteString("\n")
	}
	if len(r.Waivers) > 0 {
		b.WriteString("| Waiver | Where | Reason | Until | Status |\n| --- | --- | --- | --- | --- |\n")
		for _, s := range r.Waivers {
			check := s.Check
			if s.Scope != "" {
				check += " at " + s.Scope
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s, %d suppressed |\n",
				mdCode(check), mdCode(s.Where), mdCell(s.Reason), mdCell(s.Expires), mdCell(s.Status), s.Suppressed)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdLevel(s diag.Severity) string {
	switch s {
	case diag.Error:
		return ":x: deny"
	case diag.Warning:
		return ":warning: warn"
	}
	return ":information_source: info"
}

// mdCell makes s safe inside a table cell: one line, pipes escaped, and
// no HTML or Markdown markup taken from the configuration.
func mdCell(s string) string {
	return strings.NewReplacer(
		"\r\n", "<br>", "\n", "<br>", "\r", "<br>",
		"|", `\|`, `\`, `\\`, "<", "&lt;", ">", "&gt;", "&", "&amp;",
		"*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	).Replace(s)
}

// mdCode writes s as inline code, in a cell.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`).Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
