/* The per-phase morphology descriptors of SPEC 5 beyond volume fraction, surface area and two-point functions:
 * continuous phase size distribution (3D and on 2D slices), simulated mercury intrusion from one face per direction,
 * constrictivity, mean geodesic tortuosity, percolation, and the predicted M-factor. Built on the kernels of morph.h. */
#ifndef STOCHMORPH_DESCRIPTORS_H
#define STOCHMORPH_DESCRIPTORS_H

#include <stochmorph/morph.h>

/* The descriptors a command can be asked for (-descriptors): the basic ones (volume fraction, surface area, two-point
   functions), then the per-phase morphology of this header. */
typedef enum {
  SM_DESC_VOLUME_FRACTION,
  SM_DESC_SURFACE_AREA,
  SM_DESC_TWO_POINT,
  SM_DESC_CPSD,
  SM_DESC_CPSD_2D,
  SM_DESC_MIP,
  SM_DESC_CONSTRICTIVITY,
  SM_DESC_TORTUOSITY,
  SM_DESC_PERCOLATION,
  SM_DESC_M_PREDICTED,
  SM_DESC_NUM
} SMDescriptor;
extern const char *const sm_descriptor_names[]; /* "volume_fraction", ..., "M_predicted" */
#define SM_DESC_BASIC_LAST SM_DESC_TWO_POINT

typedef struct {
  PetscBool want[SM_DESC_NUM];                           /* what was asked for, with what it needs */
  PetscBool cpsd, cpsd_2d, mip, tortuosity, percolation; /* what to compute (constrictivity needs cpsd and mip) */
  double    dr;          /* radius step [um] of the sampled distributions (<= 0: a quarter of the smallest voxel side) */
  int       mip_side[3]; /* inlet face of each direction: 0 low (default), 1 high */
  int       tortuosity_bins;
  int       connectivity; /* neighbours of a voxel for components, percolation, geodesic paths and the eroded set of
                             intrusion: 6 (faces), 18 (faces and edges) or 26 (faces, edges and corners; default) */
  PetscBool periodic, periodic_set; /* -analyze_periodic: treat the volume as periodic; unset: the volume's attribute */
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

/* The defaults: every descriptor, the radius step a quarter of the smallest voxel side, intrusion from the low faces,
   40 tortuosity bins, 26-connectivity. Not collective. */
PetscErrorCode sm_morph_options_default(SMMorphOptions *opt);
/* Read -descriptors (all, basic, none or a list of names), -cpsd_dr, -mip_faces, -tortuosity_bins and -connectivity
   into opt, check them, and derive the computed parts from what was asked for; -help documents them. Every command that
   computes descriptors (analyze, run, sweep) reads them here, so a key means the same everywhere. Collective. */
PetscErrorCode sm_morph_options_set_from_options(MPI_Comm comm, SMMorphOptions *opt);
/* Upper estimate of the peak memory [bytes, all ranks together] of sm_morph_phase_descriptors for vol with opt (the
   distance maps, labels and path buffers of the kernels: 41 bytes per voxel), for a check before the work. Collective. */
PetscErrorCode sm_morph_descriptors_memory_estimate(SMVolume vol, const SMMorphOptions *opt, double *bytes);
/* Whether any per-phase morphology descriptor (beyond the basic ones) is asked for. */
PetscBool sm_morph_options_want_morphology(const SMMorphOptions *opt);

/* All descriptors of opt for phase `label` of vol. Collective; identical numbers on every rank and at any rank
   count. */
PetscErrorCode sm_morph_phase_descriptors(SMVolume vol, int label, const SMMorphOptions *opt, SMPhaseMorphology *out);
PetscErrorCode sm_morph_phase_descriptors_free(SMPhaseMorphology *out);

/* Where a decreasing sampled curve y(r) crosses 0.5, by linear interpolation between samples; NAN if it never does. */
double sm_morph_crossing_half(const double *r, const double *y, int n);

#endif
