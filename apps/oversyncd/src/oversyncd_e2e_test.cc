// End-to-end tests of the oversyncd binary: spawn it, wait for its listen line on the output
// pipe, talk HTTP over loopback, stop it with SIGTERM and check the exit status.
//
// OversyncdExternalDbTest needs OVERSYNC_TEST_DSN (skipped without it, a failure when CI is
// set) and points the server at a fresh database of that cluster. OversyncdLocalClusterTest
// needs the PostgreSQL 15 server binaries and runs initdb in a temporary directory.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "e2e_support.h"
#include "oversync/common/clock.h"
#include "oversync/common/status.h"
#include "oversync/http/testing/loopback_client.h"
#include "oversync/jwt/jwt.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"
#include "oversync/testing/pg_test_database.h"

#ifndef OVERSYNCD_PATH
#error "OVERSYNCD_PATH must name the oversyncd binary"
#endif

namespace oversync::oversyncd {
namespace {

namespace fs = std::filesystem;
using http::testing::ClientResponse;
using http::testing::LoopbackClient;
using e2e::BaseEnv;
using e2e::ChildProcess;
using e2e::EnvOverrides;
using e2e::kExitTimeout;
using e2e::kListenPrefix;
using e2e::kStartupTimeout;
using e2e::PortFromListenLine;
using e2e::SetEnv;

constexpr const char* kPgBinDir = "/usr/lib/postgresql/15/bin";

void ExpectHealthyStatusBody(const ClientResponse& response) {
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Header("Content-Type"), "application/json");
  EXPECT_EQ(response.Header("Access-Control-Allow-Origin"), "*");
  ASSERT_FALSE(response.body.empty());
  EXPECT_EQ(response.body.back(), '\n');
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  ASSERT_EQ(parser.parse(response.body).get(object), simdjson::SUCCESS) << response.body;
  std::string_view text;
  ASSERT_EQ(object["status"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "healthy");
  ASSERT_EQ(object["version"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "v1");
  ASSERT_EQ(object["app_name"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "nethttp-server-example");
  ASSERT_EQ(object["lifecycle"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "running");
  bool accepting = false;
  ASSERT_EQ(object["accepting_operations"].get(accepting), simdjson::SUCCESS);
  EXPECT_TRUE(accepting);
  int64_t number = -1;
  ASSERT_EQ(object["inflight_operations"].get(number), simdjson::SUCCESS);
  EXPECT_EQ(number, 0);  // nothing else in flight
  simdjson::dom::array tables;
  ASSERT_EQ(object["registered_tables"].get(tables), simdjson::SUCCESS);
  // The Go example's eight business tables, sorted (server.md A.1).
  std::vector<std::string> names;
  for (auto t : tables) names.emplace_back(std::string_view(t));
  EXPECT_EQ(names, (std::vector<std::string>{
                       "business.categories", "business.file_reviews", "business.files",
                       "business.posts", "business.team_members", "business.teams",
                       "business.typed_rows", "business.users"}));
  simdjson::dom::object features;
  ASSERT_EQ(object["features"].get(features), simdjson::SUCCESS);
  for (const char* counter :
       {"user_state_retention_floor_ahead_count", "latest_bundle_seq_max",
        "retained_bundle_floor_min", "retained_bundle_floor_max", "retained_bundle_window_min",
        "retained_bundle_window_max", "history_pruned_error_count", "accepted_push_replay_count",
        "rejected_registered_write_count", "committed_bundle_count", "committed_bundle_bytes"}) {
    number = -1;
    ASSERT_EQ(object[counter].get(number), simdjson::SUCCESS) << counter;
    EXPECT_EQ(number, 0) << counter;
  }
}

Result<ClientResponse> Get(std::uint16_t port, std::string_view method, std::string_view target) {
  OVERSYNC_ASSIGN_OR_RETURN(LoopbackClient client, LoopbackClient::Connect(port));
  return client.RoundTrip(method, target);
}

Result<ClientResponse> Post(std::uint16_t port, std::string_view target, std::string_view body) {
  OVERSYNC_ASSIGN_OR_RETURN(LoopbackClient client, LoopbackClient::Connect(port));
  return client.RoundTrip("POST", target, {{"Content-Type", "application/json"}}, body);
}

TEST(OversyncdExternalDbTest, ServesHealthAndStatusAndStopsCleanly) {
  // OVERSYNC_PG_TEST_DATABASE skips without OVERSYNC_TEST_DSN (a failure under CI).
  // A database of its own: startup creates the business schema in it.
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<std::uint16_t> port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", db->dsn());
  env.emplace_back("PORT", std::to_string(*port));
  SetEnv(env, "JWT_SECRET", std::nullopt);  // Go's default secret, with its warning
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value()) << child.error().ToString();

  Result<std::string> line = child->WaitForLine(kListenPrefix, kStartupTimeout);
  ASSERT_TRUE(line.has_value()) << line.error().ToString();
  EXPECT_EQ(*line, "oversyncd listening on http://127.0.0.1:" + std::to_string(*port));

  EXPECT_NE(child->output().find("WARN Using default JWT secret - change in production!"),
            std::string::npos)
      << child->output();

  // The business tables of server.md A.5 exist once the server listens.
  EXPECT_EQ(db->QueryScalar("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM "
                            "information_schema.tables WHERE table_schema = 'business'")
                .value_or("?"),
            "categories,file_reviews,files,posts,team_members,teams,typed_rows,users");
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = "
                            "c.connamespace WHERE n.nspname = 'business' AND c.contype = 'f'")
                .value_or("?"),
            "5");

  // POST /dummy-signin issues a token the default secret validates (server.md A.3, A.4).
  Result<ClientResponse> signin =
      Post(*port, "/dummy-signin", R"({"user":" e2e-user ","password":"x"})");
  ASSERT_TRUE(signin.has_value()) << signin.error().ToString();
  EXPECT_EQ(signin->status, 200) << signin->body;
  EXPECT_EQ(signin->Header("Content-Type"), "application/json");
  EXPECT_EQ(signin->Header("Access-Control-Allow-Origin"), "*");
  {
    simdjson::dom::parser parser;
    simdjson::dom::object object;
    ASSERT_EQ(parser.parse(signin->body).get(object), simdjson::SUCCESS) << signin->body;
    std::string_view token;
    ASSERT_EQ(object["token"].get(token), simdjson::SUCCESS);
    int64_t expires_in = 0;
    ASSERT_EQ(object["expires_in"].get(expires_in), simdjson::SUCCESS);
    EXPECT_EQ(expires_in, 300);
    std::string_view user;
    ASSERT_EQ(object["user"].get(user), simdjson::SUCCESS);
    EXPECT_EQ(user, " e2e-user ");
    const TimePoint now = SystemClock().Now();
    Result<jwt::VerifiedToken> verified =
        jwt::VerifyHmac(token, "your-secret-key-change-in-production", now);
    ASSERT_TRUE(verified.has_value()) << verified.error().ToString();
    EXPECT_EQ(verified->user_id, "e2e-user");
    EXPECT_EQ(verified->claims.iss, "go-oversync-examples");
    ASSERT_TRUE(verified->claims.exp_seconds.has_value());
    ASSERT_TRUE(verified->claims.iat_seconds.has_value());
    EXPECT_EQ(*verified->claims.exp_seconds - *verified->claims.iat_seconds, 300);
    EXPECT_FALSE(jwt::VerifyHmac(token, "e2e-secret", now).has_value());
  }
  Result<ClientResponse> bad_signin = Post(*port, "/dummy-signin", "{\"user\":\"\"}");
  ASSERT_TRUE(bad_signin.has_value());
  EXPECT_EQ(bad_signin->status, 400);
  EXPECT_EQ(bad_signin->body, "{\"error\":\"invalid_request\",\"message\":\"user required\"}\n");
  EXPECT_EQ(bad_signin->Header("Content-Type"), "text/plain; charset=utf-8");

  Result<ClientResponse> health = Get(*port, "GET", "/syncx/health");
  ASSERT_TRUE(health.has_value()) << health.error().ToString();
  ExpectHealthyStatusBody(*health);

  Result<ClientResponse> status = Get(*port, "GET", "/syncx/status");
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  ExpectHealthyStatusBody(*status);

  // Go's router lets HEAD reach the GET route; the handler answers its JSON 405 (protocol.md
  // §1.1), without a body on the wire because it is a HEAD response.
  Result<ClientResponse> head = Get(*port, "HEAD", "/syncx/health");
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 405);
  EXPECT_TRUE(head->body.empty());

  Result<ClientResponse> wrong_method = Get(*port, "POST", "/syncx/health");
  ASSERT_TRUE(wrong_method.has_value());
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->Header("Allow"), "GET, HEAD");
  EXPECT_EQ(wrong_method->body, "Method Not Allowed\n");

  Result<ClientResponse> unknown = Get(*port, "GET", "/sync/nope");
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, "404 page not found\n");

  Result<ClientResponse> preflight = Get(*port, "OPTIONS", "/sync/pull");
  ASSERT_TRUE(preflight.has_value());
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->Header("Access-Control-Allow-Methods"), "GET, POST, DELETE, OPTIONS");
  EXPECT_EQ(preflight->Header("Access-Control-Max-Age"), "600");

  child->Signal(SIGTERM);
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value()) << exit_status.error().ToString();
  EXPECT_EQ(*exit_status, 0) << child->output();
  EXPECT_NE(child->output().find("GET /syncx/health 200 "), std::string::npos) << child->output();
  EXPECT_NE(child->output().find("received SIGTERM, shutting down"), std::string::npos);
}

TEST(OversyncdStartupTest, UnreachableDatabaseFailsStartup) {
  Result<std::uint16_t> closed_port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(closed_port.has_value());
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", "host=127.0.0.1 port=" + std::to_string(*closed_port) +
                                       " user=nobody dbname=none connect_timeout=5");
  env.emplace_back("PORT", "0");
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value());
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value()) << exit_status.error().ToString();
  EXPECT_EQ(*exit_status, 1);
  EXPECT_NE(child->output().find("database check failed"), std::string::npos) << child->output();
  EXPECT_EQ(child->output().find(kListenPrefix), std::string::npos);
}

TEST(OversyncdStartupTest, InvalidConfigurationFailsStartup) {
  EnvOverrides env = BaseEnv();
  env.emplace_back("OVERSYNC_DB_POOL_MAX_CONNS", "0");
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value());
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 1);
  EXPECT_NE(child->output().find("OVERSYNC_DB_POOL_MAX_CONNS must be a positive integer"),
            std::string::npos)
      << child->output();
}

// Self-managed cluster: DATABASE_URL unset, OVERSYNCD_DATA_DIR in a temporary directory.
class OversyncdLocalClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(kPgBinDir) / "initdb")) {
      if (std::getenv("CI") != nullptr) ADD_FAILURE() << "PostgreSQL 15 binaries missing in CI";
      GTEST_SKIP() << "PostgreSQL 15 server binaries not installed";
    }
    std::string pattern = (fs::temp_directory_path() / "oversyncd-e2e-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    // As root the cluster runs as `postgres`, which must be able to reach the data directory.
    ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
    data_dir_ = root_ / "pg";
  }

  void TearDown() override {
    if (root_.empty()) return;
    if (fs::exists(data_dir_ / "postmaster.pid")) (void)PgCtl({"-m", "immediate", "stop"});
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  Result<ChildProcess> StartOversyncd() const {
    EnvOverrides env = BaseEnv();
    env.emplace_back("OVERSYNCD_DATA_DIR", data_dir_.string());
    env.emplace_back("PORT", "0");
    return ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  }

  // Runs pg_ctl on the test cluster (as postgres when root) and returns its exit status.
  Result<int> PgCtl(std::vector<std::string> args) const {
    std::vector<std::string> argv;
    if (::geteuid() == 0) {
      const char* runuser = fs::exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "runuser";
      argv = {runuser, "-u", "postgres", "--"};
    }
    argv.emplace_back(std::string(kPgBinDir) + "/pg_ctl");
    argv.emplace_back("-D");
    argv.emplace_back(data_dir_.string());
    argv.emplace_back("-w");
    for (std::string& arg : args) argv.push_back(std::move(arg));
    OVERSYNC_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, {}));
    return child.WaitForExit(kExitTimeout);
  }

  fs::path root_;
  fs::path data_dir_;
};

TEST_F(OversyncdLocalClusterTest, InitsReusesAndStopsItsOwnCluster) {
  // 1. First start: initdb, pg_ctl start, CREATE DATABASE.
  Result<ChildProcess> first = StartOversyncd();
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  Result<std::string> first_line = first->WaitForLine(kListenPrefix, kStartupTimeout);
  ASSERT_TRUE(first_line.has_value()) << first_line.error().ToString();
  const std::uint16_t first_port = PortFromListenLine(*first_line);
  EXPECT_NE(first->output().find("initializing PostgreSQL cluster"), std::string::npos);
  EXPECT_NE(first->output().find("started PostgreSQL on 127.0.0.1:"), std::string::npos);
  Result<ClientResponse> health = Get(first_port, "GET", "/syncx/health");
  ASSERT_TRUE(health.has_value()) << health.error().ToString();
  ExpectHealthyStatusBody(*health);

  // 2. A second instance on the same data directory reuses the running cluster...
  Result<ChildProcess> second = StartOversyncd();
  ASSERT_TRUE(second.has_value());
  Result<std::string> second_line = second->WaitForLine(kListenPrefix, kStartupTimeout);
  ASSERT_TRUE(second_line.has_value()) << second_line.error().ToString();
  EXPECT_NE(second->output().find("reusing the PostgreSQL cluster"), std::string::npos)
      << second->output();
  health = Get(PortFromListenLine(*second_line), "GET", "/syncx/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  // ...and leaves it running when it exits.
  second->Signal(SIGTERM);
  Result<int> second_exit = second->WaitForExit(kExitTimeout);
  ASSERT_TRUE(second_exit.has_value());
  EXPECT_EQ(*second_exit, 0) << second->output();
  health = Get(first_port, "GET", "/syncx/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);

  // 3. The owner stops the cluster on exit.
  first->Signal(SIGINT);
  Result<int> first_exit = first->WaitForExit(kExitTimeout);
  ASSERT_TRUE(first_exit.has_value());
  EXPECT_EQ(*first_exit, 0) << first->output();
  EXPECT_NE(first->output().find("received SIGINT, shutting down"), std::string::npos);
  EXPECT_FALSE(fs::exists(data_dir_ / "postmaster.pid"));

  // 4. A restart reuses the initialised data directory (no second initdb).
  Result<ChildProcess> third = StartOversyncd();
  ASSERT_TRUE(third.has_value());
  Result<std::string> third_line = third->WaitForLine(kListenPrefix, kStartupTimeout);
  ASSERT_TRUE(third_line.has_value()) << third_line.error().ToString();
  const std::uint16_t third_port = PortFromListenLine(*third_line);
  EXPECT_EQ(third->output().find("initializing PostgreSQL cluster"), std::string::npos);
  health = Get(third_port, "GET", "/syncx/status");
  ASSERT_TRUE(health.has_value());
  ExpectHealthyStatusBody(*health);

  // 5. Database gone: 500 health_failed / status_failed (protocol.md §3.13).
  Result<int> stopped = PgCtl({"-m", "fast", "stop"});
  ASSERT_TRUE(stopped.has_value());
  ASSERT_EQ(*stopped, 0);
  Result<ClientResponse> failed_health = Get(third_port, "GET", "/syncx/health");
  ASSERT_TRUE(failed_health.has_value());
  EXPECT_EQ(failed_health->status, 500);
  EXPECT_EQ(failed_health->body,
            "{\"error\":\"health_failed\",\"message\":\"Failed to get health status\"}\n");
  Result<ClientResponse> failed_status = Get(third_port, "GET", "/syncx/status");
  ASSERT_TRUE(failed_status.has_value());
  EXPECT_EQ(failed_status->status, 500);
  EXPECT_EQ(failed_status->body,
            "{\"error\":\"status_failed\",\"message\":\"Failed to get service status\"}\n");

  // 6. Shutdown still succeeds with the cluster already down.
  third->Signal(SIGTERM);
  Result<int> third_exit = third->WaitForExit(kExitTimeout);
  ASSERT_TRUE(third_exit.has_value());
  EXPECT_EQ(*third_exit, 0) << third->output();
}

// The reference server end to end over loopback HTTP (issue: server runtime part 1, item 11):
// a real JWT from /dummy-signin, the actor middleware, connect, a chunked push, commit, the
// committed-bundle replay verified with the client-side hash, pull, conflicts, the /test/*
// helpers and history_pruned after a floor bump.
TEST(OversyncdSyncFlowTest, PushPullAndHelpersOverHttp) {
  // Skipped without OVERSYNC_TEST_DSN (a failure under CI).
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<std::uint16_t> port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", db->dsn());
  env.emplace_back("PORT", std::to_string(*port));
  env.emplace_back("JWT_SECRET", "flow-secret");
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value()) << child.error().ToString();
  ASSERT_TRUE(child->WaitForLine(kListenPrefix, kStartupTimeout).has_value()) << child->output();

  auto signin = Post(*port, "/dummy-signin", R"({"user":"flow-user","password":"x"})");
  ASSERT_TRUE(signin.has_value());
  ASSERT_EQ(signin->status, 200) << signin->body;
  auto signin_json = protocol::ParseJson(signin->body);
  ASSERT_TRUE(signin_json.has_value());
  const std::string token = signin_json->Find("token")->as_string();

  const auto call = [&](std::string_view method, std::string_view target, std::string_view body,
                        std::string_view source = "device-1",
                        std::string_view auth = {}) -> ClientResponse {
    auto client = http::testing::LoopbackClient::Connect(*port);
    EXPECT_TRUE(client.has_value());
    http::Headers headers;
    headers.emplace_back("Authorization", auth.empty() ? "Bearer " + token : std::string(auth));
    if (!source.empty()) headers.emplace_back("Oversync-Source-ID", std::string(source));
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto r = client->RoundTrip(method, target, headers, body);
    EXPECT_TRUE(r.has_value());
    return r.value_or(ClientResponse{});
  };

  // Auth and actor middleware.
  EXPECT_EQ(call("POST", "/sync/connect", "{}", "device-1", "Bearer nope").status, 401);
  EXPECT_EQ(call("POST", "/sync/connect", "{}", "device-1", "Basic abc").body,
            "Invalid authorization header format\n");
  EXPECT_EQ(call("POST", "/sync/connect", "{}", "").status, 400);

  auto caps = call("GET", "/sync/capabilities", "");
  ASSERT_EQ(caps.status, 200);
  EXPECT_NE(caps.body.find(R"("connect_lifecycle":true)"), std::string::npos);

  auto connect = call("POST", "/sync/connect", R"({"has_local_pending_rows":false})");
  ASSERT_EQ(connect.status, 200) << connect.body;
  EXPECT_EQ(connect.body, "{\"resolution\":\"initialize_empty\"}\n");

  // A 3-row push in two chunks.
  auto create = call("POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":3})");
  ASSERT_EQ(create.status, 200) << create.body;
  auto session = protocol::DecodePushSessionCreateResponse(create.body);
  ASSERT_TRUE(session.has_value());
  const std::string u1 = "11111111-1111-4111-8111-111111111111";
  const std::string p1 = "22222222-2222-4222-8222-222222222222";
  const std::string chunk1 = fmt::format(
      R"({{"start_row_ordinal":0,"rows":[{{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"INSERT","base_row_version":0,"payload":{{"id":"{0}","name":"Ann <admin>","email":"ann@example.com"}}}},{{"schema":"business","table":"posts","key":{{"id":"{1}"}},"op":"INSERT","base_row_version":0,"payload":{{"id":"{1}","title":"Hello","content":"first","author_id":"{0}"}}}}]}})",
      u1, p1);
  auto up1 = call("POST", "/sync/push-sessions/" + session->push_id + "/chunks", chunk1);
  ASSERT_EQ(up1.status, 200) << up1.body;
  const std::string chunk2 = fmt::format(
      R"({{"start_row_ordinal":2,"rows":[{{"schema":"business","table":"posts","key":{{"id":"{0}"}},"op":"UPDATE","base_row_version":0,"payload":{{"title":"Edited"}}}}]}})",
      p1);
  auto up2 = call("POST", "/sync/push-sessions/" + session->push_id + "/chunks", chunk2);
  ASSERT_EQ(up2.status, 200) << up2.body;
  // Duplicate target across chunks is caught at commit.
  auto bad_commit = call("POST", "/sync/push-sessions/" + session->push_id + "/commit", "");
  EXPECT_EQ(bad_commit.status, 400) << bad_commit.body;
  EXPECT_NE(bad_commit.body.find("duplicate target row in staged push session"), std::string::npos);

  auto create2 = call("POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":2})");
  auto session2 = protocol::DecodePushSessionCreateResponse(create2.body);
  ASSERT_TRUE(session2.has_value()) << create2.body;
  ASSERT_EQ(call("POST", "/sync/push-sessions/" + session2->push_id + "/chunks", chunk1).status, 200);
  auto commit = call("POST", "/sync/push-sessions/" + session2->push_id + "/commit", "");
  ASSERT_EQ(commit.status, 200) << commit.body;
  auto committed = protocol::DecodePushSessionCommitResponse(commit.body);
  ASSERT_TRUE(committed.has_value());
  EXPECT_EQ(committed->bundle_seq, 1);
  EXPECT_EQ(committed->row_count, 2);

  // Replay page by page and verify the hash like a client.
  protocol::BundleHasher hasher(protocol::GoCanonicalV1Profile(), committed->bundle_seq);
  std::string after;
  for (int page = 0; page < 5; ++page) {
    auto rows = call("GET", "/sync/committed-bundles/1/rows?max_rows=1" + after, "");
    ASSERT_EQ(rows.status, 200) << rows.body;
    auto decoded = protocol::DecodeCommittedBundleRowsResponse(rows.body);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    for (const auto& row : decoded->rows) ASSERT_TRUE(hasher.AddRow(row).ok());
    if (!decoded->has_more) break;
    after = "&after_row_ordinal=" + std::to_string(decoded->next_row_ordinal);
  }
  EXPECT_EQ(hasher.Finish().hex, committed->bundle_hash);

  // Another device pulls it.
  auto pull = call("GET", "/sync/pull?after_bundle_seq=0&max_bundles=1000", "", "device-2");
  ASSERT_EQ(pull.status, 200) << pull.body;
  auto pulled = protocol::DecodePullResponse(pull.body);
  ASSERT_TRUE(pulled.has_value());
  EXPECT_EQ(pulled->stable_bundle_seq, 1);
  ASSERT_EQ(pulled->bundles.size(), 1U);
  EXPECT_EQ(pulled->bundles[0].rows.size(), 2U);

  // A stale update conflicts with the structured body.
  auto create3 = call("POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":1})",
                      "device-2");
  auto session3 = protocol::DecodePushSessionCreateResponse(create3.body);
  ASSERT_TRUE(session3.has_value()) << create3.body;
  const std::string stale = fmt::format(
      R"({{"start_row_ordinal":0,"rows":[{{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"UPDATE","base_row_version":0,"payload":{{"name":"Stale"}}}}]}})",
      u1);
  ASSERT_EQ(call("POST", "/sync/push-sessions/" + session3->push_id + "/chunks", stale, "device-2")
                .status,
            200);
  auto conflict = call("POST", "/sync/push-sessions/" + session3->push_id + "/commit", "", "device-2");
  EXPECT_EQ(conflict.status, 409);
  auto conflict_body = protocol::DecodeErrorResponse(conflict.body);
  ASSERT_TRUE(conflict_body.has_value());
  EXPECT_EQ(conflict_body->error, "push_conflict");
  ASSERT_TRUE(conflict_body->conflict.has_value());
  EXPECT_EQ(conflict_body->conflict->server_row_version, 1);

  // /test/retention-floor moves the floor: a pull from 0 is now history_pruned.
  auto floor = Post(*port, "/test/retention-floor", R"({"user_id":"flow-user","retained_bundle_floor":1})");
  ASSERT_TRUE(floor.has_value());
  EXPECT_EQ(floor->status, 200) << floor->body;
  EXPECT_EQ(call("GET", "/sync/pull?after_bundle_seq=0", "", "device-2").status, 409);
  auto missing_user = Post(*port, "/test/retention-floor", R"({"user_id":"nobody","retained_bundle_floor":0})");
  EXPECT_EQ(missing_user->status, 404);
  auto subscribers = Get(*port, "GET", "/test/watch-subscribers?user_id=flow-user");
  EXPECT_EQ(subscribers->status, 200);

  // /test/reset wipes everything and re-bootstraps.
  auto reset = Post(*port, "/test/reset", "{}");
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ(reset->status, 200) << reset->body;
  EXPECT_EQ(reset->body, "{\"status\":\"ok\",\"schema\":\"business\"}\n");
  EXPECT_EQ(call("GET", "/sync/pull", "", "device-2").status, 409);  // scope uninitialized again
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM business.users").value_or("?"), "0");

  child->Signal(SIGTERM);
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 0) << child->output();
}

// A second device hydrates through a snapshot (connect → remote_authoritative, protocol.md §3.9,
// §3.10, §3.11, §4.6) and then follows the scope through the SSE watch (§3.8): the immediate
// head event, a wake-up with source fields for a later push, the subscriber helper, and a
// clean SIGTERM with a stream still open.
TEST(OversyncdSyncFlowTest, SnapshotHydrationAndWatchOverHttp) {
  // Skipped without OVERSYNC_TEST_DSN (a failure under CI).
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<std::uint16_t> port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", db->dsn());
  env.emplace_back("PORT", std::to_string(*port));
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value()) << child.error().ToString();
  ASSERT_TRUE(child->WaitForLine(kListenPrefix, kStartupTimeout).has_value()) << child->output();

  auto signin = Post(*port, "/dummy-signin", R"({"user":"snap-user","password":"x"})");
  ASSERT_TRUE(signin.has_value());
  auto signin_json = protocol::ParseJson(signin->body);
  ASSERT_TRUE(signin_json.has_value()) << signin->body;
  const std::string bearer = "Bearer " + signin_json->Find("token")->as_string();
  const auto headers = [&](std::string_view source) {
    http::Headers h;
    h.emplace_back("Authorization", bearer);
    h.emplace_back("Oversync-Source-ID", std::string(source));
    h.emplace_back("Content-Type", "application/json");
    return h;
  };
  const auto call = [&](std::string_view method, std::string_view target, std::string_view body,
                        std::string_view source) -> ClientResponse {
    auto client = LoopbackClient::Connect(*port);
    EXPECT_TRUE(client.has_value());
    if (!client) return {};
    auto r = client->RoundTrip(method, target, headers(source), body);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
    return r.value_or(ClientResponse{});
  };
  const auto push_user = [&](std::string_view source, int sbid, int key) {
    auto create = call("POST", "/sync/push-sessions",
                       fmt::format(R"({{"source_bundle_id":{},"planned_row_count":1}})", sbid),
                       source);
    auto session = protocol::DecodePushSessionCreateResponse(create.body);
    EXPECT_TRUE(session.has_value()) << create.body;
    if (!session) return;
    const std::string chunk = fmt::format(
        R"({{"start_row_ordinal":0,"rows":[{{"schema":"business","table":"users","key":{{"id":"00000000-0000-4000-8000-{0:012}"}},"op":"INSERT","base_row_version":0,"payload":{{"name":"u{0}","email":"u{0}@example.com"}}}}]}})",
        key);
    EXPECT_EQ(call("POST", "/sync/push-sessions/" + session->push_id + "/chunks", chunk, source).status, 200);
    auto commit = call("POST", "/sync/push-sessions/" + session->push_id + "/commit", "", source);
    EXPECT_EQ(commit.status, 200) << commit.body;
  };

  ASSERT_EQ(call("POST", "/sync/connect", R"({"has_local_pending_rows":false})", "phone").body,
            "{\"resolution\":\"initialize_empty\"}\n");
  for (int i = 1; i <= 3; ++i) push_user("phone", i, i);

  // The tablet finds an initialized scope and hydrates from a snapshot in pages of 2.
  ASSERT_EQ(call("POST", "/sync/connect", R"({"has_local_pending_rows":false})", "tablet").body,
            "{\"resolution\":\"remote_authoritative\"}\n");
  auto created = call("POST", "/sync/snapshot-sessions", "", "tablet");
  ASSERT_EQ(created.status, 200) << created.body;
  auto snapshot = protocol::DecodeSnapshotSession(created.body);
  ASSERT_TRUE(snapshot.has_value()) << created.body;
  EXPECT_EQ(snapshot->snapshot_bundle_seq, 3);
  EXPECT_EQ(snapshot->row_count, 3);
  std::int64_t after = 0;
  std::vector<std::string> names;
  for (int page = 0; page < 10; ++page) {
    auto chunk = call("GET",
                      fmt::format("/sync/snapshot-sessions/{}?after_row_ordinal={}&max_rows=2",
                                  snapshot->snapshot_id, after),
                      "", "tablet");
    ASSERT_EQ(chunk.status, 200) << chunk.body;
    EXPECT_EQ(chunk.Header("Content-Type").value_or(""), "application/json");
    auto decoded = protocol::DecodeSnapshotChunkResponse(chunk.body);
    ASSERT_TRUE(decoded.has_value()) << chunk.body;
    for (const auto& row : decoded->rows) names.push_back(row.payload.Find("name")->as_string());
    after = decoded->next_row_ordinal;
    if (!decoded->has_more) break;
  }
  EXPECT_EQ(names.size(), 3U);
  auto deleted = call("DELETE", "/sync/snapshot-sessions/" + snapshot->snapshot_id, "", "tablet");
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(call("GET", "/sync/snapshot-sessions/" + snapshot->snapshot_id, "", "tablet").status,
            404);

  // The tablet opens the watch one bundle behind: the head arrives at once.
  auto stream = LoopbackClient::Connect(*port, 60'000);
  ASSERT_TRUE(stream.has_value());
  ASSERT_TRUE(stream
                  ->Send(http::testing::FormatRequest("GET", "/sync/watch?after_bundle_seq=2",
                                                      headers("tablet")))
                  .ok());
  auto head = stream->ReadResponseHead();
  ASSERT_TRUE(head.has_value()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Type").value_or(""), "text/event-stream");
  EXPECT_EQ(head->Header("Cache-Control").value_or(""), "no-cache");
  EXPECT_EQ(head->Header("X-Accel-Buffering").value_or(""), "no");
  // Reads SSE chunks until one complete "event: bundle" frame is buffered; returns its data line.
  std::string sse;
  const auto next_event_data = [&]() -> std::string {
    while (true) {
      const std::size_t frame_end = sse.find("\n\n");
      if (frame_end != std::string::npos) {
        const std::string frame = sse.substr(0, frame_end);
        sse.erase(0, frame_end + 2);
        if (frame.starts_with(":")) continue;  // heartbeat comment
        EXPECT_TRUE(frame.starts_with("event: bundle\ndata: ")) << frame;
        return frame.substr(frame.find("data: ") + 6);
      }
      auto chunk = stream->ReadChunk();
      if (!chunk.has_value() || !chunk->has_value()) {
        ADD_FAILURE() << "watch stream ended early";
        return "";
      }
      sse += **chunk;
    }
  };
  // The head event has no source fields, unless bundle 3's own NOTIFY reached the new
  // subscriber first (the later duplicate is dropped): the same hint either way.
  const std::string head_event = next_event_data();
  if (head_event != R"({"bundle_seq":3})") {
    EXPECT_EQ(head_event, R"({"bundle_seq":3,"source_id":"phone","source_bundle_id":3})");
  }
  auto subscribers = Get(*port, "GET", "/test/watch-subscribers?user_id=snap-user");
  ASSERT_TRUE(subscribers.has_value());
  EXPECT_EQ(subscribers->body,
            "{\"user_id\":\"snap-user\",\"subscriber_count\":1,\"process_local_only\":true}\n");

  // The phone pushes again: the tablet is woken with the source fields.
  push_user("phone", 4, 4);
  EXPECT_EQ(next_event_data(), R"({"bundle_seq":4,"source_id":"phone","source_bundle_id":4})");

  // GET /metrics (Prometheus text): stage histograms and the process gauges.
  auto metrics = Get(*port, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->Header("Content-Type").value_or(""),
            "text/plain; version=0.0.4; charset=utf-8");
  for (const std::string_view line :
       {"# TYPE oversync_stage_duration_seconds histogram\n",
        "oversync_stage_duration_seconds_count{operation=\"push_commit\",stage=\"total\"} 4\n",
        "oversync_stage_duration_seconds_bucket{operation=\"snapshot_chunk\",stage=\"total\","
        "le=\"+Inf\"} 3\n",  // two pages and the 404 after the delete
        "oversync_stage_errors_total{operation=\"snapshot_chunk\",stage=\"total\"} 1\n",
        "oversync_watch_subscribers 1\n", "# TYPE oversync_history_pruned_errors_total counter\n"}) {
    EXPECT_NE(metrics->body.find(line), std::string::npos) << line << "\n" << metrics->body;
  }

  // SIGTERM with the stream open: the server ends the stream and exits cleanly.
  child->Signal(SIGTERM);
  while (true) {
    auto chunk = stream->ReadChunk();
    if (!chunk.has_value() || !chunk->has_value()) break;
  }
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 0) << child->output();
}

// `oversyncd adopt` (server.md §10.1 item 2): rows written before sync was enabled are brought
// under sync as one bundle per scope, then the command exits; a second run finds nothing.
// docs/wire-profiles.md: one oversyncd serves go-oversync's current contract at the root and the
// 1f1118f contract under OVERSYNCD_SECOND_PROFILE_PATH, from one database: a profile-B push is
// pulled through the profile-A mount (numbers and hashes rendered for each).
TEST(OversyncdWireProfilesTest, ServesBothProfilesFromOneDatabase) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<std::uint16_t> port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", db->dsn());
  env.emplace_back("PORT", std::to_string(*port));
  env.emplace_back("JWT_SECRET", "profile-secret");
  SetEnv(env, "OVERSYNCD_WIRE_PROFILE", "jcs_uniform_numeric_strings_v1");
  SetEnv(env, "OVERSYNCD_SECOND_PROFILE_PATH", "/legacy");
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value()) << child.error().ToString();
  ASSERT_TRUE(child->WaitForLine(kListenPrefix, kStartupTimeout).has_value()) << child->output();
  auto signin = Post(*port, "/dummy-signin", R"({"user":"profile-user","password":"x"})");
  ASSERT_TRUE(signin.has_value());
  ASSERT_EQ(signin->status, 200) << signin->body;
  const std::string token = protocol::ParseJson(signin->body)->Find("token")->as_string();
  const auto call = [&](std::string_view method, std::string_view target,
                        std::string_view body = {}) -> ClientResponse {
    auto client = http::testing::LoopbackClient::Connect(*port);
    EXPECT_TRUE(client.has_value());
    http::Headers headers;
    headers.emplace_back("Authorization", "Bearer " + token);
    headers.emplace_back("Oversync-Source-ID", "device-1");
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto r = client->RoundTrip(method, target, headers, body);
    EXPECT_TRUE(r.has_value());
    return r.value_or(ClientResponse{});
  };
  constexpr auto kB = protocol::WireProfileId::kJcsUniformNumericStringsV1;
  auto caps_b = call("GET", "/sync/capabilities");
  ASSERT_EQ(caps_b.status, 200);
  EXPECT_TRUE(protocol::DecodeCapabilitiesResponse(caps_b.body, nullptr, kB).has_value())
      << caps_b.body;
  auto caps_a = call("GET", "/legacy/sync/capabilities");
  ASSERT_EQ(caps_a.status, 200);
  EXPECT_EQ(caps_a.body.find("max_bytes_per_snapshot_row"), std::string::npos) << caps_a.body;
  EXPECT_NE(caps_a.body.find("registered_table_specs"), std::string::npos);
  EXPECT_EQ(call("GET", "/legacy/syncx/health").status, 200);

  // A profile-B device pushes a row.
  ASSERT_EQ(call("POST", "/sync/connect", R"({"has_local_pending_rows":false})").status, 200);
  const std::string id = "33333333-3333-4333-8333-333333333333";
  const std::string payload = fmt::format(R"({{"id":"{}","name":"Ada","email":"ada@example.com"}})", id);
  protocol::CanonicalRequestHasher hasher;
  protocol::JsonValue key = protocol::JsonValue::Object();
  key.Add("id", protocol::JsonValue::String(id));
  const protocol::JsonValue parsed = protocol::ParseJson(payload).value();
  ASSERT_TRUE(hasher.AddRow("business", "users", key, protocol::Op::kInsert, 0, &parsed).ok());
  const std::string request_hash = hasher.Finish().hex;
  auto create = call("POST", "/sync/push-sessions",
                     fmt::format(R"({{"source_bundle_id":1,"planned_row_count":1,)"
                                 R"("canonical_request_hash":"{}"}})",
                                 request_hash));
  ASSERT_EQ(create.status, 200) << create.body;
  const auto session = protocol::DecodePushSessionCreateResponse(create.body, nullptr, kB);
  ASSERT_TRUE(session.has_value()) << create.body;
  auto chunk = call("POST", "/sync/push-sessions/" + session->push_id + "/chunks",
                    fmt::format(R"({{"start_row_ordinal":0,"rows":[{{"schema":"business",)"
                                R"("table":"users","key":{{"id":"{}"}},"op":"INSERT",)"
                                R"("base_row_version":0,"payload":{}}}]}})",
                                id, payload));
  ASSERT_EQ(chunk.status, 200) << chunk.body;
  auto commit = call("POST", "/sync/push-sessions/" + session->push_id + "/commit");
  ASSERT_EQ(commit.status, 200) << commit.body;
  const auto committed = protocol::DecodePushSessionCommitResponse(commit.body, nullptr, kB);
  ASSERT_TRUE(committed.has_value()) << commit.body;
  EXPECT_EQ(committed->canonical_request_hash, request_hash);

  // Both mounts serve the bundle, each with its own hash of it.
  auto pull_b = call("GET", "/sync/pull?after_bundle_seq=0");
  auto pull_a = call("GET", "/legacy/sync/pull?after_bundle_seq=0");
  ASSERT_EQ(pull_b.status, 200) << pull_b.body;
  ASSERT_EQ(pull_a.status, 200) << pull_a.body;
  const auto page_b = protocol::DecodePullResponse(pull_b.body);
  const auto page_a = protocol::DecodePullResponse(pull_a.body);
  ASSERT_TRUE(page_b.has_value() && page_a.has_value());
  ASSERT_EQ(page_b->bundles.size(), 1U);
  ASSERT_EQ(page_a->bundles.size(), 1U);
  EXPECT_EQ(page_b->bundles[0].bundle_hash, committed->bundle_hash);
  EXPECT_EQ(page_b->bundles[0].canonical_request_hash, request_hash);
  EXPECT_NE(page_a->bundles[0].bundle_hash, committed->bundle_hash);
  EXPECT_EQ(page_a->bundles[0].canonical_request_hash, "");
  const auto hash_a = protocol::ComputeBundleHash(protocol::GoCanonicalV1Profile(), 1,
                                                  page_a->bundles[0].rows);
  ASSERT_TRUE(hash_a.has_value());
  EXPECT_EQ(hash_a->hex, page_a->bundles[0].bundle_hash);
  EXPECT_EQ(page_a->bundles[0].rows[0].payload->Find("name")->as_string(), "Ada");

  child->Signal(SIGTERM);
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 0) << child->output();
  EXPECT_NE(child->output().find("oversyncd wire profile jcs_uniform_numeric_strings_v1 at /; "
                                 "go_canonical_v1 at /legacy"),
            std::string::npos)
      << child->output();
}

// docs/wire-profiles.md "Running both": without settings, oversyncd serves the current contract at
// the root and go_canonical_v1 under /go_canonical_v1.
TEST(OversyncdWireProfilesTest, DefaultsServeTheCurrentContractAtTheRootAndTheOldOneUnderItsName) {
  OVERSYNC_PG_TEST_DATABASE(db);
  Result<std::uint16_t> port = http::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  EnvOverrides env = BaseEnv();
  SetEnv(env, "DATABASE_URL", db->dsn());
  SetEnv(env, "PORT", std::to_string(*port));
  SetEnv(env, "OVERSYNCD_WIRE_PROFILE", std::nullopt);
  Result<ChildProcess> child = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
  ASSERT_TRUE(child.has_value()) << child.error().ToString();
  ASSERT_TRUE(child->WaitForLine(kListenPrefix, kStartupTimeout).has_value()) << child->output();
  auto signin = Post(*port, "/dummy-signin", R"({"user":"default-user","password":"x"})");
  ASSERT_TRUE(signin.has_value());
  ASSERT_EQ(signin->status, 200) << signin->body;
  const std::string token = protocol::ParseJson(signin->body)->Find("token")->as_string();
  const auto get = [&](std::string_view target) -> ClientResponse {
    auto client = http::testing::LoopbackClient::Connect(*port);
    EXPECT_TRUE(client.has_value());
    http::Headers headers;
    headers.emplace_back("Authorization", "Bearer " + token);
    headers.emplace_back("Oversync-Source-ID", "device-1");
    auto r = client->RoundTrip("GET", target, headers, {});
    EXPECT_TRUE(r.has_value());
    return r.value_or(ClientResponse{});
  };
  auto root = get("/sync/capabilities");
  ASSERT_EQ(root.status, 200);
  EXPECT_TRUE(protocol::DecodeCapabilitiesResponse(
                  root.body, nullptr, protocol::WireProfileId::kJcsUniformNumericStringsV1)
                  .has_value())
      << root.body;
  auto old = get("/go_canonical_v1/sync/capabilities");
  ASSERT_EQ(old.status, 200);
  EXPECT_EQ(old.body.find("max_bytes_per_snapshot_row"), std::string::npos) << old.body;
  EXPECT_EQ(get("/go_canonical_v1/syncx/health").status, 200);
  child->Signal(SIGTERM);
  Result<int> exit_status = child->WaitForExit(kExitTimeout);
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 0) << child->output();
  EXPECT_NE(child->output().find("oversyncd wire profile jcs_uniform_numeric_strings_v1 at /; "
                                 "go_canonical_v1 at /go_canonical_v1"),
            std::string::npos)
      << child->output();
}

TEST(OversyncdAdoptCommandTest, AdoptsPreexistingRowsAndExits) {
  // Skipped without OVERSYNC_TEST_DSN (a failure under CI).
  OVERSYNC_PG_TEST_DATABASE(db);
  EnvOverrides env = BaseEnv();
  env.emplace_back("DATABASE_URL", db->dsn());
  env.emplace_back("PORT", "0");
  // A first start creates the business schema and the sync layout.
  {
    Result<ChildProcess> server = ChildProcess::Spawn({OVERSYNCD_PATH}, env);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    ASSERT_TRUE(server->WaitForLine(kListenPrefix, kStartupTimeout).has_value()) << server->output();
    server->Signal(SIGTERM);
    ASSERT_EQ(server->WaitForExit(kExitTimeout).value_or(-1), 0) << server->output();
  }
  ASSERT_TRUE(db->QueryScalar(
                    "ALTER TABLE business.users DISABLE TRIGGER USER; "
                    "INSERT INTO business.users (_sync_scope_id, id, name, email) VALUES "
                    "('acme', '00000000-0000-4000-8000-000000000001', 'A', 'a@x'), "
                    "('acme', '00000000-0000-4000-8000-000000000002', 'B', 'b@x'); "
                    "ALTER TABLE business.users ENABLE TRIGGER USER")
                  .has_value());
  Result<ChildProcess> adopt = ChildProcess::Spawn({OVERSYNCD_PATH, "adopt"}, env);
  ASSERT_TRUE(adopt.has_value()) << adopt.error().ToString();
  ASSERT_EQ(adopt->WaitForExit(kExitTimeout).value_or(-1), 0) << adopt->output();
  EXPECT_NE(adopt->output().find("adopt acme: bundle_seq 1 with 2 rows (scope initialized)"),
            std::string::npos)
      << adopt->output();
  EXPECT_EQ(db->QueryScalar("SELECT count(*) FROM sync.row_state WHERE NOT deleted").value_or("?"),
            "2");
  Result<ChildProcess> again = ChildProcess::Spawn({OVERSYNCD_PATH, "adopt", "acme"}, env);
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->WaitForExit(kExitTimeout).value_or(-1), 0) << again->output();
  EXPECT_NE(again->output().find("adopt acme: nothing to adopt"), std::string::npos)
      << again->output();
  Result<ChildProcess> bad = ChildProcess::Spawn({OVERSYNCD_PATH, "frobnicate"}, env);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->WaitForExit(kExitTimeout).value_or(-1), 2) << bad->output();
}

}  // namespace
}  // namespace oversync::oversyncd
