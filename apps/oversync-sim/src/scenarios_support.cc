// Verification helpers shared by the scenarios.
#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

#include "scenarios.h"

namespace oversync::sim {

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += fmt::format("{}{}", out.empty() ? "" : ",", item);
  return "{" + out + "}";
}

Status ExpectDeviceCount(Device& device, std::string_view table, std::int64_t expected) {
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t count, device.Count(table));
  OVERSYNC_SIM_EXPECT(count == expected, "{}: {} has {} rows, want {}", device.name(), table, count,
                      expected);
  return {};
}

Status ExpectDeviceIds(Device& device, std::string_view table,
                       const std::set<std::string>& expected) {
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<std::string> rows,
                            device.Column(fmt::format("SELECT id FROM {} ORDER BY id", table)));
  const std::set<std::string> ids(rows.begin(), rows.end());
  OVERSYNC_SIM_EXPECT(ids == expected && rows.size() == expected.size(),
                      "{}: {} ids are {}, want {}", device.name(), table, Join(ids),
                      Join(expected));
  return {};
}

Status ExpectDeviceValue(Device& device, std::string_view table, std::string_view id,
                         std::string_view column, std::string_view expected) {
  OVERSYNC_ASSIGN_OR_RETURN(
      std::vector<std::string> rows,
      device.Column(fmt::format("SELECT {} FROM {} WHERE id = '{}'", column, table, id)));
  OVERSYNC_SIM_EXPECT(rows.size() == 1, "{}: {} row {} missing", device.name(), table, id);
  OVERSYNC_SIM_EXPECT(rows.front() == expected, "{}: {}.{} of {} is '{}', want '{}'", device.name(),
                      table, column, id, rows.front(), expected);
  return {};
}

Status ExpectServerCount(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                         std::int64_t expected) {
  if (ctx.pg() == nullptr) return {};
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t count, ctx.pg()->ScopeCount(table, scope));
  OVERSYNC_SIM_EXPECT(count == expected, "server: business.{} of {} has {} rows, want {}", table,
                      scope, count, expected);
  return {};
}

Status ExpectServerIds(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                       const std::set<std::string>& expected) {
  if (ctx.pg() == nullptr) return {};
  OVERSYNC_ASSIGN_OR_RETURN(
      std::vector<std::string> rows,
      ctx.pg()->Column(
          fmt::format("SELECT id::text FROM business.{} WHERE _sync_scope_id = $1", table),
          {std::string(scope)}));
  const std::set<std::string> ids(rows.begin(), rows.end());
  OVERSYNC_SIM_EXPECT(ids == expected && rows.size() == expected.size(),
                      "server: business.{} ids of {} are {}, want {}", table, scope, Join(ids),
                      Join(expected));
  return {};
}

Status ExpectServerValue(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                         std::string_view id, std::string_view column, std::string_view expected) {
  if (ctx.pg() == nullptr) return {};
  OVERSYNC_ASSIGN_OR_RETURN(
      std::vector<std::string> rows,
      ctx.pg()->Column(fmt::format("SELECT {}::text FROM business.{} WHERE _sync_scope_id = $1 "
                                   "AND id = $2::uuid",
                                   column, table),
                       {std::string(scope), std::string(id)}));
  OVERSYNC_SIM_EXPECT(rows.size() == 1, "server: business.{} row {} of {} missing", table, id,
                      scope);
  OVERSYNC_SIM_EXPECT(rows.front() == expected, "server: {}.{} of {} is '{}', want '{}'", table,
                      column, id, rows.front(), expected);
  return {};
}

Status ExpectClean(Device& device) {
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, device.DirtyRows());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbox,
                            device.Int("SELECT count(*) FROM _sync_outbox_rows"));
  OVERSYNC_SIM_EXPECT(dirty == 0 && outbox == 0, "{}: {} dirty and {} outbox rows left",
                      device.name(), dirty, outbox);
  return {};
}

}  // namespace oversync::sim
