/* Study records, the HDF5 checkpoint store and the study table (see include/stochmorph/study.h). */
#include <stochmorph/study.h>
#include <stochmorph/version.h>
#include <stochmorph/report.h>
#include <stochmorph/h5util.h>
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>

#define SM_STORE_FORMAT "stochmorph-checkpoint-1"

uint64_t sm_fnv1a(uint64_t h, const void *data, size_t n)
{
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* ---------------------------------------------------------------- records */
struct _p_SMRecord {
  int     n, cap;
  char  (*key)[SM_RECORD_KEY_LEN];
  double *val;
};

PetscErrorCode sm_record_create(SMRecord *rec)
{
  PetscFunctionBeginUser;
  PetscCall(PetscNew(rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_record_destroy(SMRecord *rec)
{
  PetscFunctionBeginUser;
  if (!rec || !*rec) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*rec)->key));
  PetscCall(PetscFree((*rec)->val));
  PetscCall(PetscFree(*rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_record_set(SMRecord rec, const char *key, double value)
{
  PetscFunctionBeginUser;
  PetscCheck(strlen(key) < SM_RECORD_KEY_LEN, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "Result key too long (%d characters at most): %s (use shorter phase names)", SM_RECORD_KEY_LEN - 1, key);
  for (int i = 0; i < rec->n; i++)
    if (!strcmp(rec->key[i], key)) {
      rec->val[i] = value;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  if (rec->n == rec->cap) {
    rec->cap = PetscMax(16, 2 * rec->cap);
    PetscCall(PetscRealloc(sizeof(*rec->key) * (size_t)rec->cap, &rec->key));
    PetscCall(PetscRealloc(sizeof(*rec->val) * (size_t)rec->cap, &rec->val));
  }
  memset(rec->key[rec->n], 0, SM_RECORD_KEY_LEN); /* whole buffers enter the checksum */
  strcpy(rec->key[rec->n], key);
  rec->val[rec->n++] = value;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_record_merge(SMRecord rec, SMRecord src)
{
  PetscFunctionBeginUser;
  for (int i = 0; i < src->n; i++) PetscCall(sm_record_set(rec, src->key[i], src->val[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_record_get(SMRecord rec, const char *key, double *value, PetscBool *found)
{
  PetscFunctionBeginUser;
  *found = PETSC_FALSE;
  *value = NAN;
  for (int i = 0; i < rec->n; i++)
    if (!strcmp(rec->key[i], key)) {
      *value = rec->val[i];
      *found = PETSC_TRUE;
      break;
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int         sm_record_size(SMRecord rec) { return rec->n; }
const char *sm_record_key(SMRecord rec, int i) { return rec->key[i]; }
double      sm_record_value(SMRecord rec, int i) { return rec->val[i]; }

/* ---------------------------------------------------------------- store */
struct _p_SMStore {
  MPI_Comm    comm;
  PetscMPIInt rank;
  char        path[PETSC_MAX_PATH_LEN];
  char       *study;
  PetscBool   writable, complete;
  int         n, cap;
  char      (*unit)[SM_UNIT_NAME_LEN];
  SMRecord   *rec;
};

/* The flat arrays of the file: unit names, offsets, keys, values (what the checksum covers, in this order). */
typedef struct {
  int64_t nunits, nkeys;
  char   *units;  /* [nunits][SM_UNIT_NAME_LEN] */
  int64_t *start; /* [nunits + 1] */
  char   *keys;   /* [nkeys][SM_RECORD_KEY_LEN] */
  double *values; /* [nkeys] */
} SMStoreFlat;

static uint64_t sm_store_checksum(const SMStoreFlat *f)
{
  uint64_t h = SM_FNV_OFFSET;
  h          = sm_fnv1a(h, &f->nunits, sizeof(f->nunits));
  h          = sm_fnv1a(h, f->units, (size_t)f->nunits * SM_UNIT_NAME_LEN);
  h          = sm_fnv1a(h, f->start, (size_t)(f->nunits + 1) * sizeof(int64_t));
  h          = sm_fnv1a(h, f->keys, (size_t)f->nkeys * SM_RECORD_KEY_LEN);
  h          = sm_fnv1a(h, f->values, (size_t)f->nkeys * sizeof(double));
  return h;
}

static PetscErrorCode sm_store_flatten(SMStore st, SMStoreFlat *f)
{
  int64_t k = 0;

  PetscFunctionBeginUser;
  f->nunits = st->n;
  f->nkeys  = 0;
  for (int i = 0; i < st->n; i++) f->nkeys += st->rec[i]->n;
  PetscCall(PetscCalloc4((size_t)PetscMax(f->nunits, 1) * SM_UNIT_NAME_LEN, &f->units, (size_t)f->nunits + 1, &f->start,
                         (size_t)PetscMax(f->nkeys, 1) * SM_RECORD_KEY_LEN, &f->keys, (size_t)PetscMax(f->nkeys, 1),
                         &f->values));
  for (int i = 0; i < st->n; i++) {
    memcpy(f->units + (size_t)i * SM_UNIT_NAME_LEN, st->unit[i], SM_UNIT_NAME_LEN);
    f->start[i] = k;
    for (int j = 0; j < st->rec[i]->n; j++, k++) {
      memcpy(f->keys + (size_t)k * SM_RECORD_KEY_LEN, st->rec[i]->key[j], SM_RECORD_KEY_LEN);
      f->values[k] = st->rec[i]->val[j];
    }
  }
  f->start[st->n] = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_store_flat_free(SMStoreFlat *f)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(f->units, f->start, f->keys, f->values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Append a unit (a copy of rec), or replace the record of a unit of the same name. */
static PetscErrorCode sm_store_add(SMStore st, const char *unit, SMRecord rec)
{
  int i;

  PetscFunctionBeginUser;
  PetscCheck(strlen(unit) < SM_UNIT_NAME_LEN, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Unit name too long: %s", unit);
  for (i = 0; i < st->n; i++)
    if (!strcmp(st->unit[i], unit)) break;
  if (i == st->n) {
    if (st->n == st->cap) {
      st->cap = PetscMax(16, 2 * st->cap);
      PetscCall(PetscRealloc(sizeof(*st->unit) * (size_t)st->cap, &st->unit));
      PetscCall(PetscRealloc(sizeof(*st->rec) * (size_t)st->cap, &st->rec));
    }
    memset(st->unit[i], 0, SM_UNIT_NAME_LEN);
    strcpy(st->unit[i], unit);
    PetscCall(sm_record_create(&st->rec[i]));
    st->n++;
  } else {
    PetscCall(sm_record_destroy(&st->rec[i]));
    PetscCall(sm_record_create(&st->rec[i]));
  }
  PetscCall(sm_record_merge(st->rec[i], rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_store_file_read(const char *, SMStoreFlat *, char **, int *, char *, size_t, int *);

/* Rank 0 writes "<path>.partial" and renames it over path. Collective (the outcome is broadcast). */
static PetscErrorCode sm_store_write(SMStore st)
{
  int  ok = 1;
  char why[256] = "";

  PetscFunctionBeginUser;
  if (!st->rank) {
    SMStoreFlat f;
    char        partial[PETSC_MAX_PATH_LEN + 16];
    hid_t       file, tu, tk;
    uint64_t    sum;
    int         complete = 1;
    PetscCall(sm_store_flatten(st, &f));
    sum = sm_store_checksum(&f);
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", st->path));
    errno = 0;
    file  = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
      ok = 0;
      sm_sys_write_reason(partial, errno, why, sizeof(why));
    }
    else {
      tu = H5Tcopy(H5T_C_S1);
      tk = H5Tcopy(H5T_C_S1);
      H5Tset_size(tu, SM_UNIT_NAME_LEN);
      H5Tset_size(tk, SM_RECORD_KEY_LEN);
      hsize_t nu = (hsize_t)f.nunits, ns = nu + 1, nk = (hsize_t)f.nkeys;
      ok = sm_h5_attr_write_string(file, "format", SM_STORE_FORMAT) >= 0 && sm_h5_attr_write_build(file) >= 0 &&
           sm_h5_attr_write_string(file, "study", st->study) >= 0 &&
           sm_h5_dataset_write(file, "units", tu, tu, 1, &nu, f.units) >= 0 &&
           sm_h5_dataset_write(file, "unit_start", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &ns, f.start) >= 0 &&
           sm_h5_dataset_write(file, "keys", tk, tk, 1, &nk, f.keys) >= 0 &&
           sm_h5_dataset_write(file, "values", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nk, f.values) >= 0 &&
           sm_h5_attr_write(file, "checksum", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &sum) >= 0;
      if (ok && st->complete) /* last, as SPEC 8 asks */
        ok = sm_h5_attr_write(file, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &complete) >= 0;
      H5Tclose(tu);
      H5Tclose(tk);
      if (H5Fclose(file) < 0) ok = 0;
      if (!ok) sm_sys_write_reason(partial, errno, why, sizeof(why));
      if (ok) {
        SMStoreFlat g     = {0, 0, NULL, NULL, NULL, NULL};
        char       *study = NULL, rwhy[128];
        int         has_complete;
        PetscCall(sm_store_file_read(partial, &g, &study, &has_complete, rwhy, sizeof(rwhy), &ok));
        ok = ok && g.nunits == f.nunits && g.nkeys == f.nkeys && sm_store_checksum(&g) == sum &&
             has_complete == (st->complete ? 1 : 0);
        if (!ok) {
          char sys[160];
          sm_sys_write_reason(partial, 0, sys, sizeof(sys));
          snprintf(why, sizeof(why), "%.120s (it did not read back as written: %.90s)", sys,
                   rwhy[0] ? rwhy : "its contents differ");
        }
        free(study);
        PetscCall(sm_store_flat_free(&g));
      }
      if (ok) { /* read back whole (above), then on the disk, before it replaces the previous checkpoint */
        int err = sm_sys_commit(partial, st->path);
        if (err) {
          ok = 0;
          sm_sys_write_reason(partial, err, why, sizeof(why));
        }
      }
    }
    if (!ok) (void)remove(partial); /* also when H5Fcreate made the file but could not write its superblock */
    PetscCall(sm_store_flat_free(&f));
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, st->comm));
  PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, st->comm));
  PetscCheck(ok, st->comm, PETSC_ERR_FILE_WRITE,
             "Could not write the checkpoint %s: %s. The previous checkpoint is intact: free space (or fix the directory) "
             "and resume with the same options and -restart", st->path, why);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Length of the 1D dataset name with elements of esize bytes, or -1. */
static int64_t sm_store_len_1d(hid_t file, const char *name, size_t esize)
{
  int     rank;
  hsize_t dims[8];
  size_t  size;
  if (sm_h5_dataset_shape(file, name, &rank, dims, &size) < 0 || rank != 1 || size != esize) return -1;
  return (int64_t)dims[0];
}

/* Serial: open path, check its format, datasets and checksum and read it into f (freed by the caller, also on
   failure). On success *study_out is the study identity (free()) and *has_complete tells whether the 'complete'
   attribute is there. *okp is 1 if the file is a whole checkpoint, else 0 with the reason in why. */
static PetscErrorCode sm_store_file_read(const char *path, SMStoreFlat *f, char **study_out, int *has_complete, char *why,
                                         size_t whylen, int *okp)
{
  int         ok = 1;
  H5E_auto2_t func;
  void       *data;
  hid_t       file;

  PetscFunctionBeginUser;
  why[0]        = 0;
  *study_out    = NULL;
  *has_complete = 0;
  H5Eget_auto2(H5E_DEFAULT, &func, &data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* a damaged file is reported by us, once */
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    ok = 0;
    PetscCall(PetscStrncpy(why, "it is not a readable HDF5 file (truncated or overwritten?)", whylen));
  } else {
    char   *format = NULL, *study = NULL;
    hid_t   tu, tk;
    int64_t nu, ns, nk, nv;
    int     nstr;
    if (sm_h5_attr_read_strings(file, "format", 1, &nstr, &format) < 0 || strcmp(format, SM_STORE_FORMAT)) {
      ok = 0;
      PetscCall(PetscStrncpy(why, "it is not a stochmorph checkpoint of this format (attribute 'format')", whylen));
    } else if (sm_h5_attr_read_strings(file, "study", 1, &nstr, &study) < 0) {
      ok = 0;
      PetscCall(PetscStrncpy(why, "its 'study' attribute is missing", whylen));
    } else {
      nu = sm_store_len_1d(file, "units", SM_UNIT_NAME_LEN);
      ns = sm_store_len_1d(file, "unit_start", sizeof(int64_t));
      nk = sm_store_len_1d(file, "keys", SM_RECORD_KEY_LEN);
      nv = sm_store_len_1d(file, "values", sizeof(double));
      if (nu < 0 || ns != nu + 1 || nk < 0 || nv != nk) {
        ok = 0;
        PetscCall(PetscStrncpy(why, "its datasets are missing or inconsistent", whylen));
      } else {
        hsize_t du = (hsize_t)nu, ds = (hsize_t)ns, dk = (hsize_t)nk;
        f->nunits  = nu;
        f->nkeys   = nk;
        PetscCall(PetscCalloc4((size_t)PetscMax(nu, 1) * SM_UNIT_NAME_LEN, &f->units, (size_t)nu + 1, &f->start,
                               (size_t)PetscMax(nk, 1) * SM_RECORD_KEY_LEN, &f->keys, (size_t)PetscMax(nk, 1), &f->values));
        tu = H5Tcopy(H5T_C_S1);
        tk = H5Tcopy(H5T_C_S1);
        H5Tset_size(tu, SM_UNIT_NAME_LEN);
        H5Tset_size(tk, SM_RECORD_KEY_LEN);
        ok = sm_h5_dataset_read(file, "units", tu, 1, &du, f->units) >= 0 &&
             sm_h5_dataset_read(file, "unit_start", H5T_NATIVE_INT64, 1, &ds, f->start) >= 0 &&
             sm_h5_dataset_read(file, "keys", tk, 1, &dk, f->keys) >= 0 &&
             sm_h5_dataset_read(file, "values", H5T_NATIVE_DOUBLE, 1, &dk, f->values) >= 0;
        H5Tclose(tu);
        H5Tclose(tk);
        if (!ok) PetscCall(PetscStrncpy(why, "its datasets cannot be read", whylen));
        else {
          uint64_t sum = 0, want = sm_store_checksum(f);
          ok = sm_h5_attr_read(file, "checksum", H5T_NATIVE_UINT64, 1, &sum) >= 0 && sum == want;
          for (int64_t i = 0; ok && i < nu; i++)
            ok = f->start[i] >= 0 && f->start[i] <= f->start[i + 1] && f->units[(i + 1) * SM_UNIT_NAME_LEN - 1] == 0;
          ok = ok && f->start[0] == 0 && f->start[nu] == nk;
          if (!ok) PetscCall(PetscStrncpy(why, "its checksum does not match its contents (altered or damaged)", whylen));
        }
      }
      if (ok) {
        *has_complete = sm_h5_attr_exists(file, "complete") > 0;
        *study_out    = study;
        study         = NULL;
      }
    }
    free(format);
    free(study);
    H5Fclose(file);
  }
  H5Eset_auto2(H5E_DEFAULT, func, data);
  *okp = ok;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 reads and verifies the file; every rank gets the units. why: the reason a file is refused. */
static PetscErrorCode sm_store_read(SMStore st, char *why, size_t whylen)
{
  int         ok = 1, has_complete = 0;
  SMStoreFlat f  = {0, 0, NULL, NULL, NULL, NULL};
  int64_t     sizes[2] = {0, 0}, slen = 0;

  PetscFunctionBeginUser;
  why[0] = 0;
  if (!st->rank) {
    char *study = NULL;
    PetscCall(sm_store_file_read(st->path, &f, &study, &has_complete, why, whylen, &ok));
    if (ok) {
      PetscCall(PetscFree(st->study));
      PetscCall(PetscStrallocpy(study, &st->study));
    }
    free(study);
    sizes[0] = f.nunits;
    sizes[1] = f.nkeys;
    if (ok) slen = (int64_t)strlen(st->study) + 1;
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, st->comm));
  PetscCallMPI(MPI_Bcast(why, (int)whylen, MPI_CHAR, 0, st->comm));
  if (!ok) {
    if (!st->rank) PetscCall(sm_store_flat_free(&f));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCallMPI(MPI_Bcast(sizes, 2, MPI_INT64_T, 0, st->comm));
  PetscCallMPI(MPI_Bcast(&slen, 1, MPI_INT64_T, 0, st->comm));
  PetscCallMPI(MPI_Bcast(&has_complete, 1, MPI_INT, 0, st->comm));
  if (st->rank) {
    f.nunits = sizes[0];
    f.nkeys  = sizes[1];
    PetscCall(PetscCalloc4((size_t)PetscMax(f.nunits, 1) * SM_UNIT_NAME_LEN, &f.units, (size_t)f.nunits + 1, &f.start,
                           (size_t)PetscMax(f.nkeys, 1) * SM_RECORD_KEY_LEN, &f.keys, (size_t)PetscMax(f.nkeys, 1),
                           &f.values));
    PetscCall(PetscFree(st->study));
    PetscCall(PetscMalloc1((size_t)slen, &st->study));
  }
  PetscCallMPI(MPI_Bcast(st->study, (int)slen, MPI_CHAR, 0, st->comm));
  PetscCallMPI(MPI_Bcast(f.units, (int)(f.nunits * SM_UNIT_NAME_LEN), MPI_CHAR, 0, st->comm));
  PetscCallMPI(MPI_Bcast(f.start, (int)(f.nunits + 1), MPI_INT64_T, 0, st->comm));
  PetscCallMPI(MPI_Bcast(f.keys, (int)(f.nkeys * SM_RECORD_KEY_LEN), MPI_CHAR, 0, st->comm));
  PetscCallMPI(MPI_Bcast(f.values, (int)f.nkeys, MPI_DOUBLE, 0, st->comm));
  for (int64_t i = 0; i < f.nunits; i++) {
    SMRecord rec;
    PetscCall(sm_record_create(&rec));
    for (int64_t k = f.start[i]; k < f.start[i + 1]; k++) {
      char key[SM_RECORD_KEY_LEN];
      memcpy(key, f.keys + k * SM_RECORD_KEY_LEN, SM_RECORD_KEY_LEN);
      key[SM_RECORD_KEY_LEN - 1] = 0;
      PetscCall(sm_record_set(rec, key, f.values[k]));
    }
    PetscCall(sm_store_add(st, f.units + i * SM_UNIT_NAME_LEN, rec));
    PetscCall(sm_record_destroy(&rec));
  }
  st->complete = has_complete ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(sm_store_flat_free(&f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_store_new(MPI_Comm comm, const char *path, const char *study, SMStore *st)
{
  PetscFunctionBeginUser;
  PetscCall(PetscNew(st));
  (*st)->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &(*st)->rank));
  PetscCall(PetscStrncpy((*st)->path, path, sizeof((*st)->path)));
  PetscCall(PetscStrallocpy(study ? study : "", &(*st)->study));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_file_exists(MPI_Comm comm, const char *path, PetscBool *exists)
{
  PetscMPIInt rank;
  int         e = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) e = access(path, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&e, 1, MPI_INT, 0, comm));
  *exists = e ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_open(MPI_Comm comm, const char *path, const char *study, PetscBool restart, SMStore *st)
{
  PetscBool exists;
  SMStore   s;

  PetscFunctionBeginUser;
  PetscCall(sm_file_exists(comm, path, &exists));
  PetscCheck(restart || !exists, comm, PETSC_ERR_FILE_UNEXPECTED,
             "The checkpoint %s exists already: add -restart to resume that study, or choose another -o", path);
  PetscCall(sm_store_new(comm, path, study, &s));
  s->writable = PETSC_TRUE;
  if (exists) {
    char why[256];
    PetscCall(sm_store_read(s, why, sizeof(why)));
    if (why[0]) PetscCall(sm_store_close(&s));
    PetscCheck(!why[0], comm, PETSC_ERR_FILE_UNEXPECTED,
               "Refusing the checkpoint %s: %s. Nothing was reused; move it away (or delete it) to start the study again",
               path, why);
    if (strcmp(s->study, study)) {
      char stored[512];
      PetscCall(PetscStrncpy(stored, s->study, sizeof(stored)));
      PetscCall(sm_store_close(&s));
      SETERRQ(comm, PETSC_ERR_ARG_INCOMP,
              "The checkpoint %s belongs to a different study (its options: %s; now: %s). Restart with the same "
              "options, or choose another -o",
              path, stored, study);
    }
  } else PetscCall(sm_store_write(s)); /* an unwritable directory fails now, before any work */
  *st = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_load(MPI_Comm comm, const char *path, SMStore *st)
{
  PetscBool exists;
  char      why[256];
  SMStore   s;

  PetscFunctionBeginUser;
  PetscCall(sm_file_exists(comm, path, &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "Checkpoint %s not found", path);
  PetscCall(sm_store_new(comm, path, NULL, &s));
  PetscCall(sm_store_read(s, why, sizeof(why)));
  if (why[0]) PetscCall(sm_store_close(&s));
  PetscCheck(!why[0], comm, PETSC_ERR_FILE_UNEXPECTED, "Refusing the checkpoint %s: %s", path, why);
  *st = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_close(SMStore *st)
{
  PetscFunctionBeginUser;
  if (!st || !*st) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < (*st)->n; i++) PetscCall(sm_record_destroy(&(*st)->rec[i]));
  PetscCall(PetscFree((*st)->rec));
  PetscCall(PetscFree((*st)->unit));
  PetscCall(PetscFree((*st)->study));
  PetscCall(PetscFree(*st));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_get_study(SMStore st, const char **study)
{
  PetscFunctionBeginUser;
  *study = st->study;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_has(SMStore st, const char *unit, PetscBool *done)
{
  SMRecord rec;

  PetscFunctionBeginUser;
  PetscCall(sm_store_get(st, unit, &rec));
  *done = rec ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_get(SMStore st, const char *unit, SMRecord *rec)
{
  PetscFunctionBeginUser;
  *rec = NULL;
  for (int i = 0; i < st->n; i++)
    if (!strcmp(st->unit[i], unit)) *rec = st->rec[i];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_put(SMStore st, const char *unit, SMRecord rec)
{
  PetscFunctionBeginUser;
  PetscCheck(st->writable, st->comm, PETSC_ERR_ARG_WRONGSTATE, "The checkpoint %s was opened read-only", st->path);
  PetscCall(sm_store_add(st, unit, rec));
  PetscCall(sm_store_write(st));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_mark_complete(SMStore st)
{
  PetscFunctionBeginUser;
  PetscCheck(st->writable, st->comm, PETSC_ERR_ARG_WRONGSTATE, "The checkpoint %s was opened read-only", st->path);
  st->complete = PETSC_TRUE;
  PetscCall(sm_store_write(st));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_store_is_complete(SMStore st, PetscBool *complete)
{
  PetscFunctionBeginUser;
  *complete = st->complete;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int         sm_store_size(SMStore st) { return st->n; }
const char *sm_store_unit(SMStore st, int i) { return st->unit[i]; }

/* ---------------------------------------------------------------- study table */
/* The union of the rows' keys in order of first appearance. */
static PetscErrorCode sm_study_keys(int nrows, const SMStudyRow rows[], SMRecord *keys)
{
  PetscFunctionBeginUser;
  PetscCall(sm_record_create(keys));
  for (int r = 0; r < nrows; r++)
    for (int i = 0; i < sm_record_size(rows[r].rec); i++) {
      double    v;
      PetscBool found;
      PetscCall(sm_record_get(*keys, sm_record_key(rows[r].rec, i), &v, &found));
      if (!found) PetscCall(sm_record_set(*keys, sm_record_key(rows[r].rec, i), 0.0));
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mean, sample standard deviation and count of the defined values of key over the rows of value index vi. */
static PetscErrorCode sm_study_stats(int nrows, const SMStudyRow rows[], int vi, const char *key, double *mean, double *sd,
                                     int *count)
{
  double s = 0, s2 = 0;
  int    n = 0;

  PetscFunctionBeginUser;
  for (int r = 0; r < nrows; r++) {
    double    v;
    PetscBool found;
    if (rows[r].value_index != vi) continue;
    PetscCall(sm_record_get(rows[r].rec, key, &v, &found));
    if (!found || !isfinite(v)) continue;
    s += v;
    n++;
  }
  *mean = n ? s / n : NAN;
  for (int r = 0; r < nrows; r++) {
    double    v;
    PetscBool found;
    if (rows[r].value_index != vi) continue;
    PetscCall(sm_record_get(rows[r].rec, key, &v, &found));
    if (!found || !isfinite(v)) continue;
    s2 += (v - *mean) * (v - *mean);
  }
  *sd    = n > 1 ? sqrt(s2 / (n - 1)) : NAN;
  *count = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void sm_csv_put(FILE *fp, double v)
{
  char buf[32];
  sm_sys_format_real(v, buf, sizeof(buf));
  fprintf(fp, ",%s", isfinite(v) ? buf : "");
}

/* The percolation threshold of a sweep, per phase and direction (keys phases.<phase>.percolating_fraction_<d>): the
   fraction of the twins of each value whose phase spans the box (percolating fraction > 0), and the first step of the
   sweep at which "every twin spans" changes, as the interval between the two swept values. Printed, and written as
   the JSON array "percolation". */
static PetscErrorCode sm_study_percolation(MPI_Comm comm, SMJson js, const char *param, int nvalues, int nrows,
                                           const SMStudyRow rows[], SMRecord keys)
{
  const char **value;
  double      *frac;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc2(nvalues, &value, nvalues, &frac));
  for (int r = 0; r < nrows; r++) value[rows[r].value_index] = rows[r].value;
  PetscCall(sm_json_begin_array(js, "percolation"));
  for (int i = 0; i < sm_record_size(keys); i++) {
    const char *k = sm_record_key(keys, i), *at = strstr(k, ".percolating_fraction_");
    char        phase[SM_RECORD_KEY_LEN];
    int         change = -1;
    if (strncmp(k, "phases.", 7) || !at || strlen(at) != strlen(".percolating_fraction_x")) continue;
    PetscCall(PetscStrncpy(phase, k + 7, (size_t)(at - k - 7) + 1));
    for (int vi = 0; vi < nvalues; vi++) {
      int n = 0, nspan = 0;
      for (int r = 0; r < nrows; r++) {
        double    v;
        PetscBool found;
        if (rows[r].value_index != vi) continue;
        PetscCall(sm_record_get(rows[r].rec, k, &v, &found));
        if (!found || !isfinite(v)) continue;
        n++;
        nspan += v > 0;
      }
      frac[vi] = n ? (double)nspan / n : NAN;
    }
    for (int vi = 1; vi < nvalues && change < 0; vi++)
      if ((frac[vi] == 1.0) != (frac[0] == 1.0)) change = vi;
    PetscCall(sm_json_begin_object(js, NULL));
    PetscCall(sm_json_string(js, "phase", phase));
    PetscCall(sm_json_string(js, "direction", at + strlen(".percolating_fraction_")));
    PetscCall(sm_json_real_array(js, "spanning_fraction", frac, nvalues));
    if (change < 0) {
      PetscCall(sm_json_string(js, "change", frac[0] == 1.0 ? "spans at every value" : "does not span at any value"));
      PetscCall(PetscPrintf(comm, "  percolation of %s in %s: %s swept\n", phase, at + strlen(".percolating_fraction_"),
                            frac[0] == 1.0 ? "every twin spans the box at every value" : "not every twin spans the box at any value"));
    } else {
      const char *what = frac[0] == 1.0 ? "stops spanning" : "starts spanning";
      PetscCall(sm_json_string(js, "change", what));
      PetscCall(sm_json_begin_array(js, "interval"));
      PetscCall(sm_json_string(js, NULL, value[change - 1]));
      PetscCall(sm_json_string(js, NULL, value[change]));
      PetscCall(sm_json_end_array(js));
      PetscCall(PetscPrintf(comm, "  percolation of %s in %s: %s (every twin spans the box %s %s = %s, not %s %s)\n", phase,
                            at + strlen(".percolating_fraction_"), what, frac[0] == 1.0 ? "up to" : "from", param,
                            frac[0] == 1.0 ? value[change - 1] : value[change], frac[0] == 1.0 ? "at" : "at",
                            frac[0] == 1.0 ? value[change] : value[change - 1]));
    }
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_array(js));
  PetscCall(PetscFree2(value, frac));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_study_write_table(MPI_Comm comm, const char *path, const char *command, const char *study,
                                    const char *param, int nrows, const SMStudyRow rows[])
{
  char     jpath[PETSC_MAX_PATH_LEN], cpath[PETSC_MAX_PATH_LEN];
  SMRecord keys;
  SMJson   js;
  FILE    *csv;
  int      nvalues = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(jpath, sizeof(jpath), "%s.json", path));
  PetscCall(PetscSNPrintf(cpath, sizeof(cpath), "%s.csv", path));
  PetscCall(sm_study_keys(nrows, rows, &keys));
  for (int r = 0; r < nrows; r++) nvalues = PetscMax(nvalues, rows[r].value_index + 1);

  PetscCall(sm_text_open(comm, cpath, &csv));
  if (csv) {
    fprintf(csv, "row,task,%s,realization,seed", param && param[0] ? param : "value");
    for (int i = 0; i < sm_record_size(keys); i++) fprintf(csv, ",%s", sm_record_key(keys, i));
    fprintf(csv, "\n");
    for (int r = 0; r < nrows; r++) {
      fprintf(csv, "task,%d,%s,%lld,%llu", rows[r].task, rows[r].value, (long long)rows[r].realization,
              (unsigned long long)rows[r].seed);
      for (int i = 0; i < sm_record_size(keys); i++) {
        double    v;
        PetscBool found;
        PetscCall(sm_record_get(rows[r].rec, sm_record_key(keys, i), &v, &found));
        sm_csv_put(csv, v);
      }
      fprintf(csv, "\n");
    }
    for (int vi = 0; vi < nvalues; vi++) {
      const char *value = "";
      for (int r = 0; r < nrows; r++)
        if (rows[r].value_index == vi) value = rows[r].value;
      for (int which = 0; which < 2; which++) {
        fprintf(csv, "%s,,%s,,", which ? "std" : "mean", value);
        for (int i = 0; i < sm_record_size(keys); i++) {
          double m, sd;
          int    n;
          PetscCall(sm_study_stats(nrows, rows, vi, sm_record_key(keys, i), &m, &sd, &n));
          sm_csv_put(csv, which ? sd : m);
        }
        fprintf(csv, "\n");
      }
    }
  }
  PetscCall(sm_text_close(comm, cpath, &csv, PETSC_TRUE));

  PetscCall(sm_json_open(comm, jpath, &js));
  PetscCall(sm_json_string(js, "command", command));
  PetscCall(sm_json_string(js, "code_version", sm_version_code()));
  PetscCall(sm_json_string(js, "study", study));
  PetscCall(sm_json_string(js, "parameter", param ? param : ""));
  PetscCall(sm_json_begin_array(js, "tasks"));
  for (int r = 0; r < nrows; r++) {
    PetscCall(sm_json_begin_object(js, NULL));
    PetscCall(sm_json_int(js, "task", rows[r].task));
    PetscCall(sm_json_string(js, "value", rows[r].value));
    PetscCall(sm_json_int(js, "realization", rows[r].realization));
    PetscCall(sm_json_int(js, "seed", (long long)rows[r].seed));
    PetscCall(sm_json_begin_object(js, "results"));
    for (int i = 0; i < sm_record_size(rows[r].rec); i++)
      PetscCall(sm_json_real(js, sm_record_key(rows[r].rec, i), sm_record_value(rows[r].rec, i)));
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_array(js));
  PetscCall(sm_json_begin_array(js, "summary"));
  for (int vi = 0; vi < nvalues; vi++) {
    const char *value = "";
    int         nreal = 0;
    for (int r = 0; r < nrows; r++)
      if (rows[r].value_index == vi) value = rows[r].value, nreal++;
    PetscCall(sm_json_begin_object(js, NULL));
    PetscCall(sm_json_string(js, "value", value));
    PetscCall(sm_json_int(js, "realizations", nreal));
    for (int which = 0; which < 3; which++) {
      PetscCall(sm_json_begin_object(js, which == 0 ? "mean" : which == 1 ? "std" : "count"));
      for (int i = 0; i < sm_record_size(keys); i++) {
        double m, sd;
        int    n;
        PetscCall(sm_study_stats(nrows, rows, vi, sm_record_key(keys, i), &m, &sd, &n));
        if (which == 2) PetscCall(sm_json_int(js, sm_record_key(keys, i), n));
        else PetscCall(sm_json_real(js, sm_record_key(keys, i), which ? sd : m));
      }
      PetscCall(sm_json_end_object(js));
    }
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_array(js));
  if (param && param[0] && nvalues > 1) PetscCall(sm_study_percolation(comm, js, param, nvalues, nrows, rows, keys));
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscCall(sm_record_destroy(&keys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------- one writer per study */
struct _p_SMStudyLock {
  int       fd;       /* rank 0: the open lock file (closing it releases the lock); -1 elsewhere */
  PetscBool fallback; /* no record locks here: the file's content is the lock, removed on unlock */
  char      path[PETSC_MAX_PATH_LEN];
  char      me[320];  /* "host pid" of this job */
};

/* The holder named in the file ("host pid"), or "" if the file names nobody. */
static void sm_lock_holder(int fd, char *holder, size_t len)
{
  ssize_t n = pread(fd, holder, len - 1, 0);
  holder[n > 0 ? n : 0] = 0;
  holder[strcspn(holder, "\n")] = 0;
}

static int sm_lock_write_holder(int fd, const char *me)
{
  size_t n = strlen(me);
  if (ftruncate(fd, 0) || pwrite(fd, me, n, 0) != (ssize_t)n || pwrite(fd, "\n", 1, (off_t)n) != 1) return -1;
  return fsync(fd);
}

/* Is the holder "host pid" a live process of this host other than us? */
static PetscBool sm_lock_holder_alive(const char *holder, const char *host)
{
  char h[256];
  long pid;
  if (sscanf(holder, "%255s %ld", h, &pid) != 2 || strcmp(h, host) || pid <= 0 || pid == (long)getpid()) return PETSC_FALSE;
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

PetscErrorCode sm_study_lock(MPI_Comm comm, const char *path, PetscBool exclusive, SMStudyLock *lock)
{
  PetscMPIInt rank;
  SMStudyLock l;
  char        msg[1024] = "", warn[1024] = "";
  int         ok = 1;
  PetscBool   nolocks = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* test hook: behave as on a file system without record locks */
  {
    PetscInt v = 0;
    PetscCall(sm_sys_test_hook(comm, "SM_TEST_NO_LOCKS", &v, NULL));
    nolocks = v ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCall(PetscNew(&l));
  l->fd = -1;
  PetscCall(PetscStrncpy(l->path, path, sizeof(l->path)));
  if (!rank) {
    char         host[256] = "?", holder[320];
    struct flock fl;
    int          r, err;
    (void)gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    snprintf(l->me, sizeof(l->me), "%s %ld", host, (long)getpid());
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
      ok = 0;
      snprintf(msg, sizeof(msg), "Could not open the lock file %s: %s", path, strerror(errno));
    } else {
      memset(&fl, 0, sizeof(fl));
      fl.l_type   = exclusive ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      if (nolocks) r = -1, err = ENOLCK;
      else {
        r   = fcntl(l->fd, F_SETLK, &fl);
        err = errno;
      }
      if (!r) {
        if (exclusive && sm_lock_write_holder(l->fd, l->me)) {
          ok = 0;
          snprintf(msg, sizeof(msg), "Could not write the lock file %s: %s", path, strerror(errno));
        }
      } else if (err == EACCES || err == EAGAIN) { /* somebody holds it: name them */
        struct flock q = fl;
        int          shared_holder;
        q.l_type = F_WRLCK;
        shared_holder = !fcntl(l->fd, F_GETLK, &q) && q.l_type == F_RDLCK;
        ok = 0;
        if (shared_holder)
          snprintf(msg, sizeof(msg),
                   "Another job is writing to this study: %s is held by sweep -task_index jobs (for instance pid %ld on "
                   "this host). Wait for them to finish, or give another -o",
                   path, (long)q.l_pid);
        else {
          sm_lock_holder(l->fd, holder, sizeof(holder));
          snprintf(msg, sizeof(msg),
                   "Another job is writing to this study: %s is held by the process %s (host pid). Two jobs on one "
                   "study would compute the same units and overwrite each other's checkpoint; wait for it to finish or "
                   "stop it (the kernel frees the lock when it dies), or give another -o",
                   path, holder[0] ? holder : "(unknown)");
        }
      } else if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) { /* no record locks here */
        sm_lock_holder(l->fd, holder, sizeof(holder));
        l->fallback = PETSC_TRUE;
        if (sm_lock_holder_alive(holder, host)) {
          ok = 0;
          snprintf(msg, sizeof(msg),
                   "Another job is writing to this study: %s names the running process %s (host pid). Wait for it to "
                   "finish, or give another -o",
                   path, holder);
        } else if (sm_lock_write_holder(l->fd, l->me)) {
          ok = 0;
          snprintf(msg, sizeof(msg), "Could not write the lock file %s: %s", path, strerror(errno));
        } else
          snprintf(warn, sizeof(warn),
                   "stochmorph warning: the file system of %s has no file locks (%s); the file records this job (%s), "
                   "which keeps out a second job on this host only. Make sure no other job uses this study directory%s%s\n",
                   path, strerror(err), l->me, holder[0] ? "; it last named " : "", holder);
      } else {
        ok = 0;
        snprintf(msg, sizeof(msg), "Could not lock %s: %s", path, strerror(err));
      }
    }
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  if (!ok) {
    if (l->fd >= 0) close(l->fd);
    PetscCall(PetscFree(l));
    SETERRQ(comm, PETSC_ERR_FILE_OPEN, "%s", msg);
  }
  if (warn[0]) PetscCall(PetscFPrintf(PETSC_COMM_SELF, PETSC_STDERR, "%s", warn));
  *lock = l;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_study_unlock(SMStudyLock *lock)
{
  PetscFunctionBeginUser;
  if (!lock || !*lock) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*lock)->fd >= 0) {
    if ((*lock)->fallback) { /* the file is the lock: remove it if it still names us */
      char holder[320];
      sm_lock_holder((*lock)->fd, holder, sizeof(holder));
      if (!strcmp(holder, (*lock)->me)) (void)remove((*lock)->path);
    }
    close((*lock)->fd);
  }
  PetscCall(PetscFree(*lock));
  PetscFunctionReturn(PETSC_SUCCESS);
}
