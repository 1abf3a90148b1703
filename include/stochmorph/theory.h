/* Analytic theory of the excursion-set models (SPEC 2, 3 and 6.3), all in one place:
 * covariance families, p <-> lambda, two-point coverage C(h) as a function of the correlation r = rho(h),
 * the pluri-Gaussian volume fractions and C11/C12/C22, bivariate normal probabilities, and Rice surface areas.
 * Pure functions of their arguments, serial, no MPI. Functions returning PetscErrorCode check their input. */
#ifndef STOCHMORPH_THEORY_H
#define STOCHMORPH_THEORY_H

#include <stochmorph/sys.h>

/* ---- Covariance families: one table entry per family; nothing else is family-specific. ---- */
typedef enum { SM_COV_GAUSS = 0, SM_COV_EXPONENTIAL = 1, SM_COV_NUM } SMCovarianceType;

typedef struct {
  const char *name;                   /* option value: "gauss", "exponential" */
  double (*rho)(double alpha, double h); /* correlation at distance h [um], alpha [1/um] */
  double (*lambda2)(double alpha);    /* second spectral moment -rho''(0), or a negative value if infinite */
} SMCovarianceFamily;

extern const SMCovarianceFamily sm_covariance_families[SM_COV_NUM];
extern const char *const        sm_covariance_names[]; /* PETSc-style list: names..., "SMCovarianceType", "SM_COV_", NULL */

/* ---- Standard normal ---- */
double sm_normal_cdf(double x);       /* Phi */
double sm_normal_quantile(double p);  /* Phi^-1, p in (0,1) */
double sm_normal_pdf(double x);       /* phi */

/* Bivariate standard normal CDF P(X < x, Y < y) with correlation r in [-1, 1]
   (Genz 2004 / Drezner-Wesolowsky Gauss-Legendre scheme, double precision). */
double sm_bvn_cdf(double x, double y, double r);

/* ---- gauss model: solid = {X >= lambda} ---- */
PetscErrorCode sm_gauss_threshold(double p, double *lambda);      /* lambda = Phi^-1(1 - p) */
double         sm_gauss_volume_fraction(double lambda);           /* 1 - Phi(lambda) */
double         sm_gauss_coverage(double lambda, double r);        /* C = P(both in solid) at correlation r */
double         sm_gauss_surface_area(double lambda, double lambda2); /* Rice: (2/pi) sqrt(lambda2) exp(-lambda^2/2) */

/* ---- chi2 model with k degrees of freedom: solid = {Y >= lambda}, Y = X_1^2 + ... + X_k^2 ---- */
PetscErrorCode sm_chi2_threshold(int k, double p, double *lambda); /* p = Q(k/2, lambda/2) */
double         sm_chi2_volume_fraction(int k, double lambda);
double         sm_chi2_coverage(int k, double lambda, double r);   /* SPEC 3.2 series; C = p at r = 1 */
double         sm_chi2_surface_area(int k, double lambda, double lambda2); /* 4 sqrt(2/pi) sqrt(l2 l) f_k(l) */
/* Notes: k may range over [1, 100] (the double-valued functions return NaN outside). Both surface areas are +inf when
   lambda2 < 0 (exponential covariance: non-differentiable field, fractal boundary). Coverages are accurate to ~1e-14
   absolute for every r in [-1, 1]; the chi2 coverage uses the SPEC 3.2 series where it needs few terms and, for r
   close to 1, the equivalent integral p - int_r^1 dC/dt dt with dC/dt in closed form (modified Bessel function). */

/* Invert a coverage value for the correlation r in [0, 1] by bisection (C increasing in r); used by calibration.
   Returns r = 0 if C <= C(0) and r = 1 if C >= C(1). */
double sm_gauss_correlation_from_coverage(double lambda, double C);
double sm_chi2_correlation_from_coverage(int k, double lambda, double C);

/* ---- pluri model (three phases): X, Y independent, Z = sqrt(m) X + sqrt(1 - m) Y.
   active = {X >= lX}, carbon = {X < lX, Z >= lZ}, pore = rest. ---- */
double         sm_pluri_carbon_fraction(double lX, double lZ, double m); /* eps2, Eq. 9 */
/* lambda_Z from eps2 by bisection of Eq. 9 for given lX and m; errors if eps2 is not in (0, Phi(lX)). */
PetscErrorCode sm_pluri_threshold_z(double lX, double eps2, double m, double *lZ);
double         sm_pluri_C11(double lX, double rX);
double         sm_pluri_C22(double lX, double lZ, double m, double rX, double rY); /* P(both carbon) */
double         sm_pluri_C12(double lX, double lZ, double m, double rX, double rY); /* P(s active, t carbon) */
/* Notes: C12 involves X(s), X(t) and Z(t) only, so it does not depend on rY (kept for symmetry with C22).
   C11, C12 and C22 are accurate to ~1e-11 absolute; C22 costs ~0.1 ms (at most ~1 ms next to r = 1). */

#endif
