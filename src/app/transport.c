/* stochmorph transport: effective conductivity (M-factor, effective tortuosity) of one phase of a labelled volume
 * -> JSON (SPEC 6), optionally the potential fields -> HDF5 + XDMF. */
#include "app.h"
#include <stochmorph/version.h>
#include <stochmorph/io.h>
#include <stochmorph/morph.h>
#include <stochmorph/report.h>
#include <stochmorph/transport.h>
#include <stochmorph/log.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

typedef struct {
  char              in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], dataset[PETSC_MAX_PATH_LEN];
  char              phase[SM_NAME_LEN], direction[16], method_name[16], pc_matrix[16];
  char             *cond_items[SM_MAX_PHASES + 1];
  PetscInt          ncond;
  PetscBool         cond_set, save_solution;
  PetscReal         h_default;
  SMTransportMethod method;
  int               dirs[3], ndirs;
} SMTransportOptions;

/* Solver options are read by KSPSetFromOptions (and the multigrid levels by PCSetUp) only when a system is solved;
   mark them as read here so that the check for misspelt options before the work does not refuse them. */
static PetscErrorCode sm_accept_solver_options(void)
{
  static const char *prefixes[] = {"ksp_", "pc_", "mg_", "mat", "vec_", "gamg_", NULL};
  PetscInt           n;
  char             **names, **values;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++)
    for (int p = 0; prefixes[p]; p++)
      if (!strncmp(names[i], prefixes[p], strlen(prefixes[p]))) {
        char      key[256];
        PetscBool has;
        PetscCall(PetscSNPrintf(key, sizeof(key), "-%s", names[i]));
        PetscCall(PetscOptionsHasName(NULL, NULL, key, &has));
      }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -phase_conductivities name:value,...: the reported phase defaults to 1, every other phase to 0. */
static PetscErrorCode sm_parse_conductivities(MPI_Comm comm, SMTransportOptions *o, SMVolume vol, int label, double *cond)
{
  int                np;
  const char *const *names;
  char               list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  for (int l = 0; l < np; l++) {
    cond[l] = l == label ? 1.0 : 0.0;
    PetscCall(PetscStrlcat(list, l ? ", " : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, names[l], sizeof(list)));
  }
  for (PetscInt i = 0; o->cond_set && i < o->ncond; i++) {
    char  *item = o->cond_items[i], *colon = strchr(item, ':'), *end = NULL;
    int    found = -1;
    double v;
    PetscCheck(colon, comm, PETSC_ERR_ARG_WRONG, "-phase_conductivities: '%s' is not name:value (e.g. solid:1,pore:0.1)", item);
    *colon = 0;
    for (int l = 0; l < np; l++)
      if (!strcmp(names[l], item)) found = l;
    PetscCheck(found >= 0, comm, PETSC_ERR_ARG_WRONG, "-phase_conductivities: unknown phase '%s'; this volume has phases: %s",
               item, list);
    errno = 0;
    v     = strtod(colon + 1, &end);
    PetscCheck(!errno && end != colon + 1 && *end == 0 && isfinite(v) && v >= 0, comm, PETSC_ERR_ARG_WRONG,
               "-phase_conductivities: the conductivity of %s must be a number >= 0 (got '%s')", item, colon + 1);
    cond[found] = v;
  }
  PetscCheck(cond[label] > 0, comm, PETSC_ERR_ARG_WRONG,
             "-phase_conductivities: the reported phase %s needs a positive conductivity (M = D_eff / D divides by it)",
             names[label]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

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

static PetscErrorCode sm_write_results(MPI_Comm comm, const SMTransportOptions *o, SMVolume vol, int label,
                                       const double *cond, const SMTransportResult *res)
{
  SMJson             js = NULL;
  SMGrid             grid;
  SMGridInfo         g;
  int                np, nattrs;
  const char *const *names, *const *keys, *const *values;

  PetscFunctionBeginUser;
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
  PetscCall(sm_json_string(js, "method", sm_transport_method_names[o->method]));
  PetscCall(sm_json_string(js, "direction", o->direction));
  if (o->method == SM_TRANSPORT_FEM) PetscCall(sm_json_string(js, "pc_matrix", o->pc_matrix));
  PetscCall(sm_json_string(js, "side_faces", "no-flux"));
  PetscCall(sm_json_string(js, "length", "N h"));
  PetscCall(sm_json_string(js, "area", "full box cross-section"));
  PetscCall(sm_json_string(js, "flux", o->method == SM_TRANSPORT_FEM ? "consistent nodal reactions at the Dirichlet nodes, mean of inlet and outlet"
                                                                      : "boundary face fluxes, mean of inlet and outlet"));
  PetscCall(sm_json_begin_object(js, "units"));
  PetscCall(sm_json_string(js, "D_eff", "units of the conductivities (D of the phase = 1 unless -phase_conductivities)"));
  PetscCall(sm_json_string(js, "D_eff_over_D", "1 (M-factor)"));
  PetscCall(sm_json_string(js, "tau_eff", "1 (volume_fraction / D_eff_over_D)"));
  PetscCall(sm_json_string(js, "flux_in", "conductivity * um (total flux for a unit potential drop)"));
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
  if (o->ndirs == 1) PetscCall(sm_write_direction(js, &res[0], names[label]));
  PetscCall(sm_json_begin_object(js, "directions"));
  for (int i = 0; i < o->ndirs; i++) {
    PetscCall(sm_json_begin_object(js, sm_transport_direction_names[o->dirs[i]]));
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

  PetscFunctionBeginUser;
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  if (w) {
    PetscCall(sm_h5_writer_write_volume(w, vol));
    PetscCall(PetscMalloc1((size_t)g.n_local, &pot));
  }
  for (int i = 0; i < o->ndirs; i++) {
    const SMTransportResult *r = &res[i];
    PetscCall(sm_transport_solve(vol, cond, label, o->method, o->dirs[i], pot, &res[i]));
    if (r->percolates)
      PetscCall(PetscPrintf(comm, "  %s: D_eff/D = %.6g, tau_eff = %.5g (eps %.4f, percolating %.2f %%, removed %.4f), %lld unknowns, "
                                  "%d iterations, imbalance %.1e, setup %.2f s, solve %.2f s\n",
                            sm_transport_direction_names[o->dirs[i]], r->M, r->tau_eff, r->volume_fraction,
                            100.0 * r->percolating_fraction, r->removed_fraction, (long long)r->unknowns,
                            (int)r->iterations, r->flux_imbalance, r->setup_time, r->solve_time));
    else
      PetscCall(PetscPrintf(comm, "  %s: D_eff/D = 0 (%s; eps %.4f)\n", sm_transport_direction_names[o->dirs[i]],
                            r->phase_voxels ? "no conducting path between the faces" : "empty phase", r->volume_fraction));
    if (w) {
      char name[32];
      PetscCall(PetscSNPrintf(name, sizeof(name), "potential_%s", sm_transport_direction_names[o->dirs[i]]));
      PetscCall(PetscLogEventBegin(SM_EVENT_H5Write, 0, 0, 0, 0));
      PetscCall(sm_h5_writer_write_field(w, grid, name, pot, g.n[0]));
      PetscCall(PetscLogEventEnd(SM_EVENT_H5Write, 0, 0, 0, 0));
    }
  }
  PetscCall(PetscFree(pot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_transport(MPI_Comm comm)
{
  SMTransportOptions o;
  SMTransportResult  res[3];
  SMVolume           vol  = NULL;
  SMGrid             grid = NULL;
  SMGridInfo         g;
  SMH5Writer         w = NULL;
  PetscBool          set_in, set_phase;
  char               solpath[PETSC_MAX_PATH_LEN];
  double             cond[SM_MAX_PHASES], bytes, t0 = sm_sys_wtime();
  int                label, np;
  const char *const *names;
  PetscErrorCode     ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  PetscCall(PetscStrncpy(o.out, "transport.json", sizeof(o.out)));
  PetscCall(PetscStrncpy(o.dataset, "/labels", sizeof(o.dataset)));
  PetscCall(PetscStrncpy(o.direction, "all", sizeof(o.direction)));
  PetscCall(PetscStrncpy(o.method_name, "fem", sizeof(o.method_name)));
  PetscCall(PetscStrncpy(o.pc_matrix, "edge", sizeof(o.pc_matrix)));
  o.ncond = SM_MAX_PHASES + 1;
  PetscOptionsBegin(comm, NULL,
                    "stochmorph transport: effective conductivity of one phase (SPEC 6). Side faces no-flux, L = N h, "
                    "A = the full box cross-section. Solver: -ksp_type cg -pc_type hypre (BoomerAMG) -ksp_rtol 1e-8 "
                    "-ksp_norm_type unpreconditioned by default; any -ksp_*, -pc_*, -mg_* option overrides",
                    "stochmorph");
  PetscCall(PetscOptionsString("-i", "Input HDF5 volume (written by generate, or any 3D integer dataset)", "transport", o.in,
                               o.in, sizeof(o.in), &set_in));
  PetscCall(PetscOptionsString("-o", "Output JSON; with -save_solution the potentials go to <stem>_potential.h5 (+ .xmf)",
                               "transport", o.out, o.out, sizeof(o.out), NULL));
  PetscCall(PetscOptionsString("-image_dataset", "Dataset holding the labels", "transport", o.dataset, o.dataset,
                               sizeof(o.dataset), NULL));
  PetscCall(PetscOptionsReal("-voxel_size", "Voxel size [um] for files that do not record one", "transport", o.h_default,
                             &o.h_default, NULL));
  PetscCall(PetscOptionsString("-phase", "The phase whose D_eff/D (M-factor) and tau_eff = eps / M are computed (required; "
                               "e.g. solid or pore, active, carbon)", "transport", o.phase, o.phase, sizeof(o.phase),
                               &set_phase));
  PetscCall(PetscOptionsString("-transport_direction", "x, y, z, or all (the three diagonal entries)", "transport",
                               o.direction, o.direction, sizeof(o.direction), NULL));
  PetscCall(PetscOptionsString("-transport_method", "fem (trilinear hexahedra, nodal reactions; 26-connected) or fv "
                               "(cell-centred 7-point, harmonic face means; 6-connected, as TauFactor)", "transport",
                               o.method_name, o.method_name, sizeof(o.method_name), NULL));
  PetscCall(PetscOptionsString("-transport_pc_matrix", "fem: the matrix the preconditioner is built from: edge (the 7-point "
                               "edge Laplacian of the kept elements, spectrally equivalent, less memory) or stiffness (the "
                               "Q1 matrix itself: fewer iterations, about 40 percent more memory)", "transport", o.pc_matrix,
                               o.pc_matrix, sizeof(o.pc_matrix), NULL));
  PetscCall(PetscOptionsStringArray("-phase_conductivities", "Conductivity per phase as name:value,... (default: 1 for "
                                    "-phase, 0 for the others; 0 allowed); D of -phase divides D_eff", "transport",
                                    o.cond_items, &o.ncond, &o.cond_set));
  PetscCall(PetscOptionsBool("-save_solution", "Write the potential per voxel of each direction (FEM: mean of the 8 nodes, "
                             "NaN outside the solved set) to <stem>_potential.h5 as /fields/potential_<x|y|z>",
                             "transport", o.save_solution, &o.save_solution, NULL));
  PetscOptionsEnd();
  if (sm_app_help()) {
    for (PetscInt i = 0; o.cond_set && i < o.ncond; i++) PetscCall(PetscFree(o.cond_items[i]));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(sm_accept_solver_options());
  PetscCall(sm_app_check_unused_options(comm, "transport"));
  PetscCheck(set_in && o.in[0], comm, PETSC_ERR_ARG_WRONG, "transport needs an input volume: -i FILE.h5");
  if (!strcmp(o.direction, "all")) {
    o.ndirs = 3;
    for (int d = 0; d < 3; d++) o.dirs[d] = d;
  } else {
    o.ndirs = 0;
    for (int d = 0; d < 3; d++)
      if (!strcmp(o.direction, sm_transport_direction_names[d])) o.dirs[o.ndirs++] = d;
    PetscCheck(o.ndirs == 1, comm, PETSC_ERR_ARG_WRONG, "-transport_direction: unknown direction '%s'; use x, y, z or all",
               o.direction);
  }
  o.method = SM_TRANSPORT_NUM;
  for (int m = 0; m < SM_TRANSPORT_NUM; m++)
    if (!strcmp(o.method_name, sm_transport_method_names[m])) o.method = (SMTransportMethod)m;
  PetscCheck(o.method != SM_TRANSPORT_NUM, comm, PETSC_ERR_ARG_WRONG, "-transport_method: unknown method '%s'; use fem or fv",
             o.method_name);
  {
    /* fail on an unwritable output before reading anything large */
    FILE *probe = NULL;
    PetscCall(sm_text_open(comm, o.out, &probe));
    PetscCall(sm_text_close(comm, o.out, &probe, PETSC_FALSE));
  }

  PetscCall(PetscLogEventBegin(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_h5_read_volume(comm, o.in, o.dataset, o.h_default, &vol));
  PetscCall(PetscLogEventEnd(SM_EVENT_H5Read, 0, 0, 0, 0));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_volume_get_phases(vol, &np, &names));
  if (!set_phase) {
    char list[SM_MAX_PHASES * (SM_NAME_LEN + 2)] = "";
    for (int l = 0; l < np; l++) {
      PetscCall(PetscStrlcat(list, l ? ", " : "", sizeof(list)));
      PetscCall(PetscStrlcat(list, names[l], sizeof(list)));
    }
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "transport needs -phase NAME; the phases of %s are: %s", o.in, list);
  }
  PetscCall(sm_volume_find_phase(vol, o.phase, &label));
  PetscCall(sm_parse_conductivities(comm, &o, vol, label, cond));
  for (PetscInt i = 0; o.cond_set && i < o.ncond; i++) PetscCall(PetscFree(o.cond_items[i]));
  o.cond_set = PETSC_FALSE;
  PetscCall(sm_transport_memory_estimate(vol, cond, o.method, &bytes));
  if (o.save_solution) bytes += 8.0 * (double)g.n_total;
  PetscCall(sm_app_check_memory(comm, bytes, "The transport solve of this volume"));
  PetscCall(PetscPrintf(comm, "stochmorph transport: %s, %lld x %lld x %lld voxels of %g x %g x %g um, phase %s, method %s, "
                        "direction %s, %d rank%s\n",
                        o.in, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], (double)g.h[0], (double)g.h[1],
                        (double)g.h[2], o.phase, o.method_name, o.direction, g.size, g.size > 1 ? "s" : ""));
  if (o.save_solution) {
    PetscCall(sm_path_replace_ext(o.out, "_potential.h5", solpath, sizeof(solpath)));
    PetscCall(sm_h5_writer_open(comm, solpath, &w));
  }
  ierr = sm_transport_body(comm, &o, vol, label, cond, w, res);
  if (ierr) {
    (void)sm_h5_writer_close(&w, PETSC_FALSE);
    PetscCall(ierr);
  }
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  /* the JSON last: its presence means the whole run finished */
  PetscCall(sm_write_results(comm, &o, vol, label, cond, res));
  PetscCall(PetscPrintf(comm, "  solved in %.2f s; wrote %s", sm_sys_wtime() - t0, o.out));
  if (o.save_solution) PetscCall(PetscPrintf(comm, " and %s", solpath));
  PetscCall(PetscPrintf(comm, "\n"));
  PetscCall(sm_app_report_peak_memory(comm, g.n_total));
  PetscCall(sm_volume_destroy(&vol));
  PetscCall(sm_grid_destroy(&grid)); /* the reader created the grid; the volume only borrows it */
  PetscFunctionReturn(PETSC_SUCCESS);
}
