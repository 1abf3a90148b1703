/* stochmorph refit: the M-factor predictor M^ = k eps^a beta^b / tau^c refitted to the computed M of one or more
 * finished studies (least squares on log M, include/stochmorph/predictor.h), per phase and for all phases together,
 * next to the published exponents. A twin contributes one point per phase: its volume fraction, mean constrictivity,
 * mean geodesic tortuosity and M averaged over the solved directions (the study table's transport.<phase>.M_mean). */
#include "study_app.h"
#include <stochmorph/predictor.h>

#define SM_REFIT_MAX_DIRS 64

typedef struct {
  char    name[SM_NAME_LEN]; /* a phase, or "all" */
  int     n, cap;
  double *eps, *beta, *tau, *M;
} SMRefitGroup;

static PetscErrorCode sm_refit_group_add(SMRefitGroup *g, double eps, double beta, double tau, double M)
{
  PetscFunctionBeginUser;
  if (g->n == g->cap) {
    g->cap = PetscMax(64, 2 * g->cap);
    PetscCall(PetscRealloc(sizeof(double) * (size_t)g->cap, &g->eps));
    PetscCall(PetscRealloc(sizeof(double) * (size_t)g->cap, &g->beta));
    PetscCall(PetscRealloc(sizeof(double) * (size_t)g->cap, &g->tau));
    PetscCall(PetscRealloc(sizeof(double) * (size_t)g->cap, &g->M));
  }
  g->eps[g->n]  = eps;
  g->beta[g->n] = beta;
  g->tau[g->n]  = tau;
  g->M[g->n++]  = M;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double sm_refit_get(SMRecord rec, const char *fmt, const char *phase)
{
  char      key[SM_RECORD_KEY_LEN];
  double    v     = NAN;
  PetscBool found = PETSC_FALSE;
  snprintf(key, sizeof(key), fmt, phase);
  if (sm_record_get(rec, key, &v, &found) || !found) return NAN;
  return v;
}

/* The points of one study directory, added to the groups (created for every phase with transport results). */
static PetscErrorCode sm_refit_load(MPI_Comm comm, const char *dir, int *ngroups, SMRefitGroup groups[], int *ntwins)
{
  char               source[PETSC_MAX_PATH_LEN];
  SMStore           *stores = NULL;
  SMStudyRow        *rows   = NULL;
  const SMStudySpec *spec;
  int                nst = 0, ntasks = 0;
  PetscBool   complete;

  PetscFunctionBeginUser;
  PetscCall(sm_study_open_dir(comm, "refit", dir, &nst, &stores, source, sizeof(source)));
  PetscCall(sm_store_is_complete(stores[0], &complete));
  PetscCheck(complete, comm, PETSC_ERR_FILE_UNEXPECTED,
             "refit: the study in %s has not finished; resume it with -restart (same options), then refit", dir);
  PetscCall(sm_store_get_spec(stores[0], &spec));
  PetscCall(sm_study_rows(comm, dir, spec, nst, stores, &ntasks, &rows));
  for (int t = 0; t < ntasks; t++) {
    SMRecord rec = rows[t].rec;
    for (int i = 0; i < sm_record_size(rec); i++) {
      const char *k = sm_record_key(rec, i);
      size_t      l = strlen(k);
      char        ph[SM_NAME_LEN];
      int         j;
      double      eps, beta, tau, M;
      if (strncmp(k, "transport.", 10) || l <= 17 || strcmp(k + l - 7, ".M_mean") || l - 17 >= SM_NAME_LEN) continue;
      memcpy(ph, k + 10, l - 17);
      ph[l - 17] = 0;
      for (j = 1; j < *ngroups; j++)
        if (!strcmp(groups[j].name, ph)) break;
      if (j == *ngroups) {
        PetscCheck(*ngroups < SM_MAX_PHASES + 1, comm, PETSC_ERR_SUP, "refit: more than %d phases", SM_MAX_PHASES);
        PetscCall(PetscMemzero(&groups[j], sizeof(groups[j])));
        PetscCall(PetscStrncpy(groups[j].name, ph, sizeof(groups[j].name)));
        (*ngroups)++;
      }
      M    = sm_record_value(rec, i);
      eps  = sm_refit_get(rec, "phases.%s.volume_fraction", ph);
      beta = sm_refit_get(rec, "phases.%s.constrictivity_mean", ph);
      tau  = sm_refit_get(rec, "phases.%s.geodesic_tortuosity_mean", ph);
      PetscCall(sm_refit_group_add(&groups[j], eps, beta, tau, M));
      PetscCall(sm_refit_group_add(&groups[0], eps, beta, tau, M));
    }
  }
  *ntwins += ntasks;
  PetscCall(sm_study_rows_destroy(ntasks, &rows));
  PetscCall(sm_study_close_dir(nst, &stores));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_refit_json(SMJson js, const char *name, const SMPredictorFit *f)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_begin_object(js, NULL));
  PetscCall(sm_json_string(js, "phases", name));
  PetscCall(sm_json_int(js, "n", f->n));
  PetscCall(sm_json_int(js, "skipped", f->nskipped));
  PetscCall(sm_json_bool(js, "defined", f->defined));
  PetscCall(sm_json_bool(js, "prefactor", f->prefactor));
  PetscCall(sm_json_real(js, "a", f->a));
  PetscCall(sm_json_real(js, "se_a", f->se_a));
  PetscCall(sm_json_real(js, "b", f->b));
  PetscCall(sm_json_real(js, "se_b", f->se_b));
  PetscCall(sm_json_real(js, "c", f->c));
  PetscCall(sm_json_real(js, "se_c", f->se_c));
  PetscCall(sm_json_real(js, "k", f->defined ? exp(f->log_k) : NAN));
  PetscCall(sm_json_real(js, "log_k", f->log_k));
  PetscCall(sm_json_real(js, "se_log_k", f->prefactor ? f->se_log_k : NAN));
  PetscCall(sm_json_real(js, "r2", f->r2));
  PetscCall(sm_json_real(js, "r2_published", f->r2_published));
  PetscCall(sm_json_real(js, "rms_log", f->rms_log));
  if (!f->defined)
    PetscCall(sm_json_string(js, "note", "not defined: no more twins with M > 0 and defined constrictivity and tortuosity "
                                         "than parameters"));
  PetscCall(sm_json_end_object(js));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_refit(MPI_Comm comm)
{
  char          *dirs[SM_REFIT_MAX_DIRS];
  char           out[PETSC_MAX_PATH_LEN] = "";
  PetscInt       ndirs                   = SM_REFIT_MAX_DIRS;
  PetscBool      set = PETSC_FALSE, prefactor = PETSC_FALSE;
  SMRefitGroup   groups[SM_MAX_PHASES + 1];
  SMPredictorFit fits[SM_MAX_PHASES + 1];
  int            ngroups = 1, ntwins = 0;
  SMJson         js;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL,
                    "stochmorph refit: refit M^ = k eps^a beta^b / tau^c (published: a 1.15, b 0.35, c 4.39, k 1) to the M "
                    "computed in finished studies, by least squares on log M",
                    "stochmorph");
  PetscCall(PetscOptionsStringArray("-i", "Study directories (of run or sweep), comma-separated; their twins are pooled", "refit",
                                    dirs, &ndirs, &set));
  PetscCall(PetscOptionsString("-o", "Output JSON (default: refit.json in the first study directory)", "refit", out, out,
                               sizeof(out), NULL));
  PetscCall(PetscOptionsBool("-refit_prefactor", "Fit the prefactor k too (otherwise k = 1, as published)", "refit", prefactor,
                             &prefactor, NULL));
  PetscOptionsEnd();
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "refit"));
  PetscCheck(set && ndirs > 0, comm, PETSC_ERR_ARG_WRONG, "refit needs the study directories: -i DIR[,DIR...]");
  for (PetscInt d = 0; d < ndirs; d++)
    PetscCheck(!access(dirs[d], F_OK), comm, PETSC_ERR_FILE_OPEN, "refit: the study directory %s does not exist", dirs[d]);
  if (!out[0]) PetscCall(PetscSNPrintf(out, sizeof(out), "%s/refit.json", dirs[0]));

  PetscCall(PetscMemzero(groups, sizeof(groups)));
  PetscCall(PetscStrncpy(groups[0].name, "all", sizeof(groups[0].name)));
  for (PetscInt d = 0; d < ndirs; d++) PetscCall(sm_refit_load(comm, dirs[d], &ngroups, groups, &ntwins));
  PetscCheck(ngroups > 1, comm, PETSC_ERR_ARG_WRONG,
             "refit: the studies have no transport results (M); run them with -transport_direction");
  for (int g = 0; g < ngroups; g++)
    PetscCall(sm_predictor_refit(groups[g].n, groups[g].eps, groups[g].beta, groups[g].tau, groups[g].M, prefactor, &fits[g]));

  PetscCall(PetscPrintf(comm, "stochmorph refit: M^ = k eps^a beta^b / tau^c by least squares on log M, %d twins of %d "
                              "stud%s (published: a %g, b %g, c %g, k 1)\n",
                        ntwins, (int)ndirs, ndirs > 1 ? "ies" : "y", SM_PREDICTOR_A, SM_PREDICTOR_B, SM_PREDICTOR_C));
  PetscCall(PetscPrintf(comm, "  %-10s %5s %5s  %-16s %-16s %-16s %-16s %7s %7s\n", "phases", "n", "left", "a (se)", "b (se)",
                        "c (se)", "k (se of ln k)", "R^2", "R^2 pub"));
  for (int g = 0; g < ngroups; g++) {
    const SMPredictorFit *f = &fits[g];
    if (ngroups == 2 && g == 0) continue; /* one phase: "all" is the same fit */
    if (!f->defined) {
      PetscCall(PetscPrintf(comm, "  %-10s %5d %5d  not defined: too few twins with M > 0 and defined beta, tau\n",
                            groups[g].name, f->n, f->nskipped));
      continue;
    }
    PetscCall(PetscPrintf(comm, "  %-10s %5d %5d  %6.3f (%6.3f)  %6.3f (%6.3f)  %6.3f (%6.3f)  ", groups[g].name, f->n,
                          f->nskipped, f->a, f->se_a, f->b, f->se_b, f->c, f->se_c));
    if (prefactor) PetscCall(PetscPrintf(comm, "%6.3f (%6.3f)  ", exp(f->log_k), f->se_log_k));
    else PetscCall(PetscPrintf(comm, "%-16s", "1 (fixed)"));
    PetscCall(PetscPrintf(comm, "%7.4f %7.4f\n", f->r2, f->r2_published));
  }

  PetscCall(sm_json_open(comm, out, &js));
  PetscCall(sm_json_string(js, "command", "refit"));
  PetscCall(sm_json_string(js, "model", "M^ = k eps^a beta^b / tau^c; least squares on log M; eps volume fraction, beta "
                                        "constrictivity_mean, tau geodesic_tortuosity_mean, M transport M_mean"));
  PetscCall(sm_json_begin_array(js, "studies"));
  for (PetscInt d = 0; d < ndirs; d++) PetscCall(sm_json_string(js, NULL, dirs[d]));
  PetscCall(sm_json_end_array(js));
  PetscCall(sm_json_int(js, "twins", ntwins));
  PetscCall(sm_json_begin_object(js, "published"));
  PetscCall(sm_json_real(js, "a", SM_PREDICTOR_A));
  PetscCall(sm_json_real(js, "b", SM_PREDICTOR_B));
  PetscCall(sm_json_real(js, "c", SM_PREDICTOR_C));
  PetscCall(sm_json_real(js, "k", 1.0));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_array(js, "fits"));
  for (int g = 0; g < ngroups; g++) PetscCall(sm_refit_json(js, groups[g].name, &fits[g]));
  PetscCall(sm_json_end_array(js));
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscCall(PetscPrintf(comm, "stochmorph refit: wrote %s\n", out));

  for (int g = 0; g < ngroups; g++) {
    PetscCall(PetscFree(groups[g].eps));
    PetscCall(PetscFree(groups[g].beta));
    PetscCall(PetscFree(groups[g].tau));
    PetscCall(PetscFree(groups[g].M));
  }
  for (PetscInt d = 0; d < ndirs; d++) PetscCall(PetscFree(dirs[d]));
  PetscFunctionReturn(PETSC_SUCCESS);
}
