#!/usr/bin/env bash
# Same-run comparison of two executables (e.g. before and after a change of the decomposition): synthesis of a chi2 F850
# twin (generate, 10 nm voxels, p = 0.46, alpha = 7.28 1/um) and the full descriptor set (analyze) of one such twin, at
# 1 and 2 ranks. The two executables alternate run by run so that both see the same load; each time is the best of
# REPEATS wall-clock runs. Also checks that both give the same analyze JSON: every value both files have (code_version,
# build and command aside) must be equal; keys only the new one has are listed.
# Usage: bench/run_compare.sh OLD_EXE NEW_EXE ["gen sizes"] ["analyze sizes"] [repeats]
#   e.g. bench/run_compare.sh /tmp/old/stochmorph build/stochmorph "256" "200 400" 2  -> a Markdown table on stdout
set -euo pipefail
old=$1 new=$2
gsizes=(${3:-256})
asizes=(${4:-200})
repeats=${5:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp} OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
F850="-model chi2 -model_dof 2 -model_covariance gauss -model_volume_fraction 0.46 -model_alpha 7.28 -voxel_size 0.01"
wall() { local t0 t1; t0=$(date +%s.%N); mpiexec --oversubscribe -n "$1" "${@:2}" > "$tmp/log" 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'; }
best() { printf '%s\n' "$@" | sort -n | head -1; }
echo "| command | grid | ranks | before [s] | after [s] | after / before | same JSON |"
echo "|---|---|---|---|---|---|---|"
for n in "${gsizes[@]}"; do
  for np in 1 2; do
    to=(); tn=()
    for r in $(seq "$repeats"); do
      to+=("$(wall "$np" "$old" generate $F850 -grid_size "$n" -seed 1 -o "$tmp/o.h5")")
      tn+=("$(wall "$np" "$new" generate $F850 -grid_size "$n" -seed 1 -o "$tmp/n.h5")")
    done
    same=$(/usr/bin/python3 -c "import h5py, numpy, sys; a, b = (h5py.File(f, 'r')['/labels'][...] for f in sys.argv[1:]); sys.exit(0 if numpy.array_equal(a, b) else 1)" "$tmp/o.h5" "$tmp/n.h5" && echo "labels yes" || echo "labels NO")
    a=$(best "${to[@]}"); b=$(best "${tn[@]}")
    echo "| generate | ${n}^3 | $np | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}') | $same |"
  done
done
for n in "${asizes[@]}"; do
  mpiexec --oversubscribe -n 2 "$new" generate $F850 -grid_size "$n" -seed 1 -o "$tmp/twin.h5" > /dev/null
  for np in 1 2; do
    to=(); tn=()
    for r in $(seq "$repeats"); do
      to+=("$(wall "$np" "$old" analyze -i "$tmp/twin.h5" -o "$tmp/o.json")")
      tn+=("$(wall "$np" "$new" analyze -i "$tmp/twin.h5" -o "$tmp/n.json")")
    done
    # every value both files have must be equal (a newer version may add keys: they are listed, not counted against it)
    same=$(/usr/bin/python3 - "$tmp/o.json" "$tmp/n.json" <<'PY'
import json, sys
def flat(d, p=""):
    if isinstance(d, dict):
        return {k2: v2 for k, v in d.items() for k2, v2 in flat(v, p + "." + k if p else k).items()}
    if isinstance(d, list):
        return {k2: v2 for i, v in enumerate(d) for k2, v2 in flat(v, "%s[%d]" % (p, i)).items()}
    return {p: d}
a, b = (flat(json.load(open(f))) for f in sys.argv[1:])
skip = lambda k: k.startswith(("code_version", "build", "command"))
common = [k for k in a if k in b and not skip(k)]
differ = [k for k in common if a[k] != b[k]]
added = sorted({k.split(".")[0].split("[")[0] for k in b if k not in a and not skip(k)})
print(("yes (%d values)" % len(common) if not differ else "NO (%d of %d values differ, e.g. %s)" % (len(differ), len(common), differ[0]))
      + ("; new keys: " + ", ".join(added) if added else ""))
PY
)
    a=$(best "${to[@]}"); b=$(best "${tn[@]}")
    echo "| analyze | ${n}^3 | $np | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}') | $same |"
  done
done
