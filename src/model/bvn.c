/* Univariate and bivariate standard normal probabilities.
 *
 * The bivariate CDF follows the method of A. Genz, "Numerical computation of rectangular bivariate and
 * trivariate normal and t probabilities", Statistics and Computing 14 (2004) 251-260, Sec. 2.2, which builds on
 * Z. Drezner and G. O. Wesolowsky, "On the computation of the bivariate normal integral", J. Statist. Comput.
 * Simul. 35 (1990) 101-107. It is written here from the formulas of those papers; the derivation of each step is
 * given in the comments so that it can be checked without them. Absolute accuracy is about 1e-15. */
#include <stochmorph/theory.h>
#include "theory_impl.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

#define SM_TWO_PI 6.283185307179586476925286766559
#define SM_SQRT_TWO_PI 2.506628274631000502415765284811
#define SM_INV_SQRT_2PI 0.398942280401432677939946059934

/* Gauss-Legendre rules on [-1, 1]; only the positive nodes are stored (the rules are symmetric). The three sizes
 * are the ones Genz (2004) pairs with |r| < 0.3, < 0.75 and the rest: enough for double precision in each range. */
static const double gl6_x[3] = {0.93246951420315202781, 0.66120938646626451366, 0.23861918608319690863};
static const double gl6_w[3] = {0.17132449237917034504, 0.36076157304813860757, 0.46791393457269104739};

static const double gl12_x[6] = {0.98156063424671925069, 0.90411725637047485668, 0.76990267419430468704,
                                 0.58731795428661744730, 0.36783149899818019375, 0.12523340851146891547};
static const double gl12_w[6] = {0.047175336386511827195, 0.10693932599531843096, 0.16007832854334622633,
                                 0.20316742672306592175,  0.23349253653835480876, 0.24914704581340278500};

const double sm_gl20_x[10] = {0.99312859918509492479, 0.96397192727791379127, 0.91223442825132590587,
                                  0.83911697182221882339, 0.74633190646015079261, 0.63605368072651502545,
                                  0.51086700195082709800, 0.37370608871541956067, 0.22778585114164507808,
                                  0.076526521133497333755};
const double sm_gl20_w[10] = {0.017614007139152118312, 0.040601429800386941331, 0.062672048334109063570,
                                  0.083276741576704748725, 0.10193011981724043504,  0.11819453196151841731,
                                  0.13168863844917662690,  0.14209610931838205133,  0.14917298647260374679,
                                  0.15275338713072585070};

double sm_normal_cdf(double x)
{
  if (isnan(x)) return NAN;
  if (isinf(x)) return x > 0 ? 1.0 : 0.0;
  return gsl_cdf_ugaussian_P(x);
}

double sm_normal_quantile(double p)
{
  if (!(p >= 0 && p <= 1)) return NAN;
  if (p == 0) return -INFINITY;
  if (p == 1) return INFINITY;
  return gsl_cdf_ugaussian_Pinv(p);
}

double sm_normal_pdf(double x)
{
  return SM_INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* P(a < X < b) for a <= b, taken from whichever tail keeps both terms small, so that an interval far out in
 * one tail does not lose its digits to 1 - 1. */
static double normal_interval(double a, double b)
{
  if (a >= b) return 0.0;
  if (a + b > 0) return sm_normal_cdf(-a) - sm_normal_cdf(-b);
  return sm_normal_cdf(b) - sm_normal_cdf(a);
}

/* L(h, k, r) = P(X > h, Y > k) for a standard bivariate normal pair with correlation r.
 *
 * Both branches rest on Plackett's identity dL/dr = phi2(h, k; r), the bivariate density, so that
 * L(h, k, r) = L(h, k, r0) + integral_{r0}^{r} phi2(h, k; t) dt with a starting point where L is known:
 * - |r| < 0.925: start at r0 = 0, L = Phi(-h) Phi(-k). With t = sin(theta) the integrand
 *   exp(-(h^2 - 2 t h k + k^2) / (2 (1 - t^2))) / (2 pi) is smooth in theta on [0, asin r]; Gauss-Legendre.
 * - |r| >= 0.925 (r > 0 after the reflection L(h, k, r) = Phi(-h) - L(h, -k, -r)): start at r0 = 1, where
 *   L = Phi(-max(h, k)), and integrate back. With x = sqrt(1 - t^2) the piece from r to 1 becomes
 *   (1 / (2 pi)) integral_0^a exp(-(h - k)^2 / (2 x^2) - h k / (1 + t)) / t dx,  a = sqrt(1 - r^2), t = sqrt(1 - x^2).
 *   Expanding exp(-h k (1 - t) / (2 (1 + t))) / t = 1 + c x^2 (1 + d x^2) + O(x^6), c = (4 - hk)/8,
 *   d = (12 - hk)/16, the polynomial part is integrated exactly (integral_0^a x^(2n) exp(-b^2/(2x^2)) dx
 *   by the recursion (2n+1) I_n = a^(2n+1) exp(-b^2/(2a^2)) - b^2 I_(n-1), I_0 = a exp(..) - b sqrt(2pi) Phi(-b/a))
 *   and only the small smooth remainder is left to a 20-point rule. */
static double bvn_upper(double h, double k, double r)
{
  if (isnan(h) || isnan(k) || isnan(r)) return NAN;
  if (r > 1) r = 1;
  if (r < -1) r = -1;
  if (h == INFINITY || k == INFINITY) return 0.0;
  if (h == -INFINITY) return sm_normal_cdf(-k);
  if (k == -INFINITY) return sm_normal_cdf(-h);
  if (r == 1) return sm_normal_cdf(-fmax(h, k));
  if (r == -1) return normal_interval(h, -k); /* Y = -X: h < X < -k */

  double hk = h * k;
  if (fabs(r) < 0.925) {
    const double *x, *w;
    int           n;
    if (fabs(r) < 0.3) {
      x = gl6_x, w = gl6_w, n = 3;
    } else if (fabs(r) < 0.75) {
      x = gl12_x, w = gl12_w, n = 6;
    } else {
      x = sm_gl20_x, w = sm_gl20_w, n = 10;
    }
    double hs = 0.5 * (h * h + k * k), asr = asin(r), sum = 0;
    for (int i = 0; i < n; i++) {
      for (int sgn = -1; sgn <= 1; sgn += 2) {
        double sn = sin(0.5 * asr * (1 + sgn * x[i]));
        sum += w[i] * exp((sn * hk - hs) / ((1 - sn) * (1 + sn)));
      }
    }
    /* Node t = asr (1 + x)/2 carries weight asr/2 w; the prefactor is 1/(2 pi). */
    return fmax(0.0, sum * asr / (2 * SM_TWO_PI) + sm_normal_cdf(-h) * sm_normal_cdf(-k));
  }

  double kk = k, hkk = hk, ar = fabs(r);
  if (r < 0) kk = -k, hkk = -hk;
  double as = (1 - ar) * (1 + ar), a = sqrt(as), bs = (h - kk) * (h - kk), b = sqrt(bs);
  double c = (4 - hkk) / 8, d = (12 - hkk) / 16, integral = 0;

  /* Exact part: exp(-hk/2) (I_0 + c I_1 + c d I_2), collected as in Genz (2004). When hk < -160 both terms are
     below 1e-100 (then (h - k)^2 >= -4 hk) and exp(-hk/2) alone could overflow, so they are skipped. */
  if (hkk > -160) {
    double e = -0.5 * (bs / as + hkk);
    integral = a * exp(e) * (1 - c * (bs - as) * (1 - d * bs / 5) / 3 + c * d * as * as / 5);
    if (b > 0)
      integral -= exp(-0.5 * hkk) * SM_SQRT_TWO_PI * sm_normal_cdf(-b / a) * b * (1 - c * bs * (1 - d * bs / 5) / 3);
  }
  /* Remainder: smooth, O(x^6) near 0. 1 - t is formed as x^2/(1 + t) to keep its digits. */
  double half = 0.5 * a;
  for (int i = 0; i < 10; i++) {
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      double xx = half * (1 + sgn * sm_gl20_x[i]), xs = xx * xx, rs = sqrt(1 - xs);
      double e = -0.5 * (bs / xs + hkk);
      if (e > -100) {
        integral += half * sm_gl20_w[i] * exp(e) *
                    (exp(-0.5 * hkk * xs / ((1 + rs) * (1 + rs))) / rs - (1 + c * xs * (1 + d * xs)));
      }
    }
  }
  double tail = integral / SM_TWO_PI; /* probability accumulated along t in [|r|, 1] */
  if (r > 0) return fmax(0.0, sm_normal_cdf(-fmax(h, kk)) - tail);
  /* r < 0: L(h, k, r) = Phi(-h) - L(h, kk, |r|) = Phi(-h) - Phi(-max(h, kk)) + tail */
  return fmax(0.0, tail + normal_interval(h, kk));
}

double sm_bvn_cdf(double x, double y, double r)
{
  /* P(X < x, Y < y) = P(-X > -x, -Y > -y), and (-X, -Y) has the same correlation. */
  return bvn_upper(-x, -y, r);
}
