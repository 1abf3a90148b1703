#!/usr/bin/env bash
# stochmorph fit end to end (SPEC 4): generate -> fit -> generate -options_file fitted.opts (unchanged) -> fit again.
# Tolerances are SPEC 4's round-trip requirement: p within 3 sigma (sigma from the fit), alpha within 3 %; pluri:
# alpha_X, alpha_Y within 5 %, m within 0.05, eps_i within 0.01. The F850 twin is the acceptance case, 200^3 at 10 nm
# (seed-to-seed spread of alpha there: about 1 %, six seeds 7.19 .. 7.42 1/um). The refit draws its twin with the
# same seed from the fitted parameters, so it must agree with the first fit within the same tolerances.
# Also: the JSON keys, -model auto, a non-periodic crop (minus-sampling), -help, and bad input (exit 1, one
# "stochmorph error:" line, no output file).
source "$(dirname "$0")/common.sh"

# check_json FILE PYTHON-EXPRESSIONS...: each expression (with d = the JSON) must be true
check_json() {
  local file=$1; shift
  "$SM_PYTHON" - "$file" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"d": d, "abs": abs, "min": min, "all": all, "len": len})]
for e in bad:
    print("  false:", e)
sys.exit(1 if bad else 0)
EOF
}

# --- F850 acceptance: chi2, k = 2, p = 0.46, alpha = 7.28 at 10 nm on 200^3 ---
run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nmc/F850.opts" -grid_size 200 -seed 5 -o twin.h5 || { fail "generate F850"; cat run.log; }
run 2 fit -i twin.h5 -model chi2 -model_dof 2 -o fitted.opts || { fail "fit F850"; cat run.log; }
if [ -f fitted.opts ] && [ -f fitted.json ]; then ok; else fail "fit did not write fitted.opts and fitted.json"; fi
grep -q "stochmorph fit\|fit_residual\|p 0" run.log && ok || fail "no summary printed"
# the options file: comment lines with the fit quality, then only model keys
grep -q "^# .*sigma(p)" fitted.opts && grep -q "^# .*residual" fitted.opts && grep -q "^# isotropy" fitted.opts && ok \
  || fail "fitted.opts lacks the fit-quality comments"
if grep -v '^#' fitted.opts | tr ' ' '\n' | grep '^-' | grep -qv '^-model'; then fail "fitted.opts has non-model keys"; else ok; fi
check_json fitted.json \
  'all(k in d for k in ["model", "volume_fraction", "threshold", "alpha", "dof", "fit_residual", "fit_range", "sigma_volume_fraction", "isotropy", "h", "C_data", "C_model", "rho_data", "rho_model"])' \
  'd["model"] == "chi2" and d["dof"] == 2 and d["grid"]["periodic"] and d["grid"]["estimator"] == "periodic"' \
  'abs(d["volume_fraction"] - 0.46) <= 3 * d["sigma_volume_fraction"]' \
  'abs(d["alpha"] - 7.28) <= 0.03 * 7.28' \
  'len(d["h"]) == len(d["C_data"]) == len(d["C_model"]) == len(d["rho_data"]) == len(d["rho_model"])' \
  'd["fit_range"][0] > 0 and d["fit_range"][1] > d["fit_range"][0]' \
  'abs(d["isotropy"]["alpha_x"] - d["alpha"]) < 0.06 * d["alpha"]' \
  && ok || { fail "fitted.json (F850)"; }
# the fitted model, unchanged, drawn again with the same seed, and fitted again
cp fitted.opts fitted.orig
run 2 generate -options_file fitted.opts -grid_size 200 -voxel_size 0.01 -seed 5 -o twin2.h5 || { fail "generate -options_file fitted.opts"; cat run.log; }
cmp -s fitted.opts fitted.orig && ok || fail "generate changed fitted.opts"
run 1 fit -i twin2.h5 -model chi2 -o refit.opts || { fail "refit"; cat run.log; }
"$SM_PYTHON" - <<'EOF' && ok || fail "refit disagrees with the first fit"
import json
a, b = json.load(open("fitted.json")), json.load(open("refit.json"))
ok = abs(a["volume_fraction"] - b["volume_fraction"]) <= 3 * a["sigma_volume_fraction"] and abs(a["alpha"] - b["alpha"]) <= 0.03 * a["alpha"]
print("first fit p %.5f alpha %.4f, refit p %.5f alpha %.4f" % (a["volume_fraction"], a["alpha"], b["volume_fraction"], b["alpha"]))
raise SystemExit(0 if ok else 1)
EOF

# --- -model auto on the chi2 k = 2 twin: chi2 wins; k = 2 or, if noise decides, a k whose residual is within 10 % of
#     k = 2's (at 200^3 the next best, k = 3, is 5 to 80 % worse over six seeds; gauss and k = 1 are 2 to 5 times worse) ---
run 2 fit -i twin.h5 -model auto -o auto.opts || { fail "fit -model auto"; cat run.log; }
check_json auto.json 'd["model"] == "chi2"' \
  'd["candidates"]["chi2_k2"]["fit_residual"] <= 1.1 * d["fit_residual"]' \
  'd["fit_residual"] == min(c["fit_residual"] for c in d["candidates"].values())' \
  'd["candidates"]["gauss"]["fit_residual"] > 1.5 * d["candidates"]["chi2_k2"]["fit_residual"]' \
  && ok || fail "-model auto did not pick chi2 k = 2"
grep -qx -- "-model chi2" auto.opts && grep -qx -- "-model_dof 2" auto.opts && ok || fail "auto.opts is not chi2 k = 2: $(grep -v '^#' auto.opts)"

# --- a non-periodic crop of the twin: minus-sampling, same tolerances ---
run 1 fit -i twin.h5 -crop 20:180,20:180,20:180 -model chi2 -o crop.opts || { fail "fit crop"; cat run.log; }
check_json crop.json 'not d["grid"]["periodic"] and d["grid"]["estimator"] == "minus-sampling"' \
  'abs(d["volume_fraction"] - 0.46) <= 3 * d["sigma_volume_fraction"]' 'abs(d["alpha"] - 7.28) <= 0.03 * 7.28' \
  && ok || fail "crop fit"

# --- pluri with the NVP/C parameters on a smaller grid (96^3 at 16.6 nm) ---
run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nvpc/nvpc.opts" -grid_size 96 -seed 7 -o pluri.h5 || { fail "generate pluri"; cat run.log; }
run 2 fit -i pluri.h5 -model pluri -o pluri.opts || { fail "fit pluri"; cat run.log; }
check_json pluri.json \
  'all(k in d for k in ["model", "volume_fractions", "alpha_x", "alpha_y", "m", "C_data", "C_model", "m_scan", "fit_residual", "fit_range", "sigma_volume_fraction", "isotropy", "h", "rho_data", "rho_model"])' \
  'all(k in d["C_data"] and k in d["C_model"] for k in ["active_active", "active_carbon", "carbon_carbon"])' \
  'len(d["m_scan"]["m"]) == len(d["m_scan"]["distance"]) == 201' \
  'abs(d["volume_fractions"]["active"] - 0.5148) <= 0.01 and abs(d["volume_fractions"]["carbon"] - 0.3372) <= 0.01' \
  'abs(d["volume_fractions"]["pore"] - 0.148) <= 0.01' \
  'abs(d["alpha_x"] - 16.6) <= 0.05 * 16.6 and abs(d["alpha_y"] - 26.5) <= 0.05 * 26.5 and abs(d["m"] - 0.15) <= 0.05' \
  && ok || fail "pluri fit"
run 2 generate -options_file pluri.opts -grid_size 96 -voxel_size 0.0166 -seed 7 -o pluri2.h5 || { fail "generate pluri.opts"; cat run.log; }
run 1 fit -i pluri2.h5 -model pluri -o pluri2.opts || { fail "refit pluri"; cat run.log; }
"$SM_PYTHON" - <<'EOF' && ok || fail "pluri refit disagrees with the first fit"
import json
a, b = json.load(open("pluri.json")), json.load(open("pluri2.json"))
ok = all(abs(a["volume_fractions"][k] - b["volume_fractions"][k]) <= 0.01 for k in ("active", "carbon", "pore"))
ok = ok and abs(a["alpha_x"] - b["alpha_x"]) <= 0.05 * a["alpha_x"] and abs(a["alpha_y"] - b["alpha_y"]) <= 0.05 * a["alpha_y"]
ok = ok and abs(a["m"] - b["m"]) <= 0.05
print("pluri fit alpha_X %.3f alpha_Y %.3f m %.3f; refit %.3f %.3f %.3f" % (a["alpha_x"], a["alpha_y"], a["m"], b["alpha_x"], b["alpha_y"], b["m"]))
raise SystemExit(0 if ok else 1)
EOF

# --- -help documents every key ---
run 1 fit -help
for key in -i -o -model -model_dof -model_covariance -fit_phase -fit_threshold -fit_max_lag -fit_periodic -image_dataset -voxel_size -crop; do
  grep -q -- "^ *$key[ :]" run.log || { fail "-help does not list $key"; }
done
ok

# --- bad input: exit 1, exactly one message, no output file (expect_fail, common.sh) ---
head -c 4096 /dev/zero | tr '\0' '\1' > ones.raw
run 1 generate -model chi2 -model_alpha 3.49 -model_volume_fraction 0.7 -grid_size 24 -voxel_size 0.01 -o small.h5 || fail "generate small"
expect_fail "/nope" 2 fit -i twin.h5 -image_dataset /nope -model chi2 -o out.opts
expect_fail "one phase only" 1 fit -i ones.raw -raw_size 16,16,16 -voxel_size 0.01 -model chi2 -o out.opts
expect_fail "smaller than the fit range" 2 fit -i small.h5 -model chi2 -o out.opts
expect_fail "smaller than this fit" 1 fit -i small.h5 -model chi2 -fit_max_lag 0.5 -o out.opts
expect_fail "unknown model 'foo'" 2 fit -i twin.h5 -model foo -o out.opts
expect_fail "three-phase image" 2 fit -i twin.h5 -model pluri -o out.opts
expect_fail "no phase 'carbon'" 3 fit -i twin.h5 -model gauss -fit_phase carbon -o out.opts
expect_fail "must end in .opts" 1 fit -i twin.h5 -model gauss -o out.json
expect_fail "-fit_threshold" 1 fit -i twin.h5 -model gauss -fit_threshold 1.5 -o out.opts
expect_fail "-i" 1 fit -model gauss -o out.opts
finish
