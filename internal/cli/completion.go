package cli

import (
	"io"

	"github.com/spf13/cobra"
)

func newCompletionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `completion prints a completion script for your shell. For example:

  source <(pipec completion bash)
  pipec completion zsh > "${fpath[1]}/_pipec"
  pipec completion fish > ~/.config/fish/completions/pipec.fish`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(stdout, true)
			case "zsh":
				return root.GenZshCompletion(stdout)
			default:
				return root.GenFishCompletion(stdout, true)
			}
		},
	}
}
