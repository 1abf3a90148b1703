#!/usr/bin/env bash
# Configure and build stochmorph in build/ (Release). Usage: jobscripts/build.sh [extra cmake args]
# SM_ASAN=1 builds with AddressSanitizer instead (in build-asan/), e.g. `SM_ASAN=1 tests/run.sh`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=${SM_BUILD_DIR:-$root/build}
extra=()
if [ "${SM_ASAN:-0}" = 1 ]; then dir=${SM_BUILD_DIR:-$root/build-asan}; extra=(-DSM_ASAN=ON -DCMAKE_BUILD_TYPE=Debug); fi
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" "$@" > "$root/build.log" 2>&1 || { cat "$root/build.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" >> "$root/build.log" 2>&1 || { tail -50 "$root/build.log"; exit 1; }
echo "build: ok ($dir/stochmorph)"
