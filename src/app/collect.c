/* stochmorph collect, and the study table of run and sweep: DIR/study.{json,csv} from the checkpoint(s). */
#include "study_app.h"

/* ------------------------------------------------------------------ the table */
/* Parse "key=value; " items of a study description. */
PetscErrorCode sm_study_item(const char *study, const char *key, char *value, size_t len)
{
  char        pat[64];
  const char *at, *end;

  PetscFunctionBeginUser;
  value[0] = 0;
  PetscCall(PetscSNPrintf(pat, sizeof(pat), "%s=", key));
  at = strstr(study, pat);
  if (at && (at == study || at[-1] == ' ')) {
    at += strlen(pat);
    end = strstr(at, "; ");
    if (!end) end = at + strlen(at);
    PetscCall(PetscStrncpy(value, at, PetscMin(len, (size_t)(end - at) + 1)));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows of the study table from the stores' units (several stores: the per-task files of an array). Every task must
   have finished all its units. */
PetscErrorCode sm_build_table(MPI_Comm comm, const char *command, const char *dir, const char *study, int nstores,
                                     SMStore stores[])
{
  char        param[64], values[4096], path[PETSC_MAX_PATH_LEN], buf[32];
  int         ntasks;
  SMStudyRow *rows;
  char      (*vals)[64] = NULL;
  int         nvals     = 0;
  PetscBool  *generated; /* the task's generate unit is in a store */

  PetscFunctionBeginUser;
  PetscCall(sm_study_item(study, "tasks", buf, sizeof(buf)));
  ntasks = atoi(buf);
  PetscCheck(ntasks > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "The study description has no task count: %s", study);
  PetscCall(sm_study_item(study, "param", param, sizeof(param)));
  PetscCall(sm_study_item(study, "values", values, sizeof(values)));
  if (param[0]) {
    SMRunOptions tmp;
    PetscCall(PetscMemzero(&tmp, sizeof(tmp)));
    PetscCall(sm_run_parse_values(comm, values, &tmp));
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
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/study", dir));
  PetscCall(sm_study_write_table(comm, path, command, study, param, ntasks, rows));
  for (int t = 0; t < ntasks; t++) PetscCall(sm_record_destroy(&rows[t].rec));
  PetscCall(PetscFree(rows));
  PetscCall(PetscFree(generated));
  PetscCall(PetscFree(vals));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* collect: merge DIR/tasks/task_NNNN.h5 (or DIR/checkpoint.h5) into DIR/study.{json,csv}. The caller holds the lock. */
static PetscErrorCode sm_collect(MPI_Comm comm, const char *dir)
{
  char        path[PETSC_MAX_PATH_LEN], buf[32];
  SMStore    *stores;
  const char *study0 = NULL;
  int         ntasks, nst = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/checkpoint.h5", dir));
  if (!access(path, R_OK)) { /* a whole study: its checkpoint */
    SMStore st;
    PetscCall(sm_store_load(comm, path, &st));
    PetscCall(sm_store_get_study(st, &study0));
    PetscCall(sm_build_table(comm, "collect", dir, study0, 1, &st));
    PetscCall(sm_store_close(&st));
    PetscCall(PetscPrintf(comm, "stochmorph collect: wrote %s/study.json and %s/study.csv from %s\n", dir, dir, path));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* the tasks of an array: task 0 tells the number of tasks */
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks/task_0000.h5", dir));
  PetscCheck(!access(path, R_OK), comm, PETSC_ERR_FILE_OPEN,
             "collect: neither %s/checkpoint.h5 nor %s exists; is -o the directory given to sweep?", dir, path);
  PetscCall(PetscMalloc1(1, &stores));
  PetscCall(sm_store_load(comm, path, &stores[0]));
  PetscCall(sm_store_get_study(stores[0], &study0));
  PetscCall(sm_study_item(study0, "tasks", buf, sizeof(buf)));
  ntasks = atoi(buf);
  PetscCall(PetscRealloc(sizeof(SMStore) * (size_t)PetscMax(ntasks, 1), &stores));
  nst = 1;
  for (int t = 1; t < ntasks; t++) {
    const char *study;
    PetscBool   complete;
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks/task_%04d.h5", dir, t));
    PetscCheck(!access(path, R_OK), comm, PETSC_ERR_FILE_OPEN, "collect: task %d of %d has no results (%s); run it with "
               "sweep -task_index %d and collect again", t, ntasks, path, t);
    PetscCall(sm_store_load(comm, path, &stores[nst]));
    PetscCall(sm_store_get_study(stores[nst], &study));
    PetscCall(sm_store_get_study(stores[0], &study0));
    PetscCheck(!strcmp(study, study0), comm, PETSC_ERR_ARG_INCOMP,
               "collect: %s belongs to a different study than task 0 (options differ); re-run it", path);
    PetscCall(sm_store_is_complete(stores[nst], &complete));
    PetscCheck(complete, comm, PETSC_ERR_FILE_UNEXPECTED, "collect: task %d (%s) has not finished; resume it with "
               "sweep -task_index %d -restart", t, path, t);
    nst++;
  }
  {
    PetscBool complete;
    PetscCall(sm_store_is_complete(stores[0], &complete));
    PetscCheck(complete, comm, PETSC_ERR_FILE_UNEXPECTED,
               "collect: task 0 has not finished; resume it with sweep -task_index 0 -restart");
  }
  PetscCall(sm_store_get_study(stores[0], &study0));
  PetscCall(sm_build_table(comm, "collect", dir, study0, nst, stores));
  PetscCall(PetscPrintf(comm, "stochmorph collect: %d tasks; wrote %s/study.json and %s/study.csv\n", nst, dir, dir));
  for (int s = 0; s < nst; s++) PetscCall(sm_store_close(&stores[s]));
  PetscCall(PetscFree(stores));
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
