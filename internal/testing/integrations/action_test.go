package integrations

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// actionRun is what testdata/action-runner.mjs reports.
type actionRun struct {
	Errors []string `json:"errors"`
	Steps  []struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Uses       string            `json:"uses"`
		Ran        bool              `json:"ran"`
		Outcome    string            `json:"outcome"`
		Conclusion string            `json:"conclusion"`
		Outputs    map[string]string `json:"outputs"`
		Log        string            `json:"log"`
	} `json:"steps"`
	Outputs     map[string]string `json:"outputs"`
	Annotations []struct {
		Level   string `json:"level"`
		File    string `json:"file"`
		Line    string `json:"line"`
		Col     string `json:"col"`
		Title   string `json:"title"`
		Message string `json:"message"`
	} `json:"annotations"`
	Summary    string `json:"summary"`
	Conclusion string `json:"conclusion"`
	Uploads    []struct {
		Category string `json:"category"`
		Results  int    `json:"results"`
	} `json:"uploads"`
}

// ran reports whether the step that uses (or is named) name ran.
func (r *actionRun) ran(name string) bool {
	for _, s := range r.Steps {
		if s.Name == name || strings.HasPrefix(s.Uses, name+"@") {
			if s.Ran {
				return true
			}
		}
	}
	return false
}

// TestGitHubAction runs action.yml as a GitHub-hosted runner would, with
// the inputs of the README's workflow: GitHub's own parser validates it
// (and the README's workflow), GitHub's expression engine evaluates it,
// and its shell steps run with what a runner provides
// (testdata/action-runner.mjs). The first run builds pipec with the
// action's own `go install` line, annotates the bad line, uploads SARIF
// and fails; the second passes with pipec from the cache, offline; the
// third, with caching and SARIF off, reports a configuration pipec cannot
// evaluate.
//
// What cannot run here: actions/cache, actions/setup-go and
// codeql-action/upload-sarif talk to GitHub's services; they are emulated
// (see the runner), and the workflow's checkout step is the test's copy.
func TestGitHubAction(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run hack/ci-clients.sh")
	}
	modules := nodeModules(t)
	src := source(t)
	runner, err := filepath.Abs("testdata/action-runner.mjs")
	if err != nil {
		t.Fatal(err)
	}

	// The README's example, as a workflow GitHub would accept.
	steps := readmeBlock(t, "**GitHub Actions**", "yaml")
	workflow := "name: ci\non: pull_request\njobs:\n  vet:\n    runs-on: ubuntu-latest\n" + indent(steps, "    ")
	checkWorkflow(t, node, modules, workflow)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(workflow), &wf); err != nil {
		t.Fatal(err)
	}
	var inputs map[string]string
	for _, s := range wf.Jobs["vet"].Steps {
		if strings.HasPrefix(s.Uses, "pipec/pipec@") {
			inputs = s.With
		}
	}
	if inputs == nil {
		t.Fatalf("the README's workflow does not use pipec/pipec:\n%s", workflow)
	}
	// The action as the runner downloads it for `uses: pipec/pipec@<ref>`.
	action := filepath.Join(src.Export(t), "action.yml")
	noScriptInjection(t, action)

	// The runner's machine: a workspace with the checkout, a home, a temp
	// directory, and caches that outlive a run.
	machine := t.TempDir()
	workspace := filepath.Join(machine, "work")
	home := filepath.Join(machine, "home")
	state := filepath.Join(machine, "state")
	for _, d := range []string{workspace, home, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := inputs["dir"]
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(workspace, dir))
	env := clientEnv(t, home)

	run := func(name string, inputs map[string]string, env []string) *actionRun {
		t.Helper()
		temp := filepath.Join(machine, "temp-"+name)
		if err := os.MkdirAll(temp, 0o755); err != nil {
			t.Fatal(err)
		}
		envMap := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			envMap[k] = v
		}
		spec := map[string]any{
			"modules": modules, "action": action, "inputs": inputs,
			"workspace": workspace, "home": home, "temp": temp, "state": state,
			"sha": hash(name), "actionRef": src.Tag, "env": envMap, "out": filepath.Join(temp, "result.json"),
		}
		specFile := filepath.Join(temp, "spec.json")
		data, _ := json.Marshal(spec)
		if err := os.WriteFile(specFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, runner, specFile).CombinedOutput()
		if err != nil {
			t.Fatalf("action-runner: %v\n%s", err, out)
		}
		data, err = os.ReadFile(filepath.Join(temp, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r actionRun
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Steps {
			if s.Ran {
				t.Logf("[%s] %s: %s\n%s", name, s.Name, s.Conclusion, s.Log)
			}
		}
		if len(r.Errors) > 0 {
			t.Fatalf("GitHub's action parser rejects action.yml:\n%s", strings.Join(r.Errors, "\n"))
		}
		return &r
	}

	// A bad configuration.
	appendFile(t, filepath.Join(workspace, dir), "pipec.cue", badConfig)
	line := badLine(t, filepath.Join(workspace, dir))
	r := run("bad", inputs, env)
	if r.Conclusion != "failure" || r.Outputs["exit-code"] != "1" {
		t.Errorf("a configuration error: conclusion %s, exit-code %q; want failure and 1", r.Conclusion, r.Outputs["exit-code"])
	}
	for _, step := range []string{"actions/setup-go", "Build pipec", "actions/cache/save", "github/codeql-action/upload-sarif", "Verdict"} {
		if !r.ran(step) {
			t.Errorf("the first run did not run %s", step)
		}
	}
	if len(r.Annotations) != 1 {
		t.Fatalf("%d annotations, want 1: %+v", len(r.Annotations), r.Annotations)
	}
	a := r.Annotations[0]
	wantFile := filepath.ToSlash(filepath.Join(dir, "pipec.cue"))
	if a.Level != "error" || a.File != wantFile || a.Line != fmt.Sprint(line) || a.Col != "48" || a.Title != "pipec/config/cue" ||
		!strings.Contains(a.Message, `pipelines."go-service".tasks.lint.timeout: invalid value "ten minutes"`) {
		t.Errorf("annotation %+v, want an error at %s:%d:48", a, wantFile, line)
	}
	if _, err := os.Stat(filepath.Join(workspace, filepath.FromSlash(a.File))); err != nil {
		t.Errorf("the annotation's file is not a path in the repository: %v", err)
	}
	if len(r.Uploads) != 1 || r.Uploads[0].Results != 1 || r.Uploads[0].Category != "pipec" {
		t.Errorf("SARIF uploads: %+v, want one with 1 result", r.Uploads)
	}
	if !strings.Contains(r.Summary, fmt.Sprintf("| :x: deny | `%s:%d:48` | `pipec/config/cue` |", wantFile, line)) {
		t.Errorf("the job summary does not list the finding:\n%s", r.Summary)
	}
	if entries, _ := os.ReadDir(workspace); len(entries) != 1 {
		t.Errorf("the action left files in the workspace: %v", entries)
	}

	// Fixed, on the next commit: pipec comes from the cache (a build would
	// fail: Go is gone).
	noGo := setEnv(env, "PATH", "/usr/bin:/bin")
	copyDir(t, filepath.Join(root(t), "examples", "go-service"), filepath.Join(workspace, dir))
	r = run("good", inputs, noGo)
	if r.Conclusion != "success" || r.Outputs["exit-code"] != "0" {
		t.Errorf("a good configuration: conclusion %s, exit-code %q; want success and 0", r.Conclusion, r.Outputs["exit-code"])
	}
	if r.ran("actions/setup-go") || r.ran("Build pipec") {
		t.Error("pipec was built again although it was cached")
	}
	if len(r.Annotations) != 0 || !strings.Contains(r.Summary, "no findings") {
		t.Errorf("a good configuration: annotations %+v, summary %q", r.Annotations, r.Summary)
	}

	// The commit after: the validation memo the last run saved is
	// restored (by its restore-keys), so only what changed is validated.
	appendFile(t, filepath.Join(workspace, dir), "pipec.cue", "\npipelines: \"go-service\": tasks: lint: retries: 2\n")
	r = run("edit", inputs, noGo)
	if r.Conclusion != "success" {
		t.Errorf("an edited good configuration: conclusion %s", r.Conclusion)
	}
	for _, s := range r.Steps {
		if s.ID == "memo" && !(strings.Contains(s.Log, "Cache restored from key: pipec-cache-Linux-") && strings.HasSuffix(s.Log, "-"+hash("good"))) {
			t.Errorf("the validation memo was not restored from the run before: %s", s.Log)
		}
	}

	// Caching and SARIF off; a configuration pipec cannot evaluate.
	writeFile(t, filepath.Join(workspace, dir), "broken.cue", "package ci\n\npipelines: {\n")
	off := map[string]string{"dir": dir, "cache": "false", "sarif": "false"}
	r = run("broken", off, env)
	if r.Conclusion != "failure" || r.Outputs["exit-code"] != "2" {
		t.Errorf("a syntax error: conclusion %s, exit-code %q; want failure and 2", r.Conclusion, r.Outputs["exit-code"])
	}
	if r.ran("actions/cache/restore") || r.ran("actions/cache/save") || r.ran("github/codeql-action/upload-sarif") {
		t.Error("cache or SARIF steps ran although turned off")
	}
	if !r.ran("Build pipec") {
		t.Error("without the cache, pipec was not installed")
	}
}

// noScriptInjection fails when a run step interpolates an expression
// into its script: inputs reach scripts through env, never as code.
func noScriptInjection(t *testing.T, action string) {
	t.Helper()
	data, err := os.ReadFile(action)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Runs struct {
			Steps []struct {
				Name string `json:"name"`
				Run  string `json:"run"`
			} `json:"steps"`
		} `json:"runs"`
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q interpolates an expression into its script; pass it through env", s.Name)
		}
	}
}

// checkWorkflow validates a workflow with GitHub's own parser.
func checkWorkflow(t *testing.T, node, modules, workflow string) {
	t.Helper()
	script := `
import { register } from "node:module";
import { pathToFileURL } from "node:url";
register("data:text/javascript," + encodeURIComponent('import { readFile } from "node:fs/promises"; export async function load(url, c, next) { if (url.endsWith(".json")) return { format: "json", source: await readFile(new URL(url)), shortCircuit: true }; return next(url, c); }'));
const wp = await import(pathToFileURL(process.argv[1] + "/@actions/workflow-parser/dist/index.js").href);
let content = "";
for await (const c of process.stdin) content += c;
const r = wp.parseWorkflow({ name: "ci.yml", content }, new wp.NoOperationTraceWriter());
const errs = r.context.errors.getErrors().map((e) => e.message);
if (errs.length) { console.log(errs.join("\n")); process.exit(1); }
`
	cmd := exec.Command(node, "--input-type=module", "-e", script, modules)
	cmd.Stdin = strings.NewReader(workflow)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GitHub's workflow parser rejects the README's example: %v\n%s\n%s", err, out, workflow)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
