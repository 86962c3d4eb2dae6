package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/internal/report"
	"github.com/pipec/pipec/render"
)

// checkOptions are the flags vet and build share: report outputs, the
// exit-code threshold and the date waivers are checked against.
type checkOptions struct {
	outputs []string
	failOn  string
	date    string
}

func (o *checkOptions) register(f *pflag.FlagSet) {
	f.StringArrayVar(&o.outputs, "output", nil, "report `FORMAT[=FILE]`: text, json, sarif, github, junit or markdown; repeatable (default text on stderr)")
	f.StringVar(&o.failOn, "fail-on", "deny", "policy findings that fail the run: deny, warn or never")
	f.StringVar(&o.date, "date", "", "the date waivers are checked against, YYYY-MM-DD (default today, UTC)")
}

type output struct {
	format report.Format
	file   string
}

// parse validates the flags.
func (o *checkOptions) parse(dataOnStdout bool) ([]output, diag.Severity, error) {
	var outs []output
	for _, s := range o.outputs {
		name, file, _ := strings.Cut(s, "=")
		f, err := report.ParseFormat(name)
		if err != nil {
			return nil, 0, usageError("%v", err)
		}
		if file == "" && f != report.Text && dataOnStdout {
			return nil, 0, usageError("--output %s needs a file when manifests go to stdout: --output %s=<file>", f, f)
		}
		outs = append(outs, output{format: f, file: file})
	}
	if len(outs) == 0 {
		outs = []output{{format: report.Text}}
	}
	threshold, err := report.ParseFailOn(o.failOn)
	if err != nil {
		return nil, 0, usageError("unknown --fail-on %q; expected deny, warn or never", o.failOn)
	}
	if o.date != "" {
		if _, err := time.Parse(time.DateOnly, o.date); err != nil {
			return nil, 0, usageError("invalid --date %q; expected YYYY-MM-DD", o.date)
		}
	}
	return outs, threshold, nil
}

// check compiles dir with policies and writes the reports. It returns the
// result and the exit code the findings call for: 2 if the configuration
// could not be evaluated, 1 for configuration errors or policy findings at
// or above the threshold, else 0. The output formats never change it.
func check(ctx context.Context, dir string, opts checkOptions, outs []output, threshold diag.Severity, stdout, stderr io.Writer) (*compiler.Result, int, error) {
	res, err := buildWithProgress(ctx, compiler.Options{Dir: dir, Policies: true, Today: opts.date})
	rep, code, err := report.FromBuild(res, err, threshold)
	if err != nil {
		return nil, ExitEval, &exitError{code: ExitEval, msg: err.Error()}
	}
	rep.Tool, rep.Version, rep.Target = "pipec", versionString(), dir
	for _, o := range outs {
		if err := writeOutput(rep, o, stdout, stderr); err != nil {
			return nil, ExitEval, &exitError{code: ExitEval, msg: err.Error()}
		}
	}
	if code == ExitEval {
		return nil, code, &exitError{code: code}
	}
	return res, code, nil
}

func writeOutput(rep *report.Report, o output, stdout, stderr io.Writer) error {
	if o.file == "" {
		w := stdout
		if o.format == report.Text {
			w = stderr
		}
		return rep.Write(w, o.format)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, o.format); err != nil {
		return err
	}
	if err := render.WriteFile(o.file, buf.Bytes()); err != nil {
		return fmt.Errorf("writing the %s report: %w", o.format, err)
	}
	return nil
}

// writesFiles reports whether any report goes to a file.
func writesFiles(outs []output) bool {
	for _, o := range outs {
		if o.file != "" {
			return true
		}
	}
	return false
}
