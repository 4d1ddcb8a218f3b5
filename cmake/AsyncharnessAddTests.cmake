# Run by ah_discover_tests after each build (cmake -P): asks the test binary for its tests
# (`--list`) and writes the CTest file that registers each one. The AH_* variables come from
# AsyncharnessTesting.cmake.
cmake_policy(VERSION 3.18)

# Bracket-quotes a value for the generated file, whatever it contains.
function(ah_quote out value)
  set(eq "=")
  while(value MATCHES "\\]${eq}\\]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

# Quotes each element of a list, space-separated.
function(ah_quote_list out)
  set(result "")
  foreach(value IN LISTS ARGN)
    ah_quote(q "${value}")
    string(APPEND result " ${q}")
  endforeach()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

# The set_tests_properties line for `test`: the name/value pairs of ARGN, later pairs of a list
# property (LABELS, ENVIRONMENT, FAIL_REGULAR_EXPRESSION) appending to earlier ones, others
# replacing them. (CTest files know set_tests_properties, not set_property.)
function(ah_properties out test)
  set(props ${ARGN})
  set(names "")
  list(LENGTH props n)
  set(i 0)
  while(i LESS n)
    list(GET props ${i} name)
    math(EXPR i "${i} + 1")
    if(NOT i LESS n)
      message(FATAL_ERROR "ah_discover_tests: property ${name} has no value")
    endif()
    list(GET props ${i} value)
    math(EXPR i "${i} + 1")
    if(NOT name IN_LIST names)
      list(APPEND names ${name})
      set(value_${name} "")
    endif()
    if(name MATCHES "^(LABELS|ENVIRONMENT|FAIL_REGULAR_EXPRESSION|PASS_REGULAR_EXPRESSION)$")
      list(APPEND value_${name} "${value}")
    else()
      set(value_${name} "${value}")
    endif()
  endwhile()
  ah_quote(qt "${test}")
  set(result "set_tests_properties(${qt} PROPERTIES")
  foreach(name IN LISTS names)
    ah_quote(qv "${value_${name}}")
    string(APPEND result " ${name} ${qv}")
  endforeach()
  set(${out} "${result})\n" PARENT_SCOPE)
endfunction()

if(NOT EXISTS "${AH_EXECUTABLE}")
  message(FATAL_ERROR "ah_discover_tests: ${AH_EXECUTABLE} does not exist")
endif()
execute_process(
  COMMAND "${AH_EXECUTABLE}" --list
  WORKING_DIRECTORY "${AH_WORKING_DIRECTORY}"
  TIMEOUT ${AH_DISCOVERY_TIMEOUT}
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR
    "ah_discover_tests: `${AH_EXECUTABLE} --list` failed (${rc}):\n${listing}${errors}\n"
    "Is its main() `return ah_run_tests(tests);`?")
endif()

set(content "# Written by AsyncharnessAddTests.cmake from `${AH_TARGET} --list`; do not edit.\n")
set(names "")
ah_quote(exe "${AH_EXECUTABLE}")
ah_quote_list(extra ${AH_EXTRA_ARGS})
ah_quote_list(valgrind ${AH_VALGRIND})
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  # "NAME" or "NAME explore"
  if(NOT line MATCHES "^([A-Za-z_][A-Za-z0-9_]*)( explore)?$")
    message(FATAL_ERROR "ah_discover_tests: unexpected line from `${AH_TARGET} --list`: ${line}")
  endif()
  set(name "${CMAKE_MATCH_1}")
  set(explore "${CMAKE_MATCH_2}")
  set(test "${AH_TEST_PREFIX}${name}${AH_TEST_SUFFIX}")
  ah_quote(qtest "${test}")
  ah_quote(qname "${name}")
  string(APPEND content "add_test(${qtest} ${exe} --test ${qname}${extra})\n")
  set(labels "")
  if(explore)
    set(labels LABELS explore)
  endif()
  ah_properties(props "${test}" WORKING_DIRECTORY "${AH_WORKING_DIRECTORY}" ${AH_PROPERTIES}
                ${labels})
  string(APPEND content "${props}")
  list(APPEND names "${test}")
  if(AH_VALGRIND)
    # Valgrind is slow: the real-time detector's threshold goes up, explorations scale down.
    set(mtest "${test}.memcheck")
    ah_quote(qm "${mtest}")
    string(APPEND content "add_test(${qm}${valgrind} ${exe} --test ${qname}${extra})\n")
    ah_properties(props "${mtest}" WORKING_DIRECTORY "${AH_WORKING_DIRECTORY}" ${AH_PROPERTIES}
                  ${AH_MEMCHECK_PROPERTIES} ${labels} LABELS memcheck
                  ENVIRONMENT AH_UNDER_VALGRIND=1 ENVIRONMENT AH_SLOW_CALLBACK_MS=5000
                  FAIL_REGULAR_EXPRESSION ah-memcheck-error)
    string(APPEND content "${props}")
    list(APPEND names "${mtest}")
  endif()
endforeach()
ah_quote_list(qnames ${names})
string(APPEND content "set(${AH_TEST_LIST}${qnames})\n")
file(WRITE "${AH_CTEST_FILE}" "${content}")
