/* Sub-particle files (HDF5). The data are small (a few hundred bytes per sub-particle), so rank 0 writes and reads
 * them with the serial driver and broadcasts; every failure is broadcast too, so all ranks return the same error.
 *
 * Layout:
 *   /                   attributes format = "stochmorph-shapes-1", software, complete = 1 (set last)
 *   /shapes/centres     float64 [n][3]  centre x_c [um], origin at the low corner of voxel (0, 0, 0)
 *   /shapes/coeffs      float64 [n][(L+1)^2]  coefficients of psi [um], index l^2 + l + m
 *   /shapes/fit_error   float64 [n]     RMS fit residual [um]
 *   /shapes/voxels      int64 [n]       voxels of each sub-particle in the source (0 for a patch: its voxels are
 *                                       counted in the parts it patches)
 *   attributes of /shapes: degree, source_grid_size (int64[3]), source_voxel_size (float64[3], um), phase_names,
 *   phase, source_file, marker_height (um), directions, centres_moved, not_star_shaped, basins, basins_split,
 *   star_shaped_volume_fraction (the fraction of the phase's voxels in sub-particles that are star-shaped from their
 *   centre; patches not counted), patches (sub-particles that cover voxels the fitted parts left out), uncovered
 *   (voxels of the phase left out even so, at the source voxel size; -1: not checked), harmonics (the convention).
 * Written as "<path>.partial" and renamed when complete; an error removes the partial file. */
#include "shape_impl.h"
#include <stochmorph/version.h>
#include <stochmorph/h5util.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SM_SHAPES_FORMAT "stochmorph-shapes-1"
#define SM_SHAPES_HARMONICS                                                                                           \
  "real spherical harmonics: Y_l0 = P_l^0, Y_lm = sqrt(2) P_l^m cos(m phi), Y_l-m = sqrt(2) P_l^m sin(m phi), P_l^m " \
  "in GSL_SF_LEGENDRE_SPHARM normalisation without the Condon-Shortley phase; coefficient index l^2 + l + m"

/* Rank 0: write everything into the open file; 0 or -1. */
static herr_t sm_sh_write_contents(hid_t file, const SMShapes *s)
{
  const hsize_t n = (hsize_t)s->n, d3[2] = {n, 3}, dc[2] = {n, (hsize_t)s->ncoeffs};
  const char   *phases[SM_MAX_PHASES], *one;
  hid_t         grp;
  herr_t        e         = 0;
  int64_t       counts[6] = {s->moved, s->not_star, s->basins, s->split, s->patches, s->uncovered};

  for (int i = 0; i < s->nphases; i++) phases[i] = s->phase_names[i];
  one = SM_SHAPES_FORMAT;
  if (sm_h5_attr_write_strings(file, "format", 1, &one, 1) < 0) return -1;
  one = sm_version_software();
  if (sm_h5_attr_write_strings(file, "software", 1, &one, 1) < 0) return -1;
  if (sm_h5_attr_write_build(file) < 0) return -1;
  grp = H5Gcreate2(file, "/shapes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (grp < 0) return -1;
  if (sm_h5_dataset_write(grp, "centres", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d3, s->centres) < 0 ||
      sm_h5_dataset_write(grp, "coeffs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dc, s->coeffs) < 0 ||
      sm_h5_dataset_write(grp, "fit_error", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, s->fit_error) < 0 ||
      sm_h5_dataset_write(grp, "voxels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &n, s->voxels) < 0 ||
      sm_h5_attr_write(grp, "degree", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &s->degree) < 0 ||
      sm_h5_attr_write(grp, "source_grid_size", H5T_STD_I64LE, H5T_NATIVE_INT64, 3, s->source_n) < 0 ||
      sm_h5_attr_write(grp, "source_voxel_size", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, s->source_h) < 0 ||
      sm_h5_attr_write(grp, "marker_height", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &s->marker_height) < 0 ||
      sm_h5_attr_write(grp, "directions", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &s->ndirections) < 0 ||
      sm_h5_attr_write(grp, "centres_moved", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[0]) < 0 ||
      sm_h5_attr_write(grp, "not_star_shaped", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[1]) < 0 ||
      sm_h5_attr_write(grp, "basins", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[2]) < 0 ||
      sm_h5_attr_write(grp, "basins_split", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[3]) < 0 ||
      sm_h5_attr_write(grp, "patches", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[4]) < 0 ||
      sm_h5_attr_write(grp, "uncovered", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &counts[5]) < 0 ||
      sm_h5_attr_write(grp, "star_shaped_volume_fraction", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                       &s->star_volume_fraction) < 0 ||
      sm_h5_attr_write(grp, "radial_offset", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &s->radial_offset) < 0 ||
      (s->nphases > 0 && sm_h5_attr_write_strings(grp, "phase_names", s->nphases, phases, 0) < 0))
    e = -1;
  if (!e) {
    const char *v[4] = {s->phase, s->source, SM_SHAPES_HARMONICS, "um"};
    if (sm_h5_attr_write_strings(grp, "phase", 1, &v[0], 1) < 0 || sm_h5_attr_write_strings(grp, "source_file", 1, &v[1], 1) < 0 ||
        sm_h5_attr_write_strings(grp, "harmonics", 1, &v[2], 1) < 0 || sm_h5_attr_write_strings(grp, "units", 1, &v[3], 1) < 0)
      e = -1;
  }
  if (H5Gclose(grp) < 0) e = -1;
  return e;
}

PetscErrorCode sm_shape_write(MPI_Comm comm, const char *path, const SMShapes *s)
{
  PetscMPIInt rank;
  int         err = 0; /* 1: cannot create (errno in sys), 2: HDF5 write failed, 3: rename failed */
  int         sys = 0;
  char        partial[PETSC_MAX_PATH_LEN], why[256] = "";
  const char *dot = path ? strrchr(path, '.') : NULL;

  PetscFunctionBeginUser;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "-o: no output file given; name one ending in .h5");
  PetscCheck(dot && (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5")) && !strchr(dot, '/'), comm,
             PETSC_ERR_ARG_WRONG,
             "-o: '%s' does not end in .h5 or .hdf5; shapes are written as HDF5, e.g. -o shapes.h5", path);
  PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    FILE *f = fopen(partial, "wb");
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!f) {
      err = 1;
      sys = errno;
    } else {
      hid_t file;
      fclose(f);
      errno = 0;
      file  = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
      if (file < 0)
        err = 2;
      else {
        int c = 1;
        if (sm_sh_write_contents(file, s) < 0) err = 2;
        if (!err && sm_h5_attr_write(file, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &c) < 0) err = 2;
        if (H5Fclose(file) < 0) err = 2;
      }
      if (err == 2) sm_sys_write_reason(partial, errno, why, sizeof(why));
      if (!err && (sys = sm_sys_commit(partial, path))) err = 3;
      if (err) (void)remove(partial);
    }
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(&sys, 1, MPI_INT, 0, comm));
  PetscCheck(
      err != 1, comm, PETSC_ERR_FILE_OPEN,
      "-o: cannot create the output file '%s' (creating '%s' failed: %s); check that the directory exists and is "
      "writable, or choose another path with -o",
      path, partial, strerror(sys));
  PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, comm));
  PetscCheck(err != 2, comm, PETSC_ERR_FILE_WRITE, "Could not write '%s': %s (the partial file was removed)", path, why);
  PetscCheck(err != 3, comm, PETSC_ERR_FILE_WRITE, "Cannot rename the finished '%s' to '%s': %s", partial, path,
             strerror(sys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- reading ---- */

typedef struct {
  int     degree, ndirections, nphases;
  int64_t n, source_n[3], moved, not_star, basins, split, patches, uncovered;
  double  source_h[3], marker_height, star_fraction, radial_offset;
} SMShapesHeader;

/* Rank 0: open and read the header; msg set on failure. */
static int sm_sh_read_header(const char *path, hid_t *file, hid_t *grp, SMShapesHeader *hd, SMShapes *s, char *msg,
                             size_t len)
{
  char    fmt[64] = "";
  int     nf = 0, complete = 0, np = 0;
  hid_t   dset, space;
  hsize_t dims[2];

  *grp  = -1;
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0) return snprintf(msg, len, "-i: '%s' is not an HDF5 file, or HDF5 cannot open it", path), 1;
  if (sm_h5_attr_read_strings_into(*file, "format", 1, sizeof(fmt), fmt, &nf) < 0 || strcmp(fmt, SM_SHAPES_FORMAT))
    return snprintf(msg, len,
                    "-i: '%s' is not a sub-particle file (no format = \"%s\"; write one with `stochmorph shape`)", path,
                    SM_SHAPES_FORMAT),
           1;
  if (sm_h5_attr_read(*file, "complete", H5T_NATIVE_INT, 1, &complete) < 0 || complete != 1)
    return snprintf(msg, len, "-i: file '%s' is incomplete (a run was interrupted while writing it); write it again",
                    path),
           1;
  *grp = H5Gopen2(*file, "/shapes", H5P_DEFAULT);
  if (*grp < 0) return snprintf(msg, len, "-i: '%s' has no group /shapes", path), 1;
  if (sm_h5_attr_read(*grp, "degree", H5T_NATIVE_INT, 1, &hd->degree) < 0 || hd->degree < 0 ||
      hd->degree > SM_SHAPE_MAX_DEGREE)
    return snprintf(msg, len, "-i: '%s': attribute /shapes/degree is missing or outside 0..%d", path,
                    SM_SHAPE_MAX_DEGREE),
           1;
  if (sm_h5_attr_read(*grp, "source_grid_size", H5T_NATIVE_INT64, 3, hd->source_n) < 0 ||
      sm_h5_attr_read(*grp, "source_voxel_size", H5T_NATIVE_DOUBLE, 3, hd->source_h) < 0)
    return snprintf(msg, len, "-i: '%s': attributes source_grid_size / source_voxel_size of /shapes are missing", path),
           1;
  for (int d = 0; d < 3; d++)
    if (hd->source_n[d] < 1 || !(hd->source_h[d] > 0))
      return snprintf(msg, len, "-i: '%s': source grid size or voxel size is not positive", path), 1;
  hd->marker_height = -1;
  hd->ndirections   = 0;
  hd->moved = hd->not_star = 0;
  hd->basins = hd->split = -1;
  hd->star_fraction      = -1;
  (void)sm_h5_attr_read(*grp, "marker_height", H5T_NATIVE_DOUBLE, 1, &hd->marker_height);
  (void)sm_h5_attr_read(*grp, "directions", H5T_NATIVE_INT, 1, &hd->ndirections);
  (void)sm_h5_attr_read(*grp, "centres_moved", H5T_NATIVE_INT64, 1, &hd->moved);
  (void)sm_h5_attr_read(*grp, "not_star_shaped", H5T_NATIVE_INT64, 1, &hd->not_star);
  /* absent from files written before sub-particles were cut into star-shaped parts: left at -1 (unknown) */
  (void)sm_h5_attr_read(*grp, "basins", H5T_NATIVE_INT64, 1, &hd->basins);
  (void)sm_h5_attr_read(*grp, "basins_split", H5T_NATIVE_INT64, 1, &hd->split);
  hd->patches   = 0;
  hd->uncovered = -1;
  (void)sm_h5_attr_read(*grp, "patches", H5T_NATIVE_INT64, 1, &hd->patches);
  (void)sm_h5_attr_read(*grp, "uncovered", H5T_NATIVE_INT64, 1, &hd->uncovered);
  (void)sm_h5_attr_read(*grp, "star_shaped_volume_fraction", H5T_NATIVE_DOUBLE, 1, &hd->star_fraction);
  hd->radial_offset = 0; /* absent from files written before the volume match: none was applied */
  (void)sm_h5_attr_read(*grp, "radial_offset", H5T_NATIVE_DOUBLE, 1, &hd->radial_offset);
  if (sm_h5_attr_read_strings_into(*grp, "phase_names", SM_MAX_PHASES, SM_NAME_LEN, &s->phase_names[0][0], &np) < 0) np = 0;
  hd->nphases = np;
  (void)sm_h5_attr_read_strings_into(*grp, "phase", 1, SM_NAME_LEN, s->phase, &nf);
  (void)sm_h5_attr_read_strings_into(*grp, "source_file", 1, PETSC_MAX_PATH_LEN, s->source, &nf);
  dset = H5Dopen2(*grp, "centres", H5P_DEFAULT);
  if (dset < 0) return snprintf(msg, len, "-i: '%s' has no dataset /shapes/centres", path), 1;
  space = H5Dget_space(dset);
  if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 ||
      dims[1] != 3) {
    if (space >= 0) (void)H5Sclose(space);
    (void)H5Dclose(dset);
    return snprintf(msg, len, "-i: '%s': /shapes/centres is not an [n][3] array", path), 1;
  }
  (void)H5Sclose(space);
  (void)H5Dclose(dset);
  hd->n = (int64_t)dims[0];
  return 0;
}

PetscErrorCode sm_shape_file_probe(MPI_Comm comm, const char *path, PetscBool *is_shapes)
{
  PetscMPIInt rank;
  int         yes = 0;

  PetscFunctionBeginUser;
  *is_shapes = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && path && path[0] && !access(path, R_OK)) {
    hid_t file;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* H5Fis_hdf5 first: opening a file that is not HDF5 is an error we only want to answer "no" to */
    if (H5Fis_hdf5(path) > 0 && (file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
      char fmt[64] = "";
      int  nf      = 0;
      if (sm_h5_attr_read_strings_into(file, "format", 1, sizeof(fmt), fmt, &nf) >= 0 && nf == 1 &&
          !strcmp(fmt, SM_SHAPES_FORMAT))
        yes = 1;
      (void)H5Fclose(file);
    }
  }
  PetscCallMPI(MPI_Bcast(&yes, 1, MPI_INT, 0, comm));
  *is_shapes = yes ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_read(MPI_Comm comm, const char *path, SMShapes *s)
{
  PetscMPIInt    rank;
  SMShapesHeader hd;
  char           msg[PETSC_MAX_PATH_LEN + 256] = "";
  int            err                           = 0, nc, n1;
  hid_t          file = -1, grp = -1;

  PetscFunctionBeginUser;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "-i: no input file given");
  PetscCall(PetscMemzero(&hd, sizeof(hd)));
  PetscCall(PetscMemzero(s, sizeof(*s)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK)) {
      snprintf(msg, sizeof(msg), "-i: cannot read '%s': %s", path, strerror(errno));
      err = 1;
    } else
      err = sm_sh_read_header(path, &file, &grp, &hd, s, msg, sizeof(msg));
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  if (err && rank == 0) {
    if (grp >= 0) (void)H5Gclose(grp);
    if (file >= 0) (void)H5Fclose(file);
  }
  PetscCheck(!err, comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  PetscCallMPI(MPI_Bcast(&hd, sizeof(hd), MPI_BYTE, 0, comm));
  PetscCall(sm_shapes_alloc(s, hd.degree, hd.n));
  if (rank == 0) {
    if (sm_h5_dataset_read(grp, "centres", H5T_NATIVE_DOUBLE, 2, (hsize_t[]){(hsize_t)hd.n, 3}, s->centres) < 0 ||
        sm_h5_dataset_read(grp, "coeffs", H5T_NATIVE_DOUBLE, 2, (hsize_t[]){(hsize_t)hd.n, (hsize_t)s->ncoeffs}, s->coeffs) < 0 ||
        sm_h5_dataset_read(grp, "fit_error", H5T_NATIVE_DOUBLE, 1, (hsize_t[]){(hsize_t)hd.n}, s->fit_error) < 0 ||
        sm_h5_dataset_read(grp, "voxels", H5T_NATIVE_INT64, 1, (hsize_t[]){(hsize_t)hd.n}, s->voxels) < 0) {
      snprintf(msg, sizeof(msg),
               "-i: '%s': the datasets /shapes/centres, coeffs [n][(L+1)^2 = %d], fit_error and voxels are missing or "
               "of the wrong size",
               path, s->ncoeffs);
      err = 1;
    }
    (void)H5Gclose(grp);
    (void)H5Fclose(file);
  }
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  if (err) PetscCall(sm_shapes_free(s));
  PetscCheck(!err, comm, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  PetscCall(sm_int64_to_int(hd.n, &n1));
  PetscCall(sm_int64_to_int(hd.n * s->ncoeffs, &nc));
  PetscCallMPI(MPI_Bcast(s->centres, 3 * n1, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(s->coeffs, nc, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(s->fit_error, n1, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(s->voxels, n1, MPI_INT64_T, 0, comm));
  PetscCallMPI(MPI_Bcast(s->phase_names, sizeof(s->phase_names), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(s->phase, sizeof(s->phase), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(s->source, sizeof(s->source), MPI_CHAR, 0, comm));
  for (int d = 0; d < 3; d++) {
    s->source_n[d] = hd.source_n[d];
    s->source_h[d] = hd.source_h[d];
  }
  s->nphases       = hd.nphases;
  s->marker_height = hd.marker_height;
  s->ndirections   = hd.ndirections;
  s->moved         = hd.moved;
  s->not_star      = hd.not_star;
  s->basins        = hd.basins;
  s->split         = hd.split;
  s->patches       = hd.patches;
  s->uncovered     = hd.uncovered;
  s->star_volume_fraction = hd.star_fraction;
  s->radial_offset        = hd.radial_offset;
  for (int64_t p = 0; p < s->n; p++)
    sm_shape_sh_bounds(s->degree, s->coeffs + (size_t)p * s->ncoeffs, NULL, s->rmax + p, NULL);
  PetscFunctionReturn(PETSC_SUCCESS);
}
