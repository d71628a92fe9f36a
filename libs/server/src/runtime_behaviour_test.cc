// Behaviours pinned by go-oversync's tests that runtime_push_test.cc does not cover yet, against
// a real PostgreSQL (server.md §3.2, §4, §7.1, §7.3, §8.3; the §9.3/§9.4 item or Go test each test
// reproduces is cited above it).
//
// Covered elsewhere: §9.3 item 52 and source_retired at commit and create in snapshot_test.cc
// (they need source rotation); item 54 (body source_id ignored) at the HTTP level in
// http_handlers_test.cc.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "pg.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

using protocol::Op;

const Actor kAlice{"alice", "dev-a"};
const Actor kAliceB{"alice", "dev-b"};
const Actor kBob{"bob", "dev-x"};

// The two extreme UUIDs of the Go row-order tests.
const std::string kLowId = "00000000-0000-0000-0000-000000000001";
const std::string kHighId = "ffffffff-ffff-ffff-ffff-ffffffffffff";

// ---- helpers ----

protocol::PushChunkRequest Chunk(std::int64_t start, std::vector<protocol::PushRequestRow> rows) {
  protocol::PushChunkRequest chunk;
  chunk.start_row_ordinal = start;
  chunk.rows = std::move(rows);
  return chunk;
}

// A UUID text as the hex of its 16 bytes (= encode(key_bytes, 'hex') in sync tables).
std::string Hex(std::string_view uuid_text) {
  std::string out;
  for (char c : uuid_text) {
    if (c != '-') out += c;
  }
  return out;
}

std::string UserStateSql(const std::string& column, const std::string& user_id) {
  return fmt::format("SELECT {} FROM sync.user_state WHERE user_id = '{}'", column, user_id);
}

// SeededRandom is thread-compatible only; the runtime draws push_ids / initialization_ids from
// the injected source while serving several users at once, so concurrent tests need a locked one.
class LockedRandom final : public RandomSource {
 public:
  explicit LockedRandom(std::uint64_t seed) : inner_(seed) {}
  void Fill(std::span<std::uint8_t> out) override {
    std::lock_guard lock(mu_);
    inner_.Fill(out);
  }

 private:
  std::mutex mu_;
  SeededRandom inner_;
};

std::vector<RegisteredTable> BusinessTables() {
  return {{"business", "users", {"id"}},
          {"business", "posts", {"id"}},
          {"business", "files", {"id"}},
          {"business", "docs", {"doc_id"}}};
}

// Creates and bootstraps a service on the test database (EXPECT failures, nullptr on error).
std::unique_ptr<RuntimeService> BuildService(const std::string& dsn, ServiceConfig config,
                                             std::vector<RegisteredTable> tables,
                                             const Clock* clock, RandomSource* random) {
  config.registered_tables = std::move(tables);
  RuntimeOptions options;
  options.database_url = dsn;
  options.max_connections = 8;
  options.clock = clock;
  options.random = random;
  auto service = RuntimeService::Create(std::move(config), options);
  EXPECT_TRUE(service.has_value()) << service.error().ToString();
  if (!service) return nullptr;
  auto report = (*service)->Bootstrap();
  EXPECT_TRUE(report.has_value()) << report.error().ToString();
  if (!report) return nullptr;
  return std::move(*service);
}

// ---- §9.3 item 37: batched statements keep the uploaded row order ----

// TestPushSessions_BatchedInsertsPreserveUploadedRowOrder.
TEST_F(RuntimeTest, BatchedInsertsPreserveUploadedRowOrder) {
  InitializeScope(kAlice);
  auto commit = Push(kAlice, 1,
                     {Row("users", kHighId, "INSERT", 0, R"({"name":"Grace"})"),
                      Row("users", kLowId, "INSERT", 0, R"({"name":"Ada"})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  auto page = service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, std::nullopt, 10});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  EXPECT_EQ(Describe(page->rows),
            fmt::format("INSERT users {},INSERT users {}", kHighId, kLowId));
  EXPECT_EQ(page->next_row_ordinal, 1);
  EXPECT_FALSE(page->has_more);
  FetchAndVerify(kAlice, *commit);
}

// TestPushSessions_BatchedUpdatesPreserveUploadedRowOrder.
TEST_F(RuntimeTest, BatchedUpdatesPreserveUploadedRowOrder) {
  InitializeScope(kAlice);
  ASSERT_TRUE(Push(kAlice, 1,
                   {Row("users", kLowId, "INSERT", 0, R"({"name":"Ada"})"),
                    Row("users", kHighId, "INSERT", 0, R"({"name":"Grace"})")})
                  .has_value());
  auto commit = Push(kAlice, 2,
                     {Row("users", kHighId, "UPDATE", 1, R"({"name":"Grace Updated"})"),
                      Row("users", kLowId, "UPDATE", 1, R"({"name":"Ada Updated"})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  auto page = service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, std::nullopt, 10});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  EXPECT_EQ(Describe(page->rows),
            fmt::format("UPDATE users {},UPDATE users {}", kHighId, kLowId));
  EXPECT_EQ(page->next_row_ordinal, 1);
  EXPECT_FALSE(page->has_more);
  EXPECT_EQ(Scalar("SELECT string_agg(name, ',' ORDER BY id) FROM business.users"),
            "Ada Updated,Grace Updated");
  FetchAndVerify(kAlice, *commit);
}

// TestPushSessions_BatchedDeletesPreserveUploadedRowOrder.
TEST_F(RuntimeTest, BatchedDeletesPreserveUploadedRowOrder) {
  InitializeScope(kAlice);
  ASSERT_TRUE(Push(kAlice, 1,
                   {Row("users", kLowId, "INSERT", 0, R"({"name":"Ada"})"),
                    Row("users", kHighId, "INSERT", 0, R"({"name":"Grace"})")})
                  .has_value());
  auto commit = Push(kAlice, 2,
                     {Row("users", kHighId, "DELETE", 1), Row("users", kLowId, "DELETE", 1)});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  auto page = service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, std::nullopt, 10});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  EXPECT_EQ(Describe(page->rows),
            fmt::format("DELETE users {},DELETE users {}", kHighId, kLowId));
  EXPECT_FALSE(page->rows[0].payload.has_value());
  EXPECT_EQ(page->next_row_ordinal, 1);
  EXPECT_FALSE(page->has_more);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  FetchAndVerify(kAlice, *commit);
}

// ---- §9.3 item 38: TestPushSessions_MixedOperationStressPreservesCommittedOrderAndState ----
// (smaller: 3 seeds x 15 bundles of 1..8 rows, uploaded in chunks of 1..3 rows).

struct StressState {
  bool live = false;
  std::int64_t version = 0;
  std::string name;
  std::uint64_t age = 0;
};

struct StressRow {
  std::string key;
  Op op = Op::kInsert;
  std::string name;
  std::uint64_t age = 0;
};

TEST_F(RuntimeTest, MixedOperationStressPreservesCommittedOrderAndState) {
  constexpr int kBundles = 15;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    const Actor actor{fmt::format("stress-{}", seed), "dev-a"};
    InitializeScope(actor);
    std::mt19937_64 rng(seed);  // fully specified engine; `% n` keeps the draws portable
    const auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    std::map<std::string, StressState> model;
    int next_id = static_cast<int>(seed) * 1000;
    int reinserts = 0;

    for (int bundle = 0; bundle < kBundles; ++bundle) {
      SCOPED_TRACE(fmt::format("bundle {}", bundle));
      const std::size_t target = 1 + pick(8);
      std::set<std::string> used;
      std::vector<protocol::PushRequestRow> rows;
      std::vector<StressRow> expected;
      while (rows.size() < target) {
        std::vector<std::string> live;
        std::vector<std::string> dead;
        for (const auto& [key, state] : model) {
          if (used.contains(key)) continue;
          (state.live ? live : dead).push_back(key);
        }
        const std::size_t roll = pick(100);
        StressRow row;
        row.op = live.empty() ? Op::kInsert
                 : roll < 35  ? Op::kUpdate
                 : roll < 65  ? Op::kDelete
                              : Op::kInsert;
        row.name = fmt::format("S{}B{}R{}", seed, bundle, rows.size());
        row.age = pick(90);
        const std::string payload = fmt::format(R"({{"name":"{}","age":{}}})", row.name, row.age);
        if (row.op == Op::kInsert) {
          std::int64_t base = 0;
          if (!dead.empty() && pick(4) == 0) {  // re-insert over a tombstone, base = its version
            row.key = dead[pick(dead.size())];
            base = model[row.key].version;
            ++reinserts;
          } else {
            row.key = UserKey(++next_id);
          }
          rows.push_back(Row("users", row.key, "INSERT", base, payload));
        } else {
          row.key = live[pick(live.size())];
          const std::int64_t base = model[row.key].version;
          rows.push_back(row.op == Op::kUpdate ? Row("users", row.key, "UPDATE", base, payload)
                                               : Row("users", row.key, "DELETE", base));
        }
        used.insert(row.key);
        expected.push_back(std::move(row));
      }

      auto session = service_->CreatePushSession(
          actor, {bundle + 1, static_cast<std::int64_t>(rows.size()), ""});
      ASSERT_TRUE(session.has_value()) << session.error().ToString();
      std::size_t start = 0;
      while (start < rows.size()) {
        const std::size_t n = std::min(rows.size() - start, 1 + pick(3));
        const auto first = rows.begin() + static_cast<std::ptrdiff_t>(start);
        std::vector<protocol::PushRequestRow> part(first, first + static_cast<std::ptrdiff_t>(n));
        auto uploaded = service_->UploadPushChunk(
            actor, session->push_id, Chunk(static_cast<std::int64_t>(start), std::move(part)));
        ASSERT_TRUE(uploaded.has_value()) << uploaded.error().ToString();
        start += n;
        EXPECT_EQ(uploaded->next_expected_row_ordinal, static_cast<std::int64_t>(start));
      }
      auto commit = service_->CommitPushSession(actor, session->push_id);
      ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
      EXPECT_EQ(commit->bundle_seq, bundle + 1);
      EXPECT_EQ(commit->row_count, static_cast<std::int64_t>(expected.size()));

      const auto got = FetchAndVerify(actor, *commit, static_cast<std::int64_t>(1 + pick(3)));
      ASSERT_EQ(got.size(), expected.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        SCOPED_TRACE(fmt::format("row {}", i));
        EXPECT_EQ(KeyText(got[i].key), expected[i].key);
        EXPECT_EQ(got[i].op, expected[i].op);
        EXPECT_EQ(got[i].row_version, commit->bundle_seq);
        if (expected[i].op == Op::kDelete) {
          EXPECT_FALSE(got[i].payload.has_value());
        } else {
          EXPECT_EQ(PayloadText(got[i]),
                    fmt::format(R"({{"age":{},"id":"{}","name":"{}","score":null}})",
                                expected[i].age, expected[i].key, expected[i].name));
        }
      }
      for (const StressRow& row : expected) {
        StressState& state = model[row.key];
        state.version = commit->bundle_seq;
        state.live = row.op != Op::kDelete;
        if (state.live) {
          state.name = row.name;
          state.age = row.age;
        }
      }
    }
    EXPECT_GT(reinserts, 0) << "the seed never exercised a re-insert over a tombstone";

    // Final business state and row_state match the model.
    std::string want_users;
    std::string want_state;
    for (const auto& [key, state] : model) {
      if (state.live) {
        if (!want_users.empty()) want_users += ',';
        want_users += fmt::format("{}:{}:{}", key, state.name, state.age);
      }
      if (!want_state.empty()) want_state += ',';
      want_state += fmt::format("{}:{}:{}", Hex(key), state.version, !state.live);
    }
    EXPECT_EQ(Scalar(fmt::format(
                  "SELECT COALESCE(string_agg(id || ':' || name || ':' || age, ',' ORDER BY id), "
                  "'') FROM business.users WHERE _sync_scope_id = '{}'",
                  actor.user_id)),
              want_users);
    EXPECT_EQ(Scalar(fmt::format(
                  "SELECT string_agg(encode(rs.key_bytes, 'hex') || ':' || rs.bundle_seq || ':' || "
                  "rs.deleted, ',' ORDER BY rs.key_bytes) FROM sync.row_state rs JOIN "
                  "sync.user_state u ON u.user_pk = rs.user_pk WHERE u.user_id = '{}'",
                  actor.user_id)),
              want_state);

    // A pull from scratch returns the same dense bundles, each hashing to its bundle_hash.
    auto pull = service_->ProcessPull(actor, {0, 1000, 0});
    ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
    EXPECT_EQ(pull->stable_bundle_seq, kBundles);
    EXPECT_FALSE(pull->has_more);
    ASSERT_EQ(pull->bundles.size(), static_cast<std::size_t>(kBundles));
    for (std::size_t i = 0; i < pull->bundles.size(); ++i) {
      const protocol::Bundle& b = pull->bundles[i];
      EXPECT_EQ(b.bundle_seq, static_cast<std::int64_t>(i) + 1);
      EXPECT_EQ(b.source_bundle_id, b.bundle_seq);
      protocol::BundleHasher hasher(protocol::GoCanonicalV1Profile(), b.bundle_seq);
      for (const protocol::BundleRow& row : b.rows) EXPECT_TRUE(hasher.AddRow(row).ok());
      EXPECT_EQ(hasher.Finish().hex, b.bundle_hash);
    }
  }
}

// ---- §9.3 item 39: TestPushSessions_StagedRowsRemainInvisibleUntilCommit ----

TEST_F(RuntimeTest, StagedRowsRemainInvisibleUntilCommit) {
  InitializeScope(kAlice);
  auto session = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, session->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"Alpha"})")}))
                  .has_value());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
  auto pull = service_->ProcessPull(kAliceB, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  EXPECT_EQ(pull->stable_bundle_seq, 0);
  EXPECT_TRUE(pull->bundles.empty());
  EXPECT_EQ(service_->GetCommittedBundleRows(kAlice, {1, std::nullopt, 10}).error().code(),
            ErrorCode::kCommittedBundleNotFound);

  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->row_count, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "1");
  // The committing transaction removed the session, its staged rows and the capture stage.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_sessions"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
}

// ---- server.md §9.3 row 46 / protocol.md §8 vector 49 ----

// TestPushSessions_RestartedSessionDeletesPartialStagingAndInvalidatesOldPushID: creating again
// for the same source tuple deletes the old session and its staged rows; the old push_id is 404.
TEST_F(RuntimeTest, RestartedSessionDeletesPartialStagingAndInvalidatesOldPushId) {
  InitializeScope(kAlice);
  auto first = service_->CreatePushSession(kAlice, {1, 2, ""});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, first->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"Partial"})")}))
                  .has_value());
  EXPECT_EQ(Scalar(fmt::format(
                "SELECT count(*) FROM sync.push_session_rows WHERE push_id = '{}'::uuid",
                first->push_id)),
            "1");

  auto second = service_->CreatePushSession(kAlice, {1, 2, ""});
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_NE(second->push_id, first->push_id);
  EXPECT_EQ(second->status, protocol::PushSessionStatus::kStaging);
  EXPECT_EQ(second->next_expected_row_ordinal, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_sessions"), "1");
  EXPECT_EQ(Scalar("SELECT push_id::text FROM sync.push_sessions"), second->push_id);

  auto obsolete = service_->UploadPushChunk(
      kAlice, first->push_id,
      Chunk(1, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"Obsolete"})")}));
  ASSERT_FALSE(obsolete.has_value());
  EXPECT_EQ(obsolete.error().code(), ErrorCode::kPushSessionNotFound);

  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, second->push_id,
                                    Chunk(0, {Row("users", UserKey(3), "INSERT", 0,
                                                  R"({"name":"Fresh-1"})"),
                                              Row("users", UserKey(4), "INSERT", 0,
                                                  R"({"name":"Fresh-2"})")}))
                  .has_value());
  auto commit = service_->CommitPushSession(kAlice, second->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *commit)),
            fmt::format("INSERT users {},INSERT users {}", UserKey(3), UserKey(4)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "2");
}

// ---- server.md §9.4 row 83: ServiceConfig::upload_lock_timeout is applied ----

class UploadLockTimeoutTest : public RuntimeTest {
  void ConfigureService(ServiceConfig& config) override {
    config.upload_lock_timeout = std::chrono::milliseconds(100);
  }
};

// TestSyncService_UploadLockTimeoutMillis_*: with a 100 ms lock_timeout, a commit whose user_state
// row is locked by another transaction fails with the retryable lock_not_available (55P03, mapped
// to kUnavailable after RunUserTransaction's retries) instead of waiting; nothing is applied, and
// once the other transaction ends the same session commits.
TEST_F(UploadLockTimeoutTest, CommitFailsInsteadOfWaitingForALockedUserRow) {
  InitializeScope(kAlice);
  auto session = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, session->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"Locked"})")}))
                  .has_value());

  auto side = pg::PgConnection::Connect(db_->dsn());
  ASSERT_TRUE(side.has_value()) << side.error().ToString();
  pg::PgConnection& side_conn = **side;
  ASSERT_TRUE(side_conn.ExecScript("BEGIN").ok());
  auto locked = side_conn.Exec("SELECT user_pk FROM sync.user_state WHERE user_id = $1 FOR UPDATE",
                               {kAlice.user_id});
  ASSERT_TRUE(locked.has_value()) << locked.error().ToString();
  ASSERT_EQ(locked->rows(), 1);

  auto blocked = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(blocked.error().message().find("55P03"), std::string::npos)
      << blocked.error().ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "1");

  ASSERT_TRUE(side_conn.ExecScript("ROLLBACK").ok());
  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->row_count, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "1");
}

// ---- §9.3 items 43/44 with small chunk limits (Go fixture: max chunk 2, committed 1 / 2) ----

class SmallChunkTest : public RuntimeTest {
  void ConfigureService(ServiceConfig& config) override {
    config.max_rows_per_push_chunk = 2;
    config.default_rows_per_committed_bundle_chunk = 1;
    config.max_rows_per_committed_bundle_chunk = 2;
  }
};

// §9.3 item 43: TestPushSessions_UploadAndCommittedBundlePagingContracts.
TEST_F(SmallChunkTest, UploadAndCommittedBundlePagingContracts) {
  InitializeScope(kAlice);
  // Deliberately not in key order: the stored order must be the upload order.
  const std::vector<std::string> keys = {UserKey(30), UserKey(10), UserKey(20)};
  auto session = service_->CreatePushSession(kAlice, {1, 3, ""});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  EXPECT_EQ(session->next_expected_row_ordinal, 0);
  auto chunk1 = service_->UploadPushChunk(
      kAlice, session->push_id,
      Chunk(0, {Row("users", keys[0], "INSERT", 0, R"({"name":"Alpha"})"),
                Row("users", keys[1], "INSERT", 0, R"({"name":"Bravo"})")}));
  ASSERT_TRUE(chunk1.has_value()) << chunk1.error().ToString();
  EXPECT_EQ(chunk1->next_expected_row_ordinal, 2);
  EXPECT_EQ(chunk1->push_id, session->push_id);
  auto chunk2 = service_->UploadPushChunk(
      kAlice, session->push_id,
      Chunk(chunk1->next_expected_row_ordinal,
            {Row("users", keys[2], "INSERT", 0, R"({"name":"Charlie"})")}));
  ASSERT_TRUE(chunk2.has_value()) << chunk2.error().ToString();
  EXPECT_EQ(chunk2->next_expected_row_ordinal, 3);
  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(Scalar("SELECT string_agg(row_ordinal || ':' || encode(key_bytes, 'hex'), ',' ORDER BY "
                   "row_ordinal) FROM sync.bundle_rows"),
            fmt::format("1:{},2:{},3:{}", Hex(keys[0]), Hex(keys[1]), Hex(keys[2])));

  auto page1 = service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, std::nullopt, 1});
  ASSERT_TRUE(page1.has_value()) << page1.error().ToString();
  ASSERT_EQ(page1->rows.size(), 1U);
  EXPECT_EQ(KeyText(page1->rows[0].key), keys[0]);
  EXPECT_EQ(page1->next_row_ordinal, 0);
  EXPECT_TRUE(page1->has_more);
  auto page2 =
      service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, page1->next_row_ordinal, 1});
  ASSERT_TRUE(page2.has_value()) << page2.error().ToString();
  ASSERT_EQ(page2->rows.size(), 1U);
  EXPECT_EQ(KeyText(page2->rows[0].key), keys[1]);
  EXPECT_EQ(page2->next_row_ordinal, 1);
  EXPECT_TRUE(page2->has_more);
  auto page3 =
      service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, page2->next_row_ordinal, 2});
  ASSERT_TRUE(page3.has_value()) << page3.error().ToString();
  ASSERT_EQ(page3->rows.size(), 1U);
  EXPECT_EQ(KeyText(page3->rows[0].key), keys[2]);
  EXPECT_EQ(page3->next_row_ordinal, 2);
  EXPECT_FALSE(page3->has_more);
  // Past the end: no rows, the cursor is echoed (protocol.md §3.6).
  auto past = service_->GetCommittedBundleRows(kAlice, {commit->bundle_seq, 2, 2});
  ASSERT_TRUE(past.has_value()) << past.error().ToString();
  EXPECT_TRUE(past->rows.empty());
  EXPECT_EQ(past->next_row_ordinal, 2);
  EXPECT_FALSE(past->has_more);
  // Any source of the user may read the bundle; metadata is the commit's.
  auto other = service_->GetCommittedBundleRows(kAliceB, {commit->bundle_seq, std::nullopt, 2});
  ASSERT_TRUE(other.has_value()) << other.error().ToString();
  EXPECT_EQ(other->source_id, "dev-a");
  EXPECT_EQ(other->source_bundle_id, 1);
  EXPECT_EQ(other->row_count, 3);
  EXPECT_EQ(other->bundle_hash, commit->bundle_hash);
  FetchAndVerify(kAlice, *commit, 1);
}

// §9.3 item 45 / protocol.md §8 vector 41: staged rows with a gap (only possible through
// outside interference with sync.push_session_rows) are refused at commit, nothing applied.
TEST_F(RuntimeTest, NonContiguousStagedRowsAreRefusedAtCommit) {
  InitializeScope(kAlice);
  protocol::PushSessionCreateRequest create;
  create.source_bundle_id = 1;
  create.planned_row_count = 2;
  auto session = service_->CreatePushSession(kAlice, create);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, session->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"a"})"),
                                              Row("users", UserKey(2), "INSERT", 0, R"({"name":"b"})")}))
                  .has_value());
  Sql("UPDATE sync.push_session_rows SET row_ordinal = 5 WHERE row_ordinal = 1");
  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error().code(), ErrorCode::kPushCommitInvalid);
  EXPECT_EQ(commit.error().message(), "staged rows are not contiguous at row_ordinal 1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
}

// §9.3 item 44: TestPushSessions_RejectInvalidAndDuplicateChunkUploads (+ the planned-count cap).
TEST_F(SmallChunkTest, RejectInvalidAndDuplicateChunkUploads) {
  InitializeScope(kAlice);
  auto session = service_->CreatePushSession(kAlice, {1, 2, ""});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();

  auto empty = service_->UploadPushChunk(kAlice, session->push_id, Chunk(0, {}));
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kPushChunkInvalid);
  EXPECT_EQ(empty.error().message(), "rows must not be empty");

  auto oversized = service_->UploadPushChunk(
      kAlice, session->push_id,
      Chunk(0, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Alpha"})"),
                Row("users", UserKey(2), "INSERT", 0, R"({"name":"Bravo"})"),
                Row("users", UserKey(3), "INSERT", 0, R"({"name":"Charlie"})")}));
  ASSERT_FALSE(oversized.has_value());
  EXPECT_EQ(oversized.error().code(), ErrorCode::kPushChunkInvalid);
  EXPECT_EQ(oversized.error().message(), "rows length 3 exceeds max_rows_per_push_chunk 2");

  auto duplicate = service_->UploadPushChunk(
      kAlice, session->push_id,
      Chunk(0, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Alpha"})"),
                Row("users", UserKey(1), "INSERT", 0, R"({"name":"Bravo"})")}));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code(), ErrorCode::kPushChunkInvalid);
  EXPECT_EQ(duplicate.error().message(),
            "duplicate target row in push request: business.users " + UserKey(1));
  EXPECT_EQ(duplicate.error().info().http_status, 400);
  EXPECT_EQ(duplicate.error().info().wire_name, "push_chunk_invalid");
  // Rejected chunks stage nothing and leave the cursor alone.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_session_rows"), "0");
  EXPECT_EQ(Scalar("SELECT next_expected_row_ordinal FROM sync.push_sessions"), "0");

  // More rows than planned (server.md §4.2 step 6).
  auto small = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(small.has_value()) << small.error().ToString();
  auto too_many = service_->UploadPushChunk(
      kAlice, small->push_id,
      Chunk(0, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Alpha"})"),
                Row("users", UserKey(2), "INSERT", 0, R"({"name":"Bravo"})")}));
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kPushChunkInvalid);
  EXPECT_EQ(too_many.error().message(), "chunk exceeds planned_row_count");

  // The same target in two chunks is only caught at commit.
  auto across = service_->CreatePushSession(kAlice, {1, 2, ""});
  ASSERT_TRUE(across.has_value()) << across.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, across->push_id,
                                    Chunk(0, {Row("users", UserKey(7), "INSERT", 0,
                                                  R"({"name":"Alpha"})")}))
                  .has_value());
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, across->push_id,
                                    Chunk(1, {Row("users", UserKey(7), "INSERT", 0,
                                                  R"({"name":"Bravo"})")}))
                  .has_value());
  auto commit = service_->CommitPushSession(kAlice, across->push_id);
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error().code(), ErrorCode::kPushCommitInvalid);
  EXPECT_EQ(commit.error().message(),
            "duplicate target row in staged push session: business.users " + UserKey(7));
  EXPECT_EQ(commit.error().info().http_status, 400);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_sessions"), "1");  // stays staged
}

// ---- §9.3 item 47: TestPushSessions_UploadRefreshesExpiry ----

TEST_F(RuntimeTest, ChunkUploadRefreshesExpirySoCommitAfterTheOriginalTtlSucceeds) {
  InitializeScope(kAlice);
  const std::int64_t t0 = 1'800'000'000;  // the fixture clock's start
  auto refreshed = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(refreshed.has_value()) << refreshed.error().ToString();
  auto idle = service_->CreatePushSession(kAliceB, {1, 1, ""});  // never uploads: the control
  ASSERT_TRUE(idle.has_value()) << idle.error().ToString();
  const std::string expiry_sql =
      "SELECT extract(epoch FROM expires_at)::bigint FROM sync.push_sessions WHERE push_id = '{}'";
  EXPECT_EQ(Scalar(fmt::format(fmt::runtime(expiry_sql), refreshed->push_id)),
            std::to_string(t0 + 900));

  clock_.Advance(std::chrono::seconds(800));
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, refreshed->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"Alpha"})")}))
                  .has_value());
  EXPECT_EQ(Scalar(fmt::format(fmt::runtime(expiry_sql), refreshed->push_id)),
            std::to_string(t0 + 800 + 900));

  clock_.Advance(std::chrono::seconds(200));  // t0 + 1000: past the original expiry
  EXPECT_EQ(service_
                ->UploadPushChunk(kAliceB, idle->push_id,
                                  Chunk(0, {Row("users", UserKey(2), "INSERT", 0,
                                                R"({"name":"Bravo"})")}))
                .error()
                .code(),
            ErrorCode::kPushSessionExpired);
  auto commit = service_->CommitPushSession(kAlice, refreshed->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->bundle_seq, 1);
}

// ---- §9.3 items 57 + §4.3 (UPDATE is a partial column update; the bundle has the after-image)

// TestPushSessions_UpdateAfterInsertUsesCapturedRowStateKey.
TEST_F(RuntimeTest, UpdateAdvancesRowStateVersionAndCommitsTheFullAfterImage) {
  InitializeScope(kAlice);
  const std::string key = UserKey(1);
  auto first = Push(kAlice, 1,
                    {Row("users", key, "INSERT", 0, R"({"name":"Alice","age":30,"score":2.5})")});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->bundle_seq, 1);
  const std::string state_sql =
      "SELECT bundle_seq || ':' || deleted FROM sync.row_state WHERE key_bytes = decode('" +
      Hex(key) + "', 'hex')";
  EXPECT_EQ(Scalar(state_sql), "1:false");

  auto second = Push(kAlice, 2, {Row("users", key, "UPDATE", 1, R"({"name":"Alice Updated"})")});
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->bundle_seq, 2);
  EXPECT_EQ(Scalar(state_sql), "2:false");
  EXPECT_EQ(Scalar("SELECT name || ':' || age || ':' || score FROM business.users"),
            "Alice Updated:30:2.5");
  const auto rows = FetchAndVerify(kAlice, *second);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].op, Op::kUpdate);
  EXPECT_EQ(rows[0].row_version, 2);
  EXPECT_EQ(PayloadText(rows[0]),
            fmt::format(R"({{"age":30,"id":"{}","name":"Alice Updated","score":2.5}})", key));

  // The old base is now stale.
  auto stale = Push(kAlice, 3, {Row("users", key, "UPDATE", 1, R"({"name":"Late"})")});
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code(), ErrorCode::kPushConflict);
  EXPECT_EQ(stale.error().message(),
            fmt::format("update conflict on business.users {}: expected version 2, got 1", key));
}

// ---- §9.3 item 60: TestBinaryWire_* (bytea is base64 on the wire, raw bytes in the table) ----

TEST_F(RuntimeTest, ByteaAcceptsBase64WithLineBreaksNullAndEmpty) {
  InitializeScope(kAlice);
  // Go's StdEncoding skips \r and \n inside the base64 text.
  auto commit = Push(kAlice, 1,
                     {Row("files", UserKey(1), "INSERT", 0, R"({"data":"AAEC\r\n/w=="})"),
                      Row("files", UserKey(2), "INSERT", 0, R"({"data":null})"),
                      Row("files", UserKey(3), "INSERT", 0, R"({"data":""})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(Scalar("SELECT string_agg(CASE WHEN data IS NULL THEN 'null' ELSE '[' || "
                   "encode(data, 'hex') || ']' END, ',' ORDER BY id) FROM business.files"),
            "[000102ff],null,[]");
  const auto rows = FetchAndVerify(kAlice, *commit);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(PayloadText(rows[0]), fmt::format(R"({{"data":"AAEC/w==","id":"{}"}})", UserKey(1)));
  EXPECT_EQ(PayloadText(rows[1]), fmt::format(R"({{"data":null,"id":"{}"}})", UserKey(2)));
  EXPECT_EQ(PayloadText(rows[2]), fmt::format(R"({{"data":"","id":"{}"}})", UserKey(3)));
  EXPECT_EQ(Scalar("SELECT string_agg(COALESCE(payload_wire->>'data', 'null'), ',' ORDER BY "
                   "row_ordinal) FROM sync.bundle_rows"),
            "AAEC/w==,null,");

  // Pull serves the same base64 payloads.
  auto pull = service_->ProcessPull(kAliceB, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  ASSERT_EQ(pull->bundles.size(), 1U);
  ASSERT_EQ(pull->bundles[0].rows.size(), 3U);
  EXPECT_EQ(PayloadText(pull->bundles[0].rows[0]), PayloadText(rows[0]));
  EXPECT_EQ(PayloadText(pull->bundles[0].rows[2]), PayloadText(rows[2]));

  // A conflict's server_row renders bytea as base64 too (server.md §3.4).
  auto conflict = Push(kAlice, 2, {Row("files", UserKey(1), "INSERT", 0, R"({"data":"AA=="})")});
  ASSERT_FALSE(conflict.has_value());
  const auto* detail = conflict.error().detail<protocol::PushConflictDetail>();
  ASSERT_NE(detail, nullptr);
  ASSERT_TRUE(detail->conflict.server_row.has_value());
  ASSERT_NE(detail->conflict.server_row->Find("data"), nullptr);
  EXPECT_EQ(detail->conflict.server_row->Find("data")->as_string(), "AAEC/w==");

  // Unpadded base64 is not standard base64.
  auto bad = service_->UploadPushChunk(
      kAlice, "00000000-0000-4000-8000-000000000000",
      Chunk(0, {Row("files", UserKey(4), "INSERT", 0, R"({"data":"AAEC/w"})")}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPushChunkInvalid);
  EXPECT_EQ(bad.error().message(), "payload binary field business.files.data must be valid base64");
}

// ---- server.md §3.2 normalization inside a push commit, driven by server-side triggers on a
// registered table (TestWithinSyncBundle_CapturesServerSideTriggerWritesOnRegisteredTables
// shows such writes are part of the bundle; there is no WithinSyncBundle API yet). ----

// Key change -> DELETE(old key) + INSERT(new key) (pinned for server writes by
// TestWithinSyncBundle_CapturesCascadeUpdates).
TEST_F(RuntimeTest, KeyChangeIsCapturedAsDeleteOfTheOldKeyPlusInsertOfTheNewKey) {
  Sql(R"sql(
CREATE FUNCTION business.rekey_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.body LIKE 'rename:%' THEN NEW.doc_id := substr(NEW.body, 8); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER zz_rekey_doc BEFORE UPDATE ON business.docs
  FOR EACH ROW EXECUTE FUNCTION business.rekey_doc();
)sql");
  InitializeScope(kAlice);
  ASSERT_TRUE(Push(kAlice, 1, {Row("docs", "doc-old", "INSERT", 0, R"({"body":"v1"})")})
                  .has_value());
  auto rename =
      Push(kAlice, 2, {Row("docs", "doc-old", "UPDATE", 1, R"({"body":"rename:doc-new"})")});
  ASSERT_TRUE(rename.has_value()) << rename.error().ToString();
  EXPECT_EQ(rename->row_count, 2);
  const auto rows = FetchAndVerify(kAlice, *rename);
  EXPECT_EQ(Describe(rows), "DELETE docs doc-old,INSERT docs doc-new");
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_FALSE(rows[0].payload.has_value());
  EXPECT_EQ(PayloadText(rows[1]), R"({"body":"rename:doc-new","doc_id":"doc-new"})");
  EXPECT_EQ(Scalar("SELECT string_agg(convert_from(key_bytes, 'UTF8') || ':' || bundle_seq || ':' "
                   "|| deleted, ',' ORDER BY key_bytes) FROM sync.row_state"),
            "doc-new:2:false,doc-old:2:true");
  EXPECT_EQ(Scalar("SELECT string_agg(doc_id, ',') FROM business.docs"), "doc-new");
  // The row state follows the new identity: update the new key, re-insert the old one.
  EXPECT_TRUE(Push(kAlice, 3, {Row("docs", "doc-new", "UPDATE", 2, R"({"body":"v3"})")})
                  .has_value());
  EXPECT_TRUE(Push(kAlice, 4, {Row("docs", "doc-old", "INSERT", 2, R"({"body":"again"})")})
                  .has_value());
  EXPECT_EQ(Scalar("SELECT string_agg(doc_id || '=' || body, ',' ORDER BY doc_id) FROM "
                   "business.docs"),
            "doc-new=v3,doc-old=again");
}

// INSERT then DELETE of one row inside the commit normalizes away; a commit whose effects all
// vanish fails with 400 push_commit_invalid and rolls back (server.md §4.3 step 10).
TEST_F(RuntimeTest, InsertThenDeleteInOnePushNormalizesAway) {
  // AFTER trigger named to fire after the capture trigger, so the stage sees INSERT then DELETE.
  Sql(R"sql(
CREATE FUNCTION business.drop_ephemeral() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.body = 'ephemeral' THEN
    DELETE FROM business.docs WHERE _sync_scope_id = NEW._sync_scope_id AND doc_id = NEW.doc_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER zz_drop_ephemeral AFTER INSERT ON business.docs
  FOR EACH ROW EXECUTE FUNCTION business.drop_ephemeral();
)sql");
  InitializeScope(kAlice);
  auto vanished = Push(kAlice, 1, {Row("docs", "tmp", "INSERT", 0, R"({"body":"ephemeral"})")});
  ASSERT_FALSE(vanished.has_value());
  EXPECT_EQ(vanished.error().code(), ErrorCode::kPushCommitInvalid);
  EXPECT_EQ(vanished.error().message(),
            "push session produced no captured business-table effects");
  EXPECT_EQ(vanished.error().info().http_status, 400);
  EXPECT_EQ(vanished.error().info().wire_name, "push_commit_invalid");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.docs"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.source_state"), "0");  // watermark unchanged
  EXPECT_EQ(Scalar(UserStateSql("next_bundle_seq", "alice")), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_sessions"), "1");  // rolled back: still staged

  // Mixed with a surviving row, only the survivor is in the bundle; sbid 1 is still free.
  auto mixed = Push(kAlice, 1,
                    {Row("docs", "tmp2", "INSERT", 0, R"({"body":"ephemeral"})"),
                     Row("docs", "keep", "INSERT", 0, R"({"body":"stays"})")});
  ASSERT_TRUE(mixed.has_value()) << mixed.error().ToString();
  EXPECT_EQ(mixed->bundle_seq, 1);
  EXPECT_EQ(mixed->row_count, 1);
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *mixed)), "INSERT docs keep");
  EXPECT_EQ(Scalar("SELECT string_agg(convert_from(key_bytes, 'UTF8'), ',') FROM sync.row_state"),
            "keep");
}

// ---- §9.3 item 51 (source_sequence_changed row of TestHTTPSyncHandlers_PushSessionErrorMappings,
// provoked the same way: the source watermark moves after staging) ----

TEST_F(RuntimeTest, CommitFailsWithSourceSequenceChangedWhenTheWatermarkMovedAfterStaging) {
  InitializeScope(kAlice);
  auto session = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, session->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"SequenceChanged"})")}))
                  .has_value());
  Sql("INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id) "
      "SELECT user_pk, 'dev-a', 'active', 1 FROM sync.user_state WHERE user_id = 'alice'");
  for (int attempt = 0; attempt < 2; ++attempt) {  // a failed commit leaves the session staged
    auto commit = service_->CommitPushSession(kAlice, session->push_id);
    ASSERT_FALSE(commit.has_value());
    EXPECT_EQ(commit.error().code(), ErrorCode::kSourceSequenceChanged);
    EXPECT_EQ(commit.error().message(),
              "source dev-a for user alice changed expected next source_bundle_id from staged 1 "
              "to 2 before commit");
    EXPECT_EQ(commit.error().info().http_status, 409);
    EXPECT_EQ(commit.error().info().wire_name, "source_sequence_changed");
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar(UserStateSql("next_bundle_seq", "alice")), "1");
  EXPECT_EQ(Scalar("SELECT max_committed_source_bundle_id FROM sync.source_state"), "1");
  EXPECT_TRUE(service_->DeletePushSession(kAlice, session->push_id).ok());
  // Creating the stale tuple again is now history_pruned; the next one is accepted.
  EXPECT_EQ(service_->CreatePushSession(kAlice, {1, 1, ""}).error().code(),
            ErrorCode::kHistoryPruned);
  EXPECT_TRUE(Push(kAlice, 2, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"Next"})")})
                  .has_value());
}

// ---- §7.1 retention: window 2, prune batch 1 ----

TEST_F(RuntimeTest, RetentionBatchAdvancesTheFloorAtMostOneBundlePerCommit) {
  InitializeScope(kAlice);
  for (int i = 1; i <= 4; ++i) {  // default window (10000): nothing pruned
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")})
                    .has_value());
  }
  EXPECT_EQ(Scalar(UserStateSql("retained_bundle_floor", "alice")), "0");
  // Same database, a service with window 2 and batch 1: target = head - 2, at most +1 per commit.
  config_.retained_bundles_per_user = 2;
  config_.retention_prune_batch_size = 1;
  service_ = MakeService();
  ASSERT_TRUE(service_);
  for (int seq = 5; seq <= 9; ++seq) {
    SCOPED_TRACE(fmt::format("commit {}", seq));
    auto commit =
        Push(kAlice, seq, {Row("users", UserKey(seq), "INSERT", 0, R"({"name":"n"})")});
    ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
    ASSERT_EQ(commit->bundle_seq, seq);
    const int floor = seq - 4;  // one step per commit although the target is seq - 2
    EXPECT_EQ(Scalar(UserStateSql("retained_bundle_floor", "alice")), std::to_string(floor));
    // The commit moved only the floor; the bundle below it goes with the retention pass
    // (what the background worker does), and the floor alone already hides it.
    EXPECT_EQ(service_->GetCommittedBundleRows(kAlice, {floor, std::nullopt, 10}).error().code(),
              ErrorCode::kHistoryPruned);
    auto pruned = service_->RunRetentionPass();
    ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
    EXPECT_EQ(*pruned, 1);  // the floor moved by one bundle
    EXPECT_EQ(Scalar("SELECT min(bundle_seq) || '..' || max(bundle_seq) FROM sync.bundle_log"),
              fmt::format("{}..{}", floor + 1, seq));
    EXPECT_EQ(Scalar("SELECT count(DISTINCT bundle_seq) FROM sync.bundle_rows"),
              std::to_string(seq - floor));
    EXPECT_EQ(service_->GetCommittedBundleRows(kAlice, {floor, std::nullopt, 10}).error().code(),
              ErrorCode::kHistoryPruned);
    EXPECT_TRUE(service_->GetCommittedBundleRows(kAlice, {floor + 1, std::nullopt, 10}).has_value());
  }
  // Current state and the source watermark are untouched by pruning.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state WHERE NOT deleted"), "9");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "9");
  EXPECT_EQ(Scalar("SELECT max_committed_source_bundle_id FROM sync.source_state"), "9");
  auto pull = service_->ProcessPull(kAlice, {6, 100, 0});  // floor is 5
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  ASSERT_EQ(pull->bundles.size(), 3U);
  EXPECT_EQ(pull->bundles.front().bundle_seq, 7);
  EXPECT_EQ(service_->ProcessPull(kAlice, {5, 100, 0}).error().code(), ErrorCode::kHistoryPruned);
}

// ---- §8.3 status counters (§9.4 item 71 TestGetStatus_ReportsRetentionAndHistoryPrunedVisibility)

class WindowTwoTest : public RuntimeTest {
  void ConfigureService(ServiceConfig& config) override { config.retained_bundles_per_user = 2; }
};

TEST_F(WindowTwoTest, StatusReportsCountersAndRetentionAggregates) {
  auto initial = service_->GetStatus();
  ASSERT_TRUE(initial.has_value()) << initial.error().ToString();
  EXPECT_EQ(initial->status, "healthy");
  EXPECT_EQ(initial->lifecycle, "running");
  EXPECT_TRUE(initial->accepting_operations);
  EXPECT_EQ(initial->inflight_operations, 0);
  EXPECT_EQ(initial->registered_tables,
            (std::vector<std::string>{"business.docs", "business.files", "business.posts",
                                      "business.users"}));
  EXPECT_EQ(initial->latest_bundle_seq_max, 0);
  EXPECT_EQ(initial->rejected_registered_write_count, 0);
  EXPECT_EQ(initial->history_pruned_error_count, 0);
  EXPECT_EQ(initial->committed_bundle_count, 0);
  EXPECT_EQ(initial->committed_bundle_bytes, 0);

  InitializeScope(kAlice);
  InitializeScope(kBob);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"a"})")})
                    .has_value());
  }
  ASSERT_TRUE(
      Push(kBob, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"b"})")}).has_value());

  // Writes to registered tables without bundle context fail and are counted even though their
  // transactions roll back; a statement touching no row fires no trigger and is not counted.
  auto insert = db_->QueryScalar(fmt::format(
      "INSERT INTO business.users (_sync_scope_id, id, name) VALUES ('alice', '{}', 'x')",
      UserKey(9)));
  ASSERT_FALSE(insert.has_value());
  EXPECT_NE(insert.error().message().find(
                "write to registered table business.users requires oversync sync bundle context"),
            std::string::npos)
      << insert.error().message();
  auto remove = db_->QueryScalar("DELETE FROM business.users WHERE _sync_scope_id = 'alice'");
  ASSERT_FALSE(remove.has_value());
  EXPECT_TRUE(db_->QueryScalar("UPDATE business.users SET name = 'y' WHERE false").has_value());
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users WHERE _sync_scope_id = 'alice'"), "3");

  // history_pruned answered by pull is counted (alice's floor is 1).
  EXPECT_EQ(service_->ProcessPull(kAlice, {1, 10, 0}).error().code(), ErrorCode::kHistoryPruned);
  // An accepted-push replay is not counted (Go never increments accepted_push_replay_count).
  auto replay = service_->CreatePushSession(kAlice, {3, 1, ""});
  ASSERT_TRUE(replay.has_value()) << replay.error().ToString();
  EXPECT_EQ(replay->status, protocol::PushSessionStatus::kAlreadyCommitted);

  auto status = service_->GetStatus();
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(status->status, "healthy");
  EXPECT_EQ(status->rejected_registered_write_count, 2);
  EXPECT_EQ(status->history_pruned_error_count, 1);
  EXPECT_EQ(status->accepted_push_replay_count, 0);
  EXPECT_EQ(status->user_state_retention_floor_ahead_count, 0);
  EXPECT_EQ(status->latest_bundle_seq_max, 3);
  EXPECT_EQ(status->retained_bundle_floor_min, 0);  // bob
  EXPECT_EQ(status->retained_bundle_floor_max, 1);  // alice: 3 - window 2
  EXPECT_EQ(status->retained_bundle_window_min, 1);
  EXPECT_EQ(status->retained_bundle_window_max, 2);
  EXPECT_EQ(status->committed_bundle_count, 3);
  // The count is of retained bundles: physically equal once the retention pass ran.
  ASSERT_TRUE(service_->RunRetentionPass().has_value());
  EXPECT_EQ(std::to_string(status->committed_bundle_count),
            Scalar("SELECT count(*) FROM sync.bundle_log"));
  EXPECT_EQ(std::to_string(status->committed_bundle_bytes),
            Scalar("SELECT sum(byte_count) FROM sync.bundle_log"));
  EXPECT_GT(status->committed_bundle_bytes, 0);
}

// ---- concurrency (§7.3) ----

class ConcurrentRuntimeTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    service_ = BuildService(db_->dsn(), config_, BusinessTables(), &clock_, &locked_random_);
    ASSERT_TRUE(service_);
  }
  void TearDown() override { service_.reset(); }  // before locked_random_ goes away

  LockedRandom locked_random_{11};
};

// §9.3 item 49: TestPushSessions_ConcurrentSessionCreationLeavesOneActiveStagingSession. The
// first create is observed waiting on the user's advisory lock (held here from another
// connection) before the second starts; both succeed, and the later one replaces the earlier.
TEST_F(ConcurrentRuntimeTest, ConcurrentCreatesForOneTupleLeaveOnlyTheLaterSession) {
  auto connect = service_->Connect(kAlice, {true});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  ASSERT_EQ(connect->resolution, protocol::ConnectResolution::kInitializeLocal);
  const std::string init_id = connect->initialization_id;

  auto locker = pg::PgConnection::Connect(db_->dsn());
  ASSERT_TRUE(locker.has_value()) << locker.error().ToString();
  pg::PgConnection& lock_conn = **locker;
  ASSERT_TRUE(
      lock_conn.Exec("SELECT pg_advisory_lock(hashtextextended($1, 0))", {kAlice.user_id})
          .has_value());

  std::atomic<int> finished{0};
  Result<protocol::PushSessionCreateResponse> first = Error(ErrorCode::kInternal, "unset");
  Result<protocol::PushSessionCreateResponse> second = Error(ErrorCode::kInternal, "unset");
  std::thread t1([&] {
    first = service_->CreatePushSession(kAlice, {1, 1, init_id});
    ++finished;
  });
  // Wait (by observation, not by time) until the first create blocks on the advisory lock.
  bool waiting = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    auto waiters = lock_conn.Exec(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
        "database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    waiting = waiters.has_value() && waiters->Text(0, 0) != "0";
    if (!waiting) std::this_thread::yield();
  }
  EXPECT_TRUE(waiting) << "the first create never waited on the advisory lock";
  std::thread t2([&] {
    second = service_->CreatePushSession(kAlice, {1, 1, init_id});
    ++finished;
  });
  EXPECT_EQ(finished.load(), 0) << "a create finished while the user's advisory lock was held";
  EXPECT_TRUE(
      lock_conn.Exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {kAlice.user_id})
          .has_value());
  t1.join();
  t2.join();

  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  for (const auto* r : {&*first, &*second}) {
    EXPECT_EQ(r->status, protocol::PushSessionStatus::kStaging);
    EXPECT_EQ(r->planned_row_count, 1);
    EXPECT_EQ(r->next_expected_row_ordinal, 0);
  }
  EXPECT_NE(first->push_id, second->push_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.push_sessions"), "1");
  EXPECT_EQ(Scalar("SELECT push_id::text FROM sync.push_sessions"), second->push_id);
  auto obsolete = service_->UploadPushChunk(
      kAlice, first->push_id,
      Chunk(0, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Obsolete"})")}));
  ASSERT_FALSE(obsolete.has_value());
  EXPECT_EQ(obsolete.error().code(), ErrorCode::kPushSessionNotFound);
  auto active = service_->UploadPushChunk(
      kAlice, second->push_id,
      Chunk(0, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"Active"})")}));
  ASSERT_TRUE(active.has_value()) << active.error().ToString();
  EXPECT_EQ(active->next_expected_row_ordinal, 1);
  auto commit = service_->CommitPushSession(kAlice, second->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(Scalar("SELECT state_code || ':' || initialized_by_source_id FROM sync.scope_state"),
            "2:dev-a");
}

// Many users pushing at once: each user's bundle_seq stays dense 1..N (server.md §3.2 step 5).
TEST_F(ConcurrentRuntimeTest, ManyUsersPushConcurrentlyWithDenseBundleSeqs) {
  constexpr int kUsers = 8;
  constexpr int kBundlesPerUser = 5;
  std::vector<std::vector<std::int64_t>> seqs(kUsers);
  std::vector<std::string> errors(kUsers);
  std::vector<std::thread> threads;
  for (int u = 0; u < kUsers; ++u) {
    threads.emplace_back([this, u, &seqs, &errors] {
      const auto index = static_cast<std::size_t>(u);
      const Actor actor{fmt::format("user-{}", u), fmt::format("dev-{}", u)};
      auto connect = service_->Connect(actor, {false});
      if (!connect) {
        errors[index] = connect.error().ToString();
        return;
      }
      for (int b = 1; b <= kBundlesPerUser; ++b) {
        auto commit = Push(actor, b,
                           {Row("users", UserKey(u * 100 + b), "INSERT", 0, R"({"name":"n"})"),
                            Row("users", UserKey(u * 100 + 50 + b), "INSERT", 0,
                                R"({"name":"m"})")});
        if (!commit) {
          errors[index] = commit.error().ToString();
          return;
        }
        seqs[index].push_back(commit->bundle_seq);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t u = 0; u < seqs.size(); ++u) {
    EXPECT_EQ(errors[u], "") << "user " << u;
    EXPECT_EQ(seqs[u], (std::vector<std::int64_t>{1, 2, 3, 4, 5})) << "user " << u;
  }
  EXPECT_EQ(Scalar("SELECT string_agg(DISTINCT (next_bundle_seq - 1)::text, ',') FROM "
                   "sync.user_state"),
            "5");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.user_state"), "8");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "40");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_rows"), "80");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "80");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "80");
  EXPECT_EQ(Scalar("SELECT string_agg(DISTINCT max_committed_source_bundle_id::text, ',') FROM "
                   "sync.source_state"),
            "5");
  // Every user has its own 10 rows and only its own source's bundles.
  EXPECT_EQ(Scalar("SELECT string_agg(DISTINCT n::text, ',') FROM (SELECT count(*) AS n FROM "
                   "business.users GROUP BY _sync_scope_id) t"),
            "10");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log l JOIN sync.user_state u ON u.user_pk = "
                   "l.user_pk WHERE replace(u.user_id, 'user-', 'dev-') <> l.source_id"),
            "0");
}

// Two sources of one user interleave staged sessions: they share one dense bundle_seq sequence
// while each keeps its own source_bundle_id sequence (server.md §4.6, §1.5).
TEST_F(RuntimeTest, TwoSourcesOfOneUserShareOneDenseBundleSeq) {
  InitializeScope(kAlice);
  auto a1 = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(a1.has_value()) << a1.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAlice, a1->push_id,
                                    Chunk(0, {Row("users", UserKey(1), "INSERT", 0,
                                                  R"({"name":"a1"})")}))
                  .has_value());
  // dev-b commits its first bundle while dev-a's is staged.
  auto b1 = Push(kAliceB, 1, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"b1"})")});
  ASSERT_TRUE(b1.has_value()) << b1.error().ToString();
  EXPECT_EQ(b1->bundle_seq, 1);
  auto a1_commit = service_->CommitPushSession(kAlice, a1->push_id);
  ASSERT_TRUE(a1_commit.has_value()) << a1_commit.error().ToString();
  EXPECT_EQ(a1_commit->bundle_seq, 2);
  EXPECT_EQ(a1_commit->source_id, "dev-a");
  EXPECT_EQ(a1_commit->source_bundle_id, 1);
  auto a2 = Push(kAlice, 2, {Row("users", UserKey(3), "INSERT", 0, R"({"name":"a2"})")});
  ASSERT_TRUE(a2.has_value()) << a2.error().ToString();
  EXPECT_EQ(a2->bundle_seq, 3);
  // A session belongs to the user, not to the source that created it (server.md §4.2 step 2):
  // dev-b may commit dev-a's staged session, which commits dev-a's tuple.
  auto a3 = service_->CreatePushSession(kAlice, {3, 1, ""});
  ASSERT_TRUE(a3.has_value()) << a3.error().ToString();
  ASSERT_TRUE(service_
                  ->UploadPushChunk(kAliceB, a3->push_id,
                                    Chunk(0, {Row("users", UserKey(4), "INSERT", 0,
                                                  R"({"name":"a3"})")}))
                  .has_value());
  auto a3_commit = service_->CommitPushSession(kAliceB, a3->push_id);
  ASSERT_TRUE(a3_commit.has_value()) << a3_commit.error().ToString();
  EXPECT_EQ(a3_commit->bundle_seq, 4);
  EXPECT_EQ(a3_commit->source_id, "dev-a");
  EXPECT_EQ(a3_commit->source_bundle_id, 3);
  auto b2 = Push(kAliceB, 2, {Row("users", UserKey(5), "INSERT", 0, R"({"name":"b2"})")});
  ASSERT_TRUE(b2.has_value()) << b2.error().ToString();
  EXPECT_EQ(b2->bundle_seq, 5);

  auto pull = service_->ProcessPull(kAlice, {0, 100, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  std::string order;
  for (const protocol::Bundle& b : pull->bundles) {
    if (!order.empty()) order += ',';
    order += fmt::format("{}={}/{}", b.bundle_seq, b.source_id, b.source_bundle_id);
  }
  EXPECT_EQ(order, "1=dev-b/1,2=dev-a/1,3=dev-a/2,4=dev-a/3,5=dev-b/2");
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || max_committed_source_bundle_id, ',' "
                   "ORDER BY source_id) FROM sync.source_state"),
            "dev-a:3,dev-b:2");
  EXPECT_EQ(Scalar(UserStateSql("next_bundle_seq", "alice")), "6");
}

// The same with both sources pushing from threads at once.
TEST_F(ConcurrentRuntimeTest, TwoSourcesOfOneUserPushingConcurrentlyInterleaveDensely) {
  InitializeScope(kAlice);
  constexpr int kBundles = 6;
  const std::vector<Actor> sources = {kAlice, kAliceB};
  std::vector<std::vector<std::int64_t>> seqs(sources.size());
  std::vector<std::string> errors(sources.size());
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    threads.emplace_back([this, s, &sources, &seqs, &errors] {
      for (int b = 1; b <= kBundles; ++b) {
        auto commit = Push(sources[s], b,
                           {Row("users", UserKey(static_cast<int>(s) * 100 + b), "INSERT", 0,
                                R"({"name":"n"})")});
        if (!commit) {
          errors[s] = commit.error().ToString();
          return;
        }
        seqs[s].push_back(commit->bundle_seq);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::int64_t> all;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    EXPECT_EQ(errors[s], "") << sources[s].source_id;
    ASSERT_EQ(seqs[s].size(), static_cast<std::size_t>(kBundles)) << sources[s].source_id;
    EXPECT_TRUE(std::is_sorted(seqs[s].begin(), seqs[s].end())) << sources[s].source_id;
    all.insert(all.end(), seqs[s].begin(), seqs[s].end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> dense(2 * kBundles);
  for (std::size_t i = 0; i < dense.size(); ++i) dense[i] = static_cast<std::int64_t>(i) + 1;
  EXPECT_EQ(all, dense);
  // Per source, source_bundle_id grows with bundle_seq.
  EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT source_bundle_id, row_number() OVER (PARTITION "
                   "BY source_id ORDER BY bundle_seq) AS n FROM sync.bundle_log) t WHERE "
                   "source_bundle_id <> n"),
            "0");
  EXPECT_EQ(Scalar("SELECT string_agg(source_id || ':' || max_committed_source_bundle_id, ',' "
                   "ORDER BY source_id) FROM sync.source_state"),
            "dev-a:6,dev-b:6");
  EXPECT_EQ(Scalar(UserStateSql("next_bundle_seq", "alice")), "13");
}

// ---- §9.3 item 59: self reference and FK cycles in one push (own tables) ----

constexpr std::string_view kFkShapesSchema = R"sql(
CREATE SCHEMA business;
CREATE TABLE business.categories (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, parent_id UUID, name TEXT,
  PRIMARY KEY (_sync_scope_id, id),
  CONSTRAINT categories_parent_id_fkey FOREIGN KEY (_sync_scope_id, parent_id)
    REFERENCES business.categories(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE);
CREATE TABLE business.alpha (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, beta_id UUID NOT NULL,
  PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.beta (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, alpha_id UUID NOT NULL,
  PRIMARY KEY (_sync_scope_id, id));
ALTER TABLE business.alpha ADD CONSTRAINT alpha_beta_id_fkey FOREIGN KEY (_sync_scope_id, beta_id)
  REFERENCES business.beta(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE business.beta ADD CONSTRAINT beta_alpha_id_fkey FOREIGN KEY (_sync_scope_id, alpha_id)
  REFERENCES business.alpha(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE;
CREATE TABLE business.red (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, green_id UUID NOT NULL,
  PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.green (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, blue_id UUID NOT NULL,
  PRIMARY KEY (_sync_scope_id, id));
CREATE TABLE business.blue (
  _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, red_id UUID NOT NULL,
  PRIMARY KEY (_sync_scope_id, id));
ALTER TABLE business.red ADD CONSTRAINT red_green_id_fkey FOREIGN KEY (_sync_scope_id, green_id)
  REFERENCES business.green(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE business.green ADD CONSTRAINT green_blue_id_fkey FOREIGN KEY (_sync_scope_id, blue_id)
  REFERENCES business.blue(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE business.blue ADD CONSTRAINT blue_red_id_fkey FOREIGN KEY (_sync_scope_id, red_id)
  REFERENCES business.red(_sync_scope_id, id) DEFERRABLE INITIALLY IMMEDIATE;
)sql";

class FkShapesTest : public RuntimeTest {
 protected:
  void SetUp() override {
    auto db = PgTestDatabase::Create();
    if (!db) {
      if (db.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << db.error().ToString();
      }
      FAIL() << db.error().ToString();
    }
    db_ = std::move(*db);
    Sql(std::string(kFkShapesSchema));
    if (HasFatalFailure()) return;
    service_ = BuildService(db_->dsn(), ServiceConfig{},
                            {{"business", "categories", {"id"}},
                             {"business", "alpha", {"id"}},
                             {"business", "beta", {"id"}},
                             {"business", "red", {"id"}},
                             {"business", "green", {"id"}},
                             {"business", "blue", {"id"}}},
                            &clock_, &random_);
    ASSERT_TRUE(service_);
  }

  std::string Link(const std::string& table, const std::string& column, const std::string& id) {
    return Scalar(fmt::format("SELECT {}::text FROM business.{} WHERE id = '{}'", column, table, id));
  }
};

// TestPushSessions_AllowsSelfReferentialInsert (+ a child uploaded before its parent in a separate
// statement, which needs the commit's deferred constraints).
TEST_F(FkShapesTest, SelfReferencingInsert) {
  InitializeScope(kAlice);
  const std::string root = UserKey(1);
  auto self = Push(kAlice, 1,
                   {Row("categories", root, "INSERT", 0,
                        fmt::format(R"({{"name":"Root","parent_id":"{}"}})", root))});
  ASSERT_TRUE(self.has_value()) << self.error().ToString();
  EXPECT_EQ(self->row_count, 1);
  EXPECT_EQ(Link("categories", "parent_id", root), root);
  FetchAndVerify(kAlice, *self);

  const std::string leaf = UserKey(3);
  const std::string mid = UserKey(2);
  auto chain = Push(kAlice, 2,
                    {Row("categories", leaf, "INSERT", 0,
                         fmt::format(R"({{"name":"Leaf","parent_id":"{}"}})", mid)),
                     Row("categories", mid, "INSERT", 0,  // other column set: own statement
                         fmt::format(R"({{"parent_id":"{}"}})", root))});
  ASSERT_TRUE(chain.has_value()) << chain.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *chain)),
            fmt::format("INSERT categories {},INSERT categories {}", leaf, mid));
  EXPECT_EQ(Link("categories", "parent_id", leaf), mid);
  EXPECT_EQ(Link("categories", "parent_id", mid), root);

  // A reference that is still dangling at COMMIT fails the whole commit with a database error
  // (500 push_session_commit_failed) and applies nothing.
  auto dangling = Push(kAlice, 3,
                       {Row("categories", UserKey(4), "INSERT", 0,
                            fmt::format(R"({{"parent_id":"{}"}})", UserKey(999)))});
  ASSERT_FALSE(dangling.has_value());
  EXPECT_FALSE(protocol::IsProtocolErrorCode(dangling.error().code()))
      << dangling.error().ToString();
  EXPECT_EQ(protocol::ErrorResponseFromStatus(dangling.error(), ErrorCode::kPushSessionCommitFailed,
                                              "Failed to commit push session")
                .error,
            "push_session_commit_failed");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.categories"), "3");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "2");
  EXPECT_EQ(Scalar("SELECT max_committed_source_bundle_id FROM sync.source_state"), "2");
}

// TestPushSessions_AllowsCycleInsert/two_table (+ deleting the cycle in one push).
TEST_F(FkShapesTest, TwoTableCycleInsertAndDelete) {
  InitializeScope(kAlice);
  const std::string a = UserKey(1);
  const std::string b = UserKey(2);
  auto insert = Push(kAlice, 1,
                     {Row("alpha", a, "INSERT", 0, fmt::format(R"({{"beta_id":"{}"}})", b)),
                      Row("beta", b, "INSERT", 0, fmt::format(R"({{"alpha_id":"{}"}})", a))});
  ASSERT_TRUE(insert.has_value()) << insert.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *insert)),
            fmt::format("INSERT alpha {},INSERT beta {}", a, b));
  EXPECT_EQ(Link("alpha", "beta_id", a), b);
  EXPECT_EQ(Link("beta", "alpha_id", b), a);

  auto remove = Push(kAlice, 2, {Row("alpha", a, "DELETE", 1), Row("beta", b, "DELETE", 1)});
  ASSERT_TRUE(remove.has_value()) << remove.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *remove)),
            fmt::format("DELETE alpha {},DELETE beta {}", a, b));
  EXPECT_EQ(Scalar("SELECT (SELECT count(*) FROM business.alpha) + (SELECT count(*) FROM "
                   "business.beta)"),
            "0");
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq || ':' || deleted, ',') FROM sync.row_state"),
            "2:true,2:true");
}

// TestPushSessions_AllowsCycleInsert/three_table.
TEST_F(FkShapesTest, ThreeTableCycleInsert) {
  InitializeScope(kAlice);
  const std::string r = UserKey(1);
  const std::string g = UserKey(2);
  const std::string b = UserKey(3);
  auto insert = Push(kAlice, 1,
                     {Row("red", r, "INSERT", 0, fmt::format(R"({{"green_id":"{}"}})", g)),
                      Row("green", g, "INSERT", 0, fmt::format(R"({{"blue_id":"{}"}})", b)),
                      Row("blue", b, "INSERT", 0, fmt::format(R"({{"red_id":"{}"}})", r))});
  ASSERT_TRUE(insert.has_value()) << insert.error().ToString();
  EXPECT_EQ(insert->row_count, 3);
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *insert)),
            fmt::format("INSERT red {},INSERT green {},INSERT blue {}", r, g, b));
  EXPECT_EQ(Link("red", "green_id", r), g);
  EXPECT_EQ(Link("green", "blue_id", g), b);
  EXPECT_EQ(Link("blue", "red_id", b), r);
}

// protocol-b.md §6 (commit_outcome_unknown): a connection that breaks while COMMIT is in flight
// leaves the outcome unknown; pg::InTransaction says so (kCommitOutcomeUnknown) instead of the
// retryable kUnavailable, and WithRetry does not run the transaction again. The backend is
// terminated (and waited for) between the body and the COMMIT.
TEST_F(RuntimeTest, CommitOnABrokenConnectionHasAnUnknownOutcomeAndIsNotRetried) {
  Result<std::unique_ptr<pg::PgConnection>> conn = pg::PgConnection::Connect(db_->dsn());
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  int bodies = 0;
  const Status status = pg::WithRetry(3, std::chrono::milliseconds(1), [&]() {
    return pg::InTransaction(**conn, pg::Isolation::kReadCommitted,
                             [&](pg::PgConnection& tx) -> Status {
                               ++bodies;
                               OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult pid,
                                                         tx.Exec("SELECT pg_backend_pid()"));
                               Result<std::string> killed = db_->QueryScalar(fmt::format(
                                   "SELECT pg_terminate_backend({}, 5000)", pid.Text(0, 0)));
                               if (!killed.has_value() || *killed != "t") {
                                 return Status(ErrorCode::kInternal, "terminate failed");
                               }
                               return Status();
                             });
  });
  EXPECT_EQ(status.code(), ErrorCode::kCommitOutcomeUnknown) << status.ToString();
  EXPECT_EQ(bodies, 1);
  EXPECT_EQ(status.info().http_status, 503);
  EXPECT_EQ(status.info().wire_name, "commit_outcome_unknown");
}

}  // namespace
}  // namespace oversync::testing

namespace oversync::testing {
namespace {

// server.md §8.2 (go-oversync stage_metrics_test.go :: TestProcessPull_EmitsStageMetrics):
// stage timings reach the configured recorder and, with log_stage_timings, the logger.
class CollectingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view, std::string_view message) override {
    std::lock_guard lock(mu_);
    if (level == LogLevel::kDebug) debug_lines.emplace_back(message);
  }
  std::vector<std::string> debug_lines;

 private:
  std::mutex mu_;
};

class StageMetricsTest : public RuntimeTest {
 protected:
  struct Seen {
    std::string operation;
    std::string stage;
    std::int64_t count;
    int attempt;
    bool error;
  };
  void ConfigureService(ServiceConfig& config) override {
    config.stage_metrics = std::make_shared<StageMetricsRecorderFunc>([this](const StageTiming& t) {
      std::lock_guard lock(mu_);
      seen_.push_back({std::string(t.operation), std::string(t.stage), t.count, t.attempt,
                       t.error});
    });
    config.log_stage_timings = true;
    logger_ = &log_;
  }
  // "stage:count:attempt:error" of one operation, in reporting order.
  std::vector<std::string> Stages(std::string_view operation) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const Seen& s : seen_) {
      if (s.operation == operation) {
        out.push_back(fmt::format("{}:{}:{}:{}", s.stage, s.count, s.attempt, s.error ? "E" : "ok"));
      }
    }
    return out;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    seen_.clear();
  }

  CollectingLogger log_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(StageMetricsTest, ReportsStagesOfEveryOperation) {
  // A pull before connect fails inside its transaction: stages flagged as errors.
  auto refused = service_->ProcessPull(kAlice, {0, 10, 0});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(Stages("pull"), (std::vector<std::string>{"retained_floor_check:0:1:E",
                                                      "transaction:0:1:E", "total:0:1:E"}));
  Clear();

  InitializeScope(kAlice);
  const std::vector<std::string> locks = {"lock_wait:0:1:ok", "advisory_lock:0:1:ok"};
  const auto with_locks = [&](std::vector<std::string> rest, std::vector<std::string> first = {}) {
    first.insert(first.end(), locks.begin(), locks.end());
    first.insert(first.end(), rest.begin(), rest.end());
    return first;
  };
  EXPECT_EQ(Stages("connect"), with_locks({"transaction:0:1:ok", "total:0:1:ok"}));
  auto commit = Push(kAlice, 1,
                     {Row("users", UserKey(1), "INSERT", 0, R"({"name":"a"})"),
                      Row("users", UserKey(2), "INSERT", 0, R"({"name":"b"})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(Stages("push_create"), with_locks({"transaction:0:1:ok", "total:0:1:ok"}));
  EXPECT_EQ(Stages("push_chunk"),
            with_locks({"transaction:0:1:ok", "total:0:1:ok"}, {"validate:2:1:ok"}));
  EXPECT_EQ(Stages("push_commit"),
            with_locks({"load_staged:2:1:ok", "apply:2:1:ok", "finalize:2:1:ok",
                        "transaction:0:1:ok", "total:0:1:ok"}));
  auto pull = service_->ProcessPull(kAlice, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  EXPECT_EQ(Stages("pull"),
            (std::vector<std::string>{"retained_floor_check:0:1:ok", "load_bundles:1:1:ok",
                                      "transaction:1:1:ok", "total:1:1:ok"}));
  // A rejected chunk (stateless validation) ends its total stage as an error.
  Clear();
  protocol::PushChunkRequest bad;
  bad.rows = {Row("nope", UserKey(3), "INSERT", 0, "{}")};
  ASSERT_FALSE(service_->UploadPushChunk(kAlice, "00000000-0000-4000-8000-000000000000",
                                         std::move(bad))
                   .has_value());
  EXPECT_EQ(Stages("push_chunk"), (std::vector<std::string>{"validate:0:1:E", "total:0:1:E"}));

  bool logged = false;
  for (const std::string& line : log_.debug_lines) {
    logged = logged || line.starts_with("stage timing op=push_commit stage=apply ");
  }
  EXPECT_TRUE(logged);
}

// Deletes are applied one statement per row (pipelined), so a bundle lists them in upload
// order, whatever order the table stores them in (server.md §3.2 capture order).
TEST_F(RuntimeTest, DeletesKeepUploadOrderInTheBundle) {
  InitializeScope(kAlice);
  std::vector<protocol::PushRequestRow> inserts;
  for (int i = 1; i <= 6; ++i) {
    inserts.push_back(Row("users", UserKey(i), "INSERT", 0, fmt::format(R"({{"name":"u{}"}})", i)));
  }
  auto created = Push(kAlice, 1, std::move(inserts));
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  const std::vector<int> order = {4, 1, 6, 2, 5, 3};
  std::vector<protocol::PushRequestRow> deletes;
  std::string expected;
  for (const int i : order) {
    deletes.push_back(Row("users", UserKey(i), "DELETE", created->bundle_seq));
    expected += fmt::format("{}DELETE users {}", expected.empty() ? "" : ",", UserKey(i));
  }
  auto removed = Push(kAlice, 2, std::move(deletes));
  ASSERT_TRUE(removed.has_value()) << removed.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify(kAlice, *removed)), expected);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
}

}  // namespace
}  // namespace oversync::testing
