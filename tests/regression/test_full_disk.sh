#!/usr/bin/env bash
# Full disks and unwritable places (issue 16, item 2). On a small tmpfs mounted here (as root; skipped with exit 77 and
# a message otherwise) that is filled to the last byte, every writing command (generate at 1 and 2 ranks, analyze, fit,
# shape, rasterize) fails with exit status != 0 and exactly one message naming its output file and the system's reason
# ("No space left on device"), and leaves neither that file nor a .partial one. A run whose disk fills mid-study stops
# with such a message, its last checkpoint intact; after space is freed, -restart finishes with the table of an
# uninterrupted run. The same for a read-only output directory, and for a study directory removed mid-run.
source "$(dirname "$0")/common.sh"
T=$SM_WORK/tfs
mkdir -p "$T"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=4m tmpfs "$T" 2> mount.err; then
  echo "SKIP: cannot mount a tmpfs at $T (needs root: $(cat mount.err 2> /dev/null))"
  exit 77
fi
trap 'cd /; umount "$T" 2> /dev/null' EXIT
fill() { rm -f "$T/fill"; dd if=/dev/zero of="$T/fill" bs=64k > /dev/null 2>&1; sync; }
unfill() { rm -f "$T/fill"; }

# inputs and references, off the tmpfs
run 1 generate -grid_size 40 -voxel_size 0.02 -seed 3 -o twin.h5 || { fail "generate the input"; cat run.log; }
run 1 shape -i twin.h5 -o shapes.h5 || { fail "shape of the input"; cat run.log; }

# expect_nospace STEM NP ARGS...: fails with one message naming a file STEM.* (the -o file, or the table next to it)
# and "No space left on device"; no STEM.* file left, not even a .partial one
expect_nospace() {
  local stem=$1
  shift
  expect_fail -n "$stem.*" "$stem\.[a-z]*.*No space left on device" "$@"
}
fill
expect_nospace "$T/g1" 1 generate -grid_size 64 -voxel_size 0.02 -o "$T/g1.h5"
expect_nospace "$T/g2" 2 generate -grid_size 64 -voxel_size 0.02 -o "$T/g2.h5"
expect_nospace "$T/a" 1 analyze -i twin.h5 -descriptors basic -o "$T/a.json"
expect_nospace "$T/fit" 1 fit -i twin.h5 -model chi2 -model_dof 2 -o "$T/fit.opts"
expect_nospace "$T/s" 1 shape -i twin.h5 -o "$T/s.h5"
expect_nospace "$T/r" 2 rasterize -i shapes.h5 -o "$T/r.h5"
unfill

# a run whose disk fills mid-study: stops naming the file it could not write; the checkpoint it had is intact
S="-grid_size 40 -voxel_size 0.02 -realizations 3 -transport_direction x,y,z -transport_method fv -keep_volumes"
run 2 run $S -o ref || { fail "reference run"; cat run.log; }
"$SM_MPIRUN" 2 "$SM_EXE" run $S -o "$T/st" > st.log 2>&1 &
pid=$!
for i in $(seq 1 600); do grep -q "unit 4/" st.log && break; sleep 0.05; done
fill
wait $pid
rc=$?
[ $rc -ne 0 ] && ok || fail "the run on a full disk succeeded"
grep -qE "stochmorph error: Could not write (the checkpoint )?'?$T/st/(checkpoint.h5|volumes/t000[0-9].h5)'?: No space left on device" st.log &&
  ok || { fail "full disk mid-run: no message naming the file"; cat st.log; }
[ ! -f "$T/st/study.csv" ] && ok || fail "a table was written on a full disk"
[ -z "$(ls "$T"/st/*.partial "$T"/st/volumes/*.partial 2> /dev/null)" ] && ok || fail "partial files left: $(ls "$T"/st/*.partial "$T"/st/volumes/*.partial)"
"$SM_PYTHON" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); assert len(f['units']) >= 4" "$T/st/checkpoint.h5" &&
  ok || fail "the checkpoint is not intact after the full disk"
unfill
if run 2 run $S -o "$T/st" -restart; then ok; else fail "-restart after freeing space"; cat run.log; fi
grep -q "finished units found in the checkpoint: skipped" run.log && ok || fail "the restart did not resume"
cmp -s ref/study.csv "$T/st/study.csv" && ok || fail "full disk + restart: the table differs from the uninterrupted run"

# a read-only output directory (a read-only mount: root ignores permission bits)
mkdir -p "$T/ro" && mount -o remount,ro "$T" || fail "remount read-only"
expect_ro() {
  local file=$1
  shift
  expect_fail -n '' "$file.*Read-only file system" "$@"
}
expect_ro "$T/ro/g.h5" 2 generate -grid_size 32 -voxel_size 0.02 -o "$T/ro/g.h5"
expect_ro "$T/ro/a.json" 1 analyze -i twin.h5 -descriptors basic -o "$T/ro/a.json"
expect_ro "$T/ro/s.h5" 1 shape -i twin.h5 -o "$T/ro/s.h5"
if run 1 run $S -o "$T/ro/st"; then fail "run in a read-only directory"; else ok; fi
grep -q "stochmorph error:.*$T/ro/st.*Read-only file system" run.log && ok || { fail "run, read-only: no message"; cat run.log; }
mount -o remount,rw "$T"

# the study directory removed mid-run: the next write names the file and the reason, nothing is recorded
"$SM_EXE" run $S -o gone > gone.log 2>&1 &
pid=$!
for i in $(seq 1 600); do grep -q "unit 2/" gone.log && break; sleep 0.05; done
rm -rf gone
wait $pid
rc=$?
[ $rc -ne 0 ] && ok || fail "a run whose directory vanished succeeded"
grep -q "stochmorph error: Could not write.*gone/.*No such file or directory" gone.log && ok || { fail "vanished directory: no message"; cat gone.log; }
# the checkpoint alone removed mid-run: the run writes it again from memory and finishes with the same table
"$SM_EXE" run $S -o cgone > cgone.log 2>&1 &
pid=$!
for i in $(seq 1 600); do grep -q "unit 2/" cgone.log && break; sleep 0.05; done
rm -f cgone/checkpoint.h5
wait $pid && ok || { fail "a run whose checkpoint was removed failed"; cat cgone.log; }
run 1 run $S -o ref1 || fail "reference at 1 rank"
cmp -s ref1/study.csv cgone/study.csv && ok || fail "checkpoint removed mid-run: another table"
finish
