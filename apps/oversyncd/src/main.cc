// oversyncd: the reference sync server, a drop-in for go-oversync's examples/nethttp_server
// (server.md Appendix A). So far: configuration, PostgreSQL (external via DATABASE_URL or
// self-managed), the business schema (A.5), /syncx/health, /syncx/status, /dummy-signin (A.3),
// graceful shutdown.
//
// Environment: DATABASE_URL, PORT (default 8080), OVERSYNCD_LISTEN_ADDR (default 127.0.0.1),
// OVERSYNCD_DATA_DIR (default .oversyncd/pg, used when DATABASE_URL is unset), JWT_SECRET,
// OVERSYNC_DB_POOL_MAX_CONNS, OVERSYNC_DB_POOL_MIN_CONNS, OVERSYNC_LOG_STAGE_TIMINGS,
// OVERSYNCD_WORKER_THREADS (default 256; each open watch stream holds one),
// OVERSYNCD_WIRE_PROFILE (default jcs_uniform_numeric_strings_v1) and
// OVERSYNCD_SECOND_PROFILE_PATH (the other profile under that base path, default "/" + its name,
// "off" for none; docs/wire-profiles.md).
//
// Stdout: "oversyncd listening on http://HOST:PORT" once the listener is up (PORT=0 picks a free
// port), then, with the self-managed cluster only, "oversyncd database <libpq conninfo>".
//
// Signals: SIGINT and SIGTERM are blocked in every thread and taken synchronously by main with
// sigwait(), so there is no signal handler and no global state. Shutdown order: stop the HTTP
// server gracefully (in-flight requests finish), then stop the self-managed cluster. Exit
// status 0 after a clean shutdown, 1 if startup fails.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "app.h"
#include "business_schema.h"
#include "config.h"
#include "local_postgres.h"
#include "log.h"
#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/http_beast/server.h"
#include "oversync/server/runtime_service.h"
#include "pg.h"

namespace oversync::oversyncd {
namespace {

std::optional<std::string> GetEnv(std::string_view name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read at startup, before any thread exists
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string UrlHost(const std::string& address) {
  return address.find(':') == std::string::npos ? address : "[" + address + "]";
}

// `oversyncd adopt [SCOPE...]`: brings rows that existed before sync under it (all unadopted
// scopes when none is named), prints one line per scope and exits (server.md §10.1 item 2).
int Adopt(RuntimeService& service, const std::vector<std::string>& requested) {
  std::vector<std::string> scopes = requested;
  if (scopes.empty()) {
    auto unadopted = service.ListUnadoptedScopes();
    if (!unadopted) {
      Log("cannot list unadopted scopes: {}", unadopted.error().ToString());
      return 1;
    }
    scopes = std::move(*unadopted);
  }
  int failures = 0;
  for (const std::string& scope : scopes) {
    auto adopted = service.AdoptScope(scope, "oversyncd-adopt");
    if (!adopted) {
      Log("adopt {}: failed: {}", scope, adopted.error().ToString());
      ++failures;
    } else if (!adopted->has_value()) {
      Log("adopt {}: nothing to adopt", scope);
    } else {
      Log("adopt {}: bundle_seq {} with {} rows{}", scope, (*adopted)->bundle.bundle_seq,
          (*adopted)->bundle.row_count,
          (*adopted)->auto_initialized ? " (scope initialized)" : "");
    }
  }
  Log("adopt: {} scope(s), {} failed", scopes.size(), failures);
  return failures == 0 ? 0 : 1;
}

int Run(const sigset_t& stop_signals, const std::vector<std::string>& args) {
  Result<Config> config = ConfigFromEnv(GetEnv);
  if (!config.has_value()) {
    Log("invalid configuration: {}", config.error().message());
    return 1;
  }
  if (config->jwt_secret_defaulted) {
    // Go: logger.Warn("Using default JWT secret - change in production!") (server.md A.1).
    Log("WARN Using default JWT secret - change in production!");
  }

  std::unique_ptr<LocalPostgres> local_postgres;
  std::string dsn = config->database_url;
  if (dsn.empty()) {
    LocalPostgresOptions options;
    options.data_dir = config->data_dir;
    Result<std::unique_ptr<LocalPostgres>> started = LocalPostgres::Start(options);
    if (!started.has_value()) {
      Log("cannot start the local PostgreSQL cluster: {}", started.error().message());
      return 1;
    }
    local_postgres = std::move(*started);
    dsn = local_postgres->dsn();
  }

  // The Go server pings the database at startup and aborts if that fails (server.md A.1).
  DbProbe db(dsn);
  if (const Status ping = db.Ping(); !ping.ok()) {
    Log("database check failed: {}", ping.message());
    return 1;
  }

  // Then the business tables, in one transaction, before anything else touches the database
  // (server.md A.1 startup order, A.5).
  {
    Result<PgConnPtr> conn = PgConnect(dsn);
    if (!conn.has_value()) {
      Log("database check failed: {}", conn.error().message());
      return 1;
    }
    if (const Status created = InitializeBusinessSchema(conn->get(), kDefaultBusinessSchema);
        !created.ok()) {
      Log("cannot initialize the business schema: {}", created.message());
      return 1;
    }
    Log("Initialized business schema and tables (schema {})", kDefaultBusinessSchema);
  }

  const SystemClock clock{};
  // The Go example's ServiceConfig (server.md A.1), bundle-change watch enabled on the default
  // channel with the default 25 s heartbeat; stage timings for GET /metrics (an extension).
  auto metrics = std::make_shared<PrometheusStageMetrics>();
  ServiceConfig service_config = ReferenceServiceConfig(metrics);
  service_config.wire_profile = config->wire_profile;
  // The other profile's mount, on the same database (docs/wire-profiles.md).
  std::optional<ServiceConfig> second_config;
  if (!config->second_profile_path.empty()) {
    second_config = service_config;
    second_config->wire_profile = OtherWireProfile(config->wire_profile);
  }
  RuntimeOptions runtime_options;
  runtime_options.database_url = dsn;
  runtime_options.max_connections = config->pool_max_conns;
  runtime_options.clock = &clock;
  StderrLogger runtime_logger(LogLevel::kInfo);
  runtime_options.logger = &runtime_logger;
  Result<std::unique_ptr<RuntimeService>> service =
      RuntimeService::Create(std::move(service_config), std::move(runtime_options));
  if (!service.has_value()) {
    Log("cannot create the sync runtime: {}", service.error().ToString());
    return 1;
  }
  if (auto report = (*service)->Bootstrap(); !report.has_value()) {
    Log("sync bootstrap failed: {}", report.error().ToString());
    return 1;
  }
  std::unique_ptr<RuntimeService> second_service;
  if (second_config) {
    RuntimeOptions second_options;
    second_options.database_url = dsn;
    second_options.max_connections = SecondMountPoolSize(*config);
    second_options.clock = &clock;
    second_options.logger = &runtime_logger;
    Result<std::unique_ptr<RuntimeService>> created =
        RuntimeService::Create(std::move(*second_config), std::move(second_options));
    if (!created.has_value()) {
      Log("cannot create the second sync runtime: {}", created.error().ToString());
      return 1;
    }
    if (auto report = (*created)->Bootstrap(); !report.has_value()) {
      Log("second sync bootstrap failed: {}", report.error().ToString());
      return 1;
    }
    second_service = std::move(*created);
  }
  if (!args.empty() && args.front() == "adopt") {
    return Adopt(**service, std::vector<std::string>(args.begin() + 1, args.end()));
  }

  AppOptions app_options;
  app_options.jwt_secret = config->jwt_secret;
  app_options.clock = &clock;
  app_options.service = service->get();
  app_options.dsn = dsn;
  app_options.business_schema = std::string(kDefaultBusinessSchema);
  app_options.metrics = metrics;
  app_options.second_service = second_service.get();
  app_options.second_base_path = config->second_profile_path;
  Result<std::unique_ptr<App>> app = App::Create(db, std::move(app_options));
  if (!app.has_value()) {
    Log("{}", app.error().ToString());
    return 1;
  }

  http_beast::BeastServerOptions server_options;
  server_options.bind_address = config->listen_address;
  server_options.port = config->port;
  // Go's http.Server: ReadTimeout 120 s, WriteTimeout 120 s, IdleTimeout 60 s (server.md A.1).
  server_options.read_timeout_ms = 120'000;
  server_options.write_timeout_ms = 120'000;
  server_options.idle_timeout_ms = 60'000;
  server_options.worker_threads = config->worker_threads;
  App* handler_app = app->get();
  Result<std::unique_ptr<http_beast::BeastServer>> server = http_beast::BeastServer::Start(
      server_options,
      [handler_app](const http::Request& request) { return handler_app->Handle(request); });
  if (!server.has_value()) {
    Log("cannot listen: {}", server.error().message());
    return 1;
  }
  fmt::print(stdout, "oversyncd listening on http://{}:{}\n", UrlHost(config->listen_address),
             (*server)->port());
  fmt::print(stdout, "oversyncd wire profile {} at /{}\n", config->wire_profile,
             config->second_profile_path.empty()
                 ? std::string()
                 : fmt::format("; {} at {}", OtherWireProfile(config->wire_profile),
                               config->second_profile_path));
  if (local_postgres != nullptr) {
    // The self-managed cluster trusts loopback connections and has no password, so its
    // conninfo is safe to print; scripts/demo.sh reads it to verify the simulator's runs in
    // PostgreSQL. (An external DATABASE_URL is never printed: it may carry a password.)
    fmt::print(stdout, "oversyncd database {}\n", dsn);
  }
  std::fflush(stdout);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  Log("received {}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Stop();  // in-flight requests finish first
  server->reset();
  if (second_service) second_service->Shutdown();
  (*service)->Shutdown();
  if (local_postgres != nullptr) {
    if (const Status stopped = local_postgres->Stop(); !stopped.ok()) {
      Log("{}", stopped.message());
      return 1;
    }
  }
  Log("stopped");
  return 0;
}

}  // namespace
}  // namespace oversync::oversyncd

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (!args.empty() && args.front() != "adopt") {
    std::fputs("usage: oversyncd [adopt [SCOPE...]]\n", stderr);
    return 2;
  }
  // Block the stop signals before any thread starts, so every thread inherits the mask and only
  // sigwait() in Run() receives them. SIGPIPE is ignored: a vanished client is an error code.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) return 1;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  try {
    return oversync::oversyncd::Run(stop_signals, args);
  } catch (const std::exception& e) {
    std::fputs("oversyncd: fatal: ", stderr);
    std::fputs(e.what(), stderr);
    std::fputs("\n", stderr);
  } catch (...) {
    std::fputs("oversyncd: fatal: unknown exception\n", stderr);
  }
  return 1;
}
