/* stochmorph shape: split a phase into star-shaped sub-particles and fit spherical-harmonic radius functions -> HDF5.
 * stochmorph rasterize: the union of those sub-particles on any grid -> a labelled HDF5 volume (SPEC 7). */
#include "app_shape.h"
#include <stochmorph/version.h>
#include <stochmorph/io.h>
#include <stochmorph/image.h>
#include <stochmorph/shape.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <math.h>

PetscErrorCode sm_cmd_shape(MPI_Comm comm)
{
  char           in[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "shapes.h5", phase[SM_NAME_LEN] = "solid";
  SMShapeOptions opt;
  SMImageOptions image;
  SMVolume       vol  = NULL;
  SMGrid         grid = NULL;
  SMGridInfo     g;
  SMShapes       sh;
  PetscBool      set_in;
  int            label;
  double         t0 = sm_sys_wtime(), emax = 0, emean = 0, rmean = 0;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&sh, sizeof(sh)));
  PetscOptionsBegin(comm, NULL, "stochmorph shape: spherical-harmonic sub-particles of a phase", "stochmorph");
  PetscCall(PetscOptionsString("-i", "Input image: an HDF5 volume (written by generate, or any 3D dataset), raw samples or a "
                               "multi-page TIFF (see -image_format)", "shape", in, in, sizeof(in), &set_in));
  PetscCall(PetscOptionsString("-o", "Output HDF5 file of sub-particles (/shapes/centres, coeffs, fit_error, voxels)",
                               "shape", out, out, sizeof(out), NULL));
  PetscCall(PetscOptionsString("-shape_phase",
                               "Phase to split into sub-particles (a name from the volume's phase_names)", "shape",
                               phase, phase, sizeof(phase), NULL));
  PetscOptionsEnd();
  PetscCall(sm_image_options_default(&image));
  PetscCall(sm_image_options_set_from_options(comm, &image));
  PetscCall(sm_shape_options_default(&opt));
  PetscCall(sm_shape_options_set_from_options(comm, &opt));
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "shape"));
  PetscCheck(set_in && in[0], comm, PETSC_ERR_ARG_WRONG, "shape needs an input image: -i FILE (.h5, .tif or raw)");
  {
    /* refuse an unwritable or misnamed output before the work */
    SMH5Writer probe = NULL;
    PetscCall(sm_h5_writer_open(comm, out, &probe));
    PetscCall(sm_h5_writer_close(&probe, PETSC_FALSE));
  }
  PetscCall(PetscLogEventBegin(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_image_read(comm, in, &image, &vol));
  PetscCall(PetscLogEventEnd(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  ierr = sm_volume_find_phase(vol, phase, &label);
  if (!ierr)
    ierr = sm_app_check_memory(comm, sm_shape_extract_bytes_per_voxel() * (double)g.n_total, "Splitting this volume");
  if (!ierr) {
    PetscCall(PetscPrintf(comm,
                          "stochmorph shape: %s, grid %lld x %lld x %lld, voxel %g x %g x %g um, phase %s, degree %d, "
                          "%d rank%s\n",
                          in, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (double)g.h[0], (double)g.h[1],
                          (double)g.h[2], phase, opt.degree, g.size, g.size > 1 ? "s" : ""));
    ierr = sm_shape_extract(vol, label, &opt, &sh);
  }
  if (!ierr) ierr = PetscStrncpy(sh.source, in, sizeof(sh.source));
  if (!ierr) ierr = PetscLogEventBegin(SM_EVENT_H5Write, 0, 0, 0, 0);
  if (!ierr) ierr = sm_shape_write(comm, out, &sh);
  if (!ierr) ierr = PetscLogEventEnd(SM_EVENT_H5Write, 0, 0, 0, 0);
  if (ierr) {
    (void)sm_shapes_free(&sh);
    (void)sm_volume_destroy(&vol);
    (void)sm_grid_destroy(&grid);
    PetscCall(ierr);
  }
  for (int64_t p = 0; p < sh.n; p++) {
    emax = PetscMax(emax, sh.fit_error[p]);
    emean += sh.fit_error[p] * (double)sh.voxels[p];
    rmean += sh.coeffs[p * sh.ncoeffs] / sqrt(4 * PETSC_PI) * (double)sh.voxels[p];
  }
  {
    const double hmin = PetscMin(sh.source_h[0], PetscMin(sh.source_h[1], sh.source_h[2]));
    int64_t      nv   = 0;
    for (int64_t p = 0; p < sh.n; p++) nv += sh.voxels[p];
    PetscCall(
        PetscPrintf(comm,
                    "  %lld sub-particles from %lld watershed basins (markers: distance maxima of dynamic >= %g um; "
                    "%lld basins not star-shaped from their centre were cut into star-shaped parts), %d rays each; "
                    "mean radius %.4g um\n  fit error (RMS over the rays): voxel-weighted mean %.3g um, largest %.3g "
                    "um\n  %lld basin centroids did not see their whole basin and were moved to the deepest voxel; "
                    "%lld sub-particles are not star-shaped from their centre\n"
                    "  star-shaped volume fraction %.4f (of the %s voxels, the fraction in sub-particles that are "
                    "star-shaped from their centre)\n",
                    (long long)sh.n, (long long)sh.basins, sh.marker_height, (long long)sh.split, sh.ndirections,
                    rmean / (double)nv, emean / (double)nv, emax, (long long)sh.moved, (long long)sh.not_star,
                    sh.star_volume_fraction, phase));
    if (opt.adaptive_degree && sh.degree > 2) {
      /* the sub-particles fitted below degree L store zeros at degree L (-shape_adaptive_degree) */
      int64_t nlow = 0;
      for (int64_t p = 0; p < sh.n; p++) nlow += sm_shape_sh_top_degree(sh.degree, sh.coeffs + p * sh.ncoeffs) < sh.degree;
      PetscCall(PetscPrintf(comm,
                            "  %lld sub-particles (%.1f %%) fitted below degree %d, at the degree their size resolves "
                            "(-shape_adaptive_degree), from 4 (L_p + 1)^2 rays\n",
                            (long long)nlow, sh.n ? 100.0 * (double)nlow / (double)sh.n : 0.0, sh.degree));
    }
    if (sh.uncovered >= 0)
      PetscCall(PetscPrintf(comm,
                            "  %lld patches cover the voxels the fitted sub-particles left out; %lld voxels (%.2e of "
                            "the %s) are left out even so\n",
                            (long long)sh.patches, (long long)sh.uncovered,
                            (double)sh.uncovered / (double)nv, phase));
    if (sh.radial_offset != 0)
      PetscCall(PetscPrintf(comm,
                            "  every surface moved %s by %.4g um (%.3f voxel) so that the union has the %s volume "
                            "(-shape_match_volume)\n",
                            sh.radial_offset > 0 ? "inward" : "outward", fabs(sh.radial_offset),
                            fabs(sh.radial_offset) / hmin, phase));
    if (fabs(sh.radial_offset) >= SM_SHAPE_OFFSET_BAND * hmin * (1 - 1e-9))
      PetscCall(PetscPrintf(comm,
                            "  warning: the move is at its bound of %g voxel, so the union's volume still differs "
                            "from the %s's (the fits are far from the voxels: check -sh_degree and the image)\n",
                            SM_SHAPE_OFFSET_BAND, phase));
  }
  if (g.size > 1)
    PetscCall(PetscPrintf(comm,
                          "  %lld of the %lld basins were computed on another rank than their owner (work sharing)\n",
                          (long long)sh.taken, (long long)sh.basins));
  PetscCall(PetscPrintf(comm, "  wrote %s in %.2f s\n", out, sm_sys_wtime() - t0));
  PetscCall(sm_app_report_peak_memory(comm, g.n_total));
  PetscCall(sm_shapes_free(&sh));
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_rasterize(MPI_Comm comm)
{
  char           in[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "rasterized.h5", buf[64];
  PetscInt       nn[3] = {0, 0, 0}, nn_count = 3, s = 4;
  PetscReal      hh[3]    = {0, 0, 0}, h[3];
  PetscInt       hh_count = 3;
  PetscBool      set_in, set_n, set_h;
  SMShapes       sh;
  SMGrid         grid = NULL;
  SMGridInfo     g;
  SMVolume       vol = NULL;
  SMH5Writer     w   = NULL;
  int64_t        n[3], counts[SM_MAX_PHASES];
  double         t0 = sm_sys_wtime(), total = 1, S;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&sh, sizeof(sh)));
  PetscOptionsBegin(comm, NULL, "stochmorph rasterize: the union of spherical-harmonic sub-particles on a grid",
                    "stochmorph");
  PetscCall(PetscOptionsString("-i", "Input sub-particle file (written by `stochmorph shape`)", "rasterize", in, in,
                               sizeof(in), &set_in));
  PetscCall(PetscOptionsString("-o",
                               "Output HDF5 volume (phases pore/solid, not periodic); an XDMF sidecar goes beside it",
                               "rasterize", out, out, sizeof(out), NULL));
  PetscCall(PetscOptionsRealArray("-voxel_size", "Target voxel size in um: H or HX,HY,HZ (default: the source's)",
                                  "rasterize", hh, &hh_count, &set_h));
  PetscCall(PetscOptionsIntArray("-grid_size",
                                 "Target voxels along x,y,z (one value: a cube; default: the source box at the "
                                 "target voxel size)",
                                 "rasterize", nn, &nn_count, &set_n));
  PetscCall(PetscOptionsInt("-raster_subsamples",
                            "Sub-samples per axis and voxel, 1..8 (s^3 points at the sub-cell centres; "
                            "a voxel is solid when most of them are inside; even s: ties by a checkerboard)",
                            "rasterize", s, &s, NULL));
  PetscOptionsEnd();
  if (sm_app_help()) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(sm_app_check_unused_options(comm, "rasterize"));
  PetscCheck(set_in && in[0], comm, PETSC_ERR_ARG_WRONG, "rasterize needs a sub-particle file: -i SHAPES.h5");
  PetscCheck(s >= 1 && s <= 8, comm, PETSC_ERR_ARG_OUTOFRANGE, "-raster_subsamples must be between 1 and 8 (got %d)",
             (int)s);
  PetscCheck(!set_h || hh_count == 1 || hh_count == 3, comm, PETSC_ERR_ARG_WRONG,
             "-voxel_size takes one value H or three values HX,HY,HZ (um); got %d", (int)hh_count);
  PetscCheck(!set_n || nn_count == 1 || nn_count == 3, comm, PETSC_ERR_ARG_WRONG,
             "-grid_size takes one value (a cube) or three values NX,NY,NZ; got %d", (int)nn_count);
  PetscCall(sm_shape_read(comm, in, &sh));
  for (int d = 0; d < 3; d++) {
    h[d] = set_h ? hh[hh_count == 1 ? 0 : d] : (PetscReal)sh.source_h[d];
    if (!(h[d] > 0 && isfinite((double)h[d]))) PetscCall(sm_shapes_free(&sh));
    PetscCheck(h[d] > 0 && isfinite((double)h[d]), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-voxel_size: the %c voxel size must be positive (got %g um)", "xyz"[d], (double)h[d]);
    if (set_n)
      n[d] = nn[nn_count == 1 ? 0 : d];
    else
      n[d] = (int64_t)PetscMax(1.0, floor((double)sh.source_n[d] * sh.source_h[d] / (double)h[d] + 0.5));
    if (n[d] < 1) PetscCall(sm_shapes_free(&sh));
    PetscCheck(n[d] >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-grid_size: the %c size must be positive (got %lld)",
               "xyz"[d], (long long)n[d]);
    total *= (double)n[d];
  }
  /* the target grid's memory before anything is allocated for it */
  ierr = sm_app_check_memory(comm, sm_shape_rasterize_bytes_per_voxel((int)s) * total, "Rasterising on this grid");
  if (!ierr) ierr = sm_grid_create(comm, n, h, &grid);
  if (!ierr) ierr = sm_h5_writer_open(comm, out, &w);
  if (ierr) {
    (void)sm_shapes_free(&sh);
    (void)sm_grid_destroy(&grid);
    PetscCall(ierr);
  }
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(
      PetscPrintf(comm,
                  "stochmorph rasterize: %lld sub-particles of degree %d from %s -> grid %lld x %lld x %lld, voxel "
                  "%g x %g x %g um, %d^3 sub-samples, %d rank%s\n",
                  (long long)sh.n, sh.degree, in, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2],
                  (double)g.h[0], (double)g.h[1], (double)g.h[2], (int)s, g.size, g.size > 1 ? "s" : ""));
  ierr = sm_shape_rasterize(&sh, grid, (int)s, &vol);
  if (!ierr) ierr = sm_volume_set_attr(vol, "source", "stochmorph rasterize");
  if (!ierr) ierr = sm_volume_set_attr(vol, "shapes_file", in);
  if (!ierr) ierr = sm_volume_set_attr(vol, "shapes_source_file", sh.source);
  if (!ierr) {
    PetscCall(PetscSNPrintf(buf, sizeof(buf), "%d", sh.degree));
    ierr = sm_volume_set_attr(vol, "sh_degree", buf);
  }
  if (!ierr) {
    PetscCall(PetscSNPrintf(buf, sizeof(buf), "%d", (int)s));
    ierr = sm_volume_set_attr(vol, "raster_subsamples", buf);
  }
  if (!ierr) ierr = sm_volume_set_attr(vol, "code_version", sm_version_code());
  if (!ierr) ierr = PetscLogEventBegin(SM_EVENT_H5Write, 0, 0, 0, 0);
  if (!ierr) ierr = sm_h5_writer_write_volume(w, vol);
  if (!ierr) ierr = PetscLogEventEnd(SM_EVENT_H5Write, 0, 0, 0, 0);
  if (ierr) {
    (void)sm_h5_writer_close(&w, PETSC_FALSE);
    (void)sm_volume_destroy(&vol);
    (void)sm_shapes_free(&sh);
    (void)sm_grid_destroy(&grid);
    PetscCall(ierr);
  }
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  PetscCall(sm_morph_label_counts(vol, counts));
  PetscCall(sm_morph_specific_surface_area(vol, 1, PETSC_FALSE, &S));
  PetscCall(PetscPrintf(comm,
                        "  solid volume fraction %.4f, specific surface area %.4g 1/um (non-periodic estimator)\n",
                        (double)counts[1] / (double)g.n_total, S));
  PetscCall(PetscPrintf(comm, "  wrote %s (and its .xmf sidecar) in %.2f s\n", out, sm_sys_wtime() - t0));
  PetscCall(sm_app_report_peak_memory(comm, g.n_total));
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_shapes_free(&sh));
  PetscCall(sm_grid_destroy(&grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}
