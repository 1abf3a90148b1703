#!/usr/bin/env bash
# The NMC study of the NMC paper in one command: the six calibrated chi2 models (fine/medium/coarse particles calcined
# at 850/900 deg C, inputs/nmc/*.opts), R twins each, their descriptors and the M-factor of solid and pores in x, y, z,
# computed (FEM) next to the predicted M^ and its refit to these twins; tables OUT/<model>/study.{json,csv},
# OUT/refit.json and figures in OUT/figures.
#
#   bash jobscripts/study_nmc.sh [OUT]            reduced size that runs on a workstation (SIZE^3 voxels of 10 nm,
#                                                 default SIZE=96, R=2; NP ranks, default 2)
#   sbatch jobscripts/study_nmc.sh --full [OUT]   the published size: 400^3 voxels (4 um boxes), R=5
#
# Every run resumes (-restart) if the job is started again. EXTRA: more stochmorph options for every run.
#SBATCH --job-name=stochmorph-nmc
#SBATCH --nodes=1
#SBATCH --ntasks=16
#SBATCH --time=24:00:00
#SBATCH --signal=USR1@300
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
if [ "${1:-}" = "--full" ]; then SIZE=${SIZE:-400}; R=${R:-5}; shift; fi
SIZE=${SIZE:-96}
R=${R:-2}
out=${1:-$sm_root/out/nmc}
mkdir -p "$out"
for m in F850 F900 M850 M900 C850 C900; do
  echo "== $m: ${SIZE}^3 voxels, $R realisations"
  sm_launch run -options_file "$sm_root/inputs/nmc/$m.opts" -grid_size "$SIZE" -realizations "$R" -o "$out/$m" \
    -restart ${EXTRA:-}
done
# the predictor M^ refitted to the M of all six studies together (OUT/refit.json; shown in the M vs M^ figure)
dirs=$(printf "$out/%s," F850 F900 M850 M900 C850 C900)
sm_launch refit -i "${dirs%,}" -o "$out/refit.json"
/usr/bin/python3 "$sm_root/jobscripts/plot_results.py" nmc "$out" -o "$out/figures"
