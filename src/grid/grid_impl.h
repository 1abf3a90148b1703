#ifndef STOCHMORPH_GRID_IMPL_H
#define STOCHMORPH_GRID_IMPL_H
#include <stochmorph/grid.h>

struct _p_SMGrid {
  MPI_Comm    comm;
  PetscMPIInt rank, size;
  int64_t     n[3];
  PetscReal   h[3];
  int64_t     z_start, z_local;
  int64_t    *starts, *counts; /* every rank's slab */
  DM          da;              /* created on demand */
};
#endif
