// Connect, push sessions, committed-bundle replay and pull against a real PostgreSQL
// (server.md §4, §5, §7.2; behaviours of server.md §9.3/§9.4 cited per test).
#include <thread>

#include "pg.h"
#include "retention.h"
#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

using protocol::ConnectResolution;

const Actor kAlice{"alice", "dev-a"};
const Actor kAliceB{"alice", "dev-b"};
const Actor kBob{"bob", "dev-x"};

// §9.4 items 61, 64: connect lifecycle (item 63: InitializerWithoutPendingRowsBecomesInitializeEmpty).
TEST_F(RuntimeTest, ConnectLifecycle) {
  auto first = service_->Connect(kAlice, {false});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->resolution, ConnectResolution::kInitializeEmpty);
  auto later = service_->Connect(kAliceB, {true});
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->resolution, ConnectResolution::kRemoteAuthoritative);
  EXPECT_EQ(Scalar("SELECT state_code || ':' || initialized_by_source_id FROM sync.scope_state"),
            "2:dev-a");
}

// §9.4 items 62, 65, 67/68: initialize_local lease, retry_later, same-id reconnect, expiry.
TEST_F(RuntimeTest, InitializeLocalLeaseAndRetryLater) {
  auto a = service_->Connect(kAlice, {true});
  ASSERT_TRUE(a.has_value()) << a.error().ToString();
  EXPECT_EQ(a->resolution, ConnectResolution::kInitializeLocal);
  EXPECT_EQ(a->initialization_id.size(), 36U);
  EXPECT_EQ(a->lease_expires_at, "2027-01-15T08:15:00Z");  // now + 900 s
  clock_.Advance(std::chrono::seconds(100));
  auto b = service_->Connect(kAliceB, {true});
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->resolution, ConnectResolution::kRetryLater);
  EXPECT_EQ(b->retry_after_seconds, 800);
  EXPECT_EQ(b->lease_expires_at, a->lease_expires_at);
  auto again = service_->Connect(kAlice, {true});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->initialization_id, a->initialization_id);
  // Seed push under the lease initializes the scope.
  protocol::PushSessionCreateRequest create{1, 1, a->initialization_id};
  auto session = service_->CreatePushSession(kAlice, create);
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  protocol::PushChunkRequest chunk;
  chunk.rows.push_back(Row("users", UserKey(1), "INSERT", 0, R"({"name":"Ann"})"));
  ASSERT_TRUE(service_->UploadPushChunk(kAlice, session->push_id, chunk).has_value());
  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->bundle_seq, 1);
  EXPECT_EQ(Scalar("SELECT state_code FROM sync.scope_state"), "2");
  auto after = service_->Connect(kAliceB, {true});
  EXPECT_EQ(after->resolution, ConnectResolution::kRemoteAuthoritative);
}

// §9.4 item 65: an expired lease cannot upload (stale), and the next connect gets a new id.
TEST_F(RuntimeTest, ExpiredInitializerCannotUpload) {
  auto a = service_->Connect(kAlice, {true});
  ASSERT_TRUE(a.has_value());
  auto session = service_->CreatePushSession(kAlice, {1, 1, a->initialization_id});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  // The lease elapses while the push session itself is still alive.
  Sql("UPDATE sync.scope_state SET lease_expires_at = '2027-01-15T08:00:00Z'");
  protocol::PushChunkRequest chunk;
  chunk.rows.push_back(Row("users", UserKey(1), "INSERT", 0, R"({"name":"Ann"})"));
  auto upload = service_->UploadPushChunk(kAlice, session->push_id, chunk);
  ASSERT_FALSE(upload.has_value());
  EXPECT_EQ(upload.error().code(), ErrorCode::kInitializationStale);
  EXPECT_EQ(upload.error().message(), "scope is no longer initializing");
  auto b = service_->Connect(kAliceB, {true});
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->resolution, ConnectResolution::kInitializeLocal);
  EXPECT_NE(b->initialization_id, a->initialization_id);
}

// §9.4 item 67: two racing first connects with pending rows -> one initialize_local.
TEST_F(RuntimeTest, ConcurrentFirstInitializerRaceHasSingleWinner) {
  Result<protocol::ConnectResponse> r1 = Error(ErrorCode::kInternal, "unset");
  Result<protocol::ConnectResponse> r2 = Error(ErrorCode::kInternal, "unset");
  std::thread t1([&] { r1 = service_->Connect(kAlice, {true}); });
  std::thread t2([&] { r2 = service_->Connect(kAliceB, {true}); });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.has_value() && r2.has_value());
  const int locals = (r1->resolution == ConnectResolution::kInitializeLocal) +
                     (r2->resolution == ConnectResolution::kInitializeLocal);
  const int retries = (r1->resolution == ConnectResolution::kRetryLater) +
                      (r2->resolution == ConnectResolution::kRetryLater);
  EXPECT_EQ(locals, 1);
  EXPECT_EQ(retries, 1);
}

// §3.2 gates: uninitialized scope, init id rules, sequence errors.
TEST_F(RuntimeTest, PushCreateGatesAndSourceSequencing) {
  auto uninit = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_FALSE(uninit.has_value());
  EXPECT_EQ(uninit.error().code(), ErrorCode::kScopeUninitialized);
  EXPECT_EQ(uninit.error().message(), "sync scope for user alice is not initialized");
  auto expired = service_->CreatePushSession(kAlice, {1, 1, "6df0d8dd-a84b-43b6-bbca-8de70432922a"});
  EXPECT_EQ(expired.error().code(), ErrorCode::kInitializationExpired);
  InitializeScope(kAlice);
  EXPECT_EQ(service_->CreatePushSession(kAlice, {0, 1, ""}).error().code(),
            ErrorCode::kPushSessionInvalid);
  EXPECT_EQ(service_->CreatePushSession(kAlice, {1, 0, ""}).error().message(),
            "planned_row_count must be > 0");
  EXPECT_EQ(service_->CreatePushSession(kAlice, {1, 1, "x"}).error().message(),
            "initialization_id must be absent once the scope is initialized");
  auto ahead = service_->CreatePushSession(kAlice, {2, 1, ""});
  EXPECT_EQ(ahead.error().code(), ErrorCode::kSourceSequenceOutOfOrder);
  EXPECT_EQ(ahead.error().message(),
            "source dev-a for user alice expected next source_bundle_id 1, got 2");
  ASSERT_TRUE(Push(kAlice, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"A"})")})
                  .has_value());
  // Committed and retained -> already_committed; a lower id than any retained -> history_pruned
  // only when not replayable, e.g. after a floor bump.
  auto replay = service_->CreatePushSession(kAlice, {1, 5, ""});
  ASSERT_TRUE(replay.has_value()) << replay.error().ToString();
  EXPECT_EQ(replay->status, protocol::PushSessionStatus::kAlreadyCommitted);
  Sql("UPDATE sync.user_state SET retained_bundle_floor = 1");
  auto pruned = service_->CreatePushSession(kAlice, {1, 1, ""});
  EXPECT_EQ(pruned.error().code(), ErrorCode::kHistoryPruned);
  EXPECT_EQ(pruned.error().message(),
            "source tuple (dev-a, 1) for user alice is older than retained duplicate history; max "
            "committed source_bundle_id is 1");
}

// §9.3 items 42, 53, 60 + the byte-exact hash: push, fetch the committed bundle, recompute the
// hash exactly like a client, replay via already_committed.
TEST_F(RuntimeTest, PushCommitReplayAndClientSideHashVerification) {
  InitializeScope(kAlice);
  auto commit = Push(kAlice, 1,
                     {Row("users", UserKey(2), "INSERT", 0,
                          R"({"name":"Tom & Jerry <3>","age":42,"score":1.50})"),
                      Row("files", UserKey(3), "INSERT", 0, R"({"data":"AAEC/w=="})"),
                      Row("docs", "doc-42", "INSERT", 0, R"({"body":"Hello text key"})")});
  ASSERT_TRUE(commit.has_value()) << commit.error().ToString();
  EXPECT_EQ(commit->bundle_seq, 1);
  EXPECT_EQ(commit->row_count, 3);
  EXPECT_EQ(commit->source_id, "dev-a");
  EXPECT_EQ(commit->source_bundle_id, 1);
  const auto rows = FetchAndVerify(kAlice, *commit, 1);
  ASSERT_EQ(rows.size(), 3U);
  // Full after-images, canonical numbers, no hidden column, bytea as base64, text key.
  std::string p0;
  protocol::JsonWriter(p0).Value(*rows[0].payload);
  EXPECT_EQ(p0, R"({"age":42,"id":"00000000-0000-4000-8000-000000000002","name":"Tom \u0026 Jerry \u003c3\u003e","score":1.5})");
  std::string p1;
  protocol::JsonWriter(p1).Value(*rows[1].payload);
  EXPECT_EQ(p1, R"({"data":"AAEC/w==","id":"00000000-0000-4000-8000-000000000003"})");
  EXPECT_EQ(Scalar("SELECT encode(data, 'hex') FROM business.files"), "000102ff");
  EXPECT_EQ(rows[2].key.Find("doc_id")->as_string(), "doc-42");
  // Commit again -> 404; create again -> already_committed with the same bundle.
  auto again = service_->CreatePushSession(kAlice, {1, 3, ""});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, protocol::PushSessionStatus::kAlreadyCommitted);
  EXPECT_EQ(again->bundle_seq, commit->bundle_seq);
  EXPECT_EQ(again->bundle_hash, commit->bundle_hash);
  EXPECT_EQ(again->row_count, 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "1");
  EXPECT_EQ(Scalar("SELECT max_committed_source_bundle_id || state FROM sync.source_state"),
            "1active");
}

// §9.3 items 40, 41, 55: conflicts carry structured details and apply nothing.
TEST_F(RuntimeTest, ConflictsCarryDetailsAndRejectTheWholeBundle) {
  InitializeScope(kAlice);
  ASSERT_TRUE(Push(kAlice, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Ann"})")})
                  .has_value());
  auto conflict = Push(kAlice, 2,
                       {Row("users", UserKey(5), "INSERT", 0, R"({"name":"New"})"),
                        Row("users", UserKey(1), "INSERT", 0, R"({"name":"Dup"})")});
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code(), ErrorCode::kPushConflict);
  EXPECT_EQ(conflict.error().message(),
            "insert conflict on business.users 00000000-0000-4000-8000-000000000001: expected "
            "base_row_version 1, got 0");
  const auto* detail = conflict.error().detail<protocol::PushConflictDetail>();
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->conflict.server_row_version, 1);
  EXPECT_FALSE(detail->conflict.server_row_deleted);
  ASSERT_TRUE(detail->conflict.server_row.has_value());
  EXPECT_EQ(detail->conflict.server_row->Find("name")->as_string(), "Ann");
  EXPECT_EQ(detail->conflict.server_row->Find("_sync_scope_id"), nullptr);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "1");  // nothing applied
  // Delete, then an UPDATE conflicts against the tombstone with server_row null.
  ASSERT_TRUE(service_->DeletePushSession(kAlice, "not-a-uuid").code() ==
              ErrorCode::kPushSessionNotFound);
  ASSERT_TRUE(Push(kAlice, 2, {Row("users", UserKey(1), "DELETE", 1)}).has_value());
  auto gone = Push(kAlice, 3, {Row("users", UserKey(1), "UPDATE", 1, R"({"name":"X"})")});
  ASSERT_FALSE(gone.has_value());
  const auto* tomb = gone.error().detail<protocol::PushConflictDetail>();
  ASSERT_NE(tomb, nullptr);
  EXPECT_EQ(tomb->conflict.server_row_version, 2);
  EXPECT_TRUE(tomb->conflict.server_row_deleted);
  EXPECT_FALSE(tomb->conflict.server_row.has_value());
  // Re-insert over the tombstone with base = tombstone version is allowed.
  EXPECT_TRUE(Push(kAlice, 3, {Row("users", UserKey(1), "INSERT", 2, R"({"name":"Back"})")})
                  .has_value());
}

// §9.3 item 58: child-before-parent insert (deferred FK), cascade delete captured.
TEST_F(RuntimeTest, DeferredFksAndCascadesAreCaptured) {
  InitializeScope(kAlice);
  auto first = Push(kAlice, 1,
                    {Row("posts", UserKey(10), "INSERT", 0,
                         fmt::format(R"({{"author_id":"{}","title":"t"}})", UserKey(1))),
                     Row("users", UserKey(1), "INSERT", 0, R"({"name":"Ann"})")});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  auto del = Push(kAlice, 2, {Row("users", UserKey(1), "DELETE", 1)});
  ASSERT_TRUE(del.has_value()) << del.error().ToString();
  EXPECT_EQ(del->row_count, 2);
  const auto rows = FetchAndVerify(kAlice, *del);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].table, "users");
  EXPECT_EQ(rows[1].table, "posts");
  EXPECT_EQ(rows[1].op, protocol::Op::kDelete);
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq || ':' || deleted, ',' ORDER BY table_id) FROM "
                   "sync.row_state"),
            "2:true,2:true");
}

// §9.3 items 43-46, 50: chunk ordering, paging, invalid staging, restart, unknown/foreign/expired.
TEST_F(RuntimeTest, SessionLifecycleErrors) {
  InitializeScope(kAlice);
  InitializeScope(kBob);
  auto s = service_->CreatePushSession(kAlice, {1, 3, ""});
  ASSERT_TRUE(s.has_value());
  protocol::PushChunkRequest c1;
  c1.rows = {Row("users", UserKey(1), "INSERT", 0, R"({"name":"a"})"),
             Row("users", UserKey(2), "INSERT", 0, R"({"name":"b"})")};
  auto up = service_->UploadPushChunk(kAlice, s->push_id, c1);
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  EXPECT_EQ(up->next_expected_row_ordinal, 2);
  auto dup = service_->UploadPushChunk(kAlice, s->push_id, c1);
  EXPECT_EQ(dup.error().code(), ErrorCode::kPushChunkOutOfOrder);
  EXPECT_EQ(service_->CommitPushSession(kAlice, s->push_id).error().message(),
            "staged row count 2 does not match planned_row_count 3");
  EXPECT_EQ(service_->UploadPushChunk(kBob, s->push_id, c1).error().code(),
            ErrorCode::kPushSessionForbidden);
  protocol::PushChunkRequest c2;
  c2.start_row_ordinal = 2;
  c2.rows = {Row("users", UserKey(1), "UPDATE", 0, R"({"name":"c"})")};
  ASSERT_TRUE(service_->UploadPushChunk(kAlice, s->push_id, c2).has_value());
  EXPECT_EQ(service_->CommitPushSession(kAlice, s->push_id).error().message(),
            "duplicate target row in staged push session: business.users " + UserKey(1));
  // Restart the tuple: the old push id is gone.
  auto restarted = service_->CreatePushSession(kAlice, {1, 1, ""});
  ASSERT_TRUE(restarted.has_value());
  EXPECT_EQ(service_->CommitPushSession(kAlice, s->push_id).error().code(),
            ErrorCode::kPushSessionNotFound);
  // Expiry: 410 for chunk and delete after the TTL.
  clock_.Advance(std::chrono::seconds(901));
  EXPECT_EQ(service_->UploadPushChunk(kAlice, restarted->push_id, c2).error().code(),
            ErrorCode::kPushSessionExpired);
  EXPECT_EQ(service_->DeletePushSession(kAlice, restarted->push_id).code(),
            ErrorCode::kPushSessionExpired);
}

// §9.4 items 69, 70, 73 + our fix of §10.1 item 1.
TEST_F(RuntimeTest, PullPagesToAFrozenCeilingAndHonoursTheFloor) {
  InitializeScope(kAlice);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")})
                    .has_value());
  }
  protocol::PullQuery q{0, 1, 0};
  auto p1 = service_->ProcessPull(kAlice, q);
  ASSERT_TRUE(p1.has_value()) << p1.error().ToString();
  EXPECT_EQ(p1->stable_bundle_seq, 3);
  ASSERT_EQ(p1->bundles.size(), 1U);
  EXPECT_TRUE(p1->has_more);
  ASSERT_TRUE(Push(kAlice, 4, {Row("users", UserKey(4), "INSERT", 0, R"({"name":"n"})")})
                  .has_value());
  auto p2 = service_->ProcessPull(kAlice, {1, 5000, 3});
  ASSERT_TRUE(p2.has_value());
  EXPECT_EQ(p2->stable_bundle_seq, 3);
  ASSERT_EQ(p2->bundles.size(), 2U);
  EXPECT_EQ(p2->bundles.back().bundle_seq, 3);
  EXPECT_FALSE(p2->has_more);
  EXPECT_EQ(p2->bundles[0].rows.size(), 1U);
  Sql("UPDATE sync.user_state SET retained_bundle_floor = 2");
  auto pruned = service_->ProcessPull(kAlice, {1, 10, 0});
  EXPECT_EQ(pruned.error().message(),
            "requested checkpoint 1 is older than retained history floor 2 for user alice");
  auto zero = service_->ProcessPull(kAlice, {0, 10, 0});  // Go would silently skip 1..2
  EXPECT_EQ(zero.error().code(), ErrorCode::kHistoryPruned);
  // Profile A: a checkpoint equal to the floor is pruned too (protocol.md §3.7).
  EXPECT_EQ(service_->ProcessPull(kAlice, {2, 10, 0}).error().code(), ErrorCode::kHistoryPruned);
  auto fine = service_->ProcessPull(kAlice, {3, 10, 0});
  ASSERT_TRUE(fine.has_value()) << fine.error().ToString();
  ASSERT_EQ(fine->bundles.size(), 1U);
  EXPECT_EQ(fine->bundles[0].bundle_seq, 4);
  EXPECT_EQ(Scalar("SELECT last_value FROM sync.history_pruned_error_seq"), "3");
  auto fetch = service_->GetCommittedBundleRows(kAlice, {2, std::nullopt, 10});
  EXPECT_EQ(fetch.error().code(), ErrorCode::kHistoryPruned);
  auto missing = service_->GetCommittedBundleRows(kAlice, {9, std::nullopt, 10});
  EXPECT_EQ(missing.error().code(), ErrorCode::kCommittedBundleNotFound);
}

// §9.4 item 66: read paths reject before initialization.
TEST_F(RuntimeTest, PullRejectsUninitializedAndInitializingScopes) {
  EXPECT_EQ(service_->ProcessPull(kAlice, {0, 10, 0}).error().code(),
            ErrorCode::kScopeUninitialized);
  ASSERT_TRUE(service_->Connect(kAlice, {true}).has_value());
  auto initializing = service_->ProcessPull(kAlice, {0, 10, 0});
  EXPECT_EQ(initializing.error().code(), ErrorCode::kScopeInitializing);
  EXPECT_EQ(initializing.error().message(),
            "sync scope for user alice is initializing until 2027-01-15T08:15:00Z");
}

// §9.3 item 56: same key in two scopes; foreign updates conflict.
TEST_F(RuntimeTest, ScopesAreIsolated) {
  InitializeScope(kAlice);
  InitializeScope(kBob);
  ASSERT_TRUE(Push(kAlice, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"A"})")})
                  .has_value());
  ASSERT_TRUE(Push(kBob, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"B"})")})
                  .has_value());
  auto foreign = Push(kBob, 2, {Row("users", UserKey(2), "UPDATE", 1, R"({"name":"X"})")});
  EXPECT_EQ(foreign.error().code(), ErrorCode::kPushConflict);
  // §9.3 item 56 / protocol.md §8 vector 60: a key only alice has, updated or deleted by bob at
  // alice's version, is "row does not exist" for bob and leaves alice's row alone.
  ASSERT_TRUE(Push(kAlice, 2, {Row("users", UserKey(3), "INSERT", 0, R"({"name":"C"})")})
                  .has_value());
  for (const char* op : {"UPDATE", "DELETE"}) {
    SCOPED_TRACE(op);
    auto wrong_owner =
        Push(kBob, 2, {Row("users", UserKey(3), op, 2,
                           std::string(op) == "UPDATE" ? R"({"name":"stolen"})" : "")});
    ASSERT_FALSE(wrong_owner.has_value());
    EXPECT_EQ(wrong_owner.error().code(), ErrorCode::kPushConflict);
    EXPECT_NE(wrong_owner.error().message().find("row does not exist"), std::string::npos)
        << wrong_owner.error().message();
  }
  EXPECT_EQ(Scalar("SELECT string_agg(_sync_scope_id || name, ',' ORDER BY _sync_scope_id, name) "
                   "FROM business.users"),
            "aliceA,aliceC,bobB");
}

// protocol.md §8 vector 15 (connect_test.go
// TestConnect_InitializingSameSourceWithoutPendingRowsTransitionsToInitializeEmpty): the
// initializer reconnecting without pending rows gets initialize_empty (no initialization_id) and
// the scope is INITIALIZED by it.
TEST_F(RuntimeTest, InitializerWithoutPendingRowsBecomesInitializeEmpty) {
  auto local = service_->Connect(kAlice, {true});
  ASSERT_TRUE(local.has_value()) << local.error().ToString();
  ASSERT_EQ(local->resolution, ConnectResolution::kInitializeLocal);
  auto empty = service_->Connect(kAlice, {false});
  ASSERT_TRUE(empty.has_value()) << empty.error().ToString();
  EXPECT_EQ(empty->resolution, ConnectResolution::kInitializeEmpty);
  EXPECT_TRUE(empty->initialization_id.empty());
  EXPECT_EQ(Scalar("SELECT state_code || ':' || initialized_by_source_id || ':' || "
                   "(initialization_id IS NULL) FROM sync.scope_state"),
            "2:dev-a:true");
}

// §9.4 item 72 / protocol.md §8 vector 74 (pull_test.go
// TestProcessPull_RepeatableReadSnapshotDoesNotMixWithConcurrentPrune): a pull that already holds
// its snapshot still returns bundle 2 while the floor moves past it and the bundle is deleted;
// the next pull gets history_pruned.
class PullPruneRaceTest : public RuntimeTest {
 protected:
  void ConfigureService(ServiceConfig& config) override {
    config.stage_metrics =
        std::make_shared<StageMetricsRecorderFunc>([this](const StageTiming& t) {
          if (t.operation == "pull" && t.stage == "retained_floor_check" && prune_) {
            auto prune = std::move(prune_);
            prune_ = nullptr;
            prune();  // runs inside the pull, after its snapshot was taken
          }
        });
  }
  std::function<void()> prune_;
};

TEST_F(PullPruneRaceTest, PullKeepsItsSnapshotWhileHistoryIsPruned) {
  InitializeScope(kAlice);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")})
                    .has_value());
  }
  prune_ = [this] {
    auto admin = pg::PgConnection::Connect(db_->dsn());
    ASSERT_TRUE(admin.has_value());
    ASSERT_TRUE((*admin)->ExecScript("UPDATE sync.user_state SET retained_bundle_floor = 2").ok());
    auto pruned = service_->RunRetentionPass();
    ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
    EXPECT_EQ(*pruned, 2);
  };
  auto pull = service_->ProcessPull(kAlice, {1, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  ASSERT_EQ(pull->bundles.size(), 2U);
  EXPECT_EQ(pull->bundles.front().bundle_seq, 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "1");
  EXPECT_EQ(service_->ProcessPull(kAlice, {1, 10, 0}).error().code(), ErrorCode::kHistoryPruned);
}

// Retention (§9.4 item 73) with a window of 1.
class RetentionTest : public RuntimeTest {
  void ConfigureService(ServiceConfig& config) override { config.retained_bundles_per_user = 1; }
};

// server.md §10.3 item 7: the background worker deletes what commits put below the floor
// (scopes it was told about) and, on its sweep, floors moved elsewhere (here: by hand), in
// batches; current state and the floor itself are untouched.
TEST_F(RetentionTest, BackgroundWorkerDeletesBelowTheFloorInBatches) {
  InitializeScope(kAlice);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")})
                    .has_value());
  }
  ASSERT_EQ(Scalar("SELECT retained_bundle_floor FROM sync.user_state"), "4");
  ASSERT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "5");
  const std::int64_t alice_pk = std::stoll(Scalar("SELECT user_pk FROM sync.user_state"));
  auto pool = pg::PgPool::Create({db_->dsn(), 2, std::chrono::milliseconds(30000)});
  ASSERT_TRUE(pool.has_value()) << pool.error().ToString();
  NullLogger logger;
  {
    // Marked scope, no sweep; batch 3 needs two transactions for the 4 bundles.
    RetentionWorker worker(pool->get(), &logger, 3, std::chrono::milliseconds(0));
    worker.Start();
    worker.MarkDirty(alice_pk);
    EXPECT_GE(worker.WaitForPassesAbove(0, std::chrono::seconds(30)), 1);
    EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq::text, ',') FROM sync.bundle_log"), "5");
    EXPECT_EQ(Scalar("SELECT count(DISTINCT bundle_seq) FROM sync.bundle_rows"), "1");
  }
  // A floor raised by hand (another process, an operator) is found by the start-up sweep.
  ASSERT_TRUE(Push(kAlice, 6, {Row("users", UserKey(6), "INSERT", 0, R"({"name":"n"})")})
                  .has_value());
  Sql("UPDATE sync.user_state SET retained_bundle_floor = 6");
  RetentionWorker sweeper(pool->get(), &logger, 100, std::chrono::hours(1));
  sweeper.Start();
  EXPECT_GE(sweeper.WaitForPassesAbove(0, std::chrono::seconds(30)), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT retained_bundle_floor FROM sync.user_state"), "6");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state WHERE NOT deleted"), "6");
  sweeper.Stop();
}

TEST_F(RetentionTest, PrunesHistoryButKeepsStateAndWatermark) {
  InitializeScope(kAlice);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Push(kAlice, i, {Row("users", UserKey(i), "INSERT", 0, R"({"name":"n"})")})
                    .has_value());
  }
  EXPECT_EQ(Scalar("SELECT retained_bundle_floor FROM sync.user_state"), "2");
  // Commits move the floor; the retention pass (the background worker's job) deletes below it.
  auto pruned = service_->RunRetentionPass();
  ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq::text, ',') FROM sync.bundle_log"), "3");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_rows"), "1");
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq::text, ',' ORDER BY bundle_seq) FROM "
                   "sync.row_state"),
            "1,2,3");
  EXPECT_EQ(Scalar("SELECT max_committed_source_bundle_id FROM sync.source_state"), "3");
  auto status = service_->GetStatus();
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(status->status, "healthy");
  EXPECT_EQ(status->latest_bundle_seq_max, 3);
  EXPECT_EQ(status->retained_bundle_floor_max, 2);
  EXPECT_EQ(status->committed_bundle_count, 1);
  EXPECT_GT(status->committed_bundle_bytes, 0);
}

}  // namespace
}  // namespace oversync::testing

namespace oversync::testing {
namespace {

// kmp-client.md §7.2 mitigation (docs/compatibility.md): a retried seed create that still
// carries the initialization_id gets the replay instead of a 400 once the seed committed.
TEST_F(RuntimeTest, RetriedSeedCreateWithInitializationIdReplays) {
  auto a = service_->Connect(kAlice, {true});
  ASSERT_TRUE(a.has_value());
  auto session = service_->CreatePushSession(kAlice, {1, 1, a->initialization_id});
  ASSERT_TRUE(session.has_value()) << session.error().ToString();
  protocol::PushChunkRequest chunk;
  chunk.rows.push_back(Row("users", UserKey(1), "INSERT", 0, R"({"name":"Ann"})"));
  ASSERT_TRUE(service_->UploadPushChunk(kAlice, session->push_id, chunk).has_value());
  auto commit = service_->CommitPushSession(kAlice, session->push_id);
  ASSERT_TRUE(commit.has_value());
  auto retry = service_->CreatePushSession(kAlice, {1, 1, a->initialization_id});
  ASSERT_TRUE(retry.has_value()) << retry.error().ToString();
  EXPECT_EQ(retry->status, protocol::PushSessionStatus::kAlreadyCommitted);
  EXPECT_EQ(retry->bundle_hash, commit->bundle_hash);
  // With nothing to replay the id is still refused.
  auto next = service_->CreatePushSession(kAlice, {2, 1, a->initialization_id});
  EXPECT_EQ(next.error().message(), "initialization_id must be absent once the scope is initialized");
}

// kmp-client.md §7.2 mitigation: a checkpoint ahead of the head is history_pruned, not 200.
TEST_F(RuntimeTest, CheckpointAheadOfHeadIsHistoryPruned) {
  InitializeScope(kAlice);
  ASSERT_TRUE(Push(kAlice, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"A"})")})
                  .has_value());
  auto ahead = service_->ProcessPull(kAlice, {5, 100, 0});
  ASSERT_FALSE(ahead.has_value());
  EXPECT_EQ(ahead.error().code(), ErrorCode::kHistoryPruned);
  auto at_head = service_->ProcessPull(kAlice, {1, 100, 0});
  ASSERT_TRUE(at_head.has_value());
  EXPECT_TRUE(at_head->bundles.empty());
  // An explicit target above the head is still echoed like Go (protocol.md §3.7).
  auto target = service_->ProcessPull(kAlice, {5, 100, 9});
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->stable_bundle_seq, 9);
}

}  // namespace
}  // namespace oversync::testing
