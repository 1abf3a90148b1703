/* The grid: global voxel counts, physical voxel size and the z-slab decomposition.
 *
 * Memory order is C order [z][y][x] (x fastest). Rank r owns the contiguous z planes
 * [z_start, z_start + z_local), exactly the slab FFTW-MPI gives to the first dimension of an
 * nz x ny x nx transform, and the PETSc DMDA returned by sm_grid_get_dmda() has the same
 * ownership (its lz array), so FFT data and stencil data share one layout. This module is the
 * only place that knows how the volume is split. */
#ifndef STOCHMORPH_GRID_H
#define STOCHMORPH_GRID_H

#include <stochmorph/sys.h>
#include <petscdmda.h>

typedef struct _p_SMGrid *SMGrid;

/* Read-only description of the grid and of this rank's slab. */
typedef struct {
  int64_t   n[3];       /* global voxel counts along x, y, z */
  PetscReal h[3];       /* voxel size along x, y, z [um] */
  int64_t   z_start;    /* first z plane owned by this rank */
  int64_t   z_local;    /* number of z planes owned by this rank (>= 1) */
  int64_t   n_plane;    /* n[0] * n[1] */
  int64_t   n_local;    /* z_local * n_plane: voxels owned by this rank */
  int64_t   n_total;    /* n[0] * n[1] * n[2] */
  PetscMPIInt rank, size;
} SMGridInfo;

/* Create a grid of n = {nx, ny, nz} voxels of size h = {hx, hy, hz} um on comm. Collective.
   Refuses non-positive sizes and decompositions that would leave a rank without a z plane. */
PetscErrorCode sm_grid_create(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], SMGrid *grid);

/* Create a grid from -grid_size NX,NY,NZ and -voxel_size H | HX,HY,HZ (defaults given). Collective. */
PetscErrorCode sm_grid_create_from_options(MPI_Comm comm, const int64_t n_default[3], PetscReal h_default, SMGrid *grid);

/* Destroy; accepts NULL and nulls the handle. Collective. */
PetscErrorCode sm_grid_destroy(SMGrid *grid);

PetscErrorCode sm_grid_get_info(SMGrid grid, SMGridInfo *info);
MPI_Comm       sm_grid_comm(SMGrid grid);

/* z-slab of every rank: starts[r], counts[r] (arrays of length size, owned by the grid). */
PetscErrorCode sm_grid_get_slabs(SMGrid grid, const int64_t **starts, const int64_t **counts);

/* The DMDA with the same z-slabs (dof 1, stencil width 1, box stencil, non-periodic), created on first
   use and owned by the grid. Collective on first call. Fails clearly when the grid exceeds 32-bit PetscInt. */
PetscErrorCode sm_grid_get_dmda(SMGrid grid, DM *da);

/* The first z plane of the next rank's slab (the plane above this rank's last one) into above (n_plane bytes), given
   this rank's slab [z_local][ny][nx]. periodic: the last rank receives plane 0; otherwise its above is set to fill.
   One plane of extra memory, no copy of the slab. Collective. */
PetscErrorCode sm_grid_get_plane_above_u8(SMGrid grid, const uint8_t *slab, PetscBool periodic, uint8_t fill, uint8_t *above);

/* Move a [z][y][x] uint8 slab array of grid src into grid dst (distributed differently), embedding it at the
   origin of the (at least as large) dst grid and filling the rest with zeros. Collective. Used for padded FFTs. */
PetscErrorCode sm_grid_redistribute_u8(SMGrid src, const uint8_t *in, SMGrid dst, uint8_t *out);

#endif
