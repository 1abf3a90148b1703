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
finish() {
  echo "$sm_pass passed, $sm_fail failed"
  [ "$sm_fail" -eq 0 ] && [ "$sm_pass" -gt 0 ]
  exit $?
}
