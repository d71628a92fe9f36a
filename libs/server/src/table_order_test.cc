// Dependency order of registered tables (server.md §2.2 rule 4; go-oversync
// schema_discovery_test.go :: TestDependencyOverrides_AffectOrdering,
// TestTopologicalSort_GroupsStronglyConnectedComponentsDeterministically).
#include "table_order.h"

#include <gtest/gtest.h>

namespace oversync {
namespace {

using Order = std::vector<std::vector<std::string>>;

TEST(TableOrderTest, ParentsComeBeforeChildrenAndTiesBreakByName) {
  const std::set<std::string> tables = {"app.comments", "app.posts", "app.users", "app.tags"};
  const TableDependencies deps = {{"app.posts", {"app.users"}},
                                  {"app.comments", {"app.posts", "app.users"}}};
  EXPECT_EQ(OrderTables(tables, deps),
            (Order{{"app.tags"}, {"app.users"}, {"app.posts"}, {"app.comments"}}));
}

TEST(TableOrderTest, CyclesAreGroupedSortedAndDependentsFollow) {
  // b <-> a form a cycle; c depends on the cycle; z is independent.
  const std::set<std::string> tables = {"s.a", "s.b", "s.c", "s.z"};
  const TableDependencies deps = {{"s.a", {"s.b"}}, {"s.b", {"s.a"}}, {"s.c", {"s.b"}}};
  const Order order = OrderTables(tables, deps);
  EXPECT_EQ(order, (Order{{"s.a", "s.b"}, {"s.c"}, {"s.z"}}));
  // Same input, same output.
  EXPECT_EQ(OrderTables(tables, deps), order);
}

TEST(TableOrderTest, OverridesAddEdgesAndIgnoreUnknownAndSelfEdges) {
  const std::set<std::string> tables = {"public.alpha", "public.beta", "other.gamma"};
  TableDependencies deps;
  MergeDependencyOverrides(deps, tables,
                           {{" Alpha ", {"beta", "public.alpha", "nowhere.table", "a.b.c"}},
                            {"unregistered", {"beta"}},
                            {"OTHER.gamma", {"public.alpha"}}});
  EXPECT_EQ(deps, (TableDependencies{{"public.alpha", {"public.beta"}},
                                     {"other.gamma", {"public.alpha"}}}));
  EXPECT_EQ(OrderTables(tables, deps),
            (Order{{"public.beta"}, {"public.alpha"}, {"other.gamma"}}));
}

TEST(TableOrderTest, EmptyInput) {
  EXPECT_TRUE(OrderTables({}, {}).empty());
}

}  // namespace
}  // namespace oversync
