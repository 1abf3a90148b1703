/* Voxel counts per label: the volume fraction estimator (point count), exact integers. */
#include <stochmorph/morph.h>

PetscErrorCode sm_morph_label_counts(SMVolume vol, int64_t counts[SM_MAX_PHASES])
{
  SMGrid     grid;
  SMGridInfo g;
  uint8_t   *lab;
  int64_t    loc[256] = {0}, out_of_range = 0, glob[SM_MAX_PHASES + 1];
  int        np;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &lab));
  PetscCall(sm_volume_get_phases(vol, &np, NULL));
  for (int64_t v = 0; v < g.n_local; v++) loc[lab[v]]++;
  for (int l = np; l < 256; l++) out_of_range += loc[l];
  loc[np] = out_of_range;
  PetscCallMPI(MPI_Allreduce(loc, glob, np + 1, MPI_INT64_T, MPI_SUM, sm_grid_comm(grid)));
  PetscCheck(glob[np] == 0, sm_grid_comm(grid), PETSC_ERR_ARG_WRONG,
             "%lld voxels carry a label >= %d, the number of named phases", (long long)glob[np], np);
  for (int i = 0; i < SM_MAX_PHASES; i++) counts[i] = i < np ? glob[i] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
