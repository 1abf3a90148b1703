/* The per-phase morphology descriptors of SPEC 5 beyond volume fraction, surface area and two-point functions:
 * continuous phase size distribution (3D and on 2D slices), simulated mercury intrusion from one face per direction,
 * constrictivity, mean geodesic tortuosity, percolation, and the predicted M-factor. Built on the kernels of morph.h. */
#ifndef STOCHMORPH_DESCRIPTORS_H
#define STOCHMORPH_DESCRIPTORS_H

#include <stochmorph/morph.h>

typedef struct {
  PetscBool cpsd, cpsd_2d, mip, tortuosity, percolation; /* what to compute (constrictivity needs cpsd and mip) */
  double    dr;          /* radius step [um] of the sampled distributions (<= 0: a quarter of the smallest voxel side) */
  int       mip_side[3]; /* inlet face of each direction: 0 low (default), 1 high */
  int       tortuosity_bins;
} SMMorphOptions;

typedef struct {
  int64_t voxels;      /* voxels of the phase */
  double  volume_fraction;
  /* continuous phase size distribution: psi[k] = fraction of the phase covered by balls of radius >= r[k] that fit */
  int     nr;
  double *r;           /* [nr] radii [um], r[k] = k dr */
  double *psi;         /* [nr] */
  double  r50;         /* NAN if psi never reaches 0.5 */
  double *psi2d[3];    /* [nr] disks in slices normal to x, y, z */
  double  r50_2d[3];
  /* intrusion from the inlet face of each direction: V[d][k] = intruded fraction of the phase at radius r[k] */
  double *V[3];
  double  r_min[3];    /* NAN where V never reaches 0.5 (the phase does not connect the inlet enough) */
  double  beta[3], beta_mean, r_min_mean;
  /* geodesic tortuosity: [d][0] from the low face to the high face, [d][1] back */
  double  tau[3][2], tau_dir[3], tau_mean;
  int64_t nstart[3][2];
  int     nbins;
  double  bin_width;
  int64_t *hist[3][2]; /* [nbins] path length / ((n-1) h) histograms from 1 in steps of bin_width */
  double  percolating[3], dead_end[3], isolated[3];
  double  M_predicted; /* eps^1.15 beta^0.35 / tau^4.39 (Stenzel et al. 2016); NAN if beta or tau are not defined */
} SMPhaseMorphology;

/* Set the defaults and read -cpsd_dr, -mip_faces, -tortuosity_bins (within an open PetscOptionsBegin block). */
PetscErrorCode sm_morph_options_default(SMMorphOptions *opt);

/* All descriptors of opt for phase `label` of vol. Collective; identical numbers on every rank and at any rank
   count. */
PetscErrorCode sm_morph_phase_descriptors(SMVolume vol, int label, const SMMorphOptions *opt, SMPhaseMorphology *out);
PetscErrorCode sm_morph_phase_descriptors_free(SMPhaseMorphology *out);

/* Where a decreasing sampled curve y(r) crosses 0.5, by linear interpolation between samples; NAN if it never does. */
double sm_morph_crossing_half(const double *r, const double *y, int n);

#endif
