/* Connected components and percolation fractions across ranks (SPEC 5). Run at 1, 2 and 3 ranks.
 * Truth: a serial breadth-first flood fill, written here, on the gathered full volume. Started from the set voxels in
 * increasing global index, it numbers the components in the order of their smallest voxel, which is the numbering the
 * kernel promises; so the two label arrays must be identical voxel by voxel (same partition, same ids), whatever the
 * rank count. Sizes and face bits are recounted from the flood fill. Hand-built cases: a serpentine cluster whose
 * merges chain through every slab boundary, diagonal-only contacts (body diagonals joined under 26- only, face
 * diagonals under 18- and 26-, neither under 6-connectivity), bars and a blob with hand-computed percolation fractions,
 * channels along z joined through a face, an edge or a corner (percolating, dead-end and isolated fractions that differ
 * between 6, 18 and 26), and an empty set. Option -bench_size N: also time a random 50 % volume of N^3 voxels with
 * 26-connectivity (not an assertion). */
#include <stdlib.h>
#include <stochmorph/morph.h>
#include "smtest.h"
#include "smtest_volume.h"

typedef int (*SMMaskFn)(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p);

/* Bernoulli(p) noise from a hash of the global voxel index: the same volume on every rank count. */
static int cmp_int64(const void *a, const void *b)
{
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int noise(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  uint64_t k = ((uint64_t)((z * n[1] + y) * n[0] + x) + 0x632be59bd9b4e019ULL) * 0x9e3779b97f4a7c15ULL;
  k ^= k >> 31;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 29;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 32;
  return (double)(k >> 11) * 0x1.0p-53 < p;
}

/* Columns at even x running the full z range, joined alternately at the top and the bottom: one cluster that crosses
   every slab boundary once per column, so the merge must chain through all ranks; a second, shorter serpentine on
   y = ny-1 is interleaved with the first in x but never touches it. p is unused. */
static int serpentine(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  (void)p;
  if (y == 0) {
    if (x % 2 == 0) return 1;
    return (x / 2) % 2 == 0 ? z == n[2] - 1 : z == 0;
  }
  if (y == n[1] - 1 && x < n[0] - 2 && z >= 1 && z <= n[2] - 2) {
    if (x % 2 == 1) return 1;
    return (x / 2) % 2 == 0 ? z == 1 : z == n[2] - 2;
  }
  return 0;
}

/* Chains along the body diagonal (x = y = z), an xz face diagonal and a yz anti-diagonal: voxels meet only at corners
   or edges, so each chain is one component under 26-connectivity and single voxels under 6; the chains keep at least
   one voxel apart from each other. */
static int diagonals(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  (void)p;
  (void)n;
  return (x == z && y == z) || (x == z + 3 && y == 6) || (x == 9 && y == 7 - z);
}

/* A mask function with its box and probability, as a voxel function of the slab builder. */
typedef struct {
  SMMaskFn       fn;
  const int64_t *n;
  double         p;
} MaskCtx;

static int mask_voxel(int64_t x, int64_t y, int64_t z, void *ctx)
{
  const MaskCtx *m = (const MaskCtx *)ctx;
  return m->fn(x, y, z, m->n, m->p);
}

static PetscErrorCode make_mask(SMGrid grid, SMMaskFn fn, double p, uint8_t **mask)
{
  SMGridInfo info;
  MaskCtx    ctx;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &info));
  ctx.fn = fn, ctx.n = info.n, ctx.p = p;
  PetscCall(PetscMalloc1((size_t)info.n_local, mask));
  PetscCall(sm_test_fill_slab(grid, mask_voxel, &ctx, *mask));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Serial flood fill of the full mask: label[] as the kernel defines it, returns the number of components. */
static int64_t flood_fill(const int64_t n[3], const uint8_t *mask, int connectivity, int64_t *label, int64_t *queue)
{
  const int64_t N     = n[0] * n[1] * n[2];
  int64_t       ncomp = 0;

  for (int64_t v = 0; v < N; v++) label[v] = -1;
  for (int64_t s = 0; s < N; s++) {
    int64_t head = 0, tail = 0;
    if (!mask[s] || label[s] >= 0) continue;
    label[s]      = ncomp;
    queue[tail++] = s;
    while (head < tail) {
      const int64_t v = queue[head++], x = v % n[0], y = (v / n[0]) % n[1], z = v / (n[0] * n[1]);
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            const int     k  = abs(dx) + abs(dy) + abs(dz);
            const int64_t xx = x + dx, yy = y + dy, zz = z + dz;
            int64_t       w;
            if (k == 0 || (connectivity == 6 && k > 1) || (connectivity == 18 && k > 2)) continue;
            if (xx < 0 || yy < 0 || zz < 0 || xx >= n[0] || yy >= n[1] || zz >= n[2]) continue;
            w = (zz * n[1] + yy) * n[0] + xx;
            if (mask[w] && label[w] < 0) {
              label[w]      = ncomp;
              queue[tail++] = w;
            }
          }
    }
    ncomp++;
  }
  return ncomp;
}

/* Components of fn on an n grid against the flood fill: identical labels, count, sizes and face bits. */
static PetscErrorCode check_case(MPI_Comm comm, const int64_t n[3], SMMaskFn fn, double p, int connectivity,
                                 const char *what, int64_t *ncomp_out)
{
  const PetscReal h[3] = {1, 1, 1};
  const int64_t   N    = n[0] * n[1] * n[2];
  SMGrid          grid;
  SMGridInfo      info;
  SMComponents    cc;
  uint8_t        *mask, *full_mask;
  int64_t        *comp, *full_comp, *ref, *queue, nref, bad = 0, *size_ref;
  uint8_t        *faces_ref;
  int             same_sizes = 1, same_faces = 1;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(make_mask(grid, fn, p, &mask));
  PetscCall(PetscMalloc1((size_t)info.n_local, &comp));
  PetscCall(sm_morph_components(grid, mask, connectivity, comp, &cc));

  PetscCall(PetscMalloc4((size_t)N, &full_mask, (size_t)N, &full_comp, (size_t)N, &ref, (size_t)N, &queue));
  PetscCall(sm_test_allgather_slabs(grid, mask, MPI_UINT8_T, full_mask));
  PetscCall(sm_test_allgather_slabs(grid, comp, MPI_INT64_T, full_comp));
  nref = flood_fill(n, full_mask, connectivity, ref, queue);
  for (int64_t v = 0; v < N; v++) bad += full_comp[v] != ref[v];
  SM_TEST_TRUE(cc.ncomponents == nref, "%s (%d-conn): %lld components, flood fill finds %lld", what, connectivity,
               (long long)cc.ncomponents, (long long)nref);
  SM_TEST_TRUE(bad == 0, "%s (%d-conn): %lld voxels labelled differently from the flood fill", what, connectivity,
               (long long)bad);

  PetscCall(PetscCalloc2((size_t)nref + 1, &size_ref, (size_t)nref + 1, &faces_ref));
  for (int64_t v = 0; v < N; v++)
    if (ref[v] >= 0) {
      const int64_t x = v % n[0], y = (v / n[0]) % n[1], z = v / (n[0] * n[1]);
      size_ref[ref[v]]++;
      faces_ref[ref[v]] |= (uint8_t)((x == 0) | (x == n[0] - 1) << 1 | (y == 0) << 2 | (y == n[1] - 1) << 3 |
                                     (z == 0) << 4 | (z == n[2] - 1) << 5);
    }
  /* this rank's table: exactly the ids of its slab, ascending, each with the flood fill's size and faces in the whole
     box and its voxel count in the slab */
  {
    int64_t *ids, *here, nids = 0, nbad = 0;
    PetscCall(PetscMalloc1((size_t)info.n_local + 1, &ids));
    for (int64_t v = 0; v < info.n_local; v++)
      if (comp[v] >= 0) ids[nids++] = comp[v];
    qsort(ids, (size_t)nids, sizeof(*ids), cmp_int64);
    {
      int64_t m = 0;
      for (int64_t k = 0; k < nids; k++)
        if (m == 0 || ids[m - 1] != ids[k]) ids[m++] = ids[k];
      nids = m;
    }
    nbad += cc.nlocal != nids;
    PetscCall(PetscCalloc1((size_t)cc.nlocal + 1, &here));
    for (int64_t v = 0; v < info.n_local; v++)
      if (comp[v] >= 0) {
        int64_t j;
        PetscCall(sm_morph_components_find(&cc, comp[v], &j));
        if (j >= 0) here[j]++;
        else nbad++;
      }
    for (int64_t i = 0; i < PetscMin(nids, cc.nlocal); i++) {
      int64_t j;
      nbad += cc.ids[i] != ids[i];
      PetscCall(sm_morph_components_find(&cc, ids[i], &j));
      nbad += j != i;
      nbad += cc.count[i] != here[i];
      if (cc.ids[i] >= 0 && cc.ids[i] < nref) {
        same_sizes &= cc.size[i] == size_ref[cc.ids[i]];
        same_faces &= cc.faces[i] == faces_ref[cc.ids[i]];
      } else nbad++;
    }
    {
      int64_t j;
      PetscCall(sm_morph_components_find(&cc, -5, &j));
      nbad += j != -1;
      PetscCall(sm_morph_components_find(&cc, nref + 3, &j));
      nbad += j != -1;
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nbad, 1, MPI_INT64_T, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &same_sizes, 1, MPI_INT, MPI_LAND, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &same_faces, 1, MPI_INT, MPI_LAND, comm));
    SM_TEST_TRUE(nbad == 0, "%s (%d-conn): %lld entries of the rank tables differ from the slab's components", what,
                 connectivity, (long long)nbad);
    PetscCall(PetscFree(ids));
    PetscCall(PetscFree(here));
  }
  SM_TEST_TRUE(same_sizes && cc.ncomponents == nref, "%s (%d-conn): component sizes differ", what, connectivity);
  SM_TEST_TRUE(same_faces && cc.ncomponents == nref, "%s (%d-conn): face bits differ", what, connectivity);
  *ncomp_out = cc.ncomponents;

  PetscCall(PetscFree2(size_ref, faces_ref));
  PetscCall(PetscFree4(full_mask, full_comp, ref, queue));
  PetscCall(sm_morph_components_free(&cc));
  PetscCall(PetscFree(comp));
  PetscCall(PetscFree(mask));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A bar along x through both x faces (10 voxels), a bar from the x-low face ending inside (5), an isolated 2x2x2 blob
   (8) and a column along z through both z faces on the y-low face (9); no two touch, even at corners. */
static int bars(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  (void)n;
  (void)p;
  if (y == 3 && z == 4) return 1;
  if (y == 5 && z == 7 && x <= 4) return 1;
  if (x >= 6 && x <= 7 && y >= 1 && y <= 2 && z >= 1 && z <= 2) return 1;
  if (x == 2 && y == 0) return 1;
  return 0;
}

/* Three channels along z in a 6 x 6 x 8 box (24 voxels), apart from each other even at corners:
   F: the column (0, 0, z), all z (8 voxels, face-connected);
   E: the column (3, 0, z) for z <= 3 and (4, 0, z) for z >= 4 (8), joined only through the edge between (3, 0, 3) and
      (4, 0, 4);
   C: the column (3, 3, z) for z <= 2 and (4, 4, z) for z >= 3 (8), joined only through the corner between (3, 3, 2)
      and (4, 4, 3).
   The joints lie on the slab boundary of 2 ranks (z 3 | 4) and of 3 ranks (z 2 | 3). */
static int channels(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  (void)n;
  (void)p;
  if (x == 0 && y == 0) return 1;
  if (y == 0 && x == (z <= 3 ? 3 : 4)) return 1;
  if (x == y && x == (z <= 2 ? 3 : 4)) return 1;
  return 0;
}

static PetscErrorCode test_channels(MPI_Comm comm)
{
  const PetscReal h[3] = {1, 1, 1};
  const int64_t   n[3] = {6, 6, 8};
  SMGrid          grid;
  SMPercolation   perc;
  uint8_t        *mask;
  int64_t         nc;
  /* Hand count over 24 voxels, per connectivity 6, 18, 26. z: F spans under all; E spans under 18 and 26, else its two
     halves are dead ends (each touches one z face); C spans under 26 only. x: only F touches an x face (x = 0): dead
     end 8, isolated 16 under all three. y: F and E touch y = 0 (dead ends, 16), C touches no y face (isolated, 8).
     Components: 6: F, two halves of E, two of C = 5; 18: 4; 26: 3. The kernel divides the same integers: tolerance 0.
   */
  const int    conns[3] = {6, 18, 26};
  const double pz[3] = {8.0 / 24, 16.0 / 24, 24.0 / 24}, dz[3] = {16.0 / 24, 8.0 / 24, 0.0};
  const int    ncomp[3] = {5, 4, 3};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(make_mask(grid, channels, 0.0, &mask));
  for (int i = 0; i < 3; i++) {
    PetscCall(check_case(comm, n, channels, 0.0, conns[i], "channels", &nc));
    SM_TEST_TRUE(nc == ncomp[i], "channels (%d-conn): %lld components, expected %d", conns[i], (long long)nc, ncomp[i]);
    PetscCall(sm_morph_percolation(grid, mask, conns[i], &perc));
    SM_TEST_TRUE(perc.set_voxels == 24, "channels: %lld set voxels, expected 24", (long long)perc.set_voxels);
    SM_TEST_CLOSE(perc.percolating[2], pz[i], 0.0, "channels: percolating fraction along z");
    SM_TEST_CLOSE(perc.dead_end[2], dz[i], 0.0, "channels: dead-end fraction along z");
    SM_TEST_CLOSE(perc.isolated[2], 0.0, 0.0, "channels: isolated fraction along z");
    SM_TEST_CLOSE(perc.percolating[0], 0.0, 0.0, "channels: percolating fraction along x");
    SM_TEST_CLOSE(perc.dead_end[0], 8.0 / 24, 0.0, "channels: dead-end fraction along x");
    SM_TEST_CLOSE(perc.isolated[0], 16.0 / 24, 0.0, "channels: isolated fraction along x");
    SM_TEST_CLOSE(perc.percolating[1], 0.0, 0.0, "channels: percolating fraction along y");
    SM_TEST_CLOSE(perc.dead_end[1], 16.0 / 24, 0.0, "channels: dead-end fraction along y");
    SM_TEST_CLOSE(perc.isolated[1], 8.0 / 24, 0.0, "channels: isolated fraction along y");
  }
  PetscCall(PetscFree(mask));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int empty(int64_t x, int64_t y, int64_t z, const int64_t n[3], double p)
{
  (void)x;
  (void)y;
  (void)z;
  (void)n;
  (void)p;
  return 0;
}

static PetscErrorCode test_percolation(MPI_Comm comm)
{
  const PetscReal h[3] = {1, 1, 1};
  const int64_t   n[3] = {10, 7, 9};
  SMGrid          grid;
  SMPercolation   perc;
  uint8_t        *mask;
  /* Hand count over 32 voxels: x: bar 10 percolating, dead-end bar 5, blob 8 + column 9 isolated; y: only the column
     touches a y face (y = 0): dead end 9, isolated 23; z: the column percolates (9), the rest is isolated (23).
     The kernel divides the same integers, so the fractions must be the correctly rounded quotients: tolerance 0. */
  const double expect_p[3] = {10.0 / 32, 0.0, 9.0 / 32}, expect_d[3] = {5.0 / 32, 9.0 / 32, 0.0},
               expect_i[3] = {17.0 / 32, 23.0 / 32, 23.0 / 32};

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(make_mask(grid, bars, 0.0, &mask));
  for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) {
    PetscCall(sm_morph_percolation(grid, mask, conn, &perc));
    SM_TEST_TRUE(perc.set_voxels == 32, "bars: %lld set voxels, expected 32", (long long)perc.set_voxels);
    for (int d = 0; d < 3; d++) {
      SM_TEST_CLOSE(perc.percolating[d], expect_p[d], 0.0, "bars: percolating fraction");
      SM_TEST_CLOSE(perc.dead_end[d], expect_d[d], 0.0, "bars: dead-end fraction");
      SM_TEST_CLOSE(perc.isolated[d], expect_i[d], 0.0, "bars: isolated fraction");
    }
  }
  PetscCall(PetscFree(mask));
  PetscCall(make_mask(grid, empty, 0.0, &mask));
  PetscCall(sm_morph_percolation(grid, mask, 26, &perc));
  SM_TEST_TRUE(perc.set_voxels == 0, "empty set: %lld set voxels", (long long)perc.set_voxels);
  for (int d = 0; d < 3; d++)
    SM_TEST_TRUE(perc.percolating[d] == 0.0 && perc.dead_end[d] == 0.0 && perc.isolated[d] == 0.0,
                 "empty set: fractions must be 0, got %g %g %g", perc.percolating[d], perc.dead_end[d],
                 perc.isolated[d]);
  {
    int64_t     *comp;
    SMComponents cc;
    SMGridInfo   info;
    PetscCall(sm_grid_get_info(grid, &info));
    PetscCall(PetscMalloc1((size_t)info.n_local, &comp));
    /* connectivity other than 6, 18 or 26 is refused */
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    SM_TEST_TRUE(sm_morph_components(grid, mask, 7, comp, &cc) != PETSC_SUCCESS, "connectivity 7 refused");
    SM_TEST_TRUE(sm_morph_components(grid, mask, 0, comp, &cc) != PETSC_SUCCESS, "connectivity 0 refused");
    PetscCall(PetscPopErrorHandler());
    PetscCall(PetscFree(comp));
  }
  PetscCall(PetscFree(mask));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bench(MPI_Comm comm, int64_t m)
{
  const PetscReal h[3] = {1, 1, 1};
  const int64_t   n[3] = {m, m, m};
  SMGrid          grid;
  SMGridInfo      info;
  SMComponents    cc;
  uint8_t        *mask;
  int64_t        *comp;
  double          t;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(make_mask(grid, noise, 0.5, &mask));
  PetscCall(PetscMalloc1((size_t)info.n_local, &comp));
  for (int conn = 6; conn <= 26; conn += 20) {
    double best = 1e30;
    /* best of 5: the machine may be shared */
    for (int rep = 0; rep < 5; rep++) {
      PetscCallMPI(MPI_Barrier(comm));
      t = MPI_Wtime();
      PetscCall(sm_morph_components(grid, mask, conn, comp, &cc));
      t    = MPI_Wtime() - t;
      best = PetscMin(best, t);
      if (rep < 4) PetscCall(sm_morph_components_free(&cc));
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, MPI_DOUBLE, MPI_MAX, comm));
    PetscCall(PetscPrintf(comm, "bench %lld^3, 50 %% noise, %d-conn, %d ranks: %lld components, %.3f s\n", (long long)m,
                          conn, info.size, (long long)cc.ncomponents, best));
    PetscCall(sm_morph_components_free(&cc));
  }
  PetscCall(PetscFree(comp));
  PetscCall(PetscFree(mask));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Random volumes around the site-percolation thresholds (0.3116 for 6-, 0.1372 for 18-, 0.0976 for 26-connectivity on
   the simple cubic lattice), where clusters are largest and most tangled, and away from them. n_z = 5 puts slabs of 2,
   2, 1 planes on 3 ranks (a one-plane slab is both first and last plane); n_z = 31 and 50 give thicker slabs; boxes one
   voxel thin in x or y put every voxel on two faces at once. */
static PetscErrorCode test_noise(MPI_Comm comm)
{
  const int64_t sizes[5][3] = {{17, 13, 5}, {24, 21, 31}, {45, 38, 50}, {1, 23, 19}, {26, 1, 8}};
  const double  p6[]        = {0.15, 0.25, 0.31, 0.35, 0.5, 0.8};
  const double  p26[]       = {0.05, 0.09, 0.1, 0.12, 0.3, 0.5};
  const double  p18[]       = {0.08, 0.12, 0.137, 0.16, 0.3, 0.5}; /* 18-connectivity: threshold 0.1372 */
  int64_t       nc          = -1;

  PetscFunctionBeginUser;
  for (int s = 0; s < 5; s++)
    for (int i = 0; i < 6; i++) {
      char what[64];
      PetscCall(PetscSNPrintf(what, sizeof what, "noise p = %.2f", p6[i]));
      PetscCall(check_case(comm, sizes[s], noise, p6[i], 6, what, &nc));
      PetscCall(PetscSNPrintf(what, sizeof what, "noise p = %.3f", p18[i]));
      PetscCall(check_case(comm, sizes[s], noise, p18[i], 18, what, &nc));
      PetscCall(PetscSNPrintf(what, sizeof what, "noise p = %.2f", p26[i]));
      PetscCall(check_case(comm, sizes[s], noise, p26[i], 26, what, &nc));
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Hand-built masks with a known number of components. Serpentines: exactly two whatever the connectivity (columns two
   apart never touch). Diagonal chains over 7 planes: 3 components under 26-connectivity; under 18 the body diagonal
   falls apart into its 7 voxels and the two face-diagonal chains stay whole, 9; under 6, one per voxel:
   7 (body diagonal) + 7 (x = z + 3, y = 6) + 7 (x = 9, y = 7 - z) = 21. An empty mask: none. */
static PetscErrorCode test_known_counts(MPI_Comm comm)
{
  static const struct {
    const char *what;
    int64_t     n[3];
    SMMaskFn    fn;
    int         connectivity;
    int64_t     ncomponents;
  } known[] = {
      {"serpentine", {21, 4, 7}, serpentine, 6, 2},  {"serpentine", {16, 3, 13}, serpentine, 6, 2},
      {"serpentine", {21, 4, 7}, serpentine, 18, 2}, {"serpentine", {16, 3, 13}, serpentine, 18, 2},
      {"serpentine", {21, 4, 7}, serpentine, 26, 2}, {"serpentine", {16, 3, 13}, serpentine, 26, 2},
      {"diagonals", {10, 8, 7}, diagonals, 26, 3},   {"diagonals", {10, 8, 7}, diagonals, 18, 9},
      {"diagonals", {10, 8, 7}, diagonals, 6, 21},   {"empty", {5, 4, 6}, empty, 26, 0},
  };
  int64_t nc = -1;

  PetscFunctionBeginUser;
  for (size_t k = 0; k < PETSC_STATIC_ARRAY_LENGTH(known); k++) {
    PetscCall(check_case(comm, known[k].n, known[k].fn, 0.0, known[k].connectivity, known[k].what, &nc));
    SM_TEST_TRUE(nc == known[k].ncomponents, "%s (%d-conn): %lld components, expected %lld", known[k].what,
                 known[k].connectivity, (long long)nc, (long long)known[k].ncomponents);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -bench_size N: the timing of bench(), when asked for (it asserts nothing). */
static PetscErrorCode run_bench(MPI_Comm comm)
{
  PetscInt  bench_size = 0;
  PetscBool has_bench  = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_size", &bench_size, &has_bench));
  if (has_bench && bench_size > 0) PetscCall(bench(comm, (int64_t)bench_size));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"noise", test_noise}, {"known counts", test_known_counts}, {"percolation", test_percolation},
             {"channels", test_channels}, {"bench", run_bench})
