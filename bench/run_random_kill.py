#!/usr/bin/python3
"""Kills at any moment (issue 16, item 4): a small sweep killed with SIGKILL at random moments, then -restart.

Each trial starts the sweep in a fresh directory on 2 ranks, kills every rank with SIGKILL after a delay drawn
uniformly from [0, T] (T: the time of an uninterrupted sweep, so kills land in generation, HDF5 writes of twins and
checkpoints, descriptors and transport solves alike), and resumes with -restart; every third trial also truncates a
twin left in DIR/volumes to half its size. Checked per trial: -restart is never refused, it recomputes no unit the
checkpoint held when it started, and its table equals the uninterrupted one (every number within 1e-6 relative; counts
of byte-identical tables reported). Usage: bench/run_random_kill.py BUILD_DIR [trials=20] [seed=1]
Results: appended to bench/RESULTS.md by hand from the summary printed last."""
import csv, os, random, re, shutil, signal, subprocess, sys, time
import h5py

build = os.path.abspath(sys.argv[1])
trials = int(sys.argv[2]) if len(sys.argv) > 2 else 20
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
exe, mpirun = os.path.join(build, "stochmorph"), os.path.join(src, "tests", "mpirun.sh")
work = os.path.join(build, "bench_random_kill")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chdir(work)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
W = ("sweep -grid_size 48 -voxel_size 0.02 -realizations 2 -transport_direction x,z -transport_method fv "
     "-descriptors basic -sweep_param model_volume_fraction -sweep_values 0.40,0.50 -keep_volumes").split()


def start(d, restart, log):
    args = [mpirun, "2", exe] + W + ["-o", d] + (["-restart"] if restart else [])
    return subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)  # own group: no signal of ours reaches the script


def children(pid):
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def units(d):
    try:
        with h5py.File(os.path.join(d, "checkpoint.h5"), "r") as f:
            return {u.decode() for u in f["units"][...]}
    except (OSError, KeyError):
        return set()


def computed(log):
    return set(re.findall(r"^  (t\d{4}/[a-z/]+)", open(log).read(), re.M))


def table(d):
    return list(csv.reader(open(os.path.join(d, "study.csv"))))


def close(a, b):
    if a[0] != b[0] or len(a) != len(b):
        return False
    for ra, rb in zip(a[1:], b[1:]):
        for x, y in zip(ra, rb):
            if x == y:
                continue
            try:
                if abs(float(x) - float(y)) > 1e-6 * abs(float(y)):
                    return False
            except ValueError:
                return False
    return True


t0 = time.time()
p = start("ref", False, "ref.log")
assert p.wait() == 0, open("ref.log").read()
T = time.time() - t0
ref = table("ref")
print(f"uninterrupted sweep: {T:.1f} s")
stats = dict(trials=0, killed=0, finished_before=0, refused=0, recomputed=0, differ=0, identical=0, truncated=0, redrawn=0)
for i in range(trials):
    d = f"k{i:02d}"
    delay = rng.uniform(0.0, T)
    p = start(d, False, f"{d}.run.log")
    time.sleep(delay)
    if p.poll() is None:
        # SIGKILL the ranks themselves (mpiexec's children: Open MPI puts them in process groups of their own, and a
        # rank outliving a killed mpiexec would get time to stop cleanly), then mpiexec
        ranks = children(p.pid)  # tests/mpirun.sh execs mpiexec, which forks the ranks
        for q in ranks + [p.pid]:
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        stats["killed"] += 1 if ranks else 0
        stats["finished_before"] += 0 if ranks else 1
    else:
        stats["finished_before"] += 1
    p.wait()
    time.sleep(0.5)
    if i % 3 == 2:
        vols = sorted(f for f in os.listdir(os.path.join(d, "volumes")) if f.endswith(".h5")) if os.path.isdir(
            os.path.join(d, "volumes")) else []
        if vols:
            v = os.path.join(d, "volumes", vols[-1])
            os.truncate(v, os.path.getsize(v) // 2)
            stats["truncated"] += 1
    held = units(d)
    p = start(d, True, f"{d}.restart.log")
    rc = p.wait()
    log = open(f"{d}.restart.log").read()
    if rc != 0:
        stats["refused"] += 1
        print(f"trial {i}: -restart failed (rc {rc}) after a kill at {delay:.2f} s:\n{log[-800:]}")
        continue
    stats["redrawn"] += log.count("cannot be read (damaged or truncated)")
    again = computed(f"{d}.restart.log") & held
    if again:
        stats["recomputed"] += 1
        print(f"trial {i}: recomputed recorded units {sorted(again)}")
    t = table(d)
    stats["identical"] += t == ref
    if not close(t, ref):
        stats["differ"] += 1
        print(f"trial {i}: the table differs from the uninterrupted one")
    stats["trials"] += 1
    print(f"trial {i}: kill at {delay:.2f} s, {len(held)} units recorded, restart ok", flush=True)
print("summary:", stats)
