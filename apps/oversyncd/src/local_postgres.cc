#include "local_postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "log.h"
#include "pg.h"
#include "process.h"

namespace oversync::oversyncd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFallbackBinDir = "/usr/lib/postgresql/15/bin";
constexpr int kStartAttempts = 5;  // a free port can be taken between probing and binding
// sun_path holds 108 bytes; "<dir>/.s.PGSQL.65535" plus the terminating NUL must fit.
constexpr std::size_t kMaxSocketDirBytes = 107 - sizeof("/.s.PGSQL.65535") + 1;

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

bool HasTools(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::exists(dir / "initdb", ec) && fs::exists(dir / "pg_ctl", ec);
}

Result<fs::path> FindBinDir(const fs::path& configured) {
  if (!configured.empty()) {
    if (HasTools(configured)) return configured;
    return Error(ErrorCode::kUnavailable, "no initdb/pg_ctl in " + configured.string());
  }
  if (Result<std::string> out = RunAndCapture({"pg_config", "--bindir"}); out.has_value()) {
    const fs::path dir = Trim(*out);
    if (HasTools(dir)) return dir;
  }
  if (HasTools(kFallbackBinDir)) return fs::path(kFallbackBinDir);
  return Error(ErrorCode::kUnavailable,
               "PostgreSQL server binaries (initdb, pg_ctl) not found via `pg_config --bindir` "
               "or in /usr/lib/postgresql/15/bin; install postgresql-15 or set DATABASE_URL");
}

std::string RunuserPath() {
  std::error_code ec;
  for (const char* candidate : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
    if (fs::exists(candidate, ec)) return candidate;
  }
  return "runuser";  // PATH lookup
}

Result<std::uint16_t> PickFreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX sockaddr idiom
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Error(ErrorCode::kIo, std::string("bind: ") + std::strerror(errno));
  }
  socklen_t length = sizeof(address);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the POSIX sockaddr idiom
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error(ErrorCode::kIo, std::string("getsockname: ") + std::strerror(errno));
  }
  return ntohs(address.sin_port);
}

struct PostmasterPid {
  pid_t pid = 0;
  std::uint16_t port = 0;
};

// postmaster.pid: line 1 = PID, line 4 = port (PostgreSQL's LOCK_FILE_LINE_* layout).
std::optional<PostmasterPid> ReadPostmasterPid(const fs::path& data_dir) {
  std::ifstream in(data_dir / "postmaster.pid");
  if (!in) return std::nullopt;
  std::array<std::string, 4> lines;
  for (std::string& line : lines) {
    if (!std::getline(in, line)) return std::nullopt;
  }
  PostmasterPid result;
  long pid = 0;
  if (std::from_chars(lines[0].data(), lines[0].data() + lines[0].size(), pid).ec != std::errc() ||
      pid <= 0 ||
      std::from_chars(lines[3].data(), lines[3].data() + lines[3].size(), result.port).ec !=
          std::errc()) {
    return std::nullopt;
  }
  result.pid = static_cast<pid_t>(pid);
  return result;
}

bool ProcessAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

Result<std::unique_ptr<LocalPostgres>> LocalPostgres::Start(const LocalPostgresOptions& options) {
  std::error_code ec;
  const fs::path data_dir = fs::absolute(options.data_dir, ec).lexically_normal();
  if (ec) {
    return Error(ErrorCode::kIo,
                 "data directory " + options.data_dir.string() + ": " + ec.message());
  }
  OVERSYNC_ASSIGN_OR_RETURN(fs::path bin_dir, FindBinDir(options.bin_dir));

  RunAs run_as;
  if (::geteuid() == 0) {
    passwd entry{};
    passwd* user = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwnam_r("postgres", &entry, buffer.data(), buffer.size(), &user) != 0 ||
        user == nullptr) {
      return Error(ErrorCode::kUnavailable,
                   "running as root, but there is no `postgres` OS user to run PostgreSQL as");
    }
    run_as = RunAs{true, user->pw_uid, user->pw_gid};
  }

  fs::create_directories(data_dir, ec);
  if (ec) return Error(ErrorCode::kIo, "creating " + data_dir.string() + ": " + ec.message());
  if (run_as.via_runuser && ::chown(data_dir.c_str(), run_as.uid, run_as.gid) != 0) {
    return Error(ErrorCode::kIo, "chown " + data_dir.string() + ": " + std::strerror(errno));
  }

  auto cluster = std::make_unique<LocalPostgres>(PrivateTag{}, data_dir, bin_dir, run_as);
  OVERSYNC_RETURN_IF_ERROR(cluster->InitDbIfNeeded());
  if (!cluster->AdoptRunningCluster()) OVERSYNC_RETURN_IF_ERROR(cluster->StartCluster());

  const std::string admin =
      fmt::format("host=127.0.0.1 port={} user=postgres dbname=postgres", cluster->port_);
  OVERSYNC_RETURN_IF_ERROR(CreateDatabaseIfMissing(admin, options.database));
  cluster->dsn_ = fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", cluster->port_,
                              options.database);
  return cluster;
}

LocalPostgres::~LocalPostgres() {
  try {
    const Status status = Stop();
    if (!status.ok()) Log("{}", status.ToString());
  } catch (...) {
    // Out of memory while stopping: nothing more can be done from a destructor.
  }
}

std::vector<std::string> LocalPostgres::PgCommand(const std::string& tool,
                                                  std::vector<std::string> args) const {
  std::vector<std::string> argv;
  if (run_as_.via_runuser) argv = {RunuserPath(), "-u", "postgres", "--"};
  argv.push_back((bin_dir_ / tool).string());
  for (std::string& arg : args) argv.push_back(std::move(arg));
  return argv;
}

Status LocalPostgres::InitDbIfNeeded() {
  std::error_code ec;
  if (fs::exists(data_dir_ / "PG_VERSION", ec)) return Status::Ok();
  Log("initializing PostgreSQL cluster in {}", data_dir_.string());
  SpawnOptions quiet;  // progress chatter; errors still reach stderr
  quiet.child_stdout = SpawnOptions::Stdout::kDiscard;
  OVERSYNC_ASSIGN_OR_RETURN(
      const int exit_code,
      RunCommand(PgCommand("initdb", {"-D", data_dir_.string(), "-U", "postgres", "-A", "trust",
                                      "-E", "UTF8", "--locale=C.UTF-8"}),
                 quiet));
  if (exit_code != 0) {
    return Status(
        ErrorCode::kUnavailable,
        fmt::format("initdb failed with exit status {}{}", exit_code,
                    run_as_.via_runuser ? " (as root, the data directory and all its parent "
                                          "directories must be accessible to the postgres user)"
                                        : ""));
  }
  return Status::Ok();
}

bool LocalPostgres::AdoptRunningCluster() {
  const std::optional<PostmasterPid> pid_file = ReadPostmasterPid(data_dir_);
  if (!pid_file || !ProcessAlive(pid_file->pid)) return false;
  SpawnOptions quiet;
  quiet.child_stdout = SpawnOptions::Stdout::kDiscard;
  const Result<int> status =
      RunCommand(PgCommand("pg_ctl", {"status", "-D", data_dir_.string()}), quiet);
  if (!status.has_value() || *status != 0) return false;
  port_ = pid_file->port;
  started_by_us_ = false;
  Log("reusing the PostgreSQL cluster already running in {} (pid {}, port {}); it stays running "
      "on exit",
      data_dir_.string(), pid_file->pid, port_);
  return true;
}

Status LocalPostgres::StartCluster() {
  const std::string dir = data_dir_.string();
  const std::string socket_option = dir.size() <= kMaxSocketDirBytes
                                        ? "-k " + ShellQuote(dir)
                                        : std::string("-c unix_socket_directories=''");
  const std::string log_file = (data_dir_ / "oversyncd-postgres.log").string();
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    OVERSYNC_ASSIGN_OR_RETURN(const std::uint16_t port, PickFreeLoopbackPort());
    // pg_ctl hands -o to /bin/sh, hence the quoting.
    const std::string postgres_options =
        fmt::format("-p {} -c listen_addresses=127.0.0.1 {}", port, socket_option);
    SpawnOptions spawn;
    spawn.new_session = true;  // keep the terminal's Ctrl-C away from the postmaster
    spawn.child_stdout = SpawnOptions::Stdout::kDiscard;
    OVERSYNC_ASSIGN_OR_RETURN(
        const int exit_code,
        RunCommand(PgCommand("pg_ctl", {"-D", dir, "-l", log_file, "-w", "-t", "60", "-o",
                                        postgres_options, "start"}),
                   spawn));
    if (exit_code == 0) {
      port_ = port;
      started_by_us_ = true;
      Log("started PostgreSQL on 127.0.0.1:{} (data directory {})", port_, dir);
      return Status::Ok();
    }
    Log("pg_ctl start failed with exit status {} (attempt {} of {}); see {}", exit_code, attempt,
        kStartAttempts, log_file);
  }
  return Status(ErrorCode::kUnavailable, "could not start PostgreSQL; see " + log_file);
}

Status LocalPostgres::Stop() {
  if (!started_by_us_ || stopped_) return Status::Ok();
  stopped_ = true;
  const std::optional<PostmasterPid> pid_file = ReadPostmasterPid(data_dir_);
  if (!pid_file || !ProcessAlive(pid_file->pid)) {
    Log("PostgreSQL in {} is already stopped", data_dir_.string());
    return Status::Ok();
  }
  Log("stopping PostgreSQL (data directory {})", data_dir_.string());
  SpawnOptions quiet;
  quiet.child_stdout = SpawnOptions::Stdout::kDiscard;
  OVERSYNC_ASSIGN_OR_RETURN(const int exit_code,
                            RunCommand(PgCommand("pg_ctl", {"-D", data_dir_.string(), "-m", "fast",
                                                            "-w", "-t", "60", "stop"}),
                                       quiet));
  if (exit_code != 0) {
    return Status(ErrorCode::kUnavailable,
                  fmt::format("pg_ctl stop failed with exit status {}", exit_code));
  }
  return Status::Ok();
}

}  // namespace oversync::oversyncd
