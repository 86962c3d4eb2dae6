package integrations

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pipec/pipec/internal/testing/kubetest"
)

// root is the repository's root.
func root(t *testing.T) string {
	t.Helper()
	r, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cacheDir is a directory under the repository's .cache that persists
// between test runs.
func cacheDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(root(t), ".cache", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// clientBin is a program hack/ci-clients.sh installs: on PATH, or from npm
// in .cache/ci-clients.
func clientBin(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(root(t), ".cache", "ci-clients", "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run hack/ci-clients.sh", name)
	}
	return p
}

// nodeModules is where hack/ci-clients.sh installed the npm clients.
func nodeModules(t *testing.T) string {
	t.Helper()
	clientBin(t, "gitlab-ci-local")
	return filepath.Join(root(t), ".cache", "ci-clients", "node_modules")
}

// snapshot is the working tree as a commit: what a user would get from
// this repository at the change under test, tracked and new files alike.
type snapshot struct {
	// Repo is a git repository (bare) whose main branch is the commit.
	Repo string
	// Rev is the commit. It depends on the content only.
	Rev string
	// Files are the paths in the commit, slash-separated.
	Files []string
	// Tag is a tag of the commit, as a release would have.
	Tag string
}

var (
	snapOnce sync.Once
	snap     *snapshot
	snapErr  error
)

// source returns the snapshot of the working tree, made once per test
// binary, in .cache/integrations so that clients that cache by revision
// (pre-commit) keep their environments between runs.
func source(t *testing.T) *snapshot {
	t.Helper()
	r := root(t)
	dir := cacheDir(t, "integrations")
	snapOnce.Do(func() { snap, snapErr = takeSnapshot(r, dir) })
	if snapErr != nil {
		t.Fatal(snapErr)
	}
	return snap
}

func takeSnapshot(root, dir string) (*snapshot, error) {
	s := &snapshot{Repo: filepath.Join(dir, "pipec.git"), Tag: "v0.1.0"}
	if _, err := os.Stat(s.Repo); err != nil {
		if _, err := gitOut("", "init", "-q", "--bare", "-b", "main", s.Repo); err != nil {
			return nil, err
		}
	}
	// The index lives in the bare repository; the work tree is ours, with
	// our .gitignore: what `git add -A` would commit here.
	git := func(args ...string) (string, error) {
		return gitOut(root, append([]string{"--git-dir=" + s.Repo, "--work-tree=" + root}, args...)...)
	}
	if _, err := git("add", "-A", "."); err != nil {
		return nil, err
	}
	tree, err := git("write-tree")
	if err != nil {
		return nil, err
	}
	// No parent and fixed dates: the same content is the same commit, run
	// after run.
	cmd := exec.Command("git", "--git-dir="+s.Repo, "commit-tree", tree, "-m", "pipec under test")
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=pipec tests", "GIT_AUTHOR_EMAIL=tests@pipec.invalid", "GIT_AUTHOR_DATE=2000-01-01T00:00:00Z",
		"GIT_COMMITTER_NAME=pipec tests", "GIT_COMMITTER_EMAIL=tests@pipec.invalid", "GIT_COMMITTER_DATE=2000-01-01T00:00:00Z")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git commit-tree: %w", err)
	}
	s.Rev = strings.TrimSpace(string(out))
	if _, err := git("update-ref", "refs/heads/main", s.Rev); err != nil {
		return nil, err
	}
	if _, err := git("tag", "-f", s.Tag, s.Rev); err != nil {
		return nil, err
	}
	files, err := git("ls-tree", "-r", "--full-tree", "--name-only", "-z", s.Rev)
	if err != nil {
		return nil, err
	}
	s.Files = strings.Split(strings.TrimRight(files, "\x00"), "\x00")
	return s, nil
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Export writes the snapshot's files into a new directory, as GitHub
// downloads an action: no .git.
func (s *snapshot) Export(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	archive := exec.Command("git", "--git-dir="+s.Repo, "archive", s.Rev)
	extract := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	extract.Stdin = pipe
	if err := extract.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	archive.Stderr = &stderr
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, stderr.String())
	}
	if err := extract.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return dir
}

// clientEnv is the environment a client runs in: a developer's git
// identity, and for building pipec with the go command, the test's Go,
// build cache and module cache (so that building pipec again costs what a
// cached build costs), offline. home replaces $HOME.
func clientEnv(t *testing.T, home string) []string {
	t.Helper()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOROOT"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		env[k] = strings.TrimSpace(string(out))
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	env["PATH"] = filepath.Dir(goBin) + string(os.PathListSeparator) + env["PATH"]
	env["HOME"] = home
	env["GOTOOLCHAIN"] = "local"
	env["GOFLAGS"] = ""
	env["GOPROXY"] = "off"
	env["CI"] = ""
	for _, k := range []string{"GIT_AUTHOR", "GIT_COMMITTER"} {
		env[k+"_NAME"], env[k+"_EMAIL"] = "dev", "dev@example.com"
	}
	// pipec's own caches stay inside the test's home.
	delete(env, "PIPEC_CACHE_DIR")
	delete(env, "PIPEC_NO_CACHE")
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// setEnv returns env with k set to v.
func setEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, k+"=") {
			out = append(out, kv)
		}
	}
	return append(out, k+"="+v)
}

// readmeBlock returns the first fenced code block of language lang after
// the README line that contains marker.
func readmeBlock(t *testing.T, marker, lang string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("README.md has no %q", marker)
	}
	m := regexp.MustCompile("(?s)\n([ \t]*)```" + lang + "\n(.*?)\n[ \t]*```").FindStringSubmatch(text[i:])
	if m == nil {
		t.Fatalf("README.md has no ```%s block after %q", lang, marker)
	}
	// A block in a list item is indented with it.
	lines := strings.Split(m[2], "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, m[1])
	}
	return strings.Join(lines, "\n") + "\n"
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a file under dir, creating its directory.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends to a file under dir.
func appendFile(t *testing.T, dir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(name)), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// badConfig is a mistake appended to examples/go-service's pipec.cue, and
// the position pipec reports it at: the line appended, counted from the
// file's own length.
const badConfig = "\npipelines: \"go-service\": tasks: lint: timeout: \"ten minutes\"\n"

// badLine returns the line of pipec.cue in dir that badConfig was appended
// at.
func badLine(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "pipec.cue"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}

// hash returns a short hex digest of s.
func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}
