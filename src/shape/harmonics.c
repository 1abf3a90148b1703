/* Real spherical harmonics (normalisation in shape.h), sample directions, least-squares fits and coefficient bounds. */
#include "shape_impl.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sf_legendre.h>
#include <math.h>

/* Room for gsl_sf_legendre_array_n(SM_SHAPE_MAX_DEGREE): the 496 values P_l^m plus GSL's precomputed recurrence
   factors (558 in all in GSL 2.7); checked by sm_shape_sh_basis. */
#define SM_SH_PLM_MAX 1024

PetscErrorCode sm_shape_options_default(SMShapeOptions *opt)
{
  PetscFunctionBeginUser;
  opt->degree          = 10;
  opt->ndirections     = 0;
  opt->marker_height   = -1;
  opt->star_split      = PETSC_TRUE;
  opt->cover           = PETSC_TRUE;
  opt->match_volume    = PETSC_TRUE;
  opt->adaptive_degree = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_options_set_from_options(MPI_Comm comm, SMShapeOptions *opt)
{
  PetscInt  L = opt->degree, nd = opt->ndirections;
  PetscReal h     = opt->marker_height;
  PetscBool split = opt->star_split, cover = opt->cover, match = opt->match_volume, adapt = opt->adaptive_degree;
  const char *match_help = "Move every sub-particle's surface inward (or outward) by one common distance, at most "
                           PetscStringize(SM_SHAPE_OFFSET_BAND) " voxel, so that the union has the phase's volume (0: "
                           "the fitted surfaces as they are, about 0.2 voxel outside the phase's on average)";

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Spherical-harmonic sub-particles", "SMShape");
  PetscCall(PetscOptionsInt("-sh_degree", "Degree L of the spherical-harmonic radius functions, 0..30",
                            "sm_shape_extract", L, &L, NULL));
  PetscCall(PetscOptionsInt("-sh_directions", "Rays per sub-particle (0: 4 (L+1)^2; at least 2 (L+1)^2)",
                            "sm_shape_extract", nd, &nd, NULL));
  PetscCall(PetscOptionsReal("-shape_marker_height",
                             "Height h [um] of the h-maxima markers: distance maxima rising less "
                             "than h above their surroundings are merged (default: half the smallest voxel side)",
                             "sm_shape_extract", h, &h, NULL));
  PetscCall(PetscOptionsBool("-shape_star_split",
                             "Cut watershed basins that are not star-shaped from their centre into star-shaped parts "
                             "(0: one sub-particle per basin, as a basin comes)",
                             "sm_shape_extract", split, &split, NULL));
  PetscCall(PetscOptionsBool("-shape_cover",
                             "Patch the voxels of the phase that the fitted sub-particles leave out (holes and cracks "
                             "where a fit undershoots) with more sub-particles (0: the fitted parts alone)",
                             "sm_shape_extract", cover, &cover, NULL));
  PetscCall(PetscOptionsBool("-shape_match_volume", match_help, "sm_shape_extract", match, &match, NULL));
  PetscCall(PetscOptionsBool("-shape_adaptive_degree",
                             "Fit each sub-particle at the degree its size resolves, min(L, max(2, ceil(pi r / h))) "
                             "with r its farthest voxel's distance from its centre and h the voxel side (no harmonic "
                             "finer than a voxel), from 4 (L_p + 1)^2 rays; the coefficients above it are stored as 0 "
                             "(0: every sub-particle at degree L)",
                             "sm_shape_extract", adapt, &adapt, NULL));
  PetscOptionsEnd();
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-sh_degree must be between 0 and %d (got %d)", SM_SHAPE_MAX_DEGREE, (int)L);
  PetscCheck(nd == 0 || nd >= 2 * (L + 1) * (L + 1), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-sh_directions must be 0 (automatic) or at least 2 (L+1)^2 = %d for degree %d (got %d)",
             2 * (int)((L + 1) * (L + 1)), (int)L, (int)nd);
  PetscCheck(nd <= 1000000, comm, PETSC_ERR_ARG_OUTOFRANGE, "-sh_directions must be at most 1000000 (got %d)", (int)nd);
  PetscCheck(h < 0 || h == opt->marker_height || isfinite(h), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-shape_marker_height must be a finite length in um");
  opt->degree          = (int)L;
  opt->ndirections     = (int)nd;
  opt->marker_height   = (double)h;
  opt->star_split      = split;
  opt->cover           = cover;
  opt->match_volume    = match;
  opt->adaptive_degree = adapt;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Y from cos(theta) and the direction's (cos phi, sin phi); plm is scratch of SM_SH_PLM_MAX. */
static void sm_sh_basis_ct(int L, double ct, double cp, double sp, double *plm, double *Y)
{
  double cm = 1.0, sm = 0.0;

  (void)gsl_sf_legendre_array_e(GSL_SF_LEGENDRE_SPHARM, (size_t)L, ct, 1.0, plm);
  for (int l = 0; l <= L; l++) Y[l * l + l] = plm[gsl_sf_legendre_array_index((size_t)l, 0)];
  for (int m = 1; m <= L; m++) {
    /* cos(m phi), sin(m phi) by the angle-addition recurrence: no trigonometric calls */
    const double c = cm * cp - sm * sp, s = sm * cp + cm * sp;
    cm = c;
    sm = s;
    for (int l = m; l <= L; l++) {
      const double p   = M_SQRT2 * plm[gsl_sf_legendre_array_index((size_t)l, (size_t)m)];
      Y[l * l + l + m] = p * cm;
      Y[l * l + l - m] = p * sm;
    }
  }
}

void sm_shape_sh_basis_unchecked(int L, const double u[3], double *Y)
{
  double       plm[SM_SH_PLM_MAX];
  const double rho = sqrt(u[0] * u[0] + u[1] * u[1]), r = sqrt(rho * rho + u[2] * u[2]);
  double       ct = u[2] / r;

  if (ct > 1) ct = 1;
  if (ct < -1) ct = -1;
  sm_sh_basis_ct(L, ct, rho > 0 ? u[0] / rho : 1.0, rho > 0 ? u[1] / rho : 0.0, plm, Y);
}

PetscErrorCode sm_shape_sh_basis(int L, const double u[3], double *Y)
{
  PetscFunctionBeginUser;
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Spherical-harmonic degree %d is outside 0..%d", L, SM_SHAPE_MAX_DEGREE);
  PetscCheck(u[0] != 0 || u[1] != 0 || u[2] != 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "Zero direction vector");
  PetscCheck(gsl_sf_legendre_array_n(SM_SHAPE_MAX_DEGREE) <= SM_SH_PLM_MAX, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "This GSL needs %zu doubles for the Legendre array; the buffer holds %d",
             gsl_sf_legendre_array_n(SM_SHAPE_MAX_DEGREE), SM_SH_PLM_MAX);
  sm_shape_sh_basis_unchecked(L, u, Y);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double sm_shape_sh_eval(int L, const double *coeffs, const double u[3])
{
  double Y[(SM_SHAPE_MAX_DEGREE + 1) * (SM_SHAPE_MAX_DEGREE + 1)], s = 0;
  sm_shape_sh_basis_unchecked(L, u, Y);
  for (int i = 0; i < (L + 1) * (L + 1); i++) s += coeffs[i] * Y[i];
  return s;
}

PetscErrorCode sm_shape_directions(int n, double *dirs)
{
  const double golden = PETSC_PI * (3.0 - sqrt(5.0));

  PetscFunctionBeginUser;
  PetscCheck(n >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Need at least one direction");
  for (int i = 0; i < n; i++) {
    /* equal-area bands in z (Archimedes), longitudes advanced by the golden angle */
    const double z = 1.0 - (2.0 * i + 1.0) / n, r = sqrt(PetscMax(0.0, 1.0 - z * z)), p = golden * i;
    dirs[3 * i]     = r * cos(p);
    dirs[3 * i + 1] = r * sin(p);
    dirs[3 * i + 2] = z;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

void sm_shape_sh_bounds(int L, const double *c, double *rmin, double *rmax, double *grad)
{
  /* Sum over m of Y_lm^2 = (2l+1)/(4 pi) and of |grad Y_lm|^2 = l(l+1)(2l+1)/(4 pi) (addition theorem, which holds
     for the real basis as it is a unitary transform of the complex one); Cauchy-Schwarz per degree bounds the
     degree-l part by sqrt of that times the norm of its coefficients. */
  double spread = 0, g = 0;
  for (int l = 1; l <= L; l++) {
    double nl = 0;
    for (int m = -l; m <= l; m++) nl += c[l * l + l + m] * c[l * l + l + m];
    nl = sqrt(nl);
    spread += sqrt((2.0 * l + 1.0) / (4.0 * PETSC_PI)) * nl;
    g += sqrt(l * (l + 1.0) * (2.0 * l + 1.0) / (4.0 * PETSC_PI)) * nl;
  }
  if (rmin) *rmin = c[0] / sqrt(4.0 * PETSC_PI) - spread;
  if (rmax) *rmax = c[0] / sqrt(4.0 * PETSC_PI) + spread;
  if (grad) *grad = g;
}

void sm_shape_sh_derivative_bounds(int L, const double *c, double *mag, double *g1, double *h_arc, double *h_phi)
{
  /* Rotating the sphere so that a great circle becomes the equator maps the degree-l coefficients by an orthogonal
     matrix, so their norm n_l is unchanged; along the equator d/dphi multiplies Y_lm by m (swapping cos and sin), and
     Cauchy-Schwarz with sum_m Y_lm^2 = (2l+1)/(4 pi) bounds the k-th derivative of the degree-l part by
     l^k n_l sqrt((2l+1)/(4 pi)). For d^2/dphi^2 at fixed theta no rotation is needed: the bound is
     sqrt(sum_m m^4 c_lm^2) sqrt((2l+1)/(4 pi)), smaller when the energy sits at low m. */
  double s = fabs(c[0]) / sqrt(4.0 * PETSC_PI), g = 0, ha = 0, hp = 0;
  for (int l = 1; l <= L; l++) {
    const double f  = sqrt((2.0 * l + 1.0) / (4.0 * PETSC_PI));
    double       nl = 0, n4 = 0;
    for (int m = -l; m <= l; m++) {
      const double cm = c[l * l + l + m];
      nl += cm * cm;
      n4 += (double)m * m * m * m * cm * cm;
    }
    nl = sqrt(nl);
    s += f * nl;
    g += l * f * nl;
    ha += (double)l * l * f * nl;
    hp += f * sqrt(n4);
  }
  if (mag) *mag = s;
  if (g1) *g1 = g;
  if (h_arc) *h_arc = ha;
  if (h_phi) *h_phi = hp;
}

void sm_shape_sh_fourier(int L, const double *c, double ct, double *plm, double *a)
{
  (void)gsl_sf_legendre_array_e(GSL_SF_LEGENDRE_SPHARM, (size_t)L, ct, 1.0, plm);
  a[0] = 0;
  for (int l = 0; l <= L; l++) a[0] += c[l * l + l] * plm[gsl_sf_legendre_array_index((size_t)l, 0)];
  for (int m = 1; m <= L; m++) {
    double ac = 0, as = 0;
    for (int l = m; l <= L; l++) {
      const double p = M_SQRT2 * plm[gsl_sf_legendre_array_index((size_t)l, (size_t)m)];
      ac += c[l * l + l + m] * p;
      as += c[l * l + l - m] * p;
    }
    a[2 * m - 1] = ac;
    a[2 * m]     = as;
  }
}

int sm_shape_sh_top_degree(int L, const double *c)
{
  for (int l = L; l > 0; l--)
    for (int i = l * l; i < (l + 1) * (l + 1); i++)
      if (c[i] != 0) return l;
  return 0;
}

size_t sm_shape_sh_legendre_scratch(void)
{
  return SM_SH_PLM_MAX;
}

/* ---- least squares with one decomposition for many right-hand sides ----
 *
 * The directions are the same for every sub-particle, so the least-squares solution is one linear map of the radii:
 * c = P r with P = X^+ (n x p design matrix X, p = (L + 1)^2). P is formed once, column by column, as GSL's SVD
 * solution (gsl_multifit_linear_solve with lambda = 0) of the unit vectors; a fit is then c = P r and the residual
 * r - X c, two passes over n p numbers written as sums of scaled columns (contiguous, so the compiler vectorises them
 * without reordering any sum). Before, each fit ran GSL's solve: U^T r, U (U^T r) for the residual and Q w through the
 * reference BLAS, about three times the instructions. The coefficients agree with the solve's to rounding (1e-15
 * relative). */

struct _SMShFitter {
  int     L, n, p;
  double *Pt; /* [n][p]: row i is column i of P = X^+ */
  double *Xt; /* [p][n]: X transposed */
  double *res;
};

/* A fitter of degree L for n rays, its maps not yet filled. */
static PetscErrorCode sm_shape_fitter_alloc(int L, int n, SMShFitter *out)
{
  SMShFitter f;
  const int  p = (L + 1) * (L + 1);

  PetscFunctionBeginUser;
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Spherical-harmonic degree %d is outside 0..%d", L, SM_SHAPE_MAX_DEGREE);
  PetscCheck(n >= p, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%d samples cannot determine %d coefficients", n, p);
  PetscCall(PetscNew(&f));
  f->L = L;
  f->n = n;
  f->p = p;
  PetscCall(PetscMalloc3((size_t)n * p, &f->Pt, (size_t)n * p, &f->Xt, n, &f->res));
  *out = f;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_fitter_create(int L, int n, const double *dirs, SMShFitter *out)
{
  SMShFitter                     f;
  int                            p = (L + 1) * (L + 1), e = 0;
  gsl_matrix                    *X;
  gsl_vector                    *y, *c;
  gsl_multifit_linear_workspace *w;

  PetscFunctionBeginUser;
  PetscCall(sm_shape_fitter_alloc(L, n, &f));
  X = gsl_matrix_alloc((size_t)n, (size_t)p);
  y = gsl_vector_calloc((size_t)n);
  c = gsl_vector_alloc((size_t)p);
  w = gsl_multifit_linear_alloc((size_t)n, (size_t)p);
  PetscCheck(X && y && c && w, PETSC_COMM_SELF, PETSC_ERR_MEM, "GSL could not allocate a %d x %d fit", n, p);
  for (int i = 0; i < n; i++) {
    sm_shape_sh_basis_unchecked(L, dirs + 3 * i, gsl_matrix_ptr(X, (size_t)i, 0));
    for (int j = 0; j < p; j++) f->Xt[(size_t)j * n + i] = gsl_matrix_get(X, (size_t)i, (size_t)j);
  }
  {
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    double               rnorm, snorm;
    e = gsl_multifit_linear_svd(X, w);
    for (int i = 0; i < n && !e; i++) {
      gsl_vector_set(y, (size_t)i, 1.0);
      e = gsl_multifit_linear_solve(0.0, X, y, c, &rnorm, &snorm, w);
      gsl_vector_set(y, (size_t)i, 0.0);
      for (int j = 0; j < p; j++) f->Pt[(size_t)i * p + j] = gsl_vector_get(c, (size_t)j);
    }
    gsl_set_error_handler(old);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
  gsl_vector_free(c);
  gsl_multifit_linear_free(w);
  PetscCheck(!e, PETSC_COMM_SELF, PETSC_ERR_LIB, "GSL: SVD of the design matrix failed (%s)", gsl_strerror(e));
  *out = f;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The same map from the normal equations: P = (X^T X)^-1 X^T by a Cholesky factorisation of the p x p Gram matrix
   (gsl_linalg_cholesky_decomp1; G. H. Golub and C. F. Van Loan, "Matrix Computations", 4th ed., 2013, sec. 5.3.2 and
   4.2), O(n p^2) instead of the n SVD solves' O(n^2 p). The normal equations square the condition number of X, but
   for n >= 4 p nearly uniform directions X^T X is close to n / (4 pi) I (the orthonormality of the Y_lm on the sphere),
   so the coefficients still agree with the SVD's to about 1e-14 relative. Used for the lower degrees of
   -shape_adaptive_degree, whose nine fitters by SVD cost twice the one of degree L. */
PetscErrorCode sm_shape_fitter_create_normal(int L, int n, const double *dirs, SMShFitter *out)
{
  SMShFitter  f;
  int         p = (L + 1) * (L + 1), e;
  gsl_matrix *G;
  gsl_vector *b;

  PetscFunctionBeginUser;
  PetscCall(sm_shape_fitter_alloc(L, n, &f));
  G = gsl_matrix_calloc((size_t)p, (size_t)p);
  b = gsl_vector_alloc((size_t)p);
  PetscCheck(G && b, PETSC_COMM_SELF, PETSC_ERR_MEM, "GSL could not allocate a %d x %d fit", n, p);
  {
    double Y[(SM_SHAPE_MAX_DEGREE + 1) * (SM_SHAPE_MAX_DEGREE + 1)];
    for (int i = 0; i < n; i++) {
      sm_shape_sh_basis_unchecked(L, dirs + 3 * i, Y);
      for (int j = 0; j < p; j++) f->Xt[(size_t)j * n + i] = Y[j];
    }
  }
  for (int j = 0; j < p; j++)
    for (int k = 0; k <= j; k++) {
      const double *xj = f->Xt + (size_t)j * n, *xk = f->Xt + (size_t)k * n;
      double        s = 0;
      for (int i = 0; i < n; i++) s += xj[i] * xk[i];
      gsl_matrix_set(G, (size_t)j, (size_t)k, s);
      gsl_matrix_set(G, (size_t)k, (size_t)j, s);
    }
  {
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    e                        = gsl_linalg_cholesky_decomp1(G);
    for (int i = 0; i < n && !e; i++) {
      /* column i of P: G^-1 times row i of X */
      for (int j = 0; j < p; j++) gsl_vector_set(b, (size_t)j, f->Xt[(size_t)j * n + i]);
      e = gsl_linalg_cholesky_svx(G, b);
      for (int j = 0; j < p; j++) f->Pt[(size_t)i * p + j] = gsl_vector_get(b, (size_t)j);
    }
    gsl_set_error_handler(old);
  }
  gsl_matrix_free(G);
  gsl_vector_free(b);
  if (e) PetscCall(sm_shape_fitter_destroy(&f));
  PetscCheck(!e, PETSC_COMM_SELF, PETSC_ERR_LIB, "GSL: Cholesky factorisation of the normal equations failed (%s)",
             gsl_strerror(e));
  *out = f;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_fitter_solve(SMShFitter f, const double *r, double *coeffs, double *rms)
{
  const int n = f->n, p = f->p;
  double    s = 0;

  PetscFunctionBeginUser;
  for (int j = 0; j < p; j++) coeffs[j] = 0;
  for (int i = 0; i < n; i++) {
    const double  ri = r[i];
    const double *pi = f->Pt + (size_t)i * p;
    for (int j = 0; j < p; j++) coeffs[j] += ri * pi[j];
  }
  if (rms) {
    for (int i = 0; i < n; i++) f->res[i] = r[i];
    for (int j = 0; j < p; j++) {
      const double  cj = coeffs[j];
      const double *xj = f->Xt + (size_t)j * n;
      for (int i = 0; i < n; i++) f->res[i] -= cj * xj[i];
    }
    for (int i = 0; i < n; i++) s += f->res[i] * f->res[i];
    *rms = sqrt(s / n);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_fitter_destroy(SMShFitter *f)
{
  PetscFunctionBeginUser;
  if (!f || !*f) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree3((*f)->Pt, (*f)->Xt, (*f)->res));
  PetscCall(PetscFree(*f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_sh_fit(int L, int n, const double *dirs, const double *r, double *coeffs, double *rms)
{
  const int                      p = (L + 1) * (L + 1);
  gsl_matrix                    *X = NULL, *cov = NULL;
  gsl_vector                    *y = NULL, *c = NULL;
  gsl_multifit_linear_workspace *w = NULL;
  double                         chisq;
  int                            err;

  PetscFunctionBeginUser;
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Spherical-harmonic degree %d is outside 0..%d", L, SM_SHAPE_MAX_DEGREE);
  PetscCheck(n >= p, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%d samples cannot determine %d coefficients", n, p);
  X   = gsl_matrix_alloc((size_t)n, (size_t)p);
  cov = gsl_matrix_alloc((size_t)p, (size_t)p);
  y   = gsl_vector_alloc((size_t)n);
  c   = gsl_vector_alloc((size_t)p);
  w   = gsl_multifit_linear_alloc((size_t)n, (size_t)p);
  err = !(X && cov && y && c && w);
  if (!err) {
    for (int i = 0; i < n; i++) {
      sm_shape_sh_basis_unchecked(L, dirs + 3 * i, gsl_matrix_ptr(X, (size_t)i, 0));
      gsl_vector_set(y, (size_t)i, r[i]);
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    err                      = gsl_multifit_linear(X, y, c, cov, &chisq, w) ? 2 : 0;
    gsl_set_error_handler(old);
  }
  if (!err) {
    for (int j = 0; j < p; j++) coeffs[j] = gsl_vector_get(c, (size_t)j);
    if (rms) *rms = sqrt(chisq / n);
  }
  if (X) gsl_matrix_free(X);
  if (cov) gsl_matrix_free(cov);
  if (y) gsl_vector_free(y);
  if (c) gsl_vector_free(c);
  if (w) gsl_multifit_linear_free(w);
  PetscCheck(err != 1, PETSC_COMM_SELF, PETSC_ERR_MEM, "GSL could not allocate a %d x %d fit", n, p);
  PetscCheck(err != 2, PETSC_COMM_SELF, PETSC_ERR_LIB, "GSL: least-squares fit failed");
  PetscFunctionReturn(PETSC_SUCCESS);
}
