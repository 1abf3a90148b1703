/* stochmorph run / sweep / collect: studies over many twins, with HDF5 checkpoints and restart.
 *
 * A study is a list of tasks; a task is one realisation of the model at one value of the swept parameter (a run has
 * no swept parameter). Each task is a chain of units: generate (the twin, kept in DIR/volumes until the task is done),
 * analyze (the descriptors), and one transport solve per phase and direction. A finished unit's numbers go into the
 * checkpoint at once (include/stochmorph/study.h); -restart skips every finished unit. SIGTERM and SIGUSR1 (what SLURM
 * sends before the time limit) stop the run at the next unit boundary with exit status SM_EXIT_STOPPED; everything
 * finished is in the checkpoint. The study table (DIR/study.json, DIR/study.csv) is written from the checkpoint once
 * every task has finished, so the same units give the same table however the work was split: one run, a run killed and
 * restarted, or a SLURM array of single tasks (-task_index) merged by `stochmorph collect`. */
#include "app.h"
#include <stochmorph/model.h>
#include <stochmorph/morph.h>
#include <stochmorph/descriptors.h>
#include <stochmorph/transport.h>
#include <stochmorph/study.h>
#include <stochmorph/report.h>
#include <stochmorph/io.h>
#include <stochmorph/image.h>
#include <stochmorph/fft.h>
#include <stochmorph/log.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hdf5.h>
#include <petscviewerhdf5.h>

#define SM_RUN_MAX_VALUES 1024

static volatile sig_atomic_t sm_stop_signal = 0;
static void                  sm_on_signal(int sig) { sm_stop_signal = sig; }


typedef struct {
  const char       *command; /* "run" or "sweep" */
  char              dir[PETSC_MAX_PATH_LEN];
  char              image[PETSC_MAX_PATH_LEN]; /* -i: a study of this image instead of twins of a model */
  SMImageOptions    image_opts;
  PetscBool         restart, keep_volumes, list_tasks;
  PetscInt          realizations, task_index;
  uint64_t          seed, real0;
  SMMorphOptions    morph;
  int               nphases_tr;   /* -1: every phase of the model */
  char              tphase[SM_MAX_PHASES][SM_NAME_LEN];
  int               ndirs, dirs[3];
  SMTransport       solver;              /* method, preconditioner, directions, conductivities, KSP options */
  double            checkpoint_interval; /* seconds between saved iterates of a transport solve; < 0: never */
  PetscInt          test_stop_iteration; /* test hook: a stop signal at this CG iteration of the first solve */
  char              param[64];
  int               nvalues;
  char            (*values)[64];
  int               ntasks;
  unsigned          fft_flags;
  char              study[4096];
} SMRunOptions;

static PetscErrorCode sm_stop_requested(MPI_Comm comm, int *sig);

/* ------------------------------------------------------------------ helpers */
static PetscErrorCode sm_mkdir(MPI_Comm comm, const char *path)
{
  PetscMPIInt rank;
  int         ok = 1, err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank && mkdir(path, 0777) != 0 && errno != EEXIST) ok = 0, err = errno;
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "Cannot create the directory %s: %s", path, strerror(err));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void sm_hms(double s, char *buf, size_t len)
{
  long t = (long)(s + 0.5);
  snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

/* A value list: "a,b,c" or a range "lo:hi:step" (hi included when it is hit up to rounding). Values are kept as the
   strings that are put into the options database, formatted %.10g for ranges. */
static PetscErrorCode sm_parse_values(MPI_Comm comm, const char *spec, SMRunOptions *o)
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
      o->values[o->nvalues++][n] = 0;
      s += n + (e ? 1 : 0);
    }
  }
  PetscCheck(o->nvalues > 0, comm, PETSC_ERR_ARG_WRONG, "-sweep_values gives no value ('%s')", spec);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Task t <-> (value index, realisation index). */
static void sm_task_split(const SMRunOptions *o, int t, int *vi, int *ri)
{
  *vi = t / (int)o->realizations;
  *ri = t % (int)o->realizations;
}

/* ------------------------------------------------------------------ options */
static PetscErrorCode sm_run_options(MPI_Comm comm, const char *command, SMRunOptions *o, SMModel *model0, SMGrid *grid)
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
  if (command[0] == 's' && set_values) PetscCall(sm_parse_values(comm, values, o));
  if (command[0] == 's' && o->param[0] && o->nvalues > 0) { /* the model must read the first value to be checked */
    char key[80];
    PetscCall(PetscSNPrintf(key, sizeof(key), "-%s", o->param));
    PetscCall(PetscOptionsSetValue(NULL, key, o->values[0]));
  }
  PetscCall(sm_model_create_from_options(comm, model0));
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
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ units */
static PetscErrorCode sm_unit_analyze(SMVolume vol, const SMRunOptions *o, SMRecord rec)
{
  SMGrid             grid;
  SMGridInfo         g;
  int                np;
  const char *const *names;
  int64_t            counts[SM_MAX_PHASES];
  double             S[SM_MAX_PHASES];
  PetscBool          periodic;
  char               key[SM_RECORD_KEY_LEN];

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_get_periodic(vol, &periodic));
  PetscCall(sm_morph_label_counts(vol, counts));
  PetscCall(PetscLogEventBegin(SM_EVENT_Surface, 0, 0, 0, 0));
  for (int i = 0; i < np; i++) PetscCall(sm_morph_specific_surface_area(vol, i, periodic, &S[i]));
  PetscCall(PetscLogEventEnd(SM_EVENT_Surface, 0, 0, 0, 0));
  for (int i = 0; i < np; i++) {
    PetscCall(PetscSNPrintf(key, sizeof(key), "phases.%s.specific_surface_area", names[i]));
    PetscCall(sm_record_set(rec, key, S[i]));
  }
  if (np >= 3)
    for (int i = 0; i < np; i++)
      for (int j = i + 1; j < np; j++) {
        PetscCall(PetscSNPrintf(key, sizeof(key), "interfaces.%s_%s", names[i], names[j]));
        PetscCall(sm_record_set(rec, key, sm_morph_interface_area(S, np, i, j)));
      }
  /* the study table says which voxel neighbours its percolation, paths and intrusion used */
  if (sm_morph_options_want_morphology(&o->morph)) PetscCall(sm_record_set(rec, "connectivity", o->morph.connectivity));
  if (sm_morph_options_want_morphology(&o->morph))
    for (int i = 0; i < np; i++) {
      SMPhaseMorphology m;
      struct {
        const char *name;
        double      v;
        int         want; /* the descriptor (SMDescriptor) that gives it */
      } items[24];
      int n = 0;
#define SM_ITEM(nm, val, w) (items[n].name = (nm), items[n].v = (val), items[n++].want = (w))
      PetscCall(sm_morph_phase_descriptors(vol, i, &o->morph, &m));
      SM_ITEM("r_50", m.r50, SM_DESC_CPSD);
      SM_ITEM("r_min_mean", m.r_min_mean, SM_DESC_MIP);
      SM_ITEM("constrictivity_mean", m.beta_mean, SM_DESC_CONSTRICTIVITY);
      SM_ITEM("geodesic_tortuosity_mean", m.tau_mean, SM_DESC_TORTUOSITY);
      for (int d = 0; d < 3; d++) {
        static const char *const rmin[3] = {"r_min_x", "r_min_y", "r_min_z"}, *const tau[3] = {"geodesic_tortuosity_x",
                                            "geodesic_tortuosity_y", "geodesic_tortuosity_z"},
                                 *const perc[3] = {"percolating_fraction_x", "percolating_fraction_y", "percolating_fraction_z"};
        SM_ITEM(rmin[d], m.r_min[d], SM_DESC_MIP);
        SM_ITEM(tau[d], m.tau_dir[d], SM_DESC_TORTUOSITY);
        SM_ITEM(perc[d], m.percolating[d], SM_DESC_PERCOLATION);
      }
      for (int d = 0; d < 3; d++) {
        static const char *const r2[3] = {"r_50_2d_x", "r_50_2d_y", "r_50_2d_z"};
        SM_ITEM(r2[d], m.r50_2d[d], SM_DESC_CPSD_2D);
      }
      SM_ITEM("M_predicted", m.M_predicted, SM_DESC_M_PREDICTED);
#undef SM_ITEM
      for (int k = 0; k < n; k++) {
        if (!o->morph.want[items[k].want]) continue;
        PetscCall(PetscSNPrintf(key, sizeof(key), "phases.%s.%s", names[i], items[k].name));
        PetscCall(sm_record_set(rec, key, items[k].v));
      }
      PetscCall(sm_morph_phase_descriptors_free(&m));
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ checkpoints of a running solve */
typedef struct {
  MPI_Comm    comm;
  char        path[PETSC_MAX_PATH_LEN]; /* DIR/solves/<unit>.h5 */
  double      interval, last;
  PetscInt    stop_at; /* test hook */
  PetscBool   saved;
} SMSolveCheckpoint;

/* Write the iterate to path (.partial, then renamed by rank 0 after the collective close). Collective. */
static PetscErrorCode sm_solve_save(SMSolveCheckpoint *sc, Vec x, PetscInt it)
{
  PetscViewer v;
  char        partial[PETSC_MAX_PATH_LEN + 16];
  PetscMPIInt rank;
  PetscInt    n;
  int         ok = 1;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", sc->path));
  PetscCall(VecGetSize(x, &n));
  PetscCall(PetscObjectSetName((PetscObject)x, "x"));
  PetscCallMPI(MPI_Comm_rank(sc->comm, &rank));
  { /* a failure (a full disk) is reported once, with the system's reason, and the partial file removed */
    PetscErrorCode ierr;
    int            err;
    errno = 0;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    ierr = PetscViewerHDF5Open(sc->comm, partial, FILE_MODE_WRITE, &v);
    if (!ierr) {
      ierr = VecView(x, v);
      if (!ierr) ierr = PetscViewerHDF5WriteAttribute(v, "x", "unknowns", PETSC_INT, &n);
      if (!ierr) ierr = PetscViewerHDF5WriteAttribute(v, "x", "iteration", PETSC_INT, &it);
      if (PetscViewerDestroy(&v) && !ierr) ierr = PETSC_ERR_FILE_WRITE;
    }
    err = errno;
    PetscCall(PetscPopErrorHandler());
    ok = !ierr;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, sc->comm));
    if (!ok) {
      char why[256] = "";
      if (!rank) {
        sm_sys_write_reason(partial, err, why, sizeof(why));
        (void)remove(partial);
      }
      PetscCallMPI(MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, sc->comm));
      SETERRQ(sc->comm, PETSC_ERR_FILE_WRITE, "Could not write the solver checkpoint %s: %s (the partial file was removed)",
              sc->path, why);
    }
  }
  if (!rank) ok = rename(partial, sc->path) == 0;
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, sc->comm));
  PetscCheck(ok, sc->comm, PETSC_ERR_FILE_WRITE, "Could not write the solver checkpoint %s", sc->path);
  sc->saved = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The saved iterate of an unfinished solve, if there is one: checked (readable, same number of unknowns) and used as
   the initial guess. A damaged file is refused, never used. Collective. */
static PetscErrorCode sm_solve_initial_guess(void *ctx, Vec x, PetscBool *loaded)
{
  SMSolveCheckpoint *sc = (SMSolveCheckpoint *)ctx;
  PetscMPIInt        rank;
  int                state = 0; /* 0 absent, 1 readable, 2 damaged */
  PetscInt           n, nf = -1, it = 0;
  PetscViewer        v;

  PetscFunctionBeginUser;
  *loaded = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(sc->comm, &rank));
  if (!rank && !access(sc->path, R_OK)) {
    H5E_auto2_t func;
    void       *data;
    hid_t       f;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f     = H5Fopen(sc->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    state = f >= 0 && H5Lexists(f, "x", H5P_DEFAULT) > 0 && H5Aexists_by_name(f, "x", "unknowns", H5P_DEFAULT) > 0 ? 1 : 2;
    if (f >= 0) H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, func, data);
  }
  PetscCallMPI(MPI_Bcast(&state, 1, MPI_INT, 0, sc->comm));
  if (!state) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(state == 1, sc->comm, PETSC_ERR_FILE_UNEXPECTED,
             "Refusing the solver checkpoint %s: it is damaged or truncated. Delete it to solve this unit from the start",
             sc->path);
  PetscCall(VecGetSize(x, &n));
  PetscCall(PetscViewerHDF5Open(sc->comm, sc->path, FILE_MODE_READ, &v));
  PetscCall(PetscViewerHDF5ReadAttribute(v, "x", "unknowns", PETSC_INT, NULL, &nf));
  PetscCall(PetscViewerHDF5ReadAttribute(v, "x", "iteration", PETSC_INT, NULL, &it));
  if (nf != n) PetscCall(PetscViewerDestroy(&v));
  PetscCheck(nf == n, sc->comm, PETSC_ERR_FILE_UNEXPECTED,
             "Refusing the solver checkpoint %s: it holds %d unknowns, this solve has %d (another problem?). Delete it",
             sc->path, (int)nf, (int)n);
  PetscCall(PetscObjectSetName((PetscObject)x, "x"));
  PetscCall(VecLoad(x, v));
  PetscCall(PetscViewerDestroy(&v));
  PetscCall(PetscPrintf(sc->comm, "  resuming the solve from the iterate saved at iteration %d (%s)\n", (int)it, sc->path));
  *loaded = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After every CG iteration: save the iterate every -checkpoint_interval seconds, and on a stop signal save it and stop
   the solve. Collective. */
static PetscErrorCode sm_solve_iteration(void *ctx, Vec x, PetscInt it, PetscBool *stop)
{
  SMSolveCheckpoint *sc = (SMSolveCheckpoint *)ctx;
  int                sig;

  PetscFunctionBeginUser;
  if (sc->stop_at >= 0 && it == sc->stop_at) sm_stop_signal = SIGUSR1; /* test hook: a signal right now */
  PetscCall(sm_stop_requested(sc->comm, &sig));
  if (sig || (sc->interval >= 0 && sm_sys_wtime() - sc->last >= sc->interval)) {
    PetscCall(sm_solve_save(sc, x, it));
    sc->last = sm_sys_wtime();
  }
  *stop = sig ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_unit_transport(SMVolume vol, const SMRunOptions *o, const char *phase, int dir, const char *unit,
                                        SMRecord rec, double *M, PetscBool *stopped)
{
  SMSolveCheckpoint sc;
  SMTransportHooks  hooks;
  int               np, label;
  const char *const *names;
  double            cond[SM_MAX_PHASES], bytes;
  SMTransportResult res;
  char              key[SM_RECORD_KEY_LEN];
  const char        ax = (char)('x' + dir);
  SMGrid            grid;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_find_phase(vol, phase, &label));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_transport_get_conductivities(o->solver, vol, label, cond));
  PetscCall(sm_transport_memory_estimate(o->solver, vol, cond, &bytes));
  PetscCall(sm_app_check_memory(sm_grid_comm(grid), bytes, "This transport solve"));
  PetscCall(PetscMemzero(&sc, sizeof(sc)));
  sc.comm     = sm_grid_comm(grid);
  sc.interval = o->checkpoint_interval;
  sc.last     = sm_sys_wtime();
  sc.stop_at  = o->test_stop_iteration;
  PetscCall(PetscSNPrintf(sc.path, sizeof(sc.path), "%s/solves/", o->dir));
  for (const char *u = unit; *u; u++) {
    char ch[2] = {*u == '/' ? '_' : *u, 0};
    PetscCall(PetscStrlcat(sc.path, ch, sizeof(sc.path)));
  }
  PetscCall(PetscStrlcat(sc.path, ".h5", sizeof(sc.path)));
  hooks.initial_guess = sm_solve_initial_guess;
  hooks.iteration     = sm_solve_iteration;
  hooks.ctx           = &sc;
  PetscCall(sm_transport_set_hooks(o->solver, &hooks));
  PetscCall(sm_transport_solve(o->solver, vol, cond, label, dir, NULL, &res));
  PetscCall(sm_transport_set_hooks(o->solver, NULL));
  *stopped = res.stopped;
  if (res.stopped) {
    PetscCall(PetscPrintf(sc.comm, "  %s stopped at iteration %d; its iterate is in %s\n", unit, (int)res.iterations, sc.path));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  { /* the unit is about to be recorded: its iterate is no longer needed */
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(sc.comm, &rank));
    if (!rank) (void)remove(sc.path);
  }
#define SM_PUT(name, value) \
  do { \
    PetscCall(PetscSNPrintf(key, sizeof(key), "transport.%s.%c.%s", phase, ax, name)); \
    PetscCall(sm_record_set(rec, key, (double)(value))); \
  } while (0)
  SM_PUT("M", res.M);
  SM_PUT("tau_eff", res.percolates ? res.tau_eff : NAN);
  SM_PUT("percolating_fraction", res.percolating_fraction);
  SM_PUT("removed_fraction", res.removed_fraction);
  SM_PUT("iterations", res.iterations);
  SM_PUT("flux_imbalance", res.flux_imbalance);
#undef SM_PUT
  *M = res.M;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ the study */
typedef struct {
  int    total, done_before, computed;
  double t0, t_computing;
} SMProgress;

/* -log_view stages of the units (nested in the command's stage) */
static PetscLogStage sm_stage_generate = -1, sm_stage_analyze = -1, sm_stage_transport = -1;

static PetscErrorCode sm_run_register_stages(void)
{
  PetscFunctionBeginUser;
  if (sm_stage_generate >= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogStageRegister("Unit generate", &sm_stage_generate));
  PetscCall(PetscLogStageRegister("Unit analyze", &sm_stage_analyze));
  PetscCall(PetscLogStageRegister("Unit transport", &sm_stage_transport));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_progress(MPI_Comm comm, SMProgress *pg, const char *what, double dt)
{
  char el[32], left[32];
  int  remaining = pg->total - pg->done_before - pg->computed;

  PetscFunctionBeginUser;
  sm_hms(sm_sys_wtime() - pg->t0, el, sizeof(el));
  if (pg->computed > 0 && remaining > 0) sm_hms(pg->t_computing / pg->computed * remaining, left, sizeof(left));
  else PetscCall(PetscStrncpy(left, remaining ? "?" : "0:00:00", sizeof(left)));
  PetscCall(PetscPrintf(comm, "  %-64s %7.2f s | unit %d/%d, elapsed %s, about %s left\n", what, dt,
                        pg->done_before + pg->computed, pg->total, el, left));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A stop signal on any rank stops every rank at the same unit boundary. */
/* Test hook (SM_TEST_KILL_BEFORE_UNIT=n, sm_sys_test_hook): rank 0 kills the job with SIGKILL after computing its n-th
   unit and before recording it, the worst moment for a checkpoint, deterministically. */
static PetscErrorCode sm_test_kill(MPI_Comm comm, const SMProgress *pg)
{
  PetscInt    n = -1;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCall(sm_sys_test_hook(comm, "SM_TEST_KILL_BEFORE_UNIT", &n, NULL));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (n >= 1 && pg->computed + 1 == n && !rank) {
    fflush(stdout);
    raise(SIGKILL);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_stop_requested(MPI_Comm comm, int *sig)
{
  int mine = (int)sm_stop_signal;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&mine, sig, 1, MPI_INT, MPI_MAX, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}


/* Units of task t: generate, analyze (unless -descriptors none), transport per phase and direction. */
/* The analyze unit of a task: surface areas (and interfaces) and the per-phase morphology asked for by -descriptors
   (volume fractions are recorded with the twin; two-point functions are curves, not study columns). */
static PetscBool sm_run_analyze_unit(const SMRunOptions *o)
{
  return o->morph.want[SM_DESC_SURFACE_AREA] || sm_morph_options_want_morphology(&o->morph);
}

static int sm_task_units(const SMRunOptions *o) { return 1 + (sm_run_analyze_unit(o) ? 1 : 0) + o->nphases_tr * o->ndirs; }

static PetscErrorCode sm_run_task(MPI_Comm comm, const SMRunOptions *o, SMGrid grid, SMStore st, int t, SMProgress *pg,
                                  int *stopped)
{
  char          unit[SM_UNIT_NAME_LEN], vpath[PETSC_MAX_PATH_LEN], what[320], vlabel[96] = "";
  SMModel       model = NULL;
  SMVolume      vol   = NULL;
  PetscBool     done;
  int           vi, ri, pending = 0;
  uint64_t      real;
  SMRecord      rec;

  PetscFunctionBeginUser;
  sm_task_split(o, t, &vi, &ri);
  real = o->real0 + (uint64_t)ri;
  if (o->param[0]) PetscCall(PetscSNPrintf(vlabel, sizeof(vlabel), "%s=%s, ", o->param, o->values[vi]));
  PetscCall(PetscSNPrintf(vpath, sizeof(vpath), "%s/volumes/t%04d.h5", o->dir, t));
  /* which units are left? */
  PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/%s", t, o->image[0] ? "load" : "generate"));
  PetscCall(sm_store_has(st, unit, &done));
  pending += !done;
  if (sm_run_analyze_unit(o)) {
    PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/analyze", t));
    PetscCall(sm_store_has(st, unit, &done));
    pending += !done;
  }
  for (int p = 0; p < o->nphases_tr; p++)
    for (int d = 0; d < o->ndirs; d++) {
      PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/transport/%s/%c", t, o->tphase[p], 'x' + o->dirs[d]));
      PetscCall(sm_store_has(st, unit, &done));
      pending += !done;
    }
  if (!pending) PetscFunctionReturn(PETSC_SUCCESS);

  if (o->param[0]) {
    char key[80];
    PetscCall(PetscSNPrintf(key, sizeof(key), "-%s", o->param));
    PetscCall(PetscOptionsSetValue(NULL, key, o->values[vi]));
  }
  PetscCall(sm_model_create_from_options(comm, &model));

  /* generate, or read back the twin a finished generate unit left */
  PetscCall(sm_stop_requested(comm, stopped));
  if (*stopped) goto finish;
  PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/%s", t, o->image[0] ? "load" : "generate"));
  PetscCall(sm_store_has(st, unit, &done));
  if (o->image[0]) { /* a study of an image: the image is the volume (read again on a restart) */
    PetscCall(sm_image_read(comm, o->image, &o->image_opts, &vol));
    if (!done) {
      SMGrid     vg;
      SMGridInfo g;
      int64_t    counts[SM_MAX_PHASES];
      int        np;
      const char *const *names;
      PetscCall(sm_volume_get_grid(vol, &vg));
      PetscCall(sm_grid_get_info(vg, &g));
      PetscCall(sm_record_create(&rec));
      PetscCall(sm_record_set(rec, "task.value_index", 0));
      PetscCall(sm_record_set(rec, "task.realization", 0));
      PetscCall(sm_morph_label_counts(vol, counts));
      PetscCall(sm_volume_get_phases(vol, &np, &names));
      for (int i = 0; i < np; i++) {
        char key[SM_RECORD_KEY_LEN];
        PetscCall(PetscSNPrintf(key, sizeof(key), "phases.%s.volume_fraction", names[i]));
        PetscCall(sm_record_set(rec, key, (double)counts[i] / (double)g.n_total));
      }
      PetscCall(sm_store_put(st, unit, rec));
      PetscCall(sm_record_destroy(&rec));
      pg->computed++;
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%s)", unit, o->image));
      PetscCall(sm_progress(comm, pg, what, 0.0));
    }
  } else if (done) {
    PetscBool exists = PETSC_FALSE;
    if (!access(vpath, R_OK)) exists = PETSC_TRUE;
    PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, comm));
    if (exists) { /* a damaged twin (truncated, altered, not `complete`) is drawn again, never used */
      SMImageOptions io;
      PetscErrorCode ierr;
      int            ok;
      PetscCall(sm_image_options_default(&io));
      io.format = SM_IMAGE_FORMAT_HDF5; /* the study's own twin file, whatever its name */
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = sm_image_read(comm, vpath, &io, &vol);
      PetscCall(PetscPopErrorHandler());
      ok = !ierr;
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
      if (!ok) {
        if (!ierr && vol) {
          SMGrid vgrid;
          PetscCall(sm_volume_get_grid(vol, &vgrid));
          PetscCall(sm_volume_destroy(&vol));
          PetscCall(sm_grid_destroy(&vgrid));
        }
        vol = NULL;
        PetscCall(PetscPrintf(comm, "  t%04d: the twin %s cannot be read (damaged or truncated); drawing it again (the "
                              "same seed gives the same twin)\n", t, vpath));
      }
    }
    if (!vol) {
      if (!exists)
        PetscCall(PetscPrintf(comm, "  t%04d: the twin %s is gone; drawing it again (the same seed gives the same twin)\n",
                              t, vpath));
      PetscCall(sm_model_generate(model, grid, o->seed, real, o->fft_flags, NULL, &vol));
    }
  } else {
    double     t1 = sm_sys_wtime(), bpv;
    SMH5Writer w  = NULL;
    int64_t    counts[SM_MAX_PHASES];
    SMGridInfo g;
    int        np;
    const char *const *names;
    PetscCall(sm_grid_get_info(grid, &g));
    PetscCall(sm_model_bytes_per_voxel(model, &bpv));
    PetscCall(sm_app_check_memory(comm, bpv * (double)g.n_total, "This twin"));
    PetscCall(PetscLogStagePush(sm_stage_generate));
    PetscCall(sm_model_generate(model, grid, o->seed, real, o->fft_flags, NULL, &vol));
    PetscCall(sm_h5_writer_open(comm, vpath, &w));
    PetscCall(sm_h5_writer_write_volume(w, vol));
    PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
    PetscCall(PetscLogStagePop());
    PetscCall(sm_record_create(&rec));
    PetscCall(sm_record_set(rec, "task.value_index", vi));
    PetscCall(sm_record_set(rec, "task.realization", (double)real));
    PetscCall(sm_record_set(rec, "task.seed_hi", (double)(o->seed >> 32)));
    PetscCall(sm_record_set(rec, "task.seed_lo", (double)(o->seed & 0xffffffffu)));
    PetscCall(sm_morph_label_counts(vol, counts));
    PetscCall(sm_volume_get_phases(vol, &np, &names));
    for (int i = 0; i < np; i++) {
      char key[SM_RECORD_KEY_LEN];
      PetscCall(PetscSNPrintf(key, sizeof(key), "phases.%s.volume_fraction", names[i]));
      PetscCall(sm_record_set(rec, key, (double)counts[i] / (double)g.n_total));
    }
    PetscCall(sm_test_kill(comm, pg));
    PetscCall(sm_store_put(st, unit, rec));
    PetscCall(sm_record_destroy(&rec));
    pg->computed++;
    pg->t_computing += sm_sys_wtime() - t1;
    PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d, index %llu)", unit, vlabel, ri + 1,
                            (int)o->realizations, (unsigned long long)real));
    PetscCall(sm_progress(comm, pg, what, sm_sys_wtime() - t1));
  }

  if (sm_run_analyze_unit(o)) {
    PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/analyze", t));
    PetscCall(sm_store_has(st, unit, &done));
    if (!done) {
      double t1 = sm_sys_wtime();
      PetscCall(sm_stop_requested(comm, stopped));
      if (*stopped) goto finish;
      if (sm_morph_options_want_morphology(&o->morph)) {
        double bytes;
        PetscCall(sm_morph_descriptors_memory_estimate(vol, &o->morph, &bytes));
        PetscCall(sm_app_check_memory(comm, bytes, "The morphology descriptors of this twin"));
      }
      PetscCall(sm_record_create(&rec));
      PetscCall(PetscLogStagePush(sm_stage_analyze));
      PetscCall(sm_unit_analyze(vol, o, rec));
      PetscCall(PetscLogStagePop());
      PetscCall(sm_test_kill(comm, pg));
      PetscCall(sm_store_put(st, unit, rec));
      PetscCall(sm_record_destroy(&rec));
      pg->computed++;
      pg->t_computing += sm_sys_wtime() - t1;
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d)", unit, vlabel, ri + 1, (int)o->realizations));
      PetscCall(sm_progress(comm, pg, what, sm_sys_wtime() - t1));
    }
  }
  for (int p = 0; p < o->nphases_tr; p++)
    for (int d = 0; d < o->ndirs; d++) {
      double M = NAN, t1 = sm_sys_wtime();
      PetscCall(PetscSNPrintf(unit, sizeof(unit), "t%04d/transport/%s/%c", t, o->tphase[p], 'x' + o->dirs[d]));
      PetscCall(sm_store_has(st, unit, &done));
      if (done) continue;
      PetscCall(sm_stop_requested(comm, stopped));
      if (*stopped) goto finish;
      PetscCall(sm_record_create(&rec));
      PetscCall(PetscLogStagePush(sm_stage_transport));
      {
        PetscBool solve_stopped = PETSC_FALSE;
        PetscCall(sm_unit_transport(vol, o, o->tphase[p], o->dirs[d], unit, rec, &M, &solve_stopped));
        if (solve_stopped) {
          PetscCall(PetscLogStagePop());
          PetscCall(sm_record_destroy(&rec));
          PetscCall(sm_stop_requested(comm, stopped));
          goto finish;
        }
      }
      PetscCall(PetscLogStagePop());
      PetscCall(sm_test_kill(comm, pg));
      PetscCall(sm_store_put(st, unit, rec));
      PetscCall(sm_record_destroy(&rec));
      pg->computed++;
      pg->t_computing += sm_sys_wtime() - t1;
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d): M = %.4g", unit, vlabel, ri + 1,
                              (int)o->realizations, M));
      PetscCall(sm_progress(comm, pg, what, sm_sys_wtime() - t1));
    }
  /* the task is done: its twin is no longer needed */
  if (!o->keep_volumes && !o->image[0]) {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!rank) {
      char xmf[PETSC_MAX_PATH_LEN];
      (void)remove(vpath);
      if (!sm_path_replace_ext(vpath, ".xmf", xmf, sizeof(xmf))) (void)remove(xmf);
    }
  }
finish:
  if (vol) {
    SMGrid vgrid;
    PetscCall(sm_volume_get_grid(vol, &vgrid));
    PetscCall(sm_volume_destroy(&vol));
    if (vgrid != grid) PetscCall(sm_grid_destroy(&vgrid)); /* a volume read back brought its own grid */
  }
  PetscCall(sm_model_destroy(&model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ the table */
/* Parse "key=value; " items of a study description. */
static PetscErrorCode sm_study_item(const char *study, const char *key, char *value, size_t len)
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
static PetscErrorCode sm_build_table(MPI_Comm comm, const char *command, const char *dir, const char *study, int nstores,
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
    PetscCall(sm_parse_values(comm, values, &tmp));
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

/* ------------------------------------------------------------------ commands */
static PetscErrorCode sm_run_study(MPI_Comm comm, const char *command)
{
  SMRunOptions     o;
  SMModel          model0 = NULL;
  SMGrid           grid   = NULL;
  SMStore          st     = NULL;
  SMStudyLock      lock = NULL, task_lock = NULL;
  SMProgress       pg;
  char             path[PETSC_MAX_PATH_LEN], lpath[PETSC_MAX_PATH_LEN];
  int              stopped = 0, t0, t1;
  struct sigaction sa, old_term, old_usr1;

  PetscFunctionBeginUser;
  PetscCall(sm_run_options(comm, command, &o, &model0, &grid));
  if (sm_app_help()) {
    PetscCall(PetscFree(o.values));
    PetscCall(sm_transport_destroy(&o.solver));
    PetscCall(sm_model_destroy(&model0));
    PetscCall(sm_grid_destroy(&grid));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(sm_app_check_unused_options(comm, command));
  if (o.list_tasks) {
    for (int t = 0; t < o.ntasks; t++) {
      int vi, ri;
      sm_task_split(&o, t, &vi, &ri);
      PetscCall(PetscPrintf(comm, "task %d: %s=%s realization %llu\n", t, o.param, o.values[vi],
                            (unsigned long long)(o.real0 + (uint64_t)ri)));
    }
    PetscCall(PetscPrintf(comm, "%d tasks (SLURM: --array=0-%d)\n", o.ntasks, o.ntasks - 1));
    PetscCall(PetscFree(o.values));
    PetscCall(sm_transport_destroy(&o.solver));
    PetscCall(sm_model_destroy(&model0));
    PetscCall(sm_grid_destroy(&grid));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(sm_mkdir(comm, o.dir));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/volumes", o.dir));
  PetscCall(sm_mkdir(comm, path));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/solves", o.dir));
  PetscCall(sm_mkdir(comm, path));
  if (o.task_index >= 0) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks", o.dir));
    PetscCall(sm_mkdir(comm, path));
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks/task_%04d.h5", o.dir, (int)o.task_index));
  } else PetscCall(PetscSNPrintf(path, sizeof(path), "%s/checkpoint.h5", o.dir));
  /* one writer per study: a whole study locks the directory; a task of an array shares that lock with the other
     tasks and locks its own task */
  PetscCall(PetscSNPrintf(lpath, sizeof(lpath), "%s/.lock", o.dir));
  PetscCall(sm_study_lock(comm, lpath, o.task_index < 0 ? PETSC_TRUE : PETSC_FALSE, &lock));
  if (o.task_index >= 0) {
    PetscCall(PetscSNPrintf(lpath, sizeof(lpath), "%s/tasks/task_%04d.lock", o.dir, (int)o.task_index));
    PetscCall(sm_study_lock(comm, lpath, PETSC_TRUE, &task_lock));
  }
  PetscCall(sm_store_open(comm, path, o.study, o.restart, &st));
  PetscCall(sm_run_register_stages());

  t0 = o.task_index >= 0 ? (int)o.task_index : 0;
  t1 = o.task_index >= 0 ? (int)o.task_index + 1 : o.ntasks;
  PetscCall(PetscMemzero(&pg, sizeof(pg)));
  pg.t0    = sm_sys_wtime();
  pg.total = (t1 - t0) * sm_task_units(&o);
  for (int u = 0; u < sm_store_size(st); u++) pg.done_before += sm_store_unit(st, u)[0] == 't';
  {
    SMGridInfo g;
    PetscCall(sm_grid_get_info(grid, &g));
    if (o.image[0])
      PetscCall(PetscPrintf(comm, "stochmorph %s: the image %s, %d units%s; checkpoint %s\n", command, o.image, pg.total,
                            pg.done_before ? " (resuming)" : "", path));
    else
      PetscCall(PetscPrintf(comm,
                            "stochmorph %s: %d task%s (%d value%s x %d realisation%s), grid %lld x %lld x %lld, %d units%s; "
                            "checkpoint %s\n",
                            command, t1 - t0, t1 - t0 > 1 ? "s" : "", o.nvalues, o.nvalues > 1 ? "s" : "",
                            (int)o.realizations, o.realizations > 1 ? "s" : "", (long long)g.n[0], (long long)g.n[1],
                            (long long)g.n[2], pg.total, pg.done_before ? " (resuming)" : "", path));
    if (pg.done_before) PetscCall(PetscPrintf(comm, "  %d finished units found in the checkpoint: skipped\n", pg.done_before));
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = sm_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGUSR1, &sa, &old_usr1);
  for (int t = t0; t < t1 && !stopped; t++) PetscCall(sm_run_task(comm, &o, grid, st, t, &pg, &stopped));
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGUSR1, &old_usr1, NULL);

  if (stopped) {
    PetscCall(PetscPrintf(comm,
                          "stochmorph %s: stopped by signal %d; %d finished units are in %s. Resume with the same options "
                          "and -restart (exit status %d)\n",
                          command, stopped, pg.done_before + pg.computed, path, SM_EXIT_STOPPED));
    sm_app_exit_status = SM_EXIT_STOPPED;
  } else {
    PetscCall(sm_store_mark_complete(st));
    if (o.task_index < 0) {
      PetscCall(sm_build_table(comm, command, o.dir, o.study, 1, &st));
      PetscCall(PetscPrintf(comm, "stochmorph %s: done in %.1f s; wrote %s/study.json and %s/study.csv\n", command,
                            sm_sys_wtime() - pg.t0, o.dir, o.dir));
    } else
      PetscCall(PetscPrintf(comm, "stochmorph %s: task %d done in %.1f s (%s); merge the tasks with `stochmorph collect -o %s`\n",
                            command, (int)o.task_index, sm_sys_wtime() - pg.t0, path, o.dir));
  }
  PetscCall(sm_store_close(&st));
  PetscCall(sm_study_unlock(&task_lock));
  PetscCall(sm_study_unlock(&lock));
  PetscCall(PetscFree(o.values));
  PetscCall(sm_transport_destroy(&o.solver));
  PetscCall(sm_model_destroy(&model0));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_run(MPI_Comm comm) { return sm_run_study(comm, "run"); }
PetscErrorCode sm_cmd_sweep(MPI_Comm comm) { return sm_run_study(comm, "sweep"); }

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
