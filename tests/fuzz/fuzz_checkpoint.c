/* Fuzz target: the checkpoint/study reader (sm_store_load, as collect and -restart use it) on structured mutations of a
 * valid checkpoint. HDF5's own parser is not ours to fuzz, so the input does not become the file's bytes: it steers a
 * writer that builds a checkpoint with the layout of include/stochmorph/study.h and then, field by field, changes what a
 * damaged or foreign file could: a dataset missing, of another rank, length or type, offsets (unit_start) out of order
 * or out of range, string lengths, the format, study and specification (spec.*) attributes missing, cut or of another
 * type or length, a wrong checksum. */
#include "fuzz_common.h"
#include <stochmorph/study.h>
#include <hdf5.h>

typedef struct {
  const uint8_t *p;
  size_t         n, i;
} SMBytes;

static unsigned sm_byte(SMBytes *b) { return b->i < b->n ? b->p[b->i++] : 0; }

/* Write dataset name: n elements (rank 1, or rank 2 as n x 1 when asked), of the mutated type. */
static void sm_put(hid_t f, SMBytes *b, const char *name, hid_t type, hid_t mtype, const void *buf, hsize_t n)
{
  unsigned m = sm_byte(b);
  hsize_t  dims[2];
  hid_t    s, d, t = type;
  if (m % 11 == 1) return; /* missing */
  if (m % 11 == 2 && n) n--; /* one short */
  if (m % 11 == 3) t = mtype = H5T_NATIVE_INT8; /* another type (bytes of buf reinterpreted) */
  dims[0] = n;
  dims[1] = 1;
  s = m % 11 == 4 ? H5Screate_simple(2, dims, NULL) : m % 11 == 5 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
  d = H5Dcreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0 && (n || m % 11 == 5)) (void)H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (d >= 0) H5Dclose(d);
  H5Sclose(s);
}

static void sm_put_string_attr(hid_t f, SMBytes *b, const char *name, const char *text)
{
  unsigned m = sm_byte(b);
  hid_t    s, t, a;
  char     value[256] = {0}; /* padded: a cut string of up to 8 bytes may be longer than the text */
  snprintf(value, sizeof(value), "%s", text);
  if (m % 7 == 1) return;
  s = H5Screate(H5S_SCALAR);
  if (m % 7 == 2) { /* a number instead of a string */
    double v = 1;
    a        = H5Acreate2(f, name, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) (void)H5Awrite(a, H5T_NATIVE_DOUBLE, &v), H5Aclose(a);
  } else {
    t = H5Tcopy(H5T_C_S1);
    if (m % 7 == 3) H5Tset_size(t, H5T_VARIABLE);
    else H5Tset_size(t, m % 7 == 4 ? 1 + sm_byte(b) % 8 : strlen(value) + 1); /* a cut string */
    a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      const char *vp = value;
      if (m % 7 == 3) (void)H5Awrite(a, t, &vp);
      else (void)H5Awrite(a, t, value);
      H5Aclose(a);
    }
    H5Tclose(t);
  }
  H5Sclose(s);
}

/* A numeric attribute of n values: missing, one value short, of another rank (scalar) or a string instead. */
static void sm_put_num_attr(hid_t f, SMBytes *b, const char *name, hid_t type, hid_t mtype, const void *buf, hsize_t n)
{
  unsigned m = sm_byte(b);
  hid_t    s, a;
  if (m % 9 == 1) return;
  if (m % 9 == 2) {
    sm_put_string_attr(f, b, name, "12");
    return;
  }
  if (m % 9 == 3 && n > 1) n--;
  s = m % 9 == 4 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  a = H5Acreate2(f, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) (void)H5Awrite(a, mtype, buf), H5Aclose(a);
  H5Sclose(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  SMBytes     b = {data, size, 0};
  char        units[4][SM_UNIT_NAME_LEN], keys[8][SM_RECORD_KEY_LEN], path[256];
  int64_t     start[5];
  double      values[8];
  int         nu = 1 + (int)(sm_byte(&b) % 4), nk;
  uint64_t    sum = SM_FNV_OFFSET;
  hid_t       f, tu, tk, mu, mk, s, a;
  SMStore     st = NULL;
  unsigned    m;

  sm_fuzz_init();
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  memset(units, 0, sizeof(units));
  memset(keys, 0, sizeof(keys));
  start[0] = 0;
  for (int u = 0; u < nu; u++) {
    snprintf(units[u], SM_UNIT_NAME_LEN, "t%04u/%s", sm_byte(&b) % 3, u % 2 ? "analyze" : "generate");
    start[u + 1] = start[u] + 1 + sm_byte(&b) % 2;
  }
  nk = (int)start[nu];
  for (int k = 0; k < nk; k++) {
    snprintf(keys[k], SM_RECORD_KEY_LEN, "phases.solid.k%u", sm_byte(&b) % 4);
    values[k] = (double)sm_byte(&b) / 7.0;
  }
  m = sm_byte(&b); /* offsets out of order or out of range */
  if (m % 5 == 1) start[1 + sm_byte(&b) % nu] = (int64_t)(int8_t)sm_byte(&b);
  if (m % 5 == 2) start[nu] = 1000000000000LL;
  if (m % 5 == 3) start[0] = -1;
  sum = sm_fnv1a(sum, units, (size_t)nu * SM_UNIT_NAME_LEN);
  sum = sm_fnv1a(sum, start, (size_t)(nu + 1) * sizeof(int64_t));
  sum = sm_fnv1a(sum, keys, (size_t)nk * SM_RECORD_KEY_LEN);
  sum = sm_fnv1a(sum, values, (size_t)nk * sizeof(double));
  if (sm_byte(&b) % 4 == 1) sum ^= 1;

  snprintf(path, sizeof(path), "%s/sm_fuzz_ckpt_%ld.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
  f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) abort();
  tu = H5Tcopy(H5T_C_S1);
  tk = H5Tcopy(H5T_C_S1);
  H5Tset_size(tu, sm_byte(&b) % 6 == 1 ? 8 : SM_UNIT_NAME_LEN); /* names of another width */
  H5Tset_size(tk, sm_byte(&b) % 6 == 1 ? 300 : SM_RECORD_KEY_LEN);
  mu = H5Tcopy(H5T_C_S1); /* the buffers' own widths (HDF5 converts between string widths) */
  mk = H5Tcopy(H5T_C_S1);
  H5Tset_size(mu, SM_UNIT_NAME_LEN);
  H5Tset_size(mk, SM_RECORD_KEY_LEN);
  sm_put_string_attr(f, &b, "format", "stochmorph-checkpoint-2");
  sm_put_string_attr(f, &b, "study", "tasks=3; param=; values=");
  { /* the study specification (include/stochmorph/study.h) */
    const int      ints[2] = {(int)(int8_t)sm_byte(&b), 1 + (int)(sm_byte(&b) % 3)};
    const uint64_t u64[2]  = {sm_byte(&b), sm_byte(&b)};
    const int64_t  grid[3] = {32, 32, (int64_t)(int8_t)sm_byte(&b)};
    const double   voxel[3] = {0.01, 0.01, 0.01};
    sm_put_num_attr(f, &b, "spec.tasks_realizations", H5T_STD_I32LE, H5T_NATIVE_INT, ints, 2);
    sm_put_num_attr(f, &b, "spec.seed_realization0", H5T_STD_U64LE, H5T_NATIVE_UINT64, u64, 2);
    sm_put_num_attr(f, &b, "spec.grid", H5T_STD_I64LE, H5T_NATIVE_INT64, grid, 3);
    sm_put_num_attr(f, &b, "spec.voxel", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, voxel, 3);
    sm_put_string_attr(f, &b, "spec.param", sm_byte(&b) % 2 ? "model_volume_fraction" : "");
    sm_put_string_attr(f, &b, "spec.values", "0.3:0.5:0.1");
    sm_put_string_attr(f, &b, "spec.model", "-model chi2 -model_dof 2");
    sm_put_string_attr(f, &b, "spec.descriptors", "all connectivity=26");
    sm_put_string_attr(f, &b, "spec.transport", "pore:z:method=fem");
    sm_put_string_attr(f, &b, "spec.image", "");
  }
  sm_put(f, &b, "units", tu, mu, units, (hsize_t)nu);
  sm_put(f, &b, "unit_start", H5T_NATIVE_INT64, H5T_NATIVE_INT64, start, (hsize_t)nu + 1);
  sm_put(f, &b, "keys", tk, mk, keys, (hsize_t)nk);
  sm_put(f, &b, "values", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, values, (hsize_t)nk);
  if (sm_byte(&b) % 5 != 1) {
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(f, "checksum", H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) (void)H5Awrite(a, H5T_NATIVE_UINT64, &sum), H5Aclose(a);
    H5Sclose(s);
  }
  H5Tclose(tu);
  H5Tclose(tk);
  H5Tclose(mu);
  H5Tclose(mk);
  H5Fclose(f);
  if (!sm_store_load(PETSC_COMM_SELF, path, &st)) {
    PetscBool done;
    SMRecord  rec;
    for (int i = 0; i < sm_store_size(st); i++) {
      (void)sm_store_has(st, sm_store_unit(st, i), &done);
      (void)sm_store_get(st, sm_store_unit(st, i), &rec);
      for (int k = 0; rec && k < sm_record_size(rec); k++) (void)sm_record_value(rec, k);
    }
    (void)sm_store_close(&st);
  }
  (void)remove(path);
  return 0;
}
