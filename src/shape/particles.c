/* Sub-particles of a phase: watershed basins -> per-basin voxel sets gathered whole on one rank -> centre, star check,
 * the cut of a basin that is not star-shaped from its centre into star-shaped parts (star.c), radius samples along
 * rays, spherical-harmonic fit (SPEC 7, steps 2 and 3), patches of the basin's voxels that the fits leave out
 * (sm_basin_cover).
 *
 * A basin can span several slabs, so its voxels (global indices) are sent to one owner rank (an all-to-all exchange
 * moving every voxel of the phase once, 16 bytes each). Owners are chosen by the longest-processing-time rule on the
 * basins' voxel counts (largest basin first, to the rank with the fewest voxels so far), the same on every rank; the
 * cost of a basin grows with its size, and a few large basins dealt out by number left one rank idle. The size is only
 * a rough cost, so the basins are then shared at run time (grid.h's task pool): each rank works through its own,
 * largest first, and a rank that is through takes the next unstarted basin of the rank with the most voxels left,
 * with its voxels. Whichever rank computes a basin builds its bounding-box bitmap (one byte per box voxel) and does all
 * the geometry on it, the cut included, so the cut needs no communication. The sub-particles are numbered basin by basin (the parts of basin p follow those of the
 * basins before it, in the order the cut made them), whatever rank made them; results are summed over the ranks (one
 * rank contributes each sub-particle, the others zeros), so they are bitwise independent of the rank count. Per-basin
 * sums are integer (counts, index sums), hence exact. */
#include "shape_impl.h"
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <math.h>
#include <stdlib.h>

/* ---- one voxel set ---- */

static inline int sm_set_has(const SMShapeVoxelSet *s, int64_t i, int64_t j, int64_t k)
{
  i -= s->lo[0];
  j -= s->lo[1];
  k -= s->lo[2];
  if (i < 0 || j < 0 || k < 0 || i >= s->n[0] || j >= s->n[1] || k >= s->n[2]) return 0;
  return s->in[(k * s->n[1] + j) * s->n[0] + i] != 0;
}

/* Trilinear interpolation of the indicator from the voxel centres. The weights are the products (w_x w_y) w_z and are
   added in the corner order a = 0..7 (x fastest), a corner outside the set adding 0 (which leaves the sum as it is):
   without a branch per corner, and the same value as adding only the positive weights of the set's corners. */
static double sm_set_indicator(const SMShapeVoxelSet *s, const double p[3])
{
  const int64_t sy = s->n[0], sz = s->n[0] * s->n[1];
  int64_t       b[3], o;
  double        w[3][2], wxy[4], v = 0;
  unsigned      ok[3]; /* bit e: corner b[d] + e is in the box along d */
  for (int d = 0; d < 3; d++) {
    const double  u  = p[d] / s->h[d] - 0.5;
    const int64_t i0 = sm_shape_ifloor(u);
    const double  f  = u - (double)i0;
    b[d]             = i0 - s->lo[d];
    w[d][0]          = 1 - f;
    w[d][1]          = f;
    ok[d]            = ((uint64_t)b[d] < (uint64_t)s->n[d]) | (((uint64_t)(b[d] + 1) < (uint64_t)s->n[d]) << 1);
  }
  for (int a = 0; a < 4; a++) wxy[a] = w[0][a & 1] * w[1][a >> 1];
  o = b[2] * sz + b[1] * sy + b[0];
  if ((ok[0] & ok[1] & ok[2]) == 3) {
    /* the eight voxels are in the box (the radius samples of all but the outermost points) */
    for (int a = 0; a < 8; a++) {
      const int ax = a & 1, ay = (a >> 1) & 1, az = a >> 2;
      v += s->in[o + az * sz + ay * sy + ax] ? wxy[a & 3] * w[2][az] : 0.0;
    }
    return v;
  }
  /* the corners in the box, in the same order a = ax + 2 ay + 4 az */
  for (int az = 0; az < 2; az++) {
    if (!((ok[2] >> az) & 1)) continue;
    for (int ay = 0; ay < 2; ay++) {
      if (!((ok[1] >> ay) & 1)) continue;
      for (int ax = 0; ax < 2; ax++)
        if (((ok[0] >> ax) & 1) && s->in[o + az * sz + ay * sy + ax]) v += wxy[2 * ay + ax] * w[2][az];
    }
  }
  return v;
}

/* Is the cell of point p (the eight voxel centres around it) in the set? full[]: the cells of the box whose eight
   voxels are all in the set, indexed by their lowest voxel. Then the indicator at p is 1 up to rounding (at least
   1/2). */
static inline int sm_set_full_cell(const SMShapeVoxelSet *s, const uint8_t *full, const double p[3])
{
  int64_t b[3];
  for (int d = 0; d < 3; d++) {
    b[d] = sm_shape_ifloor(p[d] / s->h[d] - 0.5) - s->lo[d];
    if (b[d] < 0 || b[d] >= s->n[d] - 1) return 0;
  }
  return full[(b[2] * s->n[1] + b[1]) * s->n[0] + b[0]];
}

/* A lower bound of the distance from c to the centre of every voxel not in the set (inside its box or outside it). */
static double sm_set_inner_radius(const SMShapeVoxelSet *s, const double c[3])
{
  double r2 = PETSC_MAX_REAL;
  for (int d = 0; d < 3; d++) {
    const double a = c[d] - ((double)s->lo[d] - 0.5) * s->h[d],
                 b = ((double)(s->lo[d] + s->n[d]) + 0.5) * s->h[d] - c[d];
    r2             = PetscMin(r2, PetscMin(a * a, b * b));
  }
  for (int64_t k = 0, v = 0; k < s->n[2]; k++) {
    const double z = ((double)(s->lo[2] + k) + 0.5) * s->h[2] - c[2];
    for (int64_t j = 0; j < s->n[1]; j++) {
      const double y = ((double)(s->lo[1] + j) + 0.5) * s->h[1] - c[1], yz = y * y + z * z;
      if (yz >= r2) {
        v += s->n[0];
        continue;
      }
      for (int64_t i = 0; i < s->n[0]; i++, v++)
        if (!s->in[v]) {
          const double x = ((double)(s->lo[0] + i) + 0.5) * s->h[0] - c[0];
          r2             = PetscMin(r2, x * x + yz);
        }
    }
  }
  return sqrt(r2);
}

PetscErrorCode sm_shape_sample_radii(const SMShapeVoxelSet *set, const double c[3], int ndir, const double *dirs,
                                     double *r)
{
  const double  dt = 0.25 * PetscMin(set->h[0], PetscMin(set->h[1], set->h[2]));
  const int64_t sy = set->n[0], sz = set->n[0] * set->n[1], nbox = sz * set->n[2];
  double        tmax = 0, rs, f0;
  uint8_t      *full;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(nbox, &full));
  for (int64_t k = 0; k + 1 < set->n[2]; k++)
    for (int64_t j = 0; j + 1 < set->n[1]; j++)
      for (int64_t i = 0, v = k * sz + j * sy; i + 1 < set->n[0]; i++, v++)
        full[v] = set->in[v] && set->in[v + 1] && set->in[v + sy] && set->in[v + sy + 1] && set->in[v + sz] &&
                  set->in[v + sz + 1] && set->in[v + sz + sy] && set->in[v + sz + sy + 1];
  /* A point of a ray nearer to c than rs has the eight voxels of its interpolation (each within a voxel diagonal of it)
     in the set, so its indicator is 1 and the march passes it: the march skips those points without evaluating them,
     stepping t by the same additions, so the radii are those of the full march bit for bit. */
  rs = sm_set_inner_radius(set, c) - sqrt(set->h[0] * set->h[0] + set->h[1] * set->h[1] + set->h[2] * set->h[2]);
  /* no point of the set is farther from c than the farthest corner of its box */
  for (int a = 0; a < 8; a++) {
    double s = 0;
    for (int d = 0; d < 3; d++) {
      const double e = ((a >> d) & 1) ? (double)(set->lo[d] + set->n[d]) * set->h[d] : (double)set->lo[d] * set->h[d];
      s += (e - c[d]) * (e - c[d]);
    }
    tmax = PetscMax(tmax, sqrt(s));
  }
  tmax += 2 * dt;
  /* every ray starts at c: its indicator once for all of them */
  f0 = sm_set_indicator(set, c);
  for (int j = 0; j < ndir; j++) {
    const double *u = dirs + 3 * j;
    double        t = 0, p[3] = {c[0], c[1], c[2]}, lo, hi, flo, fhi = f0;
    if (fhi < 0.5) {
      r[j] = 0;
      continue;
    }
    if (t + dt <= rs) {
      while (t + dt <= rs) t += dt;
      for (int d = 0; d < 3; d++) p[d] = c[d] + t * u[d];
      fhi = sm_set_indicator(set, p);
    }
    /* the march: flo the indicator at the step before the crossing, fhi at the crossing (or flo when the march ran
       out at tmax). A point whose cell is in the set (sm_set_full_cell) is passed without its indicator, which is
       evaluated for the step before the crossing once the crossing is found: the same values as evaluating every
       step. */
    for (int known = 1;;) {
      const double tp = t;
      if (known) flo = fhi;
      t += dt;
      for (int d = 0; d < 3; d++) p[d] = c[d] + t * u[d];
      if (t < tmax && sm_set_full_cell(set, full, p)) {
        known = 0;
        continue;
      }
      if (t < tmax && (fhi = sm_set_indicator(set, p)) >= 0.5) {
        known = 1;
        continue;
      }
      if (!known) {
        double q[3];
        for (int d = 0; d < 3; d++) q[d] = c[d] + tp * u[d];
        flo = sm_set_indicator(set, q);
      }
      if (!(t < tmax)) fhi = flo;
      break;
    }
    lo = t - dt;
    hi = t;
    for (int it = 0; it < 7; it++) { /* a bracket of dt / 2^7 = 1 / 512 of a voxel */
      const double m = 0.5 * (lo + hi);
      double       f;
      for (int d = 0; d < 3; d++) p[d] = c[d] + m * u[d];
      if ((f = sm_set_indicator(set, p)) >= 0.5) {
        lo  = m;
        flo = f;
      } else {
        hi  = m;
        fhi = f;
      }
    }
    /* the indicator is a continuous piecewise cubic along the ray (its second derivative below ~6 / h^2 inside a
       voxel cell): in a bracket this short the linear interpolation finds the crossing to within ~1e-5 of a voxel,
       ~2e-3 where a cell face (a kink) lies in the bracket, far below the fits' own error (a tenth of a voxel) */
    r[j] = fhi < 0.5 ? lo + (flo - 0.5) / (flo - fhi) * (hi - lo) : 0.5 * (lo + hi);
  }
  PetscCall(PetscFree(full));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_set_in_ctx(const void *s, int64_t i)
{
  return ((const SMShapeVoxelSet *)s)->in[i] != 0;
}

/* Is the voxel of global index w in the set? (sm_shape_segment_in) */
static inline int sm_set_walk_in(const void *s, const int64_t w[3])
{
  return sm_set_has((const SMShapeVoxelSet *)s, w[0], w[1], w[2]);
}

/* sm_shape_star_check, but counting the blocked voxels only up to limit (the count stops there) */
static PetscErrorCode sm_set_star_check(const SMShapeVoxelSet *set, const double c[3], int64_t limit, PetscBool *star,
                                        int64_t *nblocked)
{
  const int64_t zero[3] = {0, 0, 0};
  const double  hmin    = PetscMin(set->h[0], PetscMin(set->h[1], set->h[2]));
  int64_t       blocked = 0;
  /* the samples nearer to c than the set's clearance lie in it: not looked at (sm_shape_segment_visible) */
  const double R = sm_shape_clearance(set->n, set->lo, set->h, c, sm_set_in_ctx, set);

  PetscFunctionBeginUser;
  for (int64_t k = 0; k < set->n[2] && blocked < limit; k++)
    for (int64_t j = 0; j < set->n[1] && blocked < limit; j++)
      for (int64_t i = 0; i < set->n[0] && blocked < limit; i++) {
        const int64_t gi = set->lo[0] + i, gj = set->lo[1] + j, gk = set->lo[2] + k;
        double        x[3];
        if (!set->in[(k * set->n[1] + j) * set->n[0] + i]) continue;
        if (sm_set_has(set, gi - 1, gj, gk) && sm_set_has(set, gi + 1, gj, gk) && sm_set_has(set, gi, gj - 1, gk) &&
            sm_set_has(set, gi, gj + 1, gk) && sm_set_has(set, gi, gj, gk - 1) && sm_set_has(set, gi, gj, gk + 1))
          continue; /* interior voxel: its segment is covered by those of the boundary voxels behind it */
        x[0] = ((double)gi + 0.5) * set->h[0];
        x[1] = ((double)gj + 0.5) * set->h[1];
        x[2] = ((double)gk + 0.5) * set->h[2];
        if (!sm_shape_segment_visible(c, x, set->h, zero, 0.25 * hmin, R, sm_set_walk_in, set)) blocked++;
      }
  *star = blocked ? PETSC_FALSE : PETSC_TRUE;
  if (nblocked) *nblocked = blocked;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_star_check(const SMShapeVoxelSet *set, const double c[3], PetscBool *star, int64_t *nblocked)
{
  PetscFunctionBeginUser;
  PetscCall(sm_set_star_check(set, c, nblocked ? INT64_MAX : 1, star, nblocked));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the distributed extraction ---- */

double sm_shape_extract_bytes_per_voxel(void)
{
  /* labels (1) + mask (1) + watershed labels (8) + the EDT (8, kept through the watershed for the deepest voxels) +
     the watershed's peak (about 24 whatever the solid fraction, see watershed.c): 42; afterwards the labels with
     ghost planes (8) and the gathered voxel pairs (16 per voxel of the phase and per touching neighbour basin, sent
     and received, then received and sorted into a copy: 32 per pair; on more than one rank the sorted pairs are then
     moved into the task pool's window, again two copies for a moment), then one basin at a time the cut's work space
     (about 100 bytes per voxel of the basin's box, star.c), small beside the slab unless one basin spans most of the
     box. The larger stage is now the gathering for a dense phase: 1 + 32 (1 + t) for a full phase with t touching
     neighbour basins per voxel, within 50 up to t = 1/2 */
  return 50;
}

static int sm_pair_compare(const void *a, const void *b);

/* Owner rank of each basin: largest basins first (ties: smaller number), each to the rank with the fewest voxels so far
   (ties: smaller rank). A function of the global counts alone. */
static PetscErrorCode sm_basin_owners(int64_t np, const int64_t *sums, PetscMPIInt size, PetscMPIInt *owner)
{
  int64_t(*key)[2], *load;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(PetscMax(np, 1), &key));
  PetscCall(PetscCalloc1(size, &load));
  for (int64_t p = 0; p < np; p++) {
    key[p][0] = -sums[4 * p];
    key[p][1] = p;
  }
  qsort(key, (size_t)np, sizeof(key[0]), sm_pair_compare);
  for (int64_t i = 0; i < np; i++) {
    PetscMPIInt r = 0;
    for (PetscMPIInt t = 1; t < size; t++)
      if (load[t] < load[r]) r = t;
    owner[key[i][1]] = r;
    load[r] += -key[i][0];
  }
  PetscCall(PetscFree(load));
  PetscCall(PetscFree(key));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Tasks by decreasing cost, ties by increasing id. */
static int sm_task_compare(const void *a, const void *b)
{
  const SMTask *x = (const SMTask *)a, *y = (const SMTask *)b;
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static int sm_pair_compare(const void *a, const void *b)
{
  const int64_t *x = (const int64_t *)a, *y = (const int64_t *)b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Sort the gathered pairs (basin, key) by basin, then key (the order sm_pair_compare defines; every pair is distinct,
   so the order is unique): a stable counting sort by basin, then each basin's run into key order. The runs arrive
   nearly sorted (ranks in order, each rank's voxels in increasing index: keys >= 0 increasing, keys < 0 decreasing),
   so a run is put in order by moving its negative keys in front, reversed, and checked; a run that is still out of
   order (none is, as the pairs are built today) is sorted by qsort. Linear in the pairs instead of n log n. */
static PetscErrorCode sm_pairs_sort(int64_t np, int64_t n, int64_t (**pairs)[2])
{
  int64_t(*in)[2] = *pairs, (*out)[2], *start;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(np + 1, &start));
  PetscCall(PetscMalloc1((size_t)PetscMax(n, 1), &out));
  for (int64_t q = 0; q < n; q++) start[in[q][0] + 1]++;
  for (int64_t p = 0; p < np; p++) start[p + 1] += start[p];
  {
    /* basin p's pairs: its keys < 0 fill the front of its block from the back, its keys >= 0 the rest in order */
    int64_t *neg, *pos;
    PetscCall(PetscCalloc2(np, &neg, np, &pos));
    for (int64_t q = 0; q < n; q++) neg[in[q][0]] += in[q][1] < 0;
    for (int64_t p = 0; p < np; p++) {
      pos[p] = start[p] + neg[p]; /* next slot of a key >= 0 */
      neg[p] = start[p] + neg[p]; /* one past the next slot of a key < 0, filled downwards */
    }
    for (int64_t q = 0; q < n; q++) {
      const int64_t p = in[q][0];
      const int64_t j = in[q][1] < 0 ? --neg[p] : pos[p]++;
      out[j][0]       = p;
      out[j][1]       = in[q][1];
    }
    PetscCall(PetscFree2(neg, pos));
  }
  for (int64_t p = 0; p < np; p++) {
    int sorted = 1;
    for (int64_t q = start[p] + 1; q < start[p + 1] && sorted; q++) sorted = out[q - 1][1] < out[q][1];
    if (!sorted) qsort(out + start[p], (size_t)(start[p + 1] - start[p]), sizeof(out[0]), sm_pair_compare);
  }
  PetscCall(PetscFree(start));
  PetscCall(PetscFree(in));
  *pairs = out;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The sub-particles computed on this rank, appended basin by basin (the parts of a basin are consecutive). */
typedef struct {
  int64_t  n, cap;
  int      nc;
  int64_t *basin, *voxels;
  uint8_t *star;
  double  *centre, *coeffs, *fit_error, *rmax;
} SMPartList;

static PetscErrorCode sm_part_list_append(SMPartList *pl, int64_t basin, int64_t **voxels, uint8_t **star,
                                          double **centre, double **coeffs, double **fit_error, double **rmax)
{
  PetscFunctionBeginUser;
  if (pl->n == pl->cap) {
    const int64_t cap = pl->cap ? 2 * pl->cap : 64;
    int64_t      *b, *v;
    uint8_t      *st;
    double       *c, *cf, *fe, *rm;
    PetscCall(PetscMalloc3(cap, &b, cap, &v, cap, &st));
    PetscCall(PetscMalloc4(3 * cap, &c, cap * pl->nc, &cf, cap, &fe, cap, &rm));
    if (pl->n) {
      PetscCall(PetscArraycpy(b, pl->basin, pl->n));
      PetscCall(PetscArraycpy(v, pl->voxels, pl->n));
      PetscCall(PetscArraycpy(st, pl->star, pl->n));
      PetscCall(PetscArraycpy(c, pl->centre, 3 * pl->n));
      PetscCall(PetscArraycpy(cf, pl->coeffs, pl->n * pl->nc));
      PetscCall(PetscArraycpy(fe, pl->fit_error, pl->n));
      PetscCall(PetscArraycpy(rm, pl->rmax, pl->n));
    }
    PetscCall(PetscFree3(pl->basin, pl->voxels, pl->star));
    PetscCall(PetscFree4(pl->centre, pl->coeffs, pl->fit_error, pl->rmax));
    pl->basin     = b;
    pl->voxels    = v;
    pl->star      = st;
    pl->centre    = c;
    pl->coeffs    = cf;
    pl->fit_error = fe;
    pl->rmax      = rm;
    pl->cap       = cap;
  }
  pl->basin[pl->n] = basin;
  *voxels          = pl->voxels + pl->n;
  *star            = pl->star + pl->n;
  *centre          = pl->centre + 3 * pl->n;
  *coeffs          = pl->coeffs + pl->n * pl->nc;
  *fit_error       = pl->fit_error + pl->n;
  *rmax            = pl->rmax + pl->n;
  pl->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_part_list_free(SMPartList *pl)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(pl->basin, pl->voxels, pl->star));
  PetscCall(PetscFree4(pl->centre, pl->coeffs, pl->fit_error, pl->rmax));
  pl->n = pl->cap = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* What a sub-particle is, as recorded per sub-particle while the basins are processed: not star-shaped from its centre
   (only with -shape_star_split 0), a star-shaped part of a basin (the basin whole, or a part of its cut), or a patch
   (sm_basin_cover: star-shaped, made of voxels that are already in a part but that the fitted parts leave uncovered;
   recorded with 0 voxels, so that the voxel counts still sum to the phase's and the star-shaped volume fraction does
   not count a voxel twice). */
enum { SM_PART_NOT_STAR = 0, SM_PART_STAR = 1, SM_PART_PATCH = 2 };

/* The fits of one rank: per degree l, the rays (4 (l + 1)^2 of them, or -sh_directions at the full degree) and the
   fitter of that degree, made when a sub-particle first needs it (the same on every rank, so the fits do not depend
   on the rank count), and the radii's scratch.
 *
 * The degree of a sub-particle (-shape_adaptive_degree). A degree-l harmonic has l half-wavelengths along a meridian,
 * so on a surface at distance r from the centre the finest feature that degree L can draw is about pi r / L long (the
 * angular resolution of a band-limited function on the sphere: J. R. Driscoll and D. M. Healy, "Computing Fourier
 * transforms and convolutions on the 2-sphere", Adv. Appl. Math. 15 (1994) 202-250, whose sampling theorem needs
 * about 2L points per great semicircle for degree L). Details shorter than a voxel h are not in the voxel data, so
 * the harmonics of degrees l > pi r / h only fit the staircase of the voxels (and the jumps of the radius function).
 * The degree of a part is therefore L_p = min(L, max(2, ceil(pi r_far / h_min))), r_far the distance from the centre
 * to the farthest point of the part's own voxels (their centres' largest distance plus half a voxel), i.e. the
 * resolution pi r / L_p <= h_min holds on the whole surface of the part, its farthest side included (an elongated
 * speck keeps the degree of its length, not that of its volume). The one-voxel ring around the part (the overlap with
 * its neighbours) is sampled but does not count: it is there for the overlap, not for detail. This gives L_p = 2 for
 * a single voxel, 4 for two, 5 for a 2^3 cube, 8 for a 3^3 cube and the full L = 10 from a ball of about 3 voxels'
 * radius (~100 voxels) up; the 70 % of the sub-particles of the NMC twins that are specks of fewer than 10 voxels
 * (shadows of the cut, patches) are fitted at degrees 2..7 from 36..256 rays instead of 121 coefficients from 484
 * rays. Coefficients above L_p are stored as zeros (the file keeps one degree L); the rasteriser evaluates each
 * sub-particle up to its highest nonzero degree (sm_shape_sh_top_degree). */
typedef struct {
  int        L, nfull; /* the requested degree, its rays */
  PetscBool  adaptive;
  int        ndir[SM_SHAPE_MAX_DEGREE + 1];
  double    *dirs[SM_SHAPE_MAX_DEGREE + 1];
  SMShFitter fitter[SM_SHAPE_MAX_DEGREE + 1];
  double    *r; /* [nfull] radii */
} SMFitters;

static PetscErrorCode sm_fitters_get(SMFitters *F, int l, SMShFitter *fitter, int *ndir, const double **dirs)
{
  PetscFunctionBeginUser;
  if (!F->fitter[l]) {
    F->ndir[l] = l == F->L ? F->nfull : PetscMin(F->nfull, 4 * (l + 1) * (l + 1)); /* >= 2 (l + 1)^2 */
    PetscCall(PetscMalloc1(3 * F->ndir[l], &F->dirs[l]));
    PetscCall(sm_shape_directions(F->ndir[l], F->dirs[l]));
    /* degree L by the SVD (its fits are those without the option, bit for bit); the lower ones from the normal
       equations, O(n p^2) (harmonics.c) */
    if (l == F->L)
      PetscCall(sm_shape_fitter_create(l, F->ndir[l], F->dirs[l], &F->fitter[l]));
    else
      PetscCall(sm_shape_fitter_create_normal(l, F->ndir[l], F->dirs[l], &F->fitter[l]));
  }
  *fitter = F->fitter[l];
  *ndir   = F->ndir[l];
  *dirs   = F->dirs[l];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_fitters_destroy(SMFitters *F)
{
  PetscFunctionBeginUser;
  for (int l = 0; l <= SM_SHAPE_MAX_DEGREE; l++) {
    PetscCall(sm_shape_fitter_destroy(&F->fitter[l]));
    PetscCall(PetscFree(F->dirs[l]));
  }
  PetscCall(PetscFree(F->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The degree of the part marked 1 in set->in (the ring, marked 2, does not count), centre c: see SMFitters. */
static int sm_part_degree(const SMFitters *F, const SMShapeVoxelSet *set, const double c[3])
{
  const double hmin = PetscMin(set->h[0], PetscMin(set->h[1], set->h[2]));
  double       d2   = 0, rfar;
  int          l;
  if (!F->adaptive || F->L <= 2) return F->L;
  for (int64_t k = 0, v = 0; k < set->n[2]; k++) {
    const double z = ((double)(set->lo[2] + k) + 0.5) * set->h[2] - c[2];
    for (int64_t j = 0; j < set->n[1]; j++) {
      const double y = ((double)(set->lo[1] + j) + 0.5) * set->h[1] - c[1], yz = y * y + z * z;
      for (int64_t i = 0; i < set->n[0]; i++, v++)
        if (set->in[v] == 1) {
          const double x = ((double)(set->lo[0] + i) + 0.5) * set->h[0] - c[0];
          d2             = PetscMax(d2, x * x + yz);
        }
    }
  }
  rfar = sqrt(d2) + 0.5 * hmin;
  l    = (int)PetscMin((double)F->L, ceil(PETSC_PI * rfar / hmin));
  return PetscMax(2, l);
}

/* Radii of the voxel set `set` from c, fit and bound, appended to pl. */
static PetscErrorCode sm_part_fit(const SMShapeVoxelSet *set, const double c[3], int64_t basin, int64_t voxels,
                                  uint8_t kind, SMFitters *F, SMPartList *pl)
{
  int64_t      *nv     = NULL;
  uint8_t      *st     = NULL;
  double       *centre = NULL, *coeffs = NULL, *fe = NULL, *rmax = NULL;
  const int     l      = sm_part_degree(F, set, c);
  SMShFitter    fitter = NULL;
  int           ndir   = 0;
  const double *dirs   = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_ShapeFit, 0, 0, 0, 0));
  PetscCall(sm_fitters_get(F, l, &fitter, &ndir, &dirs));
  PetscCall(sm_part_list_append(pl, basin, &nv, &st, &centre, &coeffs, &fe, &rmax));
  for (int d = 0; d < 3; d++) centre[d] = c[d];
  *nv = voxels;
  *st = kind;
  PetscCall(sm_shape_sample_radii(set, centre, ndir, dirs, F->r));
  PetscCall(sm_shape_fitter_solve(fitter, F->r, coeffs, fe));
  for (int j = sm_shape_ncoeffs(l); j < pl->nc; j++) coeffs[j] = 0;
  sm_shape_sh_bounds(l, coeffs, NULL, rmax, NULL);
  PetscCall(PetscLogEventEnd(SM_EVENT_ShapeFit, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fit the parts 0..np-1 of part[] (on the box of set, whose in[] marks the voxels of the phase there: the basin and
   its touching neighbours) from their centres cen[np][3], appended to pl. The radii of a part are sampled on the part
   grown by one voxel into the voxels of the phase that touch it (26-neighbours: the other parts of the basin and, from
   the gathered pairs, the neighbouring basins), so that fitted neighbours overlap a little instead of leaving cracks
   along their common faces; the star check looks at the part's own voxels. kind: SM_PART_STAR for the parts of a cut
   (recorded as SM_PART_NOT_STAR if the check fails), SM_PART_PATCH for patches. */
static PetscErrorCode sm_parts_fit(const SMShapeVoxelSet *set, const int32_t *part, int np, const double *cen,
                                   int64_t p, uint8_t kind, SMFitters *F, SMPartList *pl)
{
  const int64_t nbox = set->n[0] * set->n[1] * set->n[2];
  int64_t(*box)[6];

  PetscFunctionBeginUser;
  /* each part's box, grown by one voxel (for the ring) and clipped to the basin's box */
  PetscCall(PetscMalloc1(PetscMax(np, 1), &box));
  for (int k = 0; k < np; k++)
    for (int d = 0; d < 3; d++) {
      box[k][d]     = INT64_MAX;
      box[k][3 + d] = -1;
    }
  for (int64_t i = 0; i < nbox; i++) {
    const int64_t v[3] = {i % set->n[0], (i / set->n[0]) % set->n[1], i / (set->n[0] * set->n[1])};
    if (part[i] < 0) continue;
    for (int d = 0; d < 3; d++) {
      box[part[i]][d]     = PetscMin(box[part[i]][d], v[d]);
      box[part[i]][3 + d] = PetscMax(box[part[i]][3 + d], v[d]);
    }
  }
  for (int k = 0; k < np; k++) {
    SMShapeVoxelSet ps;
    int64_t         b0[3], bn[3], count = 0;
    uint8_t        *pb;
    PetscBool       pstar;
    for (int d = 0; d < 3; d++) {
      b0[d]    = PetscMax(0, box[k][d] - 1);
      bn[d]    = PetscMin(set->n[d] - 1, box[k][3 + d] + 1) - b0[d] + 1;
      ps.lo[d] = set->lo[d] + b0[d];
      ps.n[d]  = bn[d];
      ps.h[d]  = set->h[d];
    }
    PetscCall(PetscCalloc1(bn[0] * bn[1] * bn[2], &pb));
    for (int64_t z = 0; z < bn[2]; z++)
      for (int64_t y = 0; y < bn[1]; y++)
        for (int64_t x = 0; x < bn[0]; x++)
          if (part[((z + b0[2]) * set->n[1] + y + b0[1]) * set->n[0] + x + b0[0]] == k) {
            pb[(z * bn[1] + y) * bn[0] + x] = 1;
            count++;
          }
    ps.in = pb;
    PetscCall(sm_shape_star_check(&ps, cen + 3 * k, &pstar, NULL));
    /* the ring: voxels of the phase (other parts, other basins) with a 26-neighbour in the part */
    for (int64_t z = 0; z < bn[2]; z++)
      for (int64_t y = 0; y < bn[1]; y++)
        for (int64_t x = 0; x < bn[0]; x++) {
          const int64_t i     = ((z + b0[2]) * set->n[1] + y + b0[1]) * set->n[0] + x + b0[0];
          int           touch = 0;
          if (!set->in[i] || part[i] == k) continue;
          for (int dz = -1; dz <= 1 && !touch; dz++)
            for (int dy = -1; dy <= 1 && !touch; dy++)
              for (int dx = -1; dx <= 1 && !touch; dx++) {
                const int64_t xx = x + dx, yy = y + dy, zz = z + dz;
                if (xx < 0 || yy < 0 || zz < 0 || xx >= bn[0] || yy >= bn[1] || zz >= bn[2]) continue;
                touch = pb[(zz * bn[1] + yy) * bn[0] + xx] == 1;
              }
          if (touch) pb[(z * bn[1] + y) * bn[0] + x] = 2;
        }
    PetscCall(
        sm_part_fit(&ps, cen + 3 * k, p, kind == SM_PART_PATCH ? 0 : count, pstar ? kind : SM_PART_NOT_STAR, F, pl));
    PetscCall(PetscFree(pb));
  }
  PetscCall(PetscFree(box));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Patches: cover the voxels inside the phase that the fitted surfaces of a basin's sub-particles leave out.
 *
 * Why. A part that is star-shaped at the voxel level can still have a radius function with jumps (a ray grazing a
 * concave stretch of the surface, the edge of a face cut against a neighbouring part), and a degree-L expansion of a
 * jump undershoots on its high side over an angular width of about pi / L, the Gibbs phenomenon of truncated
 * spherical-harmonic series (e.g. J. P. Boyd, "Chebyshev and Fourier Spectral Methods", 2nd ed., Dover 2001, sec. 2.13;
 * a least-squares fit on the sphere behaves like the truncated series). Where that happens inside the phase, along the
 * seams between parts and in the shadow of the jumps inside large parts, the union has holes and cracks: inner
 * surfaces that the twin does not have. On the coarse, dense NMC structures (C900: 84 % of the solid in ~300 parts of
 * more than 10^4 voxels) this made the representation's specific surface area +6.5 % (256^3, seed 21); of the 1.15 %
 * of the solid left uncovered, the voxels below the twin's surface alone accounted for 4.5 of the 6.5 points, while
 * the dents and bumps of the fitted surface on the twin's surface nearly cancel (bench/RESULTS.md).
 * What. Only voxels inside the phase are patched, i.e. voxels of the basin without a 6-neighbour in the pore (the
 * volume's faces are no surface). On the phase's surface the fit's error
 * of about a voxel either way is the representation's own (the tolerance is for it), and patching only its
 * dents would bias the volume up; a convex body, whose fit leaves at most surface voxels out, stays one sub-particle.
 * How. The parts fitted so far, with every surface moved SM_COVER_MARGIN voxels inward, are rasterised on the basin's
 * box at the source voxel size by their voxel centres (sm_shape_rasterize_where with one sub-sample, deciding only the
 * inner voxels not covered by an earlier pass: the rest of the box cannot change the answer); the inner voxels they
 * leave out are cut into
 * star-shaped parts (sm_shape_star_split) and fitted like any part (grown by the one-voxel ring into the covered voxels
 * around them, so that they overlap their surroundings). This is a greedy cover of the residual, the same heuristic as
 * the cut's (Chvatal 1979, see star.c), driven by an a posteriori check of the representation on the voxels it is
 * meant to reproduce. It repeats on what the patches leave out, at most SM_COVER_PASSES times; later passes rasterise
 * the new patches alone and add their coverage. The margin makes the check stricter than `rasterize` (the majority of
 * 4^3 sub-samples of the surfaces as they are): it leaves room for the volume match (sm_shape_volume_offset, 0.1-0.25
 * voxel inward on the NMC twins), which would otherwise reopen holes and cracks, and for voxels whose centre is covered
 * but most of whose sub-samples are not. Measured on C850 and F900 at 128^3 (inner solid voxels that end up pore in the
 * representation, CPU time of `shape` on 1 rank): 4^3 sub-samples and no margin 748 / 1020 (after the volume match),
 * margin 0.25 with 4^3 sub-samples 27 / 83 and 16.3 s, with 3^3 43 / 163 and 12.4 s, with one sub-sample 69 / 189 and
 * 11.3 s, margin 0.35 with one sub-sample 13 / 32 and 9.5 s (the default). The result depends on the basin alone, hence
 * not on the rank count. Cost: one more rasterisation of the basin's parts, plus those of the patches; memory per voxel
 * of the basin's box: the rasterisation's 3 bytes, 1 of coverage, 4 of part numbers, then the cut's (star.c). */
#define SM_COVER_PASSES 3
#define SM_COVER_SUBSAMPLES 1
/* The coverage is that of the sub-particles with every surface moved inward by SM_COVER_MARGIN voxels (see above). */
#define SM_COVER_MARGIN 0.35

/* Has voxel i of the box (a voxel of the basin) a 6-neighbour in the pore? set->in marks the phase in the box: the
   basin and the voxels of other basins touching it, so a neighbour in the volume but outside the box is pore; one
   outside the volume (nvol voxels) is not. */
static int sm_box_on_surface(const SMShapeVoxelSet *set, const int64_t nvol[3], int64_t i)
{
  const int64_t v[3]    = {i % set->n[0], (i / set->n[0]) % set->n[1], i / (set->n[0] * set->n[1])};
  const int64_t step[3] = {1, set->n[0], set->n[0] * set->n[1]};
  for (int d = 0; d < 3; d++) {
    if (v[d] > 0 ? !set->in[i - step[d]] : set->lo[d] > 0) return 1;
    if (v[d] < set->n[d] - 1 ? !set->in[i + step[d]] : set->lo[d] + set->n[d] < nvol[d]) return 1;
  }
  return 0;
}

static PetscErrorCode sm_basin_cover(const SMShapeVoxelSet *set, const uint8_t *own, const int64_t nvol[3],
                                     int64_t first, int64_t p, SMFitters *F, SMPartList *pl, int64_t *npatch,
                                     int64_t *nleft)
{
  const int64_t nbox = set->n[0] * set->n[1] * set->n[2];
  uint8_t      *unc;
  int32_t      *part;
  PetscReal     hh[3];
  int64_t       from = first;

  const double margin = SM_COVER_MARGIN * PetscMin(set->h[0], PetscMin(set->h[1], set->h[2]));

  PetscFunctionBeginUser;
  *npatch = *nleft = 0;
  for (int d = 0; d < 3; d++) hh[d] = (PetscReal)set->h[d];
  PetscCall(PetscMalloc1(nbox, &unc));
  PetscCall(PetscMalloc1(nbox, &part));
  /* the voxels the check is about, the basin's own not on the phase's surface, as long as no pass covered them */
  for (int64_t i = 0; i < nbox; i++) unc[i] = own[i] && !sm_box_on_surface(set, nvol, i);
  for (int pass = 0;; pass++) {
    SMShapes        loc;
    SMGrid          grid;
    SMVolume        vol;
    uint8_t        *lab;
    SMShapeVoxelSet us = *set;
    double         *cen;
    int             np;
    int64_t         nu = 0;
    /* the sub-particles made since the last pass, in the box's coordinates (origin at its low corner) */
    PetscCall(PetscMemzero(&loc, sizeof(loc)));
    PetscCall(sm_shapes_alloc(&loc, F->L, pl->n - from));
    for (int64_t j = 0; j < loc.n; j++) {
      for (int d = 0; d < 3; d++)
        loc.centres[3 * j + d] = pl->centre[3 * (from + j) + d] - (double)set->lo[d] * set->h[d];
      PetscCall(PetscArraycpy(loc.coeffs + j * loc.ncoeffs, pl->coeffs + (from + j) * pl->nc, pl->nc));
      sm_shape_sh_shift(loc.coeffs + j * loc.ncoeffs, margin);
    }
    from = pl->n;
    PetscCall(sm_grid_create(PETSC_COMM_SELF, set->n, hh, &grid));
    /* only the voxels not covered yet are rasterised: the others' labels would not change unc */
    PetscCall(sm_shape_rasterize_where(&loc, grid, SM_COVER_SUBSAMPLES, unc, &vol));
    PetscCall(sm_volume_get_labels(vol, &lab));
    for (int64_t i = 0; i < nbox; i++) {
      unc[i] = unc[i] && !lab[i];
      nu += unc[i];
    }
    PetscCall(sm_volume_destroy(&vol));
    PetscCall(sm_grid_destroy(&grid));
    PetscCall(sm_shapes_free(&loc));
    if (!nu || pass == SM_COVER_PASSES) {
      *nleft = nu;
      break;
    }
    us.in = unc;
    PetscCall(sm_shape_star_split(&us, part, &np, &cen));
    PetscCall(sm_parts_fit(set, part, np, cen, p, SM_PART_PATCH, F, pl));
    PetscCall(PetscFree(cen));
    *npatch += np;
  }
  PetscCall(PetscFree(part));
  PetscCall(PetscFree(unc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Geometry of one basin on its owner: centre and star check; if the basin is not star-shaped from its centre (and
   splitting is on), its star-shaped parts (sm_shape_star_split); radii, fit and bound of each sub-particle
   (sm_parts_fit); with cover, the patches of what they leave out (sm_basin_cover). */
static PetscErrorCode sm_basin_geometry(const int64_t (*pairs)[2], int64_t npairs, const int64_t n[3],
                                        const double h[3], const int64_t sums[4], int64_t argmax, int64_t p,
                                        PetscBool split, PetscBool cover, SMFitters *F, SMPartList *pl, int *moved,
                                        int *was_split, int64_t *npatch, int64_t *nleft)
{
  SMShapeVoxelSet set, own;
  int64_t         lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {-1, -1, -1}, nbox, blocked0;
  const int64_t   first = pl->n;
  uint8_t        *lab, *ob;
  PetscBool       star;
  double          centre[3];

  PetscFunctionBeginUser;
  *npatch = *nleft = 0;
  for (int64_t q = 0; q < npairs; q++) {
    const int64_t g    = pairs[q][1] < 0 ? -pairs[q][1] - 1 : pairs[q][1],
                  v[3] = {g % n[0], (g / n[0]) % n[1], g / (n[0] * n[1])};
    for (int d = 0; d < 3; d++) {
      lo[d] = PetscMin(lo[d], v[d]);
      hi[d] = PetscMax(hi[d], v[d]);
    }
  }
  for (int d = 0; d < 3; d++) {
    set.lo[d] = own.lo[d] = lo[d];
    set.n[d] = own.n[d] = hi[d] - lo[d] + 1;
    set.h[d] = own.h[d] = h[d];
  }
  nbox = set.n[0] * set.n[1] * set.n[2];
  /* lab: 1 the basin's voxels, 2 the touching voxels of other basins; ob: the basin alone */
  PetscCall(PetscCalloc2(nbox, &lab, nbox, &ob));
  for (int64_t q = 0; q < npairs; q++) {
    const int64_t g    = pairs[q][1] < 0 ? -pairs[q][1] - 1 : pairs[q][1],
                  v[3] = {g % n[0], (g / n[0]) % n[1], g / (n[0] * n[1])},
                  i    = ((v[2] - lo[2]) * set.n[1] + v[1] - lo[1]) * set.n[0] + v[0] - lo[0];
    lab[i]             = pairs[q][1] < 0 ? 2 : 1;
    ob[i]              = pairs[q][1] >= 0;
  }
  set.in = lab;
  own.in = ob;
  for (int d = 0; d < 3; d++) centre[d] = ((double)sums[d + 1] / (double)sums[0] + 0.5) * h[d];
  PetscCall(sm_shape_star_check(&own, centre, &star, &blocked0));
  *moved = *was_split = 0;
  if (!star) {
    /* the centroid does not see the whole basin: try the centre of its deepest voxel (largest distance to the rest of
       the phase, the smallest global index among equals), the centre of its largest inscribed ball, and keep it if it
       sees more of the boundary */
    const int64_t v[3] = {argmax % n[0], (argmax / n[0]) % n[1], argmax / (n[0] * n[1])};
    double        deep[3];
    int64_t       blocked1;
    PetscBool     star1;
    for (int d = 0; d < 3; d++) deep[d] = ((double)v[d] + 0.5) * h[d];
    PetscCall(sm_set_star_check(&own, deep, blocked0, &star1, &blocked1)); /* only whether it sees more */
    if (blocked1 < blocked0) {
      for (int d = 0; d < 3; d++) centre[d] = deep[d];
      *moved = 1;
      star   = star1;
    }
  }
  if (star || !split)
    PetscCall(sm_part_fit(&set, centre, p, sums[0], star ? SM_PART_STAR : SM_PART_NOT_STAR, F, pl));
  else {
    int32_t *part;
    double  *cen;
    int      np;
    PetscCall(PetscMalloc1(nbox, &part));
    PetscCall(sm_shape_star_split(&own, part, &np, &cen));
    *was_split = 1;
    PetscCall(sm_parts_fit(&set, part, np, cen, p, SM_PART_STAR, F, pl));
    PetscCall(PetscFree(cen));
    PetscCall(PetscFree(part));
  }
  if (cover) PetscCall(sm_basin_cover(&set, ob, n, first, p, F, pl, npatch, nleft));
  PetscCall(PetscFree2(lab, ob));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_extract(SMVolume vol, int phase, const SMShapeOptions *opt, SMShapes *shapes)
{
  SMGrid             grid;
  SMGridInfo         g;
  MPI_Comm           comm;
  uint8_t           *labels, *mask;
  int64_t           *ws, np = 0, count = 0, *sums, *argmax, (*sendbuf)[2] = NULL, (*recvbuf)[2] = NULL, nrecv = 0;
  double            *d2, *dmax, hmark;
  int64_t           *flags, taken = 0;
  SMTaskPool         pool;
  SMPartList         pl = {0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  int64_t           *scount;
  int                nphases, ndir, L = opt->degree, n1, n4;
  const char *const *names;
  SMFitters          F;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  comm = sm_grid_comm(grid);
  PetscCall(sm_volume_get_labels(vol, &labels));
  PetscCall(sm_volume_get_phases(vol, &nphases, &names));
  PetscCheck(phase >= 0 && phase < nphases, comm, PETSC_ERR_ARG_OUTOFRANGE, "Phase %d does not exist", phase);
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-sh_degree must be between 0 and %d (got %d)", SM_SHAPE_MAX_DEGREE, L);
  ndir = opt->ndirections > 0 ? opt->ndirections : 4 * (L + 1) * (L + 1);
  PetscCheck(ndir >= 2 * (L + 1) * (L + 1), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-sh_directions: %d rays are too few for degree %d (at least %d)", ndir, L, 2 * (L + 1) * (L + 1));
  hmark = opt->marker_height >= 0 ? opt->marker_height : 0.5 * (double)PetscMin(g.h[0], PetscMin(g.h[1], g.h[2]));

  PetscCall(PetscMalloc2(g.n_local, &mask, g.n_local, &ws));
  for (int64_t i = 0; i < g.n_local; i++) {
    mask[i] = labels[i] == phase;
    count += mask[i];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT64_T, MPI_SUM, comm));
  if (!count) PetscCall(PetscFree2(mask, ws));
  PetscCheck(
      count > 0, comm, PETSC_ERR_ARG_WRONG,
      "Phase '%s' is empty: there is nothing to split into sub-particles (choose another phase with -shape_phase)",
      names[phase]);
  PetscCall(PetscLogEventBegin(SM_EVENT_Watershed, 0, 0, 0, 0));
  PetscCall(PetscMalloc1(g.n_local, &d2));
  PetscCall(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 7, d2)); /* the watershed's, and the deepest voxels' below */
  PetscCall(sm_shape_watershed_d2(grid, mask, d2, hmark, ws, &np));
  PetscCall(PetscLogEventEnd(SM_EVENT_Watershed, 0, 0, 0, 0));

  /* per-particle voxel counts, index sums (exact integers) and deepest voxel */
  PetscCall(PetscCalloc3(4 * np, &sums, np, &argmax, np, &dmax));
  for (int64_t p = 0; p < np; p++) {
    dmax[p]   = -1;
    argmax[p] = INT64_MAX;
  }
  for (int64_t i = 0; i < g.n_local; i++) {
    const int64_t p = ws[i], gi = g.z_start * g.n_plane + i;
    if (p < 0) continue;
    sums[4 * p]++;
    sums[4 * p + 1] += gi % g.n[0];
    sums[4 * p + 2] += (gi / g.n[0]) % g.n[1];
    sums[4 * p + 3] += gi / g.n_plane;
    if (d2[i] > dmax[p]) dmax[p] = d2[i];
  }
  PetscCall(sm_int64_to_int(4 * np, &n4));
  PetscCall(sm_int64_to_int(np, &n1));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sums, n4, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, dmax, n1, MPI_DOUBLE, MPI_MAX, comm));
  for (int64_t i = 0; i < g.n_local; i++) {
    const int64_t p = ws[i];
    if (p >= 0 && d2[i] == dmax[p]) argmax[p] = PetscMin(argmax[p], g.z_start * g.n_plane + i);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, argmax, n1, MPI_INT64_T, MPI_MIN, comm));
  PetscCall(PetscFree(d2));

  /* gather each particle's voxels on its owner, together with the voxels of other particles that touch it (26-
     neighbours; sent as -(index + 1)): the radius is sampled on the particle grown by one voxel into the neighbouring
     particles, so that fitted neighbours overlap a little instead of leaving cracks along their common faces */
  PetscCall(PetscCalloc1(g.size, &scount));
  {
    int64_t     *cnt, *pos, *ext, nsend = 0;
    PetscMPIInt *owner;
    PetscCall(PetscMalloc1(PetscMax(np, 1), &owner));
    PetscCall(sm_basin_owners(np, sums, g.size, owner));
    PetscCall(PetscMalloc1((size_t)((g.z_local + 2) * g.n_plane), &ext));
    PetscCall(sm_shape_ghost_labels(grid, ws, ext));
    PetscCall(PetscCalloc2(g.size, &cnt, g.size, &pos));
    for (int pass = 0; pass < 2; pass++) {
      if (pass) {
        for (int r = 1; r < g.size; r++) pos[r] = pos[r - 1] + cnt[r - 1];
        nsend = pos[g.size - 1] + cnt[g.size - 1];
        PetscCall(PetscMalloc1((size_t)PetscMax(1, nsend), &sendbuf));
        for (int r = 0; r < g.size; r++) scount[r] = cnt[r];
      }
      for (int64_t i = 0; i < g.n_local; i++) {
        const int64_t gi = g.z_start * g.n_plane + i, x = i % g.n[0], y = (i / g.n[0]) % g.n[1];
        int64_t       seen[26];
        int           ns = 0;
        if (ws[i] < 0) continue;
        if (pass) {
          const int64_t q = pos[owner[ws[i]]]++;
          sendbuf[q][0]   = ws[i];
          sendbuf[q][1]   = gi;
        } else
          cnt[owner[ws[i]]]++;
        for (int dz = -1; dz <= 1; dz++)
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
              int64_t o;
              int     dup = 0;
              if (x + dx < 0 || x + dx >= g.n[0] || y + dy < 0 || y + dy >= g.n[1]) continue;
              o = ext[g.n_plane + i + dz * g.n_plane + dy * g.n[0] + dx];
              if (o < 0 || o == ws[i]) continue;
              for (int s2 = 0; s2 < ns; s2++) dup |= seen[s2] == o;
              if (dup) continue;
              seen[ns++] = o;
              if (pass) {
                const int64_t q = pos[owner[o]]++;
                sendbuf[q][0]   = o;
                sendbuf[q][1]   = -(gi + 1);
              } else
                cnt[owner[o]]++;
            }
      }
      if (pass == 0) continue;
    }
    PetscCall(PetscFree2(cnt, pos));
    PetscCall(PetscFree(ext));
    PetscCall(PetscFree(owner));
  }
  PetscCall(PetscFree2(mask, ws));
  {
    MPI_Datatype pair;
    PetscCallMPI(MPI_Type_contiguous(2, MPI_INT64_T, &pair));
    PetscCallMPI(MPI_Type_commit(&pair));
    PetscCall(sm_grid_exchange_records(grid, pair, 2 * sizeof(int64_t), sendbuf, scount, (void **)&recvbuf, &nrecv));
    PetscCallMPI(MPI_Type_free(&pair));
  }
  PetscCall(PetscFree(sendbuf));
  PetscCall(PetscFree(scount));
  PetscCall(sm_pairs_sort(np, nrecv, &recvbuf));

  /* the sub-particles of the basins: each rank's own basins, largest first, then basins not yet started on other
     ranks (the task pool of grid.h shares them: a rank that is through with its own takes the next basin of the rank
     with the most voxels left, with its pairs). The parts of a basin are made on one rank, one after the other, so
     they stay consecutive in pl wherever the basin is computed, and flags[] of a basin is set on that rank alone. */
  {
    SMTask *task;
    int64_t nt = 0;
    PetscCall(PetscMalloc1(PetscMax(np, 1), &task));
    for (int64_t q0 = 0, q1; q0 < nrecv; q0 = q1) {
      const int64_t p = recvbuf[q0][0];
      for (q1 = q0; q1 < nrecv && recvbuf[q1][0] == p;) q1++;
      task[nt++] = (SMTask){p, (double)sums[4 * p], q0 * (int64_t)sizeof(recvbuf[0]),
                            (q1 - q0) * (int64_t)sizeof(recvbuf[0])};
    }
    qsort(task, (size_t)nt, sizeof(task[0]), sm_task_compare);
    PetscCall(sm_task_pool_create(comm, nt, task, (void **)&recvbuf, (size_t)nrecv * sizeof(recvbuf[0]), &pool));
    PetscCall(PetscFree(task));
  }
  PetscCall(PetscCalloc1(5 * np, &flags));
  PetscCall(PetscMemzero(&F, sizeof(F)));
  F.L        = L;
  F.nfull    = ndir;
  F.adaptive = opt->adaptive_degree;
  PetscCall(PetscMalloc1(ndir, &F.r));
  pl.nc = sm_shape_ncoeffs(L);
  PetscCall(PetscLogEventBegin(SM_EVENT_Shape, 0, 0, 0, 0));
  for (;;) {
    const int64_t first = pl.n;
    const int64_t(*rec)[2];
    int64_t     p, bytes, nrec, npatch = 0, nleft = 0, own = 0;
    int         moved = 0, was_split = 0;
    PetscMPIInt from;
    PetscCall(sm_task_pool_next(pool, &p, (const void **)&rec, &bytes, &from));
    if (p < 0) break;
    nrec = bytes / (int64_t)sizeof(rec[0]);
    taken += from != g.rank;
    for (int64_t q = 0; q < nrec; q++) own += rec[q][1] >= 0;
    PetscCheck(own == sums[4 * p], PETSC_COMM_SELF, PETSC_ERR_PLIB, "Particle %lld: %lld voxels gathered, %lld counted",
               (long long)p, (long long)own, (long long)sums[4 * p]);
    PetscCall(sm_basin_geometry(rec, nrec, g.n, (const double[3]){g.h[0], g.h[1], g.h[2]}, sums + 4 * p, argmax[p], p,
                                opt->star_split, opt->cover, &F, &pl, &moved, &was_split, &npatch, &nleft));
    flags[5 * p]     = moved;
    flags[5 * p + 1] = was_split;
    flags[5 * p + 2] = pl.n - first;
    flags[5 * p + 3] = npatch;
    flags[5 * p + 4] = nleft;
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_Shape, 0, 0, 0, 0));
  PetscCall(sm_task_pool_destroy(&pool));
  PetscCall(sm_fitters_destroy(&F));
  /* number the sub-particles basin by basin (the parts of basin p follow those of basins < p), whatever rank made
     them; one rank holds each sub-particle, the others zeros, so the sums are exact */
  {
    int64_t *first, total = 0, nstar = 0, *ivals;
    int      n5, nt, nc;
    PetscCall(sm_int64_to_int(5 * np, &n5));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flags, n5, MPI_INT64_T, MPI_SUM, comm));
    PetscCall(PetscMalloc1(np + 1, &first));
    for (int64_t p = 0; p < np; p++) {
      first[p] = total;
      total += flags[5 * p + 2];
    }
    first[np] = total;
    PetscCall(sm_shapes_alloc(shapes, L, total));
    PetscCall(PetscCalloc1(2 * PetscMax(1, total), &ivals));
    for (int64_t i = 0, prev = -1, k = 0; i < pl.n; i++) {
      const int64_t p = pl.basin[i], j = first[p] + (p == prev ? ++k : (k = 0));
      prev = p;
      PetscAssert(j < first[p + 1], PETSC_COMM_SELF, PETSC_ERR_PLIB, "Sub-particle numbering");
      for (int d = 0; d < 3; d++) shapes->centres[3 * j + d] = pl.centre[3 * i + d];
      PetscCall(PetscArraycpy(shapes->coeffs + j * shapes->ncoeffs, pl.coeffs + i * pl.nc, pl.nc));
      shapes->fit_error[j] = pl.fit_error[i];
      shapes->rmax[j]      = pl.rmax[i];
      ivals[2 * j]         = pl.voxels[i];
      ivals[2 * j + 1]     = pl.star[i];
    }
    PetscCall(sm_part_list_free(&pl));
    PetscCall(sm_int64_to_int(total, &nt));
    PetscCall(sm_int64_to_int(total * shapes->ncoeffs, &nc));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, shapes->centres, 3 * nt, MPI_DOUBLE, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, shapes->coeffs, nc, MPI_DOUBLE, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, shapes->fit_error, nt, MPI_DOUBLE, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, shapes->rmax, nt, MPI_DOUBLE, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ivals, 2 * nt, MPI_INT64_T, MPI_SUM, comm));
    shapes->moved = shapes->not_star = shapes->split = shapes->patches = shapes->uncovered = 0;
    for (int64_t j = 0; j < total; j++) {
      shapes->voxels[j] = ivals[2 * j];
      if (ivals[2 * j + 1] == SM_PART_STAR)
        nstar += ivals[2 * j];
      else if (ivals[2 * j + 1] == SM_PART_NOT_STAR)
        shapes->not_star++;
    }
    for (int64_t p = 0; p < np; p++) {
      shapes->moved += flags[5 * p];
      shapes->split += flags[5 * p + 1];
      shapes->patches += flags[5 * p + 3];
      shapes->uncovered += flags[5 * p + 4];
    }
    if (!opt->cover) shapes->uncovered = -1;
    shapes->basins               = np;
    PetscCallMPI(MPI_Allreduce(&taken, &shapes->taken, 1, MPI_INT64_T, MPI_SUM, comm));
    shapes->star_volume_fraction = (double)nstar / (double)count;
    PetscCall(PetscFree(ivals));
    PetscCall(PetscFree(first));
  }
  /* the common inward distance that gives the union the phase's volume (sm_shape_volume_offset), applied to the mean
     radius c_00 / sqrt(4 pi) and to the bound rmax */
  shapes->radial_offset = 0;
  if (opt->match_volume) {
    double delta;
    PetscCall(PetscLogEventBegin(SM_EVENT_ShapeOffset, 0, 0, 0, 0));
    PetscCall(sm_shape_volume_offset(shapes, grid, count, &delta));
    for (int64_t j = 0; j < shapes->n; j++) {
      sm_shape_sh_shift(shapes->coeffs + j * shapes->ncoeffs, delta);
      shapes->rmax[j] -= delta;
    }
    shapes->radial_offset = delta;
    PetscCall(PetscLogEventEnd(SM_EVENT_ShapeOffset, 0, 0, 0, 0));
  }
  for (int d = 0; d < 3; d++) {
    shapes->source_n[d] = g.n[d];
    shapes->source_h[d] = (double)g.h[d];
  }
  shapes->nphases = nphases;
  for (int i = 0; i < nphases; i++) PetscCall(PetscStrncpy(shapes->phase_names[i], names[i], SM_NAME_LEN));
  PetscCall(PetscStrncpy(shapes->phase, names[phase], SM_NAME_LEN));
  shapes->marker_height = hmark;
  shapes->ndirections   = ndir;
  PetscCall(PetscFree(flags));
  PetscCall(PetscFree3(sums, argmax, dmax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shapes_alloc(SMShapes *s, int L, int64_t n)
{
  PetscFunctionBeginUser;
  PetscCheck(L >= 0 && L <= SM_SHAPE_MAX_DEGREE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "Spherical-harmonic degree %d is outside 0..%d", L, SM_SHAPE_MAX_DEGREE);
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Negative particle count");
  s->degree        = L;
  s->ncoeffs       = sm_shape_ncoeffs(L);
  s->n             = n;
  s->radial_offset = 0;
  PetscCall(PetscCalloc1((size_t)PetscMax(1, 3 * n), &s->centres));
  PetscCall(PetscCalloc1((size_t)PetscMax(1, n * s->ncoeffs), &s->coeffs));
  PetscCall(PetscCalloc1((size_t)PetscMax(1, n), &s->fit_error));
  PetscCall(PetscCalloc1((size_t)PetscMax(1, n), &s->voxels));
  PetscCall(PetscCalloc1((size_t)PetscMax(1, n), &s->rmax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shapes_free(SMShapes *s)
{
  PetscFunctionBeginUser;
  if (!s) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(s->centres));
  PetscCall(PetscFree(s->coeffs));
  PetscCall(PetscFree(s->fit_error));
  PetscCall(PetscFree(s->voxels));
  PetscCall(PetscFree(s->rmax));
  s->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
