/* Standard normal and bivariate normal probabilities (src/model/bvn.c) against independent truths: libm's erfc,
 * Sheppard's closed form at the origin, the r = 0 / +-1 limits, a reflection identity that couples the two branches
 * of Genz's method, and direct numerical integration of the bivariate density with GSL. */
#include <stochmorph/theory.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#include "smtest.h"

#define PI 3.14159265358979323846

/* P(X < x, Y < y) = integral_{-inf}^{x} phi(s) Phi((y - r s) / sqrt(1 - r^2)) ds: one adaptive quadrature of the
   conditional probability, split where the integrand has its steep step (s = y / r) when r is close to +-1. */
typedef struct {
  double y, r, s;
} BvnIntegrand;

static double bvn_integrand(double t, void *ctx)
{
  const BvnIntegrand *b = (const BvnIntegrand *)ctx;
  return sm_normal_pdf(t) * sm_normal_cdf((b->y - b->r * t) / b->s);
}

static double bvn_by_quadrature(double x, double y, double r)
{
  BvnIntegrand               b  = {y, r, sqrt((1 - r) * (1 + r))};
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(500);
  gsl_function               F  = {bvn_integrand, &b};
  double                     lo = -40, total = 0, res, err;
  double                     pts[3];
  int                        n = 0;
  pts[n++]                     = lo;
  if (r != 0 && y / r > lo && y / r < x) pts[n++] = y / r;
  pts[n++] = x;
  for (int i = 0; i + 1 < n; i++) {
    gsl_integration_qag(&F, pts[i], pts[i + 1], 1e-16, 1e-14, 500, GSL_INTEG_GAUSS61, ws, &res, &err);
    total += res;
  }
  gsl_integration_workspace_free(ws);
  return total;
}

static PetscErrorCode test_univariate(MPI_Comm comm)
{
  const double xs[] = {-8.5, -5, -2.2, -1, -0.3, 0, 0.4, 1.7, 3, 6};

  PetscFunctionBeginUser;
  (void)comm;
  for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
    double x = xs[i];
    /* libm's erfc is an independent implementation; both are correct to a few ulp, so 1e-14 relative. */
    SM_TEST_REL(sm_normal_cdf(x), 0.5 * erfc(-x / sqrt(2.0)), 1e-14, "Phi vs erfc");
    SM_TEST_REL(sm_normal_pdf(x), exp(-0.5 * x * x) / sqrt(2 * PI), 1e-15, "phi");
  }
  SM_TEST_TRUE(sm_normal_cdf(INFINITY) == 1 && sm_normal_cdf(-INFINITY) == 0, "Phi(+-inf)");
  /* Published quantiles (e.g. Abramowitz & Stegun Table 26.5): Phi^-1(0.975) = 1.959963984540054,
     Phi^-1(0.999) = 3.090232306167814; 1e-13 covers the last printed digit. */
  SM_TEST_CLOSE(sm_normal_quantile(0.975), 1.959963984540054, 1e-13, "Phi^-1(0.975)");
  SM_TEST_CLOSE(sm_normal_quantile(0.001), -3.090232306167814, 1e-13, "Phi^-1(0.001)");
  const double ps[] = {1e-12, 1e-5, 0.02, 0.3, 0.5, 0.77, 0.9999};
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
    /* round trip: Phi has relative condition number x phi / Phi <= ~7 here, 1e-14 relative is 10x that of rounding */
    SM_TEST_REL(sm_normal_cdf(sm_normal_quantile(ps[i])), ps[i], 1e-14, "Phi(Phi^-1(p))");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_bvn_closed_forms(MPI_Comm comm)
{
  const double rs[] = {-1,  -0.9999999, -0.999, -0.95, -0.925, -0.9, -0.6, -0.2,      0,
                       0.1, 0.5,        0.74,   0.8,   0.924,  0.93, 0.99, 0.9999999, 1};

  PetscFunctionBeginUser;
  (void)comm;
  for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
    /* Sheppard (1899): P(X < 0, Y < 0) = 1/4 + asin(r) / (2 pi), exact; Genz's method claims ~1e-15 absolute. */
    SM_TEST_CLOSE(sm_bvn_cdf(0, 0, rs[i]), 0.25 + asin(rs[i]) / (2 * PI), 1e-15, "Sheppard's formula");
  }
  const double xs[] = {-4, -1.3, -0.2, 0, 0.7, 2.5};
  for (size_t i = 0; i < 6; i++) {
    for (size_t j = 0; j < 6; j++) {
      double x = xs[i], y = xs[j], Px = sm_normal_cdf(x), Py = sm_normal_cdf(y);
      SM_TEST_CLOSE(sm_bvn_cdf(x, y, 0), Px * Py, 1e-16, "independent pair: product");
      SM_TEST_CLOSE(sm_bvn_cdf(x, y, 1), fmin(Px, Py), 1e-16, "r = 1: Phi(min)");
      SM_TEST_CLOSE(sm_bvn_cdf(x, y, -1), fmax(0.0, Px + Py - 1), 2e-16, "r = -1: max(0, Phi(x) + Phi(y) - 1)");
      /* Continuity into the limits: the |r| -> 1 branch must approach them with error O(sqrt(1 - |r|)). */
      SM_TEST_CLOSE(sm_bvn_cdf(x, y, 1 - 1e-14), fmin(Px, Py), 1e-6, "r -> 1");
      SM_TEST_CLOSE(sm_bvn_cdf(x, y, -1 + 1e-14), fmax(0.0, Px + Py - 1), 1e-6, "r -> -1");
    }
  }
  SM_TEST_CLOSE(sm_bvn_cdf(INFINITY, 0.3, 0.5), sm_normal_cdf(0.3), 1e-16, "x = +inf");
  SM_TEST_CLOSE(sm_bvn_cdf(-INFINITY, 0.3, 0.5), 0, 1e-16, "x = -inf");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_bvn_quadrature(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  (void)comm;
  /* Cases cover the three Gauss-Legendre sizes (|r| < 0.3, < 0.75, < 0.925), the |r| >= 0.925 branch with both
     signs of r, both signs of h k, far tails and h = k. */
  const double cases[][3] = {{0.3, -0.7, 0.2},    {-1.1, 0.4, -0.25},     {1.5, 2.0, 0.5},     {-2.0, -0.3, -0.7},
                             {-1, -2, 0.8},       {0.6, 0.6, 0.92},       {-0.4, 1.2, -0.9},   {0.5, 0.5, 0.95},
                             {-2, 1.3, -0.95},    {2, -2, -0.999},        {0.1, 0.2, 0.99999}, {-3, -3, 0.97},
                             {3, 3, -0.93},       {4, -4, 0.9999},        {-5, 5, -0.9},       {-3.5, -2.5, 0.999},
                             {1.0, -1.0, 0.9999}, {-0.01, 0.02, -0.9999}, {6.0, -0.5, 0.96},   {-6, -6, 0.99}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double x = cases[i][0], y = cases[i][1], r = cases[i][2];
    double ref = bvn_by_quadrature(x, y, r);
    /* The quadrature is requested to 1e-16 absolute; allow 1e-14 for its own rounding (60-point panels). */
    SM_TEST_CLOSE(sm_bvn_cdf(x, y, r), ref, 1e-14, "bvn vs quadrature of the conditional form");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_bvn_identities(MPI_Comm comm)
{
  const double rs[] = {-0.99, -0.93, -0.5, -0.1, 0.2, 0.6, 0.91, 0.94, 0.999};
  const double xs[] = {-2.5, -0.8, 0.1, 1.4, 3.3};

  PetscFunctionBeginUser;
  (void)comm;
  for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
    for (size_t a = 0; a < 5; a++) {
      for (size_t b = 0; b < 5; b++) {
        double x = xs[a], y = xs[b], r = rs[i];
        /* P(X<x, Y<y) + P(X<x, -Y<-y) = P(X<x); (X, -Y) has correlation -r, so r and -r use different branches */
        SM_TEST_CLOSE(sm_bvn_cdf(x, y, r) + sm_bvn_cdf(x, -y, -r), sm_normal_cdf(x), 4e-16, "reflection identity");
        SM_TEST_CLOSE(sm_bvn_cdf(x, y, r), sm_bvn_cdf(y, x, r), 2e-16, "symmetry in (x, y)");
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  const SMTestCase cases[] = {{"univariate normal", test_univariate},
                              {"bivariate closed forms", test_bvn_closed_forms},
                              {"bivariate quadrature", test_bvn_quadrature},
                              {"bivariate identities", test_bvn_identities}};
  /* The reference quadratures may stop one bisection short of their (very tight) tolerance: not an error here. */
  gsl_set_error_handler_off();
  return sm_test_main(argc, argv, cases, PETSC_STATIC_ARRAY_LENGTH(cases));
}
