/* XDMF sidecars: the small XML file that lets ParaView (and VisIt) open an HDF5 volume as voxels. The labels and
 * fields are cell-centred on a 3DCoRectMesh whose node counts are the voxel counts plus one, so every voxel is drawn
 * as one cell with its physical size. */
#include "io_impl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Names end up in XML attribute values and text: escape the five XML specials. */
static void sm_xdmf_put_escaped(FILE *f, const char *s)
{
  for (; *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void sm_xdmf_put_attribute(FILE *f, const char *name, const int64_t n[3], const char *number_type, int precision,
                                  const char *h5_name, const char *dataset)
{
  fputs("      <Attribute Name=\"", f);
  sm_xdmf_put_escaped(f, name);
  fprintf(f, "\" AttributeType=\"Scalar\" Center=\"Cell\">\n");
  fprintf(f, "        <DataItem Dimensions=\"%lld %lld %lld\" NumberType=\"%s\" Precision=\"%d\" Format=\"HDF\">",
          (long long)n[2], (long long)n[1], (long long)n[0], number_type, precision);
  sm_xdmf_put_escaped(f, h5_name);
  fputc(':', f);
  sm_xdmf_put_escaped(f, dataset);
  fputs("</DataItem>\n      </Attribute>\n", f);
}

/* Returns 0 or an errno value. Written to a temporary name and renamed so a sidecar is never half written. */
static int sm_xdmf_write_file(const char *xmf_path, const char *h5_name, const int64_t n[3], const PetscReal h[3],
                              PetscBool has_labels, int nfields, const char *const fields[])
{
  char  tmp[PETSC_MAX_PATH_LEN + 16];
  FILE *f;
  int   err = 0;

  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial", xmf_path) >= sizeof(tmp)) return ENAMETOOLONG;
  f = fopen(tmp, "w");
  if (!f) return errno;
  fprintf(f, "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n");
  fprintf(f, "<Xdmf Version=\"3.0\" xmlns:xi=\"http://www.w3.org/2001/XInclude\">\n  <Domain>\n");
  fprintf(f, "    <Grid Name=\"volume\" GridType=\"Uniform\">\n");
  /* XDMF orders structured dimensions slowest first (z y x), matching the HDF5 [z][y][x] layout. */
  fprintf(f, "      <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"%lld %lld %lld\"/>\n", (long long)n[2] + 1,
          (long long)n[1] + 1, (long long)n[0] + 1);
  fprintf(f, "      <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n");
  fprintf(f,
          "        <DataItem Name=\"Origin\" Dimensions=\"3\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">"
          "0 0 0</DataItem>\n");
  fprintf(f,
          "        <DataItem Name=\"Spacing\" Dimensions=\"3\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">"
          "%.17g %.17g %.17g</DataItem>\n",
          (double)h[2], (double)h[1], (double)h[0]);
  fprintf(f, "      </Geometry>\n");
  if (has_labels) sm_xdmf_put_attribute(f, "labels", n, "UChar", 1, h5_name, "/labels");
  for (int i = 0; i < nfields; i++) {
    char dataset[PETSC_MAX_PATH_LEN];
    snprintf(dataset, sizeof(dataset), "/fields/%s", fields[i]);
    sm_xdmf_put_attribute(f, fields[i], n, "Float", 8, h5_name, dataset);
  }
  fprintf(f, "    </Grid>\n  </Domain>\n</Xdmf>\n");
  if (ferror(f)) err = errno ? errno : EIO;
  if (fclose(f) && !err) err = errno ? errno : EIO;
  if (!err) err = sm_sys_commit(tmp, xmf_path);
  if (err) remove(tmp);
  return err;
}

PetscErrorCode sm_io_xdmf_write(MPI_Comm comm, const char *xmf_path, const char *h5_name, const int64_t n[3],
                                const PetscReal h[3], PetscBool has_labels, int nfields, const char *const fields[])
{
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) err = sm_xdmf_write_file(xmf_path, h5_name, n, h, has_labels, nfields, fields);
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE,
             "Cannot write the XDMF sidecar '%s': %s (the HDF5 file itself is complete)", xmf_path, strerror(err));
  PetscFunctionReturn(PETSC_SUCCESS);
}
