package model

// ArgoCD is where Argo CD runs and where pipec's output is committed.
type ArgoCD struct {
	Namespace string
	// GitOps is the repository holding `pipec build -o` output; nil when
	// pipec's own output is not delivered by Argo CD.
	GitOps *GitOps
}

// GitOps locates committed pipec output.
type GitOps struct {
	RepoURL        string
	Path           string
	TargetRevision string
}

// Environment is a namespace on a target cluster that pipec manages.
type Environment struct {
	Name        string
	Description string
	Cluster     string
	Namespace   string
	Production  bool
	PodSecurity string
	Labels      map[string]string
	Promotion   *Promotion
	Quota       *Quota
	Limits      LimitRange
	Network     Network
	SyncWindows []*SyncWindow
	// Policy names the packs that check the environment.
	Policy []string
	// Engine is the GitOps engine delivering the environment:
	// EngineArgoCD or EngineFlux (its own, or the configuration's).
	Engine string
	// Order is the environment's position in promotion order: 0 for
	// environments nothing is promoted into them from, then 1, 2, ...
	Order int
	// Admission is what the environment admits unsigned when a sign gate
	// admits into it (model/admission.go); nil when unset.
	Admission *EnvironmentAdmission
	Path      Path
}

// Promotion says where an environment is promoted from.
type Promotion struct {
	From   string
	Manual bool
	Path   Path
}

// Quota is a namespace's ResourceQuota. Nil pointers are unset.
type Quota struct {
	Requests               map[string]string
	Limits                 map[string]string
	Pods                   *int64
	PersistentVolumeClaims *int64
	Storage                string
	PipelineRuns           *int64
	TaskRuns               *int64
	Path                   Path
}

// LimitRange holds container defaults and bounds.
type LimitRange struct {
	DefaultRequest map[string]string
	Default        map[string]string
	Max            map[string]string
	Path           Path
}

// Network describes an environment's NetworkPolicies.
type Network struct {
	DefaultDeny   bool
	DNS           bool
	SameNamespace bool
	Egress        []*EgressRule
	KubernetesAPI *EgressRule
	Ingress       []*IngressRule
	Path          Path
}

// EgressRule allows egress to CIDRs on ports.
type EgressRule struct {
	Name     string
	CIDRs    []string
	Ports    []int32
	Protocol string
	// Hosts are the host names the CIDRs serve, as the user says.
	Hosts []string
	Path  Path
}

// IngressRule allows ingress from other namespaces.
type IngressRule struct {
	Name           string
	FromNamespaces []string
	Ports          []int32
	Path           Path
}

// SyncWindow is an Argo CD sync window.
type SyncWindow struct {
	Kind       string
	Schedule   string
	Duration   string
	TimeZone   string
	ManualSync bool
	Path       Path
}

// Team owns apps; it becomes an Argo CD AppProject.
type Team struct {
	Name        string
	Description string
	// Environments the team may deploy to, resolved: explicit, or those
	// its apps use. Sorted.
	Environments []string
	// SourceRepos, resolved the same way. Sorted.
	SourceRepos      []string
	ClusterResources []GroupKind
	Roles            []*TeamRole
	// Explicit reports whether Environments and SourceRepos were declared
	// (and so restrict apps) rather than derived.
	ExplicitEnvironments bool
	ExplicitSourceRepos  bool
	// SourceRepoPaths are where each of SourceRepos is written: an
	// element of sourceRepos, or the repoURL of an app it comes from.
	SourceRepoPaths map[string]Path
	Path            Path
}

// GroupKind names a Kubernetes resource kind.
type GroupKind struct {
	Group string
	Kind  string
	Path  Path
}

// TeamRole is an Argo CD project role.
type TeamRole struct {
	Name        string
	Description string
	Groups      []string
	Actions     []string
	Path        Path
}

// App is something a team deploys.
type App struct {
	Name        string
	Team        string
	Description string
	Source      AppSource
	Image       *AppImage
	// Metrics says how Prometheus knows the app.
	Metrics AppMetrics
	// Deployments are the app's (environment) instances, settings
	// resolved, sorted by promotion order then environment name.
	Deployments []*Deployment
	Path        Path
}

// AppSource is where an app's manifests come from.
type AppSource struct {
	RepoURL        string
	Path           string
	TargetRevision string
	Type           string // kustomize, helm, directory
	Helm           *Helm
}

// Helm settings of a helm source.
type Helm struct {
	ReleaseName   string
	ValueFiles    []string
	Parameters    map[string]string
	RepositoryKey string
	TagKey        string
	DigestKey     string
}

// AppImage is an app's container image.
type AppImage struct {
	Repository   string
	Tag          string
	Digest       string
	FromPipeline *ImageFromPipeline
	Path         Path
}

// Ref formats the image as repository@digest or repository:tag.
func (i *AppImage) Ref() string {
	if i.Digest != "" {
		return i.Repository + "@" + i.Digest
	}
	if i.Tag != "" {
		return i.Repository + ":" + i.Tag
	}
	return i.Repository
}

// ImageFromPipeline takes an image digest from a pipeline result.
type ImageFromPipeline struct {
	Pipeline       string
	Result         string
	GitCredentials string
	Path           Path
}

// Strategy is how new versions roll out; exactly one field is set.
type Strategy struct {
	Rolling   *Rolling
	Canary    *Canary
	BlueGreen *BlueGreen
	Path      Path
}

// Rolling update parameters; empty strings are unset.
type Rolling struct {
	MaxSurge       string
	MaxUnavailable string
}

// Canary is an Argo Rollouts canary.
type Canary struct {
	Steps          []CanaryStep
	Analysis       []string
	StableService  string
	CanaryService  string
	MaxSurge       string
	MaxUnavailable string
}

// CanaryStep is one step; exactly one field is set.
type CanaryStep struct {
	SetWeight *int32
	Pause     *Pause
	Analysis  []string
}

// Pause pauses a canary, for a duration or until promoted.
type Pause struct {
	Duration string
}

// BlueGreen is an Argo Rollouts blue-green rollout.
type BlueGreen struct {
	ActiveService         string
	PreviewService        string
	AutoPromotionEnabled  bool
	PrePromotionAnalysis  []string
	PostPromotionAnalysis []string
	ScaleDownDelaySeconds int32
}

// Deployment is one app in one environment, with overrides applied.
type Deployment struct {
	App            string
	Environment    string
	TargetRevision string
	SourcePath     string
	Replicas       int64
	Requests       map[string]string
	Image          *AppImage
	Helm           *Helm
	Strategy       Strategy
	Sync           SyncPolicy
	// Objectives and Tests are the app's with the environment's, sorted
	// by name.
	Objectives []*Objective
	Tests      []*TestJob
	Path       Path
}

// SyncPolicy is an Application's sync policy.
type SyncPolicy struct {
	Automated bool
	Prune     bool
	SelfHeal  bool
}

// Permission is one RBAC rule a pipeline's ServiceAccount gets in an
// environment.
type Permission struct {
	Environment   string
	APIGroups     []string
	Resources     []string
	Verbs         []string
	ResourceNames []string
	Path          Path
}

// Environment returns the environment with the given name, or nil.
func (p *Plan) Environment(name string) *Environment {
	for _, e := range p.Environments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// EnvironmentForNamespace returns the environment whose namespace is ns on
// the in-cluster destination, or nil.
func (p *Plan) EnvironmentForNamespace(ns string) *Environment {
	for _, e := range p.Environments {
		if e.Namespace == ns && e.Cluster == InCluster {
			return e
		}
	}
	return nil
}

// InCluster is Argo CD's name for the cluster it runs in.
const InCluster = "https://kubernetes.default.svc"

// App returns the app with the given name, or nil.
func (p *Plan) App(name string) *App {
	for _, a := range p.Apps {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Pipeline returns the pipeline with the given name, or nil.
func (p *Plan) Pipeline(name string) *Pipeline {
	for _, x := range p.Pipelines {
		if x.Name == name {
			return x
		}
	}
	return nil
}
