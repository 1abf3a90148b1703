/* The units of a study task after the twin: analyze (the descriptors) and one transport solve per phase and
 * direction, whose iterate is checkpointed so a stopped solve resumes where it was. */
#include "study_app.h"

/* ------------------------------------------------------------------ units */
PetscErrorCode sm_unit_analyze(SMVolume vol, const SMRunOptions *o, SMRecord rec)
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
  if (o->morph.periodic_set) periodic = o->morph.periodic; /* -analyze_periodic, as in analyze */
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
  if (!rank) ok = sm_sys_commit(partial, sc->path) == 0;
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

PetscErrorCode sm_unit_transport(SMVolume vol, const SMRunOptions *o, const char *phase, int dir, const char *unit,
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

