#!/usr/bin/env bash
# Runs pipec's full test suite on a fresh machine: installs what it needs
# (etcd from Debian's etcd-server package, the CI clients of
# hack/ci-clients.sh, the Go modules, a kube-apiserver built from
# k8s.io/kubernetes in tools/kube), then vets and tests everything,
# including the real API server tests and the CI integrations run by their
# clients. Safe to rerun: every step is cached.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
step() { printf '\n== %s\n' "$*" >&2; }

step "checking Go"
go version
want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
have=$(go env GOVERSION | sed 's/^go//')
if [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1) != "$want" ]]; then
  echo "pipec needs Go $want or newer, found $have" >&2
  exit 1
fi

step "installing etcd (Debian etcd-server) if missing"
if ! command -v etcd >/dev/null; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  # The package starts a system etcd on the default ports; the tests run
  # their own on free ports, so stop it if systemd started one.
  $sudo systemctl stop etcd >/dev/null 2>&1 || true
fi
etcd --version | sed -n 1p  # not head: with pipefail, etcd may die of SIGPIPE (exit 141)

step "installing the CI clients the integration tests run (pre-commit, gitlab-ci-local, GitHub's action parser, podman)"
hack/ci-clients.sh

step "downloading Go modules"
go mod download
(cd tools/kube && go mod download)
(cd tools/hpacheck && go mod download)
(cd tools/monitorcheck && go mod download)
(cd tools/supplychain && go mod download)

step "building kube-apiserver and cue for the integration tests (cached)"
hack/tools.sh

step "building the simulated cluster for the end-to-end scale test (cached)"
hack/sim-tools.sh

step "go vet"
go vet ./...
(cd tools/hpacheck && go vet ./...)
(cd tools/monitorcheck && go vet ./...)
(cd tools/supplychain && go vet ./...)

step "checking formatting"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [[ -n $unformatted ]]; then
  echo "gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go test (unit, golden, CLI scripts, fuzz seeds, real kube-apiserver, CI integrations)"
go test -count=1 -timeout 30m ./...

step "go test -race over the packages that start goroutines"
# Tekton's validation and rendering run on all CPUs, the policy packs load
# on another while the configuration does and evaluate side by side, the
# service and the webhooks serve concurrently, the validation memo is
# shared by them.
go test -race -count=1 ./render ./targets/tekton ./compiler ./policies ./internal/cache ./internal/server ./internal/webhook
go test -race -count=1 -run Progress ./internal/cli

step "the HPA model against Kubernetes' own replica calculator (tools/hpacheck)"
(cd tools/hpacheck && go test -count=1 ./...)

step "alerts and kube-state-metrics configuration against Prometheus and kube-state-metrics (tools/monitorcheck)"
(cd tools/monitorcheck && go test -count=1 ./...)

step "a cosign-signed image admitted, unsigned and foreign-signed ones refused, and only the images an environment admits let in (Kyverno's engine, as kyverno apply runs it), under pipec's Kyverno policy (tools/supplychain)"
(cd tools/supplychain && go test -count=1 ./...)

step "end to end at scale: 50 PipelineRuns through the EventListener on a simulated cluster (hack/e2e-scale.sh)"
hack/e2e-scale.sh -runs 50 -task-duration 5s -timeout 10m -scale-in-timeout 8m -out .cache/e2e-scale-ci

step "benchmarks compile and run once"
go test -run '^$' -bench . -benchtime 1x ./... >/dev/null

echo >&2
echo "all tests passed" >&2
