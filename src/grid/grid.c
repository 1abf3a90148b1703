/* Grid and z-slab decomposition. The slab of each rank is the one FFTW-MPI assigns to the first (z)
 * dimension of an nz x ny x (nx/2+1) r2c transform, so synthesis, descriptors and the DMDA agree. */
#include "grid_impl.h"
#include <fftw3-mpi.h>
#include <string.h>
#include <stochmorph/log.h>

static PetscBool sm_fftw_mpi_initialised = PETSC_FALSE;

PetscErrorCode sm_grid_create(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], SMGrid *grid)
{
  SMGrid    g;
  ptrdiff_t local_n0, local_0_start, local_n1, local_1_start;
  long long my[2];

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    PetscCheck(n[d] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-grid_size: the %c size must be positive (got %lld); give three positive voxel counts NX,NY,NZ",
               "xyz"[d], (long long)n[d]);
    PetscCheck(h[d] > 0 && PetscIsNormalReal(h[d]), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-voxel_size: the %c voxel size must be positive (got %g um)", "xyz"[d], (double)h[d]);
  }
  PetscCheck(n[0] <= INT64_MAX / n[1] && n[0] * n[1] <= INT64_MAX / n[2], comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-grid_size: %lld x %lld x %lld voxels overflow a 64-bit count", (long long)n[0], (long long)n[1],
             (long long)n[2]);
  PetscCall(sm_log_register());
  if (!sm_fftw_mpi_initialised) {
    fftw_mpi_init();
    sm_fftw_mpi_initialised = PETSC_TRUE;
  }
  PetscCall(PetscNew(&g));
  PetscCallMPI(MPI_Comm_dup(comm, &g->comm));
  PetscCallMPI(MPI_Comm_rank(comm, &g->rank));
  PetscCallMPI(MPI_Comm_size(comm, &g->size));
  for (int d = 0; d < 3; d++) {
    g->n[d] = n[d];
    g->h[d] = h[d];
  }
  (void)fftw_mpi_local_size_3d_transposed((ptrdiff_t)n[2], (ptrdiff_t)n[1], (ptrdiff_t)(n[0] / 2 + 1), g->comm, &local_n0,
                                          &local_0_start, &local_n1, &local_1_start);
  g->z_start = (int64_t)local_0_start;
  g->z_local = (int64_t)local_n0;
  PetscCall(PetscMalloc2(g->size, &g->starts, g->size, &g->counts));
  my[0] = (long long)g->z_start;
  my[1] = (long long)g->z_local;
  {
    long long *all;
    PetscCall(PetscMalloc1(2 * (size_t)g->size, &all));
    PetscCallMPI(MPI_Allgather(my, 2, MPI_LONG_LONG, all, 2, MPI_LONG_LONG, g->comm));
    for (int r = 0; r < g->size; r++) {
      g->starts[r] = (int64_t)all[2 * r];
      g->counts[r] = (int64_t)all[2 * r + 1];
    }
    PetscCall(PetscFree(all));
  }
  for (int r = 0; r < g->size; r++) {
    if (g->counts[r] < 1) {
      int size = g->size;
      int64_t block = (n[2] + size - 1) / size;
      PetscCall(sm_grid_destroy(&g));
      SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE,
              "-grid_size: %lld z-slices cannot be split over %d ranks (FFTW gives slabs of %lld planes, leaving rank %d "
              "empty); use fewer ranks (every rank needs at least one z plane) or a larger z size",
              (long long)n[2], size, (long long)block, r);
    }
  }
  *grid = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_create_from_options(MPI_Comm comm, const int64_t n_default[3], PetscReal h_default, SMGrid *grid)
{
  PetscInt  nn[3] = {(PetscInt)n_default[0], (PetscInt)n_default[1], (PetscInt)n_default[2]}, nn_count = 3;
  PetscReal hh[3] = {h_default, h_default, h_default};
  PetscInt  hh_count = 3;
  PetscBool set_n, set_h;
  int64_t   n[3];

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Grid options", "SMGrid");
  PetscCall(PetscOptionsIntArray("-grid_size", "Voxels along x,y,z (one value: a cube)", "sm_grid_create", nn, &nn_count,
                                 &set_n));
  PetscCall(PetscOptionsRealArray("-voxel_size", "Voxel size in um: H or HX,HY,HZ", "sm_grid_create", hh, &hh_count, &set_h));
  PetscOptionsEnd();
  if (set_n) {
    PetscCheck(nn_count == 1 || nn_count == 3, comm, PETSC_ERR_ARG_WRONG,
               "-grid_size takes one value (a cube) or three values NX,NY,NZ; got %d", (int)nn_count);
    if (nn_count == 1) nn[1] = nn[2] = nn[0];
  }
  if (set_h) {
    PetscCheck(hh_count == 1 || hh_count == 3, comm, PETSC_ERR_ARG_WRONG,
               "-voxel_size takes one value H or three values HX,HY,HZ (um); got %d", (int)hh_count);
    if (hh_count == 1) hh[1] = hh[2] = hh[0];
  }
  for (int d = 0; d < 3; d++) n[d] = (int64_t)nn[d];
  PetscCall(sm_grid_create(comm, n, hh, grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_destroy(SMGrid *grid)
{
  PetscFunctionBeginUser;
  if (!grid || !*grid) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DMDestroy(&(*grid)->da));
  PetscCall(PetscFree2((*grid)->starts, (*grid)->counts));
  PetscCallMPI(MPI_Comm_free(&(*grid)->comm));
  PetscCall(PetscFree(*grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_get_info(SMGrid g, SMGridInfo *info)
{
  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    info->n[d] = g->n[d];
    info->h[d] = g->h[d];
  }
  info->z_start = g->z_start;
  info->z_local = g->z_local;
  info->n_plane = g->n[0] * g->n[1];
  info->n_local = info->n_plane * g->z_local;
  info->n_total = info->n_plane * g->n[2];
  info->rank    = g->rank;
  info->size    = g->size;
  PetscFunctionReturn(PETSC_SUCCESS);
}

MPI_Comm sm_grid_comm(SMGrid g) { return g->comm; }

PetscErrorCode sm_grid_get_slabs(SMGrid g, const int64_t **starts, const int64_t **counts)
{
  PetscFunctionBeginUser;
  if (starts) *starts = g->starts;
  if (counts) *counts = g->counts;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_get_dmda(SMGrid g, DM *da)
{
  PetscFunctionBeginUser;
  if (!g->da) {
    PetscInt *lz;
    PetscCheck(g->n[0] * g->n[1] * g->n[2] <= (int64_t)PETSC_MAX_INT, g->comm, PETSC_ERR_SUP,
               "The grid has %lld voxels, more than this PETSc build's %d-bit PetscInt can index in a DMDA",
               (long long)(g->n[0] * g->n[1] * g->n[2]), (int)(8 * sizeof(PetscInt)));
    PetscCall(PetscMalloc1(g->size, &lz));
    for (int r = 0; r < g->size; r++) lz[r] = (PetscInt)g->counts[r];
    PetscCall(DMDACreate3d(g->comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_BOX, (PetscInt)g->n[0],
                           (PetscInt)g->n[1], (PetscInt)g->n[2], 1, 1, g->size, 1, 1, NULL, NULL, lz, &g->da));
    PetscCall(DMSetUp(g->da));
    PetscCall(PetscFree(lz));
  }
  *da = g->da;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_get_plane_above_u8(SMGrid g, const uint8_t *slab, PetscBool periodic, uint8_t fill, uint8_t *above)
{
  int64_t     np = g->n[0] * g->n[1];
  int         count = 0;
  PetscMPIInt up = g->rank + 1, down = g->rank - 1;

  PetscFunctionBeginUser;
  PetscCall(sm_int64_to_int(np, &count));
  /* slabs are ordered by rank, so the plane above comes from rank + 1 and this rank's first plane goes to rank - 1 */
  if (periodic) {
    up   = up % g->size;
    down = (down + g->size) % g->size;
  } else {
    if (up >= g->size) {
      up = MPI_PROC_NULL;
      memset(above, fill, (size_t)np);
    }
    if (down < 0) down = MPI_PROC_NULL;
  }
  PetscCallMPI(MPI_Sendrecv(slab, count, MPI_UINT8_T, down, 11, above, count, MPI_UINT8_T, up, 11, g->comm, MPI_STATUS_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Owner rank of global plane z in grid g (slabs are contiguous and ordered by rank). */
static int sm_grid_owner(SMGrid g, int64_t z)
{
  int lo = 0, hi = g->size - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (g->starts[mid] <= z) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

PetscErrorCode sm_grid_redistribute_u8(SMGrid src, const uint8_t *in, SMGrid dst, uint8_t *out)
{
  int64_t      npa = src->n[0] * src->n[1], npb = dst->n[0] * dst->n[1];
  int         *scount, *sdispl, *rcount, *rdispl, count = 0;
  uint8_t     *rbuf;
  MPI_Datatype plane;
  int64_t      nrecv = 0;

  PetscFunctionBeginUser;
  PetscCheck(src->size == dst->size, src->comm, PETSC_ERR_ARG_INCOMP, "Grids live on different communicators");
  for (int d = 0; d < 3; d++)
    PetscCheck(dst->n[d] >= src->n[d], src->comm, PETSC_ERR_ARG_INCOMP, "Destination grid smaller than source");
  PetscCall(sm_int64_to_int(npa, &count));
  PetscCall(PetscCalloc4(src->size, &scount, src->size, &sdispl, src->size, &rcount, src->size, &rdispl));
  for (int64_t z = src->z_start; z < src->z_start + src->z_local; z++) scount[sm_grid_owner(dst, z)]++;
  for (int64_t z = dst->z_start; z < dst->z_start + dst->z_local && z < src->n[2]; z++) {
    rcount[sm_grid_owner(src, z)]++;
    nrecv++;
  }
  for (int r = 1; r < src->size; r++) {
    sdispl[r] = sdispl[r - 1] + scount[r - 1];
    rdispl[r] = rdispl[r - 1] + rcount[r - 1];
  }
  PetscCall(PetscMalloc1((size_t)(nrecv * npa + 1), &rbuf));
  PetscCallMPI(MPI_Type_contiguous(count, MPI_UINT8_T, &plane));
  PetscCallMPI(MPI_Type_commit(&plane));
  PetscCallMPI(MPI_Alltoallv(in, scount, sdispl, plane, rbuf, rcount, rdispl, plane, src->comm));
  PetscCallMPI(MPI_Type_free(&plane));
  memset(out, 0, (size_t)(dst->z_local * npb));
  /* planes arrive ordered by source rank, hence by global z */
  for (int64_t k = 0; k < nrecv; k++)
    for (int64_t y = 0; y < src->n[1]; y++) memcpy(out + k * npb + y * dst->n[0], rbuf + k * npa + y * src->n[0], (size_t)src->n[0]);
  PetscCall(PetscFree(rbuf));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscFunctionReturn(PETSC_SUCCESS);
}
