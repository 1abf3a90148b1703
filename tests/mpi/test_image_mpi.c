/* Image input at 1, 2 and 3 ranks. Rank 0 writes small images of known patterns (plain C for raw samples, libtiff for
 * TIFF stacks, serial HDF5 for datasets); every rank reads them with sm_image_read and compares each voxel of its slab
 * with the label the pattern gives at that global index. Truth for the segmentations: the label rule applied to the
 * known values (-phase_labels: the index of the value; threshold: value >= t) and, for Otsu, a brute-force scan over
 * every threshold of the histogram computed here from the known values with the documented binning (image.h), using
 * the physical bin values rather than bin indices. Also: anisotropic voxel sizes given and recorded (HDF5 attribute,
 * ImageJ TIFF tags), big-endian raw data, header bytes, strips and tiles (tile size not dividing the page), crops
 * (grid = cropped size, labels = the pattern's sub-block), the same Otsu threshold when each rank reads the whole image
 * alone, and the input errors with the words their messages must contain. */
#include <stochmorph/image.h>
#include <hdf5.h>
#include <tiffio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "smtest.h"
#include "smtest_volume.h"

/* A test image: nx x ny x nz values, x fastest. */
typedef struct {
  int64_t n[3];
  double *v;
} Img;

static uint64_t mix(uint64_t k)
{
  k ^= k >> 31;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 29;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 32;
  return k;
}

/* Standard normal deviate from a hash of (i, seed): Box-Muller on two 53-bit uniforms. */
static double gauss(int64_t i, uint64_t seed)
{
  double u1 = ((double)(mix((uint64_t)i * 2 + seed * 0x9e3779b97f4a7c15ULL) >> 11) + 0.5) * 0x1.0p-53;
  double u2 = ((double)(mix((uint64_t)i * 2 + 1 + seed * 0x9e3779b97f4a7c15ULL) >> 11) + 0.5) * 0x1.0p-53;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static int lab3(int64_t x, int64_t y, int64_t z)
{
  return (int)((x + 2 * y + 3 * z + (x * y) % 5) % 3);
}
static int lab2(int64_t x, int64_t y, int64_t z)
{
  return (int)((x / 3 + y / 2 + z) % 2);
}

/* kind 0: labels 0..2; kind 1: two levels 100 / 160 plus N(0, 12^2) noise (rounded when round_ is set) */
static PetscErrorCode img_make(Img *im, const int64_t n[3], int kind, PetscBool round_, uint64_t seed)
{
  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) im->n[d] = n[d];
  PetscCall(PetscMalloc1((size_t)(n[0] * n[1] * n[2]), &im->v));
  for (int64_t z = 0; z < n[2]; z++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < n[0]; x++) {
        int64_t i = (z * n[1] + y) * n[0] + x;
        if (kind == 0)
          im->v[i] = lab3(x, y, z);
        else {
          double v = (lab2(x, y, z) ? 160.0 : 100.0) + 12.0 * gauss(i, seed);
          im->v[i] = round_ ? round(v) : (double)(float)v;
        }
      }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double img_at(const Img *im, int64_t x, int64_t y, int64_t z)
{
  return im->v[(z * im->n[1] + y) * im->n[0] + x];
}

/* ---- writers (rank 0 only) ---- */

static void put_be(uint8_t *p, uint64_t bits, int size)
{
  for (int b = 0; b < size; b++) p[b] = (uint8_t)(bits >> (8 * (size - 1 - b)));
}
static void put_le(uint8_t *p, uint64_t bits, int size)
{
  for (int b = 0; b < size; b++) p[b] = (uint8_t)(bits >> (8 * b));
}

/* type: 0 uint8, 1 uint16, 2 int16, 3 float32; values = v * scale + offset; header bytes of 0xAB first. */
static PetscErrorCode write_raw(const char *path, const Img *im, int type, PetscBool big, int header, double scale,
                                double offset, int64_t extra_bytes)
{
  const int size = type == 0 ? 1 : type == 3 ? 4 : 2;
  int64_t   n    = im->n[0] * im->n[1] * im->n[2];
  uint8_t  *buf;
  FILE     *f;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)(header + n * size + extra_bytes), &buf));
  memset(buf, 0xAB, (size_t)(header + n * size + extra_bytes));
  for (int64_t i = 0; i < n; i++) {
    double   v = im->v[i] * scale + offset;
    uint64_t bits;
    if (type == 3) {
      float    fv = (float)v;
      uint32_t u;
      memcpy(&u, &fv, 4);
      bits = u;
    } else if (type == 2)
      bits = (uint16_t)(int16_t)v;
    else
      bits = (uint64_t)v;
    if (big)
      put_be(buf + header + i * size, bits, size);
    else
      put_le(buf + header + i * size, bits, size);
  }
  f = fopen(path, "wb");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
  PetscCheck(fwrite(buf, 1, (size_t)(header + n * size + extra_bytes), f) == (size_t)(header + n * size + extra_bytes),
             PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "short write %s", path);
  fclose(f);
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  int         bps, fmt; /* 8/16/32, SAMPLEFORMAT_* */
  int         tile;     /* > 0: tiles of tile x tile; else strips of rps rows */
  int         rps;
  int         compression;
  int         spp;    /* 3: RGB */
  const char *imagej; /* ImageJ description (with X/YResolution res[0], res[1]) or NULL */
  float       res[2];
  int         odd_page; /* page written one pixel wider, or -1 */
} TiffSpec;

static void tiff_store(uint8_t *p, double v, const TiffSpec *t)
{
  if (t->bps == 8)
    *p = (uint8_t)v;
  else if (t->bps == 16 && t->fmt == SAMPLEFORMAT_INT) {
    int16_t s = (int16_t)v;
    memcpy(p, &s, 2);
  } else if (t->bps == 16) {
    uint16_t s = (uint16_t)v;
    memcpy(p, &s, 2);
  } else {
    float s = (float)v;
    memcpy(p, &s, 4);
  }
}

static PetscErrorCode write_tiff(const char *path, const Img *im, const TiffSpec *t)
{
  TIFF  *tif = TIFFOpen(path, "w");
  size_t es  = (size_t)t->bps / 8 * (size_t)t->spp;

  PetscFunctionBeginUser;
  PetscCheck(tif, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", path);
  for (int64_t z = 0; z < im->n[2]; z++) {
    uint32_t w = (uint32_t)im->n[0] + (z == t->odd_page ? 1 : 0), h = (uint32_t)im->n[1];
    uint8_t *buf;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, t->bps);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, t->spp);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, t->fmt);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, t->spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, t->compression);
    if (t->imagej) {
      TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, t->imagej);
      TIFFSetField(tif, TIFFTAG_XRESOLUTION, t->res[0]);
      TIFFSetField(tif, TIFFTAG_YRESOLUTION, t->res[1]);
      TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    if (t->tile > 0) {
      uint32_t ts = (uint32_t)t->tile;
      TIFFSetField(tif, TIFFTAG_TILEWIDTH, ts);
      TIFFSetField(tif, TIFFTAG_TILELENGTH, ts);
      PetscCall(PetscMalloc1(ts * ts * es, &buf));
      for (uint32_t ty = 0; ty < h; ty += ts)
        for (uint32_t tx = 0; tx < w; tx += ts) {
          memset(buf, 0, ts * ts * es);
          for (uint32_t y = ty; y < PetscMin(ty + ts, h); y++)
            for (uint32_t x = tx; x < PetscMin(tx + ts, w); x++)
              for (int c = 0; c < t->spp; c++)
                tiff_store(buf + ((y - ty) * ts + (x - tx)) * es + (size_t)c * t->bps / 8,
                           x < im->n[0] ? img_at(im, x, y, z) : 0, t);
          PetscCheck(TIFFWriteTile(tif, buf, tx, ty, 0, 0) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "tile");
        }
    } else {
      TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)t->rps);
      PetscCall(PetscMalloc1(w * es, &buf));
      for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++)
          for (int c = 0; c < t->spp; c++)
            tiff_store(buf + x * es + (size_t)c * t->bps / 8, x < im->n[0] ? img_at(im, x, y, z) : 0, t);
        PetscCheck(TIFFWriteScanline(tif, buf, y, 0) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "scanline");
      }
    }
    PetscCall(PetscFree(buf));
    PetscCheck(TIFFWriteDirectory(tif), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "directory");
  }
  TIFFClose(tif);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A dataset of type ftype [nz][ny][nx] holding the values (optionally a voxel_size attribute), serial HDF5. */
static PetscErrorCode write_h5(const char *path, const char *name, const Img *im, hid_t ftype, const double *h,
                               int ndims)
{
  hsize_t dims[3] = {(hsize_t)im->n[2], (hsize_t)im->n[1], (hsize_t)im->n[0]}, three = 3;
  hid_t   f, s, d;

  PetscFunctionBeginUser;
  if (ndims == 2) dims[1] *= dims[0], dims[0] = dims[1], dims[1] = dims[2]; /* a 2D dataset of the same values */
  SM_CALL_HDF5(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  SM_CALL_HDF5(s = H5Screate_simple(ndims, dims, NULL));
  SM_CALL_HDF5(d = H5Dcreate2(f, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  SM_CALL_HDF5(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, im->v));
  if (h) {
    hid_t as, a;
    SM_CALL_HDF5(as = H5Screate_simple(1, &three, NULL));
    SM_CALL_HDF5(a = H5Acreate2(d, "voxel_size", H5T_IEEE_F64LE, as, H5P_DEFAULT, H5P_DEFAULT));
    SM_CALL_HDF5(H5Awrite(a, H5T_NATIVE_DOUBLE, h));
    SM_CALL_HDF5(H5Aclose(a));
    SM_CALL_HDF5(H5Sclose(as));
  }
  SM_CALL_HDF5(H5Dclose(d));
  SM_CALL_HDF5(H5Sclose(s));
  SM_CALL_HDF5(H5Fclose(f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- truth ---- */

/* The Otsu threshold of the values of im inside the box [lo, lo + cn), computed here from scratch: the documented
   histogram (one bin per integer value when exact, else SM_IMAGE_OTSU_BINS bins on [min, max]), then every split k
   scored by w0 w1 (m0 - m1)^2 with the bins' physical values, the first maximum kept. Returns k, the threshold, the
   binning (lo_v, range, nbins, exact). */
typedef struct {
  int       k, nbins;
  PetscBool exact;
  double    lo, range, t;
} Otsu;

static int otsu_bin(const Otsu *o, double v)
{
  int b = o->exact ? (int)(v - o->lo) : (int)((v - o->lo) / o->range * o->nbins);
  return PetscMin(PetscMax(b, 0), o->nbins - 1);
}

static PetscErrorCode otsu_truth(const Img *im, const int64_t lo[3], const int64_t cn[3], PetscBool exact, Otsu *o)
{
  double   mn = PETSC_MAX_REAL, mx = -PETSC_MAX_REAL, best = -1;
  int64_t *hist;

  PetscFunctionBeginUser;
  for (int64_t z = lo[2]; z < lo[2] + cn[2]; z++)
    for (int64_t y = lo[1]; y < lo[1] + cn[1]; y++)
      for (int64_t x = lo[0]; x < lo[0] + cn[0]; x++) {
        mn = PetscMin(mn, img_at(im, x, y, z));
        mx = PetscMax(mx, img_at(im, x, y, z));
      }
  o->exact = exact;
  o->lo    = mn;
  o->range = mx - mn;
  o->nbins = exact ? (int)(mx - mn) + 1 : SM_IMAGE_OTSU_BINS;
  o->k     = -1;
  PetscCall(PetscCalloc1((size_t)o->nbins, &hist));
  for (int64_t z = lo[2]; z < lo[2] + cn[2]; z++)
    for (int64_t y = lo[1]; y < lo[1] + cn[1]; y++)
      for (int64_t x = lo[0]; x < lo[0] + cn[0]; x++) hist[otsu_bin(o, img_at(im, x, y, z))]++;
  for (int k = 1; k < o->nbins; k++) {
    double w0 = 0, w1 = 0, s0 = 0, s1 = 0, var;
    for (int b = 0; b < o->nbins; b++) {
      double xb = exact ? mn + b : mn + (b + 0.5) * o->range / o->nbins;
      if (b < k)
        w0 += (double)hist[b], s0 += xb * (double)hist[b];
      else
        w1 += (double)hist[b], s1 += xb * (double)hist[b];
    }
    if (w0 == 0 || w1 == 0) continue;
    var = w0 * w1 * (s0 / w0 - s1 / w1) * (s0 / w0 - s1 / w1);
    if (var > best) best = var, o->k = k;
  }
  o->t = exact ? mn + o->k : mn + (double)o->k * o->range / o->nbins;
  PetscCall(PetscFree(hist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* How a value becomes a label in a check. */
typedef enum { RULE_VALUE, RULE_MAP, RULE_THRESHOLD, RULE_OTSU } Rule;
typedef struct {
  Rule          rule;
  const double *map;
  int           nmap;
  double        t;
  const Otsu   *otsu;
} LabelRule;

static int expected_label(const LabelRule *r, double v)
{
  switch (r->rule) {
    case RULE_VALUE:
      return (int)v;
    case RULE_MAP:
      for (int i = 0; i < r->nmap; i++)
        if (v == r->map[i]) return i;
      return -1;
    case RULE_THRESHOLD:
      return v >= r->t;
    default:
      return otsu_bin(r->otsu, v) >= r->otsu->k;
  }
}

/* Compare the volume with the rule applied to the values of im in the box starting at lo; grid size = cn, voxel
   size h (relative tolerance htol), nphases phases, non-periodic. Destroys the volume and its grid. */
static PetscErrorCode check_volume(SMVolume *vol, const Img *im, const int64_t lo[3], const int64_t cn[3],
                                   const double h[3], double htol, int nphases, const LabelRule *r, const char *what)
{
  SMGrid     grid;
  SMGridInfo g;
  uint8_t   *lab;
  int64_t    bad = 0, gbad, first = -1;
  int        np;
  PetscBool  periodic;

  PetscFunctionBeginUser;
  SM_TEST_TRUE(*vol != NULL, "%s: no volume", what);
  if (!*vol) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_volume_get_grid(*vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(*vol, &lab));
  PetscCall(sm_volume_get_phases(*vol, &np, NULL));
  PetscCall(sm_volume_get_periodic(*vol, &periodic));
  SM_TEST_TRUE(np == nphases, "%s: %d phases, expected %d", what, np, nphases);
  SM_TEST_TRUE(!periodic, "%s: an image must be non-periodic", what);
  for (int d = 0; d < 3; d++) {
    SM_TEST_TRUE(g.n[d] == cn[d], "%s: grid size %c = %lld, expected %lld", what, "xyz"[d], (long long)g.n[d],
                 (long long)cn[d]);
    SM_TEST_REL(g.h[d], h[d], htol, what);
  }
  if (g.n[0] == cn[0] && g.n[1] == cn[1] && g.n[2] == cn[2])
    for (int64_t z = 0; z < g.z_local; z++)
      for (int64_t y = 0; y < g.n[1]; y++)
        for (int64_t x = 0; x < g.n[0]; x++) {
          double v = img_at(im, lo[0] + x, lo[1] + y, lo[2] + g.z_start + z);
          if (lab[(z * g.n[1] + y) * g.n[0] + x] != expected_label(r, v)) {
            if (first < 0) first = (z * g.n[1] + y) * g.n[0] + x;
            bad++;
          }
        }
  PetscCallMPI(MPI_Allreduce(&bad, &gbad, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD));
  SM_TEST_TRUE(gbad == 0, "%s: %lld voxels differ from the pattern (first local index %lld on rank %d)", what,
               (long long)gbad, (long long)first, g.rank);
  PetscCall(sm_test_volume_destroy(vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_attr(SMVolume vol, const char *key, const char *want, const char *what)
{
  const char *v;
  PetscBool   found;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_attr(vol, key, &v, &found));
  SM_TEST_TRUE(found && !strcmp(v, want), "%s: attribute %s = '%s', expected '%s'", what, key, found ? v : "(none)",
               want);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- expected failures ---- */

static char           last_error[1024];
static PetscErrorCode capture_error(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n,
                                    PetscErrorType p, const char *mess, void *ctx)
{
  (void)comm;
  (void)line;
  (void)fun;
  (void)file;
  (void)ctx;
  if (p == PETSC_ERROR_INITIAL) snprintf(last_error, sizeof(last_error), "%s", mess ? mess : "");
  return n;
}

/* The read must fail on every rank with a message containing each of the needles (|-separated). */
static void expect_fail(const char *path, const SMImageOptions *o, const char *needles, const char *what)
{
  SMVolume       vol = NULL;
  PetscErrorCode ierr;
  char           buf[256], *tok, *save = NULL;
  int            failed, all;

  last_error[0] = 0;
  PetscCallAbort(PETSC_COMM_WORLD, PetscPushErrorHandler(capture_error, NULL));
  ierr = sm_image_read(PETSC_COMM_WORLD, path, o, &vol);
  PetscCallAbort(PETSC_COMM_WORLD, PetscPopErrorHandler());
  failed = ierr != 0 && vol == NULL;
  MPI_Allreduce(&failed, &all, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
  SM_TEST_TRUE(all, "%s: the read should fail on every rank", what);
  snprintf(buf, sizeof(buf), "%s", needles);
  for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
    SM_TEST_TRUE(strstr(last_error, tok) != NULL, "%s: message '%s' lacks '%s'", what, last_error, tok);
  PetscCallAbort(PETSC_COMM_WORLD, sm_test_volume_destroy(&vol));
}

/* ---- the cases ---- */

/* The scratch directory of the images, in the working directory. */
static char dir[PETSC_MAX_PATH_LEN];

static PetscErrorCode make_dir(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscCall(sm_test_scratch_dir(comm, "imagetest", dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode remove_dir(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(sm_test_scratch_dir_remove(comm, dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_raw(MPI_Comm comm)
{
  PetscMPIInt    rank;
  const int64_t  n[3] = {37, 21, 9}, zero[3] = {0, 0, 0};
  const double   h[3] = {0.01, 0.015, 0.02}, map3[3] = {10, 15, 20};
  Img            lab, grey, pm;
  char           p8[PETSC_MAX_PATH_LEN], p16[PETSC_MAX_PATH_LEN], pi16[PETSC_MAX_PATH_LEN], pf[PETSC_MAX_PATH_LEN];
  SMImageOptions o;
  SMVolume       vol;
  LabelRule      rv = {RULE_VALUE, NULL, 0, 0, NULL}, rm = {RULE_MAP, map3, 3, 0, NULL};
  Otsu           ot;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(img_make(&lab, n, 0, PETSC_TRUE, 0));
  PetscCall(img_make(&grey, n, 1, PETSC_FALSE, 1));
  PetscCall(PetscSNPrintf(p8, sizeof(p8), "%s/lab.raw", dir));
  PetscCall(PetscSNPrintf(p16, sizeof(p16), "%s/lab16.bin", dir));
  PetscCall(PetscSNPrintf(pi16, sizeof(pi16), "%s/labi16.dat", dir));
  PetscCall(PetscSNPrintf(pf, sizeof(pf), "%s/grey.raw", dir));
  if (!rank) {
    PetscCall(write_raw(p8, &lab, 0, PETSC_FALSE, 17, 1, 0, 0));
    PetscCall(write_raw(p16, &lab, 1, PETSC_TRUE, 0, 5, 10, 0));    /* 10, 15, 20 big-endian uint16 */
    PetscCall(write_raw(pi16, &lab, 2, PETSC_FALSE, 4, 10, -7, 0)); /* -7, 3, 13 little-endian int16 */
    PetscCall(write_raw(pf, &grey, 3, PETSC_TRUE, 256, 1, 0, 0));   /* float32 big-endian after 256 header bytes */
  }
  PetscCallMPI(MPI_Barrier(comm));

  /* uint8 labels 0..2 after a 17-byte header, anisotropic voxels */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.raw_size[d] = n[d], o.voxel_size[d] = h[d];
  o.raw_header_bytes = 17;
  PetscCall(sm_image_read(comm, p8, &o, &vol));
  PetscCall(check_attr(vol, "source_format", "raw uint8 little-endian, header 17 bytes", "raw uint8"));
  PetscCall(check_attr(vol, "segment_method", "none", "raw uint8"));
  {
    int                np;
    const char *const *names;
    PetscCall(sm_volume_get_phases(vol, &np, &names));
    SM_TEST_TRUE(np == 3 && !strcmp(names[0], "phase0") && !strcmp(names[2], "phase2"), "raw uint8: default names");
  }
  PetscCall(check_volume(&vol, &lab, zero, n, h, 1e-15, 3, &rv, "raw uint8"));

  /* crop: the sub-block of the pattern, on the cropped grid */
  {
    const int64_t clo[3] = {3, 2, 1}, chi[3] = {31, 19, 8}, cn[3] = {28, 17, 7};
    o.crop_set = PETSC_TRUE;
    for (int d = 0; d < 3; d++) o.crop_lo[d] = clo[d], o.crop_hi[d] = chi[d];
    PetscCall(sm_image_read(comm, p8, &o, &vol));
    PetscCall(check_attr(vol, "crop", "3:31,2:19,1:8", "raw crop"));
    PetscCall(check_volume(&vol, &lab, clo, cn, h, 1e-15, 3, &rv, "raw uint8 cropped"));
    /* a crop keeping whole rows (x) is read by runs of rows */
    o.crop_lo[0] = 0, o.crop_hi[0] = n[0];
    PetscCall(sm_image_read(comm, p8, &o, &vol));
    {
      const int64_t clo2[3] = {0, 2, 1}, cn2[3] = {37, 17, 7};
      PetscCall(check_volume(&vol, &lab, clo2, cn2, h, 1e-15, 3, &rv, "raw uint8 cropped in y, z"));
    }
    o.crop_set = PETSC_FALSE;
  }

  /* big-endian uint16 values 10, 15, 20 mapped to phases; -phase_names */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.raw_size[d] = n[d], o.voxel_size[d] = h[d];
  o.format         = SM_IMAGE_FORMAT_AUTO; /* .bin */
  o.raw_type       = SM_IMAGE_RAW_UINT16;
  o.raw_big_endian = PETSC_TRUE;
  o.nphase_labels  = 3;
  for (int i = 0; i < 3; i++) o.phase_labels[i] = map3[i];
  o.nphase_names = 3;
  PetscCall(PetscStrncpy(o.phase_names[0], "pore", SM_NAME_LEN));
  PetscCall(PetscStrncpy(o.phase_names[1], "active", SM_NAME_LEN));
  PetscCall(PetscStrncpy(o.phase_names[2], "carbon", SM_NAME_LEN));
  {
    Img mapped;
    PetscCall(img_make(&mapped, n, 0, PETSC_TRUE, 0));
    for (int64_t i = 0; i < n[0] * n[1] * n[2]; i++) mapped.v[i] = 10 + 5 * lab.v[i];
    PetscCall(sm_image_read(comm, p16, &o, &vol));
    PetscCall(check_attr(vol, "segment_method", "phase_labels", "raw uint16 map"));
    {
      int label;
      PetscCall(sm_volume_find_phase(vol, "carbon", &label));
      SM_TEST_TRUE(label == 2, "raw uint16 map: carbon is label %d", label);
    }
    PetscCall(check_volume(&vol, &mapped, zero, n, h, 1e-15, 3, &rm, "raw uint16 big-endian map"));
    /* the same bytes read as little-endian hold other values: 10 << 8 = 2560 is not listed */
    o.raw_big_endian = PETSC_FALSE;
    expect_fail(p16, &o, "not listed in -phase_labels|smallest is 2560", "raw uint16 wrong byte order");
    o.raw_big_endian  = PETSC_TRUE;
    o.phase_labels[2] = 21;
    expect_fail(p16, &o, "not listed in -phase_labels|smallest is 20", "raw uint16 map missing value");
    o.nphase_labels   = 4;
    o.phase_labels[2] = 20;
    o.phase_labels[3] = 25;
    o.nphase_names    = 0;
    expect_fail(p16, &o, "value 25 does not occur", "raw uint16 map value absent");
    /* integer data beyond 0..7 without a rule */
    o.nphase_labels = 0;
    expect_fail(p16, &o, "labels up to 20|-phase_labels", "raw uint16 labels > 7");
    PetscCall(PetscFree(mapped.v));
  }

  /* int16 little-endian -7, 3, 13 after a 4-byte header: a map missing a value, labels out of range, a threshold */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.raw_size[d] = n[d], o.voxel_size[d] = h[d];
  o.raw_type         = SM_IMAGE_RAW_INT16;
  o.raw_header_bytes = 4;
  o.nphase_labels    = 2;
  o.phase_labels[0]  = -7;
  o.phase_labels[1]  = 3;
  expect_fail(pi16, &o, "not listed in -phase_labels|smallest is 13", "raw int16 unlisted value");
  o.segment = SM_IMAGE_SEGMENT_THRESHOLD;
  expect_fail(pi16, &o, "cannot be combined", "phase_labels with threshold");
  o.segment       = SM_IMAGE_SEGMENT_DEFAULT;
  o.nphase_labels = 0;
  expect_fail(pi16, &o, "values from -7 to 13|-segment otsu", "raw int16 negative labels");
  /* threshold 0 on -7 / 3 / 13: solid = labels 1 and 2 */
  o.segment           = SM_IMAGE_SEGMENT_THRESHOLD;
  o.segment_threshold = 0;
  PetscCall(img_make(&pm, n, 0, PETSC_TRUE, 0));
  for (int64_t i = 0; i < n[0] * n[1] * n[2]; i++) pm.v[i] = 10 * lab.v[i] - 7;
  PetscCall(sm_image_read(comm, pi16, &o, &vol));
  {
    int                np;
    const char *const *names;
    PetscCall(sm_volume_get_phases(vol, &np, &names));
    SM_TEST_TRUE(np == 2 && !strcmp(names[0], "pore") && !strcmp(names[1], "solid"), "threshold: pore, solid");
    PetscCall(check_attr(vol, "segment_threshold", "0", "raw int16 threshold"));
  }
  {
    LabelRule rt = {RULE_THRESHOLD, NULL, 0, 0, NULL};
    PetscCall(check_volume(&vol, &pm, zero, n, h, 1e-15, 2, &rt, "raw int16 threshold 0"));
  }
  o.segment_threshold = 14;
  expect_fail(pi16, &o, "puts every voxel|from -7 to 13", "threshold above every value");
  PetscCall(PetscFree(pm.v));

  /* float32 big-endian greyscale after 256 header bytes: Otsu by default (4096 bins), at every rank count the
     brute-force threshold; then the same image read by each rank alone gives the same threshold */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.raw_size[d] = n[d], o.voxel_size[d] = h[d];
  o.raw_type         = SM_IMAGE_RAW_FLOAT32;
  o.raw_big_endian   = PETSC_TRUE;
  o.raw_header_bytes = 256;
  PetscCall(otsu_truth(&grey, zero, n, PETSC_FALSE, &ot));
  /* the two levels are 100 and 160 with sigma 12: the threshold lies between them, near 130 */
  SM_TEST_TRUE(ot.t > 115 && ot.t < 145, "float Otsu truth %g between the levels", ot.t);
  {
    LabelRule   ro = {RULE_OTSU, NULL, 0, 0, &ot};
    char        want[32];
    const char *got_world = NULL;
    PetscBool   found;
    SMVolume    alone;
    sm_sys_format_real(ot.t, want, sizeof(want));
    PetscCall(sm_image_read(comm, pf, &o, &vol));
    PetscCall(check_attr(vol, "segment_method", "otsu", "raw float Otsu"));
    PetscCall(check_attr(vol, "segment_threshold", want, "raw float Otsu"));
    PetscCall(sm_volume_get_attr(vol, "segment_threshold", &got_world, &found));
    PetscCall(sm_image_read(PETSC_COMM_SELF, pf, &o, &alone));
    PetscCall(check_attr(alone, "segment_threshold", got_world ? got_world : "?", "Otsu threshold on one rank alone"));
    PetscCall(sm_test_volume_destroy(&alone));
    PetscCall(check_volume(&vol, &grey, zero, n, h, 1e-15, 2, &ro, "raw float32 Otsu"));
  }
  /* Otsu on a crop uses the crop's histogram */
  {
    const int64_t clo[3] = {5, 0, 2}, cn[3] = {20, 21, 6};
    Otsu          oc;
    LabelRule     ro = {RULE_OTSU, NULL, 0, 0, &oc};
    PetscCall(otsu_truth(&grey, clo, cn, PETSC_FALSE, &oc));
    o.crop_set = PETSC_TRUE;
    for (int d = 0; d < 3; d++) o.crop_lo[d] = clo[d], o.crop_hi[d] = clo[d] + cn[d];
    PetscCall(sm_image_read(comm, pf, &o, &vol));
    PetscCall(check_volume(&vol, &grey, clo, cn, h, 1e-15, 2, &ro, "raw float32 Otsu cropped"));
    /* crops outside the image or empty */
    o.crop_hi[0] = 38;
    expect_fail(pf, &o, "-crop|outside the image|grey.raw|37 x 21 x 9", "crop outside");
    o.crop_hi[0] = 5;
    expect_fail(pf, &o, "-crop|empty", "crop empty");
    o.crop_set = PETSC_FALSE;
  }
  /* wrong sizes: a file one sample short of -raw_size, or with the header forgotten */
  o.raw_size[2] = 10;
  expect_fail(pf, &o, "grey.raw|has 28228 bytes|make 31336 bytes", "raw size mismatch");
  o.raw_size[2]      = 9;
  o.raw_header_bytes = 0;
  expect_fail(pf, &o, "has 28228 bytes|make 27972 bytes", "raw header missing");
  o.raw_header_bytes = 256;
  o.raw_size[0]      = 0;
  expect_fail(pf, &o, "-raw_size", "raw size missing");
  o.raw_size[0]   = n[0];
  o.voxel_size[0] = o.voxel_size[1] = o.voxel_size[2] = 0;
  expect_fail(pf, &o, "does not record its voxel size|-voxel_size", "raw voxel size missing");
  PetscCall(PetscFree(lab.v));
  PetscCall(PetscFree(grey.v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_tiff(MPI_Comm comm)
{
  PetscMPIInt   rank;
  const int64_t n[3] = {37, 21, 9}, zero[3] = {0, 0, 0};
  const double  h[3] = {0.01, 0.015, 0.02};
  Img           lab, grey16, greyf;
  char          p8[PETSC_MAX_PATH_LEN], p16[PETSC_MAX_PATH_LEN], pf[PETSC_MAX_PATH_LEN], prgb[PETSC_MAX_PATH_LEN],
      podd[PETSC_MAX_PATH_LEN], pbits[PETSC_MAX_PATH_LEN], pu32[PETSC_MAX_PATH_LEN];
  SMImageOptions o;
  SMVolume       vol;
  LabelRule      rv = {RULE_VALUE, NULL, 0, 0, NULL};
  /* ImageJ's way of recording a voxel size: pixels per unit in X/YResolution, unit and z spacing in the description */
  const char *ij    = "ImageJ=1.54f\nimages=9\nslices=9\nunit=nm\nspacing=20.0\nloop=false\n";
  TiffSpec    t8    = {8, SAMPLEFORMAT_UINT, 0, 4, COMPRESSION_LZW, 1, ij, {(float)(1 / 10.0), (float)(1 / 15.0)}, -1};
  TiffSpec    t16   = {16, SAMPLEFORMAT_UINT, 16, 0, COMPRESSION_NONE, 1, NULL, {0, 0}, -1};
  TiffSpec    tf    = {32, SAMPLEFORMAT_IEEEFP, 0, 5, COMPRESSION_ADOBE_DEFLATE, 1, NULL, {0, 0}, -1};
  TiffSpec    trgb  = {8, SAMPLEFORMAT_UINT, 0, 8, COMPRESSION_NONE, 3, NULL, {0, 0}, -1};
  TiffSpec    todd  = {8, SAMPLEFORMAT_UINT, 0, 8, COMPRESSION_NONE, 1, NULL, {0, 0}, 4};
  TiffSpec    tbits = {16, SAMPLEFORMAT_INT, 0, 8, COMPRESSION_NONE, 1, NULL, {0, 0}, -1};
  TiffSpec    tu32  = {32, SAMPLEFORMAT_UINT, 0, 8, COMPRESSION_NONE, 1, NULL, {0, 0}, -1};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!TIFFIsCODECConfigured(COMPRESSION_ADOBE_DEFLATE)) tf.compression = COMPRESSION_NONE;
  if (!TIFFIsCODECConfigured(COMPRESSION_LZW)) t8.compression = COMPRESSION_NONE;
  PetscCall(img_make(&lab, n, 0, PETSC_TRUE, 0));
  PetscCall(img_make(&grey16, n, 1, PETSC_TRUE, 2));
  PetscCall(img_make(&greyf, n, 1, PETSC_FALSE, 3));
  PetscCall(PetscSNPrintf(p8, sizeof(p8), "%s/lab.tif", dir));
  PetscCall(PetscSNPrintf(p16, sizeof(p16), "%s/grey16.tiff", dir));
  PetscCall(PetscSNPrintf(pf, sizeof(pf), "%s/greyf.tif", dir));
  PetscCall(PetscSNPrintf(prgb, sizeof(prgb), "%s/rgb.tif", dir));
  PetscCall(PetscSNPrintf(podd, sizeof(podd), "%s/odd.tif", dir));
  PetscCall(PetscSNPrintf(pbits, sizeof(pbits), "%s/int16.tif", dir));
  PetscCall(PetscSNPrintf(pu32, sizeof(pu32), "%s/uint32.tif", dir));
  if (!rank) {
    PetscCall(write_tiff(p8, &lab, &t8));
    PetscCall(write_tiff(p16, &grey16, &t16));
    PetscCall(write_tiff(pf, &greyf, &tf));
    PetscCall(write_tiff(prgb, &lab, &trgb));
    PetscCall(write_tiff(podd, &lab, &todd));
    PetscCall(write_tiff(pbits, &lab, &tbits));
    PetscCall(write_tiff(pu32, &lab, &tu32));
  }
  PetscCallMPI(MPI_Barrier(comm));

  /* 8-bit labels in LZW strips of 4 rows; the voxel size comes from the ImageJ tags (10 x 15 x 20 nm); the tags are
     32-bit floats, so 1/15 is exact to about 1e-7 */
  PetscCall(sm_image_options_default(&o));
  PetscCall(sm_image_read(comm, p8, &o, &vol));
  PetscCall(check_attr(vol, "source_format", "tiff uint8 strips", "tiff 8-bit"));
  PetscCall(check_volume(&vol, &lab, zero, n, h, 1e-6, 3, &rv, "tiff 8-bit strips, voxel size from ImageJ tags"));
  {
    const int64_t clo[3] = {6, 5, 2}, cn[3] = {30, 9, 7};
    o.crop_set = PETSC_TRUE;
    for (int d = 0; d < 3; d++) o.crop_lo[d] = clo[d], o.crop_hi[d] = clo[d] + cn[d];
    PetscCall(sm_image_read(comm, p8, &o, &vol));
    PetscCall(check_volume(&vol, &lab, clo, cn, h, 1e-6, 3, &rv, "tiff 8-bit strips cropped"));
  }

  /* 16-bit greyscale in 16 x 16 tiles (the page is 37 x 21: partial tiles): Otsu with one bin per value */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.voxel_size[d] = h[d];
  expect_fail(p16, &o, "labels up to|-segment otsu", "tiff 16-bit greyscale without -segment");
  o.segment = SM_IMAGE_SEGMENT_OTSU;
  {
    Otsu      ot;
    LabelRule ro = {RULE_OTSU, NULL, 0, 0, &ot};
    char      want[32];
    PetscCall(otsu_truth(&grey16, zero, n, PETSC_TRUE, &ot));
    SM_TEST_TRUE(ot.t > 115 && ot.t < 145, "16-bit Otsu truth %g between the levels", ot.t);
    sm_sys_format_real(ot.t, want, sizeof(want));
    PetscCall(sm_image_read(comm, p16, &o, &vol));
    PetscCall(check_attr(vol, "segment_threshold", want, "tiff 16-bit Otsu"));
    PetscCall(check_volume(&vol, &grey16, zero, n, h, 1e-15, 2, &ro, "tiff 16-bit tiles Otsu"));
    /* a crop across tile boundaries */
    {
      const int64_t clo[3] = {13, 3, 1}, cn[3] = {22, 17, 8};
      Otsu          oc;
      LabelRule     rc = {RULE_OTSU, NULL, 0, 0, &oc};
      PetscCall(otsu_truth(&grey16, clo, cn, PETSC_TRUE, &oc));
      o.crop_set = PETSC_TRUE;
      for (int d = 0; d < 3; d++) o.crop_lo[d] = clo[d], o.crop_hi[d] = clo[d] + cn[d];
      PetscCall(sm_image_read(comm, p16, &o, &vol));
      PetscCall(check_volume(&vol, &grey16, clo, cn, h, 1e-15, 2, &rc, "tiff 16-bit tiles Otsu cropped"));
    }
  }

  /* 32-bit float in Deflate strips of 5 rows: Otsu by default; a fixed threshold */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.voxel_size[d] = h[d];
  {
    Otsu      ot;
    LabelRule ro = {RULE_OTSU, NULL, 0, 0, &ot}, rt = {RULE_THRESHOLD, NULL, 0, 125.5, NULL};
    PetscCall(otsu_truth(&greyf, zero, n, PETSC_FALSE, &ot));
    PetscCall(sm_image_read(comm, pf, &o, &vol));
    PetscCall(check_volume(&vol, &greyf, zero, n, h, 1e-15, 2, &ro, "tiff float strips Otsu"));
    o.segment           = SM_IMAGE_SEGMENT_THRESHOLD;
    o.segment_threshold = 125.5;
    PetscCall(sm_image_read(comm, pf, &o, &vol));
    PetscCall(check_volume(&vol, &greyf, zero, n, h, 1e-15, 2, &rt, "tiff float threshold 125.5"));
  }

  /* unsupported stacks */
  PetscCall(sm_image_options_default(&o));
  for (int d = 0; d < 3; d++) o.voxel_size[d] = h[d];
  expect_fail(prgb, &o, "rgb.tif|3 samples per pixel|greyscale", "tiff RGB");
  expect_fail(podd, &o, "page 4|odd.tif|same size", "tiff pages of different sizes");
  expect_fail(pu32, &o, "32-bit unsigned|uint32.tif", "tiff 32-bit integer pages");
  {
    /* int16 pages are supported; as labels 0..2 they read like the 8-bit stack */
    PetscCall(sm_image_read(comm, pbits, &o, &vol));
    PetscCall(check_volume(&vol, &lab, zero, n, h, 1e-15, 3, &rv, "tiff int16 strips"));
  }
  {
    char pnot[PETSC_MAX_PATH_LEN];
    PetscCall(PetscSNPrintf(pnot, sizeof(pnot), "%s/lab.raw", dir));
    o.format = SM_IMAGE_FORMAT_TIFF;
    expect_fail(pnot, &o, "not a TIFF", "raw file read as TIFF");
  }
  PetscCall(PetscFree(lab.v));
  PetscCall(PetscFree(grey16.v));
  PetscCall(PetscFree(greyf.v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_h5(MPI_Comm comm)
{
  PetscMPIInt    rank;
  const int64_t  n[3] = {19, 11, 12}, zero[3] = {0, 0, 0};
  const double   h[3] = {0.0166, 0.0166, 0.02}, map3[3] = {0, 1000, 2000};
  Img            lab, lab1000, greyf;
  char           pu[PETSC_MAX_PATH_LEN], pf[PETSC_MAX_PATH_LEN], p2d[PETSC_MAX_PATH_LEN];
  SMImageOptions o;
  SMVolume       vol;
  LabelRule      rv = {RULE_VALUE, NULL, 0, 0, NULL}, rm = {RULE_MAP, map3, 3, 0, NULL};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(img_make(&lab, n, 0, PETSC_TRUE, 0));
  PetscCall(img_make(&lab1000, n, 0, PETSC_TRUE, 0));
  for (int64_t i = 0; i < n[0] * n[1] * n[2]; i++) lab1000.v[i] = 1000 * lab.v[i];
  PetscCall(img_make(&greyf, n, 1, PETSC_FALSE, 4));
  PetscCall(PetscSNPrintf(pu, sizeof(pu), "%s/u16.h5", dir));
  PetscCall(PetscSNPrintf(pf, sizeof(pf), "%s/f32.hdf5", dir));
  PetscCall(PetscSNPrintf(p2d, sizeof(p2d), "%s/flat.h5", dir));
  if (!rank) {
    hid_t f;
    PetscCall(write_h5(pu, "/labels", &lab, H5T_STD_U16BE, h, 3));
    /* a second dataset in the same file: uint16 values 0, 1000, 2000 */
    SM_CALL_HDF5(f = H5Fopen(pu, H5F_ACC_RDWR, H5P_DEFAULT));
    {
      hsize_t dims[3] = {(hsize_t)n[2], (hsize_t)n[1], (hsize_t)n[0]};
      hid_t   s, d;
      SM_CALL_HDF5(s = H5Screate_simple(3, dims, NULL));
      SM_CALL_HDF5(d = H5Dcreate2(f, "/scan", H5T_STD_U16LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      SM_CALL_HDF5(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab1000.v));
      SM_CALL_HDF5(H5Dclose(d));
      SM_CALL_HDF5(H5Sclose(s));
    }
    SM_CALL_HDF5(H5Fclose(f));
    PetscCall(write_h5(pf, "/grey", &greyf, H5T_IEEE_F32LE, NULL, 3));
    PetscCall(write_h5(p2d, "/labels", &lab, H5T_STD_U8LE, h, 2));
  }
  PetscCallMPI(MPI_Barrier(comm));

  /* uint16 big-endian labels; the voxel size from the file's attribute */
  PetscCall(sm_image_options_default(&o));
  PetscCall(sm_image_read(comm, pu, &o, &vol));
  PetscCall(check_attr(vol, "source_format", "hdf5 /labels uint16", "hdf5 uint16"));
  PetscCall(check_volume(&vol, &lab, zero, n, h, 1e-15, 3, &rv, "hdf5 uint16 labels"));
  /* -voxel_size overrides the file */
  {
    const double h2[3] = {0.005, 0.006, 0.007};
    for (int d = 0; d < 3; d++) o.voxel_size[d] = h2[d];
    PetscCall(sm_image_read(comm, pu, &o, &vol));
    PetscCall(check_volume(&vol, &lab, zero, n, h2, 1e-15, 3, &rv, "hdf5 uint16 -voxel_size"));
    for (int d = 0; d < 3; d++) o.voxel_size[d] = 0;
  }
  /* another dataset of the file: 0/1000/2000 need a map */
  PetscCall(PetscStrncpy(o.dataset, "/scan", sizeof(o.dataset)));
  expect_fail(pu, &o, "does not record its voxel size", "hdf5 dataset without voxel_size");
  for (int d = 0; d < 3; d++) o.voxel_size[d] = h[d];
  expect_fail(pu, &o, "values from 0 to 2000|-phase_labels", "hdf5 uint16 beyond 255");
  o.nphase_labels = 3;
  for (int i = 0; i < 3; i++) o.phase_labels[i] = map3[i];
  {
    const int64_t clo[3] = {1, 2, 3}, cn[3] = {17, 8, 9};
    o.crop_set = PETSC_TRUE;
    for (int d = 0; d < 3; d++) o.crop_lo[d] = clo[d], o.crop_hi[d] = clo[d] + cn[d];
    PetscCall(sm_image_read(comm, pu, &o, &vol));
    PetscCall(check_volume(&vol, &lab1000, clo, cn, h, 1e-15, 3, &rm, "hdf5 uint16 map cropped"));
    o.crop_set = PETSC_FALSE;
  }
  PetscCall(PetscStrncpy(o.dataset, "/nope", sizeof(o.dataset)));
  o.nphase_labels = 0;
  expect_fail(pu, &o, "no dataset '/nope'|/labels, /scan", "hdf5 missing dataset");

  /* float32 greyscale: Otsu by default */
  PetscCall(sm_image_options_default(&o));
  PetscCall(PetscStrncpy(o.dataset, "/grey", sizeof(o.dataset)));
  for (int d = 0; d < 3; d++) o.voxel_size[d] = h[d];
  {
    Otsu      ot;
    LabelRule ro = {RULE_OTSU, NULL, 0, 0, &ot};
    char      want[32];
    PetscCall(otsu_truth(&greyf, zero, n, PETSC_FALSE, &ot));
    sm_sys_format_real(ot.t, want, sizeof(want));
    PetscCall(sm_image_read(comm, pf, &o, &vol));
    PetscCall(check_attr(vol, "segment_threshold", want, "hdf5 float Otsu"));
    PetscCall(check_attr(vol, "source_format", "hdf5 /grey float32", "hdf5 float"));
    PetscCall(check_volume(&vol, &greyf, zero, n, h, 1e-15, 2, &ro, "hdf5 float32 Otsu"));
  }
  o.segment = SM_IMAGE_SEGMENT_NONE;
  expect_fail(pf, &o, "with fractions|-segment otsu", "hdf5 float as labels");

  /* not 3D; missing file; unknown extension */
  PetscCall(sm_image_options_default(&o));
  expect_fail(p2d, &o, "2 dimensions|flat.h5", "hdf5 2D dataset");
  {
    char pm[PETSC_MAX_PATH_LEN], pe[PETSC_MAX_PATH_LEN];
    PetscCall(PetscSNPrintf(pm, sizeof(pm), "%s/missing.h5", dir));
    expect_fail(pm, &o, "cannot read|missing.h5", "missing file");
    PetscCall(PetscSNPrintf(pe, sizeof(pe), "%s/u16.h5", dir));
    o.format = SM_IMAGE_FORMAT_RAW;
    expect_fail(pe, &o, "-raw_size", "hdf5 file read as raw without size");
  }
  PetscCall(PetscFree(lab.v));
  PetscCall(PetscFree(lab1000.v));
  PetscCall(PetscFree(greyf.v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Otsu's selection on hand-made histograms: a two-spike histogram splits between the spikes (first bin of the gap);
   a single occupied bin has no split. */
static PetscErrorCode test_otsu_unit(MPI_Comm comm)
{
  const int64_t two[6] = {0, 5, 0, 0, 5, 0}, one[3] = {0, 7, 0}, skew[4] = {3, 1, 0, 4};
  int           k;

  PetscFunctionBeginUser;
  (void)comm;
  PetscCall(sm_image_otsu_bin(two, 6, &k));
  SM_TEST_TRUE(k == 2, "two spikes: k = %d, expected 2 (first bin of the empty gap)", k);
  PetscCall(sm_image_otsu_bin(one, 3, &k));
  SM_TEST_TRUE(k == -1, "one spike: k = %d, expected -1", k);
  /* by hand: k=1: w0 3 w1 5, m0 0, m1 13/5 -> 15 * 6.76 = 101.4; k=2: w0 4 (m0 0.25), w1 4 (m1 3) -> 16 * 7.5625 =
     121; k=3 is the same split as k=2 (bin 2 empty) -> 121, first kept */
  PetscCall(sm_image_otsu_bin(skew, 4, &k));
  SM_TEST_TRUE(k == 2, "skewed histogram: k = %d, expected 2", k);
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"scratch directory", make_dir}, {"Otsu selection", test_otsu_unit}, {"raw", test_raw},
             {"tiff", test_tiff}, {"hdf5", test_h5}, {"clean up", remove_dir})
