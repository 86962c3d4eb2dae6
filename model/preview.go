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
	Path Path
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
