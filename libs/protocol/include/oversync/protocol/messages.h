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

// Profile B identifier grammars (protocol-b.md §1.1, §1.3).
// Oversync-Source-ID: 1 to 256 bytes, each printable ASCII 0x21-0x7E, compared byte for byte.
bool IsValidSourceIdProfileB(std::string_view source_id) noexcept;
// push_id / initialization_id: the canonical lowercase dashed UUID spelling (8-4-4-4-12).
bool IsCanonicalUuid(std::string_view text) noexcept;

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
  std::string initialization_id;  // trimmed (profile A) / as sent (profile B); empty = absent
  // Profile B (protocol-b.md §4.2, §5.3): required there, ignored by profile A. Empty = absent.
  std::string canonical_request_hash{};
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
  std::string canonical_request_hash{};  // profile B: echoed in both statuses
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
  std::string canonical_request_hash{};  // profile B only (omitted when empty)
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
  // Profile B (protocol-b.md §6.1). snapshot_chunk_too_small only: the next row's size.
  std::optional<std::int64_t> required_byte_count{};
  // snapshot_session_limit_exceeded only: which limit, the value reached and the limit.
  struct LimitExceeded {
    std::string dimension;  // "row_count" | "byte_count" | "row_byte_count"
    std::int64_t actual = 0;
    std::int64_t limit = 0;
  };
  std::optional<LimitExceeded> limit_exceeded{};
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
  std::string canonical_request_hash{};  // profile B: always emitted (even empty)
};

struct Bundle {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;   // omitted when 0
  std::string bundle_hash;      // omitted when empty
  std::vector<BundleRow> rows;
  std::string canonical_request_hash{};  // profile B; omitted when empty
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
  std::int64_t byte_count = 0;  // profile A: omitted when 0; profile B: always (full row sizes)
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
  std::int64_t byte_count{0};  // profile B only: sum of SnapshotRowWireSize of `rows`
};

// Profile B's size of one snapshot row (protocol-b.md §5.11): the byte length of the row's own
// JSON object as the Go server encodes it (members schema, table, key, row_version, payload; Go
// escaping; payload members in their stored order).
std::int64_t SnapshotRowWireSize(const SnapshotRow& row);

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
  // Profile B only, always emitted there (protocol-b.md §5.1).
  std::int64_t default_bytes_per_snapshot_chunk = 0;
  std::int64_t max_bytes_per_snapshot_chunk = 0;
  std::int64_t max_bytes_per_snapshot_row = 0;
  std::int64_t snapshot_materialization_batch_rows = 0;
  std::int64_t snapshot_materialization_batch_bytes = 0;
  std::int64_t max_concurrent_snapshot_builds = 0;
  std::int64_t max_concurrent_snapshot_chunk_requests = 0;
};

// Profile-B clients require the server's advertised tables to equal their own configuration
// (kmp-client.md §3.2; shared fixture protocol-handshake/connect.json contractCases): the result
// of comparing the two sets, order-insensitive. Names are "schema.table", sorted.
struct TableSpecComparison {
  struct KeyMismatch {
    std::string qualified_table;
    std::vector<std::string> client_sync_key_columns;
    std::vector<std::string> server_sync_key_columns;
  };
  std::vector<std::string> server_only_tables;
  std::vector<std::string> client_only_tables;
  std::vector<KeyMismatch> sync_key_mismatches;
  bool match() const noexcept {
    return server_only_tables.empty() && client_only_tables.empty() && sync_key_mismatches.empty();
  }
};
TableSpecComparison CompareTableSpecs(const std::vector<RegisteredTableSpec>& local,
                                      const std::vector<RegisteredTableSpec>& advertised);

struct CapabilitiesResponse {
  std::string protocol_version{kProtocolVersion};
  std::int64_t schema_version = 0;
  std::string app_name;                                   // omitted when empty
  std::vector<std::string> registered_tables;             // omitted when empty
  std::vector<RegisteredTableSpec> registered_table_specs;  // A: omitted when empty; B: always
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
