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
 *   3. One halo exchange of the provisional ids of the first and last planes gives, for each slab face, the pairs of
 *      local roots that touch across it; both sides list the roots touching the face in id order, so a sweep sends
 *      only the labels of those roots (a few per component crossing the face, not a plane). Every local root starts
 *      with its provisional id as label; sweeps of label propagation (each root takes the smallest label of the
 *      roots touching it on the neighbouring ranks) run until no rank changes a label (one MPI_Allreduce of a flag
 *      per sweep). The fixed point gives every local root the smallest provisional id of its global component, i.e.
 *      the id of the local component holding the component's smallest global voxel (the final root).
 *   4. Final ids: a final root f is numbered f - #(non-final provisional ids below f) (the non-final ids of lower
 *      ranks by one MPI_Exscan, those of this rank by counting); a second propagation of the same kind carries each
 *      final root's number to the other local roots of its component.
 * Components are thus numbered 0 .. n-1 in the order of their smallest global voxel index: integer results that do
 * not depend on the rank count. The number of sweeps is the longest chain of local components that the smallest id
 * must cross (at least P - 1 for a component that spans all P slabs; -info prints it); a sweep costs work and
 * messages proportional to the roots on the two faces, plus one small reduction, and no rank gathers anything from
 * the others. Extra memory: one local-root table (at most one int64 per local voxel, usually far fewer), four planes
 * of int64 for the one halo, and the face lists. */
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
   Otoo & Suzuki). The straight-below voxel alone covers all 12 others. The first 9 (at most two nonzero offsets) are
   the earlier neighbours under 18-connectivity; the 3 with one nonzero offset those under 6. */
static const int sm_cc_nb[13][3] = {{0, 0, -1},  {0, -1, 0},  {0, 1, -1},  {0, -1, -1}, {-1, 0, 0},
                                    {-1, -1, 0}, {1, -1, 0},  {-1, 0, -1}, {1, 0, -1},  {-1, -1, -1},
                                    {1, -1, -1}, {-1, 1, -1}, {1, 1, -1}};

/* Number of nonzero offsets a neighbour may have under the connectivity: 1 (6: faces), 2 (18: faces and edges),
   3 (26: faces, edges and corners). */
static int sm_cc_reach(int connectivity)
{
  return connectivity == 6 ? 1 : connectivity == 18 ? 2 : 3;
}

/* Pass 1 of the local labelling: comp[v] = union-find parent (-1 outside the set). Only the neighbours visited
   before v (13 for 26-connectivity, the first 9 of the table for 18, 3 for 6) are examined. */
static void label_slab(const uint8_t *mask, int64_t nx, int64_t ny, int64_t nz, int connectivity, int64_t *comp)
{
  const int64_t np    = nx * ny;
  const int     reach = sm_cc_reach(connectivity);
  int64_t       off[13];
  unsigned      adj[13], valid[32], allowed = 0;

  for (int i = 0; i < 13; i++) {
    off[i] = sm_cc_nb[i][0] + sm_cc_nb[i][1] * nx + sm_cc_nb[i][2] * np;
    adj[i] = 0;
    if ((sm_cc_nb[i][0] != 0) + (sm_cc_nb[i][1] != 0) + (sm_cc_nb[i][2] != 0) <= reach) allowed |= 1u << i;
    /* two earlier neighbours adjacent under the same connectivity were merged already when the later one was set */
    for (int j = 0; j < 13; j++) {
      const int ex = abs(sm_cc_nb[i][0] - sm_cc_nb[j][0]), ey = abs(sm_cc_nb[i][1] - sm_cc_nb[j][1]),
                ez = abs(sm_cc_nb[i][2] - sm_cc_nb[j][2]);
      if (ex <= 1 && ey <= 1 && ez <= 1 && (ex != 0) + (ey != 0) + (ez != 0) <= reach) adj[i] |= 1u << j; /* i too */
    }
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
    valid[c] &= allowed;
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

/* Index of key in the sorted array a[n] (n > 0): where key is if present, otherwise the first entry above it (or the
   last entry). */
static int64_t find_sorted(const int64_t *a, int64_t n, int64_t key)
{
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The adjacency of this rank's local roots with those of one neighbouring rank across one slab face:
   own[] the distinct own roots on the face that touch the neighbour's set (sorted; their values are sent),
   nb[] the distinct provisional ids of the neighbour's roots that touch mine (sorted; their values are received, and
   the neighbour's own[] towards me is exactly this list, in the same order), and the edges (own root, index in nb). */
typedef struct {
  int64_t  nown, nnb, nedge;
  int64_t *own, *nb, *edge; /* edge[2 i] = local root, edge[2 i + 1] = index into nb */
  int64_t *sendv, *recvv;   /* values of own[] and nb[] during a sweep */
} SMFace;

/* Build a face from this rank's face plane (local root ordinals, -1 outside the set) and the ghost plane of the
   neighbour's provisional ids. */
static PetscErrorCode face_build(const int64_t *plane, const int64_t *ghost, int64_t nx, int64_t ny, int connectivity,
                                 SMFace *f)
{
  const int reach = sm_cc_reach(connectivity) - 1; /* the step across the face uses one nonzero offset already */
  int64_t   n = 0, cap = 64, *ab;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(2 * (size_t)cap, &ab));
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) {
      const int64_t v = y * nx + x;
      if (plane[v] < 0) continue;
      for (int64_t dy = (reach && y > 0) ? -1 : 0; dy <= ((reach && y + 1 < ny) ? 1 : 0); dy++)
        for (int64_t dx = (reach && x > 0) ? -1 : 0; dx <= ((reach && x + 1 < nx) ? 1 : 0); dx++) {
          int64_t w;
          if ((dx != 0) + (dy != 0) > reach) continue;
          w = ghost[v + dy * nx + dx];
          if (w < 0) continue;
          /* large components give long runs of the same pair: skip repeats */
          if (n > 0 && ab[2 * n - 2] == plane[v] && ab[2 * n - 1] == w) continue;
          if (n == cap) {
            cap *= 2;
            PetscCall(PetscRealloc(2 * sizeof(int64_t) * (size_t)cap, &ab));
          }
          ab[2 * n]     = plane[v];
          ab[2 * n + 1] = w;
          n++;
        }
    }
  if (n) qsort(ab, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  f->nedge = 0;
  for (int64_t i = 0; i < n; i++)
    if (!f->nedge || ab[2 * i] != ab[2 * f->nedge - 2] || ab[2 * i + 1] != ab[2 * f->nedge - 1]) {
      ab[2 * f->nedge]     = ab[2 * i];
      ab[2 * f->nedge + 1] = ab[2 * i + 1];
      f->nedge++;
    }
  PetscCall(PetscMalloc4((size_t)f->nedge + 1, &f->own, (size_t)f->nedge + 1, &f->nb, (size_t)f->nedge + 1, &f->sendv,
                         (size_t)f->nedge + 1, &f->recvv));
  f->nown = f->nnb = 0;
  for (int64_t i = 0; i < f->nedge; i++) {
    if (!f->nown || f->own[f->nown - 1] != ab[2 * i]) f->own[f->nown++] = ab[2 * i];
    f->nb[f->nnb++] = ab[2 * i + 1];
  }
  if (f->nnb) qsort(f->nb, (size_t)f->nnb, sizeof(int64_t), cmp_i64);
  {
    int64_t m = 0;
    for (int64_t i = 0; i < f->nnb; i++)
      if (!m || f->nb[i] != f->nb[m - 1]) f->nb[m++] = f->nb[i];
    f->nnb = m;
  }
  for (int64_t i = 0; i < f->nedge; i++) ab[2 * i + 1] = find_sorted(f->nb, f->nnb, ab[2 * i + 1]);
  f->edge = ab;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode face_destroy(SMFace *f)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(f->own, f->nb, f->sendv, f->recvv));
  PetscCall(PetscFree(f->edge));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sweeps of label propagation until no rank changes a value (an MPI_Allreduce of the change flag per sweep): each
   sweep sends the values of the roots on each face to the neighbour (sm_grid_neighbor_exchange: as many int64 as
   roots touch the face, not a plane) and every root takes the smallest value of the neighbour roots touching it.
   At the fixed point val is, on every local root, the smallest initial value over its global component (negative
   values are not used). Returns the number of sweeps. Collective. */
static PetscErrorCode propagate_min(SMGrid grid, SMFace face[2], int64_t *val, int *sweeps)
{
  MPI_Comm comm = sm_grid_comm(grid);

  PetscFunctionBeginUser;
  *sweeps = 0;
  for (;;) {
    int changed = 0, any = 0;
    for (int s = 0; s < 2; s++)
      for (int64_t i = 0; i < face[s].nown; i++) face[s].sendv[i] = val[face[s].own[i]];
    PetscCall(sm_grid_neighbor_exchange(grid, MPI_INT64_T, face[0].nown, face[0].sendv, face[1].nown, face[1].sendv,
                                        face[0].nnb, face[0].recvv, face[1].nnb, face[1].recvv));
    for (int s = 0; s < 2; s++)
      for (int64_t i = 0; i < face[s].nedge; i++) {
        const int64_t a = face[s].edge[2 * i], w = face[s].recvv[face[s].edge[2 * i + 1]];
        if (w >= 0 && w < val[a]) {
          val[a]  = w;
          changed = 1;
        }
      }
    (*sweeps)++;
    PetscCallMPI(MPI_Allreduce(&changed, &any, 1, MPI_INT, MPI_LOR, comm));
    if (!any) break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The component table of this rank: the distinct final ids of its local roots (root k has final id table[k], rsize[k]
   voxels and face bits rfaces[k] here), with each component's global voxel count and face bits. Records (id, voxels,
   faces) go to the rank owning the id (ids split into P balanced blocks), which adds them up and sends every requester
   the totals (two record exchanges of the grid). Memory and messages: O(local components + ncomp / P) per rank, so
   no rank holds a table of all components. */
typedef struct {
  int64_t id, size, faces;
} SMCompRecord;

static int sm_comp_record_cmp(const void *a, const void *b)
{
  const SMCompRecord *x = (const SMCompRecord *)a, *y = (const SMCompRecord *)b;
  return (x->id > y->id) - (x->id < y->id);
}

/* block r of the ids is [r ncomp / P, (r + 1) ncomp / P) (rounded down); the owner of id is the last block starting at
   or below it */
static inline PetscMPIInt comp_owner(int64_t id, int64_t ncomp, PetscMPIInt size)
{
  const int64_t r = ((id + 1) * (int64_t)size - 1) / ncomp;
  return (PetscMPIInt)PetscMin(r, (int64_t)size - 1);
}

static PetscErrorCode components_table(SMGrid grid, int64_t ncomp, int64_t nroots, const int64_t *table,
                                       const int64_t *rsize, const uint8_t *rfaces, SMComponents *cc)
{
  SMGridInfo    info;
  SMCompRecord *rec;
  int64_t       nloc = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  /* this rank's distinct ids with their local voxels and faces */
  PetscCall(PetscMalloc1((size_t)nroots + 1, &rec));
  for (int64_t k = 0; k < nroots; k++) {
    rec[k].id    = table[k];
    rec[k].size  = rsize[k];
    rec[k].faces = rfaces[k];
  }
  qsort(rec, (size_t)nroots, sizeof(*rec), sm_comp_record_cmp);
  for (int64_t k = 0; k < nroots; k++) {
    if (nloc > 0 && rec[nloc - 1].id == rec[k].id) {
      rec[nloc - 1].size += rec[k].size;
      rec[nloc - 1].faces |= rec[k].faces;
    } else rec[nloc++] = rec[k];
  }
  cc->nlocal = nloc;
  PetscCall(PetscMalloc4((size_t)nloc + 1, &cc->ids, (size_t)nloc + 1, &cc->count, (size_t)nloc + 1, &cc->size,
                         (size_t)nloc + 1, &cc->faces));
  for (int64_t i = 0; i < nloc; i++) {
    cc->ids[i]   = rec[i].id;
    cc->count[i] = rec[i].size;
    cc->size[i]  = rec[i].size;
    cc->faces[i] = (uint8_t)rec[i].faces;
  }
  if (info.size > 1) {
    SMCompRecord *recv = NULL, *back = NULL;
    int64_t       nrecv = 0, nback = 0, *count, *rcount, *bsize;
    const int64_t lo = (int64_t)info.rank * ncomp / info.size, hi = ((int64_t)info.rank + 1) * ncomp / info.size;
    uint8_t      *bfaces;
    MPI_Datatype  type;

    /* to the owners (ids ascending, so grouped by owner in rank order), added up there, and back */
    PetscCall(PetscCalloc2((size_t)info.size, &count, (size_t)info.size, &rcount));
    for (int64_t i = 0; i < nloc; i++) count[comp_owner(rec[i].id, ncomp, info.size)]++;
    PetscCallMPI(MPI_Type_contiguous(3, MPI_INT64_T, &type));
    PetscCallMPI(MPI_Type_commit(&type));
    PetscCall(sm_grid_exchange_records_counts(grid, type, sizeof(SMCompRecord), rec, count, (void **)&recv, &nrecv, rcount));
    PetscCall(PetscCalloc2((size_t)(hi - lo) + 1, &bsize, (size_t)(hi - lo) + 1, &bfaces));
    for (int64_t q = 0; q < nrecv; q++) {
      PetscCheck(recv[q].id >= lo && recv[q].id < hi, PETSC_COMM_SELF, PETSC_ERR_PLIB,
                 "Component %lld sent to the wrong rank", (long long)recv[q].id);
      bsize[recv[q].id - lo] += recv[q].size;
      bfaces[recv[q].id - lo] |= (uint8_t)recv[q].faces;
    }
    for (int64_t q = 0; q < nrecv; q++) {
      recv[q].size  = bsize[recv[q].id - lo];
      recv[q].faces = bfaces[recv[q].id - lo];
    }
    PetscCall(PetscFree2(bsize, bfaces));
    /* the replies: what came from rank r goes back to r in the order it came (records arrive grouped by source rank,
       and each source sent its ids ascending) */
    PetscCall(sm_grid_exchange_records(grid, type, sizeof(SMCompRecord), recv, rcount, (void **)&back, &nback));
    PetscCallMPI(MPI_Type_free(&type));
    PetscCheck(nback == nloc, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Component records lost: %lld of %lld came back",
               (long long)nback, (long long)nloc);
    for (int64_t i = 0; i < nloc; i++) {
      PetscCheck(back[i].id == cc->ids[i], PETSC_COMM_SELF, PETSC_ERR_PLIB, "Component records out of order");
      cc->size[i]  = back[i].size;
      cc->faces[i] = (uint8_t)back[i].faces;
    }
    PetscCall(PetscFree(recv));
    PetscCall(PetscFree(back));
    PetscCall(PetscFree2(count, rcount));
  }
  PetscCall(PetscFree(rec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_components_private(SMGrid grid, const uint8_t *mask, int connectivity, int64_t *comp, SMComponents *cc)
{
  MPI_Comm     comm = sm_grid_comm(grid);
  SMGridInfo   info;
  int64_t      nroots, offset = 0, total_roots = 0, *table = NULL;
  int64_t      nonfinal_below = 0, nonfinal_total = 0, ncomp = 0;
  int          sweeps1 = 0, sweeps2 = 0;
  SMFace       face[2];
  PetscMPIInt  rank;

  PetscFunctionBeginUser;
  PetscCheck(connectivity == 6 || connectivity == 18 || connectivity == 26, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Connectivity must be 6 (face neighbours), 18 (face and edge neighbours) or 26 (face, edge and corner "
             "neighbours), got %d",
             connectivity);
  PetscCall(sm_grid_get_info(grid, &info));
  rank = info.rank;
  cc->ncomponents = 0;
  cc->nlocal      = 0;
  cc->ids = cc->count = cc->size = NULL;
  cc->faces                      = NULL;

  /* 1. local labelling */
  label_slab(mask, info.n[0], info.n[1], info.z_local, connectivity, comp);
  nroots = flatten_slab(info.n_local, comp);

  /* 2. provisional ids: this rank's local roots are offset + 0 .. nroots - 1 */
  PetscCallMPI(MPI_Exscan(&nroots, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) offset = 0;
  PetscCallMPI(MPI_Allreduce(&nroots, &total_roots, 1, MPI_INT64_T, MPI_SUM, comm));

  /* 3. the smallest provisional id of each global component, by propagation across the slab faces: one halo of
     the provisional ids of the first and last planes gives the adjacency of the roots across both faces */
  memset(face, 0, sizeof(face));
  if (info.size > 1) {
    const int64_t        fill = -1, np = info.n_plane, *lastc = comp + (info.z_local - 1) * np;
    const SMGridHaloSpec spec = {MPI_INT64_T, sizeof(int64_t), np, 1, PETSC_FALSE, &fill};
    int64_t             *sfirst, *slast, *below, *above;
    PetscCall(PetscMalloc4((size_t)np, &sfirst, (size_t)np, &slast, (size_t)np, &below, (size_t)np, &above));
    for (int64_t v = 0; v < np; v++) {
      sfirst[v] = comp[v] >= 0 ? comp[v] + offset : -1;
      slast[v]  = lastc[v] >= 0 ? lastc[v] + offset : -1;
    }
    PetscCall(sm_grid_halo(grid, &spec, sfirst, slast, below, above));
    PetscCall(face_build(comp, below, info.n[0], info.n[1], connectivity, &face[0]));
    PetscCall(face_build(lastc, above, info.n[0], info.n[1], connectivity, &face[1]));
    PetscCall(PetscFree4(sfirst, slast, below, above));
  }
  PetscCall(PetscMalloc1((size_t)nroots + 1, &table));
  for (int64_t k = 0; k < nroots; k++) table[k] = offset + k;
  if (info.size > 1) PetscCall(propagate_min(grid, face, table, &sweeps1));

  /* 4. final numbers: a final root f (table = own id) is numbered f - #(non-final ids below f); the others take the
     number of their root by a second propagation (only roots start with a number, so the minimum is that number) */
  {
    int64_t nonfinal_here = 0, nonfinal_mine = 0;
    for (int64_t k = 0; k < nroots; k++) nonfinal_mine += table[k] != offset + k;
    PetscCallMPI(MPI_Exscan(&nonfinal_mine, &nonfinal_below, 1, MPI_INT64_T, MPI_SUM, comm));
    if (rank == 0) nonfinal_below = 0;
    PetscCallMPI(MPI_Allreduce(&nonfinal_mine, &nonfinal_total, 1, MPI_INT64_T, MPI_SUM, comm));
    for (int64_t k = 0; k < nroots; k++) {
      if (table[k] == offset + k) table[k] = offset + k - nonfinal_below - nonfinal_here;
      else {
        table[k] = INT64_MAX;
        nonfinal_here++;
      }
    }
  }
  if (info.size > 1) PetscCall(propagate_min(grid, face, table, &sweeps2));
  if (info.size > 1) {
    PetscCall(face_destroy(&face[0]));
    PetscCall(face_destroy(&face[1]));
  }
  PetscCall(PetscInfo(NULL, "components: %lld local roots, %d + %d propagation sweeps\n", (long long)total_roots, sweeps1,
                      sweeps2));
  ncomp           = total_roots - nonfinal_total;
  cc->ncomponents = ncomp;

  /* 5. final ids, and each local root's voxels and face bits in the same pass */
  {
    const int64_t nx = info.n[0], ny = info.n[1], nz = info.n[2];
    int64_t      *rsize;
    uint8_t      *rfaces;
    PetscCall(PetscCalloc2((size_t)nroots + 1, &rsize, (size_t)nroots + 1, &rfaces));
    for (int64_t z = 0; z < info.z_local; z++) {
      const int64_t gz    = info.z_start + z;
      const uint8_t zbits = (uint8_t)((gz == 0 ? 16 : 0) | (gz == nz - 1 ? 32 : 0));
      for (int64_t y = 0; y < ny; y++) {
        int64_t      *c     = comp + (z * ny + y) * nx;
        const uint8_t rbits = (uint8_t)(zbits | (y == 0 ? 4 : 0) | (y == ny - 1 ? 8 : 0));
        if (c[0] >= 0) rfaces[c[0]] |= 1;
        if (c[nx - 1] >= 0) rfaces[c[nx - 1]] |= 2;
        for (int64_t x = 0; x < nx; x++)
          if (c[x] >= 0) {
            rsize[c[x]]++;
            rfaces[c[x]] |= rbits;
            c[x] = table[c[x]];
          }
      }
    }
    PetscCall(components_table(grid, ncomp, nroots, table, rsize, rfaces, cc));
    PetscCall(PetscFree2(rsize, rfaces));
  }
  PetscCall(PetscFree(table));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_components_find(const SMComponents *cc, int64_t id, int64_t *i)
{
  PetscFunctionBeginUser;
  *i = -1;
  if (cc->nlocal > 0) {
    const int64_t a = find_sorted(cc->ids, cc->nlocal, id); /* the first entry >= id, or the last */
    if (cc->ids[a] == id) *i = a;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_components_free(SMComponents *cc)
{
  PetscFunctionBeginUser;
  if (!cc) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree4(cc->ids, cc->count, cc->size, cc->faces));
  cc->ncomponents = cc->nlocal = 0;
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
  /* integer sums of this rank's voxels by the faces its components touch (in the whole box), then one reduction and
     one division: identical on every rank count */
  for (int64_t i = 0; i < cc.nlocal; i++) {
    total += cc.count[i];
    for (int d = 0; d < 3; d++) {
      const int lo = (cc.faces[i] >> (2 * d)) & 1, hi = (cc.faces[i] >> (2 * d + 1)) & 1;
      if (lo && hi)
        both[d] += cc.count[i];
      else if (lo || hi)
        one[d] += cc.count[i];
      else
        none[d] += cc.count[i];
    }
  }
  {
    int64_t sums[10] = {total, both[0], both[1], both[2], one[0], one[1], one[2], none[0], none[1], none[2]};
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sums, 10, MPI_INT64_T, MPI_SUM, sm_grid_comm(grid)));
    total = sums[0];
    for (int d = 0; d < 3; d++) {
      both[d] = sums[1 + d];
      one[d]  = sums[4 + d];
      none[d] = sums[7 + d];
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
