#!/usr/bin/env bash
# pipec's scale benchmark: generated monorepos of 1, 50, 200 and 500
# services (a pipeline each, and an app in four environments; five
# environments in all), measured with the pipec binary against `cue export`
# of the same CUE, on the same machine in the same run: median wall time of
# RUNS runs and peak resident memory. Then the caches: pipec vet of an
# unchanged configuration (a result-cache hit), and pipec vet after one
# service's pipeline changed (a miss; the validation memo spares Tekton's
# validation of the pipelines that did not change).
#
#   bench/run.sh            # RUNS=5 by default
#   SIZES="1 50" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
runs=${RUNS:-5}
sizes=${SIZES:-"1 50 200 500"}
work=$PWD/.cache/bench/scale
mkdir -p "$work"
hack/tools.sh >/dev/null # the cue binary, at the version pipec links
go build -o "$work/pipec" ./cmd/pipec
pipec=$work/pipec
cue=$PWD/.cache/bin/cue
export PIPEC_CACHE_DIR=$work/cache
rm -rf "$PIPEC_CACHE_DIR"

# median_ms CMD...: median wall time in ms over $runs runs.
median_ms() {
  local ts=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    ts+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
# peak_mib CMD...: peak resident memory in MiB.
peak_mib() {
  /usr/bin/time -f '%M' -o "$work/time.out" "$@" >/dev/null 2>&1 || true
  echo $(( $(tail -1 "$work/time.out") / 1024 ))
}

# edit_vet DIR: change one pipeline's timeout, then pipec vet DIR.
edits=0
edit_vet() {
  edits=$((edits + 1))
  sed -i "0,/timeout: \"[0-9]*m\"/s//timeout: \"$((100 + edits))m\"/" "$1/pipec.cue"
  "$pipec" vet "$1"
}

printf '%-9s %10s %10s %7s %11s %10s %11s %9s %10s %7s\n' services "pipec ms" "cue ms" ratio "pipec MiB" "cue MiB" "cached ms" "edit ms" "resources" speedup
for n in $sizes; do
  dir=$work/mono-$n
  go run ./bench/gen -n "$n" -o "$dir"
  objs=$("$pipec" build --no-cache "$dir" | grep -c '^kind:')
  p=$(median_ms "$pipec" build --no-cache "$dir")
  c=$(cd "$dir" && median_ms "$cue" export .)
  pm=$(peak_mib "$pipec" build --no-cache "$dir")
  cm=$(cd "$dir" && peak_mib "$cue" export .)
  "$pipec" vet "$dir" >/dev/null 2>&1 # fill the cache
  h=$(median_ms "$pipec" vet "$dir")
  ed=$(median_ms edit_vet "$dir")
  printf '%-9s %10d %10d %6.1fx %11d %10d %11d %9d %10d %6.1fx\n' "$n" "$p" "$c" "$(awk -v a="$p" -v b="$c" 'BEGIN{print a/b}')" "$pm" "$cm" "$h" "$ed" "$objs" "$(awk -v a="$p" -v b="$h" 'BEGIN{print a/b}')"
done
