/* The grid: global voxel counts, physical voxel size, the decomposition and every movement of data between ranks.
 *
 * Memory order is C order [z][y][x] (x fastest). Rank r owns the contiguous z planes [z_start, z_start + z_local):
 * balanced slabs, nz / size planes each and one more on the first nz % size ranks, so any rank count from 1 to nz
 * works and plane counts differ by at most one. The PETSc DMDA returned by sm_grid_get_dmda() has the same ownership.
 * FFTW-MPI may split the planes differently (its blocks of ceil(nz / size) planes can leave ranks empty); the FFT
 * object (fft.h) moves the planes between the two layouts itself, so every other kernel sees the balanced slabs.
 *
 * This module is the only place that knows how the volume is split and the only one that moves data between ranks:
 *   - the halo exchange of ghost planes (sm_grid_halo_begin / _end), any element type and width, periodic or filled;
 *   - the transpose between the z-slab layout and a y-slab layout (sm_grid_transpose), with one y split;
 *   - the exchange of records addressed to ranks (sm_grid_exchange_records), e.g. to the owners of planes;
 *   - the sorted union of the values held by the ranks (sm_grid_allgather_union), e.g. a global table of levels;
 *   - the plane-owner lookup (sm_grid_plane_owner) and the local voxel iterator with global coordinates;
 *   - the sharing of independent tasks between ranks (SMTaskPool: a rank that runs out of its own takes another's).
 * All of them except the task pool send with MPI_Isend / MPI_Irecv to the ranks that share data only, so PETSc's
 * -log_view counts their messages and bytes under the event of the kernel that called them; the task pool reads
 * other ranks' memory with MPI-3 one-sided calls (its remote takes are logged as the event SMTaskSteal). */
#ifndef STOCHMORPH_GRID_H
#define STOCHMORPH_GRID_H

#include <stochmorph/sys.h>
#include <petscdmda.h>

typedef struct _p_SMGrid *SMGrid;

/* Read-only description of the grid and of this rank's slab. */
typedef struct {
  int64_t   n[3];       /* global voxel counts along x, y, z */
  PetscReal h[3];       /* voxel size along x, y, z [um] */
  int64_t   z_start;    /* first z plane owned by this rank */
  int64_t   z_local;    /* number of z planes owned by this rank (>= 1) */
  int64_t   n_plane;    /* n[0] * n[1] */
  int64_t   n_local;    /* z_local * n_plane: voxels owned by this rank */
  int64_t   n_total;    /* n[0] * n[1] * n[2] */
  PetscMPIInt rank, size;
} SMGridInfo;

/* Create a grid of n = {nx, ny, nz} voxels of size h = {hx, hy, hz} um on comm. Collective.
   Refuses non-positive sizes and more ranks than z planes (the error names the limit). */
PetscErrorCode sm_grid_create(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], SMGrid *grid);

/* Create a grid from -grid_size NX,NY,NZ and -voxel_size H | HX,HY,HZ (defaults given). Collective. */
PetscErrorCode sm_grid_create_from_options(MPI_Comm comm, const int64_t n_default[3], PetscReal h_default, SMGrid *grid);

/* Destroy; accepts NULL and nulls the handle. Collective. */
PetscErrorCode sm_grid_destroy(SMGrid *grid);

PetscErrorCode sm_grid_get_info(SMGrid grid, SMGridInfo *info);
MPI_Comm       sm_grid_comm(SMGrid grid);

/* z-slab of every rank: starts[r], counts[r] (arrays of length size, owned by the grid). For the grid module and for
   tests; kernels use the calls below instead of reading the table. */
PetscErrorCode sm_grid_get_slabs(SMGrid grid, const int64_t **starts, const int64_t **counts);

/* The rank owning global z plane z (0 <= z < nz). Not collective. */
PetscErrorCode sm_grid_plane_owner(SMGrid grid, int64_t z, PetscMPIInt *owner);

/* Local voxel iterator: visits this rank's voxels in memory order with their global coordinates.
     SMGridIter it;
     PetscCall(sm_grid_iter_begin(grid, &it));
     for (; sm_grid_iter_valid(&it); sm_grid_iter_next(&it)) a[it.v] = f(it.i[0], ...);
   it.v is the index in the slab array, it.i[] = {x, y, z} the global coordinates. */
typedef struct {
  int64_t i[3];  /* global x, y, z */
  int64_t v;     /* local index in the [z_local][ny][nx] slab */
  int64_t n[2];  /* nx, ny */
  int64_t z_end; /* z_start + z_local */
} SMGridIter;
PetscErrorCode   sm_grid_iter_begin(SMGrid grid, SMGridIter *it);
static inline PetscBool sm_grid_iter_valid(const SMGridIter *it) { return it->i[2] < it->z_end ? PETSC_TRUE : PETSC_FALSE; }
static inline void      sm_grid_iter_next(SMGridIter *it)
{
  it->v++;
  if (++it->i[0] < it->n[0]) return;
  it->i[0] = 0;
  if (++it->i[1] < it->n[1]) return;
  it->i[1] = 0;
  it->i[2]++;
}

/* Halo (ghost-plane) exchange. A plane holds `plane` elements of MPI type `type` (esize bytes each); width planes are
   exchanged on each side (width <= the smallest slab, checked). The caller passes its first `width` own planes (first,
   sent to the rank below, where they are the ghosts above) and its last `width` own planes (last, sent to the rank
   above), and receives the ghost planes below (the width planes under its first one) and above. below or above NULL:
   that side is not wanted (the same on every rank). periodic: the first and last ranks exchange with each other (also
   on one rank); otherwise the ghosts outside the box are set to *fill, or left untouched when fill is NULL.
   begin posts the messages, end completes them: work that does not read the ghosts or write first/last can run in
   between. The element buffers must stay valid until end. Collective. */
typedef struct {
  MPI_Datatype type;     /* element type */
  size_t       esize;    /* bytes per element */
  int64_t      plane;    /* elements per plane */
  int          width;    /* planes per side */
  PetscBool    periodic; /* wrap around in z */
  const void  *fill;     /* one element: value of the ghosts outside a non-periodic box, or NULL */
} SMGridHaloSpec;
typedef struct _p_SMGridHalo *SMGridHalo;
PetscErrorCode sm_grid_halo_begin(SMGrid grid, const SMGridHaloSpec *spec, const void *first, const void *last, void *below,
                                  void *above, SMGridHalo *halo);
PetscErrorCode sm_grid_halo_end(SMGridHalo *halo);
/* begin + end. */
PetscErrorCode sm_grid_halo(SMGrid grid, const SMGridHaloSpec *spec, const void *first, const void *last, void *below,
                            void *above);

/* Variable-size exchange with the z neighbours (not periodic): send_down (n_down elements of type) goes to the rank
   below, send_up (n_up) to the rank above; recv_below (n_below elements) comes from the rank below, recv_above
   (n_above) from the rank above. The counts must match pairwise (my n_up is the n_below of the rank above; a count of
   0 on both sides means no message). For data whose size the two sides agree on beforehand, e.g. the labels of the
   components that touch a slab face. Collective over neighbours. */
PetscErrorCode sm_grid_neighbor_exchange(SMGrid grid, MPI_Datatype type, int64_t n_down, const void *send_down, int64_t n_up,
                                         const void *send_up, int64_t n_below, void *recv_below, int64_t n_above,
                                         void *recv_above);

/* The y split of the y-slab layout: this rank holds rows [y_start, y_start + y_local) of every z plane (balanced like
   the z slabs; ranks beyond ny hold none). */
PetscErrorCode sm_grid_get_yslab(SMGrid grid, int64_t *y_start, int64_t *y_local);

typedef enum { SM_GRID_Z_TO_Y, SM_GRID_Y_TO_Z } SMGridTransposeDir;
/* Transpose between the z-slab array zslab [z_local][ny][nx] and the y-slab array yslab [y_local][nz][nx] (elements of
   MPI type `type`, esize bytes): Z_TO_Y writes yslab from zslab, Y_TO_Z writes zslab from yslab. Only ranks that
   share voxels exchange, with derived datatypes on the arrays themselves (nothing is packed). Collective. */
PetscErrorCode sm_grid_transpose(SMGrid grid, MPI_Datatype type, size_t esize, void *zslab, void *yslab,
                                 SMGridTransposeDir dir);

/* The grid {nx, nz, ny} of voxel sizes {hx, hz, hy}, whose z-slabs are exactly the y-slabs of grid (arrays in the
   y-slab layout are slab arrays of it). NULL when grid has one rank or ny < size (a rank would hold no row). Collective. */
PetscErrorCode sm_grid_create_transposed(SMGrid grid, SMGrid *tgrid);

/* Send records to ranks: send holds count[r] records for rank r, grouped by rank in rank order (count has size
   entries, the own block included). On return *recv (PetscMalloc'd, free with PetscFree) holds the *nrecv records
   received, grouped by source rank in rank order. record: an MPI type of rsize bytes. Collective. */
PetscErrorCode sm_grid_exchange_records(SMGrid grid, MPI_Datatype record, size_t rsize, const void *send, const int64_t *count,
                                        void **recv, int64_t *nrecv);
/* The same, also returning rcount[r] (size entries, caller's array): the records received from rank r, so that a
   reply can be sent back to each source with sm_grid_exchange_records(..., recv, rcount, ...). */
PetscErrorCode sm_grid_exchange_records_counts(SMGrid grid, MPI_Datatype record, size_t rsize, const void *send,
                                               const int64_t *count, void **recv, int64_t *nrecv, int64_t *rcount);

/* The sorted union of the values held by the ranks: mine[0 .. n-1] on this rank, in any order and with repeats. On
   return every rank has the same table *all (PetscMalloc'd, free with PetscFree) of the *nall distinct values in
   increasing order. NaN is not allowed. At most 2^31 - 1 values may be held in all (a clear error beyond). Collective. */
PetscErrorCode sm_grid_allgather_union(SMGrid grid, const double *mine, int64_t n, double **all, int64_t *nall);

/* The DMDA with the same z-slabs (dof 1, stencil width 1, box stencil, non-periodic), created on first
   use and owned by the grid. Collective on first call. Fails clearly when the grid exceeds 32-bit PetscInt. */
PetscErrorCode sm_grid_get_dmda(SMGrid grid, DM *da);

/* The first z plane of the next rank's slab (the plane above this rank's last one) into above (n_plane bytes), given
   this rank's slab [z_local][ny][nx]. periodic: the last rank receives plane 0; otherwise its above is set to fill.
   One plane of extra memory, no copy of the slab. Collective. */
PetscErrorCode sm_grid_get_plane_above_u8(SMGrid grid, const uint8_t *slab, PetscBool periodic, uint8_t fill, uint8_t *above);

/* Move a [z][y][x] uint8 slab array of grid src into grid dst (distributed differently), embedding it at the
   origin of the (at least as large) dst grid and filling the rest with zeros. Collective. Used for padded FFTs. */
PetscErrorCode sm_grid_redistribute_u8(SMGrid src, const uint8_t *in, SMGrid dst, uint8_t *out);

/* Task pool: dynamic sharing of independent tasks between the ranks (load balance when a static split of the work
   is only a rough estimate of its cost, or when the ranks do not run at the same speed).

   Each rank registers its own ordered list of tasks, each with the caller's name for it (id), an estimated cost and
   the byte range of its data in the rank's data buffer. sm_task_pool_next() hands out tasks one at a time: the rank's
   own tasks first, in its order; when those are gone, the next task of the rank with the most remaining cost, whose
   data is copied in. Every task is handed out exactly once, on exactly one rank; which rank runs which task depends
   on timing, so results must not depend on it (e.g. number them by id and reduce over the ranks).

   Algorithm (work sharing by atomic counters, after the work stealing of R. D. Blumofe and C. E. Leiserson,
   "Scheduling multithreaded computations by work stealing", J. ACM 46 (1999) 720-748, with a thief's choice of
   victim by remaining cost instead of at random). Every rank exposes one MPI-3 window (MPI_Win_allocate, locked with
   MPI_Win_lock_all for the pool's life): a counter, its tasks' records (id, offset, bytes, and the cost of this task
   and of all after it in the list) and its data. Owner and thieves take the next task of a list with
   MPI_Fetch_and_op(+1) on its counter (the value returned is the task taken; a value at or beyond the list's length
   means the list is empty), so a task is taken once although owner and thieves race. A thief keeps for every rank an
   upper bound of its remaining cost (at first the list's total, from one MPI_Allgather; counters only grow, so an
   old reading stays an upper bound). To choose a victim it takes the rank with the largest bound, refreshes it (the
   counter, then the remaining cost of that task's record) and repeats until the largest bound is a fresh one: the
   rank with the most remaining cost, found with a few reads instead of one per rank. It then takes that rank's next
   task and MPI_Get's its record and data. Memory: O(size) numbers per rank besides the rank's own data, no copy of
   other ranks' tasks. On one rank there is no window: the list is handed out in order.
   Progress: the pool never waits for another rank, but MPI implementations without hardware atomics or shared
   memory may complete a remote access only when the target calls MPI; the owner calls sm_task_pool_next() between
   its tasks, so a thief waits at most for one task of its victim. */
typedef struct {
  int64_t id;     /* the caller's name of the task (>= 0), returned by sm_task_pool_next */
  double  cost;   /* estimated cost (>= 0), in any unit common to all ranks */
  int64_t offset; /* first byte of the task's data in the rank's data buffer */
  int64_t bytes;  /* bytes of data (>= 0) */
} SMTask;
typedef struct _p_SMTaskPool *SMTaskPool;

/* Create a pool on comm from this rank's n tasks (handed out in the order given; decreasing cost is best, so that
   the small tasks are left to share at the end) and its data buffer *data of data_bytes bytes, PetscMalloc'd: the
   pool takes it over (frees it, or keeps it until sm_task_pool_destroy) and sets *data to NULL. Collective. */
PetscErrorCode sm_task_pool_create(MPI_Comm comm, int64_t n, const SMTask tasks[], void **data, size_t data_bytes,
                                   SMTaskPool *pool);

/* The next task for this rank: its id (*id = -1 when no rank has any task left), its data (bytes bytes, valid until
   the next call; read only) and the rank whose list it came from (from != this rank: it was taken from another rank).
   Not collective: ranks call it as they become free. */
PetscErrorCode sm_task_pool_next(SMTaskPool pool, int64_t *id, const void **data, int64_t *bytes, PetscMPIInt *from);

/* Destroy; accepts NULL and nulls the handle. Collective (frees the window): call it after *id = -1. */
PetscErrorCode sm_task_pool_destroy(SMTaskPool *pool);

#endif
