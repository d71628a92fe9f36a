// File: apps/oversync-sim/src/scenario.h
//
// The scenario registry and what a scenario runs with. A scenario (client.md §10) is a function
// of a ScenarioContext that drives devices of one user (its own scope on the server) and returns
// OK when everything it verifies holds, or an error whose message is the reason it failed.
//
// Thread-safety: a ScenarioContext belongs to the thread running its scenario.
#ifndef OVERSYNC_SIM_SCENARIO_H_
#define OVERSYNC_SIM_SCENARIO_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "device.h"
#include "metrics.h"
#include "oversync/common/status.h"
#include "pg_verifier.h"

namespace oversync {
class RuntimeService;
}  // namespace oversync

namespace oversync::sim {

class ScenarioContext {
 public:
  // `dir` holds this scenario's device files (created if missing). `verify_pool` null = no
  // PostgreSQL verification (external server without --database-url). `service` is the
  // in-process runtime or null. `log` prints one progress line (only called when verbose).
  ScenarioContext(DeviceEnv env, std::string user, std::filesystem::path dir,
                  std::shared_ptr<PgPool> verify_pool, RuntimeService* service,
                  std::function<void(std::string_view)> log);
  ScenarioContext(const ScenarioContext&) = delete;
  ScenarioContext& operator=(const ScenarioContext&) = delete;
  ScenarioContext(ScenarioContext&&) = delete;
  ScenarioContext& operator=(ScenarioContext&&) = delete;
  ~ScenarioContext();

  const std::string& user() const noexcept { return user_; }
  // A second account derived from this scenario's user ("<user>-<suffix>").
  std::string OtherUser(std::string_view suffix) const { return user_ + "-" + std::string(suffix); }

  // Launches a device on a new file "<dir>/<name>.db" (an existing file is reused: a device
  // with the same name is the same phone). The context owns it until the scenario ends.
  Result<Device*> NewDevice(std::string_view name, Device::ConfigTweak tweak = nullptr);

  // Null when PostgreSQL verification is off.
  PgVerifier* pg() noexcept { return pg_.has_value() ? &*pg_ : nullptr; }
  // Null when the server does not run in-process.
  RuntimeService* service() noexcept { return service_; }
  const DeviceEnv& env() const noexcept { return env_; }

  // Progress line (shown with --verbose).
  void Note(std::string_view line);
  // Adds to a named counter of the scenario's report.
  void Count(const std::string& name, std::int64_t delta) { counters_[name] += delta; }

  // The scenario's counters plus its devices' traffic; closes every device.
  std::map<std::string, std::int64_t> Finish();
  const TrafficCounters& traffic() const noexcept { return *traffic_; }

 private:
  const DeviceEnv env_;
  const std::string user_;
  const std::filesystem::path dir_;
  RuntimeService* const service_;
  const std::function<void(std::string_view)> log_;
  std::optional<PgVerifier> pg_;
  std::shared_ptr<TrafficCounters> traffic_ = std::make_shared<TrafficCounters>();
  std::vector<std::unique_ptr<Device>> devices_;
  std::map<std::string, std::int64_t> counters_;
};

using ScenarioFn = Status (*)(ScenarioContext& ctx);

struct ScenarioDef {
  std::string_view name;
  std::string_view summary;
  bool watch = false;  // part of watch-all rather than all
  ScenarioFn run = nullptr;
};

// Every scenario, `all` ones first, in the order they run.
std::span<const ScenarioDef> Scenarios();
// The scenarios `selector` names: a scenario name, "all" or "watch-all".
// Errors: kInvalidArgument listing the known names.
Result<std::vector<const ScenarioDef*>> SelectScenarios(std::string_view selector);

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_SCENARIO_H_
