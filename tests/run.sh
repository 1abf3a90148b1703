#!/usr/bin/env bash
# Install what is missing, build, and run the whole CTest suite (unit, 1/2/3-rank MPI, regression, install) in build/;
# then the two other configurations CI keeps working (skip them with SM_VARIANTS=0):
#   build-petsc64/  64-bit PetscInt (-DSM_PETSC64=ON: Debian's petsc64-dev with hypre64): unit, MPI and install tests
#   build-nopc/     discovery without pkg-config search paths, only PETSC_DIR given (as on a cluster with a PETSc
#                   module): unit tests
# Tests run in parallel, one per core (SM_TEST_JOBS overrides). Extra arguments go to the first ctest. The exit status
# is that of the first failing step.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/jobscripts/install_deps.sh" || exit 1
status=0
step() { # step NAME COMMAND...: run, report, remember the first failure
  local name=$1 t0=$SECONDS; shift
  if "$@"; then echo "run.sh: $name ok ($((SECONDS - t0)) s)"; else echo "run.sh: $name FAILED"; [ $status -ne 0 ] || status=1; return 1; fi
}
suite() { local dir=$1; shift; (cd "$dir" && ctest --output-on-failure --timeout 900 -j "${SM_TEST_JOBS:-$(nproc)}" "$@"); }
if [ "${SM_ASAN:-0}" = 1 ]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}  # MPI and HDF5 keep allocations to the end
  step "build (ASan)" "$root/jobscripts/build.sh" || exit 1
  step "suite (ASan)" suite "${SM_BUILD_DIR:-$root/build-asan}" "$@"
  exit $status
fi
main=${SM_BUILD_DIR:-$root/build}
step "build" "$root/jobscripts/build.sh"
[ $status -eq 0 ] || exit $status
step "suite" suite "$main" "$@"
if [ "${SM_VARIANTS:-1}" = 1 ]; then
  p64=$root/build-petsc64
  step "build petsc64" env SM_BUILD_DIR="$p64" "$root/jobscripts/build.sh" -DSM_PETSC64=ON &&
    step "petsc64 unit+mpi+install" suite "$p64" -L 'unit|mpi|install'
  # a clean configure: nothing cached from an earlier pkg-config search; pkg-config sees no module of the system
  nopc=$root/build-nopc
  rm -f "$nopc/CMakeCache.txt"
  step "build nopc" env PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent \
    PETSC_DIR=/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-real SM_BUILD_DIR="$nopc" "$root/jobscripts/build.sh" &&
    step "nopc unit" suite "$nopc" -L unit
fi
exit $status
