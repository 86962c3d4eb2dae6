package integrations

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPreCommit runs the hooks of .pre-commit-hooks.yaml with the real
// pre-commit, as a user's repository would: the README's
// .pre-commit-config.yaml pointing at this repository (a commit of the
// working tree), `pre-commit install`, then `git commit`. pipec-vet passes
// a good configuration and stops a bad one at its CUE line; pipec-build
// regenerates the committed manifests and stops the commit when they
// changed. pre-commit's environment (pipec, built by `go install ./...`)
// is kept in .cache/pre-commit, keyed by the commit, so an unchanged tree
// builds it once.
func TestPreCommit(t *testing.T) {
	preCommit := clientBin(t, "pre-commit")
	src := source(t)

	if out, err := exec.Command(preCommit, "validate-manifest", filepath.Join(root(t), ".pre-commit-hooks.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("pre-commit validate-manifest .pre-commit-hooks.yaml: %v\n%s", err, out)
	}

	config := readmeBlock(t, "**pre-commit**", "yaml")
	for _, want := range []string{"repo: https://github.com/pipec/pipec\n", "rev: v0.1.0\n", "id: pipec-vet", "id: pipec-build"} {
		if !strings.Contains(config, want) {
			t.Fatalf("the README's .pre-commit-config.yaml has no %q:\n%s", want, config)
		}
	}
	config = strings.NewReplacer("https://github.com/pipec/pipec\n", src.Repo+"\n", "rev: v0.1.0\n", "rev: "+src.Rev+"\n").Replace(config)

	repo := t.TempDir()
	home := t.TempDir()
	env := clientEnv(t, home)
	env = setEnv(env, "PRE_COMMIT_HOME", cacheDir(t, "pre-commit"))
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = repo, env
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s %s\n%s", filepath.Base(name), strings.Join(args, " "), out)
		return string(out), err
	}
	must := func(name string, args ...string) string {
		t.Helper()
		out, err := run(name, args...)
		if err != nil {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return out
	}
	commit := func(msg string) (string, error) {
		t.Helper()
		start := time.Now()
		out, err := run("git", "commit", "-m", msg)
		t.Logf("git commit with the hooks took %s", time.Since(start).Round(time.Millisecond))
		return out, err
	}

	must("git", "init", "-q", "-b", "main")
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(repo, "ci"))
	writeFile(t, repo, ".pre-commit-config.yaml", config)
	writeFile(t, repo, "README.md", "# service\n")
	must(preCommit, "install")
	// Build the hook environment before the first commit, so that its
	// cost shows apart (minutes the first time; cached after).
	start := time.Now()
	must(preCommit, "install-hooks")
	t.Logf("pre-commit install-hooks took %s", time.Since(start).Round(time.Second))
	must("git", "add", "-A")

	// The first commit: the configuration is good, but the manifests are
	// not generated yet: pipec-build writes them and stops the commit.
	out, err := commit("ci")
	if err == nil {
		t.Fatal("the first commit went through although pipec-build generated deploy/")
	}
	for _, want := range []string{"pipec vet", "Passed", "pipec build", "Failed", "deploy was out of date and has been regenerated", "deploy/ci/pipeline-go-service.yaml: regenerated"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first commit's output has no %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "deploy", "ci", "pipeline-go-service.yaml")); err != nil {
		t.Fatalf("pipec-build did not write the manifests: %v", err)
	}
	if _, err := run("git", "rev-parse", "--verify", "HEAD"); err == nil {
		t.Fatal("a commit was made although a hook failed")
	}

	// Staging what it generated lets the commit through.
	must("git", "add", "deploy")
	if _, err := commit("ci and its manifests"); err != nil {
		t.Fatal("the commit with the generated manifests staged was refused")
	}

	// A mistake stops the commit at its CUE line.
	appendFile(t, repo, "ci/pipec.cue", badConfig)
	line := badLine(t, filepath.Join(repo, "ci"))
	must("git", "add", "ci")
	out, err = commit("break it")
	if err == nil {
		t.Fatal("a commit with a configuration error went through")
	}
	pos := fmt.Sprintf("ci/pipec.cue:%d:48: pipelines.\"go-service\".tasks.lint.timeout: deny pipec/config/cue: invalid value \"ten minutes\"", line)
	if !strings.Contains(out, pos) {
		t.Errorf("pipec-vet did not report the error at %s", pos)
	}

	// A change to what is generated: the file that changed is named, and
	// the commit goes through once it is staged.
	must("git", "reset", "-q")
	must("git", "checkout", "--", "ci")
	appendFile(t, repo, "ci/pipec.cue", "\npipelines: \"go-service\": tasks: lint: retries: 2\n")
	must("git", "add", "ci")
	out, err = commit("retry lint")
	if err == nil {
		t.Fatal("a commit whose manifests are stale went through")
	}
	if !strings.Contains(out, "deploy/ci/pipeline-go-service.yaml: regenerated") {
		t.Error("pipec-build did not name the regenerated manifest")
	}
	if diff := must("git", "diff", "--stat"); !strings.Contains(diff, "deploy/ci/pipeline-go-service.yaml") {
		t.Errorf("the regenerated manifest is not changed in the work tree: %s", diff)
	}
	must("git", "add", "deploy")
	if _, err := commit("retry lint, manifests"); err != nil {
		t.Fatal("the commit with the regenerated manifest was refused")
	}

	// A commit that touches no CUE file does not run pipec.
	appendFile(t, repo, "README.md", "more\n")
	must("git", "add", "README.md")
	out, err = commit("docs")
	if err != nil {
		t.Fatal("a commit without CUE changes was refused")
	}
	if !strings.Contains(out, "(no files to check)Skipped") {
		t.Error("the hooks ran on a commit without CUE changes")
	}

	// Environments of earlier revisions are garbage once unused.
	_, _ = run(preCommit, "gc")
}
