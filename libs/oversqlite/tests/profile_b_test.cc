// The client on wire profile B (jcs_uniform_numeric_strings_v1, protocol-b.md; docs/
// wire-profiles.md) against the reference server serving that profile: numbers travel as
// strings both ways (an int8 above 2^53 arrives exactly), pushes carry and verify the
// canonical_request_hash and the profile-B bundle hash, snapshots use byte budgets, and a
// database refuses to be reopened with the other profile.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "client_fixture.h"
#include "oversync/oversqlite/client.h"
#include "oversync/server/config.h"

namespace oversync::oversqlite::testing {
namespace {

constexpr std::string_view kProfileB = "jcs_uniform_numeric_strings_v1";

// The reference typed_rows table as the KMP mapping stores it locally (protocol-b.md §2.5):
// int8 -> INTEGER, float8 -> REAL.
// (posts and categories too: a profile-B client syncs exactly the server's table set.)
constexpr std::string_view kTypedRowsDdl = R"sql(
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT, count_value INTEGER,
  enabled_flag INTEGER NOT NULL, rating REAL, data BLOB, created_at TEXT);
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  author_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED,
  created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id) DEFERRABLE INITIALLY DEFERRED);
)sql";

class ProfileBClientTest : public ClientFixture {
 protected:
  ProfileBClientTest() { file_prefix_ = "profile_b"; }

  TestServerOptions ServerOptions() override {
    TestServerOptions options;
    options.configure = [](ServiceConfig& config) { config.wire_profile = std::string(kProfileB); };
    return options;
  }

  static void ProfileB(Config& config) {
    config.wire_profile = std::string(kProfileB);
    config.tables.push_back({"typed_rows", "id", {}});
    config.tables.push_back({"posts", "id", {}});
    config.tables.push_back({"categories", "id", {}});
  }

  Device& TypedDevice() {
    Device& device = NewDevice();
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(device.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, std::string(kTypedRowsDdl).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    Start(device, ProfileB);
    return device;
  }
};

// protocol-b.md §2, §4.2, §5.3-§5.8, §5.10-§5.11 end to end.
TEST_F(ProfileBClientTest, NumbersTravelExactlyAndHashesVerify) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  a.Exec(fmt::format(
      "INSERT INTO typed_rows (id, name, note, count_value, enabled_flag, rating) VALUES "
      "('{}', 'big', '<&>', 9007199254740993, 1, 1.5)",
      FixtureUuid(1)));
  InsertUser(a, 2, "ann");
  const PushReport pushed = MustPush(a);  // verifies the echoed request hash and the B hash
  EXPECT_EQ(pushed.outcome, PushOutcome::kCommitted);
  // Profile A would have refused the integer (above 2^53); profile B stores it exactly.
  EXPECT_EQ(ServerText("SELECT count_value FROM business.typed_rows"), "9007199254740993");
  EXPECT_EQ(ServerText("SELECT enabled_flag FROM business.typed_rows"), "1");
  EXPECT_EQ(ServerText("SELECT count(*) FROM sync.cpp_bundle_profile_b WHERE "
                       "canonical_request_hash <> ''"),
            "1");

  // A second device hydrates by snapshot (byte-budgeted chunks) and gets the same values.
  Device& b = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(b.Text(fmt::format("SELECT count_value FROM typed_rows WHERE id = '{}'", FixtureUuid(1))),
            "9007199254740993");
  EXPECT_EQ(b.Text("SELECT typeof(count_value) || typeof(rating) || typeof(enabled_flag) FROM "
                   "typed_rows"),
            "integerrealinteger");
  EXPECT_EQ(b.Text("SELECT rating FROM typed_rows"), "1.5");
  EXPECT_EQ(b.Text("SELECT note FROM typed_rows"), "<&>");

  // An edit on b reaches a through an incremental pull.
  b.Exec("UPDATE typed_rows SET rating = 2.25, count_value = -9223372036854775808");
  EXPECT_EQ(MustPush(b).outcome, PushOutcome::kCommitted);
  Result<RemoteSyncReport> pulled = a.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(a.Text("SELECT rating FROM typed_rows"), "2.25");
  EXPECT_EQ(a.Text("SELECT count_value FROM typed_rows"), "-9223372036854775808");
  EXPECT_EQ(ServerText("SELECT count_value FROM business.typed_rows"), "-9223372036854775808");
}

// docs/wire-profiles.md: a database keeps the profile it was created with; an empty
// Config::wire_profile means "the database's profile", profile B for a new database and
// go_canonical_v1 for a database an SDK without wire profiles used.
TEST_F(ProfileBClientTest, ADatabaseNeverChangesProfileSilently) {
  Device& device = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  device.client.reset();
  Config config = MakeConfig();
  ProfileB(config);
  // Refused when the client is created on the file (before anything is written).
  Config profile_a = config;
  profile_a.wire_profile = "go_canonical_v1";
  Result<std::unique_ptr<Client>> client = Client::CreateForPath(
      device.path, server_->base_url(), server_->TokenProviderFor(user_), profile_a, {});
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(client.error().message().find("wire profile jcs_uniform_numeric_strings_v1"),
            std::string::npos)
      << client.error().ToString();
  Config unknown = config;
  unknown.wire_profile = "v2";
  EXPECT_FALSE(Client::CreateForPath(device.path, server_->base_url(),
                                     server_->TokenProviderFor(user_), unknown, {})
                   .has_value());
  // Empty: the database's own profile.
  Config unset = config;
  unset.wire_profile.clear();
  client = Client::CreateForPath(device.path, server_->base_url(), server_->TokenProviderFor(user_),
                                 unset, {});
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  EXPECT_EQ((*client)->wire_profile(), kProfileB);
  client->reset();

  // A new database with an empty setting gets profile B.
  Device& fresh = NewDevice();
  client = Client::CreateForPath(fresh.path, server_->base_url(), server_->TokenProviderFor(user_),
                                 MakeConfig(), {});
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  EXPECT_EQ((*client)->wire_profile(), TestWireProfile() == kProfileB ? kProfileB : "go_canonical_v1");
  client->reset();

  // A database an earlier SDK used (its metadata, no profile marker) stays go_canonical_v1:
  // that SDK spoke nothing else.
  Device& legacy = NewDevice();
  Config legacy_config = MakeConfig();
  legacy_config.wire_profile = "go_canonical_v1";
  client = Client::CreateForPath(legacy.path, server_->base_url(), server_->TokenProviderFor(user_),
                                 legacy_config, {});
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  client->reset();
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(legacy.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, "DROP TABLE _sync_cpp_client_info", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  Config legacy_unset = MakeConfig();
  legacy_unset.wire_profile.clear();
  client = Client::CreateForPath(legacy.path, server_->base_url(), server_->TokenProviderFor(user_),
                                 legacy_unset, {});
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  EXPECT_EQ((*client)->wire_profile(), "go_canonical_v1");
  client->reset();
  legacy_unset.wire_profile = std::string(kProfileB);
  EXPECT_FALSE(Client::CreateForPath(legacy.path, server_->base_url(),
                                     server_->TokenProviderFor(user_), legacy_unset, {})
                   .has_value());
}

// protocol-b.md §5.10-§5.11 and KMP's snapshot-capacity/retry.json: capacity answers are retried
// after Retry-After (plus jitter) within a 30 s budget, and only for the capacity codes.
TEST_F(ProfileBClientTest, SnapshotCapacityAnswersAreRetriedAfterRetryAfter) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  const std::string capacity =
      R"({"error":"snapshot_build_capacity","message":"snapshot build capacity is exhausted"})";
  a.transport->FailNext("POST", "/sync/snapshot-sessions", 2, FaultKind::kHttpStatus, 429,
                        capacity, {{"retry-after", "1"}});
  a.transport->FailNext("GET", "/sync/snapshot-sessions/", 1, FaultKind::kHttpStatus, 429,
                        R"({"error":"snapshot_chunk_capacity","message":"snapshot chunk capacity is exhausted"})");
  a.transport->ResetCounts();
  const auto started = std::chrono::steady_clock::now();
  Result<RemoteSyncReport> rebuilt = a.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 3);  // 2 refused + 1
  // Two Retry-After waits of 1-2 s each and one fallback wait of 1-2 s (no Retry-After).
  EXPECT_GE(waited, std::chrono::milliseconds(3000));
  EXPECT_EQ(a.Text("SELECT name FROM users"), "ann");
}

// docs/compatibility.md 82 (KMP checkpoint recovery, fixtures pull-snapshot/behavior
// checkpoint-recovery-*): with the durable rebuild gate set, PushPending still refuses, but Sync
// resumes it: the pending local row is pushed first, then the snapshot rebuild clears the gate;
// nothing local is lost and another device sees the row.
TEST_F(ProfileBClientTest, SyncResumesTheRebuildGateAfterPushingPendingWork) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  InsertUser(a, 2, "bob");  // pending when the gate is set
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");

  Result<PushReport> refused = a.client->PushPending();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(ClientErrorKindOf(refused.error()), ClientErrorKind::kRebuildRequired);

  a.transport->ResetCounts();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  // bob is pushed (create, chunk, commit) before the snapshot.
  EXPECT_EQ(a.transport->Count("POST", "/sync/push-sessions"), 3);
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 1);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(a.Dirty(), 0);
  EXPECT_EQ(a.OutboxRows(), 0);
  EXPECT_EQ(a.Int("SELECT count(*) FROM users"), 2);

  Device& b = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(b.Int("SELECT count(*) FROM users"), 2);
}

// The five review fixes of the gate resume (b89f64e, docs/compatibility.md 82). Each test below
// fails on the code before that commit.

// A push that exhausts its retries while the gate is resumed is returned as it is
// (kRetryExhausted: transient, try again later), not as a blocked recovery; the gate, the frozen
// row and the local data stay, and the next Sync completes the recovery.
TEST_F(ProfileBClientTest, ResumeReturnsExhaustedRetriesAsTheyAre) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");
  a.transport->FailNext("POST", "/sync/push-sessions", 3, FaultKind::kHttpStatus, 503);

  Result<SyncReport> failed = a.client->Sync();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kRetryExhausted)
      << failed.error().ToString();
  EXPECT_EQ(a.RebuildRequired(), 1);
  EXPECT_EQ(a.Dirty() + a.OutboxRows(), 1);
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 0);

  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(ServerUserName(1), "ann");
}

// A frozen outbox and the dirty rows written after it are two bundles: the resume pushes both
// (the loop is bounded at three) before the snapshot, instead of refusing with pending_work.
TEST_F(ProfileBClientTest, ResumePushesAFrozenOutboxAndTheDirtyRowsBehindIt) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  a.transport->FailNext("POST", "/sync/push-sessions", 3, FaultKind::kHttpStatus, 503);
  ASSERT_FALSE(a.client->PushPending().has_value());
  ASSERT_EQ(a.OutboxRows(), 1);  // frozen, not uploaded
  InsertUser(a, 2, "bob");       // dirty behind the frozen outbox
  ASSERT_EQ(a.Dirty(), 1);
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");

  a.transport->ResetCounts();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(a.transport->Count("POST", "/sync/push-sessions"), 6);  // two create/chunk/commit
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 1);
  EXPECT_EQ(ServerBundles(), 2);
  EXPECT_EQ(ServerUserName(1), "ann");
  EXPECT_EQ(ServerUserName(2), "bob");
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(a.Dirty() + a.OutboxRows(), 0);
  EXPECT_EQ(a.Int("SELECT count(*) FROM users"), 2);
}

// A committed bundle whose rows come back with another canonical_request_hash sets the gate with
// the outbox committed_remote (compatibility 81). Resuming leaves that outbox to the rebuild: no
// push session and no committed-bundle read, one snapshot, and the source floor moves past the
// committed bundle so the next local write does not reuse its source_bundle_id.
TEST_F(ProfileBClientTest, ResumeLeavesACommittedRemoteOutboxToTheRebuild) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  a.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url).starts_with("/sync/committed-bundles/")) {
      const std::string field = "\"canonical_request_hash\":\"";
      const std::size_t at = response.body.find(field);
      if (at != std::string::npos) {
        const std::size_t begin = at + field.size();
        const std::size_t end = response.body.find('"', begin);
        response.body.replace(begin, end - begin, std::string(end - begin, '0'));
      }
    }
  });
  Result<PushReport> pushed = a.client->PushPending();
  ASSERT_FALSE(pushed.has_value());
  EXPECT_EQ(ClientErrorKindOf(pushed.error()), ClientErrorKind::kRebuildRequired)
      << pushed.error().ToString();
  a.transport->SetResponseRewriter(nullptr);
  ASSERT_EQ(a.OutboxState(), "committed_remote");
  ASSERT_EQ(a.RebuildRequired(), 1);
  ASSERT_EQ(ServerBundles(), 1);

  a.transport->ResetCounts();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(a.transport->Count("POST", "/sync/push-sessions"), 0);
  EXPECT_EQ(a.transport->Count("GET", "/sync/committed-bundles/"), 0);
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 1);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(a.OutboxRows(), 0);
  EXPECT_EQ(a.Text("SELECT name FROM users"), "ann");
  EXPECT_EQ(a.NextBundleId(), 2);
  EXPECT_EQ(ServerBundles(), 1);

  InsertUser(a, 2, "bob");
  EXPECT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(2), "bob");
}

// The resumed push commits, then finds the committed bundle's replay pruned: the push recovers
// by the keep-source snapshot itself (client.md §4.7), which clears the gate; the resume then
// has nothing left to rebuild and does not run a second snapshot.
TEST_F(ProfileBClientTest, ResumeDoesNotRebuildTwiceAfterAPrunedReplayRecovery) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");
  a.transport->FailNext("GET", "/sync/committed-bundles/", 1, FaultKind::kHttpStatus, 409,
                        R"({"error":"history_pruned","message":"committed bundle replay pruned"})");

  a.transport->ResetCounts();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(a.transport->Count("GET", "/sync/committed-bundles/"), 1);
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 1);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(a.Dirty() + a.OutboxRows(), 0);
  EXPECT_EQ(a.Text("SELECT name FROM users"), "ann");
  EXPECT_EQ(a.NextBundleId(), 2);
  EXPECT_EQ(ServerUserName(1), "ann");
}

// With uploads or downloads paused the gate cannot be resumed (its push or its snapshot would be
// skipped): Sync refuses with kRebuildRequired before any request and touches nothing; resumed,
// it recovers.
TEST_F(ProfileBClientTest, SyncRefusesTheGateWhileUploadsOrDownloadsArePaused) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");
  a.transport->ResetCounts();
  for (const bool uploads : {true, false}) {
    if (uploads) {
      a.client->PauseUploads();
    } else {
      a.client->ResumeUploads();
      a.client->PauseDownloads();
    }
    Result<SyncReport> refused = a.client->Sync();
    ASSERT_FALSE(refused.has_value()) << (uploads ? "uploads paused" : "downloads paused");
    EXPECT_EQ(ClientErrorKindOf(refused.error()), ClientErrorKind::kRebuildRequired)
        << refused.error().ToString();
    EXPECT_EQ(a.transport->Count("", "/"), 0);
    EXPECT_EQ(a.RebuildRequired(), 1);
    EXPECT_EQ(a.Dirty(), 1);
  }
  a.client->ResumeDownloads();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(ServerUserName(1), "ann");
}

// docs/compatibility.md 83 (kmp-client.md §2.2 row 1): profile B checks the server's contract
// before an operation's first push or pull request. A server that now answers another
// protocol_version is refused before the outbox is frozen; nothing local changes and no push
// session is opened. An operation with nothing to send, or failing a local precondition, stays
// off the network.
TEST_F(ProfileBClientTest, ProtocolGateRefusesBeforeFreezingAndSkipsNoOps) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  a.transport->ResetCounts();
  Result<PushReport> idle = a.client->PushPending();
  ASSERT_TRUE(idle.has_value()) << idle.error().ToString();
  EXPECT_EQ(idle->outcome, PushOutcome::kNoChange);
  EXPECT_EQ(a.transport->Count("", "/"), 0);

  InsertUser(a, 1, "ann");
  a.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url) != "/sync/capabilities") return;
    const std::string from = R"("protocol_version":"v1")";
    if (const std::size_t at = response.body.find(from); at != std::string::npos) {
      response.body.replace(at, from.size(), R"("protocol_version":"v2")");
    }
  });
  const auto expect_refused = [](const Status& refused) {
    EXPECT_EQ(ClientErrorKindOf(refused), ClientErrorKind::kProtocolVersionMismatch)
        << refused.ToString();
    EXPECT_NE(refused.message().find("\"v2\""), std::string::npos) << refused.ToString();
  };
  Result<SyncReport> refused_sync = a.client->Sync();
  ASSERT_FALSE(refused_sync.has_value());
  expect_refused(refused_sync.error());
  Result<PushReport> refused_push = a.client->PushPending();
  ASSERT_FALSE(refused_push.has_value());
  expect_refused(refused_push.error());
  EXPECT_EQ(a.transport->Count("POST", "/sync/push-sessions"), 0);
  EXPECT_EQ(a.transport->Count("GET", "/sync/pull"), 0);
  EXPECT_EQ(a.Dirty(), 1);
  EXPECT_EQ(a.OutboxRows(), 0);

  // The server speaks v1 again: the same Sync goes through, one capabilities check for the whole
  // operation.
  a.transport->SetResponseRewriter(nullptr);
  a.transport->ResetCounts();
  Result<SyncReport> synced = a.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(a.transport->Count("GET", "/sync/capabilities"), 1);
  EXPECT_EQ(ServerUserName(1), "ann");
}

// docs/compatibility.md 83, review of the gate: a refused contract changes nothing local in the
// other operations either — Rebuild leaves the rebuild gate unset, the resume of a set gate
// reports kProtocolVersionMismatch (not a blocked recovery), and a never-synced insert deleted
// again is dropped by the freeze without a request, even with the server unreachable.
TEST_F(ProfileBClientTest, ProtocolGateLeavesRebuildAndResumeUntouched) {
  Device& a = TypedDevice();
  ASSERT_FALSE(HasFatalFailure());
  InsertUser(a, 1, "ann");
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  a.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url) != "/sync/capabilities") return;
    const std::string from = R"("protocol_version":"v1")";
    if (const std::size_t at = response.body.find(from); at != std::string::npos) {
      response.body.replace(at, from.size(), R"("protocol_version":"v2")");
    }
  });
  a.transport->ResetCounts();
  Result<RemoteSyncReport> rebuilt = a.client->Rebuild();
  ASSERT_FALSE(rebuilt.has_value());
  EXPECT_EQ(ClientErrorKindOf(rebuilt.error()), ClientErrorKind::kProtocolVersionMismatch);
  EXPECT_EQ(a.RebuildRequired(), 0);
  EXPECT_EQ(a.transport->Count("POST", "/sync/snapshot-sessions"), 0);

  InsertUser(a, 2, "bob");
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");
  Result<SyncReport> resumed = a.client->Sync();
  ASSERT_FALSE(resumed.has_value());
  EXPECT_EQ(ClientErrorKindOf(resumed.error()), ClientErrorKind::kProtocolVersionMismatch)
      << resumed.error().ToString();
  EXPECT_EQ(a.Dirty(), 1);
  EXPECT_EQ(a.OutboxRows(), 0);
  EXPECT_EQ(a.transport->Count("POST", "/sync/push-sessions"), 0);
  a.Exec("UPDATE _sync_attachment_state SET rebuild_required = 0");
  a.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", FixtureUuid(2)));  // never synced

  // Server unreachable: the insert-then-delete needs no request.
  a.transport->SetResponseRewriter(nullptr);
  a.transport->FailNext("", "/", 100, FaultKind::kTransportErrorBefore);
  a.transport->ResetCounts();
  Result<PushReport> dropped = a.client->PushPending();
  ASSERT_TRUE(dropped.has_value()) << dropped.error().ToString();
  EXPECT_EQ(dropped->outcome, PushOutcome::kNoChange);
  EXPECT_EQ(a.transport->Count("", "/"), 0);
  EXPECT_EQ(a.Dirty() + a.OutboxRows(), 0);
  a.transport->ClearFaults();
}

// kmp-client.md §3.2 / protocol-handshake/connect.json: a profile-B client whose tables differ
// from the server's registered set does not attach.
TEST_F(ProfileBClientTest, AttachRefusesADifferentTableSet) {
  Device& device = NewDevice();
  // Client::CreateForPath itself: the fixture's Create completes the table set.
  Config config = MakeConfig();
  config.wire_profile = std::string(kProfileB);
  Result<std::unique_ptr<Client>> created = Client::CreateForPath(
      device.path, server_->base_url(), server_->TokenProviderFor(user_), config, {});
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  device.client = std::move(*created);
  ASSERT_TRUE(device.client->Open().ok());
  Result<AttachResult> attached = device.client->Attach(user_);
  ASSERT_FALSE(attached.has_value());
  EXPECT_EQ(attached.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(attached.error().message().find(
                "server-only [business.categories, business.posts, business.typed_rows]"),
            std::string::npos)
      << attached.error().ToString();
}

// Both contracts share every path and "v1": Attach names a client/server profile mismatch
// (from the capabilities shape, protocol-b.md §5.1) instead of failing later on a decoder error
// or the first push's 400.
TEST_F(ProfileBClientTest, AttachNamesAWireProfileMismatch) {
  // A go_canonical_v1 database against this profile-B server.
  Device& old_app = NewDevice();
  Config profile_a = MakeConfig();
  profile_a.wire_profile = "go_canonical_v1";
  Result<std::unique_ptr<Client>> created = Client::CreateForPath(
      old_app.path, server_->base_url(), server_->TokenProviderFor(user_), profile_a, {});
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  ASSERT_TRUE((*created)->Open().ok());
  Result<AttachResult> attached = (*created)->Attach(user_);
  ASSERT_FALSE(attached.has_value());
  EXPECT_EQ(attached.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(attached.error().message().find(
                "speaks wire profile jcs_uniform_numeric_strings_v1 but this database syncs with "
                "go_canonical_v1"),
            std::string::npos)
      << attached.error().ToString();
  created->reset();

  // A profile-B database against a go_canonical_v1 server.
  TestServerOptions options;
  options.wire_profile = "go_canonical_v1";
  Result<std::unique_ptr<TestServer>> server_a = TestServer::Start(options);
  ASSERT_TRUE(server_a.has_value()) << server_a.error().ToString();
  Device& new_app = NewDevice();
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(new_app.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, std::string(kTypedRowsDdl).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  Config profile_b = MakeConfig();
  ProfileB(profile_b);
  created = Client::CreateForPath(new_app.path, (*server_a)->base_url(),
                                  (*server_a)->TokenProviderFor(user_), profile_b, {});
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  ASSERT_TRUE((*created)->Open().ok());
  attached = (*created)->Attach(user_);
  ASSERT_FALSE(attached.has_value());
  EXPECT_EQ(attached.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(attached.error().message().find(
                "speaks wire profile go_canonical_v1 but this database syncs with "
                "jcs_uniform_numeric_strings_v1"),
            std::string::npos)
      << attached.error().ToString();
  const ClientErrorDetail* detail = ClientErrorOf(attached.error());
  ASSERT_NE(detail, nullptr);
  EXPECT_EQ(detail->kind, ClientErrorKind::kAttachLifecycleUnsupported);
  created->reset();
}

}  // namespace
}  // namespace oversync::oversqlite::testing
