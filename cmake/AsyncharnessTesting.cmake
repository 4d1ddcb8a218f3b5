# ah_discover_tests(): register each test of a harness test binary as its own CTest test, as
# GoogleTest's gtest_discover_tests does for gtest binaries. Loaded by find_package(asyncharness),
# and by the project itself (so add_subdirectory and FetchContent users have it too).
#
#   ah_discover_tests(<target>
#                     [EXTRA_ARGS arg...]          arguments after `--test NAME`
#                     [PROPERTIES name value...]   set on every test (TIMEOUT, LABELS, ...)
#                     [MEMCHECK]                   also a Valgrind variant of every test
#                     [MEMCHECK_PROPERTIES name value...]   set on the Valgrind variants only
#                     [TEST_PREFIX prefix]         default "<target>."
#                     [TEST_SUFFIX suffix]
#                     [WORKING_DIRECTORY dir]      default the current binary directory
#                     [TEST_LIST var]              variable (in CTest) naming the tests
#                     [DISCOVERY_TIMEOUT seconds]) default 10
#
# After each build of <target> (POST_BUILD) the binary is run with `--list` (ah_run_tests prints
# one test per line); every test NAME becomes the CTest test <prefix>NAME<suffix> running
# `<target> --test NAME [EXTRA_ARGS...]`. An ah_explore_test entry is one test (its schedules run
# inside it; AH_JOBS and AH_SHARD split them) and gets the label `explore`. With MEMCHECK, each
# test also gets <prefix>NAME<suffix>.memcheck: the same command under
# `valgrind --leak-check=full`, labelled `memcheck`, failing on any memory error or definite or
# indirect leak (AH_VALGRIND_OPTIONS overrides the options). `ctest -LE memcheck` runs the tests
# without it, `ctest -L memcheck` only the Valgrind variants.
#
# The tests are written to a file included by CTest (the directory's TEST_INCLUDE_FILES), so the
# list follows the binary: a test added or renamed in C needs no CMake change.

set_property(GLOBAL PROPERTY AH_ADD_TESTS_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/AsyncharnessAddTests.cmake")

function(ah_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "MEMCHECK"
    "TEST_PREFIX;TEST_SUFFIX;WORKING_DIRECTORY;TEST_LIST;DISCOVERY_TIMEOUT"
    "EXTRA_ARGS;PROPERTIES;MEMCHECK_PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ah_discover_tests(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "ah_discover_tests: ${target} is not a target")
  endif()
  if(NOT DEFINED arg_TEST_PREFIX)
    set(arg_TEST_PREFIX "${target}.")
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT arg_TEST_LIST)
    set(arg_TEST_LIST "${target}_TESTS")
  endif()
  if(NOT arg_DISCOVERY_TIMEOUT)
    set(arg_DISCOVERY_TIMEOUT 10)
  endif()

  set(valgrind "")
  if(arg_MEMCHECK)
    find_program(AH_VALGRIND_EXECUTABLE valgrind)
    if(AH_VALGRIND_EXECUTABLE)
      if(NOT DEFINED AH_VALGRIND_OPTIONS)
        # Errors and the leaks that are errors are printed between markers, so a test judged by
        # its output (PASS_REGULAR_EXPRESSION) still fails on them (FAIL_REGULAR_EXPRESSION).
        set(AH_VALGRIND_OPTIONS -q --leak-check=full --show-leak-kinds=definite,indirect
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99
            --error-markers=ah-memcheck-error,ah-memcheck-error-end)
      endif()
      set(valgrind ${AH_VALGRIND_EXECUTABLE} ${AH_VALGRIND_OPTIONS})
    else()
      message(WARNING "ah_discover_tests(${target} MEMCHECK): valgrind not found, no memcheck tests")
    endif()
  endif()

  # One pair of files per call (a target may be discovered twice, with different arguments).
  get_property(counter TARGET ${target} PROPERTY AH_DISCOVER_COUNTER)
  if(NOT counter)
    set(counter 0)
  endif()
  math(EXPR counter "${counter} + 1")
  set_property(TARGET ${target} PROPERTY AH_DISCOVER_COUNTER ${counter})
  set(base "${CMAKE_CURRENT_BINARY_DIR}/${target}[${counter}]")
  set(include_file "${base}_include.cmake")
  set(tests_file "${base}_tests.cmake")

  get_property(script GLOBAL PROPERTY AH_ADD_TESTS_SCRIPT)
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}"
            -D "AH_EXECUTABLE=$<TARGET_FILE:${target}>"
            -D "AH_TARGET=${target}"
            -D "AH_WORKING_DIRECTORY=${arg_WORKING_DIRECTORY}"
            -D "AH_EXTRA_ARGS=${arg_EXTRA_ARGS}"
            -D "AH_PROPERTIES=${arg_PROPERTIES}"
            -D "AH_MEMCHECK_PROPERTIES=${arg_MEMCHECK_PROPERTIES}"
            -D "AH_VALGRIND=${valgrind}"
            -D "AH_TEST_PREFIX=${arg_TEST_PREFIX}"
            -D "AH_TEST_SUFFIX=${arg_TEST_SUFFIX}"
            -D "AH_TEST_LIST=${arg_TEST_LIST}"
            -D "AH_DISCOVERY_TIMEOUT=${arg_DISCOVERY_TIMEOUT}"
            -D "AH_CTEST_FILE=${tests_file}"
            -P "${script}"
    COMMENT "Listing the tests of ${target} for CTest"
    VERBATIM)

  # Until the binary is built, CTest shows one failing placeholder instead of silently nothing.
  file(WRITE "${include_file}"
    "if(EXISTS \"${tests_file}\")\n"
    "  include(\"${tests_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
