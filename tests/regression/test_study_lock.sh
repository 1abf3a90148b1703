#!/usr/bin/env bash
# One writer per study (issue 16, item 3): run/sweep/collect lock DIR/.lock (an fcntl lock, released by the kernel when
# the holder dies), and array tasks lock only their own task next to a shared lock of the directory.
#  - a second job on a running study is refused (non-zero exit) with a message naming the holder's host and pid, and
#    the first job finishes with the table of an uninterrupted run;
#  - after SIGKILL of the holder, -restart takes the lock and finishes with the same table;
#  - two -task_index tasks run side by side; the same task twice, or a whole sweep next to tasks, is refused;
#  - collect is refused while a run holds the lock;
#  - on a file system without record locks (simulated by SM_TEST_NO_LOCKS=1) the lock file's host and pid refuse a
#    job while that process lives, and a warning says what is not guaranteed.
source "$(dirname "$0")/common.sh"
EXE=$SM_EXE
host=$(hostname)
S="-grid_size 48 -voxel_size 0.02 -realizations 2 -transport_direction x,y,z -transport_method fv"

# wait_for FILE: until it exists (at most 60 s)
wait_for() { for i in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

# 1. the uninterrupted reference
run 1 run $S -o ref || { fail "reference run"; cat run.log; }

# 2. a second job on a running study is refused; the first finishes
"$EXE" run $S -o a > a.log 2>&1 &
pa=$!
wait_for a/checkpoint.h5 || fail "the first job did not start"
if run 1 run $S -o a -restart; then fail "a second job on a locked study ran"; else ok; fi
grep -q "stochmorph error: Another job is writing to this study: a/.lock is held by the process $host $pa " run.log && ok ||
  { fail "refusal does not name the holder ($host $pa)"; cat run.log; }
kill -0 $pa 2> /dev/null && ok || fail "the first job ended before the second was refused: the check proved nothing"
run 1 collect -o a && fail "collect ran while a run held the study" || ok
grep -q "is held by the process $host $pa" run.log && ok || { fail "collect: holder not named"; cat run.log; }
wait $pa && ok || { fail "the first job failed"; cat a.log; }
cmp -s ref/study.csv a/study.csv && ok || fail "the first job's table differs from the reference"

# 3. SIGKILL of the holder: the kernel frees the lock, -restart finishes with the same table
"$EXE" run $S -o k > k.log 2>&1 &
pk=$!
for i in $(seq 1 600); do grep -q "unit 5/" k.log && break; sleep 0.1; done
kill -9 $pk
wait $pk 2> /dev/null
[ -f k/.lock ] && [ ! -f k/study.csv ] && ok || fail "killed job: lock file and no table expected"
if run 1 run $S -o k -restart; then ok; else fail "-restart after SIGKILL of the holder"; cat run.log; fi
grep -q "finished units found in the checkpoint" run.log && ok || fail "the restart did not resume"
cmp -s ref/study.csv k/study.csv && ok || fail "killed + restarted table differs from the reference"

# 4. array tasks: two tasks side by side; the same task twice and a whole sweep next to tasks are refused
W="-grid_size 72 -voxel_size 0.02 -realizations 1 -transport_direction x,y,z -transport_method fv -descriptors basic"
W="$W -sweep_param model_volume_fraction -sweep_values 0.40,0.50"
"$EXE" sweep $W -o arr -task_index 0 > t0.log 2>&1 &
p0=$!
"$EXE" sweep $W -o arr -task_index 1 > t1.log 2>&1 &
p1=$!
wait_for arr/tasks/task_0000.h5 && wait_for arr/tasks/task_0001.h5 || fail "the tasks did not start"
if run 1 sweep $W -o arr -task_index 0 -restart; then fail "the same task ran twice"; else ok; fi
grep -q "arr/tasks/task_0000.lock is held by the process $host $p0 " run.log && ok || { fail "same task: holder not named"; cat run.log; }
if run 1 sweep $W -o arr -restart; then fail "a whole sweep ran next to array tasks"; else ok; fi
grep -q "arr/.lock is held by sweep -task_index jobs" run.log && ok || { fail "whole sweep next to tasks: no message"; cat run.log; }
kill -0 $p0 2> /dev/null && kill -0 $p1 2> /dev/null && ok || fail "a task ended before the checks: they proved nothing"
wait $p0 && ok || { fail "task 0 failed"; cat t0.log; }
wait $p1 && ok || { fail "task 1 failed (two tasks side by side must not conflict)"; cat t1.log; }

run 1 collect -o arr && [ -f arr/study.csv ] && ok || { fail "collect of the array"; cat run.log; }
run 1 sweep $W -o whole || fail "the whole sweep"
cmp -s whole/study.csv arr/study.csv && ok || fail "tasks run side by side give another table than the whole sweep"

# 5. without record locks: the file names a live holder -> refused; no live holder -> a warning, and the job runs
"$EXE" run $S -o f > f.log 2>&1 &
pf=$!
wait_for f/checkpoint.h5 || fail "the job did not start"
if SM_TEST_NO_LOCKS=1 run 1 run $S -o f -restart; then fail "without locks: a live holder was ignored"; else ok; fi
grep -q "f/.lock names the running process $host $pf " run.log && ok || { fail "without locks: holder not named"; cat run.log; }
wait $pf || fail "the job on f failed"
if SM_TEST_NO_LOCKS=1 run 1 run $S -o f -restart; then ok; else fail "without locks, no holder: refused"; cat run.log; fi
grep -q "stochmorph warning: the file system of f/.lock has no file locks" run.log && ok || fail "without locks: no warning"
finish
