# Finds a Go toolchain >= 1.22 for the differential tests against encoding/json (its string
# escaping changed in 1.22, protocol.md §2.6). Debian 12's /usr/bin/go is 1.19, so candidates are
# tried in order and the first new-enough one wins: the toolchain scripts/install-deps.sh links
# at /usr/local/bin/go, the upstream tarball location /usr/local/go/bin/go, then PATH.
if(DEFINED OVERSYNC_GO_EXECUTABLE AND OVERSYNC_GO_EXECUTABLE)
  return()
endif()
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
