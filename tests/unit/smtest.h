/* A tiny single-header test runner. Each check prints one line on failure; sm_test_finish prints
 * "N passed, M failed" and returns the exit code. Under MPI, checks are evaluated on every rank and the
 * summary is reduced so rank 0 prints the global result; sm_test_main is the whole main of a test program. */
#ifndef SMTEST_H
#define SMTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <petscsys.h>

static int sm_test_passed_ = 0, sm_test_failed_ = 0;

#define SM_TEST_TRUE(cond, ...) \
  do { \
    if (cond) sm_test_passed_++; \
    else { \
      sm_test_failed_++; \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__); \
      fprintf(stderr, "\n"); \
    } \
  } while (0)

/* |a - b| <= tol, with a message naming what was compared. */
#define SM_TEST_CLOSE(a, b, tol, what) \
  do { \
    double sm_a_ = (double)(a), sm_b_ = (double)(b), sm_t_ = (double)(tol); \
    SM_TEST_TRUE(fabs(sm_a_ - sm_b_) <= sm_t_ && !isnan(sm_a_), "%s: got %.12g, expected %.12g (tol %.3g, diff %.3g)", what, \
                 sm_a_, sm_b_, sm_t_, fabs(sm_a_ - sm_b_)); \
  } while (0)

/* |a - b| <= rtol |b| */
#define SM_TEST_REL(a, b, rtol, what) SM_TEST_CLOSE(a, b, (rtol) * fabs((double)(b)), what)

static inline int sm_test_finish(MPI_Comm comm)
{
  int loc[2] = {sm_test_passed_, sm_test_failed_}, glob[2] = {0, 0}, rank = 0;
  MPI_Allreduce(loc, glob, 2, MPI_INT, MPI_SUM, comm);
  MPI_Comm_rank(comm, &rank);
  if (!rank) printf("%d passed, %d failed\n", glob[0], glob[1]);
  return glob[1] ? 1 : (glob[0] ? 0 : 1); /* a test that checked nothing fails */
}

/* A fresh directory prefix_XXXXXX in the working directory (shared between ranks, unlike /tmp on a cluster), made by
   rank 0; every rank gets its name in dir. Collective. */
static inline PetscErrorCode sm_test_scratch_dir(MPI_Comm comm, const char *prefix, char dir[PETSC_MAX_PATH_LEN])
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscSNPrintf(dir, PETSC_MAX_PATH_LEN, "%s_XXXXXX", prefix));
  if (!rank && !mkdtemp(dir)) dir[0] = 0;
  PetscCallMPI(MPI_Bcast(dir, PETSC_MAX_PATH_LEN, MPI_CHAR, 0, comm));
  PetscCheck(dir[0], comm, PETSC_ERR_FILE_OPEN, "Cannot create a scratch directory %s_XXXXXX in the working directory",
             prefix);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Remove the scratch directory dir (rank 0) when every check so far passed on every rank; after a failure it stays
   for a look at the files. Collective. */
static inline PetscErrorCode sm_test_scratch_dir_remove(MPI_Comm comm, const char *dir)
{
  PetscMPIInt rank;
  int         failed = 0;
  char        cmd[PETSC_MAX_PATH_LEN + 16];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Allreduce(&sm_test_failed_, &failed, 1, MPI_INT, MPI_SUM, comm));
  if (!rank && !failed) {
    PetscCall(PetscSNPrintf(cmd, sizeof(cmd), "rm -rf '%s'", dir));
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One case of a test program: a name for the timing line and a function run on the communicator of all ranks. */
typedef struct {
  const char *name;
  PetscErrorCode (*run)(MPI_Comm comm);
} SMTestCase;

/* The main of a test program: initialise PETSc, run every case on PETSC_COMM_WORLD at the rank count the program was
   started with (a case that compares with fewer ranks splits the communicator itself), print each case's time on rank
   0, reduce the summary (sm_test_finish) and finalise. An error in a case stops the program with PETSc's traceback
   and a non-zero exit code. Collective. SM_TEST_MAIN below writes the whole main; call this one directly when main
   has more to do first. */
static inline int sm_test_main(int argc, char **argv, const SMTestCase *cases, size_t ncases)
{
  const char *program;
  double      t0, t;
  int         rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  t0      = MPI_Wtime();
  for (size_t c = 0; c < ncases; c++) {
    t = MPI_Wtime();
    PetscCall(cases[c].run(PETSC_COMM_WORLD));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: %s %.2f s\n", program, cases[c].name, MPI_Wtime() - t));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: %.2f s\n", program, MPI_Wtime() - t0));
  rc = sm_test_finish(PETSC_COMM_WORLD); /* reduces over MPI, so before PetscFinalize */
  PetscCall(PetscFinalize());
  return rc;
}

/* main() of a test program whose cases are the arguments: SM_TEST_MAIN({"ball", test_ball}, {"layers", test_layers}) */
#define SM_TEST_MAIN(...)                                                                       \
  int main(int argc, char **argv)                                                               \
  {                                                                                             \
    const SMTestCase sm_test_cases_[] = {__VA_ARGS__};                                          \
    return sm_test_main(argc, argv, sm_test_cases_, PETSC_STATIC_ARRAY_LENGTH(sm_test_cases_)); \
  }

#endif
