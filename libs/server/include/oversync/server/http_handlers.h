// File: oversync/server/http_handlers.h
//
// Transport-neutral HTTP handlers for the sync protocol (go-oversync's HTTPSyncHandlers and
// ActorMiddleware). They sit behind the embedding application's own authentication: the
// application supplies an Authenticator that turns a request into a trusted user id (or a
// rejection response), the actor middleware adds the source id from `Oversync-Source-ID`, and
// each handler maps RuntimeService results to the protocol's status codes and bodies
// (protocol.md §3, §5). No Boost, libpq or JSON library appears here; mount the routes on an
// oversync::http::Router and serve it with any HTTP server (see libs/http_beast).
//
// Thread-safety: handlers are thread-safe; the referenced RuntimeService must outlive them.
#ifndef OVERSYNC_SERVER_HTTP_HANDLERS_H_
#define OVERSYNC_SERVER_HTTP_HANDLERS_H_

#include <functional>
#include <optional>
#include <string>

#include "oversync/common/status.h"
#include "oversync/http/message.h"
#include "oversync/http/router.h"
#include "oversync/server/runtime_service.h"

namespace oversync {

// The embedding application's authentication. Either `user_id` is set (trusted; the middleware
// trims it and rejects blanks) or `rejection` is sent as is (e.g. a plain-text 401).
struct AuthResult {
  std::optional<std::string> user_id;
  http::Response rejection;
};
using Authenticator = std::function<AuthResult(const http::Request&)>;

class HttpSyncHandlers {
 public:
  struct Options {
    // Per-actor watch policy (go-oversync BundleChangeWatchAllowed); empty = allow everyone.
    std::function<bool(const Actor&)> bundle_change_watch_allowed;
  };

  HttpSyncHandlers(RuntimeService& service, Authenticator authenticate, Options options);
  HttpSyncHandlers(RuntimeService& service, Authenticator authenticate)
      : HttpSyncHandlers(service, std::move(authenticate), Options{}) {}

  // Mounts every /sync/* route of this runtime (method-qualified like go-oversync's example
  // server) behind authentication and the actor middleware, prefixed with `base_path` (e.g.
  // "/api"; "" for none). Errors: kInvalidArgument for a conflicting route.
  Status MountSyncRoutes(http::Router& router, std::string_view base_path = "") const;
  // Mounts GET /syncx/health and GET /syncx/status (unauthenticated).
  Status MountStatusRoutes(http::Router& router, std::string_view base_path = "") const;

  // The individual endpoints, for embedders with their own router. `actor` is the result of
  // the actor middleware (nullptr when there is none: 401 authentication_failed).
  http::Response HandleConnect(const http::Request& request, const Actor* actor) const;
  http::Response HandleCreatePushSession(const http::Request& request, const Actor* actor) const;
  http::Response HandleUploadPushChunk(const http::Request& request, const Actor* actor,
                                       std::string_view push_id) const;
  http::Response HandleCommitPushSession(const http::Request& request, const Actor* actor,
                                   std::string_view push_id) const;
  http::Response HandleDeletePushSession(const http::Request& request, const Actor* actor,
                                   std::string_view push_id) const;
  http::Response HandleGetCommittedBundleRows(const http::Request& request, const Actor* actor,
                                        std::string_view bundle_seq) const;
  http::Response HandlePull(const http::Request& request, const Actor* actor) const;
  // GET /sync/watch: Server-Sent Events (protocol.md §3.8); errors are JSON answers sent before
  // the stream starts.
  http::Response HandleWatch(const http::Request& request, const Actor* actor) const;
  http::Response HandleCreateSnapshotSession(const http::Request& request,
                                             const Actor* actor) const;
  http::Response HandleGetSnapshotChunk(const http::Request& request, const Actor* actor,
                                        std::string_view snapshot_id) const;
  http::Response HandleDeleteSnapshotSession(const http::Request& request, const Actor* actor,
                                             std::string_view snapshot_id) const;
  http::Response HandleCapabilities(const http::Request& request, const Actor* actor) const;
  http::Response HandleHealth(const http::Request& request) const;
  http::Response HandleStatus(const http::Request& request) const;

  // The actor middleware (protocol.md §1.3): the authenticated user plus the trimmed
  // `Oversync-Source-ID` header. Returns the actor, or the 401/400 response to send.
  std::optional<Actor> ResolveActor(const http::Request& request, http::Response& rejection) const;

 private:
  bool ProfileB() const noexcept;

  RuntimeService& service_;
  Authenticator authenticate_;
  Options options_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_HTTP_HANDLERS_H_
