package targets

import "strings"

// LabelPreviewWait labels the pods of a preview's wait Job with the
// preview's name: the CI namespace's network policy lets them reach the
// Kubernetes API.
const LabelPreviewWait = "pipec.dev/preview-wait"

// PreviewTestDir is the delivery directory of a preview's test hooks: the
// kustomization each pull request's test Application patches with its
// number and head commit.
func PreviewTestDir(preview string) string { return previewsDir + preview + "/test" }

// previewsDir holds the delivery directories of every preview.
const previewsDir = "previews/"

// isPreviewTest reports whether o is one of a preview's test hooks.
func isPreviewTest(o Object) bool {
	return strings.HasPrefix(o.Dir, previewsDir) && strings.HasSuffix(o.Dir, "/test")
}

// NamespacedOnApply reports whether the objects of dir written without a
// namespace get one only when they are applied: a preview's guard rails,
// which each pull request's Application applies to its own namespace. Two
// such objects in different directories never meet.
func NamespacedOnApply(dir string) bool { return strings.HasPrefix(dir, previewsDir) }
