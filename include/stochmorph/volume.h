/* A labelled voxel volume distributed in z-slabs over a grid: uint8 labels, named phases,
 * whether the volume is periodic (a twin) or not (an image), and provenance attributes. */
#ifndef STOCHMORPH_VOLUME_H
#define STOCHMORPH_VOLUME_H

#include <stochmorph/grid.h>

#define SM_MAX_PHASES     8
#define SM_MAX_ATTRS      48
#define SM_NAME_LEN       64
#define SM_ATTR_VALUE_LEN 256

typedef struct _p_SMVolume *SMVolume;

/* Create a volume on grid (the volume keeps a reference) with nphases named phases; labels zeroed. Collective. */
PetscErrorCode sm_volume_create(SMGrid grid, int nphases, const char *const names[], SMVolume *vol);
PetscErrorCode sm_volume_destroy(SMVolume *vol);

PetscErrorCode sm_volume_get_grid(SMVolume vol, SMGrid *grid);
/* Labels of this rank's slab, [z_local][ny][nx], owned by the volume. */
PetscErrorCode sm_volume_get_labels(SMVolume vol, uint8_t **labels);
PetscErrorCode sm_volume_get_phases(SMVolume vol, int *nphases, const char *const **names);
/* Label of the phase called name, or an error listing the phases. */
PetscErrorCode sm_volume_find_phase(SMVolume vol, const char *name, int *label);

PetscErrorCode sm_volume_set_periodic(SMVolume vol, PetscBool periodic);
PetscErrorCode sm_volume_get_periodic(SMVolume vol, PetscBool *periodic);

/* Provenance: string key/value pairs written as HDF5 attributes on /labels (model, seed, version, ...). */
PetscErrorCode sm_volume_set_attr(SMVolume vol, const char *key, const char *value);
PetscErrorCode sm_volume_get_attr(SMVolume vol, const char *key, const char **value, PetscBool *found);
PetscErrorCode sm_volume_get_attrs(SMVolume vol, int *nattrs, const char *const **keys, const char *const **values);

#endif
