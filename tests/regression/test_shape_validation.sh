#!/usr/bin/env bash
# The paper's validation of the sub-particle representation (issue 15, item 2; SPEC 7) on the NMC models C850 and F900
# (inputs/nmc, 10 nm voxels): a twin goes through `shape` and `rasterize` at its own voxel size, and the representation
# must keep the twin's own descriptors (`analyze -descriptors basic` of both, non-periodic estimator): volume fraction
# within [-0.005, +0.02], specific surface area within 4 %, centred two-point function C(h) - eps^2 within 0.01 at
# every radial lag (the issue's targets, after the paper's Table A.1 and Fig. A.1), and the FEM M-factor of the solid
# (z) of the representation within 3 % of the twin's (item 3 at K = 1). `shape` must report a star-shaped
# volume fraction >= 0.98, and no cracks or holes between sub-particles: at most 1e-4 of the solid's voxels without a
# pore neighbour in the twin may be pore in the representation.
#
# Size. 128^3 (1.28 um boxes, 6-7 correlation lengths 1/alpha of these models), seed 21: about 80 s for both models
# on 2 ranks of this 2-core machine while a 256^3 benchmark ran beside it. The representation's error is local (each
# sub-particle reproduces its own voxels), and the box size sets only the sampling scatter of the changes; at 128^3,
# seeds 21-23, dS was +0.5 % to +0.8 % for both models, d eps +0.009 to +0.010, max |dC0| <= 0.004 before the volume
# match (bench/RESULTS.md); with it (the default), seed 21: d eps -0.0009 / -0.0013, dS +0.5 % / +0.8 % (C850 / F900),
# so the bounds hold with margin, and the test still tells a representation with cracks apart: without the patches
# (-shape_cover 0) F900 seed 21 gives dS +5.2 % here, and the volume match with the patches' earlier check (4^3
# sub-samples, no inward margin) left 748 / 1020 inner solid voxels pore (6e-4 / 8e-4 of the solid). At 96^3 the changes scatter beyond the bound from twin to twin
# (F900 -3.9 % to -5.2 % over seeds 21-23 without the patches): too small a box to test the 4 %.
source "$(dirname "$0")/common.sh"

n=128
seed=21
for m in C850 F900; do
  run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nmc/$m.opts" -grid_size "$n" -seed "$seed" -o "$m.h5" ||
    { fail "generate $m"; cat run.log; continue; }
  run 2 analyze -i "$m.h5" -analyze_periodic 0 -descriptors basic -o "$m.twin.json" ||
    { fail "analyze the $m twin"; cat run.log; continue; }
  run 2 shape -i "$m.h5" -o "$m.shapes.h5" || { fail "shape $m"; cat run.log; continue; }
  cp run.log "$m.shape.log"
  run 2 rasterize -i "$m.shapes.h5" -o "$m.rep.h5" || { fail "rasterize $m"; cat run.log; continue; }
  run 2 analyze -i "$m.rep.h5" -descriptors basic -o "$m.rep.json" ||
    { fail "analyze the $m representation"; cat run.log; continue; }
  # item 3: the FEM M-factor of the solid (z) of the representation at the twin's voxel size against the twin's
  for f in "$m" "$m.rep"; do
    run 2 transport -i "$f.h5" -phase solid -transport_method fem -transport_direction z -o "$f.fem.json" ||
      { fail "transport of $f"; cat run.log; continue 2; }
  done
  ok
done

if "$SM_PYTHON" - "$n" C850 F900 <<'PY'
import csv, json, sys
import h5py
import numpy as np
from smcheck import Checks, transport_M
check = Checks()


def centred(path):
    """C(h) - eps^2 over the radial lags of analyze's two-point table (C(0) = eps)."""
    c = [float(r["C_solid_solid"]) for r in csv.DictReader(open(path)) if r["curve"] == "radial"]
    return [x - c[0] * c[0] for x in c]


n = int(sys.argv[1])
for m in sys.argv[2:]:
    try:
        twin = json.load(open(m + ".twin.json"))["phases"]["solid"]
        rep = json.load(open(m + ".rep.json"))["phases"]["solid"]
        ct, cr = centred(m + ".twin_two_point.csv"), centred(m + ".rep_two_point.csv")
        g = h5py.File(m + ".shapes.h5", "r")["/shapes"]
    except (OSError, KeyError) as e:
        check(False, "%s: missing output (%s)" % (m, e))
        continue
    deps = rep["volume_fraction"] - twin["volume_fraction"]
    ds = rep["specific_surface_area"] / twin["specific_surface_area"] - 1
    dc = max(abs(a - b) for a, b in zip(ct, cr))
    fs, left = float(g.attrs["star_shaped_volume_fraction"]), int(g.attrs["uncovered"])
    print("%s %d^3: eps %.4f d eps %+.4f, S %.3f 1/um dS %+.2f %%, max |dC0| %.4f over %d lags; %d sub-particles, "
          "%d patches, star-shaped volume fraction %.4f, %d inner voxels uncovered" % (
              m, n, twin["volume_fraction"], deps, twin["specific_surface_area"], 100 * ds, dc, len(ct),
              g["centres"].shape[0], int(g.attrs["patches"]), fs, left))
    # the issue's targets, against the twin's own descriptors
    check(-0.005 <= deps <= 0.02, "%s: volume fraction changed by %+.4f, outside [-0.005, +0.02]" % (m, deps))
    check(abs(ds) <= 0.04, "%s: surface area changed by %+.2f %%, more than 4 %%" % (m, 100 * ds))
    check(len(ct) == len(cr) and len(ct) > 10, "%s: %d and %d radial lags" % (m, len(ct), len(cr)))
    check(dc <= 0.01, "%s: centred two-point function differs by %.4f, more than 0.01" % (m, dc))
    check(fs >= 0.98, "%s: star-shaped volume fraction %.4f below 0.98" % (m, fs))
    # the issue's item 3 at K = 1: FEM M of the representation within 3 % of the twin's (256^3, all six models: -0.1 %
    # to +1.3 %, bench/RESULTS.md; before the volume match the 850 models were at +3.3 to +3.8 %). Here, seed 21: C850
    # +0.26 %, F900 -0.03 %; with -shape_match_volume 0, +3.36 % and +2.92 %.
    mt, mr = transport_M(m + ".fem.json", "z"), transport_M(m + ".rep.fem.json", "z")
    print("%s: FEM M (solid, z) twin %.5f representation %.5f (%+.2f %%)" % (m, mt, mr, 100 * (mr / mt - 1)))
    check(abs(mr / mt - 1) <= 0.03, "%s: M of the representation %+.2f %% from the twin's, more than 3 %%" % (
        m, 100 * (mr / mt - 1)))
    # no cracks or holes: the twin's solid voxels without a pore neighbour (the volume's faces are no surface) are solid
    # in the representation. The patches are made from a stricter check at the same voxel size (the voxel centres of
    # the sub-particles moved 0.35 voxel inward, particles.c), so what is left are voxels where the volume match moved
    # a surface further or a basin's neighbours cover only part of a voxel: 13 / 32 per 1.2e6 / 1.3e6 inner solid
    # voxels (C850 / F900, seed 21); before the patches 4e-3 (bench/RESULTS.md). Bound: 1e-4 of the solid.
    with h5py.File(m + ".h5", "r") as f:
        t = f["/labels"][...] == 1
    with h5py.File(m + ".rep.h5", "r") as f:
        r = f["/labels"][...] == 1
    p = np.pad(t, 1, mode="edge")  # beyond a face counts as the face voxel's own phase
    inner = (t & p[:-2, 1:-1, 1:-1] & p[2:, 1:-1, 1:-1] & p[1:-1, :-2, 1:-1] & p[1:-1, 2:, 1:-1] &
             p[1:-1, 1:-1, :-2] & p[1:-1, 1:-1, 2:])
    holes = int((inner & ~r).sum())
    print("%s: %d of %d inner solid voxels are pore in the representation; shape's count %d" % (
        m, holes, int(inner.sum()), left))
    check(holes <= 1e-4 * t.sum(), "%s: %d voxels inside the solid are pore in the representation (cracks)" % (m, holes))
check.done()
PY
then ok; else fail "the representation's descriptors"; fi
finish
