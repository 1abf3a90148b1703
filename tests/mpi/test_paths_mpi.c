/* Geodesic distance, bottleneck map and geodesic tortuosity on the 6-, 18- and 26-neighbourhoods (SPEC 5), run at 1, 2
 * and 3 ranks. Truths: a serial Bellman-Ford iteration on the whole volume (every rank regenerates the global volume
 * from a hash of the global voxel index, so no gather is needed), a different algorithm from the kernel's slab-wise
 * Dijkstra; and hand-computed channels (straight, zig-zag staircases joined through an edge, through a corner or
 * through faces only, a wall, a neck), whose answers differ between the three connectivities. Bitwise comparisons with
 * the reference are intended: both compute the unique fixed point d[v] = min_u fl(d[u] + w(u, v)), i.e. the minimum
 * over paths of their left-to-right floating-point sums, with the same step lengths sqrt((dx hx)^2 + (dy hy)^2 + (dz
 * hz)^2); max-min is exact. Hand formulas sum the steps in a different order, hence 1e-12 relative there (paths of <
 * 100 steps, each sum rounding at most 2^-53 relative). */
#include <stochmorph/morph.h>
#include <string.h>
#include "smtest.h"

static double hash01(uint64_t seed, int64_t x, int64_t y, int64_t z)
{
  uint64_t k = (uint64_t)(x + 4096 * y + 16777216 * z) * 0x9e3779b97f4a7c15ULL + seed * 0xd1b54a32d192ed03ULL;
  k ^= k >> 31;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 29;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 32;
  return (double)(k >> 11) / 9007199254740992.0;
}

static double step_len(const PetscReal h[3], int dx, int dy, int dz)
{
  double a = dx * (double)h[0], b = dy * (double)h[1], c = dz * (double)h[2];
  return sqrt(a * a + b * b + c * c);
}

static int on_plane(const int64_t n[3], int axis, int side, int64_t x, int64_t y, int64_t z)
{
  const int64_t c[3] = {x, y, z};
  return c[axis] == (side ? n[axis] - 1 : 0);
}

/* Serial references by Bellman-Ford sweeps (alternating direction) until nothing changes, over the neighbours with at
   most 1 (conn 6), 2 (conn 18) or 3 (conn 26) nonzero offsets.
   kind 0: geodesic inside {gm != 0}, INFINITY unreachable; kind 1: bottleneck of gf, 0 unreachable. */
static void reference_map(int kind, int conn, const int64_t n[3], const PetscReal h[3], const uint8_t *gm,
                          const double *gf, int axis, int side, double *out)
{
  const int     reach   = conn == 6 ? 1 : (conn == 18 ? 2 : 3);
  const int64_t N       = n[0] * n[1] * n[2];
  int           changed = 1, sweep = 0;
  for (int64_t v = 0; v < N; v++) {
    int64_t x = v % n[0], y = (v / n[0]) % n[1], z = v / (n[0] * n[1]);
    if (kind == 0)
      out[v] = (gm[v] && on_plane(n, axis, side, x, y, z)) ? 0.0 : INFINITY;
    else
      out[v] = (gf[v] > 0.0 && on_plane(n, axis, side, x, y, z)) ? gf[v] : 0.0;
  }
  while (changed) {
    changed = 0;
    for (int64_t i = 0; i < N; i++) {
      int64_t v = (sweep & 1) ? N - 1 - i : i, x = v % n[0], y = (v / n[0]) % n[1], z = v / (n[0] * n[1]);
      if (kind == 0 ? !gm[v] : !(gf[v] > 0.0)) continue;
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int64_t xx = x + dx, yy = y + dy, zz = z + dz, u;
            if ((!dx && !dy && !dz) || (dx != 0) + (dy != 0) + (dz != 0) > reach || xx < 0 || yy < 0 || zz < 0 ||
                xx >= n[0] || yy >= n[1] || zz >= n[2])
              continue;
            u = (zz * n[1] + yy) * n[0] + xx;
            if (kind == 0) {
              double cand = out[u] + step_len(h, dx, dy, dz);
              if (gm[u] && cand < out[v]) out[v] = cand, changed = 1;
            } else {
              double cand = out[u] < gf[v] ? out[u] : gf[v];
              if (cand > out[v]) out[v] = cand, changed = 1;
            }
          }
    }
    sweep++;
  }
}

typedef struct {
  SMGrid     grid;
  SMGridInfo info;
  uint8_t   *gm, *mask; /* global and local mask */
  double    *gf, *f;    /* global and local bottleneck function */
  double    *out, *ref;
} Case;

/* A grid with a global mask/function from the callbacks; local slabs copied out of the global arrays. */
static PetscErrorCode case_create(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], void *ctx,
                                  void (*fill)(void *, const int64_t n[3], int64_t, int64_t, int64_t, uint8_t *,
                                               double *),
                                  Case *c)
{
  int64_t N = n[0] * n[1] * n[2];

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &c->grid));
  PetscCall(sm_grid_get_info(c->grid, &c->info));
  PetscCall(PetscMalloc6(N, &c->gm, N, &c->gf, N, &c->ref, c->info.n_local, &c->mask, c->info.n_local, &c->f,
                         c->info.n_local, &c->out));
  for (int64_t z = 0; z < n[2]; z++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < n[0]; x++) {
        int64_t v = (z * n[1] + y) * n[0] + x;
        fill(ctx, n, x, y, z, &c->gm[v], &c->gf[v]);
      }
  memcpy(c->mask, c->gm + c->info.z_start * c->info.n_plane, (size_t)c->info.n_local);
  memcpy(c->f, c->gf + c->info.z_start * c->info.n_plane, (size_t)c->info.n_local * sizeof(double));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode case_destroy(Case *c)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree6(c->gm, c->gf, c->ref, c->mask, c->f, c->out));
  PetscCall(sm_grid_destroy(&c->grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Random set with probability p; f in {1/8, ..., 8/8} on the set (many exact ties), -0.5 or 0 off it. */
typedef struct {
  uint64_t seed;
  double   p;
} RandomFill;

static void fill_random(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  RandomFill *r = (RandomFill *)ctx;
  (void)n;
  *m = hash01(r->seed, x, y, z) < r->p;
  *f = *m ? (1 + (int)(8 * hash01(r->seed + 7, x, y, z))) / 8.0 : ((x + y + z) % 2 ? -0.5 : 0.0);
}

static PetscErrorCode check_random(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], uint64_t seed, int conn)
{
  RandomFill r = {seed, 0.6};
  Case       c;
  int64_t    off;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, &r, fill_random, &c));
  off = c.info.z_start * c.info.n_plane;
  for (int axis = 0; axis < 3; axis++)
    for (int side = 0; side < 2; side++) {
      int64_t bad = 0, finite = 0;
      PetscCall(sm_morph_geodesic_distance(c.grid, c.mask, conn, axis, side, c.out));
      reference_map(0, conn, n, h, c.gm, NULL, axis, side, c.ref);
      for (int64_t v = 0; v < c.info.n_local; v++) {
        if (c.out[v] != c.ref[off + v]) bad++;
        if (isfinite(c.out[v])) finite++;
      }
      SM_TEST_TRUE(bad == 0,
                   "geodesic %lldx%lldx%lld %d-conn axis %d side %d: %lld voxels differ from serial "
                   "Bellman-Ford",
                   (long long)n[0], (long long)n[1], (long long)n[2], conn, axis, side, (long long)bad);
      SM_TEST_TRUE(finite > 0 || c.info.n_local == 0, "geodesic map reaches some voxels");
      {
        /* Tortuosity from the start plane `side`: distances from the opposite side, reference mean in long double. */
        long double sum = 0;
        int64_t     cnt = 0, ns, hist[4], hsum = 0;
        double      tau, straight = (double)(n[axis] - 1) * (double)h[axis];
        reference_map(0, conn, n, h, c.gm, NULL, axis, 1 - side, c.ref);
        for (int64_t v = 0; v < n[0] * n[1] * n[2]; v++) {
          int64_t x = v % n[0], y = (v / n[0]) % n[1], z = v / (n[0] * n[1]);
          if (c.gm[v] && on_plane(n, axis, side, x, y, z) && isfinite(c.ref[v])) {
            sum += c.ref[v] / straight;
            cnt++;
          }
        }
        PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, axis, side, &tau, &ns, 4, 0.1, hist));
        for (int b = 0; b < 4; b++) hsum += hist[b];
        SM_TEST_TRUE(ns == cnt, "tortuosity start voxels %lld, reference %lld", (long long)ns, (long long)cnt);
        SM_TEST_TRUE(hsum == cnt, "histogram holds every start voxel (%lld of %lld)", (long long)hsum, (long long)cnt);
        /* 2^-41 rounding of each ratio's fraction in the reproducible sum: well below 1e-12 */
        if (cnt)
          SM_TEST_REL(tau, (double)(sum / cnt), 1e-12, "tortuosity mean vs serial reference");
        else
          SM_TEST_TRUE(isnan(tau), "no start voxel: tau is NaN");
      }
      bad = 0;
      PetscCall(sm_morph_bottleneck_map(c.grid, c.f, conn, axis, side, c.out));
      reference_map(1, conn, n, h, NULL, c.gf, axis, side, c.ref);
      for (int64_t v = 0; v < c.info.n_local; v++)
        if (c.out[v] != c.ref[off + v]) bad++;
      SM_TEST_TRUE(bad == 0,
                   "bottleneck %lldx%lldx%lld %d-conn axis %d side %d: %lld voxels differ from serial "
                   "reference",
                   (long long)n[0], (long long)n[1], (long long)n[2], conn, axis, side, (long long)bad);
    }
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Straight column at (2, 1) along z plus a disc of radius 2.5 around (6, 6) (a cylinder). */
static void fill_straight(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  (void)ctx;
  (void)n;
  (void)z;
  *m = (x == 2 && y == 1) || ((x - 6) * (x - 6) + (y - 6) * (y - 6) <= 6);
  *f = *m;
}

static PetscErrorCode check_straight(MPI_Comm comm, int conn)
{
  /* dyadic voxel sizes: every partial sum of h_z is exact, so the distances and tau = 1 are exact */
  const int64_t   n[3] = {10, 10, 12};
  const PetscReal h[3] = {0.5, 0.75, 0.25};
  Case            c;
  int64_t         ns, hist[3], disc = 0, bad = 0;
  double          tau;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, NULL, fill_straight, &c));
  for (int64_t y = 0; y < n[1]; y++)
    for (int64_t x = 0; x < n[0]; x++) disc += c.gm[y * n[0] + x];
  for (int side = 0; side < 2; side++) {
    PetscCall(sm_morph_geodesic_distance(c.grid, c.mask, conn, 2, side, c.out));
    for (int64_t v = 0; v < c.info.n_local; v++) {
      int64_t z = c.info.z_start + v / c.info.n_plane;
      double  e = c.mask[v] ? (side ? n[2] - 1 - z : z) * 0.25 : INFINITY;
      if (c.out[v] != e) bad++;
    }
    SM_TEST_TRUE(bad == 0, "straight channel %d-conn side %d: distance == |z - z0| h_z exactly (%lld voxels differ)",
                 conn, side, (long long)bad);
    PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, 2, side, &tau, &ns, 3, 0.5, hist));
    SM_TEST_TRUE(tau == 1.0, "straight cylinder tau == 1 exactly (got %.17g)", tau);
    SM_TEST_TRUE(ns == disc && hist[0] == disc && hist[1] == 0 && hist[2] == 0, "straight cylinder: %lld start voxels",
                 (long long)ns);
  }
  /* Along x the column and the cylinder touch neither x face: nothing is reachable, no start voxel. */
  PetscCall(sm_morph_geodesic_distance(c.grid, c.mask, conn, 0, 0, c.out));
  bad = 0;
  for (int64_t v = 0; v < c.info.n_local; v++)
    if (!isinf(c.out[v])) bad++;
  SM_TEST_TRUE(bad == 0, "no path from the x face: all INFINITY");
  PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, 0, 1, &tau, &ns, 0, 0.0, NULL));
  SM_TEST_TRUE(isnan(tau) && ns == 0, "no connection along x: tau NaN, nstart 0");
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Staircase: runs of L voxels along x, run k at z = k (and y = k when diag, else y = 1), run k+1 starting one x past
   the end of run k. Consecutive runs touch only through one step (1, 0, 1) (an edge: joined under 18- and
   26-connectivity) or (1, 1, 1) (a corner: joined under 26 only). */
typedef struct {
  int L, diag;
} Stair;

static void fill_stair(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  Stair *s = (Stair *)ctx;
  (void)n;
  *m = (x >= z * s->L && x < (z + 1) * s->L && y == (s->diag ? z : 1));
  *f = *m;
}

static PetscErrorCode check_stair(MPI_Comm comm, int diag, int conn)
{
  const int       L = 3, K = 7;
  const int64_t   n[3]   = {L * K, diag ? K : 3, K};
  const PetscReal h[3]   = {0.7, 1.1, 1.3};
  const double    d      = step_len(h, 1, diag, 1);
  const int       joined = diag ? conn == 26 : conn >= 18;
  Stair           s      = {L, diag};
  Case            c;
  double          tau, hand, straight = (K - 1) * 1.3, width = 0.25;
  int64_t         ns, hist[8], ehist[8] = {0};

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, &s, fill_stair, &c));
  for (int side = 0; side < 2; side++) {
    double  maxrel = 0.0;
    int64_t bad    = 0;
    PetscCall(sm_morph_geodesic_distance(c.grid, c.mask, conn, 2, side, c.out));
    for (int64_t v = 0; v < c.info.n_local; v++) {
      int64_t z = c.info.z_start + v / c.info.n_plane, x = v % n[0], j = x - z * L;
      double  e;
      if (!c.mask[v]) {
        SM_TEST_TRUE(isinf(c.out[v]), "off the staircase: INFINITY");
        continue;
      }
      /* side 0: runs 0 .. k-1 end to end, the diagonal into run k, j steps along it; side 1: mirror image. Runs that
         are not joined: only the source run is reached, along x. */
      if (!joined && z != (side ? K - 1 : 0)) {
        bad += !isinf(c.out[v]);
        continue;
      }
      if (side == 0)
        e = z == 0 ? (joined ? 0.0 : j * h[0]) : z * d + (z - 1) * (L - 1) * h[0] + j * h[0];
      else
        e = z == K - 1 ? (joined ? 0.0 : (L - 1 - j) * h[0])
                       : (K - 1 - z) * d + (K - 2 - z) * (L - 1) * h[0] + (L - 1 - j) * h[0];
      if (!joined) e = 0.0; /* the whole source run lies in the source plane */
      if (e > 0)
        maxrel = PetscMax(maxrel, fabs(c.out[v] - e) / e);
      else
        SM_TEST_TRUE(c.out[v] == 0.0, "source plane distance 0");
    }
    SM_TEST_TRUE(maxrel <= 1e-12, "staircase (diag %d, %d-conn) side %d: distances match the hand sums (max rel %.3g)",
                 diag, conn, side, maxrel);
    SM_TEST_TRUE(bad == 0, "staircase (diag %d, %d-conn) side %d: runs not joined must be unreachable (%lld reached)",
                 diag, conn, side, (long long)bad);
    /* bottleneck of f = 1 on the staircase: 1 wherever the source plane reaches, 0 elsewhere */
    bad = 0;
    PetscCall(sm_morph_bottleneck_map(c.grid, c.f, conn, 2, side, c.out));
    for (int64_t v = 0; v < c.info.n_local; v++) {
      int64_t z = c.info.z_start + v / c.info.n_plane;
      double  e = c.mask[v] && (joined || z == (side ? K - 1 : 0)) ? 1.0 : 0.0;
      bad += c.out[v] != e;
    }
    SM_TEST_TRUE(bad == 0,
                 "staircase (diag %d, %d-conn) side %d: bottleneck 1 exactly on the reached runs (%lld differ)", diag,
                 conn, side, (long long)bad);
  }
  /* Start run: the j-th voxel walks L-1-j (side 0) or j (side 1) steps, then K-1 diagonals and K-2 full runs. */
  hand = 0.0;
  for (int j = 0; j < L; j++) {
    double r = ((L - 1 - j) * h[0] + (K - 1) * d + (K - 2) * (L - 1) * h[0]) / straight;
    hand += r / L;
    ehist[PetscMin(7, (int)floor((r - 1.0) / width))]++;
  }
  if (!joined) PetscCall(PetscArrayzero(ehist, 8));
  for (int side = 0; side < 2; side++) {
    PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, 2, side, &tau, &ns, 8, width, hist));
    if (joined) {
      SM_TEST_REL(tau, hand, 1e-12, "staircase tortuosity vs hand value");
      SM_TEST_TRUE(ns == L, "staircase: %d start voxels (got %lld)", L, (long long)ns);
    } else
      SM_TEST_TRUE(isnan(tau) && ns == 0,
                   "staircase (diag %d, %d-conn): not joined, tau NaN and no start voxel (got "
                   "%g, %lld)",
                   diag, conn, tau, (long long)ns);
    SM_TEST_TRUE(!memcmp(hist, ehist, sizeof(hist)), "staircase path-length histogram");
  }
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A staircase joined through faces only, in the plane y = 1 of a box 3 voxels thick in y: {x = z or x = z + 1}, z = 0
   .. K-1. Start voxels of the plane z = 0: (0, 0) and (1, 0); end plane z = K-1: x = K-1 and K. By hand:
   6-connectivity alternates x and z steps: from (0, 0) K-1 of each, (K-1)(hx + hz); from (1, 0) one x step fewer,
   (K-1) hz + (K-2) hx. 18: face diagonals s = sqrt(hx^2 + hz^2) (s < hx + hz): from (0, 0) K-1 of them; from (1, 0)
   one z step (x = z + 1 -> x = z) and K-2 diagonals (a diagonal costs more than a z step, and every step advances z by
   at most one). 26: the same as 18 (a body diagonal leaves the plane y = 1, hence the set). The mirror image
   x -> K - x, z -> K-1 - z maps the set onto itself, so both orientations give the same tau. */
static void fill_face_stair(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  (void)ctx;
  (void)n;
  *m = y == 1 && (x == z || x == z + 1);
  *f = *m;
}

static PetscErrorCode check_face_stair(MPI_Comm comm, int conn)
{
  const int       K    = 9;
  const int64_t   n[3] = {K + 1, 3, K};
  const PetscReal h[3] = {0.7, 1.1, 1.3};
  const double    s = step_len(h, 1, 0, 1), straight = (K - 1) * h[2];
  Case            c;
  double          tau, hand;
  int64_t         ns;

  PetscFunctionBeginUser;
  if (conn == 6)
    hand = ((K - 1) * (h[0] + h[2]) + (K - 1) * h[2] + (K - 2) * h[0]) / (2 * straight);
  else
    hand = ((K - 1) * s + h[2] + (K - 2) * s) / (2 * straight);
  PetscCall(case_create(comm, n, h, NULL, fill_face_stair, &c));
  for (int side = 0; side < 2; side++) {
    PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, 2, side, &tau, &ns, 0, 0.0, NULL));
    char what[96];
    PetscCall(PetscSNPrintf(what, sizeof what, "face-joined staircase, %d-conn, side %d: tortuosity vs hand value",
                            conn, side));
    SM_TEST_REL(tau, hand, 1e-12, what);
    SM_TEST_TRUE(ns == 2, "face-joined staircase, %d-conn: 2 start voxels (got %lld)", conn, (long long)ns);
  }
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void fill_wall(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f);

/* Refused neighbourhoods. */
static PetscErrorCode test_bad_connectivity(MPI_Comm comm)
{
  const int64_t   n[3] = {4, 4, 4};
  const PetscReal h[3] = {1, 1, 1};
  Case            c;
  double          tau;
  int64_t         ns;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, NULL, fill_wall, &c));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  SM_TEST_TRUE(sm_morph_geodesic_distance(c.grid, c.mask, 7, 0, 0, c.out) != PETSC_SUCCESS, "connectivity 7 refused");
  SM_TEST_TRUE(sm_morph_bottleneck_map(c.grid, c.f, 8, 2, 0, c.out) != PETSC_SUCCESS, "connectivity 8 refused");
  SM_TEST_TRUE(sm_morph_geodesic_tortuosity(c.grid, c.mask, 0, 2, 0, &tau, &ns, 0, 0.0, NULL) != PETSC_SUCCESS,
               "connectivity 0 refused");
  PetscCall(PetscPopErrorHandler());
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Full box but an empty wall at z = 5: nothing beyond the wall is reachable from z = 0. */
static void fill_wall(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  (void)ctx;
  (void)n;
  (void)x;
  (void)y;
  *m = z != 5;
  *f = *m ? 1.0 : 0.0;
}

static PetscErrorCode check_wall(MPI_Comm comm, int conn)
{
  const int64_t   n[3] = {4, 5, 9};
  const PetscReal h[3] = {0.5, 0.5, 0.125};
  Case            c;
  int64_t         bad = 0, ns, hist[2];
  double          tau;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, NULL, fill_wall, &c));
  PetscCall(sm_morph_geodesic_distance(c.grid, c.mask, conn, 2, 0, c.out));
  for (int64_t v = 0; v < c.info.n_local; v++) {
    int64_t z = c.info.z_start + v / c.info.n_plane;
    /* below the wall the straight path is the shortest (every step advances z by at most one h_z) */
    if (c.out[v] != (z < 5 ? z * 0.125 : INFINITY)) bad++;
  }
  SM_TEST_TRUE(bad == 0, "wall: distance z h_z below, INFINITY on and beyond the wall (%lld differ)", (long long)bad);
  PetscCall(sm_morph_bottleneck_map(c.grid, c.f, conn, 2, 1, c.out));
  bad = 0;
  for (int64_t v = 0; v < c.info.n_local; v++) {
    int64_t z = c.info.z_start + v / c.info.n_plane;
    if (c.out[v] != (z > 5 ? 1.0 : 0.0)) bad++;
  }
  SM_TEST_TRUE(bad == 0, "wall: bottleneck from z = n-1 is 1 beyond the wall, 0 elsewhere (%lld differ)",
               (long long)bad);
  hist[0] = hist[1] = -1;
  PetscCall(sm_morph_geodesic_tortuosity(c.grid, c.mask, conn, 2, 0, &tau, &ns, 2, 1.0, hist));
  SM_TEST_TRUE(isnan(tau) && ns == 0 && hist[0] == 0 && hist[1] == 0, "wall: no connection, tau NaN, empty histogram");
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A 3x3 channel along z with f = 2, a neck plane z = 6 where f = 0.2 except 0.5 in the centre, -1 outside. */
static void fill_neck(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  int in = x >= 1 && x <= 3 && y >= 1 && y <= 3;
  (void)ctx;
  (void)n;
  *m = (uint8_t)in;
  *f = !in ? -1.0 : (z != 6 ? 2.0 : (x == 2 && y == 2 ? 0.5 : 0.2));
}

static PetscErrorCode check_neck(MPI_Comm comm, int conn)
{
  const int64_t   n[3] = {5, 5, 12};
  const PetscReal h[3] = {1, 1, 1};
  Case            c;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, NULL, fill_neck, &c));
  for (int side = 0; side < 2; side++) {
    int64_t bad = 0;
    PetscCall(sm_morph_bottleneck_map(c.grid, c.f, conn, 2, side, c.out));
    for (int64_t v = 0; v < c.info.n_local; v++) {
      int64_t z = c.info.z_start + v / c.info.n_plane;
      double  e = c.f[v] <= 0 ? 0.0 : (z == 6 ? c.f[v] : ((z < 6) == (side == 0) ? 2.0 : 0.5));
      if (c.out[v] != e) bad++;
    }
    SM_TEST_TRUE(bad == 0,
                 "neck %d-conn side %d: upstream 2, neck voxels their own f, downstream the widest neck value 0.5 "
                 "(%lld differ)",
                 conn, side, (long long)bad);
  }
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Many distinct values: f uniform in (0, 1) on the set (every value distinct; ctx != NULL: rounded to 1/1000), with a
   few +INFINITY and NaN voxels (NaN is not in the set). Distinct: more values than a slab's key table holds at 1 rank
   (the sampled table, buckets mixing keys), more than the packed 16-bit ranks hold globally at 2 and 3 ranks (the
   double-valued search with ghost values added to the table); rounded: the packed search. The bitwise comparison with
   the serial reference holds whichever queue runs. */
static void fill_distinct(void *ctx, const int64_t n[3], int64_t x, int64_t y, int64_t z, uint8_t *m, double *f)
{
  const double r = hash01(11, x, y, z), g = hash01(12, x, y, z);
  (void)n;
  *m = r < 0.75;
  *f = !*m ? -r : (r < 0.002 ? INFINITY : (r < 0.004 ? NAN : (ctx ? ceil(1000 * g) / 1000 : g)));
}

static PetscErrorCode check_distinct(MPI_Comm comm, int rounded, int conn)
{
  const int64_t   n[3]   = {48, 46, 44};
  const PetscReal h[3]   = {1, 1, 1};
  static int      marker = 1; /* any non-NULL context selects the rounded values */
  Case            c;
  int64_t         off;

  PetscFunctionBeginUser;
  PetscCall(case_create(comm, n, h, rounded ? &marker : NULL, fill_distinct, &c));
  off = c.info.z_start * c.info.n_plane;
  for (int axis = 0; axis < 3; axis += 2) {
    int64_t bad = 0;
    PetscCall(sm_morph_bottleneck_map(c.grid, c.f, conn, axis, axis / 2, c.out));
    reference_map(1, conn, n, h, NULL, c.gf, axis, axis / 2, c.ref);
    for (int64_t v = 0; v < c.info.n_local; v++)
      if (memcmp(&c.out[v], &c.ref[off + v], sizeof(double))) bad++;
    SM_TEST_TRUE(bad == 0, "bottleneck with %s values, %d-conn, axis %d: %lld voxels differ from serial reference",
                 rounded ? "rounded" : "distinct", conn, axis, (long long)bad);
  }
  PetscCall(case_destroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_random(MPI_Comm comm)
{
  const PetscReal ha[3] = {0.7, 1.1, 1.3}, h1[3] = {1, 1, 1};
  const int64_t   n1[3] = {9, 8, 7}, n2[3] = {12, 10, 13}, n3[3] = {5, 6, 16}, n4[3] = {7, 9, 3};

  PetscFunctionBeginUser;
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) {
    PetscCall(check_random(comm, n1, ha, 1, conn));
    PetscCall(check_random(comm, n2, ha, 2, conn));
    PetscCall(check_random(comm, n3, h1, 3, conn)); /* isotropic: many equal-length paths */
    PetscCall(check_random(comm, n4, ha, 4, conn)); /* one plane per rank at 3 ranks */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* z maps on more than one rank run on a grid with y and z swapped: with these sizes the body-diagonal step length
   depends on the order of its three squares (fl(a^2 + b^2 + c^2) != fl(a^2 + c^2 + b^2)), so the swapped grid must sum
   them in the physical order to match the reference bitwise */
static PetscErrorCode test_swapped(MPI_Comm comm)
{
  const PetscReal hs[3] = {0.3, 0.5, 0.7}, ha[3] = {0.7, 1.1, 1.3};
  const int64_t   n5[3] = {8, 7, 9}, n6[3] = {6, 2, 7}, n7[3] = {5, 4, 8};

  PetscFunctionBeginUser;
  PetscCall(check_random(comm, n5, hs, 5, 26));
  PetscCall(check_random(comm, n5, hs, 5, 18)); /* the swapped grid keeps the face diagonals of the physical one */
  PetscCall(check_random(comm, n6, ha, 6, 26)); /* ny < ranks at 3 ranks: no y split, the z maps stay on the z-slabs */
  /* ny = 4 at 3 ranks: FFTW's y blocks 2, 2, 0 would leave a rank empty */
  PetscCall(check_random(comm, n7, hs, 7, 26));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_straight(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) PetscCall(check_straight(comm, conn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_stairs(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) {
    PetscCall(check_stair(comm, 0, conn));
    PetscCall(check_stair(comm, 1, conn));
    PetscCall(check_face_stair(comm, conn));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_wall(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) PetscCall(check_wall(comm, conn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_neck(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) PetscCall(check_neck(comm, conn));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_distinct(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  PetscCall(check_distinct(comm, 0, 26));
  PetscCall(check_distinct(comm, 1, 26));
  PetscCall(check_distinct(comm, 0, 6));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"random sets", test_random}, {"swapped grid", test_swapped}, {"straight", test_straight},
             {"staircases", test_stairs}, {"wall", test_wall}, {"neck", test_neck},
             {"bad connectivity", test_bad_connectivity}, {"distinct values", test_distinct})
