#!/usr/bin/env bash
# Communication and memory counts for bench/SCALING.md: the F850 model (chi2, k = 2, gauss, p = 0.46, alpha = 7.28
# 1/um, 10 nm voxels) at the given sizes and rank counts; generate, the full descriptor set (analyze) and one FEM solve
# (transport -transport_direction z). From -log_view: per kernel event the messages and bytes sent, per rank (PETSc
# counts MPI_Isend/Irecv of the grid module and of PETSc itself; FFTW's transposes are added by the FFT object). Peak
# resident memory of every rank from /usr/bin/time -v. Oversubscribed runs are fine: the counts do not depend on
# timing (the propagation sweeps of components and path maps depend on the data only).
# Usage: bench/run_scaling.sh [build dir] [sizes] [ranks] [commands]   e.g. bench/run_scaling.sh build "128 256" "1 2 4 8 16"
#   commands: any of "generate analyze transport" (default: all three), e.g. to measure the solve apart
# Output: Markdown tables on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$root/build}
sizes=(${2:-128})
ranks=(${3:-1 2 4 8 16})
commands=(${4:-generate analyze transport})
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp} OMPI_MCA_btl_vader_single_copy_mechanism=none
# more ranks than cores: waiting ranks yield the core instead of spinning
export OMPI_MCA_mpi_yield_when_idle=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
F850="-model chi2 -model_dof 2 -model_covariance gauss -model_volume_fraction 0.46 -model_alpha 7.28 -voxel_size 0.01"
# one command on np ranks with per-rank peak RSS; prints "rank0 median max" in MiB to $tmp/mem and keeps the log
runmem() {
  local np=$1 log=$2; shift 2
  rm -f "$tmp"/mem.*
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $*" > "$log" 2>&1
  for r in $(seq 0 $((np - 1))); do awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/mem.$r"; done > "$tmp/rss"
  local r0 med mx
  r0=$(head -1 "$tmp/rss")
  med=$(sort -n "$tmp/rss" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  mx=$(sort -n "$tmp/rss" | tail -1)
  echo "$((r0 / 1024)) $((med / 1024)) $((mx / 1024))"
}
# the kernel rows of a -log_view: event, messages per rank, kB sent per rank
events() {
  awk -v np="$1" '$1 ~ /^(SM[A-Za-z0-9]+|KSPSolve|PCSetUp|MatAssemblyEnd)$/ && NF > 10 {m = $8; l = $9; if (m > 0) printf "%s %.1f %.1f\n", $1, m / np, m * l / np / 1024}' "$2"
}
echo "| grid | ranks | command | peak RSS rank 0 / median / max [MiB] | per kernel: messages per rank, kB sent per rank |"
echo "|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  mpiexec --oversubscribe -n 2 "$build/stochmorph" generate $F850 -grid_size "$n" -seed 1 -o "$tmp/twin.h5" > /dev/null
  for np in "${ranks[@]}"; do
    for cmd in "${commands[@]}"; do
      case $cmd in
        generate) args="generate $F850 -grid_size $n -seed 1 -o $tmp/g.h5 -log_view" ;;
        analyze) args="analyze -i $tmp/twin.h5 -o $tmp/a.json -log_view" ;;
        transport) args="transport -i $tmp/twin.h5 -phase solid -transport_direction z -o $tmp/t.json -log_view" ;;
      esac
      mem=$(runmem "$np" "$tmp/log" "$build/stochmorph" $args)
      ev=$(events "$np" "$tmp/log" | awk '{printf "%s %s msg %s kB; ", $1, $2, $3}')
      echo "| ${n}^3 | $np | $cmd | ${mem// / \/ } | ${ev:-none} |"
    done
  done
done
