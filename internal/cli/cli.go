// Package cli is pipec's command-line interface: a thin layer over the
// compiler package that parses flags, prints findings once to stderr and
// data to stdout, and derives the exit code from the findings.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/report"
)

// Exit codes (see report.FromBuild); ExitEval also stands for bad flags.
const (
	ExitOK       = report.ExitOK
	ExitFindings = report.ExitFindings
	ExitEval     = report.ExitEval
)

// Main runs pipec with the process's arguments and standard streams and
// returns the exit code.
func Main() int {
	tuneGC()
	return Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// tuneGC sets the garbage collector for a short-lived process: collect
// when the heap has grown 2.5x (GOGC=150), without a memory limit.
// Measured on generated configurations of up to 5,000 services
// (bench/run.sh): turning collection off, as pipec once did, made runs
// slower (faulting in fresh memory costs more than collecting); a fixed
// soft limit (256 MiB, until it was measured past 500 services) made the
// collector run without pause once a large configuration's live heap
// passed it, 3x the time at 1,000 services; GOGC=200 kept the peak 15% to
// 20% higher than 150 for no time measurable past the noise, and 100 cost
// 10% of the time. The peak stays a small multiple of the live heap, which
// grows with the configuration.
// GOGC or GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(150)
}

// Run runs pipec with args, reading stdin where a command takes "-",
// writing data to stdout and findings and logs to stderr, and returns the
// exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	return reportExit(stderr, err)
}

// exitError carries an exit code and the findings that explain it.
type exitError struct {
	code  int
	diags diag.List
	msg   string
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.diags.Error()
}

// reportExit prints err once and returns the exit code it stands for.
func reportExit(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		printDiagnostics(stderr, ee.diags)
		if ee.msg != "" {
			fmt.Fprintf(stderr, "pipec: %s\n", ee.msg)
		}
		return ee.code
	}
	// Anything else comes from flag parsing or argument validation.
	fmt.Fprintf(stderr, "pipec: %v\nRun 'pipec --help' for usage.\n", err)
	return ExitEval
}

func printDiagnostics(w io.Writer, ds diag.List) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "pipec",
		Short: "Compile CUE CI/CD definitions into validated Tekton resources",
		Long: `pipec loads CI/CD definitions written in CUE, checks them against its
schema and Tekton's own validation, and compiles them into the resources
Kubernetes controllers run.

Exit codes: 0 valid, 1 findings, 2 could not evaluate.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitEval, msg: err.Error() + "\nRun 'pipec --help' for usage."}
	})
	root.AddCommand(
		newBuildCmd(stdout, stderr),
		newVetCmd(stdout, stderr),
		newExplainCmd(stdout),
		newTriggerCmd(stdin, stdout, stderr),
		newSimulateCmd(stdin, stdout),
		newServeCmd(stderr),
		newServeWorkerCmd(stdin, stdout),
		newFmtCmd(stdout, stderr),
		newSchemaCmd(stdout, stderr),
		newInitCmd(stderr),
		newDiffCmd(stdout, stderr),
		newImportCmd(stdin, stdout, stderr),
		newVersionCmd(stdout),
		newCompletionCmd(stdout),
	)
	return root
}

// dirArg returns the configuration directory argument, "." by default.
func dirArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

func completeDirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}
