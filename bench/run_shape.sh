#!/usr/bin/env bash
# Sub-particle benchmark (SPEC 7): `stochmorph shape` then `stochmorph rasterize` (same voxel size, 4^3 sub-samples) of
# a chi2 twin with F850 parameters (p = 0.46, alpha = 7.28 1/um, 10 nm voxels) on 1 and 2 ranks; wall time of each
# command, the watershed's distance transform and the sub-particle extraction and fits (SMShape) from -log_view (slowest rank), peak memory (/usr/bin/time -v
# around each rank, summed), and the acceptance numbers (volume fraction and surface area of the representation against
# the twin, both with the non-periodic estimator).
# Usage: bench/run_shape.sh [build dir or stochmorph executable] [sizes...]   (default size: 256) -> Markdown on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe=${1:-$root/build}
shift || true
[ -d "$exe" ] && exe="$exe/stochmorph"
sizes=("${@:-256}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# run NP LOG ARGS...: the command on NP ranks under /usr/bin/time; wall seconds on stdout, peak bytes in $tmp/rss
run() {
  local np=$1 log=$2; shift 2
  local t0 t1 kb=0
  t0=$(date +%s.%N)
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $exe $* -log_view" > "$log" 2>&1
  t1=$(date +%s.%N)
  for r in $(seq 0 $((np - 1))); do
    kb=$((kb + $(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")))
  done
  echo "$kb" > "$tmp/rss"
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}'
}
ev() { awk -v e="$1" '$1 == e {print $4}' "$2" | head -1; }
echo "| grid | ranks | sub-particles | star-shaped volume fraction | shape [s] | EDT [s] | sub-particles and fits [s] | shape peak RSS [bytes/voxel] | rasterize [s] | rasterize peak RSS [bytes/voxel] | eps twin -> shapes | S twin -> shapes [1/um] |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in ${sizes[@]}; do
  mpiexec --oversubscribe -n 2 "$exe" generate -model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 \
    -grid_size "$n" -voxel_size 0.01 -seed 1 -o "$tmp/twin.h5" > /dev/null
  mpiexec --oversubscribe -n 2 "$exe" analyze -i "$tmp/twin.h5" -analyze_periodic 0 -descriptors basic -o "$tmp/twin.json" > /dev/null
  for np in 1 2; do
    ts=$(run "$np" "$tmp/shape.log" shape -i "$tmp/twin.h5" -o "$tmp/shapes.h5")
    bs=$(awk -v kb="$(cat "$tmp/rss")" -v n="$n" 'BEGIN {printf "%.1f", kb * 1024 / (n * n * n)}')
    tr=$(run "$np" "$tmp/ras.log" rasterize -i "$tmp/shapes.h5" -o "$tmp/ras.h5")
    br=$(awk -v kb="$(cat "$tmp/rss")" -v n="$n" 'BEGIN {printf "%.1f", kb * 1024 / (n * n * n)}')
    mpiexec --oversubscribe -n 2 "$exe" analyze -i "$tmp/ras.h5" -descriptors basic -o "$tmp/ras.json" > /dev/null
    np_sub=$(awk '/sub-particles from/ {print $1}' "$tmp/shape.log")
    star=$(awk '/star-shaped volume fraction/ {print $4}' "$tmp/shape.log")
    acc=$(python3 - "$tmp/twin.json" "$tmp/ras.json" <<'PY'
import json, sys
a, b = (json.load(open(f))["phases"]["solid"] for f in sys.argv[1:3])
print("%.4f -> %.4f | %.3f -> %.3f (%+.1f %%)" % (a["volume_fraction"], b["volume_fraction"], a["specific_surface_area"],
      b["specific_surface_area"], 100 * (b["specific_surface_area"] / a["specific_surface_area"] - 1)))
PY
)
    echo "| ${n}^3 | $np | $np_sub | $star | $ts | $(ev SMEDT "$tmp/shape.log") | $(ev SMShape "$tmp/shape.log") | $bs | $tr | $br | $acc |"
  done
done
