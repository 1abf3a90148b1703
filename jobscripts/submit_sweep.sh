#!/usr/bin/env bash
# Submit a sweep as a SLURM array plus a collect job that runs when every task has succeeded.
#   jobscripts/submit_sweep.sh OUT_DIR SWEEP_OPTIONS      (extra sbatch options: SBATCH_ARGS="--partition=...")
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/launch.sh"
out=$1; shift
command -v sbatch > /dev/null || { echo "sbatch not found: run 'bash $here/slurm_sweep_array.sh $out ...' instead" >&2; exit 2; }
n=$("$STOCHMORPH" sweep -o "$out" "$@" -list_tasks | grep -c '^task ')
jid=$(sbatch --parsable ${SBATCH_ARGS:-} --array=0-$((n - 1)) "$here/slurm_sweep_array.sh" "$out" "$@")
cid=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency=afterok:"$jid" --ntasks=1 --job-name=stochmorph-collect \
  --wrap "$STOCHMORPH collect -o $out")
echo "submitted $n tasks as array job $jid; collect job $cid writes $out/study.csv when they have finished"
