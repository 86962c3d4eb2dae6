package targets

import "strings"

// LabelPreviewWait labels the pods of a preview's wait Job with the
// preview's name: the CI namespace's network policy lets them reach the
// Kubernetes API.
const LabelPreviewWait = "pipec.dev/preview-wait"

// PreviewTestDir is the delivery directory of a preview's test hooks: the
// kustomization each pull request's test Application patches with its
// number and head commit.
func PreviewTestDir(preview string) string { return "previews/" + preview + "/test" }

// isPreviewTest reports whether o is one of a preview's test hooks.
func isPreviewTest(o Object) bool {
	return strings.HasPrefix(o.Dir, "previews/") && strings.HasSuffix(o.Dir, "/test")
}
