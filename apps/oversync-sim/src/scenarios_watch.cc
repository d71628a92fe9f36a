// Bundle-change watch scenarios (client.md §8, §10): watch-peer-push, watch-reconnect-catch-up,
// watch-default-off. The watcher runs the client's background loops; the writer syncs
// explicitly. A 30 s fallback interval means convergence within 5 s proves an event-driven pull.
#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "oversync/oversqlite/client.h"
#include "scenarios.h"

namespace oversync::sim {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kConvergeWithin{5000};

void WatchConfig(oversqlite::Config& config) {
  config.bundle_change_watch_mode = oversqlite::BundleChangeWatchMode::kAuto;
  config.watch_fallback_interval = milliseconds(30'000);
  config.backoff_min = milliseconds(25);
  config.backoff_max = milliseconds(250);
}

// Polls `done` every 25 ms until it returns true, an error, or `timeout` passes.
Result<bool> WaitFor(const std::function<Result<bool>()>& done, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    OVERSYNC_ASSIGN_OR_RETURN(bool ok, done());
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(25));
  }
}

// The writer inserts one user and syncs; returns its checkpoint (the bundle seq it committed).
Result<std::int64_t> WriteAndSync(Device& writer, int n) {
  OVERSYNC_RETURN_IF_ERROR(writer.Exec(fmt::format(
      "INSERT INTO users (id, name, email, created_at, updated_at) VALUES ('{}', 'watched-{}', "
      "'watched-{}@example.com', '{}', '{}')",
      Uuid(n), n, n, Stamp(n), Stamp(n))));
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::PushReport pushed, writer.Push());
  if (pushed.outcome != oversqlite::PushOutcome::kCommitted) {
    return Error(Failed(fmt::format("writer push outcome {}, want committed",
                                    oversqlite::PushOutcomeName(pushed.outcome))));
  }
  return writer.Checkpoint();
}

// Waits until the watcher holds user `n` and has seen `seq`; the reason on timeout.
Status ExpectWatcherConverges(ScenarioContext& ctx, Device& watcher, int n, std::int64_t seq,
                              std::string_view how) {
  const auto start = std::chrono::steady_clock::now();
  OVERSYNC_ASSIGN_OR_RETURN(
      bool converged,
      WaitFor(
          [&]() -> Result<bool> {
            OVERSYNC_ASSIGN_OR_RETURN(
                std::int64_t rows,
                watcher.Int(fmt::format("SELECT count(*) FROM users WHERE id = '{}'", Uuid(n))));
            // Read through the app's handle: the client's own getter would
            // contend with the background loops for the operation lock.
            OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seen, watcher.Checkpoint());
            return rows == 1 && seen >= seq;
          },
          kConvergeWithin));
  const auto waited =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  ctx.Count("watch_converge_ms", waited);
  OVERSYNC_SIM_EXPECT(converged, "watcher did not converge to bundle {} within {} ms ({})", seq,
                      kConvergeWithin.count(), how);
  ctx.Note(fmt::format("watcher converged to bundle {} in {} ms ({})", seq, waited, how));
  return {};
}

// Waits until the watcher's stream is open (its transport saw GET /sync/watch).
Status WaitForWatchStream(ScenarioContext& ctx, std::int64_t at_least) {
  OVERSYNC_ASSIGN_OR_RETURN(
      bool open,
      WaitFor([&]() -> Result<bool> { return ctx.traffic().watch_requests.load() >= at_least; },
              kConvergeWithin));
  OVERSYNC_SIM_EXPECT(open, "the watcher never opened /sync/watch");
  // The request is sent; give the server a moment to register the subscriber.
  std::this_thread::sleep_for(milliseconds(200));
  return {};
}

}  // namespace

Status RunWatchPeerPush(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * writer, ctx.NewDevice("writer"));
  OVERSYNC_RETURN_IF_ERROR(writer->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", WatchConfig));
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(WaitForWatchStream(ctx, 1));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seq, WriteAndSync(*writer, 1));
  OVERSYNC_RETURN_IF_ERROR(ExpectWatcherConverges(ctx, *watcher, 1, seq, "peer push event"));
  watcher->client().StopBackground();
  return ExpectServerCount(ctx, ctx.user(), "users", 1);
}

Status RunWatchReconnectCatchUp(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * writer, ctx.NewDevice("writer"));
  OVERSYNC_RETURN_IF_ERROR(writer->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", WatchConfig));
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(WaitForWatchStream(ctx, 1));
  watcher->client().StopBackground();
  // Written while the watcher is disconnected: only the catch-up event on reconnect tells it.
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seq, WriteAndSync(*writer, 1));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t before, watcher->Checkpoint());
  OVERSYNC_SIM_EXPECT(before < seq, "the stopped watcher already saw bundle {}", seq);
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(ExpectWatcherConverges(ctx, *watcher, 1, seq, "reconnect catch-up"));
  watcher->client().StopBackground();
  return {};
}

Status RunWatchDefaultOff(ScenarioContext& ctx) {
  const auto polling = [](oversqlite::Config& config) {
    config.backoff_min = milliseconds(100);
    config.backoff_max = milliseconds(500);
  };
  OVERSYNC_ASSIGN_OR_RETURN(Device * writer, ctx.NewDevice("writer", polling));
  OVERSYNC_RETURN_IF_ERROR(writer->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", polling));
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seq, WriteAndSync(*writer, 1));
  OVERSYNC_RETURN_IF_ERROR(ExpectWatcherConverges(ctx, *watcher, 1, seq, "polling"));
  watcher->client().StopBackground();
  const std::int64_t watch_requests = ctx.traffic().watch_requests.load();
  OVERSYNC_SIM_EXPECT(watch_requests == 0, "default mode opened /sync/watch {} times",
                      watch_requests);
  return {};
}

}  // namespace oversync::sim
