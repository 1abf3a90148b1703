#!/usr/bin/env bash
# A long study that outlives the time limit: SLURM sends SIGUSR1 to this script two minutes before the limit, the
# script passes it to stochmorph, which checkpoints at the next unit boundary and exits with status 75; the script
# then requeues the job, and the next start resumes from the checkpoint (-restart). Repeats until the study is done.
#
#   sbatch jobscripts/slurm_requeue.sh OUT_DIR -options_file inputs/nmc/F850.opts -realizations 20 [...]
#   bash   jobscripts/slurm_requeue.sh OUT_DIR ...   (no SLURM: runs, and starts again after a stop, like a requeue)
#
# Choose the signal lead time longer than one unit (a transport solve) takes.
#SBATCH --job-name=stochmorph-requeue
#SBATCH --nodes=1
#SBATCH --ntasks=8
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [stochmorph run options]" >&2
  exit 2
fi
out=$1; shift
attempts=${SM_MAX_ATTEMPTS:-20}
for ((a = 1; a <= attempts; a++)); do
  sm_launch_exec run -o "$out" -restart "$@" &
  child=$!
  trap 'kill -USR1 $child 2> /dev/null' USR1 TERM
  wait $child; rc=$?
  while kill -0 $child 2> /dev/null; do wait $child; rc=$?; done # a trapped signal interrupts wait
  trap - USR1 TERM
  if [ $rc -ne 75 ]; then exit $rc; fi # done (0) or failed
  echo "stochmorph stopped at a checkpoint (attempt $a)"
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
done
echo "gave up after $attempts attempts" >&2
exit 75
