// File: apps/oversyncd/src/process.h
//
// Running helper programs (pg_config, initdb, pg_ctl, runuser) with posix_spawn: argv vectors,
// no shell. Children start with an empty signal mask and default SIGINT/SIGTERM/SIGHUP/SIGPIPE
// dispositions, whatever oversyncd's own signal set-up is.
//
// Thread-safety: the functions are thread-safe; UniqueFd is a move-only value.
#ifndef OVERSYNC_OVERSYNCD_PROCESS_H_
#define OVERSYNC_OVERSYNCD_PROCESS_H_

#include <string>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::oversyncd {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd() { Reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int Release() noexcept;
  void Reset() noexcept;

 private:
  int fd_ = -1;
};

struct SpawnOptions {
  // Start the child in a new session (setsid), so a terminal's Ctrl-C, which signals
  // oversyncd's whole foreground process group, does not reach it (used for the postmaster:
  // oversyncd stops it itself, in order).
  bool new_session = false;
  // What becomes of the child's stdout. oversyncd's own stdout carries only the startup line.
  enum class Stdout { kToStderr, kDiscard } child_stdout = Stdout::kToStderr;
};

// Runs argv (argv[0] is looked up in PATH when it has no '/') and waits for it.
// Returns the exit status, or 128 + signal number if the child was killed.
// Errors: kInvalidArgument for an empty argv, kIo if the program cannot be started.
Result<int> RunCommand(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Runs argv and returns what it wrote to stdout (stderr is inherited).
// Errors: kIo if it cannot be started or exits non-zero.
Result<std::string> RunAndCapture(const std::vector<std::string>& argv);

// "'text'" with embedded single quotes escaped, for the one place a shell reads our words
// (pg_ctl -o, which pg_ctl hands to /bin/sh).
std::string ShellQuote(const std::string& text);

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_PROCESS_H_
