#include "oversync/common/strings.h"
#include "oversync/server/http_handlers.h"

#include <fmt/format.h>

#include "oversync/http/url.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/errors.h"
#include "oversync/protocol/query.h"

namespace oversync {
namespace {

http::Response JsonError(const oversync::Status& status, ErrorCode generic_code,
                         std::string_view generic_message) {
  // Go's handlers answer a refusal during shutdown with their own text, whatever the service
  // error said (protocol.md §1.6, §5); before Bootstrap, go-oversync 95bbd38's text
  // (protocol-b.md §1.4).
  if (status.code() == ErrorCode::kServiceUnavailable) {
    protocol::ErrorResponse shutting_down;
    shutting_down.error = std::string(ErrorInfoFor(ErrorCode::kServiceUnavailable).wire_name);
    shutting_down.message = status.message() == kBootstrapIncompleteMessage
                                ? std::string(kBootstrapIncompleteMessage)
                                : "Sync service is shutting down";
    return http::Response::Json(ErrorInfoFor(ErrorCode::kServiceUnavailable).http_status,
                                protocol::EncodeErrorResponse(shutting_down));
  }
  const protocol::ErrorResponse body =
      protocol::ErrorResponseFromStatus(status, generic_code, generic_message);
  const int http_status = protocol::IsProtocolErrorCode(status.code())
                              ? status.info().http_status
                              : ErrorInfoFor(generic_code).http_status;
  http::Response response = http::Response::Json(http_status, protocol::EncodeErrorResponse(body));
  // Profile B's capacity answers (protocol-b.md §5.10-§5.11): retry after one second.
  if (http_status == 429) response.headers.emplace_back("Retry-After", "1");
  return response;
}

http::Response Simple(ErrorCode code, std::string message) {
  protocol::ErrorResponse body;
  body.error = std::string(ErrorInfoFor(code).wire_name);
  body.message = std::move(message);
  return http::Response::Json(ErrorInfoFor(code).http_status, protocol::EncodeErrorResponse(body));
}

// Handler preamble shared by every actor endpoint (protocol.md §1.3): method, then actor.
std::optional<http::Response> Preamble(const http::Request& request, std::string_view method,
                                       const Actor* actor) {
  if (request.method != method) {
    return Simple(ErrorCode::kMethodNotAllowed, fmt::format("Only {} method is allowed", method));
  }
  if (actor == nullptr) {
    return Simple(ErrorCode::kAuthenticationFailed,
                  "authenticated actor not found in request context");
  }
  if (actor->user_id.empty()) {
    return Simple(ErrorCode::kAuthenticationFailed, "actor user_id is required");
  }
  if (actor->source_id.empty()) {
    return Simple(ErrorCode::kAuthenticationFailed, "actor source_id is required");
  }
  return std::nullopt;
}

std::string Join(std::string_view base, std::string_view path) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += path;
  return out;
}

}  // namespace

HttpSyncHandlers::HttpSyncHandlers(RuntimeService& service, Authenticator authenticate,
                                   Options options)
    : service_(service), authenticate_(std::move(authenticate)), options_(std::move(options)) {}

bool HttpSyncHandlers::ProfileB() const noexcept {
  return service_.wire_profile() == protocol::WireProfileId::kJcsUniformNumericStringsV1;
}

namespace {
// protocol-b.md §1.3: a push id that is not the canonical UUID spelling names no session; profile
// B answers before looking at the body.
http::Response PushSessionNotFound() {
  return Simple(ErrorCode::kPushSessionNotFound, "push session was not found");
}
}  // namespace
std::optional<Actor> HttpSyncHandlers::ResolveActor(const http::Request& request,
                                                    http::Response& rejection) const {
  AuthResult auth = authenticate_(request);
  if (!auth.user_id) {
    rejection = std::move(auth.rejection);
    return std::nullopt;
  }
  if (ProfileB()) {
    // protocol-b.md §1.1-§1.2: the trusted user id byte for byte, the source id exactly as sent
    // (after the HTTP layer's own whitespace handling), printable ASCII, not a reserved id.
    if (auth.user_id->empty()) {
      rejection = Simple(ErrorCode::kAuthenticationFailed,
                         "authenticated user_id not found in request context");
      return std::nullopt;
    }
    const std::string source(request.Header("Oversync-Source-ID").value_or(""));
    if (!protocol::IsValidSourceIdProfileB(source) || service_.IsReservedSourceId(source)) {
      rejection = Simple(ErrorCode::kInvalidRequest,
                         "Oversync-Source-ID header must be a non-empty visible ASCII token");
      return std::nullopt;
    }
    return Actor{*auth.user_id, source};
  }
  const std::string_view user = TrimAsciiSpace(*auth.user_id);
  if (user.empty()) {
    rejection = Simple(ErrorCode::kAuthenticationFailed,
                       "authenticated user_id not found in request context");
    return std::nullopt;
  }
  const std::string_view source = TrimAsciiSpace(request.Header("Oversync-Source-ID").value_or(""));
  if (source.empty()) {
    rejection = Simple(ErrorCode::kInvalidRequest, "Oversync-Source-ID header is required");
    return std::nullopt;
  }
  return Actor{std::string(user), std::string(source)};
}

Status HttpSyncHandlers::MountSyncRoutes(http::Router& router, std::string_view base_path) const {
  // Wraps an endpoint with authentication and the actor middleware.
  const auto guarded = [this](auto endpoint) {
    return [this, endpoint](const http::Request& request, const http::PathParams& params) {
      http::Response rejection;
      const std::optional<Actor> actor = ResolveActor(request, rejection);
      if (!actor) return rejection;
      return endpoint(request, &*actor, params);
    };
  };
  const std::pair<const char*, const char*> routes[] = {
      {"POST", "/sync/connect"},
      {"POST", "/sync/push-sessions"},
      {"POST", "/sync/push-sessions/{push_id}/chunks"},
      {"POST", "/sync/push-sessions/{push_id}/commit"},
      {"DELETE", "/sync/push-sessions/{push_id}"},
      {"GET", "/sync/committed-bundles/{bundle_seq}/rows"},
      {"GET", "/sync/pull"},
      {"GET", "/sync/watch"},
      {"POST", "/sync/snapshot-sessions"},
      {"GET", "/sync/snapshot-sessions/{snapshot_id}"},
      {"DELETE", "/sync/snapshot-sessions/{snapshot_id}"},
      {"GET", "/sync/capabilities"},
  };
  using Endpoint =
      std::function<http::Response(const http::Request&, const Actor*, const http::PathParams&)>;
  const Endpoint endpoints[] = {
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandleConnect(r, a);
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandleCreatePushSession(r, a);
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleUploadPushChunk(r, a, p.Get("push_id"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleCommitPushSession(r, a, p.Get("push_id"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleDeletePushSession(r, a, p.Get("push_id"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleGetCommittedBundleRows(r, a, p.Get("bundle_seq"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandlePull(r, a);
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandleWatch(r, a);
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandleCreateSnapshotSession(r, a);
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleGetSnapshotChunk(r, a, p.Get("snapshot_id"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams& p) {
        return HandleDeleteSnapshotSession(r, a, p.Get("snapshot_id"));
      },
      [this](const http::Request& r, const Actor* a, const http::PathParams&) {
        return HandleCapabilities(r, a);
      },
  };
  for (std::size_t i = 0; i < std::size(routes); ++i) {
    OVERSYNC_RETURN_IF_ERROR(
        router.Add(routes[i].first, Join(base_path, routes[i].second), guarded(endpoints[i])));
  }
  return {};
}

Status HttpSyncHandlers::MountStatusRoutes(http::Router& router, std::string_view base_path) const {
  OVERSYNC_RETURN_IF_ERROR(router.Add(
      "GET", Join(base_path, "/syncx/health"),
      [this](const http::Request& r, const http::PathParams&) { return HandleHealth(r); }));
  return router.Add("GET", Join(base_path, "/syncx/status"),
                    [this](const http::Request& r, const http::PathParams&) {
                      return HandleStatus(r);
                    });
}

http::Response HttpSyncHandlers::HandleConnect(const http::Request& request,
                                               const Actor* actor) const {
  if (auto early = Preamble(request, "POST", actor)) return std::move(*early);
  auto decoded = protocol::DecodeConnectRequest(request.body);
  if (!decoded) return JsonError(decoded.error(), ErrorCode::kConnectFailed, "");
  auto result = service_.Connect(*actor, *decoded);
  if (!result) {
    return JsonError(result.error(), ErrorCode::kConnectFailed,
                     "Failed to resolve connect lifecycle");
  }
  return http::Response::Json(200, protocol::EncodeConnectResponse(*result));
}

http::Response HttpSyncHandlers::HandleCreatePushSession(const http::Request& request,
                                                         const Actor* actor) const {
  if (auto early = Preamble(request, "POST", actor)) return std::move(*early);
  auto decoded =
      protocol::DecodePushSessionCreateRequest(request.body, nullptr, service_.wire_profile());
  if (!decoded) return JsonError(decoded.error(), ErrorCode::kPushSessionCreateFailed, "");
  auto result = service_.CreatePushSession(*actor, *decoded);
  if (!result) {
    return JsonError(result.error(), ErrorCode::kPushSessionCreateFailed,
                     "Failed to create push session");
  }
  return http::Response::Json(200, protocol::EncodePushSessionCreateResponse(*result));
}

http::Response HttpSyncHandlers::HandleUploadPushChunk(const http::Request& request,
                                                       const Actor* actor,
                                                       std::string_view push_id) const {
  if (auto early = Preamble(request, "POST", actor)) return std::move(*early);
  if (ProfileB() && !protocol::IsCanonicalUuid(push_id)) return PushSessionNotFound();
  auto decoded = protocol::DecodePushChunkRequest(request.body);
  if (!decoded) return JsonError(decoded.error(), ErrorCode::kPushChunkFailed, "");
  auto result = service_.UploadPushChunk(*actor, push_id, std::move(*decoded));
  if (!result) {
    return JsonError(result.error(), ErrorCode::kPushChunkFailed, "Failed to upload push chunk");
  }
  return http::Response::Json(200, protocol::EncodePushChunkResponse(*result));
}

http::Response HttpSyncHandlers::HandleCommitPushSession(const http::Request& request,
                                                         const Actor* actor,
                                                         std::string_view push_id) const {
  if (auto early = Preamble(request, "POST", actor)) return std::move(*early);
  if (ProfileB() && !protocol::IsCanonicalUuid(push_id)) return PushSessionNotFound();
  auto result = service_.CommitPushSession(*actor, push_id);
  if (!result) {
    return JsonError(result.error(), ErrorCode::kPushSessionCommitFailed,
                     "Failed to commit push session");
  }
  return http::Response::Json(200, protocol::EncodePushSessionCommitResponse(*result));
}

http::Response HttpSyncHandlers::HandleDeletePushSession(const http::Request& request,
                                                         const Actor* actor,
                                                         std::string_view push_id) const {
  if (auto early = Preamble(request, "DELETE", actor)) return std::move(*early);
  if (ProfileB() && !protocol::IsCanonicalUuid(push_id)) return PushSessionNotFound();
  const oversync::Status status = service_.DeletePushSession(*actor, push_id);
  if (!status.ok()) {
    return JsonError(status, ErrorCode::kPushSessionDeleteFailed, "Failed to delete push session");
  }
  return http::Response::NoContent();
}

http::Response HttpSyncHandlers::HandleGetCommittedBundleRows(const http::Request& request,
                                                              const Actor* actor,
                                                              std::string_view bundle_seq) const {
  if (auto early = Preamble(request, "GET", actor)) return std::move(*early);
  const ServiceConfig& config = service_.config();
  auto query = protocol::ParseCommittedBundleRowsQuery(
      bundle_seq, http::ParseQuery(request.raw_query),
      config.default_rows_per_committed_bundle_chunk, config.max_rows_per_committed_bundle_chunk);
  if (!query) return JsonError(query.error(), ErrorCode::kCommittedBundleRowsFailed, "");
  auto result = service_.GetCommittedBundleRows(*actor, *query);
  if (!result) {
    return JsonError(result.error(), ErrorCode::kCommittedBundleRowsFailed,
                     "Failed to fetch committed bundle rows");
  }
  return http::Response::Json(
      200, protocol::EncodeCommittedBundleRowsResponse(*result, service_.wire_profile()));
}

http::Response HttpSyncHandlers::HandlePull(const http::Request& request,
                                            const Actor* actor) const {
  if (auto early = Preamble(request, "GET", actor)) return std::move(*early);
  auto query = protocol::ParsePullQuery(http::ParseQuery(request.raw_query), 1000, 5000);
  if (!query) return JsonError(query.error(), ErrorCode::kPullFailed, "");
  auto body = service_.ProcessPullBody(*actor, *query);
  if (!body) return JsonError(body.error(), ErrorCode::kPullFailed, "Failed to process pull");
  return http::Response::Json(200, std::move(*body));
}

http::Response HttpSyncHandlers::HandleWatch(const http::Request& request,
                                             const Actor* actor) const {
  if (auto early = Preamble(request, "GET", actor)) return std::move(*early);
  const BundleChangeWatchConfig& watch = service_.config().bundle_change_watch;
  if (watch.enabled && options_.bundle_change_watch_allowed &&
      !options_.bundle_change_watch_allowed(*actor)) {
    return Simple(ErrorCode::kBundleChangeWatchForbidden,
                  "Bundle change watch is not enabled for this client");
  }
  auto after = protocol::ParseWatchAfterBundleSeq(http::ParseQuery(request.raw_query));
  if (!after) return JsonError(after.error(), ErrorCode::kBundleChangeWatchFailed, "");
  auto subscription = service_.SubscribeBundleChanges(*actor, *after);
  if (!subscription) {
    return JsonError(subscription.error(), ErrorCode::kBundleChangeWatchFailed,
                     "Failed to subscribe bundle change watch");
  }
  // std::function needs a copyable callable: share the subscription with the stream function.
  std::shared_ptr<BundleChangeSubscription> shared(std::move(*subscription));
  const std::chrono::milliseconds heartbeat = watch.heartbeat_interval;
  http::Headers headers = {{"Content-Type", "text/event-stream"},
                           {"Cache-Control", "no-cache"},
                           {"X-Accel-Buffering", "no"}};
  return http::Response::Stream(200, std::move(headers), [shared, heartbeat](
                                                              http::ResponseStream& out) {
    if (!out.Flush()) return;
    // Waits are sliced so a stopping server or a failed transport is noticed within a second
    // even between events; heartbeats keep a fixed schedule independent of events (§3.8).
    constexpr std::chrono::milliseconds kSlice{1000};
    auto next_heartbeat = std::chrono::steady_clock::now() + heartbeat;
    while (!out.IsCancelled()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_heartbeat) {
        if (!out.Write(": heartbeat\n\n") || !out.Flush()) return;
        next_heartbeat += heartbeat;
        continue;
      }
      const auto wait = std::min<std::chrono::milliseconds>(
          kSlice, std::chrono::ceil<std::chrono::milliseconds>(next_heartbeat - now));
      auto event = shared->Next(wait);
      if (!event) return;  // the service closed the subscription
      if (!event->has_value()) continue;
      protocol::WatchEvent wire;
      wire.bundle_seq = (*event)->bundle_seq;
      wire.source_id = (*event)->source_id;
      wire.source_bundle_id = (*event)->source_bundle_id;
      if (!out.Write("event: bundle\ndata: " + protocol::EncodeWatchEvent(wire) + "\n\n") ||
          !out.Flush()) {
        return;
      }
    }
  });
}

http::Response HttpSyncHandlers::HandleCreateSnapshotSession(const http::Request& request,
                                                             const Actor* actor) const {
  if (auto early = Preamble(request, "POST", actor)) return std::move(*early);
  auto decoded = protocol::DecodeSnapshotSessionCreateRequest(request.body, nullptr,
                                                              service_.wire_profile());
  if (!decoded) {
    return JsonError(decoded.error(), ErrorCode::kSnapshotSessionCreateFailed, "");
  }
  auto session = service_.CreateSnapshotSession(*actor, *decoded);
  if (!session) {
    return JsonError(session.error(), ErrorCode::kSnapshotSessionCreateFailed,
                     "Failed to create snapshot session");
  }
  return http::Response::Json(
      200, protocol::EncodeSnapshotSession(*session, service_.wire_profile()));
}

http::Response HttpSyncHandlers::HandleGetSnapshotChunk(const http::Request& request,
                                                        const Actor* actor,
                                                        std::string_view snapshot_id) const {
  if (auto early = Preamble(request, "GET", actor)) return std::move(*early);
  const ServiceConfig& config = service_.config();
  auto query = protocol::ParseSnapshotChunkQuery(
      http::ParseQuery(request.raw_query), config.default_rows_per_snapshot_chunk,
      config.max_rows_per_snapshot_chunk,
      ProfileB() ? config.default_bytes_per_snapshot_chunk : 0,
      ProfileB() ? config.max_bytes_per_snapshot_chunk : 0);
  if (!query) return JsonError(query.error(), ErrorCode::kSnapshotChunkFailed, "");
  auto body = service_.GetSnapshotChunkBody(*actor, snapshot_id, *query);
  if (!body) {
    return JsonError(body.error(), ErrorCode::kSnapshotChunkFailed, "Failed to get snapshot chunk");
  }
  return http::Response::Json(200, std::move(*body));
}

http::Response HttpSyncHandlers::HandleDeleteSnapshotSession(const http::Request& request,
                                                             const Actor* actor,
                                                             std::string_view snapshot_id) const {
  if (auto early = Preamble(request, "DELETE", actor)) return std::move(*early);
  const oversync::Status status = service_.DeleteSnapshotSession(*actor, snapshot_id);
  if (!status.ok()) {
    return JsonError(status, ErrorCode::kSnapshotSessionDeleteFailed,
                     "Failed to delete snapshot session");
  }
  return http::Response::NoContent();
}

http::Response HttpSyncHandlers::HandleCapabilities(const http::Request& request,
                                                    const Actor* actor) const {
  if (request.method != "GET") {
    return Simple(ErrorCode::kMethodNotAllowed, "Only GET method is allowed");
  }
  protocol::CapabilitiesResponse capabilities = service_.GetCapabilities();
  // The per-actor watch policy applies only when watch is enabled and the actor is complete.
  if (capabilities.features["bundle_change_watch"] && actor != nullptr &&
      !actor->user_id.empty() && !actor->source_id.empty() &&
      options_.bundle_change_watch_allowed && !options_.bundle_change_watch_allowed(*actor)) {
    capabilities.features["bundle_change_watch"] = false;
  }
  return http::Response::Json(
      200, protocol::EncodeCapabilitiesResponse(capabilities, service_.wire_profile()));
}

http::Response HttpSyncHandlers::HandleHealth(const http::Request& request) const {
  if (request.method != "GET") {
    return Simple(ErrorCode::kMethodNotAllowed, "Only GET method is allowed");
  }
  auto status = service_.GetStatus();
  if (!status) return Simple(ErrorCode::kHealthFailed, "Failed to get health status");
  return http::Response::Json(status->status == "healthy" ? 200 : 503,
                              protocol::EncodeStatusResponse(*status));
}

http::Response HttpSyncHandlers::HandleStatus(const http::Request& request) const {
  if (request.method != "GET") {
    return Simple(ErrorCode::kMethodNotAllowed, "Only GET method is allowed");
  }
  auto status = service_.GetStatus();
  if (!status) return Simple(ErrorCode::kStatusFailed, "Failed to get service status");
  return http::Response::Json(200, protocol::EncodeStatusResponse(*status));
}

}  // namespace oversync
