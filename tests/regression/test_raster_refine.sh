#!/usr/bin/env bash
# Sub-particle files read as images (SPEC 7, the paper's transport on the representation): `transport -i shapes.h5
# -raster_refine K` rasterises on reading at h / K and solves there. The truth is the two-step route, `rasterize` onto
# the same grid then `transport` of the written volume: at K = 1 (the source grid) and K = 2 (2n voxels of h / 2) the
# M-factors are identical (same labels, same grid, same ranks: the same solve). A crop not at the origin (-crop counts
# voxels of the source grid) gives the labels of the matching box of the K = 2 rasterisation and the same M at 1, 2
# and 3 ranks; `analyze` reads the file too, and so does `run -i` (a study of the image: its descriptors and M at
# K = 2 equal those of the rasterised volume); bad input gives one message, exit 1 and no output.
source "$(dirname "$0")/common.sh"

fem="-phase solid -transport_method fem -transport_direction z"
run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nmc/F850.opts" -grid_size 32 -seed 3 -o twin.h5 || { fail "generate"; cat run.log; }
run 2 shape -i twin.h5 -o shapes.h5 || { fail "shape"; cat run.log; }
run 2 rasterize -i shapes.h5 -o r1.h5 || { fail "rasterize at h"; cat run.log; }
run 2 rasterize -i shapes.h5 -voxel_size 0.005 -o r2.h5 || { fail "rasterize at h/2"; cat run.log; }
run 2 transport -i r1.h5 $fem -o m_r1.json || { fail "transport of the rasterised volume at h"; cat run.log; }
run 2 transport -i r2.h5 $fem -o m_r2.json || { fail "transport of the rasterised volume at h/2"; cat run.log; }
run 2 transport -i shapes.h5 -raster_refine 1 $fem -o m_k1.json || { fail "transport -raster_refine 1"; cat run.log; }
run 2 transport -i shapes.h5 -raster_refine 2 $fem -o m_k2.json || { fail "transport -raster_refine 2"; cat run.log; }
grep -q "64 x 64 x 64 voxels of 0.005" run.log && ok || { fail "-raster_refine 2 is not the 64^3 grid of h/2"; cat run.log; }
# a box away from the origin at K = 2: source voxels x 4:20, y 8:32, z 6:30 -> 32 x 48 x 48 voxels of h/2
crop="-crop 4:20,8:32,6:30 -raster_refine 2"
for np in 1 2 3; do
  sol=$([ "$np" = 2 ] && echo -save_solution)
  run "$np" transport -i shapes.h5 $crop $fem $sol -o "m_crop_np$np.json" || { fail "cropped transport on $np ranks"; cat run.log; }
done
run 2 analyze -i shapes.h5 -descriptors basic -o a_shapes.json || { fail "analyze of the sub-particle file"; cat run.log; }
run 2 analyze -i r1.h5 -descriptors basic -o a_r1.json || { fail "analyze of the rasterised volume"; cat run.log; }
run 2 analyze -i r2.h5 -descriptors basic -o a_r2.json || { fail "analyze of the rasterised volume at h/2"; cat run.log; }
run 2 run -i shapes.h5 -raster_refine 2 -descriptors basic -transport_phases solid -transport_direction z -o study_k2 ||
  { fail "run -i of the sub-particle file at K = 2"; cat run.log; }

if "$SM_PYTHON" - <<'PY'
import h5py, json, numpy as np
from smcheck import Checks, transport_M
check = Checks()
# the same labels on the same grid and ranks: the same linear system, so M agrees to the last digit
for a, b in (("m_k1.json", "m_r1.json"), ("m_k2.json", "m_r2.json")):
    ma, mb = transport_M(a, "z"), transport_M(b, "z")
    check(ma == mb and ma > 0, "%s: M %r, %s: M %r" % (a, ma, b, mb))
k1, k2 = json.load(open("m_k1.json")), json.load(open("m_k2.json"))
check(k1["grid"]["size"] == [32, 32, 32] and k2["grid"]["size"] == [64, 64, 64], "grids %s %s" % (k1["grid"]["size"], k2["grid"]["size"]))
check(np.allclose(k2["grid"]["voxel_size"], [0.005] * 3, rtol=1e-12, atol=0), "K = 2 voxel size %s" % k2["grid"]["voxel_size"])
check(k2["provenance"].get("raster_refine") == "2" and k2["provenance"].get("raster_subsamples") == "4",
      "provenance %s" % k2["provenance"])
# rank counts: the labels do not depend on them (union of per-point bits) and the solve is converged to rtol 1e-8,
# so 1e-6 relative leaves a factor of 100 for the different AMG hierarchies
ms = [transport_M("m_crop_np%d.json" % p, "z") for p in (1, 2, 3)]
check(max(ms) - min(ms) <= 1e-6 * max(ms) and min(ms) > 0, "cropped M at 1, 2, 3 ranks: %s" % ms)
check(json.load(open("m_crop_np2.json"))["grid"]["size"] == [32, 48, 48], "cropped grid")
# the crop's labels are the box [8:40, 16:64, 12:60] (x, y, z at h/2) of the whole K = 2 rasterisation; the centres
# are shifted instead of the grid, which can move a sub-sample lying within rounding (1e-16 um) of a surface: none did
# on this twin, and one voxel in ten thousand is allowed
with h5py.File("m_crop_np2_potential.h5", "r") as f, h5py.File("r2.h5", "r") as g:
    a, b = f["/labels"][...], g["/labels"][12:60, 16:64, 8:40]
    check(a.shape == b.shape, "crop labels %s, box %s" % (a.shape, b.shape))
    if a.shape == b.shape:
        check(np.count_nonzero(a != b) <= a.size // 10000, "%d of %d cropped labels differ" % (np.count_nonzero(a != b), a.size))
ea = json.load(open("a_shapes.json"))["phases"]["solid"]["volume_fraction"]
eb = json.load(open("a_r1.json"))["phases"]["solid"]["volume_fraction"]
check(ea == eb, "analyze: volume fraction %r from the sub-particle file, %r from the rasterised volume" % (ea, eb))
# `run -i shapes.h5 -raster_refine 2`: the study's numbers are those of the volume rasterised at h/2 (same labels and
# ranks: the same descriptors and the same solve), and its record names the refinement
study = json.load(open("study_k2/study.json"))
res, a2 = study["tasks"][0]["results"], json.load(open("a_r2.json"))["phases"]["solid"]
check(res["transport.solid.z.M"] == transport_M("m_r2.json", "z"),
      "run: M %r, transport of the volume at h/2: M %r" % (res["transport.solid.z.M"], transport_M("m_r2.json", "z")))
for key in ("volume_fraction", "specific_surface_area"):
    check(res["phases.solid." + key] == a2[key], "run: %s %r, analyze at h/2: %r" % (key, res["phases.solid." + key], a2[key]))
check("raster_refine=2" in study["study"], "the study record does not name the refinement: %s" % study["study"])
check.done()
PY
then ok; else fail "transport / analyze of the sub-particle file"; fi

"$SM_PYTHON" -c "import h5py; h5py.File('other.h5', 'w')['/foo'] = [[[1]]]"
expect_fail "raster_refine must be a whole number >= 1" 2 transport -i shapes.h5 -raster_refine 0 $fem -o out.json
expect_fail "raster_subsamples must be between 1 and 8" 1 transport -i shapes.h5 -raster_subsamples 9 $fem -o out.json
expect_fail "raster_refine applies to sub-particle files" 2 transport -i twin.h5 -raster_refine 2 $fem -o out.json
expect_fail "voxel_size.*sub-particle file" 1 transport -i shapes.h5 -voxel_size 0.005 $fem -o out.json
expect_fail "crop.*outside the grid.*source grid" 2 transport -i shapes.h5 -crop 0:40,0:8,0:8 $fem -o out.json
expect_fail "not a sub-particle file" 1 transport -i other.h5 $fem -o out.json
# refused before any allocation: (32 * 100000)^3 voxels
expect_fail "lower -raster_refine" 2 transport -i shapes.h5 -raster_refine 100000 $fem -o out.json
finish
