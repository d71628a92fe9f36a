// File: apps/oversync-sim/src/sim_server.h
//
// The reference server (apps/oversyncd) run in-process for the simulator, wired like oversyncd's
// main.cc: a PostgreSQL database, the business schema, the sync runtime with the eight example
// tables and bundle-change watch, the App (JWT auth, /sync/*, /test/*) behind a BeastServer on a
// kernel-chosen loopback port.
//
// Database: with `admin_dsn` set, a fresh database with a unique name is created on that server
// (and dropped by Stop); without it, a throwaway PostgreSQL cluster is started in
// `local_pg_dir` (oversyncd's LocalPostgres) and stopped by Stop. Nothing here reads the
// environment: the app decides which DSN to pass.
//
// Thread-safety: accessors and the counters are thread-safe; Stop() and the destructor must not
// run concurrently with each other or from a server thread.
#ifndef OVERSYNC_SIM_SIM_SERVER_H_
#define OVERSYNC_SIM_SIM_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/common/status.h"

namespace oversync::oversyncd {
class App;
class DbProbe;
class LocalPostgres;
}  // namespace oversync::oversyncd
namespace oversync::http_beast {
class BeastServer;
}  // namespace oversync::http_beast
namespace oversync {
class RuntimeService;
}  // namespace oversync

namespace oversync::sim {

struct SimServerOptions {
  // libpq conninfo (keyword form or URI) of a PostgreSQL server on which a fresh database is
  // created. Empty = start a private cluster in local_pg_dir.
  std::string admin_dsn;
  // Data directory of the private cluster (used only when admin_dsn is empty).
  std::filesystem::path local_pg_dir;
  // HMAC secret the App verifies bearer tokens with.
  std::string jwt_secret;
  // Runtime connection pool and HTTP handler threads.
  int max_connections = 32;
  int worker_threads = 16;
  // Runtime log lines at or above this level go to stderr.
  LogLevel runtime_log_level = LogLevel::kError;
  // ServiceConfig::wire_profile of the server.
  std::string wire_profile = "jcs_uniform_numeric_strings_v1";
};

// A runtime over an existing server's database (oversyncd's registered tables, `wire_profile`,
// no HTTP, no background retention), bootstrapped: what a second server process sharing the
// database would run. The simulator uses it against an external server for server-originated
// writes and retention passes. Errors: whatever RuntimeService::Create / Bootstrap return (e.g.
// a database whose layout or tables differ).
Result<std::unique_ptr<RuntimeService>> StartSideRuntime(const std::string& dsn,
                                                         const std::string& wire_profile);

// Answers by status class, counted by the handler wrapper.
struct ServerCounters {
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> client_errors{0};  // 4xx
  std::atomic<std::int64_t> server_errors{0};  // 5xx
};

class SimServer {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Errors: kUnavailable (PostgreSQL unreachable or not startable), kDatabase (schema or
  // database creation), anything the runtime or listener startup returns.
  static Result<std::unique_ptr<SimServer>> Start(SimServerOptions options);

  SimServer(PrivateTag /*tag*/, SimServerOptions options);
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;
  SimServer(SimServer&&) = delete;
  SimServer& operator=(SimServer&&) = delete;
  ~SimServer();

  // "http://127.0.0.1:PORT".
  const std::string& base_url() const noexcept { return base_url_; }
  // conninfo of the database the server uses (for verification).
  const std::string& dsn() const noexcept { return dsn_; }
  const ServerCounters& counters() const noexcept { return *counters_; }
  RuntimeService& service() { return *service_; }

  // Stops HTTP (in-flight requests finish), the runtime, then drops the database or stops the
  // private cluster. Idempotent; cleanup errors are reported in the returned Status.
  Status Stop();

 private:
  const SimServerOptions options_;
  const SystemClock clock_{};
  StderrLogger runtime_logger_;
  std::shared_ptr<ServerCounters> counters_ = std::make_shared<ServerCounters>();
  std::unique_ptr<oversyncd::LocalPostgres> local_postgres_;
  std::string created_database_;  // dropped by Stop (admin_dsn mode)
  std::string dsn_;
  std::unique_ptr<oversyncd::DbProbe> probe_;
  std::unique_ptr<RuntimeService> service_;
  std::unique_ptr<oversyncd::App> app_;
  std::unique_ptr<http_beast::BeastServer> server_;
  std::string base_url_;
  bool stopped_ = false;
};

// Mints the reference server's HS256 bearer tokens (jwt::ExampleClaims). Thread-safe.
class TokenMinter {
 public:
  explicit TokenMinter(std::string secret, std::chrono::seconds lifetime = std::chrono::hours(1))
      : secret_(std::move(secret)), lifetime_(lifetime) {}
  // Errors: kInvalidArgument for a blank user id.
  Result<std::string> TokenFor(std::string_view user_id) const;

 private:
  const std::string secret_;
  const std::chrono::seconds lifetime_;
  const SystemClock clock_{};
};

// `conninfo` (keyword form or URI) with its dbname replaced. Errors: kInvalidArgument.
Result<std::string> WithDatabase(const std::string& conninfo, std::string_view database);

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_SIM_SERVER_H_
