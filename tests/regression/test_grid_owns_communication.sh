#!/usr/bin/env bash
# Only src/grid moves data between ranks (STYLE.md): outside src/grid and its headers (grid.h, fft.h) no source file calls MPI point-to-point,
# all-to-all, gather or scatter routines, one-sided access, or reads the slab table or FFTW's decomposition. Collective
# reductions (MPI_Allreduce, MPI_Exscan, MPI_Bcast, MPI_Allgather of scalars) stay allowed: they carry no planes.
# The check is a grep over the tree, so it also proves that it can fail: it is run once on a planted file first.
set -u
: "${SM_SOURCE_DIR:?}"
pattern='MPI_(Send|Bsend|Ssend|Rsend|Isend|Ibsend|Issend|Irsend|Recv|Irecv|Mrecv|Sendrecv|Sendrecv_replace|Alltoall|Alltoallv|Alltoallw|Ialltoall|Ialltoallv|Ialltoallw|Gather|Gatherv|Igather|Igatherv|Scatter|Scatterv|Iscatter|Iscatterv|Neighbor_[A-Za-z_]+|Put|Get|Accumulate)\b|sm_grid_get_slabs|fftw_mpi_local_size'
scan() { grep -rnE "$pattern" --include='*.c' --include='*.h' "$@" | grep -vE '^[^:]*/(src/grid/|include/stochmorph/(grid|fft)\.h:)'; }
tmp=$(mktemp -d)
mkdir -p "$tmp/src/morph" && printf 'void f(void) { MPI_Sendrecv(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0); }\n' > "$tmp/src/morph/planted.c"
if [ -z "$(scan "$tmp/src")" ]; then echo "FAIL: the check does not see a planted MPI_Sendrecv"; rm -rf "$tmp"; exit 1; fi
rm -rf "$tmp"
found=$(scan "$SM_SOURCE_DIR/src" "$SM_SOURCE_DIR/include")
if [ -n "$found" ]; then
  echo "FAIL: data movement between ranks outside src/grid (use the grid's halo, transpose or record exchange):"
  echo "$found"
  exit 1
fi
echo "1 passed, 0 failed"
