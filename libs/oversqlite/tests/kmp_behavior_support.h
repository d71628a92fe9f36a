// File: libs/oversqlite/tests/kmp_behavior_support.h
//
// Shared pieces of the KMP behaviour-fixture tests (tests/fixtures/oversqlite-contracts/*/behavior,
// sqlitenow-kmp 26c5839; docs/kmp-fixtures.md): the fixture schemas locally and on the server,
// fixture loading, a per-case reference server and client, and the KMP harnesses' state,
// app-table and exception checks mapped onto our metadata (KMP reads the same Go-compatible
// _sync_* tables).
//
// Thread-safety: single-threaded, like a gtest fixture.
#ifndef OVERSYNC_OVERSQLITE_TESTS_KMP_BEHAVIOR_SUPPORT_H_
#define OVERSYNC_OVERSQLITE_TESTS_KMP_BEHAVIOR_SUPPORT_H_

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/protocol/jcs.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/server/config.h"
#include "oversync/server/sync_transaction.h"
#include "client_fixture.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {

inline constexpr std::string_view kKmpProfileB = "jcs_uniform_numeric_strings_v1";
inline constexpr std::string_view kKmpUser = "user-1";

using KmpJson = protocol::JsonValue;

// The fixture schemas of the KMP harness (behavior_fixture_support.dart openBehaviorDatabase),
// locally and on the server (schema "main", scope column first, FKs deferrable because the
// server applies a bundle with deferred constraints).
struct FixtureSchema {
  std::string_view name;
  std::string_view sqlite_ddl;
  std::string_view postgres_ddl;
};

inline constexpr FixtureSchema kSchemas[] = {
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

inline const FixtureSchema& SchemaNamed(std::string_view name) {
  for (const FixtureSchema& schema : kSchemas) {
    if (schema.name == name) return schema;
  }
  ADD_FAILURE() << "unknown fixture schema " << name;
  return kSchemas[0];
}

inline KmpJson LoadFixture(const std::string& relative) {
  const std::string path = std::string(OVERSYNC_CONTRACT_FIXTURES_DIR) + "/" + relative;
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.is_open()) << path;
  std::stringstream text;
  text << file.rdbuf();
  Result<KmpJson> parsed = protocol::ParseJson(text.str());
  EXPECT_TRUE(parsed.has_value()) << path;
  return parsed.value_or(KmpJson::Null());
}

inline std::string Str(const KmpJson* value, std::string fallback = "") {
  return value != nullptr && value->is_string() ? value->as_string() : fallback;
}
inline std::int64_t Int(const KmpJson* value, std::int64_t fallback = 0) {
  return value != nullptr && value->is_number() ? static_cast<std::int64_t>(value->as_number().value)
                                                : fallback;
}

inline std::string Json(const KmpJson& value) {
  std::string out;
  protocol::JsonWriter(out).Value(value);
  return out;
}

inline std::string ErrorBody(std::string_view code, std::string_view message) {
  return fmt::format(R"({{"error":"{}","message":"{}"}})", code, message);
}

// A case step whose outcome we deliberately differ in (docs/kmp-fixtures.md): its expected
// exception and state are replaced by ours, which the test then checks just as strictly.
struct KnownDifference {
  std::string_view case_name;
  int step;  // 1-based
  std::string_view expected_exception;
  std::string_view expected_state;      // JSON object
  std::string_view expected_app_state;  // JSON object, may be empty
  // Replaces every expected*ErrorContains / expectedCheckpointRecoveryBlocked; may be empty.
  std::string_view expected_error_contains = {};
};

// `step` with `difference` applied (see KnownDifference).
inline protocol::JsonValue WithDifference(const protocol::JsonValue& step,
                                          const KnownDifference& difference) {
  protocol::JsonValue out = protocol::JsonValue::Object();
  for (const protocol::JsonMember& member : step.as_object()) {
    if (member.key == "expectedException") {
      out.Add(member.key, protocol::JsonValue::String(std::string(difference.expected_exception)));
    } else if (member.key == "expectedState") {
      out.Add(member.key, protocol::ParseJson(difference.expected_state).value());
    } else if (member.key == "expectedAppState" && !difference.expected_app_state.empty()) {
      continue;
    } else if (member.key.ends_with("ErrorContains") ||
               member.key == "expectedCheckpointRecoveryBlocked") {
      continue;
    } else {
      out.Add(member.key, member.value);
    }
  }
  if (!difference.expected_app_state.empty()) {
    out.Add("expectedAppState", protocol::ParseJson(difference.expected_app_state).value());
  }
  if (!difference.expected_error_contains.empty()) {
    out.Add("expectedErrorContains",
            protocol::JsonValue::String(std::string(difference.expected_error_contains)));
  }
  return out;
}

inline const KnownDifference* DifferenceFor(std::span<const KnownDifference> differences,
                                            std::string_view case_name, int step) {
  for (const KnownDifference& d : differences) {
    if (d.case_name == case_name && d.step == step) return &d;
  }
  return nullptr;
}


// The base of the transports that play a KMP server script in front of the real server: what
// the script does not answer goes to `inner`. Thread-safe as far as the derived Send is.
class KmpScriptTransport : public Transport {
 public:
  KmpScriptTransport(std::shared_ptr<Transport> inner, protocol::JsonValue script)
      : inner_(std::move(inner)), script_(std::move(script)), kind_(Str(script_.Find("kind"))) {}

  Result<int> Stream(const HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override {
    return inner_->Stream(request, on_data, error_body);
  }

 protected:
  static HttpResponse Answer(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.headers = {{"content-type", "application/json"}};
    response.body = std::move(body);
    return response;
  }

  const std::shared_ptr<Transport> inner_;
  const protocol::JsonValue script_;
  const std::string kind_;
};

// JCS text of `value` (key order independent comparisons).
inline std::string Canonical(const protocol::JsonValue& value) {
  Result<std::string> canonical = protocol::CanonicalizeJcs(Json(value));
  EXPECT_TRUE(canonical.has_value());
  return canonical.value_or("<invalid>");
}

// KMP's dump: the runtime tables in its order, with its row order.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kDumpTables = {{
    {"_sync_apply_state", "singleton_key"},
    {"_sync_attachment_state", "singleton_key"},
    {"_sync_source_state", "source_id"},
    {"_sync_operation_state", "singleton_key"},
    {"_sync_outbox_bundle", "singleton_key"},
    {"_sync_outbox_rows", "source_bundle_id, row_ordinal"},
    {"_sync_dirty_rows", "dirty_ordinal, table_name, key_json"},
    {"_sync_row_state", "schema_name, table_name, key_json"},
    {"_sync_snapshot_stage", "snapshot_id, row_ordinal"},
    {"_sync_managed_tables", "schema_name, table_name"},
}};

// Columns of KMP's layout that ours does not have (docs/kmp-fixtures.md).
inline bool KmpOnlyColumn(std::string_view column) {
  return column == "snapshot_byte_count" || column == "snapshot_stage_complete" ||
         column == "canonical_json_contract";
}

inline bool SourceIdColumn(std::string_view column) {
  return column == "source_id" || column == "current_source_id" ||
         column == "replaced_by_source_id" || column == "replacement_source_id";
}

// The KMP harnesses' resolver names.
inline Resolver ResolverNamed(const std::string& name) {
  if (name == "client_wins" || name == "keep_local") return ClientWinsResolver();
  EXPECT_EQ(name, "server_wins");
  return ServerWinsResolver();
}

class KmpBehaviorTest : public ::testing::Test {
 protected:
  using JsonValue = protocol::JsonValue;

  void TearDown() override {
    device_.client.reset();
    for (const std::string& path : paths_) {
      std::remove(path.c_str());
      std::remove((path + "-wal").c_str());
      std::remove((path + "-shm").c_str());
    }
  }

  sqlite3* db() const { return device_.db(); }

  // Runs `statements` like the KMP harness's executeSetupSql: one transaction, FKs deferred;
  // with `apply_mode` like its executeApplyModeSql (apply_mode = 1 while they run, so the
  // triggers do not capture, and 0 again before the commit).
  Status LocalSql(const JsonValue* statements, bool apply_mode = false) {
    std::string script = "BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;";
    if (apply_mode) script += "UPDATE _sync_apply_state SET apply_mode = 1 WHERE singleton_key = 1;";
    if (statements != nullptr) {
      for (const JsonValue& sql : statements->as_array()) script += sql.as_string() + ";";
    }
    if (apply_mode) script += "UPDATE _sync_apply_state SET apply_mode = 0 WHERE singleton_key = 1;";
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

  std::string Text(const std::string& sql) const { return device_.Text(sql); }
  std::int64_t Number(const std::string& sql) const { return device_.Int(sql); }

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

  // The KMP exception classes of the harnesses' expectException; `any_error` is any failure.
  static void ExpectOutcome(const std::string& expected, const Status& status) {
    const ClientErrorKind kind = ClientErrorKindOf(status);
    if (expected == "none") {
      EXPECT_TRUE(status.ok()) << status.ToString();
    } else if (expected == "any_error") {
      EXPECT_FALSE(status.ok());
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
      const std::int64_t expected = v->is_bool() ? (v->as_bool() ? 1 : 0) : Int(v);
      EXPECT_EQ(Number("SELECT rebuild_required FROM _sync_attachment_state"), expected)
          << "rebuildRequired";
    }
    if (const JsonValue* v = state.Find("snapshotStageCount")) {
      EXPECT_EQ(Number("SELECT count(*) FROM _sync_snapshot_stage"), Int(v)) << "snapshotStageCount";
    }
    if (const JsonValue* v = state.Find("rowStateCount")) {
      EXPECT_EQ(Number("SELECT count(*) FROM _sync_row_state"), Int(v)) << "rowStateCount";
    }
    const std::string current_source = Text("SELECT current_source_id FROM _sync_attachment_state");
    if (const JsonValue* v = state.Find("currentSourceChangedFromStepStart")) {
      EXPECT_EQ(current_source != source_before_step_, v->as_bool())
          << "currentSourceChangedFromStepStart";
    }
    if (const JsonValue* v = state.Find("oldSourceReplacedByCurrent")) {
      const std::string replaced_by =
          Text(fmt::format("SELECT replaced_by_source_id FROM _sync_source_state WHERE source_id = "
                           "'{}'", source_before_step_));
      EXPECT_EQ(replaced_by == current_source && current_source != source_before_step_,
                v->as_bool())
          << "oldSourceReplacedByCurrent";
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

  // Starts, for `fixture_case`, the reference server with the case's tables registered in
  // PostgreSQL schema "main" and a client on a new SQLite file with the fixture DDL behind
  // `wrap(curl transport)`, then opens and attaches user-1 (KMP: open(); attach("user-1")).
  void StartCase(const JsonValue& fixture_case,
                 const std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport>)>& wrap) {
    StartServerFor(fixture_case);
    if (HasFatalFailure() || IsSkipped()) return;
    const std::string path = NewDatabaseFor(fixture_case);
    if (HasFatalFailure()) return;
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    Result<std::unique_ptr<Client>> client = NewClient(path, wrap(*curl));
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device_.client = std::move(*client);
    ASSERT_TRUE(device_.client->Open().ok());
    Result<AttachResult> attached = device_.client->Attach(std::string(kKmpUser));
    ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  }

  // The reference server (profile B) with the case's tables (`syncTables`, default users.id)
  // registered in PostgreSQL schema "main"; sets server_ and tables_.
  void StartServerFor(const JsonValue& fixture_case) {
    const FixtureSchema& schema = SchemaNamed(Str(fixture_case.Find("schema"), "users"));
    tables_.clear();
    if (const JsonValue* sync_tables = fixture_case.Find("syncTables"); sync_tables != nullptr) {
      for (const JsonValue& t : sync_tables->as_array()) {
        tables_.push_back({Str(t.Find("tableName")), Str(t.Find("syncKeyColumnName")), {}});
      }
    } else {
      tables_.push_back({"users", "id", {}});
    }
    TestServerOptions options;
    options.wire_profile = std::string(kKmpProfileB);
    options.extra_business_ddl = "CREATE SCHEMA main; " + std::string(schema.postgres_ddl);
    options.configure = [tables = tables_](ServiceConfig& config) {
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
  }

  // The common start of a case whose steps open the client themselves: the server, a new
  // database file (path_) and the curl transport to put a script in front of; the case's
  // `serverScript` object (empty when absent or null) goes to *script.
  Result<std::shared_ptr<Transport>> PrepareCase(const JsonValue& fixture_case, JsonValue* script) {
    StartServerFor(fixture_case);
    if (HasFatalFailure() || IsSkipped()) return Error(ErrorCode::kUnavailable, "no server");
    path_ = NewDatabaseFor(fixture_case);
    const JsonValue* found = fixture_case.Find("serverScript");
    *script = found != nullptr && found->is_object() ? *found : JsonValue::Object();
    return MakeCurlTransport();
  }

  // A new SQLite file with the case schema's DDL (removed at TearDown); returns its path.
  std::string NewDatabaseFor(const JsonValue& fixture_case) {
    const FixtureSchema& schema = SchemaNamed(Str(fixture_case.Find("schema"), "users"));
    const std::string path = fmt::format("{}/kmp_behavior_{}_{}.db", ::testing::TempDir(),
                                         ::getpid(), paths_.size());
    paths_.push_back(path);
    std::remove(path.c_str());
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> local(raw, &sqlite3_close);
    EXPECT_EQ(sqlite3_exec(local.get(), std::string(schema.sqlite_ddl).c_str(), nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    return path;
  }

  // A client (not opened) on `path` for the case's tables in schema "main", profile B, one
  // attempt per request like KMP's harness (OversqliteTransientRetryPolicy(1));
  // `tweak` may adjust the configuration further.
  Result<std::unique_ptr<Client>> NewClient(const std::string& path,
                                            std::shared_ptr<Transport> transport,
                                            const std::function<void(Config&)>& tweak = nullptr) {
    Config config = DefaultConfig("main", tables_);
    config.wire_profile = std::string(kKmpProfileB);
    RetryPolicy retry;
    retry.max_attempts = 1;
    config.retry_policy = retry;
    if (tweak) tweak(config);
    ClientDeps deps;
    deps.transport = std::move(transport);
    return Client::CreateForPath(path, server_->base_url() + client_base_path_,
                                 server_->TokenProviderFor(std::string(kKmpUser)), config, deps);
  }

  // The runtime-state dump of KMP's harnesses (runtime_state_fixture_support.dart
  // dumpRuntimeState) over our _sync_* tables: its table and row order, timestamps and hashes
  // masked, source ids numbered <source-N> by first appearance.
  JsonValue DumpRuntimeState() const {
    std::map<std::string, std::string> source_ids;
    const auto normalize = [&](const std::string& id) {
      auto [it, inserted] = source_ids.try_emplace(id, "");
      if (inserted) it->second = fmt::format("<source-{}>", source_ids.size());
      return it->second;
    };
    JsonValue state = JsonValue::Object();
    for (const auto& [table, order_by] : kDumpTables) {
      JsonValue rows = JsonValue::Array();
      const std::string sql = fmt::format("SELECT * FROM {} ORDER BY {}", table, order_by);
      sqlite3_stmt* raw = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(db(), sql.c_str(), -1, &raw, nullptr), SQLITE_OK) << sql;
      std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
      while (stmt != nullptr && sqlite3_step(stmt.get()) == SQLITE_ROW) {
        JsonValue row = JsonValue::Object();
        for (int c = 0; c < sqlite3_column_count(stmt.get()); ++c) {
          const std::string column = sqlite3_column_name(stmt.get(), c);
          const char* declared = sqlite3_column_decltype(stmt.get(), c);
          std::string type = declared != nullptr ? declared : "";
          std::transform(type.begin(), type.end(), type.begin(), ::toupper);
          JsonValue value = JsonValue::Null();
          if (sqlite3_column_type(stmt.get(), c) != SQLITE_NULL) {
            // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
            const std::string text = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), c));
            if (column == "created_at" || column == "updated_at") {
              value = JsonValue::String("<timestamp>");
            } else if (column == "canonical_request_hash" || column == "remote_bundle_hash") {
              value = JsonValue::String(text.empty() ? "" : "<hash>");
            } else if (SourceIdColumn(column)) {
              value = JsonValue::String(text.empty() ? "" : normalize(text));
            } else if (type.find("INT") != std::string::npos) {
              value = JsonValue::Integer(sqlite3_column_int64(stmt.get(), c));
            } else {
              value = JsonValue::String(text);
            }
          }
          row.Add(column, std::move(value));
        }
        rows.mutable_array().push_back(std::move(row));
      }
      state.Add(std::string(table.substr(std::string_view("_sync_").size())), std::move(rows));
    }
    return state;
  }

  // Compares every table of `expected_dump` ({"formatVersion":1,"state":{...}}) with the dump,
  // leaving out the columns only KMP's layout has.
  void ExpectRuntimeState(const JsonValue& expected_dump) {
    const JsonValue actual = DumpRuntimeState();
    const JsonValue& expected = *expected_dump.Find("state");
    for (const protocol::JsonMember& table : expected.as_object()) {
      JsonValue want = JsonValue::Array();
      for (const JsonValue& row : table.value.as_array()) {
        JsonValue shared = JsonValue::Object();
        for (const protocol::JsonMember& column : row.as_object()) {
          if (!KmpOnlyColumn(column.key)) shared.Add(column.key, column.value);
        }
        want.mutable_array().push_back(std::move(shared));
      }
      const JsonValue* got = actual.Find(table.key);
      ASSERT_NE(got, nullptr) << "table " << table.key;
      EXPECT_EQ(Canonical(*got), Canonical(want)) << "table " << table.key;
    }
  }

  // One server-originated bundle by source `writer` in user-1's scope through the real write
  // path (the Dart fake servers' addRemoteBundle): `bundle.rows` are INSERTs of main.users rows
  // ({"op":"INSERT","payload":{"id","name"}}).
  void WriteUsersBundle(std::string_view writer, const JsonValue& bundle) {
    Result<ScopeWriteResult> written = server_->service().ExecWrite(
        std::string(kKmpUser), writer, [&](SyncTransaction& tx) -> Status {
          for (const JsonValue& row : bundle.Find("rows")->as_array()) {
            if (Str(row.Find("op")) != "INSERT") {
              return Status(ErrorCode::kInvalidArgument, "only INSERT rows are scripted");
            }
            const JsonValue& payload = *row.Find("payload");
            Result<SqlRows> inserted = tx.Exec(fmt::format(
                "INSERT INTO main.users (_sync_scope_id, id, name) VALUES ('{}', '{}', '{}')",
                kKmpUser, Str(payload.Find("id")), Str(payload.Find("name"))));
            if (!inserted.has_value()) return inserted.error();
          }
          return Status::Ok();
        });
    ASSERT_TRUE(written.has_value()) << written.error().ToString();
  }

  // Runs every case of a fixture file (RunCase), each with its own server and client.
  void RunFile(const std::string& relative) {
    const JsonValue fixture = LoadFixture(relative);
    for (const JsonValue& fixture_case : fixture.Find("cases")->as_array()) {
      SCOPED_TRACE(Str(fixture_case.Find("name")));
      RunCase(fixture_case);
      device_.client.reset();
      server_.reset();
      if (HasFatalFailure() || IsSkipped()) return;
    }
  }
  virtual void RunCase(const JsonValue& fixture_case) = 0;

  // A step with the recorded difference for it (if any) applied.
  static JsonValue EffectiveStep(std::span<const KnownDifference> differences,
                                 const JsonValue& fixture_case, int step_number,
                                 const JsonValue& fixture_step) {
    const KnownDifference* difference =
        DifferenceFor(differences, Str(fixture_case.Find("name")), step_number);
    return difference != nullptr ? WithDifference(fixture_step, *difference) : fixture_step;
  }

  std::unique_ptr<TestServer> server_;
  std::vector<SyncTable> tables_;  // the case's synced tables
  std::string client_base_path_;   // appended to the server's URL for NewClient (e.g. "/api/v1/")
  std::string path_;               // the case's database file (PrepareCase)
  Device device_;  // the case's database and client
  std::vector<std::string> paths_;
  std::string source_before_step_;  // current_source_id when the step's action started
};

}  // namespace oversync::oversqlite::testing

#endif  // OVERSYNC_OVERSQLITE_TESTS_KMP_BEHAVIOR_SUPPORT_H_
