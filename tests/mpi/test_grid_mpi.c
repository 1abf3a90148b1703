/* The grid module at 1, 2 and 3 ranks: slabs tile the z range in rank order, are balanced (counts differ by at most one)
 * and equal the DMDA's ownership; the plane-above exchange, the halo exchange (widths 1 and 2, periodic and filled,
 * begin/end), the z <-> y transpose, the neighbour and record exchanges, the plane-owner lookup, the voxel iterator
 * and the padded redistribution move or name the right voxels (checked against a code of the global coordinates of
 * every voxel); 64-bit counts do not overflow; bad sizes and more ranks than planes are refused. */
#include <stochmorph/grid.h>
#include <fftw3-mpi.h>
#include "smtest.h"
#include "smtest_volume.h"

static uint8_t code(int64_t x, int64_t y, int64_t z) { return (uint8_t)(1 + (x * 7 + y * 13 + z * 29) % 251); }
static int     code_voxel(int64_t x, int64_t y, int64_t z, void *ctx)
{
  (void)ctx;
  return code(x, y, z);
}

/* slabs, the DMDA, the plane above, the padded redistribution, halos, the transpose, record and neighbour exchanges */
static PetscErrorCode test_grid(MPI_Comm comm)
{
  PetscMPIInt rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
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

    PetscCall(sm_grid_create(comm, n, h, &grid));
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
    (void)n0, (void)s0, (void)n1, (void)s1;
    for (int r = 0; r < size; r++)
      SM_TEST_TRUE(counts[r] == n[2] / size || counts[r] == n[2] / size + 1, "slab %d has %lld planes: not balanced", r,
                   (long long)counts[r]);
    {
      int64_t bad = 0;
      for (int64_t z = 0; z < n[2]; z++) {
        PetscMPIInt owner;
        PetscCall(sm_grid_plane_owner(grid, z, &owner));
        bad += !(starts[owner] <= z && z < starts[owner] + counts[owner]);
      }
      SM_TEST_TRUE(bad == 0, "plane owner wrong for %lld planes", (long long)bad);
    }
    {
      SMGridIter it;
      int64_t    bad = 0, visited = 0;
      PetscCall(sm_grid_iter_begin(grid, &it));
      for (; sm_grid_iter_valid(&it); sm_grid_iter_next(&it)) {
        bad += it.v != ((it.i[2] - g.z_start) * n[1] + it.i[1]) * n[0] + it.i[0];
        visited++;
      }
      SM_TEST_TRUE(bad == 0 && visited == g.n_local, "iterator: %lld wrong of %lld visited", (long long)bad, (long long)visited);
    }
    PetscCall(sm_grid_get_dmda(grid, &da));
    PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
    SM_TEST_TRUE(xs == 0 && ys == 0 && xm == 13 && ym == 11 && zs == g.z_start && zm == g.z_local,
                 "DMDA ownership [%d,%d) differs from the slab", (int)zs, (int)(zs + zm));

    PetscCall(PetscMalloc2(g.n_local, &slab, g.n_plane, &above));
    PetscCall(sm_test_fill_slab(grid, code_voxel, NULL, slab));
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
      PetscCall(sm_grid_create(comm, nb, h, &big));
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
    {
      /* halo of doubles, widths 1 and 2, periodic or filled with -1, through begin / end */
      double *d, *lo, *hi;
      PetscCall(PetscMalloc3(g.n_local, &d, 2 * g.n_plane, &lo, 2 * g.n_plane, &hi));
      for (int64_t v = 0; v < g.n_local; v++) d[v] = (double)(g.z_start * g.n_plane + v);
      for (int w = 1; w <= 2; w++)
        for (int periodic = 0; periodic < 2; periodic++) {
          const double         fill = -1;
          const SMGridHaloSpec spec = {MPI_DOUBLE, sizeof(double), g.n_plane, w, periodic ? PETSC_TRUE : PETSC_FALSE, &fill};
          SMGridHalo           halo;
          int64_t              bad = 0;
          PetscCall(sm_grid_halo_begin(grid, &spec, d, d + (g.z_local - w) * g.n_plane, lo, hi, &halo));
          PetscCall(sm_grid_halo_end(&halo));
          for (int k = 0; k < w; k++)
            for (int64_t v = 0; v < g.n_plane; v++) {
              int64_t zb = g.z_start - w + k, za = g.z_start + g.z_local + k;
              double  eb = zb >= 0 ? (double)(zb * g.n_plane + v) : (periodic ? (double)((zb + n[2]) * g.n_plane + v) : -1);
              double  ea = za < n[2] ? (double)(za * g.n_plane + v) : (periodic ? (double)((za - n[2]) * g.n_plane + v) : -1);
              bad += lo[k * g.n_plane + v] != eb || hi[k * g.n_plane + v] != ea;
            }
          SM_TEST_TRUE(bad == 0, "halo width %d periodic %d: %lld wrong ghosts", w, periodic, (long long)bad);
        }
      {
        /* z <-> y transpose: [y_local][nz][nx] holds the voxel codes; back again restores the slab */
        int64_t y0, yl, bad = 0;
        double *t;
        PetscCall(sm_grid_get_yslab(grid, &y0, &yl));
        PetscCall(PetscMalloc1(yl * n[2] * n[0] + 1, &t));
        PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), d, t, SM_GRID_Z_TO_Y));
        for (int64_t y = 0; y < yl; y++)
          for (int64_t z = 0; z < n[2]; z++)
            for (int64_t x = 0; x < n[0]; x++) bad += t[(y * n[2] + z) * n[0] + x] != (double)((z * n[1] + y0 + y) * n[0] + x);
        for (int64_t v = 0; v < g.n_local; v++) d[v] = 0;
        PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), d, t, SM_GRID_Y_TO_Z));
        for (int64_t v = 0; v < g.n_local; v++) bad += d[v] != (double)(g.z_start * g.n_plane + v);
        SM_TEST_TRUE(bad == 0, "transpose: %lld wrong values", (long long)bad);
        PetscCall(PetscFree(t));
      }
      PetscCall(PetscFree3(d, lo, hi));
    }
    {
      /* records: rank r sends r + q + 1 records {r, q} to rank q; the neighbour exchange sends rank + 1 values down and
         rank + 2 up */
      int64_t *cnt, (*send)[2], (*recv)[2] = NULL, nrecv = 0, ns = 0, bad = 0, k = 0;
      int64_t  down[8], up[8], below[8], above[8];
      MPI_Datatype pair;
      PetscCall(PetscMalloc1(size, &cnt));
      for (int q = 0; q < size; q++) ns += cnt[q] = rank + q + 1;
      PetscCall(PetscMalloc1(ns, &send));
      for (int q = 0; q < size; q++)
        for (int64_t i = 0; i < cnt[q]; i++, k++) send[k][0] = rank, send[k][1] = q;
      PetscCallMPI(MPI_Type_contiguous(2, MPI_INT64_T, &pair));
      PetscCallMPI(MPI_Type_commit(&pair));
      PetscCall(sm_grid_exchange_records(grid, pair, 2 * sizeof(int64_t), send, cnt, (void **)&recv, &nrecv));
      PetscCallMPI(MPI_Type_free(&pair));
      k = 0;
      for (int r = 0; r < size; r++)
        for (int64_t i = 0; i < r + rank + 1; i++, k++) bad += k >= nrecv || recv[k][0] != r || recv[k][1] != rank;
      SM_TEST_TRUE(bad == 0 && k == nrecv, "records: %lld wrong, %lld received", (long long)bad, (long long)nrecv);
      for (int i = 0; i < 8; i++) down[i] = 100 * rank + i, up[i] = 1000 * rank + i, below[i] = above[i] = -1;
      PetscCall(sm_grid_neighbor_exchange(grid, MPI_INT64_T, rank + 1, down, rank + 2, up, rank > 0 ? rank + 1 : 0, below,
                                          rank + 1 < size ? rank + 2 : 0, above));
      bad = 0;
      if (rank > 0)
        for (int i = 0; i < rank + 1; i++) bad += below[i] != 1000 * (rank - 1) + i;
      if (rank + 1 < size)
        for (int i = 0; i < rank + 2; i++) bad += above[i] != 100 * (rank + 1) + i;
      SM_TEST_TRUE(bad == 0, "neighbour exchange: %lld wrong", (long long)bad);
      PetscCall(PetscFree(cnt));
      PetscCall(PetscFree(send));
      PetscCall(PetscFree(recv));
    }
    {
      /* sorted union: rank r holds the halves 2, 1.5, ..., -(r % 4) / 2 in decreasing order, each twice, except rank 1,
         which holds nothing; the union is the halves from -L / 2 up to 2, L the largest r % 4 of the other ranks */
      const int nmine = rank == 1 ? 0 : 2 * (5 + rank % 4);
      double    mine[16], *all = NULL;
      int64_t   nall = 0, bad = 0;
      int       lowest = 0; /* -2 times the smallest value held */
      for (int i = 0; i < nmine; i++) mine[i] = 2.0 - 0.5 * (i / 2);
      for (int r = 0; r < size; r++)
        if (r != 1 && r % 4 > lowest) lowest = r % 4;
      PetscCall(sm_grid_allgather_union(grid, mine, nmine, &all, &nall));
      for (int64_t i = 0; i < nall; i++) bad += all[i] != -0.5 * lowest + 0.5 * (double)i;
      SM_TEST_TRUE(bad == 0 && nall == 5 + lowest, "sorted union: %lld values (expected %d), %lld wrong", (long long)nall,
                   5 + lowest, (long long)bad);
      PetscCall(PetscFree(all));
    }
    PetscCall(PetscFree2(slab, above));
    PetscCall(sm_grid_destroy(&grid));
    SM_TEST_TRUE(grid == NULL, "destroy nulls the handle");
    PetscCall(sm_grid_destroy(&grid)); /* accepts NULL */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 64-bit counts: 2048 x 2048 x 1536 voxels (6.4e9) need no allocation to describe, and the DMDA refuses clearly */
static PetscErrorCode test_64bit(MPI_Comm comm)
{
  const int64_t   n[3] = {2048, 2048, 1536};
  const PetscReal h[3] = {0.01, 0.01, 0.01};
  SMGrid          grid;
  SMGridInfo      g;
  DM              da = NULL;
  PetscErrorCode  ierr;
  int64_t         sum = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  SM_TEST_TRUE(g.n_total == (int64_t)2048 * 2048 * 1536, "64-bit voxel count %lld", (long long)g.n_total);
  PetscCallMPI(MPI_Allreduce(&g.n_local, &sum, 1, MPI_INT64_T, MPI_SUM, comm));
  SM_TEST_TRUE(sum == g.n_total, "local counts sum to the total");
  if (sizeof(PetscInt) == 4) { /* with 64-bit PetscInt the DMDA would be built: tens of GiB */
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = sm_grid_get_dmda(grid, &da);
    PetscCall(PetscPopErrorHandler());
    SM_TEST_TRUE(ierr == PETSC_ERR_SUP, "a DMDA beyond 32-bit PetscInt must be refused (code %d)", (int)ierr);
  }
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* bad sizes and decompositions */
static PetscErrorCode test_bad_sizes(MPI_Comm comm)
{
  const PetscReal h[3] = {0.01, 0.01, 0.01}, hbad[3] = {0.01, 0, 0.01};
  const int64_t   n[3] = {8, 8, 8}, nbad[3] = {8, -1, 8}, nthin[3] = {8, 8, 2};
  SMGrid          grid = NULL;
  PetscErrorCode  e1, e2, e3 = 0;
  PetscMPIInt     size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  e1 = sm_grid_create(comm, nbad, h, &grid);
  e2 = sm_grid_create(comm, n, hbad, &grid);
  if (size == 3) e3 = sm_grid_create(comm, nthin, h, &grid);
  PetscCall(PetscPopErrorHandler());
  SM_TEST_TRUE(e1 != 0 && e2 != 0, "negative size or zero voxel size accepted");
  SM_TEST_TRUE(size != 3 || e3 != 0, "2 z-planes on 3 ranks accepted (more ranks than planes)");
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"slabs and exchanges", test_grid}, {"64-bit counts", test_64bit}, {"bad sizes", test_bad_sizes})
