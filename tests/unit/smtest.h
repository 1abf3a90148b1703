/* A tiny single-header test runner. Each check prints one line on failure; sm_test_finish prints
 * "N passed, M failed" and returns the exit code. Under MPI, checks are evaluated on every rank and the
 * summary is reduced so rank 0 prints the global result. */
#ifndef SMTEST_H
#define SMTEST_H

#include <math.h>
#include <stdio.h>
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

#endif
