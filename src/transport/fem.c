/* Trilinear (Q1) hexahedral finite elements on the voxel grid (SPEC 6.2 `fem`).
 *
 * One element per kept voxel, the nodes at the voxel corners. The element stiffness of a brick hx x hy x hz with
 * conductivity k is the tensor product K = k (Sx (x) My (x) Mz + Mx (x) Sy (x) Mz + Mx (x) My (x) Sz) of the 1D
 * linear-element stiffness S = (1/h) [[1, -1], [-1, 1]] and mass M = (h/6) [[2, 1], [1, 2]] matrices: exact for
 * anisotropic voxels. Since S and M have equal diagonal entries, K[a][b] depends only on which of the three
 * coordinates of the nodes a and b differ: eight classes (bit 0 x, bit 1 y, bit 2 z), kcls[] below. For cubic voxels
 * the class "differ in one coordinate only" is exactly 0, and those couplings are left out of the matrix (21 instead
 * of 27 entries per interior row).
 *
 * Unknowns are the nodes of kept elements that are not on a Dirichlet plane (node plane 0 of the direction: u = 1,
 * node plane n: u = 0). Dirichlet columns are moved to the right-hand side, so the matrix is symmetric positive
 * definite. Rows are assembled one node at a time from the (at most 8) kept elements around the node, so no element
 * contribution has to cross a rank boundary: the rank that owns node plane k reads voxel planes k - 1 and k, the
 * first of which is the ghost plane below. The flux is the sum of the consistent nodal reactions (K u)_i at the
 * Dirichlet nodes, evaluated element by element with the full element matrices. */
#include "transport_impl.h"
#include <math.h>

/* Element matrix classes for unit conductivity (see the header comment). Entries that vanish in exact arithmetic
   (the one-coordinate class of a cube, -1/9 + 1/18 + 1/18) come out as round-off; they are set to exactly 0 so that
   they are not stored. */
static void fem_classes(const PetscReal h[3], double kcls[8])
{
  double S[3][2], M[3][2], scale;
  for (int a = 0; a < 3; a++) {
    S[a][0] = 1.0 / h[a];
    S[a][1] = -1.0 / h[a];
    M[a][0] = h[a] / 3.0;
    M[a][1] = h[a] / 6.0;
  }
  for (int cls = 0; cls < 8; cls++) {
    const int ex = cls & 1, ey = (cls >> 1) & 1, ez = (cls >> 2) & 1;
    kcls[cls] = S[0][ex] * M[1][ey] * M[2][ez] + M[0][ex] * S[1][ey] * M[2][ez] + M[0][ex] * M[1][ey] * S[2][ez];
  }
  scale = fabs(kcls[0]);
  for (int cls = 1; cls < 8; cls++)
    if (fabs(kcls[cls]) < 1e-12 * scale) kcls[cls] = 0.0;
}

/* Kept label (0: none) of voxel (x, y, z); z within the ghosted slab [z_start - 1, z_start + z_local]. */
static inline uint8_t kl_at(const SMTransportCtx *c, int64_t x, int64_t y, int64_t z)
{
  if (x < 0 || y < 0 || x >= c->g.n[0] || y >= c->g.n[1]) return 0;
  return c->klab[(z - c->g.z_start + 1) * c->g.n_plane + y * c->g.n[0] + x];
}

static inline PetscInt num_at(const SMTransportCtx *c, int64_t i, int64_t j, int64_t k)
{
  return c->num[(k - c->pz0 + 1) * c->pplane + j * c->pn[0] + i];
}

PetscErrorCode sm_transport_fem_number(SMTransportCtx *c)
{
  const int64_t nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir];
  int64_t       count = 0, first = 0;
  PetscInt      fill  = -1;

  PetscFunctionBeginUser;
  c->pn[0]   = nx + 1;
  c->pn[1]   = ny + 1;
  c->pplane  = c->pn[0] * c->pn[1];
  c->pz0     = c->g.z_start;
  c->nplanes = c->g.z_local + (c->g.rank == c->g.size - 1 ? 1 : 0);
  PetscCall(PetscMalloc1((size_t)((c->nplanes + 2) * c->pplane), &c->num));
  for (int64_t p = 1; p <= c->nplanes; p++) {
    const int64_t k = c->pz0 + p - 1;
    for (int64_t j = 0; j <= ny; j++)
      for (int64_t i = 0; i <= nx; i++) {
        const int64_t crd[3] = {i, j, k};
        PetscInt     *q      = &c->num[p * c->pplane + j * c->pn[0] + i];
        int           active = 0;
        *q                   = -1;
        if (crd[c->dir] == 0 || crd[c->dir] == nd) continue; /* Dirichlet node */
        for (int a = 0; a < 8 && !active; a++) active = kl_at(c, i - (a & 1), j - ((a >> 1) & 1), k - ((a >> 2) & 1)) != 0;
        if (active) *q = (PetscInt)count++;
      }
  }
  PetscCallMPI(MPI_Exscan(&count, &first, 1, MPI_INT64_T, MPI_SUM, c->comm));
  if (c->g.rank == 0) first = 0;
  PetscCallMPI(MPI_Allreduce(&count, &c->nglobal, 1, MPI_INT64_T, MPI_SUM, c->comm));
  PetscCheck(c->nglobal <= PETSC_MAX_INT, c->comm, PETSC_ERR_SUP,
             "The FEM system has %lld unknowns, more than this PETSc's 32-bit PetscInt can index; use a PETSc built "
             "with --with-64-bit-indices or a smaller volume",
             (long long)c->nglobal);
  c->first  = (PetscInt)first;
  c->nlocal = (PetscInt)count;
  for (int64_t v = c->pplane; v < (c->nplanes + 1) * c->pplane; v++)
    if (c->num[v] >= 0) c->num[v] += c->first;
  PetscCall(sm_transport_exchange_ghosts(c, c->num, c->nplanes, c->pplane, MPIU_INT, sizeof(PetscInt), &fill));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Row of unknown node (i, j, k): columns (increasing, as the offsets are visited in natural order), values, and the
   right-hand side -sum_j K_ij u_j over the Dirichlet columns (u = 1 at the inlet, 0 at the outlet). */
static int fem_row(const SMTransportCtx *c, const double kcls[8], int64_t i, int64_t j, int64_t k, PetscInt cols[27],
                   PetscScalar vals[27], double *rhs)
{
  double   st[27] = {0};
  unsigned touched = 0;
  int      n = 0;
  double   r = 0;

  for (int e = 0; e < 8; e++) {
    /* element (voxel) e around the node; the node sits at local corner (lx, ly, lz) of it */
    const int     cx = e & 1, cy = (e >> 1) & 1, cz = (e >> 2) & 1, lx = 1 - cx, ly = 1 - cy, lz = 1 - cz;
    const uint8_t kl = kl_at(c, i - 1 + cx, j - 1 + cy, k - 1 + cz);
    double        ce;
    if (!kl) continue;
    ce = c->cond[kl - 1];
    for (int m = 0; m < 8; m++) {
      const int mx = m & 1, my = (m >> 1) & 1, mz = (m >> 2) & 1;
      const int cls = (mx != lx) | ((my != ly) << 1) | ((mz != lz) << 2);
      const int s   = (mz - lz + 1) * 9 + (my - ly + 1) * 3 + (mx - lx + 1);
      if (kcls[cls] == 0.0) continue;
      st[s] += ce * kcls[cls];
      touched |= 1u << s;
    }
  }
  for (int s = 0; s < 27; s++) {
    if (!((touched >> s) & 1)) continue;
    {
      const int64_t  dx = s % 3 - 1, dy = (s / 3) % 3 - 1, dz = s / 9 - 1;
      const int64_t  crd[3] = {i + dx, j + dy, k + dz};
      const PetscInt q      = num_at(c, crd[0], crd[1], crd[2]);
      if (q >= 0) {
        cols[n]   = q;
        vals[n++] = st[s];
      } else if (crd[c->dir] == 0)
        r -= st[s]; /* inlet node, u = 1; the outlet (u = 0) adds nothing */
    }
  }
  *rhs = r;
  return n;
}

/* Right-hand side b and the linear initial guess x (exact in straight channels) row by row, and the rows of A when it
   is assembled (A NULL: the matrix-free operator, which needs only b and x). */
static PetscErrorCode fem_fill(const SMTransportCtx *c, const double kcls[8], Mat A, Vec b, Vec x)
{
  const int64_t nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir];
  PetscInt      cols[27];
  PetscScalar   vals[27], *ba, *xa;

  PetscFunctionBeginUser;
  PetscCall(VecGetArray(b, &ba));
  PetscCall(VecGetArray(x, &xa));
  for (int64_t p = 1; p <= c->nplanes; p++)
    for (int64_t j = 0; j <= ny; j++)
      for (int64_t i = 0; i <= nx; i++) {
        const int64_t  k = c->pz0 + p - 1, crd[3] = {i, j, k};
        const PetscInt q = c->num[p * c->pplane + j * c->pn[0] + i];
        double         rhs;
        int            n;
        if (q < 0) continue;
        if (A) {
          n = fem_row(c, kcls, i, j, k, cols, vals, &rhs);
          PetscCall(MatSetValues(A, 1, &q, n, cols, vals, INSERT_VALUES));
        } else if (crd[c->dir] == 1) (void)fem_row(c, kcls, i, j, k, cols, vals, &rhs);
        else rhs = 0; /* the inlet (u = 1) couples only to the next node plane; the outlet's u = 0 adds nothing */
        ba[q - c->first] = rhs;
        xa[q - c->first] = 1.0 - (double)crd[c->dir] / (double)nd;
      }
  PetscCall(VecRestoreArray(b, &ba));
  PetscCall(VecRestoreArray(x, &xa));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_assemble(SMTransportCtx *c, Mat *A, Vec *b, Vec *x)
{
  const int64_t nx = c->g.n[0], ny = c->g.n[1];
  double        kcls[8], rhs;
  PetscInt     *dnnz, *onnz, cols[27];
  PetscScalar   vals[27];

  PetscFunctionBeginUser;
  fem_classes(c->g.h, kcls);
  /* exact preallocation: the same row function counts first, then fills (8 bytes per row while counting) */
  PetscCall(PetscMalloc2((size_t)c->nlocal + 1, &dnnz, (size_t)c->nlocal + 1, &onnz));
  for (int64_t p = 1; p <= c->nplanes; p++)
    for (int64_t j = 0; j <= ny; j++)
      for (int64_t i = 0; i <= nx; i++) {
        const PetscInt q = c->num[p * c->pplane + j * c->pn[0] + i];
        int            n;
        if (q < 0) continue;
        n              = fem_row(c, kcls, i, j, c->pz0 + p - 1, cols, vals, &rhs);
        dnnz[q - c->first] = onnz[q - c->first] = 0;
        for (int t = 0; t < n; t++) {
          if (c->symmetric_storage && cols[t] < q) continue; /* SBAIJ keeps the upper triangle */
          if (cols[t] >= c->first && cols[t] < c->first + c->nlocal) dnnz[q - c->first]++;
          else onnz[q - c->first]++;
        }
      }
  if (c->symmetric_storage) {
    /* 14 of the 27 entries of a row: about 170 instead of 324 bytes per unknown; the operator is only multiplied
       (the preconditioner is built from the edge Laplacian), which SBAIJ does as fast as AIJ here */
    PetscCall(MatCreateSBAIJ(c->comm, 1, c->nlocal, c->nlocal, (PetscInt)c->nglobal, (PetscInt)c->nglobal, 0, dnnz, 0, onnz, A));
    PetscCall(MatSetOption(*A, MAT_IGNORE_LOWER_TRIANGULAR, PETSC_TRUE));
  } else
    PetscCall(MatCreateAIJ(c->comm, c->nlocal, c->nlocal, (PetscInt)c->nglobal, (PetscInt)c->nglobal, 0, dnnz, 0, onnz, A));
  PetscCall(PetscFree2(dnnz, onnz));
  PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(MatCreateVecs(*A, x, b));
  PetscCall(fem_fill(c, kcls, *A, *b, *x));
  PetscCall(MatAssemblyBegin(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The edge Laplacian: the node graph of the element edges, an x edge weighted by k hy hz / (4 hx) per kept element
   around it (likewise y and z), i.e. the 7-point operator that has the same energy as the Q1 stiffness for every linear
   field in every element. Element by element the two quadratic forms have the same kernel (constants on the 8 nodes),
   so they are spectrally equivalent with constants that depend only on the voxel aspect ratio: multigrid built on it
   preconditions the Q1 matrix uniformly in the mesh size, with a third of the entries (7 instead of 21-27 per row),
   which is where the memory of the multigrid hierarchy goes.
   The rows of a node plane are built from the conductivities of the two voxel planes around it, padded by a zero
   voxel on every side (no bounds tests; this took 5 % of a FEM solve when each of the 24 voxels of a row was looked up
   with its own tests). */

/* The weight of an edge along axis a per kept element around it, per unit conductivity: h_b h_c / (4 h_a). */
static void fem_edge_weights(const PetscReal h[3], double wa[3])
{
  wa[0] = h[1] * h[2] / (4.0 * h[0]);
  wa[1] = h[0] * h[2] / (4.0 * h[1]);
  wa[2] = h[0] * h[1] / (4.0 * h[2]);
}

/* Conductivity of the kept voxels of ghosted voxel plane zi (0 where none), padded: cp[(y + 1) (nx + 2) + x + 1]. */
static void fem_cond_plane(const SMTransportCtx *c, int64_t zi, double *cp)
{
  const int64_t  nx = c->g.n[0], ny = c->g.n[1], P = nx + 2;
  const uint8_t *kl = c->klab + zi * c->g.n_plane;
  for (int64_t y = 0; y < ny; y++)
    for (int64_t x = 0; x < nx; x++) cp[(y + 1) * P + x + 1] = kl[y * nx + x] ? c->cond[kl[y * nx + x] - 1] : 0.0;
}

/* Row of unknown node (i, j) of node plane p from the padded conductivities lo and hi of the voxel planes below and
   above it: columns in increasing order (neighbours -z, -y, -x, the node, +x, +y, +z), the diagonal the sum of the edge
   weights, Dirichlet and outside neighbours left out. Each weight adds its four voxels in the order of the code before
   (bit-identical matrices). */
static inline int fem_edge_row(const SMTransportCtx *c, const double wa[3], const double *restrict lo,
                               const double *restrict hi, int64_t p, int64_t i, int64_t j, PetscInt cols[7],
                               PetscScalar vals[7])
{
  const int64_t P = c->g.n[0] + 2, o = j * P + i, base = p * c->pplane + j * c->pn[0] + i;
  const double  a = lo[o], b = lo[o + 1], cc = lo[o + P], d = lo[o + P + 1];
  const double  A = hi[o], B = hi[o + 1], C = hi[o + P], D = hi[o + P + 1];
  const int64_t nb[7] = {base - c->pplane, base - c->pn[0], base - 1,        base,
                         base + 1,         base + c->pn[0], base + c->pplane};
  double        w[7], diag = 0;
  int           n = 0, self = 0;

  w[0] = 0.0 + a * wa[2] + b * wa[2] + cc * wa[2] + d * wa[2];
  w[1] = 0.0 + a * wa[1] + A * wa[1] + b * wa[1] + B * wa[1];
  w[2] = 0.0 + a * wa[0] + cc * wa[0] + A * wa[0] + C * wa[0];
  w[4] = 0.0 + b * wa[0] + d * wa[0] + B * wa[0] + D * wa[0];
  w[5] = 0.0 + cc * wa[1] + C * wa[1] + d * wa[1] + D * wa[1];
  w[6] = 0.0 + A * wa[2] + B * wa[2] + C * wa[2] + D * wa[2];
  for (int t = 0; t < 7; t++) {
    PetscInt q;
    if (t == 3) {
      self      = n;
      cols[n]   = c->num[base];
      vals[n++] = 0;
      continue;
    }
    if (w[t] == 0) continue;
    diag += w[t];
    q = c->num[nb[t]];
    if (q >= 0) {
      cols[n]   = q;
      vals[n++] = -w[t];
    }
  }
  vals[self] = diag;
  return n;
}

/* The edge Laplacian on the unknowns of the FEM system (same rows), for the preconditioner. Collective. */
PetscErrorCode sm_transport_fem_assemble_edge(SMTransportCtx *c, Mat *P)
{
  const int64_t nx = c->g.n[0], ny = c->g.n[1], pad = (nx + 2) * (ny + 2);
  PetscInt     *dnnz, *onnz, cols[7];
  PetscScalar   vals[7];
  double        wa[3], *cp;

  PetscFunctionBeginUser;
  fem_edge_weights(c->g.h, wa);
  PetscCall(PetscMalloc2((size_t)c->nlocal + 1, &dnnz, (size_t)c->nlocal + 1, &onnz));
  PetscCall(PetscCalloc1((size_t)(2 * pad), &cp)); /* the padding stays 0 */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) PetscCall(sm_transport_create_matrix(c, dnnz, onnz, P)); /* rows in increasing column order */
    /* node plane p lies between ghosted voxel planes p - 1 (lo) and p (hi) */
    fem_cond_plane(c, 0, cp);
    for (int64_t p = 1; p <= c->nplanes; p++) {
      const double *lo = cp + ((p - 1) & 1) * pad;
      double       *hi = cp + (p & 1) * pad;
      fem_cond_plane(c, p, hi);
      for (int64_t j = 0; j <= ny; j++)
        for (int64_t i = 0; i <= nx; i++) {
          const PetscInt q = c->num[p * c->pplane + j * c->pn[0] + i];
          int            n;
          if (q < 0) continue;
          n = fem_edge_row(c, wa, lo, hi, p, i, j, cols, vals);
          if (pass == 1) {
            PetscCall(MatSetValues(*P, 1, &q, n, cols, vals, INSERT_VALUES));
            continue;
          }
          dnnz[q - c->first] = onnz[q - c->first] = 0;
          for (int t = 0; t < n; t++) {
            if (cols[t] >= c->first && cols[t] < c->first + c->nlocal) dnnz[q - c->first]++;
            else onnz[q - c->first]++;
          }
        }
    }
  }
  PetscCall(PetscFree(cp));
  PetscCall(PetscFree2(dnnz, onnz));
  PetscCall(MatAssemblyBegin(*P, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*P, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The nodal values of node plane z_start + z_local (the first node plane of the rank above) in grid layout, so that
   every element of this slab has its 8 values: above[c->pplane] (0 where no unknown). */
static PetscErrorCode fem_plane_above(SMTransportCtx *c, const PetscScalar *xa, double *above)
{
  double *mine;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)c->pplane, &mine));
  for (int64_t v = 0; v < c->pplane; v++) {
    const PetscInt q = c->num[c->pplane + v];
    mine[v]          = q >= 0 ? (double)xa[q - c->first] : 0.0;
    above[v]         = 0.0;
  }
  {
    const double         zero = 0.0;
    const SMGridHaloSpec spec = {MPI_DOUBLE, sizeof(double), c->pplane, 1, PETSC_FALSE, &zero};
    PetscCall(sm_grid_halo(c->grid, &spec, mine, mine, NULL, above));
  }
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_edge_energy(SMTransportCtx *c, Vec x, double *energy)
{
  const int64_t      nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir];
  const PetscScalar *xa;
  double             wa[3], *above, local = 0;
  Vec                sum;

  PetscFunctionBeginUser;
  fem_edge_weights(c->g.h, wa);
  PetscCall(VecGetArrayRead(x, &xa));
  /* the values of the rank above's first node plane, for the upper nodes of this slab's last element plane */
  PetscCall(PetscMalloc1((size_t)c->pplane, &above));
  PetscCall(fem_plane_above(c, xa, above));
  for (int64_t z = 0; z < c->g.z_local; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t xx = 0; xx < nx; xx++) {
        const uint8_t kl = c->klab[(z + 1) * c->g.n_plane + y * nx + xx];
        double        U[8];
        if (!kl) continue;
        for (int a = 0; a < 8; a++) {
          const int64_t crd[3] = {xx + (a & 1), y + ((a >> 1) & 1), c->g.z_start + z + ((a >> 2) & 1)};
          const int64_t p      = crd[2] - c->pz0 + 1;
          if (crd[c->dir] == 0 || crd[c->dir] == nd)
            U[a] = 0.0; /* Dirichlet nodes carry no unknown */
          else {
            const PetscInt q = c->num[p * c->pplane + crd[1] * c->pn[0] + crd[0]];
            PetscAssert(q >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Node of a kept element without an unknown");
            U[a] = p <= c->nplanes ? (double)xa[q - c->first] : above[crd[1] * c->pn[0] + crd[0]];
          }
        }
        /* the 12 edges: corners a and a + 2^ax, those whose bit ax is 0 */
        for (int ax = 0; ax < 3; ax++)
          for (int a = 0; a < 8; a++)
            if (!((a >> ax) & 1)) {
              const double du = U[a] - U[a | (1 << ax)];
              local += c->cond[kl - 1] * wa[ax] * du * du;
            }
      }
  PetscCall(PetscFree(above));
  PetscCall(VecRestoreArrayRead(x, &xa));
  /* summed over the ranks through a vector of one entry per rank */
  PetscCall(VecCreateMPI(c->comm, 1, PETSC_DETERMINE, &sum));
  {
    PetscScalar *s, total;
    PetscCall(VecGetArray(sum, &s));
    s[0] = local;
    PetscCall(VecRestoreArray(sum, &s));
    PetscCall(VecSum(sum, &total));
    *energy = (double)total;
  }
  PetscCall(VecDestroy(&sum));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_flux(SMTransportCtx *c, Vec x, double *flux_in, double *flux_out, double *potential)
{
  const int64_t      nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir], zl = c->g.z_local;
  const PetscScalar *xa = NULL;
  double            *above, kcls[8], fl[2] = {0, 0};

  PetscFunctionBeginUser;
  fem_classes(c->g.h, kcls);
  if (x) PetscCall(VecGetArrayRead(x, &xa));
  /* the nodal values of node plane z_start + z_local (the first plane of the rank above) in grid layout, so that every
     element of this slab has all 8 values; one plane of doubles */
  PetscCall(PetscMalloc1((size_t)c->pplane, &above));
  PetscCall(fem_plane_above(c, xa, above));
  /* without the potential only the elements of the inlet and outlet layers are visited (the same sums in the same
     order: the energy of the initial guess and of the result need the flux, not the field) */
  const PetscBool layers = potential ? PETSC_FALSE : PETSC_TRUE;
  for (int64_t z = 0; z < zl; z++) {
    if (layers && c->dir == 2 && c->g.z_start + z != 0 && c->g.z_start + z != nd - 1) continue;
    for (int64_t y = 0; y < ny; y += layers && c->dir == 1 && y == 0 && ny > 1 ? ny - 1 : 1)
      for (int64_t xx = 0; xx < nx; xx += layers && c->dir == 0 && xx == 0 && nx > 1 ? nx - 1 : 1) {
        const int64_t gz = c->g.z_start + z, vox[3] = {xx, y, gz};
        const uint8_t kl = c->klab[(z + 1) * c->g.n_plane + y * nx + xx];
        double        U[8], sum = 0, ce;
        if (!kl) {
          if (potential) potential[z * c->g.n_plane + y * nx + xx] = NAN;
          continue;
        }
        ce = c->cond[kl - 1];
        for (int a = 0; a < 8; a++) {
          const int64_t crd[3] = {xx + (a & 1), y + ((a >> 1) & 1), gz + ((a >> 2) & 1)};
          if (crd[c->dir] == 0) U[a] = 1.0;
          else if (crd[c->dir] == nd) U[a] = 0.0;
          else {
            const int64_t  p = crd[2] - c->pz0 + 1;
            const PetscInt q = c->num[p * c->pplane + crd[1] * c->pn[0] + crd[0]];
            PetscAssert(q >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Node of a kept element without an unknown");
            U[a] = p <= c->nplanes ? (double)xa[q - c->first] : above[crd[1] * c->pn[0] + crd[0]];
          }
          sum += U[a];
        }
        if (potential) potential[z * c->g.n_plane + y * nx + xx] = sum / 8.0;
        for (int side = 0; side < 2; side++) {
          /* inlet: element on the first voxel layer, its nodes at local coordinate 0; outlet: last layer, coordinate 1 */
          if (vox[c->dir] != (side ? nd - 1 : 0)) continue;
          for (int a = 0; a < 8; a++) {
            double r = 0;
            if (((a >> c->dir) & 1) != side) continue;
            for (int bb = 0; bb < 8; bb++) r += kcls[(a ^ bb) & 7] * U[bb]; /* a = x + 2y + 4z: a ^ b is the class */
            fl[side] += ce * r;
          }
        }
      }
  }
  PetscCall(PetscFree(above));
  if (x) PetscCall(VecRestoreArrayRead(x, &xa));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, fl, 2, MPI_DOUBLE, MPI_SUM, c->comm));
  /* (K u)_i at a node is the flux leaving the domain there: inflow at the inlet, minus the outflow at the outlet */
  *flux_in  = fl[0];
  *flux_out = -fl[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- matrix-free Q1 operator ----
 * Every kept element has the stiffness k K with K[a][b] = kcls[a ^ b] (nodes numbered a = x + 2 y + 4 z): an XOR
 * convolution over the corners, which the 8-point Walsh-Hadamard transform H (H H = 8 I) diagonalises:
 * K u = H (lam .* (H u)) with lam = H kcls / 8. Applying an element costs two transforms (24 additions each) and 8
 * products instead of the 64 multiply-adds of the dense 8 x 8 product. The multiplication runs element plane by element
 * plane over the rank's voxel planes, with the nodal values and the sums of two node planes at a time: the element plane
 * z reads and adds to node planes z + 1 and z + 2 (numbering planes); node plane z + 1 is complete once element plane z
 * is done and goes straight into the result (0 at Dirichlet nodes and nodes without an unknown). The rank's first node
 * plane is sent to the rank below beforehand (the values of its last element plane's upper nodes), and the sums for the
 * first node plane of the rank above are sent there afterwards and added. Memory: seven node planes, instead of the
 * ~170 bytes per unknown of the SBAIJ upper triangle (or the 16 bytes per node of the box of two whole node arrays, the
 * code before: 305 -> 275 bytes per unknown at the peak of a 400^3 solve on 2 ranks, bench/RESULTS.md); the matrix is the
 * assembled one exactly (tests/mpi/test_transport_mpi.c compares both). */
typedef struct {
  SMTransportCtx *c;
  double          lam[8];
  double         *xb, *yb;             /* two node planes each, plane p at offset (p & 1) * pplane */
  double         *mine, *above, *below; /* one plane each: own first plane, the rank above's first, sums from below */
} SMFemShell;

static inline void fem_wht8(double u[8])
{
  for (int s = 1; s < 8; s <<= 1)
    for (int a = 0; a < 8; a++)
      if (!(a & s)) {
        const double p = u[a], q = u[a | s];
        u[a]     = p + q;
        u[a | s] = p - q;
      }
}

/* the values of own node plane p (1 .. nplanes) in grid layout, 0 where there is no unknown */
static inline void fem_plane_get(const SMTransportCtx *c, const PetscScalar *xa, int64_t p, double *dst)
{
  const PetscInt *num = c->num + p * c->pplane;
  for (int64_t v = 0; v < c->pplane; v++) dst[v] = num[v] >= 0 ? (double)xa[num[v] - c->first] : 0.0;
}

/* one element plane: every kept element adds K u to its 8 nodes, 4 in node plane yl and 4 in yu (distinct planes) */
static void fem_shell_plane(const uint8_t *restrict kl, const double *restrict cond, const double lam_[8], int64_t nx,
                            int64_t ny, int64_t pn0, const double *restrict xl, const double *restrict xu, double *restrict yl,
                            double *restrict yu)
{
  const int64_t off[4] = {0, 1, pn0, pn0 + 1};
  double        lam[8];
  for (int a = 0; a < 8; a++) lam[a] = lam_[a];
  for (int64_t j = 0; j < ny; j++, kl += nx)
    for (int64_t i = 0; i < nx; i++) {
      const int64_t o = j * pn0 + i;
      double        u[8], ce;
      if (!kl[i]) continue;
      ce = cond[kl[i] - 1];
      for (int a = 0; a < 4; a++) u[a] = xl[o + off[a]];
      for (int a = 0; a < 4; a++) u[a + 4] = xu[o + off[a]];
      fem_wht8(u);
      for (int a = 0; a < 8; a++) u[a] *= ce * lam[a];
      fem_wht8(u);
      for (int a = 0; a < 4; a++) yl[o + off[a]] += u[a];
      for (int a = 0; a < 4; a++) yu[o + off[a]] += u[a + 4];
    }
}

static PetscErrorCode fem_shell_mult(Mat S, Vec x, Vec y)
{
  SMFemShell        *sh;
  SMTransportCtx    *c;
  const PetscScalar *xa;
  PetscScalar       *ya;
  const double       zero = 0.0;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(S, &sh));
  c = sh->c;
  {
    const int64_t pp = c->pplane, pn0 = c->pn[0], nx = c->g.n[0], ny = c->g.n[1], zl = c->g.z_local, np = c->nplanes;
    const int     last = c->g.rank == c->g.size - 1, first = c->g.rank == 0;
    double       *xb = sh->xb, *yb = sh->yb;

    PetscCall(VecGetArrayRead(x, &xa));
    PetscCall(VecGetArray(y, &ya));
    {
      const SMGridHaloSpec spec = {MPI_DOUBLE, sizeof(double), pp, 1, PETSC_FALSE, &zero};
      fem_plane_get(c, xa, 1, sh->mine);
      PetscCall(sm_grid_halo(c->grid, &spec, sh->mine, sh->mine, NULL, sh->above));
    }
    PetscCall(PetscArraycpy(xb + pp, sh->mine, (size_t)pp)); /* plane 1 */
    PetscCall(PetscArrayzero(yb + pp, (size_t)pp));
    for (int64_t z = 0; z < zl; z++) {
      const int64_t p = z + 1; /* the element plane's lower node plane */
      double       *xl = xb + (p & 1) * pp, *xu = xb + ((p + 1) & 1) * pp, *yl = yb + (p & 1) * pp, *yu = yb + ((p + 1) & 1) * pp;
      if (p + 1 <= np) fem_plane_get(c, xa, p + 1, xu);
      else PetscCall(PetscArraycpy(xu, sh->above, (size_t)pp));
      PetscCall(PetscArrayzero(yu, (size_t)pp));
      fem_shell_plane(c->klab + (z + 1) * c->g.n_plane, c->cond, sh->lam, nx, ny, pn0, xl, xu, yl, yu);
      { /* node plane p is complete (but for the sums of the rank below on plane 1, added below) */
        const PetscInt *num = c->num + p * pp;
        for (int64_t v = 0; v < pp; v++)
          if (num[v] >= 0) ya[num[v] - c->first] = yl[v];
      }
    }
    {
      /* node plane zl + 1: the last own plane on the last rank, else the first own plane of the rank above */
      double *yt = yb + ((zl + 1) & 1) * pp;
      if (zl + 1 <= np) {
        const PetscInt *num = c->num + (zl + 1) * pp;
        for (int64_t v = 0; v < pp; v++)
          if (num[v] >= 0) ya[num[v] - c->first] = yt[v];
      }
      PetscCall(sm_grid_neighbor_exchange(c->grid, MPI_DOUBLE, 0, NULL, last ? 0 : pp, yt, first ? 0 : pp, sh->below, 0, NULL));
      if (!first) {
        const PetscInt *num = c->num + pp;
        for (int64_t v = 0; v < pp; v++)
          if (num[v] >= 0) ya[num[v] - c->first] += sh->below[v];
      }
    }
    PetscCall(VecRestoreArray(y, &ya));
    PetscCall(VecRestoreArrayRead(x, &xa));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fem_shell_destroy(void *ctx)
{
  SMFemShell *sh = (SMFemShell *)ctx;

  PetscFunctionBeginUser;
  PetscCall(PetscFree5(sh->xb, sh->yb, sh->mine, sh->above, sh->below));
  PetscCall(PetscFree(sh));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fem_matfree(SMTransportCtx *c, Mat *A, Vec *b, Vec *x)
{
  SMFemShell *sh;
  double      kcls[8];

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sh));
  sh->c = c;
  fem_classes(c->g.h, kcls);
  for (int a = 0; a < 8; a++) sh->lam[a] = kcls[a];
  fem_wht8(sh->lam);
  for (int a = 0; a < 8; a++) sh->lam[a] /= 8.0;
  PetscCall(PetscMalloc5((size_t)(2 * c->pplane), &sh->xb, (size_t)(2 * c->pplane), &sh->yb, (size_t)c->pplane, &sh->mine,
                         (size_t)c->pplane, &sh->above, (size_t)c->pplane, &sh->below));
  PetscCall(MatCreateShell(c->comm, c->nlocal, c->nlocal, (PetscInt)c->nglobal, (PetscInt)c->nglobal, sh, A));
  PetscCall(MatShellSetContextDestroy(*A, fem_shell_destroy));
  PetscCall(MatShellSetOperation(*A, MATOP_MULT, (void (*)(void))fem_shell_mult));
  PetscCall(MatShellSetOperation(*A, MATOP_MULT_TRANSPOSE, (void (*)(void))fem_shell_mult));
  PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SPD, PETSC_TRUE));
  /* right-hand side and linear initial guess, row by row as in the assembled case */
  PetscCall(MatCreateVecs(*A, x, b));
  PetscCall(fem_fill(c, kcls, NULL, *b, *x));
  PetscFunctionReturn(PETSC_SUCCESS);
}
