/* One transport solve with a solver object of the given method and preconditioner matrix and the defaults otherwise
 * (shared by the unit and MPI transport tests). Collective on the volume's communicator. */
#ifndef SMTEST_TRANSPORT_H
#define SMTEST_TRANSPORT_H

#include <stochmorph/transport.h>
#include <stochmorph/grid.h>

static inline PetscErrorCode sm_test_transport_solve(SMVolume vol, const double *cond, int label, SMTransportMethod m,
                                                     SMTransportPCMatrix pcm, int d, SMTransportResult *r)
{
  SMTransport t;
  SMGrid      grid;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_transport_create(sm_grid_comm(grid), &t));
  PetscCall(sm_transport_set_method(t, m));
  PetscCall(sm_transport_set_pc_matrix(t, pcm));
  PetscCall(sm_transport_solve(t, vol, cond, label, d, NULL, r));
  PetscCall(sm_transport_destroy(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* M of a solve against its exact value Mx (a closed form or a dense solve exact to round-off): M is an energy, so it is
   never below Mx, and M - Mx must lie within the solver's own error estimate, which the stopping rule has brought below
   -transport_m_rtol (default 1e-6). The 1e-10 allowance is the round-off of the energy (a difference of sums over the
   unknowns, each relative error about 1e-16 times the number of terms). */
#define SM_TEST_M_BOUND(r, Mx, what) \
  do { \
    const double e_ = ((r).M - (Mx)) / (Mx); \
    SM_TEST_TRUE(e_ >= -1e-10 && e_ <= (r).M_error_estimate + 1e-10, \
                 "%s: M %.15g vs exact %.15g: error %.3e, estimate %.3e (should be >= 0 and <= the estimate)", what, \
                 (r).M, (double)(Mx), e_, (r).M_error_estimate); \
    SM_TEST_TRUE((r).M_error_estimate <= SM_TRANSPORT_M_RTOL_DEFAULT || !(r).m_converged, \
                 "%s: stopped on M with an estimate %.3e above the tolerance", what, (r).M_error_estimate); \
  } while (0)

#endif
