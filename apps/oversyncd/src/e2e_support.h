// File: apps/oversyncd/src/e2e_support.h
//
// Test-only support for the end-to-end tests that spawn the built oversyncd binary
// (oversyncd_e2e_test, oversyncd_http_errors_test): a child process whose stdout and stderr go
// to one pipe the test reads (to wait for the listen line and to check log output), and the
// environment every spawn starts from. Compiled into those test targets only.
//
// Thread-safety: ChildProcess is thread-compatible (one owner); the free functions are pure.
#ifndef OVERSYNC_OVERSYNCD_E2E_SUPPORT_H_
#define OVERSYNC_OVERSYNCD_E2E_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/http/testing/loopback_client.h"

namespace oversync::oversyncd::e2e {

// Upper bounds for events that must happen (initdb + startup on a slow CI machine); reaching
// one is a test failure, never part of the schedule.
inline constexpr std::chrono::milliseconds kStartupTimeout{90'000};
inline constexpr std::chrono::milliseconds kExitTimeout{60'000};
// The line oversyncd prints on stdout once it accepts connections.
inline constexpr std::string_view kListenPrefix = "oversyncd listening on http://";

// Environment changes for a spawn: name -> value, or nullopt to unset an inherited variable.
using EnvOverrides = std::vector<std::pair<std::string, std::optional<std::string>>>;

// A child process whose stdout and stderr go to one pipe that the test reads. The destructor
// kills (SIGKILL) and reaps a child that is still running, so a failed test never leaves it
// behind. Move-constructible only.
class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with the current environment changed by `overrides`.
  // Errors: kIo (pipe or posix_spawn failed).
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                    const EnvOverrides& overrides);

  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        out_(std::move(other.out_)),
        output_(std::move(other.output_)),
        consumed_(other.consumed_) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Returns the first not yet returned output line starting with `prefix`.
  // Errors: kIo if the output ends first, kDeadlineExceeded after `timeout`.
  Result<std::string> WaitForLine(std::string_view prefix, std::chrono::milliseconds timeout);

  // Sends `signal_number` to the child (no-op once it was reaped).
  void Signal(int signal_number) const;

  // Reads the output to EOF, then reaps the child. Returns its exit status (128 + signal).
  // Errors: kIo, kDeadlineExceeded after `timeout`.
  Result<int> WaitForExit(std::chrono::milliseconds timeout);

  // Everything the child wrote so far.
  const std::string& output() const noexcept { return output_; }

 private:
  ChildProcess(pid_t pid, http::testing::UniqueFd out) noexcept : pid_(pid), out_(std::move(out)) {}

  // Appends available output; false at EOF. kDeadlineExceeded once `deadline` has passed.
  Result<bool> ReadSome(std::chrono::steady_clock::time_point deadline);

  pid_t pid_;
  http::testing::UniqueFd out_;
  std::string output_;
  std::size_t consumed_ = 0;
};

// The port of a listen line "oversyncd listening on http://HOST:PORT".
std::uint16_t PortFromListenLine(const std::string& line);

// Environment shared by every oversyncd spawn: nothing inherited may change the scenario
// (DATABASE_URL, PORT, OVERSYNCD_DATA_DIR, OVERSYNCD_LISTEN_ADDR and the pool sizes unset,
// JWT_SECRET "e2e-secret").
EnvOverrides BaseEnv();

// Sets (or with nullopt unsets) `name` in `env`, replacing an earlier entry.
void SetEnv(EnvOverrides& env, const std::string& name, std::optional<std::string> value);

}  // namespace oversync::oversyncd::e2e

#endif  // OVERSYNC_OVERSYNCD_E2E_SUPPORT_H_
