/* The task pool (grid.h): work sharing between ranks by atomic counters in MPI-3 windows.
 *
 * Window of rank r (disp_unit 1): [counter: int64][n records: SMTaskRecord][data: data_bytes]. The counter is only
 * touched by MPI_Fetch_and_op (owner included), the records and the data are written before the window is opened
 * (MPI_Win_lock_all, MPI_Win_sync, MPI_Barrier) and only read afterwards. */
#include "grid_impl.h"
#include <stochmorph/log.h>
#include <string.h>

/* One task as another rank reads it: rest is the cost of this task and of all after it in the owner's list. */
typedef struct {
  int64_t id, offset, bytes;
  double  rest;
} SMTaskRecord;

struct _p_SMTaskPool {
  MPI_Comm     comm;
  PetscMPIInt  rank, size;
  int64_t      n;        /* own tasks */
  SMTask      *tasks;    /* own tasks, in order */
  char        *data;     /* own data (the window's data part; on one rank the caller's buffer) */
  int64_t      next;     /* one rank: the next own task */
  PetscBool    own_done; /* the own list is empty */
  MPI_Win      win;      /* MPI_WIN_NULL on one rank */
  int64_t     *ntasks;   /* [size] tasks of each rank */
  double      *rest;     /* [size] upper bound of each rank's remaining cost */
  PetscBool   *empty;    /* [size] the rank's list is known to be empty */
  PetscBool   *fresh;    /* [size] rest[] was read during this call of next */
  char        *buf;      /* data of the last task taken from another rank */
  size_t       nbuf;
};

static MPI_Aint sm_task_header(int64_t n) { return (MPI_Aint)(sizeof(int64_t) + (size_t)n * sizeof(SMTaskRecord)); }

PetscErrorCode sm_task_pool_create(MPI_Comm comm, int64_t n, const SMTask tasks[], void **data, size_t data_bytes,
                                   SMTaskPool *pool)
{
  SMTaskPool p;
  double     total = 0;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Negative task count");
  PetscCall(sm_log_register()); /* SMTaskSteal, also in programs that log nothing else */
  PetscCall(PetscNew(&p));
  p->comm = comm;
  p->win  = MPI_WIN_NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &p->rank));
  PetscCallMPI(MPI_Comm_size(comm, &p->size));
  p->n = n;
  PetscCall(PetscMalloc1(PetscMax(n, 1), &p->tasks));
  for (int64_t i = 0; i < n; i++) {
    PetscCheck(tasks[i].id >= 0 && tasks[i].cost >= 0 && tasks[i].bytes >= 0 && tasks[i].offset >= 0 &&
                   (size_t)(tasks[i].offset + tasks[i].bytes) <= data_bytes,
               PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "Task %lld: id, cost and bytes must be >= 0 and its data inside the buffer", (long long)i);
    p->tasks[i] = tasks[i];
    total += tasks[i].cost;
  }
  if (p->size == 1) {
    p->data = (char *)*data; /* kept until destroy */
    *data   = NULL;
    *pool   = p;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  {
    const MPI_Aint head = sm_task_header(n);
    char          *base;
    SMTaskRecord  *rec;
    double         rest = total;
    PetscCallMPI(MPI_Win_allocate(head + (MPI_Aint)data_bytes, 1, MPI_INFO_NULL, comm, &base, &p->win));
    *(int64_t *)base = 0;
    rec              = (SMTaskRecord *)(base + sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
      rec[i] = (SMTaskRecord){tasks[i].id, tasks[i].offset, tasks[i].bytes, rest};
      rest -= tasks[i].cost;
    }
    p->data = base + head;
    if (data_bytes) PetscCall(PetscMemcpy(p->data, *data, data_bytes));
    PetscCall(PetscFree(*data));
  }
  PetscCall(PetscMalloc4(p->size, &p->ntasks, p->size, &p->rest, p->size, &p->empty, p->size, &p->fresh));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT64_T, p->ntasks, 1, MPI_INT64_T, comm));
  PetscCallMPI(MPI_Allgather(&total, 1, MPI_DOUBLE, p->rest, 1, MPI_DOUBLE, comm));
  for (PetscMPIInt r = 0; r < p->size; r++) p->empty[r] = p->ntasks[r] == 0 ? PETSC_TRUE : PETSC_FALSE;
  /* the records and data written above become visible to the others' MPI_Get */
  PetscCallMPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, p->win));
  PetscCallMPI(MPI_Win_sync(p->win));
  PetscCallMPI(MPI_Barrier(comm));
  *pool = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Take the next task of rank r's list: *c its index (>= ntasks[r]: the list is empty). */
static PetscErrorCode sm_task_take(SMTaskPool p, PetscMPIInt r, MPI_Op op, int64_t *c)
{
  const int64_t one = 1;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Fetch_and_op(&one, c, MPI_INT64_T, r, 0, op, p->win));
  PetscCallMPI(MPI_Win_flush(r, p->win));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_task_record(SMTaskPool p, PetscMPIInt r, int64_t c, SMTaskRecord *rec)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Get(rec, (int)sizeof(*rec), MPI_BYTE, r, sm_task_header(c), (int)sizeof(*rec), MPI_BYTE, p->win));
  PetscCallMPI(MPI_Win_flush(r, p->win));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_task_pool_next(SMTaskPool p, int64_t *id, const void **data, int64_t *bytes, PetscMPIInt *from)
{
  int64_t c;

  PetscFunctionBeginUser;
  *id    = -1;
  *data  = NULL;
  *bytes = 0;
  *from  = p->rank;
  if (!p->own_done) {
    if (p->size == 1) c = p->next++;
    else PetscCall(sm_task_take(p, p->rank, MPI_SUM, &c));
    if (c < p->n) {
      *id    = p->tasks[c].id;
      *data  = p->data + p->tasks[c].offset;
      *bytes = p->tasks[c].bytes;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    p->own_done = PETSC_TRUE;
    if (p->size > 1) {
      p->empty[p->rank] = PETSC_TRUE;
      p->rest[p->rank]  = 0;
    }
  }
  if (p->size == 1) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogEventBegin(SM_EVENT_TaskSteal, 0, 0, 0, 0));
  for (PetscMPIInt r = 0; r < p->size; r++) p->fresh[r] = PETSC_FALSE;
  for (;;) {
    PetscMPIInt  v = -1;
    SMTaskRecord rec;
    for (PetscMPIInt r = 0; r < p->size; r++)
      if (!p->empty[r] && (v < 0 || p->rest[r] > p->rest[v])) v = r;
    if (v < 0) break; /* every list is empty */
    if (!p->fresh[v]) {
      /* an old bound: read the counter and the remaining cost from there on, then choose again */
      PetscCall(sm_task_take(p, v, MPI_NO_OP, &c));
      if (c >= p->ntasks[v]) {
        p->empty[v] = PETSC_TRUE;
        continue;
      }
      PetscCall(sm_task_record(p, v, c, &rec));
      p->rest[v]  = rec.rest;
      p->fresh[v] = PETSC_TRUE;
      continue;
    }
    PetscCall(sm_task_take(p, v, MPI_SUM, &c));
    if (c >= p->ntasks[v]) { /* another rank took the last one first */
      p->empty[v] = PETSC_TRUE;
      continue;
    }
    PetscCall(sm_task_record(p, v, c, &rec));
    p->rest[v] = rec.rest; /* still a bound: the task taken is part of it */
    if ((size_t)rec.bytes > p->nbuf) {
      PetscCall(PetscFree(p->buf));
      PetscCall(PetscMalloc1((size_t)rec.bytes, &p->buf));
      p->nbuf = (size_t)rec.bytes;
    }
    /* the data in pieces of at most 1 GiB (an int count of bytes) */
    for (int64_t off = 0; off < rec.bytes;) {
      const int64_t len = PetscMin(rec.bytes - off, (int64_t)1 << 30);
      PetscCallMPI(MPI_Get(p->buf + off, (int)len, MPI_BYTE, v, sm_task_header(p->ntasks[v]) + (MPI_Aint)(rec.offset + off),
                           (int)len, MPI_BYTE, p->win));
      off += len;
    }
    PetscCallMPI(MPI_Win_flush(v, p->win));
    *id    = rec.id;
    *data  = p->buf;
    *bytes = rec.bytes;
    *from  = v;
    break;
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_TaskSteal, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_task_pool_destroy(SMTaskPool *pool)
{
  SMTaskPool p;

  PetscFunctionBeginUser;
  if (!pool || !*pool) PetscFunctionReturn(PETSC_SUCCESS);
  p = *pool;
  if (p->win != MPI_WIN_NULL) {
    PetscCallMPI(MPI_Win_unlock_all(p->win));
    PetscCallMPI(MPI_Win_free(&p->win));
    PetscCall(PetscFree4(p->ntasks, p->rest, p->empty, p->fresh));
  } else PetscCall(PetscFree(p->data));
  PetscCall(PetscFree(p->buf));
  PetscCall(PetscFree(p->tasks));
  PetscCall(PetscFree(p));
  *pool = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}
