/* Every movement of data between ranks: halo exchange, z <-> y transpose, records addressed to ranks, and the plane
 * redistribution between two z partitions (balanced slabs <-> FFTW's layout, grid <-> padded grid).
 *
 * All of them are point-to-point (MPI_Isend / MPI_Irecv) between the ranks that actually share data, so the cost on
 * P ranks is what the data needs: a halo is two messages of width planes per rank, a plane redistribution between
 * two balanced-like partitions two or three messages per rank, and only the transpose talks to every rank (as any
 * slab <-> pencil transpose must). Strided data goes through MPI derived datatypes built on the arrays themselves
 * (absolute addresses with MPI_BOTTOM, so no int byte displacement can overflow and nothing is packed here), the own
 * share is copied locally. PETSc's logging wraps MPI_Isend / MPI_Irecv, so -log_view reports the messages and bytes
 * of each kernel under its event (Mess, AvgLen columns). */
#include "grid_impl.h"
#include <limits.h>
#include <string.h>

enum { SM_TAG_HALO_UP = 101, SM_TAG_HALO_DOWN = 102, SM_TAG_TRANSPOSE = 201, SM_TAG_RECORDS = 301, SM_TAG_PLANES = 401 };

struct _p_SMGridHalo {
  MPI_Request  req[4];
  int          nreq;
  MPI_Datatype ptype;
};

PetscErrorCode sm_grid_halo_begin(SMGrid g, const SMGridHaloSpec *spec, const void *first, const void *last, void *below,
                                  void *above, SMGridHalo *halo)
{
  SMGridHalo  h;
  int         cnt = 0;
  PetscMPIInt up = g->rank + 1, down = g->rank - 1;
  int64_t     minslab = g->counts[g->size - 1]; /* balanced: the last slab is a smallest one */

  PetscFunctionBeginUser;
  PetscCheck(spec->width >= 1 && spec->width <= minslab, g->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "Halo of %d planes on slabs of at least %lld planes: the width must be between 1 and the smallest slab",
             spec->width, (long long)minslab);
  PetscCall(PetscNew(&h));
  PetscCall(sm_int64_to_int(spec->plane, &cnt));
  PetscCallMPI(MPI_Type_contiguous(cnt, spec->type, &h->ptype));
  PetscCallMPI(MPI_Type_commit(&h->ptype));
  if (spec->periodic) {
    up   = up % g->size;
    down = (down + g->size) % g->size;
  } else {
    if (up >= g->size) up = MPI_PROC_NULL;
    if (down < 0) down = MPI_PROC_NULL;
  }
  if (g->size == 1 && spec->periodic) { /* one periodic rank: its own planes, no message */
    if (above) memcpy(above, first, (size_t)(spec->width * spec->plane) * spec->esize);
    if (below) memcpy(below, last, (size_t)(spec->width * spec->plane) * spec->esize);
    *halo = h;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* receives first; fills of the box faces (non-periodic) */
  if (above) {
    if (up != MPI_PROC_NULL)
      PetscCallMPI(MPI_Irecv(above, spec->width, h->ptype, up, SM_TAG_HALO_DOWN, g->comm, &h->req[h->nreq++]));
    else if (spec->fill)
      for (int64_t i = 0; i < spec->width * spec->plane; i++) memcpy((char *)above + i * spec->esize, spec->fill, spec->esize);
  }
  if (below) {
    if (down != MPI_PROC_NULL)
      PetscCallMPI(MPI_Irecv(below, spec->width, h->ptype, down, SM_TAG_HALO_UP, g->comm, &h->req[h->nreq++]));
    else if (spec->fill)
      for (int64_t i = 0; i < spec->width * spec->plane; i++) memcpy((char *)below + i * spec->esize, spec->fill, spec->esize);
  }
  /* the sides are wanted alike on every rank: the rank below wants my first planes iff I want my above ones */
  if (above && down != MPI_PROC_NULL)
    PetscCallMPI(MPI_Isend((void *)first, spec->width, h->ptype, down, SM_TAG_HALO_DOWN, g->comm, &h->req[h->nreq++]));
  if (below && up != MPI_PROC_NULL)
    PetscCallMPI(MPI_Isend((void *)last, spec->width, h->ptype, up, SM_TAG_HALO_UP, g->comm, &h->req[h->nreq++]));
  *halo = h;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_halo_end(SMGridHalo *halo)
{
  PetscFunctionBeginUser;
  if (!halo || !*halo) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*halo)->nreq) PetscCallMPI(MPI_Waitall((*halo)->nreq, (*halo)->req, MPI_STATUSES_IGNORE));
  PetscCallMPI(MPI_Type_free(&(*halo)->ptype));
  PetscCall(PetscFree(*halo));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_halo(SMGrid g, const SMGridHaloSpec *spec, const void *first, const void *last, void *below, void *above)
{
  SMGridHalo h;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_halo_begin(g, spec, first, last, below, above, &h));
  PetscCall(sm_grid_halo_end(&h));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_neighbor_exchange(SMGrid g, MPI_Datatype type, int64_t n_down, const void *send_down, int64_t n_up,
                                         const void *send_up, int64_t n_below, void *recv_below, int64_t n_above,
                                         void *recv_above)
{
  MPI_Request req[4];
  int         nreq = 0, c = 0;

  PetscFunctionBeginUser;
  if (g->rank > 0 && n_below > 0) {
    PetscCall(sm_int64_to_int(n_below, &c));
    PetscCallMPI(MPI_Irecv(recv_below, c, type, g->rank - 1, SM_TAG_HALO_UP, g->comm, &req[nreq++]));
  }
  if (g->rank + 1 < g->size && n_above > 0) {
    PetscCall(sm_int64_to_int(n_above, &c));
    PetscCallMPI(MPI_Irecv(recv_above, c, type, g->rank + 1, SM_TAG_HALO_DOWN, g->comm, &req[nreq++]));
  }
  if (g->rank > 0 && n_down > 0) {
    PetscCall(sm_int64_to_int(n_down, &c));
    PetscCallMPI(MPI_Isend((void *)send_down, c, type, g->rank - 1, SM_TAG_HALO_DOWN, g->comm, &req[nreq++]));
  }
  if (g->rank + 1 < g->size && n_up > 0) {
    PetscCall(sm_int64_to_int(n_up, &c));
    PetscCallMPI(MPI_Isend((void *)send_up, c, type, g->rank + 1, SM_TAG_HALO_UP, g->comm, &req[nreq++]));
  }
  if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_get_yslab(SMGrid g, int64_t *y_start, int64_t *y_local)
{
  PetscFunctionBeginUser;
  if (y_start) *y_start = g->ystarts[g->rank];
  if (y_local) *y_local = g->ycounts[g->rank];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A datatype (absolute addresses, for MPI_BOTTOM) for c2 blocks s2 elements apart, each of c1 runs of nx elements s1
   apart, starting at start. */
static PetscErrorCode sm_grid_block_type(const void *start, MPI_Datatype etype, size_t esize, int64_t c2, int64_t s2,
                                         int64_t c1, int64_t s1, int64_t nx, MPI_Datatype *type)
{
  MPI_Datatype inner, outer;
  MPI_Aint     addr;
  int          ic2 = 0, ic1 = 0, inx = 0, one = 1;

  PetscFunctionBeginUser;
  PetscCall(sm_int64_to_int(c2, &ic2));
  PetscCall(sm_int64_to_int(c1, &ic1));
  PetscCall(sm_int64_to_int(nx, &inx));
  PetscCallMPI(MPI_Type_create_hvector(ic1, inx, (MPI_Aint)s1 * (MPI_Aint)esize, etype, &inner));
  PetscCallMPI(MPI_Type_create_hvector(ic2, 1, (MPI_Aint)s2 * (MPI_Aint)esize, inner, &outer));
  PetscCallMPI(MPI_Get_address(start, &addr));
  PetscCallMPI(MPI_Type_create_struct(1, &one, &addr, &outer, type));
  PetscCallMPI(MPI_Type_commit(type));
  PetscCallMPI(MPI_Type_free(&outer));
  PetscCallMPI(MPI_Type_free(&inner));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_transpose(SMGrid g, MPI_Datatype etype, size_t esize, void *zslab, void *yslab, SMGridTransposeDir dir)
{
  const int64_t nx = g->n[0], ny = g->n[1], nz = g->n[2], me = g->rank;
  const int64_t y0 = g->ystarts[me], yl = g->ycounts[me];
  char         *a = (char *)zslab, *b = (char *)yslab;
  MPI_Request  *req;
  MPI_Datatype *types;
  int           nreq = 0;

  PetscFunctionBeginUser;
  PetscCheck(dir == SM_GRID_Z_TO_Y || dir == SM_GRID_Y_TO_Z, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "Unknown transpose direction");
  PetscCall(PetscMalloc2(2 * (size_t)g->size, &req, 2 * (size_t)g->size, &types));
  for (PetscMPIInt r = 0; r < g->size; r++) {
    MPI_Datatype ta, tb;
    if (r == me) continue;
    /* zslab side: my z planes, rows of r (order z, y, x); yslab side: planes of r, my rows (the same order) */
    if (g->ycounts[r] > 0) {
      PetscCall(sm_grid_block_type(a + g->ystarts[r] * nx * (int64_t)esize, etype, esize, g->z_local, ny * nx,
                                   g->ycounts[r], nx, nx, &ta));
      types[nreq] = ta;
      if (dir == SM_GRID_Z_TO_Y) PetscCallMPI(MPI_Isend(MPI_BOTTOM, 1, ta, r, SM_TAG_TRANSPOSE, g->comm, &req[nreq]));
      else PetscCallMPI(MPI_Irecv(MPI_BOTTOM, 1, ta, r, SM_TAG_TRANSPOSE, g->comm, &req[nreq]));
      nreq++;
    }
    if (yl > 0) {
      PetscCall(sm_grid_block_type(b + g->starts[r] * nx * (int64_t)esize, etype, esize, g->counts[r], nx, yl, nz * nx,
                                   nx, &tb));
      types[nreq] = tb;
      if (dir == SM_GRID_Z_TO_Y) PetscCallMPI(MPI_Irecv(MPI_BOTTOM, 1, tb, r, SM_TAG_TRANSPOSE, g->comm, &req[nreq]));
      else PetscCallMPI(MPI_Isend(MPI_BOTTOM, 1, tb, r, SM_TAG_TRANSPOSE, g->comm, &req[nreq]));
      nreq++;
    }
  }
  /* the own block: my planes, my rows */
  for (int64_t z = 0; z < g->z_local; z++)
    for (int64_t y = 0; y < yl; y++) {
      char *za = a + ((z * ny + y0 + y) * nx) * (int64_t)esize, *yb = b + ((y * nz + g->z_start + z) * nx) * (int64_t)esize;
      if (dir == SM_GRID_Z_TO_Y) memcpy(yb, za, (size_t)nx * esize);
      else memcpy(za, yb, (size_t)nx * esize);
    }
  if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
  for (int i = 0; i < nreq; i++) PetscCallMPI(MPI_Type_free(&types[i]));
  PetscCall(PetscFree2(req, types));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_create_transposed(SMGrid g, SMGrid *tgrid)
{
  PetscFunctionBeginUser;
  *tgrid = NULL;
  if (g->size == 1 || g->n[1] < g->size) PetscFunctionReturn(PETSC_SUCCESS);
  {
    const int64_t   n[3] = {g->n[0], g->n[2], g->n[1]};
    const PetscReal h[3] = {g->h[0], g->h[2], g->h[1]};
    PetscCall(sm_grid_create(g->comm, n, h, tgrid));
  }
  /* both splits are the balanced one of ny over the same ranks */
  PetscAssert((*tgrid)->z_start == g->ystarts[g->rank] && (*tgrid)->z_local == g->ycounts[g->rank], g->comm, PETSC_ERR_PLIB,
              "The transposed grid's slabs differ from the y-slabs");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_exchange_records(SMGrid g, MPI_Datatype record, size_t rsize, const void *send, const int64_t *count,
                                        void **recv, int64_t *nrecv)
{
  PetscFunctionBeginUser;
  PetscCall(sm_grid_exchange_records_counts(g, record, rsize, send, count, recv, nrecv, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_exchange_records_counts(SMGrid g, MPI_Datatype record, size_t rsize, const void *send,
                                               const int64_t *count, void **recv, int64_t *nrecv, int64_t *rcount_out)
{
  int64_t     *rcount, *sdispl, *rdispl;
  MPI_Request *req;
  int          nreq = 0;
  char        *rbuf;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(g->size, &rcount, (size_t)g->size + 1, &sdispl, (size_t)g->size + 1, &rdispl));
  PetscCall(PetscMalloc1(2 * (size_t)g->size, &req));
  /* one int64 per rank pair: the counts (a dense exchange of P numbers, not of data) */
  PetscCallMPI(MPI_Alltoall(count, 1, MPI_INT64_T, rcount, 1, MPI_INT64_T, g->comm));
  sdispl[0] = rdispl[0] = 0;
  for (int r = 0; r < g->size; r++) {
    sdispl[r + 1] = sdispl[r] + count[r];
    rdispl[r + 1] = rdispl[r] + rcount[r];
  }
  PetscCall(PetscMalloc((size_t)rdispl[g->size] * rsize + 1, &rbuf));
  for (PetscMPIInt r = 0; r < g->size; r++) {
    int c = 0;
    if (r == g->rank) continue;
    if (rcount[r]) {
      PetscCall(sm_int64_to_int(rcount[r], &c));
      PetscCallMPI(MPI_Irecv(rbuf + rdispl[r] * (int64_t)rsize, c, record, r, SM_TAG_RECORDS, g->comm, &req[nreq++]));
    }
    if (count[r]) {
      PetscCall(sm_int64_to_int(count[r], &c));
      PetscCallMPI(MPI_Isend((const char *)send + sdispl[r] * (int64_t)rsize, c, record, r, SM_TAG_RECORDS, g->comm, &req[nreq++]));
    }
  }
  if (count[g->rank])
    memcpy(rbuf + rdispl[g->rank] * (int64_t)rsize, (const char *)send + sdispl[g->rank] * (int64_t)rsize,
           (size_t)count[g->rank] * rsize);
  if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
  *recv  = rbuf;
  *nrecv = rdispl[g->size];
  if (rcount_out) PetscCall(PetscArraycpy(rcount_out, rcount, g->size));
  PetscCall(PetscFree(req));
  PetscCall(PetscFree3(rcount, sdispl, rdispl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_grid_double_compare(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

PetscErrorCode sm_grid_allgather_union(SMGrid g, const double *mine, int64_t n, double **all, int64_t *nall)
{
  PetscMPIInt *counts, *displs, nmine;
  int64_t      total = 0, m = 0;
  double      *v;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0 && n <= INT_MAX, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "A rank holds %lld values, more than 2^31 - 1",
             (long long)n);
  nmine = (PetscMPIInt)n;
  PetscCall(PetscMalloc2(g->size, &counts, (size_t)g->size + 1, &displs));
  PetscCallMPI(MPI_Allgather(&nmine, 1, MPI_INT, counts, 1, MPI_INT, g->comm));
  for (PetscMPIInt r = 0; r < g->size; r++) total += counts[r];
  if (total > INT_MAX) {
    PetscCall(PetscFree2(counts, displs));
    SETERRQ(g->comm, PETSC_ERR_SUP, "The ranks hold %lld values in all, more than 2^31 - 1", (long long)total);
  }
  displs[0] = 0;
  for (PetscMPIInt r = 0; r < g->size; r++) displs[r + 1] = displs[r] + counts[r];
  PetscCall(PetscMalloc1((size_t)PetscMax(total, 1), &v));
  PetscCallMPI(MPI_Allgatherv(mine, nmine, MPI_DOUBLE, v, counts, displs, MPI_DOUBLE, g->comm));
  PetscCall(PetscFree2(counts, displs));
  qsort(v, (size_t)total, sizeof(double), sm_grid_double_compare);
  for (int64_t i = 0; i < total; i++)
    if (!m || v[i] != v[m - 1]) v[m++] = v[i];
  *all  = v;
  *nall = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_grid_move_planes(SMGrid g, MPI_Datatype plane, size_t plane_bytes, const int64_t *from_start,
                                   const int64_t *from_count, const void *in, const int64_t *to_start,
                                   const int64_t *to_count, void *out)
{
  const int     me = g->rank;
  const int64_t f0 = from_start[me], f1 = f0 + from_count[me], t0 = to_start[me], t1 = t0 + to_count[me];
  MPI_Request  *req;
  int           nreq = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(2 * (size_t)g->size, &req));
  for (PetscMPIInt r = 0; r < g->size; r++) {
    /* my planes that r receives, and r's planes that I receive */
    const int64_t s0 = PetscMax(f0, to_start[r]), s1 = PetscMin(f1, to_start[r] + to_count[r]);
    const int64_t q0 = PetscMax(t0, from_start[r]), q1 = PetscMin(t1, from_start[r] + from_count[r]);
    int           c  = 0;
    if (r == me) {
      if (s1 > s0) memcpy((char *)out + (s0 - t0) * (int64_t)plane_bytes, (const char *)in + (s0 - f0) * (int64_t)plane_bytes,
                          (size_t)(s1 - s0) * plane_bytes);
      continue;
    }
    if (q1 > q0) {
      PetscCall(sm_int64_to_int(q1 - q0, &c));
      PetscCallMPI(MPI_Irecv((char *)out + (q0 - t0) * (int64_t)plane_bytes, c, plane, r, SM_TAG_PLANES, g->comm, &req[nreq++]));
    }
    if (s1 > s0) {
      PetscCall(sm_int64_to_int(s1 - s0, &c));
      PetscCallMPI(MPI_Isend((const char *)in + (s0 - f0) * (int64_t)plane_bytes, c, plane, r, SM_TAG_PLANES, g->comm,
                             &req[nreq++]));
    }
  }
  if (nreq) PetscCallMPI(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
  PetscCall(PetscFree(req));
  PetscFunctionReturn(PETSC_SUCCESS);
}
