// File: apps/oversyncd/src/auth.h
//
// The reference server's JWT auth middleware (go-oversync examples/internal/exampleauth
// Middleware; server.md A.4, protocol.md §1.2) as a function the /sync/* route wiring calls
// before the actor middleware: it yields either the authenticated user id or the plain-text 401
// Go's http.Error would send.
//
// Thread-safety: pure functions; thread-safe.
#ifndef OVERSYNC_OVERSYNCD_AUTH_H_
#define OVERSYNC_OVERSYNCD_AUTH_H_

#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "oversync/common/clock.h"
#include "oversync/common/status.h"
#include "oversync/http/message.h"

namespace oversync::oversyncd {

// The three 401 bodies of the reference middleware (sent with a trailing "\n").
inline constexpr std::string_view kAuthHeaderRequired = "Authorization header required";
inline constexpr std::string_view kAuthHeaderInvalidFormat = "Invalid authorization header format";
inline constexpr std::string_view kAuthInvalidToken = "Invalid token";

// Why a request was refused.
struct AuthFailure {
  // 401, `Content-Type: text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`, body one
  // of the three messages above plus "\n" (Go's http.Error). CORS headers are added by the App.
  http::Response response;
  // kAuthenticationFailed; for a token failure the message says why (oversync::jwt::VerifyHmac),
  // for logs only — the client always sees "Invalid token".
  Status cause;
};

using AuthResult = tl::expected<std::string, AuthFailure>;

// Authenticates `request` like exampleauth.Middleware:
//   1. the first Authorization header value, trimmed (Go strings.TrimSpace); missing or blank
//      -> 401 "Authorization header required";
//   2. split on single spaces it must give exactly two parts, the first exactly "Bearer"
//      (case-sensitive; "Bearer  t" with two spaces is invalid) -> else 401
//      "Invalid authorization header format";
//   3. the second part must pass oversync::jwt::VerifyHmac(token, jwt_secret, now) -> else 401
//      "Invalid token".
// Returns the user id: the token's `sub`, trimmed (never empty).
AuthResult AuthenticateRequest(const http::Request& request, std::string_view jwt_secret,
                               TimePoint now);

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_AUTH_H_
