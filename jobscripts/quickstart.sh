#!/usr/bin/env bash
# Quick start: install what is missing, build, draw the built-in default twin (the F850 NMC model, chi2 with
# k = 2, p = 0.46, alpha = 7.28 1/um) on 2 ranks and analyse it. Output in out/quickstart/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/jobscripts/install_deps.sh"
"$root/jobscripts/build.sh"
np=${NP:-2}
out="$root/out/quickstart"
mkdir -p "$out"
# mpiexec refuses root unless told, and needs --oversubscribe when ranks exceed cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() { mpiexec --oversubscribe -n "$np" "$root/build/stochmorph" "$@"; }
run generate -options_file "$root/inputs/quickstart.opts" -o "$out/twin.h5"
run analyze -i "$out/twin.h5" -o "$out/analysis.json"
/usr/bin/python3 - "$out/analysis.json" <<'PY'
import json, sys, math
r = json.load(open(sys.argv[1]))
prov = r["provenance"]
print("\nSummary (%s, seed %s)" % (prov.get("model_options", "?"), prov.get("seed", "?")))
p = float(prov.get("model_volume_fraction", "nan")); a = float(prov.get("model_alpha", "nan"))
lam = -2 * math.log(p)
rice = 2 * math.sqrt(2 / math.pi) * math.sqrt(2 * a * a * lam) * p  # SPEC 6.3, chi2 k = 2
s = r["phases"]["solid"]
print("  solid volume fraction  %.4f   (model %.4f)" % (s["volume_fraction"], p))
print("  specific surface area  %.3f 1/um (Rice formula %.3f 1/um)" % (s["specific_surface_area"], rice))
print("  two-point C_solid_solid(h): C(0) = %.4f, C(h_max) = %.4f (p^2 = %.4f)" %
      (r["two_point"]["C"]["solid_solid"][0], r["two_point"]["C"]["solid_solid"][-1], p * p))
fmt = lambda v: "not defined" if v is None else "%.4f" % v
for name in ("solid", "pore"):
    q = r["phases"][name]
    print("  %-5s r_50 %s um, r_min %s um, constrictivity %s, geodesic tortuosity %s, predicted M-factor %s" %
          (name, fmt(q["r_50"]), fmt(q["r_min"]["mean"]), fmt(q["constrictivity"]["mean"]),
           fmt(q["geodesic_tortuosity"]["mean"]), fmt(q["M_predicted"])))
print("  files: %s/twin.h5 (+ twin.xmf for ParaView), analysis.json, analysis.csv, analysis_two_point.csv" % sys.argv[1].rsplit("/", 1)[0])
PY
