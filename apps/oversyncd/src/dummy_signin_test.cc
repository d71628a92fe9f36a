#include "dummy_signin.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>

#include "oversync/jwt/jwt.h"
#include "oversync/protocol/json_value.h"

namespace oversync::oversyncd {
namespace {

constexpr std::string_view kSecret = "signin-secret";
// 1700000000.75 s: issued dates are truncated to whole seconds.
constexpr TimePoint kNow{std::chrono::milliseconds(1'700'000'000'750)};

http::Response Signin(std::string body) {
  Result<http::Request> request = http::Request::Make(
      "POST", "/dummy-signin", {{"Content-Type", "application/json"}}, std::move(body));
  EXPECT_TRUE(request.has_value());
  return HandleDummySignin(*request, kSecret, kNow);
}

void ExpectError(const http::Response& response, std::string_view message) {
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            R"({"error":"invalid_request","message":")" + std::string(message) + "\"}\n");
  // Go writes these without a Content-Type; its sniffing labels JSON text/plain.
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(response.Header("X-Content-Type-Options").has_value());
}

// Returns the token after checking the 200 body's shape and the echoed user.
std::string ExpectSuccess(const http::Response& response, std::string_view expected_user_json) {
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Header("Content-Type"), "application/json");
  Result<protocol::JsonValue> body = protocol::ParseJson(response.body);
  if (!body.has_value() || !body->is_object()) {
    ADD_FAILURE() << response.body;
    return "";
  }
  const protocol::JsonObject& members = body->as_object();
  EXPECT_EQ(members.size(), 3U);
  std::string token = body->Find("token")->as_string();
  EXPECT_EQ(response.body, R"({"token":")" + token + R"(","expires_in":300,"user":)" +
                               std::string(expected_user_json) + "}\n");
  return token;
}

TEST(DummySigninTest, IssuesAFiveMinuteTokenForTheTrimmedUser) {
  const std::string token =
      ExpectSuccess(Signin(R"({"user":"test-user","password":"any"})"), R"("test-user")");
  Result<jwt::VerifiedToken> verified = jwt::VerifyHmac(token, kSecret, kNow);
  ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
  EXPECT_EQ(verified->user_id, "test-user");
  EXPECT_EQ(verified->algorithm, jwt::HmacAlgorithm::kHs256);
  EXPECT_EQ(verified->claims.iss, "go-oversync-examples");
  EXPECT_EQ(verified->claims.iat_seconds, 1'700'000'000);
  EXPECT_EQ(verified->claims.nbf_seconds, 1'700'000'000);
  EXPECT_EQ(verified->claims.exp_seconds, 1'700'000'300);
  // Exactly golang-jwt's bytes for these claims.
  EXPECT_EQ(token, jwt::SignHs256(jwt::ExampleClaims("test-user", kNow, std::chrono::seconds(300)),
                                  kSecret));
  EXPECT_FALSE(jwt::VerifyHmac(token, kSecret, kNow + std::chrono::seconds(300)).has_value());
  EXPECT_FALSE(jwt::VerifyHmac(token, "other", kNow).has_value());

  // The response echoes the user as sent (Go-escaped); the token's sub is trimmed.
  const std::string padded =
      ExpectSuccess(Signin(R"({"user":"  <bob> & co\t"})"), R"("  \u003cbob\u003e \u0026 co\t")");
  verified = jwt::VerifyHmac(padded, kSecret, kNow);
  ASSERT_TRUE(verified.has_value());
  EXPECT_EQ(verified->claims.sub, "<bob> & co");
}

TEST(DummySigninTest, DecodesTheBodyLikeGoJsonDecoder) {
  // First value only: whatever follows it is never read.
  ExpectSuccess(Signin(R"({"user":"a"}garbage)"), R"("a")");
  ExpectSuccess(Signin(R"({"user":"a"} {)"), R"("a")");
  ExpectSuccess(Signin(" \r\n\t{\"user\":\"a\"}\n"), R"("a")");
  ExpectSuccess(Signin(R"({"user":"a\"}"}x)"), R"("a\"}")");
  ExpectSuccess(Signin(R"({"user":"a","x":[1,2,{"y":"}"}]})"), R"("a")");
  // Case-insensitive member names (Go's fold, including U+017F for 's'); last one wins; null
  // is a no-op; unknown members (even out-of-range numbers) are ignored.
  ExpectSuccess(Signin(R"({"User":"a"})"), R"("a")");
  ExpectSuccess(Signin("{\"u\u017fer\":\"long-s\"}"), R"("long-s")");
  ExpectSuccess(Signin(R"({"USER":"x","user":"y"})"), R"("y")");
  ExpectSuccess(Signin(R"({"user":"x","USER":"y"})"), R"("y")");
  ExpectSuccess(Signin(R"({"user":"a","user":null})"), R"("a")");
  ExpectSuccess(Signin(R"({"us\u0065r":"e"})"), R"("e")");
  ExpectSuccess(Signin(R"({"user":"a","password":null,"x":1e400,"nested":{"user":"b"}})"),
                R"("a")");
  // Invalid UTF-8 becomes U+FFFD, as Go decodes it.
  ExpectSuccess(Signin("{\"user\":\"\xff\"}"), "\"\xEF\xBF\xBD\"");
  // A blank-but-not-empty user passes the check (Go compares with "" untrimmed).
  ExpectSuccess(Signin(R"({"user":"   "})"), R"("   ")");
}

TEST(DummySigninTest, InvalidJson) {
  for (const char* body :
       {"", "   ", "nul", "{", R"({"user":"a")", R"({"user":"a",})", "[]", R"(["user"])", R"("a")",
        "true", "123", R"({"user":1})", R"({"user":"a","password":5})", R"({"user":["a"]})", "x"}) {
    SCOPED_TRACE(body);
    ExpectError(Signin(body), "invalid JSON");
  }
}

TEST(DummySigninTest, UserRequired) {
  for (const char* body : {"{}", "null", "null garbage", R"({"user":""})", R"({"user":null})",
                           R"({"password":"p"})", R"({"users":"a"})"}) {
    SCOPED_TRACE(body);
    ExpectError(Signin(body), "user required");
  }
}

}  // namespace
}  // namespace oversync::oversyncd
