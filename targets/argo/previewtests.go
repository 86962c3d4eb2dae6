package argo

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tektonv1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
	"github.com/pipec/pipec/targets"
)

// A preview's integration tests. Each pull request's test Application
// (<preview>-pr-<number>-test, in project <preview>-preview-tests: the
// GitOps repository only, the CI namespace only, and only ConfigMaps, Jobs
// and PipelineRuns) syncs the kustomization pipec writes to
// previews/<preview>/test, patched with the pull request's values:
//
//   - a ConfigMap holding the pull request number and the digest its build
//     recorded, the Application's one managed resource: a new digest makes
//     the Application OutOfSync, so automated sync runs the hooks again
//     (a hook alone never does);
//   - a Job, Sync hook: kubectl waits until every other Application of the
//     pull request's preview is Healthy (its ServiceAccount may only read
//     Applications in Argo CD's namespace). Argo CD starts the PostSync
//     phase only once the Sync phase's hooks have succeeded;
//   - the PipelineRun of the test pipeline, PostSync hook, with the pull
//     request's number, head commit and preview namespace. Its finally task
//     (added by the compiler) posts the outcome as a commit status.
//
// Nothing in the preview namespace, where the pull request's code runs,
// can create PipelineRuns or read the status token.

// LabelPreviewTest marks a preview's test Applications, which the wait
// leaves out.
const LabelPreviewTest = "pipec.dev/preview-test"

// KubectlImage is the image of the wait Job (registry.k8s.io/kubectl has
// no shell; the Job runs kubectl wait).
const KubectlImage = "registry.k8s.io/kubectl:v1.31.2@sha256:d31de5468fb5c0943358671e3dcf8e4d8281108027efd1f211262d09aedd5519"

// PreviewWaitTimeout is how long the wait Job waits for a preview to be
// healthy, in each of its attempts.
const PreviewWaitTimeout = "20m"

// PreviewTestProject is the AppProject of a preview's test Applications.
func PreviewTestProject(p *model.Preview) string { return p.Name + "-preview-tests" }

// PreviewTestDir is the delivery directory of a preview's test hooks.
func PreviewTestDir(p *model.Preview) string { return targets.PreviewTestDir(p.Name) }

// previewWaiter names the wait Job's ServiceAccount, Role and RoleBinding.
func previewWaiter(p *model.Preview) string { return p.Name + "-preview-wait" }

func previewTests(plan *model.Plan, p *model.Preview, g *model.GitOps) ([]targets.Object, diag.List) {
	t := p.Test
	pl := plan.Pipeline(t.Pipeline)
	tested := p.TestedApp()
	if pl == nil || tested == nil || plan.Namespace == "" {
		return nil, nil
	}
	var diags diag.List
	labels := map[string]string{LabelPreview: p.Name, LabelTeam: p.Team}
	ci := plan.Namespace
	dir := PreviewTestDir(p)
	proj := &AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: "AppProject"},
		ObjectMeta: objectMeta(PreviewTestProject(p), plan.ArgoCD.Namespace, waveProject, labels),
		Spec: AppProjectSpec{
			Description:  "Integration tests of the " + p.Name + " previews: their wait Jobs and PipelineRuns in the CI namespace",
			SourceRepos:  []string{g.RepoURL},
			Destinations: []ApplicationDestination{{Server: model.InCluster, Namespace: ci}},
			// The whitelist is what the project may manage; the blacklist,
			// as on every team project, what it never may.
			NamespaceResourceBlacklist: append(slices.Clone(protected), previewProtected...),
			NamespaceResourceWhitelist: []metav1.GroupKind{
				{Group: "", Kind: "ConfigMap"},
				{Group: "batch", Kind: "Job"},
				{Group: "tekton.dev", Kind: "PipelineRun"},
			},
		},
	}
	waiter := previewWaiter(p)
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(waiter, ci, targets.WaveRBAC, labels),
		AutomountServiceAccountToken: ptr(false),
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: objectMeta(waiter, plan.ArgoCD.Namespace, targets.WaveRBAC, labels),
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"argoproj.io"}, Resources: []string{"applications"}, Verbs: []string{"get", "list", "watch"}}},
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(waiter, plan.ArgoCD.Namespace, targets.WaveRBAC, labels),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: waiter},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: waiter, Namespace: ci}},
	}

	hookMeta := func(name, hook string) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Namespace: ci, Labels: targets.Labels(labels), Annotations: map[string]string{
			"argocd.argoproj.io/hook":               hook,
			"argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
		}}
		return m
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name + "-preview-test", Namespace: ci, Labels: targets.Labels(labels)},
		Data:       map[string]string{"pull-request": "", "digest": "", "app": tested.App},
	}
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		RunAsNonRoot:             ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		ReadOnlyRootFilesystem:   ptr(true),
	}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: hookMeta(p.Name+"-preview-wait", "Sync"),
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(3)),
			ActiveDeadlineSeconds:   ptr(int64(3600)),
			TTLSecondsAfterFinished: ptr(int32(86400)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: targets.Labels(map[string]string{LabelPreview: p.Name, LabelTeam: p.Team, targets.LabelPreviewWait: p.Name})},
				Spec: corev1.PodSpec{
					ServiceAccountName:           waiter,
					AutomountServiceAccountToken: ptr(true),
					RestartPolicy:                corev1.RestartPolicyNever,
					Volumes:                      []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("64Mi"))}}}},
					SecurityContext:              &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(65532)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name:            "wait",
						Image:           KubectlImage,
						Args:            waitArgs(plan, p, "0"),
						SecurityContext: sc,
						// kubectl's cache, on a writable volume.
						Env:          []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}},
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
					}},
				},
			},
		},
	}
	run := &tektonv1.PipelineRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: hookMeta(p.Name+"-preview-test", "PostSync"),
		Spec: tektonv1.PipelineRunSpec{
			PipelineRef:     &tektonv1.PipelineRef{Name: pl.Name},
			TaskRunTemplate: tektonv1.PipelineTaskRunTemplate{ServiceAccountName: pl.ServiceAccount()},
			Params: tektonv1.Params{
				{Name: model.PreviewTestNumberParam, Value: *tektonv1.NewStructuredValues("0")},
				{Name: model.PreviewTestHeadSHAParam, Value: *tektonv1.NewStructuredValues("")},
				{Name: model.PreviewTestNamespaceParam, Value: *tektonv1.NewStructuredValues(p.Namespace("0"))},
			},
		},
	}
	for _, name := range sortedKeys(t.Params) {
		run.Spec.Params = append(run.Spec.Params, tektonv1.Param{Name: name, Value: *tektonv1.NewStructuredValues(t.Params[name])})
	}
	if pl.Gates.SignsReviewedOnly() {
		// A pull request's code: a gated test pipeline builds and scans,
		// and never signs, as the pull request's own run.
		run.Spec.Params = append(run.Spec.Params, tektonv1.Param{Name: model.TriggerParam, Value: *tektonv1.NewStructuredValues(model.EventPullRequest)})
	}
	if err := targets.DefaultAndValidate(context.Background(), run.DeepCopy()); err != nil {
		d := diags.Errorf(plan.Sources, t.Path, "Tekton's validation rejects the test PipelineRun: %s", err.Error())
		d.Hint = "fix the test's pipeline or params"
	}

	set := testSet(plan, p, g, tested)
	objs := []targets.Object{
		targets.New(Name, proj, t.Path, targets.ArgoCDDir),
		targets.New(Name, set, t.Path, targets.ArgoCDDir),
		targets.New(Name, sa, t.Path, targets.CIDir),
		targets.New(Name, role, t.Path, targets.ArgoCDDir),
		targets.New(Name, binding, t.Path, targets.ArgoCDDir),
		{Target: Name, APIVersion: targets.KustomizeAPIVersion, Kind: "Kustomization", Name: "kustomization", Value: &targets.Kustomization{APIVersion: targets.KustomizeAPIVersion, Kind: "Kustomization"}, Source: t.Path, Dir: dir},
		targets.New(Name, cm, t.Path, dir),
		targets.New(Name, job, t.Path, dir),
		targets.New(Name, run, t.Path, dir),
	}
	return objs, diags
}

// waitArgs are the wait Job's arguments for the pull request number: wait
// until every Application of its preview but the test Application is
// Healthy.
func waitArgs(plan *model.Plan, p *model.Preview, number string) []string {
	return []string{
		"wait", "applications.argoproj.io",
		"--namespace=" + plan.ArgoCD.Namespace,
		"--selector=" + LabelPreview + "=" + p.Name + "," + LabelPullRequest + "=" + number + ",!" + LabelPreviewTest,
		"--for=jsonpath={.status.health.status}=Healthy",
		"--timeout=" + PreviewWaitTimeout,
	}
}

// testSet makes each pull request's test Application once the app it
// builds first has its digest recorded.
func testSet(plan *model.Plan, p *model.Preview, g *model.GitOps, tested *model.PreviewApp) *ApplicationSet {
	meta := templateMeta(plan, p, "")
	meta.Name = p.TestApplication(paramNumber)
	meta.Labels[LabelPreviewTest] = "true"
	ns := p.Namespace(paramNumber)
	// JSON 6902 patches: every value from the pull request is a JSON
	// string made by toJson, so no branch name, title or forged sha can
	// change the patch's structure; the number is digits.
	patch := func(ops ...map[string]any) string {
		b, _ := json.Marshal(ops)
		// json.Marshal escapes the template's quotes; the placeholders
		// become the template expressions after marshalling.
		return string(b)
	}
	op := func(path string, value any) map[string]any {
		return map[string]any{"op": "replace", "path": path, "value": value}
	}
	args := waitArgs(plan, p, paramNumber)
	cmPatch := patch(
		op("/metadata/name", p.TestApplication(paramNumber)),
		op("/data/pull-request", paramNumber),
		op("/data/digest", "@DIGEST@"),
	)
	cmPatch = strings.Replace(cmPatch, `"@DIGEST@"`, `{{ `+digestExpr+` | toJson }}`, 1)
	jobPatch := patch(
		op("/metadata/name", p.Namespace(paramNumber)+"-wait"),
		op("/spec/template/spec/containers/0/args", args),
	)
	runPatch := patch(
		op("/metadata/name", p.TestApplication(paramNumber)),
		op("/spec/params/0/value", paramNumber),
		op("/spec/params/1/value", "@SHA@"),
		op("/spec/params/2/value", ns),
	)
	runPatch = strings.Replace(runPatch, `"@SHA@"`, `{{ .head_sha | toJson }}`, 1)
	tmpl := ApplicationSetTemplate{
		ApplicationSetTemplateMeta: meta,
		Spec: ApplicationSpec{
			Project: PreviewTestProject(p),
			Source: &ApplicationSource{
				RepoURL: g.RepoURL, Path: strings.TrimSuffix(g.Path, "/") + "/" + PreviewTestDir(p), TargetRevision: g.TargetRevision,
				Kustomize: &ApplicationSourceKustomize{Patches: []KustomizePatch{
					{Patch: cmPatch, Target: &KustomizeSelector{Version: "v1", Kind: "ConfigMap"}},
					{Patch: jobPatch, Target: &KustomizeSelector{Group: "batch", Version: "v1", Kind: "Job"}},
					{Patch: runPatch, Target: &KustomizeSelector{Group: "tekton.dev", Version: "v1", Kind: "PipelineRun"}},
				}},
			},
			Destination: ApplicationDestination{Server: model.InCluster, Namespace: plan.Namespace},
			SyncPolicy: &SyncPolicy{
				Automated: &SyncPolicyAutomated{Prune: true, SelfHeal: true},
				Retry:     &RetryStrategy{Limit: 2, Backoff: &Backoff{Duration: "1m", Factor: ptr(int64(2)), MaxDuration: "10m"}},
			},
			RevisionHistoryLimit: ptr(int64(3)),
		},
	}
	return applicationSet(plan, p.Name+"-preview-test", p, builtGenerator(p, g, tested.App), tmpl)
}
