#!/usr/bin/env bash
# Cost of `stochmorph shape` (issue 15, item 4): wall time, CPU time and peak memory of `shape` on NP ranks (default 2)
# for NMC twins, for one or more stochmorph executables run one after the other on the same twin (alternating, so
# that the load of a shared machine falls on all of them alike). Per run: wall seconds, user + system CPU seconds of
# all ranks (/usr/bin/time), peak memory as the sum of the ranks' maximum resident set sizes divided by the voxel
# count (the way bench/run_shape.sh measures it), the -log_view times of the slowest rank for the watershed
# (SMWatershed), the cut (SMStarAtoms, SMStarCover, SMStarMerge), the radius samples and fits (SMShapeFit) and the
# file (SMH5Write) where the executable has these events, the sub-particle count, the star-shaped volume fraction and
# the size of the shapes file; then whether the /shapes groups of the runs are identical (h5diff).
# Usage: bench/run_shape_cost.sh "EXE1 EXE2 ..." [grid size] [seed] [models]
#   e.g. bench/run_shape_cost.sh "/tmp/main/build/stochmorph build/stochmorph" 400 21 "C900 C850"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exes=(${1:?"give the stochmorph executables to compare"})
n=${2:-400}
seed=${3:-21}
models=${4:-"C900 C850"}
np=${NP:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
tmp=${SM_TMP:-$(mktemp -d)}
[ -n "${SM_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
ev() { awk -v e="$1" '$1 == e {print $4}' "$2" | head -1; }
echo "| model | grid | executable | wall [s] | CPU [s] | peak RSS [bytes/voxel] | watershed [s] | cut: atoms / cover / merges [s] | fits [s] | file [s] | sub-particles | star-shaped volume fraction | file [MB] |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in $models; do
  mpiexec --oversubscribe -n "$np" "${exes[0]}" generate -options_file "$root/inputs/nmc/$m.opts" -grid_size "$n" \
    -seed "$seed" -o "$tmp/twin.h5" > /dev/null
  for i in "${!exes[@]}"; do
    e=${exes[$i]}
    log=$tmp/shape.$i.log
    t0=$(date +%s.%N)
    mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $e shape -i $tmp/twin.h5 -o $tmp/s.$i.h5 -log_view" > "$log" 2>&1
    t1=$(date +%s.%N)
    kb=0; cpu=0
    for r in $(seq 0 $((np - 1))); do
      kb=$((kb + $(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")))
      cpu=$(awk -F: -v c="$cpu" '/User time|System time/ {c += $2} END {print c}' "$tmp/mem.$r")
    done
    printf "| %s | %s^3 | %s | %.1f | %.1f | %.1f | %s | %s / %s / %s | %s | %s | %s | %s | %.1f |\n" "$m" "$n" "$e" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$cpu" "$(awk -v kb="$kb" -v n="$n" 'BEGIN {print kb * 1024 / (n * n * n)}')" \
      "$(ev SMWatershed "$log")" "$(ev SMStarAtoms "$log")" "$(ev SMStarCover "$log")" "$(ev SMStarMerge "$log")" \
      "$(ev SMShapeFit "$log")" "$(ev SMH5Write "$log")" "$(awk '/sub-particles from/ {print $1}' "$log")" \
      "$(awk '/star-shaped volume fraction/ {print $4}' "$log")" "$(stat -c %s "$tmp/s.$i.h5" | awk '{print $1 / 1e6}')"
  done
  for i in "${!exes[@]}"; do
    [ "$i" = 0 ] && continue
    if h5diff -q "$tmp/s.0.h5" "$tmp/s.$i.h5" /shapes > /dev/null 2>&1; then same=identical; else same=different; fi
    echo "$m: /shapes of ${exes[$i]} and ${exes[0]}: $same" >&2
  done
done
