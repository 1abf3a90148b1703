/* The M-factor predictor of Stenzel et al. (2016) and Neumann et al. (2020), M^ = k eps^a beta^b / tau^c (SPEC 5:
 * eps the volume fraction, beta the constrictivity, tau the mean geodesic tortuosity), with the published exponents
 * (a, b, c) = (1.15, 0.35, 4.39), k = 1, and its refit to the computed M of a study by least squares on log M. */
#ifndef STOCHMORPH_PREDICTOR_H
#define STOCHMORPH_PREDICTOR_H

#include <stochmorph/sys.h>

#define SM_PREDICTOR_A 1.15
#define SM_PREDICTOR_B 0.35
#define SM_PREDICTOR_C 4.39

typedef struct {
  int       n;         /* data points used: M, eps, beta, tau finite and > 0 */
  int       nskipped;  /* points left out (M = 0 of a phase that does not percolate, an undefined descriptor) */
  PetscBool prefactor; /* k fitted; otherwise k = 1 */
  double    a, b, c, log_k;          /* M^ = exp(log_k) eps^a beta^b / tau^c */
  double    se_a, se_b, se_c, se_log_k; /* standard errors: sqrt(diag(s^2 (X^T X)^-1)), s^2 = RSS / (n - p) */
  double    r2;           /* 1 - RSS / sum (log M - mean log M)^2 of the refit (centred, also without k) */
  double    r2_published; /* the same for the published exponents with k = 1 */
  double    rms_log;      /* sqrt(RSS / n) of the refit, on log M */
} SMPredictorFit;

double         sm_predictor_published(double eps, double beta, double tau);
PetscErrorCode sm_predictor_refit(int n, const double eps[], const double beta[], const double tau[], const double M[],
                                  PetscBool prefactor, SMPredictorFit *fit);

#endif
