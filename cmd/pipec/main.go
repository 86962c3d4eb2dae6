// Command pipec compiles CUE CI/CD definitions into validated Kubernetes
// resources. See the README for a tour.
package main

import (
	"os"

	_ "github.com/pipec/pipec/internal/noi18n" // before anything that loads kubectl translations

	"github.com/pipec/pipec/internal/cli"
)

func main() { os.Exit(cli.Main()) }
