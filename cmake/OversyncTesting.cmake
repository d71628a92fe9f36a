include(GoogleTest)
# oversync_add_test(name SOURCES ... LIBS ... LABELS unit|pg|e2e)
# Labels: unit = no I/O; pg = needs OVERSYNC_TEST_DSN (each test makes its own database);
# e2e = spawns processes on loopback.
function(oversync_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main oversync::warnings)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  # PRE_TEST: discovery at ctest time, so building never runs test binaries.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300 ENVIRONMENT "${T_ENV}")
endfunction()
