#!/usr/bin/env bash
# Synthesis benchmark (issue: foundation): one chi2 (k = 2) twin at 256^3 and 400^3 on 1 and 2 ranks, next to the bare
# FFTW transforms it needs, measured in the same run (bench_synthesis, best of 3); peak memory from /usr/bin/time -v
# around each rank of a real `stochmorph generate` run of the same twin (which also writes the HDF5 file), summed over
# the ranks.
# Usage: bench/run_synthesis.sh [build dir]   -> prints a Markdown table (append it to bench/RESULTS.md)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$root/build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
echo "| grid | ranks | forward r2c [s] | backward c2r [s] | transforms needed (1 + 2) [s] | synthesis [s] | ratio | peak RSS, all ranks [bytes/voxel] |"
echo "|---|---|---|---|---|---|---|---|"
for n in 256 400; do
  for np in 1 2; do
    model="-model chi2 -model_dof 2 -model_alpha 7.28 -model_volume_fraction 0.46 -grid_size $n -voxel_size 0.01"
    mpiexec --oversubscribe -n "$np" "$build/bench/bench_synthesis" $model -bench_repeat 3 > "$tmp/out" 2>&1
    mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $build/stochmorph generate \
      $model -o $tmp/twin.h5" > "$tmp/gen" 2>&1
    line=$(grep '^bench_synthesis' "$tmp/out")
    rss_kb=0
    for r in $(seq 0 $((np - 1))); do
      kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")
      rss_kb=$((rss_kb + kb))
    done
    get() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
    bpv=$(awk -v kb="$rss_kb" -v n="$n" 'BEGIN {printf "%.1f", kb * 1024 / (n * n * n)}')
    echo "| ${n}^3 | $np | $(get fwd_s) | $(get bwd_s) | $(get transforms_s) | $(get synthesis_s) | $(get ratio) | $bpv |"
  done
done
rm -rf "$tmp"
