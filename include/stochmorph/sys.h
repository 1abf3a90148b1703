/* Common definitions shared by every stochmorph module: PETSc, MPI, checked integer
 * conversions and the HDF5 error wrapper. */
#ifndef STOCHMORPH_SYS_H
#define STOCHMORPH_SYS_H

#include <petscsys.h>
#include <stdint.h>

#ifndef PETSC_SUCCESS
  #define PETSC_SUCCESS 0
#endif

#define SM_VERSION_STRING "0.1.0"

/* HDF5 signals failure with a negative return value. */
#define SM_CALL_HDF5(call) \
  do { \
    if ((call) < 0) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call failed: %s", #call); \
  } while (0)

/* Checked conversion of a 64-bit count to a C int (MPI counts). */
static inline PetscErrorCode sm_int64_to_int(int64_t v, int *out)
{
  PetscFunctionBeginUser;
  PetscCheck(v >= 0 && v <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Count %lld does not fit in a 32-bit int",
             (long long)v);
  *out = (int)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Memory the machine has, in bytes (physical RAM of this node); used to refuse runs that cannot fit. */
PetscErrorCode sm_sys_physical_memory(double *bytes);

/* Memory the nodes of comm have together, in bytes: the physical memory of each node counted once (by the first rank
   on it), or -memory_limit GiB when that option is given. Collective. */
PetscErrorCode sm_sys_job_memory(MPI_Comm comm, double *bytes);

/* Refuse work that needs `need` bytes (all ranks together) when `have` bytes are available (90 % usable; have <= 0:
   unknown, accepted): PETSC_ERR_MEM with a message naming `what`, both sizes and the fix. Call before allocating.
   Collective (the same need and have on every rank). */
PetscErrorCode sm_sys_check_memory(MPI_Comm comm, double need, double have, const char *what);

/* Format a byte count as "1.23 GiB". */
void sm_sys_format_bytes(double bytes, char *buf, size_t len);

/* Shortest decimal form of v that reads back as the same double (7.28, not 7.2800000000000002). */
void sm_sys_format_real(double v, char *buf, size_t len);

/* Wall-clock seconds. */
double sm_sys_wtime(void);

/* Fault injection for tests, never for users: the integer value of the environment variable name (SM_TEST_...),
   read on rank 0 and broadcast; *set is PETSC_FALSE (and *value unchanged) when it is not set. The hooks of `run`
   are SM_TEST_KILL_BEFORE_UNIT (SIGKILL before the n-th computed unit is recorded), SM_TEST_STOP_AT_ITERATION (a stop
   signal at that CG iteration of a solve) and SM_TEST_NO_LOCKS (behave as on a file system without record locks).
   Collective. */
PetscErrorCode sm_sys_test_hook(MPI_Comm comm, const char *name, PetscInt *value, PetscBool *set);

/* Why writing path failed, in the system's words, for an error message: strerror(err) when err (an errno value captured
   at the failure, 0 if none) names a cause; otherwise what the file system says now: "No space left on device" (less
   than 1 MiB free), "Read-only file system", the directory not writable, or the file removed while it was written.
   Not collective; call it before removing the partial file (whose blocks are part of the evidence). */
void sm_sys_write_reason(const char *path, int err, char *buf, size_t len);
/* The last step of every file stochmorph writes ("<path>.partial", then renamed): flush the finished partial file to
   the disk (fsync) and rename it over path, so that path is always either the old or the whole new file, also after a
   crash of the node. 0, or the errno value of the step that failed. Not collective (rank 0 of a parallel file). */
int sm_sys_commit(const char *partial, const char *path);
/* Free bytes for an unprivileged writer in the file system holding path (its directory when path does not exist);
   -1 if unknown. Not collective. */
double sm_sys_free_bytes(const char *path);

#endif
