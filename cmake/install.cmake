# Installs what another project needs to test against the harness from a prefix P
# (`cmake --install build --prefix P`):
#   P/include/ah/*.h                        the public headers (ah/sites.h is force-included)
#   P/lib/libah_*.a                         the archives of AH_LINK_GROUP (CMakeLists.txt)
#   P/lib/cmake/asyncharness/               asyncharness-config.cmake, its version file, the
#                                           exported targets (asyncharness::harness) and
#                                           AsyncharnessTesting.cmake (ah_discover_tests)
#   P/lib/pkgconfig/asyncharness.pc
#   P/bin/ah-explore                        the command that explores an unchanged program
#   P/bin/ah-world                          the owner of programs started with AH_WORLD=PATH
# Every path in them is relative to the file's own location, so P can be moved after installing.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(AH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/asyncharness)
install(DIRECTORY include/ah DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Exported as asyncharness::<name without ah_>: asyncharness::harness is what a test links.
foreach(target IN LISTS AH_LINK_GROUP)
  string(REGEX REPLACE "^ah_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endforeach()
install(TARGETS ${AH_LINK_GROUP} ah_harness EXPORT asyncharness-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT asyncharness-targets NAMESPACE asyncharness:: DESTINATION ${AH_CMAKE_DIR})
# The command in front of a program: P/bin/ah-explore.
install(TARGETS ah-explore RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The owner of programs started separately with AH_WORLD=PATH: P/bin/ah-world.
if(TARGET ah-world)
  install(TARGETS ah-world RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/asyncharness-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config.cmake
  INSTALL_DESTINATION ${AH_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same minor satisfies a request.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/asyncharness-config-version.cmake
              ${CMAKE_CURRENT_LIST_DIR}/AsyncharnessTesting.cmake
              ${CMAKE_CURRENT_LIST_DIR}/AsyncharnessAddTests.cmake
        DESTINATION ${AH_CMAKE_DIR})

# pkg-config: the prefix is computed from the .pc file's own location (${pcfiledir}), and Libs
# keeps the link order of asyncharness::harness: the group of the harness's archives, then what
# they need (the Requires: real libuv and cmocka, which pkg-config appends after Libs, and dl).
set(AH_PC_REQUIRES "libuv cmocka")
set(AH_PC_LIBS)
foreach(lib IN LISTS CMAKE_DL_LIBS AH_UNWIND_LIB)
  string(APPEND AH_PC_LIBS " -l${lib}")
endforeach()
set(AH_PC_ARCHIVES)
foreach(target IN LISTS AH_LINK_GROUP)
  get_target_property(output_name ${target} OUTPUT_NAME)
  if(NOT output_name)
    set(output_name ${target})
  endif()
  string(APPEND AH_PC_ARCHIVES " -l${output_name}")
endforeach()
# The interposing rooms are forced in, as asyncharness::harness forces them (CMakeLists.txt).
set(AH_PC_UNDEFS)
foreach(anchor IN LISTS AH_INTERPOSERS)
  string(APPEND AH_PC_UNDEFS " -Wl,-u,${anchor}")
endforeach()
# A sanitized build's archives need the sanitizers' runtimes (CMakeLists.txt, AH_SANITIZE_LINK).
foreach(flag IN LISTS AH_SANITIZE_LINK)
  string(APPEND AH_PC_LIBS " ${flag}")
endforeach()
string(STRIP "${AH_PC_ARCHIVES}" AH_PC_ARCHIVES)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  # An absolute libdir or includedir cannot move with the prefix: write them as they are.
  set(AH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(AH_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(AH_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH pc_to_prefix "/P/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/P")
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  set(AH_PC_PREFIX "\${pcfiledir}/${pc_to_prefix}")
  set(AH_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(AH_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/asyncharness.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/asyncharness.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/asyncharness.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
