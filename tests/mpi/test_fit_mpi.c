/* Round trip of the calibration (SPEC 4): twins drawn with known parameters are fitted, and the fit recovers them
 * (SPEC 4: p within 3 sigma, sigma from the fit itself; alpha within 3 %; pluri: alpha_X, alpha_Y within 5 %, m within
 * 0.05, eps_i within 0.01). Cases: chi2 with F850 parameters, chi2 with C900 parameters, a gauss twin on anisotropic
 * 16.6 x 16.6 x 20 nm voxels, a non-periodic crop of a twin (minus-sampling), and a pluri twin with the NVP/C
 * parameters. The same numbers at any rank count: each volume is also fitted on rank 0 alone and every fitted number
 * must agree bitwise (the two-point sums are exact integers, and the fit after them is serial).
 *
 * Box sizes: the statistical error of alpha scales with (box side x alpha)^(-3/2). SPEC 3.4's F850 twin is 200^3 at
 * 10 nm, box x alpha = 14.6; there the seed-to-seed spread of alpha is about 1 % (six seeds: 7.19 .. 7.42), and at
 * 128^3 and 10 nm (box x alpha = 9.3) it is 2.3 % with one seed in twelve off by 6 %, too close to 3 %. So the twins
 * here keep 128^3 voxels but the voxel size is scaled to give box x alpha of about 14 (16 nm for F850, 32 nm for
 * C900); tests/regression/test_fit_cli.sh runs the F850 acceptance case at 200^3 and 10 nm itself. */
#include <stochmorph/fit.h>
#include <stochmorph/fft.h>
#include "smtest.h"
#include "smtest_volume.h"

/* The box [lo, lo + n) of the global label array all (size nfull, x fastest), as a voxel function. */
typedef struct {
  const uint8_t *all;
  const int64_t *nfull, *lo;
} Box;

static int box_label(int64_t i, int64_t j, int64_t k, void *ctx)
{
  const Box *b = (const Box *)ctx;
  return b->all[((b->lo[2] + k) * b->nfull[1] + b->lo[1] + j) * b->nfull[0] + b->lo[0] + i];
}

/* A volume on comm of the box [lo, lo + n) of all, every rank filling its own slab (free with
   sm_test_volume_destroy). */
static PetscErrorCode volume_from_global(MPI_Comm comm, const uint8_t *all, const int64_t nfull[3], const int64_t lo[3],
                                         const int64_t n[3], const PetscReal h[3], int np, const char *const *names,
                                         PetscBool periodic, SMVolume *vol)
{
  Box box = {all, nfull, lo};

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_function(comm, n, h, np, names, box_label, &box, vol));
  PetscCall(sm_volume_set_periodic(*vol, periodic));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  const char *name, *options;
  int64_t     n[3];
  PetscReal   h[3];
  uint64_t    seed;
  PetscBool   crop; /* fit the box [8, n - 8) of the twin, non-periodic */
} Case;

/* The numbers a fit produces, for the bitwise comparison across rank counts. */
#define NVALS 16
static void two_phase_values(const SMFitResult *r, double v[NVALS])
{
  double w[NVALS] = {r->volume_fraction,
                     r->threshold,
                     r->alpha,
                     r->residual,
                     r->range[0],
                     r->range[1],
                     r->sigma_volume_fraction,
                     r->sigma_lag,
                     r->alpha_axis[0],
                     r->alpha_axis[1],
                     r->alpha_axis[2],
                     r->isotropy_spread,
                     r->C_model[1],
                     r->rho_data[1],
                     r->C_data[2],
                     (double)r->nbins};
  for (int i = 0; i < NVALS; i++) v[i] = w[i];
}
static void pluri_values(const SMPluriFitResult *r, double v[NVALS])
{
  double w[NVALS] = {r->eps[0],      r->eps[1],          r->eps[2],         r->sigma_eps_active,
                     r->threshold_x, r->threshold_z,     r->alpha_x,        r->alpha_y,
                     r->m,           r->residual[0],     r->residual[1],    r->residual[2],
                     r->range_y[1],  r->alpha_x_axis[2], r->m_distance[17], r->rho_y_data[2]};
  for (int i = 0; i < NVALS; i++) v[i] = w[i];
}

static PetscErrorCode fit_volume(MPI_Comm comm, SMVolume vol, const SMModelParams *p, double v[NVALS], SMFitResult *r,
                                 SMPluriFitResult *pr)
{
  SMFitOptions o;
  SMFitData    d;

  PetscFunctionBeginUser;
  PetscCall(sm_fit_options_default(&o));
  PetscCall(sm_fit_data_create(vol, p->type == SM_MODEL_PLURI, &o, &d));
  if (p->type == SM_MODEL_PLURI) {
    PetscCall(sm_fit_pluri(comm, &d, &o, pr));
    pluri_values(pr, v);
  } else {
    PetscCall(sm_fit_two_phase(comm, &d, p->type, p->dof, &o, r));
    two_phase_values(r, v);
  }
  PetscCall(sm_fit_data_free(&d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run_case(MPI_Comm comm, const Case *c)
{
  SMModel            model;
  SMModelParams      p;
  SMGrid             grid;
  SMVolume           twin, vol;
  SMFitResult        r = {0}, rs = {0};
  SMPluriFitResult   pr = {0}, prs = {0};
  uint8_t           *all;
  int64_t            lo[3] = {0, 0, 0}, n[3];
  double             vw[NVALS], vs[NVALS];
  PetscMPIInt        rank;
  int                np;
  const char *const *names;
  double             t0 = MPI_Wtime();

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscOptionsClear(NULL));
  PetscCall(PetscOptionsInsertString(NULL, c->options));
  PetscCall(sm_model_create_from_options(comm, &model));
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_create(comm, c->n, c->h, &grid));
  PetscCall(sm_model_generate(model, grid, c->seed, 0, FFTW_ESTIMATE, NULL, &twin));
  PetscCall(sm_volume_get_phases(twin, &np, &names));
  PetscCall(sm_test_volume_allgather(twin, &all));
  for (int d = 0; d < 3; d++) {
    lo[d] = c->crop ? 8 : 0;
    n[d]  = c->n[d] - 2 * lo[d];
  }
  if (c->crop)
    PetscCall(volume_from_global(comm, all, c->n, lo, n, c->h, np, names, PETSC_FALSE, &vol));
  else
    vol = twin;
  PetscCall(fit_volume(comm, vol, &p, vw, &r, &pr));

  /* tolerances of SPEC 4's round trip */
  if (p.type == SM_MODEL_PLURI) {
    SM_TEST_CLOSE(pr.eps[0], p.volume_fraction[1], 0.01, "pluri eps_active");
    SM_TEST_CLOSE(pr.eps[1], p.volume_fraction[2], 0.01, "pluri eps_carbon");
    SM_TEST_CLOSE(pr.eps[2], p.volume_fraction[0], 0.01, "pluri eps_pore");
    SM_TEST_REL(pr.alpha_x, p.alpha_x, 0.05, "pluri alpha_X");
    SM_TEST_REL(pr.alpha_y, p.alpha_y, 0.05, "pluri alpha_Y");
    SM_TEST_CLOSE(pr.m, p.m, 0.05, "pluri m");
    /* the model twin is isotropic: the axis fits of alpha_X agree with alpha_X within the 5 % above */
    for (int a = 0; a < 3; a++) SM_TEST_REL(pr.alpha_x_axis[a], p.alpha_x, 0.05, "pluri alpha_X along an axis");
  } else {
    char what[160];
    PetscCall(
        PetscSNPrintf(what, sizeof(what), "%s: p within 3 sigma (sigma = %.3g)", c->name, r.sigma_volume_fraction));
    SM_TEST_CLOSE(r.volume_fraction, p.volume_fraction[1], 3 * r.sigma_volume_fraction, what);
    PetscCall(PetscSNPrintf(what, sizeof(what), "%s: alpha within 3 %%", c->name));
    SM_TEST_REL(r.alpha, p.alpha, 0.03, what);
    /* sigma is positive and below the binomial bound of a fully correlated box, sqrt(p (1 - p)) */
    SM_TEST_TRUE(
        r.sigma_volume_fraction > 0 && r.sigma_volume_fraction < sqrt(p.volume_fraction[1] * p.volume_fraction[0]),
        "%s: sigma %g out of range", c->name, r.sigma_volume_fraction);
    SM_TEST_TRUE(r.range[0] > 0 && r.range[1] > r.range[0], "%s: empty fit range", c->name);
    /* isotropic twin: each axis fit agrees with the true alpha within twice the radial tolerance (one line of lags
       per axis is noisier than the radial average; measured spread 1-5 % between axes) */
    for (int a = 0; a < 3; a++) SM_TEST_REL(r.alpha_axis[a], p.alpha, 0.06, "alpha along an axis");
  }

  /* the same fit on rank 0 alone */
  if (!rank) {
    SMVolume self;
    PetscCall(volume_from_global(PETSC_COMM_SELF, all, c->n, lo, n, c->h, np, names, c->crop ? PETSC_FALSE : PETSC_TRUE,
                                 &self));
    PetscCall(fit_volume(PETSC_COMM_SELF, self, &p, vs, &rs, &prs));
    for (int i = 0; i < NVALS; i++)
      SM_TEST_TRUE(vw[i] == vs[i] || (isnan(vw[i]) && isnan(vs[i])),
                   "%s: value %d differs between the rank counts: %.17g vs %.17g", c->name, i, vw[i], vs[i]);
    PetscCall(sm_test_volume_destroy(&self));
  }
  if (!rank) {
    if (p.type == SM_MODEL_PLURI)
      printf("%-10s eps %.4f %.4f %.4f alpha_X %.4f alpha_Y %.4f m %.3f (%.1f s)\n", c->name, pr.eps[0], pr.eps[1],
             pr.eps[2], pr.alpha_x, pr.alpha_y, pr.m, MPI_Wtime() - t0);
    else
      printf("%-10s p %.4f (sigma %.4f) alpha %.4f residual %.3g (%.1f s)\n", c->name, r.volume_fraction,
             r.sigma_volume_fraction, r.alpha, r.residual, MPI_Wtime() - t0);
  }
  PetscCall(sm_fit_result_free(&r));
  PetscCall(sm_fit_result_free(&rs));
  PetscCall(sm_fit_pluri_result_free(&pr));
  PetscCall(sm_fit_pluri_result_free(&prs));
  if (c->crop) PetscCall(sm_test_volume_destroy(&vol));
  PetscCall(PetscFree(all));
  PetscCall(sm_test_volume_destroy(&twin));
  PetscCall(sm_model_destroy(&model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_round_trips(MPI_Comm comm)
{
  const char *f850    = "-model chi2 -model_dof 2 -model_volume_fraction 0.46 -model_alpha 7.28";
  const Case  cases[] = {
       {"F850", f850, {128, 128, 128}, {0.016, 0.016, 0.016}, 11, PETSC_FALSE},
       {"C900",
        "-model chi2 -model_dof 2 -model_volume_fraction 0.70 -model_alpha 3.49",
        {128, 128, 128},
        {0.032, 0.032, 0.032},
        12,
        PETSC_FALSE},
       {"gauss-aniso",
        "-model gauss -model_volume_fraction 0.46 -model_alpha 7.28",
        {128, 128, 112},
        {0.0166, 0.0166, 0.02},
        13,
        PETSC_FALSE},
       {"F850-crop", f850, {144, 144, 144}, {0.016, 0.016, 0.016}, 14, PETSC_TRUE},
       {"NVP/C",
        "-model pluri -model_volume_fractions 0.5148,0.3372 -model_alpha_x 16.6 -model_alpha_y 26.5 -model_m 0.15",
        {96, 96, 96},
        {0.0166, 0.0166, 0.0166},
        15,
        PETSC_FALSE},
  };

  PetscFunctionBeginUser;
  for (size_t c = 0; c < PETSC_STATIC_ARRAY_LENGTH(cases); c++) PetscCall(run_case(comm, &cases[c]));
  PetscCall(PetscOptionsClear(NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"round trips", test_round_trips})
