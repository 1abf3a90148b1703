/* Twins against the analytic theory of their model (SPEC 3, 4.6, 6.3):
 *  - the volume fraction of every phase of every shipped input (at a reduced grid) lies within 4 standard errors of
 *    its target, the error computed from the model's centred two-point function on the periodic grid (SPEC 4.6);
 *  - the radially averaged C(h) of chi2 and gauss twins agrees with the formula within 5 Monte-Carlo standard errors
 *    over several realisations;
 *  - the Ohser-Schladitz surface area of a chi2 twin (p = 0.46, alpha = 7.28, 10 nm, 256^3) is within 3 % of the Rice
 *    value 9.42 1/um, and likewise for a gauss-model twin; a pluri twin's phases within 3 % of the Rice formula with
 *    conditioning (the gradients of X and Z at a point are independent of the values there). */
#include <stochmorph/model.h>
#include <stochmorph/morph.h>
#include <stochmorph/fft.h>
#include "smtest.h"

static PetscErrorCode make_model(const char *file, const char *extra, SMModel *model, SMGrid *grid)
{
  char path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsClear(NULL));
  if (file) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", SM_SOURCE_DIR, file));
    PetscCall(PetscOptionsInsertFile(PETSC_COMM_WORLD, NULL, path, PETSC_TRUE));
  }
  PetscCall(PetscOptionsInsertString(NULL, extra));
  PetscCall(sm_model_create_from_options(PETSC_COMM_WORLD, model));
  {
    const int64_t nd[3] = {64, 64, 64};
    PetscCall(sm_grid_create_from_options(PETSC_COMM_WORLD, nd, 0.01, grid));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Var(p^) = (1/N) sum_v C0(|v|) over the lags of the periodic grid (minimum image), C0 tabulated in |v| and
   interpolated linearly (C0 is smooth: 4000 points over the half diagonal are far finer than its variation). */
static PetscErrorCode volume_fraction_sigma(SMModel model, SMGrid grid, int phase, double *sigma)
{
  SMGridInfo    g;
  SMModelParams p;
  const int     nt = 4000;
  double        tab[4001], rmax, var = 0, e;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_model_get_params(model, &p));
  e    = p.volume_fraction[phase];
  rmax = 0.5 * sqrt(pow(g.n[0] * g.h[0], 2) + pow(g.n[1] * g.h[1], 2) + pow(g.n[2] * g.h[2], 2)) * 1.0001;
  for (int t = 0; t <= nt; t++) {
    double C;
    PetscCall(sm_model_coverage(model, phase, phase, rmax * t / nt, &C));
    tab[t] = C - e * e;
  }
  for (int64_t z = 0; z <= g.n[2] / 2; z++)
    for (int64_t y = 0; y <= g.n[1] / 2; y++)
      for (int64_t x = 0; x <= g.n[0] / 2; x++) {
        double m = (x == 0 || 2 * x == g.n[0] ? 1 : 2) * (y == 0 || 2 * y == g.n[1] ? 1 : 2) * (z == 0 || 2 * z == g.n[2] ? 1 : 2);
        double r = sqrt(pow(x * g.h[0], 2) + pow(y * g.h[1], 2) + pow(z * g.h[2], 2)), u = r / rmax * nt;
        int    t = (int)u;
        var += m * (tab[t] + (u - t) * (tab[t + 1] - tab[t]));
      }
  *sigma = sqrt(PetscMax(var, 0) / (double)g.n_total);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  {
    /* every shipped model at a reduced grid (same voxel size) */
    const char *files[] = {"inputs/nmc/F850.opts", "inputs/nmc/F900.opts", "inputs/nmc/M850.opts", "inputs/nmc/M900.opts",
                           "inputs/nmc/C850.opts", "inputs/nmc/C900.opts", "inputs/nvpc/nvpc.opts", "inputs/quickstart.opts"};
    for (int f = 0; f < 8; f++) {
      SMModel       model;
      SMGrid        grid;
      SMVolume      vol;
      SMModelParams p;
      SMGridInfo    g;
      int64_t       counts[SM_MAX_PHASES];
      PetscCall(make_model(files[f], "-grid_size 112", &model, &grid));
      PetscCall(sm_model_get_params(model, &p));
      PetscCall(sm_grid_get_info(grid, &g));
      PetscCall(sm_model_generate(model, grid, 424242, (uint64_t)f, FFTW_ESTIMATE, NULL, &vol));
      PetscCall(sm_morph_label_counts(vol, counts));
      for (int i = 0; i < p.nphases; i++) {
        double sigma = 0, est = (double)counts[i] / (double)g.n_total;
        char   what[256];
        PetscCall(volume_fraction_sigma(model, grid, i, &sigma));
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s: volume fraction of %s (sigma %.4f)", files[f], p.phase_names[i], sigma));
        SM_TEST_CLOSE(est, p.volume_fraction[i], 4 * sigma, what);
        SM_TEST_TRUE(sigma > 1e-4 && sigma < 0.1, "%s: implausible sigma %g", files[f], sigma);
      }
      PetscCall(sm_volume_destroy(&vol));
      PetscCall(sm_grid_destroy(&grid));
      PetscCall(sm_model_destroy(&model));
    }
  }
  {
    /* C(h) of the solid over R realisations vs the formula at a few lags */
    const char *models[] = {"-model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 -grid_size 96",
                            "-model gauss -model_alpha 10 -model_volume_fraction 0.3 -grid_size 96"};
    const int   R        = 6;
    for (int m = 0; m < 2; m++) {
      SMModel model;
      SMGrid  grid;
      double  sum[64] = {0}, sum2[64] = {0}, hh[64] = {0};
      int     nb = 0;
      PetscCall(make_model(NULL, models[m], &model, &grid));
      for (int r = 0; r < R; r++) {
        SMVolume   vol;
        SMTwoPoint tp;
        PetscCall(sm_model_generate(model, grid, 777, (uint64_t)r, FFTW_ESTIMATE, NULL, &vol));
        PetscCall(sm_morph_two_point(vol, PETSC_TRUE, 0, FFTW_ESTIMATE, &tp));
        nb = PetscMin(tp.nbins, 64);
        for (int b = 0; b < nb; b++) {
          double c = tp.C[2 * tp.nbins + b]; /* pair (1, 1): solid-solid */
          sum[b] += c;
          sum2[b] += c * c;
          hh[b] = tp.h[b];
        }
        PetscCall(sm_morph_two_point_free(&tp));
        PetscCall(sm_volume_destroy(&vol));
      }
      for (int b = 1; b < nb; b += 5) {
        double mean = sum[b] / R, sd = sqrt(PetscMax(sum2[b] / R - mean * mean, 0) * R / (R - 1)), C;
        char   what[256];
        PetscCall(sm_model_coverage(model, 1, 1, hh[b], &C));
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s: C(h = %.3f um) (SE %.2g)", models[m], hh[b], sd / sqrt(R)));
        /* 5 SE of the mean of R = 6 (a t_5 variable: P(|t| > 5) = 0.4 %), plus the bin-averaging bias: the bin's C is
           the pair-weighted mean over lag lengths within half a voxel of h, |C'| dh^2/24-ish, below 1e-4 here */
        SM_TEST_CLOSE(mean, C, 5 * sd / sqrt(R) + 1e-4, what);
      }
      PetscCall(sm_grid_destroy(&grid));
      PetscCall(sm_model_destroy(&model));
    }
  }
  {
    /* surface areas against Rice */
    const char *models[] = {"-model chi2 -model_alpha 7.28 -model_volume_fraction 0.46 -grid_size 256",
                            "-model gauss -model_alpha 7.28 -model_volume_fraction 0.46 -grid_size 256",
                            NULL};
    for (int m = 0; m < 3; m++) {
      SMModel       model;
      SMGrid        grid;
      SMVolume      vol;
      SMModelParams p;
      double        S[3];
      if (m < 2) PetscCall(make_model(NULL, models[m], &model, &grid));
      /* the pluri Y field (alpha_y = 26.5) is only ~2 voxels wide at the published 16.6 nm: the voxel estimate is then
         14 % low for pore and carbon (measured: 11.5 / 12.7 / 13.5 at 16.6 / 8 / 4 nm against 13.1 1/um), so the check
         of the formula runs at 4 nm, where the bias is ~1 % and a 0.83 um box adds ~2 % of sampling error: 5 % */
      else PetscCall(make_model("inputs/nvpc/nvpc.opts", "-grid_size 208 -voxel_size 0.004", &model, &grid));
      PetscCall(sm_model_get_params(model, &p));
      PetscCall(sm_model_surface_area(model, S));
      PetscCall(sm_model_generate(model, grid, 99, 0, FFTW_ESTIMATE, NULL, &vol));
      if (m == 0) SM_TEST_CLOSE(S[1], 9.42, 0.005, "Rice value of the F850 chi2 model (SPEC 6.3)");
      for (int i = 0; i < p.nphases; i++) {
        double est;
        char   what[256];
        PetscCall(sm_morph_specific_surface_area(vol, i, PETSC_TRUE, &est));
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s twin: S of %s vs Rice %.4f 1/um", sm_model_names[p.type],
                                p.phase_names[i], S[i]));
        SM_TEST_REL(est, S[i], m < 2 ? 0.03 : 0.05, what);
      }
      PetscCall(sm_volume_destroy(&vol));
      PetscCall(sm_grid_destroy(&grid));
      PetscCall(sm_model_destroy(&model));
    }
  }
  PetscCall(PetscOptionsClear(NULL));
  {
    int code = sm_test_finish(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return code;
  }
}
