/* Refit of the M-factor predictor M^ = k eps^a beta^b / tau^c by ordinary least squares on
 *   log M = log k + a log eps + b log beta - c log tau
 * (the regression of Stenzel et al. 2016, sec. 3, there on 43 virtual structures), solved with GSL's multifit
 * (QR / SVD of the design matrix), with the usual standard errors of the coefficients s^2 (X^T X)^-1,
 * s^2 = RSS / (n - p). Points whose M or descriptors are not finite and positive have no logarithm and are left out
 * (and counted). */
#include <stochmorph/predictor.h>
#include <gsl/gsl_multifit.h>
#include <math.h>

double sm_predictor_published(double eps, double beta, double tau)
{
  return pow(eps, SM_PREDICTOR_A) * pow(beta, SM_PREDICTOR_B) / pow(tau, SM_PREDICTOR_C);
}

static int sm_predictor_usable(double eps, double beta, double tau, double M)
{
  return isfinite(eps) && isfinite(beta) && isfinite(tau) && isfinite(M) && eps > 0 && beta > 0 && tau > 0 && M > 0;
}

PetscErrorCode sm_predictor_refit(int n, const double eps[], const double beta[], const double tau[], const double M[],
                                  PetscBool prefactor, SMPredictorFit *fit)
{
  const int           p = prefactor ? 4 : 3;
  int                 m = 0, i, j;
  gsl_matrix         *X, *cov;
  gsl_vector         *y, *c;
  gsl_multifit_linear_workspace *w;
  double              rss, mean = 0, tss = 0, rss_pub = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(fit, sizeof(*fit)));
  fit->prefactor = prefactor;
  for (i = 0; i < n; i++) m += sm_predictor_usable(eps[i], beta[i], tau[i], M[i]);
  fit->n        = m;
  fit->nskipped = n - m;
  PetscCheck(m > p, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "The predictor refit needs more than %d twins with M > 0 and defined constrictivity and tortuosity; the study "
             "has %d (of %d)", p, m, n);
  X   = gsl_matrix_alloc((size_t)m, (size_t)p);
  y   = gsl_vector_alloc((size_t)m);
  c   = gsl_vector_alloc((size_t)p);
  cov = gsl_matrix_alloc((size_t)p, (size_t)p);
  w   = gsl_multifit_linear_alloc((size_t)m, (size_t)p);
  PetscCheck(X && y && c && cov && w, PETSC_COMM_SELF, PETSC_ERR_MEM, "Out of memory for the predictor refit");
  for (i = 0, j = 0; i < n; i++) {
    if (!sm_predictor_usable(eps[i], beta[i], tau[i], M[i])) continue;
    gsl_matrix_set(X, (size_t)j, 0, log(eps[i]));
    gsl_matrix_set(X, (size_t)j, 1, log(beta[i]));
    gsl_matrix_set(X, (size_t)j, 2, -log(tau[i]));
    if (prefactor) gsl_matrix_set(X, (size_t)j, 3, 1.0);
    gsl_vector_set(y, (size_t)j, log(M[i]));
    mean += log(M[i]);
    rss_pub += pow(log(M[i]) - log(sm_predictor_published(eps[i], beta[i], tau[i])), 2);
    j++;
  }
  mean /= m;
  for (j = 0; j < m; j++) tss += pow(gsl_vector_get(y, (size_t)j) - mean, 2);
  PetscCheck(!gsl_multifit_linear(X, y, c, cov, &rss, w), PETSC_COMM_SELF, PETSC_ERR_LIB, "The predictor least squares failed");
  fit->a     = gsl_vector_get(c, 0);
  fit->b     = gsl_vector_get(c, 1);
  fit->c     = gsl_vector_get(c, 2);
  fit->log_k = prefactor ? gsl_vector_get(c, 3) : 0.0;
  /* gsl_multifit_linear scales cov by RSS / (n - p) */
  fit->se_a     = sqrt(gsl_matrix_get(cov, 0, 0));
  fit->se_b     = sqrt(gsl_matrix_get(cov, 1, 1));
  fit->se_c     = sqrt(gsl_matrix_get(cov, 2, 2));
  fit->se_log_k = prefactor ? sqrt(gsl_matrix_get(cov, 3, 3)) : 0.0;
  fit->r2           = tss > 0 ? 1.0 - rss / tss : NAN;
  fit->r2_published = tss > 0 ? 1.0 - rss_pub / tss : NAN;
  fit->rms_log      = sqrt(rss / m);
  gsl_multifit_linear_free(w);
  gsl_matrix_free(cov);
  gsl_vector_free(c);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  PetscFunctionReturn(PETSC_SUCCESS);
}
