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

#endif
