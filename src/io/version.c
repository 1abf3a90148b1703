/* The build block (include/stochmorph/version.h): one table filled once from the libraries' own version calls, so
 * --version, the JSON "build" object and the HDF5 "build.*" attributes cannot disagree. */
#include <stochmorph/version.h>
#include <fftw3.h>
#include <gsl/gsl_version.h>
#include <hdf5.h>
#include <tiffio.h>
#include <string.h>
#include <stdio.h>

static const char *const sm_version_keys[SM_VERSION_NKEYS] = {
  "stochmorph", "git", "petsc", "petsc_int_bytes", "petsc_scalar_bytes", "mpi_standard", "mpi_library",
  "hdf5",       "fftw", "gsl",  "libtiff"};
static char        sm_version_text[SM_VERSION_NKEYS][256];
static const char *sm_version_values[SM_VERSION_NKEYS];
static int         sm_version_filled = 0;

/* The first line of s, without trailing blanks, into buf. */
static void sm_version_first_line(const char *s, char *buf, size_t len)
{
  size_t n = strcspn(s, "\r\n");
  if (n >= len) n = len - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == ',')) buf[--n] = 0;
}

PetscErrorCode sm_version_get(int *n, const char *const **keys, const char *const **values)
{
  PetscFunctionBeginUser;
  if (!sm_version_filled) {
    char        mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int         len = 0, mv = 0, ms = 0;
    unsigned    h5[3];
    PetscInt    pv[4];
    const char *tiff = TIFFGetVersion(), *tv;

    PetscCall(PetscGetVersionNumber(&pv[0], &pv[1], &pv[2], &pv[3]));
    PetscCallMPI(MPI_Get_library_version(mpi, &len));
    PetscCallMPI(MPI_Get_version(&mv, &ms));
    SM_CALL_HDF5(H5get_libversion(&h5[0], &h5[1], &h5[2]));
    snprintf(sm_version_text[0], 256, "%s", SM_VERSION_STRING);
    snprintf(sm_version_text[1], 256, "%s", sm_version_git());
    snprintf(sm_version_text[2], 256, "%d.%d.%d%s", (int)pv[0], (int)pv[1], (int)pv[2], pv[3] ? "" : " (development)");
    snprintf(sm_version_text[3], 256, "%d", (int)sizeof(PetscInt));
    snprintf(sm_version_text[4], 256, "%d", (int)sizeof(PetscScalar));
    snprintf(sm_version_text[5], 256, "%d.%d", mv, ms);
    sm_version_first_line(mpi, sm_version_text[6], 256);
#ifdef H5_HAVE_PARALLEL
    snprintf(sm_version_text[7], 256, "%u.%u.%u (parallel)", h5[0], h5[1], h5[2]);
#else
    snprintf(sm_version_text[7], 256, "%u.%u.%u (serial)", h5[0], h5[1], h5[2]);
#endif
    sm_version_first_line(fftw_version, sm_version_text[8], 256);
    snprintf(sm_version_text[9], 256, "%s", gsl_version);
    /* "LIBTIFF, Version 4.5.0\nCopyright ...": keep the number */
    tv = tiff ? strstr(tiff, "Version ") : NULL;
    sm_version_first_line(tv ? tv + 8 : (tiff ? tiff : "unknown"), sm_version_text[10], 256);
    for (int i = 0; i < SM_VERSION_NKEYS; i++) sm_version_values[i] = sm_version_text[i];
    sm_version_filled = 1;
  }
  if (n) *n = SM_VERSION_NKEYS;
  if (keys) *keys = sm_version_keys;
  if (values) *values = sm_version_values;
  PetscFunctionReturn(PETSC_SUCCESS);
}

const char *sm_version_code(void)
{
  static char buf[128];
  if (!buf[0]) snprintf(buf, sizeof(buf), "%s (%s)", SM_VERSION_STRING, sm_version_git());
  return buf;
}

const char *sm_version_software(void)
{
  static char buf[160];
  if (!buf[0]) snprintf(buf, sizeof(buf), "stochmorph %s", sm_version_code());
  return buf;
}

PetscErrorCode sm_version_print(MPI_Comm comm, FILE *fp)
{
  int                n;
  const char *const *k, *const *v;

  PetscFunctionBeginUser;
  PetscCall(sm_version_get(&n, &k, &v));
  PetscCall(PetscFPrintf(comm, fp, "stochmorph %s (git %s)\n", v[0], v[1]));
  for (int i = 2; i < n; i++) PetscCall(PetscFPrintf(comm, fp, "  %-19s %s\n", k[i], v[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}
