include(GoogleTest)
# oversync_add_test(name SOURCES ... LIBS ... LABELS unit|pg|e2e)
# Labels: unit = no I/O; pg = needs OVERSYNC_TEST_DSN (each test makes its own database);
# e2e = spawns processes on loopback.
function(oversync_add_test name)
  # BOTH_WIRE_PROFILES: the binary's tests are registered twice, once under the default
  # (jcs_uniform_numeric_strings_v1) and once, suffixed ".go_canonical_v1", with
  # OVERSQLITE_TEST_WIRE_PROFILE=go_canonical_v1 (client tests run against both contracts).
  cmake_parse_arguments(T "BOTH_WIRE_PROFILES" "" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main oversync::warnings)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  # PRE_TEST: discovery at ctest time, so building never runs test binaries.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300 ENVIRONMENT "${T_ENV}")
  if(T_BOTH_WIRE_PROFILES)
    set(profile_a_env ${T_ENV})
    list(APPEND profile_a_env "OVERSQLITE_TEST_WIRE_PROFILE=go_canonical_v1")
    gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST TEST_SUFFIX ".go_canonical_v1"
      PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300
                 ENVIRONMENT "${profile_a_env}")
  endif()
endfunction()
