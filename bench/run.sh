#!/usr/bin/env bash
# pipec's scale benchmark, on generated configurations of two shapes
# (bench/gen):
#   monorepo  one file, each service's pipeline and app written out, five
#             environments, a scan and a signature per image
#             (benchgen.Monorepo);
#   teams     a file per team of 25 services whose pipelines and apps a
#             comprehension stamps from shared templates, matrix builds,
#             seven environments, an AppProject per team, a scan, an SBOM
#             and a signature per image (benchgen.Teams).
# Both build without a finding under the policy packs, as a real
# configuration must (compiler's TestGeneratedShapes).
# Each size is measured with the pipec binary against `cue export` of the
# same CUE, on the same machine in the same run: median wall time of RUNS
# runs, time per service, peak resident memory and memory per service.
# Then the caches: pipec vet of an unchanged configuration (a result-cache
# hit), and pipec vet after one service changed (a miss; the validation
# memo spares Tekton's validation of the pipelines that did not change).
#
#   bench/run.sh                       # RUNS=5 by default
#   SHAPES=teams TEAMS_SIZES="100 1000" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
runs=${RUNS:-5}
shapes=${SHAPES:-"monorepo teams"}
monorepo_sizes=${MONOREPO_SIZES:-${SIZES:-"1 50 200 500"}}
teams_sizes=${TEAMS_SIZES:-"100 400 1000 2000 5000"}
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

# edit_vet SHAPE DIR: change one service, then pipec vet DIR.
edits=0
edit_vet() {
  edits=$((edits + 1))
  case $1 in
  monorepo) sed -i "0,/timeout: \"[0-9]*m\"/s//timeout: \"$((100 + edits))m\"/" "$2/pipec.cue" ;;
  teams) sed -i "0,/replicas: [0-9]*/s//replicas: $((1 + edits % 9))/" "$2/team-000.cue" ;;
  esac
  "$pipec" vet "$2"
}

for shape in $shapes; do
  case $shape in
  monorepo) sizes=$monorepo_sizes ;;
  teams) sizes=$teams_sizes ;;
  *) echo "unknown shape $shape" >&2; exit 2 ;;
  esac
  echo "shape: $shape"
  printf '%-9s %9s %9s %8s %6s %8s %9s %8s %6s %9s %9s %8s\n' services resources "pipec ms" "cue ms" ratio "ms/svc" "pipec MiB" "cue MiB" ratio "KiB/svc" "cached ms" "edit ms"
  for n in $sizes; do
    dir=$work/$shape-$n
    go run ./bench/gen -shape "$shape" -n "$n" -o "$dir"
    # A refused build stops early: timing one would measure nothing.
    if ! "$pipec" build --no-cache "$dir" >"$work/out.yaml" 2>"$work/err.txt"; then
      echo "bench/run.sh: pipec refuses the generated $shape-$n:" >&2
      tail -5 "$work/err.txt" >&2
      exit 1
    fi
    objs=$(grep -c "^kind:" "$work/out.yaml")
    p=$(median_ms "$pipec" build --no-cache "$dir")
    c=$(cd "$dir" && median_ms "$cue" export .)
    pm=$(peak_mib "$pipec" build --no-cache "$dir")
    cm=$(cd "$dir" && peak_mib "$cue" export .)
    "$pipec" vet "$dir" >/dev/null 2>&1 # fill the cache
    h=$(median_ms "$pipec" vet "$dir")
    ed=$(median_ms edit_vet "$shape" "$dir")
    printf '%-9s %9d %9d %8d %5.1fx %8.2f %9d %8d %5.1fx %9d %9d %8d\n' "$n" "$objs" "$p" "$c" \
      "$(awk -v a="$p" -v b="$c" 'BEGIN{print a/b}')" "$(awk -v a="$p" -v n="$n" 'BEGIN{print a/n}')" \
      "$pm" "$cm" "$(awk -v a="$pm" -v b="$cm" 'BEGIN{print a/b}')" "$(awk -v a="$pm" -v n="$n" 'BEGIN{print int(a*1024/n)}')" "$h" "$ed"
  done
  echo
done
