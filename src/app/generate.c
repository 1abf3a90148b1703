/* stochmorph generate: draw a digital twin and write it as HDF5 + XDMF. */
#include "app.h"
#include <stochmorph/model.h>
#include <stochmorph/morph.h>
#include <stochmorph/log.h>
#include <stdlib.h>
#include <errno.h>

/* Parse a non-negative 64-bit integer option given as a string (PetscInt may be 32-bit). */
static PetscErrorCode sm_parse_u64(MPI_Comm comm, const char *opt, const char *s, uint64_t *v)
{
  char *end;

  PetscFunctionBeginUser;
  errno = 0;
  PetscCheck(s[0] >= '0' && s[0] <= '9', comm, PETSC_ERR_ARG_WRONG, "%s must be a non-negative integer (got '%s')", opt, s);
  *v = strtoull(s, &end, 10);
  PetscCheck(!errno && *end == 0, comm, PETSC_ERR_ARG_WRONG, "%s must be a non-negative integer (got '%s')", opt, s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_app_read_seed(MPI_Comm comm, uint64_t *seed, uint64_t *realization)
{
  char seed_s[64] = "1", real_s[64] = "0";

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Random numbers", "stochmorph");
  PetscCall(PetscOptionsString("-seed", "Seed S (non-negative 64-bit integer): a twin is a pure function of model, grid, S, R",
                               "sm_model_generate", seed_s, seed_s, sizeof(seed_s), NULL));
  PetscCall(PetscOptionsString("-realization", "Realisation index R (independent twins of one seed)", "sm_model_generate",
                               real_s, real_s, sizeof(real_s), NULL));
  PetscOptionsEnd();
  PetscCall(sm_parse_u64(comm, "-seed", seed_s, seed));
  PetscCall(sm_parse_u64(comm, "-realization", real_s, realization));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode sm_generate_body(MPI_Comm comm, SMModel model, SMGrid grid, uint64_t seed, uint64_t real, unsigned flags,
                                       PetscBool save_fields, SMH5Writer w)
{
  SMVolume      vol = NULL;
  SMModelParams p;
  SMGridInfo    g;
  int64_t       counts[SM_MAX_PHASES];
  double        t0 = sm_sys_wtime(), S[3];

  PetscFunctionBeginUser;
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_model_generate(model, grid, seed, real, flags, save_fields ? w : NULL, &vol));
  PetscCall(PetscLogEventBegin(SM_EVENT_H5Write, 0, 0, 0, 0));
  PetscCall(sm_h5_writer_write_volume(w, vol));
  PetscCall(PetscLogEventEnd(SM_EVENT_H5Write, 0, 0, 0, 0));
  PetscCall(sm_morph_label_counts(vol, counts));
  PetscCall(sm_model_surface_area(model, S));
  PetscCall(PetscPrintf(comm, "  phase      label  target_fraction  twin_fraction\n"));
  for (int i = 0; i < p.nphases; i++)
    PetscCall(PetscPrintf(comm, "  %-10s %5d  %15.4f  %13.4f\n", p.phase_names[i], i, p.volume_fraction[i],
                          (double)counts[i] / (double)g.n_total));
  PetscCall(PetscPrintf(comm, "  drawn and written in %.2f s\n", sm_sys_wtime() - t0));
  PetscCall(sm_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_cmd_generate(MPI_Comm comm)
{
  SMModel        model = NULL;
  SMGrid         grid  = NULL;
  SMH5Writer     w     = NULL;
  SMModelParams  p;
  SMGridInfo     g;
  char           out[PETSC_MAX_PATH_LEN] = "twin.h5", need[32];
  PetscBool      save_fields = PETSC_FALSE;
  uint64_t       seed, real;
  unsigned       flags;
  double         bpv;
  const int64_t  n_default[3] = {128, 128, 128};
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "stochmorph generate: draw a digital twin", "stochmorph");
  PetscCall(PetscOptionsString("-o", "Output HDF5 file (.h5); an XDMF sidecar (.xmf) is written beside it", "generate", out,
                               out, sizeof(out), NULL));
  PetscCall(PetscOptionsBool("-save_fields", "Also write the Gaussian fields to /fields (8 bytes per voxel each)", "generate",
                             save_fields, &save_fields, NULL));
  PetscOptionsEnd();
  PetscCall(sm_app_read_seed(comm, &seed, &real));
  PetscCall(sm_model_create_from_options(comm, &model));
  PetscCall(sm_grid_create_from_options(comm, n_default, 0.01, &grid));
  PetscCall(sm_fft_flags_from_options(comm, &flags));
  if (sm_app_help()) {
    PetscCall(sm_grid_destroy(&grid));
    PetscCall(sm_model_destroy(&model));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(sm_app_check_unused_options(comm, "generate"));
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_model_bytes_per_voxel(model, &bpv));
  PetscCall(sm_app_check_memory(comm, bpv * (double)g.n_total, "This twin"));
  sm_sys_format_bytes(bpv * (double)g.n_total, need, sizeof(need));

  PetscCall(PetscPrintf(comm, "stochmorph generate: model %s", sm_model_names[p.type]));
  if (p.type == SM_MODEL_CHI2) PetscCall(PetscPrintf(comm, " (k = %d)", p.dof));
  PetscCall(PetscPrintf(comm, ", covariance %s, grid %lld x %lld x %lld, voxel %g x %g x %g um, seed %llu, realization %llu, "
                        "%d rank%s, ~%s\n",
                        sm_covariance_names[p.covariance], (long long)g.n[0], (long long)g.n[1], (long long)g.n[2],
                        (double)g.h[0], (double)g.h[1], (double)g.h[2], (unsigned long long)seed, (unsigned long long)real,
                        g.size, g.size > 1 ? "s" : "", need));
  PetscCall(sm_h5_writer_open(comm, out, &w));
  sm_model_set_verbose(PETSC_TRUE);
  ierr = sm_generate_body(comm, model, grid, seed, real, flags, save_fields, w);
  if (ierr) {
    (void)sm_h5_writer_close(&w, PETSC_FALSE);
    PetscCall(ierr);
  }
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  PetscCall(sm_fft_save_wisdom(comm));
  PetscCall(PetscPrintf(comm, "  wrote %s (and its .xmf sidecar for ParaView)\n", out));
  PetscCall(sm_app_report_peak_memory(comm, g.n_total));
  PetscCall(sm_grid_destroy(&grid));
  PetscCall(sm_model_destroy(&model));
  PetscFunctionReturn(PETSC_SUCCESS);
}
