// Coverage-audit additions (client.md §9 and docs/compatibility.md client items) end to end
// against the in-process reference server (label e2e; needs OVERSYNC_TEST_DSN): rebase cases of
// §9 45 not pinned elsewhere, authoritative upsert vs. cascade children (§9 30), fail-closed
// inbound wire encodings (§9 31), typed rows through push/replay/pull/hydrate (§9 23, 28, 34, 36;
// compat 39), Sync convergence with writes during the push (compat 37), rebuild/recovery edges
// (§9 49, 50, 74, 79; compat 52, 53), connection isolation (compat 55), base URL with a trailing
// slash (compat 47) and the background/watch loops (§9 113, 114; compat 46).
//
// Not covered, on purpose: §9 33 (custom TEXT key column name). The wire key member is the
// lower-cased local key column name (client.md §2.2, §3.5), and every table the reference server
// registers keys on `id`, so a client table keyed on e.g. `doc_id` cannot be pushed to or pulled
// from this server; the custom-name capture side is pinned by lifecycle_test.cc
// (InstallsSixTriggersPerTableWithCustomKeysAndSelfReferences).
//
// Every wait is on a condition signalled by the transport (EventLog), never a sleep. Where a test
// asserts that something does NOT happen while a state holds, it watches for it during a short
// bounded window (kQuietWindow) — a negative check, not synchronisation.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client_fixture.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/client.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "test_events.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/json_writer.h"
#include "test_server.h"

namespace oversync::oversqlite::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A writer source of server-originated bundles (another device).
constexpr std::string_view kWriter = "3c5e7a9b-0000-4000-8000-00000000cccc";
// A replacement source id reserved for crafted source-recovery states.
constexpr std::string_view kReplacement = "6f2a1d3b-8c4e-4f50-9a61-0123456789ab";
// Negative checks watch this long for something that must not happen.
constexpr milliseconds kQuietWindow{300};

// posts with a local ON DELETE CASCADE to users (client DDL only; the server's FK has none).
constexpr std::string_view kPostsDdl = R"sql(
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  author_id TEXT REFERENCES users(id) ON DELETE CASCADE, created_at TEXT, updated_at TEXT);
)sql";

// The server's business.typed_rows locally: TEXT/INTEGER/REAL/BLOB plus a TIMESTAMP-declared
// column holding RFC 3339 text (the declared type the Go serializer re-types, client.md §3.4).
constexpr std::string_view kTypedRowsDdl = R"sql(
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT, count_value INTEGER,
  enabled_flag INTEGER NOT NULL, rating REAL, data BLOB, created_at TIMESTAMP);
)sql";

// users with a local CHECK the server does not have (a snapshot row can violate it).
constexpr std::string_view kCheckedUsersDdl = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL CHECK (name <> 'forbidden'), email TEXT NOT NULL,
  created_at TEXT, updated_at TEXT);
)sql";

void AddPosts(Config& config) { config.tables.push_back({"posts", "id", {}}); }
void AddTypedRows(Config& config) { config.tables.push_back({"typed_rows", "id", {}}); }

// Watch on, only events (never the fallback ticker) explain a pull, short loop backoff.
void WatchConfig(Config& config) {
  config.bundle_change_watch_mode = BundleChangeWatchMode::kAuto;
  config.watch_fallback_interval = Duration(600'000);
  config.backoff_min = Duration(20);
  config.backoff_max = Duration(200);
}
void PollingConfig(Config& config) {
  config.backoff_min = Duration(20);
  config.backoff_max = Duration(200);
}


// First column of the first row as text ("<none>" / "<null>"), on any connection (e.g. the
// client's own one handed to a freeze hook, which sees the open freeze transaction).
std::string QueryText(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return "<error>";
  }
  std::string out = "<none>";
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's unsigned text
    out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
  }
  sqlite3_finalize(stmt);
  return out;
}

// ---- JSON rewriting of server answers ----

protocol::JsonValue* MemberOf(protocol::JsonObject& object, std::string_view key) {
  for (protocol::JsonMember& member : object) {
    if (member.key == key) return &member.value;
  }
  return nullptr;
}

std::string StringMember(protocol::JsonObject& object, std::string_view key) {
  const protocol::JsonValue* value = MemberOf(object, key);
  return value != nullptr && value->kind() == protocol::JsonValue::Kind::kString
             ? value->as_string()
             : std::string();
}

// Calls `visit` on every object anywhere in `value`, outer objects first.
void VisitObjects(protocol::JsonValue& value,
                  const std::function<void(protocol::JsonObject&)>& visit) {
  if (value.kind() == protocol::JsonValue::Kind::kObject) {
    visit(value.mutable_object());
    for (protocol::JsonMember& member : value.mutable_object()) VisitObjects(member.value, visit);
  } else if (value.kind() == protocol::JsonValue::Kind::kArray) {
    for (protocol::JsonValue& item : value.mutable_array()) VisitObjects(item, visit);
  }
}

// Parses `body`, lets `edit` change it and writes it back (numbers keep their lexemes). An
// unparsable body is left alone.
void EditJson(std::string& body, const std::function<void(protocol::JsonValue&)>& edit) {
  Result<protocol::JsonValue> parsed = protocol::ParseJson(body);
  if (!parsed.has_value()) return;
  edit(*parsed);
  std::string out;
  protocol::JsonWriter(out).Value(*parsed);
  body = std::move(out);
}

std::string HeaderOf(const HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

class CoverageTest : public ClientFixture {
 protected:
  CoverageTest() {
    user_ = "coverage-user";
    file_prefix_ = "coverage";
  }

  // A new device file: `before` runs ahead of the fixture DDL (so it may define a fixture table
  // its own way; the fixture's CREATE TABLE IF NOT EXISTS then skips it), `after` behind it.
  Device& NewDeviceWith(std::string_view before, std::string_view after = {}) {
    const std::string path = NewPath();
    Device& device = devices_.emplace_back();
    device.path = path;
    RemoveFiles(device.path);
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(device.path.c_str(), &raw), SQLITE_OK);
    const std::string ddl = fmt::format("{}\n{}\n{}", before, kFixtureDdl, after);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, ddl.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(raw);
    return device;
  }

  // Wraps the device's real transport so every request signals events_.
  TransportWrapper Notifying() {
    return [events = events_](std::shared_ptr<Transport> curl) -> std::shared_ptr<Transport> {
      return std::make_shared<NotifyingTransport>(std::move(curl), events);
    };
  }

  // Requests of the device whose method is `method` and whose path is exactly `path`.
  static std::vector<HttpRequest> RequestsTo(const Device& d, std::string_view method,
                                             std::string_view path) {
    std::vector<HttpRequest> out;
    for (const HttpRequest& request : d.transport->Requests()) {
      if (request.method == method && FaultTransport::PathOf(request.url) == path) {
        out.push_back(request);
      }
    }
    return out;
  }

  // Bodies of the push chunk uploads recorded so far.
  static std::vector<std::string> ChunkBodies(const Device& d) {
    std::vector<std::string> out;
    for (const HttpRequest& request : d.transport->Requests()) {
      const std::string path = FaultTransport::PathOf(request.url);
      if (request.method == "POST" && path.rfind("/sync/push-sessions/", 0) == 0 &&
          path.find("/chunks") != std::string::npos) {
        out.push_back(request.body);
      }
    }
    return out;
  }

  std::string LocalUserName(const Device& d, int n) const {
    return d.Text(fmt::format("SELECT name FROM users WHERE id = '{}'", FixtureUuid(n)));
  }
  std::string ServerCount(const std::string& table, int n) {
    return ServerText(
        fmt::format("SELECT count(*) FROM business.{} WHERE id = '{}'", table, FixtureUuid(n)));
  }
  std::string DirtyOf(const Device& d, std::string_view table, int n) const {
    return d.Text(
        fmt::format("SELECT op || ':' || base_row_version || ':' || coalesce(payload, 'null') FROM "
                    "_sync_dirty_rows WHERE table_name = '{}' AND key_json = '{{\"id\":\"{}\"}}'",
                    table, FixtureUuid(n)));
  }
  std::string RowStateOf(const Device& d, std::string_view table, int n) const {
    return d.Text(fmt::format(
        "SELECT row_version || ':' || deleted FROM _sync_row_state WHERE table_name = '{}' AND "
        "key_json = '{{\"id\":\"{}\"}}'",
        table, FixtureUuid(n)));
  }

  // client.md §6.3 entry state, written the way EnterSourceRecovery persists it (reserved
  // replacement kReplacement with its fresh source row). Used where the reference server cannot
  // produce the state (an empty outbox) or where the cause is irrelevant to the test.
  static void CraftSourceRecovery(Device& d) {
    d.Exec(fmt::format(
        "INSERT INTO _sync_source_state (source_id, next_source_bundle_id) VALUES ('{}', 1)",
        kReplacement));
    d.Exec("UPDATE _sync_attachment_state SET rebuild_required = 1");
    d.Exec(fmt::format(
        "UPDATE _sync_operation_state SET kind = 'source_recovery', reason = 'history_pruned', "
        "replacement_source_id = '{}'",
        kReplacement));
  }

  std::string ServerReplacedBy(std::string_view source_id) {
    return ServerText(fmt::format(
        "SELECT coalesce(s.replaced_by_source_id, '') FROM sync.source_state s JOIN "
        "sync.user_state u ON u.user_pk = s.user_pk WHERE u.user_id = '{}' AND s.source_id = '{}'",
        user_, source_id));
  }

  std::shared_ptr<EventLog> events_ = std::make_shared<EventLog>();
};

// =====================================================================================
// §9 45 — rebase cases not pinned by push_test.cc
// =====================================================================================

// §9 45 (client.md §4.5 table row 2) — push_test.go:
// TestPushPending_RebasesSameKeyLocalIntentMutatedDuringUpload (recreate case). The uploaded
// DELETE commits, but the row was re-created locally before the replay: the replay skips the
// delete, requeues an INSERT with the live payload based on the committed (tombstone) version,
// the row survives, and the next push re-creates it on the server.
TEST_F(CoverageTest, DeleteRecreatedDuringUploadRequeuesInsertAndRecreatesOnServer) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "original");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", FixtureUuid(1)));
  d.client->SetBeforePushCommitHook([&]() -> Status {
    InsertUser(d, 1, "recreated");
    return Status::Ok();
  });
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  EXPECT_EQ(ServerCount("users", 1), "0");  // the DELETE committed (bundle 2)
  EXPECT_EQ(d.Checkpoint(), 2);
  EXPECT_EQ(LocalUserName(d, 1), "recreated");  // the live row survived the replay
  const std::string dirty = DirtyOf(d, "users", 1);
  EXPECT_EQ(dirty.rfind("INSERT:2:", 0), 0U) << dirty;
  EXPECT_NE(dirty.find("\"name\":\"recreated\""), std::string::npos) << dirty;
  EXPECT_EQ(RowStateOf(d, "users", 1), "2:1");  // committed version, deleted

  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(1), "recreated");
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(RowStateOf(d, "users", 1), "3:0");
  EXPECT_EQ(d.Checkpoint(), 3);
}

// §9 45 — push_test.go: TestPushPending_RebasesSameKeyLocalIntentMutatedDuringUpload (update
// case) on a push that commits cleanly: the uploaded UPDATE commits, the newer local value stays,
// is requeued as an UPDATE based on the committed version, and the next push sends it.
TEST_F(CoverageTest, SameKeyUpdateDuringCleanUploadIsRequeuedOnCommittedVersion) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "v1");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  d.Exec(fmt::format("UPDATE users SET name = 'v2' WHERE id = '{}'", FixtureUuid(1)));
  d.client->SetBeforePushCommitHook([&]() -> Status {
    d.Exec(fmt::format("UPDATE users SET name = 'v3' WHERE id = '{}'", FixtureUuid(1)));
    return Status::Ok();
  });
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  EXPECT_EQ(ServerUserName(1), "v2");
  EXPECT_EQ(LocalUserName(d, 1), "v3");
  const std::string dirty = DirtyOf(d, "users", 1);
  EXPECT_EQ(dirty.rfind("UPDATE:2:", 0), 0U) << dirty;
  EXPECT_NE(dirty.find("\"name\":\"v3\""), std::string::npos) << dirty;
  EXPECT_EQ(RowStateOf(d, "users", 1), "2:0");

  d.transport->ResetCounts();
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::vector<std::string> chunks = ChunkBodies(d);
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_NE(chunks[0].find("\"op\":\"UPDATE\""), std::string::npos) << chunks[0];
  EXPECT_NE(chunks[0].find("\"base_row_version\":2"), std::string::npos) << chunks[0];
  EXPECT_NE(chunks[0].find("\"name\":\"v3\""), std::string::npos) << chunks[0];
  EXPECT_EQ(ServerUserName(1), "v3");
  EXPECT_EQ(d.Dirty(), 0);
}

// =====================================================================================
// Apply: upsert semantics and inbound wire encodings
// =====================================================================================

// §9 30 — blob_uuid_pk_parity_test.go:
// TestApplyBundleRowAuthoritativelyInTx_UpsertPreservesChildrenForBlobPKTables (client.md §5.3):
// pulling a server-side UPDATE of a parent is a real upsert, so the parent's local ON DELETE
// CASCADE children survive (a delete+insert or INSERT OR REPLACE would cascade them away).
TEST_F(CoverageTest, AuthoritativeUpsertOfParentKeepsCascadeChildren) {
  Device& d = NewDeviceWith({}, kPostsDdl);
  Start(d, AddPosts);
  InsertUser(d, 1, "author");
  d.Exec(
      fmt::format("INSERT INTO posts (id, title, content, author_id) VALUES ('{}', 't', 'c', '{}')",
                  FixtureUuid(10), FixtureUuid(1)));
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);

  const std::int64_t seq = ServerWriteAs(
      kWriter,
      fmt::format("UPDATE business.users SET name = 'renamed' WHERE id = '{}'", FixtureUuid(1)));
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(pulled->outcome, RemoteSyncOutcome::kAppliedIncremental);
  EXPECT_EQ(d.Checkpoint(), seq);
  EXPECT_EQ(LocalUserName(d, 1), "renamed");
  EXPECT_EQ(d.Int("SELECT count(*) FROM posts"), 1);
  EXPECT_EQ(d.Text(fmt::format("SELECT author_id FROM posts WHERE id = '{}'", FixtureUuid(10))),
            FixtureUuid(1));
  EXPECT_EQ(d.Dirty(), 0);

  // The cascade is live on this connection (so the check above is not vacuous).
  InsertUser(d, 2, "temp");
  d.Exec(
      fmt::format("INSERT INTO posts (id, title, content, author_id) VALUES ('{}', 't', 'c', '{}')",
                  FixtureUuid(20), FixtureUuid(2)));
  d.Exec(fmt::format("DELETE FROM users WHERE id = '{}'", FixtureUuid(2)));
  EXPECT_EQ(d.Int(fmt::format("SELECT count(*) FROM posts WHERE id = '{}'", FixtureUuid(20))), 0);
  EXPECT_EQ(d.Int("SELECT count(*) FROM posts"), 1);
}

// §9 31 — blob_uuid_pk_parity_test.go:
// TestApplyBundleRowAuthoritativelyInTx_RejectsNonCanonicalWireEncodingsForBlobTables (client.md
// §3.5, §3.6 inbound): a BLOB key given as 32 hex digits instead of a dashed UUID, or BLOB data
// given as hex that is not valid base64 ("0011223344", 10 chars), fails the pull closed: nothing
// applied, no row state, checkpoint unchanged. The unmodified answer then applies.
TEST_F(CoverageTest, NonCanonicalInboundBlobEncodingsFailClosed) {
  Device& d = StartedDevice();
  const std::int64_t seq = ServerWriteAs(
      kWriter, fmt::format("INSERT INTO business.files (id, name, data) VALUES ('{}', 'f', "
                           "decode('0011223344', 'hex'))",
                           FixtureUuid(30)));

  struct Case {
    std::string what;
    std::string error;  // the reason the client gives
    std::function<void(protocol::JsonObject& row)> edit;
  };
  const std::vector<Case> cases = {
      {"32-hex key", "failed to decode canonical wire bundle row key",
       [](protocol::JsonObject& row) {
         protocol::JsonValue* key = MemberOf(row, "key");
         ASSERT_NE(key, nullptr);
         protocol::JsonValue* id = MemberOf(key->mutable_object(), "id");
         ASSERT_NE(id, nullptr);
         ASSERT_EQ(id->as_string(), FixtureUuid(30));
         *id = protocol::JsonValue::String(FixtureHex(30));
       }},
      {"hex data", "failed to decode base64 blob value for files.data",
       [](protocol::JsonObject& row) {
         protocol::JsonValue* payload = MemberOf(row, "payload");
         ASSERT_NE(payload, nullptr);
         protocol::JsonValue* data = MemberOf(payload->mutable_object(), "data");
         ASSERT_NE(data, nullptr);
         ASSERT_EQ(data->as_string(), "ABEiM0Q=");  // canonical: base64 of 00 11 22 33 44
         *data = protocol::JsonValue::String("0011223344");
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    int edited = 0;
    d.transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse& response) {
      if (FaultTransport::PathOf(request.url) != "/sync/pull") return;
      EditJson(response.body, [&](protocol::JsonValue& body) {
        VisitObjects(body, [&](protocol::JsonObject& object) {
          if (StringMember(object, "table") != "files" || MemberOf(object, "key") == nullptr) {
            return;
          }
          c.edit(object);
          ++edited;
        });
      });
    });
    Result<RemoteSyncReport> failed = d.client->PullToStable();
    d.transport->SetResponseRewriter(nullptr);
    EXPECT_EQ(edited, 1);
    ASSERT_FALSE(failed.has_value()) << "a non-canonical " << c.what << " was applied";
    EXPECT_NE(failed.error().message().find(c.error), std::string::npos)
        << failed.error().ToString();
    EXPECT_EQ(d.Int("SELECT count(*) FROM files"), 0);
    EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state"), 0);
    EXPECT_EQ(d.Checkpoint(), 0);
    EXPECT_EQ(d.Dirty(), 0);
    EXPECT_EQ(d.ApplyMode(), 0);
  }

  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(d.Checkpoint(), seq);
  EXPECT_EQ(d.Text(fmt::format("SELECT hex(data) FROM files WHERE id = x'{}'", FixtureHex(30))),
            "0011223344");
}

// =====================================================================================
// Typed rows (§9 23, 28, 34, 36; compat 39)
// =====================================================================================

// §9 36 — oversqlite_e2e/typed_rows_end_to_end_test.go:
// TestEndToEnd_TypedRowsPushPullHydrateAndImmediatePullStayConsistent; §9 34 —
// push_test.go: TestPushPending_RealColumnReplayDoesNotRequeueEquivalentValue; §9 23, 28 —
// typed_payload_parity_test.go: TestDirtyRowCapture_TypedRows_NullBlobRemainsJsonNull,
// TestProcessPayloadForUpload_TypedRows_Base64EncodesBlobAndKeepsNulls; compat 39 (live-row
// payloads come from the trigger's own json_object, so a TIMESTAMP-declared column holding
// RFC 3339 text causes no spurious requeue after the replay).
TEST_F(CoverageTest, TypedRowsStayConsistentThroughPushReplayPullAndHydrate) {
  Device& a = NewDeviceWith({}, kTypedRowsDdl);
  Start(a, AddTypedRows);
  Device& b = NewDeviceWith({}, kTypedRowsDdl);
  Start(b, AddTypedRows);

  const std::string full = FixtureUuid(101);
  const std::string tenth = FixtureUuid(102);
  const std::string nulls = FixtureUuid(103);
  a.Exec(
      fmt::format("INSERT INTO typed_rows VALUES ('{}', 'full', 'note', 42, 1, 1.25, x'001122ff', "
                  "'2024-05-06T07:08:09Z')",
                  full));
  a.Exec(
      fmt::format("INSERT INTO typed_rows VALUES ('{}', 'tenth', NULL, -7, 0, 0.1, NULL, "
                  "'2024-05-06T07:08:09.125+02:00')",
                  tenth));
  a.Exec(fmt::format("INSERT INTO typed_rows (id, name, enabled_flag) VALUES ('{}', 'nulls', 0)",
                     nulls));

  // §9 23: capture keeps typed values; a NULL BLOB is JSON null, a BLOB is lowercase hex.
  const std::string captured_full = DirtyOf(a, "typed_rows", 101);
  EXPECT_NE(captured_full.find("\"data\":\"001122ff\""), std::string::npos) << captured_full;
  EXPECT_NE(captured_full.find("\"rating\":1.25"), std::string::npos) << captured_full;
  EXPECT_NE(captured_full.find("\"count_value\":42"), std::string::npos) << captured_full;
  EXPECT_NE(captured_full.find("\"created_at\":\"2024-05-06T07:08:09Z\""), std::string::npos)
      << captured_full;
  const std::string captured_nulls = DirtyOf(a, "typed_rows", 103);
  for (const char* column : {"note", "count_value", "rating", "data", "created_at"}) {
    EXPECT_NE(captured_nulls.find(fmt::format("\"{}\":null", column)), std::string::npos)
        << column << " in " << captured_nulls;
  }

  a.transport->ResetCounts();
  ASSERT_EQ(MustPush(a).outcome, PushOutcome::kCommitted);
  // §9 34 / compat 39: the replay found every live row equal to what was uploaded.
  EXPECT_EQ(a.Dirty(), 0);
  EXPECT_EQ(a.OutboxRows(), 0);
  // §9 28: BLOB data base64 on the wire, a NULL BLOB stays null.
  const std::vector<std::string> chunks = ChunkBodies(a);
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_NE(chunks[0].find("\"data\":\"ABEi/w==\""), std::string::npos) << chunks[0];
  EXPECT_NE(chunks[0].find("\"data\":null"), std::string::npos) << chunks[0];

  // The server holds the typed values.
  EXPECT_EQ(ServerText(fmt::format(
                "SELECT encode(data, 'hex') || '|' || count_value || '|' || rating || '|' || "
                "(created_at = '2024-05-06T07:08:09Z'::timestamptz) FROM business.typed_rows "
                "WHERE id = '{}'",
                full)),
            "001122ff|42|1.25|true");
  EXPECT_EQ(ServerText(fmt::format(
                "SELECT rating::text || '|' || (created_at = "
                "'2024-05-06T07:08:09.125+02:00'::timestamptz) FROM business.typed_rows WHERE "
                "id = '{}'",
                tenth)),
            "0.1|true");
  EXPECT_EQ(ServerText(fmt::format(
                "SELECT count(*) FROM business.typed_rows WHERE id = '{}' AND note IS NULL AND "
                "count_value IS NULL AND rating IS NULL AND data IS NULL AND created_at IS NULL",
                nulls)),
            "1");

  // An immediate pull on the pushing device has nothing to do and requeues nothing.
  Result<RemoteSyncReport> again = a.client->PullToStable();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->outcome, RemoteSyncOutcome::kAlreadyAtTarget);
  EXPECT_EQ(a.Dirty(), 0);
  EXPECT_EQ(MustPush(a).outcome, PushOutcome::kNoChange);

  // Second device: incremental pull. Third device: hydrate (remote_authoritative attach).
  Result<RemoteSyncReport> pulled = b.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(pulled->outcome, RemoteSyncOutcome::kAppliedIncremental);
  Device& c = NewDeviceWith({}, kTypedRowsDdl);
  Create(c, AddTypedRows);
  Result<AttachResult> attached = c.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  EXPECT_EQ(attached->outcome, AttachOutcome::kUsedRemoteState);

  Result<std::vector<std::string>> rows_a = a.client->GetTableRows("typed_rows");
  ASSERT_TRUE(rows_a.has_value()) << rows_a.error().ToString();
  ASSERT_EQ(rows_a->size(), 3U);
  for (Device* other : {&b, &c}) {
    Result<std::vector<std::string>> rows = other->client->GetTableRows("typed_rows");
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    EXPECT_EQ(*rows, *rows_a);
    for (const std::string& key : {full, tenth, nulls}) {
      Result<std::string> mine = a.client->SerializeRow("typed_rows", key);
      Result<std::string> theirs = other->client->SerializeRow("typed_rows", key);
      ASSERT_TRUE(mine.has_value() && theirs.has_value()) << key;
      EXPECT_EQ(*theirs, *mine) << key;
    }
  }
  for (Device* device : {&a, &b, &c}) {
    SCOPED_TRACE(device->path);
    EXPECT_EQ(device->Text(fmt::format(
                  "SELECT typeof(count_value) || '|' || count_value || '|' || typeof(rating) || "
                  "'|' || (rating = 1.25) || '|' || hex(data) || '|' || enabled_flag FROM "
                  "typed_rows WHERE id = '{}'",
                  full)),
              "integer|42|real|1|001122FF|1");
    EXPECT_EQ(device->Text(fmt::format(
                  "SELECT typeof(rating) || '|' || (rating = 0.1) || '|' || count_value FROM "
                  "typed_rows WHERE id = '{}'",
                  tenth)),
              "real|1|-7");
    EXPECT_EQ(device->Text(fmt::format(
                  "SELECT typeof(note) || typeof(count_value) || typeof(rating) || typeof(data) "
                  "|| typeof(created_at) FROM typed_rows WHERE id = '{}'",
                  nulls)),
              "nullnullnullnullnull");
    EXPECT_EQ(device->Dirty(), 0);
  }
}

// =====================================================================================
// Sync convergence (compat 37)
// =====================================================================================

// docs/compatibility.md 37 (client.md §1.6 Sync; Go would fail the pull with
// DirtyStateRejectedError): edits made while the push is in flight are pushed by up to two more
// pushes inside the same Sync, then the pull applies a peer bundle.
TEST_F(CoverageTest, SyncConvergesWhenTheAppWritesDuringThePush) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "first");
  const std::int64_t peer_seq = ServerWriteAs(
      kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', 'peer', "
                           "'peer@example.com')",
                           FixtureUuid(50)));
  d.client->SetBeforePushCommitHook([&]() -> Status {
    InsertUser(d, 2, "during");
    d.Exec(fmt::format("UPDATE users SET name = 'first-edited' WHERE id = '{}'", FixtureUuid(1)));
    return Status::Ok();
  });
  d.transport->ResetCounts();
  Result<SyncReport> synced = d.client->Sync();
  ASSERT_TRUE(synced.has_value()) << synced.error().ToString();
  EXPECT_EQ(synced->push_outcome, PushOutcome::kCommitted);
  EXPECT_EQ(synced->remote_outcome, RemoteSyncOutcome::kAppliedIncremental);
  EXPECT_EQ(RequestsTo(d, "POST", "/sync/push-sessions").size(), 2U);  // push + one extra push
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(ServerUserName(1), "first-edited");
  EXPECT_EQ(ServerUserName(2), "during");
  EXPECT_EQ(LocalUserName(d, 50), "peer");
  EXPECT_GT(d.Checkpoint(), peer_seq);
  EXPECT_EQ(std::to_string(d.Checkpoint()),
            ServerText(fmt::format("SELECT max(b.bundle_seq) FROM sync.bundle_log b JOIN "
                                   "sync.user_state u ON u.user_pk = b.user_pk WHERE "
                                   "u.user_id = '{}'",
                                   user_)));
}

// =====================================================================================
// Push metadata, rebuild and recovery edges
// =====================================================================================

// §9 50 — push_test.go: TestPushPending_FailsClosedOnCommittedReplayMetadataMismatch (row_count
// half; the bundle_hash halves are in push_test.cc): a commit answer with a wrong row_count fails
// closed — nothing applied, checkpoint and next_source_bundle_id unchanged, outbox kept — and the
// next push recovers through already_committed.
TEST_F(CoverageTest, CommitResponseWithWrongRowCountFailsClosed) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  int rewritten = 0;
  d.transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse& response) {
    const std::string path = FaultTransport::PathOf(request.url);
    if (request.method != "POST" || path.size() < 7 ||
        path.compare(path.size() - 7, 7, "/commit") != 0) {
      return;
    }
    EditJson(response.body, [&](protocol::JsonValue& body) {
      protocol::JsonValue* count = MemberOf(body.mutable_object(), "row_count");
      if (count == nullptr) return;
      *count =
          protocol::JsonValue::Integer(static_cast<std::int64_t>(count->as_number().value) + 1);
      ++rewritten;
    });
  });
  Result<PushReport> failed = d.client->PushPending();
  d.transport->SetResponseRewriter(nullptr);
  EXPECT_EQ(rewritten, 1);
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("row_count"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(d.Checkpoint(), 0);
  EXPECT_EQ(d.NextBundleId(), 1);
  EXPECT_EQ(d.OutboxRows(), 1);
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state"), 0);
  EXPECT_EQ(d.ApplyMode(), 0);
  EXPECT_EQ(LocalUserName(d, 1), "a");

  d.transport->ResetCounts();
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_TRUE(ChunkBodies(d).empty());  // rediscovered as already_committed, not re-uploaded
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.NextBundleId(), 2);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(RowStateOf(d, "users", 1), "1:0");
}

// §9 49 — push_test.go: TestCompareCommittedBundleToCanonicalOutbox_IgnoresEquivalentRowOrder.
// The committed rows cannot be reordered on the wire (the bundle hash covers their order and is
// checked first), so the outbox side is reordered instead: after a crash between commit and
// replay, the frozen rows' ordinals are reversed on disk. The already_committed comparison must
// still accept the bundle. A tampered wire payload first proves the comparison is active.
TEST_F(CoverageTest, AlreadyCommittedComparisonIgnoresRowOrder) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  InsertUser(d, 2, "b");
  InsertUser(d, 3, "c");
  d.client->SetBeforePushReplayHook([] { return FixtureHookError(); });
  ASSERT_FALSE(d.client->PushPending().has_value());
  ASSERT_EQ(d.OutboxState(), "committed_remote");
  Start(d);  // restart: the replay resumes through already_committed
  const std::string order_before = d.Text(
      "SELECT group_concat(key_json, ',') FROM (SELECT key_json FROM _sync_outbox_rows "
      "ORDER BY row_ordinal)");

  // Control (profile A, go-oversync 1f1118f's payload proof): a different frozen payload is a
  // mismatch, fail closed. Profile B proves the bundle by the echoed canonical_request_hash
  // instead and applies the server's rows (kmp-client.md §3.5; docs/compatibility.md 81).
  if (!TestingProfileB()) {
    const std::string original =
        d.Text("SELECT wire_payload FROM _sync_outbox_rows WHERE row_ordinal = 1");
    d.Exec(
        "UPDATE _sync_outbox_rows SET wire_payload = replace(wire_payload, '\"name\":\"b\"', "
        "'\"name\":\"tampered\"') WHERE row_ordinal = 1");
    Result<PushReport> mismatch = d.client->PushPending();
    ASSERT_FALSE(mismatch.has_value());
    EXPECT_NE(mismatch.error().message().find("does not match canonical outbox"), std::string::npos)
        << mismatch.error().ToString();
    EXPECT_EQ(d.Checkpoint(), 0);
    EXPECT_EQ(d.OutboxState(), "committed_remote");
    d.Exec(fmt::format("UPDATE _sync_outbox_rows SET wire_payload = '{}' WHERE row_ordinal = 1",
                       original));
  }

  // Reverse the outbox order (two steps: row_ordinal is part of the primary key).
  d.Exec("UPDATE _sync_outbox_rows SET row_ordinal = row_ordinal + 100");
  d.Exec("UPDATE _sync_outbox_rows SET row_ordinal = 102 - row_ordinal");
  const std::string order_after = d.Text(
      "SELECT group_concat(key_json, ',') FROM (SELECT key_json FROM _sync_outbox_rows "
      "ORDER BY row_ordinal)");
  ASSERT_NE(order_after, order_before);

  d.transport->ResetCounts();
  Result<PushReport> pushed = d.client->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
  EXPECT_TRUE(ChunkBodies(d).empty());
  EXPECT_EQ(d.Checkpoint(), 1);
  EXPECT_EQ(d.OutboxRows(), 0);
  EXPECT_EQ(d.Dirty(), 0);
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state WHERE row_version = 1"), 3);
}

// docs/compatibility.md 53 (client.md §6.1 step 4): a snapshot row whose payload is JSON null is
// rejected when its chunk is validated, before anything of the chunk is staged (the valid row
// ahead of it included); business rows and checkpoint are untouched; the unmodified snapshot
// then applies.
TEST_F(CoverageTest, SnapshotRowWithNullPayloadIsRejectedBeforeStaging) {
  Device& d = StartedDevice();
  ServerWriteAs(kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES "
                                     "('{}', 's1', 's1@x'), ('{}', 's2', 's2@x')",
                                     FixtureUuid(61), FixtureUuid(62)));
  int nulled = 0;
  d.transport->SetResponseRewriter([&](const HttpRequest& request, HttpResponse& response) {
    if (request.method != "GET" ||
        FaultTransport::PathOf(request.url).rfind("/sync/snapshot-sessions/", 0) != 0) {
      return;
    }
    EditJson(response.body, [&](protocol::JsonValue& body) {
      int seen = 0;
      VisitObjects(body, [&](protocol::JsonObject& object) {
        protocol::JsonValue* payload = MemberOf(object, "payload");
        if (payload == nullptr || MemberOf(object, "row_version") == nullptr) return;
        if (++seen == 2) {  // the second row; the first one is valid
          *payload = protocol::JsonValue();
          ++nulled;
        }
      });
    });
  });
  Result<RemoteSyncReport> failed = d.client->Rebuild();
  d.transport->SetResponseRewriter(nullptr);
  EXPECT_EQ(nulled, 1);
  ASSERT_FALSE(failed.has_value());
  // Rejected by the chunk decoder already (snapshot.cc's own null-payload check is the backstop).
  EXPECT_NE(failed.error().message().find("rows[1].payload must be an object"), std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(d.SnapshotStage(), 0);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 0);
  EXPECT_EQ(d.Checkpoint(), 0);
  EXPECT_EQ(d.ApplyMode(), 0);

  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);
  EXPECT_EQ(d.SnapshotStage(), 0);
}

// §9 74 — pull_test.go: TestRebuild_KeepsManagedSourceAndBundleStateOutsideSourceRecovery
// (historical-table half; client.md §6.1 step 5 clears `_sync_managed_tables` ∪ config): a table
// that was managed and is no longer in the configuration is emptied by a keep-source Rebuild,
// which keeps the source id and next_source_bundle_id.
TEST_F(CoverageTest, KeepSourceRebuildClearsHistoricalManagedTable) {
  Device& d = NewDeviceWith({}, kPostsDdl);
  Start(d, AddPosts);
  InsertUser(d, 1, "author");
  d.Exec(
      fmt::format("INSERT INTO posts (id, title, content, author_id) VALUES ('{}', 't', 'c', '{}')",
                  FixtureUuid(10), FixtureUuid(1)));
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  // The server's scope loses the post (so the snapshot has no row of the unmanaged table).
  ServerWriteAs(kWriter,
                fmt::format("DELETE FROM business.posts WHERE id = '{}'", FixtureUuid(10)));
  const std::string source = d.client->source_id();
  const std::int64_t next_bundle = d.NextBundleId();

  Start(d);  // restart without posts in the configuration
  ASSERT_EQ(d.Int("SELECT count(*) FROM _sync_managed_tables WHERE table_name = 'posts'"), 1);
  ASSERT_EQ(d.Int("SELECT count(*) FROM posts"), 1);
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(d.Int("SELECT count(*) FROM posts"), 0);
  EXPECT_EQ(d.Int("SELECT count(*) FROM _sync_row_state WHERE table_name = 'posts'"), 0);
  EXPECT_EQ(LocalUserName(d, 1), "author");
  EXPECT_EQ(d.client->source_id(), source);
  EXPECT_EQ(d.NextBundleId(), next_bundle);
  EXPECT_EQ(d.Dirty(), 0);
}

// docs/compatibility.md 52 (client.md §6.1 step 5 / §6.3; Go failed "outbox must be prepared"
// forever): a source-recovery Rebuild with an empty outbox (state none) simply has nothing to
// re-target and rotates. The reference server never answers a push with a recovery code without
// a frozen outbox, so the durable entry state is written as EnterSourceRecovery writes it.
TEST_F(CoverageTest, SourceRecoveryRebuildWithEmptyOutboxRotates) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "a");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::string old_source = d.client->source_id();
  CraftSourceRecovery(d);
  ASSERT_EQ(d.OutboxState(), "none");
  ASSERT_EQ(d.OutboxRows(), 0);

  d.transport->ResetCounts();
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  const std::vector<HttpRequest> creates = RequestsTo(d, "POST", "/sync/snapshot-sessions");
  ASSERT_EQ(creates.size(), 1U);
  EXPECT_NE(creates[0].body.find(fmt::format("\"new_source_id\":\"{}\"", kReplacement)),
            std::string::npos)
      << creates[0].body;
  EXPECT_EQ(d.client->source_id(), kReplacement);
  EXPECT_EQ(d.OperationKind(), "none");
  EXPECT_EQ(d.RebuildRequired(), 0);
  EXPECT_EQ(d.OutboxState(), "none");
  EXPECT_EQ(d.NextBundleId(), 1);
  EXPECT_EQ(LocalUserName(d, 1), "a");
  EXPECT_EQ(ServerReplacedBy(old_source), kReplacement);

  // The fresh source pushes as bundle 1.
  InsertUser(d, 2, "after");
  d.transport->ResetCounts();
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::vector<HttpRequest> sessions = RequestsTo(d, "POST", "/sync/push-sessions");
  ASSERT_EQ(sessions.size(), 1U);
  EXPECT_NE(sessions[0].body.find("\"source_bundle_id\":1"), std::string::npos) << sessions[0].body;
  EXPECT_EQ(HeaderOf(sessions[0], "Oversync-Source-ID"), kReplacement);
  EXPECT_EQ(ServerBundles(kReplacement), 1);
  EXPECT_EQ(ServerUserName(2), "after");
}

// §9 79 — pull_test.go: TestRebuildRotateSource_SourceIDDoesNotRotateOnFailedFinalApply: the
// snapshot of a source-recovery Rebuild contains a row that violates a local CHECK constraint,
// so the final apply fails. It rolls back completely: source id (memory and disk), reservation,
// recovery state, checkpoint, next_source_bundle_id and business rows are unchanged, the stage
// remains. Once the server row is fixed, the retry rotates to the same reserved replacement.
TEST_F(CoverageTest, SourceNotRotatedWhenRecoveryFinalApplyFails) {
  Device& d = NewDeviceWith(kCheckedUsersDdl);
  Start(d);
  InsertUser(d, 1, "a");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  ServerWriteAs(kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', "
                                     "'forbidden', 'f@x')",
                                     FixtureUuid(2)));
  const std::string old_source = d.client->source_id();
  const std::int64_t checkpoint = d.Checkpoint();
  const std::int64_t next_bundle = d.NextBundleId();
  CraftSourceRecovery(d);

  Result<RemoteSyncReport> failed = d.client->Rebuild();
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message().find("CHECK"), std::string::npos) << failed.error().ToString();
  EXPECT_EQ(d.client->source_id(), old_source);
  EXPECT_EQ(d.Text("SELECT current_source_id FROM _sync_attachment_state"), old_source);
  EXPECT_EQ(d.OperationKind(), "source_recovery");
  EXPECT_EQ(d.Reservation(), kReplacement);
  EXPECT_EQ(d.RebuildRequired(), 1);
  EXPECT_EQ(d.Checkpoint(), checkpoint);
  EXPECT_EQ(d.NextBundleId(), next_bundle);
  EXPECT_EQ(
      d.Text(fmt::format("SELECT coalesce(replaced_by_source_id, '') FROM _sync_source_state WHERE "
                         "source_id = '{}'",
                         old_source)),
      "");
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 1);
  EXPECT_EQ(LocalUserName(d, 1), "a");
  EXPECT_GT(d.SnapshotStage(), 0);
  EXPECT_EQ(d.ApplyMode(), 0);

  ServerWriteAs(kWriter, fmt::format("UPDATE business.users SET name = 'allowed' WHERE id = '{}'",
                                     FixtureUuid(2)));
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(d.client->source_id(), kReplacement);
  EXPECT_EQ(d.OperationKind(), "none");
  EXPECT_EQ(LocalUserName(d, 2), "allowed");
  EXPECT_EQ(d.SnapshotStage(), 0);
}

// =====================================================================================
// Connection isolation (compat 55)
// =====================================================================================

// Busy handler of the application's handle: reports the first time the app's write had to wait
// for the client's transaction, then keeps waiting (bounded) like a busy timeout would.
struct BusyProbe {
  std::atomic<bool> signalled{false};
  std::promise<void> first_wait;
};
int RecordingBusyHandler(void* arg, int count) {
  auto* probe = static_cast<BusyProbe*>(arg);
  if (!probe->signalled.exchange(true)) probe->first_wait.set_value();
  if (count > 20'000) return 0;  // ~20 s: give up (SQLITE_BUSY) instead of hanging the test
  sqlite3_sleep(1);              // the handler's retry pacing, as sqlite3_busy_timeout's is
  return 1;
}

// docs/compatibility.md 55 (client.md §1.2 / client.h ownership): while a client operation holds
// its transaction (the freeze hook runs inside it, on the client's private connection), an app
// INSERT on db() is not part of it: it waits for the lock (the probe sees SQLITE_BUSY), is not
// visible inside the client's transaction, survives that transaction's rollback, and once it
// lands is captured as an ordinary dirty row that the next push uploads.
TEST_F(CoverageTest, AppWriteDuringClientTransactionWaitsAndIsNeverSwallowed) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "before");

  for (const bool fail_freeze : {true, false}) {
    SCOPED_TRACE(fail_freeze ? "freeze rolled back" : "freeze committed");
    const int app_user = fail_freeze ? 2 : 3;
    BusyProbe probe;
    std::future<void> waiting = probe.first_wait.get_future();
    sqlite3_busy_handler(d.db(), RecordingBusyHandler, &probe);
    int app_rc = -1;
    std::string seen_inside = "<hook not run>";
    std::thread app_writer;
    d.client->SetBeforePushFreezeHook([&](sqlite3* tx_db) -> Status {
      app_writer = std::thread([&] {
        app_rc = sqlite3_exec(
            d.db(),
            fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', 'app', 'app@x')",
                        FixtureUuid(app_user))
                .c_str(),
            nullptr, nullptr, nullptr);
      });
      if (waiting.wait_for(seconds(30)) != std::future_status::ready) {
        return Status(ErrorCode::kInternal, "the app write never waited for the freeze");
      }
      seen_inside = QueryText(
          tx_db, fmt::format("SELECT count(*) FROM users WHERE id = '{}'", FixtureUuid(app_user)));
      return fail_freeze ? FixtureHookError() : Status::Ok();
    });
    Result<PushReport> pushed = d.client->PushPending();
    if (app_writer.joinable()) app_writer.join();
    sqlite3_busy_timeout(d.db(), 5000);  // back to CreateForPath's setting

    EXPECT_EQ(seen_inside, "0");
    EXPECT_EQ(app_rc, SQLITE_OK);
    EXPECT_EQ(LocalUserName(d, app_user), "app");
    const std::string dirty = DirtyOf(d, "users", app_user);
    EXPECT_EQ(dirty.rfind("INSERT:0:", 0), 0U) << dirty;
    if (fail_freeze) {
      ASSERT_FALSE(pushed.has_value());
      EXPECT_EQ(d.OutboxRows(), 0);
      EXPECT_EQ(d.Dirty(), 2);  // user 1 back from the rolled-back freeze, plus the app's row
    } else {
      ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
      EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
      EXPECT_EQ(ServerCount("users", 3), "0");  // not part of the frozen bundle
      EXPECT_EQ(ServerUserName(2), "app");
      EXPECT_EQ(d.Dirty(), 1);
    }
  }
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerUserName(3), "app");
  EXPECT_EQ(d.Dirty(), 0);
}

// =====================================================================================
// Base URL (compat 47)
// =====================================================================================

// docs/compatibility.md 47: a base URL ending in '/' works for every endpoint (Go trimmed it only
// for capabilities, connect and watch, so push/pull/snapshot went to "//sync/...").
TEST_F(CoverageTest, TrailingSlashBaseUrlWorksForEveryEndpoint) {
  Device& d = NewDevice();
  Result<std::shared_ptr<Transport>> curl = MakeCurlTransport();
  ASSERT_TRUE(curl.has_value()) << curl.error().ToString();
  d.transport = std::make_shared<FaultTransport>(*curl);
  ClientDeps deps;
  deps.transport = d.transport;
  Result<std::unique_ptr<Client>> client = CreateTestClientForPath(
      d.path, server_->base_url() + "/", server_->TokenProviderFor(user_), MakeConfig(), deps);
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  d.client = std::move(*client);
  ASSERT_TRUE(d.client->Open().ok());
  Result<AttachResult> attached = d.client->Attach(user_);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();

  InsertUser(d, 1, "slash");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::int64_t seq = ServerWriteAs(
      kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', 'peer', "
                           "'p@x')",
                           FixtureUuid(2)));
  Result<RemoteSyncReport> pulled = d.client->PullToStable();
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(d.Checkpoint(), seq);
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->outcome, RemoteSyncOutcome::kAppliedSnapshot);
  EXPECT_EQ(d.Int("SELECT count(*) FROM users"), 2);

  const std::vector<HttpRequest> requests = d.transport->Requests();
  bool saw_push = false;
  bool saw_pull = false;
  bool saw_snapshot = false;
  for (const HttpRequest& request : requests) {
    const std::string path = FaultTransport::PathOf(request.url);
    EXPECT_EQ(request.url.find("//sync"), std::string::npos) << request.url;
    EXPECT_EQ(path.rfind("/sync/", 0), 0U) << request.url;
    saw_push |= path.rfind("/sync/push-sessions", 0) == 0;
    saw_pull |= path == "/sync/pull";
    saw_snapshot |= path.rfind("/sync/snapshot-sessions", 0) == 0;
  }
  EXPECT_TRUE(saw_push && saw_pull && saw_snapshot);
}

// =====================================================================================
// Background loops and the watch (§9 113, 114; compat 46)
// =====================================================================================

// §9 113 — watch_test.go: TestStart_WatchSetupWaitsForStartupSyncContention: StartBackground
// while another operation holds the op lock (a push blocked in its commit hook). The watch setup
// waits for the lock instead of falling back to polling, fetches capabilities only afterwards,
// opens the watch, and issues no pull of its own at startup.
TEST_F(CoverageTest, WatchSetupWaitsForBusyOperationAndDoesNotPullAtStartup) {
  Device& d = NewDevice();
  Start(d, WatchConfig, Notifying());
  InsertUser(d, 1, "a");
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  d.client->SetBeforePushCommitHook([&]() -> Status {
    entered.set_value();
    released.wait();
    return Status::Ok();
  });
  Result<PushReport> pushed = Error(ErrorCode::kInternal, "not run");
  std::thread pusher([&] { pushed = d.client->PushPending(); });
  ASSERT_EQ(entered.get_future().wait_for(seconds(30)), std::future_status::ready);
  d.client->PauseUploads();  // after the held push passed its pause check
  d.transport->ResetCounts();
  ASSERT_TRUE(d.client->StartBackground().ok());

  // While the operation runs, the setup does not get past the lock.
  EXPECT_FALSE(events_->WaitFor([&] { return d.transport->Count("GET", "/sync/capabilities") > 0; },
                                kQuietWindow));
  release.set_value();
  pusher.join();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);

  ASSERT_TRUE(events_->WaitFor([&] { return d.transport->Count("GET", "/sync/watch") >= 1; }));
  const std::vector<HttpRequest> requests = d.transport->Requests();
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t commit_at = kNone;
  std::size_t capabilities_at = kNone;
  std::size_t watch_at = kNone;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const std::string path = FaultTransport::PathOf(requests[i].url);
    if (path.find("/commit") != std::string::npos && commit_at == kNone) commit_at = i;
    if (path == "/sync/capabilities" && capabilities_at == kNone) capabilities_at = i;
    if (path == "/sync/watch" && watch_at == kNone) watch_at = i;
  }
  ASSERT_NE(commit_at, kNone);
  ASSERT_NE(capabilities_at, kNone);
  ASSERT_NE(watch_at, kNone);
  EXPECT_GT(capabilities_at, commit_at);
  EXPECT_GT(watch_at, capabilities_at);
  EXPECT_NE(requests[watch_at].url.find("after_bundle_seq=1"), std::string::npos)
      << requests[watch_at].url;
  d.client->StopBackground();
  EXPECT_EQ(d.transport->Count("GET", "/sync/pull"), 0);
}

// §9 114 — watch_test.go: TestStart_WatchReconnectUsesCurrentSourceIDAfterRotation: after a
// source-recovery Rebuild rotated the source, the next watch connection carries the new
// Oversync-Source-ID (the stream is ended by a failing event pull, client.md §8 step 5).
TEST_F(CoverageTest, WatchReconnectSendsRotatedSourceId) {
  Device& d = NewDevice();
  Start(d, WatchConfig, Notifying());
  InsertUser(d, 1, "a");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::string old_source = d.client->source_id();
  d.client->PauseUploads();
  d.transport->ResetCounts();
  ASSERT_TRUE(d.client->StartBackground().ok());
  ASSERT_TRUE(events_->WaitFor([&] { return d.transport->Count("GET", "/sync/watch") >= 1; }));

  CraftSourceRecovery(d);
  Result<RemoteSyncReport> rebuilt = d.client->Rebuild();
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  ASSERT_EQ(d.client->source_id(), kReplacement);

  const int watches_before = d.transport->Count("GET", "/sync/watch");
  d.transport->FailNext("GET", "/sync/pull", 1, FaultKind::kHttpStatus, 400,
                        R"({"error":"invalid_request","message":"injected"})");
  ServerWriteAs(kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', "
                                     "'peer', 'p@x')",
                                     FixtureUuid(60)));
  ASSERT_TRUE(events_->WaitFor([&] {
    return d.transport->Count("GET", "/sync/watch") > watches_before &&
           d.Int(fmt::format("SELECT count(*) FROM users WHERE id = '{}'", FixtureUuid(60))) == 1;
  }));
  d.client->StopBackground();

  std::vector<std::string> sources;
  for (const HttpRequest& request : d.transport->Requests()) {
    if (FaultTransport::PathOf(request.url) == "/sync/watch") {
      sources.push_back(HeaderOf(request, "Oversync-Source-ID"));
    }
  }
  ASSERT_GE(sources.size(), 2U);
  EXPECT_EQ(sources.front(), old_source);
  EXPECT_EQ(sources.back(), kReplacement);
}

// docs/compatibility.md 46 (client.md §1.7): a paused polling downloader performs no pulls (and
// does not spin); resuming it pulls.
TEST_F(CoverageTest, PausedPollingDownloaderPerformsNoPulls) {
  Device& d = NewDevice();
  Start(d, PollingConfig, Notifying());
  ServerWriteAs(kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', "
                                     "'peer', 'p@x')",
                                     FixtureUuid(70)));
  d.client->PauseDownloads();
  d.client->PauseUploads();
  d.transport->ResetCounts();
  ASSERT_TRUE(d.client->StartBackground().ok());
  EXPECT_FALSE(events_->WaitFor([&] { return d.transport->Count("", "/") > 0; }, kQuietWindow));
  d.client->ResumeDownloads();
  EXPECT_TRUE(events_->WaitFor([&] { return d.Int("SELECT count(*) FROM users") == 1; }));
  d.client->StopBackground();
  EXPECT_GE(d.transport->Count("GET", "/sync/pull"), 1);
  EXPECT_EQ(d.transport->Count("POST", "/sync/push-sessions"), 0);
}

// docs/compatibility.md 46 ("loops end once the client is closed"), client.h Close(): Close
// stops the loops and aborts the open watch stream promptly (not after the 120 s request
// timeout); the server sees the subscriber go, and no request follows Close — not even for a
// new bundle that an open stream would have announced.
TEST_F(CoverageTest, CloseEndsLoopsAndWatchStreamPromptly) {
  Device& d = NewDevice();
  Start(d, WatchConfig, Notifying());
  d.client->PauseUploads();
  ASSERT_TRUE(d.client->StartBackground().ok());
  auto subscribers = [&] {
    Result<int> count = server_->service().LocalWatchSubscriberCount(user_);
    return count.has_value() ? *count : -1;
  };
  ASSERT_TRUE(events_->WaitFor(
      [&] { return d.transport->Count("GET", "/sync/watch") >= 1 && subscribers() >= 1; }));

  const auto started = std::chrono::steady_clock::now();
  d.client->Close();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
  const int requests_at_close = d.transport->Count("", "/");
  EXPECT_TRUE(events_->WaitFor([&] { return subscribers() == 0; }));
  ServerWriteAs(kWriter, fmt::format("INSERT INTO business.users (id, name, email) VALUES ('{}', "
                                     "'peer', 'p@x')",
                                     FixtureUuid(80)));
  EXPECT_FALSE(events_->WaitFor([&] { return d.transport->Count("", "/") > requests_at_close; },
                                kQuietWindow));
  EXPECT_EQ(d.transport->Count("", "/"), requests_at_close);
  Result<RemoteSyncReport> after = d.client->PullToStable();
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(ClientErrorKindOf(after.error()), ClientErrorKind::kClientClosed);
}

// docs/compatibility.md 63 (§6.4 user switch): the server numbers source bundles per (user,
// source), and Detach keeps the source with its counter. Go's client then pushes user B's first
// bundle as N+1 and gets source_sequence_out_of_order. Ours switches to a fresh source when the
// source last synced for another user, so A -> B -> A pushes commit without any recovery, while
// the same user re-attaching keeps source and numbering (§9 item 103).
TEST_F(CoverageTest, UserSwitchPushesCommitWithoutSourceRecovery) {
  Device& d = StartedDevice();
  InsertUser(d, 1, "alice-1");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  InsertUser(d, 2, "alice-2");
  ASSERT_EQ(MustPush(d).outcome, PushOutcome::kCommitted);
  const std::string source_a = d.client->source_id();
  EXPECT_EQ(d.NextBundleId(), 3);

  // Same user: detach + attach keeps the source and continues its numbering (profile A); profile
  // B's Detach rotates to a fresh source (docs/compatibility.md 83).
  ASSERT_EQ(d.client->Detach()->outcome, DetachOutcome::kDetached);
  ASSERT_TRUE(d.client->Attach(user_).has_value());
  if (TestingProfileB()) {
    EXPECT_NE(d.client->source_id(), source_a);
    EXPECT_EQ(d.NextBundleId(), 1);
  } else {
    EXPECT_EQ(d.client->source_id(), source_a);
  }

  // Another user on the same device: a fresh source, numbering from 1, and the push commits.
  ASSERT_EQ(d.client->Detach()->outcome, DetachOutcome::kDetached);
  const std::string bob = user_ + "-bob";
  // Tokens are per user: restart the app on the same file with bob's token provider.
  d.client.reset();
  {
    ClientDeps deps;
    deps.transport = d.transport;
    auto client = CreateTestClientForPath(d.path, server_->base_url(), server_->TokenProviderFor(bob), MakeConfig(), deps);
    ASSERT_TRUE(client.has_value()) << client.error().ToString();
    d.client = std::move(*client);
  }
  ASSERT_TRUE(d.client->Open().ok());
  Result<AttachResult> attached = d.client->Attach(bob);
  ASSERT_TRUE(attached.has_value()) << attached.error().ToString();
  const std::string source_b = d.client->source_id();
  EXPECT_NE(source_b, source_a);
  EXPECT_EQ(d.NextBundleId(), 1);
  d.Exec(fmt::format("INSERT INTO users (id, name, email) VALUES ('{}', 'bob-1', 'b@x')", FixtureUuid(3)));
  Result<PushReport> pushed = d.client->PushPending();
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->outcome, PushOutcome::kCommitted);
  EXPECT_EQ(ServerText(fmt::format("SELECT count(*) FROM business.users WHERE _sync_scope_id = '{}' "
                                   "AND id = '{}'", bob, FixtureUuid(3))),
            "1");
  EXPECT_EQ(d.OperationKind(), "none");
}

}  // namespace
}  // namespace oversync::oversqlite::testing
