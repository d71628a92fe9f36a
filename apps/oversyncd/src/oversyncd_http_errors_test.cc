// HTTP-level error contract of the oversyncd binary: for every row of protocol.md §5 that a
// client can reach through connect, push sessions (create/chunk/commit/delete), committed-bundle
// rows, pull, capabilities, /syncx/health and /syncx/status, the documented HTTP status, `error`
// code and `message` (exact where the spec gives the text), the body shape (Content-Type
// application/json, `message` beside `error`, nothing else unless the shape is extended) and
// that a rejected request changed nothing (a follow-up pull / committed-bundle read / chunk
// probe shows no effect).
//
// One oversyncd process per fixture (SetUpTestSuite) on a fresh database of the cluster named by
// OVERSYNC_TEST_DSN (skipped without it, a failure when CI is set); every test works in scopes of
// its own (user ids derived from the test name), so tests neither see nor disturb each other.
//
// Rows of §5 in this scope that no client can reach through oversyncd, and why, are listed at
// the end of this file.
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "e2e_support.h"
#include "oversync/common/clock.h"
#include "oversync/common/status.h"
#include "oversync/http/testing/loopback_client.h"
#include "oversync/http_beast/server.h"
#include "oversync/jwt/jwt.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "oversync/testing/pg_test_database.h"

#ifndef OVERSYNCD_PATH
#error "OVERSYNCD_PATH must name the oversyncd binary"
#endif

namespace oversync::oversyncd {
namespace {

using http::testing::ClientResponse;
using http::testing::LoopbackClient;
using protocol::JsonValue;

constexpr std::string_view kJwtSecret = "http-errors-secret";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

// ---- expectations on responses ----

enum class MessageMatch {
  kExact,
  // The spec's text ends in a value the test cannot know (a lease timestamp).
  kPrefix,
  // docs/compatibility.md item 6: request-decode messages are the Go text, optionally followed
  // by ": <detail>".
  kGoTextThenDetail,
};

// A JSON error body of protocol.md §1.5: `status`, Content-Type application/json (no charset),
// the CORS header of every oversyncd route, a trailing newline, and exactly the members
// "error", "message" and then `extra_members` in this order (Go struct order).
::testing::AssertionResult IsJsonError(const ClientResponse& r, int status, std::string_view code,
                                       std::string_view message,
                                       MessageMatch match = MessageMatch::kExact,
                                       std::initializer_list<std::string_view> extra_members = {}) {
  const auto fail = [&r]() {
    return ::testing::AssertionFailure() << "\n  response: " << r.status << " " << r.body << "\n  ";
  };
  if (r.status != status) return fail() << "expected status " << status;
  if (r.Header("Content-Type") != kJsonType) {
    return fail() << "Content-Type is " << r.Header("Content-Type").value_or("<none>");
  }
  if (r.Header("Access-Control-Allow-Origin") != "*") return fail() << "no CORS header";
  if (r.body.empty() || r.body.back() != '\n') return fail() << "no trailing newline";
  Result<JsonValue> parsed = protocol::ParseJson(r.body);
  if (!parsed.has_value() || !parsed->is_object()) return fail() << "not a JSON object";
  std::vector<std::string_view> names;
  for (const protocol::JsonMember& member : parsed->as_object()) names.emplace_back(member.key);
  std::vector<std::string_view> expected_names = {"error", "message"};
  expected_names.insert(expected_names.end(), extra_members.begin(), extra_members.end());
  if (names != expected_names) return fail() << "unexpected members";
  const JsonValue* error = parsed->Find("error");
  const JsonValue* text = parsed->Find("message");
  if (!error->is_string() || error->as_string() != code) return fail() << "expected " << code;
  if (!text->is_string()) return fail() << "message is not a string";
  const std::string& got = text->as_string();
  const bool matches =
      got == message ||
      (match == MessageMatch::kPrefix && got.size() > message.size() &&
       got.compare(0, message.size(), message) == 0) ||
      (match == MessageMatch::kGoTextThenDetail && got.size() > message.size() + 2 &&
       got.compare(0, message.size() + 2, std::string(message) + ": ") == 0);
  if (!matches) return fail() << "expected message \"" << message << "\"";
  return ::testing::AssertionSuccess();
}

// A plain-text answer (Go http.Error / router): `status`, text/plain; charset=utf-8, `text` plus
// a newline, and (unless the HTTP layer answered before routing) the CORS header that the
// reference server's middleware puts on every response (server.md A.2).
::testing::AssertionResult IsPlainText(const ClientResponse& r, int status, std::string_view text,
                                       bool cors = true) {
  if (r.status != status || r.Header("Content-Type") != kTextType ||
      r.body != std::string(text) + "\n" ||
      (cors && r.Header("Access-Control-Allow-Origin") != "*")) {
    return ::testing::AssertionFailure()
           << "got " << r.status << " [" << r.Header("Content-Type").value_or("<none>") << "] "
           << r.body;
  }
  return ::testing::AssertionSuccess();
}

// A HEAD answer whose GET twin would carry `json_body` (HEAD responses have the GET headers and
// no body; protocol.md §1.1 HEAD exception).
::testing::AssertionResult IsHeadOfJson(const ClientResponse& r, int status,
                                        std::string_view json_body) {
  const std::string length = std::to_string(json_body.size() + 1);  // + Go's newline
  if (r.status != status || r.Header("Content-Type") != kJsonType ||
      r.Header("Content-Length") != length || !r.body.empty()) {
    return ::testing::AssertionFailure()
           << "got " << r.status << " [" << r.Header("Content-Type").value_or("<none>")
           << "] length " << r.Header("Content-Length").value_or("<none>") << ", want " << length;
  }
  return ::testing::AssertionSuccess();
}

// ---- request bodies ----

// Deterministic canonical UUIDv4 text; scopes are per test, so ids may repeat across tests.
std::string Id(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }

std::string UserInsert(std::string_view id, std::string_view name, std::int64_t base = 0) {
  return fmt::format(
      R"({{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"INSERT",)"
      R"("base_row_version":{2},"payload":{{"id":"{0}","name":"{1}","email":"{1}@example.com"}}}})",
      id, name, base);
}

std::string UserUpdate(std::string_view id, std::int64_t base, std::string_view name) {
  return fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"UPDATE",)"
                     R"("base_row_version":{1},"payload":{{"name":"{2}"}}}})",
                     id, base, name);
}

std::string UserDelete(std::string_view id, std::int64_t base) {
  return fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{0}"}},"op":"DELETE",)"
                     R"("base_row_version":{1}}})",
                     id, base);
}

// A users row with an arbitrary payload text (which may be invalid on purpose).
std::string UserRowWithPayload(std::string_view id, std::string_view payload) {
  return fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{}"}},"op":"INSERT",)"
                     R"("base_row_version":0,"payload":{}}})",
                     id, payload);
}

std::string TypedRowInsert(std::string_view id, std::string_view count_value_lexeme) {
  return fmt::format(
      R"({{"schema":"business","table":"typed_rows","key":{{"id":"{0}"}},"op":"INSERT",)"
      R"("payload":{{"id":"{0}","name":"typed","enabled_flag":1,"count_value":{1}}}}})",
      id, count_value_lexeme);
}

std::string ChunkBody(std::int64_t start, const std::vector<std::string>& rows) {
  std::string body = fmt::format(R"({{"start_row_ordinal":{},"rows":[)", start);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) body += ',';
    body += rows[i];
  }
  body += "]}";
  return body;
}

std::string StandardErrorBody(std::string_view code, std::string_view message) {
  return fmt::format(R"({{"error":"{}","message":"{}"}})", code, message);
}

// ---- one authenticated device of one user ----

// Thread-compatible; every call opens its own loopback connection.
class SyncClient {
 public:
  SyncClient(std::uint16_t port, std::string user_id, std::string token, std::string source_id)
      : port_(port),
        user_id_(std::move(user_id)),
        token_(std::move(token)),
        source_id_(std::move(source_id)) {}

  const std::string& user_id() const noexcept { return user_id_; }
  const std::string& source_id() const noexcept { return source_id_; }
  std::string bearer() const { return "Bearer " + token_; }

  // The same user on another device.
  SyncClient WithSource(std::string source_id) const {
    return SyncClient(port_, user_id_, token_, std::move(source_id));
  }

  // Any request; nullopt leaves the header out.
  ClientResponse Send(std::string_view method, std::string_view target, std::string_view body,
                      const std::optional<std::string>& authorization,
                      const std::optional<std::string>& source) const {
    Result<LoopbackClient> client = LoopbackClient::Connect(port_);
    EXPECT_TRUE(client.has_value()) << client.error().ToString();
    if (!client.has_value()) return {};
    http::Headers headers;
    if (authorization) headers.emplace_back("Authorization", *authorization);
    if (source) headers.emplace_back("Oversync-Source-ID", *source);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    Result<ClientResponse> response = client->RoundTrip(method, target, headers, body);
    EXPECT_TRUE(response.has_value()) << response.error().ToString();
    return response.value_or(ClientResponse{});
  }

  // An authenticated request from this device.
  ClientResponse Call(std::string_view method, std::string_view target,
                      std::string_view body = {}) const {
    return Send(method, target, body, bearer(), source_id_);
  }

  ClientResponse Connect(bool pending_rows = false) const {
    return Call("POST", "/sync/connect",
                pending_rows ? R"({"has_local_pending_rows":true})" : "{}");
  }
  ClientResponse CreatePush(std::int64_t source_bundle_id, std::int64_t planned_row_count,
                            std::string_view initialization_id = {}) const {
    std::string body = fmt::format(R"({{"source_bundle_id":{},"planned_row_count":{})",
                                   source_bundle_id, planned_row_count);
    if (!initialization_id.empty()) {
      body += fmt::format(R"(,"initialization_id":"{}")", initialization_id);
    }
    body += "}";
    return Call("POST", "/sync/push-sessions", body);
  }
  ClientResponse Chunk(std::string_view push_id, std::string_view body) const {
    return Call("POST", fmt::format("/sync/push-sessions/{}/chunks", push_id), body);
  }
  ClientResponse Commit(std::string_view push_id) const {
    return Call("POST", fmt::format("/sync/push-sessions/{}/commit", push_id));
  }
  ClientResponse DeletePush(std::string_view push_id) const {
    return Call("DELETE", fmt::format("/sync/push-sessions/{}", push_id));
  }
  ClientResponse Pull(std::string_view query = {}) const {
    return Call("GET",
                query.empty() ? std::string("/sync/pull") : "/sync/pull?" + std::string(query));
  }
  // `path_tail` = "<bundle_seq>/rows[?query]".
  ClientResponse Rows(std::string_view path_tail) const {
    return Call("GET", "/sync/committed-bundles/" + std::string(path_tail));
  }

 private:
  std::uint16_t port_;
  std::string user_id_;
  std::string token_;
  std::string source_id_;
};

// ---- flows used to set up state and to observe that nothing changed ----

// Connects with `{}` (initialize_empty for a new scope).
void ConnectEmpty(const SyncClient& client) {
  const ClientResponse r = client.Connect();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"resolution\":\"initialize_empty\"}\n");
}

// Creates a staging session; "" on failure (with a test failure recorded).
std::string StartPush(const SyncClient& client, std::int64_t source_bundle_id,
                      std::int64_t planned_row_count) {
  const ClientResponse r = client.CreatePush(source_bundle_id, planned_row_count);
  Result<protocol::PushSessionCreateResponse> created =
      protocol::DecodePushSessionCreateResponse(r.body);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(created.has_value()) << r.body;
  if (r.status != 200 || !created.has_value()) return {};
  EXPECT_EQ(created->status, protocol::PushSessionStatus::kStaging) << r.body;
  return created->push_id;
}

void UploadOk(const SyncClient& client, std::string_view push_id, std::int64_t start,
              const std::vector<std::string>& rows) {
  const ClientResponse r = client.Chunk(push_id, ChunkBody(start, rows));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, fmt::format("{{\"push_id\":\"{}\",\"next_expected_row_ordinal\":{}}}\n",
                                push_id, start + static_cast<std::int64_t>(rows.size())));
}

// Commits and returns the bundle_seq (0 on failure).
std::int64_t CommitOk(const SyncClient& client, std::string_view push_id) {
  const ClientResponse r = client.Commit(push_id);
  EXPECT_EQ(r.status, 200) << r.body;
  Result<protocol::PushSessionCommitResponse> committed =
      protocol::DecodePushSessionCommitResponse(r.body);
  EXPECT_TRUE(committed.has_value()) << r.body;
  return committed.has_value() ? committed->bundle_seq : 0;
}

// create + one chunk + commit; returns the bundle_seq.
std::int64_t PushOk(const SyncClient& client, std::int64_t source_bundle_id,
                    const std::vector<std::string>& rows) {
  const std::string push_id =
      StartPush(client, source_bundle_id, static_cast<std::int64_t>(rows.size()));
  if (push_id.empty()) return 0;
  UploadOk(client, push_id, 0, rows);
  return CommitOk(client, push_id);
}

// The session's next expected row ordinal, observed without changing anything: a valid
// one-row chunk far ahead is rejected as out of order (§3.3 step 6) and names the expected value.
std::int64_t ProbeNextOrdinal(const SyncClient& client, std::string_view push_id) {
  constexpr std::int64_t kFarAhead = 1'000'000;
  const ClientResponse r =
      client.Chunk(push_id, ChunkBody(kFarAhead, {UserInsert(Id(999), "probe")}));
  EXPECT_EQ(r.status, 409) << r.body;
  Result<protocol::ErrorResponse> error = protocol::DecodeErrorResponse(r.body);
  if (!error.has_value()) return -1;
  const std::string prefix = fmt::format("push session {} expected start_row_ordinal ", push_id);
  const std::string suffix = fmt::format(", got {}", kFarAhead);
  const std::string& m = error->message;
  if (m.size() <= prefix.size() + suffix.size() || m.compare(0, prefix.size(), prefix) != 0 ||
      m.compare(m.size() - suffix.size(), suffix.size(), suffix) != 0) {
    ADD_FAILURE() << "unexpected probe answer " << r.body;
    return -1;
  }
  return std::stoll(m.substr(prefix.size(), m.size() - prefix.size() - suffix.size()));
}

// A full pull from checkpoint 0 (the scope must be initialized and unpruned).
protocol::PullResponse PullAll(const SyncClient& client) {
  const ClientResponse r = client.Pull("after_bundle_seq=0&max_bundles=5000");
  EXPECT_EQ(r.status, 200) << r.body;
  Result<protocol::PullResponse> pulled = protocol::DecodePullResponse(r.body);
  EXPECT_TRUE(pulled.has_value()) << r.body;
  return pulled.value_or(protocol::PullResponse{});
}

// Every pulled row as "<bundle_seq>:<op>:<payload name, or the key id for a DELETE>", in order.
std::vector<std::string> PulledUserEffects(const SyncClient& client) {
  std::vector<std::string> out;
  for (const protocol::Bundle& bundle : PullAll(client).bundles) {
    for (const protocol::BundleRow& row : bundle.rows) {
      const JsonValue* name = row.payload ? row.payload->Find("name") : nullptr;
      out.push_back(fmt::format("{}:{}:{}", bundle.bundle_seq, protocol::OpName(row.op),
                                name != nullptr && name->is_string()
                                    ? name->as_string()
                                    : row.key.Find("id")->as_string()));
    }
  }
  return out;
}

void ExpectScopeUninitialized(const SyncClient& client) {
  EXPECT_TRUE(
      IsJsonError(client.Pull(), 409, "scope_uninitialized",
                  fmt::format("sync scope for user {} is not initialized", client.user_id())));
}

// /syncx/status `history_pruned_error_count` (§3.13).
std::int64_t HistoryPrunedErrorCount(const SyncClient& client) {
  const ClientResponse r = client.Send("GET", "/syncx/status", "", std::nullopt, std::nullopt);
  EXPECT_EQ(r.status, 200) << r.body;
  Result<protocol::StatusResponse> status = protocol::DecodeStatusResponse(r.body);
  EXPECT_TRUE(status.has_value()) << r.body;
  return status.has_value() ? status->history_pruned_error_count : -1;
}

void ExpectNoBundles(const SyncClient& client) {
  const ClientResponse r = client.Pull();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"stable_bundle_seq\":0,\"bundles\":[],\"has_more\":false}\n");
}

// ---- the fixture: one oversyncd per test suite ----

class OversyncdHttpErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared() = std::make_unique<Shared>();
    Result<std::unique_ptr<oversync::testing::PgTestDatabase>> db =
        oversync::testing::PgTestDatabase::Create();
    if (!db.has_value()) {
      if (db.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        shared()->skip_reason = db.error().ToString();
      } else {
        shared()->failure = db.error().ToString();
      }
      return;
    }
    shared()->db = std::move(*db);
    e2e::EnvOverrides env = e2e::BaseEnv();
    e2e::SetEnv(env, "DATABASE_URL", shared()->db->dsn());
    e2e::SetEnv(env, "PORT", "0");  // the kernel picks; the listen line tells
    e2e::SetEnv(env, "JWT_SECRET", std::string(kJwtSecret));
    Result<e2e::ChildProcess> child = e2e::ChildProcess::Spawn({OVERSYNCD_PATH}, env);
    if (!child.has_value()) {
      shared()->failure = child.error().ToString();
      return;
    }
    shared()->server.emplace(std::move(*child));
    Result<std::string> line =
        shared()->server->WaitForLine(e2e::kListenPrefix, e2e::kStartupTimeout);
    if (!line.has_value()) {
      shared()->failure = line.error().ToString() + "\n" + shared()->server->output();
      return;
    }
    shared()->port = e2e::PortFromListenLine(*line);
  }

  static void TearDownTestSuite() {
    if (shared() != nullptr && shared()->server.has_value() && shared()->port != 0) {
      shared()->server->Signal(SIGTERM);
      Result<int> exit_status = shared()->server->WaitForExit(e2e::kExitTimeout);
      if (!exit_status.has_value() || *exit_status != 0) {
        ADD_FAILURE() << "oversyncd did not stop cleanly:\n" << shared()->server->output();
      }
    }
    shared().reset();  // the server is gone before its database is dropped
  }

  void SetUp() override {
    ASSERT_NE(shared(), nullptr);
    if (!shared()->skip_reason.empty()) GTEST_SKIP() << shared()->skip_reason;
    ASSERT_TRUE(shared()->failure.empty()) << shared()->failure;
  }

  static std::uint16_t port() { return shared()->port; }

  // A device of user "<test name>.<user_suffix>", signed in through POST /dummy-signin.
  static SyncClient NewClient(std::string_view user_suffix = "a",
                              std::string_view source_id = "dev-a") {
    const std::string user = fmt::format(
        "{}.{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), user_suffix);
    const SyncClient anonymous(port(), user, "", std::string(source_id));
    const ClientResponse r = anonymous.Send("POST", "/dummy-signin",
                                            fmt::format(R"({{"user":"{}","password":"x"}})", user),
                                            std::nullopt, std::nullopt);
    EXPECT_EQ(r.status, 200) << r.body;
    Result<JsonValue> parsed = protocol::ParseJson(r.body);
    const JsonValue* token = parsed.has_value() ? parsed->Find("token") : nullptr;
    EXPECT_TRUE(token != nullptr && token->is_string()) << r.body;
    return SyncClient(port(), user,
                      token != nullptr && token->is_string() ? token->as_string() : "",
                      std::string(source_id));
  }

  // Runs one SQL statement on the server's database (test set-up of states HTTP cannot reach
  // without waiting, e.g. an expired session); returns the first column of the first row.
  static std::string Sql(const std::string& sql) {
    Result<std::string> value = shared()->db->QueryScalar(sql);
    EXPECT_TRUE(value.has_value()) << sql << ": " << value.error().ToString();
    return value.value_or("?");
  }

  // POST /test/retention-floor (server.md A.3).
  static void SetRetentionFloor(const SyncClient& client, std::int64_t floor) {
    const ClientResponse r = client.Send(
        "POST", "/test/retention-floor",
        fmt::format(R"({{"user_id":"{}","retained_bundle_floor":{}}})", client.user_id(), floor),
        std::nullopt, std::nullopt);
    EXPECT_EQ(r.status, 200) << r.body;
  }

 private:
  struct Shared {
    std::unique_ptr<oversync::testing::PgTestDatabase> db;
    std::optional<e2e::ChildProcess> server;
    std::uint16_t port = 0;
    std::string skip_reason;
    std::string failure;
  };
  // Lives from SetUpTestSuite to TearDownTestSuite.
  static std::unique_ptr<Shared>& shared() {
    static std::unique_ptr<Shared> instance;
    return instance;
  }
};

// Every actor endpoint of the scope of this file: method, target, a body that would be valid.
struct Endpoint {
  std::string_view method;
  std::string target;
  std::string body;
};

std::vector<Endpoint> SyncEndpoints() {
  const std::string push_id = Id(4242);
  return {
      {"POST", "/sync/connect", "{}"},
      {"POST", "/sync/push-sessions", R"({"source_bundle_id":1,"planned_row_count":1})"},
      {"POST", "/sync/push-sessions/" + push_id + "/chunks",
       ChunkBody(0, {UserInsert(Id(1), "a")})},
      {"POST", "/sync/push-sessions/" + push_id + "/commit", ""},
      {"DELETE", "/sync/push-sessions/" + push_id, ""},
      {"GET", "/sync/committed-bundles/1/rows", ""},
      {"GET", "/sync/pull", ""},
      {"GET", "/sync/capabilities", ""},
  };
}

// ============================== transport / middleware ==============================

// §1.2 (reference auth failures are plain text 401, before the sync handlers), server.md A.4.
// The JSON `authentication_failed` row of §5 is unreachable here: the example auth itself
// rejects a blank `sub` with "Invalid token", and every request that passes it has both a user
// and (after the header check) a source.
TEST_F(OversyncdHttpErrorsTest, MissingOrInvalidBearerTokenIs401PlainTextOnEverySyncEndpoint) {
  const SyncClient client = NewClient();
  const TimePoint now = SystemClock().Now();
  const std::string other_secret =
      jwt::SignHs256(jwt::ExampleClaims(client.user_id(), now, std::chrono::minutes(5)), "nope");
  jwt::JwtClaims expired_claims =
      jwt::ExampleClaims(client.user_id(), now, std::chrono::minutes(5));
  expired_claims.exp_seconds = *expired_claims.iat_seconds - 60;
  const std::string expired = jwt::SignHs256(expired_claims, kJwtSecret);
  const std::string blank_sub =
      jwt::SignHs256(jwt::ExampleClaims("   ", now, std::chrono::minutes(5)), kJwtSecret);

  const std::vector<std::pair<std::optional<std::string>, std::string_view>> cases = {
      {std::nullopt, "Authorization header required"},
      {"   ", "Authorization header required"},
      {"Basic abc", "Invalid authorization header format"},
      {"bearer " + client.bearer().substr(7), "Invalid authorization header format"},
      {"Bearer  " + client.bearer().substr(7), "Invalid authorization header format"},
      {"Bearer", "Invalid authorization header format"},
      {client.bearer() + " extra", "Invalid authorization header format"},
      {"Bearer not-a-jwt", "Invalid token"},
      {"Bearer " + other_secret, "Invalid token"},
      {"Bearer " + expired, "Invalid token"},
      {"Bearer " + blank_sub, "Invalid token"},
  };
  for (const Endpoint& endpoint : SyncEndpoints()) {
    for (const auto& [authorization, text] : cases) {
      SCOPED_TRACE(fmt::format("{} {} with {}", endpoint.method, endpoint.target,
                               authorization.value_or("<no header>")));
      // With and without the source header: authentication runs first.
      EXPECT_TRUE(IsPlainText(
          client.Send(endpoint.method, endpoint.target, endpoint.body, authorization, "dev-a"), 401,
          text));
      EXPECT_TRUE(IsPlainText(
          client.Send(endpoint.method, endpoint.target, endpoint.body, authorization, std::nullopt),
          401, text));
    }
  }
  // Nothing happened: the rejected connects did not initialize the scope.
  ExpectScopeUninitialized(client);
}

// §1.3 / §5 `invalid_request` (middleware): "Oversync-Source-ID header is required" for a missing
// or blank header, on every actor endpoint including capabilities (§1.1 row 12); vector 3.
// /syncx/* need neither header (§1.3).
TEST_F(OversyncdHttpErrorsTest, MissingOrBlankSourceIdIs400OnEverySyncEndpoint) {
  const SyncClient client = NewClient();
  for (const Endpoint& endpoint : SyncEndpoints()) {
    for (const std::optional<std::string>& source :
         {std::optional<std::string>(), std::optional<std::string>("   "),
          std::optional<std::string>("\t")}) {
      SCOPED_TRACE(fmt::format("{} {} source [{}]", endpoint.method, endpoint.target,
                               source.value_or("<none>")));
      EXPECT_TRUE(IsJsonError(
          client.Send(endpoint.method, endpoint.target, endpoint.body, client.bearer(), source),
          400, "invalid_request", "Oversync-Source-ID header is required"));
    }
  }
  ExpectScopeUninitialized(client);  // the rejected connects changed nothing

  for (const std::string_view target : {"/syncx/health", "/syncx/status"}) {
    const ClientResponse r = client.Send("GET", target, "", std::nullopt, std::nullopt);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    EXPECT_EQ(r.Header("Content-Type"), kJsonType);
  }
}

// §1.1 (HTTP method mismatch): the routes are method-qualified (server.md A.2), so a wrong verb
// is answered by the router first, in plain text with `Allow`, before authentication. The
// handler's JSON 405 is reachable only through HEAD on GET routes (next test).
TEST_F(OversyncdHttpErrorsTest, WrongMethodIsAPlainText405FromTheRouterBeforeAuth) {
  const SyncClient client = NewClient();
  const std::string push_id = Id(7);
  struct Case {
    std::string_view method;
    std::string target;
    std::string_view allow;
  };
  const std::vector<Case> cases = {
      {"GET", "/sync/connect", "POST"},
      {"PUT", "/sync/connect", "POST"},
      {"GET", "/sync/push-sessions", "POST"},
      {"DELETE", "/sync/push-sessions", "POST"},
      {"GET", "/sync/push-sessions/" + push_id + "/chunks", "POST"},
      {"PUT", "/sync/push-sessions/" + push_id + "/commit", "POST"},
      {"GET", "/sync/push-sessions/" + push_id, "DELETE"},
      {"POST", "/sync/push-sessions/" + push_id, "DELETE"},
      {"POST", "/sync/committed-bundles/1/rows", "GET, HEAD"},
      {"DELETE", "/sync/pull", "GET, HEAD"},
      {"POST", "/sync/pull", "GET, HEAD"},
      {"POST", "/sync/capabilities", "GET, HEAD"},
      {"POST", "/syncx/health", "GET, HEAD"},
      {"DELETE", "/syncx/status", "GET, HEAD"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} {}", c.method, c.target));
    for (const bool authenticated : {false, true}) {
      const ClientResponse r =
          authenticated ? client.Call(c.method, c.target, "{}")
                        : client.Send(c.method, c.target, "{}", std::nullopt, std::nullopt);
      EXPECT_TRUE(IsPlainText(r, 405, "Method Not Allowed"));
      EXPECT_EQ(r.Header("Allow"), c.allow);
    }
  }
  // HEAD falls back to GET routes only: on a POST route it is the router's 405 too.
  const ClientResponse head = client.Call("HEAD", "/sync/connect");
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(head.Header("Allow"), "POST");
  EXPECT_EQ(head.Header("Content-Type"), kTextType);
  EXPECT_TRUE(head.body.empty());
  ExpectScopeUninitialized(client);  // GET/PUT/HEAD /sync/connect did not connect
}

// §5 `method_not_allowed` "Only GET method is allowed": Go's router lets HEAD through to GET
// routes, so HEAD passes auth and the actor middleware and gets the handler's JSON 405 (§1.1);
// a HEAD answer has the GET headers (Content-Type, Content-Length of the JSON body) and no body.
TEST_F(OversyncdHttpErrorsTest, HeadOnGetEndpointsGetsTheHandlerJson405) {
  const SyncClient client = NewClient();
  const std::string only_get =
      StandardErrorBody("method_not_allowed", "Only GET method is allowed");
  for (const std::string_view target : {"/sync/pull", "/sync/committed-bundles/1/rows",
                                        "/sync/capabilities", "/sync/pull?after_bundle_seq=oops"}) {
    SCOPED_TRACE(target);
    EXPECT_TRUE(IsHeadOfJson(client.Call("HEAD", target), 405, only_get));
    // The middleware still runs first: 401 (plain text) and 400 `invalid_request`.
    const ClientResponse unauthenticated =
        client.Send("HEAD", target, "", std::nullopt, client.source_id());
    EXPECT_EQ(unauthenticated.status, 401);
    EXPECT_EQ(unauthenticated.Header("Content-Type"), kTextType);
    EXPECT_TRUE(IsHeadOfJson(
        client.Send("HEAD", target, "", client.bearer(), std::nullopt), 400,
        StandardErrorBody("invalid_request", "Oversync-Source-ID header is required")));
  }
  for (const std::string_view target : {"/syncx/health", "/syncx/status"}) {
    SCOPED_TRACE(target);
    EXPECT_TRUE(
        IsHeadOfJson(client.Send("HEAD", target, "", std::nullopt, std::nullopt), 405, only_get));
  }
}

// protocol.md §3.8 / §5 watch rows: oversyncd enables the watch like the Go example (capability
// true); every error is a JSON answer sent before the stream starts.
TEST_F(OversyncdHttpErrorsTest, WatchErrorsAreJsonBeforeTheStream) {
  const SyncClient client = NewClient();
  EXPECT_TRUE(IsJsonError(client.Call("GET", "/sync/watch?after_bundle_seq=0"), 409,
                          "scope_uninitialized",
                          fmt::format("sync scope for user {} is not initialized", client.user_id())));
  ConnectEmpty(client);
  EXPECT_TRUE(IsJsonError(client.Call("GET", "/sync/watch?after_bundle_seq=abc"), 400,
                          "invalid_request", "after_bundle_seq must be an integer"));
  EXPECT_TRUE(IsJsonError(client.Call("GET", "/sync/watch?after_bundle_seq=-1"), 400,
                          "invalid_request", "after_bundle_seq must be >= 0"));
  const ClientResponse caps = client.Call("GET", "/sync/capabilities");
  ASSERT_EQ(caps.status, 200) << caps.body;
  Result<protocol::CapabilitiesResponse> decoded = protocol::DecodeCapabilitiesResponse(caps.body);
  ASSERT_TRUE(decoded.has_value()) << caps.body;
  EXPECT_TRUE(decoded->features.at("bundle_change_watch"));
}

// §6 "request body size: deployment-specific": oversyncd's HTTP layer answers a body above
// BeastServerOptions::max_request_body_bytes (32 MiB) with a plain-text 413 before reading it
// (and before authentication), then closes the connection. The push session is untouched.
TEST_F(OversyncdHttpErrorsTest, OversizedBodyIs413AndChangesNothing) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 1);
  ASSERT_FALSE(push_id.empty());

  // oversyncd leaves BeastServerOptions::max_request_body_bytes at its default.
  const std::size_t limit = http_beast::BeastServerOptions().max_request_body_bytes;
  const std::vector<std::pair<std::size_t, std::string>> cases = {
      {limit + 1, "Authorization: " + client.bearer() + "\r\n"},
      {std::size_t{1} << 40, ""},  // no credentials: the size check comes first
  };
  for (const auto& [length, authorization] : cases) {
    SCOPED_TRACE(length);
    Result<LoopbackClient> connection = LoopbackClient::Connect(port());
    ASSERT_TRUE(connection.has_value());
    // Only the header goes out: the answer must not wait for the announced body.
    ASSERT_TRUE(connection
                    ->Send(fmt::format("POST /sync/push-sessions/{}/chunks HTTP/1.1\r\n"
                                       "Host: 127.0.0.1\r\n{}"
                                       "Oversync-Source-ID: dev-a\r\n"
                                       "Content-Type: application/json\r\n"
                                       "Content-Length: {}\r\n\r\n",
                                       push_id, authorization, length))
                    .ok());
    Result<ClientResponse> r = connection->ReadResponse();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_TRUE(IsPlainText(*r, 413, "Request Entity Too Large", /*cors=*/false));
    EXPECT_EQ(r->Header("Connection"), "close");
    EXPECT_TRUE(connection->WaitForClose().ok());
  }
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 0);
  UploadOk(client, push_id, 0, {UserInsert(Id(1), "kept")});
  EXPECT_EQ(CommitOk(client, push_id), 1);
}

// ============================== connect ==============================

// §3.1 / §5 `invalid_request` "Failed to parse connect request" (+ ": detail", compatibility
// item 6); vector 22 (`{"source_id":` malformed). Compatibility item 4: data after the document
// is rejected too. A rejected connect leaves the scope UNINITIALIZED.
TEST_F(OversyncdHttpErrorsTest, ConnectWithUndecodableBodyIs400InvalidRequest) {
  const SyncClient client = NewClient();
  for (const std::string_view body :
       {"", " ", "{", R"({"source_id":)", "[]", "42", R"("x")",
        R"({"has_local_pending_rows":"yes"})", R"({"has_local_pending_rows":1})", "{} {}"}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsJsonError(client.Call("POST", "/sync/connect", body), 400, "invalid_request",
                            "Failed to parse connect request", MessageMatch::kGoTextThenDetail));
  }
  EXPECT_TRUE(IsJsonError(client.Call("POST", "/sync/connect", R"({"has_local_pending_rows":tru})"),
                          400, "invalid_request", "Failed to parse connect request",
                          MessageMatch::kGoTextThenDetail));
  // Still UNINITIALIZED (not INITIALIZING either: pull would say scope_initializing), so
  // another device is offered the initialization.
  ExpectScopeUninitialized(client);
  const ClientResponse other = client.WithSource("dev-b").Connect(/*pending_rows=*/true);
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_NE(other.body.find("\"resolution\":\"initialize_local\""), std::string::npos);
}

// ============================== push create ==============================

// §3.2 step 1 / §5 `invalid_request` "Failed to parse push session request"; §1.4 (integer
// fields accept only integer literals; empty body is an error). Decoding comes before the field
// rules and before the scope gate.
TEST_F(OversyncdHttpErrorsTest, PushCreateWithUndecodableBodyIs400InvalidRequest) {
  const SyncClient client = NewClient();
  const SyncClient unconnected = NewClient("b");
  const std::vector<std::string_view> bodies = {
      "",
      "{",
      R"({"source_bundle_id":1,"planned_row_count":1,})",
      R"({"source_bundle_id":1,"planned_row_count":1} {})",  // compatibility item 4
      R"({"source_bundle_id":1.0,"planned_row_count":1})",
      R"({"source_bundle_id":"1","planned_row_count":1})",
      R"({"source_bundle_id":1,"planned_row_count":1e0})",
      R"({"source_bundle_id":1,"planned_row_count":1,"initialization_id":5})",
      R"({"source_bundle_id":0,"planned_row_count":)",
  };
  ConnectEmpty(client);
  for (const std::string_view body : bodies) {
    SCOPED_TRACE(body);
    for (const SyncClient* c : {&client, &unconnected}) {
      EXPECT_TRUE(IsJsonError(c->Call("POST", "/sync/push-sessions", body), 400, "invalid_request",
                              "Failed to parse push session request",
                              MessageMatch::kGoTextThenDetail));
    }
  }
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM sync.push_sessions p JOIN sync.user_state u "
                            "USING (user_pk) WHERE u.user_id = '{}'",
                            client.user_id())),
            "0");
  ExpectScopeUninitialized(unconnected);
  ExpectNoBundles(client);
}

// §3.2 steps 3-4 / §5 `push_session_invalid`; vector 24. A JSON null leaves the field at 0
// (§1.4). The field rules run before the scope gate (an unconnected user gets 400, not 409).
TEST_F(OversyncdHttpErrorsTest, PushCreateFieldRulesAre400PushSessionInvalid) {
  const SyncClient client = NewClient();
  const SyncClient unconnected = NewClient("b");
  ConnectEmpty(client);
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {R"({"source_bundle_id":0,"planned_row_count":1})", "source_bundle_id must be > 0"},
      {R"({"source_bundle_id":-1,"planned_row_count":1})", "source_bundle_id must be > 0"},
      {R"({"source_bundle_id":null,"planned_row_count":1})", "source_bundle_id must be > 0"},
      {R"({"planned_row_count":1})", "source_bundle_id must be > 0"},
      {R"({})", "source_bundle_id must be > 0"},
      {"null", "source_bundle_id must be > 0"},  // Go decodes a null body as all-zero (§1.4)
      {R"({"source_bundle_id":0,"planned_row_count":0})", "source_bundle_id must be > 0"},
      {R"({"source_bundle_id":1,"planned_row_count":0})", "planned_row_count must be > 0"},
      {R"({"source_bundle_id":1,"planned_row_count":-5})", "planned_row_count must be > 0"},
      {R"({"source_bundle_id":1})", "planned_row_count must be > 0"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsJsonError(client.Call("POST", "/sync/push-sessions", body), 400,
                            "push_session_invalid", message));
    EXPECT_TRUE(IsJsonError(unconnected.Call("POST", "/sync/push-sessions", body), 400,
                            "push_session_invalid", message));
  }
  ExpectNoBundles(client);
  ExpectScopeUninitialized(unconnected);
  // No session and no sequence consumed: source_bundle_id 1 is still the next one.
  EXPECT_EQ(PushOk(client, 1, {UserInsert(Id(1), "first")}), 1);
}

// §4.1 table "push create, pull" on an UNINITIALIZED scope / §5 `scope_uninitialized`
// "sync scope for user U is not initialized"; vector 18. §3.2 step 6: with an
// initialization_id instead → 410 `initialization_expired`.
TEST_F(OversyncdHttpErrorsTest, PushCreateAndPullBeforeConnectAre409ScopeUninitialized) {
  const SyncClient client = NewClient();
  const std::string message =
      fmt::format("sync scope for user {} is not initialized", client.user_id());
  EXPECT_TRUE(IsJsonError(client.CreatePush(1, 1), 409, "scope_uninitialized", message));
  EXPECT_TRUE(IsJsonError(client.Pull(), 409, "scope_uninitialized", message));
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=5&max_bundles=10&target_bundle_seq=7"), 409,
                          "scope_uninitialized", message));
  EXPECT_TRUE(IsJsonError(client.CreatePush(1, 1, Id(77)), 410, "initialization_expired",
                          "initialization lease is no longer active"));
  // Nothing was started: still uninitialized, and connect then decides initialize_empty.
  ExpectScopeUninitialized(client);
  ConnectEmpty(client);
  ExpectNoBundles(client);
}

// §3.2 step 6 (INITIALIZING / INITIALIZED gates) and §3.7 step 1: §5 `push_session_invalid`
// ("initialization_id is required while the scope is initializing", "initialization_id must be
// absent once the scope is initialized"), `initialization_stale` ("source does not own the
// active initialization lease", "initialization_id does not match the active initialization
// lease") and `scope_initializing` on pull ("sync scope for user U is initializing until <RFC
// 3339>").
TEST_F(OversyncdHttpErrorsTest, InitializationLeaseRulesOnPushCreateAndPull) {
  const SyncClient initializer = NewClient();
  const SyncClient other_device = initializer.WithSource("dev-b");
  const ClientResponse connected = initializer.Connect(/*pending_rows=*/true);
  ASSERT_EQ(connected.status, 200) << connected.body;
  Result<protocol::ConnectResponse> lease = protocol::DecodeConnectResponse(connected.body);
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(lease->resolution, protocol::ConnectResolution::kInitializeLocal);
  const std::string& init_id = lease->initialization_id;

  EXPECT_TRUE(IsJsonError(initializer.CreatePush(1, 1), 400, "push_session_invalid",
                          "initialization_id is required while the scope is initializing"));
  EXPECT_TRUE(IsJsonError(other_device.CreatePush(1, 1, init_id), 409, "initialization_stale",
                          "source does not own the active initialization lease"));
  EXPECT_TRUE(IsJsonError(initializer.CreatePush(1, 1, Id(12345)), 409, "initialization_stale",
                          "initialization_id does not match the active initialization lease"));
  for (const SyncClient* c : {&initializer, &other_device}) {  // also for the initializer
    const ClientResponse pulled = c->Pull();
    EXPECT_TRUE(IsJsonError(
        pulled, 409, "scope_initializing",
        fmt::format("sync scope for user {} is initializing until ", initializer.user_id()),
        MessageMatch::kPrefix));
    EXPECT_NE(pulled.body.find("Z\"}"), std::string::npos) << pulled.body;  // RFC 3339 UTC
  }
  // None of the rejected creates changed the lease: the seed push still works.
  const ClientResponse seed = initializer.CreatePush(1, 1, init_id);
  ASSERT_EQ(seed.status, 200) << seed.body;
  const std::string seed_id = protocol::DecodePushSessionCreateResponse(seed.body)->push_id;
  UploadOk(initializer, seed_id, 0, {UserInsert(Id(1), "seed")});
  EXPECT_EQ(CommitOk(initializer, seed_id), 1);

  // INITIALIZED now: an initialization_id with nothing to replay is rejected.
  EXPECT_TRUE(IsJsonError(initializer.CreatePush(2, 1, init_id), 400, "push_session_invalid",
                          "initialization_id must be absent once the scope is initialized"));
  EXPECT_EQ(PulledUserEffects(initializer), (std::vector<std::string>{"1:INSERT:seed"}));
}

// §3.2 step 8 / §5 `source_sequence_out_of_order` "source S for user U expected next
// source_bundle_id E, got A"; vector 34. No session is created.
TEST_F(OversyncdHttpErrorsTest, PushCreateAheadOfTheSourceSequenceIs409OutOfOrder) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  EXPECT_TRUE(
      IsJsonError(client.CreatePush(2, 1), 409, "source_sequence_out_of_order",
                  fmt::format("source dev-a for user {} expected next source_bundle_id 1, got 2",
                              client.user_id())));
  EXPECT_EQ(PushOk(client, 1, {UserInsert(Id(1), "one")}), 1);
  EXPECT_TRUE(
      IsJsonError(client.CreatePush(3, 1), 409, "source_sequence_out_of_order",
                  fmt::format("source dev-a for user {} expected next source_bundle_id 2, got 3",
                              client.user_id())));
  EXPECT_TRUE(
      IsJsonError(client.CreatePush(9223372036854775807, 1), 409, "source_sequence_out_of_order",
                  fmt::format("source dev-a for user {} expected next source_bundle_id 2, got "
                              "9223372036854775807",
                              client.user_id())));
  // Sources are per user and per id: another device of the same user starts at 1.
  EXPECT_TRUE(
      IsJsonError(client.WithSource("dev-b").CreatePush(2, 1), 409, "source_sequence_out_of_order",
                  fmt::format("source dev-b for user {} expected next source_bundle_id 1, got 2",
                              client.user_id())));
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM sync.push_sessions p JOIN sync.user_state u "
                            "USING (user_pk) WHERE u.user_id = '{}'",
                            client.user_id())),
            "0");
  EXPECT_EQ(PulledUserEffects(client), (std::vector<std::string>{"1:INSERT:one"}));
}

// §3.2 steps 7-8, §4.8 / §5 `history_pruned` (create) "source tuple (S, B) for user U is older
// than retained duplicate history; max committed source_bundle_id is M"; vector 33.
TEST_F(OversyncdHttpErrorsTest, PushCreateOfAPrunedTupleIs409HistoryPruned) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  ASSERT_EQ(PushOk(client, 1, {UserInsert(Id(1), "one")}), 1);
  ASSERT_EQ(PushOk(client, 2, {UserInsert(Id(2), "two")}), 2);
  // Retained: the replay answers already_committed.
  const ClientResponse replay = client.CreatePush(1, 1);
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_NE(replay.body.find("\"status\":\"already_committed\""), std::string::npos);

  SetRetentionFloor(client, 1);
  EXPECT_TRUE(IsJsonError(
      client.CreatePush(1, 1), 409, "history_pruned",
      fmt::format("source tuple (dev-a, 1) for user {} is older than retained duplicate "
                  "history; max committed source_bundle_id is 2",
                  client.user_id())));
  // Still retained above the floor.
  const ClientResponse retained = client.CreatePush(2, 1);
  EXPECT_EQ(retained.status, 200) << retained.body;
  EXPECT_NE(retained.body.find("\"status\":\"already_committed\""), std::string::npos);
  EXPECT_EQ(PushOk(client, 3, {UserInsert(Id(3), "three")}), 3);
}

// ============================== push chunk ==============================

// §3.3 step 1 / §5 `invalid_request` "Failed to parse push chunk request"; decoding comes before
// the session lookup, so an unknown push id is still a 400 here. The session stays at ordinal 0.
TEST_F(OversyncdHttpErrorsTest, PushChunkWithUndecodableBodyIs400InvalidRequest) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 1);
  ASSERT_FALSE(push_id.empty());
  const std::string row = UserInsert(Id(1), "a");
  const std::vector<std::string> bodies = {
      "",
      "nope",
      "[]",
      fmt::format(R"({{"start_row_ordinal":"0","rows":[{}]}})", row),
      fmt::format(R"({{"start_row_ordinal":0.5,"rows":[{}]}})", row),
      R"({"start_row_ordinal":0,"rows":{}})",
      R"({"start_row_ordinal":0,"rows":[1]})",
      ChunkBody(0, {R"({"schema":"business","table":"users","key":{"id":"x"},"op":"INSERT",)"
                    R"("base_row_version":"1","payload":{}})"}),
      ChunkBody(0, {row}) + " {}",  // compatibility item 4
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsJsonError(client.Chunk(push_id, body), 400, "invalid_request",
                            "Failed to parse push chunk request", MessageMatch::kGoTextThenDetail));
    EXPECT_TRUE(IsJsonError(client.Chunk(Id(31337), body), 400, "invalid_request",
                            "Failed to parse push chunk request", MessageMatch::kGoTextThenDetail));
  }
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 0);
  UploadOk(client, push_id, 0, {row});
  EXPECT_EQ(CommitOk(client, push_id), 1);
  EXPECT_EQ(PulledUserEffects(client), (std::vector<std::string>{"1:INSERT:a"}));
}

// §3.3 step 3 / §5 `push_chunk_invalid` (the §3.3 message list, representative rows),
// compatibility item 1 (integers beyond 2^53), vectors 25, 40, 54, 56. Stateless validation
// runs before the session lookup (an unknown push id still gets the 400), the first failing row
// wins, and a rejected chunk stages nothing.
TEST_F(OversyncdHttpErrorsTest, PushChunkRowRulesAre400PushChunkInvalid) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 2);
  ASSERT_FALSE(push_id.empty());
  const std::string u1 = Id(1);
  const std::string good = UserInsert(u1, "good");

  std::string too_many = R"({"start_row_ordinal":0,"rows":[)";
  for (int i = 0; i < 5001; ++i) too_many += i == 0 ? "{}" : ",{}";
  too_many += "]}";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"start_row_ordinal":0})", "rows must not be empty"},
      {R"({"start_row_ordinal":0,"rows":[]})", "rows must not be empty"},
      {R"({"start_row_ordinal":0,"rows":null})", "rows must not be empty"},
      {"null", "rows must not be empty"},
      {ChunkBody(-1, {good}), "start_row_ordinal must be >= 0"},
      {too_many, "rows length 5001 exceeds max_rows_per_push_chunk 5000"},
      {ChunkBody(0, {R"({"schema":"Bad Schema","table":"users","key":{"id":"x"},"op":"INSERT"})"}),
       R"(invalid schema name "Bad Schema")"},
      {ChunkBody(0, {R"({"schema":"business","table":"users-x","key":{"id":"x"},"op":"INSERT"})"}),
       R"(invalid table name "users-x")"},
      {ChunkBody(0, {R"({"schema":"business","table":"nope","key":{"id":"x"},"op":"INSERT"})"}),
       "table business.nope is not registered"},
      {ChunkBody(0, {R"({"table":"users","key":{"id":"x"},"op":"INSERT"})"}),
       "table public.users is not registered"},
      {ChunkBody(0, {fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{}"}},)"
                                 R"("op":"UPSERT","payload":{{}}}})",
                                 u1)}),
       R"(invalid op "UPSERT")"},
      {ChunkBody(0,
                 {R"({"schema":"business","table":"users","key":{},"op":"INSERT","payload":{}})"}),
       R"(row key for business.users must include "id")"},
      {ChunkBody(
           0,
           {R"({"schema":"business","table":"users","key":{"id":5},"op":"INSERT","payload":{}})"}),
       "row key business.users.id must be a string"},
      {ChunkBody(0, {UserInsert("00000000-0000-4000-8000-00000000000A", "upper")}),
       "row key business.users.id must use canonical dashed lowercase UUID text"},
      {ChunkBody(0, {good, UserUpdate(u1, 0, "again")}),
       fmt::format("duplicate target row in push request: business.users {}", u1)},
      {ChunkBody(0, {fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{}"}},)"
                                 R"("op":"DELETE","base_row_version":1,"payload":null}})",
                                 u1)}),
       "DELETE for business.users must not include payload"},
      {ChunkBody(0, {fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{}"}},)"
                                 R"("op":" delete ","base_row_version":1,"payload":{{}}}})",
                                 u1)}),
       "DELETE for business.users must not include payload"},
      {ChunkBody(0, {fmt::format(R"({{"schema":"business","table":"users","key":{{"id":"{}"}},)"
                                 R"("op":"UPDATE","base_row_version":1}})",
                                 u1)}),
       "UPDATE for business.users requires payload"},
      {ChunkBody(0, {UserRowWithPayload(u1, "[1]")}),
       "payload for business.users must be a JSON object"},
      {ChunkBody(0, {UserRowWithPayload(u1, "null")}),
       "payload for business.users must be a JSON object"},
      {ChunkBody(0,
                 {UserRowWithPayload(u1, R"({"name":"x","email":"e","_sync_scope_id":"evil"})")}),
       R"(payload for business.users must not include hidden scope column "_sync_scope_id")"},
      {ChunkBody(0, {UserRowWithPayload(u1, fmt::format(R"({{"id":"{}","name":"x"}})", Id(2)))}),
       "payload key business.users.id must match request key"},
      {ChunkBody(0, {UserRowWithPayload(u1, R"({"name":"x","bad-name":1})")}),
       R"(payload for business.users contains invalid column "bad-name")"},
      {ChunkBody(0, {fmt::format(R"({{"schema":"business","table":"files","key":{{"id":"{0}"}},)"
                                 R"("op":"INSERT","payload":{{"id":"{0}","name":"f","data":5}}}})",
                                 u1)}),
       "payload binary field business.files.data must be a base64 string"},
      {ChunkBody(0,
                 {fmt::format(R"({{"schema":"business","table":"files","key":{{"id":"{0}"}},)"
                              R"("op":"INSERT","payload":{{"id":"{0}","name":"f","data":"***"}}}})",
                              u1)}),
       "payload binary field business.files.data must be valid base64"},
      {ChunkBody(0, {TypedRowInsert(Id(3), "9007199254740993")}),
       "payload field business.typed_rows.count_value integer 9007199254740993 exceeds 2^53 and "
       "cannot be represented exactly"},
      {ChunkBody(0, {TypedRowInsert(Id(3), "-9007199254740993")}),
       "payload field business.typed_rows.count_value integer -9007199254740993 exceeds 2^53 and "
       "cannot be represented exactly"},
      // The first failing row wins, even after a valid one.
      {ChunkBody(0,
                 {good, R"({"schema":"business","table":"nope","key":{"id":"x"},"op":"INSERT"})"}),
       "table business.nope is not registered"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(message);
    EXPECT_TRUE(IsJsonError(client.Chunk(push_id, body), 400, "push_chunk_invalid", message));
    EXPECT_TRUE(IsJsonError(client.Chunk(Id(31337), body), 400, "push_chunk_invalid", message));
  }
  EXPECT_EQ(
      Sql(fmt::format("SELECT count(*) FROM sync.push_session_rows WHERE push_id = '{}'", push_id)),
      "0");
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 0);

  // 2^53 itself is exact and accepted (compatibility item 1).
  UploadOk(client, push_id, 0, {good, TypedRowInsert(Id(3), "9007199254740992")});
  ASSERT_EQ(CommitOk(client, push_id), 1);
  const ClientResponse rows = client.Rows("1/rows");
  ASSERT_EQ(rows.status, 200) << rows.body;
  Result<protocol::CommittedBundleRowsResponse> decoded =
      protocol::DecodeCommittedBundleRowsResponse(rows.body);
  ASSERT_TRUE(decoded.has_value()) << rows.body;
  ASSERT_EQ(decoded->rows.size(), 2U);
  EXPECT_EQ(decoded->rows[0].table, "users");
  EXPECT_EQ(decoded->rows[1].table, "typed_rows");
  ASSERT_TRUE(decoded->rows[1].payload.has_value());
  EXPECT_EQ(decoded->rows[1].payload->Find("count_value")->as_number().lexeme, "9007199254740992");
}

// §3.3 step 7 / §5 `push_chunk_invalid` "chunk exceeds planned_row_count" (checked after the
// session lookup); §4.3 "chunk(start+k>planned) → 400 (state unchanged)".
TEST_F(OversyncdHttpErrorsTest, PushChunkBeyondThePlannedRowCountIs400) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 2);
  ASSERT_FALSE(push_id.empty());
  const std::vector<std::string> three = {UserInsert(Id(1), "a"), UserInsert(Id(2), "b"),
                                          UserInsert(Id(3), "c")};
  EXPECT_TRUE(IsJsonError(client.Chunk(push_id, ChunkBody(0, three)), 400, "push_chunk_invalid",
                          "chunk exceeds planned_row_count"));
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 0);
  UploadOk(client, push_id, 0, {three[0]});
  EXPECT_TRUE(IsJsonError(client.Chunk(push_id, ChunkBody(1, {three[1], three[2]})), 400,
                          "push_chunk_invalid", "chunk exceeds planned_row_count"));
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 1);
  UploadOk(client, push_id, 1, {three[1]});
  EXPECT_EQ(CommitOk(client, push_id), 1);
  EXPECT_EQ(PulledUserEffects(client), (std::vector<std::string>{"1:INSERT:a", "1:INSERT:b"}));
}

// §3.3 step 6 / §5 `push_chunk_out_of_order` "push session P expected start_row_ordinal E, got
// A"; vector 26; §4.3 (re-sending an accepted chunk is not idempotent; state unchanged). The
// ordinal check precedes the planned-count check.
TEST_F(OversyncdHttpErrorsTest, PushChunkOutOfOrderIs409) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 3);
  ASSERT_FALSE(push_id.empty());
  const std::string a = UserInsert(Id(1), "a");
  const std::string b = UserInsert(Id(2), "b");
  const std::string c = UserInsert(Id(3), "c");
  EXPECT_TRUE(
      IsJsonError(client.Chunk(push_id, ChunkBody(1, {b})), 409, "push_chunk_out_of_order",
                  fmt::format("push session {} expected start_row_ordinal 0, got 1", push_id)));
  UploadOk(client, push_id, 0, {a});
  EXPECT_TRUE(
      IsJsonError(client.Chunk(push_id, ChunkBody(0, {a})), 409, "push_chunk_out_of_order",
                  fmt::format("push session {} expected start_row_ordinal 1, got 0", push_id)));
  EXPECT_TRUE(
      IsJsonError(client.Chunk(push_id, ChunkBody(2, {c})), 409, "push_chunk_out_of_order",
                  fmt::format("push session {} expected start_row_ordinal 1, got 2", push_id)));
  EXPECT_TRUE(
      IsJsonError(client.Chunk(push_id, ChunkBody(5, {b, c})), 409, "push_chunk_out_of_order",
                  fmt::format("push session {} expected start_row_ordinal 1, got 5", push_id)));
  UploadOk(client, push_id, 1, {b, c});
  EXPECT_EQ(CommitOk(client, push_id), 1);
  EXPECT_EQ(PulledUserEffects(client),
            (std::vector<std::string>{"1:INSERT:a", "1:INSERT:b", "1:INSERT:c"}));
}

// §3.3 step 4, §3.4 step 2, §3.5 / §5 `push_session_not_found` "push session P was not found"
// for unknown, malformed, replaced, deleted and committed ids; vectors 27, 37, 39, 48, 49.
// Path parameters are percent-decoded (§1.1).
TEST_F(OversyncdHttpErrorsTest, UnknownMalformedOrFinishedPushIdsAre404) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string chunk = ChunkBody(0, {UserInsert(Id(1), "a")});
  const auto expect_not_found_everywhere = [&](std::string_view path_id,
                                               std::string_view message_id) {
    SCOPED_TRACE(path_id);
    const std::string message = fmt::format("push session {} was not found", message_id);
    EXPECT_TRUE(IsJsonError(client.Chunk(path_id, chunk), 404, "push_session_not_found", message));
    EXPECT_TRUE(IsJsonError(client.Commit(path_id), 404, "push_session_not_found", message));
    EXPECT_TRUE(IsJsonError(client.DeletePush(path_id), 404, "push_session_not_found", message));
  };
  expect_not_found_everywhere(Id(404), Id(404));
  // Commit and DELETE ignore any body (§1.4): still the lookup's 404, not a decode error.
  EXPECT_TRUE(IsJsonError(
      client.Call("POST", fmt::format("/sync/push-sessions/{}/commit", Id(404)), "not json"), 404,
      "push_session_not_found", fmt::format("push session {} was not found", Id(404))));
  EXPECT_TRUE(IsJsonError(
      client.Call("DELETE", fmt::format("/sync/push-sessions/{}", Id(404)), "not json"), 404,
      "push_session_not_found", fmt::format("push session {} was not found", Id(404))));
  expect_not_found_everywhere("not-a-uuid", "not-a-uuid");
  expect_not_found_everywhere("abc%20def", "abc def");
  expect_not_found_everywhere("abc%2Fdef", "abc/def");  // one segment, decoded after routing
  expect_not_found_everywhere("12345", "12345");

  // Replaced by a second create for the same tuple (vector 49): the old id is gone and its
  // staged row with it.
  const std::string replaced = StartPush(client, 1, 1);
  ASSERT_FALSE(replaced.empty());
  UploadOk(client, replaced, 0, {UserInsert(Id(2), "replaced")});
  const std::string current = StartPush(client, 1, 1);
  ASSERT_FALSE(current.empty());
  expect_not_found_everywhere(replaced, replaced);

  // Deleted (§3.5): 204 once, then 404.
  const ClientResponse deleted = client.DeletePush(current);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_FALSE(deleted.Header("Content-Type").has_value());
  expect_not_found_everywhere(current, current);

  // Committed (vectors 37, 48).
  const std::string committed = StartPush(client, 1, 1);
  ASSERT_FALSE(committed.empty());
  UploadOk(client, committed, 0, {UserInsert(Id(3), "committed")});
  const ClientResponse commit =
      client.Call("POST", fmt::format("/sync/push-sessions/{}/commit", committed), "{\"ignored\":");
  ASSERT_EQ(commit.status, 200) << commit.body;  // the body is ignored (§1.4)
  expect_not_found_everywhere(committed, committed);
  EXPECT_EQ(PulledUserEffects(client), (std::vector<std::string>{"1:INSERT:committed"}));
}

// §3.3 step 4 / §3.4 / §3.5 / §5 `push_session_forbidden` "push session P does not belong to
// the authenticated user"; vectors 28, 39. The owner's session is untouched.
TEST_F(OversyncdHttpErrorsTest, AnotherUsersPushSessionIs403) {
  const SyncClient owner = NewClient("owner");
  const SyncClient intruder = NewClient("intruder");
  ConnectEmpty(owner);
  ConnectEmpty(intruder);
  const std::string push_id = StartPush(owner, 1, 1);
  ASSERT_FALSE(push_id.empty());
  const std::string message =
      fmt::format("push session {} does not belong to the authenticated user", push_id);
  const std::string chunk = ChunkBody(0, {UserInsert(Id(1), "intruder")});
  EXPECT_TRUE(IsJsonError(intruder.Chunk(push_id, chunk), 403, "push_session_forbidden", message));
  EXPECT_TRUE(IsJsonError(intruder.Commit(push_id), 403, "push_session_forbidden", message));
  EXPECT_TRUE(IsJsonError(intruder.DeletePush(push_id), 403, "push_session_forbidden", message));
  // Even with the owner's source id: ownership is the user, not the device.
  EXPECT_TRUE(IsJsonError(intruder.WithSource(owner.source_id()).Commit(push_id), 403,
                          "push_session_forbidden", message));

  EXPECT_EQ(ProbeNextOrdinal(owner, push_id), 0);
  UploadOk(owner, push_id, 0, {UserInsert(Id(1), "owner")});
  EXPECT_TRUE(IsJsonError(intruder.Commit(push_id), 403, "push_session_forbidden", message));
  EXPECT_EQ(CommitOk(owner, push_id), 1);
  EXPECT_EQ(PulledUserEffects(owner), (std::vector<std::string>{"1:INSERT:owner"}));
  ExpectNoBundles(intruder);
}

// §3.3 step 4, §3.4 step 2, §3.5 / §5 `push_session_expired` "push session P has expired; start
// a new push session"; vector 38; §4.3 (410 until the next create removes it, then 404). The
// expiry is set in the database: waiting 15 minutes is not a test.
TEST_F(OversyncdHttpErrorsTest, ExpiredPushSessionIs410UntilTheNextCreateRemovesIt) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 2);
  ASSERT_FALSE(push_id.empty());
  UploadOk(client, push_id, 0, {UserInsert(Id(1), "staged")});
  Sql(
      fmt::format("UPDATE sync.push_sessions SET expires_at = now() - interval '1 minute' "
                  "WHERE push_id = '{}'",
                  push_id));
  const std::string message =
      fmt::format("push session {} has expired; start a new push session", push_id);
  for (int round = 0; round < 2; ++round) {  // rejected attempts change nothing
    EXPECT_TRUE(IsJsonError(client.Chunk(push_id, ChunkBody(1, {UserInsert(Id(2), "late")})), 410,
                            "push_session_expired", message));
    EXPECT_TRUE(IsJsonError(client.Commit(push_id), 410, "push_session_expired", message));
    EXPECT_TRUE(IsJsonError(client.DeletePush(push_id), 410, "push_session_expired", message));
  }
  ExpectNoBundles(client);
  // Any create (here: another user's) removes expired sessions.
  const SyncClient other = NewClient("b");
  ConnectEmpty(other);
  ASSERT_FALSE(StartPush(other, 1, 1).empty());
  EXPECT_TRUE(IsJsonError(client.Commit(push_id), 404, "push_session_not_found",
                          fmt::format("push session {} was not found", push_id)));
  ExpectNoBundles(client);
}

// §3.3 step 5, §3.4 step 4 / §5 `initialization_stale` "scope is no longer initializing";
// vector 17 (the initializer's lease expired; an expired lease is treated as UNINITIALIZED).
// The lease check of a chunk precedes the ordinal and planned-count checks; the commit's comes
// after the completeness check. The lease expiry is set in the database.
TEST_F(OversyncdHttpErrorsTest, SeedSessionAfterTheLeaseExpiredIs409InitializationStale) {
  const SyncClient client = NewClient();
  const ClientResponse connected = client.Connect(/*pending_rows=*/true);
  Result<protocol::ConnectResponse> lease = protocol::DecodeConnectResponse(connected.body);
  ASSERT_TRUE(lease.has_value()) << connected.body;
  const ClientResponse seed = client.CreatePush(1, 1, lease->initialization_id);
  ASSERT_EQ(seed.status, 200) << seed.body;
  const std::string push_id = protocol::DecodePushSessionCreateResponse(seed.body)->push_id;
  UploadOk(client, push_id, 0, {UserInsert(Id(1), "seed")});
  Sql(
      fmt::format("UPDATE sync.scope_state SET lease_expires_at = now() - interval '1 minute' "
                  "WHERE user_pk = (SELECT user_pk FROM sync.user_state WHERE user_id = '{}')",
                  client.user_id()));
  for (int round = 0; round < 2; ++round) {
    EXPECT_TRUE(IsJsonError(client.Chunk(push_id, ChunkBody(1, {UserInsert(Id(2), "late")})), 409,
                            "initialization_stale", "scope is no longer initializing"));
    EXPECT_TRUE(IsJsonError(client.Commit(push_id), 409, "initialization_stale",
                            "scope is no longer initializing"));
  }
  ExpectScopeUninitialized(client);
  EXPECT_TRUE(IsJsonError(client.Rows("1/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 1 was not found"));
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM business.users WHERE _sync_scope_id = '{}'",
                            client.user_id())),
            "0");
}

// ============================== push commit ==============================

// §3.4 step 3 / §5 `push_commit_invalid` "staged row count N does not match planned_row_count P";
// vectors 29, 41; §4.3 "commit while incomplete → 400 (state unchanged)".
TEST_F(OversyncdHttpErrorsTest, CommitOfAnIncompleteSessionIs400) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string push_id = StartPush(client, 1, 2);
  ASSERT_FALSE(push_id.empty());
  EXPECT_TRUE(IsJsonError(client.Commit(push_id), 400, "push_commit_invalid",
                          "staged row count 0 does not match planned_row_count 2"));
  UploadOk(client, push_id, 0, {UserInsert(Id(1), "a")});
  EXPECT_TRUE(IsJsonError(client.Commit(push_id), 400, "push_commit_invalid",
                          "staged row count 1 does not match planned_row_count 2"));
  ExpectNoBundles(client);
  EXPECT_TRUE(IsJsonError(client.Rows("1/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 1 was not found"));
  EXPECT_EQ(ProbeNextOrdinal(client, push_id), 1);
  UploadOk(client, push_id, 1, {UserInsert(Id(2), "b")});
  EXPECT_EQ(CommitOk(client, push_id), 1);  // gap-free: the failed commits consumed nothing
  EXPECT_EQ(PulledUserEffects(client), (std::vector<std::string>{"1:INSERT:a", "1:INSERT:b"}));
}

// §3.4 step 3 / §5 `push_commit_invalid` "duplicate target row in staged push session: S.T K";
// vector 40 (the same key in two chunks passes upload, fails at commit).
TEST_F(OversyncdHttpErrorsTest, CommitWithADuplicateTargetRowAcrossChunksIs400) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string u1 = Id(1);
  const std::string push_id = StartPush(client, 1, 2);
  ASSERT_FALSE(push_id.empty());
  UploadOk(client, push_id, 0, {UserInsert(u1, "a")});
  UploadOk(client, push_id, 1, {UserUpdate(u1, 0, "b")});
  for (int round = 0; round < 2; ++round) {
    EXPECT_TRUE(IsJsonError(
        client.Commit(push_id), 400, "push_commit_invalid",
        fmt::format("duplicate target row in staged push session: business.users {}", u1)));
  }
  ExpectNoBundles(client);
  EXPECT_TRUE(IsJsonError(client.Rows("1/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 1 was not found"));
  EXPECT_EQ(PushOk(client, 1, {UserInsert(u1, "only")}), 1);
}

// §3.4 step 6, §3.4.4, §4.4.1 / §5 `push_conflict` (409, extended body with `conflict`);
// vectors 46, 47, 58, 60. Nothing is applied and the session stays staging (a plain retry of
// the commit conflicts again).
TEST_F(OversyncdHttpErrorsTest, CommitConflictsAre409WithTheConflictObject) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string live = Id(1);
  const std::string gone = Id(2);
  const std::string absent = Id(3);
  ASSERT_EQ(PushOk(client, 1, {UserInsert(live, "Server"), UserInsert(gone, "Gone")}), 1);
  ASSERT_EQ(PushOk(client, 2, {UserDelete(gone, 1)}), 2);
  const std::vector<std::string> before = PulledUserEffects(client);
  ASSERT_EQ(before,
            (std::vector<std::string>{"1:INSERT:Server", "1:INSERT:Gone", "2:DELETE:" + gone}));

  struct Case {
    std::vector<std::string> rows;
    std::string message;
    std::string_view op;
    std::string key;
    std::int64_t base;
    std::int64_t server_version;
    bool server_deleted;
    bool server_row;
  };
  const std::vector<Case> cases = {
      {{UserUpdate(live, 0, "Stale")},
       fmt::format("update conflict on business.users {}: expected version 1, got 0", live),
       "UPDATE",
       live,
       0,
       1,
       false,
       true},
      {{UserDelete(live, 7)},
       fmt::format("delete conflict on business.users {}: expected version 1, got 7", live),
       "DELETE",
       live,
       7,
       1,
       false,
       true},
      {{UserInsert(live, "Again", 1)},
       fmt::format("insert conflict on business.users {}: row already exists at version 1", live),
       "INSERT",
       live,
       1,
       1,
       false,
       true},
      {{UserInsert(live, "Again", 0)},
       fmt::format("insert conflict on business.users {}: expected base_row_version 1, got 0",
                   live),
       "INSERT",
       live,
       0,
       1,
       false,
       true},
      {{UserUpdate(gone, 1, "Zombie")},
       fmt::format("update conflict on business.users {}: row does not exist", gone),
       "UPDATE",
       gone,
       1,
       2,
       true,
       false},
      {{UserInsert(gone, "Reborn", 1)},
       fmt::format("insert conflict on business.users {}: expected base_row_version 2, got 1",
                   gone),
       "INSERT",
       gone,
       1,
       2,
       true,
       false},
      {{UserInsert(absent, "New", 5)},
       fmt::format("insert conflict on business.users {}: expected missing row at version 0, "
                   "got 5",
                   absent),
       "INSERT",
       absent,
       5,
       0,
       false,
       false},
      {{UserDelete(absent, 0)},
       fmt::format("delete conflict on business.users {}: row does not exist", absent),
       "DELETE",
       absent,
       0,
       0,
       false,
       false},
      // The whole bundle is rejected, including a valid row before the conflicting one.
      {{UserInsert(Id(4), "Valid"), UserUpdate(live, 3, "Stale")},
       fmt::format("update conflict on business.users {}: expected version 1, got 3", live),
       "UPDATE",
       live,
       3,
       1,
       false,
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    // Source bundle 3 each time: a create for the same tuple replaces the previous session.
    const std::string push_id = StartPush(client, 3, static_cast<std::int64_t>(c.rows.size()));
    ASSERT_FALSE(push_id.empty());
    UploadOk(client, push_id, 0, c.rows);
    for (int round = 0; round < 2; ++round) {
      const ClientResponse r = client.Commit(push_id);
      ASSERT_TRUE(
          IsJsonError(r, 409, "push_conflict", c.message, MessageMatch::kExact, {"conflict"}));
      Result<JsonValue> body = protocol::ParseJson(r.body);
      ASSERT_TRUE(body.has_value());
      const JsonValue* conflict = body->Find("conflict");
      ASSERT_TRUE(conflict != nullptr && conflict->is_object()) << r.body;
      std::vector<std::string_view> names;
      for (const protocol::JsonMember& m : conflict->as_object()) names.emplace_back(m.key);
      EXPECT_EQ(names, (std::vector<std::string_view>{"schema", "table", "key", "op",
                                                      "base_row_version", "server_row_version",
                                                      "server_row_deleted", "server_row"}));
      Result<protocol::ErrorResponse> decoded = protocol::DecodeErrorResponse(r.body);
      ASSERT_TRUE(decoded.has_value() && decoded->conflict.has_value()) << r.body;
      const protocol::PushConflictDetails& details = *decoded->conflict;
      EXPECT_EQ(details.schema, "business");
      EXPECT_EQ(details.table, "users");
      EXPECT_EQ(details.key, protocol::ParseJson(fmt::format(R"({{"id":"{}"}})", c.key)).value());
      EXPECT_EQ(details.op, c.op);
      EXPECT_EQ(details.base_row_version, c.base);
      EXPECT_EQ(details.server_row_version, c.server_version);
      EXPECT_EQ(details.server_row_deleted, c.server_deleted);
      ASSERT_EQ(details.server_row.has_value(), c.server_row) << r.body;
      if (c.server_row) {
        const JsonValue& row = *details.server_row;
        EXPECT_EQ(row.Find("id")->as_string(), live);
        EXPECT_EQ(row.Find("name")->as_string(), "Server");
        EXPECT_EQ(row.Find("email")->as_string(), "Server@example.com");
        EXPECT_EQ(row.Find("_sync_scope_id"), nullptr);  // hidden column never leaves
      } else {
        EXPECT_NE(r.body.find("\"server_row\":null"), std::string::npos);  // explicit null
      }
    }
    EXPECT_EQ(PulledUserEffects(client), before);
    EXPECT_TRUE(IsJsonError(client.Rows("3/rows"), 404, "committed_bundle_not_found",
                            "committed bundle 3 was not found"));
  }
}

// §3.4 step 7 / §5 `push_session_commit_failed` "Failed to commit push session" (database errors
// at apply: NOT NULL, unknown column, FK violation at commit). §4.4.3: bundle_seq is gap-free, a
// failed commit consumes nothing.
TEST_F(OversyncdHttpErrorsTest, CommitRejectedByTheDatabaseIs500AndConsumesNothing) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::string u1 = Id(1);
  const std::vector<std::string> rows = {
      UserRowWithPayload(u1, fmt::format(R"({{"id":"{}","name":"no email"}})", u1)),
      UserRowWithPayload(u1, fmt::format(R"({{"id":"{}","name":"n","email":"e","nope":1}})", u1)),
      fmt::format(R"({{"schema":"business","table":"posts","key":{{"id":"{0}"}},"op":"INSERT",)"
                  R"("payload":{{"id":"{0}","title":"t","content":"c","author_id":"{1}"}}}})",
                  Id(2), Id(99)),
  };
  for (const std::string& row : rows) {
    SCOPED_TRACE(row);
    const std::string push_id = StartPush(client, 1, 1);
    ASSERT_FALSE(push_id.empty());
    UploadOk(client, push_id, 0, {row});
    EXPECT_TRUE(IsJsonError(client.Commit(push_id), 500, "push_session_commit_failed",
                            "Failed to commit push session"));
    ExpectNoBundles(client);
  }
  EXPECT_EQ(Sql(fmt::format("SELECT count(*) FROM business.users WHERE _sync_scope_id = '{}'",
                            client.user_id())),
            "0");
  EXPECT_EQ(PushOk(client, 1, {UserInsert(u1, "fine")}), 1);
}

// ============================== pull ==============================

// §1.1 (query grammar), §3.7 / §5 `invalid_request`: every pull query message. The query is
// parsed before the scope gate (an unconnected user gets 400, not 409).
TEST_F(OversyncdHttpErrorsTest, PullQueryErrorsAre400InvalidRequest) {
  const SyncClient unconnected = NewClient("b");
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"after_bundle_seq=abc", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=%207", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=7%20", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=1.0", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=0x1", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=1_0", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=9223372036854775808", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=-", "after_bundle_seq must be an integer"},
      {"after_bundle_seq=+0", "after_bundle_seq must be an integer"},  // '+' decodes to a space
      {"after_bundle_seq=-1", "after_bundle_seq must be >= 0"},
      {"after_bundle_seq=-9223372036854775808", "after_bundle_seq must be >= 0"},
      {"max_bundles=x", "max_bundles must be an integer"},
      {"max_bundles=%2B", "max_bundles must be an integer"},
      {"max_bundles=0", "max_bundles must be between 1 and 5000"},
      {"max_bundles=-1", "max_bundles must be between 1 and 5000"},
      {"max_bundles=5001", "max_bundles must be between 1 and 5000"},
      {"target_bundle_seq=x", "target_bundle_seq must be an integer"},
      {"target_bundle_seq=-1", "target_bundle_seq must be >= 0"},
      // Order: after_bundle_seq, then max_bundles, then target_bundle_seq; first occurrence wins.
      {"target_bundle_seq=x&max_bundles=0&after_bundle_seq=-1", "after_bundle_seq must be >= 0"},
      {"target_bundle_seq=-1&max_bundles=x", "max_bundles must be an integer"},
      {"after_bundle_seq=x&after_bundle_seq=1", "after_bundle_seq must be an integer"},
      {"max_bundles=0&max_bundles=1", "max_bundles must be between 1 and 5000"},
  };
  for (const auto& [query, message] : cases) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(IsJsonError(client.Pull(query), 400, "invalid_request", message));
    EXPECT_TRUE(IsJsonError(unconnected.Pull(query), 400, "invalid_request", message));
  }
  // Accepted forms (§1.1): empty value = absent, leading '+' (percent-encoded: a bare '+' in a
  // query is a space), first occurrence wins, bounds.
  for (const std::string_view query :
       {"max_bundles=", "after_bundle_seq=&max_bundles=&target_bundle_seq=",
        "after_bundle_seq=%2B0", "max_bundles=1&max_bundles=x", "max_bundles=5000", "max_bundles=1",
        "unknown=x"}) {
    SCOPED_TRACE(query);
    const ClientResponse r = client.Pull(query);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  ExpectScopeUninitialized(unconnected);
}

// §3.7 step 2, §4.8 / §5 `history_pruned` (pull, committed-bundle rows) "requested checkpoint N
// is older than retained history floor F for user U"; vectors 51, 72, 75; compatibility item 18
// (checkpoint 0 is pruned too once a floor exists) and item 24 (a checkpoint ahead of the head);
// §3.7 step 4 (counted in /syncx/status). The floor is moved with POST /test/retention-floor
// (server.md A.3).
TEST_F(OversyncdHttpErrorsTest, PullAndRowsBelowTheRetainedFloorAre409HistoryPruned) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  ASSERT_EQ(PushOk(client, 1, {UserInsert(Id(1), "one")}), 1);
  ASSERT_EQ(PushOk(client, 2, {UserInsert(Id(2), "two")}), 2);
  ASSERT_EQ(PushOk(client, 3, {UserInsert(Id(3), "three")}), 3);
  const std::string& user = client.user_id();
  EXPECT_TRUE(IsJsonError(
      client.Pull("after_bundle_seq=9"), 409, "history_pruned",
      fmt::format("requested checkpoint 9 is ahead of the retained history head 3 for user {}",
                  user)));

  SetRetentionFloor(client, 2);
  const std::int64_t pruned_errors = HistoryPrunedErrorCount(client);
  const auto older = [&](std::int64_t checkpoint) {
    return fmt::format("requested checkpoint {} is older than retained history floor 2 for user {}",
                       checkpoint, user);
  };
  EXPECT_TRUE(IsJsonError(client.Pull(), 409, "history_pruned", older(0)));
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=0"), 409, "history_pruned", older(0)));
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=1"), 409, "history_pruned", older(1)));
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=2&target_bundle_seq=3"), 409,
                          "history_pruned", older(2)));
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=2&target_bundle_seq=1"), 409,
                          "history_pruned", older(2)));
  // §3.7 step 4 / vector 73: each history_pruned answered by pull is counted.
  EXPECT_EQ(HistoryPrunedErrorCount(client), pruned_errors + 5);
  EXPECT_TRUE(IsJsonError(client.Rows("1/rows"), 409, "history_pruned", older(1)));
  EXPECT_TRUE(IsJsonError(client.Rows("2/rows?after_row_ordinal=0&max_rows=1"), 409,
                          "history_pruned", older(2)));

  // Above the floor everything is still served.
  const ClientResponse pulled = client.Pull("after_bundle_seq=3");
  EXPECT_EQ(pulled.status, 200) << pulled.body;
  EXPECT_EQ(pulled.body, "{\"stable_bundle_seq\":3,\"bundles\":[],\"has_more\":false}\n");
  const ClientResponse rows = client.Rows("3/rows");
  EXPECT_EQ(rows.status, 200) << rows.body;

  // Everything up to the head pruned: even a checkpoint at the head is below it.
  SetRetentionFloor(client, 3);
  EXPECT_TRUE(IsJsonError(client.Pull("after_bundle_seq=3"), 409, "history_pruned",
                          fmt::format("requested checkpoint 3 is older than retained history "
                                      "floor 3 for user {}",
                                      user)));
}

// ============================== committed-bundle rows ==============================

// §1.1 (query grammar), §3.6 steps 1, 2 and 4 / §5 `committed_bundle_chunk_invalid`: every
// message, in the documented order (parse errors before range checks); vectors 4, 35.
TEST_F(OversyncdHttpErrorsTest, CommittedBundleRowsQueryErrorsAre400) {
  const SyncClient client = NewClient();
  ConnectEmpty(client);
  ASSERT_EQ(PushOk(client, 1, {UserInsert(Id(1), "one")}), 1);
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"not-a-number/rows", "bundle_seq must be an integer"},
      {"1.5/rows", "bundle_seq must be an integer"},
      {"%201/rows", "bundle_seq must be an integer"},
      {"9223372036854775808/rows", "bundle_seq must be an integer"},
      {"1/rows?after_row_ordinal=x", "after_row_ordinal must be an integer"},
      {"1/rows?after_row_ordinal=%207", "after_row_ordinal must be an integer"},
      {"1/rows?max_rows=many", "max_rows must be an integer"},
      {"1/rows?max_rows=1e3", "max_rows must be an integer"},
      {"0/rows", "bundle_seq must be > 0"},
      {"-3/rows", "bundle_seq must be > 0"},
      {"1/rows?after_row_ordinal=-1", "after_row_ordinal must be >= 0"},
      {"1/rows?max_rows=0", "max_rows must be > 0"},
      {"1/rows?max_rows=-5", "max_rows must be > 0"},
      // Order: bundle_seq parse, query parse, then bundle_seq / after / max_rows ranges.
      {"abc/rows?after_row_ordinal=x", "bundle_seq must be an integer"},
      {"0/rows?max_rows=x", "max_rows must be an integer"},
      {"0/rows?after_row_ordinal=-1&max_rows=0", "bundle_seq must be > 0"},
      {"1/rows?max_rows=0&after_row_ordinal=-1", "after_row_ordinal must be >= 0"},
  };
  for (const auto& [tail, message] : cases) {
    SCOPED_TRACE(tail);
    EXPECT_TRUE(IsJsonError(client.Rows(tail), 400, "committed_bundle_chunk_invalid", message));
  }
  // Accepted: empty values are absent, a too large max_rows is clamped (§6).
  for (const std::string_view tail :
       {"1/rows?max_rows=", "1/rows?after_row_ordinal=", "1/rows?max_rows=999999", "+1/rows"}) {
    SCOPED_TRACE(tail);
    const ClientResponse r = client.Rows(tail);
    EXPECT_EQ(r.status, 200) << r.body;
  }
}

// §3.6 step 5 / §5 `committed_bundle_not_found` "committed bundle N was not found" (vector 36),
// per user (another user's bundle is not found), and `committed_bundle_rows_failed` "Failed to
// fetch committed bundle rows" for a user the server has never seen.
TEST_F(OversyncdHttpErrorsTest, CommittedBundleNotFoundIs404AndUnknownUserIs500) {
  const SyncClient owner = NewClient("owner");
  const SyncClient other = NewClient("other");
  const SyncClient stranger = NewClient("stranger");
  ConnectEmpty(owner);
  ConnectEmpty(other);
  ASSERT_EQ(PushOk(owner, 1, {UserInsert(Id(1), "one")}), 1);
  EXPECT_TRUE(IsJsonError(owner.Rows("999999/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 999999 was not found"));
  EXPECT_TRUE(IsJsonError(owner.Rows("2/rows?after_row_ordinal=0"), 404,
                          "committed_bundle_not_found", "committed bundle 2 was not found"));
  EXPECT_TRUE(IsJsonError(other.Rows("1/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 1 was not found"));
  EXPECT_TRUE(IsJsonError(stranger.Rows("1/rows"), 500, "committed_bundle_rows_failed",
                          "Failed to fetch committed bundle rows"));
  // A rejected push create does not make the user known (its transaction rolled back)...
  EXPECT_TRUE(
      IsJsonError(stranger.CreatePush(1, 1), 409, "scope_uninitialized",
                  fmt::format("sync scope for user {} is not initialized", stranger.user_id())));
  EXPECT_TRUE(IsJsonError(stranger.Rows("1/rows"), 500, "committed_bundle_rows_failed",
                          "Failed to fetch committed bundle rows"));
  // ...and rows are not gated by the scope state (§4.1 table): an INITIALIZING scope gets 404.
  const SyncClient initializing = NewClient("initializing");
  ASSERT_EQ(initializing.Connect(/*pending_rows=*/true).status, 200);
  EXPECT_TRUE(IsJsonError(initializing.Rows("1/rows"), 404, "committed_bundle_not_found",
                          "committed bundle 1 was not found"));
}

// Rows of §5 in the scope of this file that no client can reach through oversyncd:
// * `authentication_failed` (401 JSON): the example auth rejects tokens without a non-blank
//   `sub` itself ("Invalid token"), and a request that passes it always has a user; a missing
//   source is the 400 above. The handler's actor checks are covered by the unit tests.
// * `connect_invalid`: unreachable over HTTP by definition (§5).
// * `service_unavailable` (503): needs a request in flight while the server drains; not
//   deterministic from outside the process (covered by the runtime tests).
// * `scope_initializing` on push create: "mapped but not produced" (§3.2).
// * `initialization_expired` "initialization lease has expired" (chunk/commit): §3.3 "mapped;
//   practically unreachable" (an expired lease is reset to UNINITIALIZED first → stale).
// * `source_sequence_changed`, `source_retired`: need a second committer for the same source
//   tuple or a snapshot rotation, i.e. server-originated writes or snapshot sessions (out of
//   scope here).
// * `push_commit_invalid` "staged rows are not contiguous at row_ordinal I": chunks are
//   contiguous by construction (out-of-order chunks are refused).
// * `push_commit_invalid` "push session produced no captured business-table effects": needs a
//   trigger that undoes the write; the reference business schema has none.
// * `connect_failed`, `push_session_create_failed`, `push_chunk_failed`,
//   `push_session_delete_failed`, `pull_failed`, `status_failed`, `health_failed` (500): need a
//   database failure mid-request (health/status with the database gone: oversyncd_e2e_test).

}  // namespace
}  // namespace oversync::oversyncd
