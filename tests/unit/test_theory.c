/* Covariance families and the two-phase models (gauss, chi2) of src/model/theory.c against independent truths:
 * closed forms, SPEC 3.1's integral evaluated by GSL quadrature, a 2D integral of the chi2 joint law derived by
 * conditioning (independent of the SPEC 3.2 series), bivariate normal rectangles for k = 1, Monte Carlo with a fixed
 * seed, the Rice small-distance asymptotics, and the SPEC 6.3 example. */
#include <stochmorph/theory.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <string.h>

#include "smtest.h"

#define PI 3.14159265358979323846

static int expect_error(PetscErrorCode ierr)
{
  return ierr != PETSC_SUCCESS;
}

/* ---------------------------------------------------------------------------------------------------------- */
static PetscErrorCode test_covariance_families(MPI_Comm comm)
{
  const SMCovarianceFamily *g = &sm_covariance_families[SM_COV_GAUSS], *e = &sm_covariance_families[SM_COV_EXPONENTIAL];

  PetscFunctionBeginUser;
  (void)comm;
  SM_TEST_TRUE(!strcmp(g->name, "gauss") && !strcmp(e->name, "exponential"), "family names");
  SM_TEST_TRUE(!strcmp(sm_covariance_names[SM_COV_GAUSS], "gauss") &&
                   !strcmp(sm_covariance_names[SM_COV_EXPONENTIAL], "exponential") &&
                   !strcmp(sm_covariance_names[SM_COV_NUM], "SMCovarianceType") &&
                   !strcmp(sm_covariance_names[SM_COV_NUM + 1], "SM_COV_") &&
                   sm_covariance_names[SM_COV_NUM + 2] == NULL,
               "PETSc enum list layout");
  /* hand values: exp(-(2 * 0.3)^2) = exp(-0.36), exp(-2 * 0.3) = exp(-0.6) */
  SM_TEST_CLOSE(g->rho(2.0, 0.3), 0.697676326071031, 1e-15, "gauss rho");
  SM_TEST_CLOSE(e->rho(2.0, 0.3), 0.5488116360940264, 1e-15, "exponential rho");
  SM_TEST_CLOSE(g->rho(7.0, 0.0), 1.0, 0, "rho(0) = 1");
  /* lambda2 = -rho''(0) against the central difference (2 - 2 rho(h)) / h^2 = 2 alpha^2 - alpha^4 h^2 + O(h^4):
     with alpha = 2, h = 5e-4 the truncation is 4e-6 (5e-7 relative) and rounding 2e-16 / h^2 ~ 1e-9. */
  double h = 5e-4, fd = (2 - 2 * g->rho(2.0, h)) / (h * h);
  SM_TEST_REL(g->lambda2(2.0), fd, 1e-5, "gauss lambda2 vs finite difference");
  SM_TEST_TRUE(e->lambda2(2.0) < 0, "exponential lambda2 is infinite (negative flag)");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* SPEC 3.1 integral, with t = sin(theta) to remove the 1/sqrt(1 - t^2) endpoint singularity. */
typedef struct {
  double l2;
} GaussCovCtx;

static double spec31_integrand(double th, void *ctx)
{
  double l2 = ((const GaussCovCtx *)ctx)->l2;
  return exp(-l2 / (1 + sin(th)));
}

static double gauss_coverage_spec31(double lambda, double r)
{
  GaussCovCtx                ctx = {lambda * lambda};
  gsl_integration_workspace *ws  = gsl_integration_workspace_alloc(200);
  gsl_function               F   = {spec31_integrand, &ctx};
  double                     res, err, p = 0.5 * erfc(lambda / sqrt(2.0));
  gsl_integration_qag(&F, 0, asin(r), 1e-16, 1e-14, 200, GSL_INTEG_GAUSS41, ws, &res, &err);
  gsl_integration_workspace_free(ws);
  return p * p + res / (2 * PI);
}

static PetscErrorCode test_gauss_model(MPI_Comm comm)
{
  double lambda;

  PetscFunctionBeginUser;
  (void)comm;
  /* Phi^-1(0.7) = 0.524400512708041 (tables) */
  PetscCall(sm_gauss_threshold(0.3, &lambda));
  SM_TEST_CLOSE(lambda, 0.524400512708041, 1e-14, "gauss threshold p = 0.3");
  SM_TEST_CLOSE(sm_gauss_volume_fraction(lambda), 0.3, 1e-15, "gauss volume fraction round trip");
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  SM_TEST_TRUE(expect_error(sm_gauss_threshold(0.0, &lambda)), "p = 0 refused");
  SM_TEST_TRUE(expect_error(sm_gauss_threshold(1.2, &lambda)), "p = 1.2 refused");
  PetscCall(PetscPopErrorHandler());

  const double lams[] = {-1.2, 0.0, 0.3, 1.5, 2.8};
  const double rs[]   = {0.05, 0.3, 0.6, 0.9, 0.99, 0.999999};
  for (size_t i = 0; i < 5; i++) {
    double l = lams[i], p = sm_gauss_volume_fraction(l);
    SM_TEST_CLOSE(sm_gauss_coverage(l, 0), p * p, 1e-16, "gauss C(0) = p^2");
    SM_TEST_CLOSE(sm_gauss_coverage(l, 1), p, 1e-16, "gauss C(1) = p");
    for (size_t j = 0; j < 6; j++) {
      /* quadrature requested to 1e-16 absolute; 1e-14 leaves room for its rounding */
      SM_TEST_CLOSE(sm_gauss_coverage(l, rs[j]), gauss_coverage_spec31(l, rs[j]), 1e-14,
                    "gauss C(r) vs SPEC 3.1 integral");
    }
  }
  /* lambda = 0: C = 1/4 + asin(r)/(2 pi), so r = sin(2 pi (C - 1/4)) in closed form */
  for (double C = 0.26; C < 0.5; C += 0.06) {
    SM_TEST_CLOSE(sm_gauss_correlation_from_coverage(0.0, C), sin(2 * PI * (C - 0.25)), 1e-12,
                  "gauss r from C (closed form)");
  }
  for (size_t i = 0; i < 5; i++) {
    double p = sm_gauss_volume_fraction(lams[i]);
    for (size_t j = 0; j < 5; j++) {
      /* bisection stops at 1e-14 in r; dC/dr >= phi2(l, l; 0) > 1e-3 here, so 1e-16 in C costs < 1e-13 in r */
      SM_TEST_CLOSE(sm_gauss_correlation_from_coverage(lams[i], sm_gauss_coverage(lams[i], rs[j])), rs[j], 1e-11,
                    "gauss r from C round trip");
    }
    SM_TEST_TRUE(sm_gauss_correlation_from_coverage(lams[i], p * p * 0.99) == 0.0, "C <= p^2 gives r = 0");
    SM_TEST_TRUE(sm_gauss_correlation_from_coverage(lams[i], p * 1.01) == 1.0, "C >= p gives r = 1");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rice formula vs the small-distance slope of the coverage. For a smooth field, p - C = (S/4) h (1 + O(h^2)) and
   1 - rho(h) = (lambda2/2) h^2 (1 + O(h^2)), so S = lim 4 (p - C(r)) sqrt(lambda2 / (2 (1 - r))). The relative
   error at finite 1 - r is c (1 - r), c depending on k and lambda; |c| < 1 for the thresholds used (it drops 100x
   per 100x in 1 - r, which is what separates it from a wrong constant), so 3 (1 - r) is the tolerance. */
static PetscErrorCode test_rice(MPI_Comm comm)
{
  const double lambda2 = 2.0; /* gauss covariance with alpha = 1 */
  const double ps[]    = {0.9, 0.46, 0.05};

  PetscFunctionBeginUser;
  (void)comm;
  for (size_t i = 0; i < 3; i++) {
    double l = -sm_normal_quantile(ps[i]);
    double r = 1 - 1e-6, e = 1 - r; /* e is exact: 1 - r is computed without rounding */
    double S = 4 * (ps[i] - sm_gauss_coverage(l, r)) * sqrt(lambda2 / (2 * e));
    SM_TEST_REL(sm_gauss_surface_area(l, lambda2), S, 1e-5, "gauss Rice vs slope of C");
    for (int k = 1; k <= 3; k++) {
      double lk, pk;
      PetscCall(sm_chi2_threshold(k, ps[i], &lk));
      pk = sm_chi2_volume_fraction(k, lk);
      for (double ee = 1e-4; ee > 1e-9; ee *= 1e-2) {
        r = 1 - ee, e = 1 - r;
        double Sk = 4 * (pk - sm_chi2_coverage(k, lk, r)) * sqrt(lambda2 / (2 * e));
        /* expansion error c e, plus rounding 1e-16 / (p - C) < 1e-10 */
        SM_TEST_REL(sm_chi2_surface_area(k, lk, lambda2), Sk, 3 * e + 1e-9, "chi2 Rice vs slope of C");
      }
    }
  }
  /* SPEC 6.3 example (NMC F850): p = 0.46, alpha = 7.28 1/um gives S = 9.42 1/um (printed to 3 digits). */
  double l;
  PetscCall(sm_chi2_threshold(2, 0.46, &l));
  SM_TEST_CLOSE(sm_chi2_surface_area(2, l, sm_covariance_families[SM_COV_GAUSS].lambda2(7.28)), 9.42, 0.005,
                "SPEC 6.3 example");
  /* k = 2 closed form of SPEC 6.3: 2 sqrt(2/pi) sqrt(2 alpha^2 lambda) p */
  SM_TEST_REL(sm_chi2_surface_area(2, l, 2 * 7.28 * 7.28), 2 * sqrt(2 / PI) * sqrt(2 * 7.28 * 7.28 * l) * 0.46, 1e-14,
              "k = 2 form");
  SM_TEST_TRUE(isinf(sm_chi2_surface_area(2, l, -1)) && isinf(sm_gauss_surface_area(0.1, -1)),
               "exponential: infinite S");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------- */
/* chi2 thresholds from closed forms: chi2_1 = X^2 (p = 2 Phi(-sqrt(l))), chi2_2 is exponential (p = exp(-l/2)),
   chi2_3: p = 2 Phi(-sqrt(l)) + sqrt(2 l / pi) exp(-l/2). */
static double chi2_sf_closed(int k, double l)
{
  double b = sqrt(l), tail = erfc(b / sqrt(2.0));
  if (k == 1) return tail;
  if (k == 2) return exp(-0.5 * l);
  return tail + sqrt(2 * l / PI) * exp(-0.5 * l);
}

static PetscErrorCode test_chi2_threshold(MPI_Comm comm)
{
  const double ps[] = {1e-6, 0.05, 0.46, 0.68, 0.999};

  PetscFunctionBeginUser;
  (void)comm;
  for (int k = 1; k <= 3; k++) {
    for (size_t i = 0; i < 5; i++) {
      double l;
      PetscCall(sm_chi2_threshold(k, ps[i], &l));
      SM_TEST_REL(chi2_sf_closed(k, l), ps[i], 1e-12, "chi2 threshold vs closed-form tail");
      SM_TEST_REL(sm_chi2_volume_fraction(k, l), chi2_sf_closed(k, l), 1e-13, "chi2 volume fraction vs closed form");
    }
  }
  double l;
  PetscCall(sm_chi2_threshold(1, 0.3, &l));
  SM_TEST_CLOSE(sqrt(l), -sm_normal_quantile(0.15), 1e-13, "k = 1: sqrt(l) = Phi^-1(1 - p/2)");
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  SM_TEST_TRUE(expect_error(sm_chi2_threshold(0, 0.5, &l)), "k = 0 refused");
  SM_TEST_TRUE(expect_error(sm_chi2_threshold(2, 1.0, &l)), "p = 1 refused");
  PetscCall(PetscPopErrorHandler());
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Independent joint law for k >= 2. With X(t) = r X(s) + s W, s = sqrt(1 - r^2), W ~ N(0, I_k) independent, and
 * R = |X(s)|, W1 = the component of W along X(s): |X(t)|^2 = (r R + s W1)^2 + s^2 V, V ~ chi2_(k-1) independent.
 * Hence F = P(Y(s) < l, Y(t) < l) = int_0^sqrt(l) f_R(R) int phi(w) G_(k-1)((l - (r R + s w)^2) / s^2) dw dR over
 * |r R + s w| < sqrt(l), with f_R the chi_k density and G_(k-1) the chi2_(k-1) CDF (closed forms for k = 2, 3). */
typedef struct {
  int                        k;
  double                     l, r, s, R;
  gsl_integration_workspace *wi;
} Chi2Joint;

static double chi2_joint_inner(double w, void *ctx)
{
  const Chi2Joint *c = (const Chi2Joint *)ctx;
  double           v = c->r * c->R + c->s * w, z = (c->l - v * v) / (c->s * c->s);
  if (z <= 0) return 0;
  double G = c->k == 2 ? erf(sqrt(0.5 * z)) : -expm1(-0.5 * z); /* chi2_1, chi2_2 CDFs */
  return sm_normal_pdf(w) * G;
}

static double chi2_joint_outer(double R, void *ctx)
{
  Chi2Joint *c = (Chi2Joint *)ctx;
  double b = sqrt(c->l), lo = fmax(-12.0, (-b - c->r * R) / c->s), hi = fmin(12.0, (b - c->r * R) / c->s), res = 0, err;
  double fR = c->k == 2 ? R * exp(-0.5 * R * R) : sqrt(2 / PI) * R * R * exp(-0.5 * R * R);
  c->R      = R;
  if (hi <= lo) return 0;
  gsl_function F = {chi2_joint_inner, c};
  gsl_integration_qag(&F, lo, hi, 1e-14, 1e-12, 500, GSL_INTEG_GAUSS41, c->wi, &res, &err);
  return fR * res;
}

static double chi2_coverage_by_2d_integral(int k, double l, double r)
{
  Chi2Joint                  c  = {k, l, r, sqrt((1 - r) * (1 + r)), 0, gsl_integration_workspace_alloc(500)};
  gsl_integration_workspace *wo = gsl_integration_workspace_alloc(500);
  gsl_function               F  = {chi2_joint_outer, &c};
  double                     F2, err, p = chi2_sf_closed(k, l);
  gsl_integration_qag(&F, 0, sqrt(l), 1e-13, 1e-12, 500, GSL_INTEG_GAUSS41, wo, &F2, &err);
  gsl_integration_workspace_free(wo);
  gsl_integration_workspace_free(c.wi);
  return 2 * p - 1 + F2;
}

/* k = 1: Y = X^2, so F = P(|X(s)| < b, |X(t)| < b), b = sqrt(l): a bivariate normal rectangle. */
static double chi2_1_coverage_by_bvn(double l, double r)
{
  double b = sqrt(l), p = erfc(b / sqrt(2.0));
  double F = sm_bvn_cdf(b, b, r) - sm_bvn_cdf(b, -b, r) - sm_bvn_cdf(-b, b, r) + sm_bvn_cdf(-b, -b, r);
  return 2 * p - 1 + F;
}

static PetscErrorCode test_chi2_coverage_exact(MPI_Comm comm)
{
  const double ps[] = {0.9, 0.46, 0.1};
  const double rs[] = {0.2, 0.6, 0.9, 0.97, 0.999};

  PetscFunctionBeginUser;
  (void)comm;
  for (size_t i = 0; i < 3; i++) {
    for (int k = 1; k <= 3; k++) {
      double l, p;
      PetscCall(sm_chi2_threshold(k, ps[i], &l));
      p = sm_chi2_volume_fraction(k, l);
      SM_TEST_CLOSE(sm_chi2_coverage(k, l, 0), p * p, 1e-16, "chi2 C(0) = p^2");
      SM_TEST_CLOSE(sm_chi2_coverage(k, l, 1), p, 1e-16, "chi2 C(1) = p");
      /* p - C ~ sqrt(1 - r) near 1 (Rice): at 1 - r = 1e-14 it is below 1e-6 */
      SM_TEST_CLOSE(sm_chi2_coverage(k, l, 1 - 1e-14), p, 1e-6, "chi2 C(r -> 1) -> p");
      SM_TEST_CLOSE(sm_chi2_coverage(k, l, -0.6), sm_chi2_coverage(k, l, 0.6), 1e-16, "chi2 C even in r");
      for (size_t j = 0; j < 5; j++) {
        double C = sm_chi2_coverage(k, l, rs[j]);
        if (k == 1) {
          /* bvn is accurate to ~1e-15 per call (test_bvn); four calls and 2p - 1 */
          SM_TEST_CLOSE(C, chi2_1_coverage_by_bvn(l, rs[j]), 1e-14, "chi2_1 C vs bvn rectangle");
        } else {
          /* nested quadrature requested to 1e-13 absolute (outer) and 1e-14 (inner); 1e-12 allows for both */
          SM_TEST_CLOSE(C, chi2_coverage_by_2d_integral(k, l, rs[j]), 1e-12, "chi2 C vs 2D integral of the joint law");
        }
      }
      /* the series (r <= 0.9 or small x) and the Bessel form (r near 1) meet without a step, and C increases */
      double prev = p * p;
      int    mono = 1;
      for (double r = 0.0; r < 1; r += 0.001) {
        double C = sm_chi2_coverage(k, l, r);
        if (C < prev - 1e-15) mono = 0;
        prev = C;
      }
      SM_TEST_TRUE(mono, "chi2 C(r) increasing (k = %d, p = %g)", k, ps[i]);
      for (double r = 0.05; r < 1; r += 0.1) {
        /* C is even in r, so dC/dr is small near 0: at r = 0.05 it is ~1e-3 here and 1e-16 in C is 1e-13 in r */
        SM_TEST_CLOSE(sm_chi2_correlation_from_coverage(k, l, sm_chi2_coverage(k, l, r)), r, 1e-10,
                      "chi2 r from C round trip");
      }
      SM_TEST_CLOSE(sm_chi2_correlation_from_coverage(k, l, sm_chi2_coverage(k, l, 0.999)), 0.999, 1e-11,
                    "chi2 r from C near 1");
    }
  }
  /* k = 1 near r = 1, where the Bessel form is used: bvn's |r| > 0.925 branch is an independent route */
  double l;
  PetscCall(sm_chi2_threshold(1, 0.46, &l));
  for (double e = 1e-3; e > 1e-12; e *= 0.01)
    SM_TEST_CLOSE(sm_chi2_coverage(1, l, 1 - e), chi2_1_coverage_by_bvn(l, 1 - e), 1e-14, "chi2_1 near r = 1");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Monte Carlo: N pairs of k-vectors of correlated standard normals. The estimate of C is binomial, so its standard
   error is sqrt(C (1 - C) / N); 4.5 standard errors make a spurious failure a 1e-5 event per check. */
static PetscErrorCode test_chi2_coverage_mc(MPI_Comm comm)
{
  const long   N    = 2000000;
  const double ps[] = {0.8, 0.46, 0.1};
  const double rs[] = {0.5, 0.9};
  gsl_rng     *rng  = gsl_rng_alloc(gsl_rng_mt19937);

  PetscFunctionBeginUser;
  (void)comm;
  gsl_rng_set(rng, 20240611UL);
  for (int k = 1; k <= 3; k++) {
    double l[3];
    for (int i = 0; i < 3; i++) PetscCall(sm_chi2_threshold(k, ps[i], &l[i]));
    for (int j = 0; j < 2; j++) {
      double r = rs[j], s = sqrt(1 - r * r);
      long   hits[3] = {0, 0, 0};
      for (long n = 0; n < N; n++) {
        double ys = 0, yt = 0;
        for (int c = 0; c < k; c++) {
          double xs = gsl_ran_gaussian_ziggurat(rng, 1.0), xt = r * xs + s * gsl_ran_gaussian_ziggurat(rng, 1.0);
          ys += xs * xs, yt += xt * xt;
        }
        for (int i = 0; i < 3; i++) hits[i] += (ys >= l[i] && yt >= l[i]);
      }
      for (int i = 0; i < 3; i++) {
        double C = sm_chi2_coverage(k, l[i], r), se = sqrt(C * (1 - C) / N);
        SM_TEST_CLOSE((double)hits[i] / N, C, 4.5 * se, "chi2 C vs Monte Carlo");
      }
    }
  }
  gsl_rng_free(rng);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  const SMTestCase cases[] = {{"covariance families", test_covariance_families},
                              {"gauss model", test_gauss_model},
                              {"Rice formula", test_rice},
                              {"chi2 threshold", test_chi2_threshold},
                              {"chi2 coverage exact", test_chi2_coverage_exact},
                              {"chi2 coverage Monte Carlo", test_chi2_coverage_mc}};
  /* The reference quadratures may stop one bisection short of their (very tight) tolerance: not an error here. */
  gsl_set_error_handler_off();
  return sm_test_main(argc, argv, cases, PETSC_STATIC_ARRAY_LENGTH(cases));
}
