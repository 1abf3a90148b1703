# stochmorph.pc: the library with the flags of its dependencies spelt out (full library paths), so
# `pkg-config --cflags --libs stochmorph` works whatever pkg-config modules the site's PETSc, MPI or HDF5 provide.
set(_sm_pc_incs ${SM_PETSC_INCLUDE_DIRS} ${HDF5_C_INCLUDE_DIRS} ${MPI_C_INCLUDE_DIRS} ${SM_FFTW_INCLUDE_DIR}
    ${GSL_INCLUDE_DIRS} ${TIFF_INCLUDE_DIRS} ${SM_RANDOM123_INCLUDE_DIR})
list(REMOVE_DUPLICATES _sm_pc_incs)
set(_sm_pc_cflags "")
foreach(d ${_sm_pc_incs})
  # the compiler's own directories (-I/usr/include) would only reorder the system search path
  if(NOT d IN_LIST CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES)
    string(APPEND _sm_pc_cflags " -I${d}")
  endif()
endforeach()
set(_sm_pc_libs "")
foreach(l ${SM_PETSC_LINK_LIBRARIES} ${HDF5_C_HL_LIBRARIES} ${HDF5_C_LIBRARIES} ${SM_FFTW_MPI_LIBRARY} ${SM_FFTW_LIBRARY} ${GSL_LIBRARIES}
        ${TIFF_LIBRARIES} ${MPI_C_LIBRARIES})
  string(APPEND _sm_pc_libs " ${l}")
endforeach()
# prefix relative to the .pc file, so a tree installed with `cmake --install --prefix P` (or moved) still works
file(RELATIVE_PATH _sm_pc_up ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" _sm_pc_up "${_sm_pc_up}")
file(WRITE ${PROJECT_BINARY_DIR}/stochmorph.pc
"prefix=\${pcfiledir}/${_sm_pc_up}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: stochmorph
Description: Stochastic digital twins of battery-electrode microstructures (MPI, PETSc, FFTW, HDF5)
Version: ${PROJECT_VERSION}
Cflags: -I\${includedir}${_sm_pc_cflags}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lstochmorph${_sm_pc_libs} -lm
")
