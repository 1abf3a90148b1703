/* Per-phase descriptors of SPEC 5 assembled from the kernels: EDT, maximal-ball painting, bottleneck maps, geodesic
 * distances and connected components.
 *
 * Size distributions use the local-thickness convention: a voxel is covered at radius r when it lies in a ball
 * B(c, R(c)) with R(c) >= r, centred at a voxel centre c of the phase (R = the distance map for the size distribution,
 * the bottleneck map from the inlet for intrusion). In the continuum this is exactly the opening by balls of radius r
 * (a smaller ball of radius r inside B(c, R(c)) still reaches x), and on the grid it differs from the opening by balls
 * centred at voxel centres only at the level of the discretisation; it makes the curves monotone and lets every radius
 * be read from one map, so all radii are exact at once. The curves are integer voxel counts, hence the same at any
 * rank count. */
#include <stochmorph/descriptors.h>
#include <stochmorph/predictor.h>
#include <math.h>
#include <string.h>

double sm_morph_crossing_half(const double *r, const double *y, int n)
{
  for (int k = 1; k < n; k++)
    if (y[k - 1] >= 0.5 && y[k] < 0.5) return r[k - 1] + (r[k] - r[k - 1]) * (y[k - 1] - 0.5) / (y[k - 1] - y[k]);
  return NAN;
}

const char *const sm_descriptor_names[] = {"volume_fraction", "surface_area", "two_point", "cpsd", "cpsd_2d", "mip",
                                           "constrictivity", "geodesic_tortuosity", "percolation", "M_predicted", NULL};

/* What the derived descriptors need, and the computed parts from the asked ones. */
static void sm_morph_options_derive(SMMorphOptions *opt)
{
  if (opt->want[SM_DESC_M_PREDICTED]) opt->want[SM_DESC_CONSTRICTIVITY] = opt->want[SM_DESC_TORTUOSITY] = PETSC_TRUE;
  if (opt->want[SM_DESC_CONSTRICTIVITY]) opt->want[SM_DESC_CPSD] = opt->want[SM_DESC_MIP] = PETSC_TRUE;
  if (opt->want[SM_DESC_CPSD_2D]) opt->want[SM_DESC_CPSD] = PETSC_TRUE; /* the slices share the 3D radius grid */
  opt->cpsd        = opt->want[SM_DESC_CPSD];
  opt->cpsd_2d     = opt->want[SM_DESC_CPSD_2D];
  opt->mip         = opt->want[SM_DESC_MIP];
  opt->tortuosity  = opt->want[SM_DESC_TORTUOSITY];
  opt->percolation = opt->want[SM_DESC_PERCOLATION];
}

PetscErrorCode sm_morph_options_default(SMMorphOptions *opt)
{
  PetscFunctionBeginUser;
  for (int d = 0; d < SM_DESC_NUM; d++) opt->want[d] = PETSC_TRUE;
  sm_morph_options_derive(opt);
  opt->dr              = 0;
  opt->mip_side[0]     = opt->mip_side[1] = opt->mip_side[2] = 0;
  opt->tortuosity_bins = 40;
  opt->connectivity    = 26;
  opt->periodic        = PETSC_FALSE;
  opt->periodic_set    = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_descriptors_memory_estimate(SMVolume vol, const SMMorphOptions *opt, double *bytes)
{
  SMGrid     grid;
  SMGridInfo g;

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  *bytes = sm_morph_options_want_morphology(opt) ? 41.0 * (double)g.n_total : 0.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool sm_morph_options_want_morphology(const SMMorphOptions *opt)
{
  for (int d = SM_DESC_BASIC_LAST + 1; d < SM_DESC_NUM; d++)
    if (opt->want[d]) return PETSC_TRUE;
  return PETSC_FALSE;
}

PetscErrorCode sm_morph_options_set_from_options(MPI_Comm comm, SMMorphOptions *opt)
{
  char     *items[SM_DESC_NUM + 4], *faces[3];
  PetscInt  nitems = SM_DESC_NUM + 4, nf = 3, bins = opt->tortuosity_bins, conn = opt->connectivity;
  PetscBool set_desc, set_faces, set_periodic;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Descriptors (SPEC 5)", "SMMorphOptions");
  PetscCall(PetscOptionsStringArray("-descriptors", "Descriptors to compute: all (default), basic (volume_fraction, "
                                    "surface_area, two_point), none, or a list of volume_fraction, surface_area, two_point, "
                                    "cpsd, cpsd_2d, mip, constrictivity, geodesic_tortuosity, percolation, M_predicted",
                                    "sm_morph_options_set_from_options", items, &nitems, &set_desc));
  PetscCall(PetscOptionsReal("-cpsd_dr", "Radius step [um] of the size distributions and intrusion curves (default: a "
                             "quarter of the smallest voxel side)", "sm_morph_options_set_from_options", opt->dr, &opt->dr,
                             NULL));
  PetscCall(PetscOptionsStringArray("-mip_faces", "Inlet face of the intrusion in x, y, z: three of x-,x+,y-,y+,z-,z+ "
                                    "(default x-,y-,z-)", "sm_morph_options_set_from_options", faces, &nf, &set_faces));
  PetscCall(PetscOptionsInt("-tortuosity_bins", "Bins of the path-length distribution (width 0.025 from 1)",
                            "sm_morph_options_set_from_options", bins, &bins, NULL));
  PetscCall(PetscOptionsInt("-connectivity",
                            "Voxel neighbours of connected components, percolation fractions, geodesic "
                            "paths and the eroded set of intrusion: 6 (faces: steps along the axes), 18 (faces and "
                            "edges: also face diagonals) or 26 (faces, edges and corners: also body diagonals)",
                            "sm_morph_options_set_from_options", conn, &conn, NULL));
  PetscCall(PetscOptionsBool("-analyze_periodic", "Treat the volume as periodic (surface areas, two-point functions; "
                             "default: the file's `periodic` attribute: twins are periodic, images are not)",
                             "sm_morph_options_set_from_options", opt->periodic, &opt->periodic, &set_periodic));
  if (set_periodic) opt->periodic_set = PETSC_TRUE;
  PetscOptionsEnd();
  if (set_desc) {
    for (int d = 0; d < SM_DESC_NUM; d++) opt->want[d] = PETSC_FALSE;
    for (PetscInt i = 0; i < nitems; i++) {
      PetscBool found = PETSC_FALSE;
      if (!strcmp(items[i], "all") || !strcmp(items[i], "basic")) {
        for (int d = 0; d < SM_DESC_NUM; d++)
          if (!strcmp(items[i], "all") || d <= SM_DESC_BASIC_LAST) opt->want[d] = PETSC_TRUE;
        found = PETSC_TRUE;
      }
      if (!strcmp(items[i], "none")) found = PETSC_TRUE;
      for (int d = 0; d < SM_DESC_NUM; d++)
        if (!strcmp(items[i], sm_descriptor_names[d])) opt->want[d] = found = PETSC_TRUE;
      PetscCheck(found, comm, PETSC_ERR_ARG_WRONG,
                 "-descriptors: unknown descriptor '%s'; known: all, basic, none, volume_fraction, surface_area, two_point, "
                 "cpsd, cpsd_2d, mip, constrictivity, geodesic_tortuosity, percolation, M_predicted",
                 items[i]);
      PetscCheck(strcmp(items[i], "none") || nitems == 1, comm, PETSC_ERR_ARG_WRONG,
                 "-descriptors: none stands alone");
    }
    for (PetscInt i = 0; i < nitems; i++) PetscCall(PetscFree(items[i]));
  }
  sm_morph_options_derive(opt);
  if (set_faces) {
    for (PetscInt i = 0; i < nf; i++) {
      PetscCheck(strlen(faces[i]) == 2 && faces[i][0] >= 'x' && faces[i][0] <= 'z' && (faces[i][1] == '-' || faces[i][1] == '+'),
                 comm, PETSC_ERR_ARG_WRONG, "-mip_faces: '%s' is not a face; use x-, x+, y-, y+, z- or z+", faces[i]);
      opt->mip_side[faces[i][0] - 'x'] = faces[i][1] == '+';
      PetscCall(PetscFree(faces[i]));
    }
  }
  PetscCheck(bins >= 1 && bins <= 100000, comm, PETSC_ERR_ARG_OUTOFRANGE, "-tortuosity_bins must be between 1 and 100000");
  opt->tortuosity_bins = (int)bins;
  PetscCheck(conn == 6 || conn == 18 || conn == 26, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-connectivity must be 6 (neighbours across faces), 18 (faces and edges) or 26 (faces, edges and "
             "corners), got %" PetscInt_FMT,
             conn);
  opt->connectivity = (int)conn;
  PetscCheck(opt->dr >= 0 && isfinite(opt->dr), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-cpsd_dr must be a radius step >= 0 um (0: a quarter of the smallest voxel side), got %g", opt->dr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* counts[k] = #{phase voxels with value >= k dr} for k < nk, from a map whose phase values are > 0. */
static PetscErrorCode sm_radius_counts(MPI_Comm comm, const uint8_t *mask, const double *P, int64_t n, double dr, int nk,
                                       int64_t *counts)
{
  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(counts, nk));
  for (int64_t v = 0; v < n; v++) {
    if (!mask[v]) continue;
    double q = P[v] / dr;
    int    k = q >= nk ? nk - 1 : (int)floor(q);
    if (k >= 0) counts[k]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, counts, nk, MPI_INT64_T, MPI_SUM, comm));
  for (int k = nk - 2; k >= 0; k--) counts[k] += counts[k + 1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* EDT of the mask along `axes` turned into radii [um] (sqrt), and its largest finite value over the phase. Returns
   infinite = PETSC_TRUE when some phase voxel sees no obstacle (the phase fills a whole line of the box). */
static PetscErrorCode sm_radius_map(SMGrid grid, const uint8_t *mask, int axes, int64_t n, double *f, double *rmax,
                                    PetscBool *infinite)
{
  double mx = 0;
  int    inf = 0;

  PetscFunctionBeginUser;
  PetscCall(sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, axes, f));
  for (int64_t v = 0; v < n; v++) {
    if (!mask[v]) {
      f[v] = 0;
      continue;
    }
    if (isinf(f[v])) {
      inf = 1;
      continue;
    }
    f[v] = sqrt(f[v]);
    mx   = PetscMax(mx, f[v]);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, sm_grid_comm(grid)));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &inf, 1, MPI_INT, MPI_MAX, sm_grid_comm(grid)));
  *rmax     = mx;
  *infinite = inf ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_phase_descriptors(SMVolume vol, int label, const SMMorphOptions *opt, SMPhaseMorphology *out)
{
  SMGrid     grid;
  SMGridInfo g;
  MPI_Comm   comm;
  uint8_t   *lab, *mask;
  double    *f = NULL, *P = NULL, *M = NULL, dr, hmin;
  int64_t    n, *counts = NULL;
  int        nk = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(out, sizeof(*out)));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_labels(vol, &lab));
  comm = sm_grid_comm(grid);
  n    = g.n_local;
  hmin = PetscMin(g.h[0], PetscMin(g.h[1], g.h[2]));
  dr   = opt->dr > 0 ? opt->dr : 0.25 * hmin;
  out->r50 = out->r_min_mean = out->beta_mean = out->tau_mean = out->M_predicted = NAN;
  for (int d = 0; d < 3; d++) {
    out->r50_2d[d] = out->r_min[d] = out->beta[d] = out->tau_dir[d] = NAN;
    out->tau[d][0] = out->tau[d][1] = NAN;
    out->percolating[d] = out->dead_end[d] = out->isolated[d] = NAN;
  }
  PetscCall(PetscMalloc1((size_t)n, &mask));
  for (int64_t v = 0; v < n; v++) mask[v] = lab[v] == label;
  for (int64_t v = 0; v < n; v++) out->voxels += mask[v];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &out->voxels, 1, MPI_INT64_T, MPI_SUM, comm));
  out->volume_fraction = (double)out->voxels / (double)g.n_total;
  if (out->voxels == 0) { /* an empty phase: nothing is defined */
    PetscCall(PetscFree(mask));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  if (opt->cpsd || opt->cpsd_2d || opt->mip) {
    double    rmax = 0, rm2[3] = {0, 0, 0}, rm3 = 0;
    PetscBool inf3 = PETSC_FALSE, inf2[3] = {PETSC_TRUE, PETSC_TRUE, PETSC_TRUE};
    int64_t  *counts2d[3] = {NULL, NULL, NULL};
    int       nk2[3]      = {0, 0, 0};
    PetscCall(PetscMalloc1((size_t)n, &f));
    PetscCall(PetscMalloc1((size_t)n, &P));
    /* 2D first: a disk in a slice can exceed any ball, and the common radius grid must hold every curve */
    if (opt->cpsd_2d)
      for (int a = 0; a < 3; a++) {
        PetscCall(sm_radius_map(grid, mask, 7 & ~(1 << a), n, f, &rm2[a], &inf2[a]));
        if (inf2[a]) continue;
        nk2[a] = (int)floor(rm2[a] / dr) + 2;
        PetscCall(PetscMalloc1(nk2[a], &counts2d[a]));
        PetscCall(sm_morph_max_ball(grid, f, a, P));
        PetscCall(sm_radius_counts(comm, mask, P, n, dr, nk2[a], counts2d[a]));
        rmax = PetscMax(rmax, rm2[a]);
      }
    PetscCall(sm_radius_map(grid, mask, 7, n, f, &rm3, &inf3));
    rmax    = PetscMax(rmax, inf3 ? 0 : rm3);
    nk      = (int)floor(rmax / dr) + 2;
    out->nr = nk;
    PetscCall(PetscMalloc1(nk, &out->r));
    PetscCall(PetscMalloc1(nk, &counts));
    for (int k = 0; k < nk; k++) out->r[k] = k * dr;
    for (int a = 0; a < 3; a++) {
      if (!counts2d[a]) continue;
      PetscCall(PetscCalloc1(nk, &out->psi2d[a]));
      for (int k = 0; k < nk2[a] && k < nk; k++) out->psi2d[a][k] = (double)counts2d[a][k] / (double)out->voxels;
      out->r50_2d[a] = sm_morph_crossing_half(out->r, out->psi2d[a], nk);
      PetscCall(PetscFree(counts2d[a]));
    }
    if (opt->cpsd && !inf3) {
      PetscCall(PetscMalloc1(nk, &out->psi));
      PetscCall(sm_morph_max_ball(grid, f, -1, P));
      PetscCall(sm_radius_counts(comm, mask, P, n, dr, nk, counts));
      for (int k = 0; k < nk; k++) out->psi[k] = (double)counts[k] / (double)out->voxels;
      out->r50 = sm_morph_crossing_half(out->r, out->psi, nk);
    }
    if (opt->mip && !inf3) {
      PetscCall(PetscMalloc1((size_t)n, &M));
      for (int d = 0; d < 3; d++) {
        PetscCall(PetscMalloc1(nk, &out->V[d]));
        /* the z map is solved on a transposed copy (paths.c): give it P's memory meanwhile, to stay under 40 bytes per
           voxel at the peak */
        if (d == 2) PetscCall(PetscFree(P));
        PetscCall(sm_morph_bottleneck_map(grid, f, opt->connectivity, d, opt->mip_side[d], M));
        if (d == 2) PetscCall(PetscMalloc1((size_t)n, &P));
        PetscCall(sm_morph_max_ball(grid, M, -1, P));
        PetscCall(sm_radius_counts(comm, mask, P, n, dr, nk, counts));
        for (int k = 0; k < nk; k++) out->V[d][k] = (double)counts[k] / (double)out->voxels;
        out->r_min[d] = sm_morph_crossing_half(out->r, out->V[d], nk);
      }
      PetscCall(PetscFree(M));
    }
    PetscCall(PetscFree(counts));
    PetscCall(PetscFree(f));
    PetscCall(PetscFree(P));
  }
  {
    /* constrictivity per direction and the means over the directions where it is defined */
    int nb = 0, nm = 0;
    out->beta_mean = out->r_min_mean = 0;
    for (int d = 0; d < 3; d++) {
      if (!isnan(out->r_min[d])) {
        out->r_min_mean += out->r_min[d];
        nm++;
      }
      if (!isnan(out->r_min[d]) && !isnan(out->r50) && out->r50 > 0) {
        out->beta[d] = PetscMin(1.0, pow(out->r_min[d] / out->r50, 2));
        out->beta_mean += out->beta[d];
        nb++;
      }
    }
    out->beta_mean   = nb ? out->beta_mean / nb : NAN;
    out->r_min_mean  = nm ? out->r_min_mean / nm : NAN;
  }
  if (opt->tortuosity) {
    int nd = 0;
    out->nbins     = opt->tortuosity_bins;
    out->bin_width = 0.025;
    out->tau_mean  = 0;
    for (int d = 0; d < 3; d++) {
      int    no  = 0;
      double sum = 0;
      for (int s = 0; s < 2; s++) {
        PetscCall(PetscCalloc1(out->nbins, &out->hist[d][s]));
        PetscCall(sm_morph_geodesic_tortuosity(grid, mask, opt->connectivity, d, s, &out->tau[d][s], &out->nstart[d][s],
                                               out->nbins, out->bin_width, out->hist[d][s]));
        if (!isnan(out->tau[d][s])) {
          sum += out->tau[d][s];
          no++;
        }
      }
      out->tau_dir[d] = no ? sum / no : NAN;
      if (no) {
        out->tau_mean += out->tau_dir[d];
        nd++;
      }
    }
    out->tau_mean = nd == 3 ? out->tau_mean / 3 : NAN; /* the mean over the three directions needs all three */
  }
  if (opt->percolation) {
    SMPercolation perc;
    PetscCall(sm_morph_percolation(grid, mask, opt->connectivity, &perc));
    for (int d = 0; d < 3; d++) {
      out->percolating[d] = perc.percolating[d];
      out->dead_end[d]    = perc.dead_end[d];
      out->isolated[d]    = perc.isolated[d];
    }
  }
  if (!isnan(out->beta_mean) && !isnan(out->tau_mean))
    out->M_predicted = sm_predictor_published(out->volume_fraction, out->beta_mean, out->tau_mean);
  PetscCall(PetscFree(mask));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_morph_phase_descriptors_free(SMPhaseMorphology *out)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(out->r));
  PetscCall(PetscFree(out->psi));
  for (int d = 0; d < 3; d++) {
    PetscCall(PetscFree(out->psi2d[d]));
    PetscCall(PetscFree(out->V[d]));
    for (int s = 0; s < 2; s++) PetscCall(PetscFree(out->hist[d][s]));
  }
  PetscCall(PetscMemzero(out, sizeof(*out)));
  PetscFunctionReturn(PETSC_SUCCESS);
}
