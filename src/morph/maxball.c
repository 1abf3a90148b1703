/* Maximal-ball painting: P[v] = max { f(c) : |x_v - x_c| <= f(c) } (local thickness, continuous pore size
 * distribution, simulated intrusion; SPEC 5).
 *
 * Algorithm (Hildebrand & Rueegsegger, "A new method for the model-independent assessment of thickness in
 * three-dimensional images", J. Microsc. 185 (1997) 67, with the ridge reduction of Dougherty & Kunzelmann,
 * "Computing local thickness of 3D structures with ImageJ", Microsc. Microanal. 13 (2007) 1678):
 *  1. Ridge reduction. A centre c is redundant when a 26-neighbour c' (8-neighbour within the slice in the 2D modes)
 *     has f(c') >= f(c) and its ball covers every voxel centre that the ball of c covers: then c never sets the
 *     maximum at any voxel (the voxel is also reached by c', whose value is at least as large). Containment of the
 *     lattice points, not of the continuous balls, is what matters and prunes far more centres of an EDT (see
 *     MaxBallTable); where the table does not reach, the continuous test f(c') >= f(c) + |x_c - x_c'| is used (for v
 *     in B(c, f(c)), |v - c'| <= |v - c| + |c - c'| <= f(c') by the triangle inequality). A covering ball holds
 *     strictly more lattice points (a translate of a finite set cannot be a proper subset of a set of the same size),
 *     so chains of redundancy cannot cycle and end at a kept centre: dropping every redundant centre at once leaves
 *     the maximum unchanged at every voxel. Typically 15-30 % of the positive voxels of an EDT remain.
 *  2. The kept ("ridge") centres are sorted by decreasing f (in-place radix sort) and their balls are painted in that
 *     order, writing only voxels not yet painted: the first ball to reach a voxel is its largest covering ball, so
 *     every voxel is written once, with the maximum. Ties in f are harmless: equal values are written. Each ball is
 *     scanned by rows with the run along x (along y for the disks normal to x) whose half-widths are tabulated once
 *     per distinct radius (MaxBallRows); a bit per voxel marks the unpainted voxels, so painted parts of a row are
 *     skipped 64 voxels at a time, and a plane of a small ball is first tested with one AND per row.
 *  3. Balls cross slab boundaries: every rank sends each of its ridge centres to all ranks whose slab the ball
 *     reaches in z (16-byte records, sm_grid_exchange_records). The ridge test on the first and last local planes reads
 *     one ghost plane of f from each neighbouring rank. The result is a maximum of values of f, so it is bitwise
 *     independent of the rank count.
 *
 * Closed balls and rounding. Voxel v is in the ball of c when (dx^2 + (dy^2 + dz^2)) <= f^2 (1 + SM_MAXBALL_SLACK)
 * with dx = (x_v - x_c) h_x etc., evaluated in exactly this order (maxball_inside); the relative slack of 1e-10 on the
 * squared radius makes lattice points that lie exactly on the sphere (the common case for EDT radii, f = sqrt of a
 * sum of squared lattice steps) count whatever sqrt rounded to. It also makes the continuous ridge test safe in
 * floating point: with the slack, containment needs d <= (f(c') - f(c)) (1 + slack/2) in exact arithmetic, and the
 * rounding of f(c) + d (a few 1e-16 f) is far below the room d slack / 2 >= 5e-11 h_min as long as
 * f(c') <= SM_MAXBALL_PRUNE_MAX h_min; centres next to larger radii are simply kept (still exact, only slower).
 *
 * Memory beyond f and P: the ridge centres this rank owns or receives (16 bytes each; a few bytes per voxel on an EDT,
 * 16 per positive voxel in the worst case of no pruning), a bit per voxel, two planes of f, a table of a few MB and the
 * row table of the largest ball (at most two planes of doubles). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>

#define SM_MAXBALL_SLACK 1e-10
#define SM_MAXBALL_PRUNE_MAX 1e4
/* Neighbourhood of the ridge test: 1 = the 26-neighbours. 2 (5x5x5) prunes only ~10 % more centres of an EDT and
   costs more than it saves. */
#define SM_MAXBALL_NR 1
#define SM_MAXBALL_NC ((SM_MAXBALL_NR + 1) * (SM_MAXBALL_NR + 1) * (SM_MAXBALL_NR + 1))

/* A ridge centre: its radius and global voxel index (z n_plane + y nx + x), exchanged as 16 raw bytes. */
typedef struct {
  double  f;
  int64_t idx;
} MaxBallCentre;

/* The membership predicate; the x-runs, the extents and any reference implementation must all use this exact
   expression so that the painted sets agree bit for bit. */
static inline int maxball_inside(double dx, double dyz, double lim)
{
  return dx * dx + dyz <= lim;
}

/* Largest k >= 0 with maxball_inside(k h, dyz, lim), given that k = 0 qualifies; at most kmax. The sqrt guess is
   corrected by single steps, which keeps the answer consistent with the predicate (monotone in k). */
static inline int64_t maxball_half_width(double h, double dyz, double lim, int64_t kmax)
{
  double  rem = lim - dyz;
  int64_t k   = rem > 0.0 ? (int64_t)(sqrt(rem) / h) : 0;

  if (k > kmax) k = kmax;
  while (k < kmax && maxball_inside((double)(k + 1) * h, dyz, lim)) k++;
  while (k > 0 && !maxball_inside((double)k * h, dyz, lim)) k--;
  return k;
}

/* The planes of f just below and above this rank's slab (the grid's halo); have_below/have_above are 0 at the box
   faces. */
static PetscErrorCode maxball_ghost_planes(SMGrid grid, const SMGridInfo *g, const double *f, double *below,
                                           double *above, int *have_below, int *have_above)
{
  const SMGridHaloSpec spec = {MPI_DOUBLE, sizeof(double), g->n_plane, 1, PETSC_FALSE, NULL};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo(grid, &spec, f, f + (g->z_local - 1) * g->n_plane, below, above));
  *have_below = g->z_start > 0;
  *have_above = g->z_start + g->z_local < g->n[2];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Extents in voxels of the ball of squared limit lim along each axis (0 along the skipped axis), clipped to the box. */
static inline void maxball_extents(const SMGridInfo *g, int skip_axis, double lim, int64_t ext[3])
{
  for (int d = 0; d < 3; d++) ext[d] = d == skip_axis ? 0 : maxball_half_width((double)g->h[d], 0.0, lim, g->n[d]);
}

/* Lattice-containment table. Only voxel centres are painted, so B(c, r) is redundant as soon as the lattice points it
   covers are covered by B(c', r'), which is a much weaker condition than containment of the continuous balls (on an
   EDT the continuous test keeps most voxels, since the gradient rarely points along a lattice direction; this is the
   "distance ridge" of Dougherty & Kunzelmann). The lattice points of a ball depend on its squared limit only through
   the largest lattice squared length S[k] <= lim, and the farthest of them seen from the neighbour c' = c + o depends
   on |o_x|, |o_y|, |o_z| only (SM_MAXBALL_NC classes), so the table T[k][class] = max over lattice u with D2(u) <= S[k]
   of D2(|u| + |o|) answers the test in O(1): c' covers c's lattice ball when T <= lim(c'). Every value is the kernel's
   own floating-point expression D2 (maxball_inside) and D2(u - o) <= D2(|u| + |o|) because rounding is monotone, so the
   test is exact in floating point, not only up to rounding. Offsets longer than the box are left out (no pair of
   voxels in the box is that far apart), and the table stops at about 2^16 octant points; larger balls use the
   continuous test. */
typedef struct {
  int64_t ns;      /* distinct lattice squared lengths S[0] = 0 < S[1] < ... */
  double  lim_tab; /* squared limits up to this have a row in the table */
  double *S, *T;   /* [ns], [ns][SM_MAXBALL_NC] */
} MaxBallTable;

typedef struct {
  double d2;
  int    u[3];
} MaxBallOffset;

static inline double maxball_d2(int64_t ux, int64_t uy, int64_t uz, const PetscReal h[3])
{
  const double dx = (double)ux * h[0], dy = (double)uy * h[1], dz = (double)uz * h[2];
  return dx * dx + (dy * dy + dz * dz);
}

static int maxball_compare_offset(const void *a, const void *b)
{
  const double p = ((const MaxBallOffset *)a)->d2, q = ((const MaxBallOffset *)b)->d2;
  return (p > q) - (p < q);
}

static PetscErrorCode maxball_table_build(const SMGridInfo *g, int skip_axis, double fmax, MaxBallTable *t)
{
  const double   target = 65536.0; /* octant lattice points at most, about: 1.5 MB sorted, 3.7 MB of table */
  double         lim    = fmax * fmax * (1.0 + SM_MAXBALL_SLACK), limcap;
  int64_t        e[3], np = 0;
  MaxBallOffset *off;

  PetscFunctionBeginUser;
  if (skip_axis < 0)
    limcap = pow(target * 6.0 / PETSC_PI * g->h[0] * g->h[1] * g->h[2], 2.0 / 3.0);
  else
    limcap = target * 4.0 / PETSC_PI * g->h[(skip_axis + 1) % 3] * g->h[(skip_axis + 2) % 3];
  if (lim > limcap) lim = limcap;
  for (int d = 0; d < 3; d++) e[d] = d == skip_axis ? 0 : maxball_half_width((double)g->h[d], 0.0, lim, g->n[d] - 1);
  for (int pass = 0; pass < 2; pass++) {
    np = 0;
    for (int64_t z = 0; z <= e[2]; z++)
      for (int64_t y = 0; y <= e[1]; y++)
        for (int64_t x = 0; x <= e[0]; x++) {
          const double d2 = maxball_d2(x, y, z, g->h);
          if (d2 > lim) continue;
          if (pass) {
            off[np].d2   = d2;
            off[np].u[0] = (int)x;
            off[np].u[1] = (int)y;
            off[np].u[2] = (int)z;
          }
          np++;
        }
    if (!pass) PetscCall(PetscMalloc1(np, &off));
  }
  qsort(off, (size_t)np, sizeof(MaxBallOffset), maxball_compare_offset);
  PetscCall(PetscMalloc2(np, &t->S, SM_MAXBALL_NC * np, &t->T));
  t->ns = 0;
  for (int64_t i = 0; i < np; i++) {
    double *row;
    if (i == 0 || off[i].d2 != t->S[t->ns - 1]) {
      t->S[t->ns] = off[i].d2;
      row         = t->T + SM_MAXBALL_NC * t->ns;
      for (int j = 0; j < SM_MAXBALL_NC; j++) row[j] = t->ns ? row[j - SM_MAXBALL_NC] : 0.0; /* running maximum */
      t->ns++;
    }
    row = t->T + SM_MAXBALL_NC * (t->ns - 1);
    for (int j = 0; j < SM_MAXBALL_NC; j++) {
      const int    o[3] = {j % (SM_MAXBALL_NR + 1), (j / (SM_MAXBALL_NR + 1)) % (SM_MAXBALL_NR + 1),
                           j / ((SM_MAXBALL_NR + 1) * (SM_MAXBALL_NR + 1))};
      const double d2   = maxball_d2(off[i].u[0] + o[0], off[i].u[1] + o[1], off[i].u[2] + o[2], g->h);
      if (d2 > row[j]) row[j] = d2;
    }
  }
  t->lim_tab = lim;
  PetscCall(PetscFree(off));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Direct-mapped cache from a radius to a per-radius answer (a table row, an extent). Distance maps and their
   bottleneck maps take few distinct values (hundreds), so nearly every look-up hits; a miss only costs the exact
   computation the cache stands for, so the answers never depend on the cache. */
#define SM_MAXBALL_CACHE_BITS 12
typedef struct {
  double  key[1 << SM_MAXBALL_CACHE_BITS]; /* radii are > 0: -1 marks an empty slot */
  int64_t val[1 << SM_MAXBALL_CACHE_BITS];
} MaxBallCache;

static void maxball_cache_init(MaxBallCache *cache)
{
  for (int i = 0; i < (1 << SM_MAXBALL_CACHE_BITS); i++) cache->key[i] = -1.0;
}

static inline int maxball_cache_slot(double f)
{
  uint64_t b;
  memcpy(&b, &f, sizeof b);
  return (int)((b * 0x9e3779b97f4a7c15ULL) >> (64 - SM_MAXBALL_CACHE_BITS));
}

/* Row of the containment table for the squared limit limc (the largest S[k] <= limc), or -1 beyond the table. */
static int64_t maxball_table_row(const MaxBallTable *t, double limc)
{
  int64_t lo = 0, hi = t->ns - 1;
  if (!(limc <= t->lim_tab)) return -1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (t->S[mid] <= limc)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static inline PetscErrorCode maxball_append(MaxBallCentre **c, int64_t *nc, int64_t *cap, double f, int64_t idx)
{
  PetscFunctionBeginUser;
  if (PetscUnlikely(*nc == *cap)) {
    *cap = PetscMax(1024, 2 * *cap);
    PetscCall(PetscRealloc(sizeof(MaxBallCentre) * (size_t)*cap, c));
  }
  (*c)[*nc].f     = f;
  (*c)[(*nc)++].idx = idx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Ridge test (step 1) for all local voxels: appends the kept centres, in index order, to *c (*nc of them, capacity
   *cap, grown by doubling). Whether a centre is kept
   does not depend on the order in which its neighbours are tried; the nearest ones come first since they prune
   most often. Voxels whose whole in-plane neighbourhood lies inside the box take a path without bounds checks. */
static PetscErrorCode maxball_mark_ridge(const SMGridInfo *g, const double *f, const double *below, const double *above,
                                         int have_below, int have_above, int skip_axis, const MaxBallTable *t,
                                         MaxBallCentre **c, int64_t *nc, int64_t *cap)
{
  const int64_t nx = g->n[0], ny = g->n[1], np = g->n_plane;
  const double  hmin = PetscMin(PetscMin(g->h[0], g->h[1]), g->h[2]), fprune = SM_MAXBALL_PRUNE_MAX * hmin;
  int           off[SM_MAXBALL_NC * 8][3], cls[SM_MAXBALL_NC * 8], pz[SM_MAXBALL_NC * 8], nnb = 0;
  int64_t       lin[SM_MAXBALL_NC * 8];
  int           gend[3 * SM_MAXBALL_NR + 1], ngroup = 0; /* ends of the groups of neighbours tried without branches */
  double        dist[SM_MAXBALL_NC * 8];
  MaxBallCache *cache;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(1, &cache));
  maxball_cache_init(cache);
  /* nearest first: faces, then edges, then corners of each shell */
  for (int shell = 1; shell <= SM_MAXBALL_NR; shell++)
    for (int nz = 1; nz <= 3; nz++) {
      if (nnb > 0 && (ngroup == 0 || gend[ngroup - 1] != nnb)) gend[ngroup++] = nnb;
      for (int oz = -shell; oz <= shell; oz++)
        for (int oy = -shell; oy <= shell; oy++)
          for (int ox = -shell; ox <= shell; ox++) {
            const int o[3] = {ox, oy, oz};
            if (PetscMax(PetscMax(PetscAbs(ox), PetscAbs(oy)), PetscAbs(oz)) != shell) continue;
            if ((ox != 0) + (oy != 0) + (oz != 0) != nz) continue;
            if (skip_axis >= 0 && o[skip_axis] != 0) continue;
            for (int d = 0; d < 3; d++) off[nnb][d] = o[d];
            cls[nnb]  = PetscAbs(ox) + (SM_MAXBALL_NR + 1) * (PetscAbs(oy) + (SM_MAXBALL_NR + 1) * PetscAbs(oz));
            dist[nnb] = sqrt(maxball_d2(ox, oy, oz, g->h));
            lin[nnb]  = (int64_t)oy * nx + ox;
            pz[nnb]   = oz + SM_MAXBALL_NR;
            nnb++;
          }
    }
  if (ngroup == 0 || gend[ngroup - 1] != nnb) gend[ngroup++] = nnb;
  for (int64_t z = 0; z < g->z_local; z++) {
    const double *pl[2 * SM_MAXBALL_NR + 1]; /* planes z - NR .. z + NR; NULL where not available (no pruning) */
    const double *nbpl[SM_MAXBALL_NC * 8];   /* the plane of each neighbour */
    int           allpl = 1;
    for (int o = -SM_MAXBALL_NR; o <= SM_MAXBALL_NR; o++) {
      const int64_t zz      = z + o;
      pl[o + SM_MAXBALL_NR] = zz >= 0 && zz < g->z_local       ? f + zz * np
                              : zz == -1 && have_below         ? below
                              : zz == g->z_local && have_above ? above
                                                               : NULL;
    }
    for (int k = 0; k < nnb; k++) {
      nbpl[k] = pl[pz[k]];
      if (!nbpl[k]) allpl = 0;
    }
    for (int64_t y = 0; y < ny; y++) {
      const int yin = y >= SM_MAXBALL_NR && y < ny - SM_MAXBALL_NR;
      for (int64_t x = 0; x < nx; x++) {
        const int64_t v = (z * ny + y) * nx + x, yx = y * nx + x;
        const double  fc = f[v];
        const double *trow = NULL;
        const int     interior = yin && x >= SM_MAXBALL_NR && x < nx - SM_MAXBALL_NR;
        int           keep     = 1, slot;
        int64_t       row;
        if (!(fc > 0.0)) continue;
        slot = maxball_cache_slot(fc);
        if (cache->key[slot] == fc)
          row = cache->val[slot];
        else {
          row              = maxball_table_row(t, fc * fc * (1.0 + SM_MAXBALL_SLACK));
          cache->key[slot] = fc;
          cache->val[slot] = row;
        }
        if (row >= 0) trow = t->T + SM_MAXBALL_NC * row;
        if (interior && allpl && trow) {
          /* the common case, one branch per group (faces, edges, corners): the outcome is the same OR */
          int pr = 0, k = 0;
          for (int gi = 0; gi < ngroup && !pr; gi++)
            for (; k < gend[gi]; k++) {
              const double fn = nbpl[k][yx + lin[k]];
              pr |= (fn >= fc) & (trow[cls[k]] <= fn * fn * (1.0 + SM_MAXBALL_SLACK));
            }
          if (!pr) PetscCall(maxball_append(c, nc, cap, fc, g->z_start * np + v));
          continue;
        }
        for (int k = 0; k < nnb; k++) {
          const double *p = pl[pz[k]];
          double        fn;
          if (!p) continue;
          if (interior)
            fn = p[yx + lin[k]];
          else {
            const int64_t xx = x + off[k][0], yy = y + off[k][1];
            if (xx < 0 || xx >= nx || yy < 0 || yy >= ny) continue;
            fn = p[yy * nx + xx];
          }
          if (!(fn >= fc)) continue;
          if (trow) {
            if (trow[cls[k]] <= fn * fn * (1.0 + SM_MAXBALL_SLACK)) {
              keep = 0;
              break;
            }
          } else if (fn <= fprune && fn >= fc + dist[k]) {
            keep = 0;
            break;
          }
        }
        if (keep) PetscCall(maxball_append(c, nc, cap, fc, g->z_start * np + v));
      }
    }
  }
  PetscCall(PetscFree(cache));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Painting works on runs along the "run axis" ra (x, or y for the disks normal to x, which would otherwise be runs of a
   single voxel) in rows indexed by z and the other in-plane axis oa. Row extents of the ball of one squared limit are
   tabulated per |dz| on demand: ye[dz] is the largest |do| of a row that the ball reaches in plane dz, w[dz (ext[oa] +
   1) + |do|] the half-width of that row along ra and, when every half-width fits, cm[...] the run as a bit mask
   centred on bit 32. Balls are painted by decreasing radius, so one table serves every centre of a radius in turn.
   The entries are exactly the rows and half-widths of the predicate maxball_inside: it is monotone in each offset
   (rounding is monotone), so the largest k <= ext[ra] inside is found by stepping down from the previous, wider row.
   With ra = y the x offset is exactly 0 and the sum dy^2 + (0 + dz^2) is the same number as 0 + (dy^2 + dz^2). */
typedef struct {
  int       ra, oa;    /* run axis and other in-plane axis */
  double    lim;       /* the squared limit tabulated, -1 before the first */
  int64_t   ext[3];    /* extents along the axes (maxball_extents) */
  int64_t  *ye, *w;    /* [ext[2] + 1], [(ext[2] + 1) (ext[oa] + 1)]; ye[dz] = -1 until plane dz is tabulated */
  uint64_t *cm;        /* like w; only when ext[ra] <= 31 */
} MaxBallRows;

static void maxball_rows_set(const SMGridInfo *g, int skip_axis, double lim, MaxBallRows *t)
{
  t->lim = lim;
  maxball_extents(g, skip_axis, lim, t->ext);
  for (int64_t dz = 0; dz <= t->ext[2]; dz++) t->ye[dz] = -1;
}

static inline const int64_t *maxball_rows_plane(const SMGridInfo *g, MaxBallRows *t, int64_t dz)
{
  const int64_t no = t->ext[t->oa] + 1;
  int64_t      *w = t->w + dz * no, k = t->ext[t->ra], d;
  uint64_t     *cm = t->cm + dz * no;
  const double  dzh = (double)dz * g->h[2], dz2 = dzh * dzh, lim = t->lim, ho = g->h[t->oa], hr = g->h[t->ra];

  if (t->ye[dz] >= 0) return w;
  for (d = 0; d < no; d++) {
    const double doh = (double)d * ho, dyz = doh * doh + dz2;
    if (!maxball_inside(0.0, dyz, lim)) break;
    while (k > 0 && !maxball_inside((double)k * hr, dyz, lim)) k--;
    w[d] = k;
    if (t->ext[t->ra] <= 31) cm[d] = ((((uint64_t)1 << (2 * k + 1)) - 1) << (32 - k));
  }
  t->ye[dz] = d - 1; /* >= 0: dz <= ext[2] puts the row d = 0 inside */
  return w;
}

/* Paint the balls of the sorted centres into this rank's slab (step 2). A bit per voxel marks the voxels still
   unpainted, so a run costs one word operation per 64 voxels plus one write per newly painted voxel: a voxel is
   written once, by the first (largest) ball that reaches it. Most balls of a distance map find their rows already
   painted; when the whole ball lies in one word of each row (it usually does), a plane is first tested with one
   AND per row against the tabulated masks and painted only if something is left. */
static PetscErrorCode maxball_paint(const SMGridInfo *g, int skip_axis, const MaxBallCentre *c, int64_t nc, double *P)
{
  const int     ra = skip_axis == 0 ? 1 : 0, oa = 1 - ra;
  const int64_t nx = g->n[0], np = g->n_plane, zs = g->z_start, ze = g->z_start + g->z_local;
  const int64_t nr = g->n[ra], no = g->n[oa], wpr = (nr + 63) / 64, nrows = g->z_local * no;
  const int64_t sr = ra == 0 ? 1 : nx, so = ra == 0 ? nx : 1; /* strides of P along ra and oa */
  uint64_t     *bits;
  MaxBallRows   t = {ra, oa, -1.0, {0, 0, 0}, NULL, NULL, NULL};

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nrows * wpr, &bits));
  for (int64_t z = 0; z < g->z_local; z++)
    for (int64_t w = 0; w < wpr; w++)
      for (int64_t o = 0; o < no; o++)
        bits[(z * wpr + w) * no + o] = nr - 64 * w >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << (nr - 64 * w)) - 1);
  for (int64_t i = 0; i < g->n_local; i++) P[i] = 0.0;
  if (nc > 0) { /* the first ball is the largest: its table size serves all */
    const double lim = c[0].f * c[0].f * (1.0 + SM_MAXBALL_SLACK);
    int64_t      ext[3], sz;
    maxball_extents(g, skip_axis, lim, ext);
    sz = (ext[2] + 1) * (ext[oa] + 1);
    PetscCall(PetscMalloc3(ext[2] + 1, &t.ye, sz, &t.w, sz, &t.cm));
  }
  for (int64_t k = 0; k < nc; k++) {
    const double  r = c[k].f, lim = r * r * (1.0 + SM_MAXBALL_SLACK);
    const int64_t zc = c[k].idx / np, yc = (c[k].idx % np) / nx, xc = c[k].idx % nx;
    const int64_t rc = ra == 0 ? xc : yc, oc = ra == 0 ? yc : xc;
    int64_t       z0, z1, er;
    int           fast;

    if (lim != t.lim) maxball_rows_set(g, skip_axis, lim, &t);
    er   = t.ext[ra];
    fast = er <= 31 && rc - er >= 0 && rc + er < nr && (rc - er) >> 6 == (rc + er) >> 6;
    z0   = PetscMax(zc - t.ext[2], zs);
    z1   = PetscMin(zc + t.ext[2], ze - 1);
    for (int64_t z = z0; z <= z1; z++) {
      const int64_t   dz = z >= zc ? z - zc : zc - z;
      const int64_t  *wz = maxball_rows_plane(g, &t, dz), eo = t.ye[dz];
      const int64_t   o0 = PetscMax(oc - eo, 0), o1 = PetscMin(oc + eo, no - 1);
      uint64_t *const bz = bits + (z - zs) * wpr * no;
      double *const   pz = P + (z - zs) * np;
      if (fast) {
        /* the run of row o covers bits s - w .. s + w of word iw; cm holds it centred on bit 32 */
        const int64_t   iw = rc >> 6, s = rc & 63;
        const uint64_t *cz = t.cm + dz * (t.ext[oa] + 1);
        uint64_t *const bw = bz + iw * no;
        uint64_t        any = 0;
        for (int64_t o = o0; o <= o1; o++) {
          const uint64_t cmo = cz[o >= oc ? o - oc : oc - o];
          any |= bw[o] & (s >= 32 ? cmo << (s - 32) : cmo >> (32 - s));
        }
        if (!any) continue;
        for (int64_t o = o0; o <= o1; o++) {
          const uint64_t cmo = cz[o >= oc ? o - oc : oc - o];
          uint64_t       m   = bw[o] & (s >= 32 ? cmo << (s - 32) : cmo >> (32 - s));
          if (!m) continue;
          bw[o] &= ~m;
          for (; m; m &= m - 1) pz[o * so + (64 * iw + __builtin_ctzll(m)) * sr] = r; /* GCC/Clang: lowest set bit */
        }
        continue;
      }
      for (int64_t o = o0; o <= o1; o++) {
        const int64_t w = wz[o >= oc ? o - oc : oc - o];
        const int64_t a = PetscMax(rc - w, 0), b = PetscMin(rc + w, nr - 1);
        for (int64_t iw = a >> 6; iw <= b >> 6; iw++) {
          uint64_t *const wr = bz + iw * no + o;
          uint64_t        m  = *wr;
          if (iw == a >> 6) m &= ~(uint64_t)0 << (a & 63);
          if (iw == b >> 6) m &= ~(uint64_t)0 >> (63 - (b & 63));
          if (!m) continue;
          *wr &= ~m;
          for (; m; m &= m - 1) pz[o * so + (64 * iw + __builtin_ctzll(m)) * sr] = r;
        }
      }
    }
  }
  PetscCall(PetscFree3(t.ye, t.w, t.cm));
  PetscCall(PetscFree(bits));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Key of a centre for the sort: for f > 0 the IEEE bit pattern orders like the value. */
static inline uint64_t maxball_key(const MaxBallCentre *c)
{
  uint64_t b;
  memcpy(&b, &c->f, sizeof b);
  return b;
}

/* In-place MSD radix sort ("American flag sort", McIlroy, Bostic & McIlroy, Computing Systems 6 (1993) 5) of the
   centres by decreasing f, one byte of the key per level from the top. Distance maps take few distinct values, so
   buckets of equal keys form after two or three levels and are recognised and left alone. The order among equal radii
   is unspecified; it does not matter since they paint the same value. */
static void maxball_sort_desc(MaxBallCentre *c, int64_t n, int shift)
{
  for (;;) {
    int64_t  cnt[256], next[256], end[256], i;
    uint64_t k0;
    int      full = -1;

    if (n < 2) return;
    if (n < 32) { /* insertion sort */
      for (int64_t a = 1; a < n; a++) {
        const MaxBallCentre e = c[a];
        int64_t             b = a;
        for (; b > 0 && c[b - 1].f < e.f; b--) c[b] = c[b - 1];
        c[b] = e;
      }
      return;
    }
    k0 = maxball_key(c);
    for (i = 1; i < n && maxball_key(c + i) == k0; i++) {}
    if (i == n) return; /* all equal (also ends the descent: keys that differ do so at or below shift) */
    memset(cnt, 0, sizeof cnt);
    for (i = 0; i < n; i++) cnt[255 - ((maxball_key(c + i) >> shift) & 255)]++;
    for (int b = 0; b < 256; b++)
      if (cnt[b] == n) full = b;
    if (full >= 0) { /* one bucket holds everything: go straight to the next byte */
      shift -= 8;
      continue;
    }
    next[0] = 0;
    for (int b = 0; b < 256; b++) {
      end[b] = next[b] + cnt[b];
      if (b < 255) next[b + 1] = end[b];
    }
    for (int b = 0; b < 256; b++)
      while (next[b] < end[b]) {
        MaxBallCentre e  = c[next[b]];
        int           eb = 255 - (int)((maxball_key(&e) >> shift) & 255);
        while (eb != b) {
          const MaxBallCentre tmp = c[next[eb]];
          c[next[eb]++]           = e;
          e                       = tmp;
          eb                      = 255 - (int)((maxball_key(&e) >> shift) & 255);
        }
        c[next[b]++] = e;
      }
    if (shift == 0) return;
    for (int b = 0; b < 256; b++) maxball_sort_desc(c + end[b] - cnt[b], cnt[b], shift - 8);
    return;
  }
}

static PetscErrorCode sm_morph_max_ball_private(SMGrid grid, const double *f, int skip_axis, double *P)
{
  SMGridInfo     g;
  MPI_Comm       comm;
  double        *below = NULL, *above = NULL;
  int            have_below = 0, have_above = 0;
  int64_t        nbad = 0, nrecv = 0, nown = 0, cap = 0;
  MaxBallCentre *sbuf = NULL, *rbuf = NULL;
  MPI_Datatype   centre_type;
  MaxBallTable   table;
  MaxBallCache  *cache;
  double         fmax = 0.0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  comm = sm_grid_comm(grid);
  PetscCheck(skip_axis >= -1 && skip_axis <= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "skip_axis must be -1 (3D balls) or 0, 1, 2 (disks in the slices normal to x, y, z); got %d", skip_axis);

  /* Refuse NaN and infinite radii before any allocation; the largest radius sizes the containment table. */
  for (int64_t i = 0; i < g.n_local; i++) {
    if (!isfinite(f[i]))
      nbad++;
    else if (f[i] > fmax)
      fmax = f[i];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nbad, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(nbad == 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "The radius map has %lld NaN or infinite values; an EDT of a phase without any other voxel is infinite "
             "(use SM_EDT_BORDER_OBSTACLE or a volume that contains both phases)",
             (long long)nbad);

  /* Step 1: ridge centres, in index order. */
  if (skip_axis != 2) {
    PetscCall(PetscMalloc2(g.n_plane, &below, g.n_plane, &above));
    PetscCall(maxball_ghost_planes(grid, &g, f, below, above, &have_below, &have_above));
  }
  PetscCall(maxball_table_build(&g, skip_axis, fmax, &table));
  PetscCall(maxball_mark_ridge(&g, f, below, above, have_below, have_above, skip_axis, &table, &rbuf, &nown, &cap));
  PetscCall(PetscFree2(below, above));
  PetscCall(PetscFree2(table.S, table.T));

  /* Step 3: send each ridge centre to every rank whose slab its ball reaches in z (sm_grid_exchange_records; the own
     centres are the own block, so the received array lists the centres by source rank as before). A ball below
     zroom(z) (see below) reaches no other slab and needs no extent. */
  nrecv = nown;
  if (g.size > 1) {
    int64_t       *count, *pos;
    MaxBallCentre *recv = NULL;
    PetscCall(PetscCalloc2(g.size, &count, g.size + 1, &pos));
    PetscCall(PetscMalloc1(1, &cache)); /* z extents per radius */
    maxball_cache_init(cache);
    count[g.rank] = nown;
    for (int pass = 0; pass < 2; pass++) {
      for (int64_t k = 0; k < nown; k++) {
        const MaxBallCentre cen = rbuf[k];
        const int64_t       z   = cen.idx / g.n_plane - g.z_start;
        /* the distance in planes from plane z to the nearest other slab is dz; the z extent of a ball (the largest k
           with (k hz)^2 <= f^2 (1 + slack)) is below dz when f < (dz - 1/2) hz, the half plane dwarfing the slack;
           2D disks in z slices never leave their plane */
        const int64_t dz = PetscMin(g.z_start > 0 ? z + 1 : INT64_MAX / 4,
                                    g.z_start + g.z_local < g.n[2] ? g.z_local - z : INT64_MAX / 4);
        int64_t       ez;
        PetscMPIInt   r0, r1;
        int           slot;
        if (pass == 1) sbuf[pos[g.rank]++] = cen;
        if (skip_axis == 2 || cen.f < ((double)dz - 0.5) * (double)g.h[2]) continue; /* stays here */
        slot = maxball_cache_slot(cen.f);
        if (cache->key[slot] == cen.f)
          ez = cache->val[slot];
        else {
          int64_t ext[3];
          maxball_extents(&g, skip_axis, cen.f * cen.f * (1.0 + SM_MAXBALL_SLACK), ext);
          ez               = ext[2];
          cache->key[slot] = cen.f;
          cache->val[slot] = ez;
        }
        PetscCall(sm_grid_plane_owner(grid, PetscMax(g.z_start + z - ez, 0), &r0));
        PetscCall(sm_grid_plane_owner(grid, PetscMin(g.z_start + z + ez, g.n[2] - 1), &r1));
        for (PetscMPIInt r = r0; r <= r1; r++) {
          if (r == g.rank) continue;
          if (pass == 0) count[r]++;
          else sbuf[pos[r]++] = cen;
        }
      }
      if (pass == 0) {
        pos[0] = 0;
        for (int r = 0; r < g.size; r++) pos[r + 1] = pos[r] + count[r];
        PetscCall(PetscMalloc1((size_t)pos[g.size] + 1, &sbuf));
      }
    }
    PetscCall(PetscFree(rbuf));
    PetscCallMPI(MPI_Type_contiguous((int)sizeof(MaxBallCentre), MPI_BYTE, &centre_type));
    PetscCallMPI(MPI_Type_commit(&centre_type));
    PetscCall(sm_grid_exchange_records(grid, centre_type, sizeof(MaxBallCentre), sbuf, count, (void **)&recv, &nrecv));
    PetscCallMPI(MPI_Type_free(&centre_type));
    rbuf = recv;
    PetscCall(PetscFree(sbuf));
    PetscCall(PetscFree2(count, pos));
    PetscCall(PetscFree(cache));
  }

  /* Step 2: largest balls first. */
  maxball_sort_desc(rbuf, nrecv, 56);
  PetscCall(maxball_paint(&g, skip_axis, rbuf, nrecv, P));
  PetscCall(PetscFree(rbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_max_ball(SMGrid grid, const double *f, int skip_axis, double *P)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_MaxBall, 0, 0, 0, 0));
  PetscCall(sm_morph_max_ball_private(grid, f, skip_axis, P));
  PetscCall(PetscLogEventEnd(SM_EVENT_MaxBall, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
