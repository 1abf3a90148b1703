/* Volumes and slab arrays for the tests, built from a function of the global voxel index: every rank fills its own
 * slab from the same function, so any rank count builds the same volume without a gather, and the function itself is
 * the independent truth a test compares with. Also the gather of a slab array to every rank, for the serial
 * references. Header-only like smtest.h. */
#ifndef SMTEST_VOLUME_H
#define SMTEST_VOLUME_H

#include <stochmorph/volume.h>

/* The phase names of a two-phase volume. */
static const char *const sm_test_pore_solid[2] = {"pore", "solid"};

/* The label (or mask value, 0..255) of the voxel at global index (i, j, k) along (x, y, z); ctx as given. */
typedef int (*SMTestVoxelFn)(int64_t i, int64_t j, int64_t k, void *ctx);

/* slab[v] = f(i, j, k, ctx) for every voxel of this rank's slab of grid ([z_local][ny][nx], x fastest; slab holds
   n_local bytes). Not collective. */
static inline PetscErrorCode sm_test_fill_slab(SMGrid grid, SMTestVoxelFn f, void *ctx, uint8_t *slab)
{
  SMGridIter it;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_iter_begin(grid, &it));
  for (; sm_grid_iter_valid(&it); sm_grid_iter_next(&it)) {
    const int label = f(it.i[0], it.i[1], it.i[2], ctx);
    PetscCheck(label >= 0 && label <= 255, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "The test's voxel function gave %d at (%lld, %lld, %lld): a label is 0..255", label, (long long)it.i[0],
               (long long)it.i[1], (long long)it.i[2]);
    slab[it.v] = (uint8_t)label;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A volume on a new grid of comm with n voxels of size h, nphases phases called names and the labels f(i, j, k, ctx)
   (non-periodic, as sm_volume_create makes it). The volume and its grid belong to the caller: free both with
   sm_test_volume_destroy. Collective. */
static inline PetscErrorCode sm_test_volume_from_function(MPI_Comm comm, const int64_t n[3], const PetscReal h[3],
                                                          int nphases, const char *const names[], SMTestVoxelFn f,
                                                          void *ctx, SMVolume *vol)
{
  SMGrid   grid;
  uint8_t *labels;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_volume_create(grid, nphases, names, vol));
  PetscCall(sm_volume_get_labels(*vol, &labels));
  PetscCall(sm_test_fill_slab(grid, f, ctx, labels));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The label of the voxel at the physical position X = (i h_x, j h_y, k h_z) um (its index times the voxel size); ctx as
   given. */
typedef int (*SMTestPointFn)(const double X[3], const void *ctx);

typedef struct {
  SMTestPointFn fn;
  const void   *ctx;
  PetscReal     h[3];
} SMTestPoints_;

static inline int sm_test_point_voxel_(int64_t i, int64_t j, int64_t k, void *ctx)
{
  const SMTestPoints_ *p    = (const SMTestPoints_ *)ctx;
  const double         X[3] = {i * p->h[0], j * p->h[1], k * p->h[2]};
  return p->fn(X, p->ctx);
}

/* sm_test_volume_from_function with the labels fn(X, ctx) of the voxels' physical positions X. Collective. */
static inline PetscErrorCode sm_test_volume_from_points(MPI_Comm comm, const int64_t n[3], const PetscReal h[3],
                                                        int nphases, const char *const names[], SMTestPointFn fn,
                                                        const void *ctx, SMVolume *vol)
{
  SMTestPoints_ p = {fn, ctx, {h[0], h[1], h[2]}};

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_function(comm, n, h, nphases, names, sm_test_point_voxel_, &p, vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Destroy a volume together with the grid it lives on, for volumes whose grid nobody else holds (those of
   sm_test_volume_from_function, sm_image_read, sm_model_generate on a grid made for it). Accepts NULL and nulls the
   handle. Collective. */
static inline PetscErrorCode sm_test_volume_destroy(SMVolume *vol)
{
  SMGrid grid;

  PetscFunctionBeginUser;
  if (!vol || !*vol) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_volume_get_grid(*vol, &grid));
  PetscCall(sm_volume_destroy(vol));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The whole array [nz][ny][nx] on every rank, from every rank's slab of grid; elements of MPI type dt, full holds
   n_total of them. Collective. */
static inline PetscErrorCode sm_test_allgather_slabs(SMGrid grid, const void *slab, MPI_Datatype dt, void *full)
{
  SMGridInfo     g;
  const int64_t *starts, *counts;
  int           *rc, *rd, mine;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_grid_get_slabs(grid, &starts, &counts));
  PetscCall(PetscMalloc2(g.size, &rc, g.size, &rd));
  for (int r = 0; r < g.size; r++) {
    PetscCall(sm_int64_to_int(counts[r] * g.n_plane, &rc[r]));
    PetscCall(sm_int64_to_int(starts[r] * g.n_plane, &rd[r]));
  }
  PetscCall(sm_int64_to_int(g.n_local, &mine));
  PetscCallMPI(MPI_Allgatherv(slab, mine, dt, full, rc, rd, dt, sm_grid_comm(grid)));
  PetscCall(PetscFree2(rc, rd));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every label of vol on every rank of its communicator: *all (n_total bytes, [nz][ny][nx]) is PetscMalloc'd, free it
   with PetscFree. Collective. */
static inline PetscErrorCode sm_test_volume_allgather(SMVolume vol, uint8_t **all)
{
  SMGrid     grid;
  SMGridInfo g;
  uint8_t   *labels;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &labels));
  PetscCall(PetscMalloc1(g.n_total, all));
  PetscCall(sm_test_allgather_slabs(grid, labels, MPI_UINT8_T, *all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

#endif
