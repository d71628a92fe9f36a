// Push-side source recovery, committed-replay-pruned recovery and seed-lease loss (client.md §4.3,
// §4.7, §6.3, §7.5) end to end against the in-process reference server (label e2e; needs
// OVERSYNC_TEST_DSN). Server states are real wherever the reference server can produce them:
// history is pruned with the retention pass, sources are retired by rotating them from a cloned
// device file that shares the source id, a source's sequence is moved by a server-originated write
// under that source id, and the seed lease is expired in sync.scope_state. Each test cites the
// client.md §9 item / docs/compatibility.md item and the go-oversync test it pins.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client_fixture.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"

namespace oversync::oversqlite::testing {
namespace {

class RecoveryTest : public ClientFixture {
 protected:
  RecoveryTest() {
    user_ = "recovery-user";
    file_prefix_ = "recovery";
  }

  // `status` is SourceRecoveryRequired with `code`.
  static void ExpectSourceRecovery(const Status& status, SourceRecoveryCode code) {
    const ClientErrorDetail* detail = ClientErrorOf(status);
    ASSERT_NE(detail, nullptr) << status.ToString();
    EXPECT_EQ(detail->kind, ClientErrorKind::kSourceRecoveryRequired) << status.ToString();
    EXPECT_EQ(detail->source_recovery_code, code) << status.ToString();
  }

  // client.md §6.3 "effects while active": push/pull/sync fail without network with the persisted
  // code and an empty server message, app writes are blocked, SourceInfo reports the state.
  static void ExpectRecoveryGate(Device& d, SourceRecoveryCode code) {
    d.transport->ResetCounts();
    Result<PushReport> pushed = d.client->PushPending();
    ASSERT_FALSE(pushed.has_value());
    ExpectSourceRecovery(pushed.error(), code);
    EXPECT_EQ(ClientErrorOf(pushed.error())->reason, "");
    Result<RemoteSyncReport> pulled = d.client->PullToStable();
    ASSERT_FALSE(pulled.has_value());
    ExpectSourceRecovery(pulled.error(), code);
    Result<SyncReport> synced = d.client->Sync();
    ASSERT_FALSE(synced.has_value());
    ExpectSourceRecovery(synced.error(), code);
    EXPECT_EQ(d.transport->Count("", "/"), 0);

    std::string message;
    EXPECT_NE(d.ExecRc(fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', 'x', 'x')",
                                   FixtureUuid(999)),
                       &message),
              SQLITE_OK);
    EXPECT_NE(message.find("SYNC_TRANSITION_PENDING"), std::string::npos) << message;
    EXPECT_NE(d.ExecRc("UPDATE users SET name = 'blocked'", &message), SQLITE_OK);
    EXPECT_NE(message.find("SYNC_TRANSITION_PENDING"), std::string::npos) << message;

    Result<SourceInfo> info = d.client->GetSourceInfo();
    ASSERT_TRUE(info.has_value()) << info.error().ToString();
    EXPECT_TRUE(info->source_recovery_required);
    EXPECT_TRUE(info->rebuild_required);
    ASSERT_TRUE(info->source_recovery_reason.has_value());
    EXPECT_EQ(*info->source_recovery_reason, code);
  }

  // Request bodies sent to `path` (exact) with `method`.
  static std::vector<std::string> Bodies(const Device& d, std::string_view method,
                                         std::string_view path) {
    std::vector<std::string> out;
    for (const HttpRequest& request : d.transport->Requests()) {
      if (request.method == method && FaultTransport::PathOf(request.url) == path) {
        out.push_back(request.body);
      }
    }
    return out;
  }

  std::string ServerSourceState(std::string_view source_id) {
    return ServerText(
        fmt::format("SELECT s.state || ':' || s.max_committed_source_bundle_id || ':' || "
                    "s.replaced_by_source_id FROM sync.source_state s JOIN sync.user_state u ON "
                    "u.user_pk = s.user_pk WHERE u.user_id = '{}' AND s.source_id = '{}'",
                    user_, source_id));
  }
};

// §9 82 + 88 — push_test.go:
// TestPushPending_CreateHistoryPrunedRequiresSourceRecoveryAndRotatePreservesOutbox,
// lifecycle_end_to_end_test.go:
// TestEndToEnd_SourceRecoveryRebuildRotatesManagedSourceAndSurvivesRestart. Real server state: a
// cloned device whose source history was pruned past its next bundle.
TEST_F(RecoveryTest, HistoryPrunedAtCreateRotatesAndPushesPreservedOutboxAsBundleOne) {
  Device& a = StartedDevice();
  const std::string old_source = a.client->source_id();
  a.client.reset();
  Device& b = Clone(a);  // same source, next_source_bundle_id 1
  Start(a);
  InsertUser(a, 1, "a1");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  InsertUser(a, 2, "a2");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  PruneHistoryThrough(2);

  Start(b);
  InsertUser(b, 10, "b-pending");
  Result<PushReport> failed = b.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kHistoryPruned);
  // Profile B's messages carry no ids (protocol-b.md §6.2).
  EXPECT_NE(ClientErrorOf(failed.error())->reason.find(
                TestSpeaksProfileB() ? "source history is no longer retained" : "older than retained"),
            std::string::npos)
      << failed.error().ToString();
  // Durable entry: outbox stays frozen as bundle 1 of the old source; a fresh replacement is
  // reserved with its own source row.
  EXPECT_EQ(b.OutboxState(), "prepared");
  EXPECT_EQ(b.Int("SELECT source_bundle_id FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(b.OutboxRows(), 1);
  EXPECT_EQ(b.OperationKind(), "source_recovery");
  EXPECT_EQ(b.Text("SELECT reason FROM _sync_operation_state"), "history_pruned");
  const std::string replacement = b.Reservation();
  EXPECT_NE(replacement, "");
  EXPECT_NE(replacement, old_source);
  EXPECT_EQ(b.Int(fmt::format(
                "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = '{}'",
                replacement)),
            1);
  EXPECT_EQ(b.RebuildRequired(), 1);
  ExpectRecoveryGate(b, SourceRecoveryCode::kHistoryPruned);

  // Exit: Rebuild rotates with a source_replacement body.
  b.transport->ResetCounts();
  Result<RemoteSyncReport> rebuilt = b.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  const std::vector<std::string> creates = Bodies(b, "POST", "/sync/snapshot-sessions");
  ASSERT_EQ(creates.size(), 1U);
  EXPECT_NE(creates[0].find(fmt::format("\"previous_source_id\":\"{}\"", old_source)),
            std::string::npos)
      << creates[0];
  EXPECT_NE(creates[0].find(fmt::format("\"new_source_id\":\"{}\"", replacement)),
            std::string::npos)
      << creates[0];
  EXPECT_NE(creates[0].find("\"reason\":\"history_pruned\""), std::string::npos) << creates[0];
  EXPECT_EQ(b.client->source_id(), replacement);
  EXPECT_EQ(b.Text(fmt::format(
                "SELECT replaced_by_source_id FROM _sync_source_state WHERE source_id = '{}'",
                old_source)),
            replacement);
  EXPECT_EQ(b.OperationKind(), "none");
  EXPECT_EQ(b.RebuildRequired(), 0);
  EXPECT_EQ(b.OutboxState(), "prepared");
  EXPECT_EQ(b.Text("SELECT source_id FROM _sync_outbox_bundle"), replacement);
  EXPECT_EQ(b.Int("SELECT source_bundle_id FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(b.Int("SELECT count(*) FROM users"), 3);  // a1, a2 from the snapshot + pending
  EXPECT_EQ(b.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(10))),
            "b-pending");

  // The preserved outbox goes out as source_bundle_id 1 of the new source.
  b.transport->ResetCounts();
  ASSERT_EQ(MustPush(b).outcome, PushOutcome::kCommitted);
  const std::vector<std::string> sessions = Bodies(b, "POST", "/sync/push-sessions");
  ASSERT_EQ(sessions.size(), 1U);
  EXPECT_NE(sessions[0].find("\"source_bundle_id\":1"), std::string::npos) << sessions[0];
  EXPECT_EQ(ServerUserName(10), "b-pending");
  EXPECT_EQ(ServerBundles(replacement), 1);
  EXPECT_EQ(ServerSourceState(old_source), fmt::format("retired:2:{}", replacement));
  EXPECT_EQ(ServerSourceState(replacement), "active:1:");
  EXPECT_EQ(b.OutboxState(), "none");
  EXPECT_EQ(b.Dirty(), 0);

  // §9 88: the rotation survives a restart, and the new source keeps counting.
  b.client.reset();
  Start(b);
  EXPECT_EQ(b.client->source_id(), replacement);
  Result<SourceInfo> info = b.client->GetSourceInfo();
  ASSERT_TRUE(info.has_value()) << info.error().ToString();
  EXPECT_EQ(info->current_source_id, replacement);
  EXPECT_FALSE(info->source_recovery_required);
  EXPECT_FALSE(info->rebuild_required);
  InsertUser(b, 11, "b-after-restart");
  ASSERT_EQ(MustPush(b).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerBundles(replacement), 2);
  EXPECT_EQ(b.NextBundleId(), 3);

  // §9 88: the old source is retired over HTTP — device A (still on it) gets a 409
  // source_retired naming the replacement, and enters recovery adopting it.
  int retired_status = 0;
  std::string retired_body;
  a.transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse& response) {
    if (request.method == "POST" && FaultTransport::PathOf(request.url) == "/sync/push-sessions") {
      retired_status = response.status;
      retired_body = response.body;
    }
  });
  InsertUser(a, 3, "a3");
  failed = a.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceRetired);
  EXPECT_EQ(retired_status, 409);
  EXPECT_NE(retired_body.find("\"error\":\"source_retired\""), std::string::npos) << retired_body;
  EXPECT_NE(retired_body.find(fmt::format("\"replaced_by_source_id\":\"{}\"", replacement)),
            std::string::npos)
      << retired_body;
  EXPECT_EQ(a.Reservation(), replacement);
}

// §9 83 — push_test.go:
// TestPushPending_CreateSourceSequenceOutOfOrderPersistsSourceRecoveryAcrossRestart,
// lifecycle_end_to_end_test.go:
// TestEndToEnd_SourceRecoveryPersistsAcrossRestartAndFailsClosedUntilRebuild.
TEST_F(RecoveryTest, OutOfOrderAtCreatePersistsAcrossRestartUntilRebuild) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "first");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::string old_source = d.client->source_id();
  // The local sequence runs ahead of the server's (a restored newer backup, a lost server tail).
  d.Exec(
      fmt::format("UPDATE _sync_source_state SET next_source_bundle_id = 7 WHERE source_id = '{}'",
                  old_source));
  InsertUser(d, 2, "second");
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceSequenceOutOfOrder);
  EXPECT_NE(ClientErrorOf(failed.error())->reason.find(
                TestSpeaksProfileB() ? "source sequence is out of order"
                               : "expected next source_bundle_id 2, got 7"),
            std::string::npos)
      << failed.error().ToString();
  const std::string replacement = d.Reservation();
  ASSERT_NE(replacement, "");

  // Destroy and recreate the client on the same file: Open + Attach resume, same errors.
  d.client.reset();
  Start(d);
  EXPECT_EQ(d.client->source_id(), old_source);
  EXPECT_EQ(d.Reservation(), replacement);
  ExpectRecoveryGate(d, SourceRecoveryCode::kSourceSequenceOutOfOrder);
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.Int("SELECT source_bundle_id FROM _sync_outbox_bundle"), 7);

  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(d.client->source_id(), replacement);
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(2), "second");
  EXPECT_EQ(ServerBundles(replacement), 1);
  EXPECT_EQ(ServerBundles(old_source), 1);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);
  EXPECT_EQ(d.Dirty(), 0);
}

// §9 84 — push_test.go: TestPushPending_CommitSourceSequenceChangedRequiresSourceRecovery. Real
// server state: between chunk upload and commit, a server-originated write under the client's own
// source id takes the staged source_bundle_id.
TEST_F(RecoveryTest, SourceSequenceChangedAtCommitEntersRecoveryWithPreparedOutbox) {
  Device& d = StartedDevice();
  const std::string source = d.client->source_id();
  InsertUser(d, 1, "mine");
  std::int64_t stolen_seq = 0;
  d.client->SetBeforePushCommitHook([&]() -> Status {
    stolen_seq = ServerWriteAs(
        source, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', 'srv', "
                            "'srv@example.com')",
                            FixtureUuid(50)));
    return {};
  });
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceSequenceChanged);
  EXPECT_EQ(stolen_seq, 1);
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.Int("SELECT source_bundle_id FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(d.OperationKind(), "source_recovery");
  EXPECT_EQ(d.Text("SELECT reason FROM _sync_operation_state"), "source_sequence_changed");
  EXPECT_EQ(d.transport->Count("DELETE", "/sync/push-sessions/"), 1);  // best-effort cleanup
  ExpectRecoveryGate(d, SourceRecoveryCode::kSourceSequenceChanged);

  const std::string replacement = d.Reservation();
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(50))), "srv");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "mine");
  EXPECT_EQ(ServerBundles(replacement), 1);
  EXPECT_EQ(ServerBundles(), 2);
}

// §9 85 — push_test.go:
// TestPushPending_CreateSourceRetiredEntersSourceRecoveryAndAdoptsReplacement,
// TestPushPending_CommitSourceRetiredEntersSourceRecoveryAndAdoptsReplacement,
// TestPushPending_CreateSourceRetiredReplacementDivergenceFailsClosed; §9 88
// TestEndToEnd_SourceRetirementIsVisibleOverHTTPAndReplacementBecomesActive. Five devices share one
// source; B retires it for real by rotating.
TEST_F(RecoveryTest, SourceRetiredAtCreateAndCommitAdoptsReplacementAndDivergenceFailsClosed) {
  Device& a = StartedDevice();
  InsertUser(a, 1, "base");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  const std::string old_source = a.client->source_id();
  a.client.reset();
  Device& b = Clone(a);
  Device& c = Clone(a);
  Device& d = Clone(a);
  Device& e = Clone(a);
  for (Device* device : {&a, &b, &c, &d, &e}) {
    Start(*device);
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_EQ(device->client->source_id(), old_source);
  }

  // B and D enter recovery (out of order) with their own reservations.
  auto enter_out_of_order = [&](Device& device, int user) {
    device.Exec(fmt::format(
        "UPDATE _sync_source_state SET next_source_bundle_id = 9 WHERE source_id = '{}'",
        old_source));
    InsertUser(device, user, fmt::format("pending{}", user));
    Result<PushReport> failed = device.client->PushPending();
    ASSERT_FALSE(failed.has_value());
    ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceSequenceOutOfOrder);
  };
  enter_out_of_order(b, 20);
  enter_out_of_order(d, 40);
  const std::string b_replacement = b.Reservation();
  const std::string d_replacement = d.Reservation();
  ASSERT_NE(b_replacement, d_replacement);

  // A's commit races B's rotation: the session was staged, then the source was retired.
  InsertUser(a, 10, "a-pending");
  a.client->SetBeforePushCommitHook([&]() -> Status {
    Result<RemoteSyncReport> rotated = b.client->Rebuild();
    return rotated.has_value() ? Status() : rotated.error();
  });
  Result<PushReport> failed = a.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceRetired);
  EXPECT_NE(ClientErrorOf(failed.error())->reason.find(
                TestSpeaksProfileB() ? std::string("source is retired")
                               : "retired and replaced by " + b_replacement),
            std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(b.client->source_id(), b_replacement);
  EXPECT_EQ(a.Reservation(), b_replacement);  // adopted the server's replacement
  EXPECT_EQ(a.OutboxState(), "prepared");
  EXPECT_EQ(a.Text("SELECT reason FROM _sync_operation_state"), "source_retired");
  EXPECT_EQ(a.Int(fmt::format(
                "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = '{}'",
                b_replacement)),
            1);
  ExpectRecoveryGate(a, SourceRecoveryCode::kSourceRetired);

  // C is refused at create (visible over HTTP) and adopts the same replacement.
  int status = 0;
  std::string body;
  c.transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse& response) {
    if (request.method == "POST" && FaultTransport::PathOf(request.url) == "/sync/push-sessions") {
      status = response.status;
      body = response.body;
    }
  });
  InsertUser(c, 30, "c-pending");
  failed = c.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceRetired);
  EXPECT_EQ(status, 409);
  EXPECT_NE(body.find(fmt::format("\"source_id\":\"{}\"", old_source)), std::string::npos) << body;
  EXPECT_NE(body.find(fmt::format("\"replaced_by_source_id\":\"{}\"", b_replacement)),
            std::string::npos)
      << body;
  EXPECT_EQ(c.Reservation(), b_replacement);
  EXPECT_EQ(c.transport->Count("POST", "/sync/push-sessions/"), 0);  // no chunk upload

  // D reserved another replacement before the rotation: its Rebuild diverges and fails closed.
  const std::int64_t d_users = d.Int("SELECT count(*) FROM users");
  Result<RemoteSyncReport> diverged = d.client->Rebuild();
  ASSERT_FALSE(diverged.has_value());
  ASSERT_EQ(ClientErrorKindOf(diverged.error()), ClientErrorKind::kSourceReplacementDiverged)
      << diverged.error().ToString();
  EXPECT_EQ(ClientErrorOf(diverged.error())->local_replacement, d_replacement);
  EXPECT_EQ(ClientErrorOf(diverged.error())->remote_replacement, b_replacement);
  EXPECT_EQ(d.OperationKind(), "source_recovery");
  EXPECT_EQ(d.Reservation(), d_replacement);
  EXPECT_EQ(d.Text("SELECT reason FROM _sync_operation_state"), "source_sequence_out_of_order");
  EXPECT_EQ(d.client->source_id(), old_source);
  EXPECT_EQ(d.RebuildRequired(), 1);
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), d_users);

  // E already holds a (seeded) reservation when the push learns of another replacement: the
  // whole recovery entry rolls back, the operation state is unchanged.
  const std::string e_reserved = "5e1f0c2a-7b3d-4c8e-9f10-00000000eeee";
  e.Exec(fmt::format("UPDATE _sync_operation_state SET replacement_source_id = '{}'", e_reserved));
  InsertUser(e, 50, "e-pending");
  failed = e.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ASSERT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kSourceReplacementDiverged)
      << failed.error().ToString();
  EXPECT_EQ(ClientErrorOf(failed.error())->local_replacement, e_reserved);
  EXPECT_EQ(ClientErrorOf(failed.error())->remote_replacement, b_replacement);
  EXPECT_EQ(e.OperationKind(), "none");
  EXPECT_EQ(e.Reservation(), e_reserved);
  EXPECT_EQ(e.RebuildRequired(), 0);
  EXPECT_EQ(e.OutboxState(), "prepared");
  EXPECT_EQ(e.Int(fmt::format("SELECT count(*) FROM _sync_source_state WHERE source_id = '{}'",
                              b_replacement)),
            0);

  // B, the rotator, pushes its preserved outbox as bundle 1 of the replacement; it is active.
  ASSERT_EQ(MustPush(b).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(20), "pending20");
  EXPECT_EQ(ServerSourceState(old_source), fmt::format("retired:1:{}", b_replacement));
  EXPECT_EQ(ServerSourceState(b_replacement), "active:1:");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id IN ('{}', '{}', "
                                   "'{}')",
                                   FixtureUuid(10), FixtureUuid(30), FixtureUuid(50))),
            "0");
}

// §9 87 — push_test.go: TestPushPending_CommittedRemoteReplayPrunedFallsBackToKeepSourceRebuild.
// The bundle commits, its rows are pruned before the replay, the push fails once, the client
// restarts: the retry finds nothing to replay and rebuilds from a keep-source snapshot.
TEST_F(RecoveryTest, CommittedBundlePrunedBeforeReplayFallsBackToKeepSourceRebuild) {
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
  EXPECT_EQ(d.Int("SELECT remote_bundle_seq FROM _sync_outbox_bundle"), 2);
  EXPECT_EQ(d.Checkpoint(), 1);

  d.client.reset();
  Start(d);
  d.client->ResetSnapshotTransferDiagnostics();
  PushReport report = MustPush(d);
  EXPECT_EQ(report.outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.client->GetSnapshotTransferDiagnostics().sessions_created, 1);
  EXPECT_EQ(d.client->source_id(), source);  // keep-source: no rotation
  EXPECT_EQ(d.OperationKind(), "none");
  EXPECT_EQ(d.RebuildRequired(), 0);
  EXPECT_EQ(d.NextBundleId(), 3);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.PushStage(), 0);
  EXPECT_EQ(d.Checkpoint(), 2);
  EXPECT_EQ(report.status.last_bundle_seq_seen, 2);
  EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(2))), "two");
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);
  // The source keeps counting from the advanced floor.
  InsertUser(d, 3, "three");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText(fmt::format("SELECT max(source_bundle_id) FROM sync.bundle_log WHERE "
                                   "source_id = '{}'",
                                   source)),
            "3");
  EXPECT_EQ(ServerUserName(3), "three");
}

// §9 100 — lifecycle_test.go:
// TestConnect_ReconnectAfterInitializationExpiredClearsStalePendingInitializationAndReissuesConnect,
// lifecycle_end_to_end_test.go: TestEndToEnd_StaleInitializerLeaseExpiryRejectsSeedPush,
// TestEndToEnd_ExpiredInitializerReconnectCanSeedAgain. Real server state: the lease expiry moved
// into the past in sync.scope_state.
TEST_F(RecoveryTest, ExpiredSeedLeaseUnbindsKeepsOutboxAndReattachSeedsAgain) {
  Device& d = NewDevice();
  Create(d);
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(d, 1, "offline1");
  InsertUser(d, 2, "offline2");
  Result<AttachResult> attached = d.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  ASSERT_EQ(attached->outcome, AttachOutcome::kSeededFromLocal);
  const std::string first_lease =
      d.Text("SELECT pending_initialization_id FROM _sync_attachment_state");
  ASSERT_NE(first_lease, "");

  ASSERT_TRUE(server_
                  ->Exec("UPDATE sync.scope_state SET lease_expires_at = now() - interval '1 hour' "
                         "WHERE state_code = 1")
                  .ok());
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  const ClientErrorDetail* detail = ClientErrorOf(failed.error());
  ASSERT_NE(detail, nullptr) << failed.error().ToString();
  EXPECT_EQ(detail->kind, ClientErrorKind::kReconnectRequired);
  EXPECT_EQ(detail->error_code, "initialization_expired");
  EXPECT_NE(failed.error().message().find("reconnect required"), std::string::npos)
      << failed.error().ToString();
  // Unbound, lease cleared; the outbox and business rows are kept.
  EXPECT_EQ(d.client->user_id(), "");
  EXPECT_EQ(d.Text("SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(d.Text("SELECT pending_initialization_id FROM _sync_attachment_state"), "");
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.OutboxRows(), 2);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);
  d.transport->ResetCounts();
  Result<PushReport> unattached = d.client->PushPending();
  ASSERT_FALSE(unattached.has_value());
  EXPECT_EQ(ClientErrorKindOf(unattached.error()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(d.transport->Count("", "/"), 0);

  // Attach again (client.md §7.5): no dirty rows remain (they are frozen in the outbox), so the
  // connect resolves initialize_empty; the frozen outbox is then pushed as an ordinary bundle.
  attached = d.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  EXPECT_EQ(attached->outcome, AttachOutcome::kStartedEmpty);
  EXPECT_EQ(d.client->user_id(), user_);
  EXPECT_EQ(d.OutboxRows(), 2);
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "offline1");
  EXPECT_EQ(ServerUserName(2), "offline2");
  EXPECT_EQ(ServerText(fmt::format("SELECT s.state_code FROM sync.scope_state s JOIN "
                                   "sync.user_state u ON u.user_pk = s.user_pk WHERE u.user_id = "
                                   "'{}'",
                                   user_)),
            "2");
  EXPECT_EQ(d.Text("SELECT pending_initialization_id FROM _sync_attachment_state"), "");
  EXPECT_EQ(d.OutboxState(), "none");
}

// §9 100 (stale variant) — lifecycle_test.go: ..._InitializationStale...: another initialization
// id owns the lease.
TEST_F(RecoveryTest, StaleSeedLeaseUnbindsAndReturnsReconnectRequired) {
  Device& d = NewDevice();
  Create(d);
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(d, 1, "offline");
  Result<AttachResult> attached = d.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  ASSERT_EQ(attached->outcome, AttachOutcome::kSeededFromLocal);
  ASSERT_TRUE(server_
                  ->Exec("UPDATE sync.scope_state SET initialization_id = "
                         "'5e1f0c2a-7b3d-4c8e-9f10-0000000000aa' WHERE state_code = 1")
                  .ok());
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ASSERT_NE(ClientErrorOf(failed.error()), nullptr) << failed.error().ToString();
  EXPECT_EQ(ClientErrorOf(failed.error())->kind, ClientErrorKind::kReconnectRequired);
  EXPECT_EQ(ClientErrorOf(failed.error())->error_code, "initialization_stale");
  EXPECT_EQ(d.client->user_id(), "");
  EXPECT_EQ(d.OutboxRows(), 1);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 1);
}

// docs/compatibility.md 42 + 43 (client.md §6.1 step 5 and §6.3 [QUIRK]s): source recovery on BLOB
// tables with a preserved outbox (BLOB key + BLOB FK) and with dirty BLOB rows captured after the
// freeze. Go fails the Rebuild (or writes wrong bytes) and refuses dirty rows; here both converge.
TEST_F(RecoveryTest, SourceRecoveryOnBlobTablesPreservesOutboxAndLaterDirtyRows) {
  Device& d = StartedDevice();
  const std::string source = d.client->source_id();
  d.Exec(
      fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', 'f1', x'01')", FixtureHex(1)));
  d.Exec(fmt::format("INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', 'r1', x'{}')",
                     FixtureHex(11), FixtureHex(1)));
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  // Frozen: a new file and its review. Captured after the freeze: a BLOB update of f1 and a new
  // review of f2. Then a server write under our own source moves the sequence (real 409).
  d.Exec(fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', 'f2', x'0203')",
                     FixtureHex(2)));
  d.Exec(fmt::format("INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', 'r2', x'{}')",
                     FixtureHex(12), FixtureHex(2)));
  d.client->SetBeforePushCommitHook([&]() -> Status {
    d.Exec(fmt::format("UPDATE files SET data = x'0a0b' WHERE id = x'{}'", FixtureHex(1)));
    d.Exec(fmt::format("INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', 'r3', x'{}')",
                       FixtureHex(13), FixtureHex(2)));
    ServerWriteAs(source,
                  fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', 'srv', "
                              "'s@example.com')",
                              FixtureUuid(60)));
    return {};
  });
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  ExpectSourceRecovery(failed.error(), SourceRecoveryCode::kSourceSequenceChanged);
  EXPECT_EQ(d.OutboxRows(), 2);
  EXPECT_EQ(d.Dirty(), 2);

  // Compat 43: dirty rows do not block the rotation; compat 42: the BLOB outbox re-applies.
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(d.Text(fmt::format("SELECT hex(data) FROM files WHERE id = x'{}'", FixtureHex(1))),
            "0A0B");
  EXPECT_EQ(d.Text(fmt::format("SELECT hex(data) FROM files WHERE id = x'{}'", FixtureHex(2))),
            "0203");
  EXPECT_EQ(d.Text(fmt::format("SELECT lower(hex(file_id)) FROM file_reviews WHERE id = x'{}'",
                               FixtureHex(13))),
            FixtureHex(2));
  EXPECT_EQ(d.Int("SELECT count(*) FROM file_reviews"), 3);
  EXPECT_EQ(d.OutboxRows(), 2);
  EXPECT_EQ(d.Dirty(), 2);
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_dirty_rows WHERE op = 'UPDATE' AND "
                  "base_row_version = 1 AND table_name = 'files'"),
            1);

  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);  // the preserved outbox
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);  // the later edits
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(ServerText("SELECT string_agg(name || '=' || encode(data, 'hex'), ',' ORDER BY name) "
                       "FROM business.files"),
            "f1=0a0b,f2=0203");
  EXPECT_EQ(ServerText("SELECT string_agg(r.review || '>' || f.name, ',' ORDER BY r.review) FROM "
                       "business.file_reviews r JOIN business.files f ON f.id = r.file_id"),
            "r1>f1,r2>f2,r3>f2");
  // Nothing lost, nothing duplicated: local and server agree.
  ASSERT_TRUE(d.client->PullToStable().has_value());
  EXPECT_EQ(d.Int("SELECT count(*) FROM file_reviews"), 3);
  EXPECT_EQ(d.Int("SELECT count(*) FROM files"), 2);
}

}  // namespace
}  // namespace oversync::oversqlite::testing
