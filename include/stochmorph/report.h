/* Result files: a small streaming JSON writer (rank 0 writes; other ranks' calls do nothing) that writes to
 * "<path>.partial" and renames on success, so a failed run leaves nothing that looks complete. */
#ifndef STOCHMORPH_REPORT_H
#define STOCHMORPH_REPORT_H

#include <stochmorph/sys.h>
#include <stdio.h>

typedef struct _p_SMJson *SMJson;

/* Open path for writing on rank 0 of comm (collective; fails on every rank if rank 0 cannot create it). */
PetscErrorCode sm_json_open(MPI_Comm comm, const char *path, SMJson *js);
/* Finish (complete: rename into place) or abandon (remove). Accepts NULL. Collective. */
PetscErrorCode sm_json_close(SMJson *js, PetscBool complete);

PetscErrorCode sm_json_begin_object(SMJson js, const char *key); /* key NULL inside arrays / at top level */
PetscErrorCode sm_json_end_object(SMJson js);
PetscErrorCode sm_json_begin_array(SMJson js, const char *key); /* items inside take key NULL */
PetscErrorCode sm_json_end_array(SMJson js);
PetscErrorCode sm_json_string(SMJson js, const char *key, const char *value);
PetscErrorCode sm_json_real(SMJson js, const char *key, double value); /* NaN/Inf -> null */
PetscErrorCode sm_json_int(SMJson js, const char *key, long long value);
PetscErrorCode sm_json_bool(SMJson js, const char *key, PetscBool value);
PetscErrorCode sm_json_real_array(SMJson js, const char *key, const double *v, int64_t n);
PetscErrorCode sm_json_int_array(SMJson js, const char *key, const int64_t *v, int64_t n);

/* Same partial-then-rename discipline for a plain text file (CSV) written by rank 0: *fp is NULL elsewhere. */
PetscErrorCode sm_text_open(MPI_Comm comm, const char *path, FILE **fp);
PetscErrorCode sm_text_close(MPI_Comm comm, const char *path, FILE **fp, PetscBool complete);
/* Close and remove every text file still open as "<path>.partial" (an error cut its writing short), so a failed
   command leaves nothing behind and no buffered write of a full disk fails again at exit. For main's error path. */
void sm_text_abandon_all(void);

/* path with its extension replaced (or added): "a/b.json", ".csv" -> "a/b.csv". */
PetscErrorCode sm_path_replace_ext(const char *path, const char *ext, char *out, size_t len);

#endif
