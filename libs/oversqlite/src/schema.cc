// File: libs/oversqlite/src/schema.cc
//
// Table validation at construction (client.md §1.1, §3.5, §7.2): normalized table names, exactly
// one TEXT or UUID-BLOB key column declared PRIMARY KEY, FK closure over the managed set, no
// composite FKs, and the parents-first table order used by freeze and apply.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "client_impl.h"
#include "oversync/common/strings.h"

namespace oversync::oversqlite {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
  return std::string(s.substr(b, e - b));
}

Status ConfigError(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

// client.md §1.1: SyncKeyColumns wins; entries trimmed, blanks dropped, case-insensitive
// duplicates dropped; exactly one column.
Result<std::string> NormalizedKeyColumn(const SyncTable& table, std::string_view name) {
  std::vector<std::string> columns;
  if (!table.sync_key_columns.empty()) {
    std::set<std::string> seen;
    for (const std::string& raw : table.sync_key_columns) {
      std::string col = Trim(raw);
      if (col.empty()) continue;
      if (seen.insert(Lower(col)).second) columns.push_back(std::move(col));
    }
    if (columns.empty()) {
      return Error(ConfigError(fmt::format(
          "sync table {} must declare at least one non-empty sync key column", name)));
    }
  } else {
    std::string col = Trim(table.sync_key_column_name);
    if (col.empty()) {
      return Error(ConfigError(fmt::format(
          "sync table {} must declare SyncKeyColumnName or SyncKeyColumns explicitly", name)));
    }
    columns.push_back(std::move(col));
  }
  if (columns.size() != 1) {
    return Error(ConfigError(
        fmt::format("sync table {} must declare exactly one sync key column", name)));
  }
  return columns.front();
}

}  // namespace

namespace internal {
const ColumnInfo* TableInfo::FindColumn(std::string_view lower_name) const {
  for (const ColumnInfo& column : columns) {
    if (column.lower == lower_name) return &column;
  }
  return nullptr;
}
}  // namespace internal

const internal::TableInfo* Client::Impl::FindTable(std::string_view lower_name) const {
  auto it = table_index_.find(lower_name);
  return it == table_index_.end() ? nullptr : &tables_[it->second];
}

Status Client::Impl::LoadTables() {
  tables_.clear();
  table_index_.clear();
  std::vector<std::string> key_columns;
  for (const SyncTable& configured : config_.tables) {
    std::string name = Lower(Trim(configured.table_name));
    if (name.empty()) return ConfigError("sync table name must be provided");
    if (name.find('.') != std::string::npos) {
      return ConfigError(fmt::format(
          "sync table {} must not include a schema qualifier; use config.Schema", name));
    }
    if (table_index_.count(name) > 0) {
      return ConfigError(fmt::format("duplicate sync table registration: {}", name));
    }
    OVERSYNC_ASSIGN_OR_RETURN(std::string key, NormalizedKeyColumn(configured, name));
    TableInfo info;
    info.name = name;
    info.config_index = static_cast<int>(tables_.size());
    table_index_.emplace(name, tables_.size());
    tables_.push_back(std::move(info));
    key_columns.push_back(std::move(key));
  }

  // Columns and key checks.
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    TableInfo& table = tables_[i];
    OVERSYNC_ASSIGN_OR_RETURN(internal::Stmt info,
                              internal::Prepare(db_, "SELECT name, type, pk, \"notnull\" FROM "
                                                     "pragma_table_info(?)"));
    info.Bind(1, table.name);
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool row, info.Step());
      if (!row) break;
      ColumnInfo column;
      column.name = info.Text(0);
      column.lower = Lower(column.name);
      column.decl_type = info.Text(1);
      column.is_blob = Lower(column.decl_type).find("blob") != std::string::npos;
      column.pk = static_cast<int>(info.Int(2));
      column.not_null = info.Int(3) != 0;
      if (column.lower == "_sync_scope_id") {
        // The server's hidden scope column: a local column of that name would be uploaded as
        // payload and every push refused (KMP fixture reserved-scope-column-rejected; Go
        // 1f1118f accepts it and the outbox then never drains, docs/compatibility.md 84).
        return Status(ErrorCode::kUnsupportedSchema,
                      fmt::format("sync table {} declares the reserved server column _sync_scope_id",
                                  table.name));
      }
      table.columns.push_back(std::move(column));
    }
    if (table.columns.empty()) {
      return Status(ErrorCode::kUnsupportedSchema,
                    fmt::format("sync table {} does not exist in the local database", table.name));
    }
    const std::string key_lower = Lower(key_columns[i]);
    const ColumnInfo* key = table.FindColumn(key_lower);
    if (key == nullptr) {
      return Status(ErrorCode::kUnsupportedSchema,
                    fmt::format("sync key column {} not found in table {}", key_columns[i], table.name));
    }
    if (key->pk != 1) {
      return Status(ErrorCode::kUnsupportedSchema,
                    fmt::format("sync key column {}.{} must be declared PRIMARY KEY", table.name, key->name));
    }
    const std::string type = Lower(key->decl_type);
    if (type.find("blob") != std::string::npos) {
      table.key_is_blob = true;
    } else if (type.find("text") == std::string::npos) {
      return Status(ErrorCode::kUnsupportedSchema,
                    fmt::format("sync key column {}.{} has type {:?}: oversqlite supports only TEXT keys and "
                                "UUID-backed BLOB keys",
                                table.name, key->name, key->decl_type));
    }
    if (ProfileB() && !key->not_null) {
      // SQLite lets a PRIMARY KEY that is not an INTEGER PRIMARY KEY hold NULL (a legacy quirk);
      // a NULL key cannot be synced, so profile B requires the NOT NULL declaration like KMP
      // (fixture nullable-text-primary-key-rejected; docs/compatibility.md 84).
      return Status(ErrorCode::kUnsupportedSchema,
                    fmt::format("sync key column {}.{} must be declared NOT NULL (SQLite lets a "
                                "non-INTEGER PRIMARY KEY hold NULL); repair or recreate the local "
                                "application database before sync initialization",
                                table.name, key->name));
    }
    table.key_column = key->name;
    table.key_lower = key->lower;
  }

  // Foreign keys: closure, composites, BLOB reference columns, and the order edges.
  std::vector<std::string> not_closed;
  std::vector<std::string> composite;
  std::vector<std::set<std::size_t>> parents(tables_.size());
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    TableInfo& table = tables_[i];
    OVERSYNC_ASSIGN_OR_RETURN(
        internal::Stmt fks,
        internal::Prepare(db_, "SELECT seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)"));
    fks.Bind(1, table.name);
    while (true) {
      OVERSYNC_ASSIGN_OR_RETURN(bool row, fks.Step());
      if (!row) break;
      const std::string ref = Lower(fks.Text(1));
      const std::string from = fks.Text(2);
      const std::string to = fks.OptText(3).value_or("");
      if (fks.Int(0) > 0) {
        composite.push_back(fmt::format("{}.{} -> {}", table.name, from, ref));
        continue;
      }
      auto it = table_index_.find(ref);
      if (it == table_index_.end()) {
        not_closed.push_back(fmt::format("{}.{} -> {}.{}", table.name, from, ref, to));
        continue;
      }
      if (const ColumnInfo* column = table.FindColumn(Lower(from)); column != nullptr && column->is_blob) {
        table.blob_reference_columns.insert(column->lower);
      }
      if (it->second != i) parents[i].insert(it->second);  // self-references ignored for order
    }
  }
  if (!composite.empty()) {
    std::sort(composite.begin(), composite.end());
    return Status(ErrorCode::kUnsupportedSchema,
                  fmt::format("managed tables contain unsupported composite foreign keys: {}",
                              fmt::join(composite, ", ")));
  }
  if (!not_closed.empty()) {
    std::sort(not_closed.begin(), not_closed.end());
    return Status(ErrorCode::kUnsupportedSchema,
                  fmt::format("managed tables are not FK-closed: {}", fmt::join(not_closed, ", ")));
  }

  // Kahn's order; ties and cycle remainders by config order.
  fk_order_.clear();
  std::vector<bool> placed(tables_.size(), false);
  while (fk_order_.size() < tables_.size()) {
    bool progressed = false;
    for (std::size_t i = 0; i < tables_.size(); ++i) {
      if (placed[i]) continue;
      const bool ready = std::all_of(parents[i].begin(), parents[i].end(),
                                     [&](std::size_t p) { return placed[p]; });
      if (!ready) continue;
      placed[i] = true;
      fk_order_.push_back(i);
      progressed = true;
      break;  // restart so ties always go to the earliest configured table
    }
    if (!progressed) {
      for (std::size_t i = 0; i < tables_.size(); ++i) {
        if (!placed[i]) {
          placed[i] = true;
          fk_order_.push_back(i);
          break;
        }
      }
    }
  }
  for (std::size_t pos = 0; pos < fk_order_.size(); ++pos) {
    tables_[fk_order_[pos]].fk_order = static_cast<int>(pos);
  }
  return Status::Ok();
}

}  // namespace oversync::oversqlite
