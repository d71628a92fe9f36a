#include "app.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "auth.h"
#include "business_schema.h"
#include "config.h"
#include "dummy_signin.h"
#include "log.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"

namespace oversync::oversyncd {

std::string OtherWireProfile(std::string_view profile) {
  return profile == "jcs_uniform_numeric_strings_v1" ? "go_canonical_v1"
                                                     : "jcs_uniform_numeric_strings_v1";
}

ServiceConfig ReferenceServiceConfig(std::shared_ptr<PrometheusStageMetrics> metrics) {
  ServiceConfig config;
  config.bundle_change_watch.enabled = true;
  config.stage_metrics = std::move(metrics);
  config.max_supported_schema_version = 1;
  config.app_name = std::string(kAppName);
  for (const char* table : {"users", "posts", "categories", "teams", "team_members", "files",
                            "file_reviews", "typed_rows"}) {
    config.registered_tables.push_back({std::string(kDefaultBusinessSchema), table, {"id"}});
  }
  return config;
}
namespace {

// Reference CORS middleware (protocol.md §1.3, server.md A.2).
void AddCorsHeaders(http::Response& response) {
  response.SetHeader("Access-Control-Allow-Origin", "*");
  response.SetHeader("Access-Control-Allow-Headers",
                     "Authorization, Content-Type, Oversync-Source-ID");
  response.SetHeader("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  response.SetHeader("Access-Control-Max-Age", "600");
}

class InflightGuard {
 public:
  explicit InflightGuard(std::atomic<std::int64_t>& counter) noexcept : counter_(counter) {
    counter_.fetch_add(1);
  }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;
  InflightGuard(InflightGuard&&) = delete;
  InflightGuard& operator=(InflightGuard&&) = delete;
  ~InflightGuard() { counter_.fetch_sub(1); }

 private:
  std::atomic<std::int64_t>& counter_;
};

// Helper-route error bodies: JSON written without an explicit Content-Type in Go, which its
// sniffing labels text/plain (server.md A.3).
http::Response HelperError(int status, std::string_view code, std::string_view message) {
  std::string body;
  protocol::JsonWriter w(body);
  w.BeginObject();
  w.Member("error", code);
  w.Member("message", message);
  w.EndObject();
  http::Response response = http::Response::Json(status, std::move(body));
  response.SetHeader("Content-Type", "text/plain; charset=utf-8");
  return response;
}

}  // namespace

Result<std::unique_ptr<App>> App::Create(DbProbe& db, AppOptions options) {
  if (options.clock == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "AppOptions.clock is null");
  }
  if (options.service == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "AppOptions.service is null");
  }
  if (options.second_service != nullptr && options.second_base_path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "AppOptions.second_base_path is empty");
  }
  auto app = std::make_unique<App>(PrivateTag{}, db, std::move(options));
  App* self = app.get();
  // The example server's auth (server.md A.4) in front of go-oversync's actor middleware.
  const auto authenticate = [self](const http::Request& request) {
    oversync::AuthResult result;
    auto user =
        AuthenticateRequest(request, self->options_.jwt_secret, self->options_.clock->Now());
    if (user.has_value()) {
      result.user_id = std::move(*user);
    } else {
      result.rejection = std::move(user.error().response);
    }
    return result;
  };
  app->handlers_ = std::make_unique<HttpSyncHandlers>(*self->options_.service, authenticate);
  OVERSYNC_RETURN_IF_ERROR(app->handlers_->MountSyncRoutes(app->router_));
  OVERSYNC_RETURN_IF_ERROR(app->handlers_->MountStatusRoutes(app->router_));
  if (self->options_.second_service != nullptr) {
    app->second_handlers_ =
        std::make_unique<HttpSyncHandlers>(*self->options_.second_service, authenticate);
    OVERSYNC_RETURN_IF_ERROR(
        app->second_handlers_->MountSyncRoutes(app->router_, self->options_.second_base_path));
    OVERSYNC_RETURN_IF_ERROR(
        app->second_handlers_->MountStatusRoutes(app->router_, self->options_.second_base_path));
  }
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add(
      "POST", "/test/reset",
      [self](const http::Request&, const http::PathParams&) { return self->TestReset(); }));
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add(
      "POST", "/test/retention-floor", [self](const http::Request& r, const http::PathParams&) {
        return self->TestRetentionFloor(r);
      }));
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add(
      "GET", "/metrics",
      [self](const http::Request& r, const http::PathParams&) { return self->Metrics(r); }));
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add(
      "GET", "/test/watch-subscribers", [self](const http::Request& r, const http::PathParams&) {
        return self->TestWatchSubscribers(r);
      }));
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add(
      "POST", "/dummy-signin", [self](const http::Request& request, const http::PathParams&) {
        return HandleDummySignin(request, self->options_.jwt_secret, self->options_.clock->Now());
      }));
  return app;
}

http::Response App::Handle(const http::Request& request) {
  const InflightGuard inflight(inflight_);
  const auto started = std::chrono::steady_clock::now();
  http::Response response;
  try {
    response = request.method == "OPTIONS" ? http::Response::NoContent() : router_.Handle(request);
    AddCorsHeaders(response);
  } catch (const std::exception&) {
    response = http::Response::Text(500, "Internal Server Error");
  }
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - started;
  if (options_.log_requests) {
    Log("{} {} {} {:.3f}ms", request.method, request.path, response.status, elapsed.count());
  }
  return response;
}

http::Response App::TestReset() {
  // Drops the sync and business schemas, re-creates the business tables and re-bootstraps, in
  // one transaction for the drop/create (server.md A.3).
  Result<PgConnPtr> conn = PgConnect(options_.dsn);
  if (!conn.has_value()) return HelperError(500, "reset_failed", conn.error().message());
  PGconn* c = conn->get();
  Status status = PgExec(c, "BEGIN");
  if (status.ok()) status = PgExec(c, "DROP SCHEMA IF EXISTS sync CASCADE");
  if (status.ok()) {
    status = PgExec(c, fmt::format("DROP SCHEMA IF EXISTS \"{}\" CASCADE", options_.business_schema));
  }
  if (status.ok()) status = CreateBusinessTables(c, options_.business_schema);
  if (status.ok()) {
    status = PgExec(c, "COMMIT");
  } else {
    (void)PgExec(c, "ROLLBACK");  // best effort; the original error is reported
  }
  if (!status.ok()) return HelperError(500, "reset_failed", status.message());
  auto bootstrapped = options_.service->Bootstrap();
  if (!bootstrapped.has_value()) {
    return HelperError(500, "reset_failed", bootstrapped.error().message());
  }
  std::string body;
  protocol::JsonWriter w(body);
  w.BeginObject();
  w.Member("status", "ok");
  w.Member("schema", options_.business_schema);
  w.EndObject();
  return http::Response::Json(200, std::move(body));
}

http::Response App::TestRetentionFloor(const http::Request& request) {
  auto parsed = protocol::ParseJson(request.body);
  if (!parsed.has_value() || !parsed->is_object()) {
    return HelperError(400, "invalid_request", "invalid JSON");
  }
  const protocol::JsonValue* user = parsed->Find("user_id");
  const protocol::JsonValue* floor = parsed->Find("retained_bundle_floor");
  std::string user_id = user != nullptr && user->is_string() ? user->as_string() : "";
  if ((user != nullptr && !user->is_string() && !user->is_null()) ||
      (floor != nullptr && !floor->is_number() && !floor->is_null()) ||
      (floor != nullptr && floor->is_number() && !floor->as_number().IsIntegerLexeme())) {
    return HelperError(400, "invalid_request", "invalid JSON");
  }
  if (user_id.find_first_not_of(" \t\r\n") == std::string::npos) {
    return HelperError(400, "invalid_request", "user_id required");
  }
  const std::string floor_text =
      floor != nullptr && floor->is_number() ? floor->as_number().lexeme : "0";
  if (!floor_text.empty() && floor_text.front() == '-' && floor_text != "-0") {
    return HelperError(400, "invalid_request", "retained_bundle_floor must be non-negative");
  }
  Result<PgConnPtr> conn = PgConnect(options_.dsn);
  if (!conn.has_value()) {
    return HelperError(500, "retention_floor_update_failed", conn.error().message());
  }
  const char* params[] = {user_id.c_str(), floor_text.c_str()};
  std::unique_ptr<PGresult, PgResultDeleter> result(PQexecParams(
      conn->get(),
      "UPDATE sync.user_state SET retained_bundle_floor = $2::bigint WHERE user_id = $1",
      2, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return HelperError(500, "retention_floor_update_failed", PQerrorMessage(conn->get()));
  }
  if (std::string_view(PQcmdTuples(result.get())) == "0") {
    return HelperError(404, "user_state_not_found", "no sync user_state row exists for user_id");
  }
  std::string body;
  protocol::JsonWriter w(body);
  w.BeginObject();
  w.Member("status", "ok");
  w.Member("user_id", user_id);
  w.Key("retained_bundle_floor");
  w.Raw(floor_text == "-0" ? "0" : floor_text);
  w.EndObject();
  return http::Response::Json(200, std::move(body));
}

// Prometheus text exposition (version 0.0.4): stage histograms of this process, the durable
// counters every process shares, and this process's gauges. Unauthenticated like /syncx/*.
http::Response App::Metrics(const http::Request&) {
  auto counters = options_.service->GetCounters();
  if (!counters) {
    return HelperError(500, "metrics_failed", counters.error().message());
  }
  std::string body;
  if (options_.metrics) options_.metrics->AppendText(body);
  AppendPrometheusCounter(body, "oversync_history_pruned_errors_total",
                          "Requests answered history_pruned (all processes).",
                          counters->history_pruned_errors);
  AppendPrometheusCounter(body, "oversync_accepted_push_replays_total",
                          "Push creates answered already_committed (all processes).",
                          counters->accepted_push_replays);
  AppendPrometheusCounter(body, "oversync_rejected_registered_writes_total",
                          "Writes to registered tables refused for lack of a bundle context.",
                          counters->rejected_registered_writes);
  AppendPrometheusGauge(body, "oversync_watch_subscribers",
                        "Open bundle-change watch streams of this process.",
                        counters->watch_subscribers);
  AppendPrometheusGauge(body, "oversync_inflight_operations",
                        "Sync runtime operations in progress in this process.",
                        counters->inflight_operations);
  http::Response response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = std::move(body);
  return response;
}

http::Response App::TestWatchSubscribers(const http::Request& request) {
  const std::string user_id = request.FirstQueryValue("user_id").value_or("");
  if (user_id.find_first_not_of(" \t\r\n") == std::string::npos) {
    return HelperError(400, "invalid_request", "user_id required");
  }
  auto count = options_.service->LocalWatchSubscriberCount(user_id);
  if (!count) return HelperError(500, "watch_subscribers_failed", count.error().message());
  std::string body;
  protocol::JsonWriter w(body);
  w.BeginObject();
  w.Member("user_id", user_id);
  w.Member("subscriber_count", std::int64_t{*count});
  w.Member("process_local_only", true);
  w.EndObject();
  return http::Response::Json(200, std::move(body));
}

}  // namespace oversync::oversyncd
