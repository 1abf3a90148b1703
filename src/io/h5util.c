/* The HDF5 utility layer (include/stochmorph/h5util.h). */
#include <stochmorph/h5util.h>
#include <stochmorph/version.h>
#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

herr_t sm_h5_attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *buf)
{
  hid_t  space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR), attr;
  herr_t e     = -1;
  if (space < 0) return -1;
  attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr >= 0) {
    e = H5Awrite(attr, mtype, buf);
    if (H5Aclose(attr) < 0) e = -1;
  }
  (void)H5Sclose(space);
  return e;
}

herr_t sm_h5_attr_write_strings(hid_t loc, const char *name, int n, const char *const s[], int scalar)
{
  size_t len = 1;
  char  *buf;
  hid_t  type;
  herr_t e = -1;
  if (n < 1) return -1;
  for (int i = 0; i < n; i++) len = len > strlen(s[i]) + 1 ? len : strlen(s[i]) + 1;
  buf = (char *)calloc(len * (size_t)n, 1);
  if (!buf) return -1;
  for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * len, s[i], strlen(s[i]));
  type = H5Tcopy(H5T_C_S1);
  if (type >= 0 && H5Tset_size(type, len) >= 0 && H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0 &&
      H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
    e = sm_h5_attr_write(loc, name, type, type, scalar ? 0 : (hsize_t)n, buf);
  if (type >= 0) (void)H5Tclose(type);
  free(buf);
  return e;
}

herr_t sm_h5_attr_write_string(hid_t loc, const char *name, const char *value)
{
  return sm_h5_attr_write_strings(loc, name, 1, &value, 1);
}

herr_t sm_h5_attr_write_build(hid_t loc)
{
  int                nb;
  const char *const *bk, *const *bv;
  if (sm_version_get(&nb, &bk, &bv)) return -1;
  for (int i = 0; i < nb; i++) {
    char name[64];
    snprintf(name, sizeof(name), "build.%s", bk[i]);
    if (sm_h5_attr_write_string(loc, name, bv[i]) < 0) return -1;
  }
  return 0;
}

htri_t sm_h5_attr_exists(hid_t loc, const char *name)
{
  return H5Aexists(loc, name);
}

/* Class, number of points and element size of attribute name of loc (H5LT); < 0 if absent. */
static herr_t sm_h5_attr_info(hid_t loc, const char *name, H5T_class_t *cls, hssize_t *npts, size_t *size)
{
  int     rank;
  hsize_t dims[H5S_MAX_RANK];
  if (sm_h5_attr_exists(loc, name) <= 0) return -1;
  if (H5LTget_attribute_ndims(loc, ".", name, &rank) < 0 || rank < 0 || rank > H5S_MAX_RANK) return -1;
  if (H5LTget_attribute_info(loc, ".", name, dims, cls, size) < 0) return -1;
  *npts = 1;
  for (int d = 0; d < rank; d++) *npts *= (hssize_t)dims[d];
  return 0;
}

herr_t sm_h5_attr_read(hid_t loc, const char *name, hid_t mtype, hssize_t n, void *buf)
{
  H5T_class_t cls;
  hssize_t    npts;
  size_t      size;
  if (sm_h5_attr_info(loc, name, &cls, &npts, &size) < 0) return -1;
  if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || npts != n) return -1;
  return H5LTget_attribute(loc, ".", name, mtype, buf);
}

herr_t sm_h5_attr_read_strings(hid_t loc, const char *name, int max, int *n, char *out[])
{
  hid_t       attr = -1, ftype = -1, mtype = -1, space = -1;
  H5T_class_t cls;
  hssize_t    npts;
  size_t      size;
  herr_t      e = -1;

  *n = 0;
  if (sm_h5_attr_info(loc, name, &cls, &npts, &size) < 0 || cls != H5T_STRING || npts < 1 || npts > max) return -1;
  attr  = H5Aopen(loc, name, H5P_DEFAULT);
  ftype = attr >= 0 ? H5Aget_type(attr) : -1;
  space = attr >= 0 ? H5Aget_space(attr) : -1;
  mtype = H5Tcopy(H5T_C_S1);
  if (ftype < 0 || space < 0 || mtype < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) goto done;
  if (H5Tis_variable_str(ftype) > 0) {
    char **var = (char **)calloc((size_t)npts, sizeof(char *));
    if (var && H5Tset_size(mtype, H5T_VARIABLE) >= 0 && H5Aread(attr, mtype, var) >= 0) {
      e = 0;
      for (hssize_t i = 0; i < npts; i++) {
        out[i] = strdup(var[i] ? var[i] : "");
        if (!out[i]) e = -1;
      }
#if H5_VERSION_GE(1, 12, 0)
      (void)H5Treclaim(mtype, space, H5P_DEFAULT, var);
#else
      (void)H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, var);
#endif
    }
    free(var);
  } else {
    size_t len   = H5Tget_size(ftype) + 1; /* room for a terminator that NULLPAD/SPACEPAD strings lack */
    char  *fixed = len > 1 && len < (1u << 24) ? (char *)calloc(len * (size_t)npts, 1) : NULL;
    if (fixed && H5Tset_size(mtype, len) >= 0 && H5Tset_strpad(mtype, H5T_STR_NULLTERM) >= 0 &&
        H5Aread(attr, mtype, fixed) >= 0) {
      e = 0;
      for (hssize_t i = 0; i < npts; i++) {
        out[i] = strdup(fixed + (size_t)i * len);
        if (!out[i]) e = -1;
      }
    }
    free(fixed);
  }
  if (!e) *n = (int)npts;
  else
    for (hssize_t i = 0; i < npts; i++) free(out[i]), out[i] = NULL;
done:
  if (mtype >= 0) (void)H5Tclose(mtype);
  if (space >= 0) (void)H5Sclose(space);
  if (ftype >= 0) (void)H5Tclose(ftype);
  if (attr >= 0) (void)H5Aclose(attr);
  return e;
}

herr_t sm_h5_attr_read_strings_into(hid_t loc, const char *name, int max, size_t len, char *out, int *n)
{
  char **v;
  herr_t e;
  if (max < 1) return -1;
  v = (char **)calloc((size_t)max, sizeof(char *));
  if (!v) return -1;
  e = sm_h5_attr_read_strings(loc, name, max, n, v);
  for (int i = 0; i < max; i++) {
    if (!e && i < *n) snprintf(out + (size_t)i * len, len, "%s", v[i]);
    free(v[i]);
  }
  free(v);
  return e;
}

herr_t sm_h5_dataset_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t dims[],
                           const void *buf)
{
  hid_t   space, dset;
  herr_t  e     = -1;
  hsize_t total = 1;
  for (int d = 0; d < rank; d++) total *= dims[d];
  space = H5Screate_simple(rank, dims, NULL);
  if (space < 0) return -1;
  dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (dset >= 0) {
    e = total ? H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    if (H5Dclose(dset) < 0) e = -1;
  }
  (void)H5Sclose(space);
  return e;
}

herr_t sm_h5_dataset_shape(hid_t loc, const char *name, int *rank, hsize_t dims[], size_t *type_size)
{
  H5T_class_t cls;
  if (H5LTpath_valid(loc, name, 1) <= 0) return -1;
  if (H5LTget_dataset_ndims(loc, name, rank) < 0 || *rank < 0 || *rank > 8) return -1;
  return H5LTget_dataset_info(loc, name, dims, &cls, type_size);
}

herr_t sm_h5_dataset_read(hid_t loc, const char *name, hid_t mtype, int rank, const hsize_t dims[], void *buf)
{
  int     r;
  hsize_t d[8];
  size_t  size;
  hsize_t total = 1;
  if (sm_h5_dataset_shape(loc, name, &r, d, &size) < 0 || r != rank) return -1;
  for (int i = 0; i < rank; i++) {
    if (d[i] != dims[i]) return -1;
    total *= d[i];
  }
  return total ? H5LTread_dataset(loc, name, mtype, buf) : 0;
}
