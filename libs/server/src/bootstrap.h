// Bootstrap of the server runtime (server.md §1.14, §2): registered-table validation, FK
// validation, creation or validation of the `sync` layout, capture-trigger installation.
#ifndef OVERSYNC_SERVER_SRC_BOOTSTRAP_H_
#define OVERSYNC_SERVER_SRC_BOOTSTRAP_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "oversync/common/logger.h"
#include "oversync/common/status.h"
#include "oversync/protocol/push_validation.h"
#include "oversync/server/config.h"
#include "pg.h"
#include "table_order.h"

namespace oversync::bootstrap {

// A registered table after database validation.
struct TableInfo {
  NormalizedTable table;
  protocol::SyncKeyKind key_kind = protocol::SyncKeyKind::kUuid;
  std::map<std::string, std::string> column_types;  // lowercase column -> lowercase type name
};

// server.md §2.1, in configuration order, first failure wins. Errors: kUnsupportedSchema with
// go-oversync's messages; kFailedPrecondition "could not load column metadata" (rule 3, a plain
// error in Go too); kDatabase/kUnavailable for query failures.
Result<std::vector<TableInfo>> ValidateRegisteredTables(pg::PgConnection& conn,
                                                        const std::vector<NormalizedTable>& tables);

// Wire profile B (protocol-b.md §2.1): registered columns may use only the six built-in numeric
// types among numerics; money, other numeric-category types, domains over numeric types, arrays,
// ranges, multiranges and composites are refused. Errors: kUnsupportedSchema naming the first
// offending column; kDatabase/kUnavailable.
Status ValidateProfileBColumnTypes(pg::PgConnection& conn,
                                   const std::vector<NormalizedTable>& tables);

// server.md §2.2 rules 1-3 and 5, read from pg_catalog (not information_schema: visibility does
// not depend on table ownership and constraints never cross-match by name, §10.1 item 5).
// Returns the registered child -> parent dependencies (rule 4's graph, self-edges dropped).
Result<TableDependencies> ValidateForeignKeys(pg::PgConnection& conn,
                                              const std::vector<TableInfo>& tables);

// Work that must commit atomically with a newly created layout (protocol-b.md §8.2: triggers
// and the adoption of populated tables), run in the creating transaction after the DDL and the
// catalog rows. Its error rolls the whole creation back.
using FreshLayoutFn = std::function<Status(pg::PgConnection& tx)>;

// Creates the layout when no `sync` objects exist, otherwise validates the markers and the exact
// catalog and runs no DDL. Serialized across processes by the bootstrap advisory lock; retried on
// serialization failures like go-oversync (3 attempts, 50 ms x attempt; `on_fresh_layout` runs
// again in each attempt). Returns true when the layout was created by this call.
Result<bool> EnsureSyncLayout(pg::PgConnection& conn, const std::vector<TableInfo>& tables,
                              const FreshLayoutFn& on_fresh_layout = nullptr);

// Installs the owner-guard and capture triggers on every registered table, skipping tables whose
// triggers already match exactly (no AccessExclusive lock when nothing changed, §10.1 item 4),
// and the TRUNCATE guards (§8.3). Returns the number of tables whose triggers were (re)created.
Result<int> InstallCaptureTriggers(pg::PgConnection& conn, const std::vector<TableInfo>& tables);
// The same inside the caller's transaction, which must hold the bootstrap advisory lock.
Result<int> InstallCaptureTriggersInTx(pg::PgConnection& tx, const std::vector<TableInfo>& tables);

}  // namespace oversync::bootstrap

#endif  // OVERSYNC_SERVER_SRC_BOOTSTRAP_H_
