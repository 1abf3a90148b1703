#!/usr/bin/env bash
# Transport on the spherical-harmonic representation (SPEC 7, issue 15 item 3): the FEM M-factor of the solid of the
# representation, rasterised on reading at h / K (`transport -i shapes.h5 -raster_refine K`), against the FEM M-factor
# of the twin itself. For each model: generate a twin (inputs/nmc/MODEL.opts at the given grid size and seed), `shape`
# it, then
#   table 1: FEM M of the twin and of the representation at K = 1 on the whole box (direction z);
#   table 2: the refinement trend on the sub-cube [0, c)^3 of the same twin and shapes (-crop counts voxels of the
#            source grid, so the region is the same at every K): FEM M of the twin's sub-cube and of the
#            representation at each K of the list (the representation's FEM grid is (c K)^3).
# Solid volume fraction and M per run, the relative difference to the twin, and the CPU seconds (user, all ranks) of
# each transport run (the representation's include its rasterisation). Every command runs on NP ranks (default 2).
# Usage: bench/run_shape_transport.sh [build dir or executable] [grid size] [seed] [models] [sub-cube c] [K list]
#   defaults: 256, 21, all six NMC models, 128, "1 2"; e.g. bench/run_shape_transport.sh build 256 21 "C850" 128 "1 2 3"
#   a sub-cube c = 0 skips the trend (table 1 only)
# KEEP=dir keeps the twins, shapes and reports there and reuses those an earlier run left (delete them to redo a step);
# with REPORT=1 as well, nothing is run: the tables of what KEEP holds (runs not finished are marked so).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe=${1:-$root/build}
[ -d "$exe" ] && exe="$exe/stochmorph"
n=${2:-256}
seed=${3:-21}
models=${4:-"C850 C900 F850 F900 M850 M900"}
c=${5:-128}
ks=${6:-"1 2"}
np=${NP:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
if [ -n "${KEEP:-}" ]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
# cpu DIR NAME ARGS...: stochmorph ARGS on NP ranks unless DIR/NAME.json exists; log in DIR/NAME.log, the user CPU
# seconds of all ranks in DIR/NAME.cpu
cpu() {
  local d=$1 name=$2
  shift 2
  [ -s "$d/$name.json" ] && [ -s "$d/$name.cpu" ] && return 0
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -f %U -o $d/$name.cpu.\$OMPI_COMM_WORLD_RANK $exe $*" \
    > "$d/$name.log" 2>&1
  cat "$d/$name".cpu.* | awk '{s += $1} END {printf "%.1f\n", s}' > "$d/$name.cpu"
  rm -f "$d/$name".cpu.*
}
fem="-phase solid -transport_method fem -transport_direction z" # split into words on purpose below (SC2086)
for m in $models; do
  [ "${REPORT:-0}" = 1 ] && break
  d=$work/$m
  mkdir -p "$d"
  [ -s "$d/twin.h5" ] || mpiexec --oversubscribe -n "$np" "$exe" generate -options_file "$root/inputs/nmc/$m.opts" \
    -grid_size "$n" -seed "$seed" -o "$d/twin.h5" > "$d/generate.log" 2>&1
  [ -s "$d/shapes.h5" ] || mpiexec --oversubscribe -n "$np" "$exe" shape -i "$d/twin.h5" -o "$d/shapes.h5" \
    > "$d/shape.log" 2>&1
  cpu "$d" twin transport -i "$d/twin.h5" $fem -o "$d/twin.json"
  cpu "$d" rep_k1 transport -i "$d/shapes.h5" -raster_refine 1 $fem -o "$d/rep_k1.json"
  [ "$c" -gt 0 ] || continue
  cpu "$d" twin_c$c transport -i "$d/twin.h5" -crop "0:$c,0:$c,0:$c" $fem -o "$d/twin_c$c.json"
  for k in $ks; do
    cpu "$d" "rep_c${c}_k$k" transport -i "$d/shapes.h5" -crop "0:$c,0:$c,0:$c" -raster_refine "$k" $fem \
      -o "$d/rep_c${c}_k$k.json"
  done
done
"${SM_PYTHON:-/usr/bin/python3}" - "$work" "$n" "$seed" "$c" "$ks" $models <<'PY'
import json, os, sys
work, n, seed, c, ks = sys.argv[1:6]
models, ks = sys.argv[6:], ks.split()
def res(m, name):
    """(volume fraction, M, CPU s) of one run, or None when it has not finished (with KEEP, a run in progress)."""
    f = "%s/%s/%s" % (work, m, name)
    if not (os.path.exists(f + ".json") and os.path.exists(f + ".cpu")):
        return None
    r = json.load(open(f + ".json"))["directions"]["z"]
    return r["volume_fraction"], r["D_eff_over_D"], float(open(f + ".cpu").read())
print("Table 1: whole %s^3 box, seed %s, FEM, direction z; K = 1 is the representation at the twin's voxel size." % (n, seed))
print()
print("| model | eps twin | eps rep K=1 | M twin | M rep K=1 | dM | within 3 % | CPU twin [s] | CPU rep [s] |")
print("|---|---|---|---|---|---|---|---|---|")
for m in models:
    if res(m, "twin") is None or res(m, "rep_k1") is None:
        print("| %s | not finished |" % m)
        continue
    e0, m0, c0 = res(m, "twin")
    e1, m1, c1 = res(m, "rep_k1")
    d = 100 * (m1 / m0 - 1)
    print("| %s | %.4f | %.4f | %.4f | %.4f | %+.1f %% | %s | %.0f | %.0f |" % (m, e0, e1, m0, m1, d,
          "yes" if abs(d) <= 3 else "no", c0, c1))
if c == "0":
    sys.exit(0)
print()
print("Table 2: refinement trend on the sub-cube [0, %s)^3 voxels of the same twins (FEM grid (%s K)^3 at h / K)." % (c, c))
print()
print("| model | M twin sub-cube | " + " | ".join("M rep K=%s | dM K=%s" % (k, k) for k in ks) + " | CPU [s] twin, " +
      ", ".join("K=%s" % k for k in ks) + " |")
print("|---|---|" + "---|---|" * len(ks) + "---|")
for m in models:
    if res(m, "twin_c" + c) is None or any(res(m, "rep_c%s_k%s" % (c, k)) is None for k in ks):
        print("| %s | not finished |" % m)
        continue
    e0, m0, c0 = res(m, "twin_c" + c)
    cells, cpus = [], ["%.0f" % c0]
    for k in ks:
        e, mk, ck = res(m, "rep_c%s_k%s" % (c, k))
        cells.append("%.4f | %+.1f %%" % (mk, 100 * (mk / m0 - 1)))
        cpus.append("%.0f" % ck)
    print("| %s | %.4f | %s | %s |" % (m, m0, " | ".join(cells), ", ".join(cpus)))
PY
