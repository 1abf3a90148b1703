#!/usr/bin/env bash
# Install what is missing, build, and run the whole CTest suite (unit, 1/2/3-rank MPI, regression).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/jobscripts/install_deps.sh"
"$root/jobscripts/build.sh"
cd "$root/build"
ctest --output-on-failure --timeout 900 "$@"
