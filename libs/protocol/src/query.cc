#include "oversync/protocol/query.h"

#include <charconv>

#include <fmt/format.h>

namespace oversync::protocol {
namespace {

// Reads an optional integer parameter; kOk with nullopt when absent.
Result<std::optional<std::int64_t>> ReadInt(const QueryParams& params, std::string_view name,
                                            ErrorCode code) {
  const auto text = FirstQueryValue(params, name);
  if (!text) return std::optional<std::int64_t>();
  const auto value = ParseGoInt64(*text);
  if (!value) return Error(code, fmt::format("{} must be an integer", name));
  return value;
}

// The requested max_rows (validated > 0 later) or the default, clamped to the limit (Go clamps
// the effective value, so a configured default above the limit is clamped too).
std::int64_t ResolveMaxRows(const std::optional<std::int64_t>& requested, std::int64_t def,
                            std::int64_t limit) {
  const std::int64_t value = requested.value_or(def);
  return value > limit ? limit : value;
}

}  // namespace

std::optional<std::string_view> FirstQueryValue(const QueryParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) {
      if (value.empty()) return std::nullopt;
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> ParseGoInt64(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s.front() == '+' || s.front() == '-') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  // Parse the magnitude as unsigned so that -9223372036854775808 is representable.
  std::uint64_t magnitude = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  constexpr std::uint64_t kMaxPositive = 9223372036854775807ULL;
  if (negative) {
    if (magnitude > kMaxPositive + 1) return std::nullopt;
    if (magnitude == kMaxPositive + 1) return INT64_MIN;
    return -static_cast<std::int64_t>(magnitude);
  }
  if (magnitude > kMaxPositive) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

Result<PullQuery> ParsePullQuery(const QueryParams& params, std::int64_t default_max_bundles,
                                 std::int64_t max_bundles_limit) {
  constexpr ErrorCode kCode = ErrorCode::kInvalidRequest;
  PullQuery query;
  OVERSYNC_ASSIGN_OR_RETURN(const auto after, ReadInt(params, "after_bundle_seq", kCode));
  if (after) {
    if (*after < 0) return Error(kCode, "after_bundle_seq must be >= 0");
    query.after_bundle_seq = *after;
  }
  OVERSYNC_ASSIGN_OR_RETURN(const auto max_bundles, ReadInt(params, "max_bundles", kCode));
  query.max_bundles = default_max_bundles;
  if (max_bundles) {
    if (*max_bundles < 1 || *max_bundles > max_bundles_limit) {
      return Error(kCode, fmt::format("max_bundles must be between 1 and {}", max_bundles_limit));
    }
    query.max_bundles = *max_bundles;
  }
  OVERSYNC_ASSIGN_OR_RETURN(const auto target, ReadInt(params, "target_bundle_seq", kCode));
  if (target) {
    if (*target < 0) return Error(kCode, "target_bundle_seq must be >= 0");
    query.target_bundle_seq = *target;
  }
  return query;
}

Result<std::int64_t> ParseWatchAfterBundleSeq(const QueryParams& params) {
  constexpr ErrorCode kCode = ErrorCode::kInvalidRequest;
  OVERSYNC_ASSIGN_OR_RETURN(const auto after, ReadInt(params, "after_bundle_seq", kCode));
  if (!after) return std::int64_t{0};
  if (*after < 0) return Error(kCode, "after_bundle_seq must be >= 0");
  return *after;
}

Result<CommittedBundleRowsQuery> ParseCommittedBundleRowsQuery(std::string_view bundle_seq_text,
                                                               const QueryParams& params,
                                                               std::int64_t default_max_rows,
                                                               std::int64_t max_rows_limit) {
  constexpr ErrorCode kCode = ErrorCode::kCommittedBundleChunkInvalid;
  CommittedBundleRowsQuery query;
  const auto bundle_seq = ParseGoInt64(bundle_seq_text);
  if (!bundle_seq) return Error(kCode, "bundle_seq must be an integer");
  query.bundle_seq = *bundle_seq;
  OVERSYNC_ASSIGN_OR_RETURN(query.after_row_ordinal, ReadInt(params, "after_row_ordinal", kCode));
  OVERSYNC_ASSIGN_OR_RETURN(const auto max_rows, ReadInt(params, "max_rows", kCode));
  query.max_rows = ResolveMaxRows(max_rows, default_max_rows, max_rows_limit);
  return query;
}

Status ValidateCommittedBundleRowsQuery(const CommittedBundleRowsQuery& query) {
  constexpr ErrorCode kCode = ErrorCode::kCommittedBundleChunkInvalid;
  if (query.bundle_seq <= 0) return {kCode, "bundle_seq must be > 0"};
  if (query.after_row_ordinal && *query.after_row_ordinal < 0) {
    return {kCode, "after_row_ordinal must be >= 0"};
  }
  if (query.max_rows <= 0) return {kCode, "max_rows must be > 0"};
  return {};
}

Result<SnapshotChunkQuery> ParseSnapshotChunkQuery(const QueryParams& params,
                                                   std::int64_t default_max_rows,
                                                   std::int64_t max_rows_limit,
                                                   std::int64_t default_max_bytes,
                                                   std::int64_t max_bytes_limit) {
  constexpr ErrorCode kCode = ErrorCode::kSnapshotChunkInvalid;
  SnapshotChunkQuery query;
  OVERSYNC_ASSIGN_OR_RETURN(const auto after, ReadInt(params, "after_row_ordinal", kCode));
  query.after_row_ordinal = after.value_or(0);
  OVERSYNC_ASSIGN_OR_RETURN(const auto max_rows, ReadInt(params, "max_rows", kCode));
  query.max_rows = ResolveMaxRows(max_rows, default_max_rows, max_rows_limit);
  if (max_bytes_limit > 0) {
    OVERSYNC_ASSIGN_OR_RETURN(const auto max_bytes, ReadInt(params, "max_bytes", kCode));
    query.max_bytes = ResolveMaxRows(max_bytes, default_max_bytes, max_bytes_limit);
  }
  return query;
}

Status ValidateSnapshotChunkQuery(std::string_view snapshot_id, const SnapshotChunkQuery& query) {
  constexpr ErrorCode kCode = ErrorCode::kSnapshotChunkInvalid;
  if (snapshot_id.empty()) return {kCode, "snapshot_id must be provided"};
  if (query.after_row_ordinal < 0) return {kCode, "after_row_ordinal must be >= 0"};
  if (query.max_rows <= 0) return {kCode, "max_rows must be > 0"};
  if (query.max_bytes && *query.max_bytes <= 0) return {kCode, "max_bytes must be > 0"};
  return {};
}

}  // namespace oversync::protocol
