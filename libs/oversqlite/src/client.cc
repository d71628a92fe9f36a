// File: libs/oversqlite/src/client.cc
//
// Construction (client.md §1.2), metadata DDL (§2), capture triggers (§3.1, §2.3), the process
// ownership registry (§7.1), Open (§1.5), the operation lock (§1.4), shared state readers, and
// the public Client methods (each takes the op lock and forwards to the flow files).
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "client_impl.h"
#include "lifecycle.h"
#include "oversync/protocol/wire_profile.h"
#include "oversync/common/strings.h"
#include "oversync/common/uuid.h"

namespace oversync::oversqlite {
namespace {

using internal::Prepare;
using internal::Stmt;

// ---- process-wide ownership registry (client.md §7.1) ----
// The claim must be visible to every Client in the process, so this is the one deliberately
// process-wide object of the library (a function-local static: initialized on first use,
// thread-safe, never destroyed while clients may still release claims).
struct OwnershipRegistry {
  std::mutex mutex;
  std::map<std::string, int, std::less<>> claims;
};
OwnershipRegistry& Registry() {
  static auto* registry = new OwnershipRegistry();  // NOLINT: intentionally leaked singleton
  return *registry;
}

constexpr std::string_view kMetadataDdl[] = {
    R"(CREATE TABLE IF NOT EXISTS _sync_source_state (
  source_id             TEXT NOT NULL PRIMARY KEY,
  next_source_bundle_id INTEGER NOT NULL DEFAULT 1,
  replaced_by_source_id TEXT NOT NULL DEFAULT '',
  created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_attachment_state (
  singleton_key             INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  current_source_id         TEXT NOT NULL DEFAULT '',
  binding_state             TEXT NOT NULL DEFAULT 'anonymous' CHECK (binding_state IN ('anonymous', 'attached')),
  attached_user_id          TEXT NOT NULL DEFAULT '',
  schema_name               TEXT NOT NULL DEFAULT '',
  last_bundle_seq_seen      INTEGER NOT NULL DEFAULT 0,
  rebuild_required          INTEGER NOT NULL DEFAULT 0,
  pending_initialization_id TEXT NOT NULL DEFAULT ''
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_operation_state (
  singleton_key         INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  kind                  TEXT NOT NULL DEFAULT 'none' CHECK (kind IN ('none', 'remote_replace', 'source_recovery')),
  target_user_id        TEXT NOT NULL DEFAULT '',
  reason                TEXT NOT NULL DEFAULT '',
  replacement_source_id TEXT NOT NULL DEFAULT '',
  staged_snapshot_id    TEXT NOT NULL DEFAULT '',
  snapshot_bundle_seq   INTEGER NOT NULL DEFAULT 0,
  snapshot_row_count    INTEGER NOT NULL DEFAULT 0
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_apply_state (
  singleton_key INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  apply_mode    INTEGER NOT NULL DEFAULT 0
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_row_state (
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  row_version INTEGER NOT NULL DEFAULT 0,
  deleted     INTEGER NOT NULL DEFAULT 0,
  updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (schema_name, table_name, key_json)
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_dirty_rows (
  schema_name      TEXT NOT NULL,
  table_name       TEXT NOT NULL,
  key_json         TEXT NOT NULL,
  op               TEXT NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  base_row_version INTEGER NOT NULL DEFAULT 0,
  payload          TEXT,
  dirty_ordinal    INTEGER NOT NULL DEFAULT 0,
  updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  PRIMARY KEY (schema_name, table_name, key_json)
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_snapshot_stage (
  snapshot_id TEXT NOT NULL,
  row_ordinal INTEGER NOT NULL,
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  row_version INTEGER NOT NULL,
  payload     TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, row_ordinal)
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_outbox_bundle (
  singleton_key          INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  state                  TEXT NOT NULL DEFAULT 'none' CHECK (state IN ('none', 'prepared', 'committed_remote')),
  source_id              TEXT NOT NULL DEFAULT '',
  source_bundle_id       INTEGER NOT NULL DEFAULT 0,
  canonical_request_hash TEXT NOT NULL DEFAULT '',
  row_count              INTEGER NOT NULL DEFAULT 0,
  initialization_id      TEXT NOT NULL DEFAULT '',
  remote_bundle_hash     TEXT NOT NULL DEFAULT '',
  remote_bundle_seq      INTEGER NOT NULL DEFAULT 0
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_outbox_rows (
  source_bundle_id INTEGER NOT NULL,
  row_ordinal      INTEGER NOT NULL,
  schema_name      TEXT NOT NULL,
  table_name       TEXT NOT NULL,
  key_json         TEXT NOT NULL,
  wire_key_json    TEXT NOT NULL,
  op               TEXT NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  base_row_version INTEGER NOT NULL DEFAULT 0,
  local_payload    TEXT,
  wire_payload     TEXT,
  PRIMARY KEY (source_bundle_id, row_ordinal)
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_push_stage (
  bundle_seq  INTEGER NOT NULL,
  row_ordinal INTEGER NOT NULL,
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  op          TEXT NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  row_version INTEGER NOT NULL,
  payload     TEXT,
  PRIMARY KEY (bundle_seq, row_ordinal)
))",
    R"(CREATE TABLE IF NOT EXISTS _sync_managed_tables (
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  PRIMARY KEY (schema_name, table_name)
))",
    "INSERT INTO _sync_attachment_state (singleton_key, current_source_id, binding_state, attached_user_id, "
    "schema_name, last_bundle_seq_seen, rebuild_required, pending_initialization_id) VALUES "
    "(1,'','anonymous','','',0,0,'') ON CONFLICT DO NOTHING",
    "INSERT INTO _sync_operation_state (singleton_key, kind, target_user_id, reason, replacement_source_id, "
    "staged_snapshot_id, snapshot_bundle_seq, snapshot_row_count) VALUES (1,'none','','','','',0,0) "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO _sync_apply_state (singleton_key, apply_mode) VALUES (1,0) ON CONFLICT DO NOTHING",
    "INSERT INTO _sync_outbox_bundle (singleton_key, state, source_id, source_bundle_id, "
    "canonical_request_hash, row_count, initialization_id, remote_bundle_hash, remote_bundle_seq) VALUES "
    "(1,'none','',0,'',0,'','',0) ON CONFLICT DO NOTHING",
    // Crash safety: apply mode is only ever 1 inside an uncommitted transaction (client.md §3.2).
    "UPDATE _sync_apply_state SET apply_mode = 0 WHERE singleton_key = 1 AND apply_mode != 0",
};

// ---- trigger text (client.md §3.1): exact template text of the reference, TAB indentation ----

std::string KeyExpr(const internal::TableInfo& table, std::string_view row) {
  if (table.key_is_blob) {
    return fmt::format("json_object('{0}', CASE WHEN {1}.{2} IS NULL THEN NULL ELSE lower(hex({1}.{2})) END)",
                       table.key_lower, row, table.key_column);
  }
  return fmt::format("json_object('{}', {}.{})", table.key_lower, row, table.key_column);
}

std::string RowExpr(const internal::TableInfo& table) {
  std::string pairs;
  for (const internal::ColumnInfo& column : table.columns) {
    if (!pairs.empty()) pairs += ", ";
    if (column.is_blob) {
      pairs += fmt::format("'{0}', CASE WHEN NEW.{1} IS NULL THEN NULL ELSE lower(hex(NEW.{1})) END",
                           column.lower, column.name);
    } else {
      pairs += fmt::format("'{}', NEW.{}", column.lower, column.name);
    }
  }
  return fmt::format("json_object({})", pairs);
}

std::string GuardTrigger(std::string_view t, std::string_view suffix, std::string_view event) {
  return fmt::format(
      "CREATE TRIGGER trg_{0}_{1}\n"
      "BEFORE {2} ON {0}\n"
      "WHEN COALESCE((SELECT kind FROM _sync_operation_state WHERE singleton_key = 1), 'none') != 'none'\n"
      "\tAND COALESCE((SELECT apply_mode FROM _sync_apply_state WHERE singleton_key = 1), 0) != 1\n"
      "BEGIN\n"
      "\tSELECT RAISE(ABORT, 'SYNC_TRANSITION_PENDING');\n"
      "END",
      t, suffix, event);
}

std::string UpsertStatement(std::string_view s, std::string_view t, const std::string& key,
                            const std::string& row) {
  return fmt::format(
      "\tINSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, payload, "
      "dirty_ordinal, updated_at)\n"
      "\tVALUES (\n"
      "\t\t'{0}',\n"
      "\t\t'{1}',\n"
      "\t\t{2},\n"
      "\t\tCASE\n"
      "\t\t\tWHEN EXISTS (\n"
      "\t\t\t\tSELECT 1\n"
      "\t\t\t\tFROM _sync_row_state\n"
      "\t\t\t\tWHERE schema_name='{0}' AND table_name='{1}' AND key_json={2} AND deleted=0\n"
      "\t\t\t) THEN 'UPDATE'\n"
      "\t\t\tELSE 'INSERT'\n"
      "\t\tEND,\n"
      "\t\tCOALESCE(\n"
      "\t\t\t(SELECT base_row_version FROM _sync_dirty_rows WHERE schema_name='{0}' AND table_name='{1}' "
      "AND key_json={2}),\n"
      "\t\t\t(SELECT row_version FROM _sync_row_state WHERE schema_name='{0}' AND table_name='{1}' AND "
      "key_json={2}),\n"
      "\t\t\t0\n"
      "\t\t),\n"
      "\t\t{3},\n"
      "\t\tCOALESCE(\n"
      "\t\t\t(SELECT dirty_ordinal FROM _sync_dirty_rows WHERE schema_name='{0}' AND table_name='{1}' AND "
      "key_json={2}),\n"
      "\t\t\t(SELECT COALESCE(MAX(dirty_ordinal), 0) + 1 FROM _sync_dirty_rows)\n"
      "\t\t),\n"
      "\t\tstrftime('%Y-%m-%dT%H:%M:%fZ','now')\n"
      "\t)\n"
      "\tON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET\n"
      "\t\top=excluded.op,\n"
      "\t\tpayload=excluded.payload,\n"
      "\t\tupdated_at=excluded.updated_at;\n",
      s, t, key, row);
}

std::string DeleteBody(std::string_view s, std::string_view t, const std::string& key_old,
                       bool key_change_form, const std::string& key_new) {
  // The DELETE trigger uses VALUES; the UPDATE trigger's first statement is a SELECT with a
  // WHERE that only fires for key-changing updates.
  std::string head = key_change_form ? "\tSELECT\n" : "\tVALUES (\n";
  std::string tail = key_change_form ? fmt::format("\tWHERE {} != {}\n", key_old, key_new) : "\t)\n";
  return fmt::format(
      "\tINSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, payload, "
      "dirty_ordinal, updated_at)\n"
      "{4}"
      "\t\t'{0}',\n"
      "\t\t'{1}',\n"
      "\t\t{2},\n"
      "\t\t'DELETE',\n"
      "\t\tCOALESCE(\n"
      "\t\t\t(SELECT base_row_version FROM _sync_dirty_rows WHERE schema_name='{0}' AND table_name='{1}' "
      "AND key_json={2}),\n"
      "\t\t\t(SELECT row_version FROM _sync_row_state WHERE schema_name='{0}' AND table_name='{1}' AND "
      "key_json={2}),\n"
      "\t\t\t0\n"
      "\t\t),\n"
      "\t\tNULL,\n"
      "\t\tCOALESCE(\n"
      "\t\t\t(SELECT dirty_ordinal FROM _sync_dirty_rows WHERE schema_name='{0}' AND table_name='{1}' AND "
      "key_json={2}),\n"
      "\t\t\t(SELECT COALESCE(MAX(dirty_ordinal), 0) + 1 FROM _sync_dirty_rows)\n"
      "\t\t),\n"
      "\t\tstrftime('%Y-%m-%dT%H:%M:%fZ','now')\n"
      "{5}"
      "\tON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET\n"
      "\t\top='DELETE',\n"
      "\t\tpayload=NULL,\n"
      "\t\tupdated_at=excluded.updated_at;\n",
      s, t, key_old, key_new, head, tail);
}

constexpr std::string_view kApplyModeOff =
    "WHEN COALESCE((SELECT apply_mode FROM _sync_apply_state WHERE singleton_key = 1), 0) = 0\n";

std::vector<std::pair<std::string, std::string>> RenderTriggers(const internal::TableInfo& table,
                                                                std::string_view schema) {
  const std::string& t = table.name;
  const std::string key_new = KeyExpr(table, "NEW");
  const std::string key_old = KeyExpr(table, "OLD");
  const std::string row = RowExpr(table);
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(fmt::format("trg_{}_bi_guard", t), GuardTrigger(t, "bi_guard", "INSERT"));
  out.emplace_back(fmt::format("trg_{}_bu_guard", t), GuardTrigger(t, "bu_guard", "UPDATE"));
  out.emplace_back(fmt::format("trg_{}_bd_guard", t), GuardTrigger(t, "bd_guard", "DELETE"));
  out.emplace_back(fmt::format("trg_{}_ai", t),
                   fmt::format("CREATE TRIGGER trg_{0}_ai\nAFTER INSERT ON {0}\n{1}BEGIN\n{2}END", t,
                               kApplyModeOff, UpsertStatement(schema, t, key_new, row)));
  out.emplace_back(fmt::format("trg_{}_au", t),
                   fmt::format("CREATE TRIGGER trg_{0}_au\nAFTER UPDATE ON {0}\n{1}BEGIN\n{2}\n{3}END", t,
                               kApplyModeOff, DeleteBody(schema, t, key_old, true, key_new),
                               UpsertStatement(schema, t, key_new, row)));
  out.emplace_back(fmt::format("trg_{}_ad", t),
                   fmt::format("CREATE TRIGGER trg_{0}_ad\nAFTER DELETE ON {0}\n{1}BEGIN\n{2}END", t,
                               kApplyModeOff, DeleteBody(schema, t, key_old, false, "")));
  return out;
}

// client.md §2.3: trim, collapse whitespace runs, lower-case, "create trigger if not exists" ==
// "create trigger".
std::string NormalizeTriggerSql(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : TrimAsciiSpace(sql)) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  constexpr std::string_view kIfNotExists = "create trigger if not exists ";
  if (out.rfind(kIfNotExists, 0) == 0) out = "create trigger " + out.substr(kIfNotExists.size());
  return out;
}

Status ClientError(ErrorCode code, ClientErrorKind kind, std::string message,
                   std::string_view operation = {}) {
  ClientErrorDetail detail;
  detail.kind = kind;
  detail.operation = std::string(operation);
  return MakeClientError(code, std::move(message), std::move(detail));
}

}  // namespace

// ---- Impl: construction ----

Client::Impl::~Impl() {
  stmt_cache_.clear();  // statements must be finalized before the owned handle closes
  ReleaseOwnership();
}

void Client::Impl::Log(LogLevel level, std::string_view message) const {
  if (logger_) logger_->Log(level, internal::kComponent, message);
}

Status Client::Impl::ClaimOwnership() {
  std::string key;
  {
    OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db_, "SELECT file FROM pragma_database_list WHERE name = 'main'"));
    OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    std::string file = row ? stmt.Text(0) : std::string();
    if (file.empty()) {
      key = fmt::format("sqlite:conn:{}", static_cast<const void*>(db_));
    } else if (file.rfind("file:", 0) == 0) {
      key = "sqlite:" + file;
    } else {
      char resolved[PATH_MAX];
      key = "sqlite:" + std::string(realpath(file.c_str(), resolved) != nullptr ? resolved : file.c_str());
    }
  }
  OwnershipRegistry& registry = Registry();
  std::lock_guard lock(registry.mutex);
  if (registry.claims.count(key) > 0) {
    ClientErrorDetail detail;
    detail.kind = ClientErrorKind::kDatabaseAlreadyOwned;
    detail.database = key.substr(7);
    return MakeClientError(ErrorCode::kFailedPrecondition,
                           fmt::format("database {} is already owned by another live oversqlite client",
                                       detail.database),
                           std::move(detail));
  }
  registry.claims.emplace(key, 1);
  ownership_key_ = std::move(key);
  owns_claim_ = true;
  return Status::Ok();
}

void Client::Impl::ReleaseOwnership() {
  if (!owns_claim_) return;
  OwnershipRegistry& registry = Registry();
  std::lock_guard lock(registry.mutex);
  registry.claims.erase(ownership_key_);
  owns_claim_ = false;
}

Status Client::Impl::InitializeMetadata() {
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, "PRAGMA foreign_keys = ON"));
  // In-memory databases answer "memory"; both are fine (client.md §9 item 1).
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, "PRAGMA journal_mode = WAL"));
  OVERSYNC_ASSIGN_OR_RETURN(internal::Tx tx, internal::Tx::Begin(db_));
  // Whether an SDK without a profile marker (every version before wire profiles, which spoke
  // only go_canonical_v1) has used this database: its metadata exists but our marker does not.
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt legacy_probe,
      Prepare(db_, "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                   "'_sync_attachment_state') = 1 AND (SELECT count(*) FROM sqlite_master WHERE "
                   "type = 'table' AND name = '_sync_cpp_client_info') = 0"));
  OVERSYNC_ASSIGN_OR_RETURN(bool probed, legacy_probe.Step());
  const bool legacy_database = probed && legacy_probe.Int(0) == 1;
  legacy_probe.Reset();
  for (std::string_view sql : kMetadataDdl) OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, sql));
  // The capture triggers take MAX(dirty_ordinal) for every new dirty row; without an index that
  // is a scan of the whole dirty set, so bulk writes were quadratic (10,000 inserts in one
  // transaction: 3.9 s). The Go client's DDL has no such index; an extra index is invisible to
  // it (docs/compatibility.md).
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(
      db_, "CREATE INDEX IF NOT EXISTS _sync_dirty_rows_ordinal_idx ON _sync_dirty_rows (dirty_ordinal)"));
  // Which user each source last synced for (C++ only): the server numbers source bundles per
  // (user, source), so a device that switches users must not continue the previous user's
  // numbering on the same source (Attach rotates; docs/compatibility.md).
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(
      db_, "CREATE TABLE IF NOT EXISTS _sync_cpp_source_users (source_id TEXT NOT NULL PRIMARY KEY, "
           "user_id TEXT NOT NULL)"));
  // Our own version marker (client.md §2.3 recommendation); the Go client ignores it.
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(
      db_, "CREATE TABLE IF NOT EXISTS _sync_cpp_client_info (singleton_key INTEGER NOT NULL PRIMARY KEY "
           "CHECK (singleton_key = 1), layout_version INTEGER NOT NULL, wire_profile TEXT NOT NULL)"));
  {
    // The profile a database gets when it has none recorded: the configured one, else
    // go_canonical_v1 for a database an earlier SDK used, else the current contract.
    std::string initial_profile = config_.wire_profile;
    if (initial_profile.empty()) {
      initial_profile = std::string(legacy_database ? protocol::GoCanonicalV1Profile().name()
                                                     : protocol::JcsUniformNumericStringsV1Profile().name());
    }
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt insert,
        Prepare(db_, "INSERT INTO _sync_cpp_client_info (singleton_key, layout_version, wire_profile) "
                     "VALUES (1, 1, ?) ON CONFLICT DO NOTHING"));
    insert.Bind(1, initial_profile);
    OVERSYNC_RETURN_IF_ERROR(insert.Run());
    OVERSYNC_ASSIGN_OR_RETURN(
        Stmt stored, Prepare(db_, "SELECT wire_profile FROM _sync_cpp_client_info WHERE singleton_key = 1"));
    OVERSYNC_ASSIGN_OR_RETURN(bool found, stored.Step());
    if (!found) return Status(ErrorCode::kInternal, "_sync_cpp_client_info has no row after insert");
    const std::string stored_profile = stored.Text(0);
    if (!config_.wire_profile.empty() && stored_profile != config_.wire_profile) {
      // docs/wire-profiles.md: one database, one encoding of its outbox and checkpoints.
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("this database syncs with wire profile {}, not {}; open it with "
                                "that profile (or leave Config::wire_profile empty) or start a "
                                "new database",
                                stored_profile, config_.wire_profile));
    }
    if (!protocol::FindWireProfile(stored_profile).has_value()) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("this database records wire profile {:?}, which this SDK does not "
                                "know; open it with the SDK that created it",
                                stored_profile));
    }
    // From here on config_.wire_profile is the database's profile (Client::wire_profile()).
    config_.wire_profile = stored_profile;
  }
  // The tables are validated inside this transaction: a configuration the database cannot sync
  // leaves no metadata behind on a new database and changes nothing on an existing one (KMP
  // fixture local-schema/config-validation.json "no-runtime-residue" and
  // previously-initialized-nullable-drift-preserves-runtime-state).
  OVERSYNC_RETURN_IF_ERROR(LoadTables());
  return tx.Commit();
}

Status Client::Impl::ValidateSchemaScope() {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt,
      Prepare(db_, "SELECT DISTINCT schema_name FROM (SELECT schema_name FROM _sync_attachment_state UNION ALL "
                   "SELECT schema_name FROM _sync_row_state UNION ALL SELECT schema_name FROM _sync_dirty_rows "
                   "UNION ALL SELECT schema_name FROM _sync_snapshot_stage UNION ALL SELECT schema_name FROM "
                   "_sync_outbox_rows UNION ALL SELECT schema_name FROM _sync_push_stage) WHERE schema_name != '' "
                   "ORDER BY schema_name"));
  std::vector<std::string> foreign;
  while (true) {
    OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (stmt.Text(0) != config_.schema) foreign.push_back(stmt.Text(0));
  }
  if (!foreign.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("oversqlite supports exactly one configured schema per database: configured "
                              "{:?}, existing sync state uses {}",
                              config_.schema, fmt::join(foreign, ", ")));
  }
  return Status::Ok();
}

Status Client::Impl::InstallTriggers() {
  OVERSYNC_ASSIGN_OR_RETURN(internal::Tx tx, internal::Tx::Begin(db_));
  for (const TableInfo& table : tables_) {
    for (const auto& [name, sql] : RenderTriggers(table, config_.schema)) {
      OVERSYNC_ASSIGN_OR_RETURN(Stmt existing,
                                Prepare(db_, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?"));
      existing.Bind(1, name);
      OVERSYNC_ASSIGN_OR_RETURN(bool found, existing.Step());
      if (found && NormalizeTriggerSql(existing.Text(0)) == NormalizeTriggerSql(sql)) continue;
      if (found) OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, fmt::format("DROP TRIGGER IF EXISTS {}", name)));
      OVERSYNC_RETURN_IF_ERROR(internal::Exec(db_, sql));
    }
  }
  return tx.Commit();
}

Status Client::Impl::RegisterManagedTables() {
  OVERSYNC_ASSIGN_OR_RETURN(internal::Tx tx, internal::Tx::Begin(db_));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "INSERT INTO _sync_managed_tables(schema_name, table_name) VALUES (?, ?) "
                              "ON CONFLICT DO NOTHING"));
  for (const TableInfo& table : tables_) {
    stmt.Reset();
    stmt.Bind(1, config_.schema).Bind(2, table.name);
    OVERSYNC_RETURN_IF_ERROR(stmt.Run());
  }
  return tx.Commit();
}

Status Client::Impl::Initialize() {
  OVERSYNC_RETURN_IF_ERROR(InitializeMetadata());
  OVERSYNC_RETURN_IF_ERROR(ValidateSchemaScope());
  OVERSYNC_RETURN_IF_ERROR(InstallTriggers());
  return RegisterManagedTables();
}

// ---- Impl: op lock and gates ----

Result<std::unique_lock<std::mutex>> Client::Impl::AcquireOp() {
  auto closed_error = [] {
    return ClientError(ErrorCode::kFailedPrecondition, ClientErrorKind::kClientClosed, "oversqlite client is closed");
  };
  if (closed_.load()) return Error(closed_error());
  std::unique_lock lock(op_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Error(ClientError(ErrorCode::kFailedPrecondition, ClientErrorKind::kSyncOperationInProgress,
                             "another sync operation is in progress"));
  }
  if (closed_.load()) return Error(closed_error());
  protocol_gate_verified_ = false;  // each operation checks the server's contract afresh
  return lock;
}

Status Client::Impl::RequireOpened(std::string_view operation) const {
  if (opened_) return Status::Ok();
  return ClientError(ErrorCode::kFailedPrecondition, ClientErrorKind::kOpenRequired,
                     fmt::format("{} requires Open() first", operation), operation);
}

Status Client::Impl::RequireConnected(std::string_view operation) const {
  OVERSYNC_RETURN_IF_ERROR(RequireOpened(operation));
  if (connected_) return Status::Ok();
  return ClientError(ErrorCode::kFailedPrecondition, ClientErrorKind::kAttachRequired,
                     fmt::format("{} requires Attach(userID) first", operation), operation);
}

// ---- Impl: state ----

Result<internal::AttachmentState> Client::Impl::LoadAttachment() {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "SELECT current_source_id, binding_state, attached_user_id, schema_name, "
                              "last_bundle_seq_seen, rebuild_required, pending_initialization_id FROM "
                              "_sync_attachment_state WHERE singleton_key = 1"));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Error(ErrorCode::kDatabase, "missing _sync_attachment_state row");
  AttachmentState state;
  state.current_source_id = stmt.Text(0);
  state.binding_state = stmt.Text(1);
  state.attached_user_id = stmt.Text(2);
  state.schema_name = stmt.Text(3);
  state.last_bundle_seq_seen = stmt.Int(4);
  state.rebuild_required = stmt.Int(5) != 0;
  state.pending_initialization_id = stmt.Text(6);
  return state;
}

Result<internal::OperationState> Client::Impl::LoadOperation() {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "SELECT kind, target_user_id, reason, replacement_source_id, staged_snapshot_id, "
                              "snapshot_bundle_seq, snapshot_row_count FROM _sync_operation_state WHERE "
                              "singleton_key = 1"));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Error(ErrorCode::kDatabase, "missing _sync_operation_state row");
  OperationState state;
  state.kind = stmt.Text(0);
  state.target_user_id = stmt.Text(1);
  state.reason = stmt.Text(2);
  state.replacement_source_id = stmt.Text(3);
  state.staged_snapshot_id = stmt.Text(4);
  state.snapshot_bundle_seq = stmt.Int(5);
  state.snapshot_row_count = stmt.Int(6);
  return state;
}

Result<internal::OutboxBundle> Client::Impl::LoadOutboxBundle() {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "SELECT state, source_id, source_bundle_id, canonical_request_hash, row_count, "
                              "initialization_id, remote_bundle_hash, remote_bundle_seq FROM _sync_outbox_bundle "
                              "WHERE singleton_key = 1"));
  OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Error(ErrorCode::kDatabase, "missing _sync_outbox_bundle row");
  OutboxBundle bundle;
  bundle.state = stmt.Text(0);
  bundle.source_id = stmt.Text(1);
  bundle.source_bundle_id = stmt.Int(2);
  bundle.canonical_request_hash = stmt.Text(3);
  bundle.row_count = stmt.Int(4);
  bundle.initialization_id = stmt.Text(5);
  bundle.remote_bundle_hash = stmt.Text(6);
  bundle.remote_bundle_seq = stmt.Int(7);
  return bundle;
}

Result<std::vector<internal::OutboxRow>> Client::Impl::LoadOutboxRows() {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "SELECT source_bundle_id, row_ordinal, schema_name, table_name, key_json, "
                              "wire_key_json, op, base_row_version, local_payload, wire_payload FROM "
                              "_sync_outbox_rows ORDER BY source_bundle_id, row_ordinal"));
  std::vector<OutboxRow> rows;
  while (true) {
    OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    OutboxRow out;
    out.source_bundle_id = stmt.Int(0);
    out.row_ordinal = stmt.Int(1);
    out.schema_name = stmt.Text(2);
    out.table_name = stmt.Text(3);
    out.key_json = stmt.Text(4);
    out.wire_key_json = stmt.Text(5);
    out.op = stmt.Text(6);
    out.base_row_version = stmt.Int(7);
    out.local_payload = stmt.OptText(8);
    out.wire_payload = stmt.OptText(9);
    rows.push_back(std::move(out));
  }
  return rows;
}

Result<std::int64_t> Client::Impl::DirtyCount() {
  return internal::QueryInt(db_, "SELECT COUNT(*) FROM _sync_dirty_rows");
}

Status Client::Impl::MarkSourceReplaced(std::string_view previous, std::string_view replacement) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt mark,
      Prepare(db_, "UPDATE _sync_source_state SET replaced_by_source_id = ? WHERE source_id = ?"));
  mark.Bind(1, replacement).Bind(2, previous);
  return mark.Run();
}

Result<std::int64_t> Client::Impl::SendableDirtyCount() {
  return internal::QueryInt(
      db_,
      "SELECT COUNT(*) FROM _sync_dirty_rows d WHERE d.payload IS NOT NULL OR EXISTS (SELECT 1 "
      "FROM _sync_row_state r WHERE r.schema_name = d.schema_name AND r.table_name = "
      "d.table_name AND r.key_json = d.key_json AND r.deleted = 0)");
}

Result<std::int64_t> Client::Impl::OutboxRowCount() {
  return internal::QueryInt(db_, "SELECT COUNT(*) FROM _sync_outbox_rows");
}

Result<PendingSyncStatus> Client::Impl::PendingStatusLocked() {
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, DirtyCount());
  OVERSYNC_ASSIGN_OR_RETURN(std::int64_t outbox, OutboxRowCount());
  PendingSyncStatus status;
  status.pending_row_count = dirty + outbox + (attachment.pending_initialization_id.empty() ? 0 : 1);
  status.has_pending_sync_data = status.pending_row_count > 0;
  status.blocks_detach = attachment.binding_state == "attached" && status.pending_row_count > 0;
  return status;
}

Result<SyncStatus> Client::Impl::SyncStatusLocked() {
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  SyncStatus status;
  if (!attachment.pending_initialization_id.empty()) {
    status.authority = AuthorityStatus::kPendingLocalSeed;
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(
        std::int64_t live,
        internal::QueryInt(db_, "SELECT EXISTS (SELECT 1 FROM _sync_row_state WHERE deleted = 0)"));
    status.authority = live != 0 ? AuthorityStatus::kAuthoritativeMaterialized : AuthorityStatus::kAuthoritativeEmpty;
  }
  OVERSYNC_ASSIGN_OR_RETURN(status.pending, PendingStatusLocked());
  status.last_bundle_seq_seen = attachment.last_bundle_seq_seen;
  return status;
}

Status Client::Impl::SetApplyMode(bool on) {
  return internal::Exec(db_, on ? "UPDATE _sync_apply_state SET apply_mode = 1 WHERE singleton_key = 1"
                                : "UPDATE _sync_apply_state SET apply_mode = 0 WHERE singleton_key = 1");
}

Result<std::string> Client::Impl::GenerateSourceId() {
  const std::string current = SourceId();
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string candidate;
    {
      std::lock_guard lock(state_mutex_);
      candidate = Uuid::NewV4(*random_).ToString();
    }
    if (candidate == current) continue;
    OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(db_, "SELECT COUNT(*) FROM _sync_source_state WHERE source_id = ?"));
    stmt.Bind(1, candidate);
    OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row && stmt.Int(0) == 0) return candidate;
  }
  return Error(ErrorCode::kInternal, "could not generate a fresh source id after 100 attempts");
}

Status Client::Impl::EnsureSourceRow(std::string_view source_id) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "INSERT INTO _sync_source_state(source_id, next_source_bundle_id, "
                              "replaced_by_source_id) VALUES (?, 1, '') ON CONFLICT(source_id) DO NOTHING"));
  stmt.Bind(1, source_id);
  return stmt.Run();
}

Status Client::Impl::AdvanceNextSourceBundleId(std::string_view source_id, std::int64_t value) {
  OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(source_id));
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "UPDATE _sync_source_state SET next_source_bundle_id = "
                              "MAX(next_source_bundle_id, ?) WHERE source_id = ?"));
  stmt.Bind(1, value).Bind(2, source_id);
  return stmt.Run();
}

Status Client::Impl::PersistPendingInitializationId(std::string_view id) {
  OVERSYNC_ASSIGN_OR_RETURN(
      Stmt stmt, Prepare(db_, "UPDATE _sync_attachment_state SET pending_initialization_id = ? WHERE "
                              "singleton_key = 1"));
  stmt.Bind(1, id);
  OVERSYNC_RETURN_IF_ERROR(stmt.Run());
  std::lock_guard lock(state_mutex_);
  pending_initialization_id_ = std::string(id);
  return Status::Ok();
}

Status Client::Impl::HandleInitializationLeaseLoss(const Status& cause) {
  {
    OVERSYNC_ASSIGN_OR_RETURN(internal::Tx tx, internal::Tx::Begin(db_));
    OVERSYNC_RETURN_IF_ERROR(internal::Exec(
        db_, "UPDATE _sync_attachment_state SET binding_state = 'anonymous', attached_user_id = '', "
             "pending_initialization_id = '' WHERE singleton_key = 1"));
    OVERSYNC_RETURN_IF_ERROR(internal::Exec(
        db_, "UPDATE _sync_operation_state SET kind = 'none', target_user_id = '', reason = '', "
             "replacement_source_id = '', staged_snapshot_id = '', snapshot_bundle_seq = 0, "
             "snapshot_row_count = 0 WHERE singleton_key = 1"));
    OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  }
  {
    std::lock_guard lock(state_mutex_);
    user_id_.clear();
    pending_initialization_id_.clear();
  }
  connected_ = false;
  const ClientErrorDetail* cause_detail = ClientErrorOf(cause);
  ClientErrorDetail detail;
  detail.kind = ClientErrorKind::kReconnectRequired;
  detail.error_code = cause_detail != nullptr ? cause_detail->error_code : std::string();
  detail.http_status = cause_detail != nullptr ? cause_detail->http_status : 0;
  return MakeClientError(cause.code(),
                         fmt::format("{}: seed lease lost, reconnect required (Attach again): {}",
                                     detail.error_code, cause.message()),
                         std::move(detail));
}

Status Client::Impl::OpenLocked() {
  OVERSYNC_ASSIGN_OR_RETURN(AttachmentState attachment, LoadAttachment());
  std::string source = attachment.current_source_id;
  {
    OVERSYNC_ASSIGN_OR_RETURN(internal::Tx tx, internal::Tx::Begin(db_));
    OVERSYNC_RETURN_IF_ERROR(SetApplyMode(false));
    if (!ProfileB()) {
      // The schema-scope guard (client.md §2.1): written once, checked by every later Create.
      // Profile B writes schema_name when an Attach binds the database and clears it at Detach
      // (KMP; lifecycle fixtures), the other _sync_* tables keep the guard.
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt schema, Prepare(db_, "UPDATE _sync_attachment_state SET schema_name = ? WHERE singleton_key = 1 "
                                    "AND schema_name = ''"));
      schema.Bind(1, config_.schema);
      OVERSYNC_RETURN_IF_ERROR(schema.Run());
    }
    if (source.empty()) {
      OVERSYNC_ASSIGN_OR_RETURN(source, GenerateSourceId());
      OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(source));
      OVERSYNC_ASSIGN_OR_RETURN(
          Stmt set, Prepare(db_, "UPDATE _sync_attachment_state SET current_source_id = ? WHERE singleton_key = 1"));
      set.Bind(1, source);
      OVERSYNC_RETURN_IF_ERROR(set.Run());
      if (attachment.binding_state == "anonymous") {
        // First-ever Open: rows that existed before sync was installed become pending INSERTs
        // (client.md §6.4), serialized with the trigger's own expressions, parents first.
        for (std::size_t index : fk_order_) {
          const TableInfo& table = tables_[index];
          std::string row_expr = RowExpr(table);
          std::string key_expr = KeyExpr(table, "NEW");
          OVERSYNC_RETURN_IF_ERROR(internal::Exec(
              db_, fmt::format("INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, "
                               "base_row_version, payload, dirty_ordinal, updated_at) SELECT '{0}', '{1}', {2}, "
                               "'INSERT', 0, {3}, (SELECT COALESCE(MAX(dirty_ordinal), 0) FROM _sync_dirty_rows) "
                               "+ row_number() OVER (), strftime('%Y-%m-%dT%H:%M:%fZ','now') FROM {1} AS NEW "
                               "WHERE true ON CONFLICT(schema_name, table_name, key_json) DO NOTHING",
                               config_.schema, table.name, key_expr, row_expr)));
        }
      }
    } else {
      OVERSYNC_RETURN_IF_ERROR(EnsureSourceRow(source));
    }
    OVERSYNC_RETURN_IF_ERROR(tx.Commit());
  }
  {
    std::lock_guard lock(state_mutex_);
    source_id_ = source;
    user_id_ = attachment.binding_state == "attached" ? attachment.attached_user_id : std::string();
    pending_initialization_id_ = attachment.pending_initialization_id;
  }
  opened_ = true;
  connected_ = false;
  return Status::Ok();
}

// ---- public API ----

Config DefaultConfig(std::string schema, std::vector<SyncTable> tables) {
  Config config;
  config.schema = std::move(schema);
  config.tables = std::move(tables);
  return config;
}

std::string_view AttachOutcomeName(AttachOutcome o) noexcept {
  switch (o) {
    case AttachOutcome::kNone: return "";
    case AttachOutcome::kResumedAttachedState: return "resumed_attached_state";
    case AttachOutcome::kUsedRemoteState: return "used_remote_state";
    case AttachOutcome::kSeededFromLocal: return "seeded_from_local";
    case AttachOutcome::kStartedEmpty: return "started_empty";
  }
  return "";
}
std::string_view PushOutcomeName(PushOutcome o) noexcept {
  switch (o) {
    case PushOutcome::kNoChange: return "no_change";
    case PushOutcome::kCommitted: return "committed";
    case PushOutcome::kSkippedPaused: return "skipped_paused";
  }
  return "";
}
std::string_view RemoteSyncOutcomeName(RemoteSyncOutcome o) noexcept {
  switch (o) {
    case RemoteSyncOutcome::kAlreadyAtTarget: return "already_at_target";
    case RemoteSyncOutcome::kAppliedIncremental: return "applied_incremental";
    case RemoteSyncOutcome::kAppliedSnapshot: return "applied_snapshot";
    case RemoteSyncOutcome::kSkippedPaused: return "skipped_paused";
  }
  return "";
}
std::string_view AuthorityStatusName(AuthorityStatus s) noexcept {
  switch (s) {
    case AuthorityStatus::kPendingLocalSeed: return "pending_local_seed";
    case AuthorityStatus::kAuthoritativeEmpty: return "authoritative_empty";
    case AuthorityStatus::kAuthoritativeMaterialized: return "authoritative_materialized";
  }
  return "";
}

namespace {

// Opens a connection with the settings every oversqlite connection uses: serialized mode (the
// handle may be used from the background threads), foreign keys on, a 5 s busy timeout (the
// client's and the application's connections take turns writing).
Result<internal::DbPtr> OpenConnection(const char* path, bool create) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path, &raw, flags, nullptr);
  internal::DbPtr db(raw);  // owns the handle even when open failed
  if (rc != SQLITE_OK) return Error(internal::SqliteError(raw, rc, fmt::format("open {}", path)));
  sqlite3_busy_timeout(db.get(), 5000);
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(db.get(), "PRAGMA foreign_keys = ON"));
  return db;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Create(sqlite3* db, std::string base_url, TokenProvider token_provider,
                                               Config config, ClientDeps deps) {
  if (db == nullptr) return Error(ErrorCode::kInvalidArgument, "database handle must not be null");
  if (TrimAsciiSpace(config.schema).empty()) return Error(ErrorCode::kInvalidArgument, "config.Schema must be provided");
  if (!config.wire_profile.empty() && !protocol::FindWireProfile(config.wire_profile).has_value()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("config.wire_profile {:?} is not a known wire profile",
                             config.wire_profile));
  }
  auto impl = std::make_unique<Impl>();
  impl->app_db_ = db;
  // The application's handle gets foreign keys too (client.md §1.2 step 3): local cascades are
  // captured like any other write.
  OVERSYNC_RETURN_IF_ERROR(internal::Exec(db, "PRAGMA foreign_keys = ON"));
  const char* file = sqlite3_db_filename(db, "main");
  if (file != nullptr && *file != '\0') {
    OVERSYNC_ASSIGN_OR_RETURN(impl->owned_db_, OpenConnection(file, false));
    impl->db_ = impl->owned_db_.get();
  } else {
    impl->db_ = db;  // in-memory: one connection; the application must not write during operations
  }
  impl->base_url_ = std::move(base_url);
  impl->token_provider_ = std::move(token_provider);
  if (config.upload_limit <= 0) config.upload_limit = 1000;
  if (config.download_limit <= 0) config.download_limit = 1000;
  if (config.snapshot_chunk_rows <= 0) config.snapshot_chunk_rows = 1000;
  if (config.http_timeout.count() <= 0) config.http_timeout = Duration(120'000);
  RetryPolicy policy = config.retry_policy.value_or(RetryPolicy{});
  if (policy.enabled) {
    if (policy.max_attempts <= 0) policy.max_attempts = 3;
    if (policy.initial_backoff.count() <= 0) policy.initial_backoff = Duration(100);
    if (policy.max_backoff.count() <= 0) policy.max_backoff = Duration(1000);
    if (policy.max_backoff < policy.initial_backoff) policy.max_backoff = policy.initial_backoff;
    policy.jitter_fraction = std::clamp(policy.jitter_fraction, 0.0, 1.0);
  }
  impl->retry_policy_ = policy;
  impl->config_ = std::move(config);
  impl->clock_ = deps.clock ? std::move(deps.clock) : std::make_shared<SystemClock>();
  impl->random_ = deps.random ? std::move(deps.random) : std::make_shared<CryptoRandom>();
  impl->logger_ = std::move(deps.logger);
  if (deps.transport) {
    impl->transport_ = std::move(deps.transport);
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(impl->transport_, MakeCurlTransport());
  }
  impl->resolver_ = ServerWinsResolver();
  OVERSYNC_RETURN_IF_ERROR(impl->ClaimOwnership());
  // On any later error the Impl destructor releases the claim.
  OVERSYNC_RETURN_IF_ERROR(impl->Initialize());
  return std::make_unique<Client>(PrivateTag{}, std::move(impl));
}

Result<std::unique_ptr<Client>> Client::CreateForPath(const std::string& path, std::string base_url,
                                                      TokenProvider token_provider, Config config,
                                                      ClientDeps deps) {
  OVERSYNC_ASSIGN_OR_RETURN(internal::DbPtr app_db, OpenConnection(path.c_str(), true));
  OVERSYNC_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                            Create(app_db.get(), std::move(base_url), std::move(token_provider), std::move(config),
                                   std::move(deps)));
  client->impl_->owned_app_db_ = std::move(app_db);
  return client;
}

Client::Client(PrivateTag /*tag*/, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  StopBackground();
  Close();
}

sqlite3* Client::db() const noexcept { return impl_->app_db_; }

Status Client::Open() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->OpenLocked();
}

Result<AttachResult> Client::Attach(std::string_view user_id) {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->AttachLocked(user_id);
}

Result<DetachResult> Client::Detach() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->DetachLocked();
}

Result<SyncThenDetachResult> Client::SyncThenDetach() {
  // Each round takes and releases the op lock on its own (client.md §1.5).
  return internal::RunSyncThenDetach([this] { return Sync(); }, [this] { return Detach(); },
                                     [this] { return GetPendingSyncStatus(); });
}

Result<PendingSyncStatus> Client::GetPendingSyncStatus() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->PendingStatusLocked();
}

Result<SyncStatus> Client::GetSyncStatus() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_RETURN_IF_ERROR(impl_->RequireConnected("SyncStatus()"));
  return impl_->SyncStatusLocked();
}

Result<SourceInfo> Client::GetSourceInfo() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_RETURN_IF_ERROR(impl_->RequireOpened("SourceInfo()"));
  return impl_->SourceInfoLocked();
}

Status Client::UninstallSync() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->UninstallSyncLocked();
}

void Client::Close() {
  impl_->StopBackground();  // the loops and an open watch stream end with the client
  std::lock_guard lock(impl_->op_mutex_);  // waits for an in-flight operation
  impl_->closed_.store(true);
  impl_->ClearStatementCache();
  impl_->ReleaseOwnership();
}

Result<PushReport> Client::PushPending() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->PushPendingLocked(0);
}

Result<RemoteSyncReport> Client::PullToStable() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->PullToStableLocked();
}

Result<SyncReport> Client::Sync() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_RETURN_IF_ERROR(impl_->RequireConnected("Sync()"));
  SyncReport report;
  // Profile B: a set rebuild gate is resumed here (pending work pushed first, then the snapshot);
  // with uploads or downloads paused it cannot be, and Sync refuses as profile A does.
  OVERSYNC_ASSIGN_OR_RETURN(const bool resuming, impl_->CheckpointRecoveryPendingLocked());
  if (resuming) {
    if (impl_->uploads_paused_.load() || impl_->downloads_paused_.load()) {
      ClientErrorDetail detail;
      detail.kind = ClientErrorKind::kRebuildRequired;
      return Error(MakeClientError(
          ErrorCode::kFailedPrecondition,
          "client rebuild is required; resume uploads and downloads (or run Rebuild) to recover",
          std::move(detail)));
    }
    report.push_outcome = PushOutcome::kNoChange;
    OVERSYNC_ASSIGN_OR_RETURN(RemoteSyncReport remote,
                              impl_->ResumeCheckpointRecoveryLocked(&report.push_outcome));
    report.remote_outcome = remote.outcome;
    report.restore = remote.restore;
    OVERSYNC_ASSIGN_OR_RETURN(report.status, impl_->SyncStatusLocked());
    return report;
  }
  if (impl_->uploads_paused_.load()) {
    report.push_outcome = PushOutcome::kSkippedPaused;
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(PushReport push, impl_->PushPendingLocked(0));
    report.push_outcome = push.outcome;
    // Deviation from Go (docs/compatibility.md): edits made while the push was in flight, or a
    // push that only flushed an earlier outbox, leave dirty rows that would make the pull below
    // fail with DirtyStateRejected. Push them too (bounded) so Sync converges in one call.
    for (int extra = 0; extra < 2 && push.outcome == PushOutcome::kCommitted; ++extra) {
      OVERSYNC_ASSIGN_OR_RETURN(std::int64_t dirty, impl_->DirtyCount());
      if (dirty == 0) break;
      OVERSYNC_ASSIGN_OR_RETURN(push, impl_->PushPendingLocked(0));
    }
  }
  if (impl_->downloads_paused_.load()) {
    report.remote_outcome = RemoteSyncOutcome::kSkippedPaused;
  } else {
    OVERSYNC_ASSIGN_OR_RETURN(RemoteSyncReport remote, impl_->PullToStableLocked());
    report.remote_outcome = remote.outcome;
    report.restore = remote.restore;
  }
  OVERSYNC_ASSIGN_OR_RETURN(report.status, impl_->SyncStatusLocked());
  return report;
}

Result<RemoteSyncReport> Client::Rebuild() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  return impl_->RebuildLocked();
}

Result<std::int64_t> Client::LastBundleSeqSeen() {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_RETURN_IF_ERROR(impl_->RequireConnected("LastBundleSeqSeen()"));
  OVERSYNC_ASSIGN_OR_RETURN(internal::AttachmentState attachment, impl_->LoadAttachment());
  return attachment.last_bundle_seq_seen;
}

Status Client::StartBackground() { return impl_->StartBackground(); }
void Client::StopBackground() { impl_->StopBackground(); }
void Client::PauseUploads() { impl_->uploads_paused_.store(true); }
void Client::ResumeUploads() { impl_->uploads_paused_.store(false); }
void Client::PauseDownloads() { impl_->downloads_paused_.store(true); }
void Client::ResumeDownloads() { impl_->downloads_paused_.store(false); }

void Client::SetResolver(Resolver resolver) {
  std::lock_guard lock(impl_->hooks_mutex_);
  impl_->resolver_ = std::move(resolver);
}
void Client::SetBeforePushFreezeHook(FreezeHook hook) {
  std::lock_guard lock(impl_->hooks_mutex_);
  impl_->before_freeze_hook_ = std::move(hook);
}
void Client::SetBeforePushCommitHook(PushHook hook) {
  std::lock_guard lock(impl_->hooks_mutex_);
  impl_->before_commit_hook_ = std::move(hook);
}
void Client::SetBeforePushReplayHook(PushHook hook) {
  std::lock_guard lock(impl_->hooks_mutex_);
  impl_->before_replay_hook_ = std::move(hook);
}

PushTransferDiagnostics Client::GetPushTransferDiagnostics() const {
  return {impl_->push_sessions_created_.load(), impl_->push_chunks_uploaded_.load(),
          impl_->committed_chunks_read_.load()};
}
void Client::ResetPushTransferDiagnostics() {
  impl_->push_sessions_created_.store(0);
  impl_->push_chunks_uploaded_.store(0);
  impl_->committed_chunks_read_.store(0);
}
SnapshotTransferDiagnostics Client::GetSnapshotTransferDiagnostics() const {
  return {impl_->snapshot_sessions_created_.load(), impl_->snapshot_chunks_fetched_.load()};
}
void Client::ResetSnapshotTransferDiagnostics() {
  impl_->snapshot_sessions_created_.store(0);
  impl_->snapshot_chunks_fetched_.store(0);
}

std::string Client::user_id() const { return impl_->UserId(); }
std::string Client::source_id() const { return impl_->SourceId(); }

std::string_view Client::wire_profile() const noexcept { return impl_->config_.wire_profile; }

Result<std::string> Client::SerializeRow(std::string_view table, std::string_view key) {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  const internal::TableInfo* info = impl_->FindTable(ToLowerAscii(TrimAsciiSpace(table)));
  if (info == nullptr) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("table {} is not configured for sync", table));
  }
  OVERSYNC_ASSIGN_OR_RETURN(std::optional<std::string> payload, impl_->LiveRowPayload(*info, key));
  if (!payload) return Error(ErrorCode::kNotFound, fmt::format("row {} not found in {}", key, info->name));
  return *payload;
}

namespace {
Result<const internal::TableInfo*> ManagedTable(const internal::TableInfo* info, std::string_view table) {
  if (info == nullptr) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("table {} is not configured for sync", table));
  }
  return info;
}
}  // namespace

Result<std::int64_t> Client::GetTableRowCount(std::string_view table) {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_ASSIGN_OR_RETURN(const internal::TableInfo* info, ManagedTable(impl_->FindTable(ToLowerAscii(TrimAsciiSpace(table))), table));
  return internal::QueryInt(impl_->db_, fmt::format("SELECT COUNT(*) FROM \"{}\"", info->name));
}

Result<std::vector<std::string>> Client::GetTableRows(std::string_view table) {
  OVERSYNC_ASSIGN_OR_RETURN(auto lock, impl_->AcquireOp());
  OVERSYNC_ASSIGN_OR_RETURN(const internal::TableInfo* info, ManagedTable(impl_->FindTable(ToLowerAscii(TrimAsciiSpace(table))), table));
  std::string row_expr = RowExpr(*info);
  // RowExpr reads NEW.<column>; alias the table as NEW (the trigger's own expression).
  OVERSYNC_ASSIGN_OR_RETURN(Stmt stmt, Prepare(impl_->db_, fmt::format("SELECT {} FROM \"{}\" AS NEW ORDER BY NEW.{}",
                                                                       row_expr, info->name, info->key_column)));
  std::vector<std::string> rows;
  while (true) {
    OVERSYNC_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    rows.push_back(stmt.Text(0));
  }
  return rows;
}

Result<TableInfo> Client::GetTableInfo(std::string_view table) const {
  OVERSYNC_ASSIGN_OR_RETURN(const internal::TableInfo* info, ManagedTable(impl_->FindTable(ToLowerAscii(TrimAsciiSpace(table))), table));
  TableInfo out;
  out.name = info->name;
  out.key_column = info->key_column;
  out.key_is_blob = info->key_is_blob;
  for (const internal::ColumnInfo& column : info->columns) {
    out.columns.push_back({column.name, column.decl_type, column.is_blob, column.pk > 0});
  }
  return out;
}

}  // namespace oversync::oversqlite
