/* Two-point coverage functions C_ij(h) by FFT correlation (SPEC 4.3, 5).
 *
 * The correlation sums S_ij(v) = sum_x 1_i(x) 1_j(x + v) are integers; the FFT returns them to within ~1e-7, so they
 * are rounded to int64 and every bin sum is an exact integer: the results are bitwise the same at any rank count.
 * Periodic estimator (twins): C_ij(v) = S_ij(v) / N on the grid itself; phase 0 follows from the others since the
 * indicators sum to one. Minus-sampling (images): the labels are zero-padded by the largest lag L_d per axis (not
 * the full size) and C_ij(v) = S_ij(v) / prod_d (n_d - |v_d|), the number of pairs inside the image. Radial bins
 * pool pairs: C_bin = sum_v S(v) / sum_v pairs(v). Axis curves pool v and -v. */
#include <stochmorph/morph.h>
#include <stochmorph/fft.h>
#include <stochmorph/log.h>
#include <math.h>
#include <string.h>

typedef struct {
  PetscBool periodic;
  int64_t   n[3], M[3], L[3];
  double    h[3], hmax, dh;
  int       nbins;
} SMLagGeom;

/* Lag of offset o in a transform of size M, or PETSC_FALSE if the offset is not a lag we use. */
static inline PetscBool sm_lag(const SMLagGeom *G, int d, int64_t o, int64_t *lag)
{
  if (G->periodic) {
    *lag = o <= G->M[d] / 2 ? o : o - G->M[d];
    return (*lag <= G->L[d] && -*lag <= G->L[d]) ? PETSC_TRUE : PETSC_FALSE;
  }
  if (o <= G->L[d]) *lag = o;
  else if (o >= G->M[d] - G->L[d]) *lag = o - G->M[d];
  else return PETSC_FALSE;
  return PETSC_TRUE;
}

/* How many offsets of the transform give lags of magnitude u along axis d. */
static inline int64_t sm_lag_multiplicity(const SMLagGeom *G, int d, int64_t u)
{
  if (u == 0) return 1;
  if (G->periodic && 2 * u == G->M[d]) return 1;
  return 2;
}

static inline int sm_bin(const SMLagGeom *G, double dist)
{
  if (dist > G->hmax * (1 + 1e-12)) return -1;
  int b = (int)floor(dist / G->dh + 0.5);
  return b < G->nbins ? b : -1;
}

typedef struct {
  int64_t *cnt;      /* [nbins] lag vectors per bin */
  double  *hsum;     /* [nbins] sum of lag lengths */
  int64_t *den;      /* [nbins] pairs per bin */
  int64_t *num;      /* [npairs][nbins] */
  int64_t *acnt[3];  /* [naxis] offsets per axis lag */
  int64_t *aden[3];
  int64_t *anum[3];  /* [npairs][naxis] */
} SMAccum;

/* Lag counts, mean lengths and pair counts per bin, by enumerating one octant of lags with multiplicities: the same
   arithmetic in the same order on every rank. */
static void sm_enumerate_lags(const SMLagGeom *G, SMAccum *A)
{
  int64_t N = G->n[0] * G->n[1] * G->n[2];
  for (int64_t uz = 0; uz <= G->L[2]; uz++)
    for (int64_t uy = 0; uy <= G->L[1]; uy++)
      for (int64_t ux = 0; ux <= G->L[0]; ux++) {
        double  dx = ux * G->h[0], dy = uy * G->h[1], dz = uz * G->h[2], dist = sqrt(dx * dx + dy * dy + dz * dz);
        int     b  = sm_bin(G, dist);
        int64_t mult, pairs;
        if (b < 0) break; /* longer x lags are longer still */
        mult  = sm_lag_multiplicity(G, 0, ux) * sm_lag_multiplicity(G, 1, uy) * sm_lag_multiplicity(G, 2, uz);
        pairs = G->periodic ? N : (G->n[0] - ux) * (G->n[1] - uy) * (G->n[2] - uz);
        A->cnt[b] += mult;
        A->hsum[b] += (double)mult * dist;
        A->den[b] += mult * pairs;
      }
  for (int d = 0; d < 3; d++)
    for (int64_t k = 0; k <= G->L[d]; k++) {
      int64_t mult  = sm_lag_multiplicity(G, d, k), pairs = N;
      if (!G->periodic) pairs = N / G->n[d] * (G->n[d] - k);
      A->acnt[d][k] = mult;
      A->aden[d][k] = mult * pairs;
    }
}

/* Accumulate the rounded correlation held in the FFT buffer (real layout) into pair p. */
static PetscErrorCode sm_accumulate(const SMLagGeom *G, SMFFT fft, int p, SMAccum *A)
{
  SMGrid     grid;
  SMGridInfo g;
  SMFFTInfo  fi;
  const double *r = sm_fft_real(fft);
  double     scale;
  int64_t   *num = A->num + (size_t)p * G->nbins;
  double    *dx2;
  int64_t   *lx;
  PetscBool *okx;

  PetscFunctionBeginUser;
  PetscCall(sm_fft_get_grid(fft, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_fft_get_info(fft, &fi));
  scale = 1.0 / (double)g.n_total; /* unnormalised forward and backward transforms */
  PetscCall(PetscMalloc3(g.n[0], &dx2, g.n[0], &lx, g.n[0], &okx));
  for (int64_t i = 0; i < g.n[0]; i++) {
    okx[i] = sm_lag(G, 0, i, &lx[i]);
    dx2[i] = (double)(lx[i] * lx[i]) * G->h[0] * G->h[0];
  }
  for (int64_t k = 0; k < g.z_local; k++) {
    int64_t lz;
    if (!sm_lag(G, 2, g.z_start + k, &lz)) continue;
    for (int64_t j = 0; j < g.n[1]; j++) {
      int64_t       ly;
      const double *row = r + (k * g.n[1] + j) * fi.nx_padded;
      double        dyz2;
      if (!sm_lag(G, 1, j, &ly)) continue;
      dyz2 = (double)(ly * ly) * G->h[1] * G->h[1] + (double)(lz * lz) * G->h[2] * G->h[2];
      for (int64_t i = 0; i < g.n[0]; i++) {
        int     b;
        int64_t s;
        if (!okx[i]) continue;
        b = sm_bin(G, sqrt(dx2[i] + dyz2));
        s = llround(row[i] * scale);
        if (b >= 0) num[b] += s;
        if (ly == 0 && lz == 0) A->anum[0][(size_t)p * (G->L[0] + 1) + (lx[i] < 0 ? -lx[i] : lx[i])] += s;
        if (lx[i] == 0 && lz == 0) A->anum[1][(size_t)p * (G->L[1] + 1) + (ly < 0 ? -ly : ly)] += s;
        if (lx[i] == 0 && ly == 0) A->anum[2][(size_t)p * (G->L[2] + 1) + (lz < 0 ? -lz : lz)] += s;
      }
    }
  }
  PetscCall(PetscFree3(dx2, lx, okx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fill the real FFT buffer with the indicator of label value `code` of a [z][y][x] slab on the FFT grid. */
static void sm_fill_indicator(SMGridInfo *g, SMFFTInfo *fi, const uint8_t *lab, uint8_t code, double *r)
{
  for (int64_t row = 0; row < g->z_local * g->n[1]; row++) {
    const uint8_t *src = lab + row * g->n[0];
    double        *dst = r + row * fi->nx_padded;
    for (int64_t i = 0; i < g->n[0]; i++) dst[i] = src[i] == code;
    for (int64_t i = g->n[0]; i < fi->nx_padded; i++) dst[i] = 0;
  }
}

static int sm_pair_index(int np, int i, int j)
{
  if (i > j) {
    int t = i;
    i     = j;
    j     = t;
  }
  return i * np - i * (i - 1) / 2 + (j - i);
}

PetscErrorCode sm_morph_two_point(SMVolume vol, PetscBool periodic, double h_max, unsigned fft_flags, SMTwoPoint *tp)
{
  SMGrid        grid, fgrid = NULL;
  SMGridInfo    g, fg;
  SMFFT         fft = NULL;
  SMFFTInfo     fi;
  SMLagGeom     G;
  SMAccum       A;
  uint8_t      *lab, *flab = NULL;
  int           np, ncomp, first, npairs;
  int64_t       counts[SM_MAX_PHASES], nspec = 0;
  SMComplex    *spec = NULL, *c;
  MPI_Comm      comm;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_TwoPoint, 0, 0, 0, 0));
  PetscCall(PetscMemzero(tp, sizeof(*tp)));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &lab));
  PetscCall(sm_volume_get_phases(vol, &np, NULL));
  PetscCall(sm_morph_label_counts(vol, counts));
  comm = sm_grid_comm(grid);

  G.periodic = periodic;
  G.dh       = PetscMin(g.h[0], PetscMin(g.h[1], g.h[2]));
  {
    double shortest = PetscMin(g.n[0] * g.h[0], PetscMin(g.n[1] * g.h[1], g.n[2] * g.h[2]));
    G.hmax          = h_max > 0 ? h_max : (periodic ? 0.5 : 0.25) * shortest;
    if (periodic) G.hmax = PetscMin(G.hmax, 0.5 * shortest);
  }
  for (int d = 0; d < 3; d++) {
    G.n[d] = g.n[d];
    G.h[d] = g.h[d];
    G.L[d] = (int64_t)floor(G.hmax / g.h[d] * (1 + 1e-12));
    G.L[d] = PetscMin(G.L[d], periodic ? g.n[d] / 2 : g.n[d] - 1);
    G.M[d] = periodic ? g.n[d] : g.n[d] + G.L[d];
  }
  G.nbins = (int)floor(G.hmax / G.dh + 1e-9) + 1; /* bin b holds lengths in [(b - 1/2) dh, (b + 1/2) dh) */

  /* periodic: phase 0 is derived, the others are transformed; minus-sampling: all phases, coded label + 1 in the
     zero-padded copy so that 0 marks the outside */
  first = periodic ? 1 : 0;
  ncomp = np - first;
  if (periodic) {
    fgrid = grid;
    PetscCall(sm_fft_create(grid, fft_flags, &fft));
  } else {
    uint8_t *coded;
    PetscCall(sm_grid_create(comm, G.M, g.h, &fgrid));
    PetscCall(sm_fft_create(fgrid, fft_flags, &fft));
    PetscCall(sm_grid_get_info(fgrid, &fg));
    PetscCall(PetscMalloc1((size_t)g.n_local, &coded));
    for (int64_t v = 0; v < g.n_local; v++) coded[v] = (uint8_t)(lab[v] + 1);
    PetscCall(PetscMalloc1((size_t)fg.n_local, &flab));
    PetscCall(sm_grid_redistribute_u8(grid, coded, fgrid, flab));
    PetscCall(PetscFree(coded));
  }
  PetscCall(sm_grid_get_info(fgrid, &fg));
  PetscCall(sm_fft_get_info(fft, &fi));
  c = sm_fft_complex(fft);

  npairs = np * (np + 1) / 2;
  PetscCall(PetscCalloc4(G.nbins, &A.cnt, G.nbins, &A.hsum, G.nbins, &A.den, (size_t)npairs * G.nbins, &A.num));
  for (int d = 0; d < 3; d++)
    PetscCall(PetscCalloc3(G.L[d] + 1, &A.acnt[d], G.L[d] + 1, &A.aden[d], (size_t)npairs * (G.L[d] + 1), &A.anum[d]));
  sm_enumerate_lags(&G, &A);

  nspec = fi.ky_local * fg.n[2] * fi.nkx;
  if (ncomp > 1) PetscCall(PetscMalloc1((size_t)(nspec * ncomp + 1), &spec));
  for (int a = 0; a < ncomp; a++) {
    sm_fill_indicator(&fg, &fi, periodic ? lab : flab, (uint8_t)(periodic ? a + first : a + 1), sm_fft_real(fft));
    PetscCall(sm_fft_forward(fft));
    if (ncomp > 1) PetscCall(PetscArraycpy(spec + (size_t)a * nspec, c, (size_t)nspec));
  }
  for (int a = 0; a < ncomp; a++)
    for (int b = a; b < ncomp; b++) {
      if (ncomp > 1) {
        const SMComplex *fa = spec + (size_t)a * nspec, *fb = spec + (size_t)b * nspec;
        for (int64_t q = 0; q < nspec; q++) {
          double re = fa[q][0] * fb[q][0] + fa[q][1] * fb[q][1], im = fa[q][0] * fb[q][1] - fa[q][1] * fb[q][0];
          c[q][0] = re;
          c[q][1] = im;
        }
      } else
        for (int64_t q = 0; q < nspec; q++) {
          c[q][0] = c[q][0] * c[q][0] + c[q][1] * c[q][1];
          c[q][1] = 0;
        }
      PetscCall(sm_fft_backward(fft));
      PetscCall(sm_accumulate(&G, fft, sm_pair_index(np, a + first, b + first), &A));
    }
  PetscCall(PetscFree(spec));
  PetscCall(sm_fft_destroy(&fft));
  PetscCall(PetscFree(flab));
  if (!periodic) PetscCall(sm_grid_destroy(&fgrid));

  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, A.num, npairs * G.nbins, MPI_INT64_T, MPI_SUM, comm));
  for (int d = 0; d < 3; d++)
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, A.anum[d], (int)(npairs * (G.L[d] + 1)), MPI_INT64_T, MPI_SUM, comm));

  if (periodic) {
    /* phase 0 = 1 - sum of the others: S_0b(v) = n_b - sum_{a>=1} S_ab(v), then S_00 likewise (binned sums are
       symmetric in v -> -v, so S_ab and S_ba pool to the same numbers) */
    for (int pass = 0; pass < 2; pass++)
      for (int b = (pass == 0 ? 1 : 0); b < (pass == 0 ? np : 1); b++) {
        int      p0   = sm_pair_index(np, 0, b);
        int64_t *nums[4];
        int64_t *cnts[4], lens[4];
        nums[0] = A.num;
        cnts[0] = A.cnt;
        lens[0] = G.nbins;
        for (int d = 0; d < 3; d++) {
          nums[d + 1] = A.anum[d];
          cnts[d + 1] = A.acnt[d];
          lens[d + 1] = G.L[d] + 1;
        }
        for (int s = 0; s < 4; s++)
          for (int64_t q = 0; q < lens[s]; q++) {
            int64_t val = cnts[s][q] * counts[b];
            for (int a = 1; a < np; a++) val -= nums[s][(size_t)sm_pair_index(np, a, b) * lens[s] + q];
            nums[s][(size_t)p0 * lens[s] + q] = val;
          }
      }
  }

  tp->nphases  = np;
  tp->npairs   = npairs;
  tp->periodic = periodic;
  for (int i = 0, p = 0; i < np; i++)
    for (int j = i; j < np; j++, p++) {
      tp->pair_i[p] = i;
      tp->pair_j[p] = j;
    }
  tp->nbins = G.nbins;
  PetscCall(PetscMalloc2(G.nbins, &tp->h, (size_t)npairs * G.nbins, &tp->C));
  for (int b = 0; b < G.nbins; b++) tp->h[b] = A.cnt[b] ? A.hsum[b] / (double)A.cnt[b] : b * G.dh;
  for (int p = 0; p < npairs; p++)
    for (int b = 0; b < G.nbins; b++)
      tp->C[(size_t)p * G.nbins + b] = A.den[b] ? (double)A.num[(size_t)p * G.nbins + b] / (double)A.den[b] : NAN;
  for (int d = 0; d < 3; d++) {
    int64_t na = G.L[d] + 1;
    tp->naxis[d] = (int)na;
    PetscCall(PetscMalloc2(na, &tp->h_axis[d], (size_t)npairs * na, &tp->C_axis[d]));
    for (int64_t k = 0; k < na; k++) tp->h_axis[d][k] = (double)k * g.h[d];
    for (int p = 0; p < npairs; p++)
      for (int64_t k = 0; k < na; k++)
        tp->C_axis[d][(size_t)p * na + k] = (double)A.anum[d][(size_t)p * na + k] / (double)A.aden[d][k];
  }
  PetscCall(PetscFree4(A.cnt, A.hsum, A.den, A.num));
  for (int d = 0; d < 3; d++) PetscCall(PetscFree3(A.acnt[d], A.aden[d], A.anum[d]));
  PetscCall(PetscLogEventEnd(SM_EVENT_TwoPoint, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_two_point_free(SMTwoPoint *tp)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(tp->h, tp->C));
  for (int d = 0; d < 3; d++) PetscCall(PetscFree2(tp->h_axis[d], tp->C_axis[d]));
  PetscCall(PetscMemzero(tp, sizeof(*tp)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_two_point_memory_estimate(SMGrid grid, int nphases, PetscBool periodic, double *bytes)
{
  SMGridInfo g;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_info(grid, &g));
  *bytes = (2.0 + 8.0 * (1 + (nphases > 2 ? nphases : 0))) * (periodic ? 1.0 : 3.4) * (double)g.n_total;
  PetscFunctionReturn(PETSC_SUCCESS);
}
