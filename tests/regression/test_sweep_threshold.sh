#!/usr/bin/env bash
# The percolation threshold of a sweep (issue 17, item 2): study.json's "percolation" entries (per phase and
# direction: the fraction of twins spanning the box at each value, and the interval of swept values where "every twin
# spans" first changes) against the same quantities recomputed from the table's own task rows; the sweep prints one
# line per phase and direction; `collect` of an array of tasks writes the same entries; a run (no sweep) has none.
source "$(dirname "$0")/common.sh"
S="-grid_size 32 -voxel_size 0.02 -realizations 2 -transport_phases none -sweep_param model_volume_fraction"
run 2 sweep $S -sweep_values 0.1:0.5:0.1 -o sw || { fail "sweep"; cat run.log; }
grep -q "percolation of solid in z: starts spanning (every twin spans the box from model_volume_fraction = " run.log &&
  ok || { fail "no threshold line printed"; cat run.log; }
"$SM_PYTHON" - sw/study.json << 'PY' && ok || fail "percolation entries differ from the task rows"
import json, sys
s = json.load(open(sys.argv[1]))
vals = [r["value"] for r in s["summary"]]
entries = {(p["phase"], p["direction"]): p for p in s["percolation"]}
seen_change = False
for ph in ("pore", "solid"):
    for d in "xyz":
        key = "phases.%s.percolating_fraction_%s" % (ph, d)
        frac = []
        for v in vals:
            f = [t["results"][key] for t in s["tasks"] if t["value"] == v and t["results"].get(key) is not None]
            frac.append(sum(1 for x in f if x > 0) / len(f))
        e = entries[(ph, d)]
        assert e["spanning_fraction"] == frac, (ph, d, e["spanning_fraction"], frac)
        full = [x == 1.0 for x in frac]
        change = next((i for i in range(1, len(full)) if full[i] != full[0]), None)
        if change is None:
            assert "interval" not in e, e
        else:
            seen_change = True
            assert e["interval"] == [vals[change - 1], vals[change]], (e, vals, change)
            assert e["change"] == ("stops spanning" if full[0] else "starts spanning"), e
assert seen_change, "no phase changes percolation in this sweep: the case checks nothing"
print("ok")
PY
# the same study as an array of tasks merged by collect: the same entries
for t in $(seq 0 9); do run 1 sweep $S -sweep_values 0.1:0.5:0.1 -o arr -task_index $t || { fail "task $t"; cat run.log; }; done
run 1 collect -o arr || { fail "collect"; cat run.log; }
"$SM_PYTHON" -c "
import json
a, b = (json.load(open(p + '/study.json'))['percolation'] for p in ('sw', 'arr'))
assert a == b, (a, b)" && ok || fail "collect's percolation entries differ from the sweep's"
# -o with parents that do not exist yet: created, as mkdir -p
run 1 run -grid_size 32 -voxel_size 0.02 -realizations 2 -transport_phases none -o new/nested/r || { fail "run"; cat run.log; }
"$SM_PYTHON" -c "import json; assert 'percolation' not in json.load(open('new/nested/r/study.json'))" && ok || fail "a run has a threshold"
finish
