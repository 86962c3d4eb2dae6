package targets

// KustomizeAPIVersion is the apiVersion of a kustomization file.
const KustomizeAPIVersion = "kustomize.config.k8s.io/v1beta1"

// Kustomization is a kustomization file: no API object, but the file
// Kustomize (and Argo CD's kustomize sources) reads in a directory. The
// renderer writes it as <dir>/kustomization.yaml and fills Resources
// with the files of the other objects in its directory; it is left out
// of streams and of what is applied to a cluster.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources,omitempty"`
}

// IsKustomization reports whether o is a kustomization file.
func IsKustomization(o Object) bool {
	return o.APIVersion == KustomizeAPIVersion && o.Kind == "Kustomization"
}

// APIObjects returns objs without the kustomization files: what a
// cluster's API server takes.
func APIObjects(objs []Object) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		if !IsKustomization(o) {
			out = append(out, o)
		}
	}
	return out
}
