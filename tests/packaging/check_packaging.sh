#!/usr/bin/env bash
# What can be checked of the packaging here (neither Spack nor Apptainer runs on this machine): the Spack recipe
# compiles as Python and declares what the README promises (variant int64, the dependencies with +mpi / +hypre); the
# Apptainer definition has the sections a build needs, a bookworm base, and its %post script passes bash -n.
# Usage: check_packaging.sh SOURCE_DIR
set -u
src=$1
pass=0 nfail=0
ok() { pass=$((pass + 1)); }
fail() { nfail=$((nfail + 1)); echo "FAIL: $*"; }
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
py=$src/packaging/spack/package.py def=$src/packaging/apptainer/stochmorph.def
if /usr/bin/python3 -m py_compile "$py" 2> "$work/py.log"; then ok; else fail "py_compile package.py"; cat "$work/py.log"; fi
# spack itself is not importable here: read the recipe's syntax tree instead
if /usr/bin/python3 - "$py" <<'PY'; then ok; else fail "package.py contents"; fi
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
cls = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Stochmorph"]
assert cls and any(getattr(b, "id", "") == "CMakePackage" for b in cls[0].bases), "class Stochmorph(CMakePackage)"
calls = [(n.func.id, [a.value for a in n.args if isinstance(a, ast.Constant)]) for n in ast.walk(cls[0])
         if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
variants = [a[0] for f, a in calls if f == "variant"]
deps = [a[0] for f, a in calls if f == "depends_on"]
assert "int64" in variants, variants
for want in ("mpi", "petsc+int64", "fftw@3:+mpi", "hdf5+mpi", "gsl", "libtiff", "random123"):
    assert want in deps, (want, deps)
assert any(d.startswith("petsc@") and "+mpi" in d and "+hypre" in d for d in deps), deps
assert any(isinstance(n, ast.FunctionDef) and n.name == "cmake_args" for n in cls[0].body), "cmake_args"
src = open(sys.argv[1]).read()
assert 'define_from_variant("SM_PETSC64", "int64")' in src, "the int64 variant sets SM_PETSC64"
PY
for sec in Bootstrap: From: %post %environment %runscript %test; do
  if grep -q "^$sec" "$def"; then ok; else fail "stochmorph.def has no $sec"; fi
done
if grep -q '^From: debian:bookworm' "$def"; then ok; else fail "base is not debian:bookworm"; fi
# the %post section: from its header to the next section
awk '/^%/{p = ($1 == "%post")} p && !/^%post/' "$def" > "$work/post.sh"
if [ "$(grep -c . "$work/post.sh")" -gt 5 ] && bash -n "$work/post.sh" 2> "$work/post.log"; then ok
else fail "bash -n on %post"; cat "$work/post.log"; fi
if grep -q 'ctest' "$work/post.sh" && grep -q 'cmake --install' "$work/post.sh"; then ok; else fail "%post does not test and install"; fi
# the packages %post installs are those jobscripts/install_deps.sh installs
if /usr/bin/python3 - "$work/post.sh" "$src/jobscripts/install_deps.sh" <<'PY'; then ok; else fail "package lists differ"; fi
import re, sys
post = open(sys.argv[1]).read().replace("\\\n", " ")
deps = open(sys.argv[2]).read().replace("\n", " ")
a = set(re.search(r"--no-install-recommends (.*?)\n", post + "\n").group(1).split()) - {"ca-certificates"}
b = set(re.search(r"pkgs=\((.*?)\)", deps).group(1).split())
assert a == b, (a ^ b)
PY
echo "$pass passed, $nfail failed"
[ "$nfail" -eq 0 ] && [ "$pass" -gt 0 ]
