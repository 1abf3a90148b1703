/* The reproducibility contract (SPEC 2): the same seed gives the same twin at any rank count, and the descriptors
 * computed from it are the same. Within one run on P ranks, each model is drawn on the whole communicator, on
 * rank 0 alone and (P = 3) on ranks {0, 1}; labels are gathered and compared on rank 0 voxel by voxel, and the
 * two-point functions (periodic and minus-sampling) and surface areas compared number by number. */
#include <stochmorph/model.h>
#include <stochmorph/morph.h>
#include <stochmorph/fft.h>
#include "smtest.h"
#include "smtest_volume.h"

typedef struct {
  uint8_t   *labels;
  SMTwoPoint tp[2];
  double     S[3];
} Result;

static PetscErrorCode draw(MPI_Comm comm, const int64_t n[3], const PetscReal h[3], Result *res)
{
  SMModel       model;
  SMGrid        grid;
  SMVolume      vol;
  SMModelParams p;

  PetscFunctionBeginUser;
  PetscCall(sm_model_create_from_options(comm, &model));
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_create(comm, n, h, &grid));
  PetscCall(sm_model_generate(model, grid, 12345, 2, FFTW_ESTIMATE, NULL, &vol));
  PetscCall(sm_test_volume_allgather(vol, &res->labels));
  PetscCall(sm_morph_two_point(vol, PETSC_TRUE, 0, FFTW_ESTIMATE, &res->tp[0]));
  PetscCall(sm_morph_two_point(vol, PETSC_FALSE, 0.12, FFTW_ESTIMATE, &res->tp[1]));
  for (int i = 0; i < p.nphases; i++) PetscCall(sm_morph_specific_surface_area(vol, i, PETSC_TRUE, &res->S[i]));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscCall(sm_model_destroy(&model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void compare(const char *what, const Result *a, const Result *b, int64_t N)
{
  int64_t diff = 0;
  for (int64_t v = 0; v < N; v++) diff += a->labels[v] != b->labels[v];
  SM_TEST_TRUE(diff == 0, "%s: %lld of %lld labels differ", what, (long long)diff, (long long)N);
  for (int e = 0; e < 2; e++) {
    const SMTwoPoint *x = &a->tp[e], *y = &b->tp[e];
    int               same = x->nbins == y->nbins && x->npairs == y->npairs;
    for (int q = 0; same && q < x->npairs * x->nbins; q++) same = x->C[q] == y->C[q];
    for (int q = 0; same && q < x->nbins; q++) same = x->h[q] == y->h[q];
    for (int d = 0; d < 3; d++)
      for (int q = 0; same && q < x->npairs * x->naxis[d]; q++) same = x->C_axis[d][q] == y->C_axis[d][q];
    SM_TEST_TRUE(same, "%s: %s two-point functions differ", what, e ? "minus-sampling" : "periodic");
  }
  for (int i = 0; i < 3; i++)
    SM_TEST_TRUE(a->S[i] == b->S[i] || (isnan(a->S[i]) && isnan(b->S[i])), "%s: surface area of phase %d: %.17g vs %.17g",
                 what, i, a->S[i], b->S[i]);
}

static void release(Result *r)
{
  PetscFree(r->labels);
  sm_morph_two_point_free(&r->tp[0]);
  sm_morph_two_point_free(&r->tp[1]);
}

static PetscErrorCode test_models(MPI_Comm comm)
{
  const char *models[] = {"-model gauss -model_alpha 12 -model_volume_fraction 0.4",
                          "-model chi2 -model_alpha 12 -model_volume_fraction 0.46",
                          "-model chi2 -model_dof 3 -model_covariance exponential -model_alpha 9 -model_volume_fraction 0.6",
                          "-model pluri -model_alpha_x 14 -model_alpha_y 20 -model_m 0.15 -model_volume_fractions 0.5,0.3"};
  const int64_t   n[3] = {30, 26, 21};
  const PetscReal h[3] = {0.01, 0.012, 0.016};
  PetscMPIInt     rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int m = 0; m < 4; m++) {
    Result   world = {0}, self = {0}, pair = {0};
    MPI_Comm two;
    PetscCall(PetscOptionsClear(NULL));
    PetscCall(PetscOptionsInsertString(NULL, models[m]));
    PetscCall(draw(comm, n, h, &world));
    if (!rank) PetscCall(draw(PETSC_COMM_SELF, n, h, &self));
    PetscCallMPI(MPI_Comm_split(comm, rank < 2 ? 0 : MPI_UNDEFINED, rank, &two));
    if (size == 3 && two != MPI_COMM_NULL) PetscCall(draw(two, n, h, &pair));
    if (!rank) {
      char what[256];
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s, %d ranks vs 1", models[m], size));
      compare(what, &world, &self, n[0] * n[1] * n[2]);
      if (size == 3) {
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s, 2 ranks vs 1", models[m]));
        compare(what, &pair, &self, n[0] * n[1] * n[2]);
      }
      release(&self);
    }
    release(&world);
    if (size == 3 && two != MPI_COMM_NULL) release(&pair);
    if (two != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&two));
  }
  PetscCall(PetscOptionsClear(NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"four models", test_models})
