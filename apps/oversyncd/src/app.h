// File: apps/oversyncd/src/app.h
//
// oversyncd's HTTP surface (server.md Appendix A.2), transport-neutral: routes plus the
// middleware of the reference server (CORS, OPTIONS -> 204) plus one log line per request.
// Routes: /sync/* (behind the example JWT auth and the actor middleware), /syncx/health,
// /syncx/status, POST /dummy-signin and the /test/* helpers.
//
// Thread-safety: Handle is thread-safe (called concurrently by BeastServer's workers).
#ifndef OVERSYNC_OVERSYNCD_APP_H_
#define OVERSYNC_OVERSYNCD_APP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "oversync/common/clock.h"
#include "oversync/common/status.h"
#include "oversync/http/message.h"
#include "oversync/http/router.h"
#include "oversync/server/http_handlers.h"
#include "oversync/server/prometheus_metrics.h"
#include "oversync/server/runtime_service.h"
#include "pg.h"

namespace oversync::oversyncd {

struct AppOptions {
  // HMAC secret of the reference JWTs (config JWT_SECRET, already defaulted).
  std::string jwt_secret;
  // Time source for issuing and validating tokens; must outlive the App. Never null.
  const Clock* clock = nullptr;
  // The bootstrapped sync runtime; must outlive the App. Never null.
  RuntimeService* service = nullptr;
  // libpq connection string of the database (for the /test/* helper routes).
  std::string dsn;
  // Business schema name (server.md A.1), re-created by POST /test/reset.
  std::string business_schema = "business";
  // Stage histograms served at GET /metrics (also set as the runtime's stage_metrics); may be
  // null (then /metrics shows only the counters).
  std::shared_ptr<PrometheusStageMetrics> metrics;
  // One stderr line per request (oversyncd's access log). Embedders that print their own
  // progress (the simulator) turn it off.
  bool log_requests = true;
  // A second bootstrapped runtime speaking the other wire profile on the same database, served
  // under `second_base_path` (docs/wire-profiles.md); must outlive the App. Null = none.
  RuntimeService* second_service = nullptr;
  std::string second_base_path;
};

// The wire profile a second mount speaks: the other one.
std::string OtherWireProfile(std::string_view profile);

// The reference server's runtime configuration (server.md A.1): the eight example tables of
// business_schema.h registered with key `id`, bundle-change watch on, schema version 1, the
// example app name, and `metrics` as the stage recorder (may be null). oversyncd, the client
// tests' in-process server and the simulator all start from it.
ServiceConfig ReferenceServiceConfig(std::shared_ptr<PrometheusStageMetrics> metrics);

class App {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // `db` and `options.clock` must outlive the App.
  // Errors: kInvalidArgument (null clock, route registration bug).
  static Result<std::unique_ptr<App>> Create(DbProbe& db, AppOptions options);

  App(PrivateTag /*tag*/, DbProbe& db, AppOptions options)
      : db_(db), options_(std::move(options)) {}
  App(const App&) = delete;
  App& operator=(const App&) = delete;
  App(App&&) = delete;
  App& operator=(App&&) = delete;
  ~App() = default;

  // Answers one request; never throws.
  http::Response Handle(const http::Request& request);

  // Requests being handled right now (all routes).
  std::int64_t inflight_requests() const noexcept { return inflight_.load(); }

 private:
  // Helper routes of the Go example server (server.md A.3).
  http::Response TestReset();
  http::Response TestRetentionFloor(const http::Request& request);
  http::Response TestWatchSubscribers(const http::Request& request);
  http::Response Metrics(const http::Request& request);

  DbProbe& db_;
  const AppOptions options_;
  std::unique_ptr<HttpSyncHandlers> handlers_;
  std::unique_ptr<HttpSyncHandlers> second_handlers_;  // the other profile's mount, if any
  http::Router router_;
  std::atomic<std::int64_t> inflight_{0};
};

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_APP_H_
