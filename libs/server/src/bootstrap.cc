#include "bootstrap.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "schema_layout.h"

namespace oversync::bootstrap {
namespace {

using layout::kScopeColumn;
using pg::TextArray;

Status Unsupported(std::string message) {
  return {ErrorCode::kUnsupportedSchema, std::move(message)};
}

struct UniqueIndex {
  std::string name;
  bool partial = false;
  bool expression = false;
  std::vector<std::string> columns;
};

std::pair<std::string, std::string> SchemaTableArrays(const std::vector<NormalizedTable>& tables) {
  std::vector<std::string> schemas;
  std::vector<std::string> names;
  for (const NormalizedTable& t : tables) {
    schemas.push_back(t.schema);
    names.push_back(t.table);
  }
  return {TextArray(schemas), TextArray(names)};
}

}  // namespace

Status ValidateProfileBColumnTypes(pg::PgConnection& conn,
                                   const std::vector<NormalizedTable>& tables) {
  if (tables.empty()) return {};
  const auto [schemas, names] = SchemaTableArrays(tables);
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult bad, conn.Exec(R"sql(
SELECT n.nspname || '.' || c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = x.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.table_name
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE (t.typtype = 'd' AND bt.typcategory = 'N')
   OR (t.typtype <> 'd' AND t.typcategory = 'N'
       AND t.typname NOT IN ('int2', 'int4', 'int8', 'numeric', 'float4', 'float8'))
   OR t.typcategory = 'A' OR t.typtype IN ('c', 'r', 'm')
ORDER BY 1 LIMIT 1)sql",
                                                        {schemas, names}));
  if (bad.rows() == 0) return {};
  return Unsupported(fmt::format(
      "registered column {} has type {}, which wire profile jcs_uniform_numeric_strings_v1 "
      "cannot carry (numbers must be int2, int4, int8, numeric, float4 or float8; no domains "
      "over them, arrays, ranges or composite types)",
      bad.Text(0, 0), bad.Text(0, 1)));
}

Result<std::vector<TableInfo>> ValidateRegisteredTables(
    pg::PgConnection& conn, const std::vector<NormalizedTable>& tables) {
  if (tables.empty()) return std::vector<TableInfo>();
  const auto [schemas, names] = SchemaTableArrays(tables);

  // Column types from pg_catalog; domains resolve to their base type like information_schema's
  // udt_name. Only ordinary and partitioned tables qualify.
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult columns, conn.Exec(R"sql(
SELECT n.nspname, c.relname, lower(a.attname),
       lower(CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END)
FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = x.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.table_name AND c.relkind IN ('r', 'p')
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype)sql",
                                                            {schemas, names}));
  std::map<std::string, std::map<std::string, std::string>> types_by_table;
  for (int r = 0; r < columns.rows(); ++r) {
    types_by_table[fmt::format("{}.{}", columns.Text(r, 0), columns.Text(r, 1))]
                  [std::string(columns.Text(r, 2))] = std::string(columns.Text(r, 3));
  }

  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult indexes, conn.Exec(R"sql(
SELECT n.nspname, c.relname, i.relname, idx.indpred IS NOT NULL, idx.indexprs IS NOT NULL,
       ord.ordinality, lower(COALESCE(a.attname, ''))
FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = x.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.table_name
JOIN pg_index idx ON idx.indrelid = c.oid AND idx.indisunique
JOIN pg_class i ON i.oid = idx.indexrelid
LEFT JOIN LATERAL unnest(idx.indkey) WITH ORDINALITY AS ord(attnum, ordinality) ON TRUE
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ord.attnum
ORDER BY n.nspname, c.relname, i.relname, ord.ordinality)sql",
                                                            {schemas, names}));
  std::map<std::string, std::vector<UniqueIndex>> indexes_by_table;
  for (int r = 0; r < indexes.rows(); ++r) {
    auto& list = indexes_by_table[fmt::format("{}.{}", indexes.Text(r, 0), indexes.Text(r, 1))];
    const std::string_view index_name = indexes.Text(r, 2);
    if (list.empty() || list.back().name != index_name) {
      list.push_back(UniqueIndex{std::string(index_name), indexes.Bool(r, 3), indexes.Bool(r, 4),
                                 {}});
    }
    if (!indexes.IsNull(r, 5)) list.back().columns.emplace_back(indexes.Text(r, 6));
  }

  std::vector<TableInfo> out;
  for (const NormalizedTable& t : tables) {
    const std::string key = t.qualified();
    const auto types = types_by_table.find(key);
    if (types == types_by_table.end()) {
      return Error(ErrorCode::kFailedPrecondition,
                   fmt::format("registered table {} could not load column metadata for sync key "
                               "validation",
                               key));
    }
    const auto scope_type = types->second.find(std::string(kScopeColumn));
    if (scope_type == types->second.end() || scope_type->second != "text") {
      return Error(Unsupported(fmt::format("registered table {} must define {} TEXT", key,
                                           kScopeColumn)));
    }
    const auto key_type_it = types->second.find(t.sync_key_column);
    const std::string key_type = key_type_it == types->second.end() ? "" : key_type_it->second;
    if (key_type != "uuid" && key_type != "text") {
      return Error(Unsupported(fmt::format(
          "registered table {} uses unsupported sync key column type {} for {}; the current server "
          "runtime allows only uuid and text",
          key, key_type, t.sync_key_column)));
    }
    const auto index_list = indexes_by_table.find(key);
    if (index_list == indexes_by_table.end() || index_list->second.empty()) {
      return Error(Unsupported(fmt::format(
          "registered table {} must provide unique indexes or constraints for scope-aware identity",
          key)));
    }
    bool has_identity = false;
    for (const UniqueIndex& idx : index_list->second) {
      if (idx.partial || idx.expression) {
        return Error(Unsupported(fmt::format(
            "registered table {} uses unsupported partial or expression unique index {}", key,
            idx.name)));
      }
      if (idx.columns.empty()) {
        return Error(Unsupported(fmt::format(
            "registered table {} uses unsupported unique index {} without column entries", key,
            idx.name)));
      }
      if (idx.columns.front() != kScopeColumn) {
        return Error(Unsupported(fmt::format(
            "registered table {} has unique index {} that does not begin with {}", key, idx.name,
            kScopeColumn)));
      }
      if (idx.columns.size() == 2 && idx.columns[1] == t.sync_key_column) has_identity = true;
    }
    if (!has_identity) {
      return Error(Unsupported(fmt::format("registered table {} must provide unique identity ({}, {})",
                                           key, kScopeColumn, t.sync_key_column)));
    }
    TableInfo info;
    info.table = t;
    info.key_kind = key_type == "uuid" ? protocol::SyncKeyKind::kUuid : protocol::SyncKeyKind::kText;
    info.column_types = types->second;
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

struct FkColumn {
  std::string constraint;
  std::string child;   // schema.table
  std::string parent;  // schema.table
  char match_type = 's';
  char delete_action = 'a';
  char update_action = 'a';
  bool deferrable = false;
  std::string constraint_schema;
  std::int64_t ordinal = 0;
  std::string child_column;
  std::string parent_column;
};

std::string_view ActionName(char action) {
  switch (action) {
    case 'a':
      return "NO ACTION";
    case 'r':
      return "RESTRICT";
    case 'c':
      return "CASCADE";
    case 'n':
      return "SET NULL";
    case 'd':
      return "SET DEFAULT";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

Result<TableDependencies> ValidateForeignKeys(pg::PgConnection& conn,
                                              const std::vector<TableInfo>& tables) {
  if (tables.empty()) return TableDependencies{};
  std::vector<NormalizedTable> normalized;
  std::map<std::string, const TableInfo*> registered;
  for (const TableInfo& t : tables) {
    normalized.push_back(t.table);
    registered[t.table.qualified()] = &t;
  }
  const auto [schemas, names] = SchemaTableArrays(normalized);
  // One row per FK column pair, matched by position in conkey/confkey (never by name).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult rows, conn.Exec(R"sql(
SELECT con.conname, cn.nspname || '.' || cc.relname, pn.nspname || '.' || pc.relname,
       con.confmatchtype, con.confdeltype, con.confupdtype, con.condeferrable,
       ns.nspname, k.ord, lower(ca.attname), lower(pa.attname)
FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name)
JOIN pg_namespace cn ON cn.nspname = x.schema_name
JOIN pg_class cc ON cc.relnamespace = cn.oid AND cc.relname = x.table_name
JOIN pg_constraint con ON con.conrelid = cc.oid AND con.contype = 'f'
JOIN pg_namespace ns ON ns.oid = con.connamespace
JOIN pg_class pc ON pc.oid = con.confrelid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(child_att, parent_att, ord)
JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
ORDER BY 2, 1, k.ord)sql",
                                                         {schemas, names}));
  std::vector<FkColumn> fks;
  for (int r = 0; r < rows.rows(); ++r) {
    FkColumn fk;
    fk.constraint = rows.Text(r, 0);
    fk.child = rows.Text(r, 1);
    fk.parent = rows.Text(r, 2);
    fk.match_type = rows.Text(r, 3).empty() ? 's' : rows.Text(r, 3).front();
    fk.delete_action = rows.Text(r, 4).empty() ? 'a' : rows.Text(r, 4).front();
    fk.update_action = rows.Text(r, 5).empty() ? 'a' : rows.Text(r, 5).front();
    fk.deferrable = rows.Bool(r, 6);
    fk.constraint_schema = rows.Text(r, 7);
    fk.ordinal = rows.Int64(r, 8).value_or(0);
    fk.child_column = rows.Text(r, 9);
    fk.parent_column = rows.Text(r, 10);
    fks.push_back(std::move(fk));
  }

  // 1. FK closure: a registered child may only reference registered parents.
  std::set<std::string> missing;  // "child -> parent (constraint)", sorted like Go (child first)
  for (const FkColumn& fk : fks) {
    if (!registered.contains(fk.parent)) {
      missing.insert(fmt::format("{} -> {} ({})", fk.child, fk.parent, fk.constraint));
    }
  }
  if (!missing.empty()) {
    std::string details;
    for (const std::string& m : missing) details += (details.empty() ? "" : "; ") + m;
    return Error(Unsupported(fmt::format("registered tables are not FK-closed: {}", details)));
  }

  // 2. Referential actions and MATCH option.
  for (const FkColumn& fk : fks) {
    if (ActionName(fk.delete_action) == "UNKNOWN") {
      return Error(Unsupported(fmt::format(
          "registered schema contains unsupported FK ON DELETE action \"{}\" on {} ({})",
          fk.delete_action, fk.child, fk.constraint)));
    }
    if (ActionName(fk.update_action) == "UNKNOWN") {
      return Error(Unsupported(fmt::format(
          "registered schema contains unsupported FK ON UPDATE action \"{}\" on {} ({})",
          fk.update_action, fk.child, fk.constraint)));
    }
    if (fk.match_type != 's') {
      return Error(Unsupported(fmt::format(
          "registered schema contains unsupported FK MATCH option \"{}\" on {} ({})",
          fk.match_type == 'f' ? "FULL" : "PARTIAL", fk.child, fk.constraint)));
    }
  }

  // 3. Scope-inclusive shape: (_sync_scope_id, key) -> (_sync_scope_id, parent sync key).
  std::map<std::pair<std::string, std::string>, std::vector<const FkColumn*>> groups;
  for (const FkColumn& fk : fks) groups[{fk.child, fk.constraint}].push_back(&fk);
  std::set<std::string> invalid;
  for (const auto& [group_key, columns] : groups) {
    const FkColumn& first = *columns.front();
    const TableInfo& parent = *registered.at(first.parent);
    const bool ok = columns.size() == 2 && columns[0]->child_column == kScopeColumn &&
                    columns[0]->parent_column == kScopeColumn &&
                    columns[1]->parent_column == parent.table.sync_key_column;
    if (!ok) {
      invalid.insert(fmt::format("{} -> {} ({})", first.child, first.parent, first.constraint));
    }
  }
  if (!invalid.empty()) {
    std::string details;
    for (const std::string& m : invalid) details += (details.empty() ? "" : "; ") + m;
    return Error(Unsupported(fmt::format(
        "registered schema contains unsupported registered FK constraints; registered child FKs "
        "must be scope-inclusive and reference (_sync_scope_id, parent_sync_key): {}",
        details)));
  }

  // 5. Deferrability: every bundle transaction runs SET CONSTRAINTS ALL DEFERRED.
  std::set<std::string> non_deferrable;
  for (const FkColumn& fk : fks) {
    if (!fk.deferrable) non_deferrable.insert(fk.constraint_schema + "." + fk.constraint);
  }
  if (!non_deferrable.empty()) {
    std::string list;
    for (const std::string& m : non_deferrable) list += (list.empty() ? "" : ", ") + m;
    return Error(Unsupported(fmt::format(
        "registered schema contains non-deferrable FK constraints: {}; make these constraints "
        "DEFERRABLE before bootstrap (INITIALLY DEFERRED recommended)",
        list)));
  }
  TableDependencies dependencies;
  for (const FkColumn& fk : fks) {
    if (fk.child != fk.parent) dependencies[fk.child].insert(fk.parent);
  }
  return dependencies;
}

namespace {

// Validates sync.meta and sync.table_catalog against the expected catalog (server.md §1.14).
Status ValidateExistingLayout(pg::PgConnection& conn, const std::vector<TableInfo>& tables) {
  auto meta = conn.Exec(
      "SELECT singleton_key, protocol_label, layout_name FROM sync.meta "
      "ORDER BY singleton_key DESC");
  if (!meta) {
    return Unsupported(
        fmt::format("existing sync.meta layout is unsupported: {}", meta.error().message()));
  }
  for (int r = 0; r < meta->rows(); ++r) {
    if (!meta->Bool(r, 0)) return Unsupported("sync.meta must contain singleton_key = true");
    if (meta->Text(r, 1) != layout::kProtocolLabel) {
      return Unsupported(fmt::format("sync.meta protocol_label = \"{}\", expected \"{}\"",
                                     meta->Text(r, 1), layout::kProtocolLabel));
    }
    if (meta->Text(r, 2) != layout::kLayoutName) {
      return Unsupported(fmt::format("sync.meta layout_name = \"{}\", expected \"{}\"",
                                     meta->Text(r, 2), layout::kLayoutName));
    }
  }
  if (meta->rows() != 1) {
    return Unsupported(
        fmt::format("sync.meta must contain exactly one row, found {}", meta->rows()));
  }
  // go-oversync 95bbd38+ (its jcs_uniform_numeric_strings_v1 servers) writes the same marker
  // over a different physical layout (protocol-b.md §9): sharing it would fail at run time
  // (NOT NULL columns we do not fill) or corrupt its receipts. Refuse it by its distinctive
  // objects, whichever profile this service speaks (docs/wire-profiles.md, mixed deployments).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult upstream_b, conn.Exec(R"sql(
    SELECT concat_ws(', ',
      CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                        JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'sync' AND c.relname = 'bundle_log'
                          AND a.attname = 'canonical_request_hash' AND NOT a.attisdropped)
           THEN 'sync.bundle_log.canonical_request_hash' END,
      CASE WHEN to_regclass('sync.scope_write_receipts') IS NOT NULL
           THEN 'sync.scope_write_receipts' END,
      CASE WHEN to_regclass('sync.server_source_reservations') IS NOT NULL
           THEN 'sync.server_source_reservations' END))sql"));
  if (const std::string found(upstream_b.Text(0, 0)); !found.empty()) {
    return Unsupported(fmt::format(
        "this database has the sync layout of go-oversync's jcs_uniform_numeric_strings_v1 "
        "servers (95bbd38 and later: {}), which differs from layout \"{}\" behind the same "
        "marker; this server cannot share it: use a separate database",
        found, layout::kLayoutName));
  }
  auto catalog = conn.Exec(
      "SELECT table_id, schema_name, table_name, sync_key_column, sync_key_kind "
      "FROM sync.table_catalog ORDER BY table_id");
  if (!catalog) {
    return Unsupported(fmt::format("existing sync.table_catalog layout is unsupported: {}",
                                   catalog.error().message()));
  }
  std::vector<const TableInfo*> expected;
  for (const TableInfo& t : tables) expected.push_back(&t);
  std::sort(expected.begin(), expected.end(), [](const TableInfo* a, const TableInfo* b) {
    return a->table.table_id < b->table.table_id;
  });
  if (static_cast<std::size_t>(catalog->rows()) != expected.size()) {
    return Unsupported(fmt::format("sync.table_catalog row count = {}, expected {}",
                                   catalog->rows(), expected.size()));
  }
  for (int r = 0; r < catalog->rows(); ++r) {
    const TableInfo& e = *expected[static_cast<std::size_t>(r)];
    const std::string actual_row =
        fmt::format("({},{},{},{},{})", catalog->Text(r, 0), catalog->Text(r, 1),
                    catalog->Text(r, 2), catalog->Text(r, 3), catalog->Text(r, 4));
    const std::string expected_row =
        fmt::format("({},{},{},{},{})", e.table.table_id, e.table.schema, e.table.table,
                    e.table.sync_key_column, static_cast<int>(e.key_kind));
    if (actual_row != expected_row) {
      return Unsupported(fmt::format("sync.table_catalog row {} = {}, expected {}", r, actual_row,
                                     expected_row));
    }
  }
  return {};
}

}  // namespace

Result<bool> EnsureSyncLayout(pg::PgConnection& conn, const std::vector<TableInfo>& tables,
                              const FreshLayoutFn& on_fresh_layout) {
  bool created = false;
  Status status = pg::WithRetry(3, std::chrono::milliseconds(50), [&]() -> Status {
    created = false;
    return pg::InTransaction(conn, pg::Isolation::kReadCommitted, [&](pg::PgConnection& tx) -> Status {
      OVERSYNC_RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock($1)",
                                       {std::to_string(layout::kBootstrapLockKey)}));
      OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult markers, tx.Exec(
          "SELECT to_regclass('sync.meta') IS NOT NULL, to_regclass('sync.table_catalog') IS NOT "
          "NULL, EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = 'sync' UNION ALL SELECT 1 FROM pg_proc p JOIN pg_namespace n ON "
          "n.oid = p.pronamespace WHERE n.nspname = 'sync')"));
      const bool has_meta = markers.Bool(0, 0);
      const bool has_catalog = markers.Bool(0, 1);
      const bool any_sync_object = markers.Bool(0, 2);
      if (has_meta && has_catalog) return ValidateExistingLayout(tx, tables);
      if (has_meta || has_catalog) {
        return Unsupported(fmt::format(
            "existing sync schema is missing required marker tables sync.meta and "
            "sync.table_catalog for layout \"{}\"",
            layout::kLayoutName));
      }
      if (any_sync_object) {
        return Unsupported(fmt::format(
            "existing sync schema uses unsupported layout; drop and recreate the sync schema for "
            "layout \"{}\"",
            layout::kLayoutName));
      }
      for (const std::string_view statement : layout::CreationStatements()) {
        OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(statement));
      }
      OVERSYNC_RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO sync.meta (singleton_key, protocol_label, layout_name) VALUES (TRUE, $1, $2)",
          {layout::kProtocolLabel, layout::kLayoutName}));
      for (const TableInfo& t : tables) {
        OVERSYNC_RETURN_IF_ERROR(tx.Exec(
            "INSERT INTO sync.table_catalog (table_id, schema_name, table_name, sync_key_column, "
            "sync_key_kind) VALUES ($1, $2, $3, $4, $5)",
            {std::to_string(t.table.table_id), t.table.schema, t.table.table,
             t.table.sync_key_column, std::to_string(static_cast<int>(t.key_kind))}));
      }
      for (const std::string_view statement : layout::IndexStatements()) {
        OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(statement));
      }
      if (on_fresh_layout) OVERSYNC_RETURN_IF_ERROR(on_fresh_layout(tx));
      created = true;
      return {};
    });
  });
  if (!status.ok()) return Error(std::move(status));
  return created;
}

namespace {

// Every registered table and each of its existing partitions / inheritance children gets a
// statement-level BEFORE TRUNCATE trigger raising SQLSTATE 55000 (layout::kTruncateGuardFunctionSql),
// even in a bundle context and under CASCADE. Missing or altered guards are (re)installed. One
// query finds them for all tables. Runs in the bootstrap transaction under its lock.
Status InstallTruncateGuards(pg::PgConnection& tx, const std::vector<TableInfo>& tables) {
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult function, tx.Exec(
      "SELECT to_regprocedure('sync.reject_registered_table_truncate()') IS NOT NULL"));
  if (!function.Bool(0, 0)) OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(layout::kTruncateGuardFunctionSql));
  std::vector<std::string> schemas;
  std::vector<std::string> names;
  for (const TableInfo& t : tables) {
    schemas.push_back(t.table.schema);
    names.push_back(t.table.table);
  }
  // Each registered table and its descendants that lack exactly the expected guard
  // (tgtype 34 = BEFORE | TRUNCATE, statement level; arguments: the registered schema, table).
  OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult missing, tx.Exec(R"sql(
WITH RECURSIVE family(oid, schema_name, table_name) AS (
  SELECT c.oid, x.schema_name, x.table_name
  FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name)
  JOIN pg_namespace n ON n.nspname = x.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.table_name
  UNION SELECT i.inhrelid, f.schema_name, f.table_name
  FROM pg_inherits i JOIN family f ON i.inhparent = f.oid)
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), f.schema_name, f.table_name
FROM family f JOIN pg_class c ON c.oid = f.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (SELECT count(*) FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
       JOIN pg_namespace pn ON pn.oid = p.pronamespace AND pn.nspname = 'sync'
       WHERE tg.tgrelid = c.oid AND tg.tgname = $3 AND p.proname = $4 AND tg.tgtype = 34
         AND tg.tgenabled = 'O' AND tg.tgnargs = 2
         AND tg.tgargs = convert_to(f.schema_name, 'UTF8') || '\x00'::bytea
                         || convert_to(f.table_name, 'UTF8') || '\x00'::bytea) <> 1
ORDER BY 1)sql",
                                                          {TextArray(schemas), TextArray(names),
                                                           layout::kTruncateGuardTrigger,
                                                           layout::kTruncateGuardFunction}));
  for (int r = 0; r < missing.rows(); ++r) {
    OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(fmt::format(
        "DROP TRIGGER IF EXISTS {0} ON {1}; CREATE TRIGGER {0} BEFORE TRUNCATE ON {1} FOR EACH "
        "STATEMENT EXECUTE FUNCTION sync.{2}({3}, {4})",
        layout::kTruncateGuardTrigger, missing.Text(r, 0), layout::kTruncateGuardFunction,
        pg::QuoteLiteral(missing.Text(r, 1)), pg::QuoteLiteral(missing.Text(r, 2)))));
  }
  return {};
}

}  // namespace

Result<int> InstallCaptureTriggers(pg::PgConnection& conn, const std::vector<TableInfo>& tables) {
  if (tables.empty()) return 0;
  int installed = 0;
  Status status = pg::InTransaction(conn, pg::Isolation::kReadCommitted, [&](pg::PgConnection& tx) -> Status {
    OVERSYNC_RETURN_IF_ERROR(tx.Exec("SELECT pg_advisory_xact_lock($1)",
                                     {std::to_string(layout::kBootstrapLockKey)}));
    OVERSYNC_ASSIGN_OR_RETURN(installed, InstallCaptureTriggersInTx(tx, tables));
    return {};
  });
  if (!status.ok()) return Error(std::move(status));
  return installed;
}

Result<int> InstallCaptureTriggersInTx(pg::PgConnection& tx, const std::vector<TableInfo>& tables) {
  int installed = 0;
  if (tables.empty()) return installed;
  OVERSYNC_RETURN_IF_ERROR(InstallTruncateGuards(tx, tables));
  for (const TableInfo& t : tables) {
    const std::string kind = std::to_string(static_cast<int>(t.key_kind));
    const std::string table_id = std::to_string(t.table.table_id);
    // The installed pair matches when both triggers exist exactly once with the expected
    // function, timing/events (tgtype: ROW|BEFORE|INSERT|DELETE|UPDATE = 31, ROW|INSERT|DELETE|
    // UPDATE = 29), enabled, and the capture arguments equal (key, kind, table_id).
    OVERSYNC_ASSIGN_OR_RETURN(pg::PgResult current, tx.Exec(R"sql(
SELECT
count(*) FILTER (WHERE tg.tgname = $3 AND p.proname = $5 AND tg.tgtype = 31
                 AND tg.tgenabled = 'O' AND tg.tgnargs = 0),
count(*) FILTER (WHERE tg.tgname = $4 AND p.proname = $6 AND tg.tgtype = 29
                 AND tg.tgenabled = 'O' AND tg.tgnargs = 3
                 AND tg.tgargs = convert_to($7, 'UTF8') || '\x00'::bytea
                                 || convert_to($8, 'UTF8') || '\x00'::bytea
                                 || convert_to($9, 'UTF8') || '\x00'::bytea),
count(*) FILTER (WHERE tg.tgname IN ($3, $4))
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = tg.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace AND pn.nspname = 'sync'
WHERE n.nspname = $1 AND c.relname = $2 AND NOT tg.tgisinternal)sql",
                                                            {t.table.schema, t.table.table,
                                                             layout::kOwnerGuardTrigger,
                                                             layout::kCaptureTrigger,
                                                             layout::kOwnerGuardFunction,
                                                             layout::kCaptureFunction,
                                                             t.table.sync_key_column, kind,
                                                             table_id}));
    if (current.Int64(0, 0) == 1 && current.Int64(0, 1) == 1 && current.Int64(0, 2) == 2) {
      continue;
    }
    const std::string target = pg::QuoteIdent(t.table.schema) + "." + pg::QuoteIdent(t.table.table);
    OVERSYNC_RETURN_IF_ERROR(tx.ExecScript(fmt::format(
        "DROP TRIGGER IF EXISTS {0} ON {2}; DROP TRIGGER IF EXISTS {1} ON {2}; "
        "CREATE TRIGGER {1} BEFORE INSERT OR UPDATE OR DELETE ON {2} FOR EACH ROW "
        "EXECUTE FUNCTION sync.{3}(); "
        "CREATE TRIGGER {0} AFTER INSERT OR UPDATE OR DELETE ON {2} FOR EACH ROW "
        "EXECUTE FUNCTION sync.{4}({5}, {6}, {7})",
        layout::kCaptureTrigger, layout::kOwnerGuardTrigger, target, layout::kOwnerGuardFunction,
        layout::kCaptureFunction, pg::QuoteLiteral(t.table.sync_key_column),
        pg::QuoteLiteral(kind), pg::QuoteLiteral(table_id))));
    ++installed;
  }
  return installed;
}

}  // namespace oversync::bootstrap
