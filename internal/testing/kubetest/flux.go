package kubetest

// CRDModule is a module downloaded for its CRDs, at a pinned version and
// checksum: Glob finds them in it.
type CRDModule struct{ Path, Version, Sum, Glob string }

// FluxModules are Flux v2.7's controllers (the versions targets/flux's API
// modules come from, and hack/sim-tools.sh's FLUX_* pins) and where their
// CRDs are; internal/testing/e2e installs them, internal/testing/e2eflux
// runs the controllers on them.
var FluxModules = []CRDModule{
	{"github.com/fluxcd/source-controller", "v1.7.0", "h1:/fBgS4CSmT5Jj/fjQDF92y+pC3gst1GJjgNSzY8Ff9I=", "config/crd/bases/source.toolkit.fluxcd.io_*.yaml"},
	{"github.com/fluxcd/kustomize-controller", "v1.7.3", "h1:SzNnGn/4ObAPEHHleM5U7y/AKxKXph3Vj6ZhteeXw8M=", "config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"},
	{"github.com/fluxcd/helm-controller", "v1.4.0", "h1:rkm8rmB6Na7eNc4pJOnvtXEaJ19iKluRtayHKjBxcUM=", "config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml"},
}
