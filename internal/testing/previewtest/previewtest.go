// Package previewtest renders the ApplicationSets pipec generates for
// preview environments with Argo CD's own ApplicationSet rendering code
// (github.com/argoproj/argo-cd/v3/applicationset/utils, v3.3.19), as the
// ApplicationSet controller does for each parameter set of its
// generators: tests use it to check the Applications every pull request
// gets. Only tests import it: Argo CD stays a test dependency.
package previewtest

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/gosimple/slug"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	utils "github.com/pipec/pipec/internal/testing/previewtest/appsetutils"
	"github.com/pipec/pipec/targets/argo"
)

// PullRequest is what Argo CD's pull request generator knows of a pull
// request.
type PullRequest struct {
	Number       int64
	Branch       string
	TargetBranch string
	HeadSHA      string
	Title        string
	Author       string
	Labels       []string
}

// Params are the parameters Argo CD v3.3's pull request generator gives a
// goTemplate ApplicationSet for pr (applicationset/generators/pull_request.go),
// with the slugs made by the same code (utils.SlugifyName is not it: the
// generator uses gosimple/slug with '_' as '-').
func Params(pr PullRequest) map[string]any {
	short := func(n int) string { return pr.HeadSHA[:min(n, len(pr.HeadSHA))] }
	labels := pr.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{
		"number":             strconv.FormatInt(pr.Number, 10),
		"title":              pr.Title,
		"branch":             pr.Branch,
		"branch_slug":        slugify(pr.Branch),
		"target_branch":      pr.TargetBranch,
		"target_branch_slug": slugify(pr.TargetBranch),
		"head_sha":           pr.HeadSHA,
		"head_short_sha":     short(8),
		"head_short_sha_7":   short(7),
		"author":             pr.Author,
		"labels":             labels,
	}
}

// Upstream converts pipec's ApplicationSet into Argo CD's type.
func Upstream(set *argo.ApplicationSet) (*v1alpha1.ApplicationSet, error) {
	raw, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	var out v1alpha1.ApplicationSet
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rendered is what one parameter set of an ApplicationSet becomes.
type Rendered struct {
	// Application is the generated Application.
	Application *v1alpha1.Application
	// Files are the git files generator's paths, for a matrix whose
	// second generator reads the pull request's record, rendered with the
	// pull request's parameters as the matrix renders them.
	Files []string
}

// Render renders set for the pull request params and, for a matrix with
// a git files generator, the record (the parsed JSON file) it reads.
func Render(set *argo.ApplicationSet, params map[string]any, record map[string]any) (*Rendered, error) {
	up, err := Upstream(set)
	if err != nil {
		return nil, err
	}
	r := &utils.Render{}
	out := &Rendered{}
	all := map[string]any{}
	for k, v := range params {
		all[k] = v
	}
	for _, g := range up.Spec.Generators {
		if g.Matrix == nil {
			continue
		}
		for _, child := range g.Matrix.Generators {
			if child.Git == nil {
				continue
			}
			// The matrix renders its second generator with the first's
			// parameters (generators.InterpolateGenerator).
			gen, err := r.RenderGeneratorParams(&v1alpha1.ApplicationSetGenerator{Git: child.Git}, params, up.Spec.GoTemplate, up.Spec.GoTemplateOptions)
			if err != nil {
				return nil, fmt.Errorf("rendering the git generator: %w", err)
			}
			for _, f := range gen.Git.Files {
				out.Files = append(out.Files, f.Path)
			}
			for k, v := range record {
				all[k] = v
			}
		}
	}
	// As template.GetTempApplication builds the Application template.
	t := up.Spec.Template
	tmpl := &v1alpha1.Application{}
	tmpl.Name, tmpl.Namespace, tmpl.Labels, tmpl.Annotations, tmpl.Finalizers = t.Name, t.Namespace, t.Labels, t.Annotations, t.Finalizers
	tmpl.Spec = t.Spec
	app, err := r.RenderTemplateParams(tmpl, up.Spec.SyncPolicy, all, up.Spec.GoTemplate, up.Spec.GoTemplateOptions)
	if err != nil {
		return nil, err
	}
	out.Application = app
	return out, nil
}

// slugify is the pull request generator's slug: gosimple/slug, at most 50
// characters, '_' as '-' (set as the generator sets them).
func slugify(s string) string {
	slug.MaxLength = 50
	slug.CustomSub = map[string]string{"_": "-"}
	return slug.Make(s)
}

// Kustomize builds a preview test Application's source as Argo CD's
// repo-server does (util/kustomize's Build): the kustomization file pipec
// wrote, with the Application's rendered patches added to it, built by
// Kustomize's own library. files are the directory's files by name; it
// returns the built objects as YAML documents.
func Kustomize(app *v1alpha1.Application, files map[string][]byte) ([][]byte, error) {
	var kust map[string]any
	if err := sigsyaml.Unmarshal(files["kustomization.yaml"], &kust); err != nil {
		return nil, err
	}
	if k := app.Spec.Source.Kustomize; k != nil && len(k.Patches) > 0 {
		kust["patches"] = k.Patches
	}
	fs := filesys.MakeFsInMemory()
	for name, b := range files {
		if err := fs.WriteFile("/src/"+name, b); err != nil {
			return nil, err
		}
	}
	kb, err := sigsyaml.Marshal(kust)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile("/src/kustomization.yaml", kb); err != nil {
		return nil, err
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/src")
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		docs = append(docs, y)
	}
	return docs, nil
}
