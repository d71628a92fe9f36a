// The KMP push behaviour fixtures (tests/fixtures/oversqlite-contracts/push/behavior/apply.json
// and recovery.json, from sqlitenow-kmp 26c5839): 19 cases that drive a client through
// pushPending / local SQL steps against a scripted server and compare the client's durable
// state (outbox, dirty rows, source sequence, checkpoint, rebuild gate), its app tables and what
// the server received.
//
// How they run here (docs/kmp-fixtures.md): the server is the real profile-B reference server
// with the fixture's tables registered in a PostgreSQL schema "main" (the fixtures' schema
// name), and the client is ours on a SQLite file with the fixture's DDL. KMP's fake server is
// replaced by a ScriptedTransport in front of the real one that only injects what a script
// kind needs and the real server would not do on its own (a 500, a 404 committed_bundle_not_found,
// a 409 history_pruned or push_conflict, a wrong hash; an already_committed answer for rows the
// client never uploaded); everything else is the real exchange. KMP's script semantics are those
// of its Dart harness (test/support/behavior_fixture_support.dart, push_behavior_fixture_test.dart).
// The committed_bundle_seq_gap script is a real server-side write in the scope before the push,
// so the client's bundle really is 2.
//
// Expected states map one to one onto our Go-compatible metadata (the KMP harness reads the same
// tables: _sync_outbox_bundle.state, _sync_outbox_rows, _sync_dirty_rows, _sync_source_state,
// _sync_attachment_state, _sync_apply_state). Exceptions map onto our error kinds (ExpectOutcome).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/messages.h"
#include "oversync/server/config.h"
#include "oversync/server/sync_transaction.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

constexpr std::string_view kProfileB = "jcs_uniform_numeric_strings_v1";
constexpr std::string_view kUser = "user-1";

// The fixture schemas of the KMP harness (behavior_fixture_support.dart openBehaviorDatabase),
// locally and on the server (schema "main", scope column first, FKs deferrable because the
// server applies a bundle with deferred constraints).
struct FixtureSchema {
  std::string_view name;
  std::string_view sqlite_ddl;
  std::string_view postgres_ddl;
};

constexpr FixtureSchema kSchemas[] = {
    {"users", "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL);",
     "CREATE TABLE main.users (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
     " PRIMARY KEY (_sync_scope_id, id));"},
    {"users-posts",
     "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL);"
     "CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT NULL REFERENCES users(id),"
     " title TEXT NOT NULL);",
     "CREATE TABLE main.users (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,"
     " PRIMARY KEY (_sync_scope_id, id));"
     "CREATE TABLE main.posts (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL,"
     " user_id TEXT NOT NULL, title TEXT NOT NULL, PRIMARY KEY (_sync_scope_id, id),"
     " FOREIGN KEY (_sync_scope_id, user_id) REFERENCES main.users (_sync_scope_id, id)"
     " DEFERRABLE INITIALLY DEFERRED);"},
    {"immediate-authors-profiles-cycle",
     "CREATE TABLE authors (id TEXT PRIMARY KEY NOT NULL, profile_id TEXT NOT NULL REFERENCES"
     " profiles(id), name TEXT NOT NULL);"
     "CREATE TABLE profiles (id TEXT PRIMARY KEY NOT NULL, author_id TEXT NOT NULL REFERENCES"
     " authors(id), bio TEXT NOT NULL);",
     "CREATE TABLE main.authors (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL,"
     " profile_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (_sync_scope_id, id));"
     "CREATE TABLE main.profiles (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL,"
     " author_id TEXT NOT NULL, bio TEXT NOT NULL, PRIMARY KEY (_sync_scope_id, id),"
     " FOREIGN KEY (_sync_scope_id, author_id) REFERENCES main.authors (_sync_scope_id, id)"
     " DEFERRABLE INITIALLY DEFERRED);"
     "ALTER TABLE main.authors ADD FOREIGN KEY (_sync_scope_id, profile_id) REFERENCES"
     " main.profiles (_sync_scope_id, id) DEFERRABLE INITIALLY DEFERRED;"},
    {"typed-rows",
     "CREATE TABLE typed_rows (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT NULL,"
     " count_value INTEGER NULL, enabled_flag INTEGER NOT NULL, rating REAL NULL, data BLOB NULL,"
     " created_at TEXT NULL);",
     "CREATE TABLE main.typed_rows (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL,"
     " name TEXT NOT NULL, note TEXT NULL, count_value BIGINT NULL, enabled_flag BIGINT NOT NULL,"
     " rating DOUBLE PRECISION NULL, data BYTEA NULL, created_at TIMESTAMPTZ NULL,"
     " PRIMARY KEY (_sync_scope_id, id));"},
};

const FixtureSchema& SchemaNamed(std::string_view name) {
  for (const FixtureSchema& schema : kSchemas) {
    if (schema.name == name) return schema;
  }
  ADD_FAILURE() << "unknown fixture schema " << name;
  return kSchemas[0];
}

JsonValue LoadFixture(const std::string& relative) {
  const std::string path = std::string(OVERSYNC_CONTRACT_FIXTURES_DIR) + "/" + relative;
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.is_open()) << path;
  std::stringstream text;
  text << file.rdbuf();
  Result<JsonValue> parsed = protocol::ParseJson(text.str());
  EXPECT_TRUE(parsed.has_value()) << path;
  return parsed.value_or(JsonValue::Null());
}

std::string Str(const JsonValue* value, std::string fallback = "") {
  return value != nullptr && value->is_string() ? value->as_string() : fallback;
}
std::int64_t Int(const JsonValue* value, std::int64_t fallback = 0) {
  return value != nullptr && value->is_number() ? static_cast<std::int64_t>(value->as_number().value)
                                                : fallback;
}

std::string Json(const JsonValue& value) {
  std::string out;
  protocol::JsonWriter(out).Value(value);
  return out;
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  return fmt::format(R"({{"error":"{}","message":"{}"}})", code, message);
}

// The KMP script of a case, played in front of the real server (see the file comment).
// Thread-safe (the client may call it from its operation thread only, but the lock is cheap).
class ScriptedTransport final : public Transport {
 public:
  ScriptedTransport(std::shared_ptr<Transport> inner, JsonValue script)
      : inner_(std::move(inner)), script_(std::move(script)), kind_(Str(script_.Find("kind"))) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string path = FaultTransport::PathOf(request.url);
    const bool create = request.method == "POST" && path == "/sync/push-sessions";
    const bool chunk = request.method == "POST" && path.ends_with("/chunks");
    const bool commit = request.method == "POST" && path.ends_with("/commit");
    const bool fetch = request.method == "GET" && path.starts_with("/sync/committed-bundles/");
    std::unique_lock lock(mu_);
    if (create) {
      ++creates_;
      uploaded_.clear();
      const JsonValue body = protocol::ParseJson(request.body).value_or(JsonValue::Object());
      request_hash_ = Str(body.Find("canonical_request_hash"));
      source_bundle_id_ = Int(body.Find("source_bundle_id"), 1);
      if (kind_ == "already_committed_rows" || kind_ == "already_committed_request_hash_mismatch") {
        return Answer(200, AlreadyCommittedCreate(request));
      }
    }
    if (chunk) {
      const JsonValue body = protocol::ParseJson(request.body).value_or(JsonValue::Object());
      if (const JsonValue* rows = body.Find("rows"); rows != nullptr && rows->is_array()) {
        for (const JsonValue& row : rows->as_array()) {
          const JsonValue* key = row.Find("key");
          std::string key_text;
          if (key != nullptr && key->is_object() && !key->as_object().empty()) {
            key_text = Str(&key->as_object().front().value);
          }
          uploaded_.push_back(fmt::format("{}:{}:{}", Str(row.Find("table")), Str(row.Find("op")),
                                          key_text));
        }
      }
    }
    if (commit) {
      ++commits_;
      const bool conflict_now =
          !conflict_delivered_ &&
          (kind_ == "conflict_once" ||
           (kind_ == "conflict_once_on_row_count" &&
            static_cast<std::int64_t>(uploaded_.size()) == Int(script_.Find("rowCount"))));
      if (conflict_now) {
        conflict_delivered_ = true;
        return Answer(409, fmt::format(R"({{"error":"push_conflict","message":"fixture conflict","conflict":{}}})",
                                       Json(*script_.Find("conflict"))));
      }
      if (kind_ == "precommit_retry" && commits_ == 1) {
        return Answer(500, ErrorBody("temporary", "retry"));
      }
    }
    if (fetch) {
      ++fetches_;
      if (kind_ == "committed_replay_first_fetch_http_error" && fetches_ == 1) {
        return Answer(500, ErrorBody("temporary", "retry"));
      }
      if (kind_ == "committed_bundle_not_found_then_success" &&
          fetches_ <= Int(script_.Find("notFoundCount"), 1)) {
        return Answer(404, ErrorBody("committed_bundle_not_found", "committed bundle not visible yet"));
      }
      if (kind_ == "committed_replay_pruned" && fetches_ == 1) {
        return Answer(409, ErrorBody("history_pruned", "committed bundle replay pruned"));
      }
      if (kind_ == "already_committed_rows") return Answer(200, AlreadyCommittedRows(request));
    }
    lock.unlock();
    Result<HttpResponse> response = inner_->Send(request);
    if (!response.has_value() || response->status != 200) return response;
    // Rewrites of real answers.
    if (kind_ == "committed_replay_bad_bundle_hash" && (commit || fetch)) {
      Rewrite(*response, "bundle_hash", "bad-hash");
    }
    if (kind_ == "committed_remote_request_hash_mismatch" && fetch) {
      Rewrite(*response, "canonical_request_hash", std::string(64, 'b'));
    }
    return response;
  }

  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    return inner_->Stream(request, on_data, error_body);
  }

  int creates() const {
    std::lock_guard lock(mu_);
    return creates_;
  }
  std::vector<std::string> uploaded() const {
    std::lock_guard lock(mu_);
    return uploaded_;
  }

 private:
  static HttpResponse Answer(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.headers = {{"content-type", "application/json"}};
    response.body = std::move(body);
    return response;
  }

  static void Rewrite(HttpResponse& response, std::string_view member, const std::string& value) {
    Result<JsonValue> body = protocol::ParseJson(response.body);
    if (!body.has_value() || !body->is_object()) return;
    for (protocol::JsonMember& m : body->mutable_object()) {
      if (m.key == member) m.value = JsonValue::String(value);
    }
    response.body = Json(*body);
  }

  static std::string SourceHeader(const HttpRequest& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Oversync-Source-ID") return value;
    }
    return "";
  }

  // The committed rows of an already_committed script (its `committedRows`, or the single row
  // with `committedPayload`).
  JsonValue CommittedRows() const {
    if (const JsonValue* rows = script_.Find("committedRows"); rows != nullptr) return *rows;
    JsonValue row = JsonValue::Object();
    row.Add("schema", JsonValue::String("main"));
    row.Add("table", JsonValue::String("users"));
    JsonValue key = JsonValue::Object();
    key.Add("id", JsonValue::String("user-1"));
    row.Add("key", std::move(key));
    row.Add("op", JsonValue::String("INSERT"));
    row.Add("row_version", JsonValue::Number(1));
    row.Add("payload", *script_.Find("committedPayload"));
    JsonValue rows = JsonValue::Array();
    rows.mutable_array().push_back(std::move(row));
    return rows;
  }

  // The profile-B bundle hash of CommittedRows() at bundle_seq 1.
  std::string CommittedHash() const {
    std::vector<protocol::BundleRow> rows;
    const JsonValue committed = CommittedRows();
    for (const JsonValue& item : committed.as_array()) {
      protocol::BundleRow row;
      row.schema = Str(item.Find("schema"));
      row.table = Str(item.Find("table"));
      row.key = *item.Find("key");
      EXPECT_TRUE(protocol::ParseOp(Str(item.Find("op")), row.op));
      row.row_version = Int(item.Find("row_version"));
      if (const JsonValue* payload = item.Find("payload"); payload != nullptr && !payload->is_null()) {
        row.payload = *payload;
      }
      rows.push_back(std::move(row));
    }
    auto hash = protocol::ComputeBundleHash(protocol::JcsUniformNumericStringsV1Profile(), 1, rows);
    EXPECT_TRUE(hash.has_value());
    return hash.has_value() ? hash->hex : "";
  }

  std::string EchoedRequestHash() const {
    return kind_ == "already_committed_request_hash_mismatch" ? std::string(64, 'b') : request_hash_;
  }

  std::string AlreadyCommittedCreate(const HttpRequest& request) const {
    return fmt::format(
        R"({{"status":"already_committed","bundle_seq":1,"source_id":"{}","source_bundle_id":{},)"
        R"("row_count":{},"bundle_hash":"{}","canonical_request_hash":"{}"}})",
        SourceHeader(request), source_bundle_id_, CommittedRows().as_array().size(),
        CommittedHash(), EchoedRequestHash());
  }

  std::string AlreadyCommittedRows(const HttpRequest& request) const {
    const JsonValue rows = CommittedRows();
    return fmt::format(
        R"({{"bundle_seq":1,"source_id":"{}","source_bundle_id":1,"row_count":{},"bundle_hash":"{}",)"
        R"("canonical_request_hash":"{}","rows":{},"next_row_ordinal":{},"has_more":false}})",
        SourceHeader(request), rows.as_array().size(), CommittedHash(), EchoedRequestHash(),
        Json(rows), static_cast<std::int64_t>(rows.as_array().size()) - 1);
  }

  const std::shared_ptr<Transport> inner_;
  const JsonValue script_;
  const std::string kind_;
  mutable std::mutex mu_;
  int creates_ = 0;                     // guarded by mu_
  int commits_ = 0;                     // guarded by mu_
  std::int64_t fetches_ = 0;            // guarded by mu_
  bool conflict_delivered_ = false;     // guarded by mu_
  std::vector<std::string> uploaded_;   // guarded by mu_: since the last create
  std::string request_hash_;            // guarded by mu_
  std::int64_t source_bundle_id_ = 1;   // guarded by mu_
};

// Cases whose outcome we deliberately differ in (docs/kmp-fixtures.md): the step's expected
// exception and state are replaced by ours, which the test then checks just as strictly.
struct KnownDifference {
  std::string_view case_name;
  int step;  // 1-based
  std::string_view expected_exception;
  std::string_view expected_state;      // JSON object
  std::string_view expected_app_state;  // JSON object, may be empty
};

// committed-replay-pruned-requires-rebuild: KMP stops with the rebuild gate set and the committed
// outbox kept until the app calls rebuild; our client (like go-oversync 1f1118f's, client.md §4.7,
// Go TestPushPending_CommittedRemoteReplayPrunedFallsBackToKeepSourceRebuild) runs that
// keep-source rebuild inside PushPending, ending where KMP ends after the app's rebuild.
constexpr KnownDifference kKnownDifferences[] = {
    {"committed-replay-pruned-requires-rebuild", 1, "none",
     R"({"rebuildRequired":false,"outboxState":"none","outboxRowCount":0,"dirtyRowCount":0,)"
     R"("nextSourceBundleId":2,"lastBundleSeqSeen":1})",
     R"({"users":[{"id":"user-1","name":"Ada"}]})"},
};

const KnownDifference* DifferenceFor(std::string_view case_name, int step) {
  for (const KnownDifference& d : kKnownDifferences) {
    if (d.case_name == case_name && d.step == step) return &d;
  }
  return nullptr;
}

Resolver ResolverNamed(const std::string& name) {
  if (name == "client_wins" || name == "keep_local") return ClientWinsResolver();
  EXPECT_EQ(name, "server_wins");
  return ServerWinsResolver();
}

class KmpPushBehaviorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    client_.reset();
    for (const std::string& path : paths_) {
      std::remove(path.c_str());
      std::remove((path + "-wal").c_str());
      std::remove((path + "-shm").c_str());
    }
  }

  sqlite3* db() const { return client_->db(); }

  // Runs `statements` like the KMP harness's executeSetupSql: one transaction, FKs deferred.
  Status LocalSql(const JsonValue* statements) {
    std::string script = "BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;";
    if (statements != nullptr) {
      for (const JsonValue& sql : statements->as_array()) script += sql.as_string() + ";";
    }
    script += "COMMIT;";
    char* error = nullptr;
    const int rc = sqlite3_exec(db(), script.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    if (rc != SQLITE_OK) {
      sqlite3_exec(db(), "ROLLBACK", nullptr, nullptr, nullptr);
      return {ErrorCode::kInternal, message};
    }
    return {};
  }

  std::string Text(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string out = "<none>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t Number(const std::string& sql) const {
    const std::string text = Text(sql);
    return text == "<none>" || text == "<null>" ? -1 : std::stoll(text);
  }

  // A table's rows as the fixture spells them: JSON objects of the listed columns, ordered by id;
  // BLOBs as lowercase hex, NULL as null, INTEGER/REAL as numbers, TEXT as strings.
  JsonValue AppRows(const std::string& table, const std::vector<std::string>& columns) const {
    std::string select;
    for (const std::string& column : columns) {
      if (!select.empty()) select += ", ";
      select += column;
    }
    JsonValue rows = JsonValue::Array();
    sqlite3_stmt* stmt = nullptr;
    const std::string sql = fmt::format("SELECT {} FROM {} ORDER BY id", select, table);
    EXPECT_EQ(sqlite3_prepare_v2(db(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      JsonValue row = JsonValue::Object();
      for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
        JsonValue value = JsonValue::Null();
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            value = JsonValue::Number(static_cast<double>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            value = JsonValue::Number(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_BLOB: {
            const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, c));
            std::string hex;
            for (int i = 0; i < sqlite3_column_bytes(stmt, c); ++i) {
              hex += fmt::format("{:02x}", bytes[i]);
            }
            value = JsonValue::String(hex);
            break;
          }
          case SQLITE_TEXT:
            // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
            value = JsonValue::String(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c)));
            break;
          default:
            break;
        }
        row.Add(columns[static_cast<std::size_t>(c)], std::move(value));
      }
      rows.mutable_array().push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

  // protocol: the KMP exception classes of push_behavior_fixture_test.dart expectException.
  static void ExpectOutcome(const std::string& expected, const Status& status) {
    const ClientErrorKind kind = ClientErrorKindOf(status);
    if (expected == "none") {
      EXPECT_TRUE(status.ok()) << status.ToString();
    } else if (expected == "http_error") {
      EXPECT_TRUE(kind == ClientErrorKind::kHttp || kind == ClientErrorKind::kRetryExhausted ||
                  status.code() == ErrorCode::kUnavailable)
          << status.ToString();
    } else if (expected == "protocol_error") {
      EXPECT_TRUE(status.code() == ErrorCode::kProtocolViolation ||
                  kind == ClientErrorKind::kInvalidConflictResolution)
          << status.ToString();
    } else if (expected == "source_sequence_mismatch") {
      // KMP's SourceSequenceMismatchException: the server's answer for the frozen source tuple
      // does not match it (an already_committed answer with another request hash).
      EXPECT_TRUE(status.code() == ErrorCode::kProtocolViolation ||
                  kind == ClientErrorKind::kSourceRecoveryRequired)
          << status.ToString();
    } else if (expected == "rebuild_required") {
      EXPECT_EQ(kind, ClientErrorKind::kRebuildRequired) << status.ToString();
    } else {
      ADD_FAILURE() << "unknown expectedException " << expected;
    }
  }

  void ExpectState(const JsonValue& state) {
    if (const JsonValue* v = state.Find("rebuildRequired")) {
      EXPECT_EQ(Number("SELECT rebuild_required FROM _sync_attachment_state"), v->as_bool() ? 1 : 0)
          << "rebuildRequired";
    }
    if (const JsonValue* v = state.Find("outboxState")) {
      EXPECT_EQ(Text("SELECT state FROM _sync_outbox_bundle"), v->as_string()) << "outboxState";
    }
    if (const JsonValue* v = state.Find("outboxRowCount")) {
      EXPECT_EQ(Number("SELECT count(*) FROM _sync_outbox_rows"), Int(v)) << "outboxRowCount";
    }
    if (const JsonValue* v = state.Find("dirtyRowCount")) {
      EXPECT_EQ(Number("SELECT count(*) FROM _sync_dirty_rows"), Int(v)) << "dirtyRowCount";
    }
    if (const JsonValue* v = state.Find("nextSourceBundleId")) {
      EXPECT_EQ(Number("SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = "
                       "(SELECT current_source_id FROM _sync_attachment_state)"),
                Int(v))
          << "nextSourceBundleId";
    }
    if (const JsonValue* v = state.Find("lastBundleSeqSeen")) {
      EXPECT_EQ(Number("SELECT last_bundle_seq_seen FROM _sync_attachment_state"), Int(v))
          << "lastBundleSeqSeen";
    }
    if (const JsonValue* v = state.Find("applyMode")) {
      EXPECT_EQ(Number("SELECT apply_mode FROM _sync_apply_state"), Int(v)) << "applyMode";
    }
  }

  void ExpectAppState(const JsonValue& app) {
    static const std::map<std::string, std::pair<std::string, std::vector<std::string>>> kTables = {
        {"users", {"users", {"id", "name"}}},
        {"posts", {"posts", {"id", "user_id", "title"}}},
        {"authors", {"authors", {"id", "profile_id", "name"}}},
        {"profiles", {"profiles", {"id", "author_id", "bio"}}},
        {"typedRows",
         {"typed_rows",
          {"id", "name", "note", "count_value", "enabled_flag", "rating", "data", "created_at"}}},
    };
    for (const protocol::JsonMember& member : app.as_object()) {
      auto it = kTables.find(member.key);
      ASSERT_NE(it, kTables.end()) << "unknown app table " << member.key;
      // Compare through one rendering: the fixture's numbers are exact in binary64.
      EXPECT_EQ(Json(AppRows(it->second.first, it->second.second)), Json(member.value))
          << "app table " << member.key;
    }
  }

  void RunCase(const JsonValue& fixture_case) {
    const std::string schema_name = Str(fixture_case.Find("schema"), "users");
    const FixtureSchema& schema = SchemaNamed(schema_name);
    std::vector<SyncTable> tables;
    if (const JsonValue* sync_tables = fixture_case.Find("syncTables"); sync_tables != nullptr) {
      for (const JsonValue& t : sync_tables->as_array()) {
        tables.push_back({Str(t.Find("tableName")), Str(t.Find("syncKeyColumnName")), {}});
      }
    } else {
      tables.push_back({"users", "id", {}});
    }

    TestServerOptions options;
    options.wire_profile = std::string(kProfileB);
    options.extra_business_ddl = "CREATE SCHEMA main; " + std::string(schema.postgres_ddl);
    options.configure = [tables](ServiceConfig& config) {
      config.registered_tables.clear();
      for (const SyncTable& t : tables) {
        config.registered_tables.push_back({"main", t.table_name, {t.sync_key_column_name}});
      }
    };
    Result<std::unique_ptr<TestServer>> server = TestServer::Start(options);
    if (!server.has_value()) {
      if (server.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << server.error().ToString();
      }
      FAIL() << server.error().ToString();
    }
    server_ = std::move(*server);

    const std::string path = fmt::format("{}/kmp_push_{}_{}.db", ::testing::TempDir(), ::getpid(),
                                         paths_.size());
    paths_.push_back(path);
    std::remove(path.c_str());
    {
      sqlite3* raw = nullptr;
      ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
      std::unique_ptr<sqlite3, decltype(&sqlite3_close)> local(raw, &sqlite3_close);
      ASSERT_EQ(sqlite3_exec(local.get(), std::string(schema.sqlite_ddl).c_str(), nullptr, nullptr,
                             nullptr),
                SQLITE_OK);
    }
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    const JsonValue* script = fixture_case.Find("serverScript");
    transport_ = std::make_shared<ScriptedTransport>(*curl, script != nullptr ? *script
                                                                              : JsonValue::Object());
    Config config = DefaultConfig("main", tables);
    config.wire_profile = std::string(kProfileB);
    RetryPolicy retry;  // KMP's harness: one attempt (OversqliteTransientRetryPolicy(1))
    retry.max_attempts = 1;
    config.retry_policy = retry;
    ClientDeps deps;
    deps.transport = transport_;
    Result<std::unique_ptr<Client>> client = Client::CreateForPath(
        path, server_->base_url(), server_->TokenProviderFor(std::string(kUser)), config, deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    client_ = std::move(*client);
    client_->SetResolver(ResolverNamed(Str(fixture_case.Find("resolver"), "server_wins")));
    ASSERT_TRUE(client_->Open().ok());
    Result<AttachResult> attached = client_->Attach(std::string(kUser));
    ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
    ASSERT_TRUE(LocalSql(fixture_case.Find("localSetupSql")).ok());

    if (Str(script != nullptr ? script->Find("kind") : nullptr) == "committed_bundle_seq_gap") {
      // Another writer commits first, so the client's bundle gets the next sequence.
      const std::int64_t gap = Int(script->Find("bundleSeq"), 2);
      for (std::int64_t i = 1; i < gap; ++i) {
        Result<ScopeWriteResult> written = server_->service().ExecWrite(
            kUser, "fixture-writer", [&](SyncTransaction& tx) -> Status {
              Result<SqlRows> rows = tx.Exec(fmt::format(
                  "INSERT INTO main.users (_sync_scope_id, id, name) VALUES ('{}', 'server-{}', 'S')",
                  kUser, i));
              return rows.has_value() ? Status() : rows.error();
            });
        ASSERT_TRUE(written.has_value()) << written.error().ToString();
      }
    }

    int step_number = 0;
    for (const JsonValue& fixture_step : fixture_case.Find("steps")->as_array()) {
      SCOPED_TRACE(fmt::format("step {} ({})", ++step_number, Str(fixture_step.Find("action"))));
      JsonValue step = fixture_step;
      if (const KnownDifference* difference =
              DifferenceFor(Str(fixture_case.Find("name")), step_number)) {
        for (protocol::JsonMember& member : step.mutable_object()) {
          if (member.key == "expectedException") {
            member.value = JsonValue::String(std::string(difference->expected_exception));
          } else if (member.key == "expectedState") {
            member.value = protocol::ParseJson(difference->expected_state).value();
          }
        }
        if (!difference->expected_app_state.empty()) {
          step.Add("expectedAppState", protocol::ParseJson(difference->expected_app_state).value());
        }
      }
      const std::string action = Str(step.Find("action"));
      Status outcome;
      if (action == "pushPending") {
        Result<PushReport> pushed = client_->PushPending();
        if (!pushed.has_value()) outcome = pushed.error();
      } else if (action == "localSql") {
        outcome = LocalSql(step.Find("sql"));
      } else {
        FAIL() << "unsupported action " << action;
      }
      ExpectOutcome(Str(step.Find("expectedException"), "none"), outcome);
      if (const JsonValue* state = step.Find("expectedState")) ExpectState(*state);
      if (const JsonValue* app = step.Find("expectedAppState")) ExpectAppState(*app);
      if (const JsonValue* server_state = step.Find("expectedServerState")) {
        if (const JsonValue* rows = server_state->Find("uploadedRows")) {
          std::vector<std::string> expected;
          for (const JsonValue& row : rows->as_array()) expected.push_back(row.as_string());
          EXPECT_EQ(transport_->uploaded(), expected) << "uploadedRows";
        }
        if (const JsonValue* count = server_state->Find("createRequestCount")) {
          EXPECT_EQ(transport_->creates(), Int(count)) << "createRequestCount";
        }
      }
    }
  }

  void RunFile(const std::string& relative, const std::string& only = "") {
    const JsonValue fixture = LoadFixture(relative);
    for (const JsonValue& fixture_case : fixture.Find("cases")->as_array()) {
      const std::string name = Str(fixture_case.Find("name"));
      if (!only.empty() && name != only) continue;
      SCOPED_TRACE(name);
      RunCase(fixture_case);
      client_.reset();
      server_.reset();
      if (HasFatalFailure() || IsSkipped()) return;
    }
  }

  std::unique_ptr<TestServer> server_;
  std::shared_ptr<ScriptedTransport> transport_;
  std::unique_ptr<Client> client_;
  std::vector<std::string> paths_;
};

TEST_F(KmpPushBehaviorTest, ApplyFixtures) { RunFile("push/behavior/apply.json"); }

TEST_F(KmpPushBehaviorTest, RecoveryFixtures) { RunFile("push/behavior/recovery.json"); }

}  // namespace
}  // namespace oversync::oversqlite::testing
