/* Studies: the results of many units of work (a realisation's generation, its descriptors, one transport solve), the
 * HDF5 checkpoint that holds them so a killed run resumes where it stopped, and the study table (one row per task,
 * then the mean and standard deviation over realisations) in JSON and CSV.
 *
 * A record is an ordered list of named numbers ("phases.solid.M_predicted" = 0.12); a unit's record is stored under
 * the unit's name ("v0/r1/transport/solid/fem/z"). Every number of a study is computed identically on every rank, so
 * records live on every rank and rank 0 alone reads and writes files.
 *
 * Checkpoint file (SPEC 8): datasets /units (names), /unit_start (offsets), /keys, /values; attributes `format`,
 * `spec.<field>` (the study specification, SMStudySpec: every option that changes a number; a restart with other options
 * is refused, naming the fields that differ), `study` (the same as one line of text, for people), `checksum`
 * (64-bit FNV-1a over the names, offsets, keys and values: a file altered or truncated after it was written is
 * refused) and, once the whole study has finished, `complete`. Every update writes "<path>.partial" and renames it over
 * the old file, so a kill at any moment leaves either the old or the new checkpoint, never a mixture. */
#ifndef STOCHMORPH_STUDY_H
#define STOCHMORPH_STUDY_H

#include <stochmorph/sys.h>

#define SM_RECORD_KEY_LEN 96
#define SM_UNIT_NAME_LEN  128

typedef struct _p_SMRecord *SMRecord;

PetscErrorCode sm_record_create(SMRecord *rec);
PetscErrorCode sm_record_destroy(SMRecord *rec);
/* Set key to value (replacing an earlier value of the same key; NaN allowed: "not defined"). Not collective. */
PetscErrorCode sm_record_set(SMRecord rec, const char *key, double value);
/* Append every entry of src to rec (replacing equal keys). */
PetscErrorCode sm_record_merge(SMRecord rec, SMRecord src);
PetscErrorCode sm_record_get(SMRecord rec, const char *key, double *value, PetscBool *found);
int            sm_record_size(SMRecord rec);
const char    *sm_record_key(SMRecord rec, int i);
double         sm_record_value(SMRecord rec, int i);

typedef struct _p_SMStore *SMStore;

/* The specification of a study: every option that changes one of its numbers. Built by run/sweep from their options,
   stored in the checkpoint as the attributes spec.<field>, and compared field by field on -restart and by collect. The
   model, descriptor and transport settings are the canonical one-line texts of their objects. */
typedef struct {
  int      ntasks, realizations;
  uint64_t seed, realization0;
  int64_t  grid[3];
  double   voxel[3];
  char     param[64];          /* the swept model option without its dash; "" without a sweep */
  char     values[1024];       /* the swept values as given (a list or lo:hi:step) */
  char     model[1024];        /* the model's options, the swept one left out */
  char     descriptors[512];   /* -descriptors and the descriptor settings */
  char     transport[1024];    /* phases:directions:solver settings */
  char     image[2048];        /* a study of an image: its path and the reader's settings; "" for twins */
} SMStudySpec;

/* The specification as one line ("tasks=4; param=...; ..."), as study.json shows it. Not collective. */
PetscErrorCode sm_study_spec_text(const SMStudySpec *spec, char *buf, size_t len);
/* The fields in which a and b differ, each with both values ("grid: 64x64x64 against 32x32x32; ..."); "" if none. */
PetscErrorCode sm_study_spec_diff(const SMStudySpec *a, const SMStudySpec *b, char *buf, size_t len);

/* Open the checkpoint at path for the study spec.
   restart = PETSC_FALSE: path must not exist (an error says to use -restart or another -o); an empty store is created
   and written at once (so an unwritable directory fails before any work). restart = PETSC_TRUE: an existing file is
   read and verified (format, checksum, specification; a different specification is an error naming the file, the
   fields that differ and what to do); a missing file starts an empty store. Collective. */
PetscErrorCode sm_store_open(MPI_Comm comm, const char *path, const SMStudySpec *spec, PetscBool restart, SMStore *st);
/* Read an existing checkpoint for reading only (collect); verified like a restart, any specification accepted and
   returned by sm_store_get_spec (sm_store_get_study: its text). Collective. */
PetscErrorCode sm_store_load(MPI_Comm comm, const char *path, SMStore *st);
PetscErrorCode sm_store_close(SMStore *st);
PetscErrorCode sm_store_get_spec(SMStore st, const SMStudySpec **spec);
PetscErrorCode sm_store_get_study(SMStore st, const char **study);
/* Has the unit finished? Not collective (the store is the same on every rank). */
PetscErrorCode sm_store_has(SMStore st, const char *unit, PetscBool *done);
/* The stored record of a finished unit (owned by the store), NULL if the unit has not finished. */
PetscErrorCode sm_store_get(SMStore st, const char *unit, SMRecord *rec);
/* Record a finished unit (a copy of rec) and write the checkpoint. Collective. */
PetscErrorCode sm_store_put(SMStore st, const char *unit, SMRecord rec);
/* Mark the study complete (the `complete` attribute, written last). Collective. */
PetscErrorCode sm_store_mark_complete(SMStore st);
PetscErrorCode sm_store_is_complete(SMStore st, PetscBool *complete);
int            sm_store_size(SMStore st);
const char    *sm_store_unit(SMStore st, int i);

/* ---- Study table ---- */
/* One task: a parameter value (or none) and a realisation; its record is the merge of its units' records. */
typedef struct {
  int      task;        /* task index */
  int      value_index; /* index of the swept value (0 without a sweep) */
  char     value[64];   /* the swept value as given ("" without a sweep) */
  int64_t  realization;
  uint64_t seed;
  SMRecord rec;
} SMStudyRow;

/* Write path.json and path.csv (path without extension, e.g. "DIR/study"): the rows in task order, then for each
   swept value the mean and standard deviation (n - 1 in the denominator; undefined numbers left out, and the count of
   defined ones reported) of every key over its realisations. param is the swept option ("" without a sweep).
   Collective; rank 0 writes, partial-then-rename. */
PetscErrorCode sm_study_write_table(MPI_Comm comm, const char *path, const char *command, const char *study,
                                    const char *param, int nrows, const SMStudyRow rows[]);

/* 64-bit FNV-1a hash of n bytes, continuing from h (start with SM_FNV_OFFSET). */
#define SM_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t sm_fnv1a(uint64_t h, const void *data, size_t n);

/* ---- One writer per study ---- */
/* A lock on a study directory or on one task of it: an fcntl record lock on the file `path` (DIR/.lock, or
   DIR/tasks/task_NNNN.lock), which the kernel releases when the process dies, however it dies. An exclusive lock
   (run, sweep, collect) writes "host pid" into the file; a shared one (sweep -task_index, which then also locks its own
   task file exclusively) lets array tasks run side by side but keeps a whole-study job out. A job that finds the lock
   held stops with a message naming the holder (host and pid). On a file system without record locks (some NFS mounts)
   the file alone is the lock: a live process of this host named in it refuses the job, and a warning says that jobs on
   other hosts cannot be detected. Collective; rank 0 holds the lock. */
typedef struct _p_SMStudyLock *SMStudyLock;
PetscErrorCode sm_study_lock(MPI_Comm comm, const char *path, PetscBool exclusive, SMStudyLock *lock);
/* Release the lock (the file stays: removing it could let two jobs lock two different files). Accepts NULL. */
PetscErrorCode sm_study_unlock(SMStudyLock *lock);

#endif
