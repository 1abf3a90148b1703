#!/usr/bin/env bash
# Configure refuses what it cannot build with, naming the fix: PETSC_DIR without a PETSc there, SM_PETSC64=ON with a
# 32-bit-index PETSc, and a serial HDF5 (a copy of the parallel HDF5's compiler wrapper and headers without
# H5_HAVE_PARALLEL stands in for one, so the test needs no second HDF5). Each configure stops in seconds.
# Usage: test_configure_errors.sh SOURCE_DIR (CTest: SM_WORK)
set -u
src=$1
: "${SM_WORK:?}"
rm -rf "$SM_WORK" && mkdir -p "$SM_WORK" && cd "$SM_WORK" || exit 1
pass=0 nfail=0
ok() { pass=$((pass + 1)); }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }
# refused NAME NEEDLE CMAKE-ARGS...: configure fails and its output contains NEEDLE
refused() {
  local name=$1 needle=$2; shift 2
  rm -rf "b_$name"
  if cmake -S "$src" -B "b_$name" "$@" > "$name.log" 2>&1; then fail "$name: configure succeeded"; return; fi
  # CMake wraps messages at word boundaries that depend on the path lengths: compare with whitespace collapsed
  if tr -s ' \n' '  ' < "$name.log" | grep -q -- "$needle"; then ok; else fail "$name: no '$needle' in the output"; tail -20 "$name.log"; fi
}
refused petsc_dir "no PETSc.pc or petsc.pc in" -DPETSC_DIR="$SM_WORK/nowhere"
p32=$(pkg-config --variable=prefix PETSc 2> /dev/null)
if [ -n "$p32" ] && [ -e "$p32/lib/pkgconfig/PETSc.pc" ]; then
  refused petsc64 "SM_PETSC64=ON but the PETSc found" -DSM_PETSC64=ON -DPETSC_DIR="$p32"
fi
wrapper=$(command -v h5pcc)
if [ -n "$wrapper" ] && inc=$("$wrapper" -show | grep -o -- '-I[^ ]*' | head -1 | cut -c3-) && [ -f "$inc/H5pubconf.h" ]; then
  mkdir -p serial/include
  cp -r "$inc"/. serial/include/
  sed -i '/H5_HAVE_PARALLEL/d' serial/include/H5pubconf.h
  real=$(readlink -f "$wrapper")
  sed "s|^includedir=.*|includedir=\"$SM_WORK/serial/include\"|" "$real" > serial/h5pcc.real
  # -showconfig reports the build's settings: say serial there too
  printf '#!/bin/sh\nif [ "$1" = -showconfig ]; then "%s" "$@" | sed "s/Parallel HDF5: yes/Parallel HDF5: no/"; else exec sh "%s" "$@"; fi\n' \
    "$real" "$SM_WORK/serial/h5pcc.real" > serial/h5pcc && chmod +x serial/h5pcc
  if grep -q "^includedir=\"$SM_WORK/serial/include\"" serial/h5pcc.real; then
    refused hdf5_serial "is the serial build" -DHDF5_C_COMPILER_EXECUTABLE="$SM_WORK/serial/h5pcc" \
      -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON
  fi
fi
echo "$pass passed, $nfail failed"
[ "$nfail" -eq 0 ] && [ "$pass" -gt 0 ]
