#!/usr/bin/env bash
# Transport speed against an older build, in the same run: `stochmorph transport` of the quickstart twin (chi2, F850
# parameters: p = 0.46, alpha = 7.28 1/um, seed 2026, 10 nm voxels) with the executables OLD and NEW alternating, case
# by case. Cases (name:grid:ranks:method:phases:directions):
#   main job   200^3, 2 ranks, FEM, solid and pores, x, y and z (the six M-factors of jobscripts/quickstart.sh)
#   and single solves (solid, z) at the given sizes, FEM and FV, on 1 and 2 ranks.
# Per case: wall time of the commands, CPU time (user + system, summed over ranks: robust when the machine is shared),
# setup and solve time summed over the solves (from the JSON), iterations, peak resident size summed over ranks per
# unknown (the largest system of the case), and the M-factors with the largest relative difference NEW vs OLD.
# Usage: bench/run_transport_speed.sh OLD_EXE NEW_EXE [repeats] [cases...]   -> a Markdown table on stdout
#   default cases: main:200:2:fem:solid,pore:all fv200:200:1:fv:solid:z fem128:128:1:fem:solid:z fem128:128:2:fem:solid:z
set -euo pipefail
old=$1 new=$2
reps=${3:-1}
shift 3 || shift $#
cases=("${@:-main:200:2:fem:solid,pore:all fv200:200:1:fv:solid:z fem128:128:1:fem:solid:z fem128:128:2:fem:solid:z}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
python=${SM_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run EXE NP TAG ARGS...: one command under /usr/bin/time -v on every rank; appends "wall cpu rss_kB" to $tmp/TAG.t
run() {
  local exe=$1 np=$2 tag=$3; shift 3
  local t0 t1
  t0=$(date +%s.%N)
  mpiexec --oversubscribe -n "$np" bash -c "/usr/bin/time -v -o $tmp/mem.\$OMPI_COMM_WORLD_RANK $exe $*" \
    > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  "$python" - "$tmp" "$np" "$t0" "$t1" >> "$tmp/$tag.t" <<'PY'
import sys, re
tmp, np, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cpu = rss = 0.0
for r in range(np):
    txt = open("%s/mem.%d" % (tmp, r)).read()
    cpu += float(re.search(r"User time \(seconds\): ([\d.]+)", txt).group(1))
    cpu += float(re.search(r"System time \(seconds\): ([\d.]+)", txt).group(1))
    rss += float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt).group(1))
print("%.3f %.3f %.0f" % (t1 - t0, cpu, rss))
PY
}

for n in $(for c in ${cases[@]}; do echo "$c" | cut -d: -f2; done | sort -u); do
  mpiexec --oversubscribe -n 2 "$new" generate -model chi2 -model_dof 2 -model_alpha 7.28 -model_volume_fraction 0.46 \
    -grid_size "$n,$n,$n" -voxel_size 0.01 -seed 2026 -o "$tmp/twin$n.h5" > /dev/null
done

echo "| case | grid | ranks | method | solves | code | wall [s] | CPU [s] | setup [s] | solve [s] | iterations | peak RSS [bytes/unknown] | M (first solve) | max rel. diff of M to OLD |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in ${cases[@]}; do
  IFS=: read -r name n np method phases dirs <<< "$c"
  for rep in $(seq "$reps"); do
    for which in old new; do
      exe=$old; [ "$which" = new ] && exe=$new
      for ph in ${phases//,/ }; do
        run "$exe" "$np" "$name.$which.$rep" transport -i "$tmp/twin$n.h5" -phase "$ph" -transport_direction "$dirs" \
          -transport_method "$method" -o "$tmp/$name.$which.$rep.$ph.json"
      done
    done
  done
  "$python" - "$tmp" "$name" "$n" "$np" "$method" "$phases" "$reps" <<'PY'
import json, sys
tmp, name, n, np_, method, phases, reps = sys.argv[1:8]
phases, reps = phases.split(","), int(reps)
def load(which, rep):
    res = []
    for ph in phases:
        j = json.load(open("%s/%s.%s.%d.%s.json" % (tmp, name, which, rep, ph)))
        for d in sorted(j["directions"]):
            res.append(j["directions"][d])
    return res
def times(which, rep):
    rows = [list(map(float, l.split())) for l in open("%s/%s.%s.%d.t" % (tmp, name, which, rep))]
    return sum(r[0] for r in rows), sum(r[1] for r in rows), max(r[2] for r in rows)
ref = load("old", 1)
for which in ("old", "new"):
    best = None
    for rep in range(1, reps + 1):
        w, cpu, rss = times(which, rep)
        if best is None or w < best[0]:
            best = (w, cpu, rss, rep)
    w, cpu, rss, rep = best
    res = load(which, rep)
    unknowns = max(r["unknowns"] for r in res)
    diff = max(abs(r["D_eff_over_D"] - q["D_eff_over_D"]) / q["D_eff_over_D"] for r, q in zip(res, ref))
    print("| %s | %s^3 | %s | %s | %d | %s | %.1f | %.1f | %.1f | %.1f | %s | %.0f | %.8f | %s |" % (
        name, n, np_, method, len(res), which.upper(), w, cpu, sum(r["setup_time"] for r in res),
        sum(r["solve_time"] for r in res), ",".join(str(r["iterations"]) for r in res), rss * 1024 / unknowns,
        res[0]["D_eff_over_D"], "-" if which == "old" else "%.1e" % diff))
PY
done
