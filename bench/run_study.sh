#!/usr/bin/env bash
# Study benchmark: the NMC study of jobscripts/study_nmc.sh (six chi2 models, R twins each, all descriptors, FEM
# transport of solid and pores in x, y and z) at a reduced size on NP ranks: wall time of each -log_view stage (the
# generate, analyze and transport units) per model, and the whole run.
# Usage: bench/run_study.sh [build dir] [SIZE] [R] [NP]   (defaults: build, 128, 1, 2) -> a Markdown table on stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STOCHMORPH=${1:-$root/build}/stochmorph
size=${2:-128}
r=${3:-1}
export NP=${4:-2}
source "$root/jobscripts/launch.sh"
tmp=$(mktemp -d)
echo "| model | grid | realisations | ranks | generate [s] | analyze [s] | transport [s] | whole run [s] |"
echo "|---|---|---|---|---|---|---|---|"
for m in F850 F900 M850 M900 C850 C900; do
  t0=$(date +%s.%N)
  sm_launch run -options_file "$root/inputs/nmc/$m.opts" -grid_size "$size" -realizations "$r" -o "$tmp/$m" -log_view \
    > "$tmp/$m.log" 2>&1
  t1=$(date +%s.%N)
  st() { awk -v s="$1" '{line = $0; sub(/^ *[0-9]+: */, "", line); if (index(line, s ":") == 1) {split(line, a, ":");
         split(a[2], b, " "); print b[1]; exit}}' "$tmp/$m.log"; }
  printf "| %s | %s^3 | %s | %s | %.2f | %.1f | %.1f | %.1f |\n" "$m" "$size" "$r" "$NP" "$(st 'Unit generate')" \
    "$(st 'Unit analyze')" "$(st 'Unit transport')" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
done
rm -rf "$tmp"
