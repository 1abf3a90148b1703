/* Maximal-ball painting across ranks (SPEC 5). Run at 1, 2 and 3 ranks.
 * Truths: a serial brute force of the definition (every voxel against every centre with f > 0, no ridge reduction, no
 * decomposition) on random radius maps and on brute-force distance maps, in 3D and in the three 2D slice modes; and
 * integer lattice-point counts for single balls and two overlapping balls (no floating point at all). Painted values
 * are copies of f, so the comparisons with the brute force are exact (==). */
#include <stochmorph/morph.h>
#include "smtest.h"

/* The kernel's membership rule: closed ball with a relative slack of 1e-10 on the squared radius, evaluated as
   dx^2 + (dy^2 + dz^2) (see src/morph/maxball.c); the slack only decides lattice points exactly on the sphere. */
static int inside(const int64_t v[3], const int64_t c[3], const PetscReal h[3], double r)
{
  double dx = (double)(v[0] - c[0]) * h[0], dy = (double)(v[1] - c[1]) * h[1], dz = (double)(v[2] - c[2]) * h[2];
  return dx * dx + (dy * dy + dz * dz) <= r * r * (1.0 + 1e-10);
}

static double hash01(int64_t x, int64_t y, int64_t z, uint64_t seed)
{
  uint64_t k = ((uint64_t)(x + 1000 * y + 1000000 * z) + seed * 0x632be59bd9b4e019ULL) * 0x9e3779b97f4a7c15ULL;
  k ^= k >> 29;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 32;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 31;
  return (double)(k >> 11) / 9007199254740992.0;
}

/* Random radius map: 30 % centres; half with continuous radii, half with lattice distances sqrt((a hx)^2 + (b hy)^2 +
   (c hz)^2) so that many lattice points lie exactly on spheres; a few negative values that must be ignored. */
static void random_radii(const int64_t n[3], const PetscReal h[3], uint64_t seed, double *f)
{
  for (int64_t z = 0; z < n[2]; z++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < n[0]; x++) {
        double u = hash01(x, y, z, seed), w = hash01(x, y, z, seed + 1), r = 0.0;
        if (u < 0.15)
          r = 4.5 * w;
        else if (u < 0.3) {
          int a = (int)(4 * w), b = (int)(16 * w) % 4, c = (int)(64 * w) % 4;
          r = sqrt((a * h[0]) * (a * h[0]) + (b * h[1]) * (b * h[1]) + (c * h[2]) * (c * h[2]));
        } else if (u < 0.33)
          r = -1.0;
        f[(z * n[1] + y) * n[0] + x] = r;
      }
}

/* Brute-force distance map of a random smooth binary set: distance from each set voxel to the nearest centre outside
   the set, within the slices normal to skip_axis (>= 0) or in 3D (-1). */
static void brute_edt(const int64_t n[3], const PetscReal h[3], uint64_t seed, int skip_axis, double *f)
{
  const int64_t nt = n[0] * n[1] * n[2];
  uint8_t      *m  = (uint8_t *)malloc((size_t)nt);
  for (int64_t z = 0; z < n[2]; z++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < n[0]; x++) {
        double s                     = sin(0.7 * x + seed) + sin(0.55 * y + 2.0 * seed) + sin(0.6 * z + 0.3 * seed);
        m[(z * n[1] + y) * n[0] + x] = s + 0.8 * (hash01(x, y, z, seed) - 0.5) > -0.6;
      }
  for (int64_t i = 0; i < nt; i++) {
    const int64_t v[3] = {i % n[0], (i / n[0]) % n[1], i / (n[0] * n[1])};
    double        best = INFINITY;
    if (!m[i]) {
      f[i] = 0.0;
      continue;
    }
    for (int64_t j = 0; j < nt; j++) {
      const int64_t c[3] = {j % n[0], (j / n[0]) % n[1], j / (n[0] * n[1])};
      double        d2   = 0.0;
      if (m[j] || (skip_axis >= 0 && c[skip_axis] != v[skip_axis])) continue;
      for (int d = 0; d < 3; d++) d2 += ((double)(v[d] - c[d]) * h[d]) * ((double)(v[d] - c[d]) * h[d]);
      if (d2 < best) best = d2;
    }
    f[i] = isfinite(best) ? sqrt(best) : 0.0; /* a slice without background voxels: no finite radius, no ball */
  }
  free(m);
}

/* The definition, serially over the whole box. */
static void brute_max_ball(const int64_t n[3], const PetscReal h[3], const double *f, int skip_axis, double *P)
{
  const int64_t nt = n[0] * n[1] * n[2];
  for (int64_t i = 0; i < nt; i++) {
    const int64_t v[3] = {i % n[0], (i / n[0]) % n[1], i / (n[0] * n[1])};
    double        best = 0.0;
    for (int64_t j = 0; j < nt; j++) {
      const int64_t c[3] = {j % n[0], (j / n[0]) % n[1], j / (n[0] * n[1])};
      if (!(f[j] > 0.0) || f[j] <= best) continue;
      if (skip_axis >= 0 && c[skip_axis] != v[skip_axis]) continue;
      if (inside(v, c, h, f[j])) best = f[j];
    }
    P[i] = best;
  }
}

/* Run the kernel on the global map fg (every rank holds it, small boxes only) and return this rank's slab in P. */
static PetscErrorCode run_kernel(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], const double *fg,
                                 int skip_axis, double **P, SMGridInfo *info)
{
  SMGrid grid;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_grid_get_info(grid, info));
  PetscCall(PetscMalloc1(info->n_local, P));
  PetscCall(sm_morph_max_ball(grid, fg + info->z_start * info->n_plane, skip_axis, *P));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode compare_with_brute(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], const double *fg,
                                         int skip_axis, const char *what)
{
  const int64_t nt = n[0] * n[1] * n[2];
  double       *ref, *P;
  SMGridInfo    info;
  int64_t       bad = 0, covered = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nt, &ref));
  brute_max_ball(n, h, fg, skip_axis, ref);
  PetscCall(run_kernel(comm, n, h, fg, skip_axis, &P, &info));
  for (int64_t i = 0; i < info.n_local; i++) {
    if (P[i] != ref[info.z_start * info.n_plane + i]) bad++;
    if (P[i] > 0.0) covered++;
  }
  SM_TEST_TRUE(bad == 0, "%s, skip_axis %d, h = (%g, %g, %g): %lld of %lld voxels differ from the brute force", what,
               skip_axis, (double)h[0], (double)h[1], (double)h[2], (long long)bad, (long long)info.n_local);
  SM_TEST_TRUE(covered > 0 || info.n_local == 0, "%s: something is painted on every slab", what);
  PetscCall(PetscFree(P));
  PetscCall(PetscFree(ref));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Balls with rational data: voxel sizes h_d = hn[d] / hd, radii R_k = rn[k] / hd, so v is in ball k iff
   sum_d (hn[d] (v_d - c_d))^2 <= rn[k]^2, decided in integers. The painted value must be the largest such R_k. */
static PetscErrorCode check_integer_balls(MPI_Comm comm, const int64_t n[3], const int64_t hn[3], int64_t hd, int nb,
                                          const int64_t cen[][3], const int64_t *rn, int skip_axis, const char *what)
{
  const int64_t   nt   = n[0] * n[1] * n[2];
  const PetscReal h[3] = {(double)hn[0] / hd, (double)hn[1] / hd, (double)hn[2] / hd};
  double         *fg, *P;
  SMGridInfo      info;
  int64_t         bad = 0, painted = 0, expect_painted = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(nt, &fg));
  for (int k = 0; k < nb; k++) fg[(cen[k][2] * n[1] + cen[k][1]) * n[0] + cen[k][0]] = (double)rn[k] / hd;
  PetscCall(run_kernel(comm, n, h, fg, skip_axis, &P, &info));
  for (int64_t i = 0; i < info.n_local; i++) {
    const int64_t v[3] = {i % n[0], (i / n[0]) % n[1], info.z_start + i / info.n_plane};
    double        want = 0.0;
    for (int k = 0; k < nb; k++) {
      int64_t s  = 0;
      int     ok = 1;
      for (int d = 0; d < 3; d++) {
        s += (hn[d] * (v[d] - cen[k][d])) * (hn[d] * (v[d] - cen[k][d]));
        if (d == skip_axis && v[d] != cen[k][d]) ok = 0;
      }
      if (ok && s <= rn[k] * rn[k] && (double)rn[k] / hd > want) want = (double)rn[k] / hd;
    }
    if (P[i] != want) bad++;
    painted += P[i] > 0.0;
    expect_painted += want > 0.0;
  }
  {
    int64_t loc[3] = {bad, painted, expect_painted}, glob[3];
    PetscCallMPI(MPI_Allreduce(loc, glob, 3, MPI_INT64_T, MPI_SUM, comm));
    SM_TEST_TRUE(glob[0] == 0 && glob[1] == glob[2], "%s: %lld voxels wrong, %lld painted, %lld expected", what,
                 (long long)glob[0], (long long)glob[1], (long long)glob[2]);
  }
  PetscCall(PetscFree(P));
  PetscCall(PetscFree(fg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The box and voxel sizes of the map cases: isotropic, anisotropic, and one whose balls span up to 15 planes in z
   (crossing several slabs at 3 ranks). */
static const int64_t   nbox[3]  = {12, 10, 14};
static const PetscReal hs[3][3] = {{1, 1, 1}, {0.9, 1.1, 1.3}, {1.1, 0.9, 0.6}};

/* Random radius maps, then distance maps (the intended input: 3D EDT for 3D balls, slice EDT for the slice modes); 3D
   and the three slice modes, isotropic and anisotropic. */
static PetscErrorCode test_maps(MPI_Comm comm)
{
  double *fg;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nbox[0] * nbox[1] * nbox[2], &fg));
  for (int distance = 0; distance < 2; distance++)
    for (int ih = 0; ih < 3; ih++)
      for (int skip = -1; skip < 3; skip++) {
        if (distance)
          brute_edt(nbox, hs[ih], 3 + ih, skip, fg);
        else
          random_radii(nbox, hs[ih], 11 + ih, fg);
        PetscCall(compare_with_brute(comm, nbox, hs[ih], fg, skip, distance ? "distance map" : "random radii"));
      }
  PetscCall(PetscFree(fg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows longer than 64 voxels (several words of the painted-voxel bit set). */
static PetscErrorCode test_long_rows(MPI_Comm comm)
{
  const int64_t   nw[3] = {70, 6, 9};
  const PetscReal hw[3] = {0.8, 1.0, 0.7};
  double         *fw;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nw[0] * nw[1] * nw[2], &fw));
  random_radii(nw, hw, 21, fw);
  for (int skip = -1; skip < 2; skip++) PetscCall(compare_with_brute(comm, nw, hw, fw, skip, "long rows"));
  PetscCall(PetscFree(fw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Plateaus (what bottleneck maps look like): blocks of 3 x 2 x 3 voxels of one radius from a few levels, some blocks
   empty; exercises the plateau rule of the ridge reduction (centres whose face neighbours are all at least as large),
   in 3D and the slice modes, across slab boundaries. Then a constant map: every voxel is a centre of the same radius
   (ties everywhere). */
static PetscErrorCode test_plateaus(MPI_Comm comm)
{
  const int64_t nt = nbox[0] * nbox[1] * nbox[2];
  double       *fg;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(nt, &fg));
  for (int ih = 0; ih < 3; ih++)
    for (int skip = -1; skip < 3; skip++) {
      static const double level[5] = {-1.0, 0.9, 1.5, 2.3, 3.1};
      for (int64_t z = 0; z < nbox[2]; z++)
        for (int64_t y = 0; y < nbox[1]; y++)
          for (int64_t x = 0; x < nbox[0]; x++)
            fg[(z * nbox[1] + y) * nbox[0] + x] = level[(int)(5 * hash01(x / 3, y / 2, z / 3, 41 + ih))];
      PetscCall(compare_with_brute(comm, nbox, hs[ih], fg, skip, "plateau map"));
    }
  for (int64_t i = 0; i < nt; i++) fg[i] = 1.5;
  PetscCall(compare_with_brute(comm, nbox, hs[1], fg, -1, "constant map"));
  PetscCall(PetscFree(fg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_integer_balls(MPI_Comm comm)
{
  /* Single ball of radius 5 crossing the slab boundaries, h = 1: the painted set is the 515 lattice points with
     x^2 + y^2 + z^2 <= 25. */
  const int64_t n1[3] = {14, 13, 15}, h1[3] = {1, 1, 1}, c1[1][3] = {{7, 6, 7}}, r1[1] = {5};
  /* Anisotropic h = (0.5, 0.75, 1): R = 3 means 4 dx^2 + 9 dy^2 + 16 dz^2 <= 144 (units of 1/4 um). */
  const int64_t h2[3] = {2, 3, 4}, r2[1] = {12};
  /* Two overlapping balls: the larger wins in the overlap; a ball clipped by the box. */
  const int64_t c3[3][3] = {{5, 5, 5}, {8, 6, 7}, {12, 1, 13}}, r3[3] = {4, 3, 2};

  PetscFunctionBeginUser;
  PetscCall(check_integer_balls(comm, n1, h1, 1, 1, c1, r1, -1, "single ball R = 5"));
  PetscCall(check_integer_balls(comm, n1, h2, 4, 1, c1, r2, -1, "single ball R = 3, h = (0.5, 0.75, 1)"));
  PetscCall(check_integer_balls(comm, n1, h1, 1, 3, c3, r3, -1, "overlapping balls"));
  PetscCall(check_integer_balls(comm, n1, h2, 4, 3, c3, r3, -1, "overlapping balls, anisotropic"));
  for (int skip = 0; skip < 3; skip++) {
    PetscCall(check_integer_balls(comm, n1, h1, 1, 1, c1, r1, skip, "single disk R = 5"));
    PetscCall(check_integer_balls(comm, n1, h2, 4, 3, c3, r3, skip, "overlapping disks, anisotropic"));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Large balls (integer truth): radius 31 voxels is the widest run the kernel handles as a single-word mask, 30 overlaps
   it, 40 and the ball clipped by the box take the general multi-word path; centres at x = y = 32 keep the 31-runs
   inside one 64-bit word along x (3D, disks normal to y and z) and along y (disks normal to x). */
static PetscErrorCode test_large_balls(MPI_Comm comm)
{
  const int64_t nb[3] = {80, 70, 13}, h1[3] = {1, 1, 1}, h2[3] = {2, 3, 4};
  const int64_t cb[3][3] = {{32, 32, 6}, {40, 36, 2}, {75, 5, 12}}, rb[3] = {31, 30, 40};
  const int64_t cw[1][3] = {{32, 32, 6}}, rw[1] = {124}; /* h2 / 4: R = 31 in x, about 20.7 in y, 15.5 in z */

  PetscFunctionBeginUser;
  PetscCall(check_integer_balls(comm, nb, h1, 1, 3, cb, rb, -1, "large balls"));
  PetscCall(check_integer_balls(comm, nb, h2, 4, 1, cw, rw, -1, "large ball, anisotropic"));
  for (int skip = 0; skip < 3; skip++) {
    PetscCall(check_integer_balls(comm, nb, h1, 1, 3, cb, rb, skip, "large disks"));
    PetscCall(check_integer_balls(comm, nb, h2, 4, 1, cw, rw, skip, "large disk, anisotropic"));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Lattice count: the ball of radius 5 holds 515 lattice points (OEIS A000605, n = 25). */
static PetscErrorCode test_lattice_count(MPI_Comm comm)
{
  const int64_t   n1[3] = {14, 13, 15}, c1[3] = {7, 6, 7};
  const PetscReal h[3] = {1, 1, 1};
  SMGridInfo      info;
  double         *fb, *P;
  int64_t         cnt = 0, tot;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(n1[0] * n1[1] * n1[2], &fb));
  fb[(c1[2] * n1[1] + c1[1]) * n1[0] + c1[0]] = 5.0;
  PetscCall(run_kernel(comm, n1, h, fb, -1, &P, &info));
  for (int64_t i = 0; i < info.n_local; i++) cnt += P[i] == 5.0;
  PetscCallMPI(MPI_Allreduce(&cnt, &tot, 1, MPI_INT64_T, MPI_SUM, comm));
  SM_TEST_TRUE(tot == 515, "ball of radius 5 covers %lld voxels, expected 515", (long long)tot);
  PetscCall(PetscFree(P));
  PetscCall(PetscFree(fb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Bad input is refused collectively. */
static PetscErrorCode test_bad_input(MPI_Comm comm)
{
  SMGrid         grid;
  SMGridInfo     info;
  double        *fl, *P;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(comm, nbox, hs[0], &grid));
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(PetscCalloc2(info.n_local, &fl, info.n_local, &P));
  if (info.rank == 0) fl[0] = INFINITY;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = sm_morph_max_ball(grid, fl, -1, P);
  PetscCall(PetscPopErrorHandler());
  SM_TEST_TRUE(ierr != PETSC_SUCCESS, "an infinite radius is refused");
  PetscCall(PetscFree2(fl, P));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"radius and distance maps", test_maps}, {"long rows", test_long_rows}, {"plateaus", test_plateaus},
             {"integer balls", test_integer_balls}, {"large balls", test_large_balls},
             {"lattice count", test_lattice_count}, {"bad input", test_bad_input})
