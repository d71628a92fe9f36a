// Read paths: committed-bundle replay, pull, capabilities, status (server.md §4.7, §5, §8.3).
#include <fmt/format.h>

#include "oversync/common/strings.h"
#include "oversync/common/rfc3339.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_writer.h"
#include "profile_b.h"
#include "runtime_internal.h"
#include "scope.h"

namespace oversync {
namespace {

using protocol::JsonValue;
using protocol::Op;

// Storage key bytes arrive as encode(key_bytes, 'hex').
std::string DecodeHexText(std::string_view hex) { return HexDecode(hex).value_or(std::string()); }

// Builds a wire bundle row from the stored columns (table_id, key hex, op_code, payload text).
Result<protocol::BundleRow> BundleRowFrom(const internal::RuntimeState& impl, const pg::PgResult& r,
                                          int row, int first_column, std::int64_t bundle_seq,
                                          protocol::JsonParser& parser) {
  const auto table_id = static_cast<std::int32_t>(r.Int64(row, first_column).value_or(0));
  const RegisteredTableRuntime* table = impl.TableById(table_id);
  if (table == nullptr) {
    return Error(ErrorCode::kInternal, fmt::format("bundle row for unknown table_id {}", table_id));
  }
  protocol::BundleRow out;
  out.schema = table->shape.schema;
  out.table = table->shape.table;
  out.key = WireKey(*table, KeyTextFromBytes(table->shape.key_kind,
                                             DecodeHexText(r.Text(row, first_column + 1))));
  out.op = static_cast<Op>(r.Int64(row, first_column + 2).value_or(1));
  out.row_version = bundle_seq;
  if (out.op != Op::kDelete && !r.IsNull(row, first_column + 3)) {
    OVERSYNC_ASSIGN_OR_RETURN(JsonValue payload, parser.Parse(r.Text(row, first_column + 3)));
    out.payload = std::move(payload);
  }
  return out;
}

Status HistoryPruned(std::int64_t checkpoint, std::int64_t floor, const std::string& user_id) {
  return {ErrorCode::kHistoryPruned,
          fmt::format("requested checkpoint {} is older than retained history floor {} for user {}",
                      checkpoint, floor, user_id)};
}

}  // namespace

// ---- GET /sync/committed-bundles/{bundle_seq}/rows ----

Result<protocol::CommittedBundleRowsResponse> RuntimeService::GetCommittedBundleRows(
    const Actor& actor, const protocol::CommittedBundleRowsQuery& query) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  OVERSYNC_RETURN_IF_ERROR(protocol::ValidateCommittedBundleRowsQuery(query));
  const std::int64_t max_rows =
      std::min(query.max_rows, impl_->config.max_rows_per_committed_bundle_chunk);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  protocol::CommittedBundleRowsResponse response;
  Status status = pg::InTransaction(*conn, pg::Isolation::kRepeatableRead,
                                    [&](pg::PgConnection& tx) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult user, tx.Exec(
        "SELECT u.user_pk, u.retained_bundle_floor, l.source_id, l.source_bundle_id, l.row_count, "
        "encode(l.bundle_hash, 'hex'), l.bundle_seq IS NOT NULL FROM sync.user_state u "
        "LEFT JOIN sync.bundle_log l ON l.user_pk = u.user_pk AND l.bundle_seq = $2 "
        "WHERE u.user_id = $1",
        {actor.user_id, std::to_string(query.bundle_seq)}));
    if (user.rows() == 0) {
      return {ErrorCode::kInternal, fmt::format("no sync state for user {}", actor.user_id)};
    }
    const std::int64_t floor = user.Int64(0, 1).value_or(0);
    if (query.bundle_seq <= floor) return HistoryPruned(query.bundle_seq, floor, actor.user_id);
    if (!user.Bool(0, 6)) {
      return {ErrorCode::kCommittedBundleNotFound,
              fmt::format("committed bundle {} was not found", query.bundle_seq)};
    }
    const std::int64_t after = query.after_row_ordinal.value_or(-1);
    const bool profile_b = profile_b::Enabled(*impl_);
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult rows, tx.Exec(
        profile_b
            ? "SELECT b.table_id, encode(b.key_bytes, 'hex'), b.op_code, b.payload_wire::text, "
              "COALESCE(e.payload_exact::text, '') FROM sync.bundle_rows b "
              "LEFT JOIN sync.cpp_bundle_rows_exact e ON e.user_pk = b.user_pk "
              "AND e.bundle_seq = b.bundle_seq AND e.row_ordinal = b.row_ordinal "
              "WHERE b.user_pk = $1 AND b.bundle_seq = $2 AND b.row_ordinal > $3 "
              "ORDER BY b.row_ordinal LIMIT $4"
            : "SELECT table_id, encode(key_bytes, 'hex'), op_code, payload_wire::text "
              "FROM sync.bundle_rows WHERE user_pk = $1 AND bundle_seq = $2 AND row_ordinal > $3 "
              "ORDER BY row_ordinal LIMIT $4",
        {std::string(user.Text(0, 0)), std::to_string(query.bundle_seq),
         std::to_string(after + 1), std::to_string(max_rows + 1)}));
    response.bundle_seq = query.bundle_seq;
    response.source_id = user.Text(0, 2);
    response.source_bundle_id = user.Int64(0, 3).value_or(0);
    response.row_count = user.Int64(0, 4).value_or(0);
    response.bundle_hash = user.Text(0, 5);
    const int take = static_cast<int>(std::min<std::int64_t>(rows.rows(), max_rows));
    protocol::JsonParser parser;
    for (int r = 0; r < take; ++r) {
      OVERSYNC_ASSIGN_OR_RETURN(protocol::BundleRow row,
                                BundleRowFrom(*impl_, rows, r, 0, query.bundle_seq, parser));
      if (profile_b && row.op != Op::kDelete && !rows.IsNull(r, 3)) {
        const RegisteredTableRuntime* table =
            impl_->TableById(static_cast<std::int32_t>(rows.Int64(r, 0).value_or(0)));
        OVERSYNC_ASSIGN_OR_RETURN(
            row.payload, profile_b::RenderStoredRow(*table, rows.Text(r, 3), rows.Text(r, 4), parser));
      }
      response.rows.push_back(std::move(row));
    }
    if (profile_b) {
      OVERSYNC_ASSIGN_OR_RETURN(profile_b::CommittedBundleB bundle,
                                profile_b::LoadCommittedBundle(*impl_, tx, user.Int64(0, 0).value_or(0),
                                                               query.bundle_seq));
      response.bundle_hash = std::move(bundle.bundle_hash);
      response.canonical_request_hash = std::move(bundle.canonical_request_hash);
    }
    response.has_more = rows.rows() > take;
    response.next_row_ordinal =
        take > 0 ? after + take : query.after_row_ordinal.value_or(0);
    return {};
  });
  if (!status.ok()) return Error(std::move(status));
  return response;
}

// ---- GET /sync/pull ----

Result<std::string> RuntimeService::ProcessPullBody(const Actor& actor,
                                                   const protocol::PullQuery& query) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "pull", "total");
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  const std::int64_t max_bundles =
      query.max_bundles <= 0 ? 1000 : std::min<std::int64_t>(query.max_bundles, 5000);
  std::string body;
  StageTimer transaction(*impl_, "pull", "transaction");
  std::int64_t bundles_served = 0;
  Status status = pg::InTransaction(*conn, pg::Isolation::kRepeatableReadReadOnly,
                                    [&](pg::PgConnection& tx) -> Status {
    const TimePoint now = impl_->clock->Now();
    // One statement reads the scope state, the retained floor and the head (go-oversync's
    // retained_floor_check and resolve_stable_bundle_seq stages).
    StageTimer floor_check(*impl_, "pull", "retained_floor_check");
    OVERSYNC_ASSIGN_OR_RETURN(ReadScope scope, LoadScopeForRead(tx, actor.user_id, now));
    floor_check.Finish(Status());
    const std::int64_t user_pk = scope.user_pk;
    const std::int64_t head = scope.head;
    const std::int64_t floor = scope.retained_floor;
    const std::int64_t after = query.after_bundle_seq;
    const std::int64_t target = query.target_bundle_seq;
    if (impl_->profile->id() == protocol::WireProfileId::kJcsUniformNumericStringsV1) {
      // protocol-b.md §5.8 steps 3-5: after = floor is a valid checkpoint; ahead of the head is
      // checkpoint_ahead; a target below the checkpoint is the client's mistake.
      if (after < floor) return HistoryPruned(after, floor, actor.user_id);
      if (after > head) {
        return {ErrorCode::kCheckpointAhead,
                fmt::format("requested checkpoint {} is ahead of current committed bundle "
                            "sequence {} for user {}",
                            after, head, actor.user_id)};
      }
      if (target > 0) {
        if (target < floor) {
          return {ErrorCode::kHistoryPruned,
                  fmt::format("requested target {} is older than retained history floor {} for "
                              "user {}",
                              target, floor, actor.user_id)};
        }
        if (target > head) {
          return {ErrorCode::kCheckpointAhead,
                  fmt::format("requested target {} is ahead of current committed bundle sequence "
                              "{} for user {}",
                              target, head, actor.user_id)};
        }
        if (target < after) {
          return {ErrorCode::kInvalidRequest,
                  fmt::format("target_bundle_seq {} must be greater than or equal to "
                              "after_bundle_seq {}",
                              target, after)};
        }
      }
    } else {
      // Unlike go-oversync, a checkpoint of 0 is pruned too once a floor exists: bundles at or
      // below the floor are gone, so such a client must hydrate by snapshot (server.md §10.1
      // item 1; docs/compatibility.md).
      if (floor > 0 && after <= floor) return HistoryPruned(after, floor, actor.user_id);
      if (target > 0 && target <= floor) return HistoryPruned(target, floor, actor.user_id);
      // A checkpoint ahead of the head (server database restored or reset) would make Go answer
      // 200 with stable < after, which every client rejects forever; history_pruned makes them
      // rebuild (kmp-client.md §7.2).
      if (target == 0 && after > head) {
        return {ErrorCode::kHistoryPruned,
                fmt::format("requested checkpoint {} is ahead of the retained history head {} for "
                            "user {}",
                            after, head, actor.user_id)};
      }
    }
    const std::int64_t stable = target > 0 ? target : head;
    if (impl_->profile->id() == protocol::WireProfileId::kGoCanonicalV1 && stable > 0 &&
        stable <= floor) {
      return HistoryPruned(stable, floor, actor.user_id);
    }
    // The body is written straight from the database rows: stored payloads are already
    // Go-canonical JSON text, so they are copied, never parsed, and rows stream in (single-row
    // mode) so a page is held in memory once, as its JSON.
    body.clear();
    protocol::JsonWriter w(body);
    w.BeginObject();
    w.Member("stable_bundle_seq", stable);
    w.Key("bundles");
    w.BeginArray();
    bool has_more = false;
    // One streaming statement lists the page's bundles and loads their rows (go-oversync's
    // list_bundle_seqs and load_bundles stages).
    StageTimer load(*impl_, "pull", "load_bundles");
    if (after < stable && profile_b::Enabled(*impl_)) {
      OVERSYNC_RETURN_IF_ERROR(profile_b::WritePullBundles(*impl_, tx, user_pk,
                                                           std::max(after, floor), stable,
                                                           max_bundles, w, has_more,
                                                           bundles_served));
    } else if (after < stable) {
      std::int64_t open_bundle = 0;
      const auto close_bundle = [&] {
        if (open_bundle == 0) return;
        w.EndArray();   // rows
        w.EndObject();  // bundle
      };
      OVERSYNC_RETURN_IF_ERROR(tx.ExecRows(
          "WITH page AS (SELECT bundle_seq, source_id, source_bundle_id, row_count, bundle_hash, "
          "row_number() OVER (ORDER BY bundle_seq) AS n FROM sync.bundle_log WHERE user_pk = $1 "
          "AND bundle_seq > $2 AND bundle_seq <= $3 ORDER BY bundle_seq LIMIT $4 + 1) "
          "SELECT (SELECT count(*) > $4 FROM page), p.bundle_seq, p.source_id, "
          "p.source_bundle_id, p.row_count, encode(p.bundle_hash, 'hex'), r.table_id, "
          "encode(r.key_bytes, 'hex'), r.op_code, r.payload_wire::text FROM page p "
          "LEFT JOIN sync.bundle_rows r ON r.user_pk = $1 AND r.bundle_seq = p.bundle_seq "
          "WHERE p.n <= $4 ORDER BY p.bundle_seq, r.row_ordinal",
          {std::to_string(user_pk), std::to_string(std::max(after, floor)),
           std::to_string(stable), std::to_string(max_bundles)},
          [&](const pg::PgResult& row) -> Status {
            has_more = row.Bool(0, 0);
            const std::int64_t bundle_seq = row.Int64(0, 1).value_or(0);
            if (bundle_seq != open_bundle) {
              close_bundle();
              open_bundle = bundle_seq;
              ++bundles_served;
              w.BeginObject();
              w.Member("bundle_seq", bundle_seq);
              w.Member("source_id", row.Text(0, 2));
              w.Member("source_bundle_id", row.Int64(0, 3).value_or(0));
              if (const std::int64_t n = row.Int64(0, 4).value_or(0); n != 0) {
                w.Member("row_count", n);
              }
              if (!row.Text(0, 5).empty()) w.Member("bundle_hash", row.Text(0, 5));
              w.Key("rows");
              w.BeginArray();
            }
            if (row.IsNull(0, 6)) return {};
            const auto table_id = static_cast<std::int32_t>(row.Int64(0, 6).value_or(0));
            const RegisteredTableRuntime* table = impl_->TableById(table_id);
            if (table == nullptr) {
              return {ErrorCode::kInternal,
                      fmt::format("bundle row for unknown table_id {}", table_id)};
            }
            const auto row_op = static_cast<Op>(row.Int64(0, 8).value_or(1));
            w.BeginObject();
            w.Member("schema", table->shape.schema);
            w.Member("table", table->shape.table);
            w.Key("key");
            w.Value(WireKey(*table, KeyTextFromBytes(table->shape.key_kind,
                                                     DecodeHexText(row.Text(0, 7)))));
            w.Member("op", protocol::OpName(row_op));
            w.Member("row_version", bundle_seq);
            if (row_op != Op::kDelete && !row.IsNull(0, 9)) {
              w.Key("payload");
              w.Raw(row.Text(0, 9));
            }
            w.EndObject();
            return {};
          }));
      close_bundle();
    }
    load.Finish(Status(), bundles_served);
    w.EndArray();
    w.Member("has_more", has_more);
    w.EndObject();
    return {};
  });
  transaction.Finish(status, bundles_served);
  if (status.code() == ErrorCode::kHistoryPruned) {
    // Counted outside the failed transaction (sequences are not transactional anyway).
    (void)conn->Exec("SELECT nextval('sync.history_pruned_error_seq')");
  }
  total.Finish(status, bundles_served);
  if (!status.ok()) return Error(std::move(status));
  return body;
}

Result<protocol::PullResponse> RuntimeService::ProcessPull(const Actor& actor,
                                                           const protocol::PullQuery& query) {
  OVERSYNC_ASSIGN_OR_RETURN(std::string body, ProcessPullBody(actor, query));
  auto decoded = protocol::DecodePullResponse(body);
  if (!decoded) return Error(ErrorCode::kInternal, decoded.error().message());
  return decoded;
}

// ---- capabilities / status ----

namespace {

std::map<std::string, bool> Features(bool watch_enabled) {
  std::map<std::string, bool> f;
  for (const char* name :
       {"bundle_pull", "push_session_chunking", "committed_bundle_row_fetch", "snapshot_chunking",
        "status_endpoint", "graceful_shutdown", "capabilities_endpoint", "history_pruned_errors",
        "bundle_push", "structured_sync_keys", "registered_write_rejection_enforced",
        "accepted_push_replay_visibility", "committed_bundle_visibility",
        "retained_floor_visibility", "retained_window_visibility", "history_pruned_visibility",
        "connect_lifecycle", "scope_initialization_leases"}) {
    f[name] = true;
  }
  f["server_checkpoint_tracking"] = false;
  f["bundle_change_watch"] = watch_enabled;
  return f;
}

}  // namespace

protocol::CapabilitiesResponse RuntimeService::GetCapabilities() const {
  const ServiceConfig& c = impl_->config;
  protocol::CapabilitiesResponse r;
  r.schema_version = c.max_supported_schema_version;
  r.app_name = c.app_name;
  std::vector<const NormalizedTable*> sorted;
  for (const NormalizedTable& t : impl_->tables) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const NormalizedTable* a, const NormalizedTable* b) {
    return a->qualified() < b->qualified();
  });
  for (const NormalizedTable* t : sorted) {
    r.registered_tables.push_back(t->qualified());
    r.registered_table_specs.push_back({t->schema, t->table, {t->sync_key_column}});
  }
  r.features = Features(c.bundle_change_watch.enabled);
  protocol::BundleLimits& l = r.bundle_limits;
  l.max_rows_per_bundle = c.max_rows_per_bundle;
  l.max_bytes_per_bundle = c.max_bytes_per_bundle;
  l.max_bundles_per_pull = 5000;
  l.default_rows_per_push_chunk = c.default_rows_per_push_chunk;
  l.max_rows_per_push_chunk = c.max_rows_per_push_chunk;
  l.push_session_ttl_seconds = c.push_session_ttl.count();
  l.default_rows_per_committed_bundle_chunk = c.default_rows_per_committed_bundle_chunk;
  l.max_rows_per_committed_bundle_chunk = c.max_rows_per_committed_bundle_chunk;
  l.default_rows_per_snapshot_chunk = c.default_rows_per_snapshot_chunk;
  l.max_rows_per_snapshot_chunk = c.max_rows_per_snapshot_chunk;
  l.snapshot_session_ttl_seconds = c.snapshot_session_ttl.count();
  l.max_rows_per_snapshot_session = c.max_rows_per_snapshot_session;
  l.max_bytes_per_snapshot_session = c.max_bytes_per_snapshot_session;
  l.initialization_lease_ttl_seconds = c.initialization_lease_ttl.count();
  // Profile B's members; the encoder writes them only for a profile-B service.
  l.default_bytes_per_snapshot_chunk = c.default_bytes_per_snapshot_chunk;
  l.max_bytes_per_snapshot_chunk = c.max_bytes_per_snapshot_chunk;
  l.max_bytes_per_snapshot_row = c.max_bytes_per_snapshot_row;
  l.snapshot_materialization_batch_rows = c.snapshot_materialization_batch_rows;
  l.snapshot_materialization_batch_bytes = c.snapshot_materialization_batch_bytes;
  l.max_concurrent_snapshot_builds = c.max_concurrent_snapshot_builds;
  l.max_concurrent_snapshot_chunk_requests = c.max_concurrent_snapshot_chunk_requests;
  return r;
}

Result<protocol::StatusResponse> RuntimeService::GetStatus() {
  protocol::StatusResponse r;
  {
    std::lock_guard lock(impl_->lifecycle_mu);
    r.lifecycle = impl_->lifecycle == Lifecycle::kRunning        ? "running"
                  : impl_->lifecycle == Lifecycle::kShuttingDown ? "shutting_down"
                                                                 : "closed";
    r.accepting_operations = impl_->lifecycle == Lifecycle::kRunning && impl_->bootstrapped;
    r.inflight_operations = impl_->inflight;
    if (!impl_->bootstrapped && impl_->lifecycle == Lifecycle::kRunning) {
      // protocol-b.md §1.4: before Bootstrap the sync tables may not exist; report "not ready"
      // with zero counters instead of failing on them (/syncx/health answers 503).
      r.status = "unhealthy";
      r.app_name = impl_->config.app_name;
      r.features = Features(impl_->config.bundle_change_watch.enabled);
      return r;
    }
  }
  r.app_name = impl_->config.app_name;
  for (const protocol::RegisteredTableSpec& spec : GetCapabilities().registered_table_specs) {
    r.registered_tables.push_back(spec.schema + "." + spec.table);
  }
  r.features = Features(impl_->config.bundle_change_watch.enabled);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  // One pass over user_state (one row per user) instead of go-oversync's COUNT(*) and SUM over
  // bundle_log: the retained bundle count is sum(head - floor); bytes (of retained bundles, not
  // of pruned ones the retention worker has yet to delete) are exact for small histories and
  // estimated from a sample for large ones (docs/compatibility.md).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult s, conn->Exec(R"sql(
WITH u AS (
  SELECT next_bundle_seq - 1 AS head, retained_bundle_floor AS floor FROM sync.user_state),
est AS (SELECT GREATEST(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = 'sync.bundle_log'::regclass)
SELECT
  (SELECT count(*) FROM u WHERE floor > head),
  (SELECT COALESCE(max(GREATEST(head, 0)), 0) FROM u),
  (SELECT COALESCE(min(floor), 0) FROM u),
  (SELECT COALESCE(max(floor), 0) FROM u),
  (SELECT COALESCE(min(GREATEST(head - floor, 0)), 0) FROM u),
  (SELECT COALESCE(max(GREATEST(head - floor, 0)), 0) FROM u),
  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync.history_pruned_error_seq),
  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync.accepted_push_replay_seq),
  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync.rejected_registered_write_seq),
  (SELECT COALESCE(sum(GREATEST(head - floor, 0)), 0) FROM u),
  CASE WHEN (SELECT n FROM est) < 100000
       THEN (SELECT COALESCE(sum(b.byte_count), 0) FROM sync.bundle_log b
             JOIN sync.user_state us ON us.user_pk = b.user_pk
             WHERE b.bundle_seq > us.retained_bundle_floor)
       ELSE (SELECT (COALESCE(avg(byte_count), 0) *
                     (SELECT COALESCE(sum(GREATEST(head - floor, 0)), 0) FROM u))::bigint
             FROM sync.bundle_log TABLESAMPLE SYSTEM (1)) END)sql"));
  std::int64_t* fields[] = {&r.user_state_retention_floor_ahead_count, &r.latest_bundle_seq_max,
                            &r.retained_bundle_floor_min, &r.retained_bundle_floor_max,
                            &r.retained_bundle_window_min, &r.retained_bundle_window_max,
                            &r.history_pruned_error_count, &r.accepted_push_replay_count,
                            &r.rejected_registered_write_count, &r.committed_bundle_count,
                            &r.committed_bundle_bytes};
  for (int i = 0; i < 11; ++i) *fields[i] = s.Int64(0, i).value_or(0);
  r.status = r.lifecycle == "running" && r.user_state_retention_floor_ahead_count == 0
                 ? "healthy"
                 : "unhealthy";
  return r;
}

// ---- GET /sync/watch (subscription) ----

Result<std::unique_ptr<BundleChangeSubscription>> RuntimeService::SubscribeBundleChanges(
    const Actor& actor, std::int64_t after_bundle_seq) {
  if (!impl_->watch_hub) {
    return Error(ErrorCode::kBundleChangeWatchDisabled, "Bundle change watch is disabled");
  }
  if (after_bundle_seq < 0) {
    return Error(ErrorCode::kInvalidRequest, "after_bundle_seq must be >= 0");
  }
  ReadScope scope;
  {
    OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
    OVERSYNC_RETURN_IF_ERROR(pg::InTransaction(
        *conn, pg::Isolation::kReadCommitted, [&](pg::PgConnection& tx) -> Status {
          OVERSYNC_ASSIGN_OR_RETURN(scope, LoadScopeForRead(tx, actor.user_id,
                                                            impl_->clock->Now()));
          return {};
        }));
    OVERSYNC_ASSIGN_OR_RETURN(std::unique_ptr<BundleChangeSubscription> subscription,
                              impl_->watch_hub->Subscribe(scope.user_pk, after_bundle_seq));
    // Registered first, then the head is read: a commit is either in this head or notified
    // to the registered subscriber (the subscribe/notify race of server.md §7.5).
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult head, conn->Exec(
        "SELECT next_bundle_seq - 1 FROM sync.user_state WHERE user_pk = $1",
        {std::to_string(scope.user_pk)}));
    if (head.rows() == 1) {
      BundleChangeEvent event;
      event.bundle_seq = head.Int64(0, 0).value_or(0);
      if (event.bundle_seq > after_bundle_seq) impl_->watch_hub->Publish(scope.user_pk, event);
    }
    return subscription;
  }
}

Result<int> RuntimeService::LocalWatchSubscriberCount(const std::string& user_id) {
  if (!impl_->watch_hub) return 0;
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult user, conn->Exec(
      "SELECT user_pk FROM sync.user_state WHERE user_id = $1", {user_id}));
  if (user.rows() == 0) return 0;
  return impl_->watch_hub->SubscriberCount(user.Int64(0, 0).value_or(0));
}

Result<RuntimeCounters> RuntimeService::GetCounters() {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult s, conn->Exec(
      "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
      "FROM sync.history_pruned_error_seq), "
      "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync.accepted_push_replay_seq), "
      "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
      "FROM sync.rejected_registered_write_seq)"));
  RuntimeCounters counters;
  counters.history_pruned_errors = s.Int64(0, 0).value_or(0);
  counters.accepted_push_replays = s.Int64(0, 1).value_or(0);
  counters.rejected_registered_writes = s.Int64(0, 2).value_or(0);
  counters.watch_subscribers = impl_->watch_hub ? impl_->watch_hub->TotalSubscribers() : 0;
  {
    std::lock_guard lock(impl_->lifecycle_mu);
    counters.inflight_operations = impl_->inflight;
  }
  return counters;
}

}  // namespace oversync
