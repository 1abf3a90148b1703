/* Specific surface area by the Ohser-Schladitz estimator (SPEC 5).
 *
 * References: J. Ohser, K. Schladitz, "3D Images of Materials Structures", Wiley 2009, ch. 5;
 * J. Ohser, F. Muecklich, "Statistical Analysis of Microstructures in Materials Science", Wiley 2000;
 * C. Lang, J. Ohser, R. Hilfer, "On the analysis of spatial binary images", J. Microsc. 203 (2001) 303.
 *
 * Derivation of the factors used below.
 * Cauchy-Crofton: for a surface with area density S_V and an isotropic random line direction u, the mean number of
 * surface crossings per unit line length is P_L = S_V / 2. Averaging over directions with a quadrature of the unit
 * sphere, S_V = 2 sum_i w_i P_L(u_i) with sum_i w_i = 1 over the 13 lines (each w_i covers both +d_i and -d_i).
 * On the lattice, P_L(u_i) is estimated by counting neighbour pairs (p, p + d_i) whose states differ: each differing
 * pair is one crossing of the lattice line segment of physical length |d_i| (a pair crossed twice is missed, which is
 * negligible when the structure is smooth on the voxel scale). There is one such pair per lattice point, i.e. per
 * voxel volume v = hx hy hz, so the line length per unit volume is |d_i| / v and
 *   P_L(u_i) = (differing pairs per unit volume) * v / |d_i|.
 * The pairs are counted from the 2x2x2 cells: a cell holds m_i pairs along d_i (4 along an axis, 2 along a face
 * diagonal, 1 along a body diagonal), and, since cells and pairs along d_i both number one per lattice point, each
 * lattice pair lies in exactly m_i cells. Hence each cell of configuration c contributes
 *   lut[c] = 2 v sum_i w_i n_i(c) / (m_i |d_i|)      [area]
 * with n_i(c) its differing pairs along d_i, and S_V = sum_c hist[c] lut[c] / (cells * v). For isotropic structures
 * this is unbiased for any weights summing to 1; the Voronoi weights (the fraction of the unit sphere nearer to +-u_i
 * than to any other of the 26 unit vectors, u_i the physical directions) make it as little dependent on orientation as
 * the 13 directions allow. For a plane with unit normal n the estimator gives exactly S_V * 2 sum_i w_i |n . u_i|
 * (0.9266 S_V for a plane normal to an axis of the cubic lattice). */
#include <math.h>
#include <string.h>
#include <stochmorph/morph.h>

/* The 13 lattice directions in the order of morph.h (also the order MorphoLibJ uses). */
static const int sm_surface_dirs[13][3] = {{1, 0, 0},  {0, 1, 0},  {0, 0, 1},  {1, 1, 0},  {-1, 1, 0},
                                           {1, 0, 1},  {-1, 0, 1}, {0, 1, 1},  {0, -1, 1}, {1, 1, 1},
                                           {-1, 1, 1}, {1, -1, 1}, {-1, -1, 1}};

static inline double dot3(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static inline void cross3(const double a[3], const double b[3], double c[3])
{
  c[0] = a[1] * b[2] - a[2] * b[1];
  c[1] = a[2] * b[0] - a[0] * b[2];
  c[2] = a[0] * b[1] - a[1] * b[0];
}

/* Solid angle of the spherical triangle (a, b, c) of unit vectors (Van Oosterom & Strackee 1983): exact and stable
   also for the thin triangles of a fan, unlike Girard's angle excess evaluated from arc angles. */
static double solid_angle(const double a[3], const double b[3], const double c[3])
{
  double bc[3];
  cross3(b, c, bc);
  return 2.0 * atan2(fabs(dot3(a, bc)), 1.0 + dot3(a, b) + dot3(b, c) + dot3(c, a));
}

/* Area of the spherical Voronoi cell of generator k among the 26 unit vectors u[].
   The cell is the convex spherical polygon {x : x . (u_k - u_j) >= 0 for all j}; its vertices are the intersections
   of two bisector great circles that satisfy every other constraint. The polygon contains u_k, so a fan of triangles
   from u_k, with the vertices sorted by angle around u_k, tiles it. */
static PetscErrorCode voronoi_cell_area(const double u[26][3], int k, double *area)
{
  double       nrm[26][3], vert[64][3], ang[64], e1[3], e2[3], tmp[3];
  int          nv    = 0;
  const double tol   = 1e-12; /* constraint slack: vertices where 4+ cells meet satisfy several bisectors exactly */
  const double merge = 1e-9;  /* duplicate vertices found from different bisector pairs differ by rounding only */

  PetscFunctionBeginUser;
  for (int j = 0; j < 26; j++)
    for (int c = 0; c < 3; c++) nrm[j][c] = u[k][c] - u[j][c];
  for (int j = 0; j < 26; j++) {
    if (j == k) continue;
    for (int l = j + 1; l < 26; l++) {
      double x[3], len, s;
      int    ok = 1;
      if (l == k) continue;
      cross3(nrm[j], nrm[l], x);
      len = sqrt(dot3(x, x));
      if (len < 1e-14) continue;                         /* parallel bisectors do not meet in a vertex */
      s = dot3(x, u[k]) >= 0.0 ? 1.0 / len : -1.0 / len; /* of the two antipodes, the one on u_k's side */
      for (int c = 0; c < 3; c++) x[c] *= s;
      for (int m = 0; m < 26 && ok; m++)
        if (m != k && dot3(x, nrm[m]) < -tol) ok = 0;
      for (int q = 0; q < nv && ok; q++) {
        double d2 = 0.0;
        for (int c = 0; c < 3; c++) d2 += (x[c] - vert[q][c]) * (x[c] - vert[q][c]);
        if (d2 < merge * merge) ok = 0;
      }
      if (!ok) continue;
      PetscCheck(nv < 64, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Too many Voronoi vertices around direction %d", k);
      for (int c = 0; c < 3; c++) vert[nv][c] = x[c];
      nv++;
    }
  }
  PetscCheck(nv >= 3, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Degenerate Voronoi cell around direction %d (%d vertices)", k,
             nv);

  /* Tangent basis at u_k to order the vertices counter-clockwise. */
  tmp[0] = fabs(u[k][0]) < 0.9 ? 1.0 : 0.0;
  tmp[1] = fabs(u[k][0]) < 0.9 ? 0.0 : 1.0;
  tmp[2] = 0.0;
  cross3(u[k], tmp, e1);
  {
    double len = sqrt(dot3(e1, e1));
    for (int c = 0; c < 3; c++) e1[c] /= len;
  }
  cross3(u[k], e1, e2);
  for (int q = 0; q < nv; q++) ang[q] = atan2(dot3(vert[q], e2), dot3(vert[q], e1));
  for (int q = 1; q < nv; q++) { /* insertion sort: a handful of vertices */
    double a = ang[q], v[3] = {vert[q][0], vert[q][1], vert[q][2]};
    int    p = q - 1;
    while (p >= 0 && ang[p] > a) {
      ang[p + 1] = ang[p];
      for (int c = 0; c < 3; c++) vert[p + 1][c] = vert[p][c];
      p--;
    }
    ang[p + 1] = a;
    for (int c = 0; c < 3; c++) vert[p + 1][c] = v[c];
  }
  *area = 0.0;
  for (int q = 0; q < nv; q++) *area += solid_angle(u[k], vert[q], vert[(q + 1) % nv]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_direction_weights(const PetscReal h[3], double w[13])
{
  double u[26][3], sum = 0.0;

  PetscFunctionBeginUser;
  for (int c = 0; c < 3; c++)
    PetscCheck(h[c] > 0.0 && isfinite((double)h[c]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "Voxel size must be positive and finite, got h[%d] = %g", c, (double)h[c]);
  /* The Voronoi cells live on the sphere of physical directions: scale the lattice vectors by h first. */
  for (int i = 0; i < 13; i++) {
    double len = 0.0;
    for (int c = 0; c < 3; c++) {
      u[i][c] = sm_surface_dirs[i][c] * (double)h[c];
      len += u[i][c] * u[i][c];
    }
    len = sqrt(len);
    for (int c = 0; c < 3; c++) {
      u[i][c] /= len;
      u[i + 13][c] = -u[i][c];
    }
  }
  for (int i = 0; i < 13; i++) {
    double ap, am;
    PetscCall(voronoi_cell_area((const double(*)[3])u, i, &ap));
    PetscCall(voronoi_cell_area((const double(*)[3])u, i + 13, &am));
    w[i] = (ap + am) / (4.0 * PETSC_PI);
    sum += w[i];
  }
  PetscCheck(fabs(sum - 1.0) < 1e-9, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "Direction weights sum to %.15g instead of 1 for h = (%g, %g, %g)", sum, (double)h[0], (double)h[1],
             (double)h[2]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_surface_lut(const PetscReal h[3], double lut[256])
{
  double w[13], len[13], v = (double)h[0] * (double)h[1] * (double)h[2];
  int    pair_dir[8][8], per_cell[13] = {0};

  PetscFunctionBeginUser;
  PetscCall(sm_morph_direction_weights(h, w));
  for (int i = 0; i < 13; i++) {
    len[i] = 0.0;
    for (int c = 0; c < 3; c++) len[i] += PetscSqr(sm_surface_dirs[i][c] * (double)h[c]);
    len[i] = sqrt(len[i]);
  }
  /* Direction of each of the 28 corner pairs of the cell; corner b sits at (b & 1, (b >> 1) & 1, (b >> 2) & 1). */
  for (int a = 0; a < 8; a++) {
    for (int b = a + 1; b < 8; b++) {
      int d[3] = {((b >> 0) & 1) - ((a >> 0) & 1), ((b >> 1) & 1) - ((a >> 1) & 1), ((b >> 2) & 1) - ((a >> 2) & 1)};
      pair_dir[a][b] = -1;
      for (int i = 0; i < 13; i++) {
        const int *e = sm_surface_dirs[i];
        if ((d[0] == e[0] && d[1] == e[1] && d[2] == e[2]) || (d[0] == -e[0] && d[1] == -e[1] && d[2] == -e[2]))
          pair_dir[a][b] = i;
      }
      PetscAssert(pair_dir[a][b] >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Corner pair (%d,%d) has no direction", a, b);
      per_cell[pair_dir[a][b]]++;
    }
  }
  for (int cfg = 0; cfg < 256; cfg++) {
    int n[13] = {0};
    for (int a = 0; a < 8; a++)
      for (int b = a + 1; b < 8; b++)
        if (((cfg >> a) ^ (cfg >> b)) & 1) n[pair_dir[a][b]]++;
    lut[cfg] = 0.0;
    /* per_cell[i] (4, 2 or 1) is also the number of cells sharing each lattice pair along d_i. */
    for (int i = 0; i < 13; i++) lut[cfg] += 2.0 * v * w[i] * n[i] / (per_cell[i] * len[i]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_configuration_histogram(SMVolume vol, int label, PetscBool periodic, int64_t hist[256])
{
  SMGrid             grid;
  SMGridInfo         info;
  uint8_t           *labels, *above = NULL;
  int64_t            local[256] = {0}, nx, ny, xcells, ycells, zcells;
  int                nphases;
  const char *const *names;
  const uint8_t      L = (uint8_t)label;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(sm_volume_get_phases(vol, &nphases, &names));
  PetscCheck(label >= 0 && label < nphases, sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE,
             "Label %d is not a phase of the volume (labels 0..%d)", label, nphases - 1);
  PetscCheck(periodic || (info.n[0] >= 2 && info.n[1] >= 2 && info.n[2] >= 2), sm_grid_comm(grid),
             PETSC_ERR_ARG_OUTOFRANGE,
             "A non-periodic volume needs at least 2 voxels along each axis for 2x2x2 cells, got %lld x %lld x %lld",
             (long long)info.n[0], (long long)info.n[1], (long long)info.n[2]);
  PetscCall(sm_volume_get_labels(vol, &labels));
  nx = info.n[0];
  ny = info.n[1];
  PetscCall(PetscMalloc1((size_t)info.n_plane, &above));
  PetscCall(sm_grid_get_plane_above_u8(grid, labels, periodic, 0, above));

  /* Cells are indexed by their lowest corner; without periodicity the last plane, row and column start none. */
  xcells = periodic ? nx : nx - 1;
  ycells = periodic ? ny : ny - 1;
  zcells = (!periodic && info.z_start + info.z_local == info.n[2]) ? info.z_local - 1 : info.z_local;
  for (int64_t z = 0; z < zcells; z++) {
    const uint8_t *p0 = labels + z * info.n_plane;
    const uint8_t *p1 = (z + 1 < info.z_local) ? p0 + info.n_plane : above;
    for (int64_t y = 0; y < ycells; y++) {
      const int64_t  y1  = (y + 1 < ny) ? y + 1 : 0;
      const uint8_t *r00 = p0 + y * nx, *r10 = p0 + y1 * nx, *r01 = p1 + y * nx, *r11 = p1 + y1 * nx;
      /* Column code of the 4 voxels (x, y..y+1, z..z+1) at bits 2y + 4z; the x + 1 column is the same code shifted
         by one bit, so each column is evaluated once. */
#define SM_COLUMN(x) \
  ((unsigned)(r00[x] == L) | (unsigned)(r10[x] == L) << 2 | (unsigned)(r01[x] == L) << 4 | (unsigned)(r11[x] == L) << 6)
      unsigned col0 = SM_COLUMN(0);
      for (int64_t x = 0; x < xcells; x++) {
        const int64_t  x1   = (x + 1 < nx) ? x + 1 : 0;
        const unsigned col1 = SM_COLUMN(x1);
        local[col0 | col1 << 1]++;
        col0 = col1;
      }
#undef SM_COLUMN
    }
  }
  PetscCall(PetscFree(above));
  PetscCallMPI(MPI_Allreduce(local, hist, 256, MPI_INT64_T, MPI_SUM, sm_grid_comm(grid)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_specific_surface_area(SMVolume vol, int label, PetscBool periodic, double *S)
{
  SMGrid     grid;
  SMGridInfo info;
  int64_t    hist[256];
  double     lut[256], area = 0.0, cells;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(sm_morph_configuration_histogram(vol, label, periodic, hist));
  PetscCall(sm_morph_surface_lut(info.h, lut));
  /* Summed in configuration order from the global histogram: the same bits on every rank and rank count. */
  for (int c = 0; c < 256; c++) area += (double)hist[c] * lut[c];
  cells = periodic ? (double)info.n_total : (double)(info.n[0] - 1) * (double)(info.n[1] - 1) * (double)(info.n[2] - 1);
  *S    = area / (cells * (double)info.h[0] * (double)info.h[1] * (double)info.h[2]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

double sm_morph_interface_area(const double S[], int np, int i, int j)
{
  double rest = 0;
  for (int k = 0; k < np; k++)
    if (k != i && k != j) rest += S[k];
  return 0.5 * (S[i] + S[j] - rest);
}
