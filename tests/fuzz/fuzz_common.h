/* Shared set-up of the fuzz targets (libFuzzer entry points; see README): PETSc initialised once on MPI_COMM_SELF
 * semantics (a singleton process), errors returned instead of printed, and a private scratch file per process. */
#ifndef SM_FUZZ_COMMON_H
#define SM_FUZZ_COMMON_H
#include <stochmorph/sys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void sm_fuzz_init(void)
{
  static int done = 0;
  if (done) return;
  done = 1;
  if (PetscInitializeNoArguments()) abort();
  (void)PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
}

/* Write n bytes to a scratch file named with the process id and ext; returns its path (static storage). */
static inline const char *sm_fuzz_file(const void *data, size_t n, const char *ext)
{
  static char path[256];
  FILE       *f;
  snprintf(path, sizeof(path), "%s/sm_fuzz_%ld%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), ext);
  f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(data, 1, n, f) != n) abort();
  fclose(f);
  return path;
}
#endif
