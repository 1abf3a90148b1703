/* Image input (SPEC 4, 8): a segmented or greyscale 3D image -> a distributed labelled volume.
 *
 * Formats: HDF5 (a 3D integer or floating-point dataset [z][y][x] of any width), raw binary (a header of a given
 * length, then nx*ny*nz samples in x-fastest order, uint8/uint16/int16/float32 of either byte order) and multi-page
 * TIFF (one page per z plane, 8/16-bit integer or 32-bit float greyscale, strips or tiles, any compression libtiff
 * decodes). Every rank reads only the planes of its own z slab; with a crop, the grid is the cropped box and its slabs
 * decide which planes of the original image each rank reads.
 *
 * Segmentation: none (integer values 0..7 are the labels), a phase map (-phase_labels: input values v0, v1, ... become
 * phases 0, 1, ...), a fixed threshold, or Otsu's threshold on a global histogram (the same at any rank count).
 * Two-phase results follow the twins' convention: label 1 "solid" = {value >= threshold}, label 0 "pore" the rest.
 *
 * Sub-particles: an HDF5 file written by `stochmorph shape` (the spherical-harmonic representation of a phase, SPEC 7)
 * is rasterised on reading (sm_shape_rasterize) onto its source grid refined K times (K n voxels per axis of size h / K,
 * -raster_refine K) with s^3 sub-samples per voxel (-raster_subsamples s); -crop then selects voxels of the source grid,
 * so the same -crop is the same region at every K. The result has phases pore/solid (solid = inside the union) and is
 * not periodic, exactly the volume `stochmorph rasterize` writes for that grid.
 *
 * The volume is non-periodic, except an uncropped HDF5 volume whose `periodic` attribute says it is a twin. Its
 * provenance records source_file, source_format, segment_method, segment_threshold (when a threshold was used) and
 * crop, after the string attributes an HDF5 source carries. */
#ifndef STOCHMORPH_IMAGE_H
#define STOCHMORPH_IMAGE_H

#include <stochmorph/volume.h>

typedef enum { SM_IMAGE_FORMAT_AUTO, SM_IMAGE_FORMAT_HDF5, SM_IMAGE_FORMAT_RAW, SM_IMAGE_FORMAT_TIFF } SMImageFormat;
typedef enum { SM_IMAGE_RAW_UINT8, SM_IMAGE_RAW_UINT16, SM_IMAGE_RAW_INT16, SM_IMAGE_RAW_FLOAT32 } SMImageRawType;
/* DEFAULT: a phase map if phase_labels are given, otherwise Otsu for floating-point data and NONE for integer data. */
typedef enum {
  SM_IMAGE_SEGMENT_DEFAULT,
  SM_IMAGE_SEGMENT_NONE,
  SM_IMAGE_SEGMENT_OTSU,
  SM_IMAGE_SEGMENT_THRESHOLD
} SMImageSegment;

/* Number of histogram bins of Otsu's method for floating-point data (and integers spanning more than 65536 values);
   integer data spanning at most 65536 values get one bin per value. */
#define SM_IMAGE_OTSU_BINS 4096

/* Everything that says how to read an image; sm_image_options_default() fills the defaults. */
typedef struct {
  SMImageFormat  format;                      /* AUTO: from the extension */
  char           dataset[PETSC_MAX_PATH_LEN]; /* HDF5 dataset, default "/labels" */
  int64_t        raw_size[3];                 /* raw: nx, ny, nz (required) */
  SMImageRawType raw_type;                    /* raw: sample type, default uint8 */
  PetscBool      raw_big_endian;              /* raw: byte order of 16/32-bit samples */
  int64_t        raw_header_bytes;            /* raw: bytes before the first sample */
  PetscReal      voxel_size[3];               /* um; > 0 overrides the file, 0 = from the file */
  SMImageSegment segment;
  double         segment_threshold; /* THRESHOLD: solid = {value >= threshold} */
  int            nphase_labels;     /* > 0: input value phase_labels[i] -> phase i */
  double         phase_labels[SM_MAX_PHASES];
  int            nphase_names; /* > 0: names of the phases, in label order */
  char           phase_names[SM_MAX_PHASES][SM_NAME_LEN];
  PetscBool      crop_set;
  int64_t        crop_lo[3], crop_hi[3]; /* x, y, z: voxels [lo, hi) of the image (of the source grid for shapes) */
  int            raster_refine;          /* sub-particle files: K >= 1, voxels of h / K; 0: not given (1) */
  int            raster_subsamples;      /* sub-particle files: s = 1..8 sub-samples per axis; 0: not given (4) */
} SMImageOptions;

/* Defaults of a sub-particle file's rasterisation on reading. */
#define SM_IMAGE_RASTER_REFINE_DEFAULT 1
#define SM_IMAGE_RASTER_SUBSAMPLES_DEFAULT 4

/* Fill o with the defaults (auto format, /labels, uint8 little-endian raw without header, voxel size from the file,
   default segmentation, no crop). Not collective. */
PetscErrorCode sm_image_options_default(SMImageOptions *o);

/* Read -image_format, -image_dataset, -raw_size, -raw_type, -raw_endian, -raw_header_bytes, -voxel_size, -segment,
   -segment_threshold, -phase_labels, -phase_names, -crop, -raster_refine and -raster_subsamples into o (which holds the defaults or earlier settings);
   -help documents them. Collective. */
PetscErrorCode sm_image_options_set_from_options(MPI_Comm comm, SMImageOptions *o);

/* The reader settings of o as one line ("format=hdf5 dataset=/labels voxel_size=... crop=..."), every setting that
   changes what is read, for the identity of a study of an image. Not collective. */
PetscErrorCode sm_image_options_get_text(const SMImageOptions *o, char *buf, size_t len);

/* Read the image at path into a new volume, as o says.
   [in] comm, path, o   [out] vol: the volume, on a grid created here that the volume does not own: destroy the
   volume, then its grid (sm_volume_get_grid). Every input error is reported (identically
   on every rank) before any large allocation, naming the file and what to do. Peak memory per voxel of the cropped
   box: 1 byte (labels) + 4 bytes (a float copy, only when a threshold is applied) or + 1 byte (when the phase count
   is known only after reading), plus a batch buffer of at most 8 MiB; a sub-particle file needs
   sm_shape_rasterize_bytes_per_voxel(s) of the refined box instead, checked before the grid is made. Collective. */
PetscErrorCode sm_image_read(MPI_Comm comm, const char *path, const SMImageOptions *o, SMVolume *vol);

/* sm_image_options_default, sm_image_options_set_from_options, then sm_image_read. Collective. */
PetscErrorCode sm_image_read_from_options(MPI_Comm comm, const char *path, SMVolume *vol);

/* Otsu's threshold (Otsu 1979) on a histogram of nbins bins whose values are equally spaced: the bin k in 1..nbins-1
   maximising the between-class variance w0 w1 (mu0 - mu1)^2 of the split {bins < k} / {bins >= k}, the first such k
   on ties; k = -1 when no split leaves both classes non-empty. Not collective. */
PetscErrorCode sm_image_otsu_bin(const int64_t hist[], int nbins, int *k);

#endif
