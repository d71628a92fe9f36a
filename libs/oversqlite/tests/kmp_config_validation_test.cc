// The KMP local configuration fixture (tests/fixtures/oversqlite-contracts/local-schema/
// config-validation.json, sqlitenow-kmp 26c5839; docs/kmp-fixtures.md): 15 cases of what a
// client accepts as a synced table and what it refuses before it installs anything — nullable
// TEXT/BLOB keys (SQLite lets a non-INTEGER PRIMARY KEY hold NULL), composite keys and foreign
// keys, INTEGER/BIGINT keys, an omitted or missing key column, the server's hidden scope
// column, FK-open registrations, schema-qualified names — plus an application table named
// `_sync_*` kept and apply mode suppressing capture before any attach.
//
// Each case runs like the Dart harness (local_config_fixture_test.dart): a new SQLite file with
// the case's schema, a profile-B client created and opened on it (no network: the base URL is
// never contacted), the error's message checked for every `messageContains` fragment, then the
// case's queries. `initializeBeforeValidation` opens a client first, runs `beforeValidationSql`
// (a schema drift) on another connection and validates with a second client.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/protocol/json_value.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

// Runs `statements` on a connection of its own.
void ExecAll(const std::string& path, const JsonValue* statements) {
  if (statements == nullptr) return;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  for (const JsonValue& sql : statements->as_array()) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db.get(), sql.as_string().c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << sql.as_string() << ": " << message;
  }
}

// The first column of the first row, rendered like the fixture's values (integers as numbers).
JsonValue QueryValue(const std::string& path, const std::string& sql) {
  sqlite3* raw = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_stmt* stmt_raw = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &stmt_raw, nullptr), SQLITE_OK) << sql;
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(stmt_raw, &sqlite3_finalize);
  if (stmt == nullptr || sqlite3_step(stmt.get()) != SQLITE_ROW) return JsonValue::Null();
  if (sqlite3_column_type(stmt.get(), 0) == SQLITE_INTEGER) {
    return JsonValue::Integer(sqlite3_column_int64(stmt.get(), 0));
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
  return text != nullptr ? JsonValue::String(text) : JsonValue::Null();
}

// Cases refused by the same rule with go-oversync's wording instead of KMP's
// (docs/kmp-fixtures.md): the fragments our message contains instead.
struct OurMessage {
  std::string_view case_name;
  std::vector<std::string> fragments;
};
const OurMessage* OurWording(std::string_view case_name) {
  static const std::vector<OurMessage> kOurs = {
      {"composite-foreign-key-rejected",
       {"unsupported composite foreign keys", "child_pairs.parent_b -> parent_pairs"}},
      {"integer-primary-key-rejected", {"users.id", "INTEGER", "only TEXT keys and UUID-backed BLOB keys"}},
      {"bigint-primary-key-rejected", {"users.id", "BIGINT", "only TEXT keys and UUID-backed BLOB keys"}},
      {"omitted-sync-key-rejected", {"users", "SyncKeyColumnName or SyncKeyColumns explicitly"}},
      {"missing-sync-key-column-rejected", {"sync key column missing_id not found in table users"}},
  };
  for (const OurMessage& ours : kOurs) {
    if (ours.case_name == case_name) return &ours;
  }
  return nullptr;
}

Config ConfigFor(const JsonValue& fixture_config) {
  Config config;
  config.schema = Str(fixture_config.Find("schema"));
  for (const JsonValue& table : fixture_config.Find("syncTables")->as_array()) {
    SyncTable sync_table;
    sync_table.table_name = Str(table.Find("tableName"));
    sync_table.sync_key_column_name = Str(table.Find("syncKeyColumnName"));
    if (const JsonValue* columns = table.Find("syncKeyColumns")) {
      for (const JsonValue& column : columns->as_array()) {
        sync_table.sync_key_columns.push_back(column.as_string());
      }
    }
    config.tables.push_back(std::move(sync_table));
  }
  config.wire_profile = std::string(kKmpProfileB);
  return config;
}

// Creates and opens a client on `path`; the error, if any.
Status CreateAndOpen(const std::string& path, const Config& config,
                     std::unique_ptr<Client>* keep = nullptr) {
  Result<std::unique_ptr<Client>> client = Client::CreateForPath(
      path, "http://127.0.0.1:9/", [] { return Result<std::string>(std::string("unused")); },
      config, {});
  if (!client.has_value()) return client.error();
  OVERSYNC_RETURN_IF_ERROR((*client)->Open());
  if (keep != nullptr) *keep = std::move(*client);
  return Status::Ok();
}

TEST(KmpConfigValidationTest, LocalSchemaRules) {
  const JsonValue fixture = LoadFixture("local-schema/config-validation.json");
  int cases = 0;
  for (const JsonValue& fixture_case : fixture.Find("cases")->as_array()) {
    const std::string name = Str(fixture_case.Find("name"));
    SCOPED_TRACE(name);
    ++cases;
    const std::string path =
        fmt::format("{}/kmp_config_{}_{}.db", ::testing::TempDir(), ::getpid(), cases);
    std::remove(path.c_str());
    ExecAll(path, fixture_case.Find("schemaSql"));
    const Config config = ConfigFor(*fixture_case.Find("config"));
    if (const JsonValue* init = fixture_case.Find("initializeBeforeValidation");
        init != nullptr && init->as_bool()) {
      {
        std::unique_ptr<Client> first;
        const Status opened = CreateAndOpen(path, config, &first);
        ASSERT_TRUE(opened.ok()) << opened.ToString();
        ASSERT_EQ(sqlite3_exec(first->db(),
                               "INSERT INTO users(id, name) VALUES ('keep-user', 'Ada')", nullptr,
                               nullptr, nullptr),
                  SQLITE_OK);
      }
      // The fixture's first statement is the insert made above through the client's connection
      // (captured by its triggers); the rest is the drift.
      JsonValue drift = JsonValue::Array();
      const auto& statements = fixture_case.Find("beforeValidationSql")->as_array();
      for (std::size_t i = 1; i < statements.size(); ++i) drift.mutable_array().push_back(statements[i]);
      ExecAll(path, &drift);
    }

    std::unique_ptr<Client> client;
    const Status outcome = CreateAndOpen(path, config, &client);
    const JsonValue* expected_error = fixture_case.Find("expectedError");
    if (expected_error == nullptr || expected_error->is_null()) {
      EXPECT_TRUE(outcome.ok()) << outcome.ToString();
      if (outcome.ok()) {
        if (const JsonValue* after = fixture_case.Find("afterOpenSql")) {
          for (const JsonValue& sql : after->as_array()) {
            ASSERT_EQ(sqlite3_exec(client->db(), sql.as_string().c_str(), nullptr, nullptr, nullptr),
                      SQLITE_OK)
                << sql.as_string();
          }
        }
      }
    } else {
      EXPECT_FALSE(outcome.ok()) << "accepted";
      // KMP's "configuration" kind: our configuration errors are kInvalidArgument (the SyncTable
      // list itself) and kUnsupportedSchema (what the local tables declare).
      EXPECT_TRUE(outcome.code() == ErrorCode::kInvalidArgument ||
                  outcome.code() == ErrorCode::kUnsupportedSchema)
          << outcome.ToString();
      std::vector<std::string> fragments;
      if (const auto* ours = OurWording(name)) {
        fragments = ours->fragments;
      } else {
        for (const JsonValue& fragment : expected_error->Find("messageContains")->as_array()) {
          fragments.push_back(fragment.as_string());
        }
      }
      for (const std::string& fragment : fragments) {
        EXPECT_NE(outcome.message().find(fragment), std::string::npos)
            << "missing \"" << fragment << "\" in: " << outcome.message();
      }
    }
    client.reset();
    if (const JsonValue* queries = fixture_case.Find("expectedQueries")) {
      for (const JsonValue& query : queries->as_array()) {
        EXPECT_EQ(Json(QueryValue(path, Str(query.Find("sql")))), Json(*query.Find("value")))
            << Str(query.Find("name"));
      }
    }
    std::remove(path.c_str());
    std::remove((path + "-wal").c_str());
    std::remove((path + "-shm").c_str());
  }
  EXPECT_EQ(cases, 15);
}

}  // namespace
}  // namespace oversync::oversqlite::testing
