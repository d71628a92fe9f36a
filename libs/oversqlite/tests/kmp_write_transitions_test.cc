// The KMP local write-transition fixtures (tests/fixtures/oversqlite-contracts/local-schema/
// {basic-sync,blob-sync,business-rich-v0,cascade-sync}/write-transitions*.json, sqlitenow-kmp
// 26c5839; docs/kmp-fixtures.md): what the capture triggers record in _sync_dirty_rows for
// inserts, updates, deletes, key-changing updates, cascades, BLOB and typed columns and apply
// mode — the rows a later push freezes and uploads.
//
// Each case runs like the Dart harness (shared_contract_fixture_test.dart
// _runWriteTransitions): a new SQLite file with the schema's `schema.sql`, a profile-B client
// created and opened on it with `config.json` (no network: the base URL is never contacted), the
// case's setup and action SQL through another connection (the application), then the dirty rows
// (ordered by dirty_ordinal, table_name, key_json) and the application tables' row counts are
// compared with `write-transitions.expected.json`. The cases' `expectedInvalidatedTables` belong
// to KMP's reactive-query invalidation API, which this SDK does not have.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "kmp_behavior_support.h"
#include "oversync/oversqlite/client.h"
#include "oversync/protocol/json_value.h"

namespace oversync::oversqlite::testing {
namespace {

using protocol::JsonValue;

std::string ReadText(const std::string& relative) {
  const std::string path = std::string(OVERSYNC_CONTRACT_FIXTURES_DIR) + "/" + relative;
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.is_open()) << path;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Executes `sql` (one or more statements) on `db`.
void ExecSql(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
}

// The Dart harness's _dumpDirtyRows and _dumpApplicationRowCounts for one case.
JsonValue DumpCase(sqlite3* db, const std::string& name, const JsonValue& application_tables) {
  JsonValue dirty = JsonValue::Array();
  sqlite3_stmt* raw = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT schema_name, table_name, key_json, op, base_row_version, "
                               "payload, dirty_ordinal FROM _sync_dirty_rows ORDER BY "
                               "dirty_ordinal, table_name, key_json",
                               -1, &raw, nullptr),
            SQLITE_OK);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  const auto text = [&](int column) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
    return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), column)));
  };
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    JsonValue row = JsonValue::Object();
    row.Add("schemaName", JsonValue::String(text(0)));
    row.Add("tableName", JsonValue::String(text(1)));
    row.Add("keyJson", JsonValue::String(text(2)));
    row.Add("op", JsonValue::String(text(3)));
    row.Add("baseRowVersion", JsonValue::Integer(sqlite3_column_int64(stmt.get(), 4)));
    row.Add("payload", sqlite3_column_type(stmt.get(), 5) == SQLITE_NULL ? JsonValue::Null()
                                                                        : JsonValue::String(text(5)));
    row.Add("dirtyOrdinal", JsonValue::Integer(sqlite3_column_int64(stmt.get(), 6)));
    dirty.mutable_array().push_back(std::move(row));
  }
  JsonValue counts = JsonValue::Object();
  for (const JsonValue& table : application_tables.as_array()) {
    sqlite3_stmt* count_raw = nullptr;
    const std::string sql = fmt::format("SELECT count(*) FROM \"{}\"", table.as_string());
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &count_raw, nullptr), SQLITE_OK) << sql;
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> count(count_raw, &sqlite3_finalize);
    EXPECT_EQ(sqlite3_step(count.get()), SQLITE_ROW);
    counts.Add(table.as_string(), JsonValue::Integer(sqlite3_column_int64(count.get(), 0)));
  }
  JsonValue out = JsonValue::Object();
  out.Add("name", JsonValue::String(name));
  out.Add("dirtyRows", std::move(dirty));
  out.Add("applicationRowCounts", std::move(counts));
  return out;
}

// The one recorded difference (docs/kmp-fixtures.md): KMP B's triggers store SQLite INTEGER and
// REAL values of a dirty row as numeric strings; ours keep go-oversync's Go-client layout (JSON
// numbers in _sync_dirty_rows.payload) and write the strings when the row is frozen for upload
// (_sync_outbox_rows.wire_payload), so the uploaded row is the same.
struct LocalPayloadDifference {
  std::string_view case_name;
  std::string_view key_json;
  std::string_view our_payload;
};
constexpr LocalPayloadDifference kLocalPayloadDifferences[] = {
    {"insert-rich-graph", R"({"id":"typed-1"})",
     R"({"id":"typed-1","name":"Typed 1","note":null,"count_value":42,"small_count":null,)"
     R"("medium_count":null,"exact_amount":null,"enabled_flag":1,"rating":1.25,)"
     R"("float4_value":null,"data":"cafebabe","created_at":"2026-03-24T18:42:11Z"})"},
};

// `expected_case` with the recorded differences' payloads put in.
JsonValue WithOurPayloads(JsonValue expected_case) {
  const std::string name = Str(expected_case.Find("name"));
  for (protocol::JsonMember& member : expected_case.mutable_object()) {
    if (member.key != "dirtyRows") continue;
    for (JsonValue& row : member.value.mutable_array()) {
      for (const LocalPayloadDifference& d : kLocalPayloadDifferences) {
        if (d.case_name != name || Str(row.Find("keyJson")) != d.key_json) continue;
        for (protocol::JsonMember& column : row.mutable_object()) {
          if (column.key == "payload") column.value = JsonValue::String(std::string(d.our_payload));
        }
      }
    }
  }
  return expected_case;
}

class KmpWriteTransitionsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KmpWriteTransitionsTest, DirtyRowsMatch) {
  const std::string dir = std::string("local-schema/") + GetParam();
  const JsonValue spec = LoadFixture(dir + "/write-transitions.json");
  const JsonValue expected = LoadFixture(dir + "/write-transitions.expected.json");
  const JsonValue config_json = LoadFixture(dir + "/config.json");
  const std::string schema_sql = ReadText(dir + "/schema.sql");
  Config config;
  config.schema = Str(config_json.Find("schema"));
  for (const JsonValue& table : config_json.Find("syncTables")->as_array()) {
    config.tables.push_back({Str(table.Find("tableName")), Str(table.Find("syncKeyColumnName")), {}});
  }
  config.wire_profile = std::string(kKmpProfileB);

  const auto& cases = spec.Find("cases")->as_array();
  const auto& expected_cases = expected.Find("cases")->as_array();
  ASSERT_EQ(cases.size(), expected_cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const JsonValue& fixture_case = cases[i];
    const std::string name = Str(fixture_case.Find("name"));
    SCOPED_TRACE(name);
    const std::string path =
        fmt::format("{}/kmp_writes_{}_{}_{}.db", ::testing::TempDir(), ::getpid(), GetParam(), i);
    std::remove(path.c_str());
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> app(raw, &sqlite3_close);
    sqlite3_busy_timeout(app.get(), 5000);
    ExecSql(app.get(), "PRAGMA foreign_keys = ON");  // per connection; the app's, like KMP's
    ExecSql(app.get(), schema_sql);
    {
      Result<std::unique_ptr<Client>> client = Client::CreateForPath(
          path, "http://127.0.0.1:9/", [] { return Result<std::string>(std::string("unused")); },
          config, {});
      ASSERT_TRUE(client.has_value()) << client.error().ToString();
      const Status opened = (*client)->Open();
      ASSERT_TRUE(opened.ok()) << opened.ToString();
      for (const char* member : {"setupSql", "actionSql"}) {
        for (const JsonValue& sql : fixture_case.Find(member)->as_array()) {
          ExecSql(app.get(), sql.as_string());
        }
      }
      EXPECT_EQ(Canonical(DumpCase(app.get(), name, *spec.Find("applicationTables"))),
                Canonical(WithOurPayloads(expected_cases[i])));
    }
    app.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Schemas, KmpWriteTransitionsTest,
                         ::testing::Values("basic-sync", "blob-sync", "business-rich-v0",
                                           "cascade-sync"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace oversync::oversqlite::testing
