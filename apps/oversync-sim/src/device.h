// File: apps/oversync-sim/src/device.h
//
// A simulated device: a file-backed SQLite database with the example schema (all eight business
// tables, client.md §10 harness) and a real oversqlite Client on it, talking to the server over
// HTTP through a SimTransport (traffic counters and an offline switch). Sync calls are timed
// into the shared LatencyRecorder.
//
// Lifecycle: Device::Launch creates the file's tables (if missing), the client and Open()s it
// (the app's onLaunch); SignIn attaches a user; Stop closes the client (the file stays: Launch
// again = app restart); Uninstall also deletes the files (reinstall).
//
// Thread-safety: single-threaded (one scenario thread drives its devices). The token provider
// and the transport are thread-safe because the client calls them from its own threads.
#ifndef OVERSYNC_SIM_DEVICE_H_
#define OVERSYNC_SIM_DEVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.h"
#include "oversync/common/logger.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/transport.h"

namespace oversync::sim {

// The example schema's client side (go-oversync examples/mobile_flow simulator/app.go): TEXT
// keys holding lowercase UUIDs, BLOB keys for files/file_reviews, deferred FKs for the posts ->
// users reference and the teams <-> team_members cycle.
extern const std::string_view kDeviceSchemaDdl;

// The eight managed tables in the order the client registers them.
std::vector<oversqlite::SyncTable> ManagedTables();

// A transport decorator: counts traffic (TrafficCounters) and can be switched offline, when every
// request fails with kUnavailable without reaching the server. Thread-safe.
class SimTransport final : public oversqlite::Transport {
 public:
  // `base_path`: the path of the server's base URL ("" at the root, "/go_canonical_v1" for
  // oversyncd's second mount); request paths are matched relative to it.
  SimTransport(std::shared_ptr<oversqlite::Transport> inner,
               std::shared_ptr<TrafficCounters> counters, std::string base_path)
      : inner_(std::move(inner)), counters_(std::move(counters)), base_path_(std::move(base_path)) {}

  void SetOffline(bool offline) noexcept { offline_.store(offline); }
  bool offline() const noexcept { return offline_.load(); }
  // A proxy claiming the server has no bundle-change watch: successful GET /sync/capabilities
  // answers get features.bundle_change_watch rewritten to false.
  void SetHideWatchCapability(bool hide) noexcept { hide_watch_.store(hide); }
  // Capabilities answers rewritten so far.
  std::int64_t capabilities_rewritten() const noexcept { return capabilities_rewritten_.load(); }

  Result<oversqlite::HttpResponse> Send(const oversqlite::HttpRequest& request) override;
  Result<int> Stream(const oversqlite::HttpRequest& request,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     std::string* error_body) override;

 private:
  void CountAnswer(const oversqlite::HttpRequest& request,
                   const oversqlite::HttpResponse& response);
  // The request's path below the base URL ("/sync/pull").
  std::string_view SyncPath(const oversqlite::HttpRequest& request) const;

  const std::shared_ptr<oversqlite::Transport> inner_;
  const std::shared_ptr<TrafficCounters> counters_;
  const std::string base_path_;
  std::atomic<bool> offline_{false};
  std::atomic<bool> hide_watch_{false};
  std::atomic<std::int64_t> capabilities_rewritten_{0};
};

// What every device of a run shares.
struct DeviceEnv {
  std::string base_url;
  // Config::wire_profile of every device (set explicitly, so a device never silently speaks a
  // profile the server does not).
  std::string wire_profile = "jcs_uniform_numeric_strings_v1";
  // Mints a bearer token for a user id (thread-safe).
  std::function<Result<std::string>(std::string_view user_id)> mint_token;
  LatencyRecorder* latencies = nullptr;  // not owned; outlives the devices
  // The clients' logger (--verbose); null = no client logging.
  std::shared_ptr<Logger> client_logger;
  // How long a watch scenario waits for its watchers to converge after a write. 5 s (the Go
  // simulator's figure) with up to 4 concurrent users; with more, every wake-up competes with
  // the other users' streams and pulls for the same cores, so the simulator relaxes it (see
  // WatchConvergeDeadline). The watchers' fallback poll (1 h) never fires within a scenario.
  std::chrono::milliseconds watch_converge_within{5000};
};

// The watch convergence deadline for `parallel` concurrent users: 5 s (the Go simulator's) up
// to 4 users; with more, 600 s. Converging at all proves a watch-driven pull (the watchers'
// fallback poll is 1 h); the deadline bounds the latency, which is reported (watch_converge_ms).
// Measured on 2 cores: 24 users x 8 watchers converge in 1-7 s, 150 users in up to ~95 s,
// 500 users (4,500 devices) p50 88 s, p99 224 s, max 244 s (docs/benchmarks.md).
std::chrono::milliseconds WatchConvergeDeadline(int parallel);

class Device {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  using ConfigTweak = std::function<void(oversqlite::Config&)>;

  // Creates the tables in the file at `path` when missing, then the client, then Open().
  // `counters` collects this device's traffic (may be shared between devices).
  // Errors: kDatabase (schema), anything Client::CreateForPath/Open return.
  static Result<std::unique_ptr<Device>> Launch(const DeviceEnv& env, std::string name,
                                                std::filesystem::path path,
                                                std::shared_ptr<TrafficCounters> counters,
                                                ConfigTweak tweak = nullptr);

  Device(PrivateTag /*tag*/, const DeviceEnv& env, std::string name, std::filesystem::path path,
         std::shared_ptr<TrafficCounters> counters, ConfigTweak tweak);
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  Device(Device&&) = delete;
  Device& operator=(Device&&) = delete;
  ~Device();

  const std::string& name() const noexcept { return name_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  oversqlite::Client& client() { return *client_; }
  SimTransport& transport() { return *transport_; }
  bool running() const noexcept { return client_ != nullptr; }

  // Closes the client (the app is killed); the files stay.
  void Stop();
  // Stop + launch a new client on the same file (app restart). Re-attaches `user_` when set.
  Status Restart();
  // Stop + delete the database files (uninstall).
  Status Uninstall();

  // Attach loop (mobile_flow signIn): up to 8 attempts honouring retry_later.
  Result<oversqlite::AttachResult> SignIn(std::string_view user_id);
  Result<oversqlite::DetachResult> Detach();

  // Timed client calls. Push/Pull retry transient failures up to 5 times with linear 0.5 s
  // backoff (mobile_flow pushPending/pullToStable); the *Once variants do not retry.
  Result<oversqlite::PushReport> Push();
  Result<oversqlite::PushReport> PushOnce();
  Result<oversqlite::RemoteSyncReport> Pull();
  Result<oversqlite::RemoteSyncReport> PullOnce();
  Result<oversqlite::RemoteSyncReport> Rebuild();
  // Push then Pull.
  Status SyncRound();

  // SQL on the application's handle. Errors: kDatabase with SQLite's message.
  Status Exec(std::string_view sql);
  Result<std::string> Text(std::string_view sql);  // first column of the first row; "" if none
  Result<std::int64_t> Int(std::string_view sql);
  Result<std::vector<std::string>> Column(std::string_view sql);  // first column of every row

  Result<std::int64_t> Count(std::string_view table);
  Result<std::int64_t> DirtyRows();   // the pending badge
  Result<std::int64_t> Checkpoint();  // _sync_attachment_state.last_bundle_seq_seen

 private:
  Status StartClient();
  bool IsTransient(const Status& status) const;

  const DeviceEnv env_;
  const std::string name_;
  const std::filesystem::path path_;
  const std::shared_ptr<TrafficCounters> counters_;
  const ConfigTweak tweak_;
  // The user the token provider signs for; shared with the client's threads.
  struct UserSlot {
    std::mutex mu;
    std::string user;  // guarded by mu
  };
  std::shared_ptr<UserSlot> user_slot_ = std::make_shared<UserSlot>();
  std::string user_;  // last signed-in user (Restart re-attaches it)
  std::shared_ptr<SimTransport> transport_;
  std::unique_ptr<oversqlite::Client> client_;
};

}  // namespace oversync::sim

#endif  // OVERSYNC_SIM_DEVICE_H_
