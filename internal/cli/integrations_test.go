package cli

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// vetFlags extracts the flags of the `pipec vet ...` command line in a CI
// integration file, with shell variables replaced by sample values.
func vetFlags(t *testing.T, script string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)pipec vet (.*?)(?: \|\||$)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no pipec vet command in\n%s", script)
	}
	line := strings.NewReplacer(`"$PIPEC_DIR"`, ".", `"$PIPEC_FAIL_ON"`, "deny").Replace(m[1])
	return strings.Fields(line)
}

// checkVetFlags runs pipec vet --help with the flags: unknown flags or bad
// values fail.
func checkVetFlags(t *testing.T, args []string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run(append(append([]string{"vet"}, args...), "--help"), nil, &out, &errb); code != 0 {
		t.Errorf("pipec vet %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	// --help stops before the flags' values are checked; parse them too.
	var o checkOptions
	for i, a := range args {
		switch {
		case a == "--output":
			o.outputs = append(o.outputs, args[i+1])
		case a == "--fail-on":
			o.failOn = args[i+1]
		}
	}
	if _, _, err := o.parse(false); err != nil {
		t.Errorf("pipec vet %s: %v", strings.Join(args, " "), err)
	}
}

// TestGitHubAction checks action.yml: valid YAML with the shape GitHub
// reads, every input it uses declared, and a vet command pipec accepts.
func TestGitHubAction(t *testing.T) {
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Name        string                       `json:"name"`
		Description string                       `json:"description"`
		Branding    map[string]string            `json:"branding"`
		Inputs      map[string]map[string]string `json:"inputs"`
		Outputs     map[string]map[string]string `json:"outputs"`
		Runs        struct {
			Using string `json:"using"`
			Steps []struct {
				ID    string            `json:"id"`
				Name  string            `json:"name"`
				If    string            `json:"if"`
				Uses  string            `json:"uses"`
				Shell string            `json:"shell"`
				Run   string            `json:"run"`
				Env   map[string]string `json:"env"`
				With  map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"runs"`
	}
	if err := yaml.UnmarshalStrict(data, &action); err != nil {
		t.Fatal(err)
	}
	if action.Runs.Using != "composite" || action.Name == "" || action.Description == "" {
		t.Fatalf("not a composite action: %+v", action)
	}
	for _, ref := range regexp.MustCompile(`inputs\.([a-z-]+)`).FindAllStringSubmatch(string(data), -1) {
		if _, ok := action.Inputs[ref[1]]; !ok {
			t.Errorf("action.yml uses input %q, which it does not declare", ref[1])
		}
	}
	var vet string
	for _, s := range action.Runs.Steps {
		if s.Run != "" && s.Shell == "" {
			t.Errorf("step %q: composite run steps need a shell", s.Name)
		}
		if strings.Contains(s.Run, "pipec vet") {
			vet = s.Run
			if !strings.Contains(s.Run, `>> "$GITHUB_OUTPUT"`) {
				t.Error("the vet step must record the exit code")
			}
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q interpolates an expression into its script; pass it through env (script injection)", s.Name)
		}
	}
	checkVetFlags(t, vetFlags(t, vet))
	// What the cache steps keep is where the scripts put the binary and
	// pipec's cache.
	var scripts strings.Builder
	for _, s := range action.Runs.Steps {
		scripts.WriteString(s.Run)
	}
	for _, s := range action.Runs.Steps {
		if strings.HasPrefix(s.Uses, "actions/cache@") {
			dir := strings.Replace(s.With["path"], "~", "$HOME", 1)
			if !strings.Contains(scripts.String(), `"`+dir+`"`) {
				t.Errorf("step %q caches %s, which no script writes", s.ID, s.With["path"])
			}
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		for _, s := range action.Runs.Steps {
			if s.Run == "" {
				continue
			}
			if out, err := exec.Command(bash, "-n", "-c", s.Run).CombinedOutput(); err != nil {
				t.Errorf("step %q is not valid bash: %v\n%s", s.Name, err, out)
			}
		}
	}
}

// TestGitLabTemplate checks ci/pipec.gitlab-ci.yml: a job with a script
// whose vet command pipec accepts, and the JUnit report it writes.
func TestGitLabTemplate(t *testing.T) {
	data, err := os.ReadFile("../../ci/pipec.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	job, ok := doc["pipec:vet"].(map[string]any)
	if !ok {
		t.Fatal("no pipec:vet job")
	}
	var script []string
	for _, l := range job["script"].([]any) {
		script = append(script, l.(string))
	}
	args := vetFlags(t, strings.Join(script, "\n"))
	checkVetFlags(t, args)
	junit := job["artifacts"].(map[string]any)["reports"].(map[string]any)["junit"].(string)
	if !strings.Contains(strings.Join(args, " "), "junit="+junit) {
		t.Errorf("the job writes no %s, which its artifacts report", junit)
	}
	// The cached directories are where the job puts pipec and its cache.
	jobVars := job["variables"].(map[string]any)
	for _, c := range job["cache"].([]any) {
		for _, p := range c.(map[string]any)["paths"].([]any) {
			dir := "$CI_PROJECT_DIR/" + strings.TrimSuffix(p.(string), "/")
			if jobVars["PIPEC_BIN"] != dir && jobVars["PIPEC_CACHE_DIR"] != dir {
				t.Errorf("the job caches %s, which is neither PIPEC_BIN nor PIPEC_CACHE_DIR", p)
			}
		}
	}
	vars := doc["variables"].(map[string]any)
	for _, v := range []string{"PIPEC_DIR", "PIPEC_VERSION", "PIPEC_FAIL_ON"} {
		if _, ok := vars[v]; !ok {
			t.Errorf("variable %s is used but not defaulted", v)
		}
	}
}
