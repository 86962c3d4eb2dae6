#!/usr/bin/env bash
# Builds the programs pipec's integration tests run into .cache/bin:
# helm (tools/helm, for the chart tests), kube-apiserver v1.34.3 (from the separate tools/kube module; about 4-6
# minutes cold on 2 cores) and the cue command (the version pipec links, for
# the `cue mod publish` policy-pack test). Each is rebuilt only when its
# inputs change; instant when cached.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=.cache/bin
stamp=$bin/.kube-tools.stamp

# cue, at the version go.mod pins.
cue_version=$(sed -n 's/^\tcuelang.org\/go \(v[0-9.]*\)$/\1/p' go.mod)
if [[ ! -x $bin/cue || $(cat "$bin/.cue.stamp" 2>/dev/null) != "$cue_version" ]]; then
  echo "hack/tools.sh: building cue $cue_version (cached in $bin)" >&2
  mkdir -p "$bin"
  GOBIN="$PWD/$bin" go install "cuelang.org/go/cmd/cue@$cue_version"
  echo "$cue_version" > "$bin/.cue.stamp"
fi

# helm, from the separate tools/helm module, for the chart tests (helm lint,
# helm template).
helm_want=$(sha256sum tools/helm/go.mod tools/helm/go.sum | sha256sum | cut -d' ' -f1)
if [[ ! -x $bin/helm || $(cat "$bin/.helm.stamp" 2>/dev/null) != "$helm_want" ]]; then
  helm_version=$(sed -n 's/^require helm.sh\/helm\/v3 \(v[0-9.]*\)$/\1/p; s/^\thelm.sh\/helm\/v3 \(v[0-9.]*\)$/\1/p' tools/helm/go.mod | head -1)
  echo "hack/tools.sh: building helm $helm_version (cached in $bin)" >&2
  mkdir -p "$bin"
  # Stamped like helm's own Makefile: its default Kubernetes version (for
  # kubeVersion checks and lint) is that of the client-go it links.
  k8s_minor=$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*$/\1/p' tools/helm/go.mod)
  hl="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    hl="$hl -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
  done
  (cd tools/helm && go build -trimpath -ldflags "$hl" -o "../../$bin/helm" helm.sh/helm/v3/cmd/helm)
  echo "$helm_want" > "$bin/.helm.stamp"
fi

want=$(sha256sum tools/kube/go.mod tools/kube/go.sum | sha256sum | cut -d' ' -f1)
if [[ -x $bin/kube-apiserver && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
mkdir -p "$bin"
v=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' tools/kube/go.mod)
minor=$(echo "$v" | cut -d. -f2)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  # Stamp the version: unstamped binaries report v0.0.0-master, which
  # clients cannot parse.
  ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
echo "hack/tools.sh: building kube-apiserver $v (cached in $bin)" >&2
start=$(date +%s)
(cd tools/kube && go build -trimpath -ldflags "$ld" -o "../../$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
echo "$want" > "$stamp"
echo "hack/tools.sh: built in $(( $(date +%s) - start ))s" >&2
