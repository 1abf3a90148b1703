#!/usr/bin/env bash
# A greyscale image made from a twin still fits (issue acceptance): the labels of a chi2 F850 twin (p = 0.46,
# alpha = 7.28 1/um, 200^3 at 10 nm) mapped to two grey levels (60 and 180), blurred lightly (3-point binomial filter
# [1 2 1]/4 along each axis, which leaves a level set of a smooth boundary where it was) and overlaid with Gaussian
# noise (sd 15: misclassification P(|N| > 60/15 sd) = 6e-5 per voxel), written as float32 HDF5 and as a big-endian
# float32 raw file, then segmented by Otsu and fitted. Tolerance: the fitted alpha within 5 % of the model's and of the
# fit of the labels themselves, p within 0.01 of both (the issue's 5 %; the blur moves the boundary by much less than a
# voxel and the noise misclassifies almost nothing).
source "$(dirname "$0")/common.sh"

run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nmc/F850.opts" -grid_size 200 -seed 3 -o twin.h5 || { fail "generate"; cat run.log; }
"$SM_PYTHON" - <<'EOF' || fail "making the greyscale images"
import h5py, numpy as np
with h5py.File("twin.h5", "r") as f:
    lab = f["labels"][...].astype(np.float32)
    h = f["labels"].attrs["voxel_size"]
g = 60.0 + 120.0 * lab
for ax in range(3):  # [1 2 1] / 4, edges replicated
    p = np.pad(g, [(1, 1) if a == ax else (0, 0) for a in range(3)], mode="edge")
    sl = lambda a, b: tuple(slice(a, p.shape[k] - b) if k == ax else slice(None) for k in range(3))
    g = 0.25 * p[sl(0, 2)] + 0.5 * p[sl(1, 1)] + 0.25 * p[sl(2, 0)]
g = (g + np.random.default_rng(7).normal(0.0, 15.0, g.shape)).astype(np.float32)
with h5py.File("grey.h5", "w") as f:
    d = f.create_dataset("scan/grey", data=g)
    d.attrs["voxel_size"] = h
g.astype(">f4").tofile("grey.raw")
EOF
run 2 fit -i twin.h5 -model chi2 -model_dof 2 -o labels.opts || { fail "fit of the labels"; cat run.log; }
run 2 fit -i grey.h5 -image_dataset /scan/grey -segment otsu -model chi2 -model_dof 2 -o grey.opts || { fail "fit of grey.h5"; cat run.log; }
run 2 fit -i grey.raw -raw_size 200,200,200 -raw_type float32 -raw_endian big -voxel_size 0.01 -segment otsu \
  -model chi2 -model_dof 2 -o greyraw.opts || { fail "fit of grey.raw"; cat run.log; }
"$SM_PYTHON" - <<'EOF' && ok || fail "greyscale fits differ from the model or from the labels' fit"
import json
L = json.load(open("labels.json"))
for name in ["grey.json", "greyraw.json"]:
    G = json.load(open(name))
    print("%s: p %.4f alpha %.4f (labels: p %.4f alpha %.4f; model 0.46, 7.28)" % (name, G["volume_fraction"], G["alpha"],
          L["volume_fraction"], L["alpha"]))
    assert abs(G["alpha"] - 7.28) <= 0.05 * 7.28, "alpha vs the model"
    assert abs(G["alpha"] - L["alpha"]) <= 0.05 * L["alpha"], "alpha vs the labels' fit"
    assert abs(G["volume_fraction"] - 0.46) <= 0.01 and abs(G["volume_fraction"] - L["volume_fraction"]) <= 0.01
EOF
finish
