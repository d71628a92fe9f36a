// File: libs/oversqlite/src/conflict.cc
//
// Structured push conflicts (client.md §4.6): find the frozen outbox row the server rejected, ask
// the resolver, and apply the result in one transaction that also dissolves the outbox, so the
// next push re-freezes every surviving intent under the same source_bundle_id (it never advanced).
//
// Deliberate differences from the Go reference (client.md §4.6 [QUIRK]s):
//   * KeepLocal upserts the frozen local payload with the LOCAL decoder (BLOBs as hex). Go runs it
//     through the wire decoder, which breaks tables with BLOB keys/references.
//   * KeepMerged payloads may use either BLOB encoding (see ApplyConflictPlan).
//   * Re-queuing the other outbox rows (and the invalid-resolution restore) never overwrites a
//     dirty row the application wrote after the freeze: that row is newer than the frozen intent
//     and already holds the live values; only its base_row_version is set to the frozen base.
//   * KeepMerged member names are matched case-insensitively for the upsert too (Go validates
//     them case-insensitively but then fails the upsert on mixed-case names).
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_impl.h"
#include "oversync/common/strings.h"
#include "oversync/protocol/canonical_json.h"
#include "oversync/protocol/json_value.h"
#include "oversync/protocol/push_validation.h"

namespace oversync::oversqlite {
namespace {

using internal::Exec;
using internal::OutboxRow;
using internal::PayloadEncoding;
using internal::Prepare;
using internal::Stmt;
using internal::TableInfo;
using internal::Tx;
using protocol::JsonValue;

constexpr std::string_view kOpInsert = "INSERT";
constexpr std::string_view kOpUpdate = "UPDATE";
constexpr std::string_view kOpDelete = "DELETE";

constexpr std::string_view kResetOutboxSql =
    "UPDATE _sync_outbox_bundle SET state = 'none', source_id = '', source_bundle_id = 0, "
    "canonical_request_hash = '', row_count = 0, initialization_id = '', remote_bundle_hash = '', "
    "remote_bundle_seq = 0 WHERE singleton_key = 1";

// Restores a frozen intent as a dirty row. A dirty row for the same key written after the freeze
// keeps its op and payload (it is the newer intent); it only inherits the frozen base version.
constexpr std::string_view kRestoreFrozenIntentSql =
    "INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, "
    "payload, "
    "dirty_ordinal, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
    "(SELECT COALESCE(MAX(dirty_ordinal), 0) + 1 FROM _sync_dirty_rows), "
    "strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
    "ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET "
    "base_row_version = excluded.base_row_version";

// What a resolution does locally (one row of the client.md §4.6 table).
struct ConflictPlan {
  // Upsert this payload (nullopt: delete the local row).
  std::optional<JsonValue> upsert_payload;
  PayloadEncoding encoding = PayloadEncoding::kWire;
  bool merged = false;  // KeepMerged: the payload's BLOB encoding is not known
  // Row state afterwards (nullopt: delete the row state).
  std::optional<std::pair<std::int64_t, bool>> row_state;  // (version, deleted)
  // The conflicting key's requeued intent (empty op: none). Upserted intents carry the row as it
  // is after the local action (re-serialized like the capture trigger would).
  std::string requeue_op;
  std::int64_t requeue_base = 0;
};

std::string CanonicalText(const JsonValue& value) {
  std::string out;
  protocol::AppendGoCanonical(value, out);
  return out;
}

std::vector<OutboxRow> SortedByOrdinal(std::vector<OutboxRow> rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const OutboxRow& a, const OutboxRow& b) {
    return a.row_ordinal < b.row_ordinal;
  });
  return rows;
}

// Client::Impl is private to Client: the helpers take it as a template parameter (one
// instantiation) instead of naming it.

// Requeues `rows` (except `skip`, if any) as dirty rows, then dissolves the outbox. Runs inside
// the caller's transaction.
template <typename ImplT>
Status RequeueFrozenRowsAndClearOutbox(ImplT& impl, const std::vector<OutboxRow>& rows,
                                       const OutboxRow* skip) {
  OVERSYNC_ASSIGN_OR_RETURN(Stmt restore, Prepare(impl.db_, kRestoreFrozenIntentSql));
  for (const OutboxRow& row : rows) {
    if (skip != nullptr && row.schema_name == skip->schema_name &&
        row.table_name == skip->table_name && row.key_json == skip->key_json) {
      continue;
    }
    restore.Reset();
    restore.Bind(1, row.schema_name)
        .Bind(2, row.table_name)
        .Bind(3, row.key_json)
        .Bind(4, row.op)
        .Bind(5, row.base_row_version)
        .BindOptional(6, row.local_payload);
    OVERSYNC_RETURN_IF_ERROR(restore.Run());
  }
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "DELETE FROM _sync_outbox_rows"));
  return Exec(impl.db_, kResetOutboxSql);
}

template <typename ImplT>
Status InvalidResolution(ImplT& impl, const std::vector<OutboxRow>& rows,
                         const protocol::PushConflictDetails& conflict, std::string message) {
  {
    OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(impl.db_));
    OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "PRAGMA defer_foreign_keys = ON"));
    OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(true));
    OVERSYNC_RETURN_IF_ERROR(RequeueFrozenRowsAndClearOutbox(impl, rows, nullptr));
    OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(false));
    OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  }
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kInvalidConflictResolution;
  detail.conflict = conflict;
  detail.reason = message;
  return MakeClientError(ErrorCode::kInvalidArgument, "invalid conflict resolution: " + message,
                         std::move(detail));
}

template <typename ImplT>
Status UpsertResolvedPayload(ImplT& impl, const TableInfo& table, const ConflictPlan& plan) {
  const JsonValue& payload = *plan.upsert_payload;
  if (!plan.merged) return impl.UpsertRow(table, payload, plan.encoding);
  // A KeepMerged payload is usually built from ConflictContext.server_row_payload (wire encoding:
  // UUID text / base64) but may also be built from local_payload (hex), so both are accepted:
  // wire first, then local when a BLOB value does not decode as wire. A hex string that happens
  // to be valid base64 (e.g. "001122ff") is taken as base64; resolvers that mix in local BLOB
  // values should convert them to wire encoding to be unambiguous. A failed upsert writes nothing
  // (the bind fails before the statement runs, or SQLite rolls the statement back), so the retry
  // starts clean.
  Status wire = impl.UpsertRow(table, payload, PayloadEncoding::kWire);
  if (wire.ok()) return wire;
  const bool has_blob = std::any_of(table.columns.begin(), table.columns.end(),
                                    [](const internal::ColumnInfo& c) { return c.is_blob; });
  if (!has_blob) return wire;
  Status local = impl.UpsertRow(table, payload, PayloadEncoding::kLocal);
  return local.ok() ? local : wire;
}

template <typename ImplT>
Status ApplyConflictPlan(ImplT& impl, const std::vector<OutboxRow>& rows,
                         const OutboxRow& conflicting, const TableInfo& table,
                         std::string_view local_key, const ConflictPlan& plan) {
  OVERSYNC_ASSIGN_OR_RETURN(Tx tx, Tx::Begin(impl.db_));
  OVERSYNC_RETURN_IF_ERROR(Exec(impl.db_, "PRAGMA defer_foreign_keys = ON"));
  OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(true));

  // The user edited the conflicting row again after the freeze. Deviation from Go (which
  // upserts the frozen payload and requeues it over the newer edit): a keep-local or merged
  // resolution keeps the newest local edit as it is and only rebases its dirty row on the
  // server's version, so the next push sends the newest values without another conflict.
  if (!plan.requeue_op.empty()) {
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt newer, Prepare(impl.db_, "UPDATE _sync_dirty_rows SET base_row_version = ? WHERE "
                                      "schema_name = ? AND table_name = ? AND key_json = ?"));
    newer.Bind(1, plan.requeue_base)
        .Bind(2, impl.config_.schema)
        .Bind(3, table.name)
        .Bind(4, conflicting.key_json);
    OVERSYNC_RETURN_IF_ERROR(newer.Run());
    if (sqlite3_changes(impl.db_) > 0) {
      if (plan.row_state.has_value()) {
        OVERSYNC_RETURN_IF_ERROR(impl.UpsertRowState(table.name, conflicting.key_json,
                                                     plan.row_state->first, plan.row_state->second));
      }
      OVERSYNC_RETURN_IF_ERROR(RequeueFrozenRowsAndClearOutbox(impl, rows, &conflicting));
      OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(false));
      return tx.Commit();
    }
  }

  if (plan.upsert_payload.has_value()) {
    OVERSYNC_RETURN_IF_ERROR(UpsertResolvedPayload(impl, table, plan));
  } else {
    OVERSYNC_RETURN_IF_ERROR(impl.DeleteRow(table, local_key));
  }
  if (plan.row_state.has_value()) {
    OVERSYNC_RETURN_IF_ERROR(impl.UpsertRowState(table.name, conflicting.key_json,
                                                 plan.row_state->first, plan.row_state->second));
  } else {
    OVERSYNC_RETURN_IF_ERROR(impl.DeleteRowState(table.name, conflicting.key_json));
  }
  std::optional<std::string> live;
  if (!plan.requeue_op.empty() && plan.upsert_payload.has_value()) {
    OVERSYNC_ASSIGN_OR_RETURN(live, impl.LiveRowPayload(table, local_key));
    if (!live.has_value()) {
      return Status(ErrorCode::kInternal,
                    fmt::format("resolved payload for {}.{} must exist before requeue",
                                conflicting.schema_name, conflicting.table_name));
    }
  }
  OVERSYNC_RETURN_IF_ERROR(RequeueFrozenRowsAndClearOutbox(impl, rows, &conflicting));
  if (!plan.requeue_op.empty()) {
    OVERSYNC_RETURN_IF_ERROR(impl.RequeueDirtyIntent(table.name, conflicting.key_json,
                                                     plan.requeue_op, plan.requeue_base, live));
  }
  OVERSYNC_RETURN_IF_ERROR(impl.SetApplyMode(false));
  return tx.Commit();
}

// KeepMerged shape check: an object whose distinct member names are exactly the table's columns
// (case-insensitive). Returns the payload with lower-cased member names, or the reason.
Result<JsonValue> NormalizeMergedPayload(const TableInfo& table, const JsonValue& merged,
                                         const protocol::PushConflictDetails& conflict) {
  const std::string shape_error =
      fmt::format("KeepMerged for {}.{} must include exactly every table column", conflict.schema,
                  conflict.table);
  if (!merged.is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("KeepMerged for {}.{} must provide a JSON object payload",
                             conflict.schema, conflict.table));
  }
  std::set<std::string> raw_names;
  for (const protocol::JsonMember& member : merged.as_object()) raw_names.insert(member.key);
  if (raw_names.size() != table.columns.size())
    return Error(ErrorCode::kInvalidArgument, shape_error);
  JsonValue normalized = JsonValue::Object();
  for (const std::string& name : raw_names) {
    const std::string lower = ToLowerAscii(name);
    if (table.FindColumn(lower) == nullptr) return Error(ErrorCode::kInvalidArgument, shape_error);
    normalized.Add(lower, *merged.Find(name));
  }
  return normalized;
}

}  // namespace

Result<bool> Client::Impl::ResolveConflictLocked(const Status& conflict_error) {
  const ClientErrorDetail* error_detail = ClientErrorOf(conflict_error);
  if (error_detail == nullptr || !error_detail->conflict.has_value()) return Error(conflict_error);
  const protocol::PushConflictDetails& conflict = *error_detail->conflict;
  // A server row carrying the server's hidden scope column is a malformed answer (KMP fixture
  // push/behavior/recovery.json hidden-scope-conflict-row-is-rejected): fail closed before any
  // resolver runs, the frozen outbox untouched.
  if (conflict.server_row.has_value() && conflict.server_row->is_object() &&
      protocol::PayloadHasHiddenScopeColumn(*conflict.server_row)) {
    return Error(ErrorCode::kProtocolViolation,
                 fmt::format("push conflict server_row for {}.{}: {}", conflict.schema,
                             conflict.table, kHiddenScopePayloadMessage));
  }

  OVERSYNC_ASSIGN_OR_RETURN(std::vector<OutboxRow> loaded, LoadOutboxRows());
  const std::vector<OutboxRow> rows = SortedByOrdinal(std::move(loaded));
  const std::string conflict_key = CanonicalText(conflict.key);
  const OutboxRow* conflicting = nullptr;
  for (const OutboxRow& row : rows) {
    if (row.schema_name != conflict.schema || row.table_name != conflict.table) continue;
    OVERSYNC_ASSIGN_OR_RETURN(std::string key, Canonical(row.wire_key_json));
    if (key == conflict_key) {
      conflicting = &row;
      break;
    }
  }
  // Not ours (or the outbox is gone): surface the conflict unchanged, outbox untouched.
  if (conflicting == nullptr) return Error(conflict_error);
  const TableInfo* table = FindTable(conflicting->table_name);
  if (table == nullptr) {
    return Error(ErrorCode::kFailedPrecondition,
                 fmt::format("table {} is not configured for sync", conflicting->table_name));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::string local_key,
                            LocalKeyFromKeyJson(*table, conflicting->key_json));

  ConflictContext context;
  context.schema = conflict.schema;
  context.table = conflict.table;
  context.key = conflict.key;
  context.local_op = conflicting->op;
  if (conflicting->local_payload.has_value()) {
    OVERSYNC_ASSIGN_OR_RETURN(context.local_payload,
                              protocol::ParseJson(*conflicting->local_payload));
  }
  context.base_row_version = conflict.base_row_version;
  context.server_row_version = conflict.server_row_version;
  context.server_row_deleted = conflict.server_row_deleted;
  if (conflict.server_row.has_value() && !conflict.server_row->is_null()) {
    context.server_row_payload = conflict.server_row;
  }
  const bool server_live = context.server_row_payload.has_value();
  const bool server_tombstone = !server_live && conflict.server_row_deleted;
  const std::int64_t server_version = conflict.server_row_version;

  MergeResult result = MergeResult::AcceptServer();  // a null resolver means AcceptServer
  if (Resolver resolver = CurrentResolver()) {
    auto resolved = resolver(context);
    if (!resolved) {
      // A failing resolver gives no applicable result: treated like an invalid one.
      return Error(InvalidResolution(*this, rows, conflict,
                                     fmt::format("resolver failed for {}.{}: {}", conflict.schema,
                                                 conflict.table, resolved.error().ToString())));
    }
    result = std::move(*resolved);
  }

  const std::string& op = conflicting->op;
  ConflictPlan plan;
  switch (result.kind) {
    case MergeResult::Kind::kAcceptServer:
      if (server_live) {
        plan.upsert_payload = *context.server_row_payload;
        plan.encoding = PayloadEncoding::kWire;
        plan.row_state = std::make_pair(server_version, false);
      } else if (server_tombstone) {
        plan.row_state = std::make_pair(server_version, true);
      }  // missing: delete the row and its row state
      break;

    case MergeResult::Kind::kKeepLocal:
      if (op == kOpDelete) {
        if (server_live) {
          plan.row_state = std::make_pair(server_version, false);
          plan.requeue_op = std::string(kOpDelete);
          plan.requeue_base = server_version;
        } else if (server_tombstone) {
          plan.row_state = std::make_pair(server_version, true);
        }
        break;
      }
      if (op == kOpUpdate && !server_live) {
        return Error(InvalidResolution(*this, rows, conflict,
                                       fmt::format("KeepLocal is invalid for stale UPDATE on "
                                                   "{}.{}; authoritative row is deleted or missing",
                                                   conflict.schema, conflict.table)));
      }
      if (op != kOpInsert && op != kOpUpdate) {
        return Error(ErrorCode::kInternal, fmt::format("unsupported local conflict op {:?}", op));
      }
      if (!context.local_payload.has_value() || !context.local_payload->is_object()) {
        return Error(ErrorCode::kDatabase,
                     fmt::format("local {} conflict payload for {}.{} must be a JSON object", op,
                                 conflict.schema, conflict.table));
      }
      if (!server_live && !server_tombstone) {
        return Error(
            ErrorCode::kProtocolViolation,
            fmt::format("KeepLocal INSERT conflict for {}.{} must include live row or tombstone",
                        conflict.schema, conflict.table));
      }
      plan.upsert_payload = *context.local_payload;
      plan.encoding = PayloadEncoding::kLocal;  // frozen local payloads hold BLOBs as hex
      plan.row_state = std::make_pair(server_version, server_tombstone);
      plan.requeue_op = std::string(server_live ? kOpUpdate : kOpInsert);
      plan.requeue_base = server_version;
      break;

    case MergeResult::Kind::kKeepMerged: {
      if (op == kOpDelete) {
        return Error(
            InvalidResolution(*this, rows, conflict,
                              fmt::format("KeepMerged is invalid for DELETE conflict on {}.{}",
                                          conflict.schema, conflict.table)));
      }
      if (op == kOpUpdate && !server_live) {
        return Error(InvalidResolution(*this, rows, conflict,
                                       fmt::format("KeepMerged is invalid for stale UPDATE on "
                                                   "{}.{}; authoritative row is deleted or missing",
                                                   conflict.schema, conflict.table)));
      }
      auto merged = NormalizeMergedPayload(*table, result.merged_payload, conflict);
      if (!merged) return Error(InvalidResolution(*this, rows, conflict, merged.error().message()));
      if (op != kOpInsert && op != kOpUpdate) {
        return Error(ErrorCode::kInternal, fmt::format("unsupported local conflict op {:?}", op));
      }
      if (!server_live && !server_tombstone) {
        return Error(
            ErrorCode::kProtocolViolation,
            fmt::format("KeepMerged INSERT conflict for {}.{} must include live row or tombstone",
                        conflict.schema, conflict.table));
      }
      plan.upsert_payload = std::move(*merged);
      plan.merged = true;
      plan.row_state = std::make_pair(server_version, server_tombstone);
      plan.requeue_op = std::string(server_live ? kOpUpdate : kOpInsert);
      plan.requeue_base = server_version;
      break;
    }
  }

  OVERSYNC_RETURN_IF_ERROR(ApplyConflictPlan(*this, rows, *conflicting, *table, local_key, plan));
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t remaining, DirtyCount());
  return remaining > 0;
}

Resolver ServerWinsResolver() {
  return [](const ConflictContext& /*context*/) -> Result<MergeResult> {
    return MergeResult::AcceptServer();
  };
}

Resolver ClientWinsResolver() {
  return [](const ConflictContext& /*context*/) -> Result<MergeResult> {
    return MergeResult::KeepLocal();
  };
}

}  // namespace oversync::oversqlite
