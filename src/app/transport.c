/* stochmorph transport: effective conductivity (M-factor, effective tortuosity) of one phase of a labelled volume
 * -> JSON (SPEC 6), optionally the potential fields -> HDF5 + XDMF. */
#include "app.h"
#include <stochmorph/version.h>
#include <stochmorph/io.h>
#include <stochmorph/image.h>
#include <stochmorph/morph.h>
#include <stochmorph/report.h>
#include <stochmorph/transport.h>
#include <stochmorph/log.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

typedef struct {
  char           in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN];
  char           phase[SM_NAME_LEN];
  PetscBool      save_solution;
  SMImageOptions image;
  SMTransport    solver;
} SMTransportOptions;

/* The keys of one direction's result (inside an open object). */
static PetscErrorCode sm_write_direction(SMJson js, const SMTransportResult *r, const char *phase)
{
  PetscFunctionBeginUser;
  PetscCall(sm_json_string(js, "direction", sm_transport_direction_names[r->direction]));
  PetscCall(sm_json_bool(js, "percolates", r->percolates));
  PetscCall(sm_json_real(js, "volume_fraction", r->volume_fraction));
  PetscCall(sm_json_real(js, "conducting_fraction", r->conducting_fraction));
  PetscCall(sm_json_real(js, "percolating_fraction", r->percolating_fraction));
  PetscCall(sm_json_real(js, "removed_fraction", r->removed_fraction));
  PetscCall(sm_json_real(js, "D_eff_over_D", r->M));
  PetscCall(sm_json_real(js, "tau_eff", r->tau_eff)); /* INFINITY (M = 0) is written as null */
  PetscCall(sm_json_real(js, "D_eff", r->D_eff));
  PetscCall(sm_json_real(js, "D", r->D));
  PetscCall(sm_json_real(js, "flux_in", r->flux_in));
  PetscCall(sm_json_real(js, "flux_out", r->flux_out));
  PetscCall(sm_json_real(js, "flux_imbalance", r->flux_imbalance));
  PetscCall(sm_json_real(js, "flux", r->flux));
  PetscCall(sm_json_real(js, "M_error_estimate", r->M_error_estimate));
  PetscCall(sm_json_string(js, "stop_rule", !r->solved ? "" : (r->m_converged ? "M" : "residual")));
  PetscCall(sm_json_real(js, "length", r->length));
  PetscCall(sm_json_real(js, "area", r->area));
  PetscCall(sm_json_int(js, "unknowns", (long long)r->unknowns));
  PetscCall(sm_json_int(js, "iterations", (long long)r->iterations));
  PetscCall(sm_json_real(js, "residual", r->solved ? r->residual_norm : NAN));
  PetscCall(sm_json_string(js, "converged_reason", r->solved ? KSPConvergedReasons[r->reason] : "not solved"));
  PetscCall(sm_json_string(js, "ksp_type", r->solved ? r->ksp_type : ""));
  PetscCall(sm_json_string(js, "pc_type", r->solved ? r->pc_type : ""));
  PetscCall(sm_json_real(js, "setup_time", r->setup_time));
  PetscCall(sm_json_real(js, "solve_time", r->solve_time));
  if (!r->percolates) {
    char msg[256];
    if (r->phase_voxels == 0)
      PetscCall(PetscSNPrintf(msg, sizeof(msg), "the phase %s is empty: D_eff_over_D = 0, tau_eff not defined", phase));
    else
      PetscCall(PetscSNPrintf(msg, sizeof(msg), "no conducting path connects the two %s faces: D_eff_over_D = 0, tau_eff not defined",
                              sm_transport_direction_names[r->direction]));
    PetscCall(sm_json_string(js, "message", msg));
  } else if (!r->solved)
    PetscCall(sm_json_string(js, "message", "every node is a Dirichlet node (one voxel layer): no linear system to solve"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "all" for x, y, z in order, else the list ("x,z"). */
static PetscErrorCode sm_direction_list(int n, const int dirs[], char buf[], size_t len)
{
  PetscFunctionBeginUser;
  if (n == 3 && dirs[0] == 0 && dirs[1] == 1 && dirs[2] == 2) PetscCall(PetscStrncpy(buf, "all", len));
  else {
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
      PetscCall(PetscStrlcat(buf, i ? "," : "", len));
      PetscCall(PetscStrlcat(buf, sm_transport_direction_names[dirs[i]], len));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_write_results(MPI_Comm comm, const SMTransportOptions *o, SMVolume vol, int label,
                                       const double *cond, const SMTransportResult *res)
{
  SMJson              js = NULL;
  SMGrid              grid;
  SMGridInfo          g;
  int                 np, nattrs, ndirs;
  const int          *dirs;
  const char *const  *names, *const *keys, *const *values;
  SMTransportMethod   method;
  SMTransportPCMatrix pcm;
  char                dirlist[8], settings[1024];

  PetscFunctionBeginUser;
  PetscCall(sm_transport_get_method(o->solver, &method));
  PetscCall(sm_transport_get_pc_matrix(o->solver, &pcm));
  PetscCall(sm_transport_get_directions(o->solver, &ndirs, &dirs));
  PetscCall(sm_transport_get_settings_text(o->solver, settings, sizeof(settings)));
  PetscCall(sm_direction_list(ndirs, dirs, dirlist, sizeof(dirlist)));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  PetscCall(sm_volume_get_attrs(vol, &nattrs, &keys, &values));
  PetscCall(sm_json_open(comm, o->out, &js));
  PetscCall(sm_json_string(js, "command", "transport"));
  PetscCall(sm_json_string(js, "input", o->in));
  PetscCall(sm_json_string(js, "code_version", sm_version_code()));
  PetscCall(sm_json_string(js, "phase", names[label]));
  PetscCall(sm_json_int(js, "label", label));
  PetscCall(sm_json_string(js, "method", sm_transport_method_names[method]));
  PetscCall(sm_json_string(js, "direction", dirlist));
  if (method == SM_TRANSPORT_FEM) PetscCall(sm_json_string(js, "pc_matrix", sm_transport_pc_matrix_names[pcm]));
  PetscCall(sm_json_string(js, "solver_settings", settings));
  PetscCall(sm_json_string(js, "side_faces", "no-flux"));
  PetscCall(sm_json_string(js, "length", "N h"));
  PetscCall(sm_json_string(js, "area", "full box cross-section"));
  PetscCall(sm_json_string(js, "flux", method == SM_TRANSPORT_FEM ? "energy of the solution: consistent nodal reactions at the inlet minus u.r"
                                                                      : "energy of the solution: inlet boundary face fluxes minus u.r"));
  PetscCall(sm_json_begin_object(js, "units"));
  PetscCall(sm_json_string(js, "D_eff", "units of the conductivities (D of the phase = 1 unless -transport_conductivities)"));
  PetscCall(sm_json_string(js, "D_eff_over_D", "1 (M-factor)"));
  PetscCall(sm_json_string(js, "tau_eff", "1 (volume_fraction / D_eff_over_D)"));
  PetscCall(sm_json_string(js, "flux_in", "conductivity * um (total flux for a unit potential drop)"));
  PetscCall(sm_json_string(js, "M_error_estimate", "1 (estimated upper bound of the relative error of D_eff_over_D)"));
  PetscCall(sm_json_string(js, "length", "um"));
  PetscCall(sm_json_string(js, "area", "um^2"));
  PetscCall(sm_json_string(js, "setup_time", "s"));
  PetscCall(sm_json_string(js, "voxel_size", "um"));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "conductivities"));
  for (int l = 0; l < np; l++) PetscCall(sm_json_real(js, names[l], cond[l]));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "grid"));
  PetscCall(sm_json_int_array(js, "size", g.n, 3));
  PetscCall(sm_json_real_array(js, "voxel_size", g.h, 3));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_begin_object(js, "provenance"));
  for (int i = 0; i < nattrs; i++) PetscCall(sm_json_string(js, keys[i], values[i]));
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_real(js, "volume_fraction", res[0].volume_fraction));
  if (ndirs == 1) PetscCall(sm_write_direction(js, &res[0], names[label]));
  PetscCall(sm_json_begin_object(js, "directions"));
  for (int i = 0; i < ndirs; i++) {
    PetscCall(sm_json_begin_object(js, sm_transport_direction_names[dirs[i]]));
    PetscCall(sm_write_direction(js, &res[i], names[label]));
    PetscCall(sm_json_end_object(js));
  }
  PetscCall(sm_json_end_object(js));
  PetscCall(sm_json_close(&js, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The solves, and the potential fields into w when it is not NULL. */
static PetscErrorCode sm_transport_body(MPI_Comm comm, const SMTransportOptions *o, SMVolume vol, int label,
                                        const double *cond, SMH5Writer w, SMTransportResult *res)
{
  SMGrid     grid;
  SMGridInfo g;
  double    *pot = NULL;
  int        ndirs;
  const int *dirs;

  PetscFunctionBeginUser;
  PetscCall(sm_transport_get_directions(o->solver, &ndirs, &dirs));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  if (w) {
    PetscCall(sm_h5_writer_write_volume(w, vol));
    PetscCall(PetscMalloc1((size_t)g.n_local, &pot));
  }
  for (int i = 0; i < ndirs; i++) {
    const SMTransportResult *r = &res[i];
    PetscCall(sm_transport_solve(o->solver, vol, cond, label, dirs[i], pot, &res[i]));
    if (r->percolates)
      PetscCall(PetscPrintf(comm, "  %s: D_eff/D = %.6g, tau_eff = %.5g (eps %.4f, percolating %.2f %%, removed %.4f), %lld unknowns, "
                                  "%d iterations, imbalance %.1e, setup %.2f s, solve %.2f s\n",
                            sm_transport_direction_names[dirs[i]], r->M, r->tau_eff, r->volume_fraction,
                            100.0 * r->percolating_fraction, r->removed_fraction, (long long)r->unknowns,
                            (int)r->iterations, r->flux_imbalance, r->setup_time, r->solve_time));
    else
      PetscCall(PetscPrintf(comm, "  %s: D_eff/D = 0 (%s; eps %.4f)\n", sm_transport_direction_names[dirs[i]],
                            r->phase_voxels ? "no conducting path between the faces" : "empty phase", r->volume_fraction));
    if (w) {
      char name[32];
      PetscCall(PetscSNPrintf(name, sizeof(name), "potential_%s", sm_transport_direction_names[dirs[i]]));
      PetscCall(PetscLogEventBegin(SM_EVENT_H5Write, 0, 0, 0, 0));
      PetscCall(sm_h5_writer_write_field(w, grid, name, pot, g.n[0]));
      PetscCall(PetscLogEventEnd(SM_EVENT_H5Write, 0, 0, 0, 0));
    }
  }
  PetscCall(PetscFree(pot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The command after its options: check, read, solve, write. */
static PetscErrorCode sm_transport_run(MPI_Comm comm, const SMTransportOptions *o, double t0)
{
  SMTransportResult  res[3];
  SMVolume           vol  = NULL;
  SMGrid             grid = NULL;
  SMGridInfo         g;
  SMH5Writer         w = NULL;
  char               solpath[PETSC_MAX_PATH_LEN], dirlist[8];
  double             cond[SM_MAX_PHASES], bytes;
  int                label, np, ndirs;
  const int         *dirs;
  const char *const *names;
  SMTransportMethod  method;
  PetscErrorCode     ierr;

  PetscFunctionBeginUser;
  PetscCall(sm_app_check_unused_options(comm, "transport"));
  PetscCheck(o->in[0], comm, PETSC_ERR_ARG_WRONG, "transport needs an input image: -i FILE (.h5, .tif, raw, or shapes.h5 of `stochmorph shape`)");
  PetscCall(sm_transport_get_directions(o->solver, &ndirs, &dirs));
  PetscCall(sm_transport_get_method(o->solver, &method));
  PetscCall(sm_direction_list(ndirs, dirs, dirlist, sizeof(dirlist)));
  {
    /* fail on an unwritable output before reading anything large */
    FILE *probe = NULL;
    PetscCall(sm_text_open(comm, o->out, &probe));
    PetscCall(sm_text_close(comm, o->out, &probe, PETSC_FALSE));
  }

  PetscCall(PetscLogEventBegin(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_image_read(comm, o->in, &o->image, &vol));
  PetscCall(PetscLogEventEnd(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  if (!o->phase[0]) {
    char list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";
    for (int l = 0; l < np; l++) {
      PetscCall(PetscStrlcat(list, l ? ", " : "", sizeof(list)));
      PetscCall(PetscStrlcat(list, names[l], sizeof(list)));
    }
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "transport needs -phase NAME; the phases of %s are: %s", o->in, list);
  }
  PetscCall(sm_volume_find_phase(vol, o->phase, &label));
  PetscCall(sm_transport_get_conductivities(o->solver, vol, label, cond));
  PetscCall(sm_transport_memory_estimate(o->solver, vol, cond, &bytes));
  if (o->save_solution) bytes += 8.0 * (double)g.n_total;
  PetscCall(sm_app_check_memory(comm, bytes, "The transport solve of this volume"));
  PetscCall(PetscPrintf(comm, "stochmorph transport: %s, %lld x %lld x %lld voxels of %g x %g x %g um, phase %s, method %s, "
                        "direction %s, %d rank%s\n",
                        o->in, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (double)g.h[0], (double)g.h[1],
                        (double)g.h[2], o->phase, sm_transport_method_names[method], dirlist, g.size, g.size > 1 ? "s" : ""));
  if (o->save_solution) {
    PetscCall(sm_path_replace_ext(o->out, "_potential.h5", solpath, sizeof(solpath)));
    PetscCall(sm_h5_writer_open(comm, solpath, &w));
  }
  ierr = sm_transport_body(comm, o, vol, label, cond, w, res);
  if (ierr) {
    (void)sm_h5_writer_close(&w, PETSC_FALSE);
    PetscCall(ierr);
  }
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  /* the JSON last: its presence means the whole run finished */
  PetscCall(sm_write_results(comm, o, vol, label, cond, res));
  PetscCall(PetscPrintf(comm, "  solved in %.2f s; wrote %s", sm_sys_wtime() - t0, o->out));
  if (o->save_solution) PetscCall(PetscPrintf(comm, " and %s", solpath));
  PetscCall(PetscPrintf(comm, "\n"));
  PetscCall(sm_app_report_peak_memory(comm, g.n_total));
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid)); /* the reader created the grid; the volume only borrows it */
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_transport(MPI_Comm comm)
{
  SMTransportOptions o;
  double             t0 = sm_sys_wtime();
  PetscErrorCode     ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  PetscCall(PetscStrncpy(o.out, "transport.json", sizeof(o.out)));
  PetscCall(sm_image_options_default(&o.image));
  PetscOptionsBegin(comm, NULL,
                    "stochmorph transport: effective conductivity of one phase (SPEC 6). Side faces no-flux, L = N h, "
                    "A = the full box cross-section. Solver: -transport_ksp_type cg -transport_pc_type hypre (BoomerAMG) "
                    "-transport_ksp_rtol 1e-8 -transport_ksp_norm_type unpreconditioned by default; any "
                    "-transport_ksp_*, -transport_pc_*, -transport_mg_* option overrides",
                    "stochmorph");
  PetscCall(PetscOptionsString("-i", "Input image: an HDF5 volume (written by generate, or any 3D dataset), raw samples, a "
                               "multi-page TIFF (see -image_format), or a sub-particle file of `stochmorph shape`, "
                               "rasterised on reading at h / K (see -raster_refine, -raster_subsamples)", "transport", o.in, o.in, sizeof(o.in), NULL));
  PetscCall(PetscOptionsString("-o", "Output JSON; with -save_solution the potentials go to <stem>_potential.h5 (+ .xmf)",
                               "transport", o.out, o.out, sizeof(o.out), NULL));
  PetscCall(PetscOptionsString("-phase", "The phase whose D_eff/D (M-factor) and tau_eff = eps / M are computed (required; "
                               "e.g. solid or pore, active, carbon)", "transport", o.phase, o.phase, sizeof(o.phase),
                               NULL));
  PetscCall(PetscOptionsBool("-save_solution", "Write the potential per voxel of each direction (FEM: mean of the 8 nodes, "
                             "NaN outside the solved set) to <stem>_potential.h5 as /fields/potential_<x|y|z>",
                             "transport", o.save_solution, &o.save_solution, NULL));
  PetscOptionsEnd();
  PetscCall(sm_image_options_set_from_options(comm, &o.image));
  PetscCall(sm_transport_create(comm, &o.solver));
  ierr = sm_transport_set_from_options(o.solver);
  if (ierr || sm_app_help()) {
    PetscCall(sm_transport_destroy(&o.solver));
    PetscCall(ierr);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  ierr = sm_transport_run(comm, &o, t0);
  PetscCall(sm_transport_destroy(&o.solver));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
