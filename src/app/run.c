/* stochmorph run / sweep: studies over many twins, with HDF5 checkpoints and restart. The options are read in
 * run_options.c, the units after the twin run in run_units.c, and the table is built in collect.c.
 *
 * A study is a list of tasks; a task is one realisation of the model at one value of the swept parameter (a run has
 * no swept parameter). Each task is a chain of units: generate (the twin, kept in DIR/volumes until the task is done),
 * analyze (the descriptors), and one transport solve per phase and direction. A finished unit's numbers go into the
 * checkpoint at once (include/stochmorph/study.h); -restart skips every finished unit. SIGTERM and SIGUSR1 (what SLURM
 * sends before the time limit) stop the run at the next unit boundary with exit status SM_EXIT_STOPPED; everything
 * finished is in the checkpoint. The study table (DIR/study.json, DIR/study.csv) is written from the checkpoint once
 * every task has finished, so the same units give the same table however the work was split: one run, a run killed and
 * restarted, or a SLURM array of single tasks (-task_index) merged by `stochmorph collect`. */
#include "study_app.h"

volatile sig_atomic_t sm_stop_signal = 0;
static void sm_on_signal(int sig) { sm_stop_signal = sig; }

/* ------------------------------------------------------------------ the study */
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
  sm_run_hms(sm_sys_wtime() - pg->t0, el, sizeof(el));
  if (pg->computed > 0 && remaining > 0) sm_run_hms(pg->t_computing / pg->computed * remaining, left, sizeof(left));
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

PetscErrorCode sm_stop_requested(MPI_Comm comm, int *sig)
{
  int mine = (int)sm_stop_signal;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&mine, sig, 1, MPI_INT, MPI_MAX, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}


/* ------------------------------------------------------------------ the units of a task */
/* The analyze unit of a task: surface areas (and interfaces) and the per-phase morphology asked for by -descriptors
   (volume fractions are recorded with the twin; two-point functions are curves, not study columns). */
static PetscBool sm_run_analyze_unit(const SMRunOptions *o)
{
  return o->morph.want[SM_DESC_SURFACE_AREA] || sm_morph_options_want_morphology(&o->morph);
}

static int sm_task_units(const SMRunOptions *o) { return 1 + (sm_run_analyze_unit(o) ? 1 : 0) + o->nphases_tr * o->ndirs; }

/* The kinds of unit, in the order a task runs them; one loop (sm_run_task) does the bookkeeping of all: skip what the
   checkpoint has, stop on a signal, time, record, report. */
typedef enum { SM_UNIT_TWIN, SM_UNIT_ANALYZE, SM_UNIT_TRANSPORT } SMUnitKind;

typedef struct {
  SMUnitKind kind;
  int        phase, dir; /* transport */
  char       name[SM_UNIT_NAME_LEN];
  PetscBool  done; /* in the checkpoint */
} SMUnit;

/* The units of task t: its twin (generate, or load for a study of an image), analyze unless -descriptors asks for
   nothing it records, and one transport solve per phase and direction. */
static PetscErrorCode sm_task_unit_list(const SMRunOptions *o, SMStore st, int t, int *n, SMUnit units[])
{
  PetscFunctionBeginUser;
  *n = 0;
  units[*n] = (SMUnit){.kind = SM_UNIT_TWIN};
  PetscCall(PetscSNPrintf(units[(*n)++].name, SM_UNIT_NAME_LEN, "t%04d/%s", t, o->image[0] ? "load" : "generate"));
  if (sm_run_analyze_unit(o)) {
    units[*n] = (SMUnit){.kind = SM_UNIT_ANALYZE};
    PetscCall(PetscSNPrintf(units[(*n)++].name, SM_UNIT_NAME_LEN, "t%04d/analyze", t));
  }
  for (int p = 0; p < o->nphases_tr; p++)
    for (int d = 0; d < o->ndirs; d++) {
      units[*n] = (SMUnit){.kind = SM_UNIT_TRANSPORT, .phase = p, .dir = o->dirs[d]};
      PetscCall(PetscSNPrintf(units[(*n)++].name, SM_UNIT_NAME_LEN, "t%04d/transport/%s/%c", t, o->tphase[p], 'x' + o->dirs[d]));
    }
  for (int i = 0; i < *n; i++) PetscCall(sm_store_has(st, units[i].name, &units[i].done));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The volume fraction of every phase of vol into rec. */
static PetscErrorCode sm_record_fractions(SMVolume vol, SMRecord rec)
{
  SMGrid             vg;
  SMGridInfo         g;
  int64_t            counts[SM_MAX_PHASES];
  int                np;
  const char *const *names;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &vg));
  PetscCall(sm_grid_get_info(vg, &g));
  PetscCall(sm_morph_label_counts(vol, counts));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  for (int i = 0; i < np; i++) {
    char key[SM_RECORD_KEY_LEN];
    PetscCall(PetscSNPrintf(key, sizeof(key), "phases.%s.volume_fraction", names[i]));
    PetscCall(sm_record_set(rec, key, (double)counts[i] / (double)g.n_total));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The twin of task t into *vol. Not done: draw it (or load the image), write it to vpath and fill rec. Done: read back
   the file the unit left (a damaged or missing one is drawn again: the same seed gives the same twin). */
static PetscErrorCode sm_unit_twin(MPI_Comm comm, const SMRunOptions *o, SMModel model, SMGrid grid, int t, int vi,
                                   uint64_t real, const char *vpath, PetscBool done, SMRecord rec, SMVolume *vol)
{
  PetscFunctionBeginUser;
  *vol = NULL;
  if (o->image[0]) { /* a study of an image: the image is the volume (read again on a restart) */
    PetscCall(sm_image_read(comm, o->image, &o->image_opts, vol));
    if (!done) {
      PetscCall(sm_record_set(rec, "task.value_index", 0));
      PetscCall(sm_record_set(rec, "task.realization", 0));
      PetscCall(sm_record_fractions(*vol, rec));
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
      ierr = sm_image_read(comm, vpath, &io, vol);
      PetscCall(PetscPopErrorHandler());
      ok = !ierr;
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
      if (!ok) {
        if (!ierr && *vol) {
          SMGrid vgrid;
          PetscCall(sm_volume_get_grid(*vol, &vgrid));
          PetscCall(sm_volume_destroy(vol));
          PetscCall(sm_grid_destroy(&vgrid));
        }
        *vol = NULL;
        PetscCall(PetscPrintf(comm, "  t%04d: the twin %s cannot be read (damaged or truncated); drawing it again (the "
                              "same seed gives the same twin)\n", t, vpath));
      }
    }
    if (!*vol) {
      if (!exists)
        PetscCall(PetscPrintf(comm, "  t%04d: the twin %s is gone; drawing it again (the same seed gives the same twin)\n",
                              t, vpath));
      PetscCall(sm_model_generate(model, grid, o->seed, real, o->fft_flags, NULL, vol));
    }
  } else {
    double     bpv;
    SMH5Writer w = NULL;
    SMGridInfo g;
    PetscCall(sm_grid_get_info(grid, &g));
    PetscCall(sm_model_bytes_per_voxel(model, &bpv));
    PetscCall(sm_app_check_memory(comm, bpv * (double)g.n_total, "This twin"));
    PetscCall(sm_model_generate(model, grid, o->seed, real, o->fft_flags, NULL, vol));
    PetscCall(sm_h5_writer_open(comm, vpath, &w));
    PetscCall(sm_h5_writer_write_volume(w, *vol));
    PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
    PetscCall(sm_record_set(rec, "task.value_index", vi));
    PetscCall(sm_record_set(rec, "task.realization", (double)real));
    PetscCall(sm_record_set(rec, "task.seed_hi", (double)(o->seed >> 32)));
    PetscCall(sm_record_set(rec, "task.seed_lo", (double)(o->seed & 0xffffffffu)));
    PetscCall(sm_record_fractions(*vol, rec));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_run_task(MPI_Comm comm, const SMRunOptions *o, SMGrid grid, SMStore st, int t, SMProgress *pg,
                                  int *stopped)
{
  char     vpath[PETSC_MAX_PATH_LEN], what[320], vlabel[96] = "";
  SMModel  model = NULL;
  SMVolume vol   = NULL;
  SMUnit   units[2 + SM_MAX_PHASES * 3];
  int      vi, ri, n, pending = 0;
  uint64_t real;

  PetscFunctionBeginUser;
  sm_run_task_split(o, t, &vi, &ri);
  real = o->real0 + (uint64_t)ri;
  if (o->param[0]) PetscCall(PetscSNPrintf(vlabel, sizeof(vlabel), "%s=%s, ", o->param, o->values[vi]));
  PetscCall(PetscSNPrintf(vpath, sizeof(vpath), "%s/volumes/t%04d.h5", o->dir, t));
  PetscCall(sm_task_unit_list(o, st, t, &n, units));
  for (int i = 0; i < n; i++) pending += !units[i].done;
  if (!pending) PetscFunctionReturn(PETSC_SUCCESS);

  PetscCall(sm_model_create(comm, &model));
  PetscCall(sm_model_set_from_options(model));
  if (o->param[0]) PetscCall(sm_model_set_param(model, o->param, strtod(o->values[vi], NULL)));
  PetscCall(sm_model_set_up(model));

  for (int i = 0; i < n; i++) {
    const SMUnit *u  = &units[i];
    double        t1 = sm_sys_wtime(), M = NAN;
    SMRecord      rec = NULL;
    PetscBool     solve_stopped = PETSC_FALSE;
    if (u->done && u->kind != SM_UNIT_TWIN) continue; /* the twin is needed by the units after it */
    PetscCall(sm_stop_requested(comm, stopped));
    if (*stopped) break;
    if (!u->done) PetscCall(sm_record_create(&rec));
    switch (u->kind) {
    case SM_UNIT_TWIN:
      if (!o->image[0]) PetscCall(PetscLogStagePush(sm_stage_generate));
      PetscCall(sm_unit_twin(comm, o, model, grid, t, vi, real, vpath, u->done, rec, &vol));
      if (!o->image[0]) PetscCall(PetscLogStagePop());
      if (o->image[0]) PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%s)", u->name, o->image));
      else
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d, index %llu)", u->name, vlabel, ri + 1,
                                (int)o->realizations, (unsigned long long)real));
      break;
    case SM_UNIT_ANALYZE:
      if (sm_morph_options_want_morphology(&o->morph)) {
        double bytes;
        PetscCall(sm_morph_descriptors_memory_estimate(vol, &o->morph, &bytes));
        PetscCall(sm_app_check_memory(comm, bytes, "The morphology descriptors of this twin"));
      }
      PetscCall(PetscLogStagePush(sm_stage_analyze));
      PetscCall(sm_unit_analyze(vol, o, rec));
      PetscCall(PetscLogStagePop());
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d)", u->name, vlabel, ri + 1, (int)o->realizations));
      break;
    case SM_UNIT_TRANSPORT:
      PetscCall(PetscLogStagePush(sm_stage_transport));
      PetscCall(sm_unit_transport(vol, o, o->tphase[u->phase], u->dir, u->name, rec, &M, &solve_stopped));
      PetscCall(PetscLogStagePop());
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s (%srealisation %d/%d): M = %.4g", u->name, vlabel, ri + 1,
                              (int)o->realizations, M));
      break;
    }
    if (solve_stopped) { /* a signal inside the solve: its iterate is saved, the unit is not recorded */
      PetscCall(sm_record_destroy(&rec));
      PetscCall(sm_stop_requested(comm, stopped));
      break;
    }
    if (u->done) continue; /* the twin, read back */
    PetscCall(sm_test_kill(comm, pg));
    PetscCall(sm_store_put(st, u->name, rec));
    PetscCall(sm_record_destroy(&rec));
    pg->computed++;
    pg->t_computing += sm_sys_wtime() - t1;
    PetscCall(sm_progress(comm, pg, what, o->image[0] && u->kind == SM_UNIT_TWIN ? 0.0 : sm_sys_wtime() - t1));
  }
  /* the task is done: its twin is no longer needed */
  if (!*stopped && !o->keep_volumes && !o->image[0]) {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!rank) {
      char xmf[PETSC_MAX_PATH_LEN];
      (void)remove(vpath);
      if (!sm_path_replace_ext(vpath, ".xmf", xmf, sizeof(xmf))) (void)remove(xmf);
    }
  }
  if (vol) {
    SMGrid vgrid;
    PetscCall(sm_volume_get_grid(vol, &vgrid));
    PetscCall(sm_volume_destroy(&vol));
    if (vgrid != grid) PetscCall(sm_grid_destroy(&vgrid)); /* a volume read back brought its own grid */
  }
  PetscCall(sm_model_destroy(&model));
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
      sm_run_task_split(&o, t, &vi, &ri);
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
  if (o.image[0]) { /* an image that cannot be read (no such dataset, NaN values, ...) is refused before the study
                        directory exists; it is read again by its unit */
    SMVolume probe = NULL;
    PetscCall(sm_image_read(comm, o.image, &o.image_opts, &probe));
    PetscCall(sm_volume_destroy(&probe));
  }
  PetscCall(sm_run_mkdir(comm, o.dir));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/volumes", o.dir));
  PetscCall(sm_run_mkdir(comm, path));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/solves", o.dir));
  PetscCall(sm_run_mkdir(comm, path));
  if (o.task_index >= 0) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/tasks", o.dir));
    PetscCall(sm_run_mkdir(comm, path));
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
  PetscCall(sm_store_open(comm, path, &o.spec, o.restart, &st));
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
      PetscCall(sm_build_table(comm, command, o.dir, &o.spec, 1, &st));
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
