#!/usr/bin/env bash
# Installs the clients that run pipec's CI integrations in the tests
# (internal/testing/integrations): pre-commit (Debian), podman and runc to build
# and run the container image (Debian; crun cannot run under the hybrid
# cgroup layout some machines have), debootstrap for the image's builder
# stage, rsync for gitlab-ci-local, and, from the npm registry at the
# versions tools/ci-clients/package-lock.json pins, gitlab-ci-local and
# GitHub's own action parser and expression evaluator. Cached: instant when
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for p in pre-commit:pre-commit podman:podman runc:runc debootstrap:debootstrap rsync:rsync git:git node:nodejs npm:npm; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "hack/ci-clients.sh: installing ${missing[*]} (Debian)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dir=.cache/ci-clients
want=$(sha256sum tools/ci-clients/package.json tools/ci-clients/package-lock.json | sha256sum | cut -d' ' -f1)
if [[ $(cat "$dir/.stamp" 2>/dev/null) != "$want" ]]; then
  echo "hack/ci-clients.sh: installing gitlab-ci-local and @actions/workflow-parser (npm, in $dir)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp tools/ci-clients/package.json tools/ci-clients/package-lock.json "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$dir/.stamp"
fi
pre-commit --version
podman --version
"$dir/node_modules/.bin/gitlab-ci-local" --version | sed 's/^/gitlab-ci-local /'
