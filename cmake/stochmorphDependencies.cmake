# Find the libraries stochmorph builds on, with the standard discovery of each and no distribution-specific names.
# Used by the top-level CMakeLists.txt and, installed, by stochmorphConfig.cmake, so a program that calls
# find_package(stochmorph) finds the same PETSc, MPI, HDF5 and FFTW the library was built with.
#
# Hints (cache variables or environment variables of the same name):
#   PETSC_DIR, PETSC_ARCH  PETSc's own pkg-config file $PETSC_DIR/$PETSC_ARCH/lib/pkgconfig/PETSc.pc (or petsc.pc);
#                          without them the system's pkg-config module PETSc (PETSc64 with SM_PETSC64=ON)
#   SM_PETSC64             ON: require 64-bit PetscInt (configure fails if the PETSc found has 32-bit indices)
#   FFTW_DIR               prefix of FFTW3 (include/fftw3-mpi.h, lib/libfftw3_mpi); else pkg-config fftw3
#   RANDOM123_DIR          prefix (or include dir) holding Random123/philox.h
#   HDF5_DIR / HDF5_ROOT, GSL_ROOT_DIR, TIFF_ROOT, MPI_HOME: the hints of CMake's own Find modules
#
# Targets defined: MPI::MPI_C, PkgConfig::SM_PETSC, SM::HDF5 (parallel), SM::FFTW (fftw3_mpi + fftw3), GSL::gsl,
# TIFF::TIFF, SM::Random123.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)
include(CheckSymbolExists)

find_package(MPI REQUIRED COMPONENTS C)

# ---- PETSc
find_package(PkgConfig REQUIRED)
set(SM_PETSC_DIR "$ENV{PETSC_DIR}" CACHE PATH "PETSc prefix (PETSC_DIR); empty: the system's pkg-config module")
set(SM_PETSC_ARCH "$ENV{PETSC_ARCH}" CACHE STRING "PETSc arch (PETSC_ARCH) below PETSC_DIR; may be empty")
if(DEFINED PETSC_DIR AND NOT PETSC_DIR STREQUAL "")
  set(SM_PETSC_DIR "${PETSC_DIR}" CACHE PATH "PETSc prefix" FORCE)
endif()
if(DEFINED PETSC_ARCH)
  set(SM_PETSC_ARCH "${PETSC_ARCH}" CACHE STRING "PETSc arch" FORCE)
endif()
option(SM_PETSC64 "Require PETSc with 64-bit PetscInt (without PETSC_DIR: the pkg-config module PETSc64)" OFF)
set(SM_PETSC_PC_DIR "" CACHE PATH "Directory of the PETSc pkg-config file to use (set by the installed package)")
set(SM_PETSC_PC_MODULE "" CACHE STRING "Name of that pkg-config module (set by the installed package)")
if(NOT TARGET PkgConfig::SM_PETSC)
  set(_sm_pc_dirs "")
  set(_sm_found_pc "")
  if(SM_PETSC_DIR)
    if(SM_PETSC_ARCH)
      list(APPEND _sm_pc_dirs "${SM_PETSC_DIR}/${SM_PETSC_ARCH}/lib/pkgconfig")
    endif()
    list(APPEND _sm_pc_dirs "${SM_PETSC_DIR}/lib/pkgconfig")
  elseif(SM_PETSC_PC_DIR)
    list(APPEND _sm_pc_dirs "${SM_PETSC_PC_DIR}")
  endif()
  set(_sm_modules PETSc petsc)
  if(NOT SM_PETSC_DIR AND SM_PETSC_PC_DIR AND SM_PETSC_PC_MODULE)
    set(_sm_modules ${SM_PETSC_PC_MODULE})
  endif()
  if(_sm_pc_dirs)
    foreach(d ${_sm_pc_dirs})
      list(GET _sm_modules 0 _sm_m0)
      if(EXISTS "${d}/${_sm_m0}.pc" OR EXISTS "${d}/petsc.pc")
        set(_sm_found_pc "${d}")
        break()
      endif()
    endforeach()
    if(NOT _sm_found_pc)
      message(FATAL_ERROR "PETSC_DIR=${SM_PETSC_DIR} PETSC_ARCH=${SM_PETSC_ARCH}: no PETSc.pc or petsc.pc in "
                          "${_sm_pc_dirs}; give the PETSC_DIR (and PETSC_ARCH) of an installed PETSc")
    endif()
    # Only PETSc's own directory: another PETSc module on the pkg-config path must not win.
    set(_sm_pc_save "$ENV{PKG_CONFIG_PATH}")
    set(_sm_pc_libdir_save "$ENV{PKG_CONFIG_LIBDIR}")
    set(ENV{PKG_CONFIG_PATH} "${_sm_found_pc}")
    set(ENV{PKG_CONFIG_LIBDIR} "${_sm_found_pc}")
    pkg_search_module(SM_PETSC REQUIRED IMPORTED_TARGET GLOBAL ${_sm_modules})
    set(ENV{PKG_CONFIG_PATH} "${_sm_pc_save}")
    set(ENV{PKG_CONFIG_LIBDIR} "${_sm_pc_libdir_save}")
  elseif(SM_PETSC64)
    pkg_search_module(SM_PETSC REQUIRED IMPORTED_TARGET GLOBAL PETSc64 petsc64)
  else()
    pkg_search_module(SM_PETSC REQUIRED IMPORTED_TARGET GLOBAL PETSc petsc)
  endif()
  pkg_get_variable(SM_PETSC_PCFILEDIR ${SM_PETSC_MODULE_NAME} pcfiledir)
  if(_sm_found_pc)
    set(SM_PETSC_PCFILEDIR "${_sm_found_pc}")
  endif()
  # Which PetscInt the headers found declare.
  set(CMAKE_REQUIRED_INCLUDES ${SM_PETSC_INCLUDE_DIRS})
  set(CMAKE_REQUIRED_QUIET ON)
  unset(SM_PETSC_USE_64BIT_INDICES CACHE)
  check_symbol_exists(PETSC_USE_64BIT_INDICES petscconf.h SM_PETSC_USE_64BIT_INDICES)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_QUIET)
  if(SM_PETSC_USE_64BIT_INDICES)
    set(SM_PETSC_INT_BITS 64)
  else()
    set(SM_PETSC_INT_BITS 32)
  endif()
  if(SM_PETSC64 AND NOT SM_PETSC_USE_64BIT_INDICES)
    message(FATAL_ERROR "SM_PETSC64=ON but the PETSc found (${SM_PETSC_PREFIX}, includes ${SM_PETSC_INCLUDE_DIRS}) has "
                        "32-bit PetscInt; give the PETSC_DIR of a PETSc configured --with-64-bit-indices")
  endif()
  message(STATUS "PETSc ${SM_PETSC_VERSION} (${SM_PETSC_INT_BITS}-bit PetscInt): ${SM_PETSC_LINK_LIBRARIES}")
endif()

# ---- HDF5: the parallel build
if(NOT TARGET SM::HDF5)
  set(HDF5_PREFER_PARALLEL TRUE)
  find_package(HDF5 REQUIRED COMPONENTS C HL)
  if(NOT HDF5_IS_PARALLEL)
    message(FATAL_ERROR "HDF5 ${HDF5_VERSION} found at ${HDF5_INCLUDE_DIRS} is the serial build; stochmorph writes one "
                        "file from all ranks and needs parallel HDF5 (H5_HAVE_PARALLEL). Point HDF5_DIR or HDF5_ROOT "
                        "(or the h5pcc on PATH) at the MPI build of HDF5, e.g. `module load hdf5/parallel` or spack "
                        "hdf5+mpi.")
  endif()
  add_library(SM::HDF5 INTERFACE IMPORTED GLOBAL)
  set_target_properties(SM::HDF5 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${HDF5_C_INCLUDE_DIRS}"
                        INTERFACE_LINK_LIBRARIES "${HDF5_C_HL_LIBRARIES};${HDF5_C_LIBRARIES};MPI::MPI_C"
                        INTERFACE_COMPILE_OPTIONS "${HDF5_C_DEFINITIONS}")
endif()

# ---- FFTW3 with its MPI interface
set(FFTW_DIR "$ENV{FFTW_DIR}" CACHE PATH "FFTW3 prefix (include/fftw3-mpi.h, lib/libfftw3_mpi); empty: pkg-config fftw3")
if(NOT TARGET SM::FFTW)
  set(_sm_fftw_hints "")
  if(FFTW_DIR)
    list(APPEND _sm_fftw_hints "${FFTW_DIR}/lib" "${FFTW_DIR}/lib64")
  else()
    pkg_check_modules(SM_FFTW_PC QUIET fftw3)
    if(SM_FFTW_PC_FOUND)
      list(APPEND _sm_fftw_hints ${SM_FFTW_PC_LIBRARY_DIRS})
    endif()
  endif()
  find_library(SM_FFTW_LIBRARY NAMES fftw3 HINTS ${_sm_fftw_hints})
  find_library(SM_FFTW_MPI_LIBRARY NAMES fftw3_mpi HINTS ${_sm_fftw_hints})
  get_filename_component(_sm_fftw_libdir "${SM_FFTW_LIBRARY}" DIRECTORY)
  find_path(SM_FFTW_INCLUDE_DIR NAMES fftw3-mpi.h HINTS ${FFTW_DIR}/include ${SM_FFTW_PC_INCLUDE_DIRS} ${_sm_fftw_libdir}/../include)
  if(NOT SM_FFTW_LIBRARY OR NOT SM_FFTW_MPI_LIBRARY OR NOT SM_FFTW_INCLUDE_DIR)
    message(FATAL_ERROR "FFTW3 with MPI not found (libfftw3: ${SM_FFTW_LIBRARY}, libfftw3_mpi: ${SM_FFTW_MPI_LIBRARY}, "
                        "fftw3-mpi.h: ${SM_FFTW_INCLUDE_DIR}); give -DFFTW_DIR=prefix of an FFTW built with --enable-mpi")
  endif()
  add_library(SM::FFTW INTERFACE IMPORTED GLOBAL)
  set_target_properties(SM::FFTW PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${SM_FFTW_INCLUDE_DIR}"
                        INTERFACE_LINK_LIBRARIES "${SM_FFTW_MPI_LIBRARY};${SM_FFTW_LIBRARY};MPI::MPI_C")
endif()

# ---- GSL, libtiff
find_package(GSL REQUIRED)
find_package(TIFF REQUIRED)

# ---- Random123 (header only)
set(RANDOM123_DIR "$ENV{RANDOM123_DIR}" CACHE PATH "Prefix or include directory holding Random123/philox.h")
if(NOT TARGET SM::Random123)
  find_path(SM_RANDOM123_INCLUDE_DIR NAMES Random123/philox.h HINTS ${RANDOM123_DIR} ${RANDOM123_DIR}/include)
  if(NOT SM_RANDOM123_INCLUDE_DIR)
    message(FATAL_ERROR "Random123/philox.h not found; give -DRANDOM123_DIR=the prefix holding include/Random123")
  endif()
  add_library(SM::Random123 INTERFACE IMPORTED GLOBAL)
  set_target_properties(SM::Random123 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${SM_RANDOM123_INCLUDE_DIR}")
endif()
