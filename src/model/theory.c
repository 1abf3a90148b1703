/* Analytic theory of the excursion-set models (SPEC 2, 3, 6.3). See include/stochmorph/theory.h.
 *
 * Conventions: r is the correlation rho(h) of the underlying Gaussian field(s) between two points; "coverage"
 * C(r) is the probability that both points lie in the phase. Every function is a pure function of its arguments.
 * GSL's default error handler aborts the process on conditions that are harmless here (underflow of a special
 * function, a quadrature that stops one step short of its tolerance), so calls into GSL that can raise one are
 * bracketed by quiet_gsl()/restore_gsl(). */
#include <stochmorph/theory.h>
#include "theory_impl.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_bessel.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>

#define SM_PI 3.14159265358979323846264338328
#define SM_TWO_PI 6.283185307179586476925286766559
#define SM_SQRT_2_OVER_PI 0.797884560802865355879892119869
#define SM_LN2 0.693147180559945309417232121458

/* Largest number of chi2 degrees of freedom we support: beyond it (1 - r^2)^(k/2) underflows in the series. */
#define SM_CHI2_KMAX 100

static gsl_error_handler_t *quiet_gsl(void)
{
  return gsl_set_error_handler_off();
}
static void restore_gsl(gsl_error_handler_t *old)
{
  gsl_set_error_handler(old);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Covariance families                                                                                          */

static double rho_gauss(double alpha, double h)
{
  double t = alpha * h;
  return exp(-t * t);
}
static double lambda2_gauss(double alpha)
{
  return 2 * alpha * alpha;
} /* -rho''(0) */
static double rho_exponential(double alpha, double h)
{
  return exp(-alpha * fabs(h));
}
static double lambda2_exponential(double alpha)
{
  (void)alpha;
  return -1.0; /* rho has a kink at 0: the field is not mean-square differentiable */
}

const SMCovarianceFamily sm_covariance_families[SM_COV_NUM] = {
    [SM_COV_GAUSS]       = {"gauss", rho_gauss, lambda2_gauss},
    [SM_COV_EXPONENTIAL] = {"exponential", rho_exponential, lambda2_exponential},
};

const char *const sm_covariance_names[] = {"gauss", "exponential", "SMCovarianceType", "SM_COV_", NULL};

/* Bivariate normal density with correlation r, |r| < 1. */
static double phi2(double x, double y, double r)
{
  double omr2 = (1 - r) * (1 + r);
  return exp(-(x * x - 2 * r * x * y + y * y) / (2 * omr2)) / (SM_TWO_PI * sqrt(omr2));
}

static double clamp_corr(double r)
{
  return r > 1 ? 1 : (r < -1 ? -1 : r);
}

/* Bisection for the root of an increasing function f on [lo, hi] with f(lo) <= target <= f(hi). */
static double bisect_increasing(double (*f)(double, const void *), const void *ctx, double target, double lo, double hi,
                                double tol)
{
  for (int it = 0; it < 200 && hi - lo > tol; it++) {
    double mid = 0.5 * (lo + hi);
    if (f(mid, ctx) < target)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* gauss model                                                                                                  */

PetscErrorCode sm_gauss_threshold(double p, double *lambda)
{
  PetscFunctionBeginUser;
  PetscCheck(p > 0 && p < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Volume fraction p = %g must lie strictly between 0 and 1", p);
  *lambda = -sm_normal_quantile(p); /* Phi^-1(1 - p), without forming 1 - p */
  PetscFunctionReturn(PETSC_SUCCESS);
}

double sm_gauss_volume_fraction(double lambda)
{
  return sm_normal_cdf(-lambda);
}

/* SPEC 3.1's integral p^2 + (1/2pi) int_0^r exp(-lambda^2/(1+t))/sqrt(1-t^2) dt is Plackett's identity for
   P(X(s) >= lambda, X(t) >= lambda), i.e. exactly the bivariate normal orthant probability, which Genz's method
   evaluates to ~1e-15 including r -> 1, where the integrand above is singular. */
double sm_gauss_coverage(double lambda, double r)
{
  return sm_bvn_cdf(-lambda, -lambda, clamp_corr(r));
}

double sm_gauss_surface_area(double lambda, double lambda2)
{
  if (lambda2 < 0) return INFINITY; /* non-differentiable covariance: fractal boundary */
  return (2 / SM_PI) * sqrt(lambda2) * exp(-0.5 * lambda * lambda);
}

typedef struct {
  int    k;
  double lambda;
} CoverageCtx;

static double gauss_coverage_fn(double r, const void *ctx)
{
  return sm_gauss_coverage(((const CoverageCtx *)ctx)->lambda, r);
}

double sm_gauss_correlation_from_coverage(double lambda, double C)
{
  double p = sm_gauss_volume_fraction(lambda);
  if (C <= p * p) return 0.0;
  if (C >= p) return 1.0;
  CoverageCtx ctx = {1, lambda};
  return bisect_increasing(gauss_coverage_fn, &ctx, C, 0.0, 1.0, 1e-14);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* chi2 model                                                                                                   */

PetscErrorCode sm_chi2_threshold(int k, double p, double *lambda)
{
  PetscFunctionBeginUser;
  PetscCheck(k >= 1 && k <= SM_CHI2_KMAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "chi2 degrees of freedom k = %d must lie in [1, %d]", k, SM_CHI2_KMAX);
  PetscCheck(p > 0 && p < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Volume fraction p = %g must lie strictly between 0 and 1", p);
  if (k == 2)
    *lambda = -2 * log(p); /* Q(1, l/2) = exp(-l/2) */
  else {
    gsl_error_handler_t *old = quiet_gsl();
    *lambda                  = gsl_cdf_chisq_Qinv(p, (double)k);
    restore_gsl(old);
  }
  PetscCheck(isfinite(*lambda) && *lambda > 0, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "chi2 threshold for k = %d, p = %g could not be computed", k, p);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double sm_chi2_volume_fraction(int k, double lambda)
{
  if (k < 1 || k > SM_CHI2_KMAX || isnan(lambda)) return NAN;
  if (lambda <= 0) return 1.0;
  gsl_error_handler_t *old = quiet_gsl();
  gsl_sf_result        res;
  int                  status = gsl_sf_gamma_inc_Q_e(0.5 * k, 0.5 * lambda, &res);
  restore_gsl(old);
  return status == GSL_SUCCESS || status == GSL_EUNDRFLW ? res.val : NAN;
}

double sm_chi2_surface_area(int k, double lambda, double lambda2)
{
  if (k < 1 || k > SM_CHI2_KMAX) return NAN;
  if (lambda2 < 0) return INFINITY;
  if (lambda <= 0) return 0.0;
  return 4 * SM_SQRT_2_OVER_PI * sqrt(lambda2 * lambda) * gsl_ran_chisq_pdf(lambda, (double)k);
}

/* F(r) = P(Y(s) < lambda, Y(t) < lambda) by the series of SPEC 3.2 (Kibble's bivariate gamma):
 *   F = sum_j w_j P(a + j, x)^2,  a = k/2,  x = lambda / (2 (1 - r^2)),
 *   w_j = Gamma(a + j) / (Gamma(a) j!) r^(2j) (1 - r^2)^a   (negative-binomial weights, sum_j w_j = 1).
 * The incomplete gammas come from the upward recurrence Q(a + j + 1, x) = Q(a + j, x) + d_j,
 * d_j = x^(a+j) e^-x / Gamma(a + j + 1), which only adds positive terms (stable); P = 1 - Q. d_j is started in
 * log space (lgamma) where it would underflow and continued by d_j = d_(j-1) x / (a + j) once representable.
 * Summation stops when the remainder, bounded by P(a + j + 1, x)^2 times the remaining weight mass (geometric
 * bound on w), is below 1e-17 of the sum. About x + 10 sqrt(x) terms are needed. */
static double chi2_F_series(double a, double lambda, double r)
{
  double r2 = r * r, s2 = (1 - r) * (1 + r), x = lambda / (2 * s2), lnx = log(x);
  double w = exp(a * log(s2)), F = 0, d = 0;
  int    dlive = 0;

  gsl_error_handler_t *old = quiet_gsl();
  gsl_sf_result        qres;
  int                  status = gsl_sf_gamma_inc_Q_e(a, x, &qres);
  restore_gsl(old);
  double Q = (status == GSL_SUCCESS || status == GSL_EUNDRFLW) ? qres.val : NAN;
  if (isnan(Q)) return NAN;

  for (long j = 0; j < 1000000; j++) {
    double P = fmax(0.0, 1 - Q);
    F += w * P * P;
    if (dlive)
      d *= x / (a + j);
    else {
      double ld = (a + j) * lnx - x - lgamma(a + j + 1);
      if (ld > -700)
        d = exp(ld), dlive = 1;
      else
        d = 0;
    }
    Q += d;                              /* Q(a + j + 1, x) */
    w *= r2 * (a + j) / (double)(j + 1); /* w_(j+1) */
    double Pn = fmax(0.0, 1 - Q), q = r2 * fmax(1.0, (a + j + 1) / (double)(j + 2)), mass = 1.0;
    if (q < 1) mass = fmin(1.0, w / (1 - q));
    if (Pn * Pn * mass <= 1e-17 * F || (Pn == 0 && w == 0)) break;
  }
  return F;
}

/* dC/dr for the chi2 model, from Gaussian integration by parts (Plackett's identity applied to each of the k
 * component pairs): dF/dr = 4 E[(X(s).X(t)) delta(lambda - |X(s)|^2) delta(lambda - |X(t)|^2)], an integral over
 * two spheres of radius sqrt(lambda) that reduces to a modified Bessel function:
 *   dC/dr = 2^(1-k/2) / Gamma(k/2) lambda^(k/2) r^(1-k/2) exp(-lambda/(1+r)) I~_(k/2)(lambda r / s2) / s2,
 * with s2 = 1 - r^2 and I~_nu(z) = exp(-z) I_nu(z). For k = 1 it equals 2 (phi2(b,b;r) - phi2(b,-b;r)),
 * b = sqrt(lambda), the derivative of the rectangle probability. Here it is written in phi = acos(r), r = cos(phi),
 * s2 = sin(phi)^2, and multiplied by dr/dphi = -sin(phi): the result is smooth and finite at phi = 0, where it
 * tends to 2 sqrt(lambda) f_k(lambda) / sqrt(2 pi) (the Rice limit). */
static double chi2_dCdphi(int k, double lambda, double phi)
{
  double a = 0.5 * k, cs = cos(phi), sn = sin(phi), z = lambda * cs / (sn * sn), bes;
  if (k % 2 == 0)
    bes = gsl_sf_bessel_In_scaled(k / 2, z);
  else
    bes = gsl_sf_bessel_Inu_scaled(a, z);
  double lnpre = (1 - a) * SM_LN2 - lgamma(a) + a * log(lambda) + (1 - a) * log(cs) - lambda / (1 + cs);
  return exp(lnpre) * bes / sn;
}

/* p - C(r) = integral_r^1 dC/dt dt = integral_0^acos(r) dC/dphi dphi, by 20-point Gauss-Legendre: where it is used
   (r > 0.9, lambda / (1 - r^2) > 100) the integrand is smooth on the short interval and the rule is exact to
   rounding. */
static double chi2_D_bessel(int k, double lambda, double r)
{
  const double *x = sm_gl20_x, *w = sm_gl20_w;
  double phimax = 2 * asin(sqrt(0.5 * (1 - r))), half = 0.5 * phimax, sum = 0; /* acos(r), accurate near r = 1 */
  gsl_error_handler_t *old = quiet_gsl();
  for (int i = 0; i < 10; i++)
    sum += w[i] * (chi2_dCdphi(k, lambda, half * (1 - x[i])) + chi2_dCdphi(k, lambda, half * (1 + x[i])));
  restore_gsl(old);
  return half * sum;
}

/* The series needs about x + 10 sqrt(x) terms, x = lambda / (2 (1 - r^2)). Beyond x = 50 and r = 0.9 the Bessel
   form takes over: there lambda r / (1 - r^2) > 90 on the whole interval, so its integrand is free of the
   exp(-2 lambda / phi^2)-type layer that slows the Gauss-Legendre rule at small lambda. */
#define SM_CHI2_SERIES_RMIN 0.9
#define SM_CHI2_SERIES_XMAX 50.0

double sm_chi2_coverage(int k, double lambda, double r)
{
  if (k < 1 || k > SM_CHI2_KMAX || isnan(lambda) || isnan(r)) return NAN;
  if (lambda <= 0) return 1.0;
  double p = sm_chi2_volume_fraction(k, lambda), C;
  r        = fabs(clamp_corr(r)); /* Y depends on the X_i only through X_i^2: C is even in r */
  if (r == 1) return p;
  if (r == 0) return p * p;
  if (r <= SM_CHI2_SERIES_RMIN || lambda / (2 * (1 - r) * (1 + r)) <= SM_CHI2_SERIES_XMAX)
    C = 2 * p - 1 + chi2_F_series(0.5 * k, lambda, r);
  else
    C = p - chi2_D_bessel(k, lambda, r);
  /* C increases from p^2 (r = 0) to p (r = 1); clip rounding. */
  return fmin(p, fmax(p * p, C));
}

static double chi2_coverage_fn(double r, const void *ctx)
{
  const CoverageCtx *c = (const CoverageCtx *)ctx;
  return sm_chi2_coverage(c->k, c->lambda, r);
}

double sm_chi2_correlation_from_coverage(int k, double lambda, double C)
{
  double p = sm_chi2_volume_fraction(k, lambda);
  if (isnan(p) || isnan(C)) return NAN;
  if (C <= p * p) return 0.0;
  if (C >= p) return 1.0;
  CoverageCtx ctx = {k, lambda};
  return bisect_increasing(chi2_coverage_fn, &ctx, C, 0.0, 1.0, 1e-14);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* pluri model                                                                                                  */

/* Eq. 9 is P(X < lX, Z >= lZ) with corr(X, Z) = sqrt(m): a bivariate normal probability, exact for m in [0, 1]
   (m = 1 gives max(0, Phi(lX) - Phi(lZ)) and m = 0 gives Phi(lX) (1 - Phi(lZ)) through the same call). */
double sm_pluri_carbon_fraction(double lX, double lZ, double m)
{
  if (isnan(m) || m < 0 || m > 1) return NAN;
  return sm_bvn_cdf(lX, -lZ, -sqrt(m));
}

typedef struct {
  double lX, m;
} PluriCtx;

static double minus_carbon_fraction(double lZ, const void *ctx)
{
  const PluriCtx *c = (const PluriCtx *)ctx;
  return -sm_pluri_carbon_fraction(c->lX, lZ, c->m);
}

PetscErrorCode sm_pluri_threshold_z(double lX, double eps2, double m, double *lZ)
{
  PetscFunctionBeginUser;
  PetscCheck(m >= 0 && m <= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "pluri mixing parameter m = %g must lie in [0, 1]", m);
  PetscCheck(isfinite(lX), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "lambda_X = %g must be finite", lX);
  double emax = sm_normal_cdf(lX);
  PetscCheck(eps2 > 0 && eps2 < emax, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Carbon volume fraction eps2 = %g is not attainable: it must lie in (0, Phi(lambda_X)) = (0, %g), i.e. "
             "eps_active + eps_carbon < 1",
             eps2, emax);
  /* eps2(lZ) decreases strictly from Phi(lX) (lZ = -inf) to 0; at |lZ| = 40 it is within 1e-300 of both ends. */
  PluriCtx ctx = {lX, m};
  *lZ          = bisect_increasing(minus_carbon_fraction, &ctx, -eps2, -40.0, 40.0, 1e-13);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double sm_pluri_C11(double lX, double rX)
{
  return sm_gauss_coverage(lX, rX);
}

/* The two-point functions of the pluri model are 3- and 4-variate normal probabilities. Both are computed by
 * Plackett's identity dF/d sigma_ij = phi2(b_i, b_j; sigma_ij) P(rest | U_i = b_i, U_j = b_j) along the path
 * (rho_X, rho_Y) -> tau (rho_X, rho_Y), tau in [0, 1], which stays inside the model (X and Y fields with
 * correlations tau rho_X and tau rho_Y) and starts where the two points are independent. Each conditional
 * probability is a univariate or bivariate normal one with closed-form parameters, so one 1D quadrature of a
 * smooth integrand remains. The integrand has an integrable 1/sqrt(1 - tau) singularity when a correlation reaches
 * 1; for C22 the substitution 1 - tau = (1 - v)^2 removes it (C12 uses t = sqrt(1 - rho)), and every
 * "1 - correlation" is formed from 1 - tau directly so that no digit is lost next to the endpoint. */
typedef struct {
  double lX, lZ, m, c, dm, rX, rY, aX; /* c = sqrt(m), dm = 1 - m, aX = (lZ - c lX)/sqrt(1 - m) */
} PluriPath;

/* C22 integrand in v: dC22/dtau * dtau/dv. See the derivation in the comment above sm_pluri_C22. */
static double c22_integrand(double v, void *ctx)
{
  const PluriPath *P   = (const PluriPath *)ctx;
  double           omv = 1 - v, omt = omv * omv, tau = 1 - omt;
  double           m = P->m, c = P->c, dm = P->dm, lX = P->lX, lZ = P->lZ;
  double           rho = tau * P->rX, y = tau * P->rY, q = m * rho + dm * y;
  double           omrho = (1 - P->rX) + P->rX * omt, oprho = 1 + rho; /* 1 - rho, 1 + rho */
  double           omy = (1 - P->rY) + P->rY * omt, opy = 1 + y;
  double           omrho2 = omrho * oprho, omy2 = omy * opy, omq = m * omrho + dm * omy, opq = m * oprho + dm * opy;

  /* (X(s), X(t)) = (lX, lX): the Z's are c lX + sqrt(1-m) Y with (Y(s), Y(t)) of correlation y. */
  double g12 = phi2(lX, lX, rho) * sm_bvn_cdf(-P->aX, -P->aX, y);

  /* (X(s), Z(t)) = (lX, lZ): conditional law of (X(t), Z(s)). */
  double G14 = 0;
  if (c > 0) {
    double ommr2 = 1 - m * rho * rho, D = m * omrho2 + dm * omy2;
    double u   = sqrt(omrho / oprho) * (lX * (1 + m * rho) - c * oprho * lZ) / sqrt(dm * ommr2);
    double vv  = (c * (m * omrho2 + dm * (1 - rho * y)) * lX - (dm * omy + m * omrho2) * lZ) / sqrt(dm * D * ommr2);
    double kap = c * y * sqrt(omrho2 / D);
    G14        = phi2(lX, lZ, c * rho) * sm_bvn_cdf(u, vv, clamp_corr(kap));
  }

  /* (Z(s), Z(t)) = (lZ, lZ): conditional law of (X(s), X(t)) in the basis (1, 1), (1, -1). */
  double ep = oprho * dm * opy / opq, em = omrho * dm * omy / omq;
  double mu = c * oprho * lZ / opq, sd = sqrt(0.5 * (ep + em)), t34 = (lX - mu) / sd;
  double g34 = phi2(lZ, lZ, q) * sm_bvn_cdf(t34, t34, clamp_corr((ep - em) / (ep + em)));

  double rZ = m * P->rX + dm * P->rY;
  return (P->rX * g12 - 2 * c * P->rX * G14 + rZ * g34) * 2 * omv;
}

/* C12 integrand in t = sqrt(1 - rho): the rho-dependent part c phi2(lX, lZ; c rho) P(X(t) < lX | X(s) = lX,
   Z(t) = lZ) times |d rho / d t| = 2 t. The conditional argument is sqrt(1 - rho) times a smooth function of rho, so
   the integrand is smooth in t for every rX, including rX -> 1. */
static double c12_integrand(double t, void *ctx)
{
  const PluriPath *P = (const PluriPath *)ctx;
  double           m = P->m, c = P->c, lX = P->lX, lZ = P->lZ;
  double           omrho = t * t, rho = 1 - omrho, oprho = 2 - omrho;
  double           u = t / sqrt(oprho) * (lX * (1 + m * rho) - c * oprho * lZ) / sqrt(P->dm * (1 - m * rho * rho));
  return c * phi2(lX, lZ, c * rho) * sm_normal_cdf(u) * 2 * t;
}

/* Adaptive Gauss-Kronrod on [a, b] with optional interior break points (sorted, inside (a, b)). */
static double integrate(double (*f)(double, void *), PluriPath *ctx, double a, double b, const double *brk, int nbrk)
{
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(200);
  gsl_function               F  = {f, ctx};
  double                     pts[8], result = NAN, abserr;
  int                        n = 0;
  if (!ws) return NAN;
  pts[n++] = a;
  for (int i = 0; i < nbrk && n < 7; i++) {
    if (brk[i] > pts[n - 1] && brk[i] < b) pts[n++] = brk[i];
  }
  pts[n++]                 = b;
  gsl_error_handler_t *old = quiet_gsl();
  (void)gsl_integration_qagp(&F, pts, (size_t)n, 1e-13, 1e-11, 200, ws, &result, &abserr);
  restore_gsl(old);
  gsl_integration_workspace_free(ws);
  return result;
}

static void pluri_path_init(PluriPath *P, double lX, double lZ, double m, double rX, double rY)
{
  P->lX = lX, P->lZ = lZ, P->m = m, P->c = sqrt(m), P->dm = 1 - m;
  P->rX = clamp_corr(rX), P->rY = clamp_corr(rY);
  P->aX = (lZ - P->c * lX) / sqrt(P->dm);
}

/* C22 = P(X(s) < lX, X(t) < lX, Z(s) >= lZ, Z(t) >= lZ). With U = (X(s), X(t), -Z(s), -Z(t)) <= (lX, lX, -lZ, -lZ)
 * and the path above, the cross-covariances are tau rX (X(s),X(t)), -c tau rX (X(s),-Z(t)) and (X(t),-Z(s)), and
 * tau rZ (Z(s),Z(t)), rZ = m rX + (1-m) rY, so
 *   dC22/dtau = rX g12 - 2 c rX G14 + rZ g34,   C22(tau = 0) = eps2^2,
 * g12 = phi2(lX,lX;rho) P(Y(s) >= aX, Y(t) >= aX), G14 = phi2(lX,lZ;c rho) P(X(t) < lX, Z(s) >= lZ | X(s)=lX, Z(t)=lZ)
 * (equal to its mirror image for the pair (X(t), Z(s))), g34 = phi2(lZ,lZ;q) P(X(s) < lX, X(t) < lX | Z's = lZ). */
double sm_pluri_C22(double lX, double lZ, double m, double rX, double rY)
{
  if (isnan(m) || m < 0 || m > 1 || isnan(rX) || isnan(rY)) return NAN;
  rX = clamp_corr(rX), rY = clamp_corr(rY);
  if (m == 1) { /* Z = X: carbon = {lZ <= X < lX}, a rectangle probability */
    if (lZ >= lX) return 0.0;
    return fmax(0.0, sm_bvn_cdf(lX, lX, rX) - 2 * sm_bvn_cdf(lX, lZ, rX) + sm_bvn_cdf(lZ, lZ, rX));
  }
  double    eps2 = sm_pluri_carbon_fraction(lX, lZ, m);
  PluriPath P;
  pluri_path_init(&P, lX, lZ, m, rX, rY);
  if (rX == 0 && rY == 0) return eps2 * eps2;
  /* In v the integrand varies on the scales 1 - v ~ sqrt(1 - r) of the correlations that approach 1 along the path
     (rX, rY, rZ = m rX + (1 - m) rY, and sqrt(m) rX for the pair (X(s), Z(t))); break points there let the adaptive
     rule resolve each layer. */
  double eps[4] = {1 - P.rX, 1 - P.rY, 1 - (m * P.rX + (1 - m) * P.rY), 1 - P.c * P.rX}, brk[4];
  int    nbrk   = 0;
  for (int i = 0; i < 4; i++) {
    if (eps[i] > 0 && eps[i] < 0.25) brk[nbrk++] = 1 - sqrt(eps[i]);
  }
  for (int i = 1; i < nbrk; i++) { /* sort */
    for (int j = i; j > 0 && brk[j] < brk[j - 1]; j--) {
      double tmp = brk[j];
      brk[j] = brk[j - 1], brk[j - 1] = tmp;
    }
  }
  double C = eps2 * eps2 + integrate(c22_integrand, &P, 0.0, 1.0, brk, nbrk);
  return fmin(eps2, fmax(0.0, C));
}

/* C12 = P(X(s) >= lX, X(t) < lX, Z(t) >= lZ). Only X(s), X(t), Z(t) enter, so C12 does not depend on rho_Y.
 * Along rho = tau rX: dC12/drho = -phi2(lX,lX;rho) (1 - Phi(aX)) + c phi2(lX,lZ;c rho) Phi(u(rho)); the first term
 * integrates in closed form (Plackett for the bivariate normal), leaving a smooth 1D integral. */
double sm_pluri_C12(double lX, double lZ, double m, double rX, double rY)
{
  (void)rY;
  if (isnan(m) || m < 0 || m > 1 || isnan(rX)) return NAN;
  rX          = clamp_corr(rX);
  double eps1 = sm_normal_cdf(-lX);
  if (m == 1) { /* P(X(s) >= lX, lZ <= X(t) < lX) */
    if (lZ >= lX) return 0.0;
    return fmax(0.0, (sm_normal_cdf(lX) - sm_bvn_cdf(lX, lX, rX)) - (sm_normal_cdf(lZ) - sm_bvn_cdf(lX, lZ, rX)));
  }
  double    eps2 = sm_pluri_carbon_fraction(lX, lZ, m);
  PluriPath P;
  pluri_path_init(&P, lX, lZ, m, rX, 0.0);
  double Phi = sm_normal_cdf(lX);
  double C   = eps1 * eps2 - sm_normal_cdf(-P.aX) * (sm_bvn_cdf(lX, lX, rX) - Phi * Phi);
  /* int_0^rX d rho = int_sqrt(1 - rX)^1 d t (rho = 1 - t^2), for either sign of rX */
  if (m > 0 && rX != 0) {
    double t0 = sqrt(1 - rX);
    C += rX > 0 ? integrate(c12_integrand, &P, t0, 1.0, NULL, 0) : -integrate(c12_integrand, &P, 1.0, t0, NULL, 0);
  }
  return fmin(fmin(eps1, eps2), fmax(0.0, C));
}
