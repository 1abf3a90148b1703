#include <stochmorph/sys.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

PetscErrorCode sm_sys_physical_memory(double *bytes)
{
  PetscFunctionBeginUser;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  *bytes     = (pages > 0 && page > 0) ? (double)pages * (double)page : 0.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void sm_sys_format_bytes(double bytes, char *buf, size_t len)
{
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int         u       = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    u++;
  }
  snprintf(buf, len, "%.2f %s", bytes, units[u]);
}

double sm_sys_wtime(void) { return MPI_Wtime(); }

void sm_sys_format_real(double v, char *buf, size_t len)
{
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(buf, len, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) return;
  }
}
