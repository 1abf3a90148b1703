#!/usr/bin/env bash
# Test wrapper: run "$2..." on $1 MPI ranks. Allows root (CI runs as root) and more ranks than cores.
set -e
np=$1; shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Quiet the "no high-performance network" notices on machines without InfiniBand.
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp} OMPI_MCA_btl_vader_single_copy_mechanism=none
exec mpiexec --oversubscribe -n "$np" "$@"
