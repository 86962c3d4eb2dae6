package argo

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The ApplicationSet fields pipec sets, named and tagged as in Argo CD
// v3.3's pkg/apis/application/v1alpha1/applicationset_types.go, for the
// reason api.go gives. TestObjectsMatchUpstream holds them to Argo CD's
// own types.

// ApplicationSet is an Argo CD ApplicationSet.
type ApplicationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ApplicationSetSpec `json:"spec"`
}

// ApplicationSetSpec is the spec of an ApplicationSet.
type ApplicationSetSpec struct {
	GoTemplate        bool                      `json:"goTemplate,omitempty"`
	Generators        []ApplicationSetGenerator `json:"generators"`
	Template          ApplicationSetTemplate    `json:"template"`
	SyncPolicy        *ApplicationSetSyncPolicy `json:"syncPolicy,omitempty"`
	GoTemplateOptions []string                  `json:"goTemplateOptions,omitempty"`
}

// ApplicationSetSyncPolicy says what the controller may do to the
// Applications it generated.
type ApplicationSetSyncPolicy struct {
	PreserveResourcesOnDeletion bool   `json:"preserveResourcesOnDeletion,omitempty"`
	ApplicationsSync            string `json:"applicationsSync,omitempty"`
}

// ApplicationSetTemplate is the Application each parameter set becomes.
type ApplicationSetTemplate struct {
	ApplicationSetTemplateMeta `json:"metadata"`
	Spec                       ApplicationSpec `json:"spec"`
}

// ApplicationSetTemplateMeta is the metadata of a generated Application.
type ApplicationSetTemplateMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Finalizers  []string          `json:"finalizers,omitempty"`
}

// ApplicationSetGenerator is a generator at the top of an ApplicationSet.
type ApplicationSetGenerator struct {
	PullRequest *PullRequestGenerator `json:"pullRequest,omitempty"`
	Matrix      *MatrixGenerator      `json:"matrix,omitempty"`
}

// ApplicationSetNestedGenerator is a generator inside a matrix.
type ApplicationSetNestedGenerator struct {
	Git         *GitGenerator         `json:"git,omitempty"`
	PullRequest *PullRequestGenerator `json:"pullRequest,omitempty"`
}

// MatrixGenerator combines every parameter set of its first generator with
// every one of its second, which may use the first's parameters.
type MatrixGenerator struct {
	Generators []ApplicationSetNestedGenerator `json:"generators"`
}

// GitGenerator reads parameters from files in a git repository.
type GitGenerator struct {
	RepoURL  string                 `json:"repoURL"`
	Files    []GitFileGeneratorItem `json:"files,omitempty"`
	Revision string                 `json:"revision"`
}

// GitFileGeneratorItem is a path (glob) of JSON or YAML files.
type GitFileGeneratorItem struct {
	Path string `json:"path"`
}

// PullRequestGenerator lists a repository's open pull requests.
type PullRequestGenerator struct {
	Github              *PullRequestGeneratorGithub `json:"github,omitempty"`
	GitLab              *PullRequestGeneratorGitLab `json:"gitlab,omitempty"`
	RequeueAfterSeconds *int64                      `json:"requeueAfterSeconds,omitempty"`
}

// PullRequestGeneratorGithub lists a GitHub repository's pull requests.
type PullRequestGeneratorGithub struct {
	Owner    string     `json:"owner"`
	Repo     string     `json:"repo"`
	API      string     `json:"api,omitempty"`
	TokenRef *SecretRef `json:"tokenRef,omitempty"`
	Labels   []string   `json:"labels,omitempty"`
}

// PullRequestGeneratorGitLab lists a GitLab project's merge requests.
type PullRequestGeneratorGitLab struct {
	Project          string     `json:"project"`
	API              string     `json:"api,omitempty"`
	TokenRef         *SecretRef `json:"tokenRef,omitempty"`
	Labels           []string   `json:"labels,omitempty"`
	PullRequestState string     `json:"pullRequestState,omitempty"`
}

// SecretRef names a key of a Secret in Argo CD's namespace.
type SecretRef struct {
	SecretName string `json:"secretName"`
	Key        string `json:"key"`
}

// ManagedNamespaceMetadata is the metadata of the namespace an
// Application creates (CreateNamespace=true).
type ManagedNamespaceMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
