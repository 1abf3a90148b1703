/* In-place distributed r2c/c2r transforms on a grid with FFTW-MPI (transposed complex layout, which saves one
 * global transpose per transform; synthesis and correlation work in that layout directly).
 *
 * FFTW splits the z planes in blocks of ceil(nz / size), which can leave ranks empty; the grid's slabs are balanced.
 * When the two layouts coincide (one or two ranks, and whenever FFTW's blocks happen to be balanced, e.g. nz % size
 * is 0 or size - 1) the real data lives in FFTW's buffer itself. Otherwise the real view is a separate
 * slab buffer in the grid layout and each transform moves the planes once between the layouts (forward before,
 * backward after the FFTW call; sm_grid_move_planes, between neighbouring ranks only): one extra slab of memory and
 * one plane redistribution per transform, while the FFT itself runs on FFTW's layout. */
#include <stochmorph/fft.h>
#include "grid_impl.h"
#include <stochmorph/log.h>

struct _p_SMFFT {
  SMGrid       grid;
  double      *buf;              /* FFTW's buffer, its own layout */
  double      *real;             /* the real view in the grid layout: buf when the layouts coincide */
  int64_t     *fstart, *fcount;  /* FFTW's z planes of every rank */
  MPI_Datatype plane;            /* one padded real plane */
  double       tr_msgs, tr_bytes; /* what FFTW's global transpose sends from this rank per transform */
  fftw_plan    fwd, bwd;
  SMFFTInfo    info;
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
  {
    long long my[2] = {(long long)s0, (long long)n0}, *all;
    int       same = 1, cnt = 0;
    PetscCall(PetscMalloc1(2 * (size_t)grid->size, &all));
    PetscCall(PetscMalloc2(grid->size, &f->fstart, grid->size, &f->fcount));
    PetscCallMPI(MPI_Allgather(my, 2, MPI_LONG_LONG, all, 2, MPI_LONG_LONG, grid->comm));
    for (int r = 0; r < grid->size; r++) {
      f->fstart[r] = (int64_t)all[2 * r];
      f->fcount[r] = (int64_t)all[2 * r + 1];
      same &= f->fstart[r] == grid->starts[r] && f->fcount[r] == grid->counts[r];
    }
    PetscCall(PetscFree(all));
    PetscCall(sm_int64_to_int(grid->n[1] * 2 * (grid->n[0] / 2 + 1), &cnt));
    PetscCallMPI(MPI_Type_contiguous(cnt, MPI_DOUBLE, &f->plane));
    PetscCallMPI(MPI_Type_commit(&f->plane));
    if (!same) PetscCall(PetscMalloc1((size_t)(grid->z_local * grid->n[1] * 2 * (grid->n[0] / 2 + 1)), &f->real));
  }
  f->info.nkx           = grid->n[0] / 2 + 1;
  f->info.nx_padded     = 2 * f->info.nkx;
  f->info.ky_start      = (int64_t)s1;
  f->info.ky_local      = (int64_t)n1;
  f->info.alloc_complex = (int64_t)(alloc > 0 ? alloc : 1);
  {
    /* FFTW's transposed transforms do one global transpose each: this rank's [z_local][ny][nkx] complex block goes
       to every rank in pieces of its ky rows. FFTW's messages do not pass PETSc's MPI wrappers, so they are counted
       here, for -log_view (events SMFFT and the kernels calling it). */
    long long my = (long long)n1, *ky;
    PetscCall(PetscMalloc1(grid->size, &ky));
    PetscCallMPI(MPI_Allgather(&my, 1, MPI_LONG_LONG, ky, 1, MPI_LONG_LONG, grid->comm));
    for (int r = 0; r < grid->size; r++)
      if (r != grid->rank && ky[r] > 0 && n0 > 0) {
        f->tr_msgs += 1;
        f->tr_bytes += (double)n0 * (double)ky[r] * (double)f->info.nkx * sizeof(SMComplex);
      }
    PetscCall(PetscFree(ky));
  }
  f->buf                = (double *)fftw_alloc_complex((size_t)f->info.alloc_complex);
  PetscCheck(f->buf, grid->comm, PETSC_ERR_MEM, "Cannot allocate the FFT buffer (%lld complex numbers)",
             (long long)f->info.alloc_complex);
  if (!f->real) f->real = f->buf;
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
  if ((*fft)->real != (*fft)->buf) PetscCall(PetscFree((*fft)->real));
  fftw_free((*fft)->buf);
  PetscCall(PetscFree2((*fft)->fstart, (*fft)->fcount));
  PetscCallMPI(MPI_Type_free(&(*fft)->plane));
  PetscCall(PetscFree(*fft));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_get_info(SMFFT fft, SMFFTInfo *info)
{
  PetscFunctionBeginUser;
  *info = fft->info;
  PetscFunctionReturn(PETSC_SUCCESS);
}

double       *sm_fft_real(SMFFT fft) { return fft->real; }
SMComplex    *sm_fft_complex(SMFFT fft) { return (SMComplex *)fft->buf; }

/* FFTW's transpose in PETSc's message counters (sent and received: the volumes are symmetric over the ranks). */
static void sm_fft_count_transpose(SMFFT fft)
{
#if defined(PETSC_USE_LOG)
  petsc_isend_ct += fft->tr_msgs;
  petsc_isend_len += fft->tr_bytes;
  petsc_irecv_ct += fft->tr_msgs;
  petsc_irecv_len += fft->tr_bytes;
#else
  (void)fft;
#endif
}

PetscErrorCode sm_fft_forward(SMFFT fft)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_FFT, 0, 0, 0, 0));
  if (fft->real != fft->buf)
    PetscCall(sm_grid_move_planes(fft->grid, fft->plane, sizeof(double) * (size_t)(fft->grid->n[1] * fft->info.nx_padded),
                                  fft->grid->starts, fft->grid->counts, fft->real, fft->fstart, fft->fcount, fft->buf));
  fftw_execute(fft->fwd);
  sm_fft_count_transpose(fft);
  PetscCall(PetscLogEventEnd(SM_EVENT_FFT, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode sm_fft_backward(SMFFT fft)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(SM_EVENT_FFT, 0, 0, 0, 0));
  fftw_execute(fft->bwd);
  sm_fft_count_transpose(fft);
  if (fft->real != fft->buf)
    PetscCall(sm_grid_move_planes(fft->grid, fft->plane, sizeof(double) * (size_t)(fft->grid->n[1] * fft->info.nx_padded),
                                  fft->fstart, fft->fcount, fft->buf, fft->grid->starts, fft->grid->counts, fft->real));
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
