package cli

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"github.com/spf13/cobra"

	"github.com/pipec/pipec/render"
)

func newFmtCmd(stdout, stderr io.Writer) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [dir]",
		Short: "Format the CUE files under dir as cue fmt does",
		Long: `fmt rewrites the .cue files under dir (default ".", recursively) in CUE's
standard format, byte for byte what cue fmt writes. It skips cue.mod and
directories whose names start with "." or "_", and testdata. Files are
replaced atomically, and only when they change.

With --check nothing is written: fmt lists the files that need formatting on
stdout and exits 1 if there are any, for CI and pre-commit. A file that does
not parse is reported at its position, and fmt exits 2.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFmt(dirArg(args), check, stdout, stderr)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list the files that need formatting and exit 1 if any; write nothing")
	return cmd
}

func runFmt(dir string, check bool, stdout, stderr io.Writer) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (name == "cue.mod" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(name) == ".cue" && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return &exitError{code: ExitEval, msg: err.Error()}
	}
	var unformatted []string
	var bad []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
		syntax, err := parser.ParseFile(f, src, parser.ParseComments)
		if err == nil {
			var out []byte
			if out, err = format.Node(syntax); err == nil {
				if bytes.Equal(out, src) {
					continue
				}
				unformatted = append(unformatted, f)
				if !check {
					if err := render.WriteFile(f, out); err != nil {
						return &exitError{code: ExitEval, msg: err.Error()}
					}
				}
				continue
			}
		}
		for _, e := range errors.Errors(err) {
			pos := e.Position()
			msg, args := e.Msg()
			bad = append(bad, fmt.Sprintf("%s:%d:%d: %s; hint: this is a CUE syntax error; fix it, then run pipec fmt again", pos.Filename(), pos.Line(), pos.Column(), fmt.Sprintf(msg, args...)))
		}
	}
	if check {
		for _, f := range unformatted {
			fmt.Fprintln(stdout, f)
		}
	}
	if len(bad) > 0 {
		return &exitError{code: ExitEval, msg: strings.Join(bad, "\n")}
	}
	if check && len(unformatted) > 0 {
		return &exitError{code: ExitFindings, msg: fmt.Sprintf("%d of %d CUE files need formatting; run pipec fmt", len(unformatted), len(files))}
	}
	return nil
}
