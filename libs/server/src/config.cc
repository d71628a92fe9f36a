#include "oversync/common/strings.h"
#include "oversync/server/config.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "oversync/protocol/messages.h"
#include "oversync/protocol/wire_profile.h"

namespace oversync {
namespace {

std::string Normalize(std::string_view s) { return ToLowerAscii(TrimAsciiSpace(s)); }

}  // namespace

Result<std::vector<NormalizedTable>> NormalizeRegisteredTables(
    const std::vector<RegisteredTable>& tables) {
  std::vector<NormalizedTable> out;
  std::set<std::string> seen;
  for (const RegisteredTable& t : tables) {
    NormalizedTable n;
    n.schema = Normalize(t.schema);
    if (n.schema.empty()) n.schema = "public";
    n.table = Normalize(t.table);
    std::vector<std::string> keys;
    for (const std::string& column : t.sync_key_columns) {
      std::string normalized = Normalize(column);
      if (normalized.empty()) continue;
      if (std::find(keys.begin(), keys.end(), normalized) != keys.end()) continue;
      keys.push_back(std::move(normalized));
    }
    const std::string qualified = n.qualified();
    if (keys.size() != 1) {
      return Error(ErrorCode::kUnsupportedSchema,
                   fmt::format("registered table {} must resolve to exactly one sync key column "
                               "for the current server runtime",
                               qualified));
    }
    if (keys.front() == "_sync_scope_id") {
      return Error(ErrorCode::kUnsupportedSchema,
                   fmt::format("registered table {} cannot use hidden scope column _sync_scope_id "
                               "as its visible sync key",
                               qualified));
    }
    // go-oversync would silently misnumber table ids for a repeated table; refuse it instead.
    if (!seen.insert(qualified).second) {
      return Error(ErrorCode::kUnsupportedSchema,
                   fmt::format("registered table {} is listed more than once", qualified));
    }
    n.sync_key_column = keys.front();
    out.push_back(std::move(n));
  }
  // table_id = position in the byte-sorted list of "schema.table" (server.md §1.2).
  std::vector<std::string> sorted(seen.begin(), seen.end());  // std::set is already byte-sorted
  for (NormalizedTable& n : out) {
    n.table_id = static_cast<std::int32_t>(
        std::lower_bound(sorted.begin(), sorted.end(), n.qualified()) - sorted.begin() + 1);
  }
  return out;
}

Result<ServiceConfig> ResolveServiceConfig(ServiceConfig config) {
  const auto positive_or = [](std::int64_t v, std::int64_t def) { return v > 0 ? v : def; };
  config.default_rows_per_push_chunk = positive_or(config.default_rows_per_push_chunk, 1000);
  config.max_rows_per_push_chunk = positive_or(config.max_rows_per_push_chunk, 5000);
  config.default_rows_per_committed_bundle_chunk =
      positive_or(config.default_rows_per_committed_bundle_chunk, 1000);
  config.max_rows_per_committed_bundle_chunk =
      positive_or(config.max_rows_per_committed_bundle_chunk, 5000);
  config.default_rows_per_snapshot_chunk = positive_or(config.default_rows_per_snapshot_chunk, 1000);
  config.max_rows_per_snapshot_chunk = positive_or(config.max_rows_per_snapshot_chunk, 5000);
  config.retained_bundles_per_user = positive_or(config.retained_bundles_per_user, 10000);
  config.retention_prune_batch_size = positive_or(config.retention_prune_batch_size, 1000);
  config.max_rows_per_snapshot_session = std::max<std::int64_t>(config.max_rows_per_snapshot_session, 0);
  config.max_bytes_per_snapshot_session =
      std::max<std::int64_t>(config.max_bytes_per_snapshot_session, 0);
  config.max_rows_per_bundle = std::max<std::int64_t>(config.max_rows_per_bundle, 0);
  config.max_bytes_per_bundle = std::max<std::int64_t>(config.max_bytes_per_bundle, 0);
  if (config.push_session_ttl.count() <= 0) config.push_session_ttl = std::chrono::seconds(900);
  if (config.initialization_lease_ttl.count() <= 0) {
    config.initialization_lease_ttl = std::chrono::seconds(900);
  }
  if (config.snapshot_session_ttl.count() <= 0) {
    config.snapshot_session_ttl = std::chrono::seconds(900);
  }
  if (config.upload_lock_timeout.count() < 0) config.upload_lock_timeout = {};
  BundleChangeWatchConfig& watch = config.bundle_change_watch;
  if (watch.notify_channel.empty()) watch.notify_channel = "oversync_bundle_change_v1";
  if (watch.notify_channel.size() > 63) {
    return Error(ErrorCode::kInvalidArgument,
                 "bundle change watch notify channel must be 63 bytes or shorter");
  }
  if (watch.notify_channel.find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "bundle change watch notify channel cannot contain NUL");
  }
  if (watch.heartbeat_interval.count() == 0) watch.heartbeat_interval = std::chrono::seconds(25);
  if (watch.enabled && watch.heartbeat_interval.count() < 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "bundle change watch heartbeat interval must be positive when enabled");
  }
  OVERSYNC_ASSIGN_OR_RETURN(const protocol::WireProfile* profile,
                            protocol::FindWireProfile(config.wire_profile));
  constexpr std::int64_t kMiB = 1024 * 1024;
  config.default_bytes_per_snapshot_chunk =
      positive_or(config.default_bytes_per_snapshot_chunk, 4 * kMiB);
  config.max_bytes_per_snapshot_chunk = positive_or(config.max_bytes_per_snapshot_chunk, 16 * kMiB);
  config.max_bytes_per_snapshot_row = positive_or(config.max_bytes_per_snapshot_row, 4 * kMiB);
  config.snapshot_materialization_batch_rows =
      positive_or(config.snapshot_materialization_batch_rows, 512);
  config.snapshot_materialization_batch_bytes =
      positive_or(config.snapshot_materialization_batch_bytes, 4 * kMiB);
  config.max_concurrent_snapshot_builds = positive_or(config.max_concurrent_snapshot_builds, 8);
  config.max_concurrent_snapshot_chunk_requests =
      positive_or(config.max_concurrent_snapshot_chunk_requests, 4);
  // go-oversync checks these only since profile B (normalizeSnapshotConfig); a profile-A service
  // keeps accepting what 1f1118f accepted.
  if (profile->id() == protocol::WireProfileId::kGoCanonicalV1) return config;
  if (config.default_rows_per_snapshot_chunk > config.max_rows_per_snapshot_chunk) {
    return Error(ErrorCode::kInvalidArgument,
                 "default snapshot chunk rows must not exceed the maximum");
  }
  if (config.default_bytes_per_snapshot_chunk > config.max_bytes_per_snapshot_chunk) {
    return Error(ErrorCode::kInvalidArgument,
                 "default snapshot chunk bytes must not exceed the maximum");
  }
  if (config.max_bytes_per_snapshot_row > config.max_bytes_per_snapshot_chunk) {
    return Error(ErrorCode::kInvalidArgument,
                 "snapshot row bytes must not exceed the maximum snapshot chunk bytes");
  }
  if (config.snapshot_materialization_batch_bytes < config.max_bytes_per_snapshot_row) {
    return Error(ErrorCode::kInvalidArgument,
                 "snapshot materialization batch bytes must be at least the snapshot row bytes");
  }
  std::set<std::string> reserved;
  for (const std::string& source_id : config.reserved_server_source_ids) {
    if (!protocol::IsValidSourceIdProfileB(source_id)) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("reserved server source id {:?} is not a visible ASCII token",
                               source_id));
    }
    if (!reserved.insert(source_id).second) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("reserved server source id {:?} is listed twice", source_id));
    }
  }
  return config;
}

}  // namespace oversync
