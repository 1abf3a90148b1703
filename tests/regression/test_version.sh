#!/usr/bin/env bash
# stochmorph --version / -version: the build block, checked against what CMake found at configure time (PETSc
# version and PetscInt size, MPI standard version, HDF5, GSL, FFTW and libtiff versions); the same block in the provenance of
# the output files (HDF5 root attributes build.*, the "build" object of JSON files); usage and exit status without a
# command (stderr, 2) and with -help (stdout, 0); a closed pipe ends a command quietly.
source "$(dirname "$0")/common.sh"
: "${SM_EXPECT_PETSC_VERSION:?}" "${SM_EXPECT_PETSC_INT_BYTES:?}"

for flag in --version -version; do
  if "$SM_EXE" $flag > v$flag.txt 2> err.txt && [ ! -s err.txt ]; then ok; else fail "$flag status or stderr"; cat err.txt; fi
done
cmp -s v--version.txt v-version.txt && ok || fail "--version and -version differ"
if "$SM_PYTHON" - v--version.txt <<'PY'; then ok; else fail "--version contents"; cat v--version.txt; fi
import os, re, sys
lines = open(sys.argv[1]).read().splitlines()
m = re.match(r"stochmorph (\S+) \(git (\S+)\)$", lines[0])
assert m, lines[0]
kv = dict(l.strip().split(None, 1) for l in lines[1:])
E = os.environ
def same(key, want):
    assert kv[key] == want, "%s: printed %r, configure found %r" % (key, kv[key], want)
same("petsc", E["SM_EXPECT_PETSC_VERSION"])
same("petsc_int_bytes", E["SM_EXPECT_PETSC_INT_BYTES"])
same("petsc_scalar_bytes", "8")  # real double PETSc (stochmorph requires it)
same("mpi_standard", E["SM_EXPECT_MPI_STANDARD"])
assert re.search(r"\d+\.\d+", kv["mpi_library"]), kv["mpi_library"]  # a name and a version number
if E.get("SM_EXPECT_HDF5"): same("hdf5", E["SM_EXPECT_HDF5"] + " (parallel)")
if E.get("SM_EXPECT_GSL"): same("gsl", E["SM_EXPECT_GSL"])
if E.get("SM_EXPECT_FFTW"): assert kv["fftw"].startswith("fftw-" + E["SM_EXPECT_FFTW"]), kv["fftw"]
if E.get("SM_EXPECT_TIFF"): same("libtiff", E["SM_EXPECT_TIFF"])
PY

# no command: usage on stderr, nothing on stdout, status 2; an option in place of a command likewise
for args in "" "-grid_size 8"; do
  "$SM_EXE" $args > out.txt 2> err.txt; st=$?
  if [ $st -eq 2 ] && [ ! -s out.txt ] && grep -q '^stochmorph <command>' err.txt; then ok
  else fail "'stochmorph $args': status $st (want 2), stdout $(wc -c < out.txt) bytes"; fi
done
for flag in -help --help; do
  "$SM_EXE" $flag > out.txt 2> err.txt; st=$?
  if [ $st -eq 0 ] && grep -q '^stochmorph <command>' out.txt; then ok; else fail "$flag: status $st"; fi
done

# a reader that closes the pipe early ends every command quietly: killed by SIGPIPE (141) or done (0), nothing on stderr
for c in generate analyze transport fit run shape; do
  { "$SM_EXE" $c -help 2> err.txt; echo $? > st.txt; } | head -1 > /dev/null; st=$(cat st.txt)
  if { [ "$st" = 141 ] || [ "$st" = 0 ]; } && [ ! -s err.txt ]; then ok
  else fail "'stochmorph $c -help | head -1': status $st (want 141 or 0), stderr: $(head -c 300 err.txt)"; fi
done

# the build block in the files: a volume, its sub-particle shapes (HDF5), its analysis, transport and fit (JSON), a study
# (JSON + HDF5 checkpoint)
run 2 generate -grid_size 24 -voxel_size 0.02 -seed 3 -o twin.h5 || { fail generate; cat run.log; }
run 2 analyze -i twin.h5 -descriptors volume_fraction -o a.json || { fail analyze; cat run.log; }
run 2 transport -i twin.h5 -phase solid -transport_direction z -o t.json || { fail transport; cat run.log; }
run 1 run -grid_size 16 -voxel_size 0.02 -realizations 1 -transport_direction z -transport_method fv -o study ||
  { fail run; cat run.log; }
run 2 shape -i twin.h5 -o shapes.h5 || { fail shape; cat run.log; }
run 2 generate -grid_size 40 -voxel_size 0.02 -seed 4 -o twin40.h5 && run 2 fit -i twin40.h5 -model chi2 -o fitted.opts || { fail fit; cat run.log; }
if "$SM_PYTHON" - v--version.txt twin.h5 study/checkpoint.h5 shapes.h5 a.json t.json study/study.json fitted.json <<'PY'; then ok; else fail "build block in the files"; fi
import h5py, json, re, sys
lines = open(sys.argv[1]).read().splitlines()
m = re.match(r"stochmorph (\S+) \(git (\S+)\)$", lines[0])
want = {"stochmorph": m.group(1), "git": m.group(2)}
want.update(dict(l.strip().split(None, 1) for l in lines[1:]))
for f in sys.argv[2:5]:
    with h5py.File(f, "r") as h:
        got = {k[6:]: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in h.attrs.items() if k.startswith("build.")}
    assert got == want, (f, got, want)
for f in sys.argv[5:]:
    got = json.load(open(f))["build"]
    assert got == want, (f, got, want)
PY
finish
