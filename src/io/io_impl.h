/* Private helpers shared by the HDF5 writer and its XDMF sidecar. */
#ifndef STOCHMORPH_IO_IMPL_H
#define STOCHMORPH_IO_IMPL_H

#include <stochmorph/io.h>

/* Write the XDMF sidecar xmf_path describing the HDF5 file h5_name (a name relative to the sidecar, so the pair
   can be moved together): a 3DCoRectMesh of n = {nx, ny, nz} cells of size h = {hx, hy, hz} um, with the cell
   attribute "labels" (if has_labels) and one Float64 cell attribute per name in fields (/fields/<name>).
   Collective: rank 0 writes, every rank returns the same error. */
PetscErrorCode sm_io_xdmf_write(MPI_Comm comm, const char *xmf_path, const char *h5_name, const int64_t n[3],
                                const PetscReal h[3], PetscBool has_labels, int nfields, const char *const fields[]);

#endif
