package cli

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/schema"
)

func newSchemaCmd(stdout, stderr io.Writer) *cobra.Command {
	var format, outDir string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print or export pipec's configuration schema, as CUE or as JSON Schema",
		Long: `schema prints the schema every configuration is unified with.

  --format cue          the CUE files (the default), each under a
                        "// pipec.dev/schema: <file>" header
  --format jsonschema   #Config as a JSON Schema (draft 2020-12), for editors
                        such as VS Code's YAML and JSON support

With -o DIR the files are written into DIR instead: the CUE files under their
names, or config.schema.json.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return runSchema(format, outDir, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&format, "format", "cue", "cue or jsonschema")
	cmd.Flags().StringVarP(&outDir, "output-dir", "o", "", "write the files into `DIR`")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"cue", "jsonschema"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runSchema(format, outDir string, stdout, stderr io.Writer) error {
	files := map[string][]byte{}
	var names []string
	switch format {
	case "cue":
		var err error
		if files, names, err = compiler.SchemaFiles(); err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
	case "jsonschema":
		data, err := compiler.ConfigJSONSchema()
		if err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
		files["config.schema.json"], names = append(data, '\n'), []string{"config.schema.json"}
	default:
		return usageError("unknown --format %q; expected cue or jsonschema", format)
	}
	if outDir != "" {
		for _, n := range names {
			if err := render.WriteFile(filepath.Join(outDir, n), files[n]); err != nil {
				return &exitError{code: ExitEval, msg: err.Error()}
			}
		}
		fmt.Fprintf(stderr, "pipec: %s: %d files written\n", outDir, len(names))
		return nil
	}
	var buf bytes.Buffer
	for i, n := range names {
		if format == "cue" {
			if i > 0 {
				buf.WriteByte('\n')
			}
			fmt.Fprintf(&buf, "// %s: %s\n", schema.ImportPath, n)
		}
		buf.Write(files[n])
	}
	_, err := stdout.Write(buf.Bytes())
	return err
}
