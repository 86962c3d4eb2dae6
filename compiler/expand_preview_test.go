package compiler

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusScript runs the commit status task's script with sh and a
// wget that records its arguments: the request each forge's API takes,
// the outcome mapped to a state, and a head commit that is no commit
// refused before any request.
func TestStatusScript(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	cases := []struct {
		name, provider, api, repo, sha, outcome string
		want                                    []string
		fails                                   bool
	}{
		{name: "github success", provider: "github", api: "https://api.github.com", repo: "acme/cart", sha: sha, outcome: "Succeeded", want: []string{
			"--header Authorization: Bearer t0ken",
			`--post-data {"state": "success", "context": "pipec/preview", "description": "integration tests passed"}`,
			"https://api.github.com/repos/acme/cart/statuses/" + sha,
		}},
		{name: "github failure", provider: "github", api: "https://github.example.com/api/v3/", repo: "acme/cart", sha: sha, outcome: "Failed", want: []string{
			`"state": "failure"`, "https://github.example.com/api/v3/repos/acme/cart/statuses/" + sha,
		}},
		{name: "gitlab completed", provider: "gitlab", api: "https://gitlab.com", repo: "acme/sub/cart", sha: sha, outcome: "Completed", want: []string{
			"--header PRIVATE-TOKEN: t0ken",
			"--post-data state=success&name=pipec%2Fpreview&description=integration%20tests%20passed",
			"https://gitlab.com/api/v4/projects/acme%2Fsub%2Fcart/statuses/" + sha,
		}},
		{name: "forged sha", provider: "github", api: "https://api.github.com", repo: "acme/cart", sha: sha + "; rm -rf /", outcome: "Succeeded", fails: true},
		{name: "short sha", provider: "gitlab", api: "https://gitlab.com", repo: "acme/cart", sha: "abc", outcome: "Succeeded", fails: true},
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "wget.log")
	if err := os.WriteFile(filepath.Join(dir, "wget"), []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> \""+log+"\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		os.Remove(log)
		cmd := exec.Command("sh", "-c", statusScript)
		cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "API=" + c.api, "CONTEXT=pipec/preview", "OUTCOME=" + c.outcome,
			"PROVIDER=" + c.provider, "REPOSITORY=" + c.repo, "SHA=" + c.sha, "TOKEN=t0ken"}
		out, err := cmd.CombinedOutput()
		got, _ := os.ReadFile(log)
		if c.fails {
			if err == nil || len(got) > 0 {
				t.Errorf("%s: ran (%v), requested %q", c.name, err, got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		// Arguments one per line; join a flag with its value.
		args := strings.ReplaceAll(string(got), "\n--", "\x00--")
		args = strings.ReplaceAll(args, "\n", " ")
		for _, w := range c.want {
			if !strings.Contains(args, w) {
				t.Errorf("%s: wget got %q, want %q", c.name, args, w)
			}
		}
	}
}
