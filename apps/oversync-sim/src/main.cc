// oversync-sim: the device simulator (client.md §10, go-oversync examples/mobile_flow). Devices
// are real oversqlite clients on file-backed SQLite databases talking to the reference server
// over HTTP; every scenario verifies on the devices and in PostgreSQL.
//
//   oversync-sim [--server URL] [--database-url DSN] [--jwt-secret S] [--wire-profile NAME]
//                [--scenario NAME|all|watch-all] [--parallel N] [--processes K] [--run-id ID]
//                [--json PATH] [--workdir DIR] [--verbose]
//
// Without --server the reference server runs in-process on a fresh database of DATABASE_URL (or
// --database-url), or on a private PostgreSQL cluster when neither is set. With --server,
// --database-url is that server's database (verification); --jwt-secret must match its
// JWT_SECRET. Exit status: 0 when every scenario passed, 1 when one failed, 2 for bad usage or
// setup errors.
#include <fmt/format.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scenario.h"
#include "simulator.h"

namespace {

// Every simulated device holds SQLite files and HTTP connections (a watcher: about ten
// descriptors, the in-process server's side included); watch-all with 500 users runs 4,000
// devices in this one process. Raise the descriptor limit as far as the system lets us: the soft
// limit to the hard one, and the hard one too where permitted (root); report what we got.
void RaiseDescriptorLimit() {
  constexpr rlim_t kWanted = 1 << 20;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlimit raised = limit;
  raised.rlim_cur = raised.rlim_max = std::max<rlim_t>(limit.rlim_max, kWanted);
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  raised = limit;
  raised.rlim_cur = limit.rlim_max;
  (void)setrlimit(RLIMIT_NOFILE, &raised);
}
constexpr std::string_view kUsage = R"(usage: oversync-sim [options]
  --server URL          run against this server (default: start the reference server in-process)
  --database-url DSN    in-process: PostgreSQL to create a fresh database on (default: $DATABASE_URL,
                        else a private cluster); with --server: its database, for verification
  --jwt-secret S        HMAC secret of the bearer tokens (default: oversyncd's default secret,
                        or $JWT_SECRET)
  --wire-profile NAME   jcs_uniform_numeric_strings_v1 (default) or go_canonical_v1: the contract
                        the devices speak and the in-process server serves (with --server: the
                        one that server serves at URL; oversyncd serves the other one under
                        /go_canonical_v1 or /jcs_uniform_numeric_strings_v1)
  --scenario NAME       a scenario, all (default) or watch-all
  --parallel N          users running concurrently, each with its own devices (1..500, default 1)
  --processes K         spread the users over K simulator processes (1..64, default 1; each
                        process has its own descriptor limit: use it when one process cannot
                        open enough files, e.g. watch-all with hundreds of users)
  --run-id ID           prefix of the user ids (default: derived from the time and pid)
  --json PATH           write a JSON report
  --workdir DIR         keep the SQLite files in DIR (default: a temporary directory, removed)
  --verbose             print every step
  --list                list the scenarios
internal (set by --processes for its child processes): --first-user N, --total-users N,
  --progress-prefix P, --latency-samples, --discard-device-files, --no-summary
)";

std::optional<std::string> GetEnv(const char* name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read at startup, before any thread exists
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int Run(const std::vector<std::string>& args) {
  oversync::sim::SimOptions options;
  std::string json_path;
  bool database_url_given = false;
  bool print_summary = true;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (const std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (arg == "--verbose") {
      options.verbose = true;
      continue;
    }
    if (arg == "--latency-samples") {
      options.latency_samples_in_json = true;
      continue;
    }
    if (arg == "--discard-device-files") {
      options.discard_device_files = true;
      continue;
    }
    if (arg == "--no-summary") {
      print_summary = false;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
    if (arg == "--list") {
      for (const oversync::sim::ScenarioDef& def : oversync::sim::Scenarios()) {
        fmt::print("{:<33} {}{}\n", def.name, def.summary, def.watch ? " (watch-all)" : "");
      }
      return 0;
    }
    const std::optional<std::string> v = value();
    if (!v) {
      fmt::print(stderr, "oversync-sim: {} needs a value\n{}", arg, kUsage);
      return 2;
    }
    if (arg == "--server") {
      options.server_url = *v;
    } else if (arg == "--database-url") {
      options.database_url = *v;
      database_url_given = true;
    } else if (arg == "--jwt-secret") {
      options.jwt_secret = *v;
    } else if (arg == "--wire-profile") {
      if (*v != "jcs_uniform_numeric_strings_v1" && *v != "go_canonical_v1") {
        fmt::print(stderr,
                   "oversync-sim: --wire-profile must be jcs_uniform_numeric_strings_v1 or "
                   "go_canonical_v1\n");
        return 2;
      }
      options.wire_profile = *v;
    } else if (arg == "--scenario") {
      options.scenario = *v;
    } else if (arg == "--parallel" || arg == "--processes" || arg == "--first-user" ||
               arg == "--total-users") {
      int number = 0;
      try {
        std::size_t used = 0;
        number = std::stoi(*v, &used);
        if (used != v->size()) throw std::invalid_argument(*v);
      } catch (const std::exception&) {
        fmt::print(stderr, "oversync-sim: {} needs a number\n", arg);
        return 2;
      }
      if (arg == "--parallel") options.parallel = number;
      if (arg == "--processes") options.processes = number;
      if (arg == "--first-user") options.first_user = number;
      if (arg == "--total-users") options.total_users = number;
    } else if (arg == "--run-id") {
      options.run_id = *v;
    } else if (arg == "--progress-prefix") {
      options.progress_prefix = *v;
    } else if (arg == "--json") {
      json_path = *v;
    } else if (arg == "--workdir") {
      options.workdir = *v;
    } else {
      fmt::print(stderr, "oversync-sim: unknown option {}\n{}", arg, kUsage);
      return 2;
    }
  }
  // Only the in-process server falls back to DATABASE_URL: an external server's database must
  // be named explicitly.
  if (!database_url_given && options.server_url.empty()) {
    options.database_url = GetEnv("DATABASE_URL").value_or("");
  }
  if (options.jwt_secret.empty()) options.jwt_secret = GetEnv("JWT_SECRET").value_or("");
  options.progress = [](std::string_view line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  };

  oversync::Result<oversync::sim::SimReport> report = oversync::sim::RunSimulator(options);
  if (!report.has_value()) {
    fmt::print(stderr, "oversync-sim: {}\n", report.error().message());
    return 2;
  }
  if (print_summary) fmt::print("{}", oversync::sim::FormatSummary(*report));
  if (!json_path.empty()) {
    std::ofstream file(json_path, std::ios::binary | std::ios::trunc);
    file << oversync::sim::ReportJson(*report);
    if (!file.good()) {
      fmt::print(stderr, "oversync-sim: cannot write {}\n", json_path);
      return 2;
    }
    if (print_summary) fmt::print("report       {}\n", json_path);
  }
  return report->AllPassed() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A vanished peer is an error code, not a signal.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  RaiseDescriptorLimit();
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  try {
    return Run(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "oversync-sim: fatal: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "oversync-sim: fatal: unknown exception\n");
  }
  return 2;
}
