# Finds a Go toolchain >= 1.22 for the differential tests against encoding/json (its string
# escaping changed in 1.22, protocol.md §2.6). Debian 12's /usr/bin/go is 1.19, so candidates are
# tried in order and the first new-enough one wins: the toolchain scripts/install-deps.sh links
# at /usr/local/bin/go, the upstream tarball location /usr/local/go/bin/go, then PATH.
if(NOT (DEFINED OVERSYNC_GO_EXECUTABLE AND OVERSYNC_GO_EXECUTABLE))
set(_oversync_go_candidates /usr/local/bin/go /usr/local/go/bin/go)
find_program(_oversync_go_on_path go)
if(_oversync_go_on_path)
  list(APPEND _oversync_go_candidates ${_oversync_go_on_path})
endif()
set(OVERSYNC_GO_EXECUTABLE "" CACHE FILEPATH "Go >= 1.22 used by the differential tests")
foreach(candidate IN LISTS _oversync_go_candidates)
  if(EXISTS ${candidate})
    execute_process(COMMAND ${candidate} env GOVERSION OUTPUT_VARIABLE _go_version
                    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _go_rc ERROR_QUIET)
    if(_go_rc EQUAL 0 AND _go_version MATCHES "^go([0-9]+)\\.([0-9]+)")
      if(CMAKE_MATCH_1 GREATER 1 OR CMAKE_MATCH_2 GREATER_EQUAL 22)
        set(OVERSYNC_GO_EXECUTABLE ${candidate} CACHE FILEPATH
            "Go >= 1.22 used by the differential tests" FORCE)
        message(STATUS "Go for differential tests: ${candidate} (${_go_version})")
        break()
      endif()
    endif()
  endif()
endforeach()
endif()

# oversync_add_go_helper(<test-target> <module-dir> <define>)
# Builds the standard-library-only Go program in <module-dir> (offline: no proxy, no toolchain
# switch, no cgo) into the build tree, makes <test-target> depend on it and passes its path as the
# compile definition <define> ("" when no Go >= 1.22 was found: the test then skips, or fails
# under CI).
function(oversync_add_go_helper test_target module_dir define)
  set(binary "")
  if(OVERSYNC_GO_EXECUTABLE)
    get_filename_component(name ${module_dir} NAME)
    set(binary ${CMAKE_CURRENT_BINARY_DIR}/${name})
    add_custom_command(
      OUTPUT ${binary}
      COMMAND ${CMAKE_COMMAND} -E env "GOFLAGS=-mod=mod -buildvcs=false" GOPROXY=off
              GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE=${CMAKE_BINARY_DIR}/go-cache
              GOPATH=${CMAKE_BINARY_DIR}/go-path ${OVERSYNC_GO_EXECUTABLE} build -o ${binary} .
      WORKING_DIRECTORY ${module_dir}
      DEPENDS ${module_dir}/main.go ${module_dir}/go.mod
      COMMENT "Building Go helper ${name}"
      VERBATIM)
    add_custom_target(${test_target}_go_helper DEPENDS ${binary})
    add_dependencies(${test_target} ${test_target}_go_helper)
  else()
    message(STATUS "no Go >= 1.22: ${test_target} will skip (fail under CI)")
  endif()
  target_compile_definitions(${test_target} PRIVATE "${define}=\"${binary}\"")
endfunction()
