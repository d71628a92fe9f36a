#include "oversync/http/message.h"

#include <gtest/gtest.h>

namespace oversync::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndFirstWins) {
  const Headers headers = {{"Content-Type", "application/json"},
                           {"oversync-source-id", "src-1"},
                           {"X-Dup", "one"},
                           {"x-dup", "two"}};
  EXPECT_EQ(FindHeader(headers, "content-type"), "application/json");
  EXPECT_EQ(FindHeader(headers, "Oversync-Source-ID"), "src-1");
  EXPECT_EQ(FindHeader(headers, "X-DUP"), "one");
  EXPECT_FALSE(FindHeader(headers, "Authorization").has_value());
  EXPECT_FALSE(FindHeader(headers, "Content-Typ").has_value());
}

TEST(EqualsIgnoreCaseTest, AsciiOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("Allow", "aLLOW"));
  EXPECT_FALSE(EqualsIgnoreCase("Allow", "Allo"));
  EXPECT_FALSE(EqualsIgnoreCase("\xC3\xA9", "\xC3\x89"));  // no Unicode folding
}

TEST(RequestTest, MakeSplitsTargetAndNormalizesPath) {
  Result<Request> request =
      Request::Make("GET", "//sync//pull?after_bundle_seq=3&max_bundles=5", {{"Host", "x"}}, "");
  ASSERT_TRUE(request.has_value()) << request.error().ToString();
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->target, "//sync//pull?after_bundle_seq=3&max_bundles=5");
  EXPECT_EQ(request->path, "/sync/pull");
  EXPECT_EQ(request->raw_path, "/sync/pull");
  EXPECT_EQ(request->raw_query, "after_bundle_seq=3&max_bundles=5");
  EXPECT_EQ(request->Header("host"), "x");
  EXPECT_EQ(request->FirstQueryValue("max_bundles"), "5");
  EXPECT_FALSE(request->FirstQueryValue("max_rows").has_value());
}

TEST(RequestTest, MakeDecodesPathButKeepsRawPath) {
  Result<Request> request = Request::Make("DELETE", "/sync/push-sessions/a%2Fb%20c", {}, "");
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->path, "/sync/push-sessions/a/b c");
  EXPECT_EQ(request->raw_path, "/sync/push-sessions/a%2Fb%20c");
  EXPECT_EQ(request->raw_query, "");
}

TEST(RequestTest, MakeRejectsBadPathEscape) {
  Result<Request> request = Request::Make("GET", "/sync/%zz", {}, "");
  ASSERT_FALSE(request.has_value());
  EXPECT_EQ(request.error().code(), ErrorCode::kInvalidRequest);
}

TEST(RequestTest, MakeAcceptsAbsoluteAndAsteriskForms) {
  Result<Request> absolute =
      Request::Make("GET", "http://example.com:8080/syncx/health?x=1", {}, "");
  ASSERT_TRUE(absolute.has_value());
  EXPECT_EQ(absolute->path, "/syncx/health");
  EXPECT_EQ(absolute->raw_query, "x=1");

  Result<Request> no_path = Request::Make("GET", "http://example.com", {}, "");
  ASSERT_TRUE(no_path.has_value());
  EXPECT_EQ(no_path->path, "/");

  Result<Request> asterisk = Request::Make("OPTIONS", "*", {}, "");
  ASSERT_TRUE(asterisk.has_value());
  EXPECT_EQ(asterisk->path, "*");
}

TEST(RequestTest, QueryPlusIsSpaceButPathPlusIsNot) {
  Result<Request> request = Request::Make("GET", "/a+b?user_id=a+b%2B", {}, "");
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->path, "/a+b");
  EXPECT_EQ(request->FirstQueryValue("user_id"), "a b+");
}

TEST(ResponseTest, JsonAppendsNewline) {
  const Response response = Response::Json(200, R"({"ok":true})");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"ok\":true}\n");
  EXPECT_EQ(response.Header("content-type"), "application/json");
  EXPECT_FALSE(response.stream);
}

TEST(ResponseTest, TextMatchesGoHttpError) {
  const Response response = Response::Text(401, "Invalid token");
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body, "Invalid token\n");
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.Header("X-Content-Type-Options"), "nosniff");
}

TEST(ResponseTest, NoContentHasNoBodyAndNoContentType) {
  const Response response = Response::NoContent();
  EXPECT_EQ(response.status, 204);
  EXPECT_TRUE(response.body.empty());
  EXPECT_TRUE(response.headers.empty());
}

TEST(ResponseTest, SetHeaderReplacesCaseInsensitively) {
  Response response = Response::Json(200, "{}");
  response.headers.emplace_back("X-A", "1");
  response.headers.emplace_back("x-a", "2");
  response.SetHeader("Content-type", "text/event-stream");
  response.SetHeader("X-A", "3");
  ASSERT_EQ(response.headers.size(), 2U);
  EXPECT_EQ(response.Header("content-type"), "text/event-stream");
  EXPECT_EQ(response.Header("x-a"), "3");
}

TEST(ResponseTest, StreamKeepsFunction) {
  const Response response =
      Response::Stream(200, {{"Content-Type", "text/event-stream"}}, [](ResponseStream&) {});
  EXPECT_TRUE(response.stream);
  EXPECT_EQ(response.Header("Content-Type"), "text/event-stream");
}

}  // namespace
}  // namespace oversync::http
