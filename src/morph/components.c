/* Connected components of a binary set on the z-slab decomposition, and the percolation fractions built on them
 * (SPEC 5).
 *
 * Algorithm: two-pass union-find labelling (Rosenfeld & Pfaltz 1966; the union-find with path halving and linking by
 * index of Wu, Otoo & Suzuki, "Optimizing two-pass connected-component labeling algorithms", Pattern Anal. Appl. 12
 * (2009) 117) inside each slab, then a merge across slab boundaries:
 *   1. Each rank labels its slab with a union-find whose parent array is comp itself. Links always point to the
 *      smaller voxel index, so every local root is the smallest voxel of its local component and parent[v] <= v.
 *      A forward pass then flattens the forest and numbers the local roots 0, 1, ... in index order.
 *   2. Provisional ids: local ordinal + the number of local roots on lower ranks. Slabs are ordered by rank, so the
 *      provisional ids are ordered like the smallest global voxel index of each local component.
 *   3. Every rank receives the first plane of provisional ids of the rank above and lists the equivalences
 *      (own id, upper id) of touching voxels across its upper boundary. Rank 0 gathers them (O(plane) per boundary),
 *      runs a union-find over the ids involved, again linking to the smaller id, so the final root of a merged set is
 *      its smallest provisional id, i.e. the local component holding the smallest global voxel of the component.
 *   4. Final ids: a final root f is numbered f - #(non-final provisional ids below f). Non-final ids all occur in the
 *      gathered equivalences, so rank 0 can count them; each rank receives the resolution of its ids that occur
 *      there plus the count of non-final ids on lower ranks, and numbers the others locally.
 * Components are thus numbered 0 .. n-1 in the order of their smallest global voxel index: integer results that do
 * not depend on the rank count. Extra memory: one local-root table (at most one int64 per local voxel, usually far
 * fewer) plus O(plane) buffers on every rank; rank 0 also holds the equivalences of all boundaries. */
#include <stdlib.h>
#include <string.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>

/* Root of v with path halving; parents always point to smaller indices. */
static inline int64_t uf_find(int64_t *parent, int64_t v)
{
  while (parent[v] != v) {
    parent[v] = parent[parent[v]];
    v         = parent[v];
  }
  return v;
}

/* Merge the set of neighbour n into the set of root r (r the current root of the voxel being labelled); returns the
   new root, the smaller of the two. */
static inline int64_t uf_merge(int64_t *parent, int64_t r, int64_t n)
{
  int64_t rn = uf_find(parent, n);
  if (rn == r) return r;
  if (rn < r) {
    parent[r] = rn;
    return rn;
  }
  parent[rn] = r;
  return r;
}

/* The 13 neighbours of a voxel visited before it under 26-connectivity, most central first: a set neighbour is
   26-adjacent to many of the others, all of which were merged with it already when set (every adjacent pair is merged
   when the later voxel of the pair is visited), so after merging it they need no look (the decision-tree idea of Wu,
   Otoo & Suzuki). The straight-below voxel alone covers all 12 others. */
static const int sm_cc_nb[13][3] = {{0, 0, -1},  {0, -1, 0},  {0, 1, -1},  {0, -1, -1}, {-1, 0, 0},
                                    {-1, -1, 0}, {1, -1, 0},  {-1, 0, -1}, {1, 0, -1},  {-1, -1, -1},
                                    {1, -1, -1}, {-1, 1, -1}, {1, 1, -1}};

/* Pass 1 of the local labelling: comp[v] = union-find parent (-1 outside the set). Only the neighbours visited
   before v (13 for 26-connectivity, 3 for 6) are examined. */
static void label_slab(const uint8_t *mask, int64_t nx, int64_t ny, int64_t nz, int connectivity, int64_t *comp)
{
  const int64_t np = nx * ny;
  int64_t       off[13];
  unsigned      adj[13], valid[32];

  for (int i = 0; i < 13; i++) {
    off[i] = sm_cc_nb[i][0] + sm_cc_nb[i][1] * nx + sm_cc_nb[i][2] * np;
    adj[i] = 0;
    for (int j = 0; j < 13; j++)
      if (abs(sm_cc_nb[i][0] - sm_cc_nb[j][0]) <= 1 && abs(sm_cc_nb[i][1] - sm_cc_nb[j][1]) <= 1 &&
          abs(sm_cc_nb[i][2] - sm_cc_nb[j][2]) <= 1)
        adj[i] |= 1u << j; /* includes i itself */
  }
  /* neighbours inside the slab, by position class: bit 0 x = 0, 1 x = nx-1, 2 y = 0, 3 y = ny-1, 4 z = 0 */
  for (int c = 0; c < 32; c++) {
    valid[c] = 0;
    for (int i = 0; i < 13; i++) {
      const int *d = sm_cc_nb[i];
      if ((c & 1 && d[0] < 0) || (c & 2 && d[0] > 0) || (c & 4 && d[1] < 0) || (c & 8 && d[1] > 0) ||
          (c & 16 && d[2] < 0))
        continue;
      valid[c] |= 1u << i;
    }
  }

  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++) {
      const int64_t row = (z * ny + y) * nx;
      const int     cyz = (y == 0 ? 4 : 0) | (y == ny - 1 ? 8 : 0) | (z == 0 ? 16 : 0);
      for (int64_t x = 0; x < nx; x++) {
        const int64_t v = row + x;
        int64_t       r = v;
        if (!mask[v]) {
          comp[v] = -1;
          continue;
        }
        comp[v] = v;
        if (connectivity == 6) {
          if (x > 0 && comp[v - 1] >= 0) r = uf_merge(comp, r, v - 1);
          if (y > 0 && comp[v - nx] >= 0) r = uf_merge(comp, r, v - nx);
          if (z > 0 && comp[v - np] >= 0) r = uf_merge(comp, r, v - np);
          continue;
        }
        {
          unsigned todo = valid[cyz | (x == 0 ? 1 : 0) | (x == nx - 1 ? 2 : 0)];
          while (todo) {
            const int i = __builtin_ctz(todo);
            todo &= todo - 1;
            if (comp[v + off[i]] >= 0) {
              r = uf_merge(comp, r, v + off[i]);
              todo &= ~adj[i];
            }
          }
        }
      }
    }
}

/* Pass 2: since parent[v] <= v, one forward pass replaces each parent by its (already final) root's ordinal;
   roots get ordinals 0, 1, ... in index order. Returns the number of local roots. */
static int64_t flatten_slab(int64_t n, int64_t *comp)
{
  int64_t k = 0;
  for (int64_t v = 0; v < n; v++) {
    if (comp[v] < 0) continue;
    comp[v] = comp[v] == v ? k++ : comp[comp[v]];
  }
  return k;
}

typedef struct {
  int64_t  n, cap;
  int64_t *ab; /* pairs (a, b) stored as ab[2i], ab[2i+1] */
} SMPairs;

static PetscErrorCode pairs_push(SMPairs *p, int64_t a, int64_t b)
{
  PetscFunctionBeginUser;
  /* Large components give long runs of the same pair: skipping repeats keeps the list near its unique size. */
  if (p->n > 0 && p->ab[2 * p->n - 2] == a && p->ab[2 * p->n - 1] == b) PetscFunctionReturn(PETSC_SUCCESS);
  if (p->n == p->cap) {
    int64_t cap = 2 * p->cap + 64, *ab;
    PetscCall(PetscMalloc1((size_t)(2 * cap), &ab));
    if (p->n) PetscCall(PetscArraycpy(ab, p->ab, 2 * p->n));
    PetscCall(PetscFree(p->ab));
    p->ab  = ab;
    p->cap = cap;
  }
  p->ab[2 * p->n]     = a;
  p->ab[2 * p->n + 1] = b;
  p->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int cmp_pair(const void *a, const void *b)
{
  const int64_t *x = (const int64_t *)a, *y = (const int64_t *)b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

static int cmp_i64(const void *a, const void *b)
{
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* Index of key in the sorted array a[n] (key must be present). */
static int64_t find_sorted(const int64_t *a, int64_t n, int64_t key)
{
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Sort and remove duplicates; returns the new count. */
static int64_t sort_unique_pairs(int64_t *ab, int64_t n)
{
  int64_t m = 0;
  if (n == 0) return 0;
  qsort(ab, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  for (int64_t i = 1; i < n; i++)
    if (ab[2 * i] != ab[2 * m] || ab[2 * i + 1] != ab[2 * m + 1]) {
      m++;
      ab[2 * m]     = ab[2 * i];
      ab[2 * m + 1] = ab[2 * i + 1];
    }
  return m + 1;
}

/* Equivalences of provisional ids across the upper slab boundary: own last plane (ids = local ordinal + offset)
   against the plane above (global provisional ids, -1 outside the set). */
static PetscErrorCode boundary_pairs(const int64_t *last, const int64_t *above, int64_t offset, int64_t nx, int64_t ny,
                                     int connectivity, SMPairs *p)
{
  PetscFunctionBeginUser;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      const int64_t v = y * nx + x;
      if (last[v] < 0) continue;
      if (connectivity == 6) {
        if (above[v] >= 0) PetscCall(pairs_push(p, last[v] + offset, above[v]));
        continue;
      }
      for (int64_t dy = y > 0 ? -1 : 0; dy <= (y + 1 < ny ? 1 : 0); dy++)
        for (int64_t dx = x > 0 ? -1 : 0; dx <= (x + 1 < nx ? 1 : 0); dx++) {
          const int64_t w = v + dy * nx + dx;
          if (above[w] >= 0) PetscCall(pairs_push(p, last[v] + offset, above[w]));
        }
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Resolution of one provisional id that occurs in an equivalence: its final component number and whether it is the
   final root of its set. */
typedef struct {
  int64_t id, number, is_root;
} SMResolved;

/* Rank 0: union-find over all gathered pairs; res[] gets every id that occurs, sorted, with its final number. */
static PetscErrorCode resolve_pairs(const int64_t *ab, int64_t npairs, SMResolved **res_out, int64_t *nres_out,
                                    int64_t *nonfinal_total)
{
  int64_t    *ids, *parent, nids = 0, nonfinal = 0;
  SMResolved *res;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)(2 * npairs + 1), &ids));
  for (int64_t i = 0; i < 2 * npairs; i++) ids[i] = ab[i];
  if (npairs) qsort(ids, (size_t)(2 * npairs), sizeof(int64_t), cmp_i64);
  for (int64_t i = 0; i < 2 * npairs; i++)
    if (nids == 0 || ids[i] != ids[nids - 1]) ids[nids++] = ids[i];
  PetscCall(PetscMalloc1((size_t)nids + 1, &parent));
  for (int64_t i = 0; i < nids; i++) parent[i] = i;
  /* ids are sorted, so linking to the smaller index links to the smaller provisional id */
  for (int64_t i = 0; i < npairs; i++) {
    int64_t a = uf_find(parent, find_sorted(ids, nids, ab[2 * i])),
            b = uf_find(parent, find_sorted(ids, nids, ab[2 * i + 1]));
    if (a < b)
      parent[b] = a;
    else if (b < a)
      parent[a] = b;
  }
  PetscCall(PetscMalloc1((size_t)nids + 1, &res));
  /* Forward pass: parent[i] <= i, so parent[parent[i]] is already the root. res[i].number first holds the count of
     non-final ids below ids[i], needed for the numbering of roots. */
  for (int64_t i = 0; i < nids; i++) {
    parent[i]      = parent[parent[i]];
    res[i].id      = ids[i];
    res[i].is_root = parent[i] == i;
    res[i].number  = nonfinal;
    if (parent[i] != i) nonfinal++;
  }
  for (int64_t i = 0; i < nids; i++) res[i].number = res[i].is_root ? ids[i] - res[i].number : res[parent[i]].number;
  PetscCall(PetscFree(parent));
  PetscCall(PetscFree(ids));
  *res_out        = res;
  *nres_out       = nids;
  *nonfinal_total = nonfinal;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_components_private(SMGrid grid, const uint8_t *mask, int connectivity, int64_t *comp, SMComponents *cc)
{
  MPI_Comm     comm = sm_grid_comm(grid);
  SMGridInfo   info;
  int64_t      nroots, offset = 0, *root_start = NULL, *sendp = NULL, *above = NULL, *table = NULL;
  int64_t      nonfinal_below = 0, nonfinal_total = 0, nres = 0, ncomp = 0;
  SMPairs      pairs = {0, 0, NULL};
  SMResolved  *res = NULL, *mine = NULL;
  int          np = 0, nmine = 0;
  PetscMPIInt  rank, size;
  MPI_Datatype pair_type, res_type;

  PetscFunctionBeginUser;
  PetscCheck(connectivity == 6 || connectivity == 26, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Connectivity must be 6 (face neighbours) or 26 (face, edge and corner neighbours), got %d", connectivity);
  PetscCall(sm_grid_get_info(grid, &info));
  rank = info.rank;
  size = info.size;
  PetscCall(sm_int64_to_int(info.n_plane, &np));
  cc->ncomponents = 0;
  cc->size        = NULL;
  cc->faces       = NULL;

  /* 1. local labelling */
  label_slab(mask, info.n[0], info.n[1], info.z_local, connectivity, comp);
  nroots = flatten_slab(info.n_local, comp);

  /* 2. provisional ids: offsets of every rank's local roots (root_start[size] = total) */
  PetscCall(PetscMalloc1((size_t)size + 1, &root_start));
  PetscCallMPI(MPI_Allgather(&nroots, 1, MPI_INT64_T, root_start + 1, 1, MPI_INT64_T, comm));
  root_start[0] = 0;
  for (int r = 0; r < size; r++) root_start[r + 1] += root_start[r];
  offset = root_start[rank];

  /* 3. equivalences across the upper boundary */
  PetscCall(PetscMalloc2((size_t)np, &sendp, (size_t)np, &above));
  for (int64_t v = 0; v < info.n_plane; v++) sendp[v] = comp[v] >= 0 ? comp[v] + offset : -1;
  PetscCallMPI(MPI_Sendrecv(sendp, np, MPI_INT64_T, rank > 0 ? rank - 1 : MPI_PROC_NULL, 23, above, np, MPI_INT64_T,
                            rank + 1 < size ? rank + 1 : MPI_PROC_NULL, 23, comm, MPI_STATUS_IGNORE));
  if (rank + 1 < size)
    PetscCall(boundary_pairs(comp + (info.z_local - 1) * info.n_plane, above, offset, info.n[0], info.n[1],
                             connectivity, &pairs));
  PetscCall(PetscFree2(sendp, above));
  pairs.n = sort_unique_pairs(pairs.ab, pairs.n);

  PetscCallMPI(MPI_Type_contiguous(2, MPI_INT64_T, &pair_type));
  PetscCallMPI(MPI_Type_commit(&pair_type));
  PetscCallMPI(MPI_Type_contiguous(3, MPI_INT64_T, &res_type));
  PetscCallMPI(MPI_Type_commit(&res_type));
  {
    int     *counts = NULL, *displs = NULL, mycount = 0, total = 0;
    int64_t *all = NULL, nbelow[1] = {0}, *nb_all = NULL;

    PetscCall(sm_int64_to_int(pairs.n, &mycount));
    if (rank == 0) PetscCall(PetscMalloc2((size_t)size, &counts, (size_t)size, &displs));
    PetscCallMPI(MPI_Gather(&mycount, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
    if (rank == 0) {
      int64_t sum = 0;
      for (int r = 0; r < size; r++) {
        PetscCall(sm_int64_to_int(sum, &displs[r]));
        sum += counts[r];
      }
      PetscCall(sm_int64_to_int(sum, &total));
      PetscCall(PetscMalloc1(2 * (size_t)total + 2, &all));
    }
    PetscCallMPI(MPI_Gatherv(pairs.ab, mycount, pair_type, all, counts, displs, pair_type, 0, comm));
    PetscCall(PetscFree(pairs.ab));

    /* 4. global resolution on rank 0, then each rank gets the resolutions of the ids it owns */
    if (rank == 0) {
      int64_t i = 0;
      PetscCall(resolve_pairs(all, total, &res, &nres, &nonfinal_total));
      PetscCall(PetscFree(all));
      PetscCall(PetscMalloc1((size_t)size, &nb_all));
      /* res is sorted by id and ids are grouped by owner rank in rank order; nb_all[r] = non-final ids of lower ranks
       */
      for (int r = 0; r < size; r++) {
        int64_t first = i;
        nb_all[r]     = r == 0 ? 0 : nb_all[r - 1];
        if (r > 0)
          for (int64_t j = displs[r - 1]; j < (int64_t)displs[r - 1] + counts[r - 1]; j++) nb_all[r] += !res[j].is_root;
        while (i < nres && res[i].id < root_start[r + 1]) i++;
        PetscCall(sm_int64_to_int(i - first, &counts[r]));
        PetscCall(sm_int64_to_int(first, &displs[r]));
      }
    }
    PetscCallMPI(MPI_Scatter(counts, 1, MPI_INT, &nmine, 1, MPI_INT, 0, comm));
    PetscCallMPI(MPI_Scatter(nb_all, 1, MPI_INT64_T, nbelow, 1, MPI_INT64_T, 0, comm));
    nonfinal_below = nbelow[0];
    PetscCall(PetscMalloc1((size_t)nmine + 1, &mine));
    PetscCallMPI(MPI_Scatterv(res, counts, displs, res_type, mine, nmine, res_type, 0, comm));
    PetscCallMPI(MPI_Bcast(&nonfinal_total, 1, MPI_INT64_T, 0, comm));
    PetscCall(PetscFree(res));
    PetscCall(PetscFree(nb_all));
    if (rank == 0) PetscCall(PetscFree2(counts, displs));
  }
  PetscCallMPI(MPI_Type_free(&pair_type));
  PetscCallMPI(MPI_Type_free(&res_type));

  /* final number of each local root: resolved ids from rank 0, the others are final roots numbered
     id - #(non-final ids below id) */
  PetscCall(PetscMalloc1((size_t)nroots + 1, &table));
  {
    int64_t j = 0, nonfinal_here = 0;
    for (int64_t k = 0; k < nroots; k++) {
      const int64_t id = offset + k;
      if (j < nmine && mine[j].id == id) {
        table[k] = mine[j].number;
        nonfinal_here += !mine[j].is_root;
        j++;
      } else
        table[k] = id - nonfinal_below - nonfinal_here;
    }
    PetscAssert(j == nmine, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Resolved ids outside this rank's range");
  }
  PetscCall(PetscFree(mine));
  ncomp           = root_start[size] - nonfinal_total;
  cc->ncomponents = ncomp;
  PetscCall(PetscFree(root_start));

  /* final ids, sizes and faces in one pass; sizes and faces are then reduced in place: O(ncomponents) per rank */
  PetscCall(PetscCalloc1((size_t)ncomp + 1, &cc->size));
  PetscCall(PetscCalloc1((size_t)ncomp + 1, &cc->faces));
  {
    const int64_t nx = info.n[0], ny = info.n[1], nz = info.n[2];
    for (int64_t z = 0; z < info.z_local; z++) {
      const int64_t gz    = info.z_start + z;
      const uint8_t zbits = (uint8_t)((gz == 0 ? 16 : 0) | (gz == nz - 1 ? 32 : 0));
      for (int64_t y = 0; y < ny; y++) {
        int64_t      *c     = comp + (z * ny + y) * nx;
        const uint8_t rbits = (uint8_t)(zbits | (y == 0 ? 4 : 0) | (y == ny - 1 ? 8 : 0));
        for (int64_t x = 0; x < nx; x++)
          if (c[x] >= 0) {
            c[x] = table[c[x]];
            cc->size[c[x]]++;
            if (rbits) cc->faces[c[x]] |= rbits;
          }
        if (c[0] >= 0) cc->faces[c[0]] |= 1;
        if (c[nx - 1] >= 0) cc->faces[c[nx - 1]] |= 2;
      }
    }
  }
  PetscCall(PetscFree(table));
  /* MPI counts are int: reduce in chunks so that any number of components works */
  for (int64_t s = 0; s < ncomp; s += INT32_MAX / 2) {
    int n = (int)PetscMin((int64_t)(INT32_MAX / 2), ncomp - s);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cc->size + s, n, MPI_INT64_T, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cc->faces + s, n, MPI_UINT8_T, MPI_BOR, comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_components_free(SMComponents *cc)
{
  PetscFunctionBeginUser;
  if (!cc) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(cc->size));
  PetscCall(PetscFree(cc->faces));
  cc->ncomponents = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_percolation(SMGrid grid, const uint8_t *mask, int connectivity, SMPercolation *perc)
{
  SMGridInfo   info;
  SMComponents cc;
  int64_t     *comp, both[3] = {0, 0, 0}, one[3] = {0, 0, 0}, none[3] = {0, 0, 0}, total = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(PetscMalloc1((size_t)info.n_local, &comp));
  PetscCall(sm_morph_components(grid, mask, connectivity, comp, &cc));
  PetscCall(PetscFree(comp));
  /* integer sums over the (rank-independent) component table, then one division: identical on every rank count */
  for (int64_t c = 0; c < cc.ncomponents; c++) {
    total += cc.size[c];
    for (int d = 0; d < 3; d++) {
      const int lo = (cc.faces[c] >> (2 * d)) & 1, hi = (cc.faces[c] >> (2 * d + 1)) & 1;
      if (lo && hi)
        both[d] += cc.size[c];
      else if (lo || hi)
        one[d] += cc.size[c];
      else
        none[d] += cc.size[c];
    }
  }
  PetscCall(sm_morph_components_free(&cc));
  perc->set_voxels = total;
  for (int d = 0; d < 3; d++) {
    /* an empty set has no fractions to speak of: report zeros rather than 0/0 */
    perc->percolating[d] = total ? (double)both[d] / (double)total : 0.0;
    perc->dead_end[d]    = total ? (double)one[d] / (double)total : 0.0;
    perc->isolated[d]    = total ? (double)none[d] / (double)total : 0.0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_components(SMGrid grid, const uint8_t *mask, int connectivity, int64_t *comp, SMComponents *cc)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_Components, 0, 0, 0, 0));
  PetscCall(sm_morph_components_private(grid, mask, connectivity, comp, cc));
  PetscCall(PetscLogEventEnd(SM_EVENT_Components, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
