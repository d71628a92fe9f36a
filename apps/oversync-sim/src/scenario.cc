#include "scenario.h"

#include <fmt/format.h>

#include <array>
#include <system_error>
#include <utility>

#include "scenarios.h"

namespace oversync::sim {

ScenarioContext::ScenarioContext(DeviceEnv env, std::string user, std::filesystem::path dir,
                                 std::shared_ptr<PgPool> verify_pool, RuntimeService* service,
                                 std::function<void(std::string_view)> log)
    : env_(std::move(env)),
      user_(std::move(user)),
      dir_(std::move(dir)),
      service_(service),
      log_(std::move(log)) {
  if (verify_pool != nullptr) pg_.emplace(std::move(verify_pool));
}

ScenarioContext::~ScenarioContext() { devices_.clear(); }

Result<Device*> ScenarioContext::NewDevice(std::string_view name, Device::ConfigTweak tweak) {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) {
    return Error(ErrorCode::kIo, fmt::format("create {}: {}", dir_.string(), error.message()));
  }
  OVERSYNC_ASSIGN_OR_RETURN(
      std::unique_ptr<Device> device,
      Device::Launch(env_, std::string(name), dir_ / fmt::format("{}.db", name), traffic_,
                     std::move(tweak)));
  devices_.push_back(std::move(device));
  return devices_.back().get();
}

void ScenarioContext::Note(std::string_view line) {
  if (log_) log_(fmt::format("  [{}] {}", user_, line));
}

std::map<std::string, std::int64_t> ScenarioContext::Finish() {
  devices_.clear();
  std::map<std::string, std::int64_t> out = counters_;
  out["requests"] += traffic_->requests.load();
  out["http_errors"] += traffic_->http_errors.load();
  out["transport_errors"] += traffic_->transport_errors.load();
  out["rows_pushed"] += traffic_->rows_pushed.load();
  out["bundles_pushed"] += traffic_->bundles_pushed.load();
  out["rows_pulled"] += traffic_->rows_pulled.load();
  out["bundles_pulled"] += traffic_->bundles_pulled.load();
  out["snapshot_chunks"] += traffic_->snapshot_chunks.load();
  return out;
}

namespace {

constexpr std::array<ScenarioDef, 20> kScenarios = {{
    {"fresh-install", "offline guest writes, sign in seeds the server from local", false,
     &RunFreshInstall},
    {"normal-usage", "signed-in user creates, updates, deletes, pushes", false, &RunNormalUsage},
    {"reinstall", "app data deleted, remote restore on a new install", false, &RunReinstall},
    {"device-replacement", "a new phone restores, writes, the old one converges", false,
     &RunDeviceReplacement},
    {"offline-online", "writes while offline, reconnect, push, peer converges", false,
     &RunOfflineOnline},
    {"conflicts", "server-wins, client-wins and latest-updated_at merge resolvers", false,
     &RunConflicts},
    {"user-switch", "detach A, attach B on the same device, isolation, back to A", false,
     &RunUserSwitch},
    {"bundle-fk-atomicity", "FK graph with cycles as one bundle, dirty pull rejected", false,
     &RunBundleFkAtomicity},
    {"complex-multi-batch",
     "FK-hostile multi-chunk pushes, crashes before commit and replay, prune fallback", false,
     &RunComplexMultiBatch},
    {"multi-device-sync", "two devices, no resurrection of a deleted row", false,
     &RunMultiDeviceSync},
    {"multi-device-complex", "alternating adds, updates, deletes and re-adds", false,
     &RunMultiDeviceComplex},
    {"files-sync", "BLOB UUID keys and FKs, cascade delete", false, &RunFilesSync},
    {"typed-rows", "NULLs, integers, REAL, BLOB and timestamps round-trip", false, &RunTypedRows},
    {"watch-peer-push", "a watching device converges on a peer's push event", true,
     &RunWatchPeerPush},
    {"watch-server-originated", "a server-side write reaches a watcher (NOTIFY path)", true,
     &RunWatchServerOriginated},
    {"watch-reconnect-catch-up", "a reconnecting watcher catches up immediately", true,
     &RunWatchReconnectCatchUp},
    {"watch-default-off", "default mode polls and never opens /sync/watch", true,
     &RunWatchDefaultOff},
    {"watch-server-unsupported-fallback", "watch not advertised: auto mode polls, no stream",
     true, &RunWatchServerUnsupportedFallback},
    {"watch-idle-cleanup", "an idle watcher's server subscription is released", true,
     &RunWatchIdleCleanup},
    {"watch-many-clients-converge", "8 watchers converge on one write before the fallback poll", true,
     &RunWatchManyClientsConverge},
}};

}  // namespace

std::span<const ScenarioDef> Scenarios() { return kScenarios; }

Result<std::vector<const ScenarioDef*>> SelectScenarios(std::string_view selector) {
  std::vector<const ScenarioDef*> out;
  std::string names;
  for (const ScenarioDef& def : kScenarios) {
    if (selector == def.name || (selector == "all" && !def.watch) ||
        (selector == "watch-all" && def.watch)) {
      out.push_back(&def);
    }
    names += fmt::format("{}{}", names.empty() ? "" : ", ", def.name);
  }
  if (out.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("unknown scenario '{}' (known: all, watch-all, {})", selector, names));
  }
  return out;
}

}  // namespace oversync::sim
