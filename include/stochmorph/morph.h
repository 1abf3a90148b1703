/* Morphological descriptors of labelled volumes (SPEC 5). */
#ifndef STOCHMORPH_MORPH_H
#define STOCHMORPH_MORPH_H

#include <stochmorph/volume.h>

/* ---- Volume fractions: voxel counts per label (bitwise independent of the rank count). Collective. ---- */
PetscErrorCode sm_morph_label_counts(SMVolume vol, int64_t counts[SM_MAX_PHASES]);

/* ---- Specific surface area: Ohser-Schladitz estimator (discrete Crofton formula over the 13 directions of
   the 2x2x2 neighbourhood, Voronoi direction weights for the possibly anisotropic lattice). ---- */

/* Direction weights (fractions of the unit sphere, summing to 1) of the 13 directions
   (1,0,0),(0,1,0),(0,0,1), the 6 face diagonals, the 4 body diagonals, for voxel sizes h = {hx, hy, hz}.
   Order (MorphoLibJ's): (1,0,0) (0,1,0) (0,0,1) (1,1,0) (-1,1,0) (1,0,1) (-1,0,1) (0,1,1) (0,-1,1) (1,1,1) (-1,1,1)
   (1,-1,1) (-1,-1,1). w_i is the area of the spherical Voronoi cells of +-u_i among the 26 unit vectors u along the
   physical lattice vectors (d_x hx, d_y hy, d_z hz), over 4 pi; computed exactly. Not collective. */
PetscErrorCode sm_morph_direction_weights(const PetscReal h[3], double w[13]);
/* Surface-area contribution [um^2] of each of the 256 2x2x2 configurations (bit b = voxel (x,y,z) with
   b = x + 2 y + 4 z set when the voxel is in the phase), for voxel sizes h. */
PetscErrorCode sm_morph_surface_lut(const PetscReal h[3], double lut[256]);
/* Global histogram of 2x2x2 configurations of the indicator of label in vol; periodic: cells wrap around
   (N cells), else only cells wholly inside the box ((nx-1)(ny-1)(nz-1) cells). Collective. */
PetscErrorCode sm_morph_configuration_histogram(SMVolume vol, int label, PetscBool periodic, int64_t hist[256]);
/* Specific surface area S [1/um] of label: interface area per unit total volume. Collective. */
PetscErrorCode sm_morph_specific_surface_area(SMVolume vol, int label, PetscBool periodic, double *S);
/* Pairwise interface area S_ij = (S_i + S_j - sum of the other phases' S) / 2 from the specific surface areas S[np] of
   the phases (SPEC 5: exact when every boundary separates two phases; for three phases (S_i + S_j - S_k) / 2). */
double sm_morph_interface_area(const double S[], int np, int i, int j);

/* ---- Two-point coverage functions C_ij(h) (SPEC 4.3, 5) ---- */
typedef struct {
  int     nphases;
  int     npairs;                        /* nphases (nphases + 1) / 2, pairs (i <= j) in row order */
  int     pair_i[SM_MAX_PHASES * (SM_MAX_PHASES + 1) / 2], pair_j[SM_MAX_PHASES * (SM_MAX_PHASES + 1) / 2];
  int     nbins;                         /* radial bins */
  double *h;                             /* [nbins] bin centres [um] (mean lag length in the bin) */
  double *C;                             /* [npairs][nbins] radially averaged C_ij */
  int     naxis[3];                      /* lags 0 .. naxis[d]-1 along each axis */
  double *h_axis[3];                     /* [naxis[d]] lag lengths [um] */
  double *C_axis[3];                     /* [npairs][naxis[d]] */
  PetscBool periodic;                    /* periodic estimator or minus-sampling */
} SMTwoPoint;

/* Compute all C_ij up to lag length h_max [um] (<= 0: half the shortest box side), radial bins of the smallest
   voxel width. periodic: periodic estimator; else minus-sampling with zero padding by the largest lag. Collective;
   results identical on every rank. */
PetscErrorCode sm_morph_two_point(SMVolume vol, PetscBool periodic, double h_max, unsigned fft_flags, SMTwoPoint *tp);
PetscErrorCode sm_morph_two_point_free(SMTwoPoint *tp);
/* Upper estimate of the peak memory [bytes, all ranks together] of sm_morph_two_point on grid for a volume of nphases
   phases: labels and an indicator (2 bytes per voxel), the FFT buffer (8) and, for three or more phases, one stored
   spectrum per phase (8 each); minus-sampling pads each axis by up to half its length (at most 3.4 times the voxels).
   Not collective. */
PetscErrorCode sm_morph_two_point_memory_estimate(SMGrid grid, int nphases, PetscBool periodic, double *bytes);

/* ---- Euclidean distance transform (SPEC 5) ---- */
typedef enum { SM_EDT_BORDER_FREE = 0, SM_EDT_BORDER_OBSTACLE = 1 } SMEdtBorder;

/* Exact squared Euclidean distance [um^2], with the physical voxel sizes, from the centre of every voxel of the set
   {mask != 0} to the nearest centre of a voxel with mask == 0; 0 on voxels with mask == 0. SM_EDT_BORDER_FREE: the box
   border is not an obstacle (a set with no zero voxel gets INFINITY); SM_EDT_BORDER_OBSTACLE: the voxels just outside
   the box count as zero voxels. axes: bit d set = include axis d (x = 1, y = 2, z = 4); 7 gives the 3D transform,
   3 (x and y) the 2D transform of every z slice, 6 of every x slice, 5 of every y slice. mask and d2 are this rank's
   slab [z_local][ny][nx]. Separable lower-envelope algorithm (Felzenszwalb-Huttenlocher / Meijster) along x and y
   within the slab and along z by a transpose across ranks. Collective. */
PetscErrorCode sm_morph_edt(SMGrid grid, const uint8_t *mask, SMEdtBorder border, int axes, double *d2);

/* ---- Connected components ---- */
typedef struct {
  int64_t  ncomponents; /* in the whole box */
  /* this rank's table: the components with a voxel in its slab, ids ascending (no rank holds all components) */
  int64_t  nlocal;
  int64_t *ids;   /* [nlocal] component ids */
  int64_t *count; /* [nlocal] voxels of the component in this rank's slab */
  int64_t *size;  /* [nlocal] voxels of the component in the whole box */
  uint8_t *faces; /* [nlocal] bit f set if the component touches box face f: 0 x-low, 1 x-high, 2 y-low, 3 y-high,
                     4 z-low, 5 z-high */
} SMComponents;

/* Components of {mask != 0} with 6-, 18- or 26-connectivity (neighbours across faces; faces and edges; faces, edges
   and corners): comp[v] = component id (0 .. ncomponents-1, numbered in the order of each component's smallest global
   voxel index, so the numbering does not depend on the rank count) or -1 where mask == 0. Local labelling plus a
   union-find merge across slab boundaries. comp is this rank's slab. Collective. */
PetscErrorCode sm_morph_components(SMGrid grid, const uint8_t *mask, int connectivity, int64_t *comp, SMComponents *cc);
PetscErrorCode sm_morph_components_free(SMComponents *cc);
/* The index i of component id in this rank's table (cc->ids[i] == id), or -1 if no voxel of it lies in the slab.
   Binary search. */
PetscErrorCode sm_morph_components_find(const SMComponents *cc, int64_t id, int64_t *i);

/* ---- Path maps on the 6-, 18- or 26-neighbourhood ---- */
/* connectivity: 6 (steps along the axes), 18 (also along the face diagonals) or 26 (also along the body diagonals);
   anything else is refused. */

/* Geodesic distance [um] inside {mask != 0} from the plane `side` (0: index 0, 1: index n-1) of axis `axis`
   (0 x, 1 y, 2 z): mask voxels of that plane have distance 0, a step between neighbours inside the mask costs its
   physical length (h_a, sqrt(h_a^2 + h_b^2), sqrt(hx^2 + hy^2 + hz^2)); INFINITY where no path exists. Exact graph
   shortest paths (Dijkstra within each slab, repeated across slab boundaries until nothing changes). Collective. */
PetscErrorCode sm_morph_geodesic_distance(SMGrid grid, const uint8_t *mask, int connectivity, int axis, int side,
                                          double *dist);
/* Bottleneck map: m[v] = the largest value, over paths of neighbours inside {f > 0} from the plane `side` of `axis` to
   v, of the smallest f on the path (f of the end points included); 0 where f <= 0 or no path exists. Used for
   intrusion: the centres reachable from the inlet through {EDT >= r} are {m >= r}, the eroded set being connected
   with the given connectivity. Exact. Collective. */
PetscErrorCode sm_morph_bottleneck_map(SMGrid grid, const double *f, int connectivity, int axis, int side, double *m);

/* ---- Maximal-ball painting (local thickness) ---- */
/* P[v] = max { f(c) : c a voxel centre with f(c) > 0 and |x_v - x_c| <= f(c) } (physical distances), 0 where no ball
   covers v. skip_axis = -1: balls in 3D; skip_axis = a: disks in the slices normal to axis a (c and v in the same
   slice). Exact; balls cross slab boundaries. Collective. */
PetscErrorCode sm_morph_max_ball(SMGrid grid, const double *f, int skip_axis, double *P);

/* ---- Percolation ---- */
/* Fraction of the set connected to both faces of each axis (percolating), to exactly one face of the axis (dead end),
   to neither face of that axis (isolated), with the given connectivity. Collective. */
typedef struct {
  double  percolating[3], dead_end[3], isolated[3];
  int64_t set_voxels;
} SMPercolation;
PetscErrorCode sm_morph_percolation(SMGrid grid, const uint8_t *mask, int connectivity, SMPercolation *perc);

/* Mean geodesic tortuosity from plane `side` to the opposite plane of `axis` (SPEC 5): start voxels = set voxels of the
   start plane connected (with the given connectivity) to the opposite plane; for each, the shortest path of neighbour
   steps inside the set to any voxel of the opposite plane, divided by (n_axis - 1) h_axis; tau = their mean (NAN and
   nstart = 0 when no start voxel is connected). hist (optional, may be NULL): filled with a histogram of path lengths /
   ((n-1)h) in nbins bins of width bin_width starting at 1 (ratios below 1 cannot occur; those past the last bin are
   counted in the last bin). tau, nstart and hist are the same on every rank and bitwise independent of the rank count.
   Needs n_axis >= 2. Collective. */
PetscErrorCode sm_morph_geodesic_tortuosity(SMGrid grid, const uint8_t *mask, int connectivity, int axis, int side,
                                            double *tau, int64_t *nstart, int nbins, double bin_width, int64_t *hist);

#endif
