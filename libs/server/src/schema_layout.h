// The PostgreSQL `sync` layout `server_postgres_sync_v1` (server.md §1). Storage-compatible with
// go-oversync (compatibility level L2): same tables, columns, constraint and index names, trigger
// functions with the same behaviour and messages, trigger names and arguments, and the same
// bootstrap advisory-lock key, so Go and C++ servers can share one database.
#ifndef OVERSYNC_SERVER_SRC_SCHEMA_LAYOUT_H_
#define OVERSYNC_SERVER_SRC_SCHEMA_LAYOUT_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace oversync::layout {

inline constexpr std::string_view kProtocolLabel = "v1";
inline constexpr std::string_view kLayoutName = "server_postgres_sync_v1";
// ASCII "oversync" as a big-endian int64: serializes bootstrap DDL across processes (§1.14).
inline constexpr std::int64_t kBootstrapLockKey = 0x6f76657273796e63;
inline constexpr std::string_view kScopeColumn = "_sync_scope_id";
inline constexpr std::string_view kCaptureTrigger = "oversync_bundle_capture_row";
inline constexpr std::string_view kOwnerGuardTrigger = "oversync_bundle_owner_guard";
inline constexpr std::string_view kCaptureFunction = "capture_registered_row_change";
inline constexpr std::string_view kOwnerGuardFunction = "enforce_registered_row_owner";
// go-oversync 95bbd38's TRUNCATE guard (protocol-b.md §8.3), installed by us in both profiles:
// TRUNCATE bypasses the row-level capture, so clients would never learn of the deletions.
inline constexpr std::string_view kTruncateGuardTrigger = "oversync_registered_truncate_guard";
inline constexpr std::string_view kTruncateGuardFunction = "reject_registered_table_truncate";
// Creates the guard function (its arguments are the schema and table names).
inline constexpr std::string_view kTruncateGuardFunctionSql = R"sql(
CREATE OR REPLACE FUNCTION sync.reject_registered_table_truncate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = '55000',
    MESSAGE = format('TRUNCATE is not allowed on registered table %s.%s', TG_ARGV[0], TG_ARGV[1]),
    DETAIL = 'Oversync cannot capture TRUNCATE as row-level bundle events.',
    HINT = 'Delete the rows with DELETE so that every device receives the deletions.';
END
$fn$)sql";

// Statements that create the layout, in order (schema, tables, sequences, functions). Run once,
// inside the bootstrap transaction, when no `sync` objects exist.
std::span<const std::string_view> CreationStatements();
// Secondary indexes, run after the marker rows are inserted.
std::span<const std::string_view> IndexStatements();
// The tables only a wire-profile-B service uses (docs/wire-profiles.md), created idempotently
// beside the go-oversync layout by such a service's Bootstrap. Go servers and profile-A services
// ignore them; their rows cascade away with the push session or bundle they belong to.
std::span<const std::string_view> ProfileBStatements();

}  // namespace oversync::layout

#endif  // OVERSYNC_SERVER_SRC_SCHEMA_LAYOUT_H_
