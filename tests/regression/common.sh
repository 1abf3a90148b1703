# Shared helpers of the regression scripts (sourced). Environment from CTest: SM_EXE, SM_MPIRUN, SM_SOURCE_DIR,
# SM_PYTHON (Debian's /usr/bin/python3 with numpy and h5py), SM_WORK (a scratch directory of this test).
set -u
: "${SM_EXE:?}" "${SM_MPIRUN:?}" "${SM_WORK:?}"
SM_PYTHON=${SM_PYTHON:-/usr/bin/python3}
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
rm -rf "$SM_WORK" && mkdir -p "$SM_WORK" && cd "$SM_WORK" || exit 1
sm_pass=0
sm_fail=0
ok() { sm_pass=$((sm_pass + 1)); }
fail() { sm_fail=$((sm_fail + 1)); echo "FAIL: $*"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# run NP ARGS...: stochmorph on NP ranks (1: a singleton process, no mpiexec), stdout+stderr to run.log
run() {
  local np=$1; shift
  if [ "$np" -eq 1 ]; then "$SM_EXE" "$@" > run.log 2>&1; else "$SM_MPIRUN" "$np" "$SM_EXE" "$@" > run.log 2>&1; fi
}
# expect_fail [-n 'GLOB...'] NEEDLE NP ARGS...: stochmorph on NP ranks must exit non-zero with exactly one
# "stochmorph error:" line, and that line must match NEEDLE (a grep regular expression). The files GLOB... are removed
# before the run and must not exist after it: bad input leaves neither a file that looks complete nor a partial one.
# Without -n the globs are $SM_NO_FILES, by default out.* (which takes in out.h5.partial); -n '' checks no file.
# One check (ok or fail).
SM_NO_FILES='out.*'
expect_fail() {
  local globs=$SM_NO_FILES needle np left=
  if [ "$1" = -n ]; then globs=$2; shift 2; fi
  needle=$1 np=$2
  shift 2
  # shellcheck disable=SC2086 # the globs are meant to expand
  [ -z "$globs" ] || rm -rf $globs
  if run "$np" "$@"; then fail "succeeded: $*"; return; fi
  if ! grep -q "stochmorph error:.*$needle" run.log; then fail "no message with '$needle' for: $*"; sed -n 1,8p run.log; return; fi
  if [ "$(grep -c 'stochmorph error:' run.log)" -ne 1 ]; then fail "not exactly one message for: $*"; cat run.log; return; fi
  # shellcheck disable=SC2086
  [ -z "$globs" ] || left=$(ls -d $globs 2> /dev/null)
  if [ -n "$left" ]; then fail "left a file for: $*: $left"; return; fi
  ok
}
finish() {
  echo "$sm_pass passed, $sm_fail failed"
  [ "$sm_fail" -eq 0 ] && [ "$sm_pass" -gt 0 ]
  exit $?
}
