// File: libs/oversqlite/src/sqlite.h (internal)
//
// Thin RAII over the SQLite C API for the client: Stmt owns a prepared statement, Tx is a
// BEGIN IMMEDIATE ... COMMIT guard that rolls back when not committed. Every failure is a Status
// (kDatabase, with SQLite's message) so callers never see raw result codes.
//
// Thread-compatible: one connection is used by one operation at a time (the client's op lock).
#ifndef OVERSYNC_OVERSQLITE_SRC_SQLITE_H_
#define OVERSYNC_OVERSQLITE_SRC_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "oversync/common/status.h"

namespace oversync::oversqlite::internal {

Status SqliteError(sqlite3* db, int rc, std::string_view what);

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}

  // Bind by 1-based index.
  Stmt& Bind(int index, std::string_view text);
  Stmt& Bind(int index, std::int64_t value);
  Stmt& Bind(int index, int value) { return Bind(index, static_cast<std::int64_t>(value)); }
  Stmt& BindDouble(int index, double value);
  Stmt& BindBlob(int index, std::span<const std::uint8_t> bytes);
  Stmt& BindNull(int index);
  Stmt& BindOptional(int index, const std::optional<std::string>& text) {
    return text ? Bind(index, *text) : BindNull(index);
  }

  // true = a row is available, false = done. Bind errors surface here.
  Result<bool> Step();
  // Runs to completion (for statements without result rows).
  Status Run();
  void Reset() noexcept;

  int ColumnType(int col) const noexcept { return sqlite3_column_type(stmt_.get(), col); }
  bool IsNull(int col) const noexcept { return ColumnType(col) == SQLITE_NULL; }
  std::int64_t Int(int col) const noexcept { return sqlite3_column_int64(stmt_.get(), col); }
  double Double(int col) const noexcept { return sqlite3_column_double(stmt_.get(), col); }
  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;
  std::span<const std::uint8_t> Blob(int col) const noexcept;
  int ColumnCount() const noexcept { return sqlite3_column_count(stmt_.get()); }
  std::string ColumnName(int col) const;

  sqlite3_stmt* raw() const noexcept { return stmt_.get(); }

 private:
  void NoteBind(int rc) noexcept {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StmtDeleter> stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Prepares one statement (the whole `sql` must be a single statement).
Result<Stmt> Prepare(sqlite3* db, std::string_view sql);
// Runs one or more statements without parameters.
Status Exec(sqlite3* db, std::string_view sql);
// First column of the first row as int64 (default when no row / NULL).
Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, std::int64_t default_value = 0);
Result<std::string> QueryText(sqlite3* db, std::string_view sql, std::string default_value = "");

// BEGIN IMMEDIATE on construction (via Begin), ROLLBACK in the destructor unless committed.
class Tx {
 public:
  static Result<Tx> Begin(sqlite3* db);
  Tx(Tx&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Tx& operator=(Tx&&) = delete;
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  ~Tx();
  Status Commit();

 private:
  explicit Tx(sqlite3* db) noexcept : db_(db) {}
  sqlite3* db_;
};

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

}  // namespace oversync::oversqlite::internal

#endif  // OVERSYNC_OVERSQLITE_SRC_SQLITE_H_
