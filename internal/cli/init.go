package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pipec/pipec/internal/scaffold"
	"github.com/pipec/pipec/render"
)

func newInitCmd(stderr io.Writer) *cobra.Command {
	var o scaffold.Options
	var force bool
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Write a starting configuration for a kind of repository",
		Long: `init writes pipec.cue, tasks.cue and images.cue into dir (default "."),
a configuration that builds and vets clean: clone, test, and build and push
an image with kaniko, triggered by pushes and pull/merge requests to main.

Templates:
  go        test a Go module (go test -race), build its image
  node      test a Node.js package (npm ci, npm test), build its image
  python    test a Python package (pip, pytest), build its image
  image     build the repository's Dockerfile and push the image
  monorepo  one pipeline per service directory, each triggered only by
            changes to its directory

Existing files are not overwritten unless --force is given.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(dirArg(args), o, force, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Template, "template", "t", "go", "one of "+strings.Join(scaffold.Names(), ", "))
	f.StringVar(&o.Name, "name", "", "the pipeline's name (default: the directory's name)")
	f.StringVar(&o.Namespace, "namespace", "ci", "the namespace the pipelines run in")
	f.StringVar(&o.Forge, "forge", "github", "where the repository lives: github or gitlab")
	f.StringVar(&o.Registry, "registry", "ghcr.io/acme", "the image repository prefix images are pushed under")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	_ = cmd.RegisterFlagCompletionFunc("template", cobra.FixedCompletions(scaffold.Names(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("forge", cobra.FixedCompletions([]string{"github", "gitlab"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runInit(dir string, o scaffold.Options, force bool, stderr io.Writer) error {
	if o.Name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
		base := filepath.Base(abs)
		o.Name = scaffold.NameFrom(base)
		switch {
		case o.Name == "":
			return usageError("cannot name the pipeline after the directory %q; pass --name NAME (lower-case letters, digits and '-')", base)
		case o.Name != base:
			fmt.Fprintf(stderr, "pipec: naming the pipeline %q after the directory %q; pass --name to choose another name\n", o.Name, base)
		}
	}
	files, err := scaffold.Render(o)
	if err != nil {
		return usageError("%v", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if !force {
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				return &exitError{code: ExitEval, msg: fmt.Sprintf("%s already exists; pass --force to overwrite it", filepath.Join(dir, n))}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return &exitError{code: ExitEval, msg: err.Error()}
			}
		}
	}
	for _, n := range names {
		if err := render.WriteFile(filepath.Join(dir, n), files[n]); err != nil {
			return &exitError{code: ExitEval, msg: err.Error()}
		}
	}
	fmt.Fprintf(stderr, "pipec: wrote %s (template %s); next: pipec vet %s\n", strings.Join(names, ", "), o.Template, dir)
	return nil
}
