#include "oversync/testing/pg_test_database.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "oversync/common/random.h"
#include "oversync/common/sha256.h"

namespace oversync::testing {
namespace {

struct PgConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

Result<PgConnPtr> Connect(const std::string& dsn) {
  PgConnPtr conn(PQconnectdb(dsn.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return Error(ErrorCode::kDatabase,
                 fmt::format("connect {}: {}", dsn, conn ? PQerrorMessage(conn.get()) : "oom"));
  }
  return conn;
}

Result<std::string> Exec(PGconn* conn, const std::string& sql) {
  PgResultPtr res(PQexec(conn, sql.c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Error(ErrorCode::kDatabase, fmt::format("{}: {}", sql, PQerrorMessage(conn)));
  }
  if (st == PGRES_TUPLES_OK && PQntuples(res.get()) > 0 && PQnfields(res.get()) > 0) {
    return std::string(PQgetvalue(res.get(), 0, 0));
  }
  return std::string();
}

// "dbname=x" appended last wins over an earlier dbname in a keyword/value string.
std::string WithDatabase(const std::string& admin_dsn, const std::string& name) {
  return fmt::format("{} dbname={}", admin_dsn, name);
}

}  // namespace

Result<std::unique_ptr<PgTestDatabase>> PgTestDatabase::Create() {
  const char* admin = std::getenv("OVERSYNC_TEST_DSN");
  if (admin == nullptr || *admin == '\0') {
    return Error(ErrorCode::kUnavailable, "OVERSYNC_TEST_DSN is not set (no test PostgreSQL)");
  }
  const std::string admin_dsn(admin);
  CryptoRandom random;
  std::array<std::uint8_t, 8> bytes{};
  random.Fill(bytes);
  const std::string name =
      "t_" + HexLower(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  OVERSYNC_ASSIGN_OR_RETURN(PgConnPtr conn, Connect(admin_dsn));
  OVERSYNC_RETURN_IF_ERROR(
      Exec(conn.get(), fmt::format("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", name)));
  return std::make_unique<PgTestDatabase>(admin_dsn, name, WithDatabase(admin_dsn, name));
}

PgTestDatabase::~PgTestDatabase() {
  auto conn = Connect(admin_dsn_);
  if (!conn) {
    std::fprintf(stderr, "PgTestDatabase: cannot drop %s: %s\n", name_.c_str(),
                 conn.error().ToString().c_str());
    return;
  }
  auto dropped = Exec(conn->get(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
  if (!dropped) {
    std::fprintf(stderr, "PgTestDatabase: %s\n", dropped.error().ToString().c_str());
  }
}

Result<std::string> PgTestDatabase::QueryScalar(const std::string& sql) const {
  OVERSYNC_ASSIGN_OR_RETURN(PgConnPtr conn, Connect(dsn_));
  return Exec(conn.get(), sql);
}

}  // namespace oversync::testing
