#!/usr/bin/env bash
# stochmorph transport end to end: a small twin, FEM and FV in all three directions (JSON keys, 0 < M < 1, tau_eff =
# eps / M, the stated conventions), the same M on 1 and 2 ranks (to 1e-6 relative: the solver tolerance is 1e-8), the
# potential file of -save_solution, an empty phase (M = 0 with a message, not an error), and bad input: exit 1, one
# "stochmorph error:" line, no output file (not even a partial one).
source "$(dirname "$0")/common.sh"

run 1 generate -model chi2 -model_alpha 20 -model_volume_fraction 0.46 -grid_size 20,18,16 -voxel_size 0.01,0.01,0.012 \
  -seed 3 -o twin.h5 || { fail "generate a small twin"; cat run.log; }

for method in fem fv; do
  for np in 1 2; do
    run "$np" transport -i twin.h5 -phase solid -transport_method $method -transport_direction all -o "t_${method}_${np}.json" ||
      { fail "transport $method on $np ranks"; cat run.log; continue; }
    if [ "$(grep -c '^  [xyz]: D_eff/D' run.log)" -eq 3 ]; then ok; else fail "one summary line per direction ($method)"; cat run.log; fi
  done
  if "$SM_PYTHON" - "t_${method}_1.json" "t_${method}_2.json" "$method" <<'PY'
import json, math, sys
from smcheck import Checks
a, b = (json.load(open(f)) for f in sys.argv[1:3])
method = sys.argv[3]
check = Checks()
for key in ("phase", "method", "direction", "volume_fraction", "side_faces", "length", "directions", "units", "grid",
            "conductivities", "provenance"):
    check(key in a, "top-level key %s missing" % key)
check(a["phase"] == "solid" and a["method"] == method and a["direction"] == "all", "phase/method/direction")
check(a["side_faces"] == "no-flux" and a["length"] == "N h", "conventions")
check(sorted(a["directions"].keys()) == ["x", "y", "z"], "directions %s" % list(a["directions"].keys()))
for d, r in a["directions"].items():
    for key in ("volume_fraction", "percolating_fraction", "removed_fraction", "D_eff_over_D", "tau_eff", "D_eff",
                "iterations", "residual", "converged_reason", "flux_imbalance", "setup_time", "solve_time", "unknowns",
                "flux", "M_error_estimate", "stop_rule"):
        check(key in r, "%s: key %s missing" % (d, key))
    M, eps = r["D_eff_over_D"], r["volume_fraction"]
    check(0 < M < 1, "%s: M = %s outside (0, 1)" % (d, M))
    check(M < eps, "%s: M = %s above eps = %s (Wiener bound)" % (d, M, eps))
    check(abs(r["tau_eff"] - eps / M) <= 1e-9 * r["tau_eff"], "%s: tau_eff %s != eps / M %s" % (d, r["tau_eff"], eps / M))
    check(r["converged_reason"].startswith("CONVERGED"), "%s: reason %s" % (d, r["converged_reason"]))
    check(r["stop_rule"] == "M" and 0 < r["M_error_estimate"] <= 1e-6, "%s: stop rule %s, estimate %s" % (d, r["stop_rule"], r["M_error_estimate"]))
    check(r["flux_imbalance"] < 1e-3, "%s: imbalance %s" % (d, r["flux_imbalance"]))
    check(abs(eps - a["volume_fraction"]) == 0, "%s: eps differs from the top-level one" % d)
    Mb = b["directions"][d]["D_eff_over_D"]
    check(abs(M - Mb) <= 1e-6 * M, "%s: M %s on 1 rank vs %s on 2" % (d, M, Mb))
    check(r["unknowns"] == b["directions"][d]["unknowns"], "%s: unknowns differ between rank counts" % d)
check.done()
PY
  then ok; else fail "JSON of transport $method"; fi
done
# FEM couples voxels at edges and corners: above FV on a 16-20 voxel twin (SPEC 6.2)
if "$SM_PYTHON" - <<'PY'
import sys
from smcheck import transport_M
sys.exit(0 if all(transport_M("t_fem_1.json", d) > transport_M("t_fv_1.json", d) for d in "xyz") else 1)
PY
then ok; else fail "FEM not above FV"; fi

# one direction: the keys also at the top level; -save_solution writes the potential of that direction
run 2 transport -i twin.h5 -phase pore -transport_direction y -save_solution -o one.json || { fail "transport -save_solution"; cat run.log; }
if "$SM_PYTHON" - <<'PY'
import h5py, json, math, numpy as np, sys
from smcheck import Checks
check = Checks()
r = json.load(open("one.json"))
check(r["direction"] == "y" and r["phase"] == "pore", "direction / phase")
check(0 < r["D_eff_over_D"] < 1 and r["D_eff_over_D"] == r["directions"]["y"]["D_eff_over_D"], "top-level M")
with h5py.File("one_potential.h5", "r") as f:
    lab = f["/labels"][...]
    u = f["/fields/potential_y"][...]
    check(u.shape == lab.shape, "potential shape %s vs labels %s" % (u.shape, lab.shape))
    solved = ~np.isnan(u)
    check(np.all(lab[solved] == 0), "potential outside the pore phase")
    check(solved.sum() >= 0.9 * r["percolating_fraction"] * (lab == 0).sum(), "too few solved voxels")
    check(np.nanmin(u) >= 0 and np.nanmax(u) <= 1, "potential outside [0, 1] (maximum principle)")
    # the potential falls along y: mean over the first voxel plane above the mean over the last
    check(np.nanmean(u[:, 0, :]) > np.nanmean(u[:, -1, :]), "potential does not fall along y")
check.done()
PY
then ok; else fail "one direction JSON / potential file"; fi
if [ -f one_potential.xmf ]; then ok; else fail "no XDMF sidecar for the potential"; fi

# an empty phase: M = 0 with a message, exit 0
"$SM_PYTHON" -c "
import h5py, numpy as np
with h5py.File('twin.h5') as f, h5py.File('empty.h5', 'w') as g:
    d = g.create_dataset('labels', data=np.zeros_like(f['/labels'][...]))
    for k, v in f['/labels'].attrs.items(): d.attrs[k] = v
"
run 1 transport -i empty.h5 -phase solid -transport_direction z -o empty.json || { fail "empty phase must not be an error"; cat run.log; }
if "$SM_PYTHON" -c "
import json, sys
r = json.load(open('empty.json'))
sys.exit(0 if r['D_eff_over_D'] == 0 and r['tau_eff'] is None and r['percolates'] is False and 'empty' in r['message'] else 1)
"; then ok; else fail "empty phase JSON"; fi

# bad input: one message, exit 1, no out.* or out_* file and nothing in outdir/ (expect_fail, common.sh)
mkdir -p outdir
SM_NO_FILES='out.* out_* outdir/*'
T="transport -i twin.h5 -o out.json"
expect_fail "unknown phase 'gold'.*pore, solid" 1 $T -phase gold
expect_fail "unknown phase 'gold'.*pore, solid" 2 $T -phase gold -save_solution
expect_fail "needs -phase.*pore, solid" 1 $T
expect_fail "/nope" 2 $T -phase solid -image_dataset /nope
expect_fail "missing.h5" 1 transport -i missing.h5 -phase solid -o out.json
expect_fail "-transport_direction: unknown direction 'w'" 1 $T -phase solid -transport_direction w
expect_fail "-transport_direction: unknown direction 'q'" 2 $T -phase solid -transport_direction all,q
expect_fail "-transport_method: unknown method 'fd'" 2 $T -phase solid -transport_method fd
expect_fail "-transport_pc_matrix" 1 $T -phase solid -transport_pc_matrix lu
expect_fail "-transport_conductivities: unknown phase 'gold'" 1 $T -phase solid -transport_conductivities gold:1
expect_fail "-transport_conductivities" 1 $T -phase solid -transport_conductivities solid:-1
expect_fail "-transport_conductivities" 1 $T -phase solid -transport_conductivities solid:0,pore:1
expect_fail "-transport_directoin" 1 $T -phase solid -transport_directoin x
expect_fail "-o" 1 transport -i twin.h5 -phase solid -o /nonexistent_dir/out.json
# a solve that cannot converge in the allowed iterations is an error, not a number
expect_fail "did not converge" 2 $T -phase solid -transport_direction x -transport_ksp_max_it 1 -transport_pc_type none -save_solution
finish
