#include "auth.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "oversync/jwt/jwt.h"

namespace oversync::oversyncd {
namespace {

constexpr std::string_view kSecret = "middleware-secret";
constexpr TimePoint kNow{std::chrono::seconds(1'700'000'100)};

http::Request WithHeaders(http::Headers headers) {
  Result<http::Request> request = http::Request::Make("GET", "/sync/pull", std::move(headers), "");
  EXPECT_TRUE(request.has_value());
  return std::move(request).value_or(http::Request{});
}

http::Request WithAuthorization(std::string value) {
  return WithHeaders({{"Authorization", std::move(value)}});
}

std::string ValidToken(std::string_view user = "alice") {
  return jwt::SignHs256(jwt::ExampleClaims(user, kNow, std::chrono::seconds(300)), kSecret);
}

// Expects a 401 exactly like Go's http.Error(w, message, 401).
void ExpectRefused(const AuthResult& result, std::string_view message) {
  ASSERT_FALSE(result.has_value());
  const http::Response& response = result.error().response;
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body, std::string(message) + "\n");
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(result.error().cause.code(), ErrorCode::kAuthenticationFailed);
}

TEST(AuthenticateRequestTest, ValidBearerTokenYieldsTrimmedSubject) {
  AuthResult user = AuthenticateRequest(WithAuthorization("Bearer " + ValidToken()), kSecret, kNow);
  ASSERT_TRUE(user.has_value()) << user.error().cause.ToString();
  EXPECT_EQ(*user, "alice");

  // The header value is trimmed first (Go strings.TrimSpace), and the name is case-insensitive.
  user = AuthenticateRequest(
      WithHeaders({{"authorization", " \t Bearer " + ValidToken(" bob ") + "\u00a0"}}), kSecret,
      kNow);
  ASSERT_TRUE(user.has_value()) << user.error().cause.ToString();
  EXPECT_EQ(*user, "bob");

  // A token whose sub carries whitespace (signed elsewhere) still yields the trimmed user id.
  jwt::JwtClaims claims;
  claims.sub = "  carol\t";
  user = AuthenticateRequest(WithAuthorization("Bearer " + jwt::SignHs256(claims, kSecret)),
                             kSecret, kNow);
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(*user, "carol");
}

TEST(AuthenticateRequestTest, MissingOrBlankHeader) {
  ExpectRefused(AuthenticateRequest(WithHeaders({}), kSecret, kNow),
                "Authorization header required");
  ExpectRefused(AuthenticateRequest(WithAuthorization(""), kSecret, kNow),
                "Authorization header required");
  ExpectRefused(AuthenticateRequest(WithAuthorization(" \t "), kSecret, kNow),
                "Authorization header required");
  // Only the first Authorization field counts (Go's Header.Get).
  ExpectRefused(AuthenticateRequest(WithHeaders({{"Authorization", ""},
                                                 {"Authorization", "Bearer " + ValidToken()}}),
                                    kSecret, kNow),
                "Authorization header required");
}

TEST(AuthenticateRequestTest, MalformedHeader) {
  const std::string token = ValidToken();
  for (const std::string& value : std::vector<std::string>{
           "Bearer", "Bearer" + token, "bearer " + token, "BEARER " + token, "Basic " + token,
           "Bearer  " + token, "Bearer " + token + " extra", "Bearer\t" + token, "Token " + token,
           " Bearer " + token + " x", token}) {
    ExpectRefused(AuthenticateRequest(WithAuthorization(value), kSecret, kNow),
                  "Invalid authorization header format");
  }
}

TEST(AuthenticateRequestTest, InvalidTokens) {
  const jwt::JwtClaims claims = jwt::ExampleClaims("alice", kNow, std::chrono::seconds(300));
  const std::vector<std::string> tokens = {
      "not-a-jwt",
      jwt::SignHs256(claims, "other-secret"),
      jwt::SignHs256(
          jwt::ExampleClaims("alice", kNow - std::chrono::seconds(301), std::chrono::seconds(300)),
          kSecret),  // expired
      jwt::SignHs256(
          jwt::ExampleClaims("alice", kNow + std::chrono::seconds(1), std::chrono::seconds(300)),
          kSecret),  // not valid yet
      jwt::SignHs256(jwt::ExampleClaims("   ", kNow, std::chrono::seconds(300)), kSecret),
      jwt::SignSegments(jwt::HmacAlgorithm::kHs256, R"({"alg":"none"})", R"({"sub":"alice"})",
                        kSecret),
  };
  for (const std::string& token : tokens) {
    const AuthResult result =
        AuthenticateRequest(WithAuthorization("Bearer " + token), kSecret, kNow);
    ExpectRefused(result, "Invalid token");
    if (!result.has_value()) {
      EXPECT_EQ(result.error().cause.message().rfind("invalid token: ", 0), 0U)
          << result.error().cause.message();
    }
  }
  // The expired one is rejected because of the injected time, not the real clock.
  EXPECT_TRUE(AuthenticateRequest(WithAuthorization("Bearer " + tokens[2]), kSecret,
                                  kNow - std::chrono::seconds(300))
                  .has_value());
}

}  // namespace
}  // namespace oversync::oversyncd
