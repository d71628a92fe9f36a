// Client SDK benchmarks (issue: client SDK, deliverable 9). Numbers go to docs/benchmarks.md.
//
//   BM_LocalWrite/<mode>/<bulk>   capture-trigger overhead: the same INSERTs into a plain table
//                                 (mode 0) and a managed one (mode 1); bulk 0 = one row per
//                                 transaction, bulk 1 = 10,000 rows in one transaction.
//   BM_Hydrate/<rows>             a fresh device attaches to a scope holding <rows> users with
//                                 random UUID keys (remote_authoritative: snapshot session,
//                                 chunked download, one apply transaction). Reports end-to-end
//                                 rows/s and client_rows/s (excluding the server's snapshot
//                                 creation call, measured at the transport).
//   BM_Push10k                    10,000 dirty rows pushed end to end (freeze, chunked upload,
//                                 commit, committed-bundle fetch and verify, replay).
//
// Needs OVERSYNC_TEST_DSN (scripts/with-postgres.sh). --benchmark_filter selects; the hydrate
// sizes are 100,000 and, with --large, 1,000,000.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include "oversync/oversqlite/client.h"
#include "test_server.h"

namespace oversync::bench {
namespace {

using oversqlite::Client;
using oversqlite::DefaultConfig;

constexpr const char* kUsersDdl =
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, "
    "created_at TEXT, updated_at TEXT)";

std::string TempPath(std::string_view tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             fmt::format("oversqlite-bench-{}-{}-{}", getpid(), tag, counter.fetch_add(1));
  std::filesystem::create_directories(dir);
  return (dir / "app.db").string();
}

// Wraps a transport and accumulates the time spent in requests whose path starts with a prefix.
class TimingTransport final : public oversqlite::Transport {
 public:
  TimingTransport(std::shared_ptr<oversqlite::Transport> inner, std::string method, std::string prefix)
      : inner_(std::move(inner)), method_(std::move(method)), prefix_(std::move(prefix)) {}
  Result<oversqlite::HttpResponse> Send(const oversqlite::HttpRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    auto response = inner_->Send(request);
    if (request.method == method_ && request.url.find(prefix_) != std::string::npos &&
        request.url.find(prefix_ + "/") == std::string::npos) {
      std::lock_guard lock(mutex_);
      seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return response;
  }
  Result<int> Stream(const oversqlite::HttpRequest& request,
                     const std::function<bool(std::string_view)>& on_data, std::string* error_body) override {
    return inner_->Stream(request, on_data, error_body);
  }
  double seconds() {
    std::lock_guard lock(mutex_);
    return seconds_;
  }

 private:
  std::shared_ptr<oversqlite::Transport> inner_;
  std::string method_;
  std::string prefix_;
  std::mutex mutex_;
  double seconds_ = 0;
};

void BM_LocalWrite(benchmark::State& state) {
  const bool managed = state.range(0) == 1;
  const bool bulk = state.range(1) == 1;
  const std::string path = TempPath("local");
  sqlite3* raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> db(raw, &sqlite3_close_v2);
  sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db.get(), kUsersDdl, nullptr, nullptr, nullptr);
  std::unique_ptr<Client> client;
  if (managed) {
    auto created = Client::Create(db.get(), "http://127.0.0.1:1", [] { return Result<std::string>("t"); },
                                  DefaultConfig("business", {{"users", "id", {}}}));
    if (!created) {
      state.SkipWithError(created.error().ToString().c_str());
      return;
    }
    client = std::move(*created);
    if (auto opened = client->Open(); !opened.ok()) {
      state.SkipWithError(opened.ToString().c_str());
      return;
    }
  }
  sqlite3_stmt* raw_stmt = nullptr;
  sqlite3_prepare_v2(db.get(), "INSERT INTO users VALUES (?, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                     -1, &raw_stmt, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> insert(raw_stmt, &sqlite3_finalize);
  std::int64_t next = 0;
  const int rows_per_tx = bulk ? 10'000 : 1;
  for (auto _ : state) {
    sqlite3_exec(db.get(), "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < rows_per_tx; ++i) {
      const std::string id = fmt::format("00000000-0000-4000-8000-{:012d}", next++);
      sqlite3_reset(insert.get());
      sqlite3_bind_text(insert.get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert.get(), 2, "Some Name", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert.get(), 3, "someone@example.com", -1, SQLITE_STATIC);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) {
        state.SkipWithError(sqlite3_errmsg(db.get()));
        return;
      }
    }
    sqlite3_exec(db.get(), "COMMIT", nullptr, nullptr, nullptr);
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(next), benchmark::Counter::kIsRate);
  insert.reset();
  client.reset();
  db.reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_LocalWrite)->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"managed", "bulk"})->Unit(benchmark::kMicrosecond);

Status SeedUsers(oversqlite::testing::TestServer& server, const std::string& user, std::int64_t rows) {
  // One server-originated bundle per 100,000 rows keeps each transaction moderate.
  for (std::int64_t done = 0; done < rows;) {
    const std::int64_t n = std::min<std::int64_t>(100'000, rows - done);
    auto written = server.service().ExecWrite(user, "bench-seeder", [n](SyncTransaction& tx) -> Status {
      return ToStatus(tx.Exec(fmt::format("INSERT INTO business.users (id, name, email) SELECT gen_random_uuid(), "
                                          "'User ' || g, 'user' || g || '@example.com' FROM generate_series(1, {}) g",
                                          n)));
    });
    if (!written) return written.error();
    done += n;
  }
  return Status::Ok();
}

// Arg "profile_b": 1 = jcs_uniform_numeric_strings_v1 (the client's default), 0 = go_canonical_v1.
std::string ProfileArg(std::int64_t arg) {
  return arg == 1 ? "jcs_uniform_numeric_strings_v1" : "go_canonical_v1";
}

void BM_Hydrate(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  const std::string profile = ProfileArg(state.range(1));
  oversqlite::testing::TestServerOptions server_options;
  server_options.wire_profile = profile;
  auto server = oversqlite::testing::TestServer::Start(server_options);
  if (!server) {
    state.SkipWithError(server.error().ToString().c_str());
    return;
  }
  const std::string user = "hydrate-user";
  if (Status seeded = SeedUsers(**server, user, rows); !seeded.ok()) {
    state.SkipWithError(seeded.ToString().c_str());
    return;
  }
  double client_seconds = 0;
  for (auto _ : state) {
    const std::string path = TempPath("hydrate");
    {
      sqlite3* raw = nullptr;
      sqlite3_open(path.c_str(), &raw);
      sqlite3_exec(raw, kUsersDdl, nullptr, nullptr, nullptr);
      sqlite3_close_v2(raw);
    }
    auto curl = oversqlite::MakeCurlTransport();
    auto timing = std::make_shared<TimingTransport>(*curl, "POST", "/sync/snapshot-sessions");
    oversqlite::ClientDeps deps;
    deps.transport = timing;
    auto config = DefaultConfig("business", {{"users", "id", {}}});
    config.snapshot_chunk_rows = 5000;
    config.wire_profile = profile;
    const auto start = std::chrono::steady_clock::now();
    // (Completes the table set under profile B: the other server tables are empty.)
    auto client = oversqlite::testing::CreateTestClientForPath(path, (*server)->base_url(),
                                                               (*server)->TokenProviderFor(user), config, deps);
    if (!client || !(*client)->Open().ok()) {
      state.SkipWithError("client setup failed");
      return;
    }
    auto attached = (*client)->Attach(user);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!attached || !attached->restore || attached->restore->row_count != rows) {
      state.SkipWithError(attached ? "hydrate restored a wrong row count" : attached.error().ToString().c_str());
      return;
    }
    client_seconds += total - timing->seconds();
    state.SetIterationTime(total);
    client->reset();
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
  const auto total_rows = static_cast<double>(state.iterations() * rows);
  state.counters["rows/s"] = benchmark::Counter(total_rows, benchmark::Counter::kIsRate);
  state.counters["client_rows/s"] = total_rows / client_seconds;
}

void BM_Push10k(benchmark::State& state) {
  const std::string profile = ProfileArg(state.range(0));
  oversqlite::testing::TestServerOptions server_options;
  server_options.wire_profile = profile;
  auto server = oversqlite::testing::TestServer::Start(server_options);
  if (!server) {
    state.SkipWithError(server.error().ToString().c_str());
    return;
  }
  const std::string path = TempPath("push");
  {
    sqlite3* raw = nullptr;
    sqlite3_open(path.c_str(), &raw);
    sqlite3_exec(raw, kUsersDdl, nullptr, nullptr, nullptr);
    sqlite3_close_v2(raw);
  }
  auto config = DefaultConfig("business", {{"users", "id", {}}});
  config.wire_profile = profile;
  auto client = oversqlite::testing::CreateTestClientForPath(
      path, (*server)->base_url(), (*server)->TokenProviderFor("push-user"), config);
  if (!client || !(*client)->Open().ok() || !(*client)->Attach("push-user")) {
    state.SkipWithError("client setup failed");
    return;
  }
  std::int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    sqlite3* db = (*client)->db();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < 10'000; ++i) {
      const std::string sql = fmt::format(
          "INSERT INTO users VALUES ('00000000-0000-4000-8000-{:012d}', 'Name {}', 'e{}@example.com', "
          "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
          next, next, next);
      ++next;
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    state.ResumeTiming();
    auto pushed = (*client)->PushPending();
    if (!pushed || pushed->outcome != oversqlite::PushOutcome::kCommitted) {
      state.SkipWithError(pushed ? "push did not commit" : pushed.error().ToString().c_str());
      return;
    }
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 10'000), benchmark::Counter::kIsRate);
  client->reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_Push10k)->Arg(0)->Arg(1)->ArgName("profile_b")->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace oversync::bench

int main(int argc, char** argv) {
  bool large = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--large") == 0) {
      large = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  auto* hydrate = benchmark::RegisterBenchmark("BM_Hydrate", oversync::bench::BM_Hydrate);
  hydrate->ArgNames({"rows", "profile_b"})->Args({100'000, 0})->Args({100'000, 1});
  hydrate->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
  if (large) hydrate->Args({1'000'000, 0})->Args({1'000'000, 1});
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
