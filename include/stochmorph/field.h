/* Spectral synthesis of stationary Gaussian random fields on the periodic grid (SPEC 2).
 *
 * X = IDFT( sqrt(c^) * W^ ), with c^ the DFT of the periodised covariance c[n] = rho(d(n)) (negative values
 * clipped to zero and reported) and W^ Hermitian complex white noise drawn directly in Fourier space from a
 * Philox counter-based generator keyed by (seed, realization, field) with the global frequency index as counter:
 * a field is a pure function of (covariance, grid, voxel size, seed, realization, field), whatever the rank count.
 * Normalised analytically so that Var X = 1 exactly for the clipped spectrum. */
#ifndef STOCHMORPH_FIELD_H
#define STOCHMORPH_FIELD_H

#include <stochmorph/fft.h>
#include <stochmorph/theory.h>

typedef struct _p_SMSpectrum *SMSpectrum;

typedef struct {
  double clipped_fraction; /* fraction of Fourier modes whose covariance spectrum was negative and set to 0 */
  double clipped_weight;   /* sum |negative values| / sum positive values: the share of variance lost */
  double variance;         /* (1/N) sum max(c^, 0): the variance before normalisation (1 without clipping) */
} SMSpectrumStats;

/* Compute the filter sqrt(c^) for covariance family cov with parameter alpha [1/um] on fft's grid. Uses fft's
   buffer as work space. Collective. */
PetscErrorCode sm_spectrum_create(SMFFT fft, SMCovarianceType cov, double alpha, SMSpectrum *spec);
PetscErrorCode sm_spectrum_destroy(SMSpectrum *spec);
PetscErrorCode sm_spectrum_get_stats(SMSpectrum spec, SMSpectrumStats *stats);

/* Draw field number `field` of (seed, realization) into sm_fft_real(fft) (padded rows, this rank's z-slab),
   unit variance. Collective. */
PetscErrorCode sm_field_synthesize(SMFFT fft, SMSpectrum spec, uint64_t seed, uint64_t realization, uint32_t field);

/* The Fourier coefficients of that field (sqrt(c^) times Hermitian noise) in sm_fft_complex(fft), before the
   inverse transform: sm_field_synthesize = this + sm_fft_backward. Collective only through the caller. */
PetscErrorCode sm_field_fill_spectrum(SMFFT fft, SMSpectrum spec, uint64_t seed, uint64_t realization, uint32_t field);

/* Standard normal pair for a 64-bit counter under (seed, realization, field): the noise source, exposed for tests. */
void sm_field_normal_pair(uint64_t seed, uint64_t realization, uint32_t field, uint64_t counter, double *n1, double *n2);

#endif
