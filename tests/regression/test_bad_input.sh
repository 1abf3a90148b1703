#!/usr/bin/env bash
# Bad input: one clear message naming the option, a non-zero exit, and no output file (not even a partial one).
source "$(dirname "$0")/common.sh"

# expect_fail (common.sh): the run must fail, say NEEDLE, and leave no out.* file and nothing in outdir/
mkdir -p outdir
SM_NO_FILES='out.* outdir/*'

G="generate -grid_size 16 -o out.h5"
expect_fail "-model_volume_fraction" 1 $G -model_volume_fraction 1.2
expect_fail "-model_volume_fraction" 1 $G -model_volume_fraction 0
expect_fail "-model_volume_fraction" 2 $G -model gauss -model_volume_fraction -0.5
expect_fail "-model_alpha" 1 $G -model_alpha 0
expect_fail "-model_alpha" 2 $G -model_alpha -3
expect_fail "-model_alpha_y" 1 $G -model pluri -model_alpha_y 0
expect_fail "carbon volume fraction" 1 $G -model pluri -model_volume_fractions 0.6,0.5
expect_fail "active volume fraction" 1 $G -model pluri -model_volume_fractions 1.1,0.1
expect_fail "-model_m" 1 $G -model pluri -model_m 1.5
expect_fail "-model_dof" 1 $G -model_dof 0
expect_fail "-grid_size" 1 generate -grid_size 0,16,16 -o out.h5
expect_fail "-grid_size" 1 generate -grid_size -8 -o out.h5
expect_fail "-voxel_size" 1 generate -grid_size 16 -voxel_size 0 -o out.h5
expect_fail "-voxel_size" 2 generate -grid_size 16 -voxel_size 0.01,-0.01,0.01 -o out.h5
expect_fail "-grid_size: 2 z planes cannot be split over 3 ranks: every rank needs at least one z plane, so at most 2 ranks" 3 generate -grid_size 16,16,2 -o out.h5
expect_fail "Unknown option foo for -model" 1 $G -model foo
expect_fail "Unknown option bar for -model_covariance" 1 $G -model_covariance bar
expect_fail "-model_alpah" 1 $G -model_alpah 3
expect_fail "-seed" 1 $G -seed minus
expect_fail "-o" 1 generate -grid_size 16 -o /nonexistent_dir/out.h5
expect_fail "-o" 1 generate -grid_size 16 -o out.txt
expect_fail "-grid_size" 2 generate -grid_size 4000 -o out.h5
expect_fail "unknown command" 1 frobnicate

# analyze
run 1 generate -grid_size 16 -o twin.h5 || fail "could not generate a small twin"
expect_fail "-i" 1 analyze -o out.json
expect_fail "missing.h5" 1 analyze -i missing.h5 -o out.json
expect_fail "/nope" 2 analyze -i twin.h5 -image_dataset /nope -o out.json
expect_fail "-o" 1 analyze -i twin.h5 -o /nonexistent_dir/out.json
expect_fail "-descriptors" 1 analyze -i twin.h5 -descriptors volume_fraction,colour -o out.json
expect_fail "-two_point_max_lag" 1 analyze -i twin.h5 -two_point_max_lag -1 -o out.json
expect_fail "-connectivity must be 6" 2 analyze -i twin.h5 -connectivity 7 -o out.json
finish
