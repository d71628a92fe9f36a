#include "process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace oversync::oversyncd {
namespace {

// posix_spawn_file_actions_t / posix_spawnattr_t owned from construction to destruction.
class SpawnFileActions {
 public:
  SpawnFileActions() noexcept : ok_(posix_spawn_file_actions_init(&actions_) == 0) {}
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  SpawnFileActions(SpawnFileActions&&) = delete;
  SpawnFileActions& operator=(SpawnFileActions&&) = delete;
  ~SpawnFileActions() {
    if (ok_) posix_spawn_file_actions_destroy(&actions_);
  }
  bool ok() const noexcept { return ok_; }
  posix_spawn_file_actions_t* get() noexcept { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
  bool ok_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() noexcept : ok_(posix_spawnattr_init(&attributes_) == 0) {}
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  SpawnAttributes(SpawnAttributes&&) = delete;
  SpawnAttributes& operator=(SpawnAttributes&&) = delete;
  ~SpawnAttributes() {
    if (ok_) posix_spawnattr_destroy(&attributes_);
  }
  bool ok() const noexcept { return ok_; }
  posix_spawnattr_t* get() noexcept { return &attributes_; }

 private:
  posix_spawnattr_t attributes_{};
  bool ok_;
};

std::string Describe(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out.push_back(' ');
    out.append(arg);
  }
  return out;
}

// Spawns argv with `stdout_fd` (or -1 = inherit) as the child's stdout; returns the pid.
Result<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options,
                    int stdout_fd) {
  if (argv.empty()) return Error(ErrorCode::kInvalidArgument, "empty command");
  SpawnFileActions actions;
  SpawnAttributes attributes;
  if (!actions.ok() || !attributes.ok()) return Error(ErrorCode::kIo, "posix_spawn setup failed");
  if (stdout_fd >= 0) {
    if (posix_spawn_file_actions_adddup2(actions.get(), stdout_fd, STDOUT_FILENO) != 0) {
      return Error(ErrorCode::kIo, "posix_spawn_file_actions_adddup2 failed");
    }
  } else if (options.child_stdout == SpawnOptions::Stdout::kToStderr) {
    if (posix_spawn_file_actions_adddup2(actions.get(), STDERR_FILENO, STDOUT_FILENO) != 0) {
      return Error(ErrorCode::kIo, "posix_spawn_file_actions_adddup2 failed");
    }
  } else if (posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null", O_WRONLY,
                                              0) != 0) {
    return Error(ErrorCode::kIo, "posix_spawn_file_actions_addopen failed");
  }
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  for (const int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    sigaddset(&default_signals, signal_number);
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.new_session) flags = static_cast<short>(flags | POSIX_SPAWN_SETSID);
  if (posix_spawnattr_setsigmask(attributes.get(), &empty_mask) != 0 ||
      posix_spawnattr_setsigdefault(attributes.get(), &default_signals) != 0 ||
      posix_spawnattr_setflags(attributes.get(), flags) != 0) {
    return Error(ErrorCode::kIo, "posix_spawnattr setup failed");
  }

  std::vector<std::string> storage = argv;  // posix_spawn wants char* const[]
  std::vector<char*> args;
  args.reserve(storage.size() + 1);
  for (std::string& arg : storage) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], actions.get(), attributes.get(), args.data(), environ);
  if (rc != 0) {
    return Error(ErrorCode::kIo,
                 "cannot start " + Describe(argv) + ": " + std::string(std::strerror(rc)));
  }
  return pid;
}

Result<int> Wait(pid_t pid, const std::vector<std::string>& argv) {
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return Error(ErrorCode::kIo, "waitpid for " + Describe(argv) + ": " + std::strerror(errno));
    }
  }
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return Error(ErrorCode::kIo, "unexpected wait status for " + Describe(argv));
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<int> RunCommand(const std::vector<std::string>& argv, const SpawnOptions& options) {
  OVERSYNC_ASSIGN_OR_RETURN(const pid_t pid, Spawn(argv, options, -1));
  return Wait(pid, argv);
}

Result<std::string> RunAndCapture(const std::vector<std::string>& argv) {
  std::array<int, 2> fds = {-1, -1};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) {
    return Error(ErrorCode::kIo, std::string("pipe2: ") + std::strerror(errno));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  OVERSYNC_ASSIGN_OR_RETURN(const pid_t pid, Spawn(argv, SpawnOptions{}, write_end.get()));
  write_end.Reset();  // the child holds the only write end now: EOF when it exits
  std::string output;
  std::array<char, 4096> chunk{};
  while (true) {
    const ssize_t n = ::read(read_end.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(chunk.data(), static_cast<std::size_t>(n));
  }
  OVERSYNC_ASSIGN_OR_RETURN(const int exit_code, Wait(pid, argv));
  if (exit_code != 0) {
    return Error(ErrorCode::kIo,
                 Describe(argv) + " exited with status " + std::to_string(exit_code));
  }
  return output;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

}  // namespace oversync::oversyncd
