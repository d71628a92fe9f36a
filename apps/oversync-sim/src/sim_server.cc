#include "sim_server.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "app.h"
#include "business_schema.h"
#include "config.h"
#include "local_postgres.h"
#include "oversync/http/message.h"
#include "oversync/http_beast/server.h"
#include "oversync/jwt/jwt.h"
#include "oversync/server/prometheus_metrics.h"
#include "oversync/server/runtime_service.h"
#include "pg.h"

namespace oversync::sim {
namespace {

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};

std::string QuoteConninfoValue(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string UniqueDatabaseName() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("oversync_sim_{}_{}", ::getpid(),
                     std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

}  // namespace

Result<std::string> WithDatabase(const std::string& conninfo, std::string_view database) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> options(
      PQconninfoParse(conninfo.c_str(), &error));
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    return Error(ErrorCode::kInvalidArgument, "invalid database url: " + message);
  }
  std::string out;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    const std::string_view keyword = option->keyword;
    if (keyword == "dbname" || option->val == nullptr) continue;
    out += fmt::format("{}={} ", keyword, QuoteConninfoValue(option->val));
  }
  out += fmt::format("dbname={}", QuoteConninfoValue(database));
  return out;
}

Result<std::string> TokenMinter::TokenFor(std::string_view user_id) const {
  if (jwt::TrimSpace(user_id).empty()) {
    return Error(ErrorCode::kInvalidArgument, "TokenFor: blank user id");
  }
  return jwt::SignHs256(jwt::ExampleClaims(user_id, clock_.Now(), lifetime_), secret_);
}

SimServer::SimServer(PrivateTag /*tag*/, SimServerOptions options)
    : options_(std::move(options)), runtime_logger_(options_.runtime_log_level) {}

SimServer::~SimServer() { static_cast<void>(Stop()); }

Result<std::unique_ptr<SimServer>> SimServer::Start(SimServerOptions options) {
  auto server = std::make_unique<SimServer>(PrivateTag{}, std::move(options));
  const SimServerOptions& opts = server->options_;

  // A database of our own: the reference server's bootstrap and the verification queries must
  // not see another run's scopes.
  if (opts.admin_dsn.empty()) {
    oversyncd::LocalPostgresOptions pg_options;
    pg_options.data_dir = opts.local_pg_dir;
    OVERSYNC_ASSIGN_OR_RETURN(server->local_postgres_, oversyncd::LocalPostgres::Start(pg_options));
    server->dsn_ = server->local_postgres_->dsn();
  } else {
    const std::string name = UniqueDatabaseName();
    OVERSYNC_ASSIGN_OR_RETURN(oversyncd::PgConnPtr admin, oversyncd::PgConnect(opts.admin_dsn));
    OVERSYNC_RETURN_IF_ERROR(oversyncd::PgExec(admin.get(), fmt::format("CREATE DATABASE {}", name))
                                 .WithContext("create the simulator database"));
    server->created_database_ = name;
    OVERSYNC_ASSIGN_OR_RETURN(server->dsn_, WithDatabase(opts.admin_dsn, name));
  }
  const std::string& dsn = server->dsn_;

  // oversyncd's startup order (server.md A.1): database check, business schema, runtime.
  server->probe_ = std::make_unique<oversyncd::DbProbe>(dsn);
  OVERSYNC_RETURN_IF_ERROR(server->probe_->Ping());
  {
    OVERSYNC_ASSIGN_OR_RETURN(oversyncd::PgConnPtr conn, oversyncd::PgConnect(dsn));
    OVERSYNC_RETURN_IF_ERROR(
        oversyncd::InitializeBusinessSchema(conn.get(), oversyncd::kDefaultBusinessSchema));
  }

  auto metrics = std::make_shared<PrometheusStageMetrics>();
  ServiceConfig config = oversyncd::ReferenceServiceConfig(metrics);
  config.wire_profile = opts.wire_profile;
  RuntimeOptions runtime_options;
  runtime_options.database_url = dsn;
  runtime_options.max_connections = opts.max_connections;
  runtime_options.clock = &server->clock_;
  runtime_options.logger = &server->runtime_logger_;
  OVERSYNC_ASSIGN_OR_RETURN(server->service_,
                            RuntimeService::Create(std::move(config), std::move(runtime_options)));
  OVERSYNC_RETURN_IF_ERROR(server->service_->Bootstrap());

  oversyncd::AppOptions app_options;
  app_options.jwt_secret = opts.jwt_secret;
  app_options.clock = &server->clock_;
  app_options.service = server->service_.get();
  app_options.dsn = dsn;
  app_options.business_schema = std::string(oversyncd::kDefaultBusinessSchema);
  app_options.metrics = metrics;
  app_options.log_requests = false;  // the simulator prints its own progress
  OVERSYNC_ASSIGN_OR_RETURN(server->app_,
                            oversyncd::App::Create(*server->probe_, std::move(app_options)));

  http_beast::BeastServerOptions server_options;
  server_options.bind_address = "127.0.0.1";
  server_options.port = 0;
  server_options.worker_threads = opts.worker_threads;
  // Go's http.Server timeouts (server.md A.1).
  server_options.read_timeout_ms = 120'000;
  server_options.write_timeout_ms = 120'000;
  server_options.idle_timeout_ms = 60'000;
  oversyncd::App* app = server->app_.get();
  std::shared_ptr<ServerCounters> counters = server->counters_;
  OVERSYNC_ASSIGN_OR_RETURN(
      server->server_,
      http_beast::BeastServer::Start(server_options, [app, counters](const http::Request& request) {
        http::Response response = app->Handle(request);
        counters->requests.fetch_add(1, std::memory_order_relaxed);
        if (response.status >= 500) {
          counters->server_errors.fetch_add(1, std::memory_order_relaxed);
        } else if (response.status >= 400) {
          counters->client_errors.fetch_add(1, std::memory_order_relaxed);
        }
        return response;
      }));
  server->base_url_ = fmt::format("http://127.0.0.1:{}", server->server_->port());
  return server;
}

Status SimServer::Stop() {
  if (stopped_) return {};
  stopped_ = true;
  if (server_ != nullptr) {
    server_->Stop();
    server_.reset();
  }
  if (service_ != nullptr) service_->Shutdown();
  app_.reset();
  service_.reset();
  probe_.reset();
  Status result;
  if (!created_database_.empty()) {
    Result<oversyncd::PgConnPtr> admin = oversyncd::PgConnect(options_.admin_dsn);
    if (!admin.has_value()) {
      result = admin.error();
    } else {
      result = oversyncd::PgExec(
          admin->get(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", created_database_));
    }
  }
  if (local_postgres_ != nullptr) {
    if (Status stopped = local_postgres_->Stop(); !stopped.ok() && result.ok()) {
      result = std::move(stopped);
    }
    local_postgres_.reset();
  }
  return result;
}

Result<std::unique_ptr<RuntimeService>> StartSideRuntime(const std::string& dsn,
                                                         const std::string& wire_profile) {
  ServiceConfig config = oversyncd::ReferenceServiceConfig(std::make_shared<PrometheusStageMetrics>());
  config.wire_profile = wire_profile;
  config.background_retention = false;  // the server owns its retention schedule
  RuntimeOptions runtime_options;
  runtime_options.database_url = dsn;
  runtime_options.max_connections = 4;
  OVERSYNC_ASSIGN_OR_RETURN(std::unique_ptr<RuntimeService> service,
                            RuntimeService::Create(std::move(config), std::move(runtime_options)));
  OVERSYNC_RETURN_IF_ERROR(service->Bootstrap());
  return service;
}

}  // namespace oversync::sim
