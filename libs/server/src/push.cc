// Push sessions: create, chunk upload, commit, delete (server.md §4.1-§4.5, §4.7).
#include <map>
#include <set>

#include <fmt/format.h>

#include "oversync/common/strings.h"
#include "oversync/common/base64.h"
#include "oversync/common/rfc3339.h"
#include "oversync/common/sha256.h"
#include "oversync/common/uuid.h"
#include "oversync/protocol/bundle_hash.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/errors.h"
#include "oversync/protocol/json_writer.h"
#include "profile_b.h"
#include "scope.h"

namespace oversync {

namespace {

// protocol-b.md §6 (go-oversync 95bbd38's text, both profiles): a push transaction whose COMMIT
// outcome is unknown (the database connection failed during COMMIT). The client keeps its frozen
// tuple and hash and restarts with push session creation, which finds the bundle committed
// (already_committed) or not.
Status PushTransactionOutcome(Status status) {
  if (status.code() != ErrorCode::kCommitOutcomeUnknown) return status;
  return Status(ErrorCode::kCommitOutcomeUnknown,
                "Push transaction commit outcome is unknown; restart push session creation with "
                "the same source tuple");
}

}  // namespace
namespace {

using protocol::JsonValue;
using protocol::Op;

constexpr int kPushAttempts = 3;

struct SessionRow {
  std::string push_id;
  std::int64_t user_pk = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t planned_row_count = 0;
  std::int64_t next_expected_row_ordinal = 0;
  std::string initialization_id;
};

// How the lookup messages name the session: with its id in profile A (go-oversync 1f1118f),
// without in profile B ("push session was not found", protocol-b.md §5.4).
std::string SessionName(bool profile_b, std::string_view push_id) {
  return profile_b ? std::string("push session") : fmt::format("push session {}", push_id);
}

Status NotFound(bool profile_b, std::string_view push_id) {
  return {ErrorCode::kPushSessionNotFound,
          fmt::format("{} was not found", SessionName(profile_b, push_id))};
}

// Loads and locks a push session (and its user_state row), checking owner and expiry.
Result<SessionRow> LoadSessionForUpdate(pg::PgConnection& tx, std::string_view push_id,
                                        const Actor& actor, TimePoint now, bool check_expiry,
                                        bool profile_b) {
  auto uuid = Uuid::ParseLenient(push_id);
  if (!uuid) return Error(NotFound(profile_b, push_id));
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult r, tx.Exec(
      "SELECT p.user_pk, u.user_id, p.source_id, p.source_bundle_id, p.planned_row_count, "
      "p.next_expected_row_ordinal, COALESCE(p.initialization_id::text, ''), "
      "$2::timestamptz > p.expires_at "
      "FROM sync.push_sessions p JOIN sync.user_state u ON u.user_pk = p.user_pk "
      "WHERE p.push_id = $1::uuid FOR UPDATE",
      {uuid->ToString(), FormatRfc3339Nano(now)}));
  if (r.rows() == 0) return Error(NotFound(profile_b, push_id));
  if (r.Text(0, 1) != actor.user_id) {
    return Error(ErrorCode::kPushSessionForbidden,
                 fmt::format("{} does not belong to the authenticated user",
                             SessionName(profile_b, push_id)));
  }
  if (check_expiry && r.Bool(0, 7)) {
    return Error(ErrorCode::kPushSessionExpired,
                 fmt::format("{} has expired; start a new push session",
                             SessionName(profile_b, push_id)));
  }
  SessionRow s;
  s.push_id = uuid->ToString();
  s.user_pk = r.Int64(0, 0).value_or(0);
  s.source_id = r.Text(0, 2);
  s.source_bundle_id = r.Int64(0, 3).value_or(0);
  s.planned_row_count = r.Int64(0, 4).value_or(0);
  s.next_expected_row_ordinal = r.Int64(0, 5).value_or(0);
  s.initialization_id = r.Text(0, 6);
  return s;
}


// The payload stored for apply (server.md §1.9a payload_apply): member names lower-cased, the
// key member injected when absent, bytea values rewritten from base64 to `\x<hex>` so
// jsonb_populate_record parses them, Go canonical text.
std::string ApplyPayload(const protocol::ValidatedPushRow& row) {
  JsonValue payload = JsonValue::Object();
  std::map<std::string, const JsonValue*> members;  // last duplicate wins, like Go's map
  for (const protocol::JsonMember& m : row.payload.as_object()) {
    members[ToLowerAscii(m.key)] = &m.value;
  }
  for (const auto& [name, value] : members) {
    if (row.table->IsBytea(name) && value->is_string()) {
      auto bytes = Base64Decode(value->as_string(), Base64Mode::kGoStd);
      payload.Add(name, JsonValue::String("\\x" + HexLower(bytes.value_or(std::string()))));
    } else {
      payload.Add(name, *value);
    }
  }
  if (!members.contains(row.table->key_column)) {
    payload.Add(row.table->key_column, JsonValue::String(row.key_value));
  }
  std::string out;
  protocol::AppendGoCanonical(payload, out);
  return out;
}

// A chunk's apply payloads per table as JSON array text (without the closing bracket).
using PayloadArrays = std::map<const protocol::TableShape*, std::string>;

// Runs each table's payloads of a chunk through jsonb_populate_recordset (the conversions the
// commit will apply). A data exception (SQLSTATE class 22) is the client's invalid value.
Status PreflightDestinations(pg::PgConnection& tx, const PayloadArrays& arrays) {
  for (const auto& [shape, open_array] : arrays) {
    const std::string array = open_array + "]";  // the transaction may be retried
    Result<pg::PgResult> checked = tx.Exec(
        fmt::format("SELECT count(*) FROM jsonb_populate_recordset(NULL::{}.{}, $1::jsonb)",
                    pg::QuoteIdent(shape->schema), pg::QuoteIdent(shape->table)),
        {array});
    if (!checked) {
      if (pg::SqlStateOf(checked.error()).substr(0, 2) == "22") {
        return {ErrorCode::kPushChunkInvalid,
                fmt::format("payload for {}.{} contains a value invalid for its PostgreSQL "
                            "destination type (category=destination_type_invalid)",
                            shape->schema, shape->table)};
      }
      return checked.error();
    }
  }
  return {};
}

}  // namespace

// ---- POST /sync/push-sessions ----

Result<protocol::PushSessionCreateResponse> RuntimeService::CreatePushSession(
    const Actor& actor, const protocol::PushSessionCreateRequest& request) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "push_create", "total");
  if (request.source_bundle_id <= 0) {
    return Error(ErrorCode::kPushSessionInvalid, "source_bundle_id must be > 0");
  }
  if (request.planned_row_count <= 0) {
    return Error(ErrorCode::kPushSessionInvalid, "planned_row_count must be > 0");
  }
  if (impl_->profile->id() == protocol::WireProfileId::kJcsUniformNumericStringsV1) {
    // protocol-b.md §5.3 steps 4-5.
    if (!protocol::IsCanonicalRequestHashSpelling(request.canonical_request_hash)) {
      return Error(ErrorCode::kPushSessionInvalid,
                   "canonical_request_hash must be 64 lowercase hexadecimal characters");
    }
    if (!request.initialization_id.empty() &&
        !protocol::IsCanonicalUuid(request.initialization_id)) {
      return Error(ErrorCode::kPushSessionInvalid,
                   "initialization_id must be a canonical lowercase dashed UUID");
    }
  }
  protocol::PushSessionCreateResponse response;
  Status status = PushTransactionOutcome(
      RunUserTransaction(*impl_, "push_create", actor.user_id, kPushAttempts,
                                     [&](pg::PgConnection& tx) -> Status {
    const TimePoint now = impl_->clock->Now();
    const std::string now_text = FormatRfc3339Nano(now);
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("DELETE FROM sync.push_sessions WHERE expires_at <= $1::timestamptz", {now_text}));
    OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, EnsureAndLockScope(tx, actor.user_id, now));
    const std::string& init_id = request.initialization_id;
    switch (scope.state) {
      case ScopeStateCode::kUninitialized:
        if (!init_id.empty()) {
          return {ErrorCode::kInitializationExpired, "initialization lease is no longer active"};
        }
        return {ErrorCode::kScopeUninitialized,
                fmt::format("sync scope for user {} is not initialized", actor.user_id)};
      case ScopeStateCode::kInitializing:
        if (init_id.empty()) {
          return {ErrorCode::kPushSessionInvalid,
                  "initialization_id is required while the scope is initializing"};
        }
        OVERSYNC_RETURN_IF_ERROR(RequireActiveInitializationLease(
            tx, scope, actor.source_id, init_id, now, now + impl_->config.initialization_lease_ttl));
        break;
      case ScopeStateCode::kInitialized:
        break;
    }
    const std::string user_pk = std::to_string(scope.user_pk);
    // Accepted-push replay (before the retirement check: a retired source may still learn that
    // its tuple was committed).
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult replay, tx.Exec(
        "SELECT bundle_seq, row_count, encode(bundle_hash, 'hex') FROM sync.bundle_log "
        "WHERE user_pk = $1 AND source_id = $2 AND source_bundle_id = $3 AND bundle_seq > $4",
        {user_pk, actor.source_id, std::to_string(request.source_bundle_id),
         std::to_string(scope.retained_bundle_floor)}));
    // A seed commit whose response was lost is retried with its initialization_id after the
    // scope became INITIALIZED; Go answers 400 there and strands the device (kmp-client.md §7.2).
    // We answer the replay first and only reject the id when there is nothing to replay.
    if (replay.rows() == 0 && scope.state == ScopeStateCode::kInitialized && !init_id.empty()) {
      return {ErrorCode::kPushSessionInvalid,
              "initialization_id must be absent once the scope is initialized"};
    }
    if (replay.rows() == 1) {
      response = protocol::PushSessionCreateResponse();
      response.status = protocol::PushSessionStatus::kAlreadyCommitted;
      response.bundle_seq = replay.Int64(0, 0).value_or(0);
      response.source_id = actor.source_id;
      response.source_bundle_id = request.source_bundle_id;
      response.row_count = replay.Int64(0, 1).value_or(0);
      response.bundle_hash = replay.Text(0, 2);
      if (profile_b::Enabled(*impl_)) {
        // protocol-b.md §5.3 step 7: the tuple replays only for the same upload.
        OVERSYNC_ASSIGN_OR_RETURN(
            profile_b::CommittedBundleB committed,
            profile_b::LoadCommittedBundle(*impl_, tx, scope.user_pk, response.bundle_seq));
        if (committed.canonical_request_hash != request.canonical_request_hash) {
          return {ErrorCode::kPushSessionInvalid,
                  "canonical_request_hash does not match the committed source tuple"};
        }
        response.bundle_hash = std::move(committed.bundle_hash);
        response.canonical_request_hash = std::move(committed.canonical_request_hash);
      }
      return {};
    }
    OVERSYNC_ASSIGN_OR_RETURN(SourceRow source,
                              LoadSource(tx, scope.user_pk, actor.source_id, false));
    if (source.state == "retired") {
      return RetiredErrorFor(profile_b::Enabled(*impl_), actor.source_id, actor,
                             source.replaced_by);
    }
    // Profile B's messages carry no ids (protocol-b.md §6.2).
    const bool speaks_b = profile_b::Enabled(*impl_);
    const std::int64_t expected = source.max_committed + 1;
    if (request.source_bundle_id < expected) {
      if (speaks_b) return {ErrorCode::kHistoryPruned, "source history is no longer retained"};
      return {ErrorCode::kHistoryPruned,
              fmt::format("source tuple ({}, {}) for user {} is older than retained duplicate "
                          "history; max committed source_bundle_id is {}",
                          actor.source_id, request.source_bundle_id, actor.user_id,
                          source.max_committed)};
    }
    if (request.source_bundle_id > expected) {
      if (speaks_b) return {ErrorCode::kSourceSequenceOutOfOrder, "source sequence is out of order"};
      return {ErrorCode::kSourceSequenceOutOfOrder,
              fmt::format("source {} for user {} expected next source_bundle_id {}, got {}",
                          actor.source_id, actor.user_id, expected, request.source_bundle_id)};
    }
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        "DELETE FROM sync.push_sessions WHERE user_pk = $1 AND source_id = $2 AND "
        "source_bundle_id = $3",
        {user_pk, actor.source_id, std::to_string(request.source_bundle_id)}));
    const std::string push_id = impl_->NewUuidText();
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        "INSERT INTO sync.push_sessions (push_id, user_pk, source_id, source_bundle_id, "
        "planned_row_count, next_expected_row_ordinal, initialization_id, expires_at) "
        "VALUES ($1::uuid, $2, $3, $4, $5, 0, NULLIF($6, '')::uuid, $7::timestamptz)",
        {push_id, user_pk, actor.source_id, std::to_string(request.source_bundle_id),
         std::to_string(request.planned_row_count), init_id,
         FormatRfc3339Nano(now + impl_->config.push_session_ttl)}));
    if (profile_b::Enabled(*impl_)) {
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO sync.cpp_push_requests (push_id, canonical_request_hash) "
          "VALUES ($1::uuid, $2)",
          {push_id, request.canonical_request_hash}));
    }
    response = protocol::PushSessionCreateResponse();
    response.status = protocol::PushSessionStatus::kStaging;
    response.push_id = push_id;
    response.planned_row_count = request.planned_row_count;
    response.canonical_request_hash = request.canonical_request_hash;
    return {};
  }));
  total.Finish(status);
  if (!status.ok()) return Error(std::move(status));
  return response;
}

// ---- POST /sync/push-sessions/{push_id}/chunks ----

Result<protocol::PushChunkResponse> RuntimeService::UploadPushChunk(
    const Actor& actor, std::string_view push_id, protocol::PushChunkRequest request) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "push_chunk", "total");
  StageTimer validate(*impl_, "push_chunk", "validate");
  const std::int64_t start = request.start_row_ordinal;
  // Stateless validation first: a bad chunk for an unknown push_id is a 400, not a 404.
  OVERSYNC_ASSIGN_OR_RETURN(std::vector<protocol::ValidatedPushRow> rows,
                            protocol::ValidatePushChunk(std::move(request), *impl_->lookup,
                                                        *impl_->profile,
                                                        impl_->config.max_rows_per_push_chunk));
  // Rows in COPY text format without their leading push_id field (known once the session is
  // loaded): one COPY for the chunk, no per-row statement, no server-side JSON parsing.
  std::vector<std::string> copy_tails;
  copy_tails.reserve(rows.size());
  std::size_t copy_bytes = 0;
  // Profile B: the uploaded payloads (JCS) for the request hash, in COPY text format without
  // the leading push_id.
  const bool profile_b = profile_b::Enabled(*impl_);
  std::vector<std::string> request_tails;
  PayloadArrays preflight_arrays;
  const RegisteredTableRuntime* table = nullptr;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    protocol::ValidatedPushRow& row = rows[i];
    if (table == nullptr || &table->shape != row.table) table = impl_->TableByShape(row.table);
    if (table == nullptr) return Error(ErrorCode::kInternal, "validated row for unknown table");
    if (profile_b) {
      OVERSYNC_ASSIGN_OR_RETURN(std::string request_payload,
                                profile_b::PrepareUploadedRow(*table, row));
      std::string request_row;
      pg::AppendCopyField(request_row, std::to_string(start + static_cast<std::int64_t>(i)));
      if (row.op == Op::kDelete) {
        pg::AppendCopyNull(request_row);
      } else {
        pg::AppendCopyField(request_row, request_payload);
      }
      request_row += '\n';
      request_tails.push_back(std::move(request_row));
    }
    std::string copy_rows;
    pg::AppendCopyField(copy_rows, std::to_string(start + static_cast<std::int64_t>(i)));
    pg::AppendCopyField(copy_rows, std::to_string(table->info.table.table_id));
    pg::AppendCopyField(copy_rows, "\\x" + HexLower(KeyBytesFromWire(row.table->key_kind,
                                                                      row.key_value)));
    pg::AppendCopyField(copy_rows, std::to_string(static_cast<int>(row.op)));
    pg::AppendCopyField(copy_rows, std::to_string(row.base_row_version));
    if (row.op == Op::kDelete) {
      pg::AppendCopyNull(copy_rows);
    } else {
      std::string apply = ApplyPayload(row);
      pg::AppendCopyField(copy_rows, apply);
      if (profile_b) {
        std::string& array = preflight_arrays[row.table];
        array += array.empty() ? "[" : ",";
        array += apply;
      }
    }
    copy_rows += '\n';
    copy_bytes += copy_rows.size();
    copy_tails.push_back(std::move(copy_rows));
  }
  const auto row_count = static_cast<std::int64_t>(rows.size());
  validate.Finish(Status(), row_count);

  protocol::PushChunkResponse response;
  Status status = PushTransactionOutcome(
      RunUserTransaction(*impl_, "push_chunk", actor.user_id, kPushAttempts,
                                     [&](pg::PgConnection& tx) -> Status {
    const TimePoint now = impl_->clock->Now();
    OVERSYNC_ASSIGN_OR_RETURN(SessionRow session,
                              LoadSessionForUpdate(tx, push_id, actor, now, true,
                                                   profile_b::Enabled(*impl_)));
    if (!session.initialization_id.empty()) {
      OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, LockScopeByUserPk(tx, session.user_pk, now));
      OVERSYNC_RETURN_IF_ERROR(RequireActiveInitializationLease(
          tx, scope, session.source_id, session.initialization_id, now,
          now + impl_->config.initialization_lease_ttl));
    }
    if (start != session.next_expected_row_ordinal) {
      return {ErrorCode::kPushChunkOutOfOrder,
              fmt::format("{} expected start_row_ordinal {}, got {}",
                          SessionName(profile_b::Enabled(*impl_), push_id),
                          session.next_expected_row_ordinal, start)};
    }
    if (start + row_count > session.planned_row_count) {
      return {ErrorCode::kPushChunkInvalid, "chunk exceeds planned_row_count"};
    }
    if (profile_b) {
      // protocol-b.md §5.4 step 6: every value must convert to its column's type now, so a bad
      // value is this chunk's 400 instead of the commit's 500.
      OVERSYNC_RETURN_IF_ERROR(PreflightDestinations(tx, preflight_arrays));
    }
    std::string copy_data;
    copy_data.reserve(copy_bytes + copy_tails.size() * (session.push_id.size() + 1));
    for (const std::string& tail : copy_tails) {
      copy_data += session.push_id;
      copy_data += tail;
    }
    OVERSYNC_RETURN_IF_ERROR(tx.CopyIn(
        "COPY sync.push_session_rows (push_id, row_ordinal, table_id, key_bytes, op_code, "
        "base_bundle_seq, payload_apply) FROM STDIN",
        copy_data));
    if (profile_b && !request_tails.empty()) {
      std::string request_data;
      for (const std::string& tail : request_tails) {
        request_data += session.push_id;
        request_data += tail;
      }
      OVERSYNC_RETURN_IF_ERROR(tx.CopyIn(
          "COPY sync.cpp_push_request_rows (push_id, row_ordinal, payload_request) FROM STDIN",
          request_data));
    }
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        "UPDATE sync.push_sessions SET next_expected_row_ordinal = $2, "
        "expires_at = $3::timestamptz WHERE push_id = $1::uuid",
        {session.push_id, std::to_string(start + row_count),
         FormatRfc3339Nano(now + impl_->config.push_session_ttl)}));
    response.push_id = session.push_id;
    response.next_expected_row_ordinal = start + row_count;
    return {};
  }));
  total.Finish(status);
  if (!status.ok()) return Error(std::move(status));
  return response;
}

// ---- POST /sync/push-sessions/{push_id}/commit ----

namespace {

struct StagedRow {
  std::int64_t ordinal = 0;
  const RegisteredTableRuntime* table = nullptr;
  std::string key_hex;
  std::string key_text;
  Op op = Op::kInsert;
  std::int64_t base = 0;
  std::string payload;                // payload_apply text (empty for DELETE)
  std::vector<std::string> columns;   // sorted payload member names (empty for DELETE)
  bool has_state = false;             // a sync.row_state row exists for the target
  std::int64_t state_version = 0;     // its bundle_seq
  bool state_deleted = false;
};

// The first staged row whose base version disagrees with sync.row_state, as a push_conflict
// with full details (server.md §4.4.1); rows are checked in upload order.
Status CheckConflicts(pg::PgConnection& tx, const std::string& user_id,
                      const std::vector<StagedRow>& rows, bool profile_b) {
  for (const StagedRow& row : rows) {
    const bool has_state = row.has_state;
    const std::int64_t version = row.state_version;
    const bool deleted = row.state_deleted;
    const std::string qualified = row.table->info.table.qualified();
    std::string message;
    if (row.op == Op::kInsert) {
      if (!has_state && row.base != 0) {
        message = fmt::format("insert conflict on {} {}: expected missing row at version 0, got {}",
                              qualified, row.key_text, row.base);
      } else if (has_state && row.base != version) {
        message = fmt::format("insert conflict on {} {}: expected base_row_version {}, got {}",
                              qualified, row.key_text, version, row.base);
      } else if (has_state && !deleted) {
        message = fmt::format("insert conflict on {} {}: row already exists at version {}",
                              qualified, row.key_text, version);
      }
    } else {
      const std::string_view verb = row.op == Op::kUpdate ? "update" : "delete";
      if (!has_state || deleted) {
        message = fmt::format("{} conflict on {} {}: row does not exist", verb, qualified,
                              row.key_text);
      } else if (row.base != version) {
        message = fmt::format("{} conflict on {} {}: expected version {}, got {}", verb, qualified,
                              row.key_text, version, row.base);
      }
    }
    if (message.empty()) continue;
    protocol::PushConflictDetails details;
    details.schema = row.table->shape.schema;
    details.table = row.table->shape.table;
    details.key = WireKey(*row.table, row.key_text);
    details.op = std::string(OpName(row.op));
    details.base_row_version = row.base;
    details.server_row_version = version;
    details.server_row_deleted = deleted;
    if (has_state && !deleted) {
      OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult current, tx.Exec(
          fmt::format("SELECT (to_jsonb(t) - '_sync_scope_id')::text FROM {}.{} t WHERE t.{} = $1 AND "
                      "t._sync_scope_id = $2",
                      pg::QuoteIdent(row.table->shape.schema), pg::QuoteIdent(row.table->shape.table),
                      pg::QuoteIdent(row.table->shape.key_column)),
          {row.key_text, user_id}));
      if (current.rows() == 1) {
        protocol::JsonParser parser;
        JsonValue image;
        OVERSYNC_ASSIGN_OR_RETURN(
            std::string wire,
            WirePayloadFromDb(*row.table, current.Text(0, 0), false, parser, &image));
        if (profile_b) {
          // protocol-b.md §5.5: server_row in profile B's value encoding.
          OVERSYNC_ASSIGN_OR_RETURN(details.server_row, profile_b::RenderPayload(*row.table, image));
        } else {
          OVERSYNC_ASSIGN_OR_RETURN(JsonValue value, parser.Parse(wire));
          details.server_row = std::move(value);
        }
      }
    }
    return protocol::PushConflictError(std::move(message), std::move(details));
  }
  return {};
}

// Applies the rows in upload order, one statement per run of consecutive rows with the same
// table, op and column set (server.md §4.3 step 9).
// Runs of at least this many consecutive rows with the same table, op and column set are applied
// by one set-based statement; shorter runs row by row with prepared statements.
constexpr std::size_t kSetBasedMinRun = 8;

// Applies the rows in upload order (server.md §4.3 step 9), so the capture order — the order of
// the committed bundle — is the upload order: a run of consecutive rows with the same table, op
// and column set becomes one set-based statement reading the staged payloads in place (INSERTs
// ordered by row_ordinal), shorter runs and DELETEs one prepared statement per row. Everything
// travels in one pipelined round trip.
Status ApplyRows(pg::PgConnection& tx, const std::string& user_id, const std::string& push_id,
                 const std::vector<StagedRow>& rows) {
  std::vector<std::string> sql_texts;  // statement texts; a deque-like store for string_views
  sql_texts.reserve(rows.size() + 1);
  std::map<std::string, std::size_t> per_row_sql;  // signature -> index in sql_texts
  std::vector<std::string> numbers;                 // owned ordinal parameters
  numbers.reserve(2 * rows.size());
  std::vector<pg::PgConnection::PipelinedStatement> statements;
  std::size_t i = 0;
  while (i < rows.size()) {
    std::size_t j = i + 1;
    while (j < rows.size() && rows[j].table == rows[i].table && rows[j].op == rows[i].op &&
           rows[j].columns == rows[i].columns) {
      ++j;
    }
    const RegisteredTableRuntime& table = *rows[i].table;
    const std::string target =
        pg::QuoteIdent(table.shape.schema) + "." + pg::QuoteIdent(table.shape.table);
    const std::string key_column = pg::QuoteIdent(table.shape.key_column);
    std::string columns;
    std::string select;
    std::string assignments;
    for (const std::string& c : rows[i].columns) {
      const std::string q = pg::QuoteIdent(c);
      columns += ", " + q;
      select += ", src." + q;
      if (!assignments.empty()) assignments += ", ";
      assignments += q + " = src." + q;
    }
    if (rows[i].op != Op::kDelete && j - i >= kSetBasedMinRun) {
      constexpr std::string_view kStaged =
          "sync.push_session_rows AS r CROSS JOIN LATERAL jsonb_populate_record(NULL::{0}, "
          "r.payload_apply::jsonb) AS src WHERE r.push_id = $2::uuid AND r.row_ordinal >= $3 "
          "AND r.row_ordinal < $4";
      const std::string staged = fmt::format(fmt::runtime(kStaged), target);
      sql_texts.push_back(
          rows[i].op == Op::kInsert
              ? fmt::format("INSERT INTO {0} (_sync_scope_id{1}) SELECT $1{2} FROM {3} "
                            "ORDER BY r.row_ordinal",
                            target, columns, select, staged)
              : fmt::format("UPDATE {0} AS dst SET {1} FROM (SELECT src.* FROM {3}) AS src "
                            "WHERE dst.{2} = src.{2} AND dst._sync_scope_id = $1",
                            target, assignments, key_column, staged));
      numbers.push_back(std::to_string(rows[i].ordinal));
      numbers.push_back(std::to_string(rows[j - 1].ordinal + 1));
      statements.push_back({sql_texts.back(),
                            {user_id, push_id, numbers[numbers.size() - 2], numbers.back()},
                            false});
      i = j;
      continue;
    }
    const std::string signature =
        fmt::format("{}|{}|{}", table.info.table.table_id, static_cast<int>(rows[i].op), columns);
    auto [it, inserted] = per_row_sql.try_emplace(signature, sql_texts.size());
    if (inserted) {
      switch (rows[i].op) {
        case Op::kDelete:
          sql_texts.push_back(fmt::format("DELETE FROM {} WHERE {} = $2 AND _sync_scope_id = $1",
                                          target, key_column));
          break;
        case Op::kInsert:
          sql_texts.push_back(fmt::format(
              "INSERT INTO {0} (_sync_scope_id{1}) SELECT $1{2} FROM "
              "jsonb_populate_record(NULL::{0}, $2::jsonb) AS src",
              target, columns, select));
          break;
        case Op::kUpdate:
          sql_texts.push_back(fmt::format(
              "UPDATE {0} AS dst SET {1} FROM jsonb_populate_record(NULL::{0}, $2::jsonb) AS src "
              "WHERE dst.{2} = src.{2} AND dst._sync_scope_id = $1",
              target, assignments, key_column));
          break;
      }
    }
    for (std::size_t k = i; k < j; ++k) {
      statements.push_back({sql_texts[it->second],
                            {user_id, rows[k].op == Op::kDelete ? rows[k].key_text : rows[k].payload},
                            true});
    }
    i = j;
  }
  return tx.ExecPipeline(statements);
}

}  // namespace

Result<protocol::PushSessionCommitResponse> RuntimeService::CommitPushSession(
    const Actor& actor, std::string_view push_id) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "push_commit", "total");
  protocol::PushSessionCommitResponse response;
  int attempt = 0;
  bool floor_moved = false;
  std::int64_t committed_user_pk = 0;
  Status status = PushTransactionOutcome(
      RunUserTransaction(*impl_, "push_commit", actor.user_id, kPushAttempts,
                                     [&](pg::PgConnection& tx) -> Status {
    ++attempt;
    StageTimer load_staged(*impl_, "push_commit", "load_staged");
    const TimePoint now = impl_->clock->Now();
    OVERSYNC_ASSIGN_OR_RETURN(SessionRow session,
                              LoadSessionForUpdate(tx, push_id, actor, now, true,
                                                   profile_b::Enabled(*impl_)));
    // The staged rows with the row_state of their targets (for the conflict check), in one
    // query; stable because every writer of this user's row_state holds the user lock.
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult staged, tx.Exec(
        "SELECT r.row_ordinal, r.table_id, encode(r.key_bytes, 'hex'), r.op_code, "
        "r.base_bundle_seq, COALESCE(r.payload_apply::text, ''), rs.bundle_seq, rs.deleted "
        "FROM sync.push_session_rows r LEFT JOIN sync.row_state rs ON rs.user_pk = $2 AND "
        "rs.table_id = r.table_id AND rs.key_bytes = r.key_bytes "
        "WHERE r.push_id = $1::uuid ORDER BY r.row_ordinal",
        {session.push_id, std::to_string(session.user_pk)}));
    if (session.next_expected_row_ordinal != session.planned_row_count ||
        staged.rows() != session.planned_row_count) {
      return {ErrorCode::kPushCommitInvalid,
              fmt::format("staged row count {} does not match planned_row_count {}", staged.rows(),
                          session.planned_row_count)};
    }
    std::vector<StagedRow> rows;
    rows.reserve(static_cast<std::size_t>(staged.rows()));
    std::set<std::pair<std::int32_t, std::string>> seen;
    protocol::JsonParser parser;
    for (int r = 0; r < staged.rows(); ++r) {
      StagedRow row;
      row.ordinal = staged.Int64(r, 0).value_or(-1);
      if (row.ordinal != r) {
        return {ErrorCode::kPushCommitInvalid,
                fmt::format("staged rows are not contiguous at row_ordinal {}", r)};
      }
      const auto table_id = static_cast<std::int32_t>(staged.Int64(r, 1).value_or(0));
      row.table = impl_->TableById(table_id);
      if (row.table == nullptr) return {ErrorCode::kInternal, "staged row for unknown table"};
      row.key_hex = staged.Text(r, 2);
      row.key_text = KeyTextFromBytes(row.table->shape.key_kind,
                                      HexDecode(row.key_hex).value_or(std::string()));
      if (!seen.emplace(table_id, row.key_hex).second) {
        return {ErrorCode::kPushCommitInvalid,
                fmt::format("duplicate target row in staged push session: {} {}",
                            row.table->info.table.qualified(), row.key_text)};
      }
      row.op = static_cast<Op>(staged.Int64(r, 3).value_or(1));
      row.base = staged.Int64(r, 4).value_or(0);
      if (row.op != Op::kDelete) {
        row.payload = staged.Text(r, 5);
        OVERSYNC_ASSIGN_OR_RETURN(JsonValue payload, parser.Parse(row.payload));
        if (!payload.is_object()) return {ErrorCode::kInternal, "staged payload is not an object"};
        for (const protocol::JsonMember& m : payload.as_object()) row.columns.push_back(m.key);
      }
      row.has_state = !staged.IsNull(r, 6);
      row.state_version = row.has_state ? staged.Int64(r, 6).value_or(0) : 0;
      row.state_deleted = row.has_state && staged.Bool(r, 7);
      rows.push_back(std::move(row));
    }
    load_staged.Finish(Status(), static_cast<std::int64_t>(rows.size()), attempt);
    std::string request_hash;
    if (profile_b::Enabled(*impl_)) {
      // protocol-b.md §4.2 step 4: the staged upload must be the one the client hashed.
      OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::string> sent,
                                profile_b::SessionRequestHash(tx, session.push_id));
      OVERSYNC_ASSIGN_OR_RETURN(request_hash,
                                profile_b::StagedRequestHash(*impl_, tx, session.push_id));
      if (!sent || *sent != request_hash) {
        return {ErrorCode::kPushCommitInvalid,
                "canonical_request_hash does not match staged push rows"};
      }
    }
    OVERSYNC_RETURN_IF_ERROR(tx.ExecScript("SET CONSTRAINTS ALL DEFERRED"));
    if (!session.initialization_id.empty()) {
      OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, LockScopeByUserPk(tx, session.user_pk, now));
      OVERSYNC_RETURN_IF_ERROR(RequireActiveInitializationLease(
          tx, scope, session.source_id, session.initialization_id, now,
          now + impl_->config.initialization_lease_ttl));
    }
    OVERSYNC_ASSIGN_OR_RETURN(SourceRow source,
                              LoadSource(tx, session.user_pk, session.source_id, true));
    if (source.state == "retired") {
      return RetiredErrorFor(profile_b::Enabled(*impl_), session.source_id, actor,
                             source.replaced_by);
    }
    if (session.source_bundle_id != source.max_committed + 1) {
      if (profile_b::Enabled(*impl_)) {
        return {ErrorCode::kSourceSequenceChanged, "source sequence changed before commit"};
      }
      return {ErrorCode::kSourceSequenceChanged,
              fmt::format("source {} for user {} changed expected next source_bundle_id from "
                          "staged {} to {} before commit",
                          session.source_id, actor.user_id, session.source_bundle_id,
                          source.max_committed + 1)};
    }
    OVERSYNC_RETURN_IF_ERROR(SetBundleContext(tx, actor.user_id, session.user_pk,
                                              session.source_id, session.source_bundle_id,
                                              session.initialization_id));
    OVERSYNC_RETURN_IF_ERROR(CheckConflicts(tx, actor.user_id, rows, profile_b::Enabled(*impl_)));
    StageTimer apply(*impl_, "push_commit", "apply");
    OVERSYNC_RETURN_IF_ERROR(ApplyRows(tx, actor.user_id, session.push_id, rows));
    apply.Finish(Status(), static_cast<std::int64_t>(rows.size()), attempt);
    StageTimer finalize(*impl_, "push_commit", "finalize");
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                              FinalizeBundle(*impl_, tx, session.user_pk, session.source_id,
                                             session.source_bundle_id, request_hash));
    finalize.Finish(Status(), bundle ? bundle->row_count : 0, attempt);
    if (!bundle) {
      return {ErrorCode::kPushCommitInvalid,
              "push session produced no captured business-table effects"};
    }
    OVERSYNC_ASSIGN_OR_RETURN(floor_moved,
                              ActivateSourceAndRetain(*impl_, tx, session.user_pk, actor.user_id,
                                                      session.source_id, session.source_bundle_id,
                                                      bundle->bundle_seq));
    committed_user_pk = session.user_pk;
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("DELETE FROM sync.push_sessions WHERE push_id = $1::uuid", {session.push_id}));
    if (!session.initialization_id.empty()) {
      OVERSYNC_RETURN_IF_ERROR(MarkScopeInitialized(tx, session.user_pk, session.source_id, now));
    }
    response.bundle_seq = bundle->bundle_seq;
    response.source_id = session.source_id;
    response.source_bundle_id = session.source_bundle_id;
    response.row_count = bundle->row_count;
    response.bundle_hash = bundle->bundle_hash;
    response.canonical_request_hash = request_hash;
    return {};
  }));
  if (status.ok() && floor_moved) impl_->MarkRetention(committed_user_pk);
  total.Finish(status);
  if (!status.ok()) return Error(std::move(status));
  return response;
}

// ---- DELETE /sync/push-sessions/{push_id} ----

Status RuntimeService::DeletePushSession(const Actor& actor, std::string_view push_id) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  return pg::InTransaction(*conn, pg::Isolation::kReadCommitted,
                           [&](pg::PgConnection& tx) -> Status {
    OVERSYNC_ASSIGN_OR_RETURN(
        SessionRow session, LoadSessionForUpdate(tx, push_id, actor, impl_->clock->Now(), true,
                                             profile_b::Enabled(*impl_)));
    OVERSYNC_RETURN_IF_ERROR(
        tx.Exec("DELETE FROM sync.push_sessions WHERE push_id = $1::uuid", {session.push_id}));
    return {};
  });
}

}  // namespace oversync
