/* The build block: versions of stochmorph and of every library it runs on, as `stochmorph --version` prints them and
 * as every output file records them (the "build" object of JSON files, "build.*" attributes of HDF5 files). */
#ifndef STOCHMORPH_VERSION_H
#define STOCHMORPH_VERSION_H

#include <stochmorph/sys.h>

/* Number of entries of the build block. */
#define SM_VERSION_NKEYS 11

/* Git revision of the source tree the library was built from (`git describe --always --dirty --tags`, refreshed at
   every build), or "unknown" outside a git checkout. */
const char *sm_version_git(void);

/* "0.1.0 (<git revision>)": the code_version of output files. */
const char *sm_version_code(void);

/* "stochmorph 0.1.0 (<git revision>)": the software attribute of output files. */
const char *sm_version_software(void);

/* The build block as SM_VERSION_NKEYS key/value pairs ("stochmorph", "git", "petsc", "petsc_int_bytes",
   "petsc_scalar_bytes", "mpi_standard", "mpi_library", "hdf5", "fftw", "gsl", "libtiff"). The strings are owned by
   the library and stay valid. Versions are those of the libraries linked at run time where the library can say
   (PETSc, MPI, HDF5, FFTW, GSL, libtiff). Not collective; call after MPI_Init (PetscInitialize). */
PetscErrorCode sm_version_get(int *n, const char *const **keys, const char *const **values);

/* Print the build block as aligned "key  value" lines on rank 0 of comm to fp (stdout or stderr). Collective. */
PetscErrorCode sm_version_print(MPI_Comm comm, FILE *fp);

#endif
