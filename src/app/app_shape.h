/* Commands of the off-grid geometry (SPEC 7): `stochmorph shape` and `stochmorph rasterize` (src/app/shape.c). */
#ifndef STOCHMORPH_APP_SHAPE_H
#define STOCHMORPH_APP_SHAPE_H

#include "app.h"

/* stochmorph shape -i volume.h5 [-shape_phase solid] [-sh_degree 10] -o shapes.h5. Collective. */
PetscErrorCode sm_cmd_shape(MPI_Comm comm);
/* stochmorph rasterize -i shapes.h5 [-voxel_size h] [-grid_size n] [-raster_subsamples 4] -o volume.h5. Collective. */
PetscErrorCode sm_cmd_rasterize(MPI_Comm comm);

#endif
