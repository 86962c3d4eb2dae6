package model

// Triggers configures the Tekton Triggers EventListener.
type Triggers struct {
	Provider      string
	WebhookSecret *KeyRef
	GitHubToken   *KeyRef
	Replicas      int32
	ServiceType   string
	// IngressNamespaces and IngressCIDRs may reach the listener.
	IngressNamespaces []string
	IngressCIDRs      []string
	// InterceptorsNamespace is where Triggers' core interceptors run.
	InterceptorsNamespace string
	Resources             Resources
	Path                  Path
}

// ListenerName is the name of the EventListener pipec generates (and of
// its ServiceAccount and RBAC); its pods carry the label
// eventlistener=<ListenerName>.
const ListenerName = "pipec-listener"

// Event kinds a pipeline can be started by.
const (
	EventPush        = "push"
	EventTag         = "tag"
	EventPullRequest = "pull-request"
)

// Providers.
const (
	GitHub = "github"
	GitLab = "gitlab"
)

// EventFields are the values of an event a run can use as $(event.<field>).
var EventFields = []string{"author", "branch", "pr-number", "repository", "revision", "tag", "url"}

// DefaultEventParams are the pipeline parameters set from the event when
// the configuration does not set them.
var DefaultEventParams = map[string]string{
	"git-url":      "url",
	"git-revision": "revision",
	"git-branch":   "branch",
	"git-tag":      "tag",
	"pr-number":    "pr-number",
	"author":       "author",
}

// On says which repository events start a pipeline.
type On struct {
	Provider    string
	Push        *BranchFilter
	Tags        []string
	PullRequest *PullRequestFilter
	Filter      string
	// Params are the pipeline parameters each run sets, sorted by name.
	Params      []*Arg
	Workspaces  []*RunWorkspace
	Timeout     string
	PodTemplate PodTemplate
	Path        Path
}

// BranchFilter selects pushes.
type BranchFilter struct {
	Branches []string
	Paths    []string
	Path     Path
}

// PullRequestFilter selects pull (merge) request events.
type PullRequestFilter struct {
	Branches []string
	Events   []string
	Paths    []string
	// Forks says what requests from forks start: ForksIgnore,
	// ForksUntrusted or ForksTrusted.
	Forks string
	Path  Path
}

// What pull (merge) requests from forks start.
const (
	// ForksIgnore: nothing.
	ForksIgnore = "ignore"
	// ForksUntrusted: a run as the fork ServiceAccount, without Secret
	// workspaces.
	ForksUntrusted = "untrusted"
	// ForksTrusted: the run a branch of the repository gets.
	ForksTrusted = "trusted"
)

// RunWorkspace provides a workspace to each run; exactly one source is set.
type RunWorkspace struct {
	Name                string
	VolumeClaimTemplate *VolumeClaimTemplate
	Secret              string
	ConfigMap           string
	EmptyDir            bool
	Path                Path
}

// VolumeClaimTemplate is a per-run volume.
type VolumeClaimTemplate struct {
	Storage          string
	StorageClassName string
	AccessModes      []string
}

// PodTemplate places a run's pods.
type PodTemplate struct {
	NodeSelector map[string]string
	Tolerations  []Toleration
}

// Toleration lets pods run on tainted nodes.
type Toleration struct {
	Key      string
	Operator string
	Value    string
	Effect   string
}
