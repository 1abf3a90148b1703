# Sourced by the job scripts: how to start stochmorph on the ranks of this job.
# Under SLURM (SLURM_JOB_ID set): srun with the job's tasks. Without SLURM: mpiexec with NP ranks (default 2).
# STOCHMORPH: the executable (default: build/stochmorph of this checkout).
# SM_LAUNCHER: the launcher command to use instead (e.g. "mpiexec -ppn 64" for Intel MPI, "srun --mpi=pmix");
# otherwise mpiexec, with --oversubscribe when it is Open MPI's (MPICH's and Intel MPI's mpiexec do not take it).
sm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STOCHMORPH=${STOCHMORPH:-$sm_root/build/stochmorph}
if [ ! -x "$STOCHMORPH" ]; then
  echo "stochmorph not found at $STOCHMORPH: build it first (jobscripts/build.sh) or set STOCHMORPH" >&2
  exit 2
fi
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root unless told (containers, CI)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# one thread per rank unless the job says otherwise: hypre (BoomerAMG) is built with OpenMP, and ranks x threads would
# oversubscribe the cores
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# 2 MB pages for the large arrays (glibc >= 2.35 reads this malloc tunable; other C libraries ignore it): where the
# kernel gives transparent huge pages only on request (/sys/kernel/mm/transparent_hugepage/enabled = madvise), first
# touching the matrices and the multigrid hierarchy otherwise costs a page fault per 4 kB, 13 % of a FEM solve's
# profile (bench/RESULTS.md). SM_HUGEPAGES=0 leaves the environment as it is.
if [ "${SM_HUGEPAGES:-1}" != 0 ]; then
  case ":${GLIBC_TUNABLES:-}:" in
    *glibc.malloc.hugetlb=*) ;;
    *) export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" ;;
  esac
fi
sm_mpiexec=(mpiexec)
if mpiexec --version 2>&1 | grep -q -e 'Open MPI' -e 'OpenRTE'; then sm_mpiexec+=(--oversubscribe); fi
# sm_launch ARGS...: stochmorph ARGS on the job's ranks, in the foreground
sm_launch() {
  if [ -n "${SM_LAUNCHER:-}" ]; then
    $SM_LAUNCHER "$STOCHMORPH" "$@"
  elif [ -n "${SLURM_JOB_ID:-}" ]; then
    srun "$STOCHMORPH" "$@"
  else
    "${sm_mpiexec[@]}" -n "${NP:-2}" "$STOCHMORPH" "$@"
  fi
}
# sm_launch_exec ARGS...: the same, replacing the calling (sub)shell, so that `sm_launch_exec ... &` leaves $! = the
# launcher's PID, to which signals can be passed (srun and mpiexec forward SIGUSR1 to every rank)
sm_launch_exec() {
  if [ -n "${SM_LAUNCHER:-}" ]; then
    exec $SM_LAUNCHER "$STOCHMORPH" "$@"
  elif [ -n "${SLURM_JOB_ID:-}" ]; then
    exec srun "$STOCHMORPH" "$@"
  else
    exec "${sm_mpiexec[@]}" -n "${NP:-2}" "$STOCHMORPH" "$@"
  fi
}
