#include "business_schema.h"

#include <array>
#include <string>

#include "pg.h"

namespace oversync::oversyncd {
namespace {

// One DDL statement of InitializeApplicationTables. "{schema}" stands for the quoted schema
// name; table names are quoted as Go quotes them ("business"."users").
struct DdlStep {
  std::string_view what;  // Go's error wording: "failed to <what>: <error>"
  std::string_view sql;
};

constexpr std::string_view kSchemaPlaceholder = "{schema}";

constexpr std::array<DdlStep, 5> kTablesBeforeCycle = {{
    {"create users table", R"(
CREATE TABLE IF NOT EXISTS {schema}."users" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (_sync_scope_id, id)
))"},
    {"create posts table", R"(
CREATE TABLE IF NOT EXISTS {schema}."posts" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    author_id UUID,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (_sync_scope_id, id),
    CONSTRAINT posts_author_id_fkey
        FOREIGN KEY (_sync_scope_id, author_id) REFERENCES {schema}."users"(_sync_scope_id, id)
        DEFERRABLE INITIALLY DEFERRED
))"},
    {"create categories table", R"(
CREATE TABLE IF NOT EXISTS {schema}."categories" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    parent_id UUID,
    PRIMARY KEY (_sync_scope_id, id),
    CONSTRAINT categories_parent_id_fkey
        FOREIGN KEY (_sync_scope_id, parent_id) REFERENCES {schema}."categories"(_sync_scope_id, id)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
))"},
    {"create teams table", R"(
CREATE TABLE IF NOT EXISTS {schema}."teams" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    captain_member_id UUID,
    PRIMARY KEY (_sync_scope_id, id)
))"},
    {"create team_members table", R"(
CREATE TABLE IF NOT EXISTS {schema}."team_members" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    team_id UUID NOT NULL,
    PRIMARY KEY (_sync_scope_id, id),
    CONSTRAINT team_members_team_id_fkey
        FOREIGN KEY (_sync_scope_id, team_id) REFERENCES {schema}."teams"(_sync_scope_id, id)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
))"},
}};

// The teams -> team_members edge of the two-table cycle, added only when missing.
constexpr DdlStep kCaptainForeignKey = {"add teams captain_member_id FK", R"(
ALTER TABLE {schema}."teams"
    ADD CONSTRAINT teams_captain_member_id_fkey
    FOREIGN KEY (_sync_scope_id, captain_member_id)
    REFERENCES {schema}."team_members"(_sync_scope_id, id)
    DEFERRABLE INITIALLY DEFERRED)"};

constexpr std::string_view kCaptainForeignKeyExistsSql = R"(
SELECT EXISTS (
    SELECT 1
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE c.conname = 'teams_captain_member_id_fkey'
      AND n.nspname = $1
      AND t.relname = 'teams'
))";

constexpr std::array<DdlStep, 3> kTablesAfterCycle = {{
    {"create files table", R"(
CREATE TABLE IF NOT EXISTS {schema}."files" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (_sync_scope_id, id)
))"},
    {"create file_reviews table", R"(
CREATE TABLE IF NOT EXISTS {schema}."file_reviews" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    review TEXT NOT NULL,
    file_id UUID NOT NULL,
    PRIMARY KEY (_sync_scope_id, id),
    CONSTRAINT file_reviews_file_id_fkey
        FOREIGN KEY (_sync_scope_id, file_id) REFERENCES {schema}."files"(_sync_scope_id, id)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
))"},
    {"create typed_rows table", R"(
CREATE TABLE IF NOT EXISTS {schema}."typed_rows" (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT NOT NULL,
    note TEXT NULL,
    count_value BIGINT NULL,
    enabled_flag BIGINT NOT NULL,
    rating DOUBLE PRECISION NULL,
    data BYTEA NULL,
    created_at TIMESTAMPTZ NULL,
    PRIMARY KEY (_sync_scope_id, id)
))"},
}};

// pgx.Identifier{name}.Sanitize(): double quotes, embedded quotes doubled, NUL bytes dropped.
std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '\0') continue;
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

Status Run(PGconn* conn, const DdlStep& step, const std::string& quoted_schema) {
  std::string sql(step.sql);
  for (std::size_t at = sql.find(kSchemaPlaceholder); at != std::string::npos;
       at = sql.find(kSchemaPlaceholder, at + quoted_schema.size())) {
    sql.replace(at, kSchemaPlaceholder.size(), quoted_schema);
  }
  return PgExec(conn, sql).WithContext("failed to " + std::string(step.what));
}

// Whether teams_captain_member_id_fkey exists on <schema>.teams (checked like Go: constraint
// name, schema name and table name).
Result<bool> CaptainForeignKeyExists(PGconn* conn, std::string_view schema) {
  const std::string schema_text(schema);
  const std::array<const char*, 1> params = {schema_text.c_str()};
  const std::string sql(kCaptainForeignKeyExistsSql);
  const PgResultPtr result(
      PQexecParams(conn, sql.c_str(), 1, nullptr, params.data(), nullptr, nullptr, 0));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_TUPLES_OK ||
      PQntuples(result.get()) != 1) {
    std::string message = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return Error(ErrorCode::kDatabase, "failed to check teams captain_member_id FK: " + message);
  }
  return std::string_view(PQgetvalue(result.get(), 0, 0)) == "t";
}

}  // namespace

Status CreateBusinessTables(PGconn* conn, std::string_view schema) {
  const std::string quoted_schema = QuoteIdent(schema);
  // Every run after the first draws "already exists, skipping" notices; keep them out of the
  // server's output for the rest of this transaction (pgx never prints notices either).
  OVERSYNC_RETURN_IF_ERROR(
      Run(conn, {"set client_min_messages", "SET LOCAL client_min_messages TO warning"},
          quoted_schema));
  OVERSYNC_RETURN_IF_ERROR(
      Run(conn, {"create business schema", "CREATE SCHEMA IF NOT EXISTS {schema}"}, quoted_schema));
  for (const DdlStep& step : kTablesBeforeCycle) {
    OVERSYNC_RETURN_IF_ERROR(Run(conn, step, quoted_schema));
  }
  OVERSYNC_ASSIGN_OR_RETURN(const bool captain_fk_exists, CaptainForeignKeyExists(conn, schema));
  if (!captain_fk_exists) OVERSYNC_RETURN_IF_ERROR(Run(conn, kCaptainForeignKey, quoted_schema));
  for (const DdlStep& step : kTablesAfterCycle) {
    OVERSYNC_RETURN_IF_ERROR(Run(conn, step, quoted_schema));
  }
  return Status::Ok();
}

Status InitializeBusinessSchema(PGconn* conn, std::string_view schema) {
  OVERSYNC_RETURN_IF_ERROR(PgExec(conn, "BEGIN").WithContext("failed to begin transaction"));
  Status status = CreateBusinessTables(conn, schema);
  if (status.ok()) {
    status = PgExec(conn, "COMMIT").WithContext("failed to commit business schema");
    if (status.ok()) return status;
  }
  (void)PgExec(conn, "ROLLBACK");  // harmless if COMMIT already ended the transaction
  return status;
}

}  // namespace oversync::oversyncd
