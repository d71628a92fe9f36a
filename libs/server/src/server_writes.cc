// Server-originated writes: WithinSyncBundle and ExecWrite (server.md §3.6-§3.7).
#include <cctype>

#include <fmt/format.h>

#include "oversync/common/rfc3339.h"
#include "oversync/common/strings.h"
#include "runtime_internal.h"
#include "scope.h"

namespace oversync {
namespace {

// The first SQL keyword of `sql`, lower-cased, after whitespace and comments.
std::string FirstKeyword(std::string_view sql, std::size_t* end_out = nullptr) {
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      const std::size_t nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (sql.substr(i, 2) == "/*") {
      // PostgreSQL block comments nest.
      int depth = 0;
      do {
        if (sql.substr(i, 2) == "/*") {
          ++depth;
          i += 2;
        } else if (sql.substr(i, 2) == "*/") {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < sql.size());
    } else {
      break;
    }
  }
  std::size_t end = i;
  while (end < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[end])) != 0 ||
                              sql[end] == '_')) {
    ++end;
  }
  if (end_out != nullptr) *end_out = end;
  return ToLowerAscii(sql.substr(i, end - i));
}

// Transaction control would end or fork the runtime's transaction behind its back; ROLLBACK TO
// (a savepoint) is harmless and allowed, as are SAVEPOINT and RELEASE.
bool IsTransactionControl(std::string_view sql) {
  std::size_t end = 0;
  const std::string first = FirstKeyword(sql, &end);
  if (first == "rollback") return FirstKeyword(sql.substr(end)) != "to";
  return first == "begin" || first == "start" || first == "commit" || first == "end" ||
         first == "abort" || first == "prepare" || first == "discard";
}

class PgSyncTransaction final : public SyncTransaction {
 public:
  explicit PgSyncTransaction(pg::PgConnection& tx) : tx_(tx) {}

  Result<SqlRows> Exec(std::string_view sql,
                       const std::vector<std::optional<std::string>>& params) override {
    if (IsTransactionControl(sql)) {
      return Error(ErrorCode::kInvalidArgument,
                   "transaction control is not allowed in a sync bundle callback; the runtime "
                   "commits or rolls back the bundle's transaction");
    }
    std::vector<pg::Param> pg_params;
    pg_params.reserve(params.size());
    for (const auto& p : params) {
      pg_params.push_back(p ? pg::Param(std::string_view(*p)) : pg::Param());
    }
    // The extended protocol runs exactly one statement per call; PostgreSQL refuses more with
    // "cannot insert multiple commands into a prepared statement" (SQLSTATE 42601).
    Result<pg::PgResult> executed = tx_.Exec(sql, pg_params);
    if (!executed) {
      if (executed.error().message().find("cannot insert multiple commands") != std::string::npos) {
        return Error(ErrorCode::kInvalidArgument,
                     "a sync bundle callback runs one SQL statement per Exec call");
      }
      return Error(std::move(executed).error());
    }
    pg::PgResult result = std::move(*executed);
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(result.columns()));
    for (int c = 0; c < result.columns(); ++c) names.emplace_back(result.ColumnName(c));
    std::vector<std::optional<std::string>> cells;
    cells.reserve(static_cast<std::size_t>(result.rows()) * names.size());
    for (int r = 0; r < result.rows(); ++r) {
      for (int c = 0; c < result.columns(); ++c) {
        if (result.IsNull(r, c)) {
          cells.emplace_back();
        } else {
          cells.emplace_back(std::string(result.Text(r, c)));
        }
      }
    }
    return SqlRows(std::move(names), std::move(cells), result.AffectedRows());
  }

 private:
  pg::PgConnection& tx_;
};

Status ScopeStateError(const ScopeRow& scope, const std::string& user_id) {
  if (scope.state == ScopeStateCode::kInitializing) {
    return {ErrorCode::kScopeInitializing,
            fmt::format("sync scope for user {} is initializing until {}", user_id,
                        FormatRfc3339Nano(scope.lease_expires_at))};
  }
  return {ErrorCode::kScopeUninitialized,
          fmt::format("sync scope for user {} is not initialized", user_id)};
}

// Runs the callback under the bundle context and finalizes (WithinSyncBundle steps 6-7).
// `floor_moved` tells whether retention advanced the scope's floor.
Result<std::optional<FinalizedBundle>> RunBundleCallback(internal::RuntimeState& impl,
                                                         pg::PgConnection& tx,
                                                         const std::string& user_id,
                                                         std::int64_t user_pk,
                                                         const std::string& source_id,
                                                         std::int64_t source_bundle_id,
                                                         const SyncWriteFn& fn,
                                                         bool& floor_moved) {
  OVERSYNC_RETURN_IF_ERROR(SetBundleContext(tx, user_id, user_pk, source_id, source_bundle_id, ""));
  PgSyncTransaction sync_tx(tx);
  OVERSYNC_RETURN_IF_ERROR(fn(sync_tx));
  // The context is transaction-local: if it is gone or changed, the callback ended the
  // transaction (or rewrote the context) behind our back and nothing can be trusted.
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult context, tx.Exec(
      "SELECT COALESCE(current_setting('oversync.bundle_user_id', true), '') = $1 AND "
      "COALESCE(current_setting('oversync.bundle_source_id', true), '') = $2",
      {user_id, source_id}));
  if (context.rows() != 1 || !context.Bool(0, 0)) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the sync bundle callback changed or ended the bundle's transaction context");
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                            FinalizeBundle(impl, tx, user_pk, source_id, source_bundle_id));
  if (bundle) {
    OVERSYNC_ASSIGN_OR_RETURN(floor_moved,
                              ActivateSourceAndRetain(impl, tx, user_pk, user_id, source_id,
                                                      source_bundle_id, bundle->bundle_seq));
  }
  return bundle;
}

// The next bundle of writer source `writer_id` in scope `scope_id` (ExecWrite steps 2-4, also
// used by AdoptScope): locks the scope, initializes an UNINITIALIZED one by the writer, defers
// FKs and allocates the writer's next source_bundle_id. kScopeInitializing / kSourceRetired.
struct WriterBundle {
  std::int64_t user_pk = 0;
  std::int64_t source_bundle_id = 0;
  bool auto_initialized = false;
};

Result<WriterBundle> BeginWriterBundle(pg::PgConnection& tx, const std::string& scope_id,
                                       const std::string& writer_id, TimePoint now) {
  OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, EnsureAndLockScope(tx, scope_id, now));
  if (scope.state == ScopeStateCode::kInitializing) {
    return Error(ScopeStateError(scope, scope_id));
  }
  WriterBundle out;
  out.user_pk = scope.user_pk;
  if (scope.state == ScopeStateCode::kUninitialized) {
    // The server's write is the scope's first authoritative content.
    OVERSYNC_RETURN_IF_ERROR(MarkScopeInitialized(tx, scope.user_pk, writer_id, now));
    out.auto_initialized = true;
  }
  OVERSYNC_RETURN_IF_ERROR(tx.ExecScript("SET CONSTRAINTS ALL DEFERRED"));
  OVERSYNC_ASSIGN_OR_RETURN(SourceRow current, LoadSource(tx, scope.user_pk, writer_id, true));
  if (current.state == "retired") {
    return Error(RetiredError(writer_id, scope_id, current.replaced_by));
  }
  out.source_bundle_id = current.max_committed + 1;
  return out;
}

CommittedBundle ToCommitted(const FinalizedBundle& bundle, const std::string& source_id,
                            std::int64_t source_bundle_id) {
  CommittedBundle out;
  out.bundle_seq = bundle.bundle_seq;
  out.source_id = source_id;
  out.source_bundle_id = source_bundle_id;
  out.row_count = bundle.row_count;
  out.bundle_hash = bundle.bundle_hash;
  return out;
}

}  // namespace

Result<std::optional<CommittedBundle>> RuntimeService::WithinSyncBundle(
    const std::string& user_id, const BundleSource& source, const SyncWriteFn& fn) {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "server_write", "total");
  if (TrimAsciiSpace(user_id).empty()) {
    return Error(ErrorCode::kInvalidArgument, "actor user_id is required");
  }
  const std::string source_id(TrimAsciiSpace(source.source_id));
  if (source_id.empty()) return Error(ErrorCode::kInvalidArgument, "bundle source_id is required");
  if (source.source_bundle_id <= 0) {
    return Error(ErrorCode::kInvalidArgument, "bundle source_bundle_id must be > 0");
  }
  if (!fn) return Error(ErrorCode::kInvalidArgument, "bundle callback is required");
  std::optional<CommittedBundle> committed;
  bool floor_moved = false;
  std::int64_t committed_user_pk = 0;
  Status status = RunUserTransaction(*impl_, "server_write", user_id, 1,
                                     [&](pg::PgConnection& tx) -> Status {
    committed.reset();
    const TimePoint now = impl_->clock->Now();
    OVERSYNC_ASSIGN_OR_RETURN(ScopeRow scope, EnsureAndLockScope(tx, user_id, now));
    if (scope.state != ScopeStateCode::kInitialized) return ScopeStateError(scope, user_id);
    OVERSYNC_RETURN_IF_ERROR(tx.ExecScript("SET CONSTRAINTS ALL DEFERRED"));
    OVERSYNC_ASSIGN_OR_RETURN(SourceRow current, LoadSource(tx, scope.user_pk, source_id, true));
    if (current.state == "retired") return RetiredError(source_id, user_id, current.replaced_by);
    const std::int64_t expected = current.max_committed + 1;
    if (source.source_bundle_id < expected) {
      return {ErrorCode::kHistoryPruned,
              fmt::format("source tuple ({}, {}) for user {} is older than retained duplicate "
                          "history; max committed source_bundle_id is {}",
                          source_id, source.source_bundle_id, user_id, current.max_committed)};
    }
    if (source.source_bundle_id > expected) {
      return {ErrorCode::kSourceSequenceOutOfOrder,
              fmt::format("source {} for user {} expected next source_bundle_id {}, got {}",
                          source_id, user_id, expected, source.source_bundle_id)};
    }
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                              RunBundleCallback(*impl_, tx, user_id, scope.user_pk, source_id,
                                                source.source_bundle_id, fn, floor_moved));
    committed_user_pk = scope.user_pk;
    if (bundle) committed = ToCommitted(*bundle, source_id, source.source_bundle_id);
    return {};
  });
  if (status.ok() && floor_moved) impl_->MarkRetention(committed_user_pk);
  total.Finish(status, committed ? committed->row_count : 0);
  if (!status.ok()) return Error(std::move(status));
  return committed;
}

Result<ScopeWriteResult> RuntimeService::ExecWrite(std::string_view scope_id_raw,
                                                   std::string_view writer_id_raw,
                                                   const SyncWriteFn& fn) {
  const std::string scope_id(TrimAsciiSpace(scope_id_raw));
  const std::string writer_id(TrimAsciiSpace(writer_id_raw));
  if (scope_id.empty()) return Error(ErrorCode::kInvalidArgument, "scope_id is required");
  if (writer_id.empty()) return Error(ErrorCode::kInvalidArgument, "writer_id is required");
  if (!fn) return Error(ErrorCode::kInvalidArgument, "scope write callback is required");
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "server_write", "total");
  ScopeWriteResult result;
  bool floor_moved = false;
  std::int64_t committed_user_pk = 0;
  Status status = RunUserTransaction(*impl_, "server_write", scope_id, 1,
                                     [&](pg::PgConnection& tx) -> Status {
    result = ScopeWriteResult{};
    OVERSYNC_ASSIGN_OR_RETURN(WriterBundle writer,
                              BeginWriterBundle(tx, scope_id, writer_id, impl_->clock->Now()));
    result.auto_initialized = writer.auto_initialized;
    const std::int64_t source_bundle_id = writer.source_bundle_id;
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                              RunBundleCallback(*impl_, tx, scope_id, writer.user_pk, writer_id,
                                                source_bundle_id, fn, floor_moved));
    committed_user_pk = writer.user_pk;
    if (!bundle) {
      // Returning an error rolls back everything, the auto-initialization included.
      return {ErrorCode::kFailedPrecondition,
              fmt::format("scope write for {} via {} produced no visible registered-table "
                          "effects",
                          scope_id, writer_id)};
    }
    result.bundle = ToCommitted(*bundle, writer_id, source_bundle_id);
    return {};
  });
  if (status.ok() && floor_moved) impl_->MarkRetention(committed_user_pk);
  total.Finish(status, status.ok() ? result.bundle.row_count : 0);
  if (!status.ok()) return Error(std::move(status));
  return result;
}

// ---- adoption of pre-existing rows (server.md §10.1 item 2) ----

Result<std::vector<std::string>> RuntimeService::ListUnadoptedScopes() {
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgPool::Lease conn, impl_->pool->Acquire());
  std::string sql;
  for (const RegisteredTableRuntime& table : impl_->registered) {
    if (!sql.empty()) sql += " UNION ";
    sql += fmt::format(
        "SELECT src._sync_scope_id FROM {}.{} AS src WHERE NOT EXISTS (SELECT 1 FROM "
        "sync.row_state rs JOIN sync.user_state u ON u.user_pk = rs.user_pk WHERE "
        "u.user_id = src._sync_scope_id AND rs.table_id = {} AND rs.key_bytes = {} AND "
        "NOT rs.deleted)",
        pg::QuoteIdent(table.shape.schema), pg::QuoteIdent(table.shape.table),
        table.info.table.table_id, KeyBytesExpr(table));
  }
  std::vector<std::string> scopes;
  if (sql.empty()) return scopes;
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult rows, conn->Exec("SELECT DISTINCT s FROM (" + sql +
                                                          ") AS x(s) ORDER BY 1"));
  for (int r = 0; r < rows.rows(); ++r) scopes.emplace_back(rows.Text(r, 0));
  return scopes;
}

Result<std::optional<ScopeWriteResult>> RuntimeService::AdoptScope(std::string_view scope_id_raw,
                                                                   std::string_view writer_id_raw) {
  const std::string scope_id(TrimAsciiSpace(scope_id_raw));
  const std::string writer_id(TrimAsciiSpace(writer_id_raw));
  if (scope_id.empty()) return Error(ErrorCode::kInvalidArgument, "scope_id is required");
  if (writer_id.empty()) return Error(ErrorCode::kInvalidArgument, "writer_id is required");
  OVERSYNC_ASSIGN_OR_RETURN(OperationToken op, BeginOperation(*impl_));
  StageTimer total(*impl_, "adopt_scope", "total");
  std::optional<ScopeWriteResult> result;
  bool floor_moved = false;
  bool nothing_to_adopt = false;
  std::int64_t committed_user_pk = 0;
  Status status = RunUserTransaction(*impl_, "adopt_scope", scope_id, 1,
                                     [&](pg::PgConnection& tx) -> Status {
    result.reset();
    nothing_to_adopt = false;
    OVERSYNC_ASSIGN_OR_RETURN(WriterBundle writer,
                              BeginWriterBundle(tx, scope_id, writer_id, impl_->clock->Now()));
    ScopeWriteResult adopted;
    adopted.auto_initialized = writer.auto_initialized;
    const std::int64_t source_bundle_id = writer.source_bundle_id;
    OVERSYNC_RETURN_IF_ERROR(
        SetBundleContext(tx, scope_id, writer.user_pk, writer_id, source_bundle_id, ""));
    // Stage, set-based and parents first, an INSERT of every business row without live
    // row_state and a DELETE of every live row_state without a business row; finalization turns
    // them into one bundle and the matching row_state, like any captured change.
    const std::string user_pk_text = std::to_string(writer.user_pk);
    for (const RegisteredTableRuntime* table : impl_->dependency_order) {
      const std::string target =
          pg::QuoteIdent(table->shape.schema) + "." + pg::QuoteIdent(table->shape.table);
      const std::string table_id = std::to_string(table->info.table.table_id);
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          fmt::format("INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, "
                      "key_bytes, payload_db) "
                      "SELECT txid_current(), $1, $2::integer, 1, {1}, to_jsonb(src) - "
                      "'_sync_scope_id' FROM {0} AS src WHERE src._sync_scope_id = $3 AND NOT "
                      "EXISTS (SELECT 1 FROM sync.row_state rs WHERE rs.user_pk = $1 AND "
                      "rs.table_id = $2::integer AND rs.key_bytes = {1} AND NOT rs.deleted) "
                      "ORDER BY {1}",
                      target, KeyBytesExpr(*table)),
          {user_pk_text, table_id, scope_id}));
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          fmt::format("INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, "
                      "key_bytes, payload_db) "
                      "SELECT txid_current(), $1, $2::integer, 3, rs.key_bytes, NULL "
                      "FROM sync.row_state rs WHERE rs.user_pk = $1 AND rs.table_id = $2::integer "
                      "AND NOT rs.deleted AND NOT EXISTS (SELECT 1 FROM {0} AS src WHERE "
                      "src._sync_scope_id = $3 AND src.{1} = {2}) ORDER BY rs.key_bytes",
                      target, pg::QuoteIdent(table->shape.key_column), KeyFromBytesExpr(*table)),
          {user_pk_text, table_id, scope_id}));
    }
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                              FinalizeBundle(*impl_, tx, writer.user_pk, writer_id,
                                             source_bundle_id));
    if (!bundle) {
      // Nothing to adopt: an error return rolls back (an auto-initialization included).
      nothing_to_adopt = true;
      return {ErrorCode::kCancelled, "nothing to adopt"};
    }
    OVERSYNC_ASSIGN_OR_RETURN(floor_moved,
                              ActivateSourceAndRetain(*impl_, tx, writer.user_pk, scope_id,
                                                      writer_id, source_bundle_id,
                                                      bundle->bundle_seq));
    committed_user_pk = writer.user_pk;
    adopted.bundle = ToCommitted(*bundle, writer_id, source_bundle_id);
    result = std::move(adopted);
    return {};
  });
  if (nothing_to_adopt) {
    status = Status();
    result.reset();
  }
  if (status.ok() && floor_moved) impl_->MarkRetention(committed_user_pk);
  total.Finish(status, result ? result->bundle.row_count : 0);
  if (!status.ok()) return Error(std::move(status));
  return result;
}

}  // namespace oversync
