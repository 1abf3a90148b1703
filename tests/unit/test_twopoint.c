/* Two-point coverage functions against their definition, summed directly over voxel pairs (no FFT):
 * periodic estimator and minus-sampling, radial bins and axis curves, on a random 3-phase volume with anisotropic
 * voxels. The FFT estimator rounds integer pair counts, so the two must agree to rounding of the final division. */
#include <stochmorph/morph.h>
#include <stochmorph/fft.h>
#include "smtest.h"

static int pair_index(int np, int i, int j) { return i * np - i * (i - 1) / 2 + (j - i); }

int main(int argc, char **argv)
{
  const int64_t   n[3] = {9, 7, 6};
  const PetscReal h[3] = {0.010, 0.013, 0.011};
  const char     *names[3] = {"pore", "a", "b"};
  const int       np = 3, npairs = 6;
  SMGrid          grid;
  SMVolume        vol;
  uint8_t        *lab;
  uint64_t        state = 88172645463325252ULL;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
  PetscCall(sm_volume_create(grid, np, names, &vol));
  PetscCall(sm_volume_get_labels(vol, &lab));
  for (int64_t v = 0; v < n[0] * n[1] * n[2]; v++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    lab[v] = (uint8_t)(state % 3);
  }
  for (int periodic = 1; periodic >= 0; periodic--) {
    /* periodic lags beyond half the box wrap around: the estimator stops at half the shortest side (0.033 um) */
    const double hmax = periodic ? 0.5 * 6 * 0.011 : 0.045, dh = 0.010;
    SMTwoPoint   tp;
    int64_t      L[3];
    int          nbins = (int)floor(hmax / dh + 1e-9) + 1;
    double      *num, *den, *cnt, *hs, *anum[3], *aden[3];

    PetscCall(sm_morph_two_point(vol, periodic ? PETSC_TRUE : PETSC_FALSE, 0.045, FFTW_ESTIMATE, &tp));
    for (int d = 0; d < 3; d++) L[d] = PetscMin((int64_t)floor(hmax / h[d] * (1 + 1e-12)), periodic ? n[d] / 2 : n[d] - 1);
    PetscCall(PetscCalloc4(npairs * nbins, &num, nbins, &den, nbins, &cnt, nbins, &hs));
    for (int d = 0; d < 3; d++) PetscCall(PetscCalloc2(npairs * (L[d] + 1), &anum[d], L[d] + 1, &aden[d]));
    /* every lag vector v: a lag per axis, each used once (a periodic lag n/2 is the same offset as -n/2) */
    for (int64_t vz = -L[2]; vz <= L[2]; vz++)
      for (int64_t vy = -L[1]; vy <= L[1]; vy++)
        for (int64_t vx = -L[0]; vx <= L[0]; vx++) {
          int64_t v[3] = {vx, vy, vz}, S[3][3] = {{0}}, pairs = 0;
          double  dist;
          int     b, skip = 0;
          for (int d = 0; d < 3; d++)
            if (periodic && 2 * v[d] == -n[d]) skip = 1;
          if (skip) continue;
          dist = sqrt(pow(vx * h[0], 2) + pow(vy * h[1], 2) + pow(vz * h[2], 2));
          for (int64_t z = 0; z < n[2]; z++)
            for (int64_t y = 0; y < n[1]; y++)
              for (int64_t x = 0; x < n[0]; x++) {
                int64_t x2 = x + vx, y2 = y + vy, z2 = z + vz;
                if (periodic) {
                  x2 = (x2 + n[0]) % n[0];
                  y2 = (y2 + n[1]) % n[1];
                  z2 = (z2 + n[2]) % n[2];
                } else if (x2 < 0 || y2 < 0 || z2 < 0 || x2 >= n[0] || y2 >= n[1] || z2 >= n[2]) continue;
                S[lab[(z * n[1] + y) * n[0] + x]][lab[(z2 * n[1] + y2) * n[0] + x2]]++;
                pairs++;
              }
          b = (int)floor(dist / dh + 0.5);
          if (dist <= hmax * (1 + 1e-12) && b < nbins) {
            cnt[b] += 1;
            hs[b] += dist;
            den[b] += (double)pairs;
            for (int i = 0; i < np; i++)
              for (int j = i; j < np; j++) num[pair_index(np, i, j) * nbins + b] += 0.5 * (double)(S[i][j] + S[j][i]);
          }
          for (int d = 0; d < 3; d++) {
            int o1 = (d + 1) % 3, o2 = (d + 2) % 3;
            if (v[o1] || v[o2]) continue;
            int64_t k = v[d] < 0 ? -v[d] : v[d];
            aden[d][k] += (double)pairs;
            for (int i = 0; i < np; i++)
              for (int j = i; j < np; j++) anum[d][pair_index(np, i, j) * (L[d] + 1) + k] += 0.5 * (double)(S[i][j] + S[j][i]);
          }
        }
    SM_TEST_TRUE(tp.nbins == nbins && tp.npairs == npairs, "%s: bins %d (expected %d), pairs %d", periodic ? "periodic" : "minus",
                 tp.nbins, nbins, tp.npairs);
    for (int b = 0; b < PetscMin(nbins, tp.nbins); b++) {
      char what[128];
      PetscCall(PetscSNPrintf(what, sizeof(what), "%s: mean lag length of bin %d", periodic ? "periodic" : "minus", b));
      SM_TEST_CLOSE(tp.h[b], hs[b] / cnt[b], 1e-14, what);
      for (int p = 0; p < npairs; p++) {
        PetscCall(PetscSNPrintf(what, sizeof(what), "%s: C_%d%d bin %d", periodic ? "periodic" : "minus", tp.pair_i[p],
                                tp.pair_j[p], b));
        SM_TEST_CLOSE(tp.C[p * tp.nbins + b], num[p * nbins + b] / den[b], 1e-14, what);
      }
    }
    for (int d = 0; d < 3; d++) {
      SM_TEST_TRUE(tp.naxis[d] == L[d] + 1, "axis %d: %d lags, expected %lld", d, tp.naxis[d], (long long)(L[d] + 1));
      for (int64_t k = 0; k <= L[d] && k < tp.naxis[d]; k++)
        for (int p = 0; p < npairs; p++) {
          char what[128];
          PetscCall(PetscSNPrintf(what, sizeof(what), "%s: axis %d C_%d%d lag %lld", periodic ? "periodic" : "minus", d,
                                  tp.pair_i[p], tp.pair_j[p], (long long)k));
          SM_TEST_CLOSE(tp.C_axis[d][p * tp.naxis[d] + k], anum[d][p * (L[d] + 1) + k] / aden[d][k], 1e-14, what);
        }
    }
    PetscCall(sm_morph_two_point_free(&tp));
    PetscCall(PetscFree4(num, den, cnt, hs));
    for (int d = 0; d < 3; d++) PetscCall(PetscFree2(anum[d], aden[d]));
  }
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid));
  {
    int code = sm_test_finish(PETSC_COMM_WORLD);
    PetscCall(PetscFinalize());
    return code;
  }
}
