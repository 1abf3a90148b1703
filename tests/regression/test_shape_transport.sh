#!/usr/bin/env bash
# Off-grid geometry and transport (issue acceptance, SPEC 7): a chi2 twin (F850 parameters, 10 nm voxels) -> shapes ->
# rasterised at the same voxel size h and at h/2; the FEM M-factor of the solid changes from h to h/2 by less than
# the difference between FEM and FV at h. Both differences are discretisation effects of the same voxel size: the
# analytic shape lets the grid be refined, and refinement moves FEM by less than the FEM-FV gap (SPEC 6.2: the gap is
# first order in h, FEM converging from above and FV from below).
source "$(dirname "$0")/common.sh"

run 2 generate -options_file "$SM_SOURCE_DIR/inputs/nmc/F850.opts" -grid_size 64 -seed 3 -o twin.h5 || { fail "generate"; cat run.log; }
run 2 shape -i twin.h5 -o shapes.h5 || { fail "shape"; cat run.log; }
run 2 rasterize -i shapes.h5 -o h.h5 || { fail "rasterize at h"; cat run.log; }
run 2 rasterize -i shapes.h5 -voxel_size 0.005 -o h2.h5 || { fail "rasterize at h/2"; cat run.log; }
run 2 transport -i h.h5 -phase solid -transport_direction all -transport_method fem -o fem_h.json || { fail "FEM at h"; cat run.log; }
run 2 transport -i h.h5 -phase solid -transport_direction all -transport_method fv -o fv_h.json || { fail "FV at h"; cat run.log; }
run 2 transport -i h2.h5 -phase solid -transport_direction all -transport_method fem -o fem_h2.json || { fail "FEM at h/2"; cat run.log; }
"$SM_PYTHON" - <<'EOF' && ok || fail "FEM change under refinement not below the FEM-FV gap"
from smcheck import transport_M
def M(f):
    return {k: transport_M(f, k) for k in "xyz"}
a, b, c = M("fem_h.json"), M("fem_h2.json"), M("fv_h.json")
for k in "xyz":
    print("%s: FEM(h) %.5f FEM(h/2) %.5f FV(h) %.5f  |refinement| %.5f  |FEM-FV| %.5f" % (k, a[k], b[k], c[k],
          abs(b[k] - a[k]), abs(a[k] - c[k])))
    assert abs(b[k] - a[k]) < abs(a[k] - c[k]), k
EOF
finish
