// File: oversync/server/config.h
//
// Configuration of the server runtime: ServiceConfig mirrors go-oversync's oversync.ServiceConfig
// field by field with the same defaults (server.md §8.1). Zero or negative durations/limits mean
// "use the default" unless a field says otherwise.
#ifndef OVERSYNC_SERVER_CONFIG_H_
#define OVERSYNC_SERVER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oversync/common/status.h"
#include "oversync/server/stage_metrics.h"

namespace oversync {

// A PostgreSQL business table under sync (server.md §2). Names are normalized by
// NormalizeRegisteredTables: schema lower(trim) defaulting to "public", table lower(trim), key
// columns lower(trim) with empties and duplicates dropped. Exactly one key column must remain.
struct RegisteredTable {
  std::string schema;
  std::string table;
  std::vector<std::string> sync_key_columns;
};

struct BundleChangeWatchConfig {
  bool enabled = false;
  std::string notify_channel = "oversync_bundle_change_v1";  // empty = default; <= 63 bytes
  std::chrono::milliseconds heartbeat_interval{25000};         // 0 = default
};

struct ServiceConfig {
  std::int64_t max_supported_schema_version = 1;  // echoed as capabilities.schema_version
  std::string app_name = "go-oversync-app";
  std::vector<RegisteredTable> registered_tables;

  std::int64_t max_rows_per_bundle = 0;   // advertised only (Go never enforces it)
  std::int64_t max_bytes_per_bundle = 0;  // advertised only
  std::int64_t default_rows_per_push_chunk = 1000;
  std::int64_t max_rows_per_push_chunk = 5000;
  std::chrono::seconds push_session_ttl{900};
  std::chrono::seconds initialization_lease_ttl{900};
  std::int64_t default_rows_per_committed_bundle_chunk = 1000;
  std::int64_t max_rows_per_committed_bundle_chunk = 5000;
  std::int64_t default_rows_per_snapshot_chunk = 1000;
  std::int64_t max_rows_per_snapshot_chunk = 5000;
  std::chrono::seconds snapshot_session_ttl{900};
  std::int64_t max_rows_per_snapshot_session = 0;   // 0 = unlimited
  std::int64_t max_bytes_per_snapshot_session = 0;  // 0 = unlimited
  std::int64_t retained_bundles_per_user = 10000;
  std::int64_t retention_prune_batch_size = 1000;
  // Extensions (not in go-oversync): commits only advance the retained floor and a background
  // worker deletes the pruned bundles in batches of retention_prune_batch_size, off the request
  // path (go-oversync deletes inside the commit). The worker also sweeps every scope on this
  // interval (floors moved by other processes or by hand; 0 = only scopes this process
  // committed). With background_retention = false nothing is deleted until
  // RuntimeService::RunRetentionPass() is called (tests, external schedulers).
  bool background_retention = true;
  // When Bootstrap creates the `sync` layout, every scope whose registered tables already hold
  // rows gets a baseline bundle (bundle_seq 1 from source "oversync-adoption:<uuid>", all rows
  // INSERTs) and becomes INITIALIZED, in the creating transaction, so devices can hydrate data
  // that predates sync (protocol-b.md §8.2; go-oversync 95bbd38+ does this, 1f1118f left such
  // rows invisible to sync: docs/compatibility.md 79). An existing layout is never adopted
  // again (RuntimeService::AdoptScope covers rows written later with the triggers off).
  bool adopt_populated_tables = true;
  std::chrono::milliseconds retention_sweep_interval{60000};
  std::chrono::milliseconds upload_lock_timeout{0};  // 0 = disabled

  // Extra parent-before-child edges ("schema.table" -> parents) merged into the FK dependency
  // graph computed at Bootstrap. As in go-oversync the resulting table order is computed and
  // logged but drives nothing (push commits apply rows in upload order with deferred FKs).
  // Names are trimmed and lower-cased ("public" when no schema); unknown or unregistered
  // tables and self-edges are ignored.
  std::map<std::string, std::vector<std::string>> dependency_overrides;
  // Receives per-stage timings (see stage_metrics.h); shared so the application keeps its own
  // handle. nullptr = no metrics.
  std::shared_ptr<StageMetricsRecorder> stage_metrics;
  // Logs every stage timing at debug level through the runtime's Logger.
  bool log_stage_timings = false;
  BundleChangeWatchConfig bundle_change_watch;

  // The wire contract this service speaks (docs/wire-profiles.md): "go_canonical_v1" (go-oversync
  // 1f1118f, the default) or "jcs_uniform_numeric_strings_v1" (go-oversync's current contract,
  // protocol-b.md). Several services with different profiles may share one database.
  std::string wire_profile = "go_canonical_v1";
  // Profile B snapshot transfer limits (protocol-b.md §5.1, §7), advertised by a profile-B
  // service. 0 = the go-oversync default. Rules: default <= max chunk bytes, row bytes <= max
  // chunk bytes, batch bytes >= row bytes.
  std::int64_t default_bytes_per_snapshot_chunk = 0;        // default 4 MiB
  std::int64_t max_bytes_per_snapshot_chunk = 0;            // default 16 MiB
  std::int64_t max_bytes_per_snapshot_row = 0;              // default 4 MiB
  std::int64_t snapshot_materialization_batch_rows = 0;     // default 512
  std::int64_t snapshot_materialization_batch_bytes = 0;    // default 4 MiB
  std::int64_t max_concurrent_snapshot_builds = 0;          // default 8 per process
  std::int64_t max_concurrent_snapshot_chunk_requests = 0;  // default 4 per process
  // Profile B: source ids reserved for server-originated writes (protocol-b.md §1.1). Each must
  // pass the profile-B source-id grammar; duplicates are an error. A client sending one gets the
  // ordinary invalid-source-id 400.
  std::vector<std::string> reserved_server_source_ids;
};

// A registered table after normalization, with its catalog identity.
struct NormalizedTable {
  std::int32_t table_id = 0;  // position in the byte-sorted "schema.table" list, from 1
  std::string schema;
  std::string table;
  std::string sync_key_column;
  std::string qualified() const { return schema + "." + table; }
};

// Normalizes names, assigns table ids (sorted by "schema.table", numbered 1..N — server.md §1.2)
// and checks rules that need no database: exactly one key column, not the hidden scope column,
// no duplicate tables. Returns the tables in configuration order.
// Errors: kUnsupportedSchema with go-oversync's messages.
Result<std::vector<NormalizedTable>> NormalizeRegisteredTables(
    const std::vector<RegisteredTable>& tables);

// Applies defaults to zero/negative fields and validates the rest (watch channel length/NUL,
// heartbeat, wire profile name, profile-B snapshot limits and reserved source ids).
// Errors: kInvalidArgument with go-oversync's messages where it has them.
Result<ServiceConfig> ResolveServiceConfig(ServiceConfig config);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_CONFIG_H_
