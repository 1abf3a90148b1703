/* HDF5 volumes (collective parallel I/O, each rank its slab) and their XDMF sidecars (SPEC 8).
 *
 * A writer creates "<path>.partial" at once (so an unwritable path fails before any large allocation),
 * writes datasets collectively, and on a successful close sets the `complete` attribute last, renames the
 * file to <path> and writes the XDMF sidecar (<path> with .xmf). Closing with complete = PETSC_FALSE (an
 * error path) removes the partial file: nothing is left that looks complete. */
#ifndef STOCHMORPH_IO_H
#define STOCHMORPH_IO_H

#include <stochmorph/volume.h>

typedef struct _p_SMH5Writer *SMH5Writer;

/* Open a writer for path on comm. Collective. Errors name the path if it cannot be created. */
PetscErrorCode sm_h5_writer_open(MPI_Comm comm, const char *path, SMH5Writer *w);
/* /labels (uint8, [z][y][x], contiguous) with attributes voxel_size (um; x, y, z), grid_size (x, y, z),
   phase_names, periodic and every provenance attribute of vol. Collective. */
PetscErrorCode sm_h5_writer_write_volume(SMH5Writer w, SMVolume vol);
/* /fields/<name> (float64, [z][y][x]) from this rank's slab, whose x rows are row_stride doubles apart
   (row_stride >= nx: FFT-padded rows can be written as they are). Collective. */
PetscErrorCode sm_h5_writer_write_field(SMH5Writer w, SMGrid grid, const char *name, const double *slab, int64_t row_stride);
/* Finish (complete = PETSC_TRUE: mark complete, rename, write XDMF) or abandon (remove the partial file).
   Accepts NULL. Collective. */
PetscErrorCode sm_h5_writer_close(SMH5Writer *w, PetscBool complete);

#endif
