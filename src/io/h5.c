/* HDF5 volumes (SPEC 8): every rank writes and reads its own z-slab with collective MPI-IO.
 *
 * Layout of a file written here:
 *   /                 attributes format = "stochmorph-volume-1", software, and complete = 1 (set last)
 *   /labels           uint8 [nz][ny][nx], contiguous; attributes voxel_size (float64[3], um, x y z),
 *                     voxel_size_units = "um", grid_size (int64[3], x y z), phase_names (string[nphases]),
 *                     periodic (int32 0/1) and one string attribute per provenance key of the volume
 *   /fields/<name>    float64 [nz][ny][nx], contiguous
 * The datasets are contiguous rather than chunked: slabs differ in size between ranks, so no single chunk shape
 * matches every slab, and a contiguous dataset lets MPI-IO turn each rank's slab into one file extent.
 *
 * HDF5 metadata calls (creating datasets and attributes) are collective in parallel HDF5: every rank makes the same
 * calls with the same values, and every check that could fail on one rank only is reduced first so that all ranks
 * take the same error path. */
#include "io_impl.h"
#include <stochmorph/version.h>
#include <stochmorph/h5util.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SM_H5_FORMAT     "stochmorph-volume-1"
#define SM_H5_MAX_FIELDS 32
#define SM_H5_MAX_IDS    16

struct _p_SMH5Writer {
  MPI_Comm    comm;
  PetscMPIInt rank;
  char       *path, *partial;
  hid_t       file, fields_group;
  PetscBool   has_dims, has_labels;
  int64_t     n[3];
  PetscReal   h[3];
  int         nfields;
  char       *fields[SM_H5_MAX_FIELDS];
};

/* Attributes of /labels that describe the volume itself; everything else is provenance. */
static const char *const sm_h5_reserved[] = {"voxel_size", "voxel_size_units", "grid_size", "phase_names", "periodic"};

static PetscBool sm_h5_is_reserved(const char *name)
{
  for (size_t i = 0; i < sizeof(sm_h5_reserved) / sizeof(sm_h5_reserved[0]); i++)
    if (!strcmp(name, sm_h5_reserved[i])) return PETSC_TRUE;
  return PETSC_FALSE;
}

/* ---- handles opened inside one function, closed together on success and on error paths ---- */

typedef struct {
  hid_t id[SM_H5_MAX_IDS];
  int   n;
} SMH5Ids;

static PetscErrorCode sm_h5_ids_push(SMH5Ids *ids, hid_t id)
{
  PetscFunctionBeginUser;
  PetscAssert(ids->n < SM_H5_MAX_IDS, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Too many open HDF5 handles");
  ids->id[ids->n++] = id;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Close in reverse order of opening. Errors are ignored: this also runs while an error is being returned. */
static void sm_h5_ids_close(SMH5Ids *ids)
{
  for (int i = ids->n - 1; i >= 0; i--) {
    hid_t id = ids->id[i];
    switch (H5Iget_type(id)) {
    case H5I_FILE: (void)H5Fclose(id); break;
    case H5I_GROUP: (void)H5Gclose(id); break;
    case H5I_DATATYPE: (void)H5Tclose(id); break;
    case H5I_DATASPACE: (void)H5Sclose(id); break;
    case H5I_DATASET: (void)H5Dclose(id); break;
    case H5I_ATTR: (void)H5Aclose(id); break;
    case H5I_GENPROP_LST: (void)H5Pclose(id); break;
    default: break;
    }
  }
  ids->n = 0;
}

/* Run an HDF5 call that returns a handle, fail if it is negative, and remember the handle for closing. */
#define SM_H5_OPEN(ids, var, call) \
  do { \
    SM_CALL_HDF5((var) = (call)); \
    PetscCall(sm_h5_ids_push(ids, var)); \
  } while (0)

/* ---- small helpers ---- */

static PetscBool sm_h5_has_extension(const char *path, const char **ext)
{
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return PETSC_FALSE;
  if (ext) *ext = dot;
  return (PetscBool)(!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5"));
}

/* Every rank's status from a rank-0 file operation (0 or an errno value). */
static PetscErrorCode sm_h5_bcast_errno(MPI_Comm comm, int *err)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Bcast(err, 1, MPI_INT, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* File access for collective MPI-IO, with collective metadata so rank 0 reads metadata once and broadcasts it. */
static PetscErrorCode sm_h5_fapl(MPI_Comm comm, SMH5Ids *ids, hid_t *fapl)
{
  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, *fapl, H5Pcreate(H5P_FILE_ACCESS));
  SM_CALL_HDF5(H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL));
  SM_CALL_HDF5(H5Pset_all_coll_metadata_ops(*fapl, 1));
  SM_CALL_HDF5(H5Pset_coll_metadata_write(*fapl, 1));
#if H5_VERSION_GE(1, 10, 7)
  /* Lock where the file system supports it; parallel file systems without locks would otherwise refuse to open. */
  SM_CALL_HDF5(H5Pset_file_locking(*fapl, 1, 1));
#endif
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- slabs ---- */

/* Write this rank's slab [z_local][ny][nx] of a [nz][ny][nx] dataset collectively. The memory rows are row_stride
   elements apart; the memory dataspace is declared with that width and only the first nx of each row selected, so
   padded rows go to the file without a copy. */
static PetscErrorCode sm_h5_write_slab_impl(hid_t dset, const SMGridInfo *g, hid_t mtype, const void *buf,
                                            int64_t row_stride, SMH5Ids *ids)
{
  hsize_t start[3] = {(hsize_t)g->z_start, 0, 0}, count[3] = {(hsize_t)g->z_local, (hsize_t)g->n[1], (hsize_t)g->n[0]};
  hsize_t mdims[3] = {(hsize_t)g->z_local, (hsize_t)g->n[1], (hsize_t)row_stride}, mstart[3] = {0, 0, 0};
  hid_t   fspace, mspace, dxpl;

  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, fspace, H5Dget_space(dset));
  SM_CALL_HDF5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  SM_H5_OPEN(ids, mspace, H5Screate_simple(3, mdims, NULL));
  if (row_stride > g->n[0]) SM_CALL_HDF5(H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mstart, NULL, count, NULL));
  SM_H5_OPEN(ids, dxpl, H5Pcreate(H5P_DATASET_XFER));
  SM_CALL_HDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  SM_CALL_HDF5(H5Dwrite(dset, mtype, mspace, fspace, dxpl, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Create dataset name in loc ([nz][ny][nx] of ftype, contiguous, no fill as every voxel is written); write the slab. */
static PetscErrorCode sm_h5_write_dataset_impl(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                                               const SMGridInfo *g, const void *buf, int64_t row_stride, SMH5Ids *ids,
                                               hid_t *dset)
{
  hsize_t dims[3] = {(hsize_t)g->n[2], (hsize_t)g->n[1], (hsize_t)g->n[0]};
  hid_t   space, dcpl;

  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, space, H5Screate_simple(3, dims, NULL));
  SM_H5_OPEN(ids, dcpl, H5Pcreate(H5P_DATASET_CREATE));
  SM_CALL_HDF5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  SM_H5_OPEN(ids, *dset, H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  PetscCall(sm_h5_write_slab_impl(*dset, g, mtype, buf, row_stride, ids));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- writer ---- */

/* Abandon: close what is open and remove the partial file. Errors are ignored (this is an error path). */
static PetscErrorCode sm_h5_writer_abandon(SMH5Writer w)
{
  PetscFunctionBeginUser;
  if (w->fields_group >= 0) (void)H5Gclose(w->fields_group);
  if (w->file >= 0) (void)H5Fclose(w->file);
  w->fields_group = w->file = -1;
  if (w->rank == 0) (void)remove(w->partial);
  PetscCallMPI(MPI_Barrier(w->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_writer_free(SMH5Writer *w)
{
  PetscFunctionBeginUser;
  for (int i = 0; i < (*w)->nfields; i++) PetscCall(PetscFree((*w)->fields[i]));
  PetscCall(PetscFree((*w)->path));
  PetscCall(PetscFree((*w)->partial));
  PetscCallMPI(MPI_Comm_free(&(*w)->comm));
  PetscCall(PetscFree(*w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After a write step that failed on some ranks (ierr, with errno err captured at the failure): collectively abandon
   the partial file and raise one error naming the file and the system's reason (a full disk, a read-only or vanished
   directory). The caller ran the step under PetscReturnErrorHandler, so HDF5's own call is not reported. */
static PetscErrorCode sm_h5_writer_check(SMH5Writer w, PetscErrorCode ierr, int err)
{
  int  bad[2] = {ierr ? 1 : 0, ierr ? err : 0};
  char why[256] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_INT, MPI_MAX, w->comm));
  if (!bad[0]) PetscFunctionReturn(PETSC_SUCCESS);
  if (!w->rank) sm_sys_write_reason(w->partial, bad[1], why, sizeof(why));
  PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, w->comm));
  PetscCall(sm_h5_writer_abandon(w));
  SETERRQ(w->comm, PETSC_ERR_FILE_WRITE, "Could not write '%s': %s (the partial file was removed; nothing is left under "
          "that name)", w->path, why);
}

/* Parallel HDF5 cannot close a file cleanly after a write failed on some ranks only (the ranks part ways in the
   metadata flush and wait for each other for ever), so a write that cannot fit is refused before it starts: rank 0
   compares the free space with the bytes to write plus a margin for metadata. */
#define SM_H5_METADATA_MARGIN 262144.0
static PetscErrorCode sm_h5_writer_check_space(SMH5Writer w, double bytes)
{
  double free_bytes = 0;

  PetscFunctionBeginUser;
  if (!w->rank) free_bytes = sm_sys_free_bytes(w->partial);
  PetscCallMPI(MPI_Bcast(&free_bytes, 1, MPI_DOUBLE, 0, w->comm));
  if (free_bytes < 0 || free_bytes >= bytes + SM_H5_METADATA_MARGIN) PetscFunctionReturn(PETSC_SUCCESS);
  {
    char need[32], have[32];
    sm_sys_format_bytes(bytes + SM_H5_METADATA_MARGIN, need, sizeof(need));
    sm_sys_format_bytes(free_bytes, have, sizeof(have));
    if (w->file >= 0) PetscCall(sm_h5_writer_abandon(w));
    else if (!w->rank) (void)remove(w->partial);
    SETERRQ(w->comm, PETSC_ERR_FILE_WRITE,
            "Could not write '%s': %s (it needs %s, the file system has %s free); free space or choose another -o",
            w->path, strerror(ENOSPC), need, have);
  }
}

static PetscErrorCode sm_h5_writer_open_impl(SMH5Writer w)
{
  SMH5Ids        ids = {.n = 0};
  hid_t          fapl;
  int            err = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  /* A plain open on rank 0 first: it gives the reason (errno) that HDF5's own failure would not. */
  if (w->rank == 0) {
    FILE *f = fopen(w->partial, "wb");
    if (!f) err = errno;
    else fclose(f);
  }
  PetscCall(sm_h5_bcast_errno(w->comm, &err));
  if (!err) PetscCall(sm_h5_writer_check_space(w, 0));
  PetscCheck(!err, w->comm, PETSC_ERR_FILE_OPEN,
             "-o: cannot create the output file '%s' (creating '%s' failed: %s); check that the directory exists "
             "and is writable, or choose another path with -o",
             w->path, w->partial, strerror(err));
  ierr = sm_h5_fapl(w->comm, &ids, &fapl);
  if (!ierr) w->file = H5Fcreate(w->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  sm_h5_ids_close(&ids);
  PetscCall(ierr);
  PetscCheck(w->file >= 0, w->comm, PETSC_ERR_FILE_OPEN,
             "-o: HDF5 cannot create the output file '%s' (as '%s'); check that the directory is writable and on "
             "a file system that supports MPI-IO, or choose another path with -o",
             w->path, w->partial);
  /* Written at once, so an interrupted run leaves a file that readers recognise as ours and refuse as incomplete. */
  SM_CALL_HDF5(sm_h5_attr_write_string(w->file, "format", SM_H5_FORMAT));
  SM_CALL_HDF5(sm_h5_attr_write_string(w->file, "software", sm_version_software()));
  SM_CALL_HDF5(sm_h5_attr_write_build(w->file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_h5_writer_open(MPI_Comm comm, const char *path, SMH5Writer *out)
{
  SMH5Writer     w;
  const char    *ext = NULL;
  size_t         len;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *out = NULL;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "-o: no output file given; name one ending in .h5");
  PetscCheck(sm_h5_has_extension(path, &ext), comm, PETSC_ERR_ARG_WRONG,
             "-o: '%s' does not end in .h5 or .hdf5%s%s%s; volumes are written as HDF5, e.g. -o twin.h5", path,
             ext ? " (it ends in '" : "", ext ? ext : "", ext ? "')" : "");
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(PetscNew(&w));
  w->file = w->fields_group = -1;
  PetscCallMPI(MPI_Comm_dup(comm, &w->comm));
  PetscCallMPI(MPI_Comm_rank(comm, &w->rank));
  PetscCall(PetscStrallocpy(path, &w->path));
  len = strlen(path) + sizeof(".partial");
  PetscCall(PetscMalloc1(len, &w->partial));
  PetscCall(PetscSNPrintf(w->partial, len, "%s.partial", path));
  ierr = sm_h5_writer_open_impl(w);
  if (ierr) {
    PetscCall(sm_h5_writer_abandon(w));
    PetscCall(sm_h5_writer_free(&w));
    PetscCall(ierr);
  }
  *out = w;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every dataset of one file shares one mesh (the XDMF sidecar has one grid). */
static PetscErrorCode sm_h5_writer_set_dims(SMH5Writer w, const SMGridInfo *g, const char *what)
{
  PetscFunctionBeginUser;
  if (!w->has_dims) {
    for (int d = 0; d < 3; d++) {
      w->n[d] = g->n[d];
      w->h[d] = g->h[d];
    }
    w->has_dims = PETSC_TRUE;
  }
  for (int d = 0; d < 3; d++)
    PetscCheck(w->n[d] == g->n[d], w->comm, PETSC_ERR_ARG_INCOMP,
               "Cannot write %s of %lld x %lld x %lld voxels to '%s', which already holds data of "
               "%lld x %lld x %lld voxels",
               what, (long long)g->n[0], (long long)g->n[1], (long long)g->n[2], w->path, (long long)w->n[0],
               (long long)w->n[1], (long long)w->n[2]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_write_volume_impl(SMH5Writer w, SMVolume vol, SMH5Ids *ids)
{
  SMGrid             grid;
  SMGridInfo         g;
  uint8_t           *labels;
  int                nphases, nattrs, periodic_int;
  const char *const *names, *const *keys, *const *values;
  PetscBool periodic;
  hid_t     dset;
  double    h[3];
  int64_t   n[3];

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &labels));
  PetscCall(sm_volume_get_phases(vol, &nphases, &names));
  PetscCall(sm_volume_get_periodic(vol, &periodic));
  PetscCall(sm_volume_get_attrs(vol, &nattrs, &keys, &values));
  for (int i = 0; i < nattrs; i++)
    PetscCheck(keys[i][0] && !sm_h5_is_reserved(keys[i]), w->comm, PETSC_ERR_ARG_WRONG,
               "Provenance key '%s' is empty or clashes with an attribute the writer sets itself", keys[i]);
  PetscCall(
    sm_h5_write_dataset_impl(w->file, "/labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, &g, labels, g.n[0], ids, &dset));
  for (int d = 0; d < 3; d++) {
    h[d] = (double)g.h[d];
    n[d] = g.n[d];
  }
  SM_CALL_HDF5(sm_h5_attr_write(dset, "voxel_size", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, h));
  SM_CALL_HDF5(sm_h5_attr_write_string(dset, "voxel_size_units", "um"));
  SM_CALL_HDF5(sm_h5_attr_write(dset, "grid_size", H5T_STD_I64LE, H5T_NATIVE_INT64, 3, n));
  if (nphases > 0) SM_CALL_HDF5(sm_h5_attr_write_strings(dset, "phase_names", nphases, names, 0));
  periodic_int = periodic ? 1 : 0;
  SM_CALL_HDF5(sm_h5_attr_write(dset, "periodic", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &periodic_int));
  for (int i = 0; i < nattrs; i++) SM_CALL_HDF5(sm_h5_attr_write_string(dset, keys[i], values[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_h5_writer_write_volume(SMH5Writer w, SMVolume vol)
{
  int            err;
  SMH5Ids        ids = {.n = 0};
  SMGrid         grid;
  SMGridInfo     g;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCheck(w && w->file >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "The HDF5 writer is not open");
  PetscCheck(!w->has_labels, w->comm, PETSC_ERR_ARG_WRONGSTATE, "'%s' already holds a volume (/labels)", w->path);
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_h5_writer_set_dims(w, &g, "a volume"));
  PetscCheck(w->file >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "The HDF5 writer is not open");
  PetscCall(sm_h5_writer_check_space(w, (double)g.n_total));
  errno = 0;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = sm_h5_write_volume_impl(w, vol, &ids);
  err  = errno;
  sm_h5_ids_close(&ids);
  PetscCall(PetscPopErrorHandler());
  PetscCall(sm_h5_writer_check(w, ierr, err));
  w->has_labels = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_h5_writer_write_field(SMH5Writer w, SMGrid grid, const char *name, const double *slab,
                                        int64_t row_stride)
{
  int            err;
  SMH5Ids        ids = {.n = 0};
  SMGridInfo     g;
  hid_t          dset;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCheck(w && w->file >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "The HDF5 writer is not open");
  PetscCheck(name && name[0] && strlen(name) < SM_NAME_LEN, w->comm, PETSC_ERR_ARG_WRONG,
             "A field needs a name of 1 to %d characters", SM_NAME_LEN - 1);
  /* The name becomes an HDF5 path component and an XML attribute value: keep it to plain characters. */
  for (const char *c = name; *c; c++)
    PetscCheck((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 *c == '-' || *c == '.',
               w->comm, PETSC_ERR_ARG_WRONG, "Field name '%s' may only contain letters, digits, '_', '-' and '.'",
               name);
  for (int i = 0; i < w->nfields; i++)
    PetscCheck(strcmp(w->fields[i], name), w->comm, PETSC_ERR_ARG_WRONG, "'%s' already holds a field /fields/%s",
               w->path, name);
  PetscCheck(w->nfields < SM_H5_MAX_FIELDS, w->comm, PETSC_ERR_SUP, "At most %d fields can be written to one file",
             SM_H5_MAX_FIELDS);
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCheck(row_stride >= g.n[0], w->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Field %s: row stride %lld is less than nx = %lld", name, (long long)row_stride, (long long)g.n[0]);
  PetscCall(sm_h5_writer_set_dims(w, &g, "a field"));
  PetscCall(sm_h5_writer_check_space(w, 8.0 * (double)g.n_total));
  errno = 0;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  if (w->fields_group < 0) w->fields_group = H5Gcreate2(w->file, "/fields", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (w->fields_group < 0) ierr = PETSC_ERR_LIB;
  else
    ierr = sm_h5_write_dataset_impl(w->fields_group, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &g, slab, row_stride, &ids,
                                    &dset);
  err = errno;
  sm_h5_ids_close(&ids);
  PetscCall(PetscPopErrorHandler());
  PetscCall(sm_h5_writer_check(w, ierr, err));
  PetscCall(PetscStrallocpy(name, &w->fields[w->nfields++]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mark complete (last), close and rename. */
static PetscErrorCode sm_h5_writer_finish_h5(SMH5Writer w)
{
  int err = 0;

  PetscFunctionBeginUser;
  PetscCheck(w->file >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "The HDF5 writer is not open");
  {
    PetscErrorCode ierr = PETSC_SUCCESS;
    errno               = 0;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    if (w->fields_group >= 0) {
      herr_t e        = H5Gclose(w->fields_group);
      w->fields_group = -1;
      if (e < 0) ierr = PETSC_ERR_LIB;
    }
    if (!ierr) {
      const int one = 1;
      if (sm_h5_attr_write(w->file, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &one) < 0) ierr = PETSC_ERR_LIB;
    }
    if (!ierr) { /* the flush of the metadata cache: where a full disk shows */
      herr_t e = H5Fclose(w->file);
      w->file  = -1;
      if (e < 0) ierr = PETSC_ERR_FILE_WRITE;
    }
    err = errno;
    PetscCall(PetscPopErrorHandler());
    PetscCall(sm_h5_writer_check(w, ierr, err));
    err = 0;
  }
  if (w->rank == 0) err = sm_sys_commit(w->partial, w->path);
  PetscCall(sm_h5_bcast_errno(w->comm, &err));
  PetscCheck(!err, w->comm, PETSC_ERR_FILE_WRITE, "Cannot sync or rename the finished '%s' to '%s': %s", w->partial, w->path,
             strerror(err));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_writer_sidecar(SMH5Writer w)
{
  char        xmf[PETSC_MAX_PATH_LEN];
  const char *ext = NULL, *base = strrchr(w->path, '/');
  size_t      stem;

  PetscFunctionBeginUser;
  if (!w->has_dims) PetscFunctionReturn(PETSC_SUCCESS); /* nothing to show */
  (void)sm_h5_has_extension(w->path, &ext);
  stem = (size_t)(ext - w->path);
  PetscCheck(stem + 5 <= sizeof(xmf), w->comm, PETSC_ERR_ARG_SIZ, "Output path '%s' is too long", w->path);
  memcpy(xmf, w->path, stem);
  memcpy(xmf + stem, ".xmf", 5);
  PetscCall(sm_io_xdmf_write(w->comm, xmf, base ? base + 1 : w->path, w->n, w->h, w->has_labels, w->nfields,
                             (const char *const *)w->fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_h5_writer_close(SMH5Writer *wp, PetscBool complete)
{
  SMH5Writer     w;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBeginUser;
  if (!wp || !*wp) PetscFunctionReturn(PETSC_SUCCESS);
  w   = *wp;
  *wp = NULL;
  if (complete) {
    ierr = sm_h5_writer_finish_h5(w);
    if (ierr) PetscCall(sm_h5_writer_abandon(w));
    else ierr = sm_h5_writer_sidecar(w);
  } else PetscCall(sm_h5_writer_abandon(w));
  PetscCall(sm_h5_writer_free(&w));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
