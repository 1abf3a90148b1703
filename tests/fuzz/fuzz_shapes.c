/* Fuzz target: the shapes-file reader (sm_shape_read, used by rasterize) on structured mutations of a valid file.
 * A file is written by sm_shape_write (sub-particle count and degree from the input), then the input's bytes pick
 * mutations applied with HDF5: a dataset or attribute deleted, a dataset replaced by one of another rank, length or
 * type, a numeric attribute replaced by one of another length or value (degree, source_grid_size, directions, ...),
 * `complete` removed. HDF5's own parser is not ours to fuzz, so the input never becomes the file's bytes. */
#include "fuzz_common.h"
#include <stochmorph/shape.h>
#include <hdf5.h>

static const char *const sm_sets[]  = {"/shapes/centres", "/shapes/coeffs", "/shapes/fit_error", "/shapes/voxels"};
static const char *const sm_attrs[] = {"degree", "source_grid_size", "source_voxel_size", "marker_height", "directions",
                                       "centres_moved", "not_star_shaped", "phase_names", "phase", "source_file",
                                       "harmonics", "units"};

static unsigned sm_next(const uint8_t *data, size_t size, size_t *i) { return *i < size ? data[(*i)++] : 0u; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t   i = 0;
  SMShapes s, r;
  char     path[256];
  hid_t    f, g;
#define NEXT sm_next(data, size, &i)

  sm_fuzz_init();
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  memset(&s, 0, sizeof(s));
  memset(&r, 0, sizeof(r));
  {
    int L = (int)(NEXT % 4);
    if (sm_shapes_alloc(&s, L, (int64_t)(NEXT % 5))) return 0;
  }
  for (int d = 0; d < 3; d++) {
    s.source_n[d] = 8;
    s.source_h[d] = 0.01;
  }
  for (int64_t k = 0; k < s.n; k++) {
    for (int d = 0; d < 3; d++) s.centres[3 * k + d] = NEXT / 32.0;
    for (int c = 0; c < s.ncoeffs; c++) s.coeffs[k * s.ncoeffs + c] = NEXT / 64.0;
    s.voxels[k] = NEXT;
  }
  s.nphases = 2;
  snprintf(s.phase_names[0], sizeof(s.phase_names[0]), "pore");
  snprintf(s.phase_names[1], sizeof(s.phase_names[1]), "solid");
  snprintf(s.phase, sizeof(s.phase), "solid");
  snprintf(s.source, sizeof(s.source), "twin.h5");
  s.ndirections = 10;
  snprintf(path, sizeof(path), "%s/sm_fuzz_shapes_%ld.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
  if (sm_shape_write(PETSC_COMM_SELF, path, &s)) abort();
  (void)sm_shapes_free(&s);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) abort();
  g = H5Gopen2(f, "/shapes", H5P_DEFAULT);
  for (unsigned nm = NEXT % 4; nm > 0 && i < size; nm--) {
    unsigned op = NEXT % 5, which = NEXT;
    if (op == 0) (void)H5Ldelete(f, sm_sets[which % 4], H5P_DEFAULT);
    else if (op == 1) (void)H5Adelete(g, sm_attrs[which % 12]);
    else if (op == 2) (void)H5Adelete(f, which % 2 ? "complete" : "format");
    else if (op == 3) { /* a dataset of another rank, length or type */
      hsize_t dims[3] = {NEXT % 6, NEXT % 18, NEXT % 3};
      int     rank    = 1 + (int)(NEXT % 3);
      hid_t   sp, ds, t = NEXT % 2 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT8;
      double  buf[6 * 18 * 3];
      for (size_t k = 0; k < sizeof(buf) / sizeof(buf[0]); k++) buf[k] = (double)NEXT - 100.0;
      (void)H5Ldelete(f, sm_sets[which % 4], H5P_DEFAULT);
      sp = H5Screate_simple(rank, dims, NULL);
      ds = H5Dcreate2(f, sm_sets[which % 4], t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (ds >= 0) {
        (void)H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        H5Dclose(ds);
      }
      H5Sclose(sp);
    } else { /* a numeric attribute of another length and value */
      hsize_t n = NEXT % 5;
      int64_t v[4];
      hid_t   sp, a;
      for (int k = 0; k < 4; k++) {
        int64_t x = (int8_t)NEXT;
        v[k]      = x * (NEXT % 2 ? 1 : 1000000007LL);
      }
      (void)H5Adelete(g, sm_attrs[which % 12]);
      sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
      a  = H5Acreate2(g, sm_attrs[which % 12], H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
      if (a >= 0) {
        (void)H5Awrite(a, H5T_NATIVE_INT64, v);
        H5Aclose(a);
      }
      H5Sclose(sp);
    }
  }
  if (g >= 0) H5Gclose(g);
  H5Fclose(f);
  if (!sm_shape_read(PETSC_COMM_SELF, path, &r)) (void)sm_shapes_free(&r);
  (void)remove(path);
  return 0;
#undef NEXT
}
