// File: apps/oversyncd/src/business_schema.h
//
// The reference server's business tables (go-oversync examples/nethttp_server
// InitializeApplicationTables; server.md A.5): users, posts, categories, teams, team_members,
// files, file_reviews and typed_rows, every one keyed by (_sync_scope_id, id) with scope-inclusive
// DEFERRABLE INITIALLY DEFERRED foreign keys. Created at every startup (before the sync
// runtime's Bootstrap) and again by POST /test/reset, idempotently.
//
// Thread-safety: functions use the given connection only; one thread at a time per connection
// (libpq rule).
#ifndef OVERSYNC_OVERSYNCD_BUSINESS_SCHEMA_H_
#define OVERSYNC_OVERSYNCD_BUSINESS_SCHEMA_H_

#include <libpq-fe.h>

#include <string_view>

#include "oversync/common/status.h"

namespace oversync::oversyncd {

// ServerConfig.BusinessSchema's default, the schema main.go uses (server.md A.1).
inline constexpr std::string_view kDefaultBusinessSchema = "business";

// Runs the A.5 DDL on `conn` inside the transaction the caller has open (so /test/reset can
// combine it with its DROP SCHEMA statements): CREATE SCHEMA / CREATE TABLE IF NOT EXISTS for
// each table in Go's order, and the teams -> team_members foreign key added only when pg_constraint
// has no teams_captain_member_id_fkey on <schema>.teams. Identifiers are double-quoted as in Go.
// Also sets client_min_messages to warning for the rest of the transaction (SET LOCAL), so the
// "already exists, skipping" notices of repeated runs are not printed.
// Errors: kDatabase "failed to create <table> table: <server message>" (Go's wording); the
// caller's transaction is then aborted.
Status CreateBusinessTables(PGconn* conn, std::string_view schema = kDefaultBusinessSchema);

// BEGIN; CreateBusinessTables; COMMIT — rolled back on any error. Idempotent: a second run on
// the same database changes nothing. Errors: as CreateBusinessTables, or kDatabase from
// BEGIN/COMMIT.
Status InitializeBusinessSchema(PGconn* conn, std::string_view schema = kDefaultBusinessSchema);

}  // namespace oversync::oversyncd

#endif  // OVERSYNC_OVERSYNCD_BUSINESS_SCHEMA_H_
