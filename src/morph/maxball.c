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
 *  2. The kept ("ridge") centres are sorted by decreasing f and their balls are painted in that order, writing only
 *     voxels not yet painted: the first ball to reach a voxel is its largest covering ball, so every voxel is
 *     written once, with the maximum. Ties in f are harmless: equal values are written. Each ball is scanned by
 *     (z, y) rows with the x-range from the predicate; a bit per voxel marks the unpainted voxels, so painted parts of
 *     a row are skipped 64 voxels at a time.
 *  3. Balls cross slab boundaries: every rank sends each of its ridge centres to all ranks whose slab the ball
 *     reaches in z (one MPI_Alltoallv of 16-byte records). The ridge test on the first and last local planes reads
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
 * 16 per positive voxel in the worst case of no pruning), a bit per voxel, two planes of f and a table of a few MB. */
#include <math.h>
#include <stdlib.h>
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

/* Rank that owns global plane z (slabs are contiguous and ordered by rank). */
static int maxball_owner(const int64_t *starts, int size, int64_t z)
{
  int lo = 0, hi = size - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (starts[mid] <= z)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The planes of f just below and above this rank's slab; have_below/have_above are 0 at the box faces. */
static PetscErrorCode maxball_ghost_planes(SMGrid grid, const SMGridInfo *g, const double *f, double *below,
                                           double *above, int *have_below, int *have_above)
{
  MPI_Comm    comm = sm_grid_comm(grid);
  PetscMPIInt up   = g->rank + 1 < g->size ? g->rank + 1 : MPI_PROC_NULL,
              down = g->rank > 0 ? g->rank - 1 : MPI_PROC_NULL;
  int count        = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_int64_to_int(g->n_plane, &count));
  /* first plane down, receive the plane above from rank + 1; then the last plane up, receive the plane below */
  PetscCallMPI(MPI_Sendrecv(f, count, MPI_DOUBLE, down, 41, above, count, MPI_DOUBLE, up, 41, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Sendrecv(f + (g->z_local - 1) * g->n_plane, count, MPI_DOUBLE, up, 42, below, count, MPI_DOUBLE,
                            down, 42, comm, MPI_STATUS_IGNORE));
  *have_below = down != MPI_PROC_NULL;
  *have_above = up != MPI_PROC_NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Extents in voxels of the ball of squared limit lim along each axis (0 along the skipped axis), clipped to the box. */
static inline void maxball_extents(const SMGridInfo *g, int skip_axis, double lim, int64_t ext[3])
{
  for (int d = 0; d < 3; d++) ext[d] = d == skip_axis ? 0 : maxball_half_width((double)g->h[d], 0.0, lim, g->n[d]);
}

static int maxball_compare_desc(const void *a, const void *b)
{
  const MaxBallCentre *p = (const MaxBallCentre *)a, *q = (const MaxBallCentre *)b;
  if (p->f != q->f) return p->f > q->f ? -1 : 1;
  return (p->idx > q->idx) - (p->idx < q->idx); /* a fixed order; the result does not depend on it */
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

/* Ridge test (step 1) for all local voxels: marks P[v] = 1 for kept centres, 0 otherwise. */
static PetscErrorCode maxball_mark_ridge(const SMGridInfo *g, const double *f, const double *below, const double *above,
                                         int have_below, int have_above, int skip_axis, const MaxBallTable *t,
                                         double *P)
{
  const int64_t nx = g->n[0], ny = g->n[1], np = g->n_plane;
  const double  hmin = PetscMin(PetscMin(g->h[0], g->h[1]), g->h[2]), fprune = SM_MAXBALL_PRUNE_MAX * hmin;
  int           off[SM_MAXBALL_NC * 8][3], cls[SM_MAXBALL_NC * 8], nnb = 0;
  double        dist[SM_MAXBALL_NC * 8];

  PetscFunctionBeginUser;
  /* nearest shell first: the 26-neighbours prune most centres, the outer shells the rest */
  for (int shell = 1; shell <= SM_MAXBALL_NR; shell++)
    for (int oz = -shell; oz <= shell; oz++)
      for (int oy = -shell; oy <= shell; oy++)
        for (int ox = -shell; ox <= shell; ox++) {
          const int o[3] = {ox, oy, oz};
          if (PetscMax(PetscMax(PetscAbs(ox), PetscAbs(oy)), PetscAbs(oz)) != shell) continue;
          if (skip_axis >= 0 && o[skip_axis] != 0) continue;
          for (int d = 0; d < 3; d++) off[nnb][d] = o[d];
          cls[nnb]  = PetscAbs(ox) + (SM_MAXBALL_NR + 1) * (PetscAbs(oy) + (SM_MAXBALL_NR + 1) * PetscAbs(oz));
          dist[nnb] = sqrt(maxball_d2(ox, oy, oz, g->h));
          nnb++;
        }
  for (int64_t z = 0; z < g->z_local; z++) {
    const double *pl[2 * SM_MAXBALL_NR + 1]; /* planes z - NR .. z + NR; NULL where not available (no pruning) */
    for (int o = -SM_MAXBALL_NR; o <= SM_MAXBALL_NR; o++) {
      const int64_t zz      = z + o;
      pl[o + SM_MAXBALL_NR] = zz >= 0 && zz < g->z_local       ? f + zz * np
                              : zz == -1 && have_below         ? below
                              : zz == g->z_local && have_above ? above
                                                               : NULL;
    }
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        const int64_t v  = (z * ny + y) * nx + x;
        const double  fc = f[v], limc = fc * fc * (1.0 + SM_MAXBALL_SLACK);
        const double *trow = NULL;
        int           keep = 1;
        P[v]               = 0.0;
        if (!(fc > 0.0)) continue;
        if (limc <= t->lim_tab) { /* the row of the largest S[k] <= limc */
          int64_t lo = 0, hi = t->ns - 1;
          while (lo < hi) {
            const int64_t mid = (lo + hi + 1) / 2;
            if (t->S[mid] <= limc)
              lo = mid;
            else
              hi = mid - 1;
          }
          trow = t->T + SM_MAXBALL_NC * lo;
        }
        for (int k = 0; k < nnb && keep; k++) {
          const int64_t xx = x + off[k][0], yy = y + off[k][1];
          const double *p = pl[off[k][2] + SM_MAXBALL_NR];
          double        fn;
          if (!p || xx < 0 || xx >= nx || yy < 0 || yy >= ny) continue;
          fn = p[yy * nx + xx];
          if (!(fn >= fc)) continue;
          if (trow) {
            if (trow[cls[k]] <= fn * fn * (1.0 + SM_MAXBALL_SLACK)) keep = 0;
          } else if (fn <= fprune && fn >= fc + dist[k])
            keep = 0;
        }
        if (keep) P[v] = 1.0;
      }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Paint the balls of the sorted centres into this rank's slab (step 2). A bit per voxel marks the voxels still
   unpainted, so a run of an x-row costs one word operation per 64 voxels plus one write per newly painted voxel: a
   voxel is written once, by the first (largest) ball that reaches it. */
static PetscErrorCode maxball_paint(const SMGridInfo *g, int skip_axis, const MaxBallCentre *c, int64_t nc, double *P)
{
  const int64_t nx = g->n[0], ny = g->n[1], np = g->n_plane, zs = g->z_start, ze = g->z_start + g->z_local;
  const int64_t wpr = (nx + 63) / 64, nrows = g->z_local * ny;
  const double  hx = g->h[0], hy = g->h[1], hz = g->h[2];
  uint64_t     *bits;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nrows * wpr, &bits));
  for (int64_t r = 0; r < nrows; r++)
    for (int64_t w = 0; w < wpr; w++)
      bits[r * wpr + w] = nx - 64 * w >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << (nx - 64 * w)) - 1);
  for (int64_t i = 0; i < g->n_local; i++) P[i] = 0.0;
  for (int64_t k = 0; k < nc; k++) {
    const double  r = c[k].f, lim = r * r * (1.0 + SM_MAXBALL_SLACK);
    const int64_t zc = c[k].idx / np, yc = (c[k].idx % np) / nx, xc = c[k].idx % nx;
    int64_t       ext[3], z0, z1, y0, y1;

    maxball_extents(g, skip_axis, lim, ext);
    z0 = PetscMax(zc - ext[2], zs);
    z1 = PetscMin(zc + ext[2], ze - 1);
    y0 = PetscMax(yc - ext[1], 0);
    y1 = PetscMin(yc + ext[1], ny - 1);
    for (int64_t z = z0; z <= z1; z++) {
      const double dz = (double)(z - zc) * hz, dz2 = dz * dz;
      for (int64_t y = y0; y <= y1; y++) {
        const double  dy = (double)(y - yc) * hy, dyz = dy * dy + dz2;
        const int64_t row  = (z - zs) * ny + y;
        uint64_t     *wr   = bits + row * wpr;
        double       *prow = P + row * nx;
        int64_t       w, a, b;
        if (!maxball_inside(0.0, dyz, lim)) continue;
        w = ext[0] ? maxball_half_width(hx, dyz, lim, ext[0]) : 0;
        a = PetscMax(xc - w, 0);
        b = PetscMin(xc + w, nx - 1);
        for (int64_t iw = a >> 6; iw <= b >> 6; iw++) {
          uint64_t m = wr[iw];
          if (iw == a >> 6) m &= ~(uint64_t)0 << (a & 63);
          if (iw == b >> 6 && (b & 63) != 63) m &= ((uint64_t)1 << ((b & 63) + 1)) - 1;
          if (!m) continue;
          wr[iw] &= ~m;
          for (; m; m &= m - 1) prow[64 * iw + __builtin_ctzll(m)] = r; /* GCC/Clang: index of the lowest set bit */
        }
      }
    }
  }
  PetscCall(PetscFree(bits));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_max_ball_private(SMGrid grid, const double *f, int skip_axis, double *P)
{
  SMGridInfo     g;
  MPI_Comm       comm;
  const int64_t *starts;
  double        *below = NULL, *above = NULL;
  int            have_below = 0, have_above = 0, *scount, *sdispl, *rcount, *rdispl, total;
  int64_t        nbad = 0, *scount64, nsend = 0, nrecv = 0, *fill;
  MaxBallCentre *sbuf = NULL, *rbuf = NULL;
  MPI_Datatype   centre_type;
  MaxBallTable   table;
  double         fmax = 0.0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  comm = sm_grid_comm(grid);
  PetscCheck(skip_axis >= -1 && skip_axis <= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "skip_axis must be -1 (3D balls) or 0, 1, 2 (disks in the slices normal to x, y, z); got %d", skip_axis);
  PetscCall(sm_grid_get_slabs(grid, &starts, NULL));

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

  /* Step 1: ridge centres, marked in P (the output doubles as scratch until painting). */
  if (skip_axis != 2) {
    PetscCall(PetscMalloc2(g.n_plane, &below, g.n_plane, &above));
    PetscCall(maxball_ghost_planes(grid, &g, f, below, above, &have_below, &have_above));
  }
  PetscCall(maxball_table_build(&g, skip_axis, fmax, &table));
  PetscCall(maxball_mark_ridge(&g, f, below, above, have_below, have_above, skip_axis, &table, P));
  PetscCall(PetscFree2(below, above));
  PetscCall(PetscFree2(table.S, table.T));

  /* Step 3: send each ridge centre to every rank whose slab its ball reaches in z. Counts first, then the records
     go straight into their places: this rank's own centres directly into the receive buffer. */
  PetscCall(PetscCalloc4(g.size, &scount, g.size, &sdispl, g.size, &rcount, g.size, &rdispl));
  PetscCall(PetscCalloc2(g.size, &scount64, g.size, &fill));
  for (int pass = 0; pass < 2; pass++) {
    for (int64_t z = 0; z < g.z_local; z++) {
      for (int64_t i = z * g.n_plane; i < (z + 1) * g.n_plane; i++) {
        MaxBallCentre cen;
        int64_t       ext[3];
        int           r0, r1;
        if (P[i] == 0.0) continue;
        cen.f   = f[i];
        cen.idx = g.z_start * g.n_plane + i;
        maxball_extents(&g, skip_axis, cen.f * cen.f * (1.0 + SM_MAXBALL_SLACK), ext);
        r0 = maxball_owner(starts, g.size, PetscMax(g.z_start + z - ext[2], 0));
        r1 = maxball_owner(starts, g.size, PetscMin(g.z_start + z + ext[2], g.n[2] - 1));
        for (int r = r0; r <= r1; r++) {
          if (pass == 0)
            scount64[r]++;
          else if (r == g.rank)
            rbuf[rdispl[r] + fill[r]++] = cen;
          else
            sbuf[sdispl[r] + fill[r]++] = cen;
        }
      }
    }
    if (pass == 0) {
      for (int r = 0; r < g.size; r++) PetscCall(sm_int64_to_int(scount64[r], &scount[r]));
      PetscCallMPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm));
      for (int r = 0; r < g.size; r++) {
        PetscCall(sm_int64_to_int(nsend, &sdispl[r]));
        PetscCall(sm_int64_to_int(nrecv, &rdispl[r]));
        if (r != g.rank) nsend += scount[r];
        nrecv += rcount[r];
      }
      PetscCall(sm_int64_to_int(nrecv, &total)); /* Alltoallv counts in ints: the totals must fit as well */
      PetscCall(sm_int64_to_int(nsend, &total));
      PetscCall(PetscMalloc1(nsend, &sbuf));
      PetscCall(PetscMalloc1(nrecv, &rbuf));
    }
  }
  /* The own block is already in place; MPI must neither send nor receive it. */
  scount[g.rank] = 0;
  rcount[g.rank] = 0;
  PetscCallMPI(MPI_Type_contiguous((int)sizeof(MaxBallCentre), MPI_BYTE, &centre_type));
  PetscCallMPI(MPI_Type_commit(&centre_type));
  PetscCallMPI(MPI_Alltoallv(sbuf, scount, sdispl, centre_type, rbuf, rcount, rdispl, centre_type, comm));
  PetscCallMPI(MPI_Type_free(&centre_type));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscCall(PetscFree2(scount64, fill));

  /* Step 2: largest balls first. */
  qsort(rbuf, (size_t)nrecv, sizeof(MaxBallCentre), maxball_compare_desc);
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
