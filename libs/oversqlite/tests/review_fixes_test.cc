// Regression tests of the oversqlite review fixes (docs/compatibility.md items 56-62) end to end
// against the in-process reference server (label e2e; needs OVERSYNC_TEST_DSN). Each test pins one
// deliberate deviation from go-oversync where the Go client loses a local edit, dead-ends, loops or
// applies unverified data, and cites the compatibility entry and the client.md section it pins.
//
// Local edits "while an operation runs" are made deterministically from inside the transport: a
// FaultTransport response rewriter runs on the operation's thread after the server answered and
// before the client sees the answer, i.e. between two of the client's transactions (no SQLite
// transaction spans a request), and writes through the application's handle (Client::db(), a
// connection separate from the client's own), exactly like an app thread would.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_fixture.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/messages.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

// Source id of the server-originated "peer" writes (another device of the same user).
constexpr std::string_view kPeerSource = "1b3c5d7e-0000-4000-8000-00000000beef";

// The server's typed_rows table (apps/oversyncd business schema), locally with INTEGER columns.
constexpr std::string_view kTypedRowsDdl = R"sql(
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT, count_value INTEGER,
  enabled_flag INTEGER NOT NULL, rating REAL, data BLOB, created_at TEXT);
)sql";

// 2^53 + 1: the smallest positive integer a float64 cannot hold.
constexpr std::string_view kBeyondDouble = "9007199254740993";

class ReviewFixesTest : public ClientFixture {
 protected:
  ReviewFixesTest() {
    user_ = "review-user";
    file_prefix_ = "review";
  }

  // One server-originated bundle by the peer source; returns its bundle seq.
  std::int64_t PeerWrite(const std::string& sql) { return ServerWriteAs(kPeerSource, sql); }
  std::int64_t PeerRename(int n, std::string_view name) {
    return PeerWrite(
        fmt::format("UPDATE business.users SET name = '{}' WHERE id = '{}'", name, FixtureUuid(n)));
  }
  std::int64_t PeerInsertUser(int n, std::string_view name) {
    return PeerWrite(
        fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', '{}', "
                    "'{}@example.com')",
                    FixtureUuid(n), name, name));
  }

  static std::string LocalName(const Device& d, int n) {
    return d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(n)));
  }
  static void Rename(const Device& d, int n, std::string_view name) {
    d.Exec(fmt::format("UPDATE users SET name = '{}' WHERE id = '{}'", name, FixtureUuid(n)));
  }
  static std::string DirtyOp(const Device& d, std::string_view table, int n) {
    return d.Text(
        fmt::format("SELECT op FROM _sync_dirty_rows WHERE table_name = '{}' AND key_json = "
                    "'{{\"id\":\"{}\"}}'",
                    table, FixtureUuid(n)));
  }
  static std::int64_t DirtyBase(const Device& d, std::string_view table, int n) {
    return d.Int(
        fmt::format("SELECT base_row_version FROM _sync_dirty_rows WHERE table_name = '{}' AND "
                    "key_json = '{{\"id\":\"{}\"}}'",
                    table, FixtureUuid(n)));
  }
  static std::int64_t RowVersion(const Device& d, std::string_view table, int n) {
    return d.Int(
        fmt::format("SELECT row_version FROM _sync_row_state WHERE table_name = '{}' AND "
                    "key_json = '{{\"id\":\"{}\"}}'",
                    table, FixtureUuid(n)));
  }

  // Runs `action` once, on the `nth` (0-based) forwarded answer to `method` + a path starting with
  // `prefix`, before the client sees that answer.
  static void OnNthAnswer(Device& d, std::string method, std::string prefix, int nth,
                          std::function<void()> action) {
    auto seen = std::make_shared<int>(0);
    d.transport->SetResponseRewriter(
        [method = std::move(method), prefix = std::move(prefix), nth, seen,
         action = std::move(action)](const HttpRequest& request, HttpResponse& /*response*/) {
          if (request.method != method) return;
          if (FaultTransport::PathOf(request.url).rfind(prefix, 0) != 0) return;
          if ((*seen)++ == nth) action();
        });
  }

  static void ExpectKind(const Status& status, ClientErrorKind kind) {
    EXPECT_EQ(ClientErrorKindOf(status), kind)
        << ClientErrorKindName(ClientErrorKindOf(status)) << ": " << status.ToString();
  }

  // Push (and, in profile A, pull) fail fast with RebuildRequired and touch no network
  // (client.md §6.1 step 1). Profile B's pull resumes the gate itself (docs/compatibility.md 82),
  // so it is not called here.
  static void ExpectRebuildGate(Device& d) {
    d.transport->ResetCounts();
    Result<PushReport> pushed = d.client->PushPending();
    ASSERT_FALSE(pushed.has_value());
    ExpectKind(pushed.error(), ClientErrorKind::kRebuildRequired);
    if (!TestingProfileB()) {
      Result<RemoteSyncReport> pulled = d.client->PullToStable();
      ASSERT_FALSE(pulled.has_value());
      ExpectKind(pulled.error(), ClientErrorKind::kRebuildRequired);
    }
    EXPECT_EQ(d.transport->Count("", "/"), 0);
  }

  // A started device whose file also has the typed_rows table (synced as well).
  Device& StartedTypedDevice() {
    Device& d = NewDevice();
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(d.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, std::string(kTypedRowsDdl).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    Start(d, [](Config& c) { c.tables.push_back({"typed_rows", "id", {}}); });
    return d;
  }
};

// docs/compatibility.md 57; client.md §5.2 (one transaction per bundle, checkpoint per bundle).
// A pull spanning several pages (download_limit 1) of peer bundles that all touch user 1; the app
// renames user 1 after the first page applied. Go applies the next bundle over the edit and
// deletes its dirty row (the edit is lost silently); here the bundle's transaction sees the dirty
// row and stops with DirtyStateRejected before applying anything of that bundle.
TEST_F(ReviewFixesTest, PullStopsAtBundleInsteadOfOverwritingEditMadeBetweenPages) {
  Device& d = StartedDevice([](Config& c) { c.download_limit = 1; });
  InsertUser(d, 1, "orig");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  ASSERT_EQ(d.Checkpoint(), 1);
  const std::int64_t first = PeerRename(1, "peer-1");
  PeerRename(1, "peer-2");
  const std::int64_t last = PeerRename(1, "peer-3");
  ASSERT_EQ(last, first + 2);

  d.transport->ResetCounts();
  OnNthAnswer(d, "GET", "/sync/pull", 1, [&d] { Rename(d, 1, "mine"); });
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_FALSE(pulled.has_value());
  ExpectKind(pulled.error(), ClientErrorKind::kDirtyStateRejected);
  ASSERT_NE(ClientErrorOf(pulled.error()), nullptr);
  EXPECT_EQ(ClientErrorOf(pulled.error())->dirty_count, 1);
  EXPECT_EQ(d.transport->Count("GET", "/sync/pull"), 2);  // stopped, did not page on
  // The first peer bundle applied and checkpointed; nothing of the second.
  EXPECT_EQ(d.Checkpoint(), first);
  EXPECT_EQ(RowVersion(d, "users", 1), first);
  EXPECT_EQ(d.ApplyMode(), 0);
  // The user's edit and its dirty row are intact, based on the version it was made over.
  EXPECT_EQ(LocalName(d, 1), "mine");
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(DirtyOp(d, "users", 1), "UPDATE");
  EXPECT_EQ(DirtyBase(d, "users", 1), first);

  // Converge: push the edit first (it is stale against peer-3, so the resolver keeps it), then
  // pull the rest; the edit survives on both sides.
  d.client->SetResolver(ClientWinsResolver());
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  Result<RemoteSyncReport> rest = d.client->PullToStable();
  ASSERT_TRUE(rest.has_value()) << rest.error().ToString();
  EXPECT_EQ(d.Checkpoint(), last + 1);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(LocalName(d, 1), "mine");
  EXPECT_EQ(ServerUserName(1), "mine");
}

// docs/compatibility.md 58; client.md §6.1 step 5 and §6.2 (keep-source Rebuild). The app edits
// user 1 while the snapshot chunk downloads. Go wipes the edit with the managed tables; here the
// dirty row is held, re-applied over the snapshot and requeued against the snapshot's row version,
// so the next push commits it without a conflict (the default ServerWins resolver would otherwise
// drop it).
TEST_F(ReviewFixesTest, KeepSourceRebuildCarriesEditMadeWhileSnapshotDownloads) {
  Device& d = StartedDevice([](Config& c) { c.snapshot_chunk_rows = 1; });
  InsertUser(d, 1, "orig");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::int64_t renamed = PeerRename(1, "peer");
  const std::int64_t last = PeerInsertUser(2, "two");
  ASSERT_EQ(d.Dirty(), 0);

  // The first chunk (of two: one row per chunk) has arrived; the app writes before it is staged.
  OnNthAnswer(d, "GET", "/sync/snapshot-sessions/", 0, [&d] { Rename(d, 1, "edited"); });
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  ASSERT_TRUE(rebuilt->restore.has_value());
  EXPECT_EQ(rebuilt->restore->bundle_seq, last);
  EXPECT_EQ(d.client->GetSnapshotTransferDiagnostics().chunks_fetched, 2);
  EXPECT_EQ(d.Checkpoint(), last);
  EXPECT_EQ(d.RebuildRequired(), 0);
  EXPECT_EQ(d.SnapshotStage(), 0);
  EXPECT_EQ(LocalName(d, 2), "two");
  // The edit survived and is queued against the snapshot's version of the row.
  EXPECT_EQ(LocalName(d, 1), "edited");
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(DirtyOp(d, "users", 1), "UPDATE");
  EXPECT_EQ(DirtyBase(d, "users", 1), renamed);
  EXPECT_EQ(RowVersion(d, "users", 1), renamed);

  d.client->ResetPushTransferDiagnostics();
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.client->GetPushTransferDiagnostics().sessions_created, 1);  // no conflict round
  EXPECT_EQ(ServerUserName(1), "edited");
  EXPECT_EQ(d.Dirty(), 0);
}

// docs/compatibility.md 59 + 58; client.md §5.1 step 3 (pull history_pruned -> keep-source
// rebuild), §6.1 step 1 (durable rebuild_required gate), §6.2. The fallback rebuild's snapshot
// session cannot be created, which leaves rebuild_required set: push and pull are blocked. The user
// keeps editing. Go's Rebuild then refuses (DirtyStateRejected): a dead end. Here Rebuild succeeds
// and carries the edit, and the next push commits it.
TEST_F(ReviewFixesTest, RebuildAfterFailedPullFallbackAcceptsDirtyRowsAndKeepsThem) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "orig");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::int64_t renamed = PeerRename(1, "peer");
  const std::int64_t last = PeerInsertUser(2, "two");
  PruneHistoryThrough(last);

  d.transport->ResetCounts();
  d.transport->FailNext("POST", "/sync/snapshot-sessions", 3, FaultKind::kHttpStatus, 503);
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_FALSE(pulled.has_value());
  ExpectKind(pulled.error(), ClientErrorKind::kRetryExhausted);
  EXPECT_EQ(d.transport->Count("POST", "/sync/snapshot-sessions"), 3);
  EXPECT_EQ(d.RebuildRequired(), 1);
  EXPECT_EQ(d.Checkpoint(), 1);
  ExpectRebuildGate(d);
  if (HasFatalFailure()) return;

  // The user edits meanwhile (writes are not blocked by rebuild_required).
  Rename(d, 1, "mine");
  ASSERT_EQ(d.Dirty(), 1);
  ASSERT_EQ(DirtyBase(d, "users", 1), 1);

  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(d.RebuildRequired(), 0);
  EXPECT_EQ(d.Checkpoint(), last);
  EXPECT_EQ(LocalName(d, 2), "two");
  EXPECT_EQ(LocalName(d, 1), "mine");
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(DirtyOp(d, "users", 1), "UPDATE");
  EXPECT_EQ(DirtyBase(d, "users", 1), renamed);

  d.client->ResetPushTransferDiagnostics();
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.client->GetPushTransferDiagnostics().sessions_created, 1);
  EXPECT_EQ(ServerUserName(1), "mine");
  EXPECT_EQ(ServerUserName(2), "two");
  EXPECT_EQ(d.Dirty(), 0);
  Result<RemoteSyncReport> after = d.client->PullToStable();
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
}

// docs/compatibility.md 59; client.md §4.7 (committed-replay-pruned recovery), §6.1 step 1. The
// committed bundle is pruned before its replay (as in recovery_test.cc
// CommittedBundlePrunedBeforeReplayFallsBackToKeepSourceRebuild), and the §4.7 fallback rebuild
// cannot create its snapshot session: the committed_remote outbox stays and rebuild_required is
// set. Go's Rebuild refuses (PendingPushReplay) while push/pull are blocked: a dead end. Here
// Rebuild clears the outbox (the snapshot contains it) and advances the source floor past it.
TEST_F(ReviewFixesTest, RebuildAfterFailedCommittedReplayFallbackClearsCommittedOutbox) {
  Device& d = StartedDevice();
  const std::string source = d.client->source_id();
  InsertUser(d, 1, "one");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  InsertUser(d, 2, "two");
  d.client->SetBeforePushReplayHook([&]() -> Status {
    PruneHistoryThrough(2);
    return FixtureHookError();
  });
  ASSERT_FALSE(d.client->PushPending().has_value());
  ASSERT_EQ(d.OutboxState(), "committed_remote");
  ASSERT_EQ(d.Int("SELECT remote_bundle_seq FROM _sync_outbox_bundle"), 2);

  d.transport->ResetCounts();
  d.transport->FailNext("POST", "/sync/snapshot-sessions", 3, FaultKind::kHttpStatus, 503);
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectKind(failed.error(), ClientErrorKind::kRetryExhausted);
  EXPECT_EQ(d.transport->Count("POST", "/sync/snapshot-sessions"), 3);
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.OutboxRows(), 1);
  EXPECT_EQ(d.RebuildRequired(), 1);
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(d.Checkpoint(), 1);
  ExpectRebuildGate(d);
  if (HasFatalFailure()) return;

  d.client->ResetSnapshotTransferDiagnostics();
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(d.client->GetSnapshotTransferDiagnostics().sessions_created, 1);
  EXPECT_EQ(d.client->source_id(), source);  // keep-source
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.PushStage(), 0);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.RebuildRequired(), 0);
  EXPECT_EQ(d.OperationKind(), "none");
  EXPECT_EQ(d.NextBundleId(), 3);  // past the committed bundle (source_bundle_id 2)
  EXPECT_EQ(d.Checkpoint(), 2);
  // Data equals the server's.
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);
  EXPECT_EQ(LocalName(d, 1), "one");
  EXPECT_EQ(LocalName(d, 2), "two");
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"), "2");
  EXPECT_EQ(RowVersion(d, "users", 2), 2);

  InsertUser(d, 3, "three");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(
      ServerText(fmt::format(
          "SELECT max(source_bundle_id) FROM sync.bundle_log WHERE source_id = '{}'", source)),
      "3");
  EXPECT_EQ(ServerUserName(3), "three");
}

// docs/compatibility.md 60; client.md §4.6 (KeepLocal row of the resolution table). Device B
// freezes user 1 as "frozen", then (during the upload, before the commit) edits it again to
// "newest"; device A's version makes the commit conflict and B keeps local. Go upserts the frozen
// payload over the newer edit and requeues it, so its retry pushes "frozen"; here the newest edit
// stays and only its dirty row is rebased on the server's version.
TEST_F(ReviewFixesTest, ClientWinsKeepsEditMadeAfterTheFreeze) {
  Device& a = StartedDevice();
  InsertUser(a, 1, "orig");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  Device& b = StartedDevice();
  ASSERT_EQ(LocalName(b, 1), "orig");
  Rename(a, 1, "from-a");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);

  Rename(b, 1, "frozen");
  b.client->SetResolver(ClientWinsResolver());
  b.client->SetBeforePushCommitHook([&b]() -> Status {
    Rename(b, 1, "newest");
    return {};
  });
  b.transport->ResetCounts();
  PushReport report = MustPush(b);
  EXPECT_EQ(report.outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "newest");
  EXPECT_EQ(LocalName(b, 1), "newest");
  EXPECT_EQ(b.Dirty(), 0);
  EXPECT_EQ(b.OutboxState(), "none");
  EXPECT_EQ(RowVersion(b, "users", 1), 3);

  // The conflicted upload carried "frozen", the retried one "newest" (Go re-sent "frozen").
  std::vector<std::string> chunks;
  for (const HttpRequest& request : b.transport->Requests()) {
    const std::string path = FaultTransport::PathOf(request.url);
    if (request.method == "POST" && path.size() > 7 &&
        path.compare(path.size() - 7, 7, "/chunks") == 0) {
      chunks.push_back(request.body);
    }
  }
  ASSERT_EQ(chunks.size(), 2U);
  EXPECT_NE(chunks[0].find("\"frozen\""), std::string::npos) << chunks[0];
  EXPECT_NE(chunks[1].find("\"newest\""), std::string::npos) << chunks[1];
  EXPECT_EQ(chunks[1].find("\"frozen\""), std::string::npos) << chunks[1];

  // A converges to the same value.
  Result<RemoteSyncReport> pulled = a.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(LocalName(a, 1), "newest");
}

// docs/compatibility.md 61 (pull half); client.md §5.1 step 4. A page with has_more=true and no
// bundles below the ceiling: Go re-requests the same page forever (holding the operation lock);
// here it fails closed on that page. The rewrite stops after three answers, so a regression ends
// in a different error instead of hanging the test.
TEST_F(ReviewFixesTest, PullPageWithHasMoreAndNoBundlesFailsClosed) {
  Device& d = StartedDevice();
  ASSERT_EQ(d.Checkpoint(), 0);
  auto rewritten = std::make_shared<int>(0);
  d.transport->SetResponseRewriter([rewritten](const HttpRequest& request, HttpResponse& response) {
    if (request.method != "GET" || FaultTransport::PathOf(request.url) != "/sync/pull") return;
    if ((*rewritten)++ >= 3) return;
    response.body = R"({"stable_bundle_seq":5,"bundles":[],"has_more":true})";
  });
  d.transport->ResetCounts();
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_FALSE(pulled.has_value());
  EXPECT_NE(pulled.error().message().find("has_more without bundles"), std::string::npos)
      << pulled.error().ToString();
  EXPECT_EQ(pulled.error().code(), ErrorCode::kProtocolViolation) << pulled.error().ToString();
  EXPECT_EQ(d.transport->Count("GET", "/sync/pull"), 1);
  EXPECT_EQ(d.Checkpoint(), 0);

  // The real answer works.
  Result<RemoteSyncReport> again = d.client->PullToStable();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
}

// docs/compatibility.md 61 (push half); protocol.md §2.7, client.md §4.4 (fetch and verify the
// committed bundle). A committed-bundle row whose row_version is not the bundle's seq: the bundle
// hash is computed with the bundle seq, so Go applied that version unverified. Here the page is
// rejected before anything is staged or applied; the committed_remote outbox stays and the next
// push replays it normally.
TEST_F(ReviewFixesTest, CommittedBundleRowVersionOtherThanBundleSeqFailsClosed) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "one");
  d.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (request.method != "GET" ||
        FaultTransport::PathOf(request.url).rfind("/sync/committed-bundles/", 0) != 0) {
      return;
    }
    const protocol::WireProfileId profile = TestingProfileB()
                                                ? protocol::WireProfileId::kJcsUniformNumericStringsV1
                                                : protocol::WireProfileId::kGoCanonicalV1;
    Result<protocol::CommittedBundleRowsResponse> page =
        protocol::DecodeCommittedBundleRowsResponse(response.body, nullptr, profile);
    ASSERT_TRUE(page.has_value()) << response.body;
    ASSERT_FALSE(page->rows.empty());
    page->rows[0].row_version = page->bundle_seq + 1;
    response.body = protocol::EncodeCommittedBundleRowsResponse(*page, profile);
  });
  Result<PushReport> failed = d.client->PushPending();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("has row_version 2 but bundle_seq 1"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.OutboxRows(), 1);
  EXPECT_EQ(d.PushStage(), 0);
  EXPECT_EQ(RowVersion(d, "users", 1), -1);  // no row state: nothing applied
  EXPECT_EQ(d.Checkpoint(), 0);
  EXPECT_EQ(d.NextBundleId(), 1);
  EXPECT_EQ(d.ApplyMode(), 0);
  EXPECT_EQ(ServerUserName(1), "one");  // the server did commit it

  PushReport report = MustPush(d);
  EXPECT_EQ(report.outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(RowVersion(d, "users", 1), 1);
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(LocalName(d, 1), "one");
}

// docs/compatibility.md 62 (with 58); client.md §3.4 (local payloads render INTEGER exactly). A
// row with INTEGER 2^53+1 inserted while a keep-source Rebuild downloads is held and re-applied
// from its local payload. Go binds every JSON number as float64, so the re-applied row held
// 9007199254740992; here local integer literals are bound as int64.
TEST_F(ReviewFixesTest, HeldDirtyRowKeepsIntegerBeyondDoubleThroughRebuild) {
  Device& d = StartedTypedDevice();
  if (HasFatalFailure()) return;
  InsertUser(d, 1, "one");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::string key = FixtureUuid(7);

  OnNthAnswer(d, "GET", "/sync/snapshot-sessions/", 0, [&d, &key] {
    d.Exec(fmt::format(
        "INSERT INTO typed_rows (id, name, count_value, enabled_flag) VALUES ('{}', 'big', {}, 1)",
        key, kBeyondDouble));
  });
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);

  EXPECT_EQ(d.Text(fmt::format("SELECT typeof(count_value) FROM typed_rows WHERE id = '{}'", key)),
            "integer");
  EXPECT_EQ(
      d.Text(fmt::format("SELECT CAST(count_value AS TEXT) FROM typed_rows WHERE id = '{}'", key)),
      kBeyondDouble);
  EXPECT_EQ(d.Text(fmt::format("SELECT count_value = {} FROM typed_rows WHERE id = '{}'",
                               kBeyondDouble, key)),
            "1");
  // Still queued, with the exact value in its payload.
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(DirtyOp(d, "typed_rows", 7), "INSERT");
  const std::string payload =
      d.Text("SELECT payload FROM _sync_dirty_rows WHERE table_name = 'typed_rows'");
  EXPECT_NE(payload.find(fmt::format("\"count_value\":{}", kBeyondDouble)), std::string::npos)
      << payload;
  EXPECT_EQ(LocalName(d, 1), "one");
}

// client.md §1.7 (SerializeRow takes a BLOB key as dashed UUID, 32-hex or exact base64 of the 16
// bytes). All three spellings name the same row of a BLOB-keyed table; base64 of anything but 16
// bytes is not a key.
TEST_F(ReviewFixesTest, SerializeRowAcceptsBlobKeyAsUuidHexAndBase64) {
  Device& d = StartedDevice();
  d.Exec(
      "INSERT INTO files (id, name, data) VALUES (x'00112233445566778899aabbccddeeff', 'f', "
      "x'01ff')");

  Result<std::string> by_uuid =
      d.client->SerializeRow("files", "00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(by_uuid.has_value()) << by_uuid.error().ToString();
  EXPECT_NE(by_uuid->find("\"id\":\"00112233445566778899aabbccddeeff\""), std::string::npos)
      << *by_uuid;
  EXPECT_NE(by_uuid->find("\"data\":\"01ff\""), std::string::npos) << *by_uuid;

  Result<std::string> by_hex = d.client->SerializeRow("files", "00112233445566778899aabbccddeeff");
  ASSERT_TRUE(by_hex.has_value()) << by_hex.error().ToString();
  EXPECT_EQ(*by_hex, *by_uuid);

  Result<std::string> by_base64 = d.client->SerializeRow("files", "ABEiM0RVZneImaq7zN3u/w==");
  ASSERT_TRUE(by_base64.has_value()) << by_base64.error().ToString();
  EXPECT_EQ(*by_base64, *by_uuid);

  // Base64 of 15 bytes is not a key; a well-formed key of no row is kNotFound.
  Result<std::string> short_key = d.client->SerializeRow("files", "ABEiM0RVZneImaq7zN3u");
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(short_key.error().code(), ErrorCode::kInvalidArgument) << short_key.error().ToString();
  Result<std::string> missing = d.client->SerializeRow("files", "AAAAAAAAAAAAAAAAAAAAAA==");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().ToString();
}

// docs/compatibility.md 56; client.md §7.3 step 7. An anonymous insert deleted again is the only
// dirty row at Attach. Go counts it as pending: the connect takes a seed lease that no push ever
// fulfils (the freeze drops the no-op), so the scope stays initializing and other devices get
// retry_later. Here it does not count: started_empty, and a second device attaches at once.
TEST_F(ReviewFixesTest, AttachWithOnlyNoOpDirtyRowStartsEmpty) {
  Device& d = NewDevice();
  Create(d);
  if (HasFatalFailure()) return;
  InsertUser(d, 1, "temp");
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", FixtureUuid(1)));
  ASSERT_EQ(d.Dirty(), 1);

  d.transport->ResetCounts();
  Result<AttachResult> attached = d.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  EXPECT_EQ(attached->status, AttachStatus::kConnected);
  EXPECT_EQ(attached->outcome, AttachOutcome::kStartedEmpty)
      << AttachOutcomeName(attached->outcome);
  std::vector<std::string> connects;
  for (const HttpRequest& request : d.transport->Requests()) {
    if (request.method == "POST" && FaultTransport::PathOf(request.url) == "/sync/connect") {
      connects.push_back(request.body);
    }
  }
  ASSERT_EQ(connects.size(), 1U);
  EXPECT_NE(connects[0].find("\"has_local_pending_rows\":false"), std::string::npos) << connects[0];

  // The scope is initialized: another device of the user attaches and pulls right away.
  Device& other = NewDevice();
  Create(other);
  if (HasFatalFailure()) return;
  Result<AttachResult> second = other.client->Attach(user_);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->status, AttachStatus::kConnected);
  Result<RemoteSyncReport> pulled = other.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kNoChange);
  EXPECT_EQ(d.Dirty(), 0);
}

}  // namespace
}  // namespace oversync::oversqlite::testing
