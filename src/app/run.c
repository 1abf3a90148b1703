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
  sm_run_task_split(o, t, &vi, &ri);
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

  PetscCall(sm_model_create(comm, &model));
  PetscCall(sm_model_set_from_options(model));
  if (o->param[0]) PetscCall(sm_model_set_param(model, o->param, strtod(o->values[vi], NULL)));
  PetscCall(sm_model_set_up(model));

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
