/* The options of run and sweep: model or image, grid, descriptors, transport, the swept parameter and its values,
 * and the study identity (every option that changes a number). */
#include "study_app.h"

/* ------------------------------------------------------------------ helpers */
PetscErrorCode sm_run_mkdir(MPI_Comm comm, const char *path)
{
  PetscMPIInt rank;
  int         ok = 1, err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) { /* with its parents, as mkdir -p */
    char   buf[PETSC_MAX_PATH_LEN];
    size_t len = strlen(path);
    if (len >= sizeof(buf)) ok = 0, err = ENAMETOOLONG;
    else {
      memcpy(buf, path, len + 1);
      for (size_t i = 1; ok && i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) ok = 0, err = errno;
        buf[i] = path[i];
      }
    }
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "Cannot create the directory %s (or one of its parents): %s", path, strerror(err));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void sm_run_hms(double s, char *buf, size_t len)
{
  long t = (long)(s + 0.5);
  snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

/* A value list: "a,b,c" or a range "lo:hi:step" (hi included when it is hit up to rounding). Values are kept as the
   strings that are put into the options database, formatted %.10g for ranges. */
PetscErrorCode sm_run_parse_values(MPI_Comm comm, const char *spec, SMRunOptions *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(SM_RUN_MAX_VALUES, &o->values));
  o->nvalues = 0;
  if (strchr(spec, ':')) {
    double lo, hi, step;
    char  *end;
    lo = strtod(spec, &end);
    PetscCheck(*end == ':', comm, PETSC_ERR_ARG_WRONG, "-sweep_values: a range is lo:hi:step (got '%s')", spec);
    hi = strtod(end + 1, &end);
    PetscCheck(*end == ':', comm, PETSC_ERR_ARG_WRONG, "-sweep_values: a range is lo:hi:step (got '%s')", spec);
    step = strtod(end + 1, &end);
    PetscCheck(*end == 0 && step > 0 && hi >= lo, comm, PETSC_ERR_ARG_WRONG,
               "-sweep_values: a range lo:hi:step needs hi >= lo and step > 0 (got '%s')", spec);
    for (int k = 0;; k++) {
      const double v = lo + k * step;
      if (v > hi + 1e-9 * step) break;
      PetscCheck(o->nvalues < SM_RUN_MAX_VALUES, comm, PETSC_ERR_ARG_OUTOFRANGE, "-sweep_values: more than %d values",
                 SM_RUN_MAX_VALUES);
      snprintf(o->values[o->nvalues++], 64, "%.10g", v);
    }
  } else {
    const char *s = spec;
    while (*s) {
      const char *e = strchr(s, ',');
      size_t      n = e ? (size_t)(e - s) : strlen(s);
      PetscCheck(n > 0 && n < 64, comm, PETSC_ERR_ARG_WRONG, "-sweep_values: empty or too long item in '%s'", spec);
      PetscCheck(o->nvalues < SM_RUN_MAX_VALUES, comm, PETSC_ERR_ARG_OUTOFRANGE, "-sweep_values: more than %d values",
                 SM_RUN_MAX_VALUES);
      memcpy(o->values[o->nvalues], s, n);
      o->values[o->nvalues][n] = 0;
      {
        char *end;
        (void)strtod(o->values[o->nvalues], &end);
        PetscCheck(end != o->values[o->nvalues] && *end == 0, comm, PETSC_ERR_ARG_WRONG,
                   "-sweep_values: '%s' is not a number (a list a,b,c or a range lo:hi:step)", o->values[o->nvalues]);
      }
      o->nvalues++;
      s += n + (e ? 1 : 0);
    }
  }
  PetscCheck(o->nvalues > 0, comm, PETSC_ERR_ARG_WRONG, "-sweep_values gives no value ('%s')", spec);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Task t <-> (value index, realisation index). */
void sm_run_task_split(const SMRunOptions *o, int t, int *vi, int *ri)
{
  *vi = t / (int)o->realizations;
  *ri = t % (int)o->realizations;
}

/* ------------------------------------------------------------------ options */
PetscErrorCode sm_run_options(MPI_Comm comm, const char *command, SMRunOptions *o, SMModel *model0, SMGrid *grid)
{
  char          values[4096] = "", desc[512] = "", *phases[SM_MAX_PHASES], settings[1024];
  PetscInt      nph = SM_MAX_PHASES;
  PetscBool     set_ph, set_o, set_values;
  const int64_t n_default[3] = {128, 128, 128};
  SMModelParams p;
  SMGridInfo    g;
  char          mtext[1024], tr[512] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->command      = command;
  o->realizations = 1;
  o->task_index   = -1;
  o->checkpoint_interval = 300;
  o->test_stop_iteration = -1;
  PetscOptionsBegin(comm, NULL, command[0] == 'r' ? "stochmorph run: a study of R twins of one model" :
                                                    "stochmorph sweep: a study over the values of one model parameter",
                    "stochmorph");
  PetscCall(PetscOptionsString("-o", "Study directory: checkpoint.h5, study.json, study.csv, volumes/, tasks/", command, o->dir,
                               o->dir, sizeof(o->dir), &set_o));
  if (command[0] == 'r')
    PetscCall(PetscOptionsString("-i", "An image (any format of `analyze`) to study instead of twins of a model: its "
                                 "descriptors and transport; to study twins of a model fitted to it, run `stochmorph fit` "
                                 "and then `run -options_file fitted.opts`", command, o->image, o->image, sizeof(o->image),
                                 NULL));
  PetscCall(PetscOptionsInt("-realizations", "Twins per parameter value (realisation indices -realization, +1, ...)",
                            command, o->realizations, &o->realizations, NULL));
  PetscCall(PetscOptionsBool("-restart", "Resume the study in -o from its checkpoint, skipping every finished unit",
                             command, o->restart, &o->restart, NULL));
  PetscCall(PetscOptionsBool("-keep_volumes", "Keep the twins (volumes/tNNNN.h5) after their task has finished", command,
                             o->keep_volumes, &o->keep_volumes, NULL));
  PetscCall(PetscOptionsStringArray("-transport_phases", "Phases to solve transport for: names, all (default) or none",
                                    command, phases, &nph, &set_ph));
  PetscCall(PetscOptionsReal("-checkpoint_interval", "Save the iterate of a running transport solve every this many "
                             "seconds (DIR/solves/), so a killed solve resumes from it; 0: every iteration, < 0: never",
                             command, o->checkpoint_interval, &o->checkpoint_interval, NULL));
  if (command[0] == 's') {
    PetscCall(PetscOptionsString("-sweep_param", "Model option to sweep, without its dash (e.g. model_volume_fraction)",
                                 command, o->param, o->param, sizeof(o->param), NULL));
    PetscCall(PetscOptionsString("-sweep_values", "Values: a list a,b,c or a range lo:hi:step", command, values, values,
                                 sizeof(values), &set_values));
    PetscCall(PetscOptionsBool("-list_tasks", "Print the tasks (one line each, for a SLURM array) and stop", command,
                               o->list_tasks, &o->list_tasks, NULL));
    PetscCall(PetscOptionsInt("-task_index", "Run this task only (0-based; SLURM: $SLURM_ARRAY_TASK_ID) into "
                              "DIR/tasks/; merge with `stochmorph collect -o DIR`", command, o->task_index, &o->task_index,
                              NULL));
  }
  PetscOptionsEnd();
  PetscCall(sm_transport_create(comm, &o->solver));
  PetscCall(sm_transport_set_from_options(o->solver));
  {
    const int *dirs;
    PetscCall(sm_transport_get_directions(o->solver, &o->ndirs, &dirs));
    for (int d = 0; d < o->ndirs; d++) o->dirs[d] = dirs[d];
  }
  PetscCall(sm_app_read_seed(comm, &o->seed, &o->real0));
  PetscCall(sm_fft_flags_from_options(comm, &o->fft_flags));
  PetscCall(sm_image_options_default(&o->image_opts));
  if (o->image[0]) PetscCall(sm_image_options_set_from_options(comm, &o->image_opts));
  PetscCall(sm_sys_test_hook(comm, "SM_TEST_STOP_AT_ITERATION", &o->test_stop_iteration, NULL));
  PetscCall(sm_morph_options_default(&o->morph));
  PetscCall(sm_morph_options_set_from_options(comm, &o->morph));
  if (command[0] == 's' && set_values) PetscCall(sm_run_parse_values(comm, values, o));
  PetscCall(sm_model_create(comm, model0));
  PetscCall(sm_model_set_from_options(*model0));
  if (command[0] == 's' && o->param[0] && o->nvalues > 0 && !sm_app_help()) /* every value checked now, not in task k */
    for (int v = o->nvalues - 1; v >= 0; v--) {
      PetscCall(sm_model_set_param(*model0, o->param, strtod(o->values[v], NULL)));
      PetscCall(sm_model_set_up(*model0));
    }
  PetscCall(sm_model_set_up(*model0));
  PetscCall(sm_grid_create_from_options(comm, n_default, 0.01, grid));
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);

  /* checks, each naming the option */
  PetscCheck(set_o && o->dir[0], comm, PETSC_ERR_ARG_WRONG, "%s needs a study directory: -o DIR", command);
  PetscCheck(o->realizations >= 1 && o->realizations <= 100000, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-realizations must be between 1 and 100000 (got %d)", (int)o->realizations);
  PetscCheck(!o->image[0] || o->realizations == 1, comm, PETSC_ERR_ARG_INCOMP,
             "-i studies one image: -realizations does not apply (to study twins of a model fitted to the image, run "
             "`stochmorph fit -i %s -o fitted.opts` and then `run -options_file fitted.opts -realizations R`)", o->image);
  PetscCall(sm_model_get_params(*model0, &p));
  o->nphases_tr = -1;
  if (set_ph) {
    o->nphases_tr = 0;
    for (PetscInt i = 0; i < nph; i++) {
      if (!strcmp(phases[i], "all")) o->nphases_tr = -1;
      else if (!strcmp(phases[i], "none")) o->nphases_tr = o->nphases_tr < 0 ? -1 : o->nphases_tr;
      else {
        int found = 0;
        for (int k = 0; k < p.nphases; k++) found |= !strcmp(phases[i], p.phase_names[k]);
        PetscCheck(found, comm, PETSC_ERR_ARG_WRONG, "-transport_phases: the %s model has no phase '%s' (phases: %s%s%s%s%s)",
                   sm_model_names[p.type], phases[i], p.phase_names[0], p.nphases > 1 ? ", " : "",
                   p.nphases > 1 ? p.phase_names[1] : "", p.nphases > 2 ? ", " : "", p.nphases > 2 ? p.phase_names[2] : "");
        PetscCall(PetscStrncpy(o->tphase[o->nphases_tr++], phases[i], SM_NAME_LEN));
      }
    }
    if (nph == 1 && !strcmp(phases[0], "none")) o->nphases_tr = 0;
    for (PetscInt i = 0; i < nph; i++) PetscCall(PetscFree(phases[i]));
  }
  if (o->nphases_tr < 0) {
    o->nphases_tr = p.nphases;
    for (int k = 0; k < p.nphases; k++) PetscCall(PetscStrncpy(o->tphase[k], p.phase_names[k], SM_NAME_LEN));
  }
  if (command[0] == 's') {
    PetscCheck(o->param[0], comm, PETSC_ERR_ARG_WRONG,
               "sweep needs -sweep_param NAME (a model option without its dash, e.g. model_volume_fraction)");
    PetscCheck(!strncmp(o->param, "model_", 6) && strcmp(o->param, "model_covariance"), comm, PETSC_ERR_ARG_WRONG,
               "-sweep_param must be a numeric model option such as model_volume_fraction, model_alpha, model_dof or "
               "model_volume_fraction_carbon (got '%s')", o->param);
    PetscCheck(o->nvalues > 0, comm, PETSC_ERR_ARG_WRONG, "sweep needs -sweep_values (a list a,b,c or a range lo:hi:step)");
  } else o->nvalues = 1;
  PetscCheck((double)o->nvalues * (double)o->realizations <= 1e6, comm, PETSC_ERR_ARG_OUTOFRANGE, "More than a million tasks");
  o->ntasks = o->nvalues * (int)o->realizations;
  PetscCheck(o->task_index >= -1 && o->task_index < o->ntasks, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-task_index must be between 0 and %d (the study has %d tasks; see -list_tasks)", o->ntasks - 1, o->ntasks);

  /* the study: every option that changes a number (a restart or collect with other options is refused) */
  PetscCall(sm_grid_get_info(*grid, &g));
  PetscCall(sm_model_get_options_text(*model0, mtext, sizeof(mtext)));
  if (command[0] == 's') { /* the swept option's first value is in mtext; name it instead */
    char key[80], *at;
    PetscCall(PetscSNPrintf(key, sizeof(key), "-%s ", o->param));
    at = strstr(mtext, key);
    if (at) {
      char *end = strchr(at + strlen(key), ' ');
      if (end) memmove(at + strlen(key), end, strlen(end) + 1);
      else at[strlen(key) - 1] = 0;
    }
  }
  for (int i = 0; i < o->nphases_tr; i++) {
    PetscCall(PetscStrlcat(tr, i ? "," : "", sizeof(tr)));
    PetscCall(PetscStrlcat(tr, o->tphase[i], sizeof(tr)));
  }
  PetscCall(sm_transport_get_settings_text(o->solver, settings, sizeof(settings)));
  for (int d = 0; d < SM_DESC_NUM; d++)
    if (o->morph.want[d] && d != SM_DESC_TWO_POINT) {
      PetscCall(PetscStrlcat(desc, desc[0] ? "," : "", sizeof(desc)));
      PetscCall(PetscStrlcat(desc, sm_descriptor_names[d], sizeof(desc)));
    }
  if (!desc[0]) PetscCall(PetscStrncpy(desc, "none", sizeof(desc)));
  if (o->morph.periodic_set) PetscCall(PetscStrlcat(desc, o->morph.periodic ? " periodic=1" : " periodic=0", sizeof(desc)));
  if (sm_morph_options_want_morphology(&o->morph)) {
    char more[160];
    PetscCall(PetscSNPrintf(more, sizeof(more), " cpsd_dr=%.17g mip_faces=%c%c%c tortuosity_bins=%d connectivity=%d",
                            o->morph.dr, o->morph.mip_side[0] ? '+' : '-', o->morph.mip_side[1] ? '+' : '-',
                            o->morph.mip_side[2] ? '+' : '-', o->morph.tortuosity_bins, o->morph.connectivity));
    PetscCall(PetscStrlcat(desc, more, sizeof(desc)));
  }
  {
    char dl[8] = "";
    for (int d = 0; d < o->ndirs; d++) dl[d] = (char)('x' + o->dirs[d]);
    PetscCall(PetscSNPrintf(o->study, sizeof(o->study),
                            "tasks=%d; param=%s; values=%s; realizations=%d; seed=%llu; realization0=%llu; grid=%lldx%lldx%lld; "
                            "voxel=%.17g,%.17g,%.17g; model=%s; descriptors=%s; transport=%s:%s:%s%s%s",
                            o->ntasks, o->param, command[0] == 's' ? values : "", (int)o->realizations,
                            (unsigned long long)o->seed, (unsigned long long)o->real0, (long long)g.n[0], (long long)g.n[1],
                            (long long)g.n[2], (double)g.h[0], (double)g.h[1], (double)g.h[2], mtext, desc,
                            o->nphases_tr ? tr : "none", dl, settings,
                            o->image[0] ? "; image=" : "", o->image));
    if (o->image[0]) { /* the reader's settings too: a restart with another -voxel_size or -crop is another study */
      char itext[1024];
      PetscCall(sm_image_options_get_text(&o->image_opts, itext, sizeof(itext)));
      PetscCall(PetscStrlcat(o->study, " ", sizeof(o->study)));
      PetscCall(PetscStrlcat(o->study, itext, sizeof(o->study)));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

