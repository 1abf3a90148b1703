#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the main job on the built-in default model (the F850 NMC
# particle, chi2 with k = 2, p = 0.46, alpha = 7.28 1/um, 200^3 voxels of 10 nm) on 2 ranks: `stochmorph run` draws the
# twin, computes its descriptors and the M-factor of solid and pores in x, y and z (FEM), and writes the study table.
# Output in out/quickstart/ (a second start resumes or reuses it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/jobscripts/install_deps.sh"
"$root/jobscripts/build.sh"
out="$root/out/quickstart"
mkdir -p "$out"
# the job scripts' launcher: NP ranks (default 2), root and more ranks than cores allowed, one OpenMP thread per rank,
# huge pages for the large arrays
source "$root/jobscripts/launch.sh"
sm_launch run -options_file "$root/inputs/quickstart.opts" -realizations 1 -keep_volumes -restart -o "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys, math
out = sys.argv[1]
s = json.load(open(out + "/study.json"))
r = s["tasks"][0]["results"]
p, a = 0.46, 7.28
lam = -2 * math.log(p)
rice = 2 * math.sqrt(2 / math.pi) * math.sqrt(2 * a * a * lam) * p  # SPEC 6.3, chi2 k = 2
fmt = lambda v: "not defined" if v is None else "%.4f" % v
print("\nSummary (F850 model, seed %s)" % s["tasks"][0]["seed"])
print("  solid volume fraction  %.4f   (model %.4f)" % (r["phases.solid.volume_fraction"], p))
print("  specific surface area  %.3f 1/um (Rice formula %.3f 1/um)" % (r["phases.solid.specific_surface_area"], rice))
for name in ("solid", "pore"):
    g = lambda k: r.get("phases.%s.%s" % (name, k))
    print("  %-5s r_50 %s um, r_min %s um, constrictivity %s, geodesic tortuosity %s" %
          (name, fmt(g("r_50")), fmt(g("r_min_mean")), fmt(g("constrictivity_mean")), fmt(g("geodesic_tortuosity_mean"))))
    print("        M-factor computed (FEM) x %s, y %s, z %s, mean %s; predicted M^ %s" %
          (tuple(fmt(r.get("transport.%s.%s" % (name, k))) for k in ("x.M", "y.M", "z.M", "M_mean")) + (fmt(g("M_predicted")),)))
print("  files: %s/study.json, study.csv (the numbers), volumes/t0000.h5 (+ .xmf for ParaView), checkpoint.h5" % out)
PY
