/* Shared state of the two discretisations of the transport solver (fem.c, fv.c) and the driver (transport.c). */
#ifndef STOCHMORPH_TRANSPORT_IMPL_H
#define STOCHMORPH_TRANSPORT_IMPL_H

#include <stochmorph/transport.h>
#include <stochmorph/grid.h>

/* The solver object (solver.c): every setting that changes a number, and the options database of its KSP. */
struct _p_SMTransport {
  MPI_Comm            comm;
  char                prefix[64];
  SMTransportMethod   method;
  SMTransportPCMatrix pc_matrix;
  int                 ndirs, dirs[3];
  int                 ncond;
  char                cond_names[SM_MAX_PHASES][SM_NAME_LEN];
  double              cond_values[SM_MAX_PHASES];
  double              m_rtol;    /* stop when the estimated relative error of M is below this (0: residual test only) */
  PetscBool           m_monitor; /* print the energy and the error estimate at every iteration */
  PetscBool           matfree;   /* FEM with the edge preconditioner: apply the Q1 operator without storing it */
  SMTransportHooks    hooks;
  PetscBool           has_hooks;
  char               *solver_options; /* the user's -<prefix>ksp_* ... options as "-key value ..." (set_from_options) */
  PetscOptions        options;        /* the KSP's database: defaults, then solver_options (set_up) */
  PetscBool           setup;
};

/* One direction's problem on this rank.
   klab holds the kept conducting set with one ghost plane on each side: klab[(z - z_start + 1) * n_plane + y nx + x] is
   0 if voxel (x, y, z) is not part of the solve (no conductivity, removed, or outside the box) and label + 1 otherwise;
   planes 0 and z_local + 1 are copies of the neighbours' planes (zero at the box faces). 1 byte per voxel.
   num holds the global row number of every point of this rank's numbering planes plus one ghost plane on each side
   (-1 where there is no unknown): FEM points are nodes, planes of (nx + 1)(ny + 1) entries, node plane k belonging to
   the rank that owns voxel plane k (the last rank also owns node plane nz); FV points are voxels. Rows are numbered
   in the natural [z][y][x] order of the points, so the numbering, and hence the linear system, does not depend on the
   rank count. 4 bytes per point. */
typedef struct {
  SMGrid            grid; /* every exchange between ranks goes through it */
  MPI_Comm          comm;
  SMGridInfo        g;
  int               dir;
  SMTransportMethod method;
  double            cond[SM_MAX_PHASES];
  uint8_t          *klab;
  int64_t           pn[2];   /* points per row (x) and rows per plane (y) of the numbering planes */
  int64_t           pplane;  /* pn[0] * pn[1] */
  int64_t           pz0;     /* global z of numbering plane 1 (the first own plane) */
  int64_t           nplanes; /* own numbering planes */
  PetscInt         *num;     /* [(nplanes + 2) * pplane] */
  PetscInt          first, nlocal; /* this rank's rows [first, first + nlocal) */
  int64_t           nglobal;
  PetscBool         symmetric_storage; /* FEM operator in SBAIJ (upper triangle only) when nothing factors it */
  PetscBool         hypre_matrix;      /* the matrix BoomerAMG works on goes straight into hypre's ParCSR (MATHYPRE) */
} SMTransportCtx;

/* The preallocated matrix of this rank's rows (dnnz / onnz entries per row in / outside the diagonal block), rows to be
   set whole and in increasing column order: MATHYPRE when c->hypre_matrix (no auxiliary row arrays, BoomerAMG uses it
   as it is), else AIJ. Collective. */
PetscErrorCode sm_transport_create_matrix(SMTransportCtx *c, const PetscInt *dnnz, const PetscInt *onnz, Mat *M);

/* Exchange the ghost planes of a ghosted slab array (own planes 1 .. nown, ghosts 0 and nown + 1) with the ranks
   below and above; the ghosts at the box faces are set to fill (one element of size bytes). Collective. */
PetscErrorCode sm_transport_exchange_ghosts(SMTransportCtx *c, void *buf, int64_t nown, int64_t plane, MPI_Datatype type,
                                            size_t size, const void *fill);

/* Number the unknowns of this rank (in natural order), fill c->num with ghosts, c->first, c->nlocal, c->nglobal.
   Collective. */
PetscErrorCode sm_transport_fem_number(SMTransportCtx *c);
PetscErrorCode sm_transport_fv_number(SMTransportCtx *c);

/* Create the matrix (exact preallocation), the right-hand side (Dirichlet values moved to it) and the linear initial
   guess. Collective. */
PetscErrorCode sm_transport_fem_assemble(SMTransportCtx *c, Mat *A, Vec *b, Vec *x);
PetscErrorCode sm_transport_fv_assemble(SMTransportCtx *c, Mat *A, Vec *b, Vec *x);
/* The Q1 operator without a stored matrix (a MatShell applying the element matrices; the context keeps c, which must
   outlive the matrix), with the same right-hand side and initial guess as sm_transport_fem_assemble. Collective. */
PetscErrorCode sm_transport_fem_matfree(SMTransportCtx *c, Mat *A, Vec *b, Vec *x);
/* The 7-point edge Laplacian on the FEM unknowns (preconditioner matrix). Collective. */
PetscErrorCode sm_transport_fem_assemble_edge(SMTransportCtx *c, Mat *P);

/* For the tests: the energy of the FEM nodal vector x (0 on the Dirichlet planes) under the edge Laplacian, summed
   element by element over the 12 edges of every kept element, independently of the assembled rows. Collective. */
PetscErrorCode sm_transport_fem_edge_energy(SMTransportCtx *c, Vec x, double *energy);

/* Inlet and outlet flux (summed over ranks) from the solution x (may be NULL when there are no unknowns) and, if
   potential is not NULL, the potential per voxel of this rank's slab (NAN outside the solved set). Collective. */
PetscErrorCode sm_transport_fem_flux(SMTransportCtx *c, Vec x, double *flux_in, double *flux_out, double *potential);
PetscErrorCode sm_transport_fv_flux(SMTransportCtx *c, Vec x, double *flux_in, double *flux_out, double *potential);

/* For the tests: the FEM operator of vol (the phase's kept set in one direction) assembled and matrix-free, applied to
   nvec random vectors: the largest entry of the difference (and of the right-hand sides' difference) and of the
   assembled products. Collective. */
PetscErrorCode sm_transport_fem_operator_difference(SMVolume vol, const double conductivity[], int phase_label,
                                                    int direction, int nvec, double *maxdiff, double *maxval,
                                                    int64_t *unknowns);

/* For the tests: the edge Laplacian of vol (assembled in hypre's format when hypre is true and PetscInt has 32 bits,
   else AIJ) against its energy summed element by element (sm_transport_fem_edge_energy): for nvec random vectors x,
   the largest |x^T P x - energy| and the largest energy. Collective. */
PetscErrorCode sm_transport_fem_edge_difference(SMVolume vol, const double conductivity[], int phase_label,
                                                int direction, PetscBool hypre, int nvec, double *maxdiff,
                                                double *maxval, int64_t *unknowns);

#endif
