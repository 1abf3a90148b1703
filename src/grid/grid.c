/* Grid and z-slab decomposition: balanced slabs (plane counts differ by at most one), so every rank count from 1 to nz
 * works whatever FFTW's block size; the FFT moves planes to FFTW's own layout itself (fft.c). The data movements
 * between ranks are in exchange.c. */
#include "grid_impl.h"
#include <fftw3-mpi.h>
#include <string.h>
#include <stochmorph/log.h>

static PetscBool sm_fftw_mpi_initialised = PETSC_FALSE;

PetscErrorCode sm_grid_create(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], SMGrid *grid)
{
  SMGrid    g;
  PetscMPIInt size;

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
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck((int64_t)size <= n[2], comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-grid_size: %lld z planes cannot be split over %d ranks: every rank needs at least one z plane, so at most "
             "%lld ranks can work on this grid; run on at most %lld ranks or give a larger z size",
             (long long)n[2], (int)size, (long long)n[2], (long long)n[2]);
  PetscCall(sm_log_register());
  if (!sm_fftw_mpi_initialised) {
    fftw_mpi_init();
    sm_fftw_mpi_initialised = PETSC_TRUE;
  }
  PetscCall(PetscNew(&g));
  PetscCallMPI(MPI_Comm_dup(comm, &g->comm));
  PetscCallMPI(MPI_Comm_rank(comm, &g->rank));
  g->size = size;
  for (int d = 0; d < 3; d++) {
    g->n[d] = n[d];
    g->h[d] = h[d];
  }
  /* the table is computed, not gathered: every rank knows every slab without communication */
  PetscCall(PetscMalloc4(size, &g->starts, size, &g->counts, size, &g->ystarts, size, &g->ycounts));
  for (int r = 0; r < size; r++) {
    sm_grid_split(n[2], size, r, &g->starts[r], &g->counts[r]);
    sm_grid_split(n[1], size, r, &g->ystarts[r], &g->ycounts[r]);
  }
  g->z_start = g->starts[g->rank];
  g->z_local = g->counts[g->rank];
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
  PetscCall(PetscFree4((*grid)->starts, (*grid)->counts, (*grid)->ystarts, (*grid)->ycounts));
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
  const SMGridHaloSpec spec = {MPI_UINT8_T, 1, g->n[0] * g->n[1], 1, periodic, &fill};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo(g, &spec, slab, slab + (g->z_local - 1) * spec.plane, NULL, above));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int sm_grid_owner_in(const int64_t *starts, const int64_t *counts, int size, int64_t z)
{
  int lo = 0, hi = size - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (starts[mid] <= z) lo = mid;
    else hi = mid - 1;
  }
  while (lo > 0 && counts[lo] == 0) lo--; /* an empty range starting at z belongs to no plane */
  return lo;
}

PetscErrorCode sm_grid_plane_owner(SMGrid g, int64_t z, PetscMPIInt *owner)
{
  PetscFunctionBeginUser;
  PetscCheck(z >= 0 && z < g->n[2], PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Plane %lld outside the grid (0..%lld)",
             (long long)z, (long long)(g->n[2] - 1));
  *owner = (PetscMPIInt)sm_grid_owner_in(g->starts, g->counts, g->size, z);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_iter_begin(SMGrid g, SMGridIter *it)
{
  PetscFunctionBeginUser;
  it->i[0]  = 0;
  it->i[1]  = 0;
  it->i[2]  = g->z_start;
  it->v     = 0;
  it->n[0]  = g->n[0];
  it->n[1]  = g->n[1];
  it->z_end = g->z_start + g->z_local;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_redistribute_u8(SMGrid src, const uint8_t *in, SMGrid dst, uint8_t *out)
{
  int64_t      npa = src->n[0] * src->n[1], npb = dst->n[0] * dst->n[1], *tstart, *tcount, nrecv;
  int          count = 0;
  uint8_t     *rbuf;
  MPI_Datatype plane;

  PetscFunctionBeginUser;
  PetscCheck(src->size == dst->size, src->comm, PETSC_ERR_ARG_INCOMP, "Grids live on different communicators");
  for (int d = 0; d < 3; d++)
    PetscCheck(dst->n[d] >= src->n[d], src->comm, PETSC_ERR_ARG_INCOMP, "Destination grid smaller than source");
  PetscCall(sm_int64_to_int(npa, &count));
  /* the planes of src that fall into each rank's dst slab */
  PetscCall(PetscMalloc2(src->size, &tstart, src->size, &tcount));
  for (int r = 0; r < src->size; r++) {
    tstart[r] = PetscMin(dst->starts[r], src->n[2]);
    tcount[r] = PetscMax(0, PetscMin(dst->starts[r] + dst->counts[r], src->n[2]) - tstart[r]);
  }
  nrecv = tcount[src->rank];
  PetscCall(PetscMalloc1((size_t)(nrecv * npa + 1), &rbuf));
  PetscCallMPI(MPI_Type_contiguous(count, MPI_UINT8_T, &plane));
  PetscCallMPI(MPI_Type_commit(&plane));
  PetscCall(sm_grid_move_planes(src, plane, (size_t)npa, src->starts, src->counts, in, tstart, tcount, rbuf));
  PetscCallMPI(MPI_Type_free(&plane));
  memset(out, 0, (size_t)(dst->z_local * npb));
  for (int64_t k = 0; k < nrecv; k++)
    for (int64_t y = 0; y < src->n[1]; y++) memcpy(out + k * npb + y * dst->n[0], rbuf + k * npa + y * src->n[0], (size_t)src->n[0]);
  PetscCall(PetscFree(rbuf));
  PetscCall(PetscFree2(tstart, tcount));
  PetscFunctionReturn(PETSC_SUCCESS);
}
