#include "oversync/http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace oversync::http {
namespace {

Request MakeRequest(std::string method, std::string target) {
  Result<Request> request = Request::Make(std::move(method), std::move(target), {}, "");
  EXPECT_TRUE(request.has_value());
  return request.value_or(Request{});
}

// A handler that answers "<tag> <params...>" so tests can see which route ran.
Router::RouteHandler Tag(std::string tag) {
  return [tag = std::move(tag)](const Request&, const PathParams& params) {
    std::string body = tag;
    for (const auto& [name, value] : params.values()) {
      body.append(" ").append(name).append("=").append(value);
    }
    return Response::Text(200, body);
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_.Add("GET", "/syncx/health", Tag("health")).ok());
    ASSERT_TRUE(router_.Add("POST", "/sync/push-sessions", Tag("create")).ok());
    ASSERT_TRUE(router_.Add("POST", "/sync/push-sessions/{push_id}/chunks", Tag("chunks")).ok());
    ASSERT_TRUE(router_.Add("POST", "/sync/push-sessions/{push_id}/commit", Tag("commit")).ok());
    ASSERT_TRUE(router_.Add("DELETE", "/sync/push-sessions/{push_id}", Tag("delete")).ok());
    ASSERT_TRUE(router_.Add("GET", "/sync/committed-bundles/{bundle_seq}/rows", Tag("rows")).ok());
  }

  Response Call(std::string method, std::string target) const {
    return router_.Handle(MakeRequest(std::move(method), std::move(target)));
  }

  Router router_;
};

TEST_F(RouterTest, RoutesLiteralPaths) {
  const Response response = Call("GET", "/syncx/health");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "health\n");
}

TEST_F(RouterTest, ExtractsDecodedPathParams) {
  Response response = Call("POST", "/sync/push-sessions/abc%2Fdef%20x/chunks");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "chunks push_id=abc/def x\n");  // %2F stays inside the segment

  response = Call("DELETE", "/sync/push-sessions/p-1");
  EXPECT_EQ(response.body, "delete push_id=p-1\n");

  response = Call("GET", "/sync/committed-bundles/42/rows?after_row_ordinal=3");
  EXPECT_EQ(response.body, "rows bundle_seq=42\n");
}

TEST_F(RouterTest, DuplicateSlashesAreCollapsed) {
  const Response response = Call("POST", "//sync//push-sessions/p1//commit");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "commit push_id=p1\n");
}

TEST_F(RouterTest, UnknownPathIs404PlainText) {
  for (const char* target :
       {"/nope", "/syncx/health/", "/syncx", "/sync/push-sessions/p1/chunks/extra", "/"}) {
    SCOPED_TRACE(target);
    const Response response = Call("PUT", target);
    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.body, "404 page not found\n");
    EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_FALSE(response.Header("Allow").has_value());
  }
}

TEST_F(RouterTest, EmptyWildcardSegmentDoesNotMatch) {
  // "/sync/push-sessions//chunks" collapses to "/sync/push-sessions/chunks", which only the
  // DELETE "/sync/push-sessions/{push_id}" route matches (push_id = "chunks").
  const Response response = Call("POST", "/sync/push-sessions//chunks");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.Header("Allow"), "DELETE");
  // A trailing empty segment never satisfies {push_id}.
  EXPECT_EQ(Call("DELETE", "/sync/push-sessions/").status, 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response response = Call("GET", "/sync/push-sessions");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.body, "Method Not Allowed\n");
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.Header("Allow"), "POST");

  response = Call("POST", "/syncx/health");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.Header("Allow"), "GET, HEAD");  // GET implies HEAD, as in Go

  response = Call("GET", "/sync/push-sessions/p1");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.Header("Allow"), "DELETE");
}

TEST_F(RouterTest, AllowListsEveryMethodSorted) {
  ASSERT_TRUE(router_.Add("GET", "/sync/push-sessions/{id}", Tag("get")).ok());
  const Response response = Call("PATCH", "/sync/push-sessions/p1");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.Header("Allow"), "DELETE, GET, HEAD");
}

TEST_F(RouterTest, HeadReachesGetRoutes) {
  const Response response = Call("HEAD", "/syncx/health");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "health\n");  // the transport drops the body for HEAD
}

TEST_F(RouterTest, ExplicitHeadRouteWinsOverGet) {
  ASSERT_TRUE(router_.Add("HEAD", "/syncx/health", Tag("head")).ok());
  EXPECT_EQ(Call("HEAD", "/syncx/health").body, "head\n");
  EXPECT_EQ(Call("GET", "/syncx/health").body, "health\n");
}

TEST_F(RouterTest, MethodsAreCaseSensitive) { EXPECT_EQ(Call("get", "/syncx/health").status, 405); }

TEST(RouterPrecedenceTest, LiteralBeatsWildcardBeatsRest) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/files/{rest...}", Tag("rest")).ok());
  ASSERT_TRUE(router.Add("GET", "/files/{name}", Tag("one")).ok());
  ASSERT_TRUE(router.Add("GET", "/files/readme", Tag("literal")).ok());
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/files/readme")).body, "literal\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/files/other")).body, "one name=other\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/files/a/b%2Fc")).body, "rest rest=a/b/c\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/files/")).body, "rest rest=\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/files")).status, 404);
}

TEST(RouterPrecedenceTest, MethodSpecificBeatsMethodless) {
  Router router;
  ASSERT_TRUE(router.Add("", "/x/{id}", Tag("any")).ok());
  ASSERT_TRUE(router.Add("POST", "/x/{id}", Tag("post")).ok());
  EXPECT_EQ(router.Handle(MakeRequest("POST", "/x/1")).body, "post id=1\n");
  EXPECT_EQ(router.Handle(MakeRequest("PUT", "/x/1")).body, "any id=1\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/x/1")).body, "any id=1\n");
}

TEST(RouterPrecedenceTest, ExactRootAndTrailingSlashWithDollar) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/{$}", Tag("root")).ok());
  ASSERT_TRUE(router.Add("GET", "/dir/{$}", Tag("dir")).ok());
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/")).body, "root\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/dir/")).body, "dir\n");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/dir")).status, 404);
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/other")).status, 404);
}

TEST(RouterAddTest, RejectsBadPatterns) {
  Router router;
  const auto bad = [&](std::string_view method, std::string_view pattern) {
    const Status status = router.Add(method, pattern, Tag("x"));
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << pattern;
  };
  bad("GET", "");
  bad("GET", "no-slash");
  bad("GET", "example.com/path");
  bad("GET", "/");
  bad("GET", "/a/");
  bad("GET", "/a//b");
  bad("GET", "/a/{x");
  bad("GET", "/a/x{y}");
  bad("GET", "/a/{}");
  bad("GET", "/a/{1x}");
  bad("GET", "/a/{x}/{x}");
  bad("GET", "/a/{x...}/b");
  bad("GET", "/{$}/b");
  bad("GET", "/a/%zz");
  bad("G T", "/a");
  EXPECT_EQ(router.Add("GET", "/a", nullptr).code(), ErrorCode::kInvalidArgument);
}

TEST(RouterAddTest, RejectsSameShapeTwice) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/a/{x}", Tag("1")).ok());
  EXPECT_EQ(router.Add("GET", "/a/{y}", Tag("2")).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(router.Add("POST", "/a/{y}", Tag("3")).ok());
  EXPECT_TRUE(router.Add("GET", "/a/b", Tag("4")).ok());
}

TEST(RouterHandleTest, HandlerExceptionBecomes500) {
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/boom",
                       [](const Request&, const PathParams&) -> Response {
                         throw std::runtime_error("boom");
                       })
                  .ok());
  const Response response = router.Handle(MakeRequest("GET", "/boom"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body, "Internal Server Error\n");
}

TEST(RouterHandleTest, AsHandlerForwards) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/ping", Tag("pong")).ok());
  const Handler handler = router.AsHandler();
  EXPECT_EQ(handler(MakeRequest("GET", "/ping")).body, "pong\n");
  EXPECT_EQ(handler(MakeRequest("GET", "/pong")).status, 404);
}

TEST(PathParamsTest, MissingNameIsEmpty) {
  PathParams params;
  params.Set("push_id", "p1");
  EXPECT_EQ(params.Get("push_id"), "p1");
  EXPECT_EQ(params.Get("other"), "");
}

}  // namespace
}  // namespace oversync::http
