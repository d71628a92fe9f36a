// Installation, lifecycle (Open/Attach/Detach/user switch/uninstall), result contracts,
// background loops and the bundle-change watch (client.md §1, §2, §7, §8) end to end against
// the in-process reference server (label e2e; needs OVERSYNC_TEST_DSN). Each test cites the
// client.md §9 item and the go-oversync test it mirrors.
//
// Asynchronous effects of the background loops are awaited on a condition variable that the
// test's transport and logger decorators signal (EventLog), never with sleeps.
#include <sqlite3.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "oversync/common/logger.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "test_events.h"
#include "oversync/server/sync_transaction.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using std::chrono::seconds;

constexpr std::string_view kUserA = "lifecycle-user-a";
constexpr std::string_view kUserB = "lifecycle-user-b";
constexpr std::string_view kWriter = "2c4e6a8b-0000-4000-8000-00000000bbbb";

std::string Uuid(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }

constexpr std::string_view kUsersDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at TEXT,
  updated_at TEXT
);
)sql";


class CapturingLogger final : public Logger {
 public:
  explicit CapturingLogger(std::shared_ptr<EventLog> events) : events_(std::move(events)) {}
  void Log(LogLevel /*level*/, std::string_view /*component*/, std::string_view message) override {
    {
      std::lock_guard lock(mu_);
      lines_.emplace_back(message);
    }
    events_->Notify();
  }
  bool Contains(std::string_view needle) const {
    std::lock_guard lock(mu_);
    for (const std::string& line : lines_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<EventLog> events_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// One app install: its SQLite file, a side connection for assertions, and its client.
struct Device {
  std::string path;
  sqlite3* raw = nullptr;  // side connection (the client owns its own handle)
  std::shared_ptr<FaultTransport> transport;
  std::shared_ptr<CapturingLogger> logger;
  std::shared_ptr<std::string> token_user;
  std::shared_ptr<std::mutex> token_mu;
  std::unique_ptr<Client> client;
};

class LifecycleTest : public ::testing::Test {
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
    events_ = std::make_shared<EventLog>();
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    curl_ = std::make_shared<NotifyingTransport>(*curl, events_);
  }

  void TearDown() override {
    for (auto& device : devices_) {
      if (device->client) device->client->StopBackground();
      device->client.reset();
      if (device->raw != nullptr) sqlite3_close_v2(device->raw);
      for (const char* suffix : {"", "-wal", "-shm"}) std::remove((device->path + suffix).c_str());
    }
  }

  static Config MakeConfig(std::vector<SyncTable> tables = {{"users", "id", {}}}) {
    Config config = DefaultConfig("business", std::move(tables));
    RetryPolicy retry;
    retry.max_attempts = 3;
    retry.initial_backoff = Duration(1);
    retry.max_backoff = Duration(2);
    retry.jitter_fraction = 0;
    config.retry_policy = retry;
    config.backoff_min = Duration(20);
    config.backoff_max = Duration(200);
    return config;
  }

  // A new database file with `ddl` applied (no client yet).
  Device& NewDevice(std::string_view user, std::string_view ddl = kUsersDdl) {
    auto device = std::make_unique<Device>();
    device->path = fmt::format("{}/lifecycle_{}_{}_{}.db", ::testing::TempDir(), ::getpid(),
                               ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                               devices_.size());
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((device->path + suffix).c_str());
    EXPECT_EQ(sqlite3_open_v2(device->path.c_str(), &device->raw,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                              nullptr),
              SQLITE_OK);
    sqlite3_busy_timeout(device->raw, 5000);
    device->transport = std::make_shared<FaultTransport>(curl_);
    device->logger = std::make_shared<CapturingLogger>(events_);
    device->token_user = std::make_shared<std::string>(user);
    device->token_mu = std::make_shared<std::mutex>();
    devices_.push_back(std::move(device));
    Device& ref = *devices_.back();
    Exec(ref, "PRAGMA foreign_keys = ON");
    if (!ddl.empty()) Exec(ref, std::string(ddl));
    return ref;
  }

  Result<std::unique_ptr<Client>> MakeClient(Device& device, Config config) {
    ClientDeps deps;
    deps.transport = device.transport;
    deps.logger = device.logger;
    const TestServer* server = server_.get();
    TokenProvider tokens = [server, user = device.token_user, mu = device.token_mu]() {
      std::lock_guard lock(*mu);
      return server->TokenFor(*user);
    };
    return CreateTestClientForPath(device.path, server_->base_url(), std::move(tokens),
                                 std::move(config), deps);
  }

  Client& StartClient(Device& device, Config config = MakeConfig()) {
    Result<std::unique_ptr<Client>> client = MakeClient(device, std::move(config));
    EXPECT_TRUE(client.has_value()) << client.error().ToString();
    device.client = client.has_value() ? std::move(*client) : nullptr;
    return *device.client;
  }

  void Restart(Device& device, Config config = MakeConfig()) {
    device.client.reset();
    StartClient(device, std::move(config));
  }

  static void SetTokenUser(Device& device, std::string_view user) {
    std::lock_guard lock(*device.token_mu);
    *device.token_user = std::string(user);
  }

  static void OpenOk(Client& client) {
    Status opened = client.Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }

  static AttachResult AttachOk(Client& client, std::string_view user) {
    Result<AttachResult> attached = client.Attach(user);
    EXPECT_TRUE(attached.has_value()) << attached.error().ToString();
    return attached.has_value() ? *attached : AttachResult{};
  }

  static void Exec(Device& device, const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(device.raw, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
  }

  static int ExecRc(Device& device, const std::string& sql, std::string* message = nullptr) {
    char* error = nullptr;
    const int rc = sqlite3_exec(device.raw, sql.c_str(), nullptr, nullptr, &error);
    if (message != nullptr) *message = error != nullptr ? error : "";
    sqlite3_free(error);
    return rc;
  }

  static std::string Text(Device& device, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out = "<none>";
    if (sqlite3_prepare_v2(device.raw, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(device.raw);
      return out;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  static std::int64_t Int(Device& device, const std::string& sql) {
    return std::stoll(Text(device, sql));
  }

  static void InsertUser(Device& device, int n, std::string_view name = "Ada") {
    Exec(device, fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', '{}', '{}@example.com')",
                             Uuid(n), name, name));
  }
  // An attached client of `d` with the watch on (fallback 10 min, so only events explain a pull)
  // and uploads paused; background not started.
  Client& AttachWatching(Device& d) {
    Config config = MakeConfig();
    config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
    config.watch_fallback_interval = Duration(600'000);
    Client& client = StartClient(d, config);
    OpenOk(client);
    AttachOk(client, kUserA);
    client.PauseUploads();
    return client;
  }
  // AttachWatching, then the background loops started and the first watch request seen.
  Client& StartWatching(Device& d) {
    Client& client = AttachWatching(d);
    EXPECT_TRUE(client.StartBackground().ok());
    EXPECT_TRUE(events_->WaitFor([&] { return d.transport->Count("GET", "/sync/watch") >= 1; }));
    return client;
  }

  static std::int64_t CountUsers(Device& device) { return Int(device, "SELECT count(*) FROM users"); }
  static std::int64_t DirtyRows(Device& device) {
    return Int(device, "SELECT count(*) FROM _sync_dirty_rows");
  }

  // One server-originated bundle in `user`'s scope (initializes an uninitialized scope).
  std::int64_t ServerInsertUser(std::string_view user, int n, std::string_view name = "Remote") {
    Result<ScopeWriteResult> written = server_->service().ExecWrite(
        user, kWriter, [&](SyncTransaction& tx) -> Status {
          Result<SqlRows> rows = tx.Exec(fmt::format(
              "INSERT INTO business.users (id, name, email) VALUES ('{}', '{}', '{}@example.com')",
              Uuid(n), name, name));
          return rows.has_value() ? Status() : rows.error();
        });
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    return written.has_value() ? written->bundle.bundle_seq : 0;
  }

  std::unique_ptr<TestServer> server_;
  std::shared_ptr<EventLog> events_;
  std::shared_ptr<Transport> curl_;
  std::vector<std::unique_ptr<Device>> devices_;
};

ClientErrorKind KindOf(const Status& status) { return ClientErrorKindOf(status); }
template <typename T>
ClientErrorKind KindOf(const Result<T>& result) {
  return result.has_value() ? ClientErrorKind::kNone : ClientErrorKindOf(result.error());
}

// =====================================================================================
// Installation, configuration, ownership (§9 items 1-14)
// =====================================================================================

// §9 item 1 — client_test.go: TestInitializeDatabase.
TEST_F(LifecycleTest, InitializesMetadataTablesWalAndForeignKeys) {
  Device& d = NewDevice(kUserA);
  StartClient(d);
  for (std::string_view table :
       {"_sync_source_state", "_sync_attachment_state", "_sync_operation_state",
        "_sync_apply_state", "_sync_row_state", "_sync_dirty_rows", "_sync_snapshot_stage",
        "_sync_outbox_bundle", "_sync_outbox_rows", "_sync_push_stage", "_sync_managed_tables"}) {
    EXPECT_EQ(Int(d, fmt::format("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='{}'",
                                 table)),
              1)
        << table;
  }
  EXPECT_EQ(Text(d, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(Text(d, "SELECT kind FROM _sync_operation_state"), "none");
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_managed_tables WHERE table_name='users'"), 1);
}

// §9 item 2 — client_test.go: TestInitializeDatabase_ResetsStuckApplyModeAfterCrash.
TEST_F(LifecycleTest, ResetsStuckApplyModeAtInit) {
  Device& d = NewDevice(kUserA);
  StartClient(d);
  d.client.reset();
  Exec(d, "UPDATE _sync_apply_state SET apply_mode = 1");
  StartClient(d);
  EXPECT_EQ(Int(d, "SELECT apply_mode FROM _sync_apply_state"), 0);
}

// §9 item 3 — client_test.go: TestInitializeDatabase_PreservesUnknownSyncPrefixedTables.
TEST_F(LifecycleTest, PreservesUnknownSyncPrefixedTables) {
  Device& d = NewDevice(kUserA);
  Exec(d, "CREATE TABLE _sync_custom (v TEXT); INSERT INTO _sync_custom VALUES ('keep')");
  StartClient(d);
  EXPECT_EQ(Text(d, "SELECT v FROM _sync_custom"), "keep");
}

// §9 item 4 — client_test.go: TestNewClient_RejectsUnsupportedIntegerSyncKeyColumn,
// custom_pk_test.go: TestNewClient_RejectsInvalidSyncKeyColumnDefinitions.
TEST_F(LifecycleTest, RejectsIntegerAndMissingKeyColumns) {
  Device& d = NewDevice(kUserA, "CREATE TABLE counters (id INTEGER PRIMARY KEY, v TEXT)");
  EXPECT_FALSE(MakeClient(d, MakeConfig({{"counters", "id", {}}})).has_value());
  Device& e = NewDevice(kUserA, "CREATE TABLE docs (doc_id TEXT PRIMARY KEY NOT NULL, v TEXT)");
  Result<std::unique_ptr<Client>> missing = MakeClient(e, MakeConfig({{"docs", "nope", {}}}));
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("nope"), std::string::npos) << missing.error().ToString();
}

// §9 item 5 — custom_pk_test.go: TestNewClient_RequiresExplicitPrimaryKeyConfig.
TEST_F(LifecycleTest, RequiresExplicitKeyColumn) {
  Device& d = NewDevice(kUserA);
  Result<std::unique_ptr<Client>> client = MakeClient(d, MakeConfig({{"users", "", {}}}));
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("must declare SyncKeyColumnName or SyncKeyColumns explicitly"),
            std::string::npos)
      << client.error().ToString();
}

// §9 items 6 and 10 — custom_pk_test.go: TestCustomPrimaryKeyColumns,
// TestTriggerGenerationWithCustomPK; client_test.go: TestNewClient_AllowsSelfReferencingManagedTable.
TEST_F(LifecycleTest, InstallsSixTriggersPerTableWithCustomKeysAndSelfReferences) {
  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE products (product_code TEXT PRIMARY KEY NOT NULL, name TEXT);
    CREATE TABLE docs (doc_id TEXT PRIMARY KEY NOT NULL, body TEXT);
    CREATE TABLE categories (id TEXT PRIMARY KEY NOT NULL, parent_id TEXT REFERENCES categories(id));
  )sql");
  StartClient(d, MakeConfig({{"products", "product_code", {}},
                             {"docs", "", {"doc_id"}},
                             {"categories", "id", {}}}));
  // (Under profile B the test helper also configures the server's other tables.)
  EXPECT_EQ(Int(d, "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name IN "
                   "('products', 'docs', 'categories')"),
            18);
  EXPECT_NE(Text(d, "SELECT sql FROM sqlite_master WHERE name='trg_products_ai'").find("NEW.product_code"),
            std::string::npos);
}

// §9 item 7 — client_test.go: TestNewClient_FailsWhenCompositeSyncKeyColumnsConfigured.
TEST_F(LifecycleTest, RejectsCompositeSyncKeys) {
  Device& d = NewDevice(kUserA, "CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (a, b))");
  Result<std::unique_ptr<Client>> client = MakeClient(d, MakeConfig({{"pairs", "", {"a", "b"}}}));
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("exactly one sync key column"), std::string::npos)
      << client.error().ToString();
}

// §9 item 8 — client_test.go: TestNewClient_FailsWhenManagedTablesContainCompositeFK.
TEST_F(LifecycleTest, RejectsCompositeForeignKeys) {
  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE parents (id TEXT PRIMARY KEY NOT NULL, k TEXT, UNIQUE (id, k));
    CREATE TABLE kids (id TEXT PRIMARY KEY NOT NULL, pid TEXT, pk TEXT,
                       FOREIGN KEY (pid, pk) REFERENCES parents(id, k));
  )sql");
  Result<std::unique_ptr<Client>> client =
      MakeClient(d, MakeConfig({{"parents", "id", {}}, {"kids", "id", {}}}));
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("composite foreign keys"), std::string::npos)
      << client.error().ToString();
}

// §9 item 9 — client_test.go: TestNewClient_FailsWhenManagedTablesAreNotFKClosed.
TEST_F(LifecycleTest, RejectsTableSetsThatAreNotFkClosed) {
  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT);
    CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, author_id TEXT REFERENCES users(id));
  )sql");
  // Client::CreateForPath itself: the test helper would complete the table set under profile B.
  Result<std::unique_ptr<Client>> client = Client::CreateForPath(
      d.path, server_->base_url(), server_->TokenProviderFor("u"), MakeConfig({{"posts", "id", {}}}), {});
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("posts.author_id -> users.id"), std::string::npos)
      << client.error().ToString();
}

// §9 item 11 — client_test.go: TestNewClient_FailsWhenTableNameIsSchemaQualified.
TEST_F(LifecycleTest, RejectsSchemaQualifiedTableNames) {
  Device& d = NewDevice(kUserA);
  Result<std::unique_ptr<Client>> client = MakeClient(d, MakeConfig({{"main.users", "id", {}}}));
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("must not include a schema qualifier"), std::string::npos);
}

// §9 item 12 — client_test.go: TestNewClient_FailsWhenExistingSyncStateUsesDifferentSchema.
TEST_F(LifecycleTest, RejectsExistingStateOfAnotherSchema) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1);  // a dirty row under schema "business"
  d.client.reset();
  Config other = MakeConfig();
  other.schema = "other";
  Result<std::unique_ptr<Client>> second = MakeClient(d, other);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find("exactly one configured schema"), std::string::npos)
      << second.error().ToString();
}

// §9 item 13 — client_test.go: TestNewClient_RejectsSecondActiveClientForSameSQLiteDB,
// TestNewClient_AllowsSecondClientAfterClose.
TEST_F(LifecycleTest, OneLiveClientPerDatabaseFile) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  Result<std::unique_ptr<Client>> second = MakeClient(d, MakeConfig());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(KindOf(second), ClientErrorKind::kDatabaseAlreadyOwned);
  client.Close();
  EXPECT_EQ(KindOf(client.Open()), ClientErrorKind::kClientClosed);
  Result<std::unique_ptr<Client>> third = MakeClient(d, MakeConfig());
  EXPECT_TRUE(third.has_value()) << third.error().ToString();
}

// §9 item 14 — push_test.go: TestClient_RejectsOverlappingSyncOperations,
// TestIsExpectedSyncContention.
TEST_F(LifecycleTest, OverlappingOperationsFailFast) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);
  Status inner;
  client.SetBeforePushCommitHook([&]() -> Status {
    inner = ToStatus(client.GetPendingSyncStatus());
    return Status();
  });
  Result<PushReport> pushed = client.PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(KindOf(inner), ClientErrorKind::kSyncOperationInProgress);
  EXPECT_TRUE(IsExpectedSyncContention(inner));
  EXPECT_FALSE(IsExpectedSyncContention(Status(ErrorCode::kInternal, "x")));
}

// =====================================================================================
// Trigger capture (§9 items 15, 19-22, 25)
// =====================================================================================

// §9 item 15 — client_test.go: TestCreateTriggersForTable.
TEST_F(LifecycleTest, InsertThenUpdateStaysInsertAndInsertThenDeleteLeavesDelete) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1, "Ada");
  Exec(d, fmt::format("UPDATE users SET name = 'Grace' WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(DirtyRows(d), 1);
  EXPECT_EQ(Text(d, "SELECT op FROM _sync_dirty_rows"), "INSERT");
  EXPECT_NE(Text(d, "SELECT payload FROM _sync_dirty_rows").find("Grace"), std::string::npos);
  Exec(d, fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(Text(d, "SELECT op FROM _sync_dirty_rows"), "DELETE");
}

// §9 item 19 — push_test.go: TestDirtyRowCapture_KeyChangingUpdateCreatesDeleteAndUpsert.
TEST_F(LifecycleTest, KeyChangingUpdateCapturesDeleteAndInsert) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);
  ASSERT_TRUE(client.PushPending().has_value());
  Exec(d, fmt::format("UPDATE users SET id = '{}' WHERE id = '{}'", Uuid(2), Uuid(1)));
  EXPECT_EQ(Text(d, fmt::format("SELECT op FROM _sync_dirty_rows WHERE key_json = '{{\"id\":\"{}\"}}'", Uuid(1))),
            "DELETE");
  EXPECT_EQ(Text(d, fmt::format("SELECT op FROM _sync_dirty_rows WHERE key_json = '{{\"id\":\"{}\"}}'", Uuid(2))),
            "INSERT");
}

// §9 items 20, 21 — push_test.go: TestDirtyRowCapture_CapturesLocalCascadeDeletes,
// TestDirtyRowCapture_CapturesLocalTriggerGeneratedWrites.
TEST_F(LifecycleTest, CapturesCascadeDeletesAndAppTriggerWrites) {
  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
                        created_at TEXT, updated_at TEXT);
    CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
                        author_id TEXT REFERENCES users(id) ON DELETE CASCADE,
                        created_at TEXT, updated_at TEXT);
    CREATE TRIGGER app_welcome_post AFTER INSERT ON users BEGIN
      INSERT INTO posts (id, title, content, author_id)
      VALUES (NEW.id || '-p', 'hello', 'welcome', NEW.id);
    END;
  )sql");
  Client& client = StartClient(d, MakeConfig({{"users", "id", {}}, {"posts", "id", {}}}));
  OpenOk(client);
  InsertUser(d, 1);
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_dirty_rows WHERE table_name = 'posts'"), 1);
  Exec(d, "DELETE FROM _sync_dirty_rows");
  Exec(d, fmt::format("DELETE FROM users WHERE id = '{}'", Uuid(1)));
  EXPECT_EQ(Text(d, "SELECT op FROM _sync_dirty_rows WHERE table_name = 'posts'"), "DELETE");
}

// §9 item 22 — blob_test.go: TestBlobPrimaryKeySupport, TestBlobSerializeRow.
TEST_F(LifecycleTest, BlobKeysAreCapturedAsLowercaseHex) {
  Device& d = NewDevice(kUserA, "CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, data BLOB, name TEXT)");
  Client& client = StartClient(d, MakeConfig({{"files", "id", {}}}));
  OpenOk(client);
  Exec(d, "INSERT INTO files (id, data, name) VALUES (x'00112233445566778899AABBCCDDEEFF', x'CAFE', 'f')");
  EXPECT_EQ(Text(d, "SELECT key_json FROM _sync_dirty_rows"),
            "{\"id\":\"00112233445566778899aabbccddeeff\"}");
  EXPECT_NE(Text(d, "SELECT payload FROM _sync_dirty_rows").find("\"data\":\"cafe\""), std::string::npos);
  Result<std::string> row = client.SerializeRow("files", "00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(row.has_value()) << row.error().ToString();
  EXPECT_NE(row->find("\"id\":\"00112233445566778899aabbccddeeff\""), std::string::npos) << *row;
}

// §9 item 25 — lifecycle_test.go: TestManagedTableGuards_BlockDirectWritesDuringRemoteReplace.
TEST_F(LifecycleTest, GuardTriggersBlockAppWritesDuringRemoteReplace) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1);
  Exec(d, fmt::format("UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = '{}'",
                      kUserA));
  std::string message;
  EXPECT_NE(ExecRc(d, fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', 'x', 'y')", Uuid(2)),
                   &message),
            SQLITE_OK);
  EXPECT_NE(message.find("SYNC_TRANSITION_PENDING"), std::string::npos) << message;
  EXPECT_NE(ExecRc(d, "UPDATE users SET name = 'z'", &message), SQLITE_OK);
  EXPECT_NE(ExecRc(d, "DELETE FROM users", &message), SQLITE_OK);
  EXPECT_NE(message.find("SYNC_TRANSITION_PENDING"), std::string::npos) << message;
}

// =====================================================================================
// Open / Attach (§9 items 89-100)
// =====================================================================================

// §9 item 89 — client_test.go: TestOpen_PersistsManagedSourceState; lifecycle_test.go:
// TestOpen_ReusesPersistedManagedSourceID, TestOpen_IsIdempotentForMatchingSource,
// TestOpen_DoesNotRequireCallerProvidedSourceID.
TEST_F(LifecycleTest, OpenPersistsAndReusesManagedSource) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  EXPECT_EQ(client.source_id(), "");
  OpenOk(client);
  const std::string source = client.source_id();
  ASSERT_EQ(source.size(), 36u);
  EXPECT_EQ(Text(d, "SELECT current_source_id FROM _sync_attachment_state"), source);
  EXPECT_EQ(Int(d, fmt::format("SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id='{}'",
                               source)),
            1);
  OpenOk(client);
  EXPECT_EQ(client.source_id(), source);
  Restart(d);
  OpenOk(*d.client);
  EXPECT_EQ(d.client->source_id(), source);
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_source_state"), 1);
}

// §9 items 90, 96 — client_test.go: TestOpen_PreservesLocalRowsAndManagedSourceAcrossRestart;
// lifecycle_test.go: TestConnect_ResumesSameAttachedUserWithoutNetwork.
TEST_F(LifecycleTest, RestartPreservesStateAndAttachResumesWithoutNetwork) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachResult first = AttachOk(client, kUserA);
  EXPECT_EQ(first.outcome, AttachOutcome::kStartedEmpty);
  InsertUser(d, 1);
  const std::string source = client.source_id();
  Restart(d);
  OpenOk(*d.client);
  EXPECT_EQ(d.client->user_id(), std::string(kUserA));
  d.transport->ResetCounts();
  AttachResult resumed = AttachOk(*d.client, kUserA);
  EXPECT_EQ(resumed.status, AttachStatus::kConnected);
  EXPECT_EQ(resumed.outcome, AttachOutcome::kResumedAttachedState);
  EXPECT_EQ(d.transport->Count("", "/"), 0);
  EXPECT_EQ(d.client->source_id(), source);
  EXPECT_EQ(CountUsers(d), 1);
  EXPECT_EQ(DirtyRows(d), 1);
  EXPECT_EQ(resumed.sync_status.pending.pending_row_count, 1);
}

// §9 item 91 — client_test.go: TestNewClient_AttachRequiresOpenToEstablishSourceID,
// TestOperationsRequireAttachAfterOpen.
TEST_F(LifecycleTest, LifecycleGatesFailWithoutNetwork) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  Result<AttachResult> early = client.Attach(kUserA);
  EXPECT_EQ(KindOf(early), ClientErrorKind::kOpenRequired);
  EXPECT_TRUE(IsLifecyclePreconditionError(early.error()));
  EXPECT_EQ(ClientErrorOf(early.error())->operation, "Attach(userID)");
  EXPECT_EQ(KindOf(client.GetSourceInfo()), ClientErrorKind::kOpenRequired);
  EXPECT_EQ(KindOf(client.PushPending()), ClientErrorKind::kOpenRequired);
  OpenOk(client);
  EXPECT_EQ(KindOf(client.PushPending()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(KindOf(client.PullToStable()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(KindOf(client.Sync()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(KindOf(client.Rebuild()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(KindOf(client.LastBundleSeqSeen()), ClientErrorKind::kAttachRequired);
  EXPECT_EQ(KindOf(client.GetSyncStatus()), ClientErrorKind::kAttachRequired);
  Result<AttachResult> blank = client.Attach("   ");
  ASSERT_FALSE(blank.has_value());
  EXPECT_EQ(blank.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(d.transport->Count("", "/"), 0);
}

// §9 item 92 — client_test.go: TestConnect_PersistsConfiguredSchemaIdentity.
TEST_F(LifecycleTest, AttachPersistsSchemaAndBinding) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  EXPECT_EQ(Text(d, "SELECT schema_name FROM _sync_attachment_state"), "business");
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "attached");
  EXPECT_EQ(Text(d, "SELECT attached_user_id FROM _sync_attachment_state"), std::string(kUserA));
  EXPECT_EQ(client.user_id(), std::string(kUserA));
}

// §9 items 93, 99 — lifecycle_test.go: TestConnect_RetryLaterSurfacesRetryAfter;
// lifecycle_end_to_end_test.go: TestEndToEnd_ConcurrentFirstInitializerRaceHasSingleWinner.
TEST_F(LifecycleTest, ConcurrentInitializersOneSeedsOtherRetriesLater) {
  Device& a = NewDevice(kUserA);
  Device& b = NewDevice(kUserA);
  Client& ca = StartClient(a);
  Client& cb = StartClient(b);
  OpenOk(ca);
  OpenOk(cb);
  InsertUser(a, 1, "A");
  InsertUser(b, 2, "B");
  AttachResult seeded = AttachOk(ca, kUserA);
  EXPECT_EQ(seeded.outcome, AttachOutcome::kSeededFromLocal);
  EXPECT_EQ(seeded.sync_status.authority, AuthorityStatus::kPendingLocalSeed);
  EXPECT_NE(Text(a, "SELECT pending_initialization_id FROM _sync_attachment_state"), "");
  AttachResult later = AttachOk(cb, kUserA);
  EXPECT_EQ(later.status, AttachStatus::kRetryLater);
  EXPECT_GE(later.retry_after, Duration(1000));
  EXPECT_FALSE(later.restore.has_value());
  EXPECT_EQ(Text(b, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(KindOf(cb.PushPending()), ClientErrorKind::kAttachRequired);

  // The winner seeds; the loser then converges through remote_authoritative (its local rows
  // are discarded) — lifecycle_spec_completion_test.go:
  // TestEndToEnd_ConcurrentFirstInitializerRaceFollowThroughConvergesLoserViaRemoteAuthoritative.
  Result<PushReport> pushed = ca.PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
  AttachResult converged = AttachOk(cb, kUserA);
  EXPECT_EQ(converged.outcome, AttachOutcome::kUsedRemoteState);
  ASSERT_TRUE(converged.restore.has_value());
  EXPECT_EQ(converged.restore->row_count, 1);
  EXPECT_EQ(Text(b, "SELECT name FROM users"), "A");
  EXPECT_EQ(DirtyRows(b), 0);
}

// §9 item 93 — lifecycle_test.go: TestConnect_RetriesTransientHTTPFailureAndSucceeds,
// TestConnect_DoesNotRetryUnauthorized, TestConnect_RetryExhaustionReturnsTypedError,
// TestConnect_RetryPolicyCanBeDisabledExplicitly.
TEST_F(LifecycleTest, ConnectRetryPolicy) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  d.transport->FailNext("POST", "/sync/connect", 1, FaultKind::kHttpStatus, 503);
  AttachResult ok = AttachOk(client, kUserA);
  EXPECT_EQ(ok.status, AttachStatus::kConnected);
  EXPECT_EQ(d.transport->Count("POST", "/sync/connect"), 2);

  Device& e = NewDevice(kUserA);
  Client& unauthorized = StartClient(e);
  OpenOk(unauthorized);
  e.transport->FailNext("POST", "/sync/connect", 1, FaultKind::kHttpStatus, 401,
                        R"({"error":"authentication_failed","message":"nope"})");
  Result<AttachResult> denied = unauthorized.Attach(kUserA);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(e.transport->Count("POST", "/sync/connect"), 1);

  Device& f = NewDevice(kUserA);
  Client& exhausted = StartClient(f);
  OpenOk(exhausted);
  f.transport->FailNext("POST", "/sync/connect", 3, FaultKind::kHttpStatus, 503);
  Result<AttachResult> gave_up = exhausted.Attach(kUserA);
  ASSERT_FALSE(gave_up.has_value());
  ASSERT_EQ(KindOf(gave_up), ClientErrorKind::kRetryExhausted) << gave_up.error().ToString();
  EXPECT_EQ(ClientErrorOf(gave_up.error())->operation, "connect_request");
  EXPECT_EQ(ClientErrorOf(gave_up.error())->attempts, 3);

  Device& g = NewDevice(kUserA);
  Config no_retry = MakeConfig();
  no_retry.retry_policy->enabled = false;
  Client& single = StartClient(g, no_retry);
  OpenOk(single);
  g.transport->FailNext("POST", "/sync/connect", 1, FaultKind::kHttpStatus, 503);
  EXPECT_FALSE(single.Attach(kUserA).has_value());
  EXPECT_EQ(g.transport->Count("POST", "/sync/connect"), 1);
}

// §9 item 94 — lifecycle_test.go: TestConnect_NetworkFailureLeavesAnonymousStateIntact.
TEST_F(LifecycleTest, ConnectNetworkFailureLeavesAnonymousStateIntact) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1);
  d.transport->FailNext("POST", "/sync/connect", 3, FaultKind::kTransportErrorBefore);
  EXPECT_FALSE(client.Attach(kUserA).has_value());
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(DirtyRows(d), 1);
  EXPECT_EQ(CountUsers(d), 1);
  EXPECT_EQ(client.user_id(), "");
  AttachResult later = AttachOk(client, kUserA);
  EXPECT_EQ(later.outcome, AttachOutcome::kSeededFromLocal);
}

// §9 item 95 — lifecycle_test.go: TestConnect_FailsFastWhenLifecycleCapabilitiesAreMissing.
TEST_F(LifecycleTest, MissingLifecycleCapabilityIsUnsupported) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  d.transport->FailNext("GET", "/sync/capabilities", 1, FaultKind::kHttpStatus, 404,
                        R"({"error":"not_found","message":"missing"})");
  EXPECT_EQ(KindOf(client.Attach(kUserA)), ClientErrorKind::kAttachLifecycleUnsupported);
  EXPECT_EQ(d.transport->Count("POST", "/sync/connect"), 0);

  d.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url) == "/sync/capabilities") {
      response.body = R"({"protocol_version":"v1","schema_version":1,"features":{"connect_lifecycle":false},"bundle_limits":{}})";
    }
  });
  EXPECT_EQ(KindOf(client.Attach(kUserA)), ClientErrorKind::kAttachLifecycleUnsupported);
  d.transport->SetResponseRewriter([](const HttpRequest& request, HttpResponse& response) {
    if (FaultTransport::PathOf(request.url) == "/sync/capabilities") response.body = "{not json";
  });
  EXPECT_EQ(KindOf(client.Attach(kUserA)), ClientErrorKind::kAttachLifecycleUnsupported);
  EXPECT_EQ(d.transport->Count("POST", "/sync/connect"), 0);
}

// §9 item 97 — lifecycle_test.go: TestConnect_RemoteAuthoritativeStagesAndReplacesAnonymousLocalRows;
// lifecycle_end_to_end_test.go: TestEndToEnd_ConnectRemoteAuthoritativeReplacesAnonymousLocalRows,
// TestEndToEnd_ConnectRemoteAuthoritativeRebuildsExistingRemote.
TEST_F(LifecycleTest, RemoteAuthoritativeReplacesAnonymousLocalRows) {
  const std::int64_t seq = ServerInsertUser(kUserA, 50, "Remote");
  ASSERT_GT(seq, 0);
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1, "Anon");
  AttachResult result = AttachOk(client, kUserA);
  EXPECT_EQ(result.status, AttachStatus::kConnected);
  EXPECT_EQ(result.outcome, AttachOutcome::kUsedRemoteState);
  ASSERT_TRUE(result.restore.has_value());
  EXPECT_EQ(result.restore->bundle_seq, seq);
  EXPECT_EQ(result.restore->row_count, 1);
  EXPECT_EQ(result.sync_status.authority, AuthorityStatus::kAuthoritativeMaterialized);
  EXPECT_EQ(result.sync_status.last_bundle_seq_seen, seq);
  EXPECT_EQ(Text(d, "SELECT name FROM users"), "Remote");
  EXPECT_EQ(CountUsers(d), 1);
  EXPECT_EQ(DirtyRows(d), 0);
  EXPECT_EQ(Text(d, "SELECT kind FROM _sync_operation_state"), "none");
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_snapshot_stage"), 0);
  EXPECT_EQ(Int(d, "SELECT last_bundle_seq_seen FROM _sync_attachment_state"), seq);
  // The session is released after staging.
  EXPECT_EQ(d.transport->Count("DELETE", "/sync/snapshot-sessions/"), 1);
  // Capture works again after the replacement.
  InsertUser(d, 2, "Local");
  EXPECT_EQ(DirtyRows(d), 1);
}

// §9 item 97 — lifecycle_end_to_end_test.go: TestEndToEnd_ConnectRemoteAuthoritativeEmptyStillReplacesAnonymousLocalRows;
// lifecycle_test.go: TestConnect_RemoteAuthoritativeReplaceClearsHistoricallyManagedTablesRemovedFromConfig.
TEST_F(LifecycleTest, RemoteAuthoritativeEmptyStillReplacesAnonymousRowsAndHistoricalTables) {
  Device& first = NewDevice(kUserA);
  Client& initializer = StartClient(first);
  OpenOk(initializer);
  EXPECT_EQ(AttachOk(initializer, kUserA).outcome, AttachOutcome::kStartedEmpty);

  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
                        created_at TEXT, updated_at TEXT);
    CREATE TABLE legacy_docs (id TEXT PRIMARY KEY NOT NULL, body TEXT);
  )sql");
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1, "Anon");
  Exec(d, "INSERT INTO legacy_docs VALUES ('l1', 'old')");
  Exec(d, "INSERT INTO _sync_managed_tables VALUES ('business', 'legacy_docs')");
  AttachResult result = AttachOk(client, kUserA);
  EXPECT_EQ(result.outcome, AttachOutcome::kUsedRemoteState);
  ASSERT_TRUE(result.restore.has_value());
  EXPECT_EQ(result.restore->row_count, 0);
  EXPECT_EQ(result.sync_status.authority, AuthorityStatus::kAuthoritativeEmpty);
  EXPECT_EQ(CountUsers(d), 0);
  EXPECT_EQ(Int(d, "SELECT count(*) FROM legacy_docs"), 0);
  EXPECT_EQ(DirtyRows(d), 0);
}

// §9 item 98 — lifecycle_test.go: TestConnect_PendingRemoteReplaceFinalizesFromStagedSnapshotWithoutNetwork,
// TestConnect_PendingRemoteReplaceMismatchedScopeFailsClosed, TestOpen_AllowsPendingRemoteReplaceRecoveryState.
TEST_F(LifecycleTest, PendingRemoteReplaceFinalizesFromStageWithoutNetwork) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1, "Anon");
  Exec(d, fmt::format(
              "UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = '{}', "
              "staged_snapshot_id = 'snapshot-1', snapshot_bundle_seq = 11, snapshot_row_count = 1",
              kUserA));
  Exec(d, fmt::format(
              "INSERT INTO _sync_snapshot_stage VALUES ('snapshot-1', 1, 'business', 'users', "
              "'{{\"id\":\"{0}\"}}', 4, '{{\"id\":\"{0}\",\"name\":\"Staged\",\"email\":\"s@example.com\","
              "\"created_at\":null,\"updated_at\":null}}')",
              Uuid(9)));
  Restart(d);
  OpenOk(*d.client);  // Open tolerates the pending replacement
  d.transport->ResetCounts();

  Result<AttachResult> other = d.client->Attach(kUserB);
  EXPECT_EQ(KindOf(other), ClientErrorKind::kAttachLocalStateConflict);
  EXPECT_NE(other.error().message().find("pending remote_replace"), std::string::npos);

  AttachResult result = AttachOk(*d.client, kUserA);
  EXPECT_EQ(result.outcome, AttachOutcome::kUsedRemoteState);
  ASSERT_TRUE(result.restore.has_value());
  EXPECT_EQ(result.restore->bundle_seq, 11);
  EXPECT_EQ(result.restore->row_count, 1);
  EXPECT_EQ(d.transport->Count("", "/"), 0);
  EXPECT_EQ(Text(d, "SELECT name FROM users"), "Staged");
  EXPECT_EQ(Int(d, "SELECT row_version FROM _sync_row_state"), 4);
  EXPECT_EQ(Text(d, "SELECT kind FROM _sync_operation_state"), "none");
  EXPECT_EQ(Int(d, "SELECT last_bundle_seq_seen FROM _sync_attachment_state"), 11);
}

// §7.3 step 3: an incomplete stage is not trusted; the resumed Attach downloads a new snapshot.
TEST_F(LifecycleTest, PendingRemoteReplaceWithIncompleteStageRedownloads) {
  const std::int64_t seq = ServerInsertUser(kUserA, 60, "Server");
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  Exec(d, fmt::format(
              "UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = '{}', "
              "staged_snapshot_id = 'partial', snapshot_bundle_seq = 3, snapshot_row_count = 5",
              kUserA));
  AttachResult result = AttachOk(client, kUserA);
  EXPECT_EQ(result.outcome, AttachOutcome::kUsedRemoteState);
  ASSERT_TRUE(result.restore.has_value());
  EXPECT_EQ(result.restore->bundle_seq, seq);
  EXPECT_EQ(Text(d, "SELECT name FROM users"), "Server");
  EXPECT_EQ(d.transport->Count("POST", "/sync/snapshot-sessions"), 1);
}

// §9 item 100 (client side) — lifecycle_test.go:
// TestConnect_ReconnectAfterInitializationExpiredClearsStalePendingInitializationAndReissuesConnect.
TEST_F(LifecycleTest, LeaseLossUnbindsAndReattachGetsANewLease) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  InsertUser(d, 1);
  AttachResult seeded = AttachOk(client, kUserA);
  ASSERT_EQ(seeded.outcome, AttachOutcome::kSeededFromLocal);
  const std::string first_id = Text(d, "SELECT pending_initialization_id FROM _sync_attachment_state");
  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 410,
                        R"({"error":"initialization_expired","message":"lease expired"})");
  Result<PushReport> lost = client.PushPending();
  ASSERT_FALSE(lost.has_value());
  EXPECT_NE(lost.error().ToString().find("initialization_expired"), std::string::npos)
      << lost.error().ToString();
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(Text(d, "SELECT pending_initialization_id FROM _sync_attachment_state"), "");
  EXPECT_EQ(client.user_id(), "");
  AttachResult again = AttachOk(client, kUserA);
  EXPECT_EQ(again.status, AttachStatus::kConnected);
  EXPECT_EQ(d.transport->Count("POST", "/sync/connect"), 2);
  EXPECT_NE(first_id, "");
}

// =====================================================================================
// Detach, user switch, SyncThenDetach, uninstall (§9 items 101-108)
// =====================================================================================

// §9 item 101 — lifecycle_test.go: TestDetach_BlocksWhenAttachedDirtyRowsExist,
// TestDetach_BlocksWhenPreparedOutboxExists.
TEST_F(LifecycleTest, DetachBlockedByDirtyRowsAndPreparedOutbox) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);
  Result<DetachResult> blocked = client.Detach();
  ASSERT_TRUE(blocked.has_value()) << blocked.error().ToString();
  EXPECT_EQ(blocked->outcome, DetachOutcome::kBlockedUnsyncedData);
  EXPECT_EQ(blocked->pending_row_count, 1);
  EXPECT_EQ(client.user_id(), std::string(kUserA));
  EXPECT_EQ(CountUsers(d), 1);

  // A freeze that fails before commit leaves a prepared outbox: still blocked.
  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 400,
                        R"({"error":"invalid_request","message":"injected"})");
  EXPECT_FALSE(client.PushPending().has_value());
  ASSERT_EQ(Int(d, "SELECT count(*) FROM _sync_outbox_rows"), 1);
  Result<DetachResult> still = client.Detach();
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->outcome, DetachOutcome::kBlockedUnsyncedData);
  EXPECT_EQ(still->pending_row_count, 1);
  Result<PendingSyncStatus> pending = client.GetPendingSyncStatus();
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(pending->blocks_detach);
}

// §9 items 102, 103, 105 — lifecycle_test.go: TestDetach_ReenablesDirtyRowCaptureForAnonymousWrites,
// TestDetach_ReopenDoesNotDuplicateAnonymousWrites,
// TestDetach_ReattachPreservesNextSourceBundleIDOnSameSource; client_test.go:
// TestDetach_ClearsHistoricallyManagedTablesRemovedFromCurrentConfig.
TEST_F(LifecycleTest, DetachWipesSyncedStateKeepsSourceAndRecapturesWrites) {
  Device& d = NewDevice(kUserA, R"sql(
    CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
                        created_at TEXT, updated_at TEXT);
    CREATE TABLE legacy_docs (id TEXT PRIMARY KEY NOT NULL, body TEXT);
  )sql");
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);
  ASSERT_TRUE(client.PushPending().has_value());
  const std::string source = client.source_id();
  EXPECT_EQ(Int(d, "SELECT next_source_bundle_id FROM _sync_source_state"), 2);
  Exec(d, "INSERT INTO _sync_managed_tables VALUES ('business', 'legacy_docs')");
  Exec(d, "INSERT INTO legacy_docs VALUES ('l1', 'old')");

  Result<DetachResult> detached = client.Detach();
  ASSERT_TRUE(detached.has_value()) << detached.error().ToString();
  EXPECT_EQ(detached->outcome, DetachOutcome::kDetached);
  EXPECT_EQ(detached->pending_row_count, 0);
  EXPECT_EQ(client.user_id(), "");
  EXPECT_EQ(CountUsers(d), 0);
  EXPECT_EQ(Int(d, "SELECT count(*) FROM legacy_docs"), 0);
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_row_state"), 0);
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  // Profile A keeps the source and its numbering (Go); profile B rotates to a fresh source and
  // resets the attachment row (KMP, lifecycle fixtures; docs/compatibility.md 83).
  const std::string current = Text(d, "SELECT current_source_id FROM _sync_attachment_state");
  if (TestSpeaksProfileB()) {
    EXPECT_NE(current, source);
    EXPECT_EQ(Text(d, fmt::format("SELECT replaced_by_source_id FROM _sync_source_state WHERE "
                                  "source_id = '{}'", source)),
              current);
    EXPECT_EQ(Text(d, "SELECT schema_name || '/' || last_bundle_seq_seen FROM _sync_attachment_state"),
              "/0");
  } else {
    EXPECT_EQ(current, source);
  }
  EXPECT_EQ(client.source_id(), current);
  EXPECT_EQ(Int(d, fmt::format("SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id "
                               "= '{}'", current)),
            TestSpeaksProfileB() ? 1 : 2);
  EXPECT_EQ(Int(d, "SELECT apply_mode FROM _sync_apply_state"), 0);
  EXPECT_EQ(KindOf(client.PushPending()), ClientErrorKind::kAttachRequired);

  InsertUser(d, 2, "Offline");
  EXPECT_EQ(Text(d, "SELECT op FROM _sync_dirty_rows"), "INSERT");
  Restart(d);
  OpenOk(*d.client);
  EXPECT_EQ(DirtyRows(d), 1);

  // Same user: the scope is initialized, so the offline write is replaced by the server state;
  // a new write then goes out as the next bundle of the (A: same, B: rotated) source.
  EXPECT_EQ(AttachOk(*d.client, kUserA).outcome, AttachOutcome::kUsedRemoteState);
  EXPECT_EQ(d.client->source_id(), current);
  EXPECT_EQ(CountUsers(d), 1);
  InsertUser(d, 3, "Again");
  Result<PushReport> pushed = d.client->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(Int(d, fmt::format("SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id "
                               "= '{}'", current)),
            TestSpeaksProfileB() ? 2 : 3);
}

// §9 item 104 — lifecycle_end_to_end_test.go: TestEndToEnd_DifferentUserCanConnectAfterSuccessfulDetach,
// TestEndToEnd_DetachAfterOpenOverDurableAttachedStateSucceedsWithoutReattach; §6.4 user switch.
TEST_F(LifecycleTest, UserSwitchRequiresDetachAndWorksAfterRestart) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  Result<AttachResult> conflict = client.Attach(kUserB);
  ASSERT_EQ(KindOf(conflict), ClientErrorKind::kAttachBindingConflict);
  EXPECT_EQ(ClientErrorOf(conflict.error())->attached_user_id, std::string(kUserA));
  EXPECT_EQ(ClientErrorOf(conflict.error())->requested_user_id, std::string(kUserB));
  // A failed Attach does not disconnect the current session.
  EXPECT_TRUE(client.GetSyncStatus().has_value());

  Restart(d);
  OpenOk(*d.client);
  Result<DetachResult> detached = d.client->Detach();  // no re-attach needed
  ASSERT_TRUE(detached.has_value());
  EXPECT_EQ(detached->outcome, DetachOutcome::kDetached);
  SetTokenUser(d, kUserB);
  AttachResult b = AttachOk(*d.client, kUserB);
  EXPECT_EQ(b.status, AttachStatus::kConnected);
  EXPECT_EQ(d.client->user_id(), std::string(kUserB));
}

// §9 item 105 — lifecycle_test.go: TestDetach_CancelsPendingRemoteReplace.
TEST_F(LifecycleTest, DetachCancelsPendingRemoteReplace) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  Exec(d, fmt::format(
              "UPDATE _sync_operation_state SET kind = 'remote_replace', target_user_id = '{}', "
              "staged_snapshot_id = 'snapshot-1', snapshot_bundle_seq = 11, snapshot_row_count = 1",
              kUserA));
  Exec(d, "INSERT INTO _sync_snapshot_stage VALUES ('snapshot-1', 1, 'business', 'users', "
          "'{\"id\":\"r\"}', 4, '{}')");
  Result<DetachResult> detached = client.Detach();
  ASSERT_TRUE(detached.has_value()) << detached.error().ToString();
  EXPECT_EQ(detached->outcome, DetachOutcome::kDetached);
  EXPECT_EQ(Text(d, "SELECT binding_state FROM _sync_attachment_state"), "anonymous");
  EXPECT_EQ(Text(d, "SELECT kind FROM _sync_operation_state"), "none");
  EXPECT_EQ(Int(d, "SELECT count(*) FROM _sync_snapshot_stage"), 0);
}

// §9 item 107 — lifecycle_test.go: TestOpen_CapturesAnonymousPreexistingRowsWithoutBlockingDetach;
// plus the C++ decision on the §7.4 [QUIRK]: an anonymous Detach keeps anonymous pending rows.
TEST_F(LifecycleTest, AnonymousDetachDoesNotBlockAndKeepsAnonymousRows) {
  Device& d = NewDevice(kUserA);
  InsertUser(d, 1, "Preexisting");
  Client& client = StartClient(d);
  OpenOk(client);
  Result<PendingSyncStatus> pending = client.GetPendingSyncStatus();
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(pending->has_pending_sync_data);
  EXPECT_EQ(pending->pending_row_count, 1);
  EXPECT_FALSE(pending->blocks_detach);
  Result<DetachResult> detached = client.Detach();
  ASSERT_TRUE(detached.has_value()) << detached.error().ToString();
  EXPECT_EQ(detached->outcome, DetachOutcome::kDetached);
  EXPECT_EQ(CountUsers(d), 1);  // Go would wipe it (§7.4 [QUIRK]); kept on purpose
  EXPECT_EQ(DirtyRows(d), 1);
  // The kept rows seed whoever attaches next.
  EXPECT_EQ(AttachOk(client, kUserA).outcome, AttachOutcome::kSeededFromLocal);
}

// §9 item 106 — lifecycle_end_to_end_test.go: TestEndToEnd_SyncThenDetachSuccessClearsAttachedLocalState,
// TestEndToEnd_SyncThenDetachFailureLeavesAttachedState; result_contract_test.go:
// TestResultContract_SyncAndSyncThenDetach.
TEST_F(LifecycleTest, SyncThenDetachContracts) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);

  // Nothing can drain while paused: blocked without error, and the second round stops early
  // because the pending count did not decrease.
  client.PauseUploads();
  client.PauseDownloads();
  Result<SyncThenDetachResult> blocked = client.SyncThenDetach();
  ASSERT_TRUE(blocked.has_value()) << blocked.error().ToString();
  EXPECT_FALSE(blocked->IsSuccess());
  EXPECT_EQ(blocked->detach.outcome, DetachOutcome::kBlockedUnsyncedData);
  EXPECT_EQ(blocked->remaining_pending_row_count, 1);
  EXPECT_EQ(blocked->sync_rounds, 2);
  EXPECT_EQ(blocked->last_sync.push_outcome, PushOutcome::kSkippedPaused);
  EXPECT_EQ(blocked->last_sync.remote_outcome, RemoteSyncOutcome::kSkippedPaused);
  client.ResumeUploads();
  client.ResumeDownloads();

  d.transport->FailNext("POST", "/sync/push-sessions", 1, FaultKind::kHttpStatus, 400,
                        R"({"error":"invalid_request","message":"injected"})");
  EXPECT_FALSE(client.SyncThenDetach().has_value());
  EXPECT_EQ(client.user_id(), std::string(kUserA));
  EXPECT_EQ(CountUsers(d), 1);

  Result<SyncThenDetachResult> done = client.SyncThenDetach();
  ASSERT_TRUE(done.has_value()) << done.error().ToString();
  EXPECT_TRUE(done->IsSuccess());
  EXPECT_EQ(done->sync_rounds, 1);
  EXPECT_EQ(done->last_sync.push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(CountUsers(d), 0);
  EXPECT_EQ(client.user_id(), "");
}

// §9 item 108 — lifecycle_test.go: TestUninstallSync_RemovesMetadataAndTriggersButPreservesBusinessTables,
// TestUninstallSync_AllowsFreshReinstallOnSameDatabase; lifecycle_end_to_end_test.go:
// TestEndToEnd_UninstallSyncThenReinstallOpenAndConnectOnSameDatabase.
TEST_F(LifecycleTest, UninstallRemovesMetadataKeepsBusinessDataAndAllowsReinstall) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  InsertUser(d, 1);
  ASSERT_TRUE(client.PushPending().has_value());
  Exec(d, "CREATE TABLE _sync_custom (v TEXT)");
  Exec(d, "INSERT INTO _sync_managed_tables VALUES ('business', 'ghost')");
  Exec(d, "CREATE TABLE ghost (id TEXT PRIMARY KEY NOT NULL)");
  Exec(d, "CREATE TRIGGER trg_ghost_ai AFTER INSERT ON ghost BEGIN SELECT 1; END");

  Status uninstalled = client.UninstallSync();
  ASSERT_TRUE(uninstalled.ok()) << uninstalled.ToString();
  EXPECT_EQ(Int(d, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name LIKE '\\_sync\\_%' ESCAPE '\\'"),
            1);  // only the unknown _sync_custom survives
  EXPECT_EQ(Int(d, "SELECT count(*) FROM sqlite_master WHERE type='trigger'"), 0);
  EXPECT_EQ(CountUsers(d), 1);
  EXPECT_EQ(KindOf(client.Open()), ClientErrorKind::kClientClosed);
  EXPECT_EQ(client.source_id(), "");

  Restart(d);  // ownership was released
  OpenOk(*d.client);
  EXPECT_EQ(DirtyRows(d), 1);  // existing rows captured again by the first Open
  AttachResult result = AttachOk(*d.client, kUserA);
  EXPECT_EQ(result.outcome, AttachOutcome::kUsedRemoteState);
  EXPECT_EQ(CountUsers(d), 1);
  EXPECT_EQ(DirtyRows(d), 0);
}

// §9 item 109 — result_contract_test.go: TestResultContract_AttachAndSyncStatus,
// TestResultContract_SourceInfo; lifecycle_test.go: TestSourceInfo_PreservesPendingLocalState.
TEST_F(LifecycleTest, SourceInfoAndSyncStatusContracts) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  Result<SourceInfo> info = client.GetSourceInfo();
  ASSERT_TRUE(info.has_value()) << info.error().ToString();
  EXPECT_EQ(info->current_source_id, client.source_id());
  EXPECT_FALSE(info->rebuild_required);
  EXPECT_FALSE(info->source_recovery_required);
  EXPECT_FALSE(info->source_recovery_reason.has_value());

  AttachResult attached = AttachOk(client, kUserA);
  EXPECT_EQ(attached.sync_status.authority, AuthorityStatus::kAuthoritativeEmpty);
  EXPECT_FALSE(attached.restore.has_value());
  InsertUser(d, 1);
  Result<SyncStatus> status = client.GetSyncStatus();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->pending.pending_row_count, 1);
  EXPECT_TRUE(status->pending.blocks_detach);
  EXPECT_EQ(status->authority, AuthorityStatus::kAuthoritativeEmpty);  // row state, not rows

  Exec(d, "UPDATE _sync_attachment_state SET rebuild_required = 1");
  Exec(d, "UPDATE _sync_operation_state SET kind = 'source_recovery', reason = 'source_retired'");
  info = client.GetSourceInfo();
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->rebuild_required);
  EXPECT_TRUE(info->source_recovery_required);
  EXPECT_EQ(info->source_recovery_reason, SourceRecoveryCode::kSourceRetired);
  Exec(d, "UPDATE _sync_operation_state SET reason = 'mystery'");
  info = client.GetSourceInfo();
  if (TestSpeaksProfileB()) {
    // Profile B fails instead of remapping (fixture
    // source-recovery-unknown-persisted-reason-fails-deterministically).
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(ClientErrorKindOf(info.error()), ClientErrorKind::kInvalidSourceRecoveryReason);
    EXPECT_EQ(ClientErrorKindOf(client.Sync().error()), ClientErrorKind::kInvalidSourceRecoveryReason);
    EXPECT_EQ(ClientErrorKindOf(client.Rebuild().error()),
              ClientErrorKind::kInvalidSourceRecoveryReason);
  } else {
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->source_recovery_reason, SourceRecoveryCode::kHistoryPruned);
  }
}

// =====================================================================================
// Background loops and watch (§9 items 110-115)
// =====================================================================================

// §9 item 110 — client_test.go: TestStartLoops_LogLifecycleMisuseWithoutTouchingNetwork,
// TestLifecyclePreconditionErrorsResetSyncLoopBackoff.
TEST_F(LifecycleTest, BackgroundLoopsWithoutAttachLogAndStayOffTheNetwork) {
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  ASSERT_TRUE(client.StartBackground().ok());
  EXPECT_TRUE(events_->WaitFor([&] {
    return d.logger->Contains("upload loop blocked by lifecycle state") &&
           d.logger->Contains("download loop blocked by lifecycle state");
  }));
  client.StopBackground();
  EXPECT_EQ(d.transport->Count("", "/"), 0);
}

// §9 items 111-112 — watch_test.go: TestDefaultConfig_BundleChangeWatchDefaultsOff,
// TestStart_DoesNotCallWatchWhenClientWatchOffEvenIfServerAdvertises.
TEST_F(LifecycleTest, WatchOffPollsWithoutWatch) {
  EXPECT_EQ(DefaultConfig("business", {}).bundle_change_watch_mode, BundleChangeWatchMode::kOff);
  Device& d = NewDevice(kUserA);
  Client& client = StartClient(d);
  OpenOk(client);
  AttachOk(client, kUserA);
  const std::int64_t seq = ServerInsertUser(kUserA, 70, "Polled");
  ASSERT_TRUE(client.StartBackground().ok());
  EXPECT_TRUE(events_->WaitFor([&] { return CountUsers(d) == 1; }));
  client.StopBackground();
  EXPECT_EQ(d.transport->Count("GET", "/sync/watch"), 0);
  EXPECT_EQ(Int(d, "SELECT last_bundle_seq_seen FROM _sync_attachment_state"), seq);
}

// §9 items 112, 115 — watch_test.go: TestStart_UsesWatchWhenClientAutoAndServerAdvertises,
// TestStart_WatchBundleEventTriggersExistingRemoteSync.
TEST_F(LifecycleTest, WatchEventsTriggerPull) {
  Device& d = NewDevice(kUserA);
  Client& client = StartWatching(d);
  ASSERT_FALSE(HasFatalFailure());
  const std::vector<HttpRequest> requests = d.transport->Requests();
  bool saw_first_watch = false;
  for (const HttpRequest& request : requests) {
    if (FaultTransport::PathOf(request.url) != "/sync/watch") continue;
    saw_first_watch = true;
    EXPECT_NE(request.url.find("after_bundle_seq=0"), std::string::npos) << request.url;
    bool has_source = false;
    for (const auto& [name, value] : request.headers) {
      if (name == "Oversync-Source-ID") has_source = value == client.source_id();
    }
    EXPECT_TRUE(has_source);
    break;
  }
  EXPECT_TRUE(saw_first_watch);
  const int pulls_before = d.transport->Count("GET", "/sync/pull");
  ServerInsertUser(kUserA, 71, "Watched");
  EXPECT_TRUE(events_->WaitFor([&] { return CountUsers(d) == 1; }));
  EXPECT_GT(d.transport->Count("GET", "/sync/pull"), pulls_before);
  client.StopBackground();  // aborts the open stream promptly
}

// docs/compatibility.md 85 (deviation from client.md §8 step 5): a wake-up that arrives while an
// app operation holds the operation lock waits for it and pulls then, on the same stream; Go
// ends the stream on that contention and reconnects.
TEST_F(LifecycleTest, WatchWakeupWaitsForAnOperationInProgress) {
  Device& d = NewDevice(kUserA);
  Client& client = StartWatching(d);
  ASSERT_FALSE(HasFatalFailure());
  std::atomic<bool> held{false};
  client.SetBeforePushCommitHook([&]() -> Status {
    // Inside the uploader's push (the lock held): a server write wakes the watch, and the push
    // keeps the lock for half a second, long enough for the wake-up's pull to collide with it.
    ServerInsertUser(kUserA, 72, "While busy");
    EXPECT_FALSE(events_->WaitFor([] { return false; }, std::chrono::milliseconds(500)));
    held.store(true);
    return Status::Ok();
  });
  InsertUser(d, 1);
  client.ResumeUploads();
  EXPECT_TRUE(events_->WaitFor([&] { return held.load() && CountUsers(d) == 2; }));
  EXPECT_EQ(d.transport->Count("GET", "/sync/watch"), 1) << "the stream was closed and reopened";
  client.StopBackground();
}

// §9 item 115 — watch_test.go: TestStart_WatchForbiddenSwitchesToPolling.
TEST_F(LifecycleTest, WatchForbiddenSwitchesToPollingForGood) {
  Device& d = NewDevice(kUserA);
  Config config = MakeConfig();
  config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
  Client& client = StartClient(d, config);
  OpenOk(client);
  AttachOk(client, kUserA);
  client.PauseUploads();
  d.transport->FailNext("GET", "/sync/watch", 1, FaultKind::kHttpStatus, 403,
                        R"({"error":"bundle_change_watch_forbidden","message":"no"})");
  ASSERT_TRUE(client.StartBackground().ok());
  ServerInsertUser(kUserA, 72, "Polled");
  EXPECT_TRUE(events_->WaitFor([&] {
    return CountUsers(d) == 1 && d.transport->Count("GET", "/sync/pull") >= 3;
  }));
  client.StopBackground();
  EXPECT_EQ(d.transport->Count("GET", "/sync/watch"), 1);
  EXPECT_TRUE(d.logger->Contains("bundle change watch disabled"));
}

// §9 item 115 — watch_test.go: TestStart_WatchRespectsPausedDownloads. The downloader decides on
// watch (capabilities) and then only sees the paused switch, so once StopBackground has joined
// it there can have been neither a watch nor a pull.
TEST_F(LifecycleTest, PausedDownloadsNeitherWatchNorPull) {
  Device& d = NewDevice(kUserA);
  Config config = MakeConfig();
  config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
  Client& client = StartClient(d, config);
  OpenOk(client);
  AttachOk(client, kUserA);
  d.transport->ResetCounts();
  client.PauseDownloads();
  client.PauseUploads();
  ASSERT_TRUE(client.StartBackground().ok());
  EXPECT_TRUE(events_->WaitFor([&] { return d.transport->Count("GET", "/sync/capabilities") >= 1; }));
  client.StopBackground();
  EXPECT_EQ(d.transport->Count("GET", "/sync/watch"), 0);
  EXPECT_EQ(d.transport->Count("GET", "/sync/pull"), 0);
}

// §8 step 6 / watch_test.go: TestStart_WatchDisconnectReconnectsWithBackoff: a broken stream is
// followed by a catch-up pull and a reconnect.
TEST_F(LifecycleTest, WatchReconnectsAfterStreamFailure) {
  Device& d = NewDevice(kUserA);
  Client& client = AttachWatching(d);
  d.transport->FailNext("GET", "/sync/watch", 1, FaultKind::kTransportErrorBefore);
  ASSERT_TRUE(client.StartBackground().ok());
  EXPECT_TRUE(events_->WaitFor([&] {
    return d.transport->Count("GET", "/sync/watch") >= 2 && d.transport->Count("GET", "/sync/pull") >= 1;
  }));
  client.StopBackground();
}

}  // namespace
}  // namespace oversync::oversqlite::testing
