#!/usr/bin/env bash
# Configure and build stochmorph in build/ (Release). Usage: jobscripts/build.sh [extra cmake args]
# SM_BUILD_DIR=dir builds there instead; the log goes next to it (dir.log), so builds of several trees can run at once.
# SM_ASAN=1 builds with AddressSanitizer instead (in build-asan/), e.g. `SM_ASAN=1 tests/run.sh`.
# Dependencies are found by CMake (README "Install on a cluster"): PETSC_DIR/PETSC_ARCH, -DSM_PETSC64=ON, FFTW_DIR, ...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=${SM_BUILD_DIR:-$root/build}
extra=()
if [ "${SM_ASAN:-0}" = 1 ]; then dir=${SM_BUILD_DIR:-$root/build-asan}; extra=(-DSM_ASAN=ON -DCMAKE_BUILD_TYPE=Debug); fi
dir=${dir%/}
log="$dir.log"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" >> "$log" 2>&1 || { tail -50 "$log"; exit 1; }
echo "build: ok ($dir/stochmorph)"
