// Package model is the plain Go form of a pipec configuration after the
// compiler has loaded, unified and checked it. Targets read a Plan and never
// see CUE values; every node keeps the CUE path it came from so that target
// findings can be reported at the CUE source.
package model

import (
	"fmt"
	"slices"
	"strings"
)

// Plan is a whole, checked pipec configuration.
type Plan struct {
	// Namespace for the generated CI resources; empty means none.
	Namespace string
	// Tasks is the library of reusable tasks, sorted by name.
	Tasks []*TaskDef
	// Pipelines sorted by name.
	Pipelines []*Pipeline
	// Environments sorted by promotion order, then name.
	Environments []*Environment
	// Teams sorted by name.
	Teams []*Team
	// Apps sorted by name.
	Apps []*App
	// ArgoCD is where Argo CD runs.
	ArgoCD ArgoCD
	// Delivery chooses the GitOps engine; Flux is where Flux runs
	// (model/flux.go).
	Delivery Delivery
	Flux     Flux
	// StepDefaults are the resources and security settings steps start
	// from (defaults.step), for steps pipec generates itself.
	StepDefaults StepDefaults
	// Triggers configures the EventListener.
	Triggers Triggers
	// Policy configures policy checking.
	Policy Policy
	// Scaling declares autoscalers and node pools.
	Scaling Scaling
	// TektonFlags are the feature flags the Tekton installation turns on.
	TektonFlags TektonFlags
	// Analysis are the settings apps' analysis shares.
	Analysis AnalysisSettings
	// Previews are the preview environments per pull request, sorted by
	// name.
	Previews []*Preview
	// Monitoring is nil when not declared.
	Monitoring *Monitoring
	// Sources maps CUE paths to their positions.
	Sources SourceMap
}

// TektonFlags are the feature flags of Tekton's feature-flags ConfigMap
// that pipec's output may rely on.
type TektonFlags struct {
	ParamEnum bool
	CELWhen   bool
	Path      Path
}

// Task returns the reusable task with the given name, or nil.
func (p *Plan) Task(name string) *TaskDef {
	for _, t := range p.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Definition returns the task definition a pipeline task runs: its inline
// steps, or the library task it uses; nil if it uses an unknown task or a
// remote one (Ref), whose definition only Tekton sees.
func (p *Plan) Definition(t *PipelineTask) *TaskDef {
	if t.Inline != nil {
		return t.Inline
	}
	return p.Task(t.Uses)
}

// Policy configures policy checking.
type Policy struct {
	// Packs names the custom packs, sorted.
	Packs             []string
	Default           []string
	AllowedRegistries []string
	Waivers           []*Waiver
	Path              Path
}

// Waiver suppresses a check's findings at or below Scope until Expires.
type Waiver struct {
	Check   string
	Scope   Path
	Reason  string
	Expires string // YYYY-MM-DD
	// Path is where the waiver is declared.
	Path Path
	// OnField marks a waiver written as an attribute on the offending
	// field: it also covers findings reported at the field's parent (a
	// step's securityContext for its runAsNonRoot, say).
	OnField bool
}

// StepDefaults are what every step starts from.
type StepDefaults struct {
	Resources       Resources
	SecurityContext SecurityContext
}

// Value is a parameter value: a string, an array of strings or an object of
// strings.
type Value struct {
	Type   ParamType
	String string
	Array  []string
	Object map[string]string
}

// ParamType is the type of a parameter or result.
type ParamType string

// Parameter and result types.
const (
	TypeString ParamType = "string"
	TypeArray  ParamType = "array"
	TypeObject ParamType = "object"
)

// Param declares a parameter.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	Default     *Value
	// Properties are the keys of an object parameter, sorted.
	Properties []string
	// Enum are the values a string parameter takes; empty for any.
	Enum []string
	Path Path
}

// Workspace declares a workspace of a pipeline or a task.
type Workspace struct {
	Name        string
	Description string
	Optional    bool
	ReadOnly    bool
	MountPath   string
	Path        Path
}

// Result declares a task result.
type Result struct {
	Name        string
	Type        ParamType
	Description string
	Properties  []string
	// Value is a task result's step result reference,
	// $(steps.<step>.results.<name>); empty when steps write the result.
	Value string
	Path  Path
}

// PipelineResult is a pipeline result taken from task results.
type PipelineResult struct {
	Name        string
	Type        ParamType
	Description string
	Value       Value
	Path        Path
}

// TaskDef is a task: reusable (from the task library) or inline.
type TaskDef struct {
	Name        string
	Description string
	DisplayName string
	Labels      map[string]string
	Annotations map[string]string
	Params      []*Param
	Workspaces  []*Workspace
	Results     []*Result
	Steps       []*Step
	// Volumes of the task's pod, sorted by name.
	Volumes []*Volume
	// Sidecars run beside the steps; their ReadinessProbe may be set.
	Sidecars []*Step
	Path     Path
}

// Containers lists the task pod's containers pipec declares: the steps,
// then the sidecars.
func (t *TaskDef) Containers() []*Step {
	return append(append([]*Step{}, t.Steps...), t.Sidecars...)
}

// Volume returns the volume with the given name, or nil.
func (t *TaskDef) Volume(name string) *Volume {
	for _, v := range t.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Volume is a volume of a task's pod.
type Volume struct {
	Name string
	// Source is the volume source as the configuration wrote it, in
	// Kubernetes' field names: one key (emptyDir, secret, configMap,
	// projected, csi, persistentVolumeClaim, hostPath) whose value holds
	// the source's fields, as maps, lists, strings, int64s and bools.
	Source map[string]any
	Path   Path
}

// Kinds lists the sources the volume sets, sorted: one when it is right.
func (v *Volume) Kinds() []string {
	out := make([]string, 0, len(v.Source))
	for k := range v.Source {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// VolumeMount mounts a volume of the task in a step or sidecar.
type VolumeMount struct {
	Name      string
	MountPath string
	SubPath   string
	ReadOnly  bool
	Path      Path
}

// Result returns the declared result with the given name, or nil.
func (t *TaskDef) Result(name string) *Result {
	for _, r := range t.Results {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Pipeline is a CI pipeline.
type Pipeline struct {
	Name        string
	Description string
	DisplayName string
	Labels      map[string]string
	Annotations map[string]string
	Params      []*Param
	Workspaces  []*Workspace
	// Tasks in a stable topological order (dependencies first, then by
	// name).
	Tasks []*PipelineTask
	// Finally tasks sorted by name.
	Finally []*PipelineTask
	Results []*PipelineResult
	// Timeout for runs of the pipeline, a Go duration; empty if unset.
	Timeout string
	// Permissions its ServiceAccount gets in environments.
	Permissions []*Permission
	// On says which repository events start it; nil if none.
	On *On
	// Ref is set for a pipeline Tekton resolves when a run starts: it
	// has no tasks of its own then.
	Ref *Ref
	// Gates are its supply-chain gates; nil if none.
	Gates *Gates
	Path  Path
}

// ServiceAccount is the name of the ServiceAccount the pipeline runs as.
func (p *Pipeline) ServiceAccount() string { return p.Name + "-pipeline" }

// ForkServiceAccount is the name of the ServiceAccount the pipeline's runs
// for pull requests from forks run as: no token, no permissions.
func (p *Pipeline) ForkServiceAccount() string { return p.Name + "-fork" }

// ForkRuns reports whether pull requests from forks start runs of the
// pipeline without credentials (forks: "untrusted").
func (p *Pipeline) ForkRuns() bool {
	return p.On != nil && p.On.PullRequest != nil && p.On.PullRequest.Forks == ForksUntrusted
}

// Param returns the declared parameter with the given name, or nil.
func (p *Pipeline) Param(name string) *Param {
	for _, x := range p.Params {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// PipelineTask is a node of a pipeline's graph.
type PipelineTask struct {
	Name        string
	Description string
	DisplayName string
	// Uses names a reusable task; empty for inline tasks.
	Uses string
	// Inline is the task's own definition when it declares steps inline.
	Inline *TaskDef
	// Ref is the remote task Tekton resolves when the pipeline runs.
	Ref        *Ref
	Params     []*Arg
	Workspaces []*WorkspaceBinding
	// After lists the tasks this one explicitly runs after, sorted.
	After []string
	// Deps are all the tasks this one waits for: After and the tasks
	// whose results it uses, sorted. The compiler sets it.
	Deps    []string
	When    []*When
	Retries int
	// OnError is "continue" or "stopAndFail"; empty for the default.
	OnError string
	Timeout string
	Matrix  *Matrix
	Finally bool
	Path    Path
}

// Arg is a value passed to a parameter.
type Arg struct {
	Name  string
	Value Value
	Path  Path
}

// WorkspaceBinding binds a task workspace to a pipeline workspace.
type WorkspaceBinding struct {
	Name    string
	From    string
	SubPath string
	// ReadOnly and MountPath declare an inline task's workspace.
	ReadOnly  bool
	MountPath string
	Path      Path
}

// When guards a task.
type When struct {
	Input    string
	Operator string
	Values   []string
	// CEL is a CEL expression instead of input, operator and values.
	CEL  string
	Path Path
}

// Matrix fans a task out over parameter combinations.
type Matrix struct {
	Params  []*Arg
	Include []*MatrixInclude
	Path    Path
}

// MatrixInclude is an explicit matrix combination.
type MatrixInclude struct {
	Name   string
	Params []*Arg
	Path   Path
}

// Step is one container of a task.
type Step struct {
	Name        string
	DisplayName string
	Image       string
	Script      string
	Command     []string
	Args        []string
	// Env in the order Kubernetes reads it: a variable after those its
	// value reads as $(NAME), otherwise by name.
	Env []*EnvVar
	// EnvFrom are the Secrets and ConfigMaps whose keys become variables.
	EnvFrom         []*EnvFrom
	ImagePullPolicy string
	WorkingDir      string
	Resources       Resources
	SecurityContext SecurityContext
	Timeout         string
	OnError         string
	VolumeMounts    []*VolumeMount
	// When skips the step unless every expression holds.
	When []*When
	// Results the step writes, for later steps and the task's results.
	Results []*Result
	// Ref is the StepAction the step runs, instead of an image; Params
	// are the values passed to it.
	Ref    *Ref
	Params []*Arg
	// ReadinessProbe is a sidecar's, as written in Kubernetes' field
	// names (like Volume.Source); nil for steps.
	ReadinessProbe map[string]any
	// Sidecar marks a sidecar.
	Sidecar bool
	Path    Path
}

// EnvVar is an environment variable of a step.
type EnvVar struct {
	Name string
	// Value is a literal; empty when the variable comes from a reference.
	Value        string
	SecretRef    *KeyRef
	ConfigMapRef *KeyRef
	// FieldPath is a field of the pod, such as metadata.name.
	FieldPath string
	Path      Path
}

// EnvFrom sets a variable for each key of a Secret or a ConfigMap.
type EnvFrom struct {
	Secret    string
	ConfigMap string
	Prefix    string
	Path      Path
}

// KeyRef names a key of a Secret or ConfigMap.
type KeyRef struct {
	Name string
	Key  string
}

// Resources are compute requests and limits, keyed by resource name ("cpu",
// "memory") with quantity strings as values, defaults already applied.
type Resources struct {
	Requests map[string]string
	Limits   map[string]string
}

// SecurityContext is a step's effective security settings, defaults applied.
// Nil pointers mean "not set".
type SecurityContext struct {
	RunAsNonRoot             *bool
	RunAsUser                *int64
	RunAsGroup               *int64
	AllowPrivilegeEscalation *bool
	Privileged               *bool
	ReadOnlyRootFilesystem   *bool
	SeccompProfile           string
	// SeccompLocalhostProfile is the file of a Localhost profile.
	SeccompLocalhostProfile string
	CapabilitiesAdd         []string
	CapabilitiesDrop        []string
}

// Credentials lists what the volume gives its task's containers that is a
// credential: the Secrets it mounts (`Secret "name"`, from a secret
// source, a projected one, or a CSI driver's node-publish secret) and a
// ServiceAccount token it projects.
func (v *Volume) Credentials() []string {
	var out []string
	str := func(m any, keys ...string) string {
		for _, k := range keys {
			mm, ok := m.(map[string]any)
			if !ok {
				return ""
			}
			m = mm[k]
		}
		s, _ := m.(string)
		return s
	}
	if n := str(v.Source, "secret", "secretName"); n != "" {
		out = append(out, fmt.Sprintf("Secret %q", n))
	}
	if n := str(v.Source, "csi", "nodePublishSecretRef", "name"); n != "" {
		out = append(out, fmt.Sprintf("Secret %q", n))
	}
	// The Secrets Store CSI driver mounts what a SecretProviderClass
	// names (from Vault, a cloud's secret manager, ...).
	if c := str(v.Source, "csi", "volumeAttributes", "secretProviderClass"); c != "" || strings.Contains(str(v.Source, "csi", "driver"), "secrets-store") {
		out = append(out, fmt.Sprintf("the secrets of SecretProviderClass %q", c))
	}
	if p, ok := v.Source["projected"].(map[string]any); ok {
		srcs, _ := p["sources"].([]any)
		for _, s := range srcs {
			if n := str(s, "secret", "name"); n != "" {
				out = append(out, fmt.Sprintf("Secret %q", n))
			}
			if m, ok := s.(map[string]any); ok && m["serviceAccountToken"] != nil {
				out = append(out, "a token of the ServiceAccount")
			}
		}
	}
	return out
}
