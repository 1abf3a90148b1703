#!/usr/bin/env bash
# Grids past 2^31 and 2^32 voxels: generate refuses 2048^3 and 4096 x 4096 x 300 with the memory check's message
# (the estimate, in GiB, computed here by hand) before allocating them, with a non-zero exit and no output file;
# at every rank count. (-memory_limit fixes the job's memory so the test means the same on any machine.)
source "$(dirname "$0")/common.sh"

# expect_refused NP NX,NY,NZ VOXELS: the estimate printed is 21 bytes * 1.05 per voxel of the default chi2 model
expect_refused() {
  local np=$1 size=$2 voxels=$3
  rm -f big.h5 big.h5.partial big.xmf
  if run "$np" generate -grid_size "$size" -memory_limit 64 -o big.h5; then fail "$size accepted on $np ranks"; return; fi
  want=$(awk -v v="$voxels" 'BEGIN { printf "%.2f GiB", v * 21 * 1.05 / 1073741824 }')
  if grep -q "stochmorph error: This twin needs about $want but the nodes of this job have 64.00 GiB" run.log &&
     [ "$(grep -c 'stochmorph error' run.log)" -eq 1 ]; then ok; else fail "message for $size on $np ranks (want $want)"; cat run.log; fi
  if ls big.* > /dev/null 2>&1; then fail "left a file: $(ls big.*)"; else ok; fi
}
for np in 1 2 3; do
  expect_refused $np 2048,2048,2048 8589934592
  expect_refused $np 4096,4096,300 5033164800
done
finish
