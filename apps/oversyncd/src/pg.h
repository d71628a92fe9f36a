// File: apps/oversyncd/src/pg.h
//
// Minimal RAII over libpq for oversyncd's own needs (database creation, health probe). The
// server library will bring its own pool; this stays private to the app.
//
// Thread-safety: a PGconn is used by one thread at a time (libpq rule); DbProbe serialises its
// connection with a mutex and is thread-safe.
#ifndef OVERSYNC_OVERSYNCD_PG_H_
#define OVERSYNC_OVERSYNCD_PG_H_

#include <libpq-fe.h>

#include <memory>
#include <mutex>
#include <string>

#include "oversync/common/status.h"

namespace oversync::oversyncd {

struct PgConnDeleter {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct PgResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Opens a connection. `conninfo` is a libpq keyword/value string or a postgres:// URI; a
// connect_timeout of 10 s applies unless conninfo sets one.
// Errors: kUnavailable with libpq's message if the connection fails.
Result<PgConnPtr> PgConnect(const std::string& conninfo);

// Runs a command that returns no rows (PGRES_COMMAND_OK).
// Errors: kDatabase with the server's message; `sqlstate` (if not null) receives the SQLSTATE.
Status PgExec(PGconn* conn, const std::string& sql, std::string* sqlstate = nullptr);

// Creates `database` unless it exists (tolerates a concurrent creator).
// Errors: kUnavailable / kDatabase.
Status CreateDatabaseIfMissing(const std::string& admin_conninfo, const std::string& database);

// The database check behind /syncx/health and /syncx/status: "SELECT 1" on one lazily opened
// connection that is re-opened after any failure. Thread-safe.
class DbProbe {
 public:
  explicit DbProbe(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  DbProbe(const DbProbe&) = delete;
  DbProbe& operator=(const DbProbe&) = delete;
  DbProbe(DbProbe&&) = delete;
  DbProbe& operator=(DbProbe&&) = delete;
  ~DbProbe() = default;

  // Errors: kUnavailable (cannot connect), kDatabase (query failed).
  Status Ping();

 private:
  const std::string conninfo_;
  std::mutex mu_;
  PgConnPtr conn_;  // guarded by mu_; null until the first Ping or after a failure
};

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_PG_H_
