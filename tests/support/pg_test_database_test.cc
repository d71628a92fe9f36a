// Pins the test-isolation contract of cpp-stack.md §3.4: every PostgreSQL test owns a fresh
// database that is dropped afterwards.
#include "oversync/testing/pg_test_database.h"

#include <gtest/gtest.h>

namespace oversync::testing {
namespace {

TEST(PgTestDatabaseTest, EachInstanceIsAFreshDatabaseDroppedAfterwards) {
  OVERSYNC_PG_TEST_DATABASE(first);
  std::string first_name = first->name();
  {
    OVERSYNC_PG_TEST_DATABASE(second);
    EXPECT_NE(first->name(), second->name());
    // State written in one database is invisible in the other.
    ASSERT_TRUE(first->QueryScalar("CREATE TABLE marker(x int)").has_value());
    auto in_second = second->QueryScalar("SELECT to_regclass('public.marker')::text");
    ASSERT_TRUE(in_second.has_value()) << in_second.error().ToString();
    EXPECT_EQ(*in_second, "");
    auto current = second->QueryScalar("SELECT current_database()");
    ASSERT_TRUE(current.has_value());
    EXPECT_EQ(*current, second->name());
  }
  auto version = first->QueryScalar("SHOW server_version_num");
  ASSERT_TRUE(version.has_value()) << version.error().ToString();
  EXPECT_GE(std::stoi(*version), 150000);
  first.reset();
  // After destruction the database is gone.
  OVERSYNC_PG_TEST_DATABASE(probe);
  auto exists = probe->QueryScalar(
      "SELECT count(*) FROM pg_database WHERE datname = '" + first_name + "'");
  ASSERT_TRUE(exists.has_value());
  EXPECT_EQ(*exists, "0");
}

}  // namespace
}  // namespace oversync::testing
