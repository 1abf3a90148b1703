/* The predictor refit of src/morph/predictor.c against independent truths: exponents recovered exactly from
 * noise-free M = k eps^a beta^b / tau^c; with Gaussian noise on log M, estimates within 4 standard errors of the
 * truth and the reported standard errors equal to the Monte Carlo spread of the estimates over 400 noise draws (15 %);
 * R^2 = 1 - RSS/TSS recomputed by hand; points with M = 0 left out and counted; too few points refused. */
#include <stochmorph/predictor.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "smtest.h"

#define NPT 60

static void draw_descriptors(gsl_rng *r, int n, double eps[], double beta[], double tau[])
{
  for (int i = 0; i < n; i++) { /* the ranges of the papers' virtual structures */
    eps[i]  = gsl_ran_flat(r, 0.15, 0.8);
    beta[i] = gsl_ran_flat(r, 0.1, 0.9);
    tau[i]  = gsl_ran_flat(r, 1.02, 1.6);
  }
}

static void test_exact(gsl_rng *r)
{
  double        eps[NPT], beta[NPT], tau[NPT], M[NPT];
  SMPredictorFit fit;
  draw_descriptors(r, NPT, eps, beta, tau);
  for (int i = 0; i < NPT; i++) M[i] = 0.8 * pow(eps[i], 1.3) * pow(beta[i], 0.5) / pow(tau[i], 3.9);
  SM_TEST_TRUE(!sm_predictor_refit(NPT, eps, beta, tau, M, PETSC_TRUE, &fit), "refit with prefactor");
  SM_TEST_CLOSE(fit.a, 1.3, 1e-10, "a, noise-free");
  SM_TEST_CLOSE(fit.b, 0.5, 1e-10, "b, noise-free");
  SM_TEST_CLOSE(fit.c, 3.9, 1e-10, "c, noise-free");
  SM_TEST_CLOSE(fit.log_k, log(0.8), 1e-10, "log k, noise-free");
  SM_TEST_CLOSE(fit.r2, 1.0, 1e-12, "R^2 of an exact fit");
  SM_TEST_TRUE(fit.n == NPT && fit.nskipped == 0, "all points used (%d, %d skipped)", fit.n, fit.nskipped);

  /* the published predictor itself, k = 1: its own refit without prefactor gives its exponents, R^2 = 1 for both */
  for (int i = 0; i < NPT; i++) M[i] = pow(eps[i], 1.15) * pow(beta[i], 0.35) / pow(tau[i], 4.39);
  M[3] = 0;   /* a phase that does not percolate */
  tau[7] = NAN; /* tortuosity not defined */
  SM_TEST_TRUE(!sm_predictor_refit(NPT, eps, beta, tau, M, PETSC_FALSE, &fit), "refit without prefactor");
  SM_TEST_CLOSE(fit.a, 1.15, 1e-10, "a of the published predictor");
  SM_TEST_CLOSE(fit.b, 0.35, 1e-10, "b of the published predictor");
  SM_TEST_CLOSE(fit.c, 4.39, 1e-10, "c of the published predictor");
  SM_TEST_CLOSE(fit.log_k, 0, 0, "no prefactor");
  SM_TEST_CLOSE(fit.r2_published, 1.0, 1e-12, "R^2 of the published exponents on their own data");
  SM_TEST_CLOSE(sm_predictor_published(0.5, 0.4, 1.2), 0.5 * pow(0.5, 0.15) * pow(0.4, 0.35) / pow(1.2, 4.39), 1e-15,
                "published M^ by hand");
  SM_TEST_TRUE(fit.n == NPT - 2 && fit.nskipped == 2, "M = 0 and tau = NaN left out: n %d, skipped %d", fit.n, fit.nskipped);
}

static void test_noise(gsl_rng *r)
{
  const double   sigma = 0.05, a = 1.2, b = 0.4, c = 4.0, lk = -0.2;
  const int      ndraw = 400;
  double         eps[NPT], beta[NPT], tau[NPT], M[NPT], logm[NPT];
  double         s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0}, se[4] = {0, 0, 0, 0};
  SMPredictorFit fit;
  draw_descriptors(r, NPT, eps, beta, tau); /* one design, many noise draws: the setting of the standard errors */
  for (int d = 0; d < ndraw; d++) {
    double est[4], mean = 0, tss = 0, rss = 0;
    for (int i = 0; i < NPT; i++) {
      logm[i] = lk + a * log(eps[i]) + b * log(beta[i]) - c * log(tau[i]) + gsl_ran_gaussian(r, sigma);
      M[i]    = exp(logm[i]);
      mean += logm[i] / NPT;
    }
    if (sm_predictor_refit(NPT, eps, beta, tau, M, PETSC_TRUE, &fit)) {
      SM_TEST_TRUE(0, "refit failed");
      return;
    }
    est[0] = fit.a;
    est[1] = fit.b;
    est[2] = fit.c;
    est[3] = fit.log_k;
    se[0] += fit.se_a / ndraw;
    se[1] += fit.se_b / ndraw;
    se[2] += fit.se_c / ndraw;
    se[3] += fit.se_log_k / ndraw;
    for (int k = 0; k < 4; k++) {
      s1[k] += est[k];
      s2[k] += est[k] * est[k];
    }
    if (d == 0) { /* one draw in detail: within 4 standard errors, R^2 by hand */
      SM_TEST_TRUE(fabs(fit.a - a) < 4 * fit.se_a && fabs(fit.b - b) < 4 * fit.se_b && fabs(fit.c - c) < 4 * fit.se_c &&
                       fabs(fit.log_k - lk) < 4 * fit.se_log_k,
                   "estimates within 4 SE: a %g (%g) b %g (%g) c %g (%g) log k %g (%g)", fit.a, fit.se_a, fit.b, fit.se_b,
                   fit.c, fit.se_c, fit.log_k, fit.se_log_k);
      for (int i = 0; i < NPT; i++) {
        double pred = fit.log_k + fit.a * log(eps[i]) + fit.b * log(beta[i]) - fit.c * log(tau[i]);
        rss += pow(logm[i] - pred, 2);
        tss += pow(logm[i] - mean, 2);
      }
      SM_TEST_CLOSE(fit.r2, 1 - rss / tss, 1e-12, "R^2 by hand");
      SM_TEST_CLOSE(fit.rms_log, sqrt(rss / NPT), 1e-12, "rms of the log residuals by hand");
      SM_TEST_TRUE(fit.r2_published < fit.r2, "the refit explains more than the published exponents (%g, %g)", fit.r2,
                   fit.r2_published);
    }
  }
  for (int k = 0; k < 4; k++) { /* the Monte Carlo spread has a relative standard error of 1/sqrt(2 ndraw) = 3.5 % */
    double mean = s1[k] / ndraw, sd = sqrt((s2[k] - ndraw * mean * mean) / (ndraw - 1));
    SM_TEST_REL(se[k], sd, 0.15, "reported standard error against the Monte Carlo spread of the estimates");
    SM_TEST_CLOSE(mean, k == 0 ? a : k == 1 ? b : k == 2 ? c : lk, 4 * sd / sqrt(ndraw), "estimates unbiased");
  }
}

static void test_refusals(void)
{
  double         eps[4] = {0.3, 0.4, 0.5, 0.6}, beta[4] = {0.3, 0.4, 0.5, 0.6}, tau[4] = {1.1, 1.2, 1.3, 1.4},
                 M[4]   = {0.1, 0.2, 0.3, 0.4};
  SMPredictorFit fit;
  (void)PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  SM_TEST_TRUE(sm_predictor_refit(4, eps, beta, tau, M, PETSC_TRUE, &fit) != PETSC_SUCCESS, "4 points for 4 parameters refused");
  M[0] = 0;
  SM_TEST_TRUE(sm_predictor_refit(4, eps, beta, tau, M, PETSC_FALSE, &fit) != PETSC_SUCCESS, "3 usable points for 3 refused");
  (void)PetscPopErrorHandler();
  M[0] = 0.1;
  SM_TEST_TRUE(sm_predictor_refit(4, eps, beta, tau, M, PETSC_FALSE, &fit) == PETSC_SUCCESS, "4 points for 3 parameters");
}

int main(int argc, char **argv)
{
  gsl_rng *r;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 20161);
  test_exact(r);
  test_noise(r);
  test_refusals();
  gsl_rng_free(r);
  int rc = sm_test_finish(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return rc;
}
