#!/usr/bin/env bash
# Transport benchmark: `stochmorph transport` of the solid phase of a chi2 twin with F850 parameters (p = 0.46,
# alpha = 7.28 1/um, 10 nm voxels), direction z, FEM and FV, at the given sizes on 1 and 2 ranks. Times and iterations
# from the JSON; peak memory from /usr/bin/time -v around each rank, summed over ranks, per unknown of the linear
# system, both in total and above the resident size of the same command that only parses its options (-help: PETSc,
# MPI and HDF5 libraries, about 40 MB per rank).
# Usage: bench/run_transport.sh [build dir] [sizes...]   (default sizes: 128 256) -> a Markdown table on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$root/build}
shift || true
sizes=("${@:-128 256}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
python=${SM_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# summed peak RSS (kB) of the ranks of the last run
rss_sum() {
  local np=$1 total=0 kb
  for r in $(seq 0 $((np - 1))); do
    kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r")
    total=$((total + kb))
  done
  echo "$total"
}
# run NP ARGS...: stochmorph under /usr/bin/time -v on every rank
run() {
  local np=$1; shift
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $build/stochmorph $*" \
    > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
}

echo "| grid | ranks | method | unknowns | setup [s] | solve [s] | iterations | D_eff/D | peak RSS [bytes/unknown] | above baseline [bytes/unknown] |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in ${sizes[@]}; do
  mpiexec --oversubscribe -n 2 "$build/stochmorph" generate -model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 \
    -grid_size "$n" -voxel_size 0.01 -seed 1 -o "$tmp/twin.h5" > /dev/null
  for np in 1 2; do
    run "$np" transport -help
    base=$(rss_sum "$np")
    for method in fem fv; do
      run "$np" transport -i "$tmp/twin.h5" -phase solid -transport_direction z -transport_method "$method" -o "$tmp/t.json"
      peak=$(rss_sum "$np")
      "$python" - "$tmp/t.json" "$n" "$np" "$method" "$peak" "$base" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, np_, method, peak, base = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) * 1024, float(sys.argv[6]) * 1024
u = r["unknowns"]
print("| %s^3 | %s | %s | %d | %.2f | %.2f | %d | %.5f | %.0f | %.0f |" % (n, np_, method, u, r["setup_time"], r["solve_time"],
      r["iterations"], r["D_eff_over_D"], peak / u, (peak - base) / u))
PY
    done
  done
done
