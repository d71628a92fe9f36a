#include "scope.h"

#include <fmt/format.h>

#include "oversync/common/rfc3339.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/errors.h"

namespace oversync {
namespace {

constexpr std::string_view kScopeColumns =
    "u.user_pk, s.state_code, COALESCE(s.initializer_source_id, ''), "
    "COALESCE(s.initialization_id::text, ''), "
    "COALESCE((extract(epoch FROM s.lease_expires_at) * 1000000)::bigint, 0), "
    "u.next_bundle_seq, u.retained_bundle_floor";

ScopeRow ScopeRowFrom(const pg::PgResult& r) {
  ScopeRow row;
  row.user_pk = r.Int64(0, 0).value_or(0);
  row.state = static_cast<ScopeStateCode>(r.Int64(0, 1).value_or(0));
  row.initializer_source_id = r.Text(0, 2);
  row.initialization_id = r.Text(0, 3);
  row.lease_expires_at = FromEpochMicros(r.Int64(0, 4).value_or(0));
  row.next_bundle_seq = r.Int64(0, 5).value_or(1);
  row.retained_bundle_floor = r.Int64(0, 6).value_or(0);
  return row;
}

Status ExpireLeaseIfElapsed(pg::PgConnection& tx, ScopeRow& row, TimePoint now) {
  if (row.state != ScopeStateCode::kInitializing || row.lease_expires_at > now) return {};
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "UPDATE sync.scope_state SET state_code = 0, initializer_source_id = NULL, "
      "initialization_id = NULL, lease_expires_at = NULL WHERE user_pk = $1",
      {std::to_string(row.user_pk)}));
  row.state = ScopeStateCode::kUninitialized;
  row.initializer_source_id.clear();
  row.initialization_id.clear();
  row.lease_expires_at = {};
  return {};
}

}  // namespace

Result<ScopeRow> EnsureAndLockScope(pg::PgConnection& tx, const std::string& user_id,
                                    TimePoint now) {
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "WITH ins AS (INSERT INTO sync.user_state (user_id) VALUES ($1) "
      "ON CONFLICT (user_id) DO NOTHING RETURNING user_pk), "
      "u AS (SELECT user_pk FROM ins UNION ALL "
      "SELECT user_pk FROM sync.user_state WHERE user_id = $1) "
      "INSERT INTO sync.scope_state (user_pk, state_code) SELECT user_pk, 0 FROM u LIMIT 1 "
      "ON CONFLICT (user_pk) DO NOTHING",
      {user_id}));
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult r, tx.Exec(
      fmt::format("SELECT {} FROM sync.scope_state s JOIN sync.user_state u ON u.user_pk = "
                  "s.user_pk WHERE u.user_id = $1 FOR UPDATE",
                  kScopeColumns),
      {user_id}));
  if (r.rows() != 1) return Error(ErrorCode::kInternal, "scope state row missing after upsert");
  ScopeRow row = ScopeRowFrom(r);
  OVERSYNC_RETURN_IF_ERROR(ExpireLeaseIfElapsed(tx, row, now));
  return row;
}

Result<ScopeRow> LockScopeByUserPk(pg::PgConnection& tx, std::int64_t user_pk, TimePoint now) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult r, tx.Exec(
      fmt::format("SELECT {} FROM sync.scope_state s JOIN sync.user_state u ON u.user_pk = "
                  "s.user_pk WHERE u.user_pk = $1 FOR UPDATE",
                  kScopeColumns),
      {std::to_string(user_pk)}));
  if (r.rows() != 1) return Error(ErrorCode::kInternal, "scope state row missing");
  ScopeRow row = ScopeRowFrom(r);
  OVERSYNC_RETURN_IF_ERROR(ExpireLeaseIfElapsed(tx, row, now));
  return row;
}

Status RequireActiveInitializationLease(pg::PgConnection& tx, ScopeRow& scope,
                                        const std::string& source_id,
                                        const std::string& initialization_id, TimePoint now,
                                        TimePoint refresh_to) {
  if (scope.state != ScopeStateCode::kInitializing) {
    return {ErrorCode::kInitializationStale, "scope is no longer initializing"};
  }
  if (scope.lease_expires_at <= now) {
    return {ErrorCode::kInitializationExpired, "initialization lease has expired"};
  }
  if (scope.initializer_source_id != source_id) {
    return {ErrorCode::kInitializationStale, "source does not own the active initialization lease"};
  }
  if (scope.initialization_id != initialization_id) {
    return {ErrorCode::kInitializationStale,
            "initialization_id does not match the active initialization lease"};
  }
  OVERSYNC_RETURN_IF_ERROR(tx.Exec(
      "UPDATE sync.scope_state SET lease_expires_at = $2::timestamptz WHERE user_pk = $1",
      {std::to_string(scope.user_pk), FormatRfc3339Nano(refresh_to)}));
  scope.lease_expires_at = refresh_to;
  return {};
}

Result<SourceRow> LoadSource(pg::PgConnection& tx, std::int64_t user_pk,
                             const std::string& source_id, bool for_update) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult r, tx.Exec(
      std::string("SELECT state, max_committed_source_bundle_id, replaced_by_source_id "
                  "FROM sync.source_state WHERE user_pk = $1 AND source_id = $2") +
          (for_update ? " FOR UPDATE" : ""),
      {std::to_string(user_pk), source_id}));
  SourceRow s;
  if (r.rows() == 0) return s;
  s.exists = true;
  s.state = r.Text(0, 0);
  s.max_committed = r.Int64(0, 1).value_or(0);
  s.replaced_by = r.Text(0, 2);
  return s;
}

Status RetiredError(const std::string& source_id, const std::string& user_id,
                    const std::string& replaced_by) {
  std::string message = replaced_by.empty()
                            ? fmt::format("source {} for user {} was retired", source_id, user_id)
                            : fmt::format("source {} for user {} was retired and replaced by {}",
                                          source_id, user_id, replaced_by);
  return protocol::SourceRetiredError(std::move(message), source_id, replaced_by);
}

Status RetiredErrorFor(bool profile_b, const std::string& retired_source_id, const Actor& actor,
                       const std::string& replaced_by) {
  if (!profile_b) return RetiredError(retired_source_id, actor.user_id, replaced_by);
  if (retired_source_id != actor.source_id ||
      (!replaced_by.empty() && !protocol::IsValidSourceIdProfileB(replaced_by))) {
    return {ErrorCode::kSourceRetiredInvalid, "Source retirement state is invalid"};
  }
  return protocol::SourceRetiredError("source is retired", actor.source_id, replaced_by);
}

Status MarkScopeInitialized(pg::PgConnection& tx, std::int64_t user_pk,
                            const std::string& source_id, TimePoint now) {
  return ToStatus(tx.Exec(
      "UPDATE sync.scope_state SET state_code = 2, initializer_source_id = NULL, "
      "initialization_id = NULL, lease_expires_at = NULL, initialized_at = $2::timestamptz, "
      "initialized_by_source_id = $3 WHERE user_pk = $1",
      {std::to_string(user_pk), FormatRfc3339Nano(now), source_id}));
}

Result<ReadScope> LoadScopeForRead(pg::PgConnection& tx, const std::string& user_id,
                                   TimePoint now) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult scope, tx.Exec(
      "SELECT u.user_pk, u.next_bundle_seq, u.retained_bundle_floor, COALESCE(s.state_code, 0), "
      "COALESCE((extract(epoch FROM s.lease_expires_at) * 1000000)::bigint, 0) "
      "FROM sync.user_state u LEFT JOIN sync.scope_state s ON s.user_pk = u.user_pk "
      "WHERE u.user_id = $1",
      {user_id}));
  const auto state = scope.rows() == 0 ? 0 : scope.Int64(0, 3).value_or(0);
  if (state == 1) {
    const TimePoint lease = FromEpochMicros(scope.Int64(0, 4).value_or(0));
    if (lease > now) {
      return Error(ErrorCode::kScopeInitializing,
                   fmt::format("sync scope for user {} is initializing until {}", user_id,
                               FormatRfc3339Nano(lease)));
    }
  }
  if (state != 2) {
    return Error(ErrorCode::kScopeUninitialized,
                 fmt::format("sync scope for user {} is not initialized", user_id));
  }
  ReadScope out;
  out.user_pk = scope.Int64(0, 0).value_or(0);
  out.head = scope.Int64(0, 1).value_or(1) - 1;
  out.retained_floor = scope.Int64(0, 2).value_or(0);
  return out;
}

// ---- POST /sync/connect ----

Result<protocol::ConnectResponse> RuntimeService::Connect(const Actor& actor,
                                                          const protocol::ConnectRequest& request) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "connect", "total");
  protocol::ConnectResponse response;
  Status status = RunUserTransaction(*impl_, "connect", actor.user_id, 1,
                                     [&](pg::PgConnection& tx) -> Status {
    const TimePoint now = impl_->clock->Now();
    OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, EnsureAndLockScope(tx, actor.user_id, now));
    const std::string user_pk = std::to_string(scope.user_pk);
    response = protocol::ConnectResponse();
    const auto initialize_empty = [&]() -> Status {
      OVERSYNC_RETURN_IF_ERROR(MarkScopeInitialized(tx, scope.user_pk, actor.source_id, now));
      response.resolution = protocol::ConnectResolution::kInitializeEmpty;
      return {};
    };
    const TimePoint lease = now + impl_->config.initialization_lease_ttl;
    switch (scope.state) {
      case ScopeStateCode::kInitialized:
        response.resolution = protocol::ConnectResolution::kRemoteAuthoritative;
        return {};
      case ScopeStateCode::kUninitialized:
        if (!request.has_local_pending_rows) return initialize_empty();
        {
          const std::string id = impl_->NewUuidText();
          OVERSYNC_RETURN_IF_ERROR(tx.Exec(
              "UPDATE sync.scope_state SET state_code = 1, initializer_source_id = $2, "
              "initialization_id = $3::uuid, lease_expires_at = $4::timestamptz WHERE user_pk = $1",
              {user_pk, actor.source_id, id, FormatRfc3339Nano(lease)}));
          response.resolution = protocol::ConnectResolution::kInitializeLocal;
          response.initialization_id = id;
          response.lease_expires_at = FormatRfc3339Nano(lease);
        }
        return {};
      case ScopeStateCode::kInitializing:
        if (scope.initializer_source_id == actor.source_id) {
          if (!request.has_local_pending_rows) return initialize_empty();
          OVERSYNC_RETURN_IF_ERROR(tx.Exec(
              "UPDATE sync.scope_state SET lease_expires_at = $2::timestamptz WHERE user_pk = $1",
              {user_pk, FormatRfc3339Nano(lease)}));
          response.resolution = protocol::ConnectResolution::kInitializeLocal;
          response.initialization_id = scope.initialization_id;
          response.lease_expires_at = FormatRfc3339Nano(lease);
          return {};
        }
        response.resolution = protocol::ConnectResolution::kRetryLater;
        response.lease_expires_at = FormatRfc3339Nano(scope.lease_expires_at);
        response.retry_after_seconds = std::max<std::int64_t>(
            1, std::chrono::duration_cast<std::chrono::seconds>(scope.lease_expires_at - now)
                   .count());
        return {};
    }
    return {};
  });
  total.Finish(status);
  if (!status.ok()) return Error(std::move(status));
  return response;
}

}  // namespace oversync
