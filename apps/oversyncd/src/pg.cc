#include "pg.h"

#include <array>

namespace oversync::oversyncd {
namespace {

std::string TrimMessage(const char* message) {
  std::string text = message == nullptr ? std::string() : std::string(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result<PgConnPtr> PgConnect(const std::string& conninfo) {
  // Keywords are applied in order and the expanded conninfo comes last, so a connect_timeout or
  // application name given by the user wins over these defaults.
  const std::array<const char*, 4> keywords = {"connect_timeout", "fallback_application_name",
                                               "dbname", nullptr};
  const std::array<const char*, 4> values = {"10", "oversyncd", conninfo.c_str(), nullptr};
  PgConnPtr conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (conn == nullptr) return Error(ErrorCode::kUnavailable, "libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Error(ErrorCode::kUnavailable,
                 "cannot connect to PostgreSQL: " + TrimMessage(PQerrorMessage(conn.get())));
  }
  return conn;
}

Status PgExec(PGconn* conn, const std::string& sql, std::string* sqlstate) {
  PgResultPtr result(PQexec(conn, sql.c_str()));
  if (result == nullptr) {
    return Status(ErrorCode::kDatabase, "libpq: " + TrimMessage(PQerrorMessage(conn)));
  }
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  if (sqlstate != nullptr) {
    const char* code = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    *sqlstate = code == nullptr ? std::string() : std::string(code);
  }
  return Status(ErrorCode::kDatabase, TrimMessage(PQresultErrorMessage(result.get())));
}

Status CreateDatabaseIfMissing(const std::string& admin_conninfo, const std::string& database) {
  OVERSYNC_ASSIGN_OR_RETURN(PgConnPtr conn, PgConnect(admin_conninfo));
  const std::array<const char*, 1> params = {database.c_str()};
  PgResultPtr exists(PQexecParams(conn.get(), "SELECT 1 FROM pg_database WHERE datname = $1", 1,
                                  nullptr, params.data(), nullptr, nullptr, 0));
  if (exists == nullptr || PQresultStatus(exists.get()) != PGRES_TUPLES_OK) {
    return Status(ErrorCode::kDatabase, "checking for database " + database + ": " +
                                            TrimMessage(exists ? PQresultErrorMessage(exists.get())
                                                               : PQerrorMessage(conn.get())));
  }
  if (PQntuples(exists.get()) > 0) return Status::Ok();

  std::unique_ptr<char, decltype(&PQfreemem)> quoted(
      PQescapeIdentifier(conn.get(), database.c_str(), database.size()), &PQfreemem);
  if (quoted == nullptr) {
    return Status(ErrorCode::kDatabase, TrimMessage(PQerrorMessage(conn.get())));
  }
  std::string sqlstate;
  Status created = PgExec(conn.get(), std::string("CREATE DATABASE ") + quoted.get(), &sqlstate);
  if (!created.ok() && sqlstate == "42P04") return Status::Ok();  // duplicate_database: a race
  return created.WithContext("creating database " + database);
}

Status DbProbe::Ping() {
  const std::lock_guard<std::mutex> lock(mu_);
  if (conn_ == nullptr || PQstatus(conn_.get()) != CONNECTION_OK) {
    conn_.reset();
    OVERSYNC_ASSIGN_OR_RETURN(conn_, PgConnect(conninfo_));
  }
  Status status = PgExec(conn_.get(), "SELECT 1");
  if (!status.ok()) conn_.reset();  // reconnect next time (server restarted, network cut, ...)
  return status;
}

}  // namespace oversync::oversyncd
