// Server runtime against a real PostgreSQL (issue: server runtime part 1). Needs
// OVERSYNC_TEST_DSN (run through scripts/with-postgres.sh); numbers go to docs/benchmarks.md.
//   BM_Commit10kRowBundle      create + 2 chunks of 5,000 + commit of 10,000 INSERT rows
//   BM_Commit10kRowUpdateDeleteBundle  the same for 5,000 UPDATEs + 5,000 DELETEs
//   BM_PullThroughput          serve 100 bundles x 100 rows (10,000 rows) as pull bodies, pages of 10 bundles
//   BM_SmallPushLatency/50     50 users concurrently pushing 1-row bundles; p50/p99 in ms
//   BM_BootstrapAdoption       Bootstrap of a fresh layout over populated tables (scopes x rows
//                              per scope adopted as baseline bundles, protocol-b.md §8.2)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
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

// Arg "profile_b" of the commit and pull benchmarks: 1 = jcs_uniform_numeric_strings_v1
// (numbers as strings, request hash, profile-B hash and rendering), 0 = go_canonical_v1.
Result<bench::Env> MakeEnv(int max_connections, bool profile_b = false) {
  ServiceConfig config;
  if (profile_b) config.wire_profile = "jcs_uniform_numeric_strings_v1";
  config.registered_tables = {{"business", "users", {"id"}}};
  return bench::MakeEnv(
      "CREATE SCHEMA business; CREATE TABLE business.users (_sync_scope_id TEXT NOT NULL, id UUID "
      "NOT NULL, name TEXT, email TEXT, age INTEGER, score NUMERIC, active BOOLEAN, "
      "PRIMARY KEY (_sync_scope_id, id))",
      std::move(config), max_connections);
}

protocol::PushRequestRow UserRow(SeededRandom& random, int i, bool profile_b = false) {
  const std::string id = Uuid::NewV4(random).ToString();
  // Profile B carries integers and numerics as strings (protocol-b.md §2).
  return bench::InsertRow(
      "users", id,
      fmt::format(fmt::runtime(profile_b
                      ? R"({{"id":"{}","name":"User {}","email":"u{}@example.com","age":"{}","score":"{}.5","active":true}})"
                      : R"({{"id":"{}","name":"User {}","email":"u{}@example.com","age":{},"score":{}.5,"active":true}})"),
                  id, i, i, i % 90, i % 1000));
}

// Sets the p50/p99 (ms) and sample-count counters of a latency benchmark.
void ReportLatencies(benchmark::State& state, std::vector<double>& latencies_ms) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size() - 1))];
  };
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["pushes"] = static_cast<double>(latencies_ms.size());
}

void BM_Commit10kRowBundle(benchmark::State& state) {
  const bool profile_b = state.range(0) == 1;
  auto env = MakeEnv(4, profile_b);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  const Actor actor{"bench-user", "bench-device"};
  (void)env->service->Connect(actor, {false});
  SeededRandom random(1);
  std::int64_t sbid = 0;
  int counter = 0;
  double commit_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<protocol::PushRequestRow> rows;
    rows.reserve(10000);
    for (int i = 0; i < 10000; ++i) rows.push_back(UserRow(random, counter++, profile_b));
    state.ResumeTiming();
    const Status st =
        bench::PushRows(*env->service, actor, ++sbid, std::move(rows), 5000, &commit_seconds);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  // rows/s: the whole upload (create + 2 chunks + commit); commit_rows/s: the commit call alone.
  bench::ReportRowRates(state, 10000, commit_seconds);
}
BENCHMARK(BM_Commit10kRowBundle)->Arg(0)->Arg(1)->ArgName("profile_b")->Unit(benchmark::kMillisecond)->UseRealTime();

// A 10,000-row bundle of 5,000 UPDATEs and 5,000 DELETEs over rows inserted (untimed) before:
// the conflict check against row_state, the set-based UPDATE and the pipelined per-row DELETEs.
void BM_Commit10kRowUpdateDeleteBundle(benchmark::State& state) {
  auto env = MakeEnv(4);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  const Actor actor{"bench-user", "bench-device"};
  (void)env->service->Connect(actor, {false});
  SeededRandom random(2);
  std::int64_t sbid = 0;
  int counter = 0;
  double commit_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<protocol::PushRequestRow> inserts;
    inserts.reserve(10000);
    for (int i = 0; i < 10000; ++i) inserts.push_back(UserRow(random, counter++));
    std::vector<protocol::PushRequestRow> changes;
    changes.reserve(10000);
    for (std::size_t i = 0; i < inserts.size(); ++i) {
      protocol::PushRequestRow row;
      row.schema = "business";
      row.table = "users";
      row.key = inserts[i].key;
      if (i % 2 == 0) {
        row.op = "UPDATE";
        row.payload_present = true;
        row.payload = protocol::ParseJson(R"({"name":"renamed","age":42})").value();
      } else {
        row.op = "DELETE";
      }
      changes.push_back(std::move(row));
    }
    std::int64_t inserted_seq = 0;
    Status st = bench::PushRows(*env->service, actor, ++sbid, std::move(inserts), 5000, nullptr,
                         &inserted_seq);
    for (auto& row : changes) row.base_row_version = inserted_seq;
    state.ResumeTiming();
    if (st.ok()) st = bench::PushRows(*env->service, actor, ++sbid, std::move(changes), 5000, &commit_seconds);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  bench::ReportRowRates(state, 10000, commit_seconds);
}
BENCHMARK(BM_Commit10kRowUpdateDeleteBundle)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PullThroughput(benchmark::State& state) {
  const bool profile_b = state.range(0) == 1;
  auto env = MakeEnv(4, profile_b);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  const Actor actor{"bench-user", "bench-device"};
  (void)env->service->Connect(actor, {false});
  SeededRandom random(2);
  for (int b = 1; b <= 100; ++b) {
    std::vector<protocol::PushRequestRow> rows;
    for (int i = 0; i < 100; ++i) rows.push_back(UserRow(random, b * 100 + i, profile_b));
    const Status st = bench::PushRows(*env->service, actor, b, std::move(rows), 1000);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      return;
    }
  }
  // Sanity check outside the timing: a full pull returns all 10,000 rows.
  {
    std::int64_t rows = 0;
    auto page = env->service->ProcessPull(actor, {0, 1000, 0});
    if (!page) {
      state.SkipWithError(page.error().ToString().c_str());
      return;
    }
    for (const auto& bundle : page->bundles) rows += static_cast<std::int64_t>(bundle.rows.size());
    if (rows != 10000 || page->has_more) {
      state.SkipWithError("unexpected pull content");
      return;
    }
  }
  // What the HTTP handler serves: the encoded body, 10 pages of 10 bundles.
  std::int64_t bytes = 0;
  for (auto _ : state) {
    for (std::int64_t after = 0; after < 100; after += 10) {
      auto body = env->service->ProcessPullBody(actor, {after, 10, 100});
      if (!body) {
        state.SkipWithError(body.error().ToString().c_str());
        return;
      }
      bytes += static_cast<std::int64_t>(body->size());
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * 10000),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PullThroughput)->Arg(0)->Arg(1)->ArgName("profile_b")->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SmallPushLatency(benchmark::State& state) {
  const int users = static_cast<int>(state.range(0));
  auto env = MakeEnv(20);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  for (int u = 0; u < users; ++u) {
    (void)env->service->Connect({fmt::format("user-{}", u), "device"}, {false});
  }
  std::vector<double> latencies_ms;
  std::int64_t round = 0;
  for (auto _ : state) {
    ++round;
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(users));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int u = 0; u < users; ++u) {
      threads.emplace_back([&, u] {
        SeededRandom random(static_cast<std::uint64_t>(u * 1000 + round));
        const Actor actor{fmt::format("user-{}", u), "device"};
        for (int k = 0; k < 4; ++k) {
          std::vector<protocol::PushRequestRow> rows{UserRow(random, k)};
          const auto start = std::chrono::steady_clock::now();
          const Status st = bench::PushRows(*env->service, actor, (round - 1) * 4 + k + 1, std::move(rows), 1);
          const auto end = std::chrono::steady_clock::now();
          if (!st.ok()) ++failures;
          per_thread[static_cast<std::size_t>(u)].push_back(
              std::chrono::duration<double, std::milli>(end - start).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failures > 0) state.SkipWithError("push failed");
    for (auto& v : per_thread) latencies_ms.insert(latencies_ms.end(), v.begin(), v.end());
  }
  ReportLatencies(state, latencies_ms);
}
BENCHMARK(BM_SmallPushLatency)->Arg(50)->Unit(benchmark::kMillisecond)->UseRealTime();

// 50 users, each pushing a 1-row bundle every 500 ms (100 pushes/s in aggregate, open loop:
// a late push does not delay the schedule) for 5 s: latency under a steady realistic load rather
// than the saturation of the closed loop above.
void BM_SmallPushLatencyPaced(benchmark::State& state) {
  const int users = static_cast<int>(state.range(0));
  auto env = MakeEnv(20);
  if (!env) {
    state.SkipWithError(env.error().ToString().c_str());
    return;
  }
  for (int u = 0; u < users; ++u) {
    (void)env->service->Connect({fmt::format("user-{}", u), "device"}, {false});
  }
  std::vector<double> latencies_ms;
  std::int64_t sbid_base = 0;
  for (auto _ : state) {
    constexpr int kPushesPerUser = 10;
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(users));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    const auto t0 = std::chrono::steady_clock::now();
    for (int u = 0; u < users; ++u) {
      threads.emplace_back([&, u] {
        SeededRandom random(static_cast<std::uint64_t>(u * 7919 + sbid_base));
        const Actor actor{fmt::format("user-{}", u), "device"};
        // Stagger users evenly over the 500 ms period.
        auto next = t0 + std::chrono::microseconds(500000LL * u / users);
        for (int k = 0; k < kPushesPerUser; ++k) {
          std::this_thread::sleep_until(next);  // pacing the load generator, not synchronisation
          next += std::chrono::milliseconds(500);
          std::vector<protocol::PushRequestRow> rows{UserRow(random, k)};
          const auto start = std::chrono::steady_clock::now();
          const Status st = bench::PushRows(*env->service, actor, sbid_base + k + 1, std::move(rows), 1);
          const auto end = std::chrono::steady_clock::now();
          if (!st.ok()) ++failures;
          per_thread[static_cast<std::size_t>(u)].push_back(
              std::chrono::duration<double, std::milli>(end - start).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    sbid_base += kPushesPerUser;
    if (failures > 0) state.SkipWithError("push failed");
    for (auto& v : per_thread) latencies_ms.insert(latencies_ms.end(), v.begin(), v.end());
  }
  ReportLatencies(state, latencies_ms);
}
BENCHMARK(BM_SmallPushLatencyPaced)->Arg(50)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Bootstrap (layout creation + adoption) over `scopes` x `rows_per_scope` existing rows; only
// RuntimeService::Create + Bootstrap is timed (the database and its rows are prepared untimed).
void BM_BootstrapAdoption(benchmark::State& state) {
  const auto scopes = state.range(0);
  const auto rows_per_scope = state.range(1);
  const bool profile_b = state.range(2) != 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto db = testing::PgTestDatabase::Create();
    if (!db) {
      state.SkipWithError(db.error().ToString().c_str());
      return;
    }
    auto seeded = (*db)->QueryScalar(fmt::format(
        "CREATE SCHEMA business; CREATE TABLE business.users (_sync_scope_id TEXT NOT NULL, id UUID "
        "NOT NULL, name TEXT, email TEXT, age INTEGER, score NUMERIC, active BOOLEAN, "
        "PRIMARY KEY (_sync_scope_id, id)); "
        "INSERT INTO business.users SELECT 'scope-' || (g % {0}), gen_random_uuid(), 'User ' || g, "
        "'u' || g || '@example.com', g % 90, (g % 1000) + 0.5, g % 2 = 0 "
        "FROM generate_series(0, {0} * {1} - 1) AS g",
        scopes, rows_per_scope));
    if (!seeded) {
      state.SkipWithError(seeded.error().ToString().c_str());
      return;
    }
    ServiceConfig config;
    if (profile_b) config.wire_profile = "jcs_uniform_numeric_strings_v1";
    config.registered_tables = {{"business", "users", {"id"}}};
    RuntimeOptions options;
    options.database_url = (*db)->dsn();
    options.max_connections = 2;
    state.ResumeTiming();
    const auto started = std::chrono::steady_clock::now();
    auto service = RuntimeService::Create(std::move(config), options);
    Result<BootstrapReport> report =
        service ? (*service)->Bootstrap() : Result<BootstrapReport>(Error(service.error()));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    state.PauseTiming();
    if (!report || report->adopted_rows != scopes * rows_per_scope) {
      state.SkipWithError(report ? "not every row was adopted" : report.error().ToString().c_str());
      return;
    }
    if (service) (*service)->Shutdown();
    state.ResumeTiming();
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["rows/s"] = static_cast<double>(scopes * rows_per_scope) * iterations / seconds;
  state.counters["scopes/s"] = static_cast<double>(scopes) * iterations / seconds;
}
BENCHMARK(BM_BootstrapAdoption)
    ->Args({1000, 10, 0})
    ->Args({1000, 10, 1})
    ->Args({10, 10000, 0})
    ->Args({10, 10000, 1})
    ->ArgNames({"scopes", "rows_per_scope", "profile_b"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
