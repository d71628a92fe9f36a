// PullToStable, keep-source Rebuild, history_pruned fallback and source-recovery rotation
// (client.md §5, §6) end to end against the in-process reference server (label e2e; needs
// OVERSYNC_TEST_DSN). Server state is produced with server-originated writes
// (RuntimeService::ExecWrite), so these tests do not depend on the push path. Each test cites
// the client.md §9 item and the go-oversync test it mirrors.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/messages.h"
#include "oversync/server/sync_transaction.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

constexpr std::string_view kUser = "pull-user";
constexpr std::string_view kWriter = "1b3c5d7e-0000-4000-8000-00000000aaaa";

// Category/team ids: lowercase dashed UUIDs, as the server renders them.
std::string Uuid(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }

constexpr std::string_view kClientDdl = R"sql(
CREATE TABLE categories (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id) ON DELETE CASCADE
);
CREATE TABLE teams (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  captain_member_id TEXT REFERENCES team_members(id)
);
CREATE TABLE team_members (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE
);
)sql";

int ExecCallback(void* /*unused*/, int /*n*/, char** /*values*/, char** /*names*/) { return 0; }

class PullRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<TestServer>> server = TestServer::Start();
    if (!server.has_value()) {
      // Skipped only outside CI: under CI a missing database is a failure (client_fixture.h).
      if (server.error().code() == ErrorCode::kUnavailable && std::getenv("CI") == nullptr) {
        GTEST_SKIP() << server.error().ToString();
      }
      FAIL() << server.error().ToString();
    }
    server_ = std::move(*server);
    db_path_ = fmt::format("{}/pull_rebuild_{}_{}.db", ::testing::TempDir(), ::getpid(),
                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::remove(db_path_.c_str());
    std::remove((db_path_ + "-wal").c_str());
    std::remove((db_path_ + "-shm").c_str());
  }

  void TearDown() override {
    client_.reset();
    if (raw_db_ != nullptr) sqlite3_close_v2(raw_db_);
    if (!db_path_.empty()) {
      std::remove(db_path_.c_str());
      std::remove((db_path_ + "-wal").c_str());
      std::remove((db_path_ + "-shm").c_str());
    }
  }

  Config MakeConfig() {
    Config config = DefaultConfig(
        "business", {{"categories", "id", {}}, {"teams", "id", {}}, {"team_members", "id", {}}});
    RetryPolicy retry;
    retry.max_attempts = 3;
    retry.initial_backoff = Duration(1);
    retry.max_backoff = Duration(2);
    retry.jitter_fraction = 0;
    config.retry_policy = retry;
    return config;
  }

  // Creates the SQLite file with the business tables, then the client on it; Open + Attach.
  void StartClient(const std::function<void(Config&)>& tweak = nullptr) {
    ASSERT_EQ(sqlite3_open_v2(db_path_.c_str(), &raw_db_,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                              nullptr),
              SQLITE_OK);
    ExecLocal("PRAGMA foreign_keys = ON");
    ExecLocal(std::string(kClientDdl));
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    transport_ = std::make_shared<FaultTransport>(*curl);
    Config config = MakeConfig();
    if (tweak) tweak(config);
    ClientDeps deps;
    deps.transport = transport_;
    Result<std::unique_ptr<Client>> client = CreateTestClient(
        raw_db_, server_->base_url(), server_->TokenProviderFor(std::string(kUser)), config, deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    client_ = std::move(*client);
    Status opened = client_->Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    Result<AttachResult> attached = client_->Attach(kUser);
    ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
    ASSERT_EQ(attached->status, AttachStatus::kConnected);
  }

  void ExecLocal(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(raw_db_, sql.c_str(), ExecCallback, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
  }

  // Writes with apply mode on, so the triggers capture nothing (stale "authoritative" rows).
  void ExecLocalSilently(const std::string& sql) {
    ExecLocal("UPDATE _sync_apply_state SET apply_mode = 1");
    ExecLocal(sql);
    ExecLocal("UPDATE _sync_apply_state SET apply_mode = 0");
  }

  std::string LocalText(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw_db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(raw_db_);
    std::string out = "<none>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t LocalInt(const std::string& sql) { return std::stoll(LocalText(sql)); }

  // One server-originated bundle in the user's scope; returns its bundle seq.
  std::int64_t ServerWrite(const std::vector<std::string>& statements) {
    Result<ScopeWriteResult> written =
        server_->service().ExecWrite(kUser, kWriter, [&](SyncTransaction& tx) -> Status {
          for (const std::string& sql : statements) {
            Result<SqlRows> rows = tx.Exec(sql);
            if (!rows.has_value()) return rows.error();
          }
          return {};
        });
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    return written.has_value() ? written->bundle.bundle_seq : 0;
  }

  std::string InsertCategory(int id, std::string_view name, std::optional<int> parent = {}) {
    return fmt::format(
        "INSERT INTO business.categories (id, name, parent_id) VALUES ('{}', '{}', {})", Uuid(id),
        name, parent ? fmt::format("'{}'", Uuid(*parent)) : "NULL");
  }

  void PruneHistoryThrough(std::int64_t floor) {
    Status status = server_->Exec(
        fmt::format("UPDATE sync.user_state SET retained_bundle_floor = {} WHERE user_id = '{}'",
                    floor, kUser));
    ASSERT_TRUE(status.ok()) << status.ToString();
    Result<std::int64_t> pruned = server_->service().RunRetentionPass();
    ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
  }

  std::int64_t Checkpoint() {
    return LocalInt("SELECT last_bundle_seq_seen FROM _sync_attachment_state");
  }
  std::int64_t CountCategories() { return LocalInt("SELECT count(*) FROM categories"); }

  // Rewrites every forwarded answer whose path starts with `prefix`.
  void RewriteResponses(std::string prefix, std::function<void(HttpResponse&, int)> rewrite) {
    auto seen = std::make_shared<int>(0);
    transport_->SetResponseRewriter([prefix = std::move(prefix), rewrite = std::move(rewrite),
                                     seen](const HttpRequest& request, HttpResponse& response) {
      if (request.method != "GET") return;
      if (FaultTransport::PathOf(request.url).rfind(prefix, 0) != 0) return;
      rewrite(response, (*seen)++);
    });
  }

  std::vector<HttpRequest> RequestsTo(std::string_view method, std::string_view prefix) {
    std::vector<HttpRequest> out;
    for (HttpRequest& request : transport_->Requests()) {
      if (request.method == method && FaultTransport::PathOf(request.url).rfind(prefix, 0) == 0) {
        out.push_back(std::move(request));
      }
    }
    return out;
  }

  std::unique_ptr<TestServer> server_;
  std::string db_path_;
  sqlite3* raw_db_ = nullptr;
  std::shared_ptr<FaultTransport> transport_;
  std::unique_ptr<Client> client_;
};

// §9 item 65 — pull_test.go: TestPullToStable_AppliesMultipleBundlesToFrozenCeiling.
TEST_F(PullRebuildTest, MultiplePagesApplyToFrozenCeiling) {
  StartClient([](Config& c) { c.download_limit = 1; });
  ServerWrite({InsertCategory(1, "root")});
  ServerWrite({InsertCategory(2, "child", 1)});
  const std::int64_t last = ServerWrite({InsertCategory(3, "other")});
  transport_->ResetCounts();

  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->outcome, RemoteSyncOutcome::kAppliedIncremental);
  EXPECT_EQ(report->status.last_bundle_seq_seen, last);
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 3);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 0);

  const std::vector<HttpRequest> pulls = RequestsTo("GET", "/sync/pull");
  ASSERT_EQ(pulls.size(), 3U);
  EXPECT_EQ(pulls[0].url.find("target_bundle_seq"), std::string::npos);
  for (std::size_t i = 1; i < pulls.size(); ++i) {
    EXPECT_NE(pulls[i].url.find(fmt::format("target_bundle_seq={}", last)), std::string::npos)
        << pulls[i].url;
  }

  // Nothing new: already at target.
  Result<RemoteSyncReport> again = client_->PullToStable();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->outcome, RemoteSyncOutcome::kAlreadyAtTarget);
}

// §9 item 66 — pull_test.go: TestPullToStable_RejectsDirtyRows.
TEST_F(PullRebuildTest, RejectsDirtyRowsWithoutNetwork) {
  StartClient();
  ServerWrite({InsertCategory(1, "root")});
  ExecLocal(fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'local')", Uuid(9)));
  transport_->ResetCounts();

  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(ClientErrorKindOf(report.error()), ClientErrorKind::kDirtyStateRejected);
  ASSERT_NE(ClientErrorOf(report.error()), nullptr);
  EXPECT_EQ(ClientErrorOf(report.error())->dirty_count, 1);
  EXPECT_EQ(transport_->Count("", "/"), 0);
  EXPECT_EQ(Checkpoint(), 0);

  // Keep-source Rebuild refuses dirty rows too (client.md §6.2).
  Result<RemoteSyncReport> rebuilt = client_->Rebuild();
  ASSERT_FALSE(rebuilt.has_value());
  EXPECT_EQ(ClientErrorKindOf(rebuilt.error()), ClientErrorKind::kDirtyStateRejected);
  EXPECT_EQ(transport_->Count("", "/"), 0);
}

// §9 item 67 — pull_test.go: TestPullAndRebuild_RejectWhilePushOutboundReplayIsPending.
TEST_F(PullRebuildTest, PullAndRebuildRejectWhileOutboxExists) {
  StartClient();
  // A frozen outbox as the push freeze leaves it (written directly: this test is about the gate).
  ExecLocal(fmt::format(
      "INSERT INTO _sync_outbox_rows (source_bundle_id, row_ordinal, schema_name, table_name, "
      "key_json, wire_key_json, op, base_row_version, local_payload, wire_payload) VALUES "
      "(1, 0, 'business', 'categories', '{{\"id\":\"{0}\"}}', '{{\"id\":\"{0}\"}}', 'INSERT', 0, "
      "'{{\"id\":\"{0}\",\"name\":\"x\",\"parent_id\":null}}', "
      "'{{\"id\":\"{0}\",\"name\":\"x\",\"parent_id\":null}}')",
      Uuid(5)));
  ExecLocal(
      "UPDATE _sync_outbox_bundle SET state = 'prepared', source_bundle_id = 1, row_count = 1");
  transport_->ResetCounts();

  Result<RemoteSyncReport> pulled = client_->PullToStable();
  ASSERT_FALSE(pulled.has_value());
  EXPECT_EQ(ClientErrorKindOf(pulled.error()), ClientErrorKind::kPendingPushReplay);
  EXPECT_EQ(ClientErrorOf(pulled.error())->outbound_count, 1);
  Result<RemoteSyncReport> rebuilt = client_->Rebuild();
  ASSERT_FALSE(rebuilt.has_value());
  EXPECT_EQ(ClientErrorKindOf(rebuilt.error()), ClientErrorKind::kPendingPushReplay);
  EXPECT_EQ(transport_->Count("", "/"), 0);
}

// Rewrites a pull answer through the protocol codec.
void EditPull(HttpResponse& response, const std::function<void(protocol::PullResponse&)>& edit) {
  Result<protocol::PullResponse> decoded = protocol::DecodePullResponse(response.body);
  ASSERT_TRUE(decoded.has_value()) << response.body;
  edit(*decoded);
  response.body = protocol::EncodePullResponse(*decoded);
}

// Makes the payload of every row of bundle `seq` lack a column, so its apply fails.
void BreakBundle(protocol::PullResponse& page, std::int64_t seq) {
  for (protocol::Bundle& bundle : page.bundles) {
    if (bundle.bundle_seq != seq) continue;
    for (protocol::BundleRow& row : bundle.rows) {
      protocol::JsonValue payload = protocol::JsonValue::Object();
      payload.Add("id", *row.payload->Find("id"));
      row.payload = std::move(payload);
    }
  }
}

// §9 item 68 — pull_test.go: TestPullToStable_FailedBundleApplyCheckpointBehavior.
TEST_F(PullRebuildTest, FailedBundleApplyKeepsPerBundleCheckpoint) {
  StartClient();
  const std::int64_t first = ServerWrite({InsertCategory(1, "one")});
  const std::int64_t second = ServerWrite({InsertCategory(2, "two")});

  // The first bundle fails: nothing applies, checkpoint stays 0.
  RewriteResponses("/sync/pull", [&](HttpResponse& r, int) {
    EditPull(r, [&](protocol::PullResponse& p) { BreakBundle(p, first); });
  });
  ASSERT_FALSE(client_->PullToStable().has_value());
  EXPECT_EQ(Checkpoint(), 0);
  EXPECT_EQ(CountCategories(), 0);

  // The second bundle fails: the first stays applied, checkpoint = first.
  RewriteResponses("/sync/pull", [&](HttpResponse& r, int) {
    EditPull(r, [&](protocol::PullResponse& p) { BreakBundle(p, second); });
  });
  ASSERT_FALSE(client_->PullToStable().has_value());
  EXPECT_EQ(Checkpoint(), first);
  EXPECT_EQ(CountCategories(), 1);
  EXPECT_EQ(LocalInt("SELECT apply_mode FROM _sync_apply_state"), 0);

  transport_->SetResponseRewriter(nullptr);
  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Checkpoint(), second);
  EXPECT_EQ(CountCategories(), 2);
}

// §9 item 69 — pull_test.go: TestPullToStable_RejectsMalformedPullResponse,
// TestPullToStable_RejectsPullResponseMissingStableBundleSeq,
// TestPullToStable_RejectsInvalidPullResponsesAfterApplyingBundle.
TEST_F(PullRebuildTest, MalformedPullResponsesFailClosed) {
  StartClient([](Config& c) { c.download_limit = 1; });
  const std::int64_t first = ServerWrite({InsertCategory(1, "one")});
  ServerWrite({InsertCategory(2, "two")});

  RewriteResponses("/sync/pull", [](HttpResponse& r, int) { r.body = "{not json"; });
  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("failed to decode pull response"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(Checkpoint(), 0);

  RewriteResponses("/sync/pull", [](HttpResponse& r, int) {
    EditPull(r, [](protocol::PullResponse& p) { p.stable_bundle_seq = 0; });
  });
  report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("missing stable_bundle_seq"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(Checkpoint(), 0);

  // Second page moves the ceiling after the first bundle was applied.
  RewriteResponses("/sync/pull", [](HttpResponse& r, int n) {
    if (n == 1) EditPull(r, [](protocol::PullResponse& p) { p.stable_bundle_seq += 1; });
  });
  report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("stable bundle seq changed"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(Checkpoint(), first);
  EXPECT_EQ(CountCategories(), 1);

  // has_more=false before the ceiling.
  ServerWrite({InsertCategory(3, "three")});
  RewriteResponses("/sync/pull", [](HttpResponse& r, int) {
    EditPull(r, [](protocol::PullResponse& p) { p.has_more = false; });
  });
  report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("pull ended early"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(Checkpoint(), first + 1);

  // A row of another schema is refused before anything of the page applies (§5.2 quirk fixed).
  RewriteResponses("/sync/pull", [](HttpResponse& r, int) {
    EditPull(r, [](protocol::PullResponse& p) {
      for (auto& b : p.bundles) {
        for (auto& row : b.rows) row.schema = "other";
      }
    });
  });
  report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("does not match client schema"), std::string::npos)
      << report.error().ToString();
  EXPECT_EQ(Checkpoint(), first + 1);
}

// §9 item 70 — pull_test.go: TestPullToStable_RetriesTransientFailureAndSucceeds,
// TestPullToStable_RetryExhaustionReturnsTypedError; retry_end_to_end_test.go.
TEST_F(PullRebuildTest, RetriesTransientFailuresAndNamesPullRequestOnExhaustion) {
  StartClient();
  const std::int64_t seq = ServerWrite({InsertCategory(1, "one")});

  transport_->FailNext("GET", "/sync/pull", 1, FaultKind::kTransportErrorBefore);
  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Checkpoint(), seq);

  ServerWrite({InsertCategory(2, "two")});
  transport_->ResetCounts();
  transport_->FailNext("GET", "/sync/pull", 3, FaultKind::kHttpStatus, 503);
  report = client_->PullToStable();
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(ClientErrorKindOf(report.error()), ClientErrorKind::kRetryExhausted)
      << report.error().ToString();
  ASSERT_NE(ClientErrorOf(report.error()), nullptr);
  EXPECT_EQ(ClientErrorOf(report.error())->operation, "pull_request");
  EXPECT_EQ(ClientErrorOf(report.error())->attempts, 3);
  EXPECT_EQ(transport_->Count("GET", "/sync/pull"), 3);
  EXPECT_EQ(Checkpoint(), seq);
}

// §9 item 71 — pull_test.go: TestPullToStable_HistoryPrunedFallsBackToSnapshot; e2e
// TestEndToEnd_PullRetryPruneFallbackAndRebuild.
TEST_F(PullRebuildTest, HistoryPrunedFallsBackToSnapshot) {
  StartClient();
  ServerWrite({InsertCategory(1, "one")});
  ServerWrite({InsertCategory(2, "two", 1)});
  const std::int64_t last = ServerWrite({InsertCategory(3, "three")});
  PruneHistoryThrough(last - 1);
  // A stale local row the snapshot must replace.
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'stale')", Uuid(77)));

  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  ASSERT_TRUE(report->restore.has_value());
  EXPECT_EQ(report->restore->bundle_seq, last);
  EXPECT_EQ(report->restore->row_count, 3);
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 3);
  EXPECT_EQ(LocalText(fmt::format("SELECT name FROM categories WHERE id = '{}'", Uuid(77))),
            "<none>");
  EXPECT_EQ(LocalInt("SELECT rebuild_required FROM _sync_attachment_state"), 0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_snapshot_stage"), 0);
  EXPECT_EQ(client_->GetSnapshotTransferDiagnostics().sessions_created, 1);
  // The session was released.
  EXPECT_EQ(RequestsTo("DELETE", "/sync/snapshot-sessions/").size(), 1U);
}

// §9 item 72 — end_to_end_test.go: TestEndToEnd_RebuildKeepSourcePullAndServerCascadeOnCategories.
TEST_F(PullRebuildTest, ServerCascadeDeletesArriveAsBundleRows) {
  StartClient();
  ServerWrite({InsertCategory(1, "root"), InsertCategory(2, "child", 1),
               InsertCategory(3, "grandchild", 2)});
  ASSERT_TRUE(client_->Rebuild().has_value());
  EXPECT_EQ(CountCategories(), 3);

  ServerWrite({fmt::format("DELETE FROM business.categories WHERE id = '{}'", Uuid(1))});
  Result<RemoteSyncReport> report = client_->PullToStable();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->outcome, RemoteSyncOutcome::kAppliedIncremental);
  EXPECT_EQ(CountCategories(), 0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_row_state WHERE deleted = 1"), 3);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 0);
}

// §9 items 73, 74, 75 — pull_test.go: TestRebuildKeepSource_RebuildsFromSnapshotWithDeferredFKs,
// TestRebuildKeepSource_DeferredFKRowsApplyAcrossChunkBoundaries,
// TestRebuild_KeepsManagedSourceAndBundleStateOutsideSourceRecovery,
// TestRebuildKeepSource_MultiChunkDownloadStagesRowsBeforeFinalApply.
TEST_F(PullRebuildTest, KeepSourceRebuildAcrossChunksWithDeferredForeignKeys) {
  StartClient([](Config& c) { c.snapshot_chunk_rows = 1; });
  // Children created before parents within a bundle, a self-reference chain and an FK cycle.
  const std::int64_t last = ServerWrite({
      InsertCategory(1, "root"),
      InsertCategory(2, "child", 1),
      InsertCategory(3, "grandchild", 2),
      fmt::format("INSERT INTO business.teams (id, name, captain_member_id) VALUES ('{}', 't', "
                  "'{}')",
                  Uuid(10), Uuid(11)),
      fmt::format("INSERT INTO business.team_members (id, name, team_id) VALUES ('{}', 'm', '{}')",
                  Uuid(11), Uuid(10)),
  });
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'stale')", Uuid(50)));
  ExecLocal(fmt::format(
      "INSERT INTO _sync_row_state (schema_name, table_name, key_json, row_version, deleted) "
      "VALUES ('business', 'categories', '{{\"id\":\"{}\"}}', 9, 0)",
      Uuid(50)));
  const std::string source_before = client_->source_id();
  const std::int64_t next_bundle_before = LocalInt(
      fmt::format("SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = '{}'",
                  source_before));
  client_->ResetSnapshotTransferDiagnostics();

  Result<RemoteSyncReport> report = client_->Rebuild();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  ASSERT_TRUE(report->restore.has_value());
  EXPECT_EQ(report->restore->bundle_seq, last);
  EXPECT_EQ(report->restore->row_count, 5);
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 3);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM teams"), 1);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM team_members"), 1);
  EXPECT_EQ(LocalText(fmt::format("SELECT captain_member_id FROM teams WHERE id = '{}'", Uuid(10))),
            Uuid(11));
  EXPECT_EQ(LocalText(fmt::format("SELECT parent_id FROM categories WHERE id = '{}'", Uuid(3))),
            Uuid(2));
  EXPECT_EQ(LocalText(fmt::format("SELECT name FROM categories WHERE id = '{}'", Uuid(50))),
            "<none>");
  EXPECT_EQ(LocalInt(fmt::format("SELECT count(*) FROM _sync_row_state WHERE key_json LIKE '%{}%'",
                                 Uuid(50))),
            0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_row_state"), 5);
  EXPECT_EQ(LocalText("PRAGMA foreign_key_check"), "<none>");
  // One chunk per row (+ the empty tail is not needed: the last chunk says has_more=false).
  const SnapshotTransferDiagnostics diagnostics = client_->GetSnapshotTransferDiagnostics();
  EXPECT_EQ(diagnostics.sessions_created, 1);
  EXPECT_GE(diagnostics.chunks_fetched, 5);
  // Keep-source: identity and bundle counter unchanged (§9 item 74).
  EXPECT_EQ(client_->source_id(), source_before);
  EXPECT_EQ(LocalText("SELECT current_source_id FROM _sync_attachment_state"), source_before);
  EXPECT_EQ(LocalInt(fmt::format(
                "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = '{}'",
                source_before)),
            next_bundle_before);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_snapshot_stage"), 0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 0);
  // Snapshot session create had no body (keep source).
  const std::vector<HttpRequest> creates = RequestsTo("POST", "/sync/snapshot-sessions");
  ASSERT_EQ(creates.size(), 1U);
  EXPECT_TRUE(creates[0].body.empty()) << creates[0].body;
}

// §9 items 75, 76 — pull_test.go: TestRebuildKeepSource_ClearsStaleSnapshotStageBeforeNewAttempt,
// TestRebuildKeepSource_PartialDownloadRestartClearsStageAndStartsFromZero; e2e
// TestEndToEnd_RebuildRetryClearsStaleStageAndStartsNewSession. §9 item 81 —
// TestRebuildRequired_NormalSyncRejectsUntilRebuildClearsIt.
TEST_F(PullRebuildTest, PartialDownloadKeepsTablesAndRestartsFromZero) {
  StartClient([](Config& c) { c.snapshot_chunk_rows = 1; });
  const std::int64_t last =
      ServerWrite({InsertCategory(1, "one"), InsertCategory(2, "two"), InsertCategory(3, "three")});
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'stale')", Uuid(60)));
  ExecLocal(
      "INSERT INTO _sync_snapshot_stage VALUES ('old-snapshot', 1, 'business', 'categories', "
      "'{\"id\":\"x\"}', 1, '{}')");

  // Row 1 is staged, then the second chunk fails for good.
  transport_->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (request.method == "GET" &&
        FaultTransport::PathOf(request.url).rfind("/sync/snapshot-sessions/", 0) == 0 &&
        request.url.find("after_row_ordinal=1") != std::string::npos) {
      response.status = 503;
      response.body = R"({"error":"service_unavailable","message":"injected"})";
    }
  });
  Result<RemoteSyncReport> failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kRetryExhausted)
      << failed.error().ToString();
  EXPECT_EQ(ClientErrorOf(failed.error())->operation, "snapshot_chunk_fetch");
  EXPECT_EQ(
      LocalInt("SELECT count(*) FROM _sync_snapshot_stage WHERE snapshot_id = 'old-snapshot'"), 0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_snapshot_stage"), 1);
  EXPECT_EQ(LocalInt("SELECT max(row_ordinal) FROM _sync_snapshot_stage"), 1);
  EXPECT_EQ(CountCategories(), 1);  // only the stale row: business tables untouched
  EXPECT_EQ(Checkpoint(), 0);
  EXPECT_EQ(LocalInt("SELECT rebuild_required FROM _sync_attachment_state"), 1);
  EXPECT_EQ(RequestsTo("DELETE", "/sync/snapshot-sessions/").size(), 1U);

  // rebuild_required blocks pull without network (§9 item 81) in profile A; profile B resumes the
  // gate from the pull instead (docs/compatibility.md 82, kmp_pull_snapshot_behavior_test).
  transport_->ResetCounts();
  if (!TestSpeaksProfileB()) {
    Result<RemoteSyncReport> blocked = client_->PullToStable();
    ASSERT_FALSE(blocked.has_value());
    EXPECT_EQ(ClientErrorKindOf(blocked.error()), ClientErrorKind::kRebuildRequired);
    EXPECT_EQ(transport_->Count("", "/"), 0);
  }

  transport_->SetResponseRewriter(nullptr);
  Result<RemoteSyncReport> report = client_->Rebuild();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 3);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_snapshot_stage"), 0);
  const std::vector<HttpRequest> creates = RequestsTo("POST", "/sync/snapshot-sessions");
  ASSERT_EQ(creates.size(), 1U);  // a new session
  const std::vector<HttpRequest> chunks = RequestsTo("GET", "/sync/snapshot-sessions/");
  ASSERT_FALSE(chunks.empty());
  EXPECT_NE(chunks[0].url.find("after_row_ordinal=0"), std::string::npos) << chunks[0].url;
  ASSERT_TRUE(client_->PullToStable().has_value());
}

// §9 item 77 — pull_test.go: TestRebuildKeepSource_SnapshotSessionExpiredRetryRestoresData,
// TestRebuildKeepSource_SnapshotSessionNotFoundRetryRestoresData.
TEST_F(PullRebuildTest, ExpiredOrMissingSnapshotSessionFailsThenRetrySucceeds) {
  StartClient();
  const std::int64_t last = ServerWrite({InsertCategory(1, "one"), InsertCategory(2, "two")});
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'stale')", Uuid(61)));

  const struct {
    int status;
    const char* body;
    ErrorCode code;
  } cases[] = {
      {410, R"({"error":"snapshot_session_expired","message":"expired"})",
       ErrorCode::kSnapshotSessionExpired},
      {404, R"({"error":"snapshot_session_not_found","message":"gone"})",
       ErrorCode::kSnapshotSessionNotFound},
  };
  for (const auto& c : cases) {
    transport_->FailNext("GET", "/sync/snapshot-sessions/", 1, FaultKind::kHttpStatus, c.status,
                         c.body);
    Result<RemoteSyncReport> failed = client_->Rebuild();
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code(), c.code) << failed.error().ToString();
    EXPECT_EQ(CountCategories(), 1);
    EXPECT_EQ(Checkpoint(), 0);
  }
  Result<RemoteSyncReport> report = client_->Rebuild();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 2);
}

// §9 items 78, 79 — pull_test.go: TestRebuildKeepSource_RejectsMalformedSnapshotResponse,
// TestRebuildKeepSource_RejectsSnapshotResponseMissingBundleSeq,
// TestRebuildKeepSource_CheckpointUnchangedOnFailedFinalApply.
TEST_F(PullRebuildTest, MalformedSnapshotAndFailedFinalApplyFailClosed) {
  StartClient();
  const std::int64_t last = ServerWrite({InsertCategory(1, "one"), InsertCategory(2, "two")});
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'stale')", Uuid(62)));
  const std::string source_before = client_->source_id();

  RewriteResponses("/sync/snapshot-sessions/", [](HttpResponse& r, int) { r.body = "{"; });
  Result<RemoteSyncReport> failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("failed to decode snapshot chunk response"),
            std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(CountCategories(), 1);
  EXPECT_EQ(Checkpoint(), 0);

  // Session without snapshot_bundle_seq for a non-empty row set.
  transport_->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (request.method == "POST" &&
        FaultTransport::PathOf(request.url) == "/sync/snapshot-sessions") {
      Result<protocol::SnapshotSession> s = protocol::DecodeSnapshotSession(response.body);
      if (!s.has_value()) return;
      s->snapshot_bundle_seq = 0;
      response.body = protocol::EncodeSnapshotSession(*s);
    }
  });
  failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("snapshot_bundle_seq"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(CountCategories(), 1);
  EXPECT_EQ(Checkpoint(), 0);

  // The final apply fails (row count mismatch): everything rolls back, the stage remains.
  transport_->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (request.method == "POST" &&
        FaultTransport::PathOf(request.url) == "/sync/snapshot-sessions") {
      Result<protocol::SnapshotSession> s = protocol::DecodeSnapshotSession(response.body);
      if (!s.has_value()) return;
      s->row_count += 1;
      response.body = protocol::EncodeSnapshotSession(*s);
    }
  });
  failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("does not match expected row_count"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(CountCategories(), 1);
  EXPECT_EQ(Checkpoint(), 0);
  EXPECT_EQ(client_->source_id(), source_before);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_snapshot_stage"), 2);
  EXPECT_EQ(LocalInt("SELECT rebuild_required FROM _sync_attachment_state"), 1);
  EXPECT_EQ(LocalInt("SELECT apply_mode FROM _sync_apply_state"), 0);

  transport_->SetResponseRewriter(nullptr);
  ASSERT_TRUE(client_->Rebuild().has_value());
  EXPECT_EQ(Checkpoint(), last);
  EXPECT_EQ(CountCategories(), 2);
}

// §9 item 80 — pull_test.go: TestSnapshotStageRows_AreIsolatedBySnapshotID (stale rows of another
// snapshot never leak into an apply) is covered above; this one pins the attached-state check of
// TestApplyStagedSnapshot_FailsClosedWhenAttachedStateIsMissing through the public API.
TEST_F(PullRebuildTest, RebuildRequiresAttachedState) {
  StartClient();
  ServerWrite({InsertCategory(1, "one")});
  ExecLocal("UPDATE _sync_attachment_state SET binding_state = 'anonymous', attached_user_id = ''");
  Result<RemoteSyncReport> failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kAttachRequired)
      << failed.error().ToString();
  EXPECT_EQ(CountCategories(), 0);
}

// §9 items 82, 86 — push_test.go:
// TestPushPending_CreateHistoryPrunedRequiresSourceRecoveryAndRotatePreservesOutbox,
// pull_test.go: TestRebuildRotateSource_ReusesDurableReplacementSourceAcrossRetry,
// TestRebuildRotateSource_SourceIDDoesNotRotateOnFailedFinalApply. Also the §6.3 dirty-row
// deadlock fix (a dirty row captured after the freeze survives the rotation).
TEST_F(PullRebuildTest, SourceRecoveryRotationPreservesOutboxAndReusesReplacement) {
  StartClient();
  const std::int64_t last = ServerWrite({InsertCategory(1, "server")});
  ASSERT_TRUE(client_->PullToStable().has_value());
  const std::string old_source = client_->source_id();
  const std::string replacement = "5e1f0c2a-7b3d-4c8e-9f10-123456789abc";

  // A frozen outbox (bundle 3 of the old source), the business row it inserted, and a later
  // edit captured as a dirty row before recovery started.
  const std::string outbox_key = fmt::format("{{\"id\":\"{}\"}}", Uuid(20));
  const std::string outbox_payload =
      fmt::format("{{\"id\":\"{}\",\"name\":\"pending\",\"parent_id\":null}}", Uuid(20));
  ExecLocalSilently(
      fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'pending')", Uuid(20)));
  ExecLocal(fmt::format(
      "INSERT INTO _sync_outbox_rows (source_bundle_id, row_ordinal, schema_name, table_name, "
      "key_json, wire_key_json, op, base_row_version, local_payload, wire_payload) VALUES "
      "(3, 0, 'business', 'categories', '{0}', '{0}', 'INSERT', 0, '{1}', '{1}')",
      outbox_key, outbox_payload));
  // Profile B sends the frozen bundle's canonical_request_hash (protocol-b.md §4.2), which the
  // freeze would have computed; the test computes it the same way.
  std::string request_hash;
  if (TestWireProfile() == "jcs_uniform_numeric_strings_v1") {
    protocol::CanonicalRequestHasher hasher;
    Result<protocol::JsonValue> key = protocol::ParseJson(outbox_key);
    Result<protocol::JsonValue> payload = protocol::ParseJson(outbox_payload);
    ASSERT_TRUE(key.has_value() && payload.has_value());
    ASSERT_TRUE(hasher.AddRow("business", "categories", *key, protocol::Op::kInsert, 0, &*payload).ok());
    request_hash = hasher.Finish().hex;
  }
  ExecLocal(fmt::format(
      "UPDATE _sync_outbox_bundle SET state = 'prepared', source_id = '{}', source_bundle_id = 3, "
      "row_count = 1, canonical_request_hash = '{}'",
      old_source, request_hash));
  ExecLocal(fmt::format("UPDATE categories SET name = 'edited' WHERE id = '{}'", Uuid(1)));
  ASSERT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 1);
  ExecLocal(fmt::format(
      "INSERT INTO _sync_source_state (source_id, next_source_bundle_id) VALUES ('{}', 1)",
      replacement));
  ExecLocal("UPDATE _sync_attachment_state SET rebuild_required = 1");
  ExecLocal(fmt::format(
      "UPDATE _sync_operation_state SET kind = 'source_recovery', reason = 'history_pruned', "
      "replacement_source_id = '{}'",
      replacement));

  // Pull/rebuild gates: source recovery first, no network.
  transport_->ResetCounts();
  Result<RemoteSyncReport> blocked = client_->PullToStable();
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(ClientErrorKindOf(blocked.error()), ClientErrorKind::kSourceRecoveryRequired);
  EXPECT_EQ(ClientErrorOf(blocked.error())->source_recovery_code,
            SourceRecoveryCode::kHistoryPruned);
  EXPECT_EQ(transport_->Count("", "/"), 0);

  // A failed attempt keeps the reservation and changes nothing.
  transport_->FailNext("GET", "/sync/snapshot-sessions/", 1, FaultKind::kHttpStatus, 410,
                       R"({"error":"snapshot_session_expired","message":"expired"})");
  Result<RemoteSyncReport> failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(client_->source_id(), old_source);
  EXPECT_EQ(LocalText("SELECT replacement_source_id FROM _sync_operation_state"), replacement);
  EXPECT_EQ(LocalText("SELECT kind FROM _sync_operation_state"), "source_recovery");

  Result<RemoteSyncReport> report = client_->Rebuild();
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(Checkpoint(), last);

  // Both attempts asked for the same replacement.
  const std::vector<HttpRequest> creates = RequestsTo("POST", "/sync/snapshot-sessions");
  ASSERT_EQ(creates.size(), 2U);
  for (const HttpRequest& create : creates) {
    EXPECT_NE(create.body.find(fmt::format("\"new_source_id\":\"{}\"", replacement)),
              std::string::npos)
        << create.body;
    EXPECT_NE(create.body.find(fmt::format("\"previous_source_id\":\"{}\"", old_source)),
              std::string::npos)
        << create.body;
    EXPECT_NE(create.body.find("\"reason\":\"history_pruned\""), std::string::npos) << create.body;
  }

  // Rotation bookkeeping.
  EXPECT_EQ(client_->source_id(), replacement);
  EXPECT_EQ(LocalText("SELECT current_source_id FROM _sync_attachment_state"), replacement);
  EXPECT_EQ(LocalText(fmt::format(
                "SELECT replaced_by_source_id FROM _sync_source_state WHERE source_id = '{}'",
                old_source)),
            replacement);
  EXPECT_EQ(LocalText("SELECT kind FROM _sync_operation_state"), "none");
  EXPECT_EQ(LocalText("SELECT replacement_source_id FROM _sync_operation_state"), "");
  EXPECT_EQ(LocalInt("SELECT rebuild_required FROM _sync_attachment_state"), 0);
  // The outbox is preserved, re-targeted to bundle 1 of the new source.
  EXPECT_EQ(LocalText("SELECT state FROM _sync_outbox_bundle"), "prepared");
  EXPECT_EQ(LocalText("SELECT source_id FROM _sync_outbox_bundle"), replacement);
  EXPECT_EQ(LocalInt("SELECT source_bundle_id FROM _sync_outbox_bundle"), 1);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_outbox_rows WHERE source_bundle_id = 1"), 1);
  // Its intent stays visible.
  EXPECT_EQ(LocalText(fmt::format("SELECT name FROM categories WHERE id = '{}'", Uuid(20))),
            "pending");
  // The dirty edit captured after the freeze survives, rebased on the snapshot's version.
  EXPECT_EQ(LocalText(fmt::format("SELECT name FROM categories WHERE id = '{}'", Uuid(1))),
            "edited");
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 1);
  EXPECT_EQ(LocalText("SELECT op FROM _sync_dirty_rows"), "UPDATE");
  EXPECT_EQ(LocalInt("SELECT base_row_version FROM _sync_dirty_rows"),
            LocalInt(fmt::format("SELECT row_version FROM _sync_row_state WHERE key_json = "
                                 "'{{\"id\":\"{}\"}}'",
                                 Uuid(1))));

  // §9 item 82 tail: the next push sends the preserved outbox as bundle 1 of the new source,
  // then the rebased edit; the server ends up with both.
  Result<PushReport> pushed = client_->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
  const std::vector<HttpRequest> sessions = RequestsTo("POST", "/sync/push-sessions");
  ASSERT_FALSE(sessions.empty());
  EXPECT_NE(sessions[0].body.find("\"source_bundle_id\":1"), std::string::npos) << sessions[0].body;
  pushed = client_->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_dirty_rows"), 0);
  EXPECT_EQ(LocalInt("SELECT count(*) FROM _sync_outbox_rows"), 0);
  Result<std::string> server_name = server_->QueryScalar(
      fmt::format("SELECT name FROM business.categories WHERE id = '{}'", Uuid(20)));
  ASSERT_TRUE(server_name.has_value()) << server_name.error().ToString();
  EXPECT_EQ(*server_name, "pending");
  server_name = server_->QueryScalar(
      fmt::format("SELECT name FROM business.categories WHERE id = '{}'", Uuid(1)));
  ASSERT_TRUE(server_name.has_value()) << server_name.error().ToString();
  EXPECT_EQ(*server_name, "edited");
}

// §9 item 85 (rebuild side) — the server retired the old source in favour of another
// replacement: the rotation fails closed with SourceReplacementDiverged.
TEST_F(PullRebuildTest, RotationAgainstRetiredSourceDiverges) {
  StartClient();
  ServerWrite({InsertCategory(1, "server")});
  const std::string replacement = "5e1f0c2a-7b3d-4c8e-9f10-123456789abd";
  ExecLocal(fmt::format(
      "INSERT INTO _sync_source_state (source_id, next_source_bundle_id) VALUES ('{}', 1)",
      replacement));
  ExecLocal("UPDATE _sync_attachment_state SET rebuild_required = 1");
  ExecLocal(fmt::format(
      "UPDATE _sync_operation_state SET kind = 'source_recovery', reason = 'source_retired', "
      "replacement_source_id = '{}'",
      replacement));
  transport_->FailNext(
      "POST", "/sync/snapshot-sessions", 1, FaultKind::kHttpStatus, 409,
      R"({"error":"source_retired","message":"retired","source_id":"x","replaced_by_source_id":"other-replacement"})");
  Result<RemoteSyncReport> failed = client_->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(ClientErrorKindOf(failed.error()), ClientErrorKind::kSourceReplacementDiverged)
      << failed.error().ToString();
  EXPECT_EQ(ClientErrorOf(failed.error())->local_replacement, replacement);
  EXPECT_EQ(ClientErrorOf(failed.error())->remote_replacement, "other-replacement");
  EXPECT_EQ(LocalText("SELECT kind FROM _sync_operation_state"), "source_recovery");
}

// §9 items 83, 85 — push_test.go:
// TestPushPending_CreateSourceSequenceOutOfOrderPersistsSourceRecoveryAcrossRestart,
// TestPushPending_CreateSourceRetiredReplacementDivergenceFailsClosed: EnterSourceRecovery through
// the push path, reservation reuse, divergence rolling the whole entry back, and the rotation exit.
TEST_F(PullRebuildTest, PushEntersSourceRecoveryAndRebuildRotates) {
  StartClient();
  ServerWrite({InsertCategory(1, "server")});
  ASSERT_TRUE(client_->PullToStable().has_value());
  const std::string old_source = client_->source_id();
  ExecLocal(fmt::format("INSERT INTO categories (id, name) VALUES ('{}', 'mine')", Uuid(30)));

  transport_->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 409,
                       R"({"error":"source_sequence_out_of_order","message":"gap"})");
  Result<PushReport> pushed = client_->PushPending();
  ASSERT_FALSE(pushed.has_value());
  EXPECT_EQ(ClientErrorKindOf(pushed.error()), ClientErrorKind::kSourceRecoveryRequired)
      << pushed.error().ToString();
  EXPECT_EQ(ClientErrorOf(pushed.error())->source_recovery_code,
            SourceRecoveryCode::kSourceSequenceOutOfOrder);
  EXPECT_EQ(ClientErrorOf(pushed.error())->reason, "gap");
  const std::string reserved = LocalText("SELECT replacement_source_id FROM _sync_operation_state");
  EXPECT_NE(reserved, "");
  EXPECT_NE(reserved, old_source);
  EXPECT_EQ(
      LocalInt(fmt::format(
          "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = '{}'", reserved)),
      1);
  EXPECT_EQ(LocalInt("SELECT rebuild_required FROM _sync_attachment_state"), 1);
  EXPECT_EQ(LocalText("SELECT state FROM _sync_outbox_bundle"), "prepared");

  // The gate: persisted code, empty server message, no network.
  transport_->ResetCounts();
  Result<RemoteSyncReport> pulled = client_->PullToStable();
  ASSERT_FALSE(pulled.has_value());
  EXPECT_EQ(ClientErrorKindOf(pulled.error()), ClientErrorKind::kSourceRecoveryRequired);
  EXPECT_EQ(ClientErrorOf(pulled.error())->source_recovery_code,
            SourceRecoveryCode::kSourceSequenceOutOfOrder);
  EXPECT_EQ(ClientErrorOf(pulled.error())->reason, "");
  EXPECT_EQ(transport_->Count("", "/"), 0);

  Result<RemoteSyncReport> rebuilt = client_->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(client_->source_id(), reserved);
  EXPECT_EQ(LocalText(fmt::format("SELECT name FROM categories WHERE id = '{}'", Uuid(30))),
            "mine");
  pushed = client_->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
  Result<std::string> server_name = server_->QueryScalar(
      fmt::format("SELECT name FROM business.categories WHERE id = '{}'", Uuid(30)));
  ASSERT_TRUE(server_name.has_value()) << server_name.error().ToString();
  EXPECT_EQ(*server_name, "mine");
}

}  // namespace
}  // namespace oversync::oversqlite::testing
