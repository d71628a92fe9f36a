#include "e2e_support.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

namespace oversync::oversyncd::e2e {

using http::testing::UniqueFd;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                         const EnvOverrides& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    bool overridden = false;
    for (const auto& [key, value] : overrides) overridden = overridden || key == name;
    if (!overridden) env.emplace_back(text);
  }
  for (const auto& [key, value] : overrides) {
    if (value) env.push_back(key + "=" + *value);
  }

  std::array<int, 2> fds = {-1, -1};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe2 failed");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0) return Error(ErrorCode::kIo, "actions");
  const std::unique_ptr<posix_spawn_file_actions_t, int (*)(posix_spawn_file_actions_t*)>
      actions_owner(&actions, &posix_spawn_file_actions_destroy);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);

  std::vector<std::string> arg_storage = argv;
  std::vector<char*> args;
  args.reserve(arg_storage.size() + 1);
  for (std::string& arg : arg_storage) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  if (rc != 0) return Error(ErrorCode::kIo, std::string("posix_spawn: ") + std::strerror(rc));
  return ChildProcess(pid, std::move(read_end));
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {  // a failed test must not leave the server running
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

Result<std::string> ChildProcess::WaitForLine(std::string_view prefix, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    std::size_t line_end = 0;
    while ((line_end = output_.find('\n', consumed_)) != std::string::npos) {
      std::string line = output_.substr(consumed_, line_end - consumed_);
      consumed_ = line_end + 1;
      if (line.rfind(prefix, 0) == 0) return line;
    }
    OVERSYNC_ASSIGN_OR_RETURN(const bool open, ReadSome(deadline));
    if (!open) {
      return Error(ErrorCode::kIo, "output closed before \"" + std::string(prefix) + "\"");
    }
  }
}

void ChildProcess::Signal(int signal_number) const {
  if (pid_ > 0) ::kill(pid_, signal_number);  // never kill(-1, …)
}

Result<int> ChildProcess::WaitForExit(milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    OVERSYNC_ASSIGN_OR_RETURN(const bool open, ReadSome(deadline));
    if (!open) break;
  }
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return Error(ErrorCode::kIo, "waitpid failed");
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

Result<bool> ChildProcess::ReadSome(steady_clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) {
      return Error(ErrorCode::kDeadlineExceeded, "timed out; output so far:\n" + output_);
    }
    pollfd fd{out_.get(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // re-check the deadline
    std::array<char, 4096> chunk{};
    const ssize_t n = ::read(out_.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    output_.append(chunk.data(), static_cast<std::size_t>(n));
    return true;
  }
}

std::uint16_t PortFromListenLine(const std::string& line) {
  const std::size_t colon = line.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

EnvOverrides BaseEnv() {
  return {{"DATABASE_URL", std::nullopt},
          {"PORT", std::nullopt},
          {"OVERSYNCD_DATA_DIR", std::nullopt},
          {"OVERSYNCD_LISTEN_ADDR", std::nullopt},
          {"JWT_SECRET", "e2e-secret"},
          {"OVERSYNC_DB_POOL_MAX_CONNS", std::nullopt},
          {"OVERSYNC_DB_POOL_MIN_CONNS", std::nullopt},
          // The end-to-end tests pin go-oversync 1f1118f's behaviour, i.e. go_canonical_v1 at
          // the root; the wire-profile tests override these.
          {"OVERSYNCD_WIRE_PROFILE", "go_canonical_v1"},
          {"OVERSYNCD_SECOND_PROFILE_PATH", std::nullopt}};
}

void SetEnv(EnvOverrides& env, const std::string& name, std::optional<std::string> value) {
  for (auto& [key, existing] : env) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  env.emplace_back(name, std::move(value));
}

}  // namespace oversync::oversyncd::e2e
