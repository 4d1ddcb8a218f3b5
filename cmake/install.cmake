# Installs the headers, the archives and an asyncharness-config.cmake exporting
# asyncharness::harness, plus a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ah DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(_ah_install_targets ah_fakeclock ah_harness_core ah_threads ah_unsimulated ah_harness)
if(TARGET ah_mocks)
  list(APPEND _ah_install_targets ah_mocks)
endif()
install(TARGETS ${_ah_install_targets} EXPORT asyncharness-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT asyncharness-targets NAMESPACE asyncharness::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/asyncharness)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/asyncharness-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/asyncharness)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/asyncharness)
configure_file(${CMAKE_CURRENT_LIST_DIR}/asyncharness.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/asyncharness.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/asyncharness.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
