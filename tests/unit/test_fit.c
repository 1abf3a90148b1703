/* Calibration building blocks (src/model/fit.c) against independent truths: least squares for alpha on exact rho
 * curves of both covariance families (and the stationarity of the objective at the answer for perturbed data), the
 * whole two-phase fit on exact coverage curves (alpha, residual, and the fit range from the closed form of the gauss
 * coverage at p = 1/2), -model auto on exact chi2 k = 3 curves, the pluri m scan and the whole pluri fit on exact
 * C11 / C12 / C22 curves, and sigma(p) of Eq. 18 against the binomial variance of white noise and a brute-force sum
 * over every pair of lags of a small periodic and a minus-sampled window. */
#include <stochmorph/fit.h>
#include "smtest.h"

#define SM_PI 3.14159265358979323846

/* Exact curves on the lags h_b = b dh (b = 0 .. nb-1) packed as SMFitData, the way sm_fit_data_create leaves them:
   two-phase data have phases {other, phase}, pluri data {pore, active, carbon}. The axis curves repeat the radial
   curve on lags k dh (an isotropic structure on a cubic lattice). */
typedef double (*CoverageFn)(int pair_i, int pair_j, double h, const void *ctx);

static PetscErrorCode make_data(int nphases, int nb, double dh, CoverageFn fn, const void *ctx, const double *vf,
                                SMFitData *d)
{
  SMTwoPoint *tp = &d->tp;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(d, sizeof(*d)));
  for (int a = 0; a < 3; a++) {
    d->n[a] = 4 * nb;
    d->h[a] = dh;
  }
  d->periodic = PETSC_TRUE;
  d->pluri    = nphases == 3 ? PETSC_TRUE : PETSC_FALSE;
  d->nphases  = nphases;
  d->active   = nphases == 3 ? 1 : -1;
  d->carbon   = nphases == 3 ? 2 : -1;
  d->pore     = nphases == 3 ? 0 : -1;
  for (int i = 0; i < nphases; i++) d->volume_fraction[i] = vf[i];
  tp->nphases  = nphases;
  tp->npairs   = nphases * (nphases + 1) / 2;
  tp->periodic = PETSC_TRUE;
  tp->nbins    = nb;
  for (int i = 0, p = 0; i < nphases; i++)
    for (int j = i; j < nphases; j++, p++) {
      tp->pair_i[p] = i;
      tp->pair_j[p] = j;
    }
  PetscCall(PetscMalloc2(nb, &tp->h, (size_t)tp->npairs * nb, &tp->C));
  for (int b = 0; b < nb; b++) tp->h[b] = b * dh;
  for (int p = 0; p < tp->npairs; p++)
    for (int b = 0; b < nb; b++) tp->C[(size_t)p * nb + b] = fn(tp->pair_i[p], tp->pair_j[p], b * dh, ctx);
  for (int a = 0; a < 3; a++) {
    tp->naxis[a] = nb;
    PetscCall(PetscMalloc2(nb, &tp->h_axis[a], (size_t)tp->npairs * nb, &tp->C_axis[a]));
    PetscCall(PetscArraycpy(tp->h_axis[a], tp->h, nb));
    PetscCall(PetscArraycpy(tp->C_axis[a], tp->C, (size_t)tp->npairs * nb));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  SMModelType      type;
  int              k;
  SMCovarianceType cov;
  double           alpha, p, lambda;
} TwoPhase;

static double two_phase_cov(int i, int j, double h, const void *ctx)
{
  const TwoPhase *t = (const TwoPhase *)ctx;
  double          r = sm_covariance_families[t->cov].rho(t->alpha, h);
  double c = t->type == SM_MODEL_GAUSS ? sm_gauss_coverage(t->lambda, r) : sm_chi2_coverage(t->k, t->lambda, r);
  if (i == 1 && j == 1) return c;
  if (i == 0 && j == 0) return 1 - 2 * t->p + c;
  return t->p - c;
}

typedef struct {
  double lX, lZ, m, ax, ay;
} Pluri;

static double pluri_cov(int i, int j, double h, const void *ctx)
{
  const Pluri *q  = (const Pluri *)ctx;
  double       rx = exp(-PetscSqr(q->ax * h)), ry = exp(-PetscSqr(q->ay * h));
  if (i == 1 && j == 1) return sm_pluri_C11(q->lX, rx);
  if (i == 1 && j == 2) return sm_pluri_C12(q->lX, q->lZ, q->m, rx, ry);
  if (i == 2 && j == 2) return sm_pluri_C22(q->lX, q->lZ, q->m, rx, ry);
  return NAN; /* pairs with pore are not used by the fit */
}

static PetscErrorCode test_alpha_least_squares(MPI_Comm comm)
{
  double h[24], rho[24], a, rss;

  PetscFunctionBeginUser;
  (void)comm;
  /* exact curves: the minimiser is the true alpha; Brent's interval test is 1e-14 relative in ln alpha, and the
     objective is resolved to ~1e-16 in the residuals, so 1e-10 relative is a safe margin */
  for (int f = 0; f < SM_COV_NUM; f++) {
    double alphas[3] = {7.28, 3.49, 26.5};
    for (int t = 0; t < 3; t++) {
      int n = 0;
      for (int b = 1; b <= 24; b++) {
        double r = sm_covariance_families[f].rho(alphas[t], 0.01 * b);
        if (r > 0.02) {
          h[n]   = 0.01 * b;
          rho[n] = r;
          n++;
        }
      }
      PetscCall(sm_fit_alpha((SMCovarianceType)f, n, h, rho, &a, &rss));
      SM_TEST_REL(a, alphas[t], 1e-10, sm_covariance_families[f].name);
      SM_TEST_CLOSE(rss, 0, 1e-20, "residual sum of squares of exact data");
    }
  }
  /* perturbed data: the answer must be the least-squares minimiser, i.e. the objective is larger on both sides
     (steps of 1e-6 relative: the minimum is located to ~1e-14, far inside) */
  {
    int    n = 12;
    double a0, s0 = 0, sl = 0, sr = 0;
    for (int i = 0; i < n; i++) {
      h[i]   = 0.012 * (i + 1);
      rho[i] = exp(-PetscSqr(5.0 * h[i])) * (1 + 0.03 * sin(3.0 * i));
    }
    PetscCall(sm_fit_alpha(SM_COV_GAUSS, n, h, rho, &a0, &rss));
    for (int i = 0; i < n; i++) {
      s0 += PetscSqr(exp(-PetscSqr(a0 * h[i])) - rho[i]);
      sl += PetscSqr(exp(-PetscSqr(a0 * (1 - 1e-6) * h[i])) - rho[i]);
      sr += PetscSqr(exp(-PetscSqr(a0 * (1 + 1e-6) * h[i])) - rho[i]);
    }
    SM_TEST_TRUE(s0 < sl && s0 < sr, "alpha %.12g is not the least-squares minimiser (%.17g, %.17g, %.17g)", a0, sl, s0,
                 sr);
    SM_TEST_CLOSE(rss, s0, 1e-15, "reported residual sum of squares");
    SM_TEST_REL(a0, 5.0, 0.03, "alpha of data perturbed by 3 %");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_two_phase(MPI_Comm comm)
{
  SMFitOptions o;
  SMFitData    d;
  SMFitResult  r;

  PetscFunctionBeginUser;
  (void)comm;
  PetscCall(sm_fit_options_default(&o));
  /* F850 (chi2, k = 2) and C900 parameters at 10 nm, both covariance families, and a gauss model at p = 1/2 */
  {
    TwoPhase cases[4] = {{SM_MODEL_CHI2, 2, SM_COV_GAUSS, 7.28, 0.46, 0},
                         {SM_MODEL_CHI2, 2, SM_COV_GAUSS, 3.49, 0.70, 0},
                         {SM_MODEL_GAUSS, 0, SM_COV_EXPONENTIAL, 9.0, 0.35, 0},
                         {SM_MODEL_GAUSS, 0, SM_COV_GAUSS, 7.28, 0.5, 0}};
    for (int c = 0; c < 4; c++) {
      TwoPhase *t = &cases[c];
      double    vf[2];
      if (t->type == SM_MODEL_GAUSS)
        PetscCall(sm_gauss_threshold(t->p, &t->lambda));
      else
        PetscCall(sm_chi2_threshold(t->k, t->p, &t->lambda));
      vf[0]        = 1 - t->p;
      vf[1]        = t->p;
      o.covariance = t->cov;
      PetscCall(make_data(2, 80, 0.01, two_phase_cov, t, vf, &d));
      PetscCall(sm_fit_two_phase(PETSC_COMM_SELF, &d, t->type, t->k, &o, &r));
      /* exact curves: alpha to the accuracy of the bisections for rho (~1e-14) amplified by the least squares, well
         below 1e-8 relative; the residual is at the level of the coverage accuracy, 1e-14 (theory.h) */
      SM_TEST_REL(r.alpha, t->alpha, 1e-8, "alpha from exact coverage curves");
      SM_TEST_CLOSE(r.residual, 0, 1e-12, "residual of exact curves");
      SM_TEST_REL(r.alpha_axis[2], t->alpha, 1e-8, "alpha from an exact axis curve");
      SM_TEST_CLOSE(r.isotropy_spread, 0, 1e-8, "isotropy spread of identical axis curves");
      if (c == 3) {
        /* gauss at p = 1/2: C - p^2 = arcsin(rho) / (2 pi) (Sheppard), so C - p^2 > 0.05 (p - p^2) = 0.0125 holds
           exactly while rho > sin(0.025 pi), i.e. h < sqrt(-ln sin(0.025 pi)) / alpha */
        double hstar = sqrt(-log(sin(0.025 * SM_PI))) / t->alpha;
        int    bhi   = (int)floor(hstar / 0.01);
        SM_TEST_CLOSE(r.range[1], bhi * 0.01, 1e-12, "end of the fit range (Sheppard's formula)");
        SM_TEST_CLOSE(r.range[0], 0.01, 1e-15, "start of the fit range");
      }
      PetscCall(sm_fit_result_free(&r));
      PetscCall(sm_fit_data_free(&d));
    }
  }
  /* -model auto on exact chi2 k = 3 curves: k = 3 fits exactly, every other candidate leaves a residual */
  {
    TwoPhase    t = {SM_MODEL_CHI2, 3, SM_COV_GAUSS, 6.0, 0.55, 0};
    SMFitResult cand[SM_FIT_AUTO_KMAX + 1];
    double      vf[2] = {0.45, 0.55};
    int         best;
    PetscCall(sm_chi2_threshold(3, t.p, &t.lambda));
    o.covariance = SM_COV_GAUSS;
    PetscCall(make_data(2, 80, 0.01, two_phase_cov, &t, vf, &d));
    PetscCall(sm_fit_auto(PETSC_COMM_SELF, &d, &o, cand, &best));
    SM_TEST_TRUE(best == 3, "auto chose candidate %d, expected chi2 k = 3", best);
    SM_TEST_TRUE(cand[best].type == SM_MODEL_CHI2 && cand[best].dof == 3, "auto result is not chi2 k = 3");
    for (int c = 0; c <= SM_FIT_AUTO_KMAX; c++)
      if (c != 3)
        SM_TEST_TRUE(cand[c].residual > 100 * cand[3].residual + 1e-9, "candidate %d residual %.3g vs %.3g", c,
                     cand[c].residual, cand[3].residual);
    for (int c = 0; c <= SM_FIT_AUTO_KMAX; c++) PetscCall(sm_fit_result_free(&cand[c]));
    PetscCall(sm_fit_data_free(&d));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_pluri(MPI_Comm comm)
{
  const double eps1 = 0.5148, eps2 = 0.3372, ax = 16.6, ay = 26.5, dh = 0.0166;
  double       lX, rX[20], C12[20], m[SM_FIT_PLURI_NM], dist[SM_FIT_PLURI_NM];
  int          best, n = 20;

  PetscFunctionBeginUser;
  (void)comm;
  PetscCall(sm_gauss_threshold(eps1, &lX));
  for (int i = 0; i < n; i++) rX[i] = exp(-PetscSqr(ax * dh * (i + 1)));
  /* m on the scan grid: recovered exactly (distance at the level of the C12 accuracy, 1e-11 per point) */
  {
    double ms[4] = {0.0, 0.15, 0.6, 0.95};
    for (int t = 0; t < 4; t++) {
      double lZ;
      PetscCall(sm_pluri_threshold_z(lX, eps2, ms[t], &lZ));
      for (int i = 0; i < n; i++) C12[i] = sm_pluri_C12(lX, lZ, ms[t], rX[i], 0);
      PetscCall(sm_fit_pluri_m_scan(lX, eps2, n, rX, C12, SM_FIT_PLURI_NM, m, dist, &best));
      SM_TEST_CLOSE(m[best], ms[t], 1e-12, "m from exact C12 (grid value)");
      SM_TEST_CLOSE(dist[best], 0, 1e-18, "m scan distance at the true m");
    }
  }
  /* m between grid points: the nearest grid value (step 0.005) */
  {
    double lZ, mt = 0.4123;
    PetscCall(sm_pluri_threshold_z(lX, eps2, mt, &lZ));
    for (int i = 0; i < n; i++) C12[i] = sm_pluri_C12(lX, lZ, mt, rX[i], 0);
    PetscCall(sm_fit_pluri_m_scan(lX, eps2, n, rX, C12, SM_FIT_PLURI_NM, m, dist, &best));
    SM_TEST_CLOSE(m[best], 0.41, 1e-12, "m between grid points");
  }
  /* the whole pluri fit on exact NVP/C curves (SPEC 3.4) */
  {
    Pluri            q     = {lX, 0, 0.15, ax, ay};
    double           vf[3] = {1 - eps1 - eps2, eps1, eps2};
    SMFitOptions     o;
    SMFitData        d;
    SMPluriFitResult r;
    PetscCall(sm_pluri_threshold_z(lX, eps2, q.m, &q.lZ));
    PetscCall(sm_fit_options_default(&o));
    PetscCall(make_data(3, 40, dh, pluri_cov, &q, vf, &d));
    PetscCall(sm_fit_pluri(PETSC_COMM_SELF, &d, &o, &r));
    SM_TEST_REL(r.alpha_x, ax, 1e-8, "alpha_X from exact C11");
    SM_TEST_CLOSE(r.m, 0.15, 1e-12, "m from exact C12");
    /* rho_Y is found by a root finder to 1e-10 in rho_Y, C22 is accurate to 1e-11: alpha_Y to ~1e-8 */
    SM_TEST_REL(r.alpha_y, ay, 1e-6, "alpha_Y from exact C22");
    SM_TEST_CLOSE(r.threshold_z, q.lZ, 1e-10, "lambda_Z of the fitted model");
    for (int k = 0; k < 3; k++) SM_TEST_CLOSE(r.residual[k], 0, 1e-9, "pluri residuals of exact curves");
    PetscCall(sm_fit_pluri_result_free(&r));
    PetscCall(sm_fit_data_free(&d));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Brute force of Eq. 18 over every lag of the window: periodic (each of the N offsets once, minimum-image length,
   N pairs) or minus-sampled (all lags |z_d| < n_d, prod (n_d - |z_d|) pairs). */
static double sigma_brute(const int64_t n[3], const PetscReal hv[3], PetscBool periodic, double a, double H)
{
  double N = (double)(n[0] * n[1] * n[2]), s = 0;
  for (int64_t z = periodic ? 0 : -(n[2] - 1); z < n[2]; z++)
    for (int64_t y = periodic ? 0 : -(n[1] - 1); y < n[1]; y++)
      for (int64_t x = periodic ? 0 : -(n[0] - 1); x < n[0]; x++) {
        int64_t u[3] = {x, y, z};
        double  l2 = 0, pairs = 1, l;
        for (int d = 0; d < 3; d++) {
          int64_t w = u[d] < 0 ? -u[d] : u[d];
          if (periodic && n[d] - w < w) w = n[d] - w;
          l2 += (double)(w * w) * hv[d] * hv[d];
          pairs *= periodic ? 1.0 : (double)(n[d] - (u[d] < 0 ? -u[d] : u[d]));
        }
        l = sqrt(l2);
        s += (periodic ? N : pairs) * (l < H ? a * (1 - l / H) : 0);
      }
  return sqrt(s / (N * N));
}

static PetscErrorCode test_sigma(MPI_Comm comm)
{
  const int64_t   n[3]  = {12, 10, 9};
  const PetscReal hc[3] = {0.01, 0.01, 0.01}, ha[3] = {0.0166, 0.0166, 0.02};
  double          hb[40], C0[40], s, p = 0.3, N = 12 * 10 * 9;

  PetscFunctionBeginUser;
  (void)comm;
  /* white noise: C0 = p (1 - p) at lag 0 only, so Var p^ = p (1 - p) / N (binomial), periodic or not */
  for (int b = 0; b < 8; b++) {
    hb[b] = b * 0.01;
    C0[b] = b == 0 ? p * (1 - p) : 0;
  }
  for (int per = 0; per < 2; per++) {
    PetscCall(sm_fit_sigma_volume_fraction(n, hc, (PetscBool)per, 8, hb, C0, &s));
    SM_TEST_REL(s, sqrt(p * (1 - p) / N), 1e-13, "sigma of white noise (binomial)");
  }
  /* C0 = a (1 - h / H)+ with the kink on a node: the linear interpolation is exact, so the sum must equal the
     brute-force sum over the lags of the window (rounding only: 1e-12 relative) */
  for (int vox = 0; vox < 2; vox++) {
    const PetscReal *hv = vox ? ha : hc;
    double           dh = PetscMin(hv[0], PetscMin(hv[1], hv[2])), H = 3 * dh, a = 0.2;
    int              nb = 6;
    for (int b = 0; b < nb; b++) {
      hb[b] = b * dh;
      C0[b] = b < 3 ? a * (1 - b / 3.0) : 0;
    }
    for (int per = 0; per < 2; per++) {
      PetscCall(sm_fit_sigma_volume_fraction(n, hv, (PetscBool)per, nb, hb, C0, &s));
      SM_TEST_REL(s, sigma_brute(n, hv, (PetscBool)per, a, H), 1e-12,
                  per ? "sigma, periodic window" : "sigma, minus-sampled box");
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"alpha by least squares", test_alpha_least_squares}, {"two-phase fits", test_two_phase},
             {"pluri fits", test_pluri}, {"sigma of p", test_sigma})
