package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time: -ldflags "-X github.com/pipec/pipec/internal/cli.version=v1.2.3".
var version = ""

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pipec's version and the versions of the APIs it targets",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprint(stdout, versionText())
		},
	}
}

// versionString is pipec's version: set at link time, else the module's.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func versionText() string {
	v := version
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			deps[d.Path] = d.Version
		}
	}
	if v == "" {
		v = "(devel)"
	}
	s := fmt.Sprintf("pipec %s\n", v)
	s += fmt.Sprintf("  go      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, d := range []struct{ name, path string }{
		{"cue", "cuelang.org/go"},
		{"tekton", "github.com/tektoncd/pipeline"},
		{"k8s-api", "k8s.io/api"},
	} {
		if dv, ok := deps[d.path]; ok {
			s += fmt.Sprintf("  %-7s %s\n", d.name, dv)
		}
	}
	return s
}
