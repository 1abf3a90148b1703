/* Excursion-set models: options, derived thresholds, theory hooks and realisation on a grid. */
#include <stochmorph/model.h>
#include <math.h>
#include <string.h>
#include <time.h>

const char *const sm_model_names[] = {"gauss", "chi2", "pluri", "SMModelType", "SM_MODEL_", NULL};

/* What the user gives (the keys of SPEC 9), before thresholds and fractions are derived from each other. */
typedef struct {
  PetscInt  type, cov, dof;
  PetscReal alpha, p, lambda, ax, ay, m, eps[2], e1, e2, lx, lz;
  PetscInt  neps;
  PetscBool set_p, set_l, set_eps, set_e1, set_e2, set_lx, set_lz;
} SMModelInputs;

struct _p_SMModel {
  MPI_Comm      comm;
  char         *prefix;
  SMModelInputs in;
  SMModelParams p;
  PetscBool     setup;
};

static const char *const sm_two_phase_names[] = {"pore", "solid"};
static const char *const sm_pluri_names[]     = {"pore", "active", "carbon"};

PetscErrorCode sm_model_create(MPI_Comm comm, SMModel *model)
{
  SMModel mdl;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&mdl));
  mdl->comm = comm;
  /* the F850 NMC model; the pluri defaults are the NVP/C model of SPEC 3.4 */
  mdl->in = (SMModelInputs){.type = SM_MODEL_CHI2, .cov = SM_COV_GAUSS, .dof = 2, .alpha = 7.28, .p = 0.46, .ax = 16.6,
                            .ay = 26.5, .m = 0.15, .eps = {0.5148, 0.3372}, .neps = 2};
  *model = mdl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_set_options_prefix(SMModel model, const char *prefix)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(model->prefix));
  if (prefix && prefix[0]) PetscCall(PetscStrallocpy(prefix, &model->prefix));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_set_from_options(SMModel model)
{
  SMModelInputs *in = &model->in;

  PetscFunctionBeginUser;
  PetscOptionsBegin(model->comm, model->prefix, "Model options (SPEC 3; default: the F850 NMC model)", "SMModel");
  PetscCall(PetscOptionsEList("-model", "Excursion-set model", "sm_model_set_from_options", sm_model_names, SM_MODEL_NUM,
                              sm_model_names[in->type], &in->type, NULL));
  PetscCall(PetscOptionsEList("-model_covariance", "Covariance family of the Gaussian fields", "sm_model_set_from_options",
                              sm_covariance_names, SM_COV_NUM, sm_covariance_names[in->cov], &in->cov, NULL));
  if (in->type != SM_MODEL_PLURI) {
    PetscBool set;
    PetscCall(PetscOptionsReal("-model_alpha", "Covariance parameter alpha [1/um] (gauss: rho = exp(-(alpha h)^2))",
                               "sm_model_set_from_options", in->alpha, &in->alpha, NULL));
    PetscCall(PetscOptionsReal("-model_volume_fraction", "Target volume fraction of the solid phase, in (0,1)",
                               "sm_model_set_from_options", in->p, &in->p, &set));
    in->set_p = (PetscBool)(in->set_p || set);
    PetscCall(PetscOptionsReal("-model_threshold", "Threshold lambda instead of a volume fraction", "sm_model_set_from_options",
                               in->lambda, &in->lambda, &set));
    in->set_l = (PetscBool)(in->set_l || set);
    if (in->type == SM_MODEL_CHI2)
      PetscCall(PetscOptionsInt("-model_dof", "Degrees of freedom k of the chi2 model (1 to 32)", "sm_model_set_from_options",
                                in->dof, &in->dof, NULL));
  } else {
    PetscBool set;
    in->neps = 2;
    PetscCall(PetscOptionsRealArray("-model_volume_fractions", "Target volume fractions of active and carbon: E1,E2",
                                    "sm_model_set_from_options", in->eps, &in->neps, &set));
    if (!set) in->neps = 2;
    in->set_eps = (PetscBool)(in->set_eps || set);
    PetscCall(PetscOptionsReal("-model_volume_fraction_active", "Target volume fraction of the active phase",
                               "sm_model_set_from_options", in->eps[0], &in->e1, &set));
    in->set_e1 = (PetscBool)(in->set_e1 || set);
    PetscCall(PetscOptionsReal("-model_volume_fraction_carbon", "Target volume fraction of the carbon phase",
                               "sm_model_set_from_options", in->eps[1], &in->e2, &set));
    in->set_e2 = (PetscBool)(in->set_e2 || set);
    PetscCall(PetscOptionsReal("-model_alpha_x", "Covariance parameter of field X [1/um]", "sm_model_set_from_options", in->ax,
                               &in->ax, NULL));
    PetscCall(PetscOptionsReal("-model_alpha_y", "Covariance parameter of field Y [1/um]", "sm_model_set_from_options", in->ay,
                               &in->ay, NULL));
    PetscCall(PetscOptionsReal("-model_m", "Mixing weight m in [0,1]: Z = sqrt(m) X + sqrt(1-m) Y", "sm_model_set_from_options",
                               in->m, &in->m, NULL));
    PetscCall(PetscOptionsReal("-model_threshold_x", "Threshold lambda_X instead of the active volume fraction",
                               "sm_model_set_from_options", in->lx, &in->lx, &set));
    in->set_lx = (PetscBool)(in->set_lx || set);
    PetscCall(PetscOptionsReal("-model_threshold_z", "Threshold lambda_Z instead of the carbon volume fraction",
                               "sm_model_set_from_options", in->lz, &in->lz, &set));
    in->set_lz = (PetscBool)(in->set_lz || set);
  }
  PetscOptionsEnd();
  model->setup = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_set_param(SMModel model, const char *key, double value)
{
  SMModelInputs *in    = &model->in;
  const int      pluri = in->type == SM_MODEL_PLURI, chi2 = in->type == SM_MODEL_CHI2;
  PetscBool      ok    = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCheck(isfinite(value), model->comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: the value %g is not a finite number", key, value);
  if (!strcmp(key, "model_alpha") && !pluri) in->alpha = value;
  else if (!strcmp(key, "model_volume_fraction") && !pluri) in->p = value, in->set_p = PETSC_TRUE, in->set_l = PETSC_FALSE;
  else if (!strcmp(key, "model_threshold") && !pluri) in->lambda = value, in->set_l = PETSC_TRUE, in->set_p = PETSC_FALSE;
  else if (!strcmp(key, "model_dof") && chi2) {
    PetscCheck(value == floor(value), model->comm, PETSC_ERR_ARG_WRONG, "model_dof must be a whole number (got %g)", value);
    in->dof = (PetscInt)value;
  } else if (!strcmp(key, "model_alpha_x") && pluri) in->ax = value;
  else if (!strcmp(key, "model_alpha_y") && pluri) in->ay = value;
  else if (!strcmp(key, "model_m") && pluri) in->m = value;
  else if (!strcmp(key, "model_volume_fraction_active") && pluri) {
    in->e1 = value, in->set_e1 = PETSC_TRUE, in->set_lx = PETSC_FALSE;
    if (in->set_eps) in->set_eps = PETSC_FALSE, in->set_e2 = PETSC_TRUE, in->e2 = in->eps[1];
  } else if (!strcmp(key, "model_volume_fraction_carbon") && pluri) {
    in->e2 = value, in->set_e2 = PETSC_TRUE, in->set_lz = PETSC_FALSE;
    if (in->set_eps) in->set_eps = PETSC_FALSE, in->set_e1 = PETSC_TRUE, in->e1 = in->eps[0];
  } else if (!strcmp(key, "model_threshold_x") && pluri) in->lx = value, in->set_lx = PETSC_TRUE, in->set_e1 = PETSC_FALSE;
  else if (!strcmp(key, "model_threshold_z") && pluri) in->lz = value, in->set_lz = PETSC_TRUE, in->set_e2 = PETSC_FALSE;
  else ok = PETSC_FALSE;
  PetscCheck(ok, model->comm, PETSC_ERR_ARG_WRONG,
             "%s is not a numeric parameter of the %s model (%s: %s)", key, sm_model_names[in->type], sm_model_names[in->type],
             pluri ? "model_volume_fraction_active, model_volume_fraction_carbon, model_alpha_x, model_alpha_y, model_m, "
                     "model_threshold_x, model_threshold_z"
                   : chi2 ? "model_volume_fraction, model_threshold, model_alpha, model_dof"
                          : "model_volume_fraction, model_threshold, model_alpha");
  model->setup = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_set_up(SMModel model)
{
  const SMModelInputs *in = &model->in;
  MPI_Comm             comm = model->comm;
  PetscInt             type = in->type, cov = in->cov, dof = in->dof, neps = in->neps;
  PetscReal            alpha = in->alpha, p = in->p, lambda = in->lambda, ax = in->ax, ay = in->ay, m = in->m;
  PetscReal            eps[2] = {in->eps[0], in->eps[1]}, e1 = in->e1, e2 = in->e2, lx = in->lx, lz = in->lz;
  PetscBool            set_p = in->set_p, set_l = in->set_l, set_eps = in->set_eps, set_e1 = in->set_e1,
                       set_e2 = in->set_e2, set_lx = in->set_lx, set_lz = in->set_lz;

  PetscFunctionBeginUser;
  if (model->setup) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMemzero(&model->p, sizeof(model->p)));
  model->p.type       = (SMModelType)type;
  model->p.covariance = (SMCovarianceType)cov;
  if (type != SM_MODEL_PLURI) {
    PetscCheck(alpha > 0 && PetscIsNormalReal(alpha), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-model_alpha must be positive (got %g 1/um)", (double)alpha);
    PetscCheck(!(set_p && set_l), comm, PETSC_ERR_ARG_INCOMP,
               "Give either -model_volume_fraction or -model_threshold, not both");
    model->p.alpha       = alpha;
    model->p.dof         = type == SM_MODEL_CHI2 ? (int)dof : 0;
    model->p.nphases     = 2;
    model->p.phase_names[0] = sm_two_phase_names[0];
    model->p.phase_names[1] = sm_two_phase_names[1];
    if (type == SM_MODEL_CHI2)
      PetscCheck(dof >= 1 && dof <= 32, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_dof must be between 1 and 32 (got %d)",
                 (int)dof);
    if (set_l) {
      PetscCheck(PetscIsNormalReal(lambda) || lambda == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_threshold is not finite");
      if (type == SM_MODEL_CHI2) {
        PetscCheck(lambda > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
                   "-model_threshold of the chi2 model must be positive (Y >= 0); got %g", (double)lambda);
        p = sm_chi2_volume_fraction((int)dof, lambda);
      } else p = sm_gauss_volume_fraction(lambda);
      PetscCheck(p > 0 && p < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-model_threshold %g gives a solid volume fraction of %g, which is not inside (0,1)", (double)lambda, (double)p);
    } else {
      PetscCheck(p > 0 && p < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "-model_volume_fraction must lie strictly between 0 and 1 (got %g)", (double)p);
      if (type == SM_MODEL_CHI2) PetscCall(sm_chi2_threshold((int)dof, p, &lambda));
      else PetscCall(sm_gauss_threshold(p, &lambda));
    }
    model->p.threshold          = lambda;
    model->p.volume_fraction[1] = p;
    model->p.volume_fraction[0] = 1 - p;
  } else {
    PetscCheck(ax > 0 && PetscIsNormalReal(ax), comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_alpha_x must be positive (got %g 1/um)",
               (double)ax);
    PetscCheck(ay > 0 && PetscIsNormalReal(ay), comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_alpha_y must be positive (got %g 1/um)",
               (double)ay);
    PetscCheck(m >= 0 && m <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_m must lie in [0,1] (got %g)", (double)m);
    PetscCheck(!(set_eps && (set_e1 || set_e2)), comm, PETSC_ERR_ARG_INCOMP,
               "Give -model_volume_fractions E1,E2 or -model_volume_fraction_active/-model_volume_fraction_carbon, not both");
    if (set_eps)
      PetscCheck(neps == 2, comm, PETSC_ERR_ARG_WRONG, "-model_volume_fractions takes two values E1,E2 (active, carbon); got %d",
                 (int)neps);
    if (set_e1) eps[0] = e1;
    if (set_e2) eps[1] = e2;
    PetscCheck(!(set_lx && (set_eps || set_e1)), comm, PETSC_ERR_ARG_INCOMP,
               "Give either the active volume fraction or -model_threshold_x, not both");
    PetscCheck(!(set_lz && (set_eps || set_e2)), comm, PETSC_ERR_ARG_INCOMP,
               "Give either the carbon volume fraction or -model_threshold_z, not both");
    if (set_lx) eps[0] = sm_gauss_volume_fraction(lx);
    PetscCheck(eps[0] > 0 && eps[0] < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "The active volume fraction must lie strictly between 0 and 1 (got %g)", (double)eps[0]);
    PetscCall(sm_gauss_threshold(eps[0], &lx));
    if (set_lz) eps[1] = sm_pluri_carbon_fraction(lx, lz, m);
    PetscCheck(eps[1] > 0 && eps[1] < 1 && eps[0] + eps[1] < 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "The carbon volume fraction must lie in (0, 1 - active) = (0, %g) (got %g)", 1 - (double)eps[0], (double)eps[1]);
    if (!set_lz) PetscCall(sm_pluri_threshold_z(lx, eps[1], m, &lz));
    model->p.alpha_x            = ax;
    model->p.alpha_y            = ay;
    model->p.m                  = m;
    model->p.threshold          = lx;
    model->p.threshold_z        = lz;
    model->p.nphases            = 3;
    for (int i = 0; i < 3; i++) model->p.phase_names[i] = sm_pluri_names[i];
    model->p.volume_fraction[1] = eps[0];
    model->p.volume_fraction[2] = eps[1];
    model->p.volume_fraction[0] = 1 - eps[0] - eps[1];
  }
  model->setup = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ASCII viewers (PETSC_VIEWER_STDOUT_, files) and string viewers (for tests and logs). */
PetscErrorCode sm_model_view(SMModel model, PetscViewer viewer)
{
  char      text[512], line[1024];
  PetscBool isascii, isstring;
  size_t    len = 0;

  PetscFunctionBeginUser;
  PetscCheck(model->setup, model->comm, PETSC_ERR_ARG_WRONGSTATE, "sm_model_view: call sm_model_set_up first");
  if (!viewer) viewer = PETSC_VIEWER_STDOUT_(model->comm);
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERSTRING, &isstring));
  if (!isascii && !isstring) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_model_get_options_text(model, text, sizeof(text)));
  PetscCall(PetscSNPrintf(line, sizeof(line), "SMModel %s (%d phases): %s\n", sm_model_names[model->p.type], model->p.nphases,
                          text));
  for (int i = 0; i < model->p.nphases; i++) {
    PetscCall(PetscStrlen(line, &len));
    PetscCall(PetscSNPrintf(line + len, sizeof(line) - len, "  phase %d %s: volume fraction %.6g\n", i, model->p.phase_names[i],
                            model->p.volume_fraction[i]));
  }
  PetscCall(PetscStrlen(line, &len));
  if (model->p.type == SM_MODEL_PLURI)
    PetscCall(PetscSNPrintf(line + len, sizeof(line) - len, "  thresholds lambda_X %.10g, lambda_Z %.10g\n", model->p.threshold,
                            model->p.threshold_z));
  else PetscCall(PetscSNPrintf(line + len, sizeof(line) - len, "  threshold lambda %.10g\n", model->p.threshold));
  if (isascii) PetscCall(PetscViewerASCIIPrintf(viewer, "%s", line));
  else PetscCall(PetscViewerStringSPrintf(viewer, "%s", line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_create_from_options(MPI_Comm comm, SMModel *model)
{
  PetscFunctionBeginUser;
  PetscCall(sm_model_create(comm, model));
  PetscCall(sm_model_set_from_options(*model));
  PetscCall(sm_model_set_up(*model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_destroy(SMModel *model)
{
  PetscFunctionBeginUser;
  if (!model || !*model) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*model)->prefix));
  PetscCall(PetscFree(*model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_get_params(SMModel model, SMModelParams *params)
{
  PetscFunctionBeginUser;
  PetscCheck(model->setup, model->comm, PETSC_ERR_ARG_WRONGSTATE, "The model is not set up: call sm_model_set_up first");
  *params = model->p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_bytes_per_voxel(SMModel model, double *bytes)
{
  PetscFunctionBeginUser;
  /* FFT buffer (8) + one filter at a time (4, half spectrum) + labels (1) + an accumulator for chi2 (k >= 2) or the
     stored X of pluri (8); a few per cent for padded rows and FFTW's transpose buffers */
  *bytes = 8 + 4 + 1;
  if ((model->p.type == SM_MODEL_CHI2 && model->p.dof >= 2) || model->p.type == SM_MODEL_PLURI) *bytes += 8;
  *bytes *= 1.05;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_surface_area(SMModel model, double S[3])
{
  const SMModelParams *p = &model->p;

  PetscFunctionBeginUser;
  for (int i = 0; i < 3; i++) S[i] = NAN;
  if (p->type == SM_MODEL_PLURI) {
    double l2x = sm_covariance_families[p->covariance].lambda2(p->alpha_x);
    double l2y = sm_covariance_families[p->covariance].lambda2(p->alpha_y);
    if (l2x > 0 && l2y > 0 && p->m < 1) {
      /* Rice with conditioning: gradients at a point are independent of the field values there, so the area of
         {X = lX} inside {Z < lZ} is S_X * P(Z < lZ | X = lX), and likewise for {Z = lZ} inside {X < lX}. */
      double sm = sqrt(p->m), sq = sqrt(1 - p->m);
      double SX = sm_gauss_surface_area(p->threshold, l2x);
      double SZ = sm_gauss_surface_area(p->threshold_z, p->m * l2x + (1 - p->m) * l2y);
      double a  = sm_normal_cdf((p->threshold_z - sm * p->threshold) / sq);
      double b  = sm_normal_cdf((p->threshold - sm * p->threshold_z) / sq);
      S[1]      = SX;
      S[2]      = SX * (1 - a) + SZ * b;
      S[0]      = SX * a + SZ * b;
    }
  } else {
    double l2 = sm_covariance_families[p->covariance].lambda2(p->alpha);
    if (l2 > 0) {
      S[0] = S[1] = p->type == SM_MODEL_GAUSS ? sm_gauss_surface_area(p->threshold, l2)
                                              : sm_chi2_surface_area(p->dof, p->threshold, l2);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_coverage(SMModel model, int i, int j, double h, double *C)
{
  const SMModelParams *p = &model->p;

  PetscFunctionBeginUser;
  PetscCheck(i >= 0 && j >= 0 && i < p->nphases && j < p->nphases, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Bad phase pair");
  if (i > j) {
    int t = i;
    i     = j;
    j     = t;
  }
  if (p->type != SM_MODEL_PLURI) {
    double r  = sm_covariance_families[p->covariance].rho(p->alpha, h), ps = p->volume_fraction[1];
    double cs = p->type == SM_MODEL_GAUSS ? sm_gauss_coverage(p->threshold, r) : sm_chi2_coverage(p->dof, p->threshold, r);
    *C        = (i == 1) ? cs : (j == 1) ? ps - cs : 1 - 2 * ps + cs;
  } else {
    double rx = sm_covariance_families[p->covariance].rho(p->alpha_x, h);
    double ry = sm_covariance_families[p->covariance].rho(p->alpha_y, h);
    double e1 = p->volume_fraction[1], e2 = p->volume_fraction[2], e0 = p->volume_fraction[0];
    double c11 = sm_pluri_C11(p->threshold, rx), c22 = sm_pluri_C22(p->threshold, p->threshold_z, p->m, rx, ry);
    double c12 = sm_pluri_C12(p->threshold, p->threshold_z, p->m, rx, ry);
    double c01 = e1 - c11 - c12, c02 = e2 - c12 - c22;
    if (i == 1 && j == 1) *C = c11;
    else if (i == 2 && j == 2) *C = c22;
    else if (i == 1 && j == 2) *C = c12;
    else if (i == 0 && j == 1) *C = c01;
    else if (i == 0 && j == 2) *C = c02;
    else *C = e0 - c01 - c02;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
