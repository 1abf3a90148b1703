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
#include <hdf5.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SM_H5_FORMAT     "stochmorph-volume-1"
#define SM_H5_MAX_FIELDS 32
#define SM_H5_MAX_IDS    16
/* Bytes of the conversion buffer used when labels are stored in a type wider than uint8. */
#define SM_H5_READ_BATCH_BYTES (8 << 20)

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

/* ---- attributes (written by every rank with the same values) ---- */

static PetscErrorCode sm_h5_attr_write_impl(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                                            const void *buf, SMH5Ids *ids)
{
  hid_t space, attr;

  PetscFunctionBeginUser;
  if (n) SM_H5_OPEN(ids, space, H5Screate_simple(1, &n, NULL));
  else SM_H5_OPEN(ids, space, H5Screate(H5S_SCALAR));
  SM_H5_OPEN(ids, attr, H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT));
  SM_CALL_HDF5(H5Awrite(attr, mtype, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* n = 0: a scalar attribute; otherwise a 1D array of n values. */
static PetscErrorCode sm_h5_attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                                       const void *buf)
{
  SMH5Ids        ids = {.n = 0};
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  ierr = sm_h5_attr_write_impl(loc, name, ftype, mtype, n, buf, &ids);
  sm_h5_ids_close(&ids);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fixed-length, NUL-terminated UTF-8 strings: parallel HDF5 writes them as plain metadata (variable-length strings
   would go through the global heap), and h5py, h5dump and ParaView all read them. scalar: one string, no array. */
static PetscErrorCode sm_h5_attr_write_strings_impl(hid_t loc, const char *name, int n, const char *const s[],
                                                    PetscBool scalar, char **buf, SMH5Ids *ids)
{
  size_t len = 1;
  hid_t  type;

  PetscFunctionBeginUser;
  for (int i = 0; i < n; i++) len = PetscMax(len, strlen(s[i]) + 1);
  PetscCall(PetscCalloc1(len * (size_t)n, buf));
  for (int i = 0; i < n; i++) memcpy(*buf + (size_t)i * len, s[i], strlen(s[i]));
  SM_H5_OPEN(ids, type, H5Tcopy(H5T_C_S1));
  SM_CALL_HDF5(H5Tset_size(type, len));
  SM_CALL_HDF5(H5Tset_strpad(type, H5T_STR_NULLTERM));
  SM_CALL_HDF5(H5Tset_cset(type, H5T_CSET_UTF8));
  PetscCall(sm_h5_attr_write_impl(loc, name, type, type, scalar ? 0 : (hsize_t)n, *buf, ids));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_attr_write_strings(hid_t loc, const char *name, int n, const char *const s[],
                                               PetscBool scalar)
{
  SMH5Ids        ids = {.n = 0};
  char          *buf = NULL;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  ierr = sm_h5_attr_write_strings_impl(loc, name, n, s, scalar, &buf, &ids);
  sm_h5_ids_close(&ids);
  PetscCall(PetscFree(buf));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_attr_write_string(hid_t loc, const char *name, const char *value)
{
  PetscFunctionBeginUser;
  PetscCall(sm_h5_attr_write_strings(loc, name, 1, &value, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_attr_write_int(hid_t loc, const char *name, int value)
{
  PetscFunctionBeginUser;
  PetscCall(sm_h5_attr_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, 0, &value));
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
  PetscCall(sm_h5_attr_write_string(w->file, "format", SM_H5_FORMAT));
#ifdef SM_GIT_DESCRIBE
  PetscCall(sm_h5_attr_write_string(w->file, "software", "stochmorph " SM_VERSION_STRING " (" SM_GIT_DESCRIBE ")"));
#else
  PetscCall(sm_h5_attr_write_string(w->file, "software", "stochmorph " SM_VERSION_STRING));
#endif
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
  PetscCall(sm_h5_attr_write(dset, "voxel_size", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, h));
  PetscCall(sm_h5_attr_write_string(dset, "voxel_size_units", "um"));
  PetscCall(sm_h5_attr_write(dset, "grid_size", H5T_STD_I64LE, H5T_NATIVE_INT64, 3, n));
  PetscCall(sm_h5_attr_write_strings(dset, "phase_names", nphases, names, PETSC_FALSE));
  periodic_int = periodic ? 1 : 0;
  PetscCall(sm_h5_attr_write_int(dset, "periodic", periodic_int));
  for (int i = 0; i < nattrs; i++) PetscCall(sm_h5_attr_write_string(dset, keys[i], values[i]));
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
    if (!ierr) ierr = sm_h5_attr_write_int(w->file, "complete", 1);
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
  if (w->rank == 0 && rename(w->partial, w->path)) err = errno;
  PetscCall(sm_h5_bcast_errno(w->comm, &err));
  PetscCheck(!err, w->comm, PETSC_ERR_FILE_WRITE, "Cannot rename the finished '%s' to '%s': %s", w->partial, w->path,
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

/* ---- reading ---- */

/* Read a string attribute (scalar or 1D array, fixed or variable length) into up to max PetscMalloc'd strings. */
static PetscErrorCode sm_h5_attr_read_strings_impl(hid_t loc, const char *name, int max, int *n, char **out,
                                                   SMH5Ids *ids)
{
  hid_t      attr, ftype, mtype, space;
  hssize_t   npts;
  H5T_cset_t cset;
  MPI_Comm   comm = PETSC_COMM_SELF;

  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, attr, H5Aopen(loc, name, H5P_DEFAULT));
  SM_H5_OPEN(ids, ftype, H5Aget_type(attr));
  PetscCheck(H5Tget_class(ftype) == H5T_STRING, comm, PETSC_ERR_FILE_UNEXPECTED, "Attribute %s does not hold strings",
             name);
  SM_H5_OPEN(ids, space, H5Aget_space(attr));
  SM_CALL_HDF5(npts = H5Sget_simple_extent_npoints(space));
  PetscCheck(npts >= 1 && npts <= max, comm, PETSC_ERR_FILE_UNEXPECTED,
             "Attribute %s holds %lld strings; expected 1 to %d", name, (long long)npts, max);
  SM_CALL_HDF5(cset = H5Tget_cset(ftype));
  SM_H5_OPEN(ids, mtype, H5Tcopy(H5T_C_S1));
  SM_CALL_HDF5(H5Tset_cset(mtype, cset)); /* HDF5 does not convert between character sets */
  if (H5Tis_variable_str(ftype) > 0) {
    char *buf[SM_MAX_ATTRS > SM_MAX_PHASES ? SM_MAX_ATTRS : SM_MAX_PHASES] = {NULL};
    PetscCheck(npts <= (hssize_t)(sizeof(buf) / sizeof(buf[0])), comm, PETSC_ERR_PLIB, "String buffer too small");
    SM_CALL_HDF5(H5Tset_size(mtype, H5T_VARIABLE));
    SM_CALL_HDF5(H5Aread(attr, mtype, buf));
    for (int i = 0; i < (int)npts; i++) PetscCall(PetscStrallocpy(buf[i] ? buf[i] : "", &out[i]));
#if H5_VERSION_GE(1, 12, 0)
    SM_CALL_HDF5(H5Treclaim(mtype, space, H5P_DEFAULT, buf));
#else
    SM_CALL_HDF5(H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf));
#endif
  } else {
    size_t len = H5Tget_size(ftype) + 1; /* room for a terminator that NULLPAD/SPACEPAD strings lack */
    char  *buf;
    PetscCheck(len > 1, comm, PETSC_ERR_LIB, "HDF5 call failed: H5Tget_size on attribute %s", name);
    SM_CALL_HDF5(H5Tset_size(mtype, len));
    SM_CALL_HDF5(H5Tset_strpad(mtype, H5T_STR_NULLTERM));
    PetscCall(PetscCalloc1(len * (size_t)npts, &buf));
    if (H5Aread(attr, mtype, buf) < 0) {
      PetscCall(PetscFree(buf));
      SETERRQ(comm, PETSC_ERR_LIB, "HDF5 call failed: H5Aread of attribute %s", name);
    }
    for (int i = 0; i < (int)npts; i++) PetscCall(PetscStrallocpy(buf + (size_t)i * len, &out[i]));
    PetscCall(PetscFree(buf));
  }
  *n = (int)npts;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_attr_read_strings(hid_t loc, const char *name, int max, int *n, char **out)
{
  SMH5Ids        ids = {.n = 0};
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *n   = 0;
  ierr = sm_h5_attr_read_strings_impl(loc, name, max, n, out, &ids);
  sm_h5_ids_close(&ids);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_attr_read_numbers_impl(hid_t loc, const char *name, hid_t mtype, hssize_t n, void *buf,
                                                   SMH5Ids *ids)
{
  hid_t       attr, ftype, space;
  H5T_class_t cls;
  hssize_t    npts;

  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, attr, H5Aopen(loc, name, H5P_DEFAULT));
  SM_H5_OPEN(ids, ftype, H5Aget_type(attr));
  cls = H5Tget_class(ftype);
  PetscCheck(cls == H5T_INTEGER || cls == H5T_FLOAT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "Attribute %s is not numeric", name);
  SM_H5_OPEN(ids, space, H5Aget_space(attr));
  SM_CALL_HDF5(npts = H5Sget_simple_extent_npoints(space));
  PetscCheck(npts == n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute %s holds %lld values; expected %lld",
             name, (long long)npts, (long long)n);
  SM_CALL_HDF5(H5Aread(attr, mtype, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read n numbers (converted to mtype) from attribute name; found = FALSE leaves buf untouched if it is absent. */
static PetscErrorCode sm_h5_attr_read_numbers(hid_t loc, const char *name, hid_t mtype, hssize_t n, void *buf,
                                              PetscBool *found)
{
  SMH5Ids        ids = {.n = 0};
  htri_t         exists;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  SM_CALL_HDF5(exists = H5Aexists(loc, name));
  *found = exists > 0 ? PETSC_TRUE : PETSC_FALSE;
  if (!*found) PetscFunctionReturn(PETSC_SUCCESS);
  ierr = sm_h5_attr_read_numbers_impl(loc, name, mtype, n, buf, &ids);
  sm_h5_ids_close(&ids);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Value i of a buffer of native integers of the given size and sign. Unsigned 64-bit values beyond INT64_MAX
   saturate: they are out of range for labels either way. */
static inline int64_t sm_h5_load_int(const void *buf, int64_t i, size_t size, PetscBool is_signed)
{
  switch (size) {
  case 1: return is_signed ? (int64_t)((const int8_t *)buf)[i] : (int64_t)((const uint8_t *)buf)[i];
  case 2: return is_signed ? (int64_t)((const int16_t *)buf)[i] : (int64_t)((const uint16_t *)buf)[i];
  case 4: return is_signed ? (int64_t)((const int32_t *)buf)[i] : (int64_t)((const uint32_t *)buf)[i];
  default: {
    if (is_signed) return ((const int64_t *)buf)[i];
    uint64_t u = ((const uint64_t *)buf)[i];
    return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
  }
  }
}

typedef struct {
  MPI_Comm    comm;
  const char *path, *dataset;
  hid_t       dset, mtype; /* mtype: the native form of the file type */
  size_t      size;        /* bytes per stored integer */
  PetscBool   is_signed;
} SMH5LabelSource;

/* Read this rank's slab of labels into out (uint8 [z_local][ny][nx]) collectively. uint8 data is read in place; wider
   or signed integers go through a small buffer a few planes at a time and are range-checked, because HDF5's own
   conversion would silently clip 300 to 255. */
static PetscErrorCode sm_h5_read_labels_impl(const SMH5LabelSource *src, const SMGridInfo *g, uint8_t *out,
                                             SMH5Ids *ids)
{
  hsize_t start[3] = {(hsize_t)g->z_start, 0, 0}, count[3] = {(hsize_t)g->z_local, (hsize_t)g->n[1], (hsize_t)g->n[0]};
  hid_t   fspace, mspace, dxpl;

  PetscFunctionBeginUser;
  SM_H5_OPEN(ids, fspace, H5Dget_space(src->dset));
  SM_H5_OPEN(ids, dxpl, H5Pcreate(H5P_DATASET_XFER));
  SM_CALL_HDF5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  if (src->size == 1 && !src->is_signed) {
    SM_CALL_HDF5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
    SM_H5_OPEN(ids, mspace, H5Screate_simple(3, count, NULL));
    SM_CALL_HDF5(H5Dread(src->dset, src->mtype, mspace, fspace, dxpl, out));
  } else {
    int64_t batch = PetscMax((int64_t)1, (int64_t)(SM_H5_READ_BATCH_BYTES / src->size) / g->n_plane), zmax,
            lo = INT64_MAX, hi = INT64_MIN, lohi[2];
    char   *buf;
    hsize_t one = 1;

    batch = PetscMin(batch, g->z_local);
    PetscCallMPI(MPI_Allreduce(&g->z_local, &zmax, 1, MPI_INT64_T, MPI_MAX, src->comm));
    PetscCall(PetscMalloc1(src->size * (size_t)(batch * g->n_plane), &buf));
    /* Collective reads: every rank makes the same number of calls, with an empty selection once its slab is done. */
    for (int64_t z0 = 0; z0 < zmax; z0 += batch) {
      int64_t nz        = PetscMin(batch, g->z_local - z0);
      hsize_t bstart[3] = {(hsize_t)(g->z_start + z0), 0, 0},
              bcount[3] = {(hsize_t)PetscMax(nz, 0), count[1], count[2]};
      hsize_t nmem      = (hsize_t)(PetscMax(nz, 0) * g->n_plane);
      herr_t  e;

      if (nz > 0) {
        e      = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, bstart, NULL, bcount, NULL);
        mspace = H5Screate_simple(1, &nmem, NULL);
      } else {
        e      = H5Sselect_none(fspace);
        mspace = H5Screate_simple(1, &one, NULL);
        if (mspace >= 0 && H5Sselect_none(mspace) < 0) e = -1;
      }
      if (e >= 0 && mspace >= 0) e = H5Dread(src->dset, src->mtype, mspace, fspace, dxpl, buf);
      if (mspace >= 0) (void)H5Sclose(mspace);
      if (e < 0 || mspace < 0) {
        PetscCall(PetscFree(buf));
        SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "HDF5 could not read dataset '%s' of '%s'", src->dataset,
                src->path);
      }
      for (int64_t i = 0; i < (int64_t)nmem; i++) {
        int64_t v                = sm_h5_load_int(buf, i, src->size, src->is_signed);
        lo                       = PetscMin(lo, v);
        hi                       = PetscMax(hi, v);
        out[z0 * g->n_plane + i] = (uint8_t)v;
      }
    }
    PetscCall(PetscFree(buf));
    lohi[0] = -lo;
    lohi[1] = hi;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, lohi, 2, MPI_INT64_T, MPI_MAX, src->comm));
    PetscCheck(lohi[0] <= 0 && lohi[1] <= 255, src->comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: dataset '%s' of '%s' holds values from %lld to %lld; labels must lie in 0..255", src->dataset,
               src->path, (long long)-lohi[0], (long long)lohi[1]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_h5_read_labels(const SMH5LabelSource *src, const SMGridInfo *g, uint8_t *out, int *max_label)
{
  SMH5Ids        ids = {.n = 0};
  PetscErrorCode ierr;
  int            mx = 0;

  PetscFunctionBeginUser;
  ierr = sm_h5_read_labels_impl(src, g, out, &ids);
  sm_h5_ids_close(&ids);
  PetscCall(ierr);
  for (int64_t i = 0; i < g->n_local; i++) mx = PetscMax(mx, (int)out[i]);
  PetscCallMPI(MPI_Allreduce(&mx, max_label, 1, MPI_INT, MPI_MAX, src->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  int   n;
  char *names[2 * SM_MAX_ATTRS];
} SMH5NameList;

static herr_t sm_h5_collect_name(hid_t loc, const char *name, const void *info, void *ctx)
{
  SMH5NameList *list = (SMH5NameList *)ctx;
  (void)loc;
  (void)info;
  if (list->n >= (int)(sizeof(list->names) / sizeof(list->names[0]))) return 1; /* enough: stop iterating */
  if (PetscStrallocpy(name, &list->names[list->n])) return -1;
  list->n++;
  return 0;
}

static herr_t sm_h5_collect_attr_name(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
  return sm_h5_collect_name(loc, name, info, ctx);
}

static herr_t sm_h5_collect_link_name(hid_t loc, const char *name, const H5L_info_t *info, void *ctx)
{
  return sm_h5_collect_name(loc, name, info, ctx);
}

static PetscErrorCode sm_h5_name_list_free(SMH5NameList *list)
{
  PetscFunctionBeginUser;
  for (int i = 0; i < list->n; i++) PetscCall(PetscFree(list->names[i]));
  list->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copy the string attributes of dset that are not reserved into the volume's provenance. Attributes of other types
   (numbers written by other tools) are skipped: provenance is text. */
static PetscErrorCode sm_h5_read_provenance(hid_t dset, SMVolume vol)
{
  SMH5NameList list = {.n = 0};
  hsize_t      idx  = 0;

  PetscFunctionBeginUser;
  SM_CALL_HDF5(H5Aiterate2(dset, H5_INDEX_NAME, H5_ITER_INC, &idx, sm_h5_collect_attr_name, &list));
  for (int i = 0; i < list.n; i++) {
    int                nattrs, n = 0;
    const char *const *keys, *const *values;
    char       *value[1] = {NULL};
    hid_t       attr, type;
    H5T_class_t cls = H5T_NO_CLASS;

    if (sm_h5_is_reserved(list.names[i])) continue;
    PetscCall(sm_volume_get_attrs(vol, &nattrs, &keys, &values));
    if (nattrs >= SM_MAX_ATTRS) {
      PetscCall(PetscInfo(NULL, "Only the first %d provenance attributes are kept\n", SM_MAX_ATTRS));
      break;
    }
    SM_CALL_HDF5(attr = H5Aopen(dset, list.names[i], H5P_DEFAULT));
    type = H5Aget_type(attr);
    if (type >= 0) {
      cls = H5Tget_class(type);
      (void)H5Tclose(type);
    }
    (void)H5Aclose(attr);
    SM_CALL_HDF5(type);
    if (cls != H5T_STRING) continue;
    PetscCall(sm_h5_attr_read_strings(dset, list.names[i], 1, &n, value));
    if (n == 1) PetscCall(sm_volume_set_attr(vol, list.names[i], value[0]));
    PetscCall(PetscFree(value[0]));
  }
  PetscCall(sm_h5_name_list_free(&list));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "labels, fields, ..." for an error message about a missing dataset. */
static PetscErrorCode sm_h5_list_root(hid_t file, char *buf, size_t len)
{
  SMH5NameList list = {.n = 0};
  hsize_t      idx  = 0;

  PetscFunctionBeginUser;
  buf[0] = 0;
  /* best effort: this only decorates an error message */
  (void)H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &idx, sm_h5_collect_link_name, &list);
  for (int i = 0; i < list.n; i++) {
    PetscCall(PetscStrlcat(buf, i ? ", /" : "/", len));
    PetscCall(PetscStrlcat(buf, list.names[i], len));
  }
  if (!list.n) PetscCall(PetscStrncpy(buf, "nothing", len));
  PetscCall(sm_h5_name_list_free(&list));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  SMGrid   grid;
  SMVolume vol;
  uint8_t *tmp;
  char    *names[SM_MAX_PHASES];
  int      nnames;
} SMH5ReadState;

static PetscErrorCode sm_h5_read_impl(MPI_Comm comm, const char *path, const char *dataset, PetscReal h_default,
                                      SMH5ReadState *st, SMH5Ids *ids)
{
  SMH5LabelSource src = {.comm = comm, .path = path, .dataset = dataset};
  SMGridInfo      g;
  hid_t           fapl, file, ftype, base, space;
  H5T_class_t     cls;
  hsize_t         dims[3];
  int             ndims, max_label, periodic = 0;
  int64_t         n[3], gs[3];
  double          h[3];
  PetscReal       hr[3];
  PetscBool       found;
  htri_t          exists;
  uint8_t        *labels;

  PetscFunctionBeginUser;
  PetscCall(sm_h5_fapl(comm, ids, &fapl));
  file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PetscCheck(file >= 0, comm, PETSC_ERR_FILE_OPEN, "-i: '%s' is not an HDF5 file, or HDF5 cannot open it", path);
  PetscCall(sm_h5_ids_push(ids, file));

  /* A file in our format that lacks complete = 1 was never closed properly: its data may be partly missing. */
  SM_CALL_HDF5(exists = H5Aexists(file, "format"));
  if (exists > 0) {
    int complete = 0;
    PetscCall(sm_h5_attr_read_numbers(file, "complete", H5T_NATIVE_INT, 1, &complete, &found));
    PetscCheck(found && complete == 1, comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: file '%s' is incomplete (a run was interrupted while writing it); write it again", path);
  }

  src.dset = H5Dopen2(file, dataset, H5P_DEFAULT);
  if (src.dset < 0) {
    char list[512];
    PetscCall(sm_h5_list_root(file, list, sizeof(list)));
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "-i: '%s' has no dataset '%s' (at its top level it has %s)", path, dataset,
            list);
  }
  PetscCall(sm_h5_ids_push(ids, src.dset));

  SM_H5_OPEN(ids, ftype, H5Dget_type(src.dset));
  cls = H5Tget_class(ftype);
  PetscCheck(cls == H5T_INTEGER || cls == H5T_ENUM, comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: dataset '%s' of '%s' holds %s values; labels must be integers (preferably uint8)", dataset, path,
             cls == H5T_FLOAT ? "floating-point" : "non-integer");
  SM_H5_OPEN(ids, src.mtype, H5Tget_native_type(ftype, H5T_DIR_ASCEND));
  /* enums (h5py stores numpy booleans as one) are read as themselves and interpreted through their base integer */
  if (cls == H5T_ENUM) SM_H5_OPEN(ids, base, H5Tget_super(src.mtype));
  else base = src.mtype;
  src.size      = H5Tget_size(base);
  src.is_signed = H5Tget_sign(base) == H5T_SGN_2 ? PETSC_TRUE : PETSC_FALSE;
  PetscCheck(src.size == 1 || src.size == 2 || src.size == 4 || src.size == 8, comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: dataset '%s' of '%s' holds %d-byte integers; supported are 1, 2, 4 and 8 bytes", dataset, path,
             (int)src.size);

  SM_H5_OPEN(ids, space, H5Dget_space(src.dset));
  SM_CALL_HDF5(ndims = H5Sget_simple_extent_ndims(space));
  PetscCheck(ndims == 3, comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: dataset '%s' of '%s' has %d dimensions; a volume is a 3D dataset [z][y][x]", dataset, path, ndims);
  SM_CALL_HDF5(H5Sget_simple_extent_dims(space, dims, NULL));
  for (int d = 0; d < 3; d++) n[d] = (int64_t)dims[2 - d];
  PetscCheck(n[0] > 0 && n[1] > 0 && n[2] > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "-i: dataset '%s' of '%s' is empty",
             dataset, path);

  PetscCall(sm_h5_attr_read_numbers(src.dset, "grid_size", H5T_NATIVE_INT64, 3, gs, &found));
  PetscCheck(!found || (gs[0] == n[0] && gs[1] == n[1] && gs[2] == n[2]), comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: '%s' is inconsistent: grid_size says %lld x %lld x %lld but dataset '%s' is %lld x %lld x %lld", path,
             (long long)gs[0], (long long)gs[1], (long long)gs[2], dataset, (long long)n[0], (long long)n[1],
             (long long)n[2]);
  PetscCall(sm_h5_attr_read_numbers(src.dset, "voxel_size", H5T_NATIVE_DOUBLE, 3, h, &found));
  if (!found) {
    PetscCheck(h_default > 0, comm, PETSC_ERR_ARG_WRONG,
               "-i: dataset '%s' of '%s' has no voxel_size attribute; give the voxel size with -voxel_size H (um)",
               dataset, path);
    h[0] = h[1] = h[2] = (double)h_default;
  }
  for (int d = 0; d < 3; d++) hr[d] = (PetscReal)h[d];
  PetscCall(sm_h5_attr_read_numbers(src.dset, "periodic", H5T_NATIVE_INT, 1, &periodic, &found));
  SM_CALL_HDF5(exists = H5Aexists(src.dset, "phase_names"));
  if (exists > 0) PetscCall(sm_h5_attr_read_strings(src.dset, "phase_names", SM_MAX_PHASES, &st->nnames, st->names));

  PetscCall(sm_grid_create(comm, n, hr, &st->grid));
  PetscCall(sm_grid_get_info(st->grid, &g));
  if (st->nnames) {
    PetscCall(sm_volume_create(st->grid, st->nnames, (const char *const *)st->names, &st->vol));
    PetscCall(sm_volume_get_labels(st->vol, &labels));
    PetscCall(sm_h5_read_labels(&src, &g, labels, &max_label));
    PetscCheck(max_label < st->nnames, comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: dataset '%s' of '%s' holds label %d but its phase_names attribute names only %d phases", dataset,
               path, max_label, st->nnames);
  } else {
    /* Without names the phase count is known only after reading: read into a buffer, then build the volume. */
    PetscCall(PetscMalloc1((size_t)g.n_local, &st->tmp));
    PetscCall(sm_h5_read_labels(&src, &g, st->tmp, &max_label));
    PetscCheck(max_label < SM_MAX_PHASES, comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: dataset '%s' of '%s' holds labels up to %d; a volume has at most %d phases (labels 0..%d)", dataset,
               path, max_label, SM_MAX_PHASES, SM_MAX_PHASES - 1);
    st->nnames = max_label + 1;
    for (int i = 0; i < st->nnames; i++) {
      char name[16];
      PetscCall(PetscSNPrintf(name, sizeof(name), "phase%d", i));
      PetscCall(PetscStrallocpy(name, &st->names[i]));
    }
    PetscCall(sm_volume_create(st->grid, st->nnames, (const char *const *)st->names, &st->vol));
    PetscCall(sm_volume_get_labels(st->vol, &labels));
    PetscCall(PetscArraycpy(labels, st->tmp, (size_t)g.n_local));
    PetscCall(PetscFree(st->tmp));
  }
  PetscCall(sm_volume_set_periodic(st->vol, periodic ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(sm_h5_read_provenance(src.dset, st->vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The grid is created here and not owned by the volume: callers destroy the volume, then its grid. */
PetscErrorCode sm_h5_read_volume(MPI_Comm comm, const char *path, const char *dataset, PetscReal h_default,
                                 SMVolume *vol)
{
  SMH5ReadState  st  = {.grid = NULL, .vol = NULL, .tmp = NULL, .nnames = 0};
  SMH5Ids        ids = {.n = 0};
  PetscMPIInt    rank;
  int            err = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *vol = NULL;
  if (!dataset) dataset = "/labels";
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "-i: no input file given");
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && access(path, R_OK)) err = errno;
  PetscCall(sm_h5_bcast_errno(comm, &err));
  PetscCheck(!err, comm, PETSC_ERR_FILE_OPEN, "-i: cannot read '%s': %s", path, strerror(err));
  ierr = sm_h5_read_impl(comm, path, dataset, h_default, &st, &ids);
  sm_h5_ids_close(&ids);
  for (int i = 0; i < st.nnames; i++) PetscCall(PetscFree(st.names[i]));
  if (ierr) {
    PetscCall(PetscFree(st.tmp));
    PetscCall(sm_volume_destroy(&st.vol));
    PetscCall(sm_grid_destroy(&st.grid));
    PetscCall(ierr);
  }
  *vol = st.vol;
  PetscFunctionReturn(PETSC_SUCCESS);
}
