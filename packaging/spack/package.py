# Spack package for stochmorph. Use it from a site or user repository:
#   spack repo create myrepo && cp -r packaging/spack myrepo/packages/stochmorph   (the file as package.py)
#   spack install stochmorph            # 32-bit PetscInt
#   spack install stochmorph +int64     # 64-bit PetscInt (transport solves past 2^31 unknowns)
import os

from spack.package import *


class Stochmorph(CMakePackage):
    """Stochastic digital twins of battery-electrode microstructures (excursion sets of Gaussian and chi2 random
    fields), their morphological descriptors and effective transport, MPI-parallel with PETSc, FFTW3-MPI and
    parallel HDF5."""

    # Where the sources are cloned from: set STOCHMORPH_GIT to your site's clone of the repository (or use
    # `spack develop --path CHECKOUT stochmorph@main` in a Spack environment to build a local checkout).
    homepage = "https://github.com/stochmorph/stochmorph"
    git = os.environ.get("STOCHMORPH_GIT", "https://github.com/stochmorph/stochmorph.git")

    version("main", branch="main")

    variant("int64", default=False, description="64-bit PetscInt (needs petsc+int64 with hypre+int64)")
    variant("shared", default=True, description="Also build libstochmorph as a shared library")

    depends_on("c", type="build")
    depends_on("cmake@3.18:", type="build")
    depends_on("pkgconfig", type="build")
    depends_on("mpi")
    depends_on("petsc@3.18:+mpi+hypre~complex+double")
    depends_on("petsc+int64", when="+int64")
    depends_on("petsc~int64", when="~int64")
    depends_on("hypre+int64", when="+int64")
    depends_on("fftw@3:+mpi")
    depends_on("hdf5+mpi")
    depends_on("gsl")
    depends_on("libtiff")
    depends_on("random123")
    depends_on("py-numpy", type="test")
    depends_on("py-h5py", type="test")

    def cmake_args(self):
        spec = self.spec
        return [
            self.define("PETSC_DIR", spec["petsc"].prefix),
            self.define("FFTW_DIR", spec["fftw"].prefix),
            self.define("RANDOM123_DIR", spec["random123"].prefix),
            self.define("HDF5_ROOT", spec["hdf5"].prefix),
            self.define("GSL_ROOT_DIR", spec["gsl"].prefix),
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define_from_variant("SM_PETSC64", "int64"),
            self.define_from_variant("BUILD_SHARED_LIBS", "shared"),
        ]

    def check(self):
        # unit tests only: the MPI and regression tiers start mpiexec, which batch systems may forbid on build nodes
        with working_dir(self.build_directory):
            ctest("-L", "unit", "--output-on-failure")
