// Command gen writes a generated monorepo configuration for pipec's scale
// benchmark (bench/run.sh): see benchgen.Monorepo and benchgen.Teams.
//
//	go run ./bench/gen -n 200 -o .cache/bench/mono-200
//	go run ./bench/gen -shape teams -n 1000 -o .cache/bench/teams-1000
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pipec/pipec/internal/testing/benchgen"
)

func main() {
	n := flag.Int("n", 50, "number of services (pipelines and apps)")
	shape := flag.String("shape", "monorepo", "monorepo (one file, each service written out) or teams (a file per team, services stamped by comprehensions)")
	out := flag.String("o", "", "directory to write the CUE files into")
	flag.Parse()
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: gen [-shape monorepo|teams] -n N -o DIR")
		os.Exit(2)
	}
	var files map[string]string
	switch *shape {
	case "monorepo":
		files = map[string]string{"pipec.cue": benchgen.Monorepo(*n)}
	case "teams":
		files = benchgen.Teams(*n)
	default:
		fmt.Fprintf(os.Stderr, "gen: unknown shape %q: want monorepo or teams\n", *shape)
		os.Exit(2)
	}
	if err := write(*out, files); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// write replaces dir's CUE files with files.
func write(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.cue"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
