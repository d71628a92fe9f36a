// File: libs/oversqlite/tests/client_fixture.h
//
// Shared fixture of the recovery and crash end-to-end tests (test-only): a TestServer per test
// and any number of "devices" (a SQLite file with the business tables plus, while running, a
// Client on it behind a FaultTransport). Devices can be cloned (the file is copied while no
// client is open) to get a second device that shares the first one's source id, which is how
// these tests produce real server-side source states (retired, changed, pruned).
//
// Thread-safety: single-threaded, like a gtest fixture.
#ifndef OVERSYNC_OVERSQLITE_TESTS_CLIENT_FIXTURE_H_
#define OVERSYNC_OVERSQLITE_TESTS_CLIENT_FIXTURE_H_

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/server/sync_transaction.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {

// Lowercase dashed UUIDs, as the server renders them.
inline std::string FixtureUuid(int n) { return fmt::format("00000000-0000-4000-8000-{:012d}", n); }
// The same UUID as 32 lowercase hex digits (a BLOB key literal is x'<hex>').
inline std::string FixtureHex(int n) { return fmt::format("00000000000040008000{:012d}", n); }

// Every business table the server registers that these tests use. teams <-> team_members is an
// FK cycle, so both directions are deferred (checked at commit, like the server's).
inline constexpr std::string_view kFixtureDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT, updated_at TEXT);
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

inline int FixtureExecCallback(void* /*unused*/, int /*n*/, char** /*values*/, char** /*names*/) {
  return 0;
}

// One device: a SQLite file and (while "running") a client on it.
struct Device {
  std::string path;
  std::unique_ptr<Client> client;
  std::shared_ptr<FaultTransport> transport;

  sqlite3* db() const { return client->db(); }

  // sqlite3_exec's result code; the error text goes to *message.
  int ExecRc(const std::string& sql, std::string* message = nullptr) const {
    char* error = nullptr;
    const int rc = sqlite3_exec(db(), sql.c_str(), FixtureExecCallback, nullptr, &error);
    if (message != nullptr) *message = error != nullptr ? error : "";
    sqlite3_free(error);
    return rc;
  }
  void Exec(const std::string& sql) const {
    std::string message;
    ASSERT_EQ(ExecRc(sql, &message), SQLITE_OK) << sql << ": " << message;
  }
  std::string Text(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db());
    std::string out = "<none>";
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::int64_t Int(const std::string& sql) const {
    const std::string text = Text(sql);
    return text == "<none>" || text == "<null>" ? -1 : std::stoll(text);
  }

  std::int64_t Dirty() const { return Int("SELECT count(*) FROM _sync_dirty_rows"); }
  std::int64_t OutboxRows() const { return Int("SELECT count(*) FROM _sync_outbox_rows"); }
  std::string OutboxState() const { return Text("SELECT state FROM _sync_outbox_bundle"); }
  std::int64_t PushStage() const { return Int("SELECT count(*) FROM _sync_push_stage"); }
  std::int64_t SnapshotStage() const { return Int("SELECT count(*) FROM _sync_snapshot_stage"); }
  std::int64_t ApplyMode() const { return Int("SELECT apply_mode FROM _sync_apply_state"); }
  std::int64_t Checkpoint() const {
    return Int("SELECT last_bundle_seq_seen FROM _sync_attachment_state");
  }
  std::int64_t NextBundleId() const {
    return Int(
        "SELECT next_source_bundle_id FROM _sync_source_state WHERE source_id = "
        "(SELECT current_source_id FROM _sync_attachment_state)");
  }
  std::string OperationKind() const { return Text("SELECT kind FROM _sync_operation_state"); }
  std::string Reservation() const {
    return Text("SELECT replacement_source_id FROM _sync_operation_state");
  }
  std::int64_t RebuildRequired() const {
    return Int("SELECT rebuild_required FROM _sync_attachment_state");
  }
};

class ClientFixture : public ::testing::Test {
 protected:
  using TransportWrapper =
      std::function<std::shared_ptr<Transport>(std::shared_ptr<Transport> curl)>;

  // The server every test of the fixture gets; subclasses change its configuration here.
  virtual TestServerOptions ServerOptions() { return {}; }

  void SetUp() override {
    Result<std::unique_ptr<TestServer>> server = TestServer::Start(ServerOptions());
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
      RemoveFiles(device.path);
    }
  }

  static void RemoveFiles(const std::string& path) {
    std::remove(path.c_str());
    std::remove((path + "-wal").c_str());
    std::remove((path + "-shm").c_str());
  }

  static Config MakeConfig() {
    Config config = DefaultConfig("business", {{"users", "id", {}},
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
    // The client default (empty: a new database gets profile B) unless the run pins profile A.
    if (TestWireProfile() != "jcs_uniform_numeric_strings_v1") config.wire_profile = TestWireProfile();
    return config;
  }

  static bool TestingProfileB() { return TestWireProfile() == "jcs_uniform_numeric_strings_v1"; }

  std::string NewPath() const {
    // Parameterized test names contain '/'.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    return fmt::format("{}/{}_{}_{}_{}.db", ::testing::TempDir(), file_prefix_, ::getpid(), name,
                       devices_.size());
  }

  // A new device file with the business tables (no client yet).
  Device& NewDevice() {
    const std::string path = NewPath();
    Device& device = devices_.emplace_back();
    device.path = path;
    RemoveFiles(device.path);
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(device.path.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, std::string(kFixtureDdl).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    return device;
  }

  // A second device sharing `source`'s file contents (and so its source id). The source device's
  // client must be stopped (closing the last connection checkpoints the WAL into the file).
  Device& Clone(const Device& source) {
    EXPECT_EQ(source.client, nullptr) << "stop the device before cloning it";
    const std::string path = NewPath();
    Device& device = devices_.emplace_back();
    device.path = path;
    RemoveFiles(device.path);
    std::error_code error;
    std::filesystem::copy_file(source.path, device.path, error);
    EXPECT_FALSE(error) << error.message();
    return device;
  }

  // Creates the client on the device's file and opens it (no Attach).
  void Create(Device& device, const std::function<void(Config&)>& tweak = nullptr,
              const TransportWrapper& wrap = nullptr) {
    device.client.reset();
    Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
    ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
    std::shared_ptr<Transport> inner = *curl;
    if (wrap) inner = wrap(inner);
    device.transport = std::make_shared<FaultTransport>(inner);
    Config config = MakeConfig();
    if (tweak) tweak(config);
    ClientDeps deps;
    deps.transport = device.transport;
    Result<std::unique_ptr<Client>> client = CreateTestClientForPath(
        device.path, server_->base_url(), server_->TokenProviderFor(user_), config, deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    device.client = std::move(*client);
    Status opened = device.client->Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }

  // (Re)starts the client on the device's file: CreateForPath, Open, Attach.
  void Start(Device& device, const std::function<void(Config&)>& tweak = nullptr,
             const TransportWrapper& wrap = nullptr) {
    Create(device, tweak, wrap);
    if (::testing::Test::HasFatalFailure()) return;
    Result<AttachResult> attached = device.client->Attach(user_);
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
                    FixtureUuid(n), name, name));
  }

  std::string ServerText(const std::string& sql) {
    Result<std::string> value = server_->QueryScalar(sql);
    EXPECT_TRUE(value.has_value()) << value.error().ToString();
    return value.value_or("<error>");
  }
  std::string ServerUserName(int n) {
    return ServerText(
        fmt::format("SELECT name FROM business.users WHERE id = '{}'", FixtureUuid(n)));
  }
  // Rows of sync.bundle_log of the fixture's user (optionally of one source).
  std::int64_t ServerBundles(std::string_view source_id = {}) {
    std::string sql = fmt::format(
        "SELECT count(*) FROM sync.bundle_log b JOIN sync.user_state u ON u.user_pk = b.user_pk "
        "WHERE u.user_id = '{}'",
        user_);
    if (!source_id.empty()) sql += fmt::format(" AND b.source_id = '{}'", source_id);
    return std::stoll(ServerText(sql));
  }

  // A server-originated write in the user's scope by `writer_source` (allocating that source's
  // next source_bundle_id); returns its bundle seq.
  std::int64_t ServerWriteAs(std::string_view writer_source, const std::string& sql) {
    Result<ScopeWriteResult> written = server_->service().ExecWrite(
        user_, std::string(writer_source), [&](SyncTransaction& tx) -> Status {
          Result<SqlRows> rows = tx.Exec(sql);
          return rows.has_value() ? Status() : rows.error();
        });
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    return written.has_value() ? written->bundle.bundle_seq : 0;
  }

  // Raises the user's retention floor and prunes (client.md §4.7 / §6.3 history_pruned).
  void PruneHistoryThrough(std::int64_t floor) {
    Status status = server_->Exec(
        fmt::format("UPDATE sync.user_state SET retained_bundle_floor = {} WHERE user_id = '{}'",
                    floor, user_));
    ASSERT_TRUE(status.ok()) << status.ToString();
    Result<std::int64_t> pruned = server_->service().RunRetentionPass();
    ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
  }

  std::unique_ptr<TestServer> server_;
  std::string user_ = "fixture-user";
  std::string file_prefix_ = "fixture";
  std::deque<Device> devices_;  // deque: Device references stay valid as devices are added
};

inline Status FixtureHookError() { return Status(ErrorCode::kInternal, "simulated crash"); }

}  // namespace oversync::oversqlite::testing

#endif  // OVERSYNC_OVERSQLITE_TESTS_CLIENT_FIXTURE_H_
