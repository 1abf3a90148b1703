/* Fuzz target: the options-file and list-value parsers. The input is an options text (as in -options_file: keys and
 * values, lists such as -grid_size 64,64,32, -crop 0:10,2:8,0:4, -phase_labels 0,128,255, -voxel_size 0.01,0.02) that
 * PETSc's own tokenizer splits; our readers of the grid, image, model, fit and shape options must then accept it or
 * refuse it cleanly. */
#include "fuzz_common.h"
#include <stochmorph/grid.h>
#include <stochmorph/image.h>
#include <stochmorph/model.h>
#include <stochmorph/fit.h>
#include <stochmorph/shape.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char          *text;
  SMImageOptions io;
  SMFitOptions   fo;
  SMShapeOptions so;
  SMModel        model = NULL;
  SMGrid         grid  = NULL;
  const int64_t  n0[3] = {8, 8, 8};

  sm_fuzz_init();
  if (size > 4096) return 0;
  text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  (void)PetscOptionsClear(NULL);
  if (!PetscOptionsInsertString(NULL, text)) {
    (void)sm_grid_create_from_options(PETSC_COMM_SELF, n0, 0.01, &grid);
    (void)sm_grid_destroy(&grid);
    if (!sm_image_options_default(&io)) (void)sm_image_options_set_from_options(PETSC_COMM_SELF, &io);
    if (!sm_fit_options_default(&fo)) (void)sm_fit_options_set_from_options(PETSC_COMM_SELF, &fo);
    if (!sm_shape_options_default(&so)) (void)sm_shape_options_set_from_options(PETSC_COMM_SELF, &so);
    (void)sm_model_create_from_options(PETSC_COMM_SELF, &model);
    (void)sm_model_destroy(&model);
  }
  (void)PetscOptionsClear(NULL);
  free(text);
  return 0;
}
