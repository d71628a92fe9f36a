// File: apps/oversyncd/src/dummy_signin.h
//
// POST /dummy-signin of the reference server (server.md A.3): issues a 5-minute HS256 token for
// any user name, any password accepted. No authentication.
//
// Thread-safety: pure function; thread-safe.
#ifndef OVERSYNC_OVERSYNCD_DUMMY_SIGNIN_H_
#define OVERSYNC_OVERSYNCD_DUMMY_SIGNIN_H_

#include <chrono>
#include <string_view>

#include "oversync/common/clock.h"
#include "oversync/http/message.h"

namespace oversync::oversyncd {

// Lifetime of /dummy-signin tokens and its `expires_in` (server.md A.3).
inline constexpr std::chrono::seconds kDummySigninTokenLifetime{300};

// Answers one POST /dummy-signin. The body is read like Go's json.NewDecoder(body).Decode into
// struct {User, Password string}: the first JSON value counts and anything after it is ignored;
// member names match case-insensitively, the last non-null occurrence wins; `null` (or no "user")
// leaves the user empty; a non-string user/password or a non-object value is invalid JSON.
//   * invalid            -> 400 {"error":"invalid_request","message":"invalid JSON"}
//   * user exactly ""    -> 400 {"error":"invalid_request","message":"user required"}
//   * otherwise          -> 200 application/json
//                           {"token":"<JWT>","expires_in":300,"user":"<user as sent>"}
// with token = jwt::SignHs256(jwt::ExampleClaims(user, now, 300 s), jwt_secret) (sub is the
// trimmed user). Error bodies carry `Content-Type: text/plain; charset=utf-8`, what Go's content
// sniffing gives the JSON it writes without a Content-Type. Every body ends with "\n".
http::Response HandleDummySignin(const http::Request& request, std::string_view jwt_secret,
                                 TimePoint now);

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_DUMMY_SIGNIN_H_
