package cli_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pipec/pipec/internal/cli"
)

// EnvUpdateScripts rewrites the expected output inside the txtar scripts
// (cmp files) instead of failing: PIPEC_UPDATE_SCRIPTS=1 go test ./internal/cli.
const EnvUpdateScripts = "PIPEC_UPDATE_SCRIPTS"

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pipec": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: builds, vet, output
// directories, exit codes, and the error message for each kind of user
// mistake.
func TestScripts(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := filepath.Abs("../../compiler/testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	webhooks, err := filepath.Abs("../../targets/triggers/testdata/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv(EnvUpdateScripts) != "",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			env.Setenv("GOLDEN", golden)
			env.Setenv("WEBHOOKS", webhooks)
			// Each script has its own caches, as a user's checkout has: not
			// one shared under $HOME, which testscript points at /no-home.
			env.Setenv("PIPEC_CACHE_DIR", filepath.Join(env.WorkDir, ".pipec-cache"))
			return nil
		},
	})
}

// cmdExitCode runs a program and requires an exact exit code:
//
//	exitcode 2 pipec vet .
//
// Its stdout and stderr are kept for the next stdout/stderr/cmp commands.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Logf("[stdout]\n%s", ts.ReadFile("stdout"))
		ts.Logf("[stderr]\n%s", ts.ReadFile("stderr"))
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
