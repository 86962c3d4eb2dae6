package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/policies"
)

func newExplainCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "explain [check-id]",
		Short: "Explain a policy check or a configuration rule: what it enforces, why, and how to comply",
		Long: `explain prints what a built-in policy check enforces, why, the standard it
comes from, how to comply, and a passing and a failing CUE example; or, for
a configuration rule (pipec/config/...), what it is about, how to fix it
and whether a waiver can accept its findings. Without an id it lists every
check and rule.`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			ids, _ := checkIDs()
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			checks, err := allChecks()
			if err != nil {
				return &exitError{code: ExitEval, msg: err.Error()}
			}
			if len(args) == 0 {
				for _, c := range checks {
					fmt.Fprintf(stdout, "%-48s %-5s %s\n", c.ID, c.Severity, c.Title)
				}
				for _, r := range compiler.Rules() {
					fmt.Fprintf(stdout, "%-48s %-5s %s\n", r.ID, r.Severity.Level(), r.Title)
				}
				return nil
			}
			id := args[0]
			if !strings.HasPrefix(id, "pipec/") {
				id = "pipec/" + id
			}
			if r, ok := compiler.RuleOf(id); ok {
				waivable := "a warning or note: a waiver can accept it"
				switch {
				case !strings.HasPrefix(r.ID, diag.ConfigPrefix):
					waivable = "a finding about a waiver"
				case r.Severity == diag.Error:
					waivable = "an error: the objects would be invalid, so no waiver accepts it"
				}
				fmt.Fprintf(stdout, "%s\n%s\n\nSeverity:  %s (%s)\n\nFix:\n  %s\n", r.ID, r.Title, r.Severity.Level(), waivable, r.Fix)
				return nil
			}
			i := slices.IndexFunc(checks, func(c *policies.Check) bool { return c.ID == id })
			if i < 0 {
				ids, _ := checkIDs()
				msg := fmt.Sprintf("unknown check %q; `pipec explain` lists them", args[0])
				i := slices.IndexFunc(ids, func(known string) bool {
					return strings.HasSuffix(known, "/"+strings.TrimPrefix(args[0], "pipec/"))
				})
				switch s := diag.Suggest(id, ids); {
				case i >= 0:
					msg += fmt.Sprintf("; did you mean %s?", ids[i])
				case s != "":
					msg += fmt.Sprintf("; did you mean %s?", s)
				}
				return &exitError{code: ExitEval, msg: msg}
			}
			c := checks[i]
			fmt.Fprintf(stdout, "%s\n%s\n\n", c.ID, c.Title)
			fmt.Fprintf(stdout, "Severity:  %s\nCategory:  %s\nStandard:  %s\n\n", c.Severity, c.Category, c.Standard)
			fmt.Fprintf(stdout, "Why:\n  %s\n\nFix:\n  %s\n\n", c.Why, c.Fix)
			pass, fail := c.ExampleHeadings()
			fmt.Fprintf(stdout, "%s:\n%s\n\n%s:\n%s\n", pass, indent(c.Examples.Pass), fail, indent(c.Examples.Fail))
			return nil
		},
	}
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// allChecks lists the built-in checks, sorted by id.
func allChecks() ([]*policies.Check, error) {
	packs, err := policies.BuiltinPacks()
	if err != nil {
		return nil, err
	}
	var out []*policies.Check
	for _, p := range packs {
		out = append(out, p.Checks...)
	}
	slices.SortFunc(out, func(a, b *policies.Check) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// checkIDs lists the ids explain knows: the built-in checks' and the
// compiler's rules'.
func checkIDs() ([]string, error) {
	checks, err := allChecks()
	var ids []string
	for _, c := range checks {
		ids = append(ids, c.ID)
	}
	for _, r := range compiler.Rules() {
		ids = append(ids, r.ID)
	}
	return ids, err
}
