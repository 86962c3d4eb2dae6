package importer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/importer"
)

// pinned replaces the images of real-world examples, which are rarely
// pinned, with a digest-pinned one: pipec refuses unpinned images, and the
// round trip is about structure.
const pinned = "docker.io/library/alpine:3.20.3@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a"

// examples returns the YAML files of Tekton's own examples (from the
// tektoncd/pipeline module the main module depends on) that hold a Task or
// a Pipeline.
func examples(t *testing.T) []string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tektoncd/pipeline").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "examples", "v1")
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil && (bytes.Contains(data, []byte("\nkind: Task\n")) || bytes.Contains(data, []byte("\nkind: Pipeline\n"))) {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 20 {
		t.Fatalf("only %d example files with Tasks or Pipelines in %s", len(files), dir)
	}
	return files
}

// tektonDocs decodes the Tasks and Pipelines of a file, with images
// pinned.
func tektonDocs(t *testing.T, file string) (tasks map[string]*v1.Task, pipelines map[string]*v1.Pipeline, stream []byte) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tasks, pipelines = map[string]*v1.Task{}, map[string]*v1.Pipeline{}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var buf bytes.Buffer
	for {
		var raw map[string]any
		if dec.Decode(&raw) != nil {
			break
		}
		b, _ := sigsyaml.Marshal(raw)
		switch raw["kind"] {
		case "Task":
			var tk v1.Task
			if sigsyaml.Unmarshal(b, &tk) != nil {
				continue
			}
			for i := range tk.Spec.Steps {
				tk.Spec.Steps[i].Image = pinned
			}
			b, _ = sigsyaml.Marshal(&tk)
			// Compared as Tekton reads it: with its defaults.
			tk.SetDefaults(context.Background())
			tasks[tk.Name] = &tk
		case "Pipeline":
			var p v1.Pipeline
			if sigsyaml.Unmarshal(b, &p) != nil {
				continue
			}
			for _, ts := range [][]v1.PipelineTask{p.Spec.Tasks, p.Spec.Finally} {
				for i := range ts {
					if ts[i].TaskSpec != nil {
						for j := range ts[i].TaskSpec.Steps {
							ts[i].TaskSpec.Steps[j].Image = pinned
						}
					}
				}
			}
			b, _ = sigsyaml.Marshal(&p)
			p.SetDefaults(context.Background())
			pipelines[p.Name] = &p
		}
		buf.Write(b)
		buf.WriteString("\n---\n")
	}
	return tasks, pipelines, buf.Bytes()
}

// TestRoundTripTektonExamples imports each of Tekton's own examples, builds
// the CUE with pipec, and compares what pipec generates with the input:
// params, results, workspaces and steps of every Task, and the graph,
// bindings and results of every Pipeline. Examples that use what pipec
// cannot express are reported by the importer, and skipped here; so are
// examples pipec's checks refuse (they are listed in the log).
func TestRoundTripTektonExamples(t *testing.T) {
	matched, partial, refused := 0, 0, 0
	for _, file := range examples(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			tasks, pipelines, stream := tektonDocs(t, file)
			res, err := importer.Import(bytes.NewReader(stream), "ci")
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if len(res.Issues) > 0 {
				partial++
				t.Logf("not importable: %v", res.Issues)
				return
			}
			dir := t.TempDir()
			cfg := append(res.CUE, []byte("\nnamespace: \"ci\"\n")...)
			if err := os.WriteFile(filepath.Join(dir, "pipec.cue"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			built, err := compiler.Build(context.Background(), compiler.Options{Dir: dir})
			if err != nil {
				t.Fatalf("the imported CUE does not evaluate: %v\n%s", err, cfg)
			}
			if built.Diagnostics.HasErrors() {
				refused++
				t.Logf("pipec refuses it: %v", built.Diagnostics[0])
				return
			}
			for _, o := range built.Objects {
				switch v := o.Value.(type) {
				case *v1.Task:
					if want, ok := tasks[o.Name]; ok {
						compareTask(t, o.Name, &want.Spec, &v.Spec)
						delete(tasks, o.Name)
					}
				case *v1.Pipeline:
					if want, ok := pipelines[o.Name]; ok {
						comparePipeline(t, o.Name, &want.Spec, &v.Spec)
						delete(pipelines, o.Name)
					}
				}
			}
			if len(tasks)+len(pipelines) > 0 {
				t.Errorf("not generated: tasks %v, pipelines %v", keys(tasks), keys(pipelines))
			}
			matched++
		})
	}
	t.Logf("%d examples round-trip, %d use what pipec cannot express, %d are refused by pipec's checks", matched, partial, refused)
	// All of Tekton v1.10.0's 47, the two that declare a param enum among
	// them (the import says the cluster turns on enable-param-enum) and
	// the one that names its Pipeline "demo.pipeline" (pipeline names are
	// DNS subdomains, as in Tekton).
	if matched < 47 || partial > 0 || refused > 0 {
		t.Errorf("%d examples round-trip, %d are partial and %d refused, want 47, 0 and 0", matched, partial, refused)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type step struct {
	Name, Image, Script, WorkingDir string
	Command, Args                   []string
	Env                             map[string]string
	Mounts                          []string
}

func steps(ss []v1.Step) []step {
	var out []step
	for i, s := range ss {
		st := step{Name: s.Name, Image: s.Image, Script: s.Script, WorkingDir: s.WorkingDir, Command: s.Command, Args: s.Args, Env: map[string]string{}}
		if st.Name == "" {
			st.Name = "unnamed-" + string(rune('0'+i))
		}
		for _, e := range s.Env {
			st.Env[e.Name] = e.Value
		}
		for _, m := range s.VolumeMounts {
			st.Mounts = append(st.Mounts, fmt.Sprintf("%s:%s:%t:%s", m.Name, m.MountPath, m.ReadOnly, m.SubPath))
		}
		out = append(out, st)
	}
	return out
}

func paramSummary(ps v1.ParamSpecs) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		d := ""
		if p.Default != nil {
			b, _ := p.Default.MarshalJSON()
			d = string(b)
		}
		typ := string(p.Type)
		if typ == "" {
			typ = "string"
		}
		m[p.Name] = typ + " " + d
	}
	return m
}

func compareTask(t *testing.T, name string, want, got *v1.TaskSpec) {
	t.Helper()
	check := func(what string, w, g any) {
		if !reflect.DeepEqual(w, g) {
			t.Errorf("Task %s: %s differ:\n want %+v\n got  %+v", name, what, w, g)
		}
	}
	check("params", paramSummary(want.Params), paramSummary(got.Params))
	var wr, gr []string
	for _, r := range want.Results {
		wr = append(wr, r.Name)
	}
	for _, r := range got.Results {
		gr = append(gr, r.Name)
	}
	slices.Sort(wr)
	slices.Sort(gr)
	check("results", wr, gr)
	var ww, gw []string
	for _, w := range want.Workspaces {
		ww = append(ww, w.Name)
	}
	for _, w := range got.Workspaces {
		gw = append(gw, w.Name)
	}
	slices.Sort(ww)
	slices.Sort(gw)
	check("workspaces", ww, gw)
	check("steps", steps(want.Steps), steps(got.Steps))
	vols := func(vs []corev1.Volume) map[string]string {
		m := map[string]string{}
		for _, v := range vs {
			b, _ := json.Marshal(v.VolumeSource)
			m[v.Name] = string(b)
		}
		return m
	}
	check("volumes", vols(want.Volumes), vols(got.Volumes))
	var ws, gs []v1.Step
	for _, sc := range want.Sidecars {
		ws = append(ws, v1.Step{Name: sc.Name, Image: sc.Image, Script: sc.Script, Command: sc.Command, Args: sc.Args, WorkingDir: sc.WorkingDir, Env: sc.Env, VolumeMounts: sc.VolumeMounts})
	}
	for _, sc := range got.Sidecars {
		gs = append(gs, v1.Step{Name: sc.Name, Image: sc.Image, Script: sc.Script, Command: sc.Command, Args: sc.Args, WorkingDir: sc.WorkingDir, Env: sc.Env, VolumeMounts: sc.VolumeMounts})
	}
	check("sidecars", steps(ws), steps(gs))
}

func comparePipeline(t *testing.T, name string, want, got *v1.PipelineSpec) {
	t.Helper()
	summary := func(ts []v1.PipelineTask) map[string]string {
		m := map[string]string{}
		for _, pt := range ts {
			ref := ""
			if pt.TaskRef != nil {
				ref = pt.TaskRef.Name
			}
			after := slices.Clone(pt.RunAfter)
			slices.Sort(after)
			ps := map[string]string{}
			for _, p := range pt.Params {
				b, _ := p.Value.MarshalJSON()
				ps[p.Name] = string(b)
			}
			ws := map[string]string{}
			for _, w := range pt.Workspaces {
				// Without workspace, Tekton binds the pipeline's
				// workspace of the same name (pipeline_validation.go).
				ws[w.Name] = cmp.Or(w.Workspace, w.Name) + "/" + w.SubPath
			}
			var st []step
			if pt.TaskSpec != nil {
				st = steps(pt.TaskSpec.Steps)
			}
			b, _ := sigsyaml.Marshal(map[string]any{"ref": ref, "after": after, "params": ps, "workspaces": ws, "retries": pt.Retries, "when": pt.When, "steps": st})
			m[pt.Name] = string(b)
		}
		return m
	}
	for what, pair := range map[string][2][]v1.PipelineTask{"tasks": {want.Tasks, got.Tasks}, "finally": {want.Finally, got.Finally}} {
		w, g := summary(pair[0]), summary(pair[1])
		for k, wv := range w {
			if g[k] != wv {
				t.Errorf("Pipeline %s: %s %s differs:\n want %s\n got  %s", name, what, k, wv, g[k])
			}
		}
		if len(w) != len(g) {
			t.Errorf("Pipeline %s: %s: want %v, got %v", name, what, keys(w), keys(g))
		}
	}
	res := func(rs []v1.PipelineResult) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			b, _ := r.Value.MarshalJSON()
			m[r.Name] = string(b)
		}
		return m
	}
	if !reflect.DeepEqual(res(want.Results), res(got.Results)) {
		t.Errorf("Pipeline %s: results differ:\n want %v\n got  %v", name, res(want.Results), res(got.Results))
	}
}

func TestReportsWhatPipecCannotExpress(t *testing.T) {
	in := `apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: with-sidecar
spec:
  params:
    - name: greeting
      default: hello
  stepTemplate:
    env:
      - name: A
        value: b
  sidecars:
    - name: db
      image: postgres:16
      ports:
        - containerPort: 5432
      readinessProbe:
        tcpSocket:
          port: 5432
        periodSeconds: 2
      volumeMounts:
        - name: scratch
          mountPath: /var/lib/postgresql/data
  volumes:
    - name: scratch
      emptyDir: {}
    - name: share
      nfs:
        server: nfs.example.com
        path: /exports
    - name: creds
      secret:
        secretName: git
        defaultMode: 0400
  steps:
    - name: greet
      image: busybox:1.36
      script: echo $(params.greeting)
      volumeMounts:
        - name: scratch
          mountPath: /scratch
      env:
        - name: POD
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: remote
      taskRef:
        resolver: hub
        params:
          - name: name
            value: git-clone
    - name: local
      taskRef:
        name: with-sidecar
      when:
        - cel: "'$(params.x)' == 'y'"
    - name: missing
      taskRef:
        name: not-here
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
`
	res, err := importer.Import(strings.NewReader(in), "ci")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range res.Issues {
		got = append(got, i.Source+" "+i.Field)
	}
	want := []string{
		"Task with-sidecar spec.sidecars[0].ports",
		"Task with-sidecar spec.volumes[1]",
		"Pipeline p spec.tasks[2].taskRef.name",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("issues:\n got  %v\n want %v", got, want)
	}
	if !reflect.DeepEqual(res.Skipped, []string{"v1 ConfigMap other"}) {
		t.Errorf("skipped = %v", res.Skipped)
	}
	// Volumes, mounts and sidecars are imported.
	for _, want := range []string{
		"emptyDir: {}", "secretName:  \"git\"", "defaultMode: 256",
		"mountPath: \"/var/lib/postgresql/data\"", "port: 5432", "mountPath: \"/scratch\"",
		// A CEL when expression, and the flag the cluster it ran on has.
		`cel: "'$(params.x)' == 'y'"`, `"enable-cel-in-whenexpression": true`,
	} {
		if !strings.Contains(string(res.CUE), want) {
			t.Errorf("the import lacks %q:\n%s", want, res.CUE)
		}
	}
	// A remote task becomes a ref with the resolver's params.
	if !strings.Contains(string(res.CUE), `ref: {
					resolver: "hub"
					params: {
						name: "git-clone"
					}
				}`) {
		t.Errorf("the remote task is not a ref:\n%s", res.CUE)
	}
	for _, i := range res.Issues {
		if i.Field == "spec.tasks[2].taskRef.name" && !strings.Contains(i.Message, `task "not-here" is not in the input`) {
			t.Errorf("missing task: %s", i)
		}
	}
	// v1beta1 is converted: the param and its default survive.
	if !strings.Contains(string(res.CUE), `greeting: default: "hello"`) && !strings.Contains(string(res.CUE), "default: \"hello\"") {
		t.Errorf("the v1beta1 Task's param is lost:\n%s", res.CUE)
	}
}

// TestNothingDroppedSilently imports what earlier versions lost without a
// word (the issue's list): each is carried over (the pull policy, extended
// resources, a step's display name) or reported at its YAML path; and a
// block-scalar description keeps its newline.
func TestNothingDroppedSilently(t *testing.T) {
	in := `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: gpu
spec:
  description: |
    Trains the model.
  params:
    - name: mode
      enum: [fast, slow]
      default: fast
  steps:
    - name: train
      displayName: Train the model
      image: ghcr.io/acme/train:1.0
      imagePullPolicy: Always
      script: train --mode $(params.mode)
      computeResources:
        limits:
          nvidia.com/gpu: "1"
          ephemeral-storage: 10Gi
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  workspaces:
    - name: src
  tasks:
    - name: inline
      workspaces:
        - name: src
      taskSpec:
        metadata:
          labels: {app.kubernetes.io/component: lint}
          annotations: {acme.dev/owner: platform}
        description: An inline task.
        workspaces:
          - name: src
            readOnly: true
            mountPath: /src
        steps:
          - name: s
            image: ghcr.io/acme/tool:1.0
            script: ls $(workspaces.src.path)
`
	res, err := importer.Import(strings.NewReader(in), "ci")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range res.Issues {
		got = append(got, i.Source+" "+i.Field)
	}
	slices.Sort(got)
	want := []string{
		"Pipeline p spec.tasks[0].taskSpec.description",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("issues:\n got  %q\n want %q\n%v", got, want, res.Issues)
	}
	v := cuecontext.New().CompileBytes(res.CUE)
	wantStrings(t, v, map[string]string{
		"tasks.gpu.description":          "Trains the model.\n",
		"tasks.gpu.steps[0].displayName": "Train the model",
		"tasks.gpu.params.mode.enum[1]":  "slow",
		// An inline task's metadata and how it mounts its workspace.
		`pipelines.p.tasks.inline.labels."app.kubernetes.io/component"`: "lint",
		`pipelines.p.tasks.inline.annotations."acme.dev/owner"`:         "platform",
		"pipelines.p.tasks.inline.workspaces.src.mountPath":             "/src",
	})
	if ro, _ := v.LookupPath(cue.ParsePath("pipelines.p.tasks.inline.workspaces.src.readOnly")).Bool(); !ro {
		t.Error("the inline task's read-only workspace is not read-only")
	}
}

// TestStepTemplate imports a step template: its image goes to the steps
// that have none (pipec's steps name theirs), the rest stays a template,
// and what pipec generates from it is what Tekton would run (verify
// compares after Tekton's own merge).
func TestStepTemplate(t *testing.T) {
	in := `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: tmpl
spec:
  stepTemplate:
    image: ghcr.io/acme/tool:1.0
    workingDir: /workspace/src
    env:
      - {name: GOFLAGS, value: -mod=readonly}
      - {name: HOME, value: /tekton/home}
    computeResources: {requests: {cpu: 500m}}
    securityContext: {runAsUser: 1001}
  steps:
    - {name: a, script: make a}
    - {name: b, image: "ghcr.io/acme/other:2.0", env: [{name: HOME, value: /root}], script: make b}
`
	v := importClean(t, in)
	wantStrings(t, v, map[string]string{
		"tasks.tmpl.steps[0].image":          "ghcr.io/acme/tool:1.0",
		"tasks.tmpl.steps[1].image":          "ghcr.io/acme/other:2.0",
		"tasks.tmpl.stepTemplate.env.HOME":   "/tekton/home",
		"tasks.tmpl.stepTemplate.workingDir": "/workspace/src",
		"tasks.tmpl.steps[1].env.HOME":       "/root",
	})
}

// TestStepActionImport imports steps that run StepActions: the ref and the
// params passed to it are carried over, with step results and a task
// result taken from a StepAction's, and nothing is reported.
func TestStepActionImport(t *testing.T) {
	in := `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: clone-and-test
spec:
  params:
    - name: url
  workspaces:
    - name: src
  results:
    - name: commit
      value: $(steps.clone.results.commit)
  steps:
    - name: clone
      ref:
        resolver: hub
        params:
          - {name: name, value: git-clone}
          - {name: version, value: "0.1"}
          - {name: kind, value: stepaction}
      params:
        - {name: URL, value: $(params.url)}
        - {name: OUTPUT_PATH, value: $(workspaces.src.path)}
    - name: notify
      ref: {name: notify}
    - name: test
      image: docker.io/library/golang:1.25.11
      script: go test ./... > $(step.results.report.path)
      results:
        - name: report
          description: the test output
    - name: show
      image: docker.io/library/golang:1.25.11
      command: [cat]
      args: [$(steps.test.results.report)]
`
	v := importClean(t, in)
	wantStrings(t, v, map[string]string{
		`tasks."clone-and-test".steps[0].ref.resolver`:               "hub",
		`tasks."clone-and-test".steps[0].ref.params.kind`:            "stepaction",
		`tasks."clone-and-test".steps[0].params.URL`:                 "$(params.url)",
		`tasks."clone-and-test".steps[1].ref.name`:                   "notify",
		`tasks."clone-and-test".results.commit.value`:                "$(steps.clone.results.commit)",
		`tasks."clone-and-test".steps[2].results.report.description`: "the test output",
	})
	if v.LookupPath(cue.ParsePath(`tasks."clone-and-test".steps[0].image`)).Exists() {
		t.Error("a step that runs a StepAction got an image")
	}
}

// importClean imports in, which must import with no issue, and compiles
// the CUE it gives.
func importClean(t *testing.T, in string) cue.Value {
	t.Helper()
	res, err := importer.Import(strings.NewReader(in), "ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issues) > 0 {
		t.Errorf("issues: %v", res.Issues)
	}
	return cuecontext.New().CompileBytes(res.CUE)
}

// wantStrings checks the strings at CUE paths of an imported configuration.
func wantStrings(t *testing.T, v cue.Value, want map[string]string) {
	t.Helper()
	for path, w := range want {
		if got, err := v.LookupPath(cue.ParsePath(path)).String(); got != w {
			t.Errorf("%s = %q (%v), want %q", path, got, err, w)
		}
	}
}
