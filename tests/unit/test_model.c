/* The model's life cycle (create, set_options_prefix, set_from_options, set_param, set_up, view, destroy) against
 * closed forms: chi2 with k = 2 has p = exp(-lambda/2), gauss has p = Phi(-lambda) (Phi^-1(0.7) = 0.5244005127080407,
 * tables), the pluri carbon and pore fractions add up to 1 with the active one; a parameter of another model type, a
 * fractional dof, an out-of-range fraction and a non-finite value are refused; a prefix reaches its own keys only. */
#include <stochmorph/model.h>
#include <string.h>

#include "smtest.h"

static int fails(PetscErrorCode ierr) { return ierr != PETSC_SUCCESS; }

static void test_chi2(void)
{
  SMModel       m;
  SMModelParams p;
  if (sm_model_create(PETSC_COMM_WORLD, &m) || sm_model_set_from_options(m) || sm_model_set_up(m) || sm_model_get_params(m, &p)) {
    SM_TEST_TRUE(0, "default model");
    return;
  }
  SM_TEST_TRUE(p.type == SM_MODEL_CHI2 && p.dof == 2 && p.nphases == 2, "default: chi2, k = 2");
  SM_TEST_CLOSE(p.volume_fraction[1], 0.46, 1e-15, "default solid fraction");
  SM_TEST_REL(p.threshold, -2 * log(0.46), 1e-12, "chi2 k = 2: lambda = -2 ln p");
  SM_TEST_TRUE(!sm_model_set_param(m, "model_volume_fraction", 0.3) && !sm_model_set_up(m) && !sm_model_get_params(m, &p),
               "set_param volume fraction");
  SM_TEST_REL(p.threshold, -2 * log(0.3), 1e-12, "lambda after set_param");
  SM_TEST_CLOSE(p.volume_fraction[0], 0.7, 1e-15, "pore fraction after set_param");
  SM_TEST_TRUE(!sm_model_set_param(m, "model_threshold", 2.0) && !sm_model_set_up(m) && !sm_model_get_params(m, &p),
               "a threshold replaces the fraction");
  SM_TEST_REL(p.volume_fraction[1], exp(-1.0), 1e-12, "p = exp(-lambda/2) after set_param threshold");
  SM_TEST_TRUE(!sm_model_set_param(m, "model_dof", 4) && !sm_model_set_up(m) && !sm_model_get_params(m, &p) && p.dof == 4,
               "set_param dof");
  SM_TEST_REL(p.volume_fraction[1], exp(-1.0) * 2.0, 1e-12, "k = 4: p = (1 + lambda/2) exp(-lambda/2)");
  (void)PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  SM_TEST_TRUE(fails(sm_model_set_param(m, "model_dof", 2.5)), "fractional dof refused");
  SM_TEST_TRUE(fails(sm_model_set_param(m, "model_alpha_x", 3)), "a pluri parameter refused for chi2");
  SM_TEST_TRUE(fails(sm_model_set_param(m, "model_volume_fraction", NAN)), "NaN refused");
  SM_TEST_TRUE(fails(sm_model_set_param(m, "model_covariance", 1)), "a non-numeric option refused");
  SM_TEST_TRUE(!sm_model_set_param(m, "model_volume_fraction", 1.2) && fails(sm_model_set_up(m)), "p = 1.2 refused at set_up");
  SM_TEST_TRUE(fails(sm_model_get_params(m, &p)), "a model that failed set_up has no parameters");
  (void)PetscPopErrorHandler();
  {
    PetscViewer v;
    char        buf[1024] = "";
    SM_TEST_TRUE(!sm_model_set_param(m, "model_volume_fraction", 0.46) && !sm_model_set_up(m), "set up again");
    if (!PetscViewerStringOpen(PETSC_COMM_SELF, buf, sizeof(buf), &v)) {
      SM_TEST_TRUE(!sm_model_view(m, v) && strstr(buf, "SMModel chi2") && strstr(buf, "phase 1 solid: volume fraction 0.46"),
                   "view: %s", buf);
      (void)PetscViewerDestroy(&v);
    }
  }
  SM_TEST_TRUE(!sm_model_destroy(&m) && !m, "destroy");
}

static void test_gauss_prefix(void)
{
  SMModel       m;
  SMModelParams p;
  (void)PetscOptionsSetValue(NULL, "-g_model", "gauss");
  (void)PetscOptionsSetValue(NULL, "-g_model_alpha", "3");
  (void)PetscOptionsSetValue(NULL, "-model_alpha", "5"); /* without the prefix: not this model's */
  if (sm_model_create(PETSC_COMM_WORLD, &m) || sm_model_set_options_prefix(m, "g_") || sm_model_set_from_options(m) ||
      sm_model_set_param(m, "model_volume_fraction", 0.3) || sm_model_set_up(m) || sm_model_get_params(m, &p)) {
    SM_TEST_TRUE(0, "gauss model with a prefix");
    return;
  }
  SM_TEST_TRUE(p.type == SM_MODEL_GAUSS, "-g_model gauss reached the model");
  SM_TEST_CLOSE(p.alpha, 3, 0, "-g_model_alpha, not -model_alpha");
  SM_TEST_REL(p.threshold, 0.5244005127080407, 1e-10, "gauss: lambda = -Phi^-1(p) = Phi^-1(0.7)");
  (void)sm_model_destroy(&m);
  (void)PetscOptionsClearValue(NULL, "-model_alpha");
}

static void test_pluri(void)
{
  SMModel       m;
  SMModelParams p;
  (void)PetscOptionsSetValue(NULL, "-p_model", "pluri");
  (void)PetscOptionsSetValue(NULL, "-p_model_volume_fractions", "0.5,0.25");
  if (sm_model_create(PETSC_COMM_WORLD, &m) || sm_model_set_options_prefix(m, "p_") || sm_model_set_from_options(m) ||
      sm_model_set_param(m, "model_volume_fraction_carbon", 0.2) || sm_model_set_up(m) || sm_model_get_params(m, &p)) {
    SM_TEST_TRUE(0, "pluri model");
    return;
  }
  SM_TEST_TRUE(p.type == SM_MODEL_PLURI && p.nphases == 3, "pluri");
  SM_TEST_CLOSE(p.volume_fraction[1], 0.5, 1e-15, "the active fraction of -model_volume_fractions kept");
  SM_TEST_CLOSE(p.volume_fraction[2], 0.2, 1e-15, "the swept carbon fraction");
  SM_TEST_CLOSE(p.volume_fraction[0], 0.3, 1e-15, "pore = 1 - active - carbon");
  SM_TEST_CLOSE(p.threshold, 0.0, 1e-12, "lambda_X = -Phi^-1(0.5) = 0");
  (void)PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  SM_TEST_TRUE(fails(sm_model_set_param(m, "model_volume_fraction", 0.3)), "a two-phase parameter refused for pluri");
  SM_TEST_TRUE(!sm_model_set_param(m, "model_volume_fraction_carbon", 0.6) && fails(sm_model_set_up(m)),
               "active + carbon >= 1 refused");
  (void)PetscPopErrorHandler();
  (void)sm_model_destroy(&m);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  test_chi2();
  test_gauss_prefix();
  test_pluri();
  int code = sm_test_finish(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return code;
}
