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
  double have;

  PetscFunctionBeginUser;
  PetscCall(sm_sys_job_memory(comm, &have));
  PetscCall(sm_sys_check_memory(comm, bytes, have, what));
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
