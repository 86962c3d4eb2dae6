package targets

// KustomizeAPIVersion is the apiVersion of a kustomization file.
const KustomizeAPIVersion = "kustomize.config.k8s.io/v1beta1"

// Kustomization is a kustomization file: no API object, but the file
// Kustomize (and Argo CD's kustomize sources) reads in a directory. The
// renderer writes it as <dir>/kustomization.yaml and fills Resources
// with the files of the other objects in its directory; it is left out
// of streams (Streamed).
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources,omitempty"`
}

// IsKustomization reports whether o is a kustomization file.
func IsKustomization(o Object) bool {
	return o.APIVersion == KustomizeAPIVersion && o.Kind == "Kustomization"
}

// Streamed returns the objects of objs a stream (`pipec build` without -o,
// which Argo CD's Config Management Plugin applies as one Application)
// holds: not the kustomization files, which only mean something in their
// directory, nor the preview test hooks, which only act patched by a pull
// request's test Application (applied as they are, they would wait for
// and test a preview that does not exist).
func Streamed(objs []Object) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		if IsStreamed(o) {
			out = append(out, o)
		}
	}
	return out
}

// IsStreamed reports whether a stream holds o (Streamed).
func IsStreamed(o Object) bool { return !IsKustomization(o) && !isPreviewTest(o) }
