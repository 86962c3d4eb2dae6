package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pipec/pipec/internal/cache"
	"github.com/pipec/pipec/targets"
)

// cached runs run, or replays its output from the result cache when
// nothing it depends on changed: pipec's binary, the command and its
// flags, the date waivers are checked against, the working directory and
// every CUE file of the configuration's module. Runs that write files are
// not cached. With PIPEC_CACHE_DEBUG set it says hit or miss on stderr.
func cached(cmd *cobra.Command, dir string, writesFiles bool, noCache bool, stdout, stderr io.Writer, run func(stdout, stderr io.Writer) error) error {
	c := cache.Open()
	if c == nil || noCache || writesFiles {
		return run(stdout, stderr)
	}
	key, err := runKey(cmd, dir)
	if err != nil {
		return run(stdout, stderr)
	}
	debug := os.Getenv("PIPEC_CACHE_DEBUG") != ""
	if e, ok := c.Get(key); ok {
		if debug {
			fmt.Fprintln(stderr, "pipec: cache hit")
		}
		stdout.Write(e.Stdout)
		stderr.Write(e.Stderr)
		if e.Code != ExitOK {
			return &exitError{code: e.Code}
		}
		return nil
	}
	if debug {
		fmt.Fprintln(stderr, "pipec: cache miss")
	}
	var out, errb bytes.Buffer
	code := reportExit(&errb, run(&out, &errb))
	stdout.Write(out.Bytes())
	stderr.Write(errb.Bytes())
	_ = c.Put(key, &cache.Entry{Stdout: out.Bytes(), Stderr: errb.Bytes(), Code: code})
	if code != ExitOK {
		return &exitError{code: code}
	}
	return nil
}

func runKey(cmd *cobra.Command, dir string) (string, error) {
	k := cache.NewKey().Add("pipec result v1", versionString(), cmd.CommandPath(), dir)
	if err := k.AddExecutable(); err != nil {
		return "", err
	}
	cmd.Flags().Visit(func(f *pflag.Flag) { k.Add(f.Name, f.Value.String()) })
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// Waivers expire: today's date is an input unless --date fixes it.
	// Where modules come from is one too.
	k.Add(wd, time.Now().UTC().Format(time.DateOnly), os.Getenv("CUE_REGISTRY"), os.Getenv("CUE_CACHE_DIR"), os.Getenv("CUE_CONFIG_DIR"))
	if err := k.AddInputs(dir); err != nil {
		return "", err
	}
	return k.String(), nil
}

type memoKey struct{}

// withMemo makes builds under ctx skip the upstream validation of the
// objects that passed it in an earlier run of this pipec binary (see
// cache.Memo), unless noCache. buildWithProgress saves what it learnt.
func withMemo(ctx context.Context, noCache bool) context.Context {
	if noCache {
		return ctx
	}
	m := cache.OpenMemo()
	if m == nil {
		return ctx
	}
	return context.WithValue(targets.WithMemo(ctx, m), memoKey{}, m)
}

// saveMemo saves the memo of ctx, if any. A memo that cannot be saved only
// means the next run validates again.
func saveMemo(ctx context.Context) {
	if m, ok := ctx.Value(memoKey{}).(*cache.Memo); ok {
		_ = m.Save()
	}
}
