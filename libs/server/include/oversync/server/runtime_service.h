// File: oversync/server/runtime_service.h
//
// RuntimeService: the authoritative side of oversync (go-oversync's oversync.SyncService /
// NewRuntimeService). It owns a PostgreSQL connection pool, validates the registered business
// tables and the `sync` layout at Bootstrap, and serves the sync operations.
//
// Lifecycle: Create (no database access beyond opening one pooled connection to check the URL)
// -> Bootstrap (fail-closed validation and layout creation) -> operations -> Shutdown.
//
// Thread-safety: thread-safe after Bootstrap returned OK; Bootstrap itself must not run
// concurrently with other calls on the same object. Any number of processes may bootstrap and
// serve the same database concurrently (state lives in PostgreSQL).
#ifndef OVERSYNC_SERVER_RUNTIME_SERVICE_H_
#define OVERSYNC_SERVER_RUNTIME_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include "oversync/common/clock.h"
#include "oversync/common/logger.h"
#include "oversync/common/random.h"
#include "oversync/common/status.h"
#include "oversync/protocol/messages.h"
#include "oversync/protocol/query.h"
#include "oversync/protocol/wire_profile.h"
#include "oversync/server/bundle_watch.h"
#include "oversync/server/config.h"
#include "oversync/server/sync_transaction.h"

namespace oversync {

// The message of the kServiceUnavailable every operation returns before Bootstrap has
// completed (protocol-b.md §1.4; the HTTP handlers answer 503 service_unavailable with it).
inline constexpr std::string_view kBootstrapIncompleteMessage = "Sync service bootstrap is incomplete";

namespace internal {
struct RuntimeState;  // private state, defined in src/runtime_internal.h
}  // namespace internal

struct RuntimeOptions {
  // libpq connection string or postgres:// URL.
  std::string database_url;
  int max_connections = 10;
  // Injected dependencies; nullptr selects SystemClock / CryptoRandom / NullLogger. Non-null
  // pointers must outlive the service. The clock and logger must be thread-safe; the random
  // source may be thread-compatible (the service serializes its draws).
  const Clock* clock = nullptr;
  RandomSource* random = nullptr;
  Logger* logger = nullptr;
};

// The authenticated caller: the scope (user) and the client runtime (source). Both non-blank.
struct Actor {
  std::string user_id;
  std::string source_id;
};

// What Bootstrap did, for logs and tests.
struct BootstrapReport {
  bool created_layout = false;       // false: an existing layout was validated, no DDL ran
  int trigger_tables_installed = 0;  // tables whose triggers were (re)created
  // Populated scopes given a baseline bundle when this call created the layout
  // (ServiceConfig::adopt_populated_tables), and the business rows they hold.
  std::int64_t adopted_scopes = 0;
  std::int64_t adopted_rows = 0;
  // Registered tables ("schema.table"), parents before children (FK graph plus
  // ServiceConfig::dependency_overrides; tables of one FK cycle adjacent and sorted).
  // Informational, as in go-oversync: nothing in the runtime depends on it.
  std::vector<std::string> table_order;
};

// Durable counters (server.md §8.2, kept in sync.* sequences, so they count every process) and
// this process's gauges, for metrics endpoints. Cheap: no table scan.
struct RuntimeCounters {
  std::int64_t history_pruned_errors = 0;
  std::int64_t accepted_push_replays = 0;
  std::int64_t rejected_registered_writes = 0;
  std::int64_t watch_subscribers = 0;    // this process
  std::int64_t inflight_operations = 0;  // this process
};

class RuntimeService {
 public:
  // Validates and resolves `config` and opens the pool. Errors: kInvalidArgument (config),
  // kUnsupportedSchema (registered-table names), kUnavailable (database unreachable).
  static Result<std::unique_ptr<RuntimeService>> Create(ServiceConfig config,
                                                        RuntimeOptions options);
  ~RuntimeService();
  RuntimeService(const RuntimeService&) = delete;
  RuntimeService& operator=(const RuntimeService&) = delete;

  // server.md §1.14 and §2: validates the registered tables (types, unique identity, FK
  // closure, scope-inclusive and deferrable FKs), creates the `sync` layout or validates an
  // existing one (running no DDL when it matches), installs capture triggers where they differ.
  // Errors: kUnsupportedSchema with go-oversync's messages (fail closed: nothing is created when
  // table validation fails); kFailedPrecondition for a missing table; kDatabase/kUnavailable.
  // Until it has succeeded, operations fail with kServiceUnavailable
  // (kBootstrapIncompleteMessage) and GetStatus reports "unhealthy", not accepting operations.
  Result<BootstrapReport> Bootstrap();

  // ---- sync operations (protocol.md §3; errors carry the protocol codes of §5; extended bodies
  // travel as protocol::SourceRetiredDetail / PushConflictDetail; internal failures are
  // kDatabase/kUnavailable/kInternal and map to the endpoint's generic 500) ----

  // §3.1 / server.md §7.2.
  Result<protocol::ConnectResponse> Connect(const Actor& actor,
                                            const protocol::ConnectRequest& request);
  // §3.2 / server.md §4.1.
  Result<protocol::PushSessionCreateResponse> CreatePushSession(
      const Actor& actor, const protocol::PushSessionCreateRequest& request);
  // §3.3 / server.md §4.2. Runs the stateless chunk validation first.
  Result<protocol::PushChunkResponse> UploadPushChunk(const Actor& actor, std::string_view push_id,
                                                      protocol::PushChunkRequest request);
  // §3.4 / server.md §4.3.
  Result<protocol::PushSessionCommitResponse> CommitPushSession(const Actor& actor,
                                                                std::string_view push_id);
  // §3.5 / server.md §4.7.
  Status DeletePushSession(const Actor& actor, std::string_view push_id);
  // §3.6 / server.md §4.7. `query` has passed protocol::ValidateCommittedBundleRowsQuery.
  Result<protocol::CommittedBundleRowsResponse> GetCommittedBundleRows(
      const Actor& actor, const protocol::CommittedBundleRowsQuery& query);
  // §3.7 / server.md §5.
  Result<protocol::PullResponse> ProcessPull(const Actor& actor, const protocol::PullQuery& query);
  // The same as the encoded JSON body (without the trailing newline), written while the rows
  // stream from PostgreSQL: what the HTTP handler serves (no payload is parsed or copied twice).
  Result<std::string> ProcessPullBody(const Actor& actor, const protocol::PullQuery& query);
  // §3.9 / server.md §6.1-§6.3: a frozen copy of every live row of the scope, materialized
  // inside PostgreSQL (one INSERT ... SELECT per registered table) from one REPEATABLE READ
  // snapshot, optionally rotating the caller's source (§6.2). Expiry runs on the database clock.
  // Errors: kScopeUninitialized / kScopeInitializing; kSnapshotSessionInvalid (replacement
  // validation; also a scope over max_rows/max_bytes_per_snapshot_session — go-oversync answers
  // 500 there); kSourceRetired; kSourceReplacementInvalid; kInternal when row_state and the
  // business tables disagree; kDatabase/kUnavailable.
  Result<protocol::SnapshotSession> CreateSnapshotSession(
      const Actor& actor, const protocol::SnapshotSessionCreateRequest& request);
  // §3.10 / server.md §6.4 as the encoded JSON body (rows stream from PostgreSQL, stored payloads
  // are copied unparsed). `query` comes from protocol::ParseSnapshotChunkQuery.
  // Errors: kSnapshotChunkInvalid, kSnapshotSessionNotFound (also for a malformed id),
  // kSnapshotSessionForbidden, kSnapshotSessionExpired.
  Result<std::string> GetSnapshotChunkBody(const Actor& actor, std::string_view snapshot_id,
                                           const protocol::SnapshotChunkQuery& query);
  // The same, decoded.
  Result<protocol::SnapshotChunkResponse> GetSnapshotChunk(const Actor& actor,
                                                           std::string_view snapshot_id,
                                                           const protocol::SnapshotChunkQuery& query);
  // §3.11: no expiry check. Errors: kSnapshotChunkInvalid (blank id), kSnapshotSessionNotFound,
  // kSnapshotSessionForbidden.
  Status DeleteSnapshotSession(const Actor& actor, std::string_view snapshot_id);
  // §3.8 / server.md §7.5: subscribes to the scope's bundle-change hints. When the scope's head
  // is already above `after_bundle_seq`, an event for the head is pending at once. The
  // subscription is not an in-flight operation: Shutdown closes it instead of waiting for it.
  // Errors: kBundleChangeWatchDisabled "Bundle change watch is disabled"; kInvalidRequest
  // "after_bundle_seq must be >= 0"; kServiceUnavailable; kScopeUninitialized /
  // kScopeInitializing; kDatabase/kUnavailable.
  Result<std::unique_ptr<BundleChangeSubscription>> SubscribeBundleChanges(
      const Actor& actor, std::int64_t after_bundle_seq);
  // Watch subscribers of `user_id` in this process (the example server's
  // /test/watch-subscribers). Errors: kDatabase/kUnavailable.
  Result<int> LocalWatchSubscriberCount(const std::string& user_id);
  // Errors: kDatabase/kUnavailable.
  Result<RuntimeCounters> GetCounters();
  // §3.12 (profile B: protocol-b.md §5.1, with the snapshot byte and concurrency limits).
  protocol::CapabilitiesResponse GetCapabilities() const;
  // The wire profile this service speaks (ServiceConfig::wire_profile). Thread-safe.
  protocol::WireProfileId wire_profile() const noexcept;
  // Whether `source_id` is one of ServiceConfig::reserved_server_source_ids. Thread-safe.
  bool IsReservedSourceId(std::string_view source_id) const noexcept;
  // §3.13. Errors: kDatabase/kUnavailable.
  Result<protocol::StatusResponse> GetStatus();

  // ---- server-originated writes (server.md §3.6-§3.7) ----

  // go-oversync's ScopeManager.ExecWrite: runs `fn` in one transaction as the next bundle of
  // source `writer_id` in scope `scope_id` (source_bundle_id = the source's last committed + 1;
  // writer ids share the per-scope source sequence space with client source ids). An
  // UNINITIALIZED scope becomes INITIALIZED by this writer (`auto_initialized`). Never retried.
  // Errors: kInvalidArgument "scope_id is required" / "writer_id is required" / "scope write
  // callback is required"; kScopeInitializing (never hidden); kSourceRetired; kFailedPrecondition
  // "scope write for S via W produced no visible registered-table effects" (everything,
  // including the auto-initialization and unregistered-table writes, is rolled back); the
  // callback's own error verbatim; kServiceUnavailable when shutting down; kDatabase/kUnavailable.
  Result<ScopeWriteResult> ExecWrite(std::string_view scope_id, std::string_view writer_id,
                                     const SyncWriteFn& fn);

  // go-oversync's WithinSyncBundle: the low-level primitive for callers that manage exact source
  // tuples. The scope must be INITIALIZED and `source.source_bundle_id` must be the source's next
  // one. When `fn` touched no registered table (or its effects normalized away) the transaction
  // still commits (unregistered-table writes persist), no bundle is produced (nullopt) and the
  // source does not advance. Never retried.
  // Errors: kInvalidArgument "actor user_id is required" / "bundle source_id is required" /
  // "bundle source_bundle_id must be > 0" / "bundle callback is required";
  // kScopeUninitialized / kScopeInitializing; kSourceRetired; kHistoryPruned (a tuple at or below
  // the committed watermark: there is no replay here); kSourceSequenceOutOfOrder; the callback's
  // own error verbatim; kServiceUnavailable; kDatabase/kUnavailable.
  Result<std::optional<CommittedBundle>> WithinSyncBundle(const std::string& user_id,
                                                          const BundleSource& source,
                                                          const SyncWriteFn& fn);

  // Deletes every bundle at or below its scope's retained floor now (what the background
  // retention worker does over time), in batches of retention_prune_batch_size. Returns the
  // number of bundles deleted. Errors: kServiceUnavailable; kDatabase/kUnavailable.
  Result<std::int64_t> RunRetentionPass();

  // ---- adopting data that existed before sync (server.md §10.1 item 2) ----

  // Scopes (distinct _sync_scope_id values) that own business rows of a registered table
  // without live sync.row_state: rows written before Bootstrap, or kept while the `sync` schema
  // was dropped and recreated. Such scopes cannot snapshot or push until adopted. Sorted.
  // Errors: kDatabase/kUnavailable.
  Result<std::vector<std::string>> ListUnadoptedScopes();
  // Brings a scope's rows under sync with one bundle from source `writer_id` (the next
  // source_bundle_id of that writer): an INSERT with the current row image for every business
  // row without live row_state, a DELETE for every live row_state without a business row,
  // tables parents first. An UNINITIALIZED scope becomes INITIALIZED (auto_initialized).
  // Devices then receive the rows by pull, watch or snapshot. nullopt when there is nothing to
  // adopt (and nothing changes). Idempotent. Errors: kInvalidArgument "scope_id is required" /
  // "writer_id is required"; kScopeInitializing; kSourceRetired; kDatabase/kUnavailable.
  Result<std::optional<ScopeWriteResult>> AdoptScope(std::string_view scope_id,
                                                     std::string_view writer_id);

  // Stops accepting operations (they fail with kServiceUnavailable "sync service is shutting
  // down"), waits for in-flight ones, then closes. Idempotent. Thread-safe.
  void Shutdown();

  const ServiceConfig& config() const noexcept;
  // Registered tables after normalization, in configuration order, with their table ids.
  const std::vector<NormalizedTable>& registered_tables() const noexcept;

 private:
  explicit RuntimeService(std::unique_ptr<internal::RuntimeState> impl);
  std::unique_ptr<internal::RuntimeState> impl_;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_RUNTIME_SERVICE_H_
