// HTTP mapping of the sync handlers (protocol.md §1.3, §3, §5; go-oversync http_handlers_test.go
// and actor_middleware_test.go as cited per test). Requests go through a real Router against a
// real PostgreSQL; transport is exercised separately by the oversyncd e2e tests.
#include "oversync/server/http_handlers.h"

#include "oversync/http/router.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

class HttpHandlersTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    handlers_ = std::make_unique<HttpSyncHandlers>(*service_, [](const http::Request& r) {
      AuthResult auth;
      if (auto user = r.Header("X-Test-User")) {
        auth.user_id = std::string(*user);
      } else {
        auth.rejection = http::Response::Text(401, "Authorization header required");
      }
      return auth;
    });
    ASSERT_TRUE(handlers_->MountSyncRoutes(router_).ok());
    ASSERT_TRUE(handlers_->MountStatusRoutes(router_).ok());
  }

  http::Response Call(std::string method, std::string target, std::string body = "",
                      std::string user = "alice", std::string source = "dev-a") {
    http::Headers headers;
    if (!user.empty()) headers.emplace_back("X-Test-User", user);
    if (!source.empty()) headers.emplace_back("Oversync-Source-ID", source);
    auto request = http::Request::Make(std::move(method), std::move(target), std::move(headers),
                                       std::move(body));
    EXPECT_TRUE(request.has_value());
    return router_.Handle(*request);
  }

  static std::string Body(const http::Response& r) { return r.body; }

  std::unique_ptr<HttpSyncHandlers> handlers_;
  http::Router router_;
};

// actor_middleware_test.go: 401 from auth, 400 without the source header, trimmed values.
TEST_F(HttpHandlersTest, ActorMiddleware) {
  auto no_auth = Call("POST", "/sync/connect", "{}", "", "dev-a");
  EXPECT_EQ(no_auth.status, 401);
  EXPECT_EQ(no_auth.body, "Authorization header required\n");
  auto blank_user = Call("POST", "/sync/connect", "{}", "  ", "dev-a");
  EXPECT_EQ(blank_user.status, 401);
  EXPECT_EQ(blank_user.body,
            R"({"error":"authentication_failed","message":"authenticated user_id not found in request context"})"
            "\n");
  auto no_source = Call("POST", "/sync/connect", "{}", "alice", " ");
  EXPECT_EQ(no_source.status, 400);
  EXPECT_EQ(no_source.body,
            R"({"error":"invalid_request","message":"Oversync-Source-ID header is required"})"
            "\n");
}

// protocol.md §1.1: HEAD reaches GET routes and gets the handler's JSON 405; wrong methods on
// method-qualified routes get the router's plain 405; unknown paths 404.
TEST_F(HttpHandlersTest, MethodAndRouteErrors) {
  auto head = Call("HEAD", "/sync/pull");
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(head.body,
            R"({"error":"method_not_allowed","message":"Only GET method is allowed"})"
            "\n");
  EXPECT_EQ(Call("PUT", "/sync/connect").status, 405);
  EXPECT_EQ(Call("GET", "/sync/nope").status, 404);
}

// §3.1 + TestHandleConnect_InvalidRequestMappings: bad JSON and empty body -> 400.
TEST_F(HttpHandlersTest, ConnectMappings) {
  auto bad = Call("POST", "/sync/connect", "{");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find(R"("error":"invalid_request","message":"Failed to parse connect request)"),
            std::string::npos);
  EXPECT_EQ(Call("POST", "/sync/connect", "").status, 400);
  auto ok = Call("POST", "/sync/connect", R"({"has_local_pending_rows":false,"source_id":"x"})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{\"resolution\":\"initialize_empty\"}\n");
  EXPECT_EQ(ok.Header("Content-Type").value_or(""), "application/json");
  // The body's source_id is ignored; the header is the source (pinned).
  EXPECT_EQ(Scalar("SELECT initialized_by_source_id FROM sync.scope_state"), "dev-a");
}

// §3.2-§3.6 over HTTP: staging response omits next_expected_row_ordinal, chunk, commit, 404 on a
// second commit, already_committed replay, committed rows, conflict body, delete 204.
TEST_F(HttpHandlersTest, PushFlowMappings) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  auto create = Call("POST", "/sync/push-sessions",
                     R"({"source_bundle_id":1,"planned_row_count":1,"source_id":"ignored"})");
  ASSERT_EQ(create.status, 200) << create.body;
  auto created = protocol::DecodePushSessionCreateResponse(create.body);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(create.body, fmt::format(R"({{"push_id":"{}","status":"staging","planned_row_count":1}})"
                                     "\n",
                                     created->push_id));
  const std::string base = "/sync/push-sessions/" + created->push_id;
  auto invalid = Call("POST", "/sync/push-sessions/unknown/chunks",
                      R"({"start_row_ordinal":0,"rows":[]})");
  EXPECT_EQ(invalid.status, 400);  // stateless validation precedes the 404
  EXPECT_NE(invalid.body.find("push_chunk_invalid"), std::string::npos);
  auto chunk = Call("POST", base + "/chunks",
                    fmt::format(R"({{"start_row_ordinal":0,"rows":[{{"schema":"business","table":"users","key":{{"id":"{}"}},"op":"INSERT","base_row_version":0,"payload":{{"name":"Ann"}}}}]}})",
                                UserKey(1)));
  ASSERT_EQ(chunk.status, 200) << chunk.body;
  EXPECT_EQ(chunk.body, fmt::format(R"({{"push_id":"{}","next_expected_row_ordinal":1}})"
                                    "\n",
                                    created->push_id));
  auto commit = Call("POST", base + "/commit");
  ASSERT_EQ(commit.status, 200) << commit.body;
  auto committed = protocol::DecodePushSessionCommitResponse(commit.body);
  ASSERT_TRUE(committed.has_value());
  EXPECT_EQ(committed->bundle_seq, 1);
  auto again = Call("POST", base + "/commit");
  EXPECT_EQ(again.status, 404);
  EXPECT_NE(again.body.find("push_session_not_found"), std::string::npos);
  auto replay = Call("POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":1})");
  EXPECT_EQ(replay.body,
            fmt::format(R"({{"status":"already_committed","bundle_seq":1,"source_id":"dev-a","source_bundle_id":1,"row_count":1,"bundle_hash":"{}"}})"
                        "\n",
                        committed->bundle_hash));
  auto rows = Call("GET", "/sync/committed-bundles/1/rows?max_rows=10");
  ASSERT_EQ(rows.status, 200) << rows.body;
  auto decoded_rows = protocol::DecodeCommittedBundleRowsResponse(rows.body);
  ASSERT_TRUE(decoded_rows.has_value());
  EXPECT_EQ(decoded_rows->rows.size(), 1U);
  EXPECT_EQ(Call("GET", "/sync/committed-bundles/x/rows").status, 400);
  EXPECT_EQ(Call("GET", "/sync/committed-bundles/0/rows").status, 400);
  EXPECT_EQ(Call("GET", "/sync/committed-bundles/1/rows?after_row_ordinal=%207").status, 400);
  EXPECT_EQ(Call("GET", "/sync/committed-bundles/7/rows").status, 404);
  // A conflicting insert -> 409 push_conflict with the structured row.
  auto s2 = protocol::DecodePushSessionCreateResponse(
      Call("POST", "/sync/push-sessions", R"({"source_bundle_id":2,"planned_row_count":1})").body);
  ASSERT_TRUE(s2.has_value());
  ASSERT_EQ(Call("POST", "/sync/push-sessions/" + s2->push_id + "/chunks",
                 fmt::format(R"({{"start_row_ordinal":0,"rows":[{{"schema":"business","table":"users","key":{{"id":"{}"}},"op":"INSERT","base_row_version":0,"payload":{{"name":"Dup"}}}}]}})",
                             UserKey(1)))
                .status,
            200);
  auto conflict = Call("POST", "/sync/push-sessions/" + s2->push_id + "/commit");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body,
            fmt::format(R"({{"error":"push_conflict","message":"insert conflict on business.users {0}: expected base_row_version 1, got 0","conflict":{{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"INSERT","base_row_version":0,"server_row_version":1,"server_row_deleted":false,"server_row":{{"id":"{0}","age":null,"name":"Ann","score":null}}}}}})"
                        "\n",
                        UserKey(1)));
  auto del = Call("DELETE", "/sync/push-sessions/" + s2->push_id);
  EXPECT_EQ(del.status, 204);
  EXPECT_TRUE(del.body.empty());
  EXPECT_FALSE(del.Header("Content-Type").has_value());
  auto forbidden = Call("DELETE", "/sync/push-sessions/" + s2->push_id, "", "bob", "dev-x");
  EXPECT_EQ(forbidden.status, 404);
}

// §3.7: pull query validation and the scope gate.
TEST_F(HttpHandlersTest, PullMappings) {
  EXPECT_EQ(Call("GET", "/sync/pull").status, 409);  // scope_uninitialized
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  auto ok = Call("GET", "/sync/pull?after_bundle_seq=0&max_bundles=10");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{\"stable_bundle_seq\":0,\"bundles\":[],\"has_more\":false}\n");
  auto bad = Call("GET", "/sync/pull?max_bundles=5001");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            R"({"error":"invalid_request","message":"max_bundles must be between 1 and 5000"})"
            "\n");
  EXPECT_EQ(Call("GET", "/sync/pull?after_bundle_seq=-1").status, 400);
  EXPECT_EQ(Call("GET", "/sync/pull?after_bundle_seq=").status, 200);  // empty = absent
}

// §3.12 / §3.13: capabilities content, health and status; shutdown answers 503 for operations.
TEST_F(HttpHandlersTest, CapabilitiesStatusAndShutdown) {
  auto caps = Call("GET", "/sync/capabilities");
  ASSERT_EQ(caps.status, 200);
  auto decoded = protocol::DecodeCapabilitiesResponse(caps.body);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->features.at("connect_lifecycle"));
  EXPECT_FALSE(decoded->features.at("server_checkpoint_tracking"));
  EXPECT_EQ(decoded->registered_tables.front(), "business.docs");
  EXPECT_EQ(decoded->bundle_limits.max_bundles_per_pull, 5000);
  EXPECT_EQ(caps.body.find("_sync_scope_id"), std::string::npos);
  EXPECT_EQ(caps.body.find("sync_key_type"), std::string::npos);
  auto health = Call("GET", "/syncx/health", "", "", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find(R"("status":"healthy")"), std::string::npos);
  service_->Shutdown();
  auto after = Call("POST", "/sync/connect", "{}");
  EXPECT_EQ(after.status, 500);  // closed: generic code (protocol.md §1.6, §9 item 25)
  EXPECT_EQ(Call("GET", "/syncx/health", "", "", "").status, 503);
  EXPECT_EQ(Call("GET", "/syncx/status", "", "", "").status, 200);
}

}  // namespace
}  // namespace oversync::testing
