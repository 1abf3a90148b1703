/* Exact Euclidean distance transform across ranks (SPEC 5). Run at 1, 2 and 3 ranks.
 * Truth: brute force, the minimum over every zero voxel of the slice (all axes of the mask) of the squared physical
 * distance, plus the distance to the voxels just outside the box for the obstacle border, computed from the global mask
 * function without any decomposition. Also: the parallel result is bitwise equal to the same transform computed on one
 * rank (each 1D line is computed by the same code on the same data).
 * Tolerance 1e-12 relative: both sides are sums of at most three rounded squares of products (i - j) h; they can only
 * differ in the order of the sum or, at exact ties, in which of two equally near zero voxels is chosen, i.e. by a few
 * ulp (~1e-15 relative). */
#include <stochmorph/morph.h>
#include <string.h>
#include "smtest.h"
#include "smtest_volume.h"

typedef struct {
  int      kind; /* 0 random, 1 two zeros, 2 no zero, 3 chi2-like */
  double   p0;   /* kind 0: fraction of zero voxels */
  int64_t  n[3];
  uint8_t *all;               /* the global mask, filled by fill_mask (every rank holds it: the volumes are small) */
  int64_t  nzero, (*zero)[3]; /* the zero voxels, for the brute force */
} MaskSpec;

static uint64_t mix(uint64_t k)
{
  k *= 0x9e3779b97f4a7c15ULL;
  k ^= k >> 29;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 32;
  return k;
}

/* A smooth random-phase field (sum of cosines with fixed wave vectors), so the chi2-like set has blobs and necks. */
static double wave(const int64_t n[3], int64_t x, int64_t y, int64_t z, int seed)
{
  double s = 0.0;
  for (int k = 0; k < 6; k++) {
    uint64_t r  = mix((uint64_t)(seed * 17 + k + 1));
    double   kx = 2 * PETSC_PI * (double)((r & 7) + 1) / (double)n[0],
           ky   = 2 * PETSC_PI * (double)(((r >> 3) & 7) + 1) / (double)n[1];
    double kz   = 2 * PETSC_PI * (double)(((r >> 6) & 7) + 1) / (double)n[2],
           ph   = (double)((r >> 9) & 1023) / 1024.0 * 6.283;
    s += cos(kx * x + ky * y + kz * z + ph);
  }
  return s / sqrt(3.0);
}

/* 1 = voxel of the set (distance wanted), 0 = obstacle. */
static int mask_formula(const MaskSpec *M, int64_t x, int64_t y, int64_t z)
{
  switch (M->kind) {
    case 0:
      return (double)(mix((uint64_t)((z * M->n[1] + y) * M->n[0] + x) + 12345) >> 11) * 0x1.0p-53 >= M->p0;
    case 1:
      return !((x == 2 && y == 7 && z == 3) || (x == 9 && y == 1 && z == 11));
    case 2:
      return 1;
    default: {
      const double a = wave(M->n, x, y, z, 1), b = wave(M->n, x, y, z, 2);
      return a * a + b * b > 0.8; /* chi2 with 2 degrees of freedom above 0.8: about 2/3 of the voxels are in the set */
    }
  }
}

static int mask_value(const MaskSpec *M, int64_t x, int64_t y, int64_t z)
{
  return M->all[(z * M->n[1] + y) * M->n[0] + x];
}

/* mask_value as a voxel function of the slab builder */
static int mask_voxel(int64_t x, int64_t y, int64_t z, void *ctx)
{
  return mask_value((const MaskSpec *)ctx, x, y, z);
}

static PetscErrorCode fill_mask(MaskSpec *M)
{
  const int64_t N = M->n[0] * M->n[1] * M->n[2];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)N, &M->all));
  M->nzero = 0;
  for (int64_t z = 0; z < M->n[2]; z++)
    for (int64_t y = 0; y < M->n[1]; y++)
      for (int64_t x = 0; x < M->n[0]; x++) {
        M->all[(z * M->n[1] + y) * M->n[0] + x] = (uint8_t)mask_formula(M, x, y, z);
        if (!M->all[(z * M->n[1] + y) * M->n[0] + x]) M->nzero++;
      }
  PetscCall(PetscMalloc1((size_t)M->nzero + 1, &M->zero));
  M->nzero = 0;
  for (int64_t z = 0; z < M->n[2]; z++)
    for (int64_t y = 0; y < M->n[1]; y++)
      for (int64_t x = 0; x < M->n[0]; x++)
        if (!M->all[(z * M->n[1] + y) * M->n[0] + x]) {
          M->zero[M->nzero][0] = x;
          M->zero[M->nzero][1] = y;
          M->zero[M->nzero][2] = z;
          M->nzero++;
        }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode free_mask(MaskSpec *M)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(M->all));
  PetscCall(PetscFree(M->zero));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double brute_force(const MaskSpec *M, const PetscReal h[3], SMEdtBorder border, int axes, const int64_t v[3])
{
  double best = INFINITY;
  if (!mask_value(M, v[0], v[1], v[2])) return 0.0;
  for (int64_t k = 0; k < M->nzero; k++) {
    const int64_t *w = M->zero[k];
    double         dx, dy, dz, d2;
    if ((!(axes & 1) && w[0] != v[0]) || (!(axes & 2) && w[1] != v[1]) || (!(axes & 4) && w[2] != v[2])) continue;
    dx = (double)(v[0] - w[0]) * h[0];
    dy = (double)(v[1] - w[1]) * h[1];
    dz = (double)(v[2] - w[2]) * h[2];
    d2 = dx * dx + dy * dy + dz * dz;
    if (d2 < best) best = d2;
  }
  if (border == SM_EDT_BORDER_OBSTACLE)
    for (int d = 0; d < 3; d++)
      if ((axes >> d) & 1) {
        const int64_t i = v[d] + 1 < M->n[d] - v[d] ? v[d] + 1 : M->n[d] - v[d];
        const double  e = (double)i * h[d];
        if (e * e < best) best = e * e;
      }
  return best;
}

/* The voxel size of every case: anisotropic, so the three axes are told apart. */
static const PetscReal voxel[3] = {0.01, 0.013, 0.017};

/* The EDT of M on comm into a newly allocated slab array. */
static PetscErrorCode run_edt(MPI_Comm comm, const MaskSpec *M, const PetscReal h[3], SMEdtBorder border, int axes,
                              SMGridInfo *info, double **d2)
{
  SMGrid   grid;
  uint8_t *mask;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, M->n, h, &grid));
  PetscCall(sm_grid_get_info(grid, info));
  PetscCall(PetscMalloc1((size_t)info->n_local, &mask));
  PetscCall(PetscMalloc1((size_t)info->n_local, d2));
  PetscCall(sm_test_fill_slab(grid, mask_voxel, (void *)M, mask));
  PetscCall(sm_morph_edt(grid, mask, border, axes, *d2));
  PetscCall(PetscFree(mask));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int same_value(double a, double b, double rtol)
{
  if (isinf(b) || isinf(a)) return a == b;
  return fabs(a - b) <= rtol * fabs(b) && !isnan(a);
}

/* Every voxel (stride 1) or a hashed subsample against brute force; bitwise equality to one rank when serial_too. */
static PetscErrorCode check_case(MPI_Comm comm, const char *name, const MaskSpec *M, const PetscReal h[3],
                                 SMEdtBorder border, int axes, int sample, PetscBool serial_too)
{
  SMGridInfo  info;
  double     *d2, *ref = NULL;
  int64_t     bad = 0, checked = 0, ninf = 0, nserial_bad = 0;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCall(run_edt(comm, M, h, border, axes, &info, &d2));
  for (int64_t z = 0; z < info.z_local; z++)
    for (int64_t y = 0; y < M->n[1]; y++)
      for (int64_t x = 0; x < M->n[0]; x++) {
        const int64_t g = ((z + info.z_start) * M->n[1] + y) * M->n[0] + x, v[3] = {x, y, z + info.z_start};
        double        got = d2[(z * M->n[1] + y) * M->n[0] + x], want;
        if (sample > 1 && mix((uint64_t)g + 777) % (uint64_t)sample) continue;
        want = brute_force(M, h, border, axes, v);
        checked++;
        if (isinf(want)) ninf++;
        if (!same_value(got, want, 1e-12)) {
          if (bad < 3)
            fprintf(stderr, "  %s: voxel (%lld,%lld,%lld) got %.17g want %.17g\n", name, (long long)x, (long long)y,
                    (long long)v[2], got, want);
          bad++;
        }
      }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &checked, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ninf, 1, MPI_INT64_T, MPI_SUM, comm));
  SM_TEST_TRUE(bad == 0 && checked > 0, "%s (axes %d, border %d): %lld of %lld voxels differ from brute force", name,
               axes, (int)border, (long long)bad, (long long)checked);
  if (serial_too) {
    SMGridInfo sinfo;
    int        count;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCall(PetscMalloc1((size_t)(M->n[0] * M->n[1] * M->n[2]), &ref));
    if (rank == 0) {
      double *full;
      PetscCall(run_edt(PETSC_COMM_SELF, M, h, border, axes, &sinfo, &full));
      PetscCall(PetscArraycpy(ref, full, (size_t)sinfo.n_local));
      PetscCall(PetscFree(full));
    }
    PetscCall(sm_int64_to_int(M->n[0] * M->n[1] * M->n[2], &count));
    PetscCallMPI(MPI_Bcast(ref, count, MPI_DOUBLE, 0, comm));
    for (int64_t i = 0; i < info.n_local; i++)
      if (memcmp(&d2[i], &ref[info.z_start * info.n_plane + i], sizeof(double))) nserial_bad++;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nserial_bad, 1, MPI_INT64_T, MPI_SUM, comm));
    SM_TEST_TRUE(nserial_bad == 0, "%s (axes %d, border %d): %lld voxels not bitwise equal to the 1-rank result", name,
                 axes, (int)border, (long long)nserial_bad);
    PetscCall(PetscFree(ref));
  }
  if (M->kind == 2 && border == SM_EDT_BORDER_FREE)
    SM_TEST_TRUE(ninf == checked, "%s: no zero voxel and a free border give INFINITY everywhere", name);
  if (border == SM_EDT_BORDER_OBSTACLE)
    SM_TEST_TRUE(ninf == 0, "%s: the obstacle border makes every distance finite", name);
  PetscCall(PetscFree(d2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* 13 planes: slabs 7,6 at 2 ranks and 5,5,3 at 3; 9 rows: 5,4 and 3,3,3 during the z pass. */
static PetscErrorCode test_small(MPI_Comm comm)
{
  const int masks[4] = {7, 3, 6, 5};
  MaskSpec  cases[3] = {
       {0, 0.3, {11, 9, 13}, NULL, 0, NULL}, {1, 0.0, {11, 9, 13}, NULL, 0, NULL}, {2, 0.0, {11, 9, 13}, NULL, 0, NULL}};
  const char *names[3] = {"random 30% zeros", "two zero voxels", "no zero voxel"};

  PetscFunctionBeginUser;
  for (int c = 0; c < 3; c++) {
    PetscCall(fill_mask(&cases[c]));
    for (int a = 0; a < 4; a++)
      for (int b = 0; b < 2; b++)
        PetscCall(check_case(comm, names[c], &cases[c], voxel, (SMEdtBorder)b, masks[a], 1, PETSC_TRUE));
    PetscCall(free_mask(&cases[c]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sparse random zeros (3 %): long distances that cross several slab boundaries; single axes too. Then two y rows: at 3
   ranks one rank holds no z columns during the z pass. */
static PetscErrorCode test_sparse(MPI_Comm comm)
{
  MaskSpec sparse = {0, 0.03, {10, 7, 17}, NULL, 0, NULL}, rows = {0, 0.1, {5, 2, 9}, NULL, 0, NULL};

  PetscFunctionBeginUser;
  PetscCall(fill_mask(&sparse));
  for (int a = 1; a <= 7; a++)
    for (int b = 0; b < 2; b++)
      PetscCall(check_case(comm, "random 3% zeros", &sparse, voxel, (SMEdtBorder)b, a, 1, PETSC_TRUE));
  PetscCall(free_mask(&sparse));
  PetscCall(fill_mask(&rows));
  for (int b = 0; b < 2; b++) PetscCall(check_case(comm, "two rows", &rows, voxel, (SMEdtBorder)b, 7, 1, PETSC_TRUE));
  PetscCall(free_mask(&rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Mid-size chi2-like structure, a subsample of about 1/400 of the voxels against brute force. */
static PetscErrorCode test_chi2_like(MPI_Comm comm)
{
  MaskSpec M = {3, 0.0, {64, 64, 64}, NULL, 0, NULL};

  PetscFunctionBeginUser;
  PetscCall(fill_mask(&M));
  for (int b = 0; b < 2; b++)
    PetscCall(check_case(comm, "chi2-like 64^3", &M, voxel, (SMEdtBorder)b, 7, 400, PETSC_FALSE));
  PetscCall(check_case(comm, "chi2-like 64^3 slices", &M, voxel, SM_EDT_BORDER_FREE, 3, 400, PETSC_FALSE));
  PetscCall(free_mask(&M));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bad input is refused with an error, not a crash. */
static PetscErrorCode test_bad_input(MPI_Comm comm)
{
  const int64_t n[3] = {4, 4, 6}; /* 6 planes: every rank has one at up to 3 ranks */
  SMGrid        grid;
  uint8_t       mask[96] = {0};
  double        d2[96];

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, voxel, &grid));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  SM_TEST_TRUE(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 0, d2) != PETSC_SUCCESS, "axes = 0 refused");
  SM_TEST_TRUE(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 8, d2) != PETSC_SUCCESS, "axes = 8 refused");
  PetscCall(PetscPopErrorHandler());
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"11 x 9 x 13 masks", test_small}, {"sparse zeros, two rows", test_sparse},
             {"chi2-like 64^3", test_chi2_like}, {"bad input", test_bad_input})
