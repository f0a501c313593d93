# hg_blas: the BLAS behind CPU GEMM. See docs/blas.md for the measurements behind the choice.
#
# halfgrad uses OpenBLAS, Debian's OpenMP build (apt-get install libopenblas0-openmp), and links
# none: kernels/cpu/blas.cpp dlopens it on first use, after setting OPENBLAS_CORETYPE itself,
# because OpenBLAS picks its kernels from that variable in a load-time constructor (and this
# project's machines set it to a slower core than the CPU supports). So this file only finds the
# library file to open, fails early when it is missing, and hands its path to blas.cpp.
#
#   -DHG_OPENBLAS_LIBRARY=/path/to/libopenblas.so.0   another file (at run time, the environment
#                                                     variable HG_OPENBLAS_LIBRARY overrides both)
set(HG_OPENBLAS_LIBRARY "" CACHE FILEPATH
    "The libopenblas.so.0 that kernels/cpu/blas.cpp opens at run time (empty: find it)")

set(_hg_openblas "${HG_OPENBLAS_LIBRARY}")
if(NOT _hg_openblas)
  # The OpenMP build, where Debian/Ubuntu's libopenblas0-openmp puts it.
  find_file(HG_OPENBLAS_OPENMP_FILE NAMES libopenblas.so.0
    PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  mark_as_advanced(HG_OPENBLAS_OPENMP_FILE)
  if(HG_OPENBLAS_OPENMP_FILE)
    set(_hg_openblas "${HG_OPENBLAS_OPENMP_FILE}")
  else()
    # Any other OpenBLAS works too (the pthreads build keeps its own thread pool beside OpenMP's).
    find_file(HG_OPENBLAS_ANY_FILE NAMES libopenblas.so.0
      PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib64 /usr/lib /usr/local/lib
            /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread
      NO_DEFAULT_PATH)
    mark_as_advanced(HG_OPENBLAS_ANY_FILE)
    if(HG_OPENBLAS_ANY_FILE)
      set(_hg_openblas "${HG_OPENBLAS_ANY_FILE}")
      message(WARNING "halfgrad: OpenBLAS's OpenMP build not found, using ${_hg_openblas}. "
                      "On Debian/Ubuntu: apt-get install libopenblas0-openmp")
    endif()
  endif()
endif()
if(NOT _hg_openblas OR NOT EXISTS "${_hg_openblas}")
  message(FATAL_ERROR "halfgrad needs OpenBLAS: on Debian/Ubuntu apt-get install "
                      "libopenblas0-openmp, or pass -DHG_OPENBLAS_LIBRARY=/path/to/libopenblas.so.0")
endif()
message(STATUS "halfgrad BLAS: OpenBLAS, opened at run time from ${_hg_openblas}")

add_library(hg_blas INTERFACE)
target_compile_definitions(hg_blas INTERFACE "HG_OPENBLAS_PATH=\"${_hg_openblas}\"")
target_link_libraries(hg_blas INTERFACE ${CMAKE_DL_LIBS})
unset(_hg_openblas)
