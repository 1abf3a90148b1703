/* The transport solver object: every setting that changes an M-factor, read by one set_from_options for every command
 * (transport, run, sweep), and the options database of its KSP.
 *
 * Why an own options database: the solver's defaults (BoomerAMG's coarsening and interpolation, transport.c) are
 * options of PCHYPRE, which has no setter for them. Writing them into the global database would change every other
 * KSP of the process and hide them from the user's view of what was given; instead the object keeps a database of its
 * own for its KSP: the defaults first, then the user's -<prefix>ksp_* / -<prefix>pc_* / -<prefix>mg_* options, taken
 * from the global database once, in sm_transport_set_from_options (as PETSc objects read their options there). */
#include "transport_impl.h"
#include <stochmorph/volume.h>
#include <math.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>

const char *const sm_transport_pc_matrix_names[] = {"edge", "stiffness", NULL};

/* BoomerAMG for 3D diffusion: PMIS coarsening, extended+i interpolation (the -cc variant) truncated to 4 entries per
   row, aggressive coarsening on the first level (measurements in transport.c), and a strong threshold per method
   (third column: the method it is for, "" for both): 0.5 (the usual 3D choice) for the FEM edge Laplacian, 0.25 for the
   FV 7-point matrix, where it took 9 instead of 11 CG iterations on the 200^3 twin for the same memory and about the
   same setup time (bench/RESULTS.md, issue 14).
   Smoothing: one forward hybrid Gauss-Seidel sweep on the way down and one backward sweep on the way up, in the natural
   order of the rows (no C/F ordering), instead of PCHYPRE's symmetric sweep (forward and backward) in C/F order on both
   ways: half the sweeps per V-cycle, and the cycle stays symmetric (the backward sweep is the forward one's adjoint,
   also across ranks, where both treat off-rank values as Jacobi does), as CG and the M rule's Ritz estimate need.
   Measured (callgrind, 96^3 twin, solid, z, 1 rank): FEM 8.43e9 -> 7.36e9 instructions for 10 -> 11 iterations, FV
   6.23e9 -> 5.43e9 for 8 -> 9; at 200^3 58 -> 64 iterations for the six FEM solves of the main job (2 ranks), 9 -> 9
   for FV (bench/RESULTS.md, issue 14). */
static const char *const sm_transport_solver_defaults[][3] = {
    {"pc_hypre_boomeramg_coarsen_type", "PMIS", ""},
    {"pc_hypre_boomeramg_interp_type", "ext+i-cc", ""},
    {"pc_hypre_boomeramg_P_max", "4", ""},
    {"pc_hypre_boomeramg_strong_threshold", "0.5", "fem"},
    {"pc_hypre_boomeramg_strong_threshold", "0.25", "fv"},
    {"pc_hypre_boomeramg_agg_nl", "1", ""},
    {"pc_hypre_boomeramg_relax_type_down", "SOR/Jacobi", ""},
    {"pc_hypre_boomeramg_relax_type_up", "backward-SOR/Jacobi", ""},
    {"pc_hypre_boomeramg_no_CF", "true", ""}};

PetscErrorCode sm_transport_create(MPI_Comm comm, SMTransport *t)
{
  SMTransport s;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&s));
  s->comm      = comm;
  s->method    = SM_TRANSPORT_FEM;
  s->pc_matrix = SM_TRANSPORT_PC_EDGE;
  s->ndirs     = 3;
  s->m_rtol    = SM_TRANSPORT_M_RTOL_DEFAULT;
  s->matfree   = PETSC_TRUE;
  for (int d = 0; d < 3; d++) s->dirs[d] = d;
  PetscCall(PetscStrncpy(s->prefix, "transport_", sizeof(s->prefix)));
  *t = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_destroy(SMTransport *t)
{
  PetscFunctionBeginUser;
  if (!t || !*t) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*t)->solver_options));
  PetscCall(PetscOptionsDestroy(&(*t)->options));
  PetscCall(PetscFree(*t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_method(SMTransport t, SMTransportMethod method)
{
  PetscFunctionBeginUser;
  PetscCheck(method == SM_TRANSPORT_FEM || method == SM_TRANSPORT_FV, t->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Unknown transport method %d; use SM_TRANSPORT_FEM or SM_TRANSPORT_FV", (int)method);
  t->method = method;
  t->setup  = PETSC_FALSE; /* the solver defaults depend on the method */
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_method(SMTransport t, SMTransportMethod *method)
{
  PetscFunctionBeginUser;
  *method = t->method;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_pc_matrix(SMTransport t, SMTransportPCMatrix pc_matrix)
{
  PetscFunctionBeginUser;
  PetscCheck(pc_matrix == SM_TRANSPORT_PC_EDGE || pc_matrix == SM_TRANSPORT_PC_STIFFNESS, t->comm,
             PETSC_ERR_ARG_OUTOFRANGE, "Unknown preconditioner matrix %d", (int)pc_matrix);
  t->pc_matrix = pc_matrix;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_pc_matrix(SMTransport t, SMTransportPCMatrix *pc_matrix)
{
  PetscFunctionBeginUser;
  *pc_matrix = t->pc_matrix;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_m_rtol(SMTransport t, double m_rtol)
{
  PetscFunctionBeginUser;
  PetscCheck(isfinite(m_rtol) && m_rtol >= 0 && m_rtol < 1, t->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-%sm_rtol: the relative accuracy of M is a number in [0, 1) (0: stop on the residual only), got %g", t->prefix,
             m_rtol);
  t->m_rtol = m_rtol;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_m_rtol(SMTransport t, double *m_rtol)
{
  PetscFunctionBeginUser;
  *m_rtol = t->m_rtol;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_directions(SMTransport t, int n, const int dirs[])
{
  PetscFunctionBeginUser;
  PetscCheck(n >= 1 && n <= 3, t->comm, PETSC_ERR_ARG_OUTOFRANGE, "Between one and three transport directions (got %d)", n);
  for (int i = 0; i < n; i++) {
    PetscCheck(dirs[i] >= 0 && dirs[i] < 3, t->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "A transport direction is 0 (x), 1 (y) or 2 (z), got %d", dirs[i]);
    for (int j = 0; j < i; j++)
      PetscCheck(dirs[j] != dirs[i], t->comm, PETSC_ERR_ARG_WRONG, "-%sdirection: %s is listed twice", t->prefix,
                 sm_transport_direction_names[dirs[i]]);
    t->dirs[i] = dirs[i];
  }
  t->ndirs = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_directions(SMTransport t, int *n, const int **dirs)
{
  PetscFunctionBeginUser;
  if (n) *n = t->ndirs;
  if (dirs) *dirs = t->dirs;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_conductivities(SMTransport t, int n, const char *const names[], const double values[])
{
  PetscFunctionBeginUser;
  PetscCheck(n >= 0 && n <= SM_MAX_PHASES, t->comm, PETSC_ERR_ARG_OUTOFRANGE, "-%sconductivities: at most %d phases",
             t->prefix, SM_MAX_PHASES);
  for (int i = 0; i < n; i++) {
    PetscCheck(isfinite(values[i]) && values[i] >= 0, t->comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-%sconductivities: the conductivity of %s must be a number >= 0 (got %g)", t->prefix, names[i], values[i]);
    PetscCheck(strlen(names[i]) > 0 && strlen(names[i]) < SM_NAME_LEN, t->comm, PETSC_ERR_ARG_WRONG,
               "-%sconductivities: a phase name has 1 to %d characters", t->prefix, SM_NAME_LEN - 1);
    for (int j = 0; j < i; j++)
      PetscCheck(strcmp(names[i], names[j]), t->comm, PETSC_ERR_ARG_WRONG, "-%sconductivities: %s is listed twice",
                 t->prefix, names[i]);
    PetscCall(PetscStrncpy(t->cond_names[i], names[i], SM_NAME_LEN));
    t->cond_values[i] = values[i];
  }
  t->ncond = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_conductivities(SMTransport t, SMVolume vol, int phase_label, double conductivity[])
{
  int                np;
  const char *const *names;
  char               list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCheck(phase_label >= 0 && phase_label < np, t->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Phase label %d out of range: the volume has %d phases", phase_label, np);
  for (int l = 0; l < np; l++) {
    conductivity[l] = l == phase_label ? 1.0 : 0.0;
    PetscCall(PetscStrlcat(list, l ? ", " : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, names[l], sizeof(list)));
  }
  for (int i = 0; i < t->ncond; i++) {
    int found = -1;
    for (int l = 0; l < np; l++)
      if (!strcmp(names[l], t->cond_names[i])) found = l;
    PetscCheck(found >= 0, t->comm, PETSC_ERR_ARG_WRONG,
               "-%sconductivities: unknown phase '%s'; this volume has phases: %s", t->prefix, t->cond_names[i], list);
    conductivity[found] = t->cond_values[i];
  }
  PetscCheck(conductivity[phase_label] > 0, t->comm, PETSC_ERR_ARG_WRONG,
             "-%sconductivities: the reported phase %s needs a positive conductivity (M = D_eff / D divides by it)",
             t->prefix, names[phase_label]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_hooks(SMTransport t, const SMTransportHooks *hooks)
{
  PetscFunctionBeginUser;
  t->has_hooks = hooks ? PETSC_TRUE : PETSC_FALSE;
  if (hooks) t->hooks = *hooks;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_options_prefix(SMTransport t, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscCheck(!prefix || strlen(prefix) < sizeof(t->prefix), t->comm, PETSC_ERR_ARG_WRONG, "Options prefix too long");
  PetscCheck(!prefix || prefix[0] != '-', t->comm, PETSC_ERR_ARG_WRONG, "An options prefix does not start with a dash");
  PetscCall(PetscStrncpy(t->prefix, prefix ? prefix : "", sizeof(t->prefix)));
  t->setup = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A token of PetscOptionsGetAll that names a key: a dash and a letter (values such as -1e-3 are not keys). */
static PetscBool sm_is_key(const char *s) { return s[0] == '-' && ((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z')); }

/* Take the user's solver options (-<prefix>ksp_*, -<prefix>pc_*, -<prefix>mg_*) out of the global database as text,
   marking them used there (their use is in the object's own database). */
static PetscErrorCode sm_transport_take_solver_options(SMTransport t)
{
  const char *heads[] = {"ksp_", "pc_", "mg_"};
  char       *all = NULL, **args = NULL, *text = NULL;
  int         argc = 0;
  size_t      len  = 1, used = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscFree(t->solver_options));
  PetscCall(PetscOptionsGetAll(NULL, &all));
  PetscCall(PetscStrToArray(all, ' ', &argc, &args));
  for (int i = 0; i < argc; i++) len += strlen(args[i]) + 1;
  PetscCall(PetscCalloc1(len, &text));
  for (int i = 0; i < argc; i++) {
    const size_t np = strlen(t->prefix);
    PetscBool    mine = PETSC_FALSE, has;
    if (!sm_is_key(args[i]) || strncmp(args[i] + 1, t->prefix, np)) continue;
    for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
      if (!strncmp(args[i] + 1 + np, heads[h], strlen(heads[h]))) mine = PETSC_TRUE;
    if (!mine) continue;
    PetscCall(PetscOptionsHasName(NULL, NULL, args[i], &has)); /* used: the object's KSP reads it */
    used += (size_t)snprintf(text + used, len - used, "%s%s", used ? " " : "", args[i]);
    if (i + 1 < argc && !sm_is_key(args[i + 1])) used += (size_t)snprintf(text + used, len - used, " %s", args[++i]);
  }
  PetscCall(PetscStrToArrayDestroy(argc, args));
  PetscCall(PetscFree(all));
  t->solver_options = text;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_from_options(SMTransport t)
{
  char      method[16], pcm[16], *dirs[4], *cond[SM_MAX_PHASES + 1];
  PetscInt  ndirs = 4, ncond = SM_MAX_PHASES + 1;
  PetscBool set_dirs, set_cond, old;
  PetscReal m_rtol = t->m_rtol;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(method, sm_transport_method_names[t->method], sizeof(method)));
  PetscCall(PetscStrncpy(pcm, sm_transport_pc_matrix_names[t->pc_matrix], sizeof(pcm)));
  PetscOptionsBegin(t->comm, t->prefix, "Transport solver (SPEC 6); its KSP takes the -ksp_* / -pc_* / -mg_* options "
                    "with the same prefix (defaults: CG, hypre BoomerAMG, stop on -m_rtol or a natural residual 1e-8)", "SMTransport");
  PetscCall(PetscOptionsString("-method", "fem (trilinear hexahedra, nodal reactions; 26-connected) or fv (cell-centred "
                               "7-point, harmonic face means; 6-connected, as TauFactor)", "sm_transport_set_method", method,
                               method, sizeof(method), NULL));
  PetscCall(PetscOptionsString("-pc_matrix", "fem: the matrix the preconditioner is built from: edge (the 7-point edge "
                               "Laplacian of the kept elements, spectrally equivalent, less memory) or stiffness (the Q1 "
                               "matrix itself: fewer iterations, about 40 percent more memory)", "sm_transport_set_pc_matrix",
                               pcm, pcm, sizeof(pcm), NULL));
  PetscCall(PetscOptionsReal("-m_rtol", "Stop the solve when the estimated relative error of M is below this (energy error "
                             "over the smallest Ritz value of the preconditioned operator; CG only); 0: stop on the "
                             "residual (-ksp_rtol) only", "sm_transport_set_m_rtol", m_rtol, &m_rtol, NULL));
  PetscCall(PetscOptionsBool("-matfree", "fem with -pc_matrix edge: apply the Q1 operator element by element without "
                             "storing it (the same operator; about 170 bytes per unknown less than its SBAIJ upper triangle)",
                             NULL, t->matfree, &t->matfree, NULL));
  PetscCall(PetscOptionsBool("-m_monitor", "Print the energy flux and the error estimate of M at every iteration", NULL,
                             t->m_monitor, &t->m_monitor, NULL));
  PetscCall(PetscOptionsStringArray("-direction", "Flow directions: x, y, z (a list) or all", "sm_transport_set_directions",
                                    dirs, &ndirs, &set_dirs));
  PetscCall(PetscOptionsStringArray("-conductivities", "Conductivity per phase as name:value,... (default: 1 for the "
                                    "reported phase, 0 for the others; 0 allowed); D of the reported phase divides D_eff",
                                    "sm_transport_set_conductivities", cond, &ncond, &set_cond));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasName(NULL, NULL, "-phase_conductivities", &old));
  PetscCheck(!old, t->comm, PETSC_ERR_ARG_WRONG, "-phase_conductivities is now -%sconductivities (the same name:value list)",
             t->prefix);

  {
    int m = -1, p = -1;
    for (int i = 0; sm_transport_method_names[i]; i++)
      if (!strcmp(method, sm_transport_method_names[i])) m = i;
    for (int i = 0; sm_transport_pc_matrix_names[i]; i++)
      if (!strcmp(pcm, sm_transport_pc_matrix_names[i])) p = i;
    PetscCheck(m >= 0, t->comm, PETSC_ERR_ARG_WRONG, "-%smethod: unknown method '%s'; use fem or fv", t->prefix, method);
    PetscCheck(p >= 0, t->comm, PETSC_ERR_ARG_WRONG, "-%spc_matrix: unknown value '%s'; use edge or stiffness", t->prefix,
               pcm);
    PetscCall(sm_transport_set_method(t, (SMTransportMethod)m));
    PetscCall(sm_transport_set_pc_matrix(t, (SMTransportPCMatrix)p));
    PetscCall(sm_transport_set_m_rtol(t, (double)m_rtol));
  }
  if (set_dirs) {
    int       d[3], n = 0;
    PetscBool all = PETSC_FALSE;
    for (PetscInt i = 0; i < ndirs; i++) {
      int       k    = -1;
      PetscBool is_all = !strcmp(dirs[i], "all") ? PETSC_TRUE : PETSC_FALSE;
      if (is_all) all = PETSC_TRUE;
      for (int j = 0; j < 3; j++)
        if (!strcmp(dirs[i], sm_transport_direction_names[j])) k = j;
      PetscCheck(k >= 0 || is_all, t->comm, PETSC_ERR_ARG_WRONG,
                 "-%sdirection: unknown direction '%s'; use x, y, z (or a list of them) or all", t->prefix, dirs[i]);
      PetscCheck(k < 0 || n < 3, t->comm, PETSC_ERR_ARG_WRONG, "-%sdirection: at most three directions", t->prefix);
      if (k >= 0) d[n++] = k;
    }
    for (PetscInt i = 0; i < ndirs; i++) PetscCall(PetscFree(dirs[i]));
    PetscCheck(!all || n == 0, t->comm, PETSC_ERR_ARG_WRONG, "-%sdirection: all or a list, not both", t->prefix);
    if (all)
      for (n = 0; n < 3; n++) d[n] = n;
    PetscCall(sm_transport_set_directions(t, n, d));
  }
  if (set_cond) {
    const char *names[SM_MAX_PHASES];
    double      values[SM_MAX_PHASES];
    PetscCheck(ncond <= SM_MAX_PHASES, t->comm, PETSC_ERR_ARG_OUTOFRANGE, "-%sconductivities: at most %d phases", t->prefix,
               SM_MAX_PHASES);
    for (PetscInt i = 0; i < ncond; i++) {
      char  *colon = strchr(cond[i], ':'), *end = NULL;
      PetscCheck(colon, t->comm, PETSC_ERR_ARG_WRONG, "-%sconductivities: '%s' is not name:value (e.g. solid:1,pore:0.1)",
                 t->prefix, cond[i]);
      *colon = 0;
      errno  = 0;
      values[i] = strtod(colon + 1, &end);
      PetscCheck(!errno && end != colon + 1 && *end == 0 && isfinite(values[i]) && values[i] >= 0, t->comm,
                 PETSC_ERR_ARG_WRONG, "-%sconductivities: the conductivity of %s must be a number >= 0 (got '%s')",
                 t->prefix, cond[i], colon + 1);
      names[i] = cond[i];
    }
    PetscCall(sm_transport_set_conductivities(t, (int)ncond, names, values));
    for (PetscInt i = 0; i < ncond; i++) PetscCall(PetscFree(cond[i]));
  }
  PetscCall(sm_transport_take_solver_options(t));
  t->setup = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_set_up(SMTransport t)
{
  PetscFunctionBeginUser;
  if (t->setup) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscOptionsDestroy(&t->options));
  PetscCall(PetscOptionsCreate(&t->options));
  for (size_t i = 0; i < sizeof(sm_transport_solver_defaults) / sizeof(sm_transport_solver_defaults[0]); i++) {
    char key[128];
    if (sm_transport_solver_defaults[i][2][0] && strcmp(sm_transport_solver_defaults[i][2], sm_transport_method_names[t->method]))
      continue;
    PetscCall(PetscSNPrintf(key, sizeof(key), "-%s%s", t->prefix, sm_transport_solver_defaults[i][0]));
    PetscCall(PetscOptionsSetValue(t->options, key, sm_transport_solver_defaults[i][1]));
  }
  if (t->solver_options && t->solver_options[0]) PetscCall(PetscOptionsInsertString(t->options, t->solver_options));
  t->setup = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_get_settings_text(SMTransport t, char buf[], size_t len)
{
  char cond[SM_MAX_PHASES * (SM_NAME_LEN + 32)] = "";

  PetscFunctionBeginUser;
  for (int i = 0; i < t->ncond; i++) {
    char item[SM_NAME_LEN + 32];
    PetscCall(PetscSNPrintf(item, sizeof(item), "%s%s:%.17g", i ? "," : "", t->cond_names[i], t->cond_values[i]));
    PetscCall(PetscStrlcat(cond, item, sizeof(cond)));
  }
  PetscCall(PetscSNPrintf(buf, len, "method=%s pc_matrix=%s m_rtol=%g conductivities=%s solver=[%s]",
                          sm_transport_method_names[t->method],
                          t->method == SM_TRANSPORT_FEM ? sm_transport_pc_matrix_names[t->pc_matrix] : "", t->m_rtol, cond,
                          t->solver_options ? t->solver_options : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_view(SMTransport t, PetscViewer viewer)
{
  PetscBool ascii;

  PetscFunctionBeginUser;
  if (!viewer) viewer = PETSC_VIEWER_STDOUT_(t->comm);
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &ascii));
  if (!ascii) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscViewerASCIIPrintf(viewer, "SMTransport (prefix -%s): method %s", t->prefix,
                                   sm_transport_method_names[t->method]));
  if (t->method == SM_TRANSPORT_FEM)
    PetscCall(PetscViewerASCIIPrintf(viewer, ", preconditioner from the %s matrix, Q1 operator %s",
                                     t->pc_matrix == SM_TRANSPORT_PC_EDGE ? "7-point edge" : "Q1 stiffness",
                                     t->pc_matrix == SM_TRANSPORT_PC_EDGE && t->matfree ? "matrix-free" : "assembled"));
  PetscCall(PetscViewerASCIIPrintf(viewer, "\n  stop: estimated relative error of M below %g, or the residual test",
                                   t->m_rtol));
  PetscCall(PetscViewerASCIIPrintf(viewer, "\n  directions:"));
  for (int i = 0; i < t->ndirs; i++) PetscCall(PetscViewerASCIIPrintf(viewer, " %s", sm_transport_direction_names[t->dirs[i]]));
  PetscCall(PetscViewerASCIIPrintf(viewer, "\n  conductivities: "));
  if (!t->ncond) PetscCall(PetscViewerASCIIPrintf(viewer, "1 for the reported phase, 0 for the others"));
  for (int i = 0; i < t->ncond; i++)
    PetscCall(PetscViewerASCIIPrintf(viewer, "%s%s %g", i ? ", " : "", t->cond_names[i], t->cond_values[i]));
  PetscCall(PetscViewerASCIIPrintf(viewer, "\n  solver options given: %s\n",
                                   t->solver_options && t->solver_options[0] ? t->solver_options : "none (the defaults)"));
  PetscFunctionReturn(PETSC_SUCCESS);
}
