#!/usr/bin/env bash
# Builds the programs of the simulated cluster that hack/e2e-scale.sh runs,
# into .cache/bin, each from the Go module proxy at a pinned version:
#
#   kube-apiserver, kube-controller-manager, kube-scheduler  tools/kube (k8s.io/kubernetes)
#   kwok                                   sigs.k8s.io/kwok (fake nodes and pod lifecycle)
#   tekton-controller, tekton-webhook,     github.com/tektoncd/pipeline
#   tekton-resolvers                       (remote resolution: bundles, cluster, git, http, hub)
#   triggers-sink, triggers-interceptors   github.com/tektoncd/triggers (EventListener sink, core interceptors)
#   karpenter-kwok                         sigs.k8s.io/karpenter (Karpenter's KWOK provider)
#   rollouts-controller                    github.com/argoproj/argo-rollouts (canary and blue-green
#                                          rollouts with analysis; the version whose CRDs the tests use)
#   source-controller, kustomize-controller  github.com/fluxcd/... (Flux v2.7, the versions whose
#                                          CRDs the tests use; internal/testing/e2eflux)
#
# The small pieces the simulation needs besides (a metrics API, a volume
# provisioner) run inside the test driver, internal/testing/e2escale.
#
# Upstream programs are built inside their own module (its go.mod and go.sum,
# with its replace directives), as their release builds are. Each binary is
# rebuilt only when its pin changes. Cold, on 2 cores, this takes about 15
# minutes (the Rollouts controller about 3.5 of them); cached, it is instant.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=$PWD/.cache/bin
mkdir -p "$bin"

# Pins. The versions are the newest that build with Go 1.26.8 and agree with
# the Tekton and Triggers versions pipec's own go.mod links.
KWOK=v0.7.0
TEKTON=$(sed -n 's/^\tgithub.com\/tektoncd\/pipeline \(v[0-9.]*\)$/\1/p' go.mod)
TRIGGERS=$(sed -n 's/^\tgithub.com\/tektoncd\/triggers \(v[0-9.]*\)$/\1/p' go.mod)
KARPENTER=v1.14.1
# The Argo Rollouts version whose CRDs internal/testing/e2e installs.
ROLLOUTS=v1.8.3
# The Flux controllers whose CRDs internal/testing/e2e installs.
FLUX_SOURCE=v1.7.0
FLUX_KUSTOMIZE=v1.7.3

stamped() { [[ -x $bin/$1 && $(cat "$bin/.$1.stamp" 2>/dev/null) == "$2" ]]; }
stamp() { echo "$2" > "$bin/.$1.stamp"; }
timed() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "hack/sim-tools.sh: building $name" >&2
  "$@"
  echo "hack/sim-tools.sh: built $name in $(( $(date +%s) - t0 ))s" >&2
}

# upstream NAME MODULE VERSION PACKAGE [LDFLAGS]: builds PACKAGE of MODULE at
# VERSION inside the module's own directory in the module cache.
upstream() {
  local name=$1 mod=$2 ver=$3 pkg=$4 ld=${5:--s -w}
  stamped "$name" "$mod@$ver $pkg $ld" && return 0
  local dir
  dir=$(go mod download -json "$mod@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir ]] || { echo "hack/sim-tools.sh: cannot download $mod@$ver" >&2; exit 1; }
  (cd "$dir" && timed "$name ($mod@$ver)" go build -mod=readonly -trimpath -ldflags "$ld" -o "$bin/$name" "$pkg")
  stamp "$name" "$mod@$ver $pkg $ld"
}

# The Kubernetes control plane, from tools/kube, stamped with its version as
# Kubernetes' own build does (unstamped binaries report v0.0.0-master).
kube_sum=$(sha256sum tools/kube/go.mod tools/kube/go.sum | sha256sum | cut -d' ' -f1)
kv=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p; s/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' tools/kube/go.mod | head -1)
kld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kld="$kld -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$kv" | cut -d. -f2) -X $p.gitTreeState=clean"
done
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  if ! stamped "$c" "$kube_sum"; then
    (cd tools/kube && timed "$c $kv" go build -trimpath -ldflags "$kld" -o "$bin/$c" "k8s.io/kubernetes/cmd/$c")
    stamp "$c" "$kube_sum"
  fi
done
# hack/tools.sh's stamp for kube-apiserver, so the two scripts share it.
echo "$kube_sum" > "$bin/.kube-tools.stamp"

upstream kwok sigs.k8s.io/kwok "$KWOK" ./cmd/kwok
upstream tekton-controller github.com/tektoncd/pipeline "$TEKTON" ./cmd/controller
upstream tekton-webhook github.com/tektoncd/pipeline "$TEKTON" ./cmd/webhook
upstream tekton-resolvers github.com/tektoncd/pipeline "$TEKTON" ./cmd/resolvers
upstream triggers-sink github.com/tektoncd/triggers "$TRIGGERS" ./cmd/eventlistenersink
upstream triggers-interceptors github.com/tektoncd/triggers "$TRIGGERS" ./cmd/interceptors
upstream karpenter-kwok sigs.k8s.io/karpenter "$KARPENTER" ./kwok
upstream rollouts-controller github.com/argoproj/argo-rollouts "$ROLLOUTS" ./cmd/rollouts-controller

# upstream_flux NAME MODULE VERSION: a Flux controller. Its go.mod replaces
# its API module with ./api, which the module proxy's zip of the controller
# leaves out (a nested module): it is built in a copy of its module with
# that replace dropped, so the API module comes from the proxy at the same
# version, as the release's own ./api.
upstream_flux() {
  local name=$1 mod=$2 ver=$3
  stamped "$name" "$mod@$ver" && return 0
  local dir tmp
  dir=$(go mod download -json "$mod@$ver" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $dir ]] || { echo "hack/sim-tools.sh: cannot download $mod@$ver" >&2; exit 1; }
  tmp=$(mktemp -d)
  cp -r "$dir/." "$tmp" && chmod -R u+w "$tmp"
  (cd "$tmp" && go mod edit -dropreplace "$mod/api" -require "$mod/api@$ver" &&
    timed "$name ($mod@$ver)" go build -mod=mod -trimpath -ldflags "-s -w" -o "$bin/$name" .)
  rm -rf "$tmp"
  stamp "$name" "$mod@$ver"
}
# Only with PIPEC_SIM_FLUX=1 (go test -tags e2eflux ./internal/testing/e2eflux):
# cold, the two took 21 and 24 minutes here, built at once on 2 busy cores.
if [[ ${PIPEC_SIM_FLUX:-} == 1 ]]; then
  upstream_flux source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE"
  upstream_flux kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE"
fi
