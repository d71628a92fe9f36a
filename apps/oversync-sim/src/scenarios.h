// File: apps/oversync-sim/src/scenarios.h
//
// The scenario functions (client.md §10) and the helpers they share. Private to the simulator.
#ifndef OVERSYNC_SIM_SCENARIOS_H_
#define OVERSYNC_SIM_SCENARIOS_H_

#include <fmt/format.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "device.h"
#include "oversync/common/status.h"
#include "scenario.h"

namespace oversync::sim {

Status RunFreshInstall(ScenarioContext& ctx);
Status RunNormalUsage(ScenarioContext& ctx);
Status RunReinstall(ScenarioContext& ctx);
Status RunDeviceReplacement(ScenarioContext& ctx);
Status RunOfflineOnline(ScenarioContext& ctx);
Status RunConflicts(ScenarioContext& ctx);
Status RunUserSwitch(ScenarioContext& ctx);
Status RunBundleFkAtomicity(ScenarioContext& ctx);
Status RunComplexMultiBatch(ScenarioContext& ctx);
Status RunMultiDeviceSync(ScenarioContext& ctx);
Status RunMultiDeviceComplex(ScenarioContext& ctx);
Status RunFilesSync(ScenarioContext& ctx);
Status RunTypedRows(ScenarioContext& ctx);
Status RunWatchPeerPush(ScenarioContext& ctx);
Status RunWatchReconnectCatchUp(ScenarioContext& ctx);
Status RunWatchDefaultOff(ScenarioContext& ctx);
Status RunWatchServerOriginated(ScenarioContext& ctx);
Status RunWatchServerUnsupportedFallback(ScenarioContext& ctx);
Status RunWatchIdleCleanup(ScenarioContext& ctx);
Status RunWatchManyClientsConverge(ScenarioContext& ctx);

// ---- helpers ----

// A verification failure: the message is the reason printed on the FAIL line.
inline Status Failed(std::string reason) {
  return Status(ErrorCode::kFailedPrecondition, std::move(reason));
}

// Returns a failure with the formatted reason unless `cond` holds.
#define OVERSYNC_SIM_EXPECT(cond, ...)                                     \
  do {                                                                     \
    if (!(cond)) return ::oversync::sim::Failed(fmt::format(__VA_ARGS__)); \
  } while (false)

// The same in a function returning Result<T>.
#define OVERSYNC_SIM_REQUIRE(cond, ...)                                                      \
  do {                                                                                       \
    if (!(cond)) return ::oversync::Error(::oversync::sim::Failed(fmt::format(__VA_ARGS__))); \
  } while (false)

// Lowercase dashed UUIDs (the server renders them so), and the same as 32 hex digits for BLOB
// literals (x'<hex>').
inline std::string Uuid(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }
inline std::string UuidHex(int n) { return fmt::format("00000000000040008000{:012d}", n); }

// Timestamps with microsecond precision (what timestamptz keeps).
inline std::string Stamp(int seconds) {
  return fmt::format("2026-03-24T10:{:02d}:{:02d}.123456Z", (seconds / 60) % 60, seconds % 60);
}

Status ExpectDeviceCount(Device& device, std::string_view table, std::int64_t expected);
// The ids of `table` on the device (TEXT keys) equal `expected`.
Status ExpectDeviceIds(Device& device, std::string_view table,
                       const std::set<std::string>& expected);
// A column value of one row on the device.
Status ExpectDeviceValue(Device& device, std::string_view table, std::string_view id,
                         std::string_view column, std::string_view expected);
Status ExpectServerCount(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                         std::int64_t expected);
Status ExpectServerIds(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                       const std::set<std::string>& expected);
Status ExpectServerValue(ScenarioContext& ctx, std::string_view scope, std::string_view table,
                         std::string_view id, std::string_view column, std::string_view expected);
// No dirty rows, no outbox rows.
Status ExpectClean(Device& device);

std::string Join(const std::set<std::string>& items);

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_SCENARIOS_H_
