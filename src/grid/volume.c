/* Labelled volumes: uint8 labels on the grid's z-slabs plus phase names and provenance. */
#include <stochmorph/volume.h>
#include <string.h>

struct _p_SMVolume {
  SMGrid   grid;
  uint8_t *labels;
  int      nphases;
  char    *names[SM_MAX_PHASES];
  PetscBool periodic;
  int      nattrs;
  char    *keys[SM_MAX_ATTRS], *values[SM_MAX_ATTRS];
};

PetscErrorCode sm_volume_create(SMGrid grid, int nphases, const char *const names[], SMVolume *vol)
{
  SMVolume   v;
  SMGridInfo info;

  PetscFunctionBeginUser;
  PetscCheck(nphases >= 1 && nphases <= SM_MAX_PHASES, sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE,
             "A volume has 1 to %d phases, not %d", SM_MAX_PHASES, nphases);
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCall(PetscNew(&v));
  v->grid    = grid;
  v->nphases = nphases;
  for (int i = 0; i < nphases; i++) PetscCall(PetscStrallocpy(names[i], &v->names[i]));
  PetscCall(PetscCalloc1((size_t)info.n_local, &v->labels));
  *vol = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_destroy(SMVolume *vol)
{
  PetscFunctionBeginUser;
  if (!vol || !*vol) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < (*vol)->nphases; i++) PetscCall(PetscFree((*vol)->names[i]));
  for (int i = 0; i < (*vol)->nattrs; i++) {
    PetscCall(PetscFree((*vol)->keys[i]));
    PetscCall(PetscFree((*vol)->values[i]));
  }
  PetscCall(PetscFree((*vol)->labels));
  PetscCall(PetscFree(*vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_grid(SMVolume vol, SMGrid *grid)
{
  PetscFunctionBeginUser;
  *grid = vol->grid;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_labels(SMVolume vol, uint8_t **labels)
{
  PetscFunctionBeginUser;
  *labels = vol->labels;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_phases(SMVolume vol, int *nphases, const char *const **names)
{
  PetscFunctionBeginUser;
  if (nphases) *nphases = vol->nphases;
  if (names) *names = (const char *const *)vol->names;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_find_phase(SMVolume vol, const char *name, int *label)
{
  char list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";

  PetscFunctionBeginUser;
  for (int i = 0; i < vol->nphases; i++) {
    PetscBool same;
    PetscCall(PetscStrcmp(vol->names[i], name, &same));
    if (same) {
      *label = i;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(PetscStrlcat(list, i ? ", " : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, vol->names[i], sizeof(list)));
  }
  SETERRQ(sm_grid_comm(vol->grid), PETSC_ERR_ARG_WRONG, "-phase: unknown phase '%s'; this volume has phases: %s", name, list);
}

PetscErrorCode sm_volume_set_periodic(SMVolume vol, PetscBool periodic)
{
  PetscFunctionBeginUser;
  vol->periodic = periodic;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_periodic(SMVolume vol, PetscBool *periodic)
{
  PetscFunctionBeginUser;
  *periodic = vol->periodic;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_set_attr(SMVolume vol, const char *key, const char *value)
{
  PetscFunctionBeginUser;
  for (int i = 0; i < vol->nattrs; i++) {
    PetscBool same;
    PetscCall(PetscStrcmp(vol->keys[i], key, &same));
    if (same) {
      PetscCall(PetscFree(vol->values[i]));
      PetscCall(PetscStrallocpy(value, &vol->values[i]));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  }
  PetscCheck(vol->nattrs < SM_MAX_ATTRS, PETSC_COMM_SELF, PETSC_ERR_SUP, "Too many attributes (at most %d)", SM_MAX_ATTRS);
  PetscCall(PetscStrallocpy(key, &vol->keys[vol->nattrs]));
  PetscCall(PetscStrallocpy(value, &vol->values[vol->nattrs]));
  vol->nattrs++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_attr(SMVolume vol, const char *key, const char **value, PetscBool *found)
{
  PetscFunctionBeginUser;
  *found = PETSC_FALSE;
  *value = NULL;
  for (int i = 0; i < vol->nattrs; i++) {
    PetscBool same;
    PetscCall(PetscStrcmp(vol->keys[i], key, &same));
    if (same) {
      *found = PETSC_TRUE;
      *value = vol->values[i];
      break;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_volume_get_attrs(SMVolume vol, int *nattrs, const char *const **keys, const char *const **values)
{
  PetscFunctionBeginUser;
  *nattrs = vol->nattrs;
  *keys   = (const char *const *)vol->keys;
  *values = (const char *const *)vol->values;
  PetscFunctionReturn(PETSC_SUCCESS);
}
