# A CMake package for find_package(halfgrad CONFIG): usable from the build tree
# (-Dhalfgrad_DIR=<build dir>) and after `cmake --install`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The installed library finds the non-system libraries it links (CUDA's cudart/cublas under
# /usr/local/cuda) through its RUNPATH, as the build tree's copy does; a consumer's link step
# needs that too, to resolve the library's own dependencies.
set_target_properties(halfgrad PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
install(TARGETS halfgrad EXPORT halfgradTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES halfgrad.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/halfgrad)
foreach(dir core kernels autograd amp nn optim data train)
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/halfgrad/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT halfgradTargets NAMESPACE halfgrad:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/halfgrad)
export(EXPORT halfgradTargets NAMESPACE halfgrad:: FILE ${CMAKE_CURRENT_BINARY_DIR}/halfgradTargets.cmake)

configure_package_config_file(cmake/halfgradConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/halfgradConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/halfgrad)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/halfgradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/halfgradConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/halfgradConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/halfgrad)
