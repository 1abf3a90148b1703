#!/usr/bin/env bash
# `stochmorph shape` and `stochmorph rasterize` end to end (SPEC 7): the sub-particle file carries what the format
# promises (h5py), is identical at 1 and 2 ranks (h5diff), the rasterised volume is identical at 1 and 3 ranks, `analyze`
# reads it, and its volume fraction / surface area are within 0.02 / 5 % of the twin's (the acceptance numbers, met on
# this 64^3 F850 twin: 0.5643 -> 0.5721, -3.2 % with basins cut into star-shaped parts and patches; -1.6 % without
# the patches; with one sub-particle per basin, -shape_star_split 0 -shape_cover 0, 0.5564, +1.0 %); the file records
# basins, cuts, patches and a star-shaped volume fraction >= 0.98, and -shape_star_split 0 gives one fitted
# sub-particle per basin (plus its patches); rasterising at half the voxel size doubles the grid; bad input
# gives one message, exit 1 and no file.
source "$(dirname "$0")/common.sh"

run 2 generate -model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 -grid_size 64 -voxel_size 0.01 -seed 3 -o twin.h5 ||
  { fail "generate"; cat run.log; }
for np in 1 2; do
  run "$np" shape -i twin.h5 -o "s_np${np}.h5" || { fail "shape on $np ranks"; cat run.log; }
done
cp run.log shape.log
run 2 shape -i twin.h5 -shape_star_split 0 -o s_whole.h5 || { fail "shape -shape_star_split 0"; cat run.log; }
if h5diff s_np1.h5 s_np2.h5 /shapes /shapes > diff.log 2>&1; then ok; else fail "shapes differ between 1 and 2 ranks"; head diff.log; fi
for np in 1 3; do
  run "$np" rasterize -i s_np1.h5 -o "r_np${np}.h5" || { fail "rasterize on $np ranks"; cat run.log; }
done
if h5diff r_np1.h5 r_np3.h5 /labels /labels > diff.log 2>&1; then ok; else fail "rasterised labels differ between 1 and 3 ranks"; head diff.log; fi
run 2 analyze -i twin.h5 -analyze_periodic 0 -descriptors basic -o twin.json || { fail "analyze twin"; cat run.log; }
run 2 analyze -i r_np1.h5 -descriptors basic -o ras.json || { fail "analyze rasterised"; cat run.log; }
# coarser and finer targets: the grid follows the voxel size (box of the source); a sub-box with -grid_size
run 2 rasterize -i s_np1.h5 -voxel_size 0.02 -o coarse.h5 || { fail "rasterize at 0.02 um"; cat run.log; }
run 2 rasterize -i s_np1.h5 -voxel_size 0.005 -grid_size 40,36,30 -raster_subsamples 3 -o fine.h5 ||
  { fail "rasterize at half the voxel size"; cat run.log; }

if "$SM_PYTHON" - <<'PY'
import h5py, json, numpy as np, sys
from smcheck import Checks, text
check = Checks()
with h5py.File("s_np1.h5", "r") as f:
    g = f["/shapes"]
    n = g["centres"].shape[0]
    check(n > 5, "only %d sub-particles" % n)
    check(g["centres"].shape == (n, 3), "centres shape %s" % (g["centres"].shape,))
    check(int(g.attrs["degree"]) == 10, "degree %s" % g.attrs["degree"])
    check(g["coeffs"].shape == (n, 121), "coeffs shape %s" % (g["coeffs"].shape,))
    check(g["fit_error"].shape == (n,) and g["voxels"].shape == (n,), "fit_error / voxels shapes")
    check(list(g.attrs["source_grid_size"]) == [64, 64, 64], "source_grid_size %s" % g.attrs["source_grid_size"])
    check(np.allclose(g.attrs["source_voxel_size"], [0.01] * 3), "source_voxel_size")
    check([text(x) for x in g.attrs["phase_names"]] == ["pore", "solid"], "phase_names")
    check(text(g.attrs["phase"]) == "solid" and text(g.attrs["source_file"]) == "twin.h5", "phase / source_file")
    check(int(f.attrs["complete"]) == 1 and text(f.attrs["format"]) == "stochmorph-shapes-1", "format / complete")
    with h5py.File("twin.h5", "r") as t:
        lab = t["/labels"][...]
    # every solid voxel belongs to exactly one sub-particle
    check(int(g["voxels"][...].sum()) == int(lab.sum()), "voxel counts sum to %d, the twin has %d solid voxels" % (g["voxels"][...].sum(), lab.sum()))
    # the mean radius c_00 / sqrt(4 pi) is positive and the centres lie in the box [0, 0.64]
    check((g["coeffs"][:, 0] > 0).all(), "a non-positive mean radius")
    c = g["centres"][...]
    check((c >= 0).all() and (c <= 0.64).all(), "a centre outside the box")
    check((g["fit_error"][...] < 0.05).all(), "a fit error above 5 voxels")
    # basins cut into star-shaped parts: the counts are consistent and the star-shaped volume fraction is recorded
    nb, ns = int(g.attrs["basins"]), int(g.attrs["basins_split"])
    check(0 < nb <= n and 0 <= ns <= nb, "basins %d, split %d, sub-particles %d" % (nb, ns, n))
    check(ns == 0 or n > nb, "%d basins cut but only %d sub-particles from %d basins" % (ns, n, nb))
    fs = float(g.attrs["star_shaped_volume_fraction"])
    check(fs >= 0.98, "star-shaped volume fraction %.4f below the 0.98 of the acceptance" % fs)
with h5py.File("s_whole.h5", "r") as f:
    # one sub-particle per basin when cutting is off: the same basins, none cut
    g = f["/shapes"]
    npatch = int(g.attrs["patches"])
    check(g["centres"].shape[0] - npatch == nb and int(g.attrs["basins"]) == nb and int(g.attrs["basins_split"]) == 0,
          "-shape_star_split 0: %d sub-particles (%d patches) from %d basins" % (g["centres"].shape[0], npatch,
                                                                             int(g.attrs["basins"])))
    # patches carry 0 voxels: the counts still partition the solid
    check(int((g["voxels"][...] == 0).sum()) == npatch, "-shape_star_split 0: patches with voxels")
    check(float(g.attrs["star_shaped_volume_fraction"]) <= fs, "cutting lowered the star-shaped volume fraction")
with h5py.File("r_np1.h5", "r") as f:
    lab = f["/labels"]
    check(lab.shape == (64, 64, 64) and lab.dtype == np.uint8, "rasterised labels %s %s" % (lab.shape, lab.dtype))
    check([text(x) for x in lab.attrs["phase_names"]] == ["pore", "solid"], "rasterised phase names")
    check(int(lab.attrs["periodic"]) == 0, "rasterised volume must not be periodic")
with h5py.File("coarse.h5", "r") as f:
    check(f["/labels"].shape == (32, 32, 32), "coarse grid %s" % (f["/labels"].shape,))
with h5py.File("fine.h5", "r") as f:
    check(f["/labels"].shape == (30, 36, 40), "fine grid %s" % (f["/labels"].shape,))
    check(np.allclose(f["/labels"].attrs["voxel_size"], [0.005] * 3), "fine voxel size")
a, b = json.load(open("twin.json")), json.load(open("ras.json"))
ea, eb = a["phases"]["solid"]["volume_fraction"], b["phases"]["solid"]["volume_fraction"]
sa, sb = a["phases"]["solid"]["specific_surface_area"], b["phases"]["solid"]["specific_surface_area"]
check(abs(ea - eb) <= 0.02, "volume fraction %.4f -> %.4f" % (ea, eb))
check(abs(sb / sa - 1) <= 0.05, "specific surface area %.3f -> %.3f" % (sa, sb))
check.done()
PY
then ok; else fail "file contents and acceptance numbers"; fi
grep -q "sub-particles" shape.log && grep -q "fit error" shape.log && grep -q "star-shaped volume fraction" shape.log && ok ||
  fail "shape report lines"

# bad input: one message, exit 1, no out* file (expect_fail, common.sh)
SM_NO_FILES='out*'
"$SM_PYTHON" - <<'PY'
import h5py, numpy as np
with h5py.File("empty.h5", "w") as f:
    d = f.create_dataset("labels", data=np.zeros((8, 8, 8), dtype=np.uint8))
    d.attrs["voxel_size"] = np.array([0.01] * 3)
    d.attrs["phase_names"] = np.array([b"pore", b"solid"])
PY
expect_fail "-sh_degree" 1 shape -i twin.h5 -sh_degree 31 -o out.h5
expect_fail "-sh_degree" 2 shape -i twin.h5 -sh_degree -1 -o out.h5
expect_fail "empty" 2 shape -i empty.h5 -o out.h5
expect_fail "carbon" 1 shape -i twin.h5 -shape_phase carbon -o out.h5
expect_fail "-sh_directions" 1 shape -i twin.h5 -sh_directions 10 -o out.h5
expect_fail "-o" 1 shape -i twin.h5 -o out.txt
expect_fail "needs about" 2 rasterize -i s_np1.h5 -grid_size 100000 -o out.h5
expect_fail "-raster_subsamples" 1 rasterize -i s_np1.h5 -raster_subsamples 9 -o out.h5
expect_fail "-voxel_size" 1 rasterize -i s_np1.h5 -voxel_size 0 -o out.h5
expect_fail "not a sub-particle file" 1 rasterize -i twin.h5 -o out.h5
expect_fail "-sh_degre" 1 shape -i twin.h5 -sh_degre 4 -o out.h5
finish
