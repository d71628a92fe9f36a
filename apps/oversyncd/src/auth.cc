#include "auth.h"

#include <utility>

#include "oversync/jwt/jwt.h"

namespace oversync::oversyncd {
namespace {

AuthResult Refuse(std::string_view public_message, std::string cause) {
  return tl::unexpected<AuthFailure>(
      AuthFailure{http::Response::Text(401, public_message),
                  Status(ErrorCode::kAuthenticationFailed, std::move(cause))});
}

}  // namespace

AuthResult AuthenticateRequest(const http::Request& request, std::string_view jwt_secret,
                               TimePoint now) {
  const std::string_view header =
      jwt::TrimSpace(request.Header("Authorization").value_or(std::string_view()));
  if (header.empty()) {
    return Refuse(kAuthHeaderRequired, std::string(kAuthHeaderRequired));
  }
  // strings.Split(header, " ") must give exactly ["Bearer", token].
  const std::size_t space = header.find(' ');
  if (space == std::string_view::npos || header.substr(0, space) != "Bearer" ||
      header.find(' ', space + 1) != std::string_view::npos) {
    return Refuse(kAuthHeaderInvalidFormat, std::string(kAuthHeaderInvalidFormat));
  }
  Result<jwt::VerifiedToken> verified = jwt::VerifyHmac(header.substr(space + 1), jwt_secret, now);
  if (!verified.has_value()) {
    return Refuse(kAuthInvalidToken, "invalid token: " + verified.error().message());
  }
  return std::move(verified->user_id);
}

}  // namespace oversync::oversyncd
