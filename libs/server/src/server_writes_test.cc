// Server-originated writes against a real PostgreSQL: RuntimeService::ExecWrite (go-oversync's
// ScopeManager.ExecWrite, server.md §3.7) and RuntimeService::WithinSyncBundle (server.md §3.6),
// plus the SyncTransaction handed to their callbacks. The go-oversync test (scope_manager_test.go,
// bundle_capture_test.go, bundle_change_watch_integration_test.go) or spec item each test pins
// is cited above it.
//
// Not covered here: stage metrics, and NOTIFY delivery (the watch is tested elsewhere).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime_test_fixture.h"

namespace oversync::testing {
namespace {

using protocol::ConnectResolution;

constexpr std::string_view kWriter = "admin-panel";

// ---- helpers (as in runtime_behaviour_test.cc) ----

// Describe() with the rows sorted: for expectations that, like Go's ElementsMatch, do not pin
// the row order.
std::string DescribeSorted(const std::vector<protocol::BundleRow>& rows) {
  std::vector<std::string> parts;
  for (const protocol::BundleRow& row : rows) {
    parts.push_back(fmt::format("{} {} {}", protocol::OpName(row.op), row.table, KeyText(row.key)));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += ',';
    out += part;
  }
  return out;
}

// A callback inserting one user (id, name); _sync_scope_id is left to the owner guard.
SyncWriteFn InsertUser(std::string id, std::string name) {
  return [id = std::move(id), name = std::move(name)](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.users (id, name) VALUES ($1, $2)", {id, name}));
    return {};
  };
}

// A callback running one statement and returning its status.
SyncWriteFn ExecSql(std::string sql, std::vector<std::optional<std::string>> params = {}) {
  return [sql = std::move(sql), params = std::move(params)](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(sql, params));
    return {};
  };
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

class ServerWriteTest : public RuntimeTest {
 protected:
  // "state_code:initialized_by_source_id" of the scope, "-" for NULL, "none" without a row.
  std::string ScopeState(const std::string& scope) {
    return Scalar(fmt::format(
        "SELECT COALESCE((SELECT s.state_code || ':' || COALESCE(s.initialized_by_source_id, '-') "
        "FROM sync.scope_state s JOIN sync.user_state u ON u.user_pk = s.user_pk "
        "WHERE u.user_id = '{}'), 'none')",
        scope));
  }
  // True when a device connecting now would still see the scope as UNINITIALIZED (no row, or
  // state_code 0), without connecting.
  bool ScopeUninitialized(const std::string& scope) {
    const std::string state = ScopeState(scope);
    return state == "none" || state == "0:-";
  }
  // Rows of a per-user sync table (bundle_log, bundle_rows, row_state, source_state,
  // bundle_capture_stage) that belong to `scope`.
  std::string SyncCount(const std::string& table, const std::string& scope) {
    return Scalar(fmt::format(
        "SELECT count(*) FROM sync.{} t JOIN sync.user_state u ON u.user_pk = t.user_pk "
        "WHERE u.user_id = '{}'",
        table, scope));
  }
  // "state:max_committed[:replaced_by]" of a source, "none" without a row.
  std::string SourceState(const std::string& scope, const std::string& source) {
    return Scalar(fmt::format(
        "SELECT COALESCE((SELECT t.state || ':' || t.max_committed_source_bundle_id || "
        "CASE WHEN t.replaced_by_source_id = '' THEN '' ELSE ':' || t.replaced_by_source_id END "
        "FROM sync.source_state t JOIN sync.user_state u ON u.user_pk = t.user_pk "
        "WHERE u.user_id = '{}' AND t.source_id = '{}'), 'none')",
        scope, source));
  }
  std::string UserCount(const std::string& scope) {
    return Scalar(
        fmt::format("SELECT count(*) FROM business.users WHERE _sync_scope_id = '{}'", scope));
  }
  // Marks `source` retired in `scope` (creating the source_state row when needed), the way a
  // source replacement leaves it.
  void RetireSource(const std::string& scope, const std::string& source,
                    const std::string& replaced_by) {
    Sql(fmt::format(
        "INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id, "
        "replaced_by_source_id, retirement_reason) "
        "SELECT user_pk, '{1}', 'retired', 0, '{2}', 'test' FROM sync.user_state "
        "WHERE user_id = '{0}' "
        "ON CONFLICT (user_pk, source_id) DO UPDATE SET state = 'retired', "
        "replaced_by_source_id = EXCLUDED.replaced_by_source_id, "
        "retirement_reason = EXCLUDED.retirement_reason",
        scope, source, replaced_by));
    ASSERT_EQ(SourceState(scope, source), "retired:0:" + replaced_by);
  }
  void CreateUnregisteredTable() {
    Sql("CREATE TABLE business.unregistered_notes (id UUID PRIMARY KEY, body TEXT NOT NULL)");
  }
  std::string NotesCount() { return Scalar("SELECT count(*) FROM business.unregistered_notes"); }
};

class ServerWriteExecTest : public ServerWriteTest {};
class ServerWriteSqlTest : public ServerWriteTest {};
class ServerWriteBundleTest : public ServerWriteTest {};
class ServerWriteConcurrencyTest : public ServerWriteTest {};

// =============================== ExecWrite (server.md §3.7) ===============================

// TestScopeManager_ExecWrite_ValidatesInputs; server.md §3.7 step 1 (ids are trimmed).
TEST_F(ServerWriteExecTest, ValidatesInputs) {
  int calls = 0;
  const SyncWriteFn fn = [&calls](SyncTransaction&) -> Status {
    ++calls;
    return {};
  };
  const auto expect_invalid = [](const Result<ScopeWriteResult>& r, std::string_view message) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
    EXPECT_EQ(r.error().message(), message);
  };
  expect_invalid(service_->ExecWrite("", kWriter, fn), "scope_id is required");
  expect_invalid(service_->ExecWrite(" \t ", kWriter, fn), "scope_id is required");
  expect_invalid(service_->ExecWrite("scope-a", "", fn), "writer_id is required");
  expect_invalid(service_->ExecWrite("scope-a", "  ", fn), "writer_id is required");
  expect_invalid(service_->ExecWrite("scope-a", kWriter, SyncWriteFn()),
                 "scope write callback is required");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.user_state"), "0");

  // Surrounding blanks are trimmed from both ids.
  auto trimmed = service_->ExecWrite("  scope-t ", " admin-panel\t", InsertUser(UserKey(1), "T"));
  ASSERT_TRUE(trimmed.has_value()) << trimmed.error().ToString();
  EXPECT_EQ(trimmed->bundle.source_id, "admin-panel");
  EXPECT_EQ(ScopeState("scope-t"), "2:admin-panel");
  EXPECT_EQ(UserCount("scope-t"), "1");
}

// TestScopeManager_ExecWrite_AutoInitializesAndCommitsVisibleBundle and
// TestScopeManager_ExecWrite_PreservesPullRetentionAndCommittedBundleRowVisibility; server.md
// §3.7 step 3 (a later device can only get remote_authoritative), §3.6 (bundle visible to pull
// and the committed-rows fetch, hash recomputable by clients).
TEST_F(ServerWriteExecTest, AutoInitializesAndCommitsVisibleBundle) {
  const std::string scope = "scope-auto";
  ASSERT_TRUE(ScopeUninitialized(scope));
  auto first = service_->ExecWrite(scope, kWriter, InsertUser(UserKey(1), "Auto Init"));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_TRUE(first->auto_initialized);
  EXPECT_EQ(first->bundle.source_id, kWriter);
  EXPECT_EQ(first->bundle.source_bundle_id, 1);
  EXPECT_EQ(first->bundle.bundle_seq, 1);
  EXPECT_EQ(first->bundle.row_count, 1);
  EXPECT_EQ(first->bundle.bundle_hash.size(), 64U);

  EXPECT_EQ(ScopeState(scope), "2:admin-panel");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.scope_state WHERE initializer_source_id IS NULL "
                   "AND initialization_id IS NULL AND lease_expires_at IS NULL AND "
                   "initialized_at IS NOT NULL"),
            "1");
  // The owner guard filled in the omitted _sync_scope_id.
  EXPECT_EQ(
      Scalar(fmt::format("SELECT _sync_scope_id FROM business.users WHERE id = '{}'", UserKey(1))),
      scope);

  const Actor reader{scope, "reader"};
  auto pull = service_->ProcessPull(reader, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  EXPECT_EQ(pull->stable_bundle_seq, first->bundle.bundle_seq);
  ASSERT_EQ(pull->bundles.size(), 1U);
  EXPECT_EQ(pull->bundles[0].bundle_seq, first->bundle.bundle_seq);
  EXPECT_EQ(pull->bundles[0].source_id, kWriter);
  EXPECT_EQ(pull->bundles[0].source_bundle_id, 1);
  EXPECT_EQ(pull->bundles[0].bundle_hash, first->bundle.bundle_hash);
  EXPECT_EQ(Describe(pull->bundles[0].rows), "INSERT users " + UserKey(1));

  auto rows = FetchAndVerify(reader, AsCommit(first->bundle));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].schema, "business");
  EXPECT_EQ(rows[0].row_version, 1);
  EXPECT_EQ(PayloadText(rows[0]),
            fmt::format(R"({{"age":null,"id":"{}","name":"Auto Init","score":null}})", UserKey(1)));

  // The next write of the same writer is its next source bundle, without re-initializing.
  auto second = service_->ExecWrite(scope, kWriter, InsertUser(UserKey(2), "Second"));
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_FALSE(second->auto_initialized);
  EXPECT_EQ(second->bundle.source_bundle_id, 2);
  EXPECT_EQ(second->bundle.bundle_seq, 2);
  EXPECT_EQ(Describe(FetchAndVerify(reader, AsCommit(second->bundle))),
            "INSERT users " + UserKey(2));
  EXPECT_EQ(SourceState(scope, std::string(kWriter)), "active:2");
  EXPECT_EQ(ScopeState(scope), "2:admin-panel");

  // A device attaching afterwards finds authoritative remote state, pending rows or not.
  for (const bool pending : {false, true}) {
    auto connect = service_->Connect({scope, "device-new"}, {pending});
    ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
    EXPECT_EQ(connect->resolution, ConnectResolution::kRemoteAuthoritative) << pending;
  }

  // Retention applies to server bundles like to pushed ones.
  Sql(fmt::format("UPDATE sync.user_state SET retained_bundle_floor = {} WHERE user_id = '{}'",
                  second->bundle.bundle_seq, scope));
  EXPECT_EQ(service_->ProcessPull(reader, {first->bundle.bundle_seq, 10, 0}).error().code(),
            ErrorCode::kHistoryPruned);
  EXPECT_EQ(service_->GetCommittedBundleRows(reader, {first->bundle.bundle_seq, std::nullopt, 10})
                .error()
                .code(),
            ErrorCode::kHistoryPruned);
}

// TestScopeManager_ExecWrite_DoesNotAutoInitializeInitializedScope.
TEST_F(ServerWriteExecTest, DoesNotAutoInitializeInitializedScope) {
  const std::string scope = "scope-initialized";
  InitializeScope({scope, "device-a"});
  auto r = service_->ExecWrite(scope, kWriter, InsertUser(UserKey(1), "Initialized"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->auto_initialized);
  EXPECT_EQ(r->bundle.source_bundle_id, 1);
  EXPECT_EQ(r->bundle.bundle_seq, 1);
  EXPECT_EQ(ScopeState(scope), "2:device-a");  // the device stays the initializer
}

// TestScopeManager_ExecWrite_FailsClosedWhenScopeInitializing; server.md §3.7 step 3
// (INITIALIZING is never hidden; nothing runs, nothing changes).
TEST_F(ServerWriteExecTest, FailsClosedWhenScopeInitializing) {
  const std::string scope = "scope-initializing";
  auto connect = service_->Connect({scope, "device-a"}, {true});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  ASSERT_EQ(connect->resolution, ConnectResolution::kInitializeLocal);

  int calls = 0;
  auto r = service_->ExecWrite(scope, kWriter, [&calls](SyncTransaction&) -> Status {
    ++calls;
    return {};
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kScopeInitializing) << r.error().ToString();
  EXPECT_EQ(r.error().message(), fmt::format("sync scope for user {} is initializing until {}",
                                             scope, connect->lease_expires_at));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Scalar("SELECT state_code || ':' || initializer_source_id FROM sync.scope_state"),
            "1:device-a");
  EXPECT_EQ(SourceState(scope, std::string(kWriter)), "none");
  EXPECT_EQ(SyncCount("bundle_log", scope), "0");
}

// server.md §3.7 step 3 ("Ensure + lock scope state, expire lease"): once the lease elapsed the
// INITIALIZING scope counts as UNINITIALIZED and the write initializes it.
TEST_F(ServerWriteExecTest, AutoInitializesAfterTheInitializationLeaseElapsed) {
  const std::string scope = "scope-lease";
  auto connect = service_->Connect({scope, "device-a"}, {true});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  ASSERT_EQ(connect->resolution, ConnectResolution::kInitializeLocal);
  clock_.Advance(config_.initialization_lease_ttl + std::chrono::seconds(1));

  auto r = service_->ExecWrite(scope, kWriter, InsertUser(UserKey(1), "After lease"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->auto_initialized);
  EXPECT_EQ(ScopeState(scope), "2:admin-panel");
  auto later = service_->Connect({scope, "device-a"}, {true});
  ASSERT_TRUE(later.has_value()) << later.error().ToString();
  EXPECT_EQ(later->resolution, ConnectResolution::kRemoteAuthoritative);
}

// TestScopeManager_ExecWrite_FailsForRetiredWriter.
TEST_F(ServerWriteExecTest, FailsForRetiredWriter) {
  const std::string scope = "scope-retired";
  InitializeScope({scope, "seed"});
  RetireSource(scope, std::string(kWriter), "replacement-writer");

  int calls = 0;
  auto r = service_->ExecWrite(scope, kWriter, [&calls](SyncTransaction& tx) -> Status {
    ++calls;
    return InsertUser(UserKey(1), "Retired")(tx);
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kSourceRetired) << r.error().ToString();
  EXPECT_EQ(r.error().message(),
            "source admin-panel for user scope-retired was retired and replaced by "
            "replacement-writer");
  const auto* detail = r.error().detail<protocol::SourceRetiredDetail>();
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->source_id, kWriter);
  EXPECT_EQ(detail->replaced_by_source_id, "replacement-writer");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(UserCount(scope), "0");
  EXPECT_EQ(SyncCount("bundle_log", scope), "0");
}

// TestScopeManager_ExecWrite_NoCapturedChanges (no_writes, unregistered_only, normalized_away);
// server.md §3.7 step 5: the error rolls back everything, the auto-initialization and the
// unregistered-table writes included.
TEST_F(ServerWriteExecTest, NoCapturedChangesFailsAndRollsBackEverything) {
  CreateUnregisteredTable();
  const std::string scope = "scope-noop";
  struct Case {
    std::string name;
    SyncWriteFn fn;
  };
  const std::vector<Case> cases = {
      {"no_writes", [](SyncTransaction&) -> Status { return {}; }},
      {"unregistered_only",
       ExecSql("INSERT INTO business.unregistered_notes (id, body) VALUES ($1, $2)",
               {UserKey(9), "hello"})},
      {"normalized_away",
       [&scope](SyncTransaction& tx) -> Status {
         OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Temp")(tx));
         OVERSYNC_RETURN_IF_ERROR(
             tx.Exec("DELETE FROM business.users WHERE _sync_scope_id = $1 AND id = $2",
                     {scope, UserKey(1)}));
         return {};
       }},
      {"read_only",
       ExecSql("SELECT count(*) FROM business.users WHERE _sync_scope_id = $1", {scope})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = service_->ExecWrite(scope, kWriter, c.fn);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition) << r.error().ToString();
    EXPECT_EQ(r.error().message(),
              "scope write for scope-noop via admin-panel produced no visible registered-table "
              "effects");
    EXPECT_TRUE(ScopeUninitialized(scope)) << ScopeState(scope);
    EXPECT_EQ(SyncCount("bundle_log", scope), "0");
    EXPECT_EQ(SourceState(scope, std::string(kWriter)), "none");
    EXPECT_EQ(NotesCount(), "0");
    EXPECT_EQ(UserCount(scope), "0");
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "0");

  // The auto-initialization was undone: the first device still initializes the scope.
  auto connect = service_->Connect({scope, "device-a"}, {false});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  EXPECT_EQ(connect->resolution, ConnectResolution::kInitializeEmpty);
  EXPECT_EQ(ScopeState(scope), "2:device-a");

  // On an initialized scope the same error leaves the writer's watermark alone.
  auto again = service_->ExecWrite(scope, kWriter, cases[1].fn);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(NotesCount(), "0");
  auto next = service_->ExecWrite(scope, kWriter, InsertUser(UserKey(2), "Real"));
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_EQ(next->bundle.source_bundle_id, 1);
  EXPECT_EQ(next->bundle.bundle_seq, 1);
}

// TestScopeManager_ExecWrite_CallbackErrorRollsBack; server.md §3.6 step 1/6 and the header
// contract (the callback's error verbatim, run exactly once, everything rolled back).
TEST_F(ServerWriteExecTest, CallbackErrorIsReturnedVerbatimAndRollsBack) {
  CreateUnregisteredTable();
  const std::string scope = "scope-rollback";
  for (const ErrorCode code : {ErrorCode::kCancelled, ErrorCode::kUnavailable}) {
    // kUnavailable is what a retryable SQLSTATE maps to: still never retried.
    int calls = 0;
    auto r = service_->ExecWrite(scope, kWriter, [&calls, code](SyncTransaction& tx) -> Status {
      ++calls;
      OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Rollback")(tx));
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO business.unregistered_notes (id, body) VALUES ($1, 'x')", {UserKey(1)}));
      return {code, "boom"};
    });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Status(code, "boom")) << r.error().ToString();
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(UserCount(scope), "0");
  EXPECT_EQ(NotesCount(), "0");
  EXPECT_TRUE(ScopeUninitialized(scope)) << ScopeState(scope);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_rows"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.source_state"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
}

// TestScopeManager_ExecWrite_WriterSequencingAcrossScopesAndWriters; server.md §3.7 (sequencing
// is per (scope, writer); bundle_seq is per scope).
TEST_F(ServerWriteExecTest, WriterSequencingAcrossScopesAndWriters) {
  auto a1 = service_->ExecWrite("scope-a", kWriter, InsertUser(UserKey(1), "Alice One"));
  auto b1 = service_->ExecWrite("scope-b", kWriter, InsertUser(UserKey(2), "Bob One"));
  auto a2 = service_->ExecWrite("scope-a", kWriter, InsertUser(UserKey(3), "Alice Two"));
  auto a_other =
      service_->ExecWrite("scope-a", "billing-worker", InsertUser(UserKey(4), "Alice Billing"));
  for (const auto* r : {&a1, &b1, &a2, &a_other}) {
    ASSERT_TRUE(r->has_value()) << r->error().ToString();
  }
  EXPECT_EQ(a1->bundle.source_bundle_id, 1);
  EXPECT_EQ(b1->bundle.source_bundle_id, 1);
  EXPECT_EQ(a2->bundle.source_bundle_id, 2);
  EXPECT_EQ(a_other->bundle.source_bundle_id, 1);
  EXPECT_EQ(a1->bundle.bundle_seq, 1);
  EXPECT_EQ(b1->bundle.bundle_seq, 1);
  EXPECT_EQ(a2->bundle.bundle_seq, 2);
  EXPECT_EQ(a_other->bundle.bundle_seq, 3);
  EXPECT_TRUE(a1->auto_initialized);
  EXPECT_TRUE(b1->auto_initialized);
  EXPECT_FALSE(a2->auto_initialized);
  EXPECT_FALSE(a_other->auto_initialized);
  EXPECT_EQ(SourceState("scope-a", std::string(kWriter)), "active:2");
  EXPECT_EQ(SourceState("scope-a", "billing-worker"), "active:1");
  EXPECT_EQ(SourceState("scope-b", std::string(kWriter)), "active:1");
}

// TestScopeManager_ExecWrite_CollisionWithClientSourceUsesUnderlyingRuntimeRules; server.md §3.7
// (writer ids share the per-(scope, source) sequence space with client source ids).
TEST_F(ServerWriteExecTest, CollisionWithClientSourceContinuesItsSequence) {
  const Actor client{"scope-collision", "shared-writer"};
  InitializeScope(client);
  auto push = Push(client, 1, {Row("users", UserKey(1), "INSERT", 0, R"({"name":"Client"})")});
  ASSERT_TRUE(push.has_value()) << push.error().ToString();

  auto r = service_->ExecWrite(
      client.user_id, client.source_id,
      ExecSql("UPDATE business.users SET name = $3 WHERE _sync_scope_id = $1 AND id = $2",
              {client.user_id, UserKey(1), "Server"}));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->auto_initialized);
  EXPECT_EQ(r->bundle.source_id, "shared-writer");
  EXPECT_EQ(r->bundle.source_bundle_id, 2);
  EXPECT_EQ(r->bundle.bundle_seq, 2);
  auto rows = FetchAndVerify(client, AsCommit(r->bundle));
  EXPECT_EQ(Describe(rows), "UPDATE users " + UserKey(1));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].row_version, 2);
  EXPECT_EQ(PayloadText(rows[0]),
            fmt::format(R"({{"age":null,"id":"{}","name":"Server","score":null}})", UserKey(1)));
  EXPECT_EQ(SourceState(client.user_id, client.source_id), "active:2");

  // The client's retry of tuple 2 finds the server's bundle (accepted-push replay, server.md
  // §4.1 step 4); its next new bundle is 3.
  auto replay = service_->CreatePushSession(client, {2, 1, ""});
  ASSERT_TRUE(replay.has_value()) << replay.error().ToString();
  EXPECT_EQ(replay->status, protocol::PushSessionStatus::kAlreadyCommitted);
  EXPECT_EQ(replay->bundle_seq, 2);
  EXPECT_EQ(replay->bundle_hash, r->bundle.bundle_hash);
  auto next = Push(client, 3, {Row("users", UserKey(2), "INSERT", 0, R"({"name":"Next"})")});
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_EQ(next->bundle_seq, 3);
}

// TestScopeManager_ExecWrite_RejectsCrossScopeMutations, TestWithinSyncBundle_RejectsOwnerMutation-
// OnUpdate; server.md §1.12 (owner guard messages); nothing of the refused write commits.
TEST_F(ServerWriteExecTest, OwnerGuardRejectsCrossScopeMutations) {
  auto a = service_->ExecWrite("owner-a", kWriter, InsertUser(UserKey(1), "Owner A"));
  ASSERT_TRUE(a.has_value()) << a.error().ToString();

  struct Case {
    std::string scope;
    std::string sql;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"owner-b", "UPDATE business.users SET name = 'Intruder' WHERE id = $1",
       "scope mismatch on registered table business.users: actor owner-b cannot update owner "
       "owner-a"},
      {"owner-b", "DELETE FROM business.users WHERE id = $1",
       "scope mismatch on registered table business.users: actor owner-b cannot delete owner "
       "owner-a"},
      {"owner-a", "UPDATE business.users SET _sync_scope_id = 'owner-b' WHERE id = $1",
       "scope mutation is not allowed on registered table business.users"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sql);
    auto r = service_->ExecWrite(c.scope, kWriter, ExecSql(c.sql, {UserKey(1)}));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kDatabase) << r.error().ToString();
    EXPECT_TRUE(Contains(r.error().message(), c.message)) << r.error().message();
  }
  EXPECT_EQ(Scalar(fmt::format("SELECT _sync_scope_id || ':' || name FROM business.users "
                               "WHERE id = '{}'",
                               UserKey(1))),
            "owner-a:Owner A");
  EXPECT_TRUE(ScopeUninitialized("owner-b")) << ScopeState("owner-b");
  EXPECT_EQ(SyncCount("bundle_log", "owner-b"), "0");
  EXPECT_EQ(SyncCount("bundle_log", "owner-a"), "1");
  EXPECT_EQ(SourceState("owner-a", std::string(kWriter)), "active:1");
}

// TestScopeManager_ExecWrite_RejectsMismatchedScopeOnInsert; server.md §1.12 step 2 (an omitted
// or empty _sync_scope_id is filled in, a matching one is accepted).
TEST_F(ServerWriteExecTest, InsertScopeIsCheckedOrFilledIn) {
  auto mismatched = service_->ExecWrite(
      "actor-a", kWriter,
      ExecSql("INSERT INTO business.users (_sync_scope_id, id, name) VALUES ($1, $2, $3)",
              {"actor-b", UserKey(1), "Mallory"}));
  ASSERT_FALSE(mismatched.has_value());
  EXPECT_TRUE(Contains(mismatched.error().message(),
                       "scope mismatch on registered table business.users: actor actor-a cannot "
                       "write owner actor-b"))
      << mismatched.error().ToString();
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_TRUE(ScopeUninitialized("actor-a"));

  auto ok = service_->ExecWrite("actor-a", kWriter, [](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.users (id, name) VALUES ($1, 'omitted')", {UserKey(2)}));
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.users (_sync_scope_id, id, name) VALUES ('', $1, 'empty')",
                {UserKey(3)}));
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.users (_sync_scope_id, id, name) VALUES ($1, $2, 'explicit')",
                {std::string("actor-a"), UserKey(4)}));
    return {};
  });
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->bundle.row_count, 3);
  EXPECT_EQ(Scalar("SELECT string_agg(_sync_scope_id || ':' || name, ',' ORDER BY id) "
                   "FROM business.users"),
            "actor-a:omitted,actor-a:empty,actor-a:explicit");
  EXPECT_EQ(Describe(FetchAndVerify({"actor-a", "reader"}, AsCommit(ok->bundle))),
            fmt::format("INSERT users {},INSERT users {},INSERT users {}", UserKey(2), UserKey(3),
                        UserKey(4)));
}

// TestWithinSyncBundle_CapturesCascadeDeletes (through ExecWrite); server.md §1.12 notes (FK
// referential actions fire the child's capture trigger, in the same bundle).
TEST_F(ServerWriteExecTest, CapturesCascadedDeletesInTheSameBundle) {
  const std::string scope = "scope-cascade";
  const std::string user = UserKey(1);
  const std::string post = UserKey(2);
  auto created = service_->ExecWrite(scope, kWriter, [&](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(InsertUser(user, "Carol")(tx));
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.posts (id, author_id, title) VALUES ($1, $2, 'Hello')",
                {post, user}));
    return {};
  });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(Describe(FetchAndVerify({scope, "reader"}, AsCommit(created->bundle))),
            fmt::format("INSERT users {},INSERT posts {}", user, post));

  auto deleted = service_->ExecWrite(scope, kWriter,
                                     ExecSql("DELETE FROM business.users WHERE id = $1", {user}));
  ASSERT_TRUE(deleted.has_value()) << deleted.error().ToString();
  EXPECT_EQ(deleted->bundle.row_count, 2);
  EXPECT_EQ(deleted->bundle.source_bundle_id, 2);
  auto rows = FetchAndVerify({scope, "reader"}, AsCommit(deleted->bundle));
  EXPECT_EQ(DescribeSorted(rows), fmt::format("DELETE posts {},DELETE users {}", post, user));
  for (const auto& row : rows) {
    EXPECT_FALSE(row.payload.has_value()) << row.table;
    EXPECT_EQ(row.row_version, 2);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.posts"), "0");
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq || ':' || deleted, ',') FROM sync.row_state"),
            "2:true,2:true");
}

// TestScopeManager_ExecWrite_ComplexScopeSafeSQLAndTriggerEffects; server.md §1.12 notes (writes
// by user triggers are captured; same-timing triggers fire in name order, so the capture of the
// users row precedes the trigger-written row).
TEST_F(ServerWriteExecTest, CapturesUserTriggerWritesOnRegisteredTables) {
  Sql("CREATE FUNCTION business.create_doc_for_user() RETURNS TRIGGER LANGUAGE plpgsql AS $$ "
      "BEGIN INSERT INTO business.docs (_sync_scope_id, doc_id, body) "
      "VALUES (NEW._sync_scope_id, NEW.id::text, NEW.name); RETURN NEW; END; $$");
  Sql("CREATE TRIGGER users_create_doc AFTER INSERT ON business.users FOR EACH ROW "
      "EXECUTE FUNCTION business.create_doc_for_user()");
  const std::string scope = "scope-complex";
  const std::string user = UserKey(1);
  const std::string post = UserKey(2);
  auto r = service_->ExecWrite(scope, kWriter, [&](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(InsertUser(user, "Complex User")(tx));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        "WITH target AS (SELECT id FROM business.users WHERE _sync_scope_id = $1 AND id = $2) "
        "INSERT INTO business.posts (id, title, author_id) SELECT $3, 'Hello', id FROM target",
        {scope, user, post}));
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->bundle.row_count, 3);
  auto pull = service_->ProcessPull({scope, "reader"}, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  ASSERT_EQ(pull->bundles.size(), 1U);
  EXPECT_EQ(Describe(pull->bundles[0].rows),
            fmt::format("INSERT users {0},INSERT docs {0},INSERT posts {1}", user, post));
  FetchAndVerify({scope, "reader"}, AsCommit(r->bundle));
}

// server.md §3.4 (outbound bytea is standard base64 in bundle payloads, also for rows written by
// the server with SQL rather than pushed).
TEST_F(ServerWriteExecTest, ByteaWrittenByTheServerIsBase64InTheBundle) {
  const std::string scope = "scope-bytea";
  auto r = service_->ExecWrite(scope, kWriter, [](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.files (id, data) VALUES ($1, decode('68656c6c6f', 'hex'))",
                {UserKey(1)}));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("INSERT INTO business.files (id, data) VALUES ($1, $2::bytea)",
                                     {UserKey(2), std::string("\\x00ff10")}));
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO business.files (id, data) VALUES ($1, NULL)", {UserKey(3)}));
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  auto rows = FetchAndVerify({scope, "reader"}, AsCommit(r->bundle));
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(PayloadText(rows[0]), fmt::format(R"({{"data":"aGVsbG8=","id":"{}"}})", UserKey(1)));
  EXPECT_EQ(PayloadText(rows[1]), fmt::format(R"({{"data":"AP8Q","id":"{}"}})", UserKey(2)));
  EXPECT_EQ(PayloadText(rows[2]), fmt::format(R"({{"data":null,"id":"{}"}})", UserKey(3)));
  auto pull = service_->ProcessPull({scope, "reader"}, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  ASSERT_EQ(pull->bundles.size(), 1U);
  ASSERT_EQ(pull->bundles[0].rows.size(), 3U);
  EXPECT_EQ(PayloadText(pull->bundles[0].rows[0]), PayloadText(rows[0]));
}

// server.md §1.12 step 1: a write to a registered table outside any bundle (plain SQL, not
// through the API) is refused and counted; unregistered tables are untouched by the guard.
TEST_F(ServerWriteExecTest, DirectWriteOutsideTheApiIsRefused) {
  auto seeded = service_->ExecWrite("scope-direct", kWriter, InsertUser(UserKey(1), "Seed"));
  ASSERT_TRUE(seeded.has_value()) << seeded.error().ToString();
  const std::vector<std::string> statements = {
      fmt::format("INSERT INTO business.users (_sync_scope_id, id, name) VALUES "
                  "('scope-direct', '{}', 'x')",
                  UserKey(2)),
      fmt::format("UPDATE business.users SET name = 'y' WHERE id = '{}'", UserKey(1)),
      fmt::format("DELETE FROM business.users WHERE id = '{}'", UserKey(1)),
  };
  for (const std::string& sql : statements) {
    auto refused = db_->QueryScalar(sql);
    ASSERT_FALSE(refused.has_value()) << sql;
    EXPECT_TRUE(Contains(refused.error().message(),
                         "write to registered table business.users requires oversync sync "
                         "bundle context"))
        << refused.error().ToString();
  }
  EXPECT_EQ(Scalar("SELECT last_value FROM sync.rejected_registered_write_seq"), "3");
  EXPECT_EQ(Scalar("SELECT string_agg(name, ',') FROM business.users"), "Seed");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "1");
  CreateUnregisteredTable();
  Sql(fmt::format("INSERT INTO business.unregistered_notes VALUES ('{}', 'free')", UserKey(3)));
  EXPECT_EQ(NotesCount(), "1");
}

// TestScopeManager_ExecWrite_DifferentScopeDoesNotObserveChanges.
TEST_F(ServerWriteExecTest, DifferentScopeDoesNotObserveChanges) {
  InitializeScope({"scope-b", "reader-b"});
  auto r = service_->ExecWrite("scope-a", kWriter, InsertUser(UserKey(1), "Only A"));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  auto pull = service_->ProcessPull({"scope-b", "reader-b"}, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  EXPECT_TRUE(pull->bundles.empty());
  EXPECT_EQ(pull->stable_bundle_seq, 0);
}

// ==================== SyncTransaction (header contract, server.md §3.2 step 1)
// ====================

// The runtime owns the transaction: transaction control is refused before it reaches the server
// (the transaction stays usable), savepoints work and a rolled-back savepoint drops its captures.
TEST_F(ServerWriteSqlTest, ExecRefusesTransactionControlButAllowsSavepoints) {
  const std::string scope = "scope-sql";
  std::vector<std::string> failures;
  auto r = service_->ExecWrite(scope, kWriter, [&](SyncTransaction& tx) -> Status {
    for (const char* sql :
         {"COMMIT", "  /* x */ begin", "ROLLBACK", "end", "START TRANSACTION", "-- c\nabort",
          "rollback work", "ROLLBACK TRANSACTION", "PREPARE TRANSACTION 'p'", "commit and chain"}) {
      auto refused = tx.Exec(sql);
      if (refused.has_value()) {
        failures.push_back(fmt::format("'{}' was accepted", sql));
      } else if (refused.error().code() != ErrorCode::kInvalidArgument) {
        failures.push_back(fmt::format("'{}': {}", sql, refused.error().ToString()));
      }
    }
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("SAVEPOINT s"));
    OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Rolled back")(tx));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("ROLLBACK TO SAVEPOINT s"));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("RELEASE SAVEPOINT s"));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("savepoint t"));
    OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(2), "Kept")(tx));
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("rollback /* c */ to t"));
    OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(3), "After")(tx));
    return {};
  });
  EXPECT_EQ(failures, std::vector<std::string>{});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->bundle.row_count, 1);
  EXPECT_EQ(Describe(FetchAndVerify({scope, "reader"}, AsCommit(r->bundle))),
            "INSERT users " + UserKey(3));
  EXPECT_EQ(Scalar("SELECT string_agg(name, ',') FROM business.users"), "After");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
}

// SqlRows: column names, text values, NULLs, parameters (nullopt = NULL) and affected_rows
// ("rows inserted/updated/deleted by an INSERT/UPDATE/DELETE, 0 for other statements").
TEST_F(ServerWriteSqlTest, SqlRowsCarryNamesValuesNullsAndAffectedRows) {
  const std::string scope = "scope-rows";
  SqlRows select;
  SqlRows params;
  SqlRows insert;
  SqlRows update;
  SqlRows del;
  auto r = service_->ExecWrite(scope, kWriter, [&](SyncTransaction& tx) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(select, tx.Exec("SELECT 1 AS a, NULL::text AS b, 'x' AS c "
                                              "UNION ALL SELECT 2, 'y', NULL"));
    OVERSYNC_ASSIGN_OR_RETURN(params, tx.Exec("SELECT $1::text IS NULL AS n, $2::int + 1 AS m",
                                              {std::nullopt, std::string("41")}));
    OVERSYNC_ASSIGN_OR_RETURN(
        insert, tx.Exec("INSERT INTO business.users (id, name) VALUES ($1, 'a'), ($2, 'b') "
                        "RETURNING id, name",
                        {UserKey(1), UserKey(2)}));
    OVERSYNC_ASSIGN_OR_RETURN(update, tx.Exec("UPDATE business.users SET age = 7"));
    OVERSYNC_ASSIGN_OR_RETURN(del,
                              tx.Exec("DELETE FROM business.users WHERE id = $1", {UserKey(2)}));
    return {};
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();

  ASSERT_EQ(select.columns(), 3);
  ASSERT_EQ(select.rows(), 2);
  EXPECT_EQ(select.column_name(0), "a");
  EXPECT_EQ(select.column_name(1), "b");
  EXPECT_EQ(select.column_name(2), "c");
  EXPECT_EQ(select.Text(0, 0), "1");
  EXPECT_TRUE(select.IsNull(0, 1));
  EXPECT_EQ(select.Text(0, 1), "");
  EXPECT_EQ(select.Text(0, 2), "x");
  EXPECT_EQ(select.Text(1, 0), "2");
  EXPECT_EQ(select.Text(1, 1), "y");
  EXPECT_FALSE(select.IsNull(1, 1));
  EXPECT_TRUE(select.IsNull(1, 2));
  EXPECT_EQ(select.affected_rows(), 0) << "affected_rows of a SELECT (header: 0)";

  ASSERT_EQ(params.rows(), 1);
  EXPECT_EQ(params.Text(0, 0), "t");
  EXPECT_EQ(params.Text(0, 1), "42");

  EXPECT_EQ(insert.affected_rows(), 2);
  ASSERT_EQ(insert.rows(), 2);
  EXPECT_EQ(insert.column_name(0), "id");
  EXPECT_EQ(insert.Text(1, 0), UserKey(2));
  EXPECT_EQ(insert.Text(1, 1), "b");

  EXPECT_EQ(update.affected_rows(), 2);
  EXPECT_EQ(update.rows(), 0);
  EXPECT_EQ(update.columns(), 0);
  EXPECT_EQ(del.affected_rows(), 1);

  // Insert+update of 1 collapses to INSERT; 2 was inserted and deleted (dropped).
  EXPECT_EQ(Describe(FetchAndVerify({scope, "reader"}, AsCommit(r->bundle))),
            "INSERT users " + UserKey(1));
}

// Header contract of SyncTransaction::Exec: several statements in one string are
// kInvalidArgument.
TEST_F(ServerWriteSqlTest, ExecRefusesSeveralStatementsInOneString) {
  std::optional<Status> seen;
  auto r = service_->ExecWrite("scope-multi", kWriter, [&](SyncTransaction& tx) -> Status {
    auto multi = tx.Exec("SELECT 1; SELECT 2");
    seen = multi.has_value() ? Status() : multi.error();
    OVERSYNC_RETURN_IF_ERROR(multi);
    return {};
  });
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->code(), ErrorCode::kInvalidArgument) << seen->ToString();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), *seen);  // returned from the callback verbatim
  EXPECT_TRUE(ScopeUninitialized("scope-multi"));
}

// SQL errors inside the callback are kDatabase with the server's message and SQLSTATE; returning
// them rolls everything back.
TEST_F(ServerWriteSqlTest, SqlErrorIsReportedWithSqlState) {
  auto r = service_->ExecWrite("scope-sqlerr", kWriter, [](SyncTransaction& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "One")(tx));
    OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Duplicate")(tx));
    return {};
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kDatabase) << r.error().ToString();
  EXPECT_TRUE(Contains(r.error().message(), "23505")) << r.error().message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
  EXPECT_TRUE(ScopeUninitialized("scope-sqlerr"));
}

// =========================== WithinSyncBundle (server.md §3.6) ===========================

// server.md §3.6 step 2 (validation messages; ids trimmed).
TEST_F(ServerWriteBundleTest, ValidatesInputs) {
  int calls = 0;
  const SyncWriteFn fn = [&calls](SyncTransaction&) -> Status {
    ++calls;
    return {};
  };
  const auto expect_invalid = [](const Result<std::optional<CommittedBundle>>& r,
                                 std::string_view message) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
    EXPECT_EQ(r.error().message(), message);
  };
  expect_invalid(service_->WithinSyncBundle("", {"server-app", 1}, fn),
                 "actor user_id is required");
  expect_invalid(service_->WithinSyncBundle("  ", {"server-app", 1}, fn),
                 "actor user_id is required");
  expect_invalid(service_->WithinSyncBundle("u", {"", 1}, fn), "bundle source_id is required");
  expect_invalid(service_->WithinSyncBundle("u", {" \t", 1}, fn), "bundle source_id is required");
  expect_invalid(service_->WithinSyncBundle("u", {"server-app", 0}, fn),
                 "bundle source_bundle_id must be > 0");
  expect_invalid(service_->WithinSyncBundle("u", {"server-app", -1}, fn),
                 "bundle source_bundle_id must be > 0");
  expect_invalid(service_->WithinSyncBundle("u", {"server-app", 1}, SyncWriteFn()),
                 "bundle callback is required");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.user_state"), "0");
}

// server.md §3.6 step 3: the scope must be INITIALIZED (no auto-initialization here).
TEST_F(ServerWriteBundleTest, RequiresAnInitializedScope) {
  int calls = 0;
  const SyncWriteFn fn = [&calls](SyncTransaction& tx) -> Status {
    ++calls;
    return InsertUser(UserKey(1), "x")(tx);
  };
  auto uninitialized = service_->WithinSyncBundle("u", {"server-app", 1}, fn);
  ASSERT_FALSE(uninitialized.has_value());
  EXPECT_EQ(uninitialized.error().code(), ErrorCode::kScopeUninitialized)
      << uninitialized.error().ToString();
  EXPECT_EQ(uninitialized.error().message(), "sync scope for user u is not initialized");
  EXPECT_TRUE(ScopeUninitialized("u"));

  auto connect = service_->Connect({"v", "device-a"}, {true});
  ASSERT_TRUE(connect.has_value()) << connect.error().ToString();
  auto initializing = service_->WithinSyncBundle("v", {"server-app", 1}, fn);
  ASSERT_FALSE(initializing.has_value());
  EXPECT_EQ(initializing.error().code(), ErrorCode::kScopeInitializing)
      << initializing.error().ToString();
  EXPECT_EQ(initializing.error().message(),
            "sync scope for user v is initializing until " + connect->lease_expires_at);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM business.users"), "0");
}

// TestWithinSyncBundle_CapturesDirectServerWrite; server.md §3.6 steps 5-7 (the exact next tuple
// commits; a tuple at or below the watermark is history_pruned, never replayed; a gap is
// out of order; neither runs the callback).
TEST_F(ServerWriteBundleTest, SequencesExactSourceTuples) {
  const std::string user = "bundle-user";
  InitializeScope({user, "server-app"});
  auto first = service_->WithinSyncBundle(user, {"server-app", 1}, InsertUser(UserKey(1), "Alice"));
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(first->has_value());
  const CommittedBundle& b1 = **first;
  EXPECT_EQ(b1.bundle_seq, 1);
  EXPECT_EQ(b1.source_id, "server-app");
  EXPECT_EQ(b1.source_bundle_id, 1);
  EXPECT_EQ(b1.row_count, 1);
  EXPECT_EQ(Scalar("SELECT bundle_seq || ':' || source_id || ':' || source_bundle_id || ':' || "
                   "row_count || ':' || (byte_count > 0) || ':' || encode(bundle_hash, 'hex') "
                   "FROM sync.bundle_log"),
            "1:server-app:1:1:true:" + b1.bundle_hash);
  auto rows = FetchAndVerify({user, "reader"}, AsCommit(b1));
  EXPECT_EQ(Describe(rows), "INSERT users " + UserKey(1));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].row_version, 1);
  EXPECT_EQ(PayloadText(rows[0]),
            fmt::format(R"({{"age":null,"id":"{}","name":"Alice","score":null}})", UserKey(1)));
  EXPECT_EQ(Scalar("SELECT bundle_seq || ':' || deleted FROM sync.row_state"), "1:false");
  EXPECT_EQ(SourceState(user, "server-app"), "active:1");

  auto second = service_->WithinSyncBundle(user, {"server-app", 2}, InsertUser(UserKey(2), "Bob"));
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->bundle_seq, 2);
  EXPECT_EQ(SourceState(user, "server-app"), "active:2");

  int calls = 0;
  const SyncWriteFn counted = [&calls](SyncTransaction& tx) -> Status {
    ++calls;
    return InsertUser(UserKey(3), "Never")(tx);
  };
  for (const std::int64_t old_tuple : {1, 2}) {
    auto pruned = service_->WithinSyncBundle(user, {"server-app", old_tuple}, counted);
    ASSERT_FALSE(pruned.has_value());
    EXPECT_EQ(pruned.error().code(), ErrorCode::kHistoryPruned) << pruned.error().ToString();
    EXPECT_EQ(pruned.error().message(),
              fmt::format("source tuple (server-app, {}) for user bundle-user is older than "
                          "retained duplicate history; max committed source_bundle_id is 2",
                          old_tuple));
  }
  auto gap = service_->WithinSyncBundle(user, {"server-app", 4}, counted);
  ASSERT_FALSE(gap.has_value());
  EXPECT_EQ(gap.error().code(), ErrorCode::kSourceSequenceOutOfOrder) << gap.error().ToString();
  EXPECT_EQ(gap.error().message(),
            "source server-app for user bundle-user expected next source_bundle_id 3, got 4");
  auto fresh = service_->WithinSyncBundle(user, {"new-source", 2}, counted);
  ASSERT_FALSE(fresh.has_value());
  EXPECT_EQ(fresh.error().code(), ErrorCode::kSourceSequenceOutOfOrder);
  EXPECT_EQ(fresh.error().message(),
            "source new-source for user bundle-user expected next source_bundle_id 1, got 2");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(SourceState(user, "server-app"), "active:2");
  EXPECT_EQ(SourceState(user, "new-source"), "none");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "2");
}

// TestWithinSyncBundle_RetiredSourceFailsClosed (retirement set directly, see RetireSource).
TEST_F(ServerWriteBundleTest, RetiredSourceFailsClosed) {
  const std::string user = "bundle-retired";
  InitializeScope({user, "server-old"});
  RetireSource(user, "server-old", "server-new");
  auto r = service_->WithinSyncBundle(user, {"server-old", 1}, InsertUser(UserKey(1), "Alice"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kSourceRetired) << r.error().ToString();
  EXPECT_EQ(r.error().message(),
            "source server-old for user bundle-retired was retired and replaced by server-new");
  const auto* detail = r.error().detail<protocol::SourceRetiredDetail>();
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->source_id, "server-old");
  EXPECT_EQ(detail->replaced_by_source_id, "server-new");
  EXPECT_EQ(UserCount(user), "0");
}

// server.md §3.6 step 7 and TestBundleChangeNotify_NoCapturedChangesEmitsNoPostgresNotify: no
// registered effects -> success without a bundle; unregistered writes persist; the source does
// not advance, so the same tuple is still the next one.
TEST_F(ServerWriteBundleTest, NoRegisteredEffectsCommitsWithoutABundle) {
  CreateUnregisteredTable();
  const std::string user = "bundle-nochange";
  InitializeScope({user, "server-app"});

  auto nothing = service_->WithinSyncBundle(user, {"server-app", 1},
                                            [](SyncTransaction&) -> Status { return {}; });
  ASSERT_TRUE(nothing.has_value()) << nothing.error().ToString();
  EXPECT_FALSE(nothing->has_value());

  auto unregistered = service_->WithinSyncBundle(
      user, {"server-app", 1},
      ExecSql("INSERT INTO business.unregistered_notes (id, body) VALUES ($1, 'kept')",
              {UserKey(9)}));
  ASSERT_TRUE(unregistered.has_value()) << unregistered.error().ToString();
  EXPECT_FALSE(unregistered->has_value());
  EXPECT_EQ(NotesCount(), "1");

  auto normalized =
      service_->WithinSyncBundle(user, {"server-app", 1}, [&user](SyncTransaction& tx) -> Status {
        OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Temp")(tx));
        OVERSYNC_RETURN_IF_ERROR(
            tx.Exec("DELETE FROM business.users WHERE _sync_scope_id = $1 AND id = $2",
                    {user, UserKey(1)}));
        return {};
      });
  ASSERT_TRUE(normalized.has_value()) << normalized.error().ToString();
  EXPECT_FALSE(normalized->has_value());

  EXPECT_EQ(SourceState(user, "server-app"), "none");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_log"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.row_state"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.bundle_capture_stage"), "0");
  EXPECT_EQ(Scalar("SELECT next_bundle_seq FROM sync.user_state"), "1");

  auto real = service_->WithinSyncBundle(user, {"server-app", 1}, InsertUser(UserKey(2), "Real"));
  ASSERT_TRUE(real.has_value()) << real.error().ToString();
  ASSERT_TRUE(real->has_value());
  EXPECT_EQ((*real)->bundle_seq, 1);
  EXPECT_EQ((*real)->source_bundle_id, 1);
  EXPECT_EQ(SourceState(user, "server-app"), "active:1");
}

// TestWithinSyncBundle_RollbackLeavesNoVisibleBundle and
// TestWithinSyncBundle_DoesNotRetryCallbackOnRetryableTransactionError.
TEST_F(ServerWriteBundleTest, CallbackErrorRollsBackAndIsNotRetried) {
  CreateUnregisteredTable();
  const std::string user = "bundle-rollback";
  InitializeScope({user, "server-app"});
  for (const ErrorCode code : {ErrorCode::kInternal, ErrorCode::kUnavailable}) {
    int calls = 0;
    auto r = service_->WithinSyncBundle(
        user, {"server-app", 1}, [&calls, code](SyncTransaction& tx) -> Status {
          ++calls;
          OVERSYNC_RETURN_IF_ERROR(InsertUser(UserKey(1), "Bob")(tx));
          OVERSYNC_RETURN_IF_ERROR(tx.Exec(
              "INSERT INTO business.unregistered_notes (id, body) VALUES ($1, 'x')", {UserKey(1)}));
          return {code, "force rollback"};
        });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), Status(code, "force rollback")) << r.error().ToString();
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(UserCount(user), "0");
  EXPECT_EQ(NotesCount(), "0");
  EXPECT_EQ(SyncCount("bundle_log", user), "0");
  EXPECT_EQ(SyncCount("bundle_rows", user), "0");
  EXPECT_EQ(SyncCount("row_state", user), "0");
  EXPECT_EQ(SyncCount("bundle_capture_stage", user), "0");
  EXPECT_EQ(SyncCount("source_state", user), "0");
}

// server.md §1.12 capture step 5 and §3.2 step 3: a sync key change is captured as DELETE(old key)
// + INSERT(new key), in that order.
TEST_F(ServerWriteBundleTest, KeyChangeBecomesDeleteAndInsert) {
  const std::string user = "bundle-keychange";
  InitializeScope({user, "server-app"});
  auto created = service_->WithinSyncBundle(
      user, {"server-app", 1},
      ExecSql("INSERT INTO business.docs (doc_id, body) VALUES ('old', 'b')"));
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  ASSERT_TRUE(created->has_value());
  auto renamed = service_->WithinSyncBundle(
      user, {"server-app", 2},
      ExecSql("UPDATE business.docs SET doc_id = 'new' WHERE doc_id = 'old'"));
  ASSERT_TRUE(renamed.has_value()) << renamed.error().ToString();
  ASSERT_TRUE(renamed->has_value());
  auto rows = FetchAndVerify({user, "reader"}, AsCommit(**renamed));
  EXPECT_EQ(Describe(rows), "DELETE docs old,INSERT docs new");
}

// server.md §9.2 row 24: TestWithinSyncBundle_CapturesCascadeUpdates. The fixture's posts ->
// users FK is recreated with ON UPDATE CASCADE (and the service re-bootstrapped so it sees the
// new FK); a parent key change is captured as parent DELETE + INSERT plus a child UPDATE carrying
// the new FK value, in the same bundle.
TEST_F(ServerWriteBundleTest, CapturesCascadeUpdates) {
  Sql("ALTER TABLE business.posts DROP CONSTRAINT posts__sync_scope_id_author_id_fkey");
  Sql("ALTER TABLE business.posts ADD CONSTRAINT posts_author_fkey "
      "FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users(_sync_scope_id, id) "
      "ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE");
  service_.reset();
  service_ = MakeService();
  ASSERT_TRUE(service_);

  const std::string user = "bundle-cascade-update";
  const std::string parent = UserKey(1);
  const std::string new_parent = UserKey(2);
  const std::string child = UserKey(3);
  InitializeScope({user, "server-app"});
  auto created =
      service_->WithinSyncBundle(user, {"server-app", 1}, [&](SyncTransaction& tx) -> Status {
        OVERSYNC_RETURN_IF_ERROR(InsertUser(parent, "Parent")(tx));
        OVERSYNC_RETURN_IF_ERROR(
            tx.Exec("INSERT INTO business.posts (id, author_id, title) VALUES ($1, $2, 'Child')",
                    {child, parent}));
        return {};
      });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  ASSERT_TRUE(created->has_value());

  auto updated = service_->WithinSyncBundle(
      user, {"server-app", 2},
      ExecSql("UPDATE business.users SET id = $2 WHERE id = $1", {parent, new_parent}));
  ASSERT_TRUE(updated.has_value()) << updated.error().ToString();
  ASSERT_TRUE(updated->has_value());
  EXPECT_EQ((*updated)->row_count, 3);
  auto rows = FetchAndVerify({user, "reader"}, AsCommit(**updated));
  EXPECT_EQ(DescribeSorted(rows), fmt::format("DELETE users {},INSERT users {},UPDATE posts {}",
                                              parent, new_parent, child));
  for (const auto& row : rows) {
    if (row.table != "posts") continue;
    ASSERT_TRUE(row.payload.has_value());
    const protocol::JsonValue* author = row.payload->Find("author_id");
    ASSERT_NE(author, nullptr);
    EXPECT_EQ(author->as_string(), new_parent);
  }
  EXPECT_EQ(Scalar("SELECT id::text FROM business.users"), new_parent);
  EXPECT_EQ(
      Scalar(fmt::format("SELECT author_id::text FROM business.posts WHERE id = '{}'", child)),
      new_parent);
}

// ====================== concurrency (server.md §3.1, §3.2 step 5, §7.3) ======================

// TestScopeManager_ExecWrite_ConcurrentUsage (same writer): writes of one writer to one scope
// serialize; source_bundle_ids and bundle_seqs are dense, and exactly one write initialized.
TEST_F(ServerWriteConcurrencyTest, SameWriterSameScopeIsDense) {
  constexpr int kThreads = 4;
  const std::string scope = "scope-same-writer";
  std::vector<std::optional<ScopeWriteResult>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &scope, &results, &errors] {
      const auto index = static_cast<std::size_t>(i);
      auto r = service_->ExecWrite(scope, kWriter,
                                   InsertUser(UserKey(i + 1), fmt::format("writer-{}", i)));
      if (r) {
        results[index] = std::move(*r);
      } else {
        errors[index] = r.error().ToString();
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<std::int64_t> sbids;
  std::vector<std::int64_t> seqs;
  int initialized = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].has_value()) << "thread " << i << ": " << errors[i];
    sbids.push_back(results[i]->bundle.source_bundle_id);
    seqs.push_back(results[i]->bundle.bundle_seq);
    // Both sequences advance together under the scope's lock.
    EXPECT_EQ(results[i]->bundle.bundle_seq, results[i]->bundle.source_bundle_id);
    initialized += results[i]->auto_initialized ? 1 : 0;
  }
  std::sort(sbids.begin(), sbids.end());
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(sbids, (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(initialized, 1);
  EXPECT_EQ(SourceState(scope, std::string(kWriter)), "active:4");
  EXPECT_EQ(UserCount(scope), "4");
  EXPECT_EQ(Scalar("SELECT string_agg(bundle_seq || ':' || source_bundle_id, ',' ORDER BY "
                   "bundle_seq) FROM sync.bundle_log"),
            "1:1,2:2,3:3,4:4");
  auto pull = service_->ProcessPull({scope, "reader"}, {0, 10, 0});
  ASSERT_TRUE(pull.has_value()) << pull.error().ToString();
  EXPECT_EQ(pull->stable_bundle_seq, kThreads);
}

// TestScopeManager_ExecWrite_ConcurrentUsage (different writers, and different scopes at once).
TEST_F(ServerWriteConcurrencyTest, DifferentWritersAndScopesInParallel) {
  const std::vector<std::pair<std::string, std::string>> jobs = {
      {"scope-shared", "admin-panel"}, {"scope-shared", "billing-worker"},
      {"scope-shared", "tool-runner"}, {"scope-shared", "report-job"},
      {"scope-left", "admin-panel"},   {"scope-right", "admin-panel"}};
  std::vector<std::optional<ScopeWriteResult>> results(jobs.size());
  std::vector<std::string> errors(jobs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    threads.emplace_back([this, i, &jobs, &results, &errors] {
      auto r = service_->ExecWrite(jobs[i].first, jobs[i].second,
                                   InsertUser(UserKey(static_cast<int>(i) + 1), jobs[i].second));
      if (r) {
        results[i] = std::move(*r);
      } else {
        errors[i] = r.error().ToString();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::int64_t> shared_seqs;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_TRUE(results[i].has_value())
        << jobs[i].first << "/" << jobs[i].second << ": " << errors[i];
    EXPECT_EQ(results[i]->bundle.source_bundle_id, 1);
    if (jobs[i].first == "scope-shared") shared_seqs.push_back(results[i]->bundle.bundle_seq);
  }
  std::sort(shared_seqs.begin(), shared_seqs.end());
  EXPECT_EQ(shared_seqs, (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Scalar("SELECT string_agg(u.user_id || ':' || (u.next_bundle_seq - 1), ',' ORDER BY "
                   "u.user_id) FROM sync.user_state u"),
            "scope-left:1,scope-right:1,scope-shared:4");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync.scope_state WHERE state_code = 2"), "3");
}

}  // namespace
}  // namespace oversync::testing
