#ifndef STOCHMORPH_GRID_IMPL_H
#define STOCHMORPH_GRID_IMPL_H
#include <stochmorph/grid.h>

struct _p_SMGrid {
  MPI_Comm    comm;
  PetscMPIInt rank, size;
  int64_t     n[3];
  PetscReal   h[3];
  int64_t     z_start, z_local;
  int64_t    *starts, *counts;   /* every rank's z-slab (balanced) */
  int64_t    *ystarts, *ycounts; /* every rank's rows of the y-slab layout (balanced, possibly empty) */
  DM          da;                /* created on demand */
};

/* The balanced split of n items over size ranks: rank r gets count items from start. */
static inline void sm_grid_split(int64_t n, int64_t size, int64_t r, int64_t *start, int64_t *count)
{
  const int64_t q = n / size, rem = n % size;
  *count = q + (r < rem ? 1 : 0);
  *start = r * q + (r < rem ? r : rem);
}

/* Owner of item z among ranks whose contiguous ranges start at starts[] (ordered by rank); ranks with empty ranges
   are skipped (their start equals the next one's, the search returns the last rank starting at or below z). */
int sm_grid_owner_in(const int64_t *starts, const int64_t *counts, int size, int64_t z);

/* Move whole planes between two z partitions of the same planes on grid's communicator: this rank holds planes
   [from_start[me], +from_count[me]) in `in` and receives planes [to_start[me], +to_count[me]) into `out`. A plane is
   one element of MPI type `plane` (plane_bytes bytes). Only ranks that share planes exchange. Collective. */
PetscErrorCode sm_grid_move_planes(SMGrid grid, MPI_Datatype plane, size_t plane_bytes, const int64_t *from_start,
                                   const int64_t *from_count, const void *in, const int64_t *to_start,
                                   const int64_t *to_count, void *out);
#endif
