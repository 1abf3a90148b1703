/* stochmorph fit: calibrate gauss / chi2 / pluri to a labelled image -> an options file (model section) + JSON. */
#include "app.h"
#include <stochmorph/version.h>
#include <stochmorph/fit.h>
#include <stochmorph/image.h>
#include <stochmorph/report.h>
#include <stochmorph/fft.h>
#include <string.h>
#include <math.h>

typedef enum { SM_FIT_GAUSS, SM_FIT_CHI2, SM_FIT_PLURI, SM_FIT_AUTO } SMFitKind;

typedef struct {
  char           in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], json[PETSC_MAX_PATH_LEN];
  SMFitKind      kind;
  int            dof;
  SMFitOptions   fit;
  SMImageOptions image;
} SMFitCmdOptions;

static PetscErrorCode sm_fit_read_options(MPI_Comm comm, SMFitCmdOptions *o, PetscBool *set_in)
{
  char      model[32] = "auto";
  PetscInt  dof       = 2;
  PetscBool help      = sm_app_help();
  size_t    len;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(o->out, "fitted.opts", sizeof(o->out)));
  PetscCall(sm_fit_options_default(&o->fit));
  PetscCall(sm_image_options_default(&o->image));
  PetscOptionsBegin(comm, NULL, "stochmorph fit: calibrate an excursion-set model to a labelled image (SPEC 4)",
                    "stochmorph");
  PetscCall(PetscOptionsString("-i",
                               "Input image: an HDF5 volume (written by generate, or any 3D dataset), raw samples or a "
                               "multi-page TIFF (see -image_format)",
                               "fit", o->in, o->in, sizeof(o->in), set_in));
  PetscCall(
      PetscOptionsString("-o",
                         "Output options file (.opts, the fitted model section, valid input for generate); the JSON "
                         "report goes beside it as <stem>.json",
                         "fit", o->out, o->out, sizeof(o->out), NULL));
  PetscCall(PetscOptionsString("-model",
                               "Model to fit: gauss, chi2, pluri, or auto (gauss and chi2 with k = 1..4, the "
                               "smallest two-point residual wins)",
                               "fit", model, model, sizeof(model), NULL));
  if (help || !strcmp(model, "chi2"))
    PetscCall(
        PetscOptionsInt("-model_dof", "Degrees of freedom k of the chi2 model (1 to 32)", "fit", dof, &dof, NULL));
  PetscOptionsEnd();
  PetscCall(sm_fit_options_set_from_options(comm, &o->fit));
  PetscCall(sm_image_options_set_from_options(comm, &o->image));
  if (!strcmp(model, "gauss"))
    o->kind = SM_FIT_GAUSS;
  else if (!strcmp(model, "chi2"))
    o->kind = SM_FIT_CHI2;
  else if (!strcmp(model, "pluri"))
    o->kind = SM_FIT_PLURI;
  else if (!strcmp(model, "auto"))
    o->kind = SM_FIT_AUTO;
  else
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-model: unknown model '%s'; fit knows gauss, chi2, pluri and auto", model);
  PetscCheck(dof >= 1 && dof <= 32, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_dof must be between 1 and 32 (got %d)",
             (int)dof);
  o->dof = (int)dof;
  PetscCall(PetscStrlen(o->out, &len));
  PetscCheck(len > 5 && !strcmp(o->out + len - 5, ".opts"), comm, PETSC_ERR_ARG_WRONG,
             "-o %s: fit writes an options file, whose name must end in .opts (the JSON report goes beside it)",
             o->out);
  PetscCall(sm_path_replace_ext(o->out, ".json", o->json, sizeof(o->json)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_json_range(SMJson js, const char *key, const double r[2])
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_real_array(js, key, r, 2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_json_isotropy(SMJson js, const double a[3], double spread)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_begin_object(js, "isotropy"));
  PetscCall(sm_json_real(js, "alpha_x", a[0]));
  PetscCall(sm_json_real(js, "alpha_y", a[1]));
  PetscCall(sm_json_real(js, "alpha_z", a[2]));
  PetscCall(sm_json_real(js, "relative_spread", spread));
  PetscCall(sm_json_end_object(js));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The axis curves of pair p (what the isotropy check used). */
static PetscErrorCode sm_json_axis_curves(SMJson js, const SMTwoPoint *tp, int p, const char *key)
{
  const char *ax[3] = {"x", "y", "z"};

  PetscFunctionBeginUser;
  PetscCall(sm_json_begin_object(js, "axis_curves"));
  for (int d = 0; d < 3; d++) {
    PetscCall(sm_json_begin_object(js, ax[d]));
    PetscCall(sm_json_real_array(js, "h", tp->h_axis[d], tp->naxis[d]));
    PetscCall(sm_json_real_array(js, key, tp->C_axis[d] + (size_t)p * tp->naxis[d], tp->naxis[d]));
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_object(js));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sm_pair_of(const SMTwoPoint *tp, int i, int j)
{
  for (int p = 0; p < tp->npairs; p++)
    if ((tp->pair_i[p] == i && tp->pair_j[p] == j) || (tp->pair_i[p] == j && tp->pair_j[p] == i)) return p;
  return 0;
}

static PetscErrorCode sm_json_header(SMJson js, const SMFitCmdOptions *o, const SMFitData *d)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_string(js, "command", "fit"));
  PetscCall(sm_json_string(js, "input", o->in));
  PetscCall(sm_json_string(js, "options_file", o->out));
  PetscCall(sm_json_string(js, "code_version", sm_version_code()));
  PetscCall(sm_json_begin_object(js, "units"));
  PetscCall(sm_json_string(js, "h", "um"));
  PetscCall(sm_json_string(js, "alpha", "1/um"));
  PetscCall(sm_json_string(js, "fit_range", "um"));
  PetscCall(sm_json_string(js, "volume_fraction", "1"));
  PetscCall(sm_json_string(js, "C", "1 (probability)"));
  PetscCall(sm_json_string(js, "fit_residual", "1 (RMS of C_model - C_data over the fit range)"));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "grid"));
  PetscCall(sm_json_int_array(js, "size", d->n, 3));
  PetscCall(sm_json_real_array(js, "voxel_size", d->h, 3));
  PetscCall(sm_json_bool(js, "periodic", d->periodic));
  PetscCall(sm_json_string(js, "estimator", d->periodic ? "periodic" : "minus-sampling"));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_real(js, "fit_threshold", o->fit.threshold));
  PetscCall(sm_json_string(js, "covariance", sm_covariance_names[o->fit.covariance]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_json_two_phase_fit(SMJson js, const SMFitResult *r)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_string(js, "model", sm_model_names[r->type]));
  if (r->type == SM_MODEL_CHI2)
    PetscCall(sm_json_int(js, "dof", r->dof));
  else
    PetscCall(sm_json_real(js, "dof", NAN));
  PetscCall(sm_json_real(js, "volume_fraction", r->volume_fraction));
  PetscCall(sm_json_real(js, "threshold", r->threshold));
  PetscCall(sm_json_real(js, "alpha", r->alpha));
  PetscCall(sm_json_real(js, "fit_residual", r->residual));
  PetscCall(sm_json_range(js, "fit_range", r->range));
  PetscCall(sm_json_real(js, "sigma_volume_fraction", r->sigma_volume_fraction));
  PetscCall(sm_json_real(js, "sigma_lag", r->sigma_lag));
  PetscCall(sm_json_isotropy(js, r->alpha_axis, r->isotropy_spread));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_write_json_two_phase(MPI_Comm comm, const SMFitCmdOptions *o, const SMFitData *d,
                                              const SMFitResult *cand, int ncand, int best)
{
  SMJson             js = NULL;
  const SMFitResult *r  = &cand[best];

  PetscFunctionBeginUser;
  PetscCall(sm_json_open(comm, o->json, &js));
  PetscCall(sm_json_header(js, o, d));
  PetscCall(sm_json_string(js, "phase", o->fit.phase));
  PetscCall(sm_json_two_phase_fit(js, r));
  PetscCall(sm_json_real_array(js, "h", r->h, r->nbins));
  PetscCall(sm_json_real_array(js, "C_data", r->C_data, r->nbins));
  PetscCall(sm_json_real_array(js, "C_model", r->C_model, r->nbins));
  PetscCall(sm_json_real_array(js, "rho_data", r->rho_data, r->nbins));
  PetscCall(sm_json_real_array(js, "rho_model", r->rho_model, r->nbins));
  PetscCall(sm_json_axis_curves(js, &d->tp, sm_pair_of(&d->tp, 1, 1), "C_data"));
  if (ncand > 1) {
    PetscCall(sm_json_string(js, "selected_by", "smallest fit_residual among gauss and chi2 with k = 1..4"));
    PetscCall(sm_json_begin_object(js, "candidates"));
    for (int c = 0; c < ncand; c++) {
      char key[32];
      if (cand[c].type == SM_MODEL_CHI2)
        PetscCall(PetscSNPrintf(key, sizeof(key), "chi2_k%d", cand[c].dof));
      else
        PetscCall(PetscSNPrintf(key, sizeof(key), "gauss"));
      PetscCall(sm_json_begin_object(js, key));
      PetscCall(sm_json_two_phase_fit(js, &cand[c]));
      PetscCall(sm_json_end_object(js));
    }
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_write_json_pluri(MPI_Comm comm, const SMFitCmdOptions *o, const SMFitData *d,
                                          const SMPluriFitResult *r)
{
  SMJson js = NULL;
  int    n  = r->nbins;

  PetscFunctionBeginUser;
  PetscCall(sm_json_open(comm, o->json, &js));
  PetscCall(sm_json_header(js, o, d));
  PetscCall(sm_json_string(js, "model", "pluri"));
  PetscCall(sm_json_real(js, "dof", NAN));
  PetscCall(sm_json_begin_object(js, "volume_fractions"));
  PetscCall(sm_json_real(js, "active", r->eps[0]));
  PetscCall(sm_json_real(js, "carbon", r->eps[1]));
  PetscCall(sm_json_real(js, "pore", r->eps[2]));
  PetscCall(sm_json_end_object(js));
  PetscCall(
      sm_json_real(js, "volume_fraction", r->eps[0])); /* of the active phase, the one the X field alone defines */
  PetscCall(sm_json_real(js, "sigma_volume_fraction", r->sigma_eps_active));
  PetscCall(sm_json_real(js, "threshold", r->threshold_x));
  PetscCall(sm_json_real(js, "threshold_z", r->threshold_z));
  PetscCall(sm_json_begin_object(js, "alpha"));
  PetscCall(sm_json_real(js, "x", r->alpha_x));
  PetscCall(sm_json_real(js, "y", r->alpha_y));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_real(js, "alpha_x", r->alpha_x));
  PetscCall(sm_json_real(js, "alpha_y", r->alpha_y));
  PetscCall(sm_json_real(js, "m", r->m));
  PetscCall(sm_json_begin_object(js, "fit_residual"));
  PetscCall(sm_json_real(js, "active_active", r->residual[0]));
  PetscCall(sm_json_real(js, "active_carbon", r->residual[1]));
  PetscCall(sm_json_real(js, "carbon_carbon", r->residual[2]));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "fit_range"));
  PetscCall(sm_json_range(js, "alpha_x", r->range_x));
  PetscCall(sm_json_range(js, "alpha_y", r->range_y));
  PetscCall(sm_json_range(js, "m", r->range_m));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_isotropy(js, r->alpha_x_axis, r->isotropy_spread));
  PetscCall(sm_json_real_array(js, "h", r->h, n));
  PetscCall(sm_json_begin_object(js, "C_data"));
  PetscCall(sm_json_real_array(js, "active_active", r->C11_data, n));
  PetscCall(sm_json_real_array(js, "active_carbon", r->C12_data, n));
  PetscCall(sm_json_real_array(js, "carbon_carbon", r->C22_data, n));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "C_model"));
  PetscCall(sm_json_real_array(js, "active_active", r->C11_model, n));
  PetscCall(sm_json_real_array(js, "active_carbon", r->C12_model, n));
  PetscCall(sm_json_real_array(js, "carbon_carbon", r->C22_model, n));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "rho_data"));
  PetscCall(sm_json_real_array(js, "x", r->rho_x_data, n));
  PetscCall(sm_json_real_array(js, "y", r->rho_y_data, n));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "rho_model"));
  PetscCall(sm_json_real_array(js, "x", r->rho_x_model, n));
  PetscCall(sm_json_real_array(js, "y", r->rho_y_model, n));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "m_scan"));
  PetscCall(sm_json_real_array(js, "m", r->m_grid, SM_FIT_PLURI_NM));
  PetscCall(sm_json_real_array(js, "distance", r->m_distance, SM_FIT_PLURI_NM));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_axis_curves(js, &d->tp, sm_pair_of(&d->tp, d->active, d->active), "C_active_active"));
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The options file: comment lines with the fit quality, then the model section, one key per line. The model is first
   parsed by sm_model_create_from_options (sm_fit_create_model), so only a model generate accepts is written. */
static PetscErrorCode sm_write_opts(MPI_Comm comm, const SMFitCmdOptions *o, const SMFitData *d,
                                    const SMFitResult *cand, int ncand, int best, const SMPluriFitResult *pr, FILE **fp)
{
  SMModel model = NULL;
  FILE   *f;
  char    text[512], *line = text;

  PetscFunctionBeginUser;
  PetscCall(sm_fit_create_model(comm, pr ? NULL : &cand[best], pr, &model));
  PetscCall(sm_text_open(comm, o->out, fp));
  f = *fp;
  if (f) {
    fprintf(f,
            "# stochmorph fit of %s: %lld x %lld x %lld voxels of %g x %g x %g um, %s estimator, fit range where "
            "C(h) - p^2 > %g (p - p^2)\n",
            o->in, (long long)d->n[0], (long long)d->n[1], (long long)d->n[2], (double)d->h[0], (double)d->h[1],
            (double)d->h[2], d->periodic ? "periodic" : "minus-sampling", o->fit.threshold);
    if (pr) {
      fprintf(f, "# volume fractions active %.6f (sigma %.2g, NMC Eq. 18), carbon %.6f, pore %.6f\n", pr->eps[0],
              pr->sigma_eps_active, pr->eps[1], pr->eps[2]);
      fprintf(
          f,
          "# alpha_X = %.6g 1/um over [%.4g, %.4g] um (C11 residual %.3g); m = %.3f (C12 scan over [%.4g, %.4g] um, "
          "residual %.3g); alpha_Y = %.6g 1/um over [%.4g, %.4g] um (C22 residual %.3g)\n",
          pr->alpha_x, pr->range_x[0], pr->range_x[1], pr->residual[0], pr->m, pr->range_m[0], pr->range_m[1],
          pr->residual[1], pr->alpha_y, pr->range_y[0], pr->range_y[1], pr->residual[2]);
      fprintf(f, "# isotropy: alpha_X on the x, y, z axes %.4g, %.4g, %.4g 1/um (relative spread %.3g)\n",
              pr->alpha_x_axis[0], pr->alpha_x_axis[1], pr->alpha_x_axis[2], pr->isotropy_spread);
    } else {
      const SMFitResult *r = &cand[best];
      fprintf(f, "# phase '%s': p = %.6f, sigma(p) = %.3g (NMC Eq. 18, C - p^2 summed to %.4g um)\n", o->fit.phase,
              r->volume_fraction, r->sigma_volume_fraction, r->sigma_lag);
      fprintf(f,
              "# alpha = %.6g 1/um (%s covariance), least squares of rho(h) over [%.4g, %.4g] um; fit residual (RMS of "
              "C_model - C_data) %.3g\n",
              r->alpha, sm_covariance_names[r->covariance], r->range[0], r->range[1], r->residual);
      fprintf(f, "# isotropy: alpha on the x, y, z axes %.4g, %.4g, %.4g 1/um (relative spread %.3g)\n",
              r->alpha_axis[0], r->alpha_axis[1], r->alpha_axis[2], r->isotropy_spread);
      if (ncand > 1)
        for (int c = 0; c < ncand; c++)
          fprintf(f, "# candidate %-5s k = %d: alpha = %.6g 1/um, residual %.4g%s\n", sm_model_names[cand[c].type],
                  cand[c].dof, cand[c].alpha, cand[c].residual, c == best ? "  <- selected" : "");
    }
    /* one option per line: PETSc's options files take one key (and its value) per line; every key starts with
       "-" and a letter, which tells it from a negative value */
    PetscCall(sm_fit_model_options(pr ? NULL : &cand[best], pr, text, sizeof(text)));
    for (char *t = text; *t; t++) {
      if (t != text && t[-1] == ' ' && t[0] == '-' && ((t[1] >= 'a' && t[1] <= 'z') || (t[1] >= 'A' && t[1] <= 'Z'))) {
        t[-1] = 0;
        fprintf(f, "%s\n", line);
        line = t;
      }
    }
    fprintf(f, "%s\n", line);
  }
  PetscCall(sm_model_destroy(&model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_fit_body(MPI_Comm comm, const SMFitCmdOptions *o, SMVolume vol)
{
  SMFitData        d;
  SMFitResult      cand[SM_FIT_AUTO_KMAX + 1];
  SMPluriFitResult pr;
  int              ncand = 0, best = 0;
  FILE            *fp = NULL;
  PetscErrorCode   ierr;
  double           t0 = sm_sys_wtime();

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(cand, sizeof(cand)));
  PetscCall(PetscMemzero(&pr, sizeof(pr)));
  PetscCall(sm_fit_data_create(vol, o->kind == SM_FIT_PLURI, &o->fit, &d));
  PetscCall(PetscPrintf(comm, "  two-point functions (%s, %d lags up to %.4g um) in %.2f s\n",
                        d.periodic ? "periodic" : "minus-sampling", d.tp.nbins, d.tp.h[d.tp.nbins - 1],
                        sm_sys_wtime() - t0));
  t0 = sm_sys_wtime();
  if (o->kind == SM_FIT_PLURI)
    PetscCall(sm_fit_pluri(comm, &d, &o->fit, &pr));
  else if (o->kind == SM_FIT_AUTO) {
    ncand = SM_FIT_AUTO_KMAX + 1;
    PetscCall(sm_fit_auto(comm, &d, &o->fit, cand, &best));
  } else {
    ncand = 1;
    PetscCall(sm_fit_two_phase(comm, &d, o->kind == SM_FIT_GAUSS ? SM_MODEL_GAUSS : SM_MODEL_CHI2, o->dof, &o->fit,
                               &cand[0]));
  }
  PetscCall(PetscPrintf(comm, "  fitted in %.2f s\n", sm_sys_wtime() - t0));

  /* the options file stays partial until the JSON report is complete: both appear, or neither */
  ierr = sm_write_opts(comm, o, &d, cand, ncand, best, o->kind == SM_FIT_PLURI ? &pr : NULL, &fp);
  if (!ierr) {
    if (o->kind == SM_FIT_PLURI)
      ierr = sm_write_json_pluri(comm, o, &d, &pr);
    else
      ierr = sm_write_json_two_phase(comm, o, &d, cand, ncand, best);
  }
  PetscCall(sm_text_close(comm, o->out, &fp, ierr ? PETSC_FALSE : PETSC_TRUE));
  PetscCall(ierr);

  if (o->kind == SM_FIT_PLURI) {
    PetscCall(PetscPrintf(comm, "  eps active %.5f (sigma %.2g), carbon %.5f, pore %.5f\n", pr.eps[0],
                          pr.sigma_eps_active, pr.eps[1], pr.eps[2]));
    PetscCall(PetscPrintf(comm, "  alpha_X %.5g 1/um over [%.4g, %.4g] um, residual %.3g\n", pr.alpha_x, pr.range_x[0],
                          pr.range_x[1], pr.residual[0]));
    PetscCall(PetscPrintf(comm, "  m %.3f (lambda_Z %.4f), C12 residual %.3g\n", pr.m, pr.threshold_z, pr.residual[1]));
    PetscCall(PetscPrintf(comm, "  alpha_Y %.5g 1/um over [%.4g, %.4g] um, residual %.3g\n", pr.alpha_y, pr.range_y[0],
                          pr.range_y[1], pr.residual[2]));
    PetscCall(PetscPrintf(comm, "  isotropy: alpha_X on x, y, z = %.4g, %.4g, %.4g (spread %.1f %%)\n",
                          pr.alpha_x_axis[0], pr.alpha_x_axis[1], pr.alpha_x_axis[2], 100 * pr.isotropy_spread));
  } else {
    const SMFitResult *r = &cand[best];
    if (ncand > 1) {
      PetscCall(PetscPrintf(comm, "  candidate  alpha [1/um]  residual\n"));
      for (int c = 0; c < ncand; c++)
        PetscCall(PetscPrintf(comm, "  %-5s k=%d  %12.5g  %.4g%s\n", sm_model_names[cand[c].type], cand[c].dof,
                              cand[c].alpha, cand[c].residual, c == best ? "  <- selected" : ""));
    }
    PetscCall(PetscPrintf(comm, "  model %s", sm_model_names[r->type]));
    if (r->type == SM_MODEL_CHI2) PetscCall(PetscPrintf(comm, " (k = %d)", r->dof));
    PetscCall(PetscPrintf(comm, ": p %.5f (sigma %.2g), alpha %.5g 1/um, residual %.3g over [%.4g, %.4g] um\n",
                          r->volume_fraction, r->sigma_volume_fraction, r->alpha, r->residual, r->range[0],
                          r->range[1]));
    PetscCall(PetscPrintf(comm, "  isotropy: alpha on x, y, z = %.4g, %.4g, %.4g (spread %.1f %%)\n", r->alpha_axis[0],
                          r->alpha_axis[1], r->alpha_axis[2], 100 * r->isotropy_spread));
  }
  PetscCall(PetscPrintf(comm, "  wrote %s and %s\n", o->out, o->json));
  for (int c = 0; c < ncand; c++) PetscCall(sm_fit_result_free(&cand[c]));
  PetscCall(sm_fit_pluri_result_free(&pr));
  PetscCall(sm_fit_data_free(&d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_fit(MPI_Comm comm)
{
  SMFitCmdOptions o;
  SMVolume        vol = NULL;
  SMGrid          grid;
  SMGridInfo      g;
  PetscBool       set_in = PETSC_FALSE, periodic;
  int             np;
  PetscErrorCode  ierr;
  double          t0 = sm_sys_wtime();

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  PetscCall(sm_fit_read_options(comm, &o, &set_in));
  PetscCall(sm_fft_flags_from_options(comm, &o.fit.fft_flags));
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "fit"));
  PetscCheck(set_in && o.in[0], comm, PETSC_ERR_ARG_WRONG, "fit needs an input image: -i FILE.h5");
  {
    /* fail on unwritable outputs before reading anything large */
    FILE *probe = NULL;
    PetscCall(sm_text_open(comm, o.out, &probe));
    PetscCall(sm_text_close(comm, o.out, &probe, PETSC_FALSE));
    PetscCall(sm_text_open(comm, o.json, &probe));
    PetscCall(sm_text_close(comm, o.json, &probe, PETSC_FALSE));
  }

  PetscCall(sm_image_read(comm, o.in, &o.image, &vol));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, NULL));
  PetscCall(sm_volume_get_periodic(vol, &periodic));
  if (o.fit.periodic_set) periodic = o.fit.periodic;
  PetscCall(PetscPrintf(
      comm, "stochmorph fit: %s, %lld x %lld x %lld voxels of %g x %g x %g um, %d phases, %s; model %s\n", o.in,
      (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (double)g.h[0], (double)g.h[1], (double)g.h[2], np,
      periodic ? "periodic" : "non-periodic", o.kind == SM_FIT_AUTO ? "auto" : sm_model_names[o.kind]));
  {
    /* the two-point functions are the fit's largest allocation: of the three phases (pluri), else of the indicator of
       the fitted phase (two phases) */
    double bytes;
    PetscCall(sm_morph_two_point_memory_estimate(grid, o.kind == SM_FIT_PLURI ? np : 2, periodic, &bytes));
    PetscCall(sm_app_check_memory(comm, bytes, "Fitting this image"));
  }
  ierr = sm_fit_body(comm, &o, vol);
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid)); /* the reader created the grid; the volume only borrows it */
  PetscCall(ierr);
  PetscCall(PetscPrintf(comm, "  done in %.2f s\n", sm_sys_wtime() - t0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
