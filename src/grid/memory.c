/* The memory check: how much the job has and whether a piece of work fits, decided before any large allocation. */
#include <stochmorph/sys.h>

PetscErrorCode sm_sys_job_memory(MPI_Comm comm, double *bytes)
{
  MPI_Comm    node;
  PetscMPIInt noderank;
  double      mem, mine, limit_gib = 0;
  PetscBool   set;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_rank(node, &noderank));
  PetscCallMPI(MPI_Comm_free(&node));
  PetscCall(sm_sys_physical_memory(&mem));
  mine = noderank == 0 ? mem : 0;
  PetscCallMPI(MPI_Allreduce(&mine, bytes, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-memory_limit", &limit_gib, &set));
  if (set) *bytes = limit_gib * 1073741824.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_sys_check_memory(MPI_Comm comm, double need, double have, const char *what)
{
  char sneed[32], shave[32];

  PetscFunctionBeginUser;
  sm_sys_format_bytes(need, sneed, sizeof(sneed));
  sm_sys_format_bytes(have, shave, sizeof(shave));
  PetscCheck(have <= 0 || need <= 0.9 * have, comm, PETSC_ERR_MEM,
             "%s needs about %s but the nodes of this job have %s (90 %% usable); use a smaller -grid_size or more nodes "
             "(-memory_limit GiB overrides the limit)",
             what, sneed, shave);
  PetscFunctionReturn(PETSC_SUCCESS);
}
