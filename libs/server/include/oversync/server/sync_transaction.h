// File: oversync/server/sync_transaction.h
//
// Server-originated writes (server.md §3.6-§3.7): the application runs its own SQL on the
// runtime's transaction through a SyncTransaction, and everything it does to registered tables
// is captured as exactly one bundle that clients receive by pull, watch and snapshot.
#ifndef OVERSYNC_SERVER_SYNC_TRANSACTION_H_
#define OVERSYNC_SERVER_SYNC_TRANSACTION_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oversync/common/status.h"

namespace oversync {

// The rows a statement returned, copied out of the driver (text format, like psql shows them).
// A value type: cheap to move, safe to keep after the transaction ended.
class SqlRows {
 public:
  SqlRows() = default;
  SqlRows(std::vector<std::string> column_names, std::vector<std::optional<std::string>> cells,
          std::int64_t affected_rows)
      : names_(std::move(column_names)), cells_(std::move(cells)), affected_(affected_rows) {}

  int rows() const noexcept {
    return names_.empty() ? 0 : static_cast<int>(cells_.size() / names_.size());
  }
  int columns() const noexcept { return static_cast<int>(names_.size()); }
  // Rows inserted/updated/deleted by an INSERT/UPDATE/DELETE (0 for other statements).
  std::int64_t affected_rows() const noexcept { return affected_; }
  // The accessors REQUIRE 0 <= row < rows() and 0 <= column < columns().
  const std::string& column_name(int column) const {
    return names_[static_cast<std::size_t>(column)];
  }
  bool IsNull(int row, int column) const { return !Cell(row, column).has_value(); }
  // "" for NULL.
  std::string_view Text(int row, int column) const {
    const auto& cell = Cell(row, column);
    return cell ? std::string_view(*cell) : std::string_view();
  }

 private:
  const std::optional<std::string>& Cell(int row, int column) const {
    return cells_[static_cast<std::size_t>(row) * names_.size() + static_cast<std::size_t>(column)];
  }
  std::vector<std::string> names_;
  std::vector<std::optional<std::string>> cells_;  // row-major
  std::int64_t affected_ = 0;
};

// The runtime's open transaction, handed to a server-write callback. Valid only during the
// callback, on the callback's thread. The transaction carries the bundle context, so writes to
// registered tables are captured (and must stay in the context's scope: the owner guard refuses
// other scopes). Rows inserted into registered tables get `_sync_scope_id` filled in when it is
// omitted.
class SyncTransaction {
 public:
  virtual ~SyncTransaction() = default;

  // Runs one SQL statement with text parameters ($1..$n; nullopt = NULL).
  // Errors: kInvalidArgument for transaction control (BEGIN, START, COMMIT, END, ROLLBACK
  // other than ROLLBACK TO SAVEPOINT, ABORT, PREPARE TRANSACTION, ...: the runtime owns the
  // transaction) and for several statements in one string; kDatabase with the server's message
  // and SQLSTATE for SQL errors (the transaction is then aborted: return the error from the
  // callback); kUnavailable when the connection was lost.
  virtual Result<SqlRows> Exec(std::string_view sql,
                               const std::vector<std::optional<std::string>>& params = {}) = 0;
};

// The callback of a server write: its error (any non-OK Status) rolls everything back and is
// returned to the caller verbatim. It runs exactly once (never retried).
using SyncWriteFn = std::function<Status(SyncTransaction& tx)>;

// A bundle committed by a server write.
struct CommittedBundle {
  std::int64_t bundle_seq = 0;
  std::string source_id;
  std::int64_t source_bundle_id = 0;
  std::int64_t row_count = 0;
  std::string bundle_hash;  // lowercase hex SHA-256 (protocol.md §2.7)
};

// The exact source tuple of a WithinSyncBundle call.
struct BundleSource {
  std::string source_id;
  std::int64_t source_bundle_id = 0;
};

// Result of ExecWrite.
struct ScopeWriteResult {
  // The scope was UNINITIALIZED and this write initialized it (devices attaching later get
  // `remote_authoritative`).
  bool auto_initialized = false;
  CommittedBundle bundle;
};

}  // namespace oversync

#endif  // OVERSYNC_SERVER_SYNC_TRANSACTION_H_
