# INTERFACE target carrying the project warning set. Warnings become errors through
# CMAKE_COMPILE_WARNING_AS_ERROR (set by the ci/asan/clang presets), not a hard-coded -Werror.
add_library(oversync_warnings INTERFACE)
target_compile_options(oversync_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Woverloaded-virtual -Wold-style-cast -Wcast-align
  -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation
  $<$<CXX_COMPILER_ID:GNU>:-Wduplicated-cond -Wduplicated-branches -Wlogical-op>
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety>)
add_library(oversync::warnings ALIAS oversync_warnings)
