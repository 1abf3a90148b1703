/* HDF5 volumes at 1, 2 and 3 ranks: a volume whose labels are a formula of the global voxel index, and a field with
 * FFT-padded rows, are written collectively, read back and compared voxel by voxel; h5py (an independent reader)
 * checks the layout, types and attributes, and the XDMF sidecar is parsed as XML. Error paths: unwritable path, wrong
 * extension, abandoned writer, missing file and dataset, incomplete file, out-of-range and non-3D foreign data. */
#include <stochmorph/image.h>
#include <stochmorph/io.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "smtest.h"
#include "smtest_volume.h"

#define PY "/usr/bin/python3"

static uint8_t label_of(int64_t x, int64_t y, int64_t z) { return (uint8_t)((x + 3 * y + 7 * z) % 3); }
static int     label_voxel(int64_t x, int64_t y, int64_t z, void *ctx)
{
  (void)ctx;
  return label_of(x, y, z);
}
static double  field_of(int64_t x, int64_t y, int64_t z)
{
  return (double)x + 100.0 * (double)y + 1.0e4 * (double)z + 0.25;
}

static PetscBool file_exists(const char *p) { return access(p, F_OK) == 0 ? PETSC_TRUE : PETSC_FALSE; }

/* Rank 0 runs a shell command; every rank gets its exit status. */
static int run_on_rank0(MPI_Comm comm, const char *cmd)
{
  int rank, rc = 0;
  if (MPI_Comm_rank(comm, &rank)) return -1;
  if (!rank) rc = system(cmd);
  if (MPI_Bcast(&rc, 1, MPI_INT, 0, comm)) return -1;
  return rc;
}

/* A file another tool might have written (serial HDF5 on rank 0): dataset name of the given type, rank and shape,
   filled with values[i % nvalues]; optionally the root attribute format (a stochmorph file that was never finished). */
static PetscErrorCode write_foreign(MPI_Comm comm, const char *path, const char *name, hid_t type, int rank_,
                                    const hsize_t *dims, const int *values, int nvalues, PetscBool format_attr)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    hid_t   f, s, d;
    hsize_t total = 1;
    int    *buf;
    for (int i = 0; i < rank_; i++) total *= dims[i];
    PetscCall(PetscMalloc1(total, &buf));
    for (hsize_t i = 0; i < total; i++) buf[i] = values[i % (hsize_t)nvalues];
    SM_CALL_HDF5(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    SM_CALL_HDF5(s = H5Screate_simple(rank_, dims, NULL));
    SM_CALL_HDF5(d = H5Dcreate2(f, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    SM_CALL_HDF5(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    if (format_attr) {
      hid_t as, at, a;
      SM_CALL_HDF5(as = H5Screate(H5S_SCALAR));
      SM_CALL_HDF5(at = H5Tcopy(H5T_C_S1));
      SM_CALL_HDF5(H5Tset_size(at, 20));
      SM_CALL_HDF5(a = H5Acreate2(f, "format", at, as, H5P_DEFAULT, H5P_DEFAULT));
      SM_CALL_HDF5(H5Awrite(a, at, "stochmorph-volume-1"));
      SM_CALL_HDF5(H5Aclose(a));
      SM_CALL_HDF5(H5Tclose(at));
      SM_CALL_HDF5(H5Sclose(as));
    } else {
      /* variable-length string attributes, as h5py writes them */
      const char *names[3] = {"pore", "solid", "binder"}, *src[1] = {"CT scan 42"};
      hsize_t     three = 3;
      hid_t       vs, as, at, a;
      SM_CALL_HDF5(at = H5Tcopy(H5T_C_S1));
      SM_CALL_HDF5(H5Tset_size(at, H5T_VARIABLE));
      SM_CALL_HDF5(vs = H5Screate_simple(1, &three, NULL));
      SM_CALL_HDF5(a = H5Acreate2(d, "phase_names", at, vs, H5P_DEFAULT, H5P_DEFAULT));
      SM_CALL_HDF5(H5Awrite(a, at, names));
      SM_CALL_HDF5(H5Aclose(a));
      SM_CALL_HDF5(as = H5Screate(H5S_SCALAR));
      SM_CALL_HDF5(a = H5Acreate2(d, "source", at, as, H5P_DEFAULT, H5P_DEFAULT));
      SM_CALL_HDF5(H5Awrite(a, at, src));
      SM_CALL_HDF5(H5Aclose(a));
      SM_CALL_HDF5(H5Sclose(as));
      SM_CALL_HDF5(H5Sclose(vs));
      SM_CALL_HDF5(H5Tclose(at));
    }
    SM_CALL_HDF5(H5Dclose(d));
    SM_CALL_HDF5(H5Sclose(s));
    SM_CALL_HDF5(H5Fclose(f));
    PetscCall(PetscFree(buf));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read a volume through the one reader (HDF5 format; dataset NULL = /labels; h > 0 sets the voxel size). */
static PetscErrorCode read_volume(MPI_Comm comm, const char *path, const char *dataset, PetscReal h, SMVolume *vol)
{
  SMImageOptions o;

  PetscFunctionBeginUser;
  PetscCall(sm_image_options_default(&o));
  o.format = SM_IMAGE_FORMAT_HDF5;
  if (dataset) PetscCall(PetscStrncpy(o.dataset, dataset, sizeof(o.dataset)));
  if (h > 0)
    for (int d = 0; d < 3; d++) o.voxel_size[d] = h;
  PetscCall(sm_image_read(comm, path, &o, vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read expecting failure; returns whether it failed and destroys anything returned by mistake. */
static PetscBool read_fails(MPI_Comm comm, const char *path, const char *dataset, PetscReal h_default)
{
  SMVolume       vol = NULL;
  PetscErrorCode ierr;

  PetscCallAbort(comm, PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = read_volume(comm, path, dataset, h_default, &vol);
  PetscCallAbort(comm, PetscPopErrorHandler());
  PetscCallAbort(comm, sm_test_volume_destroy(&vol));
  return ierr ? PETSC_TRUE : PETSC_FALSE;
}

/* The scratch directory of the files, in the working directory. */
static char dir[PETSC_MAX_PATH_LEN];

static PetscErrorCode make_dir(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  PetscCall(sm_test_scratch_dir(comm, "h5test", dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_roundtrip(MPI_Comm comm)
{
  const int64_t      n[3]     = {10, 7, 9};
  const PetscReal    h[3]     = {0.01, 0.012, 0.02};
  const char *const  names[3] = {"pore", "active", "carbon"};
  const int64_t      stride   = 2 * (n[0] / 2 + 1); /* an r2c FFT's padded row */
  SMGrid             grid, rgrid;
  SMGridInfo         g, rg;
  SMVolume           vol, rvol;
  SMH5Writer         w;
  uint8_t           *rlab;
  double            *field;
  char               path[PETSC_MAX_PATH_LEN], xmf[PETSC_MAX_PATH_LEN], cmd[4 * PETSC_MAX_PATH_LEN];
  int                np, bad = 0;
  const char *const *rnames;
  const char        *value;
  PetscBool          found, periodic;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/vol.h5", dir));
  PetscCall(PetscSNPrintf(xmf, sizeof(xmf), "%s/vol.xmf", dir));
  PetscCall(sm_test_volume_from_function(comm, n, h, 3, names, label_voxel, NULL, &vol));
  PetscCall(sm_volume_get_grid(vol, &grid));
  PetscCall(sm_grid_get_info(grid, &g));
  PetscCall(PetscMalloc1((size_t)(g.z_local * n[1] * stride), &field));
  for (int64_t k = 0; k < g.z_local; k++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < stride; x++) {
        int64_t z = g.z_start + k;
        /* NaN in the padding: if it ever reached the file the h5py check below would see it */
        field[(k * n[1] + y) * stride + x] = x < n[0] ? field_of(x, y, z) : NAN;
      }
  PetscCall(sm_volume_set_periodic(vol, PETSC_TRUE));
  PetscCall(sm_volume_set_attr(vol, "model", "pluri"));
  PetscCall(sm_volume_set_attr(vol, "seed", "12345678901234567890"));
  PetscCall(sm_volume_set_attr(vol, "realization", "3"));

  PetscCall(sm_h5_writer_open(comm, path, &w));
  PetscCall(sm_h5_writer_write_field(w, grid, "X1", field, stride));
  PetscCall(sm_h5_writer_write_volume(w, vol));
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  SM_TEST_TRUE(w == NULL, "close must null the writer");
  SM_TEST_TRUE(file_exists(path) && file_exists(xmf), "%s and %s must exist after a complete close", path, xmf);
  {
    char partial[PETSC_MAX_PATH_LEN];
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", path));
    SM_TEST_TRUE(!file_exists(partial), "%s must be gone after a complete close", partial);
  }

  /* read back in parallel and compare every voxel with the formula */
  PetscCall(read_volume(comm, path, NULL, 0, &rvol));
  PetscCall(sm_volume_get_grid(rvol, &rgrid));
  PetscCall(sm_grid_get_info(rgrid, &rg));
  for (int d = 0; d < 3; d++) {
    SM_TEST_TRUE(rg.n[d] == n[d], "grid size %c: %lld vs %lld", "xyz"[d], (long long)rg.n[d], (long long)n[d]);
    SM_TEST_CLOSE(rg.h[d], h[d], 0.0, "voxel size read back (float64 round trip is exact)");
  }
  PetscCall(sm_volume_get_labels(rvol, &rlab));
  for (int64_t k = 0; k < rg.z_local; k++)
    for (int64_t y = 0; y < n[1]; y++)
      for (int64_t x = 0; x < n[0]; x++) bad += rlab[(k * n[1] + y) * n[0] + x] != label_of(x, y, rg.z_start + k);
  SM_TEST_TRUE(bad == 0, "%d voxels differ from the formula after the round trip", bad);
  PetscCall(sm_volume_get_phases(rvol, &np, &rnames));
  SM_TEST_TRUE(np == 3, "3 phases expected, got %d", np);
  for (int i = 0; i < 3 && i < np; i++)
    SM_TEST_TRUE(!strcmp(rnames[i], names[i]), "phase %d: %s vs %s", i, rnames[i], names[i]);
  PetscCall(sm_volume_get_periodic(rvol, &periodic));
  SM_TEST_TRUE(periodic, "periodic flag lost");
  PetscCall(sm_volume_get_attr(rvol, "seed", &value, &found));
  SM_TEST_TRUE(found && !strcmp(value, "12345678901234567890"), "seed provenance: %s", found ? value : "(missing)");
  PetscCall(sm_volume_get_attr(rvol, "model", &value, &found));
  SM_TEST_TRUE(found && !strcmp(value, "pluri"), "model provenance: %s", found ? value : "(missing)");
  PetscCall(sm_volume_get_attr(rvol, "voxel_size_units", &value, &found));
  SM_TEST_TRUE(!found, "reserved attributes must not become provenance");
  PetscCall(sm_test_volume_destroy(&rvol));

  /* An independent reader: h5py sees the declared layout, and the formula holds in C order [z][y][x]. */
  if (run_on_rank0(comm, PY " -c 'import h5py, numpy' 2>/dev/null") == 0) {
    PetscCall(
      PetscSNPrintf(cmd, sizeof(cmd),
                    PY " - '%s' <<'EOF'\n"
                       "import sys, h5py, numpy as np\n"
                       "f = h5py.File(sys.argv[1], 'r')\n"
                       "d = f['labels']\n"
                       "assert d.dtype == np.uint8, d.dtype\n"
                       "assert d.shape == (9, 7, 10), d.shape\n"
                       "z, y, x = np.meshgrid(np.arange(9), np.arange(7), np.arange(10), indexing='ij')\n"
                       "assert (d[...] == (x + 3 * y + 7 * z) %% 3).all()\n"
                       "assert np.array_equal(d.attrs['voxel_size'], [0.01, 0.012, 0.02])\n"
                       "assert list(d.attrs['grid_size']) == [10, 7, 9]\n"
                       "assert [s.decode() for s in d.attrs['phase_names']] == ['pore', 'active', 'carbon']\n"
                       "assert int(d.attrs['periodic']) == 1\n"
                       "assert d.attrs['model'].decode() == 'pluri' and d.attrs['realization'].decode() == '3'\n"
                       "assert int(f.attrs['complete']) == 1 and f.attrs['format'].decode() == 'stochmorph-volume-1'\n"
                       "X = f['fields/X1']\n"
                       "assert X.dtype == np.float64 and X.shape == (9, 7, 10)\n"
                       "assert np.array_equal(X[...], x + 100.0 * y + 1.0e4 * z + 0.25)\n"
                       "EOF",
                    path));
    SM_TEST_TRUE(run_on_rank0(comm, cmd) == 0, "h5py check of %s failed", path);
    PetscCall(PetscSNPrintf(cmd, sizeof(cmd),
                            PY
                            " - '%s' '%s' <<'EOF'\n"
                            "import sys, os, h5py, xml.etree.ElementTree as E\n"
                            "r = E.parse(sys.argv[1]).getroot()\n"
                            "assert r.tag == 'Xdmf'\n"
                            "t = r.find('.//Topology')\n"
                            "assert t.get('TopologyType') == '3DCoRectMesh' and t.get('Dimensions').split() == ['10', "
                            "'8', '11']\n"
                            "sp = [i for i in r.iter('DataItem') if i.get('Name') == 'Spacing'][0]\n"
                            "assert [float(v) for v in sp.text.split()] == [0.02, 0.012, 0.01]\n"
                            "a = {e.get('Name'): e.find('DataItem') for e in r.iter('Attribute')}\n"
                            "assert set(a) == {'labels', 'X1'}, a\n"
                            "assert a['labels'].text == 'vol.h5:/labels' and a['labels'].get('NumberType') == 'UChar'\n"
                            "assert a['X1'].text == 'vol.h5:/fields/X1' and a['X1'].get('Precision') == '8'\n"
                            "assert all(e.get('Center') == 'Cell' for e in r.iter('Attribute'))\n"
                            "f = h5py.File(os.path.join(os.path.dirname(sys.argv[1]), 'vol.h5'), 'r')\n"
                            "assert all(i.text.split(':')[1] in f for i in a.values())\n"
                            "EOF",
                            xmf, path));
    SM_TEST_TRUE(run_on_rank0(comm, cmd) == 0, "XDMF check of %s failed", xmf);
  } else {
    PetscCall(PetscPrintf(comm, "note: " PY " has no h5py/numpy; skipped the independent checks\n"));
  }

  /* abandoned writer: neither the partial nor the final file remains */
  {
    char p2[PETSC_MAX_PATH_LEN], partial[PETSC_MAX_PATH_LEN + 16], x2[PETSC_MAX_PATH_LEN];
    PetscCall(PetscSNPrintf(p2, sizeof(p2), "%s/abandoned.h5", dir));
    PetscCall(PetscSNPrintf(partial, sizeof(partial), "%s.partial", p2));
    PetscCall(PetscSNPrintf(x2, sizeof(x2), "%s/abandoned.xmf", dir));
    PetscCall(sm_h5_writer_open(comm, p2, &w));
    SM_TEST_TRUE(file_exists(partial), "open must create %s at once", partial);
    PetscCall(sm_h5_writer_write_volume(w, vol));
    PetscCall(sm_h5_writer_close(&w, PETSC_FALSE));
    PetscCallMPI(MPI_Barrier(comm));
    SM_TEST_TRUE(!file_exists(partial) && !file_exists(p2) && !file_exists(x2), "abandoned writer left a file behind");
    PetscCall(sm_h5_writer_close(NULL, PETSC_TRUE));
    PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  }

  /* a second complete write over the same path replaces the file */
  PetscCall(sm_h5_writer_open(comm, path, &w));
  PetscCall(sm_h5_writer_write_volume(w, vol));
  PetscCall(sm_h5_writer_close(&w, PETSC_TRUE));
  SM_TEST_TRUE(!read_fails(comm, path, NULL, 0), "overwritten file must read");
  SM_TEST_TRUE(read_fails(comm, path, "/fields/X1", 0), "the rewritten file has no field any more");

  PetscCall(PetscFree(field));
  PetscCall(sm_test_volume_destroy(&vol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode test_errors(MPI_Comm comm)
{
  SMH5Writer     w = NULL;
  PetscErrorCode ierr;
  char           path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = sm_h5_writer_open(comm, "/nonexistent_dir/x.h5", &w);
  SM_TEST_TRUE(ierr == PETSC_ERR_FILE_OPEN && !w, "unwritable path: error %d", (int)ierr);
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/x.txt", dir));
  ierr = sm_h5_writer_open(comm, path, &w);
  SM_TEST_TRUE(ierr == PETSC_ERR_ARG_WRONG && !w && !file_exists(path), "wrong extension: error %d", (int)ierr);
  PetscCall(PetscPopErrorHandler());

  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/vol.h5", dir));
  SM_TEST_TRUE(read_fails(comm, path, "/no_such", 0), "missing dataset must fail");
  SM_TEST_TRUE(read_fails(comm, path, "/no/such/group", 0), "missing group must fail");
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/missing.h5", dir));
  SM_TEST_TRUE(read_fails(comm, path, NULL, 0), "missing file must fail");
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/not_hdf5.h5", dir));
  {
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (!rank) {
      FILE *f = fopen(path, "w");
      if (f) {
        fputs("plain text\n", f);
        fclose(f);
      }
    }
    PetscCallMPI(MPI_Barrier(comm));
  }
  SM_TEST_TRUE(read_fails(comm, path, NULL, 0), "a text file must fail");

  /* foreign files: int16 labels with vlen phase names, no voxel size */
  {
    const hsize_t      dims3[3] = {6, 4, 5}, dims2[2] = {4, 5};
    const int          ok[3] = {0, 2, 1}, big[2] = {0, 300}, neg[2] = {1, -1};
    SMVolume           vol;
    SMGrid             grid;
    SMGridInfo         g;
    uint8_t           *lab;
    int                np, bad = 0;
    const char *const *names, *value;
    PetscBool          found;

    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/foreign.h5", dir));
    PetscCall(write_foreign(comm, path, "seg", H5T_STD_I16BE, 3, dims3, ok, 3, PETSC_FALSE));
    SM_TEST_TRUE(read_fails(comm, path, "seg", 0), "no voxel_size and no default must fail");
    PetscCall(read_volume(comm, path, "seg", 0.5, &vol));
    PetscCall(sm_volume_get_grid(vol, &grid));
    PetscCall(sm_grid_get_info(grid, &g));
    SM_TEST_TRUE(g.n[0] == 5 && g.n[1] == 4 && g.n[2] == 6, "foreign shape %lld %lld %lld", (long long)g.n[0],
                 (long long)g.n[1], (long long)g.n[2]);
    SM_TEST_CLOSE(g.h[1], 0.5, 0.0, "default voxel size");
    PetscCall(sm_volume_get_labels(vol, &lab));
    for (int64_t i = 0; i < g.n_local; i++) bad += lab[i] != ok[(g.z_start * g.n_plane + i) % 3];
    SM_TEST_TRUE(bad == 0, "%d foreign voxels differ", bad);
    PetscCall(sm_volume_get_phases(vol, &np, &names));
    SM_TEST_TRUE(np == 3 && !strcmp(names[2], "binder"), "variable-length phase names");
    PetscCall(sm_volume_get_attr(vol, "source", &value, &found));
    SM_TEST_TRUE(found && !strcmp(value, "CT scan 42"), "variable-length provenance string");
    PetscCall(sm_test_volume_destroy(&vol));

    /* uint32 without names: phases named phase0..phaseK from the global maximum */
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/foreign_u32.h5", dir));
    PetscCall(write_foreign(comm, path, "labels", H5T_STD_U32LE, 3, dims3, ok, 3, PETSC_TRUE));
    SM_TEST_TRUE(read_fails(comm, path, NULL, 1.0), "format without complete must be refused as incomplete");
    {
      int rank;
      MPI_Comm_rank(comm, &rank);
      PetscCall(write_foreign(comm, path, "labels", H5T_STD_U32LE, 3, dims3, ok, 3, PETSC_FALSE));
      if (!rank) { /* drop the string attributes so the names must be made up */
        hid_t f, d;
        SM_CALL_HDF5(f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT));
        SM_CALL_HDF5(d = H5Dopen2(f, "labels", H5P_DEFAULT));
        SM_CALL_HDF5(H5Adelete(d, "phase_names"));
        SM_CALL_HDF5(H5Dclose(d));
        SM_CALL_HDF5(H5Fclose(f));
      }
      PetscCallMPI(MPI_Barrier(comm));
    }
    PetscCall(read_volume(comm, path, NULL, 1.0, &vol));
    PetscCall(sm_volume_get_phases(vol, &np, &names));
    SM_TEST_TRUE(np == 3 && !strcmp(names[0], "phase0") && !strcmp(names[2], "phase2"), "generated phase names");
    PetscCall(sm_test_volume_destroy(&vol));

    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/foreign_big.h5", dir));
    PetscCall(write_foreign(comm, path, "labels", H5T_STD_I32LE, 3, dims3, big, 2, PETSC_FALSE));
    SM_TEST_TRUE(read_fails(comm, path, NULL, 1.0), "label 300 must be refused");
    PetscCall(write_foreign(comm, path, "labels", H5T_STD_I8LE, 3, dims3, neg, 2, PETSC_FALSE));
    SM_TEST_TRUE(read_fails(comm, path, NULL, 1.0), "negative labels must be refused");
    PetscCall(write_foreign(comm, path, "labels", H5T_IEEE_F32LE, 3, dims3, ok, 3, PETSC_FALSE));
    {
      /* float data are a greyscale image for the one reader; with -segment none whole values are labels */
      SMImageOptions io;
      PetscCall(sm_image_options_default(&io));
      io.format  = SM_IMAGE_FORMAT_HDF5;
      io.segment = SM_IMAGE_SEGMENT_NONE;
      for (int d = 0; d < 3; d++) io.voxel_size[d] = 1.0;
      PetscCall(sm_image_read(comm, path, &io, &vol));
      PetscCall(sm_volume_get_grid(vol, &grid));
      PetscCall(sm_grid_get_info(grid, &g));
      PetscCall(sm_volume_get_labels(vol, &lab));
      for (int64_t i = 0; i < g.n_local; i++) bad += lab[i] != ok[(g.z_start * g.n_plane + i) % 3];
      SM_TEST_TRUE(bad == 0, "%d voxels of whole-valued float labels differ", bad);
      PetscCall(sm_test_volume_destroy(&vol));
    }
    PetscCall(write_foreign(comm, path, "labels", H5T_STD_U8LE, 2, dims2, ok, 3, PETSC_FALSE));
    SM_TEST_TRUE(read_fails(comm, path, NULL, 1.0), "a 2D dataset must be refused");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* error paths included, every HDF5 handle the library opened must be closed again */
static PetscErrorCode test_handles(MPI_Comm comm)
{
  ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);

  PetscFunctionBeginUser;
  (void)comm;
  SM_TEST_TRUE(open_ids == 0, "%lld HDF5 handles still open", (long long)open_ids);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode remove_dir(MPI_Comm comm)
{
  PetscFunctionBeginUser;
  PetscCall(sm_test_scratch_dir_remove(comm, dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

SM_TEST_MAIN({"scratch directory", make_dir}, {"round trip", test_roundtrip}, {"errors", test_errors},
             {"open handles", test_handles}, {"clean up", remove_dir})
