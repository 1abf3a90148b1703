#!/usr/bin/env bash
# Install what is missing, build, and run the whole CTest suite (unit, 1/2/3-rank MPI, regression).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/jobscripts/install_deps.sh"
"$root/jobscripts/build.sh"
if [ "${SM_ASAN:-0}" = 1 ]; then
  cd "${SM_BUILD_DIR:-$root/build-asan}"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}  # MPI and HDF5 keep allocations to the end
else
  cd "${SM_BUILD_DIR:-$root/build}"
fi
ctest --output-on-failure --timeout 900 "$@"
