/* Distributed real-to-complex FFTs on a grid, in place, with FFTW-MPI.
 *
 * Real layout: [z_local][ny][2 (nx/2 + 1)] (rows padded, FFTW in-place convention), the rank's (balanced) z-slab of
 * the grid, whatever FFTW's own split of the planes (the planes are moved to it inside the transforms).
 * Complex layout (transposed, FFTW_MPI_TRANSPOSED_OUT): [ky_local][nz][nx/2 + 1], this rank owning
 * ky in [ky_start, ky_start + ky_local) (possibly none). Forward is unnormalised; backward(forward(x)) = N x. */
#ifndef STOCHMORPH_FFT_H
#define STOCHMORPH_FFT_H

#include <stochmorph/grid.h>
#include <fftw3-mpi.h>

typedef struct _p_SMFFT *SMFFT;

/* A complex number as two doubles: fftw_complex is C99 complex when <complex.h> (PETSc) comes first. */
typedef double SMComplex[2];

typedef struct {
  int64_t nx_padded;   /* 2 (nx/2 + 1): doubles per real row */
  int64_t nkx;         /* nx/2 + 1 */
  int64_t ky_start;    /* first ky owned in the transposed complex layout */
  int64_t ky_local;    /* number of ky owned (may be 0) */
  int64_t alloc_complex; /* complex numbers in the buffer (>= what either layout needs) */
} SMFFTInfo;

/* Plan an in-place r2c/c2r pair on grid with its own buffer. flags: FFTW_ESTIMATE (default) or FFTW_MEASURE.
   Collective. */
PetscErrorCode sm_fft_create(SMGrid grid, unsigned flags, SMFFT *fft);
PetscErrorCode sm_fft_destroy(SMFFT *fft);
PetscErrorCode sm_fft_get_info(SMFFT fft, SMFFTInfo *info);
PetscErrorCode sm_fft_get_grid(SMFFT fft, SMGrid *grid);
/* The real view (grid slab, padded rows; input of forward, output of backward) and the complex view (input of
   backward, output of forward); owned by fft. They may share memory: each is valid only as the output it just was
   or as the input being prepared. */
double       *sm_fft_real(SMFFT fft);
SMComplex    *sm_fft_complex(SMFFT fft);
PetscErrorCode sm_fft_forward(SMFFT fft);  /* real -> complex (transposed), collective */
PetscErrorCode sm_fft_backward(SMFFT fft); /* complex (transposed) -> real, collective */

/* FFTW planning flag from -fft_plan estimate|measure and -fft_wisdom FILE (wisdom imported here, exported by
   sm_fft_save_wisdom). Collective. */
PetscErrorCode sm_fft_flags_from_options(MPI_Comm comm, unsigned *flags);
PetscErrorCode sm_fft_save_wisdom(MPI_Comm comm);

#endif
