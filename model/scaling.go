package model

// Scaling declares autoscalers and node pools.
type Scaling struct {
	Autoscalers       []*Autoscaler
	NodePools         []*NodePool
	ClusterAutoscaler *ClusterAutoscaler
	// MaxConcurrentRuns is 0 when unset.
	MaxConcurrentRuns int
	// TektonCoschedule is the Tekton installation's coschedule flag:
	// workspaces, pipelineruns, isolate-pipelinerun or disabled.
	TektonCoschedule string
	Path             Path
}

// Autoscaler is an HPA with its PodDisruptionBudget.
type Autoscaler struct {
	Name        string
	Environment string
	Listener    bool
	TargetKind  string
	TargetName  string
	Selector    map[string]string
	// NodePool is the pool its pods run on; empty if none.
	NodePool    string
	MinReplicas int32
	MaxReplicas int32
	// PodRequests are one pod's requests; nil when unknown.
	PodRequests map[string]string
	CPU         int32 // target utilization, 0 if none
	Memory      int32
	Pods        []*MetricTarget
	External    []*MetricTarget
	ScaleUp     ScalingRules
	ScaleDown   ScalingRules
	// MaxUnavailable or MinAvailable (an int or a percentage).
	MaxUnavailable string
	MinAvailable   string
	Path           Path
}

// MetricTarget is a pods or external metric and its target.
type MetricTarget struct {
	Name         string
	AverageValue string
	Value        string
	Selector     map[string]string
	Path         Path
}

// ScalingRules is one direction of an HPA's behavior.
type ScalingRules struct {
	StabilizationWindow string
	SelectPolicy        string
	Policies            []ScalingPolicy
}

// ScalingPolicy limits replica changes per period.
type ScalingPolicy struct {
	Type   string
	Value  int32
	Period string
}

// NodePool is a Karpenter NodePool for pipeline runs.
type NodePool struct {
	Name                string
	NodeClassGroup      string
	NodeClassKind       string
	NodeClassName       string
	Architectures       []string
	CapacityTypes       []string
	InstanceFamilies    []string
	InstanceSizes       []string
	Requirements        []Requirement
	Limits              map[string]string
	ConsolidationPolicy string
	ConsolidateAfter    string
	Budgets             []Budget
	ExpireAfter         string
	Taint               bool
	Weight              int32
	NodeShape           map[string]string
	ProvisioningDelay   string
	// Pipelines are the pipelines whose runs land here; "*" is all.
	Pipelines []string
	Path      Path
}

// Takes reports whether the pool takes the pipeline's runs.
func (n *NodePool) Takes(pipeline string) bool {
	for _, p := range n.Pipelines {
		if p == "*" || p == pipeline {
			return true
		}
	}
	return false
}

// Requirement is a node requirement.
type Requirement struct {
	Key      string
	Operator string
	Values   []string
}

// Budget is a Karpenter disruption budget.
type Budget struct {
	Nodes    string
	Schedule string
	Duration string
	Reasons  []string
}

// ClusterAutoscaler are cluster-autoscaler settings.
type ClusterAutoscaler struct {
	NodeGroups                    []NodeGroup
	ScaleDownUnneededTime         string
	ScaleDownDelayAfterAdd        string
	ScaleDownUtilizationThreshold float64
	MaxNodeProvisionTime          string
	Expander                      string
	Path                          Path
}

// NodeGroup is a cluster-autoscaler node group.
type NodeGroup struct {
	Name     string
	Min, Max int
}

// Monitoring configures monitoring; nil when not declared.
type Monitoring struct {
	PrometheusLabels map[string]string
	TektonNamespace  string
	// PrometheusNamespace may scrape the EventListener.
	PrometheusNamespace string
	// KubeStateMetrics is the service account kube-state-metrics runs
	// as, which reads PipelineRuns.
	KubeStateMetrics ServiceAccountRef
	QueueTime        string
	FailedRunsWindow string
	AutoscalerAtMax  string
	NodePoolUsage    float64
	Dashboard        bool
	Metrics          []string
	Path             Path
}

// Node labels, taints and pod annotations for node pools.
const (
	// PoolLabel is the node label a pool's nodes carry; pipeline runs
	// select it.
	PoolLabel = "pipec.dev/pool"
	// PoolTaintKey taints a pool's nodes (value: the pool's name) so only
	// what tolerates it lands there.
	PoolTaintKey = "pipec.dev/ci"
	// DoNotDisrupt keeps Karpenter from disrupting a node while a run's
	// pod is on it.
	DoNotDisrupt = "karpenter.sh/do-not-disrupt"
)

// ListenerAutoscaled reports whether an autoscaler scales the
// EventListener, whose replica count then belongs to the autoscaler.
func (p *Plan) ListenerAutoscaled() bool {
	for _, a := range p.Scaling.Autoscalers {
		if a.Listener {
			return true
		}
	}
	return false
}

// ListenerPool is the node pool the EventListener's autoscaler puts its
// pods on, or nil.
func (p *Plan) ListenerPool() *NodePool {
	for _, a := range p.Scaling.Autoscalers {
		if a.Listener && a.NodePool != "" {
			for _, n := range p.Scaling.NodePools {
				if n.Name == a.NodePool {
					return n
				}
			}
		}
	}
	return nil
}

// PoolFor returns the node pool a pipeline's runs land on, or nil.
func (p *Plan) PoolFor(pipeline string) *NodePool {
	for _, n := range p.Scaling.NodePools {
		if n.Takes(pipeline) {
			return n
		}
	}
	return nil
}

// AppAutoscaler returns the autoscaler whose target is app's workload in
// environment env, or nil.
func (p *Plan) AppAutoscaler(app, env string) *Autoscaler {
	for _, a := range p.Scaling.Autoscalers {
		if !a.Listener && a.Environment == env && a.TargetName == app {
			return a
		}
	}
	return nil
}

// AppDeployment returns app's deployment to environment env, or nil.
func (p *Plan) AppDeployment(app, env string) *Deployment {
	for _, a := range p.Apps {
		if a.Name != app {
			continue
		}
		for _, d := range a.Deployments {
			if d.Environment == env {
				return d
			}
		}
	}
	return nil
}

// RolledOut reports whether an Argo Rollout owns the deployment's pods
// (canary or blue-green).
func (d *Deployment) RolledOut() bool {
	return d.Strategy.Canary != nil || d.Strategy.BlueGreen != nil
}

// ServiceAccountRef names a service account in a namespace.
type ServiceAccountRef struct {
	Name      string
	Namespace string
}

// AffinityAssistants reports whether the Tekton installation runs an
// affinity-assistant pod beside every PipelineRun with a volume workspace
// (coschedule "workspaces", Tekton's default, or "pipelineruns").
func (s Scaling) AffinityAssistants() bool {
	switch s.TektonCoschedule {
	case "", "workspaces", "pipelineruns":
		return true
	}
	return false
}

// VolumePerRun reports whether each triggered run of the pipeline gets a
// volume of its own (a volumeClaimTemplate workspace).
func (pl *Pipeline) VolumePerRun() bool {
	if pl.On == nil {
		return false
	}
	for _, w := range pl.On.Workspaces {
		if w.VolumeClaimTemplate != nil {
			return true
		}
	}
	return false
}
