package argo

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Argo CD API objects pipec writes (argoproj.io/v1alpha1), with the
// fields pipec sets, named and tagged as in Argo CD v3.3's
// pkg/apis/application/v1alpha1.
//
// They are declared here rather than imported because that package cannot
// be imported alone: it pulls in Argo CD's server, gitops-engine, kubectl and
// most of Kubernetes (1,309 packages). Linked into pipec it doubled the
// binary (87 to 159 MB), added about 35 ms to every start and 60 MB of
// resident memory, for a handful of structs (see argoproj/argo-cd#14727;
// idpbuilder and RamenDR did the same). The upstream package stays the reference:
// TestObjectsMatchUpstream decodes every object pipec generates for every
// example into Argo CD's own types, strictly, and requires the same JSON
// back; TestValidateProjectMatchesUpstream holds validateProject to
// Argo CD's AppProject.ValidateProject.

// ForegroundPropagationPolicyFinalizer makes deleting an Application delete
// what it deployed, dependents first.
const ForegroundPropagationPolicyFinalizer = "resources-finalizer.argocd.argoproj.io/foreground"

// AppProject is an Argo CD project.
type AppProject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              AppProjectSpec `json:"spec"`
}

// AppProjectSpec is the spec of an AppProject.
type AppProjectSpec struct {
	SourceRepos                []string                          `json:"sourceRepos,omitempty"`
	Destinations               []ApplicationDestination          `json:"destinations,omitempty"`
	Description                string                            `json:"description,omitempty"`
	Roles                      []ProjectRole                     `json:"roles,omitempty"`
	ClusterResourceWhitelist   []ClusterResourceRestrictionItem  `json:"clusterResourceWhitelist,omitempty"`
	NamespaceResourceBlacklist []metav1.GroupKind                `json:"namespaceResourceBlacklist,omitempty"`
	NamespaceResourceWhitelist []metav1.GroupKind                `json:"namespaceResourceWhitelist,omitempty"`
	OrphanedResources          *OrphanedResourcesMonitorSettings `json:"orphanedResources,omitempty"`
	SyncWindows                []*SyncWindow                     `json:"syncWindows,omitempty"`
}

// ApplicationDestination is a cluster and namespace.
type ApplicationDestination struct {
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// OrphanedResourcesMonitorSettings turns on warnings about resources no
// Application manages.
type OrphanedResourcesMonitorSettings struct {
	Warn *bool `json:"warn,omitempty"`
}

// ClusterResourceRestrictionItem is a cluster-scoped kind a project may
// manage.
type ClusterResourceRestrictionItem struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
}

// ProjectRole is a project role: policies and the SSO groups that hold it.
type ProjectRole struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Policies    []string `json:"policies,omitempty"`
	Groups      []string `json:"groups,omitempty"`
}

// SyncWindow allows or denies syncs on a schedule.
type SyncWindow struct {
	Kind         string   `json:"kind,omitempty"`
	Schedule     string   `json:"schedule,omitempty"`
	Duration     string   `json:"duration,omitempty"`
	Applications []string `json:"applications,omitempty"`
	Namespaces   []string `json:"namespaces,omitempty"`
	Clusters     []string `json:"clusters,omitempty"`
	ManualSync   bool     `json:"manualSync,omitempty"`
	TimeZone     string   `json:"timeZone,omitempty"`
}

// Application is an Argo CD Application.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSpec `json:"spec"`
}

// ApplicationSpec is the spec of an Application.
type ApplicationSpec struct {
	Source               *ApplicationSource          `json:"source,omitempty"`
	Destination          ApplicationDestination      `json:"destination"`
	Project              string                      `json:"project"`
	SyncPolicy           *SyncPolicy                 `json:"syncPolicy,omitempty"`
	IgnoreDifferences    []ResourceIgnoreDifferences `json:"ignoreDifferences,omitempty"`
	RevisionHistoryLimit *int64                      `json:"revisionHistoryLimit,omitempty"`
}

// ApplicationSource is where an Application's manifests come from.
type ApplicationSource struct {
	RepoURL        string                      `json:"repoURL"`
	Path           string                      `json:"path,omitempty"`
	TargetRevision string                      `json:"targetRevision,omitempty"`
	Helm           *ApplicationSourceHelm      `json:"helm,omitempty"`
	Kustomize      *ApplicationSourceKustomize `json:"kustomize,omitempty"`
	Directory      *ApplicationSourceDirectory `json:"directory,omitempty"`
}

// ApplicationSourceKustomize holds Kustomize options.
type ApplicationSourceKustomize struct {
	Images  []string         `json:"images,omitempty"`
	Patches []KustomizePatch `json:"patches,omitempty"`
}

// KustomizePatch is a patch applied to the Kustomize output.
type KustomizePatch struct {
	Patch  string             `json:"patch,omitempty"`
	Target *KustomizeSelector `json:"target,omitempty"`
}

// KustomizeSelector selects the resources a patch applies to.
type KustomizeSelector struct {
	Group   string `json:"group,omitempty"`
	Version string `json:"version,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

// ApplicationSourceHelm holds Helm options.
type ApplicationSourceHelm struct {
	ValueFiles  []string        `json:"valueFiles,omitempty"`
	Parameters  []HelmParameter `json:"parameters,omitempty"`
	ReleaseName string          `json:"releaseName,omitempty"`
}

// HelmParameter is a Helm --set parameter.
type HelmParameter struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// ApplicationSourceDirectory is a directory of plain manifests. Argo CD
// always writes its jsonnet field, empty.
type ApplicationSourceDirectory struct {
	Jsonnet struct{} `json:"jsonnet"`
}

// SyncPolicy says when and how an Application syncs.
type SyncPolicy struct {
	Automated   *SyncPolicyAutomated `json:"automated,omitempty"`
	SyncOptions []string             `json:"syncOptions,omitempty"`
	Retry       *RetryStrategy       `json:"retry,omitempty"`
	// ManagedNamespaceMetadata labels the namespace CreateNamespace=true
	// creates (preview environments).
	ManagedNamespaceMetadata *ManagedNamespaceMetadata `json:"managedNamespaceMetadata,omitempty"`
}

// SyncPolicyAutomated turns on automated sync.
type SyncPolicyAutomated struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// RetryStrategy retries failed syncs.
type RetryStrategy struct {
	Limit   int64    `json:"limit,omitempty"`
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is the retry backoff.
type Backoff struct {
	Duration    string `json:"duration,omitempty"`
	Factor      *int64 `json:"factor,omitempty"`
	MaxDuration string `json:"maxDuration,omitempty"`
}

// ResourceIgnoreDifferences is a difference Argo CD ignores.
type ResourceIgnoreDifferences struct {
	Group        string   `json:"group,omitempty"`
	Kind         string   `json:"kind"`
	Name         string   `json:"name,omitempty"`
	JSONPointers []string `json:"jsonPointers,omitempty"`
}
