/* Benchmark: time to draw one twin next to the bare FFTW transforms it needs, on the same grid in the same run.
 *
 * Usage: bench_synthesis -grid_size N [-model ... as for generate] [-bench_repeat R]
 * A chi2 (k) twin needs one r2c transform (the covariance spectrum) and k c2r transforms (one per field, the
 * noise being drawn in Fourier space); a gauss twin 1 + 1, a pluri twin 2 + 2. The bare transforms are timed on the
 * same FFTW plans (FFTW_ESTIMATE unless -fft_plan says otherwise); the synthesis is sm_model_generate (spectrum,
 * noise, transforms, thresholds). Prints one machine-readable line per quantity (best of R runs). */
#include <stochmorph/model.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
  SMModel       model;
  SMGrid        grid;
  SMGridInfo    g;
  SMModelParams p;
  unsigned      flags;
  PetscInt      repeat = 3;
  int           nfwd, nbwd;
  double        t_fft = 1e300, t_syn = 1e300, t_fwd = 1e300, t_bwd = 1e300;
  const int64_t n_default[3] = {256, 256, 256};
  PetscMPIInt   size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_repeat", &repeat, NULL));
  PetscCall(sm_model_create_from_options(PETSC_COMM_WORLD, &model));
  PetscCall(sm_model_get_params(model, &p));
  PetscCall(sm_grid_create_from_options(PETSC_COMM_WORLD, n_default, 0.01, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(sm_fft_flags_from_options(PETSC_COMM_WORLD, &flags));
  nfwd = p.type == SM_MODEL_PLURI ? 2 : 1;
  nbwd = p.type == SM_MODEL_PLURI ? 2 : p.type == SM_MODEL_CHI2 ? p.dof : 1;
  {
    SMFFT fft;
    PetscCall(sm_fft_create(grid, flags, &fft));
    PetscCall(PetscArrayzero(sm_fft_real(fft), 2 * 1));
    for (PetscInt r = 0; r < repeat; r++) {
      double t0, t1, t2;
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      t0 = MPI_Wtime();
      PetscCall(sm_fft_forward(fft));
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      t1 = MPI_Wtime();
      PetscCall(sm_fft_backward(fft));
      PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
      t2 = MPI_Wtime();
      t_fwd = PetscMin(t_fwd, t1 - t0);
      t_bwd = PetscMin(t_bwd, t2 - t1);
    }
    t_fft = nfwd * t_fwd + nbwd * t_bwd;
    PetscCall(sm_fft_destroy(&fft));
  }
  for (PetscInt r = 0; r < repeat; r++) {
    SMVolume vol;
    double   t0;
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    t0 = MPI_Wtime();
    PetscCall(sm_model_generate(model, grid, 1, (uint64_t)r, flags, NULL, &vol));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    t_syn = PetscMin(t_syn, MPI_Wtime() - t0);
    PetscCall(sm_volume_destroy(&vol));
  }
  {
    struct rusage ru;
    double        rss, total;
    getrusage(RUSAGE_SELF, &ru);
    rss = (double)ru.ru_maxrss * 1024.0;
    PetscCallMPI(MPI_Allreduce(&rss, &total, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD,
                          "bench_synthesis model=%s dof=%d grid=%lldx%lldx%lld ranks=%d fwd_s=%.4f bwd_s=%.4f "
                          "transforms=%d+%d transforms_s=%.4f synthesis_s=%.4f ratio=%.3f peak_rss_bytes_per_voxel=%.2f\n",
                          sm_model_names[p.type], p.dof, (long long)g.n[0], (long long)g.n[1], (long long)g.n[2], size, t_fwd,
                          t_bwd, nfwd, nbwd, t_fft, t_syn, t_syn / t_fft, total / (double)g.n_total));
  }
  PetscCall(sm_grid_destroy(&grid));
  PetscCall(sm_model_destroy(&model));
  PetscCall(PetscFinalize());
  return 0;
}
