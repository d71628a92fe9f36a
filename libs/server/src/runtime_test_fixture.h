// Shared fixture for runtime tests against a real PostgreSQL: a fresh database with a small
// business schema (users, posts -> users ON DELETE CASCADE, files with bytea, docs with a text
// key), a bootstrapped RuntimeService with a manual clock and seeded randomness.
#ifndef OVERSYNC_SERVER_SRC_RUNTIME_TEST_FIXTURE_H_
#define OVERSYNC_SERVER_SRC_RUNTIME_TEST_FIXTURE_H_

#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "oversync/common/clock.h"
#include "oversync/common/random.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/errors.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/server/runtime_service.h"
#include "oversync/testing/pg_test_database.h"

namespace oversync::testing {

inline constexpr std::string_view kBusinessSchema = R"sql(
CREATE SCHEMA business;
CREATE TABLE business.users (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT, age INTEGER, score NUMERIC,
  PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.posts (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, author_id UUID, title TEXT,
  PRIMARY KEY (_sync_scope_id, id),
  FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users(_sync_scope_id, id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE business.files (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, data BYTEA, PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.docs (
  _sync_scope_id TEXT NOT NULL, doc_id TEXT NOT NULL, body TEXT,
  PRIMARY KEY (_sync_scope_id, doc_id));
)sql";

class RuntimeTest : public ::testing::Test {
 protected:
  RuntimeTest() : clock_(TimePoint(std::chrono::seconds(1'800'000'000))), random_(7) {
    // Deterministic retention: pruned bundles are deleted only by RunRetentionPass().
    config_.background_retention = false;
  }

  void SetUp() override {
    auto db = PgTestDatabase::Create();
    if (!db) {
      if (db.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << db.error().ToString();
      }
      FAIL() << db.error().ToString();
    }
    db_ = std::move(*db);
    Sql(std::string(kBusinessSchema));
    ConfigureService(config_);
    service_ = MakeService();
    ASSERT_TRUE(service_);
  }

  // Override to change the configuration before the service is created.
  virtual void ConfigureService(ServiceConfig& config) { (void)config; }

  // The tables every fixture service registers (config_ plus these is what MakeService runs).
  ServiceConfig FixtureConfig() const {
    ServiceConfig config = config_;
    config.registered_tables = {{"business", "users", {"id"}},
                                {"business", "posts", {"id"}},
                                {"business", "files", {"id"}},
                                {"business", "docs", {"doc_id"}}};
    return config;
  }

  std::unique_ptr<RuntimeService> MakeService() {
    ServiceConfig config = FixtureConfig();
    RuntimeOptions options;
    options.database_url = db_->dsn();
    options.max_connections = 8;
    options.clock = &clock_;
    options.random = &random_;
    options.logger = logger_;
    auto service = RuntimeService::Create(config, options);
    EXPECT_TRUE(service.has_value()) << service.error().ToString();
    if (!service) return nullptr;
    auto report = (*service)->Bootstrap();
    EXPECT_TRUE(report.has_value()) << report.error().ToString();
    return std::move(*service);
  }

  void Sql(const std::string& sql) {
    auto r = db_->QueryScalar(sql);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }
  std::string Scalar(const std::string& sql) {
    auto r = db_->QueryScalar(sql);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or("<error>");
  }

  static protocol::PushRequestRow Row(std::string table, std::string key, std::string op,
                                      std::int64_t base, std::string payload_json = "") {
    protocol::PushRequestRow row;
    row.schema = "business";
    row.table = std::move(table);
    row.key = protocol::JsonValue::Object();
    row.key.Add(row.table == "docs" ? "doc_id" : "id", protocol::JsonValue::String(key));
    row.op = std::move(op);
    row.base_row_version = base;
    if (!payload_json.empty()) {
      row.payload_present = true;
      row.payload = protocol::ParseJson(payload_json).value();
    }
    return row;
  }

  // Connects the scope as initialize_empty (so pushes are allowed).
  void InitializeScope(const Actor& actor) {
    auto r = service_->Connect(actor, {false});
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
  }

  // create -> one chunk -> commit. Returns the commit response or the first error.
  Result<protocol::PushSessionCommitResponse> Push(const Actor& actor, std::int64_t source_bundle_id,
                                                   std::vector<protocol::PushRequestRow> rows) {
    protocol::PushSessionCreateRequest create;
    create.source_bundle_id = source_bundle_id;
    create.planned_row_count = static_cast<std::int64_t>(rows.size());
    OVERSYNC_ASSIGN_OR_RETURN(auto session, service_->CreatePushSession(actor, create));
    protocol::PushChunkRequest chunk;
    chunk.rows = std::move(rows);
    OVERSYNC_RETURN_IF_ERROR(service_->UploadPushChunk(actor, session.push_id, std::move(chunk)));
    return service_->CommitPushSession(actor, session.push_id);
  }

  // Fetches every row of a committed bundle with pages of `page` rows and recomputes its hash the
  // way clients do (protocol.md §2.7); checks row_count and hash against the response.
  std::vector<protocol::BundleRow> FetchAndVerify(const Actor& actor,
                                                  const protocol::PushSessionCommitResponse& commit,
                                                  std::int64_t page = 1000) {
    std::vector<protocol::BundleRow> rows;
    protocol::BundleHasher hasher(protocol::GoCanonicalV1Profile(), commit.bundle_seq);
    std::optional<std::int64_t> after;
    while (true) {
      protocol::CommittedBundleRowsQuery query;
      query.bundle_seq = commit.bundle_seq;
      query.after_row_ordinal = after;
      query.max_rows = page;
      auto r = service_->GetCommittedBundleRows(actor, query);
      EXPECT_TRUE(r.has_value()) << r.error().ToString();
      if (!r) return rows;
      EXPECT_EQ(r->bundle_hash, commit.bundle_hash);
      EXPECT_EQ(r->row_count, commit.row_count);
      for (auto& row : r->rows) {
        EXPECT_TRUE(hasher.AddRow(row).ok());
        rows.push_back(std::move(row));
      }
      if (!r->has_more) break;
      after = r->next_row_ordinal;
    }
    const auto result = hasher.Finish();
    EXPECT_EQ(result.hex, commit.bundle_hash) << "client-side hash recomputation differs";
    EXPECT_EQ(static_cast<std::int64_t>(rows.size()), commit.row_count);
    return rows;
  }

  ManualClock clock_;
  SeededRandom random_;
  ServiceConfig config_;
  Logger* logger_ = nullptr;  // set in ConfigureService to capture the runtime's log
  std::unique_ptr<PgTestDatabase> db_;
  std::unique_ptr<RuntimeService> service_;
};

// The single key value of a wire key object.
inline std::string KeyText(const protocol::JsonValue& key) {
  if (!key.is_object() || key.as_object().size() != 1) return "<bad key>";
  const protocol::JsonValue& value = key.as_object().front().value;
  return value.is_string() ? value.as_string() : "<non-string key>";
}

inline std::string PayloadText(const protocol::BundleRow& row) {
  if (!row.payload) return "<absent>";
  std::string out;
  protocol::JsonWriter(out).Value(*row.payload);
  return out;
}

// "OP table key" per row, comma separated: compact expectations for row order and ops.
inline std::string Describe(const std::vector<protocol::BundleRow>& rows) {
  std::string out;
  for (const protocol::BundleRow& row : rows) {
    if (!out.empty()) out += ',';
    out += fmt::format("{} {} {}", protocol::OpName(row.op), row.table, KeyText(row.key));
  }
  return out;
}

// The commit response a client would hold for a server-written bundle (for FetchAndVerify).
inline protocol::PushSessionCommitResponse AsCommit(const CommittedBundle& bundle) {
  protocol::PushSessionCommitResponse commit;
  commit.bundle_seq = bundle.bundle_seq;
  commit.source_id = bundle.source_id;
  commit.source_bundle_id = bundle.source_bundle_id;
  commit.row_count = bundle.row_count;
  commit.bundle_hash = bundle.bundle_hash;
  return commit;
}

inline std::string UserKey(int n) { return fmt::format("00000000-0000-4000-8000-{:012}", n); }

}  // namespace oversync::testing

#endif  // OVERSYNC_SERVER_SRC_RUNTIME_TEST_FIXTURE_H_
