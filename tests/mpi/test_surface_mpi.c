/* Specific surface area across ranks (SPEC 5: counts bitwise independent of the rank count). Run at 1, 2 and 3 ranks.
 * Truths: a serial brute-force count of the 2x2x2 configurations evaluated directly from the label function (no
 * volume, no decomposition), the exact area of a ball, and the exact estimator response to layers normal to z. */
#include <stochmorph/morph.h>
#include "smtest.h"
#include "smtest_volume.h"

/* A deterministic 3-phase label field of the global voxel index: smooth blobs (so the histogram has structure) with a
   sprinkle of hashed noise (so that every configuration class and rank boundary is exercised). */
static int hash_label(int64_t x, int64_t y, int64_t z)
{
  uint64_t k = (uint64_t)(x + 1000 * y + 1000000 * z) * 0x9e3779b97f4a7c15ULL;
  double   s = sin(0.61 * x + 0.3) + sin(0.47 * y + 1.1) + sin(0.53 * z + 2.0);
  k ^= k >> 29;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 32;
  if ((k & 15) == 0) return (int)((k >> 8) % 3);
  return s < -0.5 ? 0 : (s < 0.7 ? 1 : 2);
}

/* Reference histogram: loops over the global cells and reads the 8 corners from hash_label. */
static void reference_histogram(const int64_t n[3], int label, PetscBool periodic, int64_t hist[256])
{
  const int64_t cx = periodic ? n[0] : n[0] - 1, cy = periodic ? n[1] : n[1] - 1, cz = periodic ? n[2] : n[2] - 1;
  for (int c = 0; c < 256; c++) hist[c] = 0;
  for (int64_t z = 0; z < cz; z++)
    for (int64_t y = 0; y < cy; y++)
      for (int64_t x = 0; x < cx; x++) {
        int cfg = 0;
        for (int b = 0; b < 8; b++) {
          int64_t xx = (x + (b & 1)) % n[0], yy = (y + ((b >> 1) & 1)) % n[1], zz = (z + ((b >> 2) & 1)) % n[2];
          if (hash_label(xx, yy, zz) == label) cfg |= 1 << b;
        }
        hist[cfg]++;
      }
}

/* hash_label as a voxel function of the volume builder */
static int hash_voxel(int64_t x, int64_t y, int64_t z, void *ctx)
{
  (void)ctx;
  return hash_label(x, y, z);
}

static PetscErrorCode make_volume(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], SMTestVoxelFn fn,
                                  SMVolume *vol)
{
  const char *names[3] = {"a", "b", "c"};

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_function(comm, n, h, 3, names, fn, NULL, vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_histogram(MPI_Comm comm, const int64_t n[3])
{
  const PetscReal h[3] = {0.9, 1.1, 1.3};
  SMVolume        vol;
  double          lut[256];

  PetscFunctionBeginUser;
  PetscCall(make_volume(comm, n, h, hash_voxel, &vol));
  PetscCall(sm_morph_surface_lut(h, lut));
  for (int periodic = 0; periodic < 2; periodic++) {
    const double cells = periodic ? (double)n[0] * n[1] * n[2] : (double)(n[0] - 1) * (n[1] - 1) * (n[2] - 1);
    double       S[3];
    for (int label = 0; label < 3; label++) {
      int64_t hist[256], ref[256], total = 0;
      int     same = 1;
      double  area = 0.0;
      PetscCall(sm_morph_configuration_histogram(vol, label, (PetscBool)periodic, hist));
      reference_histogram(n, label, (PetscBool)periodic, ref);
      for (int c = 0; c < 256; c++) {
        if (hist[c] != ref[c]) same = 0;
        total += hist[c];
      }
      SM_TEST_TRUE(same, "histogram of label %d (periodic %d, %lld x %lld x %lld) equals the serial count", label,
                   periodic, (long long)n[0], (long long)n[1], (long long)n[2]);
      SM_TEST_TRUE((double)total == cells, "histogram counts every cell once (%lld vs %.0f)", (long long)total, cells);
      /* Same histogram, same LUT, same summation order: the same bits whatever the rank count. */
      for (int c = 0; c < 256; c++) area += (double)ref[c] * lut[c];
      PetscCall(sm_morph_specific_surface_area(vol, label, (PetscBool)periodic, &S[label]));
      SM_TEST_TRUE(S[label] == area / (cells * h[0] * h[1] * h[2]), "S of label %d bitwise equal to the serial value",
                   label);
    }
    /* Three phases that all touch each other: the pairwise interfaces (S_i + S_j - S_k) / 2 (SPEC 5) are positive. */
    for (int i = 0; i < 3; i++) SM_TEST_TRUE(S[(i + 1) % 3] + S[(i + 2) % 3] - S[i] > 0.0, "pairwise interface > 0");
  }
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_histogram(MPI_Comm comm)
{
  const int64_t n1[3] = {23, 19, 37}, n2[3] = {7, 6, 5}; /* 5 planes: slabs 2,2,1 at 3 ranks, 3,2 at 2 */

  PetscFunctionBeginUser;
  PetscCall(check_histogram(comm, n1));
  PetscCall(check_histogram(comm, n2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int ball(int64_t x, int64_t y, int64_t z, void *ctx)
{
  double dx = x - 20.3, dy = y - 19.8, dz = z - 20.1;
  (void)ctx;
  return dx * dx + dy * dy + dz * dz <= 16.0 * 16.0;
}

static int layers(int64_t x, int64_t y, int64_t z, void *ctx)
{
  (void)ctx;
  (void)x;
  (void)y;
  return (z % 8) < 4;
}

/* A ball of radius 16 voxels cut by the slab boundaries: digitisation error well under 1 % (SPEC 5). */
static PetscErrorCode test_ball(MPI_Comm comm)
{
  const PetscReal h1[3] = {1, 1, 1};
  const int64_t   n[3]  = {41, 40, 42};
  SMVolume        vol;
  double          S, S0;

  PetscFunctionBeginUser;
  PetscCall(make_volume(comm, n, h1, ball, &vol));
  PetscCall(sm_morph_specific_surface_area(vol, 1, PETSC_TRUE, &S));
  PetscCall(sm_morph_specific_surface_area(vol, 0, PETSC_TRUE, &S0));
  SM_TEST_REL(S * 41 * 40 * 42, 4.0 * PETSC_PI * 256.0, 0.01, "ball R = 16 voxels");
  SM_TEST_REL(S0, S, 1e-12, "a phase and its complement share their interface");
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Layers of 4 planes normal to z: 6 interfaces in Lz = 24, one of them across the periodic wrap and some on slab
   boundaries. The estimate is exactly 2 sum_i w_i |cos(d_i, z)| = 0.926623002360 times the true 6 / 24 (published
   weights; derivation in tests/unit/test_surface.c); the non-periodic window [0, 23] holds 5 interfaces. */
static PetscErrorCode test_layers(MPI_Comm comm)
{
  const PetscReal h1[3] = {1, 1, 1};
  const int64_t   n[3]  = {6, 5, 24};
  const double f = 4.0 * (0.04577789120476 + 4.0 * 0.03698062787608 / sqrt(2.0) + 4.0 * 0.03519563978232 / sqrt(3.0));
  SMVolume     vol;
  double       S;

  PetscFunctionBeginUser;
  PetscCall(make_volume(comm, n, h1, layers, &vol));
  PetscCall(sm_morph_specific_surface_area(vol, 1, PETSC_TRUE, &S));
  SM_TEST_REL(S, f * 6.0 / 24.0, 1e-12, "periodic layers normal to z across ranks");
  PetscCall(sm_morph_specific_surface_area(vol, 1, PETSC_FALSE, &S));
  SM_TEST_REL(S, f * 5.0 / 23.0, 1e-12, "non-periodic layers normal to z across ranks");
  /* A label that is not a phase is refused. */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  SM_TEST_TRUE(sm_morph_specific_surface_area(vol, 3, PETSC_TRUE, &S) != PETSC_SUCCESS, "label 3 of 3 phases refused");
  PetscCall(PetscPopErrorHandler());
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"histograms", test_histogram}, {"ball", test_ball}, {"layers", test_layers})
