/* The grid module at 1, 2 and 3 ranks: slabs tile the z range in rank order, equal FFTW-MPI's local sizes and the
 * DMDA's ownership; the plane-above exchange and the padded redistribution move the right planes (checked against the
 * global index of every voxel); 64-bit counts do not overflow; bad sizes and decompositions are refused. */
#include <stochmorph/grid.h>
#include <fftw3-mpi.h>
#include "smtest.h"

static uint8_t code(int64_t x, int64_t y, int64_t z) { return (uint8_t)(1 + (x * 7 + y * 13 + z * 29) % 251); }

int main(int argc, char **argv)
{
  PetscMPIInt rank, size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  {
    const int64_t   n[3] = {13, 11, 17};
    const PetscReal h[3] = {0.01, 0.02, 0.03};
    SMGrid          grid, big;
    SMGridInfo      g, b;
    const int64_t  *starts, *counts;
    ptrdiff_t       n0, s0, n1, s1;
    DM              da;
    PetscInt        xs, ys, zs, xm, ym, zm;
    uint8_t        *slab, *above, *padded;

    PetscCall(sm_grid_create(PETSC_COMM_WORLD, n, h, &grid));
    PetscCall(sm_grid_get_info(grid, &g));
    PetscCall(sm_grid_get_slabs(grid, &starts, &counts));
    SM_TEST_TRUE(g.n_total == 13 * 11 * 17 && g.n_plane == 13 * 11 && g.size == size, "grid sizes");
    {
      int64_t next = 0;
      for (int r = 0; r < size; r++) {
        SM_TEST_TRUE(starts[r] == next && counts[r] >= 1, "slab %d starts at %lld, expected %lld", r, (long long)starts[r],
                     (long long)next);
        next += counts[r];
      }
      SM_TEST_TRUE(next == n[2], "slabs cover %lld planes of %lld", (long long)next, (long long)n[2]);
    }
    (void)fftw_mpi_local_size_3d_transposed(17, 11, 13 / 2 + 1, PETSC_COMM_WORLD, &n0, &s0, &n1, &s1);
    SM_TEST_TRUE(g.z_start == s0 && g.z_local == n0, "slab differs from FFTW-MPI's");
    PetscCall(sm_grid_get_dmda(grid, &da));
    PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
    SM_TEST_TRUE(xs == 0 && ys == 0 && xm == 13 && ym == 11 && zs == g.z_start && zm == g.z_local,
                 "DMDA ownership [%d,%d) differs from the slab", (int)zs, (int)(zs + zm));

    PetscCall(PetscMalloc2(g.n_local, &slab, g.n_plane, &above));
    for (int64_t z = 0; z < g.z_local; z++)
      for (int64_t y = 0; y < n[1]; y++)
        for (int64_t x = 0; x < n[0]; x++) slab[(z * n[1] + y) * n[0] + x] = code(x, y, g.z_start + z);
    for (int periodic = 0; periodic < 2; periodic++) {
      int64_t zabove = g.z_start + g.z_local, bad = 0;
      PetscCall(sm_grid_get_plane_above_u8(grid, slab, periodic ? PETSC_TRUE : PETSC_FALSE, 0, above));
      for (int64_t y = 0; y < n[1]; y++)
        for (int64_t x = 0; x < n[0]; x++) {
          uint8_t expect = zabove < n[2] ? code(x, y, zabove) : (periodic ? code(x, y, 0) : 0);
          bad += above[y * n[0] + x] != expect;
        }
      SM_TEST_TRUE(bad == 0, "plane above (periodic %d): %lld wrong voxels", periodic, (long long)bad);
    }
    {
      /* embed into a padded grid, as the minus-sampling estimator does */
      const int64_t nb[3] = {20, 15, 23};
      int64_t       bad   = 0;
      PetscCall(sm_grid_create(PETSC_COMM_WORLD, nb, h, &big));
      PetscCall(sm_grid_get_info(big, &b));
      PetscCall(PetscMalloc1(b.n_local, &padded));
      PetscCall(sm_grid_redistribute_u8(grid, slab, big, padded));
      for (int64_t z = 0; z < b.z_local; z++)
        for (int64_t y = 0; y < nb[1]; y++)
          for (int64_t x = 0; x < nb[0]; x++) {
            int64_t zg     = b.z_start + z;
            uint8_t expect = (x < n[0] && y < n[1] && zg < n[2]) ? code(x, y, zg) : 0;
            bad += padded[(z * nb[1] + y) * nb[0] + x] != expect;
          }
      SM_TEST_TRUE(bad == 0, "redistribution into the padded grid: %lld wrong voxels", (long long)bad);
      PetscCall(PetscFree(padded));
      PetscCall(sm_grid_destroy(&big));
    }
    PetscCall(PetscFree2(slab, above));
    PetscCall(sm_grid_destroy(&grid));
    SM_TEST_TRUE(grid == NULL, "destroy nulls the handle");
    PetscCall(sm_grid_destroy(&grid)); /* accepts NULL */
  }
  {
    /* 64-bit counts: 2048 x 2048 x 1536 voxels (6.4e9) need no allocation to describe, and the DMDA refuses clearly */
    const int64_t   n[3] = {2048, 2048, 1536};
    const PetscReal h[3] = {0.01, 0.01, 0.01};
    SMGrid          grid;
    SMGridInfo      g;
    DM              da = NULL;
    PetscErrorCode  ierr;
    int64_t         sum = 0;
    PetscCall(sm_grid_create(PETSC_COMM_WORLD, n, h, &grid));
    PetscCall(sm_grid_get_info(grid, &g));
    SM_TEST_TRUE(g.n_total == (int64_t)2048 * 2048 * 1536, "64-bit voxel count %lld", (long long)g.n_total);
    PetscCallMPI(MPI_Allreduce(&g.n_local, &sum, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD));
    SM_TEST_TRUE(sum == g.n_total, "local counts sum to the total");
    if (sizeof(PetscInt) == 4) { /* with 64-bit PetscInt the DMDA would be built: tens of GiB */
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = sm_grid_get_dmda(grid, &da);
      PetscCall(PetscPopErrorHandler());
      SM_TEST_TRUE(ierr == PETSC_ERR_SUP, "a DMDA beyond 32-bit PetscInt must be refused (code %d)", (int)ierr);
    }
    PetscCall(sm_grid_destroy(&grid));
  }
  {
    /* bad sizes and decompositions */
    const PetscReal h[3]   = {0.01, 0.01, 0.01}, hbad[3] = {0.01, 0, 0.01};
    const int64_t   n[3]   = {8, 8, 8}, nbad[3] = {8, -1, 8}, nthin[3] = {8, 8, 2};
    SMGrid          grid   = NULL;
    PetscErrorCode  e1, e2, e3 = 0;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e1 = sm_grid_create(PETSC_COMM_WORLD, nbad, h, &grid);
    e2 = sm_grid_create(PETSC_COMM_WORLD, n, hbad, &grid);
    if (size == 3) e3 = sm_grid_create(PETSC_COMM_WORLD, nthin, h, &grid);
    PetscCall(PetscPopErrorHandler());
    SM_TEST_TRUE(e1 != 0 && e2 != 0, "negative size or zero voxel size accepted");
    SM_TEST_TRUE(size != 3 || e3 != 0, "2 z-planes on 3 ranks accepted");
  }
  {
    int code = sm_test_finish(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return code;
  }
}
