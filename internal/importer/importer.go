// Package importer turns Tekton Task and Pipeline YAML (tekton.dev/v1 or
// v1beta1) into pipec CUE, so that teams can migrate: Tasks become entries
// of the top-level task library, Pipelines become pipelines that use them.
// What pipec's schema cannot express is reported, field by field, instead
// of being dropped silently.
package importer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/pipec/pipec/compiler"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// Issue is something the importer could not carry over.
type Issue struct {
	// Source names the document: "Task git-clone" or "file.yaml: Pipeline x".
	Source string
	// Field is the YAML path, such as spec.steps[0].volumeMounts.
	Field   string
	Message string
}

func (i Issue) String() string { return fmt.Sprintf("%s: %s: %s", i.Source, i.Field, i.Message) }

// Result is an import.
type Result struct {
	// CUE is the configuration: package ci, with tasks and pipelines.
	CUE []byte
	// Tasks and Pipelines name what was imported.
	Tasks, Pipelines []string
	// Skipped lists documents of other kinds.
	Skipped []string
	// Issues are the fields that could not be imported. When there are
	// any, CUE is still written but does not express them.
	Issues []Issue
}

// Import reads a multi-document YAML stream.
func Import(r io.Reader, pkg string) (*Result, error) {
	dec := yaml.NewYAMLOrJSONDecoder(r, 4096)
	im := &importer{tasks: map[string]any{}, pipelines: map[string]any{}, order: map[string]int{}, flags: map[string]bool{}}
	res := &Result{}
	for n := 0; ; n++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d: %w", n+1, err)
		}
		if raw == nil {
			continue
		}
		data, err := sigsyaml.Marshal(raw)
		if err != nil {
			return nil, err
		}
		kind, _ := raw["kind"].(string)
		apiVersion, _ := raw["apiVersion"].(string)
		switch {
		case kind == "Task" && (apiVersion == "tekton.dev/v1" || apiVersion == "tekton.dev/v1beta1"):
			t, err := decodeTask(apiVersion, data)
			if err != nil {
				return nil, fmt.Errorf("document %d (Task): %w", n+1, err)
			}
			// Tekton's defaults make explicit what it infers (a
			// parameter's type from its default or properties).
			t.SetDefaults(context.Background())
			im.order["Task "+t.Name] = len(im.order)
			im.task(t)
			im.docs = append(im.docs, t)
			res.Tasks = append(res.Tasks, t.Name)
		case kind == "Pipeline" && (apiVersion == "tekton.dev/v1" || apiVersion == "tekton.dev/v1beta1"):
			p, err := decodePipeline(apiVersion, data)
			if err != nil {
				return nil, fmt.Errorf("document %d (Pipeline): %w", n+1, err)
			}
			p.SetDefaults(context.Background())
			im.order["Pipeline "+p.Name] = len(im.order)
			im.pipeline(p)
			im.docs = append(im.docs, p)
			res.Pipelines = append(res.Pipelines, p.Name)
		default:
			name := ""
			if md, ok := raw["metadata"].(map[string]any); ok {
				name, _ = md["name"].(string)
			}
			res.Skipped = append(res.Skipped, strings.TrimSpace(fmt.Sprintf("%s %s %s", apiVersion, kind, name)))
		}
	}
	if len(res.Tasks)+len(res.Pipelines) == 0 {
		return nil, errors.New("no Tekton Task or Pipeline (tekton.dev/v1 or v1beta1) in the input")
	}
	for _, u := range im.uses {
		if im.tasks[u.task] == nil {
			im.issues = append(im.issues, Issue{Source: u.src, Field: u.field, Message: fmt.Sprintf("task %q is not in the input; import its YAML too, or refer to it with a resolver (taskRef.resolver: cluster, bundles, git, hub or http)", u.task)})
		}
	}
	top := map[string]any{}
	if len(im.tasks) > 0 {
		top["tasks"] = im.tasks
	}
	if len(im.pipelines) > 0 {
		top["pipelines"] = im.pipelines
	}
	if len(im.flags) > 0 {
		top["tekton"] = map[string]any{"featureFlags": im.flags}
	}
	v := cuecontext.New().Encode(top)
	if v.Err() != nil {
		return nil, v.Err()
	}
	body, err := format.Node(v.Syntax())
	if err != nil {
		return nil, err
	}
	// Encode makes one struct literal; a configuration reads better as
	// top-level fields.
	body = bytes.TrimSpace(body)
	body = bytes.TrimSuffix(bytes.TrimPrefix(body, []byte("{")), []byte("}"))
	src := fmt.Sprintf("// Imported from Tekton YAML by pipec import.\npackage %s\n\n%s\n", pkg, body)
	out, err := format.Source([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("internal error: the generated CUE does not format: %w", err)
	}
	im.verify(out)
	// In document order, then by YAML path: the same input gives the
	// same report and the same comments.
	slices.SortStableFunc(im.issues, func(a, b Issue) int {
		return cmp.Or(cmp.Compare(im.order[a.Source], im.order[b.Source]), strings.Compare(a.Field, b.Field))
	})
	if out, err = annotate(out, im.issues); err != nil {
		return nil, fmt.Errorf("internal error: the generated CUE does not parse: %w", err)
	}
	res.CUE = out
	res.Issues = im.issues
	slices.Sort(res.Tasks)
	slices.Sort(res.Pipelines)
	return res, nil
}

func decodeTask(apiVersion string, data []byte) (*v1.Task, error) {
	if apiVersion == "tekton.dev/v1" {
		var t v1.Task
		return &t, sigsyaml.UnmarshalStrict(data, &t)
	}
	var b v1beta1.Task
	if err := sigsyaml.UnmarshalStrict(data, &b); err != nil {
		return nil, err
	}
	var t v1.Task
	if err := b.ConvertTo(context.Background(), &t); err != nil {
		return nil, fmt.Errorf("converting v1beta1 to v1: %w", err)
	}
	return &t, nil
}

func decodePipeline(apiVersion string, data []byte) (*v1.Pipeline, error) {
	if apiVersion == "tekton.dev/v1" {
		var p v1.Pipeline
		return &p, sigsyaml.UnmarshalStrict(data, &p)
	}
	var b v1beta1.Pipeline
	if err := sigsyaml.UnmarshalStrict(data, &b); err != nil {
		return nil, err
	}
	var p v1.Pipeline
	if err := b.ConvertTo(context.Background(), &p); err != nil {
		return nil, fmt.Errorf("converting v1beta1 to v1: %w", err)
	}
	return &p, nil
}

type importer struct {
	tasks, pipelines map[string]any
	issues           []Issue
	// uses are the library tasks pipeline tasks refer to by name.
	uses []use
	// docs are the Tasks and Pipelines read (*v1.Task, *v1.Pipeline).
	docs []any
	// order is each document's place in the input, by Issue.Source.
	order map[string]int
	// flags are the Tekton feature flags the input relies on: the
	// cluster it ran on turns them on.
	flags map[string]bool
}

// use is a pipeline task's taskRef by name.
type use struct {
	src, field, task string
}

func (im *importer) unsupported(src, field, what string) {
	im.issues = append(im.issues, Issue{Source: src, Field: field, Message: what + " is not supported by pipec and was not imported"})
}

func (im *importer) task(t *v1.Task) {
	src := "Task " + t.Name
	s := &t.Spec
	out := map[string]any{}
	meta(out, s.Description, s.DisplayName, t.Labels, t.Annotations)
	if ps := im.params(s.Params); len(ps) > 0 {
		out["params"] = ps
	}
	if len(s.Workspaces) > 0 {
		ws := map[string]any{}
		for _, w := range s.Workspaces {
			m := map[string]any{}
			setIf(m, "description", w.Description)
			if w.Optional {
				m["optional"] = true
			}
			if w.ReadOnly {
				m["readOnly"] = true
			}
			setIf(m, "mountPath", w.MountPath)
			ws[w.Name] = m
		}
		out["workspaces"] = ws
	}
	if rs := results(s.Results); len(rs) > 0 {
		out["results"] = rs
	}
	out["steps"] = im.steps(src, "spec", s)
	im.pod(src, "spec", s, out)
	im.tasks[t.Name] = out
}

func meta(out map[string]any, description, displayName string, labels, annotations map[string]string) {
	setIf(out, "description", description)
	setIf(out, "displayName", displayName)
	if l := userMap(labels); len(l) > 0 {
		out["labels"] = l
	}
	if a := userMap(annotations); len(a) > 0 {
		out["annotations"] = a
	}
}

// userMap drops the labels and annotations tools add (kubectl, catalog
// metadata is kept).
func userMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k == "kubectl.kubernetes.io/last-applied-configuration" {
			continue
		}
		out[k] = v
	}
	return out
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func (im *importer) params(ps v1.ParamSpecs) map[string]any {
	out := map[string]any{}
	for _, p := range ps {
		m := map[string]any{}
		if p.Type != "" && p.Type != v1.ParamTypeString {
			m["type"] = string(p.Type)
		}
		setIf(m, "description", p.Description)
		if len(p.Enum) > 0 {
			m["enum"] = p.Enum
			im.flags["enable-param-enum"] = true
		}
		if p.Default != nil {
			m["default"] = paramValue(*p.Default)
		}
		if len(p.Properties) > 0 {
			m["properties"] = properties(p.Properties)
		}
		out[p.Name] = m
	}
	return out
}

// properties are an object param's or result's keys, each a string (the
// one type Tekton allows).
func properties(ps map[string]v1.PropertySpec) map[string]any {
	out := map[string]any{}
	for k := range ps {
		out[k] = map[string]any{"type": "string"}
	}
	return out
}

func paramValue(v v1.ParamValue) any {
	switch v.Type {
	case v1.ParamTypeArray:
		return append([]string{}, v.ArrayVal...)
	case v1.ParamTypeObject:
		m := map[string]any{}
		for k, s := range v.ObjectVal {
			m[k] = s
		}
		return m
	}
	return v.StringVal
}

func results(rs []v1.TaskResult) map[string]any {
	out := map[string]any{}
	for _, r := range rs {
		m := map[string]any{}
		if r.Type != "" && r.Type != v1.ResultsTypeString {
			m["type"] = string(r.Type)
		}
		setIf(m, "description", r.Description)
		if r.Value != nil {
			m["value"] = paramValue(*r.Value)
		}
		if len(r.Properties) > 0 {
			m["properties"] = properties(r.Properties)
		}
		out[r.Name] = m
	}
	return out
}

func (im *importer) steps(src, at string, s *v1.TaskSpec) []any {
	var out []any
	for i, st := range s.Steps {
		f := fmt.Sprintf("%s.steps[%d]", at, i)
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("unnamed-%d", i) // Tekton's own default
		}
		if st.Image == "" && s.StepTemplate != nil {
			// pipec's steps name their image: the template's is copied.
			st.Image = s.StepTemplate.Image
		}

		m := im.container(src, f, v1.Sidecar{Name: name, Image: st.Image, ImagePullPolicy: st.ImagePullPolicy, Script: st.Script,
			Command: st.Command, Args: st.Args, WorkingDir: st.WorkingDir, Env: st.Env, EnvFrom: st.EnvFrom,
			ComputeResources: st.ComputeResources, SecurityContext: st.SecurityContext, VolumeMounts: st.VolumeMounts})
		m.DisplayName, m.OnError = st.DisplayName, string(st.OnError)
		if st.Timeout != nil {
			m.Timeout = st.Timeout.Duration.String()
		}
		m.When = im.when(src, f, st.When)
		if len(st.Results) > 0 {
			rs := make([]v1.TaskResult, len(st.Results))
			for j, r := range st.Results {
				rs[j] = v1.TaskResult{Name: r.Name, Type: r.Type, Description: r.Description, Properties: r.Properties}
			}
			m.Results = results(rs)
		}
		if st.Ref != nil {
			r := map[string]any{}
			setIf(r, "name", st.Ref.Name)
			setIf(r, "resolver", string(st.Ref.Resolver))
			if ps := im.resolverParams(src, f+".ref", st.Ref.Params); len(ps) > 0 {
				r["params"] = ps
			}
			m.Ref = r
			if len(st.Params) > 0 {
				ps := map[string]any{}
				for _, p := range st.Params {
					ps[p.Name] = paramValue(p.Value)
				}
				m.Params = ps
			}
		}
		for field, set := range map[string]bool{
			"volumeDevices": len(st.VolumeDevices) > 0,
			"stdoutConfig":  st.StdoutConfig != nil, "stderrConfig": st.StderrConfig != nil,
			"workspaces": len(st.Workspaces) > 0,
		} {
			if set {
				im.unsupported(src, f+"."+field, "a step's "+field)
			}
		}
		out = append(out, m)
	}
	return out
}

// pod converts a task's step template, volumes and sidecars into out, and
// reports what pipec's schema does not hold of them.
func (im *importer) pod(src, at string, s *v1.TaskSpec, out map[string]any) {
	if st := s.StepTemplate; st != nil {
		f := at + ".stepTemplate"
		m := map[string]any{}
		setIf(m, "workingDir", st.WorkingDir)
		if env := im.env(src, f, st.Env); len(env) > 0 {
			m["env"] = env
		}
		if r := resources(st.ComputeResources); len(r) > 0 {
			m["resources"] = r
		}
		if c := im.securityContext(src, f, st.SecurityContext); len(c) > 0 {
			m["securityContext"] = c
		}
		if ms := im.mounts(src, f, st.VolumeMounts); len(ms) > 0 {
			m["volumeMounts"] = ms
		}
		if len(m) > 0 {
			out["stepTemplate"] = m
		}
	}
	if len(s.Volumes) > 0 {
		vols := map[string]any{}
		for i, v := range s.Volumes {
			f := fmt.Sprintf("%s.volumes[%d]", at, i)
			m, err := plain(v.VolumeSource)
			if err == nil {
				err = compiler.Validate("#Volume", m)
			}
			if err != nil {
				im.unsupported(src, f, fmt.Sprintf("volume %q (%v)", v.Name, err))
				continue
			}
			vols[v.Name] = m
		}
		if len(vols) > 0 {
			out["volumes"] = vols
		}
	}
	var sidecars []any
	for i, sc := range s.Sidecars {
		f := fmt.Sprintf("%s.sidecars[%d]", at, i)
		m := im.container(src, f, sc)
		if sc.ReadinessProbe != nil {
			p, err := plain(sc.ReadinessProbe)
			if err == nil {
				err = compiler.Validate("#Probe", p)
			}
			if err != nil {
				im.unsupported(src, f+".readinessProbe", fmt.Sprintf("a readiness probe field (%v)", err))
			} else {
				m.ReadinessProbe = p
			}
		}
		for field, set := range map[string]bool{
			"ports": len(sc.Ports) > 0, "livenessProbe": sc.LivenessProbe != nil, "startupProbe": sc.StartupProbe != nil,
			"lifecycle": sc.Lifecycle != nil, "volumeDevices": len(sc.VolumeDevices) > 0,
			"stdin":      sc.Stdin || sc.StdinOnce || sc.TTY,
			"workspaces": len(sc.Workspaces) > 0, "restartPolicy": sc.RestartPolicy != nil,
		} {
			if set {
				im.unsupported(src, f+"."+field, "a sidecar's "+field)
			}
		}
		sidecars = append(sidecars, m)
	}
	if len(sidecars) > 0 {
		out["sidecars"] = sidecars
	}
}

func (im *importer) mounts(src, f string, ms []corev1.VolumeMount) []any {
	var out []any
	for i, vm := range ms {
		m := mountOut{Name: vm.Name, MountPath: vm.MountPath, ReadOnly: vm.ReadOnly, SubPath: vm.SubPath}
		if vm.SubPathExpr != "" || vm.MountPropagation != nil || vm.RecursiveReadOnly != nil {
			im.unsupported(src, fmt.Sprintf("%s.volumeMounts[%d]", f, i), "subPathExpr, mountPropagation and recursiveReadOnly")
		}
		out = append(out, m)
	}
	return out
}

// mountOut is a volume mount in the order people read one.
type mountOut struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
}

// plain turns a Kubernetes value into maps, slices and scalars, as its
// JSON has it.
func plain(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return numbers(m).(map[string]any), nil
}

// numbers turns JSON numbers into int64 (Kubernetes' volume and probe
// fields are whole numbers).
func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
	}
	return v
}

// when converts when expressions.
func (im *importer) when(src, f string, in v1.WhenExpressions) []any {
	var ws []any
	for _, w := range in {
		if w.CEL != "" {
			ws = append(ws, map[string]any{"cel": w.CEL})
			im.flags["enable-cel-in-whenexpression"] = true
			continue
		}
		ws = append(ws, map[string]any{"input": w.Input, "operator": string(w.Operator), "values": w.Values})
	}
	return ws
}

// resolverParams converts a resolver's params, which are strings.
func (im *importer) resolverParams(src, f string, params v1.Params) map[string]any {
	ps := map[string]any{}
	for i, p := range params {
		if p.Value.Type != v1.ParamTypeString && p.Value.Type != "" {
			im.unsupported(src, fmt.Sprintf("%s.params[%d]", f, i), fmt.Sprintf("a resolver parameter of type %s (Tekton's resolvers read strings)", p.Value.Type))
			continue
		}
		ps[p.Name] = p.Value.StringVal
	}
	return ps
}

// refOut is a remote task's reference, resolver first.
type refOut struct {
	Resolver string         `json:"resolver"`
	Params   map[string]any `json:"params,omitempty"`
}

// container converts what steps and sidecars share (a step's fields are
// passed as a Sidecar, which has them all).
func (im *importer) container(src, f string, c v1.Sidecar) stepOut {
	m := stepOut{Name: c.Name, Image: c.Image, ImagePullPolicy: string(c.ImagePullPolicy), EnvFrom: envFrom(c.EnvFrom),
		Script: c.Script, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir}
	if env := im.env(src, f, c.Env); len(env) > 0 {
		m.Env = env
	}
	if r := resources(c.ComputeResources); len(r) > 0 {
		m.Resources = r
	}
	if sc := im.securityContext(src, f, c.SecurityContext); len(sc) > 0 {
		m.SecurityContext = sc
	}
	m.VolumeMounts = im.mounts(src, f, c.VolumeMounts)
	return m
}

// stepOut is a step in the order people read one.
type stepOut struct {
	Name            string         `json:"name"`
	DisplayName     string         `json:"displayName,omitempty"`
	ImagePullPolicy string         `json:"imagePullPolicy,omitempty"`
	EnvFrom         []any          `json:"envFrom,omitempty"`
	Image           string         `json:"image,omitempty"`
	WorkingDir      string         `json:"workingDir,omitempty"`
	Env             map[string]any `json:"env,omitempty"`
	Script          string         `json:"script,omitempty"`
	Command         []string       `json:"command,omitempty"`
	Args            []string       `json:"args,omitempty"`
	Resources       map[string]any `json:"resources,omitempty"`
	SecurityContext map[string]any `json:"securityContext,omitempty"`
	Timeout         string         `json:"timeout,omitempty"`
	OnError         string         `json:"onError,omitempty"`
	VolumeMounts    []any          `json:"volumeMounts,omitempty"`
	When            []any          `json:"when,omitempty"`
	Results         map[string]any `json:"results,omitempty"`
	Ref             map[string]any `json:"ref,omitempty"`
	Params          map[string]any `json:"params,omitempty"`
	ReadinessProbe  map[string]any `json:"readinessProbe,omitempty"`
}

func (im *importer) env(src, f string, env []corev1.EnvVar) map[string]any {
	out := map[string]any{}
	for i, e := range env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = map[string]any{"secret": map[string]any{"name": e.ValueFrom.SecretKeyRef.Name, "key": e.ValueFrom.SecretKeyRef.Key}}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			out[e.Name] = map[string]any{"configMap": map[string]any{"name": e.ValueFrom.ConfigMapKeyRef.Name, "key": e.ValueFrom.ConfigMapKeyRef.Key}}
		case e.ValueFrom.FieldRef != nil:
			out[e.Name] = map[string]any{"field": e.ValueFrom.FieldRef.FieldPath}
		default:
			im.unsupported(src, fmt.Sprintf("%s.env[%d].valueFrom", f, i), "an environment value from a field or resource reference")
		}
	}
	return out
}

// envFrom converts a container's envFrom.
func envFrom(in []corev1.EnvFromSource) []any {
	var out []any
	for _, e := range in {
		m := map[string]any{}
		if e.SecretRef != nil {
			m["secret"] = e.SecretRef.Name
		}
		if e.ConfigMapRef != nil {
			m["configMap"] = e.ConfigMapRef.Name
		}
		setIf(m, "prefix", e.Prefix)
		out = append(out, m)
	}
	return out
}

func resources(r corev1.ResourceRequirements) map[string]any {
	out := map[string]any{}
	for name, list := range map[string]corev1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		m := map[string]any{}
		for res, q := range list {
			// pipec's #ResourceList: cpu, memory, ephemeral storage and
			// extended resources (verify reports the rest).
			if n := string(res); n == "cpu" || n == "memory" || n == "ephemeral-storage" || strings.Contains(n, "/") {
				m[n] = q.String()
			}
		}
		if len(m) > 0 {
			out[name] = m
		}
	}
	return out
}

func (im *importer) securityContext(src, f string, sc *corev1.SecurityContext) map[string]any {
	if sc == nil {
		return nil
	}
	m := map[string]any{}
	if sc.RunAsNonRoot != nil {
		m["runAsNonRoot"] = *sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		m["runAsUser"] = *sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		m["runAsGroup"] = *sc.RunAsGroup
	}
	if sc.AllowPrivilegeEscalation != nil {
		m["allowPrivilegeEscalation"] = *sc.AllowPrivilegeEscalation
	}
	if sc.Privileged != nil {
		m["privileged"] = *sc.Privileged
	}
	if sc.ReadOnlyRootFilesystem != nil {
		m["readOnlyRootFilesystem"] = *sc.ReadOnlyRootFilesystem
	}
	if sc.SeccompProfile != nil {
		m["seccompProfile"] = string(sc.SeccompProfile.Type)
	}
	if sc.Capabilities != nil {
		c := map[string]any{}
		if len(sc.Capabilities.Add) > 0 {
			c["add"] = sc.Capabilities.Add
		}
		if len(sc.Capabilities.Drop) > 0 {
			c["drop"] = sc.Capabilities.Drop
		}
		m["capabilities"] = c
	}
	if sc.SELinuxOptions != nil || sc.WindowsOptions != nil || sc.ProcMount != nil || sc.AppArmorProfile != nil {
		im.unsupported(src, f+".securityContext", "SELinux, Windows, procMount and AppArmor options")
	}
	return m
}

func (im *importer) pipeline(p *v1.Pipeline) {
	src := "Pipeline " + p.Name
	s := &p.Spec
	out := map[string]any{}
	meta(out, s.Description, s.DisplayName, p.Labels, p.Annotations)
	if ps := im.params(s.Params); len(ps) > 0 {
		out["params"] = ps
	}
	if len(s.Workspaces) > 0 {
		ws := map[string]any{}
		for _, w := range s.Workspaces {
			m := map[string]any{}
			setIf(m, "description", w.Description)
			if w.Optional {
				m["optional"] = true
			}
			ws[w.Name] = m
		}
		out["workspaces"] = ws
	}
	if len(s.Results) > 0 {
		rs := map[string]any{}
		for _, r := range s.Results {
			m := map[string]any{"value": paramValue(r.Value)}
			if r.Type != "" && r.Type != v1.ResultsTypeString {
				m["type"] = string(r.Type)
			}
			setIf(m, "description", r.Description)
			rs[r.Name] = m
		}
		out["results"] = rs
	}
	tasks := map[string]any{}
	for i, t := range s.Tasks {
		tasks[t.Name] = im.pipelineTask(src, fmt.Sprintf("spec.tasks[%d]", i), t, true)
	}
	out["tasks"] = tasks
	if len(s.Finally) > 0 {
		fin := map[string]any{}
		for i, t := range s.Finally {
			fin[t.Name] = im.pipelineTask(src, fmt.Sprintf("spec.finally[%d]", i), t, false)
		}
		out["finally"] = fin
	}
	im.pipelines[p.Name] = out
}

func (im *importer) pipelineTask(src, f string, t v1.PipelineTask, dag bool) map[string]any {
	m := map[string]any{}
	setIf(m, "description", t.Description)
	setIf(m, "displayName", t.DisplayName)
	switch {
	case t.TaskRef != nil && t.TaskRef.Resolver != "":
		m["ref"] = refOut{Resolver: string(t.TaskRef.Resolver), Params: im.resolverParams(src, f+".taskRef", t.TaskRef.Params)}
	case t.TaskRef != nil:
		if t.TaskRef.Kind != "" && t.TaskRef.Kind != v1.NamespacedTaskKind {
			im.unsupported(src, f+".taskRef.kind", fmt.Sprintf("a task of kind %s", t.TaskRef.Kind))
		}
		m["uses"] = t.TaskRef.Name
		im.uses = append(im.uses, use{src: src, field: f + ".taskRef.name", task: t.TaskRef.Name})
	case t.TaskSpec != nil:
		spec := t.TaskSpec.TaskSpec
		if l := t.TaskSpec.Metadata.Labels; len(l) > 0 {
			m["labels"] = l
		}
		if a := t.TaskSpec.Metadata.Annotations; len(a) > 0 {
			m["annotations"] = a
		}
		m["steps"] = im.steps(src, f+".taskSpec", &spec)
		im.pod(src, f+".taskSpec", &spec, m)
		if rs := results(spec.Results); len(rs) > 0 {
			m["results"] = rs
		}
		// pipec declares an inline task's params from its bindings;
		// defaults of unbound params would be lost.
		for _, p := range spec.Params {
			if !hasParam(t.Params, p.Name) {
				if p.Default != nil {
					if _, ok := m["params"]; !ok {
						m["params"] = map[string]any{}
					}
					m["params"].(map[string]any)[p.Name] = paramValue(*p.Default)
				}
			}
		}
	}
	if len(t.Params) > 0 {
		ps, _ := m["params"].(map[string]any)
		if ps == nil {
			ps = map[string]any{}
		}
		for _, p := range t.Params {
			ps[p.Name] = paramValue(p.Value)
		}
		m["params"] = ps
	}
	if len(t.Workspaces) > 0 {
		ws := map[string]any{}
		for _, w := range t.Workspaces {
			// Without a workspace, Tekton binds the pipeline's workspace
			// of the same name.
			from := cmp.Or(w.Workspace, w.Name)
			b := map[string]any{"from": from}
			setIf(b, "subPath", w.SubPath)
			if t.TaskSpec != nil {
				// An inline task's declaration says how its steps see
				// the workspace.
				for _, d := range t.TaskSpec.Workspaces {
					if d.Name == w.Name {
						setIf(b, "mountPath", d.MountPath)
						if d.ReadOnly {
							b["readOnly"] = true
						}
					}
				}
			}
			if len(b) == 1 {
				ws[w.Name] = from
			} else {
				ws[w.Name] = b
			}
		}
		m["workspaces"] = ws
	}
	if dag && len(t.RunAfter) > 0 {
		m["after"] = t.RunAfter
	}
	if ws := im.when(src, f, t.When); len(ws) > 0 {
		m["when"] = ws
	}
	if t.Retries > 0 {
		m["retries"] = t.Retries
	}
	if t.Timeout != nil {
		m["timeout"] = t.Timeout.Duration.String()
	}
	if t.Matrix != nil {
		mx := map[string]any{}
		if len(t.Matrix.Params) > 0 {
			ps := map[string]any{}
			for _, p := range t.Matrix.Params {
				// A list, or a string holding a whole array reference
				// ($(params.browsers[*])).
				ps[p.Name] = paramValue(p.Value)
			}
			mx["params"] = ps
		}
		if len(t.Matrix.Include) > 0 {
			inc := map[string]any{}
			for i, in := range t.Matrix.Include {
				name := in.Name
				if name == "" {
					name = fmt.Sprintf("include-%d", i)
				}
				ps := map[string]any{}
				for _, p := range in.Params {
					ps[p.Name] = p.Value.StringVal
				}
				inc[name] = ps
			}
			mx["include"] = inc
		}
		m["matrix"] = mx
	}
	if t.OnError != "" && dag {
		m["onError"] = string(t.OnError)
	} else if t.OnError != "" {
		im.unsupported(src, f+".onError", "a finally task's onError")
	}
	if t.PipelineRef != nil || t.PipelineSpec != nil {
		im.unsupported(src, f+".pipelineRef", "pipelines in pipelines")
	}
	return m
}

func hasParam(ps v1.Params, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}
