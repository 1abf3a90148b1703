/* Marker-controlled watershed of a set on its distance map, distributed over the z-slabs (SPEC 7, step 1).
 *
 * Steps 2 to 4 rest on "floods": a maximum-bottleneck search, value(v) = the largest, over 26-paths from a source u to
 * v, of min(value(u), smallest f on the path after u). Inside a slab it is Dijkstra's algorithm (a valid greedy order
 * because extending a path by one voxel never raises its value) on a bucket queue; across slabs the two ghost planes
 * are exchanged, their voxels pushed as sources, and the local search resumed, until no rank changes a value (the
 * values only increase, so this terminates; each round costs two plane exchanges and an Allreduce, and the number of
 * rounds is the number of slab crossings of the longest chain of improvements, a few in practice). The fixed point is
 * unique, so the results do not depend on the rank count or on the order of the heap.
 *   1. d = sqrt(EDT) [um] of the set (border not an obstacle), -inf outside. The EDT is the caller's when it has one
 *      (sm_shape_watershed_d2: `shape` needs it again for the deepest voxels, the cut for its seeds).
 *   2. h-maxima transform: R = reconstruction by dilation of d - h under d (flood with sources d - h everywhere).
 *      With h = 0 the sources are d itself and R = d (the cut's watersheds). Otherwise two raster scans do most of
 *      the flood's work in order (sm_ws_scans) and the flood starts from the few voxels that can still raise a
 *      neighbour.
 *   3. Regional maxima of R: flood over R from the "exits" (voxels with a higher neighbour), Q; a voxel belongs to a
 *      regional maximum iff Q < R (no path inside its plateau reaches an exit). Values are copied, never recomputed,
 *      so the comparison is exact. Markers = 26-connected components of the regional maxima (sm_morph_components).
 *      The exits are not queued: the other voxels take their first values from their neighbours and are queued.
 *   4. Watershed flood from the markers (value +inf there) over d with the lexicographic key (b, k): b the bottleneck
 *      as above, k the number of steps since the path last went down to the level b (fewer is better). This is the
 *      order in which Meyer's priority flood (a FIFO queue per level) reaches the voxels. Extending a path never
 *      improves its key, so the key is the unique fixed point of the relaxation from the neighbours u of v,
 *      (b, k)(v) = the best over u of (min(b_u, d_v), d_v < b_u ? 0 : k_u + 1), the markers keeping (+inf, 0). It is
 *      found without the flood's order (which visits the whole slab once per level, missing the caches at every pop):
 *      - b, maximised first, is the flood's value alone: the reconstruction by dilation of the markers under d
 *        (L. Vincent 1993, see sm_ws_scans). It lies between R and d (sm_ws_raise), so, as in Vincent's hybrid
 *        algorithm but starting from R instead of raster scans, one raster pass lets the few voxels with R < d (none
 *        when h = 0) take their values from their neighbours, queues those that rose, and the flood goes on from
 *        them. The markers, above d, never change and give their neighbours d.
 *      - k given b: k(v) = 0 if a neighbour has a higher b (then b_v = d_v; every neighbour of a marker), else 1 + the
 *        smallest k of its neighbours of equal b (one with b_u = d_v gives k_u + 1, not 0). So k is the
 *        breadth-first distance inside the plateaus of b from their k = 0 voxels (every plateau reached from a marker
 *        has one: on a best path to it, the voxel after the last higher one): a raster pass finds the k = 0 voxels, a
 *        second queues the unset voxels next to one of their plateau with k = 1, and a FIFO search sets the others
 *        (sm_ws_steps; across slabs, rounds of ghost exchange as for the floods). A component of the set without a
 *        marker (there is none: its highest plateau of R is a regional maximum) would leave its highest plateau of b
 *        with k unset, and step 5 reports those voxels as not reached.
 *   5. Parent of a voxel: among the neighbours through which it attains its key, the one Meyer's flood would have
 *      processed first (best key; then the largest d, a step up the distance map; then the smallest global index);
 *      its label is the label of its parent (markers: the marker number). Parents precede their children in key
 *      order, so the parent graph is a forest rooted at the markers; labels are propagated along it with path
 *      walking inside each slab and ghost-plane exchanges of labels until nothing changes.
 * Levels. Every value a flood compares is a copy of a distance d, of d - h (step 2's sources) or +-inf, never a new
 * number; so the floods run on the ranks ("levels") of the sorted distinct values of {d} and {d - h} over the whole
 * volume (every rank gathers the distinct distances of all slabs: a few thousand for cubic voxels, the square roots of
 * sums of three squares), 0 for -inf and the last level for +inf. Comparisons of levels are those of the values, so
 * the result is the one of the floods on doubles, bit for bit, in 4 bytes instead of 8. The queue is a FIFO per level
 * (Meyer's hierarchical queue): pops come from the highest non-empty level, in O(1); step 4's search for k uses level 0
 * alone, a FIFO that pops the smaller k first as long as the pushes come in the order of k. The sources pushed again
 * from the ghost planes may break the greedy order, and then a voxel is simply improved again later (the stale-entry
 * test and the strict improvement rule make every search label-correcting, with the same unique fixed point).
 * Memory, per voxel of the slab (with two ghost planes): d, R and Q/label as 32-bit levels or labels (12 bytes; step
 * 4's b takes R's place, its k adds 4 once the components' labels are freed), marker and parent bytes (2) and the
 * markers of the slab (1), the components' int64 labels (8) and the queue (16 bytes per queued voxel, its pool kept
 * from step to step: under 1 % of the set at its largest on the 80^3-96^3 test twins); the caller's squared distances
 * (8) are read in step 1: about 24 bytes per voxel at the peak (the components), whatever the solid fraction (30 at a
 * solid fraction of 0.6 with step 4's priority flood on interleaved (d, b, k) records, 64 with doubles and a binary
 * heap). */
#include "shape_impl.h"
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A queued voxel: v its index in the ext array, k its step count (step 4), next the following node of its level. */
typedef struct {
  int64_t v;
  int32_t k, next;
} SMWsNode;

/* Bucket queue over the levels: a FIFO list per level, nodes from one pool with a free list. */
typedef struct {
  SMWsNode *node;
  int32_t  *head, *tail; /* [nlev] */
  int64_t   cap, used, n;
  int32_t   free_list;
  uint32_t  nlev, top;
} SMWsQueue;

typedef struct {
  SMGrid      grid;
  MPI_Comm    comm;
  PetscMPIInt rank, size;
  int64_t     nx, ny, nz, np, next, z_start; /* nz: local planes; next: (nz + 2) np, the array with ghost planes */
  int64_t     off[26];
  int         d[26][3];
} SMWsCtx;

static inline int sm_ws_better(uint32_t b1, int32_t k1, uint32_t b2, int32_t k2)
{
  return b1 > b2 || (b1 == b2 && k1 < k2);
}

static PetscErrorCode sm_ws_queue_create(uint32_t nlev, SMWsQueue *q)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(q, sizeof(*q)));
  PetscCall(PetscMalloc2(nlev, &q->head, nlev, &q->tail));
  for (uint32_t l = 0; l < nlev; l++) q->head[l] = q->tail[l] = -1;
  q->nlev      = nlev;
  q->free_list = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_ws_queue_destroy(SMWsQueue *q)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(q->node));
  PetscCall(PetscFree2(q->head, q->tail));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_ws_push(SMWsQueue *q, uint32_t b, int32_t k, int64_t v)
{
  int32_t i;

  PetscFunctionBeginUser;
  if (q->free_list >= 0) {
    i            = q->free_list;
    q->free_list = q->node[i].next;
  } else {
    if (q->used == q->cap) {
      const int64_t cap = q->cap + q->cap / 2 + 1024;
      SMWsNode     *nn;
      PetscCheck(cap < INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP,
                 "The watershed queue would need %lld entries on one rank (at most %d): use more ranks",
                 (long long)cap, INT32_MAX - 1);
      PetscCall(PetscMalloc1(cap, &nn));
      PetscCall(PetscArraycpy(nn, q->node, q->used));
      PetscCall(PetscFree(q->node));
      q->node = nn;
      q->cap  = cap;
    }
    i = (int32_t)q->used++;
  }
  q->node[i] = (SMWsNode){v, k, -1};
  if (q->tail[b] >= 0)
    q->node[q->tail[b]].next = i;
  else
    q->head[b] = i;
  q->tail[b] = i;
  if (b > q->top) q->top = b;
  q->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The oldest node of the highest non-empty level (q->n > 0); its level in *b. */
static inline SMWsNode sm_ws_pop(SMWsQueue *q, uint32_t *b)
{
  SMWsNode e;
  int32_t  i;
  while (q->head[q->top] < 0) q->top--;
  i  = q->head[q->top];
  e  = q->node[i];
  *b = q->top;
  q->head[q->top] = e.next;
  if (e.next < 0) q->tail[q->top] = -1;
  q->node[i].next = q->free_list;
  q->free_list    = i;
  q->n--;
  return e;
}

/* Local search of a value-only flood (steps 2 and 3) from the queued sources; targets are voxels of the slab's own
   planes with f > 0 (above -inf). A voxel away from the box's sides and from the slab's first and last planes has all
   26 neighbours in range, and the test of each is skipped. */
static PetscErrorCode sm_ws_run(const SMWsCtx *c, SMWsQueue *h, const uint32_t *f, uint32_t *val, PetscBool *changed)
{
  PetscFunctionBeginUser;
  while (h->n) {
    uint32_t       eb;
    const SMWsNode e = sm_ws_pop(h, &eb);
    int64_t        x, y, z, rem;
    int            inner;
    if (eb != val[e.v]) continue; /* stale entry */
    z     = e.v / c->np;
    rem   = e.v - z * c->np;
    y     = rem / c->nx;
    x     = rem - y * c->nx;
    inner = x > 0 && y > 0 && x < c->nx - 1 && y < c->ny - 1 && z > 1 && z < c->nz;
    for (int q = 0; q < 26; q++) {
      const int64_t w = e.v + c->off[q];
      uint32_t      cb;
      if (!inner) {
        const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1], zz = z + c->d[q][2];
        if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny || zz < 1 || zz > c->nz) continue;
      }
      if (!f[w]) continue;
      cb = PetscMin(eb, f[w]);
      if (cb > val[w]) {
        val[w]   = cb;
        *changed = PETSC_TRUE;
        PetscCall(sm_ws_push(h, cb, 0, w));
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Ghost planes of an ext array [nz + 2][np] (elements of esize bytes) by the grid's halo: planes 0 and nz + 1 get the
   neighbours' last and first planes; ghosts beyond the box are set to *fill. */
static PetscErrorCode sm_ws_exchange(const SMWsCtx *c, void *arr, MPI_Datatype type, size_t esize, const void *fill)
{
  char                *a    = (char *)arr;
  const SMGridHaloSpec spec = {type, esize, c->np, 1, PETSC_FALSE, fill};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo(c->grid, &spec, a + (size_t)c->np * esize, a + (size_t)(c->nz * c->np) * esize, a,
                         a + (size_t)((c->nz + 1) * c->np) * esize));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The distributed flood: local search from the queued sources, then rounds of ghost exchange until no rank changes. */
static PetscErrorCode sm_ws_solve(const SMWsCtx *c, SMWsQueue *h, const uint32_t *f, uint32_t *val)
{
  const uint32_t ninf    = 0;
  PetscBool      changed = PETSC_FALSE;
  int            any     = 1;

  PetscFunctionBeginUser;
  PetscCall(sm_ws_run(c, h, f, val, &changed));
  while (any) {
    int mine;
    PetscCall(sm_ws_exchange(c, val, MPI_UINT32_T, sizeof(uint32_t), &ninf));
    if (c->size == 1) break;
    for (int g = 0; g < 2; g++) {
      const int64_t base = g ? (c->nz + 1) * c->np : 0;
      for (int64_t i = 0; i < c->np; i++)
        if (val[base + i]) PetscCall(sm_ws_push(h, val[base + i], 0, base + i));
    }
    changed = PETSC_FALSE;
    PetscCall(sm_ws_run(c, h, f, val, &changed));
    mine = changed ? 1 : 0;
    PetscCallMPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, c->comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 4's k on the local planes: a breadth-first search from the queued voxels (all in level 0 of the queue, a FIFO)
   inside the plateaus of b, i.e. between 26-neighbours of equal b. Targets are voxels of the slab's own planes whose
   k is larger than the candidate's; the first pushes (all with k = 1) keep the FIFO in the order of k, so on one rank
   every voxel is set once, at its final k; sources pushed again from the ghost planes may break that order, and then a
   voxel is simply improved again later (label-correcting, with the stale-entry test). */
static PetscErrorCode sm_ws_run_steps(const SMWsCtx *c, SMWsQueue *h, const uint32_t *b, int32_t *k, PetscBool *changed)
{
  const int64_t nx = c->nx, ny = c->ny, nz = c->nz, np = c->np;

  PetscFunctionBeginUser;
  while (h->n) {
    uint32_t       el;
    const SMWsNode e  = sm_ws_pop(h, &el);
    const uint32_t eb = b[e.v];
    const int32_t  k1 = e.k + 1;
    int64_t        x, y, z, rem;
    int            inner;
    if (e.k != k[e.v]) continue; /* stale entry */
    z     = e.v / np;
    rem   = e.v - z * np;
    y     = rem / nx;
    x     = rem - y * nx;
    inner = x > 0 && y > 0 && x < nx - 1 && y < ny - 1 && z > 1 && z < nz;
    for (int q = 0; q < 26; q++) {
      const int64_t w = e.v + c->off[q];
      if (!inner) {
        const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1], zz = z + c->d[q][2];
        if (xx < 0 || yy < 0 || xx >= nx || yy >= ny || zz < 1 || zz > nz) continue;
      }
      if (b[w] == eb && k[w] > k1) {
        k[w]     = k1;
        *changed = PETSC_TRUE;
        PetscCall(sm_ws_push(h, 0, k1, w));
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 4's k given b (see the header), with current ghost planes of b: k = 0 on the markers, on the voxels outside the
   set (b = 0) and on the voxels with a neighbour of a higher b; the others start unset (INT32_MAX), those with a
   neighbour of k = 0 in their plateau get k = 1 and are queued, and the breadth-first search runs from them; across
   slabs the ghost planes of k are exchanged, their voxels with 0 < k < unset pushed as sources (those with k = 0 acted
   before the first search), and the local search resumed, until no rank changes a value (k only decreases). The ghost
   planes of k are current on return. Collective. */
static PetscErrorCode sm_ws_steps(const SMWsCtx *c, SMWsQueue *h, const uint32_t *b, const uint8_t *marker, int32_t *k)
{
  const int32_t unset = INT32_MAX, zero = 0;
  PetscBool     changed = PETSC_FALSE;
  int           any     = 1;

  PetscFunctionBeginUser;
  for (int pass = 0; pass < 2; pass++) {
    if (pass) PetscCall(sm_ws_exchange(c, k, MPI_INT32_T, sizeof(int32_t), &zero));
    for (int64_t z = 1; z <= c->nz; z++)
      for (int64_t y = 0; y < c->ny; y++)
        for (int64_t x = 0; x < c->nx; x++) {
          const int64_t  v     = z * c->np + y * c->nx + x;
          const int      inner = x > 0 && y > 0 && x < c->nx - 1 && y < c->ny - 1;
          const uint32_t bv    = b[v];
          if (!pass) {
            k[v] = 0;
            if (!bv || marker[v]) continue;
            k[v] = unset;
          } else if (k[v] != unset)
            continue;
          for (int q = 0; q < 26; q++) { /* the ghost planes hold the neighbours' b and k: only the box's sides */
            const int64_t u = v + c->off[q];
            if (!inner) {
              const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1];
              if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny) continue;
            }
            if (!pass && b[u] > bv) {
              k[v] = 0;
              break;
            }
            if (pass && b[u] == bv && !k[u]) {
              k[v] = 1;
              PetscCall(sm_ws_push(h, 0, 1, v));
              break;
            }
          }
        }
  }
  PetscCall(sm_ws_run_steps(c, h, b, k, &changed));
  while (any) {
    int mine;
    PetscCall(sm_ws_exchange(c, k, MPI_INT32_T, sizeof(int32_t), &zero));
    if (c->size == 1) break;
    for (int g = 0; g < 2; g++) {
      const int64_t base = g ? (c->nz + 1) * c->np : 0;
      for (int64_t i = 0; i < c->np; i++)
        if (b[base + i] && k[base + i] > 0 && k[base + i] < unset) PetscCall(sm_ws_push(h, 0, k[base + i], base + i));
    }
    changed = PETSC_FALSE;
    PetscCall(sm_ws_run_steps(c, h, b, k, &changed));
    mine = changed ? 1 : 0;
    PetscCallMPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, c->comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 5's parent of voxel v (set, not a marker): the code q of the neighbour Meyer's flood labels it from (see the
   header), -1 if none attains its key. inner: v is away from the box's sides (x, y), so all 26 neighbours are in the
   ext arrays (the ghost planes hold the neighbours' d, b and k). A neighbour below v's level (or unreached) cannot
   attain it: the candidate's level is at most the neighbour's. */
static inline int sm_ws_parent_of(const SMWsCtx *c, const uint32_t *d, const uint32_t *b, const int32_t *k, int64_t v,
                                  int inner, int64_t x, int64_t y)
{
  const uint32_t lo = b[v] ? b[v] : 1, svd = d[v], svb = b[v];
  const int32_t  svk = k[v];
  int            bq  = -1;
  uint32_t       bb = 0, bd = 0;
  int32_t        bk = 0;

  for (int q = 0; q < 26; q++) {
    const int64_t u = v + c->off[q];
    uint32_t      cb;
    int32_t       ck;
    if (!inner) {
      const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1];
      if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny) continue;
    }
    if (b[u] < lo) continue;
    cb = PetscMin(b[u], svd);
    ck = cb == b[u] ? k[u] + 1 : 0;
    if (cb != svb || ck != svk) continue;
    /* Meyer's flood labels v from the neighbour that was processed first: the best (b, k), then the deepest (a step up
       the distance map), then the smallest global index. The global index of neighbour q is v's plus c->off[q] (the
       ghost planes are the neighbours' planes), which increases with q: of equal candidates the first one met has the
       smallest index, so the last test needs no index. */
    if (bq < 0 || sm_ws_better(b[u], k[u], bb, bk) || (b[u] == bb && k[u] == bk && d[u] > bd)) {
      bq = q;
      bb = b[u];
      bk = k[u];
      bd = d[u];
    }
  }
  return bq;
}

/* Step 2 before its flood: the two raster scans of L. Vincent's hybrid reconstruction ("Morphological grayscale
   reconstruction in image analysis: applications and efficient algorithms", IEEE Trans. Image Process. 2 (1993)
   176-201, section V.D). The forward scan raises every voxel of the slab to min(f, the largest value of its 13
   neighbours that precede it), the backward scan likewise with the 13 that follow it; both are relaxations of the
   flood, so the values stay below the fixed point. After them a voxel can only still raise a neighbour that follows it
   (the neighbours that precede it read its final value in the backward scan), so only the voxels that can are queued
   (most voxels are final already: the flood then visits a few per cent of the set instead of all of it twice). */
static PetscErrorCode sm_ws_scans(const SMWsCtx *c, SMWsQueue *h, const uint32_t *f, uint32_t *val)
{
  PetscFunctionBeginUser;
  for (int pass = 0; pass < 2; pass++) {
    const int q0 = pass ? 13 : 0, q1 = pass ? 26 : 13; /* c->off[q] < 0 exactly for q < 13 (the loop order) */
    for (int64_t zi = 0; zi < c->nz; zi++)
      for (int64_t yi = 0; yi < c->ny; yi++)
        for (int64_t xi = 0; xi < c->nx; xi++) {
          const int64_t z = pass ? c->nz - zi : zi + 1, y = pass ? c->ny - 1 - yi : yi, x = pass ? c->nx - 1 - xi : xi;
          const int64_t v     = z * c->np + y * c->nx + x;
          const int     inner = x > 0 && y > 0 && x < c->nx - 1 && y < c->ny - 1 && z > 1 && z < c->nz;
          uint32_t      m     = val[v];
          if (!f[v]) continue;
          for (int q = q0; q < q1; q++) {
            const int64_t w = v + c->off[q];
            if (!inner) {
              const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1], zz = z + c->d[q][2];
              if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny || zz < 1 || zz > c->nz) continue;
            }
            if (val[w] > m) m = val[w];
          }
          if (m > f[v]) m = f[v];
          if (m <= val[v] && !pass) continue;
          val[v] = PetscMax(m, val[v]);
          if (!pass) continue;
          for (int q = q0; q < q1; q++) {
            const int64_t w = v + c->off[q];
            if (!inner) {
              const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1], zz = z + c->d[q][2];
              if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny || zz < 1 || zz > c->nz) continue;
            }
            if (val[w] < val[v] && val[w] < f[w]) {
              PetscCall(sm_ws_push(h, val[v], 0, v));
              break;
            }
          }
        }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 4's b before its flood. The flood from the markers alone gives b; started from R (step 2) with the markers set
   to +inf it gives b too, because R <= b <= d: b <= d off the markers, and for any voxel v the 26-component of
   {R >= R(v)} holding v contains a regional maximum of R (its highest plateau), i.e. a marker, joined to v by a path
   on which d >= R >= R(v); and every source value R(u) <= b(u) only offers its neighbours what b(u) offers them. So
   only the voxels with b < d can still rise (those within h of the top of a suppressed maximum or of a marker: none
   when h = 0, where R = d); each takes its value from its neighbours (the same relaxation their pops would make;
   ghost values are lower bounds, raised later by sm_ws_solve's rounds) and is queued if it rose. One raster pass
   over d and b instead of the flood's visits of the whole slab, or of the two raster scans of step 2. */
static PetscErrorCode sm_ws_raise(const SMWsCtx *c, SMWsQueue *h, const uint32_t *f, uint32_t *val)
{
  PetscFunctionBeginUser;
  for (int64_t z = 1; z <= c->nz; z++)
    for (int64_t y = 0; y < c->ny; y++)
      for (int64_t x = 0; x < c->nx; x++) {
        const int64_t v     = z * c->np + y * c->nx + x;
        const int     inner = x > 0 && y > 0 && x < c->nx - 1 && y < c->ny - 1;
        uint32_t      m     = 0;
        if (val[v] >= f[v]) continue; /* outside the set (both 0), a marker, or final (val = f) */
        for (int q = 0; q < 26; q++) {
          if (!inner) {
            const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1];
            if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny) continue;
          }
          m = PetscMax(m, val[v + c->off[q]]);
        }
        if (m > f[v]) m = f[v];
        if (m > val[v]) {
          val[v] = m;
          PetscCall(sm_ws_push(h, m, 0, v));
        }
      }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_ws_ctx_init(SMGrid grid, SMWsCtx *c)
{
  SMGridInfo g;
  int        q = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  c->grid    = grid;
  c->comm    = sm_grid_comm(grid);
  c->rank    = g.rank;
  c->size    = g.size;
  c->nx      = g.n[0];
  c->ny      = g.n[1];
  c->nz      = g.z_local;
  c->np      = g.n_plane;
  c->next    = (g.z_local + 2) * g.n_plane;
  c->z_start = g.z_start;
  for (int dz = -1; dz <= 1; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        if (!dx && !dy && !dz) continue;
        c->d[q][0] = dx;
        c->d[q][1] = dy;
        c->d[q][2] = dz;
        c->off[q]  = dz * c->np + dy * c->nx + dx;
        q++;
      }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Label propagation along the parents (see the header). parent[v]: bits 0-4 the neighbour code, bit 6 set when the
   chain of parents of v leaves the slab (only those labels can change after the first pass, which resolves every other
   voxel from a marker of the slab, so later passes walk only them), bit 7 the epoch of the last pass that resolved v */
static PetscErrorCode sm_ws_propagate(const SMWsCtx *c, const uint32_t *d, const uint8_t *marker, uint8_t *parent,
                                      int32_t *label)
{
  const int32_t minus1 = -1;
  int64_t      *chain  = NULL;
  size_t        cap    = 0;
  int           any    = 1;

  PetscFunctionBeginUser;
  for (int pass = 1; any; pass++) {
    const uint8_t ep      = (pass & 1) ? 0x80 : 0;
    int           changed = 0;
    PetscCall(sm_ws_exchange(c, label, MPI_INT32_T, sizeof(int32_t), &minus1));
    for (int64_t v = c->np; v < (c->nz + 1) * c->np; v++) {
      size_t  n = 0;
      int64_t u = v;
      int32_t L;
      uint8_t out;
      if (pass > 1 && !(parent[v] & 0x40)) continue;
      if (!d[v] || marker[v] || (parent[v] & 0x80) == ep) continue;
      for (;;) {
        int64_t p;
        if (n == cap) {
          int64_t *nc;
          size_t   ncap = cap ? 2 * cap : 4096;
          PetscCall(PetscMalloc1(ncap, &nc));
          if (n) PetscCall(PetscArraycpy(nc, chain, n));
          PetscCall(PetscFree(chain));
          chain = nc;
          cap   = ncap;
        }
        chain[n++] = u;
        p          = u + c->off[parent[u] & 0x1f];
        if (p < c->np || p >= (c->nz + 1) * c->np) {
          L   = label[p];
          out = 0x40;
          break;
        }
        if (marker[p] || (parent[p] & 0x80) == ep) {
          L   = label[p];
          out = parent[p] & 0x40;
          break;
        }
        u = p;
      }
      for (size_t i = 0; i < n; i++) {
        if (label[chain[i]] != L) changed = 1;
        label[chain[i]]  = L;
        parent[chain[i]] = (uint8_t)((parent[chain[i]] & 0x1f) | out | ep);
      }
    }
    if (c->size == 1 && pass == 1) {
      any = 0;
      break;
    }
    PetscCallMPI(MPI_Allreduce(&changed, &any, 1, MPI_INT, MPI_MAX, c->comm));
  }
  PetscCall(PetscFree(chain));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Index of x in the sorted array L[n] (x must be there, or the index of the first larger element). */
static uint32_t sm_ws_find(const double *L, uint32_t n, double x)
{
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    const uint32_t m = lo + (hi - lo) / 2;
    if (L[m] < x)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

static inline uint64_t sm_ws_hash(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/* The distance of slab voxel i: sqrt of the squared distance map on the set, -inf outside. */
static inline double sm_ws_distance(const uint8_t *mask, const double *d2, int64_t i)
{
  return mask[i] ? sqrt(d2[i]) : -INFINITY;
}

/* The levels (see the header): the distances of the slab's voxels (sm_ws_distance) -> dl (ext array, ghost planes
   left 0) their levels; *nlev levels, 0 = -inf and nlev - 1 = +inf; minus_h[l] = the level of L[l] - h for
   every level l of a distance. The distinct distances of the slab are found with an open-addressing hash table of
   their bit patterns (few thousand values for a cubic grid: the square roots of sums of three squares), gathered from
   all ranks and merged with the values d - h. Collective. */
static PetscErrorCode sm_ws_levels(const SMWsCtx *c, const uint8_t *mask, const double *d2, double h, uint32_t *dl,
                                   uint32_t *nlev, uint32_t **minus_h)
{
  const uint64_t empty = UINT64_MAX; /* a NaN pattern: never a distance */
  uint64_t      *key;
  uint32_t      *lev;
  size_t         cap = 4096, nk = 0;
  double        *loc, *all, *L;
  int64_t        ntot;
  uint32_t       n;
  const int64_t  nl = c->nz * c->np;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(cap, &key, cap, &lev));
  for (size_t i = 0; i < cap; i++) key[i] = empty;
  for (int64_t i = 0; i < nl; i++) {
    const double x = sm_ws_distance(mask, d2, i);
    uint64_t     bits;
    size_t       j;
    if (!(x > -INFINITY)) continue;
    memcpy(&bits, &x, sizeof(bits));
    for (j = sm_ws_hash(bits) & (cap - 1); key[j] != empty && key[j] != bits; j = (j + 1) & (cap - 1));
    if (key[j] == bits) continue;
    key[j] = bits;
    if (++nk * 2 > cap) { /* grow to keep the load below one half */
      uint64_t *nkey;
      uint32_t *nlv;
      PetscCall(PetscMalloc2(2 * cap, &nkey, 2 * cap, &nlv));
      for (size_t t = 0; t < 2 * cap; t++) nkey[t] = empty;
      for (size_t t = 0; t < cap; t++) {
        size_t u;
        if (key[t] == empty) continue;
        for (u = sm_ws_hash(key[t]) & (2 * cap - 1); nkey[u] != empty; u = (u + 1) & (2 * cap - 1));
        nkey[u] = key[t];
      }
      PetscCall(PetscFree2(key, lev));
      key = nkey;
      lev = nlv;
      cap *= 2;
    }
  }
  PetscCall(PetscMalloc1(PetscMax(nk, 1), &loc));
  nk = 0;
  for (size_t t = 0; t < cap; t++)
    if (key[t] != empty) memcpy(&loc[nk++], &key[t], sizeof(double));
  PetscCall(sm_grid_allgather_union(c->grid, loc, (int64_t)nk, &all, &ntot));
  PetscCheck(ntot <= INT_MAX / 2 - 2, c->comm, PETSC_ERR_SUP, "Too many distinct distances for the watershed");
  PetscCall(PetscMalloc1(2 * ntot + 2, &L));
  /* L: the union of the distances U and of U - h, both increasing, merged without repeats between -inf and +inf */
  n      = 0;
  L[n++] = -INFINITY;
  for (int64_t i = 0, j = 0; i < ntot || j < ntot;) {
    const double x = (j >= ntot || (i < ntot && all[i] <= all[j] - h)) ? all[i++] : all[j++] - h;
    if (x != L[n - 1]) L[n++] = x;
  }
  L[n++] = INFINITY;
  for (size_t t = 0; t < cap; t++)
    if (key[t] != empty) {
      double x;
      memcpy(&x, &key[t], sizeof(double));
      lev[t] = sm_ws_find(L, n, x);
    }
  for (int64_t i = 0; i < nl; i++) {
    const double x = sm_ws_distance(mask, d2, i);
    uint64_t     bits;
    size_t       j;
    if (!(x > -INFINITY)) {
      dl[c->np + i] = 0;
      continue;
    }
    memcpy(&bits, &x, sizeof(bits));
    for (j = sm_ws_hash(bits) & (cap - 1); key[j] != bits; j = (j + 1) & (cap - 1));
    dl[c->np + i] = lev[j];
  }
  PetscCall(PetscMalloc1(n, minus_h));
  for (uint32_t l = 0; l < n; l++) (*minus_h)[l] = (l == 0 || l == n - 1) ? l : sm_ws_find(L, n, L[l] - h);
  *nlev = n;
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(L));
  PetscCall(PetscFree(loc));
  PetscCall(PetscFree2(key, lev));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_watershed(SMGrid grid, const uint8_t *mask, double marker_height, int64_t *label,
                                  int64_t *nparticles)
{
  SMGridInfo g;
  double    *d2;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(PetscMalloc1(g.n_local, &d2));
  PetscCall(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 7, d2));
  PetscCall(sm_shape_watershed_d2(grid, mask, d2, marker_height, label, nparticles));
  PetscCall(PetscFree(d2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_watershed_d2(SMGrid grid, const uint8_t *mask, const double *d2, double marker_height,
                                     int64_t *label, int64_t *nparticles)
{
  SMWsCtx        c;
  SMGridInfo     g;
  SMWsQueue      heap;
  SMComponents   cc = {0};
  uint32_t      *d, *R, *Q, *b, *minus_h, nlev = 0;
  int32_t       *lab, *k;
  uint8_t       *marker, *parent, *mslab;
  int64_t       *comp, missing = 0;
  const uint32_t ninf = 0;

  PetscFunctionBeginUser;
  PetscCheck(marker_height >= 0 && isfinite(marker_height), sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE,
             "-shape_marker_height must be a non-negative length in um (got %g)", marker_height);
  PetscCall(sm_ws_ctx_init(grid, &c));
  PetscCall(sm_grid_get_info(grid, &g));

  /* 1. distances, as levels */
  PetscCall(PetscMalloc1(c.next, &d));
  PetscCall(sm_ws_levels(&c, mask, d2, marker_height, d, &nlev, &minus_h));
  PetscCall(sm_ws_exchange(&c, d, MPI_UINT32_T, sizeof(uint32_t), &ninf));
  PetscCall(sm_ws_queue_create(nlev, &heap));
  PetscCall(PetscMalloc1(c.next, &R));
  PetscCall(PetscMalloc1(c.next, &Q));

  /* 2. h-maxima transform; with h = 0 the sources are d itself, which no path exceeds, so R = d (ghost planes too) */
  if (marker_height == 0) {
    PetscCall(PetscArraycpy(R, d, c.next));
  } else {
    for (int64_t v = 0; v < c.next; v++) R[v] = (v >= c.np && v < (c.nz + 1) * c.np && d[v]) ? minus_h[d[v]] : 0;
    PetscCall(sm_ws_scans(&c, &heap, d, R));
    PetscCall(sm_ws_solve(&c, &heap, d, R));
  }
  PetscCall(PetscFree(minus_h));

  /* 3. regional maxima of R (R's ghost planes are current after the solve) */
  for (int64_t v = 0; v < c.next; v++) Q[v] = 0;
  for (int64_t z = 1; z <= c.nz; z++)
    for (int64_t y = 0; y < c.ny; y++)
      for (int64_t x = 0; x < c.nx; x++) {
        const int64_t v     = z * c.np + y * c.nx + x;
        const int     inner = x > 0 && y > 0 && x < c.nx - 1 && y < c.ny - 1;
        if (!R[v]) continue;
        for (int q = 0; q < 26; q++) {
          if (!inner) {
            const int64_t xx = x + c.d[q][0], yy = y + c.d[q][1];
            if (xx < 0 || yy < 0 || xx >= c.nx || yy >= c.ny) continue;
          }
          if (R[v + c.off[q]] > R[v]) {
            Q[v] = R[v];
            break;
          }
        }
      }
  /* The exits have Q = R, which nothing exceeds, and can only raise the others: instead of queueing every exit, each
     other voxel of the slab takes its value from its neighbours in the slab (the same relaxation the exits' pops
     would make) and is queued if that is positive; the flood goes on from there (a few per cent of the set). */
  for (int64_t z = 1; z <= c.nz; z++)
    for (int64_t y = 0; y < c.ny; y++)
      for (int64_t x = 0; x < c.nx; x++) {
        const int64_t v     = z * c.np + y * c.nx + x;
        const int     inner = x > 0 && y > 0 && x < c.nx - 1 && y < c.ny - 1;
        uint32_t      m     = 0;
        if (!R[v] || Q[v]) continue;
        for (int q = 0; q < 26; q++) { /* Q is 0 on the ghost planes: only the box's sides need a test */
          if (!inner) {
            const int64_t xx = x + c.d[q][0], yy = y + c.d[q][1];
            if (xx < 0 || yy < 0 || xx >= c.nx || yy >= c.ny) continue;
          }
          m = PetscMax(m, Q[v + c.off[q]]);
        }
        if (m > R[v]) m = R[v];
        if (m) {
          Q[v] = m;
          PetscCall(sm_ws_push(&heap, m, 0, v));
        }
      }
  PetscCall(sm_ws_solve(&c, &heap, R, Q));
  PetscCall(PetscMalloc3(c.next, &marker, c.next, &parent, g.n_local, &mslab));
  PetscCall(PetscArrayzero(marker, c.next));
  PetscCall(PetscArrayzero(parent, c.next));
  for (int64_t i = 0; i < g.n_local; i++)
    mslab[i] = marker[c.np + i] = (uint8_t)(d[c.np + i] && Q[c.np + i] < R[c.np + i]);
  PetscCall(PetscMalloc1(g.n_local, &comp));
  PetscCall(sm_morph_components(grid, mslab, 26, comp, &cc));
  PetscCheck(cc.ncomponents < INT32_MAX, c.comm, PETSC_ERR_SUP, "%lld watershed markers: at most %d are supported",
             (long long)cc.ncomponents, INT32_MAX - 1);

  /* 4. the key (b, k) of the watershed flood: b the reconstruction of the markers (level of +inf) under d, from R in
     its place (see sm_ws_raise); then k. Q becomes the labels. */
  b   = R;
  lab = (int32_t *)Q;
  for (int64_t v = 0; v < c.next; v++) lab[v] = -1;
  for (int64_t i = 0; i < g.n_local; i++)
    if (mslab[i]) {
      b[c.np + i]   = nlev - 1;
      lab[c.np + i] = (int32_t)comp[i];
    }
  PetscCall(PetscFree(comp));
  PetscCall(sm_ws_raise(&c, &heap, d, b));
  PetscCall(sm_ws_solve(&c, &heap, d, b));
  PetscCall(PetscMalloc1(c.next, &k));
  PetscCall(sm_ws_steps(&c, &heap, b, marker, k));

  /* 5. parents and labels (the ghost planes of d, b and k are current) */
  for (int64_t z = 1; z <= c.nz; z++)
    for (int64_t y = 0; y < c.ny; y++)
      for (int64_t x = 0; x < c.nx; x++) {
        const int64_t v = z * c.np + y * c.nx + x;
        int           bq;
        if (!d[v] || marker[v]) continue;
        if (k[v] == INT32_MAX) { /* unset: no path from a marker (and no neighbour of equal b has a finite k) */
          missing++;
          continue;
        }
        if (x > 0 && y > 0 && x < c.nx - 1 && y < c.ny - 1)
          bq = sm_ws_parent_of(&c, d, b, k, v, 1, x, y);
        else
          bq = sm_ws_parent_of(&c, d, b, k, v, 0, x, y);
        if (bq < 0)
          missing++;
        else
          parent[v] = (uint8_t)bq;
      }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, c.comm));
  PetscCheck(!missing, c.comm, PETSC_ERR_PLIB, "Watershed: %lld voxels were not reached from any marker",
             (long long)missing);
  PetscCall(PetscFree(k));
  PetscCall(PetscFree(R));
  PetscCall(sm_ws_propagate(&c, d, marker, parent, lab));
  PetscCall(PetscFree(d));
  for (int64_t i = 0; i < g.n_local; i++) {
    label[i] = lab[c.np + i];
    if (mask[i] && label[i] < 0) missing++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, c.comm));
  PetscCheck(!missing, c.comm, PETSC_ERR_PLIB, "Watershed: %lld voxels got no label", (long long)missing);
  *nparticles = cc.ncomponents;
  PetscCall(sm_morph_components_free(&cc));
  PetscCall(PetscFree3(marker, parent, mslab));
  PetscCall(PetscFree(Q));
  PetscCall(sm_ws_queue_destroy(&heap));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_shape_ghost_labels(SMGrid grid, const int64_t *slab, int64_t *ext)
{
  SMWsCtx       c;
  const int64_t minus1 = -1;

  PetscFunctionBeginUser;
  PetscCall(sm_ws_ctx_init(grid, &c));
  PetscCall(PetscArraycpy(ext + c.np, slab, (size_t)(c.nz * c.np)));
  PetscCall(sm_ws_exchange(&c, ext, MPI_INT64_T, sizeof(int64_t), &minus1));
  PetscFunctionReturn(PETSC_SUCCESS);
}
