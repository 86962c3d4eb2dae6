package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/internal/importer"
	"github.com/pipec/pipec/render"
)

func newImportCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var out, pkg string
	var allowPartial bool
	cmd := &cobra.Command{
		Use:   "import [file.yaml ...]",
		Short: "Turn Tekton Task and Pipeline YAML into pipec CUE",
		Long: `import reads Tekton Tasks and Pipelines (tekton.dev/v1 or v1beta1; files
or "-" for stdin, several documents per file) and prints pipec CUE: Tasks
become entries of the task library, Pipelines become pipelines that use
them. With -o the CUE is written to a file.

Fields pipec cannot express (sidecars, volumes, step templates, StepActions,
remote task resolvers, CEL when expressions, ...) are listed on stderr with
their YAML path, and import exits 1 without writing, unless
--allow-partial is given. Other kinds of documents are skipped and listed.

After importing, run pipec vet: pipec requires pinned images and a
restricted security context, which imported tasks may not have yet.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(args, out, pkg, allowPartial, stdin, stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the CUE to `FILE` instead of stdout")
	cmd.Flags().StringVar(&pkg, "package", "ci", "the CUE package name")
	cmd.Flags().BoolVar(&allowPartial, "allow-partial", false, "write the CUE even when some fields could not be imported")
	return cmd
}

func runImport(args []string, out, pkg string, allowPartial bool, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"-"}
	}
	var readers []io.Reader
	for _, a := range args {
		if a == "-" {
			readers = append(readers, stdin)
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
		defer f.Close()
		readers = append(readers, f, strings.NewReader("\n---\n"))
	}
	res, err := importer.Import(io.MultiReader(readers...), pkg)
	if err != nil {
		return &exitError{code: ExitEval, msg: fmt.Sprintf("import: %v", err)}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "pipec: skipped %s (import Tasks and Pipelines)\n", s)
	}
	for _, i := range res.Issues {
		fmt.Fprintf(stderr, "pipec: %s\n", i)
	}
	if len(res.Issues) > 0 && !allowPartial {
		return &exitError{code: ExitFindings, msg: fmt.Sprintf("%d fields could not be imported; nothing written (--allow-partial writes the rest)", len(res.Issues))}
	}
	if out == "" {
		_, err := stdout.Write(res.CUE)
		return err
	}
	if err := render.WriteFile(out, res.CUE); err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	fmt.Fprintf(stderr, "pipec: wrote %s: %d tasks, %d pipelines; next: pipec vet\n", out, len(res.Tasks), len(res.Pipelines))
	return nil
}
