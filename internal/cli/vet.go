package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newVetCmd(stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "vet [dir]",
		Short: "Check the configuration in dir without writing anything",
		Long: `vet checks the CUE configuration in dir (default ".") against pipec's schema,
its semantic checks and Tekton's validation of every generated resource.

Exit codes: 0 valid (warnings allowed), 1 findings, 2 could not evaluate.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := dirArg(args)
			res, err := compile(cmd.Context(), dir)
			if err != nil {
				return err
			}
			printDiagnostics(stderr, res.Diagnostics)
			fmt.Fprintf(stderr, "pipec: %s: %s, %s: %d resources valid\n", dir,
				plural(len(res.Plan.Pipelines), "pipeline"), plural(len(res.Plan.Tasks), "library task"), len(res.Objects))
			return nil
		},
	}
}
