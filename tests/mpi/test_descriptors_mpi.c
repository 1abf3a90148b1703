/* Morphology descriptors on shapes with known answers (SPEC 5, issue acceptance), at 1, 2 and 3 ranks, and the
 * rank-count independence of the full descriptor set of a twin (drawn on all ranks, on rank 0 alone and on two ranks,
 * compared number by number). Two cubes meeting only along an edge or at a corner check that -connectivity reaches the
 * intrusion (the eroded set), the percolation fractions and the geodesic tortuosity. */
#include <stochmorph/descriptors.h>
#include <stochmorph/model.h>
#include "smtest.h"
#include "smtest_volume.h"

/* 2-phase volumes (0 pore, 1 solid) with solid = shape(voxel centre in um, par): sm_test_volume_from_points. */

/* par: centre x, centre y, radius, [neck z0, neck z1, neck radius] */
static int cylinder_z(const double X[3], const void *ctx)
{
  const double *par = (const double *)ctx;
  double        r   = par[2];
  if (par[5] > 0 && X[2] >= par[3] && X[2] <= par[4]) r = par[5];
  return (X[0] - par[0]) * (X[0] - par[0]) + (X[1] - par[1]) * (X[1] - par[1]) <= r * r;
}

static int ball(const double X[3], const void *ctx)
{
  const double *par = (const double *)ctx;
  return (X[0] - par[0]) * (X[0] - par[0]) + (X[1] - par[1]) * (X[1] - par[1]) + (X[2] - par[2]) * (X[2] - par[2]) <=
         par[3] * par[3];
}

static PetscErrorCode run_with(SMVolume vol, int label, int connectivity, SMPhaseMorphology *m)
{
  SMMorphOptions opt;

  PetscFunctionBeginUser;
  PetscCall(sm_morph_options_default(&opt));
  opt.connectivity = connectivity;
  PetscCall(sm_morph_phase_descriptors(vol, label, &opt, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(SMVolume vol, int label, SMPhaseMorphology *m)
{
  PetscFunctionBeginUser;
  PetscCall(run_with(vol, label, 26, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Cube A = [0, 6]^3 voxels and cube B = [7, 13]^3 (*edge = 0: they meet at one corner) or B = [0, 6] x [7, 13]^2
   (*edge = 1: along an edge), in a 14^3 box; a voxel function of the global voxel index (sm_test_volume_from_function),
   solid (1) in the cubes. */
static int two_cubes(int64_t x, int64_t y, int64_t z, void *ctx)
{
  const int edge = *(const int *)ctx;
  const int a    = x <= 6 && y <= 6 && z <= 6;
  const int b    = (edge ? x <= 6 : x >= 7) && y >= 7 && z >= 7;
  return a || b;
}

static PetscBool same_double(double a, double b) { return (a == b || (isnan(a) && isnan(b))) ? PETSC_TRUE : PETSC_FALSE; }

static void compare(const char *what, const SMPhaseMorphology *a, const SMPhaseMorphology *b)
{
  int same = a->nr == b->nr && a->voxels == b->voxels && same_double(a->r50, b->r50) &&
             same_double(a->M_predicted, b->M_predicted) && same_double(a->tau_mean, b->tau_mean) &&
             same_double(a->beta_mean, b->beta_mean);
  for (int k = 0; same && k < a->nr; k++) {
    same = same && same_double(a->psi ? a->psi[k] : 0, b->psi ? b->psi[k] : 0);
    for (int d = 0; d < 3; d++) {
      same = same && same_double(a->V[d] ? a->V[d][k] : 0, b->V[d] ? b->V[d][k] : 0);
      same = same && same_double(a->psi2d[d] ? a->psi2d[d][k] : 0, b->psi2d[d] ? b->psi2d[d][k] : 0);
    }
  }
  for (int d = 0; d < 3 && same; d++) {
    same = same_double(a->r_min[d], b->r_min[d]) && same_double(a->tau[d][0], b->tau[d][0]) &&
           same_double(a->tau[d][1], b->tau[d][1]) && a->nstart[d][0] == b->nstart[d][0] &&
           same_double(a->percolating[d], b->percolating[d]) && same_double(a->dead_end[d], b->dead_end[d]);
    for (int q = 0; same && q < a->nbins; q++) same = a->hist[d][0][q] == b->hist[d][0][q];
  }
  SM_TEST_TRUE(same, "%s: descriptors differ (r50 %.17g vs %.17g, tau %.17g vs %.17g, M %.17g vs %.17g)", what, a->r50, b->r50,
               a->tau_mean, b->tau_mean, a->M_predicted, b->M_predicted);
}

/* a straight cylinder along z, radius 6 voxels: geodesic tortuosity 1 exactly along z, and intrusion along z meets no
   constriction, so r_min = r_50 (beta = 1) up to the radius sampling step */
static PetscErrorCode test_cylinder(MPI_Comm comm)
{
  const int64_t     n[3]   = {20, 20, 30};
  const PetscReal   h[3]   = {1, 1, 1};
  const double      par[6] = {9.5, 9.5, 6.0, 0, 0, 0};
  SMVolume          vol;
  SMPhaseMorphology m;

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_points(comm, n, h, 2, sm_test_pore_solid, cylinder_z, par, &vol));
  PetscCall(run(vol, 1, &m));
  SM_TEST_CLOSE(m.tau[2][0], 1.0, 1e-12, "cylinder: tortuosity z forward");
  SM_TEST_CLOSE(m.tau[2][1], 1.0, 1e-12, "cylinder: tortuosity z backward");
  SM_TEST_TRUE(isnan(m.tau_dir[0]) && isnan(m.tau_dir[1]), "cylinder: no x or y path, tortuosity must be undefined");
  SM_TEST_TRUE(isnan(m.M_predicted), "cylinder: M^ needs all three directions");
  SM_TEST_CLOSE(m.beta[2], 1.0, 0.1, "cylinder: constrictivity along z (radius steps of 0.25 voxel)");
  SM_TEST_CLOSE(m.percolating[2], 1.0, 0, "cylinder: percolating along z");
  SM_TEST_CLOSE(m.dead_end[2], 0.0, 0, "cylinder: no dead end along z");
  SM_TEST_CLOSE(m.percolating[0], 0.0, 0, "cylinder: not percolating along x");
  /* the largest inscribed ball of a digital disk of radius 6 has radius ~6 (distance to the first outside voxel
     centre, between 6 and 7): r_50 within a voxel of 6 */
  SM_TEST_CLOSE(m.r50, 6.0, 1.0, "cylinder: r_50");
  PetscCall(sm_morph_phase_descriptors_free(&m));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* a tube of radius 7 with a neck of radius 3 near the inlet (z in [6, 9]): intrusion from z- fills less than half the
   tube beyond the neck unless r <= 3, so r_min = neck radius and beta ~ (3/7)^2 (digital radii: the axis lies between
   voxel centres, so inscribed radii are within a voxel of the nominal ones) */
static PetscErrorCode test_neck(MPI_Comm comm)
{
  const int64_t     n[3]   = {22, 22, 40};
  const PetscReal   h[3]   = {0.01, 0.01, 0.01};
  const double      par[6] = {0.105, 0.105, 0.07, 0.06, 0.09, 0.03};
  SMVolume          vol;
  SMPhaseMorphology m;

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_points(comm, n, h, 2, sm_test_pore_solid, cylinder_z, par, &vol));
  PetscCall(run(vol, 1, &m));
  SM_TEST_CLOSE(m.r_min[2], 0.03, 0.01, "neck: r_min = the neck radius (within a voxel)");
  SM_TEST_CLOSE(m.r50, 0.07, 0.01, "neck: r_50 = the tube radius (within a voxel)");
  SM_TEST_CLOSE(m.beta[2], pow(3.0 / 7.0, 2), 0.08, "neck: constrictivity (r_neck / r_tube)^2 = 0.184");
  /* paths from the rim of the tube must swerve through the neck: longer than the straight tube */
  SM_TEST_TRUE(m.tau[2][0] > 1.0 && m.tau[2][0] < 1.1, "neck: tortuosity %g should exceed 1 slightly", m.tau[2][0]);
  PetscCall(sm_morph_phase_descriptors_free(&m));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* a ball of radius 8 voxels (anisotropic voxels): the size distribution steps at R */
static PetscErrorCode test_ball(MPI_Comm comm)
{
  const int64_t     n[3]   = {24, 22, 20};
  const PetscReal   h[3]   = {0.01, 0.011, 0.012};
  const double      par[4] = {0.115, 0.115, 0.114, 0.08};
  SMVolume          vol;
  SMPhaseMorphology m;

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_points(comm, n, h, 2, sm_test_pore_solid, ball, par, &vol));
  PetscCall(run(vol, 1, &m));
  SM_TEST_CLOSE(m.r50, 0.08, 0.012, "ball: r_50 at R (within a voxel)");
  for (int k = 0; k < m.nr; k++) {
    if (m.r[k] <= 0.06) SM_TEST_CLOSE(m.psi[k], 1.0, 0, "ball: psi = 1 below R");
    if (m.r[k] >= 0.093) SM_TEST_CLOSE(m.psi[k], 0.0, 0, "ball: psi = 0 above R + a voxel");
  }
  SM_TEST_TRUE(isnan(m.tau_mean) && isnan(m.percolating[0]) == 0 && m.isolated[0] == 1.0, "ball: isolated, no path");
  PetscCall(sm_morph_phase_descriptors_free(&m));
  PetscCall(run(vol, 0, &m)); /* the pore around it percolates everywhere */
  SM_TEST_CLOSE(m.percolating[0] + m.percolating[1] + m.percolating[2], 3.0, 0, "ball: the pore percolates");
  PetscCall(sm_morph_phase_descriptors_free(&m));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two cubes of 343 voxels meeting only at a corner or along an edge, intrusion from z- (only A touches z = 0). Every
   cube voxel has distance >= 1 voxel to the outside, so for 0 < r <= 1 the eroded set is the whole phase, and intrusion
   reaches B exactly when the connectivity joins the cubes (corner: 26 only; edge: 18 and 26): V = 1, else
   V = 343 / 686 = 1/2 (a ball centred in A never covers a voxel of B: for c = (a, b, c) in A the outside voxel (a, 7,
   c) is at 7 - b and (a, b, 7) at 7 - c, both nearer than any voxel of B). Likewise the phase percolates along z (all
   of it) when joined, else each cube is a dead end; tortuosity along z is defined only when joined. All integer ratios:
   tolerance 0. */
static PetscErrorCode test_two_cubes(MPI_Comm comm)
{
  const int64_t   n[3] = {14, 14, 14};
  const PetscReal h[3] = {1, 1, 1};

  PetscFunctionBeginUser;
  for (int edge = 0; edge < 2; edge++) {
    SMVolume vol;
    PetscCall(sm_test_volume_from_function(comm, n, h, 2, sm_test_pore_solid, two_cubes, &edge, &vol));
    for (int conn = 6; conn <= 26; conn += conn == 6 ? 12 : 8) {
      const int         joined = edge ? conn >= 18 : conn == 26;
      SMPhaseMorphology m;
      char              what[96];
      PetscCall(run_with(vol, 1, conn, &m));
      PetscCall(PetscSNPrintf(what, sizeof what, "two cubes (%s, %d-conn)", edge ? "edge" : "corner", conn));
      SM_TEST_TRUE(m.voxels == 686 && m.nr > 4 && m.r[4] == 1.0, "%s: 686 voxels and radii 0, 0.25, .. (got %lld)",
                   what, (long long)m.voxels);
      for (int k = 1; k <= 4 && k < m.nr; k++)
        SM_TEST_TRUE(m.V[2][k] == (joined ? 1.0 : 0.5), "%s: intruded fraction at r = %g is %.17g, expected %g", what,
                     m.r[k], m.V[2][k], joined ? 1.0 : 0.5);
      SM_TEST_TRUE(
          m.percolating[2] == (joined ? 1.0 : 0.0) && m.dead_end[2] == (joined ? 0.0 : 1.0) && m.isolated[2] == 0.0,
          "%s: percolating %g, dead end %g, isolated %g along z", what, m.percolating[2], m.dead_end[2], m.isolated[2]);
      SM_TEST_TRUE(joined ? (m.tau_dir[2] >= 1.0 && m.nstart[2][0] > 0) : (isnan(m.tau_dir[2]) && m.nstart[2][0] == 0),
                   "%s: tortuosity along z %g from %lld start voxels", what, m.tau_dir[2], (long long)m.nstart[2][0]);
      PetscCall(sm_morph_phase_descriptors_free(&m));
    }
    PetscCall(sm_test_volume_destroy(&vol));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* an empty phase: nothing defined, no crash */
static PetscErrorCode test_empty(MPI_Comm comm)
{
  const int64_t     n[3]   = {8, 8, 9};
  const PetscReal   h[3]   = {1, 1, 1};
  const double      par[4] = {-10, -10, -10, 1};
  SMVolume          vol;
  SMPhaseMorphology m;

  PetscFunctionBeginUser;
  PetscCall(sm_test_volume_from_points(comm, n, h, 2, sm_test_pore_solid, ball, par, &vol));
  PetscCall(run(vol, 1, &m));
  SM_TEST_TRUE(m.voxels == 0 && isnan(m.r50) && isnan(m.tau_mean) && isnan(m.M_predicted), "empty phase");
  PetscCall(sm_morph_phase_descriptors_free(&m));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* a chi2 twin: the same descriptors at any rank count */
static PetscErrorCode test_twin(MPI_Comm comm)
{
  const int64_t   n[3] = {36, 32, 30};
  const PetscReal h[3] = {0.01, 0.01, 0.01};
  PetscMPIInt     rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsInsertString(NULL, "-model chi2 -model_alpha 12 -model_volume_fraction 0.46"));
  for (int label = 0; label < 2; label++) {
    SMPhaseMorphology mw, ms, mp;
    MPI_Comm          two;
    SMModel           model;
    SMGrid            grid;
    SMVolume          vol;
    PetscCall(sm_model_create_from_options(comm, &model));
    PetscCall(sm_grid_create(comm, n, h, &grid));
    PetscCall(sm_model_generate(model, grid, 5, 1, FFTW_ESTIMATE, NULL, &vol));
    PetscCall(run(vol, label, &mw));
    PetscCall(sm_test_volume_destroy(&vol));
    SM_TEST_TRUE(!isnan(mw.M_predicted) && mw.M_predicted > 0 && mw.M_predicted < mw.volume_fraction,
                 "twin phase %d: M^ %g should lie in (0, eps)", label, mw.M_predicted);
    SM_TEST_TRUE(mw.tau_mean >= 1 && mw.beta_mean > 0 && mw.beta_mean <= 1, "twin phase %d: tau %g, beta %g", label,
                 mw.tau_mean, mw.beta_mean);
    if (!rank) {
      PetscCall(sm_grid_create(PETSC_COMM_SELF, n, h, &grid));
      PetscCall(sm_model_generate(model, grid, 5, 1, FFTW_ESTIMATE, NULL, &vol));
      PetscCall(run(vol, label, &ms));
      compare("twin, all ranks vs rank 0 alone", &mw, &ms);
      PetscCall(sm_morph_phase_descriptors_free(&ms));
      PetscCall(sm_test_volume_destroy(&vol));
    }
    PetscCallMPI(MPI_Comm_split(comm, rank < 2 ? 0 : MPI_UNDEFINED, rank, &two));
    if (size == 3 && two != MPI_COMM_NULL) {
      PetscCall(sm_grid_create(two, n, h, &grid));
      PetscCall(sm_model_generate(model, grid, 5, 1, FFTW_ESTIMATE, NULL, &vol));
      PetscCall(run(vol, label, &mp));
      compare("twin, 3 ranks vs 2", &mw, &mp);
      PetscCall(sm_morph_phase_descriptors_free(&mp));
      PetscCall(sm_test_volume_destroy(&vol));
    }
    if (two != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&two));
    PetscCall(sm_morph_phase_descriptors_free(&mw));
    PetscCall(sm_model_destroy(&model));
  }
  PetscCall(PetscOptionsClear(NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"cylinder", test_cylinder}, {"neck", test_neck}, {"ball", test_ball}, {"two cubes", test_two_cubes},
             {"empty phase", test_empty}, {"chi2 twin", test_twin})
