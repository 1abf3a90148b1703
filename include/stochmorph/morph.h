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

#endif
