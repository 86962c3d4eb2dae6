package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newVetCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts checkOptions
	var noCache bool
	cmd := &cobra.Command{
		Use:   "vet [dir]",
		Short: "Check the configuration in dir and its policy packs, without writing anything",
		Long: `vet checks the CUE configuration in dir (default ".") against pipec's schema,
its semantic and cross-object checks, Tekton's, Tekton Triggers' and Argo
CD's validation of every generated object, and the policy packs the
environments use (baseline, restricted, or your own), with waivers.

Findings go to stderr as text, or to files and stdout in the formats
--output asks for (json, sarif, github, junit); the format never changes the
exit code.

Exit codes: 0 valid (findings below --fail-on allowed), 1 configuration
errors or policy findings at or above --fail-on, 2 could not evaluate.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := dirArg(args)
			outs, threshold, err := opts.parse(false)
			if err != nil {
				return err
			}
			ctx := withMemo(withProgress(cmd.Context(), stderr), noCache)
			return cached(cmd, dir, writesFiles(outs), noCache, stdout, stderr, func(stdout, stderr io.Writer) error {
				res, code, err := check(ctx, dir, opts, outs, threshold, stdout, stderr)
				if err != nil {
					return err
				}
				if code != ExitOK {
					return &exitError{code: code}
				}
				fmt.Fprintf(stderr, "pipec: %s: %s, %s: %d resources\n", dir,
					plural(len(res.Plan.Pipelines), "pipeline"), plural(len(res.Plan.Tasks), "library task"), len(res.Objects))
				return nil
			})
		},
	}
	opts.register(cmd.Flags())
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "evaluate even if the configuration is unchanged since a cached run")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"deny", "warn", "never"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
