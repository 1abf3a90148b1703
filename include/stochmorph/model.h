/* Excursion-set models (SPEC 3): gauss, chi2 (k dof) and pluri (three phases), given by volume fractions or
 * thresholds, and the realisation of a model on a grid as a labelled volume. */
#ifndef STOCHMORPH_MODEL_H
#define STOCHMORPH_MODEL_H

#include <stochmorph/field.h>
#include <stochmorph/volume.h>
#include <stochmorph/io.h>

typedef enum { SM_MODEL_GAUSS = 0, SM_MODEL_CHI2 = 1, SM_MODEL_PLURI = 2, SM_MODEL_NUM } SMModelType;
extern const char *const sm_model_names[];

typedef struct _p_SMModel *SMModel;

/* Public parameters of a model, all derived quantities filled in (thresholds <-> volume fractions). */
typedef struct {
  SMModelType      type;
  SMCovarianceType covariance;
  int              dof;              /* chi2 */
  double           alpha;            /* gauss, chi2 [1/um] */
  double           alpha_x, alpha_y; /* pluri [1/um] */
  double           m;                /* pluri */
  double           threshold;        /* gauss, chi2: lambda; pluri: lambda_X */
  double           threshold_z;      /* pluri */
  int              nphases;
  const char      *phase_names[3];
  double           volume_fraction[3]; /* target fraction of each phase (label order) */
} SMModelParams;

/* Life cycle. create: the defaults, the F850 NMC model (chi2, k = 2, gauss covariance, p = 0.46, alpha = 7.28 1/um);
   set_from_options: -model, -model_covariance, -model_alpha, -model_volume_fraction | -model_threshold, -model_dof and
   the pluri keys (SPEC 9), under the options prefix if one is set; set_param: one numeric parameter by its option name
   without the dash (what -sweep_param names, e.g. "model_volume_fraction"; a fraction replaces a threshold given for
   the same phase and the other way round); set_up: every value checked, with a message naming the option, and the
   thresholds and fractions derived from each other (again after a set_param). create_from_options: create,
   set_from_options and set_up. Collective. */
PetscErrorCode sm_model_create(MPI_Comm comm, SMModel *model);
PetscErrorCode sm_model_set_options_prefix(SMModel model, const char *prefix);
PetscErrorCode sm_model_set_from_options(SMModel model);
PetscErrorCode sm_model_set_param(SMModel model, const char *key, double value);
PetscErrorCode sm_model_set_up(SMModel model);
PetscErrorCode sm_model_view(SMModel model, PetscViewer viewer);
PetscErrorCode sm_model_create_from_options(MPI_Comm comm, SMModel *model);
PetscErrorCode sm_model_destroy(SMModel *model);
PetscErrorCode sm_model_get_params(SMModel model, SMModelParams *params);

/* Peak bytes per voxel generate needs (all ranks together), for the memory check before allocation. */
PetscErrorCode sm_model_bytes_per_voxel(SMModel model, double *bytes);

/* Theoretical specific surface area of each phase [1/um] (Rice; gauss covariance only; NAN when not known). */
PetscErrorCode sm_model_surface_area(SMModel model, double S[3]);
/* Theoretical two-point coverage C_ij at lag length h [um] for label pair (i, j). */
PetscErrorCode sm_model_coverage(SMModel model, int i, int j, double h, double *C);

/* Draw realisation (seed, realization) on grid into a new volume (periodic; provenance attributes set). If fields is
   not NULL, the Gaussian fields are written to it (/fields/X1, ...). Collective. */
PetscErrorCode sm_model_generate(SMModel model, SMGrid grid, uint64_t seed, uint64_t realization, unsigned fft_flags,
                                 SMH5Writer fields, SMVolume *vol);

/* Print progress lines of sm_model_generate on rank 0 (default: off, PetscInfo only). */
void sm_model_set_verbose(PetscBool verbose);

/* The model section as one line of options ("-model chi2 -model_dof 2 ..."), every number in shortest round-trip form:
   of a model, or of parameters (type, covariance, dof, alpha, volume_fraction[1..2], alpha_x, alpha_y and m are read;
   nothing is checked: sm_model_create_from_options checks the text). */
PetscErrorCode sm_model_get_options_text(SMModel model, char *buf, size_t len);
PetscErrorCode sm_model_params_options_text(const SMModelParams *p, char *buf, size_t len);

#endif
