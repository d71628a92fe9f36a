// File: libs/oversqlite/src/apply.cc
//
// Authoritative writes to business tables and sync metadata (client.md §4.5, §5.3, §6.1). Every
// function runs inside the caller's transaction; the caller sets apply mode so the capture
// triggers stay quiet. Per-row statements come from the statement cache: hydrating a snapshot or
// replaying a bundle must not re-prepare the same SQL for every row.
#include <string>

#include <fmt/format.h>

#include "client_impl.h"
#include "oversync/common/strings.h"

namespace oversync::oversqlite {
namespace {

using protocol::JsonValue;

std::string Quote(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

constexpr std::string_view kNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

}  // namespace

Result<internal::Stmt*> Client::Impl::CachedStmt(const std::string& sql) {
  auto it = stmt_cache_.find(sql);
  if (it == stmt_cache_.end()) {
    OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, internal::Prepare(db_, sql));
    it = stmt_cache_.emplace(sql, std::make_unique<Stmt>(std::move(stmt))).first;
  }
  it->second->Reset();
  return it->second.get();
}

void Client::Impl::ClearStatementCache() { stmt_cache_.clear(); }

Status Client::Impl::UpsertRow(const TableInfo& table, const JsonValue& payload,
                               PayloadEncoding encoding) {
  if (!payload.is_object() || payload.as_object().size() != table.columns.size()) {
    return Status(ErrorCode::kProtocolViolation,
                  fmt::format("payload for {} must contain every table column", table.name));
  }
  std::string columns;
  std::string values;
  std::string updates;
  for (const ColumnInfo& column : table.columns) {
    if (!columns.empty()) {
      columns += ", ";
      values += ", ";
    }
    columns += Quote(column.name);
    values += "?";
    if (column.lower != table.key_lower) {
      if (!updates.empty()) updates += ", ";
      updates += fmt::format("{0} = excluded.{0}", Quote(column.name));
    }
  }
  const std::string sql =
      fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT({}) DO {}", Quote(table.name), columns,
                  values, Quote(table.key_column), updates.empty() ? "NOTHING" : "UPDATE SET " + updates);
  OVERSYNC_ASSIGN_OR_RETURN(Stmt * stmt, CachedStmt(sql));
  int index = 1;
  for (const ColumnInfo& column : table.columns) {
    const JsonValue* value = payload.Find(column.lower);
    if (value == nullptr) {
      return Status(ErrorCode::kProtocolViolation,
                    fmt::format("payload for {} is missing column {}", table.name, column.lower));
    }
    OVERSYNC_RETURN_IF_ERROR(BindPayloadValue(*stmt, index++, table, column, *value, encoding));
  }
  return stmt->Run();
}

Status Client::Impl::DeleteRow(const TableInfo& table, std::string_view local_key) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt(fmt::format("DELETE FROM {} WHERE {} = ?", Quote(table.name), Quote(table.key_column))));
  OVERSYNC_RETURN_IF_ERROR(BindLocalKey(*stmt, 1, table, local_key));
  return stmt->Run();
}

Status Client::Impl::UpsertRowState(std::string_view table, std::string_view key_json,
                                    std::int64_t row_version, bool deleted) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt(fmt::format(
          "INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted, updated_at) "
          "VALUES (?, ?, ?, ?, ?, {0}) ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET "
          "row_version = excluded.row_version, deleted = excluded.deleted, updated_at = excluded.updated_at",
          kNow)));
  stmt->Bind(1, config_.schema).Bind(2, table).Bind(3, key_json).Bind(4, row_version);
  stmt->Bind(5, static_cast<std::int64_t>(deleted ? 1 : 0));
  return stmt->Run();
}

Status Client::Impl::DeleteRowState(std::string_view table, std::string_view key_json) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt("DELETE FROM _sync_row_state WHERE schema_name = ? AND table_name = ? AND key_json = ?"));
  stmt->Bind(1, config_.schema).Bind(2, table).Bind(3, key_json);
  return stmt->Run();
}

Result<std::optional<std::int64_t>> Client::Impl::RowStateVersion(std::string_view table,
                                                                  std::string_view key_json) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt("SELECT row_version FROM _sync_row_state WHERE schema_name = ? AND table_name = ? AND "
                 "key_json = ?"));
  stmt->Bind(1, config_.schema).Bind(2, table).Bind(3, key_json);
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt->Step());
  std::optional<std::int64_t> version;
  if (row) version = stmt->Int(0);
  stmt->Reset();
  return version;
}

Status Client::Impl::DeleteDirtyRow(std::string_view table, std::string_view key_json) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt("DELETE FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ? AND key_json = ?"));
  stmt->Bind(1, config_.schema).Bind(2, table).Bind(3, key_json);
  return stmt->Run();
}

Status Client::Impl::RequeueDirtyIntent(std::string_view table, std::string_view key_json,
                                        std::string_view op, std::int64_t base_row_version,
                                        const std::optional<std::string>& local_payload) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt * stmt,
      CachedStmt(fmt::format(
          "INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, payload, "
          "dirty_ordinal, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE((SELECT dirty_ordinal FROM "
          "_sync_dirty_rows WHERE schema_name = ?1 AND table_name = ?2 AND key_json = ?3), (SELECT "
          "COALESCE(MAX(dirty_ordinal), 0) + 1 FROM _sync_dirty_rows)), {0}) "
          "ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET op = excluded.op, "
          "base_row_version = excluded.base_row_version, payload = excluded.payload, "
          "updated_at = excluded.updated_at",
          kNow)));
  stmt->Bind(1, config_.schema).Bind(2, table).Bind(3, key_json).Bind(4, op).Bind(5, base_row_version);
  stmt->BindOptional(6, local_payload);
  return stmt->Run();
}

Result<std::optional<std::string>> Client::Impl::LiveRowPayload(const TableInfo& table,
                                                                 std::string_view local_key) {
  // The capture trigger's own json_object expression (client.md Appendix C item 4): live-row
  // payloads compare byte-for-byte with captured ones, REAL formatting included.
  std::string expr;
  for (const ColumnInfo& column : table.columns) {
    if (!expr.empty()) expr += ", ";
    if (column.is_blob) {
      expr += fmt::format("'{0}', CASE WHEN {1} IS NULL THEN NULL ELSE lower(hex({1})) END", column.lower,
                          Quote(column.name));
    } else {
      expr += fmt::format("'{}', {}", column.lower, Quote(column.name));
    }
  }
  OVERSYNC_ASSIGN_OR_RETURN(Stmt * stmt,
                            CachedStmt(fmt::format("SELECT json_object({}) FROM {} WHERE {} = ?", expr,
                                                   Quote(table.name), Quote(table.key_column))));
  OVERSYNC_RETURN_IF_ERROR(BindLocalKey(*stmt, 1, table, local_key));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt->Step());
  std::optional<std::string> payload;
  if (row) payload = stmt->Text(0);
  stmt->Reset();
  return payload;
}

Status Client::Impl::ClearManagedTables() {
  std::set<std::string> names;
  for (const TableInfo& table : tables_) names.insert(table.name);
  {
    OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt,
                              internal::Prepare(db_, "SELECT table_name FROM _sync_managed_tables WHERE "
                                                     "schema_name = ?"));
    stmt.Bind(1, config_.schema);
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      names.insert(ToLowerAscii(stmt.Text(0)));
    }
  }
  for (const std::string& name : names) {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::int64_t exists,
        [&]() -> Result<std::int64_t> {
          OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, internal::Prepare(db_, "SELECT COUNT(*) FROM sqlite_master "
                                                                     "WHERE type = 'table' AND lower(name) = ?"));
          stmt.Bind(1, name);
          OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
          return row ? stmt.Int(0) : 0;
        }());
    if (exists > 0) OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, fmt::format("DELETE FROM {}", Quote(name))));
    OVERSYNC_ASSIGN_OR_RETURN(Stmt state, internal::Prepare(db_, "DELETE FROM _sync_row_state WHERE "
                                                                "schema_name = ? AND table_name = ?"));
    state.Bind(1, config_.schema).Bind(2, name);
    OVERSYNC_RETURN_IF_ERROR(state.Run());
  }
  return Status::Ok();
}

Status Client::Impl::ApplyAuthoritativeRow(const TableInfo& table, std::string_view key_json,
                                           std::string_view local_key, bool is_delete,
                                           const JsonValue* payload, std::int64_t row_version) {
  if (is_delete) {
    OVERSYNC_RETURN_IF_ERROR(DeleteRow(table, local_key));
  } else {
    if (payload == nullptr) {
      return Status(ErrorCode::kProtocolViolation, fmt::format("missing payload for {} upsert", table.name));
    }
    OVERSYNC_RETURN_IF_ERROR(UpsertRow(table, *payload, PayloadEncoding::kWire));
  }
  return UpsertRowState(table.name, key_json, row_version, is_delete);
}

}  // namespace oversync::oversqlite
