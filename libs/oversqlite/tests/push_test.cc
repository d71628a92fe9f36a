// PushPending and structured conflicts (client.md §4) end to end against the in-process
// reference server (label e2e; needs OVERSYNC_TEST_DSN). Crash points are simulated with the
// one-shot push hooks (an error aborts the push; the client object is then destroyed and a new
// one is created on the same file) and, for real process death, with fork + _exit inside a hook.
// Each test cites the client.md §9 item and the go-oversync test it mirrors.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/server/sync_transaction.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

constexpr std::string_view kUser = "push-user";
constexpr std::string_view kWriter = "2b3c5d7e-0000-4000-8000-00000000bbbb";

std::string Uuid(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }

constexpr std::string_view kClientDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  author_id TEXT REFERENCES users(id), created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS files (id BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS file_reviews (
  id BLOB PRIMARY KEY NOT NULL, review TEXT NOT NULL,
  file_id BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  captain_member_id TEXT REFERENCES team_members(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS team_members (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
)sql";

int ExecCallback(void* /*unused*/, int /*n*/, char** /*values*/, char** /*names*/) { return 0; }

// One device: a SQLite file and (while "running") a client on it.
struct Device {
  std::string path;
  std::unique_ptr<Client> client;
  std::shared_ptr<FaultTransport> transport;

  sqlite3* db() const { return client->db(); }

  void Exec(const std::string& sql) const {
    char* error = nullptr;
    const int rc = sqlite3_exec(db(), sql.c_str(), ExecCallback, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
  }
  std::string Text(const std::string& sql) const { return TextOn(db(), sql); }
  // `on` may be the client's connection handed to a freeze hook (it sees the open freeze tx).
  static std::string TextOn(sqlite3* on, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(on, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(on);
    std::string out = "<none>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t Int(const std::string& sql) const { return std::stoll(Text(sql)); }

  std::int64_t Dirty() const { return Int("SELECT count(*) FROM _sync_dirty_rows"); }
  std::int64_t OutboxRows() const { return Int("SELECT count(*) FROM _sync_outbox_rows"); }
  std::string OutboxState() const { return Text("SELECT state FROM _sync_outbox_bundle"); }
  std::int64_t Checkpoint() const {
    return Int("SELECT last_bundle_seq_seen FROM _sync_attachment_state");
  }
  std::int64_t NextBundleId() const {
    return Int(
        "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = "
        "(SELECT current_source_id FROM _sync_attachment_state)");
  }
};

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<TestServer>> server = TestServer::Start();
    if (!server.has_value()) {
      if (server.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << server.error().ToString();
      }
      FAIL() << server.error().ToString();
    }
    server_ = std::move(*server);
  }

  void TearDown() override {
    for (Device& device : devices_) {
      device.client.reset();
      std::remove(device.path.c_str());
      std::remove((device.path + "-wal").c_str());
      std::remove((device.path + "-shm").c_str());
    }
  }

  static Config MakeConfig() {
    Config config = DefaultConfig("business", {{"users", "id", {}},
                                               {"posts", "id", {}},
                                               {"categories", "id", {}},
                                               {"files", "id", {}},
                                               {"file_reviews", "id", {}},
                                               {"teams", "id", {}},
                                               {"team_members", "id", {}}});
    RetryPolicy retry;
    retry.max_attempts = 3;
    retry.initial_backoff = Duration(1);
    retry.max_backoff = Duration(2);
    retry.jitter_fraction = 0;
    config.retry_policy = retry;
    return config;
  }

  // A new device file with the business tables (not yet started).
  Device& NewDevice() {
    Device& device = devices_.emplace_back();
    device.path = fmt::format("{}/push_{}_{}_{}.db", ::testing::TempDir(), ::getpid(),
                              ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                              devices_.size());
    std::remove(device.path.c_str());
    std::remove((device.path + "-wal").c_str());
    std::remove((device.path + "-shm").c_str());
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(device.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, std::string(kClientDdl).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    return device;
  }

  // (Re)starts the client on the device's file: CreateForPath, Open, Attach.
  void Start(Device& device, const std::function<void(Config&)>& tweak = nullptr,
             bool attach = true) {
    device.client.reset();
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    device.transport = std::make_shared<FaultTransport>(*curl);
    Config config = MakeConfig();
    if (tweak) tweak(config);
    ClientDeps deps;
    deps.transport = device.transport;
    Result<std::unique_ptr<Client>> client =
        CreateTestClientForPath(device.path, server_->base_url(),
                              server_->TokenProviderFor(std::string(kUser)), config, deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device.client = std::move(*client);
    Status opened = device.client->Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    if (!attach) return;
    Result<AttachResult> attached = device.client->Attach(kUser);
    ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
    ASSERT_EQ(attached->status, AttachStatus::kConnected);
  }

  Device& StartedDevice(const std::function<void(Config&)>& tweak = nullptr) {
    Device& device = NewDevice();
    Start(device, tweak);
    return device;
  }

  static PushReport MustPush(Device& device) {
    Result<PushReport> report = device.client->PushPending();
    EXPECT_TRUE(report.has_value()) << report.error().ToString();
    return report.value_or(PushReport{});
  }

  static void InsertUser(Device& device, int n, std::string_view name) {
    device.Exec(
        fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', '{}', '{}@example.com')",
                    Uuid(n), name, name));
  }

  std::string ServerText(const std::string& sql) {
    Result<std::string> value = server_->QueryScalar(sql);
    EXPECT_TRUE(value.has_value()) << value.error().ToString();
    return value.value_or("<error>");
  }
  std::string ServerUserName(int n) {
    return ServerText(fmt::format("SELECT name FROM business.users WHERE id = '{}'", Uuid(n)));
  }

  // A server-originated write in the user's scope (another "device"); returns its bundle seq.
  std::int64_t ServerWrite(const std::string& sql) {
    Result<ScopeWriteResult> written =
        server_->service().ExecWrite(kUser, kWriter, [&](SyncTransaction& tx) -> Status {
          Result<SqlRows> rows = tx.Exec(sql);
          return rows.has_value() ? Status() : rows.error();
        });
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    return written.has_value() ? written->bundle.bundle_seq : 0;
  }

  std::unique_ptr<TestServer> server_;
  std::deque<Device> devices_;  // deque: Device references stay valid as devices are added
};

Status HookError() { return Status(ErrorCode::kInternal, "simulated crash"); }

// §9 16 + 24 — TestPushPending_RepeatedLocalEditsCollapseIntoOneDirtyRowAndAdvanceBundleState,
// TestPushPending_AuthoritativeReplayDoesNotGenerateDirtyRowsAndCapturesLaterWrites.
TEST_F(PushTest, RepeatedEditsCollapseAndReplayCapturesLaterWritesAsUpdate) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.Exec(fmt::format("UPDATE users SET name = 'b' WHERE id = '{}'", Uuid(1)));
  d.Exec(fmt::format("UPDATE users SET name = 'c' WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(d.Dirty(), 1);
  std::string uploaded_op;
  d.client->SetBeforePushFreezeHook([&](sqlite3* tx_db) -> Status {
    uploaded_op = Device::TextOn(tx_db, "SELECT op FROM _sync_outbox_rows");
    return {};
  });
  PushReport report = MustPush(d);
  EXPECT_EQ(report.outcome, PushOutcome::kCommitted);
  EXPECT_EQ(uploaded_op, "INSERT");
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(report.status.last_bundle_seq_seen, 1);
  EXPECT_EQ(ServerUserName(1), "c");
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_push_stage"), 0);
  EXPECT_EQ(d.Int("SELECT apply_mode FROM _sync_apply_state"), 0);
  // Item 24: the replay wrote nothing dirty; a later local write is captured as an UPDATE.
  d.Exec(fmt::format("UPDATE users SET name = 'd' WHERE id = '{}'", Uuid(1)));
  d.client->SetBeforePushFreezeHook([&](sqlite3* tx_db) -> Status {
    uploaded_op = Device::TextOn(tx_db, "SELECT op || ':' || base_row_version FROM _sync_outbox_rows");
    return {};
  });
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(uploaded_op, "UPDATE:1");
  EXPECT_EQ(ServerUserName(1), "d");
  EXPECT_EQ(d.Checkpoint(), 2);
}

// §9 17 + 18 + 40 — TestCollectDirtyRowsForPushInTx_UnsyncedInsertDeleteBecomesNoOp,
// ..._SyncedUpdateBuildsUpdateFromDirtyPayload, ..._SyncedDeleteBuildsDeleteWithoutPayload,
// TestPushPending_MovesFrozenRowsIntoOutboundAtomically.
TEST_F(PushTest, FreezeClassifiesRowsDropsNoOpsAndIsAtomic) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "keep");
  InsertUser(d, 2, "gone");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  d.Exec(fmt::format("UPDATE users SET name = 'upd' WHERE id = '{}'", Uuid(1)));
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(2)));
  InsertUser(d, 3, "temp");
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(3)));  // never synced: no-op
  InsertUser(d, 4, "fresh");
  EXPECT_EQ(d.Dirty(), 4);

  std::vector<std::string> frozen;
  d.client->SetBeforePushFreezeHook([&](sqlite3* tx_db) -> Status {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(
        tx_db,
        "SELECT op, base_row_version, local_payload IS NULL, key_json FROM _sync_outbox_rows "
        "ORDER BY row_ordinal",
        -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
      frozen.push_back(fmt::format("{}:{}:{}:{}",
                                   reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                                   sqlite3_column_int64(stmt, 1), sqlite3_column_int(stmt, 2),
                                   // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
                                   reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3))));
    }
    sqlite3_finalize(stmt);
    return HookError();  // item 40: the freeze rolls back
  });
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message(), "simulated crash");
  ASSERT_EQ(frozen.size(), 3U);
  EXPECT_EQ(frozen[0], fmt::format("UPDATE:1:0:{{\"id\":\"{}\"}}", Uuid(1)));
  EXPECT_EQ(frozen[1], fmt::format("INSERT:0:0:{{\"id\":\"{}\"}}", Uuid(4)));
  EXPECT_EQ(frozen[2], fmt::format("DELETE:1:1:{{\"id\":\"{}\"}}", Uuid(2)));
  // Rolled back: dirty rows intact (no-op included), no outbox.
  EXPECT_EQ(d.Dirty(), 4);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.OutboxState(), "none");

  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(ServerUserName(1), "upd");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(2))),
            "0");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(3))),
            "0");
  EXPECT_EQ(ServerUserName(4), "fresh");
}

// §9 17 — an outbox of no-ops only: no network, the no-op dirty row is gone.
TEST_F(PushTest, OnlyNoOpDirtyRowsAreDroppedWithoutNetwork) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "temp");
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kNoChange);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 0);
}

// §9 37 — TestPushPending_EmptyDirtyQueueIsNoOpBeforeOutboundStateIsCreated.
TEST_F(PushTest, EmptyDirtyQueueIsNoOpWithoutNetwork) {
  Device& d = StartedDevice();
  d.transport->ResetCounts();
  PushReport report = MustPush(d);
  EXPECT_EQ(report.outcome, PushOutcome::kNoChange);
  EXPECT_EQ(d.transport->Count("", "/"), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_push_stage"), 0);
  PushTransferDiagnostics diag = d.client->GetPushTransferDiagnostics();
  EXPECT_EQ(diag.sessions_created, 0);
  EXPECT_EQ(diag.chunks_uploaded, 0);
  EXPECT_EQ(diag.committed_bundle_chunks_read, 0);
}

// §9 38 + 51 — TestPushPending_DirtySetLargerThanOneChunkSucceeds,
// TestPushPending_SuccessfulCommitDoesNotDeleteCommittedSession.
TEST_F(PushTest, ChunkedUploadUsesOneSessionAndKeepsCommittedSession) {
  Device& d = StartedDevice([](Config& c) {
    c.upload_limit = 2;
    c.download_limit = 2;
  });
  for (int i = 1; i <= 5; ++i) InsertUser(d, i, fmt::format("u{}", i));
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  PushTransferDiagnostics diag = d.client->GetPushTransferDiagnostics();
  EXPECT_EQ(diag.sessions_created, 1);
  EXPECT_EQ(diag.chunks_uploaded, 3);
  EXPECT_EQ(diag.committed_bundle_chunks_read, 3);
  EXPECT_EQ(d.transport->Count("DELETE", "/sync/push-sessions"), 0);
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"), "5");
  EXPECT_EQ(d.Checkpoint(), 1);
}

// §9 39 + 48 — TestPushPending_OrdersUpsertsParentFirstAndDeletesChildFirst,
// TestPushPending_AuthoritativeReplayRunsWithDeferredForeignKeys.
TEST_F(PushTest, OrdersParentsFirstForUpsertsAndChildrenFirstForDeletes) {
  Device& d = StartedDevice();
  // Captured child first: the freeze still uploads the parent first.
  d.Exec("PRAGMA foreign_keys = OFF");
  d.Exec(
      fmt::format("INSERT INTO posts (id, title, content, author_id) VALUES ('{}', 't', 'c', '{}')",
                  Uuid(10), Uuid(1)));
  InsertUser(d, 1, "author");
  // Self-referencing categories: child captured before its parent.
  d.Exec(fmt::format("INSERT INTO categories (id, name, parent_id) VALUES ('{}', 'child', '{}')",
                     Uuid(21), Uuid(20)));
  d.Exec(fmt::format("INSERT INTO categories (id, name, parent_id) VALUES ('{}', 'root', NULL)",
                     Uuid(20)));
  d.Exec("PRAGMA foreign_keys = ON");
  std::vector<std::string> order;
  auto capture = [&](sqlite3* tx_db) -> Status {
    order.clear();
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(tx_db,
                       "SELECT op || ' ' || table_name FROM _sync_outbox_rows ORDER BY row_ordinal",
                       -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
      order.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    sqlite3_finalize(stmt);
    return {};
  };
  d.client->SetBeforePushFreezeHook(capture);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  ASSERT_EQ(order.size(), 4U);
  auto position = [&](std::string_view entry) {
    return std::find(order.begin(), order.end(), entry) - order.begin();
  };
  EXPECT_LT(position("INSERT users"), position("INSERT posts"));
  EXPECT_EQ(
      ServerText(fmt::format("SELECT author_id FROM business.posts WHERE id = '{}'", Uuid(10))),
      Uuid(1));

  d.Exec(fmt::format("DELETE FROM posts WHERE id = '{}'", Uuid(10)));
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  d.client->SetBeforePushFreezeHook(capture);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  ASSERT_EQ(order.size(), 2U);
  EXPECT_EQ(order[0], "DELETE posts");
  EXPECT_EQ(order[1], "DELETE users");
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"), "0");
}

// §9 32 — TestPushPending_RejectsNonUUIDBlobSyncKey.
TEST_F(PushTest, RejectsNonUuidBlobKey) {
  Device& d = StartedDevice();
  d.Exec("INSERT INTO files (id, name, data) VALUES (x'00112233', 'bad', x'01')");
  Result<PushReport> report = d.client->PushPending();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("invalid blob UUID pk"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(d.OutboxState(), "none");
}

// §9 26-29 via push: BLOB key and BLOB data round-trip (dashed UUID key, base64 data).
TEST_F(PushTest, BlobTableRoundTripsThroughPush) {
  Device& d = StartedDevice();
  d.Exec(
      "INSERT INTO files (id, name, data) VALUES (x'00112233445566778899aabbccddeeff', 'f', "
      "x'001122ff')");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT encode(data, 'hex') FROM business.files WHERE id = "
                       "'00112233-4455-6677-8899-aabbccddeeff'"),
            "001122ff");
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.Text("SELECT hex(data) FROM files"), "001122FF");
}

// §9 41 + 42 — TestPushPending_KeepsOnlyOneFrozenOutboxBundleDurably,
// TestPushPending_ReuploadsFrozenOutboundSnapshotAfterCrashBeforeCommit.
TEST_F(PushTest, CrashBeforeCommitReuploadsSameBundleAfterRestart) {
  Device& d = StartedDevice([](Config& c) { c.upload_limit = 1; });
  InsertUser(d, 1, "a");
  InsertUser(d, 2, "b");
  d.client->SetBeforePushCommitHook([] { return HookError(); });
  ASSERT_FALSE(d.client->PushPending().has_value());
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.OutboxRows(), 2);
  EXPECT_EQ(d.transport->Count("DELETE", "/sync/push-sessions/"), 1);  // best-effort cleanup
  const std::int64_t bundle_id = d.Int("SELECT source_bundle_id FROM _sync_outbox_bundle");
  EXPECT_EQ(bundle_id, 1);
  // New edits wait in dirty rows; the frozen outbox is reused unchanged (item 41).
  InsertUser(d, 3, "later");

  Start(d, [](Config& c) { c.upload_limit = 1; });  // restart on the same file
  EXPECT_EQ(d.OutboxRows(), 2);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  PushTransferDiagnostics diag = d.client->GetPushTransferDiagnostics();
  EXPECT_EQ(diag.sessions_created, 1);
  EXPECT_EQ(diag.chunks_uploaded, 2);
  EXPECT_EQ(d.Dirty(), 1);
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"), "2");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.users"), "3");
  EXPECT_EQ(d.Checkpoint(), 2);
}

// §9 43 + 49 — TestPushPending_ReplaysAcceptedBundleAfterCrashBeforeDurableApply,
// TestCompareCommittedBundleToCanonicalOutbox_IgnoresEquivalentRowOrder.
TEST_F(PushTest, CrashAfterCommitBeforeReplayResumesAsAlreadyCommitted) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.Exec(
      fmt::format("INSERT INTO posts (id, title, content, author_id, created_at) VALUES "
                  "('{}', 't', 'c', '{}', '2024-01-02T03:04:05+02:00')",
                  Uuid(10), Uuid(1)));
  d.client->SetBeforePushReplayHook([] { return HookError(); });
  ASSERT_FALSE(d.client->PushPending().has_value());
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.Int("SELECT remote_bundle_seq FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(d.Checkpoint(), 0);

  Start(d);
  d.client->ResetPushTransferDiagnostics();
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  PushTransferDiagnostics diag = d.client->GetPushTransferDiagnostics();
  EXPECT_EQ(diag.sessions_created, 0);
  EXPECT_EQ(diag.chunks_uploaded, 0);
  EXPECT_EQ(diag.committed_bundle_chunks_read, 1);
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(d.Int("SELECT row_version FROM _sync_row_state WHERE table_name = 'posts'"), 1);
}

// §9 44 + 45 — TestPushPending_NewLocalWritesDuringReplaySurviveInDirtyRows,
// TestPushPending_RebasesSameKeyLocalIntentDuringAuthoritativeReplay.
TEST_F(PushTest, EditsBetweenFreezeAndReplayAreRebased) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  InsertUser(d, 2, "b");
  InsertUser(d, 3, "c");
  d.client->SetBeforePushReplayHook([&]() -> Status {
    d.Exec(fmt::format("UPDATE users SET name = 'edited' WHERE id = '{}'", Uuid(1)));
    d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(2)));
    InsertUser(d, 4, "new");
    return {};
  });
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", Uuid(1))), "edited");
  EXPECT_EQ(d.Int(fmt::format("SELECT count(*) FROM users WHERE id = '{}'", Uuid(2))), 0);
  EXPECT_EQ(d.Text(fmt::format(
                "SELECT op || ':' || base_row_version FROM _sync_dirty_rows WHERE key_json "
                "LIKE '%{}%'",
                Uuid(1))),
            "UPDATE:1");
  EXPECT_EQ(
      d.Text(fmt::format("SELECT op || ':' || base_row_version || ':' || (payload IS NULL) FROM "
                         "_sync_dirty_rows WHERE key_json LIKE '%{}%'",
                         Uuid(2))),
      "DELETE:1:1");
  EXPECT_EQ(
      d.Text(fmt::format("SELECT row_version || ':' || deleted FROM _sync_row_state WHERE key_json "
                         "LIKE '%{}%'",
                         Uuid(2))),
      "1:0");
  EXPECT_EQ(d.Dirty(), 3);  // user 1, user 2, new user 4
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "edited");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(2))),
            "0");
  EXPECT_EQ(ServerUserName(4), "new");
  EXPECT_EQ(d.Dirty(), 0);
}

// §9 46 — TestPushPending_RebasesSameKeyLocalIntentAfterRestartBeforeReplay.
TEST_F(PushTest, RebaseAfterRestartBeforeReplay) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.client->SetBeforePushReplayHook([] { return HookError(); });
  ASSERT_FALSE(d.client->PushPending().has_value());
  Start(d);
  d.Exec(fmt::format("UPDATE users SET name = 'after-restart' WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Text("SELECT op || ':' || base_row_version FROM _sync_dirty_rows"), "UPDATE:1");
  EXPECT_EQ(d.Text("SELECT name FROM users"), "after-restart");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "after-restart");
}

// §9 47 — TestPushPending_AuthoritativeReplayRollbackDoesNotLeakApplyMode.
TEST_F(PushTest, FailedReplayRollsBackWithoutLeakingApplyMode) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.Exec(
      "CREATE TRIGGER fail_replay BEFORE UPDATE ON users WHEN "
      "(SELECT apply_mode FROM _sync_apply_state) = 1 BEGIN SELECT RAISE(ABORT, 'replay boom'); "
      "END");
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("replay boom"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(d.Int("SELECT apply_mode FROM _sync_apply_state"), 0);
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_push_stage"), 1);
  EXPECT_EQ(d.Checkpoint(), 0);
  d.Exec("DROP TRIGGER fail_replay");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.OutboxState(), "none");
}

// §9 50 — TestPushPending_RejectsInvalidCommitResponse,
// ..._FailsClosedOnCommittedReplayMetadataMismatch.
TEST_F(PushTest, InvalidCommitResponseAndHashMismatchFailClosed) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url).find("/commit") == std::string::npos) return;
    auto body = protocol::ParseJson(response.body);
    if (!body) return;
    protocol::JsonValue rewritten = protocol::JsonValue::Object();
    for (const auto& member : body->as_object()) {
      if (member.key != "bundle_hash") rewritten.Add(member.key, member.value);
    }
    std::string text;
    protocol::JsonWriter(text).Value(rewritten);
    response.body = text;
  });
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("bundle_hash"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.Checkpoint(), 0);
  EXPECT_EQ(d.NextBundleId(), 1);

  // The committed bundle's rows come back altered: the hash check fails closed.
  d.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url).rfind("/sync/committed-bundles/", 0) != 0) return;
    const std::size_t at = response.body.find("\"name\":\"a\"");
    if (at != std::string::npos) response.body.replace(at, 10, "\"name\":\"z\"");
  });
  failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("hash"), std::string::npos) << failed.error().ToString();
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.Checkpoint(), 0);
  EXPECT_EQ(d.Text("SELECT name FROM users"), "a");

  d.transport->SetResponseRewriter(nullptr);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Checkpoint(), 1);
}

// §9 52 — TestPushPending_RetriesTransientCreateSessionFailureAndSucceeds,
// TestPushPending_DoesNotRetryUnauthorized, TestPushPending_RetryExhaustionReturnsTypedError.
TEST_F(PushTest, RetriesTransientFailuresOnly) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 503);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  InsertUser(d, 2, "b");
  d.transport->ResetCounts();
  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 401,
                        R"({"error":"authentication_failed","message":"nope"})");
  Result<PushReport> unauthorized = d.client->PushPending();
  ASSERT_FALSE(unauthorized.has_value());
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 1);

  d.transport->ResetCounts();
  d.transport->FailNext("POST", "/sync/push-sessions", 3, FaultKind::kHttpStatus, 503);
  Result<PushReport> exhausted = d.client->PushPending();
  ASSERT_FALSE(exhausted.has_value());
  const ClientErrorDetail* detail = ClientErrorOf(exhausted.error());
  ASSERT_NE(detail, nullptr) << exhausted.error().ToString();
  EXPECT_EQ(detail->kind, ClientErrorKind::kRetryExhausted);
  EXPECT_EQ(detail->operation, "push_pending");
  EXPECT_EQ(detail->attempts, 3);
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 3);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(2), "b");
}

// §9 53 — TestEndToEnd_PushSessionCreateTransportRetryLeavesClientRecoverable; plus a response
// lost after the server committed (the retried create answers already_committed).
TEST_F(PushTest, TransportFailuresLeaveRecoverableOutbox) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.transport->FailNext("POST", "/sync/push-sessions", 3, FaultKind::kTransportErrorBefore);
  ASSERT_FALSE(d.client->PushPending().has_value());
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxRows(), 1);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  InsertUser(d, 2, "b");
  d.client->ResetPushTransferDiagnostics();
  // The commit succeeded but fetching its rows drops: the retry unit restarts at create, which
  // answers already_committed (no second session).
  d.transport->FailNext("GET", "/sync/committed-bundles/", 1, FaultKind::kTransportErrorBefore);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.client->GetPushTransferDiagnostics().sessions_created, 1);
  EXPECT_EQ(d.Checkpoint(), 2);
  EXPECT_EQ(ServerUserName(2), "b");
}

// protocol-b.md §6 / docs/compatibility.md 78: the server committed but answered 503
// commit_outcome_unknown (its connection failed during COMMIT). The client keeps its frozen
// outbox, restarts through create (already_committed) and ends with one bundle on the server:
// nothing pushed twice, nothing lost.
TEST_F(PushTest, CommitOutcomeUnknownAnswerConvergesWithoutADuplicateBundle) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  auto rewritten = std::make_shared<std::atomic<int>>(0);
  d.transport->SetResponseRewriter([rewritten](const HttpRequest& request, HttpResponse& response) {
    const std::string path = FaultTransport::PathOf(request.url);
    if (request.method != "POST" || path.size() < 7 || path.substr(path.size() - 7) != "/commit" ||
        response.status != 200 || rewritten->fetch_add(1) != 0) {
      return;
    }
    response.status = 503;
    response.body =
        R"({"error":"commit_outcome_unknown","message":"Push transaction commit outcome is unknown; )"
        R"(restart push session creation with the same source tuple"})";
  });
  // One call: the retry unit restarts at create, which answers already_committed.
  Result<PushReport> settled = d.client->PushPending();
  d.transport->SetResponseRewriter(nullptr);
  ASSERT_EQ(rewritten->load(), 1);
  ASSERT_TRUE(settled.has_value()) << settled.error().ToString();
  EXPECT_EQ(settled->outcome, PushOutcome::kCommitted);
  // create, chunk, commit (answered 503), create (already_committed).
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 4);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(ServerUserName(1), "a");
  EXPECT_EQ(ServerText("SELECT count(*) FROM sync.bundle_log"), "1");
  EXPECT_EQ(d.Checkpoint(), 1);
}

// §9 54 — TestEndToEnd_PushThenOwnPushThenPullStillFetchesEarlierPeerBundle.
TEST_F(PushTest, NonContiguousOwnPushDoesNotAdvanceCheckpoint) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Checkpoint(), 1);
  const std::int64_t peer = ServerWrite(fmt::format(
      "INSERT INTO business.users (id, name, email) VALUES ('{}', 'peer', 'p@example.com')",
      Uuid(2)));
  EXPECT_EQ(peer, 2);
  InsertUser(d, 3, "own");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Checkpoint(), 1);  // bundle 3 is not contiguous with 1
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(d.Checkpoint(), 3);
  EXPECT_EQ(d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", Uuid(2))), "peer");
}

// ---- conflicts (§4.6) ----

class PushConflictTest : public PushTest {
 protected:
  // Device A creates user 1 (v1); device B (same user) adopts it; A renames it (v2). B's rename
  // of the same row is then a stale UPDATE (base 1).
  void SetUpConflict() {
    a_ = &StartedDevice();
    InsertUser(*a_, 1, "orig");
    ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
    b_ = &StartedDevice();
    ASSERT_EQ(b_->Text(fmt::format("SELECT name FROM users WHERE id = '{}'", Uuid(1))), "orig");
    a_->Exec(fmt::format("UPDATE users SET name = 'from-a' WHERE id = '{}'", Uuid(1)));
    ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
    b_->Exec(fmt::format("UPDATE users SET name = 'from-b' WHERE id = '{}'", Uuid(1)));
  }
  Device* a_ = nullptr;
  Device* b_ = nullptr;
};

// §9 57 + 58 + 64 — TestPushPending_StructuredConflictBuildsConflictContextFromOutboundSnapshot,
// TestPushPending_StructuredConflictServerWinsResolverRecoversToServerState,
// TestBuiltInResolvers_ReturnExpectedResults.
TEST_F(PushConflictTest, ServerWinsAppliesServerRow) {
  SetUpConflict();
  std::optional<ConflictContext> seen;
  Resolver server_wins = ServerWinsResolver();
  b_->client->SetResolver([&](const ConflictContext& context) -> Result<MergeResult> {
    seen = context;
    return server_wins(context);
  });
  PushReport report = MustPush(*b_);
  EXPECT_EQ(report.outcome, PushOutcome::kNoChange);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->table, "users");
  EXPECT_EQ(seen->local_op, "UPDATE");
  EXPECT_EQ(seen->base_row_version, 1);
  EXPECT_EQ(seen->server_row_version, 2);
  ASSERT_TRUE(seen->local_payload.has_value());
  EXPECT_EQ(seen->local_payload->Find("name")->as_string(), "from-b");
  ASSERT_TRUE(seen->server_row_payload.has_value());
  EXPECT_EQ(seen->server_row_payload->Find("name")->as_string(), "from-a");
  EXPECT_EQ(b_->Text("SELECT name FROM users"), "from-a");
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(b_->OutboxState(), "none");
  EXPECT_EQ(b_->Int("SELECT row_version FROM _sync_row_state"), 2);
  EXPECT_EQ(b_->NextBundleId(), 1);
  // §9 64: built-in results.
  EXPECT_EQ(ServerWinsResolver()(*seen)->kind, MergeResult::Kind::kAcceptServer);
  EXPECT_EQ(ClientWinsResolver()(*seen)->kind, MergeResult::Kind::kKeepLocal);
  EXPECT_EQ(DefaultResolver()(*seen)->kind, MergeResult::Kind::kAcceptServer);
}

// §9 59 — TestPushPending_StructuredConflictClientWinsResolverAutoRetriesAndWins,
// TestEndToEnd_ConflictKeepLocalResolverAutoRetriesAndWins.
TEST_F(PushConflictTest, ClientWinsRetriesWithSameBundleIdAndWins) {
  SetUpConflict();
  b_->client->SetResolver(ClientWinsResolver());
  std::vector<std::int64_t> bundle_ids;
  b_->transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse&) {
    if (request.method == "POST" && FaultTransport::PathOf(request.url) == "/sync/push-sessions") {
      auto body = protocol::ParseJson(request.body);
      if (body)
        bundle_ids.push_back(
            static_cast<std::int64_t>(body->Find("source_bundle_id")->as_number().value));
    }
  });
  PushReport report = MustPush(*b_);
  EXPECT_EQ(report.outcome, PushOutcome::kCommitted);
  EXPECT_EQ(bundle_ids, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(ServerUserName(1), "from-b");
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(b_->client->GetPushTransferDiagnostics().sessions_created, 2);
  EXPECT_EQ(b_->Int("SELECT row_version FROM _sync_row_state"), 3);
}

// §9 60 — TestPushPending_StructuredConflictKeepMergedRetriesMergedPayload.
TEST_F(PushConflictTest, KeepMergedRetriesMergedPayload) {
  SetUpConflict();
  b_->client->SetResolver([](const ConflictContext& context) -> Result<MergeResult> {
    protocol::JsonValue merged = *context.server_row_payload;
    protocol::JsonValue out = protocol::JsonValue::Object();
    for (const auto& member : merged.as_object()) {
      out.Add(member.key,
              member.key == "name" ? protocol::JsonValue::String("merged") : member.value);
    }
    return MergeResult::KeepMerged(std::move(out));
  });
  EXPECT_EQ(MustPush(*b_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "merged");
  EXPECT_EQ(b_->Text("SELECT name FROM users"), "merged");
  EXPECT_EQ(b_->Dirty(), 0);
}

// KeepMerged built from the LOCAL payload of a BLOB table (hex BLOBs): accepted through the
// local-encoding fallback (deliberate fix of the §4.6 BLOB [QUIRK]).
TEST_F(PushConflictTest, KeepLocalAndKeepMergedWorkOnBlobTables) {
  a_ = &StartedDevice();
  a_->Exec(
      "INSERT INTO files (id, name, data) VALUES (x'00112233445566778899aabbccddeeff', 'v1', "
      "x'01')");
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  b_ = &StartedDevice();
  a_->Exec("UPDATE files SET name = 'a', data = x'0a'");
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  b_->Exec("UPDATE files SET name = 'b', data = x'0b0b'");
  b_->client->SetResolver(ClientWinsResolver());
  EXPECT_EQ(MustPush(*b_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT name || ':' || encode(data, 'hex') FROM business.files"), "b:0b0b");

  // Now A is stale; it merges from its local payload (hex encoded BLOBs).
  a_->Exec("UPDATE files SET name = 'a2', data = x'0c'");
  a_->client->SetResolver([](const ConflictContext& context) -> Result<MergeResult> {
    protocol::JsonValue out = protocol::JsonValue::Object();
    for (const auto& member : context.local_payload->as_object()) {
      out.Add(member.key,
              member.key == "name" ? protocol::JsonValue::String("merged") : member.value);
    }
    return MergeResult::KeepMerged(std::move(out));
  });
  EXPECT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT name || ':' || encode(data, 'hex') FROM business.files"),
            "merged:0c");
  EXPECT_EQ(a_->Text("SELECT hex(id) FROM files"), "00112233445566778899AABBCCDDEEFF");
}

// §9 61 — TestPushPending_StructuredConflictPreservesSiblingRowsFromRejectedBundle.
TEST_F(PushConflictTest, SiblingRowsArePreservedAndRepushed) {
  SetUpConflict();
  InsertUser(*b_, 2, "sibling");
  // The sibling is edited again after the freeze: the newer dirty row must survive the requeue.
  b_->client->SetBeforePushCommitHook([&]() -> Status {
    b_->Exec(fmt::format("UPDATE users SET name = 'sibling-newer' WHERE id = '{}'", Uuid(2)));
    return {};
  });
  EXPECT_EQ(MustPush(*b_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "from-a");
  EXPECT_EQ(ServerUserName(2), "sibling-newer");
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(b_->client->GetPushTransferDiagnostics().sessions_created, 2);
}

// §9 62 — TestPushPending_StructuredConflictInvalidKeepMergedForDeleteRestoresReplayableDirtyState,
// ..._RejectsInvalidMergedPayloadShape.
TEST_F(PushConflictTest, InvalidResolutionsRestoreDirtyRows) {
  SetUpConflict();
  InsertUser(*b_, 2, "sibling");
  b_->client->SetResolver([](const ConflictContext&) -> Result<MergeResult> {
    protocol::JsonValue bad = protocol::JsonValue::Object();
    bad.Add("name", protocol::JsonValue::String("x"));
    return MergeResult::KeepMerged(std::move(bad));
  });
  Result<PushReport> failed = b_->client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kInvalidConflictResolution)
      << failed.error().ToString();
  EXPECT_EQ(b_->Dirty(), 2);
  EXPECT_EQ(b_->OutboxState(), "none");
  EXPECT_EQ(b_->OutboxRows(), 0);
  EXPECT_EQ(b_->Text(fmt::format(
                "SELECT op || ':' || base_row_version FROM _sync_dirty_rows WHERE key_json "
                "LIKE '%{}%'",
                Uuid(1))),
            "UPDATE:1");
  EXPECT_EQ(b_->Int("SELECT row_version FROM _sync_row_state"), 1);

  // KeepMerged for a DELETE is invalid too.
  b_->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  failed = b_->client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kInvalidConflictResolution);
  EXPECT_EQ(b_->Dirty(), 2);

  // Server wins then converges.
  b_->client->SetResolver(ServerWinsResolver());
  Result<PushReport> pushed = b_->client->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(ServerUserName(2), "sibling");
  EXPECT_EQ(b_->Text(fmt::format("SELECT name FROM users WHERE id = '{}'", Uuid(1))), "from-a");
}

// §9 63 — TestPushPending_StructuredConflictRetryExhaustionLeavesReplayableDirtyState.
TEST_F(PushConflictTest, RetryExhaustionLeavesReplayableDirtyState) {
  SetUpConflict();
  int calls = 0;
  // Another writer bumps the row before every retry, so each attempt conflicts again.
  b_->client->SetResolver([&](const ConflictContext&) -> Result<MergeResult> {
    ++calls;
    ServerWrite(
        fmt::format("UPDATE business.users SET name = 'bump{}' WHERE id = '{}'", calls, Uuid(1)));
    return MergeResult::KeepLocal();
  });
  Result<PushReport> failed = b_->client->PushPending();
  ASSERT_FALSE(failed.has_value());
  const ClientErrorDetail* detail = ClientErrorOf(failed.error());
  ASSERT_NE(detail, nullptr) << failed.error().ToString();
  EXPECT_EQ(detail->kind, ClientErrorKind::kPushConflictRetryExhausted);
  EXPECT_EQ(detail->retry_count, 2);
  EXPECT_EQ(detail->remaining_dirty_count, 1);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(b_->OutboxRows(), 0);
  const std::string server_version =
      ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(server_version, "1");
  // base_row_version = the latest server version the conflict reported (before the last bump).
  EXPECT_EQ(b_->Int("SELECT base_row_version FROM _sync_dirty_rows"),
            b_->Int("SELECT row_version FROM _sync_row_state"));
  b_->client->SetResolver(ClientWinsResolver());
  EXPECT_EQ(MustPush(*b_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "from-b");
}

// §9 62 —
// TestPushPending_StructuredConflictInvalidResolutionForDeletedAuthoritativeUpdateRestoresReplayableDirtyState:
// KeepLocal (and KeepMerged) for an UPDATE whose server row was deleted is invalid; every outbox
// row comes back as a dirty row and nothing else changes.
TEST_F(PushConflictTest, KeepLocalForUpdateOfDeletedServerRowIsInvalid) {
  a_ = &StartedDevice();
  InsertUser(*a_, 1, "orig");
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  b_ = &StartedDevice();
  a_->Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  b_->Exec(fmt::format("UPDATE users SET name = 'from-b' WHERE id = '{}'", Uuid(1)));
  InsertUser(*b_, 2, "sibling");
  const std::int64_t checkpoint = b_->Checkpoint();

  std::optional<ConflictContext> seen;
  b_->client->SetResolver([&](const ConflictContext& context) -> Result<MergeResult> {
    seen = context;
    return MergeResult::KeepLocal();
  });
  Result<PushReport> failed = b_->client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kInvalidConflictResolution)
      << failed.error().ToString();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->local_op, "UPDATE");
  EXPECT_TRUE(seen->server_row_deleted);
  EXPECT_EQ(seen->server_row_version, 2);
  auto expect_restored = [&]() {
    EXPECT_EQ(b_->OutboxState(), "none");
    EXPECT_EQ(b_->OutboxRows(), 0);
    EXPECT_EQ(b_->Dirty(), 2);
    EXPECT_EQ(b_->Text(fmt::format("SELECT op || ':' || base_row_version || ':' || "
                                   "json_extract(payload, '$.name') FROM _sync_dirty_rows WHERE "
                                   "key_json LIKE '%{}%'",
                                   Uuid(1))),
              "UPDATE:1:from-b");
    EXPECT_EQ(b_->Text(fmt::format("SELECT op || ':' || base_row_version FROM _sync_dirty_rows "
                                   "WHERE key_json LIKE '%{}%'",
                                   Uuid(2))),
              "INSERT:0");
    // Nothing else changed: business row, row state, bundle id, checkpoint.
    EXPECT_EQ(b_->Text(fmt::format("SELECT name FROM users WHERE id = '{}'", Uuid(1))), "from-b");
    EXPECT_EQ(b_->Text(fmt::format("SELECT row_version || ':' || deleted FROM _sync_row_state "
                                   "WHERE key_json LIKE '%{}%'",
                                   Uuid(1))),
              "1:0");
    EXPECT_EQ(b_->NextBundleId(), 1);
    EXPECT_EQ(b_->Checkpoint(), checkpoint);
  };
  expect_restored();

  // KeepMerged with a well-formed payload is just as invalid for a deleted server row.
  b_->client->SetResolver([](const ConflictContext& context) -> Result<MergeResult> {
    return MergeResult::KeepMerged(*context.local_payload);
  });
  failed = b_->client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kInvalidConflictResolution)
      << failed.error().ToString();
  expect_restored();

  // Server wins converges: the row is deleted locally, the sibling is pushed.
  b_->client->SetResolver(ServerWinsResolver());
  Result<PushReport> pushed = b_->client->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(b_->Int(fmt::format("SELECT count(*) FROM users WHERE id = '{}'", Uuid(1))), 0);
  EXPECT_EQ(ServerUserName(2), "sibling");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(1))),
            "0");
}

// docs/compatibility.md 40 (client.md §4.6 BLOB [QUIRK]): KeepLocal and KeepMerged built from the
// local (hex) payload on a BLOB-keyed table with a BLOB FK (files / file_reviews) converge to the
// right bytes and references on the server. Go decodes the hex with the wire rules and fails.
TEST_F(PushConflictTest, KeepLocalAndKeepMergedOnBlobForeignKeyTableConverge) {
  const std::string f1 = "00112233445566778899aabbccdd0001";
  const std::string f2 = "00112233445566778899aabbccdd0002";
  const std::string rv = "00112233445566778899aabbccdd00ff";
  const std::string f1_uuid = "00112233-4455-6677-8899-aabbccdd0001";
  const std::string f2_uuid = "00112233-4455-6677-8899-aabbccdd0002";
  a_ = &StartedDevice();
  a_->Exec(fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', 'f1', x'01')", f1));
  a_->Exec(fmt::format("INSERT INTO files (id, name, data) VALUES (x'{}', 'f2', x'02')", f2));
  a_->Exec(fmt::format("INSERT INTO file_reviews (id, review, file_id) VALUES (x'{}', 'v1', x'{}')",
                       rv, f1));
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  b_ = &StartedDevice();
  ASSERT_EQ(b_->Int("SELECT count(*) FROM file_reviews"), 1);
  a_->Exec("UPDATE file_reviews SET review = 'from-a'");
  a_->Exec(fmt::format("UPDATE files SET data = x'aa' WHERE id = x'{}'", f1));
  ASSERT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);

  // B is stale on both rows: KeepLocal re-points the review to f2 and rewrites f1's bytes.
  b_->Exec(fmt::format("UPDATE file_reviews SET review = 'from-b', file_id = x'{}'", f2));
  b_->Exec(fmt::format("UPDATE files SET data = x'bbbb' WHERE id = x'{}'", f1));
  b_->client->SetResolver(ClientWinsResolver());
  EXPECT_EQ(MustPush(*b_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT review || ':' || file_id::text FROM business.file_reviews"),
            "from-b:" + f2_uuid);
  EXPECT_EQ(ServerText(fmt::format("SELECT encode(data, 'hex') FROM business.files WHERE id = '{}'",
                                   f1_uuid)),
            "bbbb");
  EXPECT_EQ(b_->Dirty(), 0);
  EXPECT_EQ(b_->Text("SELECT lower(hex(file_id)) FROM file_reviews"), f2);

  // A is stale now: KeepMerged from its local payload (hex BLOB key and FK), review merged, FK
  // back to f1.
  a_->Exec(fmt::format("UPDATE file_reviews SET review = 'a2', file_id = x'{}'", f1));
  std::string merged_file_id;
  a_->client->SetResolver([&](const ConflictContext& context) -> Result<MergeResult> {
    protocol::JsonValue out = protocol::JsonValue::Object();
    for (const auto& member : context.local_payload->as_object()) {
      if (member.key == "file_id") merged_file_id = member.value.as_string();
      out.Add(member.key,
              member.key == "review" ? protocol::JsonValue::String("merged") : member.value);
    }
    return MergeResult::KeepMerged(std::move(out));
  });
  EXPECT_EQ(MustPush(*a_).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(merged_file_id, f1);  // the resolver really saw the local hex encoding
  EXPECT_EQ(ServerText("SELECT review || ':' || file_id::text FROM business.file_reviews"),
            "merged:" + f1_uuid);
  EXPECT_EQ(a_->Text("SELECT review || ':' || lower(hex(file_id)) || ':' || lower(hex(id)) FROM "
                     "file_reviews"),
            "merged:" + f1 + ":" + rv);
  EXPECT_EQ(a_->Dirty(), 0);
  // B converges on the same bytes.
  ASSERT_TRUE(b_->client->PullToStable().has_value());
  EXPECT_EQ(b_->Text("SELECT review || ':' || lower(hex(file_id)) FROM file_reviews"),
            "merged:" + f1);
  EXPECT_EQ(b_->Text(fmt::format("SELECT lower(hex(data)) FROM files WHERE id = x'{}'", f1)),
            "bbbb");
}

// §9 48 — TestPushPending_AuthoritativeReplayRunsWithDeferredForeignKeys (FK-cycle half): a team
// and its captain reference each other (deferred FKs in the SQLite DDL); both travel in one
// bundle, commit on the server, replay locally, and a peer pulls them in one bundle.
TEST_F(PushTest, FkCycleInOneBundlePushesReplaysAndPulls) {
  Device& peer = StartedDevice();
  Device& d = StartedDevice();
  d.Exec(
      fmt::format("BEGIN; "
                  "INSERT INTO teams (id, name, captain_member_id) VALUES ('{0}', 'team', '{1}'); "
                  "INSERT INTO team_members (id, name, team_id) VALUES ('{1}', 'captain', '{0}'); "
                  "COMMIT;",
                  Uuid(70), Uuid(71)));
  EXPECT_EQ(d.Dirty(), 2);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state WHERE row_version = 1 AND table_name IN "
                  "('teams', 'team_members')"),
            2);
  EXPECT_EQ(ServerText("SELECT count(*) FROM sync.bundle_log"), "1");
  EXPECT_EQ(ServerText(fmt::format("SELECT t.name || ':' || m.name FROM business.teams t JOIN "
                                   "business.team_members m ON m.id = t.captain_member_id AND "
                                   "m.team_id = t.id WHERE t.id = '{}'",
                                   Uuid(70))),
            "team:captain");
  EXPECT_EQ(d.Text("PRAGMA foreign_key_check"), "<none>");

  // The peer applies the cycle from one pulled bundle (deferred FKs while applying).
  Result<RemoteSyncReport> pulled = peer.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(peer.Text(fmt::format("SELECT captain_member_id FROM teams WHERE id = '{}'", Uuid(70))),
            Uuid(71));
  EXPECT_EQ(peer.Text("PRAGMA foreign_key_check"), "<none>");

  // Deleting the cycle (the cascade removes the member) is one bundle too.
  d.Exec(
      fmt::format("BEGIN; UPDATE teams SET captain_member_id = NULL WHERE id = '{0}'; "
                  "DELETE FROM teams WHERE id = '{0}'; COMMIT;",
                  Uuid(70)));
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.team_members"), "0");
  EXPECT_EQ(ServerText("SELECT count(*) FROM business.teams"), "0");
  ASSERT_TRUE(peer.client->PullToStable().has_value());
  EXPECT_EQ(peer.Int("SELECT count(*) FROM teams"), 0);
  EXPECT_EQ(peer.Int("SELECT count(*) FROM team_members"), 0);
}

// §9 101 — lifecycle_test.go: TestDetach_BlocksWhenCommittedRemoteOutboxExists: a bundle the
// server committed but the client has not replayed blocks Detach (count 1) until it is replayed.
TEST_F(PushTest, DetachBlockedByCommittedRemoteOutbox) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.client->SetBeforePushReplayHook([] { return HookError(); });
  ASSERT_FALSE(d.client->PushPending().has_value());
  ASSERT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.Dirty(), 0);
  Result<PendingSyncStatus> pending = d.client->GetPendingSyncStatus();
  ASSERT_TRUE(pending.has_value()) << pending.error().ToString();
  EXPECT_TRUE(pending->blocks_detach);
  EXPECT_EQ(pending->pending_row_count, 1);
  Result<DetachResult> detached = d.client->Detach();
  ASSERT_TRUE(detached.has_value()) << detached.error().ToString();
  EXPECT_EQ(detached->outcome, DetachOutcome::kBlockedUnsyncedData);
  EXPECT_EQ(detached->pending_row_count, 1);
  EXPECT_EQ(d.client->user_id(), kUser);
  EXPECT_EQ(d.OutboxState(), "committed_remote");
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 1);

  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  detached = d.client->Detach();
  ASSERT_TRUE(detached.has_value()) << detached.error().ToString();
  EXPECT_EQ(detached->outcome, DetachOutcome::kDetached);
  EXPECT_EQ(ServerUserName(1), "a");
}

// docs/compatibility.md 48 + 56: an anonymous insert+delete (a no-op) is the only dirty row
// when the device attaches. It is not "pending" for connect (no seed lease the device could
// never fulfil: started_empty), the freeze deletes it durably (Go rolled the deletion back, so
// the row stayed dirty and blocked every pull), the push is no_change without a push session,
// and pulls work at once.
TEST_F(PushTest, AnonymousNoOpOnlyFreezeIsCommittedAndDoesNotBlockPulls) {
  Device& d = NewDevice();
  Start(d, nullptr, /*attach=*/false);
  InsertUser(d, 1, "temp");
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(d.Dirty(), 1);
  Result<AttachResult> attached = d.client->Attach(kUser);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  EXPECT_EQ(attached->outcome, AttachOutcome::kStartedEmpty);
  d.transport->ResetCounts();
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kNoChange);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 0);
  // Durable: a restart still has nothing dirty, and pulls work.
  Start(d);
  EXPECT_EQ(d.Dirty(), 0);
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  InsertUser(d, 2, "real");
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(2), "real");
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE id = '{}'", Uuid(1))),
            "0");
}

// §9 55 — TestPushPending_ConflictLeavesDirtyRowsIntact: an unstructured push_conflict is a plain
// error and the outbox stays frozen under the same bundle id.
TEST_F(PushTest, UnstructuredConflictLeavesOutboxFrozen) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 409,
                        R"({"error":"push_conflict","message":"conflict without details"})");
  Result<PushReport> failed = d.client->PushPending();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(ClientErrorKindOf(failed.error()), ClientErrorKind::kPushConflict);
  EXPECT_EQ(d.OutboxState(), "prepared");
  EXPECT_EQ(d.Int("SELECT source_bundle_id FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(d.NextBundleId(), 2);
}

// ---- real process death (fork + _exit at each durable boundary) ----

// Runs `body` in a child process that must die inside a push hook (_exit(0)); returns the exit
// code (0 = died at the hook as planned).
int RunChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// §9 42/43/47 with real crashes — the child freezes and dies (a) after the upload before commit,
// (b) after commit before replay, (c) in the middle of the replay tx; each restart converges.
TEST_F(PushTest, ForkedCrashesAtEveryDurableBoundaryConverge) {
  Device& d = NewDevice();
  Start(d);
  d.client.reset();  // the child owns the file while it runs

  enum class Point { kBeforeCommit, kBeforeReplay, kMidReplay };
  int next_user = 1;
  for (Point point : {Point::kBeforeCommit, Point::kBeforeReplay, Point::kMidReplay}) {
    const int user = next_user++;
    const int code = RunChild([&]() -> int {
      Start(d);
      if (::testing::Test::HasFatalFailure()) return 10;
      InsertUser(d, user, fmt::format("crash{}", user));
      switch (point) {
        case Point::kBeforeCommit:
          d.client->SetBeforePushCommitHook([]() -> Status { ::_exit(0); });
          break;
        case Point::kBeforeReplay:
          d.client->SetBeforePushReplayHook([]() -> Status { ::_exit(0); });
          break;
        case Point::kMidReplay:
          // Dies after the replay tx has written the business row but before it commits. The
          // replay runs on the client's own connection: the freeze hook hands it over, so the
          // function is registered there.
          d.client->SetBeforePushFreezeHook([](sqlite3* tx_db) -> Status {
            sqlite3_create_function(
                tx_db, "crash_now", 0, SQLITE_UTF8, nullptr,
                [](sqlite3_context*, int, sqlite3_value**) { ::_exit(0); }, nullptr, nullptr);
            return {};
          });
          d.Exec(
              "CREATE TRIGGER IF NOT EXISTS crash_mid_replay AFTER UPDATE ON users WHEN "
              "(SELECT apply_mode FROM _sync_apply_state) = 1 BEGIN SELECT crash_now(); END");
          break;
      }
      (void)d.client->PushPending();
      return 3;  // the hook did not fire
    });
    ASSERT_EQ(code, 0) << "crash point " << static_cast<int>(point);

    Start(d);
    d.Exec("DROP TRIGGER IF EXISTS crash_mid_replay");
    EXPECT_EQ(d.Int("SELECT apply_mode FROM _sync_apply_state"), 0);
    const std::string state = d.OutboxState();
    EXPECT_EQ(state, point == Point::kBeforeCommit ? "prepared" : "committed_remote");
    d.client->ResetPushTransferDiagnostics();
    EXPECT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
    EXPECT_EQ(d.client->GetPushTransferDiagnostics().sessions_created,
              point == Point::kBeforeCommit ? 1 : 0);
    EXPECT_EQ(d.OutboxState(), "none");
    EXPECT_EQ(d.Dirty(), 0);
    EXPECT_EQ(d.Checkpoint(), user);
    EXPECT_EQ(ServerUserName(user), fmt::format("crash{}", user));
    d.client.reset();
  }
}

}  // namespace
}  // namespace oversync::oversqlite::testing
