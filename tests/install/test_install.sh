#!/usr/bin/env bash
# Install into a temporary prefix, build examples/twin_surface.c against the installed tree (find_package with the
# shared and the static library, and pkg-config), run it (2 ranks; the static build at 1) and compare its volume
# fraction and surface area with the installed `stochmorph generate` + `analyze` of the same model, grid and seed.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR (CTest: SM_MPIRUN, SM_WORK, SM_PYTHON in the environment)
set -u
build=$1 src=$2
: "${SM_MPIRUN:?}" "${SM_WORK:?}"
SM_PYTHON=${SM_PYTHON:-/usr/bin/python3}
rm -rf "$SM_WORK" && mkdir -p "$SM_WORK" && cd "$SM_WORK" || exit 1
pass=0 nfail=0
ok() { pass=$((pass + 1)); }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }
prefix=$SM_WORK/prefix
if ! cmake --install "$build" --prefix "$prefix" > install.log 2>&1; then cat install.log; echo "FAIL: cmake --install"; exit 1; fi
libdir=$(cd "$prefix" && ls -d lib*/ | head -1); libdir=${libdir%/}
for f in bin/stochmorph "$libdir"/libstochmorph.so "$libdir"/libstochmorph.a include/stochmorph/grid.h \
         include/stochmorph/version.h "$libdir"/cmake/stochmorph/stochmorphConfig.cmake \
         "$libdir"/cmake/stochmorph/stochmorphTargets.cmake "$libdir"/pkgconfig/stochmorph.pc; do
  if [ -e "$prefix/$f" ]; then ok; else fail "not installed: $f"; fi
done
exe=$prefix/bin/stochmorph
if "$exe" --version > version.txt 2>&1 && grep -q '^stochmorph ' version.txt; then ok; else fail "installed --version"; cat version.txt; fi

# 1. find_package(stochmorph) from a separate project (the examples directory as a user would copy it)
if cmake -S "$src/examples" -B ex -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > ex.log 2>&1 &&
   cmake --build ex >> ex.log 2>&1; then ok; else fail "example with find_package"; tail -30 ex.log; fi
# 2. pkg-config with the MPI compiler wrapper
if PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs stochmorph > pc.flags 2> pc.log &&
   mpicc -std=c11 -o twin_surface_pc "$src/examples/twin_surface.c" $(cat pc.flags) >> pc.log 2>&1; then ok
else fail "example with pkg-config"; cat pc.log; fi

args=(-grid_size 40,36,32 -voxel_size 0.03 -seed 11 -model chi2 -model_dof 3 -model_alpha 12 -model_volume_fraction 0.4)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$SM_MPIRUN" 2 ex/twin_surface "${args[@]}" > ex.out 2>&1 || { fail "example run"; cat ex.out; }
"$SM_MPIRUN" 1 ex/twin_surface_static "${args[@]}" > static.out 2>&1 || { fail "static example run"; cat static.out; }
[ -x twin_surface_pc ] && { "$SM_MPIRUN" 2 ./twin_surface_pc "${args[@]}" > pc.out 2>&1 || { fail "pkg-config example run"; cat pc.out; }; }
"$SM_MPIRUN" 2 "$exe" generate "${args[@]}" -o twin.h5 > gen.log 2>&1 || { fail "generate"; cat gen.log; }
"$SM_MPIRUN" 2 "$exe" analyze -i twin.h5 -descriptors volume_fraction,surface_area -o twin.json > an.log 2>&1 ||
  { fail "analyze"; cat an.log; }
for out in ex.out static.out pc.out; do
  [ -s $out ] || { fail "$out missing"; continue; }
  if "$SM_PYTHON" - "$out" twin.json <<'PY'; then ok; else fail "$out differs from generate + analyze"; cat "$out"; fi
import json, sys
got = dict(l.split()[:2] for l in open(sys.argv[1]) if l.startswith(("volume_fraction", "specific_surface_area")))
ref = json.load(open(sys.argv[2]))["phases"]["solid"]
# the same twin (a pure function of model, grid and seed) and the same estimators: equal up to rounding of the sums
for k in ("volume_fraction", "specific_surface_area"):
    a, b = float(got[k]), ref[k]
    print("%s: example %.12g, generate+analyze %.12g" % (k, a, b))
    assert abs(a - b) <= 1e-12 * abs(b), k
# and a twin, not an empty box: the model's volume fraction within a wide sampling band
assert abs(float(got["volume_fraction"]) - 0.4) < 0.05
PY
done
echo "$pass passed, $nfail failed"
[ "$nfail" -eq 0 ] && [ "$pass" -gt 0 ]
