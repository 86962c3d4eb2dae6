package model

import "strings"

// Preview is a preview environment per pull request.
type Preview struct {
	Name        string
	Team        string
	Environment string
	// Quota of each preview: the preview's own, else the environment's
	// (resolved by the compiler); nil when neither has one.
	Quota    *Quota
	MaxOpen  int
	NodePool string
	// PullRequests configures the pull request generator.
	PullRequests PreviewPullRequests
	// Apps sorted by name.
	Apps []*PreviewApp
	// Test is the integration-test pipeline; nil when none.
	Test *PreviewTest
	Path Path
}

// PreviewTest is the integration-test pipeline a preview runs once it is
// healthy, and where its outcome goes.
type PreviewTest struct {
	Pipeline string
	// Params are more arguments of the run, by parameter name.
	Params map[string]string
	// StatusToken is the Secret, in the CI namespace, with the token the
	// status task posts the commit status with.
	StatusToken KeyRef
	// Context is the commit status's name.
	Context string
	Path    Path
}

// The parameters a preview's test run gets, which its pipeline declares.
const (
	PreviewTestNumberParam    = "pr-number"
	PreviewTestHeadSHAParam   = "head-sha"
	PreviewTestNamespaceParam = "preview-namespace"
)

// TestApplication is the name of the test Application of the preview of
// pull request number, and of its PipelineRun.
func (p *Preview) TestApplication(number string) string { return p.Namespace(number) + "-test" }

// TestedApp is the app whose recorded digest starts a new test run: the
// first app (by name) the pull request builds; nil when it builds none.
func (p *Preview) TestedApp() *PreviewApp {
	for _, pa := range p.Apps {
		if pa.Build != nil {
			return pa
		}
	}
	return nil
}

// PreviewPullRequests configures Argo CD's pull request generator.
type PreviewPullRequests struct {
	Provider            string // github, gitlab
	Repository          string
	API                 string
	Token               KeyRef
	Labels              []string
	RequeueAfterSeconds int64
	Path                Path
}

// PreviewApp is an app deployed in a preview.
type PreviewApp struct {
	App string
	// Build is the pull request pipeline that builds the app's image; nil
	// when the preview runs the app as its environment does.
	Build *PreviewBuild
	Path  Path
}

// PreviewBuild is the pull request pipeline that builds a preview app's
// image, and the result holding its digest.
type PreviewBuild struct {
	Pipeline       string
	Result         string
	GitCredentials string
	Path           Path
}

// PreviewNumberDigits is the most decimal digits a pull request number
// has: Argo CD's pull request generator holds it in an int64.
const PreviewNumberDigits = 19

// Namespace is the namespace of the preview of pull request number.
func (p *Preview) Namespace(number string) string { return p.Name + "-pr-" + number }

// NamespacePattern is the glob of the previews' namespaces, as an Argo CD
// project's destinations take it.
func (p *Preview) NamespacePattern() string { return p.Name + "-pr-*" }

// LongestNamespace is the namespace of the preview with the largest pull
// request number.
func (p *Preview) LongestNamespace() string {
	return p.Namespace(strings.Repeat("9", PreviewNumberDigits))
}

// DigestDir is where, under the GitOps path, the pull request pipelines
// record the digests they built for the preview of pull request number:
// one <app>.json file per app, {"digest": "sha256:..."}.
func (p *Preview) DigestDir(number string) string { return "previews/" + p.Name + "/pr-" + number }

// Preview returns the preview with the given name, or nil.
func (p *Plan) Preview(name string) *Preview {
	for _, x := range p.Previews {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// PreviewsTesting returns the previews whose tests run pipeline name: runs
// of a pull request's code, as the pipeline's ServiceAccount.
func (p *Plan) PreviewsTesting(name string) []*Preview {
	var out []*Preview
	for _, x := range p.Previews {
		if x.Test != nil && x.Test.Pipeline == name {
			out = append(out, x)
		}
	}
	return out
}
