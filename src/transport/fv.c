/* Cell-centred finite volumes on the voxel grid (SPEC 6.2 `fv`): the convention of TauFactor, OpenImpala and PoreSpy.
 *
 * One unknown per kept voxel. The flux between face neighbours v, w along axis a is G (u_v - u_w) with the face
 * conductance G = 2 k_v k_w / (k_v + k_w) * A_a / h_a (harmonic mean of the two conductivities, A_a the face area);
 * faces to voxels outside the kept set carry nothing (no flux on the side faces and on internal boundaries). The
 * Dirichlet values sit half a voxel outside the inlet and outlet faces: a boundary voxel gets the conductance
 * 2 k_v A_d / h_d to u = 1 (inlet) or u = 0 (outlet). The flux is the sum of these boundary face fluxes. */
#include "transport_impl.h"
#include <math.h>

/* A_a / h_a of each axis */
static void fv_face_factors(const PetscReal h[3], double ga[3])
{
  ga[0] = h[1] * h[2] / h[0];
  ga[1] = h[0] * h[2] / h[1];
  ga[2] = h[0] * h[1] / h[2];
}

PetscErrorCode sm_transport_fv_number(SMTransportCtx *c)
{
  int64_t  count = 0, first = 0;
  PetscInt fill  = -1;

  PetscFunctionBeginUser;
  c->pn[0]   = c->g.n[0];
  c->pn[1]   = c->g.n[1];
  c->pplane  = c->g.n_plane;
  c->pz0     = c->g.z_start;
  c->nplanes = c->g.z_local;
  PetscCall(PetscMalloc1((size_t)((c->nplanes + 2) * c->pplane), &c->num));
  for (int64_t v = 0; v < c->g.n_local; v++) c->num[c->pplane + v] = c->klab[c->g.n_plane + v] ? (PetscInt)count++ : -1;
  PetscCallMPI(MPI_Exscan(&count, &first, 1, MPI_INT64_T, MPI_SUM, c->comm));
  if (c->g.rank == 0) first = 0;
  PetscCallMPI(MPI_Allreduce(&count, &c->nglobal, 1, MPI_INT64_T, MPI_SUM, c->comm));
  PetscCheck(c->nglobal <= PETSC_MAX_INT, c->comm, PETSC_ERR_SUP,
             "The FV system has %lld unknowns, more than this PETSc's 32-bit PetscInt can index; use a PETSc built "
             "with --with-64-bit-indices or a smaller volume",
             (long long)c->nglobal);
  c->first  = (PetscInt)first;
  c->nlocal = (PetscInt)count;
  for (int64_t v = 0; v < c->g.n_local; v++)
    if (c->num[c->pplane + v] >= 0) c->num[c->pplane + v] += c->first;
  PetscCall(sm_transport_exchange_ghosts(c, c->num, c->nplanes, c->pplane, MPIU_INT, sizeof(PetscInt), &fill));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Row of the kept voxel at (x, y) of local plane z: neighbours visited z-, y-, x-, self, x+, y+, z+, i.e. in increasing
   column order; rhs = the inlet boundary conductance (u = 1) if the voxel is on the inlet face. The kept labels and the
   row numbers share one layout (a ghost plane below and above the slab, zero / -1 outside the kept set and the volume),
   so a neighbour is an offset from the voxel and only the x and y edges of the volume need a test (a row took about 500
   instructions with a bounds-tested lookup per neighbour, 190 this way). */
static int fv_row(const SMTransportCtx *c, const double ga[3], int64_t x, int64_t y, int64_t z, PetscInt cols[7],
                  PetscScalar vals[7], double *rhs)
{
  const int64_t  nx = c->g.n[0], ny = c->g.n[1], p = (z + 1) * c->g.n_plane + y * nx + x;
  const int64_t  crd[3] = {x, y, c->g.z_start + z}, nd = c->g.n[c->dir];
  const int64_t  off[7] = {-c->g.n_plane, -nx, -1, 0, 1, nx, c->g.n_plane};
  const int      has[7] = {1, y > 0, x > 0, 1, x < nx - 1, y < ny - 1, 1}, axis[7] = {2, 1, 0, 0, 0, 1, 2};
  const uint8_t *kl   = c->klab + p;
  const double   ce   = c->cond[kl[0] - 1];
  double         diag = 0, r = 0, bd = 2.0 * ce * ga[c->dir];
  int            n = 0, self = 0;

  for (int t = 0; t < 7; t++) {
    if (t == 3) {
      self      = n;
      cols[n]   = c->num[p];
      vals[n++] = 0;
      continue;
    }
    if (!has[t] || !kl[off[t]]) continue;
    {
      const double cw = c->cond[kl[off[t]] - 1], G = 2.0 * ce * cw / (ce + cw) * ga[axis[t]];
      diag += G;
      cols[n]   = c->num[p + off[t]];
      vals[n++] = -G;
    }
  }
  if (crd[c->dir] == 0) {
    diag += bd;
    r += bd;
  }
  if (crd[c->dir] == nd - 1) diag += bd;
  vals[self] = diag;
  *rhs       = r;
  return n;
}

PetscErrorCode sm_transport_fv_assemble(SMTransportCtx *c, Mat *A, Vec *b, Vec *x)
{
  const int64_t nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir];
  double        ga[3], rhs;
  PetscInt     *dnnz, *onnz, cols[7];
  PetscScalar   vals[7], *ba, *xa;

  PetscFunctionBeginUser;
  fv_face_factors(c->g.h, ga);
  PetscCall(PetscMalloc2((size_t)c->nlocal + 1, &dnnz, (size_t)c->nlocal + 1, &onnz));
  /* entries per row: the voxel and its kept face neighbours; only a z neighbour in a ghost plane (another rank's slab)
     is an off-rank column, as the ranks own whole z-slabs */
  for (int64_t z = 0; z < c->g.z_local; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t xx = 0; xx < nx; xx++) {
        const int64_t  p  = (z + 1) * c->g.n_plane + y * nx + xx;
        const uint8_t *kl = c->klab + p;
        const PetscInt q  = c->num[p];
        if (q < 0) continue;
        dnnz[q - c->first] = 1 + (xx > 0 && kl[-1]) + (xx < nx - 1 && kl[1]) + (y > 0 && kl[-nx]) +
                             (y < ny - 1 && kl[nx]) + (z > 0 && kl[-c->g.n_plane]) +
                             (z < c->g.z_local - 1 && kl[c->g.n_plane]);
        onnz[q - c->first] = (z == 0 && kl[-c->g.n_plane]) + (z == c->g.z_local - 1 && kl[c->g.n_plane]);
      }
  /* with c->hypre_matrix CG multiplies with the same matrix BoomerAMG uses */
  PetscCall(sm_transport_create_matrix(c, dnnz, onnz, A));
  PetscCall(PetscFree2(dnnz, onnz));
  PetscCall(MatCreateVecs(*A, x, b));
  PetscCall(VecGetArray(*b, &ba));
  PetscCall(VecGetArray(*x, &xa));
  for (int64_t z = 0; z < c->g.z_local; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t xx = 0; xx < nx; xx++) {
        const int64_t  gz = c->g.z_start + z, crd[3] = {xx, y, gz};
        const PetscInt q  = c->num[(z + 1) * c->pplane + y * nx + xx];
        int            n;
        if (q < 0) continue;
        n = fv_row(c, ga, xx, y, z, cols, vals, &rhs);
        PetscCall(MatSetValues(*A, 1, &q, n, cols, vals, INSERT_VALUES));
        ba[q - c->first] = rhs;
        xa[q - c->first] = 1.0 - ((double)crd[c->dir] + 0.5) / (double)nd; /* linear profile */
      }
  PetscCall(VecRestoreArray(*b, &ba));
  PetscCall(VecRestoreArray(*x, &xa));
  PetscCall(MatAssemblyBegin(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_transport_fv_flux(SMTransportCtx *c, Vec x, double *flux_in, double *flux_out, double *potential)
{
  const int64_t      nx = c->g.n[0], ny = c->g.n[1], nd = c->g.n[c->dir];
  const PetscScalar *xa = NULL;
  double             ga[3], fl[2] = {0, 0};

  PetscFunctionBeginUser;
  fv_face_factors(c->g.h, ga);
  if (x) PetscCall(VecGetArrayRead(x, &xa));
  for (int64_t z = 0; z < c->g.z_local; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t xx = 0; xx < nx; xx++) {
        const int64_t  v = z * c->g.n_plane + y * nx + xx, crd[3] = {xx, y, c->g.z_start + z};
        const PetscInt q = c->num[c->pplane + v];
        double         u, Gb;
        if (q < 0) {
          if (potential) potential[v] = NAN;
          continue;
        }
        u  = (double)xa[q - c->first];
        Gb = 2.0 * c->cond[c->klab[c->g.n_plane + v] - 1] * ga[c->dir];
        if (potential) potential[v] = u;
        if (crd[c->dir] == 0) fl[0] += Gb * (1.0 - u);
        if (crd[c->dir] == nd - 1) fl[1] += Gb * u;
      }
  if (x) PetscCall(VecRestoreArrayRead(x, &xa));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, fl, 2, MPI_DOUBLE, MPI_SUM, c->comm));
  *flux_in  = fl[0];
  *flux_out = fl[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}
