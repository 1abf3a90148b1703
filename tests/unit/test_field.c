/* Spectral synthesis: noise source, Hermitian Fourier noise, unit variance and the covariance of the fields.
 * Truths: the standard normal moments, the covariance formula rho(h) of SPEC 2 on the periodic grid, and the
 * exact identity r2c(c2r(F)) = N F for Hermitian F. */
#include <stochmorph/field.h>
#include "smtest.h"

/* Empirical covariance of the real field at lag (dx, 0, 0) and (0, 0, dz) on a 1-rank grid. */
static double sm_cov_lag(const double *r, const SMGridInfo *g, int64_t nxp, int dx, int dy, int dz)
{
  double s = 0;
  for (int64_t k = 0; k < g->n[2]; k++)
    for (int64_t j = 0; j < g->n[1]; j++)
      for (int64_t i = 0; i < g->n[0]; i++) {
        int64_t i2 = (i + dx) % g->n[0], j2 = (j + dy) % g->n[1], k2 = (k + dz) % g->n[2];
        s += r[(k * g->n[1] + j) * nxp + i] * r[(k2 * g->n[1] + j2) * nxp + i2];
      }
  return s / (double)g->n_total;
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  {
    /* Philox + Box-Muller: moments of 2e6 normals; mean within 5 SE (5/sqrt(2e6) = 3.5e-3), variance within 5 SE
       (sqrt(2/2e6) * 5 = 5e-3), kurtosis 3 within 5 SE (sqrt(96/2e6)*5 = 0.035); distinct streams uncorrelated */
    const int n = 1000000;
    double    m1 = 0, m2 = 0, m4 = 0, cross = 0;
    for (int i = 0; i < n; i++) {
      double a, b, c, d;
      sm_field_normal_pair(7, 0, 0, (uint64_t)i, &a, &b);
      sm_field_normal_pair(7, 1, 0, (uint64_t)i, &c, &d);
      m1 += a + b;
      m2 += a * a + b * b;
      m4 += a * a * a * a + b * b * b * b;
      cross += a * c;
    }
    m1 /= 2 * n;
    m2 /= 2 * n;
    m4 /= 2 * n;
    cross /= n;
    SM_TEST_CLOSE(m1, 0.0, 3.6e-3, "noise mean");
    SM_TEST_CLOSE(m2, 1.0, 5e-3, "noise variance");
    SM_TEST_CLOSE(m4, 3.0, 0.035, "noise fourth moment");
    SM_TEST_CLOSE(cross, 0.0, 5e-3, "correlation of realisations 0 and 1");
  }
  {
    /* A 48 x 40 x 36 grid with anisotropic voxels: non-cubic, odd and even sizes of the transposed layout. */
    const int64_t   n[3] = {48, 40, 36};
    const PetscReal h[3] = {0.01, 0.012, 0.015};
    const double    alpha = 20.0; /* correlation length 0.05 um = 3-5 voxels: the box holds ~10 lengths */
    SMGrid          grid;
    SMGridInfo      g;
    SMFFT           fft;
    SMFFTInfo       fi;
    SMSpectrum      spec;
    SMSpectrumStats st;
    double         *save, lag_sum[4] = {0, 0, 0, 0}, var_sum = 0;
    const int       R = 40;

    PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
    PetscCall(sm_grid_get_info(grid, &g));
    PetscCall(sm_fft_create(grid, FFTW_ESTIMATE, &fft));
    PetscCall(sm_fft_get_info(fft, &fi));
    PetscCall(sm_spectrum_create(fft, SM_COV_GAUSS, alpha, &spec));
    PetscCall(sm_spectrum_get_stats(spec, &st));
    /* the minimum-image Gaussian covariance is cut at half the box, where it is ~1e-10 here (exp(-(alpha L/2)^2)):
       its DFT may dip below zero by that order, which must cost no measurable variance */
    SM_TEST_TRUE(st.clipped_weight < 1e-9, "gauss covariance spectrum clipped weight %g", st.clipped_weight);
    SM_TEST_CLOSE(st.variance, 1.0, 1e-10, "spectrum variance (1/N) sum c^");

    /* Hermitian consistency: what c2r saw is what r2c returns (times N), so no coefficient was silently dropped */
    {
      int64_t nc = 2 * fi.ky_local * g.n[2] * fi.nkx;
      double  err = 0, scale = 0;
      PetscCall(sm_field_fill_spectrum(fft, spec, 3, 0, 0));
      PetscCall(PetscMalloc1(nc, &save));
      PetscCall(PetscArraycpy(save, sm_fft_real(fft), nc));
      PetscCall(sm_fft_backward(fft));
      PetscCall(sm_fft_forward(fft));
      for (int64_t q = 0; q < nc; q++) {
        err   = PetscMax(err, fabs(sm_fft_real(fft)[q] / (double)g.n_total - save[q]));
        scale = PetscMax(scale, fabs(save[q]));
      }
      /* A wrong pairing (no conjugate, or an unpaired draw) breaks this at order 1. What remains is rounding of the
         spectrum: c^(k) and c^(-k) differ by ~1e-17 c^(0), and the square root turns that into ~1e-9 on modes whose
         variance is ~1e-18: a tolerance of 1e-8 separates the two. */
      SM_TEST_CLOSE(err / scale, 0.0, 1e-8, "r2c(c2r(F)) = N F: the Fourier noise is Hermitian");
      PetscCall(PetscFree(save));
    }

    /* Covariance of the fields vs rho(h) on the periodic grid: average over R realisations. The estimate of the
       variance from one field of N voxels and correlation volume V_c has SE ~ sqrt(2 V_c / V); with V_c = (sqrt(pi/2)
       / alpha)^3 ... here about 0.035 per field, 0.006 over 40 fields: tolerance 0.03 (5 SE). */
    for (int r = 0; r < R; r++) {
      PetscCall(sm_field_synthesize(fft, spec, 11, (uint64_t)r, 0));
      var_sum += sm_cov_lag(sm_fft_real(fft), &g, fi.nx_padded, 0, 0, 0);
      lag_sum[0] += sm_cov_lag(sm_fft_real(fft), &g, fi.nx_padded, 3, 0, 0);
      lag_sum[1] += sm_cov_lag(sm_fft_real(fft), &g, fi.nx_padded, 0, 3, 0);
      lag_sum[2] += sm_cov_lag(sm_fft_real(fft), &g, fi.nx_padded, 0, 0, 2);
      lag_sum[3] += sm_cov_lag(sm_fft_real(fft), &g, fi.nx_padded, 2, 2, 2);
    }
    SM_TEST_CLOSE(var_sum / R, 1.0, 0.03, "field variance");
    SM_TEST_CLOSE(lag_sum[0] / R, exp(-pow(alpha * 3 * h[0], 2)), 0.03, "covariance at (3,0,0)");
    SM_TEST_CLOSE(lag_sum[1] / R, exp(-pow(alpha * 3 * h[1], 2)), 0.03, "covariance at (0,3,0)");
    SM_TEST_CLOSE(lag_sum[2] / R, exp(-pow(alpha * 2 * h[2], 2)), 0.03, "covariance at (0,0,2)");
    SM_TEST_CLOSE(lag_sum[3] / R, exp(-alpha * alpha * 4 * (h[0] * h[0] + h[1] * h[1] + h[2] * h[2])), 0.03,
                  "covariance at (2,2,2)");
    /* fields 0 and 1 of one realisation are independent streams */
    {
      double *a, cross;
      PetscCall(PetscMalloc1(fi.alloc_complex * 2, &a));
      PetscCall(sm_field_synthesize(fft, spec, 11, 0, 0));
      PetscCall(PetscArraycpy(a, sm_fft_real(fft), fi.alloc_complex * 2));
      PetscCall(sm_field_synthesize(fft, spec, 11, 0, 1));
      cross = 0;
      for (int64_t k = 0; k < g.n[2]; k++)
        for (int64_t j = 0; j < g.n[1]; j++)
          for (int64_t i = 0; i < g.n[0]; i++) {
            int64_t q = (k * g.n[1] + j) * fi.nx_padded + i;
            cross += a[q] * sm_fft_real(fft)[q];
          }
      SM_TEST_CLOSE(cross / (double)g.n_total, 0.0, 0.18, "covariance of fields 0 and 1 (5 SE of one field)");
      PetscCall(PetscFree(a));
    }
    PetscCall(sm_spectrum_destroy(&spec));
    /* A box far too small for the correlation length clips and says so */
    PetscCall(sm_spectrum_create(fft, SM_COV_EXPONENTIAL, 2.0, &spec));
    PetscCall(sm_spectrum_get_stats(spec, &st));
    SM_TEST_TRUE(st.clipped_fraction > 0, "exponential covariance with 1/alpha = 0.5 um in a 0.5 um box should clip");
    PetscCall(sm_spectrum_destroy(&spec));
    PetscCall(sm_fft_destroy(&fft));
    PetscCall(sm_grid_destroy(&grid));
  }
  {
    int code = sm_test_finish(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return code;
  }
}
