// File: oversync/oversqlite/client.h
//
// oversqlite: the client SDK (client.md). An application owns a SQLite database with ordinary
// business tables; the Client installs its `_sync_*` metadata tables and six triggers per managed
// table (the same on-disk layout as go-oversync's Go client, so either client can open a file the
// other wrote), captures local writes as dirty rows, pushes them through a crash-safe durable
// outbox, pulls complete committed bundles to a stable checkpoint, and rebuilds from snapshots.
//
// Lifecycle: Client::Create (local install) -> Open (source identity) -> Attach(user) (server
// connect) -> Sync / PushPending / PullToStable / Rebuild ... -> Detach / Close.
//
// Ownership: the Client never owns the sqlite3 handle it was given (Create with a handle); it owns
// the handle it opened itself (CreateForPath, returned by db()). For a database file the client
// runs its own work on a second, private connection to the same file, so the application's
// statements on its handle never become part of a client transaction; SQLite's single-writer
// rule makes the two take turns (both connections wait up to 5 s when busy; the handle passed to
// Create keeps the application's own busy settings). An in-memory database has no second
// connection: then the application must not use the handle while an operation runs. At most one
// live Client per database file per process (kDatabaseAlreadyOwned); Close or destruction
// releases the claim.
//
// Thread-safety: every public method may be called from any thread. Lifecycle and sync
// operations take one client-wide try-lock and fail fast with kSyncOperationInProgress when
// another one runs; Close waits. No SQLite transaction is ever held open across a network call.
//
// Errors: every operation returns Result<T>/Status; client.md §1.9 categories are in errors.h.
#ifndef OVERSYNC_OVERSQLITE_CLIENT_H_
#define OVERSYNC_OVERSQLITE_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/common/random.h"
#include "oversync/common/status.h"
#include "oversync/oversqlite/errors.h"
#include "oversync/oversqlite/transport.h"
#include "oversync/protocol/json_value.h"

struct sqlite3;  // the SQLite C API handle (no sqlite3.h in public headers)

namespace oversync::oversqlite {

using Duration = std::chrono::milliseconds;

// ---- configuration (client.md §1.1) ----

struct SyncTable {
  std::string table_name;             // local table; lower-cased and trimmed
  std::string sync_key_column_name;   // convenience single key column
  std::vector<std::string> sync_key_columns;  // wins over sync_key_column_name when non-empty
};

struct RetryPolicy {
  bool enabled = true;
  int max_attempts = 3;
  Duration initial_backoff{100};
  Duration max_backoff{1000};
  double jitter_fraction = 0.2;
};

enum class BundleChangeWatchMode : std::uint8_t { kOff, kAuto };

struct Config {
  std::string schema;  // remote (PostgreSQL) schema; required
  std::vector<SyncTable> tables;
  int upload_limit = 1000;         // rows per push chunk; <= 0 -> 1000
  int download_limit = 1000;       // max_bundles per pull page and rows per committed chunk
  int snapshot_chunk_rows = 1000;  // rows per snapshot chunk
  Duration backoff_min{1000};
  Duration backoff_max{60'000};
  std::optional<RetryPolicy> retry_policy;  // nullopt -> the default policy
  BundleChangeWatchMode bundle_change_watch_mode = BundleChangeWatchMode::kOff;
  Duration watch_fallback_interval{0};  // 0 -> backoff_max, then 60 s
  Duration http_timeout{120'000};       // per request (Go: http.Client.Timeout)
  // The server's wire contract (docs/wire-profiles.md): "go_canonical_v1" (go-oversync 1f1118f)
  // or "jcs_uniform_numeric_strings_v1" (go-oversync's current contract: numbers travel as
  // strings, RFC 8785 hashes, canonical_request_hash). Empty (the default) means "the profile
  // this database records": a new database gets jcs_uniform_numeric_strings_v1, a database an
  // SDK without wire profiles used gets go_canonical_v1 (the only contract it spoke). A database
  // remembers its profile; Create refuses a different explicit one (kFailedPrecondition) rather
  // than mix encodings in one outbox. Client::wire_profile() reports the one in use.
  std::string wire_profile;
};

// The reference defaults for `schema` and `tables` (client.md §1.1 DefaultConfig).
Config DefaultConfig(std::string schema, std::vector<SyncTable> tables);

// Called for every HTTP request (including best-effort DELETEs and the watch stream); the value
// is sent as "Authorization: Bearer <token>". Never cached. Must be thread-safe.
using TokenProvider = std::function<Result<std::string>()>;

// Injected dependencies. Null members take the defaults (libcurl transport, system clock,
// CSPRNG, no logging).
struct ClientDeps {
  std::shared_ptr<Transport> transport;
  std::shared_ptr<const Clock> clock;
  std::shared_ptr<RandomSource> random;  // used under the client's own mutex
  std::shared_ptr<Logger> logger;
};

// ---- results (client.md §1.8) ----

enum class AttachStatus : std::uint8_t { kConnected, kRetryLater };
enum class AttachOutcome : std::uint8_t {
  kNone,
  kResumedAttachedState,
  kUsedRemoteState,
  kSeededFromLocal,
  kStartedEmpty,
};
enum class DetachOutcome : std::uint8_t { kDetached, kBlockedUnsyncedData };
enum class AuthorityStatus : std::uint8_t {
  kPendingLocalSeed,
  kAuthoritativeEmpty,
  kAuthoritativeMaterialized,
};
enum class PushOutcome : std::uint8_t { kNoChange, kCommitted, kSkippedPaused };
enum class RemoteSyncOutcome : std::uint8_t {
  kAlreadyAtTarget,
  kAppliedIncremental,
  kAppliedSnapshot,
  kSkippedPaused,
};

std::string_view AttachOutcomeName(AttachOutcome o) noexcept;
std::string_view PushOutcomeName(PushOutcome o) noexcept;
std::string_view RemoteSyncOutcomeName(RemoteSyncOutcome o) noexcept;
std::string_view AuthorityStatusName(AuthorityStatus s) noexcept;

struct PendingSyncStatus {
  bool has_pending_sync_data = false;
  std::int64_t pending_row_count = 0;
  bool blocks_detach = false;
};

struct SyncStatus {
  AuthorityStatus authority = AuthorityStatus::kAuthoritativeEmpty;
  PendingSyncStatus pending;
  std::int64_t last_bundle_seq_seen = 0;
};

struct RestoreSummary {
  std::int64_t bundle_seq = 0;
  std::int64_t row_count = 0;
};

struct AttachResult {
  AttachStatus status = AttachStatus::kConnected;
  AttachOutcome outcome = AttachOutcome::kNone;
  Duration retry_after{0};
  SyncStatus sync_status;
  std::optional<RestoreSummary> restore;
};

struct DetachResult {
  DetachOutcome outcome = DetachOutcome::kDetached;
  std::int64_t pending_row_count = 0;
};

struct PushReport {
  PushOutcome outcome = PushOutcome::kNoChange;
  SyncStatus status;
};

struct RemoteSyncReport {
  RemoteSyncOutcome outcome = RemoteSyncOutcome::kAlreadyAtTarget;
  SyncStatus status;
  std::optional<RestoreSummary> restore;
};

struct SyncReport {
  PushOutcome push_outcome = PushOutcome::kNoChange;
  RemoteSyncOutcome remote_outcome = RemoteSyncOutcome::kAlreadyAtTarget;
  SyncStatus status;
  std::optional<RestoreSummary> restore;
};

struct SyncThenDetachResult {
  SyncReport last_sync;
  DetachResult detach;
  int sync_rounds = 0;
  std::int64_t remaining_pending_row_count = 0;
  bool IsSuccess() const noexcept { return detach.outcome == DetachOutcome::kDetached; }
};

struct SourceInfo {
  std::string current_source_id;
  bool rebuild_required = false;
  bool source_recovery_required = false;
  std::optional<SourceRecoveryCode> source_recovery_reason;
};

// Introspection of a managed table (client.md §1.7 TableInfoProvider / GetTableInfo).
struct TableColumnInfo {
  std::string name;       // as declared
  std::string declared_type;
  bool is_blob = false;   // declared type contains "blob" (case-insensitive)
  bool is_primary_key = false;
};
struct TableInfo {
  std::string name;        // lower-cased
  std::string key_column;  // the sync key column
  bool key_is_blob = false;
  std::vector<TableColumnInfo> columns;  // PRAGMA table_info order
};

struct PushTransferDiagnostics {
  std::int64_t sessions_created = 0;
  std::int64_t chunks_uploaded = 0;
  std::int64_t committed_bundle_chunks_read = 0;
};

struct SnapshotTransferDiagnostics {
  std::int64_t sessions_created = 0;
  std::int64_t chunks_fetched = 0;
};

// ---- conflicts (client.md §1.10, §4.6) ----

struct ConflictContext {
  std::string schema;
  std::string table;
  protocol::JsonValue key;  // the server's wire key object
  std::string local_op;     // op of the frozen outbox row
  // Frozen local payload in local encoding (BLOBs as hex); nullopt for DELETE.
  std::optional<protocol::JsonValue> local_payload;
  std::int64_t base_row_version = 0;
  std::int64_t server_row_version = 0;
  bool server_row_deleted = false;
  std::optional<protocol::JsonValue> server_row_payload;  // wire encoding; nullopt when absent
};

struct MergeResult {
  enum class Kind : std::uint8_t { kAcceptServer, kKeepLocal, kKeepMerged };
  Kind kind = Kind::kAcceptServer;
  // kKeepMerged: an object with exactly the table's columns. BLOB columns may be given in local
  // encoding (hex) or wire encoding (UUID text for key/reference columns, base64 otherwise).
  protocol::JsonValue merged_payload;

  static MergeResult AcceptServer() { return {}; }
  static MergeResult KeepLocal() { return {Kind::kKeepLocal, {}}; }
  static MergeResult KeepMerged(protocol::JsonValue payload) {
    return {Kind::kKeepMerged, std::move(payload)};
  }
};

// Must be thread-safe if the client is used from several threads.
using Resolver = std::function<Result<MergeResult>(const ConflictContext&)>;
Resolver ServerWinsResolver();
Resolver ClientWinsResolver();
inline Resolver DefaultResolver() { return ServerWinsResolver(); }

// Test/debug hooks (client.md §1.7): one-shot, cleared when fired; an error aborts the operation.
using PushHook = std::function<Status()>;
// The freeze hook runs inside the freeze transaction, on the client's own connection, which it
// receives: only that connection sees the frozen (uncommitted) outbox. An error rolls the freeze
// back.
using FreezeHook = std::function<Status(sqlite3* freeze_tx_db)>;

// ---- the client ----

class Client {
  class Impl;
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Installs metadata and triggers on `db` (not owned; must outlive the Client) in the order of
  // client.md §1.2. Errors: kInvalidArgument (config), kDatabaseAlreadyOwned (errors.h),
  // kUnsupportedSchema (table validation), kDatabase.
  static Result<std::unique_ptr<Client>> Create(sqlite3* db, std::string base_url,
                                                TokenProvider token_provider, Config config,
                                                ClientDeps deps = {});
  // Opens (creating if needed) the SQLite file at `path` (WAL, foreign keys on, busy timeout
  // 5 s, serialized mode) for the application (db()) and owns that handle.
  static Result<std::unique_ptr<Client>> CreateForPath(const std::string& path,
                                                       std::string base_url,
                                                       TokenProvider token_provider,
                                                       Config config, ClientDeps deps = {});

  Client(PrivateTag /*tag*/, std::unique_ptr<Impl> impl);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) = delete;
  Client& operator=(Client&&) = delete;
  // Stops the background loops and calls Close().
  ~Client();

  // The application's database handle (owned by the client only for CreateForPath).
  sqlite3* db() const noexcept;

  // ---- lifecycle (client.md §1.5) ----
  Status Open();
  Result<AttachResult> Attach(std::string_view user_id);
  Result<DetachResult> Detach();
  Result<SyncThenDetachResult> SyncThenDetach();
  Result<PendingSyncStatus> GetPendingSyncStatus();
  Result<SyncStatus> GetSyncStatus();
  Result<SourceInfo> GetSourceInfo();
  Status UninstallSync();
  // Stops the background loops, waits for an in-flight operation, marks the client closed,
  // releases the database claim. Idempotent. Does not close a handle the application passed in.
  void Close();

  // ---- sync (client.md §1.6) ----
  // While the durable rebuild gate is set (a rebuild that failed midway) PushPending refuses
  // with kRebuildRequired. PullToStable and Sync refuse the same way in profile A; in profile B
  // they resume the gate like current go-oversync clients: pending local work is pushed first
  // (kCheckpointRecoveryBlocked when that push fails for a non-transient reason or leaves work
  // pending), then the snapshot rebuild runs (docs/compatibility.md 82).
  Result<PushReport> PushPending();
  Result<RemoteSyncReport> PullToStable();
  Result<SyncReport> Sync();
  Result<RemoteSyncReport> Rebuild();
  Result<std::int64_t> LastBundleSeqSeen();

  // ---- background loops and switches (client.md §1.7, §8) ----
  // Starts the uploader and downloader threads (watch-aware in BundleChangeWatchMode::kAuto when
  // the server advertises it). Returns immediately; StopBackground joins them.
  Status StartBackground();
  void StopBackground();
  void PauseUploads();
  void ResumeUploads();
  void PauseDownloads();
  void ResumeDownloads();

  // ---- hooks and diagnostics ----
  void SetResolver(Resolver resolver);
  void SetBeforePushFreezeHook(FreezeHook hook);
  void SetBeforePushCommitHook(PushHook hook);
  void SetBeforePushReplayHook(PushHook hook);
  PushTransferDiagnostics GetPushTransferDiagnostics() const;
  void ResetPushTransferDiagnostics();
  SnapshotTransferDiagnostics GetSnapshotTransferDiagnostics() const;
  void ResetSnapshotTransferDiagnostics();

  // The attached user ("" when anonymous).
  std::string user_id() const;
  // The in-memory current source id ("" before Open).
  std::string source_id() const;
  // The wire profile this database syncs with (Config::wire_profile resolved at Create).
  // Immutable after Create; thread-safe.
  std::string_view wire_profile() const noexcept;

  // The row as local JSON (lower-cased column names, BLOBs as lowercase hex), computed with the
  // capture trigger's own expression. `key` is the local key (text, or for BLOB keys dashed UUID,
  // 32-hex, base64). Errors: kNotFound (no such row), kInvalidArgument (unknown table, bad key).
  Result<std::string> SerializeRow(std::string_view table, std::string_view key);
  // Debug helpers (client.md §1.7): row count and every row serialized like SerializeRow, in key
  // order; the shape of a managed table. Errors: kInvalidArgument for an unmanaged table.
  Result<std::int64_t> GetTableRowCount(std::string_view table);
  Result<std::vector<std::string>> GetTableRows(std::string_view table);
  Result<TableInfo> GetTableInfo(std::string_view table) const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace oversync::oversqlite

#endif  // OVERSYNC_OVERSQLITE_CLIENT_H_
