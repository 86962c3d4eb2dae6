package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/render"
)

type buildOptions struct {
	outDir   string
	format   string
	noCache  bool
	exitCode bool
	check    checkOptions
}

func newBuildCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts buildOptions
	cmd := &cobra.Command{
		Use:   "build [dir]",
		Short: "Compile the configuration in dir and print or write the generated resources",
		Long: `build compiles the CUE configuration in dir (default ".") and prints the
generated resources to stdout as a multi-document YAML stream (or a JSON
List), or with -o writes one file per resource into a directory.

With -o the directory is only changed after the whole build succeeded;
files pipec wrote before and no longer generates are removed, and files pipec
did not write are never touched.

Like vet, build checks the policy packs; with findings at or above
--fail-on (default deny) it writes nothing and exits 1.

With -o and --exit-code, build exits 1 when it changed the directory (a
file written or removed) and names each changed file, as a generator hook
in pre-commit or CI should: the regenerated files are then reviewed and
committed.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			outs, _, err := opts.check.parse(opts.outDir == "")
			if err != nil {
				return err
			}
			if opts.exitCode && opts.outDir == "" {
				return usageError("--exit-code needs -o DIR: it reports whether the directory changed")
			}
			dir := dirArg(args)
			ctx := withMemo(withProgress(cmd.Context(), stderr), opts.noCache)
			return cached(cmd, dir, opts.outDir != "" || writesFiles(outs), opts.noCache, stdout, stderr, func(stdout, stderr io.Writer) error {
				return runBuild(ctx, dir, opts, stdout, stderr)
			})
		},
	}
	cmd.Flags().StringVarP(&opts.outDir, "output-dir", "o", "", "write one file per resource into `DIR` instead of printing them")
	cmd.Flags().StringVar(&opts.format, "format", "yaml", "manifest format: yaml or json")
	cmd.Flags().BoolVar(&opts.noCache, "no-cache", false, "evaluate even if the configuration is unchanged since a cached run")
	cmd.Flags().BoolVar(&opts.exitCode, "exit-code", false, "with -o, exit 1 when a file in DIR was written or removed")
	opts.check.register(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runBuild(ctx context.Context, dir string, opts buildOptions, stdout, stderr io.Writer) error {
	format, err := render.ParseFormat(opts.format)
	if err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	outs, threshold, err := opts.check.parse(opts.outDir == "")
	if err != nil {
		return err
	}
	res, code, err := check(ctx, dir, opts.check, outs, threshold, stdout, stderr)
	if err != nil {
		return err
	}
	if code != ExitOK {
		return &exitError{code: code}
	}
	// Rendered once the policy packs have passed the objects, not while
	// they check them: at 1,000 services that keeps the peak some 100 MiB
	// lower (the packs' input and the rendering's garbage at once) for a
	// few percent of the time. The rendering needs only the objects: the
	// plan, the configuration's CUE and the packs' input are garbage from
	// here. Collected now, the rendering's garbage is collected against
	// what it holds rather than against the policy stage's last goal (at
	// 1,000 services 45 MiB live instead of up to 270; its peak came after
	// that goal's collection, 100 to 150 MiB above the build's, in one run
	// out of three).
	objs := res.Objects
	res = nil
	runtime.GC()
	pending := render.Start(objs, format)
	if opts.outDir == "" {
		return pending.Stream(stdout)
	}
	rep, err := pending.WriteDir(opts.outDir)
	if err != nil {
		return &exitError{code: ExitEval, msg: fmt.Sprintf("writing %s: %v", opts.outDir, err)}
	}
	fmt.Fprintf(stderr, "pipec: %s: %d written, %d unchanged, %d removed\n",
		opts.outDir, len(rep.Written), len(rep.Unchanged), len(rep.Removed))
	if opts.exitCode && len(rep.Written)+len(rep.Removed) > 0 {
		out := filepath.Clean(opts.outDir)
		for _, n := range rep.Written {
			fmt.Fprintf(stderr, "pipec: %s: regenerated\n", filepath.Join(out, filepath.FromSlash(n)))
		}
		for _, n := range rep.Removed {
			fmt.Fprintf(stderr, "pipec: %s: removed, no longer generated\n", filepath.Join(out, filepath.FromSlash(n)))
		}
		return &exitError{code: ExitFindings, msg: fmt.Sprintf("%s was out of date and has been regenerated; review the changes and commit them (git add %s)", out, out)}
	}
	return nil
}
