/* Image input: HDF5, raw binary and multi-page TIFF images -> a labelled volume in z-slabs (see image.h).
 *
 * One source interface per format: open (metadata, checks, every rank the same answer), read a batch of planes of the
 * crop box into a typed buffer, close. The driver loops over batches of this rank's planes, converts each batch
 * straight into labels (no segmentation, or a phase map) or into a float copy (threshold, Otsu), and reduces what it
 * saw (value range, unknown values, counts) across ranks before judging. Every rank makes the same number of batch
 * calls (HDF5 reads are collective; the other formats join an error reduction after each batch), so one rank's read
 * failure becomes the same error on all ranks instead of a hang.
 *
 * Memory per voxel of the cropped box (bytes): labels 1; a float copy 4 only when a threshold is applied; a label
 * buffer 1 only when the phase count is known after reading; plus one batch of at most SM_IMAGE_BATCH_BYTES. */
#include <stochmorph/image.h>
#include <stochmorph/grid.h>
#include <stochmorph/log.h>
#include <stochmorph/h5util.h>
#include <stochmorph/shape.h>
#include <tiffio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SM_IMAGE_BATCH_BYTES (8 << 20)
#define SM_IMAGE_MSG_LEN 1024
#define SM_IMAGE_MAX_IDS 16
/* Integers beyond 2^24 are not exact in the float copy used for thresholds. */
#define SM_IMAGE_FLOAT_EXACT 16777216.0

/* Sample types a source delivers in memory. HDF5 integers other than (u)int8/uint16/int16 arrive as int64 and
   floating-point datasets as float32 (HDF5 converts); raw and TIFF deliver their own type. */
typedef enum { SM_SAMPLE_U8, SM_SAMPLE_U16, SM_SAMPLE_I16, SM_SAMPLE_I64, SM_SAMPLE_F32 } SMSample;
static const size_t      sm_sample_size[]    = {1, 2, 2, 8, 4};
static const char *const sm_format_names[]   = {"auto", "hdf5", "raw", "tiff"};
static const char *const sm_raw_type_names[] = {"uint8", "uint16", "int16", "float32"};
static const char *const sm_segment_names[]  = {"auto", "none", "otsu", "threshold"};
/* Attributes of /labels that describe the volume itself (src/io/h5.c); every other string attribute is provenance. */
static const char *const sm_h5_reserved[] = {"voxel_size", "voxel_size_units", "grid_size", "phase_names", "periodic"};

typedef struct {
  MPI_Comm      comm;
  PetscMPIInt   rank;
  const char   *path;
  SMImageFormat format;
  int64_t       n[3]; /* image size x, y, z */
  SMSample      sample;
  PetscBool     is_float;  /* floating-point data: Otsu by default */
  char          desc[128]; /* source_format provenance */
  PetscBool     has_h;
  double        h[3];
  PetscBool     periodic;
  PetscBool     ours; /* an HDF5 volume written by stochmorph (root attribute format) */
  int           nnames;
  char         *names[SM_MAX_PHASES];
  /* HDF5 */
  hid_t       ids[SM_IMAGE_MAX_IDS];
  int         nids;
  hid_t       dset, mtype;
  const char *dataset;
  /* raw */
  int       fd;
  int64_t   header;
  PetscBool swap;
  /* TIFF */
  TIFF   *tif;
  int64_t tdir; /* page the handle is on, -1 before the first */
  char    tiff_err[256];
  void   *tbuf;
  size_t  tbuf_len;
} SMImageSource;

/* ---- errors that one rank may meet alone ---- */

/* Turn a failure seen by some ranks (msg non-empty) into the same error on every rank: the lowest failing rank's
   message. Collective. */
static PetscErrorCode sm_image_sync_error(MPI_Comm comm, const char *msg)
{
  PetscMPIInt rank, size, mine, first;
  char        buf[SM_IMAGE_MSG_LEN];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  mine = (msg && msg[0]) ? rank : size;
  PetscCallMPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) PetscFunctionReturn(PETSC_SUCCESS);
  buf[0] = 0;
  if (rank == first) PetscCall(PetscStrncpy(buf, msg, sizeof(buf)));
  PetscCallMPI(MPI_Bcast(buf, (int)sizeof(buf), MPI_CHAR, first, comm));
  SETERRQ(comm, PETSC_ERR_FILE_READ, "%s", buf);
}

/* ---- small helpers ---- */

static const char *sm_image_ext(const char *path)
{
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  return (!dot || (slash && dot < slash)) ? "" : dot;
}

static PetscErrorCode sm_image_detect_format(MPI_Comm comm, const char *path, SMImageFormat *format)
{
  const char *ext = sm_image_ext(path);

  PetscFunctionBeginUser;
  if (!strcasecmp(ext, ".h5") || !strcasecmp(ext, ".hdf5"))
    *format = SM_IMAGE_FORMAT_HDF5;
  else if (!strcasecmp(ext, ".raw") || !strcasecmp(ext, ".bin") || !strcasecmp(ext, ".dat"))
    *format = SM_IMAGE_FORMAT_RAW;
  else if (!strcasecmp(ext, ".tif") || !strcasecmp(ext, ".tiff"))
    *format = SM_IMAGE_FORMAT_TIFF;
  else
    SETERRQ(comm, PETSC_ERR_ARG_WRONG,
            "-i: cannot tell the format of '%s' from its extension '%s'; give -image_format hdf5, raw or tiff (or name "
            "it .h5, .raw or .tif)",
            path, ext);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline double sm_image_load(const void *buf, SMSample s, int64_t i)
{
  switch (s) {
    case SM_SAMPLE_U8:
      return (double)((const uint8_t *)buf)[i];
    case SM_SAMPLE_U16:
      return (double)((const uint16_t *)buf)[i];
    case SM_SAMPLE_I16:
      return (double)((const int16_t *)buf)[i];
    case SM_SAMPLE_I64:
      return (double)((const int64_t *)buf)[i];
    default:
      return (double)((const float *)buf)[i];
  }
}

/* v as the shortest decimal that reads back (PETSc's printf would write 25 as "25.") */
static const char *sm_num(double v, char buf[32])
{
  sm_sys_format_real(v, buf, 32);
  return buf;
}

static void sm_image_format_range(const int64_t lo[3], const int64_t hi[3], char *buf, size_t len)
{
  snprintf(buf, len, "%lld:%lld,%lld:%lld,%lld:%lld", (long long)lo[0], (long long)hi[0], (long long)lo[1],
           (long long)hi[1], (long long)lo[2], (long long)hi[2]);
}

/* ---- HDF5 ---- */

static PetscErrorCode sm_image_h5_push(SMImageSource *s, hid_t id)
{
  PetscFunctionBeginUser;
  PetscAssert(s->nids < SM_IMAGE_MAX_IDS, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Too many open HDF5 handles");
  s->ids[s->nids++] = id;
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define SM_IMAGE_H5_OPEN(s, var, call)   \
  do {                                   \
    SM_CALL_HDF5((var) = (call));        \
    PetscCall(sm_image_h5_push(s, var)); \
  } while (0)

static void sm_image_h5_close(SMImageSource *s)
{
  for (int i = s->nids - 1; i >= 0; i--) {
    hid_t id = s->ids[i];
    switch (H5Iget_type(id)) {
      case H5I_FILE:
        (void)H5Fclose(id);
        break;
      case H5I_DATATYPE:
        (void)H5Tclose(id);
        break;
      case H5I_DATASPACE:
        (void)H5Sclose(id);
        break;
      case H5I_DATASET:
        (void)H5Dclose(id);
        break;
      case H5I_GENPROP_LST:
        (void)H5Pclose(id);
        break;
      default:
        break;
    }
  }
  s->nids = 0;
}

typedef struct {
  char  *buf;
  size_t len;
  int    n;
} SMNameCollect;

static herr_t sm_image_h5_link_name(hid_t loc, const char *name, const H5L_info_t *info, void *ctx)
{
  SMNameCollect *c = (SMNameCollect *)ctx;
  (void)loc;
  (void)info;
  if (c->n++) (void)PetscStrlcat(c->buf, ", ", c->len);
  (void)PetscStrlcat(c->buf, "/", c->len);
  (void)PetscStrlcat(c->buf, name, c->len);
  return 0;
}

typedef struct {
  int   n;
  char *names[2 * SM_MAX_ATTRS];
} SMAttrNames;

static herr_t sm_image_h5_attr_name(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
  SMAttrNames *a = (SMAttrNames *)ctx;
  (void)loc;
  (void)info;
  if (a->n >= (int)(sizeof(a->names) / sizeof(a->names[0]))) return 1;
  if (PetscStrallocpy(name, &a->names[a->n])) return -1;
  a->n++;
  return 0;
}

/* Up to max strings of attribute name (scalar or 1D, fixed or variable length) into PetscMalloc'd out[]; *n = 0 when
   the attribute is absent or holds no strings. Collective when the file has collective metadata. */
static PetscErrorCode sm_image_h5_read_strings(hid_t loc, const char *name, int max, int *n, char **out)
{
  char *v[SM_MAX_ATTRS] = {NULL};
  int   m               = 0;

  PetscFunctionBeginUser;
  *n = 0;
  if (sm_h5_attr_read_strings(loc, name, PetscMin(max, SM_MAX_ATTRS), &m, v) < 0) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < m; i++) {
    PetscCall(PetscStrallocpy(v[i], &out[i]));
    free(v[i]);
  }
  *n = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* n numbers of attribute name as doubles; *found = FALSE when absent, not numeric or of another length. */
static PetscErrorCode sm_image_h5_read_numbers(hid_t loc, const char *name, int n, double *v, PetscBool *found)
{
  PetscFunctionBeginUser;
  *found = sm_h5_attr_read(loc, name, H5T_NATIVE_DOUBLE, n, v) >= 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_image_h5_open(SMImageSource *s, const char *dataset)
{
  hid_t       fapl, file, ftype, space;
  H5T_class_t cls;
  hsize_t     dims[3];
  int         ndims;
  size_t      size;
  PetscBool   found, is_signed;
  htri_t      exists;
  double      v[3];
  const char *tname;

  PetscFunctionBeginUser;
  s->dataset = dataset;
  SM_IMAGE_H5_OPEN(s, fapl, H5Pcreate(H5P_FILE_ACCESS));
  SM_CALL_HDF5(H5Pset_fapl_mpio(fapl, s->comm, MPI_INFO_NULL));
  SM_CALL_HDF5(H5Pset_all_coll_metadata_ops(fapl, 1));
  file = H5Fopen(s->path, H5F_ACC_RDONLY, fapl);
  PetscCheck(file >= 0, s->comm, PETSC_ERR_FILE_OPEN,
             "-i: '%s' is not an HDF5 file, or HDF5 cannot open it; if it holds raw samples or TIFF pages, give "
             "-image_format raw or tiff",
             s->path);
  PetscCall(sm_image_h5_push(s, file));
  /* A stochmorph file without complete = 1 was never closed properly: its data may be partly missing. */
  SM_CALL_HDF5(exists = H5Aexists(file, "format"));
  s->ours = exists > 0 ? PETSC_TRUE : PETSC_FALSE;
  if (exists > 0) {
    PetscCall(sm_image_h5_read_numbers(file, "complete", 1, v, &found));
    PetscCheck(found && v[0] == 1, s->comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: file '%s' is incomplete (a run was interrupted while writing it); write it again", s->path);
  }
  SM_CALL_HDF5(exists = H5Lexists(file, dataset, H5P_DEFAULT) > 0 ? 1 : 0);
  s->dset = exists > 0 ? H5Dopen2(file, dataset, H5P_DEFAULT) : -1;
  if (s->dset < 0) {
    char          list[512] = "";
    SMNameCollect c         = {list, sizeof(list), 0};
    hsize_t       idx       = 0;
    (void)H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &idx, sm_image_h5_link_name, &c);
    SETERRQ(s->comm, PETSC_ERR_FILE_UNEXPECTED,
            "-i: '%s' has no dataset '%s' (at its top level it has %s) and is not a sub-particle file of `stochmorph "
            "shape`; name the dataset with -image_dataset",
            s->path, dataset, c.n ? list : "nothing");
  }
  PetscCall(sm_image_h5_push(s, s->dset));
  SM_IMAGE_H5_OPEN(s, ftype, H5Dget_type(s->dset));
  cls = H5Tget_class(ftype);
  PetscCheck(cls == H5T_INTEGER || cls == H5T_ENUM || cls == H5T_FLOAT, s->comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: dataset '%s' of '%s' holds neither integers nor floating-point numbers; an image is a 3D dataset of "
             "numbers",
             dataset, s->path);
  size = H5Tget_size(ftype);
  PetscCheck(size > 0, s->comm, PETSC_ERR_LIB, "HDF5 call failed: H5Tget_size on dataset '%s' of '%s'", dataset,
             s->path);
  if (cls == H5T_FLOAT) {
    s->sample   = SM_SAMPLE_F32;
    s->is_float = PETSC_TRUE;
    SM_IMAGE_H5_OPEN(s, s->mtype, H5Tcopy(H5T_NATIVE_FLOAT));
    tname = size > 4 ? "float64" : "float32";
  } else if (cls == H5T_ENUM) {
    /* h5py stores numpy booleans as a 1-byte enum; HDF5 converts enums only to enums, so read it as itself */
    PetscCheck(size == 1, s->comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: dataset '%s' of '%s' is an enumeration of %d bytes; only 1-byte enumerations (booleans) are read",
               dataset, s->path, (int)size);
    s->sample = SM_SAMPLE_U8;
    SM_IMAGE_H5_OPEN(s, s->mtype, H5Tget_native_type(ftype, H5T_DIR_ASCEND));
    tname = "enum8";
  } else {
    is_signed = H5Tget_sign(ftype) == H5T_SGN_2 ? PETSC_TRUE : PETSC_FALSE;
    if (size == 1 && !is_signed) {
      s->sample = SM_SAMPLE_U8;
      SM_IMAGE_H5_OPEN(s, s->mtype, H5Tcopy(H5T_NATIVE_UINT8));
    } else if (size == 2) {
      s->sample = is_signed ? SM_SAMPLE_I16 : SM_SAMPLE_U16;
      SM_IMAGE_H5_OPEN(s, s->mtype, H5Tcopy(is_signed ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16));
    } else {
      s->sample = SM_SAMPLE_I64;
      SM_IMAGE_H5_OPEN(s, s->mtype, H5Tcopy(H5T_NATIVE_INT64));
    }
    tname = size == 1   ? (is_signed ? "int8" : "uint8")
            : size == 2 ? (is_signed ? "int16" : "uint16")
            : size == 4 ? (is_signed ? "int32" : "uint32")
                        : (is_signed ? "int64" : "uint64");
  }
  SM_IMAGE_H5_OPEN(s, space, H5Dget_space(s->dset));
  SM_CALL_HDF5(ndims = H5Sget_simple_extent_ndims(space));
  PetscCheck(ndims == 3, s->comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: dataset '%s' of '%s' has %d dimensions; an image is a 3D dataset [z][y][x]", dataset, s->path, ndims);
  SM_CALL_HDF5(H5Sget_simple_extent_dims(space, dims, NULL));
  for (int d = 0; d < 3; d++) s->n[d] = (int64_t)dims[2 - d];
  PetscCall(sm_image_h5_read_numbers(s->dset, "voxel_size", 3, s->h, &s->has_h));
  PetscCall(sm_image_h5_read_numbers(s->dset, "periodic", 1, v, &found));
  s->periodic = (found && v[0] != 0) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(sm_image_h5_read_strings(s->dset, "phase_names", SM_MAX_PHASES, &s->nnames, s->names));
  PetscCall(PetscSNPrintf(s->desc, sizeof(s->desc), "hdf5 %s %s", dataset, tname));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Planes [lo[2], lo[2] + cnt[2]) of the box; cnt[2] = 0 still joins the collective read. */
static PetscErrorCode sm_image_h5_read(SMImageSource *s, const int64_t lo[3], const int64_t cnt[3], void *buf,
                                       char *err, size_t errlen)
{
  hsize_t start[3] = {(hsize_t)lo[2], (hsize_t)lo[1], (hsize_t)lo[0]};
  hsize_t count[3] = {(hsize_t)cnt[2], (hsize_t)cnt[1], (hsize_t)cnt[0]};
  hsize_t nmem = (hsize_t)(cnt[0] * cnt[1] * cnt[2]), one = 1;
  hid_t   fspace = -1, mspace = -1, dxpl = -1;
  herr_t  e = 0;

  PetscFunctionBeginUser;
  fspace = H5Dget_space(s->dset);
  dxpl   = H5Pcreate(H5P_DATASET_XFER);
  if (fspace < 0 || dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) e = -1;
  if (!e && nmem) {
    mspace = H5Screate_simple(1, &nmem, NULL);
    if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) e = -1;
  } else if (!e) {
    mspace = H5Screate_simple(1, &one, NULL);
    if (mspace < 0 || H5Sselect_none(mspace) < 0 || H5Sselect_none(fspace) < 0) e = -1;
  }
  if (!e && H5Dread(s->dset, s->mtype, mspace, fspace, dxpl, buf) < 0) e = -1;
  if (mspace >= 0) (void)H5Sclose(mspace);
  if (dxpl >= 0) (void)H5Pclose(dxpl);
  if (fspace >= 0) (void)H5Sclose(fspace);
  if (e)
    snprintf(err, errlen, "-i: HDF5 could not read dataset '%s' of '%s' (planes %lld..%lld)", s->dataset, s->path,
             (long long)lo[2], (long long)(lo[2] + cnt[2] - 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copy the string attributes of the dataset that are not reserved into the volume's provenance, keeping room for the
   keys this reader adds. */
static PetscErrorCode sm_image_h5_provenance(SMImageSource *s, SMVolume vol)
{
  SMAttrNames list = {.n = 0};
  hsize_t     idx  = 0;
  int         kept = 0;

  PetscFunctionBeginUser;
  SM_CALL_HDF5(H5Aiterate2(s->dset, H5_INDEX_NAME, H5_ITER_INC, &idx, sm_image_h5_attr_name, &list));
  for (int i = 0; i < list.n; i++) {
    PetscBool reserved = PETSC_FALSE;
    char     *value[1] = {NULL};
    int       n        = 0;
    for (size_t r = 0; r < sizeof(sm_h5_reserved) / sizeof(sm_h5_reserved[0]); r++)
      if (!strcmp(list.names[i], sm_h5_reserved[r])) reserved = PETSC_TRUE;
    if (reserved || kept >= SM_MAX_ATTRS - 8) continue;
    PetscCall(sm_image_h5_read_strings(s->dset, list.names[i], 1, &n, value));
    if (n == 1) {
      PetscCall(sm_volume_set_attr(vol, list.names[i], value[0]));
      kept++;
    }
    PetscCall(PetscFree(value[0]));
  }
  for (int i = 0; i < list.n; i++) PetscCall(PetscFree(list.names[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- raw ---- */

static PetscBool sm_image_host_big_endian(void)
{
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 0 ? PETSC_TRUE : PETSC_FALSE;
}

static PetscErrorCode sm_image_raw_open(SMImageSource *s, const SMImageOptions *o)
{
  static const SMSample samples[] = {SM_SAMPLE_U8, SM_SAMPLE_U16, SM_SAMPLE_I16, SM_SAMPLE_F32};
  long long             fsize     = -1;
  int64_t               want;
  size_t                es;

  PetscFunctionBeginUser;
  PetscCheck(o->raw_size[0] > 0 && o->raw_size[1] > 0 && o->raw_size[2] > 0, s->comm, PETSC_ERR_ARG_WRONG,
             "-i: '%s' is read as raw samples, which do not record their size; give -raw_size NX,NY,NZ (and -raw_type, "
             "-raw_endian, -raw_header_bytes as needed)",
             s->path);
  PetscCheck(o->raw_header_bytes >= 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-raw_header_bytes must be >= 0 (got %lld)",
             (long long)o->raw_header_bytes);
  for (int d = 0; d < 3; d++) s->n[d] = o->raw_size[d];
  s->sample   = samples[o->raw_type];
  s->is_float = o->raw_type == SM_IMAGE_RAW_FLOAT32 ? PETSC_TRUE : PETSC_FALSE;
  s->header   = o->raw_header_bytes;
  es          = sm_sample_size[s->sample];
  s->swap     = (es > 1 && o->raw_big_endian != sm_image_host_big_endian()) ? PETSC_TRUE : PETSC_FALSE;
  PetscCheck(s->n[0] <= INT64_MAX / s->n[1] / s->n[2] / (int64_t)es - s->header, s->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-raw_size: %lld x %lld x %lld samples overflow a 64-bit byte count", (long long)s->n[0],
             (long long)s->n[1], (long long)s->n[2]);
  want = s->header + s->n[0] * s->n[1] * s->n[2] * (int64_t)es;
  if (s->rank == 0) {
    struct stat st;
    if (!stat(s->path, &st)) fsize = (long long)st.st_size;
  }
  PetscCallMPI(MPI_Bcast(&fsize, 1, MPI_LONG_LONG, 0, s->comm));
  PetscCheck(fsize == (long long)want, s->comm, PETSC_ERR_FILE_UNEXPECTED,
             "-i: raw file '%s' has %lld bytes, but -raw_header_bytes %lld + %lld x %lld x %lld %s samples (%d bytes "
             "each) make %lld bytes; check -raw_size, -raw_type and -raw_header_bytes",
             s->path, fsize, (long long)s->header, (long long)s->n[0], (long long)s->n[1], (long long)s->n[2],
             sm_raw_type_names[o->raw_type], (int)es, (long long)want);
  PetscCall(PetscSNPrintf(s->desc, sizeof(s->desc), "raw %s %s-endian, header %lld bytes",
                          sm_raw_type_names[o->raw_type], o->raw_big_endian ? "big" : "little", (long long)s->header));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pread all of len bytes at off (short reads and interrupts retried); 0 or an errno value (EIO at end of file). */
static int sm_image_pread_all(int fd, void *buf, size_t len, int64_t off)
{
  char *p = (char *)buf;
  while (len) {
    ssize_t got = pread(fd, p, len, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno;
    if (got == 0) return EIO;
    p += got;
    len -= (size_t)got;
    off += got;
  }
  return 0;
}

static PetscErrorCode sm_image_raw_read(SMImageSource *s, const int64_t lo[3], const int64_t cnt[3], void *buf,
                                        char *err, size_t errlen)
{
  const int64_t es = (int64_t)sm_sample_size[s->sample], nx = s->n[0], ny = s->n[1];
  char         *out = (char *)buf;
  int           e   = 0;

  PetscFunctionBeginUser;
  if (!cnt[2]) PetscFunctionReturn(PETSC_SUCCESS);
  if (s->fd < 0) {
    s->fd = open(s->path, O_RDONLY);
    if (s->fd < 0) e = errno;
  }
  /* the longest contiguous runs the crop allows: whole planes, whole rows of a plane, or parts of rows */
  if (!e && cnt[0] == nx && cnt[1] == ny) {
    e = sm_image_pread_all(s->fd, out, (size_t)(cnt[2] * ny * nx * es), s->header + lo[2] * ny * nx * es);
  } else if (!e && cnt[0] == nx) {
    for (int64_t z = 0; z < cnt[2] && !e; z++)
      e = sm_image_pread_all(s->fd, out + z * cnt[1] * nx * es, (size_t)(cnt[1] * nx * es),
                             s->header + ((lo[2] + z) * ny + lo[1]) * nx * es);
  } else if (!e) {
    for (int64_t z = 0; z < cnt[2] && !e; z++)
      for (int64_t y = 0; y < cnt[1] && !e; y++)
        e = sm_image_pread_all(s->fd, out + (z * cnt[1] + y) * cnt[0] * es, (size_t)(cnt[0] * es),
                               s->header + (((lo[2] + z) * ny + lo[1] + y) * nx + lo[0]) * es);
  }
  if (e) {
    snprintf(err, errlen, "-i: cannot read raw file '%s' (planes %lld..%lld): %s", s->path, (long long)lo[2],
             (long long)(lo[2] + cnt[2] - 1), strerror(e));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (s->swap) {
    int64_t n = cnt[0] * cnt[1] * cnt[2];
    if (es == 2) {
      uint16_t *p = (uint16_t *)buf;
      for (int64_t i = 0; i < n; i++) p[i] = (uint16_t)((p[i] >> 8) | (p[i] << 8));
    } else {
      uint32_t *p = (uint32_t *)buf;
      for (int64_t i = 0; i < n; i++)
        p[i] = (p[i] >> 24) | ((p[i] >> 8) & 0xff00u) | ((p[i] << 8) & 0xff0000u) | (p[i] << 24);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- TIFF ---- */

/* libtiff's messages go to the handle's source (the last one is kept for our error message), not to stderr. */
static int sm_image_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
  SMImageSource *s = (SMImageSource *)user;
  (void)tif;
  (void)module;
  if (s) vsnprintf(s->tiff_err, sizeof(s->tiff_err), fmt, ap);
  return 1;
}

static int sm_image_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
  (void)tif;
  (void)user;
  (void)module;
  (void)fmt;
  (void)ap;
  return 1;
}

static TIFF *sm_image_tiff_open(SMImageSource *s)
{
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  TIFF            *tif;
  if (!opts) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, sm_image_tiff_error, s);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, sm_image_tiff_warning, s);
  tif = TIFFOpenExt(s->path, "r", opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

/* What rank 0 learns about the stack and broadcasts. */
typedef struct {
  int64_t n[3];
  int     sample, is_float, has_h;
  double  h[3];
  char    desc[128];
} SMTiffInfo;

/* The voxel size of an ImageJ stack: X/YResolution (pixels per unit) and the ImageDescription's unit= and spacing=
   (z step); anything less (plain TIFF resolution is per inch or cm, with no z step) is ambiguous and not used. */
static PetscBool sm_image_tiff_voxel_size(TIFF *tif, double h[3])
{
  const char *desc = NULL, *p;
  float       xres = 0, yres = 0;
  double      scale = 0, spacing = 0;
  char        unit[32] = "";

  if (!TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc || strncmp(desc, "ImageJ=", 7)) return PETSC_FALSE;
  if (!TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) || !TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres))
    return PETSC_FALSE;
  if ((p = strstr(desc, "\nunit="))) {
    size_t i = 0;
    for (p += 6; *p && *p != '\n' && i + 1 < sizeof(unit); p++) unit[i++] = *p;
    unit[i] = 0;
  }
  if ((p = strstr(desc, "\nspacing="))) spacing = strtod(p + 9, NULL);
  if (!strcmp(unit, "micron") || !strcmp(unit, "um") || !strcmp(unit, "\xc2\xb5m") || !strcmp(unit, "\\u00B5m"))
    scale = 1.0;
  else if (!strcmp(unit, "nm"))
    scale = 1e-3;
  else if (!strcmp(unit, "mm"))
    scale = 1e3;
  if (!(scale > 0 && xres > 0 && yres > 0 && spacing > 0)) return PETSC_FALSE;
  h[0] = scale / (double)xres;
  h[1] = scale / (double)yres;
  h[2] = scale * spacing;
  return PETSC_TRUE;
}

/* Rank 0: walk every page, check it can be read as one greyscale plane like the first. msg empty on success. */
static void sm_image_tiff_scan(SMImageSource *s, SMTiffInfo *info, char *msg, size_t len)
{
  TIFF    *tif  = sm_image_tiff_open(s);
  int64_t  page = 0;
  uint32_t w0 = 0, h0 = 0;
  uint16_t bps0 = 0, fmt0 = 0;

  if (!tif) {
    snprintf(msg, len,
             "-i: '%s' is not a TIFF file libtiff can open (%s); for other files give -image_format hdf5 or raw",
             s->path, s->tiff_err[0] ? s->tiff_err : "no reason given");
    return;
  }
  do {
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, photo = PHOTOMETRIC_MINISBLACK, comp = COMPRESSION_NONE;
    (void)TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    (void)TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    (void)TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    (void)TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    (void)TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    (void)TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo)) photo = PHOTOMETRIC_MINISBLACK;
    if (spp != 1 || (photo != PHOTOMETRIC_MINISBLACK && photo != PHOTOMETRIC_MINISWHITE)) {
      snprintf(msg, len,
               "-i: page %lld of TIFF '%s' has %d samples per pixel (photometric %d: RGB, palette or multi-channel); "
               "stochmorph reads single-channel greyscale stacks: convert it to 8/16-bit or 32-bit float greyscale",
               (long long)page, s->path, (int)spp, (int)photo);
      break;
    }
    if (!((bps == 8 && fmt == SAMPLEFORMAT_UINT) ||
          (bps == 16 && (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_INT)) ||
          (bps == 32 && fmt == SAMPLEFORMAT_IEEEFP))) {
      snprintf(msg, len,
               "-i: page %lld of TIFF '%s' has %d-bit %s samples; supported are 8-bit unsigned, 16-bit (un)signed "
               "integer and 32-bit float greyscale: convert the stack",
               (long long)page, s->path, (int)bps,
               fmt == SAMPLEFORMAT_IEEEFP ? "floating-point"
               : fmt == SAMPLEFORMAT_INT  ? "signed"
                                          : "unsigned");
      break;
    }
    if (!TIFFIsCODECConfigured(comp)) {
      const TIFFCodec *c = TIFFFindCODEC(comp);
      snprintf(msg, len,
               "-i: page %lld of TIFF '%s' uses compression %d (%s), which this libtiff cannot decode; save the stack "
               "uncompressed or with LZW or Deflate",
               (long long)page, s->path, (int)comp, c && c->name ? c->name : "unknown");
      break;
    }
    if (page == 0) {
      w0          = w;
      h0          = h;
      bps0        = bps;
      fmt0        = fmt;
      info->has_h = sm_image_tiff_voxel_size(tif, info->h) ? 1 : 0;
      snprintf(info->desc, sizeof(info->desc), "tiff %s%d%s",
               fmt == SAMPLEFORMAT_IEEEFP ? "float"
               : fmt == SAMPLEFORMAT_INT  ? "int"
                                          : "uint",
               (int)bps, TIFFIsTiled(tif) ? " tiles" : " strips");
    } else if (w != w0 || h != h0 || bps != bps0 || fmt != fmt0) {
      snprintf(msg, len,
               "-i: page %lld of TIFF '%s' is %u x %u pixels of %d bits, but page 0 is %u x %u of %d bits; every page "
               "of a stack must have the same size and type",
               (long long)page, s->path, (unsigned)w, (unsigned)h, (int)bps, (unsigned)w0, (unsigned)h0, (int)bps0);
      break;
    }
    page++;
  } while (TIFFReadDirectory(tif));
  if (!msg[0] && (w0 == 0 || h0 == 0))
    snprintf(msg, len, "-i: TIFF '%s' has pages of %u x %u pixels; nothing to read", s->path, (unsigned)w0,
             (unsigned)h0);
  if (!msg[0]) {
    info->n[0]     = w0;
    info->n[1]     = h0;
    info->n[2]     = page;
    info->sample   = bps0 == 8    ? SM_SAMPLE_U8
                     : bps0 == 16 ? (fmt0 == SAMPLEFORMAT_INT ? SM_SAMPLE_I16 : SM_SAMPLE_U16)
                                  : SM_SAMPLE_F32;
    info->is_float = bps0 == 32;
  }
  TIFFClose(tif);
}

static PetscErrorCode sm_image_tiff_open_source(SMImageSource *s)
{
  SMTiffInfo info;
  char       msg[SM_IMAGE_MSG_LEN] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&info, sizeof(info)));
  if (s->rank == 0) sm_image_tiff_scan(s, &info, msg, sizeof(msg));
  PetscCall(sm_image_sync_error(s->comm, msg));
  PetscCallMPI(MPI_Bcast(&info, (int)sizeof(info), MPI_BYTE, 0, s->comm));
  for (int d = 0; d < 3; d++) {
    s->n[d] = info.n[d];
    s->h[d] = info.h[d];
  }
  s->sample   = (SMSample)info.sample;
  s->is_float = info.is_float ? PETSC_TRUE : PETSC_FALSE;
  s->has_h    = info.has_h ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(PetscStrncpy(s->desc, info.desc, sizeof(s->desc)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_image_tiff_buffer(SMImageSource *s, size_t len)
{
  if (len <= s->tbuf_len) return 0;
  if (PetscFree(s->tbuf) || PetscMalloc(len, &s->tbuf)) return 1;
  s->tbuf_len = len;
  return 0;
}

/* One page z into out ([cnt[1]][cnt[0]] samples of the box): 0 or a message in err. */
static void sm_image_tiff_read_page(SMImageSource *s, int64_t z, const int64_t lo[3], const int64_t cnt[3], char *out,
                                    char *err, size_t errlen)
{
  const size_t  es = sm_sample_size[s->sample];
  const int64_t nx = s->n[0], ny = s->n[1], x0 = lo[0], x1 = lo[0] + cnt[0], y0 = lo[1], y1 = lo[1] + cnt[1];
  int           ok;

  if (z == s->tdir)
    ok = 1;
  else if (s->tdir >= 0 && z == s->tdir + 1)
    ok = TIFFReadDirectory(s->tif);
  else
    ok = TIFFSetDirectory(s->tif, (tdir_t)z);
  s->tdir = ok ? z : -1;
  if (!ok) {
    snprintf(err, errlen, "-i: cannot reach page %lld of TIFF '%s' (%s)", (long long)z, s->path, s->tiff_err);
    return;
  }
  if (TIFFIsTiled(s->tif)) {
    uint32_t tw = 0, th = 0;
    (void)TIFFGetField(s->tif, TIFFTAG_TILEWIDTH, &tw);
    (void)TIFFGetField(s->tif, TIFFTAG_TILELENGTH, &th);
    if (!tw || !th || sm_image_tiff_buffer(s, (size_t)TIFFTileSize(s->tif))) {
      snprintf(err, errlen, "-i: page %lld of TIFF '%s' has an invalid tile layout", (long long)z, s->path);
      return;
    }
    for (int64_t ty = y0 / th * th; ty < y1; ty += th)
      for (int64_t tx = x0 / tw * tw; tx < x1; tx += tw) {
        int64_t xs = PetscMax(tx, x0), xe = PetscMin(tx + tw, x1), ys = PetscMax(ty, y0), ye = PetscMin(ty + th, y1);
        if (TIFFReadEncodedTile(s->tif, TIFFComputeTile(s->tif, (uint32_t)tx, (uint32_t)ty, 0, 0), s->tbuf,
                                (tmsize_t)-1) < 0) {
          snprintf(err, errlen, "-i: cannot decode a tile of page %lld of TIFF '%s' (%s)", (long long)z, s->path,
                   s->tiff_err);
          return;
        }
        for (int64_t y = ys; y < ye; y++)
          memcpy(out + ((size_t)((y - y0) * cnt[0] + (xs - x0))) * es,
                 (char *)s->tbuf + ((size_t)((y - ty) * tw + (xs - tx))) * es, (size_t)(xe - xs) * es);
      }
  } else {
    uint32_t rps = 0;
    (void)TIFFGetFieldDefaulted(s->tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (!rps || rps > ny) rps = (uint32_t)ny;
    if (sm_image_tiff_buffer(s, (size_t)TIFFStripSize(s->tif))) {
      snprintf(err, errlen, "-i: page %lld of TIFF '%s' has an invalid strip layout", (long long)z, s->path);
      return;
    }
    for (int64_t sy = y0 / rps * rps; sy < y1; sy += rps) {
      int64_t ys = PetscMax(sy, y0), ye = PetscMin(sy + rps, y1);
      if (TIFFReadEncodedStrip(s->tif, TIFFComputeStrip(s->tif, (uint32_t)sy, 0), s->tbuf, (tmsize_t)-1) < 0) {
        snprintf(err, errlen, "-i: cannot decode a strip of page %lld of TIFF '%s' (%s)", (long long)z, s->path,
                 s->tiff_err);
        return;
      }
      for (int64_t y = ys; y < ye; y++)
        memcpy(out + (size_t)((y - y0) * cnt[0]) * es, (char *)s->tbuf + (size_t)((y - sy) * nx + x0) * es,
               (size_t)cnt[0] * es);
    }
  }
}

static PetscErrorCode sm_image_tiff_read(SMImageSource *s, const int64_t lo[3], const int64_t cnt[3], void *buf,
                                         char *err, size_t errlen)
{
  const size_t plane = (size_t)(cnt[0] * cnt[1]) * sm_sample_size[s->sample];

  PetscFunctionBeginUser;
  if (!cnt[2]) PetscFunctionReturn(PETSC_SUCCESS);
  if (!s->tif) {
    s->tif = sm_image_tiff_open(s);
    if (!s->tif) {
      snprintf(err, errlen, "-i: cannot open TIFF '%s' (%s)", s->path, s->tiff_err);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    s->tdir = 0; /* an opened handle is on page 0 */
  }
  for (int64_t z = 0; z < cnt[2] && !err[0]; z++) {
    sm_image_tiff_read_page(s, lo[2] + z, lo, cnt, (char *)buf + (size_t)z * plane, err, errlen);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- one interface over the three ---- */

static PetscErrorCode sm_image_source_read(SMImageSource *s, const int64_t lo[3], const int64_t cnt[3], void *buf,
                                           char *err, size_t errlen)
{
  PetscFunctionBeginUser;
  err[0] = 0;
  switch (s->format) {
    case SM_IMAGE_FORMAT_HDF5:
      PetscCall(sm_image_h5_read(s, lo, cnt, buf, err, errlen));
      break;
    case SM_IMAGE_FORMAT_RAW:
      PetscCall(sm_image_raw_read(s, lo, cnt, buf, err, errlen));
      break;
    default:
      PetscCall(sm_image_tiff_read(s, lo, cnt, buf, err, errlen));
      break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_image_source_close(SMImageSource *s)
{
  PetscFunctionBeginUser;
  sm_image_h5_close(s);
  if (s->fd >= 0) (void)close(s->fd);
  s->fd = -1;
  if (s->tif) TIFFClose(s->tif);
  s->tif = NULL;
  PetscCall(PetscFree(s->tbuf));
  for (int i = 0; i < s->nnames; i++) PetscCall(PetscFree(s->names[i]));
  s->nnames = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- Otsu ---- */

PetscErrorCode sm_image_otsu_bin(const int64_t hist[], int nbins, int *k)
{
  double total = 0, sum = 0, w0 = 0, sum0 = 0, best = -1;

  PetscFunctionBeginUser;
  *k = -1;
  for (int b = 0; b < nbins; b++) {
    total += (double)hist[b];
    sum += (double)b * (double)hist[b];
  }
  /* bins are equally spaced, so bin indices stand for the values: the between-class variance only scales */
  for (int t = 1; t < nbins; t++) {
    double w1, m0, m1, var;
    w0 += (double)hist[t - 1];
    sum0 += (double)(t - 1) * (double)hist[t - 1];
    w1 = total - w0;
    if (w0 <= 0 || w1 <= 0) continue;
    m0  = sum0 / w0;
    m1  = (sum - sum0) / w1;
    var = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (var > best) {
      best = var;
      *k   = t;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- options ---- */

PetscErrorCode sm_image_options_default(SMImageOptions *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->format   = SM_IMAGE_FORMAT_AUTO;
  o->raw_type = SM_IMAGE_RAW_UINT8;
  o->segment  = SM_IMAGE_SEGMENT_DEFAULT;
  PetscCall(PetscStrncpy(o->dataset, "/labels", sizeof(o->dataset)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "x0:x1,y0:y1,z0:z1" */
static PetscErrorCode sm_image_parse_crop(MPI_Comm comm, const char *s, int64_t lo[3], int64_t hi[3])
{
  const char *p = s;

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    char *end;
    lo[d] = (int64_t)strtoll(p, &end, 10);
    PetscCheck(end != p && *end == ':', comm, PETSC_ERR_ARG_WRONG,
               "-crop '%s': expected three half-open voxel ranges X0:X1,Y0:Y1,Z0:Z1 (e.g. -crop 0:100,0:100,10:60)", s);
    p     = end + 1;
    hi[d] = (int64_t)strtoll(p, &end, 10);
    PetscCheck(end != p && (d < 2 ? *end == ',' : *end == 0), comm, PETSC_ERR_ARG_WRONG,
               "-crop '%s': expected three half-open voxel ranges X0:X1,Y0:Y1,Z0:Z1 (e.g. -crop 0:100,0:100,10:60)", s);
    p = end + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_image_options_get_text(const SMImageOptions *o, char *buf, size_t len)
{
  char   item[256];
  size_t n;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(buf, len, "format=%s dataset=%s voxel_size=%.17g,%.17g,%.17g segment=%s", sm_format_names[o->format],
                          o->dataset, (double)o->voxel_size[0], (double)o->voxel_size[1], (double)o->voxel_size[2],
                          sm_segment_names[o->segment]));
  if (o->segment == SM_IMAGE_SEGMENT_THRESHOLD) {
    PetscCall(PetscSNPrintf(item, sizeof(item), " segment_threshold=%.17g", o->segment_threshold));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  if (o->format == SM_IMAGE_FORMAT_RAW) {
    PetscCall(PetscSNPrintf(item, sizeof(item), " raw_size=%lld,%lld,%lld raw_type=%s raw_endian=%s raw_header_bytes=%lld",
                            (long long)o->raw_size[0], (long long)o->raw_size[1], (long long)o->raw_size[2],
                            sm_raw_type_names[o->raw_type], o->raw_big_endian ? "big" : "little",
                            (long long)o->raw_header_bytes));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  for (int i = 0; i < o->nphase_labels; i++) {
    PetscCall(PetscSNPrintf(item, sizeof(item), "%s%.17g", i ? "," : " phase_labels=", o->phase_labels[i]));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  for (int i = 0; i < o->nphase_names; i++) {
    PetscCall(PetscSNPrintf(item, sizeof(item), "%s%s", i ? "," : " phase_names=", o->phase_names[i]));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  if (o->crop_set) {
    PetscCall(PetscSNPrintf(item, sizeof(item), " crop=%lld:%lld,%lld:%lld,%lld:%lld", (long long)o->crop_lo[0],
                            (long long)o->crop_hi[0], (long long)o->crop_lo[1], (long long)o->crop_hi[1],
                            (long long)o->crop_lo[2], (long long)o->crop_hi[2]));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  /* only when given, so that the text of every other reading is what it was before sub-particle files were read */
  if (o->raster_refine) {
    PetscCall(PetscSNPrintf(item, sizeof(item), " raster_refine=%d", o->raster_refine));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  if (o->raster_subsamples) {
    PetscCall(PetscSNPrintf(item, sizeof(item), " raster_subsamples=%d", o->raster_subsamples));
    PetscCall(PetscStrlcat(buf, item, len));
  }
  PetscCall(PetscStrlen(buf, &n));
  PetscCheck(n + 1 < len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "The image settings do not fit in %zu characters", len);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_image_options_set_from_options(MPI_Comm comm, SMImageOptions *o)
{
  PetscInt fmt = (PetscInt)o->format, rtype = (PetscInt)o->raw_type, seg = (PetscInt)o->segment,
           endian = o->raw_big_endian ? 1 : 0, header = (PetscInt)o->raw_header_bytes;
  PetscInt          nsize = 3, nh = 3, nlab = SM_MAX_PHASES, nnames = SM_MAX_PHASES, rs[3];
  PetscReal         h[3], lab[SM_MAX_PHASES];
  char             *names[SM_MAX_PHASES], crop[256] = "";
  PetscInt          refine = o->raster_refine ? o->raster_refine : SM_IMAGE_RASTER_REFINE_DEFAULT;
  PetscInt          subs   = o->raster_subsamples ? o->raster_subsamples : SM_IMAGE_RASTER_SUBSAMPLES_DEFAULT;
  PetscBool         set_size, set_h, set_lab, set_names, set_crop, set_thr, set_refine, set_subs;
  const char *const endians[] = {"little", "big"};

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    rs[d] = (PetscInt)o->raw_size[d];
    h[d]  = o->voxel_size[d];
  }
  PetscOptionsBegin(comm, NULL, "Image input", "sm_image_read");
  PetscCall(PetscOptionsEList("-image_format",
                              "Image format: auto (from the extension: .h5 .hdf5, .raw .bin .dat, .tif "
                              ".tiff), hdf5, raw, tiff",
                              "sm_image_read", sm_format_names, 4, sm_format_names[fmt], &fmt, NULL));
  PetscCall(PetscOptionsString("-image_dataset", "HDF5 dataset holding the image", "sm_image_read", o->dataset,
                               o->dataset, sizeof(o->dataset), NULL));
  PetscCall(
      PetscOptionsIntArray("-raw_size", "Raw image size NX,NY,NZ (x fastest)", "sm_image_read", rs, &nsize, &set_size));
  PetscCall(PetscOptionsEList("-raw_type", "Raw sample type", "sm_image_read", sm_raw_type_names, 4,
                              sm_raw_type_names[rtype], &rtype, NULL));
  PetscCall(PetscOptionsEList("-raw_endian", "Byte order of raw 16/32-bit samples", "sm_image_read", endians, 2,
                              endians[endian], &endian, NULL));
  PetscCall(PetscOptionsInt("-raw_header_bytes", "Bytes before the first raw sample", "sm_image_read", header, &header,
                            NULL));
  PetscCall(PetscOptionsRealArray("-voxel_size",
                                  "Voxel size [um]: H or HX,HY,HZ (overrides the file; required when the "
                                  "file does not record it)",
                                  "sm_image_read", h, &nh, &set_h));
  PetscCall(PetscOptionsEList("-segment",
                              "Segmentation: auto (none for integer labels, otsu for float data), none, "
                              "otsu, threshold",
                              "sm_image_read", sm_segment_names, 4, sm_segment_names[seg], &seg, NULL));
  PetscCall(PetscOptionsReal("-segment_threshold", "Threshold of -segment threshold: solid = {value >= t}",
                             "sm_image_read", o->segment_threshold, &o->segment_threshold, &set_thr));
  PetscCall(PetscOptionsRealArray("-phase_labels", "Input values V0,V1,... that become phases 0,1,...", "sm_image_read",
                                  lab, &nlab, &set_lab));
  PetscCall(PetscOptionsStringArray("-phase_names",
                                    "Phase names in label order (default: pore,solid for two phases, "
                                    "else phase0,phase1,...)",
                                    "sm_image_read", names, &nnames, &set_names));
  PetscCall(PetscOptionsString("-crop",
                               "Region of interest X0:X1,Y0:Y1,Z0:Z1 (half-open voxel ranges; of the source grid for a "
                               "sub-particle file)",
                               "sm_image_read", crop, crop, sizeof(crop), &set_crop));
  PetscCall(PetscOptionsInt("-raster_refine",
                            "Sub-particle file (written by `stochmorph shape`): rasterise on reading onto the source "
                            "grid refined K times (K n voxels per axis, voxel size h / K)",
                            "sm_image_read", refine, &refine, &set_refine));
  PetscCall(PetscOptionsInt("-raster_subsamples",
                            "Sub-particle file: sub-samples per axis and voxel, 1..8 (a voxel is solid when most of its "
                            "s^3 sub-cell centres are inside a sub-particle)",
                            "sm_image_read", subs, &subs, &set_subs));
  PetscOptionsEnd();
  o->format           = (SMImageFormat)fmt;
  o->raw_type         = (SMImageRawType)rtype;
  o->raw_big_endian   = endian ? PETSC_TRUE : PETSC_FALSE;
  o->raw_header_bytes = (int64_t)header;
  o->segment          = (SMImageSegment)seg;
  if (set_thr && o->segment == SM_IMAGE_SEGMENT_DEFAULT) o->segment = SM_IMAGE_SEGMENT_THRESHOLD;
  PetscCheck(!set_thr || o->segment == SM_IMAGE_SEGMENT_THRESHOLD, comm, PETSC_ERR_ARG_WRONG,
             "-segment_threshold is used by -segment threshold only (got -segment %s)", sm_segment_names[seg]);
  if (set_size) {
    PetscCheck(nsize == 3, comm, PETSC_ERR_ARG_WRONG, "-raw_size takes three values NX,NY,NZ; got %d", (int)nsize);
    for (int d = 0; d < 3; d++) o->raw_size[d] = (int64_t)rs[d];
  }
  if (set_h) {
    PetscCheck(nh == 1 || nh == 3, comm, PETSC_ERR_ARG_WRONG,
               "-voxel_size takes one value H or three values HX,HY,HZ (um); got %d", (int)nh);
    if (nh == 1) h[1] = h[2] = h[0];
    for (int d = 0; d < 3; d++) {
      PetscCheck(h[d] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-voxel_size: the %c voxel size must be positive (got %g um)", "xyz"[d], (double)h[d]);
      o->voxel_size[d] = h[d];
    }
  }
  if (set_lab) {
    o->nphase_labels = (int)nlab;
    for (int i = 0; i < o->nphase_labels; i++) o->phase_labels[i] = (double)lab[i];
  }
  if (set_names) {
    o->nphase_names = (int)nnames;
    for (int i = 0; i < o->nphase_names; i++) {
      PetscCheck(names[i][0] && strlen(names[i]) < SM_NAME_LEN, comm, PETSC_ERR_ARG_WRONG,
                 "-phase_names: a name must have 1 to %d characters ('%s')", SM_NAME_LEN - 1, names[i]);
      PetscCall(PetscStrncpy(o->phase_names[i], names[i], SM_NAME_LEN));
      PetscCall(PetscFree(names[i]));
    }
  }
  if (set_crop) {
    PetscCall(sm_image_parse_crop(comm, crop, o->crop_lo, o->crop_hi));
    o->crop_set = PETSC_TRUE;
  }
  if (set_refine) {
    PetscCheck(refine >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-raster_refine must be a whole number >= 1 (got %d): K = 1 rasterises a sub-particle file at its source "
               "voxel size h, K = 2 at h / 2, ...",
               (int)refine);
    o->raster_refine = (int)refine;
  }
  if (set_subs) {
    PetscCheck(subs >= 1 && subs <= 8, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-raster_subsamples must be between 1 and 8 (got %d)", (int)subs);
    o->raster_subsamples = (int)subs;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the reader ---- */

typedef enum { SM_MODE_LABELS, SM_MODE_MAP, SM_MODE_GREY } SMMode;

/* What the conversion of this rank's batches saw; reduced across ranks before anything is judged. */
typedef struct {
  double  vmin, vmax, unknown_min;
  int64_t nonint, nan, inf, unknown, counts[SM_MAX_PHASES];
  int64_t first_nonfinite; /* the smallest voxel index (in the crop box, x fastest) of a NaN or infinity */
} SMImageStats;

/* Convert n samples of a batch whose first voxel has index base in the crop box. */
static void sm_image_convert(SMMode mode, const void *buf, SMSample sample, int64_t n, int64_t base, const double map[],
                             int nmap, uint8_t *labels, float *grey, SMImageStats *st)
{
  for (int64_t i = 0; i < n; i++) {
    double v = sm_image_load(buf, sample, i);
    if (!isfinite(v)) {
      if (isnan(v)) st->nan++;
      else st->inf++;
      st->first_nonfinite = PetscMin(st->first_nonfinite, base + i);
      if (labels) labels[i] = 0;
      if (grey) grey[i] = 0;
      continue;
    }
    st->vmin = PetscMin(st->vmin, v);
    st->vmax = PetscMax(st->vmax, v);
    if (mode == SM_MODE_GREY)
      grey[i] = (float)v;
    else if (mode == SM_MODE_LABELS) {
      PetscBool ok = (v >= 0 && v <= 255 && v == floor(v)) ? PETSC_TRUE : PETSC_FALSE;
      if (v != floor(v)) st->nonint++;
      labels[i] = ok ? (uint8_t)v : 0;
    } else {
      int p = 0;
      while (p < nmap && v != map[p]) p++;
      if (p < nmap) {
        labels[i] = (uint8_t)p;
        st->counts[p]++;
      } else {
        labels[i] = 0;
        st->unknown++;
        st->unknown_min = PetscMin(st->unknown_min, v);
      }
    }
  }
}

static PetscErrorCode sm_image_reduce_stats(MPI_Comm comm, SMImageStats *st)
{
  double  mm[3] = {-st->vmin, st->vmax, -st->unknown_min};
  int64_t c[4 + SM_MAX_PHASES];

  PetscFunctionBeginUser;
  c[0] = st->nonint;
  c[1] = st->nan;
  c[2] = st->inf;
  c[3] = st->unknown;
  for (int p = 0; p < SM_MAX_PHASES; p++) c[4 + p] = st->counts[p];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, mm, 3, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c, 4 + SM_MAX_PHASES, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &st->first_nonfinite, 1, MPI_INT64_T, MPI_MIN, comm));
  st->vmin        = -mm[0];
  st->vmax        = mm[1];
  st->unknown_min = -mm[2];
  st->nonint      = c[0];
  st->nan         = c[1];
  st->inf         = c[2];
  st->unknown     = c[3];
  for (int p = 0; p < SM_MAX_PHASES; p++) st->counts[p] = c[4 + p];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The one rule for the names of phases that neither the file nor -phase_names names: two phases are pore (0) and solid
   (1), as a segmented two-phase image and a generated two-phase twin are; more are phase0, phase1, ... buf holds at
   least 16 characters. */
static const char *sm_image_default_phase_name(int nphases, int i, char buf[16])
{
  if (nphases == 2) return i ? "solid" : "pore";
  (void)snprintf(buf, 16, "phase%d", i);
  return buf;
}

/* What each node's ranks need together (mine summed over the node, the largest node) and the smallest node's physical
   memory. Collective. */
static PetscErrorCode sm_image_node_memory(MPI_Comm comm, double mine, double *need_out, double *have_out)
{
  MPI_Comm node;
  double   need, have, v[2];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Allreduce(&mine, &need, 1, MPI_DOUBLE, MPI_SUM, node));
  PetscCallMPI(MPI_Comm_free(&node));
  PetscCall(sm_sys_physical_memory(&have));
  v[0] = need;
  v[1] = have > 0 ? -have : -1e300;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_DOUBLE, MPI_MAX, comm));
  *need_out = v[0];
  *have_out = -v[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuse a read whose buffers would not fit: each node's ranks together against the node's physical memory (90 %). */
static PetscErrorCode sm_image_check_memory(MPI_Comm comm, const char *path, double mine, double per_voxel)
{
  double need, have;
  char   a[32], b[32];

  PetscFunctionBeginUser;
  PetscCall(sm_image_node_memory(comm, mine, &need, &have));
  sm_sys_format_bytes(need, a, sizeof(a));
  sm_sys_format_bytes(have, b, sizeof(b));
  PetscCheck(need <= 0.9 * have, comm, PETSC_ERR_MEM,
             "-i: reading '%s' needs about %s on a node (%.0f bytes per voxel) but a node has %s (90 %% usable); "
             "read a region with -crop or use more nodes",
             path, a, per_voxel, b);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A sub-particle file: rasterised onto its source grid refined K times (the crop box of the source grid), as
   `stochmorph rasterize` would rasterise it onto that grid. Creates *grid and *vol (the caller destroys them on error).
   Collective. */
static PetscErrorCode sm_image_read_shapes(MPI_Comm comm, const char *path, const SMImageOptions *o, SMGrid *grid,
                                           SMVolume *vol)
{
  const int   K = o->raster_refine ? o->raster_refine : SM_IMAGE_RASTER_REFINE_DEFAULT;
  const int   s = o->raster_subsamples ? o->raster_subsamples : SM_IMAGE_RASTER_SUBSAMPLES_DEFAULT;
  SMShapes    sh;
  int64_t     lo[3], hi[3], n[3];
  PetscReal   h[3];
  PetscMPIInt size;
  double      total = 1, need, have, per_voxel = sm_shape_rasterize_bytes_per_voxel(s);
  char        crop_str[96], a[32], b[32], buf[64];
  PetscBool   cropped = PETSC_FALSE;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  /* the options that make a volume out of stored values have no meaning for an analytic geometry */
  PetscCheck(!(o->voxel_size[0] > 0), comm, PETSC_ERR_ARG_INCOMP,
             "-voxel_size: '%s' is a sub-particle file, rasterised at its source voxel size divided by -raster_refine "
             "K; drop -voxel_size (or rasterise onto any grid with `stochmorph rasterize -voxel_size`)",
             path);
  PetscCheck(!o->nphase_labels && !o->nphase_names && o->segment != SM_IMAGE_SEGMENT_OTSU &&
               o->segment != SM_IMAGE_SEGMENT_THRESHOLD,
             comm, PETSC_ERR_ARG_INCOMP,
             "-i: '%s' is a sub-particle file; its rasterisation has the phases pore and solid, so -segment, "
             "-phase_labels and -phase_names do not apply: drop them",
             path);
  PetscCall(sm_shape_read(comm, path, &sh));
  for (int d = 0; d < 3; d++) {
    lo[d] = o->crop_set ? o->crop_lo[d] : 0;
    hi[d] = o->crop_set ? o->crop_hi[d] : sh.source_n[d];
    if (hi[d] - lo[d] != sh.source_n[d]) cropped = PETSC_TRUE;
  }
  sm_image_format_range(lo, hi, crop_str, sizeof(crop_str));
  for (int d = 0; d < 3; d++)
    if (!(lo[d] >= 0 && hi[d] <= sh.source_n[d] && lo[d] < hi[d])) {
      PetscCall(sm_shapes_free(&sh));
      SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE,
              "-crop %s: the %c range %lld:%lld is %s; the source grid of the sub-particle file '%s' is %lld x %lld x "
              "%lld voxels (-crop counts its voxels at every -raster_refine), so ranges lie within 0:%lld,0:%lld,0:%lld "
              "and are not empty",
              crop_str, "xyz"[d], (long long)lo[d], (long long)hi[d], lo[d] >= hi[d] ? "empty" : "outside the grid",
              path, (long long)sh.source_n[0], (long long)sh.source_n[1], (long long)sh.source_n[2],
              (long long)sh.source_n[0], (long long)sh.source_n[1], (long long)sh.source_n[2]);
    }
  for (int d = 0; d < 3; d++) {
    n[d] = (hi[d] - lo[d]) * K;
    h[d] = (PetscReal)(sh.source_h[d] / K);
    total *= (double)n[d];
  }
  /* the rasterisation's memory before its grid exists (an even split of the box over the ranks) */
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(sm_image_node_memory(comm, per_voxel * total / size, &need, &have));
  if (need > 0.9 * have) {
    PetscCall(sm_shapes_free(&sh));
    sm_sys_format_bytes(need, a, sizeof(a));
    sm_sys_format_bytes(have, b, sizeof(b));
    SETERRQ(comm, PETSC_ERR_MEM,
            "-i: rasterising the sub-particle file '%s' at -raster_refine %d (%lld x %lld x %lld voxels of %g um) needs "
            "about %s on a node (%.0f bytes per voxel with -raster_subsamples %d) but a node has %s (90 %% usable); "
            "lower -raster_refine, read a region with -crop, or use more nodes",
            path, K, (long long)n[0], (long long)n[1], (long long)n[2], (double)h[0], a, per_voxel, s, b);
  }
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = sm_grid_create(comm, n, h, grid);
  PetscCall(PetscPopErrorHandler());
  if (ierr) {
    PetscCall(sm_shapes_free(&sh));
    SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE,
            "-i: the %lld z planes of the rasterised '%s' cannot be split over %d ranks (every rank needs at least one "
            "plane); use fewer ranks, a larger -crop z range or a larger -raster_refine",
            (long long)n[2], path, (int)size);
  }
  /* a crop moves the origin to the low corner of voxel lo of the source grid: shift the centres, not the grid */
  for (int64_t p = 0; p < sh.n; p++)
    for (int d = 0; d < 3; d++) sh.centres[3 * p + d] -= (double)lo[d] * sh.source_h[d];
  ierr = sm_shape_rasterize(&sh, *grid, s, vol);
  if (!ierr) ierr = sm_volume_set_attr(*vol, "source_file", path);
  if (!ierr) ierr = sm_volume_set_attr(*vol, "source_format", "stochmorph-shapes-1 (sub-particles, rasterised on reading)");
  if (!ierr) ierr = sm_volume_set_attr(*vol, "shapes_source_file", sh.source);
  if (!ierr) ierr = PetscSNPrintf(buf, sizeof(buf), "%d", sh.degree);
  if (!ierr) ierr = sm_volume_set_attr(*vol, "sh_degree", buf);
  if (!ierr) ierr = PetscSNPrintf(buf, sizeof(buf), "%d", K);
  if (!ierr) ierr = sm_volume_set_attr(*vol, "raster_refine", buf);
  if (!ierr) ierr = PetscSNPrintf(buf, sizeof(buf), "%d", s);
  if (!ierr) ierr = sm_volume_set_attr(*vol, "raster_subsamples", buf);
  if (!ierr && cropped) ierr = sm_volume_set_attr(*vol, "crop", crop_str);
  PetscCall(sm_shapes_free(&sh));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  SMImageSource src;
  SMGrid        grid;
  SMVolume      vol;
  uint8_t      *tmp;
  float        *grey;
  void         *batch;
} SMImageState;

static PetscErrorCode sm_image_read_impl(MPI_Comm comm, const char *path, const SMImageOptions *o, SMImageState *st)
{
  SMImageSource *s      = &st->src;
  SMImageFormat  format = o->format;
  SMMode         mode;
  SMImageStats   stats;
  SMGridInfo     g;
  int64_t        lo[3], hi[3], cn[3], batch, zmax;
  PetscReal      h[3];
  int            nphases = 0, err = 0;
  const char    *names[SM_MAX_PHASES];
  char      n1[32], n2[32], n3[32], defnames[SM_MAX_PHASES][16], crop_str[96], msg[SM_IMAGE_MSG_LEN], thr_str[32] = "";
  uint8_t  *labels;
  PetscBool cropped   = PETSC_FALSE, names_known;
  double    threshold = 0, per_voxel;
  size_t    es;

  PetscFunctionBeginUser;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "-i: no input image given");
  if (s->rank == 0 && access(path, R_OK)) err = errno;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_OPEN, "-i: cannot read '%s': %s", path, strerror(err));
  if (format == SM_IMAGE_FORMAT_AUTO) PetscCall(sm_image_detect_format(comm, path, &format));
  s->format = format;
  if (format == SM_IMAGE_FORMAT_HDF5) {
    PetscBool is_shapes;
    PetscCall(sm_shape_file_probe(comm, path, &is_shapes));
    if (is_shapes) {
      PetscCall(sm_image_read_shapes(comm, path, o, &st->grid, &st->vol));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  }
  PetscCheck(!o->raster_refine && !o->raster_subsamples, comm, PETSC_ERR_ARG_INCOMP,
             "-raster_%s applies to sub-particle files (written by `stochmorph shape`); '%s' is an image: drop the "
             "option, or give the sub-particle file with -i",
             o->raster_refine ? "refine" : "subsamples", path);

  /* the options that do not need the file */
  PetscCheck(o->nphase_labels <= SM_MAX_PHASES, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-phase_labels: at most %d values (a volume has at most %d phases)", SM_MAX_PHASES, SM_MAX_PHASES);
  PetscCheck(!(o->nphase_labels && (o->segment == SM_IMAGE_SEGMENT_OTSU || o->segment == SM_IMAGE_SEGMENT_THRESHOLD)),
             comm, PETSC_ERR_ARG_INCOMP,
             "-phase_labels maps the values of a segmented image; it cannot be combined with -segment %s (which makes "
             "two phases from a greyscale image)",
             sm_segment_names[o->segment]);
  for (int i = 0; i < o->nphase_labels; i++)
    for (int j = 0; j < i; j++)
      PetscCheck(o->phase_labels[i] != o->phase_labels[j], comm, PETSC_ERR_ARG_WRONG,
                 "-phase_labels: the value %s is listed twice", sm_num(o->phase_labels[i], n1));
  for (int i = 0; i < o->nphase_names; i++)
    for (int j = 0; j < i; j++)
      PetscCheck(strcmp(o->phase_names[i], o->phase_names[j]), comm, PETSC_ERR_ARG_WRONG,
                 "-phase_names: the name '%s' is listed twice", o->phase_names[i]);

  switch (format) {
    case SM_IMAGE_FORMAT_HDF5:
      PetscCall(sm_image_h5_open(s, o->dataset));
      break;
    case SM_IMAGE_FORMAT_RAW:
      PetscCall(sm_image_raw_open(s, o));
      break;
    default:
      PetscCall(sm_image_tiff_open_source(s));
      break;
  }
  PetscCheck(s->n[0] > 0 && s->n[1] > 0 && s->n[2] > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "-i: image '%s' is empty",
             path);

  /* crop, voxel size, segmentation: decided and checked before anything large is allocated */
  for (int d = 0; d < 3; d++) {
    lo[d] = o->crop_set ? o->crop_lo[d] : 0;
    hi[d] = o->crop_set ? o->crop_hi[d] : s->n[d];
    cn[d] = hi[d] - lo[d];
    if (cn[d] != s->n[d]) cropped = PETSC_TRUE;
  }
  sm_image_format_range(lo, hi, crop_str, sizeof(crop_str));
  for (int d = 0; d < 3; d++)
    PetscCheck(lo[d] >= 0 && hi[d] <= s->n[d] && lo[d] < hi[d], comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-crop %s: the %c range %lld:%lld is %s; image '%s' is %lld x %lld x %lld voxels, so ranges lie within "
               "0:%lld,0:%lld,0:%lld and are not empty",
               crop_str, "xyz"[d], (long long)lo[d], (long long)hi[d], lo[d] >= hi[d] ? "empty" : "outside the image",
               path, (long long)s->n[0], (long long)s->n[1], (long long)s->n[2], (long long)s->n[0], (long long)s->n[1],
               (long long)s->n[2]);
  if (o->voxel_size[0] > 0 && o->voxel_size[1] > 0 && o->voxel_size[2] > 0)
    for (int d = 0; d < 3; d++) h[d] = o->voxel_size[d];
  else {
    PetscCheck(s->has_h, comm, PETSC_ERR_ARG_WRONG,
               "-i: '%s' does not record its voxel size; give it with -voxel_size H or HX,HY,HZ (um)", path);
    for (int d = 0; d < 3; d++) h[d] = (PetscReal)s->h[d];
  }
  if (o->nphase_labels)
    mode = SM_MODE_MAP;
  else if (o->segment == SM_IMAGE_SEGMENT_OTSU || o->segment == SM_IMAGE_SEGMENT_THRESHOLD)
    mode = SM_MODE_GREY;
  else if (o->segment == SM_IMAGE_SEGMENT_NONE)
    mode = SM_MODE_LABELS;
  else
    mode = s->is_float ? SM_MODE_GREY : SM_MODE_LABELS;
  if (mode == SM_MODE_MAP) nphases = o->nphase_labels;
  if (mode == SM_MODE_GREY) nphases = 2;
  if (mode == SM_MODE_LABELS && o->nphase_names) nphases = o->nphase_names;
  if (mode == SM_MODE_LABELS && !o->nphase_names && s->nnames) nphases = s->nnames;
  PetscCheck(!o->nphase_names || o->nphase_names == nphases || (mode == SM_MODE_LABELS && !nphases), comm,
             PETSC_ERR_ARG_WRONG, "-phase_names gives %d names but the volume read from '%s' has %d phases%s",
             o->nphase_names, path, nphases, mode == SM_MODE_GREY ? " (segmentation makes pore and solid)" : "");
  names_known = nphases > 0 ? PETSC_TRUE : PETSC_FALSE;

  {
    /* the grid's split decides which planes each rank reads; a split leaving a rank without planes is refused */
    PetscErrorCode ierr;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = sm_grid_create(comm, cn, h, &st->grid);
    PetscCall(PetscPopErrorHandler());
    if (ierr) {
      PetscMPIInt size;
      PetscCallMPI(MPI_Comm_size(comm, &size));
      SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE,
              "-i: the %lld z planes of '%s'%s cannot be split over %d ranks (every rank needs at least one plane); "
              "use fewer ranks or a larger -crop z range",
              (long long)cn[2], path, cropped ? " (cropped)" : "", (int)size);
    }
  }
  PetscCall(sm_grid_get_info(st->grid, &g));
  es = sm_sample_size[s->sample];
  PetscCallMPI(MPI_Allreduce(&g.z_local, &zmax, 1, MPI_INT64_T, MPI_MAX, comm));
  /* the same batch on every rank, so that all make the same number of (collective) batch calls */
  batch     = PetscMax((int64_t)1, (int64_t)(SM_IMAGE_BATCH_BYTES / es) / g.n_plane);
  batch     = PetscMin(batch, zmax);
  per_voxel = 1.0 + (mode == SM_MODE_GREY ? 4.0 : 0.0) + (names_known ? 0.0 : 1.0);
  PetscCall(sm_image_check_memory(comm, path, per_voxel * (double)g.n_local + (double)(batch * g.n_plane) * (double)es,
                                  per_voxel));

  if (mode == SM_MODE_GREY)
    PetscCall(PetscMalloc1((size_t)g.n_local, &st->grey));
  else if (!names_known)
    PetscCall(PetscMalloc1((size_t)g.n_local, &st->tmp));
  if (names_known) {
    for (int i = 0; i < nphases; i++) {
      double v = mode == SM_MODE_MAP ? o->phase_labels[i] : (double)i;
      if (o->nphase_names)
        names[i] = o->phase_names[i];
      else if (mode != SM_MODE_GREY && s->nnames && v == floor(v) && v >= 0 && v < s->nnames)
        names[i] = s->names[(int)v];
      else names[i] = sm_image_default_phase_name(nphases, i, defnames[i]);
    }
    PetscCall(sm_volume_create(st->grid, nphases, names, &st->vol));
  }
  labels = st->vol ? NULL : st->tmp;
  if (st->vol) PetscCall(sm_volume_get_labels(st->vol, &labels));

  /* every rank makes the same number of batch calls: HDF5 reads are collective, and errors are reduced after each */
  PetscCall(PetscMalloc(es * (size_t)(batch * g.n_plane), &st->batch));
  PetscCall(PetscMemzero(&stats, sizeof(stats)));
  stats.vmin = stats.unknown_min = PETSC_MAX_REAL;
  stats.vmax                     = -PETSC_MAX_REAL;
  stats.first_nonfinite          = INT64_MAX;
  {
    double map[SM_MAX_PHASES];
    /* float data hold float values: compare with the listed values as floats */
    for (int i = 0; i < o->nphase_labels; i++)
      map[i] = s->sample == SM_SAMPLE_F32 ? (double)(float)o->phase_labels[i] : o->phase_labels[i];
    for (int64_t z0 = 0; z0 < zmax; z0 += batch) {
      int64_t nz     = PetscMax((int64_t)0, PetscMin(batch, g.z_local - z0));
      int64_t blo[3] = {lo[0], lo[1], lo[2] + g.z_start + z0}, bcnt[3] = {cn[0], cn[1], nz};
      int64_t off = z0 * g.n_plane;
      PetscCall(sm_image_source_read(s, blo, bcnt, st->batch, msg, sizeof(msg)));
      PetscCall(sm_image_sync_error(comm, msg));
      sm_image_convert(mode, st->batch, s->sample, nz * g.n_plane, (g.z_start + z0) * g.n_plane, map, o->nphase_labels,
                       mode == SM_MODE_GREY ? NULL : labels + off, mode == SM_MODE_GREY ? st->grey + off : NULL,
                       &stats);
    }
  }
  PetscCall(PetscFree(st->batch));
  PetscCall(sm_image_reduce_stats(comm, &stats));
  /* NaN and infinity are refused, never thresholded: no phase is the right guess for a voxel the instrument lost */
  if (stats.nan || stats.inf) {
    const int64_t f = stats.first_nonfinite, nxy = cn[0] * cn[1];
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED,
            "-i: '%s' holds %lld NaN and %lld infinite values (the first at voxel x=%lld, y=%lld, z=%lld of the image, "
            "0-based); stochmorph does not guess a phase for them: replace them (for example by the value of the pore "
            "phase) or -crop them away, and read the image again",
            path, (long long)stats.nan, (long long)stats.inf, (long long)(lo[0] + f % cn[0]),
            (long long)(lo[1] + (f / cn[0]) % cn[1]), (long long)(lo[2] + f / nxy));
  }

  if (mode == SM_MODE_LABELS) {
    PetscCheck(!stats.nonint && stats.vmin >= 0 && stats.vmax <= 255, comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: '%s' holds values from %s to %s%s, not labels 0..255; segment a greyscale image with -segment otsu "
               "or -segment threshold, or map the values of a segmented one with -phase_labels V0,V1,...",
               path, sm_num(stats.vmin, n1), sm_num(stats.vmax, n2), stats.nonint ? " with fractions" : "");
    if (!names_known) {
      PetscCheck(stats.vmax < SM_MAX_PHASES, comm, PETSC_ERR_FILE_UNEXPECTED,
                 "-i: '%s' holds labels up to %s; a volume has at most %d phases (labels 0..%d): map the values with "
                 "-phase_labels V0,V1,... or segment with -segment otsu",
                 path, sm_num(stats.vmax, n1), SM_MAX_PHASES, SM_MAX_PHASES - 1);
      nphases = (int)stats.vmax + 1;
      for (int i = 0; i < nphases; i++) names[i] = sm_image_default_phase_name(nphases, i, defnames[i]);
      PetscCall(sm_volume_create(st->grid, nphases, names, &st->vol));
      PetscCall(sm_volume_get_labels(st->vol, &labels));
      PetscCall(PetscArraycpy(labels, st->tmp, (size_t)g.n_local));
      PetscCall(PetscFree(st->tmp));
    } else
      PetscCheck(stats.vmax < nphases, comm, PETSC_ERR_FILE_UNEXPECTED,
                 "-i: '%s' holds label %s but %s names only %d phases (labels 0..%d)", path, sm_num(stats.vmax, n1),
                 o->nphase_names ? "-phase_names" : "its phase_names attribute", nphases, nphases - 1);
  } else if (mode == SM_MODE_MAP) {
    PetscCheck(!stats.unknown, comm, PETSC_ERR_FILE_UNEXPECTED,
               "-i: %lld voxels of '%s' hold values not listed in -phase_labels (the smallest is %s); list every value "
               "the image holds",
               (long long)stats.unknown, path, sm_num(stats.unknown_min, n1));
    for (int i = 0; i < nphases; i++)
      PetscCheck(stats.counts[i] > 0, comm, PETSC_ERR_FILE_UNEXPECTED,
                 "-phase_labels: the value %s does not occur in '%s'%s; its values range from %s to %s",
                 sm_num(o->phase_labels[i], n1), path, cropped ? " (cropped)" : "", sm_num(stats.vmin, n2),
                 sm_num(stats.vmax, n3));
  } else {
    int64_t solid = 0, total;
    if (o->segment == SM_IMAGE_SEGMENT_THRESHOLD) {
      threshold = o->segment_threshold;
      for (int64_t i = 0; i < g.n_local; i++) {
        labels[i] = (double)st->grey[i] >= threshold ? 1 : 0;
        solid += labels[i];
      }
      PetscCallMPI(MPI_Allreduce(&solid, &total, 1, MPI_INT64_T, MPI_SUM, comm));
      PetscCheck(total > 0 && total < g.n_total, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-segment_threshold %s puts every voxel of '%s' into one phase (its values range from %s to %s); "
                 "choose a threshold inside that range",
                 sm_num(threshold, n1), path, sm_num(stats.vmin, n2), sm_num(stats.vmax, n3));
    } else {
      /* exact bins for integer data of at most 65536 distinct levels, otherwise SM_IMAGE_OTSU_BINS bins on [min, max]
       */
      PetscBool exact = s->sample != SM_SAMPLE_F32 && stats.vmax - stats.vmin < 65536 &&
                        stats.vmin >= -SM_IMAGE_FLOAT_EXACT && stats.vmax <= SM_IMAGE_FLOAT_EXACT;
      int      nbins = exact ? (int)(stats.vmax - stats.vmin) + 1 : SM_IMAGE_OTSU_BINS, k;
      double   lo_v = stats.vmin, range = stats.vmax - stats.vmin;
      int64_t *hist;

      PetscCheck(range > 0, comm, PETSC_ERR_FILE_UNEXPECTED,
                 "-i: every voxel of '%s'%s has the value %s: there is nothing to segment", path,
                 cropped ? " (cropped)" : "", sm_num(stats.vmin, n1));
      PetscCall(PetscCalloc1((size_t)nbins, &hist));
      for (int64_t i = 0; i < g.n_local; i++) {
        double v = (double)st->grey[i];
        int    b = exact ? (int)(v - lo_v) : (int)((v - lo_v) / range * nbins);
        hist[PetscMin(PetscMax(b, 0), nbins - 1)]++;
      }
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hist, nbins, MPI_INT64_T, MPI_SUM, comm));
      PetscCall(sm_image_otsu_bin(hist, nbins, &k));
      PetscCall(PetscFree(hist));
      PetscCheck(k > 0, comm, PETSC_ERR_PLIB, "Otsu found no threshold for '%s' although its values differ", path);
      threshold = exact ? lo_v + k : lo_v + (double)k * range / nbins;
      /* classify by bin, exactly as the histogram counted: solid = bins >= k, i.e. value >= threshold */
      for (int64_t i = 0; i < g.n_local; i++) {
        double v  = (double)st->grey[i];
        int    b  = exact ? (int)(v - lo_v) : (int)((v - lo_v) / range * nbins);
        labels[i] = PetscMin(PetscMax(b, 0), nbins - 1) >= k ? 1 : 0;
      }
    }
    PetscCall(PetscFree(st->grey));
    sm_sys_format_real(threshold, thr_str, sizeof(thr_str));
  }

  /* provenance: the source's own attributes first, then how this volume was made from it; a stochmorph volume read
     as it is (no crop, labels as stored) keeps exactly its own provenance, so its analyses do not depend on the file
     name (the results name their input themselves) */
  PetscCall(sm_volume_set_periodic(
      st->vol, (format == SM_IMAGE_FORMAT_HDF5 && s->periodic && !cropped) ? PETSC_TRUE : PETSC_FALSE));
  if (format == SM_IMAGE_FORMAT_HDF5) PetscCall(sm_image_h5_provenance(s, st->vol));
  if (format == SM_IMAGE_FORMAT_HDF5 && s->ours && !cropped && mode == SM_MODE_LABELS)
    PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_volume_set_attr(st->vol, "source_file", path));
  PetscCall(sm_volume_set_attr(st->vol, "source_format", s->desc));
  PetscCall(sm_volume_set_attr(st->vol, "segment_method",
                               mode == SM_MODE_MAP                        ? "phase_labels"
                               : mode == SM_MODE_LABELS                   ? "none"
                               : o->segment == SM_IMAGE_SEGMENT_THRESHOLD ? "threshold"
                                                                          : "otsu"));
  if (mode == SM_MODE_GREY) PetscCall(sm_volume_set_attr(st->vol, "segment_threshold", thr_str));
  if (cropped) PetscCall(sm_volume_set_attr(st->vol, "crop", crop_str));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_image_read(MPI_Comm comm, const char *path, const SMImageOptions *o, SMVolume *vol)
{
  SMImageState   st;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *vol = NULL;
  PetscCall(PetscMemzero(&st, sizeof(st)));
  st.src.comm = comm;
  st.src.path = path;
  st.src.fd   = -1;
  st.src.dset = st.src.mtype = -1;
  st.src.tdir                = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &st.src.rank));
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(PetscLogEventBegin(SM_EVENT_ImageRead, 0, 0, 0, 0));
  ierr = sm_image_read_impl(comm, path, o, &st);
  PetscCall(sm_image_source_close(&st.src));
  PetscCall(PetscFree(st.batch));
  PetscCall(PetscFree(st.tmp));
  PetscCall(PetscFree(st.grey));
  if (ierr) {
    PetscCall(sm_volume_destroy(&st.vol));
    PetscCall(sm_grid_destroy(&st.grid));
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_ImageRead, 0, 0, 0, 0));
  PetscCall(ierr);
  *vol = st.vol;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_image_read_from_options(MPI_Comm comm, const char *path, SMVolume *vol)
{
  SMImageOptions o;

  PetscFunctionBeginUser;
  PetscCall(sm_image_options_default(&o));
  PetscCall(sm_image_options_set_from_options(comm, &o));
  PetscCall(sm_image_read(comm, path, &o, vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}
