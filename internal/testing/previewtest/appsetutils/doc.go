// Package utils holds two files of Argo CD v3.3.19's
// applicationset/utils, byte for byte: utils.go (Render: the
// ApplicationSet controller's template and generator rendering) and
// template_functions.go. The package itself cannot be imported: its other
// files reach Argo CD's util/kube, which only builds against the
// gitops-engine Argo CD replaces with a directory of its own repository
// (replace ... => ./gitops-engine), which no module version has.
// TestCopiesAreUpstream (previewtest) requires both files to be the
// module's own.
package utils
