// Command gen writes a generated monorepo configuration for pipec's scale
// benchmark (bench/run.sh): see benchgen.Monorepo.
//
//	go run ./bench/gen -n 200 -o .cache/bench/mono-200
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
	out := flag.String("o", "", "directory to write pipec.cue into")
	flag.Parse()
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: gen -n N -o DIR")
		os.Exit(2)
	}
	err := os.MkdirAll(*out, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(*out, "pipec.cue"), []byte(benchgen.Monorepo(*n)), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
