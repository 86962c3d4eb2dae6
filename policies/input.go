package policies

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/argo"
	"github.com/pipec/pipec/targets/flux"
)

// Input is what packs check: the configuration flattened into lists, each
// item with the CUE path it came from and its environment. Its shape is
// #Input in the policy package.
type Input struct {
	Steps           []Step           `json:"steps"`
	Images          []Image          `json:"images"`
	Volumes         []Volume         `json:"volumes"`
	Params          []Param          `json:"params"`
	Tasks           []Task           `json:"tasks"`
	Pipelines       []Pipeline       `json:"pipelines"`
	RemoteTasks     []RemoteTask     `json:"remoteTasks"`
	ServiceAccounts []ServiceAccount `json:"serviceAccounts"`
	Roles           []Role           `json:"roles"`
	Bindings        []Binding        `json:"bindings"`
	Environments    []Environment    `json:"environments"`
	AppProjects     []AppProject     `json:"appProjects"`
	Applications    []Application    `json:"applications"`
	// FluxDeployments are the Flux Kustomizations and HelmReleases of
	// apps (targets/flux), the Flux counterpart of Applications.
	FluxDeployments []FluxDeployment `json:"fluxDeployments"`
	Deployments     []Deployment     `json:"deployments"`
	Listeners       []Listener       `json:"listeners"`
	Autoscalers     []Autoscaler     `json:"autoscalers"`
	Objects         []Object         `json:"objects"`
	// Secrets are the strings of the configuration that hold a
	// credential (FindSecrets).
	Secrets  []Secret `json:"secrets"`
	Settings Settings `json:"settings"`

	// pending are the objects Objects is made from, rendered only when a
	// pack reads them.
	pending []pendingObject
	// parsed are the images image parsed, by reference.
	parsed map[string]Image
}

type pendingObject struct {
	item Item
	obj  targets.Object
}

// loadObjects renders the pending objects into Objects.
func (in *Input) loadObjects() error {
	if len(in.Objects) > 0 || len(in.pending) == 0 {
		return nil
	}
	for _, p := range in.pending {
		norm, err := render.Normalize(p.obj.Value)
		if err != nil {
			return err
		}
		in.Objects = append(in.Objects, Object{Item: p.item, APIVersion: p.obj.APIVersion, Kind: p.obj.Kind, Name: p.obj.Name, Namespace: p.obj.Namespace, Object: norm})
	}
	return nil
}

// Item is what every input item has.
type Item struct {
	Path        string `json:"path"`
	Environment string `json:"environment"`
}

func item(p model.Path, env string) Item { return Item{Path: string(p), Environment: env} }

type (
	// Step is a container pipec generates.
	Step struct {
		Item
		Task string `json:"task"`
		// Container is "step" or "sidecar".
		Container                string    `json:"container"`
		Name                     string    `json:"name"`
		Image                    string    `json:"image"`
		Privileged               bool      `json:"privileged"`
		AllowPrivilegeEscalation bool      `json:"allowPrivilegeEscalation"`
		RunAsNonRoot             bool      `json:"runAsNonRoot"`
		RunAsUser                int64     `json:"runAsUser"`
		SeccompProfile           string    `json:"seccompProfile"`
		CapabilitiesAdd          []string  `json:"capabilitiesAdd"`
		CapabilitiesDrop         []string  `json:"capabilitiesDrop"`
		ReadOnlyRootFilesystem   bool      `json:"readOnlyRootFilesystem"`
		Requests                 Resources `json:"requests"`
		Limits                   Resources `json:"limits"`
		Env                      []EnvVar  `json:"env"`
		Script                   string    `json:"script"`
		Command                  []string  `json:"command"`
		Args                     []string  `json:"args"`
	}
	// Resources are quantities by name.
	Resources struct {
		CPU    string `json:"cpu"`
		Memory string `json:"memory"`
	}
	// EnvVar is a step's environment variable.
	EnvVar struct {
		Path          string `json:"path"`
		Name          string `json:"name"`
		Value         string `json:"value"`
		FromSecret    bool   `json:"fromSecret"`
		FromConfigMap bool   `json:"fromConfigMap"`
	}
	// Volume is a volume of a task's pod.
	Volume struct {
		Item
		Task     string `json:"task"`
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		HostPath string `json:"hostPath"`
	}
	// Image is an image a step or app runs.
	Image struct {
		Item
		Kind       string `json:"kind"`
		Image      string `json:"image"`
		Registry   string `json:"registry"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
	}
	// Param is a declared parameter with a string default.
	Param struct {
		Item
		Name    string `json:"name"`
		Default string `json:"default"`
	}
	// Task is a task definition pipelines run.
	Task struct {
		Item
		Name       string   `json:"name"`
		Results    []string `json:"results"`
		StepImages []string `json:"stepImages"`
	}
	// Pipeline is a pipeline.
	Pipeline struct {
		Item
		Name           string `json:"name"`
		Namespace      string `json:"namespace"`
		Timeout        string `json:"timeout"`
		Triggered      bool   `json:"triggered"`
		ServiceAccount string `json:"serviceAccount"`
		// Forks is on.pullRequest.forks; "" when pull requests do not
		// start the pipeline.
		Forks string `json:"forks"`
		// Credentials reports whether the pipeline's runs have any: a
		// workspace a Secret backs, a step reading a Secret, permissions.
		Credentials bool `json:"credentials"`
		// Gates: the repository the pipeline's gates check ("" without
		// gates), whether they scan it and sign it, and whether a failing
		// scan fails the run (true without a scan).
		GatedImage string `json:"gatedImage"`
		Scans      bool   `json:"scans"`
		Signs      bool   `json:"signs"`
		ScanFatal  bool   `json:"scanFatal"`
		// ScanPath is the path of the scan gate ("" without one).
		ScanPath string `json:"scanPath"`
	}
	// RemoteTask is a pipeline task whose task Tekton resolves when the
	// pipeline runs (ref).
	RemoteTask struct {
		Item
		// What names it: "task clone of pipeline build", "the
		// StepAction of step clone of task build".
		What     string `json:"what"`
		Pipeline string `json:"pipeline"`
		Task     string `json:"task"`
		Resolver string `json:"resolver"`
		// Source is where the task comes from: the bundle, the git or
		// http URL, the hub or cluster name.
		Source string `json:"source"`
		// Pinned is whether the reference always resolves to the same
		// task (model.Ref.Pinned); PinPath is the parameter that
		// decides it, and PinFix what would pin it.
		Pinned  bool   `json:"pinned"`
		PinPath string `json:"pinPath"`
		PinFix  string `json:"pinFix"`
	}
	// ServiceAccount is a generated ServiceAccount.
	ServiceAccount struct {
		Item
		Name           string `json:"name"`
		Namespace      string `json:"namespace"`
		AutomountToken bool   `json:"automountToken"`
		HasPermissions bool   `json:"hasPermissions"`
	}
	// Role is a Role or ClusterRole.
	Role struct {
		Item
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		Rules     []Rule `json:"rules"`
	}
	// Rule is an RBAC rule.
	Rule struct {
		// Path is where the rule was written: a pipeline's permission,
		// or the role's own path.
		Path          string   `json:"path"`
		APIGroups     []string `json:"apiGroups"`
		Resources     []string `json:"resources"`
		Verbs         []string `json:"verbs"`
		ResourceNames []string `json:"resourceNames"`
	}
	// Binding is a RoleBinding or ClusterRoleBinding.
	Binding struct {
		Item
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		RoleRef   struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"roleRef"`
		Subjects []Subject `json:"subjects"`
	}
	// Subject of a binding.
	Subject struct {
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	// Environment is a managed namespace.
	Environment struct {
		Item
		Name        string `json:"name"`
		Namespace   string `json:"namespace"`
		Cluster     string `json:"cluster"`
		Production  bool   `json:"production"`
		PodSecurity string `json:"podSecurity"`
		Quota       bool   `json:"quota"`
		LimitRange  bool   `json:"limitRange"`
		DefaultDeny bool   `json:"defaultDeny"`
		EgressCIDRs []CIDR `json:"egressCIDRs"`
		// EgressShare is the share of the IPv4 (or IPv6) address space
		// the egress CIDRs, the Kubernetes API's included, cover together.
		EgressShare float64 `json:"egressShare"`
		// EgressWidest is the egress CIDR that covers the most addresses.
		EgressWidest CIDR `json:"egressWidest"`
		SyncWindows  int  `json:"syncWindows"`
		// AdmissionAllow are the entries of the environment's
		// admission.allow that are valid, with their scope
		// (model.ImagePatterns: reference, repository, path, registry).
		AdmissionAllow []AllowedImage `json:"admissionAllow"`
	}
	// AllowedImage is an entry of an environment's admission allow-list.
	AllowedImage struct {
		Path  string `json:"path"`
		Image string `json:"image"`
		Scope string `json:"scope"`
	}
	// CIDR is an egress destination.
	CIDR struct {
		Path string `json:"path"`
		CIDR string `json:"cidr"`
	}
	// AppProject is a team's Argo CD project.
	AppProject struct {
		Item
		Name        string   `json:"name"`
		SourceRepos []string `json:"sourceRepos"`
		// SourceRepoPaths are where each of SourceRepos is written, at
		// the same index.
		SourceRepoPaths  []string    `json:"sourceRepoPaths"`
		Destinations     []Dest      `json:"destinations"`
		ClusterResources []GroupKind `json:"clusterResources"`
		Protected        []GroupKind `json:"protected"`
		Production       bool        `json:"production"`
		SyncWindows      int         `json:"syncWindows"`
	}
	// Dest is an Argo CD destination.
	Dest struct {
		Server    string `json:"server"`
		Namespace string `json:"namespace"`
	}
	// GroupKind names a kind, at the path it is written at (the
	// project's, for the kinds pipec protects).
	GroupKind struct {
		Path  string `json:"path"`
		Group string `json:"group"`
		Kind  string `json:"kind"`
	}
	// Application is an Argo CD Application.
	Application struct {
		Item
		Name       string `json:"name"`
		Project    string `json:"project"`
		Production bool   `json:"production"`
		Automated  bool   `json:"automated"`
	}
	// FluxDeployment is a Flux Kustomization or HelmRelease of an app in
	// an environment.
	FluxDeployment struct {
		Item
		Kind               string `json:"kind"`
		Name               string `json:"name"`
		Namespace          string `json:"namespace"`
		Team               string `json:"team"`
		ServiceAccountName string `json:"serviceAccountName"`
		TargetNamespace    string `json:"targetNamespace"`
		Production         bool   `json:"production"`
		Suspended          bool   `json:"suspended"`
	}
	// Deployment is an app in an environment.
	Deployment struct {
		Item
		App        string `json:"app"`
		Production bool   `json:"production"`
		Replicas   int64  `json:"replicas"`
		Strategy   string `json:"strategy"`
		// Objectives are the names of the objectives and tests the
		// strategy's analysis runs (none for a rolling update).
		Objectives []string `json:"objectives"`
		// ImageRepository is the app's image repository ("" when the
		// app sets no image); ImageScanned and ImageSigned say whether a
		// pipeline's gates scan and sign it: the pipeline its digest
		// comes from (image.fromPipeline), or one gating that
		// repository. Pipelines belong to the CI environment, so this is
		// worked out here, for the app's environment to see.
		ImageRepository string `json:"imageRepository"`
		ImageScanned    bool   `json:"imageScanned"`
		ImageSigned     bool   `json:"imageSigned"`
	}
	// Listener is an EventListener.
	Listener struct {
		Item
		Name     string `json:"name"`
		Replicas int32  `json:"replicas"`
	}
	// Autoscaler is a HorizontalPodAutoscaler with its
	// PodDisruptionBudget.
	Autoscaler struct {
		Item
		Name        string `json:"name"`
		Production  bool   `json:"production"`
		Target      string `json:"target"`
		MinReplicas int32  `json:"minReplicas"`
		MaxReplicas int32  `json:"maxReplicas"`
		// MaxUnavailable or MinAvailable of the PodDisruptionBudget: a
		// number or a percentage, "" when unset.
		MaxUnavailable string `json:"maxUnavailable"`
		MinAvailable   string `json:"minAvailable"`
	}
	// Object is a generated object as rendered.
	Object struct {
		Item
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Namespace  string `json:"namespace"`
		Object     any    `json:"object"`
	}
	// Settings are the configuration's policy settings.
	Settings struct {
		AllowedRegistries []string `json:"allowedRegistries"`
	}
)

// credentials reports whether runs of p have credentials: a run workspace
// a Secret backs, a step reading a Secret through env, or permissions.
func credentials(plan *model.Plan, p *model.Pipeline) bool {
	if len(p.Permissions) > 0 {
		return true
	}
	if p.On != nil && slices.ContainsFunc(p.On.Workspaces, func(w *model.RunWorkspace) bool { return w.Secret != "" }) {
		return true
	}
	for _, t := range append(slices.Clone(p.Tasks), p.Finally...) {
		if def := plan.Definition(t); def != nil {
			for _, s := range def.Containers() {
				if slices.ContainsFunc(s.Env, func(e *model.EnvVar) bool { return e.SecretRef != nil }) ||
					slices.ContainsFunc(s.EnvFrom, func(f *model.EnvFrom) bool { return f.Secret != "" }) {
					return true
				}
			}
			if slices.ContainsFunc(def.Volumes, func(v *model.Volume) bool { return len(v.Credentials()) > 0 }) {
				return true
			}
		}
	}
	return false
}

// NewInput flattens a plan and its generated objects; texts are the
// configuration's strings, searched for credentials.
func NewInput(plan *model.Plan, objs []targets.Object, texts []Text, settings Settings) (*Input, error) {
	in := &Input{Settings: settings}
	if in.Settings.AllowedRegistries == nil {
		in.Settings.AllowedRegistries = []string{}
	}
	ciEnv := ""
	if e := plan.EnvironmentForNamespace(plan.Namespace); e != nil && plan.Namespace != "" {
		ciEnv = e.Name
	}

	seen := map[model.Path]bool{}
	for _, p := range plan.Pipelines {
		pl := Pipeline{
			Item: item(p.Path, ciEnv), Name: p.Name, Namespace: plan.Namespace, Timeout: p.Timeout,
			Triggered: p.On != nil, ServiceAccount: p.ServiceAccount(), Credentials: credentials(plan, p),
		}
		if p.On != nil && p.On.PullRequest != nil {
			pl.Forks = p.On.PullRequest.Forks
		}
		pl.ScanFatal = true
		if g := p.Gates; g != nil {
			pl.GatedImage = g.Image
			pl.Signs = g.Sign != nil
			if g.Scan != nil {
				pl.Scans, pl.ScanFatal, pl.ScanPath = true, g.Scan.Fatal(), string(g.Scan.Path)
			}
		}
		in.Pipelines = append(in.Pipelines, pl)
		for _, prm := range p.Params {
			if prm.Default != nil && prm.Default.Type == model.TypeString {
				in.Params = append(in.Params, Param{Item: item(prm.Path.Field("default"), ciEnv), Name: prm.Name, Default: prm.Default.String})
			}
		}
		if p.Ref != nil {
			in.addRef(p.Ref, "pipeline "+p.Name, p.Name, "", ciEnv)
		}
		for _, t := range append(slices.Clone(p.Tasks), p.Finally...) {
			if t.Ref != nil {
				in.addRef(t.Ref, fmt.Sprintf("task %s of pipeline %s", t.Name, p.Name), p.Name, t.Name, ciEnv)
			}
			def := plan.Definition(t)
			if def == nil {
				continue
			}
			in.addImageArgs(p, t, def, ciEnv)
			if seen[def.Path] {
				continue
			}
			seen[def.Path] = true
			in.addTask(def, ciEnv)
		}
	}
	// Library tasks no pipeline uses are emitted too: they are checked
	// like the others.
	for _, t := range plan.Tasks {
		if !seen[t.Path] {
			seen[t.Path] = true
			in.addTask(t, ciEnv)
		}
	}
	for _, e := range plan.Environments {
		env := Environment{
			Item: item(e.Path, e.Name), Name: e.Name, Namespace: e.Namespace, Cluster: e.Cluster, Production: e.Production,
			PodSecurity: e.PodSecurity, Quota: e.Quota != nil, LimitRange: true, DefaultDeny: e.Network.DefaultDeny,
			EgressCIDRs: []CIDR{}, SyncWindows: -1, AdmissionAllow: []AllowedImage{},
		}
		if e.Admission != nil {
			for _, a := range e.Admission.Allow {
				if _, scope, err := model.ImagePatterns(a.Image); err == nil {
					env.AdmissionAllow = append(env.AdmissionAllow, AllowedImage{Path: string(a.Path), Image: a.Image, Scope: scope})
				}
			}
		}
		if e.SyncWindows != nil {
			env.SyncWindows = len(e.SyncWindows)
		}
		var cidrs []string
		for _, r := range append(slices.Clone(e.Network.Egress), e.Network.KubernetesAPI) {
			if r == nil {
				continue
			}
			for i, c := range r.CIDRs {
				cidr := CIDR{Path: string(r.Path.Field("cidrs").Index(i)), CIDR: c}
				env.EgressCIDRs = append(env.EgressCIDRs, cidr)
				cidrs = append(cidrs, c)
				if env.EgressWidest.CIDR == "" || egressShare([]string{c}) > egressShare([]string{env.EgressWidest.CIDR}) {
					env.EgressWidest = cidr
				}
			}
		}
		env.EgressShare = egressShare(cidrs)
		in.Environments = append(in.Environments, env)
	}
	gated, gatedByName := gatedPipelines(plan)
	for _, a := range plan.Apps {
		for _, d := range a.Deployments {
			env := plan.Environment(d.Environment)
			prod := env != nil && env.Production
			strategy := "rolling"
			switch {
			case d.Strategy.Canary != nil:
				strategy = "canary"
			case d.Strategy.BlueGreen != nil:
				strategy = "blueGreen"
			}
			objectives := []string{}
			if strategy != "rolling" {
				an := d.ResolveAnalyses()
				for _, st := range an.Steps {
					objectives = append(objectives, st.Analysis...)
				}
				for _, list := range [][]string{an.Background, an.PrePromotion, an.PostPromotion} {
					objectives = append(objectives, list...)
				}
				slices.Sort(objectives)
				objectives = slices.Compact(objectives)
			}
			dep := Deployment{Item: item(d.Path, d.Environment), App: a.Name, Production: prod, Replicas: d.Replicas, Strategy: strategy, Objectives: objectives}
			if d.Image != nil {
				dep.ImageRepository = d.Image.Repository
				// The pipeline the image comes from (only that one with
				// fromPipeline; otherwise one gating its repository)
				// scans it, and signs it for this environment's
				// admission policy.
				candidates := gated[repositoryName(d.Image.Repository)]
				if fp := d.Image.FromPipeline; fp != nil {
					candidates = nil
					if p := gatedByName[fp.Pipeline]; p != nil {
						candidates = []*model.Pipeline{p}
					}
				}
				for _, p := range candidates {
					if slices.Contains(p.Gates.Sign.Admit, d.Environment) {
						dep.ImageScanned, dep.ImageSigned = true, true
					}
				}
			}
			in.Deployments = append(in.Deployments, dep)
			if d.Image != nil && (d.Image.Digest != "" || d.Image.Tag != "") {
				in.Images = append(in.Images, in.image(item(d.Image.Path, d.Environment), "app", d.Image.Ref()))
			}
			// A release's test Jobs run in its namespace, with the
			// same rules for images as the app.
			for _, t := range d.Tests {
				in.Images = append(in.Images, in.image(item(t.Path.Field("image"), d.Environment), "test", t.Image))
			}
		}
	}
	for _, a := range plan.Scaling.Autoscalers {
		env := plan.Environment(a.Environment)
		target := a.TargetKind + "/" + a.TargetName
		if a.Listener {
			target = "EventListener"
		}
		in.Autoscalers = append(in.Autoscalers, Autoscaler{Item: item(a.Path, a.Environment), Name: a.Name, Production: env != nil && env.Production,
			Target: target, MinReplicas: a.MinReplicas, MaxReplicas: a.MaxReplicas, MaxUnavailable: a.MaxUnavailable, MinAvailable: a.MinAvailable})
	}
	envOfNamespace := map[string]string{}
	for _, e := range plan.Environments {
		envOfNamespace[e.Namespace] = e.Name
	}
	// The ServiceAccounts of the pipelines with permissions, looked up
	// once, not per ServiceAccount: that was the square of the pipelines
	// (2.2 s of a 5,000-service build).
	permitted := map[string]bool{}
	for _, p := range plan.Pipelines {
		if len(p.Permissions) > 0 {
			permitted[p.ServiceAccount()] = true
		}
	}
	for _, o := range objs {
		env := ciEnv
		if e, ok := targets.DirEnv(o.Dir); ok {
			env = e
		} else if o.Dir != targets.CIDir {
			env = ""
		}
		if err := in.addObject(plan, o, env, permitted); err != nil {
			return nil, err
		}
	}
	in.Secrets = FindSecrets(texts, func(p model.Path) string { return envOfPath(p, ciEnv) })
	in.fillEmpty()
	return in, nil
}

// addRef adds a task's or a StepAction's reference; what says which.
func (in *Input) addRef(r *model.Ref, what, pipeline, task, env string) {
	pinned, fix := r.Pinned()
	pin := map[string]string{"bundles": "bundle", "git": "revision", "http": "digest", "hub": "version", "cluster": "name"}[r.Resolver]
	pinPath := r.Path.Field("params")
	if _, ok := r.Param(pin); ok {
		pinPath = pinPath.Field(pin)
	}
	if r.Resolver == "" {
		pinPath = r.Path.Field("name")
	}
	var source string
	switch r.Resolver {
	case "bundles":
		source, _ = r.Param("bundle")
	case "git":
		source, _ = r.Param("url")
		if repo, ok := r.Param("repo"); ok {
			org, _ := r.Param("org")
			source = org + "/" + repo
		}
	case "http":
		source, _ = r.Param("url")
	case "hub", "cluster":
		source, _ = r.Param("name")
		if ns, ok := r.Param("namespace"); ok {
			source = ns + "/" + source
		}
	}
	if r.Resolver == "" {
		source = r.Name
	}
	in.RemoteTasks = append(in.RemoteTasks, RemoteTask{
		Item: item(r.Path, env), What: what, Pipeline: pipeline, Task: task, Resolver: cmp.Or(r.Resolver, "namespace"), Source: source,
		Pinned: pinned, PinPath: string(pinPath), PinFix: fix,
	})
}

func (in *Input) addTask(def *model.TaskDef, env string) {
	t := Task{Item: item(def.Path, env), Name: def.Name, Results: []string{}, StepImages: []string{}}
	for _, r := range def.Results {
		t.Results = append(t.Results, r.Name)
	}
	for _, prm := range def.Params {
		if prm.Default != nil && prm.Default.Type == model.TypeString {
			in.Params = append(in.Params, Param{Item: item(prm.Path.Field("default"), env), Name: prm.Name, Default: prm.Default.String})
		}
	}
	for _, s := range def.Containers() {
		if s.Ref != nil {
			// A StepAction's image and security context are its own,
			// out of pipec's sight: it is checked as a reference.
			in.addRef(s.Ref, fmt.Sprintf("the StepAction of step %s of task %s", s.Name, def.Name), "", def.Name, env)
			continue
		}
		t.StepImages = append(t.StepImages, s.Image)
		sc := s.SecurityContext
		st := Step{
			Item: item(s.Path, env), Task: def.Name, Container: "step", Name: s.Name, Image: s.Image,
			Privileged:               sc.Privileged != nil && *sc.Privileged,
			AllowPrivilegeEscalation: sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation,
			RunAsNonRoot:             sc.RunAsNonRoot != nil && *sc.RunAsNonRoot,
			RunAsUser:                -1,
			SeccompProfile:           sc.SeccompProfile,
			CapabilitiesAdd:          nonNil(sc.CapabilitiesAdd),
			CapabilitiesDrop:         nonNil(sc.CapabilitiesDrop),
			ReadOnlyRootFilesystem:   sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
			Requests:                 Resources{CPU: s.Resources.Requests["cpu"], Memory: s.Resources.Requests["memory"]},
			Limits:                   Resources{CPU: s.Resources.Limits["cpu"], Memory: s.Resources.Limits["memory"]},
			Env:                      []EnvVar{},
			Script:                   s.Script,
			Command:                  nonNil(s.Command),
			Args:                     nonNil(s.Args),
		}
		if s.Sidecar {
			st.Container = "sidecar"
		}
		if sc.RunAsUser != nil {
			st.RunAsUser = *sc.RunAsUser
		}
		for _, e := range s.Env {
			st.Env = append(st.Env, EnvVar{Path: string(e.Path), Name: e.Name, Value: e.Value, FromSecret: e.SecretRef != nil, FromConfigMap: e.ConfigMapRef != nil})
		}
		in.Steps = append(in.Steps, st)
		if s.Image != "" && !strings.Contains(s.Image, "$(") {
			in.Images = append(in.Images, in.image(item(s.Path.Field("image"), env), "step", s.Image))
		}
		// An image made from parameters, with their defaults.
		for _, img := range model.StepImages(s, def, nil) {
			in.Images = append(in.Images, in.image(item(img.Path, env), "step", img.Image))
		}
	}
	for _, v := range def.Volumes {
		vol := Volume{Item: item(v.Path, env), Task: def.Name, Name: v.Name, Kind: strings.Join(v.Kinds(), ",")}
		if hp, ok := v.Source["hostPath"].(map[string]any); ok {
			vol.HostPath, _ = hp["path"].(string)
		}
		in.Volumes = append(in.Volumes, vol)
	}
	in.Tasks = append(in.Tasks, t)
}

// addImageArgs adds the images a step runs with the values that reach the
// parameters its image is made from in pipeline p's task t (what t
// passes, the pipeline's defaults and trigger params those refer to).
func (in *Input) addImageArgs(p *model.Pipeline, t *model.PipelineTask, def *model.TaskDef, env string) {
	for _, s := range def.Containers() {
		own := map[model.Path]bool{} // the task's defaults: addTask has them
		for _, img := range model.StepImages(s, def, nil) {
			own[img.Path] = true
		}
		for _, img := range model.PipelineStepImages(p, t, def, s) {
			if !own[img.Path] {
				in.Images = append(in.Images, in.image(item(img.Path, env), "step", img.Image))
			}
		}
	}
}

// image is the Image of ref, at it. A configuration names the same few
// images many times (each step of a stamped-out pipeline): each is parsed
// once.
func (in *Input) image(it Item, kind, ref string) Image {
	img, ok := in.parsed[ref]
	if !ok {
		img = parseImage(ref)
		if in.parsed == nil {
			in.parsed = map[string]Image{}
		}
		in.parsed[ref] = img
	}
	img.Item, img.Kind = it, kind
	return img
}

// parseImage is the Image of ref, without its item and kind.
func parseImage(ref string) Image {
	img := Image{Image: ref}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		img.Repository = ref
		return img
	}
	img.Registry = reference.Domain(named)
	img.Repository = named.Name()
	if t, ok := named.(reference.Tagged); ok {
		img.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		img.Digest = d.Digest().String()
	}
	return img
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (in *Input) addObject(plan *model.Plan, o targets.Object, env string, permitted map[string]bool) error {
	it := item(o.Source, env)
	switch v := o.Value.(type) {
	case *corev1.ServiceAccount:
		perms := v.Name == "pipec-listener" || permitted[v.Name]
		in.ServiceAccounts = append(in.ServiceAccounts, ServiceAccount{Item: it, Name: v.Name, Namespace: v.Namespace,
			AutomountToken: v.AutomountServiceAccountToken == nil || *v.AutomountServiceAccountToken, HasPermissions: perms})
	case *rbacv1.Role:
		if !fluxTenant(o) {
			in.Roles = append(in.Roles, Role{Item: it, Kind: "Role", Name: v.Name, Namespace: v.Namespace, Rules: rules(plan, v.Name, it, v.Rules)})
		}
	case *rbacv1.RoleBinding:
		if !fluxTenant(o) {
			in.Bindings = append(in.Bindings, binding(it, "RoleBinding", v.Name, v.Namespace, v.RoleRef, v.Subjects))
		}
	case *kustomizev1.Kustomization:
		in.addFlux(plan, it, v.Kind, v.ObjectMeta, v.Spec.ServiceAccountName, v.Spec.TargetNamespace, v.Spec.Suspend)
	case *helmv2.HelmRelease:
		in.addFlux(plan, it, v.Kind, v.ObjectMeta, v.Spec.ServiceAccountName, v.Spec.TargetNamespace, v.Spec.Suspend)
	case *rbacv1.ClusterRole:
		in.Roles = append(in.Roles, Role{Item: it, Kind: "ClusterRole", Name: v.Name, Rules: rules(plan, v.Name, it, v.Rules)})
	case *rbacv1.ClusterRoleBinding:
		in.Bindings = append(in.Bindings, binding(it, "ClusterRoleBinding", v.Name, "", v.RoleRef, v.Subjects))
	case *argo.AppProject:
		p := AppProject{Item: it, Name: v.Name, SourceRepos: nonNil(v.Spec.SourceRepos), SourceRepoPaths: []string{}, Destinations: []Dest{}, ClusterResources: []GroupKind{}, Protected: []GroupKind{}, SyncWindows: len(v.Spec.SyncWindows)}
		// Each repository and kind where the team writes it.
		var team *model.Team
		for _, t := range plan.Teams {
			if t.Path == o.Source {
				team = t
			}
		}
		for _, r := range p.SourceRepos {
			path := model.Path(it.Path).Field("sourceRepos")
			if team != nil && team.SourceRepoPaths[r] != "" {
				path = team.SourceRepoPaths[r]
			}
			p.SourceRepoPaths = append(p.SourceRepoPaths, string(path))
		}
		for _, d := range v.Spec.Destinations {
			p.Destinations = append(p.Destinations, Dest{Server: d.Server, Namespace: d.Namespace})
			for _, e := range plan.Environments {
				if e.Production && e.Cluster == d.Server && e.Namespace == d.Namespace {
					p.Production = true
				}
			}
		}
		for i, r := range v.Spec.ClusterResourceWhitelist {
			path := model.Path(it.Path).Field("clusterResources")
			if team != nil && i < len(team.ClusterResources) && team.ClusterResources[i].Group == r.Group && team.ClusterResources[i].Kind == r.Kind {
				path = team.ClusterResources[i].Path
			}
			p.ClusterResources = append(p.ClusterResources, GroupKind{Path: string(path), Group: r.Group, Kind: r.Kind})
		}
		for _, r := range v.Spec.NamespaceResourceBlacklist {
			p.Protected = append(p.Protected, GroupKind{Path: it.Path, Group: r.Group, Kind: r.Kind})
		}
		// The platform's own projects, and the guard rails of previews,
		// manage quotas and policies by design.
		if v.Name != argo.PlatformProject && v.Labels[argo.LabelGuardRails] == "" {
			in.AppProjects = append(in.AppProjects, p)
		}
	case *argo.Application:
		envName := v.Labels["pipec.dev/environment"]
		e := plan.Environment(envName)
		it.Environment = envName
		in.Applications = append(in.Applications, Application{Item: it, Name: v.Name, Project: v.Spec.Project,
			Production: e != nil && e.Production, Automated: v.Spec.SyncPolicy != nil && v.Spec.SyncPolicy.Automated != nil})
	case *triggersv1.EventListener:
		var replicas int32 = 1
		if k := v.Spec.Resources.KubernetesResource; k != nil && k.Replicas != nil {
			replicas = *k.Replicas
		}
		for _, a := range plan.Scaling.Autoscalers {
			if a.Listener { // the autoscaler owns the replica count
				replicas = a.MinReplicas
			}
		}
		in.Listeners = append(in.Listeners, Listener{Item: it, Name: v.Name, Replicas: replicas})
	}
	in.pending = append(in.pending, pendingObject{item: it, obj: o})
	return nil
}

// rules flattens a role's rules, each at the path it was written at: the
// permission of a pipeline it was granted from, else the role's.
func rules(plan *model.Plan, role string, it Item, rs []rbacv1.PolicyRule) []Rule {
	var perms []*model.Permission
	if name, ok := strings.CutPrefix(role, "pipec-pipeline-"); ok {
		if p := plan.Pipeline(name); p != nil {
			for _, perm := range p.Permissions {
				if perm.Environment == it.Environment {
					perms = append(perms, perm)
				}
			}
		}
	}
	out := []Rule{}
	for i, r := range rs {
		path := it.Path
		if len(perms) == len(rs) {
			path = string(perms[i].Path)
		}
		out = append(out, Rule{Path: path, APIGroups: nonNil(r.APIGroups), Resources: nonNil(r.Resources), Verbs: nonNil(r.Verbs), ResourceNames: nonNil(r.ResourceNames)})
	}
	return out
}

func binding(it Item, kind, name, ns string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) Binding {
	b := Binding{Item: it, Kind: kind, Name: name, Namespace: ns, Subjects: []Subject{}}
	b.RoleRef.Kind, b.RoleRef.Name = ref.Kind, ref.Name
	for _, s := range subjects {
		b.Subjects = append(b.Subjects, Subject{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace})
	}
	return b
}

// fillEmpty makes every list non-nil, so packs see [] rather than null.
func (in *Input) fillEmpty() {
	if in.Steps == nil {
		in.Steps = []Step{}
	}
	if in.Images == nil {
		in.Images = []Image{}
	}
	if in.Volumes == nil {
		in.Volumes = []Volume{}
	}
	if in.Params == nil {
		in.Params = []Param{}
	}
	if in.Tasks == nil {
		in.Tasks = []Task{}
	}
	if in.Pipelines == nil {
		in.Pipelines = []Pipeline{}
	}
	if in.RemoteTasks == nil {
		in.RemoteTasks = []RemoteTask{}
	}
	if in.ServiceAccounts == nil {
		in.ServiceAccounts = []ServiceAccount{}
	}
	if in.Roles == nil {
		in.Roles = []Role{}
	}
	if in.Bindings == nil {
		in.Bindings = []Binding{}
	}
	if in.Environments == nil {
		in.Environments = []Environment{}
	}
	if in.AppProjects == nil {
		in.AppProjects = []AppProject{}
	}
	if in.Applications == nil {
		in.Applications = []Application{}
	}
	if in.FluxDeployments == nil {
		in.FluxDeployments = []FluxDeployment{}
	}
	if in.Deployments == nil {
		in.Deployments = []Deployment{}
	}
	if in.Listeners == nil {
		in.Listeners = []Listener{}
	}
	if in.Autoscalers == nil {
		in.Autoscalers = []Autoscaler{}
	}
	if in.Objects == nil {
		in.Objects = []Object{}
	}
	if in.Secrets == nil {
		in.Secrets = []Secret{}
	}
}

// Filter returns the part of the input in the given environments.
func (in *Input) Filter(envs map[string]bool) *Input {
	out := &Input{Settings: in.Settings}
	out.Steps = keep(in.Steps, envs, func(x Step) string { return x.Environment })
	out.Images = keep(in.Images, envs, func(x Image) string { return x.Environment })
	out.Volumes = keep(in.Volumes, envs, func(x Volume) string { return x.Environment })
	out.Params = keep(in.Params, envs, func(x Param) string { return x.Environment })
	out.Tasks = keep(in.Tasks, envs, func(x Task) string { return x.Environment })
	out.Pipelines = keep(in.Pipelines, envs, func(x Pipeline) string { return x.Environment })
	out.RemoteTasks = keep(in.RemoteTasks, envs, func(x RemoteTask) string { return x.Environment })
	out.ServiceAccounts = keep(in.ServiceAccounts, envs, func(x ServiceAccount) string { return x.Environment })
	out.Roles = keep(in.Roles, envs, func(x Role) string { return x.Environment })
	out.Bindings = keep(in.Bindings, envs, func(x Binding) string { return x.Environment })
	out.Environments = keep(in.Environments, envs, func(x Environment) string { return x.Environment })
	out.AppProjects = keep(in.AppProjects, envs, func(x AppProject) string { return x.Environment })
	out.Applications = keep(in.Applications, envs, func(x Application) string { return x.Environment })
	out.FluxDeployments = keep(in.FluxDeployments, envs, func(x FluxDeployment) string { return x.Environment })
	out.Deployments = keep(in.Deployments, envs, func(x Deployment) string { return x.Environment })
	out.Listeners = keep(in.Listeners, envs, func(x Listener) string { return x.Environment })
	out.Autoscalers = keep(in.Autoscalers, envs, func(x Autoscaler) string { return x.Environment })
	out.Objects = keep(in.Objects, envs, func(x Object) string { return x.Environment })
	out.Secrets = keep(in.Secrets, envs, func(x Secret) string { return x.Environment })
	out.pending = keep(in.pending, envs, func(x pendingObject) string { return x.item.Environment })
	return out
}

func keep[T any](items []T, envs map[string]bool, env func(T) string) []T {
	out := []T{}
	for _, x := range items {
		if envs[env(x)] {
			out = append(out, x)
		}
	}
	return out
}

// envOfPath is the environment a configuration path belongs to: an
// environment's own fields, and an app's deployment to it, are that
// environment's; pipelines and tasks run in the CI namespace's; the rest
// (teams, apps as a whole, settings) belong to none.
func envOfPath(p model.Path, ciEnv string) string {
	s := string(p)
	switch {
	case strings.HasPrefix(s, "environments."):
		return firstLabel(strings.TrimPrefix(s, "environments."))
	case strings.HasPrefix(s, "apps."):
		if _, rest, ok := strings.Cut(s, ".environments."); ok {
			return firstLabel(rest)
		}
		return ""
	case strings.HasPrefix(s, "pipelines."), strings.HasPrefix(s, "tasks."), strings.HasPrefix(s, "defaults."), strings.HasPrefix(s, "triggers."):
		return ciEnv
	}
	return ""
}

// firstLabel is the first label of a CUE path, unquoted.
func firstLabel(s string) string {
	if strings.HasPrefix(s, `"`) {
		if i := strings.Index(s[1:], `"`); i >= 0 {
			return s[1 : i+1]
		}
	}
	if i := strings.IndexAny(s, ".["); i >= 0 {
		return s[:i]
	}
	return s
}

// fluxTenant reports whether o is the Role or RoleBinding of a team's Flux
// ServiceAccount: its permissions bound what the team may deploy, as an
// AppProject does with Argo CD, and are not a pipeline's, which the RBAC
// checks are about.
func fluxTenant(o targets.Object) bool { return o.Target == flux.Name }

// addFlux adds an app's Flux Kustomization or HelmRelease.
func (in *Input) addFlux(plan *model.Plan, it Item, kind string, m metav1.ObjectMeta, sa, targetNS string, suspend bool) {
	env := m.Labels[targets.LabelEnvironment]
	if m.Labels[flux.LabelApp] == "" {
		return // pipec's own output, not an app's
	}
	e := plan.Environment(env)
	it.Environment = env
	in.FluxDeployments = append(in.FluxDeployments, FluxDeployment{Item: it, Kind: kind, Name: m.Name, Namespace: m.Namespace,
		Team: m.Labels[flux.LabelTeam], ServiceAccountName: sa, TargetNamespace: targetNS, Production: e != nil && e.Production, Suspended: suspend})
}

// repositoryName is an image repository normalised (acme/api is
// docker.io/acme/api), or as written when it is not a reference: two
// repositories are the same when their names are.
func repositoryName(r string) string {
	if n, err := reference.ParseNormalizedNamed(r); err == nil {
		return n.Name()
	}
	return r
}

// gatedPipelines indexes the pipelines whose gates scan and sign their
// image by the repository's name and by their own, for each deployment to
// find its own in one lookup (comparing every deployment with every
// pipeline cost 14% of a 100-service build, and grows with the square of
// the services).
func gatedPipelines(plan *model.Plan) (byRepository map[string][]*model.Pipeline, byName map[string]*model.Pipeline) {
	byRepository, byName = map[string][]*model.Pipeline{}, map[string]*model.Pipeline{}
	for _, p := range plan.Pipelines {
		if g := p.Gates; g != nil && g.Scan != nil && g.Sign != nil {
			k := repositoryName(g.Image)
			byRepository[k] = append(byRepository[k], p)
			byName[p.Name] = p
		}
	}
	return byRepository, byName
}
