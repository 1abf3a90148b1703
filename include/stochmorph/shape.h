/* Off-grid geometry (SPEC 7): the solid of a labelled volume as a union of star-shaped sub-particles, each the level
 * set {x : |x - x_c| - psi(angles of x - x_c) <= 0} of a radius function psi expanded in real spherical harmonics up to
 * degree L, and the rasterisation of that union on any grid.
 *
 * Pipeline: sm_shape_watershed (marker-controlled watershed on the distance transform, distributed) ->
 * sm_shape_extract (centres, radius samples along rays, least-squares fits, patches of what the fits leave out; every
 * basin is processed whole by one rank) -> sm_shape_write / sm_shape_read (HDF5) -> sm_shape_rasterize (any grid,
 * majority of sub-samples).
 *
 * Coordinates: um, origin at the low corner of voxel (0, 0, 0); the centre of voxel (i, j, k) is
 * ((i + 1/2) hx, (j + 1/2) hy, (k + 1/2) hz), and the box is [0, nx hx] x [0, ny hy] x [0, nz hz].
 *
 * Real spherical harmonics: with P~_l^m(cos theta) the associated Legendre functions in GSL's GSL_SF_LEGENDRE_SPHARM
 * normalisation (sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!) P_l^m, without the Condon-Shortley phase),
 *   Y_l0 = P~_l^0,  Y_lm = sqrt(2) P~_l^m cos(m phi),  Y_l,-m = sqrt(2) P~_l^m sin(m phi)  (m > 0),
 * orthonormal on the unit sphere. Coefficient of Y_lm is stored at index l^2 + l + m ((L+1)^2 in all). */
#ifndef STOCHMORPH_SHAPE_H
#define STOCHMORPH_SHAPE_H

#include <stochmorph/volume.h>

#define SM_SHAPE_MAX_DEGREE 30

/* Number of coefficients of an expansion up to degree L. */
static inline int sm_shape_ncoeffs(int L)
{
  return (L + 1) * (L + 1);
}

/* A set of sub-particles and its provenance. Arrays are PetscMalloc'd and owned by the struct (sm_shapes_free). */
typedef struct {
  int      degree;      /* L */
  int      ncoeffs;     /* (L + 1)^2 */
  int64_t  n;           /* number of sub-particles */
  double  *centres;     /* [n][3] centre x_c [um] */
  double  *coeffs;      /* [n][ncoeffs] coefficients of psi [um] */
  double  *fit_error;   /* [n] RMS of psi - sampled radius over the sample directions [um] */
  int64_t *voxels;      /* [n] voxels of the sub-particle in the source volume (0 for a patch: sum = the phase's) */
  double  *rmax;        /* [n] rigorous upper bound of psi (bounding-sphere radius) [um]; derived, not stored */
  int64_t  source_n[3]; /* source grid size */
  double   source_h[3]; /* source voxel size [um] */
  int      nphases;     /* phases of the source volume */
  char     phase_names[SM_MAX_PHASES][SM_NAME_LEN];
  char     phase[SM_NAME_LEN];         /* the phase that was split */
  char     source[PETSC_MAX_PATH_LEN]; /* source file (provenance) */
  double   marker_height;              /* h of the h-maxima markers [um] */
  int      ndirections;                /* rays per sub-particle */
  int64_t  moved;                      /* basin centroids that did not see their whole basin and were moved */
  int64_t  not_star;                   /* sub-particles not star-shaped (voxel level) from their centre */
  int64_t  basins;                     /* watershed basins; each is one sub-particle or is cut into several */
  int64_t  split;                      /* basins cut into star-shaped parts (sm_shape_star_split) */
  double   star_volume_fraction;       /* fraction of the phase's voxels in sub-particles star-shaped from their
                                          centre; < 0: unknown (a file written before it was recorded) */
  int64_t patches;                     /* sub-particles covering voxels the fitted parts left out (opt->cover) */
  int64_t uncovered;                   /* voxels of the phase left out even so, at the source voxel size; < 0: not
                                          checked */
  double radial_offset;                /* delta [um] taken off every radius function so that the union has the
                                          phase's volume (opt->match_volume; in coeffs already); 0: none */
  int64_t taken;                       /* basins computed on another rank than the one that gathered their voxels
                                          (work sharing, grid.h's task pool); not stored, 0 when read */
} SMShapes;

/* Options of sm_shape_extract. */
typedef struct {
  int       degree;        /* L, 0 .. SM_SHAPE_MAX_DEGREE (default 10) */
  int       ndirections;   /* rays per sub-particle; 0: 4 (L+1)^2 (at least 2 (L+1)^2 is required) */
  double    marker_height; /* h [um] of the h-maxima transform of the distance map; < 0: half the smallest voxel side */
  PetscBool star_split;    /* cut basins that are not star-shaped from their centre into star-shaped parts (default) */
  PetscBool cover;         /* patch the voxels that the fitted sub-particles leave out (default; particles.c) */
  PetscBool match_volume;  /* move every surface by one common distance so that the union has the phase's volume
                              (default; sm_shape_volume_offset) */
  PetscBool adaptive_degree; /* fit each sub-particle at the degree its size resolves, min(L, max(2, ceil(pi r / h))),
                                r its farthest voxel's distance from its centre (default; particles.c); the
                                coefficients above it are 0 */
} SMShapeOptions;

/* Defaults: L = 10, 4 (L+1)^2 rays, h = half a voxel, star splitting, patches, volume match and the adaptive degree on.
   Not collective. */
PetscErrorCode sm_shape_options_default(SMShapeOptions *opt);
/* Read -sh_degree, -sh_directions, -shape_marker_height, -shape_star_split, -shape_cover, -shape_match_volume,
   -shape_adaptive_degree
   (checked, messages name the option). Collective. */
PetscErrorCode sm_shape_options_set_from_options(MPI_Comm comm, SMShapeOptions *opt);

/* ---- real spherical harmonics (not collective) ---- */

/* Y[0 .. (L+1)^2 - 1] at the direction of u (need not be unit, must be non-zero). L <= SM_SHAPE_MAX_DEGREE. */
PetscErrorCode sm_shape_sh_basis(int L, const double u[3], double *Y);
/* psi(u) = sum c_lm Y_lm(u). */
double sm_shape_sh_eval(int L, const double *coeffs, const double u[3]);
/* The highest degree l <= L with a nonzero coefficient of c (0 if none): the degree to evaluate psi at, the same
   function as degree L (sub-particles fitted at a lower degree store zeros above it, -shape_adaptive_degree). */
int sm_shape_sh_top_degree(int L, const double *c);
/* n unit vectors (Fibonacci sphere: nearly uniform, deterministic) into dirs[n][3]. */
PetscErrorCode sm_shape_directions(int n, double *dirs);
/* Rigorous bounds over the whole sphere from the coefficients (addition theorem and Cauchy-Schwarz per degree):
   rmin <= psi <= rmax, |surface gradient of psi| <= grad. Any of the outputs may be NULL. */
void sm_shape_sh_bounds(int L, const double *coeffs, double *rmin, double *rmax, double *grad);
/* Least-squares fit of degree L to radii r[n] sampled along dirs[n][3] (n >= (L+1)^2): coeffs[(L+1)^2] and the RMS
   residual (may be NULL). Uses gsl_multifit_linear. */
PetscErrorCode sm_shape_sh_fit(int L, int n, const double *dirs, const double *r, double *coeffs, double *rms);

/* ---- one sub-particle as a voxel set (not collective) ---- */

/* The voxels of one sub-particle inside its bounding box: in[(z * n[1] + y) * n[0] + x] != 0 for the voxel
   (lo[0] + x, lo[1] + y, lo[2] + z) of a grid of voxel size h. */
typedef struct {
  int64_t        lo[3], n[3];
  double         h[3];
  const uint8_t *in;
} SMShapeVoxelSet;

/* Radius of the voxel set along each direction from the centre c [um]: the distance to the first point where the
   trilinear interpolation of the set's indicator (1 at the centres of its voxels, 0 elsewhere) falls below 1/2,
   found in steps of a quarter of the smallest voxel side, refined by bisection to 1/4096 of it and by a linear
   interpolation of the indicator in the last bracket. */
PetscErrorCode sm_shape_sample_radii(const SMShapeVoxelSet *set, const double c[3], int ndir, const double *dirs,
                                     double *r);
/* Does c see every voxel of the set? Each segment from c to the centre of a boundary voxel (one with a 6-neighbour
   outside the set) is sampled every quarter of the smallest voxel side, and every sample must lie in a voxel of the
   set. nblocked (may be NULL): boundary voxels not seen. */
PetscErrorCode sm_shape_star_check(const SMShapeVoxelSet *set, const double c[3], PetscBool *star, int64_t *nblocked);
/* Cut the voxel set into parts that are star-shaped from their centres in the sense of sm_shape_star_check and whose
   union is the set (design note in star.c: atoms from the watershed of the set's own distance map with marker dynamic
   0, covered greedily by parts grown from the deepest atom with whole atoms visible from its centre).
   [out] part: box-sized, part[(z * n[1] + y) * n[0] + x] = part number 0..nparts-1 on the set's voxels, -1 elsewhere;
   [out] centres: [nparts][3] centres [um] (PetscMalloc'd, the caller frees with PetscFree). A function of the set
   alone. Not collective (works on one-rank grids of the set's box). */
PetscErrorCode sm_shape_star_split(const SMShapeVoxelSet *set, int32_t *part, int *nparts, double **centres);

/* ---- distributed steps (collective) ---- */

/* Marker-controlled watershed of {mask != 0} (26-connectivity) on its Euclidean distance map d (border not an
   obstacle): markers are the regional maxima of the h-maxima transform of d (maxima of dynamic < marker_height [um]
   are suppressed), numbered like sm_morph_components numbers them (smallest global voxel first); the flood runs in
   order of decreasing d, i.e. every voxel takes the marker with the highest bottleneck (largest, over paths from a
   marker, of the smallest d on the path), ties going to the marker reached in fewer steps below the bottleneck
   level, then to the neighbour processed first (best key, then largest d, then smallest global index). label[] (this
   rank's slab): 0 .. nparticles-1, -1 outside the set; identical at every rank count. */
PetscErrorCode sm_shape_watershed(SMGrid grid, const uint8_t *mask, double marker_height, int64_t *label,
                                  int64_t *nparticles);
/* sm_shape_watershed on a distance map the caller already has: d2 (this rank's slab, read only) is the squared
   distance map of {mask != 0} as sm_morph_edt(grid, mask, SM_EDT_BORDER_FREE, 7, d2) computes it. Collective. */
PetscErrorCode sm_shape_watershed_d2(SMGrid grid, const uint8_t *mask, const double *d2, double marker_height,
                                     int64_t *label, int64_t *nparticles);
/* Peak bytes per voxel of sm_shape_extract (all ranks together), for a memory check before reading big inputs. */
double sm_shape_extract_bytes_per_voxel(void);
/* Split phase `phase` of vol into sub-particles and fit their radius functions; with opt->cover, add the patches that
   cover what the fits leave out (particles.c); shapes is filled identically on every rank (the provenance strings are
   left for the caller). Errors if the phase is empty. */
PetscErrorCode sm_shape_extract(SMVolume vol, int phase, const SMShapeOptions *opt, SMShapes *shapes);

/* Peak bytes per voxel of sm_shape_rasterize with s sub-samples per axis (all ranks together). */
double sm_shape_rasterize_bytes_per_voxel(int s);
/* Rasterise the union of the sub-particles on grid: label 1 ("solid") where more than half of the s^3 sub-sample
   points of a voxel (the centres of its s x s x s sub-cells) lie inside some sub-particle, else 0 ("pore"); exact
   ties (even s) go to the voxels with i + j + k even, so they do not bias the volume. The
   volume is new, non-periodic, with phases pore/solid. Each rank tests only the sub-particles whose bounding sphere
   meets its slab. */
PetscErrorCode sm_shape_rasterize(const SMShapes *shapes, SMGrid grid, int s, SMVolume *vol);
/* Largest |delta| of sm_shape_volume_offset, in units of the smallest voxel side. */
#define SM_SHAPE_OFFSET_BAND 0.75
/* The distance delta [um] (|delta| <= SM_SHAPE_OFFSET_BAND voxels) such that the union of the sub-particles with every
   radius function lowered by delta (psi - delta) holds `target` voxel centres of grid: the phase's voxel count when the
   grid is the source grid (raster.c). Collective; the same on every rank and at every rank count. */
PetscErrorCode sm_shape_volume_offset(const SMShapes *shapes, SMGrid grid, int64_t target, double *delta);

/* ---- files and ownership ---- */

/* Write shapes to path (HDF5, rank 0 writes "<path>.partial" and renames it when complete). Collective. */
PetscErrorCode sm_shape_write(MPI_Comm comm, const char *path, const SMShapes *shapes);
/* Read shapes written by sm_shape_write (rank 0 reads, every rank receives). Collective. */
PetscErrorCode sm_shape_read(MPI_Comm comm, const char *path, SMShapes *shapes);
/* Is path a sub-particle file (an HDF5 file whose root attribute format names the sub-particle format)? PETSC_FALSE
   for any other file, a file that is not HDF5 or one that cannot be read (rank 0 looks, every rank gets the answer).
   Collective. */
PetscErrorCode sm_shape_file_probe(MPI_Comm comm, const char *path, PetscBool *is_shapes);
/* Allocate the arrays of shapes for n sub-particles of degree L (zeroed; other fields untouched). Not collective. */
PetscErrorCode sm_shapes_alloc(SMShapes *shapes, int L, int64_t n);
/* Free the arrays; accepts a zeroed struct. Not collective. */
PetscErrorCode sm_shapes_free(SMShapes *shapes);

#endif
