// File: oversync/testing/go_helper.h
//
// Guard for tests that run a Go helper built by oversync_add_go_helper (cmake/OversyncGo.cmake):
// when no Go >= 1.22 was found at configure time the helper path is empty and the test skips,
// except under CI (env CI set), where it fails so CI can never go green by skipping.
// Test-only code.
#ifndef OVERSYNC_TESTING_GO_HELPER_H_
#define OVERSYNC_TESTING_GO_HELPER_H_

#include <cstdlib>
#include <string_view>

#include <gtest/gtest.h>

namespace oversync::testing {

// True when `helper_path` is set; otherwise records a failure under CI and returns false.
inline bool GoHelperAvailable(std::string_view helper_path, std::string_view test_name) {
  if (!helper_path.empty()) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && *ci != '\0') {
    ADD_FAILURE() << "Go was not found at configure time but CI is set: " << test_name
                  << " must run in CI";
  }
  return false;
}

}  // namespace oversync::testing

// Use at the top of a test body: skips (or fails under CI) without the Go helper.
#define OVERSYNC_REQUIRE_GO_HELPER(helper_path, test_name)                             \
  do {                                                                                 \
    if (!::oversync::testing::GoHelperAvailable((helper_path), (test_name))) {         \
      if (::testing::Test::HasFailure()) return;                                       \
      GTEST_SKIP() << "Go not found at configure time; install Go and re-configure";   \
    }                                                                                  \
  } while (false)

#endif  // OVERSYNC_TESTING_GO_HELPER_H_
