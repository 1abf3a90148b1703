/* Calibration (SPEC 4): fit the gauss, chi2 (k dof) and pluri-Gaussian models to a labelled 3D image.
 *
 * Two stages. sm_fit_data_create() is the only collective, memory-hungry step: voxel counts and the two-point
 * coverage functions (sm_morph_two_point: periodic estimator for twins, minus-sampling for images). Everything after
 * it works on those curves alone, is serial and cheap, and gives the same numbers on every rank (the curves are
 * bitwise independent of the rank count, so the fitted parameters are too): sm_fit_two_phase(), sm_fit_auto() and
 * sm_fit_pluri(). The building blocks (least squares for alpha, Eq. 18 of the NMC paper for sigma(p), the pluri m
 * scan) are public so that they can be tested against analytic curves. */
#ifndef STOCHMORPH_FIT_H
#define STOCHMORPH_FIT_H

#include <stochmorph/model.h>
#include <stochmorph/morph.h>

/* Settings shared by every fit; sm_fit_options_default() fills the defaults. */
typedef struct {
  SMCovarianceType covariance; /* family of rho_alpha (default gauss) */
  double           threshold;  /* fit range: lags with C(h) - p^2 > threshold (p - p^2); default 0.05 */
  double           max_lag;    /* largest lag of the two-point functions [um]; <= 0: half the shortest side for
                                  periodic volumes, a quarter for images (sm_morph_two_point's default) */
  PetscBool periodic_set;      /* override the volume's own periodic flag with `periodic` */
  PetscBool periodic;
  char      phase[SM_NAME_LEN]; /* two-phase fits: the phase modelled (default "solid") */
  unsigned  fft_flags;          /* FFTW planner flags of the two-point functions */
} SMFitOptions;

PetscErrorCode sm_fit_options_default(SMFitOptions *o);
/* Read -model_covariance, -fit_phase, -fit_threshold, -fit_max_lag, -fit_periodic into o (-help documents them).
   Collective. */
PetscErrorCode sm_fit_options_set_from_options(MPI_Comm comm, SMFitOptions *o);

/* What the fits need from an image: window geometry, volume fractions and the two-point functions. For two-phase
   fits (pluri = PETSC_FALSE) the volume is reduced to the indicator of o->phase first (label 1 of tp: pair (1,1) is
   its coverage); for pluri fits tp holds every pair of the volume's own phases and active/carbon/pore their labels. */
typedef struct {
  int64_t    n[3];     /* window size in voxels (x, y, z) */
  PetscReal  h[3];     /* voxel size [um] */
  PetscBool  periodic; /* estimator used (and pair counts of sigma(p)) */
  PetscBool  pluri;
  int        nphases;                        /* phases of the image */
  double     volume_fraction[SM_MAX_PHASES]; /* two-phase: [1] = the phase; pluri: by label of the image */
  int        active, carbon, pore;           /* pluri: labels of the three phases */
  SMTwoPoint tp;
} SMFitData;

/* Compute SMFitData of vol. Checks (collective errors naming the option): the phase exists (-fit_phase) and is
   neither empty nor the whole image; pluri: the volume has exactly the phases active, carbon, pore; -fit_max_lag
   fits inside the image. Memory: the labels are copied once for a two-phase indicator (1 byte per voxel) plus
   sm_morph_two_point's FFT buffer (8 bytes per voxel; minus-sampling: of the box padded by the largest lag) and,
   for pluri, two stored spectra (16 bytes per voxel). Collective on the volume's communicator. */
PetscErrorCode sm_fit_data_create(SMVolume vol, PetscBool pluri, const SMFitOptions *o, SMFitData *d);
PetscErrorCode sm_fit_data_free(SMFitData *d);

/* Result of a gauss or chi2 fit. Arrays are owned by the result (sm_fit_result_free). */
typedef struct {
  SMModelType      type;
  int              dof; /* chi2 */
  SMCovarianceType covariance;
  double           volume_fraction;       /* p^ */
  double           threshold;             /* lambda^ */
  double           alpha;                 /* alpha^ [1/um] */
  double           residual;              /* RMS of C_model(h) - C_data(h) over the fit range */
  int              bin_lo, bin_hi;        /* fit range as radial bin indices (inclusive) */
  double           range[2];              /* fit range [h_lo, h_hi] [um] */
  double           sigma_volume_fraction; /* standard deviation of p^ (NMC Eq. 18) */
  double           sigma_lag;             /* largest lag [um] summed in Eq. 18 (first zero of C_data - p^2) */
  double           alpha_axis[3];   /* isotropy check: alpha fitted on the x, y, z axis curves (NAN: too few lags) */
  double           isotropy_spread; /* (max - min) / mean of alpha_axis */
  int              nbins;
  double *h, *C_data, *C_model, *rho_data, *rho_model; /* [nbins] radial curves; rho_data NAN if not invertible */
} SMFitResult;

/* Fit the gauss (dof ignored) or chi2 (dof k) model to the phase of d (SPEC 4 steps 1-6). Not collective (same result
   on every rank); user errors (too few lags in the fit range, the correlation reaching past the largest lag) are
   raised on comm, which must be the communicator every rank calls this on (PETSC_COMM_SELF when serial). */
PetscErrorCode sm_fit_two_phase(MPI_Comm comm, const SMFitData *d, SMModelType type, int dof, const SMFitOptions *o,
                                SMFitResult *res);
PetscErrorCode sm_fit_result_free(SMFitResult *res);

/* -model auto: the candidates gauss and chi2 with k = 1 .. SM_FIT_AUTO_KMAX, each fitted as sm_fit_two_phase does,
   ranked by their residual; cand[0] is gauss, cand[k] chi2 with k dof; *best the index of the smallest residual. */
#define SM_FIT_AUTO_KMAX 4
PetscErrorCode sm_fit_auto(MPI_Comm comm, const SMFitData *d, const SMFitOptions *o,
                           SMFitResult cand[SM_FIT_AUTO_KMAX + 1], int *best);

/* Number of mixing weights of the pluri m scan: m = 0, 0.005, ..., 1. */
#define SM_FIT_PLURI_NM 201

/* Result of a pluri fit. Arrays owned by the result (sm_fit_pluri_result_free). */
typedef struct {
  SMCovarianceType covariance;
  double           eps[3];           /* volume fractions of active, carbon, pore */
  double           sigma_eps_active; /* sigma of eps_active (Eq. 18 on C11) */
  double           threshold_x, threshold_z;
  double           alpha_x, alpha_y, m;
  double           residual[3];                        /* RMS of model - data of C11, C12, C22 over their fit ranges */
  double           range_x[2], range_y[2], range_m[2]; /* lags [um] used for alpha_X, alpha_Y and the m scan */
  double           alpha_x_axis[3], isotropy_spread;   /* isotropy check on C11 */
  double           m_grid[SM_FIT_PLURI_NM], m_distance[SM_FIT_PLURI_NM];
  int              nbins;
  double          *h, *C11_data, *C11_model, *C12_data, *C12_model, *C22_data, *C22_model; /* [nbins] */
  double          *rho_x_data, *rho_x_model, *rho_y_data, *rho_y_model; /* [nbins], NAN outside the ranges */
} SMPluriFitResult;

/* Fit the pluri model (SPEC 4, last paragraph): eps_i by voxel count, alpha_X from C11, m by the scan of C12, then
   alpha_Y from C22 at that m. d must come from sm_fit_data_create(..., PETSC_TRUE, ...). Not collective; errors on
   comm as for sm_fit_two_phase. */
PetscErrorCode sm_fit_pluri(MPI_Comm comm, const SMFitData *d, const SMFitOptions *o, SMPluriFitResult *res);
PetscErrorCode sm_fit_pluri_result_free(SMPluriFitResult *res);

/* ---- Building blocks (serial, pure) ---- */

/* Least-squares alpha: minimise sum_i (rho_alpha(h_i) - rho_i)^2 over alpha > 0 for the covariance family cov
   (Brent's method of gsl_min on ln alpha, bracketed by a scan around the pointwise estimates). n >= 1 points with
   h_i > 0 and rho_i in (0, 1). [out] alpha, rss (the minimal sum of squares; may be NULL). */
PetscErrorCode sm_fit_alpha(SMCovarianceType cov, int n, const double *h, const double *rho, double *alpha,
                            double *rss);

/* Standard deviation of a volume fraction estimated on a window of n voxels of size hv (NMC paper Eq. 18):
   sigma^2 = (1/N^2) sum over lag vectors v with |v| <= hb[nb-1] of pairs(v) C0(|v|), with C0 (= C - p^2) given at the
   increasing lag lengths hb[0] = 0 < hb[1] < ... and interpolated linearly, and pairs(v) = N on a periodic window,
   prod_d (n_d - |v_d|) on a minus-sampled one (derivation in fit.c). Not collective. */
PetscErrorCode sm_fit_sigma_volume_fraction(const int64_t n[3], const PetscReal hv[3], PetscBool periodic, int nb,
                                            const double *hb, const double *C0, double *sigma);

/* The pluri m scan: for m_j = j / (nm - 1), lambda_Z from Eq. 9 (eps2 at lambda_X = lX), and the squared distance
   dist[j] = sum_i (C12(lX, lZ, m_j, rX_i) - C12_i)^2 over the n lags with model correlations rX_i of the X field.
   [out] m[nm], dist[nm], *best: the index of the smallest distance. Not collective. */
PetscErrorCode sm_fit_pluri_m_scan(double lX, double eps2, int n, const double *rX, const double *C12, int nm,
                                   double *m, double *dist, int *best);

/* The fitted model as option text on one line ("-model chi2 -model_dof 2 -model_covariance gauss -model_alpha ..."),
   every value in its shortest exact decimal form. pres != NULL: the pluri model. Not collective. */
PetscErrorCode sm_fit_model_options(const SMFitResult *res, const SMPluriFitResult *pres, char *text, size_t len);

/* An SMModel with the fitted parameters (parsed by sm_model_create_from_options from its own options database, so
   the model is exactly what `generate -options_file` will read back). pluri_res != NULL: the pluri model. Collective.
 */
PetscErrorCode sm_fit_create_model(MPI_Comm comm, const SMFitResult *res, const SMPluriFitResult *pluri_res,
                                   SMModel *model);

#endif
