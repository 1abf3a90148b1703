/* Effective transport of a labelled volume (SPEC 6): the steady diffusion (conduction) problem div(k grad u) = 0 with
 * u = 1 on the inlet face and u = 0 on the outlet face of one direction, no flux through the four side faces and the
 * internal boundary of the conducting set, solved with PETSc on the z-slabs of the volume.
 *
 * Conductivities are given per label (0 allowed). The reported phase is one label: its volume fraction eps and its
 * conductivity D give the M-factor M = D_eff / D and the effective tortuosity tau_eff = eps / M. With conductivity 1
 * on the phase and 0 elsewhere this is the single-phase problem of SPEC 6.1.
 *
 * Conventions that change the number (stated in every report): the side faces are no-flux (not periodic); the length
 * is the full box length L = n_d h_d and the area the full box cross-section A (D_eff = J L / A, J the total flux).
 *
 * Discretisations:
 *  - SM_TRANSPORT_FEM (default): trilinear (Q1) hexahedral elements, one per voxel of positive conductivity, with the
 *    exact brick stiffness for anisotropic voxels; unknowns are the nodes of the kept elements (nodes are shared at
 *    faces, edges and corners, so voxels touching at an edge or a corner are coupled: 26-connectivity). Flux from the
 *    consistent nodal reactions at the Dirichlet nodes.
 *  - SM_TRANSPORT_FV: cell-centred 7-point finite volumes (face conductance = harmonic mean of the two cells, Dirichlet
 *    values half a voxel outside the inlet and outlet faces), the convention of TauFactor and PoreSpy (6-connectivity).
 *
 * Before assembly the conducting voxels that are not connected to both Dirichlet faces (under the discretisation's
 * connectivity) are removed, so the operator is symmetric positive definite; their volume is reported. A conducting
 * set that does not connect the faces gives M = 0 and percolates = PETSC_FALSE, with no solve and no error.
 *
 * The solver is an object (SMTransport, PETSc's life cycle: create, set, set_from_options, set_up, view, destroy) that
 * holds every setting that changes a number: the method, the preconditioner matrix, the directions, the conductivities
 * and the options of its own KSP. Its options prefix is "transport_" by default, for its own keys (-transport_method,
 * -transport_pc_matrix, -transport_direction, -transport_conductivities) and for its KSP (-transport_ksp_rtol,
 * -transport_pc_type, ...). Every command that solves transport configures it through sm_transport_set_from_options.
 *
 * Solver: KSP CG with hypre BoomerAMG (PCHYPRE; -transport_pc_type gamg for PCGAMG), stopped when the estimated
 * relative error of M is below -transport_m_rtol (default 1e-6; M is computed as the energy of the discrete solution,
 * which is never below the exact discrete value and converges quadratically), from a linear initial guess; every
 * choice can be overridden with -transport_ksp_* / -transport_pc_* / -transport_mg_* options. The solver's defaults live in the object's own options database (a copy of
 * the user's -transport_ksp_* / -transport_pc_* / -transport_mg_* options over the defaults), so nothing is written into
 * the global options database. For FEM the preconditioner is built from the 7-point edge Laplacian of the kept elements
 * (spectrally equivalent to the Q1 matrix, a third of its entries) unless -transport_pc_matrix stiffness is given. A
 * solve that does not converge is an error naming the reason. */
#ifndef STOCHMORPH_TRANSPORT_H
#define STOCHMORPH_TRANSPORT_H

#include <stochmorph/volume.h>
#include <petscksp.h>

typedef enum { SM_TRANSPORT_FEM = 0, SM_TRANSPORT_FV = 1, SM_TRANSPORT_NUM } SMTransportMethod;
extern const char *const sm_transport_method_names[];    /* "fem", "fv" */
extern const char *const sm_transport_direction_names[]; /* "x", "y", "z" */

typedef struct {
  int               direction;   /* 0 x, 1 y, 2 z */
  SMTransportMethod method;
  int               phase_label; /* the reported phase */
  double            D;           /* its conductivity (M = D_eff / D) */
  int64_t           phase_voxels, conducting_voxels, kept_voxels;
  double volume_fraction;      /* eps: phase voxels / box voxels */
  double conducting_fraction;  /* voxels of positive conductivity / box voxels */
  double percolating_fraction; /* phase voxels kept for the solve / phase voxels (0 for an empty phase) */
  double removed_fraction;     /* conducting voxels removed before assembly (not connected to both faces) / box voxels */
  PetscBool percolates;        /* some conducting component connects the inlet and outlet faces */
  double    length, area;      /* L = n_d h_d [um], A = the full box cross-section [um^2] */
  double    flux_in, flux_out; /* total flux through the inlet and outlet [conductivity * um] */
  double    flux_imbalance;    /* |flux_in - flux_out| / max(|flux_in|, |flux_out|) (0 when both are 0) */
  double    flux;              /* J: the energy of the discrete solution, flux_in - u.r (see M_error_estimate) */
  double    D_eff;             /* J L / A [conductivity units] */
  double    M;                 /* D_eff / D, 0 when nothing percolates */
  double    tau_eff;           /* eps / M; INFINITY when M = 0 (see percolates) */
  int64_t   unknowns;          /* rows of the linear system */
  PetscBool solved;            /* a KSP solve ran (false when nothing percolates or every node is a Dirichlet node) */
  PetscInt  iterations;
  double    residual_norm;     /* final residual norm as the KSP measures it (unpreconditioned by default) */
  KSPConvergedReason reason;   /* KSP_CONVERGED_ITERATING (0) when no solve ran */
  char      ksp_type[32], pc_type[32]; /* the solver that ran (after the options), "" when no solve ran */
  PetscBool stopped;           /* the iteration hook ended the solve early (SMTransportHooks): no result */
  double    M_error_estimate;  /* estimated upper bound of the relative error of M (M is never below the exact discrete
                                  value: J is an energy); 0 when nothing was solved, NAN when the Krylov method gives no
                                  estimate (not CG with the natural norm) */
  PetscBool m_converged;       /* the solve stopped because M_error_estimate fell below -<prefix>m_rtol */
  double    setup_time;        /* components + numbering + assembly + preconditioner setup [s] */
  double    solve_time;        /* KSPSolve [s] */
} SMTransportResult;

/* Hooks into a long solve (stochmorph run uses them for checkpoints of the iterate). The unknowns are numbered in the
   [z][y][x] order of their points, so a saved iterate fits the same problem at any rank count.
   initial_guess: may fill x (the default is the linear profile) and set *loaded.
   iteration: called after every CG iteration with the current iterate (collective); may save it, and may set *stop to
   end the solve at once: sm_transport_solve then returns with res->stopped = PETSC_TRUE and no M. */
typedef struct {
  PetscErrorCode (*initial_guess)(void *ctx, Vec x, PetscBool *loaded);
  PetscErrorCode (*iteration)(void *ctx, Vec x, PetscInt it, PetscBool *stop);
  void *ctx;
} SMTransportHooks;

typedef enum { SM_TRANSPORT_PC_EDGE = 0, SM_TRANSPORT_PC_STIFFNESS = 1 } SMTransportPCMatrix;
extern const char *const sm_transport_pc_matrix_names[]; /* "edge", "stiffness" */

typedef struct _p_SMTransport *SMTransport;

/* Create a transport solver with the defaults: FEM, the edge preconditioner matrix, the three directions x, y, z,
   conductivity 1 for the reported phase and 0 for the others, options prefix "transport_". Collective. */
PetscErrorCode sm_transport_create(MPI_Comm comm, SMTransport *t);
/* Destroy (accepts NULL, nulls the handle). Collective. */
PetscErrorCode sm_transport_destroy(SMTransport *t);

/* Settings (not collective; call before sm_transport_set_up). */
PetscErrorCode sm_transport_set_method(SMTransport t, SMTransportMethod method);
PetscErrorCode sm_transport_get_method(SMTransport t, SMTransportMethod *method);
PetscErrorCode sm_transport_set_pc_matrix(SMTransport t, SMTransportPCMatrix pc_matrix);
PetscErrorCode sm_transport_get_pc_matrix(SMTransport t, SMTransportPCMatrix *pc_matrix);
/* Stop a solve when the estimated relative error of M is below m_rtol (0: the residual test alone). */
#define SM_TRANSPORT_M_RTOL_DEFAULT 1e-6
PetscErrorCode sm_transport_set_m_rtol(SMTransport t, double m_rtol);
PetscErrorCode sm_transport_get_m_rtol(SMTransport t, double *m_rtol);
/* The directions solved by commands (1 to 3 distinct values 0 x, 1 y, 2 z, in this order). */
PetscErrorCode sm_transport_set_directions(SMTransport t, int n, const int dirs[]);
PetscErrorCode sm_transport_get_directions(SMTransport t, int *n, const int **dirs);
/* Conductivities by phase name (n pairs, values >= 0); a phase not named has 1 if it is the reported phase, else 0. */
PetscErrorCode sm_transport_set_conductivities(SMTransport t, int n, const char *const names[], const double values[]);
/* The conductivity of every phase of vol (label order) when phase_label is reported: an unknown phase name or a
   reported phase of conductivity 0 is an error naming the option. Collective. */
PetscErrorCode sm_transport_get_conductivities(SMTransport t, SMVolume vol, int phase_label, double conductivity[]);
/* Hooks of the next solves (NULL: none); the struct is copied. */
PetscErrorCode sm_transport_set_hooks(SMTransport t, const SMTransportHooks *hooks);
/* The prefix of every option key of the object and of its KSP (default "transport_"; NULL: no prefix). */
PetscErrorCode sm_transport_set_options_prefix(SMTransport t, const char prefix[]);

/* Read -<prefix>method fem|fv, -<prefix>pc_matrix edge|stiffness, -<prefix>direction x,y,z|all,
   -<prefix>conductivities name:value,..., and take the user's -<prefix>ksp_* / -<prefix>pc_* / -<prefix>mg_* options
   into the object's own options database for its KSP; -help documents them. Collective. */
PetscErrorCode sm_transport_set_from_options(SMTransport t);
/* Build the object's solver options database (defaults, then the options taken by set_from_options). Called by the
   first solve if not before. Collective. */
PetscErrorCode sm_transport_set_up(SMTransport t);
/* Print the settings (method, preconditioner matrix, directions, conductivities, solver options). Collective. */
PetscErrorCode sm_transport_view(SMTransport t, PetscViewer viewer);
/* One line naming every setting that changes a number, in a fixed order and without "; " (e.g. "method=fem
   pc_matrix=edge conductivities=solid:1,pore:0.1 solver=[-transport_ksp_rtol 1e-6]"), for the identity of a study. Not
   collective. */
PetscErrorCode sm_transport_get_settings_text(SMTransport t, char buf[], size_t len);

/* Solve the effective transport problem in one direction.
   [in]  t             the solver (its method, preconditioner matrix, solver options and hooks)
   [in]  vol           the labelled volume (z-slabs)
   [in]  conductivity  one value >= 0 per phase of vol (label order); conductivity[phase_label] must be > 0
                       (sm_transport_get_conductivities gives the object's)
   [in]  phase_label   the phase whose eps and M are reported
   [in]  direction     0 x, 1 y, 2 z (any direction, whatever the slab axis)
   [out] potential     optional (NULL): this rank's slab [z_local][ny][nx] of the solved potential per voxel (FEM: the
                       mean of its 8 nodes; FV: the cell value), NAN where nothing was solved
   [out] res           the result, identical on every rank
   Memory: about 11 bytes per voxel during the component analysis, then about 5 bytes per voxel (labels of the kept
   set, node numbers) plus the matrix, the multigrid hierarchy and three vectors: see sm_transport_memory_estimate().
   Collective on the volume's communicator. */
PetscErrorCode sm_transport_solve(SMTransport t, SMVolume vol, const double conductivity[], int phase_label,
                                  int direction, double *potential, SMTransportResult *res);

/* Upper estimate of the peak memory [bytes, all ranks together] of sm_transport_solve for vol (from the number of
   voxels of positive conductivity, before any large allocation), for a check against the machine's memory.
   Collective. */
PetscErrorCode sm_transport_memory_estimate(SMTransport t, SMVolume vol, const double conductivity[], double *bytes);

#endif
