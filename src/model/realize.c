/* Realisation of an excursion-set model on a grid: Gaussian fields -> thresholds -> labels. */
#include <stochmorph/model.h>
#include <stochmorph/version.h>
#include <stochmorph/log.h>
#include <math.h>

static PetscBool sm_model_verbose = PETSC_FALSE;

void sm_model_set_verbose(PetscBool verbose) { sm_model_verbose = verbose; }

/* Progress line on rank 0 with elapsed time (the command drivers turn these on; library users get PetscInfo). */
static PetscErrorCode sm_progress(MPI_Comm comm, double t0, const char *what)
{
  PetscFunctionBeginUser;
  PetscCall(PetscInfo(NULL, "%s (%.2f s)\n", what, sm_sys_wtime() - t0));
  if (sm_model_verbose) PetscCall(PetscPrintf(comm, "  [%7.2f s] %s\n", sm_sys_wtime() - t0, what));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_set_attr_real(SMVolume vol, const char *key, double v)
{
  char buf[64];

  PetscFunctionBeginUser;
  sm_sys_format_real(v, buf, sizeof(buf));
  PetscCall(sm_volume_set_attr(vol, key, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_set_attr_int(SMVolume vol, const char *key, long long v)
{
  char buf[64];

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "%lld", v));
  PetscCall(sm_volume_set_attr(vol, key, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The model section as options text: what generate needs to draw this twin again. */
PetscErrorCode sm_model_params_options_text(const SMModelParams *p, char *buf, size_t len)
{
  char a[32], b[32], c[32], d[32], e[32];

  PetscFunctionBeginUser;
  if (p->type == SM_MODEL_PLURI) {
    sm_sys_format_real(p->volume_fraction[1], a, sizeof(a));
    sm_sys_format_real(p->volume_fraction[2], b, sizeof(b));
    sm_sys_format_real(p->alpha_x, c, sizeof(c));
    sm_sys_format_real(p->alpha_y, d, sizeof(d));
    sm_sys_format_real(p->m, e, sizeof(e));
    PetscCall(PetscSNPrintf(buf, len,
                            "-model pluri -model_covariance %s -model_volume_fractions %s,%s -model_alpha_x %s -model_alpha_y %s "
                            "-model_m %s",
                            sm_covariance_names[p->covariance], a, b, c, d, e));
  } else {
    char dof[32] = "";
    sm_sys_format_real(p->alpha, a, sizeof(a));
    sm_sys_format_real(p->volume_fraction[1], b, sizeof(b));
    if (p->type == SM_MODEL_CHI2) PetscCall(PetscSNPrintf(dof, sizeof(dof), " -model_dof %d", p->dof));
    PetscCall(PetscSNPrintf(buf, len, "-model %s%s -model_covariance %s -model_alpha %s -model_volume_fraction %s",
                            sm_model_names[p->type], dof, sm_covariance_names[p->covariance], a, b));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_get_options_text(SMModel model, char *buf, size_t len)
{
  SMModelParams p;

  PetscFunctionBeginUser;
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_model_params_options_text(&p, buf, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Copy the unpadded field of the FFT buffer into (or add its square to) a compact slab array. */
static void sm_gather_field(const double *r, int64_t nrows, int64_t nx, int64_t stride, double *out, int mode)
{
  for (int64_t row = 0; row < nrows; row++) {
    const double *src = r + row * stride;
    double       *dst = out + row * nx;
    if (mode == 0)
      for (int64_t i = 0; i < nx; i++) dst[i] = src[i];
    else if (mode == 1)
      for (int64_t i = 0; i < nx; i++) dst[i] = src[i] * src[i];
    else
      for (int64_t i = 0; i < nx; i++) dst[i] += src[i] * src[i];
  }
}

static PetscErrorCode sm_report_spectrum(MPI_Comm comm, SMSpectrum spec, const char *name)
{
  SMSpectrumStats st;

  PetscFunctionBeginUser;
  PetscCall(sm_spectrum_get_stats(spec, &st));
  if (st.clipped_fraction > 0)
    PetscCall(PetscPrintf(comm,
                          "  spectrum %s: %.3g %% of the modes were negative and clipped (%.3g %% of the variance); "
                          "%s\n",
                          name, 100 * st.clipped_fraction, 100 * st.clipped_weight,
                          st.clipped_weight > 1e-3 ? "WARNING: the box is small for this correlation length" : "negligible"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_model_generate(SMModel model, SMGrid grid, uint64_t seed, uint64_t realization, unsigned fft_flags,
                                 SMH5Writer fields, SMVolume *out)
{
  SMModelParams   p;
  SMGridInfo      g;
  SMFFT           fft = NULL;
  SMFFTInfo       fi;
  SMSpectrum      spec = NULL;
  SMSpectrumStats st;
  SMVolume        vol;
  uint8_t        *lab;
  double         *acc = NULL, t0 = sm_sys_wtime();
  MPI_Comm        comm = sm_grid_comm(grid);
  int64_t         nrows;
  char            buf[512];

  PetscFunctionBeginUser;
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_create(grid, p.nphases, p.phase_names, &vol));
  PetscCall(sm_volume_set_periodic(vol, PETSC_TRUE));
  PetscCall(sm_volume_get_labels(vol, &lab));
  PetscCall(sm_fft_create(grid, fft_flags, &fft));
  PetscCall(sm_fft_get_info(fft, &fi));
  PetscCall(sm_progress(comm, t0, "FFT planned"));
  nrows = g.z_local * g.n[1];

  if (p.type != SM_MODEL_PLURI) {
    int nfields = p.type == SM_MODEL_CHI2 ? p.dof : 1;
    PetscCall(sm_spectrum_create(fft, p.covariance, p.alpha, &spec));
    PetscCall(sm_report_spectrum(comm, spec, "X"));
    PetscCall(sm_spectrum_get_stats(spec, &st));
    PetscCall(sm_progress(comm, t0, "covariance spectrum computed"));
    if (nfields > 1) PetscCall(PetscMalloc1((size_t)g.n_local, &acc));
    for (int f = 0; f < nfields; f++) {
      PetscCall(sm_field_synthesize(fft, spec, seed, realization, (uint32_t)f));
      if (fields) {
        PetscCall(PetscSNPrintf(buf, sizeof(buf), "X%d", f + 1));
        PetscCall(sm_h5_writer_write_field(fields, grid, buf, sm_fft_real(fft), fi.nx_padded));
      }
      if (nfields > 1) sm_gather_field(sm_fft_real(fft), nrows, g.n[0], fi.nx_padded, acc, f == 0 ? 1 : 2);
      PetscCall(PetscSNPrintf(buf, sizeof(buf), "Gaussian field %d/%d drawn", f + 1, nfields));
      PetscCall(sm_progress(comm, t0, buf));
    }
    PetscCall(PetscLogEventBegin(SM_EVENT_Threshold, 0, 0, 0, 0));
    {
      const double lambda = p.threshold;
      if (nfields > 1) {
        for (int64_t v = 0; v < g.n_local; v++) lab[v] = acc[v] >= lambda;
      } else {
        const double *r      = sm_fft_real(fft);
        const int     square = p.type == SM_MODEL_CHI2;
        for (int64_t row = 0; row < nrows; row++)
          for (int64_t i = 0; i < g.n[0]; i++) {
            double x               = r[row * fi.nx_padded + i];
            lab[row * g.n[0] + i] = (square ? x * x : x) >= lambda;
          }
      }
    }
    PetscCall(PetscLogEventEnd(SM_EVENT_Threshold, 0, 0, 0, 0));
    PetscCall(sm_set_attr_real(vol, "model_alpha", p.alpha));
    PetscCall(sm_set_attr_real(vol, "model_volume_fraction", p.volume_fraction[1]));
    PetscCall(sm_set_attr_real(vol, "model_threshold", p.threshold));
    if (p.type == SM_MODEL_CHI2) PetscCall(sm_set_attr_int(vol, "model_dof", p.dof));
  } else {
    const double sm = sqrt(p.m), sq = sqrt(1 - p.m);
    PetscCall(PetscMalloc1((size_t)g.n_local, &acc));
    PetscCall(sm_spectrum_create(fft, p.covariance, p.alpha_x, &spec));
    PetscCall(sm_report_spectrum(comm, spec, "X"));
    PetscCall(sm_spectrum_get_stats(spec, &st));
    PetscCall(sm_field_synthesize(fft, spec, seed, realization, 0));
    if (fields) PetscCall(sm_h5_writer_write_field(fields, grid, "X", sm_fft_real(fft), fi.nx_padded));
    sm_gather_field(sm_fft_real(fft), nrows, g.n[0], fi.nx_padded, acc, 0);
    PetscCall(sm_spectrum_destroy(&spec));
    PetscCall(sm_progress(comm, t0, "Gaussian field X drawn"));
    /* the Y filter reuses the FFT buffer as work space: X is safe in acc */
    PetscCall(sm_spectrum_create(fft, p.covariance, p.alpha_y, &spec));
    PetscCall(sm_report_spectrum(comm, spec, "Y"));
    PetscCall(sm_field_synthesize(fft, spec, seed, realization, 1));
    if (fields) PetscCall(sm_h5_writer_write_field(fields, grid, "Y", sm_fft_real(fft), fi.nx_padded));
    PetscCall(sm_progress(comm, t0, "Gaussian field Y drawn"));
    PetscCall(PetscLogEventBegin(SM_EVENT_Threshold, 0, 0, 0, 0));
    {
      const double *r = sm_fft_real(fft), lx = p.threshold, lz = p.threshold_z;
      for (int64_t row = 0; row < nrows; row++)
        for (int64_t i = 0; i < g.n[0]; i++) {
          int64_t v = row * g.n[0] + i;
          double  x = acc[v], z = sm * x + sq * r[row * fi.nx_padded + i];
          lab[v]    = x >= lx ? 1 : (z >= lz ? 2 : 0);
        }
    }
    PetscCall(PetscLogEventEnd(SM_EVENT_Threshold, 0, 0, 0, 0));
    PetscCall(sm_set_attr_real(vol, "model_alpha_x", p.alpha_x));
    PetscCall(sm_set_attr_real(vol, "model_alpha_y", p.alpha_y));
    PetscCall(sm_set_attr_real(vol, "model_m", p.m));
    PetscCall(sm_set_attr_real(vol, "model_volume_fraction_active", p.volume_fraction[1]));
    PetscCall(sm_set_attr_real(vol, "model_volume_fraction_carbon", p.volume_fraction[2]));
    PetscCall(sm_set_attr_real(vol, "model_threshold_x", p.threshold));
    PetscCall(sm_set_attr_real(vol, "model_threshold_z", p.threshold_z));
  }
  PetscCall(PetscFree(acc));
  PetscCall(sm_spectrum_destroy(&spec));
  PetscCall(sm_fft_destroy(&fft));

  PetscCall(sm_volume_set_attr(vol, "model", sm_model_names[p.type]));
  PetscCall(sm_volume_set_attr(vol, "model_covariance", sm_covariance_names[p.covariance]));
  PetscCall(sm_model_params_options_text(&p, buf, sizeof(buf)));
  PetscCall(sm_volume_set_attr(vol, "model_options", buf));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "%llu", (unsigned long long)seed));
  PetscCall(sm_volume_set_attr(vol, "seed", buf));
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "%llu", (unsigned long long)realization));
  PetscCall(sm_volume_set_attr(vol, "realization", buf));
  PetscCall(sm_set_attr_real(vol, "spectrum_clipped_fraction", st.clipped_fraction));
  PetscCall(sm_volume_set_attr(vol, "code_version", sm_version_code()));
  PetscCall(sm_volume_set_attr(vol, "generator", "stochmorph generate: spectral synthesis, Philox4x32-10 Fourier-space noise"));
  PetscCall(sm_progress(comm, t0, "labels thresholded"));
  *out = vol;
  PetscFunctionReturn(PETSC_SUCCESS);
}
