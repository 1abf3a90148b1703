/* Grids past 2^31 and 2^32 voxels (2048^3 = 2^33, 4096 x 4096 x 300 = 5033164800) without allocating them: the grid's
 * 64-bit counts, the voxel offsets of each rank's slab (balanced slabs: the first nz mod P ranks hold
 * floor(nz / P) + 1 planes, the others floor(nz / P), computed here by hand), the last voxel's linear index, the memory estimate of `generate` and the memory check that refuses both on a
 * machine of ordinary size (and accepts them on a job of 1 PiB). With 32-bit PetscInt the DMDA is refused clearly. */
#include <stochmorph/grid.h>
#include <stochmorph/model.h>
#include "smtest.h"

/* Run f and return its error code with the error handler silenced (the expected refusals print nothing). */
#define SM_TRY(call, ierr) \
  do { \
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL)); \
    ierr = (call); \
    PetscCall(PetscPopErrorHandler()); \
  } while (0)

static PetscErrorCode test_large_grids(MPI_Comm comm)
{
  PetscMPIInt     size, rank;
  const int64_t   sizes[2][3] = {{2048, 2048, 2048}, {4096, 4096, 300}};
  const int64_t   totals[2]   = {8589934592LL, 5033164800LL}; /* 2^33; 4096 * 4096 * 300 */
  const PetscReal h[3]        = {0.01, 0.01, 0.01};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (int c = 0; c < 2; c++) {
    const int64_t *n = sizes[c], q = n[2] / size, rem = n[2] % size;
    SMGrid         grid;
    SMGridInfo     g;
    const int64_t *starts, *counts;
    int64_t        sum = 0, offset = 0;

    PetscCall(sm_grid_create(comm, n, h, &grid));
    PetscCall(sm_grid_get_info(grid, &g));
    PetscCall(sm_grid_get_slabs(grid, &starts, &counts));
    SM_TEST_TRUE(g.n_total == totals[c] && g.n_total > (int64_t)UINT32_MAX, "n_total %lld, expected %lld", (long long)g.n_total,
                 (long long)totals[c]);
    SM_TEST_TRUE(g.n_plane == n[0] * n[1], "n_plane %lld", (long long)g.n_plane);
    for (int r = 0; r < size; r++) {
      int64_t want_count = q + (r < rem ? 1 : 0), want_start = 0;
      for (int s = 0; s < r; s++) want_start += q + (s < rem ? 1 : 0); /* the planes of the ranks before */
      SM_TEST_TRUE(starts[r] == want_start && counts[r] == want_count, "grid %d rank %d of %d: slab [%lld, +%lld), expected "
                   "[%lld, +%lld)", c, r, size, (long long)starts[r], (long long)counts[r], (long long)want_start,
                   (long long)want_count);
      /* the first voxel of rank r's slab, as the writers and readers compute it */
      SM_TEST_TRUE(starts[r] * g.n_plane == want_start * n[0] * n[1] && starts[r] * g.n_plane >= 0, "offset of rank %d", r);
      if (r == rank) offset = starts[r] * g.n_plane;
    }
    SM_TEST_TRUE(g.n_local == g.z_local * g.n_plane && offset == g.z_start * g.n_plane, "local counts");
    PetscCallMPI(MPI_Allreduce(&g.n_local, &sum, 1, MPI_INT64_T, MPI_SUM, comm));
    SM_TEST_TRUE(sum == totals[c], "slabs hold %lld voxels, expected %lld", (long long)sum, (long long)totals[c]);
    {
      /* the linear index of the last voxel (x, y, z) = (nx-1, ny-1, nz-1), from its coordinates */
      int64_t last = ((n[2] - 1) * n[1] + (n[1] - 1)) * n[0] + (n[0] - 1);
      SM_TEST_TRUE(last == totals[c] - 1, "last index %lld", (long long)last);
    }
    if (size == 3 && c == 0)
      SM_TEST_TRUE(starts[2] * g.n_plane == 1366LL * 4194304LL && starts[2] * g.n_plane > (int64_t)UINT32_MAX,
                   "rank 2 of 3 starts past 2^32");
    {
      /* generate's estimate for the default chi2 (k = 2) model: (8 + 4 + 1 + 8) bytes * 1.05 per voxel (sm_model_bytes_per_voxel: FFT buffer,
         half-spectrum filter, labels, chi2 accumulator) */
      SMModel        model;
      double         bpv, need, have;
      PetscErrorCode ierr;
      PetscCall(sm_model_create_from_options(comm, &model));
      PetscCall(sm_model_bytes_per_voxel(model, &bpv));
      need = bpv * (double)g.n_total;
      SM_TEST_REL(need, 21 * 1.05 * (double)totals[c], 1e-15, "memory estimate");
      SM_TEST_TRUE(need > 100.0 * 1073741824.0, "estimate %.3g bytes above 100 GiB", need);
      PetscCall(sm_sys_job_memory(comm, &have));
      if (have < need / 0.9) { /* every ordinary test machine: refused, with the memory error */
        SM_TRY(sm_sys_check_memory(comm, need, have, "test grid"), ierr);
        SM_TEST_TRUE(ierr == PETSC_ERR_MEM, "grid %d accepted with %.3g bytes (code %d)", c, have, (int)ierr);
      }
      SM_TRY(sm_sys_check_memory(comm, need, 1125899906842624.0, "test grid"), ierr);
      SM_TEST_TRUE(ierr == 0, "refused on a 1 PiB job");
      PetscCall(sm_model_destroy(&model));
    }
    if (sizeof(PetscInt) == 4) {
      DM             da;
      PetscErrorCode ierr;
      SM_TRY(sm_grid_get_dmda(grid, &da), ierr);
      SM_TEST_TRUE(ierr == PETSC_ERR_SUP, "32-bit PetscInt DMDA of %lld voxels: code %d", (long long)g.n_total, (int)ierr);
    } else SM_TEST_TRUE(g.n_total <= (int64_t)PETSC_MAX_INT, "64-bit PetscInt indexes the grid");
    PetscCall(sm_grid_destroy(&grid));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"2^33 and 4096 x 4096 x 300 voxels", test_large_grids})
