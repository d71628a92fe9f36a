// File: oversync/protocol/messages.h
//
// Typed request and response bodies of the 14 endpoints (protocol.md §3). Field names match the
// wire names. Encoders and decoders live in codec.h; these are plain values.
//
// Conventions: integers are int64; optional wire members whose Go encoder uses `omitempty` are
// plain fields whose zero value means "omit" unless the type is std::optional (which marks
// members whose presence itself carries meaning).
#ifndef OVERSYNC_PROTOCOL_MESSAGES_H_
#define OVERSYNC_PROTOCOL_MESSAGES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/protocol/json_value.h"

namespace oversync::protocol {

inline constexpr std::string_view kProtocolVersion = "v1";

// Row operation (protocol.md §2.4). Storage opcodes are the enumerator values.
enum class Op : std::uint8_t { kInsert = 1, kUpdate = 2, kDelete = 3 };
std::string_view OpName(Op op) noexcept;  // "INSERT" / "UPDATE" / "DELETE"
// Trimmed, case-insensitive. Returns false for anything else.
bool ParseOp(std::string_view text, Op& op) noexcept;

// ---- 3.1 connect ----
struct ConnectRequest {
  bool has_local_pending_rows = false;
};

enum class ConnectResolution : std::uint8_t {
  kRemoteAuthoritative,
  kInitializeLocal,
  kInitializeEmpty,
  kRetryLater,
};
std::string_view ConnectResolutionName(ConnectResolution r) noexcept;

struct ConnectResponse {
  ConnectResolution resolution = ConnectResolution::kRemoteAuthoritative;
  std::string initialization_id;       // initialize_local only
  std::string lease_expires_at;        // RFC 3339; initialize_local and retry_later
  std::int64_t retry_after_seconds = 0;  // retry_later only (>= 1)
};

// ---- 3.2 push session create ----
struct PushSessionCreateRequest {
  std::int64_t source_bundle_id = 0;
  std::int64_t planned_row_count = 0;
  std::string initialization_id;  // trimmed; empty = absent
};

enum class PushSessionStatus : std::uint8_t { kStaging, kAlreadyCommitted };

struct PushSessionCreateResponse {
  PushSessionStatus status = PushSessionStatus::kStaging;
  // every member below is omitted on the wire when zero/empty (Go omitempty)
  std::string push_id;
  std::int64_t planned_row_count = 0;
  std::int64_t next_expected_row_ordinal = 0;
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;
};

// ---- 3.3 push chunk ----
struct PushRequestRow {
  std::string schema;   // as sent (normalization and validation: push_validation.h)
  std::string table;
  JsonValue key;        // an object
  std::string op;       // as sent; see ParseOp
  std::int64_t base_row_version = 0;
  bool payload_present = false;  // the member existed (even as null)
  JsonValue payload;             // meaningful when payload_present
};

struct PushChunkRequest {
  std::int64_t start_row_ordinal = 0;
  std::vector<PushRequestRow> rows;
};

struct PushChunkResponse {
  std::string push_id;
  std::int64_t next_expected_row_ordinal = 0;
};

// ---- 3.4 commit ----
struct PushSessionCommitResponse {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;
};

struct PushConflictDetails {
  std::string schema;
  std::string table;
  JsonValue key;
  std::string op;
  std::int64_t base_row_version = 0;
  std::int64_t server_row_version = 0;
  bool server_row_deleted = false;
  std::optional<JsonValue> server_row;  // nullopt = JSON null (always emitted)
};

// Every non-2xx JSON body (protocol.md §1.5).
struct ErrorResponse {
  std::string error;
  std::string message;
  // source_retired only
  std::string source_id;
  std::string replaced_by_source_id;
  // push_conflict only
  std::optional<PushConflictDetails> conflict;
};

// ---- 3.6 / 3.7 bundles ----
struct BundleRow {
  std::string schema;
  std::string table;
  JsonValue key;
  Op op = Op::kInsert;
  std::int64_t row_version = 0;
  std::optional<JsonValue> payload;  // absent for DELETE
};

struct CommittedBundleRowsResponse {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;
  std::vector<BundleRow> rows;
  std::int64_t next_row_ordinal = 0;
  bool has_more = false;
};

struct Bundle {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;   // omitted when 0
  std::string bundle_hash;      // omitted when empty
  std::vector<BundleRow> rows;
};

struct PullResponse {
  std::int64_t stable_bundle_seq = 0;
  std::vector<Bundle> bundles;
  bool has_more = false;
};

// ---- 3.8 watch ----
struct WatchEvent {
  std::int64_t bundle_seq = 0;
  std::string source_id;             // omitted when empty
  std::int64_t source_bundle_id = 0; // omitted when 0
};

// ---- 3.9 - 3.11 snapshots ----
inline constexpr std::string_view kReplacementReasons[] = {
    "history_pruned", "source_sequence_out_of_order", "source_sequence_changed",
    "source_retired"};

struct SnapshotSourceReplacement {
  std::string previous_source_id;
  std::string new_source_id;
  std::string reason;
};

struct SnapshotSessionCreateRequest {
  std::optional<SnapshotSourceReplacement> source_replacement;
};

struct SnapshotSession {
  std::string snapshot_id;
  std::int64_t snapshot_bundle_seq = 0;
  std::int64_t row_count = 0;
  std::int64_t byte_count = 0;  // omitted when 0
  std::string expires_at;       // RFC 3339
};

struct SnapshotRow {
  std::string schema;
  std::string table;
  JsonValue key;
  std::int64_t row_version = 0;
  JsonValue payload;
};

struct SnapshotChunkResponse {
  std::string snapshot_id;
  std::int64_t snapshot_bundle_seq = 0;
  std::vector<SnapshotRow> rows;
  std::int64_t next_row_ordinal = 0;
  bool has_more = false;
};

// ---- 3.12 capabilities ----
struct RegisteredTableSpec {
  std::string schema;
  std::string table;
  std::vector<std::string> sync_key_columns;  // omitted when empty
};

// Every member is omitted when 0 (protocol.md §3.12, §9 item 16).
struct BundleLimits {
  std::int64_t max_rows_per_bundle = 0;
  std::int64_t max_bytes_per_bundle = 0;
  std::int64_t max_bundles_per_pull = 0;
  std::int64_t default_rows_per_push_chunk = 0;
  std::int64_t max_rows_per_push_chunk = 0;
  std::int64_t push_session_ttl_seconds = 0;
  std::int64_t default_rows_per_committed_bundle_chunk = 0;
  std::int64_t max_rows_per_committed_bundle_chunk = 0;
  std::int64_t default_rows_per_snapshot_chunk = 0;
  std::int64_t max_rows_per_snapshot_chunk = 0;
  std::int64_t snapshot_session_ttl_seconds = 0;
  std::int64_t max_rows_per_snapshot_session = 0;
  std::int64_t max_bytes_per_snapshot_session = 0;
  std::int64_t initialization_lease_ttl_seconds = 0;
};

struct CapabilitiesResponse {
  std::string protocol_version{kProtocolVersion};
  std::int64_t schema_version = 0;
  std::string app_name;                                   // omitted when empty
  std::vector<std::string> registered_tables;             // omitted when empty
  std::vector<RegisteredTableSpec> registered_table_specs;  // omitted when empty
  std::map<std::string, bool> features;                   // always present (sorted like Go)
  BundleLimits bundle_limits;                             // always present
};

// ---- 3.13 health / status ----
struct StatusResponse {
  std::string status;     // "healthy" | "unhealthy"
  std::string version{kProtocolVersion};
  std::string app_name;
  std::string lifecycle;  // "running" | "shutting_down" | "closed"
  bool accepting_operations = false;
  std::int64_t inflight_operations = 0;
  std::vector<std::string> registered_tables;
  std::map<std::string, bool> features;
  std::int64_t user_state_retention_floor_ahead_count = 0;
  std::int64_t latest_bundle_seq_max = 0;
  std::int64_t retained_bundle_floor_min = 0;
  std::int64_t retained_bundle_floor_max = 0;
  std::int64_t retained_bundle_window_min = 0;
  std::int64_t retained_bundle_window_max = 0;
  std::int64_t history_pruned_error_count = 0;
  std::int64_t accepted_push_replay_count = 0;
  std::int64_t rejected_registered_write_count = 0;
  std::int64_t committed_bundle_count = 0;
  std::int64_t committed_bundle_bytes = 0;
};

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_MESSAGES_H_
