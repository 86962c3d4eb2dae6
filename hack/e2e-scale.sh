#!/usr/bin/env bash
# End-to-end scale test: builds the simulated cluster's programs (once;
# about 12 minutes cold on 2 cores, then cached in .cache/bin), starts
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK, the
# Tekton controller and webhook, Tekton Triggers' EventListener sink and
# interceptors and Karpenter's KWOK provider on loopback, applies what
# `pipec build examples/burst` generates, fires a burst of signed GitHub
# push deliveries at the EventListener, and measures the PipelineRuns,
# pods, nodes and autoscaler replicas until the pool has scaled back in.
#
# It ends with a summary table (measured beside `pipec simulate` on the same
# load) and writes .cache/e2e-scale/{summary.md,timeline.svg,result.json}
# and the components' logs. It exits 1 if a delivery was refused, a run an
# accepted delivery should have started is missing (with the reason the
# EventListener logged), a PipelineRun did not succeed, or the pool did not
# scale out and back.
#
#   hack/e2e-scale.sh                 # 500 PipelineRuns
#   hack/e2e-scale.sh -runs 50        # the size CI runs
#   hack/e2e-scale.sh -h              # all options
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
if ! command -v etcd >/dev/null; then
  echo "hack/e2e-scale.sh: etcd is missing: apt-get install etcd-server (or run hack/test.sh once)" >&2
  exit 1
fi
hack/sim-tools.sh
exec go run ./hack/e2e-scale "$@"
