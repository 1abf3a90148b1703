/* Path maps on the neighbourhood graph of the voxel centres (SPEC 5): geodesic distance (min-plus) from a face
 * plane, bottleneck map (max-min) from a face plane, and the mean geodesic tortuosity built on the former. The graph
 * joins each voxel to its 6 face neighbours, its 18 face and edge neighbours, or all 26 (the -connectivity option);
 * everything below holds for each of the three, whose tables of offsets and step lengths are the 26 entries filtered.
 *
 * Algorithm: a label-setting search with a bucket queue, run independently on each rank's z-slab, with the ghost planes
 * just below and above the slab (received from ranks r - 1 and r + 1) acting as extra sources. After each local pass
 * the ranks exchange their first and last planes; a ghost voxel whose value improved re-seeds its (up to 9) local
 * neighbours, and the next pass starts from those only (values only ever improve, so an incremental search from the
 * improved voxels is enough). The loop ends when no rank improved any voxel (an MPI_Allreduce of a flag). This is a
 * distributed Bellman-Ford over slabs with an exact label-setting search inside each slab; axes x and y usually need a
 * few rounds.
 * An axis-z front on the z-slabs would cross the ranks one after another (at least one round per rank, so P times the
 * work of a slab). On more than one rank the z maps therefore run on complete z columns: the input is redistributed
 * (the grid's z -> y transpose, sm_grid_transpose, as in the z pass of the EDT) to the grid
 * {nx, nz, ny} of sizes {hx, hz, hy} (sm_grid_create_transposed), whose slabs are the y-slabs, the map is computed
 * there along its axis 1, and the result is sent back into the caller's array. That grid's step lengths are summed in
 * the physical x, y, z order, so they are bitwise the original ones (sqrt(a^2 + c^2 + b^2) may differ from sqrt(a^2 +
 * b^2 + c^2) in the last bit), and by the uniqueness of the fixed point (below) the map is bitwise the same. Extra
 * memory: the geodesic map holds a copy of the mask and the transposed map (9 bytes per voxel; the copy is freed before
 * the map is sent back); the bottleneck map a copy of f that the packed search turns into the map in place (8 bytes per
 * voxel). If the y decomposition would leave a rank without a plane (ny < ranks), or f has too many distinct values for
 * the packed search (its double-valued search needs f beside the map), the map runs on the z-slabs as above.
 *
 * Queues. Geodesic: Dial's bucket queue with real keys (R. B. Dial, Comm. ACM 12 (1969) 632; the "approximate bucket"
 * variant of B. V. Cherkassky, A. V. Goldberg, T. Radzik, Math. Program. 73 (1996) 129). Bucket b holds the voxels
 * with floor(d / W) = b, W = w (1 - 2^-20) slightly below the shortest step w = min(hx, hy, hz); buckets are
 * processed in increasing order in a ring of 2^k >= ceil(longest step / W) + 2 slots. The stored values are the
 * exact floating-point sums, only the bucket index is quantised. A step adds at least w > W (with a relative margin
 * of 2^-20, far above the 2^-52 relative rounding of the sum and of the product d / W), so a relaxed voxel lands in a
 * later bucket and no voxel of the current bucket can improve another one: a bucket's voxels are final when it is
 * processed, and each is scanned once. Seeds of a pass (the source plane or the voxels next to improved ghosts) are
 * sorted by value and enter the ring when their bucket comes up.
 * Bottleneck: the keys a voxel can take are values of f (min and max only select), so the queue has one bucket per
 * distinct positive value of f (an exact monotone bucket queue), processed from the top: relaxing a voxel of key k
 * gives min(k, f) <= k, in the current or a lower bucket, and a bucket's voxels are final when it is processed. When
 * all of f (over all ranks) has at most 65535 distinct positive values (an EDT has a few hundred to tens of
 * thousands), the search is packed: the sorted global table of values (local hash sets, then the grid's sorted union) turns
 * f and the map into 16-bit ranks, one uint32 per voxel holds both, and it lives in the output array's own memory
 * (unpacked into doubles at the end): a quarter of the memory traffic and no search for a value's bucket. Otherwise
 * the values stay doubles, the table is this slab's distinct values plus the ghost values each pass brings in, found
 * by bisection. The voxels waiting in a bucket are scattered over the slab, so a bucket is put in plane order
 * (counting sort) before it is processed: the planes a voxel's neighbours lie in then stay in cache (0.66 -> 0.52 s
 * per packed map at 200^3 on one rank). A scan of an interior voxel first compares all its neighbours without branches
 * into a bit mask and then visits only the improving ones (about two): whether a neighbour improves is close to a coin
 * toss, and the mispredicted branches cost more than the comparisons (packed map 0.46 -> 0.33 s, geodesic map 0.29 ->
 * 0.28 s at 200^3 on one rank). Lazy deletion: a geodesic entry is the voxel alone (4 bytes); a bit per
 * voxel records that it was scanned with its current value (cleared whenever the value improves), so a popped entry is
 * skipped when that bit is set (the voxel improved after it was queued and a newer entry, in this or an earlier bucket,
 * scanned it) and otherwise scanned with the value it has, which is final (label setting); a popped bottleneck entry of
 * bucket j is skipped if the voxel's value has risen above bucket j.
 *
 * Exactness. Geodesic: every value written is fl(d[u] + w) for a neighbour u, i.e. the left-to-right floating-point
 * sum of the step lengths of some path from the source plane; the relaxation x -> fl(x + w) is monotone and strictly
 * increasing (w >= min h > 0 and distances stay far below w / eps), so by Knuth's generalisation of Dijkstra
 * (D. E. Knuth, Inf. Process. Lett. 6 (1977) 1) the fixed point d[v] = min_u fl(d[u] + w(u, v)) is unique and equals
 * the minimum over all paths of their floating-point path sums. Any order of relaxations that reaches a fixed point
 * (one rank, many ranks, a Bellman-Ford sweep, a heap or a bucket queue) therefore returns the same bits: the result
 * does not depend on the rank count or on the queue. The bucket order is only an efficiency matter: every improvement
 * queues the voxel again, every queued (voxel, value) pair is scanned unless the voxel improved later (then the newer
 * entry is), and the queue never drops an entry, so an empty queue means a fixed point. Should rounding ever put a
 * relaxed value into the current or an earlier bucket (it would take distances of about 2^31 steps), the voxel is
 * queued in the current bucket and scanned again in the same sweep (and a value beyond the ring goes into its last
 * slot): still exact, just not label-setting any more (counted and reported by -info). The result differs from the
 * real-number shortest path length only by the rounding of the sums along the optimal path (a few ulps times the number
 * of steps; paths of equal real length may round differently, and the smaller rounded one wins). Bottleneck: min and
 * max are exact, and any relaxation order that reaches a fixed point from below gives the widest-path value (M.
 * Pollack, Oper. Res. 8 (1960) 733), bitwise the same at any rank count. If the slab has more distinct values than the
 * key table may hold (PetscMax(2^16, n / 16)), the table is a sample of them and a bucket may mix keys; voxels improved
 * within a bucket are then scanned again (a label-correcting search), which is still exact.
 *
 * Memory: besides the output, the queue entries (4 bytes per geodesic entry, holding the thin front: about 1 % of the
 * slab at 200^3; 4 bytes per bottleneck entry, whose front can hold a good part of the set since low-f voxels wait in
 * low buckets; a bucket's array is freed once it is processed, and the sort scratch is as large as the largest
 * bucket), the key tables and bucket headers (at most about 2 bytes per voxel, or 1 MB), the scanned bits of the
 * geodesic search (1/8 byte per voxel), and four ghost planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>

typedef enum { SM_PATH_GEODESIC = 0, SM_PATH_BOTTLENECK = 1 } SMPathKind;

/* One bucket of a queue: a growable array of entries (uint32 local indices; SMGeoEntry, voxel and value, for the
   seeds of a geodesic pass, which are sorted by value). */
typedef struct {
  void   *a;
  int64_t size, cap;
} SMBucket;

/* A geodesic queue entry: the voxel and the value it had when queued (lazy deletion, see the header). */
typedef struct {
  double   d;
  uint32_t v;
} SMGeoEntry;

/* Work space of one path computation on this rank's slab. */
typedef struct {
  SMGrid        grid;              /* the grid of the slab (the ghost exchange goes through it) */
  int64_t       nx, ny, nz, np, n; /* slab sizes: x, y, local z planes, plane, voxels */
  int           nnb;               /* neighbours of a voxel: 6, 18 or 26 */
  int64_t       off[26];           /* linear offsets of the nnb neighbours */
  double        len[26];           /* geodesic: step lengths of the nnb neighbours */
  int           dxyz[26][3];
  double       *val;  /* output: distance (negative = not in the set) or bottleneck value */
  const double *f;    /* bottleneck: the function */
  SMBucket      seed; /* voxels improved before a pass: the source plane or the neighbours of improved ghosts */
  /* geodesic: ring of buckets of width 1 / inv_width, nring a power of two */
  double    inv_width;
  int64_t   nring;
  SMBucket *ring;     /* entries: uint32 local voxel indices */
  uint64_t *scanned;  /* a bit per voxel: scanned with its current value (cleared whenever the value improves) */
  /* bottleneck: key table of this slab (nbase sorted distinct values), the table of the current pass (the base plus
     the ghost values it brings in), one bucket per key of the pass */
  double   *base, *keys;
  int64_t   nbase, nkeys, nbk;
  SMBucket *bk;
  PetscBool sampled; /* the base table is a sample of the values (more than the cap): buckets may mix keys */
  SMBucket  tmp;     /* scratch for sorting a bucket */
  int64_t  *zcount;  /* [nz + 1] counts for sorting a bucket by plane */
  /* statistics for -info */
  int64_t scans, pushes, clamped;
} SMPathCtx;

static PetscErrorCode sm_bucket_grow(SMBucket *b, size_t esize)
{
  PetscFunctionBeginUser;
  b->cap = PetscMax(256, 2 * b->cap);
  PetscCall(PetscRealloc((size_t)b->cap * esize, &b->a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Empty a processed bucket; a large array is given back, since the same bucket may stay unused for long. */
static PetscErrorCode sm_bucket_clear(SMBucket *b)
{
  PetscFunctionBeginUser;
  b->size = 0;
  if (b->cap > 4096) {
    PetscCall(PetscFree(b->a));
    b->cap = 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_geo_push(SMBucket *b, double d, uint32_t v)
{
  PetscFunctionBeginUser;
  if (PetscUnlikely(b->size == b->cap)) PetscCall(sm_bucket_grow(b, sizeof(SMGeoEntry)));
  ((SMGeoEntry *)b->a)[b->size].d   = d;
  ((SMGeoEntry *)b->a)[b->size++].v = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_u32_push(SMBucket *b, uint32_t v)
{
  PetscFunctionBeginUser;
  if (PetscUnlikely(b->size == b->cap)) PetscCall(sm_bucket_grow(b, sizeof(uint32_t)));
  ((uint32_t *)b->a)[b->size++] = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_geo_entry_compare(const void *a, const void *b)
{
  const double x = ((const SMGeoEntry *)a)->d, y = ((const SMGeoEntry *)b)->d;
  return (x > y) - (x < y);
}

/* Order a bucket's entries by z plane (a stable counting sort): the voxels are then visited plane after plane, and
   the three planes their neighbours lie in stay in cache. Entries are esize bytes with the uint32 local voxel index
   at byte offset voff (uint32 entries of the bottleneck queues, SMGeoEntry of the geodesic one); one context only
   ever holds one entry type, so the spare array c->tmp counts its capacity in entries of that type. */
static PetscErrorCode sm_sort_by_plane(SMPathCtx *c, SMBucket *b, size_t esize, size_t voff)
{
  const uint32_t np = (uint32_t)c->np;
  const char    *a  = (const char *)b->a;
  char          *t;

  PetscFunctionBeginUser;
  if (b->size < 1024) PetscFunctionReturn(PETSC_SUCCESS);
  if (c->tmp.cap < b->size) {
    PetscCall(PetscFree(c->tmp.a));
    c->tmp.cap = b->size + b->size / 2;
    PetscCall(PetscMalloc((size_t)c->tmp.cap * esize, &c->tmp.a));
  }
  t = (char *)c->tmp.a;
  PetscCall(PetscArrayzero(c->zcount, c->nz + 1));
#define SM_ENTRY_PLANE(i) (*(const uint32_t *)(a + (size_t)(i) * esize + voff) / np)
  for (int64_t i = 0; i < b->size; i++) c->zcount[SM_ENTRY_PLANE(i) + 1]++;
  for (int64_t z = 0; z < c->nz; z++) c->zcount[z + 1] += c->zcount[z];
  for (int64_t i = 0; i < b->size; i++) memcpy(t + (size_t)(c->zcount[SM_ENTRY_PLANE(i)]++) * esize, a + (size_t)i * esize, esize);
#undef SM_ENTRY_PLANE
  { /* swap the arrays: the bucket takes the sorted one */
    SMBucket s = *b;
    b->a       = c->tmp.a;
    b->cap     = c->tmp.cap;
    c->tmp.a   = s.a;
    c->tmp.cap = s.cap;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_double_compare(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Bucket of key x in the sorted table D[0 .. n-1]: the largest j with D[j] <= x (0 if x < D[0]). Branch-free halving,
   the table is small and stays in cache. */
static inline int64_t sm_key_bucket(const double *D, int64_t n, double x)
{
  int64_t lo = 0, len = n;
  while (len > 1) {
    const int64_t half = len >> 1;
    lo                 = D[lo + half] <= x ? lo + half : lo;
    len -= half;
  }
  return lo;
}

/* Geodesic search on the slab from the seeds (see the header). Edges into the ghost planes are not followed: those
   voxels belong to the neighbouring ranks, which receive this rank's boundary planes instead. */
static PetscErrorCode sm_geodesic_run(SMPathCtx *c)
{
  const uint32_t nx = (uint32_t)c->nx, ny = (uint32_t)c->ny, nz = (uint32_t)c->nz, np = (uint32_t)c->np;
  const int      nnb  = c->nnb;
  const int64_t  mask = c->nring - 1, nseed = c->seed.size;
  const double   iw   = c->inv_width;
  double *const  val  = c->val;
  uint64_t *const done = c->scanned;
  SMGeoEntry    *s    = (SMGeoEntry *)c->seed.a;
  int64_t        next = 0, live = 0, cur;

  PetscFunctionBeginUser;
  if (!nseed) PetscFunctionReturn(PETSC_SUCCESS);
  qsort(s, (size_t)nseed, sizeof(*s), sm_geo_entry_compare);
  cur = (int64_t)(s[0].d * iw); /* d >= 0: the conversion is the floor */
  while (live > 0 || next < nseed) {
    SMBucket *b;
    if (!live) cur = PetscMax(cur, (int64_t)(s[next].d * iw)); /* the ring is empty: jump to the next seed */
    b = &c->ring[cur & mask];
    for (; next < nseed && (int64_t)(s[next].d * iw) <= cur; next++, live++) PetscCall(sm_u32_push(b, s[next].v));
    PetscCall(sm_sort_by_plane(c, b, sizeof(uint32_t), 0));
    /* b may grow (rounding clamps into the current bucket), so it is indexed afresh each time */
    for (int64_t i = 0; i < b->size; i++) {
      const uint32_t u = ((const uint32_t *)b->a)[i], z = u / np, r = u - z * np, y = r / nx, x = r - y * nx;
      const int      inner = x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 && z < nz - 1;
      double         d;
      live--;
      /* scanned already with its current value: this entry is stale (the voxel improved after it was queued and
         the newer entry, in this or an earlier bucket, scanned it); otherwise its value is final (label setting) */
      if (done[u >> 6] >> (u & 63) & 1) continue;
      done[u >> 6] |= (uint64_t)1 << (u & 63);
      d = val[u];
      c->scans++;
      if (inner) {
        /* Whether a neighbour improves is close to a coin toss: collect the answers of all neighbours without branches,
           then visit only the improving ones (about two per scan). */
        uint32_t bits = 0;
        for (int k = 0; k < nnb; k++) bits |= (uint32_t)(d + c->len[k] < val[(int64_t)u + c->off[k]]) << k;
        for (; bits; bits &= bits - 1) {
          const int     k    = __builtin_ctz(bits);
          const int64_t w    = (int64_t)u + c->off[k];
          const double  cand = d + c->len[k];
          int64_t       bb   = (int64_t)(cand * iw);
          val[w]             = cand;
          done[w >> 6] &= ~((uint64_t)1 << (w & 63));
          if (PetscUnlikely(bb <= cur)) {
            bb = cur;
            c->clamped++;
          } else if (PetscUnlikely(bb > cur + mask))
            bb = cur + mask;
          PetscCall(sm_u32_push(&c->ring[bb & mask], (uint32_t)w));
          live++;
          c->pushes++;
        }
        continue;
      }
      for (int k = 0; k < nnb; k++) {
        int64_t w;
        double  cand;
        {
          const int64_t xx = (int64_t)x + c->dxyz[k][0], yy = (int64_t)y + c->dxyz[k][1],
                        zz = (int64_t)z + c->dxyz[k][2];
          if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
        }
        w    = (int64_t)u + c->off[k];
        cand = d + c->len[k];
        if (cand < val[w]) { /* off-set voxels hold -1 and never improve */
          int64_t bb = (int64_t)(cand * iw);
          val[w]     = cand;
          done[w >> 6] &= ~((uint64_t)1 << (w & 63));
          if (PetscUnlikely(bb <= cur)) { /* rounding beyond the margin (see the header): rescan in this sweep */
            bb = cur;
            c->clamped++;
          } else if (PetscUnlikely(bb > cur + mask))
            bb = cur + mask;
          PetscCall(sm_u32_push(&c->ring[bb & mask], (uint32_t)w));
          live++;
          c->pushes++;
        }
      }
    }
    b->size = 0; /* the ring's arrays are kept: they hold the front of every lap */
    cur++;
  }
  c->seed.size = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The key table of this slab: the sorted distinct positive values of f (NaN and values <= 0 are never keys). A hash
   set collects them in one sweep; past `cap` values the table is a sorted sample instead (see the header). */
static PetscErrorCode sm_bottleneck_base_keys(SMPathCtx *c)
{
  const int64_t n = c->n, cap = PetscMax((int64_t)1 << 16, n / 16);
  const double *f = c->f;
  uint64_t     *tab;
  int64_t       tsize = 1024, count = 0;
  int           shift = 64 - 10;
  double        last  = 0.0;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1((size_t)tsize, &tab)); /* 0 = empty: the bits of +0.0, never a key */
  for (int64_t v = 0; v < n && count <= cap; v++) {
    const double x = f[v];
    uint64_t     bits, h;
    if (!(x > 0.0) || x == last) continue; /* neighbours often repeat a value */
    last = x;
    memcpy(&bits, &x, sizeof(bits));
    h = (bits * 0x9e3779b97f4a7c15ULL) >> shift;
    while (tab[h] && tab[h] != bits) h = (h + 1) & (uint64_t)(tsize - 1); /* linear probing */
    if (tab[h]) continue;
    tab[h] = bits;
    if (2 * ++count > tsize && count <= cap) { /* keep the load below 1/2: rehash into a table twice the size */
      uint64_t *old = tab;
      tsize *= 2;
      shift--;
      PetscCall(PetscCalloc1((size_t)tsize, &tab));
      for (int64_t i = 0; i < tsize / 2; i++) {
        if (!old[i]) continue;
        h = (old[i] * 0x9e3779b97f4a7c15ULL) >> shift;
        while (tab[h]) h = (h + 1) & (uint64_t)(tsize - 1);
        tab[h] = old[i];
      }
      PetscCall(PetscFree(old));
    }
  }
  c->sampled = count > cap ? PETSC_TRUE : PETSC_FALSE;
  if (!c->sampled) {
    PetscCall(PetscMalloc1((size_t)PetscMax(count, 1), &c->base));
    c->nbase = 0;
    for (int64_t i = 0; i < tsize; i++)
      if (tab[i]) memcpy(&c->base[c->nbase++], &tab[i], sizeof(double));
  } else { /* every stride-th positive value: about cap / 2 keys spread like the values */
    int64_t npos = 0, stride, i = 0;
    for (int64_t v = 0; v < n; v++) npos += f[v] > 0.0;
    stride = npos / (cap / 2) + 1;
    PetscCall(PetscMalloc1((size_t)(npos / stride + 1), &c->base));
    c->nbase = 0;
    for (int64_t v = 0; v < n; v++)
      if (f[v] > 0.0 && i++ % stride == 0) c->base[c->nbase++] = f[v];
  }
  PetscCall(PetscFree(tab));
  qsort(c->base, (size_t)c->nbase, sizeof(double), sm_double_compare);
  if (c->nbase > 1) { /* unique (the sample may repeat values) */
    int64_t m = 1;
    for (int64_t i = 1; i < c->nbase; i++)
      if (c->base[i] != c->base[m - 1]) c->base[m++] = c->base[i];
    c->nbase = m;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The key table of a pass: the base table plus the seed values it lacks (values of ghost voxels, i.e. values of f on
   other slabs), so that every key of the pass has its own bucket. One bucket header per key. */
static PetscErrorCode sm_bottleneck_pass_keys(SMPathCtx *c)
{
  const uint32_t *s = (const uint32_t *)c->seed.a;
  double         *extra;
  int64_t         nextra = 0;

  PetscFunctionBeginUser;
  if (c->keys != c->base) PetscCall(PetscFree(c->keys));
  c->keys  = c->base;
  c->nkeys = c->nbase;
  PetscCall(PetscMalloc1((size_t)c->seed.size + 1, &extra));
  for (int64_t i = 0; i < c->seed.size; i++) {
    const double x = c->val[s[i]];
    if (!c->nbase || c->base[sm_key_bucket(c->base, c->nbase, x)] != x) extra[nextra++] = x;
  }
  if (nextra && !c->sampled) { /* merge the sorted distinct extra values into a copy of the base table */
    int64_t m = 1, i = 0, j = 0, k = 0;
    qsort(extra, (size_t)nextra, sizeof(double), sm_double_compare);
    for (int64_t t = 1; t < nextra; t++)
      if (extra[t] != extra[m - 1]) extra[m++] = extra[t];
    nextra = m;
    PetscCall(PetscMalloc1((size_t)(c->nbase + nextra), &c->keys));
    while (i < c->nbase || j < nextra)
      c->keys[k++] = (j == nextra || (i < c->nbase && c->base[i] < extra[j])) ? c->base[i++] : extra[j++];
    c->nkeys = k;
  }
  PetscCall(PetscFree(extra));
  if (c->nkeys > c->nbk) { /* all buckets are empty between passes: only the header array grows */
    PetscCall(PetscRealloc((size_t)c->nkeys * sizeof(SMBucket), &c->bk));
    PetscCall(PetscMemzero(c->bk + c->nbk, (size_t)(c->nkeys - c->nbk) * sizeof(SMBucket)));
    c->nbk = c->nkeys;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bottleneck search on the slab from the seeds: buckets from the top key down (see the header). */
static PetscErrorCode sm_bottleneck_run(SMPathCtx *c)
{
  const uint32_t nx = (uint32_t)c->nx, ny = (uint32_t)c->ny, nz = (uint32_t)c->nz, np = (uint32_t)c->np;
  const int      nnb = c->nnb;
  double *const  val = c->val;
  const double  *f   = c->f, *D;
  int64_t        top = -1, nD;

  PetscFunctionBeginUser;
  if (!c->seed.size) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_bottleneck_pass_keys(c));
  D  = c->keys;
  nD = c->nkeys;
  for (int64_t i = 0; i < c->seed.size; i++) {
    const uint32_t v = ((const uint32_t *)c->seed.a)[i];
    const int64_t  j = sm_key_bucket(D, nD, val[v]);
    PetscCall(sm_u32_push(&c->bk[j], v));
    top = PetscMax(top, j);
  }
  c->seed.size = 0;
  for (int64_t j = top; j >= 0; j--) {
    SMBucket    *b  = &c->bk[j];
    const int    hi = j + 1 < nD;
    const double up = hi ? D[j + 1] : 0.0;
    PetscCall(sm_sort_by_plane(c, b, sizeof(uint32_t), 0));
    /* b grows while it is processed (a relaxation that keeps the key), so it is indexed afresh each time */
    for (int64_t i = 0; i < b->size; i++) {
      const uint32_t u = ((const uint32_t *)b->a)[i], z = u / np, r = u - z * np, y = r / nx, x = r - y * nx;
      const int      inner = x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 && z < nz - 1;
      const double   du    = val[u];
      if (hi && !(du < up)) continue; /* risen into a higher bucket since it was queued: scanned there */
      c->scans++;
      for (int k = 0; k < nnb; k++) {
        int64_t w;
        double  fw;
        if (!inner) {
          const int64_t xx = (int64_t)x + c->dxyz[k][0], yy = (int64_t)y + c->dxyz[k][1],
                        zz = (int64_t)z + c->dxyz[k][2];
          if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
        }
        w = (int64_t)u + c->off[k];
        /* candidate min(du, f[w]) <= du: most neighbours are settled already (val[w] >= du), and f[w] is only read
           for the others; a NaN f[w] or f[w] <= 0 never beats val[w] >= 0 */
        if (!(du > val[w])) continue;
        fw = f[w];
        if (du <= fw) {
          val[w] = du;
          PetscCall(sm_u32_push(b, (uint32_t)w));
          c->pushes++;
        } else if (fw > val[w]) {
          val[w] = fw;
          PetscCall(sm_u32_push(&c->bk[sm_key_bucket(D, nD, fw)], (uint32_t)w));
          c->pushes++;
        }
      }
    }
    PetscCall(sm_bucket_clear(b));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Seed the local plane next to a ghost plane (dz = +1: ghost below the slab, seeds plane 0; dz = -1: ghost above,
   seeds the last plane) from the ghost voxels whose value improved since the last round; old is updated. */
static PetscErrorCode sm_path_seed_from_ghost(SMPathCtx *c, SMPathKind kind, const double *ghost, double *old, int dz)
{
  const int64_t nx = c->nx, ny = c->ny, zl = dz > 0 ? 0 : c->nz - 1;
  const int     nnb = c->nnb;

  PetscFunctionBeginUser;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      const int64_t g  = y * nx + x;
      const double  gv = ghost[g];
      /* geodesic ghosts carry -1 off the set and INFINITY where unreached; bottleneck ghosts 0 for both */
      if (kind == SM_PATH_GEODESIC ? !(gv >= 0.0 && gv < old[g]) : !(gv > old[g])) continue;
      old[g] = gv;
      for (int k = 0; k < nnb; k++) {
        const int64_t xx = x + c->dxyz[k][0], yy = y + c->dxyz[k][1], v = (zl * ny + yy) * nx + xx;
        if (c->dxyz[k][2] != dz || xx < 0 || xx >= nx || yy < 0 || yy >= ny) continue;
        if (kind == SM_PATH_GEODESIC) {
          const double cand = gv + c->len[k];
          if (cand < c->val[v]) {
            c->val[v] = cand;
            c->scanned[v >> 6] &= ~((uint64_t)1 << (v & 63));
            PetscCall(sm_geo_push(&c->seed, cand, (uint32_t)v));
          }
        } else {
          const double fv = c->f[v], cand = gv <= fv ? gv : fv;
          if (cand > c->val[v]) {
            c->val[v] = cand;
            PetscCall(sm_u32_push(&c->seed, (uint32_t)v));
          }
        }
      }
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The ghost planes below and above this rank's slab, from the grid's halo exchange (first / last: this rank's first and
   last planes); the box is not periodic and a ghost outside it is left untouched. */
static PetscErrorCode sm_path_exchange(SMGrid grid, MPI_Datatype type, size_t esize, int64_t plane, const void *first,
                                       const void *last, void *below, void *above)
{
  const SMGridHaloSpec spec = {type, esize, plane, 1, PETSC_FALSE, NULL};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo(grid, &spec, first, last, below, above));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The global key table for the packed bottleneck search: the sorted distinct positive values of f over all ranks, if
   every slab has at most SM_PACKED_KEYS of them and so has their union (else *packed = false and the double-valued
   search runs). The local tables are gathered (at most max(2^20, smallest slab) values in all, so at most 8 bytes per
   voxel) and merged. Collective. */
#define SM_PACKED_KEYS 65535

static PetscErrorCode sm_bottleneck_global_keys(SMPathCtx *c, MPI_Comm comm, PetscMPIInt size, PetscBool *packed)
{
  /* one MAX reduction: the largest local key count (a sampled table counts as too many) and minus the smallest slab */
  const int64_t mine[2] = {c->sampled ? (int64_t)1 << 40 : c->nbase, -c->n};
  int64_t       all[2], m;
  double       *keys;

  PetscFunctionBeginUser;
  *packed = PETSC_FALSE;
  PetscCallMPI(MPI_Allreduce(mine, all, 2, MPI_INT64_T, MPI_MAX, comm));
  if (all[0] > SM_PACKED_KEYS || all[0] * size > PetscMin(PetscMax((int64_t)1 << 20, -all[1]), (int64_t)1 << 30))
    PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_grid_allgather_union(c->grid, c->base, c->nbase, &keys, &m));
  if (m > SM_PACKED_KEYS) {
    PetscCall(PetscFree(keys));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  c->keys  = keys; /* the same table on every rank */
  c->nkeys = m;
  *packed  = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Packed bottleneck search (see the header): p[v] = (rank of f[v]) << 16 | (rank of m[v]), ranks 1-based in the global
   key table, 0 for f <= 0 (or NaN) and for unreached voxels; p lives in the memory of the output array. Buckets hold
   the voxels of one m rank and are processed from the top. */
static PetscErrorCode sm_packed_run(SMPathCtx *c, uint32_t *p)
{
  const uint32_t nx = (uint32_t)c->nx, ny = (uint32_t)c->ny, nz = (uint32_t)c->nz, np = (uint32_t)c->np;
  const int      nnb = c->nnb;
  int64_t        top = 0;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < c->seed.size; i++) {
    const uint32_t v = ((const uint32_t *)c->seed.a)[i], j = p[v] & 0xffffu;
    PetscCall(sm_u32_push(&c->bk[j], v));
    top = PetscMax(top, (int64_t)j);
  }
  c->seed.size = 0;
  for (uint32_t j = (uint32_t)top; j >= 1; j--) {
    SMBucket *b = &c->bk[j];
    /* visiting the queued voxels in memory order saves cache misses; voxels queued while the bucket is processed
       come next to their parents anyway */
    PetscCall(sm_sort_by_plane(c, b, sizeof(uint32_t), 0));
    for (int64_t i = 0; i < b->size; i++) {
      const uint32_t u = ((const uint32_t *)b->a)[i], z = u / np, r = u - z * np, y = r / nx, x = r - y * nx;
      const int      inner = x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 && z < nz - 1;
      if ((p[u] & 0xffffu) != j) continue; /* risen into a higher bucket since it was queued: scanned there */
      c->scans++;
      if (inner) { /* as in sm_geodesic_run: the answers of all neighbours first, without branches */
        uint32_t bits = 0;
        for (int k = 0; k < nnb; k++) {
          const uint32_t pw = p[(int64_t)u + c->off[k]], mw = pw & 0xffffu, fw = pw >> 16;
          bits |= (uint32_t)((fw < j ? fw : j) > mw) << k; /* f rank 0 (not in the set) gives 0 <= mw */
        }
        for (; bits; bits &= bits - 1) {
          const int64_t  w = (int64_t)u + c->off[__builtin_ctz(bits)];
          const uint32_t pw = p[w], fw = pw >> 16, cand = fw < j ? fw : j;
          p[w] = (pw & 0xffff0000u) | cand;
          PetscCall(sm_u32_push(&c->bk[cand], (uint32_t)w));
          c->pushes++;
        }
        continue;
      }
      for (int k = 0; k < nnb; k++) {
        int64_t  w;
        uint32_t pw, mw, fw, cand;
        if (!inner) {
          const int64_t xx = (int64_t)x + c->dxyz[k][0], yy = (int64_t)y + c->dxyz[k][1],
                        zz = (int64_t)z + c->dxyz[k][2];
          if (xx < 0 || xx >= nx || yy < 0 || yy >= ny || zz < 0 || zz >= nz) continue;
        }
        w  = (int64_t)u + c->off[k];
        pw = p[w];
        mw = pw & 0xffffu;
        if (j <= mw) continue;
        fw   = pw >> 16;
        cand = fw < j ? fw : j; /* f rank 0 (not in the set) gives 0 <= mw */
        if (cand > mw) {
          p[w] = (pw & 0xffff0000u) | cand;
          PetscCall(sm_u32_push(&c->bk[cand], (uint32_t)w));
          c->pushes++;
        }
      }
    }
    PetscCall(sm_bucket_clear(b));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The packed counterpart of sm_path_seed_from_ghost: ghost holds packed values of the neighbouring slab's plane, old
   the m ranks seen so far. */
static PetscErrorCode sm_packed_seed_from_ghost(SMPathCtx *c, uint32_t *p, const uint32_t *ghost, uint32_t *old, int dz)
{
  const int64_t nx = c->nx, ny = c->ny, zl = dz > 0 ? 0 : c->nz - 1;
  const int     nnb = c->nnb;

  PetscFunctionBeginUser;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      const int64_t  g  = y * nx + x;
      const uint32_t gm = ghost[g] & 0xffffu;
      if (gm <= old[g]) continue;
      old[g] = gm;
      for (int k = 0; k < nnb; k++) {
        const int64_t xx = x + c->dxyz[k][0], yy = y + c->dxyz[k][1], v = (zl * ny + yy) * nx + xx;
        uint32_t      fv, cand;
        if (c->dxyz[k][2] != dz || xx < 0 || xx >= nx || yy < 0 || yy >= ny) continue;
        fv   = p[v] >> 16;
        cand = gm <= fv ? gm : fv;
        if (cand > (p[v] & 0xffffu)) {
          p[v] = (fv << 16) | cand;
          PetscCall(sm_u32_push(&c->seed, (uint32_t)v));
        }
      }
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The whole packed bottleneck computation: pack, seed the source plane [lo, hi) box, passes and exchanges, unpack into
   the doubles of out (the same memory). Collective. */
static PetscErrorCode sm_packed_solve(SMPathCtx *c, const SMGridInfo *info, MPI_Comm comm, const int64_t lo[3],
                                      const int64_t hi[3], int *rounds)
{
  uint32_t *p = (uint32_t *)c->val, *gb, *gb_old, *ga, *ga_old, *tab_rank;
  uint64_t *tab_bits;
  int64_t   tsize = 2;
  int       shift = 63, count = 0;
  double    last  = NAN;
  uint32_t  lastr = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_int64_to_int(info->n_plane, &count));
  /* value -> rank: a hash map of the key table (load <= 1/2), with the last lookup cached for runs of equal values */
  while (tsize < 2 * c->nkeys) tsize *= 2, shift--;
  PetscCall(PetscCalloc2((size_t)tsize, &tab_bits, (size_t)tsize, &tab_rank));
  for (int64_t i = 0; i < c->nkeys; i++) {
    uint64_t bits, h;
    memcpy(&bits, &c->keys[i], sizeof(bits));
    h = (bits * 0x9e3779b97f4a7c15ULL) >> shift;
    while (tab_bits[h]) h = (h + 1) & (uint64_t)(tsize - 1);
    tab_bits[h] = bits;
    tab_rank[h] = (uint32_t)(i + 1);
  }
  /* p[v] lies in the bytes of out[v / 2], which nothing reads any more. f may be out itself (the transposed z maps
     solve in place): f is then copied block by block with memcpy before the block's p values are written, which
     cover f[s / 2 .. e / 2), all read already, and no access through two pointer types overlaps. */
  for (int64_t s = 0; s < c->n; s += 512) {
    const int64_t e = PetscMin(c->n, s + 512);
    double        blk[512];
    memcpy(blk, (const char *)c->f + s * (int64_t)sizeof(double), (size_t)(e - s) * sizeof(double));
    for (int64_t v = s; v < e; v++) {
      const double x = blk[v - s];
      if (!(x > 0.0)) {
        p[v] = 0;
        continue;
      }
      if (x != last) {
        uint64_t bits, h;
        memcpy(&bits, &x, sizeof(bits));
        h = (bits * 0x9e3779b97f4a7c15ULL) >> shift;
        while (tab_bits[h] != bits) h = (h + 1) & (uint64_t)(tsize - 1); /* every positive value is a key */
        last  = x;
        lastr = tab_rank[h];
      }
      p[v] = lastr << 16;
    }
  }
  PetscCall(PetscFree2(tab_bits, tab_rank));
  PetscCall(PetscCalloc1((size_t)c->nkeys + 1, &c->bk));
  c->nbk = c->nkeys + 1;
  for (int64_t z = lo[2]; z < hi[2]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++)
      for (int64_t x = lo[0]; x < hi[0]; x++) {
        const int64_t v = (z * c->ny + y) * c->nx + x;
        if (!(p[v] >> 16)) continue;
        p[v] |= p[v] >> 16; /* m = f on the source plane */
        PetscCall(sm_u32_push(&c->seed, (uint32_t)v));
      }
  PetscCall(PetscCalloc4((size_t)c->np, &gb, (size_t)c->np, &gb_old, (size_t)c->np, &ga, (size_t)c->np, &ga_old));
  for (;;) {
    int any_local, any;
    PetscCall(sm_packed_run(c, p));
    (*rounds)++;
    if (info->size == 1) break;
    PetscCall(sm_path_exchange(c->grid, MPI_UINT32_T, sizeof(uint32_t), c->np, p, p + (c->nz - 1) * c->np, gb, ga));
    PetscCall(sm_packed_seed_from_ghost(c, p, gb, gb_old, +1));
    PetscCall(sm_packed_seed_from_ghost(c, p, ga, ga_old, -1));
    any_local = c->seed.size > 0;
    PetscCallMPI(MPI_Allreduce(&any_local, &any, 1, MPI_INT, MPI_LOR, comm));
    if (!any) break;
  }
  PetscCall(PetscFree4(gb, gb_old, ga, ga_old));
  /* Unpack from the end: out[v] covers the bytes of p[2v] and p[2v + 1], which are read before (2v >= v). Each block
     is copied out with memcpy before the doubles are written, so no access through two pointer types overlaps. */
  {
    uint32_t      blk[1024];
    const double *D = c->keys;
    for (int64_t e = c->n; e > 0; e -= 1024) {
      const int64_t s = PetscMax(0, e - 1024);
      memcpy(blk, (const char *)c->val + s * (int64_t)sizeof(uint32_t), (size_t)(e - s) * sizeof(uint32_t));
      for (int64_t v = e - 1; v >= s; v--) {
        const uint32_t mr = blk[v - s] & 0xffffu;
        c->val[v]         = mr ? D[mr - 1] : 0.0;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The neighbourhoods the path maps know: the error says which. */
static PetscErrorCode sm_path_check_connectivity(MPI_Comm comm, int connectivity)
{
  PetscFunctionBeginUser;
  PetscCheck(connectivity == 6 || connectivity == 18 || connectivity == 26, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Path map connectivity must be 6 (steps along the axes), 18 (also face diagonals) or 26 (also body "
             "diagonals), got %d",
             connectivity);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The common driver: initialise, seed the source plane, then local passes and ghost exchanges until no rank changes.
   mask (geodesic) or f (bottleneck) is this rank's slab; out receives the map. yz_swapped: the grid is the relabelled
   one of the transposed z maps (its axes 1 and 2 are the physical z and y), and the step lengths are summed in the
   physical x, y, z order so that they are bitwise those of the original grid. f may be out (bottleneck): that works
   for the packed search only, and *solved (collective) says whether it ran; otherwise it is always PETSC_TRUE. */
static PetscErrorCode sm_path_solve(SMGrid grid, SMPathKind kind, const uint8_t *mask, const double *f,
                                    int connectivity, int axis, int side, PetscBool yz_swapped, double *out,
                                    PetscBool *solved)
{
  MPI_Comm   comm = sm_grid_comm(grid);
  SMGridInfo info;
  SMPathCtx  c;
  double    *gb, *gb_old, *ga, *ga_old;
  int64_t    p, lo[3] = {0, 0, 0}, hi[3];
  int        count = 0, rounds = 0, k = 0;
  PetscBool  packed = PETSC_FALSE;
  double     t0     = sm_sys_wtime();

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCheck(axis >= 0 && axis <= 2, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Path map axis must be 0 (x), 1 (y) or 2 (z), got %d", axis);
  PetscCheck(side == 0 || side == 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Path map side must be 0 (plane at index 0) or 1 (plane at index n-1), got %d", side);
  PetscCall(sm_path_check_connectivity(comm, connectivity));
  PetscCheck(kind == SM_PATH_GEODESIC ? mask != NULL : f != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "Path map input array is NULL; pass this rank's slab [z_local][ny][nx]");
  PetscCheck(out != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Path map output array is NULL");
  /* queue entries hold uint32 local indices */
  PetscCheck(info.n_local < (int64_t)UINT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP,
             "Path maps index a slab with 32-bit integers, but this rank holds %lld voxels; run on more ranks",
             (long long)info.n_local);
  PetscCall(sm_int64_to_int(info.n_plane, &count));

  memset(&c, 0, sizeof(c));
  c.grid = grid;
  c.nx  = info.n[0];
  c.ny  = info.n[1];
  c.nz  = info.z_local;
  c.np  = info.n_plane;
  c.n   = info.n_local;
  c.val = out;
  c.f   = f;
  hi[0] = c.nx;
  hi[1] = c.ny;
  hi[2] = c.nz;
  PetscCall(PetscMalloc1((size_t)c.nz + 1, &c.zcount));
  for (int dz = -1; dz <= 1; dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        const int nonzero = (dx != 0) + (dy != 0) + (dz != 0);
        /* 6: axis steps only (one nonzero offset), 18: also face diagonals (two), 26: also body diagonals (three) */
        if (!nonzero || nonzero > (connectivity == 6 ? 1 : connectivity == 18 ? 2 : 3)) continue;
        c.dxyz[k][0] = dx;
        c.dxyz[k][1] = dy;
        c.dxyz[k][2] = dz;
        c.off[k]     = (dz * c.ny + dy) * c.nx + dx;
        if (yz_swapped) /* physical step (dx, dz, dy) with the physical sizes (h[0], h[2], h[1]) */
          c.len[k] = sqrt(PetscSqr(dx * (double)info.h[0]) + PetscSqr(dz * (double)info.h[2]) +
                          PetscSqr(dy * (double)info.h[1]));
        else
          c.len[k] = sqrt(PetscSqr(dx * (double)info.h[0]) + PetscSqr(dy * (double)info.h[1]) +
                          PetscSqr(dz * (double)info.h[2]));
        k++;
      }
  c.nnb = k;
  /* Source plane: for axis z it is on one rank only, for x and y every rank holds a strip of it. */
  p        = side ? info.n[axis] - 1 : 0;
  lo[axis] = p;
  hi[axis] = p + 1;
  if (axis == 2) {
    lo[2] = PetscMin(PetscMax(p - info.z_start, 0), c.nz);
    hi[2] = p >= info.z_start && p < info.z_start + c.nz ? lo[2] + 1 : lo[2];
  }
  if (kind == SM_PATH_GEODESIC) {
    double wmin = c.len[0], wmax = c.len[0], width;
    for (k = 1; k < c.nnb; k++) wmin = PetscMin(wmin, c.len[k]), wmax = PetscMax(wmax, c.len[k]);
    width       = wmin * (1.0 - 0x1p-20); /* the margin of the header's argument */
    c.inv_width = 1.0 / width;
    c.nring     = 4;
    while (c.nring < (int64_t)ceil(wmax / width) + 2) c.nring *= 2;
    PetscCall(PetscCalloc1((size_t)c.nring, &c.ring));
    PetscCall(PetscCalloc1((size_t)(c.n + 63) / 64, &c.scanned));
  } else {
    PetscCall(sm_bottleneck_base_keys(&c));
    PetscCall(sm_bottleneck_global_keys(&c, comm, info.size, &packed));
  }

  *solved = PETSC_TRUE;
  if (packed) {
    PetscCall(sm_packed_solve(&c, &info, comm, lo, hi, &rounds));
  } else if ((const void *)f == (const void *)out) { /* the double-valued search needs f beside the map */
    *solved = PETSC_FALSE;
  } else {
    PetscCall(PetscMalloc4((size_t)c.np, &gb, (size_t)c.np, &gb_old, (size_t)c.np, &ga, (size_t)c.np, &ga_old));
    /* Initial values: geodesic -1 off the set (never improved by a relaxation), INFINITY on it; bottleneck 0. */
    if (kind == SM_PATH_GEODESIC)
      for (int64_t v = 0; v < c.n; v++) out[v] = mask[v] ? INFINITY : -1.0;
    else
      for (int64_t v = 0; v < c.n; v++) out[v] = 0.0;
    for (int64_t g = 0; g < c.np; g++)
      gb_old[g] = ga_old[g] = gb[g] = ga[g] = kind == SM_PATH_GEODESIC ? INFINITY : 0.0;
    for (int64_t z = lo[2]; z < hi[2]; z++)
      for (int64_t y = lo[1]; y < hi[1]; y++)
        for (int64_t x = lo[0]; x < hi[0]; x++) {
          const int64_t v = (z * c.ny + y) * c.nx + x;
          if (kind == SM_PATH_GEODESIC && mask[v]) {
            out[v] = 0.0;
            PetscCall(sm_geo_push(&c.seed, 0.0, (uint32_t)v));
          } else if (kind == SM_PATH_BOTTLENECK && f[v] > 0.0) {
            out[v] = f[v];
            PetscCall(sm_u32_push(&c.seed, (uint32_t)v));
          }
        }
    for (;;) {
      int any_local, any;
      if (kind == SM_PATH_GEODESIC)
        PetscCall(sm_geodesic_run(&c));
      else
        PetscCall(sm_bottleneck_run(&c));
      rounds++;
      if (info.size == 1) break; /* no ghosts: one pass is the answer */
      PetscCall(sm_path_exchange(grid, MPI_DOUBLE, sizeof(double), c.np, out, out + (c.nz - 1) * c.np, gb, ga));
      PetscCall(sm_path_seed_from_ghost(&c, kind, gb, gb_old, +1));
      PetscCall(sm_path_seed_from_ghost(&c, kind, ga, ga_old, -1));
      any_local = c.seed.size > 0;
      PetscCallMPI(MPI_Allreduce(&any_local, &any, 1, MPI_INT, MPI_LOR, comm));
      if (!any) break;
    }
    PetscCall(PetscFree4(gb, gb_old, ga, ga_old));
  }

  if (kind == SM_PATH_GEODESIC)
    for (int64_t v = 0; v < c.n; v++)
      if (out[v] < 0.0) out[v] = INFINITY;
  PetscCall(PetscInfo(NULL,
                      "%s map from axis %d side %d: %d local passes, %lld scans, %lld queue entries, %lld clamped, "
                      "%lld buckets%s%s, %lld voxels, %.3f s\n",
                      kind == SM_PATH_GEODESIC ? "Geodesic" : "Bottleneck", yz_swapped ? 2 : axis, side, rounds,
                      (long long)c.scans, (long long)c.pushes, (long long)c.clamped,
                      (long long)(kind == SM_PATH_GEODESIC ? c.nring : c.nkeys),
                      packed ? " (packed)" : (c.sampled ? " (sampled)" : ""), yz_swapped ? " (on z columns)" : "",
                      (long long)c.n, sm_sys_wtime() - t0));
  PetscCall(PetscFree(c.seed.a));
  PetscCall(PetscFree(c.tmp.a));
  PetscCall(PetscFree(c.zcount));
  for (int64_t i = 0; i < c.nring; i++) PetscCall(PetscFree(c.ring[i].a));
  PetscCall(PetscFree(c.ring));
  PetscCall(PetscFree(c.scanned));
  for (int64_t i = 0; i < c.nbk; i++) PetscCall(PetscFree(c.bk[i].a));
  PetscCall(PetscFree(c.bk));
  if (c.keys != c.base) PetscCall(PetscFree(c.keys));
  PetscCall(PetscFree(c.base));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_geodesic_distance_private(SMGrid grid, const uint8_t *mask, int connectivity, int axis,
                                                         int side, double *dist)
{
  SMGrid     tgrid = NULL;
  SMGridInfo tinfo;
  uint8_t   *tmask;
  double    *tdist;
  PetscBool  solved;

  PetscFunctionBeginUser;
  if (axis == 2 && mask && dist && (side == 0 || side == 1)) PetscCall(sm_grid_create_transposed(grid, &tgrid));
  if (!tgrid) {
    PetscCall(sm_path_solve(grid, SM_PATH_GEODESIC, mask, NULL, connectivity, axis, side, PETSC_FALSE, dist, &solved));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* at most 9 bytes per voxel beside the caller's arrays: the mask copy goes before the map is sent back */
  PetscCall(sm_grid_get_info(tgrid, &tinfo));
  PetscCall(PetscMalloc1((size_t)tinfo.n_local, &tmask));
  PetscCall(sm_grid_transpose(grid, MPI_UINT8_T, sizeof(uint8_t), (uint8_t *)mask, tmask, SM_GRID_Z_TO_Y));
  PetscCall(PetscMalloc1((size_t)tinfo.n_local, &tdist));
  PetscCall(sm_path_solve(tgrid, SM_PATH_GEODESIC, tmask, NULL, connectivity, 1, side, PETSC_TRUE, tdist, &solved));
  PetscCall(PetscFree(tmask));
  PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), dist, tdist, SM_GRID_Y_TO_Z));
  PetscCall(PetscFree(tdist));
  PetscCall(sm_grid_destroy(&tgrid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_bottleneck_map_private(SMGrid grid, const double *f, int connectivity, int axis,
                                                      int side, double *m)
{
  SMGrid     tgrid = NULL;
  SMGridInfo tinfo;
  double    *tf;
  PetscBool  solved = PETSC_FALSE;

  PetscFunctionBeginUser;
  if (axis == 2 && f && m && (side == 0 || side == 1)) PetscCall(sm_grid_create_transposed(grid, &tgrid));
  if (tgrid) {
    /* 8 bytes per voxel beside the caller's arrays: the packed search turns the copy of f into the map in place */
    PetscCall(sm_grid_get_info(tgrid, &tinfo));
    PetscCall(PetscMalloc1((size_t)tinfo.n_local, &tf));
    PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), (double *)f, tf, SM_GRID_Z_TO_Y));
    PetscCall(sm_path_solve(tgrid, SM_PATH_BOTTLENECK, NULL, tf, connectivity, 1, side, PETSC_TRUE, tf, &solved));
    if (solved) PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), m, tf, SM_GRID_Y_TO_Z));
    PetscCall(PetscFree(tf));
    PetscCall(sm_grid_destroy(&tgrid));
  }
  /* too many distinct values for the packed search (same decision on every rank): on the z-slabs */
  if (!solved)
    PetscCall(sm_path_solve(grid, SM_PATH_BOTTLENECK, NULL, f, connectivity, axis, side, PETSC_FALSE, m, &solved));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mean geodesic tortuosity (SPEC 5). The geodesic distance from the opposite plane is the shortest path from each start
   voxel to any voxel of that plane (paths are reversible). It is finite exactly for the start voxels connected (with
   the same connectivity) to the opposite plane through the set, which are therefore the start voxels of SPEC 5.
   The mean is summed reproducibly: each ratio t is split into its integer part and a fraction rounded to 2^-40
   (< 1e-12, the SPEC's tolerance for sums), both accumulated in int64; integer sums are exact and associative, so tau
   is bitwise the same at any rank count (the ratios themselves are, see the exactness note above). */
PetscErrorCode sm_morph_geodesic_tortuosity(SMGrid grid, const uint8_t *mask, int connectivity, int axis, int side,
                                            double *tau, int64_t *nstart, int nbins, double bin_width, int64_t *hist)
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
  PetscCall(sm_morph_geodesic_distance(grid, mask, connectivity, axis, 1 - side, dist));

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

PetscErrorCode sm_morph_geodesic_distance(SMGrid grid, const uint8_t *mask, int connectivity, int axis, int side,
                                          double *dist)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscCall(sm_morph_geodesic_distance_private(grid, mask, connectivity, axis, side, dist));
  PetscCall(PetscLogEventEnd(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_bottleneck_map(SMGrid grid, const double *f, int connectivity, int axis, int side, double *m)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscCall(sm_morph_bottleneck_map_private(grid, f, connectivity, axis, side, m));
  PetscCall(PetscLogEventEnd(SM_EVENT_Paths, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
