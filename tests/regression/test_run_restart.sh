#!/usr/bin/env bash
# Studies (run, sweep, collect) and their checkpoints:
#  - a run killed with SIGKILL between computing a unit and recording it, then restarted, gives the same study table
#    as an uninterrupted run, and recomputes none of the units the checkpoint held;
#  - SIGUSR1 (forwarded by mpiexec, as SLURM's --signal does) and SIGTERM stop a run cleanly at a unit boundary with
#    exit status 75 and a valid checkpoint, and -restart finishes it with the same table;
#  - a checkpoint that was altered or truncated, or that belongs to other options, is refused with a clear message;
#  - the tasks of a sweep run one by one with -task_index and merged by collect give the same table as one sweep.
# Tables are compared byte for byte: every number of a study is a deterministic function of the options at a given
# rank count.
source "$(dirname "$0")/common.sh"
EXE=$SM_EXE
S="-grid_size 40 -voxel_size 0.02 -realizations 2 -transport_direction x,z -transport_method fv"

# units_in CHECKPOINT: the unit names it holds, one per line
units_in() { "$SM_PYTHON" -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r') as f:
    for u in f['units'][...]: print(u.decode())" "$1"; }
# computed_in LOG: the units a run computed (its progress lines start with the unit name)
computed_in() { grep -oE '^  t[0-9]{4}/[a-z/]+' "$1" | sed 's/^  //'; }

# 1. the uninterrupted reference
if run 2 run $S -o ref && [ -f ref/study.csv ] && [ -f ref/study.json ]; then ok; else fail "reference run"; cat run.log; fi
if "$SM_PYTHON" - <<'EOF'
import json, h5py
s = json.load(open('ref/study.json'))
assert len(s['tasks']) == 2 and len(s['summary']) == 1, 'two task rows and one summary'
r = s['tasks'][0]['results']
for k in ['phases.solid.volume_fraction', 'phases.pore.specific_surface_area', 'phases.solid.M_predicted',
          'transport.solid.x.M', 'transport.pore.z.tau_eff', 'transport.solid.M_mean']:
    assert k in r, k
m = s['summary'][0]['mean']['transport.solid.x.M']
assert abs(m - (s['tasks'][0]['results']['transport.solid.x.M'] + s['tasks'][1]['results']['transport.solid.x.M']) / 2) < 1e-12
with h5py.File('ref/checkpoint.h5', 'r') as f:
    assert f.attrs['complete'] == 1, 'a finished study is marked complete'
EOF
then ok; else fail "study.json content"; fi
[ -z "$(ls ref/volumes)" ] && ok || fail "twins not removed after their tasks: $(ls ref/volumes)"

# 2. SIGKILL after computing the 6th unit, before recording it; then -restart
SM_TEST_KILL_BEFORE_UNIT=6 run 2 run $S -o killed
[ -f killed/checkpoint.h5 ] && [ ! -f killed/study.csv ] && ok || fail "killed run: checkpoint and no table expected"
units_in killed/checkpoint.h5 | sort > before.txt
[ "$(wc -l < before.txt)" -eq 5 ] && ok || fail "killed run recorded $(wc -l < before.txt) units, expected 5"
if run 2 run $S -o killed -restart; then ok; else fail "restart"; cat run.log; fi
computed_in run.log | sort > after.txt
[ -z "$(comm -12 before.txt after.txt)" ] && ok || fail "restart recomputed finished units: $(comm -12 before.txt after.txt)"
[ "$(wc -l < after.txt)" -eq $((12 - 5)) ] && ok || fail "restart computed $(wc -l < after.txt) units, expected 7 (2 tasks x 6 units - 5)"
cmp -s ref/study.csv killed/study.csv && ok || fail "killed + restarted table differs from the uninterrupted one"

# 3. SIGUSR1 to mpiexec (forwarded to the ranks) while a unit runs: exit 75 at the next boundary
S3="-grid_size 64 -voxel_size 0.02 -realizations 3 -transport_direction x -transport_method fv"
"$SM_MPIRUN" 2 "$EXE" run $S3 -o usr1 > usr1.log 2>&1 &
pid=$!
for i in $(seq 1 300); do [ -f usr1/checkpoint.h5 ] && grep -q "unit 2/" usr1.log && break; sleep 0.1; done
kill -USR1 $pid
wait $pid
rc=$?
[ $rc -eq 75 ] && ok || { fail "SIGUSR1: exit status $rc, expected 75"; tail -5 usr1.log; }
grep -q "stopped by signal" usr1.log && ok || fail "SIGUSR1: no stop message"
[ ! -f usr1/study.csv ] && [ ! -f usr1/checkpoint.h5.partial ] && ok || fail "SIGUSR1: a table or a partial checkpoint was left"
if run 2 run $S3 -o usr1 -restart; then ok; else fail "restart after SIGUSR1"; fi
if run 2 run $S3 -o usr1ref; then ok; else fail "reference of the SIGUSR1 run"; fi
# the signal may land inside a solve, which then resumes from its saved iterate: the same table up to the solver
# tolerance (relative residual 1e-8; 1e-6 relative is a safe bound; iteration counts and imbalances may differ)
"$SM_PYTHON" - <<'EOF2' && ok || fail "SIGUSR1 + restart table differs"
import csv
a = list(csv.reader(open("usr1/study.csv"))); b = list(csv.reader(open("usr1ref/study.csv")))
assert a[0] == b[0] and len(a) == len(b), "same columns and rows"
for ra, rb in zip(a[1:], b[1:]):
    for key, x, y in zip(a[0], ra, rb):
        if "iterations" in key or "flux_imbalance" in key or x == y:
            continue
        assert abs(float(x) - float(y)) <= 1e-6 * abs(float(y)), (key, x, y)
EOF2

# 4. SIGTERM to a single process
"$EXE" run $S3 -o term > term.log 2>&1 &
pid=$!
for i in $(seq 1 300); do [ -f term/checkpoint.h5 ] && grep -q "unit 1/" term.log && break; sleep 0.1; done
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 75 ] && ok || { fail "SIGTERM: exit status $rc, expected 75"; tail -5 term.log; }
"$SM_PYTHON" -c "import h5py; h5py.File('term/checkpoint.h5', 'r')['values']" && ok || fail "SIGTERM: checkpoint unreadable"

# 5. damaged checkpoints and other options are refused, and nothing is written
cp -r killed bad1
"$SM_PYTHON" -c "
import h5py
with h5py.File('bad1/checkpoint.h5', 'r+') as f: f['values'][0] = f['values'][0] + 1e-9"
rm -f bad1/study.*
if run 2 run $S -o bad1 -restart; then fail "altered checkpoint accepted"; else ok; fi
grep -q "stochmorph error:.*checksum" run.log && ok || { fail "altered checkpoint: no checksum message"; cat run.log; }
[ ! -f bad1/study.csv ] && ok || fail "altered checkpoint: a table was written"
cp -r killed bad2
size=$(stat -c %s bad2/checkpoint.h5)
truncate -s $((size / 2)) bad2/checkpoint.h5
if run 2 run $S -o bad2 -restart; then fail "truncated checkpoint accepted"; else ok; fi
grep -q "stochmorph error:.*Refusing the checkpoint" run.log && ok || { fail "truncated checkpoint: no message"; cat run.log; }
if run 1 run $S -o killed -restart -seed 7; then fail "restart with another seed accepted"; else ok; fi
grep -q "stochmorph error:.*different study (the checkpoint.s options against these: -seed: [0-9]* against 7)" run.log && ok ||
  { fail "other options: the message does not name the field that differs (-seed)"; cat run.log; }
if run 1 run $S -o killed; then fail "existing checkpoint overwritten without -restart"; else ok; fi
grep -q "stochmorph error:.*-restart" run.log && ok || fail "existing checkpoint: no message"

# 6. a sweep in one go versus its tasks one by one and collect
W="-grid_size 32 -voxel_size 0.02 -realizations 2 -transport_direction z -transport_method fv -descriptors basic"
W="$W -sweep_param model_volume_fraction -sweep_values 0.40:0.50:0.05"
if run 2 sweep $W -o sw && [ -f sw/study.csv ]; then ok; else fail "sweep"; cat run.log; fi
run 1 sweep $W -o arr -list_tasks
[ "$(grep -c '^task ' run.log)" -eq 6 ] && ok || fail "-list_tasks: $(grep -c '^task ' run.log) lines, expected 6"
for t in 5 0 3 1 4 2; do run 2 sweep $W -o arr -task_index $t || fail "task $t"; done
[ -f arr/tasks/task_0005.h5 ] && ok || fail "task files"
if run 1 collect -o arr; then ok; else fail "collect"; cat run.log; fi
cmp -s sw/study.csv arr/study.csv && ok || { fail "collect table differs from the sweep's"; diff sw/study.csv arr/study.csv | head; }
[ "$(grep -c '^mean,' sw/study.csv)" -eq 3 ] && ok || fail "sweep table: expected 3 mean rows"
rm arr/tasks/task_0003.h5 arr/study.*
if run 1 collect -o arr; then fail "collect with a missing task succeeded"; else ok; fi
grep -q "stochmorph error:.*task 3" run.log && ok || { fail "collect: missing task not named"; cat run.log; }
[ ! -f arr/study.csv ] && ok || fail "collect with a missing task wrote a table"
# 7. a stop signal in the middle of a transport solve (test hook: at CG iteration 5): the iterate is saved, the run
#    stops with 75, and the restart resumes the solve from it; M equals the uninterrupted one to the solver tolerance
#    (relative residual 1e-8: 1e-6 is a safe bound); a damaged saved iterate is refused
S7="-grid_size 48 -voxel_size 0.02 -transport_direction z -transport_phases solid -descriptors none"
SM_TEST_STOP_AT_ITERATION=5 run 2 run $S7 -o mid
rc=$?
[ $rc -eq 75 ] && [ -f mid/solves/t0000_transport_solid_z.h5 ] && ok || { fail "stop in a solve: status $rc, iterate saved?"; tail -3 run.log; }
cp -r mid middamaged
if run 2 run $S7 -o mid -restart; then ok; else fail "restart of a stopped solve"; cat run.log; fi
grep -q "resuming the solve from the iterate saved at iteration 5" run.log && ok || fail "the solve did not resume from its iterate"
[ ! -f mid/solves/t0000_transport_solid_z.h5 ] && ok || fail "the iterate of a finished solve was left behind"
run 2 run $S7 -o midref || fail "uninterrupted reference of the stopped solve"
"$SM_PYTHON" - <<'EOF2' && ok || fail "resumed solve gives another M"
import json
a = json.load(open("mid/study.json"))["tasks"][0]["results"]["transport.solid.z.M"]
b = json.load(open("midref/study.json"))["tasks"][0]["results"]["transport.solid.z.M"]
assert abs(a - b) <= 1e-6 * b, (a, b)
EOF2
truncate -s 100 middamaged/solves/t0000_transport_solid_z.h5
if run 2 run $S7 -o middamaged -restart; then fail "damaged iterate accepted"; else ok; fi
grep -q "stochmorph error:.*Refusing the solver checkpoint" run.log && ok || { fail "damaged iterate: no message"; cat run.log; }
# 8. a study of an image (-i): the same numbers as analyze and transport of that file, one task, the image kept
run 2 generate -grid_size 40 -voxel_size 0.02 -seed 9 -o img.h5 || fail "generate the image"
if run 2 run -i img.h5 -o imgstudy -transport_direction z -transport_method fv -transport_phases solid; then ok; else fail "run -i"; cat run.log; fi
run 2 analyze -i img.h5 -o img_analysis.json || fail "analyze of the image"
run 2 transport -i img.h5 -phase solid -transport_direction z -transport_method fv -o img_transport.json || fail "transport of the image"
"$SM_PYTHON" - <<'EOF2' && ok || fail "run -i differs from analyze/transport of the same file"
import json
r = json.load(open("imgstudy/study.json"))["tasks"]
assert len(r) == 1
r = r[0]["results"]
a = json.load(open("img_analysis.json"))["phases"]["solid"]
t = json.load(open("img_transport.json"))
t = t["directions"]["z"] if "directions" in t else t
assert r["phases.solid.volume_fraction"] == a["volume_fraction"]
assert abs(r["phases.solid.geodesic_tortuosity_mean"] - a["geodesic_tortuosity"]["mean"]) <= 1e-12
assert abs(r["transport.solid.z.M"] - t["D_eff_over_D"]) <= 1e-12 * t["D_eff_over_D"], (r["transport.solid.z.M"], t["D_eff_over_D"])
EOF2
[ -f img.h5 ] && ok || fail "run -i removed the image"
if run 1 run -i img.h5 -o imgbad -realizations 2; then fail "run -i with -realizations accepted"; else ok; fi
grep -q "stochmorph error:.*-realizations does not apply" run.log && ok || fail "run -i -realizations: no message"
finish
