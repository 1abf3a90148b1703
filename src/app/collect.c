/* stochmorph collect, and the study table of run and sweep: DIR/study.{json,csv} from the checkpoint(s); the rows of a
 * finished study for other readers (refit.c). */
#include "study_app.h"

/* ------------------------------------------------------------------ the table */
/* Rows of the study table from the stores' units (several stores: the per-task files of an array). Every task must
   have finished all its units. */
PetscErrorCode sm_study_rows(MPI_Comm comm, const char *dir, const SMStudySpec *spec, int nstores, SMStore stores[],
                             int *ntasks_out, SMStudyRow **rows_out)
{
  char        buf[32];
  const int   ntasks = spec->ntasks;
  const char *param  = spec->param;
  SMStudyRow *rows;
  char      (*vals)[64] = NULL;
  int         nvals     = 0;
  PetscBool  *generated; /* the task's generate unit is in a store */

  PetscFunctionBeginUser;
  PetscCheck(ntasks > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "The study specification has no tasks");
  if (param[0]) {
    SMRunOptions tmp;
    PetscCall(PetscMemzero(&tmp, sizeof(tmp)));
    PetscCall(sm_run_parse_values(comm, spec->values, &tmp));
    vals  = tmp.values;
    nvals = tmp.nvalues;
  }
  PetscCall(PetscCalloc1(ntasks, &rows));
  PetscCall(PetscCalloc1(ntasks, &generated));
  for (int t = 0; t < ntasks; t++) {
    rows[t].task = t;
    PetscCall(sm_record_create(&rows[t].rec));
  }
  for (int s = 0; s < nstores; s++)
    for (int u = 0; u < sm_store_size(stores[s]); u++) {
      const char *name = sm_store_unit(stores[s], u);
      SMRecord    rec;
      int         t;
      if (name[0] != 't' || sscanf(name + 1, "%d", &t) != 1 || t < 0 || t >= ntasks) continue;
      PetscCall(sm_store_get(stores[s], name, &rec));
      for (int i = 0; i < sm_record_size(rec); i++) {
        const char  *k = sm_record_key(rec, i);
        const double v = sm_record_value(rec, i);
        if (!strcmp(k, "task.value_index")) rows[t].value_index = (int)v;
        else if (!strcmp(k, "task.realization")) rows[t].realization = (int64_t)v;
        else if (!strcmp(k, "task.seed_hi")) rows[t].seed |= (uint64_t)v << 32;
        else if (!strcmp(k, "task.seed_lo")) rows[t].seed |= (uint64_t)v;
        else PetscCall(sm_record_set(rows[t].rec, k, v));
      }
      rows[t].task = t;
      if (strstr(name, "/generate") || strstr(name, "/load")) generated[t] = PETSC_TRUE;
    }
  {
    char missing[256] = "";
    int  nm           = 0;
    for (int t = 0; t < ntasks; t++) {
      if (generated[t]) continue;
      if (nm < 12) {
        PetscCall(PetscSNPrintf(buf, sizeof(buf), "%s%d", nm ? "," : "", t));
        PetscCall(PetscStrlcat(missing, buf, sizeof(missing)));
      }
      nm++;
    }
    PetscCheck(!nm, comm, PETSC_ERR_FILE_UNEXPECTED,
               "%d of %d tasks have no results in %s (tasks %s%s); run them (sweep -task_index i, or -restart) and collect again",
               nm, ntasks, dir, missing, nm > 12 ? ",..." : "");
  }
  for (int t = 0; t < ntasks; t++) { /* M averaged over the directions solved, next to M^ of the descriptors */
    char   ph[SM_MAX_PHASES][SM_NAME_LEN];
    double sum[SM_MAX_PHASES];
    int    cnt[SM_MAX_PHASES], nph = 0;
    for (int i = 0; i < sm_record_size(rows[t].rec); i++) {
      const char *k = sm_record_key(rows[t].rec, i);
      size_t      l = strlen(k);
      char        name[SM_NAME_LEN];
      int         j;
      if (strncmp(k, "transport.", 10) || l < 16 || strcmp(k + l - 2, ".M") || k[l - 4] != '.') continue;
      if (l - 4 - 10 >= SM_NAME_LEN) continue;
      memcpy(name, k + 10, l - 14);
      name[l - 14] = 0;
      for (j = 0; j < nph; j++)
        if (!strcmp(ph[j], name)) break;
      if (j == nph) {
        if (nph == SM_MAX_PHASES) continue;
        PetscCall(PetscStrncpy(ph[nph], name, SM_NAME_LEN));
        sum[nph] = 0;
        cnt[nph++] = 0;
      }
      sum[j] += sm_record_value(rows[t].rec, i);
      cnt[j]++;
    }
    for (int j = 0; j < nph; j++) {
      char key[SM_RECORD_KEY_LEN];
      PetscCall(PetscSNPrintf(key, sizeof(key), "transport.%s.M_mean", ph[j]));
      PetscCall(sm_record_set(rows[t].rec, key, sum[j] / cnt[j]));
    }
  }
  for (int t = 0; t < ntasks; t++)
    PetscCall(PetscStrncpy(rows[t].value, param[0] && rows[t].value_index < nvals ? vals[rows[t].value_index] : "",
                           sizeof(rows[t].value)));
  PetscCall(PetscFree(generated));
  PetscCall(PetscFree(vals));
  *ntasks_out = ntasks;
  *rows_out   = rows;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_study_rows_destroy(int ntasks, SMStudyRow **rows)
{
  PetscFunctionBeginUser;
  for (int t = 0; t < ntasks; t++) PetscCall(sm_record_destroy(&(*rows)[t].rec));
  PetscCall(PetscFree(*rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_build_table(MPI_Comm comm, const char *command, const char *dir, const SMStudySpec *spec, int nstores,
                              SMStore stores[])
{
  char        path[PETSC_MAX_PATH_LEN], text[sizeof(SMStudySpec) + 512];
  int         ntasks = 0;
  SMStudyRow *rows   = NULL;

  PetscFunctionBeginUser;
  PetscCall(sm_study_rows(comm, dir, spec, nstores, stores, &ntasks, &rows));
  PetscCall(sm_study_spec_text(spec, text, sizeof(text)));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/study", dir));
  PetscCall(sm_study_write_table(comm, path, command, text, spec->param, ntasks, rows));
  PetscCall(sm_study_rows_destroy(ntasks, &rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The stores of a study directory: DIR/checkpoint.h5 of a whole study, else DIR/tasks/task_NNNN.h5 of an array, every
   task finished and of the same study. what: the command, for the messages. Free with sm_study_close_dir. */
PetscErrorCode sm_study_open_dir(MPI_Comm comm, const char *what, const char *dir, int *nst_out, SMStore **stores_out, char *source,
                                 size_t sourcelen)
{
  char        path[PETSC_MAX_PATH_LEN];
  SMStore    *stores;
  const SMStudySpec *spec0 = NULL;
  int         ntasks, nst = 0;
  PetscBool   complete;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/checkpoint.h5", dir));
  if (!access(path, R_OK)) { /* a whole study: its checkpoint */
    PetscCall(PetscMalloc1(1, &stores));
    PetscCall(sm_store_load(comm, path, &stores[0]));
    PetscCall(PetscStrncpy(source, path, sourcelen));
    *nst_out    = 1;
    *stores_out = stores;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* the tasks of an array: task 0 tells the number of tasks */
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks/task_0000.h5", dir));
  PetscCheck(!access(path, R_OK), comm, PETSC_ERR_FILE_OPEN,
             "%s: neither %s/checkpoint.h5 nor %s exists; is %s the directory given to run or sweep (-o)?", what, dir, path,
             dir);
  PetscCall(PetscMalloc1(1, &stores));
  PetscCall(sm_store_load(comm, path, &stores[0]));
  PetscCall(sm_store_get_spec(stores[0], &spec0));
  ntasks = spec0->ntasks;
  PetscCall(PetscRealloc(sizeof(SMStore) * (size_t)PetscMax(ntasks, 1), &stores));
  nst = 1;
  for (int t = 1; t < ntasks; t++) {
    const SMStudySpec *spec;
    char               diff[2048];
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks/task_%04d.h5", dir, t));
    PetscCheck(!access(path, R_OK), comm, PETSC_ERR_FILE_OPEN, "%s: task %d of %d has no results (%s); run it with "
               "sweep -task_index %d and collect again", what, t, ntasks, path, t);
    PetscCall(sm_store_load(comm, path, &stores[nst]));
    PetscCall(sm_store_get_spec(stores[nst], &spec));
    PetscCall(sm_store_get_spec(stores[0], &spec0));
    PetscCall(sm_study_spec_diff(spec0, spec, diff, sizeof(diff)));
    PetscCheck(!diff[0], comm, PETSC_ERR_ARG_INCOMP,
               "%s: %s belongs to a different study than task 0 (task 0 against it: %s); re-run it", what, path, diff);
    PetscCall(sm_store_is_complete(stores[nst], &complete));
    PetscCheck(complete, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: task %d (%s) has not finished; resume it with "
               "sweep -task_index %d -restart", what, t, path, t);
    nst++;
  }
  PetscCall(sm_store_is_complete(stores[0], &complete));
  PetscCheck(complete, comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: task 0 has not finished; resume it with sweep -task_index 0 -restart", what);
  PetscCall(PetscSNPrintf(source, sourcelen, "%d tasks", nst));
  *nst_out    = nst;
  *stores_out = stores;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_study_close_dir(int nst, SMStore **stores)
{
  PetscFunctionBeginUser;
  for (int s = 0; s < nst; s++) PetscCall(sm_store_close(&(*stores)[s]));
  PetscCall(PetscFree(*stores));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* collect: merge DIR/tasks/task_NNNN.h5 (or DIR/checkpoint.h5) into DIR/study.{json,csv}. The caller holds the lock. */
static PetscErrorCode sm_collect(MPI_Comm comm, const char *dir)
{
  char        source[PETSC_MAX_PATH_LEN];
  SMStore           *stores = NULL;
  const SMStudySpec *spec0;
  int                nst = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_study_open_dir(comm, "collect", dir, &nst, &stores, source, sizeof(source)));
  PetscCall(sm_store_get_spec(stores[0], &spec0));
  PetscCall(sm_build_table(comm, "collect", dir, spec0, nst, stores));
  PetscCall(PetscPrintf(comm, "stochmorph collect: wrote %s/study.json and %s/study.csv from %s\n", dir, dir, source));
  PetscCall(sm_study_close_dir(nst, &stores));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_collect(MPI_Comm comm)
{
  char        dir[PETSC_MAX_PATH_LEN] = "", lpath[PETSC_MAX_PATH_LEN];
  PetscBool   set;
  SMStudyLock lock = NULL;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "stochmorph collect: merge the tasks of a sweep into the study table", "stochmorph");
  PetscCall(PetscOptionsString("-o", "Study directory (holding tasks/task_NNNN.h5 from sweep -task_index)", "collect", dir, dir,
                               sizeof(dir), &set));
  PetscOptionsEnd();
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "collect"));
  PetscCheck(set && dir[0], comm, PETSC_ERR_ARG_WRONG, "collect needs the study directory: -o DIR");
  PetscCheck(!access(dir, F_OK), comm, PETSC_ERR_FILE_OPEN, "collect: the study directory %s does not exist", dir);
  PetscCall(PetscSNPrintf(lpath, sizeof(lpath), "%s/.lock", dir));
  PetscCall(sm_study_lock(comm, lpath, PETSC_TRUE, &lock));
  PetscCall(sm_collect(comm, dir));
  PetscCall(sm_study_unlock(&lock));
  PetscFunctionReturn(PETSC_SUCCESS);
}
