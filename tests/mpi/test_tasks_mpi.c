/* The task pool (grid.h) at 1, 2, 3 and 7 ranks: every task of every rank is handed out exactly once, with its own
 * data (a code of its id in every word), and named with the rank whose list it came from; uneven lists (some ranks
 * have none, the costs differ by a factor 40) and empty data work; tasks move: while rank 0 waits in a barrier before
 * taking any, the others run out of their own lists and take all of rank 0's, so rank 0 then finds none left. */
#include <stochmorph/grid.h>
#include "smtest.h"

/* rank r's list: nt(r) tasks with ids first(r) .. first(r) + nt(r) - 1; a task's data is words(id) int64 words */
static int64_t nt(PetscMPIInt r) { return r % 4 == 3 ? 0 : 4 + 3 * (int64_t)r; }
static int64_t first(PetscMPIInt r)
{
  int64_t f = 0;
  for (PetscMPIInt q = 0; q < r; q++) f += nt(q);
  return f;
}
static int64_t words(int64_t id) { return id % 5 == 2 ? 0 : 1 + (id * 37) % 11; }
static int64_t word(int64_t id, int64_t k) { return 1000 * id + k; }

/* this rank's pool: the tasks in decreasing cost, their data stored back to front in the buffer */
static PetscErrorCode make_pool(MPI_Comm comm, SMTaskPool *pool)
{
  PetscMPIInt rank;
  int64_t     n, f, total = 0, pos;
  SMTask     *t;
  int64_t    *data;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  n = nt(rank);
  f = first(rank);
  for (int64_t i = 0; i < n; i++) total += words(f + i);
  PetscCall(PetscMalloc1(PetscMax(n, 1), &t));
  PetscCall(PetscMalloc1(PetscMax(total, 1), &data));
  pos = total;
  for (int64_t i = 0; i < n; i++) {
    const int64_t id = f + i;
    pos -= words(id);
    t[i] = (SMTask){id, 40.0 - (double)(39 * i) / (double)PetscMax(n - 1, 1), pos * (int64_t)sizeof(int64_t),
                    words(id) * (int64_t)sizeof(int64_t)};
    for (int64_t k = 0; k < words(id); k++) data[pos + k] = word(id, k);
  }
  PetscCall(sm_task_pool_create(comm, n, t, (void **)&data, (size_t)total * sizeof(int64_t), pool));
  SM_TEST_TRUE(data == NULL, "the pool takes the data buffer over");
  PetscCall(PetscFree(t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* take tasks until none is left; count each id in seen[], check its data and its source; *moved: taken from others */
static PetscErrorCode drain(SMTaskPool pool, PetscMPIInt rank, PetscMPIInt size, int64_t *seen, int64_t *moved)
{
  PetscFunctionBeginUser;
  for (;;) {
    int64_t        id, bytes, bad = 0;
    const int64_t *d;
    PetscMPIInt    from, owner = 0;
    PetscCall(sm_task_pool_next(pool, &id, (const void **)&d, &bytes, &from));
    if (id < 0) break;
    SM_TEST_TRUE(id < first(size), "task id %lld out of range", (long long)id);
    if (id >= first(size)) continue;
    seen[id]++;
    while (id >= first(owner + 1)) owner++;
    SM_TEST_TRUE(from == owner, "task %lld comes from rank %d, not %d", (long long)id, from, owner);
    SM_TEST_TRUE(bytes == words(id) * (int64_t)sizeof(int64_t), "task %lld: %lld bytes", (long long)id, (long long)bytes);
    for (int64_t k = 0; k < words(id) && bytes == words(id) * (int64_t)sizeof(int64_t); k++) bad += d[k] != word(id, k);
    SM_TEST_TRUE(bad == 0, "task %lld: wrong data", (long long)id);
    *moved += from != rank;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_once(MPI_Comm comm)
{
  PetscMPIInt rank, size;
  SMTaskPool  pool;
  int64_t    *seen, moved = 0, wrong = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc1(first(size) + 1, &seen));
  PetscCall(make_pool(comm, &pool));
  PetscCall(drain(pool, rank, size, seen, &moved));
  PetscCall(sm_task_pool_destroy(&pool));
  PetscCall(sm_task_pool_destroy(&pool)); /* NULL is accepted */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, seen, (int)first(size), MPI_INT64_T, MPI_SUM, comm));
  for (int64_t i = 0; i < first(size); i++) wrong += seen[i] != 1;
  SM_TEST_TRUE(wrong == 0, "%lld of %lld tasks not handed out exactly once", (long long)wrong, (long long)first(size));
  SM_TEST_TRUE(size > 1 || moved == 0, "one rank: nothing moves");
  PetscCall(PetscFree(seen));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_move(MPI_Comm comm)
{
  PetscMPIInt rank, size;
  SMTaskPool  pool;
  int64_t    *seen, moved = 0, wrong = 0, from0 = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc1(first(size) + 1, &seen));
  PetscCall(make_pool(comm, &pool));
  if (rank == 0 && size > 1) {
    int64_t id, bytes;
    const void *d;
    PetscMPIInt from;
    PetscCallMPI(MPI_Barrier(comm)); /* the others take every task meanwhile, rank 0's too */
    PetscCall(sm_task_pool_next(pool, &id, &d, &bytes, &from));
    SM_TEST_TRUE(id == -1 && d == NULL && bytes == 0, "rank 0 found task %lld left after the others drained the pool",
                 (long long)id);
  } else {
    PetscCall(drain(pool, rank, size, seen, &moved));
    if (size > 1) PetscCallMPI(MPI_Barrier(comm));
  }
  PetscCall(sm_task_pool_destroy(&pool));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, seen, (int)first(size), MPI_INT64_T, MPI_SUM, comm));
  for (int64_t i = 0; i < first(size); i++) wrong += seen[i] != 1;
  for (int64_t i = 0; i < nt(0); i++) from0 += seen[i];
  SM_TEST_TRUE(wrong == 0, "%lld of %lld tasks not handed out exactly once", (long long)wrong, (long long)first(size));
  SM_TEST_TRUE(from0 == nt(0), "rank 0's %lld tasks: %lld taken", (long long)nt(0), (long long)from0);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &moved, 1, MPI_INT64_T, MPI_SUM, comm));
  SM_TEST_TRUE(size == 1 ? moved == 0 : moved >= nt(0), "%lld tasks moved, at least rank 0's %lld expected",
               (long long)moved, (long long)(size == 1 ? 0 : nt(0)));
  PetscCall(PetscFree(seen));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* no tasks anywhere, and a pool made and destroyed many times (windows are freed) */
static PetscErrorCode test_empty(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  for (int it = 0; it < 50; it++) {
    SMTaskPool  pool;
    void       *data = NULL;
    int64_t     id, bytes;
    const void *d;
    PetscMPIInt from;
    PetscCall(PetscMalloc(1, &data));
    PetscCall(sm_task_pool_create(comm, 0, NULL, &data, 0, &pool));
    PetscCall(sm_task_pool_next(pool, &id, &d, &bytes, &from));
    PetscCall(sm_task_pool_destroy(&pool));
    if (it == 0) SM_TEST_TRUE(id == -1, "an empty pool hands out task %lld", (long long)id);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"each task once", test_once}, {"tasks move", test_move}, {"empty pools", test_empty})
