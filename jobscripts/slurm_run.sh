#!/usr/bin/env bash
# One study: R twins of one model -> descriptors, transport, study table (stochmorph run).
#
#   sbatch jobscripts/slurm_run.sh OUT_DIR -options_file inputs/nmc/F850.opts -realizations 5 [more options]
#   bash   jobscripts/slurm_run.sh OUT_DIR ...          (no SLURM: NP ranks with mpiexec, default 2)
#
# The run always starts with -restart: a fresh directory starts a new study, an existing one resumes it, so the same
# command finishes a study that an earlier job left unfinished (see slurm_requeue.sh to do that automatically).
# SIGUSR1 two minutes before the time limit makes every rank checkpoint at the next unit boundary and stop.
#SBATCH --job-name=stochmorph-run
#SBATCH --nodes=1
#SBATCH --ntasks=8
#SBATCH --time=04:00:00
#SBATCH --signal=USR1@120
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [stochmorph run options]" >&2
  exit 2
fi
out=$1; shift
sm_launch run -o "$out" -restart "$@"
