/* Effective transport driver (SPEC 6): the kept conducting set, the discretisation (fem.c or fv.c), the PETSc solve
 * and the effective quantities.
 *
 * Memory per rank: labels (the volume's, 1 byte per voxel) plus, during the component analysis, a mask (1) and the
 * component ids (8 bytes per voxel), freed before assembly; then the kept labels (1 byte per voxel), the row numbers
 * (4 bytes per FEM node or FV voxel), the matrix (12 bytes per stored entry, 7 per FV row and per row of the FEM edge
 * Laplacian; the FEM Q1 operator is applied without a stored matrix from two arrays of doubles over the node planes, or
 * stored as its upper triangle with -transport_matfree 0), the multigrid hierarchy and a few vectors. Measured peaks
 * are in sm_transport_memory_estimate() and bench/RESULTS.md. */
#include "transport_impl.h"
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <petscpc.h>
#include <math.h>
#include <string.h>

const char *const sm_transport_method_names[]    = {"fem", "fv", NULL};
const char *const sm_transport_direction_names[] = {"x", "y", "z", NULL};

PetscErrorCode sm_transport_create_matrix(SMTransportCtx *c, const PetscInt *dnnz, const PetscInt *onnz, Mat *M)
{
  PetscFunctionBeginUser;
  if (c->hypre_matrix) {
    /* Straight into hypre's ParCSR (rows complete and sorted: no auxiliary row arrays): BoomerAMG then uses the matrix
       as it is instead of converting a PETSc AIJ copy. FV at 200^3 (3.6e6 rows, 1 rank): peak 1348 -> 1025 MB; the
       FEM edge Laplacian at 400^3 on 2 ranks: 409 -> 305 bytes per unknown (bench/RESULTS.md, issue 14). */
    PetscCall(MatCreate(c->comm, M));
    PetscCall(MatSetSizes(*M, c->nlocal, c->nlocal, (PetscInt)c->nglobal, (PetscInt)c->nglobal));
    PetscCall(MatSetType(*M, MATHYPRE));
    PetscCall(MatSetOption(*M, MAT_SORTED_FULL, PETSC_TRUE));
    PetscCall(MatSetOption(*M, MAT_NO_OFF_PROC_ENTRIES, PETSC_TRUE));
    PetscCall(MatHYPRESetPreallocation(*M, 0, dnnz, 0, onnz));
  } else {
    PetscCall(MatCreateAIJ(c->comm, c->nlocal, c->nlocal, (PetscInt)c->nglobal, (PetscInt)c->nglobal, 0, dnnz, 0, onnz, M));
    PetscCall(MatSetOption(*M, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_exchange_ghosts(SMTransportCtx *c, void *buf, int64_t nown, int64_t plane, MPI_Datatype type,
                                            size_t size, const void *fill)
{
  char                *b    = (char *)buf;
  const SMGridHaloSpec spec = {type, size, plane, 1, PETSC_FALSE, fill};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo(c->grid, &spec, b + (size_t)plane * size, b + (size_t)(nown * plane) * size, b,
                         b + (size_t)((nown + 1) * plane) * size));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_transport_check_input(SMVolume vol, const double conductivity[], int phase_label,
                                               SMTransportMethod method, int direction)
{
  SMGrid             grid;
  MPI_Comm           comm;
  int                np;
  const char *const *names;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  comm = sm_grid_comm(grid);
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCheck(method == SM_TRANSPORT_FEM || method == SM_TRANSPORT_FV, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Unknown transport method %d; use SM_TRANSPORT_FEM or SM_TRANSPORT_FV", (int)method);
  PetscCheck(direction >= 0 && direction < 3, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Transport direction must be 0 (x), 1 (y) or 2 (z), got %d", direction);
  PetscCheck(phase_label >= 0 && phase_label < np, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Phase label %d out of range: the volume has %d phases", phase_label, np);
  for (int l = 0; l < np; l++)
    PetscCheck(isfinite(conductivity[l]) && conductivity[l] >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "The conductivity of phase %s must be a finite number >= 0, got %g", names[l], conductivity[l]);
  PetscCheck(conductivity[phase_label] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "The conductivity of the reported phase %s must be positive (M = D_eff / D divides by it), got %g",
             names[phase_label], conductivity[phase_label]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The kept conducting set: components (26-connectivity for FEM, 6 for FV) of the voxels of positive conductivity that
   touch both faces of the direction. Fills c->klab (ghost planes exchanged) and the voxel counts of res. */
static PetscErrorCode sm_transport_kept_set(SMTransportCtx *c, SMVolume vol, SMGrid grid, int phase_label,
                                            SMTransportResult *res)
{
  uint8_t     *lab, *mask, zero = 0;
  int64_t     *comp, loc[3] = {0, 0, 0};
  SMComponents cc;
  const int    lo = 2 * c->dir, hi = 2 * c->dir + 1;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_labels(vol, &lab));
  PetscCall(PetscMalloc1((size_t)c->g.n_local, &mask));
  for (int64_t v = 0; v < c->g.n_local; v++) mask[v] = c->cond[lab[v]] > 0;
  PetscCall(PetscMalloc1((size_t)c->g.n_local, &comp));
  PetscCall(sm_morph_components(grid, mask, c->method == SM_TRANSPORT_FEM ? 26 : 6, comp, &cc));
  PetscCall(PetscFree(mask));
  PetscCall(PetscMalloc1((size_t)((c->g.z_local + 2) * c->g.n_plane), &c->klab));
  for (int64_t v = 0, last = -1, keep_last = 0; v < c->g.n_local; v++) {
    const int64_t id = comp[v];
    int           keep = 0;
    if (id >= 0) { /* neighbouring voxels mostly share a component: look the table up only when the id changes */
      if (id != last) {
        int64_t i;
        PetscCall(sm_morph_components_find(&cc, id, &i));
        keep_last = ((cc.faces[i] >> lo) & 1) && ((cc.faces[i] >> hi) & 1);
        last      = id;
      }
      keep = (int)keep_last;
    }
    c->klab[c->g.n_plane + v] = keep ? (uint8_t)(lab[v] + 1) : 0;
    loc[0] += lab[v] == phase_label;
    loc[1] += keep && lab[v] == phase_label;
    loc[2] += id >= 0;
  }
  PetscCall(PetscFree(comp));
  PetscCall(sm_morph_components_free(&cc));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, loc, 3, MPI_INT64_T, MPI_SUM, c->comm));
  res->phase_voxels      = loc[0];
  res->conducting_voxels = loc[2];
  {
    int64_t kept = 0;
    for (int64_t v = 0; v < c->g.n_local; v++) kept += c->klab[c->g.n_plane + v] != 0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &kept, 1, MPI_INT64_T, MPI_SUM, c->comm));
    res->kept_voxels = kept;
  }
  res->volume_fraction      = (double)loc[0] / (double)c->g.n_total;
  res->conducting_fraction  = (double)loc[2] / (double)c->g.n_total;
  res->percolating_fraction = loc[0] ? (double)loc[1] / (double)loc[0] : 0.0;
  res->removed_fraction     = (double)(loc[2] - res->kept_voxels) / (double)c->g.n_total;
  res->percolates           = res->kept_voxels > 0;
  PetscCall(sm_transport_exchange_ghosts(c, c->klab, c->g.z_local, c->g.n_plane, MPI_UINT8_T, 1, &zero));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* KSP for the SPD system, on the solver object's options database and prefix (solver.c). Defaults (all overridable with
   -transport_ksp_* / -transport_pc_* / -transport_mg_*, read by KSPSetFromOptions last):
   - CG: the matrix is symmetric positive definite once the Dirichlet columns are on the right-hand side.
   - hypre BoomerAMG with PMIS coarsening (HMIS before issue 14: its Ruge-Stueben first pass was 9 % of a 128^3 FEM
     solve's profile; PMIS cut the hierarchy setup by about 25 % for one more iteration, bench/RESULTS.md), extended+i
     interpolation (-cc variant) truncated to 4 entries per row, strong threshold 0.5 (the usual 3D choice; 0.25 for FV, solver.c),
     aggressive coarsening on the first level, and one forward Gauss-Seidel sweep down, one backward sweep up (solver.c). Measured (with HMIS) on the 128^3 chi2 twin (F850,
     solid, FEM, 1.1e6 unknowns) and the 200^3 twin (FV, 3.6e6 unknowns), against GAMG (smoothed aggregation): the
     same iteration counts (21-22 FEM, 14-16 FV), a setup 2x faster, and on two ranks 360 instead of 610 MB per rank
     at the peak (GAMG's parallel coarsening keeps about 2.4x the data of its serial one). -transport_pc_type gamg gives GAMG
     (with the constant near-null space set below).
   - Stop when the estimated relative error of M is below -transport_m_rtol (1e-6; the rule is explained above
     sm_transport_converged), or on the natural-norm residual (r, B r)^1/2 <= 1e-8 of its initial value, whichever comes
     first. On the chi2 twins the M rule stops after about 10 iterations where the residual rule took 21-22 (the
     residual 1e-8 kept M of runs on different rank counts equal to about 1e-8, far more than the 1e-6 reproducibility
     we promise). The natural norm costs nothing: CG computes (r, B r) anyway.
   - A linear initial guess (exact for straight channels). */
static PetscErrorCode sm_transport_ksp(SMTransport t, SMTransportCtx *c, Mat A, Mat P, KSP *ksp)
{
  PC           pc;
  MatNullSpace nsp;

  PetscFunctionBeginUser;
  PetscCall(MatSetOption(P, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(P, MAT_SPD, PETSC_TRUE));
  PetscCall(MatNullSpaceCreate(c->comm, PETSC_TRUE, 0, NULL, &nsp));
  PetscCall(MatSetNearNullSpace(P, nsp));
  PetscCall(MatNullSpaceDestroy(&nsp));
  PetscCall(KSPCreate(c->comm, ksp));
  PetscCall(PetscObjectSetOptions((PetscObject)*ksp, t->options));
  PetscCall(KSPGetPC(*ksp, &pc));
  PetscCall(PetscObjectSetOptions((PetscObject)pc, t->options));
  PetscCall(KSPSetOptionsPrefix(*ksp, t->prefix[0] ? t->prefix : NULL));
  PetscCall(KSPSetOperators(*ksp, A, P));
  PetscCall(KSPSetType(*ksp, KSPCG));
  PetscCall(KSPSetNormType(*ksp, KSP_NORM_NATURAL));
  PetscCall(KSPSetComputeSingularValues(*ksp, t->m_rtol > 0 || t->m_monitor ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(KSPSetTolerances(*ksp, 1e-8, PETSC_DEFAULT, PETSC_DEFAULT, 10000));
  PetscCall(KSPSetInitialGuessNonzero(*ksp, PETSC_TRUE));
  PetscCall(PCSetType(pc, PCHYPRE));
  PetscCall(PCHYPRESetType(pc, "boomeramg"));
  PetscCall(KSPSetFromOptions(*ksp));
  PetscCall(KSPSetUp(*ksp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Whether the matrix BoomerAMG works on is assembled in hypre's own format (complete sorted rows, MAT_SORTED_FULL):
   when the solver object's KSP will be preconditioned by BoomerAMG (the default unless -<prefix>pc_type or
   -<prefix>pc_hypre_type say otherwise), a matrix in hypre's format needs no conversion and no AIJ copy. Not with
   64-bit PetscInt: there (Debian's petsc64 3.18 with the mixed-integer hypre64m) hypre refuses the sorted complete
   rows of a rank whose row has off-rank columns (HYPRE_IJMatrixSetValues error 1 at 2 and 3 ranks), and without
   MAT_SORTED_FULL hypre's auxiliary row arrays take more memory than the AIJ copy (128^3: 792 MB against 455), so the
   AIJ matrix is assembled and converted as before. */
static PetscErrorCode sm_transport_hypre_assembly(SMTransport t, PetscBool *yes)
{
  char      pc[64] = "hypre", ht[64] = "boomeramg";
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetString(t->options, t->prefix[0] ? t->prefix : NULL, "-pc_type", pc, sizeof(pc), &set));
  PetscCall(PetscOptionsGetString(t->options, t->prefix[0] ? t->prefix : NULL, "-pc_hypre_type", ht, sizeof(ht), &set));
  *yes = !strcmp(pc, "hypre") && !strcmp(ht, "boomeramg") ? PETSC_TRUE : PETSC_FALSE;
#if defined(PETSC_USE_64BIT_INDICES)
  *yes = PETSC_FALSE;
#endif
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Why the preconditioner of FEM is built from the edge Laplacian by default (-transport_pc_matrix edge|stiffness,
   solver.c). Measured on the 128^3 chi2 twin (F850 parameters, 1.1e6 unknowns, 1 rank, then with GAMG): algebraic
   multigrid on the Q1 stiffness matrix needs
   11 CG iterations but about 870 bytes per unknown at its peak (the aggregation graph of a 27-point operator, next to
   the matrix); on the 7-point edge Laplacian, set up before the stiffness matrix is assembled, 21 iterations in about
   the same total time and about 630 bytes per unknown (with BoomerAMG and the SBAIJ operator, 22 iterations and ~500).
   The finest-level smoother then works on the edge Laplacian too: the preconditioner is a V-cycle for that operator,
   spectrally equivalent to the stiffness matrix, so CG still converges in a number of iterations independent of the
   mesh size (21-22 from 24^3 to 256^3). */

/* The stopping rule tied to M (-transport_m_rtol, default 1e-6).
 *
 * J is computed as an energy: with u the full nodal (FEM) or cell (FV) vector, 1 on the inlet, 0 on the outlet, K the
 * operator of the kept set and r = b - A u the residual of the free unknowns, E(u) = u^T K u = J_in(u) - u_F^T r, where
 * J_in is the inlet flux (reactions or boundary face fluxes). For the exact discrete solution u* this is its flux J*,
 * and for any iterate E(u) = J* + ||e||_A^2 with e = u - u*: the energy is never below J*, and its error is quadratic in
 * the error of u where the flux of one face, J_in(u) = J* + u*^T r, is linear in it (the flux imbalance of a loosely
 * converged solve is first order, the energy second order). So M = E L / (A D), and an upper estimate of
 * ||e||_A^2 = r^T A^-1 r is (r, B r) / lambda_min(B A) for the SPD preconditioner B: (r, B r) is CG's natural norm
 * squared, free at every iteration, and lambda_min is estimated by the smallest Ritz value of the Lanczos matrix CG
 * builds along the way (KSPComputeExtremeSingularValues). A Ritz value lies above lambda_min, so it is divided by a
 * safety factor (SM_RITZ_SAFETY below, chosen on twins solved to 1e-12: tests/unit/test_transport.c and
 * tests/mpi/test_transport_mpi.c check that the estimate stays an upper bound). The factor was 4 until issue 14; with 2
 * the estimate lies 2.1-5.7 times above the true error of M in the MPI test (stops at 1e-2 ... 1e-7, 1 to 3 ranks) and
 * about 4 times above it where the six solves of the 200^3 quickstart twin stop (128^3 twin, solved to 1e-14: the
 * smallest Ritz value is 1.45-1.7 times lambda_min at iterations 8-10, 4.2 times at iteration 1, where (r, B r) /
 * lambda_min is itself 4 times the error), and those solves stop one iteration earlier (58 instead of 63 iterations,
 * bench/RESULTS.md). The solve stops when estimate / (E - estimate) <= m_rtol (E - estimate is a lower estimate of
 * J*), or by PETSc's residual test (-transport_ksp_rtol), whichever comes first.
 *
 * Cost: nothing per iteration but the Ritz value (a tridiagonal eigenproblem of the iteration count's size); E(u) of the
 * iterate (one operator application and two dot products) only once the estimate is below m_rtol times the energy of
 * the initial guess, i.e. in the last one or two iterations. Other Krylov methods or norm types: the residual test
 * alone, and no estimate (NAN). */
#define SM_RITZ_SAFETY 2.0

typedef struct {
  const SMTransportHooks *hooks; /* NULL: none */
  void                   *dctx;  /* PETSc's default test */
  PetscBool               stopped;
  /* the M test */
  PetscBool mtest, monitor;
  double    m_rtol;
  Mat       A;
  Vec       b, w;    /* w: work vector */
  double    E0, Q0;  /* energy of the initial guess and Q(u0) = u0^T (A u0 - 2 b) */
  double    est, E;  /* last estimate of ||e||_A^2 and the energy where it was evaluated (NAN: not yet) */
  PetscBool m_converged;
  PetscBool w_final; /* w = A x of the iterate the solve ended with (the energy of the result needs no product more) */
} SMConvCtx;

/* Q(x) = x^T (A x - 2 b): E(x) = E0 + Q(x) - Q(u0) */
static PetscErrorCode sm_transport_q(SMConvCtx *h, Vec x, double *q)
{
  PetscScalar xax, bx;

  PetscFunctionBeginUser;
  PetscCall(MatMult(h->A, x, h->w));
  PetscCall(VecDotBegin(x, h->w, &xax));
  PetscCall(VecDotBegin(h->b, x, &bx));
  PetscCall(VecDotEnd(x, h->w, &xax));
  PetscCall(VecDotEnd(h->b, x, &bx));
  *q = (double)(xax - 2.0 * bx);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_transport_converged(KSP ksp, PetscInt it, PetscReal rnorm, KSPConvergedReason *reason, void *ctx)
{
  SMConvCtx *h = (SMConvCtx *)ctx;

  PetscFunctionBeginUser;
  h->w_final = PETSC_FALSE;
  PetscCall(KSPConvergedDefault(ksp, it, rnorm, reason, h->dctx));
  if (h->mtest && it > 0 && *reason >= 0) {
    PetscReal emax, emin;
    Vec       x;
    double    est;
    PetscCall(KSPComputeExtremeSingularValues(ksp, &emax, &emin));
    /* a Ritz value <= 0 means the preconditioner is not positive definite (e.g. a non-symmetric smoother): no bound,
       the residual test alone decides */
    est        = emin > 0 ? (double)rnorm * (double)rnorm * SM_RITZ_SAFETY / (double)emin : NAN;
    h->est     = est;
    h->E       = NAN;
    if (h->monitor || est <= h->m_rtol * h->E0) {
      double q;
      PetscCall(KSPBuildSolution(ksp, NULL, &x));
      PetscCall(sm_transport_q(h, x, &q));
      h->E       = h->E0 + q - h->Q0;
      h->w_final = PETSC_TRUE; /* until the next iteration: CG's solution vector is updated in place */
    }
    if (h->monitor)
      PetscCall(PetscPrintf(PetscObjectComm((PetscObject)ksp),
                            "    %3d energy flux %.15e, error estimate %.3e (relative %.3e), Ritz values [%.4f, %.4f]\n",
                            (int)it, h->E, est, est / (h->E - est), (double)emin, (double)emax));
    if (*reason == KSP_CONVERGED_ITERATING && !isnan(h->E) && h->E - est > 0 && est <= h->m_rtol * (h->E - est)) {
      *reason        = KSP_CONVERGED_RTOL;
      h->m_converged = PETSC_TRUE;
    }
  }
  if (*reason == KSP_CONVERGED_ITERATING && it > 0 && h->hooks && h->hooks->iteration) {
    Vec       x;
    PetscBool stop = PETSC_FALSE;
    PetscCall(KSPBuildSolution(ksp, NULL, &x));
    PetscCall(h->hooks->iteration(h->hooks->ctx, x, it, &stop));
    if (stop) {
      h->stopped = PETSC_TRUE;
      *reason    = KSP_CONVERGED_ITS; /* ends KSPSolve; the caller looks at h->stopped, never at this reason */
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_transport_converged_destroy(void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(KSPConvergedDefaultDestroy(((SMConvCtx *)ctx)->dctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Inlet and outlet flux of x (NULL: no unknowns) and, if asked, the potential. Collective. */
static PetscErrorCode sm_transport_flux(SMTransportCtx *c, Vec x, double *flux_in, double *flux_out, double *potential)
{
  PetscFunctionBeginUser;
  if (c->method == SM_TRANSPORT_FEM) PetscCall(sm_transport_fem_flux(c, x, flux_in, flux_out, potential));
  else PetscCall(sm_transport_fv_flux(c, x, flux_in, flux_out, potential));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The energy E(x) = J_in(x) - x^T (b - A x) (see the stopping rule above) and Q(x) = x^T (A x - 2 b) of the initial
   guess from one operator application (into h->w). Collective. */
static PetscErrorCode sm_transport_energy0(SMTransportCtx *c, SMConvCtx *h, Vec x)
{
  double      fin, fout;
  PetscScalar xax, bx;

  PetscFunctionBeginUser;
  PetscCall(sm_transport_flux(c, x, &fin, &fout, NULL));
  PetscCall(MatMult(h->A, x, h->w));
  PetscCall(VecDotBegin(x, h->w, &xax));
  PetscCall(VecDotBegin(h->b, x, &bx));
  PetscCall(VecDotEnd(x, h->w, &xax));
  PetscCall(VecDotEnd(h->b, x, &bx));
  h->E0 = fin - (double)(bx - xax);
  h->Q0 = (double)(xax - 2.0 * bx);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The direction's context before the kept set: grid, method, conductivities; checks that every label is a phase. */
static PetscErrorCode sm_transport_ctx_init(SMTransportCtx *c, SMVolume vol, const double conductivity[],
                                            SMTransportMethod method, int direction)
{
  SMGrid grid;
  int    np;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(c, sizeof(*c)));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_volume_get_phases(vol, &np, NULL));
  PetscCall(sm_grid_get_info(grid, &c->g));
  c->grid   = grid;
  c->comm   = sm_grid_comm(grid);
  c->dir    = direction;
  c->method = method;
  for (int l = 0; l < np; l++) c->cond[l] = conductivity[l];
  {
    /* every label < np is checked by the label count; labels >= np would read past cond */
    int64_t counts[SM_MAX_PHASES];
    PetscCall(sm_morph_label_counts(vol, counts));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The FEM problem of the checks below (the test hooks): context, kept set and numbering; *unknowns its size (0 when
   the phase does not percolate). */
static PetscErrorCode sm_transport_fem_check_setup(SMVolume vol, const double conductivity[], int phase_label,
                                                   int direction, SMTransportCtx *c, int64_t *unknowns)
{
  SMTransportResult res;
  SMGrid            grid;

  PetscFunctionBeginUser;
  *unknowns = 0;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(PetscMemzero(&res, sizeof(res)));
  PetscCall(sm_transport_ctx_init(c, vol, conductivity, SM_TRANSPORT_FEM, direction));
  PetscCall(sm_transport_kept_set(c, vol, grid, phase_label, &res));
  if (res.percolates) {
    PetscCall(sm_transport_fem_number(c));
    *unknowns = c->nglobal;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_operator_difference(SMVolume vol, const double conductivity[], int phase_label,
                                                    int direction, int nvec, double *maxdiff, double *maxval,
                                                    int64_t *unknowns)
{
  SMTransportCtx c;
  Mat            A = NULL, S = NULL;
  Vec            b, x, bs, xs, y, ys;
  PetscRandom    rnd;

  PetscFunctionBeginUser;
  *maxdiff = *maxval = 0;
  PetscCall(sm_transport_fem_check_setup(vol, conductivity, phase_label, direction, &c, unknowns));
  if (c.nglobal > 0) {
    PetscCall(sm_transport_fem_assemble(&c, &A, &b, &x));
    PetscCall(sm_transport_fem_matfree(&c, &S, &bs, &xs));
    PetscCall(VecDuplicate(b, &y));
    PetscCall(VecDuplicate(b, &ys));
    PetscCall(PetscRandomCreate(c.comm, &rnd));
    for (int k = 0; k < nvec; k++) {
      PetscReal d, v;
      PetscCall(VecSetRandom(x, rnd));
      PetscCall(MatMult(A, x, y));
      PetscCall(MatMult(S, x, ys));
      PetscCall(VecNorm(y, NORM_INFINITY, &v));
      PetscCall(VecAXPY(ys, -1.0, y));
      PetscCall(VecNorm(ys, NORM_INFINITY, &d));
      *maxdiff = PetscMax(*maxdiff, (double)d);
      *maxval  = PetscMax(*maxval, (double)v);
    }
    /* the right-hand sides and initial guesses must agree too */
    {
      PetscReal d;
      PetscCall(VecAXPY(bs, -1.0, b));
      PetscCall(VecNorm(bs, NORM_INFINITY, &d));
      *maxdiff = PetscMax(*maxdiff, (double)d);
    }
    PetscCall(PetscRandomDestroy(&rnd));
    PetscCall(VecDestroy(&y));
    PetscCall(VecDestroy(&ys));
    PetscCall(VecDestroy(&b));
    PetscCall(VecDestroy(&x));
    PetscCall(VecDestroy(&bs));
    PetscCall(VecDestroy(&xs));
    PetscCall(MatDestroy(&A));
    PetscCall(MatDestroy(&S));
  }
  PetscCall(PetscFree(c.num));
  PetscCall(PetscFree(c.klab));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_edge_difference(SMVolume vol, const double conductivity[], int phase_label,
                                                int direction, PetscBool hypre, int nvec, double *maxdiff,
                                                double *maxval, int64_t *unknowns)
{
  SMTransportCtx c;

  PetscFunctionBeginUser;
  *maxdiff = *maxval = 0;
  PetscCall(sm_transport_fem_check_setup(vol, conductivity, phase_label, direction, &c, unknowns));
  c.hypre_matrix = hypre;
#if defined(PETSC_USE_64BIT_INDICES)
  c.hypre_matrix = PETSC_FALSE;
#endif
  if (c.nglobal > 0) {
    Mat         P;
    Vec         x, y;
    PetscRandom rnd;
    PetscCall(sm_transport_fem_assemble_edge(&c, &P));
    PetscCall(VecCreateMPI(c.comm, c.nlocal, (PetscInt)c.nglobal, &x));
    PetscCall(VecDuplicate(x, &y));
    PetscCall(PetscRandomCreate(c.comm, &rnd));
    PetscCall(PetscRandomSetInterval(rnd, -1.0, 1.0));
    for (int k = 0; k < nvec; k++) {
      PetscScalar xpx;
      double      e;
      PetscCall(VecSetRandom(x, rnd));
      PetscCall(MatMult(P, x, y));
      PetscCall(VecDot(x, y, &xpx));
      PetscCall(sm_transport_fem_edge_energy(&c, x, &e));
      *maxdiff = PetscMax(*maxdiff, fabs((double)xpx - e));
      *maxval  = PetscMax(*maxval, fabs(e));
    }
    PetscCall(PetscRandomDestroy(&rnd));
    PetscCall(VecDestroy(&x));
    PetscCall(VecDestroy(&y));
    PetscCall(MatDestroy(&P));
  }
  PetscCall(PetscFree(c.num));
  PetscCall(PetscFree(c.klab));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_solve(SMTransport t, SMVolume vol, const double conductivity[], int phase_label,
                                  int direction, double *potential, SMTransportResult *res)
{
  const SMTransportHooks *hooks  = t->has_hooks ? &t->hooks : NULL;
  const SMTransportMethod method = t->method;
  SMConvCtx      hctx;
  SMTransportCtx c;
  SMGrid         grid;
  Mat            A   = NULL, P = NULL;
  Vec            b   = NULL, x = NULL;
  KSP            ksp = NULL;
  double         t0 = MPI_Wtime(), t1, t2, times[2];

  PetscFunctionBeginUser;
  PetscCall(sm_transport_check_input(vol, conductivity, phase_label, method, direction));
  PetscCall(sm_transport_set_up(t));
  PetscCall(PetscLogEventBegin(SM_EVENT_TransportSetup, 0, 0, 0, 0));
  PetscCall(PetscMemzero(&c, sizeof(c)));
  PetscCall(PetscMemzero(&hctx, sizeof(hctx)));
  PetscCall(PetscMemzero(res, sizeof(*res)));
  hctx.hooks = hooks;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_transport_ctx_init(&c, vol, conductivity, method, direction));
  res->direction   = direction;
  res->method      = method;
  res->phase_label = phase_label;
  res->D           = conductivity[phase_label];
  res->length      = (double)c.g.n[direction] * c.g.h[direction];
  res->area        = 1.0;
  for (int a = 0; a < 3; a++)
    if (a != direction) res->area *= (double)c.g.n[a] * c.g.h[a];
  res->reason = KSP_CONVERGED_ITERATING;

  PetscCall(PetscLogEventBegin(SM_EVENT_TransportKept, 0, 0, 0, 0));
  PetscCall(sm_transport_kept_set(&c, vol, grid, phase_label, res));
  PetscCall(PetscLogEventEnd(SM_EVENT_TransportKept, 0, 0, 0, 0));
  if (!res->percolates) {
    PetscCall(PetscLogEventEnd(SM_EVENT_TransportSetup, 0, 0, 0, 0));
    if (potential)
      for (int64_t v = 0; v < c.g.n_local; v++) potential[v] = NAN;
    PetscCall(PetscFree(c.klab));
    res->M = res->D_eff = 0;
    res->tau_eff        = INFINITY;
    times[0]            = MPI_Wtime() - t0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, times, 1, MPI_DOUBLE, MPI_MAX, c.comm));
    res->setup_time = times[0];
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscLogEventBegin(SM_EVENT_TransportKept, 0, 0, 0, 0));
  if (method == SM_TRANSPORT_FEM) PetscCall(sm_transport_fem_number(&c));
  else PetscCall(sm_transport_fv_number(&c));
  PetscCall(PetscLogEventEnd(SM_EVENT_TransportKept, 0, 0, 0, 0));
  res->unknowns = c.nglobal;
  if (c.nglobal > 0) {
    /* the FV matrix and the FEM edge Laplacian go into hypre's format when BoomerAMG preconditions */
    PetscCall(sm_transport_hypre_assembly(t, &c.hypre_matrix));
    if (method == SM_TRANSPORT_FEM && t->pc_matrix == SM_TRANSPORT_PC_EDGE) {
      /* the preconditioner is built from the edge Laplacian before the stiffness matrix exists, so the multigrid
         setup's transient memory and the Q1 matrix are never allocated at the same time */
      PetscCall(PetscLogEventBegin(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      PetscCall(sm_transport_fem_assemble_edge(&c, &P));
      PetscCall(PetscLogEventEnd(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      PetscCall(sm_transport_ksp(t, &c, P, P, &ksp));
      PetscCall(PetscLogEventBegin(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      if (t->matfree) PetscCall(sm_transport_fem_matfree(&c, &A, &b, &x));
      else {
        c.symmetric_storage = PETSC_TRUE;
        PetscCall(sm_transport_fem_assemble(&c, &A, &b, &x));
      }
      PetscCall(PetscLogEventEnd(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      PetscCall(MatSetOption(A, MAT_SYMMETRIC, PETSC_TRUE));
      PetscCall(MatSetOption(A, MAT_SPD, PETSC_TRUE));
      {
        /* BoomerAMG has built its hierarchy on P (assembled in hypre's format, its finest level, which the
           preconditioner keeps a reference to) and never reads it through PETSc again: our reference is dropped and
           the set-up preconditioner kept. Other preconditioners may read P when applied (SOR, ...) and keep it. */
        PC        pc;
        PetscBool hypre;
        PetscCall(KSPGetPC(ksp, &pc));
        PetscCall(PetscObjectTypeCompare((PetscObject)pc, PCHYPRE, &hypre));
        if (hypre) {
          PetscCall(PCSetReusePreconditioner(pc, PETSC_TRUE));
          PetscCall(KSPSetOperators(ksp, A, A));
          PetscCall(MatDestroy(&P));
        } else PetscCall(KSPSetOperators(ksp, A, P));
      }
    } else {
      PetscCall(PetscLogEventBegin(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      if (method == SM_TRANSPORT_FEM) PetscCall(sm_transport_fem_assemble(&c, &A, &b, &x));
      else PetscCall(sm_transport_fv_assemble(&c, &A, &b, &x));
      PetscCall(PetscLogEventEnd(SM_EVENT_TransportAssemble, 0, 0, 0, 0));
      P = A;
      PetscCall(PetscObjectReference((PetscObject)A));
      PetscCall(sm_transport_ksp(t, &c, A, P, &ksp));
    }
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_TransportSetup, 0, 0, 0, 0));
  t1 = MPI_Wtime();

  PetscCall(PetscLogEventBegin(SM_EVENT_TransportSolve, 0, 0, 0, 0));
  if (ksp) {
    PC        pc;
    KSPType   kt;
    PCType    pt;
    PetscCall(KSPGetType(ksp, &kt));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCGetType(pc, &pt));
    PetscCall(PetscStrncpy(res->ksp_type, kt, sizeof(res->ksp_type)));
    PetscCall(PetscStrncpy(res->pc_type, pt, sizeof(res->pc_type)));
    if (hooks && hooks->initial_guess) {
      PetscBool loaded = PETSC_FALSE;
      PetscCall(hooks->initial_guess(hooks->ctx, x, &loaded));
    }
    {
      KSPNormType nt;
      PetscBool   cg;
      PetscCall(KSPGetNormType(ksp, &nt));
      PetscCall(PetscObjectTypeCompare((PetscObject)ksp, KSPCG, &cg));
      hctx.mtest   = cg && nt == KSP_NORM_NATURAL && (t->m_rtol > 0 || t->m_monitor) ? PETSC_TRUE : PETSC_FALSE;
      hctx.monitor = t->m_monitor;
      hctx.m_rtol  = t->m_rtol;
      hctx.est     = NAN;
    }
    if (hctx.mtest) {
      hctx.A = A;
      hctx.b = b;
      PetscCall(VecDuplicate(b, &hctx.w));
      PetscCall(sm_transport_energy0(&c, &hctx, x));
    }
    if (hctx.mtest || hooks) {
      PetscCall(KSPConvergedDefaultCreate(&hctx.dctx));
      PetscCall(KSPSetConvergenceTest(ksp, sm_transport_converged, &hctx, sm_transport_converged_destroy));
    }
    PetscCall(KSPSolve(ksp, b, x));
    PetscCall(KSPGetConvergedReason(ksp, &res->reason));
    PetscCall(KSPGetIterationNumber(ksp, &res->iterations));
    PetscCall(KSPGetResidualNorm(ksp, &res->residual_norm));
    if (!hctx.w_final) PetscCall(VecDestroy(&hctx.w));
    if (hctx.stopped) { /* stopped by the hook: no result, nothing more to compute */
      PetscCall(VecDestroy(&hctx.w));
      res->stopped = PETSC_TRUE;
      res->reason  = KSP_CONVERGED_ITERATING;
      PetscCall(KSPDestroy(&ksp));
      PetscCall(MatDestroy(&A));
      PetscCall(MatDestroy(&P));
      PetscCall(VecDestroy(&b));
      PetscCall(VecDestroy(&x));
      PetscCall(PetscFree(c.num));
      PetscCall(PetscFree(c.klab));
      PetscCall(PetscLogEventEnd(SM_EVENT_TransportSolve, 0, 0, 0, 0));
      res->M = res->D_eff = res->tau_eff = NAN;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    res->solved = PETSC_TRUE;
    PetscCheck(res->reason > 0, c.comm, PETSC_ERR_NOT_CONVERGED,
               "The %s transport solve in %s did not converge: %s after %d iterations (residual norm %g); raise "
               "-%sksp_max_it, loosen -%sksp_rtol or try another preconditioner (-%spc_type)",
               sm_transport_method_names[method], sm_transport_direction_names[direction], KSPConvergedReasons[res->reason],
               (int)res->iterations, res->residual_norm, t->prefix, t->prefix, t->prefix);
    res->m_converged = hctx.m_converged;
    PetscCall(KSPDestroy(&ksp));
    PetscCall(MatDestroy(&P));
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_TransportSolve, 0, 0, 0, 0));
  t2 = MPI_Wtime();
  PetscCall(sm_transport_flux(&c, x, &res->flux_in, &res->flux_out, potential));
  res->flux = res->flux_in;
  if (x) { /* the energy: J_in - u^T r */
    Vec         r = hctx.w; /* A x when the M test evaluated the last iterate (the same product) */
    PetscScalar xr;
    hctx.w = NULL;
    if (!r) {
      PetscCall(VecDuplicate(b, &r));
      PetscCall(MatMult(A, x, r));
    }
    PetscCall(VecAYPX(r, -1.0, b));
    PetscCall(VecDot(x, r, &xr));
    PetscCall(VecDestroy(&r));
    res->flux -= (double)xr;
  }
  /* the estimate of the last iterate, relative to the lower estimate of J (0 when nothing was solved) */
  res->M_error_estimate = !res->solved ? 0.0 : (res->flux - hctx.est > 0 ? hctx.est / (res->flux - hctx.est) : NAN);
  PetscCall(MatDestroy(&A));
  PetscCall(VecDestroy(&b));
  PetscCall(VecDestroy(&x));
  PetscCall(PetscFree(c.num));
  PetscCall(PetscFree(c.klab));

  {
    const double big    = PetscMax(fabs(res->flux_in), fabs(res->flux_out));
    res->flux_imbalance = big > 0 ? fabs(res->flux_in - res->flux_out) / big : 0.0;
    res->D_eff          = res->flux * res->length / res->area;
    res->M              = res->D_eff / res->D;
    res->tau_eff        = res->M > 0 ? res->volume_fraction / res->M : INFINITY;
  }
  /* the slowest rank's times, the same on every rank */
  times[0] = t1 - t0;
  times[1] = t2 - t1;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, times, 2, MPI_DOUBLE, MPI_MAX, c.comm));
  res->setup_time = times[0];
  res->solve_time = times[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_memory_estimate(SMTransport t, SMVolume vol, const double conductivity[], double *bytes)
{
  const SMTransportMethod method = t->method;
  SMGrid      grid;
  SMGridInfo  g;
  uint8_t    *lab, *below;
  int64_t     cand = 0;
  int         np;
  const uint8_t zero = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &lab));
  PetscCall(sm_volume_get_phases(vol, &np, NULL));
  /* candidate unknowns: FV the voxels of positive conductivity, FEM the nodes touching one (an upper bound of the
     rows, as removal only takes some away); one plane of labels from below for the nodes of plane z_start */
  PetscCall(PetscMalloc1((size_t)g.n_plane, &below));
  {
    const SMGridHaloSpec spec = {MPI_UINT8_T, 1, g.n_plane, 1, PETSC_FALSE, &zero};
    PetscCall(sm_grid_halo(grid, &spec, lab, lab + (g.z_local - 1) * g.n_plane, below, NULL));
  }
  {
    double cond[256];
    for (int l = 0; l < 256; l++) cond[l] = l < np ? conductivity[l] : 0.0;
    if (method == SM_TRANSPORT_FV) {
      for (int64_t v = 0; v < g.n_local; v++) cand += cond[lab[v]] > 0;
    } else {
      const int64_t nx = g.n[0], ny = g.n[1], last = g.rank == g.size - 1;
      for (int64_t z = 0; z < g.z_local + last; z++)
        for (int64_t j = 0; j <= ny; j++)
          for (int64_t i = 0; i <= nx; i++) {
            int on = 0;
            for (int a = 0; a < 8 && !on; a++) {
              const int64_t vx = i - (a & 1), vy = j - ((a >> 1) & 1), vz = z - ((a >> 2) & 1);
              if (vx < 0 || vy < 0 || vx >= nx || vy >= ny || vz >= g.z_local || (vz < 0 && g.z_start == 0)) continue;
              on = cond[vz < 0 ? below[vy * nx + vx] : lab[vz * g.n_plane + vy * nx + vx]] > 0;
            }
            cand += on;
          }
    }
  }
  PetscCall(PetscFree(below));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &cand, 1, MPI_INT64_T, MPI_SUM, sm_grid_comm(grid)));
  /* Bytes per unknown at the peak (the BoomerAMG hierarchy and its finest matrix in hypre's format, the matrix-free Q1
     operator's planes, vectors, row numbers), measured on chi2 twins (F850 parameters, solid, z) as the summed peak
     resident size above that of the bare executable (about 50 MB per rank), with 2 MB pages (jobscripts/launch.sh):
     FEM 263-273 and FV 277-283 at 128^3 and 200^3 on 1 and 2 ranks (issue 14; 400^3 FEM on 2 ranks: 275 in all);
     with a margin of about 10 % (the estimate was 620 and 520 before issue 14, which refused a 400^3 FEM solve that
     peaks at 8.7 GiB on a 16 GiB laptop). Without the assembly in hypre's format (sm_transport_hypre_assembly: 64-bit
     PetscInt, or another preconditioner than BoomerAMG) the matrix goes through an AIJ copy: with 64-bit PetscInt, whose
     row numbers also take twice the space, 408-479 at 128^3 on 1 and 2 ranks for both methods, hence 520 (other
     preconditioners were not measured for this estimate). Plus 10 bytes per voxel for the component analysis (mask,
     ids, kept labels). */
  {
    PetscBool hypre;
    PetscCall(sm_transport_set_up(t));
    PetscCall(sm_transport_hypre_assembly(t, &hypre));
    *bytes = 10.0 * (double)g.n_total + (!hypre ? 520.0 : method == SM_TRANSPORT_FEM ? 300.0 : 310.0) * (double)cand;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
