package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/pipec/pipec/diag"
	"github.com/pipec/pipec/model"
)

// Rules of what an environment's admission policy admits.
var (
	ruleAdmissionAllow      = rule("admission-allow", diag.Error, "An entry of an environment's admission.allow is not an image reference or repository pattern, or admits images of every repository", `write a repository ("docker.io/library/redis"), a reference pinned by digest, or a path pattern ending in "/*" ("quay.io/prometheus/*")`)
	ruleAdmissionUnenforced = rule("admission-unenforced", diag.Warning, "An environment has an admission allow-list, but no sign gate admits into it: no admission policy enforces anything there", `add the environment to a sign gate's admit (gates.sign.admit), or remove admission`)
	ruleAdmissionRefused    = rule("admission-refused", diag.Error, "An image the configuration runs in an environment would be refused by the environment's admission policy", `build the image in a pipeline whose sign gate admits into the environment, pin a test image by digest, or list a third-party image in the environment's admission.allow`)
)

// checkAdmission checks what each environment admits: its allow-list
// entries are references or patterns that name repositories, an allow-list
// is enforced by some sign gate, the CI namespace admits no such policy
// (the pipelines' own steps run there), and every image the configuration
// runs in an admitting environment (the apps' images, the release tests'
// images) is one its policy admits.
func (c *checker) checkAdmission() {
	admitted := map[string]model.Admission{}
	for _, a := range c.plan.Admissions() {
		admitted[a.Environment] = a
	}
	for _, env := range c.plan.Environments {
		a, enforced := admitted[env.Name]
		if ad := env.Admission; ad != nil {
			c.checkAllowList(env, ad)
			if !enforced && len(ad.Allow) > 0 {
				d := c.report(ruleAdmissionUnenforced, ad.Path, "environment %q lists images to admit, but no sign gate admits into it: its namespace admits every image", env.Name)
				d.Expected = fmt.Sprintf("a pipeline whose gates.sign.admit names %q", env.Name)
			}
		}
		if !enforced {
			continue
		}
		if c.plan.Namespace != "" && env.Namespace == c.plan.Namespace && env.Cluster == model.InCluster {
			d := c.report(ruleAdmission, a.Rules[0].Path, "environment %q is the CI namespace %q: its admission policy would refuse the pipelines' own steps, which build the images before they are signed", env.Name, env.Namespace)
			d.Expected = "an environment whose namespace is not the CI namespace"
			d.Hint = "admit into the environments the apps are deployed to"
		}
		c.checkAdmitted(env, a)
	}
}

// checkAllowList checks an environment's admission.allow entries.
func (c *checker) checkAllowList(env *model.Environment, ad *model.EnvironmentAdmission) {
	for i, e := range ad.Allow {
		// A whole registry ("quay.io/*") is fine for the platform's own
		// registry, which only it pushes to; the restricted pack asks a
		// waiver for it (pipec/restricted/admission-registry-wide).
		if _, _, err := model.ImagePatterns(e.Image); err != nil {
			d := c.report(ruleAdmissionAllow, e.Path, "admission.allow entry %q of environment %q is not an image reference or repository pattern: %v", e.Image, env.Name, err)
			d.Expected = `a repository such as "docker.io/library/redis", a reference pinned by digest, or a path pattern such as "quay.io/prometheus/*"`
			if strings.ContainsAny(e.Image, "*?") {
				d.Hint = "a pattern that may match any repository would admit any image unsigned: list the repositories the environment runs, or a path of them followed by /*"
			}
			continue
		}
		for j := range i {
			if same(ad.Allow[j].Image, e.Image) {
				d := c.report(ruleAdmissionAllow, e.Path, "admission.allow entry %q of environment %q repeats entry %d (%q)", e.Image, env.Name, j, ad.Allow[j].Image)
				d.Hint = "remove one"
				break
			}
		}
	}
}

// same reports whether two allow-list entries admit the same images.
func same(a, b string) bool {
	pa, _, errA := model.ImagePatterns(a)
	pb, _, errB := model.ImagePatterns(b)
	return errA == nil && errB == nil && slices.Equal(pa, pb)
}

// checkAdmitted reports the images the configuration runs in an admitting
// environment that its policy would refuse: an app's image of no gated
// repository admitted there and not allow-listed, and a release test's
// image that is not pinned by digest (pipec's own images are admitted by
// their exact reference: a tag could be moved to anything) unless a gated
// repository or the allow-list covers it.
func (c *checker) checkAdmitted(env *model.Environment, a model.Admission) {
	var allowed []string
	for _, u := range a.Unsigned {
		if u.Kind == model.UnsignedAllowed {
			p, _, _ := model.ImagePatterns(u.Image)
			allowed = append(allowed, p...)
		}
	}
	patterns := model.NewPatternSet(append(a.GatedPatterns(), allowed...))
	admits := patterns.Admits
	for _, app := range c.plan.Apps {
		for _, dep := range app.Deployments {
			if dep.Environment != env.Name {
				continue
			}
			img := dep.Image
			if img != nil && img.Repository != "" && img.FromPipeline != nil && img.Tag == "" && img.Digest == "" {
				// The digest the pipeline's build reports, at run time.
				if ref := img.Repository + "@sha256:" + strings.Repeat("0", 64); !admits(ref) {
					d := c.report(ruleAdmissionRefused, img.FromPipeline.Path, "app %q runs the image pipeline %q builds, %s, in environment %q, whose admission policy refuses it: no sign gate admitting into %q builds %s, and admission.allow does not list it", app.Name, img.FromPipeline.Pipeline, img.Repository, env.Name, env.Name, img.Repository)
					d.Expected = fmt.Sprintf("pipeline %q's gates.sign.admit naming %q", img.FromPipeline.Pipeline, env.Name)
					d.Hint = fmt.Sprintf("add %q to the sign.admit of pipeline %q's gates (gates.image %s)", env.Name, img.FromPipeline.Pipeline, img.Repository)
				}
			}
			if img != nil && img.Repository != "" && (img.Tag != "" || img.Digest != "") {
				if ref := img.Ref(); !admits(ref) {
					d := c.report(ruleAdmissionRefused, img.Path.Field("repository"), "app %q runs %s in environment %q, whose admission policy refuses it: no sign gate admitting into %q builds %s, and admission.allow does not list it", app.Name, ref, env.Name, env.Name, img.Repository)
					d.Expected = fmt.Sprintf("the image of a pipeline whose gates.sign.admit names %q, or an entry of environments.%s.admission.allow", env.Name, env.Name)
					d.Hint = fmt.Sprintf("gate the pipeline that builds %s and add %q to its sign.admit; for a third-party image, add %q to environments.%s.admission.allow", img.Repository, env.Name, img.Repository, env.Name)
				}
			}
		}
	}
	for _, u := range c.plan.PlacedImages(env.Name) {
		if admits(u.Image) {
			continue
		}
		named, err := reference.ParseNormalizedNamed(u.Image)
		if _, digested := named.(reference.Digested); err == nil && digested {
			continue
		}
		d := c.report(ruleAdmissionRefused, u.Path, "%s runs %s in environment %q, whose admission policy admits pipec's own images by digest only", u.What, u.Image, env.Name)
		d.Expected = "an image pinned by digest, such as ghcr.io/acme/smoke:1.2.0@sha256:<digest>"
		d.Hint = "pin the image by digest, or build it in a pipeline whose sign gate admits into " + env.Name
	}
}
