// File: libs/oversqlite/src/sqlite.cc
#include "sqlite.h"

#include <fmt/format.h>

namespace oversync::oversqlite::internal {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status(ErrorCode::kDatabase,
                fmt::format("{}: {} (sqlite {})", what, msg != nullptr ? msg : "", rc));
}

Stmt& Stmt::Bind(int index, std::string_view text) {
  NoteBind(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8));
  return *this;
}
Stmt& Stmt::Bind(int index, std::int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_.get(), index, value));
  return *this;
}
Stmt& Stmt::BindDouble(int index, double value) {
  NoteBind(sqlite3_bind_double(stmt_.get(), index, value));
  return *this;
}
Stmt& Stmt::BindBlob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length span still binds an (empty) BLOB, not NULL.
  static constexpr std::uint8_t kEmpty[1] = {0};
  NoteBind(sqlite3_bind_blob64(stmt_.get(), index, bytes.empty() ? kEmpty : bytes.data(),
                               bytes.size(), SQLITE_TRANSIENT));
  return *this;
}
Stmt& Stmt::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_.get(), index));
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) return Error(SqliteError(db_, bind_rc_, "bind"));
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(SqliteError(db_, rc, sqlite3_sql(stmt_.get())));
}

Status Stmt::Run() {
  while (true) {
    auto row = Step();
    if (!row) return row.error();
    if (!*row) return Status::Ok();
  }
}

void Stmt::Reset() noexcept {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_rc_ = SQLITE_OK;
}

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::optional<std::string> Stmt::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

std::span<const std::uint8_t> Stmt::Blob(int col) const noexcept {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

std::string Stmt::ColumnName(int col) const {
  const char* name = sqlite3_column_name(stmt_.get(), col);
  return name != nullptr ? std::string(name) : std::string();
}

Result<Stmt> Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  Stmt stmt(db, raw);  // owns `raw` from here, also on error
  if (rc != SQLITE_OK) {
    return Error(SqliteError(db, rc, fmt::format("prepare {}", sql.substr(0, 120))));
  }
  return stmt;
}

Status Exec(sqlite3* db, std::string_view sql) {
  const std::string owned(sql);
  const int rc = sqlite3_exec(db, owned.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, fmt::format("exec {}", sql.substr(0, 120)));
  return Status::Ok();
}

Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, std::int64_t default_value) {
  OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db, sql));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.IsNull(0)) return default_value;
  return stmt.Int(0);
}

Result<std::string> QueryText(sqlite3* db, std::string_view sql, std::string default_value) {
  OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db, sql));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.IsNull(0)) return default_value;
  return stmt.Text(0);
}

Result<Tx> Tx::Begin(sqlite3* db) {
  OVERSYNC_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  return Tx(db);
}

Tx::~Tx() {
  if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Tx::Commit() {
  if (db_ == nullptr) return Status(ErrorCode::kInternal, "transaction already finished");
  const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "commit");  // destructor rolls back
  db_ = nullptr;
  return Status::Ok();
}

}  // namespace oversync::oversqlite::internal
