package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/bundle"
	"github.com/pipec/pipec/internal/change"
	"github.com/pipec/pipec/targets"
)

func newDiffCmd(stdout, stderr io.Writer) *cobra.Command {
	var against, format string
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff [dir]",
		Short: "Show what a change to the configuration changes in the generated resources",
		Long: `diff builds the configuration in dir (default ".") and the same
configuration at --against, and prints the difference between the generated
resources: added, removed and changed objects and, for a changed object, each
changed field with its old and new value, grouped by delivery unit (ci,
environments/<env>, argocd) and target. Lists of named things (tasks, steps,
params) are matched by name.

--against is a git revision (default HEAD: what the working tree changes) or
a directory. A revision is read with git archive, in memory; the working
tree is not touched.

--format text (the default), markdown (for a pull-request comment) or json.
With --exit-code, diff exits 1 when there are differences, like git diff.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(withMemo(withProgress(cmd.Context(), stderr), false), dirArg(args), against, format, exitCode, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&against, "against", "HEAD", "git `REVISION` or directory to compare with")
	cmd.Flags().StringVar(&format, "format", "text", "text, markdown or json")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when the generated resources differ")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "markdown", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runDiff(ctx context.Context, dir, against, format string, exitCode bool, stdout, stderr io.Writer) error {
	write := map[string]func(io.Writer, []change.Change) error{
		"text": change.WriteText, "markdown": change.WriteMarkdown,
		"json": func(w io.Writer, cs []change.Change) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"changes": nonNil(cs)})
		},
	}[format]
	if write == nil {
		return usageError("unknown --format %q; expected text, markdown or json", format)
	}
	newObjs, err := objectsOf(ctx, compiler.Options{Dir: dir}, "")
	if err != nil {
		return err
	}
	var oldOpts compiler.Options
	if st, err := os.Stat(against); err == nil && st.IsDir() {
		oldOpts.Dir = against
	} else if oldOpts, err = atRevision(dir, against); err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	oldObjs, err := objectsOf(ctx, oldOpts, against)
	if err != nil {
		return err
	}
	cs, err := change.Compare(oldObjs, newObjs)
	if err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	if err := write(stdout, cs); err != nil {
		return err
	}
	if exitCode && len(cs) > 0 {
		return &exitError{code: ExitFindings}
	}
	return nil
}

func nonNil(cs []change.Change) []change.Change {
	if cs == nil {
		return []change.Change{}
	}
	return cs
}

// objectsOf builds a configuration for its objects; policies are not
// checked (diff shows what would change, vet says whether it may).
func objectsOf(ctx context.Context, opts compiler.Options, side string) ([]targets.Object, error) {
	res, err := buildWithProgress(ctx, opts)
	label := ""
	if side != "" {
		label = fmt.Sprintf(" at %s", side)
	}
	var ee *compiler.EvalError
	switch {
	case errors.As(err, &ee):
		return nil, &exitError{code: ExitEval, diags: ee.Diagnostics, msg: "the configuration" + label + " does not evaluate"}
	case err != nil:
		return nil, &exitError{code: ExitEval, msg: err.Error()}
	case res.Diagnostics.HasErrors():
		return nil, &exitError{code: ExitEval, diags: res.Diagnostics, msg: "the configuration" + label + " has errors; fix them to see a diff"}
	}
	return res.Objects, nil
}

// atRevision returns build options that read dir's CUE module as it is at
// a git revision, through git archive and the compiler's overlay.
func atRevision(dir, rev string) (compiler.Options, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return compiler.Options{}, err
	}
	top, err := git(abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return compiler.Options{}, fmt.Errorf("--against %s: not a directory, and %s is not in a git repository: %v", rev, dir, err)
	}
	top = strings.TrimSpace(top)
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	// Archive the CUE module the configuration belongs to, so that local
	// imports come along; without one, the directory itself.
	root, ok := compiler.ModuleRoot(abs)
	if rel, err := filepath.Rel(top, root); !ok || err != nil || !filepath.IsLocal(rel) {
		root = abs // no module, or one outside the repository
	}
	relRoot, _ := filepath.Rel(top, root)
	relDir, _ := filepath.Rel(top, abs)
	if _, err := git(top, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return compiler.Options{}, fmt.Errorf("--against %s: no such directory or git revision", rev)
	}
	cmd := exec.Command("git", "-C", top, "archive", "--format=tar", rev, "--", filepath.ToSlash(relRoot))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return compiler.Options{}, fmt.Errorf("git archive %s -- %s: %v: %s", rev, relRoot, err, strings.TrimSpace(errb.String()))
	}
	b, err := bundle.Read(&out, bundle.Limits{MaxTotalBytes: 1 << 30})
	if err != nil {
		return compiler.Options{}, fmt.Errorf("%s has no CUE files at %s: %v", relRoot, rev, err)
	}
	base := "/pipec-revision"
	return compiler.Options{Overlay: b.Overlay(base), Dir: path.Join(base, filepath.ToSlash(relDir)), BaseDir: base}, nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
