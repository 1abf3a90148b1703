#!/usr/bin/env bash
# Every command reads a volume through the one image reader, with one rule for default phase names (two phases without
# names are pore/solid). The truth is the same voxels read from the twin's own HDF5 file:
# - `transport` of a segmented microscope stack (a TIFF with grey values 0/85/170, mapped by -phase_labels and named by
#   -phase_names) gives the same M of the pore phase as the twin file, whose pore voxels are the same; -voxel_size gives
#   the TIFF its voxel size;
# - `shape -shape_phase solid` and `analyze` of an HDF5 copy without phase_names (a foreign file) see pore/solid, and
#   shape gives the same sub-particles as from the twin;
# - `transport` of a file without a voxel size asks for -voxel_size.
source "$(dirname "$0")/common.sh"

run 1 generate -model chi2 -model_alpha 20 -model_volume_fraction 0.46 -grid_size 20,18,16 -voxel_size 0.01,0.01,0.012 \
  -seed 3 -o twin.h5 || { fail "generate"; cat run.log; finish; }

"$SM_PYTHON" - <<'EOF' || fail "python export"
import h5py
import numpy as np
from smcheck import write_tiff

lab = h5py.File("twin.h5", "r")["labels"][...]           # [z][y][x], 0 pore / 1 solid
grey = np.where(lab == 0, 0, 170).astype(np.uint8)
z = np.arange(lab.shape[0])[:, None, None]
grey[(lab == 1) & (z % 3 == 0)] = 85                      # a second solid phase; the pores are unchanged
write_tiff("electrode.tif", [grey[k] for k in range(grey.shape[0])])
with h5py.File("nonames.h5", "w") as f:                    # a foreign file: labels and a voxel size, no names
    d = f.create_dataset("labels", data=lab)
    d.attrs["voxel_size"] = np.array([0.01, 0.01, 0.012])
with h5py.File("nosize.h5", "w") as f:
    f.create_dataset("labels", data=lab)
EOF

for np in 1 2; do
  run "$np" transport -i twin.h5 -phase pore -transport_direction z -o "ref_${np}.json" ||
    { fail "transport of the twin ($np ranks)"; cat run.log; }
  run "$np" transport -i electrode.tif -phase_labels 0,85,170 -phase_names pore,nmc,cbd -phase pore \
    -voxel_size 0.01,0.01,0.012 -transport_direction z -o "tif_${np}.json" ||
    { fail "transport of a segmented TIFF ($np ranks)"; cat run.log; }
done
run 2 transport -i nosize.h5 -phase pore -o nosize.json
if [ $? -ne 0 ] && grep -q -- "-voxel_size" run.log && [ ! -e nosize.json ]; then ok; else
  fail "a file without a voxel size must ask for -voxel_size"; cat run.log; fi
run 2 transport -i nosize.h5 -phase solid -voxel_size 0.01,0.01,0.012 -transport_direction z -o nosize.json ||
  { fail "transport with -voxel_size"; cat run.log; }

run 1 shape -i twin.h5 -shape_phase solid -o s_twin.h5 || { fail "shape of the twin"; cat run.log; }
run 2 shape -i nonames.h5 -shape_phase solid -o s_nonames.h5 || { fail "shape -shape_phase solid of a file without names"; cat run.log; }
run 2 analyze -i nonames.h5 -descriptors basic -o nonames.json || { fail "analyze of a file without names"; cat run.log; }

"$SM_PYTHON" - <<'EOF' || fail "comparison"
import json
import h5py
import numpy as np
from smcheck import transport_M

errors = []
for np_ in (1, 2):
    a = json.load(open("ref_%d.json" % np_))
    b = json.load(open("tif_%d.json" % np_))
    ma, mb = a["directions"]["z"]["D_eff_over_D"], b["directions"]["z"]["D_eff_over_D"]
    if not (0 < ma < 1) or abs(ma - mb) > 1e-9 * ma:
        errors.append("M of the pores: twin %r, TIFF %r (%d ranks)" % (ma, mb, np_))
    if abs(a["volume_fraction"] - b["volume_fraction"]) > 0:
        errors.append("pore volume fraction differs")
    if b["phase"] != "pore":
        errors.append("the TIFF's phase is %r" % b["phase"])
m1, m2 = transport_M("ref_1.json", "z"), transport_M("ref_2.json", "z")
if abs(m1 - m2) > 1e-6 * m1:
    errors.append("rank count changes M: %r vs %r" % (m1, m2))
ns = json.load(open("nosize.json"))
if ns["phase"] != "solid" or not (0 < ns["directions"]["z"]["D_eff_over_D"] < 1):
    errors.append("transport of the file without names/size: %r" % ns.get("directions"))
an = json.load(open("nonames.json"))
phases = sorted(an["phases"].keys()) if isinstance(an.get("phases"), dict) else None
if phases != ["pore", "solid"]:
    errors.append("analyze names the phases %r, not pore/solid" % phases)
with h5py.File("s_twin.h5", "r") as f, h5py.File("s_nonames.h5", "r") as g:
    for key in ("centres", "coeffs"):
        x, y = f["shapes"][key][...], g["shapes"][key][...]
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-10, atol=1e-12):
            errors.append("shapes/%s differ between the twin and its copy without names" % key)
for e in errors:
    print("FAIL:", e)
raise SystemExit(1 if errors else 0)
EOF
[ $? -eq 0 ] && ok

# a study of an image records the reader's settings: a restart with another -voxel_size or -crop is another study
S="-transport_phases none -descriptors basic"
run 1 run -i twin.h5 $S -voxel_size 0.02 -o img_study || { fail "run -i"; cat run.log; }
run 1 run -i twin.h5 $S -voxel_size 0.02 -o img_study -restart && ok || { fail "restart with the same settings"; cat run.log; }
for other in "-voxel_size 0.03" "-voxel_size 0.02 -crop 0:8,0:8,0:8"; do
  if run 1 run -i twin.h5 $S $other -o img_study -restart; then fail "restart with $other accepted"
  else grep -q "belongs to a different study" run.log && ok || { fail "restart with $other: message"; cat run.log; }; fi
done
finish
