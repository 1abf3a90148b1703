/* Calibration of the excursion-set models to a labelled image (SPEC 4). See include/stochmorph/fit.h.
 *
 * Least squares for alpha: one parameter, so gsl_min (Brent's method) rather than gsl_multifit_nlinear: it needs no
 * Jacobian, is guaranteed to converge once the minimum is bracketed, and works on u = ln alpha so that alpha stays
 * positive without constraints. The bracket comes from a scan of the objective over eight decades around 1/h, which
 * uses nothing but the family's rho(h): any covariance family of the table plugs in unchanged. A few Gauss-Newton
 * steps polish Brent's answer (whose tolerance is sqrt(DBL_EPSILON)) to the rounding level. */
#include <stochmorph/fit.h>
#include <stochmorph/log.h>
#include <stochmorph/fft.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <string.h>

PetscErrorCode sm_fit_options_default(SMFitOptions *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->covariance = SM_COV_GAUSS;
  o->threshold  = 0.05;
  o->max_lag    = 0;
  o->fft_flags  = FFTW_ESTIMATE;
  PetscCall(PetscStrncpy(o->phase, "solid", sizeof(o->phase)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_options_set_from_options(MPI_Comm comm, SMFitOptions *o)
{
  PetscInt cov = o->covariance;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Calibration (SPEC 4)", "SMFit");
  PetscCall(PetscOptionsEList("-model_covariance",
                              "Covariance family fitted to rho(h): gauss exp(-(alpha h)^2) or "
                              "exponential exp(-alpha h)",
                              "sm_fit_two_phase", sm_covariance_names, SM_COV_NUM, sm_covariance_names[cov], &cov,
                              NULL));
  PetscCall(PetscOptionsString("-fit_phase", "Phase modelled by the gauss and chi2 fits (a phase name of the image)",
                               "sm_fit_data_create", o->phase, o->phase, sizeof(o->phase), NULL));
  PetscCall(PetscOptionsReal("-fit_threshold", "Fit range: lags where C(h) - p^2 exceeds this fraction of p - p^2",
                             "sm_fit_two_phase", o->threshold, &o->threshold, NULL));
  PetscCall(PetscOptionsReal("-fit_max_lag",
                             "Largest lag of the two-point functions [um] (default: half the shortest "
                             "box side for periodic volumes, a quarter for images)",
                             "sm_fit_data_create", o->max_lag, &o->max_lag, NULL));
  PetscCall(PetscOptionsBool("-fit_periodic",
                             "Treat the image as periodic (default: its `periodic` attribute; twins "
                             "are periodic, images and crops are not, and use minus-sampling)",
                             "sm_fit_data_create", o->periodic, &o->periodic, &o->periodic_set));
  PetscOptionsEnd();
  o->covariance = (SMCovarianceType)cov;
  PetscCheck(o->threshold > 0 && o->threshold < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-fit_threshold must lie strictly between 0 and 1 (got %g)", o->threshold);
  PetscCheck(o->max_lag >= 0 && isfinite(o->max_lag), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-fit_max_lag must be positive (got %g um)", o->max_lag);
  PetscCheck(o->phase[0], comm, PETSC_ERR_ARG_WRONG, "-fit_phase needs a phase name");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Index of pair (i, j) in tp, or -1. */
static int sm_tp_pair(const SMTwoPoint *tp, int i, int j)
{
  if (i > j) {
    int t = i;
    i     = j;
    j     = t;
  }
  for (int p = 0; p < tp->npairs; p++)
    if (tp->pair_i[p] == i && tp->pair_j[p] == j) return p;
  return -1;
}

PetscErrorCode sm_fit_data_create(SMVolume vol, PetscBool pluri, const SMFitOptions *o, SMFitData *d)
{
  SMGrid             grid;
  SMGridInfo         g;
  MPI_Comm           comm;
  int                np;
  const char *const *names;
  int64_t            counts[SM_MAX_PHASES];
  char               list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";
  PetscBool          periodic;
  SMVolume           ind = NULL;
  double             shortest;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(d, sizeof(*d)));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  comm = sm_grid_comm(grid);
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_get_periodic(vol, &periodic));
  if (o->periodic_set) periodic = o->periodic;
  for (int i = 0; i < np; i++) {
    PetscCall(PetscStrlcat(list, i ? ", " : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, names[i], sizeof(list)));
  }
  PetscCall(sm_morph_label_counts(vol, counts));
  shortest = PetscMin(g.n[0] * g.h[0], PetscMin(g.n[1] * g.h[1], g.n[2] * g.h[2]));
  PetscCheck(o->max_lag <= 0.5 * shortest * (1 + 1e-12), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-fit_max_lag %g um: the image (%lld x %lld x %lld voxels, shortest side %g um) is smaller than this fit "
             "range; lags reach at most half the shortest side (%g um)",
             o->max_lag, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], shortest, 0.5 * shortest);
  for (int d3 = 0; d3 < 3; d3++) {
    d->n[d3] = g.n[d3];
    d->h[d3] = g.h[d3];
  }
  d->periodic = periodic;
  d->pluri    = pluri;
  d->nphases  = np;

  if (pluri) {
    const char *want[3] = {"active", "carbon", "pore"};
    int         lab[3]  = {-1, -1, -1};
    PetscCheck(
        np == 3, comm, PETSC_ERR_ARG_WRONG,
        "-model pluri needs a three-phase image with phases active, carbon and pore; this image has %d phase%s (%s)",
        np, np == 1 ? "" : "s", list);
    for (int k = 0; k < 3; k++) {
      for (int i = 0; i < np; i++) {
        PetscBool same;
        PetscCall(PetscStrcmp(names[i], want[k], &same));
        if (same) lab[k] = i;
      }
      PetscCheck(
          lab[k] >= 0, comm, PETSC_ERR_ARG_WRONG,
          "-model pluri needs phases named active, carbon and pore; this image has no phase '%s' (its phases: %s; "
          "name them with -phase_names)",
          want[k], list);
      PetscCheck(counts[lab[k]] > 0, comm, PETSC_ERR_ARG_WRONG,
                 "-model pluri: the phase '%s' is empty in this image, so it does not have three phases", want[k]);
    }
    d->active = lab[0];
    d->carbon = lab[1];
    d->pore   = lab[2];
    for (int i = 0; i < np; i++) d->volume_fraction[i] = (double)counts[i] / (double)g.n_total;
    PetscCall(sm_morph_two_point(vol, periodic, o->max_lag, o->fft_flags, &d->tp));
  } else {
    int label = -1;
    for (int i = 0; i < np; i++) {
      PetscBool same;
      PetscCall(PetscStrcmp(names[i], o->phase, &same));
      if (same) label = i;
    }
    PetscCheck(label >= 0, comm, PETSC_ERR_ARG_WRONG, "-fit_phase: the image has no phase '%s'; its phases are: %s",
               o->phase, list);
    PetscCheck(counts[label] > 0 && counts[label] < g.n_total, comm, PETSC_ERR_ARG_WRONG,
               "The phase '%s' %s the whole image: it has one phase only, there is nothing to fit (choose another "
               "-fit_phase or check the segmentation)",
               o->phase, counts[label] ? "fills" : "is absent from");
    d->volume_fraction[1] = (double)counts[label] / (double)g.n_total;
    d->volume_fraction[0] = 1 - d->volume_fraction[1];
    d->active = d->carbon = d->pore = -1;
    if (np == 2 && label == 1) {
      PetscCall(sm_morph_two_point(vol, periodic, o->max_lag, o->fft_flags, &d->tp));
    } else {
      /* the indicator of the phase as label 1 (1 byte per voxel): one FFT instead of one per phase */
      const char *const inames[2] = {"other", "phase"};
      uint8_t          *src, *dst;
      PetscCall(sm_volume_create(grid, 2, inames, &ind));
      PetscCall(sm_volume_get_labels(vol, &src));
      PetscCall(sm_volume_get_labels(ind, &dst));
      for (int64_t v = 0; v < g.n_local; v++) dst[v] = src[v] == label;
      PetscCall(sm_morph_two_point(ind, periodic, o->max_lag, o->fft_flags, &d->tp));
      PetscCall(sm_volume_destroy(&ind));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_data_free(SMFitData *d)
{
  PetscFunctionBeginUser;
  if (d->tp.h) PetscCall(sm_morph_two_point_free(&d->tp));
  PetscCall(PetscMemzero(d, sizeof(*d)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Least squares for alpha                                                                                          */

typedef struct {
  const SMCovarianceFamily *fam;
  int                       n;
  const double             *h, *rho;
} SMAlphaCtx;

static double sm_alpha_objective(double u, void *ctx)
{
  const SMAlphaCtx *c = (const SMAlphaCtx *)ctx;
  double            a = exp(u), s = 0;
  for (int i = 0; i < c->n; i++) {
    double r = c->fam->rho(a, c->h[i]) - c->rho[i];
    s += r * r;
  }
  return s;
}

PetscErrorCode sm_fit_alpha(SMCovarianceType cov, int n, const double *h, const double *rho, double *alpha, double *rss)
{
  SMAlphaCtx           ctx;
  double               hs = 0, u0, du, best = INFINITY, fl, fh, fm, lo, hi, um;
  int                  jbest = -1;
  const int            nscan = 321; /* eight decades, steps of 6 % in alpha */
  gsl_min_fminimizer  *s;
  gsl_function         F;
  gsl_error_handler_t *old;
  int                  status = GSL_CONTINUE;

  PetscFunctionBeginUser;
  PetscCheck(cov >= 0 && cov < SM_COV_NUM, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Unknown covariance family %d",
             (int)cov);
  PetscCheck(n >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Least squares for alpha needs at least one lag");
  for (int i = 0; i < n; i++) {
    PetscCheck(h[i] > 0 && isfinite(h[i]) && rho[i] > 0 && rho[i] < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "Least squares for alpha: point %d (h = %g, rho = %g) needs h > 0 and rho in (0, 1)", i, h[i], rho[i]);
    hs += log(h[i]);
  }
  ctx.fam = &sm_covariance_families[cov];
  ctx.n   = n;
  ctx.h   = h;
  ctx.rho = rho;
  /* scan alpha over [1e-4, 1e4] / h_typical (geometric mean of the lags) for a bracket */
  u0 = -hs / n - 4 * log(10.0);
  du = 8 * log(10.0) / (nscan - 1);
  for (int j = 0; j < nscan; j++) {
    double f = sm_alpha_objective(u0 + j * du, &ctx);
    if (f < best) {
      best  = f;
      jbest = j;
    }
  }
  PetscCheck(jbest > 0 && jbest < nscan - 1, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED,
             "Least squares for alpha: the best alpha lies at the end of the scanned range (%g 1/um); the correlation "
             "data do not look like the %s family",
             exp(u0 + jbest * du), ctx.fam->name);
  um = u0 + jbest * du;
  lo = um - du;
  hi = um + du;
  fm = best;
  fl = sm_alpha_objective(lo, &ctx);
  fh = sm_alpha_objective(hi, &ctx);
  if (fm < fl && fm < fh) {
    F.function = sm_alpha_objective;
    F.params   = &ctx;
    s          = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    PetscCheck(s, PETSC_COMM_SELF, PETSC_ERR_MEM, "gsl_min_fminimizer_alloc failed");
    old = gsl_set_error_handler_off();
    if (gsl_min_fminimizer_set_with_values(s, &F, um, fm, lo, fl, hi, fh) == GSL_SUCCESS) {
      for (int it = 0; it < 200 && status == GSL_CONTINUE; it++) {
        if (gsl_min_fminimizer_iterate(s) != GSL_SUCCESS) break;
        status = gsl_min_test_interval(gsl_min_fminimizer_x_lower(s), gsl_min_fminimizer_x_upper(s), 1e-15, 1e-14);
      }
      um = gsl_min_fminimizer_x_minimum(s);
      fm = gsl_min_fminimizer_f_minimum(s);
    }
    gsl_set_error_handler(old);
    gsl_min_fminimizer_free(s);
  }
  /* Brent locates a minimum only to ~sqrt(DBL_EPSILON) in u (the objective is flat there); Gauss-Newton steps on the
     residuals, with d rho / du by central differences (the family table gives rho alone), take it to the rounding
     level. A step is kept only if it lowers the sum of squares. */
  for (int it = 0; it < 8; it++) {
    double jr = 0, jj = 0, du2 = 1e-5, a = exp(um), un, fn;
    for (int i = 0; i < n; i++) {
      double r = ctx.fam->rho(a, h[i]) - rho[i];
      double J = (ctx.fam->rho(exp(um + du2), h[i]) - ctx.fam->rho(exp(um - du2), h[i])) / (2 * du2);
      jr += J * r;
      jj += J * J;
    }
    if (!(jj > 0)) break;
    un = um - jr / jj;
    fn = sm_alpha_objective(un, &ctx);
    if (!(fn < fm)) break;
    um = un;
    fm = fn;
  }
  *alpha = exp(um);
  if (rss) *rss = fm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* sigma of the volume fraction                                                                                     */

/* Eq. 18 of the NMC paper: Var p^ = (1/v(W)^2) int_W int_W C0(x - y) dx dy. With z = x - y this is
   (1/v(W)^2) int C0(z) gamma_W(z) dz, gamma_W(z) = v(W intersected with W - z) being the measure of the pairs (x, x +
   z) with both points in W. On the voxel lattice v(W) = N voxels and gamma_W(z) = #{x in W : x + z in W}:
   - minus-sampled box of n_x x n_y x n_z voxels: x + z stays inside for n_d - |z_d| positions per axis, so
     #pairs(z) = prod_d (n_d - |z_d|), for |z_d| < n_d;
   - periodic window (a twin: its field, and the estimator, live on the torus Z^3 / n Z^3): every x has its partner
     x + z mod n, so #pairs(z) = N for each of the N distinct offsets z, taken here as the minimum-image lag
     (-(n_d - 1)/2 <= z_d <= n_d/2, each offset exactly once).
   So sigma^2 = (1/N) sum_z C0(z) (periodic) or (1/N^2) sum_z prod_d (n_d - |z_d|) C0(z) (box), summed over the lags
   where C0 is known; C0(|z|) is interpolated linearly in the radial curve. */
PetscErrorCode sm_fit_sigma_volume_fraction(const int64_t n[3], const PetscReal hv[3], PetscBool periodic, int nb,
                                            const double *hb, const double *C0, double *sigma)
{
  double  N = (double)n[0] * (double)n[1] * (double)n[2], hmax, sum = 0;
  int64_t lo[3], hi[3];

  PetscFunctionBeginUser;
  PetscCheck(nb >= 1 && hb[0] == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "The C0 curve must start at h = 0");
  for (int b = 1; b < nb; b++)
    PetscCheck(hb[b] > hb[b - 1], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "The lags of the C0 curve must increase");
  hmax = hb[nb - 1];
  for (int d = 0; d < 3; d++) {
    int64_t L = (int64_t)floor(hmax / hv[d] * (1 + 1e-12));
    lo[d]     = periodic ? -((n[d] - 1) / 2) : -(n[d] - 1);
    hi[d]     = periodic ? n[d] / 2 : n[d] - 1;
    lo[d]     = PetscMax(lo[d], -L);
    hi[d]     = PetscMin(hi[d], L);
  }
  for (int64_t z = lo[2]; z <= hi[2]; z++)
    for (int64_t y = lo[1]; y <= hi[1]; y++) {
      double dyz2 = (double)(y * y) * hv[1] * hv[1] + (double)(z * z) * hv[2] * hv[2];
      double pyz  = periodic ? 1.0 : (double)(n[1] - (y < 0 ? -y : y)) * (double)(n[2] - (z < 0 ? -z : z));
      int    b    = 0;
      double row  = 0;
      if (dyz2 > hmax * hmax * (1 + 1e-12)) continue;
      for (int64_t x = lo[0]; x <= hi[0]; x++) {
        double l = sqrt((double)(x * x) * hv[0] * hv[0] + dyz2), c0, w;
        if (l > hmax * (1 + 1e-12)) continue;
        /* bracket l in hb: hb[b] <= l < hb[b + 1] (b moves both ways along the row) */
        while (b > 0 && hb[b] > l) b--;
        while (b + 1 < nb && hb[b + 1] <= l) b++;
        if (b + 1 >= nb)
          c0 = C0[nb - 1];
        else {
          w  = (l - hb[b]) / (hb[b + 1] - hb[b]);
          c0 = (1 - w) * C0[b] + w * C0[b + 1];
        }
        row += c0 * (periodic ? 1.0 : (double)(n[0] - (x < 0 ? -x : x)));
      }
      sum += row * pyz;
    }
  sum    = periodic ? sum / N : sum / (N * N);
  *sigma = sum > 0 ? sqrt(sum) : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* sigma(p) from a measured coverage curve: C0 = C - p^2 summed up to its first zero (past it the estimate is noise,
   whose sum over the large number of pairs at long lags would swamp the correlated part). */
static PetscErrorCode sm_sigma_from_curve(const SMFitData *d, const double *C, double p, double *sigma, double *lag)
{
  int     nb = d->tp.nbins, nuse = nb;
  double *C0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nb, &C0));
  for (int b = 0; b < nb; b++) C0[b] = C[b] - p * p;
  for (int b = 1; b < nb; b++)
    if (!(C0[b] > 0)) {
      C0[b] = PetscMax(C0[b], 0.0);
      nuse  = b + 1;
      break;
    }
  PetscCall(sm_fit_sigma_volume_fraction(d->n, d->h, d->periodic, nuse, d->tp.h, C0, sigma));
  *lag = d->tp.h[nuse - 1];
  PetscCall(PetscFree(C0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Two-phase models                                                                                                 */

static double sm_coverage(SMModelType type, int k, double lambda, double r)
{
  return type == SM_MODEL_GAUSS ? sm_gauss_coverage(lambda, r) : sm_chi2_coverage(k, lambda, r);
}

/* rho from a coverage value, NAN unless p^2 < C < p (SPEC 4 step 4). */
static double sm_correlation(SMModelType type, int k, double lambda, double p, double C)
{
  if (!(C > p * p && C < p)) return NAN;
  return type == SM_MODEL_GAUSS ? sm_gauss_correlation_from_coverage(lambda, C)
                                : sm_chi2_correlation_from_coverage(k, lambda, C);
}

/* Last index of the run of lags from 1 where C - p^2 > thr (p - p^2); 0 if lag 1 already fails. */
static int sm_range_end(int n, const double *C, double p, double thr)
{
  int hi = 0;
  for (int b = 1; b < n; b++) {
    if (C[b] - p * p > thr * (p - p * p))
      hi = b;
    else
      break;
  }
  return hi;
}

/* Collect the points (h_b, rho_b) of [1, hi] with rho in (0, 1); returns how many. */
static int sm_collect(int hi, const double *h, const double *rho, double *hs, double *rs)
{
  int n = 0;
  for (int b = 1; b <= hi; b++)
    if (rho[b] > 0 && rho[b] < 1) {
      hs[n] = h[b];
      rs[n] = rho[b];
      n++;
    }
  return n;
}

/* alpha fitted on one axis curve (isotropy check); NAN when fewer than two lags qualify. */
static PetscErrorCode sm_axis_alpha(SMModelType type, int k, double lambda, double p, const SMFitOptions *o, int n,
                                    const double *h, const double *C, double *alpha)
{
  double *rho, *hs, *rs;
  int     hi, m;

  PetscFunctionBeginUser;
  *alpha = NAN;
  PetscCall(PetscMalloc3(n, &rho, n, &hs, n, &rs));
  hi = sm_range_end(n, C, p, o->threshold);
  for (int b = 0; b <= hi; b++) rho[b] = sm_correlation(type, k, lambda, p, C[b]);
  m = sm_collect(hi, h, rho, hs, rs);
  if (m >= 2) PetscCall(sm_fit_alpha(o->covariance, m, hs, rs, alpha, NULL));
  PetscCall(PetscFree3(rho, hs, rs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double sm_spread(const double a[3])
{
  double mn = PetscMin(a[0], PetscMin(a[1], a[2])), mx = PetscMax(a[0], PetscMax(a[1], a[2]));
  if (isnan(a[0]) || isnan(a[1]) || isnan(a[2])) return NAN;
  return (mx - mn) / ((a[0] + a[1] + a[2]) / 3);
}

static const char *sm_model_label(SMModelType type, int k, char *buf, size_t len)
{
  if (type == SM_MODEL_CHI2)
    (void)PetscSNPrintf(buf, len, "chi2 (k = %d)", k);
  else
    (void)PetscSNPrintf(buf, len, "%s", sm_model_names[type]);
  return buf;
}

/* Checks shared by both fits on the radial range [1, hi] of curve C with volume fraction p. */
static PetscErrorCode sm_check_range(MPI_Comm comm, const SMFitData *d, const char *what, int hi, int npts,
                                     const SMFitOptions *o)
{
  const SMTwoPoint *tp = &d->tp;

  PetscFunctionBeginUser;
  PetscCheck(hi<tp->nbins - 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "%s is still correlated (C - p^2 above %g of p - p^2) at the largest lag %g um: the image (%lld x "
                 "%lld x %lld "
                 "voxels) is smaller than the fit range; use a larger image%s",
                 what, o->threshold, tp->h[tp->nbins - 1], (long long)d->n[0], (long long)d->n[1], (long long)d->n[2],
                 o->max_lag> 0
                 ? " or a larger -fit_max_lag"
                 : " or -fit_max_lag (up to half the shortest side)");
  {
    /* On a window only a few correlation lengths wide the estimated C - p^2 is pulled down to zero (on a periodic
       window its sum over all lags vanishes exactly, since p^ is the window's own mean), so a range ending early says
       nothing: the shortest side must be at least four times the end of the fit range. */
    double side = PetscMin(d->n[0] * d->h[0], PetscMin(d->n[1] * d->h[1], d->n[2] * d->h[2]));
    PetscCheck(
        4 * tp->h[hi] <= side, comm, PETSC_ERR_ARG_OUTOFRANGE,
        "%s is correlated up to %g um (C - p^2 above %g of p - p^2), but the image's shortest side is only %g um: "
        "the image is smaller than the fit range needs (at least four times its end, %g um); use a larger image",
        what, tp->h[hi], o->threshold, side, 4 * tp->h[hi]);
  }
  PetscCheck(
      npts >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
      "%s: only %d lag%s with C - p^2 above %g of p - p^2 (the structure is about one voxel wide); too few to fit "
      "alpha (lower -fit_threshold or use a finer image)",
      what, npts, npts == 1 ? "" : "s", o->threshold);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_two_phase(MPI_Comm comm, const SMFitData *d, SMModelType type, int dof, const SMFitOptions *o,
                                SMFitResult *res)
{
  const SMTwoPoint         *tp = &d->tp;
  const SMCovarianceFamily *fam;
  int                       pr, nb = tp->nbins, hi, npts, k = type == SM_MODEL_CHI2 ? dof : 0;
  double                    p = d->volume_fraction[1], lambda, *hs, *rs, ss = 0;
  const double             *C;
  char                      label[32], what[96];

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Fit, 0, 0, 0, 0));
  PetscCall(PetscMemzero(res, sizeof(*res)));
  PetscCheck(!d->pluri, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "sm_fit_two_phase needs data of a two-phase fit");
  PetscCheck(type == SM_MODEL_GAUSS || type == SM_MODEL_CHI2, comm, PETSC_ERR_ARG_WRONG,
             "sm_fit_two_phase fits gauss or chi2");
  PetscCheck(type != SM_MODEL_CHI2 || (dof >= 1 && dof <= 32), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-model_dof must be between 1 and 32 (got %d)", dof);
  pr = sm_tp_pair(tp, 1, 1);
  PetscCheck(pr >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Two-point data lack the pair (1, 1)");
  C   = tp->C + (size_t)pr * nb;
  fam = &sm_covariance_families[o->covariance];
  if (type == SM_MODEL_GAUSS)
    PetscCall(sm_gauss_threshold(p, &lambda));
  else
    PetscCall(sm_chi2_threshold(k, p, &lambda));

  res->type            = type;
  res->dof             = k;
  res->covariance      = o->covariance;
  res->volume_fraction = p;
  res->threshold       = lambda;
  res->nbins           = nb;
  PetscCall(PetscMalloc5(nb, &res->h, nb, &res->C_data, nb, &res->C_model, nb, &res->rho_data, nb, &res->rho_model));
  PetscCall(PetscArraycpy(res->h, tp->h, nb));
  PetscCall(PetscArraycpy(res->C_data, C, nb));
  for (int b = 0; b < nb; b++) res->rho_data[b] = b == 0 ? 1.0 : sm_correlation(type, k, lambda, p, C[b]);

  hi = sm_range_end(nb, C, p, o->threshold);
  PetscCall(PetscMalloc2(nb, &hs, nb, &rs));
  npts = sm_collect(hi, tp->h, res->rho_data, hs, rs);
  PetscCall(PetscSNPrintf(what, sizeof(what), "The phase (p = %.4f, %s model)", p,
                          sm_model_label(type, k, label, sizeof(label))));
  PetscCall(sm_check_range(comm, d, what, hi, npts, o));
  PetscCall(sm_fit_alpha(o->covariance, npts, hs, rs, &res->alpha, NULL));
  PetscCall(PetscFree2(hs, rs));

  res->bin_lo   = 1;
  res->bin_hi   = hi;
  res->range[0] = tp->h[1];
  res->range[1] = tp->h[hi];
  for (int b = 0; b < nb; b++) {
    res->rho_model[b] = fam->rho(res->alpha, tp->h[b]);
    res->C_model[b]   = sm_coverage(type, k, lambda, res->rho_model[b]);
  }
  for (int b = 1; b <= hi; b++) ss += (res->C_model[b] - C[b]) * (res->C_model[b] - C[b]);
  res->residual = sqrt(ss / hi);
  PetscCall(sm_sigma_from_curve(d, C, p, &res->sigma_volume_fraction, &res->sigma_lag));
  for (int a = 0; a < 3; a++)
    PetscCall(sm_axis_alpha(type, k, lambda, p, o, tp->naxis[a], tp->h_axis[a],
                            tp->C_axis[a] + (size_t)pr * tp->naxis[a], &res->alpha_axis[a]));
  res->isotropy_spread = sm_spread(res->alpha_axis);
  PetscCall(PetscLogEventEnd(SM_EVENT_Fit, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_result_free(SMFitResult *res)
{
  PetscFunctionBeginUser;
  if (res->h) PetscCall(PetscFree5(res->h, res->C_data, res->C_model, res->rho_data, res->rho_model));
  PetscCall(PetscMemzero(res, sizeof(*res)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_auto(MPI_Comm comm, const SMFitData *d, const SMFitOptions *o,
                           SMFitResult cand[SM_FIT_AUTO_KMAX + 1], int *best)
{
  PetscFunctionBeginUser;
  *best = 0;
  for (int c = 0; c <= SM_FIT_AUTO_KMAX; c++) {
    PetscCall(sm_fit_two_phase(comm, d, c == 0 ? SM_MODEL_GAUSS : SM_MODEL_CHI2, c, o, &cand[c]));
    if (cand[c].residual < cand[*best].residual) *best = c;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* pluri model                                                                                                      */

PetscErrorCode sm_fit_pluri_m_scan(double lX, double eps2, int n, const double *rX, const double *C12, int nm,
                                   double *m, double *dist, int *best)
{
  PetscFunctionBeginUser;
  PetscCheck(nm >= 2, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "The m scan needs at least two values of m");
  *best = -1;
  for (int j = 0; j < nm; j++) {
    double lZ, s = 0;
    m[j] = (double)j / (nm - 1);
    PetscCall(sm_pluri_threshold_z(lX, eps2, m[j], &lZ));
    for (int i = 0; i < n; i++) {
      double r = sm_pluri_C12(lX, lZ, m[j], rX[i], 0.0) - C12[i];
      s += r * r;
    }
    dist[j] = s;
    if (*best < 0 || s < dist[*best]) *best = j;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  double lX, lZ, m, rX, target;
} SMC22Ctx;

static double sm_c22_residual(double rY, void *ctx)
{
  const SMC22Ctx *c = (const SMC22Ctx *)ctx;
  return sm_pluri_C22(c->lX, c->lZ, c->m, c->rX, rY) - c->target;
}

/* rho_Y with C22(rX, rho_Y) = C22^ (Brent's root finder on [0, 1]); NAN when C22^ lies outside [C22(rX, 0), C22(rX,
   1)]. C22 increases with rho_Y (Slepian's inequality for (Y(s), Y(t)) given the X values); checked on five points
   first, since bisection on a non-monotone function would return a root silently. */
static PetscErrorCode sm_pluri_rho_y(double lX, double lZ, double m, double rX, double C22, double *rY)
{
  SMC22Ctx             ctx = {lX, lZ, m, rX, C22};
  double               v[5];
  gsl_root_fsolver    *s;
  gsl_function         F;
  gsl_error_handler_t *old;
  int                  status = GSL_CONTINUE;

  PetscFunctionBeginUser;
  *rY = NAN;
  for (int i = 0; i < 5; i++) v[i] = sm_c22_residual(0.25 * i, &ctx);
  for (int i = 1; i < 5; i++)
    PetscCheck(v[i] >= v[i - 1] - 1e-10, PETSC_COMM_SELF, PETSC_ERR_PLIB,
               "C22 is not increasing in rho_Y at lX = %g, lZ = %g, m = %g, rX = %g (%g at %g, %g at %g)", lX, lZ, m,
               rX, v[i - 1] + C22, 0.25 * (i - 1), v[i] + C22, 0.25 * i);
  if (!(v[0] < 0 && v[4] > 0)) PetscFunctionReturn(PETSC_SUCCESS);
  F.function = sm_c22_residual;
  F.params   = &ctx;
  s          = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  PetscCheck(s, PETSC_COMM_SELF, PETSC_ERR_MEM, "gsl_root_fsolver_alloc failed");
  old = gsl_set_error_handler_off();
  if (gsl_root_fsolver_set(s, &F, 0.0, 1.0) == GSL_SUCCESS) {
    for (int it = 0; it < 100 && status == GSL_CONTINUE; it++) {
      if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
      status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s), 1e-10, 0);
    }
    *rY = gsl_root_fsolver_root(s);
  }
  gsl_set_error_handler(old);
  gsl_root_fsolver_free(s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_pluri(MPI_Comm comm, const SMFitData *d, const SMFitOptions *o, SMPluriFitResult *res)
{
  const SMTwoPoint         *tp  = &d->tp;
  const SMCovarianceFamily *fam = &sm_covariance_families[o->covariance];
  int                       nb = tp->nbins, p11, p12, p22, hx, hy, npts, nm = 0, best;
  double                    e1, e2, lX, lZ, *hs, *rs, *rm, *cm, ss, lagx;
  const double             *C11, *C12, *C22;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Fit, 0, 0, 0, 0));
  PetscCall(PetscMemzero(res, sizeof(*res)));
  PetscCheck(d->pluri, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "sm_fit_pluri needs data of a pluri fit");
  p11 = sm_tp_pair(tp, d->active, d->active);
  p12 = sm_tp_pair(tp, d->active, d->carbon);
  p22 = sm_tp_pair(tp, d->carbon, d->carbon);
  PetscCheck(p11 >= 0 && p12 >= 0 && p22 >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Two-point data lack a pluri pair");
  C11             = tp->C + (size_t)p11 * nb;
  C12             = tp->C + (size_t)p12 * nb;
  C22             = tp->C + (size_t)p22 * nb;
  e1              = d->volume_fraction[d->active];
  e2              = d->volume_fraction[d->carbon];
  res->covariance = o->covariance;
  res->eps[0]     = e1;
  res->eps[1]     = e2;
  res->eps[2]     = d->volume_fraction[d->pore];
  PetscCall(sm_gauss_threshold(e1, &lX));
  res->threshold_x = lX;
  res->nbins       = nb;
  PetscCall(
      PetscMalloc5(nb, &res->h, nb, &res->C11_data, nb, &res->C11_model, nb, &res->C12_data, nb, &res->C12_model));
  PetscCall(PetscMalloc6(nb, &res->C22_data, nb, &res->C22_model, nb, &res->rho_x_data, nb, &res->rho_x_model, nb,
                         &res->rho_y_data, nb, &res->rho_y_model));
  PetscCall(PetscArraycpy(res->h, tp->h, nb));
  PetscCall(PetscArraycpy(res->C11_data, C11, nb));
  PetscCall(PetscArraycpy(res->C12_data, C12, nb));
  PetscCall(PetscArraycpy(res->C22_data, C22, nb));
  PetscCall(PetscMalloc4(nb, &hs, nb, &rs, nb, &rm, nb, &cm));

  /* active: lambda_X and rho_X from C11 exactly as for the gauss model (SPEC 3.3: C11 is the gauss coverage) */
  for (int b = 0; b < nb; b++) res->rho_x_data[b] = b == 0 ? 1.0 : sm_correlation(SM_MODEL_GAUSS, 0, lX, e1, C11[b]);
  hx   = sm_range_end(nb, C11, e1, o->threshold);
  npts = sm_collect(hx, tp->h, res->rho_x_data, hs, rs);
  PetscCall(sm_check_range(comm, d, "The active phase (C11)", hx, npts, o));
  PetscCall(sm_fit_alpha(o->covariance, npts, hs, rs, &res->alpha_x, NULL));
  res->range_x[0] = tp->h[1];
  res->range_x[1] = tp->h[hx];
  for (int b = 0; b < nb; b++) res->rho_x_model[b] = fam->rho(res->alpha_x, tp->h[b]);
  for (int b = hx + 1; b < nb; b++) res->rho_x_data[b] = NAN;
  PetscCall(sm_sigma_from_curve(d, C11, e1, &res->sigma_eps_active, &lagx));
  for (int a = 0; a < 3; a++)
    PetscCall(sm_axis_alpha(SM_MODEL_GAUSS, 0, lX, e1, o, tp->naxis[a], tp->h_axis[a],
                            tp->C_axis[a] + (size_t)p11 * tp->naxis[a], &res->alpha_x_axis[a]));
  res->isotropy_spread = sm_spread(res->alpha_x_axis);

  /* m: C12 depends on rho_X, lambda_Z and m only (theory.h), so the scan needs neither rho_Y nor alpha_Y. SPEC 4
     inverts C22 for rho_Y at every m; that does not change which m is chosen, so it is done once, for the chosen m.
     Lags where the fitted rho_X is below 1e-9 are left out: there C12 = eps1 eps2 for every m (to 1e-9), so they add
     the same amount to every distance. */
  for (int b = 1; b < nb; b++)
    if (res->rho_x_model[b] > 1e-9) {
      rm[nm] = res->rho_x_model[b];
      cm[nm] = C12[b];
      nm++;
    }
  PetscCheck(nm >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "The m scan needs at least two lags where the active phase is correlated");
  res->range_m[0] = tp->h[1];
  res->range_m[1] = tp->h[nm];
  PetscCall(sm_fit_pluri_m_scan(lX, e2, nm, rm, cm, SM_FIT_PLURI_NM, res->m_grid, res->m_distance, &best));
  res->m = res->m_grid[best];
  PetscCheck(
      res->m < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
      "The m scan chose m = 1 (carbon is a layer {lambda_Z <= X < lambda_X} of the X field alone), where rho_Y has "
      "no effect: alpha_Y cannot be fitted; the image does not look like a pluri-Gaussian structure");
  PetscCall(sm_pluri_threshold_z(lX, e2, res->m, &lZ));
  res->threshold_z = lZ;

  /* carbon: rho_Y by inverting C22 at the chosen m, over the range where C22 - eps2^2 is above the threshold */
  hy                 = sm_range_end(nb, C22, e2, o->threshold);
  res->rho_y_data[0] = 1.0;
  for (int b = 1; b < nb; b++) {
    res->rho_y_data[b] = NAN;
    if (b <= hy) PetscCall(sm_pluri_rho_y(lX, lZ, res->m, res->rho_x_model[b], C22[b], &res->rho_y_data[b]));
  }
  npts = sm_collect(hy, tp->h, res->rho_y_data, hs, rs);
  PetscCall(sm_check_range(comm, d, "The carbon phase (C22)", hy, npts, o));
  PetscCall(sm_fit_alpha(o->covariance, npts, hs, rs, &res->alpha_y, NULL));
  res->range_y[0] = tp->h[1];
  res->range_y[1] = tp->h[hy];

  for (int b = 0; b < nb; b++) {
    double rx = res->rho_x_model[b], ry = fam->rho(res->alpha_y, tp->h[b]);
    res->rho_y_model[b] = ry;
    res->C11_model[b]   = sm_pluri_C11(lX, rx);
    res->C12_model[b]   = sm_pluri_C12(lX, lZ, res->m, rx, ry);
    res->C22_model[b]   = sm_pluri_C22(lX, lZ, res->m, rx, ry);
  }
  ss = 0;
  for (int b = 1; b <= hx; b++) ss += PetscSqr(res->C11_model[b] - C11[b]);
  res->residual[0] = sqrt(ss / hx);
  ss               = 0;
  for (int b = 1; b <= nm; b++) ss += PetscSqr(res->C12_model[b] - C12[b]);
  res->residual[1] = sqrt(ss / nm);
  ss               = 0;
  for (int b = 1; b <= hy; b++) ss += PetscSqr(res->C22_model[b] - C22[b]);
  res->residual[2] = sqrt(ss / hy);
  PetscCall(PetscFree4(hs, rs, rm, cm));
  PetscCall(PetscLogEventEnd(SM_EVENT_Fit, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_pluri_result_free(SMPluriFitResult *res)
{
  PetscFunctionBeginUser;
  if (res->h) {
    PetscCall(PetscFree5(res->h, res->C11_data, res->C11_model, res->C12_data, res->C12_model));
    PetscCall(PetscFree6(res->C22_data, res->C22_model, res->rho_x_data, res->rho_x_model, res->rho_y_data,
                         res->rho_y_model));
  }
  PetscCall(PetscMemzero(res, sizeof(*res)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------------------------------------------- */

PetscErrorCode sm_fit_model_options(const SMFitResult *res, const SMPluriFitResult *pres, char *text, size_t len)
{
  SMModelParams p;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&p, sizeof(p)));
  if (pres) { /* label order of the pluri model: pore, active, carbon */
    p.type               = SM_MODEL_PLURI;
    p.covariance         = pres->covariance;
    p.volume_fraction[1] = pres->eps[0];
    p.volume_fraction[2] = pres->eps[1];
    p.alpha_x            = pres->alpha_x;
    p.alpha_y            = pres->alpha_y;
    p.m                  = pres->m;
  } else { /* two phases: pore, solid */
    p.type               = res->type;
    p.covariance         = res->covariance;
    p.dof                = res->dof;
    p.alpha              = res->alpha;
    p.volume_fraction[1] = res->volume_fraction;
  }
  PetscCall(sm_model_params_options_text(&p, text, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fit_create_model(MPI_Comm comm, const SMFitResult *res, const SMPluriFitResult *pres, SMModel *model)
{
  char           text[512];
  PetscOptions   db;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(sm_fit_model_options(res, pres, text, sizeof(text)));
  /* a private options database, so neither the user's options (e.g. -model auto) nor their used/unused state interfere
   */
  PetscCall(PetscOptionsCreate(&db));
  PetscCall(PetscOptionsInsertString(db, text));
  PetscCall(PetscOptionsPush(db));
  ierr = sm_model_create_from_options(comm, model);
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&db));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
