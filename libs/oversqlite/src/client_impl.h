// File: libs/oversqlite/src/client_impl.h (internal)
//
// Client::Impl: the client's state and the internal operations each flow file implements.
//   client.cc     construction, metadata/trigger install, Open, op lock, public forwarding
//   schema.cc     table validation, FK order (client.md §7.2)
//   codec.cc      key_json, local <-> wire encodings, value binding (client.md §2.2, §3.5, §3.6)
//   apply.cc      authoritative upsert/delete, row state, dirty requeue, live-row payloads
//   http.cc       request building, error decoding, retry policy (client.md §4.8, App. A)
//   push.cc       freeze, push session, committed fetch/verify, replay (client.md §4.1-§4.5, §4.7)
//   conflict.cc   structured conflicts and resolvers (client.md §4.6)
//   pull.cc       PullToStable (client.md §5)
//   snapshot.cc   snapshot rebuild core, keep/rotate rebuild, source recovery (client.md §6)
//   lifecycle.cc  Attach, Detach, SyncThenDetach, status, SourceInfo, UninstallSync (client.md §7)
//   background.cc uploader/downloader loops and the watch client (client.md §1.7, §8)
//
// Locking: every public operation holds op_mutex_ (try-lock) for its whole duration; the
// members below marked [op] are only touched under it. Atomics are lock-free switches.
#ifndef OVERSYNC_OVERSQLITE_SRC_CLIENT_IMPL_H_
#define OVERSYNC_OVERSQLITE_SRC_CLIENT_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "oversync/oversqlite/client.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/wire_profile.h"
#include "oversync/protocol/messages.h"
#include "sqlite.h"

namespace oversync::oversqlite::internal {

inline constexpr std::string_view kComponent = "oversqlite";

struct ColumnInfo {
  std::string name;   // as PRAGMA table_info returns it
  std::string lower;  // lower-cased (JSON member name)
  std::string decl_type;
  bool is_blob = false;  // declared type contains "blob"
  int pk = 0;
  bool not_null = false;  // declared NOT NULL
};

struct TableInfo {
  std::string name;        // lower-cased, as configured
  std::string key_column;  // as PRAGMA table_info returns it
  std::string key_lower;
  bool key_is_blob = false;
  std::vector<ColumnInfo> columns;  // PRAGMA table_info order
  std::set<std::string> blob_reference_columns;  // lower-cased BLOB FK source columns
  int fk_order = 0;  // position in the parents-first table order
  int config_index = 0;

  const ColumnInfo* FindColumn(std::string_view lower_name) const;
  // BLOB key or BLOB FK source column: travels as dashed UUID text.
  bool IsUuidBlobColumn(const ColumnInfo& column) const {
    return column.is_blob && (column.lower == key_lower || blob_reference_columns.count(column.lower) > 0);
  }
};

// _sync_attachment_state
struct AttachmentState {
  std::string current_source_id;
  std::string binding_state;  // "anonymous" | "attached"
  std::string attached_user_id;
  std::string schema_name;
  std::int64_t last_bundle_seq_seen = 0;
  bool rebuild_required = false;
  std::string pending_initialization_id;
};

// _sync_operation_state
struct OperationState {
  std::string kind = "none";  // none | remote_replace | source_recovery
  std::string target_user_id;
  std::string reason;
  std::string replacement_source_id;
  std::string staged_snapshot_id;
  std::int64_t snapshot_bundle_seq = 0;
  std::int64_t snapshot_row_count = 0;
};

// _sync_outbox_bundle
struct OutboxBundle {
  std::string state = "none";  // none | prepared | committed_remote
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::string canonical_request_hash;
  std::int64_t row_count = 0;
  std::string initialization_id;
  std::string remote_bundle_hash;
  std::int64_t remote_bundle_seq = 0;
};

// One _sync_outbox_rows row.
struct OutboxRow {
  std::int64_t source_bundle_id = 0;
  std::int64_t row_ordinal = 0;
  std::string schema_name;
  std::string table_name;
  std::string key_json;       // local
  std::string wire_key_json;  // wire key object text
  std::string op;
  std::int64_t base_row_version = 0;
  std::optional<std::string> local_payload;
  std::optional<std::string> wire_payload;
};

// How a payload's BLOB columns are encoded.
enum class PayloadEncoding : std::uint8_t {
  kWire,   // UUID text for key/reference BLOBs, standard base64 otherwise (server rows)
  kLocal,  // lowercase hex (captured rows, outbox local_payload)
};

// Options of the snapshot rebuild core (client.md §6.1).
struct RebuildOptions {
  bool rotate_source = false;
  std::string replacement_source_id;  // rotate only
  std::string reason;                 // rotate only: recovery code name
  bool preserve_outbox = false;
  bool require_fresh_source = false;
  bool clear_source_recovery = false;
  std::int64_t advance_source_floor = 0;  // 0 = none
  // Attach's remote_authoritative replace discards local rows and edits by design (client.md
  // §7.3). Every other rebuild carries dirty rows captured before the final apply through it
  // (re-applied over the snapshot and requeued), so a rebuild never loses a local edit.
  bool discard_local_edits = false;
};

// A snapshot session as created by the server (client.md §6.1 step 3).
struct StagedSnapshot {
  std::string snapshot_id;
  std::int64_t snapshot_bundle_seq = 0;
  std::int64_t row_count = 0;
};

// Go's url.PathEscape: one path segment (push ids, snapshot ids) with everything outside the
// unreserved set and "$&+,:;=@" percent-encoded (Appendix A).
std::string PathEscape(std::string_view segment);

// A Retry-After header value as milliseconds when it is positive delta-seconds (KMP's
// snapshot-capacity-retry-v1: "1" -> 1000, "30" -> 30000; "", "0", "-1", "1.5" and HTTP dates
// -> nullopt). Capped at one hour.
std::optional<std::int64_t> ParseRetryAfterMillis(std::string_view value);

// Appends `s` as SQLite 3.40's json_object renders a string (the encoder behind key_json).
void AppendSqliteJsonString(std::string_view s, std::string& out);

}  // namespace oversync::oversqlite::internal

namespace oversync::oversqlite {

// Why a downloaded row carrying the server's hidden scope column is rejected (pull, snapshot):
// the column never belongs to a payload (shared fixture pull-snapshot/basic.json).
inline constexpr std::string_view kHiddenScopePayloadMessage =
    "row payload must not include the server's hidden scope column _sync_scope_id";

class Client::Impl {
 public:
  using AttachmentState = internal::AttachmentState;
  using OperationState = internal::OperationState;
  using OutboxBundle = internal::OutboxBundle;
  using OutboxRow = internal::OutboxRow;
  using TableInfo = internal::TableInfo;
  using ColumnInfo = internal::ColumnInfo;
  using PayloadEncoding = internal::PayloadEncoding;
  using RebuildOptions = internal::RebuildOptions;
  using StagedSnapshot = internal::StagedSnapshot;
  using Stmt = internal::Stmt;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();

  // ---- construction (client.cc) ----
  Status Initialize();              // client.md §1.2 steps 3-8
  Status InitializeMetadata();      // §2 DDL + singletons + apply_mode reset
  Status ValidateSchemaScope();     // §1.2 step 4
  Status InstallTriggers();         // §3.1 + refresh rule §2.3
  Status RegisterManagedTables();   // §1.2 step 8
  Status ClaimOwnership();          // §7.1 registry; kDatabaseAlreadyOwned
  void ReleaseOwnership();          // idempotent

  // ---- schema.cc ----
  Status LoadTables();  // §7.2: fills tables_, table_index_
  const TableInfo* FindTable(std::string_view lower_name) const;

  // ---- op lock and gates (client.cc) ----
  // Try-lock; kClientClosed / kSyncOperationInProgress. The returned lock is held by the caller.
  Result<std::unique_lock<std::mutex>> AcquireOp();
  // Profile B: whether the current operation passed VerifyProtocolGate (reset by AcquireOp).
  bool protocol_gate_verified_ = false;  // guarded by op_mutex_
  Status RequireOpened(std::string_view operation) const;           // kOpenRequired
  Status RequireConnected(std::string_view operation) const;        // kOpenRequired / kAttachRequired
  Status OpenLocked();  // Open's body (also re-run by Attach)

  // ---- state (client.cc) ----
  Result<AttachmentState> LoadAttachment();
  Result<OperationState> LoadOperation();
  Result<OutboxBundle> LoadOutboxBundle();
  Result<std::vector<OutboxRow>> LoadOutboxRows();
  Result<std::int64_t> DirtyCount();
  // Dirty rows a freeze would upload: every one except a never-synced insert deleted again (no
  // payload and no live row state), which the freeze drops without a request.
  Result<std::int64_t> SendableDirtyCount();
  Result<std::int64_t> OutboxRowCount();
  Result<PendingSyncStatus> PendingStatusLocked();
  Result<SyncStatus> SyncStatusLocked();
  Status SetApplyMode(bool on);
  // A fresh source id (lowercase dashed UUIDv4) not equal to the current one nor present in
  // _sync_source_state (client.md §2.1).
  Result<std::string> GenerateSourceId();
  Status EnsureSourceRow(std::string_view source_id);
  // Records in _sync_source_state that `previous` was replaced by `replacement` (a rotation).
  Status MarkSourceReplaced(std::string_view previous, std::string_view replacement);
  // next_source_bundle_id = max(current, value).
  Status AdvanceNextSourceBundleId(std::string_view source_id, std::int64_t value);
  Status PersistPendingInitializationId(std::string_view id);  // memory + disk
  // Lease loss (client.md §7.5): unbind, clear pending init; returns the reconnect error.
  Status HandleInitializationLeaseLoss(const Status& cause);

  // ---- codec.cc ----
  // SQLite json_object-compatible {"<key>":"<value>"}.
  std::string LocalKeyJson(const TableInfo& table, std::string_view local_key) const;
  // The member value of a local key_json.
  Result<std::string> LocalKeyFromKeyJson(const TableInfo& table, std::string_view key_json) const;
  // Local key string -> wire key object (BLOB: 32-hex -> dashed UUID; "invalid blob UUID pk").
  Result<protocol::JsonValue> LocalKeyToWireKey(const TableInfo& table, std::string_view local_key) const;
  // Wire key object -> local key string (BLOB: dashed UUID text -> 32-hex).
  Result<std::string> WireKeyToLocalKey(const TableInfo& table, const protocol::JsonValue& key) const;
  // Local payload object -> wire payload object (client.md §3.6).
  Result<protocol::JsonValue> LocalPayloadToWire(const TableInfo& table, const protocol::JsonValue& local) const;
  // Wire payload object -> local payload object (BLOBs to hex), for conflict contexts/requeues.
  Result<protocol::JsonValue> WirePayloadToLocal(const TableInfo& table, const protocol::JsonValue& wire) const;
  // Binds one payload value for `column` (client.md §5.3 value binding).
  Status BindPayloadValue(Stmt& stmt, int index, const TableInfo& table, const ColumnInfo& column,
                          const protocol::JsonValue& value, PayloadEncoding encoding) const;
  // Binds the local key for WHERE "<key>" = ? (BLOB keys as 16 bytes).
  Status BindLocalKey(Stmt& stmt, int index, const TableInfo& table, std::string_view local_key) const;
  // Go-canonical text (Appendix B) of a JSON text; used for equality checks.
  Result<std::string> Canonical(std::string_view json_text) const;

  // ---- apply.cc (all inside a caller's transaction; apply mode set by the caller) ----
  // Upsert of the full payload (exactly every column; client.md §5.3).
  Status UpsertRow(const TableInfo& table, const protocol::JsonValue& payload, PayloadEncoding encoding);
  Status DeleteRow(const TableInfo& table, std::string_view local_key);
  Status UpsertRowState(std::string_view table, std::string_view key_json, std::int64_t row_version, bool deleted);
  Status DeleteRowState(std::string_view table, std::string_view key_json);
  Result<std::optional<std::int64_t>> RowStateVersion(std::string_view table, std::string_view key_json);
  Status DeleteDirtyRow(std::string_view table, std::string_view key_json);
  // Upsert a dirty intent keeping an existing dirty_ordinal (else max+1) (client.md §4.5/§4.6).
  Status RequeueDirtyIntent(std::string_view table, std::string_view key_json, std::string_view op,
                            std::int64_t base_row_version, const std::optional<std::string>& local_payload);
  // The business row as the capture trigger would serialize it (local encoding), or nullopt.
  Result<std::optional<std::string>> LiveRowPayload(const TableInfo& table, std::string_view local_key);
  // DELETE FROM every table of _sync_managed_tables ∪ config (if it exists) and its row state.
  Status ClearManagedTables();
  // Applies one authoritative wire row (pull/replay/snapshot): upsert or delete + row state.
  // Does not touch dirty rows (callers decide).
  Status ApplyAuthoritativeRow(const TableInfo& table, std::string_view key_json, std::string_view local_key,
                               bool is_delete, const protocol::JsonValue* payload, std::int64_t row_version);

  // ---- http.cc ----
  // Sends one request to base_url_ + path_and_query with auth/source/content-type headers.
  // Non-2xx answers become errors (ErrorFromResponse); transport failures stay as they are.
  Result<HttpResponse> Call(std::string_view method, std::string_view path_and_query,
                            std::optional<std::string> body, bool trim_base_slash = false);
  // Like Call but returns non-2xx answers as values.
  Result<HttpResponse> CallRaw(std::string_view method, std::string_view path_and_query,
                               std::optional<std::string> body, bool trim_base_slash = false);
  // The Status for a non-2xx answer: the protocol ErrorCode of its `error` member (kInternal when
  // unknown/absent) with a ClientErrorDetail of kind kHttp (kHistoryPruned for history_pruned,
  // kPushConflict for push_conflict WITH a conflict object) carrying http_status, error_code,
  // raw_body, conflict, source_id/replaced_by_source_id (source_retired). Message "code: message".
  Status ErrorFromResponse(const HttpResponse& response) const;
  // Best effort, never retried, errors ignored.
  void BestEffortDelete(std::string_view path);
  // Runs `attempt` under the retry policy (client.md §1.1, §4.8); exhaustion ->
  // kRetryExhausted{operation, attempts, last_error}.
  Status WithRetry(std::string_view operation, const std::function<Status()>& attempt);
  // Profile B's snapshot capacity answers (429 snapshot_build_capacity / snapshot_chunk_capacity,
  // protocol-b.md §5.10-§5.11; KMP's snapshot-capacity-retry-v1 contract): `attempt` (already
  // wrapped in WithRetry by the caller) is repeated after Retry-After (positive delta-seconds;
  // else 1 s) plus up to +100 % jitter while 30 s have not passed.
  Status WithSnapshotCapacityRetry(const std::function<Status()>& attempt);
  static bool IsRetryableError(const Status& status);
  // Fails (kFailedPrecondition, ClientErrorKind::kAttachLifecycleUnsupported) when the
  // capabilities body shows the server speaks the other wire profile.
  Status CheckServerWireProfile(std::string_view capabilities_body) const;
  // Profile B also fails with kProtocolVersionMismatch when protocol_version is not "v1"
  // (protocol-b.md §5.1).
  Result<protocol::CapabilitiesResponse> FetchCapabilities(std::string_view retry_operation);
  // Profile B (kmp-client.md §3.2): the server's registered tables must equal this client's
  // (kFailedPrecondition naming the differences); profile A: always OK.
  Status CheckRegisteredTables(const protocol::CapabilitiesResponse& capabilities) const;
  // Profile B's protocol gate (kmp-client.md §2.2 row 1, as current KMP/Dart/Go clients do):
  // capabilities are fetched and checked (protocol_version, registered tables) once per
  // operation, before its first push, pull or snapshot request and before the outbox freeze,
  // the rebuild gate or a stage is written, so a server that changed contract is refused before
  // anything local changes. Unlike KMP, an operation that fails a local precondition or has
  // nothing to send stays without network (client.md §1.6), and one check covers the whole
  // operation (KMP checks again before each snapshot build). Profile A: OK without a request
  // (1f1118f checks capabilities at Attach only).
  Status VerifyProtocolGate(std::string_view operation);
  // Whether VerifyProtocolGate would send a request (profile B, not yet passed this operation).
  bool ProtocolGatePending() const { return ProfileB() && !protocol_gate_verified_; }

  // ---- push.cc ----
  // `resuming_checkpoint`: called by ResumeCheckpointRecoveryLocked, which pushes while the
  // rebuild gate is set (the gate otherwise refuses every push).
  Result<PushReport> PushPendingLocked(int conflict_retry_count, bool resuming_checkpoint = false);
  // Profile B: whether PullToStable/Sync resume the rebuild gate themselves (gate set, no source
  // recovery or other transition in progress).
  Result<bool> CheckpointRecoveryPendingLocked();
  // Profile B (KMP's checkpoint recovery; fixtures pull-snapshot/behavior checkpoint-recovery-*,
  // docs/compatibility.md 82): pushes pending local work (at most three bundles; a
  // committed_remote outbox is left to the rebuild), then runs the keep-source snapshot rebuild.
  // kCheckpointRecoveryBlocked when a push fails for a reason other than a transient one
  // (including exhausted retries), an authentication one or a malformed answer (those are
  // returned as they are), or leaves work pending. `resumed_push_outcome`, when given, becomes
  // kCommitted if a bundle was pushed.
  Result<RemoteSyncReport> ResumeCheckpointRecoveryLocked(PushOutcome* resumed_push_outcome = nullptr);

  // ---- conflict.cc ----
  // Handles a structured push_conflict; returns true when a plan was applied and the push should
  // re-run (dirty rows remain), false when nothing remains (no_change).
  Result<bool> ResolveConflictLocked(const Status& conflict_error);

  // ---- pull.cc ----
  Result<RemoteSyncReport> PullToStableLocked();

  // ---- snapshot.cc ----
  Result<RemoteSyncReport> RebuildLocked();
  Result<RemoteSyncReport> RunSnapshotRebuild(const RebuildOptions& options);
  Result<StagedSnapshot> CreateSnapshotSession(const std::optional<protocol::SnapshotSourceReplacement>& replacement);
  Status DownloadSnapshotToStage(const StagedSnapshot& session);
  // One transaction (client.md §6.1 step 5).
  Status ApplyStagedSnapshot(const StagedSnapshot& session, const RebuildOptions& options);
  // client.md §6.3: durable entry; returns the SourceRecoveryRequired error (or diverged).
  Status EnterSourceRecovery(std::string_view code, std::string_view server_message,
                             std::string_view offered_replacement);
  Status SourceRecoveryGate();  // kSourceRecoveryRequired from persisted state, else OK
  // The persisted source-recovery reason. Profile A reads an unknown text as history_pruned
  // (client.md §1.8, Go parity); profile B fails with kInvalidSourceRecoveryReason instead of
  // remapping it (KMP; fixture source-recovery-unknown-persisted-reason-fails-deterministically).
  Result<SourceRecoveryCode> PersistedRecoveryCode(std::string_view stored_reason) const;

  // ---- lifecycle.cc ----
  Result<AttachResult> AttachLocked(std::string_view user_id);
  Result<DetachResult> DetachLocked();
  Result<SourceInfo> SourceInfoLocked();
  Status UninstallSyncLocked();

  // ---- background.cc ----
  Status StartBackground();
  void StopBackground();

  // ---- statement cache (apply.cc) ----
  // A prepared statement for `sql`, reset and unbound, owned by the cache (valid until
  // ClearStatementCache). Used by the per-row paths (apply, row state, requeue).
  Result<Stmt*> CachedStmt(const std::string& sql);
  void ClearStatementCache();

  // ---- logging ----
  void Log(LogLevel level, std::string_view message) const;

  // ---- state ----
  // The client's own connection: every operation runs on it, so the application's statements on
  // its handle never join a client transaction (or vice versa). Equal to app_db_ only for
  // databases without a file (in-memory/temp), where a second connection is impossible.
  sqlite3* db_ = nullptr;
  internal::DbPtr owned_db_;        // db_ when the client opened it
  sqlite3* app_db_ = nullptr;       // the application's handle (Client::db())
  internal::DbPtr owned_app_db_;    // app_db_ when CreateForPath opened it
  std::string base_url_;
  TokenProvider token_provider_;
  Config config_;
  // docs/wire-profiles.md: whether this client speaks jcs_uniform_numeric_strings_v1.
  bool ProfileB() const noexcept {
    return config_.wire_profile == "jcs_uniform_numeric_strings_v1";
  }
  protocol::WireProfileId WireProfile() const noexcept {
    return ProfileB() ? protocol::WireProfileId::kJcsUniformNumericStringsV1
                      : protocol::WireProfileId::kGoCanonicalV1;
  }
  RetryPolicy retry_policy_;        // normalized
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<const Clock> clock_;
  std::shared_ptr<RandomSource> random_;
  std::shared_ptr<Logger> logger_;
  std::string ownership_key_;       // registry key (client.md §7.1)
  bool owns_claim_ = false;

  std::vector<TableInfo> tables_;   // config order
  std::map<std::string, std::size_t, std::less<>> table_index_;
  std::vector<std::size_t> fk_order_;  // indexes into tables_, parents first
  std::map<std::string, std::unique_ptr<Stmt>, std::less<>> stmt_cache_;  // [op]

  std::mutex op_mutex_;
  std::atomic<bool> closed_{false};

  // [op] in-memory session state
  mutable std::mutex state_mutex_;  // guards the strings below for lock-free readers
  std::string source_id_;
  std::string user_id_;
  std::string pending_initialization_id_;
  bool opened_ = false;
  bool connected_ = false;

  Resolver resolver_;
  FreezeHook before_freeze_hook_;
  PushHook before_commit_hook_;
  PushHook before_replay_hook_;
  std::mutex hooks_mutex_;  // guards resolver_ and the hooks

  std::atomic<bool> uploads_paused_{false};
  std::atomic<bool> downloads_paused_{false};
  std::atomic<std::int64_t> push_sessions_created_{0};
  std::atomic<std::int64_t> push_chunks_uploaded_{0};
  std::atomic<std::int64_t> committed_chunks_read_{0};
  std::atomic<std::int64_t> snapshot_sessions_created_{0};
  std::atomic<std::int64_t> snapshot_chunks_fetched_{0};

  // background.cc
  std::atomic<bool> background_stop_{false};
  std::mutex background_mutex_;
  std::condition_variable background_cv_;
  std::vector<std::thread> background_threads_;

  std::string SourceId() const {
    std::lock_guard lock(state_mutex_);
    return source_id_;
  }
  void SetSourceId(std::string id) {
    std::lock_guard lock(state_mutex_);
    source_id_ = std::move(id);
  }
  std::string UserId() const {
    std::lock_guard lock(state_mutex_);
    return user_id_;
  }
  void SetUserId(std::string id) {
    std::lock_guard lock(state_mutex_);
    user_id_ = std::move(id);
  }
  PushHook TakeHook(PushHook& hook) {
    std::lock_guard lock(hooks_mutex_);
    PushHook taken = std::move(hook);
    hook = nullptr;
    return taken;
  }
  FreezeHook TakeFreezeHook() {
    std::lock_guard lock(hooks_mutex_);
    FreezeHook taken = std::move(before_freeze_hook_);
    before_freeze_hook_ = nullptr;
    return taken;
  }
  Resolver CurrentResolver() {
    std::lock_guard lock(hooks_mutex_);
    return resolver_;
  }
};

}  // namespace oversync::oversqlite

#endif  // OVERSYNC_OVERSQLITE_SRC_CLIENT_IMPL_H_
