#!/usr/bin/env bash
# The executable end to end: the same seed at 1, 2 and 3 ranks gives identical /labels (h5diff) and identical
# analysis numbers; the files carry what SPEC 8 promises and open with h5py; the XDMF sidecar is valid XML pointing
# at the datasets; -help lists every key.
source "$(dirname "$0")/common.sh"

models=("-model chi2 -model_alpha 9 -model_volume_fraction 0.46"
        "-model pluri -model_alpha_x 14 -model_alpha_y 22 -model_m 0.2 -model_volume_fractions 0.45,0.35"
        "-model gauss -model_covariance exponential -model_alpha 12 -model_volume_fraction 0.3")
for m in 0 1 2; do
  for np in 1 2 3; do
    run "$np" generate ${models[$m]} -grid_size 40,34,27 -voxel_size 0.01,0.01,0.013 -seed 31 -realization 4 \
      -o "m${m}_np${np}.h5" || { fail "generate model $m on $np ranks"; cat run.log; }
    run "$np" analyze -i "m${m}_np${np}.h5" -o "m${m}_np${np}.json" || { fail "analyze model $m on $np ranks"; cat run.log; }
    run "$np" analyze -i "m${m}_np${np}.h5" -analyze_periodic 0 -two_point_max_lag 0.08 -o "m${m}_np${np}_img.json" ||
      { fail "analyze (minus-sampling) model $m on $np ranks"; cat run.log; }
  done
  for np in 2 3; do
    if h5diff "m${m}_np1.h5" "m${m}_np${np}.h5" /labels /labels > diff.log 2>&1; then ok; else fail "h5diff model $m 1 vs $np ranks"; head diff.log; fi
    for kind in "" _img; do
      if "$SM_PYTHON" -c 'import sys, smcheck; sys.exit(0 if smcheck.same_json(*sys.argv[1:]) else 1)' \
        "m${m}_np1${kind}.json" "m${m}_np${np}${kind}.json"; then ok; else fail "analysis numbers of model $m differ between 1 and $np ranks ($kind)"; fi
    done
  done
done

# files: h5py view of a generated twin (with fields), XDMF, JSON keys and CSV tables
run 2 generate -model chi2 -model_dof 3 -model_alpha 40 -grid_size 24,20,18 -voxel_size 0.0166,0.0166,0.02 -seed 5 -save_fields -o f.h5 ||
  { fail "generate with fields"; cat run.log; }
run 2 analyze -i f.h5 -o f.json || { fail "analyze f.h5"; cat run.log; }
if "$SM_PYTHON" - <<'PY'
import h5py, json, numpy as np, sys, xml.etree.ElementTree as ET, csv
from smcheck import Checks, text
check = Checks()
with h5py.File("f.h5", "r") as f:
    lab = f["/labels"]
    check(lab.dtype == np.uint8, "labels dtype %s" % lab.dtype)
    check(lab.shape == (18, 20, 24), "labels shape %s (expected [z][y][x] = (18, 20, 24))" % (lab.shape,))
    check(np.allclose(lab.attrs["voxel_size"], [0.0166, 0.0166, 0.02]), "voxel_size %s" % lab.attrs["voxel_size"])
    names = [text(n) for n in lab.attrs["phase_names"]]
    check(names == ["pore", "solid"], "phase_names %s" % names)
    check(int(f.attrs["complete"]) == 1, "complete attribute")
    for key in ("model", "seed", "realization", "code_version", "model_options", "model_alpha", "model_dof"):
        check(key in lab.attrs, "provenance attribute %s missing" % key)
    check(text(lab.attrs["model"]) == "chi2" and text(lab.attrs["seed"]) == "5" and text(lab.attrs["model_dof"]) == "3",
          "provenance values")
    check(set(f["/fields"].keys()) == {"X1", "X2", "X3"}, "fields %s" % list(f["/fields"].keys()))
    x = [f["/fields/X%d" % i][...] for i in (1, 2, 3)]
    y = sum(v * v for v in x)
    lam = float(text(lab.attrs["model_threshold"]))
    check(np.array_equal((y >= lam).astype(np.uint8), lab[...]), "labels are not {X1^2 + X2^2 + X3^2 >= lambda}")
    # 1/alpha = 1.5 voxels: the box holds ~15 correlation lengths per axis, sample variances within ~0.1 of 1
    check(abs(np.mean([v.var() for v in x]) - 1) < 0.3, "field variance far from 1")
root = ET.parse("f.xmf").getroot()
items = [e.text.strip() for e in root.iter("DataItem") if e.get("Format") == "HDF"]
check("f.h5:/labels" in items and "f.h5:/fields/X1" in items, "XDMF data items %s" % items)
topo = [e for e in root.iter("Topology")][0]
check(topo.get("Dimensions").split() == ["19", "21", "25"], "XDMF topology %s" % topo.get("Dimensions"))
r = json.load(open("f.json"))
for p in ("pore", "solid"):
    for k in ("volume_fraction", "specific_surface_area"):
        check(k in r["phases"][p], "phases.%s.%s" % (p, k))
check(abs(r["phases"]["pore"]["volume_fraction"] + r["phases"]["solid"]["volume_fraction"] - 1) < 1e-15, "fractions sum")
tp = r["two_point"]
check(len(tp["h"]) == len(tp["C"]["solid_solid"]) and set(tp["C"]) == {"pore_pore", "pore_solid", "solid_solid"}, "two_point keys")
check(abs(tp["C"]["solid_solid"][0] - r["phases"]["solid"]["volume_fraction"]) < 1e-15, "C(0) = p")
rows = list(csv.DictReader(open("f.csv")))
check([row["phase"] for row in rows] == ["pore", "solid"], "CSV rows")
check(all(int(row["connectivity"]) == r["connectivity"] for row in rows), "CSV connectivity column (JSON %s)" % r.get("connectivity"))
rows = list(csv.DictReader(open("f_two_point.csv")))
check({row["curve"] for row in rows} == {"radial", "x", "y", "z"}, "two-point CSV curves")
check.done()
PY
then ok; else fail "file contents"; fi

# morphology keys, and "not defined" as null with a note: a sparse gauss solid (8 %) does not connect the faces
run 2 generate -model gauss -model_alpha 25 -model_volume_fraction 0.08 -grid_size 40 -seed 3 -o sparse.h5 ||
  { fail "generate sparse"; cat run.log; }
run 2 analyze -i sparse.h5 -o sparse.json || { fail "analyze sparse"; cat run.log; }
if "$SM_PYTHON" - <<'PY'
import json, sys
r = json.load(open("sparse.json"))
errors = []
for name in ("pore", "solid"):
    p = r["phases"][name]
    for k in ("geodesic_tortuosity", "constrictivity", "r_min", "r_50", "cpsd", "mip", "percolating_fraction", "M_predicted"):
        if k not in p: errors.append("phases.%s.%s missing" % (name, k))
    for k in ("x", "y", "z", "mean"):
        if k not in p["geodesic_tortuosity"] or k not in p["constrictivity"]: errors.append("%s: %s missing" % (name, k))
s, q = r["phases"]["solid"], r["phases"]["pore"]
if s["geodesic_tortuosity"]["mean"] is not None or s["M_predicted"] is not None: errors.append("solid tortuosity should be null")
if "notes" not in s or "geodesic_tortuosity" not in s["notes"]: errors.append("solid has no note on tortuosity")
if not (1 <= q["geodesic_tortuosity"]["mean"] < 1.2): errors.append("pore tortuosity %s" % q["geodesic_tortuosity"]["mean"])
if not (0 < q["M_predicted"] < q["volume_fraction"]): errors.append("pore M^ %s" % q["M_predicted"])
if max(s["percolating_fraction"].values()) != 0: errors.append("solid percolates")
psi = q["cpsd"]["psi"]
if psi[0] != 1 or any(b > a for a, b in zip(psi, psi[1:])): errors.append("cpsd not decreasing from 1")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
then ok; else fail "morphology keys and nulls"; fi

# -help documents every key of the commands
run 1 generate -help
for key in -model -model_covariance -model_alpha -model_volume_fraction -model_threshold -model_dof -model_alpha_x \
  -model_alpha_y -model_m -model_volume_fractions -grid_size -voxel_size -seed -realization -o -save_fields -fft_plan \
  -fft_wisdom; do
  if [ "$key" = "-model_alpha_x" ]; then run 1 generate -model pluri -help; fi
  if grep -qE -- "(^| )$key:? <" run.log; then ok; else fail "generate -help does not list $key"; fi
done
run 1 analyze -help
for key in -i -o -image_dataset -analyze_periodic -two_point_max_lag -descriptors -cpsd_dr -mip_faces -tortuosity_bins; do
  if grep -qE -- "(^| )$key:? <" run.log; then ok; else fail "analyze -help does not list $key"; fi
done
finish
