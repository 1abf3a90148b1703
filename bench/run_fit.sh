#!/usr/bin/env bash
# Calibration benchmark: `stochmorph fit -model chi2` of a chi2 twin with F850 parameters (p = 0.46, alpha = 7.28 1/um,
# 10 nm voxels) at the given sizes on 1 and 2 ranks: time of the two-point functions and of the fit from -log_view
# (slowest rank), total wall time, the fitted p and alpha, and peak memory (/usr/bin/time -v around each rank, summed).
# Usage: bench/run_fit.sh [build dir] [sizes...]   (default size: 400) -> a Markdown table on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$root/build}
shift || true
sizes=("${@:-400}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
echo "| grid | ranks | two-point [s] | fit [s] | fit total [s] | p (sigma) | alpha [1/um] | peak RSS [bytes/voxel] |"
echo "|---|---|---|---|---|---|---|---|"
for n in ${sizes[@]}; do
  mpiexec --oversubscribe -n 2 "$build/stochmorph" generate -options_file "$root/inputs/nmc/F850.opts" -grid_size "$n" \
    -seed 1 -o "$tmp/twin.h5" > /dev/null
  for np in 1 2; do
    t0=$(date +%s.%N)
    mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $build/stochmorph fit \
      -i $tmp/twin.h5 -model chi2 -o $tmp/fitted.opts -log_view" > "$tmp/log" 2>&1
    t1=$(date +%s.%N)
    ev() { awk -v e="$1" '$1 == e {print $4}' "$tmp/log" | head -1; }
    rss_kb=0
    for r in $(seq 0 $((np - 1))); do
      kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")
      rss_kb=$((rss_kb + kb))
    done
    bpv=$(awk -v kb="$rss_kb" -v n="$n" 'BEGIN {printf "%.1f", kb * 1024 / (n * n * n)}')
    total=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    p=$(awk '$1 == "model" && $2 == "chi2" {gsub(/[),]/, "", $9); print $7, "(" $9 ")"}' "$tmp/log")
    alpha=$(awk '$1 == "model" && $2 == "chi2" {print $11}' "$tmp/log")
    echo "| ${n}^3 | $np | $(ev SMTwoPoint) | $(ev SMFit) | $total | $p | $alpha | $bpv |"
  done
done
rm -rf "$tmp"
