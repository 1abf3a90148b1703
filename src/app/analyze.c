/* stochmorph analyze: descriptors of a labelled volume -> JSON (+ CSV tables). */
#include "app.h"
#include <stochmorph/version.h>
#include <stochmorph/io.h>
#include <stochmorph/image.h>
#include <stochmorph/fft.h>
#include <stochmorph/morph.h>
#include <stochmorph/descriptors.h>
#include <stochmorph/report.h>
#include <stochmorph/log.h>
#include <string.h>
#include <math.h>

static void sm_csv_real(FILE *csv, double v)
{
  char buf[32];
  sm_sys_format_real(v, buf, sizeof(buf));
  fprintf(csv, ",%s", buf);
}

typedef struct {
  char      in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN];
  SMImageOptions image;
  double    max_lag;
  unsigned  fft_flags;
  SMMorphOptions morph;
} SMAnalyzeOptions;

static PetscBool sm_want_morphology(const SMAnalyzeOptions *o) { return sm_morph_options_want_morphology(&o->morph); }

static PetscErrorCode sm_json_xyz(SMJson js, const char *key, const double v[3], PetscBool with_mean, double mean)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_begin_object(js, key));
  PetscCall(sm_json_real(js, "x", v[0]));
  PetscCall(sm_json_real(js, "y", v[1]));
  PetscCall(sm_json_real(js, "z", v[2]));
  if (with_mean) PetscCall(sm_json_real(js, "mean", mean));
  PetscCall(sm_json_end_object(js));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The morphology block of one phase (issue keys: geodesic_tortuosity, constrictivity, r_min, r_50, cpsd, mip,
   percolating_fraction, M_predicted); null where a value is not defined, with a note saying why. */
static PetscErrorCode sm_write_morphology(SMJson js, const SMAnalyzeOptions *o, const SMPhaseMorphology *m)
{
  const char *ax[3] = {"x", "y", "z"};

  PetscFunctionBeginUser;
  if (o->morph.want[SM_DESC_CPSD]) {
    PetscCall(sm_json_real(js, "r_50", m->r50));
    PetscCall(sm_json_begin_object(js, "cpsd"));
    PetscCall(sm_json_real_array(js, "r", m->r, m->psi ? m->nr : 0));
    PetscCall(sm_json_real_array(js, "psi", m->psi, m->psi ? m->nr : 0));
    PetscCall(sm_json_real(js, "r_50", m->r50));
    if (o->morph.want[SM_DESC_CPSD_2D]) {
      PetscCall(sm_json_begin_object(js, "slices"));
      for (int a = 0; a < 3; a++) {
        PetscCall(sm_json_begin_object(js, ax[a]));
        PetscCall(sm_json_real_array(js, "psi", m->psi2d[a], m->psi2d[a] ? m->nr : 0));
        PetscCall(sm_json_real(js, "r_50", m->r50_2d[a]));
        PetscCall(sm_json_end_object(js));
      }
      PetscCall(sm_json_end_object(js));
    }
    PetscCall(sm_json_end_object(js));
  }
  if (o->morph.want[SM_DESC_MIP]) {
    PetscCall(sm_json_xyz(js, "r_min", m->r_min, PETSC_TRUE, m->r_min_mean));
    PetscCall(sm_json_begin_object(js, "mip"));
    PetscCall(sm_json_real_array(js, "r", m->r, m->V[0] ? m->nr : 0));
    PetscCall(sm_json_begin_object(js, "inlet"));
    for (int d = 0; d < 3; d++) PetscCall(sm_json_string(js, ax[d], o->morph.mip_side[d] ? "high" : "low"));
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_begin_object(js, "V"));
    for (int d = 0; d < 3; d++) PetscCall(sm_json_real_array(js, ax[d], m->V[d], m->V[d] ? m->nr : 0));
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_xyz(js, "r_min", m->r_min, PETSC_TRUE, m->r_min_mean));
    PetscCall(sm_json_end_object(js));
  }
  if (o->morph.want[SM_DESC_CONSTRICTIVITY]) PetscCall(sm_json_xyz(js, "constrictivity", m->beta, PETSC_TRUE, m->beta_mean));
  if (o->morph.want[SM_DESC_TORTUOSITY]) {
    PetscCall(sm_json_begin_object(js, "geodesic_tortuosity"));
    for (int d = 0; d < 3; d++) PetscCall(sm_json_real(js, ax[d], m->tau_dir[d]));
    PetscCall(sm_json_real(js, "mean", m->tau_mean));
    PetscCall(sm_json_begin_object(js, "orientations"));
    for (int d = 0; d < 3; d++) {
      PetscCall(sm_json_begin_object(js, ax[d]));
      PetscCall(sm_json_real(js, "forward", m->tau[d][0]));
      PetscCall(sm_json_real(js, "backward", m->tau[d][1]));
      PetscCall(sm_json_int_array(js, "start_voxels", m->nstart[d], 2));
      PetscCall(sm_json_end_object(js));
    }
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_begin_object(js, "distribution"));
    PetscCall(sm_json_real(js, "first_bin", 1.0));
    PetscCall(sm_json_real(js, "bin_width", m->bin_width));
    for (int d = 0; d < 3; d++) {
      int64_t *sum;
      PetscCall(PetscCalloc1(m->nbins + 1, &sum));
      for (int b = 0; b < m->nbins; b++)
        for (int s = 0; s < 2; s++) sum[b] += m->hist[d][s] ? m->hist[d][s][b] : 0;
      PetscCall(sm_json_int_array(js, ax[d], sum, m->nbins));
      PetscCall(PetscFree(sum));
    }
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_end_object(js));
  }
  if (o->morph.want[SM_DESC_PERCOLATION]) {
    PetscCall(sm_json_xyz(js, "percolating_fraction", m->percolating, PETSC_FALSE, 0));
    PetscCall(sm_json_xyz(js, "dead_end_fraction", m->dead_end, PETSC_FALSE, 0));
    PetscCall(sm_json_xyz(js, "isolated_fraction", m->isolated, PETSC_FALSE, 0));
  }
  if (o->morph.want[SM_DESC_M_PREDICTED]) PetscCall(sm_json_real(js, "M_predicted", m->M_predicted));
  {
    /* say why a number is missing */
    char notes[1024] = "";
    if (m->voxels == 0) PetscCall(PetscStrlcat(notes, "the phase is empty; ", sizeof(notes)));
    if (o->morph.want[SM_DESC_CPSD] && m->voxels && isnan(m->r50))
      PetscCall(PetscStrlcat(notes, "r_50 not defined (the size distribution never falls to 0.5, or the phase fills whole lines of the box); ", sizeof(notes)));
    for (int d = 0; d < 3; d++) {
      char buf[160];
      if (o->morph.want[SM_DESC_MIP] && m->voxels && isnan(m->r_min[d])) {
        PetscCall(PetscSNPrintf(buf, sizeof(buf), "r_min.%s not defined (intrusion from the %s face never fills half the phase); ", ax[d],
                                ax[d]));
        PetscCall(PetscStrlcat(notes, buf, sizeof(notes)));
      }
      if (o->morph.want[SM_DESC_TORTUOSITY] && m->voxels && isnan(m->tau_dir[d])) {
        PetscCall(PetscSNPrintf(buf, sizeof(buf), "geodesic_tortuosity.%s not defined (no path inside the phase between the %s faces); ",
                                ax[d], ax[d]));
        PetscCall(PetscStrlcat(notes, buf, sizeof(notes)));
      }
    }
    if (notes[0]) PetscCall(sm_json_string(js, "notes", notes));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_write_results(MPI_Comm comm, const SMAnalyzeOptions *o, SMVolume vol, const int64_t *counts,
                                       const double *S, const SMTwoPoint *tp, const SMPhaseMorphology *morph,
                                       PetscBool periodic)
{
  SMJson              js = NULL;
  FILE               *csv = NULL;
  char                csvpath[PETSC_MAX_PATH_LEN], tppath[PETSC_MAX_PATH_LEN], key[2 * SM_NAME_LEN + 2];
  SMGrid              grid;
  SMGridInfo          g;
  int                 np, nattrs;
  const char *const  *names, *const *keys, *const *values;
  const char          axes[3] = {'x', 'y', 'z'};

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_get_attrs(vol, &nattrs, &keys, &values));
  PetscCall(sm_path_replace_ext(o->out, ".csv", csvpath, sizeof(csvpath)));
  PetscCall(sm_path_replace_ext(o->out, "_two_point.csv", tppath, sizeof(tppath)));

  PetscCall(sm_json_open(comm, o->out, &js));
  PetscCall(sm_json_string(js, "command", "analyze"));
  PetscCall(sm_json_string(js, "input", o->in));
  PetscCall(sm_json_string(js, "code_version", sm_version_code()));
  PetscCall(sm_json_begin_object(js, "units"));
  PetscCall(sm_json_string(js, "volume_fraction", "1"));
  PetscCall(sm_json_string(js, "specific_surface_area", "1/um (interface area per unit total volume)"));
  PetscCall(sm_json_string(js, "voxel_size", "um"));
  PetscCall(sm_json_string(js, "two_point.h", "um"));
  PetscCall(sm_json_string(js, "two_point.C", "1 (probability)"));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "grid"));
  PetscCall(sm_json_int_array(js, "size", g.n, 3));
  PetscCall(sm_json_real_array(js, "voxel_size", g.h, 3));
  PetscCall(sm_json_bool(js, "periodic", periodic));
  PetscCall(sm_json_end_object(js));
  /* the voxel neighbours of the percolation fractions, geodesic paths and intrusion (-connectivity) */
  PetscCall(sm_json_int(js, "connectivity", o->morph.connectivity));
  PetscCall(sm_json_begin_object(js, "provenance"));
  for (int i = 0; i < nattrs; i++) PetscCall(sm_json_string(js, keys[i], values[i]));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "phases"));
  for (int i = 0; i < np; i++) {
    PetscCall(sm_json_begin_object(js, names[i]));
    PetscCall(sm_json_int(js, "label", i));
    PetscCall(sm_json_int(js, "voxels", counts[i]));
    if (o->morph.want[SM_DESC_VOLUME_FRACTION]) PetscCall(sm_json_real(js, "volume_fraction", (double)counts[i] / (double)g.n_total));
    if (o->morph.want[SM_DESC_SURFACE_AREA]) PetscCall(sm_json_real(js, "specific_surface_area", S[i]));
    if (sm_want_morphology(o)) PetscCall(sm_write_morphology(js, o, &morph[i]));
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_object(js));
  if (o->morph.want[SM_DESC_SURFACE_AREA] && np >= 3) {
    /* pairwise interfaces S_ij = (S_i + S_j - S_k) / 2, exact when every boundary separates two phases */
    PetscCall(sm_json_begin_object(js, "interfaces"));
    for (int i = 0; i < np; i++)
      for (int j = i + 1; j < np; j++) {
        PetscCall(PetscSNPrintf(key, sizeof(key), "%s_%s", names[i], names[j]));
        PetscCall(sm_json_begin_object(js, key));
        PetscCall(sm_json_real(js, "specific_surface_area", sm_morph_interface_area(S, np, i, j)));
        PetscCall(sm_json_end_object(js));
      }
    PetscCall(sm_json_end_object(js));
  }
  if (o->morph.want[SM_DESC_TWO_POINT]) {
    PetscCall(sm_json_begin_object(js, "two_point"));
    PetscCall(sm_json_string(js, "estimator", tp->periodic ? "periodic" : "minus-sampling"));
    PetscCall(sm_json_real_array(js, "h", tp->h, tp->nbins));
    PetscCall(sm_json_begin_object(js, "C"));
    for (int p = 0; p < tp->npairs; p++) {
      PetscCall(PetscSNPrintf(key, sizeof(key), "%s_%s", names[tp->pair_i[p]], names[tp->pair_j[p]]));
      PetscCall(sm_json_real_array(js, key, tp->C + (size_t)p * tp->nbins, tp->nbins));
    }
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_begin_object(js, "axis"));
    for (int d = 0; d < 3; d++) {
      char ax[2] = {axes[d], 0};
      PetscCall(sm_json_begin_object(js, ax));
      PetscCall(sm_json_real_array(js, "h", tp->h_axis[d], tp->naxis[d]));
      PetscCall(sm_json_begin_object(js, "C"));
      for (int p = 0; p < tp->npairs; p++) {
        PetscCall(PetscSNPrintf(key, sizeof(key), "%s_%s", names[tp->pair_i[p]], names[tp->pair_j[p]]));
        PetscCall(sm_json_real_array(js, key, tp->C_axis[d] + (size_t)p * tp->naxis[d], tp->naxis[d]));
      }
      PetscCall(sm_json_end_object(js));
      PetscCall(sm_json_end_object(js));
    }
    PetscCall(sm_json_end_object(js));
    PetscCall(sm_json_end_object(js));
  }

  PetscCall(sm_text_open(comm, csvpath, &csv));
  if (csv) {
    fprintf(csv, "phase,label,voxels,volume_fraction,specific_surface_area_per_um,r_50_um,r_min_mean_um,"
                 "constrictivity_mean,geodesic_tortuosity_mean,percolating_fraction_x,percolating_fraction_y,"
                 "percolating_fraction_z,M_predicted,connectivity\n");
    for (int i = 0; i < np; i++)
    {
      char a[32], b[32];
      sm_sys_format_real((double)counts[i] / (double)g.n_total, a, sizeof(a));
      sm_sys_format_real(o->morph.want[SM_DESC_SURFACE_AREA] ? S[i] : NAN, b, sizeof(b));
      fprintf(csv, "%s,%d,%lld,%s,%s", names[i], i, (long long)counts[i], a, b);
      {
        const SMPhaseMorphology *m = &morph[i];
        PetscBool                on = sm_want_morphology(o);
        double vals[8] = {on ? m->r50 : NAN, on ? m->r_min_mean : NAN, on ? m->beta_mean : NAN, on ? m->tau_mean : NAN,
                          on ? m->percolating[0] : NAN, on ? m->percolating[1] : NAN, on ? m->percolating[2] : NAN,
                          on ? m->M_predicted : NAN};
        for (int q = 0; q < 8; q++) sm_csv_real(csv, vals[q]);
      }
      fprintf(csv, ",%d\n", (int)o->morph.connectivity); /* the voxel neighbours the percolation and path values used */
    }
  }
  PetscCall(sm_text_close(comm, csvpath, &csv, PETSC_TRUE));
  if (o->morph.want[SM_DESC_TWO_POINT]) {
    PetscCall(sm_text_open(comm, tppath, &csv));
    if (csv) {
      fprintf(csv, "curve,h_um");
      for (int p = 0; p < tp->npairs; p++) fprintf(csv, ",C_%s_%s", names[tp->pair_i[p]], names[tp->pair_j[p]]);
      fprintf(csv, "\n");
      for (int b = 0; b < tp->nbins; b++) {
        fprintf(csv, "radial,%.10g", tp->h[b]);
        for (int p = 0; p < tp->npairs; p++) sm_csv_real(csv, tp->C[(size_t)p * tp->nbins + b]);
        fprintf(csv, "\n");
      }
      for (int d = 0; d < 3; d++)
        for (int k = 0; k < tp->naxis[d]; k++) {
          fprintf(csv, "%c,%.10g", axes[d], tp->h_axis[d][k]);
          for (int p = 0; p < tp->npairs; p++) sm_csv_real(csv, tp->C_axis[d][(size_t)p * tp->naxis[d] + k]);
          fprintf(csv, "\n");
        }
    }
    PetscCall(sm_text_close(comm, tppath, &csv, PETSC_TRUE));
  }
  /* the JSON is renamed into place last: its presence means the whole analysis finished */
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_analyze(MPI_Comm comm)
{
  SMAnalyzeOptions o;
  SMVolume         vol = NULL;
  SMGrid           grid;
  SMGridInfo       g;
  SMTwoPoint       tp;
  SMPhaseMorphology morph[SM_MAX_PHASES];
  PetscBool        periodic, set_in;
  int64_t          counts[SM_MAX_PHASES];
  double           S[SM_MAX_PHASES], t0 = sm_sys_wtime();
  int              np;
  const char *const *names;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  PetscCall(PetscStrncpy(o.out, "analysis.json", sizeof(o.out)));
  PetscCall(sm_image_options_default(&o.image));
  PetscOptionsBegin(comm, NULL, "stochmorph analyze: descriptors of a labelled volume", "stochmorph");
  PetscCall(PetscOptionsString("-i", "Input image: an HDF5 volume (written by generate, or any 3D dataset), raw samples, a "
                               "multi-page TIFF (see -image_format), or a sub-particle file of `stochmorph shape`, "
                               "rasterised on reading at h / K (see -raster_refine, -raster_subsamples)", "analyze", o.in, o.in, sizeof(o.in), &set_in));
  PetscCall(PetscOptionsString("-o", "Output JSON; tables go beside it as <stem>.csv and <stem>_two_point.csv", "analyze",
                               o.out, o.out, sizeof(o.out), NULL));
  PetscCall(PetscOptionsReal("-two_point_max_lag", "Largest lag of the two-point functions [um] (default: half the shortest "
                             "box side for periodic volumes, a quarter for images)", "analyze", o.max_lag, &o.max_lag, NULL));
  PetscOptionsEnd();
  PetscCall(sm_image_options_set_from_options(comm, &o.image));
  PetscCall(sm_morph_options_default(&o.morph));
  PetscCall(sm_morph_options_set_from_options(comm, &o.morph));
  PetscCall(sm_fft_flags_from_options(comm, &o.fft_flags));
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "analyze"));
  PetscCheck(set_in && o.in[0], comm, PETSC_ERR_ARG_WRONG, "analyze needs an input volume: -i FILE.h5");
  PetscCheck(o.max_lag >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-two_point_max_lag must be positive (got %g um)", o.max_lag);
  {
    /* fail on an unwritable output before reading anything large */
    FILE *probe = NULL;
    PetscCall(sm_text_open(comm, o.out, &probe));
    PetscCall(sm_text_close(comm, o.out, &probe, PETSC_FALSE));
  }

  PetscCall(sm_image_read(comm, o.in, &o.image, &vol));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_get_periodic(vol, &periodic));
  if (o.morph.periodic_set) periodic = o.morph.periodic;
  PetscCall(PetscPrintf(comm, "stochmorph analyze: %s, %lld x %lld x %lld voxels of %g x %g x %g um, %d phases, %s\n", o.in,
                        (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (double)g.h[0], (double)g.h[1],
                        (double)g.h[2], np, periodic ? "periodic" : "non-periodic"));
  if (o.morph.want[SM_DESC_TWO_POINT]) {
    double bytes;
    PetscCall(sm_morph_two_point_memory_estimate(grid, np, periodic, &bytes));
    PetscCall(sm_app_check_memory(comm, bytes, "The two-point functions of this volume"));
  }
  PetscCall(sm_morph_label_counts(vol, counts));
  for (int i = 0; i < np; i++) S[i] = NAN;
  if (o.morph.want[SM_DESC_SURFACE_AREA]) {
    PetscCall(PetscLogEventBegin(SM_EVENT_Surface, 0, 0, 0, 0));
    for (int i = 0; i < np; i++) PetscCall(sm_morph_specific_surface_area(vol, i, periodic, &S[i]));
    PetscCall(PetscLogEventEnd(SM_EVENT_Surface, 0, 0, 0, 0));
  }
  PetscCall(PetscMemzero(&tp, sizeof(tp)));
  if (o.morph.want[SM_DESC_TWO_POINT]) PetscCall(sm_morph_two_point(vol, periodic, o.max_lag, o.fft_flags, &tp));
  PetscCall(PetscMemzero(morph, sizeof(morph)));
  if (sm_want_morphology(&o)) {
    double bytes;
    PetscCall(sm_morph_descriptors_memory_estimate(vol, &o.morph, &bytes));
    PetscCall(sm_app_check_memory(comm, bytes, "The morphology descriptors of this volume"));
    for (int i = 0; i < np; i++) {
      double t1 = sm_sys_wtime();
      PetscCall(sm_morph_phase_descriptors(vol, i, &o.morph, &morph[i]));
      PetscCall(PetscPrintf(comm, "  morphology of %s: %.2f s\n", names[i], sm_sys_wtime() - t1));
    }
  }
  PetscCall(sm_write_results(comm, &o, vol, counts, S, &tp, morph, periodic));

  if (!sm_want_morphology(&o)) {
    PetscCall(PetscPrintf(comm, "  phase      label  volume_fraction  S [1/um]\n"));
    for (int i = 0; i < np; i++)
      PetscCall(PetscPrintf(comm, "  %-10s %5d  %15.5f  %9.4f\n", names[i], i, (double)counts[i] / (double)g.n_total, S[i]));
  } else {
    PetscCall(PetscPrintf(comm, "  phase      label  volume_fraction  S [1/um]   r_50 [um]  r_min [um]  beta    tau_geod  M^\n"));
    for (int i = 0; i < np; i++) {
      const SMPhaseMorphology *m = &morph[i];
      PetscCall(PetscPrintf(comm, "  %-10s %5d  %15.5f  %9.4f  %9.4f  %9.4f  %6.3f  %8.4f  %.4f\n", names[i], i,
                            (double)counts[i] / (double)g.n_total, S[i], m->r50, m->r_min_mean, m->beta_mean, m->tau_mean,
                            m->M_predicted));
    }
  }
  PetscCall(PetscPrintf(comm, "  analysed in %.2f s; wrote %s\n", sm_sys_wtime() - t0, o.out));
  if (o.morph.want[SM_DESC_TWO_POINT]) PetscCall(sm_morph_two_point_free(&tp));
  for (int i = 0; i < np; i++) PetscCall(sm_morph_phase_descriptors_free(&morph[i]));
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid)); /* the reader created the grid; the volume only borrows it */
  PetscFunctionReturn(PETSC_SUCCESS);
}
