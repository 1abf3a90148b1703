#!/usr/bin/env bash
# Star-shaped sub-particles (SPEC 7, issue 15): the shape round trip of NMC twins in three modes: 0, one sub-particle per
# watershed basin (`-shape_star_split 0 -shape_cover 0`); 1, basins cut into star-shaped parts (`-shape_cover 0`);
# 2, star-shaped parts plus the patches that cover what their fits leave out (`-shape_match_volume 0`); 3, the same with
# every surface moved by the common distance that gives the union the twin's volume (the default). MODES="1 3" picks
# some.
# For each model and seed: generate a twin (inputs/nmc/MODEL.opts at the given grid size), `analyze -descriptors basic`
# of the twin (non-periodic estimator, like the representation), then per mode `shape`, `rasterize` at the same voxel
# size (4^3 sub-samples) and `analyze` of the result. Prints one Markdown row per twin and mode: basins, sub-particles,
# star-shaped volume fraction, volume fraction and specific surface area of twin and representation, the largest
# difference of the centred two-point function C0(h) = C(h) - eps^2 over the radial lags, and the CPU seconds (user,
# all ranks) of shape and rasterize, and the patches. Every command runs on NP ranks (default 2).
# Usage: bench/run_star_shapes.sh [build dir or stochmorph executable] [grid size] [seeds] [models]
#   e.g. bench/run_star_shapes.sh build 256 "21 22" "C850 F900"   (defaults: 256, 21, all six NMC models)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe=${1:-$root/build}
[ -d "$exe" ] && exe="$exe/stochmorph"
n=${2:-256}
seeds=${3:-21}
models=${4:-"F850 F900 M850 M900 C850 C900"}
np=${NP:-2}
modes=${MODES:-"0 1 2 3"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sm() { mpiexec --oversubscribe -n "$np" "$exe" "$@"; }
# cpu LOG ARGS...: stochmorph ARGS on NP ranks, the user CPU seconds of all ranks on stdout
cpu() {
  local log=$1; shift
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -f %U -o $tmp/cpu.\$OMPI_COMM_WORLD_RANK $exe $*" > "$log" 2>&1
  cat "$tmp"/cpu.* | awk '{s += $1} END {printf "%.1f", s}'
  rm -f "$tmp"/cpu.*
}
echo "| model | grid | seed | mode | basins | sub-particles | patches | star-shaped volume fraction | eps twin | d eps | S twin [1/um] | dS | max abs dC0 | shape CPU [s] | rasterize CPU [s] |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in $models; do
  for seed in $seeds; do
    sm generate -options_file "$root/inputs/nmc/$m.opts" -grid_size "$n" -seed "$seed" -o "$tmp/twin.h5" > /dev/null
    sm analyze -i "$tmp/twin.h5" -analyze_periodic 0 -descriptors basic -o "$tmp/twin.json" > /dev/null
    for mode in $modes; do
      case $mode in
        0) flags="-shape_star_split 0 -shape_cover 0 -shape_match_volume 0" ;;
        1) flags="-shape_cover 0 -shape_match_volume 0" ;;
        2) flags="-shape_match_volume 0" ;;
        *) flags="" ;;
      esac
      ts=$(cpu "$tmp/shape.log" shape -i "$tmp/twin.h5" $flags -o "$tmp/s.h5")
      tr=$(cpu "$tmp/ras.log" rasterize -i "$tmp/s.h5" -o "$tmp/r.h5")
      sm analyze -i "$tmp/r.h5" -descriptors basic -o "$tmp/r.json" > /dev/null
      "${SM_PYTHON:-/usr/bin/python3}" - "$tmp" "$m" "$n" "$seed" "$mode" "$ts" "$tr" <<'PY'
import csv, json, sys, h5py
tmp, m, n, seed, mode, ts, tr = sys.argv[1:]
def c0(path):
    rows = [r for r in csv.DictReader(open(path)) if r["curve"] == "radial"]
    c = [float(r["C_solid_solid"]) for r in rows]
    return [x - c[0] * c[0] for x in c]  # C(0) = eps
a, b = (json.load(open("%s/%s.json" % (tmp, f)))["phases"]["solid"] for f in ("twin", "r"))
ca, cb = c0(tmp + "/twin_two_point.csv"), c0(tmp + "/r_two_point.csv")
g = h5py.File(tmp + "/s.h5", "r")["/shapes"]
print("| %s | %s^3 | %s | %s | %d | %d | %d | %.4f | %.4f | %+.4f | %.3f | %+.2f %% | %.4f | %s | %s |" % (
    m, n, seed, {"0": "one per basin", "1": "star-shaped parts", "2": "parts + patches"}.get(mode, "parts + patches + volume (%.3f voxel)" % (float(g.attrs.get("radial_offset", 0)) / float(g.attrs["source_voxel_size"][0]))), int(g.attrs["basins"]),
    g["centres"].shape[0], int(g.attrs.get("patches", 0)), float(g.attrs["star_shaped_volume_fraction"]), a["volume_fraction"], b["volume_fraction"] - a["volume_fraction"],
    a["specific_surface_area"], 100 * (b["specific_surface_area"] / a["specific_surface_area"] - 1),
    max(abs(x - y) for x, y in zip(ca, cb)), ts, tr))
PY
    done
  done
done
