#include "schema_layout.h"

#include <array>

namespace oversync::layout {
namespace {

// Table definitions: server.md §1.1-§1.9b. Column order, types, defaults and constraint names
// are part of the L2 contract (a Go server validates nothing but the markers, yet shares the data).
constexpr std::string_view kMeta = R"sql(
CREATE TABLE IF NOT EXISTS sync.meta (
  singleton_key BOOLEAN PRIMARY KEY CHECK (singleton_key),
  protocol_label TEXT NOT NULL DEFAULT 'v1',
  layout_name TEXT NOT NULL
))sql";

constexpr std::string_view kTableCatalog = R"sql(
CREATE TABLE IF NOT EXISTS sync.table_catalog (
  table_id INTEGER PRIMARY KEY,
  schema_name TEXT NOT NULL,
  table_name TEXT NOT NULL,
  sync_key_column TEXT NOT NULL,
  sync_key_kind SMALLINT NOT NULL,
  CONSTRAINT table_catalog_schema_table_key UNIQUE (schema_name, table_name),
  CONSTRAINT table_catalog_sync_key_kind_chk CHECK (sync_key_kind IN (1, 2))
))sql";

constexpr std::string_view kUserState = R"sql(
CREATE TABLE IF NOT EXISTS sync.user_state (
  user_pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  next_bundle_seq BIGINT NOT NULL DEFAULT 1,
  retained_bundle_floor BIGINT NOT NULL DEFAULT 0,
  CONSTRAINT user_state_bundle_seq_chk CHECK (next_bundle_seq >= 1),
  CONSTRAINT user_state_retained_floor_chk
    CHECK (retained_bundle_floor >= 0 AND retained_bundle_floor <= next_bundle_seq - 1)
))sql";

constexpr std::string_view kScopeState = R"sql(
CREATE TABLE IF NOT EXISTS sync.scope_state (
  user_pk BIGINT PRIMARY KEY REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  state_code SMALLINT NOT NULL,
  initializer_source_id TEXT,
  initialization_id UUID,
  lease_expires_at TIMESTAMPTZ,
  initialized_at TIMESTAMPTZ,
  initialized_by_source_id TEXT,
  CONSTRAINT scope_state_fields_chk CHECK (
    (state_code = 0 AND initializer_source_id IS NULL AND initialization_id IS NULL
      AND lease_expires_at IS NULL AND initialized_at IS NULL
      AND initialized_by_source_id IS NULL)
    OR (state_code = 1 AND initializer_source_id IS NOT NULL AND initialization_id IS NOT NULL
      AND lease_expires_at IS NOT NULL AND initialized_at IS NULL
      AND initialized_by_source_id IS NULL)
    OR (state_code = 2 AND initializer_source_id IS NULL AND initialization_id IS NULL
      AND lease_expires_at IS NULL AND initialized_at IS NOT NULL
      AND initialized_by_source_id IS NOT NULL)),
  CONSTRAINT scope_state_code_chk CHECK (state_code IN (0, 1, 2))
))sql";

constexpr std::string_view kSourceState = R"sql(
CREATE TABLE IF NOT EXISTS sync.source_state (
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  source_id TEXT NOT NULL,
  state TEXT NOT NULL,
  max_committed_source_bundle_id BIGINT NOT NULL DEFAULT 0,
  replaced_by_source_id TEXT NOT NULL DEFAULT '',
  retirement_reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_pk, source_id),
  CONSTRAINT source_state_state_chk CHECK (state IN ('active', 'reserved', 'retired')),
  CONSTRAINT source_state_max_committed_chk CHECK (max_committed_source_bundle_id >= 0),
  CONSTRAINT source_state_active_chk
    CHECK (state <> 'active' OR (replaced_by_source_id = '' AND retirement_reason = '')),
  CONSTRAINT source_state_reserved_chk
    CHECK (state <> 'reserved' OR (replaced_by_source_id = '' AND retirement_reason = ''
                                   AND max_committed_source_bundle_id = 0)),
  CONSTRAINT source_state_retired_chk
    CHECK (state <> 'retired' OR (replaced_by_source_id <> '' AND retirement_reason <> ''))
))sql";

constexpr std::string_view kRowState = R"sql(
CREATE TABLE IF NOT EXISTS sync.row_state (
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  table_id INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
  key_bytes BYTEA NOT NULL,
  bundle_seq BIGINT NOT NULL,
  deleted BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (user_pk, table_id, key_bytes)
))sql";

constexpr std::string_view kBundleCaptureStage = R"sql(
CREATE TABLE IF NOT EXISTS sync.bundle_capture_stage (
  capture_ordinal BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid BIGINT NOT NULL,
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  table_id INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
  op_code SMALLINT NOT NULL,
  key_bytes BYTEA NOT NULL,
  payload_db JSONB,
  CONSTRAINT bundle_capture_stage_op_code_chk CHECK (op_code IN (1, 2, 3)),
  CONSTRAINT bundle_capture_stage_payload_by_op_chk
    CHECK ((op_code = 3 AND payload_db IS NULL) OR (op_code IN (1, 2) AND payload_db IS NOT NULL))
))sql";

constexpr std::string_view kBundleLog = R"sql(
CREATE TABLE IF NOT EXISTS sync.bundle_log (
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  bundle_seq BIGINT NOT NULL,
  source_id TEXT NOT NULL,
  source_bundle_id BIGINT NOT NULL,
  row_count BIGINT NOT NULL,
  byte_count BIGINT NOT NULL,
  bundle_hash BYTEA NOT NULL,
  committed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_pk, bundle_seq),
  CONSTRAINT bundle_log_source_tuple_key UNIQUE (user_pk, source_id, source_bundle_id)
))sql";

constexpr std::string_view kBundleRows = R"sql(
CREATE TABLE IF NOT EXISTS sync.bundle_rows (
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  bundle_seq BIGINT NOT NULL,
  row_ordinal BIGINT NOT NULL,
  table_id INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
  key_bytes BYTEA NOT NULL,
  op_code SMALLINT NOT NULL,
  payload_wire JSON,
  PRIMARY KEY (user_pk, bundle_seq, row_ordinal),
  CONSTRAINT bundle_rows_bundle_fk FOREIGN KEY (user_pk, bundle_seq)
    REFERENCES sync.bundle_log(user_pk, bundle_seq) ON DELETE CASCADE,
  CONSTRAINT bundle_rows_op_code_chk CHECK (op_code IN (1, 2, 3)),
  CONSTRAINT bundle_rows_payload_by_op_chk
    CHECK ((op_code = 3 AND payload_wire IS NULL)
           OR (op_code IN (1, 2) AND payload_wire IS NOT NULL))
))sql";

constexpr std::string_view kPushSessions = R"sql(
CREATE TABLE IF NOT EXISTS sync.push_sessions (
  push_id UUID PRIMARY KEY,
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  source_id TEXT NOT NULL,
  source_bundle_id BIGINT NOT NULL,
  planned_row_count BIGINT NOT NULL,
  next_expected_row_ordinal BIGINT NOT NULL DEFAULT 0,
  initialization_id UUID,
  expires_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT push_sessions_source_tuple_key UNIQUE (user_pk, source_id, source_bundle_id),
  CONSTRAINT push_sessions_row_count_chk CHECK (
    planned_row_count > 0 AND next_expected_row_ordinal >= 0
    AND next_expected_row_ordinal <= planned_row_count)
))sql";

constexpr std::string_view kPushSessionRows = R"sql(
CREATE TABLE IF NOT EXISTS sync.push_session_rows (
  push_id UUID NOT NULL REFERENCES sync.push_sessions(push_id) ON DELETE CASCADE,
  row_ordinal BIGINT NOT NULL,
  table_id INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
  key_bytes BYTEA NOT NULL,
  op_code SMALLINT NOT NULL,
  base_bundle_seq BIGINT NOT NULL,
  payload_apply JSON,
  PRIMARY KEY (push_id, row_ordinal),
  CONSTRAINT push_session_rows_op_code_chk CHECK (op_code IN (1, 2, 3)),
  CONSTRAINT push_session_rows_payload_by_op_chk
    CHECK ((op_code = 3 AND payload_apply IS NULL)
           OR (op_code IN (1, 2) AND payload_apply IS NOT NULL))
))sql";

constexpr std::string_view kSnapshotSessions = R"sql(
CREATE TABLE IF NOT EXISTS sync.snapshot_sessions (
  snapshot_id UUID PRIMARY KEY,
  user_pk BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
  snapshot_bundle_seq BIGINT NOT NULL,
  row_count BIGINT NOT NULL DEFAULT 0,
  byte_count BIGINT NOT NULL DEFAULT 0,
  expires_at TIMESTAMPTZ NOT NULL
))sql";

constexpr std::string_view kSnapshotSessionRows = R"sql(
CREATE TABLE IF NOT EXISTS sync.snapshot_session_rows (
  snapshot_id UUID NOT NULL REFERENCES sync.snapshot_sessions(snapshot_id) ON DELETE CASCADE,
  row_ordinal BIGINT NOT NULL,
  table_id INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
  key_bytes BYTEA NOT NULL,
  bundle_seq BIGINT NOT NULL,
  payload_wire JSON NOT NULL,
  PRIMARY KEY (snapshot_id, row_ordinal),
  CONSTRAINT snapshot_session_rows_logical_row_key UNIQUE (snapshot_id, table_id, key_bytes)
))sql";

// BEFORE row trigger: every write to a registered table needs a bundle context and may only touch
// rows of the context's scope (server.md §1.12). Messages and SQLSTATE P0001 as in go-oversync.
constexpr std::string_view kOwnerGuardFunctionSql = R"sql(
CREATE OR REPLACE FUNCTION sync.enforce_registered_row_owner()
RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
DECLARE
  ctx_user TEXT := NULLIF(current_setting('oversync.bundle_user_id', true), '');
BEGIN
  IF ctx_user IS NULL THEN
    -- The counter survives the rollback the exception causes (sequences are not transactional).
    PERFORM nextval('sync.rejected_registered_write_seq');
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
      'write to registered table %I.%I requires oversync sync bundle context',
      TG_TABLE_SCHEMA, TG_TABLE_NAME);
  END IF;
  CASE TG_OP
    WHEN 'INSERT' THEN
      IF NEW._sync_scope_id IS NULL OR NEW._sync_scope_id = '' THEN
        NEW._sync_scope_id := ctx_user;
      ELSIF NEW._sync_scope_id <> ctx_user THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
          'scope mismatch on registered table %I.%I: actor %s cannot write owner %s',
          TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx_user, NEW._sync_scope_id);
      END IF;
      RETURN NEW;
    WHEN 'UPDATE' THEN
      IF OLD._sync_scope_id <> ctx_user THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
          'scope mismatch on registered table %I.%I: actor %s cannot update owner %s',
          TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx_user, OLD._sync_scope_id);
      END IF;
      IF NEW._sync_scope_id IS DISTINCT FROM OLD._sync_scope_id THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
          'scope mutation is not allowed on registered table %I.%I',
          TG_TABLE_SCHEMA, TG_TABLE_NAME);
      END IF;
      RETURN NEW;
    ELSE
      IF OLD._sync_scope_id <> ctx_user THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
          'scope mismatch on registered table %I.%I: actor %s cannot delete owner %s',
          TG_TABLE_SCHEMA, TG_TABLE_NAME, ctx_user, OLD._sync_scope_id);
      END IF;
      RETURN OLD;
  END CASE;
END
$fn$)sql";

// AFTER row trigger: stages every row effect of the transaction for bundle finalization.
// Arguments: sync key column, key kind ('1' uuid / '2' text), table_id (server.md §1.12).
constexpr std::string_view kCaptureFunctionSql = R"sql(
CREATE OR REPLACE FUNCTION sync.capture_registered_row_change()
RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
DECLARE
  ctx_user TEXT := NULLIF(current_setting('oversync.bundle_user_id', true), '');
  ctx_user_pk_text TEXT;
  key_column TEXT := NULLIF(TG_ARGV[0], '');
  key_kind_text TEXT := NULLIF(TG_ARGV[1], '');
  table_id_text TEXT := NULLIF(TG_ARGV[2], '');
  ctx_user_pk BIGINT;
  catalog_table_id INTEGER;
  key_kind SMALLINT;
  old_key BYTEA;
  new_key BYTEA;
  new_image JSONB;
BEGIN
  IF ctx_user IS NULL THEN
    PERFORM nextval('sync.rejected_registered_write_seq');
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
      'write to registered table %I.%I requires oversync sync bundle context',
      TG_TABLE_SCHEMA, TG_TABLE_NAME);
  END IF;
  ctx_user_pk_text := NULLIF(current_setting('oversync.bundle_user_pk', true), '');
  IF ctx_user_pk_text IS NULL THEN
    RAISE EXCEPTION 'oversync bundle context is missing user_pk for %.%',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  IF key_column IS NULL THEN
    RAISE EXCEPTION 'oversync capture trigger is missing sync key column for %.%',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  IF key_kind_text IS NULL OR table_id_text IS NULL THEN
    RAISE EXCEPTION 'oversync capture trigger is missing compact metadata for %.%',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  ctx_user_pk := ctx_user_pk_text::bigint;
  catalog_table_id := table_id_text::integer;
  key_kind := key_kind_text::smallint;

  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF OLD._sync_scope_id <> ctx_user THEN
      RAISE EXCEPTION 'oversync capture scope mismatch for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    IF key_kind = 1 THEN
      old_key := uuid_send((to_jsonb(OLD) ->> key_column)::uuid);
    ELSE
      old_key := convert_to(to_jsonb(OLD) ->> key_column, 'UTF8');
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
    VALUES (txid_current(), ctx_user_pk, catalog_table_id, 3, old_key, NULL);
    RETURN OLD;
  END IF;

  IF NEW._sync_scope_id <> ctx_user THEN
    RAISE EXCEPTION 'oversync capture scope mismatch for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  -- One to_jsonb per firing: it feeds both the key and the staged payload.
  new_image := to_jsonb(NEW);
  IF key_kind = 1 THEN
    new_key := uuid_send((new_image ->> key_column)::uuid);
  ELSE
    new_key := convert_to(new_image ->> key_column, 'UTF8');
  END IF;
  IF TG_OP = 'UPDATE' AND old_key IS DISTINCT FROM new_key THEN
    -- A key change is a delete of the old identity plus an insert of the new one.
    INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
    VALUES (txid_current(), ctx_user_pk, catalog_table_id, 3, old_key, NULL),
           (txid_current(), ctx_user_pk, catalog_table_id, 1, new_key,
            new_image - '_sync_scope_id');
    RETURN NEW;
  END IF;
  INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
  VALUES (txid_current(), ctx_user_pk, catalog_table_id,
          CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 2 END, new_key,
          new_image - '_sync_scope_id');
  RETURN NEW;
END
$fn$)sql";

constexpr std::array<std::string_view, 19> kCreation = {
    "CREATE SCHEMA IF NOT EXISTS sync",
    kMeta,
    kTableCatalog,
    kUserState,
    kScopeState,
    kSourceState,
    kRowState,
    kBundleCaptureStage,
    kBundleLog,
    kBundleRows,
    kPushSessions,
    kPushSessionRows,
    kSnapshotSessions,
    kSnapshotSessionRows,
    "CREATE SEQUENCE IF NOT EXISTS sync.accepted_push_replay_seq",
    "CREATE SEQUENCE IF NOT EXISTS sync.rejected_registered_write_seq",
    "CREATE SEQUENCE IF NOT EXISTS sync.history_pruned_error_seq",
    kOwnerGuardFunctionSql,
    kCaptureFunctionSql,
};

constexpr std::array<std::string_view, 5> kIndexes = {
    "CREATE INDEX IF NOT EXISTS bcs_tx_user_ordinal_idx"
    " ON sync.bundle_capture_stage(txid, user_pk, capture_ordinal)",
    "CREATE INDEX IF NOT EXISTS rs_user_live_snapshot_idx"
    " ON sync.row_state(user_pk, table_id, key_bytes) WHERE deleted = FALSE",
    "CREATE INDEX IF NOT EXISTS ps_expires_at_idx ON sync.push_sessions(expires_at)",
    "CREATE INDEX IF NOT EXISTS ss_expires_at_idx ON sync.snapshot_sessions(expires_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ssr_snapshot_table_key_idx"
    " ON sync.snapshot_session_rows(snapshot_id, table_id, key_bytes)",
};

}  // namespace

std::span<const std::string_view> CreationStatements() { return kCreation; }
std::span<const std::string_view> IndexStatements() { return kIndexes; }

namespace {
constexpr std::string_view kProfileB[] = {
    // The request hash a client sent at push create (protocol-b.md §4.2 step 2).
    R"sql(
CREATE TABLE IF NOT EXISTS sync.cpp_push_requests (
  push_id UUID PRIMARY KEY REFERENCES sync.push_sessions(push_id) ON DELETE CASCADE,
  canonical_request_hash TEXT NOT NULL
))sql",
    // Each staged row's payload exactly as uploaded, as JCS text (step 3); NULL for DELETE.
    R"sql(
CREATE TABLE IF NOT EXISTS sync.cpp_push_request_rows (
  push_id UUID NOT NULL REFERENCES sync.push_sessions(push_id) ON DELETE CASCADE,
  row_ordinal BIGINT NOT NULL,
  payload_request TEXT,
  PRIMARY KEY (push_id, row_ordinal)
))sql",
    // Profile B's hash and byte count of a committed bundle and its request hash.
    R"sql(
CREATE TABLE IF NOT EXISTS sync.cpp_bundle_profile_b (
  user_pk BIGINT NOT NULL,
  bundle_seq BIGINT NOT NULL,
  bundle_hash TEXT NOT NULL,
  byte_count BIGINT NOT NULL,
  canonical_request_hash TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_pk, bundle_seq),
  FOREIGN KEY (user_pk, bundle_seq) REFERENCES sync.bundle_log(user_pk, bundle_seq)
    ON DELETE CASCADE
))sql",
    // The PostgreSQL row image of committed rows whose Go-canonical payload_wire lost digits
    // (integers beyond 2^53, numeric scale and precision).
    R"sql(
CREATE TABLE IF NOT EXISTS sync.cpp_bundle_rows_exact (
  user_pk BIGINT NOT NULL,
  bundle_seq BIGINT NOT NULL,
  row_ordinal BIGINT NOT NULL,
  payload_exact JSON NOT NULL,
  PRIMARY KEY (user_pk, bundle_seq, row_ordinal),
  FOREIGN KEY (user_pk, bundle_seq) REFERENCES sync.bundle_log(user_pk, bundle_seq)
    ON DELETE CASCADE
))sql",
};
}  // namespace

std::span<const std::string_view> ProfileBStatements() { return kProfileB; }

}  // namespace oversync::layout
