package integrations

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitLabTemplate runs ci/pipec.gitlab-ci.yml with gitlab-ci-local (a
// local emulation of GitLab's runner, shell executor, each job in a fresh
// build directory with GitLab's cache and artifact handling), included the
// way the README says, from a URL (a server on loopback standing in for
// raw.githubusercontent.com). The first pipeline builds pipec with the
// template's own lines, from a clone of the change under test (tagged as
// the release the README names), fails on a bad configuration with the
// finding at its CUE line, and writes the JUnit report where GitLab reads
// it; the second passes on a good one with pipec from the runner's cache
// (the repository is gone: a cache miss would fail).
func TestGitLabTemplate(t *testing.T) {
	glci := clientBin(t, "gitlab-ci-local")
	src := source(t)

	// raw.githubusercontent.com/pipec/pipec/<ref>/<path>, on loopback.
	srv := httptest.NewServer(http.StripPrefix("/pipec/pipec/v0.1.0/", http.FileServer(http.Dir(root(t)))))
	defer srv.Close()
	include := readmeBlock(t, "**GitLab CI**", "yaml")
	const published = "https://raw.githubusercontent.com/pipec/pipec/v0.1.0/ci/pipec.gitlab-ci.yml"
	if !strings.Contains(include, published) {
		t.Fatalf("the README's GitLab CI example does not include %s:\n%s", published, include)
	}
	include = strings.ReplaceAll(include, "https://raw.githubusercontent.com", srv.URL)

	// The repository the job clones pipec from: the snapshot, at the tag
	// the README's include names.
	if src.Tag != "v0.1.0" {
		t.Fatalf("the snapshot is tagged %s, not the release the README includes", src.Tag)
	}
	repository := "file://" + filepath.Join(t.TempDir(), "pipec.git")
	if out, err := exec.Command("git", "clone", "-q", "--bare", src.Repo, strings.TrimPrefix(repository, "file://")).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	project := t.TempDir()
	if d := os.Getenv("PIPEC_TEST_KEEP"); d != "" {
		project = d
	}
	home := t.TempDir()
	env := clientEnv(t, home)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = project, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	pipeline := func(env []string, args ...string) (string, error) {
		t.Helper()
		args = append([]string{"--force-shell-executor", "--shell-isolation", "--json-schema-validation", "--no-color",
			"--ignore-schema-paths", "#/definitions/image/oneOf/0/minLength",
			"--variable", "PIPEC_REPOSITORY=" + repository}, args...)
		cmd := exec.Command(glci, args...)
		cmd.Dir, cmd.Env = project, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		t.Logf("$ gitlab-ci-local %s\n%s%s", strings.Join(args, " "), stderr.String(), out)
		return string(out), err
	}

	git("init", "-q", "-b", "main")
	git("config", "user.name", "dev")
	git("config", "user.email", "dev@example.com")
	git("remote", "add", "origin", "https://gitlab.example.com/acme/shop.git")
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(project, "ci"))
	appendFile(t, project, "ci/pipec.cue", badConfig)
	line := badLine(t, filepath.Join(project, "ci"))
	// This runner has no container engine: the job runs with the shell
	// executor, on this machine, which has the golang image's tools (Go and
	// git). gitlab-ci-local sets CI_PROJECT_DIR to a container's path for a
	// job with an image even then, so the image is cleared.
	writeFile(t, project, ".gitlab-ci.yml", include+"pipec:vet:\n  image: \"\"\n")
	writeFile(t, project, ".gitignore", ".gitlab-ci-local/\n")
	git("add", "-A")
	git("commit", "-q", "-m", "ci")
	git("update-ref", "refs/remotes/origin/main", "HEAD")
	git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")

	// Which pipelines run the job: the default branch, and merge requests
	// that change a .cue file; not merge requests that do not.
	jobs := func(args ...string) []string {
		t.Helper()
		out, err := pipeline(env, append([]string{"--list-json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var list []struct {
			Name string `json:"name"`
			When string `json:"when"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("gitlab-ci-local --list-json: %v", err)
		}
		var names []string
		for _, j := range list {
			if j.When != "never" {
				names = append(names, j.Name)
			}
		}
		return names
	}
	if got := jobs(); len(got) != 1 || got[0] != "pipec:vet" {
		t.Errorf("a pipeline on the default branch runs %v, want pipec:vet", got)
	}
	git("checkout", "-q", "-b", "docs")
	appendFile(t, project, ".gitignore", "*.tmp\n")
	git("commit", "-q", "-am", "docs only")
	mr := []string{"--variable", "CI_PIPELINE_SOURCE=merge_request_event", "--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
		"--ignore-predefined-vars", "CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_TARGET_BRANCH_NAME"}
	if got := jobs(mr...); len(got) != 0 {
		t.Errorf("a merge request that changes no .cue file runs %v", got)
	}
	git("checkout", "-q", "-b", "tune", "main")
	appendFile(t, project, "ci/pipec.cue", "\n// tuned\n")
	git("commit", "-q", "-am", "tune")
	if got := jobs(mr...); len(got) != 1 || got[0] != "pipec:vet" {
		t.Errorf("a merge request that changes a .cue file runs %v, want pipec:vet", got)
	}
	git("checkout", "-q", "main")

	// A bad configuration: the job installs pipec, fails, and reports.
	out, err := pipeline(env)
	if err == nil {
		t.Error("gitlab-ci-local passed a pipeline with a configuration error")
	}
	pos := fmt.Sprintf("ci/pipec.cue:%d:48: pipelines.\"go-service\".tasks.lint.timeout: deny pipec/config/cue: invalid value \"ten minutes\"", line)
	for _, want := range []string{"FAIL  pipec:vet", pos} {
		if !strings.Contains(out, want) {
			t.Errorf("the job's log has no %q", want)
		}
	}
	suites := readJUnit(t, project)
	if suites.Failures != 1 || !strings.Contains(suites.Text, fmt.Sprintf("ci/pipec.cue:%d:48", line)) {
		t.Errorf("the JUnit report has %d failures, want 1 at ci/pipec.cue:%d:48:\n%s", suites.Failures, line, suites.Text)
	}
	if _, err := os.Stat(filepath.Join(project, "pipec.sarif")); err != nil {
		t.Errorf("the job kept no SARIF artifact: %v", err)
	}

	// Fixed: the job passes, with pipec from the runner's cache (the
	// repository is gone: a cache miss would fail).
	if err := os.RemoveAll(strings.TrimPrefix(repository, "file://")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(project, "ci"))
	git("commit", "-q", "-am", "fix")
	builds, _ := filepath.Glob(filepath.Join(project, ".gitlab-ci-local", "builds", "*", "pipec-junit.xml"))
	for _, b := range builds {
		os.Remove(b)
	}
	out, err = pipeline(env)
	if err != nil {
		t.Fatalf("gitlab-ci-local failed a pipeline with a good configuration: %v", err)
	}
	if !strings.Contains(out, "PASS  pipec:vet") || !strings.Contains(out, "imported cache 'pipec-bin-v0.1.0'") {
		t.Error("the job did not pass with pipec from the cache")
	}
	if suites := readJUnit(t, project); suites.Failures != 0 || suites.Tests == 0 {
		t.Errorf("the JUnit report of a good configuration: %d tests, %d failures", suites.Tests, suites.Failures)
	}
}

type junitReport struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Text     string `xml:",innerxml"`
}

// readJUnit reads the report the job's artifacts:reports:junit names, from
// the job's directory when it ended, where a GitLab runner collects
// reports. (gitlab-ci-local exports artifacts:paths only.)
func readJUnit(t *testing.T, project string) junitReport {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(project, ".gitlab-ci-local", "builds", "*", "pipec-junit.xml"))
	if len(files) != 1 {
		t.Fatalf("the job wrote no JUnit report where its artifacts:reports:junit says (%v)", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var r junitReport
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatalf("pipec-junit.xml: %v", err)
	}
	return r
}
