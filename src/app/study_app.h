/* The study commands (run, sweep, collect) share their options, units and table; private to src/app. */
#ifndef STOCHMORPH_STUDY_APP_H
#define STOCHMORPH_STUDY_APP_H

#include "app.h"
#include <stochmorph/model.h>
#include <stochmorph/morph.h>
#include <stochmorph/descriptors.h>
#include <stochmorph/transport.h>
#include <stochmorph/study.h>
#include <stochmorph/report.h>
#include <stochmorph/io.h>
#include <stochmorph/image.h>
#include <stochmorph/fft.h>
#include <stochmorph/log.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hdf5.h>
#include <petscviewerhdf5.h>

#define SM_RUN_MAX_VALUES 1024

typedef struct {
  const char       *command; /* "run" or "sweep" */
  char              dir[PETSC_MAX_PATH_LEN];
  char              image[PETSC_MAX_PATH_LEN]; /* -i: a study of this image instead of twins of a model */
  SMImageOptions    image_opts;
  PetscBool         restart, keep_volumes, list_tasks;
  PetscInt          realizations, task_index;
  uint64_t          seed, real0;
  SMMorphOptions    morph;
  int               nphases_tr;   /* -1: every phase of the model */
  char              tphase[SM_MAX_PHASES][SM_NAME_LEN];
  int               ndirs, dirs[3];
  SMTransport       solver;              /* method, preconditioner, directions, conductivities, KSP options */
  double            checkpoint_interval; /* seconds between saved iterates of a transport solve; < 0: never */
  PetscInt          test_stop_iteration; /* test hook: a stop signal at this CG iteration of the first solve */
  char              param[64];
  int               nvalues;
  char            (*values)[64];
  int               ntasks;
  unsigned          fft_flags;
  SMStudySpec       spec; /* every option that changes a number */
} SMRunOptions;

typedef struct {
  int    total, done_before, computed;
  double t0, t_computing;
} SMProgress;

/* run_options.c: the options of run and sweep, the swept values, the task numbering */
PetscErrorCode sm_run_mkdir(MPI_Comm comm, const char *path);
void           sm_run_hms(double s, char *buf, size_t len);
PetscErrorCode sm_run_parse_values(MPI_Comm comm, const char *spec, SMRunOptions *o);
void           sm_run_task_split(const SMRunOptions *o, int t, int *vi, int *ri);
PetscErrorCode sm_run_options(MPI_Comm comm, const char *command, SMRunOptions *o, SMModel *model0, SMGrid *grid);
/* run_units.c: the analyze and transport units of a task */
PetscErrorCode sm_unit_analyze(SMVolume vol, const SMRunOptions *o, SMRecord rec);
PetscErrorCode sm_unit_transport(SMVolume vol, const SMRunOptions *o, const char *phase, int dir, const char *unit,
                                 SMRecord rec, double *M, PetscBool *stopped);
/* run.c: the signal that asked the study to stop (0: none); set by the handler and by the test hook */
extern volatile sig_atomic_t sm_stop_signal;
/* run.c: a stop asked for by SIGTERM/SIGUSR1 (or the test hook) on any rank. Collective. */
PetscErrorCode sm_stop_requested(MPI_Comm comm, int *sig);
/* collect.c: the study table from the checkpoint(s) */
PetscErrorCode sm_build_table(MPI_Comm comm, const char *command, const char *dir, const SMStudySpec *spec, int nstores,
                              SMStore stores[]);
/* the stores of a finished study directory (its checkpoint, or the task files of an array); what names the command */
PetscErrorCode sm_study_open_dir(MPI_Comm comm, const char *what, const char *dir, int *nst, SMStore **stores, char *source,
                                 size_t sourcelen);
PetscErrorCode sm_study_close_dir(int nst, SMStore **stores);
/* the table's rows (one per task, with the direction-averaged transport.<phase>.M_mean); param: the swept option */
PetscErrorCode sm_study_rows(MPI_Comm comm, const char *dir, const SMStudySpec *spec, int nstores, SMStore stores[],
                             int *ntasks, SMStudyRow **rows);
PetscErrorCode sm_study_rows_destroy(int ntasks, SMStudyRow **rows);

#endif
