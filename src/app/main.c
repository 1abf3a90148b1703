/* stochmorph: digital twins of nanostructured electrode particles and their descriptors. */
#include "app.h"
#include <stochmorph/report.h>
#include "app_shape.h"
#include <stochmorph/log.h>
#include <stochmorph/version.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
  "stochmorph <command> [options]\n"
  "  generate   draw a digital twin (excursion set of Gaussian / chi2 / pluri-Gaussian fields) -> HDF5 + XDMF\n"
  "  analyze    descriptors of a labelled volume or image (fractions, surface, two-point, sizes, intrusion, paths) -> JSON\n"
  "  transport  effective conductivity of a phase (M-factor, effective tortuosity; FEM or FV, PETSc) -> JSON\n"
  "  fit        calibrate gauss / chi2 / pluri to a labelled image -> options file (model section) + JSON\n"
  "  run        a study: R twins of a model -> descriptors, transport, study table (checkpoint/restart)\n"
  "  sweep      a study over the values of one model parameter (-task_index for SLURM arrays)\n"
  "  collect    merge the tasks of a sweep into its study table\n"
  "  refit      refit the M-factor predictor M^ to the M of finished studies\n"
  "  shape      split the solid into sub-particles with spherical-harmonic shapes -> HDF5\n"
  "  rasterize  draw a shapes file on any grid -> labelled volume (HDF5 + XDMF)\n"
  "Options come from the command line or -options_file FILE; `stochmorph <command> -help` lists every key.\n"
  "stochmorph --version prints the versions of stochmorph and of the libraries it runs on.\n";

int sm_app_exit_status = 0;

/* One clean line per error on rank 0 of the failing communicator (-sm_error_traceback: PETSc's full traceback). */
static int sm_error_collective = 0; /* the first error was raised on a communicator spanning every rank */

static PetscErrorCode sm_error_handler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n,
                                       PetscErrorType p, const char *mess, void *ctx)
{
  PetscMPIInt rank = 0, size = 1, wsize = 1;
  (void)ctx;
  if (p != PETSC_ERROR_INITIAL) return n;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  MPI_Comm_size(MPI_COMM_WORLD, &wsize);
  sm_error_collective = size == wsize;
  if (!rank) fprintf(stderr, "stochmorph error: %s\n", mess && mess[0] ? mess : "(no message)");
  (void)line;
  (void)fun;
  (void)file;
  return n;
}

int main(int argc, char **argv)
{
  const char *command = argc > 1 ? argv[1] : NULL;
  int         cargc   = argc > 1 ? argc - 1 : argc;
  char      **cargv   = argc > 1 ? argv + 1 : argv;
  PetscLogStage stage;

  int version = command && (!strcmp(command, "--version") || !strcmp(command, "-version")), no_handler = 0;

  if (version) cargc = 1; /* PETSc's own -version would print its banner instead of ours */
  /* A reader that closes the pipe (`stochmorph run -help | head -1`) must end the process quietly, as it ends any Unix
     tool, not through PETSc's signal handler (error 59 and an abort). PETSc prints -help in PetscInitialize, so its
     handler must not be there yet: PETSc starts without it, and it is pushed right after for every signal but SIGPIPE
     (unless the user asked for -no_signal_handler). */
  for (int i = 1; i < cargc; i++)
    if (!strcmp(cargv[i], "-no_signal_handler")) no_handler = 1;
  if (PetscOptionsSetValue(NULL, "-no_signal_handler", NULL)) return 1;
  PetscCall(PetscInitialize(&cargc, &cargv, NULL, help));
  if (!no_handler) PetscCall(PetscPushSignalHandler(PetscSignalHandlerDefault, NULL));
  signal(SIGPIPE, SIG_DFL);
  if (version) {
    PetscCall(sm_version_print(PETSC_COMM_WORLD, PETSC_STDOUT));
    PetscCall(PetscFinalize());
    return 0;
  }
  PetscCall(sm_log_register());
  {
    PetscBool tb = PETSC_FALSE;
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-sm_error_traceback", &tb, NULL));
    if (!tb) PetscCall(PetscPushErrorHandler(sm_error_handler, NULL));
  }
  if (!command || command[0] == '-') {
    /* asked for help: usage on stdout, success; no command (or an option in its place): usage on stderr, status 2 */
    int asked = command && (!strcmp(command, "-help") || !strcmp(command, "--help") || !strcmp(command, "-h"));
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, asked ? PETSC_STDOUT : PETSC_STDERR, "%s", help));
    PetscCall(PetscFinalize());
    return asked ? 0 : 2;
  }
  {
    static const struct {
      const char *name;
      PetscErrorCode (*run)(MPI_Comm);
    } commands[] = {{"generate", sm_cmd_generate}, {"analyze", sm_cmd_analyze}, {"transport", sm_cmd_transport},
                    {"fit", sm_cmd_fit},           {"run", sm_cmd_run},           {"sweep", sm_cmd_sweep},
                    {"collect", sm_cmd_collect},   {"shape", sm_cmd_shape},       {"rasterize", sm_cmd_rasterize},
                    {"refit", sm_cmd_refit}};
    PetscErrorCode ierr = PETSC_ERR_ARG_WRONG;
    int            found = 0;
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
      if (!strcmp(command, commands[c].name)) {
        found = 1;
        PetscCall(PetscLogStageRegister(commands[c].name, &stage));
        PetscCall(PetscLogStagePush(stage));
        ierr = commands[c].run(PETSC_COMM_WORLD);
        if (!ierr) PetscCall(PetscLogStagePop());
      }
    if (!found) {
      char list[256] = "";
      for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        PetscCall(PetscStrlcat(list, c ? ", " : "", sizeof(list)));
        PetscCall(PetscStrlcat(list, commands[c].name, sizeof(list)));
      }
      PetscCall(PetscFPrintf(PETSC_COMM_WORLD, PETSC_STDERR, "stochmorph error: unknown command '%s'; commands: %s (try -help)\n",
                             command, list));
      sm_error_collective = 1;
    }
    if (ierr) {
      /* An error every rank saw (input checks are collective) ends cleanly with exit status 1; an error on some
         ranks only would leave the others waiting in a collective call, so it aborts the job. */
      sm_text_abandon_all();
      fflush(stdout);
      fflush(stderr);
      if (!sm_error_collective) MPI_Abort(MPI_COMM_WORLD, 1);
      (void)PetscFinalize();
      return 1;
    }
  }
  PetscCall(PetscFinalize());
  return sm_app_exit_status;
}
