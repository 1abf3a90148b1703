/* Rasterisation of a union of spherical-harmonic sub-particles on any grid (SPEC 7, step 4).
 *
 * A voxel is solid when more than half of its s^3 sub-sample points (the centres of its s x s x s sub-cells: for odd s
 * the voxel centre is one of them, for even s none is) lie inside the union; for even s a tie (exactly half) is
 * decided by a 3D checkerboard, (i + j + k) even taken, so that ties do not bias the volume. Each rank visits only the
 * sub-particles whose bounding sphere meets its slab, and for each the voxels of the sphere's box inside the slab.
 *
 * The predicate. A sub-sample point y (relative to the particle centre, ry = |y|) is inside particle p when
 * ry <= rmax_p and ry <= sm_shape_sh_eval(psi_p, y) (for ry = 0: psi_p(0, 0, 1) >= 0). That evaluation is the single
 * source of truth; everything else below is a filter that decides a point or a block of points only when a rigorous
 * bound proves what the predicate would say, so the labels are those of testing every point of every voxel.
 *
 * The filter. Per particle, psi is tabulated on a (theta, phi) grid of steps dt = pi / nt, dp = 2 pi / np (cheap: per
 * row, the Fourier coefficients in phi, then a short sum per node). The bilinear interpolant I of the nodes differs
 * from psi by at most (dt^2 max|psi_tt| + dp^2 max|psi_pp|) / 8 (linear interpolation in each variable), and the
 * derivative bounds come from the coefficients (sm_shape_sh_derivative_bounds: meridians are great circles). Adding a
 * margin for rounding (of the exact evaluation, of the table, of the angles; 1e-10 of the magnitude bound plus the
 * slope bound times 1e-7 rad, the worst angle error of a direction near a pole) gives err with
 * |psi as evaluated - I| <= err everywhere. Then:
 *  - a voxel is decided whole when the distance range of its points' bounding box lies beyond [min, max] of the nodes
 *    of the table cells its directions cover, widened by err;
 *  - a point is decided when ry <= I(y) - err (inside) or ry > I(y) + err (outside);
 *  - only the points within err of the surface are evaluated exactly.
 * The step is chosen per particle so that err is a small fraction of the sub-sample spacing (bounded by a node cap),
 * so that only points very close to the surface reach the exact evaluation (on a 128^3 chi2 twin at L = 10, s = 4,
 * the evaluations take a few % of the time instead of nearly all of it).
 *
 * The union is an OR of per-point bits, so the order of the particles does not matter and the result is independent
 * of the rank count. Memory: ceil(s^3 / 8) bytes of point bits + 1 byte "whole voxel inside" + the 1-byte labels, per
 * voxel; plus the table and its scratch, 2 SM_RASTER_MAX_NODES doubles (4 MiB), per rank. */
#include "shape_impl.h"
#include <math.h>

/* Node cap of one particle's table (2^18 doubles = 2 MiB) and the table's largest step (pi / 8). */
#define SM_RASTER_MAX_NODES (1 << 18)
#define SM_RASTER_MIN_CELLS 8
/* Target of the interpolation bound, as a fraction of the sub-sample spacing: smaller means fewer exact evaluations
   but a larger table (nodes grow as 1 / fraction); 1/16 balances the two on chi2 twins at L = 10. */
#define SM_RASTER_ERR_FRACTION 0.0625
/* With one sub-sample (the voxel centres; the patches' check in particles.c) each table serves 64 times fewer points:
   a bound of half a voxel costs 9 % fewer instructions (C850 80^3 `shape`: 0.0625 / 0.125 / 0.25 / 0.5 -> 27.5 /
   25.9 / 25.2 / 24.9 G; the labels do not depend on it). */
#define SM_RASTER_ERR_ONE 0.5
/* A voxel's directions are bounded from the table only if they cover at most this many cells (else its points are
   tested one by one: voxels near the particle centre). */
#define SM_RASTER_MAX_SCAN 256

typedef struct {
  int     L, nt, np; /* the largest degree the table serves (its scratch), the table's cells */
  double  dt, dp, idt, idp;
  double  err;        /* |psi as evaluated - bilinear interpolant| <= err at every direction */
  double  vmin, vmax; /* min and max node values */
  double *val;        /* [(nt + 1) * (np + 1)]: psi at (theta, phi) = (i dt, j dp); column np repeats column 0 */
  double *cs;         /* [2 L * np]: cos(m phi_j), sin(m phi_j) for m = 1..L (scratch of the build) */
  double *fa, *plm;   /* Fourier coefficients of a row, Legendre scratch */
} SMRasterTable;

static PetscErrorCode raster_table_create(int L, SMRasterTable *t)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(t, sizeof(*t)));
  t->L = L;
  PetscCall(PetscMalloc4(SM_RASTER_MAX_NODES, &t->val, SM_RASTER_MAX_NODES, &t->cs, 2 * L + 1, &t->fa,
                         sm_shape_sh_legendre_scratch(), &t->plm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode raster_table_destroy(SMRasterTable *t)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(t->val, t->cs, t->fa, t->plm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Tabulate psi of coefficients cf, summed to degree L <= t->L (the particle's highest nonzero degree,
   sm_shape_sh_top_degree: the same sums as to t->L, without the zero terms), so that the interpolation bound is about
   target [um]. */
static void raster_table_build(SMRasterTable *t, int L, const double *cf, double target)
{
  double    mag, g1, harc, hphi, a;
  int       nt, np;

  sm_shape_sh_derivative_bounds(L, cf, &mag, &g1, &harc, &hphi);
  /* (harc dt^2 + hphi dp^2) / 8 with dp = 2 dt = 2 a */
  a  = (harc + 4 * hphi) > 0 ? sqrt(8 * target / (harc + 4 * hphi)) : PETSC_PI;
  nt = (int)PetscMin(ceil(PETSC_PI / a), 1e6);
  nt = PetscMax(nt, SM_RASTER_MIN_CELLS);
  /* cap: (nt + 1) (2 nt + 1) nodes, and np * L cos/sin pairs in cs of SM_RASTER_MAX_NODES doubles */
  while (nt > SM_RASTER_MIN_CELLS &&
         ((nt + 1) * (2 * nt + 1) > SM_RASTER_MAX_NODES || 2 * nt * 2 * L > SM_RASTER_MAX_NODES))
    nt--;
  np     = 2 * nt;
  t->nt  = nt;
  t->np  = np;
  t->dt  = PETSC_PI / nt;
  t->dp  = 2 * PETSC_PI / np;
  t->idt = nt / PETSC_PI;
  t->idp = np / (2 * PETSC_PI);
  /* interpolation bound + rounding margin (see the file comment) */
  t->err = (harc * t->dt * t->dt + hphi * t->dp * t->dp) / 8 + 1e-10 * mag + 1e-7 * g1;
  /* cs[(2 (m - 1) + s) np + j]: cos (s = 0) and sin (s = 1) of m phi_j, a row of np values per term, so that a row of
     the table is summed term by term over all its nodes at once (the loop over j vectorises; each node still adds
     its terms in the order a0, a1 cos, b1 sin, a2 cos, ...) */
  for (int j = 0; j < np; j++) {
    const double p = j * t->dp, c1 = cos(p), s1 = sin(p);
    double       c = 1, s = 0;
    for (int m = 1; m <= L; m++) {
      const double cn = c * c1 - s * s1, sn = s * c1 + c * s1;
      c                                        = cn;
      s                                        = sn;
      t->cs[(size_t)(2 * (m - 1)) * np + j]     = c;
      t->cs[(size_t)(2 * (m - 1) + 1) * np + j] = s;
    }
  }
  t->vmin = PETSC_MAX_REAL;
  t->vmax = -PETSC_MAX_REAL;
  for (int i = 0; i <= nt; i++) {
    double *restrict row = t->val + (size_t)i * (np + 1);
    sm_shape_sh_fourier(L, cf, i == nt ? -1.0 : (i == 0 ? 1.0 : cos(i * t->dt)), t->plm, t->fa);
    for (int j = 0; j < np; j++) row[j] = t->fa[0];
    for (int m = 0; m < 2 * L; m++) {
      const double                a  = t->fa[m + 1];
      const double *restrict cs = t->cs + (size_t)m * np;
      for (int j = 0; j < np; j++) row[j] += a * cs[j];
    }
    for (int j = 0; j < np; j++) {
      t->vmin = PetscMin(t->vmin, row[j]);
      t->vmax = PetscMax(t->vmax, row[j]);
    }
    row[np] = row[0];
  }
}

/* The bilinear interpolant at the direction of y (non-zero). */
static inline double raster_table_interp(const SMRasterTable *t, const double y[3])
{
  double th = atan2(sqrt(y[0] * y[0] + y[1] * y[1]), y[2]) * t->idt, ph = atan2(y[1], y[0]);
  int    i, j;
  if (ph < 0) ph += 2 * PETSC_PI;
  ph *= t->idp;
  i = (int)th;
  j = (int)ph;
  if (i > t->nt - 1) i = t->nt - 1;
  if (j > t->np - 1) j = t->np - 1;
  th -= i;
  ph -= j;
  if (th > 1) th = 1;
  if (ph > 1) ph = 1;
  {
    const double *v0 = t->val + (size_t)i * (t->np + 1) + j, *v1 = v0 + t->np + 1;
    return (1 - th) * ((1 - ph) * v0[0] + ph * v0[1]) + th * ((1 - ph) * v1[0] + ph * v1[1]);
  }
}

/* Bounds pmin <= psi (as evaluated) <= pmax over every direction of the box [b0, b1] (relative to the centre, not
   containing it). Returns PETSC_FALSE when the directions cover more than SM_RASTER_MAX_SCAN cells. */
static PetscBool raster_table_box(const SMRasterTable *t, const double b0[3], const double b1[3], double *pmin,
                                  double *pmax)
{
  /* (rho, z) of the box is the rectangle [rho0, rho1] x [b0z, b1z]; theta = atan2(rho, z) takes its extremes at the
     rectangle's corners, and phi over the xy rectangle (when it misses the axis) at its corners */
  const double dx = b0[0] > 0 ? b0[0] : (b1[0] < 0 ? -b1[0] : 0), dy = b0[1] > 0 ? b0[1] : (b1[1] < 0 ? -b1[1] : 0);
  const double ex = PetscMax(-b0[0], b1[0]), ey = PetscMax(-b0[1], b1[1]);
  const double rho0 = sqrt(dx * dx + dy * dy), rho1 = sqrt(ex * ex + ey * ey), slack = 1e-12;
  const double t00 = atan2(rho0, b0[2]), t01 = atan2(rho0, b1[2]), t10 = atan2(rho1, b0[2]), t11 = atan2(rho1, b1[2]);
  const double tlo = PetscMin(PetscMin(t00, t01), PetscMin(t10, t11)) - slack;
  const double thi = PetscMax(PetscMax(t00, t01), PetscMax(t10, t11)) + slack;
  int          i0 = (int)floor(tlo * t->idt), i1 = (int)floor(thi * t->idt), j0, nj;
  double       lo = PETSC_MAX_REAL, hi = -PETSC_MAX_REAL;

  i0 = PetscMin(PetscMax(i0, 0), t->nt - 1);
  i1 = PetscMin(PetscMax(i1, i0), t->nt - 1);
  if (rho0 == 0) {
    j0 = 0;
    nj = t->np;
  } else {
    /* angles of the corners relative to the rectangle's centre direction: the rectangle misses the origin, so they
       lie within (-pi, pi) of it */
    const double cx = 0.5 * (b0[0] + b1[0]), cy = 0.5 * (b0[1] + b1[1]), pc = atan2(cy, cx);
    double       dlo = PETSC_MAX_REAL, dhi = -PETSC_MAX_REAL, plo;
    for (int q = 0; q < 4; q++) {
      const double x = q & 1 ? b1[0] : b0[0], y = q & 2 ? b1[1] : b0[1], d = atan2(cx * y - cy * x, cx * x + cy * y);
      dlo = PetscMin(dlo, d);
      dhi = PetscMax(dhi, d);
    }
    plo = pc + dlo - slack;
    while (plo < 0) plo += 2 * PETSC_PI;
    while (plo >= 2 * PETSC_PI) plo -= 2 * PETSC_PI;
    j0 = PetscMin((int)floor(plo * t->idp), t->np - 1);
    nj = (int)floor((plo + (dhi - dlo) + 2 * slack) * t->idp) - j0 + 1;
    if (nj >= t->np) {
      j0 = 0;
      nj = t->np;
    }
  }
  if ((i1 - i0 + 1) * nj > SM_RASTER_MAX_SCAN) return PETSC_FALSE;
  /* the interpolant over a cell lies between its corner values */
  for (int i = i0; i <= i1 + 1; i++) {
    const double *row = t->val + (size_t)i * (t->np + 1);
    for (int q = 0, j = j0; q <= nj; q++, j = j + 1 < t->np ? j + 1 : 0) {
      lo = PetscMin(lo, row[j]);
      hi = PetscMax(hi, row[j]);
    }
  }
  *pmin = lo - t->err;
  *pmax = hi + t->err;
  return PETSC_TRUE;
}

/* Distance range [r0, r1] from the origin of the box [b0, b1]. */
static inline void box_distances(const double b0[3], const double b1[3], double *r0, double *r1)
{
  double s0 = 0, s1 = 0;
  for (int d = 0; d < 3; d++) {
    const double n = b0[d] > 0 ? b0[d] : (b1[d] < 0 ? -b1[d] : 0), f = PetscMax(-b0[d], b1[d]);
    s0 += n * n;
    s1 += f * f;
  }
  *r0 = sqrt(s0);
  *r1 = sqrt(s1);
}

double sm_shape_rasterize_bytes_per_voxel(int s)
{
  return (double)((s * s * s + 7) / 8) + 2.0;
}

/* Everything one particle needs while its voxels are visited. */
typedef struct {
  int                  L, npts;
  const double        *c, *cf, *off, *h;
  double               rmax, rin, rout, eps;
  const SMRasterTable *t;
} SMRasterParticle;

/* Test the points of voxel (i, j, k) not yet inside (bits b): from the table when it decides, else exactly. */
static void raster_points(const SMRasterParticle *P, int64_t i, int64_t j, int64_t k, uint8_t *b)
{
  const double *c = P->c, *off = P->off, *h = P->h, err = P->t->err;

  for (int a = 0; a < P->npts; a++) {
    double y[3], ry, v;
    int    in;
    if (b[a >> 3] & (1u << (a & 7))) continue;
    y[0] = i * h[0] + off[3 * a] - c[0];
    y[1] = j * h[1] + off[3 * a + 1] - c[1];
    y[2] = k * h[2] + off[3 * a + 2] - c[2];
    ry   = sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]);
    if (ry > P->rmax) continue;
    if (ry == 0)
      in = sm_shape_sh_eval(P->L, P->cf, (const double[3]){0, 0, 1}) >= 0;
    else {
      v = raster_table_interp(P->t, y);
      if (ry <= v - err)
        in = 1;
      else if (ry > v + err)
        in = 0;
      else
        in = ry <= sm_shape_sh_eval(P->L, P->cf, y); /* the predicate itself, near the surface */
    }
    if (in) b[a >> 3] |= (uint8_t)(1u << (a & 7));
  }
}

PetscErrorCode sm_shape_rasterize(const SMShapes *sh, SMGrid grid, int s, SMVolume *vol)
{
  PetscFunctionBeginUser;
  PetscCall(sm_shape_rasterize_where(sh, grid, s, NULL, vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_rasterize_where(const SMShapes *sh, SMGrid grid, int s, const uint8_t *need, SMVolume *vol)
{
  static const char *const names[2] = {"pore", "solid"};
  SMGridInfo               g;
  MPI_Comm                 comm = sm_grid_comm(grid);
  uint8_t                 *bits, *full, *labels;
  int                      npts, nb;
  double                   h[3], zlo, zhi, *off, extent = 0;
  SMRasterTable            table;

  PetscFunctionBeginUser;
  *vol = NULL;
  PetscCheck(s >= 1 && s <= 8, comm, PETSC_ERR_ARG_OUTOFRANGE, "-raster_subsamples must be between 1 and 8 (got %d)",
             s);
  PetscCall(sm_grid_get_info(grid, &g));
  npts = s * s * s;
  nb   = (npts + 7) / 8;
  for (int d = 0; d < 3; d++) {
    h[d]   = (double)g.h[d];
    extent = PetscMax(extent, (double)g.n[d] * h[d]);
  }
  zlo = (double)g.z_start * h[2];
  zhi = (double)(g.z_start + g.z_local) * h[2];
  PetscCall(PetscCalloc2((size_t)(g.n_local * nb), &bits, (size_t)g.n_local, &full));
  PetscCall(PetscMalloc1(3 * npts, &off));
  for (int a = 0; a < npts; a++) {
    off[3 * a]     = ((a % s) + 0.5) / s * h[0];
    off[3 * a + 1] = (((a / s) % s) + 0.5) / s * h[1];
    off[3 * a + 2] = ((a / (s * s)) + 0.5) / s * h[2];
  }
  PetscCall(raster_table_create(sh->degree, &table));
  for (int64_t p = 0; p < sh->n; p++) {
    const double    *c = sh->centres + 3 * p, *cf = sh->coeffs + (size_t)p * sh->ncoeffs;
    const int        Le = sm_shape_sh_top_degree(sh->degree, cf);
    double           rmin, rmax, R, cmag = 0;
    int64_t          lo[3], hi[3];
    SMRasterParticle P;
    sm_shape_sh_bounds(Le, cf, &rmin, &rmax, NULL);
    if (rmax <= 0 || c[2] + rmax <= zlo || c[2] - rmax >= zhi) continue;
    if (need) {
      /* no table for a particle whose box (of its bound rmax) holds no voxel still to decide */
      int work = 0;
      for (int d = 0; d < 3; d++) {
        lo[d] = PetscMax((int64_t)floor((c[d] - rmax) / h[d]) - 1, 0);
        hi[d] = PetscMin((int64_t)floor((c[d] + rmax) / h[d]) + 1, g.n[d] - 1);
      }
      lo[2] = PetscMax(lo[2], g.z_start);
      hi[2] = PetscMin(hi[2], g.z_start + g.z_local - 1);
      for (int64_t k = lo[2]; k <= hi[2] && !work; k++)
        for (int64_t j = lo[1]; j <= hi[1] && !work; j++)
          for (int64_t i = lo[0]; i <= hi[0] && !work; i++) {
            const int64_t v = ((k - g.z_start) * g.n[1] + j) * g.n[0] + i;
            work            = need[v] && !full[v];
          }
      if (!work) continue;
    }
    raster_table_build(
        &table, Le, cf, (s == 1 ? SM_RASTER_ERR_ONE : SM_RASTER_ERR_FRACTION / s) * PetscMin(h[0], PetscMin(h[1], h[2])));
    for (int d = 0; d < 3; d++) cmag = PetscMax(cmag, fabs(c[d]));
    P.L    = Le;
    P.npts = npts;
    P.c    = c;
    P.cf   = cf;
    P.off  = off;
    P.h    = h;
    P.t    = &table;
    P.rmax = rmax;
    /* a point farther than rout is outside (ry > rmax, or ry > every value psi can take as evaluated); one nearer
       than rin (and within rmax) is inside. eps: the rounding of a point's coordinates i h + off - c. */
    P.rout = PetscMin(rmax, table.vmax + table.err);
    P.rin  = PetscMin(rmax, PetscMax(rmin - table.err, table.vmin - table.err));
    P.eps  = 1e-14 * (cmag + extent + rmax);
    if (P.rout < 0) continue;
    R = P.rout + P.eps;
    if (c[2] + R <= zlo || c[2] - R >= zhi) continue;
    for (int d = 0; d < 3; d++) {
      lo[d] = (int64_t)floor((c[d] - R) / h[d]);
      hi[d] = (int64_t)floor((c[d] + R) / h[d]);
      lo[d] = PetscMax(lo[d], 0);
      hi[d] = PetscMin(hi[d], g.n[d] - 1);
    }
    lo[2] = PetscMax(lo[2], g.z_start);
    hi[2] = PetscMin(hi[2], g.z_start + g.z_local - 1);
    for (int64_t k = lo[2]; k <= hi[2]; k++)
      for (int64_t j = lo[1]; j <= hi[1]; j++)
        for (int64_t i = lo[0]; i <= hi[0]; i++) {
          const int64_t v = ((k - g.z_start) * g.n[1] + j) * g.n[0] + i;
          uint8_t      *b = bits + v * nb;
          double        b0[3], b1[3], r0, r1, pmin, pmax;
          if (full[v] || (need && !need[v])) continue;
          /* whole voxel: its points' box against the particle's radius range, then against the table */
          b0[0] = i * h[0] + off[0] - c[0] - P.eps;
          b0[1] = j * h[1] + off[1] - c[1] - P.eps;
          b0[2] = k * h[2] + off[2] - c[2] - P.eps;
          b1[0] = i * h[0] + off[3 * (npts - 1)] - c[0] + P.eps;
          b1[1] = j * h[1] + off[3 * (npts - 1) + 1] - c[1] + P.eps;
          b1[2] = k * h[2] + off[3 * (npts - 1) + 2] - c[2] + P.eps;
          box_distances(b0, b1, &r0, &r1);
          if (r0 > P.rout) continue;
          if (r1 <= P.rin) {
            full[v] = 1;
            continue;
          }
          /* with one point per voxel (s = 1) the box is that point, and the table's bound of the box costs more
             (nine angles) than the point's own test (two) */
          if (npts > 1 && r0 > 0 && raster_table_box(&table, b0, b1, &pmin, &pmax)) {
            if (r0 > pmax) continue;
            if (r1 <= pmin && r1 <= rmax) {
              full[v] = 1;
              continue;
            }
          }
          raster_points(&P, i, j, k, b);
        }
  }
  PetscCall(raster_table_destroy(&table));
  PetscCall(PetscFree(off));
  PetscCall(sm_volume_create(grid, 2, names, vol));
  PetscCall(sm_volume_get_labels(*vol, &labels));
  for (int64_t v = 0; v < g.n_local; v++) {
    int cnt = 0;
    if (need && !need[v]) {
      labels[v] = 0;
      continue;
    }
    if (!full[v])
      for (int q = 0; q < nb; q++) cnt += __builtin_popcount(bits[v * nb + q]);
    if (!full[v] && 2 * cnt == npts) {
      /* a tie (even s: exactly half the points inside) goes to the voxels of one colour of a 3D checkerboard, so ties
         add half their volume on average instead of biasing the volume down (-0.7 % on a 1 um body at 0.1 um voxels) */
      const int64_t gv = g.z_start * g.n_plane + v;
      labels[v]        = (uint8_t)(((gv % g.n[0]) + (gv / g.n[0]) % g.n[1] + gv / g.n_plane) % 2 == 0);
    } else
      labels[v] = (uint8_t)(full[v] || 2 * cnt > npts);
  }
  PetscCall(PetscFree2(bits, full));
  PetscCall(sm_volume_set_periodic(*vol, PETSC_FALSE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the radial offset that gives the union the phase's volume ----
 *
 * Why. Each sub-particle's radius function is a least-squares fit, so its surface lies about as far outside its
 * voxels as inside them; but inside the phase the neighbours and the patches (particles.c) make up for the dents,
 * while on the phase's surface nothing takes the bumps back. The union therefore has more volume than the phase (the
 * NMC twins at 256^3: +0.006 to +0.011 in volume fraction, a uniform outward shift of about 0.17 voxel), and the
 * M-factor of the representation follows the excess (dM/M about 2.5 d eps/eps). Moving every surface inward by one
 * common distance delta (psi - delta, i.e. c_00 - delta sqrt(4 pi)) removes that bias and keeps each shape.
 * How. At every voxel centre y of the rank's slab the margin m(y) = max_p (psi_p(y - c_p) - |y - c_p|) is recorded,
 * clipped to [-band, band]: y lies in the union shrunk by delta exactly when m(y) >= delta (for |delta| < band). The
 * number of such voxels falls as delta grows; delta is found by bisection so that it equals `target` (the phase's
 * voxel count). psi comes from each particle's bilinear table (the rasteriser's, at a coarser bound of 0.3 voxel:
 * the errors of the margins largely cancel in the count; against a bound of 0.05 voxel, delta moved by at most 0.0015
 * voxel at 0.15 on C850 twins at 48^3 to 128^3, and the tables' cost fell from 15 % to 6 % of `shape`; from 0.15 to
 * 0.3 / 0.5 voxel delta moves by 0.001 / 0.002 voxel on C850 80^3 and C900 64^3, and `shape` of C900 64^3 on one
 * rank takes 17.30 / 16.43 / 16.07 G instructions). The counts are exact
 * integers and m depends on the voxel alone, so delta does not depend on the rank count. Memory: 4 bytes per voxel. */
#define SM_OFFSET_ERR_FRACTION 0.3 /* of the smallest voxel side */

static int64_t offset_count(const float *m, int64_t n, double delta)
{
  int64_t c = 0;
  for (int64_t i = 0; i < n; i++) c += m[i] >= delta;
  return c;
}

PetscErrorCode sm_shape_volume_offset(const SMShapes *sh, SMGrid grid, int64_t target, double *delta)
{
  SMGridInfo    g;
  MPI_Comm      comm = sm_grid_comm(grid);
  float        *m;
  double        h[3], hmin, band, zlo, zhi, lo_d, hi_d;
  float         bandf;
  int64_t       c_hi;
  SMRasterTable table;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  for (int d = 0; d < 3; d++) h[d] = (double)g.h[d];
  hmin  = PetscMin(h[0], PetscMin(h[1], h[2]));
  band  = SM_SHAPE_OFFSET_BAND * hmin;
  bandf = (float)band; /* a margin that reached the band is stored as bandf */
  zlo   = (double)g.z_start * h[2];
  zhi   = (double)(g.z_start + g.z_local) * h[2];
  PetscCall(PetscMalloc1((size_t)PetscMax(1, g.n_local), &m));
  for (int64_t i = 0; i < g.n_local; i++) m[i] = (float)-band;
  PetscCall(raster_table_create(sh->degree, &table));
  for (int64_t p = 0; p < sh->n; p++) {
    const double *c = sh->centres + 3 * p, *cf = sh->coeffs + (size_t)p * sh->ncoeffs;
    const int     Le = sm_shape_sh_top_degree(sh->degree, cf);
    double        rmin, rmax, rin, rout;
    int64_t       lo[3], hi[3];
    sm_shape_sh_bounds(Le, cf, &rmin, &rmax, NULL);
    if (rmax + band <= 0 || c[2] + rmax + band <= zlo || c[2] - rmax - band >= zhi) continue;
    for (int d = 0; d < 3; d++) {
      lo[d] = PetscMax((int64_t)floor((c[d] - rmax - band) / h[d] - 0.5), 0);
      hi[d] = PetscMin((int64_t)ceil((c[d] + rmax + band) / h[d] - 0.5), g.n[d] - 1);
    }
    lo[2] = PetscMax(lo[2], g.z_start);
    hi[2] = PetscMin(hi[2], g.z_start + g.z_local - 1);
    {
      /* most patches and many small parts lie where the margin already reached the band: no table for them */
      int work = 0;
      for (int64_t k = lo[2]; k <= hi[2] && !work; k++)
        for (int64_t j = lo[1]; j <= hi[1] && !work; j++)
          for (int64_t i = lo[0]; i <= hi[0] && !work; i++)
            work = m[((k - g.z_start) * g.n[1] + j) * g.n[0] + i] < bandf;
      if (!work) continue;
    }
    raster_table_build(&table, Le, cf, SM_OFFSET_ERR_FRACTION * hmin);
    rout = PetscMin(rmax, table.vmax + table.err);
    rin  = PetscMax(rmin, table.vmin) - table.err;
    if (rout + band <= 0) continue;
    for (int64_t k = lo[2]; k <= hi[2]; k++)
      for (int64_t j = lo[1]; j <= hi[1]; j++) {
        /* the voxels of the row that can pass the test ry - band < rout below: |x| <= X, with a relative slack of
           1e-9 and a voxel on each side far beyond the rounding of ry (the test itself still decides) */
        const double yj = (j + 0.5) * h[1] - c[1], zk = (k + 0.5) * h[2] - c[2], R2 = (rout + band) * (rout + band);
        const double X2 = R2 * (1 + 1e-9) - (yj * yj + zk * zk);
        int64_t      i0, i1;
        if (X2 < 0) continue;
        i0 = PetscMax(lo[0], (int64_t)floor((c[0] - sqrt(X2)) / h[0] - 0.5) - 1);
        i1 = PetscMin(hi[0], (int64_t)ceil((c[0] + sqrt(X2)) / h[0] - 0.5) + 1);
        for (int64_t i = i0; i <= i1; i++) {
          const int64_t v = ((k - g.z_start) * g.n[1] + j) * g.n[0] + i;
          double        y[3], ry, mv;
          if (m[v] >= bandf) continue;
          y[0] = (i + 0.5) * h[0] - c[0];
          y[1] = yj;
          y[2] = zk;
          ry   = sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]);
          if (ry - band >= rout) continue;
          if (ry + band <= rin)
            mv = band;
          else if (ry == 0)
            mv = sm_shape_sh_eval(Le, cf, (const double[3]){0, 0, 1});
          else
            mv = raster_table_interp(&table, y) - ry;
          if (mv >= band)
            m[v] = bandf;
          else if (mv > m[v])
            m[v] = (float)mv;
        }
      }
  }
  PetscCall(raster_table_destroy(&table));
  /* bisection: count(delta) = #{m >= delta} is non-increasing; keep count(lo_d) >= target > count(hi_d). Every margin
     is at least -band, so count(-band) is every voxel: a union too small even grown by the band ends at -band. */
  lo_d = -band;
  hi_d = band;
  c_hi = offset_count(m, g.n_local, hi_d);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &c_hi, 1, MPI_INT64_T, MPI_SUM, comm));
  if (c_hi >= target)
    *delta = band;
  else {
    for (int it = 0; it < 40 && hi_d - lo_d > 1e-6 * hmin; it++) {
      const double mid = 0.5 * (lo_d + hi_d);
      int64_t      cm  = offset_count(m, g.n_local, mid);
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &cm, 1, MPI_INT64_T, MPI_SUM, comm));
      if (cm >= target)
        lo_d = mid;
      else
        hi_d = mid;
    }
    *delta = lo_d;
  }
  PetscCall(PetscFree(m));
  PetscFunctionReturn(PETSC_SUCCESS);
}
