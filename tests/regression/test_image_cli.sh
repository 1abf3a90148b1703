#!/usr/bin/env bash
# Image input through `stochmorph analyze`: a twin is exported by Python (numpy, h5py) as raw samples (big-endian uint16
# after a header), as a multi-page TIFF (written byte by byte here, independent of libtiff) and as a noisy float32
# greyscale image; analysing each must give the twin's volume fractions exactly and, the volumes being the same
# non-periodic voxels, its surface areas to 1e-12 (rounding of the same sums). The greyscale copy has levels 50 apart
# with noise sigma 5: a 5-sigma margin on either side of any threshold between them, so Otsu must recover the labels
# exactly (a misclassified voxel has probability < 1e-6 over the whole image). Bad input: exit 1, one message, no file.
source "$(dirname "$0")/common.sh"
PY=$SM_PYTHON

run 1 generate -grid_size 24,20,12 -voxel_size 0.01,0.012,0.02 -seed 3 -o twin.h5 || { fail "generate"; cat run.log; finish; }

"$PY" - <<'EOF' || fail "python export"
import h5py
import numpy as np
from smcheck import write_tiff

lab = h5py.File("twin.h5", "r")["labels"][...]          # [z][y][x] uint8, 0 pore / 1 solid
nz, ny, nx = lab.shape

with open("twin.raw", "wb") as f:                        # 64 header bytes, then big-endian uint16
    f.write(b"\x7f" * 64)
    f.write(lab.astype(">u2").tobytes())

rng = np.random.default_rng(12)
grey = (100.0 + 50.0 * lab + rng.normal(0.0, 5.0, lab.shape)).astype("<f4")
grey.tofile("grey.raw")

write_tiff("twin.tif", [lab[z] for z in range(nz)])
write_tiff("rgb.tif", [np.stack([lab[z] * 255] * 3, axis=-1) for z in range(nz)], rgb=True)
EOF

# the twin analysed as an image (non-periodic), at 2 ranks
run 2 analyze -i twin.h5 -analyze_periodic 0 -descriptors basic -o ref.json || { fail "analyze twin"; cat run.log; }
run 2 analyze -i twin.raw -raw_size 24,20,12 -raw_type uint16 -raw_endian big -raw_header_bytes 64 \
  -voxel_size 0.01,0.012,0.02 -descriptors basic -o raw.json || { fail "analyze raw"; cat run.log; }
run 3 analyze -i twin.tif -voxel_size 0.01,0.012,0.02 -descriptors basic -o tif.json || { fail "analyze tiff"; cat run.log; }
run 1 analyze -i grey.raw -raw_size 24,20,12 -raw_type float32 -voxel_size 0.01,0.012,0.02 -descriptors basic \
  -o grey.json || { fail "analyze greyscale"; cat run.log; }

compare() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
if a["grid"]["size"] != b["grid"]["size"] or b["grid"]["periodic"]:
    bad.append("grid %s / %s" % (a["grid"], b["grid"]))
for name in ("pore", "solid"):
    pa, pb = a["phases"][name], b["phases"][name]
    if pa["volume_fraction"] != pb["volume_fraction"] or pa["voxels"] != pb["voxels"]:
        bad.append("%s volume fraction %r vs %r" % (name, pa["volume_fraction"], pb["volume_fraction"]))
    if abs(pa["specific_surface_area"] - pb["specific_surface_area"]) > 1e-12 * abs(pa["specific_surface_area"]):
        bad.append("%s surface area %r vs %r" % (name, pa["specific_surface_area"], pb["specific_surface_area"]))
if bad:
    print("\n".join(bad))
    sys.exit(1)
EOF
}
for f in raw.json tif.json grey.json; do
  if [ -f "$f" ] && compare ref.json "$f"; then ok; else fail "$f differs from the twin"; fi
done
# provenance: where the volume came from and the threshold Otsu chose (between the levels 100 and 150)
"$PY" - <<'EOF' && ok || fail "provenance of the greyscale read"
import json
p = json.load(open("grey.json"))["provenance"]
assert p["source_file"] == "grey.raw" and p["segment_method"] == "otsu", p
assert 110 < float(p["segment_threshold"]) < 140, p
EOF

# expect_fail (common.sh): the run must fail, say NEEDLE, and leave no out.* file behind
A="analyze -descriptors basic -o out.json"
expect_fail "has 11584 bytes, but.*make 10624 bytes" 2 $A -i twin.raw -raw_size 24,20,11 -raw_type uint16 -raw_header_bytes 64 -voxel_size 0.01
expect_fail "-raw_size" 1 $A -i twin.raw -voxel_size 0.01
expect_fail "no dataset '/grey'" 2 $A -i twin.h5 -image_dataset /grey
expect_fail "-crop 0:24,0:21,0:12" 3 $A -i twin.h5 -crop 0:24,0:21,0:12
expect_fail "3 samples per pixel" 2 $A -i rgb.tif -voxel_size 0.01
expect_fail "does not record its voxel size" 1 $A -i twin.tif
cp twin.h5 twin.xyz
expect_fail "cannot tell the format of .twin.xyz" 1 $A -i twin.xyz
expect_fail "-image_format" 1 $A -i twin.h5 -image_format png
finish
