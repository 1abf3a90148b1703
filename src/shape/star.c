/* Cutting a sub-particle into parts that are star-shaped from their centres (SPEC 7, step 2).
 *
 * Why. A watershed basin of the phase's distance map is often not star-shaped from any of its points (a bent neck, a
 * branch, a C-shaped rim): then its radius function misses every overhang and the harmonic surface is rougher and
 * smaller than the voxel set. Such a basin is cut here into parts that are star-shaped at the voxel level from their
 * own centres, and whose union is exactly the basin. The criterion is sm_shape_star_check's: the segment from the
 * centre to the centre of every boundary voxel of the part (one with a 6-neighbour outside the part), sampled every
 * quarter of the smallest voxel side, stays in voxels of the part. "Visible" below means exactly that test.
 *
 * How.
 *   1. Atoms. The marker-controlled watershed (sm_shape_watershed, Meyer's flooding: F. Meyer, "Topographic distance
 *      and watershed lines", Signal Processing 38 (1994) 113-125) of the basin's OWN distance map, i.e. the distance to
 *      the nearest voxel outside the basin (faces shared with neighbouring basins count as boundary), with marker
 *      dynamic 0: one atom per regional maximum. The atoms meet along the valleys of that map, the basin's own necks,
 *      so cuts made along atom borders follow the narrow places of the basin instead of arbitrary planes.
 *   2. Greedy cover by visible atoms, a region-growing form of the greedy set-cover heuristic (V. Chvatal, "A greedy
 *      heuristic for the set-covering problem", Math. Oper. Res. 4 (1979) 233-235) applied to the star-shaped
 *      decomposition problem (J. M. Keil, "Decomposing a polygon into simpler components", SIAM J. Comput. 14 (1985)
 *      799-817, treats its exact versions): take the unassigned atom whose deepest remaining voxel is deepest; its
 *      centre c is the centre of that voxel or of the voxel holding the atom's centroid, whichever sees more of the
 *      atom's remaining boundary voxels. The part starts as the atom's remaining voxels and is shrunk to a fixed point:
 *      sweeps drop every boundary voxel not visible from c within the voxels kept so far, until a sweep drops none; so
 *      the part is star-shaped from c by construction (the centre's own voxel is always kept). Voxels dropped stay in
 *      the atom for a later part. Then whole unassigned atoms are added, in order of decreasing depth and in passes
 *      until none fits, whenever every boundary voxel of the atom is visible from c within the part plus the atom.
 *      Adding voxels never hides a voxel already in the part (its segment only gains voxels), so the part stays
 *      star-shaped from c; an atom is taken whole or not at all, so no part reaches through a neck into a cone of the
 *      next lobe.
 *   3. Merges (sm_star_merge): a part that is visible as a whole from the centre of a larger neighbour joins it.
 * Every voxel of the basin ends in exactly one part (each round removes at least the centre voxel), so the union is
 * the basin and the parts are disjoint. The result is a function of the voxel set alone (fixed orders, ties to the
 * smaller index), hence the same on every rank that computes it. Left over are small parts: voxel-scale overhangs of
 * the staircase surface that no neighbouring centre sees; each is a (tiny) star-shaped sub-particle of its own.
 *
 * Cost: per visibility test, the segment length over a quarter voxel, and only boundary voxels are tested; a part test
 * stops at the first hidden voxel. Memory per box voxel (box padded by one voxel): the one-rank watershed's ~24
 * bytes, the distance map (8), the atom and part numbers (8) and the region byte. Boxes are those of single basins,
 * small beside the slab. */
#include "shape_impl.h"
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <math.h>

#define SM_STAR_NDROP 16 /* shrink sweeps: the dropped voxels a segment is checked against (below) */

typedef struct {
  int64_t n[3];    /* padded box */
  int64_t lo[3];   /* global index of padded voxel (0, 0, 0) */
  double  h[3], q; /* voxel size, sampling step (a quarter of the smallest side) */
} SMStarBox;

/* Centre of padded voxel v, in the coordinates of the volume. */
static inline void sm_star_voxel_centre(const SMStarBox *b, int64_t v, double x[3])
{
  const int64_t iv[3] = {v % b->n[0], (v / b->n[0]) % b->n[1], v / (b->n[0] * b->n[1])};
  for (int d = 0; d < 3; d++) x[d] = ((double)(b->lo[d] + iv[d]) + 0.5) * b->h[d];
}

/* A region of the padded box: {reg != 0}, or, when part is not NULL, the voxels of the parts pa and pb of part[]. */
typedef struct {
  const uint8_t *reg;
  const int32_t *part;
  int32_t        pa, pb;
} SMStarRegion;

static inline int sm_star_in(const SMStarRegion *r, int64_t i)
{
  return r->part ? r->part[i] == r->pa || r->part[i] == r->pb : r->reg[i] != 0;
}

/* Distance from c to the cube of the voxel of global index g (voxel size h): the clearance's and the shrink sweeps'. */
static inline double sm_star_cube_distance(const int64_t g[3], const double h[3], const double c[3])
{
  double s = 0;
  for (int d = 0; d < 3; d++) {
    const double a = (double)g[d] * h[d], e = c[d] < a ? a - c[d] : (c[d] > a + h[d] ? c[d] - a - h[d] : 0);
    s += e * e;
  }
  return sqrt(s);
}

double sm_shape_clearance(const int64_t n[3], const int64_t lo[3], const double h[3], const double c[3],
                          int (*in)(const void *ctx, int64_t i), const void *ctx)
{
  const double hmin = PetscMin(h[0], PetscMin(h[1], h[2]));
  int64_t      cv[3];
  double       best = PETSC_MAX_REAL;

  for (int d = 0; d < 3; d++) cv[d] = sm_shape_ifloor(c[d] / h[d]) - lo[d];
  /* a voxel k shells out from the voxel of c lies at least (k - 1) hmin from c */
  for (int64_t k = 0; (double)(k - 1) * hmin < best; k++)
    for (int64_t dz = -k; dz <= k; dz++)
      for (int64_t dy = -k; dy <= k; dy++)
        for (int64_t dx = -k; dx <= k; dx += (dz == -k || dz == k || dy == -k || dy == k) ? 1 : 2 * k) {
          const int64_t w[3] = {cv[0] + dx, cv[1] + dy, cv[2] + dz};
          if (w[0] >= 0 && w[1] >= 0 && w[2] >= 0 && w[0] < n[0] && w[1] < n[1] && w[2] < n[2] &&
              in(ctx, (w[2] * n[1] + w[1]) * n[0] + w[0]))
            continue;
          best =
              PetscMin(best, sm_star_cube_distance((const int64_t[3]){lo[0] + w[0], lo[1] + w[1], lo[2] + w[2]}, h, c));
        }
  return best;
}

static int sm_star_in_ctx(const void *r, int64_t i)
{
  return sm_star_in((const SMStarRegion *)r, i);
}

/* The region's clearance around c (sm_shape_clearance). */
static double sm_star_clearance(const SMStarBox *b, const SMStarRegion *r, const double c[3])
{
  return sm_shape_clearance(b->n, b->lo, b->h, c, sm_star_in_ctx, r);
}

typedef struct {
  const SMStarBox    *b;
  const SMStarRegion *r;
  int64_t            *miss; /* set to the voxel where a walk left the region */
} SMStarWalk;

/* Is padded voxel w in the region? A walk's samples lie between two centres of voxels inside the padded box's faces
   (the basin's and the centres'), so w is in the box: the samples are rounded to within far less than a voxel from the
   segment, and its ends are a voxel and a half from the box's faces. */
static inline int sm_star_walk_in(const void *ctx, const int64_t w[3])
{
  const SMStarWalk *k = (const SMStarWalk *)ctx;
  const int64_t     i = (w[2] * k->b->n[1] + w[1]) * k->b->n[0] + w[0];
  if (sm_star_in(k->r, i)) return 1;
  *k->miss = i;
  return 0;
}

/* Is the segment from c to the centre of padded voxel v inside the region? Samples as in sm_shape_star_check; R: the
   region's clearance around c (sm_star_clearance; 0 for none), see sm_shape_segment_visible. Returns -2 if it is, else
   the first voxel of the walk outside the region. */
static int64_t sm_star_visible(const SMStarBox *b, const SMStarRegion *r, const double c[3], double R, int64_t v)
{
  int64_t          miss = -2;
  const SMStarWalk k    = {b, r, &miss};
  double           x[3];

  sm_star_voxel_centre(b, v, x);
  return sm_shape_segment_visible(c, x, b->h, b->lo, b->q, R, sm_star_walk_in, &k) ? -2 : miss;
}

/* The first 6-neighbour of voxel v outside {reg != 0} (in the order -x, +x, -y, +y, -z, +z), or -1 when v is not a
   boundary voxel (v is never on the padded box's faces). */
static inline int64_t sm_star_outside(const SMStarBox *b, const uint8_t *reg, int64_t v)
{
  const int64_t sy = b->n[0], sz = b->n[0] * b->n[1];
  return !reg[v - 1]    ? v - 1
         : !reg[v + 1]  ? v + 1
         : !reg[v - sy] ? v - sy
         : !reg[v + sy] ? v + sy
         : !reg[v - sz] ? v - sz
         : !reg[v + sz] ? v + sz
                        : -1;
}

/* Has voxel v a 6-neighbour outside {reg != 0}? (sm_star_outside >= 0, without forming the index: the hot test) */
static inline int sm_star_boundary(const SMStarBox *b, const uint8_t *reg, int64_t v)
{
  const int64_t sy = b->n[0], sz = b->n[0] * b->n[1];
  return !reg[v - 1] || !reg[v + 1] || !reg[v - sy] || !reg[v + sy] || !reg[v - sz] || !reg[v + sz];
}

/* 3. Merge parts into larger neighbours where that keeps the neighbour star-shaped from its centre: every voxel of the
   smaller part must be visible from the larger one's centre inside the union (the larger part's own voxels stay
   visible, the region having only grown). The greedy cover leaves small parts in the shadows that the voxel staircase
   casts on a grazing view (and the remainders of seed atoms); most are seen from a neighbour's centre. Smallest parts
   first, neighbours by decreasing contact (26-neighbour voxel pairs), in passes until nothing merges. part[] is
   renumbered 0..*np-1 in the order of the surviving parts, cen compacted alike. */
static PetscErrorCode sm_star_merge(const SMStarBox *b, int32_t *part, int *np, double *cen)
{
  const int64_t nb = b->n[0] * b->n[1] * b->n[2];
  int64_t      *head, *tail, *next, *size, *contact;
  int32_t      *order, *alias, *cand;
  double       *clr;
  int64_t       off[26];
  int           n = *np, merged = 1, alive, ne = 0;

  PetscFunctionBeginUser;
  /* the 26 neighbours' offsets: the parts' voxels are never on the padded box's faces */
  for (int dz = -1; dz <= 1; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++)
        if (dx || dy || dz) off[ne++] = (dz * b->n[1] + dy) * b->n[0] + dx;
  PetscCall(PetscMalloc4(n, &head, n, &tail, n, &size, n, &contact));
  PetscCall(PetscMalloc3(n, &order, n, &alias, n, &cand));
  PetscCall(PetscMalloc1(nb, &next));
  PetscCall(PetscMalloc1(n, &clr));
  for (int k = 0; k < n; k++) {
    clr[k]  = -1; /* clearance of part k around its centre, computed when first needed (parts only grow) */
    head[k] = tail[k] = -1;
    size[k]           = 0;
    contact[k]        = 0;
  }
  for (int64_t v = 0; v < nb; v++) {
    const int32_t k = part[v];
    next[v]         = -1;
    if (k < 0) continue;
    if (tail[k] < 0)
      head[k] = v;
    else
      next[tail[k]] = v;
    tail[k] = v;
    size[k]++;
  }
  while (merged) {
    merged = 0;
    /* smallest first, ties by number (stable insertion sort of the live parts) */
    alive = 0;
    for (int k = 0; k < n; k++) {
      int j;
      if (!size[k]) continue;
      for (j = alive; j > 0 && size[order[j - 1]] > size[k]; j--) order[j] = order[j - 1];
      order[j] = k;
      alive++;
    }
    for (int i = 0; i < alive; i++) {
      const int32_t p  = order[i];
      int           nc = 0;
      if (!size[p]) continue;
      /* neighbours that are larger (size, then number), with their contacts */
      for (int64_t v = head[p]; v >= 0; v = next[v])
        for (int e = 0; e < 26; e++) {
          const int32_t q = part[v + off[e]];
          if (q < 0 || q == p || size[q] < size[p] || (size[q] == size[p] && q < p)) continue;
          if (!contact[q]) cand[nc++] = q;
          contact[q]++;
        }
      for (int a = 1; a < nc; a++) {
        const int32_t q = cand[a];
        int           j;
        for (j = a;
             j > 0 && (contact[cand[j - 1]] < contact[q] || (contact[cand[j - 1]] == contact[q] && cand[j - 1] > q));
             j--)
          cand[j] = cand[j - 1];
        cand[j] = q;
      }
      for (int a = 0; a < nc; a++) {
        const int32_t      q    = cand[a];
        const SMStarRegion both = {NULL, part, q, p};
        int                fits = 1;
        if (clr[q] < 0) {
          const SMStarRegion own = {NULL, part, q, q};
          clr[q]                 = sm_star_clearance(b, &own, cen + 3 * q);
        }
        for (int64_t v = head[p]; v >= 0 && fits; v = next[v])
          fits = sm_star_visible(b, &both, cen + 3 * q, clr[q], v) == -2;
        if (!fits) continue;
        for (int64_t v = head[p]; v >= 0; v = next[v]) part[v] = q;
        next[tail[q]] = head[p];
        tail[q]       = tail[p];
        size[q] += size[p];
        size[p] = 0;
        head[p] = tail[p] = -1;
        merged            = 1;
        break;
      }
      for (int a = 0; a < nc; a++) contact[cand[a]] = 0;
    }
  }
  /* renumber the survivors in their old order */
  alive = 0;
  for (int k = 0; k < n; k++) {
    alias[k] = -1;
    if (!size[k]) continue;
    alias[k] = alive;
    for (int d = 0; d < 3; d++) cen[3 * alive + d] = cen[3 * k + d];
    alive++;
  }
  for (int64_t v = 0; v < nb; v++)
    if (part[v] >= 0) part[v] = alias[part[v]];
  *np = alive;
  PetscCall(PetscFree(next));
  PetscCall(PetscFree(clr));
  PetscCall(PetscFree3(order, alias, cand));
  PetscCall(PetscFree4(head, tail, size, contact));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_star_split(const SMShapeVoxelSet *set, int32_t *part, int *nparts, double **centres)
{
  SMStarBox    b;
  SMGrid       grid;
  PetscReal    hh[3];
  int64_t      nb, natoms = 0, *wsl, *aoff, *avox, *acnt, *order, *pv, *blk, left = 0;
  uint8_t     *mask, *reg;
  double      *d2, *adepth, *cen = NULL;
  int32_t     *atom, *ppart;
  uint8_t     *vis[2];
  int          np = 0, cap = 0;
  SMStarRegion in = {NULL, NULL, 0, 0}; /* {reg != 0} */

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    b.n[d]  = set->n[d] + 2;
    b.lo[d] = set->lo[d] - 1;
    b.h[d]  = set->h[d];
    hh[d]   = (PetscReal)set->h[d];
  }
  b.q = 0.25 * PetscMin(b.h[0], PetscMin(b.h[1], b.h[2]));
  nb  = b.n[0] * b.n[1] * b.n[2];
  PetscCall(PetscCalloc3(nb, &mask, nb, &reg, nb, &ppart));
  in.reg = reg;
  PetscCall(PetscMalloc2(nb, &d2, nb, &atom));
  PetscCall(PetscMalloc1(nb, &wsl));
  for (int64_t k = 0; k < set->n[2]; k++)
    for (int64_t j = 0; j < set->n[1]; j++)
      for (int64_t i = 0; i < set->n[0]; i++)
        mask[((k + 1) * b.n[1] + j + 1) * b.n[0] + i + 1] = set->in[(k * set->n[1] + j) * set->n[0] + i] != 0;

  /* 1. atoms: watershed of the basin's own distance map, every regional maximum a marker */
  PetscCall(PetscLogEventBegin(SM_EVENT_StarAtoms, 0, 0, 0, 0));
  PetscCall(sm_grid_create(PETSC_COMM_SELF, b.n, hh, &grid));
  PetscCall(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 7, d2));
  PetscCall(sm_shape_watershed_d2(grid, mask, d2, 0.0, wsl, &natoms));
  PetscCall(sm_grid_destroy(&grid));
  PetscCheck(natoms < INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "%lld atoms in one sub-particle", (long long)natoms);
  for (int64_t v = 0; v < nb; v++) {
    atom[v]  = (int32_t)wsl[v];
    ppart[v] = -1;
  }
  PetscCall(PetscFree(wsl));
  PetscCall(PetscLogEventEnd(SM_EVENT_StarAtoms, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(SM_EVENT_StarCover, 0, 0, 0, 0));

  /* voxels of each atom, in increasing index (counting sort); acnt = voxels still unassigned, kept at the front */
  PetscCall(PetscCalloc4(natoms + 1, &aoff, natoms, &acnt, natoms, &order, natoms, &adepth));
  PetscCall(PetscMalloc1(2 * PetscMax(1, natoms), &blk));
  for (int64_t v = 0; v < nb; v++)
    if (atom[v] >= 0) aoff[atom[v] + 1]++;
  for (int64_t a = 0; a < natoms; a++) aoff[a + 1] += aoff[a];
  PetscCall(PetscMalloc2(PetscMax(1, aoff[natoms]), &avox, PetscMax(1, aoff[natoms]), &pv));
  PetscCall(PetscMalloc2(PetscMax(1, aoff[natoms]), &vis[0], PetscMax(1, aoff[natoms]), &vis[1]));
  for (int64_t v = 0; v < nb; v++)
    if (atom[v] >= 0) avox[aoff[atom[v]] + acnt[atom[v]]++] = v;
  left = aoff[natoms];
  /* adepth: the depth of each atom's remaining voxels, kept up to date (only the seed atom loses voxels) */
  for (int64_t a = 0; a < natoms; a++) {
    adepth[a] = -1;
    for (int64_t t = 0; t < acnt[a]; t++) adepth[a] = PetscMax(adepth[a], d2[avox[aoff[a] + t]]);
  }

  while (left > 0) {
    int64_t seed = -1, deep = -1, npart = 0;
    double  c[3], dbest = -1, Rk = -1, dmin = PETSC_MAX_REAL, dc[SM_STAR_NDROP][3];
    int64_t nd      = SM_STAR_NDROP + 1; /* voxels dropped in the last sweep, the centres of the first SM_STAR_NDROP */
    int     changed = 1, kc;

    /* the seed: the unassigned atom with the deepest remaining voxel (ties: smaller atom, smaller voxel) */
    for (int64_t a = 0; a < natoms; a++)
      if (acnt[a] && adepth[a] > dbest) {
        dbest = adepth[a];
        seed  = a;
      }
    for (int64_t t = 0; seed >= 0 && deep < 0; t++)
      if (d2[avox[aoff[seed] + t]] == dbest) deep = avox[aoff[seed] + t];
    PetscAssert(seed >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "No seed atom with %lld voxels left", (long long)left);
    {
      /* centre: the centre of the deepest voxel or of the voxel holding the centroid of the atom's remaining voxels,
         whichever sees more of them (voxel centres: there the sampled indicator of the part is 1, so every part has
         positive radii even when it is one voxel thick) */
      const int64_t *vx      = avox + aoff[seed];
      const int64_t  m       = acnt[seed];
      double         s[3]    = {0, 0, 0}, cand[2][3];
      int64_t        seen[2] = {0, 0}, cv[3];
      int            ncand   = 1;
      for (int64_t t = 0; t < m; t++) {
        const int64_t v = vx[t];
        s[0] += (double)(v % b.n[0]);
        s[1] += (double)((v / b.n[0]) % b.n[1]);
        s[2] += (double)(v / (b.n[0] * b.n[1]));
        reg[v] = 1;
      }
      sm_star_voxel_centre(&b, deep, cand[0]);
      for (int d = 0; d < 3; d++) {
        cv[d]      = (int64_t)floor(s[d] / (double)m + 0.5);
        cand[1][d] = ((double)(b.lo[d] + cv[d]) + 0.5) * b.h[d];
      }
      /* (the centroid's voxel being the deepest one, the second candidate is the first) */
      if (reg[(cv[2] * b.n[1] + cv[1]) * b.n[0] + cv[0]] && (cv[2] * b.n[1] + cv[1]) * b.n[0] + cv[0] != deep)
        ncand = 2;
      /* vis[k][t]: 1 if voxel t of the atom is on the region's boundary and seen from candidate k, 2 if on it and not
         seen, 0 if inside. The second candidate's count stops once it cannot exceed the first's (then its vis is not
         used); nb0: the boundary voxels not yet looked at */
      kc = 0;
      for (int k = 0; k < ncand; k++) {
        int64_t nb0 = 0;
        double  R;
        if (k) {
          for (int64_t t = 0; t < m; t++) nb0 += vis[0][t] != 0;
          if (nb0 <= seen[0]) break; /* the first candidate sees every boundary voxel */
          kc = 1;
        }
        R = sm_star_clearance(&b, &in, cand[k]);
        for (int64_t t = 0; t < m; t++) {
          vis[k][t] = 0;
          if (k ? vis[0][t] != 0 : sm_star_boundary(&b, reg, vx[t])) {
            const int sv = sm_star_visible(&b, &in, cand[k], R, vx[t]) == -2;
            vis[k][t]    = sv ? 1 : 2;
            seen[k] += sv;
            if (k && seen[1] + --nb0 <= seen[0]) {
              kc = 0;
              break;
            }
          }
        }
      }
      if (kc && seen[1] <= seen[0]) kc = 0;
      for (int d = 0; d < 3; d++) c[d] = cand[kc][d];
      /* the visible voxels of the atom, shrunk until each one's segment lies in the voxels kept; the first sweep sees
         the region of the candidates' count (voxels dropped in a sweep still count as inside until it ends), so it
         takes their answers for the chosen centre. A voxel seen in the previous sweep (vis[kc][t] == 1) is seen again
         when its centre is nearer to c than every voxel dropped since (dmin, to the nearest point of their cubes):
         the segment's samples lie no farther from c than its end, so none is in a dropped voxel (the margin of 1e-6
         of a voxel is far beyond the rounding of a sample), and the rest of the region is unchanged; so is it when
         the segment passes farther than the half diagonal (and the margin) from the centre of each of the few dropped
         voxels. */
      for (int sweep = 0; changed; sweep++) {
        const double R    = sweep ? sm_star_clearance(&b, &in, c) : 0; /* the region does not change within a sweep */
        const double near = dmin - 4e-6 * b.q,
                     rho  = 0.5 * sqrt(b.h[0] * b.h[0] + b.h[1] * b.h[1] + b.h[2] * b.h[2]) + 4e-6 * b.q;
        uint8_t *pvis     = vis[kc];
        changed           = 0;
        for (int64_t t = 0; t < m; t++) {
          if (reg[vx[t]] != 1) continue;
          if (!sweep) {
            if (pvis[t] == 2) {
              reg[vx[t]] = 2; /* dropped in this sweep: still counted as inside until the sweep ends */
              changed    = 1;
            }
          } else if (!sm_star_boundary(&b, reg, vx[t]))
            pvis[t] = 0;
          else {
            int sv = 0;
            if (pvis[t] == 1 && near > 0) {
              double x[3], u[3], l2 = 0;
              sm_star_voxel_centre(&b, vx[t], x);
              for (int d = 0; d < 3; d++) {
                u[d] = x[d] - c[d];
                l2 += u[d] * u[d];
              }
              sv = sqrt(l2) < near;
              /* or: the segment passes every dropped voxel farther than its half diagonal from its centre */
              for (int j = 0; !sv && nd <= SM_STAR_NDROP && j < nd; j++) {
                double y[3], f = 0, e2 = 0;
                for (int d = 0; d < 3; d++) {
                  y[d] = dc[j][d] - c[d];
                  f += y[d] * u[d];
                }
                f = f <= 0 ? 0 : (f >= l2 ? 1 : f / l2);
                for (int d = 0; d < 3; d++) e2 += (y[d] - f * u[d]) * (y[d] - f * u[d]);
                if (sqrt(e2) <= rho) break;
                if (j == nd - 1) sv = 1;
              }
            }
            if (!sv) sv = sm_star_visible(&b, &in, c, R, vx[t]) == -2;
            pvis[t] = sv ? 1 : 2;
            if (!sv) {
              reg[vx[t]] = 2;
              changed    = 1;
            }
          }
        }
        if (sweep) Rk = R;
        dmin = PETSC_MAX_REAL;
        nd   = 0;
        for (int64_t t = 0; t < m; t++)
          if (reg[vx[t]] == 2) {
            const int64_t g[3] = {b.lo[0] + vx[t] % b.n[0], b.lo[1] + (vx[t] / b.n[0]) % b.n[1],
                                  b.lo[2] + vx[t] / (b.n[0] * b.n[1])};
            reg[vx[t]]         = 0;
            if (nd < SM_STAR_NDROP) sm_star_voxel_centre(&b, vx[t], dc[nd]);
            nd++;
            dmin = PetscMin(dmin, sm_star_cube_distance(g, b.h, c));
          }
      }
    }
    /* take the kept voxels into the part; the rest stay in the seed atom */
    {
      int64_t *vx = avox + aoff[seed], keep = 0;
      for (int64_t t = 0; t < acnt[seed]; t++) {
        if (reg[vx[t]]) {
          ppart[vx[t]] = np;
          pv[npart++]  = vx[t];
        } else
          vx[keep++] = vx[t];
      }
      acnt[seed]   = keep;
      adepth[seed] = -1;
      for (int64_t t = 0; t < keep; t++) adepth[seed] = PetscMax(adepth[seed], d2[vx[t]]);
    }
    PetscAssert(npart > 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "A part without voxels");
    /* grow by whole atoms, deepest first (depth of the remaining voxels; ties: smaller atom), in passes until no atom
       fits; a stable insertion sort, the atoms of one basin being few */
    {
      /* of the part (the last sweep's, when it had one: the region is the same); the region tested only grows from it
       */
      const double R  = Rk >= 0 ? Rk : sm_star_clearance(&b, &in, c);
      int64_t      no = 0;
      for (int64_t a = 0; a < natoms; a++) {
        int64_t j;
        if (!acnt[a]) continue;
        for (j = no; j > 0 && adepth[order[j - 1]] < adepth[a]; j--) order[j] = order[j - 1];
        order[j] = a;
        no++;
      }
      /* An atom that failed fails again as long as neither blk[2a] nor blk[2a + 1] joined the part: its voxel t that
         failed had the 6-neighbour blk[2a] outside the part and the atom, so t is still a boundary voxel, and the walk
         of t's segment (the same samples, R fixed) met blk[2a + 1] as its first voxel outside them, so it still leaves
         the region there, the voxels walked before it being still in the region, which only grows. */
      for (int64_t i = 0; i < no; i++) blk[2 * order[i]] = -1;
      changed = 1;
      while (changed) {
        changed = 0;
        for (int64_t i = 0; i < no; i++) {
          const int64_t a = order[i], *vx = avox + aoff[a];
          int           fits = 1;
          if (!acnt[a]) continue;
          if (blk[2 * a] >= 0 && !reg[blk[2 * a]] && !reg[blk[2 * a + 1]]) continue;
          for (int64_t t = 0; t < acnt[a]; t++) reg[vx[t]] = 1;
          for (int64_t t = 0; t < acnt[a] && fits; t++) {
            const int64_t nv = sm_star_outside(&b, reg, vx[t]);
            if (nv >= 0 && (blk[2 * a + 1] = sm_star_visible(&b, &in, c, R, vx[t])) != -2) {
              fits       = 0;
              blk[2 * a] = nv;
            }
          }
          for (int64_t t = 0; t < acnt[a]; t++) {
            if (fits) {
              ppart[vx[t]] = np;
              pv[npart++]  = vx[t];
            } else
              reg[vx[t]] = 0;
          }
          if (fits) {
            acnt[a] = 0;
            changed = 1;
          }
        }
      }
    }
    left -= npart;
    /* clear the region for the next part: it is the part's voxels */
    for (int64_t t = 0; t < npart; t++) reg[pv[t]] = 0;
    if (np == cap) {
      double *nc;
      cap = cap ? 2 * cap : 8;
      PetscCall(PetscMalloc1(3 * cap, &nc));
      if (np) PetscCall(PetscArraycpy(nc, cen, 3 * np));
      PetscCall(PetscFree(cen));
      cen = nc;
    }
    for (int d = 0; d < 3; d++) cen[3 * np + d] = c[d];
    np++;
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_StarCover, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(SM_EVENT_StarMerge, 0, 0, 0, 0));
  PetscCall(sm_star_merge(&b, ppart, &np, cen));
  PetscCall(PetscLogEventEnd(SM_EVENT_StarMerge, 0, 0, 0, 0));
  for (int64_t k = 0; k < set->n[2]; k++)
    for (int64_t j = 0; j < set->n[1]; j++)
      for (int64_t i = 0; i < set->n[0]; i++)
        part[(k * set->n[1] + j) * set->n[0] + i] = ppart[((k + 1) * b.n[1] + j + 1) * b.n[0] + i + 1];
  *nparts  = np;
  *centres = cen;
  PetscCall(PetscFree2(avox, pv));
  PetscCall(PetscFree2(vis[0], vis[1]));
  PetscCall(PetscFree4(aoff, acnt, order, adepth));
  PetscCall(PetscFree(blk));
  PetscCall(PetscFree2(d2, atom));
  PetscCall(PetscFree3(mask, reg, ppart));
  PetscFunctionReturn(PETSC_SUCCESS);
}
