/* Helpers shared by the command drivers: option hygiene, memory checks, error reporting. */
#include "app.h"
#include <string.h>
#include <sys/resource.h>

PetscBool sm_app_help(void)
{
  PetscBool help = PETSC_FALSE;
  (void)PetscOptionsHasHelp(NULL, &help);
  return help;
}

/* Options PETSc itself reads (logging, debugging, memory checks) are not ours to refuse. */
static PetscBool sm_option_is_petsc(const char *name)
{
  static const char *prefixes[] = {"log", "malloc", "options_", "help", "info", "fp_trap", "on_error", "check_", "memory_",
                                   "objects_", "no_signal_handler", "debugger", "start_in_debugger", "stop_for_debugger",
                                   "skip_petscrc", "version", "viewer", "history", "saws", "use_gpu", "device", "display",
                                   "petsc", "mpi_", "sm_error_traceback", "nox", NULL};
  for (int i = 0; prefixes[i]; i++)
    if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return PETSC_TRUE;
  return PETSC_FALSE;
}

PetscErrorCode sm_app_check_unused_options(MPI_Comm comm, const char *command)
{
  PetscInt n;
  char   **names, **values;
  char     list[1024] = "";
  int      bad        = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) {
    if (sm_option_is_petsc(names[i])) continue;
    PetscCall(PetscStrlcat(list, bad ? ", -" : "-", sizeof(list)));
    PetscCall(PetscStrlcat(list, names[i], sizeof(list)));
    bad++;
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscCheck(!bad, comm, PETSC_ERR_ARG_WRONG,
             "Unknown option%s for 'stochmorph %s': %s (misspelt, or meant for another command or model; "
             "`stochmorph %s -help` lists every key)",
             bad > 1 ? "s" : "", command, list, command);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_app_check_memory(MPI_Comm comm, double bytes, const char *what)
{
  MPI_Comm    node;
  PetscMPIInt noderank;
  double      mem, total = 0, mine, limit_gib = 0;
  char        need[32], have[32];
  PetscBool   set;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_rank(node, &noderank));
  PetscCallMPI(MPI_Comm_free(&node));
  PetscCall(sm_sys_physical_memory(&mem));
  mine = noderank == 0 ? mem : 0;
  PetscCallMPI(MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-memory_limit", &limit_gib, &set));
  if (set) total = limit_gib * 1073741824.0;
  sm_sys_format_bytes(bytes, need, sizeof(need));
  sm_sys_format_bytes(total, have, sizeof(have));
  PetscCheck(total <= 0 || bytes <= 0.9 * total, comm, PETSC_ERR_MEM,
             "%s needs about %s but the nodes of this job have %s (90 %% usable); use a smaller -grid_size or more nodes "
             "(-memory_limit GiB overrides the limit)",
             what, need, have);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_app_report_peak_memory(MPI_Comm comm, int64_t n_voxels)
{
  struct rusage ru;
  double        rss, total, vmax;
  char          buf[32];

  PetscFunctionBeginUser;
  getrusage(RUSAGE_SELF, &ru);
  rss = (double)ru.ru_maxrss * 1024.0;
  PetscCallMPI(MPI_Allreduce(&rss, &total, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(&rss, &vmax, 1, MPI_DOUBLE, MPI_MAX, comm));
  sm_sys_format_bytes(total, buf, sizeof(buf));
  PetscCall(PetscPrintf(comm, "  peak memory %s over all ranks (%.1f bytes per voxel", buf, total / (double)n_voxels));
  sm_sys_format_bytes(vmax, buf, sizeof(buf));
  PetscCall(PetscPrintf(comm, "; largest rank %s)\n", buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}
