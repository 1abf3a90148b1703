#include <stochmorph/sys.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <fcntl.h>

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

int sm_sys_commit(const char *partial, const char *path)
{
  int fd, err = 0;
  errno = 0;
  fd    = open(partial, O_RDONLY);
  if (fd < 0) return errno ? errno : EIO;
  if (fsync(fd) && errno != EINVAL && errno != EROFS) err = errno; /* EINVAL: a file system that cannot sync */
  (void)close(fd);
  if (!err && rename(partial, path)) err = errno ? errno : EIO;
  return err;
}

void sm_sys_write_reason(const char *path, int err, char *buf, size_t len)
{
  char           dir[PETSC_MAX_PATH_LEN];
  const char    *slash = strrchr(path, '/');
  struct statvfs fs;

  switch (err) { /* causes that errno names without doubt */
    case ENOSPC:
    case EDQUOT:
    case EROFS:
    case EACCES:
    case EPERM:
    case ENOENT:
    case EFBIG:
    case ENAMETOOLONG:
    case ENOTDIR:
      snprintf(buf, len, "%s", strerror(err));
      return;
    default:
      break;
  }
  if (!slash) snprintf(dir, sizeof(dir), ".");
  else if (slash == path) snprintf(dir, sizeof(dir), "/");
  else snprintf(dir, sizeof(dir), "%.*s", (int)PetscMin((size_t)(slash - path), sizeof(dir) - 1), path);
  if (!statvfs(dir, &fs)) {
    if (fs.f_flag & ST_RDONLY) {
      snprintf(buf, len, "%s", strerror(EROFS));
      return;
    }
    if ((double)fs.f_bavail * (double)fs.f_frsize < 1048576.0) {
      snprintf(buf, len, "%s (%s has %llu bytes free)", strerror(ENOSPC), dir,
               (unsigned long long)fs.f_bavail * (unsigned long long)fs.f_frsize);
      return;
    }
  } else {
    snprintf(buf, len, "the directory %s: %s", dir, strerror(errno));
    return;
  }
  if (access(dir, W_OK)) {
    snprintf(buf, len, "the directory %s: %s", dir, strerror(errno));
    return;
  }
  if (access(path, F_OK)) {
    snprintf(buf, len, "the file was removed while it was being written");
    return;
  }
  snprintf(buf, len, "%s", err ? strerror(err) : "an input/output error");
}

double sm_sys_free_bytes(const char *path)
{
  char           dir[PETSC_MAX_PATH_LEN];
  const char    *slash = strrchr(path, '/');
  struct statvfs fs;

  if (!slash) snprintf(dir, sizeof(dir), ".");
  else if (slash == path) snprintf(dir, sizeof(dir), "/");
  else snprintf(dir, sizeof(dir), "%.*s", (int)PetscMin((size_t)(slash - path), sizeof(dir) - 1), path);
  if (statvfs(dir, &fs)) return -1;
  return (double)fs.f_bavail * (double)fs.f_frsize;
}

PetscErrorCode sm_sys_test_hook(MPI_Comm comm, const char *name, PetscInt *value, PetscBool *set)
{
  PetscMPIInt rank;
  long long   v[2] = {0, 0}; /* set, value */

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    const char *e = getenv(name);
    char       *end = NULL;
    if (e && e[0]) {
      v[1] = strtoll(e, &end, 10);
      v[0] = 1;
      PetscCheck(end && *end == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s must be an integer (got '%s')", name, e);
    }
  }
  PetscCallMPI(MPI_Bcast(v, 2, MPI_LONG_LONG, 0, comm));
  if (set) *set = v[0] ? PETSC_TRUE : PETSC_FALSE;
  if (v[0]) *value = (PetscInt)v[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}
