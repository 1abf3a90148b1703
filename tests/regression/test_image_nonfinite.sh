#!/usr/bin/env bash
# NaN and infinity in float images (issue 16, item 5): the documented rule is that they are refused, never thresholded.
# A float32 greyscale image 16 x 12 x 10 with 3 NaN and 2 infinities at known voxels is written by Python as raw float32,
# as a float32 TIFF stack (written byte by byte, independent of libtiff: smcheck.py) and as HDF5 float32 and float64 datasets;
# reading each must fail with one message giving both counts and the first position (x fastest, then y, then z: the
# hand-placed voxel (5, 7, 2)), at 1 and 2 ranks (the ranks' slabs each hold some of them: the first must be reduced over
# ranks), with a -crop that keeps only some of them (positions stay in image coordinates), and leave no output file.
# The same image without them is read (the rule refuses only what it says).
source "$(dirname "$0")/common.sh"
PY=$SM_PYTHON

"$PY" - <<'EOF2' || fail "python export"
import h5py
import numpy as np
from smcheck import write_tiff

nx, ny, nz = 16, 12, 10
rng = np.random.default_rng(5)
lab = (rng.random((nz, ny, nx)) < 0.4).astype(np.float32)
grey = (100.0 + 50.0 * lab).astype("<f4")
clean = grey.copy()
# [z][y][x]: the first in x-fastest order is (x=5, y=7, z=2); the others lie in later z (other ranks' slabs)
for (x, y, z) in [(5, 7, 2), (1, 1, 6), (15, 11, 9)]:
    grey[z, y, x] = np.nan
for (x, y, z) in [(9, 7, 2), (0, 0, 8)]:
    grey[z, y, x] = np.inf if x else -np.inf

grey.tofile("bad.raw")
clean.tofile("clean.raw")
with h5py.File("bad.h5", "w") as f:
    f["grey"] = grey
    f["grey64"] = grey.astype(np.float64)

write_tiff("bad.tif", [grey[z] for z in range(nz)], dtype="<f4")
EOF2

# expect_fail (common.sh): the read fails with one message holding NEEDLE and leaves no out.* file
A="analyze -descriptors basic -o out.json"
ALL="holds 3 NaN and 2 infinite values (the first at voxel x=5, y=7, z=2 of the image"
RAW="-raw_size 16,12,10 -raw_type float32 -voxel_size 0.01"
for np in 1 2; do
  expect_fail "$ALL" $np $A -i bad.raw $RAW
  expect_fail "$ALL" $np $A -i bad.tif -voxel_size 0.01
  expect_fail "$ALL" $np $A -i bad.h5 -image_dataset /grey -voxel_size 0.01
  expect_fail "$ALL" $np $A -i bad.h5 -image_dataset /grey64 -voxel_size 0.01
  # a threshold does not make them acceptable
  expect_fail "$ALL" $np $A -i bad.raw $RAW -segment threshold -segment_threshold 120
done
# a crop z 3..9: the NaN at (1,1,6), (15,11,9 is outside), the -inf at (0,0,8); the first is (1,1,6)
expect_fail "holds 1 NaN and 1 infinite values (the first at voxel x=1, y=1, z=6 of the image" 2 \
  $A -i bad.tif -voxel_size 0.01 -crop 0:16,0:12,3:9
# a crop without any: read
if run 2 $A -i bad.h5 -image_dataset /grey -voxel_size 0.01 -crop 0:16,2:7,0:10; then ok; else fail "a crop without NaN refused"; cat run.log; fi
if run 2 $A -i clean.raw $RAW; then ok; else fail "the clean image refused"; cat run.log; fi
# a study of the image (run -i reads it with the same reader): refused before the study directory is made
if run 2 run -i bad.tif -voxel_size 0.01 -o study -transport_direction z; then fail "run -i of a NaN image ran"; else ok; fi
grep -q "stochmorph error:.*$ALL" run.log && ok || { fail "run -i: no message"; cat run.log; }
[ ! -e study ] && ok || fail "run -i of a NaN image made the study directory"
finish
