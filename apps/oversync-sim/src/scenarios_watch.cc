// Bundle-change watch scenarios (client.md §8, §10): watch-peer-push, watch-server-originated,
// watch-reconnect-catch-up, watch-default-off, watch-server-unsupported-fallback,
// watch-idle-cleanup, watch-many-clients-converge. The watchers run the client's background
// loops; the writer syncs explicitly. The watchers' fallback poll interval (1 h) is longer than
// any watch scenario runs, so no timer pull can happen during one: converging at all proves a
// pull driven by the watch (an event, or the catch-up pull of a reconnect), and the deadline
// (5 s for up to 4 concurrent users, else 600 s, see DeviceEnv::watch_converge_within) bounds
// its latency under load. Subscriber counts come from the reference server's
// GET /test/watch-subscribers (process-local; a server without it skips those checks).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/protocol/json_value.h"
#include "oversync/server/runtime_service.h"
#include "oversync/server/sync_transaction.h"
#include "scenarios.h"

namespace oversync::sim {
namespace {

using std::chrono::milliseconds;

void WatchConfig(oversqlite::Config& config) {
  config.bundle_change_watch_mode = oversqlite::BundleChangeWatchMode::kAuto;
  config.watch_fallback_interval = milliseconds(3'600'000);  // never within a scenario
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
          ctx.env().watch_converge_within));
  const auto waited =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  ctx.Count("watch_converge_ms", waited);
  OVERSYNC_SIM_EXPECT(converged, "watcher did not converge to bundle {} within {} ms ({})", seq,
                      ctx.env().watch_converge_within.count(), how);
  ctx.Note(fmt::format("watcher converged to bundle {} in {} ms ({})", seq, waited, how));
  return {};
}

// Waits until the watcher's stream is open (its transport saw GET /sync/watch).
Status WaitForWatchStream(ScenarioContext& ctx, std::int64_t at_least) {
  OVERSYNC_ASSIGN_OR_RETURN(
      bool open,
      WaitFor([&]() -> Result<bool> { return ctx.traffic().watch_requests.load() >= at_least; },
              ctx.env().watch_converge_within));
  OVERSYNC_SIM_EXPECT(open, "the watcher never opened /sync/watch");
  // The request is sent; give the server a moment to register the subscriber.
  std::this_thread::sleep_for(milliseconds(200));
  return {};
}

// The server's watch subscriber count for the scenario's user (GET /test/watch-subscribers of
// the reference server); nullopt when the server has no such endpoint.
Result<std::optional<std::int64_t>> WatchSubscribers(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(std::shared_ptr<oversqlite::Transport> http,
                            oversqlite::MakeCurlTransport());
  oversqlite::HttpRequest request;
  request.method = "GET";
  request.url = fmt::format("{}/test/watch-subscribers?user_id={}", ctx.env().base_url,
                            ctx.user());
  request.timeout_ms = 5'000;
  OVERSYNC_ASSIGN_OR_RETURN(oversqlite::HttpResponse response, http->Send(request));
  if (response.status == 404 || response.status == 405) return std::optional<std::int64_t>();
  OVERSYNC_SIM_REQUIRE(response.status == 200, "GET /test/watch-subscribers answered {}: {}",
                      response.status, response.body);
  OVERSYNC_ASSIGN_OR_RETURN(protocol::JsonValue body, protocol::ParseJson(response.body));
  const protocol::JsonValue* count = body.is_object() ? body.Find("subscriber_count") : nullptr;
  OVERSYNC_SIM_REQUIRE(count != nullptr && count->is_number(),
                      "GET /test/watch-subscribers: no subscriber_count in {}", response.body);
  return std::optional<std::int64_t>(static_cast<std::int64_t>(count->as_number().value));
}

// Polls the subscriber count until it equals `want` (bounded by the convergence deadline). Returns false
// (after a note) when the server cannot report it.
Result<bool> ExpectSubscribers(ScenarioContext& ctx, std::int64_t want, std::string_view when) {
  std::int64_t last = -1;
  bool supported = true;
  OVERSYNC_ASSIGN_OR_RETURN(
      bool reached, WaitFor(
                        [&]() -> Result<bool> {
                          OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::int64_t> n,
                                                    WatchSubscribers(ctx));
                          if (!n.has_value()) {
                            supported = false;
                            return true;
                          }
                          last = *n;
                          return *n == want;
                        },
                        ctx.env().watch_converge_within));
  if (!supported) {
    ctx.Note("SKIPPED subscriber count checks: the server has no /test/watch-subscribers");
    ctx.Count("subscriber_checks_skipped", 1);
    return false;
  }
  OVERSYNC_SIM_REQUIRE(reached, "{}: the server shows {} watch subscribers, want {} (waited {} ms)",
                      when, last, want, ctx.env().watch_converge_within.count());
  ctx.Note(fmt::format("{}: server shows {} watch subscribers", when, want));
  return true;
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

namespace oversync::sim {

Status RunWatchServerOriginated(ScenarioContext& ctx) {
  if (ctx.service() == nullptr) {
    ctx.Note("SKIPPED: a server-side write needs the in-process server (RuntimeService::ExecWrite)");
    ctx.Count("skipped", 1);
    return {};
  }
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", WatchConfig));
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(WaitForWatchStream(ctx, 1));
  OVERSYNC_RETURN_IF_ERROR(ExpectSubscribers(ctx, 1, "watcher connected"));
  // A server-originated bundle (PostgreSQL NOTIFY path), not a client push.
  OVERSYNC_ASSIGN_OR_RETURN(
      ScopeWriteResult written,
      ctx.service()->ExecWrite(ctx.user(), "sim-server-writer", [](SyncTransaction& tx) -> Status {
        Result<SqlRows> rows = tx.Exec(
            "INSERT INTO business.users (id, name, email) VALUES ($1::uuid, 'server-written', "
            "'server@example.com')",
            {Uuid(1)});
        return rows.has_value() ? Status() : rows.error();
      }));
  OVERSYNC_RETURN_IF_ERROR(ExpectWatcherConverges(ctx, *watcher, 1, written.bundle.bundle_seq,
                                                  "server-originated write"));
  OVERSYNC_RETURN_IF_ERROR(ExpectDeviceValue(*watcher, "users", Uuid(1), "name", "server-written"));
  watcher->client().StopBackground();
  return ExpectServerCount(ctx, ctx.user(), "users", 1);
}

Status RunWatchServerUnsupportedFallback(ScenarioContext& ctx) {
  const auto watch_polling = [](oversqlite::Config& config) {
    WatchConfig(config);
    // The polling fallback when the server does not advertise watch: the downloader's backoff.
    config.backoff_min = milliseconds(100);
    config.backoff_max = milliseconds(500);
  };
  OVERSYNC_ASSIGN_OR_RETURN(Device * writer, ctx.NewDevice("writer"));
  OVERSYNC_RETURN_IF_ERROR(writer->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", watch_polling));
  // A proxy in front of the watcher that claims the server has no bundle_change_watch.
  watcher->transport().SetHideWatchCapability(true);
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seq, WriteAndSync(*writer, 1));
  OVERSYNC_RETURN_IF_ERROR(
      ExpectWatcherConverges(ctx, *watcher, 1, seq, "polling, watch not advertised"));
  watcher->client().StopBackground();
  const std::int64_t rewritten = watcher->transport().capabilities_rewritten();
  OVERSYNC_SIM_EXPECT(rewritten >= 1, "the proxy never rewrote /sync/capabilities");
  const std::int64_t watch_requests = ctx.traffic().watch_requests.load();
  OVERSYNC_SIM_EXPECT(watch_requests == 0,
                      "watch-auto client opened /sync/watch {} times although the server did not "
                      "advertise it",
                      watch_requests);
  return {};
}

Status RunWatchIdleCleanup(ScenarioContext& ctx) {
  OVERSYNC_ASSIGN_OR_RETURN(Device * watcher, ctx.NewDevice("watcher", WatchConfig));
  OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
  OVERSYNC_ASSIGN_OR_RETURN(bool supported, ExpectSubscribers(ctx, 0, "before the watcher"));
  OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(WaitForWatchStream(ctx, 1));
  if (supported) OVERSYNC_RETURN_IF_ERROR(ExpectSubscribers(ctx, 1, "watcher idle"));
  // Cancelled without a single event.
  const auto stop_start = std::chrono::steady_clock::now();
  watcher->client().StopBackground();
  ctx.Note(fmt::format("StopBackground took {} ms",
                       std::chrono::duration_cast<milliseconds>(
                           std::chrono::steady_clock::now() - stop_start).count()));
  if (supported) OVERSYNC_RETURN_IF_ERROR(ExpectSubscribers(ctx, 0, "after the watcher stopped"));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seen, watcher->Checkpoint());
  OVERSYNC_SIM_EXPECT(seen == 0, "the idle watcher moved its checkpoint to {}", seen);
  return {};
}

Status RunWatchManyClientsConverge(ScenarioContext& ctx) {
  constexpr int kWatchers = 8;
  OVERSYNC_ASSIGN_OR_RETURN(Device * writer, ctx.NewDevice("writer"));
  OVERSYNC_RETURN_IF_ERROR(writer->SignIn(ctx.user()));
  std::vector<Device*> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    OVERSYNC_ASSIGN_OR_RETURN(Device * watcher,
                              ctx.NewDevice(fmt::format("watcher-{}", i + 1), WatchConfig));
    OVERSYNC_RETURN_IF_ERROR(watcher->SignIn(ctx.user()));
    watchers.push_back(watcher);
  }
  for (Device* watcher : watchers) OVERSYNC_RETURN_IF_ERROR(watcher->client().StartBackground());
  OVERSYNC_RETURN_IF_ERROR(WaitForWatchStream(ctx, kWatchers));
  OVERSYNC_ASSIGN_OR_RETURN(bool supported, ExpectSubscribers(ctx, kWatchers, "watchers connected"));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seq, WriteAndSync(*writer, 1));
  const auto start = std::chrono::steady_clock::now();
  for (Device* watcher : watchers) {
    // One shared deadline: every watcher must converge within the deadline of the write.
    const auto left = ctx.env().watch_converge_within - std::chrono::duration_cast<milliseconds>(
                                            std::chrono::steady_clock::now() - start);
    OVERSYNC_ASSIGN_OR_RETURN(
        bool converged,
        WaitFor(
            [&]() -> Result<bool> {
              OVERSYNC_ASSIGN_OR_RETURN(
                  std::int64_t rows,
                  watcher->Int(fmt::format("SELECT count(*) FROM users WHERE id = '{}'", Uuid(1))));
              OVERSYNC_ASSIGN_OR_RETURN(std::int64_t seen, watcher->Checkpoint());
              return rows == 1 && seen >= seq;
            },
            std::max(left, milliseconds(0))));
    OVERSYNC_SIM_EXPECT(converged, "{} did not converge to bundle {} within {} ms",
                        watcher->name(), seq, ctx.env().watch_converge_within.count());
  }
  const auto waited =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  ctx.Count("watch_converge_ms", waited);
  ctx.Note(fmt::format("{} watchers converged to bundle {} in {} ms", kWatchers, seq, waited));
  {
    // Stopped concurrently: each stop waits for its stream's cancellation (libcurl notices it
    // at its next progress callback, up to ~1 s on an idle stream).
    std::vector<std::thread> stops;
    stops.reserve(watchers.size());
    for (Device* watcher : watchers) {
      stops.emplace_back([watcher] { watcher->client().StopBackground(); });
    }
    for (std::thread& stop : stops) stop.join();
  }
  if (supported) OVERSYNC_RETURN_IF_ERROR(ExpectSubscribers(ctx, 0, "after cleanup"));
  return {};
}

}  // namespace oversync::sim
