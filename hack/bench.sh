#!/usr/bin/env bash
# Benchmarks pipec: Go benchmarks of whole builds (each example and a
# generated 200-pipeline configuration), summarised with benchstat, plus the
# wall time of the pipec binary on each example (what a pre-commit hook
# waits for, process start included).
#
#   hack/bench.sh                 # run and print a summary
#   hack/bench.sh old.txt         # also compare with an earlier run's results
#
# Results are written to .cache/bench/new.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
count=${BENCH_COUNT:-6}
out=.cache/bench
mkdir -p "$out"
benchstat_version=v0.0.0-20260908200009-22c9c6c9d4da

go test -run '^$' -bench 'Build|Policies' -benchmem -count "$count" ./compiler | tee "$out/new.txt"
go test -run '^$' -bench Stream -benchmem -count "$count" ./render | tee -a "$out/new.txt"
go test -run '^$' -bench . -benchmem -count "$count" ./internal/sim ./internal/capacity | tee -a "$out/new.txt"
# pipec serve under load: requests/s and client-side p50/p99 over loopback.
go test -run '^$' -bench Serve -benchtime 200x -count "$count" ./internal/server | tee -a "$out/new.txt"
echo
go run "golang.org/x/perf/cmd/benchstat@$benchstat_version" ${1:+"$1"} "$out/new.txt"

echo
echo "pipec binary, wall time per run (median of 20), and peak memory:"
go build -o bin/pipec ./cmd/pipec
gen=$out/generated-200
mkdir -p "$gen"
PIPEC_WRITE_GENERATED="$PWD/$gen/pipec.cue" go test -run '^TestGeneratedConfig$' -short -count=1 ./compiler >/dev/null
for ex in examples/*/ "$gen/"; do
  ts=()
  for _ in $(seq 20); do
    s=$(date +%s%N); bin/pipec vet "$ex" 2>/dev/null; e=$(date +%s%N)
    ts+=($(( (e - s) / 1000000 )))
  done
  med=$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 10p)
  rss=$( { /usr/bin/time -f '%M' bin/pipec vet "$ex" 2>&1 >/dev/null; } | tail -1)
  printf '  %-28s %5d ms %6d MiB\n' "$ex" "$med" "$(( rss / 1024 ))"
done
