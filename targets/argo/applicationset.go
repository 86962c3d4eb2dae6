package argo

import (
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// Labels and annotations of preview environments.
const (
	LabelPreview = "pipec.dev/preview"
	// LabelPullRequest carries the pull request number on a preview's
	// Applications and namespace.
	LabelPullRequest = "pipec.dev/pull-request"
	// LabelGuardRails marks the AppProject of a preview's guard rails,
	// which, as PlatformProject, manages quotas and policies.
	LabelGuardRails = "pipec.dev/guard-rails"
	// AnnotationNodeSelector is the PodNodeSelector admission plugin's
	// namespace annotation.
	AnnotationNodeSelector = "scheduler.alpha.kubernetes.io/node-selector"
)

// DigestPattern is the form of an image digest the previews' templates
// accept (Go regexp, as sprig's regexFind takes it).
const DigestPattern = "^sha256:[0-9a-f]{64}$"

// notADigest is what a preview's image digest becomes when the recorded
// one is not of DigestPattern's form: a reference no registry resolves,
// so that the preview fails to start rather than runs a mutable tag.
const notADigest = "sha256:recorded-value-is-not-a-digest"

// Template parameters of Argo CD's pull request generator (goTemplate).
const (
	paramNumber  = "{{ .number }}"
	paramHeadSHA = "{{ .head_sha }}"
	digestExpr   = `regexFind "` + DigestPattern + `" (toString .digest) | default "` + notADigest + `"`
	paramDigest  = `{{ ` + digestExpr + ` }}`
)

// PreviewProject and PreviewRailsProject are the AppProjects of a
// preview's apps and of its guard rails.
func PreviewProject(p *model.Preview) string      { return p.Name + "-previews" }
func PreviewRailsProject(p *model.Preview) string { return p.Name + "-preview-guard-rails" }

// PreviewApplicationName is the name of the Application of app (empty for
// the guard rails) in the preview of pull request number.
func PreviewApplicationName(p *model.Preview, number, app string) string {
	if app == "" {
		return p.Namespace(number)
	}
	return p.Namespace(number) + "-" + app
}

// previews returns a preview's AppProjects and ApplicationSets: one
// ApplicationSet for the guard rails (it creates the namespace with its
// Pod Security labels and applies the quota, limit range and network
// policies pipec writes to targets.PreviewDir), one per app. The Applications of
// one pull request share its namespace; all are deleted, with what they
// deployed, when the generator no longer lists the pull request.
func previews(plan *model.Plan) ([]targets.Object, diag.List) {
	g := plan.ArgoCD.GitOps
	if g == nil {
		return nil, nil
	}
	var objs []targets.Object
	var diags diag.List
	for _, p := range plan.Previews {
		env := plan.Environment(p.Environment)
		if env == nil {
			continue
		}
		dest := ApplicationDestination{Server: env.Cluster, Namespace: p.NamespacePattern()}
		labels := map[string]string{LabelPreview: p.Name, LabelTeam: p.Team}
		rails := &AppProject{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "AppProject"},
			ObjectMeta: objectMeta(PreviewRailsProject(p), plan.ArgoCD.Namespace, waveProject, map[string]string{LabelPreview: p.Name, LabelTeam: p.Team, LabelGuardRails: "true"}),
			Spec: AppProjectSpec{
				Description:  "Guard rails of the " + p.Name + " previews: quota, limit range and network policies of namespaces " + p.NamespacePattern(),
				SourceRepos:  []string{g.RepoURL},
				Destinations: []ApplicationDestination{dest},
			},
		}
		apps := &AppProject{
			TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "AppProject"},
			ObjectMeta: objectMeta(PreviewProject(p), plan.ArgoCD.Namespace, waveProject, labels),
			Spec: AppProjectSpec{
				Description:                "Apps of the " + p.Name + " previews, one namespace per pull request",
				Destinations:               []ApplicationDestination{dest},
				NamespaceResourceBlacklist: append(slices.Clone(protected), previewProtected...),
				OrphanedResources:          &OrphanedResourcesMonitorSettings{Warn: ptr(true)},
			},
		}
		objs = append(objs,
			targets.New(Name, rails, p.Path, targets.ArgoCDDir),
			targets.New(Name, apps, p.Path, targets.ArgoCDDir),
			targets.New(Name, railsSet(plan, p, env, g), p.Path, targets.ArgoCDDir))
		for _, pa := range p.Apps {
			a := plan.App(pa.App)
			if a == nil {
				continue
			}
			if !slices.Contains(apps.Spec.SourceRepos, a.Source.RepoURL) {
				apps.Spec.SourceRepos = append(apps.Spec.SourceRepos, a.Source.RepoURL)
			}
			if set := appSet(plan, p, env, g, a, pa); set != nil {
				objs = append(objs, targets.New(Name, set, pa.Path, targets.ArgoCDDir))
			}
		}
		if p.Test != nil {
			tests, ds := previewTests(plan, p, g)
			objs = append(objs, tests...)
			diags = append(diags, ds...)
		}
	}
	return objs, diags
}

// previewProtected are the kinds a preview's apps may not manage besides
// protected: a pull request's manifests get no say over who may do what in
// its namespace.
var previewProtected = []metav1.GroupKind{
	{Group: "rbac.authorization.k8s.io", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
}

// pullRequestGenerator is Argo CD's pull request generator for p.
func pullRequestGenerator(p *model.Preview) *PullRequestGenerator {
	pr := p.PullRequests
	token := &SecretRef{SecretName: pr.Token.Name, Key: pr.Token.Key}
	gen := &PullRequestGenerator{RequeueAfterSeconds: ptr(pr.RequeueAfterSeconds)}
	switch pr.Provider {
	case "gitlab":
		// Open merge requests only: a closed or merged one loses its
		// preview.
		gen.GitLab = &PullRequestGeneratorGitLab{Project: pr.Repository, API: pr.API, TokenRef: token, Labels: pr.Labels, PullRequestState: "opened"}
	default:
		// GitHub's generator lists open pull requests only.
		owner, repo, _ := strings.Cut(pr.Repository, "/")
		gen.Github = &PullRequestGeneratorGithub{Owner: owner, Repo: repo, API: pr.API, TokenRef: token, Labels: pr.Labels}
	}
	return gen
}

// templateMeta is the metadata of a preview's generated Application.
func templateMeta(plan *model.Plan, p *model.Preview, app string) ApplicationSetTemplateMeta {
	labels := targets.Labels(map[string]string{LabelPreview: p.Name, LabelTeam: p.Team, LabelPullRequest: paramNumber})
	if app != "" {
		labels[LabelApp] = app
	}
	return ApplicationSetTemplateMeta{
		Name:       PreviewApplicationName(p, paramNumber, app),
		Namespace:  plan.ArgoCD.Namespace,
		Labels:     labels,
		Finalizers: []string{ForegroundPropagationPolicyFinalizer},
	}
}

func previewSyncPolicy(options ...string) *SyncPolicy {
	return &SyncPolicy{
		Automated:   &SyncPolicyAutomated{Prune: true, SelfHeal: true},
		SyncOptions: append(options, "PruneLast=true"),
		Retry:       &RetryStrategy{Limit: 10, Backoff: &Backoff{Duration: "10s", Factor: ptr(int64(2)), MaxDuration: "3m"}},
	}
}

func applicationSet(plan *model.Plan, name string, p *model.Preview, gen ApplicationSetGenerator, tmpl ApplicationSetTemplate) *ApplicationSet {
	return &ApplicationSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "ApplicationSet"},
		ObjectMeta: objectMeta(name, plan.ArgoCD.Namespace, wavePlatform, map[string]string{LabelPreview: p.Name, LabelTeam: p.Team}),
		Spec: ApplicationSetSpec{
			GoTemplate: true,
			Generators: []ApplicationSetGenerator{gen},
			Template:   tmpl,
		},
	}
}

// railsSet creates each preview's namespace, labelled with the Pod Security
// level of the environment it inherits from, and its guard rails.
func railsSet(plan *model.Plan, p *model.Preview, env *model.Environment, g *model.GitOps) *ApplicationSet {
	policy := previewSyncPolicy("CreateNamespace=true")
	nsLabels := targets.Labels(map[string]string{
		LabelPreview: p.Name, LabelPullRequest: paramNumber, targets.LabelEnvironment: env.Name,
	})
	for k, v := range targets.PodSecurityLabels(env.PodSecurity) {
		nsLabels[k] = v
	}
	policy.ManagedNamespaceMetadata = &ManagedNamespaceMetadata{Labels: nsLabels}
	if p.NodePool != "" {
		// The PodNodeSelector admission plugin puts the namespace's pods
		// on the pool's nodes, which Karpenter labels with its name.
		policy.ManagedNamespaceMetadata.Annotations = map[string]string{AnnotationNodeSelector: "karpenter.sh/nodepool=" + p.NodePool}
	}
	tmpl := ApplicationSetTemplate{
		ApplicationSetTemplateMeta: templateMeta(plan, p, ""),
		Spec: ApplicationSpec{
			Project: PreviewRailsProject(p),
			Source: &ApplicationSource{
				RepoURL: g.RepoURL, Path: strings.TrimSuffix(g.Path, "/") + "/" + targets.PreviewDir(p.Name), TargetRevision: g.TargetRevision,
				Directory: &ApplicationSourceDirectory{},
			},
			Destination:          ApplicationDestination{Server: env.Cluster, Namespace: p.Namespace(paramNumber)},
			SyncPolicy:           policy,
			RevisionHistoryLimit: ptr(int64(3)),
		},
	}
	return applicationSet(plan, p.Name+"-preview-guard-rails", p, ApplicationSetGenerator{PullRequest: pullRequestGenerator(p)}, tmpl)
}

// appSet deploys app a in each preview. An app the pull request builds
// comes from the pull request's head commit when its source is the pull
// request's repository, with the image digest its pull request pipeline
// recorded in the GitOps repository: the matrix pairs each pull request
// with its record, so a pull request gets the app only once its image is
// built. Any other app runs as it does in the preview's environment.
func appSet(plan *model.Plan, p *model.Preview, env *model.Environment, g *model.GitOps, a *model.App, pa *model.PreviewApp) *ApplicationSet {
	var src *ApplicationSource
	gen := ApplicationSetGenerator{PullRequest: pullRequestGenerator(p)}
	if pa.Build == nil {
		dep := plan.AppDeployment(a.Name, env.Name)
		if dep == nil {
			return nil
		}
		src = application(plan, a, dep, env).Spec.Source
	} else {
		revision := a.Source.TargetRevision
		if SameRepository(a.Source.RepoURL, p.PullRequests.Repository) {
			revision = paramHeadSHA
		}
		src = &ApplicationSource{RepoURL: a.Source.RepoURL, Path: a.Source.Path, TargetRevision: revision}
		image := ""
		if a.Image != nil {
			image = a.Image.Repository
		}
		switch a.Source.Type {
		case "kustomize":
			src.Kustomize = &ApplicationSourceKustomize{Images: []string{image + "@" + paramDigest}}
		case "helm":
			h := &ApplicationSourceHelm{}
			if a.Source.Helm != nil {
				h.ReleaseName = a.Source.Helm.ReleaseName
				h.ValueFiles = a.Source.Helm.ValueFiles
				params := maps.Clone(a.Source.Helm.Parameters)
				if params == nil {
					params = map[string]string{}
				}
				params[a.Source.Helm.RepositoryKey] = image
				params[a.Source.Helm.DigestKey] = paramDigest
				for _, k := range sortedKeys(params) {
					h.Parameters = append(h.Parameters, HelmParameter{Name: k, Value: params[k]})
				}
			}
			src.Helm = h
		}
		gen = builtGenerator(p, g, a.Name)
	}
	tmpl := ApplicationSetTemplate{
		ApplicationSetTemplateMeta: templateMeta(plan, p, a.Name),
		Spec: ApplicationSpec{
			Project:              PreviewProject(p),
			Source:               src,
			Destination:          ApplicationDestination{Server: env.Cluster, Namespace: p.Namespace(paramNumber)},
			SyncPolicy:           previewSyncPolicy("CreateNamespace=false"),
			RevisionHistoryLimit: ptr(int64(3)),
		},
	}
	return applicationSet(plan, p.Name+"-preview-"+a.Name, p, gen, tmpl)
}

// builtGenerator pairs each pull request with the digest its build
// recorded for app: a pull request without a record gets no Application.
func builtGenerator(p *model.Preview, g *model.GitOps, app string) ApplicationSetGenerator {
	record := strings.TrimSuffix(g.Path, "/") + "/" + p.DigestDir(paramNumber) + "/" + app + ".json"
	return ApplicationSetGenerator{Matrix: &MatrixGenerator{Generators: []ApplicationSetNestedGenerator{
		{PullRequest: pullRequestGenerator(p)},
		{Git: &GitGenerator{RepoURL: g.RepoURL, Revision: g.TargetRevision, Files: []GitFileGeneratorItem{{Path: record}}}},
	}}}
}

// SameRepository reports whether the git URL repoURL is the forge
// repository "owner/name" (or GitLab project path), whatever the host,
// scheme or .git suffix.
func SameRepository(repoURL, repository string) bool {
	u := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(repoURL, "/"), ".git"))
	r := strings.ToLower(strings.Trim(repository, "/"))
	return strings.HasSuffix(u, "/"+r) || strings.HasSuffix(u, ":"+r)
}
