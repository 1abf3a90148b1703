/* The HDF5 utility layer shared by every file of stochmorph (volumes, checkpoints, study stores, shapes, images).
 *
 * The primitives follow HDF5's own convention, a negative return on failure, and neither raise PETSc errors nor print:
 * rank 0 calls them alone on its serial files (checkpoints, shapes) and collects failures into one message that it
 * broadcasts, and every rank calls them with the same arguments on a parallel file (collective metadata), wrapped in
 * SM_CALL_HDF5 where a failure is an error. Reads check class, rank and size before they read (the files come from
 * outside: a malformed attribute is refused, never read past a buffer); the size queries use HDF5's high-level API
 * (H5LT). Strings are written fixed-length, NUL-terminated, UTF-8: parallel HDF5 writes them as plain metadata, and
 * h5py, h5dump and ParaView read them; both fixed- and variable-length strings are read. */
#ifndef STOCHMORPH_H5UTIL_H
#define STOCHMORPH_H5UTIL_H

#include <stochmorph/sys.h>
#include <hdf5.h>

/* Attribute name of loc: n = 0 a scalar, otherwise a 1D array of n values of file type ftype from memory type mtype. */
herr_t sm_h5_attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *buf);
/* n strings (scalar != 0: one string as a scalar attribute). */
herr_t sm_h5_attr_write_strings(hid_t loc, const char *name, int n, const char *const s[], int scalar);
herr_t sm_h5_attr_write_string(hid_t loc, const char *name, const char *value);
/* The build block of `stochmorph --version` as string attributes build.<key>. */
herr_t sm_h5_attr_write_build(hid_t loc);

/* 1: attribute name of loc exists; 0: it does not; < 0: failure. */
htri_t sm_h5_attr_exists(hid_t loc, const char *name);
/* Exactly n numbers (integer or float class, any rank) of attribute name, converted to mtype; < 0 if absent or of
   another class or size. */
herr_t sm_h5_attr_read(hid_t loc, const char *name, hid_t mtype, hssize_t n, void *buf);
/* Between 1 and max strings of attribute name (scalar or 1D, fixed or variable length) into out[], each allocated with
   malloc (free() them); *n their count. < 0 if absent or not strings, or of more than max. */
herr_t sm_h5_attr_read_strings(hid_t loc, const char *name, int max, int *n, char *out[]);
/* The same into out[max][len] (each string cut to len - 1 characters). */
herr_t sm_h5_attr_read_strings_into(hid_t loc, const char *name, int max, size_t len, char *out, int *n);

/* Dataset name of loc of the given rank and dims, written whole from memory type mtype. */
herr_t sm_h5_dataset_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t dims[],
                           const void *buf);
/* Rank and dims of dataset name (dims: room for 8); < 0 if absent or of rank > 8. */
herr_t sm_h5_dataset_shape(hid_t loc, const char *name, int *rank, hsize_t dims[], size_t *type_size);
/* Dataset name read whole into buf, if its rank and dims are exactly those given; < 0 otherwise. */
herr_t sm_h5_dataset_read(hid_t loc, const char *name, hid_t mtype, int rank, const hsize_t dims[], void *buf);

#endif
