/* In-place distributed r2c/c2r transforms on a grid with FFTW-MPI (transposed complex layout, which saves one
 * global transpose per transform; synthesis and correlation work in that layout directly). */
#include <stochmorph/fft.h>
#include "grid_impl.h"
#include <stochmorph/log.h>

struct _p_SMFFT {
  SMGrid    grid;
  double   *buf;
  fftw_plan fwd, bwd;
  SMFFTInfo info;
};

PetscErrorCode sm_fft_create(SMGrid grid, unsigned flags, SMFFT *fft)
{
  SMFFT     f;
  ptrdiff_t n0, s0, n1, s1, alloc;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&f));
  f->grid = grid;
  alloc = fftw_mpi_local_size_3d_transposed((ptrdiff_t)grid->n[2], (ptrdiff_t)grid->n[1], (ptrdiff_t)(grid->n[0] / 2 + 1),
                                            grid->comm, &n0, &s0, &n1, &s1);
  PetscAssert((int64_t)n0 == grid->z_local && (int64_t)s0 == grid->z_start, grid->comm, PETSC_ERR_PLIB,
              "FFT slab differs from the grid slab");
  f->info.nkx           = grid->n[0] / 2 + 1;
  f->info.nx_padded     = 2 * f->info.nkx;
  f->info.ky_start      = (int64_t)s1;
  f->info.ky_local      = (int64_t)n1;
  f->info.alloc_complex = (int64_t)(alloc > 0 ? alloc : 1);
  f->buf                = (double *)fftw_alloc_complex((size_t)f->info.alloc_complex);
  PetscCheck(f->buf, grid->comm, PETSC_ERR_MEM, "Cannot allocate the FFT buffer (%lld complex numbers)",
             (long long)f->info.alloc_complex);
  f->fwd = fftw_mpi_plan_dft_r2c_3d((ptrdiff_t)grid->n[2], (ptrdiff_t)grid->n[1], (ptrdiff_t)grid->n[0], f->buf,
                                    (fftw_complex *)f->buf, grid->comm, flags | FFTW_MPI_TRANSPOSED_OUT);
  PetscCheck(f->fwd, grid->comm, PETSC_ERR_LIB, "FFTW could not plan the forward r2c transform");
  f->bwd = fftw_mpi_plan_dft_c2r_3d((ptrdiff_t)grid->n[2], (ptrdiff_t)grid->n[1], (ptrdiff_t)grid->n[0],
                                    (fftw_complex *)f->buf, f->buf, grid->comm, flags | FFTW_MPI_TRANSPOSED_IN);
  PetscCheck(f->bwd, grid->comm, PETSC_ERR_LIB, "FFTW could not plan the backward c2r transform");
  *fft = f;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_destroy(SMFFT *fft)
{
  PetscFunctionBeginUser;
  if (!fft || !*fft) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*fft)->fwd) fftw_destroy_plan((*fft)->fwd);
  if ((*fft)->bwd) fftw_destroy_plan((*fft)->bwd);
  fftw_free((*fft)->buf);
  PetscCall(PetscFree(*fft));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_get_info(SMFFT fft, SMFFTInfo *info)
{
  PetscFunctionBeginUser;
  *info = fft->info;
  PetscFunctionReturn(PETSC_SUCCESS);
}

double       *sm_fft_real(SMFFT fft) { return fft->buf; }
SMComplex    *sm_fft_complex(SMFFT fft) { return (SMComplex *)fft->buf; }

PetscErrorCode sm_fft_forward(SMFFT fft)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_FFT, 0, 0, 0, 0));
  fftw_execute(fft->fwd);
  PetscCall(PetscLogEventEnd(SM_EVENT_FFT, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_backward(SMFFT fft)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_FFT, 0, 0, 0, 0));
  fftw_execute(fft->bwd);
  PetscCall(PetscLogEventEnd(SM_EVENT_FFT, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static char sm_wisdom_file[PETSC_MAX_PATH_LEN] = "";

PetscErrorCode sm_fft_flags_from_options(MPI_Comm comm, unsigned *flags)
{
  const char *plans[] = {"estimate", "measure", "patient"};
  PetscInt    plan    = 0;
  PetscBool   has_wisdom;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "FFT options", "SMFFT");
  PetscCall(PetscOptionsEList("-fft_plan", "FFTW planning effort (measure/patient cost seconds to minutes at 256^3+; "
                              "combine with -fft_wisdom to pay once)", "sm_fft_create", plans, 3, plans[0], &plan, NULL));
  PetscCall(PetscOptionsString("-fft_wisdom", "FFTW wisdom file: read at start if it exists, written at the end",
                               "sm_fft_create", sm_wisdom_file, sm_wisdom_file, sizeof(sm_wisdom_file), &has_wisdom));
  PetscOptionsEnd();
  *flags = plan == 0 ? FFTW_ESTIMATE : plan == 1 ? FFTW_MEASURE : FFTW_PATIENT;
  if (has_wisdom && sm_wisdom_file[0]) {
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (!rank) (void)fftw_import_wisdom_from_filename(sm_wisdom_file); /* a missing file is fine: it is created later */
    fftw_mpi_broadcast_wisdom(comm);
  } else sm_wisdom_file[0] = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_save_wisdom(MPI_Comm comm)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  if (!sm_wisdom_file[0]) PetscFunctionReturn(PETSC_SUCCESS);
  fftw_mpi_gather_wisdom(comm);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) PetscCheck(fftw_export_wisdom_to_filename(sm_wisdom_file), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE,
                        "-fft_wisdom: cannot write %s", sm_wisdom_file);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_get_grid(SMFFT fft, SMGrid *grid)
{
  PetscFunctionBeginUser;
  *grid = fft->grid;
  PetscFunctionReturn(PETSC_SUCCESS);
}
