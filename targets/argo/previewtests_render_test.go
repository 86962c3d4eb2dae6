package argo_test

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	tektonv1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/pipec/pipec/internal/testing/previewtest"
	"github.com/pipec/pipec/render"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/argo"
)

// testDirs returns the files of each preview test directory among
// objects, as pipec writes them (render.WriteDir's names and contents),
// by directory.
func testDirs(t *testing.T, objects []targets.Object) map[string]map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := render.WriteDir(dir, objects, render.YAML); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]byte{}
	fs := filesys.MakeFsOnDisk()
	for _, o := range objects {
		if !strings.HasSuffix(o.Dir, "/test") || !strings.HasPrefix(o.Dir, "previews/") {
			continue
		}
		name := render.FileName(o, render.YAML)
		b, err := fs.ReadFile(path.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if out[o.Dir] == nil {
			out[o.Dir] = map[string][]byte{}
		}
		out[o.Dir][path.Base(name)] = b
	}
	return out
}

// checkTestApplication checks a preview's test Application as Argo CD's
// repo-server builds it: the kustomization pipec wrote, with the
// Application's rendered patches added to it as Argo CD adds them, built
// by Kustomize's own library. The PipelineRun must carry the pull
// request's number, head commit (whatever the forge said, as a plain
// string) and preview namespace and pass Tekton's validation; the wait Job
// waits for that pull request's Applications only; the ConfigMap holds a
// digest reference whatever was recorded.
func checkTestApplication(t *testing.T, set *argo.ApplicationSet, pr previewtest.PullRequest, rec map[string]any, r *previewtest.Rendered, projects map[string]*v1alpha1.AppProject, dirs map[string]map[string][]byte, good string) {
	t.Helper()
	app := r.Application
	number := previewtest.Params(pr)["number"].(string)
	where := set.Name + " for pull request " + number
	preview := app.Labels[argo.LabelPreview]
	for _, e := range validation.IsDNS1123Label(app.Name) {
		t.Errorf("%s: Application name %q: %s", where, app.Name, e)
	}
	if app.Name != preview+"-pr-"+number+"-test" {
		t.Errorf("%s: Application %q", where, app.Name)
	}
	proj := projects[app.Spec.Project]
	if proj == nil {
		t.Fatalf("%s: project %q is not generated", where, app.Spec.Project)
	}
	ok, err := proj.IsDestinationPermitted(&v1alpha1.Cluster{Server: app.Spec.Destination.Server}, app.Spec.Destination.Namespace, func(string) ([]*v1alpha1.Cluster, error) { return nil, nil })
	if err != nil || !ok || !proj.IsSourcePermitted(*app.Spec.Source) {
		t.Errorf("%s: project %s does not permit %s in %s (%v)", where, proj.Name, app.Spec.Source.RepoURL, app.Spec.Destination.Namespace, err)
	}
	if len(proj.Spec.Destinations) != 1 || strings.Contains(proj.Spec.Destinations[0].Namespace, "*") {
		t.Errorf("%s: project %s may deploy to %v, want the CI namespace only", where, proj.Name, proj.Spec.Destinations)
	}
	for _, f := range r.Files {
		if !strings.Contains(f, "/pr-"+number+"/") {
			t.Errorf("%s: reads the record %q, not the pull request's", where, f)
		}
	}
	files := dirs[strings.TrimPrefix(app.Spec.Source.Path, "manifests/")]
	if files == nil {
		for d, f := range dirs {
			if strings.HasSuffix(app.Spec.Source.Path, d) {
				files = f
			}
		}
	}
	if files == nil || files["kustomization.yaml"] == nil {
		t.Fatalf("%s: source path %s is not a test directory pipec writes", where, app.Spec.Source.Path)
	}
	docs, err := previewtest.Kustomize(app, files)
	if err != nil {
		t.Fatalf("%s: kustomize cannot build it: %v", where, err)
	}
	var sawRun, sawJob, sawMap bool
	for _, y := range docs {
		var rs unstructured.Unstructured
		if err := sigsyaml.Unmarshal(y, &rs.Object); err != nil {
			t.Fatal(err)
		}
		switch rs.GetKind() {
		case "PipelineRun":
			sawRun = true
			var run tektonv1.PipelineRun
			if err := sigsyaml.UnmarshalStrict(y, &run); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if run.Name != app.Name || run.Annotations["argocd.argoproj.io/hook"] != "PostSync" {
				t.Errorf("%s: PipelineRun %q, hook %q", where, run.Name, run.Annotations["argocd.argoproj.io/hook"])
			}
			if sa := run.Spec.TaskRunTemplate.ServiceAccountName; !strings.HasSuffix(sa, "-pipeline") || len(run.Spec.Params) > 4 {
				t.Errorf("%s: the PipelineRun runs as %q with %d params", where, sa, len(run.Spec.Params))
			}
			want := map[string]string{"pr-number": number, "head-sha": pr.HeadSHA, "preview-namespace": preview + "-pr-" + number}
			for _, p := range run.Spec.Params {
				if w, ok := want[p.Name]; ok && p.Value.StringVal != w {
					t.Errorf("%s: param %s=%q, want %q", where, p.Name, p.Value.StringVal, w)
				}
				delete(want, p.Name)
			}
			if len(want) > 0 {
				t.Errorf("%s: params %v missing", where, want)
			}
			if err := targets.DefaultAndValidate(context.Background(), run.DeepCopy()); err != nil {
				t.Errorf("%s: Tekton rejects the PipelineRun: %v", where, err)
			}
		case "Job":
			sawJob = true
			var job batchv1.Job
			if err := sigsyaml.UnmarshalStrict(y, &job); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
			if !strings.Contains(args, "--selector="+argo.LabelPreview+"="+preview+","+argo.LabelPullRequest+"="+number+",!"+argo.LabelPreviewTest+" ") || job.Annotations["argocd.argoproj.io/hook"] != "Sync" {
				t.Errorf("%s: the wait Job %s waits for %q", where, job.Name, args)
			}
			for _, e := range validation.IsDNS1123Label(job.Name) {
				t.Errorf("%s: Job %q: %s", where, job.Name, e)
			}
		case "ConfigMap":
			sawMap = true
			var cm corev1.ConfigMap
			if err := sigsyaml.UnmarshalStrict(y, &cm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			d := cm.Data["digest"]
			if cm.Data["pull-request"] != number || !strings.HasPrefix(d, "sha256:") || (rec["digest"] == good) != (d == good) {
				t.Errorf("%s: record %v gave the ConfigMap %v", where, rec, cm.Data)
			}
		default:
			t.Errorf("%s: unexpected %s", where, rs.GetKind())
		}
		if !proj.IsGroupKindNamePermitted(rs.GroupVersionKind().GroupKind(), rs.GetName(), true) {
			t.Errorf("%s: project %s does not permit %s", where, proj.Name, rs.GetKind())
		}
		if rs.GetNamespace() != app.Spec.Destination.Namespace {
			t.Errorf("%s: %s in namespace %q", where, rs.GetKind(), rs.GetNamespace())
		}
	}
	if !sawRun || !sawJob || !sawMap {
		t.Errorf("%s: the build lacks the PipelineRun, the wait Job or the ConfigMap", where)
	}
	for _, kind := range []string{"Pod", "Secret", "RoleBinding", "ServiceAccount"} {
		if proj.IsGroupKindNamePermitted(schema.GroupKind{Kind: kind}, "x", true) {
			t.Errorf("%s: project %s permits %s", where, proj.Name, kind)
		}
	}
}
