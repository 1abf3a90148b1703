/* Private helpers shared by the files of the shape module. */
#ifndef STOCHMORPH_SHAPE_IMPL_H
#define STOCHMORPH_SHAPE_IMPL_H

#include <stochmorph/shape.h>

/* floor(x) as an integer, for finite |x| < 2^62, without the library call (the inner loops of the star test and the
   radius sampling): the same value as (int64_t)floor(x). */
static inline int64_t sm_shape_ifloor(double x)
{
  const int64_t i = (int64_t)x;
  return i - (int64_t)(x < (double)i);
}

/* The sampled-segment test of the star check (sm_shape_star_check) and of the cut (star.c). Sample s = 0..ns of the
   segment from c to x lies at c + t (x - c), t = s / ns (t = 0 when ns = 0), in the voxel whose index along axis d is
   floor((c_d + t (x_d - c_d)) / h_d) - lo_d. sm_shape_sample_index is that index, the expression written once for both
   users so that they round alike. */
static inline int64_t sm_shape_sample_index(const double c[3], const double x[3], const double h[3],
                                            const int64_t lo[3], int d, int ns, int s)
{
  const double t = ns ? (double)s / ns : 0;
  return sm_shape_ifloor((c[d] + t * (x[d] - c[d])) / h[d]) - lo[d];
}

/* The walk along axis d of a segment (sm_shape_segment_in): the voxel index w of the current sample, the next sample
   whose index differs and that index, and the constants of the estimate below. */
typedef struct {
  int64_t w, wn;
  int     next, up;
  double  hg, cg, M;
} SMShapeWalkAxis;

/* Find a->next, the first sample after s whose index along d differs from a->w, the index of sample s (ns + 1 if
   none), and a->wn, its index. The index is a monotone step function of s (a correctly rounded division, product, sum
   and floor are each monotone), so the samples after s whose index differs from w are those from next on.
   The segment crosses the next voxel face, of global index F = w + lo_d + 1 upwards or w + lo_d downwards, at the
   sample e = (F h_d - c_d) g in exact arithmetic, g = ns / (x_d - c_d); it is estimated as F hg - cg (hg = h_d g,
   cg = c_d g rounded). Rounding moves the computed index value (c_d + t (x_d - c_d)) / h_d by less than
   B = (4 |x_d - c_d| + 2 |c_d|) / h_d 2^-52 from the exact one (four operations, each off by at most half an ulp of
   its result), and the estimate of e by less than E = ((|F h_d| + |c_d|) |g| + |e|) 2^-49. With the index step per
   sample m = |x_d - c_d| / (h_d ns) <= 1/4 (exact), a sample j < e - M, M = B / m + E, still has index w, and a sample
   j > e + M has index w +- 1. a->M is M with both bounds taken 2^12 times larger (2^-40) and for the whole segment
   (|F h_d| <= max(|c_d|, |x_d|) + 2 h_d), or infinite when that does not hold clearly (m or B not small). When the
   samples on both sides of e are that far from it, next follows without an index computed; otherwise (a face met
   within rounding of a sample) next is settled by the exact index at both sides of the estimate. */
static inline void sm_shape_sample_next(const double c[3], const double x[3], const double h[3], const int64_t lo[3],
                                        int d, int ns, int s, SMShapeWalkAxis *a)
{
  const double e = (double)(a->w + lo[d] + a->up) * a->hg - a->cg;
  int          k;
  int64_t      u = 0;
  if (e > s - 1 && e < ns + 1) { /* (not a number fails) */
    k = (int)e + 1;              /* floor(e) + 1 when e >= 0; else s = 0 and k is 1 */
    if (k <= s) k = s + 1;
    if ((k - 1 == s || k - 1 < e - a->M) && (k > ns || k > e + a->M)) {
      a->next = k;
      a->wn   = a->up ? a->w + 1 : a->w - 1;
      return;
    }
  } else if (e >= ns + 1 && ns < e - a->M) {
    a->next = ns + 1;
    return;
  }
  /* exact: from the estimate (plus one), by the index on both sides */
  k = !(e + 1 >= s + 1) ? s + 1 : (e + 1 > ns + 1 ? ns + 1 : (int)(e + 1));
  if (k <= ns && (u = sm_shape_sample_index(c, x, h, lo, d, ns, k)) == a->w) {
    do k++;
    while (k <= ns && (u = sm_shape_sample_index(c, x, h, lo, d, ns, k)) == a->w);
  } else {
    int64_t v;
    while (k - 1 > s && (v = sm_shape_sample_index(c, x, h, lo, d, ns, k - 1)) != a->w) {
      k--;
      u = v;
    }
  }
  a->next = k;
  a->wn   = u;
}

/* Do the voxels of samples s0..ns of the segment from c to x (above) all satisfy in(ctx, w), w the voxel's index (in
   also checks w against its box)? The answer of testing every sample in turn, and in is called in the same order on
   the same voxels, each once for a run of samples in one voxel: only the samples where an index changes are found
   (sm_shape_sample_next), as a voxel traversal of the segment does (J. Amanatides and A. Woo, "A fast voxel traversal
   algorithm for ray tracing", Eurographics '87, 3-10), but with the samples' own rounding. */
static inline int sm_shape_segment_in(const double c[3], const double x[3], const double h[3], const int64_t lo[3],
                                      int ns, int s0, int (*in)(const void *ctx, const int64_t w[3]), const void *ctx)
{
  SMShapeWalkAxis a[3];
  int64_t         w[3];
  int             s = s0;
  for (int d = 0; d < 3; d++) w[d] = sm_shape_sample_index(c, x, h, lo, d, ns, s);
  if (!in(ctx, w)) return 0;
  for (int d = 0; d < 3; d++) {
    const double dx = x[d] - c[d], m = fabs(dx) / (h[d] * ns);
    a[d].w    = w[d];
    a[d].next = ns + 1; /* dx == 0: t dx is a zero, the index that of c */
    if (dx == 0 || s >= ns) continue;
    {
      const double g = (double)ns / dx;
      a[d].up        = dx > 0;
      a[d].hg        = h[d] * g;
      a[d].cg        = c[d] * g;
      a[d].M         = m < 0.4 && (4 * fabs(dx) + 2 * fabs(c[d])) / h[d] * 0x1p-40 < 0.01
                         ? ((4 + 2 * fabs(c[d]) / fabs(dx)) * ns +
                    ((PetscMax(fabs(c[d]), fabs(x[d])) + 2 * h[d] + fabs(c[d])) * fabs(g) + ns + 2)) *
                     0x1p-40
                         : PETSC_INFINITY;
    }
    sm_shape_sample_next(c, x, h, lo, d, ns, s, &a[d]);
  }
  for (;;) {
    s = PetscMin(a[0].next, PetscMin(a[1].next, a[2].next));
    if (s > ns) return 1;
    if (a[0].next == s) {
      w[0] = a[0].w = a[0].wn;
      sm_shape_sample_next(c, x, h, lo, 0, ns, s, &a[0]);
    }
    if (a[1].next == s) {
      w[1] = a[1].w = a[1].wn;
      sm_shape_sample_next(c, x, h, lo, 1, ns, s, &a[1]);
    }
    if (a[2].next == s) {
      w[2] = a[2].w = a[2].wn;
      sm_shape_sample_next(c, x, h, lo, 2, ns, s, &a[2]);
    }
    if (!in(ctx, w)) return 0;
  }
}

/* Is the segment from c to x inside the region (in, ctx: as for sm_shape_segment_in), sampled every q (a quarter of the
   smallest voxel side)? The samples nearer to c than the region's clearance R (sm_shape_clearance; 0 for none) lie in
   it and are not looked at: the answer is that of testing every sample (the margin of 4e-6 q, 1e-6 of a voxel, is far
   beyond the rounding of a sample). The star check (sm_shape_star_check) and the cut's visibility (star.c). */
static inline int sm_shape_segment_visible(const double c[3], const double x[3], const double h[3],
                                           const int64_t lo[3], double q, double R,
                                           int (*in)(const void *ctx, const int64_t w[3]), const void *ctx)
{
  double len = 0;
  int    ns, s0 = 0;
  for (int d = 0; d < 3; d++) len += (x[d] - c[d]) * (x[d] - c[d]);
  len = sqrt(len);
  ns  = (int)ceil(len / q);
  if (R > 4e-6 * q && len > 0) {
    const double y = (R - 4e-6 * q) / len * ns; /* samples s < y lie nearer than the clearance */
    if (y > ns) return 1;
    s0 = (int)floor(y);
  }
  return sm_shape_segment_in(c, x, h, lo, ns, s0, in, ctx);
}

/* Clearance of a region of a box around c: a lower bound R of the distance from c to every voxel (as a cube) outside
   the region (voxels beyond the box included), found by growing shells of voxels around the voxel of c until the
   shells lie farther than the nearest voxel found outside. Every point nearer to c than R lies in a voxel of the
   region, so a visibility walk (the star test) need not look at the samples there; for a region that only grows
   afterwards R stays a lower bound. n, lo, h: the box's voxel counts, the global index of its voxel 0, the voxel size;
   in(ctx, i): is box voxel i (x fastest) in the region. Cost: about (2 R / hmin)^3 calls of in. */
double sm_shape_clearance(const int64_t n[3], const int64_t lo[3], const double h[3], const double c[3],
                          int (*in)(const void *ctx, int64_t i), const void *ctx);

/* Lower the radius function psi = sum c_lm Y_lm by d everywhere: c_00 -= d sqrt(4 pi), as Y_00 = 1 / sqrt(4 pi). */
static inline void sm_shape_sh_shift(double *c, double d)
{
  c[0] -= d * sqrt(4.0 * PETSC_PI);
}

/* Y at the direction of the non-zero vector u, without argument checks (hot loops). */
void sm_shape_sh_basis_unchecked(int L, const double u[3], double *Y);

/* Rigorous bounds for psi = sum c_lm Y_lm of degree L, beyond sm_shape_sh_bounds (any output may be NULL):
   mag >= sum |c_lm Y_lm(u)| for every u (so |psi| <= mag and mag scales the rounding of an evaluation);
   g1 >= |d psi / ds| and h_arc >= |d^2 psi / ds^2| along any great circle parametrised by arc length s (in particular
   along meridians, s = theta); h_phi >= |d^2 psi / dphi^2| at fixed theta. */
void sm_shape_sh_derivative_bounds(int L, const double *c, double *mag, double *g1, double *h_arc, double *h_phi);
/* The Fourier coefficients in phi of psi on the circle cos(theta) = ct:
   psi(theta, phi) = a[0] + sum_{m=1..L} (a[2m-1] cos(m phi) + a[2m] sin(m phi)); a[2L + 1]; plm is scratch of
   sm_shape_sh_legendre_scratch() doubles. */
void   sm_shape_sh_fourier(int L, const double *c, double ct, double *plm, double *a);
size_t sm_shape_sh_legendre_scratch(void);

/* Least squares for many radius vectors sampled along the same directions: the design matrix is decomposed once. */
typedef struct _SMShFitter *SMShFitter;
PetscErrorCode              sm_shape_fitter_create(int L, int n, const double *dirs, SMShFitter *f);
PetscErrorCode              sm_shape_fitter_create_normal(int L, int n, const double *dirs, SMShFitter *f);
PetscErrorCode              sm_shape_fitter_solve(SMShFitter f, const double *r, double *coeffs, double *rms);
PetscErrorCode              sm_shape_fitter_destroy(SMShFitter *f);

/* sm_shape_rasterize deciding only the voxels with need[v] != 0 (need: one byte per voxel of the rank's slab, or NULL
   for all); the others are labelled 0 without a test, and a particle whose box holds no voxel to decide costs no table.
   The labels of the voxels decided are those of sm_shape_rasterize. */
PetscErrorCode sm_shape_rasterize_where(const SMShapes *shapes, SMGrid grid, int s, const uint8_t *need, SMVolume *vol);

/* ext[(z_local + 2) * n_plane]: the slab's int64 labels with the planes below and above from the neighbouring ranks
   (-1 beyond the box). Collective. */
PetscErrorCode sm_shape_ghost_labels(SMGrid grid, const int64_t *slab, int64_t *ext);

#endif
