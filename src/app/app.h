/* Shared helpers of the command drivers (one file per command). */
#ifndef STOCHMORPH_APP_H
#define STOCHMORPH_APP_H

#include <stochmorph/sys.h>

PetscErrorCode sm_cmd_generate(MPI_Comm comm);
PetscErrorCode sm_cmd_analyze(MPI_Comm comm);
PetscErrorCode sm_cmd_run(MPI_Comm comm);
PetscErrorCode sm_cmd_sweep(MPI_Comm comm);
PetscErrorCode sm_cmd_collect(MPI_Comm comm);
PetscErrorCode sm_cmd_refit(MPI_Comm comm);

/* Exit status of a study stopped by SIGTERM/SIGUSR1 after checkpointing (EX_TEMPFAIL: "try again", i.e. -restart). */
#define SM_EXIT_STOPPED 75
/* Non-zero: the status main returns after a successful command (a stopped study). */
extern int sm_app_exit_status;
PetscErrorCode sm_cmd_transport(MPI_Comm comm);
PetscErrorCode sm_cmd_fit(MPI_Comm comm);

/* Refuse options nobody read (typos), naming them; PETSc's own options are allowed. Collective. */
PetscErrorCode sm_app_check_unused_options(MPI_Comm comm, const char *command);
/* Refuse a job whose estimated memory (bytes, all ranks together) exceeds what the nodes have. Collective. */
PetscErrorCode sm_app_check_memory(MPI_Comm comm, double bytes, const char *what);
/* Is -help on the command line? */
PetscBool sm_app_help(void);
/* Print the peak resident memory (sum and largest rank) and bytes per voxel. Collective. */
PetscErrorCode sm_app_report_peak_memory(MPI_Comm comm, int64_t n_voxels);
/* -seed and -realization (64-bit). Collective. */
PetscErrorCode sm_app_read_seed(MPI_Comm comm, uint64_t *seed, uint64_t *realization);

#endif
