// File: oversync/protocol/query.h
//
// Typed query parameters of the GET endpoints with Go's parsing rules (protocol.md §1.1): the
// first occurrence of a name wins, an empty value is absent, integers are base-10 int64 with an
// optional sign and nothing else (no spaces, underscores or hex).
//
// Parsing (syntax) and range checks are separate because the Go server answers a shutdown 503
// between them for some endpoints (protocol.md §3.6, §3.10).
#ifndef OVERSYNC_PROTOCOL_QUERY_H_
#define OVERSYNC_PROTOCOL_QUERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oversync/common/status.h"

namespace oversync::protocol {

// Percent-decoded name/value pairs in request order.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// The first value of `name`, or nullopt when absent or empty.
std::optional<std::string_view> FirstQueryValue(const QueryParams& params, std::string_view name);

// strconv.ParseInt(s, 10, 64). nullopt when `s` is not such an integer.
std::optional<std::int64_t> ParseGoInt64(std::string_view s) noexcept;

// ---- GET /sync/pull (§3.7): all checks before the shutdown check; kInvalidRequest ----
struct PullQuery {
  std::int64_t after_bundle_seq = 0;
  std::int64_t max_bundles = 0;       // resolved: default applied
  std::int64_t target_bundle_seq = 0; // 0 = none
};
Result<PullQuery> ParsePullQuery(const QueryParams& params, std::int64_t default_max_bundles,
                                 std::int64_t max_bundles_limit);

// ---- GET /sync/watch (§3.8): kInvalidRequest ----
Result<std::int64_t> ParseWatchAfterBundleSeq(const QueryParams& params);

// ---- GET /sync/committed-bundles/{bundle_seq}/rows (§3.6): kCommittedBundleChunkInvalid ----
struct CommittedBundleRowsQuery {
  std::int64_t bundle_seq = 0;
  std::optional<std::int64_t> after_row_ordinal;  // absent = start at row 0
  std::int64_t max_rows = 0;                      // resolved: default applied, clamped
};
// Syntax only ("bundle_seq must be an integer", "... must be an integer").
Result<CommittedBundleRowsQuery> ParseCommittedBundleRowsQuery(std::string_view bundle_seq_text,
                                                               const QueryParams& params,
                                                               std::int64_t default_max_rows,
                                                               std::int64_t max_rows_limit);
// Range checks, to run after the shutdown check.
Status ValidateCommittedBundleRowsQuery(const CommittedBundleRowsQuery& query);

// ---- GET /sync/snapshot-sessions/{id} (§3.10): kSnapshotChunkInvalid ----
struct SnapshotChunkQuery {
  std::int64_t after_row_ordinal = 0;
  std::int64_t max_rows = 0;  // resolved: default applied, clamped
  // Profile B only (protocol-b.md §5.11): resolved like max_rows; nullopt for profile A.
  std::optional<std::int64_t> max_bytes{};
};
// `max_bytes_limit` > 0 enables profile B's max_bytes parameter (absent or empty: the default;
// above the limit: clamped; not an integer: 400 "max_bytes must be an integer").
Result<SnapshotChunkQuery> ParseSnapshotChunkQuery(const QueryParams& params,
                                                   std::int64_t default_max_rows,
                                                   std::int64_t max_rows_limit,
                                                   std::int64_t default_max_bytes = 0,
                                                   std::int64_t max_bytes_limit = 0);
Status ValidateSnapshotChunkQuery(std::string_view snapshot_id, const SnapshotChunkQuery& query);

}  // namespace oversync::protocol

#endif  // OVERSYNC_PROTOCOL_QUERY_H_
