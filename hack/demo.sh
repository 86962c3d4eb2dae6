#!/usr/bin/env bash
# Builds pipec and compiles a bundled example: the quickest way to see what
# pipec does. Usage: hack/demo.sh [example] (default go-service).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
example=${1:-go-service}
go build -o bin/pipec ./cmd/pipec
echo "# bin/pipec vet examples/$example" >&2
bin/pipec vet "examples/$example"
echo "# bin/pipec build examples/$example" >&2
bin/pipec build "examples/$example"
