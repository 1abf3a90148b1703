#!/usr/bin/env bash
# A parameter sweep as a SLURM array: one array task = one (value, realisation) task of `stochmorph sweep`.
#
#   n=$(build/stochmorph sweep SWEEP_OPTIONS -o OUT -list_tasks | grep -c '^task ')
#   jid=$(sbatch --parsable --array=0-$((n - 1)) jobscripts/slurm_sweep_array.sh OUT SWEEP_OPTIONS)
#   sbatch --dependency=afterok:$jid --ntasks=1 --wrap "build/stochmorph collect -o OUT"
#   (jobscripts/submit_sweep.sh does these three steps.)
#
#   bash jobscripts/slurm_sweep_array.sh OUT SWEEP_OPTIONS   (no SLURM: every task in turn, then collect)
#
# SWEEP_OPTIONS: -options_file ... -sweep_param NAME -sweep_values LIST|lo:hi:step -realizations R [...].
# Each task writes OUT/tasks/task_NNNN.h5 and resumes it (-restart) if an earlier attempt was cut short.
#SBATCH --job-name=stochmorph-sweep
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --time=01:00:00
#SBATCH --signal=USR1@60
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [stochmorph sweep options]" >&2
  exit 2
fi
out=$1; shift
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  sm_launch sweep -o "$out" -restart -task_index "$SLURM_ARRAY_TASK_ID" "$@"
else
  n=$("$STOCHMORPH" sweep -o "$out" "$@" -list_tasks | grep -c '^task ')
  for ((t = 0; t < n; t++)); do sm_launch sweep -o "$out" -restart -task_index "$t" "$@"; done
  "$STOCHMORPH" collect -o "$out"
fi
