/* Spectral (circulant embedding on the periodic grid) synthesis of Gaussian random fields. */
#include <stochmorph/field.h>
#include <stochmorph/log.h>
#include <Random123/philox.h>
#include <math.h>
#include <string.h>

/* The filter sqrt(c^+ / (variance N)) in the transposed half-spectrum layout [ky_local][nz][nkx], stored by rows of
   kx: row q keeps its values up to its last non-zero one (amp + offset[q], length len[q]); the rest are zero. A smooth
   covariance has a few per cent of non-zero modes, so the filter costs almost no memory and the noise loop skips
   whole rows. */
struct _p_SMSpectrum {
  double         *amp;
  int64_t        *offset;
  int32_t        *len;
  int64_t         nrows;
  SMSpectrumStats stats;
};

static inline int64_t sm_fold(int64_t i, int64_t n) { return i <= n - i ? i : n - i; }

/* Fill the real buffer with the periodised covariance c[n] = rho(d(n)), d the minimum-image physical distance.
   rho depends on the per-axis folded offsets only, so one (ny/2+1) x (nx/2+1) quadrant per plane is evaluated
   and mirrored: four times fewer rho evaluations than voxels. */
static PetscErrorCode sm_spectrum_fill_covariance(SMFFT fft, const SMCovarianceFamily *fam, double alpha)
{
  SMGrid     grid;
  SMGridInfo g;
  SMFFTInfo  fi;
  double    *r = sm_fft_real(fft), *quad;
  int64_t    nx, ny, qx, qy;

  PetscFunctionBeginUser;
  PetscCall(sm_fft_get_info(fft, &fi));
  PetscCall(sm_fft_get_grid(fft, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  nx = g.n[0];
  ny = g.n[1];
  qx = nx / 2 + 1;
  qy = ny / 2 + 1;
  PetscCall(PetscMalloc1((size_t)(qx * qy), &quad));
  for (int64_t k = 0; k < g.z_local; k++) {
    double  dz = (double)sm_fold(g.z_start + k, g.n[2]) * g.h[2];
    int64_t twin = g.n[2] - (g.z_start + k) - g.z_start; /* local index of the plane with the same folded z */
    if (twin >= 0 && twin < k) {
      PetscCall(PetscArraycpy(r + k * ny * fi.nx_padded, r + twin * ny * fi.nx_padded, (size_t)(ny * fi.nx_padded)));
      continue;
    }
    for (int64_t j = 0; j < qy; j++) {
      double dy = (double)j * g.h[1];
      for (int64_t i = 0; i < qx; i++) {
        double dx          = (double)i * g.h[0];
        quad[j * qx + i] = fam->rho(alpha, sqrt(dx * dx + dy * dy + dz * dz));
      }
    }
    for (int64_t j = 0; j < ny; j++) {
      const double *q   = quad + sm_fold(j, ny) * qx;
      double       *row = r + (k * ny + j) * fi.nx_padded;
      for (int64_t i = 0; i < nx; i++) row[i] = q[sm_fold(i, nx)];
      for (int64_t i = nx; i < fi.nx_padded; i++) row[i] = 0.0;
    }
  }
  PetscCall(PetscFree(quad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_spectrum_create(SMFFT fft, SMCovarianceType cov, double alpha, SMSpectrum *spec)
{
  SMSpectrum    s;
  SMGrid        grid;
  SMGridInfo    g;
  SMFFTInfo     fi;
  SMComplex    *c;
  double        loc[4] = {0, 0, 0, -1e300}, glob[4], N, scale;

  PetscFunctionBeginUser;
  PetscCheck(cov >= 0 && cov < SM_COV_NUM, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Unknown covariance family %d", (int)cov);
  PetscCall(sm_fft_get_grid(fft, &grid));
  PetscCheck(alpha > 0 && PetscIsNormalReal(alpha), sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE,
             "The covariance parameter alpha must be positive (got %g 1/um)", alpha);
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_fft_get_info(fft, &fi));
  PetscCall(PetscNew(&s));
  s->nrows = fi.ky_local * g.n[2];
  PetscCall(PetscLogEventBegin(SM_EVENT_Covariance, 0, 0, 0, 0));
  PetscCall(sm_spectrum_fill_covariance(fft, &sm_covariance_families[cov], alpha));
  PetscCall(PetscLogEventEnd(SM_EVENT_Covariance, 0, 0, 0, 0));
  PetscCall(sm_fft_forward(fft));
  c = sm_fft_complex(fft);
  /* c^ is real (c is even); half-spectrum modes 0 < kx < nx - kx stand for two modes of the full spectrum */
  /* Rounding leaves values of order -1e-17 c^(0) where the spectrum is numerically zero: those are zeros, not
     clipping, so only values below -1e-12 c^(0) (c^(0) = sum c, the largest) are reported as clipped. */
  if (fi.ky_local > 0 && fi.ky_start == 0) loc[3] = c[0][0];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &loc[3], 1, MPI_DOUBLE, MPI_MAX, sm_grid_comm(grid)));
  for (int64_t j = 0; j < fi.ky_local; j++)
    for (int64_t k = 0; k < g.n[2]; k++)
      for (int64_t i = 0; i < fi.nkx; i++) {
        int64_t idx = (j * g.n[2] + k) * fi.nkx + i;
        double  v = c[idx][0], mult = (i == 0 || 2 * i == g.n[0]) ? 1.0 : 2.0;
        if (v < 0 && v > -1e-12 * loc[3]) v = 0;
        if (v < 0) {
          loc[0] += mult;
          loc[1] += -v * mult;
          v = 0;
        } else loc[2] += v * mult;
        c[idx][0] = v; /* keep the clipped spectrum in place until it is packed below */
      }
  PetscCallMPI(MPI_Allreduce(loc, glob, 3, MPI_DOUBLE, MPI_SUM, sm_grid_comm(grid)));
  N                          = (double)g.n_total;
  s->stats.clipped_fraction  = glob[0] / N;
  s->stats.clipped_weight    = glob[2] > 0 ? glob[1] / glob[2] : 0;
  s->stats.variance          = glob[2] / N;
  PetscCheck(glob[2] > 0, sm_grid_comm(grid), PETSC_ERR_ARG_OUTOFRANGE, "The covariance spectrum vanishes on this grid");
  scale = 1.0 / (s->stats.variance * N);
  {
    /* The transform of the covariance is exact only to its rounding floor, ~1e-16 c^(0) (c^(0) = sum c, the largest
       value): below 1e-14 c^(0) a mode's value is rounding noise, not spectrum. Those modes are set to zero, which
       removes that noise from the field (it carried a variance of order 1e-16 c^(0) / c[0]) and lets the noise be
       drawn only where the spectrum is: a smooth (gauss) covariance keeps about 1 % of the modes on usual grids. */
    const double cut   = 1e-14 * loc[3];
    int64_t      total = 0;
    PetscCall(PetscMalloc2(s->nrows + 1, &s->offset, s->nrows + 1, &s->len));
    for (int64_t q = 0; q < s->nrows; q++) {
      int32_t last = 0;
      for (int64_t i = 0; i < fi.nkx; i++)
        if (c[q * fi.nkx + i][0] > cut) last = (int32_t)(i + 1);
      s->offset[q] = total;
      s->len[q]    = last;
      total += last;
    }
    PetscCall(PetscMalloc1((size_t)(total + 1), &s->amp));
    for (int64_t q = 0; q < s->nrows; q++)
      for (int64_t i = 0; i < s->len[q]; i++) {
        double v                    = c[q * fi.nkx + i][0];
        s->amp[s->offset[q] + i] = v > cut ? sqrt(v * scale) : 0.0;
      }
  }
  *spec = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_spectrum_destroy(SMSpectrum *spec)
{
  PetscFunctionBeginUser;
  if (!spec || !*spec) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*spec)->amp));
  PetscCall(PetscFree2((*spec)->offset, (*spec)->len));
  PetscCall(PetscFree(*spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_spectrum_get_stats(SMSpectrum spec, SMSpectrumStats *stats)
{
  PetscFunctionBeginUser;
  *stats = spec->stats;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void sm_field_normal_pair(uint64_t seed, uint64_t realization, uint32_t field, uint64_t counter, double *n1, double *n2)
{
  philox4x32_ctr_t ctr = {{(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)realization, field}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32) ^ (uint32_t)(realization >> 32) * 0x9E3779B9u}};
  philox4x32_ctr_t out = philox4x32(ctr, key);
  /* two 53-bit uniforms in (0, 1), then Box-Muller */
  uint64_t a  = ((uint64_t)out.v[0] << 21) ^ (uint64_t)(out.v[1] >> 11);
  uint64_t b  = ((uint64_t)out.v[2] << 21) ^ (uint64_t)(out.v[3] >> 11);
  double   u1 = ((double)(a & ((1ULL << 53) - 1)) + 0.5) * 0x1p-53;
  double   u2 = ((double)(b & ((1ULL << 53) - 1)) + 0.5) * 0x1p-53;
  double   rr = sqrt(-2.0 * log(u1)), th = 6.283185307179586476925286766559 * u2;
  *n1         = rr * cos(th);
  *n2         = rr * sin(th);
}

PetscErrorCode sm_field_fill_spectrum(SMFFT fft, SMSpectrum spec, uint64_t seed, uint64_t realization, uint32_t field)
{
  SMGrid        grid;
  SMGridInfo    g;
  SMFFTInfo     fi;
  SMComplex    *c = sm_fft_complex(fft);
  int64_t       nx, ny, nz, nkx;

  PetscFunctionBeginUser;
  PetscCall(sm_fft_get_grid(fft, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_fft_get_info(fft, &fi));
  nx  = g.n[0];
  ny  = g.n[1];
  nz  = g.n[2];
  nkx = fi.nkx;
  PetscCall(PetscLogEventBegin(SM_EVENT_Noise, 0, 0, 0, 0));
  for (int64_t jl = 0; jl < fi.ky_local; jl++) {
    int64_t ky = fi.ky_start + jl, kyc = (ny - ky) % ny;
    for (int64_t kz = 0; kz < nz; kz++) {
      int64_t       kzc  = (nz - kz) % nz;
      int64_t       q    = jl * nz + kz, base = q * nkx, len = spec->len[q];
      const double *amp  = spec->amp + spec->offset[q];
      for (int64_t kx = 0; kx < len; kx++) {
        double n1, n2;
        if (amp[kx] == 0.0) {
          c[base + kx][0] = c[base + kx][1] = 0.0;
          continue;
        }
        if (kx == 0 || 2 * kx == nx) {
          /* planes kx = 0 and kx = nx/2 hold both k and -k = (kx, -ky, -kz): draw once per pair, conjugate the
             partner, and keep self-conjugate modes real with unit variance */
          int64_t a = kz * ny + ky, b = kzc * ny + kyc;
          int64_t lo = a < b ? a : b;
          sm_field_normal_pair(seed, realization, field, (uint64_t)(lo * nkx + kx), &n1, &n2);
          if (a == b) {
            c[base + kx][0] = amp[kx] * n1;
            c[base + kx][1] = 0.0;
            continue;
          }
          if (a != lo) n2 = -n2;
        } else sm_field_normal_pair(seed, realization, field, (uint64_t)((kz * ny + ky) * nkx + kx), &n1, &n2);
        c[base + kx][0] = amp[kx] * n1 * M_SQRT1_2;
        c[base + kx][1] = amp[kx] * n2 * M_SQRT1_2;
      }
      if (len < nkx) memset(c + base + len, 0, sizeof(SMComplex) * (size_t)(nkx - len));
    }
  }
  PetscCall(PetscLogEventEnd(SM_EVENT_Noise, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_field_synthesize(SMFFT fft, SMSpectrum spec, uint64_t seed, uint64_t realization, uint32_t field)
{
  PetscFunctionBeginUser;
  PetscCall(sm_field_fill_spectrum(fft, spec, seed, realization, field));
  PetscCall(sm_fft_backward(fft));
  PetscFunctionReturn(PETSC_SUCCESS);
}
