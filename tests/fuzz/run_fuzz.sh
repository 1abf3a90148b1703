#!/usr/bin/env bash
# Build the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer, the library instrumented for
# coverage) in build-fuzz/, and run each for SECONDS (default 60) from the seeds. Crashes land in
# build-fuzz/crashes/<target>/; keep each (fixed) one in tests/fuzz/corpus/regressions/<target>/, which CTest replays.
# Usage: tests/fuzz/run_fuzz.sh [SECONDS] [target...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_image fuzz_options fuzz_checkpoint fuzz_shapes)
dir=${SM_FUZZ_BUILD_DIR:-$root/build-fuzz}
mkdir -p "$dir"
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
CC=clang cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSM_FUZZ=ON -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > "$dir/fuzz-build.log" 2>&1 || { tail -30 "$dir/fuzz-build.log"; exit 1; }
cmake --build "$dir" -j 2 --target "${targets[@]}" >> "$dir/fuzz-build.log" 2>&1 || { tail -30 "$dir/fuzz-build.log"; exit 1; }
export PETSC_OPTIONS=-no_signal_handler OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t" "$dir/crashes/$t"
  echo "== $t: $secs s"
  (cd "$dir/crashes/$t" && TMPDIR="$dir" "$dir/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=4096 -max_len=8192 \
    -print_final_stats=1 "$dir/corpus/$t" "$root/tests/fuzz/corpus/seeds/$t" 2>&1 | tail -12) || true
  echo "crash inputs: $(ls "$dir/crashes/$t" | grep -c -E '^(crash|leak|timeout|oom)-' || true)"
done
