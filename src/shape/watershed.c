/* Marker-controlled watershed of a set on its distance map, distributed over the z-slabs (SPEC 7, step 1).
 *
 * Every step is a "flood": a maximum-bottleneck search, value(v) = the largest, over 26-paths from a source u to v, of
 * min(value(u), smallest f on the path after u). Inside a slab it is Dijkstra's algorithm with a binary max-heap (a
 * valid greedy order because extending a path by one voxel never raises its value); across slabs the two ghost planes
 * are exchanged, their voxels pushed as sources, and the local search resumed, until no rank changes a value (the
 * values only increase, so this terminates; each round costs two plane exchanges and an Allreduce, and the number of
 * rounds is the number of slab crossings of the longest chain of improvements, a few in practice). The fixed point is
 * unique, so the results do not depend on the rank count or on the order of the heap.
 *   1. d = sqrt(EDT) [um] of the set (border not an obstacle), -inf outside.
 *   2. h-maxima transform: R = reconstruction by dilation of d - h under d (flood with sources d - h everywhere).
 *   3. Regional maxima of R: flood over R from the "exits" (voxels with a higher neighbour), Q; a voxel belongs to a
 *      regional maximum iff Q < R (no path inside its plateau reaches an exit). Values are copied, never recomputed,
 *      so the comparison is exact. Markers = 26-connected components of the regional maxima (sm_morph_components).
 *   4. Watershed flood from the markers (value +inf there) over d with the lexicographic key (b, k): b the bottleneck
 *      as above, k the number of steps since the path last went down to the level b (fewer is better). This is the
 *      order in which Meyer's priority flood (a FIFO queue per level) reaches the voxels; extending a path never
 *      improves its key, so the Dijkstra search is again exact.
 *   5. Parent of a voxel: among the neighbours through which it attains its key, the one Meyer's flood would have
 *      processed first (best key; then the largest d, a step up the distance map; then the smallest global index);
 *      its label is the label of its parent (markers: the marker number). Parents precede their children in key
 *      order, so the parent graph is a forest rooted at the markers; labels are propagated along it with path
 *      walking inside each slab and ghost-plane exchanges of labels until nothing changes.
 * Memory, per voxel of the slab (with two ghost planes): d, R/b and Q/label as doubles or int64 (24 bytes), k (4),
 * marker and parent bytes (2), the components' int64 labels (8, freed before step 4), the heap (24 bytes per queued
 * voxel; step 2 queues every voxel of the set) and the EDT's own work space: about 64 bytes per voxel at the peak. */
#include "shape_impl.h"
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <math.h>
#include <string.h>

typedef struct {
  double  b;
  int32_t k;
  int64_t v;
} SMWsEntry;

typedef struct {
  SMWsEntry *e;
  size_t     n, cap;
} SMWsHeap;

typedef struct {
  SMGrid      grid;
  MPI_Comm    comm;
  PetscMPIInt rank, size;
  int64_t     nx, ny, nz, np, next, z_start; /* nz: local planes; next: (nz + 2) np, the array with ghost planes */
  int64_t     off[26];
  int         d[26][3];
} SMWsCtx;

static inline int sm_ws_better(double b1, int32_t k1, double b2, int32_t k2)
{
  return b1 > b2 || (b1 == b2 && k1 < k2);
}

static PetscErrorCode sm_ws_push(SMWsHeap *h, double b, int32_t k, int64_t v)
{
  size_t i;

  PetscFunctionBeginUser;
  if (h->n == h->cap) {
    size_t     cap = h->cap ? 2 * h->cap : 1024;
    SMWsEntry *e;
    PetscCall(PetscMalloc1(cap, &e));
    if (h->n) PetscCall(PetscArraycpy(e, h->e, h->n));
    PetscCall(PetscFree(h->e));
    h->e   = e;
    h->cap = cap;
  }
  i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!sm_ws_better(b, k, h->e[p].b, h->e[p].k)) break;
    h->e[i] = h->e[p];
    i       = p;
  }
  h->e[i] = (SMWsEntry){b, k, v};
  PetscFunctionReturn(PETSC_SUCCESS);
}

static SMWsEntry sm_ws_pop(SMWsHeap *h)
{
  SMWsEntry top = h->e[0], last = h->e[--h->n];
  size_t    i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && sm_ws_better(h->e[c + 1].b, h->e[c + 1].k, h->e[c].b, h->e[c].k)) c++;
    if (!sm_ws_better(h->e[c].b, h->e[c].k, last.b, last.k)) break;
    h->e[i] = h->e[c];
    i       = c;
  }
  if (h->n) h->e[i] = last;
  return top;
}

/* Local search from the queued sources; targets are voxels of the slab's own planes with f > -inf that are not fixed.
   k == NULL: the value-only flood. */
static PetscErrorCode sm_ws_run(const SMWsCtx *c, SMWsHeap *h, const double *f, double *val, int32_t *k,
                                const uint8_t *fixed, PetscBool *changed)
{
  PetscFunctionBeginUser;
  while (h->n) {
    const SMWsEntry e = sm_ws_pop(h);
    int64_t         x, y, z;
    if (e.b != val[e.v] || (k && e.k != k[e.v])) continue; /* stale entry */
    x = e.v % c->nx;
    y = (e.v / c->nx) % c->ny;
    z = e.v / c->np;
    for (int q = 0; q < 26; q++) {
      const int64_t xx = x + c->d[q][0], yy = y + c->d[q][1], zz = z + c->d[q][2], w = e.v + c->off[q];
      double        cb;
      int32_t       ck;
      if (xx < 0 || yy < 0 || xx >= c->nx || yy >= c->ny || zz < 1 || zz > c->nz) continue;
      if (!(f[w] > -INFINITY) || (fixed && fixed[w])) continue;
      cb = PetscMin(e.b, f[w]);
      ck = (k && cb == e.b) ? e.k + 1 : 0;
      if (cb > val[w] || (k && cb == val[w] && ck < k[w])) {
        val[w] = cb;
        if (k) k[w] = ck;
        *changed = PETSC_TRUE;
        PetscCall(sm_ws_push(h, cb, ck, w));
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
static PetscErrorCode sm_ws_solve(const SMWsCtx *c, SMWsHeap *h, const double *f, double *val, int32_t *k,
                                  const uint8_t *fixed)
{
  const double  ninf    = -INFINITY;
  const int32_t zero    = 0;
  PetscBool     changed = PETSC_FALSE;
  int           any     = 1;

  PetscFunctionBeginUser;
  PetscCall(sm_ws_run(c, h, f, val, k, fixed, &changed));
  while (any) {
    int mine;
    PetscCall(sm_ws_exchange(c, val, MPI_DOUBLE, sizeof(double), &ninf));
    if (k) PetscCall(sm_ws_exchange(c, k, MPI_INT32_T, sizeof(int32_t), &zero));
    if (c->size == 1) break;
    for (int g = 0; g < 2; g++) {
      const int64_t base = g ? (c->nz + 1) * c->np : 0;
      for (int64_t i = 0; i < c->np; i++)
        if (val[base + i] > -INFINITY) PetscCall(sm_ws_push(h, val[base + i], k ? k[base + i] : 0, base + i));
    }
    changed = PETSC_FALSE;
    PetscCall(sm_ws_run(c, h, f, val, k, fixed, &changed));
    mine = changed ? 1 : 0;
    PetscCallMPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, c->comm));
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

/* Label propagation along the parents (see the header). parent[v]: bits 0-4 the neighbour code, bit 7 the epoch of
   the last pass that resolved v. */
static PetscErrorCode sm_ws_propagate(const SMWsCtx *c, const double *d, const uint8_t *marker, uint8_t *parent,
                                      int64_t *label)
{
  const int64_t minus1 = -1;
  int64_t      *chain  = NULL;
  size_t        cap    = 0;
  int           any    = 1;

  PetscFunctionBeginUser;
  for (int pass = 1; any; pass++) {
    const uint8_t ep      = (pass & 1) ? 0x80 : 0;
    int           changed = 0;
    PetscCall(sm_ws_exchange(c, label, MPI_INT64_T, sizeof(int64_t), &minus1));
    for (int64_t v = c->np; v < (c->nz + 1) * c->np; v++) {
      size_t  n = 0;
      int64_t u = v, L;
      if (!(d[v] > -INFINITY) || marker[v] || (parent[v] & 0x80) == ep) continue;
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
        if (p < c->np || p >= (c->nz + 1) * c->np || marker[p] || (parent[p] & 0x80) == ep) {
          L = label[p];
          break;
        }
        u = p;
      }
      for (size_t i = 0; i < n; i++) {
        if (label[chain[i]] != L) changed = 1;
        label[chain[i]]  = L;
        parent[chain[i]] = (uint8_t)((parent[chain[i]] & 0x1f) | ep);
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

PetscErrorCode sm_shape_watershed(SMGrid grid, const uint8_t *mask, double marker_height, int64_t *label,
                                  int64_t *nparticles)
{
  SMWsCtx      c;
  SMGridInfo   g;
  SMWsHeap     heap = {NULL, 0, 0};
  SMComponents cc   = {0};
  double      *d, *R, *Q;
  int32_t     *k;
  uint8_t     *marker, *parent, *mslab;
  int64_t     *comp, *lab, missing = 0;
  const double ninf = -INFINITY;

  PetscFunctionBeginUser;
  PetscCheck(marker_height >= 0 && isfinite(marker_height), sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE,
             "-shape_marker_height must be a non-negative length in um (got %g)", marker_height);
  PetscCall(sm_ws_ctx_init(grid, &c));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(PetscMalloc3(c.next, &d, c.next, &R, c.next, &Q));

  /* 1. distances */
  PetscCall(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 7, d + c.np));
  for (int64_t i = 0; i < g.n_local; i++) d[c.np + i] = mask[i] ? sqrt(d[c.np + i]) : -INFINITY;
  PetscCall(sm_ws_exchange(&c, d, MPI_DOUBLE, sizeof(double), &ninf));

  /* 2. h-maxima transform */
  for (int64_t v = 0; v < c.next; v++) R[v] = -INFINITY;
  for (int64_t v = c.np; v < (c.nz + 1) * c.np; v++)
    if (d[v] > -INFINITY) {
      R[v] = d[v] - marker_height;
      PetscCall(sm_ws_push(&heap, R[v], 0, v));
    }
  PetscCall(sm_ws_solve(&c, &heap, d, R, NULL, NULL));

  /* 3. regional maxima of R (R's ghost planes are current after the solve) */
  for (int64_t v = 0; v < c.next; v++) Q[v] = -INFINITY;
  for (int64_t v = c.np; v < (c.nz + 1) * c.np; v++) {
    const int64_t x = v % c.nx, y = (v / c.nx) % c.ny;
    if (!(R[v] > -INFINITY)) continue;
    for (int q = 0; q < 26; q++) {
      const int64_t xx = x + c.d[q][0], yy = y + c.d[q][1];
      if (xx < 0 || yy < 0 || xx >= c.nx || yy >= c.ny) continue;
      if (R[v + c.off[q]] > R[v]) {
        Q[v] = R[v];
        PetscCall(sm_ws_push(&heap, Q[v], 0, v));
        break;
      }
    }
  }
  PetscCall(sm_ws_solve(&c, &heap, R, Q, NULL, NULL));
  PetscCall(PetscMalloc3(c.next, &marker, c.next, &parent, g.n_local, &mslab));
  PetscCall(PetscArrayzero(marker, c.next));
  PetscCall(PetscArrayzero(parent, c.next));
  for (int64_t i = 0; i < g.n_local; i++)
    mslab[i] = marker[c.np + i] = (uint8_t)(d[c.np + i] > -INFINITY && Q[c.np + i] < R[c.np + i]);
  PetscCall(PetscMalloc1(g.n_local, &comp));
  PetscCall(sm_morph_components(grid, mslab, 26, comp, &cc));

  /* 4. the watershed flood: R becomes b, Q becomes the labels */
  lab = (int64_t *)Q;
  PetscCall(PetscMalloc1(c.next, &k));
  for (int64_t v = 0; v < c.next; v++) {
    R[v]   = -INFINITY;
    k[v]   = 0;
    lab[v] = -1;
  }
  for (int64_t i = 0; i < g.n_local; i++)
    if (mslab[i]) {
      R[c.np + i]   = INFINITY;
      lab[c.np + i] = comp[i];
      PetscCall(sm_ws_push(&heap, INFINITY, 0, c.np + i));
    }
  PetscCall(PetscFree(comp));
  PetscCall(sm_ws_solve(&c, &heap, d, R, k, marker));

  /* 5. parents and labels */
  for (int64_t v = c.np; v < (c.nz + 1) * c.np; v++) {
    const int64_t x = v % c.nx, y = (v / c.nx) % c.ny, z = v / c.np;
    int64_t       best = INT64_MAX;
    int           bq   = -1;
    double        bb = -INFINITY, bd = -INFINITY;
    int32_t       bk = 0;
    if (!(d[v] > -INFINITY) || marker[v]) continue;
    for (int q = 0; q < 26; q++) {
      const int64_t xx = x + c.d[q][0], yy = y + c.d[q][1], zz = z + c.d[q][2], u = v + c.off[q];
      double        cb;
      int32_t       ck;
      int64_t       gi;
      if (xx < 0 || yy < 0 || xx >= c.nx || yy >= c.ny || !(R[u] > -INFINITY)) continue;
      cb = PetscMin(R[u], d[v]);
      ck = cb == R[u] ? k[u] + 1 : 0;
      if (cb != R[v] || ck != k[v]) continue;
      gi = ((c.z_start + zz - 1) * c.ny + yy) * c.nx + xx;
      /* Meyer's flood labels v from the neighbour that was processed first: the best (b, k), then the deepest (a step
         up the distance map), then the smallest global index */
      if (bq < 0 || sm_ws_better(R[u], k[u], bb, bk) ||
          (R[u] == bb && k[u] == bk && (d[u] > bd || (d[u] == bd && gi < best)))) {
        best = gi;
        bq   = q;
        bb   = R[u];
        bk   = k[u];
        bd   = d[u];
      }
    }
    if (bq < 0)
      missing++;
    else
      parent[v] = (uint8_t)bq;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, c.comm));
  PetscCheck(!missing, c.comm, PETSC_ERR_PLIB, "Watershed: %lld voxels were not reached from any marker",
             (long long)missing);
  PetscCall(sm_ws_propagate(&c, d, marker, parent, lab));
  for (int64_t i = 0; i < g.n_local; i++) {
    label[i] = lab[c.np + i];
    if (mask[i] && label[i] < 0) missing++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, c.comm));
  PetscCheck(!missing, c.comm, PETSC_ERR_PLIB, "Watershed: %lld voxels got no label", (long long)missing);
  *nparticles = cc.ncomponents;
  PetscCall(sm_morph_components_free(&cc));
  PetscCall(PetscFree(k));
  PetscCall(PetscFree3(marker, parent, mslab));
  PetscCall(PetscFree3(d, R, Q));
  PetscCall(PetscFree(heap.e));
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
