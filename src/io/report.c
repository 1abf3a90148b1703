/* JSON and CSV result files, written by rank 0 to "<path>.partial" and renamed when complete. */
#include <stochmorph/report.h>
#include <stochmorph/version.h>
#include <math.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>

#define SM_JSON_MAX_DEPTH 32

struct _p_SMJson {
  MPI_Comm    comm;
  PetscMPIInt rank;
  FILE       *fp;
  char        path[PETSC_MAX_PATH_LEN];
  int         depth;
  int         count[SM_JSON_MAX_DEPTH]; /* items written at each depth, for commas */
};

/* The text files open on this process (rank 0), for sm_text_abandon_all. */
#define SM_TEXT_MAX_OPEN 16
static struct {
  FILE *fp;
  char  partial[PETSC_MAX_PATH_LEN + 16];
} sm_text_open_files[SM_TEXT_MAX_OPEN];

static void sm_text_register(FILE *fp, const char *partial)
{
  for (int i = 0; i < SM_TEXT_MAX_OPEN; i++)
    if (!sm_text_open_files[i].fp) {
      sm_text_open_files[i].fp = fp;
      snprintf(sm_text_open_files[i].partial, sizeof(sm_text_open_files[i].partial), "%s", partial);
      return;
    }
}

static void sm_text_unregister(FILE *fp)
{
  for (int i = 0; i < SM_TEXT_MAX_OPEN; i++)
    if (sm_text_open_files[i].fp == fp) sm_text_open_files[i].fp = NULL;
}

void sm_text_abandon_all(void)
{
  for (int i = 0; i < SM_TEXT_MAX_OPEN; i++)
    if (sm_text_open_files[i].fp) {
      (void)fclose(sm_text_open_files[i].fp);
      (void)remove(sm_text_open_files[i].partial);
      sm_text_open_files[i].fp = NULL;
    }
}

PetscErrorCode sm_text_open(MPI_Comm comm, const char *path, FILE **fp)
{
  PetscMPIInt rank;
  int         ok = 1;
  char        partial[PETSC_MAX_PATH_LEN + 16], why[256] = "";

  PetscFunctionBeginUser;
  *fp = NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path));
    *fp = fopen(partial, "w");
    ok  = *fp != NULL;
    if (!ok) sm_sys_write_reason(partial, errno, why, sizeof(why));
    else sm_text_register(*fp, partial);
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "-o: cannot create %s: %s (does the directory exist and is it writable?)",
             path, why);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_text_close(MPI_Comm comm, const char *path, FILE **fp, PetscBool complete)
{
  PetscMPIInt rank;
  int         ok = 1;
  char        partial[PETSC_MAX_PATH_LEN + 16], why[256] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank && fp && *fp) {
    int err = 0;
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path));
    /* a full disk shows in the buffered writes (ferror) or at the last flush (fclose) */
    sm_text_unregister(*fp);
    errno = 0;
    if (fflush(*fp) || ferror(*fp)) ok = 0, err = errno;
    if (fclose(*fp) && ok) ok = 0, err = errno;
    if (!ok && complete) sm_sys_write_reason(partial, err, why, sizeof(why));
    if (complete && ok && (err = sm_sys_commit(partial, path))) {
      ok = 0;
      snprintf(why, sizeof(why), "syncing or renaming its .partial file failed: %s", strerror(err));
    }
    if (!complete || !ok) (void)remove(partial);
    *fp = NULL;
  }
  if (complete) {
    PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, comm));
    PetscCheck(ok, comm, PETSC_ERR_FILE_WRITE, "Could not write %s: %s (the partial file was removed)", path, why);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_open(MPI_Comm comm, const char *path, SMJson *js)
{
  SMJson j;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&j));
  j->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &j->rank));
  PetscCall(PetscStrncpy(j->path, path, sizeof(j->path)));
  PetscCall(sm_text_open(comm, path, &j->fp));
  if (j->fp) fprintf(j->fp, "{");
  j->depth    = 1;
  j->count[1] = 0;
  *js         = j;
  {
    /* every JSON file carries the build block (the versions `stochmorph --version` prints) */
    int                nb;
    const char *const *bk, *const *bv;
    PetscCall(sm_version_get(&nb, &bk, &bv));
    PetscCall(sm_json_begin_object(j, "build"));
    for (int i = 0; i < nb; i++) PetscCall(sm_json_string(j, bk[i], bv[i]));
    PetscCall(sm_json_end_object(j));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_close(SMJson *js, PetscBool complete)
{
  PetscFunctionBeginUser;
  if (!js || !*js) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*js)->fp) fprintf((*js)->fp, "\n}\n");
  PetscCall(sm_text_close((*js)->comm, (*js)->path, &(*js)->fp, complete));
  PetscCall(PetscFree(*js));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Comma, newline, indentation and the quoted key (escaped) of the next item. */
static void sm_json_item(SMJson j, const char *key)
{
  if (!j->fp) return;
  fprintf(j->fp, "%s\n%*s", j->count[j->depth]++ ? "," : "", 2 * j->depth, "");
  if (key) {
    fputc('"', j->fp);
    for (const char *c = key; *c; c++) {
      if (*c == '"' || *c == '\\') fputc('\\', j->fp);
      fputc(*c, j->fp);
    }
    fputs("\": ", j->fp);
  }
}

static void sm_json_put_string(FILE *fp, const char *s)
{
  fputc('"', fp);
  for (const char *c = s; *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(fp, "\\%c", *c);
    else if ((unsigned char)*c < 0x20) fprintf(fp, "\\u%04x", (unsigned char)*c);
    else fputc(*c, fp);
  }
  fputc('"', fp);
}

static void sm_json_put_real(FILE *fp, double v)
{
  char buf[32];
  sm_sys_format_real(v, buf, sizeof(buf));
  if (isfinite(v)) fputs(buf, fp);
  else fputs("null", fp);
}

PetscErrorCode sm_json_begin_object(SMJson j, const char *key)
{
  PetscFunctionBeginUser;
  PetscCheck(j->depth + 1 < SM_JSON_MAX_DEPTH, PETSC_COMM_SELF, PETSC_ERR_PLIB, "JSON nesting too deep");
  sm_json_item(j, key);
  if (j->fp) fputc('{', j->fp);
  j->count[++j->depth] = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_end_object(SMJson j)
{
  PetscFunctionBeginUser;
  j->depth--;
  if (j->fp) fprintf(j->fp, "\n%*s}", 2 * j->depth, "");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_begin_array(SMJson j, const char *key)
{
  PetscFunctionBeginUser;
  PetscCheck(j->depth + 1 < SM_JSON_MAX_DEPTH, PETSC_COMM_SELF, PETSC_ERR_PLIB, "JSON nesting too deep");
  sm_json_item(j, key);
  if (j->fp) fputc('[', j->fp);
  j->count[++j->depth] = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_end_array(SMJson j)
{
  PetscFunctionBeginUser;
  j->depth--;
  if (j->fp) fprintf(j->fp, "\n%*s]", 2 * j->depth, "");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_string(SMJson j, const char *key, const char *value)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) sm_json_put_string(j->fp, value);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_real(SMJson j, const char *key, double value)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) sm_json_put_real(j->fp, value);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_int(SMJson j, const char *key, long long value)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) fprintf(j->fp, "%lld", value);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_bool(SMJson j, const char *key, PetscBool value)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) fputs(value ? "true" : "false", j->fp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_real_array(SMJson j, const char *key, const double *v, int64_t n)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) {
    fputc('[', j->fp);
    for (int64_t i = 0; i < n; i++) {
      if (i) fputs(", ", j->fp);
      sm_json_put_real(j->fp, v[i]);
    }
    fputc(']', j->fp);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_json_int_array(SMJson j, const char *key, const int64_t *v, int64_t n)
{
  PetscFunctionBeginUser;
  sm_json_item(j, key);
  if (j->fp) {
    fputc('[', j->fp);
    for (int64_t i = 0; i < n; i++) fprintf(j->fp, "%s%lld", i ? ", " : "", (long long)v[i]);
    fputc(']', j->fp);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_path_replace_ext(const char *path, const char *ext, char *out, size_t len)
{
  const char *slash, *dot;
  size_t      stem;

  PetscFunctionBeginUser;
  slash = strrchr(path, '/');
  dot   = strrchr(path, '.');
  stem  = (dot && (!slash || dot > slash)) ? (size_t)(dot - path) : strlen(path);
  PetscCheck(stem + strlen(ext) + 1 <= len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Path too long: %s", path);
  memcpy(out, path, stem);
  out[stem] = 0;
  PetscCall(PetscStrlcat(out, ext, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}
