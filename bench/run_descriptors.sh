#!/usr/bin/env bash
# Descriptor benchmark: the full descriptor set (`stochmorph analyze`, both phases) of a chi2 twin with F850 parameters
# (p = 0.46, alpha = 7.28 1/um, 10 nm voxels) at the given sizes on 1 and 2 ranks; time per kernel from -log_view
# (summed over both phases, slowest rank), total wall time, and peak memory (/usr/bin/time -v around each rank, summed).
# Usage: bench/run_descriptors.sh [build dir] [sizes...]   (default sizes: 200 400) -> a Markdown table on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$root/build}
shift || true
sizes=("${@:-200 400}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
echo "| grid | ranks | EDT [s] | components [s] | paths (geodesic + bottleneck) [s] | max-ball [s] | two-point [s] | surface [s] | analyze total [s] | peak RSS [bytes/voxel] |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in ${sizes[@]}; do
  mpiexec --oversubscribe -n 2 "$build/stochmorph" generate -model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 \
    -grid_size "$n" -voxel_size 0.01 -seed 1 -o "$tmp/twin.h5" > /dev/null
  for np in 1 2; do
    t0=$(date +%s.%N)
    mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $build/stochmorph analyze \
      -i $tmp/twin.h5 -o $tmp/a.json -log_view" > "$tmp/log" 2>&1
    t1=$(date +%s.%N)
    ev() { awk -v e="$1" '$1 == e {print $4}' "$tmp/log" | head -1; }
    rss_kb=0
    for r in $(seq 0 $((np - 1))); do
      kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")
      rss_kb=$((rss_kb + kb))
    done
    bpv=$(awk -v kb="$rss_kb" -v n="$n" 'BEGIN {printf "%.1f", kb * 1024 / (n * n * n)}')
    total=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    echo "| ${n}^3 | $np | $(ev SMEDT) | $(ev SMComponents) | $(ev SMPaths) | $(ev SMMaxBall) | $(ev SMTwoPoint) | $(ev SMSurface) | $total | $bpv |"
  done
done
rm -rf "$tmp"
