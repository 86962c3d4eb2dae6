package argo_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pipec/pipec/compiler"
	"github.com/pipec/pipec/internal/testing/previewtest"
	"github.com/pipec/pipec/internal/testing/targettest"
	"github.com/pipec/pipec/targets"
	"github.com/pipec/pipec/targets/argo"
)

// hostilePullRequests are pull requests whose numbers and branch names
// test the templates' bounds: the largest number the generator holds,
// branch names with path traversal, template syntax, shell, Unicode, and
// more characters than any Kubernetes name.
var hostilePullRequests = []previewtest.PullRequest{
	{Number: 1, Branch: "feature/x", TargetBranch: "main", HeadSHA: strings.Repeat("a", 40), Labels: []string{"preview"}},
	{Number: 9223372036854775807, Branch: "../../../etc/passwd", TargetBranch: "main", HeadSHA: strings.Repeat("f", 40)},
	{Number: 4242, Branch: "{{ .number }}-$(rm -rf /)-`id`", TargetBranch: "release/1.x", HeadSHA: strings.Repeat("0", 64)},
	{Number: 77, Branch: "Ünïcödé/分支/" + strings.Repeat("very-long-", 40), TargetBranch: "main", HeadSHA: "abc"},
	// A forge that answers a head commit built to break out of a JSON
	// patch: the test Application's patches must carry it as one string.
	{Number: 31, Branch: "x", TargetBranch: "main", HeadSHA: `"},{"op":"add","path":"/spec/taskRunTemplate/serviceAccountName","value":"admin"},{"a":"` + "\n- {{ .number }}"},
	{Number: 1000000, Branch: "UPPER_case.with.dots", TargetBranch: "main", HeadSHA: strings.Repeat("b", 40), Title: "}}{{", Author: "<script>"},
}

var digestRe = regexp.MustCompile(argo.DigestPattern)

// TestPreviewTemplatesRender renders every ApplicationSet the examples
// generate with Argo CD's own rendering code (the controller's
// applicationset/utils Render) for hostile pull requests and recorded
// digests, and checks each Application: a valid name that fits a label
// value, a destination its project permits (Argo CD's own
// IsDestinationPermitted), the pull request's head commit, the record
// read from the pull request's own directory, and an image that is a
// digest reference whatever was recorded.
func TestPreviewTemplatesRender(t *testing.T) {
	res, err := compiler.Build(context.Background(), compiler.Options{Dir: "../../examples/shop"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("%v %v", err, res.Diagnostics)
	}
	// The shop example and the build cases, each with its own projects.
	groups := [][]targets.Object{res.Objects}
	cases, _ := filepath.Glob("testdata/build/preview_*.txtar")
	for _, c := range cases {
		r, err := targettest.Build(c)
		if err != nil || r.Diagnostics.HasErrors() {
			t.Fatalf("%s: %v %v", c, err, r.Diagnostics)
		}
		groups = append(groups, r.Objects)
	}
	rendered := 0
	for _, objects := range groups {
		rendered += renderAll(t, objects)
	}
	if rendered < len(groups)*2*len(hostilePullRequests) {
		t.Fatalf("rendered %d Applications, want the guard rails and an app of each preview", rendered)
	}
	t.Logf("rendered %d (ApplicationSet, pull request) pairs, each with %d records", rendered, 6)
}

// renderAll renders the preview ApplicationSets among objects for every
// hostile pull request and record, checks each Application against the
// projects among objects, and returns how many it rendered.
func renderAll(t *testing.T, objects []targets.Object) int {
	projects := map[string]*v1alpha1.AppProject{}
	var sets []*argo.ApplicationSet
	for _, o := range objects {
		switch v := o.Value.(type) {
		case *argo.AppProject:
			p := &v1alpha1.AppProject{}
			sameAsUpstream(t, v, p)
			projects[v.Name] = p
		case *argo.ApplicationSet:
			sets = append(sets, v)
		}
	}
	good := "sha256:" + strings.Repeat("4b", 32)
	records := []map[string]any{
		{"digest": good},
		{"digest": "latest"},
		{"digest": "sha256:abc"},
		{"digest": good + "\nimage: evil:latest"},
		{"digest": 12},
		{},
	}
	tests := testDirs(t, objects)
	rendered := 0
	for _, set := range sets {
		for _, pr := range hostilePullRequests {
			for _, rec := range records {
				r, err := previewtest.Render(set, previewtest.Params(pr), rec)
				if err != nil {
					t.Fatalf("%s, pull request %d, record %v: Argo CD cannot render it: %v", set.Name, pr.Number, rec, err)
				}
				rendered++
				if r.Application.Labels[argo.LabelPreviewTest] == "true" {
					checkTestApplication(t, set, pr, rec, r, projects, tests, good)
					continue
				}
				checkRendered(t, set, pr, rec, r, projects, good)
			}
		}
	}
	return rendered / len(records)
}

func checkRendered(t *testing.T, set *argo.ApplicationSet, pr previewtest.PullRequest, rec map[string]any, r *previewtest.Rendered, projects map[string]*v1alpha1.AppProject, good string) {
	t.Helper()
	app := r.Application
	number := previewtest.Params(pr)["number"].(string)
	where := set.Name + " for pull request " + number
	for _, e := range validation.IsDNS1123Label(app.Name) {
		t.Errorf("%s: Application name %q: %s", where, app.Name, e)
	}
	for _, e := range validation.IsDNS1123Label(app.Spec.Destination.Namespace) {
		t.Errorf("%s: namespace %q: %s", where, app.Spec.Destination.Namespace, e)
	}
	for k, v := range app.Labels {
		for _, e := range validation.IsValidLabelValue(v) {
			t.Errorf("%s: label %s=%q: %s", where, k, v, e)
		}
	}
	if app.Labels[argo.LabelPullRequest] != number {
		t.Errorf("%s: label %s=%q", where, argo.LabelPullRequest, app.Labels[argo.LabelPullRequest])
	}
	proj := projects[app.Spec.Project]
	if proj == nil {
		t.Fatalf("%s: project %q is not generated", where, app.Spec.Project)
	}
	cluster := &v1alpha1.Cluster{Server: app.Spec.Destination.Server}
	ok, err := proj.IsDestinationPermitted(cluster, app.Spec.Destination.Namespace, func(string) ([]*v1alpha1.Cluster, error) { return nil, nil })
	if err != nil || !ok {
		t.Errorf("%s: project %s does not permit %s/%s (%v)", where, proj.Name, cluster.Server, app.Spec.Destination.Namespace, err)
	}
	if !strings.HasSuffix(app.Spec.Destination.Namespace, "-pr-"+number) {
		t.Errorf("%s: namespace %q is not the pull request's", where, app.Spec.Destination.Namespace)
	}
	if !proj.IsSourcePermitted(*app.Spec.Source) {
		t.Errorf("%s: project %s does not permit source %s", where, proj.Name, app.Spec.Source.RepoURL)
	}
	for _, f := range r.Files {
		if !strings.HasSuffix(f, "/pr-"+number+"/"+app.Labels[argo.LabelApp]+".json") {
			t.Errorf("%s: reads the record %q, not the pull request's", where, f)
		}
	}
	src := app.Spec.Source
	if len(r.Files) > 0 && argo.SameRepository(src.RepoURL, forgeRepository(set)) && src.TargetRevision != pr.HeadSHA {
		t.Errorf("%s: targetRevision %q, want the head commit %q", where, src.TargetRevision, pr.HeadSHA)
	}
	var images []string
	if k := src.Kustomize; k != nil {
		for _, i := range k.Images {
			images = append(images, string(i))
		}
	}
	if h := src.Helm; h != nil {
		for _, p := range h.Parameters {
			if strings.HasSuffix(p.Name, "digest") {
				images = append(images, "helm@"+p.Value)
			}
		}
	}
	if len(r.Files) > 0 && len(images) == 0 {
		t.Errorf("%s: no image override", where)
	}
	for _, img := range images {
		_, digest, found := strings.Cut(img, "@")
		switch {
		case strings.Contains(img, "{{"):
			t.Errorf("%s: image %q is left unrendered", where, img)
		case len(r.Files) == 0:
			// An app the pull request does not build runs as its
			// environment does: the plan's checks hold that image.
		case !found || !strings.HasPrefix(digest, "sha256:") || strings.ContainsAny(digest, "\n "):
			t.Errorf("%s: record %v gave %q, which is not a digest reference", where, rec, img)
		case rec["digest"] == good && digest != good:
			t.Errorf("%s: image %q, want the recorded digest %s", where, img, good)
		case rec["digest"] != good && digestRe.MatchString(digest):
			t.Errorf("%s: record %v gave the digest reference %q", where, rec, img)
		}
	}
}

// forgeRepository is the repository set's pull request generator lists.
func forgeRepository(set *argo.ApplicationSet) string {
	for _, g := range set.Spec.Generators {
		prs := []*argo.PullRequestGenerator{g.PullRequest}
		if g.Matrix != nil {
			for _, c := range g.Matrix.Generators {
				prs = append(prs, c.PullRequest)
			}
		}
		for _, pr := range prs {
			switch {
			case pr == nil:
			case pr.Github != nil:
				return pr.Github.Owner + "/" + pr.Github.Repo
			case pr.GitLab != nil:
				return pr.GitLab.Project
			}
		}
	}
	return ""
}
