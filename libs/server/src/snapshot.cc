// Snapshot sessions: create (with source replacement), chunk reads, delete, expiry cleanup
// (server.md §6, protocol.md §3.9-§3.11, §4.6).
#include <algorithm>

#include <fmt/format.h>

#include "oversync/common/rfc3339.h"
#include "oversync/common/strings.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/codec.h"
#include "oversync/protocol/json_writer.h"
#include "oversync/protocol/errors.h"
#include "profile_b.h"
#include "runtime_internal.h"
#include "scope.h"

namespace oversync {
namespace {

using protocol::JsonValue;

constexpr int kSnapshotAttempts = 3;
// Expired sessions removed per snapshot create (their rows cascade); the rest go with later
// creates, so one create never pays for a large backlog.
constexpr int kExpiredSessionsPerCleanup = 100;

Status InvalidSnapshot(std::string message) {
  return {ErrorCode::kSnapshotSessionInvalid, std::move(message)};
}

// The wire payload of a business row (server.md §3.4): to_jsonb text without the scope column,
// bytea columns as standard base64 (PostgreSQL wraps base64 at 76 characters: unwrap). Like
// go-oversync the text is PostgreSQL's jsonb rendering; clients compare payloads semantically.
std::string PayloadExpr(const RegisteredTableRuntime& table) {
  std::string expr = "(to_jsonb(src) - '_sync_scope_id')";
  for (const std::string& column : table.shape.bytea_columns) {
    expr += fmt::format(" || jsonb_build_object({}, translate(encode(src.{}, 'base64'), E'\\n', ''))",
                        pg::QuoteLiteral(column), pg::QuoteIdent(column));
  }
  return expr;
}

// §6.2: validates the replacement and records it (retire previous, reserve new). Profile B
// (protocol-b.md §5.10) compares the ids byte for byte, checks them against the source-id
// grammar and the reserved server ids first, and words both 409s "source replacement is invalid".
Status ApplySourceReplacement(const internal::RuntimeState& impl, pg::PgConnection& tx,
                              const Actor& actor, std::int64_t user_pk,
                              const protocol::SnapshotSourceReplacement& raw) {
  const bool speaks_b = profile_b::Enabled(impl);
  const std::string previous(speaks_b ? std::string_view(raw.previous_source_id)
                                       : TrimAsciiSpace(raw.previous_source_id));
  const std::string next(speaks_b ? std::string_view(raw.new_source_id)
                                   : TrimAsciiSpace(raw.new_source_id));
  const std::string reason(speaks_b ? std::string_view(raw.reason) : TrimAsciiSpace(raw.reason));
  if (speaks_b) {
    if (!protocol::IsValidSourceIdProfileB(previous)) {
      return InvalidSnapshot("previous_source_id is invalid");
    }
    if (!protocol::IsValidSourceIdProfileB(next)) return InvalidSnapshot("new_source_id is invalid");
    const std::vector<std::string>& reserved = impl.config.reserved_server_source_ids;
    if (std::find(reserved.begin(), reserved.end(), previous) != reserved.end() ||
        std::find(reserved.begin(), reserved.end(), next) != reserved.end()) {
      return InvalidSnapshot("source replacement is invalid");
    }
  }
  if (previous != (speaks_b ? std::string_view(actor.source_id) : TrimAsciiSpace(actor.source_id))) {
    return InvalidSnapshot("previous_source_id must match authenticated source_id");
  }
  if (next.empty()) return InvalidSnapshot("new_source_id is required for source replacement");
  if (next == previous) return InvalidSnapshot("new_source_id must differ from previous_source_id");
  if (std::find(std::begin(protocol::kReplacementReasons), std::end(protocol::kReplacementReasons),
                reason) == std::end(protocol::kReplacementReasons)) {
    return InvalidSnapshot("source replacement reason is unsupported");
  }
  OVERSYNC_ASSIGN_OR_RETURN(SourceRow old_source, LoadSource(tx, user_pk, previous, true));
  OVERSYNC_ASSIGN_OR_RETURN(SourceRow new_source, LoadSource(tx, user_pk, next, true));
  const std::string user_pk_text = std::to_string(user_pk);
  const auto reserve = [&]() -> Status {
    return ToStatus(tx.Exec("INSERT INTO sync.source_state (user_pk, source_id, state) "
                   "VALUES ($1, $2, 'reserved')",
                   {user_pk_text, next}));
  };
  if (old_source.state == "retired") {
    if (old_source.replaced_by != next) {
      return RetiredErrorFor(speaks_b, previous, actor, old_source.replaced_by);
    }
    // An idempotent repeat of a replacement already recorded.
    if (!new_source.exists) return reserve();
    if (new_source.state != "reserved" && new_source.state != "active") {
      if (speaks_b) return {ErrorCode::kSourceReplacementInvalid, "source replacement is invalid"};
      return {ErrorCode::kSourceReplacementInvalid,
              fmt::format("replacement source {} is not available for rotated rebuild", next)};
    }
    return {};
  }
  if (new_source.exists) {
    if (speaks_b) return {ErrorCode::kSourceReplacementInvalid, "source replacement is invalid"};
    return {ErrorCode::kSourceReplacementInvalid,
            fmt::format("replacement source {} is already known for user {}", next, actor.user_id)};
  }
  OVERSYNC_RETURN_IF_ERROR(reserve());
  return ToStatus(tx.Exec(
             "INSERT INTO sync.source_state (user_pk, source_id, state, replaced_by_source_id, "
             "retirement_reason) VALUES ($1, $2, 'retired', $3, $4) "
             "ON CONFLICT (user_pk, source_id) DO UPDATE SET state = 'retired', "
             "replaced_by_source_id = EXCLUDED.replaced_by_source_id, "
             "retirement_reason = EXCLUDED.retirement_reason",
             {user_pk_text, previous, next, reason}));
}

// Loads a session for a chunk read or delete: 404 unknown (a malformed id is unknown too),
// 403 another user's; `expired` tells whether the database clock passed expires_at.
struct SessionInfo {
  std::string snapshot_id;
  std::int64_t snapshot_bundle_seq = 0;
  bool expired = false;
};

Result<SessionInfo> LoadSnapshotSession(pg::PgConnection& tx, std::string_view snapshot_id,
                                        const Actor& actor) {
  const auto not_found = [&] {
    return Error(ErrorCode::kSnapshotSessionNotFound,
                 fmt::format("snapshot session {} was not found", snapshot_id));
  };
  auto uuid = Uuid::ParseLenient(snapshot_id);
  if (!uuid) return not_found();
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult r, tx.Exec(
      "SELECT u.user_id, s.snapshot_bundle_seq, now() > s.expires_at "
      "FROM sync.snapshot_sessions s JOIN sync.user_state u ON u.user_pk = s.user_pk "
      "WHERE s.snapshot_id = $1::uuid",
      {uuid->ToString()}));
  if (r.rows() == 0) return not_found();
  if (r.Text(0, 0) != actor.user_id) {
    return Error(ErrorCode::kSnapshotSessionForbidden,
                 fmt::format("snapshot session {} does not belong to the authenticated user",
                             snapshot_id));
  }
  SessionInfo info;
  info.snapshot_id = uuid->ToString();
  info.snapshot_bundle_seq = r.Int64(0, 1).value_or(0);
  info.expired = r.Bool(0, 2);
  return info;
}

// Profile B's row as written in a chunk: members schema, table, key, row_version, payload, the
// stored payload compacted like Go's encoder. Its length is the row's wire size (protocol-b.md
// §5.11); create and chunk reads both measure with this one function.
std::string SnapshotRowJsonB(const RegisteredTableRuntime& table, std::string_view key_hex,
                             std::int64_t row_version, std::string_view payload_text) {
  std::string out;
  protocol::JsonWriter w(out);
  w.BeginObject();
  w.Member("schema", table.shape.schema);
  w.Member("table", table.shape.table);
  w.Key("key");
  w.Value(WireKey(table, KeyTextFromBytes(table.shape.key_kind,
                                          HexDecode(key_hex).value_or(std::string()))));
  w.Member("row_version", row_version);
  w.Key("payload");
  w.RawCompact(payload_text);
  w.EndObject();
  return out;
}

// Profile B materialization of one table (protocol-b.md §5.10): the live rows in key order,
// payloads rendered with numeric strings, each row's wire size checked against the row limit and
// added to the running totals, which are checked against the session limits (409). Returns the
// number of rows materialized; `rows` / `bytes` are the session totals so far.
Result<std::int64_t> MaterializeTableB(const internal::RuntimeState& impl, pg::PgConnection& tx,
                                       const RegisteredTableRuntime& table,
                                       const std::string& snapshot_id,
                                       const std::string& user_pk_text, const std::string& user_id,
                                       std::int64_t& rows, std::int64_t& bytes) {
  const std::string target =
      pg::QuoteIdent(table.shape.schema) + "." + pg::QuoteIdent(table.shape.table);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult live, tx.Exec(
      fmt::format("SELECT encode(rs.key_bytes, 'hex'), rs.bundle_seq, ({2})::text "
                  "FROM sync.row_state AS rs JOIN {0} AS src ON src._sync_scope_id = $3 AND "
                  "src.{3} = {1} WHERE rs.user_pk = $1 AND rs.table_id = $2::integer AND "
                  "NOT rs.deleted ORDER BY rs.key_bytes",
                  target, KeyFromBytesExpr(table), PayloadExpr(table),
                  pg::QuoteIdent(table.shape.key_column)),
      {user_pk_text, std::to_string(table.info.table.table_id), user_id}));
  const ServiceConfig& config = impl.config;
  protocol::JsonParser parser;
  protocol::JsonParseOptions options;
  options.keep_out_of_range_numbers = true;
  std::string copy_data;
  for (int r = 0; r < live.rows(); ++r) {
    OVERSYNC_ASSIGN_OR_RETURN(JsonValue image, parser.Parse(live.Text(r, 2), options));
    OVERSYNC_ASSIGN_OR_RETURN(JsonValue payload, profile_b::RenderPayload(table, image));
    std::string payload_text;
    protocol::JsonWriter(payload_text).Value(payload);
    const std::int64_t row_version = live.Int64(r, 1).value_or(0);
    const auto size = static_cast<std::int64_t>(
        SnapshotRowJsonB(table, live.Text(r, 0), row_version, payload_text).size());
    if (size > config.max_bytes_per_snapshot_row) {
      return Error(protocol::SnapshotSessionLimitError("row_byte_count", size,
                                                       config.max_bytes_per_snapshot_row));
    }
    ++rows;
    bytes += size;
    if (config.max_rows_per_snapshot_session > 0 && rows > config.max_rows_per_snapshot_session) {
      return Error(protocol::SnapshotSessionLimitError("row_count", rows,
                                                       config.max_rows_per_snapshot_session));
    }
    if (config.max_bytes_per_snapshot_session > 0 &&
        bytes > config.max_bytes_per_snapshot_session) {
      return Error(protocol::SnapshotSessionLimitError("byte_count", bytes,
                                                       config.max_bytes_per_snapshot_session));
    }
    pg::AppendCopyField(copy_data, snapshot_id, true);
    pg::AppendCopyField(copy_data, std::to_string(rows));
    pg::AppendCopyField(copy_data, std::to_string(table.info.table.table_id));
    pg::AppendCopyField(copy_data, std::string("\\x") + std::string(live.Text(r, 0)));
    pg::AppendCopyField(copy_data, std::to_string(row_version));
    pg::AppendCopyField(copy_data, payload_text);
    copy_data += '\n';
  }
  if (!copy_data.empty()) {
    OVERSYNC_RETURN_IF_ERROR(tx.CopyIn(
        "COPY sync.snapshot_session_rows (snapshot_id, row_ordinal, table_id, key_bytes, "
        "bundle_seq, payload_wire) FROM STDIN",
        copy_data));
  }
  return static_cast<std::int64_t>(live.rows());
}

}  // namespace

// ---- POST /sync/snapshot-sessions ----

Result<protocol::SnapshotSession> RuntimeService::CreateSnapshotSession(
    const Actor& actor, const protocol::SnapshotSessionCreateRequest& request) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "snapshot_create", "total");
  const bool profile_b = profile_b::Enabled(*impl_);
  // protocol-b.md §5.10 step 3: nothing has happened yet, so the client retries as is.
  const std::optional<AdmissionPermit> build_permit =
      profile_b ? AdmissionPermit::Acquire(impl_->snapshot_builds,
                                           impl_->config.max_concurrent_snapshot_builds)
                : std::nullopt;
  if (profile_b && !build_permit) {
    return Error(ErrorCode::kSnapshotBuildCapacity, "snapshot build capacity is exhausted");
  }
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  // Expired sessions of every user, in a short transaction of its own and skipping rows another
  // process is deleting, so cleanup never makes the snapshot transaction conflict.
  OVERSYNC_RETURN_IF_ERROR(conn->Exec(fmt::format(
      "DELETE FROM sync.snapshot_sessions WHERE snapshot_id IN (SELECT snapshot_id FROM "
      "sync.snapshot_sessions WHERE expires_at <= now() LIMIT {} FOR UPDATE SKIP LOCKED)",
      kExpiredSessionsPerCleanup)));

  protocol::SnapshotSession session;
  int attempt = 0;
  // REPEATABLE READ: the head, row_state and every business table are read from one snapshot,
  // so the copy is consistent without blocking writers. Serialization failures (a concurrent
  // source change during a replacement) are retried.
  Status status = pg::WithRetry(kSnapshotAttempts, std::chrono::milliseconds(25), [&]() -> Status {
    ++attempt;
    StageTimer transaction(*impl_, "snapshot_create", "transaction");
    Status st = pg::InTransaction(*conn, pg::Isolation::kRepeatableRead,
                                  [&](pg::PgConnection& tx) -> Status {
      const TimePoint now = impl_->clock->Now();
      OVERSYNC_ASSIGN_OR_RETURN(ReadScope scope, LoadScopeForRead(tx, actor.user_id, now));
      if (request.source_replacement) {
        OVERSYNC_RETURN_IF_ERROR(
            ApplySourceReplacement(*impl_, tx, actor, scope.user_pk, *request.source_replacement));
      }
      const std::string snapshot_id = impl_->NewUuidText();
      const std::string user_pk_text = std::to_string(scope.user_pk);
      OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult created, tx.Exec(
          "INSERT INTO sync.snapshot_sessions (snapshot_id, user_pk, snapshot_bundle_seq, "
          "row_count, byte_count, expires_at) VALUES ($1::uuid, $2, $3, 0, 0, "
          "now() + make_interval(secs => $4)) "
          "RETURNING (extract(epoch FROM expires_at) * 1000000)::bigint",
          {snapshot_id, user_pk_text, std::to_string(scope.head),
           std::to_string(impl_->config.snapshot_session_ttl.count())}));
      StageTimer materialize(*impl_, "snapshot_create", "materialize");
      std::int64_t rows = 0;
      std::int64_t bytes = 0;
      // Tables in table_id order (= byte order of "schema.table"), rows by key bytes: the
      // deterministic order of server.md §6.3, numbered 1..N.
      std::vector<const RegisteredTableRuntime*> by_table_id;
      for (const RegisteredTableRuntime& t : impl_->registered) by_table_id.push_back(&t);
      std::sort(by_table_id.begin(), by_table_id.end(), [](const auto* a, const auto* b) {
        return a->info.table.table_id < b->info.table.table_id;
      });
      for (const RegisteredTableRuntime* table_ptr : by_table_id) {
        const RegisteredTableRuntime& table = *table_ptr;
        const std::string target =
            pg::QuoteIdent(table.shape.schema) + "." + pg::QuoteIdent(table.shape.table);
        const std::string key_bytes = KeyBytesExpr(table);
        const std::string table_id = std::to_string(table.info.table.table_id);
        std::int64_t inserted = 0;
        std::int64_t business = 0;
        std::int64_t live = 0;
        std::int64_t table_bytes = 0;
        if (profile_b) {
          OVERSYNC_ASSIGN_OR_RETURN(inserted,
                                    MaterializeTableB(*impl_, tx, table, snapshot_id, user_pk_text,
                                                      actor.user_id, rows, bytes));
          OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult counts, tx.Exec(
              fmt::format("SELECT (SELECT count(*) FROM {} WHERE _sync_scope_id = $1), "
                          "(SELECT count(*) FROM sync.row_state WHERE user_pk = $2 AND "
                          "table_id = $3::integer AND NOT deleted)",
                          target),
              {actor.user_id, user_pk_text, table_id}));
          business = counts.Int64(0, 0).value_or(0);
          live = counts.Int64(0, 1).value_or(0);
        } else {
        OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult counts, tx.Exec(
            fmt::format(
                "WITH ins AS (INSERT INTO sync.snapshot_session_rows (snapshot_id, row_ordinal, "
                "table_id, key_bytes, bundle_seq, payload_wire) "
                "SELECT $1::uuid, $5::bigint + row_number() OVER (ORDER BY rs.key_bytes), "
                "$4::integer, rs.key_bytes, rs.bundle_seq, ({2})::json "
                "FROM sync.row_state AS rs JOIN {0} AS src ON src._sync_scope_id = $3 AND "
                "src.{3} = {1} "
                "WHERE rs.user_pk = $2 AND rs.table_id = $4::integer AND NOT rs.deleted "
                "RETURNING octet_length(payload_wire::text) AS n) "
                "SELECT count(*), COALESCE(sum(n), 0)::bigint, "
                "(SELECT count(*) FROM {0} WHERE _sync_scope_id = $3), "
                "(SELECT count(*) FROM sync.row_state WHERE user_pk = $2 AND "
                "table_id = $4::integer AND NOT deleted) FROM ins",
                target, KeyFromBytesExpr(table), PayloadExpr(table),
                pg::QuoteIdent(table.shape.key_column)),
            {snapshot_id, user_pk_text, actor.user_id, table_id, std::to_string(rows)}));
        inserted = counts.Int64(0, 0).value_or(0);
        business = counts.Int64(0, 2).value_or(0);
        live = counts.Int64(0, 3).value_or(0);
        table_bytes = counts.Int64(0, 1).value_or(0);
        }
        if (business != inserted) {
          // A business row without live row_state: written around the capture triggers.
          OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult missing, tx.Exec(
              fmt::format("SELECT src.{1}::text FROM {0} AS src WHERE src._sync_scope_id = $3 AND "
                          "NOT EXISTS (SELECT 1 FROM sync.row_state rs WHERE rs.user_pk = $1 AND "
                          "rs.table_id = $2::integer AND rs.key_bytes = {2} AND NOT rs.deleted) "
                          "ORDER BY 1 LIMIT 1",
                          target, pg::QuoteIdent(table.shape.key_column), key_bytes),
              {user_pk_text, table_id, actor.user_id}));
          return {ErrorCode::kInternal,
                  fmt::format("live row {} \"{}\" is missing non-deleted sync.row_state",
                              table.info.table.qualified(),
                              missing.rows() > 0 ? missing.Text(0, 0) : "")};
        }
        if (live != inserted) {
          OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult missing, tx.Exec(
              fmt::format("SELECT encode(rs.key_bytes, 'hex') FROM sync.row_state rs WHERE "
                          "rs.user_pk = $1 AND rs.table_id = $2::integer AND NOT rs.deleted AND "
                          "NOT EXISTS (SELECT 1 FROM {0} AS src WHERE src._sync_scope_id = $3 AND "
                          "{1} = rs.key_bytes) ORDER BY rs.key_bytes LIMIT 1",
                          target, key_bytes),
              {user_pk_text, table_id, actor.user_id}));
          const std::string key =
              missing.rows() > 0
                  ? KeyTextFromBytes(table.shape.key_kind,
                                     HexDecode(missing.Text(0, 0)).value_or(std::string()))
                  : std::string();
          return {ErrorCode::kInternal,
                  fmt::format("sync.row_state row {} {} is missing a live business-table row",
                              table.info.table.qualified(), key)};
        }
        if (profile_b) continue;  // totals and limits were handled while materializing
        rows += inserted;
        bytes += table_bytes;
        // Over-limit scopes are refused with a 4xx (go-oversync answers 500): retrying cannot
        // help, the limit or the scope has to change. The transaction (including any source
        // replacement) rolls back.
        const std::int64_t max_rows = impl_->config.max_rows_per_snapshot_session;
        const std::int64_t max_bytes = impl_->config.max_bytes_per_snapshot_session;
        if (max_rows > 0 && rows > max_rows) {
          return InvalidSnapshot(fmt::format("snapshot session row_count {} exceeds limit {}",
                                             rows, max_rows));
        }
        if (max_bytes > 0 && bytes > max_bytes) {
          return InvalidSnapshot(fmt::format("snapshot session byte_count {} exceeds limit {}",
                                             bytes, max_bytes));
        }
      }
      materialize.Finish(Status(), rows, attempt);
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          "UPDATE sync.snapshot_sessions SET row_count = $2, byte_count = $3 "
          "WHERE snapshot_id = $1::uuid",
          {snapshot_id, std::to_string(rows), std::to_string(bytes)}));
      session.snapshot_id = snapshot_id;
      session.snapshot_bundle_seq = scope.head;
      session.row_count = rows;
      session.byte_count = bytes;
      session.expires_at = FormatRfc3339Nano(FromEpochMicros(created.Int64(0, 0).value_or(0)));
      return {};
    });
    transaction.Finish(st, 0, attempt);
    return st;
  });
  total.Finish(status, session.row_count);
  if (!status.ok()) return Error(std::move(status));
  return session;
}

// ---- GET /sync/snapshot-sessions/{snapshot_id} ----

Result<std::string> RuntimeService::GetSnapshotChunkBody(const Actor& actor,
                                                         std::string_view snapshot_id,
                                                         const protocol::SnapshotChunkQuery& query) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "snapshot_chunk", "total");
  OVERSYNC_RETURN_IF_ERROR(protocol::ValidateSnapshotChunkQuery(snapshot_id, query));
  const std::int64_t max_rows =
      std::min(query.max_rows, impl_->config.max_rows_per_snapshot_chunk);
  // Profile B (protocol-b.md §5.11): a byte budget per chunk and an admission limit. The permit
  // is held while the body is built (the adapter writes it afterwards; see compatibility.md).
  const bool profile_b = profile_b::Enabled(*impl_) && query.max_bytes.has_value();
  const std::optional<AdmissionPermit> chunk_permit =
      profile_b ? AdmissionPermit::Acquire(impl_->snapshot_chunk_reads,
                                           impl_->config.max_concurrent_snapshot_chunk_requests)
                : std::nullopt;
  if (profile_b && !chunk_permit) {
    return Error(ErrorCode::kSnapshotChunkCapacity, "snapshot chunk capacity is exhausted");
  }
  const std::int64_t max_bytes = query.max_bytes.value_or(0);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  std::string body;
  std::int64_t rows_served = 0;
  Status status = pg::InTransaction(*conn, pg::Isolation::kRepeatableReadReadOnly,
                                    [&](pg::PgConnection& tx) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(SessionInfo session, LoadSnapshotSession(tx, snapshot_id, actor));
    if (session.expired) {
      return {ErrorCode::kSnapshotSessionExpired,
              fmt::format("snapshot session {} has expired; start a new snapshot session",
                          snapshot_id)};
    }
    body.clear();
    protocol::JsonWriter w(body);
    w.BeginObject();
    w.Member("snapshot_id", session.snapshot_id);
    w.Member("snapshot_bundle_seq", session.snapshot_bundle_seq);
    w.Key("rows");
    w.BeginArray();
    std::int64_t served = 0;
    std::int64_t served_bytes = 0;
    bool has_more = false;
    // Stored payloads are copied into the body unparsed while rows stream from PostgreSQL.
    OVERSYNC_RETURN_IF_ERROR(tx.ExecRows(
        "SELECT table_id, encode(key_bytes, 'hex'), bundle_seq, payload_wire::text "
        "FROM sync.snapshot_session_rows WHERE snapshot_id = $1::uuid AND row_ordinal > $2 "
        // Ordinals are 1..N without gaps: bounding the range keeps every page's cost at its
        // own size even when the planner misestimates this constantly churned table.
        "AND row_ordinal <= $2 + $3 + 1 ORDER BY row_ordinal LIMIT $3 + 1",
        {session.snapshot_id, std::to_string(query.after_row_ordinal), std::to_string(max_rows)},
        [&](const pg::PgResult& row) -> Status {
          if (has_more) return {};
          if (served == max_rows) {
            has_more = true;
            return {};
          }
          const auto table_id = static_cast<std::int32_t>(row.Int64(0, 0).value_or(0));
          const RegisteredTableRuntime* table = impl_->TableById(table_id);
          if (table == nullptr) {
            return {ErrorCode::kInternal,
                    fmt::format("snapshot row for unknown table_id {}", table_id)};
          }
          if (profile_b) {
            const std::string row_json = SnapshotRowJsonB(*table, row.Text(0, 1),
                                                          row.Int64(0, 2).value_or(0),
                                                          row.Text(0, 3));
            const auto size = static_cast<std::int64_t>(row_json.size());
            if (served == 0 && size > max_bytes) {
              return protocol::SnapshotChunkTooSmallError(size);
            }
            if (served_bytes + size > max_bytes) {
              has_more = true;
              return {};
            }
            w.Raw(row_json);
            served_bytes += size;
            ++served;
            return {};
          }
          w.BeginObject();
          w.Member("schema", table->shape.schema);
          w.Member("table", table->shape.table);
          w.Key("key");
          w.Value(WireKey(*table, KeyTextFromBytes(table->shape.key_kind,
                                                   HexDecode(row.Text(0, 1)).value_or(""))));
          w.Member("row_version", row.Int64(0, 2).value_or(0));
          w.Key("payload");
          // Stored as PostgreSQL renders jsonb ({"a": 1}); sent compact like Go's encoder.
          w.RawCompact(row.Text(0, 3));
          w.EndObject();
          ++served;
          return {};
        }));
    w.EndArray();
    w.Member("next_row_ordinal", query.after_row_ordinal + served);
    w.Member("has_more", has_more);
    if (profile_b) w.Member("byte_count", served_bytes);
    w.EndObject();
    rows_served = served;
    return {};
  });
  total.Finish(status, rows_served);
  if (!status.ok()) return Error(std::move(status));
  return body;
}

Result<protocol::SnapshotChunkResponse> RuntimeService::GetSnapshotChunk(
    const Actor& actor, std::string_view snapshot_id, const protocol::SnapshotChunkQuery& query) {
  OVERSYNC_ASSIGN_OR_RETURN(std::string body, GetSnapshotChunkBody(actor, snapshot_id, query));
  auto decoded = protocol::DecodeSnapshotChunkResponse(body);
  if (!decoded) return Error(ErrorCode::kInternal, decoded.error().message());
  return decoded;
}

// ---- DELETE /sync/snapshot-sessions/{snapshot_id} ----

Status RuntimeService::DeleteSnapshotSession(const Actor& actor, std::string_view snapshot_id) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  if (TrimAsciiSpace(snapshot_id).empty()) {
    return {ErrorCode::kSnapshotChunkInvalid, "snapshot_id must be provided"};
  }
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  // No expiry check: an expired session not yet cleaned up is deleted like any other.
  return pg::InTransaction(*conn, pg::Isolation::kReadCommitted, [&](pg::PgConnection& tx) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(SessionInfo session, LoadSnapshotSession(tx, snapshot_id, actor));
    if (profile_b::Enabled(*impl_)) {
      // protocol-b.md §5.12: logical retirement; the expired-session cleanup removes it later,
      // until then chunk reads answer 410 and a repeated DELETE 204.
      return ToStatus(tx.Exec(
          "UPDATE sync.snapshot_sessions SET expires_at = LEAST(expires_at, now()) "
          "WHERE snapshot_id = $1::uuid",
          {session.snapshot_id}));
    }
    return ToStatus(tx.Exec("DELETE FROM sync.snapshot_sessions WHERE snapshot_id = $1::uuid",
                   {session.snapshot_id}));
  });
}

}  // namespace oversync
