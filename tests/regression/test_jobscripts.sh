#!/usr/bin/env bash
# The job scripts: valid bash, and each runs end to end locally (no SLURM) on a tiny problem; the figures of a tiny
# run, a sweep and the two studies are non-empty PNG files.
source "$(dirname "$0")/common.sh"
J=$SM_SOURCE_DIR/jobscripts
export STOCHMORPH=$SM_EXE NP=2
unset SLURM_JOB_ID SLURM_ARRAY_TASK_ID

# png FILE: a PNG signature and more than a kilobyte (an empty axes frame alone is larger than that)
png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$(stat -c %s "$1")" -gt 1024 ]; }

for f in "$J"/*.sh; do bash -n "$f" && ok || fail "bash -n $f"; done
"$SM_PYTHON" -m py_compile "$J/plot_results.py" && ok || fail "plot_results.py does not compile"

T="-grid_size 24 -voxel_size 0.02 -transport_direction z -transport_method fv"
# single run
if bash "$J/slurm_run.sh" r1 $T -realizations 2 > r1.log 2>&1 && [ -f r1/study.csv ]; then ok; else fail "slurm_run.sh"; tail r1.log; fi
# array sweep, run locally task by task, then collect; the same table as one sweep
W="$T -realizations 2 -sweep_param model_alpha -sweep_values 6,8"
if bash "$J/slurm_sweep_array.sh" sw $W > sw.log 2>&1 && [ -f sw/study.csv ]; then ok; else fail "slurm_sweep_array.sh"; tail sw.log; fi
run 2 sweep $W -o sw1 && cmp -s sw/study.csv sw1/study.csv && ok || fail "array sweep table differs from one sweep"
# requeue pattern: a stop signal sent to the script mid-run makes it start again from the checkpoint
bash "$J/slurm_requeue.sh" rq -grid_size 64 -voxel_size 0.02 -realizations 3 -transport_direction x -transport_method fv \
  > rq.log 2>&1 &
pid=$!
for i in $(seq 1 300); do grep -q "unit 2/" rq.log 2> /dev/null && break; sleep 0.1; done
kill -USR1 $pid
wait $pid
rc=$?
[ $rc -eq 0 ] && [ -f rq/study.csv ] && ok || { fail "slurm_requeue.sh: status $rc"; tail rq.log; }
grep -q "stopped at a checkpoint (attempt 1)" rq.log && grep -q "resuming" rq.log && ok ||
  fail "slurm_requeue.sh: no stop and resume seen"

# figures
"$SM_PYTHON" "$J/plot_results.py" study r1/study.json sw/study.json -o figs > figs.log 2>&1 || fail "plot study"
run 1 generate -grid_size 32 -o twin.h5
"$SM_PYTHON" "$J/plot_results.py" slices twin.h5 twin.h5 --labels twin,copy -o figs >> figs.log 2>&1 || fail "plot slices"
for f in M_computed_vs_predicted sweep_M_computed sweep_geodesic_tortuosity sweep_M_predicted slices; do
  png "figs/$f.png" && ok || fail "figure $f.png missing or empty"
done
# the two studies, at a tiny size
if SIZE=24 R=1 bash "$J/study_nmc.sh" nmc > nmc.log 2>&1; then ok; else fail "study_nmc.sh"; tail nmc.log; fi
png nmc/figures/nmc_M_vs_temperature.png && [ -f nmc/C900/study.csv ] && ok || fail "NMC study outputs"
"$SM_PYTHON" -c "import json; f = json.load(open('nmc/refit.json')); assert len(f['studies']) == 6 and f['fits'][0]['n'] > 0" &&
  ok || fail "NMC study: no refit of the six models"
if SIZE=24 R=1 VALUES=0.15:0.40:0.125 bash "$J/study_nvpc.sh" nvpc > nvpc.log 2>&1; then ok; else fail "study_nvpc.sh"; tail nvpc.log; fi
png nvpc/figures/sweep_interfaces.png && grep -q "^mean,,0.275" nvpc/study.csv && ok || fail "NVP/C study outputs"
"$SM_PYTHON" "$J/plot_results.py" threshold nvpc/study.json nvpc/study.json --labels "one,two" -o figs >> figs.log 2>&1 &&
  png figs/threshold_pore_z.png && ok || fail "plot threshold (percolating fraction and M of the sweep)"
# a site's launcher (SM_LAUNCHER: Intel MPI, MPICH, srun with options) is used as given, with the executable after it
printf '#!/usr/bin/env bash\necho "launcher: $*" >> "%s/launcher.log"\nexec "%s" 3 "$@"\n' "$PWD" "$SM_MPIRUN" > launcher.sh
if SM_LAUNCHER="bash $PWD/launcher.sh" bash "$J/slurm_run.sh" lr $T -realizations 1 > lr.log 2>&1 && [ -f lr/study.csv ] &&
   grep -q "^launcher: $SM_EXE run " launcher.log; then ok; else fail "SM_LAUNCHER"; tail lr.log; cat launcher.log; fi
finish
