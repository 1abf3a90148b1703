#!/usr/bin/env bash
# The predictive NVP/C study of the NVP/C paper in one command: the pluri-Gaussian model (inputs/nvpc/nvpc_sweep.opts)
# with the carbon fraction swept over 0.150, 0.175, ..., 0.400 at fixed active fraction, R twins per value; interface
# areas, geodesic tortuosity, percolation, M^ and computed M per phase against the carbon fraction.
# Table OUT/study.{json,csv} (with the percolation threshold of every phase and direction as an interval of carbon
# fractions), figures OUT/figures. CONNECTIVITY="6 26": one sweep per connectivity of the percolation, tortuosity and
# intrusion descriptors (-connectivity), in OUT/c6 and OUT/c26 (same seeds, so the same twins); default 26.
#
#   bash jobscripts/study_nvpc.sh [OUT]            reduced size (SIZE^3 voxels of 16.6 nm, default SIZE=64, R=2;
#                                                  transport in z only)
#   sbatch jobscripts/study_nvpc.sh --full [OUT]   the published size: 300^3 voxels (4.98 um), R=3, x, y and z
#
# For many nodes, run the same sweep as a SLURM array instead: jobscripts/submit_sweep.sh OUT -options_file
# inputs/nvpc/nvpc_sweep.opts -sweep_param model_volume_fraction_carbon -sweep_values 0.150:0.400:0.025 ...
#SBATCH --job-name=stochmorph-nvpc
#SBATCH --nodes=1
#SBATCH --ntasks=16
#SBATCH --time=24:00:00
#SBATCH --signal=USR1@300
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch.sh"
if [ "${1:-}" = "--full" ]; then SIZE=${SIZE:-300}; R=${R:-3}; DIRS=${DIRS:-all}; shift; fi
SIZE=${SIZE:-64}
R=${R:-2}
DIRS=${DIRS:-z}
out=${1:-$sm_root/out/nvpc}
CONNECTIVITY=${CONNECTIVITY:-26}
for c in $CONNECTIVITY; do
  # one connectivity: OUT itself; several (e.g. CONNECTIVITY="6 26"): OUT/c6, OUT/c26, with the same twins
  d=$out
  [ "$(echo $CONNECTIVITY | wc -w)" -gt 1 ] && d=$out/c$c
  echo "== ${SIZE}^3 voxels, $R twins per value, ${c}-connectivity -> $d"
  sm_launch sweep -options_file "$sm_root/inputs/nvpc/nvpc_sweep.opts" -grid_size "$SIZE" -realizations "$R" \
    -sweep_param model_volume_fraction_carbon -sweep_values "${VALUES:-0.150:0.400:0.025}" -transport_direction "$DIRS" \
    -connectivity "$c" -o "$d" -restart ${EXTRA:-}
  /usr/bin/python3 "$sm_root/jobscripts/plot_results.py" study "$d/study.json" -o "$d/figures"
done
