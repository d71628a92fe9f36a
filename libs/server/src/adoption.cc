// Adoption of populated registered tables at layout creation (protocol-b.md §8.2).
#include "adoption.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "oversync/common/rfc3339.h"
#include "schema_layout.h"

namespace oversync {
namespace {

constexpr std::string_view kAdoptionSourcePrefix = "oversync-adoption:";

// go-oversync's PopulatedTableAdoptionError text, so operators see the same diagnostics.
Status AdoptionError(std::string_view reason, std::string_view user_id, std::string_view table,
                     std::int64_t business_rows, std::int64_t row_state, std::string_view detail) {
  std::string location;
  if (!user_id.empty()) location = fmt::format(" for scope {}", user_id);
  if (!table.empty()) location += fmt::format(" at {}", table);
  return {ErrorCode::kFailedPrecondition,
          fmt::format("populated-table adoption {}{} (business_rows={} row_state={}): {}", reason,
                      location, business_rows, row_state, detail)};
}

std::string Target(const RegisteredTableRuntime& table) {
  return pg::QuoteIdent(table.shape.schema) + "." + pg::QuoteIdent(table.shape.table);
}

struct PopulatedScope {
  std::string user_id;
  std::int64_t business_rows = 0;
  std::string source_id;
  std::int64_t user_pk = 0;
};

}  // namespace

Result<AdoptionSummary> AdoptPopulatedTables(internal::RuntimeState& impl, pg::PgConnection& tx) {
  AdoptionSummary summary;
  std::vector<const RegisteredTableRuntime*> tables;
  for (const RegisteredTableRuntime& table : impl.registered) tables.push_back(&table);
  if (tables.empty()) return summary;
  std::sort(tables.begin(), tables.end(), [](const auto* a, const auto* b) {
    return a->info.table.table_id < b->info.table.table_id;
  });

  // No business write may land between the scan and the commit. LOCK TABLE also locks every
  // partition and inheritance child.
  std::string locked;
  for (const RegisteredTableRuntime* table : tables) {
    if (!locked.empty()) locked += ", ";
    locked += Target(*table);
  }
  OVERSYNC_RETURN_IF_ERROR(tx.ExecScript("LOCK TABLE " + locked + " IN SHARE ROW EXCLUSIVE MODE"));

  // Business rows per scope and table (and rows without a key), one statement.
  const std::string scope_column = pg::QuoteIdent(layout::kScopeColumn);
  std::string census;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (i > 0) census += " UNION ALL ";
    census += fmt::format(
        "SELECT src.{0}::text, {1}::integer, count(*), count(*) FILTER (WHERE src.{2} IS NULL) "
        "FROM {3} AS src GROUP BY 1",
        scope_column, i, pg::QuoteIdent(tables[i]->shape.key_column), Target(*tables[i]));
  }
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult counts, tx.Exec(
      "SELECT scope_id, ordinal, business_rows, null_keys FROM (" + census +
      ") AS x(scope_id, ordinal, business_rows, null_keys) ORDER BY scope_id COLLATE \"C\", "
      "ordinal"));
  std::vector<PopulatedScope> scopes;
  for (int r = 0; r < counts.rows(); ++r) {
    const RegisteredTableRuntime& table =
        *tables[static_cast<std::size_t>(counts.Int64(r, 1).value_or(0))];
    const std::string table_name = table.info.table.qualified();
    if (counts.IsNull(r, 0) || counts.Text(r, 0).empty()) {
      return Error(AdoptionError("identity_unrepresentable", "", table_name, 0, 0,
                                 "registered row has a NULL or empty scope"));
    }
    const std::string user_id(counts.Text(r, 0));
    if (counts.Int64(r, 3).value_or(0) > 0) {
      return Error(AdoptionError("identity_unrepresentable", user_id, table_name, 0, 0,
                                 "registered row has a NULL sync key"));
    }
    if (scopes.empty() || scopes.back().user_id != user_id) {
      scopes.push_back(PopulatedScope{user_id, 0, "", 0});
    }
    scopes.back().business_rows += counts.Int64(r, 2).value_or(0);
  }
  if (scopes.empty()) return summary;

  // The scopes' state rows, INITIALIZED by their adoption sources, in one statement.
  std::vector<std::string> user_ids;
  std::vector<std::string> source_ids;
  for (PopulatedScope& scope : scopes) {
    scope.source_id = std::string(kAdoptionSourcePrefix) + impl.NewUuidText();
    user_ids.push_back(scope.user_id);
    source_ids.push_back(scope.source_id);
  }
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult created, tx.Exec(
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
      "AS x(user_id, source_id, ordinal)), "
      "users AS (INSERT INTO sync.user_state (user_id) SELECT user_id FROM input ORDER BY ordinal "
      "RETURNING user_pk, user_id), "
      "scopes AS (INSERT INTO sync.scope_state (user_pk, state_code, initialized_at, "
      "initialized_by_source_id) SELECT u.user_pk, 2, $3::timestamptz, i.source_id "
      "FROM users u JOIN input i ON i.user_id = u.user_id) "
      "SELECT u.user_pk FROM users u JOIN input i ON i.user_id = u.user_id ORDER BY i.ordinal",
      {pg::TextArray(user_ids), pg::TextArray(source_ids), FormatRfc3339Nano(impl.clock->Now())}));
  if (created.rows() != static_cast<int>(scopes.size())) {
    return Error(ErrorCode::kInternal, "adoption created an unexpected number of scopes");
  }
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    scopes[i].user_pk = created.Int64(static_cast<int>(i), 0).value_or(0);
  }

  // Stage every business row as an INSERT of its scope, table by table in table_id order and by
  // key bytes within a table; finalization turns each scope's rows into its baseline bundle.
  for (const RegisteredTableRuntime* table : tables) {
    const std::string key_bytes = KeyBytesExpr(*table);
    OVERSYNC_RETURN_IF_ERROR(tx.Exec(
        fmt::format("INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, "
                    "key_bytes, payload_db) "
                    "SELECT txid_current(), u.user_pk, $1::integer, 1, {0}, to_jsonb(src) - "
                    "'_sync_scope_id' FROM {1} AS src JOIN sync.user_state u ON u.user_id = "
                    "src.{2} ORDER BY u.user_pk, {0}",
                    key_bytes, Target(*table), scope_column),
        {std::to_string(table->info.table.table_id)}));
  }
  for (const PopulatedScope& scope : scopes) {
    OVERSYNC_ASSIGN_OR_RETURN(std::optional<FinalizedBundle> bundle,
                              FinalizeBundle(impl, tx, scope.user_pk, scope.source_id, 1, "", true));
    if (!bundle || bundle->bundle_seq != 1 || bundle->row_count != scope.business_rows) {
      return Error(AdoptionError("history_mismatch", scope.user_id, "", scope.business_rows,
                                 bundle ? bundle->row_count : 0,
                                 "adoption baseline is not bundle 1 with every business row"));
    }
    OVERSYNC_RETURN_IF_ERROR(ActivateSourceAndRetain(impl, tx, scope.user_pk, scope.user_id,
                                                     scope.source_id, 1, bundle->bundle_seq));
    summary.rows += scope.business_rows;
  }

  // Re-count what was persisted (go-oversync's validatePersistedAdoptionState): one bundle, the
  // live row_state of every business row, one active source at watermark 1, nothing staged.
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult persisted, tx.Exec(
      "SELECT u.user_pk, u.next_bundle_seq = 2 AND u.retained_bundle_floor = 0 "
      "AND s.state_code = 2 "
      "AND (SELECT count(*) FROM sync.bundle_log b WHERE b.user_pk = u.user_pk) = 1 "
      "AND (SELECT count(*) FROM sync.source_state ss WHERE ss.user_pk = u.user_pk "
      "     AND ss.state = 'active' AND ss.max_committed_source_bundle_id = 1) = 1 "
      "AND NOT EXISTS (SELECT 1 FROM sync.bundle_capture_stage c WHERE c.user_pk = u.user_pk), "
      "(SELECT count(*) FROM sync.row_state rs WHERE rs.user_pk = u.user_pk AND NOT rs.deleted), "
      "(SELECT count(*) FROM sync.row_state rs WHERE rs.user_pk = u.user_pk) "
      "FROM sync.user_state u JOIN sync.scope_state s ON s.user_pk = u.user_pk ORDER BY 1"));
  if (persisted.rows() != static_cast<int>(scopes.size())) {
    return Error(AdoptionError("partial_sync_state", "", "", summary.rows, 0,
                               "scope count differs from the adopted scopes"));
  }
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const int r = static_cast<int>(i);
    const PopulatedScope& scope = scopes[i];
    const std::int64_t live = persisted.Int64(r, 2).value_or(-1);
    if (persisted.Int64(r, 0).value_or(0) != scope.user_pk || !persisted.Bool(r, 1) ||
        live != scope.business_rows || persisted.Int64(r, 3).value_or(-1) != live) {
      return Error(AdoptionError("partial_sync_state", scope.user_id, "", scope.business_rows, live,
                                 "scope does not contain the complete persisted adoption "
                                 "baseline"));
    }
  }
  summary.scopes = static_cast<std::int64_t>(scopes.size());
  return summary;
}

}  // namespace oversync
