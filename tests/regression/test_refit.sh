#!/usr/bin/env bash
# stochmorph refit (issue 17, item 4): the predictor M^ = k eps^a beta^b / tau^c refitted to the M of finished
# studies. Checked against an independent least squares (numpy.linalg.lstsq on the study.json rows, standard errors
# from the normal equations) for each phase and for the phases pooled, with and without the prefactor and over two
# studies pooled; a study that has not finished, a missing directory and a study without transport are refused with a
# message; a study where one phase does not percolate leaves those twins out and says how many.
source "$(dirname "$0")/common.sh"
S="-grid_size 32 -voxel_size 0.02 -realizations 2 -transport_method fv"
run 1 sweep $S -sweep_param model_volume_fraction -sweep_values 0.35:0.65:0.1 -transport_direction z,x -o sw ||
  { fail "sweep"; cat run.log; }
run 2 run $S -realizations 3 -seed 5 -transport_direction y -o r || { fail "run"; cat run.log; }

# check JSON STUDY.json...: the fits of JSON against numpy on the pooled rows of the studies
check() {
  "$SM_PYTHON" - "$@" << 'PY'
import json, sys
import numpy as np
out, prefactor, studies = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
fit = json.load(open(out))
rows = [t["results"] for s in studies for t in json.load(open(s))["tasks"]]
phases = sorted({k[10:-7] for r in rows for k in r if k.startswith("transport.") and k.endswith(".M_mean")})
bad = 0
for group in ["all"] + phases:
    X, y = [], []
    for r in rows:
        for ph in (phases if group == "all" else [group]):
            M = r.get("transport.%s.M_mean" % ph)
            e, b, t = (r.get("phases.%s.%s" % (ph, k)) for k in ("volume_fraction", "constrictivity_mean", "geodesic_tortuosity_mean"))
            if None in (M, e, b, t) or min(M, e, b, t) <= 0:
                continue
            X.append([np.log(e), np.log(b), -np.log(t)] + ([1.0] if prefactor else []))
            y.append(np.log(M))
    X, y = np.array(X), np.array(y)
    c, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ c
    s2 = res @ res / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    r2 = 1 - (res @ res) / np.sum((y - y.mean()) ** 2)
    got = [f for f in fit["fits"] if f["phases"] == group]
    if len(got) != 1:
        print("FAIL: no fit for", group); bad += 1; continue
    g = got[0]
    names = ["a", "b", "c"] + (["log_k"] if prefactor else [])
    for i, n in enumerate(names):
        for v, w, what in ((g[n], c[i], n), (g["se_" + n], se[i], "se_" + n)):
            if abs(v - w) > 1e-8 * max(1, abs(w)):
                print("FAIL: %s %s: %r, numpy %r" % (group, what, v, w)); bad += 1
    if g["n"] != len(y) or abs(g["r2"] - r2) > 1e-10:
        print("FAIL: %s n %d (numpy %d), R^2 %r (numpy %r)" % (group, g["n"], len(y), g["r2"], r2)); bad += 1
    if not prefactor and g["log_k"] != 0:
        print("FAIL: k fitted without -refit_prefactor"); bad += 1
print("checked %d groups of %s" % (1 + len(phases), out))
sys.exit(1 if bad else 0)
PY
}
run 1 refit -i sw && ok || { fail "refit of a sweep"; cat run.log; }
grep -q "wrote sw/refit.json" run.log && ok || { fail "refit: no output named"; cat run.log; }
check sw/refit.json 0 sw/study.json && ok || fail "refit without prefactor differs from numpy"
run 2 refit -i sw,r -refit_prefactor -o pooled.json && ok || { fail "refit of two studies"; cat run.log; }
check pooled.json 1 sw/study.json r/study.json && ok || fail "pooled refit with prefactor differs from numpy"

# refusals with one message (expect_fail, common.sh): a missing directory, a study without transport, an unfinished
# study (killed at a unit boundary)
expect_fail -n '' "the study directory nothere does not exist" 1 refit -i sw,nothere
run 1 run $S -transport_phases none -o nt || { fail "run without transport"; cat run.log; }
expect_fail -n '' "no transport results" 1 refit -i nt
SM_TEST_KILL_BEFORE_UNIT=4 run 1 run $S -transport_direction z -o part
expect_fail -n '' "has not finished; resume it with -restart" 1 refit -i part

# a phase that does not percolate: M = 0, left out and counted
run 1 sweep $S -sweep_param model_volume_fraction -sweep_values 0.1,0.2,0.5,0.6,0.7 -transport_direction z -o np ||
  { fail "sweep with a non-percolating phase"; cat run.log; }
run 1 refit -i np && ok || { fail "refit with non-percolating twins"; cat run.log; }
"$SM_PYTHON" -c "
import json, sys
f = {g['phases']: g for g in json.load(open('np/refit.json'))['fits']}
rows = [t['results'] for t in json.load(open('np/study.json'))['tasks']]
zero = sum(1 for r in rows for ph in ('pore', 'solid') if r.get('transport.%s.M_mean' % ph, 1) == 0)
assert zero > 0, 'no twin with M = 0: the case checks nothing'
assert f['all']['skipped'] >= zero, (f['all']['skipped'], zero)
assert f['all']['n'] + f['all']['skipped'] == 2 * len(rows)
" && ok || fail "twins with M = 0 not left out and counted"
finish
