#include "shards.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace oversync::sim {
namespace {

SimReport FailedShare(int child, std::string reason) {
  SimReport report;
  ScenarioResult failure;
  failure.name = "process";
  failure.user = fmt::format("p{}", child);
  failure.passed = false;
  failure.reason = std::move(reason);
  report.results.push_back(std::move(failure));
  report.failed = 1;
  return report;
}

std::vector<std::string> ChildArguments(const ShardPlan& plan, int child, const ShardShare& share,
                                        const std::filesystem::path& json_path) {
  std::vector<std::string> args = {plan.executable.string(),
                                   "--server", plan.server_url,
                                   "--jwt-secret", plan.jwt_secret,
                                   "--wire-profile", plan.wire_profile,
                                   "--scenario", plan.scenario,
                                   "--parallel", std::to_string(share.users),
                                   "--first-user", std::to_string(share.first_user),
                                   "--total-users", std::to_string(plan.users),
                                   "--run-id", plan.run_id,
                                   "--workdir", (plan.workdir / fmt::format("p{}", child)).string(),
                                   "--json", json_path.string(),
                                   "--progress-prefix", fmt::format("p{} ", child),
                                   "--latency-samples",
                                   "--no-summary"};
  if (!plan.database_url.empty()) {
    args.emplace_back("--database-url");
    args.push_back(plan.database_url);
  }
  if (plan.discard_device_files) args.emplace_back("--discard-device-files");
  if (plan.verbose) args.emplace_back("--verbose");
  return args;
}

}  // namespace

ShardShare ShareOf(int users, int processes, int child) {
  const int base = users / processes;
  const int extra = users % processes;  // the first `extra` children take one more user
  ShardShare share;
  share.users = base + (child < extra ? 1 : 0);
  share.first_user = child * base + std::min(child, extra);
  return share;
}

std::vector<SimReport> RunShards(const ShardPlan& plan,
                                 const std::function<void(std::string_view)>& emit) {
  std::error_code error;
  std::filesystem::create_directories(plan.workdir, error);
  std::vector<pid_t> pids(static_cast<std::size_t>(plan.processes), -1);
  std::vector<SimReport> reports(static_cast<std::size_t>(plan.processes));
  std::vector<std::filesystem::path> json_paths(static_cast<std::size_t>(plan.processes));
  for (int child = 0; child < plan.processes; ++child) {
    const auto slot = static_cast<std::size_t>(child);
    json_paths[slot] = plan.workdir / fmt::format("p{}.json", child);
    std::filesystem::remove(json_paths[slot], error);
    const ShardShare share = ShareOf(plan.users, plan.processes, child);
    std::vector<std::string> args = ChildArguments(plan, child, share, json_paths[slot]);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    // The children inherit stdout/stderr: their progress lines (prefixed p<i>) appear as they
    // happen. Descriptors of the server and the database are close-on-exec.
    const int rc = ::posix_spawn(&pid, plan.executable.c_str(), nullptr, nullptr, argv.data(),
                                 environ);
    if (rc != 0) {
      reports[slot] = FailedShare(child, fmt::format("cannot start {}: {}",
                                                     plan.executable.string(), std::strerror(rc)));
      continue;
    }
    pids[slot] = pid;
    emit(fmt::format("process p{} (pid {}): users {}..{}", child, pid, share.first_user,
                     share.first_user + share.users - 1));
  }
  for (int child = 0; child < plan.processes; ++child) {
    const auto slot = static_cast<std::size_t>(child);
    if (pids[slot] < 0) continue;
    int status = 0;
    pid_t waited = -1;
    do {
      waited = ::waitpid(pids[slot], &status, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited < 0) {
      reports[slot] = FailedShare(child, fmt::format("waitpid: {}", std::strerror(errno)));
      continue;
    }
    if (WIFSIGNALED(status)) {
      reports[slot] = FailedShare(child, fmt::format("killed by signal {}", WTERMSIG(status)));
      continue;
    }
    const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    Result<SimReport> parsed = Error(ErrorCode::kIo, "no report file");
    if (std::ifstream file(json_paths[slot], std::ios::binary); file.is_open()) {
      std::stringstream text;
      text << file.rdbuf();
      parsed = ParseReportJson(text.str());
    }
    if (exit_code == 2 || !parsed.has_value()) {
      reports[slot] = FailedShare(
          child, fmt::format("exited with status {} without a usable report ({})", exit_code,
                             parsed.has_value() ? "setup error" : parsed.error().message()));
      continue;
    }
    reports[slot] = std::move(*parsed);
  }
  return reports;
}

}  // namespace oversync::sim
