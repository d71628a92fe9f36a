// HTTP mapping of the sync handlers (protocol.md §1.3, §3, §5; go-oversync http_handlers_test.go
// and actor_middleware_test.go as cited per test). Requests go through a real Router against a
// real PostgreSQL; transport is exercised separately by the oversyncd e2e tests.
#include "oversync/server/http_handlers.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "oversync/http/router.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"
#include "oversync/server/stage_metrics.h"
#include "runtime_internal.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

class HttpHandlersTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    handlers_ = std::make_unique<HttpSyncHandlers>(*service_, &Authenticate, HandlerOptions());
    ASSERT_TRUE(handlers_->MountSyncRoutes(router_).ok());
    ASSERT_TRUE(handlers_->MountStatusRoutes(router_).ok());
  }

  // The fake authentication: X-Test-User is the trusted user; without it a plain-text 401.
  static AuthResult Authenticate(const http::Request& r) {
    AuthResult auth;
    if (auto user = r.Header("X-Test-User")) {
      auth.user_id = std::string(*user);
    } else {
      auth.rejection = http::Response::Text(401, "Authorization header required");
    }
    return auth;
  }

  // Override to give the handlers options (e.g. a per-actor watch policy).
  virtual HttpSyncHandlers::Options HandlerOptions() { return {}; }

  static http::Request MakeRequest(std::string method, std::string target) {
    auto request = http::Request::Make(std::move(method), std::move(target), {}, "");
    EXPECT_TRUE(request.has_value());
    return request.value_or(http::Request{});
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

// protocol.md §8 vector 1: TestActorMiddleware_InjectsActorFromContextAndHeader. A user id
// " user-1 " from auth and an Oversync-Source-ID of " source-1 " reach the service trimmed.
TEST_F(HttpHandlersTest, ActorMiddlewareTrimsUserAndSourceIds) {
  auto connect = Call("POST", "/sync/connect", "{}", " user-1 ", " source-1 ");
  ASSERT_EQ(connect.status, 200) << connect.body;
  EXPECT_EQ(Scalar("SELECT u.user_id || ':' || s.initialized_by_source_id FROM sync.scope_state s "
                   "JOIN sync.user_state u ON u.user_pk = s.user_pk"),
            "user-1:source-1");
  auto create = Call("POST", "/sync/push-sessions",
                     R"({"source_bundle_id":1,"planned_row_count":1})", " user-1 ", " source-1 ");
  ASSERT_EQ(create.status, 200) << create.body;
  EXPECT_EQ(Scalar("SELECT source_id FROM sync.push_sessions"), "source-1");
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

// ---- capabilities limits, watch and shutdown drain over the handlers ----

using std::chrono::milliseconds;
constexpr milliseconds kDeadline{15000};  // reached only when an expected event never comes

// Decodes a /syncx/status or /syncx/health body (failing the test when it does not decode).
protocol::StatusResponse StatusBody(const http::Response& r) {
  auto decoded = protocol::DecodeStatusResponse(r.body);
  EXPECT_TRUE(decoded.has_value()) << r.body;
  return decoded.value_or(protocol::StatusResponse{});
}

// A ResponseStream for driving a watch stream function: records what was written (thread-safe;
// the test thread reads while the stream thread writes), fails every Write after the first
// `fail_writes_after` successful ones (-1 = never) and can be cancelled like a gone client.
class RecordingStream final : public http::ResponseStream {
 public:
  explicit RecordingStream(int fail_writes_after = -1) : fail_writes_after_(fail_writes_after) {}

  bool Write(std::string_view data) override {
    std::lock_guard lock(mu_);
    if (fail_writes_after_ >= 0 && writes_ >= fail_writes_after_) {
      ++failed_writes_;
      changed_.notify_all();
      return false;
    }
    ++writes_;
    output_.append(data);
    changed_.notify_all();
    return true;
  }
  bool Flush() override { return !IsCancelled(); }
  bool IsCancelled() const override { return cancelled_.load(); }

  void Cancel() { cancelled_.store(true); }
  std::string Output() const {
    std::lock_guard lock(mu_);
    return output_;
  }
  int FailedWrites() const {
    std::lock_guard lock(mu_);
    return failed_writes_;
  }
  // Waits (bounded) until the recorded output contains `needle` at least `times` times.
  bool WaitFor(std::string_view needle, int times = 1) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kDeadline, [&] { return Count(output_, needle) >= times; });
  }

  static int Count(std::string_view haystack, std::string_view needle) {
    int n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
         at = haystack.find(needle, at + needle.size())) {
      ++n;
    }
    return n;
  }

 private:
  const int fail_writes_after_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string output_;
  int writes_ = 0;
  int failed_writes_ = 0;
  std::atomic<bool> cancelled_{false};
};

// Runs `response.stream(out)` on its own thread. Destruction cancels the stream (so a failed
// assertion never leaves the thread running) and joins it.
class StreamRunner {
 public:
  StreamRunner(const http::Response& response, RecordingStream& out) : out_(out) {
    auto done = std::make_shared<std::promise<void>>();
    finished_ = done->get_future();
    thread_ = std::thread([&response, &out, done] {
      response.stream(out);
      done->set_value();
    });
  }
  ~StreamRunner() {
    if (!thread_.joinable()) return;
    out_.Cancel();
    thread_.join();
  }
  StreamRunner(const StreamRunner&) = delete;
  StreamRunner& operator=(const StreamRunner&) = delete;

  // True when the stream function returned before the deadline (then the thread is joined).
  bool WaitReturned() {
    if (finished_.wait_for(kDeadline) != std::future_status::ready) return false;
    thread_.join();
    return true;
  }

 private:
  RecordingStream& out_;
  std::future<void> finished_;
  std::thread thread_;
};

std::string WithoutHeartbeats(std::string text) {
  constexpr std::string_view kHeartbeat = ": heartbeat\n\n";
  std::size_t at = 0;
  while ((at = text.find(kHeartbeat)) != std::string::npos) text.erase(at, kHeartbeat.size());
  return text;
}

// protocol.md §3.12 + vector 9 (TestBundleChangeWatchConfig_DefaultsDisabled): watch is off by
// default, so capabilities advertise bundle_change_watch false; the default limits are the
// documented ones and zero limits are omitted.
TEST_F(HttpHandlersTest, DefaultCapabilitiesWatchDisabledAndDefaultLimits) {
  auto caps = Call("GET", "/sync/capabilities");
  ASSERT_EQ(caps.status, 200) << caps.body;
  auto decoded = protocol::DecodeCapabilitiesResponse(caps.body);
  ASSERT_TRUE(decoded.has_value()) << caps.body;
  ASSERT_EQ(decoded->features.count("bundle_change_watch"), 1U);
  EXPECT_FALSE(decoded->features.at("bundle_change_watch"));
  EXPECT_NE(caps.body.find(R"("bundle_change_watch":false)"), std::string::npos) << caps.body;
  EXPECT_NE(caps.body.find(
                R"("bundle_limits":{"max_bundles_per_pull":5000,"default_rows_per_push_chunk":1000,"max_rows_per_push_chunk":5000,"push_session_ttl_seconds":900,"default_rows_per_committed_bundle_chunk":1000,"max_rows_per_committed_bundle_chunk":5000,"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":5000,"snapshot_session_ttl_seconds":900,"initialization_lease_ttl_seconds":900})"),
            std::string::npos)
      << caps.body;
  // The status route's feature map agrees (§3.13: same map, no actor policy).
  const protocol::StatusResponse status = StatusBody(Call("GET", "/syncx/status", "", "", ""));
  ASSERT_EQ(status.features.count("bundle_change_watch"), 1U);
  EXPECT_FALSE(status.features.at("bundle_change_watch"));
}

// protocol.md §3.8 order + vector 98 (TestHTTPSyncHandlers_HandleWatchRejectsDisabledFeature) at
// the HTTP level: watch disabled in the service -> 503 bundle_change_watch_disabled, even for an
// uninitialized scope (the scope gate comes later) and even when the per-actor policy would deny
// (the policy applies only when watch is enabled); after_bundle_seq is validated first.
TEST_F(HttpHandlersTest, WatchDisabledAnswers503) {
  const std::string disabled =
      R"({"error":"bundle_change_watch_disabled","message":"Bundle change watch is disabled"})"
      "\n";
  auto uninitialized = Call("GET", "/sync/watch");
  EXPECT_EQ(uninitialized.status, 503);
  EXPECT_EQ(uninitialized.body, disabled);
  EXPECT_FALSE(uninitialized.stream);
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  auto initialized = Call("GET", "/sync/watch?after_bundle_seq=0");
  EXPECT_EQ(initialized.status, 503);
  EXPECT_EQ(initialized.body, disabled);
  EXPECT_EQ(initialized.Header("Content-Type").value_or(""), "application/json");
  auto negative = Call("GET", "/sync/watch?after_bundle_seq=-1");
  EXPECT_EQ(negative.status, 400);
  // Go's json.Encoder HTML-escapes '>' (protocol.md §1.4).
  EXPECT_EQ(negative.body,
            R"({"error":"invalid_request","message":"after_bundle_seq must be \u003e= 0"})"
            "\n");

  HttpSyncHandlers::Options deny_all;
  deny_all.bundle_change_watch_allowed = [](const Actor&) { return false; };
  HttpSyncHandlers denying(*service_, &Authenticate, deny_all);
  const Actor alice{"alice", "dev-a"};
  auto policy = denying.HandleWatch(MakeRequest("GET", "/sync/watch"), &alice);
  EXPECT_EQ(policy.status, 503);
  EXPECT_EQ(policy.body, disabled);
  EXPECT_EQ(service_->LocalWatchSubscriberCount("alice").value_or(-1), 0);
}

// Watch enabled with a short heartbeat and a policy denying source "blocked-device".
class HttpHandlersWatchTest : public HttpHandlersTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.bundle_change_watch.enabled = true;
    config.bundle_change_watch.heartbeat_interval = milliseconds(50);
  }
  HttpSyncHandlers::Options HandlerOptions() override {
    HttpSyncHandlers::Options options;
    options.bundle_change_watch_allowed = [](const Actor& actor) {
      return actor.source_id != "blocked-device";
    };
    return options;
  }

  int Subscribers(const std::string& user) {
    return service_->LocalWatchSubscriberCount(user).value_or(-1);
  }

  // Opens GET /sync/watch for alice/dev-a and checks the 200 stream preamble (§3.8 step 1).
  std::optional<http::Response> OpenWatch(std::int64_t after) {
    http::Response r = Call("GET", fmt::format("/sync/watch?after_bundle_seq={}", after));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(static_cast<bool>(r.stream));
    if (r.status != 200 || !r.stream) return std::nullopt;
    EXPECT_EQ(r.Header("Content-Type").value_or(""), "text/event-stream");
    EXPECT_EQ(r.Header("Cache-Control").value_or(""), "no-cache");
    EXPECT_EQ(r.Header("X-Accel-Buffering").value_or(""), "no");
    return r;
  }
};

// Vector 96 (TestHTTPSyncHandlers_HandleWatchRequiresAuthenticatedActor): no actor -> 401. Over
// the router the authenticator's own rejection is sent; the handler without an actor answers
// 401 authentication_failed. Nothing is subscribed.
TEST_F(HttpHandlersWatchTest, WatchRequiresAuthenticatedActor) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  auto rejected = Call("GET", "/sync/watch", "", "", "dev-a");
  EXPECT_EQ(rejected.status, 401);
  EXPECT_EQ(rejected.body, "Authorization header required\n");
  EXPECT_FALSE(rejected.stream);
  auto blank = Call("GET", "/sync/watch", "", " ", "dev-a");
  EXPECT_EQ(blank.status, 401);
  EXPECT_NE(blank.body.find(R"("error":"authentication_failed")"), std::string::npos);
  auto direct = handlers_->HandleWatch(MakeRequest("GET", "/sync/watch"), nullptr);
  EXPECT_EQ(direct.status, 401);
  EXPECT_EQ(direct.body,
            R"({"error":"authentication_failed","message":"authenticated actor not found in request context"})"
            "\n");
  EXPECT_FALSE(direct.stream);
  EXPECT_EQ(Subscribers("alice"), 0);
}

// Vector 99 (TestHTTPSyncHandlers_HandleWatchRejectsForbiddenActor): watch enabled and the policy
// denies the actor -> 403 before query validation and the scope gate. Vector 7
// (TestHTTPSyncHandlers_HandleCapabilitiesAppliesActorWatchPolicy): no actor -> true, allowed
// actor -> true, denied actor -> false, all 200.
TEST_F(HttpHandlersWatchTest, WatchPolicyForbidsActorAndCapabilitiesFollow) {
  const std::string forbidden =
      R"({"error":"bundle_change_watch_forbidden","message":"Bundle change watch is not enabled for this client"})"
      "\n";
  auto denied = Call("GET", "/sync/watch", "", "alice", "blocked-device");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, forbidden);
  EXPECT_FALSE(denied.stream);
  auto denied_negative =
      Call("GET", "/sync/watch?after_bundle_seq=-1", "", "alice", "blocked-device");
  EXPECT_EQ(denied_negative.status, 403);
  EXPECT_EQ(denied_negative.body, forbidden);
  // The allowed actor reaches the scope gate (uninitialized scope -> 409).
  auto allowed = Call("GET", "/sync/watch", "", "alice", "allowed-device");
  EXPECT_EQ(allowed.status, 409);
  EXPECT_NE(allowed.body.find(R"("error":"scope_uninitialized")"), std::string::npos)
      << allowed.body;
  EXPECT_EQ(Subscribers("alice"), 0);

  const auto watch_flag = [](const http::Response& r) -> std::optional<bool> {
    EXPECT_EQ(r.status, 200) << r.body;
    auto decoded = protocol::DecodeCapabilitiesResponse(r.body);
    EXPECT_TRUE(decoded.has_value()) << r.body;
    if (!decoded || decoded->features.count("bundle_change_watch") == 0) return std::nullopt;
    return decoded->features.at("bundle_change_watch");
  };
  EXPECT_EQ(watch_flag(handlers_->HandleCapabilities(MakeRequest("GET", "/sync/capabilities"),
                                                     nullptr)),
            std::optional<bool>(true));
  EXPECT_EQ(watch_flag(Call("GET", "/sync/capabilities", "", "alice", "allowed-device")),
            std::optional<bool>(true));
  EXPECT_EQ(watch_flag(Call("GET", "/sync/capabilities", "", "alice", "blocked-device")),
            std::optional<bool>(false));
  // Status reports the service's flag, without actor policy (§3.13).
  const protocol::StatusResponse status = StatusBody(Call("GET", "/syncx/status", "", "", ""));
  ASSERT_EQ(status.features.count("bundle_change_watch"), 1U);
  EXPECT_TRUE(status.features.at("bundle_change_watch"));
}

// Vector 100 (immediate head event without source fields), vector 101
// (TestHTTPSyncHandlers_HandleWatchSendsHeartbeatAndCleansUp: heartbeat comment, one subscriber
// while connected, none after the client is gone) and the exact §3.8 event framing of a commit.
TEST_F(HttpHandlersWatchTest, WatchStreamHeartbeatsAndFramesCommits) {
  const Actor alice{"alice", "dev-a"};
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  auto first = Push(alice, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"a"})")});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_EQ(first->bundle_seq, 1);
  // The NOTIFY of that commit reaches the listener asynchronously; if it arrived after alice's
  // subscription below it would be the first event (with source fields) and the head event
  // would be deduplicated (server.md §7.5) — correct, but not what vector 100 pins. Notifications
  // are dispatched in commit order, so once bob's later commit has reached bob's subscriber,
  // alice's has been dispatched (to nobody).
  {
    const Actor bob{"bob", "dev-b"};
    ASSERT_EQ(Call("POST", "/sync/connect", "{}", "bob", "dev-b").status, 200);
    auto bob_watch = service_->SubscribeBundleChanges(bob, 0);
    ASSERT_TRUE(bob_watch.has_value()) << bob_watch.error().ToString();
    ASSERT_TRUE(Push(bob, 1, {Row("users", UserKey(9), "INSERT", 0, R"({"name":"b"})")}).has_value());
    auto delivered = (*bob_watch)->Next(kDeadline);
    ASSERT_TRUE(delivered.has_value() && delivered->has_value()) << "bob's commit never arrived";
  }

  std::optional<http::Response> response = OpenWatch(0);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(Subscribers("alice"), 1);
  RecordingStream out;
  {
    StreamRunner runner(*response, out);
    const std::string immediate = "event: bundle\ndata: {\"bundle_seq\":1}\n\n";
    ASSERT_TRUE(out.WaitFor(immediate)) << out.Output();
    ASSERT_TRUE(out.WaitFor(": heartbeat\n\n")) << out.Output();

    auto second = Push(alice, 2, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"b"})")});
    ASSERT_TRUE(second.has_value()) << second.error().ToString();
    const std::string frame = fmt::format(
        "event: bundle\ndata: "
        "{{\"bundle_seq\":{},\"source_id\":\"dev-a\",\"source_bundle_id\":2}}\n\n",
        second->bundle_seq);
    ASSERT_TRUE(out.WaitFor(frame)) << out.Output();
    // Heartbeats keep coming after the event (fixed ticker), and nothing but heartbeats and the
    // two events is ever written (no id:/retry: fields).
    const int beats = RecordingStream::Count(out.Output(), ": heartbeat\n\n");
    ASSERT_TRUE(out.WaitFor(": heartbeat\n\n", beats + 1)) << out.Output();
    EXPECT_EQ(WithoutHeartbeats(out.Output()), immediate + frame) << out.Output();
    EXPECT_EQ(Subscribers("alice"), 1);

    // A gone client (IsCancelled) ends the stream function.
    out.Cancel();
    EXPECT_TRUE(runner.WaitReturned());
  }
  EXPECT_EQ(out.FailedWrites(), 0);
  response.reset();  // the adapter drops the response with its captured subscription
  EXPECT_EQ(Subscribers("alice"), 0);
}

// Vector 102 (TestHTTPSyncHandlers_HandleWatchUnregistersSubscriberOnWriteFailure): a failing
// writer ends the stream function and the subscription is removed once the response is dropped.
TEST_F(HttpHandlersWatchTest, WatchStreamEndsOnWriteFailureAndUnsubscribes) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  std::optional<http::Response> response = OpenWatch(0);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(Subscribers("alice"), 1);
  RecordingStream out(/*fail_writes_after=*/0);
  {
    StreamRunner runner(*response, out);
    EXPECT_TRUE(runner.WaitReturned()) << "stream did not end after a failed write";
  }
  EXPECT_FALSE(out.IsCancelled());  // it ended because of the write, not a cancellation
  EXPECT_EQ(out.FailedWrites(), 1);  // returned at the first failure, no retry
  EXPECT_EQ(out.Output(), "");
  response.reset();
  EXPECT_EQ(Subscribers("alice"), 0);

  // Same after one successful write: the heartbeat goes out, the next write fails.
  std::optional<http::Response> again = OpenWatch(0);
  ASSERT_TRUE(again.has_value());
  RecordingStream once(/*fail_writes_after=*/1);
  {
    StreamRunner runner(*again, once);
    EXPECT_TRUE(runner.WaitReturned()) << "stream did not end after a failed write";
  }
  EXPECT_EQ(once.Output(), ": heartbeat\n\n");
  EXPECT_EQ(once.FailedWrites(), 1);
  again.reset();
  EXPECT_EQ(Subscribers("alice"), 0);
}

// Vector 5 (TestSyncService_GetCapabilities): configured limits are advertised as configured.
class HttpHandlersLimitsTest : public HttpHandlersTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.max_supported_schema_version = 3;
    config.app_name = "test-app";
    config.max_rows_per_bundle = 250;
    config.max_bytes_per_bundle = 4096;
    config.max_rows_per_push_chunk = 321;
    config.push_session_ttl = std::chrono::seconds(17);
    config.default_rows_per_committed_bundle_chunk = 45;
    config.max_rows_per_committed_bundle_chunk = 67;
    config.max_rows_per_snapshot_session = 890;
    config.max_bytes_per_snapshot_session = 98765;
  }
};

TEST_F(HttpHandlersLimitsTest, CapabilitiesMirrorConfiguredLimits) {
  auto caps = Call("GET", "/sync/capabilities");
  ASSERT_EQ(caps.status, 200) << caps.body;
  auto decoded = protocol::DecodeCapabilitiesResponse(caps.body);
  ASSERT_TRUE(decoded.has_value()) << caps.body;
  EXPECT_EQ(decoded->protocol_version, "v1");
  EXPECT_EQ(decoded->schema_version, 3);
  EXPECT_EQ(decoded->app_name, "test-app");
  EXPECT_EQ(decoded->registered_tables,
            (std::vector<std::string>{"business.docs", "business.files", "business.posts",
                                      "business.users"}));
  ASSERT_FALSE(decoded->registered_table_specs.empty());
  EXPECT_EQ(decoded->registered_table_specs[0].schema, "business");
  EXPECT_EQ(decoded->registered_table_specs[0].table, "docs");
  EXPECT_EQ(decoded->registered_table_specs[0].sync_key_columns,
            (std::vector<std::string>{"doc_id"}));
  for (const char* feature : {"bundle_pull", "snapshot_chunking", "capabilities_endpoint",
                              "history_pruned_errors", "bundle_push", "structured_sync_keys",
                              "push_session_chunking", "committed_bundle_row_fetch"}) {
    ASSERT_EQ(decoded->features.count(feature), 1U) << feature;
    EXPECT_TRUE(decoded->features.at(feature)) << feature;
  }
  EXPECT_EQ(decoded->features.count("push_sessions"), 0U);
  EXPECT_EQ(caps.body.find("\"push_sessions\""), std::string::npos);
  const protocol::BundleLimits& l = decoded->bundle_limits;
  EXPECT_EQ(l.max_rows_per_bundle, 250);
  EXPECT_EQ(l.max_bytes_per_bundle, 4096);
  EXPECT_EQ(l.max_bundles_per_pull, 5000);
  EXPECT_EQ(l.default_rows_per_push_chunk, 1000);
  EXPECT_EQ(l.max_rows_per_push_chunk, 321);
  EXPECT_EQ(l.push_session_ttl_seconds, 17);
  EXPECT_EQ(l.default_rows_per_committed_bundle_chunk, 45);
  EXPECT_EQ(l.max_rows_per_committed_bundle_chunk, 67);
  EXPECT_EQ(l.default_rows_per_snapshot_chunk, 1000);
  EXPECT_EQ(l.max_rows_per_snapshot_chunk, 5000);
  EXPECT_EQ(l.snapshot_session_ttl_seconds, 900);
  EXPECT_EQ(l.max_rows_per_snapshot_session, 890);
  EXPECT_EQ(l.max_bytes_per_snapshot_session, 98765);
  EXPECT_EQ(l.initialization_lease_ttl_seconds, 900);
  EXPECT_NE(caps.body.find(
                R"("bundle_limits":{"max_rows_per_bundle":250,"max_bytes_per_bundle":4096,"max_bundles_per_pull":5000,"default_rows_per_push_chunk":1000,"max_rows_per_push_chunk":321,"push_session_ttl_seconds":17,"default_rows_per_committed_bundle_chunk":45,"max_rows_per_committed_bundle_chunk":67,"default_rows_per_snapshot_chunk":1000,"max_rows_per_snapshot_chunk":5000,"snapshot_session_ttl_seconds":900,"max_rows_per_snapshot_session":890,"max_bytes_per_snapshot_session":98765,"initialization_lease_ttl_seconds":900})"),
            std::string::npos)
      << caps.body;
}

// Holds the first connect at its lock_wait stage (after BeginOperation, so it is in flight)
// until the test releases it.
class HttpHandlersDrainTest : public HttpHandlersTest {
 protected:
  struct Gate {
    std::atomic<bool> armed{true};
    std::promise<void> reached;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::once_flag release_once;
    void Release() {
      std::call_once(release_once, [this] { release.set_value(); });
    }
  };

  void ConfigureService(ServiceConfig& config) override {
    config.stage_metrics =
        std::make_shared<StageMetricsRecorderFunc>([gate = gate_](const StageTiming& t) {
          if (t.operation == "connect" && t.stage == "lock_wait" && gate->armed.exchange(false)) {
            gate->reached.set_value();
            gate->released.wait();
          }
        });
  }

  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
};

// Vector 12 (TestSyncService_CloseWaitsForInflightOperations) over HTTP, server.md §7.4,
// protocol.md §1.6: while draining, status reports shutting_down / not accepting / unhealthy and
// a push create is refused with 503 service_unavailable; the in-flight connect completes; then
// vector 10 (TestHTTPSyncHandlers_HandleHealthUsesStatusCodeForUnhealthyService): closed ->
// health 503 with status unhealthy, lifecycle closed.
TEST_F(HttpHandlersDrainTest, ShutdownDrainsInflightOperation) {
  std::future<void> reached = gate_->reached.get_future();
  std::optional<http::Response> connect_response;
  std::thread connect_thread([&] { connect_response = Call("POST", "/sync/connect", "{}"); });
  std::thread shutdown_thread;
  // Whatever happens below, release the held operation and join both threads.
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] {
    gate_->Release();
    if (connect_thread.joinable()) connect_thread.join();
    if (shutdown_thread.joinable()) shutdown_thread.join();
  }};
  ASSERT_EQ(reached.wait_for(kDeadline), std::future_status::ready)
      << "connect never reached lock_wait";

  shutdown_thread = std::thread([&] { service_->Shutdown(); });
  std::string lifecycle = "running";
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = service_->GetStatus();
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    if (s->lifecycle != "running") {
      lifecycle = s->lifecycle;
      break;
    }
    std::this_thread::yield();
  }
  ASSERT_EQ(lifecycle, "shutting_down");

  auto status_response = Call("GET", "/syncx/status", "", "", "");
  EXPECT_EQ(status_response.status, 200);
  const protocol::StatusResponse draining = StatusBody(status_response);
  EXPECT_EQ(draining.lifecycle, "shutting_down");
  EXPECT_FALSE(draining.accepting_operations);
  EXPECT_EQ(draining.status, "unhealthy");
  EXPECT_EQ(draining.inflight_operations, 1);
  auto draining_health = Call("GET", "/syncx/health", "", "", "");
  EXPECT_EQ(draining_health.status, 503);
  EXPECT_EQ(StatusBody(draining_health).lifecycle, "shutting_down");

  auto refused = Call("POST", "/sync/push-sessions",
                      R"({"source_bundle_id":1,"planned_row_count":1})", "bob", "dev-b");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body,
            R"({"error":"service_unavailable","message":"Sync service is shutting down"})"
            "\n");
  // Still draining: the held connect keeps Shutdown from closing.
  EXPECT_EQ(StatusBody(Call("GET", "/syncx/status", "", "", "")).lifecycle, "shutting_down");

  gate_->Release();
  connect_thread.join();
  shutdown_thread.join();
  ASSERT_TRUE(connect_response.has_value());
  EXPECT_EQ(connect_response->status, 200) << connect_response->body;  // the in-flight op finished
  EXPECT_EQ(connect_response->body, "{\"resolution\":\"initialize_empty\"}\n");

  const protocol::StatusResponse closed = StatusBody(Call("GET", "/syncx/status", "", "", ""));
  EXPECT_EQ(closed.lifecycle, "closed");
  EXPECT_FALSE(closed.accepting_operations);
  EXPECT_EQ(closed.status, "unhealthy");
  EXPECT_EQ(closed.inflight_operations, 0);
  auto health = Call("GET", "/syncx/health", "", "", "");
  EXPECT_EQ(health.status, 503);
  const protocol::StatusResponse closed_health = StatusBody(health);
  EXPECT_EQ(closed_health.status, "unhealthy");
  EXPECT_EQ(closed_health.lifecycle, "closed");
}

// ---- wire profile B (protocol-b.md; docs/wire-profiles.md) ----------------------------------

constexpr std::string_view kProfileB = "jcs_uniform_numeric_strings_v1";

class ProfileBHttpTest : public HttpHandlersTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.wire_profile = std::string(kProfileB);
    config.reserved_server_source_ids = {"server-writer"};
  }
  static std::string Hash() { return std::string(64, 'c'); }
  static std::string CreateBody(std::int64_t source_bundle_id, const std::string& hash,
                                const std::string& initialization_id = "") {
    std::string body = fmt::format(R"({{"source_bundle_id":{},"planned_row_count":1)",
                                   source_bundle_id);
    if (!hash.empty()) body += fmt::format(R"(,"canonical_request_hash":"{}")", hash);
    if (!initialization_id.empty()) {
      body += fmt::format(R"(,"initialization_id":"{}")", initialization_id);
    }
    return body + "}";
  }
};

// protocol-b.md §5.1: registered_table_specs and the seven snapshot limits, with Go's defaults.
TEST_F(ProfileBHttpTest, CapabilitiesHaveTheProfileBShape) {
  auto caps = Call("GET", "/sync/capabilities");
  ASSERT_EQ(caps.status, 200) << caps.body;
  const auto decoded = protocol::DecodeCapabilitiesResponse(
      caps.body, nullptr, protocol::WireProfileId::kJcsUniformNumericStringsV1);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString() << caps.body;
  EXPECT_EQ(decoded->protocol_version, "v1");
  ASSERT_EQ(decoded->registered_table_specs.size(), 4U);
  EXPECT_EQ(decoded->registered_table_specs[0].table, "docs");
  const protocol::BundleLimits& l = decoded->bundle_limits;
  EXPECT_EQ(l.default_bytes_per_snapshot_chunk, 4194304);
  EXPECT_EQ(l.max_bytes_per_snapshot_chunk, 16777216);
  EXPECT_EQ(l.max_bytes_per_snapshot_row, 4194304);
  EXPECT_EQ(l.snapshot_materialization_batch_rows, 512);
  EXPECT_EQ(l.snapshot_materialization_batch_bytes, 4194304);
  EXPECT_EQ(l.max_concurrent_snapshot_builds, 8);
  EXPECT_EQ(l.max_concurrent_snapshot_chunk_requests, 4);
}

// protocol-b.md §1.1-§1.2: the source id is a printable-ASCII token used exactly, reserved server
// ids look like any invalid id, the user id is used byte for byte.
TEST_F(ProfileBHttpTest, IdentifierGrammar) {
  const std::string message =
      R"({"error":"invalid_request","message":"Oversync-Source-ID header must be a non-empty visible ASCII token"})"
      "\n";
  for (const std::string& bad :
       {std::string("dev a"), std::string("caf\xC3\xA9"), std::string(257, 'x'),
        std::string("server-writer"), std::string(" dev-a")}) {
    auto r = Call("POST", "/sync/connect", "{}", "alice", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body, message) << bad;
  }
  auto longest = Call("POST", "/sync/connect", "{}", "alice", std::string(256, '~'));
  EXPECT_EQ(longest.status, 200) << longest.body;
  auto spaced_user = Call("POST", "/sync/connect", "{}", " user-1 ", "dev-1");
  ASSERT_EQ(spaced_user.status, 200) << spaced_user.body;
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.user_state WHERE user_id = ' user-1 '"), "1");
}

// protocol-b.md §5.3 steps 3-5: hash spelling, then the initialization_id spelling.
TEST_F(ProfileBHttpTest, PushCreateRequiresTheRequestHash) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const auto expect_invalid = [&](const std::string& body, std::string_view message) {
    auto r = Call("POST", "/sync/push-sessions", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.body, fmt::format(R"({{"error":"push_session_invalid","message":"{}"}})", message) +
                          "\n")
        << body;
  };
  const std::string hash_message = "canonical_request_hash must be 64 lowercase hexadecimal characters";
  expect_invalid(CreateBody(1, ""), hash_message);
  expect_invalid(CreateBody(1, std::string(64, 'C')), hash_message);
  expect_invalid(CreateBody(1, std::string(63, 'c')), hash_message);
  // The earlier checks still come first.
  expect_invalid(CreateBody(0, ""), "source_bundle_id must be \\u003e 0");  // Go escapes >
  expect_invalid(CreateBody(1, Hash(), "6DF0D8DD-A84B-43B6-BBCA-8DE70432922A"),
                 "initialization_id must be a canonical lowercase dashed UUID");
  expect_invalid(CreateBody(1, Hash(), " 6df0d8dd-a84b-43b6-bbca-8de70432922a"),
                 "initialization_id must be a canonical lowercase dashed UUID");
}

// protocol-b.md §1.3, §5.4 step 1: a non-canonical push id is 404 before the body is read.
TEST_F(ProfileBHttpTest, NonCanonicalPushIdIsNotFound) {
  const std::string not_found =
      R"({"error":"push_session_not_found","message":"push session was not found"})"
      "\n";
  for (const std::string& push_id :
       {std::string("not-a-uuid"), std::string("6DF0D8DD-A84B-43B6-BBCA-8DE70432922A")}) {
    auto chunk = Call("POST", "/sync/push-sessions/" + push_id + "/chunks", "{malformed");
    EXPECT_EQ(chunk.status, 404) << push_id;
    EXPECT_EQ(chunk.body, not_found);
    auto commit = Call("POST", "/sync/push-sessions/" + push_id + "/commit");
    EXPECT_EQ(commit.status, 404) << push_id;
    EXPECT_EQ(Call("DELETE", "/sync/push-sessions/" + push_id).status, 404) << push_id;
  }
}

// protocol-b.md §5.8: pull boundaries on a scope whose history a profile-A service wrote (the
// two profiles share one database, docs/wire-profiles.md): after = floor is valid, after below the
// floor is pruned, ahead of the head is checkpoint_ahead, a target below after is a 400.
TEST_F(ProfileBHttpTest, PullBoundaries) {
  const Actor alice{"alice", "dev-a"};
  {
    config_.wire_profile = "go_canonical_v1";
    std::unique_ptr<RuntimeService> profile_a = MakeService();
    ASSERT_TRUE(profile_a);
    ASSERT_TRUE(profile_a->Connect(alice, {false}).has_value());
    for (int i = 1; i <= 4; ++i) {
      protocol::PushSessionCreateRequest create;
      create.source_bundle_id = i;
      create.planned_row_count = 1;
      auto session = profile_a->CreatePushSession(alice, create);
      ASSERT_TRUE(session.has_value()) << session.error().ToString();
      protocol::PushChunkRequest chunk;
      chunk.rows = {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")};
      ASSERT_TRUE(profile_a->UploadPushChunk(alice, session->push_id, std::move(chunk)));
      ASSERT_TRUE(profile_a->CommitPushSession(alice, session->push_id));
    }
  }
  Sql("UPDATE sync.user_state SET retained_bundle_floor = 2 WHERE user_id = 'alice'");
  const auto pull = [&](std::int64_t after, std::int64_t target) {
    return Call("GET", fmt::format("/sync/pull?after_bundle_seq={}&target_bundle_seq={}", after,
                                   target));
  };
  auto at_floor = pull(2, 0);
  ASSERT_EQ(at_floor.status, 200) << at_floor.body;
  const auto page = protocol::DecodePullResponse(at_floor.body);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->stable_bundle_seq, 4);
  ASSERT_EQ(page->bundles.size(), 2U);
  EXPECT_EQ(page->bundles.front().bundle_seq, 3);
  auto below = pull(1, 0);
  EXPECT_EQ(below.status, 409);
  EXPECT_NE(below.body.find(R"("error":"history_pruned")"), std::string::npos);
  auto zero = pull(0, 0);  // profile B: 0 below a floor is pruned too
  EXPECT_EQ(zero.status, 409);
  auto ahead = pull(5, 0);
  EXPECT_EQ(ahead.status, 409);
  EXPECT_EQ(ahead.body,
            R"({"error":"checkpoint_ahead","message":"requested checkpoint 5 is ahead of current committed bundle sequence 4 for user alice"})"
            "\n");
  auto target_ahead = pull(2, 9);
  EXPECT_EQ(target_ahead.status, 409);
  EXPECT_NE(target_ahead.body.find(R"("error":"checkpoint_ahead","message":"requested target 9)"),
            std::string::npos);
  auto target_below_floor = pull(2, 1);
  EXPECT_EQ(target_below_floor.status, 409);
  EXPECT_NE(target_below_floor.body.find("history_pruned"), std::string::npos);
  auto target_below_after = pull(4, 3);
  EXPECT_EQ(target_below_after.status, 400);
  EXPECT_EQ(target_below_after.body,
            R"({"error":"invalid_request","message":"target_bundle_seq 3 must be greater than or equal to after_bundle_seq 4"})"
            "\n");
  auto up_to_date = pull(4, 0);
  ASSERT_EQ(up_to_date.status, 200);
  EXPECT_EQ(up_to_date.body, "{\"stable_bundle_seq\":4,\"bundles\":[],\"has_more\":false}\n");
}

// protocol-b.md §5.1 (normalizeSnapshotConfig): a profile-B service refuses inconsistent
// snapshot limits and bad reserved ids; unknown profile names are refused by both.
TEST(ProfileBConfigTest, Validation) {
  ServiceConfig config;
  config.wire_profile = std::string(kProfileB);
  EXPECT_TRUE(ResolveServiceConfig(config).has_value());
  config.default_bytes_per_snapshot_chunk = 32 * 1024 * 1024;
  EXPECT_FALSE(ResolveServiceConfig(config).has_value());
  config.default_bytes_per_snapshot_chunk = 0;
  config.max_bytes_per_snapshot_row = 4096;
  config.snapshot_materialization_batch_bytes = 1024;
  EXPECT_FALSE(ResolveServiceConfig(config).has_value());
  config.snapshot_materialization_batch_bytes = 0;
  EXPECT_TRUE(ResolveServiceConfig(config).has_value());
  config.reserved_server_source_ids = {"ok-id", "ok-id"};
  EXPECT_FALSE(ResolveServiceConfig(config).has_value());
  config.reserved_server_source_ids = {"has space"};
  EXPECT_FALSE(ResolveServiceConfig(config).has_value());
  config.reserved_server_source_ids = {};
  config.wire_profile = "v2";
  EXPECT_FALSE(ResolveServiceConfig(config).has_value());
  // Profile A keeps go-oversync 1f1118f's leniency.
  ServiceConfig a;
  a.default_rows_per_snapshot_chunk = 9000;
  EXPECT_TRUE(ResolveServiceConfig(a).has_value());
}

// A profile-B client's push: create with the request hash, one chunk, commit; then the committed
// rows and the pull, each decoded with the profile-B decoders (which require the hashes).
class ProfileBPushTest : public ProfileBHttpTest {
 protected:
  static constexpr protocol::WireProfileId kB = protocol::WireProfileId::kJcsUniformNumericStringsV1;

  struct Upload {
    std::string table;
    std::string key;
    std::string op = "INSERT";
    std::int64_t base = 0;
    std::string payload;  // JSON text; empty for DELETE
  };

  // The client's side of protocol-b.md §4.2: the hash over the rows as they will be uploaded.
  static std::string RequestHash(const std::vector<Upload>& rows) {
    protocol::CanonicalRequestHasher hasher;
    for (const Upload& u : rows) {
      protocol::JsonValue key = protocol::JsonValue::Object();
      key.Add(u.table == "docs" ? "doc_id" : "id", protocol::JsonValue::String(u.key));
      protocol::Op op{};
      EXPECT_TRUE(protocol::ParseOp(u.op, op));
      std::optional<protocol::JsonValue> payload;
      if (!u.payload.empty()) payload = protocol::ParseJson(u.payload).value();
      EXPECT_TRUE(hasher.AddRow("business", u.table, key, op, u.base,
                                payload ? &*payload : nullptr).ok());
    }
    return hasher.Finish().hex;
  }

  static std::string ChunkBody(const std::vector<Upload>& rows) {
    std::string body = R"({"start_row_ordinal":0,"rows":[)";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Upload& u = rows[i];
      if (i > 0) body += ",";
      body += fmt::format(R"({{"schema":"business","table":"{}","key":{{"{}":"{}"}},"op":"{}",)"
                          R"("base_row_version":{})",
                          u.table, u.table == "docs" ? "doc_id" : "id", u.key, u.op, u.base);
      if (!u.payload.empty()) body += R"(,"payload":)" + u.payload;
      body += "}";
    }
    return body + "]}";
  }

  // create -> chunk -> commit; returns the commit answer (or the first failing one).
  http::Response PushRows(std::int64_t source_bundle_id, const std::vector<Upload>& rows,
                          const std::string& hash) {
    auto create = Call("POST", "/sync/push-sessions",
                       fmt::format(R"({{"source_bundle_id":{},"planned_row_count":{},)"
                                   R"("canonical_request_hash":"{}"}})",
                                   source_bundle_id, rows.size(), hash));
    if (create.status != 200) return create;
    const auto session = protocol::DecodePushSessionCreateResponse(create.body, nullptr, kB);
    EXPECT_TRUE(session.has_value()) << create.body;
    if (!session) return create;
    EXPECT_EQ(session->canonical_request_hash, hash);
    auto chunk = Call("POST", "/sync/push-sessions/" + session->push_id + "/chunks",
                      ChunkBody(rows));
    if (chunk.status != 200) return chunk;
    return Call("POST", "/sync/push-sessions/" + session->push_id + "/commit");
  }

  // Re-fetches the committed rows and recomputes the profile-B hash the way clients do.
  protocol::CommittedBundleRowsResponse FetchAndVerify(std::int64_t bundle_seq) {
    auto r = Call("GET", fmt::format("/sync/committed-bundles/{}/rows", bundle_seq));
    EXPECT_EQ(r.status, 200) << r.body;
    const auto rows = protocol::DecodeCommittedBundleRowsResponse(r.body, nullptr, kB);
    EXPECT_TRUE(rows.has_value()) << r.body;
    if (!rows) return {};
    const auto hash = protocol::ComputeBundleHash(protocol::JcsUniformNumericStringsV1Profile(),
                                                  bundle_seq, rows->rows);
    EXPECT_TRUE(hash.has_value());
    EXPECT_EQ(hash->hex, rows->bundle_hash) << r.body;
    return *rows;
  }
};

// protocol-b.md §4.3 V3-B: the docs row committed through a profile-B service carries exactly
// the spec's bundle hash, and the request hash travels through create, commit, committed rows
// and pull.
TEST_F(ProfileBPushTest, CommitCarriesBothHashes) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::vector<Upload> rows = {
      {"docs", "doc-42", "INSERT", 0, R"({"doc_id":"doc-42","body":"Hello text key"})"}};
  const std::string request_hash = RequestHash(rows);
  auto commit = PushRows(1, rows, request_hash);
  ASSERT_EQ(commit.status, 200) << commit.body;
  const auto committed = protocol::DecodePushSessionCommitResponse(commit.body, nullptr, kB);
  ASSERT_TRUE(committed.has_value()) << commit.body;
  EXPECT_EQ(committed->bundle_hash,
            "4546a642b6dc2e9f7a62bc2d63bcdce699f9b37931a4abd0502e293eb1051876");
  EXPECT_EQ(committed->canonical_request_hash, request_hash);
  const auto fetched = FetchAndVerify(committed->bundle_seq);
  EXPECT_EQ(fetched.canonical_request_hash, request_hash);
  auto pull = Call("GET", "/sync/pull?after_bundle_seq=0");
  ASSERT_EQ(pull.status, 200) << pull.body;
  const auto page = protocol::DecodePullResponse(pull.body);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->bundles.size(), 1U);
  EXPECT_EQ(page->bundles[0].bundle_hash, committed->bundle_hash);
  EXPECT_EQ(page->bundles[0].canonical_request_hash, request_hash);
  // bundle_log keeps go-oversync's hash for profile-A readers of the same database.
  EXPECT_NE(Scalar("SELECT encode(bundle_hash, 'hex') FROM sync.bundle_log"),
            committed->bundle_hash);
  // Replays: the same upload is already_committed (with the B hashes), another is refused.
  auto replay = Call("POST", "/sync/push-sessions",
                     fmt::format(R"({{"source_bundle_id":1,"planned_row_count":1,)"
                                 R"("canonical_request_hash":"{}"}})",
                                 request_hash));
  ASSERT_EQ(replay.status, 200) << replay.body;
  const auto replayed = protocol::DecodePushSessionCreateResponse(replay.body, nullptr, kB);
  ASSERT_TRUE(replayed.has_value()) << replay.body;
  EXPECT_EQ(replayed->status, protocol::PushSessionStatus::kAlreadyCommitted);
  EXPECT_EQ(replayed->bundle_hash, committed->bundle_hash);
  EXPECT_EQ(replayed->canonical_request_hash, request_hash);
  auto other = Call("POST", "/sync/push-sessions",
                    fmt::format(R"({{"source_bundle_id":1,"planned_row_count":1,)"
                                R"("canonical_request_hash":"{}"}})",
                                std::string(64, 'd')));
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(other.body,
            R"({"error":"push_session_invalid","message":"canonical_request_hash does not match the committed source tuple"})"
            "\n");
}

// protocol-b.md §4.2 step 4: a staged upload that is not what the client hashed is refused at
// commit and nothing is applied.
TEST_F(ProfileBPushTest, CommitRefusesAMismatchedRequestHash) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::vector<Upload> rows = {
      {"docs", "doc-1", "INSERT", 0, R"({"doc_id":"doc-1","body":"one"})"}};
  std::vector<Upload> hashed = rows;
  hashed[0].payload = R"({"doc_id":"doc-1","body":"two"})";
  auto commit = PushRows(1, rows, RequestHash(hashed));
  EXPECT_EQ(commit.status, 400);
  EXPECT_EQ(commit.body,
            R"({"error":"push_commit_invalid","message":"canonical_request_hash does not match staged push rows"})"
            "\n");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.docs"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
}

// protocol-b.md §5.4: the lookup errors of profile B do not repeat the push id.
TEST_F(ProfileBPushTest, LookupMessagesOmitThePushId) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::vector<Upload> rows = {
      {"docs", "doc-1", "INSERT", 0, R"({"doc_id":"doc-1","body":"one"})"}};
  auto create = Call("POST", "/sync/push-sessions",
                     fmt::format(R"({{"source_bundle_id":1,"planned_row_count":1,)"
                                 R"("canonical_request_hash":"{}"}})",
                                 RequestHash(rows)));
  ASSERT_EQ(create.status, 200) << create.body;
  const auto session = protocol::DecodePushSessionCreateResponse(create.body, nullptr, kB);
  ASSERT_TRUE(session.has_value());
  const std::string chunks = "/sync/push-sessions/" + session->push_id + "/chunks";
  auto forbidden = Call("POST", chunks, ChunkBody(rows), "mallory");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.body,
            R"({"error":"push_session_forbidden","message":"push session does not belong to the authenticated user"})"
            "\n");
  std::string late = ChunkBody(rows);
  late.replace(late.find("\"start_row_ordinal\":0"), 21, "\"start_row_ordinal\":1");
  auto out_of_order = Call("POST", chunks, late);
  EXPECT_EQ(out_of_order.status, 409);
  EXPECT_EQ(out_of_order.body,
            R"({"error":"push_chunk_out_of_order","message":"push session expected start_row_ordinal 0, got 1"})"
            "\n");
  ASSERT_EQ(Call("DELETE", "/sync/push-sessions/" + session->push_id).status, 204);
  auto gone = Call("POST", "/sync/push-sessions/" + session->push_id + "/commit");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body,
            R"({"error":"push_session_not_found","message":"push session was not found"})"
            "\n");
}

// protocol-b.md §2.2: typed columns take numeric strings (JSON numbers refused with the Go
// message), the committed value is PostgreSQL's (numeric scale kept through an exact copy of the
// row image) and a profile-A service on the same database renders the same row as numbers.
TEST_F(ProfileBPushTest, NumericStringsBothWays) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::string id = UserKey(1);
  const std::vector<Upload> legacy = {
      {"users", id, "INSERT", 0, fmt::format(R"({{"id":"{}","name":"n","age":42}})", id)}};
  auto refused = PushRows(1, legacy, RequestHash(legacy));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body,
            R"x({"error":"push_chunk_invalid","message":"payload field business.users.age must use canonical signed integer JSON string (category=legacy_json_number)"})x"
            "\n");
  const std::vector<Upload> rows = {
      {"users", id, "INSERT", 0,
       fmt::format(R"({{"id":"{}","name":"n","age":"2147483647","score":"1234567890.1234567890"}})",
                   id)}};
  auto commit = PushRows(1, rows, RequestHash(rows));
  ASSERT_EQ(commit.status, 200) << commit.body;
  const auto committed = protocol::DecodePushSessionCommitResponse(commit.body, nullptr, kB);
  ASSERT_TRUE(committed.has_value());
  const auto fetched = FetchAndVerify(committed->bundle_seq);
  ASSERT_EQ(fetched.rows.size(), 1U);
  const protocol::JsonValue& payload = *fetched.rows[0].payload;
  EXPECT_EQ(payload.Find("age")->as_string(), "2147483647");
  EXPECT_EQ(payload.Find("score")->as_string(), "1234567890.1234567890");  // no float64 rounding
  EXPECT_EQ(Scalar("SELECT score::text FROM business.users"), "1234567890.1234567890");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.cpp_bundle_rows_exact"), "1");
  // The profile-A view of the same bundle: JSON numbers, Go-canonical (rounded) digits.
  config_.wire_profile = "go_canonical_v1";
  std::unique_ptr<RuntimeService> profile_a = MakeService();
  ASSERT_TRUE(profile_a);
  auto a_rows = profile_a->GetCommittedBundleRows({"alice", "dev-a"},
                                                  {committed->bundle_seq, std::nullopt, 10});
  ASSERT_TRUE(a_rows.has_value()) << a_rows.error().ToString();
  EXPECT_TRUE(a_rows->rows[0].payload->Find("score")->is_number());
  EXPECT_EQ(a_rows->rows[0].payload->Find("age")->as_number().lexeme, "2147483647");
}

// docs/wire-profiles.md: a bundle committed through a profile-A service (no profile-B record) is
// served to profile-B readers with a hash computed from what they receive.
TEST_F(ProfileBPushTest, BundlesCommittedThroughProfileAAreServed) {
  const Actor alice{"alice", "dev-a"};
  {
    config_.wire_profile = "go_canonical_v1";
    std::unique_ptr<RuntimeService> profile_a = MakeService();
    ASSERT_TRUE(profile_a);
    ASSERT_TRUE(profile_a->Connect(alice, {false}).has_value());
    protocol::PushSessionCreateRequest create;
    create.source_bundle_id = 1;
    create.planned_row_count = 1;
    auto session = profile_a->CreatePushSession(alice, create);
    ASSERT_TRUE(session.has_value()) << session.error().ToString();
    protocol::PushChunkRequest chunk;
    chunk.rows = {Row("users", UserKey(7), "INSERT", 0, R"({"name":"a","age":7,"score":2.5})")};
    ASSERT_TRUE(profile_a->UploadPushChunk(alice, session->push_id, std::move(chunk)));
    ASSERT_TRUE(profile_a->CommitPushSession(alice, session->push_id));
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.cpp_bundle_profile_b"), "0");
  const auto fetched = FetchAndVerify(1);
  ASSERT_EQ(fetched.rows.size(), 1U);
  EXPECT_EQ(fetched.rows[0].payload->Find("age")->as_string(), "7");
  EXPECT_EQ(fetched.rows[0].payload->Find("score")->as_string(), "2.5");
  EXPECT_EQ(fetched.canonical_request_hash, "");
  auto pull = Call("GET", "/sync/pull?after_bundle_seq=0");
  ASSERT_EQ(pull.status, 200) << pull.body;
  const auto page = protocol::DecodePullResponse(pull.body);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->bundles.size(), 1U);
  EXPECT_EQ(page->bundles[0].bundle_hash, fetched.bundle_hash);
  EXPECT_EQ(pull.body.find("canonical_request_hash"), std::string::npos);
}

// protocol-b.md §5.10-§5.12: snapshot sessions of a profile-B service — byte counts of full
// rows, max_bytes budgets, snapshot_chunk_too_small, logical retirement on DELETE.
TEST_F(ProfileBPushTest, SnapshotSessionsCountAndBudgetBytes) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  std::vector<Upload> rows;
  for (int i = 1; i <= 3; ++i) {
    rows.push_back({"users", UserKey(i), "INSERT", 0,
                    fmt::format(R"({{"id":"{}","name":"user {}","age":"{}","score":"{}.50"}})",
                                UserKey(i), i, 20 + i, i)});
  }
  ASSERT_EQ(PushRows(1, rows, RequestHash(rows)).status, 200);
  auto create = Call("POST", "/sync/snapshot-sessions", "");
  ASSERT_EQ(create.status, 200) << create.body;
  const auto session = protocol::DecodeSnapshotSession(create.body, nullptr, kB);
  ASSERT_TRUE(session.has_value()) << create.body;
  EXPECT_EQ(session->row_count, 3);
  const std::string base = "/sync/snapshot-sessions/" + session->snapshot_id;
  auto all = Call("GET", base + "?after_row_ordinal=0&max_rows=10&max_bytes=4194304");
  ASSERT_EQ(all.status, 200) << all.body;
  const auto chunk = protocol::DecodeSnapshotChunkResponse(all.body, nullptr, kB);
  ASSERT_TRUE(chunk.has_value()) << all.body;
  ASSERT_EQ(chunk->rows.size(), 3U);
  std::int64_t sum = 0;
  for (const protocol::SnapshotRow& row : chunk->rows) sum += protocol::SnapshotRowWireSize(row);
  EXPECT_EQ(chunk->byte_count, sum);  // the Go row-size unit
  EXPECT_EQ(session->byte_count, sum);
  EXPECT_EQ(chunk->rows[0].payload.Find("age")->as_string(), "21");
  EXPECT_EQ(chunk->rows[0].payload.Find("score")->as_string(), "1.50");
  // A budget of exactly the first row: one row, has_more.
  const std::int64_t first = protocol::SnapshotRowWireSize(chunk->rows[0]);
  auto one = Call("GET", fmt::format("{}?after_row_ordinal=0&max_rows=10&max_bytes={}", base, first));
  ASSERT_EQ(one.status, 200) << one.body;
  const auto one_chunk = protocol::DecodeSnapshotChunkResponse(one.body, nullptr, kB);
  ASSERT_TRUE(one_chunk.has_value());
  EXPECT_EQ(one_chunk->rows.size(), 1U);
  EXPECT_TRUE(one_chunk->has_more);
  EXPECT_EQ(one_chunk->byte_count, first);
  // Smaller than the next row: terminal for that budget, with the size needed.
  auto small = Call("GET", base + "?after_row_ordinal=0&max_bytes=10");
  EXPECT_EQ(small.status, 400);
  const auto too_small = protocol::DecodeErrorResponse(small.body);
  ASSERT_TRUE(too_small.has_value()) << small.body;
  EXPECT_EQ(too_small->error, "snapshot_chunk_too_small");
  EXPECT_EQ(too_small->required_byte_count, first);
  EXPECT_EQ(Call("GET", base + "?max_bytes=abc").body,
            R"({"error":"snapshot_chunk_invalid","message":"max_bytes must be an integer"})"
            "\n");
  EXPECT_EQ(Call("GET", base + "?max_bytes=0").body,
            R"({"error":"snapshot_chunk_invalid","message":"max_bytes must be \u003e 0"})"
            "\n");
  // DELETE retires the session logically: 410 afterwards, and a second DELETE is still 204.
  EXPECT_EQ(Call("DELETE", base).status, 204);
  EXPECT_EQ(Call("GET", base + "?max_bytes=4194304").status, 410);
  EXPECT_EQ(Call("DELETE", base).status, 204);
}

// protocol-b.md §5.10 step 5: a row over max_bytes_per_snapshot_row is a structured 409 and the
// whole creation (here nothing else) rolls back.
TEST_F(ProfileBPushTest, SnapshotRowLimitIsAStructuredConflict) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::vector<Upload> rows = {
      {"docs", "doc-1", "INSERT", 0, R"({"doc_id":"doc-1","body":"a body that makes the row long"})"}};
  ASSERT_EQ(PushRows(1, rows, RequestHash(rows)).status, 200);
  config_.max_bytes_per_snapshot_row = 50;
  std::unique_ptr<RuntimeService> limited = MakeService();
  ASSERT_TRUE(limited);
  auto refused = limited->CreateSnapshotSession({"alice", "dev-a"}, {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kSnapshotSessionLimitExceeded);
  const protocol::ErrorResponse body =
      protocol::ErrorResponseFromStatus(refused.error(), ErrorCode::kInternal, "");
  ASSERT_TRUE(body.limit_exceeded.has_value());
  EXPECT_EQ(body.limit_exceeded->dimension, "row_byte_count");
  EXPECT_EQ(body.limit_exceeded->limit, 50);
  EXPECT_GT(body.limit_exceeded->actual, 50);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.snapshot_sessions"), "0");
}

// protocol-b.md §5.5: the conflict's server_row uses the numeric-string encoding.
TEST_F(ProfileBPushTest, ConflictServerRowUsesNumericStrings) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::string id = UserKey(5);
  const std::vector<Upload> insert = {
      {"users", id, "INSERT", 0, fmt::format(R"({{"id":"{}","name":"a","age":"5"}})", id)}};
  ASSERT_EQ(PushRows(1, insert, RequestHash(insert)).status, 200);
  const std::vector<Upload> stale = {
      {"users", id, "UPDATE", 0, fmt::format(R"({{"id":"{}","name":"b","age":"6"}})", id)}};
  auto conflict = PushRows(2, stale, RequestHash(stale));
  EXPECT_EQ(conflict.status, 409);
  const auto body = protocol::DecodeErrorResponse(conflict.body);
  ASSERT_TRUE(body.has_value()) << conflict.body;
  ASSERT_TRUE(body->conflict.has_value());
  ASSERT_TRUE(body->conflict->server_row.has_value());
  EXPECT_EQ(body->conflict->server_row->Find("age")->as_string(), "5");
}

// protocol-b.md §5.4 step 6: a value PostgreSQL cannot convert is the chunk's 400, not the
// commit's 500.
TEST_F(ProfileBPushTest, ChunkPreflightsDestinationTypes) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const std::string id = "44444444-4444-4444-8444-444444444444";
  const std::vector<Upload> rows = {
      {"posts", id, "INSERT", 0,
       fmt::format(R"({{"id":"{}","title":"t","author_id":"not-a-uuid"}})", id)}};
  auto refused = PushRows(1, rows, RequestHash(rows));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body,
            R"x({"error":"push_chunk_invalid","message":"payload for business.posts contains a value invalid for its PostgreSQL destination type (category=destination_type_invalid)"})x"
            "\n");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "0");
}

// protocol-b.md §2.1: bootstrap fails closed on column types profile B cannot carry.
TEST_F(ProfileBPushTest, BootstrapRefusesUnsupportedNumericTypes) {
  Sql("CREATE TABLE business.prices (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, "
      "amount MONEY, PRIMARY KEY (_sync_scope_id, id))");
  ServiceConfig config = config_;
  config.registered_tables = {{"business", "prices", {"id"}}};
  RuntimeOptions options;
  options.database_url = db_->dsn();
  options.max_connections = 2;
  auto service = RuntimeService::Create(config, options);
  ASSERT_TRUE(service.has_value());
  auto report = (*service)->Bootstrap();
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), ErrorCode::kUnsupportedSchema);
  EXPECT_NE(report.error().message().find("business.prices.amount has type money"),
            std::string::npos)
      << report.error().message();
}

// protocol-b.md §6.2: the source-sequence answers of push create and commit carry no ids.
TEST_F(ProfileBPushTest, SourceSequenceMessagesCarryNoIds) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  Sql("INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id) "
      "SELECT user_pk, 'dev-a', 'active', 3 FROM sync.user_state WHERE user_id = 'alice'");
  const std::vector<Upload> rows = {
      {"users", UserKey(1), "INSERT", 0, R"({"id":")" + UserKey(1) + R"(","name":"n"})"}};
  const std::string hash = RequestHash(rows);
  const auto create = [&](std::int64_t source_bundle_id) {
    return Call("POST", "/sync/push-sessions",
                fmt::format(R"({{"source_bundle_id":{},"planned_row_count":1,)"
                            R"("canonical_request_hash":"{}"}})",
                            source_bundle_id, hash));
  };
  auto ahead = create(5);
  EXPECT_EQ(ahead.status, 409);
  EXPECT_EQ(ahead.body,
            R"({"error":"source_sequence_out_of_order","message":"source sequence is out of order"})"
            "\n");
  auto pruned = create(2);  // below the watermark and not replayable
  EXPECT_EQ(pruned.status, 409);
  EXPECT_EQ(pruned.body,
            R"({"error":"history_pruned","message":"source history is no longer retained"})"
            "\n");
  // A session staged for 4 whose tuple another writer took before the commit.
  auto staged = create(4);
  ASSERT_EQ(staged.status, 200) << staged.body;
  const auto session = protocol::DecodePushSessionCreateResponse(staged.body, nullptr, kB);
  ASSERT_TRUE(session.has_value()) << staged.body;
  ASSERT_EQ(Call("POST", "/sync/push-sessions/" + session->push_id + "/chunks", ChunkBody(rows))
                .status,
            200);
  Sql("UPDATE sync.source_state SET max_committed_source_bundle_id = 4 WHERE source_id = 'dev-a'");
  auto commit = Call("POST", "/sync/push-sessions/" + session->push_id + "/commit");
  EXPECT_EQ(commit.status, 409);
  EXPECT_EQ(commit.body,
            R"({"error":"source_sequence_changed","message":"source sequence changed before commit"})"
            "\n");
}

// protocol-b.md §5.10 (validateSnapshotSourceReplacement, applySnapshotSourceReplacementInTx;
// Go TestValidateSnapshotSourceReplacement_RejectsNormalizedOrNonASCIISourceIDs): the ids are
// compared byte for byte, checked against the source-id grammar and the reserved server ids, and
// both 409s say "source replacement is invalid"; a retired source gets "source is retired" with
// its own id, and a retirement record outside the grammar is 500 source_retired_invalid.
TEST_F(ProfileBPushTest, SourceReplacementGrammarAndMessages) {
  ASSERT_EQ(Call("POST", "/sync/connect", "{}").status, 200);
  const auto snapshot = [&](const std::string& previous, const std::string& next,
                            const std::string& source = "dev-a") {
    return Call("POST", "/sync/snapshot-sessions",
                fmt::format(R"({{"source_replacement":{{"previous_source_id":"{}",)"
                            R"("new_source_id":"{}","reason":"history_pruned"}}}})",
                            previous, next),
                "alice", source);
  };
  const auto invalid = [](std::string_view message) {
    return fmt::format(R"({{"error":"snapshot_session_invalid","message":"{}"}})", message) + "\n";
  };
  for (const std::string& bad : {std::string(" dev-a"), std::string("dev-a "), std::string("d a"),
                                 std::string("caf\xC3\xA9"), std::string()}) {
    auto r = snapshot(bad, "dev-b");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body, invalid("previous_source_id is invalid")) << bad;
    EXPECT_EQ(r.body.find(bad.empty() ? "\x01" : bad), std::string::npos) << "echoes the id";
  }
  EXPECT_EQ(snapshot("dev-a", "dev b").body, invalid("new_source_id is invalid"));
  EXPECT_EQ(snapshot("dev-a", "").body, invalid("new_source_id is invalid"));
  EXPECT_EQ(snapshot("dev-a", "server-writer").body, invalid("source replacement is invalid"));
  EXPECT_EQ(snapshot("dev-x", "dev-b").body,
            invalid("previous_source_id must match authenticated source_id"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.source_state"), "0");  // nothing was recorded

  // A replacement to an already known source: 409 with the profile-B wording.
  Sql("INSERT INTO sync.source_state (user_pk, source_id, state) SELECT user_pk, 'dev-k', "
      "'active' FROM sync.user_state WHERE user_id = 'alice'");
  auto known = snapshot("dev-a", "dev-k");
  EXPECT_EQ(known.status, 409);
  EXPECT_EQ(known.body,
            R"({"error":"source_replacement_invalid","message":"source replacement is invalid"})"
            "\n");

  auto rotated = snapshot("dev-a", "dev-b");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  // The retired source: both the other-replacement 409 and push create say "source is retired".
  const std::string retired =
      R"({"error":"source_retired","message":"source is retired","source_id":"dev-a","replaced_by_source_id":"dev-b"})"
      "\n";
  auto other = snapshot("dev-a", "dev-c");
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.body, retired);
  auto create = Call("POST", "/sync/push-sessions", CreateBody(1, Hash()));
  EXPECT_EQ(create.status, 409);
  EXPECT_EQ(create.body, retired);
  // The idempotent repeat still succeeds.
  EXPECT_EQ(snapshot("dev-a", "dev-b").status, 200);

  // A retirement record a profile-A mount could write (its ids are only trimmed) does not fit
  // the profile-B grammar: 500, not a body every profile-B client rejects.
  Sql("UPDATE sync.source_state SET replaced_by_source_id = 'dev b' WHERE source_id = 'dev-a'");
  auto broken = Call("POST", "/sync/push-sessions", CreateBody(1, Hash()));
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.body,
            R"({"error":"source_retired_invalid","message":"Source retirement state is invalid"})"
            "\n");
}

// protocol-b.md §1.4 (both profiles here): until Bootstrap has committed, every sync operation
// answers 503 service_unavailable, capabilities answer from configuration, /syncx/status reports
// "unhealthy" with accepting_operations false and /syncx/health answers 503 (not a 500 from
// querying tables that may not exist yet).
TEST_F(HttpHandlersTest, BeforeBootstrapOperationsAre503AndStatusIsUnhealthy) {
  RuntimeOptions options;
  options.database_url = db_->dsn();
  options.max_connections = 2;
  auto service = RuntimeService::Create(FixtureConfig(), options);
  ASSERT_TRUE(service.has_value()) << service.error().ToString();
  HttpSyncHandlers handlers(**service, &Authenticate, {});
  http::Router router;
  ASSERT_TRUE(handlers.MountSyncRoutes(router).ok());
  ASSERT_TRUE(handlers.MountStatusRoutes(router).ok());
  const auto call = [&router](std::string method, std::string target, std::string body) {
    http::Headers headers;
    headers.emplace_back("X-Test-User", "alice");
    headers.emplace_back("Oversync-Source-ID", "dev-a");
    auto request = http::Request::Make(std::move(method), std::move(target), std::move(headers),
                                       std::move(body));
    EXPECT_TRUE(request.has_value());
    return router.Handle(*request);
  };
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/sync/connect", R"({"has_local_pending_rows":false})"},
           {"GET", "/sync/pull?after_bundle_seq=0", ""},
           {"POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":1})"},
           {"POST", "/sync/snapshot-sessions", "{}"}}) {
    const http::Response r = call(method, target, body);
    EXPECT_EQ(r.status, 503) << target << " " << r.body;
    EXPECT_EQ(r.body,
              R"({"error":"service_unavailable","message":"Sync service bootstrap is incomplete"})"
              "\n")
        << target;
  }
  EXPECT_EQ(call("GET", "/sync/capabilities", "").status, 200);
  const http::Response status = call("GET", "/syncx/status", "");
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find(R"("status":"unhealthy")"), std::string::npos) << status.body;
  EXPECT_NE(status.body.find(R"("accepting_operations":false)"), std::string::npos) << status.body;
  EXPECT_EQ(call("GET", "/syncx/health", "").status, 503);
  // After Bootstrap the same service serves.
  auto booted = (*service)->Bootstrap();
  ASSERT_TRUE(booted.has_value()) << booted.error().ToString();
  EXPECT_EQ(call("POST", "/sync/connect", R"({"has_local_pending_rows":false})").status, 200);
  EXPECT_EQ(call("GET", "/syncx/health", "").status, 200);
  (*service)->Shutdown();
}

TEST(AdmissionPermitTest, AdmitsUpToTheLimitAndReleases) {
  std::atomic<std::int64_t> counter{0};
  std::optional<AdmissionPermit> first = AdmissionPermit::Acquire(counter, 2);
  std::optional<AdmissionPermit> second = AdmissionPermit::Acquire(counter, 2);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(AdmissionPermit::Acquire(counter, 2).has_value());
  EXPECT_EQ(counter.load(), 2);
  second.reset();
  EXPECT_TRUE(AdmissionPermit::Acquire(counter, 2).has_value());
  first.reset();
  EXPECT_EQ(counter.load(), 0);
}

}  // namespace
}  // namespace oversync::testing
