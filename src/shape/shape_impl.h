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
/* The highest degree l <= L with a nonzero coefficient of c (0 if none): the degree to evaluate psi at, the same
   function as degree L (sub-particles fitted at a lower degree store zeros above it, -shape_adaptive_degree). */
int sm_shape_sh_top_degree(int L, const double *c);

/* Least squares for many radius vectors sampled along the same directions: the design matrix is decomposed once. */
typedef struct _SMShFitter *SMShFitter;
PetscErrorCode              sm_shape_fitter_create(int L, int n, const double *dirs, SMShFitter *f);
PetscErrorCode              sm_shape_fitter_create_normal(int L, int n, const double *dirs, SMShFitter *f);
PetscErrorCode              sm_shape_fitter_solve(SMShFitter f, const double *r, double *coeffs, double *rms);
PetscErrorCode              sm_shape_fitter_destroy(SMShFitter *f);

/* ext[(z_local + 2) * n_plane]: the slab's int64 labels with the planes below and above from the neighbouring ranks
   (-1 beyond the box). Collective. */
PetscErrorCode sm_shape_ghost_labels(SMGrid grid, const int64_t *slab, int64_t *ext);

#endif
