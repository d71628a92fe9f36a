#include "app.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "dummy_signin.h"
#include "log.h"
#include "status_body.h"

namespace oversync::oversyncd {
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

}  // namespace

Result<std::unique_ptr<App>> App::Create(DbProbe& db, AppOptions options) {
  if (options.clock == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "AppOptions.clock is null");
  }
  auto app = std::make_unique<App>(PrivateTag{}, db, std::move(options));
  App* self = app.get();
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add("GET", "/syncx/health",
                                            [self](const http::Request&, const http::PathParams&) {
                                              return self->HealthOrStatus(true);
                                            }));
  OVERSYNC_RETURN_IF_ERROR(app->router_.Add("GET", "/syncx/status",
                                            [self](const http::Request&, const http::PathParams&) {
                                              return self->HealthOrStatus(false);
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
  Log("{} {} {} {:.3f}ms", request.method, request.path, response.status, elapsed.count());
  return response;
}

http::Response App::HealthOrStatus(bool health) {
  const Status ping = db_.Ping();
  if (!ping.ok()) {
    Log("{} failed: {}", health ? "health" : "status", ping.ToString());
    return health
               ? http::Response::Json(
                     500, R"({"error":"health_failed","message":"Failed to get health status"})")
               : http::Response::Json(
                     500, R"({"error":"status_failed","message":"Failed to get service status"})");
  }
  // The lifecycle is "running" for as long as requests are served (the HTTP server drains
  // before anything else shuts down, as in Go). In-flight count excludes this request itself.
  const std::int64_t others = std::max<std::int64_t>(inflight_.load() - 1, 0);
  return http::Response::Json(200, BuildStatusBody(/*healthy=*/true, others));
}

}  // namespace oversync::oversyncd
