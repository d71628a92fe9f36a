// Adopting rows that existed before sync (server.md §10.1 item 2): ListUnadoptedScopes and
// AdoptScope against a real PostgreSQL. Pre-existing data is simulated by writing with the
// registered tables' triggers disabled (what a table populated before Bootstrap looks like).
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

const Actor kLegacyDevice{"legacy", "dev-1"};

class AdoptTest : public RuntimeTest {
 protected:
  // Writes around the capture triggers, as data that predates sync.
  void LegacySql(const std::string& sql) {
    Sql("ALTER TABLE business.users DISABLE TRIGGER USER; "
        "ALTER TABLE business.posts DISABLE TRIGGER USER");
    Sql(sql);
    Sql("ALTER TABLE business.users ENABLE TRIGGER USER; "
        "ALTER TABLE business.posts ENABLE TRIGGER USER");
  }

};

TEST_F(AdoptTest, BringsPreexistingRowsUnderSyncParentsFirstAndIsIdempotent) {
  LegacySql(fmt::format(
      "INSERT INTO business.posts (_sync_scope_id, id, author_id, title) VALUES "
      "('legacy', '{0}', '{1}', 'old post');"
      "INSERT INTO business.users (_sync_scope_id, id, name) VALUES ('legacy', '{1}', 'Old'), "
      "('legacy', '{2}', 'Older'), ('other', '{3}', 'Else')",
      UserKey(9), UserKey(1), UserKey(2), UserKey(3)));
  auto unadopted = service_->ListUnadoptedScopes();
  ASSERT_TRUE(unadopted.has_value()) << unadopted.error().ToString();
  EXPECT_EQ(*unadopted, (std::vector<std::string>{"legacy", "other"}));

  // Before adoption the scope cannot be served: no scope state, and the data has no row_state.
  EXPECT_EQ(service_->CreateSnapshotSession(kLegacyDevice, {}).error().code(),
            ErrorCode::kScopeUninitialized);

  auto adopted = service_->AdoptScope(" legacy ", "importer");
  ASSERT_TRUE(adopted.has_value()) << adopted.error().ToString();
  ASSERT_TRUE(adopted->has_value());
  const ScopeWriteResult& result = **adopted;
  EXPECT_TRUE(result.auto_initialized);
  EXPECT_EQ(result.bundle.bundle_seq, 1);
  EXPECT_EQ(result.bundle.source_id, "importer");
  EXPECT_EQ(result.bundle.source_bundle_id, 1);
  EXPECT_EQ(result.bundle.row_count, 3);
  // users before posts (FK order), keys in byte order within a table; hash verified.
  EXPECT_EQ(Describe(FetchAndVerify(kLegacyDevice, AsCommit(result.bundle))),
            fmt::format("INSERT users {},INSERT users {},INSERT posts {}", UserKey(1), UserKey(2),
                        UserKey(9)));
  EXPECT_EQ(*service_->ListUnadoptedScopes(), (std::vector<std::string>{"other"}));

  // A device now hydrates by snapshot and can update adopted rows at their version.
  auto connect = service_->Connect(kLegacyDevice, {false});
  ASSERT_TRUE(connect.has_value());
  EXPECT_EQ(connect->resolution, protocol::ConnectResolution::kRemoteAuthoritative);
  auto snapshot = service_->CreateSnapshotSession(kLegacyDevice, {});
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->row_count, 3);
  auto update = Push(kLegacyDevice, 1, {Row("users", UserKey(2), "UPDATE", 1, R"({"name":"New"})")});
  ASSERT_TRUE(update.has_value()) << update.error().ToString();

  // Idempotent: nothing left to adopt, nothing changes.
  auto again = service_->AdoptScope("legacy", "importer");
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(Scalar("SELECT max(bundle_seq) FROM sync.bundle_log"), "2");
}

// Partial adoption: rows already under sync are left alone; live row_state whose business row
// vanished behind sync's back becomes a DELETE (the scope is consistent again).
TEST_F(AdoptTest, AdoptsOnlyTheGapsAndTombstonesOrphans) {
  InitializeScope(kLegacyDevice);
  ASSERT_TRUE(Push(kLegacyDevice, 1,
                   {Row("users", UserKey(1), "INSERT", 0, R"({"name":"synced"})"),
                    Row("users", UserKey(2), "INSERT", 0, R"({"name":"doomed"})")})
                  .has_value());
  LegacySql(fmt::format("INSERT INTO business.users (_sync_scope_id, id, name) VALUES "
                        "('legacy', '{}', 'sneaked in'); DELETE FROM business.users WHERE id = '{}'",
                        UserKey(3), UserKey(2)));
  EXPECT_EQ(service_->CreateSnapshotSession(kLegacyDevice, {}).error().code(), ErrorCode::kInternal);

  auto adopted = service_->AdoptScope("legacy", "importer");
  ASSERT_TRUE(adopted.has_value()) << adopted.error().ToString();
  ASSERT_TRUE(adopted->has_value());
  EXPECT_FALSE((*adopted)->auto_initialized);
  EXPECT_EQ(Describe(FetchAndVerify(kLegacyDevice, AsCommit((*adopted)->bundle))),
            fmt::format("INSERT users {},DELETE users {}", UserKey(3), UserKey(2)));
  auto snapshot = service_->CreateSnapshotSession(kLegacyDevice, {});
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->row_count, 2);
}

TEST_F(AdoptTest, ValidatesInputsAndRefusesAnInitializingScope) {
  EXPECT_EQ(service_->AdoptScope(" ", "w").error().message(), "scope_id is required");
  EXPECT_EQ(service_->AdoptScope("s", "").error().message(), "writer_id is required");
  ASSERT_TRUE(service_->Connect(kLegacyDevice, {true}).has_value());  // INITIALIZING
  EXPECT_EQ(service_->AdoptScope("legacy", "importer").error().code(),
            ErrorCode::kScopeInitializing);
  // Nothing to adopt on an empty scope: no bundle, the scope state unchanged.
  auto empty = service_->AdoptScope("nobody", "importer");
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_FALSE(empty->has_value());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.scope_state s JOIN sync.user_state u USING "
                   "(user_pk) WHERE u.user_id = 'nobody' AND s.state_code = 2"),
            "0");
}

}  // namespace
}  // namespace oversync::testing
