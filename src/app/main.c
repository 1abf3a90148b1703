/* stochmorph: digital twins of nanostructured electrode particles and their descriptors. */
#include "app.h"
#include <stochmorph/log.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
  "stochmorph <command> [options]\n"
  "  generate   draw a digital twin (excursion set of Gaussian / chi2 / pluri-Gaussian fields) -> HDF5 + XDMF\n"
  "  analyze    descriptors of a labelled volume (volume fraction, surface area, two-point functions) -> JSON + CSV\n"
  "Options come from the command line or -options_file FILE; `stochmorph <command> -help` lists every key.\n";

/* One clean line per error on rank 0 of the failing communicator (-sm_error_traceback: PETSc's full traceback). */
static PetscErrorCode sm_error_handler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n,
                                       PetscErrorType p, const char *mess, void *ctx)
{
  PetscMPIInt rank = 0;
  (void)ctx;
  if (p != PETSC_ERROR_INITIAL) return n;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
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

  PetscCall(PetscInitialize(&cargc, &cargv, NULL, help));
  PetscCall(sm_log_register());
  {
    PetscBool tb = PETSC_FALSE;
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-sm_error_traceback", &tb, NULL));
    if (!tb) PetscCall(PetscPushErrorHandler(sm_error_handler, NULL));
  }
  if (!command || command[0] == '-') {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s", help));
    PetscCall(PetscFinalize());
    return (command && (!strcmp(command, "-help") || !strcmp(command, "--help"))) ? 0 : 2;
  }
  if (!strcmp(command, "generate")) {
    PetscCall(PetscLogStageRegister("generate", &stage));
    PetscCall(PetscLogStagePush(stage));
    PetscCall(sm_cmd_generate(PETSC_COMM_WORLD));
    PetscCall(PetscLogStagePop());
  } else if (!strcmp(command, "analyze")) {
    PetscCall(PetscLogStageRegister("analyze", &stage));
    PetscCall(PetscLogStagePush(stage));
    PetscCall(sm_cmd_analyze(PETSC_COMM_WORLD));
    PetscCall(PetscLogStagePop());
  } else {
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "Unknown command '%s'; commands: generate, analyze (try -help)", command);
  }
  PetscCall(PetscFinalize());
  return 0;
}
