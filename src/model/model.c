/* Excursion-set models: options, derived thresholds, theory hooks and realisation on a grid. */
#include <stochmorph/model.h>
#include <math.h>
#include <time.h>

const char *const sm_model_names[] = {"gauss", "chi2", "pluri", "SMModelType", "SM_MODEL_", NULL};

struct _p_SMModel {
  MPI_Comm      comm;
  SMModelParams p;
};

static const char *const sm_two_phase_names[] = {"pore", "solid"};
static const char *const sm_pluri_names[]     = {"pore", "active", "carbon"};

PetscErrorCode sm_model_create_from_options(MPI_Comm comm, SMModel *model)
{
  SMModel   mdl;
  PetscInt  type = SM_MODEL_CHI2, cov = SM_COV_GAUSS, dof = 2;
  PetscReal alpha = 7.28, p = 0.46, lambda = 0, ax = 16.6, ay = 26.5, m = 0.15, eps[2] = {0.5148, 0.3372};
  PetscReal e1 = 0, e2 = 0, lx = 0, lz = 0;
  PetscInt  neps = 2;
  PetscBool set_p, set_l, set_eps, set_e1, set_e2, set_lx, set_lz;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&mdl));
  mdl->comm = comm;
  PetscOptionsBegin(comm, NULL, "Model options (SPEC 3; default: the F850 NMC model)", "SMModel");
  PetscCall(PetscOptionsEList("-model", "Excursion-set model", "sm_model_create_from_options", sm_model_names, SM_MODEL_NUM,
                              sm_model_names[type], &type, NULL));
  PetscCall(PetscOptionsEList("-model_covariance", "Covariance family of the Gaussian fields", "sm_model_create_from_options",
                              sm_covariance_names, SM_COV_NUM, sm_covariance_names[cov], &cov, NULL));
  if (type != SM_MODEL_PLURI) {
    PetscCall(PetscOptionsReal("-model_alpha", "Covariance parameter alpha [1/um] (gauss: rho = exp(-(alpha h)^2))",
                               "sm_model_create_from_options", alpha, &alpha, NULL));
    PetscCall(PetscOptionsReal("-model_volume_fraction", "Target volume fraction of the solid phase, in (0,1)",
                               "sm_model_create_from_options", p, &p, &set_p));
    PetscCall(PetscOptionsReal("-model_threshold", "Threshold lambda instead of a volume fraction",
                               "sm_model_create_from_options", lambda, &lambda, &set_l));
    if (type == SM_MODEL_CHI2)
      PetscCall(PetscOptionsInt("-model_dof", "Degrees of freedom k of the chi2 model (1 to 32)", "sm_model_create_from_options",
                                dof, &dof, NULL));
  } else {
    PetscCall(PetscOptionsRealArray("-model_volume_fractions", "Target volume fractions of active and carbon: E1,E2",
                                    "sm_model_create_from_options", eps, &neps, &set_eps));
    PetscCall(PetscOptionsReal("-model_volume_fraction_active", "Target volume fraction of the active phase",
                               "sm_model_create_from_options", eps[0], &e1, &set_e1));
    PetscCall(PetscOptionsReal("-model_volume_fraction_carbon", "Target volume fraction of the carbon phase",
                               "sm_model_create_from_options", eps[1], &e2, &set_e2));
    PetscCall(PetscOptionsReal("-model_alpha_x", "Covariance parameter of field X [1/um]", "sm_model_create_from_options", ax,
                               &ax, NULL));
    PetscCall(PetscOptionsReal("-model_alpha_y", "Covariance parameter of field Y [1/um]", "sm_model_create_from_options", ay,
                               &ay, NULL));
    PetscCall(PetscOptionsReal("-model_m", "Mixing weight m in [0,1]: Z = sqrt(m) X + sqrt(1-m) Y",
                               "sm_model_create_from_options", m, &m, NULL));
    PetscCall(PetscOptionsReal("-model_threshold_x", "Threshold lambda_X instead of the active volume fraction",
                               "sm_model_create_from_options", lx, &lx, &set_lx));
    PetscCall(PetscOptionsReal("-model_threshold_z", "Threshold lambda_Z instead of the carbon volume fraction",
                               "sm_model_create_from_options", lz, &lz, &set_lz));
  }
  PetscOptionsEnd();

  mdl->p.type       = (SMModelType)type;
  mdl->p.covariance = (SMCovarianceType)cov;
  if (type != SM_MODEL_PLURI) {
    PetscCheck(alpha > 0 && PetscIsNormalReal(alpha), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-model_alpha must be positive (got %g 1/um)", (double)alpha);
    PetscCheck(!(set_p && set_l), comm, PETSC_ERR_ARG_INCOMP,
               "Give either -model_volume_fraction or -model_threshold, not both");
    mdl->p.alpha       = alpha;
    mdl->p.dof         = type == SM_MODEL_CHI2 ? (int)dof : 0;
    mdl->p.nphases     = 2;
    mdl->p.phase_names[0] = sm_two_phase_names[0];
    mdl->p.phase_names[1] = sm_two_phase_names[1];
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
    mdl->p.threshold          = lambda;
    mdl->p.volume_fraction[1] = p;
    mdl->p.volume_fraction[0] = 1 - p;
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
    mdl->p.alpha_x            = ax;
    mdl->p.alpha_y            = ay;
    mdl->p.m                  = m;
    mdl->p.threshold          = lx;
    mdl->p.threshold_z        = lz;
    mdl->p.nphases            = 3;
    for (int i = 0; i < 3; i++) mdl->p.phase_names[i] = sm_pluri_names[i];
    mdl->p.volume_fraction[1] = eps[0];
    mdl->p.volume_fraction[2] = eps[1];
    mdl->p.volume_fraction[0] = 1 - eps[0] - eps[1];
  }
  *model = mdl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_destroy(SMModel *model)
{
  PetscFunctionBeginUser;
  if (!model || !*model) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(*model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_get_params(SMModel model, SMModelParams *params)
{
  PetscFunctionBeginUser;
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
