// The FK dependency order of the registered tables (server.md §2.2 rule 4): registered
// child -> parent edges plus ServiceConfig::dependency_overrides, strongly connected components
// (FK cycles) grouped, parents before children. As in go-oversync it is computed and logged at
// Bootstrap but drives nothing: push commits apply rows in upload order with deferred FKs.
#ifndef OVERSYNC_SERVER_SRC_TABLE_ORDER_H_
#define OVERSYNC_SERVER_SRC_TABLE_ORDER_H_

#include <map>
#include <set>
#include <string>
#include <vector>

namespace oversync {

// child "schema.table" -> its registered parents (self-edges already dropped).
using TableDependencies = std::map<std::string, std::set<std::string>>;

// Merges `overrides` into `dependencies`: names are trimmed and lower-cased ("public." is
// prepended when there is no schema); entries naming unregistered tables and self-edges are
// ignored (go-oversync's applyDependencyOverrides).
void MergeDependencyOverrides(TableDependencies& dependencies, const std::set<std::string>& tables,
                              const std::map<std::string, std::vector<std::string>>& overrides);

// Components in dependency order: every component comes after the components it depends on;
// among ready components the one with the smallest member name comes first; members of a
// component (tables in one FK cycle) are sorted. Deterministic for equal inputs.
std::vector<std::vector<std::string>> OrderTables(const std::set<std::string>& tables,
                                                  const TableDependencies& dependencies);

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SRC_TABLE_ORDER_H_
