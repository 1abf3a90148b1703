/* Path maps on the 26-neighbourhood graph of the voxel centres (SPEC 5): geodesic distance (min-plus) from a face
 * plane, bottleneck map (max-min) from a face plane, and the mean geodesic tortuosity built on the former.
 *
 * Algorithm: Dijkstra's label-setting method (E. W. Dijkstra, Numer. Math. 1 (1959) 269) with an indexed binary heap,
 * run independently on each rank's z-slab, with the ghost planes just below and above the slab (received from ranks
 * r - 1 and r + 1) acting as extra sources. After each local pass the ranks exchange their first and last planes; a
 * ghost voxel whose value improved re-seeds its (up to 9) local neighbours, and the next pass starts from those only
 * (values only ever improve, so an incremental Dijkstra from the improved voxels is enough). The loop ends when no
 * rank improved any voxel (an MPI_Allreduce of a flag). This is a distributed Bellman-Ford over slabs with exact
 * Dijkstra inside each slab; an axis-z front needs at least one round per rank, axes x and y usually a few.
 *
 * Exactness. Geodesic: every value written is fl(d[u] + w) for a neighbour u, i.e. the left-to-right floating-point
 * sum of the step lengths of some path from the source plane; the relaxation x -> fl(x + w) is monotone and strictly
 * increasing (w >= min h > 0 and distances stay far below w / eps), so by Knuth's generalisation of Dijkstra
 * (D. E. Knuth, Inf. Process. Lett. 6 (1977) 1) the fixed point d[v] = min_u fl(d[u] + w(u, v)) is unique and equals
 * the minimum over all paths of their floating-point path sums. Any order of relaxations that reaches a fixed point
 * (one rank, many ranks, or a Bellman-Ford sweep) therefore returns the same bits: the result does not depend on the
 * rank count. It differs from the real-number shortest path length only by the rounding of the sums along the
 * optimal path (a few ulps times the number of steps; paths of equal real length may round differently, and the
 * smaller rounded one wins). Bottleneck: min and max are exact, so Dijkstra with a max-heap gives the exact max-min
 * path value (a widest-path problem, M. Pollack, Oper. Res. 8 (1960) 733), bitwise the same at any rank count.
 *
 * Memory: besides the output, a uint32 position array (4 bytes per voxel), a heap that grows with the front (uint32
 * local indices, plus a copy of the keys for the geodesic map, whose front is a thin shell: about 0.5 % of the slab
 * at 200^3; the bottleneck front can hold most of the set, so its heap stays at 4 bytes per entry), and four ghost
 * planes of doubles. Worst cases: 8 bytes per voxel (bottleneck), 16 (geodesic, only if the front filled the slab). */
#include <math.h>
#include <string.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>

typedef enum { SM_PATH_GEODESIC = 0, SM_PATH_BOTTLENECK = 1 } SMPathKind;

#define SM_PATH_NOT_IN_HEAP UINT32_MAX

/* Work space of one path computation on this rank's slab. */
typedef struct {
  int64_t       nx, ny, nz, np, n; /* slab sizes: x, y, local z planes, plane, voxels */
  int64_t       off[26];           /* linear offsets of the 26 neighbours */
  double        len[26];           /* geodesic: step lengths of the 26 neighbours */
  int           dxyz[26][3];
  double       *val;        /* output: distance (negative = not in the set) or bottleneck value */
  const double *f;          /* bottleneck: the function */
  uint32_t     *heap, *pos; /* indexed binary heap of local indices; pos[v] = slot of v or SM_PATH_NOT_IN_HEAP */
  double       *hkey;       /* geodesic only: hkey[i] = val[heap[i]], see sm_heap_key */
  int64_t       hsize, hcap;
} SMPathCtx;

/* a comes out of the heap before b: the smaller distance first (min-plus) or the larger value first (max-min) */
static inline int sm_path_before(SMPathKind kind, double a, double b)
{
  return kind == SM_PATH_GEODESIC ? a < b : a > b;
}

/* Key of heap slot i. The geodesic front is a thin shell (distances within one step of the current one), so a copy of
   the keys next to the indices is small and makes sifting read contiguous memory instead of scattered val (twice as
   fast at 200^3). The max-min front is not thin (at 200^3 the heap holds most of the set), so the bottleneck heap
   keeps 4 bytes per entry and reads val. */
static inline double sm_heap_key(const SMPathCtx *c, SMPathKind kind, int64_t i)
{
  return kind == SM_PATH_GEODESIC ? c->hkey[i] : c->val[c->heap[i]];
}

static inline void sm_heap_set(SMPathCtx *c, SMPathKind kind, int64_t i, uint32_t v, double key)
{
  c->heap[i] = v;
  if (kind == SM_PATH_GEODESIC) c->hkey[i] = key;
  c->pos[v] = (uint32_t)i;
}

/* Move v (whose key just improved) up from heap slot i. */
static inline void sm_heap_up(SMPathCtx *c, SMPathKind kind, uint32_t v, int64_t i)
{
  const double kv = c->val[v];
  while (i > 0) {
    const int64_t p  = (i - 1) >> 1;
    const double  kp = sm_heap_key(c, kind, p);
    if (!sm_path_before(kind, kv, kp)) break;
    sm_heap_set(c, kind, i, c->heap[p], kp);
    i = p;
  }
  sm_heap_set(c, kind, i, v, kv);
}

/* Insert v, or restore the heap order after its key improved. */
static inline void sm_heap_update(SMPathCtx *c, SMPathKind kind, uint32_t v)
{
  if (c->pos[v] == SM_PATH_NOT_IN_HEAP)
    sm_heap_up(c, kind, v, c->hsize++);
  else
    sm_heap_up(c, kind, v, c->pos[v]);
}

static inline uint32_t sm_heap_pop(SMPathCtx *c, SMPathKind kind)
{
  const uint32_t top  = c->heap[0];
  const int64_t  n    = --c->hsize;
  const uint32_t last = c->heap[n];
  const double   kl   = sm_heap_key(c, kind, n);
  int64_t        i    = 0;

  c->pos[top] = SM_PATH_NOT_IN_HEAP;
  if (n == 0) return top;
  for (;;) { /* sift the hole at the root down, then drop the last element into it */
    int64_t ch = 2 * i + 1;
    double  kc;
    if (ch >= n) break;
    kc = sm_heap_key(c, kind, ch);
    if (ch + 1 < n) {
      const double k1 = sm_heap_key(c, kind, ch + 1);
      if (sm_path_before(kind, k1, kc)) ch++, kc = k1;
    }
    if (!sm_path_before(kind, kc, kl)) break;
    sm_heap_set(c, kind, i, c->heap[ch], kc);
    i = ch;
  }
  sm_heap_set(c, kind, i, last, kl);
  return top;
}

/* Relax the edge from a voxel of value du to local voxel v of step k: improve val[v] and queue v. Non-set voxels
   never improve: geodesic keeps them at -1 (no candidate is smaller), bottleneck has min(du, f[v]) <= 0 = val[v]
   (a NaN f compares false and is likewise left out). */
static inline void sm_path_relax(SMPathCtx *c, SMPathKind kind, double du, int64_t v, int k)
{
  if (kind == SM_PATH_GEODESIC) {
    const double cand = du + c->len[k];
    if (cand < c->val[v]) {
      c->val[v] = cand;
      sm_heap_update(c, kind, (uint32_t)v);
    }
  } else {
    const double fv = c->f[v], cand = du <= fv ? du : fv;
    if (cand > c->val[v]) {
      c->val[v] = cand;
      sm_heap_update(c, kind, (uint32_t)v);
    }
  }
}

/* Room for `extra` more heap entries. The heap grows by doubling: it holds the front, usually far smaller than the
   slab, and never more than the slab's n voxels (each voxel is queued at most once). */
static PetscErrorCode sm_heap_reserve(SMPathCtx *c, int64_t extra)
{
  PetscFunctionBeginUser;
  if (c->hsize + extra > c->hcap && c->hcap < c->n) {
    int64_t cap = PetscMin(c->n, PetscMax(2 * c->hcap, c->hsize + extra));
    PetscCall(PetscRealloc((size_t)cap * sizeof(uint32_t), &c->heap));
    if (c->hkey) PetscCall(PetscRealloc((size_t)cap * sizeof(double), &c->hkey));
    c->hcap = cap;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Dijkstra on the slab until the heap is empty. Edges into the ghost planes are not followed: those voxels belong to
   the neighbouring ranks, which receive this rank's boundary planes instead. */
static inline PetscErrorCode sm_path_run(SMPathCtx *c, SMPathKind kind)
{
  const int64_t nx = c->nx, ny = c->ny, nz = c->nz, np = c->np;

  PetscFunctionBeginUser;
  while (c->hsize > 0) {
    const uint32_t u  = sm_heap_pop(c, kind);
    const double   du = c->val[u];
    const int64_t  z = (int64_t)u / np, r = (int64_t)u - z * np, y = r / nx, x = r - y * nx;
    if (c->hsize + 26 > c->hcap) PetscCall(sm_heap_reserve(c, 26));
    if (x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 && z < nz - 1) {
      for (int k = 0; k < 26; k++) sm_path_relax(c, kind, du, (int64_t)u + c->off[k], k);
    } else {
      for (int k = 0; k < 26; k++) {
        const int64_t xx = x + c->dxyz[k][0], yy = y + c->dxyz[k][1], zz = z + c->dxyz[k][2];
        if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
        sm_path_relax(c, kind, du, (int64_t)u + c->off[k], k);
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two instances, so that the compiler specialises the inner loops for each kind. */
static PetscErrorCode sm_path_run_geodesic(SMPathCtx *c)
{
  return sm_path_run(c, SM_PATH_GEODESIC);
}
static PetscErrorCode sm_path_run_bottleneck(SMPathCtx *c)
{
  return sm_path_run(c, SM_PATH_BOTTLENECK);
}

/* Seed the local plane next to a ghost plane (dz = +1: ghost below the slab, seeds plane 0; dz = -1: ghost above,
   seeds the last plane) from the ghost voxels whose value improved since the last round; old is updated. */
static PetscErrorCode sm_path_seed_from_ghost(SMPathCtx *c, SMPathKind kind, const double *ghost, double *old, int dz)
{
  const int64_t nx = c->nx, ny = c->ny, zl = dz > 0 ? 0 : c->nz - 1;

  PetscFunctionBeginUser;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      const int64_t g  = y * nx + x;
      const double  gv = ghost[g];
      /* geodesic ghosts carry -1 off the set and INFINITY where unreached; bottleneck ghosts 0 for both */
      if (kind == SM_PATH_GEODESIC ? !(gv >= 0.0 && gv < old[g]) : !(gv > old[g])) continue;
      old[g] = gv;
      PetscCall(sm_heap_reserve(c, 9));
      for (int k = 0; k < 26; k++) {
        const int64_t xx = x + c->dxyz[k][0], yy = y + c->dxyz[k][1];
        if (c->dxyz[k][2] != dz || xx < 0 || xx >= nx || yy < 0 || yy >= ny) continue;
        sm_path_relax(c, kind, gv, (zl * ny + yy) * nx + xx, k);
      }
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* This rank's first plane goes to rank - 1 (its plane above), the last plane to rank + 1 (its plane below); slabs
   are ordered by rank and the box is not periodic. A missing neighbour leaves the ghost untouched. */
static PetscErrorCode sm_path_exchange(MPI_Comm comm, PetscMPIInt rank, PetscMPIInt size, int count,
                                       const double *first, const double *last, double *below, double *above)
{
  const PetscMPIInt down = rank > 0 ? rank - 1 : MPI_PROC_NULL, up = rank + 1 < size ? rank + 1 : MPI_PROC_NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(
      MPI_Sendrecv(first, count, MPI_DOUBLE, down, 21, above, count, MPI_DOUBLE, up, 21, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(
      MPI_Sendrecv(last, count, MPI_DOUBLE, up, 22, below, count, MPI_DOUBLE, down, 22, comm, MPI_STATUS_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The common driver: initialise, seed the source plane, then local Dijkstra passes and ghost exchanges until no rank
   changes. mask (geodesic) or f (bottleneck) is this rank's slab; out receives the map. */
static PetscErrorCode sm_path_solve(SMGrid grid, SMPathKind kind, const uint8_t *mask, const double *f, int axis,
                                    int side, double *out)
{
  MPI_Comm   comm = sm_grid_comm(grid);
  SMGridInfo info;
  SMPathCtx  c;
  double    *gb, *gb_old, *ga, *ga_old;
  int64_t    p;
  int        count, rounds = 0, k = 0;
  double     t0 = sm_sys_wtime();

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCheck(axis >= 0 && axis <= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Path map axis must be 0 (x), 1 (y) or 2 (z), got %d", axis);
  PetscCheck(side == 0 || side == 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Path map side must be 0 (plane at index 0) or 1 (plane at index n-1), got %d", side);
  PetscCheck(kind == SM_PATH_GEODESIC ? mask != NULL : f != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "Path map input array is NULL; pass this rank's slab [z_local][ny][nx]");
  PetscCheck(out != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Path map output array is NULL");
  /* local indices live in uint32 heap entries, with UINT32_MAX reserved for "not queued" */
  PetscCheck(info.n_local < (int64_t)UINT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP,
             "Path maps index a slab with 32-bit integers, but this rank holds %lld voxels; run on more ranks",
             (long long)info.n_local);
  PetscCall(sm_int64_to_int(info.n_plane, &count));

  memset(&c, 0, sizeof(c));
  c.nx  = info.n[0];
  c.ny  = info.n[1];
  c.nz  = info.z_local;
  c.np  = info.n_plane;
  c.n   = info.n_local;
  c.val = out;
  c.f   = f;
  for (int dz = -1; dz <= 1; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        if (!dx && !dy && !dz) continue;
        c.dxyz[k][0] = dx;
        c.dxyz[k][1] = dy;
        c.dxyz[k][2] = dz;
        c.off[k]     = (dz * c.ny + dy) * c.nx + dx;
        c.len[k]     = sqrt(PetscSqr(dx * (double)info.h[0]) + PetscSqr(dy * (double)info.h[1]) +
                            PetscSqr(dz * (double)info.h[2]));
        k++;
      }
  c.hcap = PetscMin(c.n, PetscMax(64, c.np));
  PetscCall(PetscMalloc1((size_t)c.hcap, &c.heap));
  if (kind == SM_PATH_GEODESIC) PetscCall(PetscMalloc1((size_t)c.hcap, &c.hkey));
  PetscCall(PetscMalloc1((size_t)c.n, &c.pos));
  PetscCall(PetscMalloc4((size_t)c.np, &gb, (size_t)c.np, &gb_old, (size_t)c.np, &ga, (size_t)c.np, &ga_old));
  memset(c.pos, 0xff, (size_t)c.n * sizeof(uint32_t)); /* SM_PATH_NOT_IN_HEAP */
  c.hsize = 0;

  /* Initial values: geodesic -1 off the set (never improved by a relaxation), INFINITY on it; bottleneck 0. */
  if (kind == SM_PATH_GEODESIC)
    for (int64_t v = 0; v < c.n; v++) out[v] = mask[v] ? INFINITY : -1.0;
  else
    for (int64_t v = 0; v < c.n; v++) out[v] = 0.0;
  for (int64_t g = 0; g < c.np; g++) gb_old[g] = ga_old[g] = gb[g] = ga[g] = kind == SM_PATH_GEODESIC ? INFINITY : 0.0;

  /* Source plane: for axis z it is on one rank only, for x and y every rank holds a strip of it. */
  p = side ? info.n[axis] - 1 : 0;
  {
    int64_t zlo = 0, zhi = c.nz, ylo = 0, yhi = c.ny, xlo = 0, xhi = c.nx;
    if (axis == 0) xlo = p, xhi = p + 1;
    if (axis == 1) ylo = p, yhi = p + 1;
    if (axis == 2) {
      zlo = p - info.z_start;
      zhi = zlo + 1;
      if (zlo < 0 || zlo >= c.nz) zlo = zhi = 0;
    }
    for (int64_t z = zlo; z < zhi; z++)
      for (int64_t y = ylo; y < yhi; y++)
        for (int64_t x = xlo; x < xhi; x++) {
          const int64_t v = (z * c.ny + y) * c.nx + x;
          if (kind == SM_PATH_GEODESIC ? mask[v] != 0 : f[v] > 0.0) {
            out[v] = kind == SM_PATH_GEODESIC ? 0.0 : f[v];
            PetscCall(sm_heap_reserve(&c, 1));
            sm_heap_update(&c, kind, (uint32_t)v);
          }
        }
  }

  for (;;) {
    int any_local, any;
    if (kind == SM_PATH_GEODESIC)
      PetscCall(sm_path_run_geodesic(&c));
    else
      PetscCall(sm_path_run_bottleneck(&c));
    rounds++;
    if (info.size == 1) break; /* no ghosts: one pass is the answer */
    PetscCall(sm_path_exchange(comm, info.rank, info.size, count, out, out + (c.nz - 1) * c.np, gb, ga));
    PetscCall(sm_path_seed_from_ghost(&c, kind, gb, gb_old, +1));
    PetscCall(sm_path_seed_from_ghost(&c, kind, ga, ga_old, -1));
    any_local = c.hsize > 0;
    PetscCallMPI(MPI_Allreduce(&any_local, &any, 1, MPI_INT, MPI_LOR, comm));
    if (!any) break;
  }

  if (kind == SM_PATH_GEODESIC)
    for (int64_t v = 0; v < c.n; v++)
      if (out[v] < 0.0) out[v] = INFINITY;
  PetscCall(PetscFree4(gb, gb_old, ga, ga_old));
  PetscCall(PetscFree(c.heap));
  PetscCall(PetscFree(c.hkey));
  PetscCall(PetscFree(c.pos));
  PetscCall(PetscInfo(NULL, "%s map from axis %d side %d: %d local passes, heap capacity %.3g of %lld voxels, %.3f s\n",
                      kind == SM_PATH_GEODESIC ? "Geodesic" : "Bottleneck", axis, side, rounds, (double)c.hcap,
                      (long long)c.n, sm_sys_wtime() - t0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_geodesic_distance_private(SMGrid grid, const uint8_t *mask, int axis, int side, double *dist)
{
  PetscFunctionBeginUser;
  PetscCall(sm_path_solve(grid, SM_PATH_GEODESIC, mask, NULL, axis, side, dist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_bottleneck_map_private(SMGrid grid, const double *f, int axis, int side, double *m)
{
  PetscFunctionBeginUser;
  PetscCall(sm_path_solve(grid, SM_PATH_BOTTLENECK, NULL, f, axis, side, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mean geodesic tortuosity (SPEC 5). The geodesic distance from the opposite plane is the shortest path from each start
   voxel to any voxel of that plane (paths are reversible). It is finite exactly for the start voxels 26-connected to
   the opposite plane through the set, which are therefore the start voxels of SPEC 5.
   The mean is summed reproducibly: each ratio t is split into its integer part and a fraction rounded to 2^-40
   (< 1e-12, the SPEC's tolerance for sums), both accumulated in int64; integer sums are exact and associative, so tau
   is bitwise the same at any rank count (the ratios themselves are, see the exactness note above). */
PetscErrorCode sm_morph_geodesic_tortuosity(SMGrid grid, const uint8_t *mask, int axis, int side, double *tau,
                                            int64_t *nstart, int nbins, double bin_width, int64_t *hist)
{
  MPI_Comm      comm = sm_grid_comm(grid);
  SMGridInfo    info;
  double       *dist, straight;
  int64_t       loc[3] = {0, 0, 0}, glob[3], *lhist = NULL, p;
  const int64_t one = (int64_t)1 << 40;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCheck(axis >= 0 && axis <= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Tortuosity axis must be 0 (x), 1 (y) or 2 (z), got %d", axis);
  PetscCheck(side == 0 || side == 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Tortuosity side must be 0 (start at index 0) or 1 (start at index n-1), got %d", side);
  PetscCheck(info.n[axis] >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Tortuosity along %c needs at least 2 voxels along that axis (got %lld)", "xyz"[axis],
             (long long)info.n[axis]);
  PetscCheck(tau && nstart, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Tortuosity outputs tau and nstart must not be NULL");
  if (hist) {
    PetscCheck(nbins >= 1 && bin_width > 0.0 && isfinite(bin_width), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "Tortuosity histogram needs nbins >= 1 and a positive bin width (got %d bins of width %g)", nbins,
               bin_width);
    PetscCall(PetscCalloc1((size_t)nbins, &lhist));
  }
  PetscCall(PetscMalloc1((size_t)info.n_local, &dist));
  PetscCall(sm_morph_geodesic_distance(grid, mask, axis, 1 - side, dist));

  straight = (double)(info.n[axis] - 1) * (double)info.h[axis];
  p        = side ? info.n[axis] - 1 : 0;
  {
    int64_t zlo = 0, zhi = info.z_local, ylo = 0, yhi = info.n[1], xlo = 0, xhi = info.n[0];
    if (axis == 0) xlo = p, xhi = p + 1;
    if (axis == 1) ylo = p, yhi = p + 1;
    if (axis == 2) {
      zlo = p - info.z_start;
      zhi = zlo + 1;
      if (zlo < 0 || zlo >= info.z_local) zlo = zhi = 0;
    }
    for (int64_t z = zlo; z < zhi; z++)
      for (int64_t y = ylo; y < yhi; y++)
        for (int64_t x = xlo; x < xhi; x++) {
          const double t = dist[(z * info.n[1] + y) * info.n[0] + x];
          double       ip;
          if (!mask[(z * info.n[1] + y) * info.n[0] + x] || !isfinite(t)) continue;
          {
            const double r = t / straight, fr = modf(r, &ip);
            loc[0]++;
            loc[1] += (int64_t)ip;
            loc[2] += llround(fr * (double)one); /* <= 2^40 */
            if (loc[2] >= one) { /* keep the fraction below 2^40 so that the reduction cannot overflow */
              loc[2] -= one;
              loc[1]++;
            }
            if (lhist) {
              double  b   = floor((r - 1.0) / bin_width);
              int64_t bin = b < 0.0 ? 0 : (b >= (double)nbins ? nbins - 1 : (int64_t)b);
              lhist[bin]++;
            }
          }
        }
  }
  PetscCall(PetscFree(dist));
  PetscCallMPI(MPI_Allreduce(loc, glob, 3, MPI_INT64_T, MPI_SUM, comm));
  *nstart = glob[0];
  *tau    = glob[0] ? ((double)glob[1] + (double)glob[2] / (double)one) / (double)glob[0] : NAN;
  if (hist) {
    PetscCallMPI(MPI_Allreduce(lhist, hist, nbins, MPI_INT64_T, MPI_SUM, comm));
    PetscCall(PetscFree(lhist));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_geodesic_distance(SMGrid grid, const uint8_t *mask, int axis, int side, double *dist)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscCall(sm_morph_geodesic_distance_private(grid, mask, axis, side, dist));
  PetscCall(PetscLogEventEnd(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_bottleneck_map(SMGrid grid, const double *f, int axis, int side, double *m)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscCall(sm_morph_bottleneck_map_private(grid, f, axis, side, m));
  PetscCall(PetscLogEventEnd(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
