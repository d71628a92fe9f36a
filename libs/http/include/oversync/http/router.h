// File: oversync/http/router.h
//
// A method-aware path router with the observable behaviour of Go 1.22's net/http ServeMux
// with method-qualified patterns, which the reference server uses (server.md Appendix A.2,
// protocol.md §1.1):
//   * unknown path            -> 404, plain text "404 page not found"
//   * path known, wrong method -> 405, plain text "Method Not Allowed" and
//                                `Allow: <sorted methods, ", "-joined>` (GET implies HEAD)
//   * HEAD reaches a GET route when no HEAD route matches the path.
//
// Patterns: "/literal/{name}/literal", "/files/{rest...}" (a last segment capturing the rest of
// the path, possibly empty) and "/dir/{$}" (matches "/dir/" exactly; "/{$}" is the root).
// Request paths are split on the still-escaped path and each segment is percent-decoded before
// matching, so "%2F" never splits a segment (Go rule). Precedence: the request's own method
// first, then GET for HEAD, then method-less routes; within one method the most specific path
// wins (segment by segment from the left: literal > {name} > {name...}). Go panics on
// ambiguous registrations; Add only rejects identical shapes, and ties resolve to the earlier
// registration. Not supported (rejected by Add): host patterns and trailing-slash subtree
// patterns other than {$}.
//
// Thread-safety: Add is not thread-safe and must finish before serving starts; Handle is
// const and may be called concurrently.
#ifndef OVERSYNC_HTTP_ROUTER_H_
#define OVERSYNC_HTTP_ROUTER_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/http/message.h"

namespace oversync::http {

// Values of the {name} wildcards of the matched pattern, percent-decoded.
class PathParams {
 public:
  // Value of wildcard `name`, or "" if the pattern has no such wildcard (Go's
  // Request.PathValue). The view is valid while this object is alive.
  std::string_view Get(std::string_view name) const noexcept;
  void Set(std::string name, std::string value) {
    values_.emplace_back(std::move(name), std::move(value));
  }
  const std::vector<std::pair<std::string, std::string>>& values() const noexcept {
    return values_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

class Router {
 public:
  // Runs on the transport's worker thread; may block. Must be safe to call concurrently.
  using RouteHandler = std::function<Response(const Request&, const PathParams&)>;

  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  Router(Router&&) noexcept = default;
  Router& operator=(Router&&) noexcept = default;
  ~Router() = default;

  // Registers `handler` for `method` ("" = every method) and `pattern`.
  // Errors: kInvalidArgument for a malformed pattern, an unsupported pattern form, a method
  // containing characters other than A-Z / a-z / '-' / '_', an empty handler, or a second
  // registration of the same method and path shape.
  [[nodiscard]] Status Add(std::string_view method, std::string_view pattern, RouteHandler handler);

  // Routes `request` (using request.raw_path and request.method) and returns the handler's
  // response or the router's 404/405. Never throws: an exception escaping a handler becomes
  // a plain-text 500 "Internal Server Error".
  Response Handle(const Request& request) const;

  // Convenience: a Handler that forwards to this router. The router must outlive it.
  Handler AsHandler() const;

 private:
  enum class SegmentKind { kLiteral, kWildcard, kRest };
  struct Segment {
    SegmentKind kind;
    std::string text;  // literal text, or the wildcard name
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    RouteHandler handler;
  };

  static bool Match(const Route& route, const std::vector<std::string>& path_segments,
                    PathParams* params);
  static bool MoreSpecific(const Route& a, const Route& b) noexcept;

  std::vector<Route> routes_;
};

}  // namespace oversync::http

#endif  // OVERSYNC_HTTP_ROUTER_H_
