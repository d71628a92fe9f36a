// ServiceConfig defaults and registered-table normalization (server.md §1.2, §2, §8.1).
#include "oversync/server/config.h"

#include <gtest/gtest.h>

namespace oversync {
namespace {

// server.md §1.2: table_id = position of "schema.table" in the byte-sorted list, from 1
// (pinned: users and files in one schema -> files = 1, users = 2).
TEST(NormalizeRegisteredTablesTest, AssignsTableIdsBySortedQualifiedName) {
  auto tables = NormalizeRegisteredTables({{"Business", " Users ", {"ID"}},
                                           {"business", "files", {"id"}},
                                           {"", "Zeta", {"id"}},
                                           {"aaa", "z", {"id"}}});
  ASSERT_TRUE(tables.has_value()) << tables.error().ToString();
  ASSERT_EQ(tables->size(), 4U);
  EXPECT_EQ((*tables)[0].qualified(), "business.users");
  EXPECT_EQ((*tables)[0].sync_key_column, "id");
  EXPECT_EQ((*tables)[0].table_id, 3);
  EXPECT_EQ((*tables)[1].table_id, 2);  // business.files
  EXPECT_EQ((*tables)[2].qualified(), "public.zeta");
  EXPECT_EQ((*tables)[2].table_id, 4);
  EXPECT_EQ((*tables)[3].table_id, 1);  // aaa.z
}

// server.md §2 normalization: key columns lower(trim), empties and duplicates dropped.
TEST(NormalizeRegisteredTablesTest, KeyColumnsAreNormalizedAndDeduplicated) {
  auto tables = NormalizeRegisteredTables({{"public", "docs", {" Doc_ID ", "", "doc_id"}}});
  ASSERT_TRUE(tables.has_value()) << tables.error().ToString();
  EXPECT_EQ(tables->front().sync_key_column, "doc_id");
}

// server.md §2.1 rules 1 and 2.
TEST(NormalizeRegisteredTablesTest, RejectsZeroOrSeveralKeysAndTheScopeColumn) {
  auto none = NormalizeRegisteredTables({{"public", "users", {}}});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kUnsupportedSchema);
  EXPECT_EQ(none.error().message(),
            "registered table public.users must resolve to exactly one sync key column for the "
            "current server runtime");
  auto two = NormalizeRegisteredTables({{"public", "users", {"id", "email"}}});
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().code(), ErrorCode::kUnsupportedSchema);
  auto scope = NormalizeRegisteredTables({{"public", "users", {"_SYNC_SCOPE_ID"}}});
  ASSERT_FALSE(scope.has_value());
  EXPECT_EQ(scope.error().message(),
            "registered table public.users cannot use hidden scope column _sync_scope_id as its "
            "visible sync key");
}

// Beyond Go: a table listed twice would get inconsistent ids there; we refuse it.
TEST(NormalizeRegisteredTablesTest, RejectsDuplicateTables) {
  auto dup = NormalizeRegisteredTables({{"public", "users", {"id"}}, {"", "USERS", {"id"}}});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), ErrorCode::kUnsupportedSchema);
  EXPECT_EQ(dup.error().message(), "registered table public.users is listed more than once");
}

// server.md §8.1 defaults; zero/negative means default.
TEST(ResolveServiceConfigTest, AppliesGoDefaults) {
  ServiceConfig config;
  config.default_rows_per_push_chunk = 0;
  config.max_rows_per_push_chunk = -1;
  config.push_session_ttl = std::chrono::seconds(0);
  config.bundle_change_watch.notify_channel.clear();
  config.bundle_change_watch.heartbeat_interval = std::chrono::milliseconds(0);
  auto resolved = ResolveServiceConfig(config);
  ASSERT_TRUE(resolved.has_value()) << resolved.error().ToString();
  EXPECT_EQ(resolved->app_name, "go-oversync-app");
  EXPECT_EQ(resolved->max_supported_schema_version, 1);
  EXPECT_EQ(resolved->default_rows_per_push_chunk, 1000);
  EXPECT_EQ(resolved->max_rows_per_push_chunk, 5000);
  EXPECT_EQ(resolved->push_session_ttl, std::chrono::seconds(900));
  EXPECT_EQ(resolved->initialization_lease_ttl, std::chrono::seconds(900));
  EXPECT_EQ(resolved->snapshot_session_ttl, std::chrono::seconds(900));
  EXPECT_EQ(resolved->default_rows_per_committed_bundle_chunk, 1000);
  EXPECT_EQ(resolved->max_rows_per_committed_bundle_chunk, 5000);
  EXPECT_EQ(resolved->default_rows_per_snapshot_chunk, 1000);
  EXPECT_EQ(resolved->max_rows_per_snapshot_chunk, 5000);
  EXPECT_EQ(resolved->retained_bundles_per_user, 10000);
  EXPECT_EQ(resolved->retention_prune_batch_size, 1000);
  EXPECT_EQ(resolved->max_rows_per_bundle, 0);
  EXPECT_EQ(resolved->upload_lock_timeout.count(), 0);
  EXPECT_EQ(resolved->bundle_change_watch.notify_channel, "oversync_bundle_change_v1");
  EXPECT_EQ(resolved->bundle_change_watch.heartbeat_interval, std::chrono::seconds(25));
  EXPECT_FALSE(resolved->bundle_change_watch.enabled);
}

// server.md §8.1 BundleChangeWatch validation messages (checked even when watch is disabled).
TEST(ResolveServiceConfigTest, ValidatesTheWatchChannelAndHeartbeat) {
  ServiceConfig long_channel;
  long_channel.bundle_change_watch.notify_channel = std::string(64, 'c');
  auto r1 = ResolveServiceConfig(long_channel);
  ASSERT_FALSE(r1.has_value());
  EXPECT_EQ(r1.error().message(), "bundle change watch notify channel must be 63 bytes or shorter");
  ServiceConfig ok_channel;
  ok_channel.bundle_change_watch.notify_channel = std::string(63, 'c');
  EXPECT_TRUE(ResolveServiceConfig(ok_channel).has_value());
  ServiceConfig nul_channel;
  nul_channel.bundle_change_watch.notify_channel = std::string("a\0b", 3);
  auto r2 = ResolveServiceConfig(nul_channel);
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().message(), "bundle change watch notify channel cannot contain NUL");
  ServiceConfig negative;
  negative.bundle_change_watch.enabled = true;
  negative.bundle_change_watch.heartbeat_interval = std::chrono::milliseconds(-5);
  auto r3 = ResolveServiceConfig(negative);
  ASSERT_FALSE(r3.has_value());
  EXPECT_EQ(r3.error().message(),
            "bundle change watch heartbeat interval must be positive when enabled");
  negative.bundle_change_watch.enabled = false;
  EXPECT_TRUE(ResolveServiceConfig(negative).has_value());
}

}  // namespace
}  // namespace oversync
