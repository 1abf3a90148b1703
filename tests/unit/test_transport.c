/* Effective transport (SPEC 6) on one rank against independent computations:
 *  - a finite-volume network solved by hand (series and parallel conductances) with anisotropic voxels;
 *  - brute force: small random three-phase volumes (conductivities 0, 1 and 0.2) with anisotropic voxels, all three
 *    directions, against a dense solve written here: FEM with the element matrices integrated by 2 x 2 x 2 Gauss
 *    quadrature (exact for Q1 on bricks, and independent of the tensor-product formula of the library), FV assembled
 *    from the face rules, the conducting parts not connected to both faces removed by a flood fill written here, and
 *    the flux summed from the reactions; M must lie above the dense value (it is an energy) by no more than the solver's
 *    own error estimate, which the stopping rule brings below 1e-6 (the dense solve is exact to round-off);
 *  - FEM vs FV on a smooth structure (a gyroid level set, one period over the box, channels about 12 voxels wide at the
 *    coarsest grid) at 24^3, 48^3 and 96^3: the gap between the two discretisations shrinks at each refinement
 *    (SPEC 6.2: first order in the voxel size) and FV rises towards FEM. */
#include <stochmorph/transport.h>
#include "smtest.h"
#include "smtest_transport.h"

static PetscErrorCode solve(SMVolume vol, const double *cond, int label, SMTransportMethod m, int d, SMTransportResult *r)
{
  PetscFunctionBeginUser;
  PetscCall(sm_test_transport_solve(vol, cond, label, m, SM_TRANSPORT_PC_EDGE, d, r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the hand-solved FV network ---- */

/* 2 x 1 x 2 voxels of hx x hy x hz, flow along z: A0 = (0,0,0), A1 = (0,0,1), P = (1,0,1) conduct (k = 1), (1,0,0) does
   not. Conductances (A_a / h_a per face, twice that to a Dirichlet value half a voxel away): inlet-A0 2 gz, A0-A1 gz,
   A1-outlet 2 gz, A1-P gx, P-outlet 2 gz with gz = hx hy / hz, gx = hy hz / hx. From A1 the outlet is reached directly
   (2 gz) and through P (gx in series with 2 gz): Geq = 2 gz + gx 2 gz / (gx + 2 gz); the network conductance is
   1 / (1 / (2 gz) + 1 / gz + 1 / Geq); D_eff = J L / A with L = 2 hz, A = 2 hx hy. */
static PetscErrorCode check_fv_network(void)
{
  const int64_t     n[3] = {2, 1, 2};
  const PetscReal   h[3] = {0.01, 0.02, 0.015};
  const char       *names[2] = {"pore", "solid"};
  const double      cond[2] = {0, 1}, gz = h[0] * h[1] / h[2], gx = h[1] * h[2] / h[0];
  const double      Geq = 2 * gz + gx * 2 * gz / (gx + 2 * gz), J = 1.0 / (1.0 / (2 * gz) + 1.0 / gz + 1.0 / Geq);
  SMGrid            grid;
  SMVolume          vol;
  SMTransportResult r;
  uint8_t          *lab;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
  PetscCall(sm_volume_create(grid, 2, names, &vol));
  PetscCall(sm_volume_get_labels(vol, &lab));
  lab[0] = 1; /* (0,0,0) */
  lab[1] = 0; /* (1,0,0) */
  lab[2] = 1; /* (0,0,1) */
  lab[3] = 1; /* (1,0,1) */
  PetscCall(solve(vol, cond, 1, SM_TRANSPORT_FV, 2, &r));
  SM_TEST_REL(r.flux_in, J, 1e-9, "fv network: flux by hand");
  SM_TEST_REL(r.D_eff, J * 2 * h[2] / (2 * h[0] * h[1]), 1e-9, "fv network: D_eff = J L / A");
  SM_TEST_REL(r.tau_eff, 0.75 / r.M, 1e-12, "fv network: tau_eff = eps / M");
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- brute force ---- */

static double hash01(uint64_t k)
{
  k = (k + 0x632be59bd9b4e019ULL) * 0x9e3779b97f4a7c15ULL;
  k ^= k >> 31;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 29;
  return (double)(k >> 11) * 0x1.0p-53;
}

/* Dense Gaussian elimination with partial pivoting: solves A x = b in place (A n x n row-major), x in b. */
static int dense_solve(int n, double *A, double *b)
{
  for (int c = 0; c < n; c++) {
    int    p = c;
    double t;
    for (int r = c + 1; r < n; r++)
      if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
    if (A[p * n + c] == 0) return 1;
    for (int k = 0; k < n; k++) {
      t            = A[c * n + k];
      A[c * n + k] = A[p * n + k];
      A[p * n + k] = t;
    }
    t    = b[c];
    b[c] = b[p];
    b[p] = t;
    for (int r = c + 1; r < n; r++) {
      const double f = A[r * n + c] / A[c * n + c];
      for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = n - 1; c >= 0; c--) {
    for (int k = c + 1; k < n; k++) b[c] -= A[c * n + k] * b[k];
    b[c] /= A[c * n + c];
  }
  return 0;
}

/* keep[v] = 1 for conducting voxels in a component (conn 6 or 26) touching both faces of axis d */
static void flood_keep(const int64_t n[3], const double *k, int conn, int d, int *keep)
{
  const int N = (int)(n[0] * n[1] * n[2]);
  int      *comp, *queue, nc = 0;
  comp  = (int *)malloc(sizeof(int) * N);
  queue = (int *)malloc(sizeof(int) * N);
  for (int v = 0; v < N; v++) comp[v] = -1;
  for (int s = 0; s < N; s++) {
    int head = 0, tail = 0, lo = 0, hi = 0;
    if (k[s] <= 0 || comp[s] >= 0) continue;
    comp[s]       = nc;
    queue[tail++] = s;
    while (head < tail) {
      const int     v = queue[head++];
      const int64_t c[3] = {v % n[0], (v / n[0]) % n[1], v / (n[0] * n[1])};
      lo |= c[d] == 0;
      hi |= c[d] == n[d] - 1;
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            const int64_t w[3] = {c[0] + dx, c[1] + dy, c[2] + dz};
            int           u;
            if (abs(dx) + abs(dy) + abs(dz) == 0 || (conn == 6 && abs(dx) + abs(dy) + abs(dz) > 1)) continue;
            if (w[0] < 0 || w[1] < 0 || w[2] < 0 || w[0] >= n[0] || w[1] >= n[1] || w[2] >= n[2]) continue;
            u = (int)((w[2] * n[1] + w[1]) * n[0] + w[0]);
            if (k[u] > 0 && comp[u] < 0) {
              comp[u]       = nc;
              queue[tail++] = u;
            }
          }
    }
    for (int t = 0; t < tail; t++) keep[queue[t]] = lo && hi;
    nc++;
  }
  for (int v = 0; v < N; v++)
    if (comp[v] < 0) keep[v] = 0;
  free(comp);
  free(queue);
}

/* Q1 brick stiffness by 2-point Gauss quadrature per axis; local node a = x + 2y + 4z */
static void q1_gauss(const PetscReal h[3], double Ke[8][8])
{
  const double g[2] = {0.5 - 0.5 / sqrt(3.0), 0.5 + 0.5 / sqrt(3.0)}, vol = h[0] * h[1] * h[2];
  for (int a = 0; a < 8; a++)
    for (int b = 0; b < 8; b++) Ke[a][b] = 0;
  for (int q = 0; q < 8; q++) {
    const double xi[3] = {g[q & 1], g[(q >> 1) & 1], g[(q >> 2) & 1]};
    double       grad[8][3];
    for (int a = 0; a < 8; a++) {
      const int    s[3] = {a & 1, (a >> 1) & 1, (a >> 2) & 1};
      double       N1[3], dN1[3];
      for (int t = 0; t < 3; t++) {
        N1[t]  = s[t] ? xi[t] : 1 - xi[t];
        dN1[t] = (s[t] ? 1.0 : -1.0) / h[t];
      }
      grad[a][0] = dN1[0] * N1[1] * N1[2];
      grad[a][1] = N1[0] * dN1[1] * N1[2];
      grad[a][2] = N1[0] * N1[1] * dN1[2];
    }
    for (int a = 0; a < 8; a++)
      for (int b = 0; b < 8; b++)
        Ke[a][b] += 0.125 * vol * (grad[a][0] * grad[b][0] + grad[a][1] * grad[b][1] + grad[a][2] * grad[b][2]);
  }
}

static double dense_fem(const int64_t n[3], const PetscReal h[3], const double *k, int d)
{
  const int64_t nn[3] = {n[0] + 1, n[1] + 1, n[2] + 1};
  const int     N = (int)(n[0] * n[1] * n[2]), NN = (int)(nn[0] * nn[1] * nn[2]);
  int          *keep = (int *)calloc((size_t)N, sizeof(int)), *row = (int *)malloc(sizeof(int) * NN), nf = 0;
  double        Ke[8][8], *K = (double *)calloc((size_t)NN * NN, sizeof(double)), *u = (double *)calloc((size_t)NN, sizeof(double));
  double       *A, *b, flux = 0, L = n[d] * h[d], area = 1;
  int          *used = (int *)calloc((size_t)NN, sizeof(int));

  for (int a = 0; a < 3; a++)
    if (a != d) area *= n[a] * h[a];
  q1_gauss(h, Ke);
  flood_keep(n, k, 26, d, keep);
  for (int v = 0; v < N; v++) {
    const int64_t c[3] = {v % n[0], (v / n[0]) % n[1], v / (n[0] * n[1])};
    if (!keep[v]) continue;
    for (int a = 0; a < 8; a++)
      for (int bb = 0; bb < 8; bb++) {
        const int ia = (int)(((c[2] + (a >> 2)) * nn[1] + c[1] + ((a >> 1) & 1)) * nn[0] + c[0] + (a & 1));
        const int ib = (int)(((c[2] + (bb >> 2)) * nn[1] + c[1] + ((bb >> 1) & 1)) * nn[0] + c[0] + (bb & 1));
        K[(size_t)ia * NN + ib] += k[v] * Ke[a][bb];
        used[ia] = 1;
      }
  }
  for (int i = 0; i < NN; i++) {
    const int64_t c[3] = {i % nn[0], (i / nn[0]) % nn[1], i / (nn[0] * nn[1])};
    row[i]             = -1;
    if (!used[i]) continue;
    if (c[d] == 0) u[i] = 1;
    else if (c[d] < n[d]) row[i] = nf++;
  }
  A = (double *)calloc((size_t)nf * nf + 1, sizeof(double));
  b = (double *)calloc((size_t)nf + 1, sizeof(double));
  for (int i = 0; i < NN; i++) {
    if (row[i] < 0) continue;
    for (int j = 0; j < NN; j++) {
      if (row[j] >= 0) A[(size_t)row[i] * nf + row[j]] = K[(size_t)i * NN + j];
      else b[row[i]] -= K[(size_t)i * NN + j] * u[j];
    }
  }
  if (nf && dense_solve(nf, A, b)) flux = NAN;
  for (int i = 0; i < NN; i++)
    if (row[i] >= 0) u[i] = b[row[i]];
  for (int i = 0; i < NN; i++) {
    const int64_t c[3] = {i % nn[0], (i / nn[0]) % nn[1], i / (nn[0] * nn[1])};
    if (!used[i] || c[d] != 0) continue;
    for (int j = 0; j < NN; j++) flux += K[(size_t)i * NN + j] * u[j];
  }
  free(keep), free(row), free(K), free(u), free(A), free(b), free(used);
  return flux * L / area;
}

static double dense_fv(const int64_t n[3], const PetscReal h[3], const double *k, int d)
{
  const int N = (int)(n[0] * n[1] * n[2]);
  int      *keep = (int *)calloc((size_t)N, sizeof(int)), *row = (int *)malloc(sizeof(int) * N), nf = 0;
  double   *A, *b, flux = 0, L = n[d] * h[d], area = 1, fa[3];

  for (int a = 0; a < 3; a++) {
    fa[a] = h[(a + 1) % 3] * h[(a + 2) % 3] / h[a];
    if (a != d) area *= n[a] * h[a];
  }
  flood_keep(n, k, 6, d, keep);
  for (int v = 0; v < N; v++) row[v] = keep[v] ? nf++ : -1;
  A = (double *)calloc((size_t)nf * nf + 1, sizeof(double));
  b = (double *)calloc((size_t)nf + 1, sizeof(double));
  for (int v = 0; v < N; v++) {
    const int64_t c[3] = {v % n[0], (v / n[0]) % n[1], v / (n[0] * n[1])};
    if (row[v] < 0) continue;
    for (int a = 0; a < 3; a++)
      for (int s = -1; s <= 1; s += 2) {
        int64_t w[3] = {c[0], c[1], c[2]};
        int     u;
        w[a] += s;
        if (w[a] < 0 || w[a] >= n[a]) {
          if (a == d) { /* Dirichlet half a voxel outside */
            A[(size_t)row[v] * nf + row[v]] += 2 * k[v] * fa[a];
            if (s < 0) b[row[v]] += 2 * k[v] * fa[a];
          }
          continue;
        }
        u = (int)((w[2] * n[1] + w[1]) * n[0] + w[0]);
        if (row[u] < 0) continue;
        A[(size_t)row[v] * nf + row[v]] += 2 * k[v] * k[u] / (k[v] + k[u]) * fa[a];
        A[(size_t)row[v] * nf + row[u]] -= 2 * k[v] * k[u] / (k[v] + k[u]) * fa[a];
      }
  }
  if (nf && dense_solve(nf, A, b)) flux = NAN;
  for (int v = 0; v < N; v++) {
    const int64_t c[3] = {v % n[0], (v / n[0]) % n[1], v / (n[0] * n[1])};
    if (row[v] >= 0 && c[d] == 0) flux += 2 * k[v] * fa[d] * (1 - b[row[v]]);
  }
  free(keep), free(row), free(A), free(b);
  return flux * L / area;
}

static PetscErrorCode check_brute_force(void)
{
  const int64_t   sizes[3][3] = {{4, 3, 5}, {5, 4, 3}, {3, 5, 4}};
  const PetscReal h[3]        = {0.01, 0.014, 0.008};
  const char     *names[3]    = {"pore", "solid", "carbon"};
  const double    cond[3]     = {0, 1, 0.2};
  int             checked     = 0;

  PetscFunctionBeginUser;
  for (int s = 0; s < 3; s++)
    for (int seed = 0; seed < 4; seed++) {
      const int64_t *n = sizes[s];
      const int      N = (int)(n[0] * n[1] * n[2]);
      double        *k = (double *)malloc(sizeof(double) * N);
      SMGrid         grid;
      SMVolume       vol;
      uint8_t       *lab;
      PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
      PetscCall(sm_volume_create(grid, 3, names, &vol));
      PetscCall(sm_volume_get_labels(vol, &lab));
      for (int v = 0; v < N; v++) {
        const double u = hash01((uint64_t)(1000 * s + 100 * seed + v));
        lab[v]         = (uint8_t)(u < 0.35 ? 0 : (u < 0.8 ? 1 : 2));
        k[v]           = cond[lab[v]];
      }
      for (int m = 0; m < 2; m++)
        for (int d = 0; d < 3; d++) {
          SMTransportResult r;
          const double      Mb = m == 0 ? dense_fem(n, h, k, d) : dense_fv(n, h, k, d);
          char              what[128];
          PetscCall(solve(vol, cond, 1, (SMTransportMethod)m, d, &r));
          PetscCall(PetscSNPrintf(what, sizeof(what), "%s brute force, grid %d seed %d direction %d", sm_transport_method_names[m], s,
                                  seed, d));
          if (Mb == 0) SM_TEST_TRUE(r.M == 0 && !r.percolates, "%s: M %g, expected 0", what, r.M);
          else {
            SM_TEST_M_BOUND(r, Mb, what);
            checked++;
          }
        }
      PetscCall(sm_volume_destroy(&vol));
      PetscCall(sm_grid_destroy(&grid));
      free(k);
    }
  /* the random cases must mostly conduct, or the comparison would be vacuous */
  SM_TEST_TRUE(checked >= 40, "brute force: only %d of 72 cases conduct", checked);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- FEM vs FV under refinement ---- */
static PetscErrorCode check_convergence(void)
{
  const int   res[3] = {24, 48, 96};
  const char *names[2] = {"pore", "solid"};
  const double cond[2] = {0, 1};
  double      M[3][2], gap[3];

  PetscFunctionBeginUser;
  for (int i = 0; i < 3; i++) {
    const int64_t   n[3] = {res[i], res[i], res[i]};
    const double    hh   = 1.0 / res[i];
    const PetscReal h[3] = {hh, hh, hh};
    SMGrid          grid;
    SMVolume        vol;
    uint8_t        *lab;
    PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
    PetscCall(sm_volume_create(grid, 2, names, &vol));
    PetscCall(sm_volume_get_labels(vol, &lab));
    /* gyroid sin X cos Y + sin Y cos Z + sin Z cos X > 0.6 over one period (a thin network, eps about 0.3),
       sampled at voxel centres */
    for (int64_t z = 0; z < n[2]; z++)
      for (int64_t y = 0; y < n[1]; y++)
        for (int64_t x = 0; x < n[0]; x++) {
          const double X = 2 * M_PI * (x + 0.5) * hh, Y = 2 * M_PI * (y + 0.5) * hh, Z = 2 * M_PI * (z + 0.5) * hh;
          lab[(z * n[1] + y) * n[0] + x] = sin(X) * cos(Y) + sin(Y) * cos(Z) + sin(Z) * cos(X) > 0.6;
        }
    for (int m = 0; m < 2; m++) {
      SMTransportResult r;
      PetscCall(solve(vol, cond, 1, (SMTransportMethod)m, 2, &r));
      M[i][m] = r.M;
    }
    gap[i] = (M[i][0] - M[i][1]) / M[i][0];
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "  gyroid %d^3: FEM %.5f, FV %.5f, gap %.2f %%\n", res[i], M[i][0], M[i][1],
                          100 * gap[i]));
    PetscCall(sm_volume_destroy(&vol));
    PetscCall(sm_grid_destroy(&grid));
  }
  for (int i = 0; i < 3; i++) SM_TEST_TRUE(gap[i] > 0, "gyroid: FEM (edge and corner coupling) above FV at %d^3", res[i]);
  for (int i = 1; i < 3; i++) {
    SM_TEST_TRUE(gap[i] < gap[i - 1], "gyroid: the FEM-FV gap shrinks from %d^3 to %d^3: %g -> %g", res[i - 1], res[i],
                 gap[i - 1], gap[i]);
    SM_TEST_TRUE(M[i][1] > M[i - 1][1], "gyroid: FV rises under refinement (%g -> %g)", M[i - 1][1], M[i][1]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  double t0;
  int    rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  t0 = MPI_Wtime();
  PetscCall(check_fv_network());
  PetscCall(check_brute_force());
  PetscCall(check_convergence());
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_transport: %.2f s\n", MPI_Wtime() - t0));
  rc = sm_test_finish(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return rc;
}
