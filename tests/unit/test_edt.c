/* Exact Euclidean distance transform on hand-computed cases (SPEC 5). Squared distances of voxel centres with physical
 * sizes are sums of a few products of small integers and binary-exact sizes (0.5, 1, 2, 3), so the expected values are
 * exact and compared for equality. */
#include <stochmorph/morph.h>
#include "smtest.h"

static PetscErrorCode edt_of(const int64_t n[3], const PetscReal h[3], const uint8_t *mask, SMEdtBorder border,
                             int axes, double *d2)
{
  SMGrid grid;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(PETSC_COMM_WORLD, n, h, &grid));
  PetscCall(sm_morph_edt(grid, mask, border, axes, d2));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  int rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  /* A line of 7 voxels of 0.5 um with one zero at x = 2. Free border: (|x - 2| 0.5)^2. Obstacle border: the outside
     centres at x = -1 and x = 7 also count: x = 5 is 1.5 um from x = 2 and 1 um from x = 7. */
  {
    const int64_t   n[3]        = {7, 1, 1};
    const PetscReal h[3]        = {0.5, 1, 1};
    const uint8_t   mask[7]     = {1, 1, 0, 1, 1, 1, 1};
    const double    free_ref[7] = {1.0, 0.25, 0, 0.25, 1.0, 2.25, 4.0},
                 obst_ref[7]    = {0.25, 0.25, 0, 0.25, 1.0, 1.0, 0.25};
    double d2[7];
    PetscCall(edt_of(n, h, mask, SM_EDT_BORDER_FREE, 7, d2));
    for (int i = 0; i < 7; i++)
      SM_TEST_TRUE(d2[i] == free_ref[i], "line, free border, x = %d: %g vs %g", i, d2[i], free_ref[i]);
    PetscCall(edt_of(n, h, mask, SM_EDT_BORDER_OBSTACLE, 7, d2));
    for (int i = 0; i < 7; i++)
      SM_TEST_TRUE(d2[i] == obst_ref[i], "line, obstacle border, x = %d: %g vs %g", i, d2[i], obst_ref[i]);
  }
  /* A 3 x 3 x 3 block with h = (1, 2, 3) and one zero in the middle: a voxel at offset (a, b, c) in {-1, 0, 1}^3 is at
     a^2 + 4 b^2 + 9 c^2; a corner at 14. The y pass alone (axes = 2) reaches only the line through the centre. */
  {
    const int64_t   n[3] = {3, 3, 3};
    const PetscReal h[3] = {1, 2, 3};
    uint8_t         mask[27];
    double          d2[27];
    for (int i = 0; i < 27; i++) mask[i] = i != 13;
    PetscCall(edt_of(n, h, mask, SM_EDT_BORDER_FREE, 7, d2));
    for (int z = 0; z < 3; z++)
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) {
          const double ref = (x - 1) * (x - 1) + 4.0 * (y - 1) * (y - 1) + 9.0 * (z - 1) * (z - 1);
          SM_TEST_TRUE(d2[(z * 3 + y) * 3 + x] == ref, "block (%d,%d,%d): %g vs %g", x, y, z, d2[(z * 3 + y) * 3 + x],
                       ref);
        }
    PetscCall(edt_of(n, h, mask, SM_EDT_BORDER_FREE, 2, d2));
    SM_TEST_TRUE(d2[(1 * 3 + 0) * 3 + 1] == 4.0 && d2[(1 * 3 + 2) * 3 + 1] == 4.0,
                 "y pass alone: 4 along the centre line");
    SM_TEST_TRUE(isinf(d2[0]) && isinf(d2[(1 * 3 + 1) * 3 + 0]), "y pass alone: INFINITY off the centre line");
    /* Obstacle border: voxels with x = 0 or 2 are 1 um from an outside centre along x; (1, 0, 1) is 2 um from the
       centre voxel and from the outside along y or x, so 4. */
    PetscCall(edt_of(n, h, mask, SM_EDT_BORDER_OBSTACLE, 7, d2));
    SM_TEST_TRUE(d2[0] == 1.0 && d2[(1 * 3 + 1) * 3 + 0] == 1.0 && d2[(1 * 3 + 0) * 3 + 1] == 4.0 && d2[13] == 0.0,
                 "obstacle border: 1 on the x faces, 4 at (1, 0, 1)");
  }
  rc = sm_test_finish(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return rc;
}
