/* Exact Euclidean distance transform with physical (anisotropic) voxel sizes (SPEC 5).
 *
 * Reference: P. F. Felzenszwalb, D. P. Huttenlocher, "Distance transforms of sampled functions", Theory of Computing 8
 * (2012) 415-428 (the lower envelope of parabolas); the separable scheme is also that of A. Meijster, J. Roerdink,
 * W. Hesselink, "A general algorithm for computing distance transforms in linear time" (2000).
 *
 * The squared distance D(x) = min over zero voxels y of sum_d ((x_d - y_d) h_d)^2 separates into 1D problems: starting
 * from f = 0 on zero voxels and +inf on set voxels, one pass per processed axis d replaces every line along d by
 *   g(i) = min_j ( f(j) + ((i - j) h_d)^2 ),
 * which is the lower envelope of the parabolas rooted at the samples j with finite f(j), evaluated at the integers.
 * After the passes over a set of axes, D is the exact minimum over the zero voxels of the slice spanned by those axes.
 * Samples with f = +inf are left out of the envelope (they would give inf - inf in the intersection formula); a line
 * with no finite sample stays +inf. The value at i is computed as f(j*) + ((i - j*) h)^2 from the chosen root j*, so
 * the result is the sum of one rounded square per axis, whatever the number of ranks: each line is computed by the same
 * code on the same data, so the result is bitwise independent of the decomposition.
 *
 * Obstacle border: virtual roots with f = 0 at i = -1 and i = n on every processed axis. This is the transform of the
 * box padded by one layer of zero voxels (the padding rows are all zero, so after the earlier passes they hold 0, which
 * is what the virtual roots supply), i.e. the distance to the nearest voxel centre just outside the box.
 *
 * Decomposition: x and y lines lie within a rank's z-slab. z lines span ranks, so the intermediate array is transposed
 * by the grid (sm_grid_transpose) to its y-slab layout (each rank then holds complete z columns of its ny / size
 * rows), the z pass runs there, and the same transpose runs back. The transpose uses derived datatypes on the arrays
 * themselves, so the only extra memory is the y-slab buffer (about one slab of doubles) and O(n) per-line scratch. */
#include <math.h>
#include <string.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>

/* Strided lines are processed this many at a time: a gather of adjacent columns reads whole cache lines. */
#define SM_EDT_BATCH 8

typedef struct {
  int64_t *v;    /* [n + 2] roots of the parabolas of the lower envelope */
  double  *fv;   /* [n + 2] f at those roots */
  double  *z;    /* [n + 3] boundaries between the envelope pieces */
  double  *line; /* [SM_EDT_BATCH * n] gathered lines, transformed in place */
} SMEdtScratch;

/* g(i) = min_j f(j) + ((i - j) h)^2 on one line of n samples; g may alias f (f is only read while building the
   envelope, g only written while evaluating it). */
static void sm_edt_line(const double *f, int64_t n, double h, PetscBool obstacle, SMEdtScratch *s, double *g)
{
  int64_t      *v = s->v, k = -1;
  double       *fv = s->fv, *z = s->z;
  const double  h2 = h * h;
  const int64_t q0 = obstacle ? -1 : 0, q1 = obstacle ? n : n - 1;
  int64_t       nz = 0;

  /* A line of zeros stays zero (each sample's own parabola is the lowest at its root): the lines of a basin's box that
     miss the basin, most of them in the cut's boxes, skip the envelope. */
  while (nz < n && f[nz] == 0.0) nz++;
  if (nz == n) {
    if (g != f) memcpy(g, f, (size_t)n * sizeof(double));
    return;
  }
  for (int64_t q = q0; q <= q1; q++) {
    const double fq = (q < 0 || q >= n) ? 0.0 : f[q];
    double       sq;
    if (!(fq < INFINITY)) continue; /* no parabola rooted at an infinite sample */
    if (k < 0) {
      k     = 0;
      v[0]  = q;
      fv[0] = fq;
      z[0]  = -INFINITY;
      z[1]  = INFINITY;
      continue;
    }
    /* Abscissa where the parabola of q overtakes the last one of the envelope; drop envelope parabolas that the new
       one hides entirely. Index units: s = ((f_q - f_p) / h^2 + q^2 - p^2) / (2 (q - p)). */
    for (;;) {
      const int64_t p = v[k];
      sq              = ((fq - fv[k]) / h2 + (double)(q * q - p * p)) / (2.0 * (double)(q - p));
      if (sq <= z[k] && k > 0)
        k--;
      else
        break;
    }
    k++;
    v[k]     = q;
    fv[k]    = fq;
    z[k]     = sq;
    z[k + 1] = INFINITY;
  }
  if (k < 0) {
    for (int64_t q = 0; q < n; q++) g[q] = INFINITY;
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; q++) {
    double d;
    while (z[k + 1] < (double)q) k++;
    d    = (double)(q - v[k]) * h;
    g[q] = fv[k] + d * d;
  }
}

/* The same transform when f is 0 or +inf only (the first pass, straight from the mask): the nearest zero sample by a
   forward and a backward sweep. The result, (d h)^2 with d the index distance to the nearest zero, is bitwise what
   sm_edt_line returns for such a line (0 + (d h)^2), without the envelope's divisions. g may alias f. */
static void sm_edt_line_binary(const double *f, int64_t n, double h, PetscBool obstacle, SMEdtScratch *s, double *g)
{
  const int64_t none = INT64_MAX / 4;
  int64_t      *fwd = s->v, last = obstacle ? -1 : -none, next = obstacle ? n : none + n;

  for (int64_t q = 0; q < n; q++) {
    if (f[q] == 0.0) last = q;
    fwd[q] = q - last;
  }
  for (int64_t q = n - 1; q >= 0; q--) {
    int64_t d;
    if (fwd[q] == 0) next = q;
    d = next - q < fwd[q] ? next - q : fwd[q];
    if (d >= none)
      g[q] = INFINITY;
    else {
      const double e = (double)d * h;
      g[q]           = e * e;
    }
  }
}

/* One pass over a family of lines: ngroup groups at gstride apart, each holding ncol adjacent lines (offsets
   0 .. ncol-1) of n samples at element stride `stride`. */
static void sm_edt_pass(double *buf, int64_t ngroup, int64_t gstride, int64_t ncol, int64_t stride, int64_t n, double h,
                        PetscBool obstacle, PetscBool binary, SMEdtScratch *s)
{
  void (*line)(const double *, int64_t, double, PetscBool, SMEdtScratch *, double *) =
      binary ? sm_edt_line_binary : sm_edt_line;

  for (int64_t grp = 0; grp < ngroup; grp++) {
    double *base = buf + grp * gstride;
    if (stride == 1) { /* contiguous lines (x): transform in place */
      for (int64_t c = 0; c < ncol; c++) line(base + c * n, n, h, obstacle, s, base + c * n);
      continue;
    }
    for (int64_t c0 = 0; c0 < ncol; c0 += SM_EDT_BATCH) {
      const int64_t nb = ncol - c0 < SM_EDT_BATCH ? ncol - c0 : SM_EDT_BATCH;
      for (int64_t j = 0; j < n; j++) {
        const double *src = base + j * stride + c0;
        for (int64_t b = 0; b < nb; b++) s->line[b * n + j] = src[b];
      }
      for (int64_t b = 0; b < nb; b++) line(s->line + b * n, n, h, obstacle, s, s->line + b * n);
      for (int64_t j = 0; j < n; j++) {
        double *dst = base + j * stride + c0;
        for (int64_t b = 0; b < nb; b++) dst[b] = s->line[b * n + j];
      }
    }
  }
}

/* The z pass across ranks: transpose the slabs to complete z columns of the grid's y-slab rows, transform, transpose
   back. */
static PetscErrorCode sm_edt_z_pass(SMGrid grid, const SMGridInfo *info, double *d2, PetscBool obstacle,
                                    PetscBool binary, SMEdtScratch *s)
{
  const int64_t nx = info->n[0], nz = info->n[2];
  int64_t       yl;
  double       *ybuf = NULL;

  PetscFunctionBeginUser;
  PetscCall(sm_grid_get_yslab(grid, NULL, &yl)); /* ranks beyond ny hold no row and only take part in the exchange */
  PetscCall(PetscMalloc1((size_t)(yl * nz * nx + 1), &ybuf));
  PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), d2, ybuf, SM_GRID_Z_TO_Y));
  sm_edt_pass(ybuf, yl, nz * nx, nx, nx, nz, info->h[2], obstacle, binary, s);
  PetscCall(sm_grid_transpose(grid, MPI_DOUBLE, sizeof(double), d2, ybuf, SM_GRID_Y_TO_Z));
  PetscCall(PetscFree(ybuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_morph_edt_private(SMGrid grid, const uint8_t *mask, SMEdtBorder border, int axes, double *d2)
{
  SMGridInfo   info;
  SMEdtScratch s;
  int64_t      nmax = 1;
  PetscBool    obstacle;
  MPI_Comm     comm;

  PetscFunctionBeginUser;
  PetscCheck(grid, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "sm_morph_edt: the grid is NULL; create it with sm_grid_create");
  comm = sm_grid_comm(grid);
  PetscCall(sm_grid_get_info(grid, &info));
  PetscCheck(axes >= 1 && axes <= 7, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "sm_morph_edt: axes = %d; give a nonzero bitmask of x = 1, y = 2, z = 4 (7 for the 3D transform)", axes);
  PetscCheck(border == SM_EDT_BORDER_FREE || border == SM_EDT_BORDER_OBSTACLE, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "sm_morph_edt: border = %d; use SM_EDT_BORDER_FREE or SM_EDT_BORDER_OBSTACLE", (int)border);
  PetscCheck(mask && d2, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "sm_morph_edt: mask and d2 must be slab arrays of %lld voxels", (long long)info.n_local);
  obstacle = border == SM_EDT_BORDER_OBSTACLE ? PETSC_TRUE : PETSC_FALSE;
  for (int d = 0; d < 3; d++)
    if ((axes >> d) & 1 && info.n[d] > nmax) nmax = info.n[d];
  PetscCall(PetscMalloc4((size_t)nmax + 2, &s.v, (size_t)nmax + 2, &s.fv, (size_t)nmax + 3, &s.z,
                         (size_t)(SM_EDT_BATCH * nmax), &s.line));
  for (int64_t i = 0; i < info.n_local; i++) d2[i] = mask[i] ? INFINITY : 0.0;
  /* the first processed axis sees only 0 and +inf */
  if (axes & 1)
    sm_edt_pass(d2, info.z_local * info.n[1], info.n[0], 1, 1, info.n[0], info.h[0], obstacle, PETSC_TRUE, &s);
  if (axes & 2)
    sm_edt_pass(d2, info.z_local, info.n_plane, info.n[0], info.n[0], info.n[1], info.h[1], obstacle,
                (axes & 1) ? PETSC_FALSE : PETSC_TRUE, &s);
  if (axes & 4) {
    const PetscBool binary = (axes & 3) ? PETSC_FALSE : PETSC_TRUE;
    if (info.size == 1)
      sm_edt_pass(d2, 1, 0, info.n_plane, info.n_plane, info.n[2], info.h[2], obstacle, binary, &s);
    else
      PetscCall(sm_edt_z_pass(grid, &info, d2, obstacle, binary, &s));
  }
  PetscCall(PetscFree4(s.v, s.fv, s.z, s.line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_edt(SMGrid grid, const uint8_t *mask, SMEdtBorder border, int axes, double *d2)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_EDT, 0, 0, 0, 0));
  PetscCall(sm_morph_edt_private(grid, mask, border, axes, d2));
  PetscCall(PetscLogEventEnd(SM_EVENT_EDT, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
