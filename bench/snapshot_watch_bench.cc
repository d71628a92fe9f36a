// Snapshot sessions over large scopes and bundle-change watch wake-up latency, against a real
// PostgreSQL. Needs OVERSYNC_TEST_DSN: run through scripts/with-postgres.sh.
//
//   BM_SnapshotCreateAndRead/<rows>  one scope (user) whose registered table business.items holds
//       <rows> live rows (seeded untimed through RuntimeService::ExecWrite, one 100,000-row
//       INSERT ... SELECT FROM generate_series per bundle). Timed: CreateSnapshotSession, every
//       chunk through GetSnapshotChunkBody (5,000 rows each, the default max) until has_more is
//       false, DeleteSnapshotSession. Counters: rows/s over create + read, create_s / read_s per
//       run, create_rows/s, and the client process memory (see "Memory" below). The seeded tables
//       are ANALYZEd first (autovacuum would have done so about a minute after such a write).
//   BM_SnapshotCreateAndReadUnanalyzed/<rows>  the same without that ANALYZE (autovacuum off for
//       business.items and sync.row_state): the planner still sees the statistics of the empty
//       tables, as for a scope that just grew. Kept small (1,000 rows; 4,000 with --large): the
//       materialization then runs as a nested loop that is quadratic in the scope size.
//   BM_WatchWakeupLatency/200  200 watchers (BundleChangeSubscription), 10 on each of 20 users,
//       each blocked in Next() on its own thread; one driver commits 1-row push bundles round
//       robin over the 20 users at 20 commits/s for 5 s (open loop: 100 commits, 1,000 expected
//       events). Latency = event arrival in the watcher - the driver's steady_clock right after
//       CommitPushSession returned. NOTIFY is delivered at transaction commit, before the commit
//       call has returned, so a watcher can see its event "before" the commit completed: such
//       negative latencies are clamped to 0 (counted in `clamped`). Counters: p50_ms, p99_ms,
//       max_ms, events (matched), missed (expected events never seen: coalesced or lost).
//
// Sizes. The plain run (what scripts/test.sh smoke-runs with --benchmark_min_time=0.01) registers
// only the small scopes (1,000 rows) and the watch benchmark (about 10 s in all). --large (a flag
// of this program, removed before Google Benchmark parses the rest) also registers 100,000 and
// 1,000,000 rows (one iteration each; seeding 1,000,000 rows takes minutes on a small machine).
//
// Memory. VmHWM (peak RSS) is process-wide and includes the seeding, which holds a whole
// 100,000-row bundle while it is finalized. So before the timed loop the peak is reset (writing
// 5 to /proc/self/clear_refs; hwm_reset = 1 when that worked), after malloc_trim(0) returned the
// heap the seeding freed, and the counters are:
//   setup_peak_mib  VmHWM before the reset (seeding included)
//   rss_before_mib  VmRSS right before the timed loop (after the trim)
//   rss_delta_mib   VmRSS after - before the timed loop
//   peak_rss_mib    VmHWM after the timed loop: the peak of the timed part when hwm_reset = 1
//   peak_delta_mib  peak_rss_mib - rss_before_mib: what the timed part needed on top
// The PostgreSQL backends' memory is not measured (the copy is materialized inside PostgreSQL).
// To compare scope sizes, run each one in a fresh process:
//   B=build/ci/bench/oversync_snapshot_watch_bench
//   scripts/with-postgres.sh $B --large --benchmark_filter='BM_SnapshotCreateAndRead/100000/'
//   scripts/with-postgres.sh $B --large --benchmark_filter='BM_SnapshotCreateAndRead/1000000/'
//   scripts/with-postgres.sh $B --benchmark_filter=BM_WatchWakeupLatency
// (the trailing '/' keeps /100000 from also matching /1000000).
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "oversync/common/random.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/json_value.h"
#include "oversync/server/runtime_service.h"
#include "oversync/testing/pg_test_database.h"
#include "bench_support.h"

namespace {

using namespace oversync;  // NOLINT(google-build-using-namespace): benchmark file
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSeedRowsPerBundle = 100000;
constexpr std::int64_t kSnapshotChunkRows = 5000;

Result<bench::Env> MakeEnv(int max_connections, bool watch) {
  ServiceConfig config;
  config.registered_tables = {{"business", "items", {"id"}}};
  config.bundle_change_watch.enabled = watch;
  return bench::MakeEnv(
      "CREATE SCHEMA business; CREATE TABLE business.items (_sync_scope_id TEXT NOT NULL, id UUID "
      "NOT NULL, name TEXT, qty INTEGER, price NUMERIC(12,2), note TEXT, "
      "PRIMARY KEY (_sync_scope_id, id))",
      std::move(config), max_connections);
}

// `rows` live rows in `scope`, as bundles of kSeedRowsPerBundle rows written by the server (the
// capture triggers record row_state like for any other write). The note is 60 bytes.
Status SeedItems(RuntimeService& service, const std::string& scope, std::int64_t rows) {
  for (std::int64_t first = 1; first <= rows; first += kSeedRowsPerBundle) {
    const std::int64_t last = std::min(rows, first + kSeedRowsPerBundle - 1);
    auto written = service.ExecWrite(scope, "bench-seeder", [&](SyncTransaction& tx) -> Status {
      OVERSYNC_ASSIGN_OR_RETURN(
          SqlRows inserted,
          tx.Exec("INSERT INTO business.items (id, name, qty, price, note) "
                  "SELECT gen_random_uuid(), 'item ' || g, g % 1000, (g % 100000) / 100.0, "
                  "left(repeat(md5(g::text), 2), 60) FROM generate_series($1::int, $2::int) g",
                  {std::to_string(first), std::to_string(last)}));
      if (inserted.affected_rows() != last - first + 1) {
        return {ErrorCode::kInternal, fmt::format("seed inserted {} rows, expected {}",
                                                  inserted.affected_rows(), last - first + 1)};
      }
      return {};
    });
    if (!written) return written.error();
  }
  return {};
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); 0 when unreadable.
std::int64_t ProcStatusKib(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() <= field.size() || line.compare(0, field.size(), field) != 0 ||
        line[field.size()] != ':') {
      continue;
    }
    std::size_t pos = field.size() + 1;
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    std::int64_t kib = 0;
    std::from_chars(line.data() + pos, line.data() + line.size(), kib);
    return kib;
  }
  return 0;
}

double Mib(std::int64_t kib) { return static_cast<double>(kib) / 1024.0; }

// Resets VmHWM to the current RSS (Linux >= 4.0). False when the kernel refused.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

// The integer after `"name":` (searched from the end: the members follow the rows array).
std::optional<std::int64_t> TrailingInt(std::string_view body, std::string_view name) {
  const std::string key = fmt::format("\"{}\":", name);
  const std::size_t pos = body.rfind(key);
  if (pos == std::string_view::npos) return std::nullopt;
  const char* begin = body.data() + pos + key.size();
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(begin, body.data() + body.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

std::optional<bool> TrailingBool(std::string_view body, std::string_view name) {
  const std::string key = fmt::format("\"{}\":", name);
  const std::size_t pos = body.rfind(key);
  if (pos == std::string_view::npos) return std::nullopt;
  const std::string_view rest = body.substr(pos + key.size());
  if (rest.substr(0, 4) == "true") return true;
  if (rest.substr(0, 5) == "false") return false;
  return std::nullopt;
}

// `analyze`: ANALYZE the seeded tables before the timed part (what autovacuum does within about a
// minute of a large write); without it autovacuum is switched off for them, so the planner keeps
// the empty-table statistics of a scope that just grew.
void SnapshotCreateAndRead(benchmark::State& state, bool analyze) {
  const std::int64_t rows = state.range(0);
  auto env = MakeEnv(4, false);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  if (!analyze) {
    auto off = env->db->QueryScalar(
        "ALTER TABLE business.items SET (autovacuum_enabled = false); "
        "ALTER TABLE sync.row_state SET (autovacuum_enabled = false)");
    if (!off) {
      state.SkipWithError(off.error().ToString().c_str());
      return;
    }
  }
  const std::string scope = "bench-user";
  if (Status st = SeedItems(*env->service, scope, rows); !st.ok()) {
    state.SkipWithError(st.ToString().c_str());
    return;
  }
  auto count = env->db->QueryScalar("SELECT count(*) FROM business.items");
  if (!count || *count != std::to_string(rows)) {
    state.SkipWithError("seeding did not produce the expected row count");
    return;
  }
  if (analyze) {
    auto analyzed = env->db->QueryScalar("ANALYZE business.items; ANALYZE sync.row_state");
    if (!analyzed) {
      state.SkipWithError(analyzed.error().ToString().c_str());
      return;
    }
  }
  const Actor actor{scope, "bench-device"};

  const std::int64_t setup_peak_kib = ProcStatusKib("VmHWM");
  // Give the heap the seeding freed back to the kernel, so the timed part's growth shows in RSS
  // instead of reusing already resident free memory.
  malloc_trim(0);
  const bool hwm_reset = ResetPeakRss();
  const std::int64_t rss_before_kib = ProcStatusKib("VmRSS");
  double create_s = 0;
  double read_s = 0;
  std::int64_t chunks = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto session = env->service->CreateSnapshotSession(actor, {});
    const auto t1 = Clock::now();
    if (!session) {
      state.SkipWithError(session.error().ToString().c_str());
      break;
    }
    if (session->row_count != rows) {
      state.SkipWithError(
          fmt::format("snapshot row_count {}, expected {}", session->row_count, rows).c_str());
      break;
    }
    std::int64_t after = 0;
    bool has_more = true;
    std::string error;
    while (has_more) {
      auto body = env->service->GetSnapshotChunkBody(actor, session->snapshot_id,
                                                     {after, kSnapshotChunkRows});
      if (!body) {
        error = body.error().ToString();
        break;
      }
      const auto next = TrailingInt(*body, "next_row_ordinal");
      const auto more = TrailingBool(*body, "has_more");
      if (!next || !more || (*next <= after && *more)) {
        error = "unexpected snapshot chunk body";
        break;
      }
      after = *next;
      has_more = *more;
      bytes += static_cast<std::int64_t>(body->size());
      ++chunks;
    }
    const auto t2 = Clock::now();
    if (error.empty() && after != rows) {
      error = fmt::format("read {} snapshot rows, expected {}", after, rows);
    }
    const Status deleted = env->service->DeleteSnapshotSession(actor, session->snapshot_id);
    if (error.empty() && !deleted.ok()) error = deleted.ToString();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    create_s += std::chrono::duration<double>(t1 - t0).count();
    read_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const std::int64_t rss_after_kib = ProcStatusKib("VmRSS");
  const std::int64_t peak_kib = ProcStatusKib("VmHWM");
  if (state.iterations() == 0 || create_s <= 0) return;
  const auto runs = static_cast<double>(state.iterations());
  const double total_rows = runs * static_cast<double>(rows);
  state.SetBytesProcessed(bytes);
  state.counters["rows/s"] = total_rows / (create_s + read_s);
  state.counters["create_rows/s"] = total_rows / create_s;
  state.counters["create_s"] = create_s / runs;
  state.counters["read_s"] = read_s / runs;
  state.counters["chunks"] = static_cast<double>(chunks) / runs;
  state.counters["setup_peak_mib"] = Mib(setup_peak_kib);
  state.counters["hwm_reset"] = hwm_reset ? 1 : 0;
  state.counters["rss_before_mib"] = Mib(rss_before_kib);
  state.counters["rss_delta_mib"] = Mib(rss_after_kib - rss_before_kib);
  state.counters["peak_rss_mib"] = Mib(peak_kib);
  state.counters["peak_delta_mib"] = Mib(peak_kib - rss_before_kib);
}

void BM_SnapshotCreateAndRead(benchmark::State& state) { SnapshotCreateAndRead(state, true); }
void BM_SnapshotCreateAndReadUnanalyzed(benchmark::State& state) {
  SnapshotCreateAndRead(state, false);
}

protocol::PushRequestRow ItemRow(SeededRandom& random, int i) {
  const std::string id = Uuid::NewV4(random).ToString();
  return bench::InsertRow(
      "items", id,
      fmt::format(R"({{"id":"{}","name":"item {}","qty":{},"price":{}.25,"note":"watch"}})", id, i,
                  i % 1000, i % 500));
}

struct Commit {
  std::int64_t bundle_seq = 0;
  Clock::time_point done;  // steady_clock right after CommitPushSession returned
};

// A 1-row bundle (create -> chunk -> commit) as `actor`'s source bundle `sbid`.
Result<Commit> PushOneRow(RuntimeService& service, const Actor& actor, std::int64_t sbid,
                          protocol::PushRequestRow row) {
  std::vector<protocol::PushRequestRow> rows;
  rows.push_back(std::move(row));
  Commit commit;
  OVERSYNC_RETURN_IF_ERROR(
      bench::PushRows(service, actor, sbid, std::move(rows), 1, nullptr, &commit.bundle_seq));
  commit.done = Clock::now();
  return commit;
}

struct Arrival {
  std::int64_t bundle_seq = 0;
  Clock::time_point at;
};

// 10 watchers per user, so every commit fans out to 10 subscribers of one scope; the watcher
// count must be a multiple of kWatchUsers.
constexpr int kWatchUsers = 20;
constexpr int kCommitsPerSecond = 20;
constexpr int kCommitSeconds = 5;
// How long watchers keep waiting for the last commits' events after the driver finished.
constexpr std::chrono::seconds kDrainTimeout{10};

void BM_WatchWakeupLatency(benchmark::State& state) {
  const int watchers = static_cast<int>(state.range(0));
  if (watchers <= 0 || watchers % kWatchUsers != 0) {
    state.SkipWithError("watcher count must be a positive multiple of 20");
    return;
  }
  auto env = MakeEnv(8, true);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  RuntimeService& service = *env->service;
  const auto actor_of = [](int u) { return Actor{fmt::format("watch-user-{}", u), "device"}; };
  for (int u = 0; u < kWatchUsers; ++u) {
    auto connected = service.Connect(actor_of(u), {false});
    if (!connected) {
      state.SkipWithError(connected.error().ToString().c_str());
      return;
    }
  }
  SeededRandom random(7);
  std::vector<std::int64_t> head(kWatchUsers, 0);  // last bundle_seq committed per user
  std::vector<std::int64_t> next_sbid(kWatchUsers, 1);
  std::vector<double> latencies_ms;
  std::int64_t missed = 0;
  std::int64_t clamped = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<BundleChangeSubscription>> subscriptions;
    for (int w = 0; w < watchers; ++w) {
      const int u = w % kWatchUsers;
      auto subscription =
          service.SubscribeBundleChanges(actor_of(u), head[static_cast<std::size_t>(u)]);
      if (!subscription) {
        state.SkipWithError(subscription.error().ToString().c_str());
        break;
      }
      subscriptions.push_back(std::move(*subscription));
    }
    if (static_cast<int>(subscriptions.size()) != watchers) break;

    std::vector<std::vector<Arrival>> arrivals(static_cast<std::size_t>(watchers));
    std::vector<std::vector<Commit>> commits(kWatchUsers);
    std::vector<std::atomic<std::int64_t>> final_seq(kWatchUsers);
    for (std::size_t u = 0; u < final_seq.size(); ++u) final_seq[u] = head[u];
    std::atomic<bool> driver_done{false};
    Clock::time_point drain_deadline;  // written before driver_done is released
    std::atomic<int> watch_errors{0};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(watchers));
    for (int w = 0; w < watchers; ++w) {
      threads.emplace_back([&, w] {
        const auto u = static_cast<std::size_t>(w % kWatchUsers);
        BundleChangeSubscription& subscription = *subscriptions[static_cast<std::size_t>(w)];
        std::vector<Arrival>& mine = arrivals[static_cast<std::size_t>(w)];
        std::int64_t last_seen = 0;
        while (true) {
          auto event = subscription.Next(std::chrono::milliseconds(200));
          const auto at = Clock::now();
          if (!event) {
            ++watch_errors;
            return;
          }
          if (event->has_value()) {
            mine.push_back({(*event)->bundle_seq, at});
            last_seen = (*event)->bundle_seq;
          }
          if (driver_done.load(std::memory_order_acquire) &&
              (last_seen >= final_seq[u].load() || at > drain_deadline)) {
            return;
          }
        }
      });
    }

    // The driver: an open-loop schedule (a slow commit does not push the later ones back).
    std::string error;
    const auto period = std::chrono::microseconds(1000000 / kCommitsPerSecond);
    const auto start = Clock::now() + std::chrono::milliseconds(100);
    for (int k = 0; k < kCommitsPerSecond * kCommitSeconds && error.empty(); ++k) {
      std::this_thread::sleep_until(start + k * period);  // pacing the load, not synchronisation
      const auto u = static_cast<std::size_t>(k % kWatchUsers);
      auto commit =
          PushOneRow(service, actor_of(static_cast<int>(u)), next_sbid[u]++, ItemRow(random, k));
      if (!commit) {
        error = commit.error().ToString();
        break;
      }
      commits[u].push_back(*commit);
      head[u] = commit->bundle_seq;
      final_seq[u] = commit->bundle_seq;
    }
    drain_deadline = Clock::now() + kDrainTimeout;
    driver_done.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    subscriptions.clear();
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    if (watch_errors > 0) {
      state.SkipWithError("a watch subscription failed");
      break;
    }

    for (int w = 0; w < watchers; ++w) {
      const auto& user_commits = commits[static_cast<std::size_t>(w % kWatchUsers)];
      std::int64_t matched = 0;
      for (const Arrival& arrival : arrivals[static_cast<std::size_t>(w)]) {
        const auto it =
            std::find_if(user_commits.begin(), user_commits.end(),
                         [&](const Commit& c) { return c.bundle_seq == arrival.bundle_seq; });
        if (it == user_commits.end()) continue;  // not a bundle of this run
        ++matched;
        double ms = std::chrono::duration<double, std::milli>(arrival.at - it->done).count();
        if (ms < 0) {
          ++clamped;
          ms = 0;
        }
        latencies_ms.push_back(ms);
      }
      missed += static_cast<std::int64_t>(user_commits.size()) - matched;
    }
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1))];
  };
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["max_ms"] = latencies_ms.empty() ? 0.0 : latencies_ms.back();
  state.counters["events"] = static_cast<double>(latencies_ms.size());
  state.counters["missed"] = static_cast<double>(missed);
  state.counters["clamped"] = static_cast<double>(clamped);
}

void RegisterBenchmarks(bool large) {
  benchmark::RegisterBenchmark("BM_SnapshotCreateAndRead", BM_SnapshotCreateAndRead)
      ->Arg(1000)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  if (large) {
    benchmark::RegisterBenchmark("BM_SnapshotCreateAndRead", BM_SnapshotCreateAndRead)
        ->Arg(100000)
        ->Arg(1000000)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_SnapshotCreateAndReadUnanalyzed",
                               BM_SnapshotCreateAndReadUnanalyzed)
      ->Arg(1000)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  if (large) {
    benchmark::RegisterBenchmark("BM_SnapshotCreateAndReadUnanalyzed",
                                 BM_SnapshotCreateAndReadUnanalyzed)
        ->Arg(4000)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_WatchWakeupLatency", BM_WatchWakeupLatency)
      ->Arg(200)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  bool large = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--large") {
      large = true;
      continue;
    }
    args.push_back(argv[i]);
  }
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);
  RegisterBenchmarks(large);
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
