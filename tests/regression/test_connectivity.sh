#!/usr/bin/env bash
# -connectivity 6|18|26 through the executable. A hand-built volume of three solid channels along z in a 6 x 6 x 8 box
# (unit voxels of 0.01 um; channels apart from each other even at corners):
#   F: the column (0, 0, z), all z, face-connected;
#   E: the column (3, 0, z) for z <= 3 and (4, 0, z) for z >= 4, joined only through an edge;
#   C: the column (3, 3, z) for z <= 2 and (4, 4, z) for z >= 3, joined only through a corner.
# By hand (24 solid voxels): along z, F percolates under all three connectivities, E under 18 and 26, C under 26 only:
# percolating fractions 1/3, 2/3, 1 and dead-end fractions 2/3, 1/3, 0. Geodesic tortuosity along z (both orientations
# alike, paths being reversible), over the start voxels of the spanning channels, with L = 7 voxels between the end
# planes: F 1, E (6 + sqrt 2) / 7 (six axis steps and one face diagonal), C (6 + sqrt 3) / 7 (one body diagonal):
#   6: 1;  18: (1 + (6 + sqrt 2) / 7) / 2;  26: (1 + (6 + sqrt 2) / 7 + (6 + sqrt 3) / 7) / 3.
# The connectivity is recorded in the JSON (analyze), the study table and the study's options (run, sweep): a restart
# with another -connectivity is refused. Bad values are refused with a message naming the option.
source "$(dirname "$0")/common.sh"

"$SM_PYTHON" - <<'EOF' || { fail "python volume"; finish; }
import numpy as np
lab = np.zeros((8, 6, 6), dtype=np.uint8)  # [z][y][x]
for z in range(8):
    lab[z, 0, 0] = 1
    lab[z, 0, 3 if z <= 3 else 4] = 1
    c = 3 if z <= 2 else 4
    lab[z, c, c] = 1
lab.tofile("chan.raw")
EOF
IMG="-i chan.raw -raw_size 6,6,8 -voxel_size 0.01 -phase_labels 0,1 -phase_names pore,solid"

# analyze: each connectivity at 2 ranks (the junctions of E and C lie on and next to the slab boundary z 3 | 4), 18 also
# at 3 ranks (boundaries z 2 | 3 and 5 | 6), the default at 1 rank
for c in 6 18 26; do
  run 2 analyze $IMG -connectivity $c -o a$c.json || { fail "analyze -connectivity $c"; cat run.log; }
done
run 3 analyze $IMG -connectivity 18 -o a18np3.json || { fail "analyze -connectivity 18 at 3 ranks"; cat run.log; }
run 1 analyze $IMG -o adefault.json || { fail "analyze without -connectivity"; cat run.log; }

"$SM_PYTHON" - <<'EOF'
import json, math
s2, s3 = math.sqrt(2.0), math.sqrt(3.0)
hand = {
    6: (1 / 3, 2 / 3, 1.0),
    18: (2 / 3, 1 / 3, (1 + (6 + s2) / 7) / 2),
    26: (1.0, 0.0, (1 + (6 + s2) / 7 + (6 + s3) / 7) / 3),
}
errors = []
def check(path, conn):
    j = json.load(open(path))
    if j.get("connectivity") != conn:
        errors.append("%s: connectivity %r in the JSON, expected %d" % (path, j.get("connectivity"), conn))
    s = j["phases"]["solid"]
    perc, dead, tau = hand[conn]
    got = (s["percolating_fraction"]["z"], s["dead_end_fraction"]["z"], s["geodesic_tortuosity"]["z"])
    # the fractions are quotients of small integers, correctly rounded; the tortuosity is a sum of at most 8 steps per
    # path and a mean of 3 ratios: 1e-12 relative covers its rounding
    for name, g, e in zip(("percolating_fraction.z", "dead_end_fraction.z", "geodesic_tortuosity.z"), got, (perc, dead, tau)):
        if g is None or abs(g - e) > 1e-12 * max(abs(e), 1e-300) + 1e-15:
            errors.append("%s: %s %r, hand value %r" % (path, name, g, e))
    print("%-14s connectivity %2d: percolating %.6f dead end %.6f tau_z %.12f" % (path, conn, *got))
for c in (6, 18, 26):
    check("a%d.json" % c, c)
check("a18np3.json", 18)
check("adefault.json", 26)
for e in errors:
    print("FAIL:", e)
raise SystemExit(1 if errors else 0)
EOF
[ $? -eq 0 ] && ok || fail "analyze: connectivity in the JSON and the hand values"

# run: the study records the connectivity (study options, a table column) and refuses a restart with another one
R="$IMG -descriptors percolation,geodesic_tortuosity -transport_phases none"
run 2 run $R -connectivity 18 -o s18 || { fail "run -connectivity 18"; cat run.log; }
"$SM_PYTHON" - <<'EOF'
import json, csv
j = json.load(open("s18/study.json"))
r = j["tasks"][0]["results"]
errors = []
if "connectivity=18" not in j["study"]:
    errors.append("the study's options do not name connectivity=18: %s" % j["study"])
if r.get("connectivity") != 18:
    errors.append("results.connectivity is %r, expected 18" % r.get("connectivity"))
if abs(r.get("phases.solid.percolating_fraction_z", -1) - 2 / 3) > 1e-15:
    errors.append("percolating_fraction_z %r, hand value 2/3" % r.get("phases.solid.percolating_fraction_z"))
rows = list(csv.reader(open("s18/study.csv")))
if "connectivity" not in rows[0] or rows[1][rows[0].index("connectivity")] != "18":
    errors.append("study.csv has no connectivity column of 18: %s / %s" % (rows[0], rows[1]))
for e in errors:
    print("FAIL:", e)
raise SystemExit(1 if errors else 0)
EOF
[ $? -eq 0 ] && ok || fail "run: the study records -connectivity"
# refusals with one message (expect_fail, common.sh); -n '': the study directory stays
expect_fail -n '' "different study.*connectivity=18" 2 run $R -connectivity 26 -o s18 -restart
expect_fail -n '' "different study" 2 run $R -o s18 -restart # without -connectivity: 26
run 2 run $R -connectivity 18 -o s18 -restart && ok || { fail "run -restart with the same -connectivity"; cat run.log; }

# sweep: the same through the sweep's study
W="-grid_size 12,12,10 -voxel_size 0.02 -sweep_param model_volume_fraction -sweep_values 0.3,0.5 -descriptors percolation -transport_phases none"
run 2 sweep $W -connectivity 6 -o w6 || { fail "sweep -connectivity 6"; cat run.log; }
"$SM_PYTHON" -c "
import json, sys
j = json.load(open('w6/study.json'))
ok = 'connectivity=6' in j['study'] and all(t['results'].get('connectivity') == 6 for t in j['tasks']) and len(j['tasks']) == 2
sys.exit(0 if ok else 1)" && ok || fail "sweep: the study records -connectivity 6"
expect_fail -n '' "different study" 2 sweep $W -connectivity 18 -o w6 -restart

# bad values: one message naming the option, a non-zero exit, no output (no JSON, no checkpoint)
for bad in "1 analyze $IMG -connectivity 7 -o bad.json" "2 analyze $IMG -connectivity 0 -o bad.json" \
           "2 run $R -connectivity 4 -o badrun" "1 sweep $W -connectivity 27 -o badsweep"; do
  # shellcheck disable=SC2086 # $bad is NP and the arguments
  expect_fail -n 'bad.json* badrun/checkpoint.h5* badsweep/checkpoint.h5*' "-connectivity must be 6.*18.*or 26" $bad
done
finish
